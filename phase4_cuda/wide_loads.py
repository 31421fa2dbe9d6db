"""`load4(arr, i)`: arr[i], arr[i+1], arr[i+2], arr[i+3] of a float32 array in ONE 128-bit load.

numba has no float4 type for arrays, so a thread reading four neighbouring floats issues four
32-bit loads. This intrinsic (numba's extension API, a few lines of LLVM IR) loads them as one
`<4 x float>`; from shared memory that is one `ld.shared.v4.f32` (LDS.128 in SASS), which moves
four times the data per instruction. The caller guarantees what the hardware requires: `i` is a
multiple of 4 and the array is 16-byte aligned (`cuda.shared.array(..., alignment=16)`).

Under the CUDA simulator it is plain indexing (the simulator cannot run LLVM IR), and shared
arrays there take no alignment: kernels pass `SHARED_ALIGN`, which is None in the simulator.
"""

from __future__ import annotations

from phase4_cuda.device import simulated

__all__ = ["SHARED_ALIGN", "load4"]

if simulated():
    SHARED_ALIGN = None

    def load4(arr, i):
        return arr[i], arr[i + 1], arr[i + 2], arr[i + 3]

else:
    from llvmlite import ir
    from numba.cuda import cgutils, types
    from numba.cuda.extending import intrinsic

    SHARED_ALIGN = 16

    @intrinsic
    def load4(typingctx, arr, i):
        if not (isinstance(arr, types.Array) and arr.dtype == types.float32):
            return None
        if not isinstance(i, types.Integer):
            return None
        result = types.UniTuple(types.float32, 4)

        def codegen(context, builder, sig, args):
            arr_type, i_type = sig.args
            array = context.make_array(arr_type)(context, builder, args[0])
            index = context.cast(builder, args[1], i_type, types.intp)
            ptr = cgutils.get_item_pointer(context, builder, arr_type, array, [index])
            vec_ptr = builder.bitcast(ptr, ir.VectorType(ir.FloatType(), 4).as_pointer())
            vec = builder.load(vec_ptr, align=16)
            items = [builder.extract_element(vec, ir.IntType(32)(k)) for k in range(4)]
            return context.make_tuple(builder, result, items)

        return result(arr, i), codegen

    # numba's on-disk cache keys a kernel by a hash of its closure, which reaches this intrinsic
    # through the device functions that call it. An intrinsic pickles with a random uuid, which
    # would give every process a new key (no cache hit, ever); a fixed one keeps the key stable.
    load4._set_uuid(f"{__name__}.load4")
