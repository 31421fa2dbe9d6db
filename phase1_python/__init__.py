"""Phase 1: a neural network in pure Python (no NumPy), the reference for every later phase.

Matrix (matrix.py), activations and losses with their derivatives, Dense and activation layers,
a sequential network trained by mini-batch SGD, and a finite-difference gradient check.
"""

from typing import Any

from phase1_python.activations import (
    relu,
    relu_prime,
    sigmoid,
    sigmoid_prime,
    softmax,
    softmax_backward,
    tanh,
    tanh_prime,
)
from phase1_python.layers import Activation, Dense, Layer, Softmax
from phase1_python.losses import (
    LOSSES,
    binary_cross_entropy,
    binary_cross_entropy_prime,
    categorical_cross_entropy,
    categorical_cross_entropy_prime,
    mse,
    mse_prime,
    one_hot,
    softmax_cross_entropy,
    softmax_cross_entropy_prime,
)
from phase1_python.matrix import Matrix, matmul_naive
from phase1_python.network import Network

_GRADCHECK = ("check_layer", "numerical_gradient", "relative_error")


def __getattr__(name: str) -> Any:
    # gradcheck is imported on first use, not here, so that `python -m phase1_python.gradcheck`
    # runs it as a script without runpy warning that the package had already imported it.
    if name in _GRADCHECK:
        from phase1_python import gradcheck

        return getattr(gradcheck, name)
    raise AttributeError(f"module 'phase1_python' has no attribute {name!r}")


__all__ = [
    "LOSSES",
    "Activation",
    "Dense",
    "Layer",
    "Matrix",
    "Network",
    "Softmax",
    "binary_cross_entropy",
    "binary_cross_entropy_prime",
    "categorical_cross_entropy",
    "categorical_cross_entropy_prime",
    "check_layer",
    "matmul_naive",
    "mse",
    "mse_prime",
    "numerical_gradient",
    "one_hot",
    "relative_error",
    "relu",
    "relu_prime",
    "sigmoid",
    "sigmoid_prime",
    "softmax",
    "softmax_backward",
    "softmax_cross_entropy",
    "softmax_cross_entropy_prime",
    "tanh",
    "tanh_prime",
]
