"""Correct submissions written the way students really write PyTorch: each must get every point.

``HONEST`` holds one :class:`Honest` per everyday idiom: what students add
to a correct solution (imports and aliases, magics, scratch cells that print,
plot or display, debugging with ``traceback``/``inspect``/``gc``, saving with
``pickle``/``torch.save``, helpers named like the test helpers, top-level
``x``/``y``/``expected``, ``vars(self)`` in ``__repr__``...). ``case.build(hw)``
returns the submitted notebook, built from the released notebook (``hw.release``)
and the reference answers (``hw.answers``, ``{grade_id: source}``), so the
corpus follows the homework when its tests change. Every case is a correct
solution: graded, it must get full automatic points and the status
``graded``. The idioms come from the issue's list and from how course
repositories and forum answers write PyTorch (d2l, the PyTorch tutorials,
CS231n-style notebooks).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import nbformat
from nbformat import NotebookNode


@dataclass(frozen=True)
class Homework:
    name: str
    release: NotebookNode
    answers: Mapping[str, str]


@dataclass(frozen=True)
class Honest:
    name: str
    assignment: str
    build: Callable[[Homework], NotebookNode]
    idiom: str


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def submission(hw: Homework, answers: Mapping[str, str] | None = None, *,
               cells_after: Mapping[str, list[str]] | None = None, first: list[str] | None = None,
               last: list[str] | None = None) -> NotebookNode:
    """The release with every solution cell answered (``answers`` override the reference ones) and
    scratch cells added: ``first`` before the first cell's successor (after the set-up), ``cells_after``
    right after the cell of a grade id, ``last`` at the end."""
    notebook = copy.deepcopy(hw.release)
    mine = {**hw.answers, **(answers or {})}
    cells = []
    for index, cell in enumerate(notebook.cells):
        if grade_id(cell) in mine:
            cell.source = mine[grade_id(cell)]
        cells.append(cell)
        if index == 1:  # after the set-up cell
            cells += [nbformat.v4.new_code_cell(code) for code in first or []]
        for code in (cells_after or {}).get(grade_id(cell), []):
            cells.append(nbformat.v4.new_code_cell(code))
    cells += [nbformat.v4.new_code_cell(code) for code in last or []]
    notebook.cells = cells
    return notebook


def edited(hw: Homework, cell: str, old: str, new: str) -> str:
    """The reference answer of ``cell`` with ``old`` replaced by ``new`` (which must be there once)."""
    source = hw.answers[cell]
    assert source.count(old) == 1, f"{cell!r} no longer holds {old!r}"
    return source.replace(old, new)


# -- homework 1: tanh ---------------------------------------------------------------------

TANH_MODULE_WITH_ALIAS = """\
import torch.nn as nn


class Tanh(nn.Module):
    \"\"\"Elementwise tanh layer, a drop-in replacement for nn.Tanh, built on TanhFunction.\"\"\"

    def forward(self, x):
        return TanhFunction.apply(x)
"""

TRAIN_WITH_OPTIM = """\
from torch import nn, optim

seed_everything(0)
num_epochs = 250
lr = 0.01
losses = []
net = nn.Sequential(nn.Linear(1, 32), Tanh(), nn.Linear(32, 1))
optimizer = optim.Adam(net.parameters(), lr=lr)
criterion = nn.MSELoss()
for epoch in range(num_epochs):
    optimizer.zero_grad()
    loss = criterion(net(X), y)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
"""

TRAIN_WITH_SETATTR = """\
seed_everything(0)
num_epochs = 250
lr = 0.01
losses = []


class MLP(nn.Module):
    \"\"\"Layers named layer0, layer1, ... made in a loop.\"\"\"

    def __init__(self, sizes):
        super().__init__()
        self.depth = len(sizes) - 1
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            setattr(self, f"layer{i}", nn.Linear(n_in, n_out))
        self.activation = Tanh()

    def forward(self, x):
        for i in range(self.depth):
            x = getattr(self, f"layer{i}")(x)
            if i < self.depth - 1:
                x = self.activation(x)
        return x


net = MLP([1, 32, 1])
optimizer = torch.optim.Adam(net.parameters(), lr=lr)
for epoch in range(num_epochs):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(net(X), y)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
"""

TRAIN_WITH_TQDM_AND_DEVICE = """\
from tqdm.auto import tqdm

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
seed_everything(0)
num_epochs = 250
lr = 0.01
losses = []
net = nn.Sequential(nn.Linear(1, 32), Tanh(), nn.Linear(32, 1)).to(device)
optimizer = torch.optim.Adam(net.parameters(), lr=lr)
loss_fn = nn.MSELoss()
inputs, targets = X.to(device), y.to(device)
for epoch in tqdm(range(num_epochs), desc="training"):
    optimizer.zero_grad()
    loss = loss_fn(net(inputs), targets)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
"""

TANH_FORWARD_TH_ALIAS = """\
import torch as th
import torch.nn.functional as F


def tanh_forward(x: th.Tensor) -> th.Tensor:
    e = th.exp(-2 * x.abs())
    return th.where(x >= 0, 1.0, -1.0).to(x.dtype) * (1 - e) / (1 + e)
"""

TANH_FORWARD_SIGMOID = """\
def tanh_forward(x):
    # tanh x = 2 sigmoid(2x) - 1, and torch.sigmoid never overflows
    return 2 * torch.sigmoid(2 * x) - 1
"""

TANH_FORWARD_FUTURE = """\
from __future__ import annotations

from typing import Optional


def tanh_forward(x: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    m: torch.Tensor = torch.expm1(-2 * x.abs())
    result: torch.Tensor = torch.sign(x) * (-m / (2 + m))
    return result
"""

TANH_FUNCTION_DEBUG_PRINTS = """\
class TanhFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        print(f"forward: x of shape {tuple(x.shape)}")
        output = tanh_forward(x)
        ctx.save_for_backward(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        (output,) = ctx.saved_tensors
        print(f"backward: grad_output of shape {tuple(grad_output.shape)}, mean {grad_output.mean().item():.3f}")
        return tanh_backward(grad_output, output)
"""

TANH_MODULE_WITH_INIT = """\
class Tanh(nn.Module):
    \"\"\"tanh as a layer.\"\"\"

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return TanhFunction.apply(x)

    def extra_repr(self):
        return f"calls={self.calls}"

    def __repr__(self):
        fields = ", ".join(f"{k}={v}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"Tanh({fields})"
"""

OWN_HELPERS = """\
def assert_tensor_close(actual, expected, tol=1e-6):
    \"\"\"My own check, named like the course's.\"\"\"
    assert torch.allclose(actual, expected, atol=tol), (actual, expected)


def check_properties(x):
    y = tanh_forward(x)
    assert y.shape == x.shape and y.dtype == x.dtype


def check_repr(obj):
    print(repr(obj))


def check_tanh_backward(backward):
    # my own quick check, under the name the notebook's test cell uses
    print("my check:", backward(torch.ones(2), torch.zeros(2)))


expected = torch.tensor([0.0, 0.7615941559557649], dtype=torch.float64)
assert_tensor_close(tanh_forward(torch.tensor([0.0, 1.0], dtype=torch.float64)), expected)
check_properties(torch.randn(3, 4))
"""

OWN_CHECK_AFTER_BACKWARD = "check_tanh_backward(tanh_backward)\n"

TOP_LEVEL_NAMES = """\
x = torch.linspace(-3, 3, 7)
y = tanh_forward(x)
grad = torch.ones_like(x)
expected = 1 - y ** 2
result = tanh_backward(grad, y)
output, grad_output = y, grad
layer = None
print(result, expected)
"""

# Written differently from the reference, as code from public repositories is (issue 23 item 7).
TANH_MODULE_ALIAS_APPLY = """\
cus_tanh = TanhFunction  # the name this code base uses for the autograd function


class Tanh(nn.Module):
    def forward(self, input):
        return cus_tanh.apply(input)
"""

TANH_MODULE_APPLY_IN_INIT = """\
class Tanh(nn.Module):
    \"\"\"tanh layer; the autograd function's apply is bound once, in __init__.\"\"\"

    def __init__(self):
        super().__init__()
        self.fn = TanhFunction.apply

    def forward(self, x):
        return self.fn(x)
"""

TANH_FUNCTION_SETUP_CONTEXT = """\
class TanhFunction(torch.autograd.Function):
    # PyTorch 2's style: forward without ctx, the saving in setup_context.
    @staticmethod
    def forward(x):
        return tanh_forward(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return tanh_backward(grad_output, y)
"""

TANH_SCRATCH_AGAINST_REFERENCE = """\
# Compare with PyTorch's own tanh (the reference; my code does not use it).
xs = torch.linspace(-5, 5, 101, dtype=torch.float64)
print("max error:", (tanh_forward(xs) - torch.tanh(xs)).abs().max().item())
assert torch.allclose(tanh_forward(xs), xs.tanh())
"""


TANH_HONEST = [
    Honest("t_import_torch_nn_as_nn", "tanh",
           lambda hw: submission(hw, {"tanh_module": TANH_MODULE_WITH_ALIAS}),
           "import torch.nn as nn in an answer cell"),
    Honest("t_from_torch_import_nn_optim", "tanh", lambda hw: submission(hw, {"train_mlp": TRAIN_WITH_OPTIM}),
           "from torch import nn, optim in the training cell"),
    Honest("t_autoreload", "tanh", lambda hw: submission(hw, first=["%load_ext autoreload\n%autoreload 2"]),
           "%load_ext autoreload at the top"),
    Honest("t_traceback_debugging", "tanh", lambda hw: submission(hw, cells_after={"tanh_forward": [
        "import traceback\n\ntry:\n    tanh_forward('not a tensor')\nexcept Exception:\n"
        "    traceback.print_exc()\n    print(traceback.format_exc().splitlines()[-1])"]}),
           "import traceback to print an error while debugging"),
    Honest("t_gc_and_memory", "tanh", lambda hw: submission(hw, cells_after={"train_mlp": [
        "import gc\n\ndel optimizer\ngc.collect()\nprint(len(gc.get_objects()) > 0)"]}),
           "import gc to free memory"),
    Honest("t_inspect_source", "tanh", lambda hw: submission(hw, cells_after={"tanh_backward": [
        "import inspect\n\nprint(inspect.signature(tanh_backward))\nprint(inspect.getsource(tanh_forward)[:40])"]}),
           "import inspect to look at a function"),
    Honest("t_pickle_losses", "tanh", lambda hw: submission(hw, cells_after={"train_mlp": [
        "import pickle\n\nwith open('losses.pkl', 'wb') as file:\n    pickle.dump(losses, file)\n"
        "with open('losses.pkl', 'rb') as file:\n    assert pickle.load(file) == losses"]}),
           "import pickle to save the losses"),
    Honest("t_setattr_layers", "tanh", lambda hw: submission(hw, {"train_mlp": TRAIN_WITH_SETATTR}),
           "an own nn.Module whose layers are made with setattr(self, f'layer{i}', ...)"),
    Honest("t_ipython_display", "tanh", lambda hw: submission(hw, cells_after={"tanh_forward": [
        "from IPython.display import Markdown, display\n\n"
        "display(Markdown('**tanh_forward** works'))\ndisplay(tanh_forward(torch.tensor([0.5])))"]}),
           "IPython.display.display in a scratch cell"),
    Honest("t_scratch_plot", "tanh", lambda hw: submission(hw, cells_after={"tanh_forward": [
        "%matplotlib inline\nimport matplotlib.pyplot as plt\n\nxs = torch.linspace(-5, 5, 101)\n"
        "fig, ax = plt.subplots()\nax.plot(xs, tanh_forward(xs), label='mine')\nax.legend()\nplt.show()"]}),
           "a scratch cell that plots with matplotlib"),
    Honest("t_magics", "tanh", lambda hw: submission(hw, cells_after={
        "tanh_forward": ["%timeit -n 3 -r 1 tanh_forward(torch.randn(100))", "%%time\nz = tanh_forward(torch.randn(1000))"],
        "tanh_backward": ["%who", "!ls", "%env OMP_NUM_THREADS"]}),
           "%timeit, %%time, %who, %env and a shell escape"),
    Honest("t_torch_as_th_alias", "tanh", lambda hw: submission(hw, {"tanh_forward": TANH_FORWARD_TH_ALIAS}),
           "import torch as th and torch.nn.functional as F, another stable formula"),
    Honest("t_sigmoid_formula", "tanh", lambda hw: submission(hw, {"tanh_forward": TANH_FORWARD_SIGMOID}),
           "tanh through torch.sigmoid"),
    Honest("t_future_annotations", "tanh", lambda hw: submission(hw, {"tanh_forward": TANH_FORWARD_FUTURE}),
           "from __future__ import annotations and type hints"),
    Honest("t_own_helpers_named_like_tests", "tanh", lambda hw: submission(hw, cells_after={
        "tanh_forward": [OWN_HELPERS], "tanh_backward": [OWN_CHECK_AFTER_BACKWARD]}),
           "own helpers called assert_tensor_close, check_properties, check_repr, check_tanh_backward"),
    Honest("t_top_level_names", "tanh", lambda hw: submission(hw, cells_after={
        "tanh_backward": [TOP_LEVEL_NAMES]}, last=[TOP_LEVEL_NAMES]),
           "top-level x, y, grad, expected, result, output, grad_output"),
    Honest("t_warning_filters", "tanh", lambda hw: submission(hw, first=[
        "import warnings\n\nwarnings.filterwarnings('ignore')\nwarnings.simplefilter('ignore', UserWarning)"]),
           "warning filters at the top"),
    Honest("t_seeding_everything", "tanh", lambda hw: submission(hw, first=[
        "import random\n\nimport numpy as np\n\nrandom.seed(0)\nnp.random.seed(0)\ntorch.manual_seed(0)\n"
        "torch.backends.cudnn.deterministic = True"]),
           "seeding random, numpy and torch"),
    Honest("t_save_tensors", "tanh", lambda hw: submission(hw, cells_after={"train_mlp": [
        "torch.save(net.state_dict(), 'tanh_net.pt')\ntorch.save(tanh_forward(torch.randn(5)), 'tensor.pt')\n"
        "net.load_state_dict(torch.load('tanh_net.pt'))\nprint(torch.load('tensor.pt').shape)"]}),
           "torch.save of a tensor and a state dict in the working folder"),
    Honest("t_debug_prints_in_autograd", "tanh", lambda hw: submission(hw, {"tanh_function": TANH_FUNCTION_DEBUG_PRINTS}),
           "print() in forward and backward"),
    Honest("t_module_with_state_and_vars_repr", "tanh", lambda hw: submission(hw, {"tanh_module": TANH_MODULE_WITH_INIT}),
           "a Tanh with __init__, extra_repr and vars(self) in __repr__"),
    Honest("t_tqdm_and_device", "tanh", lambda hw: submission(hw, {"train_mlp": TRAIN_WITH_TQDM_AND_DEVICE}),
           "tqdm.auto progress bar and a device variable in training"),
    Honest("t_sys_os_globals", "tanh", lambda hw: submission(hw, first=[
        "import os\nimport sys\n\nprint(sys.version_info >= (3, 8), os.getcwd() != '')\n"
        "os.makedirs('outputs', exist_ok=True)\nprint('tanh_forward' in globals())"]),
           "os, sys and globals() in a scratch cell"),
    Honest("t_copy_and_no_grad", "tanh", lambda hw: submission(hw, cells_after={"train_mlp": [
        "import copy\n\nbest = copy.deepcopy(net.state_dict())\nwith torch.no_grad():\n    prediction = net(X)\n"
        "print(f'{float(((prediction - y) ** 2).mean()):.4f}')"]}),
           "copy.deepcopy of a state dict, torch.no_grad"),
]

# -- homework 2: augmentation -------------------------------------------------------------

ROTATION_AS_MODULE = """\
class RandomRotation(torch.nn.Module):
    \"\"\"A transform written as an nn.Module, like torchvision's.\"\"\"

    def __init__(self, degrees=15.0, fill=0.0):
        super().__init__()
        if degrees < 0:
            raise ValueError(f"degrees must be >= 0, got {degrees}")
        self.degrees = float(degrees)
        self.fill = float(fill)

    def forward(self, images):
        batch = images if images.dim() == 4 else images.unsqueeze(0)
        angles = (torch.rand(len(batch)) * 2 - 1) * self.degrees
        out = [TF.rotate(image, angle.item(), interpolation=InterpolationMode.BILINEAR, fill=[self.fill])
               for image, angle in zip(batch, angles)]
        out = torch.stack(out)
        return out if images.dim() == 4 else out.squeeze(0)

    def extra_repr(self):
        return f"degrees={self.degrees}, fill={self.fill}"
"""

ROTATION_AFFINE_GRID = """\
class RandomRotation:
    def __init__(self, degrees=15.0, fill=0.0):
        if degrees < 0:
            raise ValueError(f"degrees must be >= 0, got {degrees}")
        self.degrees = float(degrees)
        self.fill = float(fill)

    def __call__(self, images):
        batch = images if images.dim() == 4 else images[None]
        n = batch.shape[0]
        angles = torch.empty(n, dtype=torch.float64).uniform_(-self.degrees, self.degrees) * math.pi / 180
        cos, sin = angles.cos(), angles.sin()
        zeros = torch.zeros_like(cos)
        theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
        theta = theta.to(batch.dtype)
        mask = torch.ones_like(batch[:, :1])
        grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
        rotated = F.grid_sample(torch.cat([batch, mask], 1), grid, mode="bilinear", padding_mode="zeros",
                                align_corners=False)
        covered = rotated[:, -1:]
        out = rotated[:, :-1] + (1 - covered) * self.fill
        return out if images.dim() == 4 else out[0]

    def __repr__(self):
        return f"{self.__class__.__name__}(" + ", ".join(f"{k}={v}" for k, v in self.__dict__.items()) + ")"
"""

SHIFT_WITH_PAD = """\
class RandomShift:
    def __init__(self, max_shift=3, fill=0.0):
        if max_shift < 0 or int(max_shift) != max_shift:
            raise ValueError(f"max_shift must be a whole number >= 0, got {max_shift}")
        self.max_shift = int(max_shift)
        self.fill = float(fill)

    def __call__(self, images):
        single = images.dim() == 3
        batch = images.unsqueeze(0) if single else images
        h, w = batch.shape[-2:]
        p = self.max_shift
        padded = F.pad(batch, (p, p, p, p), value=self.fill)
        d = torch.randint(-p, p + 1, (batch.shape[0], 2))
        out = torch.stack([padded[i, :, p - int(dy):p - int(dy) + h, p - int(dx):p - int(dx) + w]
                           for i, (dx, dy) in enumerate(d)])
        return out[0] if single else out

    def __repr__(self):
        return "RandomShift(" + ", ".join(f"{key}={value}" for key, value in vars(self).items()) + ")"
"""

NOISE_WITH_RANDN = """\
from __future__ import annotations


class GaussianNoise:
    def __init__(self, mean: float = 0.0, std: float = 0.1, clip: bool = False) -> None:
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.mean = float(mean)
        self.std = float(std)
        self.clip = bool(clip)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"expected a tensor, got {type(images).__name__}")
        noise = torch.randn(images.shape, dtype=images.dtype, device=images.device) * self.std + self.mean
        result = images + noise
        if self.clip:
            result = torch.clamp(result, min=0.0, max=1.0)
        return result

    def __repr__(self) -> str:
        return f"GaussianNoise(mean={self.mean}, std={self.std}, clip={self.clip})"
"""

NOISE_SETATTR = """\
class GaussianNoise:
    def __init__(self, mean=0.0, std=0.1, clip=False):
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        for name, value in dict(mean=float(mean), std=float(std), clip=bool(clip)).items():
            setattr(self, name, value)

    def __call__(self, images):
        print(f"GaussianNoise on {tuple(images.shape)}")  # debugging
        noisy = images + self.mean + self.std * torch.randn_like(images)
        return noisy.clamp(0.0, 1.0) if self.clip else noisy

    def __repr__(self):
        return type(self).__name__ + "(" + ", ".join(f"{k}={getattr(self, k)}" for k in ("mean", "std", "clip")) + ")"
"""

TRANSFORMS_AS_MODULES_PIPELINE = """\
from torchvision.transforms import Compose
import torchvision.transforms as T


def build_train_transform():
    steps = [RandomRotation(degrees=10.0), RandomShift(max_shift=2), GaussianNoise(std=0.05, clip=True)]
    return Compose(steps)
"""

SCRATCH_SHOW = """\
%matplotlib inline
import matplotlib.pyplot as plt
from IPython.display import display

torch.manual_seed(0)
image = torch.zeros(1, 28, 28)
image[:, 6:22, 12:16] = 1.0
fig, axes = plt.subplots(1, 4, figsize=(6, 2))
for ax, transform in zip(axes, [lambda t: t, RandomRotation(10.0), RandomShift(2), GaussianNoise(0.0, 0.1, True)]):
    ax.imshow(transform(image)[0], cmap="gray")
    ax.axis("off")
plt.show()
display(RandomRotation(5.0))
"""

AUG_TOP_LEVEL = """\
x = torch.rand(4, 1, 28, 28)
y = RandomShift(2)(x)
images = x
result = GaussianNoise(std=0.1)(images)
expected = images.shape
angles = torch.tensor([1.0, 2.0])
transform = None
print(result.shape == expected, y.shape)
"""

ROTATION_SUBCLASS_TORCHVISION = """\
import torchvision.transforms as T


class RandomRotation(T.RandomRotation):
    \"\"\"torchvision's RandomRotation (degrees kept as a [-d, d] list), bilinear, one angle per image.\"\"\"

    def __init__(self, degrees=15.0, fill=0.0):
        if degrees < 0:
            raise ValueError(f"degrees must be >= 0, got {degrees}")
        super().__init__(degrees, interpolation=InterpolationMode.BILINEAR, fill=float(fill))

    def forward(self, images):
        batch = images if images.dim() == 4 else images.unsqueeze(0)
        rotated = torch.stack([
            TF.rotate(image, self.get_params(self.degrees), interpolation=self.interpolation, fill=[self.fill])
            for image in batch
        ])
        return rotated if images.dim() == 4 else rotated[0]
"""

PIPELINE_V2_COMPOSE = """\
from torchvision.transforms import v2


def build_train_transform():
    return v2.Compose([RandomRotation(degrees=10.0), RandomShift(max_shift=2), GaussianNoise(std=0.05, clip=True)])
"""

PIPELINE_LIBRARY_ROTATION = """\
import torchvision.transforms as T


def build_train_transform():
    # torchvision's own rotation (bilinear) for the first step, my shift and noise after it
    return T.Compose([
        T.RandomRotation(10, interpolation=T.InterpolationMode.BILINEAR, fill=0),
        RandomShift(max_shift=2),
        GaussianNoise(std=0.05, clip=True),
    ])
"""


AUG_HONEST = [
    Honest("a_compose_import", "augmentation", lambda hw: submission(hw, {"train_transform": (
        "from torchvision.transforms import Compose\n\n\n" + hw.answers["train_transform"])}),
           "from torchvision.transforms import Compose in the answer"),
    Honest("a_vars_in_repr", "augmentation", lambda hw: submission(hw, {"random_rotation": edited(
        hw, "random_rotation", 'return f"{type(self).__name__}(degrees={self.degrees}, fill={self.fill})"',
        'return f"{type(self).__name__}(" + ", ".join(f"{k}={v}" for k, v in vars(self).items()) + ")"')}),
           "vars(self) in __repr__"),
    Honest("a_dict_in_repr", "augmentation", lambda hw: submission(hw, {"random_rotation": ROTATION_AFFINE_GRID}),
           "self.__dict__ in __repr__, a rotation with F.affine_grid/F.grid_sample"),
    Honest("a_rotation_as_nn_module", "augmentation", lambda hw: submission(hw, {
        "random_rotation": ROTATION_AS_MODULE, "train_transform": TRANSFORMS_AS_MODULES_PIPELINE}),
           "a transform written as an nn.Module subclass (forward, extra_repr), import torchvision.transforms as T"),
    Honest("a_shift_with_pad_and_vars", "augmentation", lambda hw: submission(hw, {"random_shift": SHIFT_WITH_PAD}),
           "a shift by F.pad and cropping, vars(self) in __repr__"),
    Honest("a_noise_future_annotations", "augmentation", lambda hw: submission(hw, {"gaussian_noise": NOISE_WITH_RANDN}),
           "from __future__ import annotations, type hints, isinstance check, torch.randn"),
    Honest("a_noise_setattr_debug_print", "augmentation", lambda hw: submission(hw, {"gaussian_noise": NOISE_SETATTR}),
           "setattr in __init__, a debug print in __call__"),
    Honest("a_scratch_show_images", "augmentation", lambda hw: submission(hw, cells_after={
        "train_transform": [SCRATCH_SHOW]}),
           "a scratch cell that plots and displays"),
    Honest("a_seeding_numpy_random", "augmentation", lambda hw: submission(hw, first=[
        "import random\nimport numpy as np\n\nrandom.seed(42)\nnp.random.seed(42)\ntorch.manual_seed(42)"]),
           "seeding random and numpy"),
    Honest("a_magics", "augmentation", lambda hw: submission(hw, cells_after={
        "random_shift": ["%timeit -n 2 -r 1 RandomShift(2)(torch.rand(8, 1, 28, 28))",
                         "%%capture captured\nprint(RandomShift(1))", "%whos"]}),
           "%timeit, %%capture, %whos"),
    Honest("a_warning_filters", "augmentation", lambda hw: submission(hw, first=[
        "import warnings\nwarnings.filterwarnings('ignore', category=UserWarning)"]),
           "a warning filter"),
    Honest("a_save_tensor", "augmentation", lambda hw: submission(hw, cells_after={"random_shift": [
        "sample = RandomShift(2)(torch.rand(1, 28, 28))\ntorch.save(sample, 'shifted.pt')\n"
        "assert torch.equal(torch.load('shifted.pt'), sample)"]}),
           "torch.save in the working folder"),
    Honest("a_top_level_names", "augmentation", lambda hw: submission(hw, cells_after={
        "random_shift": [AUG_TOP_LEVEL]}, last=[AUG_TOP_LEVEL]),
           "top-level x, y, images, result, expected, angles, transform"),
    Honest("a_debug_traceback_inspect_pickle", "augmentation", lambda hw: submission(hw, cells_after={
        "gaussian_noise": ["import inspect\nimport pickle\nimport traceback\n\nprint(inspect.signature(GaussianNoise))\n"
                           "blob = pickle.dumps(GaussianNoise(std=0.2))\nprint(pickle.loads(blob))\n"
                           "try:\n    GaussianNoise(std=-1)\nexcept ValueError:\n    traceback.print_exc()"]}),
           "inspect, pickle and traceback while debugging"),
    Honest("a_reimports_and_aliases", "augmentation", lambda hw: submission(hw, first=[
        "import torch as th\nimport torch.nn.functional as F\nimport torchvision\nimport torchvision.transforms as T\n"
        "import torchvision.transforms.functional as TF\nfrom torchvision.transforms import InterpolationMode\n"
        "print(th.__version__ != '', torchvision.__version__ != '')"]),
           "re-imports and aliases of torch and torchvision modules"),
]

TANH_HONEST += [
    Honest("t_module_alias_of_the_function", "tanh", lambda hw: submission(hw, {"tanh_module": TANH_MODULE_ALIAS_APPLY}),
           "Tanh.forward returns cus_tanh.apply(x) where cus_tanh = TanhFunction"),
    Honest("t_apply_bound_in_init", "tanh", lambda hw: submission(hw, {"tanh_module": TANH_MODULE_APPLY_IN_INIT}),
           "TanhFunction.apply bound to self.fn in __init__"),
    Honest("t_function_setup_context", "tanh", lambda hw: submission(hw, {"tanh_function": TANH_FUNCTION_SETUP_CONTEXT}),
           "an autograd.Function in PyTorch 2's style: forward(x) and setup_context(ctx, inputs, output)"),
    Honest("t_scratch_compares_with_torch_tanh", "tanh", lambda hw: submission(hw, cells_after={
        "tanh_forward": [TANH_SCRATCH_AGAINST_REFERENCE]}),
           "a scratch cell comparing tanh_forward with torch.tanh (not a forbidden call of the code under test)"),
]
AUG_HONEST += [
    Honest("a_rotation_subclasses_torchvision", "augmentation", lambda hw: submission(hw, {
        "random_rotation": ROTATION_SUBCLASS_TORCHVISION}),
           "RandomRotation subclassing torchvision's (degrees stored as a list), bilinear, one angle per image"),
    Honest("a_v2_compose", "augmentation", lambda hw: submission(hw, {"train_transform": PIPELINE_V2_COMPOSE}),
           "the pipeline as a torchvision.transforms.v2.Compose"),
    Honest("a_library_rotation_in_pipeline", "augmentation", lambda hw: submission(hw, {
        "train_transform": PIPELINE_LIBRARY_ROTATION}),
           "torchvision's RandomRotation (bilinear) as the pipeline's first step"),
    Honest("a_subclass_in_v2_pipeline", "augmentation", lambda hw: submission(hw, {
        "random_rotation": ROTATION_SUBCLASS_TORCHVISION, "train_transform": PIPELINE_V2_COMPOSE}),
           "the torchvision subclass inside a v2.Compose"),
]

HONEST = TANH_HONEST + AUG_HONEST
