"""The checkpoints: each measured with the reference, or with the learner's file where there is
one (and then failing for the learner's reason, not the tool's); GPU ones quote the committed
H100 results on a machine without a GPU."""

import json

import pytest

from phase6_report import checkpoints
from shared.exercises import start


def test_c_against_python_with_the_reference(tmp_path):
    row = checkpoints._one("c", tmp_path, None)
    assert row["passed"] is True and row["implementation"] == "reference"
    assert "faster than pure Python" in row["figure"] and "max difference" in row["figure"]


def test_xor_with_the_learners_unfinished_matrix(tmp_path):
    start("1.1", tmp_path)  # the starter: every body still raises NotImplementedError
    row = checkpoints.run_one("xor", tmp_path)  # (a process of its own: the learner's Matrix)
    assert row["passed"] is False and row["implementation"] == "1.1 yours"
    assert row["figure"].startswith("NotImplementedError: exercise 1.1: write Matrix.")


def test_xor_with_the_learners_empty_matrix_file_fails(tmp_path):
    # an empty file defines nothing: the reference never stands in for what it lacks
    (tmp_path / "ex1_1_matrix.py").write_text("")
    row = checkpoints.run_one("xor", tmp_path)
    assert row["passed"] is False and row["implementation"] == "1.1 yours"
    assert "exercise 1.1: write Matrix (your file does not define it)" in row["figure"], row


def test_xor_with_the_reference(tmp_path):
    row = checkpoints._one("xor", tmp_path, None)
    assert row["passed"] is True and row["figure"].startswith("4 of 4 points right")


@pytest.mark.parametrize("name", ["gpu", "mnist_gpu"], ids=["product", "main job"])
def test_gpu_checkpoints_without_a_gpu_quote_the_committed_results(name, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "_gpu", lambda: False)
    row = checkpoints._one(name, tmp_path, None)
    assert row["passed"] is None and row["figure"].startswith("no GPU here; the committed H")
    assert "(no committed result" not in row["figure"]


def test_the_table_says_pass_not_yet_and_not_measured(tmp_path, capsys, monkeypatch):
    rows = [
        {"checkpoint": "1 XOR", "implementation": "reference", "figure": "4 of 4",
         "target": "4 of 4", "passed": True},
        {"checkpoint": "4 GPU against C", "implementation": "reference", "figure": "no GPU here",
         "target": "20-50x", "passed": None},
        {"checkpoint": "3 C", "implementation": "1.1 yours", "figure": "NotImplementedError",
         "target": "", "passed": False},
    ]  # fmt: skip
    monkeypatch.setattr(checkpoints, "run_all", lambda workspace, data_dir=None: rows)
    out = tmp_path / "c.json"
    assert checkpoints.main(["--workspace", str(tmp_path), "--json", str(out)]) == 1
    table = capsys.readouterr().out
    assert "| pass" in table and "NOT YET" in table and "not measured here" in table
    assert json.loads(out.read_text())["rows"] == rows


def test_mnist_on_the_cpu_with_the_learners_unfinished_training_loop(tmp_path):
    start("5.2", tmp_path)  # its training loop still raises NotImplementedError, before any data
    row = checkpoints.run_one("mnist_cpu", tmp_path)
    assert row["passed"] is False and row["implementation"] == "5.2 yours"
    assert row["figure"].startswith("NotImplementedError: exercise 5.2: write _train_held")
