"""Hopper's warpgroup tensor-core instructions (wgmma, sm_90a) from numba: the PTX that numba-cuda
has no API for, each emitted as LLVM inline assembly from an `@intrinsic`, with Python stand-ins
for the CUDA simulator that model the hardware closely enough that a wrong descriptor or swizzle
fails there too. It covers one shared-memory layout only (both operands K-major, 128-byte
swizzle, fp32 accumulators); operands in registers, the other swizzles, transposed (MN-major)
operands, TMA and mbarriers are left out.

    mma_async(precision, n)    wgmma.mma_async.sync.aligned.m64n{n}k16.f32.bf16.bf16, or
                               .m64n{n}k8.f32.tf32.tf32: D (64 x n) += A (64 x k) @ B^T, where
                               A and B^T (n x k) are read from shared memory through descriptors;
                               returns a function (acc, desc_a, desc_b, scale_d) -> acc, acc a
                               tuple of n/2 float32 (this thread's part of D)
    fence(), commit(), wait(n) wgmma.fence / commit_group / wait_group n (PTX ISA "wgmma.fence",
                               "wgmma.commit_group", "wgmma.wait_group")
    fence_proxy_async()        fence.proxy.async.shared::cta: shared memory written by ordinary
                               stores or cp.async becomes visible to the tensor cores (the
                               "async proxy"; PTX ISA "Memory Consistency Model: Proxies")
    copy16(dst, i, src, j, inside)
                               cp.async.cg.shared.global of 16 bytes between two arrays of 4-byte
                               words (async_copy.copy16 takes float32 only; bf16 pairs travel as
                               uint32), zeros where `inside` is false
    smem_address(arr)          the shared-window address of a shared array (cvta.to.shared)
    descriptor(address)        the 64-bit matrix descriptor of a K-major, 128B-swizzled tile
    swizzle128(row, chunk)     where the tile stores 16-byte chunk `chunk` of row `row`
                               (both also as plain Python: matrix_descriptor, swizzled_chunk)

**A warpgroup** is 4 consecutive warps (128 threads, the first warp's index a multiple of 4).
One wgmma multiplies a 64-row A by an n-row B^T (n a multiple of 8 up to 256) over k = 16
bf16 or 8 tf32 values: 32 bytes of each row. The instruction is asynchronous: `commit` closes a
group of issued wgmmas, `wait(n)` blocks until at most n groups are in flight; the accumulator
registers must not be touched meanwhile, and `fence` must precede the first wgmma (and any after
the registers were touched otherwise). Shared memory the wgmma reads must stay unchanged until
the group that reads it has been waited for.

**The accumulator fragment** (PTX ISA "Register Fragments", figure "WGMMA .m64nNk16 register
fragment layout for accumulator matrix D"; on an H100 the GEMM built on it matches float64 NumPy):
thread t of the warpgroup, in warp w = t // 32 with g = (t % 32) // 4 and q = t % 4, holds for
every 8 columns j the mma.sync C layout of its warp's 16 rows:
    acc[4j] = D[16w + g, 8j + 2q]        acc[4j + 1] = D[16w + g, 8j + 2q + 1]
    acc[4j + 2] = D[16w + g + 8, 8j + 2q]  acc[4j + 3] = D[16w + g + 8, 8j + 2q + 1]

**The tile layout in shared memory: K-major with the 128-byte swizzle.** Each row of a tile (a
row of A, or a column of B, i.e. a row of B^T) keeps 128 bytes of K contiguous: 64 bf16 or 32
tf32. Rows follow each other every 128 bytes, so 8 rows make a 1024-byte "swizzle atom". The
tensor cores read an operand as core matrices of 8 rows x 16 bytes (the same 16 bytes of K from
8 consecutive rows); stored plainly, those 8 pieces, 128 bytes apart, would all sit in the same
4 of shared memory's 32 banks: an 8-way conflict. The swizzle spreads them: within each atom the
16-byte chunk c of row r is stored at chunk c XOR r, so the 8 pieces land in 8 bank groups. The hardware does not know the
tile's origin: it applies the XOR to address bits (bits 4-6 XOR bits 7-9 of the byte address,
CUTLASS's Swizzle<3,4,3> in cute/atom/mma_traits_sm90_gmma.hpp), so the tile must start on a
1024-byte boundary for "row r of the tile" and "address bits 7-9" to agree. A wgmma's k slice
starts 32 bytes further along the same rows for each step of k: the descriptor's start address
moves by 32 bytes, the address bits 7-9 stay, and the same XOR finds the chunks.

**The descriptor** (PTX ISA "Matrix Descriptor Format", section "Asynchronous Warpgroup Level
Matrix Shared Memory Layout"; CUTLASS's GmmaDescriptor in cute/arch/mma_sm90_desc.hpp). 64 bits:
    bits  0-13  start address >> 4 (shared addresses are below 256 KB: 18 bits, 16-aligned)
    bits 16-29  leading byte offset >> 4: the step between 8x16-byte core matrices along K.
                With the 128-byte swizzle a wgmma's 32 bytes of K never leave one row, so it
                is unused: 16 bytes (1), as CUTLASS writes it
    bits 32-45  stride byte offset >> 4: the step between groups of 8 rows = one atom, 1024
    bits 49-51  base offset: for tiles not on a 1024-byte boundary; 0 here (they all are)
    bits 62-63  layout: 0 none, 1 = 128-byte swizzle, 2 = 64-byte, 3 = 32-byte
So element (r, k) of the operand sits at byte  start + (r // 8) * 1024 + (r % 8) * 128 +
k * size, after the XOR above (`operand_address` below is this model, used by the stand-in).

Under the simulator each CUDA thread is a Python thread. `mma_async`'s stand-in is the
instruction written out as a warpgroup-wide exchange (as tensor_cores.mma_tf32's is for a warp):
the 128 threads post their accumulators and descriptors; the last to arrive reads A and B from
the shared arrays through `operand_address` (the hardware's address model, swizzle and all),
multiplies in float64 and hands each thread its part. `smem_address` hands out made-up shared
addresses that are deliberately not 1024-aligned, so a kernel that forgets to align its tiles
fails in the simulator as it would on the GPU. wgmma's asynchrony is not modelled: the stand-in
computes at once, so a missing `wait` is only caught on real hardware.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import cuda, uint32, uint64

from phase4_cuda.async_copy import commit as copy_commit
from phase4_cuda.async_copy import wait as copy_wait
from phase4_cuda.device import simulated

__all__ = [
    "ATOM_BYTES",
    "K_PER_MMA",
    "ROW_BYTES",
    "accumulator_cell",
    "commit",
    "copy16",
    "copy_commit",
    "copy_wait",
    "decode_descriptor",
    "descriptor",
    "fence",
    "fence_proxy_async",
    "matrix_descriptor",
    "mma_async",
    "operand_address",
    "smem_address",
    "swizzle128",
    "swizzled_chunk",
    "wait",
    "zeros",
]

ROW_BYTES = 128  #: bytes of K per row of a tile: the span of the 128-byte swizzle
ATOM_BYTES = 8 * ROW_BYTES  #: 8 rows, the period of the swizzle: tiles start on this boundary
LEADING_BYTES = 16  #: unused by this layout (see the docstring); 16 as CUTLASS writes it
LAYOUT_SWIZZLE_128B = 1
#: K per instruction and bytes per element, by precision: 32 bytes of K either way
K_PER_MMA = {"bf16": 16, "tf32": 8}
ELEMENT_BYTES = {"bf16": 2, "tf32": 4}
WARPGROUP = 128


def swizzled_chunk(row, chunk):
    """The 16-byte chunk, counted from a 1024-aligned tile's start, where chunk `chunk` (0-7) of
    row `row` is stored: rows 128 bytes apart, and within each group of 8 rows chunk c of row r
    at c XOR (r % 8). (Plain Python; `swizzle128` is the same on the device.)"""
    return row * uint32(8) + (chunk ^ (row & uint32(7)))


def matrix_descriptor(address):
    """The matrix descriptor of a K-major, 128B-swizzled tile starting at shared `address`
    (uint32, 1024-aligned for the tile, plus 32 bytes per step of k): see the table above.
    (Plain Python; `descriptor` is the same on the device.)"""
    start = (uint64(address) & uint64(0x3FFFF)) >> uint64(4)
    leading = uint64(LEADING_BYTES >> 4) << uint64(16)
    stride = uint64(ATOM_BYTES >> 4) << uint64(32)
    return start | leading | stride | (uint64(LAYOUT_SWIZZLE_128B) << uint64(62))


# In the simulator the plain functions themselves: that spares each call the simulator's swap
# of the `cuda` module (they need none).
swizzle128 = (
    swizzled_chunk if simulated() else cuda.jit(device=True, inline="always")(swizzled_chunk)
)
descriptor = (
    matrix_descriptor if simulated() else cuda.jit(device=True, inline="always")(matrix_descriptor)
)


# ------------------------------------------------------------------------------------------------
# The hardware model: plain Python, used by the stand-in and by the tests
def decode_descriptor(desc: int) -> dict:
    """The fields of a matrix descriptor, in bytes (see the table in the module docstring)."""
    desc = int(desc)
    field = lambda lo, width: (desc >> lo) & ((1 << width) - 1)  # noqa: E731
    return {
        "start": field(0, 14) << 4,
        "leading": field(16, 14) << 4,
        "stride": field(32, 14) << 4,
        "base_offset": field(49, 3),
        "layout": field(62, 2),
    }


#: bytes of K per row before the next core matrix, and XOR width in bits, by layout (PTX ISA
#: "Shared Memory Matrix Layout": none, 128-, 64-, 32-byte swizzle)
_SPAN = {0: (16, 0), 1: (128, 3), 2: (64, 2), 3: (32, 1)}


def operand_address(fields: dict, row, k_byte):
    """The shared-memory byte address from which a wgmma reads byte `k_byte` along K of row
    `row` of a K-major operand (NumPy arrays broadcast): core matrices of 8 rows, rows `span`
    bytes apart, `stride` between groups of 8 rows, `leading` between spans of K, then the
    swizzle's XOR of address bits 4.. with bits 7.. (CUTLASS Swizzle<b,4,3>)."""
    span, bits = _SPAN[fields["layout"]]
    if fields["base_offset"]:
        raise NotImplementedError("the model covers tiles on the swizzle's 1024-byte boundary")
    row, k_byte = np.asarray(row), np.asarray(k_byte)
    addr = (
        fields["start"] + (row // 8) * fields["stride"] + (k_byte // span) * fields["leading"]
        + (row % 8) * span + k_byte % span
    )  # fmt: skip
    mask = (1 << bits) - 1
    return addr ^ (((addr >> 7) & mask) << 4)


def accumulator_cell(thread, register):
    """(row, column) of D held by `register` of warpgroup `thread` (see the docstring)."""
    warp, lane = divmod(thread, 32)
    g, q = divmod(lane, 4)
    j, h = divmod(register, 4)
    return 16 * warp + g + 8 * (h // 2), 8 * j + 2 * q + h % 2


def _zeros_value(n: int) -> tuple:
    return (np.float32(0.0),) * n


if simulated():
    from numba.cuda.simulator.kernel import _get_kernel_context

    _lock = threading.Lock()
    FIRST_ADDRESS = 0x410  #: the first made-up shared address: 16-aligned, not 1024-aligned

    class _Launch:
        """What the stand-ins know about the running launch: the shared arrays handed out
        addresses (by their memory) and the exchanges of each block's warpgroups."""

        def __init__(self):
            self.windows = []  # (host pointer, shared address, bytes of the array)
            self.next = FIRST_ADDRESS
            self.groups = {}

        def address_of(self, arr: np.ndarray) -> int:
            ptr = arr.__array_interface__["data"][0]
            for host, base, _ in self.windows:
                if host == ptr:
                    return base
            base = self.next
            self.windows.append((ptr, base, arr.reshape(-1).view(np.uint8)))
            self.next = -(-(base + arr.nbytes) // ATOM_BYTES) * ATOM_BYTES + FIRST_ADDRESS
            return base

        def read(self, addresses: np.ndarray, size: int) -> np.ndarray:
            """Little-endian `size`-byte words at shared `addresses` (all in one array)."""
            lo, hi = int(addresses.min()), int(addresses.max()) + size
            for _, base, data in self.windows:
                if base <= lo and hi <= base + data.size:
                    offs = addresses - base
                    return sum(data[offs + b].astype(np.uint32) << (8 * b) for b in range(size))
            raise IndexError(f"shared addresses {lo:#x}..{hi:#x} are outside every shared array")

    def _launch() -> _Launch:
        context = _get_kernel_context()
        with _lock:
            if not hasattr(context, "_wgmma_launch"):
                context._wgmma_launch = _Launch()
            return context._wgmma_launch

    def _values(words: np.ndarray, precision: str) -> np.ndarray:
        """The operand values of raw words: bf16 is the upper half of a float32; tf32 a
        float32 cut to 10 mantissa bits (the model truncates; the staging pass rounds to tf32
        first, so the GEMM never shows the difference)."""
        bits = words.astype(np.uint32) << 16 if precision == "bf16" else words & 0xFFFFE000
        return bits.astype(np.uint32).view(np.float32).astype(np.float64)

    class _Warpgroup:
        """One warpgroup's exchange for one instruction shape: threads post their accumulators
        and descriptors; the last to arrive computes D (the barrier's action); each takes its
        part. The barriers time out, so a kernel that calls it from fewer threads fails."""

        def __init__(self, launch: _Launch, precision: str, n: int):
            self.launch, self.precision, self.n = launch, precision, n
            self.acc = np.zeros((WARPGROUP, n // 2), np.float32)
            self.descs = np.zeros((WARPGROUP, 3), np.uint64)
            cells = [accumulator_cell(t, r) for t in range(WARPGROUP) for r in range(n // 2)]
            self.cells = tuple(np.array(cells).T)
            self.arrive = threading.Barrier(WARPGROUP, action=self._multiply, timeout=60)
            self.leave = threading.Barrier(WARPGROUP, timeout=60)

        def operand(self, desc: int, rows: int) -> np.ndarray:
            size = ELEMENT_BYTES[self.precision]
            r = np.arange(rows)[:, None]
            k_byte = np.arange(0, K_PER_MMA[self.precision] * size, size)[None, :]
            addresses = operand_address(decode_descriptor(desc), r, k_byte)
            return _values(self.launch.read(addresses, size), self.precision)

        def _multiply(self):
            if not (self.descs == self.descs[0]).all():
                raise ValueError("wgmma: the threads of a warpgroup passed different operands")
            desc_a, desc_b, scale_d = (int(v) for v in self.descs[0])
            d = self.operand(desc_a, 64) @ self.operand(desc_b, self.n).T
            if scale_d:
                c = np.zeros((64, self.n))
                c[self.cells] = self.acc.ravel()
                d += c
            self.d = d.astype(np.float32)[self.cells].reshape(WARPGROUP, self.n // 2)

    def _exchange(precision, n, acc, desc_a, desc_b, scale_d):
        # the simulator's thread knows its indices (plain functions here, no module swap)
        thread = threading.current_thread()
        t, b, dim = thread.threadIdx, thread.blockIdx, _get_kernel_context().blockDim
        linear = t.x + dim.x * (t.y + dim.y * t.z)
        launch = _launch()
        key = (b.x, b.y, b.z, linear // WARPGROUP, precision, n)
        with _lock:
            group = launch.groups.get(key)
            if group is None:
                group = launch.groups[key] = _Warpgroup(launch, precision, n)
        me = linear % WARPGROUP
        group.acc[me] = acc
        group.descs[me] = (int(desc_a), int(desc_b), int(scale_d != 0))
        group.arrive.wait()
        mine = tuple(np.float32(v) for v in group.d[me])
        group.leave.wait()
        return mine

    def mma_async(precision: str, n: int):
        if precision not in K_PER_MMA or n % 8 or not 8 <= n <= 256:
            raise ValueError(f"no wgmma for precision {precision!r} and n = {n}")

        def mma(acc, desc_a, desc_b, scale_d):
            return _exchange(precision, n, acc, desc_a, desc_b, scale_d)

        return mma

    def zeros(n: int):
        return lambda: _zeros_value(n)

    def smem_address(arr):
        return uint32(_launch().address_of(arr))

    def copy16(dst, i, src, j, inside):
        # (plain functions, as in wide_loads: no `cuda` inside, so no module swap per call)
        if inside:
            for r in range(4):
                dst[i + r] = src[j + r]
        else:
            for r in range(4):
                dst[i + r] = 0

    def fence():
        pass

    def commit():
        pass

    def wait(pending):
        pass

    def fence_proxy_async():
        pass

else:
    from llvmlite import ir
    from numba.cuda import cgutils, types
    from numba.cuda.extending import intrinsic

    _I32, _I64, _F32 = ir.IntType(32), ir.IntType(64), ir.FloatType()

    def _address(context, builder, array_type, array, index_type, index):
        """The generic 64-bit address of array[index]."""
        data = context.make_array(array_type)(context, builder, array)
        i = context.cast(builder, index, index_type, types.intp)
        ptr = cgutils.get_item_pointer(context, builder, array_type, data, [i])
        return builder.ptrtoint(ptr, _I64)

    def _statement(name: str, text: str):
        """An intrinsic that emits one PTX statement with no operands, ordered against every
        memory access around it (side effect, memory clobber)."""

        def typer(typingctx):
            def codegen(context, builder, sig, args):
                fnty = ir.FunctionType(ir.VoidType(), [])
                builder.call(ir.InlineAsm(fnty, text, "~{memory}", side_effect=True), [])
                return context.get_dummy_value()

            return types.void(), codegen

        typer.__name__ = name
        return intrinsic(typer)

    fence = _statement("fence", "wgmma.fence.sync.aligned;")
    commit = _statement("commit", "wgmma.commit_group.sync.aligned;")
    fence_proxy_async = _statement("fence_proxy_async", "fence.proxy.async.shared::cta;")

    @intrinsic
    def wait(typingctx, pending):
        if not isinstance(pending, types.IntegerLiteral):
            return None  # numba retries with the literal value
        text = f"wgmma.wait_group.sync.aligned {pending.literal_value};"

        def codegen(context, builder, sig, args):
            fnty = ir.FunctionType(ir.VoidType(), [])
            builder.call(ir.InlineAsm(fnty, text, "~{memory}", side_effect=True), [])
            return context.get_dummy_value()

        return types.void(pending), codegen

    @intrinsic
    def smem_address(typingctx, arr):
        if not isinstance(arr, types.Array):
            return None

        def codegen(context, builder, sig, args):
            data = context.make_array(sig.args[0])(context, builder, args[0]).data
            asm = ir.InlineAsm(ir.FunctionType(_I64, [_I64]), "cvta.to.shared.u64 $0, $1;", "=l,l")
            return builder.trunc(builder.call(asm, [builder.ptrtoint(data, _I64)]), _I32)

        return types.uint32(arr), codegen

    @intrinsic
    def copy16(typingctx, dst, i, src, j, inside):
        words = (types.uint32, types.float32)
        if not (isinstance(dst, types.Array) and isinstance(src, types.Array)):
            return None
        if dst.dtype != src.dtype or dst.dtype not in words or inside != types.boolean:
            return None
        text = (
            "{ .reg .u64 nnf_dst;\n cvta.to.shared.u64 nnf_dst, $0;\n"
            " cp.async.cg.shared.global [nnf_dst], [$1], 16, $2; }"
        )

        def codegen(context, builder, sig, args):
            dst_t, i_t, src_t, j_t, _ = sig.args
            to = _address(context, builder, dst_t, args[0], i_t, args[1])
            frm = _address(context, builder, src_t, args[2], j_t, args[3])
            size = builder.select(args[4], _I32(16), _I32(0))  # 0: read nothing, fill zeros
            fnty = ir.FunctionType(ir.VoidType(), [_I64, _I64, _I32])
            asm = ir.InlineAsm(fnty, text, "l,l,r,~{memory}", side_effect=True)
            builder.call(asm, [to, frm, size])
            return context.get_dummy_value()

        return types.void(dst, i, src, j, inside), codegen

    _MMA_CACHE: dict = {}

    def mma_async(precision: str, n: int):
        """The intrinsic of one wgmma shape (made once per shape): the n/2 accumulators go in
        and come out as "+f" pairs (an output and its tied input), the descriptors as 64-bit
        "l", scale_d as a predicate set from a register (0: D = A @ B^T, ignoring acc)."""
        if precision not in K_PER_MMA or n % 8 or not 8 <= n <= 256:
            raise ValueError(f"no wgmma for precision {precision!r} and n = {n}")
        if (precision, n) in _MMA_CACHE:
            return _MMA_CACHE[precision, n]
        regs = n // 2
        outs = ", ".join(f"${i}" for i in range(regs))
        kind = "k16.f32.bf16.bf16" if precision == "bf16" else "k8.f32.tf32.tf32"
        # bf16 takes two more immediates: transpose A, transpose B (0: both K-major)
        tail = "1, 1, 0, 0" if precision == "bf16" else "1, 1"
        text = (
            f"{{ .reg .pred p; setp.ne.b32 p, ${2 * regs + 2}, 0;\n"
            f"wgmma.mma_async.sync.aligned.m64n{n}{kind} {{{outs}}}, ${2 * regs}, "
            f"${2 * regs + 1}, p, {tail}; }}"
        )
        constraints = ",".join(
            ["=f"] * regs + [str(i) for i in range(regs)] + ["l", "l", "r", "~{memory}"]
        )
        result = types.UniTuple(types.float32, regs)

        def typer(typingctx, acc, desc_a, desc_b, scale_d):
            if acc != result or desc_a != types.uint64 or desc_b != types.uint64:
                return None
            if not isinstance(scale_d, types.Integer):
                return None

            def codegen(context, builder, sig, args):
                fnty = ir.FunctionType(
                    ir.LiteralStructType([_F32] * regs), [_F32] * regs + [_I64, _I64, _I32]
                )
                asm = ir.InlineAsm(fnty, text, constraints, side_effect=True)
                scale = context.cast(builder, args[3], sig.args[3], types.int32)
                ins = [builder.extract_value(args[0], i) for i in range(regs)] + [*args[1:3], scale]
                d = builder.call(asm, ins)
                items = [builder.extract_value(d, i) for i in range(regs)]
                return context.make_tuple(builder, result, items)

            return result(acc, desc_a, desc_b, scale_d), codegen

        typer.__name__ = f"wgmma_{precision}_n{n}"
        mma = intrinsic(typer)
        mma._set_uuid(f"{__name__}.mma_async.{precision}.{n}")  # see wide_loads.load4
        _MMA_CACHE[precision, n] = mma
        return mma

    def zeros(n: int):
        """An intrinsic making a tuple of n float32 zeros (the accumulators' start)."""
        if ("zeros", n) in _MMA_CACHE:
            return _MMA_CACHE["zeros", n]
        result = types.UniTuple(types.float32, n)

        def typer(typingctx):
            def codegen(context, builder, sig, args):
                return context.make_tuple(builder, result, [ir.Constant(_F32, 0.0)] * n)

            return result(), codegen

        typer.__name__ = f"zeros{n}"
        make = intrinsic(typer)
        make._set_uuid(f"{__name__}.zeros.{n}")
        _MMA_CACHE["zeros", n] = make
        return make

    # A stable identity for numba's on-disk cache (see wide_loads.load4).
    for _name in ("fence", "commit", "fence_proxy_async", "wait", "smem_address", "copy16"):
        globals()[_name]._set_uuid(f"{__name__}.{_name}")
