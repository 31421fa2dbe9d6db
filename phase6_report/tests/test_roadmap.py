"""The roadmap: every route this machine has, each checked before it is timed, in one table and
one results file that the report draws."""

import json

import numpy as np
import pytest

from phase6_report import report, results, roadmap


def test_every_cpu_route_is_timed_and_written(tmp_path, capsys):
    out = tmp_path / "roadmap.json"
    assert roadmap.main(["--n", "12", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["name"] == "roadmap" and data["schema"] == results.BENCHMARK_SCHEMA
    rows = data["rows"]
    routes = [r["route"] for r in rows]
    assert routes[:3] == [
        "Pure Python (Phase 1, float64)",
        "NumPy / OpenBLAS (float64)",
        "NumPy / OpenBLAS (float32)",
    ]
    assert "C (Phase 3, float32)" in routes
    assert rows[0]["speedup_over_python"] == 1.0
    for r in rows:
        assert r["kind"] == "roadmap" and r["n"] == 12 and r["seconds"] > 0
        assert r["speedup_over_python"] == pytest.approx(rows[0]["seconds"] / r["seconds"])
    table = capsys.readouterr().out
    assert "| route (12x12 product)" in table and "| Pure Python (Phase 1, float64) |" in table


def test_a_wrong_route_is_refused_before_it_is_timed():
    ref = np.eye(3)
    roadmap._checked("right", np.eye(3, dtype=np.float32), ref)
    with pytest.raises(AssertionError, match="roadmap: wrong is wrong: relative error"):
        roadmap._checked("wrong", np.zeros((3, 3)), ref)


def test_a_bad_size_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        roadmap.main(["--n", "0"])
    assert exit_.value.code == 2
    assert "--n must be at least 1, got 0" in capsys.readouterr().err


def test_the_report_draws_the_roadmap_run_before_an_older_benchmark_s(results_dir, tmp_path, fake):
    # Phase 4's benchmark used to carry the roadmap; a run of the roadmap command comes first.
    rows = fake.roadmap_rows()[:3]
    (results_dir / "roadmap.json").write_text(json.dumps(fake.benchmark("roadmap", rows)))
    figures = report.benchmark_figures(results.gather([results_dir]), tmp_path)
    assert figures[0].title == "The performance roadmap"
    assert figures[0].source == str(results_dir / "roadmap.json")
    (results_dir / "roadmap.json").unlink()
    figures = report.benchmark_figures(results.gather([results_dir]), tmp_path)
    assert figures[0].source == str(results_dir / "phase4_matmul.json")
