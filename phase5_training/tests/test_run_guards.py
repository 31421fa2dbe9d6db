"""What guards a run's folder and its resuming: one run at a time in an --out folder (a dead
run's hold taken over), --resume continuing the saved run and nothing else, options that cannot
go together refused together, a full disk said in one line with the old files whole, and a
closed pipe ending the printing, not the run."""

import dataclasses
import errno
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from phase2_numpy.train import TrainConfig
from phase5_training import __main__ as cli
from phase5_training.train import train
from shared.files import HOLD, FolderInUse, hold_folder

SMALL = dict(widths=(784, 16, 10), batch_size=64, lr=0.1, limit=128)
ARGS = ["--device", "cpu", "--no-progress", "--widths", "784", "16", "10", "--batch-size", "64",
        "--lr", "0.1", "--limit", "128"]  # fmt: skip


@pytest.fixture
def digits(tiny_digits, monkeypatch):
    """The command line trains on the synthetic digits, not MNIST."""
    monkeypatch.setattr("phase5_training.train.load_dataset", lambda *a, **k: tiny_digits)
    return tiny_digits


def one_line_error(capsys, argv) -> str:
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
    with hold_folder(tmp_path):
        held = (tmp_path / HOLD).read_text().split()
        assert held == [str(os.getpid()), socket.gethostname()]
        child = subprocess.run(
            [sys.executable, "-P", "-c", "import sys; from shared.files import hold_folder\n"
             "with hold_folder(sys.argv[1]): pass", str(tmp_path)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert f"in use by process {os.getpid()}" in child.stderr
    assert not (tmp_path / HOLD).exists()  # released


def test_a_killed_runs_hold_is_taken_over(tmp_path):
    # a run killed outright leaves its file; the system has dropped its lock with the process
    child = subprocess.Popen(
        [sys.executable, "-P", "-c", "import sys, time; from shared.files import hold_folder\n"
         "with hold_folder(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)",
         str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout.readline() == "held\n"
    with pytest.raises(FolderInUse, match=f"in use by process {child.pid} .another run"):
        with hold_folder(tmp_path):
            pass
    child.kill()
    child.wait()
    assert (tmp_path / HOLD).read_text().split()[0] == str(child.pid)  # left behind
    with hold_folder(tmp_path):
        assert (tmp_path / HOLD).read_text().split()[0] == str(os.getpid())


def test_a_hold_file_without_its_lock_holds_nothing_whatever_it_says(tmp_path):
    (tmp_path / HOLD).write_text("1 elsewhere\n")
    with hold_folder(tmp_path):
        assert (tmp_path / HOLD).read_text().split() == [str(os.getpid()), socket.gethostname()]


def test_a_holder_on_another_host_is_named_with_its_host(tmp_path):
    with hold_folder(tmp_path):
        (tmp_path / HOLD).write_text("4242 elsewhere\n")  # as a run on another host writes it
        with pytest.raises(FolderInUse, match="in use by process 4242 on elsewhere "):
            with hold_folder(tmp_path):
                pass


def test_of_many_processes_racing_for_one_folder_one_holds_it(tmp_path):
    racer = (
        "import sys, time; from shared.files import FolderInUse, hold_folder\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "try:\n    with hold_folder(sys.argv[1]):\n        print('held', flush=True); "
        "time.sleep(1.5)\nexcept FolderInUse:\n    print('refused')"
    )
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    (tmp_path / HOLD).write_text(f"{dead} {socket.gethostname()}\n")  # stale: for all to take
    start = str(time.time() + 1.0)
    racers = [subprocess.Popen([sys.executable, "-P", "-c", racer, str(tmp_path), start],
                               stdout=subprocess.PIPE, text=True) for _ in range(6)]  # fmt: skip
    said = sorted(p.communicate(timeout=60)[0].strip() for p in racers)
    assert said == ["held"] + ["refused"] * 5


def test_two_runs_into_one_folder_the_second_stops_at_once(digits, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    with hold_folder(tmp_path / "run"):  # as a run in another process holds it
        (tmp_path / "run" / HOLD).write_text(f"{os.getppid()} {socket.gethostname()}\n")
        err = one_line_error(capsys, [*ARGS, "--epochs", "1", "--out", str(tmp_path / "run")])
    assert f"in use by process {os.getppid()}" in err
    assert not (tmp_path / "run" / "checkpoint.npz").exists()


@pytest.fixture
def stopped(digits, tmp_path, capsys):
    """A run of 2 epochs, stopped (as if) before its third."""
    assert cli.main([*ARGS, "--epochs", "2", "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    return tmp_path / "a" / "checkpoint.npz"


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--seed", "3"], ["seed 3 (the checkpoint's run: 0)"]),
        (["--limit", "64"], ["limit 64 (the checkpoint's run: 128)"]),
        (["--batch-size", "32", "--lr", "0.5"], ["batch_size 32", "lr 0.5 (the checkpoint's run: 0.1)"]),
        (["--val-fraction", "0.2", "--schedule", "constant"], ["schedule 'constant'", "val_fraction 0.2"]),
        (["--widths", "784", "8", "10"], ["widths (784, 8, 10) (the checkpoint's run: (784, 16, 10))"]),
    ],
)  # fmt: skip
def test_resume_refuses_every_setting_that_differs_naming_each(
    stopped, tmp_path, capsys, argv, names
):
    err = one_line_error(capsys, ["--resume", str(stopped), *argv, "--out", str(tmp_path / "b")])
    for name in names:
        assert name in err


def test_resume_takes_the_saved_settings_and_refuses_fewer_epochs(stopped, tmp_path, capsys):
    err = one_line_error(
        capsys, ["--resume", str(stopped), "--epochs", "1", "--out", str(tmp_path / "b")]
    )
    assert "has finished 2 epochs, more than --epochs 1" in err
    # no option repeated: the saved run's settings (lr 0.1, limit 128, 2 epochs) are its own
    assert cli.main(["--resume", str(stopped), "--no-progress", "--out", str(tmp_path / "b")]) == 0
    assert "after 2 epochs" in capsys.readouterr().out
    assert (
        cli.main(
            [
                "--resume",
                str(stopped),
                "--epochs",
                "3",
                "--no-progress",
                "--out",
                str(tmp_path / "c"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "note: --epochs 3, where the checkpoint's run was set to 2" in out
        and "after 3 epochs" in out
    )


def test_resume_with_evaluate_is_refused(stopped, capsys):
    err = one_line_error(capsys, ["--resume", str(stopped), "--evaluate", str(stopped)])
    assert "not both" in err


@pytest.mark.parametrize("option", ["--resume", "--evaluate"])
def test_a_fifo_is_refused_without_blocking(tmp_path, capsys, option):
    os.mkfifo(tmp_path / "fifo")
    err = one_line_error(
        capsys, [*ARGS, option, str(tmp_path / "fifo"), "--out", str(tmp_path / "o")]
    )
    assert "not a regular file" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--out", ""], "an empty name is no folder"),
        (["--threads", "257"], "must be 1 to 256"),
        (["--threads", "99999999999"], "must be 1 to 256"),
        (["--seed", "-1"], "seed must be a whole number >= 0"),
        (["--widths", "784", "100000000", "100000000", "10"], "GiB for their float64 weights"),
    ],
)
def test_command_line_values_out_of_range(capsys, argv, says):
    assert says in one_line_error(capsys, [*ARGS, "--epochs", "1", *argv])


def test_a_full_disk_is_one_line_and_leaves_the_old_checkpoint_whole(stopped, monkeypatch, capsys):
    before = stopped.read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    err = one_line_error(
        capsys,
        ["--resume", str(stopped), "--epochs", "3", "--no-progress", "--out", str(stopped.parent)],
    )
    assert (
        f"could not write {stopped} (No space left on device); the one there before is whole" in err
    )
    assert stopped.read_bytes() == before
    assert sorted(p.name for p in stopped.parent.iterdir()) == [
        "checkpoint.npz",
        "metrics.json",
        "model.npz",
    ]


def test_a_closed_pipe_ends_the_printing_not_the_run(tmp_path):
    out = tmp_path / "run"
    code = (
        "import sys\nfrom shared.testing import synthetic_digits\nimport phase5_training.train as t\n"
        "t.load_dataset = lambda *a, **k: synthetic_digits()\nfrom phase5_training.__main__ import main\n"
        f"sys.exit(main({[*ARGS, '--epochs', '3', '--out', str(out)]!r}))"
    )
    (tmp_path / "run.py").write_text(code)
    done = subprocess.run(f"{sys.executable} -P {tmp_path / 'run.py'} | head -1", shell=True,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.stdout.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert (out / "model.npz").exists() and (out / "metrics.json").exists()


def test_the_training_function_refuses_a_resume_that_differs(stopped, digits, tmp_path):
    with pytest.raises(ValueError, match="seed 5"):
        train(TrainConfig(**SMALL, epochs=3, seed=5), tmp_path / "d", dataset=digits,
              progress=False, resume=stopped)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            lambda d: {"x_train": d.x_train[:16], "y_train": d.y_train[:10]},
            "16 images and 10 labels",
        ),
        (lambda d: {"y_train": (d.y_train + 3).astype(np.uint8)}, "expected 0 to 9"),
    ],
)
def test_the_gpu_trainer_never_sees_data_whose_labels_do_not_fit(
    tiny_digits, tmp_path, change, says
):
    # refused while the data is prepared, before any trainer (or GPU, or simulator) is made
    bad = dataclasses.replace(tiny_digits, **change(tiny_digits))
    with pytest.raises(ValueError, match=says):
        train(TrainConfig(**SMALL, epochs=1), tmp_path, device="gpu", dataset=bad, progress=False)
