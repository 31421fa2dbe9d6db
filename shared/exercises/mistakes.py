"""Typical learner mistakes, per exercise: each a small textual change of the reference (a sign,
a transposition, an off-by-one, a missing zeroing, a stride ignored, a missing barrier...) that
the exercise's check must fail, with a message that names the wrong behaviour. They are the
measure of the checks: shared/tests/test_mistakes.py runs every one through `check`.

    python -m shared.exercises.mistakes [ID ...]    run them, print what each check said

`said` is a piece of text the check's failures must show (a test's name or its message): the
behaviour that is wrong, as the learner reads it."""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shared.exercises.catalogue import EXERCISES, repository_root


@dataclass(frozen=True)
class Mistake:
    what: str  # the mistake, in a learner's words
    old: str  # text of the reference (it must occur exactly once) ...
    new: str  # ... and what the learner wrote instead
    said: str  # text the check's failures must show

    def apply(self, source: str) -> str:
        if source.count(self.old) != 1:
            raise ValueError(f"{self.what}: {self.old!r} occurs {source.count(self.old)} times")
        return source.replace(self.old, self.new)


#: exercises whose check takes more than a few seconds: a rebuild of the C library, or numba's
#: simulator. Their mistakes are checked with `check -x`: the first failing test must name them.
SLOW = frozenset({"3.1", "3.3", "3.4", "4.2", "4.3", "4.4", "4.5", "4.6", "5.1"})

M = Mistake
MISTAKES: dict[str, list[Mistake]] = {
    "1.1": [
        M("the rows shared with the caller, not copied", "rows = [list(r) for r in data.data]",
          "rows = data.data", "copy"),
        M("matmul without transposing B", "bt = list(zip(*other.data, strict=True))",
          "bt = other.data", "matmul"),
        M("matmul_naive's k loop one short", "for k in range(k_dim):",
          "for k in range(k_dim - 1):", "matmul_naive"),
        M("matmul_naive's accumulator not reset per element",
          "        for j in range(m):\n            acc = 0.0\n",
          "        acc = 0.0\n        for j in range(m):\n", "matmul_naive"),
        M("transpose that returns the rows", "return Matrix._wrap([list(col) for col in zip(*self.data, strict=True)])",
          "return Matrix._wrap([list(row) for row in self.data])", "transpose"),
        M("ragged rows accepted", "            if len(row) != cols:\n",
          "            if len(row) > cols:\n", "ragged"),
    ],
    "1.2": [
        M("sigmoid's sign flipped", "return 1.0 / (1.0 + math.exp(-v))",
          "return 1.0 / (1.0 + math.exp(v))", "sigmoid"),
        M("sigmoid overflowing for large negative v", "    if v >= 0:\n        return 1.0 / (1.0 + math.exp(-v))",
          "    if True:\n        return 1.0 / (1.0 + math.exp(-v))", "sigmoid"),
        M("relu's derivative 1 at 0", "return 1.0 if v > 0.0 else 0.0", "return 1.0 if v >= 0.0 else 0.0",
          "relu_prime"),
        M("tanh's derivative without the square", "return 1.0 - t * t", "return 1.0 - t", "tanh_prime"),
        M("softmax without subtracting the maximum", "exps = [math.exp(v - top) for v in row]",
          "exps = [math.exp(v) for v in row]", "softmax"),
        M("softmax_backward's sum with the wrong sign", "out.append([si * (gi - inner)",
          "out.append([si * (gi + inner)", "softmax_backward"),
    ],
    "1.3": [
        M("mse's gradient without the 2", "return (pred - target) * (2.0 / (pred.rows * pred.cols))",
          "return (pred - target) * (1.0 / (pred.rows * pred.cols))", "mse"),
        M("binary cross-entropy not averaged", "return -total / (pred.rows * pred.cols)",
          "return -total / pred.rows", "binary_cross_entropy"),
        M("categorical cross-entropy's sign", "return -total / probs.rows", "return total / probs.rows",
          "categorical_cross_entropy"),
        M("the fused gradient not divided by the batch",
          "return (softmax(logits) - target) * (1.0 / logits.rows)", "return softmax(logits) - target",
          "softmax_cross_entropy"),
        M("one_hot accepts the label n_classes", "not 0 <= label < n_classes", "not 0 <= label <= n_classes",
          "one_hot"),
        M("log-softmax without the maximum added back",
          "log_total = top + math.log(math.fsum(math.exp(v - top) for v in row))",
          "log_total = math.log(math.fsum(math.exp(v - top) for v in row))", "softmax_cross_entropy"),
    ],
    "1.4": [
        M("minutes and seconds swapped", 'return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"',
          'return f"{h:d}:{m:02d}:{s:02d}" if h else f"{s:02d}:{m:02d}"', "format_interval"),
        M("a plural for one", "if n == 1:\n", "if n == 0:\n", "unit"),
        M("the bar filled by one too many", "filled = int(frac * bar_width)",
          "filled = int(frac * bar_width) + 1", "meter"),
        M("no ETA once finished", "eta = 0.0 if n >= total else", "eta = None if n >= total else",
          "meter"),
        M("update that does not count", "        self.n += n\n", "        self.n = n\n", "2/10"),
        M("the rate from the total, not the count done", "rate = rate_n / rate_elapsed if",
          "rate = (total or rate_n) / rate_elapsed if", "rate"),
    ],
    "1.5": [
        M("no bias added", "return x @ self.W + self.b", "return x @ self.W", "forward"),
        M("dW not transposed", "self.dW = self._x.T @ grad", "self.dW = grad.T @ self._x",
          "backward"),
        M("db summed over the wrong axis", "self.db = grad.sum(axis=0)", "self.db = grad.sum(axis=1).T",
          "backward"),
        M("the input gradient through W, not W^T", "return grad @ self.W.T",
          "return grad @ self.W", "backward"),
        M("the input not kept for backward", "        self._x = x\n        return x @ self.W + self.b",
          "        return x @ self.W + self.b", "backward"),
        M("He init with 1 / n_in", "std=math.sqrt(2.0 / n_in)", "std=math.sqrt(1.0 / n_in)",
          "initialisation"),
    ],
    "1.6": [
        M("backward in forward order", "for layer in reversed(self.layers):\n            grad = layer.backward",
          "for layer in self.layers[::-1][::-1]:\n            grad = layer.backward", "backward"),
        M("the step climbs the gradient", "update = grad * -lr", "update = grad * lr", "step"),
        M("momentum's velocity never kept", "                    self._velocity[key] = update\n", "",
          "momentum"),
        M("the loss measured after the update", "        value = loss.value(out, y)\n        self.backward(loss.grad(out, y))\n        self.step(lr, momentum)\n        return value",
          "        self.backward(loss.grad(out, y))\n        self.step(lr, momentum)\n        return loss.value(self.forward(x), y)",
          "train_step"),
        M("the epoch's loss not weighted by the batch's size", "losses.append(value * len(idx))",
          "losses.append(value * batch_size)", "fit"),
        M("no shuffling", "                rng.shuffle(order)\n", "", "fit"),
    ],
    "2.1": [
        M("sigmoid's derivative from z, not h", "return h * (1 - h)  # d s(z)/dz", "return sigmoid(h) * (1 - sigmoid(h))  # d s(z)/dz",
          "sigmoid"),
        M("softmax over the batch axis", "e = np.exp(z - z.max(axis=1, keepdims=True))\n    return e / e.sum(axis=1, keepdims=True)",
          "e = np.exp(z - z.max(axis=0, keepdims=True))\n    return e / e.sum(axis=0, keepdims=True)", "softmax"),
        M("the gradient not divided by the batch", "    delta /= batch\n", "", "backward"),
        M("db summed over the wrong axis", "grads_b[l] = delta.sum(axis=0)", "grads_b[l] = delta.mean(axis=0)",
          "backward"),
        M("delta not through the activation's derivative", "delta = (delta @ W[l].T) * f_prime(hs[l])",
          "delta = delta @ W[l].T", "backward"),
        M("no bias in the forward pass", "        z += bias  # broadcast over the rows\n", "", "gradient of b0"),
        M("the last layer through the activation", "hs.append(f(z) if l < len(W) - 1 else z)",
          "hs.append(f(z))", "forward"),
    ],
    "2.2": [
        M("weight decay on the biases too", "(params.b, params.vb, grads_b, 0.0)",
          "(params.b, params.vb, grads_b, config.weight_decay)", "decay"),
        M("momentum never decays the velocity", "            v *= dtype(mu)\n", "", "momentum"),
        M("Nesterov's look-ahead missing", "(g + dtype(mu) * v if config.nesterov else v)", "v",
          "nesterov"),
        M("the warm-up off by one", "return config.lr * (step + 1) / warm", "return config.lr * step / warm",
          "lr"),
        M("the cosine not clamped past the end", "math.cos(math.pi * min(progress, 1.0))",
          "math.cos(math.pi * progress)", "lr"),
        M("the update's sign", "value -= dtype(lr) *", "value += dtype(lr) *", "step"),
    ],
    "3.2": [
        M("every status the same error", "raise _ERRORS.get(status, RuntimeError)(f\"{what}: {message}\")",
          "raise RuntimeError(f\"{what}: {message}\")", "each_status"),
        M("the stride ignored", "return struct(x.shape[0], x.shape[1], row_stride(x),",
          "return struct(x.shape[0], x.shape[1], x.shape[1],", "views"),
        M("the float32 product in float64", "return _product(\"nn_matmul_f32\", a, b, np.float32)",
          "return _product(\"nn_matmul\", a, b)", "float32"),
        M("elementwise without the shape check", "    check_same_shape(a, b, fn_name)\n", "", "shape"),
        M("transpose's output not transposed", "out = np.empty((a.shape[1], a.shape[0]))",
          "out = np.empty(a.shape)", "transpose"),
        M("scale truncating the factor", "_lib().nn_scale(_wrap(a), float(s), _wrap(out))",
          "_lib().nn_scale(_wrap(a), float(int(s)), _wrap(out))", "scale"),
    ],
    "3.1": [
        M("b read with its columns, not its stride (the strided b)",
          "*y = b->data + i * b->stride;", "*y = b->data + i * b->cols;", "stride"),
        M("scale writing out with a's stride", "out->data[i * out->stride + j] = s * a->data[i * a->stride + j];",
          "out->data[i * a->stride + j] = s * a->data[i * a->stride + j];", "scale"),
        M("transpose's shape not checked", "    if (out->rows != a->cols || out->cols != a->rows) return NN_ERR_SHAPE;\n",
          "", "transpose"),
        M("transpose's last block not cut at the edge", "size_t j1 = j0 + BLOCK < a->cols ? j0 + BLOCK : a->cols;",
          "size_t j1 = j0 + BLOCK < a->cols ? j0 + BLOCK : a->rows;", "transpose"),
        M("the naive product's k loop one short", "for (size_t k = 0; k < a->cols; ++k) /* b is read",
          "for (size_t k = 0; k + 1 < a->cols; ++k) /* b is read", "naive"),
        M("the naive product's accumulator not reset (kept from the element before)",
          "            double acc = 0.0;\n            for (size_t k = 0; k < a->cols; ++k) /* b is read",
          "            static double acc = 0.0;\n            for (size_t k = 0; k < a->cols; ++k) /* b is read",
          "naive"),
        M("ikj's output row not zeroed", "        memset(c, 0, b->cols * sizeof(double));\n", "", "ikj"),
        M("ikj's row of b with its columns, not its stride", "const double *brow = b->data + k * b->stride;",
          "const double *brow = b->data + k * b->cols;", "ikj"),
        M("elementwise without the shape check", "    if (!same_shape(a, b) || !same_shape(a, out)) return NN_ERR_SHAPE;\n",
          "    if (!same_shape(a, out)) return NN_ERR_SHAPE;\n", "shape"),
    ],
    "3.3": [
        M("the elementwise shapes compared by rows only",
          "(a.shape(0) != b.shape(0) || a.shape(1) != b.shape(1))", "(a.shape(0) != b.shape(0))", "shape"),
        M("the product's output of the wrong width", "elementwise ? a.shape(1) : b.shape(1));",
          "a.shape(1));", "pybind11"),
        M("scale's factor dropped", "st = nn_scale(&ma, s, &mo);", "st = nn_scale(&ma, 1.0, &mo);",
          "elementwise_and_transpose"),
        M("transpose's output not transposed", "auto out = aligned_output<double>(a.shape(1), a.shape(0));",
          "auto out = aligned_output<double>(a.shape(0), a.shape(1));", "transpose"),
        M("the float32 product without its shape check",
          "    if (a.shape(1) != b.shape(0)) throw py::value_error(\"matmul_f32: shapes \" + shapes(a, b) + \" are not aligned\");\n",
          "", "are not aligned"),
    ],
    "3.4": [
        M("a non-contiguous array used in place", "(dims[1] <= 1 || strides[1] == item) &&",
          "", "stride"),
        M("a 1-D array accepted", "    if (PyArray_NDIM(arr) != 2) {", "    if (PyArray_NDIM(arr) > 2) {", "dim"),
        M("the elementwise shapes compared by rows only", "(da[0] != db[0] || da[1] != db[1])",
          "(da[0] != db[0])", "shape"),
        # (an unraised status is no mistake a test can see: the binding refuses every shape the
        # C would, before calling it)
        M("scale's factor parsed, then dropped", "nn_transpose(&ma, &mo) : nn_scale(&ma, factor, &mo);",
          "nn_transpose(&ma, &mo) : nn_scale(&ma, 1.0, &mo);", "elementwise_and_transpose"),
        M("transpose's output not transposed", "transpose ? aligned_output(c, r, NPY_DOUBLE)",
          "transpose ? aligned_output(r, c, NPY_DOUBLE)", "transpose"),
        M("a bool array taken as numbers", "    } else if (kind != 'f' && kind != 'i' && kind != 'u') {",
          "    } else if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') {", "real numbers"),
    ],
    "4.1": [
        M("the global index from the thread alone", "i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x",
          "i = cuda.threadIdx.x", "hello"),
        M("the block's size taken from the grid", "i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x",
          "i = cuda.blockIdx.x * cuda.gridDim.x + cuda.threadIdx.x", "hello"),
        M("block and thread swapped in the line", '"block", cuda.blockIdx.x, "thread", cuda.threadIdx.x',
          '"block", cuda.threadIdx.x, "thread", cuda.blockIdx.x', "hello"),
        M("the index off by one", "i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x",
          "i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x + 1", "hello"),
        M("nothing printed", '    print("block", cuda.blockIdx.x, "thread", cuda.threadIdx.x, "-> global index", i)\n',
          "    pass\n", "hello"),
    ],
    "4.2": [
        M("no grid-stride: one element per thread", "for i in range(start, out.shape[0], stride):",
          "for i in range(start, min(start + 1, out.shape[0]), stride):", "vector_add"),
        # (a stride of one block, cuda.blockDim.x, is no mistake of the result: every element
        # is still written, by several threads, with the same value; only slower)
        M("the start of the block, not the thread", "start = cuda.grid(1)",
          "start = cuda.blockIdx.x * cuda.blockDim.x", "vector_add"),
        M("the guard one past the end", "for i in range(start, out.shape[0], stride):",
          "for i in range(start, out.shape[0] + 1, stride):", "vector_add"),
        M("the start from the thread alone", "start = cuda.grid(1)", "start = cuda.threadIdx.x", "vector_add"),
        M("subtraction for addition", "        out[i] = x[i] + y[i]\n", "        out[i] = x[i] - y[i]\n", "vector_add"),
    ],
    "4.3": [
        M("no bounds guard", "if i < c.shape[0] and j < c.shape[1]:", "if True:", "naive"),
        M("rows and columns from the wrong axes",
          "j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x\n    i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y",
          "i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x\n    j = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y",
          "naive"),
        M("the k loop one short", "for k in range(a.shape[1]):", "for k in range(a.shape[1] - 1):", "naive"),
        M("B read transposed", "acc += a[i, k] * b[k, j]", "acc += a[i, k] * b[j, k] if j < b.shape[0] and k < b.shape[1] else float32(0.0)", "naive"),
        M("the accumulator overwritten", "acc += a[i, k] * b[k, j]", "acc = a[i, k] * b[k, j]", "naive"),
        M("the guard one past the edge", "if i < c.shape[0] and j < c.shape[1]:",
          "if i <= c.shape[0] - 1 and j <= c.shape[1]:", "naive"),
    ],
    "4.4": [
        M("no barrier after loading the tiles",
          "        sb[ty, tx] = b[k0 + ty, j] if k0 + ty < k_dim and j < n else float32(0.0)\n        cuda.syncthreads()\n",
          "        sb[ty, tx] = b[k0 + ty, j] if k0 + ty < k_dim and j < n else float32(0.0)\n", "syncthreads"),
        M("no barrier before the next tile's loads",
          "            acc += sa[ty, kk] * sb[kk, tx]  # sa: broadcast within a warp; sb: consecutive\n        cuda.syncthreads()\n",
          "            acc += sa[ty, kk] * sb[kk, tx]  # sa: broadcast within a warp; sb: consecutive\n", "syncthreads"),
        # (zeros past the edge of one tile alone is no mistake: the other's zeros cancel it)
        M("no zeros past the edges, the nearest element instead",
          "        sa[ty, tx] = a[i, k0 + tx] if i < m and k0 + tx < k_dim else float32(0.0)\n"
          "        sb[ty, tx] = b[k0 + ty, j] if k0 + ty < k_dim and j < n else float32(0.0)\n",
          "        sa[ty, tx] = a[min(i, m - 1), min(k0 + tx, k_dim - 1)]\n"
          "        sb[ty, tx] = b[min(k0 + ty, k_dim - 1), min(j, n - 1)]\n", "tiled"),
        M("B's tile loaded transposed", "sb[ty, tx] = b[k0 + ty, j] if k0 + ty < k_dim and j < n else float32(0.0)",
          "sb[tx, ty] = b[k0 + ty, j] if k0 + ty < k_dim and j < n else float32(0.0)", "tiled"),
        M("the accumulator reset per tile", "    for k0 in range(0, k_dim, TILE):\n", "    for k0 in range(0, k_dim, TILE):\n        acc = float32(0.0)\n", "tiled"),
        M("the last partial tile of k skipped", "for k0 in range(0, k_dim, TILE):", "for k0 in range(0, k_dim - TILE + 1, TILE):", "tiled"),
    ],
    "4.5": [
        M("the version's precision not checked",
          "    if version is not None and precision_of(version) != precision:\n",
          "    if False:\n", "computes in"),
        M("the shapes not checked", "    if k != k2:\n", "    if False:\n", "aligned"),
        M("a device result copied back", "    if on_device:\n        return dc\n", "", "device"),
        M("out's shape not checked", "        if dc.shape != (m, n):\n", "        if False:\n", "out"),
        M("the default version ignored", "version = version or fastest(precision, m, n)",
          "version = version or next(iter(VERSIONS))", "without a version"),
    ],
    "4.6": [
        M("softmax's max reduction without its barrier",
          "            red[t] = max(red[t], red[t + step])\n        cuda.syncthreads()\n",
          "            red[t] = max(red[t], red[t + step])\n", "softmax"),
        M("softmax without subtracting the maximum", "total += math.exp(x[row, j] - top)",
          "total += math.exp(x[row, j])", "softmax"),
        M("the reduction tree one level short", "    step = SOFTMAX_THREADS // 2\n    while step > 0:\n        if t < step:\n            red[t] += red[t + step]",
          "    step = SOFTMAX_THREADS // 4\n    while step > 0:\n        if t < step:\n            red[t] += red[t + step]", "softmax"),
        M("the activation on the last layer too", "None if last else activation,", "activation,", "mlp"),
        M("the result of device input copied back", "    return dout if on_device else dout.copy_to_host()\n\n\n@cached",
          "    return dout.copy_to_host()\n\n\n@cached", "device in, device out"),
        M("only the first column per thread", "    for j in range(t, cols, SOFTMAX_THREADS):\n        out[row, j]",
          "    for j in range(t, min(cols, SOFTMAX_THREADS), SOFTMAX_THREADS):\n        out[row, j]", "softmax"),
    ],
    "5.1": [
        M("the gathered rows in order, not the epoch's", "src = order[start + r]", "src = start + r", "step"),
        M("decay on the biases too", "(decay * value[k] if k < n_decay else float32(0.0))",
          "decay * value[k]", "step"),
        M("the learning rate of the next step", "lr = lrs[step - 1]", "lr = lrs[min(step, lrs.shape[0] - 1)]",
          "step"),
        M("no barrier before the segments are summed",
          "    for j in range(MAX_CLASSES):\n        part[t, j] = acc[j]\n    cuda.syncthreads()\n",
          "    for j in range(MAX_CLASSES):\n        part[t, j] = acc[j]\n", "step"),
        M("the gradient below not masked by ReLU", "        if h[r, kk] > float32(0.0):\n",
          "        if True:\n", "step"),
        M("the labels not gathered", "        if c == 0:\n            yb[r] = y[src]\n", "", "step"),
    ],
    "5.2": [
        M("the schedule restarting on resume", "lrs = [lr_at(self.config, first_step + s, total_steps)",
          "lrs = [lr_at(self.config, s, total_steps)", "learning rates"),
        M("the step count not moved on", "        state[\"step\"] += inputs.steps_per_epoch\n", "", "resume"),
        M("resuming from another network's checkpoint", "    if differences := resume_differences(saved, config):\n",
          "    if False:\n", "widths"),
        M("the training loss not per row", "\"train_loss\": loss_sum / n,", "\"train_loss\": loss_sum,",
          "history"),
        M("the next epoch's inputs made for the same epoch", "self.ready[epoch + 1] = self.make(epoch + 1, first_step + self.steps_per_epoch)",
          "self.ready[epoch + 1] = self.make(epoch, first_step)", "epoch"),
        M("the interrupted message blaming the wrong checkpoint",
          "return f\"\\ninterrupted before an epoch finished: nothing new was saved; continue with --resume {resume}\"",
          "return f\"\\ninterrupted before an epoch finished: nothing new was saved; continue with --resume {checkpoint}\"",
          "interrupt"),
    ],
}  # fmt: skip


def mutant(exercise_id: str, mistake: Mistake) -> str:
    """The reference of `exercise_id` with `mistake` made."""
    reference = (repository_root() / EXERCISES[exercise_id].reference).read_text("utf-8")
    return mistake.apply(reference)


def failures_text(exercise_id: str, outcomes: list[dict]) -> str:
    """What a check's failures show: each failing test's name, its error's type and message,
    and the hint `check` prints beside it."""
    from shared.exercises.cli import _hint_for

    lines = []
    for o in outcomes:
        if o["outcome"] not in ("passed", "skipped"):
            error = o["error"] or {}
            hint = _hint_for(EXERCISES[exercise_id], o)
            lines.append(f"{o['name']}: {error.get('type', '')}: {error.get('message', '')}")
            lines += [f"hint: {hint}"] if hint else []
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from shared.exercises.runner import check

    ids = (argv if argv is not None else sys.argv[1:]) or list(MISTAKES)
    caught = tried = 0
    for exercise_id in ids:
        for mistake in MISTAKES[exercise_id]:
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / EXERCISES[exercise_id].file).write_text(
                    mutant(exercise_id, mistake), "utf-8"
                )
                try:
                    code, outcomes = check(
                        exercise_id, Path(tmp), timeout=120, first_failure=exercise_id in SLOW
                    )
                    text = failures_text(exercise_id, outcomes)
                except Exception as e:  # (an error of the check is an outcome too)
                    code, text = 2, f"{type(e).__name__}: {e}"
            named = mistake.said.lower() in text.lower()
            tried += 1
            caught += code != 0 and named
            first = text.splitlines()[0][:150] if text else "(nothing failed)"
            verdict = "caught" if code and named else "MISSED" if not code else "UNNAMED"
            print(f"{exercise_id} {verdict:8} {mistake.what}: {first}", flush=True)
    print(f"{caught} of {tried} mistakes caught and named")
    return 0 if caught == tried else 1


if __name__ == "__main__":
    sys.exit(main())
