"""Automatic mutation testing of the Python exercises' checks: small operator swaps in the bodies
the learner writes (+ for -, < for <=, and for or, a constant off by one, a statement dropped),
each made in the reference and run through `check`. A mutant the check fails is killed; the
score is the share killed. It measures the checks the way mistakes.py does, without a person
choosing the mistakes (some survivors are equivalent: a change that cannot alter the result).

    python -m shared.exercises.mutation [--sample N] [--seed S] [ID ...]

Each exercise's mutants are sampled (`--sample`, 20 by default; 0 for every one) with a fixed
seed, and checked with `check -x` (the first failing test kills). The C exercises are left out:
each of their mutants is a rebuild."""

from __future__ import annotations

import argparse
import ast
import copy
import random
import sys
import tempfile
from pathlib import Path

from shared.exercises.catalogue import EXERCISES, repository_root
from shared.exercises.python_starter import to_write

_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.And: ast.Or, ast.Or: ast.And,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip


def _sites(function: ast.AST) -> list[tuple[ast.AST, str]]:
    """Every place in `function` a mutant can change: (node, kind)."""
    sites = []
    for node in ast.walk(function):
        if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _SWAPS:
            sites.append((node, "op"))
        elif isinstance(node, ast.BoolOp) and type(node.op) in _SWAPS:
            sites.append((node, "op"))
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAPS:
            sites.append((node, "compare"))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            sites.append((node, "constant"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Not):
            sites.append((node, "unary"))
        if isinstance(node, ast.FunctionDef | ast.For | ast.While | ast.If | ast.With):
            body = node.body
            for i, statement in enumerate(body):
                droppable = isinstance(statement, ast.Assign | ast.AugAssign | ast.Expr)
                docstring = (
                    i == 0
                    and isinstance(statement, ast.Expr)
                    and isinstance(statement.value, ast.Constant)
                )
                if droppable and not docstring and len(body) > 1:
                    sites.append((statement, "drop"))
    return sites


def _mutate(node: ast.AST, kind: str, parents: dict) -> bool:
    """Change `node` in place (or drop it from its parent's body); whether it could."""
    if kind == "op":
        node.op = _SWAPS[type(node.op)]()
    elif kind == "compare":
        node.ops[0] = _SWAPS[type(node.ops[0])]()
    elif kind == "constant":
        node.value = (
            node.value + 1
            if node.value == 0
            else node.value - 1
            if isinstance(node.value, int)
            else node.value * 1.5
        )
    elif kind == "unary":
        parent, field, index = parents[id(node)]
        holder = getattr(parent, field)
        if index is None:
            setattr(parent, field, node.operand)
        else:
            holder[index] = node.operand
    elif kind == "drop":
        parent, field, index = parents[id(node)]
        getattr(parent, field)[index] = ast.Pass()
    return True


def mutants(exercise_id: str) -> list[tuple[str, str]]:
    """(description, source) of every mutant of the bodies the learner writes."""
    exercise = EXERCISES[exercise_id]
    source = (repository_root() / exercise.reference).read_text("utf-8")
    tree = ast.parse(source)
    names = set(to_write(exercise))
    out = []
    count = sum(1 for _ in _functions(tree, names))
    for f in range(count):
        base = ast.parse(source)
        function, name = list(_functions(base, names))[f]
        for s in range(len(_sites(function))):
            mutated = copy.deepcopy(base)
            function2, _ = list(_functions(mutated, names))[f]
            node, kind = _sites(function2)[s]
            parents = _parents(function2)
            line = getattr(node, "lineno", 0)
            _mutate(node, kind, parents)
            ast.fix_missing_locations(mutated)
            try:
                text = ast.unparse(mutated)
                compile(text, "mutant", "exec")
            except (SyntaxError, ValueError):
                continue
            out.append((f"{name}: {kind} at line {line}", text))
    return out


def _functions(tree: ast.AST, names: set[str]):
    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef) and f"{prefix}{child.name}" in names:
                yield child, f"{prefix}{child.name}"

    yield from visit(tree, "")


def _parents(root: ast.AST) -> dict:
    parents = {}
    for node in ast.walk(root):
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        parents[id(item)] = (node, field, i)
            elif isinstance(value, ast.AST):
                parents[id(value)] = (node, field, None)
    return parents


def score(exercise_id: str, sample: int, seed: int, show: bool = True) -> tuple[int, int, list]:
    """(killed, tried, the survivors' descriptions) for a sample of the exercise's mutants."""
    from shared.exercises.runner import check

    every = mutants(exercise_id)
    chosen = (
        every if not sample or sample >= len(every) else random.Random(seed).sample(every, sample)
    )
    killed, survivors = 0, []
    for what, text in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / EXERCISES[exercise_id].file).write_text(text, "utf-8")
            try:
                code, _ = check(exercise_id, Path(tmp), timeout=60, first_failure=True)
            except Exception:  # (a mutant that does not import is killed)
                code = 2
        killed += code != 0
        if code == 0:
            survivors.append(what)
            if show:
                print(f"  survives: {what}", flush=True)
    return killed, len(chosen), survivors


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m shared.exercises.mutation",
                                description=__doc__.split("\n\n")[0])  # fmt: skip
    p.add_argument("ids", nargs="*", help="exercises (default: every Python one)")
    p.add_argument("--sample", type=int, default=20, help="mutants per exercise (0: all)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    ids = args.ids or [i for i, e in EXERCISES.items() if not e.option]
    for exercise_id in ids:
        if EXERCISES[exercise_id].option:
            print(f"{exercise_id}: a C or C++ exercise, left out", file=sys.stderr)
            continue
        killed, tried, _ = score(exercise_id, args.sample, args.seed)
        print(f"{exercise_id}: {killed} of {tried} mutants killed ({killed / max(tried, 1):.0%})",
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
