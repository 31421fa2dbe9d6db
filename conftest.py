"""Make every phase's tests run against the *installed* packages, and skip tests marked `gpu`
wherever no real GPU runs them.

With `--import-mode=importlib`, pytest imports a test's parent package (`phase1_python` for
`phase1_python/tests/test_matrix.py`) straight from the checkout unless it is already imported;
the checkout lacks the compiled parts of the later phases. Importing the packages here first, the
normal way, makes the installed copies (a regular or an editable install) the ones used.
"""

import importlib
from pathlib import Path

#: the project's packages: every folder with a meson.build of its own (as in noxfile.py)
PACKAGES = sorted(p.name for p in Path(__file__).parent.iterdir() if (p / "meson.build").is_file())

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
    import pytest

    from shared.machine import gpu_status

    status = gpu_status()
    if not status.usable:
        skip = pytest.mark.skip(reason=f"needs a real GPU ({status.summary})")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
