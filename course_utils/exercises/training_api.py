"""Self-checks for lecture 06 (the PyTorch training API).

Each check takes the student's answer (a number, a model or a function),
tries it on data of its own and says right or not yet, and why, without
printing the expected answer. Checks that build models or draw data do so
under ``torch.random.fork_rng``, so running a check never changes the
notebook's random numbers.
"""
from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..selfcheck import Verdict, right, self_check, wrong

#: The centres of the lecture's three Gaussian blobs (section 4).
BLOB_CENTRES = torch.tensor([[0.0, 2.0], [-2.0, -1.0], [2.0, -1.0]])


def blobs(per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points around :data:`BLOB_CENTRES` (unit variance) and their labels 0, 1, 2."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(3).repeat_interleave(per_class)
    return BLOB_CENTRES[labels] + torch.randn(3 * per_class, 2, generator=generator), labels


@self_check
def check_log_softmax_classifier(classifier) -> Verdict:
    """Your turn (section 4): a 2 -> 3 classifier ending in ``nn.LogSoftmax`` over the class dimension."""
    if not isinstance(classifier, nn.Module):
        return wrong(f"build an nn.Module (e.g. nn.Sequential), not a {type(classifier).__name__}.")
    last = list(classifier.modules())[-1]
    if isinstance(last, nn.Softmax):
        return wrong("the model ends in nn.Softmax: NLLLoss expects log-probabilities, so end in nn.LogSoftmax.")
    if not isinstance(last, nn.LogSoftmax):
        return wrong("end the model in nn.LogSoftmax(dim=...), so that it returns log-probabilities for NLLLoss.")
    if last.dim is None:
        return wrong("choose dim explicitly: nn.LogSoftmax(dim=...) over the dimension that holds the classes.")
    with torch.random.fork_rng(devices=[]):
        X, labels = blobs(4, seed=123)
        was_training = classifier.training
        classifier.eval()
        with torch.no_grad():
            out = classifier(X)
        classifier.train(was_training)
    if out.shape != (len(X), 3):
        return wrong(f"for a batch of {len(X)} points with 2 features the output should be {len(X)} × 3 "
                     f"(one score per class); yours is {tuple(out.shape)}.")
    rows, columns = out.exp().sum(dim=1), out.exp().sum(dim=0)
    if torch.allclose(columns, torch.ones(3), atol=1e-4) and not torch.allclose(rows, torch.ones(len(X)), atol=1e-4):
        return wrong("each column of exp(output) sums to 1: you normalised over the batch (dim=0); "
                     "normalise over the classes, the last dimension.")
    if not torch.allclose(rows, torch.ones(len(X)), atol=1e-4):
        return wrong("exp(output) should sum to 1 over the classes for every example.")
    if last.dim not in (1, -1):
        return wrong(f"dim={last.dim} happens to work for this batch, but the classes are dimension 1 (or -1).")
    return right("log-probabilities over the classes: NLLLoss on them is the cross-entropy.")


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


@self_check
def check_training_pass(train_one_epoch) -> Verdict:
    """Your turn (section 6): ``train_one_epoch(model, loader, loss_fn, optimizer, device)`` -> mean loss per example."""
    with torch.random.fork_rng(devices=[]):
        model, loader = _training_setup()
        reference, ref_loader = _training_setup()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
        ref_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.5)
        returned = train_one_epoch(model, loader, nn.MSELoss(), optimizer, torch.device("cpu"))
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
        if not isinstance(returned, (int, float)):
            return wrong(f"return the mean loss per example as a number; got {type(returned).__name__}.")
        if abs(returned - expected) > 1e-6:
            return wrong("the weights are right, but the returned number is not the mean loss per example: the last "
                         "batch is smaller, so weight each batch's loss by its size.")
    return right("train mode, zero_grad, forward, loss, backward, step for every batch; mean loss per example.")


@self_check
def check_parameter_count(count) -> Verdict:
    """Exercise 1: the number of parameters of ``make_mlp([784, 128, 64, 10])``."""
    sizes = [784, 128, 64, 10]
    expected = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    if isinstance(count, torch.Tensor):
        count = count.item()
    if count == expected - sum(sizes[1:]):
        return wrong("you counted the weights; each Linear layer also has one bias per output.")
    if count != expected:
        return wrong(f"{count} is not the number of learnable numbers in that MLP.")
    return right("every weight and every bias counted.")


@self_check
def check_batch_counts(answer) -> Verdict:
    """Exercise 2: ``(batches, batches_with_drop_last, size_of_last_batch)`` for 1000 examples in batches of 64."""
    if not (isinstance(answer, (tuple, list)) and len(answer) == 3):
        return wrong("answer with three numbers: (batches, batches with drop_last=True, size of the last batch).")
    full, dropped, last = (int(value) for value in answer)
    n, b = 1000, 64
    if full != -(-n // b):
        return wrong(f"{full} is not the number of batches without drop_last.")
    if dropped != n // b:
        return wrong(f"{dropped} is not the number of batches with drop_last=True.")
    if last != n - (n // b) * b:
        return wrong(f"{last} is not the size of the last batch (without drop_last).")
    return right("ceil(N/B) batches, floor(N/B) with drop_last, and the remainder in the last one.")


@self_check
def check_init_for_relu(init_for_relu) -> Verdict:
    """Exercise 3: ``init_for_relu(module)`` for ``model.apply``: Kaiming normal weights (ReLU), zero biases."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        width, depth = 256, 20
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), nn.ReLU()]
        net = nn.Sequential(*layers, nn.LayerNorm(width))
        layer_norm_before = copy.deepcopy(net[-1].state_dict())
        returned = net.apply(init_for_relu)
        if returned is not net:
            return wrong("use it as model.apply(init_for_relu); apply returns the model itself.")
        if any(not torch.equal(value, net[-1].state_dict()[key]) for key, value in layer_norm_before.items()):
            return wrong("your function changed a module that is not nn.Linear; check the module's type first.")
        linears = [m for m in net if isinstance(m, nn.Linear)]
        if any(m.bias.abs().max() > 0 for m in linears):
            return wrong("the biases should be zero.")
        stds = torch.tensor([m.weight.std().item() for m in linears])
        target = (2 / width) ** 0.5
        if not ((stds / target - 1).abs() < 0.05).all():
            return wrong(f"the weights' standard deviation is {stds.mean():.4f}, not sqrt(2 / fan_in) for "
                         f"fan_in = {width}: use nn.init.kaiming_normal_ with nonlinearity='relu'.")
        if abs(linears[0].weight.mean().item()) > 0.01 * target:
            return wrong("the weights should have mean 0.")
        with torch.no_grad():
            x = torch.randn(512, width)
            for module in list(net)[:-1]:
                x = module(x)
        if not 0.3 < x.std().item() < 3:
            return wrong(f"after 20 ReLU layers the activations have standard deviation {x.std():.3g}; "
                         "they should stay of order 1.")
    return right("Kaiming-normal weights and zero biases: the signal keeps its size through 20 ReLU layers.")


def _checkpoint_run(save, load, tmp: Path) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Four epochs in one go vs two, save, restore into fresh objects, two more: both final weights and the epoch."""
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(64, 2, generator=generator)
    y = X @ torch.tensor([[2.0], [-3.0]])
    data = TensorDataset(X, y)

    def make():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
        return model, torch.optim.Adam(model.parameters(), lr=0.05)

    def epoch(model, optimizer):
        for xb, yb in DataLoader(data, batch_size=16):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(xb), yb).backward()
            optimizer.step()

    model, optimizer = make()
    for _ in range(4):
        epoch(model, optimizer)
    uninterrupted = _weights(model)

    model, optimizer = make()
    for _ in range(2):
        epoch(model, optimizer)
    save(tmp / "checkpoint.pt", model, optimizer, 2)
    model, optimizer = make()
    resumed_epoch = load(tmp / "checkpoint.pt", model, optimizer)
    for _ in range(int(resumed_epoch), 4):
        epoch(model, optimizer)
    return uninterrupted, _weights(model), resumed_epoch


@self_check
def check_checkpoint(functions) -> Verdict:
    """Exercise 4: ``(save_checkpoint, load_checkpoint)`` that resume training exactly."""
    if not (isinstance(functions, (tuple, list)) and len(functions) == 2):
        return wrong("answer with the pair (save_checkpoint, load_checkpoint).")
    save, load = functions
    with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory() as folder:
        uninterrupted, resumed, epoch = _checkpoint_run(save, load, Path(folder))
        if not isinstance(epoch, int) or epoch != 2:
            return wrong(f"load_checkpoint should return the number of epochs already done (2 here); got {epoch!r}.")
        try:
            torch.load(Path(folder) / "checkpoint.pt")  # weights_only=True, the default
        except Exception:
            return wrong("torch.load with its default weights_only=True cannot read your file: save state_dicts and "
                         "numbers, not the model or optimizer objects.")
        if not torch.equal(uninterrupted, resumed):
            return wrong("the resumed run ends with different weights than the uninterrupted one: does the checkpoint "
                         "hold the optimizer's state_dict too, and do you load both?")
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
        out = classifier(X)
    classifier.train(was_training)
    if out.shape != (len(X), 3):
        return wrong(f"the model should map N × 2 points to N × 3 log-probabilities; it returned {tuple(out.shape)}.")
    if not torch.allclose(out.exp().sum(dim=1), torch.ones(len(X)), atol=1e-4):
        return wrong("the outputs are not log-probabilities over the 3 classes: end the model in nn.LogSoftmax(dim=1).")
    accuracy = (out.argmax(dim=1) == labels).float().mean().item()
    if accuracy < 0.9:
        return wrong(f"{accuracy:.1%} of 900 new points are classified correctly; train until it is at least 90 %.")
    return right(f"{accuracy:.1%} of 900 new points classified correctly.")
