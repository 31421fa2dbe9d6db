/* C unit tests of the matrix library, run by `meson test` (once with the auto-selected
 * micro-kernel, once with NN_MATRIX_KERNEL=generic). Each product, nn_matmul_naive's too, is
 * checked against this file's own i-j-k product (`reference`: the library's naive product is an
 * exercise, so it cannot be the yardstick) on odd shapes (1, primes, sizes past the MC/KC
 * blocking, strided views), the elementwise functions on strided views, and every error path
 * returns its status code. Prints "N passed, N failed" and exits non-zero on any failure; stdout
 * is unbuffered, so that a crash leaves the checks printed before it. */
#include "matrix.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int passed, failed;

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (cond) {                                                                            \
            ++passed;                                                                          \
        } else {                                                                               \
            ++failed;                                                                          \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                        \
            printf(__VA_ARGS__);                                                               \
            printf("\n");                                                                      \
        }                                                                                      \
    } while (0)

/* runs one test, saying so first: a crash's last line then names the test it happened in */
#define RUN(call) (printf("running %s\n", #call), call)

static unsigned long long seed = 12345;
static double uniform(void) { /* a tiny LCG: deterministic across platforms */
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(seed >> 11) / 9007199254740992.0 - 0.5;
}

static void fill(nn_matrix *m) {
    for (size_t i = 0; i < m->rows; ++i)
        for (size_t j = 0; j < m->cols; ++j) m->data[i * m->stride + j] = uniform();
}

static double max_abs_diff(const nn_matrix *x, const nn_matrix *y) {
    double worst = 0;
    for (size_t i = 0; i < x->rows; ++i)
        for (size_t j = 0; j < x->cols; ++j)
            worst = fmax(worst, fabs(x->data[i * x->stride + j] - y->data[i * y->stride + j]));
    return worst;
}

/* out = a @ b, the textbook way: the yardstick of every product here */
static void reference(const nn_matrix *a, const nn_matrix *b, nn_matrix *out) {
    for (size_t i = 0; i < a->rows; ++i)
        for (size_t j = 0; j < b->cols; ++j) {
            double acc = 0.0;
            for (size_t p = 0; p < a->cols; ++p)
                acc += a->data[i * a->stride + p] * b->data[p * b->stride + j];
            out->data[i * out->stride + j] = acc;
        }
}

static void test_products(size_t m, size_t k, size_t n) {
    nn_matrix a, b, ref, out;
    nn_matrix_create(m, k, &a);
    nn_matrix_create(k, n, &b);
    nn_matrix_create(m, n, &ref);
    nn_matrix_create(m, n, &out);
    fill(&a);
    fill(&b);
    reference(&a, &b, &ref);
    double tol = 1e-12 * (double)(k + 1);
    fill(&out); /* garbage in the output must not leak into the result */
    CHECK(nn_matmul_naive(&a, &b, &out) == NN_OK && max_abs_diff(&out, &ref) <= tol,
          "naive %zux%zux%zu differs by %g", m, k, n, max_abs_diff(&out, &ref));
    fill(&out);
    CHECK(nn_matmul_ikj(&a, &b, &out) == NN_OK && max_abs_diff(&out, &ref) <= tol,
          "ikj %zux%zux%zu differs by %g", m, k, n, max_abs_diff(&out, &ref));
    fill(&out); /* garbage in the output must not leak into the result */
    CHECK(nn_matmul(&a, &b, &out) == NN_OK && max_abs_diff(&out, &ref) <= tol,
          "matmul (%s) %zux%zux%zu differs by %g", nn_kernel_name(), m, k, n,
          max_abs_diff(&out, &ref));

    /* float32, against the double reference */
    nn_matrix_f32 af = {m, k, k, malloc((m * k + 1) * sizeof(float))};
    nn_matrix_f32 bf = {k, n, n, malloc((k * n + 1) * sizeof(float))};
    nn_matrix_f32 cf = {m, n, n, malloc((m * n + 1) * sizeof(float))};
    for (size_t i = 0; i < m * k; ++i) af.data[i] = (float)a.data[i];
    for (size_t i = 0; i < k * n; ++i) bf.data[i] = (float)b.data[i];
    CHECK(nn_matmul_f32(&af, &bf, &cf) == NN_OK, "matmul_f32 status");
    double worst = 0;
    for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < n; ++j) {
            double exact = 0;
            for (size_t p = 0; p < k; ++p) exact += (double)af.data[i * k + p] * bf.data[p * n + j];
            worst = fmax(worst, fabs(exact - cf.data[i * n + j]));
        }
    CHECK(worst <= 1e-6 * (double)(k + 1), "matmul_f32 %zux%zux%zu differs by %g", m, k, n, worst);
    free(af.data);
    free(bf.data);
    free(cf.data);
    nn_matrix_free(&a);
    nn_matrix_free(&b);
    nn_matrix_free(&ref);
    nn_matrix_free(&out);
}

/* op(a) @ op(b) with each operand stored transposed (and with a gap after each stored row),
 * against the naive product of the untransposed copies. */
static void test_transposed(size_t m, size_t k, size_t n) {
    size_t lda = m + 3, ldb = k + 2; /* stored a^T: (k, m) rows of lda; stored b^T: (n, k) rows of ldb */
    float *at = calloc(k * lda, sizeof(float)), *bt = calloc(n * ldb, sizeof(float));
    double *a = malloc(m * k * sizeof(double)), *b = malloc(k * n * sizeof(double));
    double *ref = malloc(m * n * sizeof(double));
    float *out = malloc(m * n * sizeof(float));
    for (size_t i = 0; i < m; ++i)
        for (size_t p = 0; p < k; ++p) at[p * lda + i] = (float)(a[i * k + p] = (double)(float)uniform());
    for (size_t p = 0; p < k; ++p)
        for (size_t j = 0; j < n; ++j) bt[j * ldb + p] = (float)(b[p * n + j] = (double)(float)uniform());
    nn_matrix ma = {m, k, k, a}, mb = {k, n, n, b}, mr = {m, n, n, ref};
    reference(&ma, &mb, &mr);
    nn_matrix_f32 sa = {k, m, lda, at}, sb = {n, k, ldb, bt}, so = {m, n, n, out};
    int ok = nn_matmul_f32_t(&sa, 1, &sb, 1, &so) == NN_OK;
    for (size_t i = 0; i < m * n; ++i) ok &= fabs(out[i] - ref[i]) <= 1e-4 * (1 + fabs(ref[i]));
    char name[96];
    snprintf(name, sizeof name, "matmul_f32_t %zux%zux%zu, both transposed", m, k, n);
    CHECK(ok, name);
    if (m != k) /* a stored (k, m) taken as it lies does not fit op(b)'s k rows */
        CHECK(nn_matmul_f32_t(&sa, 0, &sb, 1, &so) == NN_ERR_SHAPE, "matmul_f32_t: shapes checked as transposed");
    free(at), free(bt), free(a), free(b), free(ref), free(out);
}

static void test_strided_views(void) {
    /* a 7x5 view inside a 9x11 matrix: stride 11 */
    nn_matrix big, bigb, out, ref, a, b;
    nn_matrix_create(9, 11, &big);
    nn_matrix_create(5, 13, &bigb);
    fill(&big);
    fill(&bigb);
    a = (nn_matrix){7, 5, 11, big.data + 2 * 11 + 3};
    b = (nn_matrix){5, 6, 13, bigb.data + 1};
    nn_matrix_create(7, 6, &out);
    nn_matrix_create(7, 6, &ref);
    reference(&a, &b, &ref);
    CHECK(nn_matmul(&a, &b, &out) == NN_OK && max_abs_diff(&out, &ref) < 1e-13, "strided views");
    CHECK(nn_matmul_naive(&a, &b, &out) == NN_OK && max_abs_diff(&out, &ref) < 1e-13,
          "naive on strided views");
    fill(&out);
    CHECK(nn_matmul_ikj(&a, &b, &out) == NN_OK && max_abs_diff(&out, &ref) < 1e-13,
          "ikj on strided views");
    /* elementwise on views whose strides all differ: a (stride 11), b (13), out (6) */
    nn_matrix c = (nn_matrix){7, 5, 13, NULL}, sum = (nn_matrix){7, 5, 6, out.data};
    nn_matrix bigc;
    nn_matrix_create(7, 13, &bigc);
    fill(&bigc);
    c.data = bigc.data + 2;
    const char *names[] = {"add", "sub", "mul"};
    for (int op = 0; op < 3; ++op) {
        nn_status st = op == 0 ? nn_add(&a, &c, &sum) : op == 1 ? nn_sub(&a, &c, &sum) : nn_mul(&a, &c, &sum);
        int ok = st == NN_OK;
        for (size_t i = 0; i < 7; ++i)
            for (size_t j = 0; j < 5; ++j) {
                double x = a.data[i * 11 + j], y = c.data[i * 13 + j];
                ok &= sum.data[i * 6 + j] == (op == 0 ? x + y : op == 1 ? x - y : x * y);
            }
        CHECK(ok, "%s of strided views (a stride 11, b stride 13, out stride 6): each read with its own stride",
              names[op]);
    }
    int ok = nn_scale(&a, 3.0, &sum) == NN_OK;
    for (size_t i = 0; i < 7; ++i)
        for (size_t j = 0; j < 5; ++j) ok &= sum.data[i * 6 + j] == 3.0 * a.data[i * 11 + j];
    CHECK(ok, "scale of a strided view (a stride 11, out stride 6): each with its own stride");
    nn_matrix_free(&bigc);
    nn_matrix t;
    nn_matrix_create(5, 7, &t);
    CHECK(nn_transpose(&a, &t) == NN_OK && t.data[4 * 7 + 6] == a.data[6 * 11 + 4], "transpose of a view");
    nn_matrix_free(&t);
    /* each operation writes out's elements and nothing beside them: out is a 7x6 view (stride 8)
     * inside a 9x8 frame of -7s, which must stay -7 (a loop that runs one step too far writes
     * there) */
    nn_matrix frame, at = {6, 7, 11, big.data};
    nn_matrix_create(9, 8, &frame);
    nn_matrix in = {7, 6, 8, frame.data + 8 + 1};
    const char *ops[] = {"naive", "ikj", "add", "scale", "transpose"};
    for (int op = 0; op < 5; ++op) {
        for (size_t i = 0; i < 9 * 8; ++i) frame.data[i] = -7.0;
        nn_status st = op == 0   ? nn_matmul_naive(&a, &b, &in)
                       : op == 1 ? nn_matmul_ikj(&a, &b, &in)
                       : op == 2 ? nn_add(&in, &in, &in)
                       : op == 3 ? nn_scale(&in, 2.0, &in)
                                 : nn_transpose(&at, &in);
        int untouched = st == NN_OK;
        for (size_t i = 0; i < 9; ++i)
            for (size_t j = 0; j < 8; ++j)
                if (i < 1 || i > 7 || j < 1 || j > 6) untouched &= frame.data[i * 8 + j] == -7.0;
        CHECK(untouched, "%s writes outside out (a 7x6 view with stride 8)", ops[op]);
    }
    nn_matrix_free(&frame);
    nn_matrix_free(&big);
    nn_matrix_free(&bigb);
    nn_matrix_free(&out);
    nn_matrix_free(&ref);
}

static void test_elementwise_and_transpose(size_t rows, size_t cols) {
    nn_matrix a, b, out, t;
    nn_matrix_create(rows, cols, &a);
    nn_matrix_create(rows, cols, &b);
    nn_matrix_create(rows, cols, &out);
    nn_matrix_create(cols, rows, &t);
    CHECK((uintptr_t)a.data % 64 == 0 && (uintptr_t)t.data % 64 == 0, "64-byte aligned %zux%zu", rows, cols);
    fill(&a);
    fill(&b);
    int ok = nn_add(&a, &b, &out) == NN_OK;
    for (size_t i = 0; i < rows * cols; ++i) ok &= out.data[i] == a.data[i] + b.data[i];
    CHECK(ok, "add %zux%zu", rows, cols);
    ok = nn_sub(&a, &b, &out) == NN_OK;
    for (size_t i = 0; i < rows * cols; ++i) ok &= out.data[i] == a.data[i] - b.data[i];
    CHECK(ok, "sub %zux%zu", rows, cols);
    ok = nn_mul(&a, &b, &out) == NN_OK;
    for (size_t i = 0; i < rows * cols; ++i) ok &= out.data[i] == a.data[i] * b.data[i];
    CHECK(ok, "mul %zux%zu", rows, cols);
    ok = nn_scale(&a, -2.5, &out) == NN_OK;
    for (size_t i = 0; i < rows * cols; ++i) ok &= out.data[i] == -2.5 * a.data[i];
    CHECK(ok, "scale %zux%zu", rows, cols);
    ok = nn_transpose(&a, &t) == NN_OK;
    for (size_t i = 0; i < rows; ++i)
        for (size_t j = 0; j < cols; ++j) ok &= t.data[j * rows + i] == a.data[i * cols + j];
    CHECK(ok, "transpose %zux%zu", rows, cols);
    nn_matrix copy;
    CHECK(nn_matrix_copy(&a, &copy) == NN_OK && max_abs_diff(&copy, &a) == 0, "copy");
    nn_matrix_free(&copy);
    CHECK(nn_add(&a, &b, &a) == NN_OK, "out may alias an input");
    nn_matrix_free(&a);
    nn_matrix_free(&b);
    nn_matrix_free(&out);
    nn_matrix_free(&t);
}

static void test_errors(void) {
    nn_matrix a, b, c;
    nn_matrix_create(2, 3, &a);
    nn_matrix_create(4, 5, &b);
    nn_matrix_create(2, 5, &c);
    CHECK(nn_matmul(&a, &b, &c) == NN_ERR_SHAPE, "matmul shape mismatch");
    CHECK(nn_matmul_f32(NULL, NULL, NULL) == NN_ERR_NULL, "matmul_f32 NULL");
    CHECK(nn_matmul_naive(&a, NULL, &c) == NN_ERR_NULL, "naive NULL");
    CHECK(nn_add(&a, &b, &c) == NN_ERR_SHAPE, "add shape mismatch");
    CHECK(nn_add(&a, &c, &a) == NN_ERR_SHAPE, "add: b (2x5) of another shape than a and out (2x3)");
    CHECK(nn_transpose(&a, &c) == NN_ERR_SHAPE, "transpose shape mismatch");
    /* each argument NULL in turn: a status, never a crash, and never the next check's status */
    CHECK(nn_transpose(NULL, &c) == NN_ERR_NULL && nn_transpose(&a, NULL) == NN_ERR_NULL, "transpose NULL");
    CHECK(nn_scale(NULL, 1.0, &a) == NN_ERR_NULL && nn_scale(&a, 1.0, NULL) == NN_ERR_NULL, "scale NULL");
    CHECK(nn_add(NULL, &a, &a) == NN_ERR_NULL && nn_add(&a, NULL, &a) == NN_ERR_NULL &&
              nn_add(&a, &a, NULL) == NN_ERR_NULL, "add NULL");
    CHECK(nn_matmul_ikj(NULL, &b, &c) == NN_ERR_NULL && nn_matmul_ikj(&a, &b, NULL) == NN_ERR_NULL, "ikj NULL");
    nn_matrix bad = {3, 4, 2, a.data}; /* stride smaller than the row */
    CHECK(nn_scale(&bad, 1.0, &bad) == NN_ERR_SHAPE, "stride < cols");
    nn_matrix nodata = {2, 3, 3, NULL};
    CHECK(nn_scale(&nodata, 1.0, &a) == NN_ERR_NULL, "NULL data");
    nn_matrix huge;
    CHECK(nn_matrix_create(SIZE_MAX / 4, 8, &huge) == NN_ERR_ALLOC, "an overflowing size");
    /* 4 EiB: more than any 64-bit CPU can address, so refused even where the system grants
     * memory lazily (macOS; Linux with overcommit on): 8 TiB could be granted there, and the
     * zero-filling would then write all of it */
    CHECK(nn_matrix_create((size_t)1 << 30, (size_t)1 << 29, &huge) == NN_ERR_ALLOC, "4 EiB cannot be allocated");
    CHECK(nn_matrix_create(0, 5, &huge) == NN_OK && huge.data == NULL, "an empty matrix");
    nn_matrix_free(&huge);
    CHECK(nn_set_kernel("sse9") == NN_ERR_ARG, "unknown kernel name");
    CHECK(nn_status_str(NN_ERR_SHAPE)[0] != '\0', "status strings");
    nn_matrix_free(&a);
    nn_matrix_free(&b);
    nn_matrix_free(&c);
}

static void test_row_kernels(void) {
    enum { R = 5, C = 7 };
    float xd[R * C], gd[R * C], od[R * C], bd[C], sd[R > C ? R : C];
    for (int i = 0; i < R * C; ++i) {
        xd[i] = (float)(uniform() * 8.0);
        gd[i] = (float)uniform();
    }
    for (int j = 0; j < C; ++j) bd[j] = (float)uniform();
    xd[3] = 0.0f;  /* relu'(0) is 0 */
    xd[4] = 90.0f; /* exp(90) overflows float: softmax must subtract the maximum */
    nn_matrix_f32 x = {R, C, C, xd}, g = {R, C, C, gd}, o = {R, C, C, od}, b = {1, C, C, bd};
    int ok = nn_bias_add_f32(&x, &b, &o) == NN_OK;
    for (int i = 0; i < R * C; ++i) ok &= od[i] == xd[i] + bd[i % C];
    CHECK(ok, "bias_add");
    ok = nn_relu_f32(&x, &o) == NN_OK;
    for (int i = 0; i < R * C; ++i) ok &= od[i] == (xd[i] > 0 ? xd[i] : 0.0f);
    CHECK(ok, "relu");
    ok = nn_relu_backward_f32(&g, &x, &o) == NN_OK;
    for (int i = 0; i < R * C; ++i) ok &= od[i] == (xd[i] > 0 ? gd[i] : 0.0f);
    CHECK(ok, "relu_backward");
    ok = nn_softmax_rows_f32(&x, &o) == NN_OK;
    for (int i = 0; i < R; ++i) {
        double total = 0, top = -INFINITY;
        for (int j = 0; j < C; ++j) top = fmax(top, xd[i * C + j]);
        for (int j = 0; j < C; ++j) total += exp((double)xd[i * C + j] - top);
        for (int j = 0; j < C; ++j) ok &= fabs(od[i * C + j] - exp((double)xd[i * C + j] - top) / total) < 1e-6;
    }
    CHECK(ok, "softmax");
    nn_matrix_f32 cols = {1, C, C, sd}, rows = {R, 1, 1, sd};
    ok = nn_sum_f32(&x, 0, &cols) == NN_OK;
    for (int j = 0; j < C; ++j) {
        double t = 0;
        for (int i = 0; i < R; ++i) t += xd[i * C + j];
        ok &= fabs(sd[j] - t) < 1e-4;
    }
    CHECK(ok, "sum over rows");
    ok = nn_sum_f32(&x, 1, &rows) == NN_OK;
    for (int i = 0; i < R; ++i) {
        double t = 0;
        for (int j = 0; j < C; ++j) t += xd[i * C + j];
        ok &= fabs(sd[i] - t) < 1e-4;
    }
    CHECK(ok, "sum of each row");
    CHECK(nn_sum_f32(&x, 2, &rows) == NN_ERR_ARG, "sum: bad axis");
    CHECK(nn_bias_add_f32(&x, &rows, &o) == NN_ERR_SHAPE, "bias_add: wrong bias shape");
    CHECK(nn_relu_backward_f32(&g, &b, &o) == NN_ERR_SHAPE, "relu_backward: shape mismatch");
    CHECK(nn_softmax_rows_f32(NULL, &o) == NN_ERR_NULL, "softmax: NULL");

    /* sgd_update, in place, against the rule written out (Nesterov, then plain momentum) */
    float wd[R * C], vd[R * C];
    for (int nesterov = 0; nesterov < 2; ++nesterov) {
        for (int i = 0; i < R * C; ++i) {
            wd[i] = xd[i];
            vd[i] = gd[i] * 0.5f;
        }
        nn_matrix_f32 w = {R, C, C, wd}, v = {R, C, C, vd};
        ok = nn_sgd_update_f32(&w, &v, &g, 0.1f, 0.9f, 0.01f, nesterov) == NN_OK;
        for (int i = 0; i < R * C; ++i) {
            float grad = gd[i] + 0.01f * xd[i], vel = 0.9f * (gd[i] * 0.5f) + grad;
            ok &= vd[i] == vel && wd[i] == xd[i] - 0.1f * (nesterov ? grad + 0.9f * vel : vel);
        }
        CHECK(ok, nesterov ? "sgd_update (Nesterov)" : "sgd_update (momentum)");
    }
    nn_matrix_f32 w = {R, C, C, wd}, v = {R, C, C, vd};
    CHECK(nn_sgd_update_f32(&w, &v, &b, 0.1f, 0.9f, 0.0f, 1) == NN_ERR_SHAPE, "sgd_update: shape mismatch");
    CHECK(nn_sgd_update_f32(NULL, &v, &g, 0.1f, 0.9f, 0.0f, 1) == NN_ERR_NULL, "sgd_update: NULL");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0); /* a crash must not lose the lines printed before it */
    printf("micro-kernel: %s, threads: %d\n", nn_kernel_name(), nn_threads());
    /* 1, primes, non-square, past MR/NR edges, past MC (72/144) and KC (256) blocking */
    const size_t shapes[][3] = {{1, 1, 1},   {1, 7, 1},    {7, 1, 7},     {6, 8, 16},
                                {13, 17, 11}, {73, 257, 9}, {150, 300, 37}, {5, 513, 131}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
        RUN(test_products(shapes[s][0], shapes[s][1], shapes[s][2]));
    RUN(test_products(4, 0, 3)); /* k = 0: the product is all zeros */
    RUN(test_transposed(1, 1, 1));
    RUN(test_transposed(13, 17, 11));
    RUN(test_transposed(150, 300, 37));
    RUN(test_strided_views());
    RUN(test_elementwise_and_transpose(1, 1));
    RUN(test_elementwise_and_transpose(37, 53));
    RUN(test_errors());
    RUN(test_row_kernels());
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
