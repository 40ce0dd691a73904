"""Which torch functions a student's code calls: for exercises that ask "without F.softmax" and mean it."""
from __future__ import annotations

from torch.overrides import TorchFunctionMode, resolve_name


class CallsTo(TorchFunctionMode):
    """Records the torch functions called inside it whose own name contains one of ``words``.

    A TorchFunctionMode sees every torch function, tensor method and
    ``torch.nn.functional`` call however it was imported (``nn.LeakyReLU``
    calls ``F.leaky_relu``); the calls still run, so the answer can be checked too.
    """

    def __init__(self, *words):
        super().__init__()
        self.words, self.called = words, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = resolve_name(func) or getattr(func, "__name__", repr(func))
        if any(word in name.rsplit(".", 1)[-1] for word in self.words):
            self.called.append(name)
        return func(*args, **(kwargs or {}))
