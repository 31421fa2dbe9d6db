"""The benchmark figures from small synthetic results: what each one says, and how large."""

import pytest

from phase6_report import benchmark_plots
from phase6_report.plots import MIN_FONT_PT
from shared.testing import assert_picture

WIDE = (900, 550)
SQUARE = (700, 700)
H100 = "NVIDIA H100 80GB HBM3, 2026-11-24"
LAPTOP = "Learner Laptop CPU, 2026-12-01"


def with_outlier(fake):
    """Phase 3 rows where one point (capi, float32, one thread, n = 100) ran at 812% of NumPy."""
    rows = fake.c_rows()
    first = next(r for r in rows if r["dtype"] == "float32" and r["threads"] == 1)
    first["c_capi_s"] = first["numpy_s"] / 8.12
    return rows


def every_figure(fake, out):
    """Each benchmark figure, drawn into `out`, by the name of its file."""
    bp = benchmark_plots
    cpu_routes = fake.roadmap_rows()[:3]
    training = [r | {"widths": [784, 512, 10], "batch": 128} for r in fake.roadmap_rows()]
    return {
        "roadmap.png": bp.performance_roadmap(fake.roadmap_rows(), out / "roadmap.png"),
        "roadmap-2.png": bp.performance_roadmap(
            cpu_routes, out / "roadmap-2.png", machine=LAPTOP, beside=(H100, fake.roadmap_rows())
        ),
        "training.png": bp.training_roadmap(training, out / "training.png", machine=H100),
        "ladder.png": bp.matmul_ladder(
            fake.ladder_rows(),
            with_outlier(fake),
            out / "ladder.png",
            ladder_machine=H100,
            c_machine=LAPTOP,
            c_caveat="unsteady run",
        ),
        "ladder-cuda.png": bp.matmul_ladder(fake.ladder_rows(), [], out / "ladder-cuda.png"),
        "ladder-c.png": bp.matmul_ladder([], fake.c_rows(), out / "ladder-c.png"),
        "phase1.png": bp.phase1_benchmark(
            fake.phase1_rows(), out / "phase1.png", LAPTOP, caveat="busy machine"
        ),
    }


def test_every_figure_is_drawn_and_every_text_is_large_enough(fake, drawn, tmp_path):
    for name, path in every_figure(fake, tmp_path).items():
        assert_picture(path, WIDE)
        small = [(t, size) for t, size in drawn.texts[name] if size < MIN_FONT_PT]
        assert not small, f"{name}: texts under {MIN_FONT_PT} pt: {small}"


def test_an_outlier_is_flagged_and_does_not_stretch_the_axis(fake, drawn, tmp_path):
    benchmark_plots.matmul_ladder(
        [], with_outlier(fake), tmp_path / "l.png", c_machine=LAPTOP, c_caveat="unsteady run"
    )
    words = drawn.words("l.png")
    assert "1 point off the scale (812% at n = 100, unsteady run)" in words
    assert "812%" in [t for t, _ in drawn.texts["l.png"]]  # the value beside its marker
    (bottom, top), *_ = drawn.ylims["l.png"]
    assert bottom == 0 and 100 < top <= benchmark_plots.BAND_TOP


def test_a_steady_ladder_has_no_outlier_note(fake, drawn, tmp_path):
    benchmark_plots.matmul_ladder(fake.ladder_rows(), fake.c_rows(), tmp_path / "l.png")
    assert "off the scale" not in drawn.words("l.png")
    assert all(top < 150 for _, top in drawn.ylims["l.png"])


@pytest.mark.parametrize(
    ("which", "missing", "command"),
    [("cuda only", "Phase 3", "nox -s phase3"), ("c only", "Phase 4", "nox -s phase4")],
)
def test_one_side_missing_fills_the_figure_and_says_what_is_missing(
    fake, drawn, tmp_path, which, missing, command
):
    ladder = fake.ladder_rows() if which == "cuda only" else []
    c = fake.c_rows() if which == "c only" else []
    benchmark_plots.matmul_ladder(ladder, c, tmp_path / "l.png")
    assert drawn.axes["l.png"] == 1  # one panel, full width: no blank half
    note = next(t for t, _ in drawn.texts["l.png"] if t.startswith(f"{missing}'s"))
    assert command in note


def test_the_roadmap_names_both_machines(fake, drawn, tmp_path):
    cpu_routes = fake.roadmap_rows()[:3]
    benchmark_plots.performance_roadmap(
        cpu_routes, tmp_path / "r.png", machine=LAPTOP, beside=(H100, fake.roadmap_rows())
    )
    texts = [t for t, _ in drawn.texts["r.png"]]
    assert LAPTOP in texts and H100 in texts
    # every route once on the axis, each run's bars labelled with its own speed-up
    assert texts.count("cuBLAS (CuPy)") == 1 and texts.count("1x") == 2


def test_phase_1s_figure_shows_its_speedups(fake, drawn, tmp_path):
    benchmark_plots.phase1_benchmark(fake.phase1_rows(), tmp_path / "p.png", LAPTOP)
    texts = [t for t, _ in drawn.texts["p.png"]]
    assert "NumPy over pure Python" in texts and "1,000x" in texts and "10x" in texts
    assert any(LAPTOP in t for t in texts)


def test_empty_inputs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no ladder rows and no C rows"):
        benchmark_plots.matmul_ladder([], [], tmp_path / "l.png")
    with pytest.raises(ValueError, match="no rows with a pure-Python time"):
        benchmark_plots.phase1_benchmark([{"n": 10}], tmp_path / "p.png")
