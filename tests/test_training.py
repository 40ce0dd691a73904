"""fit, evaluate, predict, accuracy, confusion_matrix, most_confused: what they compute."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils import accuracy, confusion_matrix, evaluate, fit, most_confused, predict


def blobs(n=200, seed=0):
    """Two well separated Gaussian blobs in 2-D: any linear classifier can learn them."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    points = torch.randn(n, 2, generator=g) + (labels[:, None] * 2 - 1) * 3.0
    return points, labels


def loaders(batch_size=32):
    X, y = blobs()
    train = DataLoader(TensorDataset(X[:150], y[:150]), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(0))
    val = DataLoader(TensorDataset(X[150:], y[150:]), batch_size=batch_size)
    return train, val


# --------------------------------------------------------------------- accuracy


def test_accuracy_from_logits_and_from_labels():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 1, 1])
    assert accuracy(logits, labels) == 0.75
    assert accuracy(torch.tensor([0, 1, 0, 1]), labels) == 0.75


def test_accuracy_rejects_mismatched_or_empty_inputs():
    with pytest.raises(ValueError, match="3 predictions for 2 labels"):
        accuracy(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        accuracy(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))


# --------------------------------------------------------------------- evaluate


def test_evaluate_averages_over_examples_not_batches():
    """With batches of 3 and 1, is the mean weighted by batch size?"""
    X = torch.tensor([[0.0, 5.0], [0.0, 5.0], [0.0, 5.0], [5.0, 0.0]])
    y = torch.tensor([1, 1, 1, 1])
    model = nn.Identity()
    loss, acc = evaluate(model, DataLoader(TensorDataset(X, y), batch_size=3))
    assert acc == 0.75
    assert loss == pytest.approx(F.cross_entropy(X, y).item(), rel=1e-6)


def test_evaluate_uses_eval_mode_and_restores_the_mode():
    model = nn.Sequential(nn.Dropout(0.9), nn.Linear(2, 2))
    model.train()
    X, y = blobs(64)
    first = evaluate(model, DataLoader(TensorDataset(X, y), batch_size=16))
    assert first == evaluate(model, DataLoader(TensorDataset(X, y), batch_size=16))  # no dropout noise
    assert model.training


# ---------------------------------------------------------------------- predict


def test_predict_matches_one_big_forward_pass():
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    X = torch.randn(10, 2)
    torch.testing.assert_close(predict(model, X, batch_size=3), model(X).detach())


def test_predict_accepts_numpy():
    model = nn.Linear(2, 3)
    assert predict(model, np.zeros((4, 2), dtype=np.float32)).shape == (4, 3)


# -------------------------------------------------------------------------- fit


def test_fit_learns_separable_data_and_reports_every_epoch():
    """Does fit train the model in place and return four per-epoch curves?"""
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    train, val = loaders()
    history = fit(model, train, val, torch.optim.Adam(model.parameters(), lr=0.05), num_epochs=5, progress=False)
    assert set(history) == {"train_loss", "val_loss", "train_acc", "val_acc"}
    assert all(len(values) == 5 for values in history.values())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_acc"][-1] == 1.0
    assert not model.training  # left in eval mode, ready to predict


def test_fit_history_matches_evaluate():
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    train, val = loaders()
    history = fit(model, train, val, torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=2, progress=False)
    assert (history["val_loss"][-1], history["val_acc"][-1]) == evaluate(model, val)


def test_fit_is_repeatable_under_a_seed():
    def run():
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        train, val = loaders()
        return fit(model, train, val, torch.optim.Adam(model.parameters()), num_epochs=2, progress=False)

    assert run() == run()


def test_fit_steps_the_scheduler_once_per_batch():
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    train, val = loaders(batch_size=50)  # 150 examples: 3 batches per epoch
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** step)
    fit(model, train, val, optimizer, num_epochs=2, scheduler=scheduler, progress=False)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5 ** 6)


def test_fit_with_zero_epochs_changes_nothing():
    model = nn.Linear(2, 2)
    before = [p.clone() for p in model.parameters()]
    train, val = loaders()
    history = fit(model, train, val, torch.optim.SGD(model.parameters(), lr=1.0), num_epochs=0, progress=False)
    assert history == {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_fit_shows_a_finished_text_progress_bar_on_stdout(capsys):
    """Is the bar text on stdout (so a saved notebook keeps its last frame), ending at 100 % with the numbers?"""
    model = nn.Linear(2, 2)
    train, val = loaders()
    fit(model, train, val, torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=2, desc="blobs")
    captured = capsys.readouterr()
    last_frame = captured.out.rstrip("\n").split("\r")[-1]
    assert captured.err == ""
    assert "blobs" in last_frame and "100%" in last_frame and "2/2" in last_frame and "val_acc" in last_frame


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_moves_the_model_to_the_device():
    model = nn.Linear(2, 2)
    train, val = loaders()
    fit(model, train, val, torch.optim.SGD(model.parameters(), lr=0.1), 1, device="cuda", progress=False)
    assert next(model.parameters()).is_cuda


# ------------------------------------------------------------ confusion_matrix


def test_confusion_matrix_rows_are_true_columns_are_predicted():
    labels = [0, 0, 1, 2, 2, 2]
    predictions = [0, 1, 1, 2, 0, 2]
    expected = torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert torch.equal(confusion_matrix(labels, predictions, num_classes=3), expected)


def test_confusion_matrix_counts_add_up_and_diagonal_is_accuracy():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (500,), generator=g)
    predictions = torch.where(torch.rand(500, generator=g) < 0.8, labels, torch.randint(0, 10, (500,), generator=g))
    matrix = confusion_matrix(labels, predictions, num_classes=10)
    assert matrix.shape == (10, 10) and matrix.dtype == torch.int64
    assert matrix.sum() == 500
    assert matrix.trace().item() / 500 == accuracy(predictions, labels)
    assert torch.equal(matrix.sum(dim=1), torch.bincount(labels, minlength=10))


def test_confusion_matrix_rejects_out_of_range_classes():
    with pytest.raises(ValueError, match="0..1"):
        confusion_matrix([0, 2], [0, 1], num_classes=2)


# ---------------------------------------------------------------- most_confused


def test_most_confused_lists_off_diagonal_cells_largest_first():
    matrix = torch.tensor([[9, 3, 0], [1, 8, 3], [0, 5, 7]])
    assert most_confused(matrix, ["A", "B", "C"], k=3) == [("C", "B", 5), ("A", "B", 3), ("B", "C", 3)]


def test_most_confused_skips_zero_counts():
    matrix = torch.tensor([[5, 1], [0, 5]])
    assert most_confused(matrix, ["A", "B"], k=10) == [("A", "B", 1)]


def test_most_confused_checks_the_class_names():
    with pytest.raises(ValueError, match="3 x 3"):
        most_confused(torch.zeros(2, 2), ["A", "B", "C"])


def test_fit_augments_training_batches_only():
    """Is augment applied to every training batch, and never to the validation data?"""
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    train, val = loaders(batch_size=50)
    seen = []

    def augment(inputs):
        seen.append(inputs.shape[0])
        return inputs + 0.0

    history = fit(model, train, val, torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=2,
                  augment=augment, progress=False)
    assert seen == [50, 50, 50] * 2
    assert (history["val_loss"][-1], history["val_acc"][-1]) == evaluate(model, val)


def test_fit_without_validation_keeps_only_training_curves():
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    train, _ = loaders()
    history = fit(model, train, None, torch.optim.Adam(model.parameters(), lr=0.05), num_epochs=3, progress=False)
    assert len(history["train_loss"]) == 3 and history["val_loss"] == history["val_acc"] == []
    assert not model.training


def test_fit_can_validate_with_another_loss():
    """With label smoothing in training, can validation report the plain cross-entropy?"""
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    train, val = loaders()

    def smoothed(logits, labels):
        return F.cross_entropy(logits, labels, label_smoothing=0.2)

    history = fit(model, train, val, torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=1,
                  loss_fn=smoothed, val_loss_fn=F.cross_entropy, progress=False)
    assert history["val_loss"][-1] == pytest.approx(evaluate(model, val)[0])
    assert history["val_loss"][-1] != pytest.approx(evaluate(model, val, loss_fn=smoothed)[0])
