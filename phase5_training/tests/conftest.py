import numpy as np
import pytest

from shared.testing import synthetic_digits


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def tiny_digits():
    """A synthetic MNIST-shaped data set: learnable in a few epochs by a small network, so the
    whole loop can be tested in seconds."""
    return synthetic_digits()
