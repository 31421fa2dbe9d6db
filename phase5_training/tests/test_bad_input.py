"""Bad input to the trainer and its command line: every case a one-line error (exit code 2) or the
right answer, and nothing silently wrong. Checkpoints are attacked byte by byte: cut short,
bit-flipped, emptied, with metadata and arrays that do not fit."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

from phase2_numpy.data import prepare_data
from phase2_numpy.network import he_init
from phase2_numpy.train import TrainConfig
from phase5_training import __main__ as cli
from phase5_training.checkpoint import load_checkpoint, save_checkpoint
from phase5_training.train import train

SMALL = dict(widths=(784, 32, 10), batch_size=32, lr=0.1)


def one_line_error(capsys, argv) -> str:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    return captured.err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--limit", "0"], "limit must be at least 1"),
        (["--limit", "-100"], "limit must be at least 1"),
        (["--weight-decay", "nan"], "finite weight_decay"),
        (["--weight-decay", "inf"], "finite weight_decay"),
        (["--weight-decay", "-1"], "finite weight_decay"),
        (["--momentum", "nan"], "0 <= momentum < 1"),
        (["--lr", "inf"], "lr > 0"),
        (["--val-fraction", "1"], "val_fraction must be in [0, 1)"),
        (["--val-fraction", "nan"], "val_fraction must be in [0, 1)"),
    ],
)
def test_settings_that_cannot_train_are_refused_before_anything_runs(capsys, argv, says):
    assert says in one_line_error(capsys, [*argv, "--device", "cpu"])


@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_a_tensor_core_precision_on_the_cpu_is_refused(capsys, precision):
    err = one_line_error(capsys, ["--device", "cpu", "--precision", precision])
    assert f"--precision {precision} runs on a GPU's tensor cores" in err
    assert "computes in fp32" in err


def test_the_persistent_step_on_the_cpu_is_refused(capsys):
    err = one_line_error(capsys, ["--device", "cpu", "--step", "persistent"])
    assert "--step persistent runs on a GPU" in err


def test_the_persistent_step_refuses_what_it_was_not_written_for():
    # checked before any kernel runs, so without a GPU too (make_trainer, the loop's own door)
    from phase5_training.train import make_trainer

    params = he_init((784, 10), 0)
    with pytest.raises(ValueError, match="the persistent step runs on a GPU"):
        make_trainer("cpu", params, TrainConfig(widths=(784, 10)), step="persistent")
    with pytest.raises(ValueError, match="unknown step 'fused'; expected one of graph, persistent"):
        make_trainer("gpu", params, TrainConfig(widths=(784, 10)), step="fused")


def test_an_unknown_precision_names_the_choices(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--precision", "fp16"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1
    assert "invalid choice: 'fp16'" in err and all(p in err for p in ("fp32", "tf32", "bf16"))


def test_a_limit_takes_exactly_that_many_images(tiny_digits):
    data = prepare_data(tiny_digits, TrainConfig(limit=100, **SMALL))
    assert len(data["y_train"]) == 100


def test_an_empty_training_set_is_named(tiny_digits, tmp_path):
    with pytest.raises(ValueError, match="no training images left: 1 taken"):
        train(TrainConfig(limit=1, val_fraction=0.6, **SMALL), tmp_path, dataset=tiny_digits)


@pytest.mark.parametrize("where", ["a file", "under a file", "read-only"])
def test_an_unusable_out_folder_is_refused_before_training(tmp_path, capsys, where, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    out = {"a file": afile, "under a file": afile / "run", "read-only": tmp_path / "ro" / "run"}[
        where
    ]
    if where == "read-only":
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o500)
        if _can_write(tmp_path / "ro"):  # root may write anywhere: refuse as the OS would

            def refuse(*args, **kwargs):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr("phase5_training.train.tempfile.TemporaryFile", refuse)

    def no_data(*args, **kwargs):  # the check must come before the data is even looked for
        raise AssertionError("the data was loaded before --out was checked")

    monkeypatch.setattr("phase5_training.train.load_dataset", no_data)
    err = one_line_error(capsys, ["--out", str(out), "--device", "cpu", "--epochs", "1"])
    assert f"--out {out}" in err


def _can_write(folder) -> bool:
    try:
        (folder / ".probe").write_text("")
        (folder / ".probe").unlink()
        return True
    except OSError:
        return False


def test_ctrl_c_in_the_first_epoch_does_not_point_to_a_checkpoint(
    tiny_digits, tmp_path, monkeypatch, capsys
):
    import phase5_training.train as train_module

    make = train_module.make_trainer

    def make_trainer(device, params, config, precision="fp32", step="graph"):
        trainer = make(device, params, config, precision, step)

        def step(x, y, lr):
            raise KeyboardInterrupt

        trainer.step = step
        return trainer

    monkeypatch.setattr(train_module, "make_trainer", make_trainer)
    (tmp_path / "checkpoint.npz").write_bytes(b"another run's")  # what lies there is not ours
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(epochs=2, **SMALL), tmp_path, dataset=tiny_digits, progress=False)
    out = capsys.readouterr().out
    assert "nothing was saved" in out and "--resume" not in out


# -- checkpoints ---------------------------------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path):
    config = TrainConfig(**SMALL)
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(
        path, he_init(config.widths, 0), config, {"epoch": 1, "step": 19, "history": []}
    )
    return path


def rewrite(path, meta=None, arrays=None, drop=()):
    """Write the checkpoint again with some metadata (a str: as it is) or arrays replaced or left
    out."""
    with np.load(path) as data:
        content = {name: data[name] for name in data.files if name not in drop}
    if meta is not None:
        text = meta if isinstance(meta, str) else json.dumps(meta)
        content["meta"] = np.frombuffer(text.encode(), dtype=np.uint8)
    content |= arrays or {}
    buffer = io.BytesIO()
    np.savez(buffer, **content)
    path.write_bytes(buffer.getvalue())


def meta_of(path) -> dict:
    with np.load(path) as data:
        return json.loads(bytes(data["meta"]).decode())


def test_a_good_checkpoint_loads(checkpoint):
    params, config, state = load_checkpoint(checkpoint)
    assert config.widths == (784, 32, 10) and state["epoch"] == 1
    assert [w.shape for w in params.W] == [(784, 32), (32, 10)]


@pytest.mark.parametrize(
    "damage",
    ["empty", "cut in half", "cut by one byte", "bit flipped", "not a zip", "missing"],
)
def test_a_damaged_file_is_not_a_readable_checkpoint(checkpoint, damage):
    data = checkpoint.read_bytes()
    if damage == "empty":
        checkpoint.write_bytes(b"")
    elif damage == "cut in half":
        checkpoint.write_bytes(data[: len(data) // 2])
    elif damage == "cut by one byte":
        checkpoint.write_bytes(data[:-1])
    elif damage == "bit flipped":  # inside the first array's bytes: the zip's CRC catches it
        with zipfile.ZipFile(checkpoint) as z:
            offset = z.getinfo("W0.npy").header_offset + 200
        flipped = bytearray(data)
        flipped[offset] ^= 0x10
        checkpoint.write_bytes(bytes(flipped))
    elif damage == "not a zip":
        checkpoint.write_text("hello")
    else:
        checkpoint.unlink()
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(checkpoint)


def test_a_checkpoint_of_an_older_version_with_its_empty_extra_loads(checkpoint):
    rewrite(
        checkpoint,
        meta=meta_of(checkpoint) | {"config": meta_of(checkpoint)["config"] | {"extra": {}}},
    )
    _, config, _ = load_checkpoint(checkpoint)
    assert not hasattr(config, "extra")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda m: m | {"schema": "something/else"}, "checkpoint schema"),
        (lambda m: [1, 2, 3], "checkpoint schema"),
        (lambda m: m | {"config": "784-32-10"}, "lacks its config"),
        (lambda m: m | {"config": m["config"] | {"colour": "blue"}}, "unknown configuration keys"),
        (lambda m: m | {"config": m["config"] | {"extra": {"a": 1}}}, r"keys \['extra'\]"),
        (
            lambda m: m | {"config": m["config"] | {"widths": "784 32 10"}},
            "not a list of two or more whole",
        ),
        (
            lambda m: m | {"config": m["config"] | {"widths": [784, 32.5, 10]}},
            "not a list of two or more whole",
        ),
        (lambda m: m | {"config": m["config"] | {"batch_size": 0}}, "does not hold"),
        (lambda m: m | {"config": m["config"] | {"lr": "fast"}}, "lr 'fast' is not of type float"),
        # JSON has one kind of number, and true is one in Python: each field is its own type
        (lambda m: m | {"config": m["config"] | {"limit": True}}, "limit True is not of type int"),
        (lambda m: m | {"config": m["config"] | {"limit": 2.5}}, "limit 2.5 is not of type int"),
        (lambda m: m | {"config": m["config"] | {"seed": 1.5}}, "seed 1.5 is not of type int"),
        (lambda m: m | {"config": m["config"] | {"epochs": 1e308}}, "epochs 1e.308 is not"),
        (lambda m: m | {"config": m["config"] | {"nesterov": 1}}, "nesterov 1 is not of type bool"),
        (lambda m: m | {"config": m["config"] | {"seed": -1}}, "seed must be"),
        (lambda m: "[" * 100_000 + "]" * 100_000, "nested too deeply"),  # written as it is
        (lambda m: m | {"state": m["state"] | {"epoch": -1}}, "state epoch"),
        (lambda m: m | {"state": m["state"] | {"step": "7"}}, "state step"),
        (lambda m: m | {"state": {"epoch": 1, "step": 1}}, "lacks its history"),
    ],
)
def test_metadata_that_does_not_fit_is_named(checkpoint, change, says):
    rewrite(checkpoint, meta=change(meta_of(checkpoint)))
    with pytest.raises(ValueError, match=says):
        load_checkpoint(checkpoint)


@pytest.mark.parametrize(
    ("arrays", "drop", "says"),
    [
        ({"W0": np.zeros((784, 32), np.float64)}, (), "W0 is float64"),
        ({"b1": np.zeros(11, np.float32)}, (), r"b1 is float32 \(11,\)"),
        ({"vW1": np.zeros((10, 32), np.float32)}, (), "vW1 is float32"),
        ({}, ("vb0",), "no array vb0"),
        ({"W9": np.zeros(3, np.float32)}, (), "unexpected arrays"),
    ],
)
def test_arrays_that_do_not_fit_the_widths_are_named(checkpoint, arrays, drop, says):
    rewrite(checkpoint, arrays=arrays, drop=drop)
    with pytest.raises(ValueError, match=says):
        load_checkpoint(checkpoint)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_weights_that_are_not_finite_are_refused(checkpoint, bad, capsys):
    with np.load(checkpoint) as data:
        w = data["W1"].copy()
    w[3, 4] = bad
    rewrite(checkpoint, arrays={"W1": w})
    with pytest.raises(ValueError, match="W1 holds NaN or infinite values"):
        load_checkpoint(checkpoint)
    err = one_line_error(capsys, ["--evaluate", str(checkpoint)])
    assert "W1 holds NaN" in err
    err = one_line_error(capsys, ["--resume", str(checkpoint), "--widths", "784", "32", "10"])
    assert "W1 holds NaN" in err


def test_sizes_and_names_are_checked_before_an_array_is_read(checkpoint, monkeypatch):
    # 360 MB of zeros, deflated to a few hundred KB: refused from the archive's directory
    content = {"junk": np.zeros(90_000_000, np.float32)}
    with np.load(checkpoint) as data:
        content |= {name: data[name] for name in data.files}
    np.savez_compressed(checkpoint, **content)
    assert checkpoint.stat().st_size < 2_000_000
    read, real = [], np.lib.format.read_array
    monkeypatch.setattr(
        np.lib.format, "read_array", lambda *a, **k: read.append(a) or real(*a, **k)
    )
    with pytest.raises(ValueError, match=r"unexpected arrays \['junk'\]"):
        load_checkpoint(checkpoint)
    assert len(read) == 1  # the metadata's alone


def test_an_array_that_would_grow_past_its_shape_is_refused_unread(checkpoint):
    with np.load(checkpoint) as data:
        content = {name: data[name] for name in data.files}
    content["W0"] = np.zeros((784, 100_000), np.float32)  # the widths say (784, 32)
    np.savez_compressed(checkpoint, **content)
    with pytest.raises(ValueError, match="W0 would take 313600128 bytes in memory, more than"):
        load_checkpoint(checkpoint)


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "checkpoint.npz"
    os.mkfifo(fifo)  # opening it would wait for a writer for ever
    with pytest.raises(ValueError, match="not a regular file"):
        load_checkpoint(fifo)


def test_a_byte_swapped_checkpoint_gives_the_same_weights(checkpoint):
    """float32 stored big-endian ('>f4', as another machine or tool may write it) is float32:
    the same numbers, converted, never read as garbage."""
    native, _, _ = load_checkpoint(checkpoint)
    with np.load(checkpoint) as data:
        swapped = {
            n: data[n].astype(data[n].dtype.newbyteorder()) for n in data.files if n != "meta"
        }
    rewrite(checkpoint, arrays=swapped)
    with np.load(checkpoint) as data:
        assert data["W0"].dtype.byteorder == ">"
    params, _, _ = load_checkpoint(checkpoint)
    for a, b in zip(native.W + native.b, params.W + params.b, strict=True):
        assert b.dtype == np.float32 and b.dtype.isnative
        np.testing.assert_array_equal(a, b)
