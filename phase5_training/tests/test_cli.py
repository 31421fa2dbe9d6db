"""The command line as a learner meets it: every option explained with its default, one-line
errors, the CPU path without numba, and a summary that keeps compiling apart from training."""

import json
import os
import subprocess
import sys

import pytest

from phase5_training import __main__ as cli
from shared.datasets import find_dataset

HAS_MNIST = find_dataset("mnist") is not None

# Run the command line in a fresh interpreter where numba cannot be imported, as after a plain
# `pip install .` (numba-cuda comes only with the `cuda` extras).
WITHOUT_NUMBA = """
import sys
sys.modules["numba"] = sys.modules["numba_cuda"] = None  # `import numba` now fails
from phase5_training.__main__ import main
code = main(sys.argv[1:])
assert "numba" not in sys.modules or sys.modules["numba"] is None, "numba was imported"
sys.exit(code)
"""


def run_without_numba(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    return subprocess.run(
        [sys.executable, "-P", "-c", WITHOUT_NUMBA, *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def test_every_option_says_what_it_does_and_its_default(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.parse(["--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines: unwrap them
    parser_options = [
        "--dataset", "--data-dir", "--device", "--threads", "--widths", "--epochs", "--batch-size",
        "--lr", "--momentum", "--no-nesterov", "--weight-decay", "--schedule", "--val-fraction",
        "--seed", "--limit", "--test-limit", "--out", "--resume", "--evaluate", "--no-progress",
    ]  # fmt: skip
    for option in parser_options:
        assert option in text
    for shown in ("(default: auto)", "(default: 10)", "(default: 784 512 256 10)",
                  "(default: results/mnist)", "(default: 0.05)", "(default: every CPU"):  # fmt: skip
        assert shown in text, shown


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_threads_must_be_a_positive_count(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.parse(["--threads", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --threads: ") and err.count("\n") == 1


def test_without_numba_auto_uses_the_cpu_and_gpu_names_the_extra():
    done = run_without_numba("--device", "gpu", "--epochs", "1")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: --device gpu needs numba-cuda, which is not installed")
    assert "[cuda12]" in done.stderr and done.stderr.count("\n") == 1 and not done.stdout


@pytest.mark.skipif(not HAS_MNIST, reason="MNIST not found (set NNF_DATA_DIR)")
def test_without_numba_the_cpu_trains(tmp_path):
    done = run_without_numba(
        "--device", "auto", "--limit", "1000", "--epochs", "1", "--threads", "1",
        "--no-progress", "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "device: cpu, with Phase 3's C library (no GPU support: numba-cuda is not installed)"
    )
    summary = next(line for line in lines if line.startswith("mnist on the cpu"))
    assert "after 1 epoch," in summary and "s of training" in summary
    assert "compiling" not in done.stdout  # nothing is compiled on the CPU
    assert done.stderr == ""  # no warnings, no traceback


@pytest.mark.skipif(not HAS_MNIST, reason="MNIST not found (set NNF_DATA_DIR)")
def test_test_limit_evaluates_the_first_test_images_only(tmp_path, capsys):
    code = cli.main([
        "--device", "cpu", "--limit", "300", "--test-limit", "200", "--epochs", "1",
        "--threads", "1", "--no-progress", "--out", str(tmp_path),
    ])  # fmt: skip
    assert code == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["test_images"] == 200 == sum(map(sum, metrics["test"]["confusion"]))
    assert "(first 200 test images) after 1 epoch" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "-3"])
def test_test_limit_must_be_positive(value, tmp_path, capsys):
    code = cli.main(["--device", "cpu", "--test-limit", value, "--out", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err == f"error: --test-limit must be at least 1, got {value}\n"


@pytest.mark.parametrize(
    ("simulated", "device", "argv", "expected"),
    [
        (True, "gpu", ["--limit", "256"], 256),  # the simulator: as small as the training set
        (True, "gpu", ["--limit", "256", "--test-limit", "512"], 512),  # unless told otherwise
        (True, "gpu", [], None),  # no --limit: the whole test set, as asked
        (False, "gpu", ["--limit", "256"], None),  # a real GPU: the whole test set
        (True, "cpu", ["--limit", "256"], None),
    ],
)
def test_in_the_simulator_the_test_limit_follows_the_limit(
    simulated, device, argv, expected, monkeypatch, capsys
):
    status = type("Status", (), {"simulated": simulated})()
    monkeypatch.setattr(cli, "gpu_status", lambda: status)
    assert cli._test_limit(cli.parse(argv), device) == expected
    said = capsys.readouterr().out
    assert ("evaluating on the first 256 test images" in said) == (expected == 256)
