"""The pure-Python MNIST example on real MNIST (skipped where the data set is not available)."""

import pytest

from phase1_python.examples import mnist
from shared.datasets import find_dataset


@pytest.mark.skipif(find_dataset("mnist") is None, reason="MNIST not found (set NNF_DATA_DIR)")
def test_learns_something_from_a_small_subset(capsys):
    args = ["--train", "300", "--test", "200", "--epochs", "2", "--hidden", "16", "--no-progress"]
    assert mnist.main(args) == 0
    out = capsys.readouterr().out
    accuracy = float(out.rsplit("test accuracy ", 1)[1].rstrip("%\n"))
    assert accuracy > 50.0, out  # chance is 10%


def test_missing_data_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNF_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("shared.datasets.download", _offline)
    assert mnist.main(["--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and str(tmp_path) in err


def _offline(name, dest=None, timeout=30.0):
    from shared.datasets import DataNotFoundError

    raise DataNotFoundError("network unreachable (test)")
