"""Lecture 3's self-checks: right for a right answer, not yet (with a reason) for a wrong one,
not attempted for the placeholder."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.exercises import backprop as checks
from selfcheck_contract import answer_table_tests, contract_tests


class TanhRight:
    def forward(self, T):
        self.A = torch.tanh(T)
        return self.A

    def backward(self, grad_output):
        return grad_output * (1 - self.A**2)


class TanhWrong(TanhRight):
    def backward(self, grad_output):
        return grad_output * (1 - self.A)


class TanhFromInput:
    """Right, written differently: keep the input, differentiate with cosh."""

    def forward(self, T):
        self.T = T
        return torch.tanh(T)

    def backward(self, grad_output):
        return grad_output * (1 - torch.tanh(self.T) ** 2)


class TanhNoUpstream(TanhRight):
    def backward(self, grad_output):
        return 1 - self.A**2


class TanhByExp(TanhRight):
    def forward(self, T):
        self.A = (T.exp() - (-T).exp()) / (T.exp() + (-T).exp())
        return self.A


class TanhSigmoidDerivative(TanhRight):
    def backward(self, grad_output):
        return grad_output * self.A * (1 - self.A)


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


class CrossEntropyEpsilon(CrossEntropyRight):
    """Stable softmax, then -log(p + 1e-12): finite, but 27.6 instead of 1000 for logits (1000, 0)."""

    def forward(self, Z, labels):
        self.labels = labels
        shifted = Z - Z.max(dim=1, keepdim=True).values
        self.p = shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)
        return -torch.log(self.p[torch.arange(len(Z)), labels] + 1e-12).mean()


class CrossEntropyLogsumexp:
    """A right answer written differently: log-sum-exp by hand, the gradient from a one-hot built with scatter."""

    def forward(self, Z, labels):
        M = Z.max(dim=1).values
        log_normaliser = M + (Z - M[:, None]).exp().sum(dim=1).log()
        self.Z, self.labels, self.log_normaliser = Z, labels, log_normaliser
        return (log_normaliser - Z.gather(1, labels[:, None]).squeeze(1)).sum() / len(Z)

    def backward(self):
        p = (self.Z - self.log_normaliser[:, None]).exp()
        return (p - torch.zeros_like(p).scatter_(1, self.labels[:, None], 1.0)) / len(p)


class CrossEntropyLibrary(CrossEntropyRight):
    def forward(self, Z, labels):
        self.labels = labels
        self.p = torch.softmax(Z, dim=1)
        return F.cross_entropy(Z, labels)


class CrossEntropyModules(CrossEntropyRight):
    """The library by another route: nn modules call F.cross_entropy and F.softmax themselves."""

    def forward(self, Z, labels):
        self.labels = labels
        self.p = nn.Softmax(dim=1)(Z)
        return nn.CrossEntropyLoss()(Z, labels)


class CrossEntropySpecial(CrossEntropyRight):
    """The library under torch.special's names."""

    def forward(self, Z, labels):
        self.labels = labels
        self.p = torch.special.softmax(Z, dim=1)
        return -torch.special.log_softmax(Z, dim=1)[torch.arange(len(Z)), labels].mean()


class CrossEntropySummed(CrossEntropyRight):
    def forward(self, Z, labels):
        return super().forward(Z, labels) * len(Z)


class CrossEntropyNoDivision(CrossEntropyRight):
    def backward(self):
        return super().backward() * len(self.p)


class CrossEntropySignFlipped(CrossEntropyRight):
    def backward(self):
        return -super().backward()


def _bptt_right(xs, w):
    """As the lecture writes it: floats, w.item()."""
    hs = [0.0]
    for x in xs.tolist():
        hs.append(math.tanh(w.item() * hs[-1] + x))
    grads, g = [0.0] * len(xs), 1.0
    for t in range(len(xs), 0, -1):
        local = g * (1 - hs[t] ** 2)
        grads[t - 1] = local
        g = local * w.item()
    return torch.tensor(grads, dtype=torch.float64)


def _bptt_tensors(xs, w):
    """With tensor operations throughout, and a list returned."""
    hs = [torch.zeros((), dtype=xs.dtype)]
    for x_t in xs:
        hs.append(torch.tanh(w * hs[-1] + x_t))
    grads, g = [], torch.ones((), dtype=xs.dtype)
    for t in reversed(range(1, len(xs) + 1)):
        local = g * (1 - hs[t] ** 2)
        grads.insert(0, float(local))
        g = local * w
    return grads


def _bptt_missing_local_factor(xs, w):
    hs = [0.0]
    for x in xs.tolist():
        hs.append(math.tanh(w.item() * hs[-1] + x))
    grads, g = [0.0] * len(xs), 1.0
    for t in range(len(xs), 0, -1):
        grads[t - 1] = g                       # the gradient at h_t, not at the input of tanh
        g = g * (1 - hs[t] ** 2) * w.item()
    return torch.tensor(grads, dtype=torch.float64)


def _bptt_previous_state(xs, w):
    hs = [0.0]
    for x in xs.tolist():
        hs.append(math.tanh(w.item() * hs[-1] + x))
    grads, g = [0.0] * len(xs), 1.0
    for t in range(len(xs), 0, -1):
        local = g * (1 - hs[t - 1] ** 2)       # tanh' at the wrong step
        grads[t - 1] = local
        g = local * w.item()
    return torch.tensor(grads, dtype=torch.float64)


def _bptt_with_autograd(xs, w):
    leaf = xs.clone().requires_grad_()
    h = torch.zeros((), dtype=xs.dtype)
    for x_t in leaf:
        h = torch.tanh(w * h + x_t)
    h.backward()
    return leaf.grad


def _bptt_with_functional_vjp(xs, w):
    def recurrence(xs):
        h = torch.zeros((), dtype=xs.dtype)
        for x_t in xs:
            h = torch.tanh(w * h + x_t)
        return h
    return torch.autograd.functional.vjp(recurrence, xs)[1]


def _bptt_reversed(xs, w):
    return _bptt_right(xs, w).flip(0)


def _init_right(net):
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _init_by_hand(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn_like(m.weight) * math.sqrt(2 / m.in_features))
                if m.bias is not None:
                    m.bias.zero_()


def _init_fan_out(net):
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _init_xavier(net):
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _init_std_without_sqrt(net):
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.normal_(0, 2 / m.in_features)
                if m.bias is not None:
                    m.bias.zero_()


def _init_no_relu_factor(net):
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.normal_(0, math.sqrt(1 / m.in_features))
                if m.bias is not None:
                    m.bias.zero_()


def _init_bias_kept(net):
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")


def _quadrant_model():
    """A right answer built by hand: |x1 + x2| - |x1 - x2| = 2 min(|x1|, |x2|) sign(x1 x2), as ReLUs."""
    model = nn.Sequential(nn.Linear(2, 4, bias=False), nn.ReLU(), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]))
        model[2].weight.copy_(torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, -1.0, -1.0]]))
    return model


def _trained_quadrant_model():
    """A right answer a student would train: 2 -> 32 -> 2 with Adam on 2,000 points of its own."""
    generator = torch.Generator().manual_seed(11)
    X = torch.randn(2000, 2, generator=generator)
    y = (X[:, 0] * X[:, 1] > 0).long()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
        optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
        for _ in range(300):
            optimizer.zero_grad()
            F.cross_entropy(model(X), y).backward()
            optimizer.step()
    return model


def _flipped_quadrant_model():
    model = _quadrant_model()
    with torch.no_grad():
        model[2].weight.copy_(model[2].weight.flip(0))
    return model


def _untrained_model():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))


RIGHT = {
    checks.check_linear_backward: [lambda X, W, b, G: (G @ W.T, X.T @ G, G.sum(0)),
                                   lambda X, W, b, G: (torch.mm(G, W.t()), torch.einsum("nd,nh->dh", X, G),
                                                       G.sum(dim=0, keepdim=True).squeeze(0))],
    checks.check_tanh_layer: [TanhRight, TanhFromInput],
    checks.check_softmax_cross_entropy: [CrossEntropyRight, CrossEntropyLogsumexp],
    checks.check_input_gradients_through_time: [_bptt_right, _bptt_tensors],
    checks.check_saved_bytes_relu: [4 * 256 * 1341, 1373184.0],
    checks.check_init_keeping_size: [_init_right, _init_by_hand],
    checks.check_quadrant_classifier: [_quadrant_model(), _trained_quadrant_model()],
}
WRONG = {
    checks.check_linear_backward: [lambda X, W, b, G: (G @ W.T, X.T @ G, G.mean(0)),
                                   lambda X, W, b, G: (G @ W, X.T @ G, G.sum(0)),       # right shape when W is square
                                   lambda X, W, b, G: (G @ W.T, (G.T @ X).T / len(X), G.sum(0)),
                                   lambda X, W, b, G: (G @ W.T, X.T @ G, G.sum(1))],
    checks.check_tanh_layer: [TanhWrong, TanhNoUpstream, TanhByExp, TanhSigmoidDerivative],
    checks.check_softmax_cross_entropy: [CrossEntropyUnstable, CrossEntropyEpsilon, CrossEntropyLibrary,
                                         CrossEntropyModules, CrossEntropySpecial,
                                         CrossEntropySummed, CrossEntropyNoDivision, CrossEntropySignFlipped],
    checks.check_input_gradients_through_time: [lambda xs, w: torch.ones(len(xs), dtype=torch.float64),
                                                _bptt_missing_local_factor, _bptt_previous_state,
                                                _bptt_with_autograd, _bptt_with_functional_vjp, _bptt_reversed],
    checks.check_saved_bytes_relu: [4 * 256 * (841 + 10 * 100), 256 * 1341, 4 * 256 * 1341 + 509_304, "1373184",
                                    4 * 256 * 1341 + 0.9],   # not truncated to the right integer
    checks.check_init_keeping_size: [_init_fan_out, _init_xavier, _init_std_without_sqrt, _init_no_relu_factor,
                                     _init_bias_kept],
    checks.check_quadrant_classifier: [nn.Sequential(nn.Linear(2, 2)), _flipped_quadrant_model(),
                                       _untrained_model(), nn.Sequential(nn.Linear(2, 1))],
}
CASES = [(check, RIGHT[check][0], WRONG[check][0]) for check in RIGHT]
test_right_answer_is_right, test_wrong_answer_is_not_yet_with_a_reason, test_placeholder_is_not_attempted = (
    contract_tests(CASES))


def _name(value):
    return getattr(value, "__name__", "")


(test_every_right_answer_is_right, test_every_plausible_wrong_answer_is_not_yet,
 test_every_check_has_two_right_and_three_wrong_answers, test_a_check_leaves_the_random_state_alone) = (
    answer_table_tests(RIGHT, WRONG))


def test_linear_backward_names_the_wrong_gradient():
    verdict = checks.check_linear_backward(lambda X, W, b, G: (2 * G @ W.T, X.T @ G, G.sum(0)))
    assert "grad_X" in verdict.message


def test_unstable_softmax_is_caught_by_large_logits():
    assert "log softmax" in checks.check_softmax_cross_entropy(CrossEntropyUnstable).message


def test_a_capped_log_is_caught_by_the_loss_of_1000():
    """The reviewer's case: logits (1000, 0), label 1, and -log(p + 1e-12) gives 27.6 instead of 1000."""
    message = checks.check_softmax_cross_entropy(CrossEntropyEpsilon).message
    assert "27.6" in message and "caps the loss" in message


def test_bptt_accepts_the_lectures_w_item():
    assert checks.check_input_gradients_through_time(_bptt_right).passed


def test_saved_bytes_answer_is_what_autograd_saves_for_the_relu_mlp():
    """Is the expected number what saved_tensors_hooks measures (the lecture's Going further tool)?"""
    net = nn.Sequential(nn.Linear(841, 100), nn.ReLU(), *[m for _ in range(4) for m in (nn.Linear(100, 100),
                                                                                           nn.ReLU())],
                        nn.Linear(100, 26))
    parameters = {p.untyped_storage().data_ptr() for p in net.parameters()}
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        net(torch.rand(256, 841))
    assert checks.check_saved_bytes_relu(sum(saved.values())).passed


def test_layer_with_unimplemented_backward_is_not_attempted():
    class Started(TanhRight):
        def backward(self, grad_output):
            raise NotImplementedError
    assert checks.check_tanh_layer(Started).status == "not attempted"


ANSWER_FRAGMENTS = {  # what the answer's line would contain; no "Not yet" message may show it
    checks.check_linear_backward: ["X.T", "W.T", "sum(0)", "sum(dim=0)"],
    checks.check_input_gradients_through_time: ["(1 - h_t^2)", "1 - h"],
    checks.check_init_keeping_size: ["2 / fan_in", "2 / n", "sqrt(2", "kaiming"],
    checks.check_softmax_cross_entropy: ["log(sum(exp", "logsumexp(", "- one_hot"],
}


@pytest.mark.parametrize("check", list(ANSWER_FRAGMENTS), ids=_name)
def test_no_hint_contains_the_answers_line(check):
    for answer in WRONG[check]:
        message = check(answer).message
        assert not any(fragment in message for fragment in ANSWER_FRAGMENTS[check]), message


@pytest.mark.parametrize("answer", [CrossEntropyModules, CrossEntropySpecial])
def test_the_library_by_another_route_is_named(answer):
    """Is the softmax library refused when it comes through nn.CrossEntropyLoss / nn.Softmax or torch.special?"""
    message = checks.check_softmax_cross_entropy(answer).message
    assert "softmax" in message and "your class calls" in message


def test_bptt_through_torch_autograd_functional_is_named():
    """Is "no autograd" held when the student's autograd runs inside torch.autograd.functional.vjp?"""
    assert "asks autograd" in checks.check_input_gradients_through_time(_bptt_with_functional_vjp).message


def test_a_quadrant_model_with_dropout_is_judged_in_eval_mode_and_left_in_its_mode():
    """Is a right model with dropout judged without dropout, and handed back in the mode it came in?"""
    model = _quadrant_model()
    with_dropout = nn.Sequential(model[0], model[1], nn.Dropout(0.5), model[2])
    assert with_dropout.training
    assert checks.check_quadrant_classifier(with_dropout).status == "right"
    assert with_dropout.training


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_quadrant_model_on_the_gpu_is_right():
    """Is a right model that the student moved to the GPU (lecture 1's device pattern) judged, not an error?"""
    assert checks.check_quadrant_classifier(_quadrant_model().to("cuda")).status == "right"
