"""The GPU trainer against the CPU trainer: the same step from the same weights and batch gives
the same weights within float32 tolerance. Runs on a GPU, or in numba's CUDA simulator (tiny
network) where there is none; skipped when neither is available."""

import functools

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
WIDTHS = (13, 7, 5, 3)


def trainers(seed=2, widths=WIDTHS, **overrides):
    from phase5_training.gpu import GpuTrainer

    config = TrainConfig(widths=widths, weight_decay=0.01, **overrides)
    params = he_init(widths, seed)
    return GpuTrainer(params.copy(), config), CpuTrainer(params.copy(), config)


def assert_same_params(gpu, cpu):
    g, c = gpu.params, cpu.params
    for a, b in zip(g.W + g.b + g.vW + g.vb, c.W + c.b + c.vW + c.vb, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.exercise(id="5.1")
@pytest.mark.parametrize(
    ("nesterov", "widths"),
    [
        (True, WIDTHS),
        (False, WIDTHS),
        # no hidden layer: the output layer has no delta below it to compute
        (True, (13, 3)),
        # a last hidden layer wider than the output layer's lanes load at once (8 x 32 columns)
        (True, (9, 300, 4)),
    ],
)
def test_two_steps_match_the_cpu_trainer(nesterov, widths, rng):
    gpu, cpu = trainers(nesterov=nesterov, widths=widths)
    for lr, batch in ((0.1, 6), (0.05, 5)):  # the second batch is smaller: partial-batch views
        x = rng.standard_normal((batch, widths[0])).astype(np.float32)
        y = rng.integers(0, widths[-1], batch)
        (gl, gc), (cl, cc) = gpu.step(x, y, lr), cpu.step(x, y, lr)
        assert abs(gl - cl) < 1e-5 * max(1.0, cl) and gc == cc
    assert_same_params(gpu, cpu)
    x = rng.standard_normal((9, widths[0])).astype(np.float32)
    np.testing.assert_allclose(gpu.logits(x), cpu.logits(x), rtol=1e-4, atol=1e-5)


@pytest.mark.exercise(id="5.1")
def test_device_epochs_match_host_steps(rng):
    # Two epochs of three steps, the last of each a partial batch: each step's update gathers
    # the next step's rows, and each epoch starts with its own gather (after an evaluation that
    # used the same input buffer).
    gpu, cpu = trainers(seed=4, batch_size=4)
    x = rng.standard_normal((10, WIDTHS[0])).astype(np.float32)
    y = rng.integers(0, WIDTHS[-1], 10)
    gpu.load(x, y)
    cpu.load(x, y)
    for lrs in ([0.1, 0.08, 0.06], [0.05, 0.04, 0.03]):
        order = rng.permutation(10)
        calls = []
        loss_sum, correct = gpu.run_epoch(order, lrs, meanwhile=functools.partial(calls.append, 1))
        assert calls == [1]  # the host's work for the next epoch, once
        expected_loss, expected_correct = cpu.run_epoch(order, lrs)  # step by step on the host
        assert abs(loss_sum - expected_loss) < 1e-4 and correct == expected_correct
        assert_same_params(gpu, cpu)
        np.testing.assert_allclose(gpu.logits(x[:3]), cpu.logits(x[:3]), rtol=1e-4, atol=1e-5)


@pytest.mark.exercise(id="5.1")
def test_device_epoch_gather_copies_the_labels_of_rows_of_one_feature(rng):
    # d = 1: a row's one element is its column 0, and that thread copies the row's label too
    from phase5_training import gpu_kernels

    x = rng.standard_normal((7, 1)).astype(np.float32)
    y, order = rng.integers(0, 3, 7).astype(np.int32), rng.permutation(7).astype(np.int32)
    xb, yb = cuda.device_array((3, 1), np.float32), cuda.to_device(np.full(3, -1, np.int32))
    pos = cuda.to_device(np.ones(1, np.int32))  # the second step of 3 rows: order[3:6]
    args = (cuda.to_device(x), cuda.to_device(y), cuda.to_device(order), pos, 3, xb, yb)
    gpu_kernels.gather_batch[1, 32](*args)
    np.testing.assert_array_equal(xb.copy_to_host(), x[order[3:6]])
    np.testing.assert_array_equal(yb.copy_to_host(), y[order[3:6]])


@pytest.mark.gpu
def test_trains_the_synthetic_digits_on_a_gpu(tiny_digits, tmp_path):
    from phase5_training.train import train

    config = TrainConfig(epochs=3, widths=(784, 32, 10), batch_size=32, lr=0.1)
    metrics = train(config, tmp_path, dataset=tiny_digits, device="gpu", progress=False)
    assert metrics["test"]["accuracy"] > 0.9 and metrics["device"] == "gpu"


def test_more_classes_than_the_output_kernel_takes_is_refused():
    from phase5_training.gpu import GpuTrainer

    config = TrainConfig(widths=(4, 3, 17))
    with pytest.raises(ValueError, match="up to 16 classes, got 17"):
        GpuTrainer(he_init(config.widths, 0), config)


def test_run_epoch_checks_its_inputs(rng):
    gpu, _ = trainers(batch_size=4)
    x = rng.standard_normal((10, WIDTHS[0])).astype(np.float32)
    y = rng.integers(0, WIDTHS[-1], 10)
    with pytest.raises(RuntimeError, match="load"):
        gpu.run_epoch(np.arange(10), [0.1] * 3)
    gpu.load(x, y)
    with pytest.raises(
        ValueError, match="expected 10 rows and 3 learning rates, got 10 rows and 2"
    ):
        gpu.run_epoch(np.arange(10), [0.1] * 2)


def test_small_products_get_tiles_that_spread_over_the_gpu():
    from phase5_training.gpu_products import SMALL_TILES, tiles_for_step

    assert tiles_for_step(128, 512, sms=132) == SMALL_TILES[2]  # 64 blocks of 32 x 32
    assert tiles_for_step(784, 512, sms=132) == SMALL_TILES[0]  # 104 blocks of 64 x 64
    assert tiles_for_step(1000, 256, sms=132) == SMALL_TILES[1]  # 128 blocks of 32 x 64
    assert tiles_for_step(4096, 512, sms=132) == SMALL_TILES[0]  # evaluation


def test_small_products_split_k_until_the_gpu_is_busy():
    from phase5_training.gpu_products import SMALL_TILES, split_for_step

    t = SMALL_TILES[2]  # 32 x 32 x 32
    assert split_for_step(128, 512, 784, t, sms=132) == 4  # 64 blocks -> 256
    assert split_for_step(128, 10, 256, t, sms=132) == 4  # 4 blocks, 8 tiles of K
    assert split_for_step(128, 256, 10, t, sms=132) == 1  # K fits in one tile
    assert split_for_step(784, 512, 128, SMALL_TILES[0], sms=132) == 1  # K = 4 tiles: short
    assert split_for_step(2048, 2048, 1024, t, sms=132) == 1  # blocks enough


def test_an_epoch_is_cut_into_graphs_of_whole_runs_of_one_batch_size():
    from phase5_training.gpu_graphs import graph_runs

    assert graph_runs([128] * 468 + [96], 16) == [(128, 16)] * 29 + [(128, 4), (96, 1)]
    assert graph_runs([32] * 6 + [8], 4) == [(32, 4), (32, 2), (8, 1)]
    assert graph_runs([32] * 8, 4) == [(32, 4), (32, 4)]
    assert graph_runs([5, 5, 3], 1) == [(5, 1), (5, 1), (3, 1)]
    assert graph_runs([7], 16) == [(7, 1)]


@pytest.mark.gpu
@pytest.mark.parametrize("steps_per_graph", [1, 4])
def test_the_captured_graph_matches_launching_one_by_one(rng, steps_per_graph):
    # Two epochs (a full and a partial batch size each), once replayed from CUDA graphs (one
    # step in each, or up to four) and once launched kernel by kernel: the same kernels in the
    # same order give the same weights.
    from phase5_training.gpu import GpuTrainer

    widths = (784, 64, 32, 10)
    config = TrainConfig(widths=widths, batch_size=32, weight_decay=0.01)
    params = he_init(widths, 3)
    x = rng.standard_normal((200, 784)).astype(np.float32)
    y = rng.integers(0, 10, 200)
    runs = []
    for use_graphs in (True, False):
        gpu = GpuTrainer(params.copy(), config, use_graphs=use_graphs,
                         steps_per_graph=steps_per_graph)  # fmt: skip
        gpu.load(x, y)
        sums = [gpu.run_epoch(rng_order, [0.1 - 0.01 * s for s in range(7)])
                for rng_order in (np.arange(200), np.arange(200)[::-1].copy())]  # fmt: skip
        runs.append((gpu.params, sums))
    (graph_params, graph_sums), (eager_params, eager_sums) = runs
    for a, b in zip(
        graph_params.W + graph_params.vb, eager_params.W + eager_params.vb, strict=True
    ):
        np.testing.assert_array_equal(a, b)
    for (gl, gc), (el, ec) in zip(graph_sums, eager_sums, strict=True):
        assert gc == ec and abs(gl - el) < 1e-6 * el


@pytest.mark.gpu
def test_the_tuning_table_times_every_product():
    from phase5_training.gpu_products import SMALL_TILES
    from phase5_training.tune_step import step_products, time_products

    rows = time_products(tiles=[SMALL_TILES[2]], splits=[1])
    assert [r["product"] for r in rows] == [p.name for p in step_products()]
    assert all(r["picked_us"] > 0 and r["ranked"] for r in rows)


@pytest.mark.gpu
def test_the_parts_table_times_every_part():
    from phase5_training.tune_step import time_step_parts

    rows = time_step_parts(n=4096)
    parts = [r["part"] for r in rows]
    assert parts[1].startswith("output layer") and parts[-1].endswith("64 steps a graph")
    assert len(rows) == 2 + 3 + 2 + 3 and all(r["us"] > 0 for r in rows)


def test_the_step_plan_names_every_product_of_the_step():
    # What tune_step times is read from the plan: the products of the hidden layers' forward
    # pass (the output layer is fused with the loss and the delta below it), then per layer from
    # the top dW and, below that, delta.
    from phase5_training import gpu_kernels
    from phase5_training.gpu_graphs import StreamWait

    gpu, _ = trainers()
    step = gpu.step_plan(6)
    assert [p.name for p in step.products] == [
        "forward 1", "forward 2", "dW 3", "dW 2", "delta 1", "dW 1",
    ]  # fmt: skip
    shapes = {p.name: (p.c.shape, p.k) for p in step.products}
    assert shapes["forward 1"] == ((6, 7), 13) and shapes["dW 1"] == ((13, 7), 6)
    assert shapes["delta 1"] == ((6, 7), 5)
    assert step.products[0].options == {"bias": gpu.biases[0], "activation": "relu"}
    assert len(step.forward) == 3 and step.gather is None  # nothing loaded: nothing to gather
    # the forward pass, the fused output layer, the products and the update, in that order;
    # dW 3 and dW 2 each on a branch of its own, forked after the output layer and joined
    # before the update, beside delta 1 and dW 1 on the trainer's stream
    launches = [x for x in step.train if not isinstance(x, StreamWait)]
    assert [x.kernel for x in launches[2:3]] == [gpu_kernels.output_layer]
    assert launches[3:-1] == [p.launch for p in step.products[2:]]
    assert launches[-1].kernel is gpu_kernels.sgd_update and len(launches) == 2 + 1 + 4 + 1
    streams = {p.name: p.launch.stream for p in step.products}
    branches = [streams["dW 3"], streams["dW 2"]]
    assert branches[0] is not branches[1] and gpu.stream not in branches
    assert all(streams[n] is gpu.stream for n in ("forward 1", "forward 2", "delta 1", "dW 1"))
    waits = [(x.source, x.waiting) for x in step.train if isinstance(x, StreamWait)]
    forks = [(gpu.stream, branch) for branch in branches]
    assert waits == [*forks, *((b, a) for a, b in forks)]
    assert step.train.index(launches[-1]) == len(step.train) - 1  # after the joins
    assert gpu.step_plan(6) is step  # planned once


# The tensor-core precisions: the same step with every product in TF32 or BF16 (float32 weights,
# momentum and loss) against the FP32 step from the same weights and batches.
def update_error(precision, rng):
    """||update - FP32 update|| / ||FP32 update|| over every parameter after two steps."""
    from phase5_training.gpu import GpuTrainer

    config = TrainConfig(widths=WIDTHS, weight_decay=0.01)
    params = he_init(WIDTHS, 3)
    fp32 = GpuTrainer(params.copy(), config)
    low = GpuTrainer(params.copy(), config, precision=precision)
    for lr, batch in ((0.1, 6), (0.05, 5)):
        x = rng.standard_normal((batch, WIDTHS[0])).astype(np.float32)
        y = rng.integers(0, WIDTHS[-1], batch)
        (fl, _), (ll, _) = fp32.step(x, y, lr), low.step(x, y, lr)
        assert abs(fl - ll) < 1e-2 * max(1.0, fl)
    start = np.concatenate([a.ravel() for a in params.W + params.b]).astype(np.float64)
    moved = [
        np.concatenate([a.ravel() for a in t.params.W + t.params.b]) - start for t in (fp32, low)
    ]
    return np.linalg.norm(moved[1] - moved[0]) / np.linalg.norm(moved[0])


#: the largest relative difference of two steps' updates from the FP32 step's: 6u of the
#: precision (u = 2^-11 for TF32, 2^-8 for BF16). A product of two rounded inputs is off by up to
#: about 2u; a weight's gradient comes from results that passed through up to three products
#: (forward, the deltas below, dW), whose errors add to first order. Measured: 1.0-1.3u (TF32),
#: 0.8-1.4u (BF16).
STEP_TOLERANCE = {"tf32": 6 * 2.0**-11, "bf16": 6 * 2.0**-8}


@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_tensor_core_steps_match_the_fp32_step(precision, rng):
    err = update_error(precision, rng)
    assert 0 < err < STEP_TOLERANCE[precision]  # not 0: the products did run in low precision


@pytest.mark.precision("bf16")
def test_tensor_core_steps_use_the_tensor_core_rungs():
    from phase5_training.gpu import GpuTrainer

    config = TrainConfig(widths=(40, 24, 10), batch_size=16)
    gpu = GpuTrainer(he_init(config.widths, 0), config, precision="bf16")
    products = gpu.step_plan(16).products
    assert {p.version for p in products} == {"tensor_bf16_async"}
    assert all(p.split == 1 for p in products if p.options.get("col_sums") is not None)


def test_precisions_are_checked_in_one_line():
    from phase5_training.gpu import GpuTrainer
    from phase5_training.train import make_trainer

    config = TrainConfig(widths=WIDTHS)
    with pytest.raises(ValueError, match=r"unknown precision 'fp16'; .* fp32, tf32, bf16"):
        GpuTrainer(he_init(WIDTHS, 0), config, precision="fp16")
    with pytest.raises(ValueError, match=r"the CPU trainer .* computes in fp32"):
        make_trainer("cpu", he_init(WIDTHS, 0), config, precision="tf32")


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_trains_the_synthetic_digits_on_the_tensor_cores(tiny_digits, tmp_path, precision):
    from phase5_training.train import train

    config = TrainConfig(epochs=3, widths=(784, 32, 10), batch_size=32, lr=0.1)
    metrics = train(config, tmp_path, dataset=tiny_digits, device="gpu", progress=False,
                    precision=precision)  # fmt: skip
    assert metrics["test"]["accuracy"] > 0.9 and metrics["precision"] == precision
