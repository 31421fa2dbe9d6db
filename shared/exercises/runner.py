"""`start` writes an exercise's starter into the workspace; `check` runs the reference's tests
against the learner's file (C and C++ built by c_build.py first) and returns every outcome.
Printing them is cli.py's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shared.exercises.c_build import _build, _locked, _run_c_test, _stage, c_program
from shared.exercises.catalogue import Exercise, ExerciseError, _exercise, repository_root
from shared.exercises.python_starter import starter, to_write


def start(exercise_id: str, workspace: Path) -> tuple[Path, bool]:
    """Write the starter into `workspace`; (its path, whether it was written: an existing file is
    the learner's work and is never overwritten)."""
    exercise = _exercise(exercise_id)
    if workspace.exists() and not workspace.is_dir():
        raise ExerciseError(f"the workspace {workspace} is a file, not a folder")
    path = workspace / exercise.file
    if path.exists():
        return path, False
    text = starter(exercise)
    workspace.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=workspace, delete=False, suffix=".tmp") as f:
        f.write(text)
    Path(f.name).replace(path)
    return path, True


#: seconds a test (and the import of the learner's file) may run by default: the longest test
#: of the reference (5.1's, in numba's simulator) takes about 26 s on a 2-core machine
TIMEOUT = 180.0

# Run in a process of its own (a file may exit, loop or crash when imported): compile and import
# the learner's file, then say in one JSON line on stdout what failed, or which of the names to
# write (argv[2], "Class.method" for a method) it does not define.
_PROBE = """
import json, sys, traceback, types
path, names = sys.argv[1], json.loads(sys.argv[2])
def line(e):
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
    return frames[-1].lineno if frames else "?"
def said(**result):
    sys.stdout.flush()
    sys.__stdout__.write("\\n" + json.dumps(result) + "\\n")
    sys.__stdout__.flush()
    sys.exit(0)
try:
    source = open(path, encoding="utf-8").read()
except UnicodeDecodeError as e:
    said(error=f"{path} is not UTF-8 text ({e.reason} at byte {e.start})")
except OSError as e:
    said(error=f"{path} cannot be read: {e.strerror}")
try:
    code = compile(source, path, "exec")
except SyntaxError as e:
    said(error=f"{path}:{e.lineno}: {e.msg}")
module = types.ModuleType("_nnf_exercise_check")
module.__file__ = path
sys.modules[module.__name__] = module  # (dataclasses look their module up there)
try:
    exec(code, module.__dict__)
except SystemExit as e:
    said(error=f"{path}:{line(e)}: your file exits when it is imported (SystemExit: {e.code}); "
               "a module only defines, it never calls sys.exit() or exit() at its top level")
except KeyboardInterrupt as e:
    said(error=f"{path}:{line(e)}: interrupted while your file was imported")
except BaseException as e:
    said(error=f"{path}:{line(e)}: {type(e).__name__}: {e}")
lacking = {}
for name in names:
    owner, _, attr = name.rpartition(".")
    holder = getattr(module, owner, None) if owner else module
    if holder is None:
        lacking[owner] = None  # (a class missing: named once, not method by method)
    elif not hasattr(holder, attr):
        lacking[name] = None
said(missing=list(lacking))
"""


def _probe(path: Path, names: list[str], env: dict[str, str], timeout: float) -> list[str]:
    """Import the learner's file in a process of its own; which of `names` it does not define.
    A file that does not compile, does not import, exits, crashes or loops when imported is an
    ExerciseError: one line naming the file (and its line where there is one)."""
    if path.is_dir():
        raise ExerciseError(f"{path} is a folder: your exercise is a file of that name")
    command = [sys.executable, "-P", "-c", _PROBE, str(path), json.dumps(names)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=timeout, errors="replace", cwd=repository_root())  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ExerciseError(
            f"{path} did not finish importing in {timeout:g} s: a loop at its top level? "
            "(a module only defines; check --timeout SECONDS allows more)"
        ) from None
    last = done.stdout.strip().splitlines()[-1:] or [""]
    try:
        result = json.loads(last[0])
    except json.JSONDecodeError:
        how = (
            f"killed by {signal.Signals(-done.returncode).name}"
            if done.returncode < 0
            else f"exit status {done.returncode}"
        )
        raise ExerciseError(f"{path} ended the process when it was imported ({how})") from None
    if "error" in result:
        raise ExerciseError(result["error"])
    return result["missing"]


def _missing_outcome(exercise: Exercise, missing: list[str]) -> dict:
    """A failure naming the functions and methods the learner's file does not define."""
    shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
    message = f"exercise {exercise.id}: write {shown} (your file does not define {'it' if len(missing) == 1 else 'them'})"
    return {"name": "your file defines what the exercise asks", "outcome": "failed",
            "error": {"type": "Missing", "message": message}}  # fmt: skip


def check(
    exercise_id: str,
    workspace: Path,
    timeout: float = TIMEOUT,
    verbose: bool = False,
    first_failure: bool = False,
) -> tuple[int, list[dict]]:
    """Run the exercise's tests against the learner's file: (exit code, each test's outcome).
    Each test may run `timeout` seconds (and the import of the file as long); `verbose` lets
    pytest's own report through to stdout; `first_failure` stops the Python tests at the first
    that fails."""
    exercise = _exercise(exercise_id)
    if workspace.exists() and not workspace.is_dir():
        raise ExerciseError(f"the workspace {workspace} is a file, not a folder")
    path = (workspace / exercise.file).resolve()
    if not path.exists():
        raise ExerciseError(
            f"no {workspace / exercise.file}: start it with "
            f"python -m shared.exercises start {exercise.id}"
        )
    if not timeout > 0:
        raise ExerciseError(f"the time limit must be a positive number of seconds, not {timeout}")
    env = dict(os.environ, NNF_EXERCISE_ID=exercise.id, NNF_EXERCISE_TIMEOUT=str(timeout))
    if exercise.module.startswith(("phase4_cuda", "phase5_training")):
        from shared.machine import gpu_status

        if not gpu_status().usable:  # numba's simulator runs the same kernels on the CPU
            env["NUMBA_ENABLE_CUDASIM"] = "1"
    python_tests = [t for t in exercise.tests if t.endswith(".py")]
    if not exercise.option:
        missing = _probe(path, to_write(exercise), env, timeout)
        env |= {"NNF_EXERCISE_MODULE": exercise.module, "NNF_EXERCISE_FILE": str(path)}
        outcomes = [_missing_outcome(exercise, missing)] if missing else []
        outcomes += _run_pytest(exercise, python_tests, env, verbose, first_failure)
    else:
        if path.is_dir():
            raise ExerciseError(f"{path} is a folder: your exercise is a file of that name")
        folder = repository_root() / "build" / f"exercise-{exercise.id}"
        with _locked(folder):  # one check at a time uses this build
            meson = _build(exercise, path, folder)
            outcomes = []
            for test in exercise.tests:
                if test.endswith(".c"):
                    outcomes += _run_c_test(exercise, test, c_program(meson, test), timeout,
                                            verbose)  # fmt: skip
            env["NNF_EXERCISE_PACKAGES"] = str(_stage(meson, folder / "package"))
            outcomes += _run_pytest(exercise, python_tests, env, verbose, first_failure)
    failed = [o for o in outcomes if o["outcome"] != "passed" and o["outcome"] != "skipped"]
    return (0 if not failed else 1), outcomes


def _run_pytest(
    exercise: Exercise, tests: list[str], env: dict[str, str], verbose: bool, first_failure: bool
) -> list[dict]:
    """The outcome of every test of `tests`, run by pytest with the exercise's plugin (which reads
    what to substitute from `env`); pytest's report printed when `verbose`."""
    if not tests:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "outcomes.json"
        env = dict(env, NNF_EXERCISE_REPORT=str(report))
        # -P: the installed packages, not the checkout's sources (as the nox sessions run them)
        command = [sys.executable, "-P", "-m", "pytest", "-p", "shared.exercise_plugin",
                   "-p", "no:cacheprovider", "--no-header", "-o", "addopts=",
                   "--import-mode=importlib", *tests]  # fmt: skip
        command += ["-v", "--tb=short"] if verbose else ["-q", "--tb=no"]
        command += ["-m", exercise.marker]  # (the tests marked as this exercise's)
        if first_failure:
            command.append("-x")
        pipes = {} if verbose else {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        with subprocess.Popen(command, cwd=repository_root(), env=env, text=True,
                              errors="replace", **pipes) as process:  # fmt: skip
            limit = float(env["NNF_EXERCISE_TIMEOUT"])
            output, stuck = _wait(process, Path(f"{report}.running"), limit + STUCK)
        outcomes = json.loads(report.read_text()) if report.exists() else []
    if stuck:
        return [_stuck_outcome(stuck, limit)]
    if not outcomes:
        tail = output.strip().splitlines()[-1:] or [f"exit status {process.returncode}"]
        raise ExerciseError(f"the tests of {exercise.id} did not run: {tail[0]}")
    return outcomes


#: seconds past a test's time limit after which the process that runs it is ended from outside:
#: the plugin's own watchdog ends it at the limit wherever Python still runs
STUCK = 10.0


def _wait(process: subprocess.Popen, beacon: Path, limit: float) -> tuple[str, str]:
    """Wait for pytest to end, reading its output; (the output, ""), or (what it printed, the name
    of the test) where it was ended: a test has run for `limit` seconds by the plugin's `beacon`
    (a file it keeps while a test runs), stuck where not even the plugin's thread can run."""
    while True:
        try:  # (communicate keeps what it has read when it times out)
            out, err = process.communicate(timeout=0.5)
            return (out or "") + (err or ""), ""
        except subprocess.TimeoutExpired:
            pass
        try:
            if time.time() - beacon.stat().st_mtime > limit:
                name = json.loads(beacon.read_text("utf-8"))["name"]
                process.kill()
                out, err = process.communicate()
                return (out or "") + (err or ""), name
        except (OSError, ValueError, KeyError):  # no test running, or the beacon half written
            pass


def _stuck_outcome(name: str, limit: float) -> dict:
    message = (
        f"did not finish in {limit:g} s, and its process did not answer: a loop inside compiled "
        "code that never lets Python run (a C function, a NumPy call on something huge)? It was "
        "ended; the outcomes of the tests before it are lost with it (check --timeout SECONDS "
        "allows more)"
    )
    return {"name": name, "outcome": "error", "error": {"type": "TimeLimit", "message": message}}
