"""The READMEs as a whole: each speaks of the project alone, links only to files that exist, and
every phase has "Try this" commands to run (none calling nox). Each phase's own lesson, its parts
in order and its commands run, is collected with that phase's tests (the root conftest.py, with
shared/lessons.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.lessons import try_blocks, without_fences

ROOT = Path(__file__).resolve().parents[2]
PHASE_READMES = sorted(ROOT.glob("phase*/README.md"))
ALL_READMES = [ROOT / "README.md", *PHASE_READMES]

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

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<img [^>]*src=\"([^\"]+)\"")


@pytest.mark.parametrize("readme", ALL_READMES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_readmes_speak_of_the_project_alone(readme):
    text = readme.read_text(encoding="utf-8")
    found = [m.group(0) for pattern in FORBIDDEN for m in re.finditer(pattern, text, re.I)]
    assert not found, f"{readme.relative_to(ROOT)}: {found}"


@pytest.mark.parametrize("readme", ALL_READMES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(readme):
    broken = []
    for match in LINK.finditer(without_fences(readme.read_text(encoding="utf-8"))):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor in the same page
        path = (readme.parent / target.split("#")[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{readme.relative_to(ROOT)}: links to nothing: {broken}"


def test_the_try_blocks_are_found():
    blocks = {readme.parent.name: try_blocks(readme) for readme in PHASE_READMES}
    assert all(blocks.values()), f"a phase has no runnable experiment: {blocks}"
    for phase, found in blocks.items():
        for block in found:
            assert not re.search(r"(^|[;&|]\s*)nox\b", block.script, re.M), (
                f"{phase}'s try block {block.number} calls nox"
            )
