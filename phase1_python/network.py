"""A sequential network trained with mini-batch stochastic gradient descent, in pure Python.

    net = Network([Dense(2, 4, init="xavier", seed=1), Activation("tanh"), Dense(4, 1), ...])
    history = net.fit(x, y, loss="binary_cross_entropy", epochs=2000, batch_size=4, lr=0.5)

Each step: forward the batch, take the loss and its gradient, backward through the layers in
reverse, then move every parameter against its gradient:  v = momentum v - lr dW;  W = W + v.
Progress (epoch, loss) goes through the project's shared progress bar. Deliberately simple: no
regularisation, schedules or early stopping (Phase 5 has those).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from phase1_python.layers import Layer
from phase1_python.losses import LOSSES, Loss
from phase1_python.matrix import Matrix
from shared.progress import Progress

__all__ = ["Network"]


class Network:
    def __init__(self, layers: Sequence[Layer]) -> None:
        if not layers:
            raise ValueError("a Network needs at least one layer")
        self.layers = list(layers)
        self._velocity: dict[tuple[int, str], Matrix] = {}

    def forward(self, x: Matrix) -> Matrix:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward
    predict = forward

    def backward(self, grad: Matrix) -> Matrix:
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def step(self, lr: float, momentum: float = 0.0) -> None:
        """One SGD (with optional heavy-ball momentum) update from the stored gradients."""
        for i, layer in enumerate(self.layers):
            for name, value, grad in layer.parameters():
                if grad is None:
                    raise RuntimeError(f"{layer!r}.{name} has no gradient: call backward first")
                update = grad * -lr
                if momentum:
                    key = (i, name)
                    if key in self._velocity:
                        update = self._velocity[key] * momentum + update
                    self._velocity[key] = update
                setattr(layer, name, value + update)

    def train_step(
        self, x: Matrix, y: Matrix, loss: Loss, lr: float, momentum: float = 0.0
    ) -> float:
        """Forward, the loss, backward, then one `step`: returns the batch's loss before the
        update."""
        out = self.forward(x)
        value = loss.value(out, y)
        self.backward(loss.grad(out, y))
        self.step(lr, momentum)
        return value

    def fit(
        self,
        x: Matrix,
        y: Matrix,
        loss: str | Loss = "mse",
        epochs: int = 10,
        batch_size: int = 32,
        lr: float = 0.1,
        momentum: float = 0.0,
        seed: int = 0,
        progress: bool = True,
        desc: str = "train",
    ) -> list[float]:
        """Train for `epochs` passes over (x, y) in mini-batches shuffled by `seed`; return the
        mean loss of each epoch over its rows (each batch's loss weighed by its rows). Stops
        with FloatingPointError if the loss becomes NaN or infinite."""
        if isinstance(loss, str):
            if loss not in LOSSES:
                raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(LOSSES)}")
            loss = LOSSES[loss]
        if x.rows != y.rows:
            raise ValueError(f"x has {x.rows} samples but y has {y.rows}")
        if batch_size < 1 or epochs < 1:
            raise ValueError(f"batch_size and epochs must be >= 1, got {batch_size} and {epochs}")
        rng = random.Random(seed)
        order = list(range(x.rows))
        history = []
        bar = Progress(total=epochs, desc=desc, unit="epoch", disable=not progress)
        with bar:
            for epoch in range(epochs):
                rng.shuffle(order)
                losses = []
                for start in range(0, len(order), batch_size):
                    idx = order[start : start + batch_size]
                    value = self.train_step(x.rows_at(idx), y.rows_at(idx), loss, lr, momentum)
                    if not math.isfinite(value):
                        raise FloatingPointError(
                            f"loss became {value} in epoch {epoch + 1}: lower the learning rate "
                            f"(lr={lr}) or check the inputs for NaN"
                        )
                    losses.append(value * len(idx))
                history.append(math.fsum(losses) / x.rows)
                bar.update(1)
                bar.set_postfix(loss=history[-1])
        return history
