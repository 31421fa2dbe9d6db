"""The trainer benchmark on the CPU: the C trainer and Phase 2's NumPy network, same batches."""

import json

import pytest

from phase5_training import benchmark
from shared.datasets import find_dataset


@pytest.mark.slow
@pytest.mark.skipif(find_dataset("mnist") is None, reason="MNIST not found")
def test_the_cpu_benchmark_trains_both_and_writes_them(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert benchmark.main(["--device", "cpu", "--epochs", "1", "--json", str(out)]) == 0
    rows = {r["peer"]: r for r in json.loads(out.read_text())["rows"]}
    assert {"nn-foundations (C library)", "NumPy (Phase 2, float32)"} <= set(rows)
    for row in rows.values():
        assert row["train_s"] > 0 and row["test_accuracy"] > 0.9
    # the same steps from the same weights: the two land within a fraction of a percent
    c, numpy_ = rows["nn-foundations (C library)"], rows["NumPy (Phase 2, float32)"]
    assert abs(c["test_accuracy"] - numpy_["test_accuracy"]) < 0.01
    assert "| NumPy (Phase 2, float32)" in capsys.readouterr().out
