import pytest

from shared.testing import synthetic_digits


@pytest.fixture
def tiny_digits():
    """A synthetic MNIST-shaped data set a small network learns in a few epochs."""
    return synthetic_digits()
