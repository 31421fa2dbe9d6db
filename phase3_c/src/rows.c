/* nn-foundations Phase 3: float32 row kernels of a dense layer (bias, ReLU and its gradient,
 * softmax, sums along an axis), for Phase 5's CPU trainer. Plain loops over contiguous rows:
 * at -O3 the compiler vectorises them, and they are memory-bound anyway. */
#include <math.h>
#include <stdlib.h>

#include "matrix.h"

static nn_status check(const nn_matrix_f32 *m) {
    if (m == NULL) return NN_ERR_NULL;
    if (m->rows > 0 && m->cols > 0 && m->data == NULL) return NN_ERR_NULL;
    if (m->rows > 1 && m->stride < m->cols) return NN_ERR_SHAPE;
    return NN_OK;
}

static int same(const nn_matrix_f32 *a, const nn_matrix_f32 *b) { return a->rows == b->rows && a->cols == b->cols; }

/* No element to touch: return before looping over rows (a (2^36, 0) array has 2^36 of them). */
#define RETURN_IF_EMPTY(m)                                                                     \
    do {                                                                                       \
        if ((m)->rows == 0 || (m)->cols == 0) return NN_OK;                                   \
    } while (0)

#define ROW(m, i) ((m)->data + (i) * (m)->stride)

nn_status nn_bias_add_f32(const nn_matrix_f32 *x, const nn_matrix_f32 *bias, nn_matrix_f32 *out) {
    nn_status s;
    if ((s = check(x)) || (s = check(bias)) || (s = check(out))) return s;
    if (!same(x, out) || bias->rows != 1 || bias->cols != x->cols) return NN_ERR_SHAPE;
    RETURN_IF_EMPTY(x);
    for (size_t i = 0; i < x->rows; ++i) {
        const float *xi = ROW(x, i), *b = bias->data;
        float *oi = ROW(out, i);
        for (size_t j = 0; j < x->cols; ++j) oi[j] = xi[j] + b[j];
    }
    return NN_OK;
}

nn_status nn_relu_f32(const nn_matrix_f32 *x, nn_matrix_f32 *out) {
    nn_status s;
    if ((s = check(x)) || (s = check(out))) return s;
    if (!same(x, out)) return NN_ERR_SHAPE;
    RETURN_IF_EMPTY(x);
    for (size_t i = 0; i < x->rows; ++i) {
        const float *xi = ROW(x, i);
        float *oi = ROW(out, i);
        /* x < 0 ? 0 : x, not x > 0 ? x : 0: NaN fails every comparison and must stay NaN, as in
         * NumPy's maximum(x, 0), the reference (a NaN turned into 0 would hide a diverged step) */
        for (size_t j = 0; j < x->cols; ++j) oi[j] = xi[j] < 0.0f ? 0.0f : xi[j];
    }
    return NN_OK;
}

nn_status nn_relu_backward_f32(const nn_matrix_f32 *grad, const nn_matrix_f32 *x, nn_matrix_f32 *out) {
    nn_status s;
    if ((s = check(grad)) || (s = check(x)) || (s = check(out))) return s;
    if (!same(grad, x) || !same(grad, out)) return NN_ERR_SHAPE;
    RETURN_IF_EMPTY(x);
    for (size_t i = 0; i < x->rows; ++i) {
        const float *gi = ROW(grad, i), *xi = ROW(x, i);
        float *oi = ROW(out, i);
        /* both values loaded on every j, then one chosen: a select the compiler vectorises (a
         * load under the condition was a branch, mispredicted for half the elements: 15x slower) */
        for (size_t j = 0; j < x->cols; ++j) {
            const float g = gi[j];
            oi[j] = xi[j] > 0.0f ? g : 0.0f;
        }
    }
    return NN_OK;
}

nn_status nn_softmax_rows_f32(const nn_matrix_f32 *x, nn_matrix_f32 *out) {
    nn_status s;
    if ((s = check(x)) || (s = check(out))) return s;
    if (!same(x, out)) return NN_ERR_SHAPE;
    RETURN_IF_EMPTY(x);
    for (size_t i = 0; i < x->rows; ++i) {
        const float *xi = ROW(x, i);
        float *oi = ROW(out, i);
        float top = -INFINITY;
        for (size_t j = 0; j < x->cols; ++j) top = xi[j] > top ? xi[j] : top;
        double total = 0.0;
        for (size_t j = 0; j < x->cols; ++j) total += (oi[j] = expf(xi[j] - top));
        const float scale = (float)(1.0 / total);
        for (size_t j = 0; j < x->cols; ++j) oi[j] *= scale;
    }
    return NN_OK;
}

nn_status nn_sum_f32(const nn_matrix_f32 *x, int axis, nn_matrix_f32 *out) {
    nn_status s;
    if ((s = check(x)) || (s = check(out))) return s;
    if (axis == 0) {
        if (out->rows != 1 || out->cols != x->cols) return NN_ERR_SHAPE;
        if (x->cols == 0) return NN_OK;
        /* row by row into one double per column: contiguous (it vectorises), and the same sums
         * in the same order as column by column, which walked memory with a stride of a row */
        double *acc = calloc(x->cols, sizeof *acc);
        if (acc == NULL) return NN_ERR_ALLOC;
        for (size_t i = 0; i < x->rows; ++i) {
            const float *xi = ROW(x, i);
            for (size_t j = 0; j < x->cols; ++j) acc[j] += xi[j];
        }
        for (size_t j = 0; j < x->cols; ++j) out->data[j] = (float)acc[j];
        free(acc);
    } else if (axis == 1) {
        if (out->rows != x->rows || out->cols != 1) return NN_ERR_SHAPE;
        for (size_t i = 0; i < x->rows; ++i) {
            double acc = 0.0;
            for (size_t j = 0; j < x->cols; ++j) acc += ROW(x, i)[j];
            ROW(out, i)[0] = (float)acc;
        }
    } else {
        return NN_ERR_ARG;
    }
    return NN_OK;
}

/* One SGD step with momentum, in place, in one pass over the parameters (as PyTorch writes it):
 *   g = grad + weight_decay * value;  v = momentum * v + g;
 *   value -= lr * (g + momentum * v)   with Nesterov, else  value -= lr * v
 * Each element is read and written once: in NumPy the same update is six or seven passes over
 * arrays of 1.6 MB, each allocating a temporary, and it took half of the CPU trainer's step. */
nn_status nn_sgd_update_f32(nn_matrix_f32 *value, nn_matrix_f32 *velocity, const nn_matrix_f32 *grad, float lr,
                            float momentum, float weight_decay, int nesterov) {
    nn_status s;
    if ((s = check(value)) || (s = check(velocity)) || (s = check(grad))) return s;
    if (!same(value, velocity) || !same(value, grad)) return NN_ERR_SHAPE;
    RETURN_IF_EMPTY(value);
    for (size_t i = 0; i < value->rows; ++i) {
        float *w = ROW(value, i), *v = ROW(velocity, i);
        const float *gi = ROW(grad, i);
        if (nesterov) {
            for (size_t j = 0; j < value->cols; ++j) {
                float g = gi[j] + weight_decay * w[j];
                float vj = momentum * v[j] + g;
                v[j] = vj;
                w[j] -= lr * (g + momentum * vj);
            }
        } else {
            for (size_t j = 0; j < value->cols; ++j) {
                float g = gi[j] + weight_decay * w[j];
                float vj = momentum * v[j] + g;
                v[j] = vj;
                w[j] -= lr * vj;
            }
        }
    }
    return NN_OK;
}
