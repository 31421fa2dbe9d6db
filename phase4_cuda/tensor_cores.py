"""The tensor cores from numba: two PTX instructions that numba-cuda has no API for, each emitted
as LLVM inline assembly from an `@intrinsic`, with a Python stand-in for the CUDA simulator.

    tf32(x)       cvt.rna.tf32.f32: x rounded to TF32 (10 mantissa bits, as float32)
    mma_tf32(a0, a1, a2, a3, b0, b1, c0, c1, c2, c3) -> (d0, d1, d2, d3)
                  mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32: D = A (16x8) @ B (8x8) + C,
                  computed by the 32 threads of a warp together, each holding a fragment

The fragments (PTX ISA, "Matrix fragments for mma.m16n8k8", .tf32): lane l of the warp has
g = l // 4 (its group) and t = l % 4 (its place in the group), and holds
    A: a0 = A[g, t]   a1 = A[g+8, t]   a2 = A[g, t+4]   a3 = A[g+8, t+4]
    B: b0 = B[t, g]   b1 = B[t+4, g]
    C, D: c0 = C[g, 2t]   c1 = C[g, 2t+1]   c2 = C[g+8, 2t]   c3 = C[g+8, 2t+1]
so a warp's 32 lanes hold each of A's 128, B's 64 and C's 128 values exactly once.

    bf16x2(hi, lo)  cvt.rn.bf16x2.f32: two floats rounded to bfloat16 (8 mantissa bits, to
                  nearest even) and packed into one 32-bit register, `lo` in the low half
    mma_bf16(a0, a1, a2, a3, b0, b1, c0, c1, c2, c3) -> (d0, d1, d2, d3)
                  mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: D = A (16x16) @ B (16x8)
                  + C, twice the K of the TF32 instruction; each A and B register holds a pair
    A: a0 = A[g, 2t:2t+2]   a1 = A[g+8, 2t:2t+2]   a2 = A[g, 2t+8:2t+10]   a3 = A[g+8, 2t+8:2t+10]
    B: b0 = B[2t:2t+2, g]   b1 = B[2t+8:2t+10, g]      (each a pair: the lower index in the low half)
    C, D: as for TF32.

Under the simulator each CUDA thread is a Python thread: `mma_tf32` there is the same
instruction written out, a warp-wide exchange. Every lane posts its fragments (rounded to TF32)
and waits for the other 31 at a barrier; the last to arrive rebuilds A, B and C from the
fragment layout and computes D (in float64, rounded to float32); each lane takes its four values
(two sets of slots, used in turn, let the next call post while a slow lane still reads). It
needs what the hardware needs: all 32 lanes of the warp call it together.
"""

from __future__ import annotations

import struct
import threading

from numba import cuda, float32, uint32

from phase4_cuda.device import simulated

__all__ = ["FRAGMENT", "FRAGMENT_BF16", "bf16x2", "mma_bf16", "mma_tf32", "tf32"]

#: where lane l's fragment values sit in A (16x8), B (8x8) and C (16x8), as described above
FRAGMENT = {
    "A": lambda g, t: ((g, t), (g + 8, t), (g, t + 4), (g + 8, t + 4)),
    "B": lambda g, t: ((t, g), (t + 4, g)),
    "C": lambda g, t: ((g, 2 * t), (g, 2 * t + 1), (g + 8, 2 * t), (g + 8, 2 * t + 1)),
}


#: the same for the bf16 instruction: each register is a pair of elements (low half first)
FRAGMENT_BF16 = {
    "A": lambda g, t: tuple(
        ((r, c), (r, c + 1))
        for r, c in ((g, 2 * t), (g + 8, 2 * t), (g, 2 * t + 8), (g + 8, 2 * t + 8))
    ),
    "B": lambda g, t: (((2 * t, g), (2 * t + 1, g)), ((2 * t + 8, g), (2 * t + 9, g))),
    "C": FRAGMENT["C"],
}


def bf16_bits(x: float) -> int:
    """The 16 bits of x rounded to bfloat16 as cvt.rn does: to nearest, ties to even (the upper
    half of float32's bits, rounded); NaN stays NaN."""
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    if bits & 0x7F800000 == 0x7F800000 and bits & 0x7FFFFF:
        return (bits >> 16) | 0x40  # a quiet NaN
    bits += 0x7FFF + ((bits >> 16) & 1)
    return (bits >> 16) & 0xFFFF


def bf16_value(half: int) -> float:
    """The float a bfloat16 bit pattern stands for."""
    return struct.unpack("<f", struct.pack("<I", (half & 0xFFFF) << 16))[0]


def tf32_bits(x: float) -> float:
    """x rounded to TF32 the way cvt.rna does: to nearest, ties away from zero, keeping 10 of
    float32's 23 mantissa bits (the exponent stays float32's); NaN and infinities unchanged."""
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    if bits & 0x7F800000 == 0x7F800000:
        return x
    bits = (bits + 0x1000) & 0xFFFFE000  # add half of the last kept bit to the magnitude, cut
    return struct.unpack("<f", struct.pack("<I", bits))[0]


if simulated():
    import numpy as np

    _lock = threading.Lock()
    _warps: dict = {}  # (block, warp, instruction) -> _Warp

    def _positions(fragment: dict, part: str) -> tuple:
        """(rows, cols) of every value the 32 lanes hold of `part`, lane by lane, register by
        register (a register of pairs: low half first): the order in which they are posted."""
        cells = []
        for lane in range(32):
            for reg in fragment[part](*divmod(lane, 4)):
                cells += reg if isinstance(reg[0], tuple) else [reg]
        return tuple(np.array(cells).T)

    _C_AT = _positions(FRAGMENT, "C")
    #: per instruction: the shapes of A and B, and where the posted values of each land
    _SHAPES = {
        "tf32": ((16, 8), (8, 8), _positions(FRAGMENT, "A"), _positions(FRAGMENT, "B")),
        "bf16": ((16, 16), (16, 8), _positions(FRAGMENT_BF16, "A"), _positions(FRAGMENT_BF16, "B")),
    }

    class _Warp:
        """The exchange of one warp for one instruction: lanes post their fragments; the last to
        arrive computes the warp's D (the barrier's action, once); each lane takes its four.

        Two sets of slots, used in turn, so that one barrier a call suffices: a lane that has
        taken its D from one set posts its next fragments into the other, and it can come back
        to the first only after the next call's barrier, which every lane reaches only after
        taking its D. (A second barrier before reuse doubled the waits; every barrier costs a
        wake-up of 32 Python threads.)"""

        def __init__(self, shape_a, shape_b, a_at, b_at):
            self.shape_a, self.shape_b, self.a_at, self.b_at = shape_a, shape_b, a_at, b_at
            self.a = np.zeros((2, 32, len(a_at[0]) // 32))
            self.b = np.zeros((2, 32, len(b_at[0]) // 32))
            self.c = np.zeros((2, 32, 4))
            self.d = [None, None]
            self.turn = 0  # the set the next barrier's action computes
            self.lane_turn = [0] * 32  # the set each lane posts into next
            self.arrive = threading.Barrier(32, action=self._multiply)

        def _multiply(self):
            k = self.turn
            A, B, C = np.zeros(self.shape_a), np.zeros(self.shape_b), np.zeros((16, 8))
            A[self.a_at] = self.a[k].ravel()  # lane l's value r lands where the fragment puts it
            B[self.b_at] = self.b[k].ravel()
            C[_C_AT] = self.c[k].ravel()
            # inputs already rounded (as posted), products and sums in float64, D in float32
            self.d[k] = (A @ B + C).astype(np.float32)[_C_AT].reshape(32, 4)
            self.turn = 1 - k

    def _warp_exchange(key, instruction):
        warp = _warps.get(key)  # (a dict read is atomic: the lock only guards a first creation)
        if warp is None:
            with _lock:
                warp = _warps.get(key)
                if warp is None:
                    warp = _warps[key] = _Warp(*_SHAPES[instruction])
        return warp

    @cuda.jit(device=True)
    def _exchange(instruction, a_vals, b_vals, c_vals):
        t_idx, b_idx, b_dim = cuda.threadIdx, cuda.blockIdx, cuda.blockDim
        linear = t_idx.x + b_dim.x * (t_idx.y + b_dim.y * t_idx.z)
        lane, key = linear % 32, (b_idx.x, b_idx.y, b_idx.z, linear // 32, instruction)
        warp = _warp_exchange(key, instruction)
        k = warp.lane_turn[lane]
        warp.a[k, lane], warp.b[k, lane], warp.c[k, lane] = a_vals, b_vals, c_vals
        warp.arrive.wait()  # all 32 lanes posted; the last one computed warp.d[k]
        d = warp.d[k][lane]
        warp.lane_turn[lane] = 1 - k
        return float32(d[0]), float32(d[1]), float32(d[2]), float32(d[3])

    def _pair(reg) -> list[float]:
        reg = int(reg)
        return [bf16_value(reg & 0xFFFF), bf16_value(reg >> 16)]

    @cuda.jit(device=True)
    def tf32(x):
        return tf32_bits(float(x))

    @cuda.jit(device=True)
    def bf16x2(hi, lo):
        return uint32((bf16_bits(float(hi)) << 16) | bf16_bits(float(lo)))

    @cuda.jit(device=True)
    def mma_tf32(a0, a1, a2, a3, b0, b1, c0, c1, c2, c3):
        a = [tf32_bits(float(v)) for v in (a0, a1, a2, a3)]
        return _exchange("tf32", a, [tf32_bits(float(v)) for v in (b0, b1)], [c0, c1, c2, c3])

    @cuda.jit(device=True)
    def mma_bf16(a0, a1, a2, a3, b0, b1, c0, c1, c2, c3):
        a = [v for reg in (a0, a1, a2, a3) for v in _pair(reg)]
        return _exchange("bf16", a, [v for reg in (b0, b1) for v in _pair(reg)], [c0, c1, c2, c3])

else:
    from llvmlite import ir
    from numba.cuda import types
    from numba.cuda.extending import intrinsic

    _F32, _I32 = ir.FloatType(), ir.IntType(32)

    def _mma_codegen(instruction: str, result):
        """The code of one mma.sync: A's four and B's two 32-bit registers go in as .b32 ("r":
        a float32 operand, already rounded by the caller, as its bits; packed pairs as they
        are), C and D as .f32 ("f"); D comes back as a struct of four floats."""

        def codegen(context, builder, sig, args):
            fnty = ir.FunctionType(ir.LiteralStructType([_F32] * 4), [_I32] * 6 + [_F32] * 4)
            asm = ir.InlineAsm(
                fnty,
                f"{instruction} {{$0, $1, $2, $3}}, {{$4, $5, $6, $7}}, {{$8, $9}}, "
                "{$10, $11, $12, $13};",
                "=f,=f,=f,=f,r,r,r,r,r,r,f,f,f,f",
            )
            ins = [builder.bitcast(v, _I32) for v in args[:6]] + list(args[6:])
            d = builder.call(asm, ins)
            items = [builder.extract_value(d, k) for k in range(4)]
            return context.make_tuple(builder, result, items)

        return codegen

    @intrinsic
    def tf32(typingctx, x):
        if x != types.float32:
            return None

        def codegen(context, builder, sig, args):
            asm = ir.InlineAsm(ir.FunctionType(_I32, [_F32]), "cvt.rna.tf32.f32 $0, $1;", "=r,f")
            return builder.bitcast(builder.call(asm, [args[0]]), _F32)

        return types.float32(x), codegen

    @intrinsic
    def mma_tf32(typingctx, a0, a1, a2, a3, b0, b1, c0, c1, c2, c3):
        operands = (a0, a1, a2, a3, b0, b1, c0, c1, c2, c3)
        if any(v != types.float32 for v in operands):
            return None
        result = types.UniTuple(types.float32, 4)

        codegen = _mma_codegen("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", result)
        return result(*operands), codegen

    @intrinsic
    def bf16x2(typingctx, hi, lo):
        if hi != types.float32 or lo != types.float32:
            return None

        def codegen(context, builder, sig, args):
            fnty = ir.FunctionType(_I32, [_F32, _F32])
            asm = ir.InlineAsm(fnty, "cvt.rn.bf16x2.f32 $0, $1, $2;", "=r,f,f")
            return builder.call(asm, list(args))

        return types.uint32(hi, lo), codegen

    @intrinsic
    def mma_bf16(typingctx, a0, a1, a2, a3, b0, b1, c0, c1, c2, c3):
        packed, accumulators = (a0, a1, a2, a3, b0, b1), (c0, c1, c2, c3)
        if any(v != types.uint32 for v in packed) or any(v != types.float32 for v in accumulators):
            return None
        result = types.UniTuple(types.float32, 4)

        codegen = _mma_codegen("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", result)
        return result(*packed, *accumulators), codegen

    # A stable identity for numba's on-disk cache (see wide_loads.load4).
    tf32._set_uuid(f"{__name__}.tf32")
    mma_tf32._set_uuid(f"{__name__}.mma_tf32")
    bf16x2._set_uuid(f"{__name__}.bf16x2")
    mma_bf16._set_uuid(f"{__name__}.mma_bf16")
