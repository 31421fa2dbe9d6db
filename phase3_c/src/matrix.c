/* nn-foundations Phase 3: the matrix type, elementwise arithmetic, transpose, and the two
 * readable matrix products (naive i-j-k and cache-friendly i-k-j). The fast product is in
 * gemm.c. Every function validates its arguments and returns an nn_status; none aborts. */
#include "matrix.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h" /* nn_aligned_alloc: Windows has no aligned_alloc */

const char *nn_status_str(nn_status status) {
    switch (status) {
    case NN_OK: return "ok";
    case NN_ERR_NULL: return "NULL matrix or data pointer";
    case NN_ERR_SHAPE: return "shapes do not match";
    case NN_ERR_ALLOC: return "out of memory (or the size overflows)";
    case NN_ERR_ARG: return "invalid argument";
    }
    return "unknown status";
}

/* A matrix argument is valid when it exists, has data (unless empty) and stride >= cols. */
static nn_status check(const nn_matrix *m) {
    if (m == NULL) return NN_ERR_NULL;
    if (m->rows > 0 && m->cols > 0 && m->data == NULL) return NN_ERR_NULL;
    if (m->rows > 1 && m->stride < m->cols) return NN_ERR_SHAPE;
    return NN_OK;
}

static int same_shape(const nn_matrix *a, const nn_matrix *b) {
    return a->rows == b->rows && a->cols == b->cols;
}

nn_status nn_matrix_create(size_t rows, size_t cols, nn_matrix *out) {
    if (out == NULL) return NN_ERR_NULL;
    out->rows = rows;
    out->cols = cols;
    out->stride = cols;
    out->data = NULL;
    if (rows == 0 || cols == 0) return NN_OK;
    if (cols > SIZE_MAX / sizeof(double) / rows) return NN_ERR_ALLOC;
    size_t bytes = rows * cols * sizeof(double);
    size_t rounded = (bytes + 63) / 64 * 64; /* aligned_alloc wants a multiple of the alignment */
    if (rounded < bytes) return NN_ERR_ALLOC;
    out->data = nn_aligned_alloc(64, rounded);
    if (out->data == NULL) return NN_ERR_ALLOC;
    memset(out->data, 0, rounded);
    return NN_OK;
}

void nn_matrix_free(nn_matrix *m) {
    if (m == NULL) return;
    nn_aligned_free(m->data);
    m->data = NULL;
    m->rows = m->cols = m->stride = 0;
}

nn_status nn_matrix_copy(const nn_matrix *src, nn_matrix *dst) {
    nn_status s = check(src);
    if (s != NN_OK) return s;
    if (dst == NULL) return NN_ERR_NULL;
    s = nn_matrix_create(src->rows, src->cols, dst);
    if (s != NN_OK) return s;
    for (size_t i = 0; i < src->rows; ++i)
        memcpy(dst->data + i * dst->stride, src->data + i * src->stride, src->cols * sizeof(double));
    return NN_OK;
}

/* One loop for every elementwise operation: op 0 add, 1 subtract, 2 multiply. */
static nn_status elementwise(const nn_matrix *a, const nn_matrix *b, nn_matrix *out, int op) {
    /* exercise 3.1: begin elementwise */
    nn_status s;
    if ((s = check(a)) || (s = check(b)) || (s = check(out))) return s;
    if (!same_shape(a, b) || !same_shape(a, out)) return NN_ERR_SHAPE;
    if (a->cols == 0) return NN_OK; /* rows of nothing: skip them, however many */
    for (size_t i = 0; i < a->rows; ++i) {
        const double *x = a->data + i * a->stride, *y = b->data + i * b->stride;
        double *z = out->data + i * out->stride;
        for (size_t j = 0; j < a->cols; ++j)
            z[j] = op == 0 ? x[j] + y[j] : op == 1 ? x[j] - y[j] : x[j] * y[j];
    }
    return NN_OK;
    /* exercise 3.1: end elementwise */
}

nn_status nn_add(const nn_matrix *a, const nn_matrix *b, nn_matrix *out) { return elementwise(a, b, out, 0); }
nn_status nn_sub(const nn_matrix *a, const nn_matrix *b, nn_matrix *out) { return elementwise(a, b, out, 1); }
nn_status nn_mul(const nn_matrix *a, const nn_matrix *b, nn_matrix *out) { return elementwise(a, b, out, 2); }

nn_status nn_scale(const nn_matrix *a, double s, nn_matrix *out) {
    /* exercise 3.1: begin nn_scale */
    nn_status st;
    if ((st = check(a)) || (st = check(out))) return st;
    if (!same_shape(a, out)) return NN_ERR_SHAPE;
    if (a->cols == 0) return NN_OK;
    for (size_t i = 0; i < a->rows; ++i)
        for (size_t j = 0; j < a->cols; ++j)
            out->data[i * out->stride + j] = s * a->data[i * a->stride + j];
    return NN_OK;
    /* exercise 3.1: end nn_scale */
}

nn_status nn_transpose(const nn_matrix *a, nn_matrix *out) {
    /* exercise 3.1: begin nn_transpose */
    enum { BLOCK = 32 }; /* 32 x 32 doubles = 8 KiB: a block of each side fits in L1 */
    nn_status s;
    if ((s = check(a)) || (s = check(out))) return s;
    if (out->rows != a->cols || out->cols != a->rows) return NN_ERR_SHAPE;
    for (size_t i0 = 0; i0 < a->rows; i0 += BLOCK)
        for (size_t j0 = 0; j0 < a->cols; j0 += BLOCK) {
            size_t i1 = i0 + BLOCK < a->rows ? i0 + BLOCK : a->rows;
            size_t j1 = j0 + BLOCK < a->cols ? j0 + BLOCK : a->cols;
            for (size_t i = i0; i < i1; ++i)
                for (size_t j = j0; j < j1; ++j)
                    out->data[j * out->stride + i] = a->data[i * a->stride + j];
        }
    return NN_OK;
    /* exercise 3.1: end nn_transpose */
}

/* Shared argument checks of the products: a (m x k), b (k x n), out (m x n). */
static nn_status check_product(const nn_matrix *a, const nn_matrix *b, const nn_matrix *out) {
    nn_status s;
    if ((s = check(a)) || (s = check(b)) || (s = check(out))) return s;
    if (a->cols != b->rows || out->rows != a->rows || out->cols != b->cols) return NN_ERR_SHAPE;
    return NN_OK;
}

nn_status nn_matmul_naive(const nn_matrix *a, const nn_matrix *b, nn_matrix *out) {
    /* exercise 3.1: begin nn_matmul_naive */
    nn_status s = check_product(a, b, out);
    if (s != NN_OK || b->cols == 0) return s;
    for (size_t i = 0; i < a->rows; ++i)
        for (size_t j = 0; j < b->cols; ++j) {
            double acc = 0.0;
            for (size_t k = 0; k < a->cols; ++k) /* b is read down a column: a cache miss each */
                acc += a->data[i * a->stride + k] * b->data[k * b->stride + j];
            out->data[i * out->stride + j] = acc;
        }
    return NN_OK;
    /* exercise 3.1: end nn_matmul_naive */
}

nn_status nn_matmul_ikj(const nn_matrix *a, const nn_matrix *b, nn_matrix *out) {
    /* exercise 3.1: begin nn_matmul_ikj */
    nn_status s = check_product(a, b, out);
    if (s != NN_OK || b->cols == 0) return s;
    for (size_t i = 0; i < a->rows; ++i) {
        double *c = out->data + i * out->stride;
        memset(c, 0, b->cols * sizeof(double));
        for (size_t k = 0; k < a->cols; ++k) {
            const double aik = a->data[i * a->stride + k];
            const double *brow = b->data + k * b->stride;
            for (size_t j = 0; j < b->cols; ++j) /* contiguous: the compiler vectorises this */
                c[j] += aik * brow[j];
        }
    }
    return NN_OK;
    /* exercise 3.1: end nn_matmul_ikj */
}
