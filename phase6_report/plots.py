"""What every figure shares: matplotlib on its Agg backend, the sizes, the atomic save.

The figures themselves are in training_plots.py (what a training run learned) and
benchmark_plots.py (how fast each phase ran). Every figure function takes plain data (rows of a
benchmark file, a training metrics dict, arrays), draws one figure with matplotlib's Agg backend
(no screen needed), writes it to `out` and returns the path. Figures have a fixed size (FIGSIZE at DPI) so that the tests can check what they get.
matplotlib is the optional `plot` extra: without it, each function raises MissingPlotting with
the command that installs it.
"""

from __future__ import annotations

from pathlib import Path

from shared.files import atomic_write_bytes

__all__ = [
    "DPI",
    "FIGSIZE",
    "MIN_FONT_PT",
    "SQUARE",
    "MissingPlotting",
    "empty_panel",
    "require_matplotlib",
    "save",
    "texts",
]

DPI = 100
FIGSIZE = (9.0, 5.5)  # inches: 900 x 550 pixels
SQUARE = (7.0, 7.0)  # 700 x 700: the confusion matrix and the image grids


class MissingPlotting(ImportError):
    """matplotlib, the `plot` extra, is not installed."""


def require_matplotlib():
    """pyplot on the Agg backend, or MissingPlotting saying how to install it."""
    try:
        import matplotlib
    except ImportError as e:
        raise MissingPlotting(
            "the plots need matplotlib, the project's `plot` extra: "
            "pip install 'nn-foundations[plot]' (or: pip install matplotlib)"
        ) from e
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save(fig, out: str | Path) -> Path:
    """Write the figure as PNG atomically (a reader never sees half an image) and close it."""
    import io

    out = Path(out)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    fig.clf()
    require_matplotlib().close(fig)
    atomic_write_bytes(out, buffer.getvalue())
    return out


def empty_panel(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=10)
    ax.set_axis_off()


#: the smallest text a figure may carry, in points at the report page's scale (the page shows
#: every image at its own pixel size, up to 900 pixels wide, so at DPI 100 a point is a point)
MIN_FONT_PT = 9.0


def texts(fig) -> list:
    """Every visible, non-empty text of a figure (titles, labels, tick labels, legends,
    annotations), so that a test can check what a figure says and how large it says it."""
    found = []
    for artist in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize")):
        if artist.get_visible() and artist.get_text().strip():
            found.append(artist)
    return found
