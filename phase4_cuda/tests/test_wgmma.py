"""Hopper's wgmma (wgmma.py) and the rungs built on it (matmul/k12-k14): the swizzle, the
descriptor and the accumulator fragment against independent models; one wgmma against NumPy
(in the simulator this checks the stand-in, which reads shared memory as the hardware does; on a
GPU, the hardware itself); the staging pass; the rungs on odd shapes through the ladder's one
harness (`matmul.validate`: poisoned outputs, float64 reference), which must catch a tile stored
without the swizzle or a wrong descriptor. Tests marked `gpu` need a GPU of compute capability
9.0 (sm_90a)."""

import numpy as np
import pytest
from numba import cuda, float32, int32, uint32, uint64

from phase4_cuda import matmul as mm
from phase4_cuda import wgmma_bench
from phase4_cuda.device import simulated
from phase4_cuda.matmul import WgmmaTiles, k12_wgmma_bf16, staging
from phase4_cuda.tensor_cores import bf16_bits, bf16_value, tf32_bits
from phase4_cuda.wgmma import (
    accumulator_cell,
    commit,
    decode_descriptor,
    descriptor,
    fence,
    fence_proxy_async,
    matrix_descriptor,
    mma_async,
    operand_address,
    smem_address,
    swizzle128,
    swizzled_chunk,
    wait,
    zeros,
)

#: the tests that run wgmma (or the shared-memory opt-in of its rungs) on a GPU need compute
#: capability 9.0 exactly (matmul.NEEDS_CC): skipped elsewhere with the reason (testing.py)
needs_wgmma = pytest.mark.precision("wgmma")


def cute_swizzle_343(offset: int) -> int:
    """CUTLASS's Swizzle<3,4,3> on a byte offset, as cute/swizzle.hpp defines it: the 3 bits
    from bit 4+3 = 7 up are XORed onto the 3 bits from bit 4 up."""
    return offset ^ ((offset & (0b111 << 7)) >> 3)


# ------------------------------------------------------------------------------------------------
# The layout, against independent models
def test_the_swizzle_is_cutlass_swizzle_343():
    for r in range(64):
        for c in range(8):
            assert swizzled_chunk(uint32(r), uint32(c)) * 16 == cute_swizzle_343(r * 128 + c * 16)


def test_the_swizzle_spreads_a_column_of_chunks_over_all_banks():
    # the 8 rows of an atom reading the same 16 bytes of K land in 8 different 16-byte bank groups
    for c in range(8):
        groups = {int(swizzled_chunk(uint32(r), uint32(c))) % 8 for r in range(8)}
        assert groups == set(range(8))


def test_the_descriptor_holds_the_documented_fields():
    # start 0x400 >> 4 = 0x40 in bits 0-13, 16 >> 4 = 1 at bit 16, 1024 >> 4 = 64 at bit 32,
    # layout 1 (128-byte swizzle) at bit 62
    assert int(matrix_descriptor(uint32(0x400))) == 0x40 | 1 << 16 | 64 << 32 | 1 << 62
    assert decode_descriptor(matrix_descriptor(uint32(0x12340))) == {
        "start": 0x12340, "leading": 16, "stride": 1024, "base_offset": 0, "layout": 1,
    }  # fmt: skip
    # one wgmma's step of K: 32 bytes more on the start address, nothing else
    assert int(matrix_descriptor(uint32(0x400 + 32))) - int(matrix_descriptor(uint32(0x400))) == 2


def test_the_hardware_model_reads_the_swizzled_tile():
    fields = decode_descriptor(matrix_descriptor(uint32(0x2000)))
    for r in range(16):
        for k_byte in range(0, 128, 2):
            expected = 0x2000 + cute_swizzle_343(r * 128 + k_byte)
            assert operand_address(fields, r, k_byte) == expected


def test_the_hardware_model_without_swizzle_matches_the_measured_layout():
    # measured on an H100 (the project's wgmma probe): no swizzle, leading byte offset 128 and
    # stride 256 put bf16 element (r, k) in core matrix ((r//8)*2 + k//8), 128 bytes each
    fields = {"start": 0, "leading": 128, "stride": 256, "base_offset": 0, "layout": 0}
    for r in range(64):
        for k in range(16):
            core = (r // 8) * 2 + k // 8
            assert operand_address(fields, r, 2 * k) == core * 128 + (r % 8) * 16 + (k % 8) * 2


@pytest.mark.parametrize("n", [64, 256])
def test_the_accumulators_cover_d_once(n):
    cells = sorted(accumulator_cell(t, i) for t in range(128) for i in range(n // 2))
    assert cells == sorted(np.ndindex(64, n))
    # thread 5 (warp 0, g = 1, q = 1): D[1, 2], D[1, 3], D[9, 2], D[9, 3], then 8 columns on
    assert [accumulator_cell(5, i) for i in range(6)] == [
        (1, 2),
        (1, 3),
        (9, 2),
        (9, 3),
        (1, 10),
        (1, 11),
    ]


# ------------------------------------------------------------------------------------------------
# Staging and one wgmma
def words_of(x: np.ndarray, precision: str) -> np.ndarray:
    """x (rows, K) float32 -> staged words (rows, KW), by the definition in matmul/staging.py."""
    rows, k = x.shape
    kw = staging.words_per_row(k, precision)
    if precision == "tf32":
        out = np.zeros((rows, kw), np.float32)
        out[:, :k] = np.vectorize(tf32_bits, otypes=[np.float32])(x)
        return out
    halves = np.zeros((rows, 2 * kw), np.uint32)
    halves[:, :k] = np.vectorize(bf16_bits, otypes=[np.uint32])(x)
    return halves[:, 0::2] | halves[:, 1::2] << 16  # the lower k in the low half


def values_of(words: np.ndarray, precision: str, k: int) -> np.ndarray:
    """The float64 values staged words stand for (the inverse of words_of), K of each row."""
    if precision == "tf32":
        return words[:, :k].astype(np.float64)
    pairs = np.stack([words & 0xFFFF, words >> 16], axis=-1).reshape(words.shape[0], -1)
    return np.vectorize(bf16_value, otypes=[np.float64])(pairs[:, :k])


@pytest.mark.parametrize("precision", ["bf16", "tf32"])
def test_staging_rounds_pads_and_transposes(precision, rng):
    x = rng.standard_normal((5, 13), dtype=np.float32)  # 13: padding in the last words
    rows = staging.stage(cuda.to_device(x), precision).copy_to_host()
    columns = staging.stage(cuda.to_device(x), precision, transpose=True).copy_to_host()
    np.testing.assert_array_equal(rows, words_of(x, precision))
    np.testing.assert_array_equal(columns, words_of(np.ascontiguousarray(x.T), precision))


def one_wgmma_kernel(precision: str, n: int, swizzled: bool = True, aligned: bool = True):
    """A kernel of one warpgroup: A (64 x 32 words) and B^T (n x 32 words) stored into shared
    memory by plain stores, then 4 wgmmas (128 bytes of K) and D (64, n) out."""
    mma, start = mma_async(precision, n), zeros(n // 2)
    word = uint32 if precision == "bf16" else float32

    @cuda.jit
    def one(a, bt, d):
        smem = cuda.shared.array(0, word)
        t = uint32(cuda.threadIdx.x)
        base = smem_address(smem)
        pad = (uint32(1024) - (base & uint32(1023))) & uint32(1023) if aligned else uint32(0)
        for e in range(t, uint32((64 + n) * 8), uint32(128)):  # 16-byte chunks: A's rows, B's
            r, c = e >> uint32(3), e & uint32(7)
            at = (pad >> uint32(2)) + (
                swizzle128(r, c) if swizzled else r * uint32(8) + c
            ) * uint32(4)
            for w in range(4):
                if r < uint32(64):
                    smem[at + uint32(w)] = a[r * uint32(32) + c * uint32(4) + uint32(w)]
                else:
                    smem[at + uint32(w)] = bt[
                        (r - uint32(64)) * uint32(32) + c * uint32(4) + uint32(w)
                    ]
        fence_proxy_async()
        cuda.syncthreads()
        da, db = descriptor(base + pad), descriptor(base + pad + uint32(64 * 128))
        acc = start()
        fence()
        for kk in range(4):
            acc = mma(acc, da + uint64(2 * kk), db + uint64(2 * kk), int32(1))
        commit()
        wait(0)
        lane = t & uint32(31)
        row = (t >> uint32(5)) * uint32(16) + (lane >> uint32(2))
        col = (lane & uint32(3)) * uint32(2)
        for j in range(n // 8):
            d[row, col + 8 * j], d[row, col + 8 * j + 1] = acc[4 * j], acc[4 * j + 1]
            d[row + 8, col + 8 * j], d[row + 8, col + 8 * j + 1] = acc[4 * j + 2], acc[4 * j + 3]

    return one


def run_one_wgmma(precision, n, rng, **layout):
    k = 128 // {"bf16": 2, "tf32": 4}[precision]  # 128 bytes of K
    a = rng.standard_normal((64, k), dtype=np.float32)
    bt = rng.standard_normal((n, k), dtype=np.float32)
    wa, wb = words_of(a, precision), words_of(bt, precision)
    d = cuda.to_device(np.full((64, n), np.nan, np.float32))
    shared = (64 + n) * 128 + 1024
    one_wgmma_kernel(precision, n, **layout)[1, 128, 0, shared](wa.ravel(), wb.ravel(), d)
    expected = values_of(wa, precision, k) @ values_of(wb, precision, k).T
    return d.copy_to_host(), expected


@pytest.mark.parametrize("precision", ["bf16", "tf32"])
@needs_wgmma
def test_one_wgmma_is_a_64xnxk_product_of_rounded_inputs(precision, rng):
    got, expected = run_one_wgmma(precision, 64, rng)
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-4)


@needs_wgmma
def test_a_tile_stored_without_the_swizzle_is_read_wrong(rng):
    got, expected = run_one_wgmma("bf16", 64, rng, swizzled=False)
    assert not np.allclose(got, expected, rtol=1e-2, atol=1e-2)


@pytest.mark.skipif(not simulated(), reason="the GPU's shared memory may start 1024-aligned")
@needs_wgmma
def test_a_tile_off_the_1024_byte_boundary_is_read_wrong(rng):
    # the simulator's shared addresses start 16 bytes past a 1024-byte boundary on purpose
    got, expected = run_one_wgmma("bf16", 64, rng, aligned=False)
    assert not np.allclose(got, expected, rtol=1e-2, atol=1e-2)


# ------------------------------------------------------------------------------------------------
# The rungs, through the ladder's harness
@pytest.mark.parametrize(
    ("version", "tiles", "shape"),
    # (M, K, N): edge blocks both ways and K not a multiple of the words (1 warpgroup); more
    # steps of K than stages, so the pipeline wraps around its buffers (2 warpgroups, then 4
    # stages: two steps of copies in flight)
    [
        ("wgmma_bf16", WgmmaTiles(64, 1, 3), (70, 19, 41)),
        ("wgmma_bf16_2wg", WgmmaTiles(64, 2, 3), (67, 200, 30)),
        ("wgmma_tf32_2wg", WgmmaTiles(64, 2, 3, "tf32"), (67, 200, 30)),
        # the TMA rungs: boxes cut at both edges, and the barriers' phases past one round
        ("wgmma_bf16_tma", WgmmaTiles(64, 2, 3, tma=True), (67, 200, 30)),
        ("wgmma_tf32_tma", WgmmaTiles(64, 2, 3, "tf32", tma=True), (70, 19, 41)),
        pytest.param("wgmma_bf16", WgmmaTiles(64, 1, 4), (130, 260, 41), marks=pytest.mark.slow),
        pytest.param(
            "wgmma_tf32_2wg", WgmmaTiles(64, 2, 4, "tf32"), (130, 260, 41), marks=pytest.mark.slow
        ),
    ],
    ids=str,
)
def test_the_rungs_on_odd_shapes(version, tiles, shape):
    errors = mm.validate([version], [shape], seed=sum(shape), tiles=tiles)
    # a product of rounded inputs: more than float32's error, within the precision's tolerance
    assert 1e-6 < errors[version, shape] <= mm.PRECISIONS[tiles.precision][1]


def _unswizzled(row, chunk):
    return row * uint32(8) + chunk


def _wrong_stride(address):  # groups of 8 rows 2048 bytes apart instead of 1024
    return matrix_descriptor(address) + (uint64(64) << uint64(32))


@pytest.mark.skipif(
    not simulated(), reason="patches the kernel's globals, as only the simulator reads them"
)
@pytest.mark.parametrize(
    ("name", "mutant"), [("swizzle128", _unswizzled), ("descriptor", _wrong_stride)]
)
@needs_wgmma
def test_the_harness_catches_a_wrong_layout(monkeypatch, name, mutant):
    # the stand-in reads shared memory through the descriptor as the hardware does: tiles copied
    # without the swizzle the descriptor announces, or described with the wrong stride between
    # groups of 8 rows, give a wrong product, and the harness says which rung
    monkeypatch.setattr(k12_wgmma_bf16, name, mutant)
    with pytest.raises(AssertionError, match=r"wgmma_bf16 at \(M, K, N\) = \(70, 19, 41\)"):
        mm.validate(["wgmma_bf16"], [(70, 19, 41)], tiles=WgmmaTiles(64, 1, 3))


@needs_wgmma
def test_one_by_one_and_the_default_tiles():
    got = mm.matmul(np.array([[3.0]]), np.array([[-2.0]]), version="wgmma_bf16", precision="bf16")
    assert got.shape == (1, 1) and got[0, 0] == -6.0
    if simulated():  # 64 columns and 3 stages, the rung's own warpgroups and precision
        assert mm.wgmma_tiles_for(4096, 4096, "wgmma_tf32_2wg") == WgmmaTiles(64, 2, 3, "tf32")
        assert mm.wgmma_tiles_for(5, 5, "wgmma_bf16") == WgmmaTiles(64, 1, 3, "bf16")


def test_matmul_runs_the_fastest_rung_for_the_gpu_and_size(monkeypatch):
    # the simulator's stand-ins run every rung, so it picks as an H100 does (ladder.FASTEST)
    monkeypatch.setenv(mm.CC_OVERRIDE, "9.0")
    assert mm.fastest("bf16", 4096, 4096) == "wgmma_bf16_2wg"
    assert mm.fastest("bf16", 2048, 2048) == "wgmma_bf16_2wg"
    assert mm.fastest("bf16", 1024, 1024) == "wgmma_bf16"
    assert mm.fastest("bf16", 1000, 1000) == "tensor_bf16_async"  # nothing measured below
    assert mm.fastest("tf32", 1024, 1024) == "wgmma_tf32_2wg"
    assert mm.fastest("fp32", 4096, 4096) == mm.DEFAULT_VERSION
    monkeypatch.setenv(mm.CC_OVERRIDE, "8.0")  # an A100: no wgmma
    assert mm.fastest("bf16", 4096, 4096) == "tensor_bf16_async"
    assert mm.fastest("tf32", 4096, 4096) == "tensor_tf32_async"
    assert mm.needs_cc("wgmma_tf32_2wg") == (9, 0, "a") and mm.needs_cc("tensor_tf32") == (8, 0)


def test_bad_inputs_and_tiles_are_refused():
    a = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="not aligned"):
        mm.matmul(a, a, version="wgmma_bf16", precision="bf16")
    with pytest.raises(ValueError, match="computes in bf16, not tf32"):
        mm.matmul(a, a.T, version="wgmma_bf16", precision="tf32")
    rung = mm.RUNGS["wgmma_bf16_2wg"]
    with pytest.raises(ValueError, match="3 or more stages in 227 KB"):
        rung.kernel(WgmmaTiles(256, 2, 5))
    with pytest.raises(ValueError, match="share its rows' copies evenly"):
        rung.kernel(WgmmaTiles(40, 2, 3))
    with pytest.raises(ValueError, match="takes bf16 tiles of 2 warpgroup"):
        rung.kernel(WgmmaTiles(64, 1, 3))
    with pytest.raises(ValueError, match=r"warpgroup\(s\) fed by cp.async, not bf16 .* tma"):
        rung.kernel(WgmmaTiles(64, 2, 3, tma=True))  # three warpgroups' worth of threads
    with pytest.raises(ValueError, match=r"warpgroup\(s\) fed by TMA, not bf16 128x64 2wg 3st"):
        mm.RUNGS["wgmma_bf16_tma"].kernel(WgmmaTiles(64, 2, 3))
    d = cuda.to_device(np.ones((4, 4), np.float32))
    with pytest.raises(ValueError, match="takes WgmmaTiles tiles"):
        mm.plan("wgmma_bf16", d, d, d, tiles=mm.TensorTiles())
    with pytest.raises(ValueError, match="computes the plain product; bias needs"):
        mm.plan("wgmma_bf16", d, d, d, bias=cuda.to_device(np.ones(4, np.float32)))


def test_the_wgmma_benchmark_needs_a_hopper_gpu(capsys):
    # a GPU-only harness: importable (and so checked) here, and it says why it cannot run
    if not simulated():
        pytest.skip("on a GPU the harness would run")
    assert wgmma_bench.main(["--sizes", "64"]) == 2
    assert "error: the wgmma benchmark needs a Hopper GPU" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# On the GPU: the shared-memory opt-in, and the rungs at their own tile sizes
@cuda.jit
def _fill_shared(out, n):
    sm = cuda.shared.array(0, float32)
    for i in range(cuda.threadIdx.x, n, cuda.blockDim.x):
        sm[i] = float32(i)
    cuda.syncthreads()
    if cuda.threadIdx.x == 0:
        out[0] = sm[n - 1]


@pytest.mark.gpu
@needs_wgmma
def test_allow_shared_raises_the_limit():
    n, nbytes = 150 * 1024 // 4, 150 * 1024
    out = cuda.to_device(np.zeros(1, np.float32))
    mm.Launch(_fill_shared, 1, 256, (out, np.int32(n)), 0, nbytes)()
    assert out.copy_to_host()[0] == n - 1


@pytest.mark.parametrize("version", list(mm.WGMMA_LARGE))
@pytest.mark.gpu
@needs_wgmma
def test_the_rungs_on_odd_shapes_at_their_own_tiles(version):
    errors = mm.validate([version], [*wgmma_bench.CHECK_SHAPES, (1000, 777, 555)])
    assert max(errors.values()) <= mm.PRECISIONS[mm.precision_of(version)][1]
