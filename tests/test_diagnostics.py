"""layer_table reads an architecture layer by layer; lr_range_test sweeps the learning rate and leaves no trace."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils.diagnostics import layer_table, lr_range_test


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 14 * 14, 10))


def test_layer_table_shapes_and_parameter_counts():
    model = small_cnn().train()
    rows = layer_table(model, (2, 1, 28, 28))
    assert [row[0] for row in rows] == ["0", "1", "2", "3", "4", "5"]
    assert [row[1] for row in rows] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert [row[2] for row in rows] == [(2, 4, 28, 28), (2, 4, 28, 28), (2, 4, 28, 28), (2, 4, 14, 14), (2, 784),
                                        (2, 10)]
    assert [row[3] for row in rows] == [4 * 9 + 4, 8, 0, 0, 0, 784 * 10 + 10]
    assert model.training and not model[0]._forward_hooks  # mode restored, hooks removed
    assert torch.equal(model[1].running_mean, torch.zeros(4))  # eval mode: running statistics untouched


def loader():
    generator = torch.Generator().manual_seed(0)
    X, y = torch.randn(64, 1, 28, 28, generator=generator), torch.randint(10, (64,), generator=generator)
    return DataLoader(TensorDataset(X, y), batch_size=16)


def test_lr_range_test_sweeps_geometrically_and_restores_everything():
    model = small_cnn().eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    history = lr_range_test(model, loader(), optimizer, lr_min=1e-4, lr_max=1e-2, num_steps=9, stop_factor=1e9)
    assert len(history["lr"]) == len(history["loss"]) == 9  # 4 batches per pass: the loader is restarted
    assert torch.allclose(torch.tensor(history["lr"]), torch.logspace(-4, -2, 9, dtype=torch.float64).float())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert not model.training and optimizer.param_groups[0]["lr"] == 0.01 and not optimizer.state


def test_lr_range_test_stops_when_the_loss_explodes():
    model = small_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    history = lr_range_test(model, loader(), optimizer, lr_min=1e-3, lr_max=1e4, num_steps=50)
    assert len(history["lr"]) < 50
    last = history["loss"][-1]
    assert last != last or last > 4 * min(history["loss"])  # NaN or four times the best
