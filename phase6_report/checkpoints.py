"""The course's checkpoints, measured on this machine: does each phase do what it set out to do?

    python -m phase6_report.checkpoints [--workspace workspace] [--json FILE]    (nox -s checkpoints)

Each checkpoint runs in a process of its own, with your versions of the exercises standing in for
the reference modules where you have written them (`python -m shared.exercises`; the files in
the workspace folder), the reference otherwise, and says which it used. A checkpoint that needs a
GPU, on a machine without one, says so and quotes what the H100 results committed with Phases 4
and 5 show instead. The table: checkpoint, figure, target, pass or not.

    1  XOR                 the 2-4-1 pure-Python network learns XOR: all four points right
    2  MNIST in NumPy      Phase 2's network, 10 epochs: at least 98% test accuracy
    3  C against Python    the C product equals Phase 1's to float64 rounding, and is 100-500x
                           faster (n = 200)
    4  GPU against C       the GPU product of Phase 4 is 20-50x faster than Phase 3's C (n = 1000)
    5  MNIST on the CPU    Phase 5's C trainer, 10 epochs: at least 98%
    6  MNIST on the GPU    the main job on the GPU in under 30 s (training and setup)

About 2 minutes on two CPU cores without a GPU (MNIST twice, the rest in seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["CHECKPOINTS", "main", "run_all", "run_one"]


def _use_workspace(workspace: Path, ids: tuple[str, ...]) -> list[str]:
    """Put the learner's files of exercises `ids` in place of the reference modules; returns
    what was used, one entry per exercise ("1.1 yours", "1.2 reference")."""
    from shared.exercise_plugin import substitute
    from shared.exercises import EXERCISES

    used = []
    for exercise_id in ids:
        exercise = EXERCISES[exercise_id]
        path = workspace / exercise.file
        if path.exists():
            substitute(exercise.module, str(path), exercise_id)
            used.append(f"{exercise_id} yours")
    return used


def _xor() -> dict:
    from phase1_python import Matrix
    from phase1_python.examples.xor import INPUTS, TARGETS, train

    net, history = train(progress=False)
    out = net(Matrix(INPUTS)).data
    right = sum((o[0] > 0.5) == (t[0] > 0.5) for o, t in zip(out, TARGETS, strict=True))
    return {"figure": f"{right} of 4 points right, final loss {history[-1]:.3g}",
            "target": "4 of 4", "passed": right == 4}  # fmt: skip


def _mnist_numpy(data_dir) -> dict:
    from phase2_numpy.data import prepare_data
    from phase2_numpy.train import TrainConfig, train
    from shared.datasets import load_dataset

    config = TrainConfig()
    data = prepare_data(load_dataset("mnist", data_dir), config)
    t0 = time.perf_counter()
    _, history = train(config, data, progress=False)
    accuracy = history[-1]["test_accuracy"]
    return {"figure": f"{accuracy:.2%} after {config.epochs} epochs, "
                      f"{time.perf_counter() - t0:.0f} s",
            "target": ">= 98%", "passed": accuracy >= 0.98}  # fmt: skip


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _c_against_python() -> dict:
    import phase3_c
    from phase1_python import Matrix

    n = 200
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    ma, mb = Matrix(a.tolist()), Matrix(b.tolist())
    python, c = np.array((ma @ mb).data), phase3_c.matmul(a, b)
    exact = a @ b
    error = float(np.max(np.abs(c - python)) / np.max(np.abs(exact)))
    speedup = _time(lambda: ma @ mb) / _time(lambda: phase3_c.matmul(a, b), 20)
    ok = error < 1e-12 and speedup >= 100
    return {"figure": f"max difference {error:.1e} of the largest element; {speedup:,.0f}x "
                      f"faster than pure Python (n = {n}, float64)",
            "target": "equal to 1e-12; 100-500x", "passed": ok}  # fmt: skip


def _committed(path: str, pick) -> str:
    """What a committed results file shows, for a checkpoint this machine cannot measure."""
    try:
        from shared.exercises import repository_root  # the checkout, wherever this is installed

        data = json.loads((repository_root() / path).read_text())
        return pick(data)
    except (OSError, ValueError, KeyError, StopIteration) as e:
        return f"(no committed result: {e})"


def _gpu() -> bool:
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except ImportError:
        return False


def _gpu_against_c() -> dict:
    target = "20-50x"
    if not _gpu():

        def pick(data):  # this very checkpoint, run on the H100 machine
            row = next(r for r in data["rows"] if r["checkpoint"].startswith("4 "))
            return f"no GPU here; the committed H100 run: {row['figure']}"

        figure = _committed("phase6_report/results/h100-checkpoints.json", pick)
        return {"figure": figure, "target": target, "passed": None}
    from numba import cuda

    import phase3_c
    from phase4_cuda.matmul import DEFAULT_VERSION, PRECISIONS, plan, relative_error, unsupported

    n = 1000
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    exact = a.astype(np.float64) @ b
    da, db, dc = cuda.to_device(a), cuda.to_device(b), cuda.device_array((n, n), np.float32)
    c_seconds = _time(lambda: phase3_c.matmul_f32(a, b), 10)
    speedups = {}
    # the fastest float32 version, and the tensor cores in TF32 where the GPU has them
    versions = {"FP32": (DEFAULT_VERSION, PRECISIONS["fp32"][1])}
    if unsupported("tf32") is None:
        versions["TF32 tensor cores"] = PRECISIONS["tf32"]
    for label, (version, tolerance) in versions.items():
        launch = plan(version, da, db, dc)  # planned once, as Phase 5 and the roadmap do
        launch()  # compile, or load from the kernel cache
        cuda.synchronize()
        error = relative_error(dc.copy_to_host(), exact)
        if not error <= tolerance:
            raise AssertionError(f"the GPU product ({version}) is off by {error:.1e}")

        def gpu(launch=launch):
            launch()
            cuda.synchronize()

        speedups[label] = c_seconds / _time(gpu, 20)
    figure = ", ".join(f"{s:,.0f}x in {label}" for label, s in speedups.items())
    return {"figure": f"{figure} against the C product (n = {n}, float32)",
            "target": target, "passed": max(speedups.values()) >= 20}  # fmt: skip


def _mnist_trainer(device: str, data_dir) -> dict:
    import tempfile

    from phase2_numpy.train import TrainConfig
    from phase5_training.train import train

    with tempfile.TemporaryDirectory() as out:
        m = train(TrainConfig(), out, data_dir, device=device, progress=False)
    accuracy, seconds = m["test"]["accuracy"], m["train_seconds"]
    setup = m["compile_seconds"] + m["capture_seconds"]
    if device == "cpu":
        return {"figure": f"{accuracy:.2%}, {seconds:.1f} s of training",
                "target": ">= 98%", "passed": accuracy >= 0.98}  # fmt: skip
    return {"figure": f"{seconds + setup:.1f} s ({seconds:.2f} s training, {setup:.1f} s "
                      f"compiling and capturing), {accuracy:.2%}",
            "target": "< 30 s", "passed": seconds + setup < 30 and accuracy >= 0.98}  # fmt: skip


def _mnist_gpu(data_dir) -> dict:
    if _gpu():
        return _mnist_trainer("gpu", data_dir)

    def pick(data):
        rows = {r["peer"]: r for r in data["rows"]}
        fp32 = next(r for k, r in rows.items() if k.startswith("nn-foundations") and "fp32" in k)
        tf32 = next(r for k, r in rows.items() if k.startswith("nn-foundations") and "tf32" in k)
        return (f"no GPU here; the committed H200 run: {fp32['train_s']:.2f} s of training in "
                f"FP32 ({tf32['train_s']:.2f} s in TF32), {fp32['setup_s']:.1f} s loading the "
                f"cached kernels, {fp32['test_accuracy']:.2%}")  # fmt: skip

    figure = _committed("phase5_training/results/h200-steps.json", pick)
    return {"figure": figure, "target": "< 30 s", "passed": None}


#: name -> (title, the exercises whose learner files it uses, the measurement)
CHECKPOINTS = {
    "xor": ("1 XOR", ("1.1", "1.2", "1.3", "1.5", "1.6"), lambda d: _xor()),
    "mnist_numpy": ("2 MNIST in NumPy", ("2.1", "2.2"), _mnist_numpy),
    "c": ("3 C matches Python, faster", ("1.1",), lambda d: _c_against_python()),
    "gpu": ("4 GPU against C", (), lambda d: _gpu_against_c()),
    "mnist_cpu": ("5 MNIST on the CPU", ("5.2",), lambda d: _mnist_trainer("cpu", d)),
    "mnist_gpu": ("6 MNIST on the GPU", ("5.1", "5.2"), _mnist_gpu),
}

#: the checkpoints measured only on a GPU (without one they quote the committed H100 or H200 run)
NEEDS_GPU = frozenset({"gpu", "mnist_gpu"})


def _one(name: str, workspace: Path, data_dir) -> dict:
    """One checkpoint, in this process: the learner's files first, then the measurement."""
    title, ids, measure = CHECKPOINTS[name]
    if name in NEEDS_GPU and not _gpu():  # it quotes the committed run: nothing of yours runs
        ids = ()
    result = {"checkpoint": title}
    try:
        used = _use_workspace(workspace, ids)
        result["implementation"] = ", ".join(used) if used else "reference"
        result |= measure(data_dir)
    except Exception as e:  # a learner's unfinished exercise, missing data: said, not raised
        message = str(e).splitlines()[0][:160] if str(e) else ""
        result |= {"figure": f"{type(e).__name__}: {message}", "target": "", "passed": False}
    return result


def run_one(name: str, workspace: Path, data_dir=None) -> dict:
    """One checkpoint in a fresh process, so that the learner's files it put in place of the
    reference modules reach nothing else."""
    command = [sys.executable, "-P", "-m", "phase6_report.checkpoints", "--one", name,
               "--workspace", str(workspace)]  # fmt: skip
    if data_dir:
        command += ["--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"checkpoint": CHECKPOINTS[name][0], "implementation": "",
                "figure": f"did not run: {tail[:160]}", "target": "", "passed": False}  # fmt: skip


def run_all(workspace: Path, data_dir=None) -> list[dict]:
    """Every checkpoint, each in a process of its own."""
    return [run_one(name, workspace, data_dir) for name in CHECKPOINTS]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m phase6_report.checkpoints",
                                description=__doc__.split("\n\n")[0])  # fmt: skip
    p.add_argument("--workspace", type=Path, default=Path("workspace"),
                   help="your exercises' files (default: workspace)")  # fmt: skip
    p.add_argument("--data-dir", help="where MNIST is (default: shared/datasets.py's search)")
    p.add_argument("--json", help="also write the table to this JSON file")
    p.add_argument("--one", choices=list(CHECKPOINTS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.workspace, args.data_dir)))
        return 0
    from shared.results import markdown_table

    rows = run_all(args.workspace, args.data_dir)
    verdict = {True: "pass", False: "NOT YET", None: "not measured here"}
    print(markdown_table(
        ["checkpoint", "implementation", "figure", "target", "result"],
        [[r["checkpoint"], r["implementation"], r["figure"], r["target"], verdict[r["passed"]]]
         for r in rows],
    ))  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return 0 if all(r["passed"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
