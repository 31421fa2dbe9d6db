"""Helpers for every phase's tests: the odd shapes each implementation is checked on, a
comparison against a float64 NumPy reference that names the worst element when it fails,
checks that a PNG file is a real, non-blank picture (Phase 6), a synthetic MNIST-shaped data
set that the trainers learn in seconds (Phases 2 and 5), the parameters of a test that
belong to an exercise (`for_exercises`), and the progress bars a training loop made
(`recorded_bars`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "BINDING_EXERCISES",
    "ODD_MATMUL_SHAPES",
    "ODD_SHAPES",
    "assert_close",
    "assert_picture",
    "for_exercises",
    "png_size",
    "recorded_bars",
    "relative_error",
    "synthetic_digits",
    "to_numpy",
]

#: (rows, cols): 1x1, a row, a column, non-square, primes.
ODD_SHAPES = [(1, 1), (1, 7), (7, 1), (3, 5), (13, 17), (2, 31)]
#: (m, k, n) of an (m, k) @ (k, n) product.
ODD_MATMUL_SHAPES = [(1, 1, 1), (1, 5, 1), (5, 1, 5), (3, 7, 2), (13, 17, 11), (8, 8, 8)]


def relative_error(got: Any, ref: Any) -> float:
    """||got - ref|| / ||ref|| (Frobenius, in float64): how the GPU kernels and the roadmap's
    routes are judged against a float64 product. NaN anywhere gives NaN; a zero reference
    divides by 1."""
    ref = np.asarray(ref, dtype=np.float64)
    denom = np.linalg.norm(ref) or 1.0
    return float(np.linalg.norm(np.asarray(got, dtype=np.float64) - ref) / denom)


def to_numpy(x: Any) -> np.ndarray:
    """A float64 array of a NumPy array, a nested list, or anything with `.tolist()`."""
    if not isinstance(x, np.ndarray) and hasattr(x, "tolist"):
        x = x.tolist()
    return np.asarray(x, dtype=np.float64)


def assert_close(actual: Any, expected: Any, rtol: float = 1e-12, atol: float = 0.0) -> None:
    """Same shape and |actual - expected| <= atol + rtol |expected| everywhere."""
    got, want = to_numpy(actual), to_numpy(expected)
    assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def png_size(path: Any) -> tuple[int, int]:
    """(width, height) from a PNG file's header; fails unless the file is a PNG."""
    import struct
    from pathlib import Path

    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR", f"{path}: no IHDR chunk first"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def assert_picture(path: Any, size: tuple[int, int] | None = None) -> None:
    """A valid PNG (decodable, of `size` when given) that is not blank: more than 2% of its
    pixels differ from its most common colour. Needs matplotlib to decode the image."""
    import matplotlib.image

    width, height = png_size(path)
    if size is not None:
        assert (width, height) == size, f"{path}: {width}x{height}, expected {size}"
    pixels = matplotlib.image.imread(path)[..., :3].reshape(-1, 3)
    colours, counts = np.unique(np.round(pixels * 255).astype(np.uint8), axis=0, return_counts=True)
    assert 1 - counts.max() / len(pixels) > 0.02, f"{path} is (nearly) blank"
    assert len(colours) > 5, f"{path} has only {len(colours)} colours"


def synthetic_digits(seed: int = 0):
    """A synthetic MNIST-shaped data set (600 training and 200 test images): class c lights up
    row band c of the image, plus noise. A small network learns it in a few epochs, so a whole
    training loop can be tested in seconds."""
    from shared.datasets import Dataset

    rng = np.random.default_rng(seed)

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


#: the exercise that writes each of phase3_c.BINDINGS (the C library itself is 3.1's)
BINDING_EXERCISES = {"ctypes": "3.2", "pybind11": "3.3", "capi": "3.4"}


def for_exercises(values: dict[str, Any], exercises: dict[str, str]) -> list:
    """The values of a parametrized test (or fixture) as pytest params, each with its key as its
    id and, where `exercises` names one for that key, the mark of the exercise that writes it:
    `python -m shared.exercises check 3.2` runs the ctypes binding's cases, not the others'."""
    import pytest

    return [
        pytest.param(
            value,
            id=key,
            marks=[pytest.mark.exercise(id=exercises[key])] if key in exercises else [],
        )
        for key, value in values.items()
    ]


def recorded_bars(monkeypatch, module) -> list:
    """The progress bars `module` makes from now on (its `Progress`, shared/progress.py), each
    appended to the returned list as it is made, so that a test can read what they showed."""
    bars = []

    class Recorded(module.Progress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(module, "Progress", Recorded)
    return bars
