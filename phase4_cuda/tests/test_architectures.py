"""`python -m phase4_cuda.architectures`: what it looks for in PTX, and its fast path (each kernel
typed and lowered once for every GPU, NVVM alone run once per GPU, kernels built in forked
processes) against the clear one (`cuda.compile_ptx` for each GPU, one kernel after another).

Compiling needs numba's real CUDA target and NVVM and nvJitLink (the cuda12 extra), hence the
subprocess; where those wheels are missing that test is skipped, saying so."""

import argparse
import os
import subprocess
import sys

import pytest

from phase4_cuda.architectures import _cc, missing_instruction


def test_missing_instruction_names_what_the_gpu_lacks():
    copy = "cp.async.ca.shared.global [%r1], [%rd2], 16;"
    assert missing_instruction(copy, (7, 5)) == "cp.async needs 8.0"
    assert missing_instruction(copy, (8, 0)) is None
    mma = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%f1}, {%r1}, {%r2}, {%f2};"
    assert missing_instruction(mma, (7, 5)) == "mma.sync needs 8.0"
    assert missing_instruction("cvt.rna.tf32.f32 %r1, %f1;", (7, 5)) == ".tf32 needs 8.0"
    wgmma = "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {%f1}, %rd1, %rd2, 1;"
    for cc in ((8, 0), (8, 6), (8, 9)):
        assert missing_instruction(wgmma, cc) == "wgmma.mma_async needs 9.0a"
    assert missing_instruction(wgmma, (9, 0)) is None
    assert missing_instruction("fma.rn.f32 %f1, %f2, %f3, %f4;", (7, 5)) is None


def test_cc_reads_major_dot_minor():
    assert _cc("8.6") == (8, 6)
    for bad in ("86", "sm_86", "8.x"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"MAJOR\.MINOR"):
            _cc(bad)


SAME_AS_CLEAR_PATH = """
import re
import sys
from types import SimpleNamespace
from unittest import mock

try:
    from cuda.bindings import nvjitlink  # noqa: F401
    from cuda.pathfinder import load_nvidia_dynamic_lib
    from numba.cuda.cudadrv.nvvm import NVVM

    NVVM()
    load_nvidia_dynamic_lib("nvrtc")  # (numba-cuda compiles through it too)
except Exception as e:
    print(e)
    sys.exit(3)
from numba import cuda
from numba.cuda import dispatcher

from phase4_cuda import architectures as arch

ccs = [(7, 5), (8, 0), (8, 6), (9, 0)]
ladder = arch.ladder_kernels()
# the lesson's kernels, a rung capped by launch bounds and one with cp.async and mma.sync
kernels = [*arch.other_kernels(),
           next(k for k in ladder if k.kernel.targetoptions.get("launch_bounds")),
           next(k for k in ladder if k.needs == "tf32" and "async" in k.name)]


def untagged(name):  # a mangled name less its ABI tags: B, a length, that many characters
    parts, at = [], 0
    for tag in re.finditer(r"B([0-9]+)", name):
        if tag.start() >= at:
            parts.append(name[at : tag.start()])
            at = tag.end() + int(tag.group(1))
    return "".join(parts) + name[at:]


def numbered_alike(ptx):
    # numba's names differ between two compilations of one kernel: the ABI tags of a mangled
    # name hold the compilation's number and its flags (the cc lowered for among them), and
    # shared arrays are numbered
    ptx = re.sub(r"_Z[A-Za-z0-9_]+", lambda m: untagged(m.group(0)), ptx)
    return re.sub(r"(_cudapy_[a-z]+_)[0-9]+", r"\\1N", ptx)


def clear(kernel, cc):  # cuda.compile_ptx for one cc: typed, lowered and compiled afresh
    options = kernel.kernel.targetoptions
    device = SimpleNamespace(compute_capability=cc)
    with mock.patch.object(dispatcher, "get_current_device", lambda: device):
        return cuda.compile_ptx(kernel.kernel.py_func, kernel.types, cc=arch._target(cc),
                                fastmath=options.get("fastmath", False),
                                launch_bounds=options.get("launch_bounds"))[0]


for kernel in kernels:
    fast = arch.compile_ptx(kernel, ccs)
    assert list(fast) == ccs, (kernel.name, list(fast))
    for cc in ccs:
        assert numbered_alike(fast[cc]) == numbered_alike(clear(kernel, cc)), (kernel.name, cc)
alone = arch.build(kernels, ccs, jobs=1)
assert arch.build(kernels, ccs, jobs=2) == alone
assert alone[0][-1]["8.0"]["registers"] > 0 and alone[0][-1]["7.5"] == "needs 8.0", alone[0][-1]
print(len(kernels), "kernels alike")
"""


@pytest.mark.slow
def test_lowering_once_gives_the_ptx_of_compiling_for_each_gpu():
    env = os.environ | {"NUMBA_ENABLE_CUDASIM": "0"}
    done = subprocess.run(
        [sys.executable, "-P", "-c", SAME_AS_CLEAR_PATH],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode == 3:
        pytest.skip(
            f"no NVVM, NVRTC or nvJitLink (install the cuda12 extra): {done.stdout.strip()}"
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["6", "kernels", "alike"]
