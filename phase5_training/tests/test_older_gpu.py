"""The main job's GPU chain (`nox -s mnist_gpu`: Phase 4's kernel check, then the trainer) on a
GPU of compute capability 7.5, a T4, rehearsed in numba's simulator with the capability made to
read 7.5 (NNF_COMPUTE_CAPABILITY) and tiny sizes: both steps succeed, and the tensor-core rungs
are left out in one line, by the kernel check; the trainer in its default precision (FP32) has
none to leave out, and asked for TF32 it refuses in one line."""

import numpy as np
import pytest

from phase4_cuda import __main__ as kernel_check
from phase4_cuda.device import simulated
from phase4_cuda.matmul import CC_OVERRIDE
from phase5_training import __main__ as cli
from phase5_training import train as train_module
from shared.datasets import Dataset
from shared.testing import synthetic_digits

pytestmark = pytest.mark.skipif(not simulated(), reason="rehearses a T4 in the simulator")

#: the line that says which rungs are left out and why (unsupported(): "... need the tensor
#: cores' mma.sync and cp.async of compute capability 8.0 or newer; [wgmma needs ... 9.0
#: exactly ...;] this GPU is 7.5")
WHY = "this GPU is 7.5"
TENSOR_CORES = "compute capability 8.0 or newer"


def tiny_mnist(*unused, **also_unused) -> Dataset:
    """A synthetic MNIST of 64 training and 32 test images, whatever is asked for."""
    d = synthetic_digits()
    return Dataset("mnist", d.x_train[:64], d.y_train[:64], d.x_test[:32], d.y_test[:32],
                   source=None, classes=d.classes)  # fmt: skip


@pytest.mark.slow  # about 30 s of the simulator
def test_the_mnist_gpu_chain_on_a_t4(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(CC_OVERRIDE, "7.5")
    monkeypatch.setattr(train_module, "load_dataset", tiny_mnist)
    assert kernel_check.main(["--once", "--shape", "9", "7", "5"]) == 0
    check = capsys.readouterr()
    left_out = [line for line in check.out.splitlines() if WHY in line]
    assert len(left_out) == 1 and "left out: tensor_tf32, tensor_bf16" in left_out[0], check.out
    assert TENSOR_CORES in left_out[0]
    args = [
        "--device",
        "gpu",
        "--epochs",
        "1",
        "--widths",
        "784",
        "8",
        "10",
        "--limit",
        "32",
        "--batch-size",
        "32",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]  # one step
    assert cli.main(args) == 0
    trained = capsys.readouterr()
    assert "mnist on the gpu: test accuracy" in trained.out
    assert WHY not in trained.out + trained.err  # FP32 asks for no tensor core
    assert (tmp_path / "model.npz").is_file()
    assert cli.main([*args, "--precision", "tf32"]) == 2
    refused = capsys.readouterr().err
    assert refused.count("\n") == 1 and refused.startswith("error: tf32 needs") and WHY in refused
    assert TENSOR_CORES in refused
    assert np.isfinite(float(trained.out.split("test accuracy ")[1].split("%")[0]))
