"""The NumPy network: its gradients against finite differences, its forward pass on odd inputs,
and one training step against Phase 1's pure-Python network and against itself in float64."""

import numpy as np
import pytest

from phase1_python.layers import Activation, Dense
from phase1_python.losses import LOSSES, one_hot
from phase1_python.matrix import Matrix
from phase1_python.network import Network
from phase2_numpy import gradcheck
from phase2_numpy.network import (
    ACTIVATIONS,
    backward,
    cross_entropy,
    forward,
    he_init,
    sigmoid,
    softmax,
)
from phase2_numpy.train import TrainConfig, reference_step, train_step

#: the tests `python -m shared.exercises check 2.1` runs against the learner's file
pytestmark = pytest.mark.exercise(id="2.1")

ACTS = sorted(ACTIVATIONS)


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("widths", [(7, 5, 3), (13, 11, 6, 4), (1, 1, 2)])
def test_gradients_agree_with_finite_differences(widths, activation):
    for name, analytic, numerical, error in gradcheck.gradient_errors(widths, activation, batch=5):
        assert error <= gradcheck.TOLERANCE, (
            f"backward's gradient of {name} ({activation}) has norm {analytic:.6g}, finite "
            f"differences {numerical:.6g}: relative error {error:.2g} > {gradcheck.TOLERANCE:g}"
        )


def test_the_gradient_check_catches_a_wrong_gradient(monkeypatch):
    # a derivative off by a factor must fail the check: the check is not vacuous
    wrong = dict(ACTIVATIONS, tanh=(np.tanh, lambda h: 1.1 * (1 - h * h)))
    monkeypatch.setattr("phase2_numpy.network.ACTIVATIONS", wrong)
    errors = [e for *_, e in gradcheck.gradient_errors((6, 5, 3), "tanh", batch=4)]
    assert max(errors) > 1e-2


def test_gradcheck_command(capsys):
    assert gradcheck.main(["--widths", "9", "7", "4", "--batch", "3"]) == 0
    out = capsys.readouterr().out
    for activation in ACTS:
        assert f"{activation:<10} W0" in out and f"{activation:<10} b1" in out
    assert out.rstrip().endswith("pass")
    with pytest.raises(SystemExit) as exit_:
        gradcheck.main(["--widths", "9"])
    assert exit_.value.code == 2


@pytest.mark.parametrize("activation", ACTS)
def test_forward_on_odd_inputs_matches_float64(activation):
    rng = np.random.default_rng(1)
    params = he_init((17, 13, 5), seed=2)
    x = rng.normal(size=(7, 34))[:, ::2]  # not contiguous
    params.b = [rng.normal(size=b.shape) for b in params.b]  # non-zero biases
    reference = forward([w.astype(np.float64) for w in params.W], params.b, x, activation)
    # written out: the activation on the hidden layer, none on the logits, the bias on both
    f = ACTIVATIONS[activation][0]
    hidden = f(x @ params.W[0].astype(np.float64) + params.b[0])
    np.testing.assert_allclose(reference[1], hidden, rtol=1e-12, atol=1e-12,
                               err_msg=f"forward: hidden layer = {activation}(x W0 + b0)")  # fmt: skip
    logits = hidden @ params.W[1].astype(np.float64) + params.b[1]
    np.testing.assert_allclose(reference[2], logits, rtol=1e-12, atol=1e-12,
                               err_msg="forward: logits = h W1 + b1, with no activation")  # fmt: skip
    variants = {
        "non-contiguous": x,
        "byte-swapped": x.astype(x.dtype.newbyteorder(">")),
        "read-only": np.require(x, requirements="C"),
        "one row": x[:1],
    }
    variants["read-only"].flags.writeable = False
    for name, xv in variants.items():
        hs = forward([w.astype(np.float64) for w in params.W], params.b, xv, activation)
        assert np.allclose(hs[-1], reference[-1][: len(xv)], rtol=1e-12, atol=1e-12), name
        assert [h.shape for h in hs] == [(len(xv), 17), (len(xv), 13), (len(xv), 5)], name


def test_softmax_sigmoid_and_the_loss_are_stable():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    p = softmax(logits)
    assert np.allclose(p.sum(axis=1), 1) and p[0, 0] == 1.0 and np.allclose(p[1], 1 / 3)
    assert np.isfinite(cross_entropy(logits, np.array([2, 0])))
    assert np.all(np.isfinite(sigmoid(np.array([-1e4, 0.0, 1e4]))))
    assert np.isnan(cross_entropy(np.array([[np.nan, 0.0]]), np.array([0])))


def test_backward_starts_from_softmax_minus_onehot():
    # with no hidden layer, dW = x^T (softmax(x W + b) - onehot) / B: the fused gradient
    rng = np.random.default_rng(3)
    W, b = [rng.normal(size=(4, 3))], [rng.normal(size=3)]
    x, y = rng.normal(size=(5, 4)), np.array([0, 2, 1, 1, 0])
    grads_W, grads_b = backward(W, forward(W, b, x), y)
    delta = (softmax(x @ W[0] + b[0]) - np.eye(3)[y]) / 5
    assert np.allclose(grads_W[0], x.T @ delta) and np.allclose(grads_b[0], delta.sum(axis=0))


def test_one_step_matches_phase1_in_float64():
    """Phase 1's Network (pure Python, plain SGD) and Phase 2's step, from the same weights."""
    rng = np.random.default_rng(4)
    widths = (6, 5, 4, 3)
    params = he_init(widths, seed=5).astype(np.float64)
    for bias in params.b:
        bias += rng.normal(0, 0.1, bias.shape)
    x, y = rng.normal(size=(4, 6)), np.array([2, 0, 1, 2])
    layers = []
    for l, (w, b) in enumerate(zip(params.W, params.b, strict=True)):
        dense = Dense(*w.shape)
        dense.W, dense.b = Matrix(w.tolist()), Matrix([b.tolist()])
        layers += [dense] + ([Activation("relu")] if l < len(widths) - 2 else [])
    net = Network(layers)
    loss1 = net.train_step(
        Matrix(x.tolist()), one_hot(y.tolist(), 3), LOSSES["softmax_cross_entropy"], lr=0.1
    )
    plain = TrainConfig(widths=widths, momentum=0.0, nesterov=False, weight_decay=0.0)
    loss2, _ = train_step(params, x, y, 0.1, plain)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    dense_layers = [layer for layer in net.layers if isinstance(layer, Dense)]
    for layer, w, b in zip(dense_layers, params.W, params.b, strict=True):
        assert np.allclose(layer.W.tolist(), w, rtol=1e-12, atol=1e-14)
        assert np.allclose(layer.b.tolist()[0], b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", ACTS)
def test_a_float32_step_matches_the_float64_specification(activation):
    rng = np.random.default_rng(6)
    config = TrainConfig(widths=(784, 64, 32, 10), activation=activation)
    params = he_init(config.widths, seed=7)
    for v in params.vW:  # a step in the middle of training: momentum already moving
        v += rng.normal(0, 1e-3, v.shape).astype(np.float32)
    x = rng.normal(size=(33, 784)).astype(np.float32)
    y = rng.integers(0, 10, 33)
    expected, ref_loss = reference_step(params, x, y, 0.05, config)
    got = params.copy()
    loss, _ = train_step(got, x, y, 0.05, config)
    assert got.W[0].dtype == np.float32 and loss == pytest.approx(ref_loss, rel=1e-5)
    for group in ("W", "b", "vW", "vb"):
        for a, e in zip(getattr(got, group), getattr(expected, group), strict=True):
            assert np.linalg.norm(a - e) <= 1e-5 * np.linalg.norm(e) + 1e-7, group


def test_the_step_is_in_place_and_refuses_unknown_activations():
    config = TrainConfig(widths=(8, 4, 3))
    params = he_init(config.widths)
    before = params.W[0]
    train_step(params, np.ones((2, 8), np.float32), np.array([0, 1]), 0.1, config)
    assert params.W[0] is before and not np.array_equal(before, he_init(config.widths).W[0])
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        TrainConfig(widths=(784, 10), activation="gelu").validate()
