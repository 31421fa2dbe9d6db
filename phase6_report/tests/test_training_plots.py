"""The training figures from small synthetic results: each is a real picture, says what it must
say, and says it at a readable size."""

import numpy as np
import pytest

from phase6_report import plots, training_plots
from shared.testing import assert_picture, png_size

WIDE = (900, 550)
SQUARE = (700, 700)


@pytest.fixture
def drawn(monkeypatch):
    """The figures drawn while a test runs, kept whole (save would clear them) so that the test
    can read what they show. Each must have every text at least MIN_FONT_PT."""
    figures = []
    real_save = training_plots.save

    def recording_save(fig, out):
        small = [(t.get_text(), t.get_fontsize()) for t in plots.texts(fig)]
        small = [(text, size) for text, size in small if size < plots.MIN_FONT_PT]
        assert not small, f"texts below {plots.MIN_FONT_PT} pt: {small[:5]}"
        fig.clf = lambda *args, **kwargs: None  # keep what it shows for the test
        figures.append(fig)
        return real_save(fig, out)

    monkeypatch.setattr(training_plots, "save", recording_save)
    return figures


def said(fig) -> list[str]:
    """Every visible text of a figure."""
    return [t.get_text() for t in plots.texts(fig)]


def words(drawn) -> str:
    """All the texts of the last figure drawn, as one string."""
    return "\n".join(said(drawn[-1]))


def matrix_with_mistakes() -> list[list[int]]:
    """A confusion matrix whose five largest mistakes are known: 4 -> 9: 23, 7 -> 2: 18,
    9 -> 4: 15, 3 -> 5: 11, 8 -> 3: 9 (then 6 -> 0: 5)."""
    counts = np.diag(np.full(10, 950)) + np.eye(10, k=1, dtype=int)
    for (i, j), n in {(4, 9): 23, (7, 2): 18, (9, 4): 15, (3, 5): 11, (8, 3): 9, (6, 0): 5}.items():
        counts[i, j] = n
    return counts.tolist()


# -- training curves --------------------------------------------------------------------------
def test_training_curves_overlay_several_runs(fake, tmp_path, drawn):
    runs = {
        "mnist, cpu": fake.metrics(),
        "mnist, gpu": fake.metrics(device="gpu", seed=1),
        "fashion-mnist, cpu": fake.metrics("fashion-mnist", val=True, epochs=6),
    }
    assert_picture(training_plots.training_curves(runs, tmp_path / "c.png"), WIDE)
    text = words(drawn)
    assert "mnist, cpu and mnist, gpu coincide (max difference 0)" in text
    assert "fashion-mnist, cpu" in text and "validation" in text


def test_coinciding_runs_are_noted_and_drawn_apart(fake, tmp_path, drawn):
    cpu, gpu = fake.metrics(), fake.metrics(device="gpu")
    for record in gpu["history"]:
        record["test_loss"] += 2e-4
    training_plots.training_curves({"mnist, cpu": cpu, "mnist, gpu": gpu}, tmp_path / "c.png")
    fig = drawn[-1]
    assert "mnist, cpu and mnist, gpu coincide (max difference 2e-4)" in words(drawn)
    lines = fig.axes[0].get_lines()
    assert {(ln.get_color(), ln.get_marker()) for ln in lines[:2]} != {
        (ln.get_color(), ln.get_marker()) for ln in lines[2:]
    }
    assert lines[0].get_marker() != lines[2].get_marker()  # the first split of each run
    assert lines[0].get_linewidth() > lines[2].get_linewidth()  # the one below shows around


def test_runs_that_differ_are_not_said_to_coincide(fake):
    cpu, other = fake.metrics(), fake.metrics()
    other["history"][1]["train_accuracy"] -= 0.002
    assert training_plots.coinciding_runs({"a": cpu, "b": other}) == []
    assert training_plots.coinciding_runs({"a": cpu, "b": fake.metrics(epochs=3)}) == []


# -- confusion matrix -------------------------------------------------------------------------
def test_confusion_matrix(fake, tmp_path, drawn):
    assert_picture(training_plots.confusion_matrix(fake.metrics(), tmp_path / "m.png"), SQUARE)


def test_confusion_matrix_has_a_colour_bar_and_lists_the_top_mistakes(fake, tmp_path, drawn):
    metrics = fake.metrics() | {"test": {"accuracy": 0.97, "confusion": matrix_with_mistakes()}}
    training_plots.confusion_matrix(metrics, tmp_path / "m.png")
    fig = drawn[-1]
    texts = said(fig)
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert any(label.startswith("mistakes:") and "diagonal" in label for label in labels)
    listed = [t for t in texts if t.startswith("Most frequent mistakes")]
    assert len(listed) == 1
    for entry in ("4 -> 9: 23", "7 -> 2: 18", "9 -> 4: 15", "3 -> 5: 11", "8 -> 3: 9"):
        assert entry in listed[0]
    assert "6 -> 0" not in listed[0]  # the sixth is not listed
    assert "950" in texts and "23" in texts  # counts written in, the diagonal's too


def test_most_confused_ranks_mistakes_off_the_diagonal():
    assert training_plots.most_confused(matrix_with_mistakes(), 3) == [
        (4, 9, 23),
        (7, 2, 18),
        (9, 4, 15),
    ]
    assert training_plots.most_confused(np.diag([5, 5]), 5) == []  # no mistake, nothing listed


def test_agreeing_confusion_matrices_are_grouped(fake):
    cpu = fake.metrics()
    gpu = fake.metrics(device="gpu")  # the same seed: the same matrix
    close = fake.metrics(device="gpu")
    close["test"]["confusion"][3][3] -= 1  # one image moved to another cell
    close["test"]["confusion"][3][5] += 1
    other = fake.metrics(seed=7)
    runs = {"cpu": cpu, "gpu": gpu, "close": close, "fashion": fake.metrics("fashion-mnist")}
    assert training_plots.agreeing_runs(runs | {"other seed": other}) == [
        ["cpu", "gpu", "close"],
        ["fashion"],
        ["other seed"],
    ]
    assert training_plots.confusion_difference(
        cpu["test"]["confusion"], close["test"]["confusion"]
    ) == (2, 1)


# -- the most frequent mistakes, with images --------------------------------------------------
def test_top_confusions_draws_a_row_per_pair(rng, tmp_path, drawn):
    true = np.repeat([4, 7, 9, 3, 8, 1], [12, 9, 7, 5, 3, 2])
    predicted = np.repeat([9, 2, 4, 5, 3, 1], [12, 9, 7, 5, 3, 2])  # the 1s are right
    true, predicted = np.append(true, [0, 0]), np.append(predicted, [6, 0])  # one 0 -> 6
    images = rng.integers(0, 255, (len(true), 28, 28), dtype=np.uint8)
    path = training_plots.top_confusions(images, true, predicted, tmp_path / "t.png", per_pair=8)
    assert_picture(path, WIDE)
    rows = [t for t in said(drawn[-1]) if t.startswith("true ")]
    assert rows == [
        "true 4 -> predicted 9: 12 times",
        "true 7 -> predicted 2: 9 times",
        "true 9 -> predicted 4: 7 times",
        "true 3 -> predicted 5: 5 times",
        "true 8 -> predicted 3: 3 times",
    ]
    images_drawn = [ax for ax in drawn[-1].findobj(lambda a: hasattr(a, "images")) if ax.images]
    assert len(images_drawn) == 8 + 8 + 7 + 5 + 3  # up to per_pair images a row


def test_top_confusions_with_class_names_and_no_mistakes(rng, tmp_path, drawn):
    images = rng.integers(0, 255, (4, 784), dtype=np.uint8)  # flattened images too
    names = ["cat", "dog"]
    true, predicted = np.array([0, 0, 1, 1]), np.array([1, 1, 0, 1])
    training_plots.top_confusions(images, true, predicted, tmp_path / "t.png", names)
    assert "true cat -> predicted dog: 2 times" in words(drawn)
    path = training_plots.top_confusions(images, true, true, tmp_path / "none.png")
    assert png_size(path) == WIDE and "no misclassified images" in words(drawn)


# -- first layer ------------------------------------------------------------------------------
def test_first_layer(rng, tmp_path, drawn):
    W = rng.standard_normal((784, 40))
    assert_picture(training_plots.first_layer(W, tmp_path / "w.png"), SQUARE)
    assert "Each square is one unit" in words(drawn)
    with pytest.raises(ValueError, match="not a square image"):
        training_plots.first_layer(rng.standard_normal((10, 4)), tmp_path / "bad.png")


def test_first_layer_shows_the_units_with_the_largest_outgoing_weights(rng, tmp_path, drawn):
    W = rng.standard_normal((784, 50))
    W1 = rng.standard_normal((50, 10)) * 0.01
    chosen = [7, 42, 3, 19]
    W1[chosen] *= 1000 * np.arange(4, 0, -1)[:, None]  # 7 first, then 42, 3, 19
    training_plots.first_layer(W, tmp_path / "w.png", W1=W1, units=4)
    fig = drawn[-1]
    texts = said(fig)
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 4
    for k, image in zip(chosen, shown, strict=True):
        w = W[:, k].reshape(28, 28)
        assert np.allclose(image, w)
    assert any("largest outgoing weights" in t for t in texts)
    assert any(t.startswith("Each square is one unit: its input weights") for t in texts)


def test_first_layer_shows_what_training_added(rng, tmp_path, drawn):
    start = rng.standard_normal((784, 9))
    change = np.zeros((784, 9))
    change[300:310, 4] = 1.0  # only unit 4 learned something: a short stroke
    # made orthogonal to the unit's start, so that it is exactly what the figure must recover
    change[:, 4] -= start[:, 4] * (start[:, 4] @ change[:, 4]) / (start[:, 4] @ start[:, 4])
    # weight decay kept 60% of every start; the figure takes out that share, not just W_init
    trained = 0.6 * start + change
    training_plots.first_layer(trained, tmp_path / "w.png", W_init=start, units=1)
    fig = drawn[-1]
    texts = said(fig)
    assert np.allclose(fig.axes[0].images[0].get_array(), change[:, 4].reshape(28, 28))
    assert any("what training added" in t for t in texts)
    # an untrained model: its weights, as they are
    training_plots.first_layer(start, tmp_path / "w0.png", W_init=start)
    assert "what training added" not in words(drawn)


# -- misclassified ----------------------------------------------------------------------------
def test_misclassified_gallery_shows_the_most_confident_mistakes(rng, tmp_path, drawn):
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
    assert "no misclassified images" in words(drawn)


def test_misclassified_confidence_near_one_does_not_read_100(tmp_path, drawn):
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    true, predicted = np.array([4, 7, 1]), np.array([9, 2, 1])
    confidence = np.array([0.9997, 0.87, 0.99])
    training_plots.misclassified(images, true, predicted, confidence, tmp_path / "g.png")
    titles = [t for t in said(drawn[-1]) if "->" in t and "\n" in t and "mistakes" not in t]
    assert titles == ["4 -> 9\n99.97%", "7 -> 2\n87%"]  # the most confident first


def test_percent_has_the_digits_to_differ_from_100():
    assert training_plots.percent(0.87) == "87%"
    assert training_plots.percent(0.995) == "99.50%"
    assert training_plots.percent(0.9997) == "99.97%"
    assert training_plots.percent(0.999991) == "99.999%"
    assert training_plots.percent(1 - 1e-8) == "> 99.9999%"
    assert training_plots.percent(1.0) == "100%"


# -- XOR --------------------------------------------------------------------------------------
def test_xor_boundary(tmp_path, drawn):
    def predict(points):  # an XOR-like surface
        return np.abs(points[:, 0] - points[:, 1])

    assert_picture(training_plots.xor_boundary(predict, tmp_path / "x.png"), SQUARE)
    text = words(drawn)
    for entry in ("target 0 (white)", "target 1 (black)", "decision boundary (output 0.5)"):
        assert entry in text
    assert "network output" in "\n".join(ax.get_ylabel() for ax in drawn[-1].axes)


# -- every figure -----------------------------------------------------------------------------
def test_every_text_of_every_training_figure_is_readable(fake, rng, tmp_path, drawn):
    # `drawn` checks each figure's text sizes as it is saved; here, with long class names
    metrics = fake.metrics("fashion-mnist", val=True)
    metrics["classes"] = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                          "Shirt", "Sneaker", "Bag", "Ankle boot"]  # fmt: skip
    training_plots.training_curves({"a": metrics, "b": fake.metrics()}, tmp_path / "c.png")
    training_plots.confusion_matrix(metrics, tmp_path / "m.png")
    true = rng.integers(0, 10, 60)
    predicted = np.where(rng.random(60) < 0.5, true, (true + 3) % 10)
    images = rng.integers(0, 255, (60, 28, 28), dtype=np.uint8)
    training_plots.top_confusions(images, true, predicted, tmp_path / "t.png", metrics["classes"])
    training_plots.misclassified(images, true, predicted, rng.random(60), tmp_path / "g.png",
                                 metrics["classes"])  # fmt: skip
    training_plots.first_layer(rng.standard_normal((784, 20)), tmp_path / "w.png")
    training_plots.xor_boundary(lambda p: p[:, 0] * (1 - p[:, 1]), tmp_path / "x.png")
    assert len(drawn) == 6
    for fig in drawn:
        sizes = [t.get_fontsize() for t in plots.texts(fig)]
        assert sizes and min(sizes) >= plots.MIN_FONT_PT
