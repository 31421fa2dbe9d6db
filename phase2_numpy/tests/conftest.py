import numpy as np
import pytest

from shared.datasets import Dataset


@pytest.fixture
def tiny_digits():
    """A synthetic MNIST-shaped data set: class c lights up row band c of the image, plus noise.
    Learnable in a few epochs by a small network, so the whole loop is tested in seconds."""
    rng = np.random.default_rng(0)

    def make(n):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, 2 + 2 * c : 4 + 2 * c, 4:24] = 250
        return images, labels

    x_train, y_train = make(600)
    x_test, y_test = make(200)
    return Dataset(
        "synthetic", x_train, y_train, x_test, y_test, source=None, classes=tuple("0123456789")
    )
