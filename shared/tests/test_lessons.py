"""The READMEs are lessons, and a lesson must not rot: every phase README has the parts of a lesson
in order, speaks of the project alone, links only to files that exist, and every command of its
"Try this" section runs.

How a "Try this" command is written (so that this file can run it):
- a fenced block opened with ```bash inside the `## Try this` section is run, as one bash script
  (`set -e`, `pipefail`) from the repository root, with the installed package on the path;
- its first lines may carry tags, as comments: `# needs a GPU` (run only where a real GPU is),
  `# needs MNIST` (skipped where the data set cannot be found), `# slow` (marked slow);
- blocks of any other language (```text for output, ```python for snippets) are not run.
A command never calls nox (each nox session builds a virtualenv: far too heavy for a test); the
sessions belong in the "Measured results" section.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PHASE_READMES = sorted(ROOT.glob("phase*/README.md"))
ALL_READMES = [ROOT / "README.md", *PHASE_READMES]

#: the parts of every phase's lesson, in this order
PARTS = (
    "What you will learn",
    "Reading order",
    "The ideas",
    "Try this",
    "Measured results",
    "Going further",
)

#: words about how the project was made, not about what it teaches
FORBIDDEN = [
    r"\bissues?\s*#?\d+",
    r"\bthe issue\b",
    r"(?<!nox )(?<!nox's )\b(this|previous|last|work|earlier|next) session\b",
    r"\blent\b",
    r"\bthe goal\s+was\b",
    r"\bgoals? set\b",
    r"\.\./shared\b",
]

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<img [^>]*src=\"([^\"]+)\"")


def _sections(text: str) -> dict[str, str]:
    """Level-2 headings -> their text (up to the next level-2 heading)."""
    parts = re.split(r"^## +(.+?)\s*$", _without_fences(text), flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _without_fences(text: str) -> str:
    # a "## " inside a code block is not a heading: blank the blocks' lines, keep the fences
    return FENCE.sub(lambda m: f"```{m.group(1)}\n" + "\n" * m.group(2).count("\n") + "```", text)


def _try_blocks() -> list[tuple[str, str, set[str]]]:
    """(id, script, tags) for every ```bash block of every README's "Try this" section."""
    blocks = []
    for readme in PHASE_READMES:
        text = readme.read_text(encoding="utf-8")
        heading = re.search(r"^## +Try this\s*$", text, re.M)
        if not heading:
            continue
        end = re.search(r"^## ", text[heading.end() :], re.M)
        section = text[heading.end() : heading.end() + end.start() if end else len(text)]
        for number, match in enumerate(m for m in FENCE.finditer(section) if m.group(1) == "bash"):
            script = match.group(2)
            tags = set()
            for line in script.splitlines():
                if not line.startswith("#"):
                    break
                tag = line.lstrip("# ").strip().lower()
                if tag in ("needs a gpu", "needs mnist", "slow"):
                    tags.add(tag)
            blocks.append((f"{readme.parent.name}-{number + 1}", script, tags))
    return blocks


def _gpu_usable() -> bool:
    from shared.machine import gpu_status

    return gpu_status().usable


def _has_mnist() -> bool:
    from shared.datasets import find_dataset

    return find_dataset("mnist") is not None


@pytest.mark.parametrize("readme", PHASE_READMES, ids=lambda p: p.parent.name)
def test_every_phase_readme_is_a_lesson_in_order(readme):
    headings = list(_sections(readme.read_text(encoding="utf-8")))
    missing = [part for part in PARTS if part not in headings]
    assert not missing, f"{readme.parent.name}/README.md lacks {missing}"
    order = [headings.index(part) for part in PARTS]
    assert order == sorted(order), f"{readme.parent.name}/README.md: parts out of order {headings}"


@pytest.mark.parametrize("readme", ALL_READMES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_readmes_speak_of_the_project_alone(readme):
    text = readme.read_text(encoding="utf-8")
    found = [m.group(0) for pattern in FORBIDDEN for m in re.finditer(pattern, text, re.I)]
    assert not found, f"{readme.relative_to(ROOT)}: {found}"


@pytest.mark.parametrize("readme", ALL_READMES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(readme):
    broken = []
    for match in LINK.finditer(_without_fences(readme.read_text(encoding="utf-8"))):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor in the same page
        path = (readme.parent / target.split("#")[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{readme.relative_to(ROOT)}: links to nothing: {broken}"


def test_the_try_blocks_are_found():
    blocks = _try_blocks()
    readmes = {block_id.rsplit("-", 1)[0] for block_id, _, _ in blocks}
    assert readmes == {p.parent.name for p in PHASE_READMES}, "a phase has no runnable experiment"
    for block_id, script, _ in blocks:
        assert not re.search(r"(^|[;&|]\s*)nox\b", script, re.M), f"{block_id} calls nox"


def _params():
    for block_id, script, tags in _try_blocks():
        marks = [pytest.mark.slow] if "slow" in tags else []
        yield pytest.param(script, tags, id=block_id, marks=marks)


@pytest.mark.parametrize(("script", "tags"), list(_params()))
def test_try_this_command_runs(script, tags):
    if "needs a gpu" in tags and not _gpu_usable():
        pytest.skip("needs a real GPU")
    if "needs mnist" in tags and not _has_mnist():
        pytest.skip("MNIST not found (set NNF_DATA_DIR)")
    env = dict(os.environ)
    # the interpreter running the tests is the one with the project installed
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONSAFEPATH"] = "1"  # the installed package, not the checkout's folder of the same name
    env.setdefault("MPLBACKEND", "Agg")
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (
        f"exit {done.returncode}\n--- script\n{script}\n--- stdout (end)\n{done.stdout[-3000:]}"
        f"\n--- stderr (end)\n{done.stderr[-3000:]}"
    )
