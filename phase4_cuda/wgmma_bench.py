"""Validate, then time, the wgmma rungs (matmul/k12-k16; 15 and 16, which no GPU has run yet,
only with --unproven) beside cuBLAS (through PyTorch) and Triton in one process on one GPU, and
write the figures as JSON. A measuring harness: it needs a real Hopper GPU with PyTorch (Triton
optional), and leaves out everything but square sizes. The rungs are timed on staged operands
(matmul/staging.py), the staging pass on its own.

    python -m phase4_cuda.wgmma_bench [--sizes 1024 2048 4096] [--json FILE] [--sweep] [--unproven]

(results/h100-wgmma.json was made by this harness when it ran as `phase4_cuda.wgmma_gemm`.)
Order: every kernel is checked against float64 NumPy by `matmul.validate` (outputs poisoned
with NaN) on odd shapes, then at each timed size; only then is anything timed.

How everything is timed, the same way for every kernel and peer: `gpu_timer.Timer`, GPU time of
a batch of launches queued behind a spin kernel (see there why). `host_clocked` in the JSON
repeats the host-clocked method on the same calls to show the difference: on an H100 at n =
1024, 48 TFLOP/s host-clocked against 319 timed as here, in the same run; at n = 2048, where one
product outlasts one launch, the two agree (698 and 695).
Inputs are the same buffers every launch: at n = 1024 they sit in the 50 MB L2 for every peer alike.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np
from numba import cuda

from phase4_cuda import matmul as mm
from phase4_cuda.benchmark import triton_matmul
from phase4_cuda.device import gpu_name, simulated
from phase4_cuda.gpu_timer import Timer
from phase4_cuda.matmul import WgmmaTiles, staging

#: the rungs, each timed at its large tiles (tiles.WGMMA_LARGE) at every size
RUNGS = {version: (version, tiles) for version, tiles in mm.WGMMA_LARGE.items()}
#: extra tile shapes timed with --sweep, each by the rung that takes it
SWEEP = [
    ("wgmma_bf16", WgmmaTiles(128, 1, 5, "bf16")),
    ("wgmma_bf16_2wg", WgmmaTiles(128, 2, 4, "bf16")),
    ("wgmma_bf16_2wg", WgmmaTiles(256, 2, 3, "bf16")),
    ("wgmma_tf32_2wg", WgmmaTiles(128, 2, 4, "tf32")),
]
#: shapes for the checks: 1, primes, edge blocks both ways, K not a multiple of 8, more steps
#: of K than stages (the pipeline wraps around)
CHECK_SHAPES = ((1, 1, 1), (70, 19, 41), (130, 300, 67), (257, 1000, 300))


def peers(torch, a, b, c):
    """{name: call} of the peers on float32 a (n, n), b (n, n) and c: cuBLAS through PyTorch in
    bf16 (operands converted once, outside the timing: what a bf16 model holds), with B as
    stored and as B^T (the layout the wgmma rungs read), with bf16 and float32 outputs, and in
    TF32; Triton in bf16 and TF32."""
    a16, b16 = a.bfloat16(), b.bfloat16()
    bt16 = b.t().contiguous().bfloat16()
    c16 = torch.empty_like(c, dtype=torch.bfloat16)

    def tf32(x, y, out):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.matmul(x, y, out=out)

    calls = {
        "cublas_bf16": lambda: torch.matmul(a16, b16, out=c16),
        "cublas_bf16_bt": lambda: torch.matmul(a16, bt16.t(), out=c16),
        "cublas_tf32": lambda: tf32(a, b, c),
    }
    try:  # bf16 inputs, float32 output: the same bytes out as the wgmma rungs write
        torch.mm(a16, b16, out_dtype=torch.float32)
        calls["cublas_bf16_f32out"] = lambda: torch.mm(a16, b16, out_dtype=torch.float32)
    except (TypeError, RuntimeError):
        pass
    if (run := triton_matmul()) is not None:  # benchmark.py's kernel, float32 out here
        calls["triton_bf16"] = lambda: run(a16, b16, c, "bf16")
        calls["triton_tf32"] = lambda: run(a, b, c, "tf32")
    return calls


def resources(version: str, tiles: WgmmaTiles) -> dict:
    """Registers, spills, the PTX target and the SASS tensor-core instructions of a kernel."""
    kernel = mm.RUNGS[version].kernel(tiles)
    cc = cuda.get_current_device().compute_capability
    facts = {}
    for compiled in kernel.overloads.values():  # (one signature per kernel here)
        facts["registers"] = compiled.regs_per_thread
        facts["local_bytes"] = compiled.local_mem_per_thread
        ptx = compiled.inspect_asm(cc)
        facts["ptx_target"] = [ln for ln in ptx.splitlines() if ln.startswith(".target")]
        facts["ptx_wgmma"] = ptx.count("wgmma.mma_async")
        try:
            sass = compiled.inspect_sass()
            facts["sass_hgmma"] = sass.count("HGMMA")
            facts["sass_local"] = sass.count("LDL") + sass.count("STL")
            facts["sass_warpgroup_waits"] = sass.count("WARPGROUP.DEPBAR")
        except Exception as e:  # nvdisasm missing: say so, keep going
            facts["sass"] = f"{type(e).__name__}: {e}"[:200]
    return facts


def versions(torch) -> dict:
    from importlib.metadata import version

    import numba

    out = {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
           "numba_cuda": version("numba-cuda"), "torch": torch.__version__,
           "torch_cuda": torch.version.cuda}  # fmt: skip
    try:
        out["cuda_driver"] = cuda.cudadrv.driver.driver.get_version()
        import triton

        out["triton"] = triton.__version__
    except Exception as e:  # a missing peer or attribute: say so, keep going
        out["note"] = f"{type(e).__name__}: {e}"
    return out


def time_size(timer, torch, n: int, kernels, results: dict) -> None:
    """Time every kernel, the staging and every peer at n x n x n; add to results."""
    rng = np.random.default_rng(n)
    ha, hb = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    a, b = torch.from_numpy(ha).cuda(), torch.from_numpy(hb).cuda()
    c = torch.empty((n, n), dtype=torch.float32, device="cuda")
    da, db, dc = (cuda.as_cuda_array(x) for x in (a, b, c))
    ns, flops = timer.numba_stream, 2.0 * n**3
    row = results["figures"].setdefault(str(n), {})
    staged = {}
    for p in staging.WORDS:
        staged[p] = (staging.stage(da, p), staging.stage(db, p, transpose=True))
        sa, sb = staged[p]
        t = timer.time(lambda p=p, sa=sa, sb=sb: (staging.stage(da, p, out=sa, stream=ns),
                                                  staging.stage(db, p, True, out=sb, stream=ns)))  # fmt: skip
        row[f"staging_{p}"] = {**t, "ms": t["seconds"] * 1e3}
    cuda.synchronize()
    for name, (version, tiles) in kernels.items():
        launch = mm.RUNGS[version].plan_staged(*staged[tiles.precision], dc, tiles, stream=ns)
        t = timer.time(launch)
        row[name] = {**t, "tflops": flops / t["seconds"] / 1e12, "tiles": str(tiles)}
        print(f"n={n} {name} ({tiles}): {row[name]['tflops']:.1f} TFLOP/s", flush=True)
    for name, call in peers(torch, a, b, c).items():
        t = timer.time(call)
        row[name] = {**t, "tflops": flops / t["seconds"] / 1e12}
        print(f"n={n} {name}: {row[name]['tflops']:.1f} TFLOP/s", flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    host = results["host_clocked"].setdefault(str(n), {})
    host["cublas_bf16"] = flops / timer.host_clocked(peers(torch, a, b, c)["cublas_bf16"]) / 1e12
    if "wgmma_bf16_2wg" in kernels:
        version, tiles = kernels["wgmma_bf16_2wg"]
        rung = mm.RUNGS[version].plan_staged(*staged["bf16"], dc, tiles, stream=ns)
        host["wgmma_bf16_2wg"] = flops / timer.host_clocked(rung) / 1e12


def table(results: dict) -> str:
    sizes = list(results["figures"])
    names = [k for k in results["figures"][sizes[-1]] if not k.startswith("staging")]
    lines = ["| kernel | " + " | ".join(f"n={s} TFLOP/s" for s in sizes) + " |",
             "|---|" + "---|" * len(sizes)]  # fmt: skip
    for name in names:
        cells = [
            f"{results['figures'][s][name]['tflops']:.1f}" if name in results["figures"][s] else "-"
            for s in sizes
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for p in staging.WORDS:
        cells = [f"{results['figures'][s][f'staging_{p}']['ms']:.3f} ms" for s in sizes]
        lines.append(f"| staging {p} (A and B) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def validate(version: str, tiles: WgmmaTiles, sizes) -> dict:
    """{"tiles (M, K, N)": error} of one kernel on CHECK_SHAPES and each timed size, by the
    ladder's one harness (AssertionError past the precision's tolerance)."""
    shapes = [*CHECK_SHAPES, *((n, n, n) for n in sizes)]
    errors = mm.validate([version], shapes, tiles=tiles)
    return {f"{tiles} {shape}": err for (_, shape), err in errors.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--sweep", action="store_true", help="also time the tile shapes of SWEEP")
    parser.add_argument("--unproven", action="store_true",
                        help="also check and time the rungs no GPU has run yet "
                             "(matmul.NOT_YET_ON_A_GPU: 15 and 16)")  # fmt: skip
    args = parser.parse_args(argv)
    _, left_out = mm.runnable(list(RUNGS), unproven=True)
    if simulated() or not cuda.is_available() or left_out:
        why = left_out or "the simulator only checks correctness"
        print(f"error: the wgmma benchmark needs a Hopper GPU: {why}", file=sys.stderr)
        return 2
    import torch

    kernels = {k: v for k, v in RUNGS.items() if args.unproven or k not in mm.NOT_YET_ON_A_GPU}
    if args.sweep:
        kernels |= {f"sweep {t}": (v, t) for v, t in SWEEP}
    results = {"command": " ".join(["python -m phase4_cuda.wgmma_bench", *(argv or sys.argv[1:])]),
               "card": gpu_name(), "versions": versions(torch), "validation": {},
               "figures": {}, "host_clocked": {}, "resources": {}}  # fmt: skip
    t0 = time.perf_counter()
    checked = {}  # a kernel that fails its check is reported, never timed
    for name, (version, tiles) in kernels.items():
        try:
            errors = validate(version, tiles, args.sizes)
            results["validation"] |= errors
            checked[name] = (version, tiles)
            print(f"{name} ({tiles}): largest error {max(errors.values()):.2e}", flush=True)
        except Exception as e:
            results.setdefault("failed", {})[name] = f"{type(e).__name__}: {e}"[:1000]
            print(f"{name} ({tiles}) FAILED: {results['failed'][name]}", flush=True)
    results["compile_and_check_s"] = time.perf_counter() - t0
    kernels = checked
    results["resources"] = {name: resources(*vt) for name, vt in kernels.items()}
    timer = Timer(torch)
    for n in args.sizes:
        time_size(timer, torch, n, kernels, results)
        if args.json:  # after each size: a run cut short keeps what it measured
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    print(table(results))
    print(json.dumps({"host_clocked": results["host_clocked"], **results["resources"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
