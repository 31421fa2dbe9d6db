/* The packed matrix product for one element type, included by gemm.c once per type with
 *   T (double or float), SUF (f64 or f32), MR x NR (the micro-tile), MC, KC, NC (the blocking),
 *   MIN_NC (the narrowest column chunk a task gets) and KERNEL_GENERIC (the portable
 *   micro-kernel); the micro-kernel that runs (AVX2, NEON or portable) is passed in at run time.
 *
 * The loop nest is the one BLIS and OpenBLAS use (Goto and van de Geijn, "Anatomy of
 * High-Performance Matrix Multiplication", ACM TOMS 2008), with the packing done first and the
 * two outer loops turned into tasks that the threads take one at a time (see gemm below):
 *   pack A into MC x KC blocks of MR-tall slivers, B into KC-deep rows of NR-wide slivers (tasks)
 *   for each tile (ic, jc) of C (tasks)              MC rows x a chunk of at most NC columns
 *     for pc in steps of KC over the shared dimension  A's block (ic, pc) stays in L2
 *       for jr in steps of NR, ir in steps of MR     one micro-kernel call: MR x NR of C in registers
 * Packing makes every read of the micro-kernel sequential and aligned, whatever the strides.
 */
#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)

/* Copy A[0:mc, 0:kc] (A[i, p] at a[i*lda + p*acs]: acs is 1 for a row-major A, and lda 1 for
 * the transpose of a row-major matrix) into MR-tall slivers: sliver s holds, for each p, the MR
 * values A[s*MR + 0..MR-1, p] next to each other; rows past mc are zero. */
static void CAT(pack_a, SUF)(size_t mc, size_t kc, const T *a, size_t lda, size_t acs, T *ap) {
    for (size_t i0 = 0; i0 < mc; i0 += MR) {
        size_t mr = mc - i0 < MR ? mc - i0 : MR;
        for (size_t p = 0; p < kc; ++p) {
            for (size_t i = 0; i < mr; ++i) ap[i] = a[(i0 + i) * lda + p * acs];
            for (size_t i = mr; i < MR; ++i) ap[i] = 0;
            ap += MR;
        }
    }
}

/* Copy B[0:kc, j0:j0+NR] (B[p, j] at b[p*ldb + j*bcs]) into one NR-wide sliver, zero-padded
 * past nc. */
static void CAT(pack_b, SUF)(size_t kc, size_t nc, size_t j0, const T *b, size_t ldb, size_t bcs, T *bp) {
    size_t nr = nc - j0 < NR ? nc - j0 : NR;
    for (size_t p = 0; p < kc; ++p) {
        const T *row = b + p * ldb + j0 * bcs;
        if (bcs == 1) {
            for (size_t j = 0; j < nr; ++j) bp[j] = row[j];
        } else {
            for (size_t j = 0; j < nr; ++j) bp[j] = row[j * bcs];
        }
        for (size_t j = nr; j < NR; ++j) bp[j] = 0;
        bp += NR;
    }
}

/* The portable micro-kernel: C[0:MR, 0:NR] (+)= Ap (kc x MR) ^T  Bp (kc x NR), in strips of
 * GENERIC_NR columns, as many as one 128-bit register holds (2 doubles, 4 floats: SSE2 and NEON
 * both have such registers). The whole tile at once (48 or 96 values) is more than a CPU's
 * registers hold unless the compiler vectorises it just so, and then it lives on the stack: clang
 * for aarch64 made it 48 scalar FMAs and 51 stack loads or stores per step. A strip of 6 rows is
 * 6 vector accumulators, one vector of B and a value of A: gcc 12 and clang 14 keep its k loop in
 * registers for aarch64, gcc for x86-64 too. It costs reading A's sliver once per strip, from L1. */
#define GENERIC_NR ((int)(16 / sizeof(T)))
#if defined(__GNUC__) || defined(__clang__)
__attribute__((unused)) /* the AVX-512 instantiations pass their own kernel */
#endif
static void KERNEL_GENERIC(size_t kc, const T *ap, const T *bp, T *c, size_t ldc, int accumulate) {
    for (int j0 = 0; j0 < NR; j0 += GENERIC_NR) {
        T acc[MR][GENERIC_NR] = {{0}};
        const T *a = ap, *b = bp + j0;
        for (size_t p = 0; p < kc; ++p, a += MR, b += NR)
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < GENERIC_NR; ++j) acc[i][j] += a[i] * b[j];
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < GENERIC_NR; ++j) {
                T *cij = c + i * ldc + j0 + j;
                *cij = (accumulate ? *cij : 0) + acc[i][j];
            }
    }
}
#undef GENERIC_NR

typedef void (*CAT(kernel_fn, SUF))(size_t, const T *, const T *, T *, size_t, int);

/* One product runs as two rounds of tasks on the pool (pool.c), and no thread ever waits for
 * another inside a round:
 *   1. packing: each task packs one MC x KC block of A, or KC rows of a group of B's slivers, into
 *      a workspace that holds all of A and B packed (a copy of each, padded to whole slivers);
 *   2. multiplying: each task computes one tile of C, a block of at most MC rows by a chunk of
 *      columns, over the whole of K, reading only the packed copies.
 * The pool hands tasks out one at a time, several per thread, so that when another program
 * takes a core away from one thread the others do its share instead of waiting for it. */
typedef struct {
    size_t m, n, k, lda, acs, ldb, bcs, ldc; /* A[i, p] at a[i*lda + p*acs], B[p, j] at b[p*ldb + j*bcs] */
    size_t mc_step, row_blocks, k_blocks, nc_step, col_chunks, n_pad, b_groups;
    const T *a, *b;
    T *c, *ap, *bp; /* packed A: row block ib, K block pb at ap + ib*mc_step*k + pb*KC*mcp(ib) */
    CAT(kernel_fn, SUF) kernel;
} CAT(gemm_job, SUF);

enum { CAT(B_GROUP, SUF) = 8 }; /* B's slivers packed per task */

static size_t CAT(rows_in, SUF)(const CAT(gemm_job, SUF) *job, size_t ib) {
    size_t ic = ib * job->mc_step;
    return job->m - ic < job->mc_step ? job->m - ic : job->mc_step;
}

static void CAT(pack_task, SUF)(void *arg, size_t t) {
    CAT(gemm_job, SUF) *job = arg;
    size_t a_tasks = job->row_blocks * job->k_blocks;
    if (t < a_tasks) { /* block (ib, pb) of A */
        size_t ib = t / job->k_blocks, pb = t % job->k_blocks, pc = pb * KC;
        size_t mc = CAT(rows_in, SUF)(job, ib), mcp = (mc + MR - 1) / MR * MR;
        size_t kc = job->k - pc < KC ? job->k - pc : KC;
        CAT(pack_a, SUF)(mc, kc, job->a + ib * job->mc_step * job->lda + pc * job->acs, job->lda, job->acs,
                         job->ap + ib * job->mc_step * job->k + pc * mcp);
        return;
    }
    t -= a_tasks; /* rows pc:pc+kc of a group of B's slivers */
    size_t pb = t / job->b_groups, g = t % job->b_groups, pc = pb * KC;
    size_t kc = job->k - pc < KC ? job->k - pc : KC;
    size_t j_end = (g + 1) * CAT(B_GROUP, SUF) * NR;
    if (j_end > job->n) j_end = job->n;
    for (size_t j0 = g * CAT(B_GROUP, SUF) * NR; j0 < j_end; j0 += NR)
        CAT(pack_b, SUF)(kc, job->n, j0, job->b + pc * job->ldb, job->ldb, job->bcs,
                         job->bp + pc * job->n_pad + j0 * kc);
}

static void CAT(multiply_task, SUF)(void *arg, size_t t) {
    CAT(gemm_job, SUF) *job = arg;
    /* chunk-major: the tasks taken together work on one chunk of B, which stays in cache */
    size_t ib = t % job->row_blocks, jc = t / job->row_blocks * job->nc_step;
    size_t ic = ib * job->mc_step, mc = CAT(rows_in, SUF)(job, ib), mcp = (mc + MR - 1) / MR * MR;
    size_t nc = job->n - jc < job->nc_step ? job->n - jc : job->nc_step;
    for (size_t pc = 0; pc < job->k; pc += KC) {
        size_t kc = job->k - pc < KC ? job->k - pc : KC;
        int accumulate = pc > 0;
        const T *a_blk = job->ap + ib * job->mc_step * job->k + pc * mcp;
        const T *b_blk = job->bp + pc * job->n_pad;
        for (size_t jr = 0; jr < nc; jr += NR) {
            size_t nr = nc - jr < NR ? nc - jr : NR;
            for (size_t ir = 0; ir < mc; ir += MR) {
                size_t mr = mc - ir < MR ? mc - ir : MR;
                T *cij = job->c + (ic + ir) * job->ldc + jc + jr;
                const T *a_s = a_blk + ir * kc, *b_s = b_blk + (jc + jr) * kc;
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
}

/* C (m x n, stride ldc) = A (m x k) @ B (k x n), A[i, p] at a[i*lda + p*acs] and B[p, j] at
 * b[p*ldb + j*bcs]: a transposed operand costs nothing more than packing it (the packed copies
 * are the same). Returns NN_ERR_ALLOC if the workspace fails. */
static nn_status CAT(gemm, SUF)(size_t m, size_t n, size_t k, const T *a, size_t lda, size_t acs,
                                const T *b, size_t ldb, size_t bcs, T *c, size_t ldc,
                                CAT(kernel_fn, SUF) kernel) {
    if (m == 0 || n == 0) return NN_OK;
    if (k == 0) {
        for (size_t i = 0; i < m; ++i)
            for (size_t j = 0; j < n; ++j) c[i * ldc + j] = 0;
        return NN_OK;
    }
    size_t threads = (size_t)nn_threads();
    CAT(gemm_job, SUF) job = {.m = m, .n = n, .k = k, .lda = lda, .acs = acs, .ldb = ldb, .bcs = bcs, .ldc = ldc,
                              .a = a, .b = b, .c = c, .kernel = kernel};
    /* Rows per block: at most MC, in equal blocks of whole micro-tiles. */
    job.row_blocks = (m + MC - 1) / MC;
    job.mc_step = ((m + job.row_blocks - 1) / job.row_blocks + MR - 1) / MR * MR;
    job.row_blocks = (m + job.mc_step - 1) / job.mc_step;
    job.k_blocks = (k + KC - 1) / KC;
    /* Columns per chunk: at most NC, and narrow enough for TASKS_PER_THREAD tasks a thread, but
     * never narrower than MIN_NC (a few micro-tiles: below that, the calls cost more than they
     * share out). */
    size_t want_chunks = (TASKS_PER_THREAD * threads + job.row_blocks - 1) / job.row_blocks;
    job.nc_step = ((n + want_chunks - 1) / want_chunks + NR - 1) / NR * NR;
    /* ... and narrow enough that a chunk of packed B over all of K (what a task reads, and the
     * tasks running at one time share) stays in the last-level cache. */
    size_t nc_cache = B_CHUNK_BYTES / sizeof(T) / k / NR * NR;
    if (job.nc_step > nc_cache) job.nc_step = nc_cache;
    if (job.nc_step < MIN_NC) job.nc_step = MIN_NC;
    if (job.nc_step > NC) job.nc_step = NC;
    job.col_chunks = (n + job.nc_step - 1) / job.nc_step;
    job.n_pad = (n + NR - 1) / NR * NR;
    job.b_groups = (job.n_pad / NR + CAT(B_GROUP, SUF) - 1) / CAT(B_GROUP, SUF);
    /* the workspace: all of A and B, packed (overflow-checked: these are products of sizes) */
    size_t a_elems = job.row_blocks * job.mc_step, b_elems = job.n_pad;
    if (a_elems / job.row_blocks != job.mc_step || (a_elems + b_elems) < a_elems ||
        (a_elems + b_elems) > SIZE_MAX / sizeof(T) / k - 16)
        return NN_ERR_ALLOC;
    size_t a_size = (a_elems * k + 15) / 16 * 16; /* B starts 64-byte aligned: aligned loads */
    nn_workspace ws;
    T *packed = nn_workspace_get(&ws, (a_size + b_elems * k) * sizeof(T));
    if (packed == NULL) return NN_ERR_ALLOC;
    job.ap = packed;
    job.bp = packed + a_size;
    /* A product too small to be worth waking another thread for runs on the calling thread. */
    int parallel = 2.0 * (double)m * (double)n * (double)k >= MIN_PARALLEL_FLOPS;
    nn_pool_run(job.row_blocks * job.k_blocks + job.k_blocks * job.b_groups, CAT(pack_task, SUF), &job, parallel);
    nn_pool_run(job.row_blocks * job.col_chunks, CAT(multiply_task, SUF), &job, parallel);
    nn_workspace_put(&ws);
    return NN_OK;
}

#undef CAT
#undef CAT_
