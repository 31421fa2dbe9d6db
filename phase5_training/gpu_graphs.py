"""CUDA graphs for the GPU step: a list of launches captured once and replayed with one driver
call (`StepGraph`), the edges that let some of its launches run on streams of their own
(`StreamWait`), and how an epoch's batches become graph launches (`graph_runs`).

Nothing in a step changes between steps but `pos`, which lives on the device (gpu_kernels.py),
so one capture serves every step of a batch size. A graph launch costs the host a few
microseconds, against about 19 per numba kernel launch, and the GPU runs the kernels back to
back. The simulator has no graphs: there gpu.py runs the same launches one by one.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from numba import cuda

from phase4_cuda.device import simulated
from phase4_cuda.matmul import Launch

__all__ = ["StepGraph", "StreamWait", "graph_runs"]


def graph_runs(sizes: list[int], steps_per_graph: int) -> list[tuple[int, int]]:
    """An epoch's batch sizes as graph launches (batch size, steps): each run of equal sizes in
    chunks of `steps_per_graph` steps, and what is left of it as one shorter graph. [128] * 468
    + [96] in chunks of 16 is (128, 16) 29 times, (128, 4), (96, 1)."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(sizes):
        j = i
        while j < len(sizes) and sizes[j] == sizes[i]:
            j += 1
        whole, rest = divmod(j - i, steps_per_graph)
        runs += [(sizes[i], steps_per_graph)] * whole + ([(sizes[i], rest)] if rest else [])
        i = j
    return runs


def _sync_event():
    """An event for ordering streams only (no timing); the simulator's takes no arguments."""
    return cuda.event() if simulated() else cuda.event(timing=False)


@dataclass(frozen=True)
class StreamWait:
    """A dependency between two streams: what is issued to `waiting` from now on waits for what
    was issued to `source` so far (an event recorded on one, waited for on the other). Captured
    into a graph, it is an edge: a fork into a branch, or a join back."""

    source: object
    waiting: object
    event: object = field(default_factory=_sync_event)

    def __call__(self) -> None:
        self.event.record(self.source)
        self.event.wait(self.waiting)


class StepGraph:
    """A list of launches (Phase 4's `Launch`, planned on `stream` or on streams that
    StreamWaits fork from it and join back), captured once into a CUDA graph and then replayed
    with one driver call (CUDA's stream capture, through the driver bindings numba itself
    uses)."""

    def __init__(self, launches: list[Launch], stream) -> None:
        from cuda.bindings import driver

        self._driver = driver
        self._stream = driver.CUstream(int(stream.handle))
        mode = driver.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED
        # No device memory may be freed while the stream is being captured.
        with cuda.defer_cleanup():
            self._check(driver.cuStreamBeginCapture(self._stream, mode))
            try:
                for launch in launches:
                    launch()
            finally:
                graph = self._check(driver.cuStreamEndCapture(self._stream))
        self._graph = graph
        self._exec = self._check(driver.cuGraphInstantiate(graph, 0))
        self.launches = len(launches)
        weakref.finalize(self, StepGraph._destroy, driver, self._exec, graph)

    def _check(self, result):
        err, *rest = result if isinstance(result, tuple) else (result,)
        if err != self._driver.CUresult.CUDA_SUCCESS:
            raise RuntimeError(f"CUDA graph call failed: {err!r}")
        return rest[0] if rest else None

    def launch(self) -> None:
        self._check(self._driver.cuGraphLaunch(self._exec, self._stream))

    @staticmethod
    def _destroy(driver, exec_, graph) -> None:
        driver.cuGraphExecDestroy(exec_)
        driver.cuGraphDestroy(graph)
