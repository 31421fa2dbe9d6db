"""Benchmark of Phase 5: the reference configuration trained by this project's trainer and, in the
same run and on the same device, by PyTorch eager (when torch is installed; left out with a note
otherwise).

    python -m phase5_training.benchmark [--device cpu|gpu] [--epochs 10] [--json FILE]

Both train 784-512-256-10 with the same data, the same mini-batches in the same order, the same
initial weights, the same one-cycle schedule, and SGD with Nesterov momentum 0.9 and weight decay
on the weights only. Reported: training time (all epochs), time per step, the first epoch's extra
time (JIT compilation, for numba), and test accuracy. PyTorch with the step captured in a CUDA
graph, the issue's other peer, is not here yet.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time

import numpy as np

from phase5_training.mlp import TrainConfig, he_init, lr_at
from phase5_training.train import prepare_data, train
from shared.batches import minibatch_indices
from shared.bench import BenchResults, markdown_table
from shared.datasets import load_dataset


def torch_run(data: dict, config: TrainConfig, device: str) -> dict:
    """The same training in PyTorch eager; returns epoch times and test accuracy."""
    import torch

    dev = torch.device("cuda" if device == "gpu" else "cpu")
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
        order = np.concatenate(
            list(minibatch_indices(n, config.batch_size, seed=config.seed * 1000 + epoch))
        )
        order_t = torch.from_numpy(order).to(dev)
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
    with torch.no_grad():
        predicted = model(torch.from_numpy(data["x_test"]).to(dev)).argmax(dim=1).cpu().numpy()
    return {
        "epoch_seconds": seconds,
        "accuracy": float((predicted == data["y_test"]).mean()),
        "steps": total,
    }


def summarise(name: str, epoch_seconds: list[float], accuracy: float, steps: int) -> dict:
    later = sorted(epoch_seconds[1:]) or epoch_seconds
    steady = later[len(later) // 2]
    return {
        "peer": name,
        "train_s": sum(epoch_seconds),
        "step_ms": 1e3 * sum(epoch_seconds) / steps,
        "first_epoch_extra_s": max(0.0, epoch_seconds[0] - steady),
        "test_accuracy": accuracy,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--data-dir")
    p.add_argument("--json", help="write the results (with machine info) to this JSON file")
    args = p.parse_args(argv)
    config = TrainConfig(epochs=args.epochs)
    dataset = load_dataset(config.dataset, args.data_dir)
    data = prepare_data(dataset, config)
    results = BenchResults(name="phase5_training")
    with tempfile.TemporaryDirectory() as out:
        metrics = train(config, out, device=args.device, progress=False, dataset=dataset)
    ours = [h["seconds"] for h in metrics["history"]]
    steps = config.epochs * math.ceil(len(data["y_train"]) / config.batch_size)
    results.add(
        **summarise(f"nn-foundations ({args.device})", ours, metrics["test"]["accuracy"], steps)
    )
    try:
        import torch

        if args.device == "cpu":
            torch.set_num_threads(max(1, len(__import__("os").sched_getaffinity(0))))
        run = torch_run(data, config, args.device)
        results.add(
            **summarise(
                f"PyTorch {torch.__version__} eager ({args.device})",
                run["epoch_seconds"],
                run["accuracy"],
                run["steps"],
            )
        )
    except ImportError:
        results.notes.append("PyTorch is not installed: no PyTorch row")
    rows = [
        [
            r["peer"],
            f"{r['train_s']:.2f} s",
            f"{r['step_ms']:.3f} ms",
            f"{r['first_epoch_extra_s']:.2f} s",
            f"{r['test_accuracy']:.2%}",
        ]
        for r in results.rows
    ]
    print(
        markdown_table(
            ["trainer", "training time", "per step", "first epoch's extra", "test accuracy"], rows
        )
    )
    for note in results.notes:
        print(f"Note: {note}")
    if args.json:
        print(f"results written to {results.write_json(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
