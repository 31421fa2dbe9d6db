"""Phase 4's tests run the same kernels on a real GPU or in numba's CUDA simulator
(NUMBA_ENABLE_CUDASIM=1, what CI uses); without a GPU or the simulator everything here is
skipped, saying why. Tests marked `gpu` need real hardware (see the root conftest.py)."""

import numpy as np
import pytest
from numba import cuda

from phase4_cuda.device import SIMULATOR_SWITCH, simulated
from phase4_cuda.testing import skip_unsupported_precisions


def pytest_collection_modifyitems(config, items):
    # (tests marked `gpu` are skipped without a real GPU by the root conftest.py)
    skip_unsupported_precisions(items)  # TF32 and BF16 below compute capability 8.0
    if not simulated() and not cuda.is_available():
        skip = pytest.mark.skip(
            reason=f"no CUDA GPU: set {SIMULATOR_SWITCH} to run these in the simulator"
        )
        for item in items:
            if "phase4_cuda" in str(item.path):
                item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(4321)
