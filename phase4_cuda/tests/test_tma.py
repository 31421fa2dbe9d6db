"""TMA and the shared-memory barriers (tma.py) and the rungs fed by them (matmul/k15, k16): the
tensor map's checks, the box a TMA copy writes (swizzled, zeros past the edges), the barriers'
phases, and the harness catching a rung whose producer or consumers break the protocol. In the
simulator these check the stand-ins, which follow the hardware's rules; tests marked `gpu` need
compute capability 9.0 (sm_90a)."""

import numpy as np
import pytest
from numba import cuda, uint32, uint64

from phase4_cuda import matmul as mm
from phase4_cuda import tma
from phase4_cuda.device import simulated
from phase4_cuda.matmul import WgmmaTiles, k15_wgmma_bf16_tma
from phase4_cuda.wgmma import ATOM_BYTES, smem_address, swizzled_chunk

needs_wgmma = pytest.mark.precision("wgmma")
ROWS = 8  # rows of the test's box


@cuda.jit
def _copy_box(tmap, k_word, row, out):
    """One box of ROWS x 32 words by TMA into shared memory, waited for, then copied out as
    stored (swizzle and all)."""
    raw = cuda.shared.array(2 * 1024 // 4, uint32)  # room to put the box on 1024 bytes
    bars = cuda.shared.array(1, uint64)
    t = uint32(cuda.threadIdx.x)
    first = (
        (uint32(ATOM_BYTES) - (smem_address(raw) & uint32(ATOM_BYTES - 1))) & uint32(1023)
    ) >> uint32(2)
    if t == uint32(0):
        tma.barrier_init(bars, 0, uint32(1))
        tma.barrier_init_fence()
    cuda.syncthreads()
    if t == uint32(0):
        tma.arrive_expect(bars, 0, uint32(ROWS * 128))
        tma.load_tile(raw, first, tmap, k_word, row, bars, 0)
    tma.wait_phase(bars, 0, uint32(0))
    for i in range(t, ROWS * 32, cuda.blockDim.x):
        out[i] = raw[first + i]


@needs_wgmma
@pytest.mark.tma  # (skipped on a GPU until rungs 15 and 16 have run on one: testing.py)
@pytest.mark.parametrize(("k_word", "row"), [(0, 0), (32, 5)], ids=["inside", "past both edges"])
def test_a_tma_box_lands_swizzled_with_zeros_outside(k_word, row):
    words = np.arange(10 * 36, dtype=np.uint32).reshape(10, 36) + 1  # 10 rows of 36 words
    out = cuda.to_device(np.zeros(ROWS * 32, np.uint32))
    _copy_box[1, 64](tma.tensor_map(cuda.to_device(words), ROWS), k_word, row, out)
    got = out.copy_to_host()
    box = np.zeros((ROWS, 32), np.uint32)  # the box, zero past the array
    part = words[row : row + ROWS, k_word : k_word + 32]
    box[: part.shape[0], : part.shape[1]] = part
    for r in range(ROWS):
        for c in range(8):
            at = 4 * int(swizzled_chunk(uint32(r), uint32(c)))
            assert (got[at : at + 4] == box[r, 4 * c : 4 * c + 4]).all(), (r, c)


def test_a_tensor_map_refuses_what_tma_cannot_copy():
    with pytest.raises(ValueError, match="multiple of 4"):
        tma.tensor_map(cuda.to_device(np.zeros((8, 6), np.uint32)), 8)
    with pytest.raises(ValueError, match="32-bit words"):
        tma.tensor_map(cuda.to_device(np.zeros((8, 8), np.float64)), 8)
    with pytest.raises(ValueError, match=r"1\.\.256 rows"):
        tma.tensor_map(cuda.to_device(np.zeros((8, 8), np.uint32)), 300)


def _no_arrival(bars, i):  # a consumer that never frees its stage
    pass


@pytest.mark.skipif(not simulated(), reason="a missing arrival hangs a GPU; the stand-in times out")
def test_a_consumer_that_never_frees_a_stage_fails_instead_of_hanging(monkeypatch):
    monkeypatch.setattr(tma, "TIMEOUT", 2)
    monkeypatch.setattr(k15_wgmma_bf16_tma, "arrive", _no_arrival)
    with pytest.raises(Exception, match="phase 0 never completed"):
        mm.validate(["wgmma_bf16_tma"], [(64, 200, 64)], tiles=WgmmaTiles(64, 2, 3, tma=True))


def _wrong_stage_bytes(bars, i, n):  # the producer announces one row of B too few
    tma.arrive_expect(bars, i, n - uint32(128))


@pytest.mark.skipif(
    not simulated(), reason="patches the kernel's globals, as only the simulator reads them"
)
def test_the_harness_catches_a_producer_announcing_the_wrong_bytes(monkeypatch):
    # the barrier's phase completes before the last row has landed: on a GPU a race, here the
    # stand-in's byte count going below zero
    monkeypatch.setattr(tma, "TIMEOUT", 2)
    monkeypatch.setattr(k15_wgmma_bf16_tma, "arrive_expect", _wrong_stage_bytes)
    with pytest.raises(Exception, match="more bytes than announced"):
        mm.validate(["wgmma_bf16_tma"], [(64, 200, 64)], tiles=WgmmaTiles(64, 2, 3, tma=True))


def test_on_a_gpu_the_rungs_no_gpu_has_run_are_left_out_in_one_line(monkeypatch):
    # rungs 15 and 16 have run only in the simulator: on a GPU the kernel check, the benchmark
    # and validate() leave them out, saying why, unless asked for on purpose (wgmma_bench)
    from phase4_cuda.matmul import ladder

    monkeypatch.setattr(ladder, "simulated", lambda: False)
    monkeypatch.setenv(mm.CC_OVERRIDE, "9.0")
    kept, left_out = mm.runnable(mm.VERSIONS)
    assert kept == [v for v in mm.VERSIONS if v not in ("wgmma_bf16_tma", "wgmma_tf32_tma")]
    assert left_out == f"left out: wgmma_bf16_tma, wgmma_tf32_tma ({ladder.NOT_YET_REASON})"
    assert mm.runnable(mm.VERSIONS, unproven=True) == (list(mm.VERSIONS), None)
    monkeypatch.setenv(mm.CC_OVERRIDE, "8.0")  # there the hardware's reason comes first
    kept, left_out = mm.runnable(mm.VERSIONS)
    assert kept == list(mm.VERSIONS[:11]) and "wgmma_tf32_tma (wgmma needs" in left_out
    assert ladder.NOT_YET_REASON not in left_out
