"""Where a GPU training step's time goes: each matrix product of one step of the main job (a
128-row batch of 784-512-256-10), as the GPU trainer plans it, timed alone for several block
tiles and split-K counts beside the tiles and count gpu.py picks.

    python -m phase5_training.tune_step                  # the table (a GPU; about a minute)
    python -m phase5_training.tune_step --precision tf32  # the same on the tensor cores
    ncu --profile-from-start off --metrics gpu__time_duration.sum \\
        python -m phase5_training.tune_step --profile-one-step    # one real step, per kernel
    python -m phase5_training.tune_step --parts          # the step's own kernels, a step, an epoch
    python -m phase5_training.tune_step --persistent     # the persistent step: grids, splits, stages
    ncu --profile-from-start off --clock-control none --section WarpStateStats ... \\
        python -m phase5_training.tune_step --profile-persistent  # one launch of it, 20 steps

Each configuration is 50 launches captured in a CUDA graph and replayed 20 times, so launch
overhead is what a graph replay pays. `--parts` times the step's kernels that are not products
(the output layer, the update at several grids, the gather), an empty kernel (what a graph node
costs at least), whole steps replayed from one graph, and epochs of MNIST-shaped data through
run_epoch with 1, 16 and 64 steps a graph. `--persistent` times the persistent step (persistent.py)
over an epoch of MNIST-shaped data for several grids and splits of K, and then, for the first,
with each stage alone doing its work (the others only meeting at the barriers): the barriers
alone, and each stage's time above them. `--profile-one-step` runs one eager step of the GPU trainer
on real MNIST between cuda.profile_start/stop, for Nsight Compute's per-kernel durations.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time

import numpy as np
from numba import cuda

from phase2_numpy.network import he_init
from phase2_numpy.train import TrainConfig
from phase4_cuda.device import require_gpu
from phase4_cuda.matmul import Launch, TensorTiles, Tiles
from phase5_training import gpu_kernels
from phase5_training.gpu import THREADS, UPDATE_BLOCKS_PER_SM, GpuTrainer
from phase5_training.gpu_graphs import StepGraph
from phase5_training.gpu_products import SMALL_TILES, TENSOR_TILES, Product
from phase5_training.train import PRECISIONS

TILES = [*SMALL_TILES, Tiles(64, 32, 32, 4, 4)]
#: the tensor-core products' candidates: TENSOR_TILES, and deeper or shallower pipelines
TENSOR_CANDIDATES = [
    *TENSOR_TILES,
    TensorTiles(64, 64, 16, 32, 32, stages=4),
    TensorTiles(32, 64, 32, 32, 32, stages=3),
    TensorTiles(32, 32, 16, 16, 16, stages=4),
    TensorTiles(32, 32, 16, 32, 32, stages=4),
]
SPLITS = [1, 2, 3, 4, 5, 6, 8, 12]


def step_products(config: TrainConfig | None = None, precision: str = "fp32") -> list[Product]:
    """The matrix products of one training step of `config` (default: the main job's), as the
    GPU trainer plans them in `precision`, on its own buffers."""
    config = config or TrainConfig()
    trainer = GpuTrainer(he_init(config.widths, 0), config, precision=precision)
    return trainer.step_plan(config.batch_size).products


def time_launch(launch: Launch, stream) -> float:
    """Microseconds per launch: 50 launches in a graph, replayed 20 times."""
    launch()  # compile (or load from the cache) outside the capture
    stream.synchronize()
    graph = StepGraph([launch] * 50, stream)
    graph.launch()
    stream.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        graph.launch()
    stream.synchronize()
    return (time.perf_counter() - t0) / 1000 * 1e6


def time_products(tiles=None, splits=SPLITS, precision: str = "fp32") -> list[dict]:
    """For each product: every (tiles, split) timed, best first, and the one gpu.py picks."""
    require_gpu()
    tiles = tiles or (TILES if precision == "fp32" else TENSOR_CANDIDATES)
    rows = []
    for product in step_products(precision=precision):
        sums = product.options.get("col_sums") is not None  # no split-K on the tensor cores
        stream = product.launch.stream
        picked = (product.tiles, product.split)
        timings = {
            (t, s): time_launch(product.replan(t, s, stream), stream)
            for t, s in itertools.product(tiles, splits)
            if s == 1 or (math.ceil(product.k / t.BK) >= s and not (sums and precision != "fp32"))
        }
        if picked not in timings:
            timings[picked] = time_launch(product.launch, stream)
        ranked = sorted(timings.items(), key=lambda item: item[1])
        m, n = product.c.shape
        rows.append(
            {
                "product": product.name,
                "output": f"{m} x {n}",
                "K": product.k,
                "ranked": ranked,
                "picked": picked,
                "picked_us": timings[picked],
            }
        )
    return rows


@cuda.jit
def _empty(a):
    if cuda.grid(1) == 0:
        a[0] += 1.0


def _time_replays(launches: list, stream, reset, copies: int = 50, replays: int = 20) -> float:
    """Microseconds per copy of `launches`: `copies` of them in one CUDA graph, the median of
    `replays` replays, each after `reset()` (outside the timed span)."""
    for launch in launches:  # compile (or load from the cache) outside the capture
        launch()
    stream.synchronize()
    graph = StepGraph(launches * copies, stream)
    times = []
    for _ in range(replays):
        reset()
        stream.synchronize()
        t0 = time.perf_counter()
        graph.launch()
        stream.synchronize()
        times.append((time.perf_counter() - t0) / copies * 1e6)
    return sorted(times)[len(times) // 2]


def _us_per_step(trainer, order: np.ndarray, lrs: list[float], epochs: int) -> list[float]:
    """Microseconds a step of each of `epochs` epochs through run_epoch, fastest first, after one
    epoch that warms up (compiles or loads the kernels, plans and captures the steps)."""
    trainer.run_epoch(order, lrs)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        trainer.run_epoch(order, lrs)
        times.append((time.perf_counter() - t0) / len(lrs) * 1e6)
    return sorted(times)


def time_step_parts(precision: str = "fp32", n: int = 60_000) -> list[dict]:
    """The step's parts other than its products, each alone, then whole steps and epochs of n
    rows (the main job's shapes, random MNIST-shaped data): rows of {"part", "us"}."""
    require_gpu()
    config = TrainConfig()
    x, y, order = _random_mnist(n, config)
    steps = math.ceil(n / config.batch_size)
    lrs = [0.01] * steps
    trainer = GpuTrainer(he_init(config.widths, 0), config, precision=precision)
    trainer.load(x, y)
    trainer.run_epoch(order, lrs)  # compile, plan and capture
    s, plan = trainer.stream, trainer.step_plan(config.batch_size)

    def at(step):
        return lambda: trainer.pos.copy_to_device(np.full(1, step, np.int32), stream=s)

    def find(kernel):
        return next(x for x in plan.train if getattr(x, "kernel", None) is kernel)

    output, update = find(gpu_kernels.output_layer), find(gpu_kernels.sgd_update)
    flag = cuda.device_array(1, np.float32)
    rows = [
        {"part": "an empty kernel, one block", "us": _time_replays(
            [Launch(_empty, (1,), 32, (flag,), s)], s, at(0))},
        {"part": "output layer (+ loss + delta below)", "us": _time_replays([output], s, at(0))},
    ]  # fmt: skip
    for per_sm in sorted({2, UPDATE_BLOCKS_PER_SM, 8}):
        grid = (per_sm * trainer.sms,)
        launch = Launch(gpu_kernels.sgd_update, grid, THREADS, update.args, s)
        rows.append({"part": f"update + next gather, {grid[0]} blocks ({per_sm} a multiprocessor)",
                     "us": _time_replays([launch], s, at(1))})  # fmt: skip
    # the same rows again and again: these come from the L2 cache, an epoch's from memory
    rows.append({"part": "gather alone (rows in L2)", "us": _time_replays([plan.gather], s, at(1))})
    rows.append({"part": "whole step, 50 in one graph (their rows in L2)",
                 "us": _time_replays(plan.train, s, at(0))})  # fmt: skip
    for per_graph in (1, 16, 64):
        t = GpuTrainer(he_init(config.widths, 0), config, precision=precision,
                       steps_per_graph=per_graph)  # fmt: skip
        t.load(x, y)
        steps_label = f"{per_graph} step{'s' if per_graph > 1 else ''}"
        # the median of five epochs
        rows.append({"part": f"an epoch through run_epoch, {steps_label} a graph",
                     "us": _us_per_step(t, order, lrs, 5)[2]})  # fmt: skip
    return rows


def profile_one_step(data_dir: str | None = None, precision: str = "fp32") -> None:
    """One eager step of the trainer on real MNIST, between cuda.profile_start and _stop."""
    from phase2_numpy.data import prepare_data
    from shared.datasets import load_dataset

    config = TrainConfig()
    data = prepare_data(load_dataset("mnist", data_dir), config)
    gpu = GpuTrainer(he_init(config.widths, 0), config, use_graphs=False, precision=precision)
    gpu.load(data["x_train"], data["y_train"])
    gpu.order.copy_to_device(np.arange(len(data["y_train"]), dtype=np.int32))
    gpu.lrs.copy_to_device(np.full(gpu.lrs.size, 0.01, np.float32))
    plan = gpu.step_plan(config.batch_size)
    plan.gather()  # the first batch; each step's update gathers the next
    for _ in range(2):  # compile and warm up
        for launch in plan.train:
            launch()
    cuda.synchronize()
    cuda.profile_start()
    for launch in plan.train:
        launch()
    cuda.synchronize()
    cuda.profile_stop()
    print(f"profiled one step: {len(plan.train)} launches")


#: the persistent step's candidates: (splits of K for forward 1, forward 2, delta 1), and grids as
#: fractions of the most blocks that can be resident
PERSISTENT_SPLITS = [(8, 4, 4), (4, 4, 4), (8, 8, 4), (12, 8, 8), (4, 2, 2)]
PERSISTENT_GRIDS = [1.0, 0.5]
#: register caps for the persistent kernel beside persistent_kernel.MAX_REGISTERS (None: no cap)
PERSISTENT_REGISTERS = [None, 96]


def _random_mnist(n: int, config: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n random rows shaped as `config`'s inputs, their labels and a permutation of them
    (seeded): all a step's speed needs."""
    rng = np.random.default_rng(0)
    x = rng.random((n, config.widths[0]), dtype=np.float32)
    y = rng.integers(0, config.widths[-1], n)
    return x, y, rng.permutation(n)


def time_persistent(
    splits_list=PERSISTENT_SPLITS,
    grids=PERSISTENT_GRIDS,
    registers=PERSISTENT_REGISTERS,
    epochs: int = 3,
) -> list[dict]:
    """Microseconds per step of the persistent trainer on random MNIST-shaped data (60000 rows),
    the best of `epochs` epochs, for each splits x grid; other register caps; then, for the
    first, each stage alone."""
    from phase5_training.persistent import PersistentTrainer
    from phase5_training.persistent_kernel import MAX_REGISTERS, Stage

    require_gpu()
    config = TrainConfig()
    x, y, order = _random_mnist(60000, config)
    steps = math.ceil(60000 / config.batch_size)
    lrs = [1e-3] * steps

    def per_step(trainer) -> float:  # the best epoch (the first compiles, once a process)
        return _us_per_step(trainer, order, lrs, epochs)[0]

    def trainer_for(splits, blocks, stages=Stage.ALL, max_registers=MAX_REGISTERS):
        trainer = PersistentTrainer(he_init(config.widths, 0), config, splits=splits,
                                    blocks=blocks, max_registers=max_registers)  # fmt: skip
        trainer.stages = stages
        trainer.load(x, y)
        return trainer

    most = trainer_for(splits_list[0], None)
    most.run_epoch(order, lrs)  # compiles, and finds the most blocks that can be resident
    rows = []
    for splits in splits_list:
        for fraction in grids:
            blocks = max(1, int(most.blocks * fraction))
            rows.append({"splits": splits, "blocks": blocks, "registers": MAX_REGISTERS,
                         "us_per_step": per_step(trainer_for(splits, blocks))})  # fmt: skip
    for cap in registers:
        trainer = trainer_for(splits_list[0], None, max_registers=cap)
        us = per_step(trainer)
        rows.append({"splits": splits_list[0], "blocks": trainer.blocks, "registers": cap,
                     "us_per_step": us})  # fmt: skip
    first = rows[0]
    for name, mask in (
        [("barriers only", Stage(0))]
        + [(f"stage {stage.name}", stage) for stage in Stage]  # one bit each: A to E
        + [("all", Stage.ALL)]
    ):
        trainer = trainer_for(first["splits"], first["blocks"], mask)
        rows.append({"splits": first["splits"], "blocks": first["blocks"], "stages": name,
                     "registers": MAX_REGISTERS, "us_per_step": per_step(trainer)})  # fmt: skip
    return rows


def profile_persistent(steps: int = 20) -> None:
    """One launch of the persistent step (`steps` steps of 128 rows of random MNIST-shaped data,
    after a launch that compiles and warms it up), between cuda.profile_start and _stop."""
    from phase5_training.persistent import PersistentTrainer

    require_gpu()
    config = TrainConfig()
    n = steps * config.batch_size
    x, y, _ = _random_mnist(n, config)
    trainer = PersistentTrainer(he_init(config.widths, 0), config)
    trainer.load(x, y)
    order, lrs = np.arange(n), [1e-3] * steps
    trainer.run_epoch(order, lrs)
    cuda.synchronize()
    cuda.profile_start()
    trainer.run_epoch(order, lrs)
    cuda.synchronize()
    cuda.profile_stop()
    print(f"profiled one launch of the persistent step: {steps} steps, {trainer.blocks} blocks")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile-one-step", action="store_true")
    p.add_argument("--data-dir")
    p.add_argument("--precision", choices=PRECISIONS, default=PRECISIONS[0])
    p.add_argument("--persistent", action="store_true", help="time the persistent step instead")
    p.add_argument("--profile-persistent", action="store_true",
                   help="one launch of the persistent step between profile_start and _stop")  # fmt: skip
    p.add_argument("--parts", action="store_true",
                   help="time the step's other kernels, whole steps and epochs instead")  # fmt: skip
    p.add_argument("--json", help="--persistent, --parts: also write the rows to this JSON file")
    args = p.parse_args(argv)
    if args.parts:
        rows = time_step_parts(args.precision)
        for row in rows:
            print(f"{args.precision} {row['part']:55} {row['us']:6.2f} us")
        if args.json:
            from shared.results import BenchResults

            results = BenchResults(name="step_parts")
            for row in rows:
                results.add(peer=row["part"], us=row["us"], precision=args.precision)
            print(f"results written to {results.write_json(args.json)}")
        return 0
    if args.profile_persistent:
        profile_persistent()
        return 0
    if args.persistent:
        rows = time_persistent()
        for row in rows:
            print(
                f"splits {row['splits']} blocks {row['blocks']:4} registers "
                f"{row['registers'] or 'any':>4} {row.get('stages', ''):14} "
                f"{row['us_per_step']:6.1f} us a step"
            )
        if args.json:
            from shared.results import BenchResults

            results = BenchResults(name="persistent_step")
            for row in rows:
                results.add(peer=f"{row.get('stages', 'all')} {row['splits']} x{row['blocks']}",
                            **{k: v for k, v in row.items() if k != "splits"},
                            splits=list(row["splits"]))  # fmt: skip
            print(f"results written to {results.write_json(args.json)}")
        return 0
    if args.profile_one_step:
        profile_one_step(args.data_dir, args.precision)
        return 0
    total_best = total_picked = 0.0
    for row in time_products(precision=args.precision):
        best = row["ranked"][:3]
        total_best += best[0][1]
        total_picked += row["picked_us"]
        tiles, split = row["picked"]
        print(
            f"{row['product']:10} {row['output']:>10} K={row['K']:<4} picked {tiles} x{split}: "
            f"{row['picked_us']:5.1f} us | best: "
            + ", ".join(f"{t} x{s} {us:.1f} us" for (t, s), us in best)
        )
    print(f"sum of the products: picked {total_picked:.1f} us, best {total_best:.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
