"""The training loop, whichever backend runs the step: data preparation, mini-batches, the
learning-rate schedule, live progress, evaluation, checkpoints and the metrics file.

Artefacts in the output folder, each written atomically:
  checkpoint.npz   parameters + momentum + config + loop state after the last finished epoch
                   (the last good one: a diverged or interrupted run never overwrites it with bad
                   weights, and `--resume` continues from it)
  model.npz        the final parameters (a checkpoint too, loadable for evaluation and prediction)
  metrics.json     per-epoch loss and accuracy, test accuracy, per-class accuracy, confusion
                   matrix, timings, machine, config (schema nn-foundations/training/1)
"""

from __future__ import annotations

import functools
import json
import math
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from phase2_numpy.data import epoch_order, prepare_data
from phase2_numpy.network import Params, he_init
from phase2_numpy.train import TrainConfig, lr_at
from phase2_numpy.train import evaluate as evaluate_logits
from phase5_training.checkpoint import load_checkpoint, save_checkpoint
from phase5_training.trainer import Trainer
from shared.datasets import Dataset, load_dataset
from shared.files import atomic_write_text
from shared.machine import machine_info
from shared.progress import Progress

__all__ = ["METRICS_SCHEMA", "TrainingDiverged", "evaluate", "train"]

METRICS_SCHEMA = "nn-foundations/training/1"


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def evaluate(trainer: Trainer, x: np.ndarray, y: np.ndarray) -> dict:
    """Phase 2's evaluation (loss, accuracy, per-class accuracy, confusion matrix) of the
    trainer's logits for a whole set."""
    return evaluate_logits(trainer.logits(x), y)


#: what the step's matrix products can compute in: fp32 everywhere, tf32 and bf16 on the GPU's
#: tensor cores (Phase 4's PRECISIONS; named here so that the CPU path needs no numba)
PRECISIONS = ("fp32", "tf32", "bf16")
#: how the GPU runs a step: eight kernels replayed from CUDA graphs (gpu.py), or every step of an
#: epoch inside one persistent cooperative kernel (persistent.py: FP32, two hidden layers)
STEPS = ("graph", "persistent")


def make_trainer(
    device: str, params: Params, config: TrainConfig, precision: str = "fp32", step: str = "graph"
) -> Trainer:
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
    if step != "graph" and device != "gpu":
        raise ValueError(f"the {step} step runs on a GPU; the CPU trainer has one kind of step")
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}"
        )
    if precision != "fp32" and device != "gpu":
        raise ValueError(
            f"precision {precision} runs on a GPU's tensor cores; the CPU trainer (Phase 3's C "
            "library) computes in fp32"
        )
    if config.activation != "relu":  # the C row kernels and the GPU epilogue's gradient: ReLU
        raise ValueError(
            f"the {device.upper()} trainer runs ReLU hidden layers, not {config.activation}: "
            "train other activations with `python -m phase2_numpy --activation ...`"
        )
    if device == "cpu":
        from phase5_training.cpu import CpuTrainer

        return CpuTrainer(params, config)
    if device == "gpu" and step == "persistent":
        from phase5_training.persistent import PersistentTrainer

        return PersistentTrainer(params, config, precision=precision)
    if device == "gpu":
        from phase5_training.gpu import GpuTrainer

        return GpuTrainer(params, config, precision=precision)
    raise ValueError(f"no trainer for device {device!r}")


def writable_folder(path: Path) -> None:
    """Make `path` a folder we can write files in, or raise ValueError saying why not."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:  # a parent that is a file, no permission, a read-only file system
        raise ValueError(f"--out {path}: cannot write there ({e.strerror or e})") from None


def _setup_seconds(trainer: Trainer) -> float:
    """Seconds the trainer has spent so far compiling kernels and capturing graphs (0 on the CPU)."""
    return trainer.compile_seconds + trainer.capture_seconds


def train(
    config: TrainConfig,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    device: str = "cpu",
    resume: str | Path | None = None,
    progress: bool = True,
    dataset: Dataset | None = None,
    precision: str = "fp32",
    step: str = "graph",
) -> dict:
    """Train, evaluate and write the artefacts; return the metrics dict. `precision`: what the
    step's matrix products compute in (fp32; tf32 or bf16 on a GPU's tensor cores). `step`: on
    the GPU, `graph` (eight kernels a step, replayed from CUDA graphs) or `persistent` (each
    epoch one cooperative kernel; fp32, two hidden layers).

    Raises TrainingDiverged on a NaN or infinite loss (after saying where the last good
    checkpoint is) and re-raises KeyboardInterrupt after saving a checkpoint of the finished epochs.
    """
    out = Path(out_dir)
    writable_folder(out)  # before any work: a bad --out must not cost an epoch
    state = {"epoch": 0, "step": 0, "history": []}
    if resume:
        params, saved, state = load_checkpoint(resume)
        if tuple(saved.widths) != tuple(config.widths):
            raise ValueError(
                f"--resume: {resume} holds widths {saved.widths}, the run asks for {config.widths}"
            )
    else:
        params = he_init(tuple(config.widths), config.seed)
    config.validate()
    ds = dataset or load_dataset(config.dataset, data_dir)
    data = prepare_data(ds, config)
    if data["x_train"].shape[1] != config.widths[0]:
        raise ValueError(
            f"the data has {data['x_train'].shape[1]} inputs, widths start at {config.widths[0]}"
        )
    trainer = make_trainer(device, params, config, precision, step)
    trainer.load(data["x_train"], data["y_train"])
    n = len(data["y_train"])
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    checkpoint = out / "checkpoint.npz"
    finished_here = False  # an epoch of this run has been saved to `checkpoint`
    started = time.perf_counter()
    train_seconds = 0.0
    setup_before = _setup_seconds(trainer)
    test = None

    def inputs(epoch: int, first_step: int) -> tuple[np.ndarray, list[float]]:
        """An epoch's order of rows and its steps' learning rates."""
        lrs = [lr_at(config, first_step + s, total_steps) for s in range(steps_per_epoch)]
        return epoch_order(n, config, epoch), lrs

    ready: dict[int, tuple] = {}  # the next epoch's inputs, made while this one ran

    def prepare_next(epoch: int, first_step: int) -> None:
        if epoch + 1 < config.epochs:
            ready[epoch + 1] = inputs(epoch + 1, first_step + steps_per_epoch)

    try:
        for epoch in range(state["epoch"], config.epochs):
            t0 = time.perf_counter()
            loss_sum, correct = 0.0, 0
            bar = Progress(
                total=steps_per_epoch,
                desc=f"epoch {epoch + 1}/{config.epochs} ({device})",
                unit="batch",
                disable=not progress,
                warmup=1,  # the first batch may compile kernels: no rate or ETA from it
            )
            with bar:
                first = state["step"]
                order, lrs = ready.pop(epoch) if epoch in ready else inputs(epoch, first)
                # a GPU trainer calls `meanwhile` while its queued steps run: the host makes the
                # next epoch's inputs while the GPU trains, instead of between two epochs
                loss_sum, correct = trainer.run_epoch(
                    order, lrs, bar, meanwhile=functools.partial(prepare_next, epoch, first)
                )
                state["step"] += steps_per_epoch
            if not math.isfinite(loss_sum):
                where = (
                    f"the last good checkpoint is {checkpoint}"
                    if checkpoint.exists()
                    else "no epoch had finished, so no checkpoint was written"
                )
                raise TrainingDiverged(
                    f"the loss became {loss_sum} during epoch {epoch + 1}; {where}. Lower --lr or check the data."
                )
            # training time: the epoch less what it spent compiling kernels and capturing graphs
            # (the GPU trainer's first epoch), which the summary reports apart
            setup = _setup_seconds(trainer)
            seconds = time.perf_counter() - t0 - (setup - setup_before)
            setup_before = setup
            train_seconds += seconds
            record = {
                "epoch": epoch + 1,
                "train_loss": loss_sum / n,
                "train_accuracy": correct / n,
                "seconds": seconds,
            }
            test = evaluate(trainer, data["x_test"], data["y_test"])
            record |= {"test_loss": test["loss"], "test_accuracy": test["accuracy"]}
            if "x_val" in data:
                val = evaluate(trainer, data["x_val"], data["y_val"])
                record |= {"val_loss": val["loss"], "val_accuracy": val["accuracy"]}
            state["history"].append(record)
            state["epoch"] = epoch + 1
            save_checkpoint(checkpoint, trainer.params, config, state)
            finished_here = True
            print(
                f"epoch {epoch + 1}: train loss {record['train_loss']:.4f}, accuracy {record['train_accuracy']:.2%}; "
                f"test accuracy {record['test_accuracy']:.2%} ({record['seconds']:.1f} s)",
                flush=True,
            )
    except KeyboardInterrupt:
        if finished_here:
            print(
                f"\ninterrupted: the last finished epoch ({state['epoch']}) is in {checkpoint}; continue with --resume {checkpoint}",
                flush=True,
            )
        elif resume:  # no epoch of this run finished: the checkpoint it started from still holds
            print(
                f"\ninterrupted before an epoch finished: nothing new was saved; continue with --resume {resume}",
                flush=True,
            )
        else:  # what lies in the folder (if anything) is not this run's
            print("\ninterrupted before the first epoch finished: nothing was saved", flush=True)
        raise
    if test is None:  # no epoch ran (resuming a finished run): evaluate the loaded weights
        test = evaluate(trainer, data["x_test"], data["y_test"])
    metrics = {
        "schema": METRICS_SCHEMA,
        "dataset": config.dataset,
        "device": device,
        "precision": precision,
        "step": step,
        "config": asdict(config),
        "history": state["history"],
        "test": test,  # the last epoch's evaluation: the final weights
        "train_seconds": train_seconds,
        # apart from it: compiling the kernels (or loading them from the kernel cache) and
        # capturing the step's CUDA graphs, both in the first epoch (GPU trainer; 0 on the CPU)
        "compile_seconds": trainer.compile_seconds,
        "capture_seconds": trainer.capture_seconds,
        "total_seconds": time.perf_counter() - started,
        "machine": machine_info(),
        "classes": list(ds.classes),
    }
    save_checkpoint(out / "model.npz", trainer.params, config, state)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics
