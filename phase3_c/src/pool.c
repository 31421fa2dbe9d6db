/* nn-foundations Phase 3: the thread pool the packed product runs on.
 *
 * Why not an OpenMP parallel loop: OpenMP's fork-join ends every parallel region with a barrier
 * that waits for *every* thread of the team, even one that the operating system has not yet
 * let run. On a machine where another program keeps a core busy (a learner's laptop with a
 * browser open), some thread of each product is often waiting for a core, and every product then
 * waits for it: an epoch of Phase 5's CPU trainer took 3-4x longer beside one busy process.
 *
 * Here a product is a list of independent tasks, and the calling thread waits only for tasks
 * that a worker has actually started. The caller publishes the job and starts claiming tasks
 * itself, through an atomic counter; a worker that wakes up in time claims tasks too; a worker
 * that wakes up late finds nothing left and goes back to sleep, and nobody waits for it. Idle
 * threads spin for a few tens of microseconds (so that the next product, a few microseconds of
 * Python later, starts without a system call) and then sleep on a condition variable (so that a
 * waiting thread never burns a core that a running one needs).
 *
 * The pool is created on first use with nn_threads() - 1 workers. A product that arrives while
 * another one runs (two Python threads) runs on its caller alone; after fork() the child starts
 * with no workers and creates its own. Threads, locks and the clock come from platform.h (POSIX
 * threads, or Win32's on Windows). */
#include "platform.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "matrix.h"
#include "pool.h"

enum { MAX_THREADS = 256 };
/* How long an idle thread spins before it sleeps, in nanoseconds. */
static const long SPIN_NS = 50000;

static struct {
    nn_mutex lock;
    nn_cond wake; /* workers sleep here between jobs */
    nn_cond idle; /* the caller sleeps here until the workers in its job are done */
    int threads;         /* wanted: the calling thread + workers; 0 = not decided yet */
    int started;         /* workers running */
    int quit;
    nn_thread workers[MAX_THREADS];
    /* the current job, written under `lock` */
    atomic_ulong generation; /* bumped for every job */
    nn_task_fn task;
    void *ctx;
    size_t tasks;
    atomic_size_t next; /* the next task to claim */
    atomic_int busy;    /* workers inside the current job */
    int sleepers;       /* workers waiting on `wake` */
} pool = {.lock = NN_MUTEX_INIT, .wake = NN_COND_INIT, .idle = NN_COND_INIT};

/* One product at a time: a second caller runs its tasks alone instead of waiting. */
static nn_mutex run_lock = NN_MUTEX_INIT;

/* The shared workspace (see pool.h), lent to one product at a time. */
static nn_mutex workspace_lock = NN_MUTEX_INIT;
static void *workspace;
static size_t workspace_bytes;

static void claim(nn_task_fn task, void *ctx, size_t tasks) {
    for (size_t t; (t = atomic_fetch_add(&pool.next, 1)) < tasks;) task(ctx, t);
}

static NN_THREAD_MAIN worker(void *arg) {
    (void)arg;
    nn_mutex_lock(&pool.lock);
    unsigned long seen = atomic_load(&pool.generation);
    for (;;) {
        /* Wait for a new job: spin a little without the lock, then sleep. */
        nn_mutex_unlock(&pool.lock);
        long long until = nn_now_ns() + SPIN_NS;
        for (int i = 1; atomic_load(&pool.generation) == seen; ++i) {
            nn_cpu_relax();
            if (i % 64 == 0 && nn_now_ns() > until) break;
        }
        nn_mutex_lock(&pool.lock);
        while (atomic_load(&pool.generation) == seen && !pool.quit) {
            pool.sleepers++;
            nn_cond_wait(&pool.wake, &pool.lock);
            pool.sleepers--;
        }
        if (pool.quit) break;
        seen = atomic_load(&pool.generation);
        if (atomic_load(&pool.next) >= pool.tasks) continue; /* woke too late: nothing left */
        atomic_fetch_add(&pool.busy, 1);
        nn_task_fn task = pool.task;
        void *ctx = pool.ctx;
        size_t tasks = pool.tasks;
        nn_mutex_unlock(&pool.lock);
        claim(task, ctx, tasks);
        nn_mutex_lock(&pool.lock);
        if (atomic_fetch_sub(&pool.busy, 1) == 1) nn_cond_signal(&pool.idle);
    }
    nn_mutex_unlock(&pool.lock);
    return NN_THREAD_DONE;
}

static int default_threads(void) {
    /* NN_NUM_THREADS, else OMP_NUM_THREADS (what the tests and benchmarks set for every threaded
     * library), else the CPUs this process may run on. */
    const char *names[] = {"NN_NUM_THREADS", "OMP_NUM_THREADS"};
    for (int i = 0; i < 2; ++i) {
        const char *value = getenv(names[i]);
        if (value != NULL) {
            long n = strtol(value, NULL, 10);
            if (n >= 1) return n > MAX_THREADS ? MAX_THREADS : (int)n;
        }
    }
    int n = nn_cpu_count();
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
}

#ifndef _WIN32
static void after_fork_in_child(void) {
    /* The child has only the thread that forked: no workers, and locks that other threads may
     * have held at the fork. Start afresh; workers are created again on first use. */
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.idle, NULL);
    pthread_mutex_init(&run_lock, NULL);
    pthread_mutex_init(&workspace_lock, NULL);
    pool.started = 0;
    pool.quit = 0;
    pool.sleepers = 0;
    atomic_store(&pool.busy, 0);
}

static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;
static void install_fork_handler(void) { pthread_atfork(NULL, NULL, after_fork_in_child); }
#define WATCH_FOR_FORK() pthread_once(&fork_handler_once, install_fork_handler)
#else
#define WATCH_FOR_FORK() ((void)0) /* Windows has no fork(): a child process starts afresh */
#endif

int nn_threads(void) {
    nn_mutex_lock(&pool.lock);
    if (pool.threads == 0) pool.threads = default_threads();
    int n = pool.threads;
    nn_mutex_unlock(&pool.lock);
    return n;
}

static void stop_workers(void) { /* call with run_lock held, not pool.lock */
    nn_mutex_lock(&pool.lock);
    pool.quit = 1;
    nn_cond_broadcast(&pool.wake);
    int started = pool.started;
    nn_mutex_unlock(&pool.lock);
    for (int i = 0; i < started; ++i) nn_thread_join(pool.workers[i]);
    nn_mutex_lock(&pool.lock);
    pool.started = 0;
    pool.quit = 0;
    nn_mutex_unlock(&pool.lock);
}

nn_status nn_set_threads(int threads) {
    if (threads < 0 || threads > MAX_THREADS) return NN_ERR_ARG;
    nn_mutex_lock(&run_lock); /* no product is running while the workers change */
    stop_workers();
    nn_mutex_lock(&pool.lock);
    pool.threads = threads == 0 ? default_threads() : threads;
    nn_mutex_unlock(&pool.lock);
    nn_mutex_unlock(&run_lock);
    return NN_OK;
}

void nn_pool_run(size_t tasks, nn_task_fn task, void *ctx, int parallel) {
    if (!parallel || tasks < 2 || nn_threads() < 2 || nn_mutex_trylock(&run_lock) != 0) {
        for (size_t t = 0; t < tasks; ++t) task(ctx, t);
        return;
    }
    WATCH_FOR_FORK();
    nn_mutex_lock(&pool.lock);
    while (pool.started < pool.threads - 1) { /* first use: start the workers */
        if (nn_thread_start(&pool.workers[pool.started], worker, NULL)) break;
        pool.started++;
    }
    pool.task = task;
    pool.ctx = ctx;
    pool.tasks = tasks;
    atomic_store(&pool.next, 0);
    atomic_fetch_add(&pool.generation, 1);
    if (pool.sleepers) nn_cond_broadcast(&pool.wake);
    nn_mutex_unlock(&pool.lock);

    claim(task, ctx, tasks);

    /* Every task is claimed; wait for those still running on workers (spin, then sleep). */
    long long until = nn_now_ns() + SPIN_NS;
    for (int i = 1; atomic_load(&pool.busy) > 0; ++i) {
        nn_cpu_relax();
        if (i % 64 == 0 && nn_now_ns() > until) break;
    }
    nn_mutex_lock(&pool.lock);
    while (atomic_load(&pool.busy) > 0) nn_cond_wait(&pool.idle, &pool.lock);
    nn_mutex_unlock(&pool.lock);
    nn_mutex_unlock(&run_lock);
}

static size_t round_up_64(size_t bytes) { return bytes > SIZE_MAX - 63 ? 0 : (bytes + 63) / 64 * 64; }

void *nn_workspace_get(nn_workspace *ws, size_t bytes) {
    size_t rounded = round_up_64(bytes == 0 ? 1 : bytes);
    if (rounded == 0) return ws->data = NULL;
    WATCH_FOR_FORK();
    if (nn_mutex_trylock(&workspace_lock) == 0) {
        if (workspace_bytes < rounded) {
            nn_aligned_free(workspace);
            workspace = nn_aligned_alloc(64, rounded);
            workspace_bytes = workspace ? rounded : 0;
        }
        if (workspace != NULL) {
            ws->own = 0;
            return ws->data = workspace;
        }
        nn_mutex_unlock(&workspace_lock);
    }
    ws->own = 1; /* lent out (another thread's product), or too large to keep: one of its own */
    return ws->data = nn_aligned_alloc(64, rounded);
}

void nn_workspace_put(nn_workspace *ws) {
    if (ws->own)
        nn_aligned_free(ws->data);
    else
        nn_mutex_unlock(&workspace_lock);
}
