"""The surviving mutants judged equivalent, with the reason: a change that cannot alter what
the function returns or does, so no test can kill it (mutation.py leaves them out of the score).
Each is named by its exercise, its function and its change as mutation.py prints it."""

from __future__ import annotations

#: (exercise, function, change) -> why no test can tell the mutant from the reference
EQUIVALENT: dict[tuple[str, str, str], str] = {
    ("1.2", "_sigmoid", "v >= 0 -> v >= 1"): "for 0 <= v < 1 the other branch, exp(v) / (1 + "
    "exp(v)), is the same sigmoid and cannot overflow there either: the results differ by "
    "rounding alone",
}


def judged(exercise: str, function: str, change: str) -> str | None:
    """Why the mutant is equivalent, or None where it has not been judged so."""
    return EQUIVALENT.get((exercise, function, change))
