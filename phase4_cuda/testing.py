"""What the GPU tests of Phases 4 and 5 share: skipping, with the reason, a test whose precision
this GPU cannot compute in (the tensor-core precisions below compute capability 8.0), so that on a
T4 or an RTX 20 series card the rest of the suite runs.

A test needs a precision by its `precision` parameter, by a `version` parameter naming a rung of
the ladder, or by the marker `@pytest.mark.precision("tf32", ...)`, which also takes the other
keys of matmul.NEEDS_CC ("wgmma": Hopper's instructions, compute capability 9.0 exactly).
On a real GPU a test of a rung that no GPU has run yet (a `version` in
matmul.NOT_YET_ON_A_GPU, or the marker `tma`) is skipped too, saying so.
"""

from __future__ import annotations

import pytest
from numba import cuda

from phase4_cuda.device import simulated
from phase4_cuda.matmul import NOT_YET_ON_A_GPU, RUNGS, unsupported
from phase4_cuda.matmul.ladder import NOT_YET_REASON

__all__ = ["skip_unsupported_precisions"]


def _precisions(item) -> list[str]:
    params = getattr(getattr(item, "callspec", None), "params", {})
    wanted = [p for marker in item.iter_markers("precision") for p in marker.args]
    if isinstance(params.get("precision"), str):
        wanted.append(params["precision"])
    if params.get("version") in RUNGS:  # its precision's key of NEEDS_CC, or "wgmma"
        wanted.append(RUNGS[params["version"]].needs)
    return list(dict.fromkeys(wanted))


def skip_unsupported_precisions(items) -> None:
    """Mark every test among `items` whose precision this GPU cannot compute in as skipped."""
    if not simulated() and not cuda.is_available():
        return  # the conftest skips every GPU test here anyway
    for item in items:
        wanted = _precisions(item)
        why = unsupported(*wanted) if wanted else None
        params = getattr(getattr(item, "callspec", None), "params", {})
        untried = params.get("version") in NOT_YET_ON_A_GPU or item.get_closest_marker("tma")
        if why is None and untried and not simulated():
            why = f"rungs 15 and 16 are {NOT_YET_REASON}"
        if why is not None:
            item.add_marker(pytest.mark.skip(reason=why))
