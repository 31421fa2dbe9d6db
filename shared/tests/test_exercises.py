"""The exercises: every starter fails its check for the right reason (a body left to write, not an
import error), the reference passes the same check, and the command line's bad input is one line.
The C and C++ exercises (3.1, 3.3, 3.4) each keep one build (build/exercise-ID) that their checks share:
the first compiles the project, the others only the learner's file."""

from pathlib import Path

import pytest

from shared import exercises
from shared.exercises import EXERCISES, check, repository_root, start

IDS = list(EXERCISES)


def reference_file(exercise, workspace: Path) -> Path:
    """The reference module copied in as if the learner had written it."""
    source = repository_root() / exercise.reference
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
        if not EXERCISES[exercise_id].reference.endswith(".c"):  # (C says so, raising nothing)
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


def test_the_c_starter_keeps_signatures_and_comments_and_gives_hints():
    text = exercises.starter(EXERCISES["3.1"])
    assert "nn_status nn_transpose(const nn_matrix *a, nn_matrix *out) {" in text
    assert "/* Shared argument checks of the products" in text  # comments outside bodies stay
    assert 'return not_written("nn_transpose");' in text
    assert "/* hint: out is (cols x rows)" in text
    assert "static nn_status check(const nn_matrix *m) {\n    if (m == NULL)" in text  # given
    assert "acc += a->data" not in text  # the reference's answer is gone
    cpp = exercises.starter(EXERCISES["3.3"])
    assert 'not_written("product64");' in cpp and "PYBIND11_MODULE(_pybind, m) {" in cpp
    assert "gil_scoped_release release;\n        s = fn(" not in cpp
    capi = exercises.starter(EXERCISES["3.4"])  # a C extension: raises in Python, returns NULL
    assert "static void *not_written(const char *name) {" in capi
    assert 'return not_written("take");' in capi and "static PyMethodDef methods[]" in capi


def test_c_functions_finds_bodies_past_comments_strings_and_namespaces():
    source = (
        '#include "x.h"\n#define BRACE "{"\nnamespace {\nint f(int a) { /* } */ return a; }\n'
        '}  // namespace\nstatic const char *g(void) { return "}"; }\nstruct s { int x; };\n'
    )
    found = exercises.c_functions(source)
    assert set(found) == {"f", "g"}
    first, last = found["g"]
    assert source[first : last + 1] == '{ return "}"; }'


def test_a_c_round_trip_one_function_at_a_time(tmp_path):
    # the learner writes the two readable products only: their tests pass, the rest still fail
    path, _ = start("3.1", tmp_path)
    code, before = check("3.1", tmp_path)
    reference = (repository_root() / "phase3_c" / "src" / "matrix.c").read_text()
    text = path.read_text()
    head = "nn_status nn_matmul_naive("
    path.write_text(text[: text.index(head)] + reference[reference.index(head) :])
    code_after, after = check("3.1", tmp_path)
    passed = lambda outcomes: sum(o["outcome"] == "passed" for o in outcomes)  # noqa: E731
    assert code == code_after == 1 and passed(after) > passed(before)
    said = [o for o in after if "nn_matmul" in ((o["error"] or {}).get("message") or "")]
    assert not said, said[0]


def test_a_c_file_that_does_not_compile_is_named_with_its_line(tmp_path, capsys):
    text = '#include "matrix.h"\n\nint f(void) { return not_declared; }\n'
    (tmp_path / EXERCISES["3.1"].file).write_text(text)
    err = one_line_error(capsys, ["--workspace", str(tmp_path), "check", "3.1"])
    path = tmp_path / EXERCISES["3.1"].file
    assert f"{path.name} does not build: {path}:3:" in err and "not_declared" in err
