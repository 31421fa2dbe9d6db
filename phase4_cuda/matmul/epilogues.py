"""The fused epilogue: what a kernel may do to each output while it is still in a register, on
its way to C: + bias[j], an activation, then zero where a mask is not positive.

The activations are listed once, in ACTIVATION_FUNCTIONS: each by its name, its device function
(what rungs 6, 7, 10 and 11 compile in) and its float64 NumPy form (what `reference()` computes).
Their names are the one list of activations on the GPU (ACTIVATIONS; the dense layer and Phase 5
read it). Only the forward functions: their derivatives belong to the backward pass (Phase 5).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32

__all__ = ["ACTIVATIONS", "EPILOGUES", "activate_reference", "check_activation", "output_writer"]


@cuda.jit(device=True, inline="always")
def identity(v):
    return v


@cuda.jit(device=True, inline="always")
def relu(v):
    return max(v, float32(0.0))


@cuda.jit(device=True, inline="always")
def sigmoid(v):
    return float32(1.0) / (float32(1.0) + math.exp(-v))


@cuda.jit(device=True, inline="always")
def tanh(v):
    return math.tanh(v)


#: name (None: the plain product) -> (device function on a float32, float64 NumPy form)
ACTIVATION_FUNCTIONS = {
    None: (identity, lambda x: x),
    "relu": (relu, lambda x: np.maximum(x, 0.0)),
    "sigmoid": (sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x))),
    "tanh": (tanh, np.tanh),
}
#: name -> the device function a kernel's epilogue applies
EPILOGUES = {name: device for name, (device, _) in ACTIVATION_FUNCTIONS.items()}
#: The activation names the fused epilogue accepts (None: the plain product).
ACTIVATIONS: tuple[str | None, ...] = tuple(ACTIVATION_FUNCTIONS)


def check_activation(activation: str | None) -> None:
    if activation not in ACTIVATION_FUNCTIONS:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")


def activate_reference(activation: str | None, x: np.ndarray) -> np.ndarray:
    """The activation `activation` of a float64 array, as `reference()` applies it."""
    check_activation(activation)
    return ACTIVATION_FUNCTIONS[activation][1](x)


def output_writer(activation: str | None = None, bias: bool = False, mask: bool = False):
    """write(c, v, bias_j, mask_vec, n, i, j): c[i * n + j] = act(v + bias_j), or 0 where
    mask_vec[i * n + j] is not positive. The flags are closure constants: without `bias` the
    addition is not compiled (bias_j is unread), without `mask` the mask is never loaded."""
    check_activation(activation)
    activate = EPILOGUES[activation]

    @cuda.jit(device=True, inline="always")
    def write(c, v, bias_j, mask_vec, n, i, j):
        v = activate(v + bias_j if bias else v)
        if mask and not mask_vec[i * n + j] > float32(0.0):
            v = float32(0.0)
        c[i * n + j] = v

    return write
