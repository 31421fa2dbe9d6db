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

/* A scratch buffer for one product's packed copies. The library keeps one and lends it to a
 * product at a time (it grows to the largest asked for, and is kept, so that repeated products
 * do not map fresh pages each time); a product that finds it lent gets a buffer of its own.
 * Returns NULL when the memory cannot be had. Give it back with nn_workspace_put. */
typedef struct {
    void *data;
    int own; /* 1: allocated for this product alone */
} nn_workspace;
void *nn_workspace_get(nn_workspace *ws, size_t bytes);
void nn_workspace_put(nn_workspace *ws);

#endif /* NN_POOL_H */
