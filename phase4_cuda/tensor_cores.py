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

Under the simulator each CUDA thread is a Python thread: `mma_tf32` there is the same
instruction written out, a warp-wide exchange. Every lane posts its fragments, waits for the
other 31 (a barrier per warp), rebuilds A and B, computes its own four values of D from
TF32-rounded inputs in float64 and rounds them to float32, and waits again before the exchange
can be reused. It needs what the hardware needs: all 32 lanes of the warp call it together.
"""

from __future__ import annotations

import struct
import threading

from numba import cuda

from phase4_cuda.device import simulated

__all__ = ["FRAGMENT", "mma_tf32", "tf32"]

#: where lane l's fragment values sit in A (16x8), B (8x8) and C (16x8), as described above
FRAGMENT = {
    "A": lambda g, t: ((g, t), (g + 8, t), (g, t + 4), (g + 8, t + 4)),
    "B": lambda g, t: ((t, g), (t + 4, g)),
    "C": lambda g, t: ((g, 2 * t), (g, 2 * t + 1), (g + 8, 2 * t), (g + 8, 2 * t + 1)),
}


def tf32_bits(x: float) -> float:
    """x rounded to TF32 the way cvt.rna does: to nearest, ties away from zero, keeping 10 of
    float32's 23 mantissa bits (the exponent stays float32's); NaN and infinities unchanged."""
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    if bits & 0x7F800000 == 0x7F800000:
        return x
    bits = (bits + 0x1000) & 0xFFFFE000  # add half of the last kept bit to the magnitude, cut
    return struct.unpack("<f", struct.pack("<I", bits))[0]


if simulated():
    _lock = threading.Lock()
    _warps: dict = {}  # (block, warp) -> [barrier, the 32 lanes' fragments]

    @cuda.jit(device=True)
    def tf32(x):
        return tf32_bits(float(x))

    @cuda.jit(device=True)
    def mma_tf32(a0, a1, a2, a3, b0, b1, c0, c1, c2, c3):
        t_idx, b_idx, b_dim = cuda.threadIdx, cuda.blockIdx, cuda.blockDim
        linear = t_idx.x + b_dim.x * (t_idx.y + b_dim.y * t_idx.z)
        lane, key = linear % 32, (b_idx.x, b_idx.y, b_idx.z, linear // 32)
        with _lock:
            barrier, posted = _warps.setdefault(key, (threading.Barrier(32), [None] * 32))
        posted[lane] = ([tf32_bits(float(v)) for v in (a0, a1, a2, a3)],
                        [tf32_bits(float(v)) for v in (b0, b1)])  # fmt: skip
        barrier.wait()
        A = [[0.0] * 8 for _ in range(16)]
        B = [[0.0] * 8 for _ in range(8)]
        for other, (a_vals, b_vals) in enumerate(posted):
            g, t = divmod(other, 4)
            for (i, k), v in zip(FRAGMENT["A"](g, t), a_vals, strict=True):
                A[i][k] = v
            for (k, j), v in zip(FRAGMENT["B"](g, t), b_vals, strict=True):
                B[k][j] = v
        barrier.wait()  # every lane has read the fragments: they may be posted again
        g, t = divmod(lane, 4)
        out = []
        for (i, j), c in zip(FRAGMENT["C"](g, t), (c0, c1, c2, c3), strict=True):
            total = float(c) + sum(A[i][k] * B[k][j] for k in range(8))
            out.append(struct.unpack("<f", struct.pack("<f", total))[0])  # to float32
        return out[0], out[1], out[2], out[3]

else:
    from llvmlite import ir
    from numba.cuda import types
    from numba.cuda.extending import intrinsic

    _F32, _I32 = ir.FloatType(), ir.IntType(32)

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

        def codegen(context, builder, sig, args):
            # A and B go in as .b32 registers ("r": their float32 bits, already TF32-rounded by
            # the caller), C and D as .f32 ("f"); D comes back as a struct of four floats
            fnty = ir.FunctionType(ir.LiteralStructType([_F32] * 4), [_I32] * 6 + [_F32] * 4)
            asm = ir.InlineAsm(
                fnty,
                "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
                "{$0, $1, $2, $3}, {$4, $5, $6, $7}, {$8, $9}, {$10, $11, $12, $13};",
                "=f,=f,=f,=f,r,r,r,r,r,r,f,f,f,f",
            )
            ins = [builder.bitcast(v, _I32) for v in args[:6]] + list(args[6:])
            d = builder.call(asm, ins)
            items = [builder.extract_value(d, k) for k in range(4)]
            return context.make_tuple(builder, result, items)

        return result(*operands), codegen

    # A stable identity for numba's on-disk cache (see wide_loads.load4).
    tf32._set_uuid(f"{__name__}.tf32")
    mma_tf32._set_uuid(f"{__name__}.mma_tf32")
