"""The starter of a Python exercise: the reference module with the bodies to write replaced by a
NotImplementedError, hints as comments. A C or C++ source is handed to c_starter.py."""

from __future__ import annotations

import ast
import textwrap

from shared.exercises.c_starter import c_starter
from shared.exercises.catalogue import Exercise, repository_root


def _reference_source(exercise: Exercise) -> str:
    return (repository_root() / exercise.reference).read_text("utf-8")


def _bodies(exercise: Exercise, source: str):
    """The functions and methods of `source` the learner writes: (qualified name, its node, the
    statements of its body after the docstring)."""

    def visit(node, prefix: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                if child.name not in exercise.given:  # a class given whole is kept as it is
                    yield from visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                if name in exercise.given or child.name in exercise.given:
                    continue
                if exercise.write and name not in exercise.write:
                    continue
                body = child.body
                overload = any(getattr(d, "id", getattr(d, "attr", "")) == "overload"
                               for d in child.decorator_list)  # fmt: skip
                if overload or body[0].lineno == child.lineno:  # a typing stub or a one-liner
                    continue
                has_doc = (
                    isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)
                )
                rest = body[1:] if has_doc else body
                if rest:
                    yield name, child, rest

    yield from visit(ast.parse(source), "")


def to_write(exercise: Exercise) -> list[str]:
    """What the learner of a Python exercise writes: the functions and methods whose bodies the
    starter takes out (Class.method for a method), in the order of the reference."""
    return [name for name, _, _ in _bodies(exercise, _reference_source(exercise))]


def starter(exercise: Exercise, source: str | None = None) -> str:
    """The reference module's source with the bodies of the functions and methods to write
    replaced by a NotImplementedError (and the hints as comments); docstrings kept. A C or C++
    source gets `c_starter`'s instead."""
    source = _reference_source(exercise) if source is None else source
    if exercise.option:
        return c_starter(exercise, source)
    lines = source.splitlines(keepends=True)
    edits = []  # (first line, last line, replacement), 1-based, inclusive
    for name, node, rest in _bodies(exercise, source):
        indent = " " * rest[0].col_offset
        hint = exercise.hints.get(name)
        text = (
            "".join(
                f"{indent}# {line}\n" for line in textwrap.wrap(f"hint: {hint}", 96 - len(indent))
            )
            if hint
            else ""
        )
        text += f'{indent}raise NotImplementedError("exercise {exercise.id}: write {name}")\n'
        edits.append((min(n.lineno for n in rest), node.end_lineno, text))
    for first, last, text in sorted(edits, reverse=True):
        lines[first - 1 : last] = [text]
    header = (
        f"# Exercise {exercise.id}: {exercise.title}. Fill in every body that raises\n"
        f"# NotImplementedError; the lesson is {exercise.lesson}. Check your work with\n"
        f"#     python -m shared.exercises check {exercise.id}\n"
        f"# (the tests of {exercise.module}, run against this file).\n"
    )
    return header + "".join(lines)
