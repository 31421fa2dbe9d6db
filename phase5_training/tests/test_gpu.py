"""The GPU trainer against the CPU trainer: the same step from the same weights and batch gives
the same weights within float32 tolerance. Runs on a GPU, or in numba's CUDA simulator (tiny
network) where there is none; skipped when neither is available."""

import numpy as np
import pytest
from numba import cuda

from phase4_cuda.device import simulated
from phase5_training.cpu import CpuTrainer
from phase5_training.mlp import TrainConfig, he_init

pytestmark = pytest.mark.skipif(
    not (simulated() or cuda.is_available()),
    reason="no CUDA GPU: set NUMBA_ENABLE_CUDASIM=1 to run these in the simulator",
)
WIDTHS = (13, 7, 5, 3)


def trainers(seed=2, **overrides):
    from phase5_training.gpu import GpuTrainer

    config = TrainConfig(widths=WIDTHS, weight_decay=0.01, **overrides)
    params = he_init(WIDTHS, seed)
    return GpuTrainer(params.copy(), config), CpuTrainer(params.copy(), config)


def assert_same_params(gpu, cpu):
    g, c = gpu.params, cpu.params
    for a, b in zip(g.W + g.b + g.vW + g.vb, c.W + c.b + c.vW + c.vb, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("nesterov", [True, False])
def test_two_steps_match_the_cpu_trainer(nesterov, rng):
    gpu, cpu = trainers(nesterov=nesterov)
    for lr, batch in ((0.1, 6), (0.05, 5)):  # the second batch is smaller: partial-batch views
        x = rng.standard_normal((batch, WIDTHS[0])).astype(np.float32)
        y = rng.integers(0, WIDTHS[-1], batch)
        (gl, gc), (cl, cc) = gpu.step(x, y, lr), cpu.step(x, y, lr)
        assert abs(gl - cl) < 1e-5 * max(1.0, cl) and gc == cc
    assert_same_params(gpu, cpu)
    x = rng.standard_normal((9, WIDTHS[0])).astype(np.float32)
    np.testing.assert_allclose(gpu.logits(x), cpu.logits(x), rtol=1e-4, atol=1e-5)


def test_a_device_epoch_matches_host_steps(rng):
    gpu, cpu = trainers(seed=4)
    x = rng.standard_normal((10, WIDTHS[0])).astype(np.float32)
    y = rng.integers(0, WIDTHS[-1], 10)
    order = rng.permutation(10)
    lrs = [0.1, 0.08, 0.06]
    gpu.load(x, y)
    loss_sum, correct = gpu.run_epoch(order, lrs, batch_size=4)
    expected_loss, expected_correct = 0.0, 0
    for s, start in enumerate(range(0, 10, 4)):
        idx = order[start : start + 4]
        loss, right = cpu.step(x[idx], y[idx], lrs[s])
        expected_loss, expected_correct = expected_loss + loss * len(idx), expected_correct + right
    assert abs(loss_sum - expected_loss) < 1e-4 and correct == expected_correct
    assert_same_params(gpu, cpu)


@pytest.mark.gpu
def test_trains_the_synthetic_digits_on_a_gpu(tiny_digits, tmp_path):
    from phase5_training.train import train

    config = TrainConfig(epochs=3, widths=(784, 32, 10), batch_size=32, lr=0.1)
    metrics = train(config, tmp_path, dataset=tiny_digits, device="gpu", progress=False)
    assert metrics["test"]["accuracy"] > 0.9 and metrics["device"] == "gpu"
