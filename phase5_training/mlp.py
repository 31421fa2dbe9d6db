"""The model Phase 5 trains, independent of where it runs: an MLP's configuration and parameters,
He initialisation, checkpoints, and a float64 NumPy reference of one training step that every
backend (the C library and the GPU kernels) is tested against.

The network: x (batch, 784) -> [Dense + ReLU] * hidden -> Dense -> softmax cross-entropy.
W[l] is (n_l, n_{l+1}) and b[l] is (n_{l+1},), as in Phases 1 and 4. The update is SGD with
momentum, optionally Nesterov, and weight decay, written the way PyTorch writes it:
    g = dW + weight_decay * W;  v = momentum * v + g;  W -= lr * (g + momentum * v if nesterov else v)
Weight decay applies to weights, not biases.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import zipfile
import zlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from shared.files import atomic_write

__all__ = [
    "Params",
    "TrainConfig",
    "he_init",
    "load_checkpoint",
    "lr_at",
    "reference_forward",
    "reference_step",
    "save_checkpoint",
    "softmax",
]


@dataclass
class TrainConfig:
    """Everything that defines a run; saved in every checkpoint and metrics file."""

    dataset: str = "mnist"
    widths: tuple[int, ...] = (784, 512, 256, 10)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "onecycle"  # "onecycle" (linear warm-up, then cosine to 0) or "constant"
    warmup_fraction: float = 0.15
    val_fraction: float = 0.0
    seed: int = 0
    limit: int | None = None  # use only the first `limit` training images (tests, quick looks)

    def validate(self, n_inputs: int = 784, n_classes: int = 10) -> None:
        w = tuple(self.widths)
        if len(w) < 2 or any(not isinstance(n, int) or n < 1 for n in w):
            raise ValueError(f"widths must be at least two positive ints, got {w}")
        if w[0] != n_inputs or w[-1] != n_classes:
            raise ValueError(
                f"widths must start at {n_inputs} (the pixels) and end at {n_classes} (the classes) "
                f"for {self.dataset}, got {'-'.join(map(str, w))}"
            )
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError(
                f"batch size and epochs must be >= 1, got {self.batch_size} and {self.epochs}"
            )
        # `not (x >= 0)` rather than `x < 0`: NaN fails every comparison and must be refused too
        if (
            not (self.lr > 0 and math.isfinite(self.lr))
            or not 0 <= self.momentum < 1
            or not (self.weight_decay >= 0 and math.isfinite(self.weight_decay))
        ):
            raise ValueError(
                f"need lr > 0, 0 <= momentum < 1, a finite weight_decay >= 0; got {self.lr}, {self.momentum}, {self.weight_decay}"
            )
        if self.schedule not in ("onecycle", "constant"):
            raise ValueError(f"schedule must be 'onecycle' or 'constant', got {self.schedule!r}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(
                f"limit must be at least 1 image (or left out for all), got {self.limit}"
            )
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")


def lr_at(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate at a step: constant, or a linear warm-up to `lr` then a cosine to zero."""
    if config.schedule == "constant":
        return config.lr
    warm = max(1, int(config.warmup_fraction * total_steps))
    if step < warm:
        return config.lr * (step + 1) / warm
    progress = (step - warm) / max(1, total_steps - warm)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean softmax cross-entropy of logits (batch, classes) for labels y (batch,), in float64
    through log-sum-exp: finite for any finite logits, NaN if the logits are (a diverged step)."""
    z = logits.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        top = z.max(axis=1)
        lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
        return float((lse - z[np.arange(len(y)), y]).mean())


@dataclass
class Params:
    """Weights, biases and momentum buffers as float32 NumPy arrays (host copies)."""

    W: list[np.ndarray]
    b: list[np.ndarray]
    vW: list[np.ndarray]
    vb: list[np.ndarray]

    def copy(self) -> Params:
        return Params(*[[a.copy() for a in group] for group in (self.W, self.b, self.vW, self.vb)])


def he_init(widths: tuple[int, ...], seed: int = 0) -> Params:
    """W ~ N(0, 2 / n_in) (He et al. 2015, for ReLU), b = 0, momentum buffers 0."""
    rng = np.random.default_rng(seed)
    W = [
        (rng.standard_normal((n_in, n_out)) * math.sqrt(2.0 / n_in)).astype(np.float32)
        for n_in, n_out in itertools.pairwise(widths)
    ]
    b = [np.zeros(n_out, np.float32) for n_out in widths[1:]]
    return Params(W, b, [np.zeros_like(w) for w in W], [np.zeros_like(v) for v in b])


def reference_forward(W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """The forward pass in float64 NumPy: ReLU hidden layers, a linear output layer. Returns
    every layer's input, then the logits (hs[0] = x, hs[-1] = logits)."""
    hs = [np.asarray(x, np.float64)]
    for l, (w, bias) in enumerate(zip(W, b, strict=True)):
        z = hs[-1] @ np.asarray(w, np.float64) + np.asarray(bias, np.float64)
        hs.append(np.maximum(z, 0.0) if l < len(W) - 1 else z)
    return hs


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise class probabilities in float64, the row maximum subtracted first (stable)."""
    z = np.asarray(logits, np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reference_step(
    params: Params, x: np.ndarray, y: np.ndarray, lr: float, config: TrainConfig
) -> tuple[Params, float]:
    """One SGD step in float64 NumPy: the specification every backend is tested against.

    x: (batch, n_0); y: (batch,) integer labels. Returns the updated parameters (float64) and the
    batch's mean cross-entropy before the update.
    """
    W = [w.astype(np.float64) for w in params.W]
    b = [v.astype(np.float64) for v in params.b]
    *hs, logits = reference_forward(W, b, x)  # hs: the input of each layer
    p = softmax(logits)
    batch = len(y)
    loss = float(-np.log(p[np.arange(batch), y]).mean())
    delta = p
    delta[np.arange(batch), y] -= 1.0
    delta /= batch
    out = Params([], [], [], [])
    grads_W, grads_b = [None] * len(W), [None] * len(W)
    for l in reversed(range(len(W))):
        grads_W[l] = hs[l].T @ delta
        grads_b[l] = delta.sum(axis=0)
        if l:
            delta = (delta @ W[l].T) * (hs[l] > 0)
    for l in range(len(W)):
        for value, grad, velocity, decay, dest in (
            (W[l], grads_W[l], params.vW[l], config.weight_decay, (out.W, out.vW)),
            (b[l], grads_b[l], params.vb[l], 0.0, (out.b, out.vb)),
        ):
            g = grad + decay * value
            v = config.momentum * velocity.astype(np.float64) + g
            step = g + config.momentum * v if config.nesterov else v
            dest[0].append(value - lr * step)
            dest[1].append(v)
    return out, loss


CHECKPOINT_SCHEMA = "nn-foundations/checkpoint/1"


def save_checkpoint(
    path: str | os.PathLike[str], params: Params, config: TrainConfig, state: dict
) -> Path:
    """Write parameters, momentum, the config and the loop state to one .npz, atomically."""
    arrays = {}
    for name, group in (("W", params.W), ("b", params.b), ("vW", params.vW), ("vb", params.vb)):
        arrays |= {f"{name}{i}": a for i, a in enumerate(group)}
    meta = {"schema": CHECKPOINT_SCHEMA, "config": asdict(config), "state": state}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)

    def write(f):
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        f.write(buffer.getvalue())

    return atomic_write(path, write)


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[Params, TrainConfig, dict]:
    """Read a checkpoint written by save_checkpoint. Anything else raises ValueError naming the
    file and what is wrong: missing, not an .npz, cut short or corrupted, metadata of another
    layout, arrays of the wrong dtype or shape for the configuration, or weights that are not
    finite (NaN or infinite, as a diverged run leaves them)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            arrays = {name: data[name] for name in data.files if name != "meta"}
    except (OSError, EOFError, KeyError, ValueError, TypeError, UnicodeDecodeError,
            zipfile.BadZipFile, zlib.error) as e:  # fmt: skip
        raise ValueError(f"{path}: not a readable checkpoint ({e or type(e).__name__})") from None
    try:
        config, state = _checked_meta(meta)
        params = _checked_params(arrays, config.widths)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return params, config, state


def _checked_meta(meta) -> tuple[TrainConfig, dict]:
    if not isinstance(meta, dict) or meta.get("schema") != CHECKPOINT_SCHEMA:
        schema = meta.get("schema") if isinstance(meta, dict) else None
        raise ValueError(f"checkpoint schema {schema!r}, expected {CHECKPOINT_SCHEMA!r}")
    config, state = meta.get("config"), meta.get("state")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise ValueError("the metadata lacks its config or state")
    known = {f.name for f in fields(TrainConfig)}
    if config.get("extra") == {}:  # checkpoints of older versions carry an empty, unused `extra`
        config = {key: value for key, value in config.items() if key != "extra"}
    if unknown := sorted(set(config) - known):
        raise ValueError(f"unknown configuration keys {unknown}")
    widths = config.get("widths")
    if not isinstance(widths, list) or not all(type(n) is int for n in widths):
        raise ValueError(f"widths {widths!r} are not a list of whole numbers")
    try:
        parsed = TrainConfig(**(config | {"widths": tuple(widths)}))
        parsed.validate(widths[0], widths[-1])
    except (TypeError, ValueError) as e:
        raise ValueError(f"a configuration that does not hold: {e}") from None
    for key in ("epoch", "step"):
        if type(state.get(key)) is not int or state[key] < 0:
            raise ValueError(f"state {key} {state.get(key)!r} is not a whole number >= 0")
    if not isinstance(state.get("history"), list):
        raise ValueError("the state lacks its history")
    return parsed, state


def _checked_params(arrays: dict[str, np.ndarray], widths: tuple[int, ...]) -> Params:
    groups = {"W": [], "b": [], "vW": [], "vb": []}
    for l, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        for name, shape in (("W", (n_in, n_out)), ("b", (n_out,)), ("vW", (n_in, n_out)), ("vb", (n_out,))):  # fmt: skip
            a = arrays.pop(f"{name}{l}", None)
            if a is None:
                raise ValueError(f"no array {name}{l} for widths {'-'.join(map(str, widths))}")
            if a.dtype.kind != "f" or a.dtype.itemsize != 4 or a.shape != shape:
                raise ValueError(f"{name}{l} is {a.dtype} {a.shape}, expected float32 {shape}")
            a = a.astype(np.float32, copy=False)  # float32 in the other byte order: this one's
            if not np.isfinite(a).all():
                raise ValueError(f"{name}{l} holds NaN or infinite values (a diverged run?)")
            groups[name].append(a)
    if arrays:
        raise ValueError(
            f"unexpected arrays {sorted(arrays)} for widths {'-'.join(map(str, widths))}"
        )
    return Params(**groups)
