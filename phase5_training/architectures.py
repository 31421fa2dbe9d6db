"""`python -m phase5_training.architectures`: every kernel of Phase 5's training, compiled for
compute capability 7.5, 8.0, 8.6, 8.9 and 9.0 without a GPU, with the registers and spills of
each; Phase 4's command (`python -m phase4_cuda.architectures`) does the same for Phase 4's
kernels, and this one uses its machinery (the options, the checks, the table).

    python -m phase5_training.architectures [--cc 7.5 8.0 8.6 8.9 9.0] [--json FILE]

The kernels are the ones the trainers launch, found by their own planning code run on stand-ins
of the device (phase4_cuda.architectures.stand_in_gpu), for the main job's 784-512-256-10
network on MNIST in each precision: the graph step's gather, output layer and update, and its
products, whose tiles and split-K depend on the GPU's multiprocessors and on the batch (so the
step is planned for GPUs of 1 to 160 of them, for a training batch, the last batch of an epoch,
and evaluation's chunks); and the persistent step's one cooperative kernel (FP32), with its cap
on registers. The products in TF32 and BF16 need compute capability 8.0, which the table says.
"""

from __future__ import annotations

import sys

import numpy as np

from phase4_cuda.architectures import Kernel, stand_in_gpu
from phase4_cuda.architectures import main as build_main

#: MNIST's training and test images: the batches a run of the main job plans (the last batch
#: of an epoch, evaluation's chunks and their remainders)
MNIST_SIZES = (60_000, 10_000)
#: the multiprocessor counts the step is planned for: from the smallest GPU to beyond an H200's
MULTIPROCESSORS = range(1, 161)


def batch_sizes(config, eval_chunk: int = 4096) -> list[int]:
    """The batch sizes a run of `config` on MNIST plans: the batch, the last one of an epoch,
    evaluation's chunks and the last chunk of each set."""
    train, test = MNIST_SIZES
    sizes = [config.batch_size, train % config.batch_size, eval_chunk, train % eval_chunk,
             test % eval_chunk]  # fmt: skip
    return [size for size in dict.fromkeys(sizes) if size]


def graph_step_kernels() -> list[Kernel]:
    """Every kernel the graph step (gpu.py) launches, in each precision, on any of the GPUs of
    MULTIPROCESSORS, one entry per distinct kernel and argument types."""
    from numba import cuda

    from phase2_numpy.network import he_init
    from phase2_numpy.train import TrainConfig
    from phase4_cuda.matmul import compiled_kernels
    from phase5_training.gpu import GpuTrainer
    from phase5_training.train import PRECISIONS

    config = TrainConfig()
    params = he_init(config.widths)
    x, y = np.zeros((8, config.widths[0]), np.float32), np.zeros(8, np.int32)
    found = {}
    with stand_in_gpu():
        device = cuda.get_current_device()
        for precision in PRECISIONS:
            for sms in MULTIPROCESSORS:
                device.MULTIPROCESSOR_COUNT = sms
                trainer = GpuTrainer(params, config, precision=precision)
                trainer.load(x, y)
                for batch in batch_sizes(config):
                    plan = trainer.step_plan(batch)
                    for launch in (*plan.train, plan.gather, *plan.forward):
                        if hasattr(launch, "kernel"):  # (not the streams' forks and joins)
                            kernel = Kernel.of("", launch.kernel, launch.args, precision)
                            found.setdefault((id(launch.kernel), kernel.types), kernel)
    names = {id(k): name for name, k in compiled_kernels().items()}
    kernels = []
    for kernel in found.values():
        if id(kernel.kernel) in names:  # a product: Phase 4's rung, in its trainer's precision
            kernels.append(Kernel(names[id(kernel.kernel)], kernel.kernel, kernel.types,
                                  kernel.needs))  # fmt: skip
        else:  # the step's own kernels compute in float32 whatever the precision
            kernels.append(Kernel(kernel.kernel.py_func.__name__, kernel.kernel, kernel.types))
    return kernels


def persistent_kernel() -> Kernel:
    """The persistent step's kernel (persistent_kernel.py) as PersistentTrainer launches it."""
    from phase2_numpy.network import he_init
    from phase2_numpy.train import TrainConfig
    from phase5_training.persistent import PersistentTrainer
    from phase5_training.persistent_kernel import EpochData

    config = TrainConfig()
    with stand_in_gpu():
        trainer = PersistentTrainer(he_init(config.widths), config)
        trainer.load(np.zeros((8, config.widths[0]), np.float32), np.zeros(8, np.int32))
        data = EpochData(trainer.x, trainer.y, trainer.order, trainer.lrs)
        args = trainer._kernel_args(data, 0, 0)  # (the trainer's own arguments, as it launches)
    return Kernel.of("persistent step (--step persistent)", trainer.kernel, args)


def kernels() -> list[Kernel]:
    return [*graph_step_kernels(), persistent_kernel()]


def main(argv: list[str] | None = None) -> int:
    return build_main(argv, kernels, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
