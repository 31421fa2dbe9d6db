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
 * in an OpenMP build and lost more than half the speed.
 *
 * On 64-bit ARM (aarch64: Apple Silicon, Graviton, a Raspberry Pi 4 or 5), the NEON micro-kernels
 * take the AVX2 tiles, 6 x 8 and 6 x 16, in 24 of the 32 128-bit registers. Advanced SIMD is part
 * of every aarch64 CPU, so there is nothing to ask at run time. */
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
#if defined(__aarch64__) && defined(__ARM_NEON)
#define NN_HAVE_NEON_KERNELS 1
#include <arm_neon.h>
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

/* ---- NEON: the same 6 x 8 (double) and 6 x 16 (float) tiles, four vectors a row ----------- */
/* A 128-bit register holds 2 doubles or 4 floats, so a row of the tile is four accumulators: 24
 * of the 32 registers, plus four for the row of B. NEON has no broadcast load, and needs none:
 * its FMA takes one operand from a lane of another register (FMLA by element, vfmaq_laneq), so
 * the six values of A are loaded as whole vectors (3 of doubles; 4 + 2 floats) and each FMA picks
 * its lane: 24 FMAs for 7 loads per step, all 31 or 30 registers named below. */
#ifdef NN_HAVE_NEON_KERNELS
#define ROW_NEON(i, FMA, av, lane)                                                             \
    {                                                                                          \
        c##i##0 = FMA(c##i##0, b0, av, lane);                                                  \
        c##i##1 = FMA(c##i##1, b1, av, lane);                                                  \
        c##i##2 = FMA(c##i##2, b2, av, lane);                                                  \
        c##i##3 = FMA(c##i##3, b3, av, lane);                                                  \
    }
#define STORE_NEON(i, W, LOAD, STORE, ADD)                                                     \
    {                                                                                          \
        ET *ci = c + (i) * ldc;                                                                \
        if (accumulate) {                                                                      \
            c##i##0 = ADD(c##i##0, LOAD(ci));                                                  \
            c##i##1 = ADD(c##i##1, LOAD(ci + W));                                              \
            c##i##2 = ADD(c##i##2, LOAD(ci + 2 * W));                                          \
            c##i##3 = ADD(c##i##3, LOAD(ci + 3 * W));                                          \
        }                                                                                      \
        STORE(ci, c##i##0);                                                                    \
        STORE(ci + W, c##i##1);                                                                \
        STORE(ci + 2 * W, c##i##2);                                                            \
        STORE(ci + 3 * W, c##i##3);                                                            \
    }
#define STORES_NEON(W, LOAD, STORE, ADD)                                                       \
    STORE_NEON(0, W, LOAD, STORE, ADD) STORE_NEON(1, W, LOAD, STORE, ADD)                      \
    STORE_NEON(2, W, LOAD, STORE, ADD) STORE_NEON(3, W, LOAD, STORE, ADD)                      \
    STORE_NEON(4, W, LOAD, STORE, ADD) STORE_NEON(5, W, LOAD, STORE, ADD)
#define ZERO_NEON(Z)                                                                           \
    ZT c00 = Z, c01 = Z, c02 = Z, c03 = Z, c10 = Z, c11 = Z, c12 = Z, c13 = Z, c20 = Z, c21 = Z, \
       c22 = Z, c23 = Z, c30 = Z, c31 = Z, c32 = Z, c33 = Z, c40 = Z, c41 = Z, c42 = Z, c43 = Z, \
       c50 = Z, c51 = Z, c52 = Z, c53 = Z

#define ZT float64x2_t
#define ET double
static void kernel_neon_f64(size_t kc, const double *a, const double *b, double *c, size_t ldc,
                            int accumulate) {
    ZERO_NEON(vdupq_n_f64(0));
    for (size_t p = 0; p < kc; ++p, a += 6, b += 8) {
        float64x2_t b0 = vld1q_f64(b), b1 = vld1q_f64(b + 2), b2 = vld1q_f64(b + 4),
                    b3 = vld1q_f64(b + 6);
        float64x2_t a01 = vld1q_f64(a), a23 = vld1q_f64(a + 2), a45 = vld1q_f64(a + 4);
        ROW_NEON(0, vfmaq_laneq_f64, a01, 0) ROW_NEON(1, vfmaq_laneq_f64, a01, 1)
        ROW_NEON(2, vfmaq_laneq_f64, a23, 0) ROW_NEON(3, vfmaq_laneq_f64, a23, 1)
        ROW_NEON(4, vfmaq_laneq_f64, a45, 0) ROW_NEON(5, vfmaq_laneq_f64, a45, 1)
    }
    STORES_NEON(2, vld1q_f64, vst1q_f64, vaddq_f64)
}
#undef ZT
#undef ET

#define ZT float32x4_t
#define ET float
static void kernel_neon_f32(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                            int accumulate) {
    ZERO_NEON(vdupq_n_f32(0));
    for (size_t p = 0; p < kc; ++p, a += 6, b += 16) {
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8),
                    b3 = vld1q_f32(b + 12);
        float32x4_t a03 = vld1q_f32(a);
        float32x2_t a45 = vld1_f32(a + 4); /* 6 values a step: no read past the sliver */
        ROW_NEON(0, vfmaq_laneq_f32, a03, 0) ROW_NEON(1, vfmaq_laneq_f32, a03, 1)
        ROW_NEON(2, vfmaq_laneq_f32, a03, 2) ROW_NEON(3, vfmaq_laneq_f32, a03, 3)
        ROW_NEON(4, vfmaq_lane_f32, a45, 0) ROW_NEON(5, vfmaq_lane_f32, a45, 1)
    }
    STORES_NEON(4, vld1q_f32, vst1q_f32, vaddq_f32)
}
#undef ZT
#undef ET
#endif

/* ---- AVX-512: 14 x 16 (double) and 14 x 32 (float) micro-tiles ---------------------------- */
/* With 32 zmm registers of 512 bits, a tile of 14 rows by two vectors keeps 28 accumulators in
 * registers; per step it loads two vectors of the B sliver and broadcasts 14 values of A, which
 * the compiler folds into the FMAs as embedded broadcasts ({1to8} / {1to16}): 28 FMAs for 2 loads.
 * That is the shape BLIS uses on Skylake-X (its 16 x 14 column-major kernel). Compiled with
 * __attribute__((target)) like the AVX2 ones, and chosen only where the CPU reports AVX-512F. */
#ifdef NN_HAVE_AVX2_KERNELS
#define ROW_Z(i, SET1, FMA)                                                                    \
    {                                                                                          \
        ZT ai = SET1(a[i]);                                                                    \
        c##i##0 = FMA(ai, b0, c##i##0);                                                        \
        c##i##1 = FMA(ai, b1, c##i##1);                                                        \
    }
#define ROWS_Z(SET1, FMA)                                                                      \
    ROW_Z(0, SET1, FMA) ROW_Z(1, SET1, FMA) ROW_Z(2, SET1, FMA) ROW_Z(3, SET1, FMA)            \
    ROW_Z(4, SET1, FMA) ROW_Z(5, SET1, FMA) ROW_Z(6, SET1, FMA) ROW_Z(7, SET1, FMA)            \
    ROW_Z(8, SET1, FMA) ROW_Z(9, SET1, FMA) ROW_Z(10, SET1, FMA) ROW_Z(11, SET1, FMA)          \
    ROW_Z(12, SET1, FMA) ROW_Z(13, SET1, FMA)
#define STORE_Z(i, W, LOAD, STORE, ADD)                                                        \
    {                                                                                          \
        ET *ci = c + (i) * ldc;                                                                \
        if (accumulate) {                                                                      \
            c##i##0 = ADD(c##i##0, LOAD(ci));                                                  \
            c##i##1 = ADD(c##i##1, LOAD(ci + W));                                              \
        }                                                                                      \
        STORE(ci, c##i##0);                                                                    \
        STORE(ci + W, c##i##1);                                                                \
    }
#define STORES_Z(W, LOAD, STORE, ADD)                                                          \
    STORE_Z(0, W, LOAD, STORE, ADD) STORE_Z(1, W, LOAD, STORE, ADD)                            \
    STORE_Z(2, W, LOAD, STORE, ADD) STORE_Z(3, W, LOAD, STORE, ADD)                            \
    STORE_Z(4, W, LOAD, STORE, ADD) STORE_Z(5, W, LOAD, STORE, ADD)                            \
    STORE_Z(6, W, LOAD, STORE, ADD) STORE_Z(7, W, LOAD, STORE, ADD)                            \
    STORE_Z(8, W, LOAD, STORE, ADD) STORE_Z(9, W, LOAD, STORE, ADD)                            \
    STORE_Z(10, W, LOAD, STORE, ADD) STORE_Z(11, W, LOAD, STORE, ADD)                          \
    STORE_Z(12, W, LOAD, STORE, ADD) STORE_Z(13, W, LOAD, STORE, ADD)
#define ZERO_Z(Z)                                                                              \
    ZT c00 = Z(), c01 = Z(), c10 = Z(), c11 = Z(), c20 = Z(), c21 = Z(), c30 = Z(), c31 = Z(),  \
       c40 = Z(), c41 = Z(), c50 = Z(), c51 = Z(), c60 = Z(), c61 = Z(), c70 = Z(), c71 = Z(),  \
       c80 = Z(), c81 = Z(), c90 = Z(), c91 = Z(), c100 = Z(), c101 = Z(), c110 = Z(),          \
       c111 = Z(), c120 = Z(), c121 = Z(), c130 = Z(), c131 = Z()

#define ZT __m512d
#define ET double
__attribute__((target("avx512f"))) static void kernel_avx512_f64(size_t kc, const double *a,
                                                                  const double *b, double *c,
                                                                  size_t ldc, int accumulate) {
    ZERO_Z(_mm512_setzero_pd);
    for (size_t p = 0; p < kc; ++p, a += 14, b += 16) {
        __m512d b0 = _mm512_loadu_pd(b), b1 = _mm512_loadu_pd(b + 8);
        ROWS_Z(_mm512_set1_pd, _mm512_fmadd_pd)
    }
    STORES_Z(8, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_add_pd)
}
#undef ZT
#undef ET

#define ZT __m512
#define ET float
__attribute__((target("avx512f"))) static void kernel_avx512_f32(size_t kc, const float *a,
                                                                  const float *b, float *c,
                                                                  size_t ldc, int accumulate) {
    ZERO_Z(_mm512_setzero_ps);
    for (size_t p = 0; p < kc; ++p, a += 14, b += 32) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        ROWS_Z(_mm512_set1_ps, _mm512_fmadd_ps)
    }
    STORES_Z(16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps)
}
#undef ZT
#undef ET
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

/* ---- the same loop nest for the AVX-512 tiles: 14 rows, twice the vector width. KC x NR of B is
 * 32 KiB (of 32-48 KiB L1), MC x KC of A 336 KiB / 168 KiB (of 1 MiB L2) -------------------- */
#ifdef NN_HAVE_AVX2_KERNELS /* only x86-64 has them: elsewhere these would be unused */
#define T double
#define SUF f64z
#define MR 14
#define NR 16
#define MC 168
#define KC 256
#define NC 4080
#define MIN_NC 32
#define KERNEL_GENERIC kernel_generic_f64z
#include "gemm_template.h"
#undef T
#undef SUF
#undef NR
#undef MC
#undef MIN_NC
#undef KERNEL_GENERIC

#define T float
#define SUF f32z
#define NR 32
#define MC 168
#define MIN_NC 64
#define KERNEL_GENERIC kernel_generic_f32z
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
#endif

/* ---- choosing the kernel ----------------------------------------------------------------- */
enum { CHOICE_UNSET, CHOICE_AVX512, CHOICE_AVX2, CHOICE_NEON, CHOICE_GENERIC, CHOICES };
static const char *const NAMES[] = {"", "avx512", "avx2", "neon", "generic"};
static int choice = CHOICE_UNSET; /* a benign race: every thread computes the same value */

static int cpu_can(int c) {
    if (c == CHOICE_GENERIC) return 1;
#ifdef NN_HAVE_AVX2_KERNELS
    if (c == CHOICE_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (c == CHOICE_AVX512) return __builtin_cpu_supports("avx512f");
#endif
#ifdef NN_HAVE_NEON_KERNELS
    if (c == CHOICE_NEON) return 1; /* Advanced SIMD: part of every aarch64 CPU */
#endif
    return 0;
}

/* AMD's Zen 4 (family 19h; Zen 3, the same family, has no AVX-512) runs each 512-bit
 * instruction as two 256-bit halves: the AVX-512 peak is the AVX2 one, and the two kernels measure
 * level there (README.md). "auto" keeps the AVX2 kernel on it: its smaller 6-row tile wastes less
 * on the edges of small products (a 128-row training batch is 9 tiles of 14 rows and 2 left). */
static int splits_512_bit_work(void) {
#ifdef NN_HAVE_AVX2_KERNELS
    return __builtin_cpu_is("amd") && __builtin_cpu_is("amdfam19h");
#else
    return 0;
#endif
}

/* The kernels in the order "auto" prefers them (a CPU runs at most one of x86's and ARM's). */
#define RANKS (CHOICES - 1)
static int preference(int rank) {
    static const int wide_first[RANKS] = {CHOICE_AVX512, CHOICE_AVX2, CHOICE_NEON, CHOICE_GENERIC};
    static const int avx2_first[RANKS] = {CHOICE_AVX2, CHOICE_AVX512, CHOICE_NEON, CHOICE_GENERIC};
    return (splits_512_bit_work() ? avx2_first : wide_first)[rank];
}

static int choose(const char *name) {
    if (name == NULL || strcmp(name, "auto") == 0) {
        for (int r = 0; r < RANKS; ++r)
            if (cpu_can(preference(r))) return preference(r);
    }
    for (int c = CHOICE_AVX512; c < CHOICES; ++c)
        if (strcmp(name, NAMES[c]) == 0) return cpu_can(c) ? c : CHOICE_UNSET;
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

const char *nn_kernel_name(void) { return NAMES[current()]; }

const char *nn_kernels_supported(void) {
    static char list[32]; /* written once per process, the same text every time */
    if (list[0] == '\0') {
        char built[32] = "";
        for (int r = 0; r < RANKS; ++r) {
            int c = preference(r);
            if (!cpu_can(c)) continue;
            if (built[0]) strcat(built, ", ");
            strcat(built, NAMES[c]);
        }
        memcpy(list, built, sizeof list);
    }
    return list;
}

/* ---- public entry points ----------------------------------------------------------------- */
/* Pointers present and rows that fit their stride, for the three matrices as stored. */
#define CHECK_STORED(a, b, out)                                                                \
    do {                                                                                       \
        if ((a) == NULL || (b) == NULL || (out) == NULL) return NN_ERR_NULL;                   \
        if (((a)->rows && (a)->cols && !(a)->data) || ((b)->rows && (b)->cols && !(b)->data) ||   \
            ((out)->rows && (out)->cols && !(out)->data))                                      \
            return NN_ERR_NULL;                                                                \
        if (((a)->rows > 1 && (a)->stride < (a)->cols) ||                                      \
            ((b)->rows > 1 && (b)->stride < (b)->cols) ||                                      \
            ((out)->rows > 1 && (out)->stride < (out)->cols))                                  \
            return NN_ERR_SHAPE;                                                               \
    } while (0)

/* op(x), x as stored or transposed: its shape, and where its element (i, p) lives:
 * x[i*row_step + p*col_step]. A transposed operand is read in place by the packing, which copies
 * every operand anyway: no transposed copy is ever made. */
typedef struct {
    size_t rows, cols, row_step, col_step;
} operand;

static operand op_of(size_t rows, size_t cols, size_t stride, int trans) {
    return trans ? (operand){cols, rows, 1, stride} : (operand){rows, cols, stride, 1};
}

nn_status nn_matmul_t(const nn_matrix *a, int trans_a, const nn_matrix *b, int trans_b, nn_matrix *out) {
    CHECK_STORED(a, b, out);
    operand oa = op_of(a->rows, a->cols, a->stride, trans_a), ob = op_of(b->rows, b->cols, b->stride, trans_b);
    if (oa.cols != ob.rows || out->rows != oa.rows || out->cols != ob.cols) return NN_ERR_SHAPE;
    kernel_fn_f64 kernel = kernel_generic_f64;
#ifdef NN_HAVE_AVX2_KERNELS
    if (current() == CHOICE_AVX512)
        return gemm_f64z(oa.rows, ob.cols, oa.cols, a->data, oa.row_step, oa.col_step, b->data, ob.row_step,
                         ob.col_step, out->data, out->stride, kernel_avx512_f64);
    if (current() == CHOICE_AVX2) kernel = kernel_avx2_f64;
#endif
#ifdef NN_HAVE_NEON_KERNELS
    if (current() == CHOICE_NEON) kernel = kernel_neon_f64;
#endif
    return gemm_f64(oa.rows, ob.cols, oa.cols, a->data, oa.row_step, oa.col_step, b->data, ob.row_step,
                    ob.col_step, out->data, out->stride, kernel);
}

nn_status nn_matmul_f32_t(const nn_matrix_f32 *a, int trans_a, const nn_matrix_f32 *b, int trans_b,
                          nn_matrix_f32 *out) {
    CHECK_STORED(a, b, out);
    operand oa = op_of(a->rows, a->cols, a->stride, trans_a), ob = op_of(b->rows, b->cols, b->stride, trans_b);
    if (oa.cols != ob.rows || out->rows != oa.rows || out->cols != ob.cols) return NN_ERR_SHAPE;
    kernel_fn_f32 kernel = kernel_generic_f32;
#ifdef NN_HAVE_AVX2_KERNELS
    if (current() == CHOICE_AVX512)
        return gemm_f32z(oa.rows, ob.cols, oa.cols, a->data, oa.row_step, oa.col_step, b->data, ob.row_step,
                         ob.col_step, out->data, out->stride, kernel_avx512_f32);
    if (current() == CHOICE_AVX2) kernel = kernel_avx2_f32;
#endif
#ifdef NN_HAVE_NEON_KERNELS
    if (current() == CHOICE_NEON) kernel = kernel_neon_f32;
#endif
    return gemm_f32(oa.rows, ob.cols, oa.cols, a->data, oa.row_step, oa.col_step, b->data, ob.row_step,
                    ob.col_step, out->data, out->stride, kernel);
}

nn_status nn_matmul(const nn_matrix *a, const nn_matrix *b, nn_matrix *out) { return nn_matmul_t(a, 0, b, 0, out); }

nn_status nn_matmul_f32(const nn_matrix_f32 *a, const nn_matrix_f32 *b, nn_matrix_f32 *out) {
    return nn_matmul_f32_t(a, 0, b, 0, out);
}
