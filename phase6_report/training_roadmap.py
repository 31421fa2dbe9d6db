"""The training roadmap: one training step of the same network (784-512-256-10, a batch of 128,
softmax cross-entropy, SGD with momentum) by every route the project has, timed in one run on
this machine, from Phase 1's pure Python to the GPU.

    python -m phase6_report.training_roadmap [--batch 128] [--steps 20] [--json FILE]

Routes: Phase 1's network (pure Python, float64, one step: about 3 s), Phase 2's NumPy network
(float64 and float32), Phase 5's CPU trainer on Phase 3's C library (float32), and where a GPU
is usable, Phase 5's GPU trainer on Phase 4's kernels (float32, its steps replayed from a CUDA
graph over a loaded set). Every route first takes one step from the same weights on the same
batch, and its update is checked against Phase 2's float64 step (the specification) before it
is timed. The inputs are random, shaped like MNIST: the speed of a step does not depend on them.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from phase2_numpy.network import Params, he_init
from phase2_numpy.train import TrainConfig, reference_step, train_step
from phase6_report.roadmap import add_routes
from shared.load_monitor import LoadMonitor
from shared.machine import gpu_status
from shared.results import BenchResults, markdown_table
from shared.testing import relative_error
from shared.timing import Timing, time_call

__all__ = ["main", "training_roadmap"]

WIDTHS = (784, 512, 256, 10)
#: the largest relative error of a route's weight update against the float64 specification
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


def _check(route: str, before: Params, after: Params, expected: Params, dtype: str) -> None:
    """The route's update of every weight matrix against the specification's."""
    for l, (w0, w1, we) in enumerate(zip(before.W, after.W, expected.W, strict=True)):
        w0 = w0.astype(np.float64)
        err = relative_error(np.asarray(w1, np.float64) - w0, we - w0)
        if not err <= TOLERANCE[dtype]:
            raise AssertionError(f"training roadmap: {route} updates W{l} wrongly ({err:.2e})")


def _phase1_route(params: Params, x, y, lr: float, expected: Params):
    """Phase 1's Network from the same weights; its SGD is plain (no momentum on a first step
    from zero velocity, no weight decay, no Nesterov term): checked against that configuration."""
    from phase1_python.layers import Activation, Dense
    from phase1_python.losses import LOSSES, one_hot
    from phase1_python.matrix import Matrix
    from phase1_python.network import Network

    layers = []
    for l, (w, b) in enumerate(zip(params.W, params.b, strict=True)):
        dense = Dense(*w.shape)
        dense.W, dense.b = Matrix(w.astype(np.float64).tolist()), Matrix([b.tolist()])
        layers += [dense] + ([Activation("relu")] if l < len(params.W) - 1 else [])
    net = Network(layers)
    xm, ym = Matrix(x.astype(np.float64).tolist()), one_hot(y.tolist(), WIDTHS[-1])
    loss = LOSSES["softmax_cross_entropy"]
    timing = time_call(lambda: net.train_step(xm, ym, loss, lr), warmup=0, repeat=1)
    after = Params([np.array(d.W.data) for d in layers if isinstance(d, Dense)], [], [], [])
    _check("Phase 1", params, after, expected, "float64")
    return timing


def _numpy_route(params: Params, x, y, lr, config, expected, dtype: str, steps: int):
    p = params.astype(dtype)
    xd = x.astype(dtype)
    train_step(p, xd, y, lr, config)
    _check(f"Phase 2 ({dtype})", params, p, expected, dtype)
    return time_call(lambda: train_step(p, xd, y, lr, config), repeat=steps)


def _trainer_route(device: str, params: Params, x, y, lr, config, expected, steps: int):
    """Phase 5's trainer: one step checked, then `steps` steps over a loaded set, per step."""
    from phase5_training.train import make_trainer

    trainer = make_trainer(device, params.copy(), config)
    trainer.step(x, y, lr)
    _check(f"{device.upper()} trainer", params, trainer.params, expected, "float32")
    rng = np.random.default_rng(1)
    n = steps * len(y)
    trainer.load(rng.standard_normal((n, WIDTHS[0])).astype(np.float32),
                 rng.integers(0, WIDTHS[-1], n))  # fmt: skip
    order, lrs = np.arange(n), [lr] * steps
    trainer.run_epoch(order, lrs)  # warm-up: kernels compiled, graphs captured, data paged in
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        trainer.run_epoch(order, lrs)
        times.append((time.perf_counter() - t0) / steps)
    return Timing(times)


def training_roadmap(
    results: BenchResults, timings: dict[str, Timing], batch: int = 128, steps: int = 20
) -> None:
    """Time one training step by every route this machine has; rows go into `results`."""
    config = TrainConfig(widths=WIDTHS, batch_size=batch)
    plain = TrainConfig(widths=WIDTHS, batch_size=batch, momentum=0.0, nesterov=False,
                        weight_decay=0.0)  # fmt: skip
    rng = np.random.default_rng(0)
    params = he_init(WIDTHS, seed=0)
    x = rng.standard_normal((batch, WIDTHS[0])).astype(np.float32)
    y = rng.integers(0, WIDTHS[-1], batch)
    lr = 0.01
    expected, _ = reference_step(params, x, y, lr, config)
    expected_plain, _ = reference_step(params, x, y, lr, plain)
    rows = [
        ("Pure Python (Phase 1, float64)", _phase1_route(params, x, y, lr, expected_plain)),
        ("NumPy (Phase 2, float64)",
         _numpy_route(params, x, y, lr, config, expected, "float64", steps)),
        ("NumPy (Phase 2, float32)",
         _numpy_route(params, x, y, lr, config, expected, "float32", steps)),
    ]  # fmt: skip
    try:
        import phase3_c  # noqa: F401
    except ImportError:
        results.notes.append("Phase 3 (C) is not installed here, so the C trainer is missing")
    else:
        rows.append(("C library (Phase 5 CPU trainer, float32)",
                     _trainer_route("cpu", params, x, y, lr, config, expected, steps)))  # fmt: skip
    gpu = gpu_status()
    if gpu.usable:
        rows.append(("CUDA (Phase 5 GPU trainer, float32)",
                     _trainer_route("gpu", params, x, y, lr, config, expected, 10 * steps)))  # fmt: skip
        results.machine["gpu"] = gpu.summary
    else:
        results.notes.append(f"no GPU route: {gpu.summary}")
    add_routes(results, timings, rows, kind="training", batch=batch, widths=list(WIDTHS))
    for row in results.rows:
        row["samples_per_second"] = batch / row["seconds"]


def report(results: BenchResults) -> str:
    rows = results.rows
    table = markdown_table(
        [
            f"route (one step, batch {rows[0]['batch']})",
            "time",
            "images/s",
            "speed-up over pure Python",
        ],
        [
            [
                r["route"],
                _duration(r["seconds"]),
                f"{r['samples_per_second']:,.0f}",
                f"{r['speedup_over_python']:,.0f}x",
            ]
            for r in rows
        ],
    )
    footer = results.footer()
    return f"{table}\n\n{footer}" if footer else table


def _duration(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=128, help="images per step (default: %(default)s)")
    p.add_argument("--steps", type=int, default=20,
                   help="timed steps per fast route (default: %(default)s)")  # fmt: skip
    p.add_argument("--json", help="write the results (with machine info) to this JSON file")
    args = p.parse_args(argv)
    if args.batch < 1 or args.steps < 1:
        p.error("--batch and --steps must be at least 1")
    results = BenchResults(name="training_roadmap")
    timings: dict[str, Timing] = {}
    load = LoadMonitor().start()
    try:
        training_roadmap(results, timings, args.batch, args.steps)
    except AssertionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    results.note_load(load.stop(), timings)
    print(report(results))
    if args.json:
        print(f"results written to {results.write_json(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
