"""The NumPy training loop, its data pipeline and its command line."""

import itertools
import math
from dataclasses import replace as replaced

import numpy as np
import pytest

from phase2_numpy import __main__ as cli
from phase2_numpy import train as train_module
from phase2_numpy.data import epoch_order, prepare_data
from phase2_numpy.network import he_init
from phase2_numpy.train import TrainConfig, evaluate, lr_at, sgd_update, train
from shared.datasets import find_dataset
from shared.testing import recorded_bars, synthetic_digits

#: the tests `python -m shared.exercises check 2.2` runs against the learner's file
pytestmark = pytest.mark.exercise(id="2.2")

SMALL = {"widths": (784, 32, 10), "batch_size": 32, "lr": 0.05}


def test_the_pipeline_standardises_with_the_training_set(tiny_digits):
    data = prepare_data(tiny_digits, TrainConfig(val_fraction=0.25, **SMALL))
    assert data["x_train"].dtype == np.float32 and data["y_train"].dtype == np.int64
    assert len(data["x_train"]) == 450 and len(data["x_val"]) == 150
    both = np.concatenate([data["x_train"], data["x_val"]])  # the statistics of all 600
    assert abs(both.mean()) < 1e-4 and abs(both.std() - 1) < 1e-3
    with pytest.raises(ValueError, match="no training images left"):
        prepare_data(tiny_digits, TrainConfig(limit=1, val_fraction=0.9, **SMALL))


def test_each_epoch_is_a_fresh_seeded_permutation():
    config = TrainConfig(batch_size=7, seed=3)
    first, again, second = (epoch_order(50, config, e) for e in (0, 0, 1))
    assert sorted(first) == list(range(50)) and np.array_equal(first, again)
    assert not np.array_equal(first, second)


def test_onecycle_warms_up_then_decays_to_zero():
    config = TrainConfig(lr=0.1, warmup_fraction=0.1)
    lrs = [lr_at(config, s, 100) for s in range(100)]
    assert lrs[9] == pytest.approx(0.1) and lrs[0] == pytest.approx(0.01)
    assert all(a >= b for a, b in itertools.pairwise(lrs[9:])) and lrs[-1] < 1e-3


def test_the_schedule_stays_at_zero_past_its_end():
    config = TrainConfig(lr=0.1, warmup_fraction=0.1)
    assert lr_at(config, 99, 100) < 1e-3
    assert lr_at(config, 130, 100) == pytest.approx(0.0, abs=1e-12), "lr_at past the last step"
    # a schedule of warm-up alone has no steps left to decay over: no division by them
    assert math.isfinite(lr_at(replaced(config, warmup_fraction=1.0), 100, 100))


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_update_is_the_rule_written_out(nesterov):
    # the rule in float64, by hand: decay on the weights only (never the biases), the velocity
    # v = mu v + g, the step g + mu v (Nesterov) or v. Nonzero biases and velocities, two steps.
    rng = np.random.default_rng(0)
    config = TrainConfig(momentum=0.9, weight_decay=0.01, nesterov=nesterov)
    params = he_init((5, 4, 3), seed=1).astype(np.float64)
    for group in (params.b, params.vW, params.vb):
        for a in group:
            a[...] = rng.standard_normal(a.shape)
    want = params.copy()
    for _ in range(2):
        gW = [rng.standard_normal(w.shape) for w in params.W]
        gb = [rng.standard_normal(b.shape) for b in params.b]
        sgd_update(params, gW, gb, 0.1, config)
        for values, velocities, grads, decay in (
            (want.W, want.vW, gW, 0.01),
            (want.b, want.vb, gb, 0.0),
        ):
            for value, v, grad in zip(values, velocities, grads, strict=True):
                g = grad + decay * value
                v[...] = 0.9 * v + g
                value -= 0.1 * (g + 0.9 * v if nesterov else v)
    for name in ("W", "b", "vW", "vb"):
        for got, expected in zip(getattr(params, name), getattr(want, name), strict=True):
            np.testing.assert_allclose(
                got,
                expected,
                rtol=1e-12,
                atol=1e-12,
                err_msg=(
                    f"sgd_update: {name} differs from the rule: weight decay on the weights only "
                    f"(not the biases), the velocity v = momentum * v + g, the step "
                    f"{'g + momentum * v (Nesterov)' if nesterov else 'v (without Nesterov)'}"
                ),
            )


def test_evaluate_counts_the_confusions():
    logits = np.eye(3)[[0, 1, 2, 2]]  # predicts 0, 1, 2, 2
    result = evaluate(logits, np.array([0, 1, 2, 1]), n_classes=3)
    assert result["accuracy"] == 0.75
    assert result["confusion"] == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    assert result["per_class_accuracy"] == [1.0, 0.5, 1.0]


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_it_learns_the_synthetic_digits(tiny_digits, activation, monkeypatch):
    bars = recorded_bars(monkeypatch, train_module)
    config = TrainConfig(epochs=3, activation=activation, **SMALL)
    params, history = train(config, prepare_data(tiny_digits, config), progress=False)
    # each epoch's bar ends showing the epoch's mean loss
    assert [bar.postfix["loss"] for bar in bars] == pytest.approx(
        [r["train_loss"] for r in history]
    )
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert history[-1]["test_accuracy"] >= 0.95
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert params.W[0].dtype == np.float32


def test_a_diverging_run_stops_with_a_clear_error(tiny_digits):
    config = TrainConfig(epochs=2, schedule="constant", **(SMALL | {"lr": 1e4}))
    with pytest.raises(FloatingPointError, match="lower --lr"):
        train(config, prepare_data(tiny_digits, config), progress=False)


def test_the_command_line_refuses_bad_input_in_one_line(capsys):
    assert cli.main(["--lr", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: need lr > 0")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--activation", "gelu"])
    assert exit_.value.code == 2


needs_mnist = pytest.mark.skipif(find_dataset("mnist") is None, reason="MNIST not found")


@needs_mnist
@pytest.mark.slow
def test_it_trains_mnist(capsys):
    args = ["--epochs", "2", "--widths", "784", "128", "10", "--no-progress"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy ")[-1].split("%")[0])
    assert accuracy >= 96.5, out


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: {"y_train": d.y_train[:10], "x_train": d.x_train[:16]}, "16 images and 10 labels"),
        (lambda d: {"y_train": np.where(np.arange(len(d.y_train)) == 3, 12, d.y_train).astype(np.uint8)},
         "labels from 0 to 12, expected 0 to 9"),
        (lambda d: {"y_test": d.y_test[:-1]}, "test set: 200 images and 199 labels"),
    ],
)  # fmt: skip
def test_images_and_labels_that_do_not_pair_up_are_refused(change, says):
    digits = synthetic_digits()
    with pytest.raises(ValueError, match=says):
        prepare_data(replaced(digits, **change(digits)), TrainConfig(widths=(784, 8, 10)))
