"""`start` writes an exercise's starter into the workspace; `check` runs the reference's tests
against the learner's file (C and C++ built by c_build.py first) and returns every outcome.
Printing them is cli.py's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback
import types
from pathlib import Path

from shared.exercises.c_build import _build, _locked, _run_c_test, _stage, c_program
from shared.exercises.catalogue import Exercise, ExerciseError, _exercise, repository_root
from shared.exercises.python_starter import starter


def start(exercise_id: str, workspace: Path) -> tuple[Path, bool]:
    """Write the starter into `workspace`; (its path, whether it was written: an existing file is
    the learner's work and is never overwritten)."""
    exercise = _exercise(exercise_id)
    path = workspace / exercise.file
    if path.exists():
        return path, False
    text = starter(exercise)
    workspace.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=workspace, delete=False, suffix=".tmp") as f:
        f.write(text)
    Path(f.name).replace(path)
    return path, True


def _load_error(path: Path) -> str | None:
    """One line naming what keeps `path` from compiling or importing (None when it does)."""
    source = path.read_text("utf-8")
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as e:
        return f"{path}:{e.lineno}: {e.msg}"
    module = types.ModuleType("_nnf_exercise_check")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # (dataclasses look their module up there)
    try:
        exec(code, module.__dict__)
    except Exception as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else "?"
        return f"{path}:{line}: {type(e).__name__}: {e}"
    finally:
        del sys.modules[module.__name__]
    return None


def check(exercise_id: str, workspace: Path) -> tuple[int, list[dict]]:
    """Run the exercise's tests against the learner's file: (exit code, each test's outcome)."""
    exercise = _exercise(exercise_id)
    path = (workspace / exercise.file).resolve()
    if not path.exists():
        raise ExerciseError(
            f"no {workspace / exercise.file}: start it with "
            f"python -m shared.exercises start {exercise.id}"
        )
    env = dict(os.environ)
    if exercise.module.startswith(("phase4_cuda", "phase5_training")):
        from shared.machine import gpu_status

        if not gpu_status().usable:  # numba's simulator runs the same kernels on the CPU
            env["NUMBA_ENABLE_CUDASIM"] = "1"
    python_tests = [t for t in exercise.tests if t.endswith(".py")]
    if not exercise.option:
        error = _load_error(path)
        if error:
            raise ExerciseError(error)
        env |= {"NNF_EXERCISE_MODULE": exercise.module, "NNF_EXERCISE_FILE": str(path)}
        outcomes = _run_pytest(exercise, python_tests, env)
    else:
        folder = repository_root() / "build" / f"exercise-{exercise.id}"
        with _locked(folder):  # one check at a time uses this build
            meson = _build(exercise, path, folder)
            outcomes = []
            for test in exercise.tests:
                if test.endswith(".c"):
                    outcomes += _run_c_test(exercise, test, c_program(meson, test))
            env["NNF_EXERCISE_PACKAGES"] = str(_stage(meson, folder / "package"))
            outcomes += _run_pytest(exercise, python_tests, env)
    failed = [o for o in outcomes if o["outcome"] != "passed" and o["outcome"] != "skipped"]
    return (0 if not failed else 1), outcomes


def _run_pytest(exercise: Exercise, tests: list[str], env: dict[str, str]) -> list[dict]:
    """The outcome of every test of `tests`, run by pytest with the exercise's plugin (which reads
    what to substitute from `env`)."""
    if not tests:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "outcomes.json"
        env = dict(env, NNF_EXERCISE_REPORT=str(report))
        # -P: the installed packages, not the checkout's sources (as the nox sessions run them)
        command = [sys.executable, "-P", "-m", "pytest", "-q", "-p", "shared.exercise_plugin",
                   "-p", "no:cacheprovider", "--tb=no", "--no-header", "-o", "addopts=",
                   "--import-mode=importlib", *tests]  # fmt: skip
        if exercise.select:
            command += ["-k", exercise.select]
        done = subprocess.run(
            command, cwd=repository_root(), env=env, capture_output=True, text=True
        )
        outcomes = json.loads(report.read_text()) if report.exists() else []
    if not outcomes:
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise ExerciseError(f"the tests of {exercise.id} did not run: {tail[0]}")
    return outcomes
