"""Every matmul version against a float64 NumPy product, outputs poisoned with NaN before each
launch so an element no thread wrote fails the test. Small odd shapes run everywhere (simulator
included); large ones need a GPU."""

import numpy as np
import pytest
from numba import cuda

from phase4_cuda import matmul as mm

# (M, K, N): 1, primes, non-square, shapes that straddle tile edges
SHAPES = [(1, 1, 1), (1, 5, 1), (5, 1, 5), (17, 33, 65), (33, 17, 3)]
GPU_SHAPES = [(1000, 1000, 1000), (1031, 257, 769), (128, 4096, 128), (4096, 4096, 4096)]


def run_and_check(version, m, k, n, rng, **options):
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = cuda.to_device(np.full((m, n), np.nan, dtype=np.float32))
    mm.launch(version, cuda.to_device(a), cuda.to_device(b), c, **options)
    got = c.copy_to_host()
    assert not np.isnan(got).any(), "some outputs were never written"
    err = mm.relative_error(got, a.astype(np.float64) @ b.astype(np.float64))
    assert err < 1e-5, f"{version} {options}: relative error {err:.2e}"


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("version", list(mm.VERSIONS))
def test_every_version_on_odd_shapes(version, shape, rng):
    run_and_check(version, *shape, rng)


@pytest.mark.parametrize(
    "tiles",
    [
        mm.Tiles(64, 64, 8, 4, 4),
        mm.Tiles(128, 64, 8, 8, 4),
        mm.Tiles(64, 64, 16, 4, 4, prefetch=True),
    ],
    ids=str,
)
def test_tiled_factory_shapes_across_several_blocks(tiles, rng):
    # 70 x 130 needs 2 x 3 blocks of 64 x 64: interior and edge blocks both run.
    for version in ("wide",) if tiles.prefetch else ("double_buffered", "wide"):
        run_and_check(version, 70, 19, 130, rng, tiles=tiles)


@pytest.mark.gpu
@pytest.mark.parametrize("shape", GPU_SHAPES, ids=str)
@pytest.mark.parametrize("version", list(mm.VERSIONS))
def test_every_version_on_large_shapes(version, shape, rng):
    run_and_check(version, *shape, rng)


@pytest.mark.parametrize("shape", [(70, 16, 132), (64, 24, 64), (64, 20, 68)], ids=str)
def test_interior_blocks_take_the_vector_path(shape, rng):
    # K and N % 4 == 0: whole tiles of interior 64 x 64 blocks load 4 floats at a time; edge
    # blocks and a last partial tile of K (K = 20) take the checked path. All must agree.
    for tiles in (mm.Tiles(64, 64, 8, 4, 4), mm.Tiles(64, 64, 8, 4, 4, prefetch=True)):
        run_and_check("wide", *shape, rng, tiles=tiles)


@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 3, 7), (70, 19, 130), (13, 130, 66)], ids=str)
@pytest.mark.parametrize("layout", ["A", "AT", "BT", "AT BT"])
@pytest.mark.parametrize("version", ["double_buffered", "wide"])
def test_transposed_operands_mask_and_column_sums(version, layout, shape, rng):
    # The backward pass of Phase 5: dW = h.T @ delta with the bias gradient (column sums of delta)
    # in the same launch, and dh = (delta @ W.T) * (h > 0). Operands are strided views transposed
    # into contiguous arrays, so each layout is checked against the same float64 product.
    m, k, n = shape
    trans_a, trans_b = "AT" in layout, "BT" in layout
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    mask = rng.standard_normal((m, n), dtype=np.float32)
    mask[0, 0] = 0.0  # zero is masked out, as a ReLU output of exactly zero must be
    stored_a = np.ascontiguousarray(a.T) if trans_a else a
    stored_b = np.ascontiguousarray(b.T) if trans_b else b
    c = cuda.to_device(np.full((m, n), np.nan, dtype=np.float32))
    sums = cuda.to_device(np.full(n, np.nan, dtype=np.float32))
    tiles = mm.Tiles(64, 64, 8, 4, 4) if m + n < 150 else mm.Tiles(32, 32, 32, 4, 4)
    mm.launch(
        version, cuda.to_device(stored_a), cuda.to_device(stored_b), c, tiles=tiles,
        trans_a=trans_a, trans_b=trans_b, mask=cuda.to_device(mask), col_sums=sums,
        split=3 if k > 16 else 1,  # slices of K: the column sums must add up across them too
    )  # fmt: skip
    expected = (a.astype(np.float64) @ b.astype(np.float64)) * (mask > 0)
    assert mm.relative_error(c.copy_to_host(), expected) < 1e-5
    np.testing.assert_allclose(sums.copy_to_host(), b.astype(np.float64).sum(axis=0), atol=1e-4)


@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 40, 3), (70, 131, 66), (64, 64, 64)], ids=str)
@pytest.mark.parametrize("split", [2, 3, 8])
def test_split_k_with_the_fused_epilogue(split, shape, rng):
    # Slices of K on blockIdx.z, summed by each tile's last block, then bias + ReLU. Launched
    # twice with the same workspace and counters (as a CUDA graph replays it): the last block
    # must have reset its tile's counter. K = 1 and 40 leave some slices empty.
    m, k, n = shape
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    bias = rng.standard_normal(n, dtype=np.float32)
    c = cuda.to_device(np.full((m, n), np.nan, dtype=np.float32))
    da, db, dbias = cuda.to_device(a), cuda.to_device(b), cuda.to_device(bias)
    kernel, grid, block, args = mm.VERSIONS["wide"](
        da, db, c, bias=dbias, activation="relu", tiles=mm.Tiles(32, 32, 8, 4, 4), split=split
    )
    expected = np.maximum(a.astype(np.float64) @ b.astype(np.float64) + bias, 0.0)
    for _ in range(2):
        kernel[grid, block](*args)
        assert mm.relative_error(c.copy_to_host(), expected) < 1e-5


def test_column_sums_need_a_thread_per_column():
    with pytest.raises(ValueError, match="col_sums needs at least BN threads"):
        mm.gemm_kernel(mm.Tiles(32, 256, 8, 4, 16), col_sums=True)


def test_validate_reports_every_version():
    errors = mm.validate(shapes=((3, 4, 5),))
    assert set(errors) == {(v, (3, 4, 5)) for v in mm.VERSIONS}
    assert max(errors.values()) < 1e-5


def test_tiles_must_divide_among_the_threads():
    with pytest.raises(ValueError, match="divide evenly"):
        mm.gemm_kernel(mm.Tiles(64, 64, 8, 3, 4))
    with pytest.raises(ValueError, match="prefetch needs the wide version"):
        mm.gemm_kernel(mm.Tiles(prefetch=True), wide=False)
    with pytest.raises(ValueError, match="divisible by 4"):
        mm.gemm_kernel(mm.Tiles(32, 32, 8, 2, 2), wide=True)
    assert mm.tiles_for(100, 100) == mm.TUNED[0][1]
    assert mm.tiles_for(5000, 10) == mm.TUNED[-1][1]
