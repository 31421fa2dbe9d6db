"""One training step on the CPU (Phase 3's C library, float32) against the float64 reference
step and against Phase 1's backpropagation."""

import itertools

import numpy as np
import pytest

from phase1_python import LOSSES, Activation, Dense, Matrix, Network
from phase2_numpy.network import he_init
from phase2_numpy.train import TrainConfig, lr_at, reference_step
from phase5_training.cpu import CpuTrainer

WIDTHS = (13, 7, 5, 3)


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("batch", [1, 6])
def test_cpu_step_matches_the_reference(nesterov, batch, rng):
    config = TrainConfig(widths=WIDTHS, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
    params = he_init(WIDTHS, seed=3)
    for v in params.vW + params.vb:  # non-zero momentum, as after a few steps
        v += rng.standard_normal(v.shape).astype(np.float32) * 0.01
    x = rng.standard_normal((batch, WIDTHS[0])).astype(np.float32)
    y = rng.integers(0, WIDTHS[-1], batch)
    expected, ref_loss = reference_step(params.copy(), x, y, 0.1, config)
    trainer = CpuTrainer(params.copy(), config)
    for _ in range(1):
        loss, _ = trainer.step(x, y, 0.1)
    assert abs(loss - ref_loss) < 1e-5 * max(1, ref_loss)
    for got, want in zip(trainer.params.W + trainer.params.b + trainer.params.vW + trainer.params.vb,
                         expected.W + expected.b + expected.vW + expected.vb, strict=True):  # fmt: skip
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_gradients_match_phase1(rng):
    """With lr 1, no momentum and no decay, one step subtracts exactly the gradient: compare it
    with the gradient Phase 1's pure-Python network computes for the same weights and batch."""
    config = TrainConfig(widths=WIDTHS, momentum=0.0, nesterov=False, weight_decay=0.0)
    params = he_init(WIDTHS, seed=5)
    for b in params.b:
        b += rng.standard_normal(b.shape).astype(np.float32) * 0.1
    x = rng.standard_normal((4, WIDTHS[0])).astype(np.float32)
    y = np.array([0, 2, 1, 2])
    before = params.copy()
    CpuTrainer(params, config).step(x, y, 1.0)

    layers = []
    for l, (w, b) in enumerate(zip(before.W, before.b, strict=True)):
        dense = Dense(w.shape[0], w.shape[1])
        dense.W, dense.b = Matrix(w.astype(float).tolist()), Matrix([b.astype(float).tolist()])
        layers += [dense] + ([Activation("relu")] if l < len(before.W) - 1 else [])
    net = Network(layers)
    loss = LOSSES["softmax_cross_entropy"]
    target = Matrix(np.eye(WIDTHS[-1])[y].tolist())
    net.backward(loss.grad(net.forward(Matrix(x.astype(float).tolist())), target))
    dense_layers = [layer for layer in layers if isinstance(layer, Dense)]
    for l, layer in enumerate(dense_layers):
        np.testing.assert_allclose(
            before.W[l] - params.W[l], np.array(layer.dW.tolist()), rtol=1e-4, atol=1e-6
        )
        np.testing.assert_allclose(
            before.b[l] - params.b[l], np.array(layer.db.tolist())[0], rtol=1e-4, atol=1e-6
        )


def test_learning_rate_schedule():
    onecycle = TrainConfig(lr=0.1, warmup_fraction=0.2)
    rates = [lr_at(onecycle, s, 100) for s in range(100)]
    assert rates[0] < rates[10] < rates[19] == pytest.approx(0.1)
    assert max(rates) == pytest.approx(0.1) and rates[-1] < 0.001
    assert all(a >= b for a, b in itertools.pairwise(rates[20:]))
    assert {lr_at(TrainConfig(lr=0.3, schedule="constant"), s, 10) for s in range(10)} == {0.3}


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"widths": (100, 10)}, "must start at 784"),
        ({"widths": (784, 64, 7)}, "end at 10"),
        ({"widths": (784,)}, "at least two"),
        ({"batch_size": 0}, "batch size and epochs must be >= 1"),
        ({"lr": float("nan")}, "lr > 0"),
        ({"momentum": 1.0}, "momentum < 1"),
        ({"schedule": "step"}, "schedule must be"),
    ],
)
def test_bad_configurations(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes).validate()
