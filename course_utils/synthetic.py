"""Generated notMNIST-format data for tests and offline CI.

:func:`make_synthetic_notmnist` writes a ``.tar.gz`` laid out exactly like the
official ``notMNIST_small.tar.gz``::

    notMNIST_small/A/<name>.png
    ...
    notMNIST_small/J/<name>.png

Each image is a 28x28 8-bit grayscale PNG of one letter A-J, white on black,
rendered from a font that ships with matplotlib (the DejaVu and STIX General
families in ``mpl-data/fonts/ttf``) under a random scale, rotation, shift and
stroke width. Like the official archive, a couple of files are deliberately
unreadable (one empty, one truncated PNG) so the loader's skipping is
exercised.

The output depends only on the arguments (and the installed Pillow/FreeType):
the same ``seed`` gives byte-identical archives.

This is *not* notMNIST. The course code never uses it in place of the real
data unless told to, by pointing ``NOTMNIST_URL`` at a generated archive (the
test suite does exactly that).
"""
from __future__ import annotations

import base64
import gzip
import io
import os
import tarfile
from pathlib import Path
from typing import Sequence, Union

import numpy as np

__all__ = ["make_synthetic_notmnist", "CLASSES", "ARCHIVE_TOP"]

CLASSES = tuple("ABCDEFGHIJ")
ARCHIVE_TOP = "notMNIST_small"
IMAGE_SIZE = 28

# Fonts from matplotlib's mpl-data/fonts/ttf. The Display, NonUnicode and
# Size variants are left out: they do not carry plain Latin capitals.
_FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
)

# Glyphs are drawn at this font size, transformed onto a canvas twice the
# output size and then box-filtered down by 2 (cheap anti-aliasing).
_RENDER_SIZE = 64
_SUPERSAMPLE = 2
_STROKES = (0, 1, 2, 3)  # extra stroke width in render pixels

# A fixed timestamp keeps archives byte-identical across runs.
_MTIME = 1_300_000_000  # 2011-03-13, roughly when notMNIST was published


def _font_paths() -> list[Path]:
    import matplotlib

    ttf_dir = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    paths = [ttf_dir / name for name in _FONT_FILES if (ttf_dir / name).is_file()]
    if not paths:
        raise RuntimeError(
            f"none of matplotlib's bundled fonts were found in {ttf_dir}; "
            "make_synthetic_notmnist needs the DejaVu or STIX fonts that ship with matplotlib"
        )
    return paths


class _GlyphCache:
    """Cropped high-resolution glyph masks, rendered on first use."""

    def __init__(self, font_paths: Sequence[Path]):
        self._font_paths = list(font_paths)
        self._fonts: dict[int, object] = {}
        self._glyphs: dict[tuple[int, str, int], object] = {}

    def get(self, font_index: int, letter: str, stroke: int):
        key = (font_index, letter, stroke)
        glyph = self._glyphs.get(key)
        if glyph is None:
            from PIL import Image, ImageDraw, ImageFont

            font = self._fonts.get(font_index)
            if font is None:
                font = ImageFont.truetype(str(self._font_paths[font_index]), _RENDER_SIZE)
                self._fonts[font_index] = font
            side = 2 * _RENDER_SIZE
            canvas = Image.new("L", (side, side), 0)
            draw = ImageDraw.Draw(canvas)
            draw.text(
                (side // 2, side // 2), letter, fill=255, font=font, anchor="mm",
                stroke_width=stroke, stroke_fill=255,
            )
            bbox = canvas.getbbox()
            if bbox is None:  # a font without this glyph: fall back to the first font
                return self.get(0, letter, stroke) if font_index else None
            glyph = canvas.crop(bbox)
            self._glyphs[key] = glyph
        return glyph


def _render(glyph, rng: np.random.Generator) -> bytes:
    """Place ``glyph`` on a 28x28 canvas under a random affine map; return PNG bytes."""
    from PIL import Image

    out = IMAGE_SIZE * _SUPERSAMPLE
    gw, gh = glyph.size
    # Scale: the glyph's larger side fills 60-92 % of the box, aspect jittered.
    fill = rng.uniform(0.6, 0.92) * out
    base = fill / max(gw, gh)
    sx = base * rng.uniform(0.88, 1.12)
    sy = base * rng.uniform(0.88, 1.12)
    angle = np.deg2rad(rng.uniform(-12.0, 12.0))
    shift = rng.uniform(-2.0, 2.0, size=2) * _SUPERSAMPLE
    cos, sin = np.cos(angle), np.sin(angle)
    # Forward map: out = R @ S @ (p - glyph_centre) + out_centre + shift.
    # PIL wants the inverse: p = S^-1 @ R^T @ (out - out_centre - shift) + glyph_centre.
    inv = np.array([[cos / sx, sin / sx], [-sin / sy, cos / sy]])
    cx, cy = out / 2 + shift[0], out / 2 + shift[1]
    offset = np.array([gw / 2, gh / 2]) - inv @ np.array([cx, cy])
    data = (inv[0, 0], inv[0, 1], offset[0], inv[1, 0], inv[1, 1], offset[1])
    big = glyph.transform((out, out), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR)
    small = big.reduce(_SUPERSAMPLE)
    buf = io.BytesIO()
    small.save(buf, format="PNG")
    return buf.getvalue()


def _file_name(font_path: Path, index: int) -> str:
    # The official files are named by the base64 of the font's file name;
    # the index keeps names unique when a font is used more than once.
    stem = f"{font_path.stem}-{index:05d}.ttf".encode()
    return base64.urlsafe_b64encode(stem).decode("ascii") + ".png"


def _add_file(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mtime = _MTIME
    info.mode = 0o644
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(payload))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mtime = _MTIME
    info.mode = 0o755
    info.uname = info.gname = ""
    tar.addfile(info)


def make_synthetic_notmnist(
    path: Union[str, os.PathLike],
    per_class: Union[int, Sequence[int]] = 200,
    seed: int = 0,
    *,
    unreadable: int = 2,
) -> Path:
    """Write a generated notMNIST-format ``.tar.gz`` to ``path`` and return its path.

    Parameters
    ----------
    path:
        Archive to write (parent folders are created). Overwritten if present.
    per_class:
        Readable images per letter: one int for all ten letters, or ten ints
        for A..J (``[1872, 1873, 1873, 1873, 1873] + [1872] * 5`` gives the
        official archive's 18,724 readable images).
    seed:
        Seed for fonts, scales, rotations, shifts and strokes. The same
        arguments give byte-identical archives.
    unreadable:
        How many extra, deliberately unreadable ``.png`` files to add (the
        official archive has a couple too): they alternate between an empty
        file and a truncated PNG, in letters A, F, B, G, ...

    The archive holds ``sum(per_class) + unreadable`` files under
    ``notMNIST_small/<LETTER>/``.
    """
    counts = [int(per_class)] * len(CLASSES) if np.ndim(per_class) == 0 else [int(c) for c in per_class]
    if len(counts) != len(CLASSES):
        raise ValueError(f"per_class must be one int or {len(CLASSES)} ints (A..J), got {len(counts)}")
    if min(counts) < 0 or unreadable < 0:
        raise ValueError("per_class and unreadable must not be negative")

    fonts = _font_paths()
    glyphs = _GlyphCache(fonts)
    rng = np.random.default_rng(seed)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Letters that get an unreadable file: A and F first, like the official archive.
    bad_letters = [CLASSES[(i * 5 + i // 2) % len(CLASSES)] for i in range(unreadable)]

    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as raw, gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0
        ) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            _add_dir(tar, ARCHIVE_TOP)
            for letter, count in zip(CLASSES, counts):
                _add_dir(tar, f"{ARCHIVE_TOP}/{letter}")
                font_choice = rng.integers(len(fonts), size=count)
                stroke_choice = rng.integers(len(_STROKES), size=count)
                for i in range(count):
                    font_index = int(font_choice[i])
                    glyph = glyphs.get(font_index, letter, _STROKES[stroke_choice[i]])
                    png = _render(glyph, rng)
                    _add_file(tar, f"{ARCHIVE_TOP}/{letter}/{_file_name(fonts[font_index], i)}", png)
                for j, bad in enumerate(bad_letters):
                    if bad != letter:
                        continue
                    if j % 2 == 0:
                        payload = b""  # empty file
                    else:  # a valid PNG cut off in the middle of its data
                        payload = _render(glyphs.get(0, letter, 0), rng)
                        payload = payload[: max(33, len(payload) // 2)]
                    name = base64.urlsafe_b64encode(f"Unreadable-{j:02d}.ttf".encode()).decode("ascii")
                    _add_file(tar, f"{ARCHIVE_TOP}/{letter}/{name}.png", payload)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
