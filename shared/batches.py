"""Turn a data set into training input: scale pixels, split off a validation set, shuffle into
mini-batches. All randomness comes from an explicit seed, so a run can be repeated exactly.

Works on NumPy arrays; Phase 1 (pure Python) converts a batch to lists itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["minibatch_indices", "one_hot", "scale_images", "train_val_split"]


def scale_images(images: np.ndarray, dtype: type = np.float32, flatten: bool = True) -> np.ndarray:
    """uint8 images (N, H, W) -> floats in [0, 1], shape (N, H*W) when `flatten`."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"expected uint8 images, got {images.dtype}")
    out = images.astype(dtype) / dtype(255)
    return out.reshape(len(out), -1) if flatten else out


def one_hot(labels: np.ndarray, n_classes: int = 10, dtype: type = np.float32) -> np.ndarray:
    """labels (N,) of ints in [0, n_classes) -> (N, n_classes) with a 1 in each row."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels must lie in [0, {n_classes}), got [{labels.min()}, {labels.max()}]"
        )
    out = np.zeros((len(labels), n_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle once with `seed` and hold out `val_fraction` of the rows: (x_tr, y_tr, x_val, y_val)."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = round(len(x) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def minibatch_indices(
    n: int, batch_size: int, seed: int | None = 0, drop_last: bool = False
) -> Iterator[np.ndarray]:
    """Index arrays of consecutive mini-batches over `n` rows, shuffled with `seed` (None: in order)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]
