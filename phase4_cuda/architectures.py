"""`python -m phase4_cuda.architectures`: every kernel Phase 4 runs, compiled for several GPU
generations without a GPU, with the registers and spills of each: what a Colab T4 (compute
capability 7.5), an A100 (8.0), an RTX 30 series card (8.6), an RTX 40 series card or L4 (8.9)
and an H100 (9.0) would run.

    python -m phase4_cuda.architectures [--cc 7.5 8.0 8.6 8.9 9.0] [--json FILE] [--jobs N]

numba-cuda turns each kernel into PTX with NVVM, and nvJitLink assembles the PTX for the
architecture as the driver would, saying how many registers each thread uses and how many bytes
spill to local memory. Both come as wheels (`pip install -e '.[cuda12]'`); no driver is needed.
Each kernel is compiled with the options its `cuda.jit` gave it (fastmath, launch bounds, a cap
on registers), and for 9.0 as sm_90a, as numba compiles on an H100. numba's typing and lowering
to LLVM IR, most of the time, run once a kernel for all five (the IR is the same from 7.5 on),
NVVM and nvJitLink once a kernel and GPU, and the kernels are shared among one process a core.

The kernels are the ones the project launches, typed from NumPy stand-ins of their arguments:
every rung of the matmul ladder at each tile shape its tables may choose (tiles.py; the wgmma
rungs 12-16 with their staging passes), rungs 6, 7, 10 and 11 with each set of options the kernel
check checks (the tensor-core rungs with both copy widths); the dense layer's softmax; vector
addition (and the lesson's unguarded kernel); hello. Phase 5's kernels are listed by Phase 5
(`python -m phase5_training.architectures`, built on this module). A kernel whose precision or
instructions need another GPU (matmul.NEEDS_CC: TF32 and BF16 from 8.0 on, wgmma on 9.0 alone)
is not built for it: the table says "needs 8.0" or "needs 9.0a". The PTX of the rest is searched
for instructions their GPU lacks (cp.async, TF32 and BF16 types and mma.sync below 8.0, wgmma
anywhere but 9.0): finding one is an error (exit 1), since that is code the GPU would fail to
load. Exit 2 where NVVM or nvJitLink is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import multiprocessing
import os
import re
import sys
import time
from dataclasses import dataclass
from types import SimpleNamespace
from unittest import mock

import numpy as np

#: the compute capabilities built by default: Turing, Ampere (A100, RTX 30), Ada, Hopper
DEFAULT_CCS = ((7, 5), (8, 0), (8, 6), (8, 9), (9, 0))
#: PTX that needs compute capability 8.0: asynchronous copies and the TF32/BF16 types and mma
SM80_PTX = re.compile(r"\bcp\.async\b|\.tf32\b|\.bf16(x2)?\b|\bmma\.sync\b")
#: PTX that only sm_90a has
SM90A_PTX = re.compile(r"\bwgmma\.\w+")
#: (M, K, N) of the stand-in products: multiples of 4 (the vector paths), and odd (the 4-byte
#: copies of rungs 10 and 11)
SHAPE, ODD_SHAPE = (128, 96, 64), (70, 19, 41)


@dataclass(frozen=True)
class Kernel:
    """One kernel to build: its name in the table, numba's dispatcher (a `cuda.jit` kernel), the
    numba types of its arguments, and the key of matmul.NEEDS_CC it needs ('fp32': any GPU)."""

    name: str
    kernel: object
    types: tuple
    needs: str = "fp32"

    @classmethod
    def of(cls, name: str, kernel, args, needs: str = "fp32") -> Kernel:
        import numba

        # (a stand-in array is a NumPy subclass, typed as the NumPy array it is)
        types = tuple(numba.typeof(np.asarray(x) if isinstance(x, np.ndarray) else x) for x in args)
        return cls(name, kernel, types, needs)


class StandInArray(np.ndarray):
    """A NumPy array standing in for a device array while launches are planned, never run."""

    def copy_to_device(self, ary, stream=0) -> None:
        self[...] = ary

    def copy_to_host(self, stream=0) -> np.ndarray:
        return np.array(self)


@contextlib.contextmanager
def stand_in_gpu(multiprocessors: int = 132):
    """Plan launches with the project's own code on no GPU: numba.cuda's allocations give
    StandInArrays, streams are 0, the device has `multiprocessors` and reads as compute
    capability 9.0, so that every precision plans (what each GPU builds is `build`'s choice)."""
    from numba import cuda

    from phase4_cuda import tma
    from phase4_cuda.matmul import CC_OVERRIDE

    def device_array(shape, dtype=np.float32, stream=0, **unused):
        return np.zeros(shape, dtype).view(StandInArray)

    def to_device(ary, stream=0, **unused):
        return np.array(ary).view(StandInArray)

    device = SimpleNamespace(name="stand-in", compute_capability=(9, 0),
                             MULTIPROCESSOR_COUNT=multiprocessors)  # fmt: skip
    fakes = {
        "device_array": device_array, "to_device": to_device, "stream": lambda: 0,
        "event": lambda **unused: None, "is_available": lambda: True,
        "get_current_device": lambda: device,
    }  # fmt: skip

    def tensor_map(words, rows):  # (the driver encodes a real one: here, 128 bytes of zeros)
        return to_device(np.zeros(16, np.uint64))

    with (
        mock.patch.multiple(cuda, **fakes),
        mock.patch.dict(os.environ, {CC_OVERRIDE: "9.0"}),
        mock.patch.object(tma, "tensor_map", tensor_map),
    ):
        yield


# -- the kernels ---------------------------------------------------------------------------------
def ladder_kernels() -> list[Kernel]:
    """Every rung at each tile shape of its tables, with each option set of the kernel check
    (rungs 6, 7, 10, 11) and both copy widths (10, 11); one entry per distinct compiled kernel."""
    from phase4_cuda import matmul as mm
    from phase4_cuda.__main__ import EPILOGUE_CHECKS
    from phase4_cuda.matmul.launch import AsyncTensorRung, ThreadTileRung

    found: dict = {}
    with stand_in_gpu():
        for version, rung in mm.RUNGS.items():
            if isinstance(rung, ThreadTileRung):
                tile_choices = list(dict.fromkeys(t for _, t in mm.TUNED))
            elif version in mm.TC_LARGE:
                tile_choices = list(dict.fromkeys((mm.TC_SMALL[version], mm.TC_LARGE[version])))
            elif version in mm.WGMMA_LARGE:
                tile_choices = list(
                    dict.fromkeys((mm.WGMMA_SMALL[version], mm.WGMMA_LARGE[version]))
                )
            else:
                tile_choices = [None]
            option_sets = ({}, *EPILOGUE_CHECKS) if rung.takes_options else ({},)
            shapes = (SHAPE, ODD_SHAPE) if isinstance(rung, AsyncTensorRung) else (SHAPE,)
            for tiles in tile_choices:
                for options in option_sets:
                    if isinstance(rung, AsyncTensorRung) and options.get("split", 1) > 1:
                        if options.get("col_sums"):
                            continue  # rungs 10 and 11 take column sums only without split-K
                    for shape in shapes:
                        planned = _planned(mm, version, tiles, options, shape)
                        # (the wgmma rungs' staging passes run before their product: their
                        # precision is what they need)
                        for launch, needs in (*((b, rung.precision) for b in planned.before),
                                              (planned, rung.needs)):  # fmt: skip
                            key = (id(launch.kernel), _types(launch.args))
                            found.setdefault(key, (version, launch, needs))
        names = {id(k): name for name, k in mm.compiled_kernels().items()}
        return [
            Kernel.of(names.get(id(launch.kernel), version), launch.kernel, launch.args, needs)
            for version, launch, needs in found.values()
        ]  # fmt: skip


def _types(args) -> tuple:
    return Kernel.of("", None, args).types


def _planned(mm, version: str, tiles, options: dict, shape: tuple):
    """plan()'s launch of `version` for stand-ins of (M, K, N) `shape` with `options` (True for
    an array: a stand-in of it, as validate takes them)."""
    from numba import cuda

    m, k, n = shape
    arrays = {"bias": n, "mask": (m, n), "col_sums": n}
    given = {
        key: cuda.device_array(arrays[key], np.float32) if key in arrays else value
        for key, value in options.items()
    }
    a = cuda.device_array((k, m) if options.get("trans_a") else (m, k), np.float32)
    b = cuda.device_array((n, k) if options.get("trans_b") else (k, n), np.float32)
    c = cuda.device_array((m, n), np.float32)
    return mm.plan(version, a, b, c, tiles=tiles, **given)


def other_kernels() -> list[Kernel]:
    """The dense layer's softmax, vector addition (guarded, and the lesson's unguarded demo),
    and hello."""
    from phase4_cuda import hello, vector_add
    from phase4_cuda.dense import softmax_rows

    x2, x1 = np.zeros((8, 10), np.float32), np.zeros(10, np.float32)
    found = [
        Kernel.of("softmax_rows (dense.py)", softmax_rows, (x2, x2)),
        Kernel.of("vector_add_kernel", vector_add.vector_add_kernel, (x1, x1, x1)),
        Kernel.of(
            "vector_add_unguarded (the lesson's bug)", vector_add.vector_add_unguarded, (x1, x1, x1)
        ),
        Kernel.of("hello", hello.hello, ()),
    ]
    return found


def kernels() -> list[Kernel]:
    """Every kernel Phase 4 launches (the module docstring)."""
    return ladder_kernels() + other_kernels()


# -- building ------------------------------------------------------------------------------------
def _arch(cc: tuple[int, int]) -> str:
    """numba's target for `cc`: from 9.0 on architecture-specific (sm_90a), as on the GPU."""
    return f"{cc[0]}{cc[1]}{'a' if cc >= (9, 0) else ''}"


#: numba-cuda 0.30 reads the compute capability while lowering only to choose tanh.approx.f32
#: (fastmath, from 7.5 on) and the double-precision atomicAdd instruction (from 6.0 on): from 7.5
#: on every GPU gets the same LLVM IR, and only NVVM's pass from it to PTX depends on the GPU
#: (mathimpl.py and nvvmutils.py of numba.cuda)
SAME_IR_FROM = (7, 5)


def _target(cc: tuple[int, int]) -> tuple:
    """numba's `cc` argument for `cc`: from 9.0 on architecture-specific (sm_90a)."""
    return (*cc, "a") if cc >= (9, 0) else cc


def compile_ptx(kernel: Kernel, ccs) -> dict[tuple[int, int], str]:
    """The PTX of `kernel` for each of `ccs`, with the options of its cuda.jit: what
    `cuda.compile_ptx` gives for each cc, but typed and lowered to LLVM IR once for all the ccs
    that lower alike (SAME_IR_FROM), NVVM alone running once per cc (the PTX differs from
    compiling for each cc only in the kernel's mangled name, whose tags hold the flags it was
    lowered with: tests/test_architectures.py). Typing and lowering are most of the time
    (`python -m cProfile -m phase4_cuda.architectures --cc 7.5`)."""
    from numba.cuda import compiler, dispatcher

    options = kernel.kernel.targetoptions
    ptx = {}
    for _, group in itertools.groupby(sorted(ccs), key=lambda cc: min(cc, SAME_IR_FROM)):
        group = list(group)
        # a device function that is not inlined is compiled for "the current device" when a
        # kernel calls it: here there is none, so it reads as the group's first cc
        device = SimpleNamespace(compute_capability=group[0])
        with mock.patch.object(dispatcher, "get_current_device", lambda device=device: device):
            # (cuda.compile_ptx's own first step, which keeps the code library: numba-cuda is
            # pinned to 0.30 in pyproject.toml)
            library, _ = compiler._compile_pyfunc_with_fixup(
                kernel.kernel.py_func, kernel.types, device=False, abi="numba",
                cc=_target(group[0]), fastmath=options.get("fastmath", False),
                launch_bounds=options.get("launch_bounds"),
            )  # fmt: skip
        for cc in group:
            ptx[cc] = library.get_asm_str(cc=_target(cc))  # NVVM, for this cc
    return ptx


def assemble(ptx: str, cc: tuple[int, int], max_registers: int | None = None) -> dict:
    """Registers per thread and spilled bytes of the kernel in `ptx` assembled for `cc` by
    nvJitLink (with the cooperative-groups runtime where the kernel calls it)."""
    from cuda.bindings import nvjitlink

    options = [f"-arch=sm_{_arch(cc)}", "-verbose"]
    if max_registers:
        options.append(f"-maxrregcount={max_registers}")
    handle = nvjitlink.create(len(options), options)
    try:
        data = ptx.encode()
        nvjitlink.add_data(handle, nvjitlink.InputType.PTX, data, len(data), "kernel.ptx")
        if "cudaCG" in ptx:  # grid.sync(): numba links the device runtime for it
            from numba.cuda.cudadrv.libs import get_cudalib

            devrt = get_cudalib("cudadevrt", static=True)
            nvjitlink.add_file(handle, nvjitlink.InputType.LIBRARY, devrt)
        nvjitlink.complete(handle)
        log = bytearray(nvjitlink.get_info_log_size(handle))
        nvjitlink.get_info_log(handle, log)
    except nvjitlink.nvJitLinkError as e:  # the PTX does not assemble for this GPU: say why
        error = bytearray(nvjitlink.get_error_log_size(handle))
        nvjitlink.get_error_log(handle, error)
        lines = [ln for ln in error.decode(errors="replace").splitlines() if "error" in ln]
        raise ValueError(f"{e}: {lines[0].strip() if lines else 'no log'}") from None
    finally:
        nvjitlink.destroy(handle)
    entry = re.search(r"\.entry\s+(\w+)", ptx).group(1)
    text = log.decode(errors="replace")
    # the log lists every function linked; the kernel's lines follow its own name
    text = text[text.find(f"entry function '{entry}'") :]
    registers = re.search(r"Used (\d+) registers", text)
    stores = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", text)
    return {
        "registers": int(registers.group(1)) if registers else None,
        "spill_bytes": int(stores.group(1)) + int(stores.group(2)) if stores else None,
    }


def missing_instruction(ptx: str, cc: tuple[int, int]) -> str | None:
    """The first instruction in `ptx` that a GPU of `cc` lacks, saying what it needs."""
    if cc < (8, 0) and (hit := SM80_PTX.search(ptx)):
        return f"{hit.group(0)} needs 8.0"
    if cc != (9, 0) and (hit := SM90A_PTX.search(ptx)):
        return f"{hit.group(0)} needs 9.0a"
    return None


def build_one(kernel: Kernel, ccs) -> tuple[dict, list[str]]:
    """`kernel` for every cc: its row of the table, and the instructions found that their GPU
    lacks."""
    from phase4_cuda.matmul import NEEDS_CC, lacks

    row, problems = {"kernel": kernel.name, "needs": kernel.needs}, []
    needs = NEEDS_CC[kernel.needs]
    built = [cc for cc in ccs if not lacks(cc, needs)]
    ptxs = compile_ptx(kernel, built) if built else {}
    for cc in ccs:
        key = f"{cc[0]}.{cc[1]}"
        if cc not in ptxs:
            row[key] = f"needs {needs[0]}.{needs[1]}{''.join(needs[2:])}"
            continue
        if why := missing_instruction(ptxs[cc], cc):
            problems.append(f"{kernel.name} for {key}: {why}")
        try:
            row[key] = assemble(ptxs[cc], cc, kernel.kernel.targetoptions.get("max_registers"))
        except ValueError as e:
            problems.append(f"{kernel.name} for {key}: does not assemble ({e})")
            row[key] = "does not assemble"
    return row, problems


def build(kernels: list[Kernel], ccs, jobs: int = 1) -> tuple[list[dict], list[str]]:
    """Every kernel for every cc, in `jobs` processes: rows of the table, and the instructions
    found that their GPU lacks. Each kernel compiles on its own (numba's compiler holds one
    lock a process), so processes forked from this one, which hold the kernels already, share
    the work."""
    if jobs <= 1 or len(kernels) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        # (Windows cannot fork: one kernel after another there)
        built = [build_one(kernel, ccs) for kernel in kernels]
    else:
        global _BUILDING
        _BUILDING = (kernels, ccs)
        # the longest kernels first, so that none is left to run alone at the end (Phase 5's
        # persistent step, the longest bytecode, takes a quarter of Phase 5's time)
        order = sorted(range(len(kernels)), key=lambda i: -_bytecode_size(kernels[i]))
        # fork: the children inherit the kernels, closures and stand-ins included, unpickled
        with multiprocessing.get_context("fork").Pool(min(jobs, len(kernels))) as pool:
            done = dict(pool.imap_unordered(_build_index, order))
        built = [done[i] for i in range(len(kernels))]
        _BUILDING = None
    return [row for row, _ in built], [problem for _, found in built for problem in found]


_BUILDING = None  # (kernels, ccs) while build() runs, for the processes it forks


def _build_index(index: int) -> tuple[int, tuple[dict, list[str]]]:
    kernels, ccs = _BUILDING
    return index, build_one(kernels[index], ccs)


def _bytecode_size(kernel: Kernel) -> int:
    return len(kernel.kernel.py_func.__code__.co_code)


def _cores() -> int:
    """The cores this process may run on (CI's container may grant fewer than the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def table(rows: list[dict], ccs) -> str:
    keys = [f"{a}.{b}" for a, b in ccs]
    lines = ["| kernel | " + " | ".join(f"cc {k}: registers, spilled bytes" for k in keys) + " |"]
    lines.append("|---" * (len(keys) + 1) + "|")
    for row in rows:
        cells = [
            row[k] if isinstance(row[k], str) else f"{row[k]['registers']}, {row[k]['spill_bytes']}"
            for k in keys
        ]
        lines.append(f"| {row['kernel']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cc(text: str) -> tuple[int, int]:
    major, dot, minor = text.partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        raise argparse.ArgumentTypeError(f"expected MAJOR.MINOR, e.g. 7.5, got {text!r}")
    return int(major), int(minor)


def main(argv: list[str] | None = None, list_kernels=kernels, description: str = "") -> int:
    """The command line, for Phase 4's kernels or (Phase 5) those `list_kernels()` returns."""
    parser = argparse.ArgumentParser(description=description or __doc__.split("\n\n")[0])
    parser.add_argument("--cc", type=_cc, nargs="+", default=list(DEFAULT_CCS),
                        help="compute capabilities to build for (default: 7.5 8.0 8.6 8.9 9.0)")  # fmt: skip
    parser.add_argument("--json", help="write the table to this JSON file")
    parser.add_argument("--jobs", type=int, default=_cores(),
                        help="processes that compile side by side (default: one a core this "
                             "process may use)")  # fmt: skip
    args = parser.parse_args(argv)
    from numba import config

    if config.ENABLE_CUDASIM:
        print("error: unset NUMBA_ENABLE_CUDASIM: the simulator compiles nothing", file=sys.stderr)
        return 2
    try:
        from cuda.bindings import nvjitlink  # noqa: F401
        from numba.cuda.cudadrv.nvvm import NVVM

        NVVM()
    except Exception as e:  # no NVVM or nvJitLink: the toolkit wheels are not installed
        print(f"error: cannot compile without NVVM and nvJitLink ({e}); install the project "
              "with the cuda12 extra", file=sys.stderr)  # fmt: skip
        return 2
    started = time.perf_counter()
    found = list_kernels()
    rows, problems = build(found, args.cc, args.jobs)
    print(table(rows, args.cc))
    built = sum(not isinstance(row[f"{a}.{b}"], str) for row in rows for a, b in args.cc)
    spilled = sum(
        1 for row in rows for a, b in args.cc
        if not isinstance(row[f"{a}.{b}"], str) and row[f"{a}.{b}"]["spill_bytes"]
    )  # fmt: skip
    print(f"{len(found)} kernels, {built} builds in {time.perf_counter() - started:.0f} s; "
          f"{spilled} spill; {len(problems)} hold an instruction their GPU lacks")  # fmt: skip
    if args.json:
        from shared.files import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=1) + "\n")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
