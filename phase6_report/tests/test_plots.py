"""What every figure shares: without matplotlib, one clear error; empty inputs refused."""

import sys

import pytest

from phase6_report import benchmark_plots, plots, training_plots


def test_without_matplotlib_the_error_says_how_to_install_it(fake, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(plots.MissingPlotting, match=r"pip install 'nn-foundations\[plot\]'"):
        training_plots.confusion_matrix(fake.metrics(), tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()


def test_empty_inputs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no roadmap rows"):
        benchmark_plots.performance_roadmap([], tmp_path / "r.png")
    with pytest.raises(ValueError, match="no runs"):
        training_plots.training_curves({}, tmp_path / "c.png")
