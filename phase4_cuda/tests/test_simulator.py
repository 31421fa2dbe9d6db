"""The simulator's block scheduler (phase4_cuda/simulator.py): a barrier that waits instead of
polling, with numba's semantics kept: every live thread of the block meets at syncthreads(),
threads that have ended are not waited for, and the error of the thread that raised is the one
the launch raises."""

import numpy as np
import pytest
from numba import cuda, float32, int32

from phase4_cuda.device import simulated
from phase4_cuda.matmul.split_k import last_to_arrive

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


# -- numba's own simulator brought up to numba-cuda's (macOS runs numba's own) -----------------
def test_the_older_simulator_is_adapted_only_where_it_lacks_the_pieces():
    import inspect

    from numba.cuda.simulator import kernel, kernelapi

    from phase4_cuda import simulator

    assert "alignment" in inspect.signature(kernelapi.FakeCUDAShared.array).parameters
    assert "alignment" in inspect.signature(kernelapi.FakeCUDALocal.array).parameters
    # numba-cuda's own swap counts the threads inside; numba's gets the project's, which does too
    ours = kernel.swapped_cuda_module is simulator._swapped_cuda_module
    assert ours != hasattr(kernelapi, "_swap_refcount")


@cuda.jit
def _two_shared_arrays(out):
    """Two shared arrays and a local one, each with `alignment=None` (what kernels pass in the
    simulator): the two shared arrays must stay two, told apart by the line asking for them."""
    a = cuda.shared.array(32, float32, alignment=None)
    b = cuda.shared.array(32, float32, alignment=None)
    mine = cuda.local.array(2, float32, alignment=None)
    i = cuda.threadIdx.x
    a[i], b[i] = i, -i
    cuda.syncthreads()
    mine[0], mine[1] = a[31 - i], b[31 - i]
    out[0, i], out[1, i] = mine[0], mine[1]


def test_shared_and_local_arrays_take_alignment_none():
    out = np.full((2, 32), np.nan, np.float32)
    _two_shared_arrays[2, 32](out)
    assert np.array_equal(out, [np.arange(31, -1, -1), -np.arange(31, -1, -1)])


@cuda.jit
def _aligned16(out):
    a = cuda.shared.array(32, float32, alignment=16)
    a[cuda.threadIdx.x] = 1
    out[cuda.threadIdx.x] = a[cuda.threadIdx.x]


def test_an_alignment_is_refused_as_numba_cuda_refuses_it():
    """The simulator's arrays have no addresses: a number would promise what nobody checks."""
    with pytest.raises(RuntimeError, match="Array alignment is not supported in cudasim"):
        _aligned16[1, 4](np.zeros(4, np.float32))


@cuda.jit
def _last_blocks(counters, out):
    """last_to_arrive is a device function of another module (split_k.py) that fences, waits at
    barriers and counts: every thread of the block must find the simulated `cuda` there until the
    last one has left it, not only until the first has."""
    t = cuda.threadIdx.x
    out[cuda.blockIdx.z, t] = last_to_arrive(counters, cuda.gridDim.z, t)


def test_a_device_function_of_another_module_keeps_the_simulated_cuda_for_every_thread():
    counters, out = np.zeros(1, np.int32), np.full((3, 64), -1, np.int32)
    _last_blocks[(1, 1, 3), 64](counters, out)
    # the simulator runs blocks one after another: the third block is the last to arrive
    assert counters[0] == 3 and out[:2].sum() == 0 and set(out[2]) == {1}
    # and once every thread has left, the module's `cuda` is numba's again, not this launch's
    assert last_to_arrive.py_func.__globals__["cuda"] is cuda
