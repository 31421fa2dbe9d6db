"""The digest nox uses to decide whether to reinstall: it moves with every byte the build reads,
and with nothing else (not modification times, not tests, READMEs or results)."""

import os
import shutil

import pytest

from shared.sources import build_inputs, digest, packages


@pytest.fixture
def checkout(tmp_path):
    root = tmp_path / "checkout"
    for name, text in {
        "pyproject.toml": "[project]\nname = 'demo'\n",
        "meson.build": "project('demo', 'c')\n",
        "README.md": "# demo\n",
        "pkg/meson.build": "py.install_sources(files('mod.py'))\n",
        "pkg/mod.py": "X = 1\n",
        "pkg/src/lib.c": "int f(void) { return 1; }\n",
        "pkg/README.md": "a lesson\n",
        "pkg/tests/test_mod.py": "def test(): pass\n",
        "pkg/results/run.json": "{}\n",
        "notapackage/script.py": "print()\n",
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_inputs_are_the_build_files_and_the_packages_sources(checkout):
    assert packages(checkout) == ["pkg"]
    names = [p.relative_to(checkout).as_posix() for p in build_inputs(checkout)]
    assert names == [
        "pyproject.toml",
        "meson.build",
        "pkg/meson.build",
        "pkg/mod.py",
        "pkg/src/lib.c",
    ]


def test_same_bytes_same_digest_wherever_and_whenever(checkout, tmp_path):
    before = digest(checkout)
    os.utime(checkout / "pkg" / "mod.py", (1, 1))  # touched, not changed
    assert digest(checkout) == before
    moved = shutil.copytree(checkout, tmp_path / "elsewhere")
    assert digest(moved) == before


@pytest.mark.parametrize(
    "changed", ["pkg/mod.py", "pkg/src/lib.c", "pkg/meson.build", "pyproject.toml"]
)
def test_a_changed_source_changes_the_digest(checkout, changed):
    before = digest(checkout)
    with open(checkout / changed, "a") as f:
        f.write("\n")
    assert digest(checkout) != before


@pytest.mark.parametrize(
    "changed",
    [
        "README.md",
        "pkg/README.md",
        "pkg/tests/test_mod.py",
        "pkg/results/run.json",
        "notapackage/script.py",
    ],
)
def test_what_the_build_does_not_read_leaves_it(checkout, changed):
    before = digest(checkout)
    with open(checkout / changed, "a") as f:
        f.write("more\n")
    assert digest(checkout) == before


def test_a_new_or_renamed_file_changes_the_digest(checkout):
    before = digest(checkout)
    (checkout / "pkg" / "mod.py").rename(checkout / "pkg" / "other.py")
    assert digest(checkout) != before
