"""The command line, `python -m shared.exercises list | start ID | check ID`: the catalogue,
a starter written, a check's failing tests each with its hint. The work is runner.py's."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import shared.exercises  # (its docstring is the command's description, read when main runs)
from shared.exercises.catalogue import EXERCISES, Exercise, ExerciseError
from shared.exercises.runner import TIMEOUT, check, start

#: failing tests `check` names (the first ones: a body that is not written yet fails them all)
SHOWN = 12


#: the hint beside a result far off in a kernel with barriers (Exercise.barriers)
RACE = (
    "a result far off in a kernel whose threads share memory: a race? A missing "
    "cuda.syncthreads() lets a thread read a shared array before every thread has written it, "
    "or overwrite it while others still read it (the simulator runs the threads in turn, so a "
    "race there may show or not from run to run)"
)


def _hint_for(exercise: Exercise, outcome: dict) -> str:
    error = outcome.get("error") or {}
    message = error.get("message", "")
    for name, hint in exercise.hints.items():
        if f"write {name}" in message:
            return hint
    if exercise.barriers and error.get("type") == "AssertionError":
        return RACE
    return ""


#: lines of one failure's message `check` prints (`check -v` prints pytest's whole report)
LINES = 16


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line on stderr, exit 2 (argparse prints the usage too)
        self.exit(2, f"error: {message} (python -m shared.exercises --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m shared.exercises", description=shared.exercises.__doc__.split("\n\n")[0]
    )
    p.add_argument("--workspace", type=Path, default=Path("workspace"),
                   help="the folder of your files (default: workspace)")  # fmt: skip
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="every exercise, and which you have started")
    sub.add_parser("start", help="write an exercise's starter").add_argument(
        "id", help="the exercise, e.g. 1.1"
    )
    c = sub.add_parser("check", help="check your file")
    c.add_argument("id", help="the exercise, e.g. 1.1")
    c.add_argument("--timeout", type=_positive, default=TIMEOUT, metavar="SECONDS",
                   help=f"how long one test may run (default: {TIMEOUT:g})")  # fmt: skip
    c.add_argument("-v", "--verbose", action="store_true",
                   help="print the tests' whole output (pytest's report, the C tests' lines)")  # fmt: skip
    c.add_argument("-x", "--first-failure", action="store_true",
                   help="stop at the first failing test")  # fmt: skip
    return p


def _report(exercise: Exercise, code: int, outcomes: list[dict]) -> None:
    passed = sum(o["outcome"] == "passed" for o in outcomes)
    print(f"exercise {exercise.id}, {exercise.title}: {passed} of {len(outcomes)} tests pass")
    failures = [o for o in outcomes if o["outcome"] not in ("passed", "skipped")]
    hinted, detailed = set(), set()
    for o in failures[:SHOWN]:
        error = o.get("error") or {}
        lines = f"{error.get('type', '')}: {error.get('message', '')}".strip().splitlines()
        lines = [line for line in lines if line.strip()] or [""]
        print(f"  fails: {o['name']}: {lines[0]}")
        test = o["name"].partition("[")[0]
        if test not in detailed:  # the whole message once per test, not per parameter
            detailed.add(test)
            for line in lines[1:LINES]:
                print(f"         {line}")
            if len(lines) > LINES:
                print(f"         ... ({len(lines) - LINES} more lines: check -v shows them)")
        if (hint := _hint_for(exercise, o)) and hint not in hinted:  # each hint once
            hinted.add(hint)
            print(f"         hint: {hint}")
    if len(failures) > SHOWN:
        print(f"  ... and {len(failures) - SHOWN} more failing tests")
    if code == 0:
        print("every test passes: your version does what the reference does")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            for e in EXERCISES.values():
                mine = (args.workspace / e.file).exists()
                print(
                    f"{e.id:5} {e.title:45} {'started: ' + str(args.workspace / e.file) if mine else ''}"
                )
            return 0
        if args.command == "start":
            path, written = start(args.id, args.workspace)
            e = EXERCISES[args.id]
            if not written:
                print(f"{path} already exists: left as it is (delete it to start over)")
            else:
                print(f"wrote {path}: exercise {e.id}, {e.title}; the lesson is {e.lesson}")
            print(f"check it with: python -m shared.exercises check {e.id}")
            return 0
        code, outcomes = check(
            args.id, args.workspace, args.timeout, args.verbose, args.first_failure
        )
        _report(EXERCISES[args.id], code, outcomes)
        return code
    except ExerciseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a workspace that cannot be written, a disk full
        print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
