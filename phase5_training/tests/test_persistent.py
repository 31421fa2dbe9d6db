"""The persistent step (one cooperative kernel for every step of an epoch) against the CPU
trainer: the same steps from the same weights and batches give the same weights within float32
tolerance. In numba's simulator the cooperative grid is one block, which does every item of every
stage; on a GPU the grid fills the device."""

import numpy as np
import pytest
from numba import cuda

from phase2_numpy.network import he_init
from phase2_numpy.train import TrainConfig
from phase4_cuda.device import simulated
from phase5_training.cpu import CpuTrainer

pytestmark = pytest.mark.skipif(
    not (simulated() or cuda.is_available()),
    reason="no CUDA GPU: set NUMBA_ENABLE_CUDASIM=1 to run these in the simulator",
)
WIDTHS = (13, 7, 5, 3)  # two hidden layers; every K shorter than a tile, so most slices are empty


def trainers(seed=2, widths=WIDTHS, **overrides):
    from phase5_training.persistent import PersistentTrainer

    options = {k: overrides.pop(k) for k in ("splits", "steps_per_launch") if k in overrides}
    config = TrainConfig(widths=widths, weight_decay=0.01, **overrides)
    params = he_init(widths, seed)
    return PersistentTrainer(params.copy(), config, **options), CpuTrainer(params.copy(), config)


def assert_same_params(gpu, cpu, rtol=1e-4, atol=1e-6):
    g, c = gpu.params, cpu.params
    for a, b in zip(g.W + g.b + g.vW + g.vb, c.W + c.b + c.vW + c.vb, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("nesterov", [True, False])
def test_two_steps_match_the_cpu_trainer(nesterov, rng):
    gpu, cpu = trainers(nesterov=nesterov, batch_size=6)
    for lr, batch in ((0.1, 6), (0.05, 5)):  # the second batch is smaller than the batch size
        x = rng.standard_normal((batch, WIDTHS[0])).astype(np.float32)
        y = rng.integers(0, WIDTHS[-1], batch)
        (gl, gc), (cl, cc) = gpu.step(x, y, lr), cpu.step(x, y, lr)
        assert abs(gl - cl) < 1e-5 * max(1.0, cl) and gc == cc
    assert_same_params(gpu, cpu)
    x = rng.standard_normal((9, WIDTHS[0])).astype(np.float32)
    np.testing.assert_allclose(gpu.logits(x), cpu.logits(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("steps_per_launch", [0, 2])  # the epoch in one launch, or in two
def test_an_epoch_matches_host_steps(steps_per_launch, rng):
    # 10 rows in batches of 4: three steps, the last of 2 rows; a permutation; a schedule; two
    # epochs, so the second starts from the first's weights and momentum
    gpu, cpu = trainers(seed=4, batch_size=4, steps_per_launch=steps_per_launch)
    x = rng.standard_normal((10, WIDTHS[0])).astype(np.float32)
    y = rng.integers(0, WIDTHS[-1], 10)
    gpu.load(x, y)
    cpu.load(x, y)
    for epoch in range(2):
        order = rng.permutation(10)
        lrs = [0.1, 0.08, 0.06 - 0.01 * epoch]
        loss_sum, correct = gpu.run_epoch(order, lrs)
        expected_loss, expected_correct = cpu.run_epoch(order, lrs)  # step by step on the host
        assert abs(loss_sum - expected_loss) < 1e-4 and correct == expected_correct
    assert_same_params(gpu, cpu)


def test_splits_of_k_longer_than_a_tile(rng):
    # widths past one 32-wide tile: split-K slices that are full, partial and empty, more than
    # one tile of outputs per product, and a batch that is not a multiple of 32
    widths = (70, 40, 36, 5)
    gpu, cpu = trainers(seed=5, widths=widths, batch_size=33, splits=(3, 2, 2))
    x = rng.standard_normal((33, widths[0])).astype(np.float32)
    y = rng.integers(0, widths[-1], 33)
    (gl, gc), (cl, cc) = gpu.step(x, y, 0.05), cpu.step(x, y, 0.05)
    assert abs(gl - cl) < 1e-5 * max(1.0, cl) and gc == cc
    assert_same_params(gpu, cpu)


def test_what_the_persistent_step_refuses(rng):
    from phase5_training.persistent import PersistentTrainer

    config = TrainConfig(widths=WIDTHS)
    params = he_init(WIDTHS, 0)
    with pytest.raises(ValueError, match="computes in fp32 on the CUDA cores; for tf32"):
        PersistentTrainer(params.copy(), config, precision="tf32")
    with pytest.raises(ValueError, match=r"two hidden layers .* got 1"):
        PersistentTrainer(he_init((13, 7, 3), 0), TrainConfig(widths=(13, 7, 3)))
    with pytest.raises(ValueError, match="splits of K must be >= 1"):
        PersistentTrainer(params.copy(), config, splits=(0, 1, 1))
    gpu = PersistentTrainer(params.copy(), config, blocks=10**6)
    x = rng.standard_normal((4, WIDTHS[0])).astype(np.float32)
    with pytest.raises(ValueError, match="cannot be resident at once"):
        gpu.step(x, np.zeros(4, np.int64), 0.1)
    with pytest.raises(ValueError, match="larger than the batch size"):
        PersistentTrainer(params.copy(), TrainConfig(widths=WIDTHS, batch_size=2)).step(
            x, np.zeros(4, np.int64), 0.1
        )
    with pytest.raises(RuntimeError, match="load"):
        gpu.run_epoch(np.arange(4), [0.1])


@pytest.mark.gpu
def test_the_persistent_step_matches_the_graph_step(rng):
    # On a GPU, a full grid of blocks: an epoch of a 784-64-32-10 network with a partial last
    # batch, against the graph step. Both are float32 with sums in other orders; one epoch at a
    # small learning rate, since on random data two runs that differ by rounding drift apart.
    from phase5_training.gpu import GpuTrainer
    from phase5_training.persistent import PersistentTrainer

    widths = (784, 64, 32, 10)
    config = TrainConfig(widths=widths, batch_size=32, weight_decay=0.01)
    params = he_init(widths, 3)
    x = rng.standard_normal((200, 784)).astype(np.float32)
    y = rng.integers(0, 10, 200)
    order, lrs = rng.permutation(200), [0.01 - 0.001 * s for s in range(7)]
    runs = []
    for trainer in (PersistentTrainer(params.copy(), config), GpuTrainer(params.copy(), config)):
        trainer.load(x, y)
        runs.append((trainer, trainer.run_epoch(order, lrs)))
    (persistent, (pl, pc)), (graph, (gl, gc)) = runs
    assert persistent.blocks > 1
    assert_same_params(persistent, graph, rtol=1e-3, atol=1e-5)
    assert abs(pl - gl) < 1e-5 * gl and pc == gc
