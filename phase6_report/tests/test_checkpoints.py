"""The checkpoints: each measured with the reference, or with the learner's file where there is
one (and then failing for the learner's reason, not the tool's); GPU ones quote the committed
H100 results on a machine without a GPU."""

import json

import pytest

from phase6_report import checkpoints
from shared.exercises import EXERCISES, repository_root, start


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
    if name == "gpu":  # the committed H100 run: 10x in FP32, 15x in TF32, short of 20x
        assert row["remark"] == "the quoted run misses: 15x against 20-50x"


def test_a_figure_outside_its_range_is_said_plainly():
    assert checkpoints._in_range(10.2, 20, 50) == (False, "misses: 10x against 20-50x")
    assert checkpoints._in_range(2168, 100, 500) == (
        True,
        "above the range: 2,168x against 100-500x",
    )
    assert checkpoints._in_range(0.31, 20, 50) == (False, "misses: 0.31x against 20-50x")
    assert checkpoints._in_range(20, 20, 50) == (True, "")
    row = {"passed": False, "remark": "misses: 10x against 20-50x"}
    assert checkpoints._result(row) == "NOT YET: misses: 10x against 20-50x"
    assert checkpoints._result({"passed": None}) == "not measured here"


def test_c_against_python_times_the_learners_c(tmp_path):
    # the reference's matrix.c as the learner's file: built as `check` builds it, then timed
    source = repository_root() / EXERCISES["3.1"].reference
    (tmp_path / EXERCISES["3.1"].file).write_text(source.read_text())
    row = checkpoints.run_one("c", tmp_path)
    assert row["implementation"] == "3.1 yours", row
    assert "your i-k-j product" in row["figure"] and "the packed product" in row["figure"], row
    assert float(row["figure"].split("max difference ")[1].split()[0]) < 1e-12


def test_the_learners_c_unwritten_fails_naming_it(tmp_path):
    start("3.1", tmp_path)
    row = checkpoints.run_one("c", tmp_path)
    assert row["passed"] is False and row["implementation"] == "3.1 yours"
    assert row["figure"].startswith("exercise 3.1: write nn_matmul_naive ("), row


def test_without_a_gpu_the_learners_kernels_are_checked_in_the_simulator(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "_gpu", lambda: False)
    source = repository_root() / EXERCISES["4.3"].reference
    (tmp_path / EXERCISES["4.3"].file).write_text(source.read_text())
    row = checkpoints.run_one("gpu", tmp_path)
    assert row["passed"] is None and row["implementation"] == "4.3 yours", row
    assert row["figure"].startswith("your naive kernel correct on odd shapes in numba's simulator")
    start("4.4", tmp_path)  # unwritten: a failure naming it, not a quote
    row = checkpoints.run_one("gpu", tmp_path)
    assert row["passed"] is False and "exercise 4.4: write matmul_tiled" in row["figure"], row


def test_on_a_gpu_the_learners_kernels_are_checked_then_timed(monkeypatch):
    # the GPU branch, run in numba's simulator at a small size: every product validated, then
    # timed against the C product; the verdict is on the project's own fastest product
    monkeypatch.setattr(checkpoints, "_gpu", lambda: True)
    row = checkpoints._gpu_against_c(frozenset({"4.3"}), n=24)
    assert "in FP32" in row["figure"] and "in your naive kernel" in row["figure"], row
    assert row["passed"] is False and row["remark"].startswith("misses: "), row


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
