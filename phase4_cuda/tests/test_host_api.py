"""The host functions: NumPy in gives NumPy out, device arrays stay on the device, and bad input
gets a clear error instead of a crash or a wrong answer."""

import numpy as np
import pytest
from numba import cuda

from phase4_cuda import device, matmul
from phase4_cuda.vector_add import vector_add


def ref(a, b):
    return a.astype(np.float64) @ b.astype(np.float64)


@pytest.mark.exercise(id="4.5")
def test_numpy_in_numpy_out_and_conversions(rng):
    a64, b64 = rng.standard_normal((7, 5)), rng.standard_normal((5, 3))
    out = matmul.matmul(a64, b64)  # float64 is rounded to float32, as documented
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert matmul.relative_error(out, ref(a64, b64)) < 1e-6
    ints = matmul.matmul(np.arange(6).reshape(2, 3), np.ones((3, 2), dtype=np.int64))
    np.testing.assert_array_equal(ints, [[3, 3], [12, 12]])


@pytest.mark.exercise(id="4.5")
def test_non_contiguous_numpy_inputs_are_copied(rng):
    base = rng.standard_normal((12, 10), dtype=np.float32)
    a, b = base[::2, ::3], base.T[:, :5]  # strided and transposed views
    assert not a.flags.c_contiguous and not b.flags.c_contiguous
    for version in matmul.runnable(matmul.VERSIONS)[0]:
        precision = matmul.precision_of(version)
        got = matmul.matmul(a, b[: a.shape[1]], version=version, precision=precision)
        error = matmul.relative_error(got, ref(a, b[: a.shape[1]]))
        assert error < matmul.PRECISIONS[precision][1]


@pytest.mark.exercise(id="4.5")
def test_device_arrays_stay_on_the_device(rng):
    a = rng.standard_normal((9, 4), dtype=np.float32)
    b = rng.standard_normal((4, 6), dtype=np.float32)
    da, db = cuda.to_device(a), cuda.to_device(b)
    dc = matmul.matmul(da, db)
    assert device.is_device_array(dc)
    out = cuda.to_device(np.full((9, 6), np.nan, np.float32))
    got = matmul.matmul(da, db, out=out)
    assert device.is_device_array(got) and got.shape == (9, 6)
    assert matmul.relative_error(out.copy_to_host(), ref(a, b)) < 1e-5
    np.testing.assert_array_equal(got.copy_to_host(), out.copy_to_host())  # the same memory


@pytest.mark.exercise(id="4.5")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_numpy_out_is_written_and_returned(rng, dtype):
    a = rng.standard_normal((5, 3), dtype=np.float32)
    b = rng.standard_normal((3, 4), dtype=np.float32)
    out = np.full((5, 4), np.nan, dtype)  # poisoned: every element must be written
    assert matmul.matmul(a, b, out=out) is out
    assert matmul.relative_error(out, ref(a, b)) < 1e-5


@pytest.mark.exercise(id="4.5")
@pytest.mark.parametrize(
    ("out", "exc", "says"),
    [
        (np.zeros((5, 4), np.int32), TypeError, "writable float array"),
        (np.zeros((4, 5), np.float32), ValueError, r"out has shape \(4, 5\)"),
        (np.broadcast_to(np.float32(0), (5, 4)), TypeError, "writable float array"),  # read-only
    ],
)
def test_a_numpy_out_that_cannot_hold_the_result_is_refused(out, exc, says):
    with pytest.raises(exc, match=says):
        matmul.matmul(np.ones((5, 3), np.float32), np.ones((3, 4), np.float32), out=out)


@pytest.mark.exercise(id="4.5")
@pytest.mark.parametrize(
    "a,b,exc,message",
    [
        (np.ones((2, 3)), np.ones((4, 5)), ValueError, r"\(2, 3\) and \(4, 5\) are not aligned"),
        (np.ones(3), np.ones((3, 2)), ValueError, "expected 2 dimensions"),
        (np.ones((0, 3)), np.ones((3, 2)), ValueError, "empty"),
        (np.ones((2, 2), dtype=complex), np.ones((2, 2)), TypeError, "real numbers"),
        (np.ones((2, 2), dtype=bool), np.ones((2, 2)), TypeError, "real numbers"),
        ([[1.0]], np.ones((1, 1)), TypeError, "NumPy or CUDA device array"),
    ],
)
def test_bad_input(a, b, exc, message):
    with pytest.raises(exc, match=message):
        matmul.matmul(a, b)


@pytest.mark.exercise(id="4.5")
def test_bad_device_input():
    with pytest.raises(TypeError, match="must be float32"):
        matmul.matmul(cuda.to_device(np.ones((2, 2))), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"out has shape \(3, 3\)"):
        matmul.matmul(np.ones((2, 2)), np.ones((2, 2)), out=cuda.device_array((3, 3), np.float32))
    with pytest.raises(ValueError, match="unknown version"):
        matmul.matmul(np.ones((2, 2)), np.ones((2, 2)), version="fastest")
    tf32 = matmul.PRECISIONS["tf32"][0]
    with pytest.raises(ValueError, match=f"version '{tf32}' computes in tf32, not fp32"):
        matmul.matmul(np.ones((2, 2)), np.ones((2, 2)), version=tf32)
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        matmul.matmul(np.ones((2, 2)), np.ones((2, 2)), precision="fp16")


@pytest.mark.exercise(id="4.5")
def test_each_precision_runs_its_fastest_rung_by_default(monkeypatch):
    import sys

    host = sys.modules["phase4_cuda.matmul.host"]  # (the module matmul() comes from)
    planned = []
    real = host.plan
    monkeypatch.setattr(
        host, "plan", lambda version, *args: planned.append(version) or real(version, *args)
    )
    matmul.matmul(np.ones((3, 2), np.float32), np.ones((2, 4), np.float32))
    assert planned == [matmul.PRECISIONS["fp32"][0]], (
        "matmul without a version runs fastest(precision, m, n), the fastest rung of its "
        "precision for this GPU and size"
    )


@pytest.mark.exercise(id="4.5")
def test_no_gpu_names_the_simulator_switch(monkeypatch):
    monkeypatch.setattr(device, "simulated", lambda: False)
    monkeypatch.setattr(device.cuda, "is_available", lambda: False)
    with pytest.raises(device.NoGPUError, match="NUMBA_ENABLE_CUDASIM=1"):
        matmul.matmul(np.ones((2, 2)), np.ones((2, 2)))


@pytest.mark.exercise(id="4.2")
@pytest.mark.parametrize("n", [1, 17, 1000])
def test_vector_add_any_length_small_grid(n, rng):
    x, y = rng.standard_normal(n, dtype=np.float32), rng.standard_normal(n, dtype=np.float32)
    # 2 blocks of 32 threads: the grid-stride loop has to cover the rest
    np.testing.assert_array_equal(vector_add(x, y, blocks=2, threads=32), x + y)


def test_vector_add_bad_input():
    with pytest.raises(ValueError, match="lengths 3 and 4 differ"):
        vector_add(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="empty"):
        vector_add(np.ones(0), np.ones(0))


@pytest.mark.exercise(id="4.5")
def test_the_low_occupancy_hint_is_silenced_even_in_bold():
    import re

    from phase4_cuda.device import LOW_OCCUPANCY_HINT

    for message in (
        "Grid size 1 will likely result in GPU under-utilization due to low occupancy.",
        "\x1b[1mGrid size 16 will likely result in GPU under-utilization due to low occupancy.\x1b[0m",
    ):
        assert re.compile(LOW_OCCUPANCY_HINT).match(message)


@pytest.mark.exercise(id="4.5")
@pytest.mark.gpu
def test_configure_gives_a_small_grid_without_a_warning():
    import warnings

    a, b, c = (cuda.device_array((8, 8), np.float32) for _ in range(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        launch = matmul.plan("wide", a, b, c)  # one block: numba would hint at low occupancy
        launch()
    assert launch.grid == (1, 1, 1)


@pytest.mark.exercise(id="4.5")
def test_two_kept_configurations_of_one_kernel_run_with_their_own_grids(rng):
    # A planned step keeps one configured launch per product, and two products may share a
    # kernel (the same variant, other grids). The simulator's kernel[grid, block] sets the grid
    # on the kernel object itself, so both would run with the last one's; configure() must not.
    tiles = matmul.Tiles(64, 64, 32, 4, 4)
    b = rng.standard_normal((2, 4), dtype=np.float32)
    args = [(rng.standard_normal((300, 2), dtype=np.float32), b), (b[:, :2].copy(), b)]
    outs = [cuda.device_array((300, 4), np.float32), cuda.device_array((2, 4), np.float32)]
    launches = [
        matmul.plan("wide", cuda.to_device(a), cuda.to_device(bb), c, tiles=tiles)
        for (a, bb), c in zip(args, outs, strict=True)
    ]
    assert launches[0].kernel is launches[1].kernel and launches[0].grid != launches[1].grid
    for launch in launches:
        launch()
    for (a, bb), c in zip(args, outs, strict=True):
        np.testing.assert_allclose(c.copy_to_host(), ref(a, bb), rtol=1e-5, atol=1e-5)
