"""The course's checkpoints, measured on this machine: does each phase do what it set out to do?

    python -m phase6_report.checkpoints [--workspace workspace] [--json FILE]    (nox -s checkpoints)

Each checkpoint runs in a process of its own, with your versions of the exercises standing in for
the reference modules where you have written them (`python -m shared.exercises`; the files in
the workspace folder), the reference otherwise, and says which it used: your C of exercise 3.1 is
built (as its check builds it) and timed, your kernels of 4.3 and 4.4 are checked and timed on a
GPU. A checkpoint that needs a GPU, on a machine without one, says so and quotes what the H100
results committed with Phases 4 and 5 show instead; your kernels then run in numba's simulator,
where only their correctness means something. The table: checkpoint, figure, target, pass or
not, and where a figure, measured or quoted, falls outside its target range, by how much.

    1  XOR                 the 2-4-1 pure-Python network learns XOR: all four points right
    2  MNIST in NumPy      Phase 2's network, 10 epochs: at least 98% test accuracy
    3  C against Python    the C product equals Phase 1's to float64 rounding, and is 100-500x
                           faster (n = 200); your naive and i-k-j products equal it too
    4  GPU against C       the GPU product of Phase 4 is 20-50x faster than Phase 3's C (n = 1000)
    5  MNIST on the CPU    Phase 5's C trainer, 10 epochs: at least 98%
    6  MNIST on the GPU    the main job on the GPU in under 30 s (training and setup)

About 2 minutes on two CPU cores without a GPU (MNIST twice, the rest in seconds).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
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
            if exercise.option:  # C: the package built with your file, imported ahead of ours
                from shared.exercise_plugin import BuiltPackages
                from shared.exercises.c_build import built_package

                folder = built_package(exercise, path.resolve())
                atexit.register(shutil.rmtree, folder, ignore_errors=True)
                sys.meta_path.insert(0, BuiltPackages(str(folder)))
            else:
                substitute(exercise.module, str(path), exercise_id)
            used.append(f"{exercise_id} yours")
    return used


def _times(value: float) -> str:
    """A speed-up as the table shows it: 2,168x, 15x, 0.31x."""
    return f"{value:,.0f}x" if value >= 10 else f"{value:.2g}x"


def _in_range(value: float, low: float, high: float) -> tuple[bool, str]:
    """Whether a speed-up `value` reaches the target range low-high, and a remark where it falls
    outside: below it misses ("misses: 10x against 20-50x"); above it passes, and says so."""
    figure, target = _times(value), f"{low:g}-{high:g}x"
    if value < low:
        return False, f"misses: {figure} against {target}"
    if value > high:
        return True, f"above the range: {figure} against {target}"
    return True, ""


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


def _c_against_python(yours: frozenset[str]) -> dict:
    import phase3_c
    from phase1_python import Matrix

    n = 200
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    ma, mb = Matrix(a.tolist()), Matrix(b.tolist())
    python = np.array((ma @ mb).data)
    # your products where you wrote them (3.1: built from your matrix.c), and the packed product,
    # which the target is for (gemm.c: not an exercise)
    products = {"the packed product": phase3_c.matmul}
    if "3.1" in yours:
        products = {"your naive product": phase3_c.matmul_naive,
                    "your i-k-j product": phase3_c.matmul_ikj, **products}  # fmt: skip
    scale = np.max(np.abs(a @ b))
    error = max(float(np.max(np.abs(f(a, b) - python)) / scale) for f in products.values())
    seconds = _time(lambda: ma @ mb)
    speedups = {label: seconds / _time(lambda f=f: f(a, b), 20) for label, f in products.items()}
    speedups.pop("your naive product", None)  # (checked above; the i-k-j one is the timed one)
    passed, remark = _in_range(speedups["the packed product"], 100, 500)
    timed = ", ".join(f"{label} {_times(s)}" for label, s in speedups.items())
    return {"figure": f"max difference {error:.1e} of the largest element; {timed} faster than "
                      f"pure Python (n = {n}, float64)",
            "target": "equal to 1e-12; 100-500x (the packed product)",
            "passed": error < 1e-12 and passed, "remark": remark}  # fmt: skip


def _committed(path: str, pick) -> str:
    """What a committed results file shows, for a checkpoint this machine cannot measure."""
    try:
        from shared.exercises import repository_root  # the checkout, wherever this is installed

        data = json.loads((repository_root() / path).read_text())
        return pick(data)
    except (OSError, ValueError, KeyError, StopIteration) as e:
        return f"(no committed result: {e})"


def _gpu() -> bool:
    """A real CUDA GPU (numba's simulator is none: nothing timed there means anything)."""
    from shared.machine import gpu_status

    return gpu_status().usable


#: the rungs a learner writes (exercises 4.3 and 4.4), by exercise
_YOUR_RUNGS = {"4.3": "naive", "4.4": "tiled"}


def _quoted_speedup(figure: str) -> float:
    """The best speed-up a committed figure of this checkpoint states ("10x in FP32, 15x in TF32
    tensor cores ..."): the committed results hold the figure as this module wrote it."""
    return max(float(x.replace(",", "")) for x in re.findall(r"([\d,.]+)x in ", figure))


def _gpu_against_c(yours: frozenset[str], n: int = 1000) -> dict:
    target = "20-50x"
    rungs = [version for exercise_id, version in _YOUR_RUNGS.items() if exercise_id in yours]
    if not _gpu():
        quoted = {}

        def pick(data):  # this very checkpoint, run on the H100 machine
            row = next(r for r in data["rows"] if r["checkpoint"].startswith("4 "))
            quoted["speedup"] = _quoted_speedup(row["figure"])
            return f"no GPU here; the committed H100 run: {row['figure']}"

        figure = _committed("phase6_report/results/h100-checkpoints.json", pick)
        remark = ""
        if "speedup" in quoted:
            remark = _in_range(quoted["speedup"], 20, 50)[1]
            remark = remark and f"the quoted run {remark}"
        if rungs:  # numba's simulator (run_one turns it on): right or wrong, never fast or slow
            from phase4_cuda.matmul import CHECK_SHAPES, validate

            validate(rungs, CHECK_SHAPES)  # (raises on the first wrong result)
            figure = (f"your {' and '.join(rungs)} kernel{'s' if len(rungs) > 1 else ''} "
                      f"correct on odd shapes in numba's simulator (where a time means "
                      f"nothing); {figure}")  # fmt: skip
        return {"figure": figure, "target": target, "passed": None, "remark": remark}
    from numba import cuda

    import phase3_c
    from phase4_cuda.matmul import PRECISIONS, fastest, plan, relative_error, unsupported

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    exact = a.astype(np.float64) @ b
    da, db, dc = cuda.to_device(a), cuda.to_device(b), cuda.device_array((n, n), np.float32)
    c_seconds = _time(lambda: phase3_c.matmul_f32(a, b), 10)
    speedups = {}
    # what matmul() runs in float32 at this size, and on the tensor cores in TF32 where the GPU
    # has them; then your kernels
    tolerance = PRECISIONS["fp32"][1]
    versions = {"FP32": (fastest("fp32", n, n), tolerance)}
    if unsupported("tf32") is None:
        versions["TF32 tensor cores"] = (fastest("tf32", n, n), PRECISIONS["tf32"][1])
    versions |= {f"your {version} kernel": (version, tolerance) for version in rungs}
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
    ours = max(s for label, s in speedups.items() if not label.startswith("your "))
    passed, remark = _in_range(ours, 20, 50)
    figure = ", ".join(f"{_times(s)} in {label}" for label, s in speedups.items())
    return {"figure": f"{figure} against the C product (n = {n}, float32)",
            "target": target, "passed": passed, "remark": remark}  # fmt: skip


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


#: name -> (title, the exercises whose learner files it uses, the measurement: of the data
#: folder and the exercises of yours it used)
CHECKPOINTS = {
    "xor": ("1 XOR", ("1.1", "1.2", "1.3", "1.5", "1.6"), lambda d, yours: _xor()),
    "mnist_numpy": ("2 MNIST in NumPy", ("2.1", "2.2"), lambda d, yours: _mnist_numpy(d)),
    "c": ("3 C matches Python, faster", ("1.1", "3.1"), lambda d, yours: _c_against_python(yours)),
    "gpu": ("4 GPU against C", tuple(_YOUR_RUNGS), lambda d, yours: _gpu_against_c(yours)),
    "mnist_cpu": ("5 MNIST on the CPU", ("5.2",), lambda d, yours: _mnist_trainer("cpu", d)),
    "mnist_gpu": ("6 MNIST on the GPU", ("5.1", "5.2"), lambda d, yours: _mnist_gpu(d)),
}

#: the checkpoints that quote the committed H100 or H200 run without a GPU, where nothing of
#: yours runs (checkpoint 4 still checks your kernels in numba's simulator)
QUOTED_WITHOUT_GPU = frozenset({"mnist_gpu"})


def _one(name: str, workspace: Path, data_dir) -> dict:
    """One checkpoint, in this process: the learner's files first, then the measurement."""
    title, ids, measure = CHECKPOINTS[name]
    if name in QUOTED_WITHOUT_GPU and not _gpu():
        ids = ()
    result = {"checkpoint": title}
    try:
        used = _use_workspace(workspace, ids)
        result["implementation"] = ", ".join(used) if used else "reference"
        result |= measure(data_dir, frozenset(u.split()[0] for u in used))
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
    env = dict(os.environ)
    if name == "gpu" and not _gpu():  # your kernels, if any, run in numba's simulator
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    try:
        row = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"checkpoint": CHECKPOINTS[name][0], "implementation": "",
                "figure": f"did not run: {tail[:160]}", "target": "", "passed": False}  # fmt: skip
    # a C function still to write says so on stdout ("exercise 3.1: write nn_matmul_naive"),
    # raising only a status's error in Python: the line names it
    said = dict.fromkeys(re.findall(r"^exercise [0-9.]+: write \w+$", done.stdout, re.MULTILINE))
    if said and row["passed"] is False:
        row["figure"] = f"{'; '.join(said)} ({row['figure']})"
    return row


def run_all(workspace: Path, data_dir=None) -> list[dict]:
    """Every checkpoint, each in a process of its own."""
    return [run_one(name, workspace, data_dir) for name in CHECKPOINTS]


def _result(row: dict) -> str:
    """The table's verdict: pass, NOT YET or not measured here, and the remark of a figure
    outside its target range ("NOT YET: misses: 10x against 20-50x")."""
    verdict = {True: "pass", False: "NOT YET", None: "not measured here"}[row["passed"]]
    return f"{verdict}: {row['remark']}" if row.get("remark") else verdict


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
    print(markdown_table(
        ["checkpoint", "implementation", "figure", "target", "result"],
        [[r["checkpoint"], r["implementation"], r["figure"], r["target"], _result(r)]
         for r in rows],
    ))  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return 0 if all(r["passed"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
