"""The data pipeline: from MNIST's uint8 images to standardised float32 rows, an optional
validation split, and the order in which each epoch visits the training rows.

Standardising with the *training* set's mean and deviation (never the test set's: that would let
the test set leak into training) centres the inputs near 0 with unit spread, the range in which
He-initialised weights keep every layer's activations of the same size.
"""

from __future__ import annotations

import numpy as np

from shared.batches import minibatch_indices, scale_images, train_val_split
from shared.datasets import Dataset

__all__ = ["check_labelled", "epoch_order", "prepare_data"]


def check_labelled(x: np.ndarray, y: np.ndarray, n_classes: int, what: str = "the data") -> None:
    """ValueError unless x's rows and y's labels pair up one to one and every label is a class
    (0 to n_classes - 1): a trainer indexes its outputs by label, and a kernel reads what an
    index past the end holds, or trains on as many rows as the shorter of the two."""
    if len(x) != len(y):
        raise ValueError(f"{what}: {len(x)} images and {len(y)} labels, where each image needs one")
    if len(y) and (int(np.min(y)) < 0 or int(np.max(y)) >= n_classes):
        raise ValueError(
            f"{what}: labels from {np.min(y)} to {np.max(y)}, expected 0 to {n_classes - 1} "
            f"(one per class)"
        )


def prepare_data(ds: Dataset, config) -> dict[str, np.ndarray]:
    """x_train, y_train, x_test, y_test (and x_val, y_val when config.val_fraction > 0): float32
    inputs (n, 784) standardised with the training set's mean and deviation, int64 labels.
    `config` (a train.TrainConfig) gives limit, val_fraction and seed."""
    x_train, y_train = ds.x_train, ds.y_train
    check_labelled(x_train, y_train, config.widths[-1], f"{ds.name}'s training set")
    check_labelled(ds.x_test, ds.y_test, config.widths[-1], f"{ds.name}'s test set")
    if config.limit is not None:  # validate() refuses 0 and negative limits
        x_train, y_train = x_train[: config.limit], y_train[: config.limit]
    x_train, x_test = scale_images(x_train), scale_images(ds.x_test)
    mean, std = float(x_train.mean()), float(x_train.std())
    data = {
        "x_train": (x_train - mean) / std,
        "y_train": y_train.astype(np.int64),
        "x_test": (x_test - mean) / std,
        "y_test": ds.y_test.astype(np.int64),
    }
    if config.val_fraction:
        xt, yt, xv, yv = train_val_split(
            data["x_train"], data["y_train"], config.val_fraction, config.seed
        )
        data |= {"x_train": xt, "y_train": yt, "x_val": xv, "y_val": yv}
    if len(data["y_train"]) == 0:
        raise ValueError(
            f"no training images left: {len(x_train)} taken (--limit), {config.val_fraction:.0%} "
            "of them held out for validation (--val-fraction)"
        )
    return {
        k: np.ascontiguousarray(v, dtype=np.float32 if k.startswith("x") else np.int64)
        for k, v in data.items()
    }


def epoch_order(n: int, config, epoch: int) -> np.ndarray:
    """The order in which epoch `epoch` visits the n training rows, a fresh shuffle each epoch
    (so no batch is the same twice), seeded by the run's seed and the epoch: a resumed run, the
    other trainers and the benchmark's peers all see the same batches."""
    return np.concatenate(
        list(minibatch_indices(n, config.batch_size, seed=config.seed * 1000 + epoch))
    )
