"""Make every phase's tests run against the *installed* packages, skip tests marked `gpu`
wherever no real GPU runs them, collect each phase's README.md as that phase's lesson tests, and
hide from each folder's tests the extras that some nox session running them does not install.

With `--import-mode=importlib`, pytest imports a test's parent package (`phase1_python` for
`phase1_python/tests/test_matrix.py`) straight from the checkout unless it is already imported;
the checkout lacks the compiled parts of the later phases. Importing the packages here first, the
normal way, makes the installed copies (a regular or an editable install) the ones used.
"""

import ast
import atexit
import contextlib
import functools
import importlib
import importlib.metadata
import os
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
#: the project's packages: every folder with a meson.build of its own (as in noxfile.py)
PACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "meson.build").is_file())

for _name in PACKAGES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as e:
        if e.name != _name:
            raise
        raise ImportError(
            f"{_name} is not installed: run the tests through nox (`nox -s tests`) or install the "
            "project first (`pip install --no-build-isolation -e '.[test]'`, see README.md)"
        ) from None


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` need real hardware: under numba's CUDA simulator (one Python thread per
    CUDA thread) their sizes would take hours, and without CUDA (or without numba-cuda, as in the
    sanitized build of `nox -s ctests`) they cannot run at all."""
    from shared.machine import gpu_status

    status = gpu_status()
    if not status.usable:
        skip = pytest.mark.skip(reason=f"needs a real GPU ({status.summary})")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


# -- each phase's README, collected as its lesson ------------------------------------------------
def pytest_collect_file(file_path, parent):
    """`pytest phase1_python` runs Phase 1's lesson too: its parts in order, and every command of
    its "Try this" section (shared/lessons.py says how they are written and run)."""
    if file_path.name == "README.md" and file_path.parent.parent == ROOT:
        if file_path.parent.name in PACKAGES and file_path.parent.name.startswith("phase"):
            return LessonFile.from_parent(parent, path=file_path)
    return None


class LessonFile(pytest.File):
    def collect(self):
        from shared.lessons import try_blocks

        yield LessonParts.from_parent(self, name="parts in order")
        for block in try_blocks(self.path):
            item = TryThis.from_parent(self, name=f"try this {block.number}", block=block)
            if "slow" in block.tags:
                item.add_marker(pytest.mark.slow)
            if "needs a gpu" in block.tags:
                item.add_marker(pytest.mark.gpu)
            yield item


class LessonItem(pytest.Item):
    line = 0  # where in the README (from 0): a report of a skip needs one

    def reportinfo(self):
        return self.path, self.line, f"{self.path.parent.name}/README.md: {self.name}"

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, LessonFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class LessonFailure(Exception):
    """A lesson's check failed: the message says what, with no traceback of the harness."""


class LessonParts(LessonItem):
    def runtest(self):
        from shared.lessons import missing_parts

        wrong = missing_parts(self.path.read_text(encoding="utf-8"))
        if wrong:
            raise LessonFailure(f"{self.path.parent.name}/README.md {wrong}")


class TryThis(LessonItem):
    def __init__(self, *, block, **kwargs):
        super().__init__(**kwargs)
        self.block = block
        self.line = block.line

    def runtest(self):
        from shared.datasets import find_dataset
        from shared.lessons import run_block

        if "needs mnist" in self.block.tags and find_dataset("mnist") is None:
            pytest.skip("MNIST not found (set NNF_DATA_DIR)")
        with only_the_extras_its_sessions_install(self.path):
            wrong = run_block(self.block, ROOT)
        if wrong:
            raise LessonFailure(f"{self.path.parent.name}/README.md, {self.name}: {wrong}")


# -- the extras each folder's tests may use --------------------------------------------------------
def _tested_by_sessions() -> dict:
    """noxfile.py's TESTED table (which sessions run which folders, with which extras), read as
    a literal: nox itself need not be installed where the tests run."""
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "TESTED":
            return ast.literal_eval(node.value)
    raise LookupError("noxfile.py defines no TESTED table")


def _extra_requirements() -> dict[str, set[str]]:
    """Each optional extra of pyproject.toml -> the distributions it brings (nested extras such as
    `nn-foundations[cuda]` expanded)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    raw = project["optional-dependencies"]
    name = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[([^\]]+)\])?")

    def expand(extra: str, seen: frozenset = frozenset()) -> set[str]:
        found = set()
        for requirement in raw[extra]:
            dist, nested = name.match(requirement).groups()
            if dist == project["name"]:
                for inner in (nested or "").split(","):
                    if inner.strip() and inner.strip() not in seen:
                        found |= expand(inner.strip(), seen | {extra})
            else:
                found.add(dist.lower().replace("_", "-"))
        return found

    return {extra: expand(extra) for extra in raw}


def _hidden_modules() -> dict[str, frozenset[str]]:
    """Folder -> the top-level modules its tests must not import: those of the distributions
    that only extras missing from some session that runs the folder bring."""
    extras = _extra_requirements()
    allowed: dict[str, set[str]] = {}
    for plan in TESTED.values():
        have = set(plan["extras"].split(",")) - {""}
        folders = PACKAGES if plan["folders"] == "*" else plan["folders"]
        for folder in folders:
            allowed[folder] = allowed.get(folder, have) & have
    by_dist: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            by_dist.setdefault(dist.lower().replace("_", "-"), set()).add(module)
    hidden = {}
    for folder, have in allowed.items():
        kept = set().union(*(extras[e] for e in have if e in extras))
        missing = set().union(*(extras[e] for e in extras if e not in have)) - kept
        # a distribution not installed here is hidden under its own name, as it imports
        hidden[folder] = frozenset(
            m for dist in missing for m in by_dist.get(dist, {dist.replace("-", "_")})
        )
    return hidden


HIDER = """import importlib.abc, os, sys
class _Hidden(importlib.abc.MetaPathFinder):
    names = frozenset(os.environ.get("NNF_HIDDEN_MODULES", "").split(",")) - {""}
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} ({os.environ['NNF_HIDDEN_WHY']})", name=name)
        return None
sys.meta_path.insert(0, _Hidden())
"""


@functools.cache
def _hider_folder() -> Path:
    """A folder holding HIDER as sitecustomize.py, one per test process, removed at its exit."""
    folder = Path(tempfile.mkdtemp(prefix="nnf-hide-extras-"))
    (folder / "sitecustomize.py").write_text(HIDER, encoding="utf-8")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@contextlib.contextmanager
def only_the_extras_its_sessions_install(path):
    """Run a test of phase1_python as `nox -s phase1` would: without matplotlib, the `plot`
    extra that session does not install, in this process and in every Python process the test
    starts (through a sitecustomize module on PYTHONPATH). So a test or a lesson command that
    needs an extra that its phase's session lacks fails in every run, CI's included."""
    folder = Path(str(path)).resolve().relative_to(ROOT).parts[0]
    hidden = _HIDDEN.get(folder, frozenset())
    if not hidden:
        yield
        return
    sessions = [n for n, p in TESTED.items() if p["folders"] != "*" and folder in p["folders"]]
    why = f"not installed by `nox -s {sessions[0]}`, which runs {folder}'s tests"
    hider = _hider_folder()
    saved_env = {
        k: os.environ.get(k) for k in ("NNF_HIDDEN_MODULES", "NNF_HIDDEN_WHY", "PYTHONPATH")
    }
    os.environ["NNF_HIDDEN_MODULES"] = ",".join(sorted(hidden))
    os.environ["NNF_HIDDEN_WHY"] = why
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hider), saved_env["PYTHONPATH"]]))
    stashed = {n: m for n, m in sys.modules.items() if n.split(".")[0] in hidden}
    for n in stashed:
        del sys.modules[n]
    exec(HIDER, {})  # the same finder, first on this process's meta path
    finder = sys.meta_path[0]
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.modules.update(stashed)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(autouse=True)
def _only_the_extras_its_sessions_install(request):
    with only_the_extras_its_sessions_install(request.node.path):
        yield


TESTED = _tested_by_sessions()
_HIDDEN = _hidden_modules()
