"""The pytest plugin behind `python -m shared.exercises check`: the reference's own tests, run
against the learner's file instead of the reference module.

    NNF_EXERCISE_MODULE   the reference module the learner rewrites (phase1_python.matrix)
    NNF_EXERCISE_FILE     the learner's file (workspace/ex1_1_matrix.py)
    NNF_EXERCISE_REPORT   where to write the outcome of every test, as JSON
    NNF_EXERCISE_PACKAGES a folder of packages built from the learner's C or C++ (phase3_c), to
                          import instead of the installed ones

Before any test is collected, the learner's file is loaded as a module of the reference's name
and put in its place: in `sys.modules`, on its package, and wherever an already imported module
of the project holds one of its functions or classes (`from phase1_python.matrix import Matrix`
in the package's `__init__` or in `layers.py`). So `from phase1_python import Matrix` in a test
gives the learner's Matrix, and so does the Dense layer that builds on it. The tests themselves
are not changed: what the reference passes, the learner's version must pass.

For a C or C++ exercise, the package built with the learner's file is imported from its folder,
ahead of any installed copy (an editable install's finder included), before the root conftest.py
imports the packages. A C function still to write prints "exercise 3.1: write nn_add" on stdout:
a failing test whose output holds such a line names it first in its error.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

#: the top-level packages whose modules may hold names from the reference module
PROJECT = ("phase1_python", "phase2_numpy", "phase3_c", "phase4_cuda", "phase5_training", "shared")

_outcomes: dict[str, dict] = {}
#: the line a body still to write prints (a C function) or raises (Python, C++)
_NOT_WRITTEN = re.compile(r"exercise [0-9.]+: write [\w.:]+")


def substitute(module_name: str, path: str):
    """Load `path` as `module_name` and put it in the reference module's place everywhere."""
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
    # every object of the reference that another module holds (a function, a class, a table of
    # them such as LOSSES), by identity, is replaced by the learner's object of the same name
    mine = {
        id(value): getattr(learner, name)
        for name, value in vars(reference).items()
        if hasattr(learner, name) and not name.startswith("__")
        and not isinstance(value, int | float | str | bytes | type(None) | type(sys))
    }  # fmt: skip
    mine[id(reference)] = learner  # the module itself, where another holds it
    for name, mod in list(sys.modules.items()):
        if mod is None or mod is learner or mod is reference or not name.startswith(PROJECT):
            continue
        for attr, value in list(vars(mod).items()):
            if id(value) in mine:
                setattr(mod, attr, mine[id(value)])
            elif isinstance(value, dict) and attr.isupper():  # a table (phase3_c.BINDINGS)
                for key, item in list(value.items()):
                    if id(item) in mine:
                        value[key] = mine[id(item)]
    return learner


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


def pytest_configure(config):
    module_name = os.environ.get("NNF_EXERCISE_MODULE")
    path = os.environ.get("NNF_EXERCISE_FILE")
    if module_name and path:
        substitute(module_name, path)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or report.failed:
        error = None
        if call.excinfo is not None:
            message = str(call.excinfo.value)
            said = dict.fromkeys(_NOT_WRITTEN.findall(report.capstdout + report.capstderr))
            if said and not _NOT_WRITTEN.search(message):  # a C function still to write
                message = f"{'; '.join(said)} ({message})"
            error = {"type": call.excinfo.typename, "message": message[:300]}
        _outcomes[item.nodeid] = {"name": item.name, "outcome": report.outcome, "error": error}


def pytest_collectreport(report):
    if report.failed:
        _outcomes[report.nodeid or "collection"] = {
            "name": report.nodeid or "collection",
            "outcome": "error",
            "error": {"type": "CollectionError", "message": str(report.longrepr)[-300:]},
        }


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("NNF_EXERCISE_REPORT")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(list(_outcomes.values()), f)
