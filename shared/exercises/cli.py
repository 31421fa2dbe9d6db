"""The command line, `python -m shared.exercises list | start ID | check ID`: the catalogue,
a starter written, a check's failing tests each with its hint. The work is runner.py's."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import shared.exercises  # (its docstring is the command's description, read when main runs)
from shared.exercises.catalogue import EXERCISES, Exercise, ExerciseError
from shared.exercises.runner import check, start

#: failing tests `check` names (the first ones: a body that is not written yet fails them all)
SHOWN = 12


def _hint_for(exercise: Exercise, outcome: dict) -> str:
    message = (outcome.get("error") or {}).get("message", "")
    for name, hint in exercise.hints.items():
        if f"write {name}" in message:
            return hint
    return ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m shared.exercises", description=shared.exercises.__doc__.split("\n\n")[0]
    )
    p.add_argument("--workspace", type=Path, default=Path("workspace"),
                   help="the folder of your files (default: workspace)")  # fmt: skip
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every exercise, and which you have started")
    for name, text in (("start", "write an exercise's starter"), ("check", "check your file")):
        sub.add_parser(name, help=text).add_argument("id", help="the exercise, e.g. 1.1")
    args = p.parse_args(argv)
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
        code, outcomes = check(args.id, args.workspace)
    except ExerciseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    exercise = EXERCISES[args.id]
    passed = sum(o["outcome"] == "passed" for o in outcomes)
    print(f"exercise {exercise.id}, {exercise.title}: {passed} of {len(outcomes)} tests pass")
    failures = [o for o in outcomes if o["outcome"] not in ("passed", "skipped")]
    hinted = set()
    for o in failures[:SHOWN]:
        error = o.get("error") or {}
        line = f"  fails: {o['name']}: {error.get('type', '')}: {error.get('message', '')}"
        print(line.splitlines()[0][:200])
        if (hint := _hint_for(exercise, o)) and hint not in hinted:  # each hint once
            hinted.add(hint)
            print(f"         hint: {hint}")
    if len(failures) > SHOWN:
        print(f"  ... and {len(failures) - SHOWN} more failing tests")
    if code == 0:
        print("every test passes: your version does what the reference does")
    return code
