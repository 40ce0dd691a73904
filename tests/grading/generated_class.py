"""A generated class for the similarity check: independent solutions beside planted copies.

Independent students (:func:`independent_answers`) each write every solution
cell of a homework in one of several genuinely different ways (tanh by
``expm1``, by ``exp`` and ``where``, by masks, by a clamped ``expm1``; a
rotation by ``TF.rotate`` per image, by ``affine_grid``/``grid_sample``, by
``TF.affine``; a shift by slicing, by padding and cropping, by index
arithmetic, by a loop over rows...) and, inside each way, make their own small
choices (``x.abs()`` or ``torch.abs(x)``, an intermediate variable or not,
``**2`` or ``*``), so two independent students who chose the same ways are as
alike as real ones are.

A planted copy (:func:`plant_copy`) takes another student's cells and hides
them with the tricks the issue lists: variables renamed, functions and methods
reordered, comments changed or added, prints added, cells split. Every way is
written to be correct; the corpus is for the similarity check, not for grading.

:func:`make_class` returns ``(notebooks, planted pairs)``; :func:`write_class`
writes them as ``autograded/<student>/<assignment>/<assignment>.ipynb`` of a
course folder. Run as a script to print a few generated submissions.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import random
import re
from pathlib import Path

import nbformat

from course_utils.grading.markers import MARKER, Markers

COURSE = Path(__file__).resolve().parents[2] / "assignments"
MARKERS = Markers.for_course(COURSE)  # the course's nbgrader delimiters
RELEASE_MARKERS = dataclasses.replace(MARKERS, code_stub="raise NotImplementedError()")  # this corpus's stub
TRICKS = ("rename", "reorder", "comments", "prints", "split")


def pick(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


# -- homework 1: tanh ----------------------------------------------------------------------
# Each way returns (code before the cell's own code, [body of each solution region]).

def _prologue(r):
    """What some students write first: a check, a conversion, a copy of the input's dtype."""
    return pick(r, "", "", "if not torch.is_tensor(x):\n    x = torch.as_tensor(x)\n",
                "x = x.clone()  # never touch the caller's tensor\n", "dtype = x.dtype\n",
                "assert isinstance(x, torch.Tensor), 'x must be a tensor'\n",
                "if x.numel() == 0:\n    return x.clone()\n", "x = torch.as_tensor(x)\n",
                "if not x.is_floating_point():\n    x = x.float()\n")


def tanh_forward_expm1(r):
    a = pick(r, "x.abs()", "torch.abs(x)", "torch.absolute(x)", "torch.sqrt(x * x)")
    m = pick(r, "m", "em1", "neg", "e")
    first = pick(r, f"{m} = torch.expm1(-2 * {a})", f"{m} = torch.expm1(-2.0 * {a})", f"{m} = ({a} * -2).expm1()")
    last = pick(r, f"return torch.sign(x) * (-{m} / (2 + {m}))", f"return x.sign() * -{m} / ({m} + 2)",
                f"magnitude = -{m} / (2 + {m})\nreturn magnitude * torch.sign(x)")
    return "", [f"{_prologue(r)}{first}\n{last}"]


def tanh_forward_exp_where(r):
    a = pick(r, "x.abs()", "torch.abs(x)")
    e = pick(r, "e", "decay", "small", "z")
    t = pick(r, "t", "pos", "value", "y")
    body = (_prologue(r) + pick(r, f"{e} = torch.exp(-2 * {a})  # in (0, 1]: cannot overflow\n",
                                f"{e} = torch.exp(-({a} + {a}))\n", f"{e} = (-2 * {a}).exp()\n")
            + f"{t} = (1 - {e}) / (1 + {e})\n"
            + pick(r, f"return torch.where(x >= 0, {t}, -{t})", f"return torch.where(x < 0, -{t}, {t})",
                   f"{t} = torch.where(x < 0, -{t}, {t})\nreturn {t}"))
    return "", [body]


def tanh_forward_masks(r):
    out = pick(r, "out", "result", "y", "res")
    pos = pick(r, "pos", "positive", "mask", "p")
    test = pick(r, "x >= 0", "x > 0", "~(x < 0)", "torch.ge(x, 0)")
    neg = pick(r, f"~{pos}", f"x < 0", f"{pos}.logical_not()")
    if neg == "x < 0" and test == "x > 0":
        neg = f"~{pos}"
    exp_pos = pick(r, f"torch.exp(-2 * x[{pos}])", f"torch.exp(-2.0 * x[{pos}])", f"(-2 * x[{pos}]).exp()")
    exp_neg = pick(r, f"torch.exp(2 * x[{neg}])", f"(2 * x[{neg}]).exp()", f"torch.exp(x[{neg}] * 2)")
    body = (_prologue(r) + pick(r, f"{out} = torch.empty_like(x)\n", f"{out} = torch.zeros_like(x)\n",
                                f"{out} = x.new_empty(x.shape)\n")
            + f"{pos} = {test}\n"
            + pick(r, f"e = {exp_pos}\n{out}[{pos}] = (1 - e) / (1 + e)\n"
                      f"e = {exp_neg}\n{out}[{neg}] = (e - 1) / (e + 1)\n",
                   f"a = {exp_pos}\nb = {exp_neg}\n{out}[{pos}] = (1 - a) / (1 + a)\n{out}[{neg}] = -(1 - b) / (1 + b)\n",
                   f"{out}[{pos}] = -torch.expm1(-2 * x[{pos}]) / (2 + torch.expm1(-2 * x[{pos}]))\n"
                   f"{out}[{neg}] = torch.expm1(2 * x[{neg}]) / (2 + torch.expm1(2 * x[{neg}]))\n",
                   f"m = torch.expm1(-2 * x[{pos}])\n{out}[{pos}] = -m / (2 + m)\n"
                   f"m = torch.expm1(2 * x[{neg}])\n{out}[{neg}] = m / (2 + m)\n")
            + f"return {out}")
    return "", [body]


def tanh_forward_clamped(r):
    bound = pick(r, "20", "20.0", "25", "30")
    z = pick(r, "z", "q", "em", "u")
    helper = pick(r, "", f"LIMIT = {bound}  # tanh(LIMIT) rounds to 1 in float32 and float64\n\n\n")
    limit = "LIMIT" if helper else bound
    body = (_prologue(r) + pick(r, f"{z} = torch.expm1(2 * x.clamp(-{limit}, {limit}))",
                 f"{z} = torch.expm1(2 * torch.clamp(x, min=-{limit}, max={limit}))")
            + "\n" + pick(r, f"return {z} / ({z} + 2)", f"return {z} / (2 + {z})"))
    return helper, [body]


def tanh_forward_helper(r):
    name = pick(r, "_tanh_of_magnitude", "tanh_nonnegative", "_positive_tanh", "half_tanh")
    a = pick(r, "a", "magnitude", "ax", "v")
    e = pick(r, f"torch.exp(-2 * {a})", f"torch.exp(-{a} - {a})", f"(-2 * {a}).exp()", f"torch.exp(-2.0 * {a})")
    helper = (f"def {name}({a}):\n"
              f"    \"\"\"tanh of {a} >= 0, with exp of a non-positive number only.\"\"\"\n"
              + pick(r, f"    e = {e}\n    return (1 - e) / (1 + e)\n",
                     f"    e = {e}\n    return 2 / (1 + e) - 1\n",
                     f"    return -torch.expm1(-2 * {a}) / (1 + {e})\n",
                     f"    m = torch.expm1(-2 * {a})\n    return -m / (m + 2)\n")
              + "\n\n")
    body = _prologue(r) + pick(r, f"return torch.sign(x) * {name}(x.abs())", f"return {name}(torch.abs(x)) * x.sign()",
                               f"mag = {name}(x.abs())\nreturn torch.where(x < 0, -mag, mag)",
                               f"return torch.where(x >= 0, {name}(x), -{name}(-x))",
                               f"return x.sign() * {name}(x.abs()).to(x.dtype)")
    return helper, [body]


def tanh_backward_any(r):
    g, y = "grad_output", "output"
    return "", [pick(r, f"return {g} * (1 - {y} * {y})", f"return {g} * (1 - {y} ** 2)",
                     f"return (1 - {y}.pow(2)) * {g}", f"return {g} - {g} * {y} * {y}",
                     f"local = 1 - {y} ** 2\nreturn {g} * local", f"return torch.mul({g}, 1 - torch.square({y}))")]


def tanh_function_any(r):
    y = pick(r, "output", "y", "out", "result")
    forward = f"{y} = tanh_forward(x)\nctx.save_for_backward({y})\nreturn {y}"
    backward = pick(r, f"({y},) = ctx.saved_tensors\n", f"{y}, = ctx.saved_tensors\n", f"{y} = ctx.saved_tensors[0]\n")
    backward += pick(r, f"return tanh_backward(grad_output, {y})",
                     f"grad_input = tanh_backward(grad_output, {y})\nreturn grad_input")
    return "", [forward, backward]


def tanh_module_any(r):
    return "", [pick(r, "return TanhFunction.apply(x)", "y = TanhFunction.apply(x)\nreturn y")]


# -- homework 2: augmentation --------------------------------------------------------------

def _batched(r, images="images"):
    b = pick(r, "batch", "imgs", "x", "stack")
    return b, pick(r, f"{b} = {images} if {images}.dim() == 4 else {images}.unsqueeze(0)",
                   f"{b} = {images}.unsqueeze(0) if {images}.dim() == 3 else {images}",
                   f"single = {images}.dim() == 3\n{b} = {images}[None] if single else {images}")


def _unbatched(r, result, images="images"):
    return pick(r, f"return {result} if {images}.dim() == 4 else {result}[0]",
                f"if {images}.dim() == 3:\n    return {result}.squeeze(0)\nreturn {result}",
                f"return {result}.reshape({images}.shape)")


def _repr(r, *names):
    body = pick(r, "f\"{type(self).__name__}(" + ", ".join(f"{n}={{self.{n}}}" for n in names) + ")\"",
                "f\"{self.__class__.__name__}(" + ", ".join(f"{n}={{self.{n}!r}}" for n in names) + ")\"",
                "\"" + "{}(" + ", ".join(f"{n}={{}}" for n in names) + ")\".format(type(self).__name__, "
                + ", ".join(f"self.{n}" for n in names) + ")")
    return pick(r, f"return {body}", f"text = {body}\nreturn text")


def rotation_tf_rotate(r):
    b, first = _batched(r)
    angles = pick(r, "angles", "thetas", "degrees_drawn", "angle_list")
    draw = pick(r, f"{angles} = torch.empty(len({b})).uniform_(-self.degrees, self.degrees)",
                f"{angles} = (torch.rand(len({b})) * 2 - 1) * self.degrees",
                f"{angles} = torch.rand({b}.shape[0]) * 2 * self.degrees - self.degrees")
    out = pick(r, "rotated", "result", "outs", "turned")
    loop = pick(r, f"{out} = torch.stack([\n    TF.rotate(img, float(a), interpolation=InterpolationMode.BILINEAR, "
                   f"fill=[self.fill])\n    for img, a in zip({b}, {angles})\n])",
                f"{out} = []\nfor i in range(len({b})):\n    {out}.append(TF.rotate({b}[i], {angles}[i].item(), "
                f"InterpolationMode.BILINEAR, fill=[self.fill]))\n{out} = torch.stack({out})")
    return "", [f"{first}\n{draw}\n{loop}\n{_unbatched(r, out)}", _repr(r, "degrees", "fill")]


def rotation_grid_sample(r):
    b, first = _batched(r)
    theta = pick(r, "theta", "mats", "affine", "matrices")
    rad = pick(r, "rad", "phi", "angle")
    body = (f"{first}\nn = {b}.shape[0]\n"
            f"{rad} = (torch.rand(n, dtype={b}.dtype) * 2 - 1) * math.radians(self.degrees)\n"
            f"cos, sin = torch.cos({rad}), torch.sin({rad})\n"
            f"{theta} = torch.zeros(n, 2, 3, dtype={b}.dtype)\n"
            f"{theta}[:, 0, 0], {theta}[:, 0, 1] = cos, -sin\n"
            f"{theta}[:, 1, 0], {theta}[:, 1, 1] = sin, cos\n"
            f"grid = F.affine_grid({theta}, list({b}.shape), align_corners=False)\n"
            f"ones = torch.ones_like({b}[:, :1])\n"
            f"warped = F.grid_sample(torch.cat([{b}, ones], 1), grid, mode='bilinear', align_corners=False)\n"
            f"inside = warped[:, -1:]\n"
            f"out = warped[:, :-1] + (1 - inside) * self.fill\n"
            + _unbatched(r, "out"))
    return "", [body, _repr(r, "degrees", "fill")]


def rotation_tf_affine(r):
    b, first = _batched(r)
    body = (f"{first}\n"
            + "pieces = []\n"
            + f"for image in {b}:\n"
            + pick(r, "    angle = float(torch.empty(1).uniform_(-self.degrees, self.degrees))\n",
                   "    angle = (2 * torch.rand(()).item() - 1) * self.degrees\n")
            + "    pieces.append(TF.affine(image, angle=angle, translate=[0, 0], scale=1.0, shear=[0.0],\n"
              "                            interpolation=InterpolationMode.BILINEAR, fill=[self.fill]))\n"
            + "result = torch.stack(pieces)\n" + _unbatched(r, "result"))
    return "", [body, _repr(r, "degrees", "fill")]


def shift_slicing(r):
    b, first = _batched(r)
    h, w = pick(r, "h, w", "height, width", "H, W", "rows, cols").split(", ")
    body = (f"{first}\n{h}, {w} = {b}.shape[-2:]\n"
            f"shifts = torch.randint(-self.max_shift, self.max_shift + 1, (len({b}), 2))\n"
            f"shifted = torch.full_like({b}, self.fill)\n"
            f"for image, out, (dx, dy) in zip({b}, shifted, shifts.tolist()):\n"
            f"    if abs(dx) >= {w} or abs(dy) >= {h}:\n        continue\n"
            f"    out[:, max(dy, 0):{h} + min(dy, 0), max(dx, 0):{w} + min(dx, 0)] = \\\n"
            f"        image[:, max(-dy, 0):{h} - max(dy, 0), max(-dx, 0):{w} - max(dx, 0)]\n"
            + _unbatched(r, "shifted"))
    return "", [body, _repr(r, "max_shift", "fill")]


def shift_pad_crop(r):
    b, first = _batched(r)
    s = pick(r, "s", "pad", "m", "k")
    helper = pick(r, "", "def crop(padded, top, left, height, width):\n"
                         "    return padded[..., top:top + height, left:left + width]\n\n\n")
    take = ("crop(padded[i], {s} - dy, {s} - dx, height, width)" if helper
            else "padded[i, :, {s} - dy:{s} - dy + height, {s} - dx:{s} - dx + width]").format(s=s)
    body = (f"{first}\n{s} = self.max_shift\nheight, width = {b}.shape[2], {b}.shape[3]\n"
            f"padded = F.pad({b}, ({s}, {s}, {s}, {s}), value=self.fill)\n"
            f"out = torch.empty_like({b})\n"
            f"for i in range(len({b})):\n"
            + pick(r, "    dx, dy = torch.randint(-self.max_shift, self.max_shift + 1, (2,)).tolist()\n",
                   "    dx = int(torch.randint(-self.max_shift, self.max_shift + 1, ()))\n"
                   "    dy = int(torch.randint(-self.max_shift, self.max_shift + 1, ()))\n")
            + f"    out[i] = {take}\n" + _unbatched(r, "out"))
    return helper, [body, _repr(r, "max_shift", "fill")]


def shift_index_gather(r):
    b, first = _batched(r)
    body = (f"{first}\nn, c, h, w = {b}.shape\n"
            f"d = torch.randint(-self.max_shift, self.max_shift + 1, (n, 2))\n"
            f"rows = torch.arange(h).view(1, h, 1) - d[:, 1].view(n, 1, 1)\n"
            f"cols = torch.arange(w).view(1, 1, w) - d[:, 0].view(n, 1, 1)\n"
            f"valid = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)\n"
            f"flat = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(n, 1, h * w).expand(n, c, h * w)\n"
            f"moved = {b}.reshape(n, c, h * w).gather(2, flat).view(n, c, h, w)\n"
            + pick(r, f"moved = torch.where(valid.unsqueeze(1), moved, torch.full_like(moved, self.fill))\n",
                   f"moved = moved.masked_fill(~valid.unsqueeze(1), self.fill)\n")
            + _unbatched(r, "moved"))
    return "", [body, _repr(r, "max_shift", "fill")]


def shift_roll_mask(r):
    b, first = _batched(r)
    body = (f"{first}\nresults = []\nH, W = {b}.shape[-2:]\n"
            f"for img in {b}:\n"
            f"    dy, dx = (torch.randint(0, 2 * self.max_shift + 1, (2,)) - self.max_shift).tolist()\n"
            f"    rolled = torch.roll(img, shifts=(dy, dx), dims=(1, 2))\n"
            f"    if dy > 0:\n        rolled[:, :dy, :] = self.fill\n"
            f"    elif dy < 0:\n        rolled[:, dy:, :] = self.fill\n"
            f"    if dx > 0:\n        rolled[:, :, :dx] = self.fill\n"
            f"    elif dx < 0:\n        rolled[:, :, dx:] = self.fill\n"
            f"    if abs(dy) >= H or abs(dx) >= W:\n        rolled[:] = self.fill\n"
            f"    results.append(rolled)\n"
            + pick(r, "out = torch.stack(results)\n", "out = torch.stack(results, dim=0)\n")
            + _unbatched(r, "out"))
    return "", [body, _repr(r, "max_shift", "fill")]


def noise_plain(r):
    n = pick(r, "noise", "eps", "jitter", "delta")
    body = (pick(r, f"{n} = self.mean + self.std * torch.randn_like(images)",
                 f"{n} = torch.randn_like(images) * self.std + self.mean",
                 f"{n} = torch.randn(images.shape, dtype=images.dtype) * self.std + self.mean")
            + "\nnoisy = images + " + n + "\n"
            + pick(r, "return noisy.clamp(0.0, 1.0) if self.clip else noisy",
                   "if self.clip:\n    noisy = torch.clamp(noisy, 0, 1)\nreturn noisy",
                   "return torch.clamp(noisy, 0.0, 1.0) if self.clip else noisy"))
    return "", [body, _repr(r, "mean", "std", "clip")]


def noise_inplace_copy(r):
    body = ("out = images.clone()\n"
            + pick(r, "out.add_(torch.randn_like(out), alpha=self.std)\nout.add_(self.mean)\n",
                   "out += self.std * torch.randn_like(out) + self.mean\n")
            + pick(r, "if self.clip:\n    out.clamp_(0.0, 1.0)\nreturn out", "return out.clamp_(0, 1) if self.clip else out"))
    return "", [body, _repr(r, "mean", "std", "clip")]


def transform_any(r):
    degrees = pick(r, "10.0", "10", "8.0", "5.0")
    shift = pick(r, "2", "1")
    std = pick(r, "0.05", "0.1", "0.02")
    parts = [f"RandomRotation(degrees={degrees})", f"RandomShift(max_shift={shift})",
             f"GaussianNoise(std={std}, clip=True)"]
    return "", [pick(r, "return Compose([\n    " + ",\n    ".join(parts) + ",\n])",
                     "steps = [" + ", ".join(parts) + "]\nreturn Compose(steps)")]


WAYS = {
    "tanh": {"tanh_forward": [tanh_forward_expm1, tanh_forward_exp_where, tanh_forward_masks, tanh_forward_clamped,
                              tanh_forward_helper],
             "tanh_backward": [tanh_backward_any], "tanh_function": [tanh_function_any],
             "tanh_module": [tanh_module_any]},
    "augmentation": {"random_rotation": [rotation_tf_rotate, rotation_grid_sample, rotation_tf_affine],
                     "random_shift": [shift_slicing, shift_pad_crop, shift_index_gather, shift_roll_mask],
                     "gaussian_noise": [noise_plain, noise_inplace_copy], "train_transform": [transform_any]},
}


# -- building notebooks --------------------------------------------------------------------

def source_notebook(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(COURSE / "source" / assignment / f"{assignment}.ipynb", as_version=4)


def fill_regions(template: str, bodies: list[str]) -> str:
    """``template`` (a source cell) with its solution regions replaced by ``bodies``, indented as the regions."""
    bodies = list(bodies)
    regions = sum(1 for region, line in MARKERS.regions(template) if region == MARKER and MARKERS.begin_solution in line)
    assert len(bodies) == regions, "one body per solution region"
    return MARKERS.solutions_replaced(template, bodies)


def independent_answers(assignment: str, rng: random.Random) -> dict[str, str]:
    """``{grade_id: cell source}`` of one student who solved every cell on their own."""
    templates = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in source_notebook(assignment).cells
                 if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code"}
    answers = {}
    for grade_id, ways in WAYS[assignment].items():
        prelude, bodies = rng.choice(ways)(rng)
        answers[grade_id] = prelude + fill_regions(templates[grade_id], bodies)
    return answers


def plant_copy(answers: dict[str, str], rng: random.Random, tricks=TRICKS) -> list[tuple[str | None, str]]:
    """The cells ``[(grade_id or None for an added cell, source)]`` of a copy of ``answers`` disguised by ``tricks``."""
    cells = [(grade_id, source) for grade_id, source in answers.items()]
    if "rename" in tricks:
        cells = [(grade_id, rename_locals(source, rng)) for grade_id, source in cells]
    if "reorder" in tricks:
        cells = [(grade_id, reorder_blocks(source, rng)) for grade_id, source in cells]
    if "comments" in tricks:
        cells = [(grade_id, recomment(source, rng)) for grade_id, source in cells]
    if "prints" in tricks:
        cells = [(grade_id, add_prints(source, rng)) for grade_id, source in cells]
    if "split" in tricks:
        cells = [piece for grade_id, source in cells for piece in split_cell(grade_id, source)]
    return cells


NEW_NAMES = ["tmp", "val", "arr", "buf", "res2", "thing", "q1", "vv", "acc", "foo", "aux", "w2", "zz", "hold"]
KEEP = {"self", "ctx", "x", "images", "grad_output", "output", "torch", "F", "TF", "math", "nn", "i",
        "tanh_forward", "tanh_backward", "build_train_transform"}  # the names the tests call stay


def rename_locals(source: str, rng: random.Random) -> str:
    """Every name assigned or looped over (but the given signature's) renamed, whole words only, outside strings."""
    assigned = set(re.findall(r"^\s*([A-Za-z_]\w*)\s*(?:,\s*[A-Za-z_]\w*\s*)*=(?!=)", source, re.M))
    assigned |= set(re.findall(r"^\s*[A-Za-z_]\w*\s*,\s*([A-Za-z_]\w*)\s*=(?!=)", source, re.M))
    assigned |= set(re.findall(r"\bfor\s+([A-Za-z_]\w*)", source))
    assigned |= set(re.findall(r"^def\s+([A-Za-z_]\w*)", source, re.M))
    names = sorted(assigned - KEEP)
    mapping = dict(zip(names, rng.sample(NEW_NAMES, len(names)) if len(names) <= len(NEW_NAMES)
                       else [f"v{i}" for i in range(len(names))]))
    return _renamed(source, mapping)


def _renamed(source: str, mapping: dict[str, str]) -> str:
    """``source`` with the names in ``mapping`` replaced (suffixed ``_``): not in strings, attributes or
    keyword arguments (``f(angle=angle)`` keeps its keyword)."""
    import io
    import tokenize

    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    lines = source.splitlines(keepends=True)
    edits, depth = [], 0
    for index, token in enumerate(tokens):
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        elif token.type == tokenize.NAME and token.string in mapping:
            previous = [t for t in tokens[:index] if t.type not in (tokenize.NL, tokenize.COMMENT)]
            before = previous[-1].string if previous else ""
            after = tokens[index + 1].string if index + 1 < len(tokens) else ""
            if before == "." or (depth > 0 and after == "=" and before in ("(", ",")):
                continue
            edits.append((token.start, token.end, mapping[token.string] + "_"))
    for (row, col), (_, end), new in reversed(edits):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[end:]
    return "".join(lines)


def reorder_blocks(source: str, rng: random.Random) -> str:
    """Top-level definitions, and the methods of a class, in another order."""
    blocks = re.split(r"\n(?=(?:def |class |[A-Z_]+ = ))", source)
    if len(blocks) > 1:
        blocks = blocks[-1:] + blocks[:-1]  # the cell's own function first, its helpers after
    moved = []
    for block in blocks:
        methods = re.split(r"(?<!@staticmethod)\n(?=    (?:@staticmethod\n    )?def )", block)
        head, methods = methods[0], methods[1:]
        if len(methods) > 1:
            methods = list(reversed(methods))
        moved.append("\n".join([head, *methods]))
    return "\n".join(moved)


def recomment(source: str, rng: random.Random) -> str:
    """Comments removed and others added, in the student's own words."""
    lines = [re.sub(r"\s+#(?! (BEGIN|END)).*$", "", line) for line in source.splitlines()]
    out = []
    for line in lines:
        if line.strip().startswith("return ") and rng.random() < 0.7:
            out.append(line[:len(line) - len(line.lstrip())] + pick(rng, "# done", "# the result", "# give it back"))
        out.append(line)
    return "\n".join(out)


def add_prints(source: str, rng: random.Random) -> str:
    """A debugging print after the first statement of every function body."""
    out = []
    lines = source.splitlines()
    for index, line in enumerate(lines):
        out.append(line)
        stripped = line.strip()
        previous = lines[index - 1].strip() if index else ""
        if previous.startswith("def ") and stripped and not stripped.startswith(('"""', "#", "return", "@")) \
                and not stripped.endswith((":", "\\", "(", "[", ",")):
            indent = line[:len(line) - len(line.lstrip())]
            out.append(indent + pick(rng, "print('debug', flush=True)", "print('here')", "print('ok')") + "  # noqa")
    return "\n".join(out)


def split_cell(grade_id: str | None, source: str) -> list[tuple[str | None, str]]:
    """A cell whose helpers come first split in two: the helpers in a cell of their own before it."""
    blocks = re.split(r"\n\n\n(?=(?:def |class ))", source)
    if len(blocks) < 2:
        return [(grade_id, source)]
    return [(None, "\n\n\n".join(blocks[:-1])), (grade_id, blocks[-1])]


def build_notebook(assignment: str, cells: list[tuple[str | None, str]]) -> nbformat.NotebookNode:
    """The released notebook (from ``source/``, solution regions emptied) with the student's cells in place."""
    notebook = copy.deepcopy(source_notebook(assignment))
    answered = {grade_id: source for grade_id, source in cells if grade_id}
    before: dict[str, list[str]] = {}
    pending: list[str] = []
    for grade_id, source in cells:
        if grade_id is None:
            pending.append(source)
        else:
            before[grade_id], pending = pending, []
    result = []
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        result += [nbformat.v4.new_code_cell(code) for code in before.get(grade_id, [])]
        if grade_id in answered:
            cell.source = answered[grade_id]
        elif cell.cell_type == "code":  # as nbgrader's release writes it: no hidden tests, solutions stubbed
            cell.source = RELEASE_MARKERS.released(cell)
        result.append(cell)
    notebook.cells = result
    return notebook


def make_class(assignment: str, independent: int, copies: int, seed: int = 0,
               ) -> tuple[dict[str, nbformat.NotebookNode], set[frozenset[str]]]:
    """``independent`` students who worked alone and ``copies`` who each copied one of them (with two or more
    tricks, all of them for every third copier): ``({student: notebook}, {frozenset(copier, source)})``."""
    rng = random.Random(seed)
    answers = {f"{assignment}_s{index:03d}": independent_answers(assignment, rng) for index in range(independent)}
    notebooks = {student: build_notebook(assignment, list(cells.items())) for student, cells in answers.items()}
    planted = set()
    for index in range(copies):
        donor = rng.choice(sorted(answers))
        tricks = TRICKS if index % 3 == 0 else rng.sample(TRICKS, rng.randint(2, len(TRICKS)))
        copier = f"{assignment}_c{index:03d}"
        notebooks[copier] = build_notebook(assignment, plant_copy(answers[donor], rng, tricks))
        planted.add(frozenset((copier, donor)))
    return notebooks, planted


def write_class(course: Path, assignment: str, notebooks: dict[str, nbformat.NotebookNode]) -> None:
    for student, notebook in notebooks.items():
        folder = course / "autograded" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / f"{assignment}.ipynb")


if __name__ == "__main__":
    from course_utils.grading.similarity import student_code

    notebooks, planted = make_class("augmentation", 3, 1, seed=1)
    for student, notebook in notebooks.items():
        print(f"===== {student}\n{student_code(notebook)}\n")
    print("planted:", [sorted(pair) for pair in planted])


# -- a graded batch: what make autograde leaves behind -------------------------------------

FAILURES = {  # grade_id -> messages a failing test cell shows (numbers vary from student to student)
    "default": ["AssertionError: expected {n} but got {m}", "NotImplementedError: ",
                "RuntimeError: The size of tensor a ({n}) must match the size of tensor b ({m})"],
}


def grade_class(course: Path, assignment: str, notebooks: dict[str, nbformat.NotebookNode], seed: int = 0,
                statuses: dict[str, str] | None = None, broken: str | None = None) -> None:
    """Write ``notebooks`` as graded: test cells with a verdict output, ``grades.csv`` and grading records.

    Each student has an ability and each test cell a difficulty, so a strong student passes most cells;
    the cell ``broken`` passes at random instead (its discrimination is near 0). ``statuses`` gives some
    students ``failed``, ``timeout`` or ``flagged``; every fifth graded student is 1-3 days late.
    """
    import csv
    import json

    rng = random.Random(seed)
    statuses = statuses or {}
    tests = [(cell.metadata["nbgrader"]["grade_id"], float(cell.metadata["nbgrader"]["points"]))
             for cell in source_notebook(assignment).cells
             if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code"
             and not cell.metadata["nbgrader"].get("solution")]
    difficulty = {grade_id: rng.uniform(-1.0, 1.5) for grade_id, _ in tests}
    rows = []
    for index, (student, notebook) in enumerate(sorted(notebooks.items())):
        ability = rng.gauss(1.0, 1.0)
        earned = 0.0
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                continue
            chance = 0.5 if meta["grade_id"] == broken else 1 / (1 + math.exp(-2 * (ability - difficulty[meta["grade_id"]])))
            cell.execution_count = 1
            if rng.random() < chance:
                cell.outputs = []
                earned += float(meta["points"])
            else:
                template = rng.choice(FAILURES.get(meta["grade_id"], FAILURES["default"]))
                text = template.format(n=rng.randint(2, 9), m=rng.randint(10, 99))
                name, _, value = text.partition(": ")
                cell.outputs = [nbformat.v4.new_output("error", ename=name, evalue=value, traceback=[text])]
        folder = course / "autograded" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / f"{assignment}.ipynb")
        status = statuses.get(student, "graded")
        late = (index % 5 == 4) and status == "graded"
        days = rng.randint(1, 3) if late else 0
        penalty = round(earned * 0.1 * days, 2)
        total = 0.0 if status in ("failed", "timeout", "flagged") else round(earned - penalty, 2)
        detail = {"failed": "the kernel died", "timeout": "a cell ran past 30 s",
                  "flagged": "replaced torch.allclose while the tests ran"}.get(status, f"late {days} day(s)" if late else "")
        rows.append({"student_id": student, "assignment": assignment, "status": status,
                     "automatic": f"{earned:g}", "manual": "0", "late_penalty": f"{penalty:g}", "total": f"{total:g}",
                     "max": f"{sum(points for _, points in tests):g}",
                     "submitted_at": f"2026-12-0{1 + days}T12:00:00+00:00", "days_late": str(days) if days else "",
                     "detail": detail})
        record = course / ".grading" / "results" / assignment / f"{student}.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"result": {"student": student, "assignment": assignment, "status": status,
                                                 "detail": detail, "seconds": round(rng.uniform(1.5, 6.0), 2),
                                                 "auto_score": earned}}), encoding="utf-8")
    grades = course / "grades.csv"
    old = []
    if grades.is_file():
        with open(grades, newline="", encoding="utf-8") as file:
            old = [row for row in csv.DictReader(file) if row["assignment"] != assignment]
    with open(grades, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(old + rows)


def failing_checks(assignment: str, notebook: nbformat.NotebookNode) -> list[str]:
    """Run ``notebook`` in this process, each test cell with its hidden tests: ``["grade_id: error"]``.

    For checking that the generated solutions are right (nbgrader grades them the same way, in a kernel).
    """
    import contextlib
    import io
    import os

    tests = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in source_notebook(assignment).cells
             if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code"}
    namespace: dict = {}
    failures = []
    os.environ["NBGRADER_EXECUTION"] = "autograde"  # the homework's optional experiment is skipped
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for cell in notebook.cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if cell.cell_type != "code":
                    continue
                code = MARKERS.without(tests.get(grade_id, cell.source))  # hidden tests kept, markers not
                try:
                    exec(code, namespace)
                except Exception as error:  # noqa: BLE001 - a failing check is what this reports
                    if grade_id in tests:
                        failures.append(f"{grade_id}: {type(error).__name__}: {error}")
                    elif not isinstance(error, NotImplementedError):  # an optional part left unanswered
                        failures.append(f"cell {grade_id}: {type(error).__name__}: {error}")
    finally:
        os.environ.pop("NBGRADER_EXECUTION", None)
    return failures
