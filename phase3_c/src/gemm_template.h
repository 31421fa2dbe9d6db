/* The packed matrix product for one element type, included by gemm.c once per type with
 *   T (double or float), SUF (f64 or f32), MR x NR (the micro-tile), MC, KC, NC (the blocking),
 *   KERNEL_AVX2 and KERNEL_GENERIC (micro-kernels computing an MR x NR tile of C).
 *
 * The loop nest is the one BLIS and OpenBLAS use (Goto and van de Geijn, "Anatomy of
 * High-Performance Matrix Multiplication", ACM TOMS 2008):
 *   for jc in steps of NC over the columns of C        B panel (KC x NC) fits in L3
 *     for pc in steps of KC over the shared dimension  pack B(pc:pc+KC, jc:jc+NC) into NR-wide slivers (OpenMP)
 *       for ic in steps of MC over the rows (OpenMP)   pack A(ic:ic+MC, pc:pc+KC) into MR-tall slivers (L2)
 *         for jr in steps of NR, ir in steps of MR     one micro-kernel call: MR x NR of C in registers
 * Packing makes every read of the micro-kernel sequential and aligned, whatever the strides.
 */
#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)

/* Copy A[0:mc, 0:kc] (row stride lda) into MR-tall slivers: sliver s holds, for each p, the MR
 * values A[s*MR + 0..MR-1, p] next to each other; rows past mc are zero. */
static void CAT(pack_a, SUF)(size_t mc, size_t kc, const T *a, size_t lda, T *ap) {
    for (size_t i0 = 0; i0 < mc; i0 += MR) {
        size_t mr = mc - i0 < MR ? mc - i0 : MR;
        for (size_t p = 0; p < kc; ++p) {
            for (size_t i = 0; i < mr; ++i) ap[i] = a[(i0 + i) * lda + p];
            for (size_t i = mr; i < MR; ++i) ap[i] = 0;
            ap += MR;
        }
    }
}

/* Copy B[0:kc, j0:j0+NR] (row stride ldb) into one NR-wide sliver, zero-padded past nc. */
static void CAT(pack_b, SUF)(size_t kc, size_t nc, size_t j0, const T *b, size_t ldb, T *bp) {
    size_t nr = nc - j0 < NR ? nc - j0 : NR;
    for (size_t p = 0; p < kc; ++p) {
        const T *row = b + p * ldb + j0;
        for (size_t j = 0; j < nr; ++j) bp[j] = row[j];
        for (size_t j = nr; j < NR; ++j) bp[j] = 0;
        bp += NR;
    }
}

/* The portable micro-kernel: C[0:MR, 0:NR] (+)= Ap (kc x MR) ^T  Bp (kc x NR). */
static void KERNEL_GENERIC(size_t kc, const T *ap, const T *bp, T *c, size_t ldc, int accumulate) {
    T acc[MR][NR] = {{0}};
    for (size_t p = 0; p < kc; ++p, ap += MR, bp += NR)
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j) acc[i][j] += ap[i] * bp[j];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0) + acc[i][j];
}

typedef void (*CAT(kernel_fn, SUF))(size_t, const T *, const T *, T *, size_t, int);

/* C (m x n, stride ldc) = A (m x k) @ B (k x n). Returns NN_ERR_ALLOC if a buffer fails. */
static nn_status CAT(gemm, SUF)(size_t m, size_t n, size_t k, const T *a, size_t lda, const T *b,
                                size_t ldb, T *c, size_t ldc, CAT(kernel_fn, SUF) kernel) {
    if (m == 0 || n == 0) return NN_OK;
    if (k == 0) {
        for (size_t i = 0; i < m; ++i)
            for (size_t j = 0; j < n; ++j) c[i * ldc + j] = 0;
        return NN_OK;
    }
    size_t nc_max = n < NC ? (n + NR - 1) / NR * NR : NC;
    T *bp = aligned_alloc(64, (KC * nc_max * sizeof(T) + 63) / 64 * 64);
    if (bp == NULL) return NN_ERR_ALLOC;
    /* Rows per block of A: at most MC, and as many blocks as a multiple of the thread count,
     * so no thread idles at the end (1000 rows in blocks of 144 is 7 blocks: 4 + 3 on two
     * threads, 87.5% efficiency; 8 blocks of 126 split evenly). */
    size_t threads = (size_t)nn_max_threads();
    size_t blocks = (m + MC - 1) / MC;
    blocks = (blocks + threads - 1) / threads * threads;
    size_t mc_step = ((m + blocks - 1) / blocks + MR - 1) / MR * MR;
    if (mc_step > MC) mc_step = MC;
    int failed = 0;
    /* One team of threads for the whole product: they pack B's slivers together, then share
     * out the blocks of A; the implicit barrier after each `omp for` keeps B intact while used. */
#pragma omp parallel
    {
        T *ap = aligned_alloc(64, (MC * KC * sizeof(T) + 63) / 64 * 64); /* this thread's A */
        if (ap == NULL) {
#pragma omp atomic write
            failed = 1;
        }
        for (size_t jc = 0; jc < n; jc += NC) {
            size_t nc = n - jc < NC ? n - jc : NC;
            for (size_t pc = 0; pc < k; pc += KC) {
                size_t kc = k - pc < KC ? k - pc : KC;
                int accumulate = pc > 0;
#pragma omp for schedule(static)
                for (ptrdiff_t j0 = 0; j0 < (ptrdiff_t)nc; j0 += NR)
                    CAT(pack_b, SUF)(kc, nc, (size_t)j0, b + pc * ldb + jc, ldb, bp + (size_t)j0 * kc);
#pragma omp for schedule(static)
                for (ptrdiff_t ic = 0; ic < (ptrdiff_t)m; ic += (ptrdiff_t)mc_step) {
                    if (ap == NULL) continue;
                    size_t mc = m - (size_t)ic < mc_step ? m - (size_t)ic : mc_step;
                    CAT(pack_a, SUF)(mc, kc, a + (size_t)ic * lda + pc, lda, ap);
                    for (size_t jr = 0; jr < nc; jr += NR) {
                        size_t nr = nc - jr < NR ? nc - jr : NR;
                        for (size_t ir = 0; ir < mc; ir += MR) {
                            size_t mr = mc - ir < MR ? mc - ir : MR;
                            T *cij = c + ((size_t)ic + ir) * ldc + jc + jr;
                            const T *a_s = ap + ir * kc, *b_s = bp + jr * kc;
                            if (mr == MR && nr == NR) {
                                kernel(kc, a_s, b_s, cij, ldc, accumulate);
                            } else { /* an edge tile: compute it whole, keep the valid part */
                                T tile[MR * NR];
                                kernel(kc, a_s, b_s, tile, NR, 0);
                                for (size_t i = 0; i < mr; ++i)
                                    for (size_t j = 0; j < nr; ++j)
                                        cij[i * ldc + j] = (accumulate ? cij[i * ldc + j] : 0) + tile[i * NR + j];
                            }
                        }
                    }
                }
            }
        }
        free(ap);
    }
    if (failed) {
        free(bp);
        return NN_ERR_ALLOC;
    }
    free(bp);
    return NN_OK;
}

#undef CAT
#undef CAT_
