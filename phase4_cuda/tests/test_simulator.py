"""The simulator's block scheduler (phase4_cuda/simulator.py): a barrier that waits instead of
polling, with numba's semantics kept: every live thread of the block meets at syncthreads(),
threads that have ended are not waited for, and the error of the thread that raised is the one
the launch raises."""

import numpy as np
import pytest
from numba import cuda, float32, int32

from phase4_cuda.device import simulated

pytestmark = pytest.mark.skipif(not simulated(), reason="numba's CUDA simulator only")


def test_the_simulator_runs_the_projects_scheduler():
    from numba.cuda.simulator import kernel

    from phase4_cuda import simulator

    assert simulator.BlockScheduler is not None and kernel.BlockManager is simulator.BlockScheduler


@cuda.jit
def _rotate(out, rounds):
    """Each round, every thread reads its right neighbour's value: wrong without both barriers."""
    buf = cuda.shared.array(64, float32)
    i = cuda.threadIdx.x
    buf[i] = i
    for _ in range(rounds):
        cuda.syncthreads()
        v = buf[(i + 1) % cuda.blockDim.x]
        cuda.syncthreads()
        buf[i] = v
    out[cuda.blockIdx.x, i] = buf[i]


def test_syncthreads_is_a_barrier_of_the_whole_block():
    out = np.full((3, 64), np.nan, np.float32)
    _rotate[3, 64](out, 5)
    assert np.array_equal(out, np.tile((np.arange(64) + 5) % 64, (3, 1)))


@cuda.jit
def _early_exit(out):
    """Half the threads end before the barrier; the others must not wait for them."""
    buf = cuda.shared.array(32, int32)
    i = cuda.threadIdx.x
    if i >= 16:
        return
    buf[i] = i * 2
    cuda.syncthreads()
    out[i] = buf[15 - i]


def test_threads_that_have_ended_are_not_waited_for():
    out = np.full(32, -1, np.int32)
    _early_exit[1, 32](out)
    assert list(out[:16]) == [2 * (15 - i) for i in range(16)] and set(out[16:]) == {-1}


@cuda.jit
def _count(out):
    out[cuda.threadIdx.x] = cuda.syncthreads_count(cuda.threadIdx.x % 3 == 0)


def test_the_reducing_barriers_still_work():
    out = np.zeros(30, np.int32)
    _count[1, 30](out)
    assert set(out) == {10}


@cuda.jit
def _fails(out):
    i = cuda.threadIdx.x
    if i == 5:
        out[1000] = 1  # out of bounds: the error the launch must report
    cuda.syncthreads()
    out[i] = 1


def test_the_failing_threads_error_is_raised_and_the_others_stop():
    with pytest.raises(IndexError) as caught:
        _fails[1, 32](np.zeros(32, np.int32))
    assert "tid=[5, 0, 0]" in str(caught.value)
