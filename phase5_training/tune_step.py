"""Where a GPU training step's time goes: each matrix product of one step of the main job (a
128-row batch of 784-512-256-10), as the GPU trainer plans it, timed alone for several block
tiles and split-K counts beside the tiles and count gpu.py picks.

    python -m phase5_training.tune_step                  # the table (a GPU; about a minute)
    python -m phase5_training.tune_step --precision tf32  # the same on the tensor cores
    ncu --profile-from-start off --metrics gpu__time_duration.sum \\
        python -m phase5_training.tune_step --profile-one-step    # one real step, per kernel

Each configuration is 50 launches captured in a CUDA graph and replayed 20 times, so launch
overhead is what a graph replay pays. `--profile-one-step` runs one eager step of the GPU trainer
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
from phase5_training.gpu import SMALL_TILES, TENSOR_TILES, GpuTrainer, Product, StepGraph

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
    step = gpu.step_plan(config.batch_size).step
    for _ in range(2):  # compile and warm up
        for launch in step:
            launch()
    cuda.synchronize()
    cuda.profile_start()
    for launch in step:
        launch()
    cuda.synchronize()
    cuda.profile_stop()
    print(f"profiled one step: {len(step)} launches")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile-one-step", action="store_true")
    p.add_argument("--data-dir")
    p.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32")
    args = p.parse_args(argv)
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
