/* nn-foundations Phase 3: the fast matrix product (packed panels, register micro-kernels, a
 * thread pool), in double and single precision. The loop nest is in gemm_template.h; this file holds
 * the micro-kernels and picks one at run time.
 *
 * The AVX2/FMA micro-kernels keep a 6 x 8 (double) or 6 x 16 (float) tile of C in 12 of the 16
 * ymm registers for the whole k loop: per step they load one row of the B sliver (2 registers),
 * broadcast 6 values of A, and issue 12 FMAs. They are compiled with __attribute__((target)), so
 * the library itself is built for baseline x86-64 and never dies with an illegal instruction:
 * __builtin_cpu_supports picks them only on a CPU with AVX2 and FMA. The accumulators are
 * separate named variables: written as an array (`__m256 c[6][2]`), gcc 12 kept them on the stack
 * in an OpenMP build and lost more than half the speed. */
#include "matrix.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NN_HAVE_AVX2_KERNELS 1
#include <immintrin.h>
#endif

/* ---- double: 6 x 8 micro-tile ------------------------------------------------------------ */
#ifdef NN_HAVE_AVX2_KERNELS
#define ROW_F64(i)                                                                             \
    {                                                                                          \
        __m256d ai = _mm256_broadcast_sd(a + i);                                               \
        c##i##0 = _mm256_fmadd_pd(ai, b0, c##i##0);                                            \
        c##i##1 = _mm256_fmadd_pd(ai, b1, c##i##1);                                            \
    }
#define STORE_F64(i)                                                                           \
    {                                                                                          \
        double *ci = c + (i) * ldc;                                                            \
        if (accumulate) {                                                                      \
            c##i##0 = _mm256_add_pd(c##i##0, _mm256_loadu_pd(ci));                             \
            c##i##1 = _mm256_add_pd(c##i##1, _mm256_loadu_pd(ci + 4));                         \
        }                                                                                      \
        _mm256_storeu_pd(ci, c##i##0);                                                         \
        _mm256_storeu_pd(ci + 4, c##i##1);                                                     \
    }

__attribute__((target("avx2,fma"))) static void kernel_avx2_f64(size_t kc, const double *a,
                                                                 const double *b, double *c,
                                                                 size_t ldc, int accumulate) {
    __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
    __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
    __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
    __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
    __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
    __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
    for (size_t p = 0; p < kc; ++p, a += 6, b += 8) {
        __m256d b0 = _mm256_load_pd(b), b1 = _mm256_load_pd(b + 4); /* packed: 32-byte aligned */
        ROW_F64(0) ROW_F64(1) ROW_F64(2) ROW_F64(3) ROW_F64(4) ROW_F64(5)
    }
    STORE_F64(0) STORE_F64(1) STORE_F64(2) STORE_F64(3) STORE_F64(4) STORE_F64(5)
}
#endif

/* ---- float: 6 x 16 micro-tile ------------------------------------------------------------ */
#ifdef NN_HAVE_AVX2_KERNELS
#define ROW_F32(i)                                                                             \
    {                                                                                          \
        __m256 ai = _mm256_broadcast_ss(a + i);                                                \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                                            \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                                            \
    }
#define STORE_F32(i)                                                                           \
    {                                                                                          \
        float *ci = c + (i) * ldc;                                                             \
        if (accumulate) {                                                                      \
            c##i##0 = _mm256_add_ps(c##i##0, _mm256_loadu_ps(ci));                             \
            c##i##1 = _mm256_add_ps(c##i##1, _mm256_loadu_ps(ci + 8));                         \
        }                                                                                      \
        _mm256_storeu_ps(ci, c##i##0);                                                         \
        _mm256_storeu_ps(ci + 8, c##i##1);                                                     \
    }

__attribute__((target("avx2,fma"))) static void kernel_avx2_f32(size_t kc, const float *a,
                                                                 const float *b, float *c,
                                                                 size_t ldc, int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (size_t p = 0; p < kc; ++p, a += 6, b += 16) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        ROW_F32(0) ROW_F32(1) ROW_F32(2) ROW_F32(3) ROW_F32(4) ROW_F32(5)
    }
    STORE_F32(0) STORE_F32(1) STORE_F32(2) STORE_F32(3) STORE_F32(4) STORE_F32(5)
}
#endif

/* How the product is shared among threads (see gemm_template.h): tasks per thread, so that a
 * thread that keeps its core can take over the share of one that lost it, and the smallest
 * product worth waking a second thread for (below it the calling thread does all of it). */
#define TASKS_PER_THREAD 4
#define MIN_PARALLEL_FLOPS 1e6
/* Packed B that a column chunk of tasks reads, over all of K: well inside a last-level cache
 * (32 MiB here, shared with other programs; 8-16 MiB on a laptop). */
#define B_CHUNK_BYTES (4u << 20)

/* ---- the loop nest, once per type (blocking sized for 32-48 KiB of L1 and
 * 512 KiB-1 MiB L2; KC x NR of B stays in L1, MC x KC of A in L2) --------------------------- */
#define T double
#define SUF f64
#define MR 6
#define NR 8
#define MC 72
#define KC 256
#define NC 4080
#define MIN_NC 16
#define KERNEL_GENERIC kernel_generic_f64
#include "gemm_template.h"
#undef T
#undef SUF
#undef NR
#undef MC
#undef MIN_NC
#undef KERNEL_GENERIC

#define T float
#define SUF f32
#define NR 16
#define MC 144
#define MIN_NC 32
#define KERNEL_GENERIC kernel_generic_f32
#include "gemm_template.h"
#undef T
#undef SUF
#undef MR
#undef NR
#undef MC
#undef KC
#undef NC
#undef MIN_NC
#undef KERNEL_GENERIC

/* ---- choosing the kernel ----------------------------------------------------------------- */
enum { CHOICE_UNSET, CHOICE_AVX2, CHOICE_GENERIC };
static int choice = CHOICE_UNSET; /* a benign race: every thread computes the same value */

static int cpu_has_avx2(void) {
#ifdef NN_HAVE_AVX2_KERNELS
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static int choose(const char *name) {
    if (name == NULL || strcmp(name, "auto") == 0) return cpu_has_avx2() ? CHOICE_AVX2 : CHOICE_GENERIC;
    if (strcmp(name, "generic") == 0) return CHOICE_GENERIC;
    if (strcmp(name, "avx2") == 0) return cpu_has_avx2() ? CHOICE_AVX2 : CHOICE_UNSET;
    return CHOICE_UNSET;
}

static int current(void) {
    if (choice == CHOICE_UNSET) {
        int c = choose(getenv("NN_MATRIX_KERNEL"));
        choice = c == CHOICE_UNSET ? choose("auto") : c; /* a bad variable falls back to auto */
    }
    return choice;
}

nn_status nn_set_kernel(const char *name) {
    if (name == NULL) return NN_ERR_NULL;
    int c = choose(name);
    if (c == CHOICE_UNSET) return NN_ERR_ARG;
    choice = c;
    return NN_OK;
}

const char *nn_kernel_name(void) { return current() == CHOICE_AVX2 ? "avx2" : "generic"; }


/* ---- public entry points ----------------------------------------------------------------- */
#define CHECK_PRODUCT(a, b, out)                                                               \
    do {                                                                                       \
        if ((a) == NULL || (b) == NULL || (out) == NULL) return NN_ERR_NULL;                   \
        if ((a)->cols != (b)->rows || (out)->rows != (a)->rows || (out)->cols != (b)->cols)    \
            return NN_ERR_SHAPE;                                                               \
        if (((a)->rows && (a)->cols && !(a)->data) || ((b)->rows && (b)->cols && !(b)->data) ||   \
            ((out)->rows && (out)->cols && !(out)->data))                                      \
            return NN_ERR_NULL;                                                                \
        if (((a)->rows > 1 && (a)->stride < (a)->cols) ||                                      \
            ((b)->rows > 1 && (b)->stride < (b)->cols) ||                                      \
            ((out)->rows > 1 && (out)->stride < (out)->cols))                                  \
            return NN_ERR_SHAPE;                                                               \
    } while (0)

nn_status nn_matmul(const nn_matrix *a, const nn_matrix *b, nn_matrix *out) {
    CHECK_PRODUCT(a, b, out);
    kernel_fn_f64 kernel = kernel_generic_f64;
#ifdef NN_HAVE_AVX2_KERNELS
    if (current() == CHOICE_AVX2) kernel = kernel_avx2_f64;
#endif
    return gemm_f64(a->rows, b->cols, a->cols, a->data, a->stride, b->data, b->stride, out->data,
                    out->stride, kernel);
}

nn_status nn_matmul_f32(const nn_matrix_f32 *a, const nn_matrix_f32 *b, nn_matrix_f32 *out) {
    CHECK_PRODUCT(a, b, out);
    kernel_fn_f32 kernel = kernel_generic_f32;
#ifdef NN_HAVE_AVX2_KERNELS
    if (current() == CHOICE_AVX2) kernel = kernel_avx2_f32;
#endif
    return gemm_f32(a->rows, b->cols, a->cols, a->data, a->stride, b->data, b->stride, out->data,
                    out->stride, kernel);
}
