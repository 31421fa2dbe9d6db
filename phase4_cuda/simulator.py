"""numba's CUDA simulator, with a block scheduler that waits instead of polling.

In the simulator every CUDA thread of a block is a Python thread. numba's own scheduler
(`BlockManager.run`) starts them and then loops, asking each thread in turn whether it is
waiting at `cuda.syncthreads()`, and releases them all once every live thread waits. That loop
never sleeps: it holds Python's lock whenever the threads it watches could run, and each of
them gets it back only when the interpreter takes it away (every 5 ms). A kernel that meets a
barrier often, like the tensor-core rungs, whose every mma is a warp-wide exchange, spends most
of its time there.

`BlockScheduler` keeps the same contract and does the waiting with a condition variable: a
thread arriving at the barrier counts itself; the last of the live threads to arrive (or a
thread ending while all the others wait) releases the barrier; the scheduler itself just joins
the threads. A thread that raises aborts the others, as in numba, and its error is the one
raised. `install()` puts it in place of numba's; `python -m phase4_cuda` and every kernel run in
the simulator use it. The barrier's semantics do not change: a thread that never reaches
`syncthreads()` while others wait still leaves them waiting until it ends.

`install()` also brings numba's own, older simulator (the deprecated `numba.cuda` that numba
carries where numba-cuda does not install: macOS) up to numba-cuda's, so that the same kernels
run in both; where the simulator already has these, nothing of it is touched (`_adapt`):
- `cuda.shared.array(shape, dtype, alignment=None)` and `cuda.local.array(...)` take the
  `alignment` keyword. The simulator's arrays are NumPy's and have no addresses a kernel could
  rely on, so, as in numba-cuda's simulator, None is accepted and a number refused (kernels pass
  `wide_loads.SHARED_ALIGN`, None in the simulator).
- A device function defined in another module than its kernel finds `cuda` to be the simulated
  module while any thread runs it. numba swaps that module into the function's globals on the
  way in and back out on the way out, for each thread on its own: the first thread to return put
  the real module back while the others still ran, and their next `cuda.threadfence()` (split-K,
  in `matmul/split_k.py`) found no such function. numba-cuda counts the threads inside, and the
  last one out restores the module; `_swapped_cuda_module` does the same.
"""

from __future__ import annotations

import inspect
import sys
import threading
from contextlib import contextmanager

import numpy as np

__all__ = ["BlockScheduler", "install"]


class _Barrier:
    """The block's barrier: how many live threads there are and how many wait."""

    def __init__(self, threads: int):
        self.lock = threading.Condition()
        self.alive, self.waiting, self.generation = threads, 0, 0
        self.failed = None  # the first thread that raised

    def release_if_all_wait(self) -> None:
        """Under the lock: let the waiting threads go once every live thread waits."""
        if self.waiting and self.waiting == self.alive:
            self.waiting, self.generation = 0, self.generation + 1
            self.lock.notify_all()


def _thread_class(base):
    """numba's BlockThread with `syncthreads` on the block's _Barrier instead of a flag that the
    scheduler polls."""

    class Thread(base):
        barrier: _Barrier
        block: list

        def syncthreads(self):
            if self.abort:
                raise RuntimeError("abort flag set on syncthreads call")
            barrier = self.barrier
            with barrier.lock:
                generation = barrier.generation
                barrier.waiting += 1
                barrier.release_if_all_wait()
                while barrier.generation == generation and not self.abort:
                    barrier.lock.wait()
            if self.abort:
                raise RuntimeError("abort flag set on syncthreads clear")

        def run(self):
            try:
                base.run(self)  # numba's: runs the kernel, keeps an exception in self.exception
            finally:
                barrier = self.barrier
                with barrier.lock:
                    barrier.alive -= 1
                    if self.exception is not None and barrier.failed is None:
                        barrier.failed = self
                        for other in self.block:
                            other.abort = True
                        barrier.lock.notify_all()
                    else:
                        barrier.release_if_all_wait()

    return Thread


def scheduler_class(manager_base, thread_base):
    """A BlockManager whose `run` starts the block's threads on one _Barrier and joins them."""
    thread_class = _thread_class(thread_base)

    class BlockScheduler(manager_base):
        def run(self, grid_point, *args):
            points = list(np.ndindex(*self._block_dim))
            barrier, block = _Barrier(len(points)), []
            for point in points:
                thread = thread_class(lambda: self._f(*args), self, grid_point, point,
                                      self._debug)  # fmt: skip
                thread.barrier, thread.block = barrier, block
                block.append(thread)
            for thread in block:
                thread.start()
            for thread in block:
                thread.join()
            failed = barrier.failed or next((t for t in block if t.exception), None)
            if failed is not None:
                raise failed.exception[0].with_traceback(failed.exception[1])

    return BlockScheduler


BlockScheduler = None  # the class, once install() has made it


def install() -> bool:
    """Put BlockScheduler in place of numba's block manager, and bring an older simulator up to
    numba-cuda's (`_adapt`); False (and numba's left as it is) where this numba's simulator does
    not have the pieces it builds on."""
    global BlockScheduler
    try:
        from numba.cuda.simulator import kernel, kernelapi
    except ImportError:
        return False
    manager, thread = getattr(kernel, "BlockManager", None), getattr(kernel, "BlockThread", None)
    if manager is None or thread is None or not hasattr(thread, "syncthreads"):
        return False
    if BlockScheduler is None or not issubclass(manager, BlockScheduler):
        BlockScheduler = scheduler_class(manager, thread)
        kernel.BlockManager = BlockScheduler
    _adapt(kernel, kernelapi)
    return True


# -- numba's own simulator brought up to numba-cuda's --------------------------------------------
def _adapt(kernel, kernelapi) -> None:
    """Give an older simulator what numba-cuda's has and the project's kernels use (see the module
    docstring); each piece only where it is missing."""
    shared, local = kernelapi.FakeCUDAShared, kernelapi.FakeCUDALocal
    if "alignment" not in inspect.signature(shared.array).parameters:
        shared.array = _shared_array(shared.array, kernelapi)
    if "alignment" not in inspect.signature(local.array).parameters:
        local.array = _local_array(local.array)
    if not hasattr(kernelapi, "_swap_refcount"):  # numba-cuda's count of the threads inside
        kernelapi.swapped_cuda_module = kernel.swapped_cuda_module = _swapped_cuda_module


def _no_alignment(alignment) -> None:
    if alignment is not None:  # numba-cuda's simulator refuses it with these words
        raise RuntimeError("Array alignment is not supported in cudasim")


def _shared_array(array, kernelapi):
    """numba's FakeCUDAShared.array, with `alignment`. The static case is written out rather than
    passed on: numba tells one shared array from another by the file and line that asks for it
    (one allocation per line and block), which passing it on would make the same for all."""

    def shared_array(self, shape, dtype, alignment=None):
        _no_alignment(alignment)
        if shape == 0:  # dynamic shared memory: one buffer, whoever asks
            return array(self, shape, dtype)
        caller = sys._getframe(1)
        where = (caller.f_code.co_filename, caller.f_lineno)
        allocated = self._allocations.get(where)
        if allocated is None:
            if isinstance(dtype, kernelapi.types.Type):
                dtype = kernelapi.numpy_support.as_dtype(dtype)
            allocated = self._allocations[where] = np.empty(shape, dtype)
        return allocated

    return shared_array


def _local_array(array):
    def local_array(self, shape, dtype, alignment=None):
        _no_alignment(alignment)
        return array(self, shape, dtype)

    return local_array


_SWAP_LOCK = threading.Lock()
_swaps: dict[int, tuple[int, dict]] = {}  # id(globals) -> (threads inside, the names swapped)


@contextmanager
def _swapped_cuda_module(fn, fake_cuda_module):
    """`fn`'s globals see `fake_cuda_module` for `cuda` while any thread is inside: the first in
    swaps it in, the last out puts the real module back (numba-cuda's rule)."""
    from numba import cuda

    globals_, key = fn.__globals__, id(fn.__globals__)
    with _SWAP_LOCK:
        inside, original = _swaps.get(key, (0, None))
        if inside == 0:
            original = {name: value for name, value in globals_.items() if value is cuda}
            globals_.update(dict.fromkeys(original, fake_cuda_module))
        _swaps[key] = (inside + 1, original)
    try:
        yield
    finally:
        with _SWAP_LOCK:
            inside, original = _swaps.pop(key)
            if inside > 1:
                _swaps[key] = (inside - 1, original)
            else:
                globals_.update(original)
