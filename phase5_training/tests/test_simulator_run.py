"""Without a GPU the lessons send the learner to numba's CUDA simulator with a small run. That run
must be small from end to end (its evaluation included) and say at once that it is working: the
command below, the README's, stays within a minute of CPU time on a 2-core machine (about 40 s
there; its figure in the README). CPU time, not wall time: the limit must hold on a machine busy
with other tests, and it is there to catch a run that grew (the whole test set evaluated in the
simulator takes hours), not to time it."""

import json
import os
import resource
import subprocess
import sys

import pytest

from phase4_cuda.device import simulated
from shared.datasets import find_dataset

COMMAND = (
    "--device gpu --precision tf32 --widths 784 16 10 --limit 256 --batch-size 128 --epochs 1 "
    "--no-progress"
).split()
CPU_SECONDS = 60


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.slow
def test_a_small_run_in_the_simulator_is_small_from_end_to_end(tmp_path):
    if not simulated():
        pytest.skip("this is about numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)")
    if find_dataset("mnist") is None:
        pytest.skip("MNIST not found (set NNF_DATA_DIR)")
    before = _children_cpu()
    done = subprocess.run(
        [sys.executable, "-P", "-m", "phase5_training", *COMMAND, "--out", str(tmp_path)],
        env=dict(os.environ, NUMBA_ENABLE_CUDASIM="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    cpu = _children_cpu() - before
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "numba's CUDA simulator" in lines[0], lines[:2]  # said before any work
    assert lines[1].startswith("evaluating on the first 256 test images"), lines[:2]
    assert "(first 256 test images)" in done.stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["test_images"] == 256 == sum(map(sum, metrics["test"]["confusion"]))
    assert cpu < CPU_SECONDS, f"the small simulator run took {cpu:.0f} s of CPU"
