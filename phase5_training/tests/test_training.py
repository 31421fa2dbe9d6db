"""The training loop end to end on a small synthetic data set: it learns, writes its artefacts
atomically, resumes exactly, and keeps the last good checkpoint when a run diverges or is stopped."""

import json

import numpy as np
import pytest

from phase2_numpy.train import TrainConfig
from phase5_training import __main__ as cli
from phase5_training import train as train_module
from phase5_training.checkpoint import load_checkpoint, save_checkpoint
from phase5_training.train import TrainingDiverged, train
from shared.datasets import find_dataset
from shared.testing import recorded_bars

SMALL = dict(widths=(784, 32, 10), batch_size=32, lr=0.1)


@pytest.mark.exercise(id="5.2")
def test_learns_and_writes_its_artefacts(tiny_digits, tmp_path):
    metrics = train(TrainConfig(epochs=3, **SMALL), tmp_path, dataset=tiny_digits, progress=False)
    assert metrics["test"]["accuracy"] > 0.9
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3]
    assert metrics["history"][-1]["train_loss"] < metrics["history"][0]["train_loss"]
    for record in metrics["history"]:  # means over the training rows: a loss of about log 10
        assert 0 < record["train_loss"] < 3 and 0 <= record["train_accuracy"] <= 1, (
            f"history: train_loss and train_accuracy are means over the training rows: {record}"
        )
    confusion = np.array(metrics["test"]["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 200
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["schema"] == "nn-foundations/training/1" and on_disk["device"] == "cpu"
    params, config, state = load_checkpoint(tmp_path / "model.npz")
    assert (
        config.widths == (784, 32, 10) and state["epoch"] == 3 and params.W[0].dtype == np.float32
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.npz",
        "metrics.json",
        "model.npz",
    ]


@pytest.mark.exercise(id="5.2")
def test_times_each_epoch_under_a_bar_named_after_it(tiny_digits, tmp_path, monkeypatch):
    bars = recorded_bars(monkeypatch, train_module)
    metrics = train(TrainConfig(epochs=2, **SMALL), tmp_path, dataset=tiny_digits, progress=False)
    assert [bar.desc for bar in bars] == ["epoch 1/2 (cpu)", "epoch 2/2 (cpu)"]
    assert all(bar.warmup == 1 for bar in bars), "the first batch may compile: not in the rate"
    seconds = [record["seconds"] for record in metrics["history"]]
    assert metrics["train_seconds"] == pytest.approx(sum(seconds)), "the epochs' seconds, summed"


def interrupt_at(monkeypatch, step_number):
    """Make the trainer raise KeyboardInterrupt (as Ctrl-C would) on its `step_number`-th step."""
    make = train_module.make_trainer
    calls = {"n": 0}

    def make_trainer(device, params, config, precision="fp32", step="graph"):
        trainer = make(device, params, config, precision, step)
        original = trainer.step

        def step(x, y, lr):
            calls["n"] += 1
            if calls["n"] == step_number:
                raise KeyboardInterrupt
            return original(x, y, lr)

        trainer.step = step
        return trainer

    monkeypatch.setattr(train_module, "make_trainer", make_trainer)


@pytest.mark.exercise(id="5.2")
def test_resume_continues_exactly(tiny_digits, tmp_path, monkeypatch):
    config = TrainConfig(epochs=2, **SMALL)
    train(config, tmp_path / "straight", dataset=tiny_digits, progress=False)
    with monkeypatch.context() as m:
        interrupt_at(m, 20)  # the first step of epoch 2 (19 steps an epoch)
        with pytest.raises(KeyboardInterrupt):
            train(config, tmp_path / "stopped", dataset=tiny_digits, progress=False)
    resumed = train(config, tmp_path / "resumed", dataset=tiny_digits, progress=False,
                    resume=tmp_path / "stopped" / "checkpoint.npz")  # fmt: skip
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    a, _, _ = load_checkpoint(tmp_path / "straight" / "model.npz")
    b, _, _ = load_checkpoint(tmp_path / "resumed" / "model.npz")
    for x, y in zip(a.W + a.b + a.vW + a.vb, b.W + b.b + b.vW + b.vb, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.exercise(id="5.2")
def test_each_epochs_inputs_are_made_while_the_epoch_before_runs(tiny_digits, tmp_path,
                                                                 monkeypatch):  # fmt: skip
    # The loop hands run_epoch a `meanwhile` that makes the next epoch's order and learning
    # rates (a GPU trainer calls it while its queued steps run): each epoch's order after the
    # first is made inside the run_epoch before it, and is the order the epoch would have made.
    import math

    from phase2_numpy.data import epoch_order
    from phase2_numpy.train import lr_at

    events, seen = [], []
    make = train_module.make_trainer

    def counted_order(n, config, epoch):
        events.append(f"order {epoch}")
        return epoch_order(n, config, epoch)

    def make_trainer(device, params, config, precision="fp32", step="graph"):
        trainer = make(device, params, config, precision, step)
        original = trainer.run_epoch

        def run_epoch(order, lrs, bar=None, meanwhile=None):
            events.append("run")
            seen.append((order.copy(), list(lrs)))
            result = original(order, lrs, bar, meanwhile)
            events.append("ran")
            return result

        trainer.run_epoch = run_epoch
        return trainer

    monkeypatch.setattr(train_module, "make_trainer", make_trainer)
    monkeypatch.setattr(train_module, "epoch_order", counted_order)
    config = TrainConfig(epochs=3, **SMALL)
    train(config, tmp_path, dataset=tiny_digits, progress=False)
    assert events == ["order 0", "run", "order 1", "ran", "run", "order 2", "ran", "run", "ran"]
    n = len(seen[0][0])
    steps = math.ceil(n / config.batch_size)
    for epoch, (order, lrs) in enumerate(seen):
        np.testing.assert_array_equal(order, epoch_order(n, config, epoch))
        assert lrs == [lr_at(config, epoch * steps + s, 3 * steps) for s in range(steps)], (
            f"epoch {epoch + 1}'s learning rates: the schedule spans every step of the run, "
            "each epoch's counted on from the steps before it (a resumed run's too)"
        )


@pytest.mark.exercise(id="5.2")
def test_divergence_keeps_the_last_good_checkpoint(tiny_digits, tmp_path):
    train(TrainConfig(epochs=1, **SMALL), tmp_path, dataset=tiny_digits, progress=False)
    # the same run, saved as if its settings had been wild from the start (--resume continues a
    # run with its own settings only)
    wild = TrainConfig(epochs=2, widths=(784, 32, 10), batch_size=32, lr=1e30, schedule="constant")
    params, _, state = load_checkpoint(tmp_path / "checkpoint.npz")
    save_checkpoint(tmp_path / "checkpoint.npz", params, wild, state)
    good = (tmp_path / "checkpoint.npz").read_bytes()
    with pytest.raises(TrainingDiverged, match=r"last good checkpoint is .*checkpoint\.npz"):
        train(
            wild, tmp_path, dataset=tiny_digits, progress=False, resume=tmp_path / "checkpoint.npz"
        )
    assert (tmp_path / "checkpoint.npz").read_bytes() == good


@pytest.mark.exercise(id="5.2")
def test_interruption_saves_the_finished_epochs(tiny_digits, tmp_path, monkeypatch, capsys):
    interrupt_at(monkeypatch, 25)  # during the second epoch
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(epochs=3, **SMALL), tmp_path, dataset=tiny_digits, progress=False)
    assert "--resume" in capsys.readouterr().out
    _, _, state = load_checkpoint(tmp_path / "checkpoint.npz")
    assert state["epoch"] == 1


@pytest.mark.exercise(id="5.2")
def test_an_interruption_before_any_epoch_of_a_resumed_run_points_at_its_checkpoint(
    tiny_digits, tmp_path, monkeypatch, capsys
):
    train(TrainConfig(epochs=1, **SMALL), tmp_path / "first", dataset=tiny_digits, progress=False)
    start = tmp_path / "first" / "checkpoint.npz"
    capsys.readouterr()
    interrupt_at(monkeypatch, 2)  # in the resumed run's first epoch: nothing new is saved
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(epochs=3, **SMALL), tmp_path / "again", dataset=tiny_digits,
              progress=False, resume=start)  # fmt: skip
    out = capsys.readouterr().out
    assert f"nothing new was saved; continue with --resume {start}" in out, (
        "_interrupted: a resumed run stopped before an epoch finished points at the checkpoint "
        "it started from"
    )


@pytest.mark.exercise(id="5.2")
def test_resume_refuses_a_checkpoint_of_other_widths(tiny_digits, tmp_path):
    train(TrainConfig(epochs=1, **SMALL), tmp_path, dataset=tiny_digits, progress=False)
    other = TrainConfig(epochs=2, **(SMALL | {"widths": (784, 16, 10)}))
    widths = r"widths \(784, 16, 10\) \(the checkpoint's run: \(784, 32, 10\)\)"
    with pytest.raises(ValueError, match=f"the run asks for {widths}"):
        train(other, tmp_path / "other", dataset=tiny_digits, progress=False,
              resume=tmp_path / "checkpoint.npz")  # fmt: skip


@pytest.mark.exercise(id="5.2")
def test_checkpoint_errors(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "missing.npz")


@pytest.mark.exercise(id="5.2")
def test_cli_rejects_bad_arguments(capsys, monkeypatch):
    assert cli.main(["--widths", "100", "10"]) == 2
    assert "must start at 784" in capsys.readouterr().err
    assert cli.main(["--batch-size", "0"]) == 2
    capsys.readouterr()
    from shared.machine import GpuStatus

    no_gpu = GpuStatus(False, "numba.cuda.is_available() is False")
    monkeypatch.setattr(cli, "gpu_status", lambda: no_gpu)  # a machine with no GPU at all
    assert cli.main(["--device", "gpu", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: --device gpu: no CUDA GPU here") and "NUMBA_ENABLE_CUDASIM=1" in err
    )
    assert err.count("\n") == 1


@pytest.mark.skipif(find_dataset("mnist") is None, reason="MNIST not found (set NNF_DATA_DIR)")
def test_cli_trains_on_real_mnist(tmp_path, capsys):
    args = [
        "--epochs",
        "1",
        "--limit",
        "3000",
        "--out",
        str(tmp_path),
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy ")[-1].split("%")[0])
    assert accuracy > 85.0, out
    assert cli.main(["--evaluate", str(tmp_path / "model.npz")]) == 0
    assert f"{accuracy:.2f}%" in capsys.readouterr().out


@pytest.mark.exercise(id="5.2")
def test_the_precisions_are_phase_4s():
    """train.PRECISIONS, which every command line of Phase 5 offers, is Phase 4's list, in its
    order (the first is the default); it is written again only because Phase 4 needs numba."""
    matmul = pytest.importorskip("phase4_cuda.matmul")  # where numba is installed
    assert train_module.PRECISIONS == tuple(matmul.PRECISIONS)
