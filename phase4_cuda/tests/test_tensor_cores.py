"""The tensor-core instructions (tensor_cores.py) and the TF32 rung: the fragment layout of one
mma against NumPy (in the simulator this checks the stand-in; on a GPU, the hardware itself),
TF32 rounding, and matmul's precision setting."""

import math

import numpy as np
import pytest
from numba import cuda

from phase4_cuda import matmul as mm
from phase4_cuda.tensor_cores import (
    FRAGMENT,
    FRAGMENT_BF16,
    bf16_bits,
    bf16_value,
    bf16x2,
    mma_bf16,
    mma_tf32,
    tf32,
    tf32_bits,
)

# The tests that run the tensor cores are marked with their precision (or have it as a
# parameter), so that a GPU without them (below compute capability 8.0) skips those alone: the
# rounding, the fragment layouts and the checks of tiles and arguments run on the host anywhere.


def rounded(x: np.ndarray) -> np.ndarray:
    return np.vectorize(tf32_bits, otypes=[np.float64])(np.asarray(x, np.float32))


def test_tf32_rounds_to_nearest_with_ties_away_from_zero():
    ulp = 2.0**-10  # TF32 keeps 10 mantissa bits
    assert tf32_bits(1.0 + ulp / 2) == 1.0 + ulp  # a tie goes away from zero
    assert tf32_bits(-(1.0 + ulp / 2)) == -(1.0 + ulp)
    assert tf32_bits(1.0 + ulp / 4) == 1.0
    assert tf32_bits(1.0 + 3 * ulp / 4) == 1.0 + ulp
    assert tf32_bits(3.0) == 3.0 and tf32_bits(0.0) == 0.0
    assert math.isnan(tf32_bits(math.nan)) and tf32_bits(-math.inf) == -math.inf
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    assert np.max(np.abs(rounded(x) - x) / np.abs(x)) <= 2.0**-11  # half an ulp


def test_the_fragments_cover_each_tile_once():
    for part, shape, per_lane in (("A", (16, 8), 4), ("B", (8, 8), 2), ("C", (16, 8), 4)):
        seen = [FRAGMENT[part](*divmod(lane, 4)) for lane in range(32)]
        assert all(len(s) == per_lane for s in seen)
        cells = sorted(cell for s in seen for cell in s)
        assert cells == sorted(np.ndindex(*shape)), part


@cuda.jit
def _one_mma(a, b, c, d):
    # a (16, 8), b (8, 8), c and d (16, 8): each lane loads its fragments as tensor_cores.py says
    lane = cuda.threadIdx.x
    g, t = lane // 4, lane % 4
    d0, d1, d2, d3 = mma_tf32(
        tf32(a[g, t]), tf32(a[g + 8, t]), tf32(a[g, t + 4]), tf32(a[g + 8, t + 4]),
        tf32(b[t, g]), tf32(b[t + 4, g]),
        c[g, 2 * t], c[g, 2 * t + 1], c[g + 8, 2 * t], c[g + 8, 2 * t + 1],
    )  # fmt: skip
    d[g, 2 * t], d[g, 2 * t + 1], d[g + 8, 2 * t], d[g + 8, 2 * t + 1] = d0, d1, d2, d3


@pytest.mark.precision("tf32")
def test_one_mma_is_a_16x8x8_product_of_tf32_inputs():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((16, 8), dtype=np.float32)
    b = rng.standard_normal((8, 8), dtype=np.float32)
    c = rng.standard_normal((16, 8), dtype=np.float32)
    d = cuda.to_device(np.full((16, 8), np.nan, np.float32))
    _one_mma[1, 32](a, b, c, d)
    got = d.copy_to_host()
    expected = (
        rounded(a) @ rounded(b) + c
    )  # what the tensor core computes, before its sum's rounding
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-5)
    # and it is not the float32 product: the inputs were rounded
    assert not np.allclose(got, a.astype(np.float64) @ b + c, rtol=1e-7, atol=1e-7)


@pytest.mark.precision("tf32")
def test_tf32_products_through_matmul():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((37, 29))  # float64 in: converted to float32, then rounded to TF32
    b = rng.standard_normal((29, 70))
    got = mm.matmul(a, b, precision="tf32")
    assert got.dtype == np.float32
    err = mm.relative_error(got, a @ b)
    assert 1e-5 < err < mm.PRECISIONS["tf32"][1]  # TF32's error: larger than float32's


def test_precision_is_checked_in_one_line():
    a = np.ones((2, 2), np.float32)
    with pytest.raises(
        ValueError,
        match="unknown precision 'fp16'; this project's kernels compute in fp32, tf32, bf16",
    ):
        mm.matmul(a, a, precision="fp16")
    with pytest.raises(ValueError, match="version 'tensor_tf32' computes the plain product"):
        mm.plan("tensor_tf32", *(cuda.to_device(a) for _ in range(3)), activation="relu")


@pytest.mark.precision("tf32")  # (below 8.0 the GPU's lack of TF32 is the error said first)
def test_a_version_computes_in_its_own_precision():
    a = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="version 'wide' computes in fp32, not tf32"):
        mm.matmul(a, a, version="wide", precision="tf32")


@pytest.mark.precision("tf32")
@pytest.mark.parametrize(
    "tiles",
    [mm.TensorTiles(32, 64, 8, 16, 32), mm.TensorTiles(64, 64, 16, 32, 32)],
    ids=str,
)
def test_other_block_and_warp_tiles_on_edges(tiles):
    # 70 x 41 with K = 19: edge blocks in both directions and a last partial step of K
    errors = mm.validate(["tensor_tf32"], [(70, 19, 41)], tiles=tiles)
    assert max(errors.values()) <= mm.PRECISIONS["tf32"][1]


def test_tiles_that_do_not_divide_are_refused():
    with pytest.raises(ValueError, match="warp tiles must divide the block tile"):
        mm.tensor_kernel(mm.TensorTiles(64, 64, 16, 24, 32))
    with pytest.raises(ValueError, match="share the tiles' loads evenly"):
        mm.tensor_kernel(mm.TensorTiles(48, 8, 8, 16, 8))  # 96 threads, 64 values of B


def bf16_rounded(x: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: bf16_value(bf16_bits(v)), otypes=[np.float64])(
        np.asarray(x, np.float32)
    )


def test_bf16_rounds_to_nearest_even():
    ulp = 2.0**-7  # bfloat16 keeps 7 stored mantissa bits
    assert bf16_value(bf16_bits(1.0 + ulp / 2)) == 1.0  # a tie goes to the even neighbour
    assert bf16_value(bf16_bits(1.0 + 3 * ulp / 2)) == 1.0 + 2 * ulp
    assert bf16_value(bf16_bits(-(1.0 + 3 * ulp / 4))) == -(1.0 + ulp)
    assert bf16_value(bf16_bits(3.0e38)) < math.inf  # float32's exponent: no overflow here
    assert math.isnan(bf16_value(bf16_bits(math.nan)))
    x = np.random.default_rng(3).standard_normal(1000).astype(np.float32)
    assert np.max(np.abs(bf16_rounded(x) - x) / np.abs(x)) <= 2.0**-8


def test_the_bf16_fragments_cover_each_tile_once():
    for part, shape in (("A", (16, 16)), ("B", (16, 8))):
        cells = sorted(
            cell
            for lane in range(32)
            for reg in FRAGMENT_BF16[part](*divmod(lane, 4))
            for cell in reg
        )
        assert cells == sorted(np.ndindex(*shape)), part


@cuda.jit
def _one_mma_bf16(a, b, c, d):
    # a (16, 16), b (16, 8), c and d (16, 8): pairs packed along K, as tensor_cores.py says
    lane = cuda.threadIdx.x
    g, t = lane // 4, lane % 4
    k = 2 * t
    d0, d1, d2, d3 = mma_bf16(
        bf16x2(a[g, k + 1], a[g, k]), bf16x2(a[g + 8, k + 1], a[g + 8, k]),
        bf16x2(a[g, k + 9], a[g, k + 8]), bf16x2(a[g + 8, k + 9], a[g + 8, k + 8]),
        bf16x2(b[k + 1, g], b[k, g]), bf16x2(b[k + 9, g], b[k + 8, g]),
        c[g, 2 * t], c[g, 2 * t + 1], c[g + 8, 2 * t], c[g + 8, 2 * t + 1],
    )  # fmt: skip
    d[g, 2 * t], d[g, 2 * t + 1], d[g + 8, 2 * t], d[g + 8, 2 * t + 1] = d0, d1, d2, d3


@pytest.mark.precision("bf16")
def test_one_bf16_mma_is_a_16x8x16_product_of_bf16_inputs():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((16, 16), dtype=np.float32)
    b = rng.standard_normal((16, 8), dtype=np.float32)
    c = rng.standard_normal((16, 8), dtype=np.float32)
    d = cuda.to_device(np.full((16, 8), np.nan, np.float32))
    _one_mma_bf16[1, 32](a, b, c, d)
    got = d.copy_to_host()
    assert np.allclose(got, bf16_rounded(a) @ bf16_rounded(b) + c, rtol=1e-5, atol=1e-5)
    assert not np.allclose(got, a.astype(np.float64) @ b + c, rtol=1e-4, atol=1e-4)


@pytest.mark.precision("bf16")
def test_bf16_products_through_matmul():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((37, 45), dtype=np.float32)
    b = rng.standard_normal((45, 70), dtype=np.float32)
    err = mm.relative_error(mm.matmul(a, b, precision="bf16"), a.astype(np.float64) @ b)
    assert mm.PRECISIONS["tf32"][1] / 10 < err < mm.PRECISIONS["bf16"][1]


@pytest.mark.precision("bf16")
@pytest.mark.parametrize(
    "tiles", [mm.TensorTiles(32, 64, 16, 16, 32), mm.TensorTiles(64, 32, 32, 32, 16)], ids=str
)
def test_bf16_on_other_tiles_and_edges(tiles):
    errors = mm.validate(["tensor_bf16"], [(70, 19, 41), (5, 33, 3)], tiles=tiles)
    assert max(errors.values()) <= mm.PRECISIONS["bf16"][1]


def test_bf16_needs_whole_steps_of_16():
    with pytest.raises(ValueError, match="takes 16 of K at a time"):
        mm.tensor_kernel(mm.TensorTiles(64, 64, 8, 32, 32), "bf16")


# The cp.async rungs (10, 11): the pipeline's index arithmetic on edges, both copy widths.
def launch_async(tiles, precision, vec, a, b, c):
    """One launch of the cp.async kernel with the copy width chosen here, not by `plan`."""
    (m, k), n = a.shape, b.shape[1]
    kernel = mm.tensor_kernel(tiles, precision, vec)
    grid = (math.ceil(n / tiles.BN), math.ceil(m / tiles.BM))
    sizes = (np.uint32(m), np.uint32(n), np.uint32(k), np.uint32(1))
    unused = c.ravel()[:1]  # bias, mask, sums, workspace, counters: none in the plain product
    args = (a.ravel(), b.ravel(), *[unused] * 5, c.ravel(), *sizes)
    mm.Launch(kernel, grid, tiles.threads, args)()


@pytest.mark.parametrize("precision", ["tf32", "bf16"])
@pytest.mark.parametrize(
    ("vec", "shape"),
    # copy4: K and N odd, a last partial step of K; copy16: rows of multiples of 4 floats,
    # edge blocks both ways, more steps of K than stages (the pipeline wraps around)
    [(1, (70, 19, 41)), (4, (68, 52, 36))],
    ids=["copy4", "copy16"],
)
def test_async_rungs_on_edges(precision, vec, shape):
    m, k, n = shape
    rng = np.random.default_rng(vec)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    dc = cuda.to_device(np.full((m, n), np.nan, np.float32))
    tiles = mm.TensorTiles(64, 32, 16, 32, 16, stages=3)
    launch_async(tiles, precision, vec, cuda.to_device(a), cuda.to_device(b), dc)
    err = mm.relative_error(dc.copy_to_host(), a.astype(np.float64) @ b)
    assert err <= mm.PRECISIONS[precision][1]


@pytest.mark.precision("tf32", "bf16")
def test_async_rungs_through_matmul():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((33, 40), dtype=np.float32)
    b = rng.standard_normal((40, 20), dtype=np.float32)
    for version, precision in (("tensor_tf32_async", "tf32"), ("tensor_bf16_async", "bf16")):
        got = mm.matmul(a, b, version=version, precision=precision)
        assert mm.relative_error(got, a.astype(np.float64) @ b) <= mm.PRECISIONS[precision][1]


def test_async_tiles_are_checked():
    with pytest.raises(ValueError, match="3 stages need 56832 bytes of shared memory"):
        mm.tensor_kernel(mm.TensorTiles(128, 128, 16, 64, 64, stages=3))
    d = cuda.to_device(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="takes tiles of two or more stages"):
        mm.plan("tensor_tf32_async", d, d, d, tiles=mm.TensorTiles(64, 64, 16, 32, 32))
    with pytest.raises(ValueError, match="takes tiles of one stage"):
        mm.plan("tensor_tf32", d, d, d, tiles=mm.TC_SIMULATED_ASYNC)
    with pytest.raises(ValueError, match="col_sums needs B as stored"):
        mm.plan("tensor_tf32_async", d, d, d, trans_a=True, col_sums=d[0], split=2)
    with pytest.raises(ValueError, match="register-staged rungs compute the plain product"):
        mm.tensor_kernel(mm.TC_SIMULATED, "tf32", bias=True)


# Rungs 10 and 11 with the epilogue and operand layouts of versions 6 and 7: the training step's
# products (Phase 5) on the tensor cores. Each case as the step uses it, on edges, with a last
# partial step of K; the output poisoned with NaN (validate).
EPILOGUE_CASES = {
    "forward": ({"bias": True, "activation": "relu"}, (70, 37, 41)),
    "forward split-K": ({"bias": True, "split": 3}, (40, 100, 36)),
    "weight gradient": ({"trans_a": True, "col_sums": True}, (36, 29, 44)),
    "delta": ({"trans_b": True, "mask": True}, (66, 10, 35)),
}


@pytest.mark.parametrize(
    ("version", "case"),
    [("tensor_tf32_async", case) for case in EPILOGUE_CASES]
    + [("tensor_bf16_async", "weight gradient"), ("tensor_bf16_async", "delta")],
)
def test_async_rungs_with_the_fused_epilogue(version, case):
    options, shape = EPILOGUE_CASES[case]
    errors = mm.validate([version], [shape], **options)
    assert max(errors.values()) <= mm.PRECISIONS[mm.precision_of(version)][1]
