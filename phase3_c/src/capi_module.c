/* Binding 1 of 3: a hand-written CPython C-API extension module, phase3_c._capi.
 *
 * Everything a call needs happens here in C, which is why this is the cheapest way across
 * (see the per-call costs in README.md): argument parsing, validation with the rules of
 * phase3_c/inputs.py (a 2-D NumPy array or a phase1_python Matrix; real dtypes converted to
 * float64, float32 only for the float32 product; rows must be contiguous or the array is copied),
 * a 64-byte-aligned output owned by a capsule, and the GIL released around the C library call. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <stdlib.h>

#include "matrix.h"
#include "platform.h" /* nn_aligned_alloc / nn_aligned_free */

/* A new reference to a 2-D array of `typenum` with contiguous rows, or NULL with an exception. */
static PyArrayObject *take(PyObject *obj, int typenum, const char *name) {
    /* exercise 3.4: begin take */
    PyObject *source = obj;
    int converted = 0;
    if (!PyArray_Check(obj)) {
        if (!PyObject_HasAttrString(obj, "tolist") || PyList_Check(obj)) { /* Phase 1 Matrix */
            PyErr_Format(PyExc_TypeError, "%s: expected a NumPy array or a phase1_python Matrix, got %s",
                         name, Py_TYPE(obj)->tp_name);
            return NULL;
        }
        source = PyObject_CallMethod(obj, "tolist", NULL);
        if (source == NULL) return NULL;
        converted = 1;
    }
    PyArrayObject *arr = (PyArrayObject *)PyArray_FROMANY(source, NPY_NOTYPE, 0, 0, 0);
    if (converted) Py_DECREF(source);
    if (arr == NULL) return NULL;
    int kind = PyArray_DESCR(arr)->kind;
    if (PyArray_NDIM(arr) != 2) {
        PyErr_Format(PyExc_ValueError, "%s: expected 2 dimensions, got %d", name, PyArray_NDIM(arr));
    } else if (kind != 'f' && kind != 'i' && kind != 'u') {
        PyErr_Format(PyExc_TypeError, "%s: expected real numbers, got dtype %S", name, (PyObject *)PyArray_DESCR(arr));
    } else if (typenum == NPY_FLOAT && PyArray_TYPE(arr) != NPY_FLOAT) {
        PyErr_Format(PyExc_TypeError,
                     "%s: the float32 product needs float32 arrays, got %S (convert with "
                     ".astype(np.float32), or use the float64 product)", name, (PyObject *)PyArray_DESCR(arr));
    } else {
        npy_intp *strides = PyArray_STRIDES(arr), *dims = PyArray_DIMS(arr);
        npy_intp item = PyArray_ITEMSIZE(arr);
        /* usable in place: the right type in this machine's byte order (PyArray_TYPE is the same
         * for '<f8' and '>f8'), aligned, with contiguous rows */
        int rows_ok = PyArray_TYPE(arr) == typenum && PyArray_ISNOTSWAPPED(arr) &&
                      (dims[1] <= 1 || strides[1] == item) &&
                      (dims[0] <= 1 || (strides[0] >= dims[1] * item && strides[0] % item == 0)) &&
                      PyArray_ISALIGNED(arr);
        if (rows_ok) return arr;
        PyArrayObject *copy = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)arr, typenum,
                                                                NPY_ARRAY_CARRAY_RO | NPY_ARRAY_NOTSWAPPED);
        Py_DECREF(arr);
        return copy;
    }
    Py_DECREF(arr);
    return NULL;
    /* exercise 3.4: end take */
}

static void free_capsule(PyObject *capsule) { nn_aligned_free(PyCapsule_GetPointer(capsule, NULL)); }

/* A new uninitialised C-contiguous (rows, cols) array whose data is 64-byte aligned. */
static PyArrayObject *aligned_output(npy_intp rows, npy_intp cols, int typenum) {
    size_t item = typenum == NPY_FLOAT ? sizeof(float) : sizeof(double);
    void *data = NULL;
    if (rows == 0 || (size_t)cols <= (SIZE_MAX - 63) / item / (size_t)rows) {
        size_t bytes = ((size_t)rows * (size_t)cols * item + 63) / 64 * 64;
        data = nn_aligned_alloc(64, bytes ? bytes : 64);
    }
    if (data == NULL)
        return (PyArrayObject *)PyErr_Format(PyExc_MemoryError, "cannot allocate the (%zd, %zd) output (%lld MiB)",
                                             (Py_ssize_t)rows, (Py_ssize_t)cols,
                                             (long long)((double)rows * (double)cols * (double)item / (1 << 20)));
    npy_intp dims[2] = {rows, cols};
    PyObject *arr = PyArray_SimpleNewFromData(2, dims, typenum, data);
    PyObject *owner = arr ? PyCapsule_New(data, NULL, free_capsule) : NULL;
    if (owner == NULL || PyArray_SetBaseObject((PyArrayObject *)arr, owner) < 0) {
        if (owner == NULL) nn_aligned_free(data);
        Py_XDECREF(arr);
        return NULL;
    }
    return (PyArrayObject *)arr;
}

static nn_matrix view64(PyArrayObject *a) {
    npy_intp rows = PyArray_DIM(a, 0), cols = PyArray_DIM(a, 1);
    size_t stride = rows > 1 ? (size_t)(PyArray_STRIDE(a, 0) / (npy_intp)sizeof(double)) : (size_t)cols;
    return (nn_matrix){(size_t)rows, (size_t)cols, stride, (double *)PyArray_DATA(a)};
}

static nn_matrix_f32 view32(PyArrayObject *a) {
    npy_intp rows = PyArray_DIM(a, 0), cols = PyArray_DIM(a, 1);
    size_t stride = rows > 1 ? (size_t)(PyArray_STRIDE(a, 0) / (npy_intp)sizeof(float)) : (size_t)cols;
    return (nn_matrix_f32){(size_t)rows, (size_t)cols, stride, (float *)PyArray_DATA(a)};
}

static PyObject *status_error(nn_status s, const char *what) {
    PyErr_Format(s == NN_ERR_ALLOC ? PyExc_MemoryError : PyExc_ValueError, "%s: %s", what, nn_status_str(s));
    return NULL;
}

enum op { OP_MATMUL, OP_NAIVE, OP_IKJ, OP_F32, OP_ADD, OP_SUB, OP_MUL };

/* A product's operand that is the transpose of a row-major matrix (x.T of a C-contiguous x: its
 * columns are contiguous), of the right type: the packed product reads it where it lies. Returns
 * a new reference with *stored set to the matrix it transposes, or NULL (no error set) when the
 * array is anything else, and take() then makes it usable. */
static PyArrayObject *transposed(PyObject *obj, int typenum, size_t item, size_t *rows, size_t *cols,
                                 size_t *stride) {
    if (!PyArray_Check(obj)) return NULL;
    PyArrayObject *arr = (PyArrayObject *)obj;
    if (PyArray_NDIM(arr) != 2 || PyArray_TYPE(arr) != typenum || !PyArray_ISNOTSWAPPED(arr) ||
        !PyArray_ISALIGNED(arr))
        return NULL;
    npy_intp *dims = PyArray_DIMS(arr), *strides = PyArray_STRIDES(arr);
    if (dims[0] < 2 || dims[1] < 2 || strides[0] != (npy_intp)item || strides[1] < dims[0] * (npy_intp)item ||
        strides[1] % (npy_intp)item != 0)
        return NULL; /* row-major already, a vector, or a layout only a copy can serve */
    *rows = (size_t)dims[1];
    *cols = (size_t)dims[0];
    *stride = (size_t)(strides[1] / (npy_intp)item);
    Py_INCREF(arr);
    return arr;
}

/* The packed product, op(a) @ op(b), with a transposed operand read in place. */
static PyObject *product(PyObject *oa, PyObject *ob, int f32, const char *what) {
    int typenum = f32 ? NPY_FLOAT : NPY_DOUBLE;
    size_t item = f32 ? sizeof(float) : sizeof(double);
    size_t rows[2], cols[2], stride[2];
    PyObject *in[2] = {oa, ob};
    PyArrayObject *arr[2] = {NULL, NULL}, *out = NULL;
    int trans[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
        arr[i] = transposed(in[i], typenum, item, &rows[i], &cols[i], &stride[i]);
        if (arr[i] != NULL) {
            trans[i] = 1;
            continue;
        }
        if ((arr[i] = take(in[i], typenum, i ? "b" : "a")) == NULL) goto done;
        rows[i] = (size_t)PyArray_DIM(arr[i], 0);
        cols[i] = (size_t)PyArray_DIM(arr[i], 1);
        stride[i] = rows[i] > 1 ? (size_t)(PyArray_STRIDE(arr[i], 0) / (npy_intp)item) : cols[i];
    }
    size_t m = trans[0] ? cols[0] : rows[0], k = trans[0] ? rows[0] : cols[0];
    size_t kb = trans[1] ? cols[1] : rows[1], n = trans[1] ? rows[1] : cols[1];
    if (k != kb) {
        PyErr_Format(PyExc_ValueError, "%s: shapes (%zd, %zd) and (%zd, %zd) are not aligned", what, (Py_ssize_t)m,
                     (Py_ssize_t)k, (Py_ssize_t)kb, (Py_ssize_t)n);
        goto done;
    }
    if ((out = aligned_output((npy_intp)m, (npy_intp)n, typenum)) == NULL) goto done;
    nn_status s;
    if (f32) {
        nn_matrix_f32 ma = {rows[0], cols[0], stride[0], PyArray_DATA(arr[0])};
        nn_matrix_f32 mb = {rows[1], cols[1], stride[1], PyArray_DATA(arr[1])}, mo = view32(out);
        Py_BEGIN_ALLOW_THREADS s = nn_matmul_f32_t(&ma, trans[0], &mb, trans[1], &mo);
        Py_END_ALLOW_THREADS
    } else {
        nn_matrix ma = {rows[0], cols[0], stride[0], PyArray_DATA(arr[0])};
        nn_matrix mb = {rows[1], cols[1], stride[1], PyArray_DATA(arr[1])}, mo = view64(out);
        Py_BEGIN_ALLOW_THREADS s = nn_matmul_t(&ma, trans[0], &mb, trans[1], &mo);
        Py_END_ALLOW_THREADS
    }
    if (s != NN_OK) {
        Py_CLEAR(out);
        status_error(s, what);
    }
done:
    Py_XDECREF(arr[0]);
    Py_XDECREF(arr[1]);
    return (PyObject *)out;
}

/* Every binary operation: parse, validate, allocate, call without the GIL. */
static PyObject *binary(PyObject *args, enum op op, const char *what) {
    /* exercise 3.4: begin binary */
    PyObject *oa, *ob;
    if (!PyArg_ParseTuple(args, "OO", &oa, &ob)) return NULL;
    if (op == OP_MATMUL && PyArray_Check(oa) && PyArray_Check(ob) &&
        PyArray_TYPE((PyArrayObject *)oa) == NPY_FLOAT && PyArray_TYPE((PyArrayObject *)ob) == NPY_FLOAT)
        op = OP_F32; /* float32 in, the float32 product */
    if (op == OP_MATMUL || op == OP_F32) return product(oa, ob, op == OP_F32, what);
    int typenum = op == OP_F32 ? NPY_FLOAT : NPY_DOUBLE;
    PyArrayObject *a = take(oa, typenum, "a"), *b = a ? take(ob, typenum, "b") : NULL, *out = NULL;
    if (b == NULL) goto done;
    npy_intp *da = PyArray_DIMS(a), *db = PyArray_DIMS(b);
    int product = op <= OP_F32;
    if (product ? da[1] != db[0] : (da[0] != db[0] || da[1] != db[1])) {
        PyErr_Format(PyExc_ValueError, "%s: shapes (%zd, %zd) and (%zd, %zd) %s", what, (Py_ssize_t)da[0],
                     (Py_ssize_t)da[1], (Py_ssize_t)db[0], (Py_ssize_t)db[1],
                     product ? "are not aligned" : "differ");
        goto done;
    }
    out = aligned_output(da[0], product ? db[1] : da[1], typenum);
    if (out == NULL) goto done;
    nn_status s;
    if (op == OP_F32) {
        nn_matrix_f32 ma = view32(a), mb = view32(b), mo = view32(out);
        Py_BEGIN_ALLOW_THREADS s = nn_matmul_f32(&ma, &mb, &mo);
        Py_END_ALLOW_THREADS
    } else {
        nn_matrix ma = view64(a), mb = view64(b), mo = view64(out);
        Py_BEGIN_ALLOW_THREADS switch (op) {
        case OP_MATMUL: s = nn_matmul(&ma, &mb, &mo); break;
        case OP_NAIVE: s = nn_matmul_naive(&ma, &mb, &mo); break;
        case OP_IKJ: s = nn_matmul_ikj(&ma, &mb, &mo); break;
        case OP_ADD: s = nn_add(&ma, &mb, &mo); break;
        case OP_SUB: s = nn_sub(&ma, &mb, &mo); break;
        default: s = nn_mul(&ma, &mb, &mo); break;
        }
        Py_END_ALLOW_THREADS
    }
    if (s != NN_OK) {
        Py_CLEAR(out);
        status_error(s, what);
    }
done:
    Py_XDECREF(a);
    Py_XDECREF(b);
    return (PyObject *)out;
    /* exercise 3.4: end binary */
}

static PyObject *matmul(PyObject *self, PyObject *args) { return binary(args, OP_MATMUL, "matmul"); }
static PyObject *matmul_f32(PyObject *self, PyObject *args) { return binary(args, OP_F32, "matmul_f32"); }
static PyObject *matmul_naive(PyObject *self, PyObject *args) { return binary(args, OP_NAIVE, "matmul_naive"); }
static PyObject *matmul_ikj(PyObject *self, PyObject *args) { return binary(args, OP_IKJ, "matmul_ikj"); }
static PyObject *add(PyObject *self, PyObject *args) { return binary(args, OP_ADD, "add"); }
static PyObject *sub(PyObject *self, PyObject *args) { return binary(args, OP_SUB, "sub"); }
static PyObject *mul(PyObject *self, PyObject *args) { return binary(args, OP_MUL, "mul"); }

static PyObject *unary(PyObject *args, int transpose, const char *what) {
    /* exercise 3.4: begin unary */
    PyObject *oa;
    double factor = 1.0;
    if (transpose ? !PyArg_ParseTuple(args, "O", &oa) : !PyArg_ParseTuple(args, "Od", &oa, &factor)) return NULL;
    PyArrayObject *a = take(oa, NPY_DOUBLE, "a");
    if (a == NULL) return NULL;
    npy_intp r = PyArray_DIM(a, 0), c = PyArray_DIM(a, 1);
    PyArrayObject *out = transpose ? aligned_output(c, r, NPY_DOUBLE) : aligned_output(r, c, NPY_DOUBLE);
    if (out != NULL) {
        nn_matrix ma = view64(a), mo = view64(out);
        nn_status s;
        Py_BEGIN_ALLOW_THREADS s = transpose ? nn_transpose(&ma, &mo) : nn_scale(&ma, factor, &mo);
        Py_END_ALLOW_THREADS
        if (s != NN_OK) {
            Py_CLEAR(out);
            status_error(s, what);
        }
    }
    Py_DECREF(a);
    return (PyObject *)out;
    /* exercise 3.4: end unary */
}

static PyObject *scale(PyObject *self, PyObject *args) { return unary(args, 0, "scale"); }
static PyObject *transpose(PyObject *self, PyObject *args) { return unary(args, 1, "transpose"); }

/* ---- float32 row kernels (Phase 5's CPU trainer): x is (rows, cols) float32 --------------- */
enum row_op { ROW_RELU, ROW_SOFTMAX, ROW_BIAS, ROW_RELU_BACKWARD };

static PyObject *row_kernel(PyObject *args, enum row_op op, const char *what) {
    PyObject *ox, *oy = NULL;
    if (!PyArg_ParseTuple(args, op >= ROW_BIAS ? "OO" : "O", &ox, &oy)) return NULL;
    PyArrayObject *x = take(ox, NPY_FLOAT, "x"), *y = NULL, *out = NULL;
    if (x == NULL) return NULL;
    nn_matrix_f32 mx = view32(x), my;
    if (op == ROW_BIAS) { /* bias: 1-D, one value per column */
        y = (PyArrayObject *)PyArray_FROM_OTF(oy, NPY_FLOAT, NPY_ARRAY_CARRAY_RO);
        if (y == NULL) goto done;
        if (PyArray_NDIM(y) != 1 || PyArray_DIM(y, 0) != (npy_intp)mx.cols) {
            PyErr_Format(PyExc_ValueError, "%s: bias must have shape (%zd,)", what, (Py_ssize_t)mx.cols);
            goto done;
        }
        my = (nn_matrix_f32){1, mx.cols, mx.cols, (float *)PyArray_DATA(y)};
    } else if (op == ROW_RELU_BACKWARD) {
        if ((y = take(oy, NPY_FLOAT, "x")) == NULL) goto done;
        my = view32(y);
        if (my.rows != mx.rows || my.cols != mx.cols) {
            PyErr_Format(PyExc_ValueError, "%s: grad and x shapes differ", what);
            goto done;
        }
    }
    out = aligned_output((npy_intp)mx.rows, (npy_intp)mx.cols, NPY_FLOAT);
    if (out == NULL) goto done;
    nn_matrix_f32 mo = view32(out);
    nn_status s;
    Py_BEGIN_ALLOW_THREADS switch (op) {
    case ROW_RELU: s = nn_relu_f32(&mx, &mo); break;
    case ROW_SOFTMAX: s = nn_softmax_rows_f32(&mx, &mo); break;
    case ROW_BIAS: s = nn_bias_add_f32(&mx, &my, &mo); break;
    default: s = nn_relu_backward_f32(&mx, &my, &mo); break; /* (grad, x) */
    }
    Py_END_ALLOW_THREADS
    if (s != NN_OK) {
        Py_CLEAR(out);
        status_error(s, what);
    }
done:
    Py_XDECREF(x);
    Py_XDECREF(y);
    return (PyObject *)out;
}

static PyObject *relu(PyObject *self, PyObject *args) { return row_kernel(args, ROW_RELU, "relu"); }
static PyObject *softmax(PyObject *self, PyObject *args) { return row_kernel(args, ROW_SOFTMAX, "softmax"); }
static PyObject *bias_add(PyObject *self, PyObject *args) { return row_kernel(args, ROW_BIAS, "bias_add"); }
static PyObject *relu_backward(PyObject *self, PyObject *args) {
    return row_kernel(args, ROW_RELU_BACKWARD, "relu_backward");
}

static PyObject *sum(PyObject *self, PyObject *args) {
    PyObject *ox;
    int axis;
    if (!PyArg_ParseTuple(args, "Oi", &ox, &axis)) return NULL;
    if (axis != 0 && axis != 1) return PyErr_Format(PyExc_ValueError, "sum: axis must be 0 or 1, got %d", axis);
    PyArrayObject *x = take(ox, NPY_FLOAT, "x");
    if (x == NULL) return NULL;
    nn_matrix_f32 mx = view32(x);
    PyArrayObject *out = aligned_output(axis == 0 ? 1 : (npy_intp)mx.rows, axis == 0 ? (npy_intp)mx.cols : 1, NPY_FLOAT);
    if (out != NULL) {
        nn_matrix_f32 mo = view32(out);
        nn_status s;
        Py_BEGIN_ALLOW_THREADS s = nn_sum_f32(&mx, axis, &mo);
        Py_END_ALLOW_THREADS
        if (s != NN_OK) {
            Py_CLEAR(out);
            status_error(s, "sum");
        }
    }
    Py_DECREF(x);
    if (out == NULL) return NULL;
    PyObject *flat = PyArray_Ravel(out, NPY_CORDER); /* (cols,) or (rows,), like NumPy's sum */
    Py_DECREF(out);
    return flat;
}

/* A parameter array the update writes in place: float32, C-contiguous, writable, 1-D or 2-D. */
static int parameter_view(PyObject *obj, const char *name, nn_matrix_f32 *m) {
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "sgd_update: %s must be a NumPy array, got %s", name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    int nd = PyArray_NDIM(a);
    if (PyArray_TYPE(a) != NPY_FLOAT || !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISWRITEABLE(a) ||
        !PyArray_ISNOTSWAPPED(a) || nd < 1 || nd > 2) {
        PyErr_Format(PyExc_ValueError,
                     "sgd_update: %s is updated in place, so it must be a writable, C-contiguous float32 array "
                     "of 1 or 2 dimensions in native byte order; got %S with %d dimension(s)",
                     name, (PyObject *)PyArray_DESCR(a), nd);
        return -1;
    }
    size_t rows = nd == 2 ? (size_t)PyArray_DIM(a, 0) : 1, cols = (size_t)PyArray_DIM(a, nd - 1);
    *m = (nn_matrix_f32){rows, cols, cols, (float *)PyArray_DATA(a)};
    return 0;
}

static int overlap(const nn_matrix_f32 *a, const nn_matrix_f32 *b) {
    const float *a_end = a->data + a->rows * a->cols, *b_end = b->data + b->rows * b->cols;
    return a->data < b_end && b->data < a_end;
}

static PyObject *sgd_update(PyObject *self, PyObject *args) {
    PyObject *ovalue, *ovelocity, *ograd;
    float lr, momentum, weight_decay;
    int nesterov;
    if (!PyArg_ParseTuple(args, "OOOfffp", &ovalue, &ovelocity, &ograd, &lr, &momentum, &weight_decay, &nesterov))
        return NULL;
    nn_matrix_f32 mw, mv, mg;
    if (parameter_view(ovalue, "value", &mw) || parameter_view(ovelocity, "velocity", &mv)) return NULL;
    PyArrayObject *grad = (PyArrayObject *)PyArray_FROM_OTF(ograd, NPY_FLOAT, NPY_ARRAY_CARRAY_RO);
    if (grad == NULL) return NULL;
    PyObject *result = NULL;
    if (PyArray_NDIM(grad) != PyArray_NDIM((PyArrayObject *)ovalue) ||
        !PyArray_CompareLists(PyArray_DIMS(grad), PyArray_DIMS((PyArrayObject *)ovalue), PyArray_NDIM(grad)) ||
        !PyArray_CompareLists(PyArray_DIMS((PyArrayObject *)ovelocity), PyArray_DIMS((PyArrayObject *)ovalue),
                              PyArray_NDIM(grad))) {
        PyErr_SetString(PyExc_ValueError, "sgd_update: value, velocity and grad must have the same shape");
        goto done;
    }
    mg = (nn_matrix_f32){mw.rows, mw.cols, mw.cols, (float *)PyArray_DATA(grad)};
    if (overlap(&mw, &mv) || overlap(&mw, &mg) || overlap(&mv, &mg)) {
        PyErr_SetString(PyExc_ValueError, "sgd_update: value, velocity and grad must not share memory");
        goto done;
    }
    nn_status s;
    Py_BEGIN_ALLOW_THREADS s = nn_sgd_update_f32(&mw, &mv, &mg, lr, momentum, weight_decay, nesterov);
    Py_END_ALLOW_THREADS
    if (s != NN_OK) {
        status_error(s, "sgd_update");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    Py_DECREF(grad);
    return result;
}

static PyObject *kernel_name(PyObject *self, PyObject *noargs) { return PyUnicode_FromString(nn_kernel_name()); }
static PyObject *threads(PyObject *self, PyObject *noargs) { return PyLong_FromLong(nn_threads()); }
static PyObject *set_threads(PyObject *self, PyObject *args) {
    int n;
    if (!PyArg_ParseTuple(args, "i", &n)) return NULL;
    if (nn_set_threads(n) != NN_OK) return PyErr_Format(PyExc_ValueError, "set_threads: need 0 (the default) to 256 threads, got %d", n);
    Py_RETURN_NONE;
}
static PyObject *set_kernel(PyObject *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    if (nn_set_kernel(name) != NN_OK) {
        PyErr_Format(PyExc_ValueError, "set_kernel: '%s' is unknown or not supported on this CPU (it runs: %s)",
                     name, nn_kernels_supported());
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"matmul", matmul, METH_VARARGS, "a @ b, packed product; float32 when both are float32."},
    {"matmul_f32", matmul_f32, METH_VARARGS, "a @ b in float32 (float32 arrays only)."},
    {"matmul_naive", matmul_naive, METH_VARARGS, "a @ b, naive i-j-k loop (float64)."},
    {"matmul_ikj", matmul_ikj, METH_VARARGS, "a @ b, i-k-j loop (float64)."},
    {"add", add, METH_VARARGS, "a + b (float64)."},
    {"sub", sub, METH_VARARGS, "a - b (float64)."},
    {"mul", mul, METH_VARARGS, "a * b elementwise (float64)."},
    {"scale", scale, METH_VARARGS, "s * a (float64)."},
    {"transpose", transpose, METH_VARARGS, "a.T as a new array (float64)."},
    {"bias_add", bias_add, METH_VARARGS, "x + bias for x (rows, cols) and bias (cols,), float32."},
    {"relu", relu, METH_VARARGS, "max(x, 0), float32."},
    {"relu_backward", relu_backward, METH_VARARGS, "relu_backward(grad, x): grad where x > 0, float32."},
    {"softmax", softmax, METH_VARARGS, "Row-wise stable softmax, float32."},
    {"sum", sum, METH_VARARGS, "sum(x, axis): column sums (axis 0) or row sums (axis 1), float32."},
    {"sgd_update", sgd_update, METH_VARARGS,
     "sgd_update(value, velocity, grad, lr, momentum, weight_decay, nesterov): one SGD step with "
     "momentum, in place on value and velocity (writable C-contiguous float32), in one pass."},
    {"kernel_name", kernel_name, METH_NOARGS, "The micro-kernel in use: 'avx512', 'avx2', 'neon' or 'generic'."},
    {"set_kernel", set_kernel, METH_VARARGS, "Force 'avx512', 'avx2', 'neon', 'generic' or 'auto'."},
    {"threads", threads, METH_NOARGS, "Threads the packed product runs on (the caller included)."},
    {"set_threads", set_threads, METH_VARARGS, "Set the packed product's threads (0: the default)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_capi", "phase3_c's C-API binding.", -1, methods};

PyMODINIT_FUNC PyInit__capi(void) {
    import_array();
    return PyModule_Create(&module);
}
