"""Run every bad-input case of the command lines, loaders, checkpoints, bindings, kernel cache and
report in a subprocess of its own, and classify each outcome: ok (the right answer), error (a
one-line error, exit 2 from a command line, or one exception from a library call), traceback,
hang, or wrong (exit 0 or 1 where an error was due, a second line, memory that grew, a file lost).

    NNF_DATA_DIR=... python -P shared/tests/bad_input_probe.py [-v] [-k SUBSTRING]

Not a test (it takes about a minute and needs the MNIST files): the suite's tests hold each case;
this counts them all at once, the way a hostile or careless user would meet them.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

P5 = [sys.executable, "-P", "-m", "phase5_training", "--device", "cpu", "--no-progress"]
SMALL = ["--limit", "256", "--widths", "784", "16", "10", "--epochs", "1", "--batch-size", "64"]
PY = [sys.executable, "-P", "-c"]

# snippets print "ok" for a right answer and "error" where a library call raised one exception
CKPT = """
import io, json, sys, numpy as np
from phase2_numpy.network import he_init
from phase2_numpy.train import TrainConfig
from phase5_training.checkpoint import load_checkpoint, save_checkpoint
path = sys.argv[1] + "/c.npz"
config = TrainConfig(widths=(784, 16, 10))
save_checkpoint(path, he_init(config.widths, 0), config, {"epoch": 1, "step": 4, "history": []})
def rewrite(meta=None, arrays=None):
    with np.load(path) as d:
        a = {k: d[k] for k in d.files}
    if meta is not None:
        a["meta"] = np.frombuffer(meta.encode(), np.uint8)
    a.update(arrays or {})
    np.savez(path, **a)
def meta_with(**config_change):
    with np.load(path) as d:
        m = json.loads(bytes(d["meta"]).decode())
    m["config"].update(config_change)
    return json.dumps(m)
"""
CKPT_CASES = {
    "checkpoint: metadata nested 100,000 deep": 'rewrite(meta="[" * 100000 + "]" * 100000)',
    "checkpoint: limit true": "rewrite(meta=meta_with(limit=True))",
    "checkpoint: limit 2.5": "rewrite(meta=meta_with(limit=2.5))",
    "checkpoint: seed 1.5": "rewrite(meta=meta_with(seed=1.5))",
    "checkpoint: epochs 1e308": "rewrite(meta=meta_with(epochs=1e308))",
    "checkpoint: a small file whose arrays expand to 345 MB": (
        "rewrite(arrays={'junk': np.zeros(90_000_000, np.float32)})"
    ),
}

IDX = """
import gzip, struct, sys
from shared.idx import read_idx
path = sys.argv[1] + "/x.idx.gz"
"""
IDX_CASES = {
    "IDX: 200 KB gzip that expands to 427 MB": (
        "f = gzip.open(path, 'wb'); f.write(struct.pack('>HBBIII', 0, 8, 3, 60000, 28, 254))\n"
        "for _ in range(427): f.write(bytes(1_000_000))\nf.close()"
    ),
    "IDX: header asking for 3.6 TiB": (
        "open(path, 'wb').write(struct.pack('>HBBIII', 0, 0x0E, 3, 2**32 - 1, 2**16, 7) + b'x')"
    ),
    "IDX: 255 dimensions": "open(path, 'wb').write(struct.pack('>HBB', 0, 8, 255) + bytes(1020))",
}

BIND = """
import phase3_c
from phase3_c import BINDINGS
"""
BIND_CASES = {
    f"{name}: {call}": f"BINDINGS[{name!r}].{call}; print('wrong')"  # each must be refused
    for name in ("capi", "ctypes", "pybind11")
    for call in (
        "set_threads(2**63)",
        "set_threads(2**32 + 4)",
        "set_threads(-1)",
        "set_kernel('auto\\0x')",
        "set_kernel(None)",
        "set_kernel(b'auto')",
    )
}

GPU = """
import numpy as np
from phase2_numpy.network import he_init
from phase2_numpy.train import TrainConfig
from phase5_training.train import train
from shared.datasets import Dataset
from shared.testing import synthetic_digits
d = synthetic_digits()
"""
GPU_CASES = {
    "GPU trainer: labels past the last class": (
        "y = d.y_train.copy(); y[3] = 12\n"
        "ds = Dataset('x', d.x_train[:64], y[:64], d.x_test[:16], d.y_test[:16], None, d.classes)"
    ),
    "GPU trainer: 16 images and 10 labels": (
        "ds = Dataset('x', d.x_train[:16], d.y_train[:10], d.x_test[:16], d.y_test[:16], None,"
        " d.classes)"
    ),
}
GPU_RUN = (
    "\nimport tempfile\ntrain(TrainConfig(widths=(784, 8, 10), epochs=1, batch_size=16), "
    "tempfile.mkdtemp(), device='gpu', dataset=ds, progress=False)\nprint('wrong')"
)

MATMUL_OUT = """
import numpy as np
from phase4_cuda.matmul import matmul
a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
out = np.zeros((3, 5), np.float32)
r = matmul(a, b, out=out)
print("ok" if (out == 4).all() and r is out else "wrong")
"""

CACHE = """
import os, pickle, sys
import numba
marker = sys.argv[1] + "/marker"
with open(sys.argv[1] + "/kc_probe.py", "w") as f:
    f.write("from numba import cuda\\nfrom phase4_cuda.kernel_cache import cached\\n"
            "@cached\\n@cuda.jit\\ndef k(x):\\n    x[0] = 1\\n")
sys.path.insert(0, sys.argv[1])
import kc_probe
cache = kc_probe.k._cache
os.chmod(cache.cache_path, 0o777)
class P:
    def __reduce__(self):
        return (open, (marker, "w"))
with open(cache._cache_file._index_path, "wb") as f:
    pickle.dump(numba.__version__, f)
    f.write(pickle.dumps((cache._cache_file._source_stamp, P())))
cache.read_entry(("float32[::1]", "sm_90"), lambda d: d)
print("wrong" if os.path.exists(marker) else "ok")
"""


def cases(tmp: Path) -> list[tuple[str, list[str], dict]]:
    """(name, command, options): options may hold `stdin`, `env`, `shell`, `check` (a function
    of the finished process that says ok/wrong), `expect` ("error" or "ok")."""
    return [*_training_cases(tmp), *_other_command_cases(tmp), *_loader_cases(tmp),
            *_snippet_cases(tmp)]  # fmt: skip


def _training_cases(tmp: Path) -> list[tuple[str, list[str], dict]]:
    """Phase 5's command line: options, resuming, pipes, a shared --out, a full disk."""
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    run = tmp / "run"
    ck = tmp / "ck"
    out: list[tuple[str, list[str], dict]] = []
    for argv, name in [
        (["--threads", "257"], "--threads 257"),
        (["--threads", "99999999999"], "--threads 99999999999"),
        (["--widths", "784", "100000000", "100000000", "10"], "widths of 570 TiB"),
        (["--seed", "-1"], "phase5 --seed -1"),
        (["--out", ""], "--out ''"),
        (["--resume", str(fifo)], "--resume a FIFO"),
        (["--evaluate", str(fifo)], "--evaluate a FIFO"),
        (
            ["--resume", str(ck / "checkpoint.npz"), "--evaluate", str(ck / "model.npz")],
            "--resume with --evaluate",
        ),
        (
            ["--resume", str(ck / "checkpoint.npz"), "--seed", "3", "--epochs", "3"],
            "--resume with another seed",
        ),
        (
            ["--resume", str(ck / "checkpoint.npz"), "--limit", "128", "--epochs", "3"],
            "--resume with another limit",
        ),
        (
            ["--resume", str(ck / "checkpoint.npz"), "--lr", "0.5", "--epochs", "3"],
            "--resume with another lr",
        ),
        (
            ["--resume", str(ck / "checkpoint.npz"), "--epochs", "1"],
            "--resume a 2-epoch checkpoint with --epochs 1",
        ),
    ]:
        widths = [] if "--widths" in argv else ["--widths", "784", "16", "10"]
        base = [*P5, "--limit", "256", *widths, "--epochs", "2", "--batch-size", "64"]
        out.append((name, [*base, "--out", str(tmp / "o"), *argv], {}))
    out.append(
        (
            "output piped into head -1",
            [
                "sh",
                "-c",
                " ".join([*P5, *SMALL, "--epochs", "2", "--out", str(run)]) + " | head -1",
            ],
            {
                "expect": "ok",
                "check": lambda p: (run / "model.npz").exists() and "Traceback" not in p.stderr,
            },
        )
    )
    lock = tmp / "busy"
    out.append(
        (
            "two runs into one --out",
            [
                "sh",
                "-c",
                # the first run long enough to be still running when the second starts
                f"{' '.join([*P5, *SMALL, '--epochs', '400', '--out', str(lock)])} & p=$!; "
                f"sleep 1.5; {' '.join([*P5, *SMALL, '--out', str(lock)])}; r=$?; kill $p; "
                "wait; exit $r",
            ],
            {},
        )
    )
    out.append(
        (
            "full disk while saving",
            [
                *PY,
                textwrap.dedent(f"""
            import errno, numpy as np, sys
            from phase5_training import __main__ as cli
            real = np.savez
            def full(*a, **k):
                raise OSError(errno.ENOSPC, "No space left on device")
            np.savez = full
            sys.exit(cli.main({P5[4:] + SMALL + ["--out", str(tmp / "full")]!r}))
        """),
            ],
            {},
        )
    )
    return out


def _other_command_cases(tmp: Path) -> list[tuple[str, list[str], dict]]:
    """Phase 2's and the XOR example's command lines, and the report's."""
    out: list[tuple[str, list[str], dict]] = []
    for argv, name in [
        (["--seed", "-1"], "phase2 --seed -1"),
        (["--widths", "784", "100000000", "100000000", "10"], "phase2 widths of 570 TiB"),
    ]:
        out.append(
            (
                name,
                [
                    sys.executable,
                    "-P",
                    "-m",
                    "phase2_numpy",
                    "--limit",
                    "256",
                    "--epochs",
                    "1",
                    "--no-progress",
                    *argv,
                ],
                {},
            )
        )
    for argv in (["--epochs", "0"], ["--epochs", "-5"], ["--lr", "nan"]):
        out.append(
            (
                f"XOR {' '.join(argv)}",
                [sys.executable, "-P", "-m", "phase1_python.examples.xor", "--no-progress", *argv],
                {},
            )
        )
    report = [sys.executable, "-P", "-m", "phase6_report"]
    out.append(("report: a run without history", [*report, "--run", str(tmp / "nohist")], {}))
    # root writes into a read-only folder: there, drawing the figures is the right answer
    out.append(
        (
            "report: a read-only run folder",
            [*report, "--run", str(tmp / "ro")],
            {"check": lambda p: os.getuid() == 0 and (tmp / "ro" / "plots").is_dir()},
        )
    )
    out.append(("report: plots is a file", [*report, "--run", str(tmp / "plotsfile")], {}))
    out.append(("report: --out a file", [*report, "--out", str(tmp / "afile"), "--no-xor"], {}))
    return out


def _loader_cases(tmp: Path) -> list[tuple[str, list[str], dict]]:
    """Damaged checkpoints and IDX files: each made by one process and loaded by another, whose
    memory is measured."""
    out: list[tuple[str, list[str], dict]] = []
    grew = "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 250_000"
    for i, (setup, items, load) in enumerate(
        ((CKPT, CKPT_CASES, "load_checkpoint(path)"), (IDX, IDX_CASES, "read_idx(path)"))
    ):
        for j, (name, body) in enumerate(items.items()):
            folder = tmp / f"loader{i}{j}"
            folder.mkdir()
            code = (
                setup.replace("\nsave_checkpoint", "\nif 0: save_checkpoint")
                + f"import resource\ntry:\n    {load}\n    print('wrong')\n"
                f"except ValueError as e:\n    print('wrong' if {grew} or '\\n' in str(e) "
                "or path not in str(e) else 'error')"
            )
            out.append(
                (
                    name,
                    [*PY, code, str(folder)],
                    {"snippet": True, "make": [*PY, setup + body, str(folder)]},
                )
            )
    return out


def _snippet_cases(tmp: Path) -> list[tuple[str, list[str], dict]]:
    """The bindings, the GPU trainer and matmul in the simulator, the kernel cache."""
    out: list[tuple[str, list[str], dict]] = []
    for name, body in BIND_CASES.items():
        code = (
            BIND
            + f"try:\n    {body}\nexcept (ValueError, TypeError, OverflowError):\n    print('error')"
        )
        out.append((name, [*PY, code], {"snippet": True}))
    sim = {"NUMBA_ENABLE_CUDASIM": "1"}
    for name, body in GPU_CASES.items():
        code = (
            GPU
            + body
            + "\ntry:"
            + textwrap.indent(GPU_RUN, "    ")
            + "\nexcept ValueError:\n    print('error')"
        )
        out.append((name, [*PY, code], {"snippet": True, "env": sim}))
    out.append(
        (
            "matmul(out=<NumPy array>)",
            [
                *PY,
                "try:\n"
                + textwrap.indent(MATMUL_OUT, "    ")
                + "except (ValueError, TypeError):\n    print('error')",
            ],
            {"snippet": True, "env": sim},
        )
    )
    out.append(
        (
            "kernel cache: a crafted index in a folder others can write",
            [*PY, CACHE, str(tmp)],
            {
                "snippet": True,
                "env": {"NUMBA_ENABLE_CUDASIM": "0", "XDG_CACHE_HOME": str(tmp / "xdg")},
            },
        )
    )
    return out


def prepare(tmp: Path) -> None:
    """The folders some cases need: a 2-epoch checkpoint, runs for the report to trip on."""
    env = os.environ | {"PYTHONPATH": ""}
    subprocess.run(
        [*P5, *SMALL, "--epochs", "2", "--out", str(tmp / "ck")],
        env=env,
        capture_output=True,
        check=True,
    )
    (tmp / "nohist").mkdir()
    (tmp / "nohist" / "metrics.json").write_text('{"dataset": "mnist", "device": "cpu"}')
    for name in ("ro", "plotsfile"):
        subprocess.run(["cp", "-r", str(tmp / "ck"), str(tmp / name)], check=True)
    (tmp / "plotsfile" / "plots").write_text("a file")
    (tmp / "ro").chmod(0o555)
    (tmp / "afile").write_text("a file")


def classify(proc: subprocess.CompletedProcess, options: dict) -> str:
    if "Traceback" in proc.stderr:
        return "traceback"
    if options.get("snippet"):
        words = proc.stdout.split()
        return words[-1] if words and words[-1] in ("ok", "error", "wrong") else "wrong"
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "):
        return "error"
    if "check" in options:
        return "ok" if proc.returncode == 0 and options["check"](proc) else "wrong"
    return "wrong"


def main() -> int:
    verbose = "-v" in sys.argv
    only = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else ""
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        prepare(tmp)
        for case, argv, options in cases(tmp):
            if only not in case:
                continue
            env = os.environ | options.get("env", {})
            try:
                if "make" in options:
                    subprocess.run(options["make"], env=env, capture_output=True, check=True)
                proc = subprocess.run(
                    argv,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    stdin=subprocess.DEVNULL,
                )
                verdict = classify(proc, options)
            except subprocess.TimeoutExpired:
                verdict = "hang"
            counts[verdict] = counts.get(verdict, 0) + 1
            if verbose or verdict not in ("ok", "error"):
                detail = (
                    ""
                    if verdict in ("ok", "error", "hang")
                    else (proc.stderr.strip().splitlines() or [""])[-1][:150]
                )
                print(f"{verdict:9} {case}  {detail}", flush=True)
        (tmp / "ro").chmod(0o755)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f"; largest child {peak} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
