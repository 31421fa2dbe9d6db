"""Every figure from small synthetic results: a valid PNG of the expected size, not blank."""

import sys

import numpy as np
import pytest

from phase6_report import plots
from shared.testing import assert_picture, png_size

WIDE = (900, 550)
SQUARE = (700, 700)


def test_performance_roadmap(fake, tmp_path):
    assert_picture(plots.performance_roadmap(fake.roadmap_rows(), tmp_path / "r.png"), WIDE)


@pytest.mark.parametrize("which", ["both", "cuda only", "c only"])
def test_matmul_ladder(fake, which, tmp_path):
    ladder = fake.ladder_rows() if which != "c only" else []
    c = fake.c_rows() if which != "cuda only" else []
    assert_picture(plots.matmul_ladder(ladder, c, tmp_path / "l.png"), WIDE)


def test_training_curves_overlay_several_runs(fake, tmp_path):
    runs = {
        "mnist, cpu": fake.metrics(),
        "mnist, gpu": fake.metrics(device="gpu", seed=1),
        "fashion-mnist, cpu": fake.metrics("fashion-mnist", val=True, epochs=6),
    }
    assert_picture(plots.training_curves(runs, tmp_path / "c.png"), WIDE)


def test_confusion_matrix(fake, tmp_path):
    assert_picture(plots.confusion_matrix(fake.metrics(), tmp_path / "m.png"), SQUARE)


def test_first_layer(rng, tmp_path):
    W = rng.standard_normal((784, 40))
    assert_picture(plots.first_layer(W, tmp_path / "w.png"), SQUARE)
    with pytest.raises(ValueError, match="not a square image"):
        plots.first_layer(rng.standard_normal((10, 4)), tmp_path / "bad.png")


def test_misclassified_gallery_shows_the_most_confident_mistakes(rng, tmp_path):
    images = rng.integers(0, 255, (40, 28, 28), dtype=np.uint8)
    true = rng.integers(0, 10, 40)
    predicted = np.where(rng.random(40) < 0.5, true, (true + 1) % 10)
    confidence = rng.random(40)
    assert_picture(
        plots.misclassified(images, true, predicted, confidence, tmp_path / "g.png"), SQUARE
    )
    # nothing wrong: still a picture that says so
    path = plots.misclassified(images, true, true, confidence, tmp_path / "none.png")
    assert png_size(path) == SQUARE


def test_xor_boundary(tmp_path):
    def predict(points):  # an XOR-like surface
        return np.abs(points[:, 0] - points[:, 1])

    assert_picture(plots.xor_boundary(predict, tmp_path / "x.png"), SQUARE)


def test_without_matplotlib_the_error_says_how_to_install_it(fake, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(plots.MissingPlotting, match=r"pip install 'nn-foundations\[plot\]'"):
        plots.confusion_matrix(fake.metrics(), tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()


def test_empty_inputs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no roadmap rows"):
        plots.performance_roadmap([], tmp_path / "r.png")
    with pytest.raises(ValueError, match="no runs"):
        plots.training_curves({}, tmp_path / "c.png")
