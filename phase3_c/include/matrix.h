/* nn-foundations Phase 3: a matrix library in C11, no BLAS, no external libraries.
 *
 * A matrix is (rows, cols, stride, data): element (i, j) is data[i * stride + j], so a view of a
 * bigger matrix (or of a NumPy array's buffer) needs no copy. Double precision is the main type
 * (it matches Python floats); the float32 product and row kernels serve Phase 5's CPU trainer.
 *
 * Every function reports errors through its return value (nn_status); none calls exit or abort.
 * Functions that write an output matrix require it to exist already with the right shape and
 * never allocate, except nn_matrix_create / nn_matrix_copy.
 */
#ifndef NN_MATRIX_H
#define NN_MATRIX_H

#include <stddef.h>

/* NN_API marks what the library exports. A Windows DLL exports only what is declared
 * __declspec(dllexport) while it is built, and its users import it with __declspec(dllimport);
 * a static build (NN_STATIC, as the Python extension modules link it) needs neither. Elsewhere
 * the library is built with hidden symbols, and these are the visible ones. */
#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(NN_STATIC)
#define NN_API
#elif defined(NN_BUILDING_LIBRARY)
#define NN_API __declspec(dllexport)
#else
#define NN_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define NN_API __attribute__((visibility("default")))
#else
#define NN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    NN_OK = 0,
    NN_ERR_NULL = 1,  /* a NULL matrix or data pointer */
    NN_ERR_SHAPE = 2, /* shapes do not match, or a stride is smaller than the row length */
    NN_ERR_ALLOC = 3, /* out of memory, or a size that overflows */
    NN_ERR_ARG = 4    /* any other invalid argument (an unknown kernel name, ...) */
} nn_status;

typedef struct {
    size_t rows, cols, stride; /* stride >= cols, in elements */
    double *data;
} nn_matrix;

typedef struct {
    size_t rows, cols, stride;
    float *data;
} nn_matrix_f32;

/* A short English description of a status code (never NULL). */
NN_API const char *nn_status_str(nn_status status);

/* Allocate rows x cols (64-byte aligned, stride = cols), zero-filled; rows or cols may be 0. */
NN_API nn_status nn_matrix_create(size_t rows, size_t cols, nn_matrix *out);
/* Free what nn_matrix_create or nn_matrix_copy allocated; NULL or an empty matrix is fine. */
NN_API void nn_matrix_free(nn_matrix *m);
/* Allocate dst as a contiguous copy of src. */
NN_API nn_status nn_matrix_copy(const nn_matrix *src, nn_matrix *dst);

/* Elementwise: out = a + b, a - b, a * b (Hadamard), s * a. out may alias a or b. */
NN_API nn_status nn_add(const nn_matrix *a, const nn_matrix *b, nn_matrix *out);
NN_API nn_status nn_sub(const nn_matrix *a, const nn_matrix *b, nn_matrix *out);
NN_API nn_status nn_mul(const nn_matrix *a, const nn_matrix *b, nn_matrix *out);
NN_API nn_status nn_scale(const nn_matrix *a, double s, nn_matrix *out);

/* out = a^T, in 32x32 blocks so that both reads and writes stay in cache. out must not alias a. */
NN_API nn_status nn_transpose(const nn_matrix *a, nn_matrix *out);

/* out = a @ b, three ways. out must not alias a or b.
 *   nn_matmul_naive: the textbook i-j-k loop (the reference);
 *   nn_matmul_ikj:   the same arithmetic in i-k-j order, so the inner loop walks rows of b and
 *                    out contiguously (and vectorises);
 *   nn_matmul:       packed panels + register micro-kernel + a thread pool (see gemm.c). */
NN_API nn_status nn_matmul_naive(const nn_matrix *a, const nn_matrix *b, nn_matrix *out);
NN_API nn_status nn_matmul_ikj(const nn_matrix *a, const nn_matrix *b, nn_matrix *out);
NN_API nn_status nn_matmul(const nn_matrix *a, const nn_matrix *b, nn_matrix *out);
NN_API nn_status nn_matmul_f32(const nn_matrix_f32 *a, const nn_matrix_f32 *b, nn_matrix_f32 *out);
/* out = op(a) @ op(b), where op(x) is x, or x's transpose when trans_x is non-zero (as BLAS's
 * gemm): a transposed operand is read where it lies, never copied. */
NN_API nn_status nn_matmul_t(const nn_matrix *a, int trans_a, const nn_matrix *b, int trans_b, nn_matrix *out);
NN_API nn_status nn_matmul_f32_t(const nn_matrix_f32 *a, int trans_a, const nn_matrix_f32 *b, int trans_b,
                                 nn_matrix_f32 *out);

/* Row kernels for a dense layer in float32 (Phase 5's CPU trainer), one sample per row.
 * x, grad, out: (rows, cols); bias and sums: (1, cols) or (rows, 1) as stated. out may alias x. */
NN_API nn_status nn_bias_add_f32(const nn_matrix_f32 *x, const nn_matrix_f32 *bias, nn_matrix_f32 *out); /* bias (1, cols) */
NN_API nn_status nn_relu_f32(const nn_matrix_f32 *x, nn_matrix_f32 *out);
/* out = grad where x > 0, else 0 (x: the ReLU's input or output; both give the same mask) */
NN_API nn_status nn_relu_backward_f32(const nn_matrix_f32 *grad, const nn_matrix_f32 *x, nn_matrix_f32 *out);
/* Row-wise softmax, stable: the row maximum is subtracted before exp. */
NN_API nn_status nn_softmax_rows_f32(const nn_matrix_f32 *x, nn_matrix_f32 *out);
/* axis 0: out (1, cols) = sum over rows (a bias gradient); axis 1: out (rows, 1) = sum of each row.
 * Accumulated in double. */
NN_API nn_status nn_sum_f32(const nn_matrix_f32 *x, int axis, nn_matrix_f32 *out);
/* One SGD step with momentum, in place: g = grad + weight_decay value; velocity = momentum
 * velocity + g; value -= lr (g + momentum velocity) with nesterov, else lr velocity. All three
 * (rows, cols); value and velocity must not alias each other or grad. */
NN_API nn_status nn_sgd_update_f32(nn_matrix_f32 *value, nn_matrix_f32 *velocity, const nn_matrix_f32 *grad, float lr,
                                   float momentum, float weight_decay, int nesterov);

/* The micro-kernel nn_matmul uses: "avx512" (AVX-512F), "avx2" (AVX2 + FMA), "neon" (aarch64)
 * or "generic" (portable C); by default the widest the CPU runs at full width (AVX2 on AMD Zen 4,
 * which splits 512-bit instructions in two), chosen at run time.
 * nn_set_kernel("auto" | "avx512" | "avx2" | "neon" | "generic") overrides the choice
 * (NN_ERR_ARG for an unknown name or one the CPU cannot run); the environment variable
 * NN_MATRIX_KERNEL does the same at first use. nn_kernels_supported() lists the names this CPU
 * runs, the one "auto" picks first ("avx512, avx2, generic"; "neon, generic" on aarch64). */
NN_API const char *nn_kernel_name(void);
NN_API nn_status nn_set_kernel(const char *name);
NN_API const char *nn_kernels_supported(void);

/* Threads the packed product runs on, the calling thread included: by default NN_NUM_THREADS,
 * else OMP_NUM_THREADS, else the CPUs this process may use. nn_set_threads(n) changes it (0: back
 * to the default; NN_ERR_ARG below 0 or above 256); call it while no product is running. */
NN_API int nn_threads(void);
NN_API nn_status nn_set_threads(int threads);

#ifdef __cplusplus
}
#endif

#endif /* NN_MATRIX_H */
