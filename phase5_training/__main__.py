"""Train an MLP on MNIST (or Fashion-MNIST) with the project's own kernels.

    python -m phase5_training [--device auto|cpu|gpu] [--epochs 10] [--threads N] [--out DIR] ...
    python -m phase5_training --help      every option, with its default

`--device auto` trains on the GPU with Phase 4's kernels where numba-cuda is installed and a GPU
is visible, else on the CPU with Phase 3's C library, and says which. The CPU path needs no numba.
Exit codes: 0 done, 1 the training diverged (NaN loss), 2 bad arguments or data (or a file that
could not be written: the files there before stay whole), 130 interrupted.

`--resume CHECKPOINT` continues the run saved there with that run's settings: an option left
out takes the checkpoint's value, and one given with another value (a seed, a limit, the batch
size, the validation share, the learning rate, the schedule, the widths...) is refused, naming
each, since the result would be neither run. `--epochs` may lengthen the run (the one-cycle
schedule then stretches to the new length, which the run says), never shorten it below the
epochs already done. One run at a time writes an `--out` folder.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, replace

from phase2_numpy.train import TrainConfig
from phase5_training.train import PRECISIONS, STEPS
from shared.cli import OneLineParser
from shared.datasets import DataNotFoundError
from shared.idx import IdxError
from shared.machine import gpu_status
from shared.progress import ClosedPipeSafe


class _Help(argparse.HelpFormatter):
    """Every option's help ends with its default, where it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
            or isinstance(action, argparse._StoreFalseAction)  # a switch: its name says it
        ):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, list | tuple) else "%(default)s"
        return f"{text} (default: {shown})"


def _threads(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_THREADS}, got {value}")
    return value


def _folder(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name is no folder")
    return text


#: the most threads the C library runs its product on (phase3_c's set_threads)
MAX_THREADS = 256


def parse(argv: list[str] | None) -> argparse.Namespace:
    return _parser().parse_args(argv)


def given(argv: list[str] | None) -> set[str]:
    """The options `argv` sets itself (not left to their defaults), by their dest names."""
    p = _parser()
    for action in p._actions:
        action.default = argparse.SUPPRESS
    return set(vars(p.parse_args(argv)))


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()  # the defaults
    p = OneLineParser(
        prog="python -m phase5_training",
        description=__doc__.split("\n\n")[0],
        formatter_class=_Help,
    )
    # in the order --help lists them
    _data_options(p, d)
    _device_options(p)
    _network_options(p, d)
    _schedule_options(p, d)
    _run_options(p)
    _gpu_step_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _data_options(p: argparse.ArgumentParser, d: TrainConfig) -> None:
    """Which data set, and where its files are."""
    p.add_argument(
        "--dataset",
        default=d.dataset,
        choices=["mnist", "fashion-mnist"],
        help="the data set to train on",
    )
    p.add_argument(
        "--data-dir",
        help="a folder holding the data set's four IDX files; by default "
        "$NNF_DATA_DIR, then the user's cache, then a download (see shared/datasets.py)",
    )


def _device_options(p: argparse.ArgumentParser) -> None:
    """Where to train, and the C library's threads on the CPU."""
    p.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "gpu"],
        help="where to train: the GPU with Phase 4's kernels, the CPU with Phase 3's C "
        "library, or auto (the GPU where there is one)",
    )
    p.add_argument(
        "--threads",
        type=_threads,
        metavar="N",
        help="threads of the C library's products on the CPU (default: every CPU "
        "this process may use, or $NN_NUM_THREADS)",
    )


def _network_options(p: argparse.ArgumentParser, d: TrainConfig) -> None:
    """The network and its optimiser: widths, epochs, batch size, SGD's settings."""
    p.add_argument(
        "--widths",
        type=int,
        nargs="+",
        default=list(d.widths),
        metavar="N",
        help="layer widths, from the 784 pixels to the 10 classes",
    )
    p.add_argument("--epochs", type=int, default=d.epochs, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="images per SGD step")
    p.add_argument(
        "--lr",
        type=float,
        default=d.lr,
        help="peak learning rate (the one-cycle schedule warms up to it, then decays)",
    )
    p.add_argument("--momentum", type=float, default=d.momentum, help="SGD momentum")
    p.add_argument(
        "--no-nesterov",
        dest="nesterov",
        action="store_false",
        help="plain momentum instead of Nesterov's",
    )
    p.add_argument(
        "--weight-decay",
        type=float,
        default=d.weight_decay,
        help="L2 weight decay on the weights (not the biases)",
    )


def _schedule_options(p: argparse.ArgumentParser, d: TrainConfig) -> None:
    """The learning-rate schedule, the validation split and the seed."""
    p.add_argument(
        "--schedule",
        default=d.schedule,
        choices=["onecycle", "constant"],
        help="learning-rate schedule",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=d.val_fraction,
        help="share of the training set held out for validation",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=d.seed,
        help="seed of the initial weights, the batch order and the validation split",
    )


def _run_options(p: argparse.ArgumentParser) -> None:
    """How much data, where the run's files go, resuming and evaluating."""
    p.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="train on the first N training images only, for a quick look (default: all)",
    )
    p.add_argument(
        "--test-limit",
        type=int,
        metavar="N",
        help="evaluate on the first N test images only (default: all; in numba's CUDA simulator, "
        "the --limit)",
    )
    p.add_argument(
        "--out",
        type=_folder,
        default="results/mnist",
        help="folder for the checkpoint, the model and metrics.json",
    )
    p.add_argument(
        "--resume", metavar="CHECKPOINT", help="continue a stopped run from its checkpoint.npz"
    )
    p.add_argument(
        "--evaluate", metavar="MODEL", help="only evaluate a saved model.npz on the test set"
    )


def _gpu_step_options(p: argparse.ArgumentParser) -> None:
    """How the GPU computes a step: its precision and its kind."""
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=PRECISIONS[0],
        help="what the GPU step's matrix products compute in: fp32 (step for step the CPU "
        "trainer's), or tf32 / bf16 on the tensor cores (float32 weights and sums; GPU only)",
    )
    p.add_argument(
        "--step",
        choices=STEPS,
        default=STEPS[0],
        help="how the GPU runs a step: graph (eight kernels a step, replayed from CUDA graphs) or "
        "persistent (every step of an epoch in one cooperative kernel; fp32, two hidden layers)",
    )


class DeviceError(ValueError):
    """The requested device cannot be used here; the message says what would fix it."""


def pick_device(requested: str) -> str:
    """'cpu' or 'gpu'; DeviceError when `--device gpu` cannot be met. `auto` takes the GPU only
    where numba-cuda is installed and a real GPU is visible, and says which it took and why."""
    if requested == "cpu":
        return "cpu"
    status = gpu_status()
    if requested == "gpu":
        if status.simulated:  # tests, and learners without a GPU: say why it is slow
            print(
                "device: gpu, in numba's CUDA simulator (each CUDA thread a Python thread, about "
                "a million times slower: keep --limit, --widths and --batch-size small)",
                flush=True,
            )
            return "gpu"
        if status.usable:
            return "gpu"
        if not status.installed:
            raise DeviceError(
                f"--device gpu needs numba-cuda, which is not installed: {status.fix}"
            )
        from phase4_cuda.device import SIMULATOR_SWITCH

        raise DeviceError(
            f"--device gpu: no CUDA GPU here ({status.summary}). Use --device cpu, or set "
            f"{SIMULATOR_SWITCH} to run the GPU trainer's kernels in numba's simulator (slow: "
            "small runs only)"
        )
    if status.usable:
        print(f"device: gpu, with Phase 4's kernels ({status.summary})", flush=True)
        return "gpu"
    why = (
        f"no GPU support: {status.summary}" if not status.installed else f"no GPU: {status.summary}"
    )
    print(f"device: cpu, with Phase 3's C library ({why})", flush=True)
    return "cpu"


def _test_limit(args: argparse.Namespace, device: str) -> int | None:
    """The --test-limit, which in numba's CUDA simulator follows --limit unless given: a small run
    there stays small to its end (the whole test set would take the simulator hours)."""
    if args.test_limit is not None or args.limit is None or device != "gpu":
        return args.test_limit
    if not gpu_status().simulated:
        return None
    print(f"evaluating on the first {args.limit} test images, as --limit (--test-limit to change)",
          flush=True)  # fmt: skip
    return args.limit


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stdout, sys.stdout = sys.stdout, ClosedPipeSafe(sys.stdout)  # `| head -1` ends the printing
    try:
        return _main(args, argv)
    finally:
        sys.stdout = stdout


def _config(args: argparse.Namespace, argv: list[str] | None) -> TrainConfig:
    """The run's configuration: the options' values, or with --resume the checkpoint's run's,
    with the options given on this command line over them (train() refuses those that differ)."""
    keys = [f.name for f in fields(TrainConfig) if hasattr(args, f.name)]
    chosen = {key: getattr(args, key) for key in keys} | {"widths": tuple(args.widths)}
    if not args.resume:
        return TrainConfig(**chosen)
    from phase5_training.checkpoint import load_checkpoint

    _, saved, state = load_checkpoint(args.resume)
    explicit = {key: chosen[key] for key in given(argv) if key in chosen}
    if (
        "epochs" in explicit
        and saved.schedule == "onecycle"  # a constant rate does not depend on the length
        and explicit["epochs"] != saved.epochs
        and explicit["epochs"] >= state["epoch"]
    ):
        print(f"note: --epochs {explicit['epochs']}, where the checkpoint's run was set to "
              f"{saved.epochs}: its schedule stretches to the new length")  # fmt: skip
    return replace(saved, **explicit)


def _main(args: argparse.Namespace, argv: list[str] | None) -> int:
    from phase2_numpy.data import prepare_data
    from phase5_training.train import TrainingDiverged, evaluate, make_trainer, train

    if args.threads:  # the C library's products: training and evaluation on the CPU
        import phase3_c

        phase3_c.set_threads(args.threads)
    try:
        if args.evaluate and args.resume:
            raise ValueError(
                "--evaluate measures a saved model, --resume continues a run: not both"
            )
        if args.evaluate:
            from phase5_training.checkpoint import load_checkpoint
            from shared.datasets import load_dataset

            params, saved, _ = load_checkpoint(args.evaluate)
            data = prepare_data(load_dataset(saved.dataset, args.data_dir), saved)
            result = evaluate(make_trainer("cpu", params, saved), data["x_test"], data["y_test"])
            print(
                f"{args.evaluate}: test accuracy {result['accuracy']:.2%}, loss {result['loss']:.4f}"
            )
            return 0
        config = _config(args, argv)
        config.validate()
        if args.precision != "fp32" and args.device == "cpu":
            raise ValueError(
                f"--precision {args.precision} runs on a GPU's tensor cores; the CPU trainer "
                "(Phase 3's C library) computes in fp32"
            )
        if args.step != "graph" and args.device == "cpu":
            raise ValueError(
                f"--step {args.step} runs on a GPU; the CPU trainer has one kind of step"
            )
        device = pick_device(args.device)
        test_limit = _test_limit(args, device)
        metrics = train(
            config, args.out, args.data_dir, device, args.resume, progress=not args.no_progress,
            precision=args.precision, step=args.step, test_limit=test_limit,
        )  # fmt: skip
    except (ValueError, DataNotFoundError, IdxError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "error: not enough memory for this run (smaller --widths or --limit)", file=sys.stderr
        )
        return 2
    except TrainingDiverged as e:
        print(f"error: training diverged: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    test = metrics["test"]
    seconds = metrics["train_seconds"]
    print(
        f"{config.dataset} on the {device}"
        + (f" in {args.precision}" if args.precision != "fp32" else "")
        + (f" ({args.step} step)" if args.step != "graph" else "")
        + f": test accuracy {test['accuracy']:.2%}"
        + (f" (first {metrics['test_images']} test images)" if test_limit else "")
        + " after "
        f"{_plural(config.epochs, 'epoch')}, {seconds:.{1 if seconds >= 10 else 2}f} s of training; "
        f"artefacts in {args.out}"
    )
    if metrics["compile_seconds"] or metrics["capture_seconds"]:
        print(
            f"before it: {metrics['compile_seconds']:.2f} s compiling the kernels or loading them "
            f"from the cache, {metrics['capture_seconds']:.2f} s capturing CUDA graphs"
        )
    worst = min(range(len(test["per_class_accuracy"])), key=test["per_class_accuracy"].__getitem__)
    print(f"hardest class: {metrics['classes'][worst]} ({test['per_class_accuracy'][worst]:.2%})")
    print(f"its figures: python -m phase6_report --run {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
