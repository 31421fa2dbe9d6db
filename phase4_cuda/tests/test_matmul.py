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


@pytest.mark.parametrize("shape", [(70, 16, 132), (64, 24, 64)], ids=str)
def test_interior_blocks_take_the_vector_path(shape, rng):
    # K % 8 == 0 and N % 4 == 0: interior 64 x 64 blocks load their tiles 4 floats at a time,
    # edge blocks (if any) take the checked path; both must agree with NumPy.
    for tiles in (mm.Tiles(64, 64, 8, 4, 4), mm.Tiles(64, 64, 8, 4, 4, prefetch=True)):
        run_and_check("wide", *shape, rng, tiles=tiles)


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
