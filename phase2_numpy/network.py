"""The multilayer perceptron of Phase 1, written with NumPy arrays and vectorised over the batch:
initialisation, activations, the forward pass, the loss and backpropagation.

This is the project's specification of the network: run in float64 it is what every faster
implementation (the C trainer of Phase 5 on Phase 3's library, the GPU trainer on Phase 4's
kernels) is tested against; run in float32 it trains MNIST in seconds. It leaves out nothing a
layer needs and adds nothing a layer does not: no layer classes, no autograd, one function per
idea, the shapes in every comment.

Notation, one sample per row (as in Phase 1): the network has widths n_0, ..., n_L.
    h[0] = x                               x: (B, n_0), a batch of B samples
    z[l] = h[l] @ W[l] + b[l]              W[l]: (n_l, n_{l+1}), b[l]: (n_{l+1},), z[l]: (B, n_{l+1})
    h[l+1] = f(z[l])  for hidden layers    f: ReLU, tanh or sigmoid
    logits = z[L-1]                        the last layer is linear: softmax lives in the loss
    loss = mean over the batch of -log softmax(logits)[y]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "Params",
    "backward",
    "cross_entropy",
    "forward",
    "he_init",
    "reference_forward",
    "softmax",
]


# -- activations: f, and f' written through the output h = f(z) (what the forward pass keeps) --
def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def relu_prime(h: np.ndarray) -> np.ndarray:
    # d max(z, 0)/dz is 1 where z > 0, which is where h > 0 (at z = 0 we choose 0, as PyTorch)
    return (h > 0).astype(h.dtype)


def tanh_prime(h: np.ndarray) -> np.ndarray:
    return 1 - h * h  # d tanh(z)/dz = 1 - tanh(z)^2


def sigmoid(z: np.ndarray) -> np.ndarray:
    # exp of a non-positive number only: no overflow for any z
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_prime(h: np.ndarray) -> np.ndarray:
    return h * (1 - h)  # d s(z)/dz = s(z) (1 - s(z))


#: name -> (f, f' as a function of f's output)
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "relu": (relu, relu_prime),
    "tanh": (np.tanh, tanh_prime),
    "sigmoid": (sigmoid, sigmoid_prime),
}


def check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")


# -- the loss --------------------------------------------------------------------------------
def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise class probabilities, in the logits' float type; the row maximum is subtracted
    first, which changes nothing mathematically and keeps exp from overflowing."""
    z = np.asarray(logits)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean softmax cross-entropy of logits (B, classes) for labels y (B,), in float64 through
    log-sum-exp: -log softmax(z)[y] = log sum_j exp(z_j) - z_y. Finite for any finite logits, NaN
    if the logits are (a diverged step)."""
    z = np.asarray(logits, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        top = z.max(axis=1)
        lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
        return float((lse - z[np.arange(len(y)), y]).mean())


# -- the parameters ---------------------------------------------------------------------------
@dataclass
class Params:
    """Weights W[l] (n_l, n_{l+1}), biases b[l] (n_{l+1},) and their momentum buffers vW, vb."""

    W: list[np.ndarray]
    b: list[np.ndarray]
    vW: list[np.ndarray]
    vb: list[np.ndarray]

    def copy(self) -> Params:
        return Params(*[[a.copy() for a in group] for group in (self.W, self.b, self.vW, self.vb)])

    def astype(self, dtype) -> Params:
        """A copy in another float type (float64 for the specification)."""
        groups = (self.W, self.b, self.vW, self.vb)
        return Params(*[[a.astype(dtype) for a in group] for group in groups])


def he_init(widths: tuple[int, ...], seed: int = 0) -> Params:
    """W ~ N(0, 2 / n_in), b = 0, momentum buffers 0, all float32.

    He et al. 2015: a ReLU zeroes half of its inputs on average, so to keep the variance of the
    activations the same from layer to layer, each weight needs variance 2 / n_in, not 1 / n_in.
    """
    rng = np.random.default_rng(seed)
    W = [
        (rng.standard_normal((n_in, n_out)) * math.sqrt(2.0 / n_in)).astype(np.float32)
        for n_in, n_out in itertools.pairwise(widths)
    ]
    b = [np.zeros(n_out, np.float32) for n_out in widths[1:]]
    return Params(W, b, [np.zeros_like(w) for w in W], [np.zeros_like(v) for v in b])


# -- forward and backward ---------------------------------------------------------------------
def forward(
    W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray, activation: str = "relu"
) -> list[np.ndarray]:
    """The forward pass for the batch x (B, n_0), in the weights' float type. Returns every
    layer's input, then the logits: hs[0] = x, hs[l] (B, n_l), hs[-1] = logits (B, n_L).
    The backward pass needs all of them, so they are kept (that is the memory training costs)."""
    f = ACTIVATIONS[activation][0]
    hs = [np.asarray(x, W[0].dtype)]
    for l, (w, bias) in enumerate(zip(W, b, strict=True)):
        z = hs[-1] @ w  # (B, n_l) @ (n_l, n_{l+1})
        z += bias  # broadcast over the rows
        hs.append(f(z) if l < len(W) - 1 else z)
    return hs


def reference_forward(W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """The forward pass in float64 (ReLU), whatever the weights' type: for checks and reports."""
    as64 = [np.asarray(a, np.float64) for a in W], [np.asarray(a, np.float64) for a in b]
    return forward(*as64, x)


def backward(
    W: list[np.ndarray], hs: list[np.ndarray], y: np.ndarray, activation: str = "relu"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gradients of the mean loss with respect to every W[l] and b[l], by backpropagation.

    W: the weights; hs: what forward() returned for the batch; y (B,): integer labels.
    delta is dLoss/dz for the current layer, (B, n_{l+1}). It starts at the output:
        dLoss/dlogits = (softmax(logits) - onehot(y)) / B
    and for each layer, from the last to the first:
        dW[l] = h[l]^T @ delta               (n_l, B) @ (B, n_{l+1})
        db[l] = delta summed over the batch  (n_{l+1},)
        delta <- (delta @ W[l]^T) * f'(z[l-1]) = (delta @ W[l]^T) * f'_out(h[l])
    """
    f_prime = ACTIVATIONS[activation][1]
    batch = len(y)
    delta = softmax(hs[-1])
    delta[np.arange(batch), y] -= 1
    delta /= batch
    grads_W: list[np.ndarray] = [None] * len(W)  # type: ignore[list-item]
    grads_b: list[np.ndarray] = [None] * len(W)  # type: ignore[list-item]
    for l in reversed(range(len(W))):
        grads_W[l] = hs[l].T @ delta
        grads_b[l] = delta.sum(axis=0)
        if l:  # the layer below needs delta before W[l] changes
            delta = (delta @ W[l].T) * f_prime(hs[l])
    return grads_W, grads_b
