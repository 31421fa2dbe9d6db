"""Do it yourself: each exercise of the course as a starter file to fill in, checked by the same
tests the project's reference passes.

    python -m shared.exercises list                 every exercise, and which you have started
    python -m shared.exercises start 1.1            write workspace/ex1_1_matrix.py, the starter
    python -m shared.exercises check 1.1            run the reference's tests against your file

A starter is the reference module itself with the bodies taken out: the imports, constants,
classes, signatures and docstrings stay, and each function or method you are to write raises
NotImplementedError, with the hints a teacher would give as comments. It is made from the
reference's source when you ask for it, so it always matches the tests. Your file lives in a
workspace folder outside the packages (`workspace/` by default, `--workspace DIR` to choose);
`start` never overwrites it.

`check` runs the reference's own tests (unchanged) with your file standing in for the reference
module: `shared.exercise_plugin` loads it under the reference's name before the tests are
collected. It prints which tests fail, each with its error and a hint. A file that does not
compile or does not import is named with the line and the error, in one line.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["EXERCISES", "Exercise", "check", "main", "start", "starter"]


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    module: str  # the reference module the learner rewrites
    tests: tuple[str, ...]  # the reference's test files, from the repository's root
    lesson: str  # where the lesson explains it
    #: functions and methods the starter keeps (helpers that are not the point of the exercise)
    given: frozenset[str] = frozenset()
    #: when not empty, the only functions the learner writes (the rest of a large module is given)
    write: frozenset[str] = frozenset()
    #: a pytest -k expression choosing the tests of this exercise in its test files
    select: str = ""
    #: hints, by function or method name (Class.method): the starter writes them as comments, and
    #: `check` shows them beside a failure in that function
    hints: dict[str, str] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return f"ex{self.id.replace('.', '_')}_{self.module.rpartition('.')[2]}.py"


EXERCISES: dict[str, Exercise] = {
    e.id: e
    for e in sorted(  # in the course's order: 1.1 .. 1.6, 2.1, ..., 4.1, ...
        (
        Exercise(
            "1.1", "matrix operations", "phase1_python.matrix",
            ("phase1_python/tests/test_matrix.py",), "phase1_python/README.md",
            given=frozenset({"_as_float", "_check_dims", "_require_matrix", "__repr__", "_wrap"}),
            hints={
                "Matrix.__init__": "copy the rows (a list of lists of floats, each row as long "
                "as the first); a Matrix never shares its lists with the caller",
                "Matrix.__matmul__": "transpose B once (zip(*rows)), then each output is the sum "
                "of one row of A times one row of B^T: no inner loop over k in Python",
                "Matrix.T": "row i of the transpose is column i: list(zip(*rows))",
                "matmul_naive": "three nested loops, i over rows of A, j over columns of B, k "
                "along both: the baseline the benchmark compares against",
            },
        ),
        Exercise(
            "1.2", "activations and their derivatives", "phase1_python.activations",
            ("phase1_python/tests/test_activations.py",), "phase1_python/README.md",
            given=frozenset({"_elementwise"}),
            hints={
                "_sigmoid": "for large negative v, exp(-v) overflows: use exp(v) / (1 + exp(v)) "
                "when v < 0",
                "_softmax_row": "subtract the row's maximum before exp: the same result, no overflow",
                "softmax_backward": "for each row p with upstream g: p * (g - sum(g * p))",
            },
        ),
        Exercise(
            "1.3", "losses and one-hot", "phase1_python.losses",
            ("phase1_python/tests/test_losses.py",), "phase1_python/README.md",
            given=frozenset({"_check", "_clip"}),
            hints={
                "one_hot": "a row per label, a 1.0 in the label's column; refuse labels outside "
                "0 .. n_classes - 1",
                "softmax_cross_entropy_prime": "(softmax(logits) - target) / batch: the fused "
                "gradient",
                "_log_softmax_row": "log-sum-exp: x - max - log(sum(exp(x - max)))",
            },
        ),
        Exercise(
            "1.4", "the progress bar", "shared.progress",
            ("shared/tests/test_progress.py",), "phase1_python/README.md",
        ),
        Exercise(
            "1.5", "the dense layer", "phase1_python.layers",
            ("phase1_python/tests/test_layers.py",), "phase1_python/README.md",
            given=frozenset({"Layer", "Activation", "Softmax"}),
            hints={
                "Dense.forward": "keep x for the backward pass; y = x W + b (b added to every row)",
                "Dense.backward": "dW = x^T g, db = the column sums of g, and return g W^T",
            },
        ),
        Exercise(
            "1.6", "checkpoint: XOR with a network of layers", "phase1_python.network",
            ("phase1_python/tests/test_network.py",), "phase1_python/README.md",
            hints={
                "Network.train_step": "forward through every layer, the loss's gradient, "
                "backward in reverse order, then each layer's update",
            },
        ),
        Exercise(
            "4.1", "hello CUDA", "phase4_cuda.hello",
            ("phase4_cuda/tests/test_examples.py",), "phase4_cuda/README.md",
            write=frozenset({"hello"}), select="hello",
            hints={
                "hello": "cuda.grid(1) is blockIdx.x * blockDim.x + threadIdx.x; print the "
                "block, the thread and that global index",
            },
        ),
        Exercise(
            "4.2", "vector addition", "phase4_cuda.vector_add",
            ("phase4_cuda/tests/test_examples.py", "phase4_cuda/tests/test_host_api.py"),
            "phase4_cuda/README.md",
            write=frozenset({"vector_add_kernel"}), select="vector_add and not bad",
            hints={
                "vector_add_kernel": "a grid-stride loop: start at cuda.grid(1), step by "
                "cuda.gridsize(1), and stop at the end of the arrays (the guard)",
            },
        ),
        Exercise(
            "4.3", "the naive matmul kernel", "phase4_cuda.matmul",
            ("phase4_cuda/tests/test_matmul.py",), "phase4_cuda/README.md",
            write=frozenset({"matmul_naive"}), select="odd_shapes and naive",
            hints={
                "matmul_naive": "one thread per output: row from the y index, column from the "
                "x one (so a warp reads a row of B together); guard both, then a loop over k",
            },
        ),
        Exercise(
            "4.4", "the tiled matmul kernel, with shared memory", "phase4_cuda.matmul",
            ("phase4_cuda/tests/test_matmul.py",), "phase4_cuda/README.md",
            write=frozenset({"matmul_tiled"}), select="odd_shapes and tiled",
            hints={
                "matmul_tiled": "per step of TILE along k: each thread loads one element of A "
                "and one of B into shared tiles (0 past the edges), syncthreads, TILE "
                "multiply-adds from shared memory, syncthreads again",
            },
        ),
        Exercise(
            "2.1", "the vectorised network", "phase2_numpy.network",
            ("phase2_numpy/tests/test_network.py",), "phase2_numpy/README.md",
            hints={
                "backward": "from the top: delta = (P - T) / B; dW = h^T delta; db = "
                "delta.sum(0); delta below = (delta W^T) * act'(h)",
                "softmax": "subtract each row's maximum before exp",
            },
        ),
        Exercise(
            "2.2", "the training step", "phase2_numpy.train",
            ("phase2_numpy/tests/test_train.py",), "phase2_numpy/README.md",
            given=frozenset({"TrainConfig.validate"}),
            hints={
                "sgd_update": "weight decay on the weights only; v = m v + g; the step is "
                "g + m v with Nesterov, v without",
                "lr_at": "one-cycle: a linear warm-up, then a cosine down to the end",
            },
        ),
        ),
        key=lambda e: tuple(map(int, e.id.split("."))),
    )
}  # fmt: skip


#: failing tests `check` names (the first ones: a body that is not written yet fails them all)
SHOWN = 12


class ExerciseError(ValueError):
    """A one-line error for the command line: unknown id, missing or broken file."""


def _exercise(exercise_id: str) -> Exercise:
    if exercise_id not in EXERCISES:
        raise ExerciseError(
            f"no exercise {exercise_id!r}; the exercises are {', '.join(EXERCISES)} "
            "(python -m shared.exercises list)"
        )
    return EXERCISES[exercise_id]


def repository_root() -> Path:
    """The checkout holding the reference's tests: the current folder or the one above this
    file's package, whichever has them."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (root / "phase1_python" / "tests").is_dir():
            return root
    raise ExerciseError(
        "the exercises run the reference's tests, which are in the repository's checkout: "
        "run this from the checkout's root"
    )


def _reference_source(exercise: Exercise) -> str:
    root = repository_root()
    return (root / Path(*exercise.module.split("."))).with_suffix(".py").read_text("utf-8")


def starter(exercise: Exercise, source: str | None = None) -> str:
    """The reference module's source with the bodies of the functions and methods to write
    replaced by a NotImplementedError (and the hints as comments); docstrings kept."""
    source = _reference_source(exercise) if source is None else source
    lines = source.splitlines(keepends=True)
    edits = []  # (first line, last line, replacement), 1-based, inclusive

    def visit(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                if child.name not in exercise.given:  # a class given whole is kept as it is
                    visit(child, f"{prefix}{child.name}.")
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
                if not rest:
                    continue
                indent = " " * rest[0].col_offset
                hint = exercise.hints.get(name)
                text = (
                    "".join(
                        f"{indent}# {line}\n"
                        for line in textwrap.wrap(f"hint: {hint}", 96 - len(indent))
                    )
                    if hint
                    else ""
                )
                text += (
                    f'{indent}raise NotImplementedError("exercise {exercise.id}: write {name}")\n'
                )
                first = min(n.lineno for n in rest)
                edits.append((first, child.end_lineno, text))

    visit(ast.parse(source), "")
    for first, last, text in sorted(edits, reverse=True):
        lines[first - 1 : last] = [text]
    header = (
        f"# Exercise {exercise.id}: {exercise.title}. Fill in every body that raises\n"
        f"# NotImplementedError; the lesson is {exercise.lesson}. Check your work with\n"
        f"#     python -m shared.exercises check {exercise.id}\n"
        f"# (the tests of {exercise.module}, run against this file).\n"
    )
    return header + "".join(lines)


def start(exercise_id: str, workspace: Path) -> tuple[Path, bool]:
    """Write the starter into `workspace`; (its path, whether it was written: an existing file is
    the learner's work and is never overwritten)."""
    exercise = _exercise(exercise_id)
    path = workspace / exercise.file
    if path.exists():
        return path, False
    text = starter(exercise)
    workspace.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=workspace, delete=False, suffix=".tmp") as f:
        f.write(text)
    Path(f.name).replace(path)
    return path, True


def _load_error(path: Path) -> str | None:
    """One line naming what keeps `path` from compiling or importing (None when it does)."""
    source = path.read_text("utf-8")
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as e:
        return f"{path}:{e.lineno}: {e.msg}"
    module = types.ModuleType("_nnf_exercise_check")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # (dataclasses look their module up there)
    try:
        exec(code, module.__dict__)
    except Exception as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else "?"
        return f"{path}:{line}: {type(e).__name__}: {e}"
    finally:
        del sys.modules[module.__name__]
    return None


def check(exercise_id: str, workspace: Path) -> tuple[int, list[dict]]:
    """Run the exercise's tests against the learner's file: (exit code, each test's outcome)."""
    exercise = _exercise(exercise_id)
    path = (workspace / exercise.file).resolve()
    if not path.exists():
        raise ExerciseError(
            f"no {workspace / exercise.file}: start it with "
            f"python -m shared.exercises start {exercise.id}"
        )
    error = _load_error(path)
    if error:
        raise ExerciseError(error)
    root = repository_root()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "outcomes.json"
        env = dict(os.environ, NNF_EXERCISE_MODULE=exercise.module, NNF_EXERCISE_FILE=str(path),
                   NNF_EXERCISE_REPORT=str(report))  # fmt: skip
        # -P: the installed packages, not the checkout's sources (as the nox sessions run them)
        command = [sys.executable, "-P", "-m", "pytest", "-q", "-p", "shared.exercise_plugin",
                   "-p", "no:cacheprovider", "--tb=no", "--no-header", "-o", "addopts=",
                   "--import-mode=importlib", *exercise.tests]  # fmt: skip
        if exercise.select:
            command += ["-k", exercise.select]
        if exercise.module.startswith(("phase4_cuda", "phase5_training")):
            from shared.machine import gpu_status

            if not gpu_status().usable:  # numba's simulator runs the same kernels on the CPU
                env["NUMBA_ENABLE_CUDASIM"] = "1"
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        outcomes = json.loads(report.read_text()) if report.exists() else []
    if not outcomes:
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise ExerciseError(f"the tests of {exercise.id} did not run: {tail[0]}")
    failed = [o for o in outcomes if o["outcome"] != "passed" and o["outcome"] != "skipped"]
    return (0 if not failed else 1), outcomes


def _hint_for(exercise: Exercise, outcome: dict) -> str:
    message = (outcome.get("error") or {}).get("message", "")
    for name, hint in exercise.hints.items():
        if f"write {name}" in message:
            return hint
    return ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m shared.exercises", description=__doc__.split("\n\n")[0]
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


if __name__ == "__main__":
    sys.exit(main())
