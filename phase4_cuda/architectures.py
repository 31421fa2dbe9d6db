"""`python -m phase4_cuda.architectures`: every kernel of the matmul ladder compiled for several
GPU generations without a GPU, with the registers and spills of each: what a Colab T4 (compute
capability 7.5), an A100 (8.0), an RTX 30 series card (8.6), an RTX 40 series card or L4 (8.9)
and an H100 (9.0) would run.

    python -m phase4_cuda.architectures [--cc 7.5 8.0 8.6 8.9 9.0] [--json FILE]

numba-cuda turns each kernel into PTX with NVVM, and nvJitLink assembles the PTX for the
architecture as the driver would, saying how many registers each thread uses and how many bytes
spill to local memory. Both come as wheels (`pip install -e '.[cuda12]'`); no driver is needed.
The kernels are those `plan()` launches (rungs 1-14 at their default tiles, and rungs 6 and 7 with
the training step's options), typed from NumPy stand-ins of their arguments. A rung whose
precision or instructions need another GPU (matmul.needs_cc) is not built for it: the table says
so. The wgmma rungs are built for sm_90a (9.0 alone), the only target that has wgmma.
For every capability below 8.0 the PTX of the rest is searched for the instructions that need 8.0
(cp.async, TF32 and BF16 types, mma): finding one is an error (exit 1), since that is the code a
T4 would fail to load. Exit 2 where NVVM or nvJitLink is missing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

import numpy as np

#: the compute capabilities built by default: Turing, Ampere (A100, RTX 30), Ada, Hopper
DEFAULT_CCS = ((7, 5), (8, 0), (8, 6), (8, 9), (9, 0))
#: PTX that needs compute capability 8.0: asynchronous copies and the TF32/BF16 types and mma
SM80_PTX = re.compile(r"\bcp\.async\b|\.tf32\b|\.bf16(x2)?\b|\bmma\.sync\b")
#: the training step's options that rungs 6 and 7 take (those the kernel check checks)
OPTION_SETS = (
    {},
    {"bias": True, "activation": "relu"},
    {"trans_a": True, "col_sums": True, "split": 2},
    {"trans_b": True, "mask": True},
)


def kernels() -> list[tuple[str, str, object, tuple]]:
    """(name, precision, py_func, argument types) of every kernel `plan()` launches: each version
    at its default tiles, and each option set for the versions that take options."""
    import numba

    from phase4_cuda import matmul as mm
    from phase4_cuda.matmul import split_k

    m, k, n = 128, 96, 64  # multiples of 4: the vector paths of rungs 7, 10 and 11 are taken
    # split-K's workspace lives on the device; its stand-in has the same types (float32, int32)
    split_k.workspace = lambda split, m, n, tiles, unused: (
        [unused, unused] if split == 1
        else [np.zeros(split * (m + 1) * n, np.float32), np.zeros(tiles, np.int32)]
    )  # fmt: skip
    a, b = np.zeros((m, k), np.float32), np.zeros((k, n), np.float32)
    found = []
    for version in mm.VERSIONS:
        if mm.RUNGS[version].needs == "wgmma":
            found.append(_wgmma_kernel(version, m, k, n))
            continue
        for options in OPTION_SETS if mm.RUNGS[version].takes_options else ({},):
            arrays = _option_arrays(options, m, n)
            if version.startswith("tensor") and options.get("col_sums") and options.get("split"):
                continue  # rungs 10 and 11 take column sums only without split-K
            ta = np.zeros((k, m), np.float32) if options.get("trans_a") else a
            tb = np.zeros((n, k), np.float32) if options.get("trans_b") else b
            c = np.zeros((m, n), np.float32)
            launch = mm.plan(version, ta, tb, c, **{**options, **arrays})
            types = tuple(numba.typeof(x) for x in launch.args)
            label = " ".join(f"{key}={value}" for key, value in options.items())
            name = f"{version} {label}".strip()
            found.append((name, mm.precision_of(version), launch.kernel.py_func, types))
    return found


def _wgmma_kernel(version: str, m: int, k: int, n: int) -> tuple[str, str, object, tuple]:
    """A wgmma rung's kernel at its large tiles, typed from stand-ins of its staged operands
    (its plan stages them on the device and raises the kernel's shared memory through it)."""
    import numba

    from phase4_cuda import matmul as mm
    from phase4_cuda.matmul import staging

    tiles = mm.WGMMA_LARGE[version]
    word = np.uint32 if tiles.precision == "bf16" else np.float32
    kw = staging.words_per_row(k, tiles.precision)
    args = (np.zeros(m * kw, word), np.zeros(n * kw, word), np.zeros(m * n, np.float32),
            *np.array((m, n, kw), np.uint32))  # fmt: skip
    types = tuple(numba.typeof(x) for x in args)
    return version, tiles.precision, mm.RUNGS[version].kernel(tiles).py_func, types


def _option_arrays(options: dict, m: int, n: int) -> dict:
    """NumPy stand-ins for the arrays an option set asks for (validate's True)."""
    arrays = {}
    if options.get("bias"):
        arrays["bias"] = np.zeros(n, np.float32)
    if options.get("mask"):
        arrays["mask"] = np.zeros((m, n), np.float32)
    if options.get("col_sums"):
        arrays["col_sums"] = np.zeros(n, np.float32)
    return arrays


def assemble(ptx: str, cc: tuple[int, int]) -> dict:
    """Registers per thread and spilled bytes of `ptx` assembled for `cc`, by nvJitLink."""
    from cuda.bindings import nvjitlink

    handle = nvjitlink.create(2, [f"-arch=sm_{''.join(map(str, cc))}", "-verbose"])
    try:
        data = ptx.encode()
        nvjitlink.add_data(handle, nvjitlink.InputType.PTX, data, len(data), "kernel.ptx")
        nvjitlink.complete(handle)
        log = bytearray(nvjitlink.get_info_log_size(handle))
        nvjitlink.get_info_log(handle, log)
    finally:
        nvjitlink.destroy(handle)
    text = log.decode(errors="replace")
    registers = re.search(r"Used (\d+) registers", text)
    stores = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", text)
    return {
        "registers": int(registers.group(1)) if registers else None,
        "spill_bytes": int(stores.group(1)) + int(stores.group(2)) if stores else None,
    }


def build(ccs) -> tuple[list[dict], list[str]]:
    """Every kernel for every cc: rows of the table, and the sm_80 instructions found below 8.0."""
    from unittest import mock

    from numba import cuda

    from phase4_cuda import matmul as mm

    rows, problems = [], []
    for name, precision, py_func, types in kernels():
        row = {"kernel": name, "precision": precision}
        version = name.split()[0]
        for cc in ccs:
            key = f"{cc[0]}.{cc[1]}"
            needs = mm.needs_cc(version)
            if mm.lacks(cc, needs):
                row[key] = f"needs {needs[0]}.{needs[1]}{''.join(needs[2:])}"
                continue
            # wgmma exists only in PTX for sm_90a, as numba builds for an H100 itself; the wgmma
            # kernels' device functions that are not inlined compile for "the current device"
            arch = (*cc, "a") if len(needs) > 2 else cc
            with mock.patch.object(cuda.dispatcher, "get_current_device",
                                   lambda arch=arch: mock.Mock(compute_capability=arch)):  # fmt: skip
                ptx, _ = cuda.compile_ptx(py_func, types, cc=arch)
            if cc < (8, 0) and (hit := SM80_PTX.search(ptx)):
                problems.append(f"{name} for {key}: {hit.group(0)} needs 8.0")
            row[key] = assemble(ptx, arch)
        rows.append(row)
    return rows, problems


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cc", type=_cc, nargs="+", default=list(DEFAULT_CCS),
                        help="compute capabilities to build for (default: 7.5 8.0 8.6 8.9 9.0)")  # fmt: skip
    parser.add_argument("--json", help="write the table to this JSON file")
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
    rows, problems = build(args.cc)
    print(table(rows, args.cc))
    if args.json:
        from shared.files import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=1) + "\n")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
