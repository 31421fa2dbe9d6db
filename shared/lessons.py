"""The READMEs as lessons that must not rot: the parts every phase's lesson has, in order, and the
"Try this" commands, found and run as tests of the phase they belong to.

How a "Try this" command is written (so that it can be run):
- a fenced block opened with ```bash inside the `## Try this` section is run, as one bash script
  (`set -e`, `pipefail`) from the repository root, with the installed package on the path;
- its first lines may carry tags, as comments: `# needs a GPU` (run only where a real GPU is),
  `# needs MNIST` (skipped where the data set cannot be found), `# slow` (marked slow);
- blocks of any other language (```text for output, ```python for snippets) are not run.
A command never calls nox (each nox session builds a virtualenv: far too heavy for a test).

The root conftest.py collects each phase's README.md with that phase's tests, so `pytest
phase1_python` runs Phase 1's lesson too; shared/tests/test_lessons.py checks what spans every
README (links, words, that each phase has a runnable block).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FENCE", "PARTS", "TryBlock", "missing_parts", "run_block", "sections", "try_blocks"]

#: the parts of every phase's lesson, in this order
PARTS = (
    "What you will learn",
    "Reading order",
    "The ideas",
    "Try this",
    "Measured results",
    "Going further",
)

#: the tags a block's first comment lines may carry
TAGS = ("needs a gpu", "needs mnist", "slow")

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)

#: a warning as Python's `warnings` prints it (`file:line: UserWarning: text`; numba puts a
#: terminal escape before its categories). The project's own one-line notes, such as the busy-
#: machine "Warning: ..." of the benchmarks, are not of this form.
WARNING_LINE = re.compile(r"[A-Za-z]+Warning\b:")


@dataclass(frozen=True)
class TryBlock:
    """One runnable block of a README's "Try this" section: `number` counts from 1, `line` is
    the README's line (from 0) of its opening fence."""

    number: int
    script: str
    tags: frozenset[str]
    line: int = 0


def without_fences(text: str) -> str:
    """`text` with the lines inside code blocks blanked (a "## " there is not a heading)."""
    return FENCE.sub(lambda m: f"```{m.group(1)}\n" + "\n" * m.group(2).count("\n") + "```", text)


def sections(text: str) -> dict[str, str]:
    """Level-2 headings -> their text (up to the next level-2 heading)."""
    parts = re.split(r"^## +(.+?)\s*$", without_fences(text), flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def missing_parts(text: str) -> str | None:
    """None when the lesson has every part of PARTS in order; else what is wrong, in a line."""
    headings = list(sections(text))
    missing = [part for part in PARTS if part not in headings]
    if missing:
        return f"lacks {missing}"
    order = [headings.index(part) for part in PARTS]
    if order != sorted(order):
        return f"parts out of order: {headings}"
    return None


def try_blocks(readme: Path) -> list[TryBlock]:
    """Every ```bash block of the README's "Try this" section, in order."""
    text = readme.read_text(encoding="utf-8")
    heading = re.search(r"^## +Try this\s*$", text, re.M)
    if not heading:
        return []
    end = re.search(r"^## ", text[heading.end() :], re.M)
    section = text[heading.end() : heading.end() + end.start() if end else len(text)]
    blocks = []
    for match in FENCE.finditer(section):
        if match.group(1) != "bash":
            continue
        tags = set()
        for line in match.group(2).splitlines():
            if not line.startswith("#"):
                break
            tag = line.lstrip("# ").strip().lower()
            if tag in TAGS:
                tags.add(tag)
        line = text.count("\n", 0, heading.end() + match.start())
        blocks.append(TryBlock(len(blocks) + 1, match.group(2), frozenset(tags), line))
    return blocks


def run_block(block: TryBlock, root: Path, timeout: float = 600) -> str | None:
    """Run the block from `root` with this interpreter's installed package; None when it exits 0
    and prints no warning, else what went wrong (the script and the ends of its output)."""
    env = dict(os.environ)
    # the interpreter running the tests is the one with the project installed
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONSAFEPATH"] = "1"  # the installed package, not the checkout's folder of the same name
    env.setdefault("MPLBACKEND", "Agg")
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.script],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    warnings = WARNING_LINE.findall(done.stdout + done.stderr)
    if done.returncode == 0 and not warnings:
        return None
    what = f"exit {done.returncode}" if done.returncode else f"printed warnings: {warnings}"
    return (
        f"{what}\n--- script\n{block.script}\n--- stdout (end)\n{done.stdout[-3000:]}"
        f"\n--- stderr (end)\n{done.stderr[-3000:]}"
    )
