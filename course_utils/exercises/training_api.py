"""Self-checks for lecture 06 (the PyTorch training API).

Each check takes the student's answer (a number, a model or a function),
tries it on data of its own and says right or not yet, and why, without
printing the expected answer. Checks that build models or draw data do so
under ``torch.random.fork_rng``, so running a check never changes the
notebook's random numbers.
"""
from __future__ import annotations

import copy
import numbers
import operator
import tempfile
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode, resolve_name
from torch.utils.data import DataLoader, TensorDataset

from ..selfcheck import Verdict, right, self_check, wrong
from .calls import CallsTo

#: The centres of the lecture's three Gaussian blobs (section 4).
BLOB_CENTRES = torch.tensor([[0.0, 2.0], [-2.0, -1.0], [2.0, -1.0]])


def blobs(per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points around :data:`BLOB_CENTRES` (unit variance) and their labels 0, 1, 2."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(3).repeat_interleave(per_class)
    return BLOB_CENTRES[labels] + torch.randn(3 * per_class, 2, generator=generator), labels


def _device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters are (the CPU for a model without any)."""
    return next(model.parameters(), torch.empty(0)).device


def _affine_defect(f, X: torch.Tensor) -> float:
    """How far f is from an affine map on the points X: max |f(u + v) - f(u) - f(v) + f(0)| over pairs."""
    u, v = X[: len(X) // 2], X[len(X) // 2:]
    return (f(u + v) - f(u) - f(v) + f(torch.zeros_like(u))).abs().max().item()


@self_check
def check_log_softmax_classifier(classifier) -> Verdict:
    """Your turn (section 4): a 2 -> 3 ReLU classifier ending in ``nn.LogSoftmax`` whose dim suits a batch and one point.

    The check feeds a batch (N × 2) and a single point (shape (2,)): only the
    last dimension is the class dimension for both. Forward hooks check that a
    ReLU, and nothing else, sits between the two Linear layers, and that the
    output layer's scores go straight into the LogSoftmax.
    """
    if not isinstance(classifier, nn.Module):
        return wrong(f"build an nn.Module (e.g. nn.Sequential), not a {type(classifier).__name__}.")
    last = list(classifier.modules())[-1]
    if isinstance(last, nn.Softmax):
        return wrong("the model ends in nn.Softmax: NLLLoss expects log-probabilities, so end in nn.LogSoftmax.")
    if not isinstance(last, nn.LogSoftmax):
        return wrong("end the model in nn.LogSoftmax(dim=...), so that it returns log-probabilities for NLLLoss.")
    if last.dim is None:
        return wrong("choose dim explicitly: nn.LogSoftmax(dim=...) over the dimension that holds the classes.")
    linears = [m for m in classifier.modules() if isinstance(m, nn.Linear)]
    shapes = [(m.in_features, m.out_features) for m in linears]
    if shapes != [(2, 16), (16, 3)]:
        return wrong(f"the model's Linear layers are {shapes}; one hidden layer of 16 units means "
                     "nn.Linear(2, 16), a ReLU, then nn.Linear(16, 3).")
    order = list(classifier) if isinstance(classifier, nn.Sequential) else []
    if all(any(m is linear for m in order) for linear in linears):  # a flat nn.Sequential: check the order too
        first, second = (next(k for k, m in enumerate(order) if m is linear) for linear in linears)
        if not any(isinstance(m, nn.ReLU) for m in order[first + 1:second]):
            return wrong("put the ReLU between the two Linear layers: it is the hidden layer's activation.")
    with torch.random.fork_rng(devices=[]):
        X, labels = blobs(4, seed=123)
        X = X.to(_device_of(classifier))  # a model trained on a GPU (exercise 5) is judged where it is
        was_training = classifier.training
        classifier.eval()
        try:
            # What flows between the layers, seen by hooks: the hidden Linear's output, through a ReLU (and nothing
            # else), into the output Linear, whose scores go straight into the LogSoftmax. The probe's far points
            # (20x) reach values that tell ReLU apart from look-alikes such as relu6; blobs give negative ones.
            seen = {}
            hooks = [linears[0].register_forward_hook(lambda module, args, out: seen.update(hidden=out.clone())),
                     linears[1].register_forward_hook(lambda module, args, out: seen.update(into_output=args[0],
                                                                                           scores=out)),
                     last.register_forward_hook(lambda module, args, out: seen.update(into_log_softmax=args[0]))]
            try:
                with torch.no_grad():
                    classifier(torch.cat([X, 20 * X]))
            finally:
                for hook in hooks:
                    hook.remove()
            if seen.keys() != {"hidden", "into_output", "scores", "into_log_softmax"}:
                return wrong("the points should pass through nn.Linear(2, 16), a ReLU, nn.Linear(16, 3) and "
                             "nn.LogSoftmax, in this order.")
            if not torch.allclose(seen["into_output"], seen["hidden"].clamp(min=0), atol=1e-6):
                return wrong("the hidden layer needs a ReLU (nn.ReLU() between the two Linear layers), and "
                             "nothing else between them.")
            if not torch.allclose(seen["into_log_softmax"], seen["scores"], atol=1e-6):
                return wrong("the scores of nn.Linear(16, 3) should go straight into nn.LogSoftmax: an activation "
                             "after the output layer (a ReLU clips every negative score to 0) changes the model.")
            with torch.no_grad():
                out = classifier(X)
                if out.shape != (len(X), 3):
                    return wrong(f"for a batch of {len(X)} points with 2 features the output should be {len(X)} × 3 "
                                 f"(one score per class); yours is {tuple(out.shape)}.")
                out = out.cpu()
                rows, columns = out.exp().sum(dim=1), out.exp().sum(dim=0)
                if torch.allclose(columns, torch.ones(3), atol=1e-4) and not torch.allclose(rows, torch.ones(len(X)),
                                                                                           atol=1e-4):
                    return wrong("each column of exp(output) sums to 1: you normalised over the batch (dim=0); "
                                 "normalise over the classes.")
                if not torch.allclose(rows, torch.ones(len(X)), atol=1e-4):
                    return wrong("exp(output) should sum to 1 over the classes for every example.")
                try:
                    single = classifier(X[0])
                except IndexError:
                    return wrong(f"with dim={last.dim} a single point of shape (2,) fails: it has only one dimension. "
                                 "Which dim is the class dimension for a batch and for a single point alike?")
                if single.shape != (3,) or not torch.allclose(single.exp().sum().cpu(), torch.tensor(1.0), atol=1e-4):
                    return wrong(f"for a single point of shape (2,) the output should be 3 log-probabilities summing "
                                 f"(after exp) to 1; with dim={last.dim} it is not.")
                centred = lambda x: (lambda logp: logp - logp.mean(dim=-1, keepdim=True))(classifier(x))
                if _affine_defect(centred, 3 * torch.randn(64, 2).to(X.device)) < 1e-5:
                    return wrong("up to the normalisation your model is a linear (affine) map of the inputs: it "
                                 "needs a hidden layer with a ReLU between the two Linear layers.")
        finally:
            classifier.train(was_training)
    return right("log-probabilities over the last dimension, for a batch and for a single point: "
                 "NLLLoss on them is the cross-entropy.")


def _reference_epoch(model, loader, loss_fn, optimizer, zero_grad=True):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        if zero_grad:
            optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count


def _training_setup():
    """A small regression, a model in eval mode and a loader with an uneven last batch (10 = 4 + 4 + 2)."""
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(10, 3, generator=generator)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(10, 1, generator=generator)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    model.eval()  # the training pass must switch it back
    loader = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(1))
    return model, loader


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


class _WatchedLoader:
    """A DataLoader stand-in that remembers the batch tensors it hands out."""

    def __init__(self, loader):
        self.loader, self.batches = loader, []

    def __iter__(self):
        for batch in self.loader:
            self.batches += list(batch)
            yield batch

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):  # dataset, batch_size, ... as the DataLoader has them
        return getattr(self.loader, name)


class _MovesTo(TorchFunctionMode):
    """Records the tensors of ``watched`` that are moved with ``.to(device)`` (device positional or keyword)."""

    def __init__(self, watched: _WatchedLoader, device: torch.device):
        super().__init__()
        self.watched, self.device, self.moved = watched, device, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if resolve_name(func) == "torch.Tensor.to" and args and any(args[0] is t for t in self.watched.batches):
            devices = [torch.device(a) for a in (*args[1:], kwargs.get("device")) if isinstance(a, (str, torch.device))]
            if self.device in devices:
                self.moved.append(args[0])
        return func(*args, **kwargs)


@self_check
def check_training_pass(train_one_epoch) -> Verdict:
    """Your turn (section 6): ``train_one_epoch(model, loader, loss_fn, optimizer, device)`` -> mean loss per example."""
    with torch.random.fork_rng(devices=[]):
        model, loader = _training_setup()
        reference, ref_loader = _training_setup()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
        ref_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.5)
        device = torch.device("cpu")
        watched = _WatchedLoader(loader)
        with _MovesTo(watched, device) as moves:
            returned = train_one_epoch(model, watched, nn.MSELoss(), optimizer, device)
        expected = _reference_epoch(reference, ref_loader, nn.MSELoss(), ref_optimizer)
        if not model.training:
            return wrong("after your training pass the model is still in evaluation mode: call model.train() first.")
        if not torch.allclose(_weights(model), _weights(reference), atol=1e-6):
            accumulating, acc_loader = _training_setup()
            acc_optimizer = torch.optim.SGD(accumulating.parameters(), lr=0.1, momentum=0.5)
            _reference_epoch(accumulating, acc_loader, nn.MSELoss(), acc_optimizer, zero_grad=False)
            if torch.allclose(_weights(model), _weights(accumulating), atol=1e-6):
                return wrong("the gradients accumulate from batch to batch: call optimizer.zero_grad() for every batch.")
            if torch.equal(_weights(model), _weights(_training_setup()[0])):
                return wrong("the weights did not change: call loss.backward() and optimizer.step() for every batch.")
            return wrong("after one epoch the weights differ from those of the standard loop "
                         "(zero_grad, forward, loss, backward, step, once per batch).")
        if isinstance(returned, torch.Tensor):
            if returned.requires_grad:
                return wrong("return a plain number (loss.item()), not a tensor attached to the graph.")
            returned = returned.item()
        if isinstance(returned, (np.generic, np.ndarray)) and np.ndim(returned) == 0:
            returned = returned.item()  # a numpy number (e.g. float32 from loss.detach().numpy()) is a number too
        if not isinstance(returned, numbers.Real) or isinstance(returned, bool):
            return wrong(f"return the mean loss per example as a number; got {type(returned).__name__}.")
        if abs(returned - expected) > 1e-6:
            return wrong("the weights are right, but the returned number is not the mean loss per example: the last "
                         "batch is smaller, so weight each batch's loss by its size.")
        if not all(any(t is m for m in moves.moved) for t in watched.batches):
            return wrong("move every batch, inputs and targets, to the device you are given (xb.to(device), "
                         "yb.to(device)): on a GPU the model's weights are there, and the batches must be too.")
    return right("train mode, zero_grad, forward, loss, backward, step for every batch; mean loss per example.")


@self_check
def check_parameter_count(count) -> Verdict:
    """Exercise 1: the number of parameters of ``make_mlp([784, 128, 64, 10])``."""
    sizes = [784, 128, 64, 10]
    expected = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    if isinstance(count, torch.Tensor):
        count = count.item()
    if not isinstance(count, numbers.Real) or isinstance(count, bool):
        return wrong(f"answer with one number; got a {type(count).__name__}.")
    if count == expected - sum(sizes[1:]):
        return wrong("you counted the weights; each Linear layer also has one bias per output.")
    if count != expected:
        return wrong(f"{count} is not the number of learnable numbers in that MLP.")
    return right("every weight and every bias counted.")


@self_check
def check_batch_counts(answer) -> Verdict:
    """Exercise 2: ``(batches, batches_with_drop_last, size_of_last_batch)`` for 1000 examples in batches of 64."""
    if isinstance(answer, (torch.Tensor, np.ndarray)):
        answer = answer.tolist()
    if not (isinstance(answer, (tuple, list)) and len(answer) == 3):
        return wrong("answer with three numbers: (batches, batches with drop_last=True, size of the last batch).")
    values = [value.item() if isinstance(value, torch.Tensor) else value for value in answer]
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v).is_integer() for v in values):
        return wrong(f"each of the three answers is a whole number (a count of batches or of examples); got {answer!r}.")
    full, dropped, last = (int(value) for value in values)
    n, b = 1000, 64
    if full != -(-n // b):
        return wrong(f"{full} is not the number of batches without drop_last.")
    if dropped != n // b:
        return wrong(f"{dropped} is not the number of batches with drop_last=True.")
    if last != n - (n // b) * b:
        return wrong(f"{last} is not the size of the last batch (without drop_last).")
    return right("ceil(N/B) batches, floor(N/B) with drop_last, and the remainder in the last one.")


def _names_used(function) -> list[str]:
    """The global and attribute names a Python function's code (nested functions included) refers to."""
    code = getattr(function, "__code__", None)
    names, stack = [], [code] if code is not None else []
    while stack:
        code = stack.pop()
        names += code.co_names
        stack += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    return names


#: nn.init's Kaiming functions, which exercise 3 asks the student not to use.
_KAIMING_FUNCTIONS = tuple(getattr(nn.init, name) for name in ("kaiming_normal_", "kaiming_uniform_", "kaiming_normal",
                                                                 "kaiming_uniform") if hasattr(nn.init, name))
_KAIMING_NAMES = frozenset(function.__name__ for function in _KAIMING_FUNCTIONS) | {"kaiming_normal", "kaiming_uniform"}


def _kaiming_reached(function, seen=None) -> str | None:
    """The name by which ``function``, or a Python function it calls through a global name, reaches one of nn.init's
    Kaiming functions (``nn.init.kaiming_normal_``, or an alias such as ``kn`` bound to it), else None. A
    helper of the student's own that merely has "kaiming" in its name is not one of them."""
    seen = set() if seen is None else seen
    code = getattr(function, "__code__", None)
    if code is None or code in seen:
        return None
    seen.add(code)
    namespace = getattr(function, "__globals__", {})
    for name in _names_used(function):
        value = namespace.get(name)
        if name in _KAIMING_NAMES or any(value is kaiming for kaiming in _KAIMING_FUNCTIONS):
            return name
        if isinstance(value, types.FunctionType):
            reached = _kaiming_reached(value, seen)
            if reached is not None:
                return reached
    return None


#: The widths of the check's 20-layer ReLU net: no layer is square, so fan-in and fan-out differ everywhere.
INIT_WIDTHS = [96, 256, 128, 320, 160, 384, 192, 448, 224, 512, 256, 512, 224, 448, 192, 384, 160, 320, 128, 256, 96]


@self_check
def check_init_for_relu(init_for_relu) -> Verdict:
    """Exercise 3: ``init_for_relu(module)`` for ``model.apply``: Kaiming-normal weights (ReLU, fan-in), zero biases.

    Without nn.init's Kaiming functions. The check's net has 20 non-square
    ``Linear`` layers (so a fan-out scale is told apart from a fan-in one),
    four of them without a bias, with ReLUs and a final ``LayerNorm`` that
    must stay as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layers = []
        for k, (n_in, n_out) in enumerate(zip(INIT_WIDTHS, INIT_WIDTHS[1:])):
            layers += [nn.Linear(n_in, n_out, bias=k % 5 != 2), nn.ReLU()]  # layers 3, 8, 13, 18 have no bias
        net = nn.Sequential(*layers, nn.LayerNorm(INIT_WIDTHS[-1]))
        layer_norm_before = copy.deepcopy(net[-1].state_dict())
        with CallsTo("kaiming") as spy:
            returned = net.apply(init_for_relu)
        kaiming = spy.called + [name for name in [_kaiming_reached(init_for_relu)] if name is not None]
        if kaiming:
            return wrong(f"your function uses {kaiming[0]}; draw the weights yourself (e.g. with weight.normal_) "
                         "with the standard deviation section 3 derives.")
        if returned is not net:
            return wrong("use it as model.apply(init_for_relu); apply returns the model itself.")
        if any(not torch.equal(value, net[-1].state_dict()[key]) for key, value in layer_norm_before.items()):
            return wrong("your function changed a module that is not nn.Linear; check the module's type first.")
        linears = [m for m in net if isinstance(m, nn.Linear)]
        if any(m.bias is not None and m.bias.abs().max() > 0 for m in linears):
            return wrong("the biases should be zero.")
        for m in linears:
            target = (2 / m.in_features) ** 0.5
            std = m.weight.std().item()
            if abs(std / target - 1) > 0.05:
                fan_out = abs(std / (2 / m.out_features) ** 0.5 - 1) < 0.05
                why = ("that is sqrt(2 / fan_out): scale by the number of inputs, which keeps the forward signal's size"
                       if fan_out else "which variance keeps the signal's size through a ReLU layer?")
                return wrong(f"for nn.Linear({m.in_features}, {m.out_features}) the weights' standard deviation is "
                             f"{std:.4f}, not sqrt(2 / fan_in) = {target:.4f}; {why}.")
            if abs(m.weight.mean().item()) > 0.05 * target:
                return wrong("the weights should have mean 0.")
            z = (m.weight / std).flatten()
            if not 2.7 < (z**4).mean().item() < 3.3:  # a normal distribution's kurtosis is 3, a uniform one's 1.8
                return wrong(f"the weights of nn.Linear({m.in_features}, {m.out_features}) have the right size but "
                             "are not normally distributed: draw them from a normal distribution, not a uniform one.")
        with torch.no_grad():
            x = torch.randn(512, INIT_WIDTHS[0])
            for module in list(net)[:-1]:
                x = module(x)
        if not 0.3 < x.std().item() < 3:
            return wrong(f"after 20 ReLU layers the activations have standard deviation {x.std():.3g}; "
                         "they should stay of order 1.")
    return right("Kaiming-normal weights (fan-in) and zero biases: the signal keeps its size through 20 ReLU layers.")


def _state(thing):
    """What a checkpoint must restore of one object of a run: its state_dict, or a generator's state."""
    return thing.get_state() if isinstance(thing, torch.Generator) else copy.deepcopy(thing.state_dict())


def _same(a, b) -> bool:
    """Are two states (nested dicts, lists, tensors, numbers) equal?"""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _make_run() -> dict:
    """A run as the exercise describes it: model, Adam, a per-step OneCycleLR and the loader's shuffling generator."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=16)
    return {"model": model, "optimizer": optimizer, "scheduler": scheduler, "shuffle": torch.Generator().manual_seed(0)}


def _train_epoch(run: dict, data: TensorDataset) -> None:
    for xb, yb in DataLoader(data, batch_size=16, shuffle=True, generator=run["shuffle"]):
        run["optimizer"].zero_grad()
        nn.functional.mse_loss(run["model"](xb), yb).backward()
        run["optimizer"].step()
        run["scheduler"].step()


def _checkpoint_run(save, load, tmp: Path):
    """Four epochs in one go vs two, save, restore into a fresh run, two more.

    Returns both final weights, what ``load`` returned, and the name of the first
    object of the run that ``load`` did not restore to its saved state (or None).
    """
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(64, 2, generator=generator)
    data = TensorDataset(X, X @ torch.tensor([[2.0], [-3.0]]))

    run = _make_run()
    for _ in range(4):
        _train_epoch(run, data)
    uninterrupted = _weights(run["model"])

    run = _make_run()
    for _ in range(2):
        _train_epoch(run, data)
    saved = {name: _state(thing) for name, thing in run.items()}
    save(tmp / "checkpoint.pt", run, 2)
    run = _make_run()  # a fresh start, as after a crash
    resumed_epoch = load(tmp / "checkpoint.pt", run)
    not_restored = next((name for name, thing in run.items() if not _same(_state(thing), saved[name])), None)
    try:
        start = operator.index(resumed_epoch)
    except TypeError:
        start = 0  # not a whole number: reported by the check
    for _ in range(max(start, 0), 4):
        _train_epoch(run, data)
    return uninterrupted, _weights(run["model"]), resumed_epoch, not_restored


@self_check
def check_checkpoint(functions) -> Verdict:
    """Exercise 4: ``(save_checkpoint, load_checkpoint)`` that resume a run (model, optimizer, scheduler, generator) exactly."""
    if not (isinstance(functions, (tuple, list)) and len(functions) == 2):
        return wrong("answer with the pair (save_checkpoint, load_checkpoint).")
    save, load = functions
    with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory() as folder:
        uninterrupted, resumed, epoch, not_restored = _checkpoint_run(save, load, Path(folder))
        try:
            whole = operator.index(epoch)  # an int, or a 0-d integer tensor
        except TypeError:
            whole = None
        if isinstance(epoch, bool) or whole != 2:
            return wrong(f"load_checkpoint should return the number of epochs already done (2 here); got {epoch!r}.")
        try:
            torch.load(Path(folder) / "checkpoint.pt")  # weights_only=True, the default
        except Exception:
            return wrong("torch.load with its default weights_only=True cannot read your file: save states "
                         "(state_dicts, a generator's state, numbers), not the objects themselves.")
        if not_restored is not None:
            return wrong(f"after load_checkpoint, run[{not_restored!r}] is not in the state it was saved in: save and "
                         "restore every object of the run (a torch.Generator has get_state and set_state).")
        if not torch.equal(uninterrupted, resumed):
            return wrong("the resumed run ends with different weights than the uninterrupted one.")
        # the epoch must come from the file: a checkpoint saved after another epoch gives that one back
        save(Path(folder) / "other.pt", _make_run(), 3)
        other = load(Path(folder) / "other.pt", _make_run())
        try:
            other_whole = operator.index(other)
        except TypeError:
            other_whole = None
        if isinstance(other, bool) or other_whole != 3:
            return wrong(f"a checkpoint saved with epoch 3 gave back {other!r} from load_checkpoint: save the epoch in "
                         "the file and return the one you read.")
    return right("the resumed run ends with exactly the weights of the uninterrupted one.")


@self_check
def check_trained_classifier(classifier) -> Verdict:
    """Exercise 5: a LogSoftmax classifier trained on the lecture's blobs, at least 90 % right on new points."""
    if not isinstance(classifier, nn.Module):
        return wrong(f"pass your trained model (an nn.Module), not a {type(classifier).__name__}.")
    X, labels = blobs(300, seed=2024)  # points the model has never seen
    was_training = classifier.training
    classifier.eval()
    with torch.no_grad():
        out = classifier(X.to(_device_of(classifier))).cpu()  # trained on a GPU: judged there
    classifier.train(was_training)
    if out.shape != (len(X), 3):
        return wrong(f"the model should map N × 2 points to N × 3 log-probabilities; it returned {tuple(out.shape)}.")
    if not torch.allclose(out.exp().sum(dim=1), torch.ones(len(X)), atol=1e-4):
        return wrong("the outputs are not log-probabilities over the 3 classes: end the model in nn.LogSoftmax(dim=1).")
    accuracy = (out.argmax(dim=1) == labels).float().mean().item()
    if accuracy < 0.9:
        return wrong(f"{accuracy:.1%} of 900 new points are classified correctly; train until it is at least 90 %.")
    return right(f"{accuracy:.1%} of 900 new points classified correctly.")
