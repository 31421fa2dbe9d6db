import numpy as np
import pytest

from shared.testing import synthetic_digits


def pytest_collection_modifyitems(config, items):
    """The tests in TF32 or BF16 skipped, with the reason, on a GPU older than compute capability
    8.0 (Phase 4's rule: phase4_cuda.testing)."""
    from phase4_cuda.testing import skip_unsupported_precisions

    skip_unsupported_precisions([item for item in items if item.path.name == "test_gpu.py"])


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def tiny_digits():
    """A synthetic MNIST-shaped data set: learnable in a few epochs by a small network, so the
    whole loop can be tested in seconds."""
    return synthetic_digits()
