"""Lecture 06's self-checks: right answers (written two ways) are right, plausible wrong ones are not yet, a
placeholder waits, and no check touches the notebook's random state or the model's mode."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.init import kaiming_normal_ as draw  # an alias whose name does not say Kaiming (exercise 3)
from torch.utils.data import DataLoader, TensorDataset

from course_utils.exercises.training_api import (blobs, check_batch_counts, check_checkpoint, check_init_for_relu,
                                                 check_log_softmax_classifier, check_parameter_count,
                                                 check_trained_classifier, check_training_pass)


def not_implemented(*args, **kwargs):
    raise NotImplementedError


def classifier(last, hidden=16):
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 3), last)


# --- your turn: a LogSoftmax classifier --------------------------------------------------------------------------

class ClassifierModule(nn.Module):
    """Another right answer: a module of its own, LogSoftmax(dim=-1) as its last child."""

    def __init__(self):
        super().__init__()
        self.hidden, self.output, self.log_softmax = nn.Linear(2, 16), nn.Linear(16, 3), nn.LogSoftmax(dim=-1)

    def forward(self, x):
        return self.log_softmax(self.output(torch.relu(self.hidden(x))))


@pytest.mark.parametrize("answer", [classifier(nn.LogSoftmax(dim=-1)), ClassifierModule()], ids=["Sequential", "Module"])
def test_log_softmax_classifier_right(answer):
    assert check_log_softmax_classifier(answer).passed


def test_log_softmax_classifier_wrong():
    over_batch = check_log_softmax_classifier(classifier(nn.LogSoftmax(dim=0)))
    assert over_batch.status == "wrong" and "dim=0" in over_batch.message
    dim_1 = check_log_softmax_classifier(classifier(nn.LogSoftmax(dim=1)))  # right for a batch, fails for one point
    assert dim_1.status == "wrong" and "single point" in dim_1.message
    assert "NLLLoss expects log-probabilities" in check_log_softmax_classifier(classifier(nn.Softmax(dim=-1))).message
    assert check_log_softmax_classifier(classifier(nn.Identity())).status == "wrong"
    assert check_log_softmax_classifier(classifier(nn.LogSoftmax())).status == "wrong"  # dim not chosen
    linear = nn.Sequential(nn.Linear(2, 16), nn.Linear(16, 3), nn.LogSoftmax(dim=-1))  # the ReLU forgotten
    assert "ReLU" in check_log_softmax_classifier(linear).message
    relu_last = nn.Sequential(nn.Linear(2, 16), nn.Linear(16, 3), nn.ReLU(), nn.LogSoftmax(dim=-1))
    assert "between" in check_log_softmax_classifier(relu_last).message
    tanh = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3), nn.LogSoftmax(dim=-1))
    assert "ReLU" in check_log_softmax_classifier(tanh).message
    assert "16 units" in check_log_softmax_classifier(classifier(nn.LogSoftmax(dim=-1), hidden=32)).message
    deeper = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3),
                           nn.LogSoftmax(dim=-1))
    assert check_log_softmax_classifier(deeper).status == "wrong"
    assert check_log_softmax_classifier(...).status == "not attempted"


class LeakyClassifier(ClassifierModule):
    """A module of its own whose hidden activation only looks like a ReLU by name (leaky_relu, relu6)."""

    def __init__(self, activation):
        super().__init__()
        self.activation = activation

    def forward(self, x):
        return self.log_softmax(self.output(self.activation(self.hidden(x))))


def test_log_softmax_classifier_with_a_relu_after_the_output_is_not_right():
    """Is a ReLU after every Linear, the output layer's included, rejected (it clips the negative scores)?"""
    relu_everywhere = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3), nn.ReLU(), nn.LogSoftmax(dim=-1))
    verdict = check_log_softmax_classifier(relu_everywhere)
    assert verdict.status == "wrong" and "straight into nn.LogSoftmax" in verdict.message


@pytest.mark.parametrize("activation", [torch.nn.functional.leaky_relu, torch.nn.functional.relu6],
                         ids=["leaky_relu", "relu6"])
def test_log_softmax_classifier_needs_a_real_relu(activation):
    """Is a hidden activation whose name merely contains "relu" rejected, in a module of its own too?"""
    verdict = check_log_softmax_classifier(LeakyClassifier(activation))
    assert verdict.status == "wrong" and "ReLU" in verdict.message


def test_log_softmax_classifier_accepts_an_in_place_relu():
    """Is nn.ReLU(inplace=True) (the hidden output overwritten in place) still a right answer?"""
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(inplace=True), nn.Linear(16, 3), nn.LogSoftmax(dim=-1))
    assert check_log_softmax_classifier(model).passed


def test_log_softmax_classifier_leaves_mode_and_random_state_alone():
    model = classifier(nn.LogSoftmax(dim=-1)).train()
    state = torch.get_rng_state()
    check_log_softmax_classifier(model)
    assert model.training and torch.equal(torch.get_rng_state(), state)


# --- your turn: the training pass --------------------------------------------------------------------------------

def epoch_right(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count


def epoch_summing_then_dividing(model, loader, loss_fn, optimizer, device):
    """Another right answer: zero_grad after the step, the total divided by the dataset's size, a tensor returned."""
    model.train()
    total = torch.zeros(())
    for xb, yb in loader:
        loss = loss_fn(model(xb.to(device)), yb.to(device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total += loss.detach() * xb.shape[0]
    return total / len(loader.dataset)


def epoch_moving_with_keywords(model, loader, loss_fn, optimizer, device):
    """Another right answer: device as a keyword, the loss weighted by the batch's share."""
    model.train()
    mean = 0.0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device=device), targets.to(device=device, dtype=torch.float32)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        mean += loss.item() * len(inputs) / len(loader.dataset)
    return mean


def epoch_ignoring_the_device(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count


def epoch_moving_only_the_inputs(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb.to(device)), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count


def epoch_without_zero_grad(model, loader, loss_fn, optimizer, device):
    model.train()
    losses = []
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item() * len(xb))
    return sum(losses) / len(loader.dataset)


def epoch_mean_of_batch_means(model, loader, loss_fn, optimizer, device):
    model.train()
    losses = []
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def epoch_without_train_mode(model, loader, loss_fn, optimizer, device):
    for xb, yb in loader:
        optimizer.zero_grad()
        loss_fn(model(xb), yb).backward()
        optimizer.step()
    return 0.0


def epoch_without_step(model, loader, loss_fn, optimizer, device):
    model.train()
    total = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        total += loss.item() * len(xb)
    return total / len(loader.dataset)


def epoch_returning_the_graph(model, loader, loss_fn, optimizer, device):
    model.train()
    total = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total = total + loss * len(xb)
    return total / len(loader.dataset)


def epoch_returning_a_numpy_number(model, loader, loss_fn, optimizer, device):
    """Another right answer: the losses collected as numpy, so the mean is a numpy float32."""
    model.train()
    totals = []
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        totals.append(loss.detach().numpy() * len(xb))
    return np.sum(totals) / len(loader.dataset)


def test_training_pass_accepts_a_numpy_number():
    """Is a numpy float32 mean loss (not a Python float) accepted as the number it is?"""
    assert check_training_pass(epoch_returning_a_numpy_number).passed


@pytest.mark.parametrize("answer", [epoch_right, epoch_summing_then_dividing, epoch_moving_with_keywords])
def test_training_pass_right(answer):
    assert check_training_pass(answer).passed


def test_training_pass_wrong():
    assert "zero_grad" in check_training_pass(epoch_without_zero_grad).message
    assert "weight each batch" in check_training_pass(epoch_mean_of_batch_means).message
    assert "model.train()" in check_training_pass(epoch_without_train_mode).message
    assert "did not change" in check_training_pass(epoch_without_step).message
    assert "plain number" in check_training_pass(epoch_returning_the_graph).message
    assert "device" in check_training_pass(epoch_ignoring_the_device).message
    assert "device" in check_training_pass(epoch_moving_only_the_inputs).message
    assert check_training_pass(not_implemented).status == "not attempted"


# --- exercise 1: count the parameters ----------------------------------------------------------------------------

def test_parameter_count():
    mlp = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    assert check_parameter_count(sum(p.numel() for p in mlp.parameters())).passed
    assert check_parameter_count(784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10).passed
    weights_only = sum(m.weight.numel() for m in mlp if isinstance(m, nn.Linear))
    assert "bias" in check_parameter_count(weights_only).message
    assert check_parameter_count(weights_only + 128 + 64).status == "wrong"  # the output layer's biases forgotten
    assert check_parameter_count((784 + 1) * 128 + (128 + 1) * 64).status == "wrong"  # a layer forgotten
    assert check_parameter_count("109386").status == "wrong"
    assert check_parameter_count(...).status == "not attempted"


# --- exercise 2: count the batches -------------------------------------------------------------------------------

def test_batch_counts():
    loader = DataLoader(torch.arange(1000), batch_size=64)
    sizes = [len(batch) for batch in loader]
    dropped = len(DataLoader(torch.arange(1000), batch_size=64, drop_last=True))
    assert check_batch_counts((len(sizes), dropped, sizes[-1])).passed
    assert check_batch_counts([np.int64(16), 15.0, torch.tensor(40)]).passed
    assert check_batch_counts(np.array([16, 15, 40])).passed
    assert check_batch_counts((16, 16, 40)).status == "wrong"
    assert check_batch_counts((16, 15, 64)).status == "wrong"  # the last batch is not full
    assert check_batch_counts((15.625, 15, 40)).status == "wrong"  # 1000 / 64 is not a count of batches
    assert check_batch_counts((16, 15.625, 40)).status == "wrong"
    assert check_batch_counts(16).status == "wrong"
    assert check_batch_counts(...).status == "not attempted"


# --- exercise 3: an initialiser for apply ------------------------------------------------------------------------

def init_by_hand(module):
    if isinstance(module, nn.Linear):
        with torch.no_grad():
            module.weight.normal_(0.0, (2 / module.in_features) ** 0.5)
            if module.bias is not None:
                module.bias.zero_()


def init_by_copying(module):
    """Another right answer: a fresh normal matrix scaled by sqrt(2 / fan_in), fan_in read off the weight's shape."""
    if type(module) is nn.Linear:
        fan_out, fan_in = module.weight.shape
        with torch.no_grad():
            module.weight.copy_(torch.randn(fan_out, fan_in) * (2 / fan_in) ** 0.5)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def init_fan_out(module):
    if isinstance(module, nn.Linear):
        with torch.no_grad():
            module.weight.normal_(0.0, (2 / module.out_features) ** 0.5)
            if module.bias is not None:
                module.bias.zero_()


def init_uniform(module):
    if isinstance(module, nn.Linear):
        bound = (6 / module.in_features) ** 0.5  # the right variance, the wrong distribution
        with torch.no_grad():
            module.weight.uniform_(-bound, bound)
            if module.bias is not None:
                module.bias.zero_()


def init_without_the_factor_2(module):
    if isinstance(module, nn.Linear):
        with torch.no_grad():
            module.weight.normal_(0.0, (1 / module.in_features) ** 0.5)
            if module.bias is not None:
                module.bias.zero_()


def init_keeping_the_biases(module):
    if isinstance(module, nn.Linear):
        with torch.no_grad():
            module.weight.normal_(0.0, (2 / module.in_features) ** 0.5)


def init_everything(module):
    for parameter in module.parameters(recurse=False):
        with torch.no_grad():
            if parameter.dim() > 1:
                parameter.normal_(0.0, (2 / parameter.shape[1]) ** 0.5)
            else:
                parameter.zero_()


def kaiming_std(n_in):
    """A helper of the student's own, named after the scheme it computes."""
    return (2 / n_in) ** 0.5


def init_with_a_helper_named_kaiming(module):
    """Another right answer: the standard deviation from a helper whose name says Kaiming."""
    if isinstance(module, nn.Linear):
        with torch.no_grad():
            module.weight.normal_(0, kaiming_std(module.in_features))
            if module.bias is not None:
                module.bias.zero_()


def init_with_an_alias_of_kaiming_normal(module):
    if isinstance(module, nn.Linear):
        draw(module.weight, nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def draw_for_relu(weight):
    nn.init.kaiming_normal_(weight, nonlinearity="relu")


def init_through_a_helper_that_calls_kaiming(module):
    if isinstance(module, nn.Linear):
        draw_for_relu(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def test_init_for_relu_judges_what_a_name_is_not_how_it_is_spelled():
    """Is a helper of one's own called kaiming_std accepted, and nn.init's Kaiming reached through an alias or a
    helper rejected?"""
    assert check_init_for_relu(init_with_a_helper_named_kaiming).passed
    assert "draw the weights yourself" in check_init_for_relu(init_with_an_alias_of_kaiming_normal).message
    assert "draw the weights yourself" in check_init_for_relu(init_through_a_helper_that_calls_kaiming).message


def init_with_kaiming_normal(module):
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def init_forgetting_layers_without_bias(module):
    if isinstance(module, nn.Linear):
        with torch.no_grad():
            module.weight.normal_(0.0, (2 / module.in_features) ** 0.5)
            module.bias.zero_()  # fails for Linear(..., bias=False)


@pytest.mark.parametrize("answer", [init_by_hand, init_by_copying])
def test_init_for_relu_right(answer):
    assert check_init_for_relu(answer).passed


def test_init_for_relu_wrong():
    assert "fan_out" in check_init_for_relu(init_fan_out).message
    assert "uniform" in check_init_for_relu(init_uniform).message
    assert "sqrt(2 / fan_in)" in check_init_for_relu(init_without_the_factor_2).message
    assert "biases" in check_init_for_relu(init_keeping_the_biases).message
    assert "not nn.Linear" in check_init_for_relu(init_everything).message  # zeroes LayerNorm's weight
    assert "kaiming_normal_" in check_init_for_relu(init_with_kaiming_normal).message
    assert "kaiming_uniform_" in check_init_for_relu(
        lambda m: nn.init.kaiming_uniform_(m.weight) if isinstance(m, nn.Linear) else None).message
    assert "AttributeError" in check_init_for_relu(init_forgetting_layers_without_bias).message
    assert check_init_for_relu(not_implemented).status == "not attempted"


# --- exercise 4: checkpoints -------------------------------------------------------------------------------------

def state_of(thing):
    return thing.get_state() if isinstance(thing, torch.Generator) else thing.state_dict()


def restore(thing, state):
    if isinstance(thing, torch.Generator):
        thing.set_state(state)
    else:
        thing.load_state_dict(state)


def save_right(path, run, epoch):
    torch.save({"epoch": epoch, "states": {name: state_of(thing) for name, thing in run.items()}}, path)


def load_right(path, run):
    checkpoint = torch.load(path)
    for name, thing in run.items():
        restore(thing, checkpoint["states"][name])
    return checkpoint["epoch"]


def save_by_name(path, run, epoch):
    """Another right answer: one entry per object, written out, and the epoch as a tensor."""
    torch.save({"model": run["model"].state_dict(), "optimizer": run["optimizer"].state_dict(),
                "scheduler": run["scheduler"].state_dict(), "shuffle": run["shuffle"].get_state(),
                "epoch": torch.tensor(epoch)}, path)


def load_by_name(path, run):
    checkpoint = torch.load(path, weights_only=True)
    run["model"].load_state_dict(checkpoint["model"])
    run["optimizer"].load_state_dict(checkpoint["optimizer"])
    run["scheduler"].load_state_dict(checkpoint["scheduler"])
    run["shuffle"].set_state(checkpoint["shuffle"])
    return checkpoint["epoch"]  # a 0-d integer tensor


def without(*left_out):
    def save(path, run, epoch):
        save_right(path, {name: thing for name, thing in run.items() if name not in left_out}, epoch)

    def load(path, run):
        return load_right(path, {name: thing for name, thing in run.items() if name not in left_out})

    return save, load


def save_whole_objects(path, run, epoch):
    torch.save({"run": run, "epoch": epoch}, path)


def load_whole_objects(path, run):
    checkpoint = torch.load(path, weights_only=False)
    for name, thing in run.items():
        restore(thing, state_of(checkpoint["run"][name]))
    return checkpoint["epoch"]


def load_returning_the_next_epoch(path, run):
    return load_right(path, run) + 1


@pytest.mark.parametrize("answer", [(save_right, load_right), (save_by_name, load_by_name)], ids=["loop", "by name"])
def test_checkpoint_right(answer):
    assert check_checkpoint(answer).passed


def load_returning_two(path, run):
    """Restores everything but returns 2, the epoch the check happens to save at, instead of the file's."""
    load_right(path, run)
    return 2


def test_checkpoint_epoch_comes_from_the_file():
    """Is a load_checkpoint that returns a constant instead of the saved epoch rejected?"""
    verdict = check_checkpoint((save_right, load_returning_two))
    assert verdict.status == "wrong" and "epoch 3" in verdict.message


def test_checkpoint_wrong():
    assert "'shuffle'" in check_checkpoint(without("shuffle")).message  # lecture 6's section 8 without the generator
    assert "'scheduler'" in check_checkpoint(without("scheduler")).message
    assert "'optimizer'" in check_checkpoint(without("optimizer", "scheduler", "shuffle")).message
    assert "weights_only" in check_checkpoint((save_whole_objects, load_whole_objects)).message
    assert "epochs already done" in check_checkpoint((save_right, load_returning_the_next_epoch)).message
    assert check_checkpoint((not_implemented, not_implemented)).status == "not attempted"
    assert check_checkpoint(...).status == "not attempted"


def test_a_checkpoint_without_the_scheduler_really_changes_the_run():
    """The check's scheduler matters: restored without it, the weights end elsewhere (not only its state differs)."""
    import tempfile
    from pathlib import Path

    from course_utils.exercises.training_api import _checkpoint_run
    with tempfile.TemporaryDirectory() as folder:
        uninterrupted, resumed, _, _ = _checkpoint_run(*without("scheduler"), Path(folder))
    assert not torch.equal(uninterrupted, resumed)


# --- exercise 5: a trained classifier ----------------------------------------------------------------------------

def trained(last, steps=200):
    X, labels = blobs(200, seed=0)
    torch.manual_seed(0)
    model = classifier(last)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.NLLLoss()(model(X), labels).backward()
        optimizer.step()
    return model


def trained_with_a_loader():
    X, labels = blobs(200, seed=1)
    torch.manual_seed(1)
    model = classifier(nn.LogSoftmax(dim=1), hidden=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(X, labels), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    for _ in range(5):
        epoch_right(model, loader, nn.NLLLoss(), optimizer, torch.device("cpu"))
    return model


def test_trained_classifier():
    assert check_trained_classifier(trained(nn.LogSoftmax(dim=1))).passed
    assert check_trained_classifier(trained_with_a_loader()).passed
    assert check_trained_classifier(classifier(nn.LogSoftmax(dim=1))).status == "wrong"  # untrained
    assert check_trained_classifier(trained(nn.LogSoftmax(dim=1), steps=2)).status == "wrong"  # barely trained
    with_softmax = trained(nn.Identity())  # trained on logits with NLLLoss: not log-probabilities
    assert "log-probabilities" in check_trained_classifier(with_softmax).message
    assert check_trained_classifier(...).status == "not attempted"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_classifier_checks_judge_a_model_on_the_gpu_where_it_is():
    """Is a classifier trained on the GPU (device = get_device()) judged there, and left there?"""
    model = trained(nn.LogSoftmax(dim=-1)).cuda()
    assert check_trained_classifier(model).passed
    assert check_log_softmax_classifier(model).passed
    assert all(p.device.type == "cuda" for p in model.parameters())


# --- no check changes the notebook's random numbers --------------------------------------------------------------

@pytest.mark.parametrize("check,answer", [
    (check_log_softmax_classifier, classifier(nn.LogSoftmax(dim=-1))), (check_training_pass, epoch_right),
    (check_parameter_count, 109386), (check_batch_counts, (16, 15, 40)), (check_init_for_relu, init_by_hand),
    (check_checkpoint, (save_right, load_right)), (check_trained_classifier, classifier(nn.LogSoftmax(dim=1))),
], ids=lambda value: getattr(value, "__name__", None))
def test_checks_leave_the_global_random_state_alone(check, answer):
    state = torch.get_rng_state()
    check(answer)
    assert torch.equal(torch.get_rng_state(), state)
