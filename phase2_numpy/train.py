"""Training the NumPy network: the run's configuration, the learning-rate schedule, SGD with
momentum, one training step, evaluation, and the epoch loop.

`train_step` in float64 is the specification of one step (`reference_step`): Phase 5's C and
GPU trainers are tested against it. The loop here is deliberately plain (shuffle, batch, step,
evaluate); Phase 5's loop adds checkpoints, resuming and metrics files around the same steps.

The update is SGD with momentum, optionally Nesterov, and weight decay, written the way PyTorch
writes it (weight decay applies to weights, not biases):
    g = dW + weight_decay * W;  v = momentum * v + g;  W -= lr * (g + momentum * v if nesterov else v)
"""

from __future__ import annotations

import itertools
import math
import os
import time
from dataclasses import dataclass

import numpy as np

from phase2_numpy.data import epoch_order
from phase2_numpy.network import (
    Params,
    backward,
    check_activation,
    cross_entropy,
    forward,
    he_init,
)
from shared.progress import Progress

__all__ = [
    "TrainConfig",
    "dead_units",
    "evaluate",
    "lr_at",
    "predict_logits",
    "reference_step",
    "sgd_update",
    "train",
    "train_step",
]


@dataclass
class TrainConfig:
    """Everything that defines a run; saved in every checkpoint and metrics file (Phase 5)."""

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
    activation: str = "relu"  # of the hidden layers: relu, tanh or sigmoid (NumPy; C/GPU: relu)

    def validate(self, n_inputs: int = 784, n_classes: int = 10) -> None:
        w = tuple(self.widths)
        if len(w) < 2 or any(not isinstance(n, int) or n < 1 for n in w):
            raise ValueError(f"widths must be at least two positive ints, got {w}")
        if w[0] != n_inputs or w[-1] != n_classes:
            raise ValueError(
                f"widths must start at {n_inputs} (the pixels) and end at {n_classes} (the classes) "
                f"for {self.dataset}, got {'-'.join(map(str, w))}"
            )
        if (need := 8 * sum(a * b for a, b in itertools.pairwise(w))) > _memory():
            raise ValueError(
                f"widths {'-'.join(map(str, w))} need {need / 2**30:,.0f} GiB for their float64 "
                f"weights alone; this machine has {_memory() / 2**30:,.0f} GiB"
            )
        if type(self.seed) is not int or self.seed < 0:  # NumPy's generators take no negative seed
            raise ValueError(f"seed must be a whole number >= 0, got {self.seed}")
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
        check_activation(self.activation)


def _memory() -> int:
    """Bytes of memory this machine has (where the system says; else no limit)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 2**63


def lr_at(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate at a step: constant, or one cycle: a linear warm-up to `lr` over the
    first `warmup_fraction` of the steps (large steps on random weights overshoot), then a cosine
    down to zero (small steps at the end settle into the minimum)."""
    if config.schedule == "constant":
        return config.lr
    warm = max(1, int(config.warmup_fraction * total_steps))
    if step < warm:
        return config.lr * (step + 1) / warm
    progress = (step - warm) / max(1, total_steps - warm)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def sgd_update(
    params: Params,
    grads_W: list[np.ndarray],
    grads_b: list[np.ndarray],
    lr: float,
    config: TrainConfig,
) -> None:
    """One SGD step with momentum (Nesterov's where config.nesterov), in place."""
    mu = config.momentum
    for group, velocities, grads, decay in (
        (params.W, params.vW, grads_W, config.weight_decay),
        (params.b, params.vb, grads_b, 0.0),
    ):
        for value, v, grad in zip(group, velocities, grads, strict=True):
            dtype = value.dtype.type
            g = grad + dtype(decay) * value if decay else grad
            v *= dtype(mu)
            v += g
            value -= dtype(lr) * (g + dtype(mu) * v if config.nesterov else v)


def train_step(
    params: Params, x: np.ndarray, y: np.ndarray, lr: float, config: TrainConfig
) -> tuple[float, int]:
    """One training step on the batch x (B, n_0), y (B,), in the parameters' float type and in
    place: forward, loss, backward, update. Returns the batch's mean loss and how many samples
    it classified right, both before the update."""
    hs = forward(params.W, params.b, x, config.activation)
    logits = hs[-1]
    loss = cross_entropy(logits, y)
    correct = int((logits.argmax(axis=1) == y).sum())
    grads_W, grads_b = backward(params.W, hs, y, config.activation)
    sgd_update(params, grads_W, grads_b, lr, config)
    return loss, correct


def reference_step(
    params: Params, x: np.ndarray, y: np.ndarray, lr: float, config: TrainConfig
) -> tuple[Params, float]:
    """The specification of one step: `train_step` in float64 on a copy. Returns the updated
    parameters (float64) and the batch's mean loss before the update."""
    out = params.astype(np.float64)
    loss, _ = train_step(out, np.asarray(x, np.float64), y, lr, config)
    return out, loss


def evaluate(logits: np.ndarray, y: np.ndarray, n_classes: int = 10) -> dict:
    """From the logits (n, classes) of a whole set and its labels: the mean loss, the accuracy,
    each class's accuracy (its recall) and the confusion matrix (rows: true label; columns: the
    label predicted). Plain Python values, ready for JSON: {"loss": float, "accuracy": float,
    "per_class_accuracy": a list of floats, "confusion": a list of lists of ints}."""
    predicted = logits.argmax(axis=1)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    return {
        "loss": cross_entropy(logits, y),
        "accuracy": float((predicted == y).mean()),
        "per_class_accuracy": per_class.tolist(),
        "confusion": confusion.tolist(),
    }


def predict_logits(params: Params, x: np.ndarray, config: TrainConfig, batch: int = 4096):
    """The logits of a whole set, in chunks (the hidden layers of 10,000 images at once would
    take 30 MB a layer for nothing)."""
    return np.concatenate(
        [
            forward(params.W, params.b, x[i : i + batch], config.activation)[-1]
            for i in range(0, len(x), batch)
        ]
    )


def dead_units(params: Params, x: np.ndarray, config: TrainConfig) -> list[float]:
    """For each hidden layer, the fraction of its units whose output is 0 for every row of x.
    A ReLU unit whose input is negative for every sample gets no gradient (ReLU' = 0 there) and
    never recovers: one large step can push many units there for good."""
    hs = forward(params.W, params.b, x, config.activation)[1:-1]
    return [float((h <= 0).all(axis=0).mean()) for h in hs]


def train(
    config: TrainConfig,
    data: dict[str, np.ndarray],
    dtype=np.float32,
    progress: bool = True,
) -> tuple[Params, list[dict]]:
    """Train for config.epochs on data (from data.prepare_data) and evaluate on its test set
    after each epoch. Returns the parameters and one record per epoch ({"epoch": 1, 2, ...,
    "train_loss", "train_accuracy", "test_loss", "test_accuracy", ...}). Raises
    FloatingPointError when the loss becomes NaN or infinite, its message naming the epoch and
    the learning rate and ending "lower --lr" (the learning rate is too large)."""
    config.validate(data["x_train"].shape[1], int(data["y_test"].max(initial=9)) + 1)
    params = he_init(tuple(config.widths), config.seed).astype(dtype)
    x, y = data["x_train"].astype(dtype, copy=False), data["y_train"]
    n = len(y)
    steps = math.ceil(n / config.batch_size)
    history = []
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        order = epoch_order(n, config, epoch)
        loss_sum, correct = 0.0, 0
        bar = Progress(total=steps, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                       disable=not progress)  # fmt: skip
        with bar:
            for s in range(steps):
                idx = order[s * config.batch_size : (s + 1) * config.batch_size]
                lr = lr_at(config, epoch * steps + s, config.epochs * steps)
                with np.errstate(over="ignore", invalid="ignore"):  # a diverging run: said below
                    loss, right = train_step(params, x[idx], y[idx], lr, config)
                if not math.isfinite(loss):
                    raise FloatingPointError(
                        f"the loss became {loss} in epoch {epoch + 1}, step {s + 1} "
                        f"(lr {lr:.3g}): lower --lr"
                    )
                loss_sum, correct = loss_sum + loss * len(idx), correct + right
                bar.update()
                if s % 20 == 0 or s == steps - 1:
                    bar.set_postfix(loss=loss_sum / min(n, (s + 1) * config.batch_size))
        seconds = time.perf_counter() - t0
        test = evaluate(predict_logits(params, data["x_test"], config), data["y_test"])
        history.append({
            "epoch": epoch + 1,
            "train_loss": loss_sum / n,
            "train_accuracy": correct / n,
            "test_loss": test["loss"],
            "test_accuracy": test["accuracy"],
            "seconds": seconds,
        })  # fmt: skip
    return params, history
