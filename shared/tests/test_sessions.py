"""noxfile.py's TESTED table is the one place that says which tests a session runs with which
extras: every session that runs pytest takes its folders and extras from it (so the root
conftest.py, which hides from each folder's tests the extras some session lacks, sees them all),
and every extra it names exists in pyproject.toml."""

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOXFILE = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))


def _tested() -> dict:
    for node in NOXFILE.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "TESTED":
            return ast.literal_eval(node.value)
    raise AssertionError("noxfile.py has no TESTED table")


def _sessions() -> dict[str, ast.FunctionDef]:
    found = {}
    for node in NOXFILE.body:
        if isinstance(node, ast.FunctionDef) and any(
            "session" in ast.unparse(d) for d in node.decorator_list
        ):
            found[node.name] = node
    return found


def test_every_session_that_runs_pytest_is_in_the_table():
    tested = _tested()
    for name, node in _sessions().items():
        text = ast.unparse(node)
        runs_pytest = "_run_tests(" in text or '"pytest"' in text or "_pytest(" in text
        if runs_pytest:
            assert name in tested, f"nox -s {name} runs pytest but is not in TESTED"
            assert "_pytest(" not in text, f"nox -s {name} runs pytest around TESTED"
        if "_run_tests(" in text:
            assert name in tested, f"nox -s {name} calls _run_tests but is not in TESTED"


def test_the_table_names_real_extras_and_folders():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    for name, plan in _tested().items():
        for extra in filter(None, plan["extras"].split(",")):
            assert extra in extras, f"nox -s {name}: no extra {extra!r} in pyproject.toml"
        if plan["folders"] != "*":
            for folder in plan["folders"]:
                assert (ROOT / folder / "tests").is_dir(), f"nox -s {name}: no {folder}/tests"
