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


# (collects the tests and records each one's exercise marks, in the process that collects them)
_MARKS_PLUGIN = """
import json, os
def pytest_collection_modifyitems(items):
    marks = {i.nodeid: [m.kwargs.get("id") for m in i.iter_markers("exercise")] for i in items}
    with open(os.environ["NNF_MARKS"], "w") as f:
        json.dump(marks, f)
"""


def test_every_exercise_marks_tests_in_each_of_its_test_files(tmp_path):
    # a marker's id mistyped, or a file of the catalogue none of whose tests carry the marker,
    # would leave `check` with nothing (or less) to run
    import json
    import os
    import subprocess
    import sys

    (tmp_path / "nnf_marks.py").write_text(_MARKS_PLUGIN)
    files = sorted({t for e in EXERCISES.values() for t in e.tests if t.endswith(".py")})
    env = dict(os.environ, NNF_MARKS=str(tmp_path / "marks.json"), NUMBA_ENABLE_CUDASIM="1",
               PYTHONPATH=os.pathsep.join(filter(None, (str(tmp_path), os.environ.get("PYTHONPATH")))))  # fmt: skip
    done = subprocess.run([sys.executable, "-P", "-m", "pytest", "-p", "nnf_marks", "-p",
                           "no:cacheprovider", "--collect-only", "-q", *files],
                          cwd=repository_root(), env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    marks = json.loads((tmp_path / "marks.json").read_text())
    marked = {(node.partition("::")[0], i) for node, ids in marks.items() for i in ids}
    assert {i for _, i in marked} <= set(EXERCISES), "a marker names no exercise"
    for e in EXERCISES.values():
        for test in e.tests:
            if test.endswith(".py"):
                assert (test, e.id) in marked, f"no test of {test} is marked exercise(id={e.id!r})"


def test_the_starter_keeps_signatures_and_docstrings_and_gives_hints():
    text = exercises.starter(EXERCISES["1.1"])
    assert "def __matmul__(self, other: Matrix) -> Matrix:" in text
    assert '"""Matrix product (rows x k) @ (k x cols)' in text
    assert 'raise NotImplementedError("exercise 1.1: write Matrix.__matmul__")' in text
    assert "# hint: transpose B once" in text
    assert "def _as_float(value: Any, where: str) -> float:" in text  # a given helper, whole
    assert "_dot(row, col)" not in text  # the reference's answer is gone
    compile(text, "starter", "exec")


@pytest.mark.parametrize("exercise_id,other", [("4.3", "matmul_tiled"), ("4.4", "matmul_naive")])
def test_a_kernel_starter_is_its_rung_alone(exercise_id, other):
    # one rung per file: the starter is short, and holds one kernel, with no other's answer
    text = exercises.starter(EXERCISES[exercise_id])
    assert len(text.splitlines()) <= 150
    assert text.count("@cuda.jit") == 1 and other not in text


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


def test_the_c_starter_cuts_between_the_markers_and_keeps_the_rest():
    from shared.exercises.c_starter import marked_bodies

    for exercise_id in ("3.1", "3.3", "3.4"):
        exercise = EXERCISES[exercise_id]
        source = (repository_root() / exercise.reference).read_text()
        bodies = marked_bodies(source, exercise_id)
        assert bodies.keys() == exercise.write
        text = exercises.starter(exercise)
        assert f"exercise {exercise_id}: begin" not in text  # every marked body is cut
        kept = source
        for first, last, _ in sorted(bodies.values(), reverse=True):
            kept = kept[:first] + kept[last:]
        for line in kept.splitlines():  # and every line outside them stays
            assert line in text, line


@pytest.mark.parametrize(
    "source,said",
    [
        (
            "int f(void) {\n    /* exercise 3.1: begin f */\n    return 0;\n}\n",
            "begin of f without its end",
        ),
        (
            "int f(void) {\n    return 0;\n    /* exercise 3.1: end f */\n}\n",
            ":3: the end of f without its begin",
        ),
        (
            "/* exercise 3.1: begin f */\n/* exercise 3.1: begin g */\n",
            ":2: a second begin of g inside f's",
        ),
        (
            "// exercise 3.1: begin f\n// exercise 3.1: end g\n",
            ":2: the end of g without its begin",
        ),
    ],
)
def test_markers_that_do_not_pair_up_are_one_line(source, said):
    from shared.exercises.c_starter import marked_bodies

    with pytest.raises(exercises.ExerciseError, match=said):
        marked_bodies(source, "3.1")


def test_a_catalogue_that_disagrees_with_the_markers_is_refused():
    import dataclasses

    exercise = dataclasses.replace(EXERCISES["3.1"], write=frozenset({"nn_scale", "nn_add"}))
    with pytest.raises(exercises.ExerciseError, match="marks the bodies of elementwise"):
        exercises.starter(exercise)


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


# --- what the learner did not write, or wrote to exit or loop, fails: never a pass ---


def test_an_empty_file_fails_and_names_what_it_lacks(tmp_path):
    (tmp_path / EXERCISES["1.1"].file).write_text("")
    code, outcomes = check("1.1", tmp_path)
    assert code == 1 and not any(o["outcome"] == "passed" for o in outcomes)
    first = outcomes[0]["error"]
    assert first["type"] == "Missing"
    assert (
        "exercise 1.1: write Matrix, matmul_naive (your file does not define them)"
        in (first["message"])
    )
    # the tests reach stand-ins that say so, never the reference (which the package still holds)
    said = {o["error"]["message"] for o in outcomes[1:]}
    assert all("your file does not define it" in m for m in said), said


def test_a_function_taken_back_from_the_reference_is_not_the_learners(tmp_path):
    source = (repository_root() / "phase1_python" / "activations.py").read_text()
    head, _, _ = source.partition("\ndef relu(")
    rest = source[source.index("\ndef relu_prime(") :]
    text = head + "\nfrom phase1_python import relu  # the reference's, not written here\n" + rest
    (tmp_path / EXERCISES["1.2"].file).write_text(text)
    code, outcomes = check("1.2", tmp_path)
    relu_tests = [o for o in outcomes if "relu" in o["name"] and "prime" not in o["name"]]
    assert code == 1 and relu_tests
    assert all(o["outcome"] == "failed" for o in relu_tests), relu_tests
    assert "exercise 1.2: write relu (your file does not define it)" in str(relu_tests)


@pytest.mark.parametrize(
    "text,said",
    [
        ("import sys\nsys.exit(0)\n", ":2: your file exits when it is imported (SystemExit: 0)"),
        ("exit()\n", ":1: your file exits when it is imported (SystemExit: None)"),
        ("import os\nos._exit(0)\n", "ended the process when it was imported (exit status 0)"),
        ("raise KeyboardInterrupt\n", ":1: interrupted while your file was imported"),
        ("while True:\n    pass\n", "did not finish importing in 3 s: a loop at its top level?"),
    ],
)
def test_a_file_that_exits_or_loops_when_imported_is_one_line(text, said, tmp_path, capsys):
    (tmp_path / EXERCISES["1.2"].file).write_text(text)
    argv = ["--workspace", str(tmp_path), "check", "1.2", "--timeout", "3"]
    assert said in one_line_error(capsys, argv)


def with_body(exercise_id: str, function: str, body: str) -> str:
    """The reference of `exercise_id` with the body of top-level `function` (after its
    docstring) replaced by `body` (indented by four)."""
    import ast

    source = (repository_root() / EXERCISES[exercise_id].reference).read_text()
    node = next(n for n in ast.parse(source).body if getattr(n, "name", "") == function)
    lines = source.splitlines(keepends=True)
    first = node.body[1].lineno if isinstance(node.body[0], ast.Expr) else node.body[0].lineno
    new = "".join(f"    {line}\n" for line in body.splitlines())
    return "".join(lines[: first - 1]) + new + "".join(lines[node.end_lineno :])


@pytest.mark.parametrize(
    "body",
    [
        "while True:\n    pass",
        "while True:\n    try:\n        pass\n    except BaseException:\n        pass",
    ],
    ids=["loop", "loop-swallowing-every-exception"],
)
def test_a_loop_in_a_function_fails_at_the_time_limit_naming_it(body, tmp_path):
    import time

    (tmp_path / EXERCISES["1.2"].file).write_text(with_body("1.2", "relu", body))
    began = time.monotonic()
    code, outcomes = check("1.2", tmp_path, timeout=2)
    assert time.monotonic() - began < 60
    assert code == 1 and not any(o["outcome"] == "passed" and "relu" in o["name"] for o in outcomes)
    stopped = [o for o in outcomes if o["error"] and o["error"]["type"] == "TimeLimit"]
    assert len(stopped) == 1, outcomes
    assert "did not finish in 2 s" in stopped[0]["error"]["message"]
    assert "it was in relu (line" in stopped[0]["error"]["message"]


def test_a_loop_inside_compiled_code_is_ended_from_outside(tmp_path):
    # sum over a range runs in C and never lets Python run: neither a signal handler nor the
    # plugin's thread can stop it, so the runner ends the process by the plugin's beacon
    import time

    (tmp_path / EXERCISES["1.2"].file).write_text(
        with_body("1.2", "relu", "return sum(range(10**15))")
    )
    began = time.monotonic()
    code, outcomes = check("1.2", tmp_path, timeout=2)
    assert time.monotonic() - began < 60
    assert code == 1 and len(outcomes) == 1 and "relu" in outcomes[0]["name"], outcomes
    assert outcomes[0]["error"]["type"] == "TimeLimit"
    assert (
        "did not finish in 2 s, and its process did not answer" in outcomes[0]["error"]["message"]
    )


def test_a_function_that_exits_fails(tmp_path):
    (tmp_path / EXERCISES["1.2"].file).write_text(
        with_body("1.2", "relu", "import sys\nsys.exit(0)")
    )
    code, outcomes = check("1.2", tmp_path)
    failed = [o for o in outcomes if o["outcome"] == "failed"]
    assert code == 1 and failed and all(o["error"]["type"] == "SystemExit" for o in failed)


def test_a_workspace_or_file_of_the_wrong_kind_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    for command in ("start", "check"):
        err = one_line_error(capsys, ["--workspace", str(tmp_path / "afile"), command, "1.2"])
        assert "is a file, not a folder" in err
    (tmp_path / EXERCISES["1.2"].file).mkdir()
    err = one_line_error(capsys, ["--workspace", str(tmp_path), "check", "1.2"])
    assert "is a folder: your exercise is a file of that name" in err
    (tmp_path / EXERCISES["1.3"].file).write_bytes(b"x = '\xe9'\n")
    err = one_line_error(capsys, ["--workspace", str(tmp_path), "check", "1.3"])
    assert "is not UTF-8 text" in err


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan"])
def test_a_bad_time_limit_is_one_line(value, capsys):
    with pytest.raises(SystemExit) as stopped:
        exercises.main(["check", "1.1", "--timeout", value])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1, err
    assert "expected a positive number of seconds" in err


def test_list_into_a_closed_pipe_is_quiet(tmp_path):
    import subprocess
    import sys

    command = f"{sys.executable} -P -m shared.exercises list | head -1"
    done = subprocess.run(command, shell=True, capture_output=True, text=True,
                          cwd=repository_root())  # fmt: skip
    assert done.stdout.startswith("1.1") and "Traceback" not in done.stderr, done.stderr


def test_the_whole_message_is_shown_and_verbose_shows_pytests_report(tmp_path, capfd):
    source = (repository_root() / "phase1_python" / "layers.py").read_text()
    text = source.replace("expected {self.n_in}", "wanted {self.n_in}")
    assert text != source
    (tmp_path / EXERCISES["1.5"].file).write_text(text)
    assert exercises.main(["--workspace", str(tmp_path), "check", "1.5"]) == 1
    out = capfd.readouterr().out
    assert "regex: 'input has 4 columns, expected 3'" in out
    assert "message: 'Dense(3, 2): input has 4 columns, wanted 3'" in out
    assert exercises.main(["--workspace", str(tmp_path), "check", "1.5", "-v"]) == 1
    out = capfd.readouterr().out
    assert "test_bad_input_is_reported FAILED" in out
