"""The C and C++ exercises' mutants (Phase 3) for mutation.py: the changes of its Python pass,
made in the text of the bodies the learner writes (between their markers: c_starter.marked_bodies): a binary operator
swapped (+ and -, < and <=, == and !=, && and ||, += and -=), a `!` removed, an integer constant
off by one, a one-line assignment or call dropped. It reads C as text, not as a syntax tree:
comments, strings and preprocessor lines are masked out, and an operator counts only with a space
on each side (the project's style for binary operators: so `->`, `++`, a unary minus and a C++
template's `<` are left alone). A mutant the compiler refuses costs a rebuild and is not counted."""

from __future__ import annotations

import re

from shared.exercises.c_starter import marked_bodies
from shared.exercises.catalogue import EXERCISES, repository_root
from shared.exercises.mutation import Mutant

_SWAPS = {
    "+": "-", "-": "+", "<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==",
    "&&": "||", "||": "&&", "+=": "-=", "-=": "+=",
}  # fmt: skip
_OPERATOR = re.compile(r"(?<=\s)(<=|>=|==|!=|&&|\|\||\+=|-=|<|>|\+|-)(?=\s)")
_CONSTANT = re.compile(r"(?<![\w.])\d+(?![\w.])")
_NOT = re.compile(r"!(?!=)")
_LVALUE = re.compile(r"\*?[A-Za-z_]\w*(?:(?:->|\.)\w+|\[\])*")
_KEYWORDS = frozenset({"return", "if", "for", "while", "switch", "sizeof", "case", "goto"})


def mask(source: str) -> str:
    """`source` with comments, string and character literals and preprocessor lines blanked out
    (newlines kept, so offsets and lines stay those of `source`)."""
    out, i, n = list(source), 0, len(source)

    def blank(first: int, last: int) -> None:
        for k in range(first, min(last, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = source[i]
        if source.startswith("//", i) or (
            c == "#" and not source[source.rfind("\n", 0, i) + 1 : i].strip()
        ):
            j = i
            while (j := source.find("\n", j + 1)) != -1 and source[j - 1] == "\\":
                pass
            j = n if j == -1 else j
            blank(i, j)
            i = j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            j = n if j == -1 else j + 2
            blank(i, j)
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        else:
            i += 1
    return "".join(out)


def _statements(code: str, first: int, last: int):
    """The one-line statements of code[first:last] a mutant may drop: an assignment to a plain
    lvalue (`x = ...;`, `out->data[i] += ...;`, never a declaration) or a call (`f(...);`), on a
    line of its own; (start, end) offsets of each, the `;` included."""
    start = code.rfind("\n", 0, first) + 1
    for line in code[start:last].splitlines(keepends=True):
        text = line.strip()
        at = start + line.index(text[0]) if text else start
        start += len(line)
        if not text.endswith(";") or at < first or text.split("(")[0].strip() in _KEYWORDS:
            continue
        if m := re.match(r"([^=;]*?)\s*[+\-*/]?=(?!=)", text):
            lvalue = re.sub(r"\[[^\]]*\]", "[]", m.group(1))
            if _LVALUE.fullmatch(lvalue):
                yield at, at + len(text)
        elif re.fullmatch(r"[A-Za-z_][\w:]*\s*\(.*\)\s*;", text):
            word = text.split("(")[0].strip()
            if word not in _KEYWORDS:
                yield at, at + len(text)


def _sites(code: str, first: int, last: int) -> list[tuple[int, int, str]]:
    """The changes a mutant may make in code[first:last]: (start, end, replacement), in the order
    of the source."""
    sites = [(m.start(), m.end(), _SWAPS[m.group()]) for m in _OPERATOR.finditer(code, first, last)]
    sites += [(m.start(), m.end(), "") for m in _NOT.finditer(code, first, last)]
    for m in _CONSTANT.finditer(code, first, last):
        value = int(m.group())
        sites.append((m.start(), m.end(), str(value + 1 if value == 0 else value - 1)))
    sites += [(a, b, ";") for a, b in _statements(code, first, last)]
    return sorted(sites)


def _line(text: str, at: int) -> tuple[int, int]:
    """The offsets of the line of `text` holding offset `at`."""
    end = text.find("\n", at)
    return text.rfind("\n", 0, at) + 1, len(text) if end == -1 else end


def _shown(text: str, a: int, b: int, width: int = 40) -> str:
    """The line of `text` holding text[a:b], stripped; a long one cut to `width` characters
    either side of the change."""
    first, last = _line(text, a)
    if len(text[first:last].strip()) <= 2 * width:
        return text[first:last].strip()
    low, high = max(first, a - width), min(last, b + width)
    return f"{'...' if low > first else ''}{text[low:high].strip()}{'...' if high < last else ''}"


def c_mutants(exercise_id: str) -> list[Mutant]:
    """Every mutant of the C or C++ bodies the learner writes, in the order of the source."""
    exercise = EXERCISES[exercise_id]
    source = (repository_root() / exercise.reference).read_text("utf-8")
    code, bodies = mask(source), marked_bodies(source, exercise_id, exercise.reference)
    out, seen = [], {}
    for name in sorted(exercise.write, key=lambda f: bodies[f][0]):
        first, last, _ = bodies[name]  # between its markers (comments: masked)
        for a, b, new in _sites(code, first, last):
            text = source[:a] + new + source[b:]
            before = _shown(source, a, b)
            after = _shown(text, a, a + len(new)) if new != ";" else "(dropped)"
            line, change = source.count("\n", 0, a) + 1, f"{before} -> {after}"
            seen[name, change] = seen.get((name, change), 0) + 1
            if seen[name, change] > 1:  # the same change twice in a function: say which
                change += f" (#{seen[name, change]})"
            out.append(Mutant(exercise.reference, line, name, change, text))
    return out
