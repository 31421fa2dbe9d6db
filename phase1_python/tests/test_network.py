"""The network end to end: whole-network gradients, SGD, XOR, MNIST example, bad input."""

import io
import subprocess
import sys

import numpy as np
import pytest

from phase1_python import (
    LOSSES,
    Activation,
    Dense,
    Matrix,
    Network,
    numerical_gradient,
    one_hot,
    relative_error,
)
from phase1_python.examples import xor

#: the tests `python -m shared.exercises check 1.6` runs against the learner's file
pytestmark = pytest.mark.exercise(id="1.6")


def small_net(seed=0):
    return Network(
        [Dense(4, 5, seed=seed), Activation("tanh"), Dense(5, 3, init="xavier", seed=seed + 1)]
    )


def test_whole_network_gradients_match_finite_differences(rng):
    net = small_net()
    x, y = Matrix(rng.standard_normal((6, 4))), one_hot([0, 2, 1, 1, 0, 2], 3)
    loss = LOSSES["softmax_cross_entropy"]
    out = net.forward(x)
    net.backward(loss.grad(out, y))
    for layer in (net.layers[0], net.layers[2]):
        for name, value, grad in layer.parameters():
            numeric = numerical_gradient(lambda: loss.value(net.forward(x), y), value)
            assert relative_error(grad, numeric) < 1e-6, (layer, name)


def test_one_sgd_step_matches_numpy(rng):
    net = Network([Dense(3, 2, seed=0)])
    w0 = np.array(net.layers[0].W.tolist())
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    value = net.train_step(Matrix(x), Matrix(y), LOSSES["mse"], lr=0.1)
    assert value == pytest.approx(((x @ w0 - y) ** 2).mean(), rel=1e-12), (
        "train_step returns the batch's loss before the update"
    )
    grad_w = x.T @ (2 * (x @ w0 - y) / y.size)
    np.testing.assert_allclose(np.array(net.layers[0].W.tolist()), w0 - 0.1 * grad_w, rtol=1e-12)


def test_momentum_accumulates_velocity(rng):
    # heavy ball: v <- momentum v - lr g (v starts at 0), then W <- W + v, for W and b alike
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    net = Network([Dense(3, 2, seed=0)])
    w, b = np.array(net.layers[0].W.tolist()), np.zeros((1, 2))
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for _ in range(3):
        net.train_step(Matrix(x), Matrix(y), LOSSES["mse"], lr=0.1, momentum=0.9)
        g = 2 * (x @ w + b - y) / y.size
        vw, vb = 0.9 * vw - 0.1 * x.T @ g, 0.9 * vb - 0.1 * g.sum(axis=0, keepdims=True)
        w, b = w + vw, b + vb
    got = np.array(net.layers[0].W.tolist()), np.array(net.layers[0].b.tolist())
    np.testing.assert_allclose(got[0], w, rtol=1e-10, err_msg="momentum: W after three steps")
    np.testing.assert_allclose(got[1], b, rtol=1e-10, err_msg="momentum: b after three steps")


def test_fit_lowers_the_loss_and_is_deterministic(rng):
    x = Matrix(rng.standard_normal((40, 4)))
    y = one_hot([int(r[0] > 0) + int(r[1] > 0) for r in x], 3)
    h1 = small_net().fit(
        x, y, "softmax_cross_entropy", epochs=15, batch_size=8, lr=0.2, progress=False
    )
    h2 = small_net().fit(
        x, y, "softmax_cross_entropy", epochs=15, batch_size=8, lr=0.2, progress=False
    )
    assert h1 == h2
    assert h1[-1] < 0.5 * h1[0]
    h3 = small_net().fit(
        x, y, "softmax_cross_entropy", epochs=2, batch_size=8, lr=0.2, seed=1, progress=False
    )
    assert h3 != h1[:2], "fit shuffles the rows each epoch (its seed changes the batches)"


def test_fit_reports_each_epochs_mean_loss_over_the_rows(rng):
    # lr = 0: the loss cannot change, so the epoch's mean over its rows (7 in batches of 3, 3
    # and 1: each batch weighs by its rows) is the loss of the whole set
    x, y = Matrix(rng.standard_normal((7, 4))), one_hot([0, 1, 2, 0, 1, 2, 0], 3)
    net, loss = small_net(), LOSSES["softmax_cross_entropy"]
    history = net.fit(x, y, loss, epochs=1, batch_size=3, lr=0.0, progress=False)
    assert history[0] == pytest.approx(loss.value(net(x), y), rel=1e-12), (
        "fit: an epoch's loss is the mean over its rows, a short last batch weighing less"
    )


def test_xor_example_classifies_all_four_with_its_default_seed(capsys):
    assert xor.main(["--no-progress"]) == 0
    assert "4/4 correct" in capsys.readouterr().out


def test_xor_example_takes_the_hidden_activation(capsys):
    assert xor.main(["--no-progress", "--activation", "sigmoid"]) == 0
    assert xor.build(activation="relu").layers[1].name == "relu"
    # seed 1 with ReLU: inputs (0,0) and (0,1) switch every hidden unit off, so both get 0.5
    assert xor.main(["--no-progress", "--activation", "relu", "--seed", "1"]) == 1
    assert "3/4 correct" in capsys.readouterr().out


def test_training_reports_through_the_shared_progress_bar_and_never_imports_tqdm():
    code = (
        "import sys\n"
        "from phase1_python.examples import xor\n"
        "xor.train(epochs=50, progress=True)\n"
        "assert not any(m == 'tqdm' or m.startswith('tqdm.') for m in sys.modules), 'tqdm imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "xor: 100%" in done.stderr and "loss=" in done.stderr


def test_nan_loss_stops_training_with_a_clear_message():
    x, y = Matrix([[float("nan"), 1.0]]), Matrix([[1.0]])
    with pytest.raises(FloatingPointError, match="loss became nan in epoch 1"):
        Network([Dense(2, 1)]).fit(x, y, epochs=1, progress=False)


def test_fit_rejects_bad_arguments():
    net, x, y = small_net(), Matrix.zeros(4, 4), Matrix.zeros(3, 3)
    with pytest.raises(ValueError, match="x has 4 samples but y has 3"):
        net.fit(x, y, progress=False)
    with pytest.raises(ValueError, match="unknown loss"):
        net.fit(x, Matrix.zeros(4, 3), loss="hinge", progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        net.fit(x, Matrix.zeros(4, 3), batch_size=0, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        net.fit(x, Matrix.zeros(4, 3), epochs=0, progress=False)
    assert len(net.fit(x, Matrix.zeros(4, 3), batch_size=1, epochs=1, progress=False)) == 1, (
        "fit: a batch of one row is allowed (plain stochastic gradient descent)"
    )
    with pytest.raises(ValueError, match="at least one layer"):
        Network([])


def test_progress_is_silent_when_disabled(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    small_net().fit(Matrix.zeros(2, 4), one_hot([0, 1], 3), epochs=2, progress=False)
    assert stream.getvalue() == ""
