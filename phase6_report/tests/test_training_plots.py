"""The training figures from small synthetic results."""

import numpy as np
import pytest

from phase6_report import training_plots
from shared.testing import assert_picture, png_size

WIDE = (900, 550)
SQUARE = (700, 700)


def test_training_curves_overlay_several_runs(fake, tmp_path):
    runs = {
        "mnist, cpu": fake.metrics(),
        "mnist, gpu": fake.metrics(device="gpu", seed=1),
        "fashion-mnist, cpu": fake.metrics("fashion-mnist", val=True, epochs=6),
    }
    assert_picture(training_plots.training_curves(runs, tmp_path / "c.png"), WIDE)


def test_confusion_matrix(fake, tmp_path):
    assert_picture(training_plots.confusion_matrix(fake.metrics(), tmp_path / "m.png"), SQUARE)


def test_first_layer(rng, tmp_path):
    W = rng.standard_normal((784, 40))
    assert_picture(training_plots.first_layer(W, tmp_path / "w.png"), SQUARE)
    with pytest.raises(ValueError, match="not a square image"):
        training_plots.first_layer(rng.standard_normal((10, 4)), tmp_path / "bad.png")


def test_misclassified_gallery_shows_the_most_confident_mistakes(rng, tmp_path):
    images = rng.integers(0, 255, (40, 28, 28), dtype=np.uint8)
    true = rng.integers(0, 10, 40)
    predicted = np.where(rng.random(40) < 0.5, true, (true + 1) % 10)
    confidence = rng.random(40)
    assert_picture(
        training_plots.misclassified(images, true, predicted, confidence, tmp_path / "g.png"),
        SQUARE,
    )
    # nothing wrong: still a picture that says so
    path = training_plots.misclassified(images, true, true, confidence, tmp_path / "none.png")
    assert png_size(path) == SQUARE


def test_xor_boundary(tmp_path):
    def predict(points):  # an XOR-like surface
        return np.abs(points[:, 0] - points[:, 1])

    assert_picture(training_plots.xor_boundary(predict, tmp_path / "x.png"), SQUARE)
