"""Property tests of Phase 5's command line and checkpoint loader, and of Phase 2's command line:
whatever comes in, the answer is a run (here stopped where training would start) or a one-line
error with exit code 2, never a traceback; a checkpoint loads or is refused by name."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import phase3_c
from phase2_numpy import __main__ as cli2
from phase2_numpy.network import he_init
from phase2_numpy.train import TrainConfig
from phase5_training import __main__ as cli
from phase5_training.checkpoint import load_checkpoint, save_checkpoint

FIXTURES = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip

NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "1e400", "0x10", "1_000", "-0", "nan", "\0"]),
)
OPTIONS = {
    "--epochs": NUMBERS, "--batch-size": NUMBERS, "--lr": NUMBERS, "--momentum": NUMBERS,
    "--weight-decay": NUMBERS, "--val-fraction": NUMBERS, "--seed": NUMBERS, "--limit": NUMBERS,
    "--threads": NUMBERS, "--widths": st.lists(NUMBERS, min_size=0, max_size=4).map(tuple),
    "--schedule": st.sampled_from(["onecycle", "constant", "", "cosine"]),
    "--out": st.sampled_from(["", " ", "OUT", "OUT/x"]),
    "--resume": st.sampled_from(["", "MISSING.npz", "OUT"]),
    "--evaluate": st.sampled_from(["", "MISSING.npz", "OUT"]),
}  # fmt: skip


class Trained(Exception):
    """What the stand-in for train() raises: the command line got as far as training."""


def argvs(options: dict):
    keys = st.lists(st.sampled_from(sorted(options)), max_size=5, unique=True)

    def build(chosen):
        return st.tuples(*[options[k].map(lambda v, k=k: (k, v)) for k in chosen])

    def flatten(pairs):
        argv = []
        for key, value in pairs:
            argv += [key, *value] if isinstance(value, tuple) else [f"{key}={value}"]
        return argv

    return keys.flatmap(build).map(flatten)


def outcome(main, argv, capsys) -> tuple[object, str]:
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    except Trained:
        code = "trained"
    return code, capsys.readouterr().err


@FIXTURES
@given(argv=argvs(OPTIONS))
def test_phase5_any_command_line_trains_or_is_one_line(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        "phase5_training.train.train", lambda *a, **k: (_ for _ in ()).throw(Trained())
    )
    try:
        code, err = outcome(cli.main, ["--device", "cpu", "--no-progress", *argv], capsys)
    finally:
        phase3_c.set_threads(0)  # --threads sets the C library's for the whole process
    assert code in ("trained", 0, 2), (code, err)
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err


@FIXTURES
@given(
    argv=argvs(
        {
            k: v
            for k, v in OPTIONS.items()
            if k not in ("--threads", "--out", "--resume", "--evaluate", "--val-fraction")
        }
    )
)
def test_phase2_any_command_line_trains_or_is_one_line(argv, capsys, monkeypatch):
    def stop(*args, **kwargs):
        raise Trained

    monkeypatch.setattr(cli2, "load_dataset", stop)
    code, err = outcome(cli2.main, ["--no-progress", *argv], capsys)
    assert code in ("trained", 2), (code, err)
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "checkpoint.npz"
    config = TrainConfig(widths=(784, 8, 10))
    save_checkpoint(path, he_init(config.widths, 0), config, {"epoch": 1, "step": 3, "history": []})
    return path.read_bytes()


@FIXTURES
@given(flips=st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 2**31)))  # fmt: skip
def test_a_damaged_checkpoint_loads_or_is_refused_by_name(saved, flips, cut, tmp_path):
    data = bytearray(saved)
    for where, value in flips:
        data[where % len(data)] = value
    path = tmp_path / "c.npz"
    path.write_bytes(bytes(data[: None if cut is None else cut % len(data)]))
    try:
        params, config, _ = load_checkpoint(path)
    except ValueError as e:
        assert str(e).startswith(f"{path}: ") and "\n" not in str(e), str(e)
    else:
        assert all(np.isfinite(w).all() for w in params.W) and config.widths[0] == 784


@FIXTURES
@given(config=st.dictionaries(st.sampled_from(["limit", "seed", "epochs", "lr", "batch_size", "nesterov", "widths", "val_fraction", "dataset"]),
                              st.one_of(st.none(), st.booleans(), st.integers(-5, 10**30), st.floats(), st.text(max_size=3),
                                        st.lists(st.integers(-1, 1000), max_size=4))))  # fmt: skip
def test_any_metadata_loads_or_is_refused_by_name(saved, config, tmp_path):
    path = tmp_path / "c.npz"
    path.write_bytes(saved)
    with np.load(path) as d:
        arrays = {k: d[k] for k in d.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta["config"] |= config
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)
    try:
        load_checkpoint(path)
    except ValueError as e:
        assert str(e).startswith(f"{path}: ") and "\n" not in str(e), str(e)
