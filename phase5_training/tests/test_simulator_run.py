"""Without a GPU the lessons send the learner to numba's CUDA simulator with a small run. That run
must be small from end to end (its evaluation included) and say at once that it is working:
the command below, Phase 5's README's advice, finishes within a minute on a 2-core machine."""

import json
import os
import subprocess
import sys

import pytest

from phase4_cuda.device import simulated
from shared.datasets import find_dataset

COMMAND = (
    "--device gpu --precision tf32 --widths 784 16 10 --limit 256 --batch-size 128 --epochs 1 "
    "--no-progress"
).split()


@pytest.mark.slow
def test_a_small_run_in_the_simulator_is_small_from_end_to_end(tmp_path):
    if not simulated():
        pytest.skip("this is about numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)")
    if find_dataset("mnist") is None:
        pytest.skip("MNIST not found (set NNF_DATA_DIR)")
    done = subprocess.run(
        [sys.executable, "-P", "-m", "phase5_training", *COMMAND, "--out", str(tmp_path)],
        env=dict(os.environ, NUMBA_ENABLE_CUDASIM="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "numba's CUDA simulator" in lines[0], lines[:2]  # said before any work
    assert "test accuracy" in done.stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    confusion = metrics["test"]["confusion"]
    assert sum(map(sum, confusion)) == 256  # the first 256 test images, not all 10,000
