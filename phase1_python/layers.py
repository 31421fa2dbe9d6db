"""Layers of a feed-forward network, in pure Python: a dense (fully connected) layer and
activation layers. Each has `forward(x)`, `backward(grad)` and `parameters()`.

Notation (as in Nielsen's "Neural Networks and Deep Learning", but with one sample per *row*):
x is (batch, n_in), W is (n_in, n_out), b is (1, n_out), so forward is  y = x W + b  and, given
delta = dL/dy (batch, n_out), backward is  dW = x^T delta,  db = sum over the batch of delta,
dx = delta W^T.  Gradients are stored on the layer (`dW`, `db`) until the optimiser uses them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from phase1_python.activations import ACTIVATIONS, softmax, softmax_backward
from phase1_python.matrix import Matrix

__all__ = ["Activation", "Dense", "Layer", "Softmax"]


class Layer:
    """The interface: forward caches what backward needs; backward returns dL/d(input)."""

    #: names of the attributes holding parameters; the gradient of `W` lives in `dW`.
    param_names: tuple[str, ...] = ()

    def forward(self, x: Matrix) -> Matrix:
        raise NotImplementedError

    def backward(self, grad: Matrix) -> Matrix:
        raise NotImplementedError

    def parameters(self) -> list[tuple[str, Matrix, Matrix | None]]:
        """(name, value, gradient or None before the first backward) for each parameter."""
        return [(n, getattr(self, n), getattr(self, "d" + n, None)) for n in self.param_names]


class Dense(Layer):
    """y = x W + b, with W initialised for the activation that follows it.

    init="he": W ~ N(0, 2 / n_in), for ReLU (He et al. 2015, "Delving Deep into Rectifiers").
    init="xavier": W ~ U(-a, a) with a = sqrt(6 / (n_in + n_out)), for tanh and sigmoid
    (Glorot and Bengio 2010). Biases start at zero. Any other init is a ValueError "init must
    be 'he' or 'xavier', got 'lecun'".
    """

    param_names = ("W", "b")

    def __init__(
        self,
        n_in: int,
        n_out: int,
        init: str = "he",
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        rng = rng or random.Random(seed)
        if init == "he":
            self.W = Matrix.gaussian(n_in, n_out, std=math.sqrt(2.0 / n_in), rng=rng)
        elif init == "xavier":
            a = math.sqrt(6.0 / (n_in + n_out))
            self.W = Matrix.random(n_in, n_out, -a, a, rng=rng)
        else:
            raise ValueError(f"init must be 'he' or 'xavier', got {init!r}")
        self.b = Matrix.zeros(1, n_out)
        self.dW: Matrix | None = None
        self.db: Matrix | None = None
        self._x: Matrix | None = None

    @property
    def n_in(self) -> int:
        return self.W.rows

    @property
    def n_out(self) -> int:
        return self.W.cols

    def forward(self, x: Matrix) -> Matrix:
        """x W + b; x of another width is a ValueError "Dense(3, 2): input has 4 columns,
        expected 3"."""
        # x: (batch, n_in), W: (n_in, n_out), b: (1, n_out) added to every row
        if x.cols != self.n_in:
            raise ValueError(
                f"Dense({self.n_in}, {self.n_out}): input has {x.cols} columns, expected {self.n_in}"
            )
        self._x = x
        return x @ self.W + self.b

    def backward(self, grad: Matrix) -> Matrix:
        """Keep dW and db, return the gradient of the input. Before any forward: a RuntimeError
        "Dense.backward called before forward"; a grad of another shape: a ValueError
        "Dense.backward: grad is (2, 3), expected (2, 2)"."""
        # grad (= delta): (batch, n_out) -> returns (batch, n_in)
        if self._x is None:
            raise RuntimeError("Dense.backward called before forward")
        if grad.shape != (self._x.rows, self.n_out):
            raise ValueError(
                f"Dense.backward: grad is {grad.shape}, expected {(self._x.rows, self.n_out)}"
            )
        self.dW = self._x.T @ grad
        self.db = grad.sum(axis=0)  # type: ignore[assignment]
        return grad @ self.W.T

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out})"


class Activation(Layer):
    """An elementwise activation: forward f(x), backward grad * f'(x)."""

    def __init__(self, name: str) -> None:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
        self.name = name
        self.f: Callable = ACTIVATIONS[name][0]
        self.f_prime: Callable = ACTIVATIONS[name][1]
        self._x: Matrix | None = None

    def forward(self, x: Matrix) -> Matrix:
        self._x = x
        return self.f(x)

    def backward(self, grad: Matrix) -> Matrix:
        if self._x is None:
            raise RuntimeError(f"{self!r}.backward called before forward")
        return grad * self.f_prime(self._x)

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


class Softmax(Layer):
    """Row-wise softmax. (With cross-entropy, prefer the fused `softmax_cross_entropy` loss on
    logits: it is more stable and its gradient is simpler.)"""

    def __init__(self) -> None:
        self._s: Matrix | None = None

    def forward(self, x: Matrix) -> Matrix:
        self._s = softmax(x)
        return self._s

    def backward(self, grad: Matrix) -> Matrix:
        if self._s is None:
            raise RuntimeError("Softmax.backward called before forward")
        return softmax_backward(self._s, grad)

    def __repr__(self) -> str:
        return "Softmax()"
