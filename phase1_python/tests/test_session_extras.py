"""`nox -s phase1` installs the `test` extra, not `plot`: the root conftest.py hides matplotlib
from these tests, in this process and in the Python processes they start (the lesson's commands),
so a Phase 1 test that needs it fails in every run, not only in that session."""

import subprocess
import sys

import pytest


def test_matplotlib_is_hidden_here_as_in_nox_s_phase1():
    with pytest.raises(ModuleNotFoundError, match="nox -s phase1"):
        import matplotlib  # noqa: F401
    done = subprocess.run(
        [sys.executable, "-c", "import matplotlib.pyplot"], capture_output=True, text=True
    )
    assert done.returncode == 1 and "nox -s phase1" in done.stderr, done.stderr[-500:]


def test_what_the_session_installs_stays_importable():
    import numba  # noqa: F401  (the `test` extra brings numba-cuda)
    import numpy  # noqa: F401
