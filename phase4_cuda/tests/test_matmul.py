"""Every matmul version against a float64 NumPy product through `matmul.validate`, the one
harness the kernel check and the benchmark use too: fresh inputs, outputs poisoned with NaN
before each launch so an element no thread wrote fails. Small odd shapes run everywhere
(simulator included); large ones need a GPU."""

import numpy as np
import pytest
from numba import cuda

from phase4_cuda import matmul as mm
from shared.testing import for_exercises

# (M, K, N): 1, primes, non-square, shapes that straddle tile edges
SHAPES = [(1, 1, 1), (1, 5, 1), (5, 1, 5), (17, 33, 65), (33, 17, 3)]
GPU_SHAPES = [(1000, 1000, 1000), (1031, 257, 769), (128, 4096, 128), (4096, 4096, 4096)]


#: the rungs the learner writes (python -m shared.exercises check 4.3 runs the naive one's case)
EXERCISES = {"naive": "4.3", "tiled": "4.4"}


@pytest.mark.parametrize("version", for_exercises({v: v for v in mm.VERSIONS}, EXERCISES))
def test_every_version_on_odd_shapes(version):
    errors = mm.validate([version], SHAPES)
    assert set(errors) == {(version, shape) for shape in SHAPES}


@pytest.mark.parametrize(
    "tiles",
    [
        mm.Tiles(64, 64, 8, 4, 4),
        mm.Tiles(128, 64, 8, 8, 4),
        mm.Tiles(64, 64, 16, 4, 4, prefetch=True),
    ],
    ids=str,
)
def test_tiled_factory_shapes_across_several_blocks(tiles):
    # 70 x 130 needs 2 x 3 blocks of 64 x 64: interior and edge blocks both run.
    versions = ("wide",) if tiles.prefetch else ("double_buffered", "wide")
    mm.validate(versions, [(70, 19, 130)], tiles=tiles)


@pytest.mark.gpu
@pytest.mark.parametrize("shape", GPU_SHAPES, ids=str)
@pytest.mark.parametrize("version", mm.VERSIONS)
def test_every_version_on_large_shapes(version, shape):
    mm.validate([version], [shape])


@pytest.mark.parametrize("shape", [(70, 16, 132), (64, 24, 64), (64, 20, 68)], ids=str)
def test_interior_blocks_take_the_vector_path(shape):
    # K and N % 4 == 0: whole tiles of interior 64 x 64 blocks load 4 floats at a time; edge
    # blocks and a last partial tile of K (K = 20) take the checked path. All must agree.
    for tiles in (mm.Tiles(64, 64, 8, 4, 4), mm.Tiles(64, 64, 8, 4, 4, prefetch=True)):
        mm.validate(["wide"], [shape], tiles=tiles)


@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 3, 7), (70, 19, 130), (13, 130, 66)], ids=str)
@pytest.mark.parametrize("layout", ["A", "AT", "BT", "AT BT"])
@pytest.mark.parametrize("version", ["double_buffered", "wide"])
def test_transposed_operands_mask_and_column_sums(version, layout, shape):
    # The backward pass of Phase 5: dW = h.T @ delta with the bias gradient (column sums of delta)
    # in the same launch, and dh = (delta @ W.T) * (h > 0). Operands are stored transposed,
    # and each layout is checked against the same float64 product; slices of K (split) must add
    # up the column sums too.
    m, k, n = shape
    mm.validate(
        [version], [shape], trans_a="AT" in layout, trans_b="BT" in layout, mask=True,
        col_sums=True, tiles=mm.Tiles(64, 64, 8, 4, 4) if m + n < 150 else mm.Tiles(32, 32, 32, 4, 4),
        split=3 if k > 16 else 1,
    )  # fmt: skip


@pytest.mark.parametrize("activation", mm.ACTIVATIONS)
def test_every_epilogue(activation):
    mm.validate(
        ["double_buffered", "wide"], [(1, 1, 1), (33, 20, 17)], bias=True, activation=activation
    )


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
    launch = mm.plan(
        "wide", cuda.to_device(a), cuda.to_device(b), c, bias=cuda.to_device(bias),
        activation="relu", tiles=mm.Tiles(32, 32, 8, 4, 4), split=split,
    )  # fmt: skip
    assert launch.grid[2] == split
    expected = mm.reference(a, b, bias, "relu")
    for _ in range(2):
        c.copy_to_device(np.full((m, n), np.nan, dtype=np.float32))
        launch()
        assert mm.relative_error(c.copy_to_host(), expected) < mm.TOLERANCE


def test_validate_reports_every_version():
    errors = mm.validate(shapes=((3, 4, 5),))
    assert set(errors) == {(v, (3, 4, 5)) for v in mm.runnable(mm.VERSIONS)[0]}
    for (version, _), err in errors.items():  # each within its precision's tolerance
        assert err <= mm.PRECISIONS[mm.precision_of(version)][1]
    assert max(err for (v, _), err in errors.items() if mm.precision_of(v) == "fp32") < 1e-5


def test_validate_catches_a_wrong_or_missing_output(monkeypatch):
    # A launch that leaves the poisoned output alone, or writes the wrong product, must fail.
    # (validate plans its launches through the plan of its own module, validation.py.)
    real_plan = mm.plan

    def elsewhere(version, a, b, c, **options):  # writes another array: c stays poisoned
        return real_plan(version, a, b, cuda.device_array(c.shape, np.float32), **options)

    monkeypatch.setattr(mm.validation, "plan", elsewhere)
    with pytest.raises(AssertionError, match="relative error nan"):
        mm.validate(["naive"], [(3, 4, 5)])

    def transposed_b(version, a, b, c, **options):  # a (3, 3) @ b.T: same shape, wrong values
        return real_plan(version, a, cuda.to_device(b.copy_to_host().T.copy()), c, **options)

    monkeypatch.setattr(mm.validation, "plan", transposed_b)
    with pytest.raises(AssertionError, match="naive at"):
        mm.validate(["naive"], [(3, 3, 3)])


def test_plain_versions_refuse_epilogue_options():
    a, b, c = (cuda.to_device(np.ones((4, 4), np.float32)) for _ in range(3))
    with pytest.raises(
        ValueError, match="'tiled' computes the plain product; bias, activation needs"
    ):
        mm.plan("tiled", a, b, c, bias=cuda.to_device(np.ones(4, np.float32)), activation="relu")
    with pytest.raises(ValueError, match="unknown version 'fastest'"):
        mm.plan("fastest", a, b, c)


def test_compiled_kernels_name_every_rung_and_variant():
    mm.gemm_kernel(mm.Tiles(32, 32, 8, 4, 4), activation="relu", bias=True, split_k=True)
    names = mm.compiled_kernels()
    assert list(names)[:5] == list(mm.VERSIONS[:5])
    assert "wide 32x32x8/4x4 +relu +bias +split_k" in names
    assert str(mm.GemmVariant(mm.Tiles(), wide=False, trans_a=True)) == (
        "double_buffered 128x128x8/8x8 +trans_a"
    )


def test_column_sums_need_a_thread_per_column():
    with pytest.raises(ValueError, match="col_sums needs at least BN threads"):
        mm.gemm_kernel(mm.Tiles(32, 256, 8, 4, 16), col_sums=True)


def test_tiles_must_divide_among_the_threads():
    with pytest.raises(ValueError, match="divide evenly"):
        mm.gemm_kernel(mm.Tiles(64, 64, 8, 3, 4))
    with pytest.raises(ValueError, match="prefetch needs the wide version"):
        mm.gemm_kernel(mm.Tiles(prefetch=True), wide=False)
    with pytest.raises(ValueError, match="divisible by 4"):
        mm.gemm_kernel(mm.Tiles(32, 32, 8, 2, 2), wide=True)
    assert mm.tiles_for(100, 100) == mm.TUNED[0][1]
    assert mm.tiles_for(5000, 10) == mm.TUNED[-1][1]
