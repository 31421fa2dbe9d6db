"""The catalogue of exercises: for each, the reference module the learner rewrites, its tests,
its lesson and its hints; and where the checkout is. How a starter is made and how a check runs
are the other modules' (see __init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
    #: hints, by function or method name (Class.method): the starter writes them as comments, and
    #: `check` shows them beside a failure in that function
    hints: dict[str, str] = field(default_factory=dict)
    #: the reference file from the repository's root, where it is not the module's own .py (a C
    #: or C++ source of Phase 3)
    source: str = ""
    #: for a C or C++ source: the meson option (meson.options) that builds the learner's file in
    #: place of the reference's
    option: str = ""
    #: a kernel whose threads share memory between barriers: a result far off gets the hint of
    #: a race (a missing cuda.syncthreads())
    barriers: bool = False

    @property
    def marker(self) -> str:
        """The pytest -m expression choosing this exercise's tests in its test files: each is
        marked `@pytest.mark.exercise(id="1.5")` (a whole file by its `pytestmark`)."""
        return f'exercise(id="{self.id}")'

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
            "phase3_c/README.md",
            write=frozenset({"_lib", "_check", "_wrap", "_product", "_elementwise", "scale",
                             "transpose"}),
            hints={
                "_lib": "importlib.resources.files('phase3_c') / the first name of _LIBNAMES "
                "that exists, loaded with ctypes.CDLL; then give each function of _SIGNATURES "
                "its argtypes and restype",
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
            option="pybind_source",
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
            option="capi_source",
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
            write=frozenset({"hello"}),
            hints={
                "hello": "cuda.grid(1) is blockIdx.x * blockDim.x + threadIdx.x; print the "
                "block, the thread and that global index",
            },
        ),
        Exercise(
            "4.2", "vector addition", "phase4_cuda.vector_add",
            ("phase4_cuda/tests/test_examples.py", "phase4_cuda/tests/test_host_api.py"),
            "phase4_cuda/README.md",
            write=frozenset({"vector_add_kernel"}),
            hints={
                "vector_add_kernel": "a grid-stride loop: start at cuda.grid(1), step by "
                "cuda.gridsize(1), and stop at the end of the arrays (the guard)",
            },
        ),
        Exercise(
            "4.3", "the naive matmul kernel", "phase4_cuda.matmul.k01_naive",
            ("phase4_cuda/tests/test_matmul.py",), "phase4_cuda/README.md",
            write=frozenset({"matmul_naive"}),
            hints={
                "matmul_naive": "one thread per output: row from the y index, column from the "
                "x one (so a warp reads a row of B together); guard both, then a loop over k",
            },
        ),
        Exercise(
            "4.4", "the tiled matmul kernel, with shared memory", "phase4_cuda.matmul.k02_tiled",
            ("phase4_cuda/tests/test_matmul.py",), "phase4_cuda/README.md",
            write=frozenset({"matmul_tiled"}),
            barriers=True,
            hints={
                "matmul_tiled": "per step of TILE along k: each thread loads one element of A "
                "and one of B into shared tiles (0 past the edges), syncthreads, TILE "
                "multiply-adds from shared memory, syncthreads again",
            },
        ),
        Exercise(
            "4.5", "calling the kernels from Python", "phase4_cuda.matmul.host",
            ("phase4_cuda/tests/test_host_api.py",), "phase4_cuda/README.md",
            write=frozenset({"matmul"}),
            hints={
                "matmul": "require_gpu and require_precision first; a version given must be "
                "one of VERSIONS and compute in that precision (precision_of); as_device both "
                "operands, their shapes aligned; no version: fastest(precision, m, n), the rung "
                "this GPU runs fastest in that precision at that size; a NumPy `out` must be "
                "(m, n) and a writable float array (the result is copied into it), a device one "
                "(m, n), else a new (m, n) float32 device output; plan(version, da, db, dc)() "
                "launches the kernel; copy the result back only for NumPy input",
            },
        ),
        Exercise(
            "4.6", "a network's forward pass on the GPU", "phase4_cuda.dense",
            ("phase4_cuda/tests/test_dense.py",), "phase4_cuda/README.md",
            write=frozenset({"dense_forward", "softmax_rows", "mlp_forward"}),
            barriers=True,
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
            barriers=True,
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
                "evaluate", "_train_held", "_starting_point", "_EpochInputs.make",
                "_EpochInputs.prepare_next", "_train_epoch", "_epoch_record", "_interrupted",
            }),
            hints={
                "evaluate": "the trainer's logits for the whole set, through Phase 2's "
                "evaluation (evaluate_logits)",
                "_train_held": "(train() has made sure of a writable out folder and holds it) "
                "the starting point, the data, the trainer and its load; per epoch: _train_epoch; a non-finite loss "
                "raises _diverged's error; _epoch_record into the state's history, the state's "
                "epoch, save_checkpoint, the epoch's line; on KeyboardInterrupt print "
                "_interrupted's message and re-raise; at the end model.npz and metrics.json",
                "_starting_point": "load_checkpoint(resume), refused (ValueError) where "
                "resume_differences finds a setting of the run changed, or where --epochs is "
                "below the epochs it has done; else he_init and a state before the first epoch",
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
    """The checkout holding the reference's tests: the current folder or the one above the
    `shared` package, whichever has them."""
    # (this file is shared/exercises/catalogue.py: parents[2] holds shared/)
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (root / "phase1_python" / "tests").is_dir():
            return root
    raise ExerciseError(
        "the exercises run the reference's tests, which are in the repository's checkout: "
        "run this from the checkout's root"
    )
