"""The thread pool under the packed product: the same answer on any number of threads (the tests
elsewhere run on one, as pytest's workers share the cores), two products at once from two Python
threads, a product in a forked child, and the thread count as a setting with its bad values."""

import multiprocessing
import sys
import threading

import numpy as np
import pytest

import phase3_c
from shared.testing import BINDING_EXERCISES, assert_close, for_exercises

# large enough to be shared out (more than a megaflop), past the MC/KC blocking and the NR edges
SHAPES = [(150, 300, 37), (128, 784, 512), (301, 257, 1000), (1, 2000, 700)]


@pytest.fixture
def threads():
    """Set the product's threads for one test, then back to the default."""
    yield phase3_c.set_threads
    phase3_c.set_threads(0)


@pytest.mark.parametrize("n_threads", [2, 3, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_any_thread_count_gives_numpys_answer(threads, n_threads, dtype):
    threads(n_threads)
    assert phase3_c.threads() == n_threads
    rng = np.random.default_rng(n_threads)
    for m, k, n in SHAPES:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        tol = 1e-4 if dtype == np.float32 else 1e-12
        assert_close(phase3_c.matmul(a, b), a.astype(np.float64) @ b, rtol=tol, atol=tol * k)


def test_two_python_threads_at_once(threads):
    """The bindings release the GIL: two products run at the same time, one on the pool and one
    on its caller alone, and both must be right."""
    threads(2)
    rng = np.random.default_rng(0)
    pairs = [(rng.standard_normal((200, 300)), rng.standard_normal((300, 250))) for _ in range(2)]
    results: list = [None, None]
    errors: list = []

    def work(i):
        try:
            for _ in range(20):
                results[i] = phase3_c.matmul(*pairs[i])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    for (a, b), c in zip(pairs, results, strict=True):
        assert_close(c, a @ b, rtol=1e-12, atol=1e-10)


def _product_in_child(queue):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((256, 300)), rng.standard_normal((300, 200))
    queue.put(float(np.abs(phase3_c.matmul(a, b) - a @ b).max()))


# Python warns that forking a process with threads may deadlock: that is the case tested here.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of fork")
@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no fork(): a child starts afresh")
def test_a_forked_child_computes_after_the_parent_used_the_pool(threads):
    """fork() copies only the calling thread: the child must start a pool of its own, not wait
    for workers that do not exist in it."""
    threads(2)
    a = np.ones((300, 300))
    phase3_c.matmul(a, a)  # the parent's workers are running now
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_product_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) < 1e-9


@pytest.mark.parametrize("binding", for_exercises(phase3_c.BINDINGS, BINDING_EXERCISES))
def test_the_thread_count_is_checked(threads, binding):
    for bad in (-1, 257):
        with pytest.raises(ValueError, match="0 \\(the default\\) to 256 threads"):
            binding.set_threads(bad)
    binding.set_threads(3)  # each binding holds its own copy of the library, and of this setting
    assert binding.threads() == 3
    binding.set_threads(0)
    assert binding.threads() >= 1
