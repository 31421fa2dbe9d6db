/* nn-foundations Phase 3: the library's own thread pool (internal header).
 *
 * A parallel product is a list of independent tasks. nn_pool_run hands them out one at a time,
 * through an atomic counter, to the calling thread and to whichever worker threads are awake;
 * it returns when every task has run. See pool.c for why this is not an OpenMP parallel loop. */
#ifndef NN_POOL_H
#define NN_POOL_H

#include <stddef.h>

typedef void (*nn_task_fn)(void *ctx, size_t task);

/* Run task(ctx, t) for every t in [0, tasks), each exactly once, on the calling thread and the
 * pool's workers; `parallel` = 0 runs them all on the calling thread. */
void nn_pool_run(size_t tasks, nn_task_fn task, void *ctx, int parallel);

#endif /* NN_POOL_H */
