"""The training roadmap: one training step by every route this machine has, each route's update
checked against Phase 2's float64 step before it is timed, drawn by the report."""

import json

import numpy as np
import pytest

from phase2_numpy import train as phase2_train
from phase2_numpy.network import he_init
from phase6_report import report, results, training_roadmap


def test_every_cpu_route_is_checked_timed_and_written(tmp_path, capsys):
    out = tmp_path / "training_roadmap.json"
    assert training_roadmap.main(["--batch", "3", "--steps", "2", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["name"] == "training_roadmap" and data["schema"] == results.BENCHMARK_SCHEMA
    rows = data["rows"]
    assert [r["route"] for r in rows][:4] == [
        "Pure Python (Phase 1, float64)",
        "NumPy (Phase 2, float64)",
        "NumPy (Phase 2, float32)",
        "C library (Phase 5 CPU trainer, float32)",
    ]
    for r in rows:
        assert r["kind"] == "training" and r["batch"] == 3 and r["widths"] == [784, 512, 256, 10]
        assert r["samples_per_second"] == pytest.approx(3 / r["seconds"])
        assert r["speedup_over_python"] == pytest.approx(rows[0]["seconds"] / r["seconds"])
    assert "| route (one step, batch 3)" in capsys.readouterr().out
    # the report draws it
    figures = report.benchmark_figures(results.gather([tmp_path]), tmp_path)
    assert "The training roadmap" in [f.title for f in figures]
    assert (tmp_path / "training_roadmap.png").stat().st_size > 10_000


def test_a_wrong_step_is_refused_before_it_is_timed(monkeypatch, capsys):
    def too_far(params, x, y, lr, config):  # a step at twice the learning rate
        return phase2_train.train_step(params, x, y, 2 * lr, config)

    monkeypatch.setattr(training_roadmap, "train_step", too_far)
    assert training_roadmap.main(["--batch", "2", "--steps", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: training roadmap: Phase 2 (float64) updates W0 wrongly")
    assert err.count("\n") == 1


def test_the_check_tolerates_float32_rounding_only():
    params = he_init((4, 3), seed=0)
    expected = params.astype(np.float64)
    expected.W[0] -= 0.01
    after = expected.astype(np.float32)
    training_roadmap._check("float32", params, after, expected, "float32")
    after.W[0] += 1e-3
    with pytest.raises(AssertionError, match="updates W0 wrongly"):
        training_roadmap._check("off", params, after, expected, "float32")
