"""The benchmark runs end to end on tiny sizes (its speed figures come from running it, not here)."""

import json

from phase1_python import benchmark


def test_benchmark_smoke(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert benchmark.main(["--sizes", "3", "8", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("| Size | Naive i-j-k | Pure Python | NumPy ")
    data = json.loads(out.read_text())
    assert [r["n"] for r in data["rows"]] == [3, 8]
    assert all(r["pure_s"] > 0 and r["numpy_s"] > 0 for r in data["rows"])
    assert data["machine"]["python"]
