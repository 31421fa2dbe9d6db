"""Phase 6: pictures of what was learned and how fast it ran (matplotlib, optional `plot` extra).

`plots` draws each figure from the project's own results files, `results` reads those files and
checks their schema, `report` writes the PNGs and one self-contained HTML page.
"""
