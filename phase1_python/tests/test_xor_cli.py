"""The XOR example's command line: settings that cannot train are one-line errors (exit 2)
before any training, never a traceback."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phase1_python.examples import xor


def outcome(capsys, argv) -> tuple[int, str]:
    try:
        code = xor.main(["--no-progress", *argv])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--epochs", "0"], "--epochs must be at least 1, got 0"),
        (["--epochs", "-5"], "--epochs must be at least 1, got -5"),
        (["--lr", "nan"], "--lr must be a finite number > 0, got nan"),
        (["--lr", "-1"], "--lr must be a finite number > 0"),
        (["--lr", "inf"], "--lr must be a finite number > 0"),
        (["--seed", "-1"], "--seed must be >= 0"),
        (["--epochs", "many"], "invalid int value"),
    ],
)
def test_settings_that_cannot_train_are_one_line_errors(capsys, monkeypatch, argv, says):
    monkeypatch.setattr(xor, "train", lambda *a, **k: pytest.fail("trained"))
    code, err = outcome(capsys, argv)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and says in err


def test_a_diverging_learning_rate_is_exit_1_in_one_line(capsys, monkeypatch):
    def diverge(*args, **kwargs):
        raise FloatingPointError("loss became nan in epoch 2")

    monkeypatch.setattr(xor, "train", diverge)
    code, err = outcome(capsys, ["--lr", "1e300"])
    assert code == 1 and err == "error: loss became nan in epoch 2\n"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    epochs=st.one_of(st.integers(-(10**20), 3), st.text(max_size=4)),
    lr=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4)),
    seed=st.one_of(st.integers(-(10**20), 10**20), st.text(max_size=4)),
)
def test_any_command_line_is_an_answer_or_one_line(capsys, epochs, lr, seed):
    argv = ["--epochs", str(epochs), "--lr", str(lr), "--seed", str(seed)]
    code, err = outcome(capsys, argv)
    assert code in (0, 1, 2)
    assert code == 0 or (err.startswith("error: ") and err.count("\n") == 1), err
