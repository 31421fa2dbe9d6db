"""The C and C++ exercises' build: the project compiled by meson with the learner's file in place
of the reference's, its C test programs run and read as outcomes, and the package staged for
the Python tests (which runner.py runs)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from shared.exercises.catalogue import Exercise, ExerciseError, repository_root

# `check` configures a meson build of the whole project (the root meson.build, as meson-python
# builds the package) in build/exercise-ID/meson, once, with the exercise's option of
# meson.options naming build/exercise-ID/learner/FILE: a copy of the learner's file that starts
# with a #line directive, so that the compiler's messages (and __FILE__) name the learner's own
# file. Each check rewrites the copy only when the learner's file changed, and ninja recompiles
# only what depends on it. The C test programs of `tests` run from the build; the Python tests run
# against a copy of the package (the reference's Python files, the learner's compiled modules)
# that the plugin imports in place of the installed phase3_c.


class _locked:
    """An exclusive lock on `folder` (made if missing), held while one check builds and tests."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "lock"

    def __enter__(self):
        self.file = open(self.path, "w")  # (closed in __exit__)
        if os.name == "nt":  # Windows locks a byte range: the first byte, blocking
            import msvcrt

            while True:
                try:
                    msvcrt.locking(self.file.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after 10 s: another check is still building
                    continue
        else:
            import fcntl

            fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(self.file.fileno(), msvcrt.LK_UNLCK, 1)
        self.file.close()  # (closing releases a POSIX lock)


def _tool_env() -> dict[str, str]:
    """The environment meson and ninja run in: this Python's scripts first (pybind11-config,
    ninja), so that the build uses the same Python, NumPy and pybind11 as the tests."""
    scripts = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=os.pathsep.join((scripts, os.environ.get("PATH", ""))))


def c_program(meson: Path, test: str) -> Path:
    """The program meson builds from the C test source `test` (phase3_c/tests/x.c) in the build
    folder `meson` (.exe on Windows); `Path()` for its ninja target."""
    return meson / "phase3_c" / (Path(test).stem + (".exe" if os.name == "nt" else ""))


def _build(exercise: Exercise, path: Path, folder: Path) -> Path:
    """Compile the project with the learner's file in place of `exercise.reference`; the meson
    build folder. A file that does not compile is an ExerciseError: the compiler's first error."""
    copy = folder / "learner" / Path(exercise.reference).name
    quoted = str(path).replace("\\", "\\\\").replace('"', '\\"')  # a C string: C:\\Users\\...
    text = f'#line 1 "{quoted}"\n' + path.read_text("utf-8")
    if not copy.exists() or copy.read_text("utf-8") != text:  # unchanged: nothing to recompile
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, "utf-8")
    meson, env = folder / "meson", _tool_env()
    ninja = shutil.which("ninja", path=env["PATH"])
    stamp = folder / "python.txt"  # the Python the build was configured for
    if ninja is None or importlib.util.find_spec("mesonbuild") is None:
        raise ExerciseError(
            f"exercise {exercise.id} compiles C with meson and ninja: pip install meson ninja"
        )
    if not (meson / "build.ninja").exists() or stamp.read_text("utf-8") != sys.executable:
        setup = [sys.executable, "-m", "mesonbuild.mesonmain", "setup", str(meson),
                 f"-D{exercise.option}={copy}"]  # fmt: skip
        if meson.exists():
            setup.append("--wipe")
        done = subprocess.run(setup, cwd=repository_root(), env=env, capture_output=True, text=True)
        if done.returncode:
            last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            raise ExerciseError(f"meson could not configure the build in {meson}: {last[0]}")
        stamp.write_text(sys.executable, "utf-8")
    targets = [c_program(Path(), t).as_posix() for t in exercise.tests if t.endswith(".c")]
    done = subprocess.run(
        [ninja, "-C", str(meson), "all", *targets], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise ExerciseError(_compiler_error(done.stdout + done.stderr, path))
    return meson


def built_package(exercise: Exercise, path: Path) -> Path:
    """The phase3_c package compiled with the learner's file `path` in place of the exercise's
    reference, as `check` builds it (its build folder, under its lock), copied to a folder of
    its own for one process to import from (`exercise_plugin.BuiltPackages`): a later check
    rewrites the build's copy."""
    import tempfile

    folder = repository_root() / "build" / f"exercise-{exercise.id}"
    with _locked(folder):
        staged = _stage(_build(exercise, path, folder), folder / "package")
        copy = Path(tempfile.mkdtemp(prefix=f"nnf-exercise-{exercise.id}-"))
        shutil.copytree(staged, copy, dirs_exist_ok=True)
    return copy


def _compiler_error(output: str, path: Path) -> str:
    """The compiler's (or the linker's) first error in `output`, in one line."""
    lines = [re.sub(r"\x1b\[[0-9;]*[mK]", "", line).strip() for line in output.splitlines()]
    errors = [
        line
        for line in lines
        if re.search(r"\berror\b|undefined reference", line)
        and not line.startswith(("FAILED:", "ninja:"))
    ]
    mine = [line for line in errors if line.startswith(str(path))]
    shown = mine or errors or [line for line in lines if line][-1:] or ["no output"]
    more = f" (and {len(shown) - 1} more)" if len(shown) > 1 else ""
    return f"{path.name} does not build: {shown[0]}{more}"


#: what meson compiles into the package: extension modules (.so; .pyd on Windows) and the shared
#: library (.so, .dylib on macOS, .dll on Windows)
_COMPILED = frozenset({".so", ".dylib", ".pyd", ".dll"})


def _stage(meson: Path, folder: Path) -> Path:
    """A copy of the phase3_c package in `folder`: the reference's Python files and the modules
    just compiled. Returns `folder` (the plugin imports phase3_c from it)."""
    package = folder / "phase3_c"
    package.mkdir(parents=True, exist_ok=True)
    sources = sorted((repository_root() / "phase3_c").glob("*.py"))
    built = [p for p in (meson / "phase3_c").iterdir() if p.is_file() and p.suffix in _COMPILED]
    for path in sources + built:
        shutil.copy2(path, package / path.name)
    return folder


def _run_c_test(
    exercise: Exercise, test: str, program: Path, timeout: float, verbose: bool = False
) -> list[dict]:
    """Run a C test program (a CHECK macro printing "FAIL file:line: what" per failed check) and
    give one outcome per test function of its source, naming the functions still to write that
    printed their line before each failed check. The program may run `timeout` seconds; its
    output is printed when `verbose`."""
    spans = _test_functions((repository_root() / test).read_text("utf-8"))
    try:
        done = subprocess.run(
            [str(program)], capture_output=True, text=True, timeout=timeout, errors="replace"
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode("utf-8", "replace") if isinstance(e.stdout, bytes) else e.stdout
        last = (out or "").strip().splitlines()[-1:] or ["no output"]
        message = (
            f"did not finish in {timeout:g} s: a loop that never ends? (check --timeout SECONDS "
            f"allows more); its last line: {last[0]}"
        )
        return [_c_outcome(test, Path(test).name, "error", "TimeLimit", message)]
    if verbose:
        print(f"$ {program}\n{done.stdout}{done.stderr}", flush=True)
    fails: dict[str, list[str]] = {}
    unwritten: dict[str, list[str]] = {}
    pending: list[str] = []
    for line in done.stdout.splitlines():
        if m := re.match(rf"exercise {re.escape(exercise.id)}: write (\w+)", line):
            pending.append(m.group(1))
        elif m := re.match(r"FAIL .*?:(\d+): (.*)", line):
            at = int(m.group(1))
            name = next((n for n, first, last in spans if first <= at <= last), "main")
            fails.setdefault(name, []).append(m.group(2))
            unwritten.setdefault(name, []).extend(pending)
            pending = []
    crashed = done.returncode < 0 or (done.returncode and not fails)
    outcomes = []
    for name, _, _ in spans:
        if name in fails:
            what = f"{len(fails[name])} checks fail, the first: {fails[name][0]}"
            names = list(dict.fromkeys(unwritten[name]))
            message = (
                f"exercise {exercise.id}: write {', '.join(names)} ({what})" if names else what
            )
            outcomes.append(_c_outcome(test, name, "failed", "CheckFailed", message))
        elif not crashed:  # (after a crash, the functions without a failure may not have run)
            outcomes.append(_c_outcome(test, name, "passed"))
    if crashed:
        how = (
            f"killed by {signal.Signals(-done.returncode).name}"
            if done.returncode < 0
            else f"exit status {done.returncode}"
        )
        last = done.stdout.strip().splitlines()[-1:] or ["no output"]
        outcomes.append(
            _c_outcome(test, Path(test).name, "error", "Crash", f"{how}; its last line: {last[0]}")
        )
    return outcomes


def _test_functions(source: str) -> list[tuple[str, int, int]]:
    """The test functions of a C test program's source: (name, first line, last line). Each opens
    with `static void test_name(...) {` at the start of a line and closes at the next line that
    is a lone `}`, as the project's sources are formatted (clang-format)."""
    spans = []
    for m in re.finditer(r"^(?:static )?void (test_\w+)\([^)]*\) \{$", source, re.MULTILINE):
        end = re.compile(r"^\}$", re.MULTILINE).search(source, m.end())
        last = end.start() if end else len(source)
        spans.append((m[1], source.count("\n", 0, m.start()) + 1, source.count("\n", 0, last) + 1))
    return spans


def _c_outcome(test: str, name: str, outcome: str, kind: str = "", message: str = "") -> dict:
    error = {"type": kind, "message": message} if kind else None
    return {"name": f"{Path(test).name}: {name}", "outcome": outcome, "error": error}
