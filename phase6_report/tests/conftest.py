"""Small synthetic results in the project's own schemas (the `fake` fixture)."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="Phase 6 needs the `plot` extra (matplotlib)")

from phase5_training.train import METRICS_SCHEMA
from shared.results import SCHEMA as BENCHMARK_SCHEMA


@pytest.fixture
def rng():
    return np.random.default_rng(3)


class Fake:
    """Builders of synthetic results, as the phases would write them."""

    @staticmethod
    def roadmap_rows():
        routes = [("Pure Python (Phase 1, float64)", 30.0), ("NumPy / OpenBLAS (float64)", 0.004),
                  ("C (Phase 3, float32)", 0.0035), ("CUDA naive (version 1)", 0.0015),
                  ("CUDA best (wide)", 0.0003), ("cuBLAS (CuPy)", 0.00006)]  # fmt: skip
        return [
            {
                "kind": "roadmap",
                "n": 1000,
                "route": r,
                "seconds": s,
                "speedup_over_python": 30.0 / s,
            }
            for r, s in routes
        ]

    @staticmethod
    def ladder_rows():
        versions = {"naive": 1.3, "tiled": 7.8, "unsigned": 27.0, "wide": 38.0, "cublas": 51.0}
        return [
            {"kind": "ladder", "n": n} | {f"{v}_tflops": t * n / 4096 for v, t in versions.items()}
            for n in (1024, 4096)
        ]

    @staticmethod
    def c_rows():
        return [
            {"n": n, "dtype": dtype, "threads": threads, "numpy_s": 1e-3 * n,
             "c_capi_s": 1.05e-3 * n, "c_ctypes_s": 1.2e-3 * n, "c_pybind11_s": 1.1e-3 * n}
            for n in (100, 500, 1000) for dtype in ("float32", "float64") for threads in (1, 2)
        ]  # fmt: skip

    @staticmethod
    def metrics(dataset="mnist", device="cpu", epochs=4, val=False, seed=0):
        rng = np.random.default_rng(seed)
        history = []
        for e in range(1, epochs + 1):
            record = {"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 1 - 0.1 / e,
                      "test_loss": 1.2 / e, "test_accuracy": 1 - 0.12 / e, "seconds": 1.0}  # fmt: skip
            if val:
                record |= {"val_loss": 1.1 / e, "val_accuracy": 1 - 0.11 / e}
            history.append(record)
        confusion = rng.integers(0, 5, (10, 10)) + np.diag(rng.integers(900, 1100, 10))
        return {
            "schema": METRICS_SCHEMA,
            "dataset": dataset,
            "device": device,
            "history": history,
            "test": {"accuracy": 0.98, "confusion": confusion.tolist()},
            "classes": [str(c) for c in range(10)],
        }

    @staticmethod
    def phase1_rows():
        """Phase 1's benchmark rows: the i-j-k loop, pure Python and NumPy at three sizes."""
        return [
            {"n": n, "naive_s": 2e-7 * n**3, "pure_s": 2e-8 * n**3, "numpy_s": 2e-11 * n**3}
            for n in (50, 100, 200)
        ]

    @staticmethod
    def benchmark(name, rows, machine=None, load=None):
        return {"schema": BENCHMARK_SCHEMA, "name": name, "rows": rows,
                "machine": machine or {}, "notes": [], "load": load or {}}  # fmt: skip


#: the machine blocks of two runs: the learner's laptop and the committed GPU machine
LAPTOP = {"cpu": "Learner Laptop CPU", "cpu_count": 4, "date": "2026-12-01T10:00:00+00:00"}
H100 = {"cpu": "Intel(R) Xeon(R) Processor", "gpu": "NVIDIA H100 80GB HBM3",
        "date": "2026-11-24T14:09:45+00:00"}  # fmt: skip


@pytest.fixture
def fake():
    return Fake


@pytest.fixture
def results_dir(tmp_path):
    """A results folder as the phases write it: benchmarks of phases 3 and 4, one training run."""
    root = tmp_path / "results"
    (root / "mnist").mkdir(parents=True)
    (root / "phase3_matmul.json").write_text(
        json.dumps(Fake.benchmark("phase3_matmul", Fake.c_rows()))
    )
    (root / "phase4_matmul.json").write_text(
        json.dumps(Fake.benchmark("phase4_matmul", Fake.roadmap_rows() + Fake.ladder_rows()))
    )
    (root / "mnist" / "metrics.json").write_text(json.dumps(Fake.metrics()))
    return root


@pytest.fixture
def two_machines(tmp_path):
    """Two results folders, as `nox -s report` reads them: this machine's (results/, CPU routes
    only: Phases 1 and 3 and the roadmap without a GPU) and the committed GPU runs."""
    mine, committed = tmp_path / "results", tmp_path / "committed"
    mine.mkdir()
    committed.mkdir()
    cpu_routes = [r for r in Fake.roadmap_rows() if "CUDA" not in r["route"]][:3]
    for folder, name, rows, machine in (
        (mine, "roadmap", cpu_routes, LAPTOP),
        (mine, "phase3_matmul", Fake.c_rows(), LAPTOP),
        (mine, "phase1_matmul", Fake.phase1_rows(), LAPTOP),
        (committed, "phase4_matmul", Fake.roadmap_rows() + Fake.ladder_rows(), H100),
        (committed, "phase3_matmul", Fake.c_rows(), H100),
    ):
        (folder / f"{name}.json").write_text(json.dumps(Fake.benchmark(name, rows, machine)))
    return mine, committed


class Drawn:
    """What each figure said, by file name, recorded as benchmark_plots saved it: its texts (a
    list of (text, font size)) and each axes' y limits."""

    def __init__(self):
        self.texts, self.ylims, self.axes = {}, {}, {}

    def words(self, name):
        return " | ".join(t for t, _ in self.texts[name])


@pytest.fixture
def drawn(monkeypatch):
    """Records every figure benchmark_plots saves (Drawn), then saves it as usual."""
    from phase6_report import benchmark_plots, plots

    record = Drawn()
    real_save = benchmark_plots.save

    def save(fig, out):
        name = Path(out).name
        record.texts[name] = [(t.get_text(), t.get_fontsize()) for t in plots.texts(fig)]
        record.ylims[name] = [ax.get_ylim() for ax in fig.axes]
        record.axes[name] = len(fig.axes)
        return real_save(fig, out)

    monkeypatch.setattr(benchmark_plots, "save", save)
    return record
