"""make_synthetic_notmnist: official layout, deterministic, a couple of unreadable files."""
import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from course_utils import make_synthetic_notmnist
from course_utils.synthetic import CLASSES


def _members(path):
    with tarfile.open(path) as tar:
        return {m.name: (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory):
    return make_synthetic_notmnist(tmp_path_factory.mktemp("syn") / "notMNIST_small.tar.gz", per_class=12, seed=3)


def test_layout_matches_the_official_archive(small_archive):
    members = _members(small_archive)
    files = [name for name, (m, _) in members.items() if m.isfile()]
    assert len(files) == 10 * 12 + 2
    for name in files:
        top, letter, base = name.split("/")
        assert top == "notMNIST_small" and letter in CLASSES and base.endswith(".png")
    for name, (m, _) in members.items():
        assert m.isfile() or m.isdir()
        assert not name.startswith("/") and ".." not in name.split("/")
    per_letter = {c: sum(n.split("/")[1] == c for n in files) for c in CLASSES}
    assert per_letter == {c: 12 + (c in "AF") for c in CLASSES}


def test_images_are_28x28_grayscale_letters_and_two_are_unreadable(small_archive):
    readable, unreadable = [], []
    for name, (m, data) in _members(small_archive).items():
        if not m.isfile():
            continue
        try:
            with Image.open(io.BytesIO(data)) as im:
                assert im.mode == "L" and im.size == (28, 28)
                readable.append(np.asarray(im))
        except OSError:
            unreadable.append(name)
    assert len(readable) == 120
    assert len(unreadable) == 2 and {n.split("/")[1] for n in unreadable} == {"A", "F"}
    images = np.stack(readable)
    # white glyph on a black background, and not all the same picture
    assert images[:, 0, 0].mean() < 30
    assert 20 < images.mean() < 140
    assert len({im.tobytes() for im in images}) == len(images)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = make_synthetic_notmnist(tmp_path / "a.tar.gz", per_class=5, seed=7)
    b = make_synthetic_notmnist(tmp_path / "b.tar.gz", per_class=5, seed=7)
    c = make_synthetic_notmnist(tmp_path / "c.tar.gz", per_class=5, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert not list(tmp_path.glob("*.part"))


def test_per_class_counts_and_unreadable_are_configurable(tmp_path):
    counts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    path = make_synthetic_notmnist(tmp_path / "x" / "n.tar.gz", per_class=counts, seed=0, unreadable=0)
    files = [n for n, (m, _) in _members(path).items() if m.isfile()]
    assert [sum(n.split("/")[1] == c for n in files) for c in CLASSES] == counts


def test_bad_per_class_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="ten|10 ints"):
        make_synthetic_notmnist(tmp_path / "n.tar.gz", per_class=[1, 2, 3])
