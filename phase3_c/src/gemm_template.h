/* The packed matrix product for one element type, included by gemm.c once per type with
 *   T (double or float), SUF (f64 or f32), MR x NR (the micro-tile), MC, KC, NC (the blocking),
 *   MIN_NC (the narrowest column chunk a task gets) and KERNEL_GENERIC (the portable
 *   micro-kernel); the micro-kernel that runs (AVX2 or portable) is passed in at run time.
 *
 * The loop nest is the one BLIS and OpenBLAS use (Goto and van de Geijn, "Anatomy of
 * High-Performance Matrix Multiplication", ACM TOMS 2008), with its two outer loops turned into
 * tasks that the threads take one at a time (see gemm below):
 *   for each task (ic, jc) (pool.c)                 MC rows x a chunk of at most NC columns of C
 *     for pc in steps of KC over the shared dimension  pack B(pc:pc+KC, jc:jc+nc) into NR-wide slivers
 *                                                      pack A(ic:ic+MC, pc:pc+KC) into MR-tall slivers (L2)
 *       for jr in steps of NR, ir in steps of MR     one micro-kernel call: MR x NR of C in registers
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

/* One product, cut into tasks: each task is a block of at most MC rows by a chunk of columns of
 * C, and runs the whole K loop on that tile with its own packed copies of A and B. No packed
 * buffer is shared, so no thread ever waits for another inside a product; the pool (pool.c)
 * hands the tasks out one at a time, and there are several per thread, so that when another
 * program takes a core away from one thread, the others do its share instead of waiting for it.
 * The price is packing: A's block is packed once per column chunk and B's chunk once per row
 * block, a small fraction of the arithmetic (at most 1/(2 MIN_NC) and 1/(2 MC) of it). */
typedef struct {
    size_t m, n, k, lda, ldb, ldc, mc_step, nc_step, col_chunks;
    const T *a, *b;
    T *c;
    CAT(kernel_fn, SUF) kernel;
    atomic_int failed;
} CAT(gemm_job, SUF);

static void CAT(gemm_task, SUF)(void *arg, size_t t) {
    CAT(gemm_job, SUF) *job = arg;
    size_t ic = t / job->col_chunks * job->mc_step, jc = t % job->col_chunks * job->nc_step;
    size_t mc = job->m - ic < job->mc_step ? job->m - ic : job->mc_step;
    size_t nc = job->n - jc < job->nc_step ? job->n - jc : job->nc_step;
    size_t kc_max = job->k < KC ? job->k : KC;
    /* packed copies are zero-padded to whole slivers: MR rows of A, NR columns of B */
    size_t mcp = (mc + MR - 1) / MR * MR, ncp = (nc + NR - 1) / NR * NR;
    T *ap = aligned_alloc(64, (mcp * kc_max * sizeof(T) + 63) / 64 * 64);
    T *bp = aligned_alloc(64, (kc_max * ncp * sizeof(T) + 63) / 64 * 64);
    if (ap == NULL || bp == NULL) {
        atomic_store(&job->failed, 1);
        free(ap);
        free(bp);
        return;
    }
    for (size_t pc = 0; pc < job->k; pc += KC) {
        size_t kc = job->k - pc < KC ? job->k - pc : KC;
        int accumulate = pc > 0;
        for (size_t j0 = 0; j0 < nc; j0 += NR)
            CAT(pack_b, SUF)(kc, nc, j0, job->b + pc * job->ldb + jc, job->ldb, bp + j0 * kc);
        CAT(pack_a, SUF)(mc, kc, job->a + ic * job->lda + pc, job->lda, ap);
        for (size_t jr = 0; jr < nc; jr += NR) {
            size_t nr = nc - jr < NR ? nc - jr : NR;
            for (size_t ir = 0; ir < mc; ir += MR) {
                size_t mr = mc - ir < MR ? mc - ir : MR;
                T *cij = job->c + (ic + ir) * job->ldc + jc + jr;
                const T *a_s = ap + ir * kc, *b_s = bp + jr * kc;
                if (mr == MR && nr == NR) {
                    job->kernel(kc, a_s, b_s, cij, job->ldc, accumulate);
                } else { /* an edge tile: compute it whole, keep the valid part */
                    T tile[MR * NR];
                    job->kernel(kc, a_s, b_s, tile, NR, 0);
                    for (size_t i = 0; i < mr; ++i)
                        for (size_t j = 0; j < nr; ++j)
                            cij[i * job->ldc + j] = (accumulate ? cij[i * job->ldc + j] : 0) + tile[i * NR + j];
                }
            }
        }
    }
    free(ap);
    free(bp);
}

/* C (m x n, stride ldc) = A (m x k) @ B (k x n). Returns NN_ERR_ALLOC if a buffer fails. */
static nn_status CAT(gemm, SUF)(size_t m, size_t n, size_t k, const T *a, size_t lda, const T *b,
                                size_t ldb, T *c, size_t ldc, CAT(kernel_fn, SUF) kernel) {
    if (m == 0 || n == 0) return NN_OK;
    if (k == 0) {
        for (size_t i = 0; i < m; ++i)
            for (size_t j = 0; j < n; ++j) c[i * ldc + j] = 0;
        return NN_OK;
    }
    size_t threads = (size_t)nn_threads();
    /* Rows per block: at most MC, in equal blocks of whole micro-tiles. */
    size_t row_blocks = (m + MC - 1) / MC;
    size_t mc_step = ((m + row_blocks - 1) / row_blocks + MR - 1) / MR * MR;
    row_blocks = (m + mc_step - 1) / mc_step;
    /* Columns per chunk: at most NC, and narrow enough for TASKS_PER_THREAD tasks a thread, but
     * never narrower than MIN_NC (a few micro-tiles, so that packing A stays cheap). */
    size_t want_chunks = (TASKS_PER_THREAD * threads + row_blocks - 1) / row_blocks;
    size_t nc_step = ((n + want_chunks - 1) / want_chunks + NR - 1) / NR * NR;
    if (nc_step < MIN_NC) nc_step = MIN_NC;
    if (nc_step > NC) nc_step = NC;
    CAT(gemm_job, SUF) job = {
        .m = m, .n = n, .k = k, .lda = lda, .ldb = ldb, .ldc = ldc, .mc_step = mc_step,
        .nc_step = nc_step, .col_chunks = (n + nc_step - 1) / nc_step, .a = a, .b = b, .c = c,
        .kernel = kernel,
    };
    atomic_init(&job.failed, 0);
    /* A product too small to be worth waking another thread for runs on the calling thread. */
    int parallel = 2.0 * (double)m * (double)n * (double)k >= MIN_PARALLEL_FLOPS;
    nn_pool_run(row_blocks * job.col_chunks, CAT(gemm_task, SUF), &job, parallel);
    return atomic_load(&job.failed) ? NN_ERR_ALLOC : NN_OK;
}

#undef CAT
#undef CAT_
