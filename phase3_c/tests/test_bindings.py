"""Every binding of the C library against NumPy (float64) and Phase 1, on odd shapes, views and
bad input. One suite, parametrized over `phase3_c.BINDINGS`, and over every micro-kernel."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import phase3_c
from phase1_python import Matrix
from shared.testing import (
    BINDING_EXERCISES,
    ODD_MATMUL_SHAPES,
    ODD_SHAPES,
    assert_close,
    for_exercises,
)

#: the tests `python -m shared.exercises check 3.1` runs against the learner's file
pytestmark = pytest.mark.exercise(id="3.1")

IDS = list(phase3_c.BINDINGS)
# past the MR/NR edges and the MC (72/144) and KC (256) blocking of the packed product
# edges of every blocking: MC of 72 / 144 / 168 rows, KC of 256, micro-tiles of 6 and 14 rows,
# 8 / 16 / 32 columns
BLOCKING_SHAPES = [(73, 257, 9), (150, 300, 37), (5, 513, 131), (169, 300, 65), (15, 257, 33)]
KERNELS = ["avx512", "avx2", "neon", "generic"]


@pytest.fixture(params=for_exercises(phase3_c.BINDINGS, BINDING_EXERCISES))
def binding(request):
    return request.param


@pytest.fixture(params=KERNELS)
def kernel(request, binding):
    """Run the test with each micro-kernel this CPU has (AVX-512 and AVX2 on x86-64, NEON on
    aarch64, the generic one everywhere)."""
    try:
        binding.set_kernel(request.param)
    except ValueError:
        pytest.skip(f"this CPU has no {request.param} kernel")
    yield request.param
    binding.set_kernel("auto")


@pytest.mark.parametrize("m,k,n", ODD_MATMUL_SHAPES + BLOCKING_SHAPES)
def test_products_match_numpy(binding, kernel, m, k, n, rng):
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    expected = a @ b
    assert_close(binding.matmul(a, b), expected, rtol=1e-12, atol=1e-12)
    assert_close(binding.matmul_naive(a, b), expected, rtol=1e-12, atol=1e-12)
    assert_close(binding.matmul_ikj(a, b), expected, rtol=1e-12, atol=1e-12)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    got32 = binding.matmul_f32(a32, b32)
    assert got32.dtype == np.float32
    ref32 = a32.astype(np.float64) @ b32.astype(np.float64)
    assert np.linalg.norm(got32 - ref32) <= 1e-6 * max(np.linalg.norm(ref32), 1e-30)
    assert binding.matmul(a32, b32).dtype == np.float32  # float32 in, the float32 product


@pytest.mark.parametrize("m,k,n", ODD_MATMUL_SHAPES + BLOCKING_SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transposed_operands_match_numpy(binding, kernel, m, k, n, dtype, rng):
    """x.T of a row-major x: the C-API binding reads it in place (the trainer's backward pass
    multiplies by transposes); the other bindings copy it. Either way, the same product."""
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    # the same values with contiguous columns
    a_t, b_t = np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T
    wide = np.zeros((k + 3, m), dtype)  # a transpose whose rows (the stored columns) have a gap
    wide[:k] = a.T
    ref = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for x, y in ((a_t, b), (a, b_t), (a_t, b_t), (wide[:k].T, b)):
        got = binding.matmul(x, y)
        assert got.dtype == dtype and got.shape == (m, n) and got.flags.c_contiguous
        assert np.linalg.norm(got - ref) <= tol * max(np.linalg.norm(ref), 1e-30)


@pytest.mark.parametrize("shape", ODD_SHAPES)
def test_elementwise_and_transpose_match_numpy(binding, shape, rng):
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    assert_close(binding.add(a, b), a + b)
    assert_close(binding.sub(a, b), a - b)
    assert_close(binding.mul(a, b), a * b)
    assert_close(binding.scale(a, -1.5), -1.5 * a)
    assert_close(binding.transpose(a), a.T)


def test_agrees_with_phase1(binding, rng):
    a, b = Matrix.random(7, 5, seed=1), Matrix.random(5, 3, seed=2)
    assert_close(binding.matmul(a, b), (a @ b).tolist(), rtol=1e-12)  # Phase 1 Matrix in
    assert_close(binding.add(a, a), (a + a).tolist())
    assert_close(binding.transpose(a), a.T.tolist())


def test_views_and_layouts(binding, rng):
    big = rng.standard_normal((20, 30))
    block = big[3:10, 5:17]  # rows contiguous, stride 30: passed without a copy
    assert_close(binding.matmul(block, big[:12, :4]), block @ big[:12, :4], rtol=1e-12)
    strided = big[::2, ::3]  # every other row, every third column: copied first
    assert_close(binding.matmul(strided, big[:10, :6]), strided @ big[:10, :6], rtol=1e-12)
    assert_close(binding.matmul(big.T, big), big.T @ big, rtol=1e-12)  # transposed
    assert_close(binding.transpose(big[::-1]), big[::-1].T)  # negative strides
    # a column whose three rows are one element (strides 0 and 8): not a valid C matrix, copied
    column = np.lib.stride_tricks.as_strided(big[:1, :1], (3, 1), (0, 8), writeable=False)
    assert_close(binding.scale(column, 2.0), np.full((3, 1), 2.0 * big[0, 0]))
    ints = np.arange(6).reshape(2, 3)
    assert_close(binding.matmul(ints, ints.T), ints @ ints.T)  # integers become float64


def test_empty_and_degenerate_shapes(binding):
    assert binding.matmul(np.ones((0, 3)), np.ones((3, 2))).shape == (0, 2)
    assert_close(binding.matmul(np.ones((2, 0)), np.ones((0, 3))), np.zeros((2, 3)))


@pytest.mark.parametrize(
    "a,b,exc,message",
    [
        (np.ones((2, 3)), np.ones((4, 5)), ValueError, r"\(2, 3\) and \(4, 5\) are not aligned"),
        (np.ones(3), np.ones((3, 2)), ValueError, "expected 2 dimensions"),
        (np.array(2.0), np.ones((3, 2)), ValueError, "expected 2 dimensions"),  # 0 of them
        (np.ones((2, 2), dtype=complex), np.ones((2, 2)), TypeError, "real numbers"),
        (np.ones((2, 2), dtype=bool), np.ones((2, 2)), TypeError, "real numbers"),
        ([[1.0, 2.0]], np.ones((2, 1)), TypeError, "NumPy array or a phase1_python Matrix"),
    ],
)
def test_bad_input_is_a_clear_error(binding, a, b, exc, message):
    with pytest.raises(exc, match=message):
        binding.matmul(a, b)


def test_float32_product_refuses_float64(binding):
    with pytest.raises(TypeError, match="needs float32 arrays, got float64"):
        binding.matmul_f32(np.ones((2, 2)), np.ones((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\) are not aligned"):
        binding.matmul_f32(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(2, 3\) differ|differ"):
        binding.add(np.ones((2, 3)), np.ones((3, 2)))
    for other in (np.ones((2, 4)), np.ones((3, 3))):  # the rows alike, or the columns alike
        with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(\d, \d\) differ"):
            binding.sub(np.ones((2, 3)), other)


def test_kernel_selection(binding):
    assert binding.kernel_name() in KERNELS
    # the error names what this CPU runs, the one "auto" picks first
    with pytest.raises(ValueError, match=r"unknown or not supported on this CPU \(it runs: ") as e:
        binding.set_kernel("sse9")
    runs = str(e.value).rsplit("it runs: ", 1)[1].rstrip(")").split(", ")
    assert runs[-1] == "generic" and set(runs) <= set(KERNELS) and len(set(runs)) == len(runs)
    binding.set_kernel("auto")
    assert binding.kernel_name() == runs[0]
    for name in set(KERNELS) - set(runs):  # a kernel this CPU cannot run: an error, no crash
        with pytest.raises(ValueError, match=f"'{name}' is unknown or not supported"):
            binding.set_kernel(name)
    assert binding.threads() >= 1


def _refuses_what_it_cannot_back() -> bool:
    """Whether the system refuses 8 TiB at once: Windows counts every allocation against memory
    and page file, Linux refuses more than it has unless overcommit is switched fully on
    (vm.overcommit_memory = 1). macOS grants it lazily: the product would then write it all."""
    if sys.platform == "win32":
        return True
    try:
        return Path("/proc/sys/vm/overcommit_memory").read_text().strip() != "1"
    except OSError:  # not Linux
        return False


@pytest.mark.skipif(
    not _refuses_what_it_cannot_back(),
    reason="this system grants memory lazily: an 8 TiB output would be written, not refused",
)
def test_an_impossible_output_is_a_memory_error(binding):
    # (2**20 x 1) @ (1 x 2**20) is 8 TiB of float64: refused cleanly, never a crash
    a, b = np.ones((1 << 20, 1)), np.ones((1, 1 << 20))
    with pytest.raises((MemoryError, ValueError)):
        binding.matmul(a, b)


#: what a binding raises for a count past its C int: ValueError (ours), OverflowError (CPython's
#: "i" format), TypeError (pybind11 finds no overload for it)
TOO_BIG = (ValueError, OverflowError, TypeError)


@pytest.mark.parametrize("name", for_exercises({name: name for name in IDS}, BINDING_EXERCISES))
@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda b: b.set_threads(2**63), TOO_BIG),  # ctypes once made it 0
        (lambda b: b.set_threads(2**32 + 4), TOO_BIG),  # ... and this 4
        (lambda b: b.set_threads(-1), TOO_BIG),
        (lambda b: b.set_threads(2.0), TypeError),
        (lambda b: b.set_kernel("auto\0x"), ValueError),  # C reads up to the NUL: "auto"
        (lambda b: b.set_kernel(None), TypeError),
        (lambda b: b.set_kernel(b"auto"), TypeError),
    ],
)
def test_every_binding_refuses_what_its_c_int_or_string_cannot_hold(name, call, error):
    binding = phase3_c.BINDINGS[name]
    threads, kernel = binding.threads(), binding.kernel_name()
    with pytest.raises(error):
        call(binding)
    assert (binding.threads(), binding.kernel_name()) == (threads, kernel)  # nothing changed


@pytest.mark.exercise(id="3.2")
def test_ctypes_turns_each_status_into_its_error():
    # C has no exceptions: ctypes_binding._check raises the error of each status, with the C
    # library's own text for it (nn_status_str)
    from phase3_c import ctypes_binding

    ctypes_binding._check(0, "nn_add")  # NN_OK: nothing to raise
    for status, error in ((1, ValueError), (2, ValueError), (3, MemoryError), (4, ValueError)):
        text = ctypes_binding._lib().nn_status_str(status).decode()
        with pytest.raises(error, match=f"^nn_add: {re.escape(text)}$"):
            ctypes_binding._check(status, "nn_add")
