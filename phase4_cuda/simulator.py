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
"""

from __future__ import annotations

import threading

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
    """Put BlockScheduler in place of numba's block manager; False (and numba's left as it is)
    where this numba's simulator does not have the pieces it builds on."""
    global BlockScheduler
    try:
        from numba.cuda.simulator import kernel
    except ImportError:
        return False
    manager, thread = getattr(kernel, "BlockManager", None), getattr(kernel, "BlockThread", None)
    if manager is None or thread is None or not hasattr(thread, "syncthreads"):
        return False
    if BlockScheduler is None or not issubclass(manager, BlockScheduler):
        BlockScheduler = scheduler_class(manager, thread)
        kernel.BlockManager = BlockScheduler
    return True
