"""Automatic mutation testing of the exercises' checks: small changes to the bodies the learner
writes (+ for -, < for <=, and for or, a constant off by one, a statement dropped), each made in
the reference and run through `check`. A mutant the check fails is killed; the score is the share
killed of the mutants that could be told apart (a survivor judged equivalent, one that cannot
alter the result, is named in equivalent.py with the reason and left out). It measures the checks
the way mistakes.py does, without a person choosing the mistakes. Signatures (default values
included), annotations and docstrings are never mutated: they are given, not written.

    python -m shared.exercises.mutation [--sample N] [--seed S] [--list] [ID ...]

Each exercise's mutants are sampled (`--sample`, 20 by default; 0 for every one) with a fixed
seed, and checked with `check -x` (the first failing test kills); each survivor is printed with
its file, line and change, for a person to judge. The C and C++ exercises' mutants come from
c_mutation.py; each is a rebuild (a mutant the compiler refuses is neither killed nor counted).
`--list` prints the sample without running it."""

from __future__ import annotations

import argparse
import ast
import copy
import random
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from shared.exercises.catalogue import EXERCISES, ExerciseError, repository_root
from shared.exercises.equivalent import judged
from shared.exercises.python_starter import to_write

_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.And: ast.Or, ast.Or: ast.And,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip


#: fields that hold no code a mutant should change: a signature (its defaults included), an
#: annotation, a decorator (ast.Call's `args` are code, so only these nodes' fields are skipped)
_SIGNATURE = {
    ast.FunctionDef: ("args", "returns", "decorator_list", "type_params"),
    ast.AsyncFunctionDef: ("args", "returns", "decorator_list", "type_params"),
    ast.Lambda: ("args",),
    ast.AnnAssign: ("annotation",),
    ast.arg: ("annotation",),
    ast.ClassDef: ("bases", "keywords", "decorator_list", "type_params"),
}


def _code(node: ast.AST):
    """`node` and every node under it that runs as code: ast.walk without signatures, annotations
    and decorators (a mutant of a default value changes the interface, not the body)."""
    skipped = _SIGNATURE.get(type(node), ())
    yield node
    for name, value in ast.iter_fields(node):
        if name in skipped:
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ast.AST):
                yield from _code(child)


def _is_docstring(body: list, i: int) -> bool:
    return (
        i == 0
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )


def _sites(function: ast.AST) -> list[tuple[ast.AST, str]]:
    """Every place in the body of `function` a mutant can change: (node, kind), in a fixed order.
    Its signature, annotations and docstrings are left alone."""
    sites = []
    for node in _code(function):
        if isinstance(node, ast.BinOp | ast.AugAssign | ast.BoolOp) and type(node.op) in _SWAPS:
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
                if droppable and not _is_docstring(body, i) and len(body) > 1:
                    sites.append((statement, "drop"))
    return sites


def _mutate(node: ast.AST, kind: str, parents: dict) -> None:
    """Change `node` in place (or drop it from its parent's body)."""
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
        if index is None:
            setattr(parent, field, node.operand)
        else:
            getattr(parent, field)[index] = node.operand
    elif kind == "drop":
        parent, field, index = parents[id(node)]
        getattr(parent, field)[index] = ast.Pass()


#: what a change is shown inside: expressions and the one-line statements around them
_SIMPLE = (ast.expr, ast.keyword, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr)


def _context(node: ast.AST, kind: str, parents: dict) -> ast.AST:
    """The node whose source shows the change: a short one is shown in the expression or the
    one-line statement around it (`float32(0.0)` as `acc = float32(0.0)`), so that two changes
    in one function read differently; a removed `not` always in its parent."""
    shown = node
    while kind != "drop" and id(shown) in parents:
        parent = parents[id(shown)][0]
        short = len(_shown(shown)) < 30 or (kind == "unary" and shown is node)
        if not isinstance(parent, _SIMPLE) or not short:
            break
        shown = parent
    return shown


def _shown(node: ast.AST) -> str:
    """`node`'s source on one line."""
    return " ".join(ast.unparse(node).split())


def _change(before: str, after: str, width: int = 100) -> str:
    """`before -> after`; two long texts are cut to `width` characters around where they first
    differ, so that the change itself is always shown."""
    if len(before) <= width and len(after) <= width:
        return f"{before} -> {after}"
    pairs = enumerate(zip(before, after, strict=False))  # (of unequal lengths)
    at = next((i for i, (x, y) in pairs if x != y), len(after))
    first = max(0, at - width // 2)

    def cut(text: str) -> str:
        last = first + width
        return f"{'...' if first else ''}{text[first:last]}{'...' if last < len(text) else ''}"

    return f"{cut(before)} -> {cut(after) if after != '(dropped)' else after}"


@dataclass(frozen=True)
class Mutant:
    """One mutant of an exercise's reference: where (the reference's file and line, the function)
    and what changed (`before -> after` as source), and the whole mutated module."""

    file: str
    line: int
    function: str
    change: str
    source: str = field(repr=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.function}: {self.change}"


def mutants(exercise_id: str) -> list[Mutant]:
    """Every mutant of the bodies the learner writes, in the order of the reference (a mutant
    that does not compile is left out)."""
    exercise = EXERCISES[exercise_id]
    source = (repository_root() / exercise.reference).read_text("utf-8")
    names, lines = set(to_write(exercise)), source.splitlines(keepends=True)
    out, seen = [], {}
    for function, name in _functions(ast.parse(source), names):
        # each mutant is the source with this function's lines replaced by its mutated copy
        first = min([d.lineno for d in function.decorator_list] + [function.lineno])
        head, tail = "".join(lines[: first - 1]), "".join(lines[function.end_lineno :])
        for s in range(len(_sites(function))):
            function2 = copy.deepcopy(function)
            node, kind = _sites(function2)[s]
            parents = _parents(function2)
            shown = _context(node, kind, parents)
            line, before = getattr(node, "lineno", function2.lineno), _shown(shown)
            _mutate(node, kind, parents)
            ast.fix_missing_locations(function2)
            if kind == "drop":
                after = "(dropped)"
            else:
                after = _shown(node.operand if shown is node and kind == "unary" else shown)
            body = textwrap.indent(ast.unparse(function2), " " * function.col_offset)
            text = f"{head}{body}\n{tail}"
            try:
                compile(text, "mutant", "exec")
            except (SyntaxError, ValueError):
                continue
            change = _change(before, after)
            seen[name, change] = seen.get((name, change), 0) + 1
            if seen[name, change] > 1:  # the same change twice in a function: say which
                change += f" (#{seen[name, change]})"
            out.append(Mutant(exercise.reference, line, name, change, text))
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
        for name, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        parents[id(item)] = (node, name, i)
            elif isinstance(value, ast.AST):
                parents[id(value)] = (node, name, None)
    return parents


def sample(every: list, size: int, seed: int) -> list:
    """`size` of `every` (all of them for 0 or more than there are), the same for the same seed,
    in the order of `every`."""
    if not size or size >= len(every):
        return list(every)
    chosen = set(random.Random(seed).sample(range(len(every)), size))
    return [m for i, m in enumerate(every) if i in chosen]


@dataclass
class Score:
    """What a sample of an exercise's mutants came to: the mutants tried, those the check killed
    and those it did not; of those, the ones judged equivalent (equivalent.py) with the reason."""

    exercise: str
    available: int
    tried: list = field(default_factory=list)
    survivors: list = field(default_factory=list)
    stillborn: int = 0  # mutants that do not build (C): neither killed nor counted

    @property
    def equivalent(self) -> list[tuple[object, str]]:
        return [
            (m, r) for m in self.survivors if (r := judged(self.exercise, m.function, m.change))
        ]

    @property
    def killed(self) -> int:
        return len(self.tried) - len(self.survivors)

    def line(self) -> str:
        counted = len(self.tried) - len(self.equivalent)
        share = f"{self.killed / counted:.0%}" if counted else "-"
        return (
            f"{self.exercise}: {self.killed} of {counted} non-equivalent mutants killed ({share}); "
            f"{len(self.tried)} tried of {self.available}, {len(self.equivalent)} equivalent"
            + (f", {self.stillborn} did not build" if self.stillborn else "")
        )


def score(exercise_id: str, size: int, seed: int, show: bool = True, timeout: float = 60) -> Score:
    """Run `check` on a sample of the exercise's mutants (each test may take `timeout` seconds: a
    mutant that loops is killed by the limit); each survivor printed as it comes."""
    from shared.exercises.runner import check

    every = all_mutants(exercise_id)
    result = Score(exercise_id, len(every))
    for mutant in sample(every, size, seed):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / EXERCISES[exercise_id].file).write_text(mutant.source, "utf-8")
            try:
                code, _ = check(exercise_id, Path(tmp), timeout=timeout, first_failure=True)
            except ExerciseError as e:
                if "does not build" in str(e):  # a C mutant the compiler refuses: no test ran
                    result.stillborn += 1
                    continue
                code = 2  # (a Python mutant that does not import is killed)
        result.tried.append(mutant)
        if code == 0:
            result.survivors.append(mutant)
            if show:
                print(f"  survives: {mutant}{_reason(exercise_id, mutant)}", flush=True)
    return result


def _reason(exercise_id: str, mutant) -> str:
    reason = judged(exercise_id, mutant.function, mutant.change)
    return f"\n      equivalent: {reason}" if reason else ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m shared.exercises.mutation",
                                description=__doc__.split("\n\n")[0])  # fmt: skip
    p.add_argument("ids", nargs="*", help="exercises (default: every one)")
    p.add_argument("--sample", type=int, default=20, help="mutants per exercise (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--list", action="store_true", help="print the sample's mutants, run nothing")
    args = p.parse_args(argv)
    for exercise_id in args.ids or list(EXERCISES):
        if exercise_id not in EXERCISES:
            p.error(f"no exercise {exercise_id!r}; the exercises are {', '.join(EXERCISES)}")
        if args.list:
            every = all_mutants(exercise_id)
            print(f"{exercise_id}: {len(every)} mutants")
            for mutant in sample(every, args.sample, args.seed):
                print(f"  {mutant}")
            continue
        result = score(exercise_id, args.sample, args.seed)
        print(result.line(), flush=True)
    return 0


def all_mutants(exercise_id: str) -> list[Mutant]:
    """The mutants of a Python exercise (here) or of a C or C++ one (c_mutation.py)."""
    if EXERCISES[exercise_id].option:
        from shared.exercises.c_mutation import c_mutants

        return c_mutants(exercise_id)
    return mutants(exercise_id)


if __name__ == "__main__":
    sys.exit(main())
