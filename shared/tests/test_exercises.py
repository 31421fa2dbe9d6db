"""The exercises: every starter fails its check for the right reason (a body left to write, not an
import error), the reference passes the same check, and the command line's bad input is one line."""

from pathlib import Path

import pytest

from shared import exercises
from shared.exercises import EXERCISES, check, repository_root, start

IDS = list(EXERCISES)


def reference_file(exercise, workspace: Path) -> Path:
    """The reference module copied in as if the learner had written it."""
    source = (repository_root() / Path(*exercise.module.split("."))).with_suffix(".py")
    path = workspace / exercise.file
    path.write_text(source.read_text("utf-8"), "utf-8")
    return path


@pytest.mark.parametrize("exercise_id", IDS)
def test_every_starter_fails_its_check_for_the_right_reason(exercise_id, tmp_path):
    path, written = start(exercise_id, tmp_path)
    assert written and path.parent == tmp_path
    code, outcomes = check(exercise_id, tmp_path)
    failures = [o for o in outcomes if o["outcome"] not in ("passed", "skipped")]
    assert code == 1 and failures
    for o in failures:  # a body to write, never an import error or a broken test
        assert "NotImplementedError" in f"{o['error']['type']} {o['error']['message']}", o
        assert f"exercise {exercise_id}: write" in o["error"]["message"], o


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_reference_passes_the_same_check(exercise_id, tmp_path):
    reference_file(EXERCISES[exercise_id], tmp_path)
    code, outcomes = check(exercise_id, tmp_path)
    assert code == 0 and any(o["outcome"] == "passed" for o in outcomes)


def test_the_starter_keeps_signatures_and_docstrings_and_gives_hints():
    text = exercises.starter(EXERCISES["1.1"])
    assert "def __matmul__(self, other: Matrix) -> Matrix:" in text
    assert '"""Matrix product (rows x k) @ (k x cols)' in text
    assert 'raise NotImplementedError("exercise 1.1: write Matrix.__matmul__")' in text
    assert "# hint: transpose B once" in text
    assert "def _as_float(value: Any, where: str) -> float:" in text  # a given helper, whole
    assert "_dot(row, col)" not in text  # the reference's answer is gone
    compile(text, "starter", "exec")


def test_a_round_trip_one_function_at_a_time(tmp_path):
    # the learner writes one_hot only: its tests pass, the rest still fail
    path, _ = start("1.3", tmp_path)
    code, before = check("1.3", tmp_path)
    text = path.read_text()
    reference = (repository_root() / "phase1_python" / "losses.py").read_text()
    body = reference[reference.index("def one_hot(") : reference.index("@dataclass")]
    start_at = text.index("def one_hot(")
    text = text[:start_at] + body + text[text.index("@dataclass", start_at) :]
    path.write_text(text)
    code_after, after = check("1.3", tmp_path)
    passed = lambda outcomes: sum(o["outcome"] == "passed" for o in outcomes)  # noqa: E731
    assert code == code_after == 1 and passed(after) > passed(before)


def test_start_never_overwrites_the_learners_work(tmp_path, capsys):
    path, _ = start("1.2", tmp_path)
    path.write_text("# my work\n")
    assert exercises.main(["--workspace", str(tmp_path), "start", "1.2"]) == 0
    assert path.read_text() == "# my work\n"
    assert "already exists: left as it is" in capsys.readouterr().out


def one_line_error(capsys, argv) -> str:
    assert exercises.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_an_unknown_exercise_lists_the_ids(capsys):
    err = one_line_error(capsys, ["start", "9.9"])
    assert "no exercise '9.9'" in err and all(i in err for i in IDS)


def test_a_file_with_a_syntax_error_is_named_with_its_line(tmp_path, capsys):
    (tmp_path / EXERCISES["1.2"].file).write_text("def relu(x):\n    return x +\n")
    err = one_line_error(capsys, ["--workspace", str(tmp_path), "check", "1.2"])
    assert f"{EXERCISES['1.2'].file}:2: invalid syntax" in err


def test_a_file_that_does_not_import_is_named_with_its_line(tmp_path, capsys):
    (tmp_path / EXERCISES["1.2"].file).write_text("import math\n\nx = undefined_name\n")
    err = one_line_error(capsys, ["--workspace", str(tmp_path), "check", "1.2"])
    assert f"{EXERCISES['1.2'].file}:3: NameError" in err


def test_checking_before_starting_says_how_to_start(tmp_path, capsys):
    err = one_line_error(capsys, ["--workspace", str(tmp_path), "check", "1.1"])
    assert "python -m shared.exercises start 1.1" in err
