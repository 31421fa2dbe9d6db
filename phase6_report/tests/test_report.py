"""The report: schema checks, what is found and what is missing, the HTML page, the browser."""

import base64
import json
import re
import sys

import numpy as np
import pytest

from phase6_report import report, results
from phase6_report.__main__ import main
from shared.testing import assert_picture, png_size

#: the loop state of a model that has not trained yet, as train() writes it
FRESH = {"epoch": 0, "step": 0, "history": []}


def images_of(page):
    """The PNG files the page links, and the images it embeds (decoded)."""
    text = page.read_text()
    links = re.findall(r'<a href="([^"]+\.png)">', text)
    embedded = [
        base64.b64decode(d) for d in re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    ]
    return text, links, embedded


def test_the_page_embeds_and_links_every_figure(results_dir, tmp_path):
    out = tmp_path / "report"
    page = report.build([results_dir], out, xor=False)
    text, links, embedded = images_of(page)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert sorted(links) == pngs and len(embedded) == len(pngs)
    assert {"roadmap.png", "ladder.png", "training-curves.png", "confusion-1.png"} <= set(pngs)
    for name, data in zip(links, embedded, strict=True):
        assert (out / name).read_bytes() == data  # the embedded copy is the file
        assert_picture(out / name)
    assert "http://" not in text and "https://" not in text  # nothing to fetch: works offline
    # no model.npz in the synthetic run: the page says what is missing and how to get it
    assert "no model.npz beside a metrics.json" in text
    assert "no phase1_matmul benchmark" in text and "nox -s phase1 -- --large" in text


def test_partial_results_render_what_there_is(fake, tmp_path):
    only_training = tmp_path / "results"
    (only_training / "mnist").mkdir(parents=True)
    (only_training / "mnist" / "metrics.json").write_text(json.dumps(fake.metrics()))
    (only_training / "notes.json").write_text('{"not": "a results file"}')  # passed over
    page = report.build([only_training, tmp_path / "nowhere"], tmp_path / "out", xor=False)
    text, links, _ = images_of(page)
    assert sorted(links) == ["confusion-1.png", "training-curves.png"]
    for name in ("phase3_matmul", "phase4_matmul"):
        assert f"no {name} benchmark" in text
    assert "no results folder" in text


def test_another_schema_version_is_a_clear_error(results_dir, tmp_path, capsys):
    path = results_dir / "mnist" / "metrics.json"
    data = json.loads(path.read_text()) | {"schema": "nn-foundations/training/2"}
    path.write_text(json.dumps(data))
    with pytest.raises(
        results.ResultsError, match=r"metrics\.json: schema version 'nn-foundations/training/2'"
    ):
        results.gather([results_dir])
    assert main(["--results", str(results_dir), "--out", str(tmp_path / "o"), "--no-xor"]) == 2
    assert "nn-foundations/training/1" in capsys.readouterr().err
    assert not (tmp_path / "o" / "index.html").exists()


def test_records_of_other_kinds_are_passed_over(results_dir):
    # a results folder also holds the project's other JSON records (a timing log, say)
    (results_dir / "rerun.json").write_text('{"schema": "nn-foundations/main-job-rerun/1"}')
    (results_dir / "plain.json").write_text('{"a": 1}')
    found = results.gather([results_dir])
    assert not any("rerun" in str(p) for runs in found.benchmarks.values() for p, _ in runs)
    with pytest.raises(results.ResultsError, match="is not one of"):
        results.load(results_dir / "rerun.json", results.BENCHMARK_SCHEMA)


def test_a_corrupted_file_is_named(results_dir):
    (results_dir / "phase3_matmul.json").write_text('{"schema": "nn-foundations/bench')
    with pytest.raises(results.ResultsError, match=r"phase3_matmul\.json: cannot read it as JSON"):
        results.gather([results_dir])


def test_the_latest_run_with_the_rows_wins(results_dir, tmp_path):
    older = tmp_path / "committed"
    older.mkdir()
    (older / "h100.json").write_text((results_dir / "phase4_matmul.json").read_text())
    found = results.gather([results_dir, older])
    assert [p for p, _ in found.benchmarks["phase4_matmul"]] == [
        results_dir / "phase4_matmul.json",
        older / "h100.json",
    ]
    assert (
        results.first_with(found, "phase4_matmul", "roadmap")[0]
        == results_dir / "phase4_matmul.json"
    )
    # a run without roadmap rows (--no-roadmap) does not hide an older one that has them
    data = json.loads((results_dir / "phase4_matmul.json").read_text())
    data["rows"] = [r for r in data["rows"] if r["kind"] != "roadmap"]
    (results_dir / "phase4_matmul.json").write_text(json.dumps(data))
    found = results.gather([results_dir, older])
    assert results.first_with(found, "phase4_matmul", "roadmap")[0] == older / "h100.json"
    assert (
        results.first_with(found, "phase4_matmul", "ladder")[0]
        == results_dir / "phase4_matmul.json"
    )
    # within a folder, the newest run (by the date it recorded) comes first
    for name, date in (("a-old.json", "2026-01-01T00:00:00"), ("b-new.json", "2026-06-01T00:00")):
        (older / name).write_text(json.dumps(data | {"machine": {"date": date}}))
    found = results.gather([older])
    names = [p.name for p, _ in found.benchmarks["phase4_matmul"]]
    assert names == ["b-new.json", "a-old.json", "h100.json"]


def test_training_figures_with_a_model_and_real_mnist(fake, tmp_path):
    # the weights and misclassified-images figures need the test set: real MNIST where it is
    from phase2_numpy.network import he_init
    from phase2_numpy.train import TrainConfig
    from phase5_training.checkpoint import save_checkpoint
    from shared.datasets import DataNotFoundError, load_dataset

    try:
        load_dataset("mnist")
    except DataNotFoundError:
        pytest.skip("MNIST not found (set NNF_DATA_DIR)")
    config = TrainConfig(widths=(784, 16, 10))
    save_checkpoint(tmp_path / "model.npz", he_init(config.widths, 0), config, FRESH)
    figures = report.training_figures(
        {"mnist, cpu": (tmp_path / "metrics.json", fake.metrics())},
        tmp_path / "model.npz",
        tmp_path,
    )
    names = [f.path.name for f in figures]
    wanted = ["training-curves.png", "confusion-1.png", "first-layer.png", "misclassified.png"]
    assert [name for name in names if name in wanted] == wanted  # in this order, among others
    for f in figures:
        assert_picture(f.path)


def test_a_model_without_its_data_is_noted_not_fatal(tmp_path, monkeypatch):
    from phase2_numpy.network import he_init
    from phase2_numpy.train import TrainConfig
    from phase5_training.checkpoint import save_checkpoint

    monkeypatch.setenv("NNF_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = TrainConfig(widths=(784, 16, 10))
    save_checkpoint(tmp_path / "model.npz", he_init(config.widths, 0), config, FRESH)
    missing = []
    figures = report.training_figures(
        {}, tmp_path / "model.npz", tmp_path, tmp_path / "empty", missing
    )
    assert figures == [] and len(missing) == 1 and "model.npz" in missing[0]


def test_xor_figure_from_phase_1s_network(tmp_path):
    predict = report.xor_predictor(epochs=300)
    corners = predict(np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]))
    assert corners.shape == (4,) and np.all((corners >= 0) & (corners <= 1))


def test_a_finished_run_is_drawn_without_retraining(fake, tmp_path, capsys):
    from phase2_numpy.network import he_init
    from phase2_numpy.train import TrainConfig
    from phase5_training.checkpoint import save_checkpoint
    from shared.datasets import find_dataset

    if find_dataset("mnist") is None:  # the model's figures are drawn from its test set
        pytest.skip("MNIST not found (set NNF_DATA_DIR)")

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps(fake.metrics()))
    config = TrainConfig(widths=(784, 16, 10))
    save_checkpoint(run / "model.npz", he_init(config.widths, 0), config, FRESH)
    assert main(["--run", str(run)]) == 0
    drawn = sorted(p.name for p in (run / "plots").iterdir())
    assert {"training-curves.png", "confusion-1.png", "first-layer.png"} <= set(drawn)
    assert "figures in" in capsys.readouterr().out


def test_a_folder_that_is_no_run_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    assert main(["--run", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --run ") and err.count("\n") == 1
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # the `plot` extra missing
    metrics = {"dataset": "mnist", "device": "cpu", "history": [{"epoch": 1}]}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    assert main(["--run", str(tmp_path)]) == 2
    assert "matplotlib" in capsys.readouterr().err


def one_line_error(capsys, argv) -> str:
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("metrics", "says"),
    [
        ({"dataset": "mnist", "device": "cpu"}, "holds no epochs"),
        ({"dataset": "mnist", "device": "cpu", "history": []}, "holds no epochs"),
        ({"dataset": "mnist", "device": "cpu", "history": "3"}, "holds no epochs"),
        ([1, 2], "no readable metrics.json"),
        ("[" * 100_000, "no readable metrics.json"),
    ],
)
def test_a_run_without_history_is_a_one_line_error(tmp_path, capsys, metrics, says):
    text = metrics if isinstance(metrics, str) else json.dumps(metrics)
    (tmp_path / "metrics.json").write_text(text)
    assert says in one_line_error(capsys, ["--run", str(tmp_path)])


def test_where_the_figures_cannot_go_is_a_one_line_error(fake, tmp_path, capsys, monkeypatch):
    (tmp_path / "metrics.json").write_text(json.dumps(fake.metrics()))
    (tmp_path / "plots").write_text("a file")
    assert "plots is a file" in one_line_error(capsys, ["--run", str(tmp_path)])
    (tmp_path / "plots").unlink()

    def read_only(*args, **kwargs):  # as a read-only folder refuses (root writes anywhere)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("pathlib.Path.mkdir", read_only)
    err = one_line_error(capsys, ["--run", str(tmp_path)])
    assert "cannot write the figures" in err and "Permission denied" in err


def test_out_a_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "afile").write_text("a file")
    err = one_line_error(capsys, ["--out", str(tmp_path / "afile"), "--no-xor"])
    assert "is a file, not a folder" in err
    err = one_line_error(capsys, ["--out", str(tmp_path / "afile" / "below"), "--no-xor"])
    assert "cannot write the report there" in err


def test_the_page_in_a_headless_browser(results_dir, tmp_path):
    from phase6_report.browser import NoBrowser, images, screenshot

    page = report.build([results_dir], tmp_path / "report", xor=False)
    _, _, embedded = images_of(page)
    assert embedded and all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in embedded)
    try:
        shot = screenshot(page, tmp_path / "shot.png", width=1000, height=1400)
    except NoBrowser as e:
        pytest.skip(f"{e}")
    assert png_size(shot) == (1000, 1400)
    assert_picture(shot)  # the page rendered, images and text, not a blank window
    seen = images(page)  # every image decoded: none is broken
    assert seen["count"] == len(embedded) and seen["broken"] == []
    assert len(seen["widths"]) == len(embedded) and min(seen["widths"]) > 0


def test_the_browser_check_finds_a_broken_image(tmp_path):
    from phase6_report.browser import NoBrowser, images

    page = tmp_path / "broken.html"
    page.write_text(
        '<html><body><img alt="cut short" src="data:image/png;base64,iVBO"></body></html>'
    )
    try:
        seen = images(page)
    except NoBrowser as e:
        pytest.skip(f"{e}")
    assert seen == {"count": 1, "broken": ["cut short"], "widths": [0]}


# -- this machine's runs beside the committed ones ----------------------------------------------
def test_the_figures_show_this_machine_beside_the_committed_one(two_machines, drawn, tmp_path):
    mine, committed = two_machines
    page = report.build([mine, committed], tmp_path / "report", xor=False)
    text, links, _ = images_of(page)
    roadmap = drawn.words("roadmap.png")
    assert "Learner Laptop CPU, 2026-12-01" in roadmap
    assert "NVIDIA H100 80GB HBM3, 2026-11-24" in roadmap
    # the ladder: this machine's Phase 3 run, then the committed runs in a figure of their own
    assert "Learner Laptop CPU" in drawn.words("ladder.png")
    assert "NVIDIA H100 80GB HBM3" in drawn.words("ladder-committed.png")
    assert {"roadmap.png", "ladder.png", "ladder-committed.png", "phase1.png"} <= set(links)
    assert "on this machine (Learner Laptop CPU, 2026-12-01, solid)" in text


def test_without_this_machines_runs_the_committed_ones_are_drawn(two_machines, drawn, tmp_path):
    _, committed = two_machines
    page = report.build([tmp_path / "nowhere", committed], tmp_path / "report", xor=False)
    _, links, _ = images_of(page)
    assert "ladder-committed.png" not in links and "phase1.png" not in links
    assert "Learner Laptop" not in drawn.words("roadmap.png")
    assert "NVIDIA H100 80GB HBM3, 2026-11-24" in drawn.words("roadmap.png")


def test_a_phase_folder_of_committed_results_is_not_this_machines(tmp_path):
    committed = tmp_path / "phase4_cuda" / "results"
    committed.mkdir(parents=True)
    assert results.gather([committed, tmp_path]).local is None
    assert results.gather([tmp_path, committed]).local == tmp_path


def test_phase_1s_benchmark_gets_its_figure(results_dir, fake, drawn, tmp_path):
    # what `nox -s phase1` writes: results/phase1_matmul.json, named phase1_matmul, rows of n
    from phase1_python import benchmark

    assert (
        benchmark.main(["--sizes", "4", "8", "--json", str(results_dir / "phase1_matmul.json")])
        == 0
    )
    page = report.build([results_dir], tmp_path / "report", xor=False)
    text, links, _ = images_of(page)
    assert "phase1.png" in links and "no phase1_matmul benchmark" not in text
    assert "NumPy over pure Python" in drawn.words("phase1.png")


# -- the page's text -------------------------------------------------------------------------
def test_the_page_shows_no_absolute_path_and_says_how_it_was_made(results_dir, tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["--results", str(results_dir), str(tmp_path / "nowhere"), "--out", str(out), "--no-xor"]
    assert main(argv) == 0
    text = (out / "index.html").read_text()
    for root in (str(tmp_path), str(report.ROOT), "/tmp/", "/home/"):
        assert root not in text, f"{root} in the page"
    assert "`" not in text  # backticks became <code> elements
    assert "<code>nox -s phase1 -- --large</code>" in text
    assert "results/phase3_matmul.json</code>" in text  # relative to the results folder
    assert "no results folder nowhere" in text
    made = re.search(r"Made by <code>([^<]+)</code> on (\d{4}-\d\d-\d\d) [^,]+, on (.+?)\.", text)
    assert made is not None
    assert (
        made.group(1) == "python -m phase6_report --results results nowhere --out report --no-xor"
    )
    assert "cores" in made.group(3)


def test_paths_are_shown_relative_to_the_repository_or_their_folder(tmp_path):
    shown = report.Shown([tmp_path / "results"])
    assert (
        shown.path(report.ROOT / "phase4_cuda" / "results" / "a.json")
        == "phase4_cuda/results/a.json"
    )
    assert (
        shown.path(tmp_path / "results" / "mnist" / "metrics.json") == "results/mnist/metrics.json"
    )
    assert shown.path("/elsewhere/data/mnist") == "mnist"
    said = shown.text(
        f"no weights for {tmp_path}/results/mnist/model.npz: not in /data/x (1/2 / 3)"
    )
    assert said == "no weights for results/mnist/model.npz: not in x (1/2 / 3)"


def test_backticks_become_code_and_the_rest_is_escaped():
    assert report.rich("run `nox -s a<b>` & see") == "run <code>nox -s a&lt;b&gt;</code> &amp; see"
    assert report.rich("an odd ` one") == "an odd ` one"
