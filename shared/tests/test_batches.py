"""Scaling, one-hot labels, the validation split and seeded mini-batches."""

import numpy as np
import pytest

from shared.batches import minibatch_indices, one_hot, scale_images, train_val_split


def test_scale_images():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    out = scale_images(images)
    assert out.dtype == np.float32 and out.shape == (1, 4)
    np.testing.assert_allclose(out, [[0, 1, 0.2, 0.4]], rtol=1e-6)
    assert scale_images(images, flatten=False).shape == (1, 2, 2)
    with pytest.raises(TypeError, match="uint8"):
        scale_images(images.astype(np.float32))


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([1, 0]), 3), [[0, 1, 0], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        one_hot(np.array([3]), 3)


def test_split_is_seeded_and_disjoint():
    x, y = np.arange(100).reshape(50, 2), np.arange(50)
    a = train_val_split(x, y, 0.2, seed=1)
    b = train_val_split(x, y, 0.2, seed=1)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    x_tr, y_tr, _, y_val = a
    assert len(y_val) == 10 and len(y_tr) == 40
    assert sorted(np.concatenate([y_tr, y_val]).tolist()) == list(range(50))
    assert np.array_equal(x_tr[:, 0] // 2, y_tr)
    with pytest.raises(ValueError):
        train_val_split(x, y, 1.0)


@pytest.mark.parametrize("n,batch", [(1, 1), (10, 3), (17, 17), (5, 8)])
def test_minibatches_cover_every_row_once(n, batch):
    batches = list(minibatch_indices(n, batch, seed=3))
    assert sorted(np.concatenate(batches).tolist()) == list(range(n))
    assert all(len(b) == batch for b in batches[:-1])
    again = list(minibatch_indices(n, batch, seed=3))
    assert all(np.array_equal(p, q) for p, q in zip(batches, again, strict=True))


def test_minibatches_drop_last_and_in_order():
    assert [b.tolist() for b in minibatch_indices(5, 2, seed=None, drop_last=True)] == [
        [0, 1],
        [2, 3],
    ]
    with pytest.raises(ValueError, match="batch_size"):
        list(minibatch_indices(5, 0))
