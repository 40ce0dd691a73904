"""Lecture 06's self-checks: each says right for a right answer, not yet for a wrong one, and waits for a placeholder."""
import torch
from torch import nn

from course_utils.exercises.training_api import (blobs, check_batch_counts, check_checkpoint, check_init_for_relu,
                                                 check_log_softmax_classifier, check_parameter_count,
                                                 check_trained_classifier, check_training_pass)


def not_implemented(*args, **kwargs):
    raise NotImplementedError


def classifier(last):
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3), last)


def test_log_softmax_classifier():
    assert check_log_softmax_classifier(classifier(nn.LogSoftmax(dim=1))).passed
    over_batch = check_log_softmax_classifier(classifier(nn.LogSoftmax(dim=0)))
    assert over_batch.status == "wrong" and "dim=0" in over_batch.message
    assert "NLLLoss expects log-probabilities" in check_log_softmax_classifier(classifier(nn.Softmax(dim=1))).message
    assert check_log_softmax_classifier(classifier(nn.Identity())).status == "wrong"
    assert check_log_softmax_classifier(classifier(nn.LogSoftmax())).status == "wrong"  # dim not chosen
    assert check_log_softmax_classifier(...).status == "not attempted"


def test_log_softmax_classifier_leaves_mode_and_random_state_alone():
    model = classifier(nn.LogSoftmax(dim=1)).train()
    state = torch.get_rng_state()
    check_log_softmax_classifier(model)
    assert model.training and torch.equal(torch.get_rng_state(), state)


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


def test_training_pass():
    assert check_training_pass(epoch_right).passed
    assert "zero_grad" in check_training_pass(epoch_without_zero_grad).message
    assert "weight each batch" in check_training_pass(epoch_mean_of_batch_means).message
    assert "model.train()" in check_training_pass(epoch_without_train_mode).message
    assert check_training_pass(not_implemented).status == "not attempted"


def test_training_pass_leaves_the_random_state_alone():
    state = torch.get_rng_state()
    check_training_pass(epoch_right)
    assert torch.equal(torch.get_rng_state(), state)


def test_parameter_count():
    mlp = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    assert check_parameter_count(sum(p.numel() for p in mlp.parameters())).passed
    weights_only = sum(m.weight.numel() for m in mlp if isinstance(m, nn.Linear))
    assert "bias" in check_parameter_count(weights_only).message
    assert check_parameter_count(...).status == "not attempted"


def test_batch_counts():
    loader = torch.utils.data.DataLoader(torch.arange(1000), batch_size=64)
    sizes = [len(batch) for batch in loader]
    dropped = len(torch.utils.data.DataLoader(torch.arange(1000), batch_size=64, drop_last=True))
    assert check_batch_counts((len(sizes), dropped, sizes[-1])).passed
    assert check_batch_counts((16, 16, 40)).status == "wrong"
    assert check_batch_counts(16).status == "wrong"
    assert check_batch_counts(...).status == "not attempted"


def kaiming(module):
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)


def xavier(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_normal_(module.weight)
        nn.init.zeros_(module.bias)


def kaiming_everything(module):
    for parameter in module.parameters(recurse=False):
        if parameter.dim() > 1:
            nn.init.kaiming_normal_(parameter, nonlinearity="relu")
        else:
            nn.init.zeros_(parameter)


def test_init_for_relu():
    assert check_init_for_relu(kaiming).passed
    assert "sqrt(2 / fan_in)" in check_init_for_relu(xavier).message
    assert "not nn.Linear" in check_init_for_relu(kaiming_everything).message  # zeroes LayerNorm's weight
    assert check_init_for_relu(not_implemented).status == "not attempted"


def save_right(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, path)


def load_right(path, model, optimizer):
    checkpoint = torch.load(path)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


def save_model_only(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "epoch": epoch}, path)


def load_model_only(path, model, optimizer):
    checkpoint = torch.load(path)
    model.load_state_dict(checkpoint["model"])
    return checkpoint["epoch"]


def save_whole_objects(path, model, optimizer, epoch):
    torch.save({"model": model, "optimizer": optimizer, "epoch": epoch}, path)


def load_whole_objects(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=False)
    model.load_state_dict(checkpoint["model"].state_dict())
    optimizer.load_state_dict(checkpoint["optimizer"].state_dict())
    return checkpoint["epoch"]


def test_checkpoint():
    assert check_checkpoint((save_right, load_right)).passed
    assert "optimizer" in check_checkpoint((save_model_only, load_model_only)).message
    assert "weights_only" in check_checkpoint((save_whole_objects, load_whole_objects)).message
    assert check_checkpoint((not_implemented, not_implemented)).status == "not attempted"
    assert check_checkpoint(...).status == "not attempted"


def test_trained_classifier():
    X, labels = blobs(200, seed=0)
    torch.manual_seed(0)
    model = classifier(nn.LogSoftmax(dim=1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        optimizer.zero_grad()
        nn.NLLLoss()(model(X), labels).backward()
        optimizer.step()
    assert check_trained_classifier(model).passed
    assert check_trained_classifier(classifier(nn.LogSoftmax(dim=1))).status == "wrong"  # untrained
    assert check_trained_classifier(...).status == "not attempted"
