"""The ngshare wrapper's upload checks (deploy/jupyterhub/exchange_service.py), without a hub (issue 27).

The real service under the real hub is attacked in test_class_attacks.py
(root only); here, ngshare's own upload code with the wrapper's changes, on a
temporary database and storage folder.
"""
from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import pytest

ngshare = pytest.importorskip("ngshare.ngshare")
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402
from tornado.web import Finish  # noqa: E402

WRAPPER = Path(__file__).resolve().parents[2] / "deploy" / "jupyterhub" / "exchange_service.py"


def load_wrapper():
    spec = importlib.util.spec_from_file_location("exchange_service_wrapper", WRAPPER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Handler(ngshare.MyHelpers):
    """Enough of ngshare's request handler for json_files_unpack: a database session and a storage folder."""

    def __init__(self, storage: Path, wrapper):
        engine = create_engine("sqlite://")
        ngshare.Base.metadata.create_all(engine)
        self.db = sessionmaker(bind=engine)()
        self.application = type("App", (), {"storage_path": str(storage), "debug": False})()
        self.json_files_unpack = wrapper.unpack_or_remove(ngshare).__get__(self)
        self.errors = []

    def json_error(self, code, msg, **kwargs):
        self.errors.append((code, msg))
        raise Finish()


def files_json(files: dict[str, bytes]) -> str:
    return json.dumps([{"path": name, "content": base64.b64encode(data).decode()} for name, data in files.items()])


def test_a_failed_upload_leaves_no_file_in_storage(tmp_path):
    """A NUL in the second file's extension makes ngshare's open() fail after it wrote the first: is the first
    removed (it would be stored, owned by no row and counted by no quota)?"""
    wrapper = load_wrapper()
    handler = Handler(tmp_path, wrapper)
    kept = tmp_path / "someone-elses.bin"
    kept.write_bytes(b"stored before")
    with pytest.raises(ValueError):
        handler.json_files_unpack(files_json({"big.bin": b"\0" * 1000, "x.\x00": b"y"}), [])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["someone-elses.bin"]
    target = []
    handler.json_files_unpack(files_json({"a.ipynb": b"{}"}), target)  # a good upload still works
    assert len(target) == 1 and (tmp_path / target[0].actual_name).read_bytes() == b"{}"


def test_uploads_over_the_file_count_or_with_a_nul_are_refused_before_anything_is_written(tmp_path):
    wrapper = load_wrapper()
    handler = Handler(tmp_path, wrapper)
    limit = wrapper.max_files()
    from course_utils.grading.safe_files import LIMITS

    assert limit == LIMITS.files
    with pytest.raises(Finish):
        wrapper.check_upload(handler, files_json({f"f{i}": b"" for i in range(limit + 1)}), limit)
    with pytest.raises(Finish):
        wrapper.check_upload(handler, files_json({"a.ipynb": b"{}", "x.\x00": b"y"}), limit)
    assert [code for code, _ in handler.errors] == [413, 400]
    assert f"over the limit of {limit}" in handler.errors[0][1]
    wrapper.check_upload(handler, files_json({f"f{i}": b"" for i in range(limit)}), limit)  # at the limit: fine
    assert list(tmp_path.iterdir()) == []
