"""Hopper's tensor memory accelerator (TMA) and its barriers from numba: the PTX that moves a
whole tile from global to shared memory in one instruction, and the shared-memory barriers
(mbarriers) that say when it has landed. numba-cuda has no API for either; as in wgmma.py, each
is LLVM inline assembly from an `@intrinsic`, with a Python stand-in for the CUDA simulator.

    tensor_map(words, rows)     host: the 128-byte tensor map of a staged operand (rows, KW) of
                                32-bit words, for boxes of `rows` rows x 32 words (128 bytes of
                                K), written 128B-swizzled (the layout wgmma.py's descriptors
                                describe), made by the driver (cuTensorMapEncodeTiled) and
                                copied to the GPU; outside the array the box reads zeros
    load_tile(smem, at, tmap, k_word, row, bars, i)
                                cp.async.bulk.tensor.2d: one thread starts the copy of the box at
                                (k_word, row) into shared word `at`, to complete on barrier i
    barrier_init(bars, i, count)  mbarrier.init: barrier i of the shared uint64 array `bars`
                                completes a phase when `count` threads have arrived (and every
                                byte it expects has landed)
    barrier_init_fence()        fence.mbarrier_init: the barriers' initialisation is visible to
                                the TMA unit (then a block barrier makes it visible to threads)
    arrive(bars, i)             mbarrier.arrive: one arrival
    arrive_expect(bars, i, n)   mbarrier.arrive.expect_tx: one arrival, and n more bytes to wait
                                for (the TMA copies count them down as they land)
    map_acquire(tmap)           fence.proxy.tensormap::generic.acquire: the TMA unit sees the
                                tensor map as the host wrote it into global memory (once, by the
                                thread that issues the copies)
    wait_phase(bars, i, parity) mbarrier.try_wait.parity in a loop: until the phase of that
                                parity (0, 1, 0, ...: the phase count's low bit) has completed
    set_registers(n, more)      setmaxnreg.inc / .dec: this warpgroup's threads keep n registers
                                each from here on (a producer gives its spare to the consumers)

**Why a barrier in shared memory.** A block barrier (`cuda.syncthreads()`) makes every thread
wait for every other. A pipeline needs less: the threads that multiply stage s wait only until
its tiles have landed, the thread that refills it only until they are done with it. An mbarrier
is a 64-bit counter in shared memory with a phase bit: it expects `count` arrivals and a number
of bytes; when both reach zero the phase completes, the bit flips and the counts reset. Waiting
means watching for the flip: a thread that waits for the k-th use of a stage waits for phase k,
whose parity is k % 2 (`wait_phase`). The TMA unit counts bytes: a thread announces how many
bytes a copy will bring (`arrive_expect`), the copy subtracts them as they land.

**Why TMA.** With cp.async (rungs 12-14) every thread computes addresses and issues 16-byte
copies: 12 a thread a step at 128 x 256, and the registers to hold the addresses. One TMA
instruction copies a whole box (here 128 rows x 128 bytes): the hardware walks the rows, fills
zeros past the array's edges and applies the 128-byte swizzle on the way in. One thread of the
block can feed it alone, so the other warpgroups do nothing but multiply.

**The tensor map** (CUDA driver API, cuTensorMapEncodeTiled; PTX ISA "Tensor Copy Instructions")
describes the array in global memory: element type (32-bit words here: a bf16 pair or a tf32),
sizes (KW words, rows), the row stride in bytes (a multiple of 16), the box (32 words x `rows`),
the swizzle. It lives in global memory here (numba cannot pass a 128-byte `__grid_constant__`
parameter); the kernel reads it through its generic address.

Under the simulator: `tensor_map` returns an array of 16 words whose first holds a key to the
operand and the box, `load_tile` copies the box into the shared array through wgmma.py's
address model of the 128-byte swizzle (a tile that does not start on a 1024-byte boundary gets
the wrong layout there as on the GPU) and counts its bytes down on the barrier; the barriers are
Python objects with a condition variable, so a thread that waits for a phase that never comes
fails after a timeout instead of hanging.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
from numba import cuda

from phase4_cuda.device import simulated
from phase4_cuda.wgmma import ATOM_BYTES, ROW_BYTES, swizzled_chunk

__all__ = [
    "BOX_WORDS",
    "arrive",
    "arrive_expect",
    "barrier_init",
    "barrier_init_fence",
    "load_tile",
    "map_acquire",
    "set_registers",
    "tensor_map",
    "wait_phase",
]

BOX_WORDS = ROW_BYTES // 4  #: 32 words = 128 bytes of K: the width of every box
MAP_WORDS = 16  #: a tensor map is 128 bytes


def _check_operand(words, rows: int) -> tuple[int, int]:
    if words.ndim != 2 or np.dtype(words.dtype).itemsize != 4:
        raise ValueError(f"a staged operand is (rows, KW) of 32-bit words, not {words.shape} "
                         f"of {words.dtype}")  # fmt: skip
    total, kw = words.shape
    if kw % 4 or not 1 <= rows <= 256:
        raise ValueError(f"KW {kw} must be a multiple of 4 and the box 1..256 rows, not {rows}")
    return total, kw


if simulated():
    _MAPS: dict[int, tuple] = {}
    _keys = itertools.count(1)
    _lock = threading.Lock()
    TIMEOUT = 60  #: seconds a simulated thread waits for a phase before it fails

    def tensor_map(words, rows: int):
        _check_operand(words, rows)
        key = next(_keys)
        _MAPS[key] = (words, rows)
        tmap = np.zeros(MAP_WORDS, np.uint64)
        tmap[0] = key
        return cuda.to_device(tmap)

    class _MBarrier:
        def __init__(self, count: int):
            self.count, self.pending, self.bytes, self.phase = count, count, 0, 0
            self.done = threading.Condition()

        def _complete_if_due(self):  # under self.done
            if self.pending == 0 and self.bytes == 0:
                self.phase, self.pending = self.phase + 1, self.count
                self.done.notify_all()

        def arrive(self, expect: int = 0):
            with self.done:
                if self.pending == 0:
                    raise RuntimeError("mbarrier: more arrivals than its count in one phase")
                self.pending -= 1
                self.bytes += expect
                self._complete_if_due()

        def landed(self, n: int):
            with self.done:
                if n > self.bytes:
                    raise RuntimeError("mbarrier: a copy landed more bytes than announced")
                self.bytes -= n
                self._complete_if_due()

        def wait(self, parity: int):
            # phase k (parity k % 2) has completed once self.phase > k; waiting on parity p
            # means the last phase of that parity not yet waited for: the current one if its
            # parity is p, else it is already done
            with self.done:
                current = self.phase
                if current % 2 != parity:
                    return
                if not self.done.wait_for(lambda: self.phase > current, TIMEOUT):
                    raise RuntimeError(f"mbarrier: phase {current} never completed "
                                       f"(a missing arrival or a copy of the wrong size?)")  # fmt: skip

    def _barrier_table():
        from phase4_cuda.wgmma import _launch

        launch = _launch()
        with _lock:
            if not hasattr(launch, "barriers"):
                launch.barriers = {}
            return launch.barriers

    def _barrier(bars, i):
        from phase4_cuda.wgmma import smem_address

        key = (int(smem_address(bars)), int(i))
        try:
            return _barrier_table()[key]
        except KeyError:
            raise RuntimeError("mbarrier used before barrier_init") from None

    def barrier_init(bars, i, count):
        from phase4_cuda.wgmma import smem_address

        _barrier_table()[int(smem_address(bars)), int(i)] = _MBarrier(int(count))

    def barrier_init_fence():
        pass

    def arrive(bars, i):
        _barrier(bars, i).arrive()

    def arrive_expect(bars, i, n):
        _barrier(bars, i).arrive(int(n))

    def wait_phase(bars, i, parity):
        _barrier(bars, i).wait(int(parity))

    def load_tile(smem, at, tmap, k_word, row, bars, i):
        from phase4_cuda.wgmma import smem_address

        words, rows = _MAPS[int(tmap[0])]
        base = int(smem_address(smem)) + 4 * int(at)
        if base % ATOM_BYTES:
            raise ValueError("a 128B-swizzled TMA box must start on a 1024-byte boundary")
        box = np.zeros((rows, BOX_WORDS), words.dtype)
        r0, k0 = int(row), int(k_word)
        part = words[r0 : r0 + rows, k0 : k0 + BOX_WORDS]
        box[: part.shape[0], : part.shape[1]] = part
        flat = smem.reshape(-1).view(box.dtype)
        first = int(at)
        for r in range(rows):
            for c in range(8):
                to = first + 4 * int(swizzled_chunk(r, c))
                flat[to : to + 4] = box[r, 4 * c : 4 * c + 4]
        _barrier(bars, i).landed(box.nbytes)

    def set_registers(n, more):
        pass

    def map_acquire(tmap):
        pass

else:
    from cuda.bindings import driver as _driver
    from llvmlite import ir
    from numba.cuda import types
    from numba.cuda.extending import intrinsic

    from phase4_cuda.wgmma import _address

    _I32, _I64 = ir.IntType(32), ir.IntType(64)

    def tensor_map(words, rows: int):
        total, kw = _check_operand(words, rows)
        kind = (
            _driver.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_FLOAT32
            if np.dtype(words.dtype) == np.float32
            else _driver.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_UINT32
        )
        err, tmap = _driver.cuTensorMapEncodeTiled(
            kind, 2, words.__cuda_array_interface__["data"][0],
            [kw, total], [kw * 4], [BOX_WORDS, rows], [1, 1],
            _driver.CUtensorMapInterleave.CU_TENSOR_MAP_INTERLEAVE_NONE,
            _driver.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_128B,
            _driver.CUtensorMapL2promotion.CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
            _driver.CUtensorMapFloatOOBfill.CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE,
        )  # fmt: skip
        if err != _driver.CUresult.CUDA_SUCCESS:
            raise RuntimeError(f"cuTensorMapEncodeTiled failed: {err}")
        return cuda.to_device(np.array([int(v) for v in tmap.opaque], np.uint64))

    def _asm(builder, text, constraints, args, types_):
        fnty = ir.FunctionType(ir.VoidType(), types_)
        constraints = ",".join(c for c in (constraints, "~{memory}") if c)
        builder.call(ir.InlineAsm(fnty, text, constraints, side_effect=True), args)

    def _bar_address(context, builder, sig, args):
        return _address(context, builder, sig.args[0], args[0], sig.args[1], args[1])

    def _barrier_op(name, text, registers=""):
        """The typer of f(bars, i, *extra) running `text` on barrier i's shared address (in
        the register nnf_a; `registers`: more declarations `text` needs)."""
        text = f"{{ .reg .u64 nnf_a; {registers} cvta.to.shared.u64 nnf_a, $0;\n{text} }}"

        def typer(typingctx, bars, i, *extra):
            if not isinstance(bars, types.Array) or bars.dtype != types.uint64:
                return None

            def codegen(context, builder, sig, args):
                ins = [_bar_address(context, builder, sig, args)] + [
                    context.cast(builder, v, t, types.uint32)
                    for v, t in zip(args[2:], sig.args[2:], strict=True)
                ]
                _asm(builder, text, ",".join(["l"] + ["r"] * len(extra)),
                     ins, [_I64] + [_I32] * len(extra))  # fmt: skip
                return context.get_dummy_value()

            return types.void(bars, i, *extra), codegen

        typer.__name__ = name
        return typer

    def _typer2(name, text):
        f = _barrier_op(name, text)

        def typer(typingctx, bars, i):
            return f(typingctx, bars, i)

        typer.__name__ = name
        return intrinsic(typer)

    def _typer3(name, text, registers=""):
        f = _barrier_op(name, text, registers)

        def typer(typingctx, bars, i, n):
            return f(typingctx, bars, i, n)

        typer.__name__ = name
        return intrinsic(typer)

    barrier_init = _typer3("barrier_init", "mbarrier.init.shared::cta.b64 [nnf_a], $1;")
    arrive = _typer2("arrive", "mbarrier.arrive.shared::cta.b64 _, [nnf_a];")
    arrive_expect = _typer3(
        "arrive_expect", "mbarrier.arrive.expect_tx.shared::cta.b64 _, [nnf_a], $1;"
    )
    wait_phase = _typer3(
        "wait_phase",
        "NNF_WAIT:\nmbarrier.try_wait.parity.shared::cta.b64 nnf_p, [nnf_a], $1;\n"
        "@!nnf_p bra NNF_WAIT;",
        ".reg .pred nnf_p;",
    )

    @intrinsic
    def barrier_init_fence(typingctx):
        def codegen(context, builder, sig, args):
            _asm(builder, "fence.mbarrier_init.release.cluster;", "", [], [])
            return context.get_dummy_value()

        return types.void(), codegen

    @intrinsic
    def map_acquire(typingctx, tmap):
        if not isinstance(tmap, types.Array):
            return None

        def codegen(context, builder, sig, args):
            zero = context.get_constant(types.intp, 0)
            ptr = _address(context, builder, sig.args[0], args[0], types.intp, zero)
            _asm(
                builder, "fence.proxy.tensormap::generic.acquire.gpu [$0], 128;", "l", [ptr], [_I64]
            )
            return context.get_dummy_value()

        return types.void(tmap), codegen

    @intrinsic
    def load_tile(typingctx, smem, at, tmap, k_word, row, bars, i):
        if not all(isinstance(x, types.Array) for x in (smem, tmap, bars)):
            return None
        text = (
            "{ .reg .u64 nnf_d, nnf_m; cvta.to.shared.u64 nnf_d, $0; cvta.to.shared.u64 nnf_m, $1;\n"
            "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
            " [nnf_d], [$2, {$3, $4}], [nnf_m]; }"
        )

        def codegen(context, builder, sig, args):
            s_t, at_t, map_t, k_t, r_t, b_t, i_t = sig.args
            dst = _address(context, builder, s_t, args[0], at_t, args[1])
            bar = _address(context, builder, b_t, args[5], i_t, args[6])
            zero = context.get_constant(types.intp, 0)
            tmap_ptr = _address(context, builder, map_t, args[2], types.intp, zero)
            k = context.cast(builder, args[3], k_t, types.int32)
            r = context.cast(builder, args[4], r_t, types.int32)
            _asm(builder, text, "l,l,l,r,r", [dst, bar, tmap_ptr, k, r],
                 [_I64, _I64, _I64, _I32, _I32])  # fmt: skip
            return context.get_dummy_value()

        return types.void(smem, at, tmap, k_word, row, bars, i), codegen

    @intrinsic
    def set_registers(typingctx, n, more):
        if not (isinstance(n, types.IntegerLiteral) and isinstance(more, types.BooleanLiteral)):
            return None
        text = (
            f"setmaxnreg.{'inc' if more.literal_value else 'dec'}.sync.aligned.u32 "
            f"{n.literal_value};"
        )

        def codegen(context, builder, sig, args):
            _asm(builder, text, "", [], [])
            return context.get_dummy_value()

        return types.void(n, more), codegen

    # A stable identity for numba's on-disk cache (see wide_loads.load4).
    for _name in ("barrier_init", "arrive", "arrive_expect", "wait_phase", "barrier_init_fence",
                  "map_acquire", "load_tile", "set_registers"):  # fmt: skip
        globals()[_name]._set_uuid(f"{__name__}.{_name}")
