"""Small synthetic results in the project's own schemas (the `fake` fixture)."""

import json

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="Phase 6 needs the `plot` extra (matplotlib)")

from phase5_training.train import METRICS_SCHEMA
from shared.bench import SCHEMA as BENCHMARK_SCHEMA


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
    def benchmark(name, rows):
        return {"schema": BENCHMARK_SCHEMA, "name": name, "rows": rows, "machine": {}, "notes": []}


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
