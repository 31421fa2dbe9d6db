"""The training loop, whichever backend runs the step: data preparation, mini-batches, the
learning-rate schedule, live progress, evaluation, checkpoints and the metrics file.

Artefacts in the output folder, each written atomically:
  checkpoint.npz   parameters + momentum + config + loop state after the last finished epoch
                   (the last good one: a diverged or interrupted run never overwrites it with bad
                   weights, and `--resume` continues from it)
  model.npz        the final parameters (a checkpoint too, loadable for evaluation and prediction)
  .in-use          while a run writes the folder: its process id and host (a second run into
                   the same folder stops at once; a dead run's is taken over)
  metrics.json     per-epoch loss and accuracy, test accuracy, per-class accuracy, confusion
                   matrix, timings, machine, config (schema nn-foundations/training/1)
"""

from __future__ import annotations

import functools
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from phase2_numpy.data import epoch_order, prepare_data
from phase2_numpy.network import Params, he_init
from phase2_numpy.train import TrainConfig, lr_at
from phase2_numpy.train import evaluate as evaluate_logits
from phase5_training.checkpoint import load_checkpoint, save_checkpoint
from phase5_training.trainer import Trainer
from shared.datasets import Dataset, load_dataset
from shared.files import atomic_write_text, hold_folder
from shared.machine import machine_info
from shared.progress import Progress

__all__ = [
    "METRICS_SCHEMA",
    "SaveFailed",
    "TrainingDiverged",
    "evaluate",
    "resume_differences",
    "train",
]

METRICS_SCHEMA = "nn-foundations/training/1"


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def evaluate(trainer: Trainer, x: np.ndarray, y: np.ndarray) -> dict:
    """Phase 2's evaluation (loss, accuracy, per-class accuracy, confusion matrix) of the
    trainer's logits for a whole set."""
    return evaluate_logits(trainer.logits(x), y)


#: what the step's matrix products can compute in: fp32 everywhere, tf32 and bf16 on the GPU's
#: tensor cores. Phase 4's PRECISIONS (a test holds them equal), written here because importing
#: Phase 4 imports numba, which the CPU path must not need. Every command line of Phase 5 reads
#: its choices from here; the first is the default (step for step the CPU trainer's).
PRECISIONS = ("fp32", "tf32", "bf16")
#: how the GPU runs a step: eight kernels replayed from CUDA graphs (gpu.py), or every step of an
#: epoch inside one persistent cooperative kernel (persistent.py: FP32, two hidden layers). The
#: first is the default, and the only kind of step the CPU trainer has.
STEPS = ("graph", "persistent")


def make_trainer(
    device: str,
    params: Params,
    config: TrainConfig,
    precision: str = PRECISIONS[0],
    step: str = STEPS[0],
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
    precision: str = PRECISIONS[0],
    step: str = STEPS[0],
    test_limit: int | None = None,
) -> dict:
    """Train, evaluate and write the artefacts; return the metrics dict (metrics.json's
    content, `_metrics`: its "history" a list of one record per epoch, `_epoch_record`'s, with
    "epoch" counted from 1 over the whole run, a resumed one included). `precision`: what the
    step's matrix products compute in (fp32; tf32 or bf16 on a GPU's tensor cores). `step`: on
    the GPU, `graph` (eight kernels a step, replayed from CUDA graphs) or `persistent` (each
    epoch one cooperative kernel; fp32, two hidden layers). `test_limit`: evaluate on the first
    that many test images only (default: all of them).

    Raises TrainingDiverged on a NaN or infinite loss (after saying where the last good
    checkpoint is) and re-raises KeyboardInterrupt after saving a checkpoint of the finished epochs.
    """
    out = Path(out_dir)
    writable_folder(out)  # before any work: a bad --out must not cost an epoch
    if test_limit is not None and test_limit < 1:
        raise ValueError(f"--test-limit must be at least 1, got {test_limit}")
    with hold_folder(out):  # a second run into `out` stops here, naming this one
        return _train_held(config, out, data_dir, device, resume, progress, dataset, precision,
                           step, test_limit)  # fmt: skip


def _train_held(
    config: TrainConfig, out: Path, data_dir, device: str, resume, progress: bool,
    dataset: Dataset | None, precision: str, step: str, test_limit: int | None,
) -> dict:  # fmt: skip
    """train(), in the folder `out` that this process holds."""
    params, state = _starting_point(config, resume)
    config.validate()
    ds = dataset or load_dataset(config.dataset, data_dir)
    data = _prepare_data(ds, config, test_limit)
    trainer = make_trainer(device, params, config, precision, step)
    trainer.load(data["x_train"], data["y_train"])
    inputs = _EpochInputs(config, len(data["y_train"]))
    checkpoint = out / "checkpoint.npz"
    finished_here = False  # an epoch of this run has been saved to `checkpoint`
    started, train_seconds, test = time.perf_counter(), 0.0, None
    try:
        for epoch in range(state["epoch"], config.epochs):
            loss_sum, correct, seconds = _train_epoch(trainer, inputs, epoch, state, device,
                                                      progress)  # fmt: skip
            if not math.isfinite(loss_sum):
                raise _diverged(loss_sum, epoch, checkpoint)
            train_seconds += seconds
            record, test = _epoch_record(trainer, data, epoch, loss_sum, correct, seconds)
            state["history"].append(record)
            state["epoch"] = epoch + 1
            _saving(checkpoint, lambda: save_checkpoint(checkpoint, trainer.params, config, state))
            finished_here = True
            print(_epoch_line(record), flush=True)
    except KeyboardInterrupt:
        print(_interrupted(finished_here, state, checkpoint, resume), flush=True)
        raise
    if test is None:  # no epoch ran (resuming a finished run): evaluate the loaded weights
        test = evaluate(trainer, data["x_test"], data["y_test"])
    metrics = _metrics(config, ds, trainer, state, test, device=device, precision=precision,
                       step=step, train_seconds=train_seconds, started=started)  # fmt: skip
    _saving(
        out / "model.npz", lambda: save_checkpoint(out / "model.npz", trainer.params, config, state)
    )
    _saving(out / "metrics.json",
            lambda: atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n"))  # fmt: skip
    return metrics


class SaveFailed(ValueError):
    """A file could not be written (a full disk, a folder gone): what is left is whole."""


def _saving(path: Path, write) -> None:
    """`write()` (an atomic write of `path`), its OSError said in one line: the file there
    before, if any, is whole and no temporary file is left (shared.files.atomic_write)."""
    try:
        write()
    except OSError as e:
        before = "the one there before is whole" if path.exists() else "nothing is there"
        raise SaveFailed(
            f"could not write {path} ({e.strerror or e}); {before}, no temporary file is left"
        ) from None


def resume_differences(saved: TrainConfig, config: TrainConfig) -> list[str]:
    """What `config` would change of the run saved with `saved`: every setting that shapes the
    run (the data, its split and order, the network, the optimiser and its schedule), named
    with both values. The number of epochs may grow (the one-cycle schedule then stretches to
    it); the trainer resumes the saved run, never a mixture of two."""
    ours, theirs = asdict(config), asdict(saved)
    ours["widths"], theirs["widths"] = tuple(ours["widths"]), tuple(theirs["widths"])
    return [
        f"{key} {ours[key]!r} (the checkpoint's run: {theirs[key]!r})"
        for key in ours
        if key != "epochs" and ours[key] != theirs[key]
    ]


def _starting_point(config: TrainConfig, resume: str | Path | None) -> tuple[Params, dict]:
    """The parameters and the loop's state to start from: those of the checkpoint `resume`
    (whose settings must be the run's, see resume_differences), else He-initialised weights
    before the first epoch."""
    state = {"epoch": 0, "step": 0, "history": []}
    if not resume:
        return he_init(tuple(config.widths), config.seed), state
    params, saved, state = load_checkpoint(resume)
    if differences := resume_differences(saved, config):
        raise ValueError(f"--resume {resume}: the run asks for " + "; ".join(differences))
    if config.epochs < state["epoch"]:
        raise ValueError(
            f"--resume {resume}: its run has finished {state['epoch']} epochs, more than "
            f"--epochs {config.epochs}"
        )
    return params, state


def _prepare_data(ds: Dataset, config: TrainConfig, test_limit: int | None = None) -> dict:
    """Phase 2's preparation of the data set (scaled, split, limited), checked against the
    network's inputs; with `test_limit`, the first that many test images only."""
    data = prepare_data(ds, config)
    if test_limit is not None:
        data["x_test"], data["y_test"] = data["x_test"][:test_limit], data["y_test"][:test_limit]
    if data["x_train"].shape[1] != config.widths[0]:
        raise ValueError(
            f"the data has {data['x_train'].shape[1]} inputs, widths start at {config.widths[0]}"
        )
    return data


@dataclass
class _EpochInputs:
    """Each epoch's order of the training set's rows and its steps' learning rates, the next
    epoch's made ahead (`prepare_next`) where the trainer lets the host work while it trains."""

    config: TrainConfig
    n: int  # rows of the training set
    ready: dict[int, tuple[np.ndarray, list[float]]] = field(default_factory=dict)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.n / self.config.batch_size)

    def make(self, epoch: int, first_step: int) -> tuple[np.ndarray, list[float]]:
        """Epoch `epoch`'s order of rows and its steps' learning rates, its first step being the
        run's `first_step` (the schedule spans every step of every epoch)."""
        total_steps = self.config.epochs * self.steps_per_epoch
        lrs = [lr_at(self.config, first_step + s, total_steps) for s in range(self.steps_per_epoch)]
        return epoch_order(self.n, self.config, epoch), lrs

    def take(self, epoch: int, first_step: int) -> tuple[np.ndarray, list[float]]:
        """Epoch `epoch`'s inputs: made ahead by prepare_next, else made now."""
        return self.ready.pop(epoch) if epoch in self.ready else self.make(epoch, first_step)

    def prepare_next(self, epoch: int, first_step: int) -> None:
        """Make the inputs of the epoch after `epoch` (whose first step is `first_step`), if the
        run has one."""
        if epoch + 1 < self.config.epochs:
            self.ready[epoch + 1] = self.make(epoch + 1, first_step + self.steps_per_epoch)


def _train_epoch(
    trainer: Trainer, inputs: _EpochInputs, epoch: int, state: dict, device: str, progress: bool
) -> tuple[float, int, float]:
    """One epoch of training under a progress bar, moving state["step"] on: the summed loss, the
    number classified right, and the seconds it took less what it spent compiling kernels and
    capturing graphs (the GPU trainer's first epoch), which the summary reports apart."""
    t0, setup_before = time.perf_counter(), _setup_seconds(trainer)
    bar = Progress(
        total=inputs.steps_per_epoch,
        desc=f"epoch {epoch + 1}/{inputs.config.epochs} ({device})",
        unit="batch",
        disable=not progress,
        warmup=1,  # the first batch may compile kernels: no rate or ETA from it
    )
    with bar:
        first = state["step"]
        order, lrs = inputs.take(epoch, first)
        # a GPU trainer calls `meanwhile` while its queued steps run: the host makes the next
        # epoch's inputs while the GPU trains, instead of between two epochs
        loss_sum, correct = trainer.run_epoch(
            order, lrs, bar, meanwhile=functools.partial(inputs.prepare_next, epoch, first)
        )
        state["step"] += inputs.steps_per_epoch
    seconds = time.perf_counter() - t0 - (_setup_seconds(trainer) - setup_before)
    return loss_sum, correct, seconds


def _diverged(loss_sum: float, epoch: int, checkpoint: Path) -> TrainingDiverged:
    """The error a non-finite loss raises: when, and where the last good checkpoint is."""
    where = (
        f"the last good checkpoint is {checkpoint}"
        if checkpoint.exists()
        else "no epoch had finished, so no checkpoint was written"
    )
    return TrainingDiverged(
        f"the loss became {loss_sum} during epoch {epoch + 1}; {where}. Lower --lr or check the data."
    )


def _epoch_record(
    trainer: Trainer, data: dict, epoch: int, loss_sum: float, correct: int, seconds: float
) -> tuple[dict, dict]:
    """The epoch's entry in the history (training loss and accuracy, seconds, the test set's and
    any validation set's loss and accuracy), and the test set's whole evaluation."""
    n = len(data["y_train"])
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
    return record, test


def _epoch_line(record: dict) -> str:
    """What the loop prints after each epoch."""
    return (
        f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, accuracy {record['train_accuracy']:.2%}; "
        f"test accuracy {record['test_accuracy']:.2%} ({record['seconds']:.1f} s)"
    )


def _interrupted(finished_here: bool, state: dict, checkpoint: Path, resume) -> str:
    """What an interrupted run says it leaves behind: an epoch of this run finished, the
    checkpoint and "--resume CHECKPOINT"; resumed but none finished, "nothing new was saved;
    continue with --resume RESUME" (the checkpoint it started from); else "nothing was saved"."""
    if finished_here:
        return f"\ninterrupted: the last finished epoch ({state['epoch']}) is in {checkpoint}; continue with --resume {checkpoint}"
    if resume:  # no epoch of this run finished: the checkpoint it started from still holds
        return f"\ninterrupted before an epoch finished: nothing new was saved; continue with --resume {resume}"
    # what lies in the folder (if anything) is not this run's
    return "\ninterrupted before the first epoch finished: nothing was saved"


def _metrics(
    config: TrainConfig, ds: Dataset, trainer: Trainer, state: dict, test: dict, *,
    device: str, precision: str, step: str, train_seconds: float, started: float,
) -> dict:  # fmt: skip
    """metrics.json's content (schema METRICS_SCHEMA)."""
    return {
        "schema": METRICS_SCHEMA,
        "dataset": config.dataset,
        "device": device,
        "precision": precision,
        "step": step,
        "config": asdict(config),
        "history": state["history"],
        "test": test,  # the last epoch's evaluation: the final weights
        "test_images": sum(map(sum, test["confusion"])),
        "train_seconds": train_seconds,
        # apart from it: compiling the kernels (or loading them from the kernel cache) and
        # capturing the step's CUDA graphs, both in the first epoch (GPU trainer; 0 on the CPU)
        "compile_seconds": trainer.compile_seconds,
        "capture_seconds": trainer.capture_seconds,
        "total_seconds": time.perf_counter() - started,
        "machine": machine_info(),
        "classes": list(ds.classes),
    }
