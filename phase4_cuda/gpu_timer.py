"""GPU time of asynchronous work, measured the same way for every kernel and peer: CUDA events
around a batch of back-to-back launches, median of 7 batches, after a warm-up. Before each batch
the stream is held busy by a spin kernel (PyTorch's `torch.cuda._sleep`) long enough for the
host to queue the whole batch behind it, so the events see the GPU run the launches back to
back and not the host issuing them.

Why the hold: a product that takes the GPU less time than the host needs to launch it is
otherwise timed at the host's pace. At n = 1024 a BF16 product takes cuBLAS a few microseconds,
a PyTorch call costs the host about 10-15 and a numba or Triton launch 20 or more: a loop timed
by the host's clock measured cuBLAS BF16 at 126 TFLOP/s on an H100 where this measures over
300. In a training step the host queues ahead of the GPU in the same way, so this is the time
the product costs there. `host_clocked` repeats the older method on the same calls to show the
difference. A batch whose queuing outlasted the hold is counted in `starved`.

    timer = Timer(torch)      # its stream: timer.stream (PyTorch), timer.numba_stream (numba)
    timer.time(fn)            # {"seconds": median per call, "min", "max", "iters", "starved"}

numba kernels must be launched on `timer.numba_stream` and PyTorch or Triton work runs on
`timer.stream` (the timer makes it current while timing).
"""

from __future__ import annotations

import time

from numba import cuda

__all__ = ["Timer"]


class Timer:
    """GPU seconds per call of asynchronous work on one stream (see the module docstring)."""

    def __init__(self, torch):
        self.torch = torch
        self.stream = torch.cuda.Stream()
        self.numba_stream = cuda.external_stream(self.stream.cuda_stream)
        with torch.cuda.stream(self.stream):  # the spin kernel's rate, cycles per second
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda._sleep(1000)
            start.record()
            torch.cuda._sleep(20_000_000)
            end.record()
            end.synchronize()
            self.cycles_per_s = 20_000_000 / (start.elapsed_time(end) / 1e3)

    def time(self, fn, reps: int = 7, batch_s: float = 2e-3, max_iters: int = 200) -> dict:
        torch = self.torch
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        with torch.cuda.stream(self.stream):
            for _ in range(3):
                fn()
            self.stream.synchronize()
            t0 = time.perf_counter()
            start.record()
            for _ in range(10):
                fn()
            end.record()
            host_once = (time.perf_counter() - t0) / 10
            end.synchronize()
            rough = start.elapsed_time(end) / 1e3 / 10  # an upper bound: maybe host-paced
            iters = int(min(max_iters, max(10, batch_s / rough)))
            hold = 2.0 * iters * host_once + 1e-3
            times, starved = [], 0
            for _ in range(reps):
                torch.cuda._sleep(int(hold * self.cycles_per_s))
                t0 = time.perf_counter()
                start.record()
                for _ in range(iters):
                    fn()
                end.record()
                starved += time.perf_counter() - t0 > hold
                end.synchronize()
                times.append(start.elapsed_time(end) / 1e3 / iters)
        ordered = sorted(times)
        return {"seconds": ordered[len(times) // 2], "min": ordered[0], "max": ordered[-1],
                "iters": iters, "starved": starved, "times": times}  # fmt: skip

    def host_clocked(self, fn, number: int = 100) -> float:
        """The older method: a host clock around back-to-back calls, one sync at the end."""
        with self.torch.cuda.stream(self.stream):
            fn()
            self.stream.synchronize()
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            self.stream.synchronize()
            return (time.perf_counter() - t0) / number
