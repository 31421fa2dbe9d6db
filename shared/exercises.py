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

The C and C++ exercises (3.1 src/matrix.c, 3.3 src/pybind_module.cpp, 3.4 src/capi_module.c) go
through the same meson build as the package. Their starter is the reference source with the
chosen bodies replaced by a call of `not_written("nn_add")`, defined at the top: in the C library
it prints "exercise 3.1: write nn_add" on stdout and returns NN_ERR_ARG (C has no exceptions; the
line lands beside the failing check it causes), in C++ and in a C extension module (one that
includes Python.h) it raises NotImplementedError in Python. `check` keeps one meson build of the
whole project per exercise in build/exercise-ID (configured once, with the option of
meson.options that names the file to build in place of the reference's; the package's own build
leaves it empty). The learner's file is copied into that folder behind a #line directive, so the
compiler's messages name the learner's file; ninja then recompiles only what changed, and a file
that does not compile is the compiler's first error in one line. The C test programs of the
exercise run from that build (one outcome per test function, naming the functions still to write
that printed before its failed checks); the Python tests run against a copy of the package with
the modules just compiled, which the plugin imports ahead of the installed one. A lock on the
build folder makes concurrent checks of one exercise take turns.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import re
import shutil
import signal
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
    #: the reference file from the repository's root, where it is not the module's own .py (a C
    #: or C++ source of Phase 3)
    source: str = ""
    #: for a C or C++ source: the meson option (meson.options) that builds the learner's file in
    #: place of the reference's
    option: str = ""

    @property
    def reference(self) -> str:
        """The reference file, from the repository's root."""
        return self.source or f"{self.module.replace('.', '/')}.py"

    @property
    def file(self) -> str:
        return f"ex{self.id.replace('.', '_')}_{Path(self.reference).name}"


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
            "3.1", "matrix operations in C", "phase3_c",
            ("phase3_c/tests/test_matrix.c", "phase3_c/tests/test_bindings.py"),
            "phase3_c/README.md", source="phase3_c/src/matrix.c", option="matrix_source",
            write=frozenset({"elementwise", "nn_scale", "nn_transpose", "nn_matmul_naive",
                             "nn_matmul_ikj"}),
            hints={
                "elementwise": "check every argument first (check, same_shape: a status, never "
                "a crash); element (i, j) of m is m->data[i * m->stride + j]; out may be a or b",
                "nn_scale": "the checks of elementwise, then out[i][j] = s * a[i][j]; a matrix "
                "of no columns has nothing to read, however many rows",
                "nn_transpose": "out is (cols x rows): out[j][i] = a[i][j], a BLOCK x BLOCK tile "
                "at a time so that the reads and the writes both stay in cache",
                "nn_matmul_naive": "check_product first; for each i and j, a double accumulator "
                "over k of a[i][k] * b[k][j], then one store (out may hold garbage)",
                "nn_matmul_ikj": "for each row i of out: zero it, then for each k add a[i][k] "
                "times row k of b, so that the inner loop walks contiguous memory",
            },
        ),
        Exercise(
            "3.2", "the ctypes binding", "phase3_c.ctypes_binding",
            ("phase3_c/tests/test_bindings.py", "phase3_c/tests/test_threads.py"),
            "phase3_c/README.md", select="ctypes",
            write=frozenset({"_lib", "_check", "_wrap", "_product", "_elementwise", "scale",
                             "transpose"}),
            hints={
                "_lib": "importlib.resources.files('phase3_c') / _LIBNAME, loaded with "
                "ctypes.CDLL; then give each function of _SIGNATURES its argtypes and restype",
                "_check": "a status other than 0 (NN_OK) raises _ERRORS[status] with the text "
                "of nn_status_str (bytes: decode it)",
                "_wrap": "the struct of x's dtype (_Matrix or _MatrixF32) holding rows, cols, "
                "row_stride(x) and x.ctypes.data_as(a POINTER to the C type)",
                "_product": "prepare both, check_product, an aligned_empty output, then the C "
                "function by name (getattr on _lib()) on the three wrapped matrices, _check'ed",
                "_elementwise": "prepare both, check_same_shape, an output of a's shape, then "
                "the C function on the three wrapped matrices, _check'ed",
                "scale": "prepare a, an output of its shape, nn_scale with a float, _check",
                "transpose": "prepare a, an output of the transposed shape, nn_transpose, _check",
            },
        ),
        Exercise(
            "3.3", "the pybind11 binding", "phase3_c",
            ("phase3_c/tests/test_bindings.py", "phase3_c/tests/test_threads.py"),
            "phase3_c/README.md", source="phase3_c/src/pybind_module.cpp",
            option="pybind_source", select="pybind11",
            write=frozenset({"product64", "matmul_f32", "scale", "transpose"}),
            hints={
                "product64": "take<double> both inputs, refuse shapes that do not fit (the "
                "message names them with shapes()), an aligned_output, a view<nn_matrix> of "
                "each, then fn with the GIL released (a py::gil_scoped_release in a block) and "
                "check(status)",
                "matmul_f32": "product64's steps in float: take<float>, aligned_output<float>, "
                "view<nn_matrix_f32>, nn_matmul_f32",
                "scale": "take<double>, an output of a's shape, nn_scale with the GIL released, "
                "check",
                "transpose": "take<double>, an output of shape (cols, rows), nn_transpose with "
                "the GIL released, check",
            },
        ),
        Exercise(
            "3.4", "the C-API binding", "phase3_c",
            ("phase3_c/tests/test_bindings.py", "phase3_c/tests/test_threads.py"),
            "phase3_c/README.md", source="phase3_c/src/capi_module.c",
            option="capi_source", select="capi",
            write=frozenset({"take", "binary", "unary"}),
            hints={
                "take": "a phase1_python Matrix through its tolist(); PyArray_FROMANY; refuse "
                "anything but 2 dimensions of real numbers (and float32 for the float32 "
                "product); return it as it is when it has the type, this machine's byte order, "
                "alignment and contiguous rows, else a PyArray_FROM_OTF copy; every reference "
                "you made is given back (Py_DECREF) on every path",
                "binary": "PyArg_ParseTuple(args, \"OO\"); float32 arrays to matmul go to the "
                "float32 product, matmul to product(); else take both, compare the shapes (the "
                "message names them), aligned_output, the C call between "
                "Py_BEGIN_ALLOW_THREADS and Py_END_ALLOW_THREADS, status_error on failure, "
                "and Py_XDECREF both inputs at done",
                "unary": "\"O\" for transpose, \"Od\" for scale; take a; an output of shape "
                "(c, r) or (r, c); the call without the GIL; Py_DECREF(a)",
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
            "4.3", "the naive matmul kernel", "phase4_cuda.matmul.k01_naive",
            ("phase4_cuda/tests/test_matmul.py",), "phase4_cuda/README.md",
            write=frozenset({"matmul_naive"}), select="odd_shapes and naive",
            hints={
                "matmul_naive": "one thread per output: row from the y index, column from the "
                "x one (so a warp reads a row of B together); guard both, then a loop over k",
            },
        ),
        Exercise(
            "4.4", "the tiled matmul kernel, with shared memory", "phase4_cuda.matmul.k02_tiled",
            ("phase4_cuda/tests/test_matmul.py",), "phase4_cuda/README.md",
            write=frozenset({"matmul_tiled"}), select="odd_shapes and tiled",
            hints={
                "matmul_tiled": "per step of TILE along k: each thread loads one element of A "
                "and one of B into shared tiles (0 past the edges), syncthreads, TILE "
                "multiply-adds from shared memory, syncthreads again",
            },
        ),
        Exercise(
            "4.5", "calling the kernels from Python", "phase4_cuda.matmul.host",
            ("phase4_cuda/tests/test_host_api.py",), "phase4_cuda/README.md",
            write=frozenset({"matmul"}), select="not vector_add",
            hints={
                "matmul": "check the precision and the version first (require_precision, "
                "PRECISIONS, VERSIONS, precision_of); as_device both operands; a (m, n) float32 "
                "device output unless `out` is given; plan(version, da, db, dc)() launches the "
                "kernel; copy the result back only for NumPy input",
            },
        ),
        Exercise(
            "4.6", "a network's forward pass on the GPU", "phase4_cuda.dense",
            ("phase4_cuda/tests/test_dense.py",), "phase4_cuda/README.md",
            write=frozenset({"dense_forward", "softmax_rows", "mlp_forward"}),
            hints={
                "dense_forward": "require_gpu and check_activation first; as_device each input; "
                "_dense launches the fused kernel; copy back only when nothing came in on the "
                "device",
                "softmax_rows": "one block per row, thread t takes columns t, t + "
                "SOFTMAX_THREADS, ...: a tree reduction in shared memory for the row's maximum, "
                "another for the sum of exp(x - max), then out = exp(x - max) / sum",
                "mlp_forward": "check the lists and the activation; keep h on the device: "
                "_dense for each layer, the activation on all but the last, then _softmax",
            },
        ),
        Exercise(
            "5.1", "the training step's kernels", "phase5_training.gpu_kernels",
            ("phase5_training/tests/test_gpu.py",), "phase5_training/README.md",
            write=frozenset({"gather_rows", "output_layer", "sgd_update"}),
            select="two_steps or device_epoch",
            hints={
                "gather_rows": "a grid-stride loop over the rows * d elements of xb: row r, "
                "column c; the source row is order[start + r]; column 0 also copies the label",
                "output_layer": "one block per row: the threads split k and keep a partial "
                "sum per class in `part`; thread j * SEGMENTS + s sums segment s of class j into "
                "`seg`, thread j < c the segments (+ bias) into `z`; every thread takes the "
                "maximum and the softmax's denominator; thread j writes delta[r, j] = (p_j - "
                "onehot) * scale (and into `d`), thread 0 adds the row's loss and hit to stats "
                "(atomics) and, in block 0, moves pos on; then the threads split k again: "
                "below[r, kk] = sum_j d[j] W[kk, j] where h[r, kk] > 0",
                "sgd_update": "phase2_numpy.train.sgd_update in a grid-stride loop, lr = "
                "lrs[pos[0] - 1] (the output layer has moved pos on), decay on the first n_decay "
                "only; then gather_rows for the next step, start = pos[0] * batch",
            },
        ),
        Exercise(
            "5.2", "the training loop", "phase5_training.train",
            ("phase5_training/tests/test_training.py",), "phase5_training/README.md",
            write=frozenset({
                "evaluate", "train", "_starting_point", "_EpochInputs.make",
                "_EpochInputs.prepare_next", "_train_epoch", "_epoch_record", "_interrupted",
            }), select="not real_mnist",
            hints={
                "evaluate": "the trainer's logits for the whole set, through Phase 2's "
                "evaluation (evaluate_logits)",
                "train": "before any work, a writable out folder; then the starting point, the "
                "data, the trainer and its load; per epoch: _train_epoch; a non-finite loss "
                "raises _diverged's error; _epoch_record into the state's history, the state's "
                "epoch, save_checkpoint, the epoch's line; on KeyboardInterrupt print "
                "_interrupted's message and re-raise; at the end model.npz and metrics.json",
                "_starting_point": "load_checkpoint(resume), its widths checked against the "
                "run's; else he_init and a state before the first epoch",
                "_EpochInputs.make": "epoch_order for the rows; lr_at for each step of the "
                "epoch, counted from first_step, out of every step of the run",
                "_EpochInputs.prepare_next": "only where another epoch follows: make its inputs "
                "(its first step comes steps_per_epoch later) into ready",
                "_train_epoch": "under a Progress bar: the epoch's inputs (take), "
                "trainer.run_epoch with meanwhile= the next epoch's prepare_next "
                "(functools.partial), state['step'] moved on; the seconds less what "
                "_setup_seconds grew by",
                "_epoch_record": "loss and accuracy per training row, the seconds; the test "
                "set's (and any validation set's) loss and accuracy from evaluate",
                "_interrupted": "an epoch of this run saved: where, and --resume it; resumed "
                "but none finished: the checkpoint it started from still holds; else nothing "
                "was saved",
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
    return (repository_root() / exercise.reference).read_text("utf-8")


def starter(exercise: Exercise, source: str | None = None) -> str:
    """The reference module's source with the bodies of the functions and methods to write
    replaced by a NotImplementedError (and the hints as comments); docstrings kept. A C or C++
    source gets `c_starter`'s instead."""
    source = _reference_source(exercise) if source is None else source
    if exercise.option:
        return c_starter(exercise, source)
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


def c_functions(source: str) -> dict[str, tuple[int, int]]:
    """The functions a C or C++ source defines at file scope (or in a namespace): name -> the
    offsets of the `{` that opens its body and of the `}` that closes it. Comments, strings,
    character literals and preprocessor lines are skipped; enough of C to find bodies, no more."""
    found: dict[str, tuple[int, int]] = {}
    depth, scopes, header_at, i, n = 0, [0], 0, 0, len(source)
    braces: list[int] = []  # open braces inside a body (or a struct) being skipped
    start = None  # the `{` of the function being skipped, and its name
    while i < n:
        c = source[i]
        if source.startswith("//", i) or (
            c == "#" and not source[source.rfind("\n", 0, i) + 1 : i].strip()
        ):
            while (j := source.find("\n", i)) != -1 and source[j - 1] == "\\":  # continued lines
                i = j + 1
            i = n if j == -1 else j
            if not braces:
                header_at = i
            continue
        if source.startswith("/*", i):
            i = source.find("*/", i + 2) % (n + 1) + 2
            continue
        if c in "\"'":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            i = j + 1
            continue
        if c == "{":
            if braces:
                braces.append(i)
            else:
                header = source[header_at:i]
                name = re.search(
                    r"(\w+)\s*\((?:[^()]|\([^()]*\))*\)\s*(?:const\s*)?(?:noexcept\s*)?$", header
                )
                if re.search(r'\bnamespace\b[^;]*$|\bextern\s+"C"\s*$', header):
                    scopes.append(depth := depth + 1)
                    header_at = i + 1
                else:
                    braces.append(i)
                    start = (name.group(1), i) if name and depth == scopes[-1] else None
        elif c == "}":
            if braces:
                braces.pop()
                if not braces:
                    if start:
                        found[start[0]] = (start[1], i)
                    header_at = i + 1
            elif len(scopes) > 1:  # the end of a namespace
                scopes.pop()
                depth -= 1
                header_at = i + 1
        elif c == ";" and not braces:
            header_at = i + 1
        i += 1
    return found


#: per language: what a body still to write does, defined once at the top of the starter (after
#: the includes), and the statement that replaces each body. C has no exceptions: the function says
#: so on stdout (flushed, so that the line lands beside the failing check it causes, in the C tests
#: and in Python's) and fails with matrix.h's NN_ERR_ARG. C++ raises NotImplementedError in Python.
_NOT_WRITTEN = {
    ".c": (
        "\n#include <stdio.h>\n\n"
        "/* A function still to write says so on stdout and fails with NN_ERR_ARG (delete this\n"
        " * once every body is written). */\n"
        "static nn_status not_written(const char *name) {{\n"
        '    printf("exercise {id}: write %s\\n", name);\n'
        "    fflush(stdout);\n"
        "    return NN_ERR_ARG;\n"
        "}}\n",
        'return not_written("{name}");',
    ),
    # a C file that is a Python extension (Python.h): a function still to write raises in Python
    "capi": (
        "\n/* A function still to write raises NotImplementedError in Python (delete this once every\n"
        " * body is written). It returns NULL as any pointer: PyObject *, PyArrayObject *. */\n"
        "static void *not_written(const char *name) {{\n"
        '    PyErr_Format(PyExc_NotImplementedError, "exercise {id}: write %s", name);\n'
        "    return NULL;\n"
        "}}\n",
        'return not_written("{name}");',
    ),
    ".cpp": (
        "\n// A function still to write raises NotImplementedError in Python (delete this once every\n"
        "// body is written).\n"
        "[[noreturn]] static void not_written(const char *name) {{\n"
        '    PyErr_Format(PyExc_NotImplementedError, "exercise {id}: write %s", name);\n'
        "    throw pybind11::error_already_set();\n"
        "}}\n",
        'not_written("{name}");',
    ),
}


def c_starter(exercise: Exercise, source: str) -> str:
    """The reference C or C++ source with the bodies of `exercise.write` replaced by a call of
    `not_written` (defined after the includes) and the hints as comments; every comment outside
    the bodies kept."""
    suffix = Path(exercise.reference).suffix
    extension = suffix == ".c" and "#include <Python.h>" in source
    prelude, stub = _NOT_WRITTEN["capi" if extension else suffix]
    functions = c_functions(source)
    missing = sorted(exercise.write - functions.keys())
    if missing:
        raise ExerciseError(f"{exercise.reference} defines no {', '.join(missing)}")
    text = source
    for name in sorted(exercise.write, key=lambda f: -functions[f][0]):  # from the end
        first, last = functions[name]
        hint = exercise.hints.get(name)
        lines = textwrap.wrap(f"hint: {hint}", 92) if hint else []
        comment = "".join(
            f"    {'/* ' if k == 0 else ' * '}{line}{' */' if k == len(lines) - 1 else ''}\n"
            for k, line in enumerate(lines)
        )
        text = text[: first + 1] + f"\n{comment}    {stub.format(name=name)}\n" + text[last:]
    includes = list(re.finditer(r"^#include .*\n", text, re.MULTILINE))
    at = includes[-1].end() if includes else 0
    text = text[:at] + prelude.format(id=exercise.id) + text[at:]
    c = "//" if suffix == ".cpp" else " *"
    header = (
        f"{'//' if suffix == '.cpp' else '/*'} Exercise {exercise.id}: {exercise.title}. Fill in every body that calls\n"
        f"{c} not_written; the lesson is {exercise.lesson}. Check your work with\n"
        f"{c}     python -m shared.exercises check {exercise.id}\n"
        f"{c} (phase3_c built with this file in place of {exercise.reference}, and its tests)."
        f"{'' if suffix == '.cpp' else ' */'}\n"
    )
    return header + text


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
    env = dict(os.environ)
    if exercise.module.startswith(("phase4_cuda", "phase5_training")):
        from shared.machine import gpu_status

        if not gpu_status().usable:  # numba's simulator runs the same kernels on the CPU
            env["NUMBA_ENABLE_CUDASIM"] = "1"
    python_tests = [t for t in exercise.tests if t.endswith(".py")]
    if not exercise.option:
        error = _load_error(path)
        if error:
            raise ExerciseError(error)
        env |= {"NNF_EXERCISE_MODULE": exercise.module, "NNF_EXERCISE_FILE": str(path)}
        outcomes = _run_pytest(exercise, python_tests, env)
    else:
        folder = repository_root() / "build" / f"exercise-{exercise.id}"
        with _locked(folder):  # one check at a time uses this build
            meson = _build(exercise, path, folder)
            outcomes = []
            for test in exercise.tests:
                if test.endswith(".c"):
                    outcomes += _run_c_test(exercise, test, meson / "phase3_c" / Path(test).stem)
            env["NNF_EXERCISE_PACKAGES"] = str(_stage(meson, folder / "package"))
            outcomes += _run_pytest(exercise, python_tests, env)
    failed = [o for o in outcomes if o["outcome"] != "passed" and o["outcome"] != "skipped"]
    return (0 if not failed else 1), outcomes


def _run_pytest(exercise: Exercise, tests: list[str], env: dict[str, str]) -> list[dict]:
    """The outcome of every test of `tests`, run by pytest with the exercise's plugin (which reads
    what to substitute from `env`)."""
    if not tests:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "outcomes.json"
        env = dict(env, NNF_EXERCISE_REPORT=str(report))
        # -P: the installed packages, not the checkout's sources (as the nox sessions run them)
        command = [sys.executable, "-P", "-m", "pytest", "-q", "-p", "shared.exercise_plugin",
                   "-p", "no:cacheprovider", "--tb=no", "--no-header", "-o", "addopts=",
                   "--import-mode=importlib", *tests]  # fmt: skip
        if exercise.select:
            command += ["-k", exercise.select]
        done = subprocess.run(
            command, cwd=repository_root(), env=env, capture_output=True, text=True
        )
        outcomes = json.loads(report.read_text()) if report.exists() else []
    if not outcomes:
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise ExerciseError(f"the tests of {exercise.id} did not run: {tail[0]}")
    return outcomes


# -- the C and C++ exercises: phase3_c built with the learner's file --------------------------
# `check` configures a meson build of the whole project (the root meson.build, as meson-python
# builds the package) in build/exercise-ID/meson, once, with the exercise's option of
# meson.options naming build/exercise-ID/learner/FILE: a copy of the learner's file that starts
# with a #line directive, so that the compiler's messages (and __FILE__) name the learner's own
# file. Each check rewrites the copy only when the learner's file changed, and ninja recompiles
# only what depends on it. The C test programs of `tests` run from the build; the Python tests run
# against a copy of the package (the reference's Python files, the learner's compiled modules)
# that the plugin imports in place of the installed phase3_c.


class _locked:
    """An exclusive lock on `folder` (made if missing), held while one check builds and tests."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "lock"

    def __enter__(self):
        import fcntl

        self.file = open(self.path, "w")  # (closed in __exit__)
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()  # (closing releases the lock)


def _tool_env() -> dict[str, str]:
    """The environment meson and ninja run in: this Python's scripts first (pybind11-config,
    ninja), so that the build uses the same Python, NumPy and pybind11 as the tests."""
    scripts = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=os.pathsep.join((scripts, os.environ.get("PATH", ""))))


def _build(exercise: Exercise, path: Path, folder: Path) -> Path:
    """Compile the project with the learner's file in place of `exercise.reference`; the meson
    build folder. A file that does not compile is an ExerciseError: the compiler's first error."""
    copy = folder / "learner" / Path(exercise.reference).name
    text = f'#line 1 "{path}"\n' + path.read_text("utf-8")
    if not copy.exists() or copy.read_text("utf-8") != text:  # unchanged: nothing to recompile
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, "utf-8")
    meson, env = folder / "meson", _tool_env()
    ninja = shutil.which("ninja", path=env["PATH"])
    stamp = folder / "python.txt"  # the Python the build was configured for
    if ninja is None or importlib.util.find_spec("mesonbuild") is None:
        raise ExerciseError(
            f"exercise {exercise.id} compiles C with meson and ninja: pip install meson ninja"
        )
    if not (meson / "build.ninja").exists() or stamp.read_text("utf-8") != sys.executable:
        setup = [sys.executable, "-m", "mesonbuild.mesonmain", "setup", str(meson),
                 f"-D{exercise.option}={copy}"]  # fmt: skip
        if meson.exists():
            setup.append("--wipe")
        done = subprocess.run(setup, cwd=repository_root(), env=env, capture_output=True, text=True)
        if done.returncode:
            last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            raise ExerciseError(f"meson could not configure the build in {meson}: {last[0]}")
        stamp.write_text(sys.executable, "utf-8")
    targets = [f"phase3_c/{Path(t).stem}" for t in exercise.tests if t.endswith(".c")]
    done = subprocess.run(
        [ninja, "-C", str(meson), "all", *targets], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise ExerciseError(_compiler_error(done.stdout + done.stderr, path))
    return meson


def _compiler_error(output: str, path: Path) -> str:
    """The compiler's (or the linker's) first error in `output`, in one line."""
    lines = [re.sub(r"\x1b\[[0-9;]*[mK]", "", line).strip() for line in output.splitlines()]
    errors = [
        line
        for line in lines
        if re.search(r"\berror\b|undefined reference", line)
        and not line.startswith(("FAILED:", "ninja:"))
    ]
    mine = [line for line in errors if line.startswith(str(path))]
    shown = mine or errors or [line for line in lines if line][-1:] or ["no output"]
    more = f" (and {len(shown) - 1} more)" if len(shown) > 1 else ""
    return f"{path.name} does not build: {shown[0]}{more}"


def _stage(meson: Path, folder: Path) -> Path:
    """A copy of the phase3_c package in `folder`: the reference's Python files and the modules
    just compiled. Returns `folder` (the plugin imports phase3_c from it)."""
    package = folder / "phase3_c"
    package.mkdir(parents=True, exist_ok=True)
    sources = sorted((repository_root() / "phase3_c").glob("*.py"))
    built = [p for p in (meson / "phase3_c").iterdir() if p.is_file() and ".so" in p.suffixes]
    for path in sources + built:
        shutil.copy2(path, package / path.name)
    return folder


def _run_c_test(exercise: Exercise, test: str, program: Path) -> list[dict]:
    """Run a C test program (a CHECK macro printing "FAIL file:line: what" per failed check) and
    give one outcome per test function of its source, naming the functions still to write that
    printed their line before each failed check."""
    source = (repository_root() / test).read_text("utf-8")
    spans = [
        (name, source.count("\n", 0, first) + 1, source.count("\n", 0, last) + 1)
        for name, (first, last) in c_functions(source).items()
        if name.startswith("test_")
    ]
    try:
        done = subprocess.run([str(program)], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return [_c_outcome(test, Path(test).name, "error", "Timeout", "did not finish in 120 s")]
    fails: dict[str, list[str]] = {}
    unwritten: dict[str, list[str]] = {}
    pending: list[str] = []
    for line in done.stdout.splitlines():
        if m := re.match(rf"exercise {re.escape(exercise.id)}: write (\w+)", line):
            pending.append(m.group(1))
        elif m := re.match(r"FAIL .*?:(\d+): (.*)", line):
            at = int(m.group(1))
            name = next((n for n, first, last in spans if first <= at <= last), "main")
            fails.setdefault(name, []).append(m.group(2))
            unwritten.setdefault(name, []).extend(pending)
            pending = []
    crashed = done.returncode < 0 or (done.returncode and not fails)
    outcomes = []
    for name, _, _ in spans:
        if name in fails:
            what = f"{len(fails[name])} checks fail, the first: {fails[name][0]}"
            names = list(dict.fromkeys(unwritten[name]))
            message = (
                f"exercise {exercise.id}: write {', '.join(names)} ({what})" if names else what
            )
            outcomes.append(_c_outcome(test, name, "failed", "CheckFailed", message))
        elif not crashed:  # (after a crash, the functions without a failure may not have run)
            outcomes.append(_c_outcome(test, name, "passed"))
    if crashed:
        how = (
            f"killed by {signal.Signals(-done.returncode).name}"
            if done.returncode < 0
            else f"exit status {done.returncode}"
        )
        last = done.stdout.strip().splitlines()[-1:] or ["no output"]
        outcomes.append(
            _c_outcome(test, Path(test).name, "error", "Crash", f"{how}; its last line: {last[0]}")
        )
    return outcomes


def _c_outcome(test: str, name: str, outcome: str, kind: str = "", message: str = "") -> dict:
    error = {"type": kind, "message": message[:300]} if kind else None
    return {"name": f"{Path(test).name}: {name}", "outcome": outcome, "error": error}


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
