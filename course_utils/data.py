"""notMNIST: download, safe extraction, cached loading, a fixed split and a Dataset.

notMNIST_small holds 18,724 readable 28x28 grayscale PNGs of the letters A-J,
laid out ``notMNIST_small/<LETTER>/<name>.png``; the official archive also
contains a couple of unreadable files, which are skipped with one warning.

Where the data comes from (``url``, first match wins):

1. the ``url`` argument: a string or a list of strings tried in order;
2. the environment variable ``NOTMNIST_URL`` (one URL, or several separated by
   spaces);
3. the official mirrors in :data:`OFFICIAL_MIRRORS`, in order.

``http://``, ``https://`` and ``file://`` URLs work, and so does a plain path
to a local archive. Append ``#sha256=<hex>`` to a URL (or pass ``sha256=``)
to have the download checked; a download from an official mirror is always
checked against the official archive's size, 8,458,043 bytes.

Where the data goes (``root``, first match wins):

1. the ``root`` argument;
2. the environment variable ``COURSE_DATA_DIR``;
3. ``data/`` at the repository root (git-ignored) when ``course_utils`` is
   used from a checkout (an editable install: the folder above the package
   holds ``pyproject.toml``);
4. otherwise a per-user cache folder: ``$XDG_CACHE_HOME/course-utils/data``
   (``~/.cache/course-utils/data``; ``%LOCALAPPDATA%\\course-utils\\data`` on
   Windows).

Inside ``root`` you will find ``notMNIST_small.tar.gz`` (the verified archive)
and ``notMNIST_small/`` (the images, plus a hidden ``.notmnist-cache.npz``
with the decoded arrays). To work offline, put a downloaded
``notMNIST_small.tar.gz`` at ``<root>/notMNIST_small.tar.gz``, or extract it
so that ``<root>/notMNIST_small/A/`` exists.

:func:`make_synthetic_notmnist` (re-exported from
:mod:`course_utils.synthetic`) writes a generated archive in the same layout
for tests and offline CI. Nothing here ever substitutes it for the real data:
it is only used when ``NOTMNIST_URL`` (or ``url``) points at it.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import http.client
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from torchvision.datasets import VisionDataset
from torchvision.datasets.utils import verify_str_arg

from .synthetic import make_synthetic_notmnist

__all__ = [
    "download_notmnist",
    "load_notmnist",
    "train_val_test_split",
    "NotMNIST",
    "make_synthetic_notmnist",
    "default_data_dir",
    "NotMNISTDownloadError",
    "UnsafeArchiveError",
    "UnreadableImageWarning",
    "CLASSES",
    "OFFICIAL_MIRRORS",
    "OFFICIAL_SIZE",
]

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
UrlArg = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]], None]

CLASSES = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"]
ARCHIVE_NAME = "notMNIST_small.tar.gz"
FOLDER_NAME = "notMNIST_small"
OFFICIAL_SIZE = 8_458_043
OFFICIAL_MIRRORS = (
    "http://yaroslavvb.com/upload/notMNIST/notMNIST_small.tar.gz",
    "http://commondatastorage.googleapis.com/books1000/notMNIST_small.tar.gz",
)
URL_ENV = "NOTMNIST_URL"
DATA_DIR_ENV = "COURSE_DATA_DIR"
IMAGE_SIZE = 28
CACHE_NAME = ".notmnist-cache.npz"
_CACHE_VERSION = "1"
# More unreadable files than this share of the folder means a broken copy.
MAX_UNREADABLE_FRACTION = 0.01
MAX_UNREADABLE_ALWAYS_OK = 5
_TIMEOUT_S = 60
_CHUNK = 1 << 16


class NotMNISTDownloadError(RuntimeError):
    """No source gave a verified notMNIST archive."""


class UnsafeArchiveError(RuntimeError):
    """An archive is unreadable, or has a member that could write outside ``root``."""


class UnreadableImageWarning(UserWarning):
    """Some image files could not be decoded and were skipped."""


# --------------------------------------------------------------------------- paths


def default_data_dir() -> Path:
    """The ``root`` used when none is given: see the module docstring."""
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parent.parent
    if (repo / "pyproject.toml").is_file():
        return repo / "data"
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "course-utils" / "data"


def _resolve_root(root: Optional[PathLike]) -> Path:
    return Path(root).expanduser() if root is not None else default_data_dir()


def _has_letter_folders(folder: Path) -> bool:
    return all((folder / c).is_dir() for c in CLASSES)


def _existing_folder(root: Path) -> Optional[Path]:
    """The folder with the letter sub-folders under ``root`` (or ``root`` itself), if any."""
    if _has_letter_folders(root / FOLDER_NAME):
        return root / FOLDER_NAME
    if _has_letter_folders(root):
        return root
    return None


# ----------------------------------------------------------------------- download


def _sources(url: UrlArg) -> list[str]:
    if url is None:
        env = os.environ.get(URL_ENV, "").strip()
        return env.split() if env else list(OFFICIAL_MIRRORS)
    if isinstance(url, (str, os.PathLike)):
        return [os.fspath(url)]
    return [os.fspath(u) for u in url]


def _split_fragment(source: str) -> tuple[str, Optional[str]]:
    """``https://x/a.tar.gz#sha256=abc`` -> (``https://x/a.tar.gz``, ``abc``)."""
    base, _, fragment = source.partition("#")
    sha = None
    for part in fragment.split("&"):
        key, _, value = part.partition("=")
        if key == "sha256" and value:
            sha = value.strip().lower()
    return base, sha


def _to_url(source: str) -> str:
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if scheme in ("http", "https", "file"):
        return source
    if scheme and len(scheme) > 1:  # ftp:// and the like (a one-letter scheme is a Windows drive)
        raise ValueError(f"unsupported URL scheme {scheme!r}; use http(s)://, file:// or a path")
    return Path(source).expanduser().resolve().as_uri()


def _fetch(url: str, directory: Path, *, expected_size: Optional[int], sha256: Optional[str], progress: bool) -> Path:
    """Download ``url`` into a temporary file in ``directory``; return it once it verifies."""
    from tqdm.std import tqdm  # text on stdout: a saved notebook keeps the finished bar

    request = urllib.request.Request(url, headers={"User-Agent": "course-utils (notMNIST download)"})
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{ARCHIVE_NAME}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            length = int(length) if length and length.isdigit() else None
            with tqdm(
                total=length, unit="B", unit_scale=True, unit_divisor=1024,
                desc=f"Downloading {ARCHIVE_NAME}", disable=not progress, file=sys.stdout,
            ) as bar:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if length is not None and received != length:
            raise OSError(f"download truncated: got {received:,} of {length:,} bytes")
        if expected_size is not None and received != expected_size:
            raise OSError(
                f"got {received:,} bytes, but the official {ARCHIVE_NAME} is {expected_size:,} bytes"
            )
        if sha256 is not None and digest.hexdigest() != sha256:
            raise OSError(f"sha256 mismatch: expected {sha256}, got {digest.hexdigest()}")
        return tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    if not (member.isreg() or member.isdir()):
        kind = (
            "a symbolic link" if member.issym() else
            "a hard link" if member.islnk() else
            "a device" if member.ischr() or member.isblk() else
            "a FIFO" if member.isfifo() else
            f"an entry of type {member.type!r}"
        )
        raise UnsafeArchiveError(f"member {name!r} is {kind}; only regular files and folders are allowed")
    if "\\" in name or "\0" in name:
        raise UnsafeArchiveError(f"member {name!r} has a backslash or NUL in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise UnsafeArchiveError(f"member {name!r} has an absolute path")
    if ".." in path.parts:
        raise UnsafeArchiveError(f"member {name!r} has a '..' component and would be written outside the target folder")


class _WriteError(Exception):
    """An OSError while writing (not reading) during extraction."""


def _unpack(archive: Path, root: Path, label: Optional[str] = None) -> Path:
    """Extract ``archive`` into a new staging folder inside ``root``, checking everything; return it.

    One streaming pass: every member is vetted before anything is written for
    it (regular files and folders only; no absolute paths, ``..``, links or
    devices), files are written by this function rather than by
    ``TarFile.extract`` so no metadata from the archive is applied, and the
    gzip stream is read to its end so its CRC and length are checked. Since no
    link is ever created, a vetted relative name cannot leave the staging
    folder. On any failure the staging folder is removed.

    (``torchvision.datasets.utils.extract_archive`` uses ``filter="data"``,
    which still allows links inside the target; the course wants none.)
    """
    import gzip

    label = label or archive.name
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{FOLDER_NAME}.extract-"))
    n_files = 0
    try:
        try:
            with open(archive, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                with tarfile.open(fileobj=gz, mode="r|") as tar:
                    for member in tar:
                        _check_member(member)
                        dest = staging.joinpath(*PurePosixPath(member.name).parts)
                        try:
                            if member.isdir():
                                dest.mkdir(parents=True, exist_ok=True)
                                continue
                            dest.parent.mkdir(parents=True, exist_ok=True)
                            source = tar.extractfile(member)
                            with open(dest, "xb") as out:
                                shutil.copyfileobj(source, out)
                        except OSError as exc:
                            raise _WriteError(f"could not write {dest}: {exc}") from exc
                        n_files += 1
                while gz.read(_CHUNK * 16):  # to the end, so the gzip CRC and length are checked
                    pass
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise UnsafeArchiveError(
                f"{label} is not a readable .tar.gz ({type(exc).__name__}: {exc})"
            ) from exc
        except _WriteError as exc:
            raise OSError(str(exc)) from exc.__cause__
        if not n_files:
            raise UnsafeArchiveError(f"{label} holds no files")
        return staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _find_letter_folder(top: Path) -> Optional[Path]:
    if _has_letter_folders(top):
        return top
    for child in sorted(p for p in top.iterdir() if p.is_dir()):
        if _has_letter_folders(child):
            return child
    return None


def _layout_error(archive_name: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"{archive_name} does not have the notMNIST layout "
        f"({FOLDER_NAME}/<LETTER>/*.png for the letters {CLASSES[0]}-{CLASSES[-1]})"
    )


def _install(staging: Path, archive_name: str, root: Path, *, replace: bool) -> Path:
    """Move the letter folder found in ``staging`` to ``root/notMNIST_small``; remove ``staging``."""
    target = root / FOLDER_NAME
    trash = None
    try:
        found = _find_letter_folder(staging)
        if found is None:
            raise _layout_error(archive_name)
        if target.exists():
            if not replace:  # another process finished first; use its copy
                return target
            trash = Path(tempfile.mkdtemp(dir=root, prefix=f".{FOLDER_NAME}.old-"))
            os.rename(target, trash / FOLDER_NAME)
        os.rename(found, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)


def _make_readable(path: Path) -> None:
    """mkstemp creates files private to the user; data files are ordinary ones."""
    try:
        os.chmod(path, 0o644)
    except OSError:
        pass


def _how_to_fix(root: Path) -> str:
    return (
        f"To fix this, either\n"
        f"  * set the environment variable {URL_ENV} to a URL (http://, https:// or file://) "
        f"of {ARCHIVE_NAME}, e.g. {URL_ENV}=file:///path/to/{ARCHIVE_NAME}, or pass url=...; or\n"
        f"  * download {ARCHIVE_NAME} by hand (official mirrors: {', '.join(OFFICIAL_MIRRORS)}) "
        f"and put it at {root / ARCHIVE_NAME}, or extract it so that {root / FOLDER_NAME / 'A'} exists."
    )


def download_notmnist(
    root: Optional[PathLike] = None,
    url: UrlArg = None,
    *,
    force: bool = False,
    sha256: Optional[str] = None,
    progress: bool = True,
) -> Path:
    """Make sure notMNIST_small is under ``root``; return the folder holding ``A/`` ... ``J/``.

    Parameters
    ----------
    root:
        Data folder; defaults to ``$COURSE_DATA_DIR``, else ``data/`` at the
        repository root (see :func:`default_data_dir`).
    url:
        Source, or several tried in order; defaults to ``$NOTMNIST_URL``, else
        :data:`OFFICIAL_MIRRORS`. ``http(s)://``, ``file://`` and plain paths
        work; ``#sha256=<hex>`` at the end of a URL adds a checksum check.
    force:
        Download and extract again even if the data is already there.
    sha256:
        Expected sha256 of the archive, for every source.
    progress:
        Show a tqdm progress bar while downloading.

    A second call does no work: once ``<root>/notMNIST_small/A`` ... ``J``
    exist the folder is returned at once. Otherwise an archive already at
    ``<root>/notMNIST_small.tar.gz`` (for example one put there by hand) is
    extracted; otherwise the sources are tried in turn. Each download goes to
    a temporary file that is renamed into place only after it verifies (the
    official size for an official mirror; the sha256 when given; a complete,
    safe .tar.gz always). Extraction refuses absolute paths, ``..``, links and
    devices, and writes nothing outside ``root``.

    Raises :class:`NotMNISTDownloadError` when no source works, with each
    source's reason and how to set ``NOTMNIST_URL`` or where to put the archive.
    """
    root = _resolve_root(root)
    if not force:
        existing = _existing_folder(root)
        if existing is not None:
            return existing
    root.mkdir(parents=True, exist_ok=True)
    archive = root / ARCHIVE_NAME

    if archive.is_file() and not force:
        try:
            return _install(_unpack(archive, root), archive.name, root, replace=False)
        except UnsafeArchiveError as exc:
            raise UnsafeArchiveError(
                f"{archive} cannot be used: {exc}. Delete it and call download_notmnist again "
                f"(or pass force=True) to download a fresh copy."
            ) from exc

    failures = []
    for source in _sources(url):
        location, fragment_sha = _split_fragment(source)
        want_sha = (sha256 or fragment_sha or None)
        want_sha = want_sha.lower() if want_sha else None
        tmp = None
        try:
            address = _to_url(location)
            log.info("downloading %s from %s", ARCHIVE_NAME, address)
            tmp = _fetch(
                address, root,
                expected_size=OFFICIAL_SIZE if location in OFFICIAL_MIRRORS else None,
                sha256=want_sha, progress=progress,
            )
            staging = _unpack(tmp, root, label=Path(urllib.parse.urlsplit(address).path).name or ARCHIVE_NAME)
            if _find_letter_folder(staging) is None:  # check it all before the archive is kept
                shutil.rmtree(staging, ignore_errors=True)
                raise _layout_error(ARCHIVE_NAME)
            os.replace(tmp, archive)
            tmp = None
            _make_readable(archive)
            return _install(staging, ARCHIVE_NAME, root, replace=force)
        except (OSError, ValueError, UnsafeArchiveError, http.client.HTTPException) as exc:
            reason = f"HTTP {exc.code} {exc.reason}" if isinstance(exc, urllib.error.HTTPError) else str(exc)
            failures.append(f"  {location}: {reason}")
            log.info("%s failed: %s", location, reason)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    raise NotMNISTDownloadError(
        f"Could not get {ARCHIVE_NAME} from any source:\n" + "\n".join(failures) + "\n" + _how_to_fix(root)
    )


# --------------------------------------------------------------------------- load


def _list_images(folder: Path) -> tuple[list[tuple[int, str]], str]:
    """(label, 'LETTER/name.png') for every image, in a fixed order, and a fingerprint.

    The fingerprint covers every image's name, size and modification time, so
    adding, removing, renaming or rewriting a file invalidates the cache.
    """
    files = []
    lines = [f"notmnist-cache-v{_CACHE_VERSION}\n"]
    use_dir_fd = os.stat in os.supports_dir_fd and os.listdir in os.supports_fd
    for label, letter in enumerate(CLASSES):
        directory = os.path.join(folder, letter)
        # stat relative to an open folder: the kernel does not walk the whole path each time
        fd = os.open(directory, os.O_RDONLY) if use_dir_fd else None
        try:
            names = os.listdir(fd if fd is not None else directory)
            for name in sorted(n for n in names if n.endswith(".png") and not n.startswith(".")):
                st = os.stat(name, dir_fd=fd) if fd is not None else os.stat(os.path.join(directory, name))
                rel = f"{letter}/{name}"
                files.append((label, rel))
                lines.append(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n")
        finally:
            if fd is not None:
                os.close(fd)
    return files, hashlib.sha1("".join(lines).encode()).hexdigest()


def _decode(folder: Path, files: list[tuple[int, str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from PIL import Image

    images = np.empty((len(files), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    labels = np.empty(len(files), dtype=np.int64)
    bad = []
    n = 0
    for label, rel in files:
        try:
            with Image.open(folder / rel) as im:
                im.load()
                if im.size != (IMAGE_SIZE, IMAGE_SIZE):
                    raise OSError(f"size {im.size}, expected {IMAGE_SIZE}x{IMAGE_SIZE}")
                images[n] = np.asarray(im if im.mode == "L" else im.convert("L"))
        except (OSError, ValueError, SyntaxError):  # PIL raises these for broken files
            bad.append(rel)
            continue
        labels[n] = label
        n += 1
    return images[:n], labels[:n], bad


def _read_cache(path: Path, fingerprint: str):
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["fingerprint"]) != fingerprint:
                return None
            return z["images"], z["labels"], [str(s) for s in z["unreadable"]]
    except (OSError, KeyError, ValueError, EOFError, zlib.error):
        return None


def _write_cache(path: Path, fingerprint: str, images, labels, bad) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    except OSError:  # a read-only data folder: just go without a cache
        return
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, fingerprint=np.array(fingerprint), images=images, labels=labels,
                     unreadable=np.array(bad, dtype=str))
        _make_readable(Path(tmp))
        os.replace(tmp, path)
    except OSError:
        pass
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while tens of thousands of small objects are made.

    Right after ``import torch`` a process owes a full collection over some
    300,000 objects; listing the folder would trigger it and pay several times
    the listing's own cost. Reference counting still frees everything; the
    collection just runs later, as it would have anyway.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_folder(folder: Path, stacklevel: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    with _gc_paused():
        files, fingerprint = _list_images(folder)
        cache = folder / CACHE_NAME
        hit = _read_cache(cache, fingerprint)
        if hit is not None:
            images, labels, bad = hit
        else:
            images, labels, bad = _decode(folder, files)
            if len(images) and not _too_many(len(bad), len(files)):
                _write_cache(cache, fingerprint, images, labels, bad)
    if not len(images) or _too_many(len(bad), len(files)):
        raise RuntimeError(
            f"{len(bad):,} of {len(files):,} image files in {folder} are unreadable (e.g. {', '.join(bad[:5])}); "
            f"the copy looks broken. Delete {folder} and call download_notmnist(force=True)."
        )
    if bad:
        warnings.warn(
            f"skipped {len(bad)} unreadable notMNIST file{'s' if len(bad) != 1 else ''}: " + ", ".join(bad),
            UnreadableImageWarning,
            stacklevel=stacklevel + 1,
        )
    floats = images.astype(np.float32)
    np.divide(floats, np.float32(255), out=floats)
    return floats, labels, list(CLASSES)


def _too_many(n_bad: int, n_files: int) -> bool:
    return n_bad > max(MAX_UNREADABLE_ALWAYS_OK, MAX_UNREADABLE_FRACTION * n_files)


def load_notmnist(root: Optional[PathLike] = None, url: UrlArg = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Download (if needed) and load notMNIST_small.

    Returns ``(images, labels, classes)``: ``images`` float32 ``N x 28 x 28``
    in [0, 1], ``labels`` int64 in 0..9, ``classes`` ``['A', ..., 'J']``.
    The order is fixed: by letter, then by file name.

    Unreadable files are skipped and named in one :class:`UnreadableImageWarning`
    (the official archive has a couple); more than 1 % unreadable (and more
    than 5) is an error. The decoded arrays are cached in
    ``notMNIST_small/.notmnist-cache.npz``, keyed by the files' names, sizes
    and modification times, so later loads are fast and a changed folder is
    decoded again.
    """
    folder = download_notmnist(root, url)
    return _load_folder(folder, stacklevel=2)


# -------------------------------------------------------------------------- split

SPLITS = ("train", "val", "test")


def _split_indices(labels, fractions=(0.64, 0.16, 0.2), seed: int = 0) -> list[np.ndarray]:
    labels = np.asarray(labels)
    fractions = np.asarray(fractions, dtype=float)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    if fractions.shape != (3,) or (fractions < 0).any() or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers that add up to 1, got {tuple(fractions)}")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    bounds_frac = np.cumsum(fractions)[:2]
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        cut = np.round(bounds_frac * len(idx)).astype(int)
        for k, chunk in enumerate(np.split(idx, cut)):
            parts[k].append(chunk)
    out = []
    for chunks in parts:
        idx = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
        out.append(idx[rng.permutation(len(idx))].astype(np.int64))
    return out


def train_val_test_split(images, labels, fractions=(0.64, 0.16, 0.2), seed: int = 0):
    """Split into train, validation and test sets, stratified by label and deterministic.

    Returns ``((train_images, train_labels), (val_images, val_labels),
    (test_images, test_labels))``. Each letter is split in the given
    proportions (rounded per letter), and each part is shuffled; the same
    labels, fractions and seed always give the same split. Works with NumPy
    arrays and CPU tensors.
    """
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} vs {len(labels)}")
    return tuple((images[i], labels[i]) for i in _split_indices(labels, fractions, seed))


# ------------------------------------------------------------------------ Dataset


class NotMNIST(VisionDataset):
    """notMNIST_small as a torchvision-style Dataset.

    Args:
        root: data folder, as for :func:`download_notmnist` (``None``: the
            default). A folder that itself holds ``A/`` ... ``J/`` also works.
        split: ``"train"``, ``"val"`` or ``"test"``: the parts of
            :func:`train_val_test_split` with its default fractions and seed,
            so every notebook sees the same split.
        transform: applied to the image, a float tensor ``1 x 28 x 28`` in [0, 1].
        target_transform: applied to the label (an int).
        download: download the data if it is not under ``root`` yet
            (from ``$NOTMNIST_URL`` or the official mirrors).

    Attributes: ``data`` (float tensor ``N x 28 x 28``), ``targets`` (int64
    tensor), ``classes``, ``class_to_idx``, ``split``.
    """

    splits = SPLITS

    def __init__(
        self,
        root: Optional[PathLike] = None,
        split: str = "train",
        transform: Optional[Callable] = None,
        target_transform: Optional[Callable] = None,
        download: bool = False,
    ) -> None:
        root_path = _resolve_root(root)
        super().__init__(root_path, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", SPLITS)
        if download:
            folder = download_notmnist(root_path)
        else:
            folder = _existing_folder(root_path)
            if folder is None:
                raise RuntimeError(f"Dataset not found in {root_path}. You can use download=True to download it")
        images, labels, classes = _load_folder(folder, stacklevel=3)
        index = _split_indices(labels)[SPLITS.index(self.split)]
        self.data = torch.from_numpy(np.ascontiguousarray(images[index]))
        self.targets = torch.from_numpy(labels[index])
        self.classes = classes
        self.class_to_idx = {c: i for i, c in enumerate(classes)}

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        # A copy, so that an in-place transform cannot change the dataset.
        image = self.data[index].unsqueeze(0).clone()
        target = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
