"""Lecture 3's self-checks: right for a right answer, not yet (with a reason) for a wrong one,
not attempted for the placeholder."""
import math

import torch
from torch import nn

from course_utils.exercises import backprop as checks
from selfcheck_contract import contract_tests


class TanhRight:
    def forward(self, T):
        self.A = torch.tanh(T)
        return self.A

    def backward(self, grad_output):
        return grad_output * (1 - self.A**2)


class TanhWrong(TanhRight):
    def backward(self, grad_output):
        return grad_output * (1 - self.A)


class CrossEntropyRight:
    def forward(self, Z, labels):
        self.labels = labels
        shifted = Z - Z.max(dim=1, keepdim=True).values
        log_p = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
        self.p = log_p.exp()
        return -log_p[torch.arange(len(Z)), labels].mean()

    def backward(self):
        one_hot = torch.zeros_like(self.p)
        one_hot[torch.arange(len(self.p)), self.labels] = 1
        return (self.p - one_hot) / len(self.p)


class CrossEntropyUnstable(CrossEntropyRight):
    def forward(self, Z, labels):
        self.labels = labels
        self.p = Z.exp() / Z.exp().sum(dim=1, keepdim=True)
        return -torch.log(self.p[torch.arange(len(Z)), labels]).mean()


def _bptt_right(xs, w):
    hs = [0.0]
    for x in xs.tolist():
        hs.append(math.tanh(w * hs[-1] + x))
    grads, g = [0.0] * len(xs), 1.0
    for t in range(len(xs), 0, -1):
        local = g * (1 - hs[t] ** 2)
        grads[t - 1] = local
        g = local * w
    return torch.tensor(grads, dtype=torch.float64)


def _kaiming(net):
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)


def _xavier(net):
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.xavier_normal_(m.weight)
            nn.init.zeros_(m.bias)


def _quadrant_model():
    """A right answer built by hand: |x1 + x2| - |x1 - x2| = 2 min(|x1|, |x2|) sign(x1 x2), as ReLUs."""
    model = nn.Sequential(nn.Linear(2, 4, bias=False), nn.ReLU(), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]))
        model[2].weight.copy_(torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, -1.0, -1.0]]))
    return model


RIGHT_AND_WRONG = [
    (checks.check_linear_backward, lambda X, W, b, G: (G @ W.T, X.T @ G, G.sum(0)),
     lambda X, W, b, G: (G @ W.T, X.T @ G, G.mean(0))),
    (checks.check_tanh_layer, TanhRight, TanhWrong),
    (checks.check_softmax_cross_entropy, CrossEntropyRight, CrossEntropyUnstable),
    (checks.check_input_gradients_through_time, _bptt_right, lambda xs, w: torch.ones(len(xs), dtype=torch.float64)),
    (checks.check_saved_bytes_relu, 4 * 256 * 1341, 4 * 256 * (841 + 10 * 100)),
    (checks.check_kaiming_init, _kaiming, _xavier),
    (checks.check_quadrant_classifier, _quadrant_model(), nn.Sequential(nn.Linear(2, 2))),
]
test_right_answer_is_right, test_wrong_answer_is_not_yet_with_a_reason, test_placeholder_is_not_attempted = (
    contract_tests(RIGHT_AND_WRONG))


def test_linear_backward_names_the_wrong_gradient():
    verdict = checks.check_linear_backward(lambda X, W, b, G: (2 * G @ W.T, X.T @ G, G.sum(0)))
    assert "grad_X" in verdict.message


def test_unstable_softmax_is_caught_by_large_logits():
    assert "log softmax" in checks.check_softmax_cross_entropy(CrossEntropyUnstable).message


def test_layer_with_unimplemented_backward_is_not_attempted():
    class Started(TanhRight):
        def backward(self, grad_output):
            raise NotImplementedError
    assert checks.check_tanh_layer(Started).status == "not attempted"
