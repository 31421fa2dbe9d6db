"""Phase 4's tests run the same kernels on a real GPU or in numba's CUDA simulator
(NUMBA_ENABLE_CUDASIM=1, what CI uses). Tests marked `gpu` need real hardware (sizes the simulator
would take hours over); without a GPU or the simulator everything here is skipped, saying why."""

import numpy as np
import pytest
from numba import cuda

from phase4_cuda.device import SIMULATOR_SWITCH, simulated


def pytest_collection_modifyitems(config, items):
    here = [i for i in items if "phase4_cuda" in str(i.path)]
    if simulated():
        for item in here:
            if "gpu" in item.keywords:
                item.add_marker(
                    pytest.mark.skip(reason="needs a real GPU (running in the simulator)")
                )
    elif not cuda.is_available():
        skip = pytest.mark.skip(
            reason=f"no CUDA GPU: set {SIMULATOR_SWITCH} to run these in the simulator"
        )
        for item in here:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(4321)
