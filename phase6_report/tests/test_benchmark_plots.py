"""The benchmark figures from small synthetic results."""

import pytest

from phase6_report import benchmark_plots
from shared.testing import assert_picture

WIDE = (900, 550)
SQUARE = (700, 700)


def test_performance_roadmap(fake, tmp_path):
    assert_picture(
        benchmark_plots.performance_roadmap(fake.roadmap_rows(), tmp_path / "r.png"), WIDE
    )


@pytest.mark.parametrize("which", ["both", "cuda only", "c only"])
def test_matmul_ladder(fake, which, tmp_path):
    ladder = fake.ladder_rows() if which != "c only" else []
    c = fake.c_rows() if which != "cuda only" else []
    assert_picture(benchmark_plots.matmul_ladder(ladder, c, tmp_path / "l.png"), WIDE)
