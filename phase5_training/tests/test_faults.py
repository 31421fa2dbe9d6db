"""Fault injection on the command line: data files that are corrupted, cut short or someone
else's; and a training run killed outright (SIGKILL: no handler runs, as in a power cut)
at seeded random moments, after which every artefact in its folder must be a whole file or
absent, and the next run must leave no temporary file behind.

The data tests write their own files; the kill test trains on the real MNIST (skipped without it).
"""

import gzip
import json
import os
import random
import subprocess
import sys
import time

import numpy as np
import pytest

from phase5_training.checkpoint import load_checkpoint
from shared.datasets import FILENAMES, PARTS, find_dataset

HAS_MNIST = find_dataset("mnist") is not None
CLI = [sys.executable, "-P", "-m", "phase5_training", "--device", "cpu", "--no-progress"]


def run(*args, timeout=120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NNF_DATA_DIR"} | {"NN_NUM_THREADS": "1"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env)


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    return done.stderr


def data_folder(tmp_path, damage: str):
    """Four MNIST-named files, one of them damaged in the way asked for."""
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    images = np.zeros((10, 28, 28), np.uint8)
    header = b"\x00\x00\x08\x03" + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    for part in PARTS:
        (folder / (FILENAMES[part] + ".gz")).write_bytes(gzip.compress(header + images.tobytes()))
    victim = folder / (FILENAMES["train_images"] + ".gz")
    if damage == "cut short":
        victim.write_bytes(victim.read_bytes()[:30])
    elif damage == "not gzip, not IDX":
        victim.write_bytes(b"<html>404 not found</html>")
    # "someone else's": well-formed files that are not MNIST (the checksums tell)
    return tmp_path / "data"


# (an unreadable file is shared/tests/test_idx.py's: as root, as in CI, every file is readable)
@pytest.mark.parametrize("damage", ["cut short", "not gzip, not IDX", "someone else's"])
def test_damaged_data_files_are_one_line_errors(tmp_path, damage):
    err = one_line_error(run("--data-dir", str(data_folder(tmp_path, damage)), "--epochs", "1"))
    assert "train-images-idx3-ubyte" in err or "mnist" in err


def artefacts_are_whole_or_absent(folder) -> int:
    """Check each artefact; return the epoch the checkpoint holds (0 without one)."""
    epoch = 0
    for name in ("checkpoint.npz", "model.npz"):
        if (folder / name).exists():
            _, _, state = load_checkpoint(folder / name)  # raises on half a file
            epoch = max(epoch, state["epoch"]) if name == "checkpoint.npz" else epoch
    if (folder / "metrics.json").exists():
        json.loads((folder / "metrics.json").read_text())
    return epoch


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MNIST, reason="MNIST not found (set NNF_DATA_DIR)")
def test_a_run_killed_at_random_moments_loses_nothing(tmp_path):
    data = str(find_dataset("mnist").parent)
    out = tmp_path / "run"
    small = [
        "--data-dir",
        data,
        "--limit",
        "1500",
        "--widths",
        "784",
        "32",
        "10",
        "--out",
        str(out),
    ]
    env = {k: v for k, v in os.environ.items() if k != "NNF_DATA_DIR"} | {"NN_NUM_THREADS": "1"}
    moments = random.Random(11)
    for _ in range(4):
        child = subprocess.Popen(
            [*CLI, *small, "--epochs", "40"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(moments.uniform(1.0, 3.0))  # loading, an epoch, or a checkpoint being saved
        child.kill()  # SIGKILL (TerminateProcess on Windows): no handler runs
        child.wait()
        artefacts_are_whole_or_absent(out)
    epoch = artefacts_are_whole_or_absent(out)
    # the survivor resumes, and the next run finishes with no temporary file left
    resume = ["--resume", str(out / "checkpoint.npz")] if epoch else []
    done = run(*small, "--epochs", str(epoch + 1), *resume)
    assert done.returncode == 0, done.stderr
    assert not list(out.glob(".*.tmp")), sorted(p.name for p in out.iterdir())
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "metrics.json", "model.npz"]
