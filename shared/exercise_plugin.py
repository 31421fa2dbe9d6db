"""The pytest plugin behind `python -m shared.exercises check`: the reference's own tests, run
against the learner's file instead of the reference module.

    NNF_EXERCISE_MODULE   the reference module the learner rewrites (phase1_python.matrix)
    NNF_EXERCISE_FILE     the learner's file (workspace/ex1_1_matrix.py)
    NNF_EXERCISE_REPORT   where to write the outcome of every test, as JSON
    NNF_EXERCISE_PACKAGES a folder of packages built from the learner's C or C++ (phase3_c), to
                          import instead of the installed ones
    NNF_EXERCISE_ID       the exercise (1.1), named in the failures of what the file lacks
    NNF_EXERCISE_TIMEOUT  seconds a test (its setup, call or teardown) may run: past it, it fails
                          with "did not finish in N s" and the next test runs

Before any test is collected, the learner's file is loaded as a module of the reference's name
and put in its place: in `sys.modules`, on its package, and wherever an already imported module
of the project holds one of its functions or classes (`from phase1_python.matrix import Matrix`
in the package's `__init__` or in `layers.py`). So `from phase1_python import Matrix` in a test
gives the learner's Matrix, and so does the Dense layer that builds on it. What the reference
module defines and the learner's file does not (an empty file, a function deleted) is replaced
everywhere by a stand-in that raises "exercise 1.1: write Matrix (your file does not define
it)" when it is used: the tests never fall through to the reference. The tests themselves are
not changed: what the reference passes, the learner's version must pass.

A loop that never ends meets the time limit: a watchdog thread (the same on every system; an
alarm signal would not do, Windows has none) records the test as "did not finish in N s", with
where the learner's file was running, writes the outcomes so far and ends the process, even where
the loop swallows every exception. While a test runs, the plugin keeps a file beside the report
(NNF_EXERCISE_REPORT + ".running") that names it: a loop inside compiled code that never lets
Python run (and so starves the thread too) is ended from outside, by the runner, when that file
grows too old.

For a C or C++ exercise, the package built with the learner's file is imported from its folder,
ahead of any installed copy (an editable install's finder included), before the root conftest.py
imports the packages. A C function still to write prints "exercise 3.1: write nn_add" on stdout:
a failing test whose output holds such a line names it first in its error.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import pytest

#: the top-level packages whose modules may hold names from the reference module
PROJECT = ("phase1_python", "phase2_numpy", "phase3_c", "phase4_cuda", "phase5_training", "shared")

_outcomes: dict[str, dict] = {}
#: the line a body still to write prints (a C function) or raises (Python, C++)
_NOT_WRITTEN = re.compile(r"exercise [0-9.]+: write [\w.:]+")


class _Missing(type):
    """The class of a stand-in for a name the learner's file does not define: calling it,
    indexing it (a kernel's launch) or reading any attribute of it raises NotImplementedError
    naming it."""

    def __call__(cls, *args, **kwargs):
        raise NotImplementedError(cls._nnf_message)

    def __getitem__(cls, key):
        raise NotImplementedError(cls._nnf_message)

    def __getattr__(cls, attr):
        raise NotImplementedError(cls._nnf_message)


def missing(name: str, exercise_id: str) -> type:
    """A stand-in for `name`, which the learner's file of `exercise_id` does not define."""
    message = f"exercise {exercise_id or '?'}: write {name} (your file does not define it)"
    return _Missing(name, (), {"_nnf_message": message})


def defined_names(module) -> list[str]:
    """The names `module`'s own source binds at its top level (def, class, assignment), not the
    ones it imports."""
    tree = ast.parse(Path(module.__file__).read_text("utf-8"))
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def substitute(module_name: str, path: str, exercise_id: str = ""):
    """Load `path` as `module_name` and put it in the reference module's place everywhere; what
    the reference defines and `path` does not, a stand-in that fails (`missing`)."""
    reference = importlib.import_module(module_name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    learner = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = learner
    try:
        spec.loader.exec_module(learner)
    except BaseException:
        sys.modules[module_name] = reference
        raise
    package, _, leaf = module_name.rpartition(".")
    if package:
        setattr(sys.modules[package], leaf, learner)
    # every object the reference defines that another module holds (a function, a class, a
    # table of them such as LOSSES), by identity, is replaced by the learner's object of the same
    # name, or by a stand-in that fails where the learner's file lacks it (or only takes the
    # reference's own object back: `from phase1_python import Matrix` in the file)
    mine = {}
    for name in defined_names(reference):
        value = getattr(reference, name, None)
        if name.startswith("__") or isinstance(value, int | float | str | bytes | type(None)):
            continue
        yours = getattr(learner, name, None)
        if yours is None or yours is value:
            if not callable(value):
                continue  # (a table: its items are replaced below, wherever it is held)
            yours = missing(name, exercise_id)
            setattr(learner, name, yours)
        mine[id(value)] = yours
    mine[id(reference)] = learner  # the module itself, where another holds it
    for name, mod in list(sys.modules.items()):
        if mod is None or not name.startswith(PROJECT):
            continue
        for attr, value in list(vars(mod).items()):
            if id(value) in mine and mod is not reference and mod is not learner:
                setattr(mod, attr, mine[id(value)])
            elif attr.isupper():  # a table (phase3_c.BINDINGS, ACTIVATIONS of pairs)
                setattr(mod, attr, _swapped(value, mine))
    return learner


def _swapped(value, mine: dict, depth: int = 2):
    """`value` with the items of a table (a dict, list or tuple, and one level of them inside)
    replaced by identity through `mine`: dicts and lists in place, tuples anew."""
    if depth < 0 or not isinstance(value, dict | list | tuple):
        return mine.get(id(value), value)
    if isinstance(value, tuple):
        return (
            type(value)(*(_swapped(v, mine, depth - 1) for v in value))
            if hasattr(value, "_fields")
            else tuple(_swapped(v, mine, depth - 1) for v in value)
        )
    for key, item in list(value.items() if isinstance(value, dict) else enumerate(value)):
        value[key] = _swapped(item, mine, depth - 1)
    return value


class BuiltPackages:
    """Imports the packages in `folder` (and their modules) from there, ahead of every other
    finder on sys.meta_path."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.names = {p.name for p in Path(folder).iterdir() if (p / "__init__.py").is_file()}

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] not in self.names:
            return None
        where = [self.folder] if "." not in fullname else path
        return importlib.machinery.PathFinder.find_spec(fullname, where)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    folder = os.environ.get("NNF_EXERCISE_PACKAGES")
    if folder:
        sys.meta_path.insert(0, BuiltPackages(folder))


class _Watchdog:
    """The time limit of the running test. At `limit` seconds a thread ends the check there: the
    test is recorded as past the limit (with where the learner's file was running), the tests
    after it as not run, the outcomes written, the process ended. Carrying on would not do: the
    loop may run on in other threads (the simulator's, one per CUDA thread, taking the
    interpreter's time from every later test), and a test after it most often meets the same
    loop. A thread rather than an alarm signal: Windows has no SIGALRM, and a thread gets the
    interpreter wherever a signal handler would (between two bytecodes of any thread)."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.running: tuple[str, str, float] | None = None  # (node id, name, deadline)
        self.lock = threading.Lock()
        report = os.environ.get("NNF_EXERCISE_REPORT")
        self.beacon = Path(report + ".running") if report else None
        threading.Thread(target=self._watch, daemon=True).start()

    def start(self, nodeid: str, name: str) -> None:
        self.running = (nodeid, name, time.monotonic() + self.limit)
        if self.beacon:  # for the runner, which ends the process where this thread cannot
            self.beacon.write_text(json.dumps({"name": name}), "utf-8")

    def stop(self) -> None:
        self.running = None
        if self.beacon:
            self.beacon.unlink(missing_ok=True)

    def expire(self) -> None:
        running = self.running
        if running is None or not self.lock.acquire(blocking=False):
            return
        nodeid, name, _ = running
        message = (
            f"did not finish in {self.limit:g} s: a loop that never ends? (check --timeout "
            f"SECONDS allows more){_where_in_learner()}"
        )
        _outcomes[nodeid] = {"name": name, "outcome": "error",
                             "error": {"type": "TimeLimit", "message": message}}  # fmt: skip
        not_run = [n for n in _collected if n not in _outcomes]
        if not_run:
            _outcomes["not run"] = {"name": f"the {len(not_run)} tests after it", "outcome": "error",
                                    "error": {"type": "NotRun", "message": "not run: the check "
                                              "stops at the first test past the time limit"}}  # fmt: skip
        _write_report()
        sys.stdout.flush()
        os._exit(1)

    def _watch(self) -> None:
        while True:
            time.sleep(0.1)
            running = self.running
            if running and time.monotonic() > running[2]:
                self.expire()


def _where_in_learner() -> str:
    """Where the learner's file is running, in any thread: "; it was in relu (line 80 of your
    file)", or nothing where it is not."""
    path = os.environ.get("NNF_EXERCISE_FILE")
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code.co_filename == path:
                return f"; it was in {frame.f_code.co_name} (line {frame.f_lineno} of your file)"
            frame = frame.f_back
    return ""


_watchdog: _Watchdog | None = None


def pytest_configure(config):
    global _watchdog
    limit = float(os.environ.get("NNF_EXERCISE_TIMEOUT") or 0)
    if limit > 0:
        _watchdog = _Watchdog(limit)
    module_name = os.environ.get("NNF_EXERCISE_MODULE")
    path = os.environ.get("NNF_EXERCISE_FILE")
    if module_name and path:
        if _watchdog:
            _watchdog.start("import", "importing your file")
        try:
            substitute(module_name, path, os.environ.get("NNF_EXERCISE_ID", ""))
        finally:
            if _watchdog:
                _watchdog.stop()


def _timed(item):
    if _watchdog is None:
        yield
        return
    _watchdog.start(item.nodeid, item.name)
    try:
        yield
    finally:
        _watchdog.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield from _timed(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield from _timed(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield from _timed(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or report.failed:
        error = None
        if call.excinfo is not None:
            message = str(call.excinfo.value).strip()  # (NumPy's starts with a blank line)
            said = dict.fromkeys(_NOT_WRITTEN.findall(report.capstdout + report.capstderr))
            if said and not _NOT_WRITTEN.search(message):  # a C function still to write
                message = f"{'; '.join(said)} ({message})"
            error = {"type": call.excinfo.typename, "message": message + _test_line(item, call)}
        _outcomes[item.nodeid] = {"name": item.name, "outcome": report.outcome, "error": error}


def _test_line(item, call) -> str:
    """The test's own line where it failed ("test_matrix.py:38: assert_matches(matmul_naive(a,
    b), expected)"), on a line of its own: it names what went wrong where the message does not
    (a NumPy comparison, a bare assert in a helper)."""
    try:
        entries = [e for e in call.excinfo.traceback if Path(e.path) == Path(item.path)]
        if not entries:
            return ""
        statement = " ".join(str(entries[-1].statement).split())
    except Exception:  # (a source that cannot be read: no line, no harm)
        return ""
    return f"\nin the test: {Path(item.path).name}:{entries[-1].lineno + 1}: {statement[:200]}"


def pytest_collection_finish(session):
    global _collected
    _collected = [item.nodeid for item in session.items]


_collected: list[str] = []


def pytest_collectreport(report):
    if report.failed:
        _outcomes[report.nodeid or "collection"] = {
            "name": report.nodeid or "collection",
            "outcome": "error",
            "error": {"type": "CollectionError", "message": str(report.longrepr)[-2000:]},
        }


def _write_report() -> None:
    out = os.environ.get("NNF_EXERCISE_REPORT")
    if out:
        with open(out + ".tmp", "w", encoding="utf-8") as f:
            json.dump(list(_outcomes.values()), f)
        os.replace(out + ".tmp", out)


def pytest_sessionfinish(session, exitstatus):
    _write_report()
