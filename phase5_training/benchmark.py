"""Benchmark of Phase 5: the reference configuration trained by this project's trainer and, in the
same run and on the same device, by Phase 2's NumPy network (on the CPU), PyTorch eager and (on a
GPU) PyTorch with the whole step captured in a CUDA graph; the PyTorch rows are left out with a
note when torch is not installed.

    python -m phase5_training.benchmark [--device cpu|gpu] [--epochs 10] [--json FILE]
    python -m phase5_training.benchmark --under-load [--threads N] [--repeats 3] [--json FILE]

All train 784-512-256-10 with the same data, the same mini-batches in the same order, the same
initial weights, the same one-cycle schedule, and SGD with Nesterov momentum 0.9 and weight decay
on the weights only. Reported: training time (all epochs, without compilation and graph capture),
time per step, the compilation / capture time measured apart (for the eager rows, the first
epoch's excess over a steady epoch), and test accuracy.

`--under-load` asks another question: does the CPU trainer keep its speed on a shared machine? It
times one epoch of training steps quiet, then beside a busy process (one Python loop that keeps a
core busy, as a browser tab or a build does on a laptop), alternating, and prints the medians and
their ratio.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

from phase2_numpy.data import epoch_order, prepare_data
from phase2_numpy.network import he_init
from phase2_numpy.train import TrainConfig, lr_at
from phase5_training.train import PRECISIONS, STEPS, train
from shared.datasets import load_dataset
from shared.load_monitor import LoadMonitor, available_cores
from shared.results import BenchResults, markdown_table


def _torch_model(config: TrainConfig, dev):
    """784-512-256-10 in PyTorch from the same He initialisation as ours."""
    import torch

    params = he_init(config.widths, config.seed)
    layers = []
    for l, (w, b) in enumerate(zip(params.W, params.b, strict=True)):
        linear = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear] + ([torch.nn.ReLU()] if l < len(params.W) - 1 else [])
    model = torch.nn.Sequential(*layers).to(dev)
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    return model, weights, biases


def _test_accuracy(model, data: dict, dev) -> float:
    import torch

    with torch.no_grad():
        predicted = model(torch.from_numpy(data["x_test"]).to(dev)).argmax(dim=1).cpu().numpy()
    return float((predicted == data["y_test"]).mean())


def torch_run(data: dict, config: TrainConfig, device: str) -> dict:
    """The same training in PyTorch eager (torch.optim.SGD); returns epoch times and accuracy."""
    import torch

    dev = torch.device("cuda" if device == "gpu" else "cpu")
    model, weights, biases = _torch_model(config, dev)
    opt = torch.optim.SGD(
        [{"params": weights, "weight_decay": config.weight_decay}, {"params": biases, "weight_decay": 0.0}],
        lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
    )  # fmt: skip
    x = torch.from_numpy(data["x_train"]).to(dev)
    y = torch.from_numpy(data["y_train"]).to(dev)
    n = len(data["y_train"])
    steps = math.ceil(n / config.batch_size)
    total, step, seconds = config.epochs * steps, 0, []
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        order_t = torch.from_numpy(epoch_order(n, config, epoch)).to(dev)
        for start in range(0, n, config.batch_size):
            idx = order_t[start : start + config.batch_size]
            for group in opt.param_groups:
                group["lr"] = lr_at(config, step, total)
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        if dev.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
    return {"epoch_seconds": seconds, "accuracy": _test_accuracy(model, data, dev), "steps": total}


def torch_graph_run(
    data: dict, config: TrainConfig, precision: str = "fp32", compiled: bool = False
) -> dict:
    """The same training in PyTorch with the whole step (batch gather, forward, backward, loss
    and accuracy sums, SGD update, learning rate from a device table) captured in a CUDA graph
    per batch size, as PyTorch's CUDA-graph documentation does for whole-network capture.
    Warm-up and capture are timed apart from the epochs, and their effects on the weights undone.

    `precision`: fp32 (TF32 off), tf32 (cuBLAS allowed TF32 for float32 products) or bf16 (the
    forward pass under BF16 autocast: products in bfloat16, float32 weights); `compiled`: the
    model through torch.compile (inductor, default mode) inside the captured step.
    """
    import torch

    dev = torch.device("cuda")
    F = torch.nn.functional
    with warnings.catch_warnings():
        # PyTorch's hints, which say nothing true of this comparison: inductor's "TensorFloat32
        # tensor cores ... available but not enabled" (the fp32 peer keeps TF32 off on purpose),
        # and newer releases' advice to set TF32 through fp32_precision (the flag still works)
        warnings.filterwarnings("ignore", message=".*TensorFloat32 tensor cores")
        warnings.filterwarnings("ignore", message=".*fp32_precision")
        warnings.filterwarnings("ignore", message=".*allow_tf32")
        allow_tf32 = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        try:
            return _torch_graph_run(torch, F, dev, data, config, precision, compiled)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = allow_tf32


def _torch_graph_run(torch, F, dev, data, config, precision, compiled) -> dict:
    import contextlib

    model, weights, biases = _torch_model(config, dev)
    forward = torch.compile(model) if compiled else model
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16))
        if precision == "bf16"
        else contextlib.nullcontext
    )
    params = weights + biases
    velocity = [torch.zeros_like(p) for p in params]
    x = torch.from_numpy(data["x_train"]).to(dev)
    y = torch.from_numpy(data["y_train"]).to(dev)
    n, B = len(data["y_train"]), config.batch_size
    total = config.epochs * math.ceil(n / B)
    lr_table = torch.tensor([lr_at(config, s, total) for s in range(total)], device=dev)
    step_t = torch.zeros((), dtype=torch.long, device=dev)  # the run's step: its learning rate
    pos_t = torch.zeros((), dtype=torch.long, device=dev)  # the epoch's step: its rows
    order_t = torch.zeros(n, dtype=torch.long, device=dev)
    loss_sum = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev)
    m = config.momentum

    def make_step(b: int):
        rows_in_batch = torch.arange(b, device=dev)

        def step():
            rows = order_t[pos_t * B + rows_in_batch]
            xb, yb = x[rows], y[rows]
            with autocast():
                out = forward(xb)
            loss = F.cross_entropy(out.float(), yb)
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                loss_sum.add_(loss * b)
                correct.add_((out.argmax(dim=1) == yb).sum())
                g = list(
                    torch._foreach_add(grads[: len(weights)], weights, alpha=config.weight_decay)
                )
                g += list(grads[len(weights) :])
                torch._foreach_mul_(velocity, m)
                torch._foreach_add_(velocity, g)
                update = torch._foreach_add(g, velocity, alpha=m) if config.nesterov else velocity
                # index_select, not lr_table[step_t]: indexing with a 0-d tensor reads it on
                # the host, a synchronisation that invalidates the capture
                lr = lr_table.index_select(0, step_t.view(1)).squeeze(0)
                update = torch._foreach_mul(update, lr)
                torch._foreach_sub_(params, update)
                pos_t.add_(1)
                step_t.add_(1)

        return step

    state = [*params, *velocity, step_t, pos_t, loss_sum, correct]
    t0 = time.perf_counter()
    snapshot = [t.detach().clone() for t in state]
    graphs = {}
    for b in sorted({B, n - (math.ceil(n / B) - 1) * B}):
        step = make_step(b)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside the capture, as PyTorch requires
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()
        graphs[b] = graph
    with torch.no_grad():
        for t, saved in zip(state, snapshot, strict=True):
            t.copy_(saved)
    torch.cuda.synchronize()
    setup = time.perf_counter() - t0
    seconds = []
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        order_t.copy_(torch.from_numpy(epoch_order(n, config, epoch)))
        pos_t.zero_()
        for start in range(0, n, B):
            graphs[min(B, n - start)].replay()
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
    return {
        "epoch_seconds": seconds,
        "setup_seconds": setup,
        "accuracy": _test_accuracy(model, data, dev),
        "steps": total,
    }


def summarise(
    name: str, epoch_seconds: list[float], accuracy: float, steps: int, setup: float | None = None
) -> dict:
    """One row. `setup` is time measured apart from training (compilation, graph capture); when
    it is not known (eager peers), the first epoch's excess over a steady epoch stands in for it.
    The training time is all epochs minus that setup."""
    later = sorted(epoch_seconds[1:]) or epoch_seconds
    steady = later[len(later) // 2]
    if setup is None:
        setup = max(0.0, epoch_seconds[0] - steady)
        train = sum(epoch_seconds) - setup
    else:
        train = sum(epoch_seconds)
    return {
        "peer": name,
        "train_s": train,
        "step_ms": 1e3 * train / steps,
        "setup_s": setup,
        "test_accuracy": accuracy,
    }


BUSY_LOOP = "while True: pass"


def epoch_seconds(trainer, n: int, config: TrainConfig) -> float:
    """Seconds for one epoch of training steps over the `n` loaded rows (no evaluation), at a
    constant learning rate: the trainer's own run_epoch, timed."""
    order = epoch_order(n, config, 0)
    lrs = [config.lr * 0.1] * math.ceil(n / config.batch_size)
    t0 = time.perf_counter()
    trainer.run_epoch(order, lrs)
    return time.perf_counter() - t0


def under_load(data: dict, config: TrainConfig, repeats: int) -> tuple[BenchResults, str]:
    """The CPU trainer's epoch quiet and beside one busy process, `repeats` times each,
    alternating (after one warm-up epoch); returns the results and the table."""
    import phase3_c
    from phase5_training.train import make_trainer

    trainer = make_trainer("cpu", he_init(config.widths, config.seed), config)
    trainer.load(data["x_train"], data["y_train"])
    n = len(data["y_train"])
    epoch_seconds(trainer, n, config)  # warm-up: page in the data, start the threads
    quiet, loaded = [], []
    monitor = LoadMonitor()
    for _ in range(repeats):
        monitor.start()
        quiet.append(epoch_seconds(trainer, n, config))
        monitor.stop()  # the quiet epochs must have been quiet: the verdict is recorded below
        busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
        try:
            time.sleep(0.2)  # let it take its core
            loaded.append(epoch_seconds(trainer, n, config))
        finally:
            busy.kill()
            busy.wait()
    results = BenchResults(name="phase5_training_under_load")
    q, b = statistics.median(quiet), statistics.median(loaded)
    results.add(
        threads=phase3_c.threads(), quiet_s=q, loaded_s=b, ratio=b / q,
        quiet_epochs_s=quiet, loaded_epochs_s=loaded,
    )  # fmt: skip
    results.note_load(monitor, {"quiet epoch": quiet})  # the last quiet epoch, and their spread
    table = markdown_table(
        ["C library threads", "quiet epoch", "beside a busy process", "ratio"],
        [[phase3_c.threads(), f"{q:.2f} s", f"{b:.2f} s", f"{b / q:.2f}x"]],
    )
    return results, table


def _gpu_precisions() -> list[str]:
    """Every precision this GPU computes in, saying which it leaves out (TF32 and BF16 need
    compute capability 8.0); all of them where no GPU answers (the trainer then says why)."""
    from phase4_cuda.matmul import supported_precisions, unsupported

    try:
        kept = supported_precisions()
    except Exception:  # no GPU, no driver: the first run reports that in its own words
        return list(PRECISIONS)
    if why := unsupported(*PRECISIONS):
        print(f"left out: {why}", file=sys.stderr)
    return [p for p in PRECISIONS if p in kept]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "gpu"],
        help="the device our trainer and the PyTorch peers run on (default: cpu)",
    )
    p.add_argument("--epochs", type=int, default=10, help="epochs per trainer (default: 10)")
    p.add_argument(
        "--data-dir",
        help="folder with MNIST's IDX files (default: the search order of shared/datasets.py)",
    )
    p.add_argument("--json", help="write the results (with machine info) to this JSON file")
    p.add_argument(
        "--under-load",
        action="store_true",
        help="time the CPU trainer's epoch quiet and beside a busy process instead",
    )
    p.add_argument(
        "--repeats", type=int, default=3, help="--under-load: epochs of each kind (default: 3)"
    )
    p.add_argument(
        "--threads",
        type=int,
        help="threads of the C library (default: every CPU this process may use)",
    )
    p.add_argument(
        "--precisions",
        nargs="+",
        choices=PRECISIONS,
        help="GPU: the precisions of the products, for our trainer and PyTorch's captured step "
        "(default: all three on a GPU; the CPU computes in fp32)",
    )
    p.add_argument(
        "--steps",
        nargs="+",
        choices=STEPS,
        help="GPU: how our trainer runs a step, graph (CUDA graphs of eight kernels a step) and/or "
        "persistent (one cooperative kernel an epoch, fp32 only) (default: both on a GPU)",
    )
    p.add_argument(
        "--compiled",
        action="store_true",
        help="GPU: also PyTorch with the model through torch.compile inside the captured step",
    )
    return p


def _our_rows(results: BenchResults, config: TrainConfig, dataset, device: str,
              runs: list[tuple[str, str]], steps: int) -> None:  # fmt: skip
    """This project's trainer, once for each (precision, kind of step) of `runs`, into
    `results`; on a GPU its compilation and capture measured apart, in a note."""
    for precision, kind in runs:
        with tempfile.TemporaryDirectory() as out:
            metrics = train(config, out, device=device, progress=False, dataset=dataset,
                            precision=precision, step=kind)  # fmt: skip
        ours = [h["seconds"] for h in metrics["history"]]  # compilation and capture apart
        setup = None
        if device == "gpu":  # compilation and capture, measured by the trainer, in epoch 1
            setup = metrics["compile_seconds"] + metrics["capture_seconds"]
            results.notes.append(
                f"nn-foundations {precision} {kind} setup: {metrics['compile_seconds']:.2f} s "
                f"compiling or loading kernels, {metrics['capture_seconds']:.2f} s capturing graphs"
            )
        if device == "gpu":
            persistent = ", persistent step" if kind == "persistent" else ""
            name = f"nn-foundations (numba kernels, {precision}{persistent})"
        else:
            name = "nn-foundations (C library)"
        results.add(**summarise(name, ours, metrics["test"]["accuracy"], steps, setup))


def _numpy_row(results: BenchResults, config: TrainConfig, data: dict, steps: int) -> None:
    """Phase 2's NumPy network: the same steps, in NumPy's float32 (CPU only)."""
    from phase2_numpy.train import train as numpy_train

    _, history = numpy_train(config, data, progress=False)
    results.add(**summarise(
        "NumPy (Phase 2, float32)", [h["seconds"] for h in history],
        history[-1]["test_accuracy"], steps,
    ))  # fmt: skip


def _torch_rows(results: BenchResults, config: TrainConfig, data: dict, device: str,
                precisions: list[str], compiled: bool) -> None:  # fmt: skip
    """PyTorch's peers: eager, and on a GPU the step captured in a CUDA graph in each precision
    (and through torch.compile with `compiled`); a note where torch is not installed, and one
    for each captured peer that fails."""
    try:
        import torch
    except ImportError:
        results.notes.append("PyTorch is not installed: no PyTorch rows")
        return
    if device == "cpu":
        torch.set_num_threads(available_cores())  # (no sched_getaffinity on macOS, Windows)
    run = torch_run(data, config, device)
    results.add(
        **summarise(
            f"PyTorch {torch.__version__} eager", run["epoch_seconds"], run["accuracy"],
            run["steps"],
        )
    )  # fmt: skip
    if device != "gpu":
        return
    for precision in precisions:
        for with_compile in (False, True) if compiled else (False,):
            label = f"PyTorch {torch.__version__}, step in a CUDA graph, {precision}"
            label += ", torch.compile" if with_compile else ""
            try:
                run = torch_graph_run(data, config, precision, with_compile)
            except Exception as e:  # a peer that fails is reported, not fatal
                results.notes.append(f"{label}: failed ({type(e).__name__}: {e})"[:300])
                continue
            results.add(**summarise(
                label, run["epoch_seconds"], run["accuracy"], run["steps"],
                run["setup_seconds"],
            ))  # fmt: skip


def _table(results: BenchResults) -> str:
    """The rows as a Markdown table, one line a trainer."""
    rows = [
        [
            r["peer"],
            f"{r['train_s']:.3f} s",
            f"{1e3 * r['step_ms']:.1f} us",
            f"{r['setup_s']:.2f} s",
            f"{r['test_accuracy']:.2%}",
        ]
        for r in results.rows
    ]
    return markdown_table(
        ["trainer", "training time", "per step", "compile / capture", "test accuracy"], rows
    )


def _report(results: BenchResults, table: str, json_path: str | None) -> None:
    """The table, the notes under it, and the JSON file where one was asked for."""
    print(table)
    if footer := results.footer():
        print(footer)
    if json_path:
        print(f"results written to {results.write_json(json_path)}")


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    precisions = args.precisions or (_gpu_precisions() if args.device == "gpu" else ["fp32"])
    if args.device == "cpu" and precisions != ["fp32"]:
        p.error("the CPU trainer computes in fp32: --precisions tf32 and bf16 need --device gpu")
    kinds = args.steps or (list(STEPS) if args.device == "gpu" else ["graph"])
    if args.device == "cpu" and kinds != ["graph"]:
        p.error("--steps persistent needs --device gpu")
    config = TrainConfig(epochs=args.epochs)
    dataset = load_dataset(config.dataset, args.data_dir)
    data = prepare_data(dataset, config)
    if args.threads:
        import phase3_c

        phase3_c.set_threads(args.threads)
    if args.under_load:
        results, table = under_load(data, config, args.repeats)
        _report(results, table, args.json)
        return 0
    results = BenchResults(name="phase5_training")
    monitor = LoadMonitor().start()
    steps = config.epochs * math.ceil(len(data["y_train"]) / config.batch_size)
    runs = [(pr, kind) for kind in kinds for pr in precisions if kind == "graph" or pr == "fp32"]
    _our_rows(results, config, dataset, args.device, runs, steps)
    if args.device == "cpu":
        _numpy_row(results, config, data, steps)
    _torch_rows(results, config, data, args.device, precisions, args.compiled)
    monitor.stop()
    results.note_load(monitor)  # the warning, if any, is the last note: printed under the table
    _report(results, _table(results), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
