"""Copies from global to shared memory that do not pass through registers: Ampere's cp.async,
emitted as inline PTX from numba `@intrinsic`s (numba-cuda has no API for it), with a Python
stand-in for the CUDA simulator.

    copy16(dst, i, src, j, inside)   cp.async.cg.shared.global: dst[i:i+4] = src[j:j+4], 16
                                     bytes, or four zeros where `inside` is false (the source is
                                     then not read); i and j multiples of 4, both arrays 16-byte
                                     aligned (dst a shared array, src a global one)
    copy4(dst, i, src, j, inside)    cp.async.ca.shared.global: dst[i] = src[j] (or 0), 4 bytes:
                                     for shapes whose rows are not multiples of 4 floats
    commit()                         cp.async.commit_group: the copies issued since the last
                                     commit form one group
    wait(pending)                    cp.async.wait_group: wait until at most `pending` groups
                                     (a constant) of this thread's copies are still in flight

A copy is issued and the thread moves on: the data lands in shared memory while the warp does
other work. The staged loads of the tensor-core rungs 8 and 9 go global -> registers -> shared,
and the registers that hold the next tile in flight are registers the accumulators cannot use;
with cp.async a block keeps several tiles in flight (a pipeline of stages) at no register cost.
`wait` covers only the calling thread's own copies: a barrier after it makes every thread's copies
visible to the block.

Under the simulator the copy happens at once (in order, so every wait is already satisfied).
"""

from __future__ import annotations

from numba import cuda

from phase4_cuda.device import simulated

__all__ = ["commit", "copy4", "copy16", "wait"]

if simulated():

    @cuda.jit(device=True)
    def copy16(dst, i, src, j, inside):
        for r in range(4):
            dst[i + r] = src[j + r] if inside else 0.0

    @cuda.jit(device=True)
    def copy4(dst, i, src, j, inside):
        dst[i] = src[j] if inside else 0.0

    @cuda.jit(device=True)
    def commit():
        pass

    @cuda.jit(device=True)
    def wait(pending):
        pass

else:
    from llvmlite import ir
    from numba.cuda import cgutils, types
    from numba.cuda.extending import intrinsic

    _I32, _I64 = ir.IntType(32), ir.IntType(64)

    def _address(context, builder, array_type, array, index_type, index):
        """The generic 64-bit address of array[index]."""
        data = context.make_array(array_type)(context, builder, array)
        i = context.cast(builder, index, index_type, types.intp)
        ptr = cgutils.get_item_pointer(context, builder, array_type, data, [i])
        return builder.ptrtoint(ptr, _I64)

    def _copy(cache: str, width: int):
        """An intrinsic issuing one cp.async of `width` bytes; `inside` false reads 0 bytes of
        the source (src-size 0) and fills the destination with zeros."""
        text = (
            "{ .reg .u64 nnf_dst;\n"
            " cvta.to.shared.u64 nnf_dst, $0;\n"
            f" cp.async.{cache}.shared.global [nnf_dst], [$1], {width}, $2; }}"
        )

        def typer(typingctx, dst, i, src, j, inside):
            arrays = (dst, src)
            if not all(isinstance(x, types.Array) and x.dtype == types.float32 for x in arrays):
                return None
            if not (isinstance(i, types.Integer) and isinstance(j, types.Integer)):
                return None
            if inside != types.boolean:
                return None

            def codegen(context, builder, sig, args):
                dst_t, i_t, src_t, j_t, _ = sig.args
                to = _address(context, builder, dst_t, args[0], i_t, args[1])
                frm = _address(context, builder, src_t, args[2], j_t, args[3])
                size = builder.select(args[4], _I32(width), _I32(0))
                fnty = ir.FunctionType(ir.VoidType(), [_I64, _I64, _I32])
                asm = ir.InlineAsm(fnty, text, "l,l,r,~{memory}", side_effect=True)
                builder.call(asm, [to, frm, size])
                return context.get_dummy_value()

            return types.void(dst, i, src, j, inside), codegen

        typer.__name__ = f"copy{width}"
        return typer

    copy16 = intrinsic(_copy("cg", 16))
    copy4 = intrinsic(_copy("ca", 4))

    @intrinsic
    def commit(typingctx):
        def codegen(context, builder, sig, args):
            fnty = ir.FunctionType(ir.VoidType(), [])
            asm = ir.InlineAsm(fnty, "cp.async.commit_group;", "~{memory}", side_effect=True)
            builder.call(asm, [])
            return context.get_dummy_value()

        return types.void(), codegen

    @intrinsic
    def wait(typingctx, pending):
        if not isinstance(pending, types.IntegerLiteral):
            return None  # numba retries with the literal value
        n = pending.literal_value

        def codegen(context, builder, sig, args):
            fnty = ir.FunctionType(ir.VoidType(), [])
            text = f"cp.async.wait_group {n};"
            asm = ir.InlineAsm(fnty, text, "~{memory}", side_effect=True)
            builder.call(asm, [])
            return context.get_dummy_value()

        return types.void(pending), codegen

    # A stable identity for numba's on-disk cache (see wide_loads.load4).
    copy16._set_uuid(f"{__name__}.copy16")
    copy4._set_uuid(f"{__name__}.copy4")
    commit._set_uuid(f"{__name__}.commit")
    wait._set_uuid(f"{__name__}.wait")
