"""`python -m phase1_python.gradcheck`: the whole-network check passes, and catches a wrong gradient."""

import subprocess
import sys

from phase1_python import gradcheck, losses


def test_gradcheck_main_prints_each_layer_and_passes(capsys):
    assert gradcheck.main(["--seed", "1"]) == 0
    out = capsys.readouterr().out
    for where in ("layer 0 Dense(4, 5): dL/dW 4x5", "layer 2 Dense(5, 3): dL/db 1x3", "dL/dx 6x4"):
        assert where in out
    assert "analytic" in out and "numerical" in out
    assert out.rstrip().endswith("(tolerance 1e-06): pass")


def test_gradcheck_main_fails_on_a_gradient_that_forgets_the_batch_mean(monkeypatch, capsys):
    right = losses.LOSSES["softmax_cross_entropy"]
    wrong = losses.Loss(right.name, right.value, lambda z, t: losses.softmax(z) - t)
    monkeypatch.setitem(losses.LOSSES, "softmax_cross_entropy", wrong)
    assert gradcheck.main([]) == 1
    assert capsys.readouterr().out.rstrip().endswith("FAIL")


def test_gradcheck_runs_as_a_module_without_warnings():
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "phase1_python.gradcheck", "--eps", "1e-5"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "eps 1e-05" in done.stdout
