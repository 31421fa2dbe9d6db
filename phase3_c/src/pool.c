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
 * with no workers and creates its own. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sched.h>
#endif

#include "matrix.h"

enum { MAX_THREADS = 256 };
/* How long an idle thread spins before it sleeps, in nanoseconds. */
static const long SPIN_NS = 50000;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* workers sleep here between jobs */
    pthread_cond_t idle; /* the caller sleeps here until the workers in its job are done */
    int threads;         /* wanted: the calling thread + workers; 0 = not decided yet */
    int started;         /* workers running */
    int quit;
    pthread_t workers[MAX_THREADS];
    /* the current job, written under `lock` */
    atomic_ulong generation; /* bumped for every job */
    nn_task_fn task;
    void *ctx;
    size_t tasks;
    atomic_size_t next; /* the next task to claim */
    atomic_int busy;    /* workers inside the current job */
    int sleepers;       /* workers waiting on `wake` */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};

/* One product at a time: a second caller runs its tasks alone instead of waiting. */
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;

/* The shared workspace (see pool.h), lent to one product at a time. */
static pthread_mutex_t workspace_lock = PTHREAD_MUTEX_INITIALIZER;
static void *workspace;
static size_t workspace_bytes;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A hint that this thread is spinning: it lets the other hardware thread of the core run, and
 * saves power. x86's `pause`; on aarch64 `isb`, which stalls for some tens of cycles where
 * `yield` is a no-op on most cores (Rust's spin_loop hint made the same choice). */
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    __asm__ __volatile__("isb" ::: "memory");
#endif
}

static void claim(nn_task_fn task, void *ctx, size_t tasks) {
    for (size_t t; (t = atomic_fetch_add(&pool.next, 1)) < tasks;) task(ctx, t);
}

static void *worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&pool.lock);
    unsigned long seen = atomic_load(&pool.generation);
    for (;;) {
        /* Wait for a new job: spin a little without the lock, then sleep. */
        pthread_mutex_unlock(&pool.lock);
        long long until = now_ns() + SPIN_NS;
        for (int i = 1; atomic_load(&pool.generation) == seen; ++i) {
            cpu_relax();
            if (i % 64 == 0 && now_ns() > until) break;
        }
        pthread_mutex_lock(&pool.lock);
        while (atomic_load(&pool.generation) == seen && !pool.quit) {
            pool.sleepers++;
            pthread_cond_wait(&pool.wake, &pool.lock);
            pool.sleepers--;
        }
        if (pool.quit) break;
        seen = atomic_load(&pool.generation);
        if (atomic_load(&pool.next) >= pool.tasks) continue; /* woke too late: nothing left */
        atomic_fetch_add(&pool.busy, 1);
        nn_task_fn task = pool.task;
        void *ctx = pool.ctx;
        size_t tasks = pool.tasks;
        pthread_mutex_unlock(&pool.lock);
        claim(task, ctx, tasks);
        pthread_mutex_lock(&pool.lock);
        if (atomic_fetch_sub(&pool.busy, 1) == 1) pthread_cond_signal(&pool.idle);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
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
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n >= 1) return n > MAX_THREADS ? MAX_THREADS : n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

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

int nn_threads(void) {
    pthread_mutex_lock(&pool.lock);
    if (pool.threads == 0) pool.threads = default_threads();
    int n = pool.threads;
    pthread_mutex_unlock(&pool.lock);
    return n;
}

static void stop_workers(void) { /* call with run_lock held, not pool.lock */
    pthread_mutex_lock(&pool.lock);
    pool.quit = 1;
    pthread_cond_broadcast(&pool.wake);
    int started = pool.started;
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < started; ++i) pthread_join(pool.workers[i], NULL);
    pthread_mutex_lock(&pool.lock);
    pool.started = 0;
    pool.quit = 0;
    pthread_mutex_unlock(&pool.lock);
}

nn_status nn_set_threads(int threads) {
    if (threads < 0 || threads > MAX_THREADS) return NN_ERR_ARG;
    pthread_mutex_lock(&run_lock); /* no product is running while the workers change */
    stop_workers();
    pthread_mutex_lock(&pool.lock);
    pool.threads = threads == 0 ? default_threads() : threads;
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&run_lock);
    return NN_OK;
}

void nn_pool_run(size_t tasks, nn_task_fn task, void *ctx, int parallel) {
    if (!parallel || tasks < 2 || nn_threads() < 2 || pthread_mutex_trylock(&run_lock) != 0) {
        for (size_t t = 0; t < tasks; ++t) task(ctx, t);
        return;
    }
    pthread_once(&fork_handler_once, install_fork_handler);
    pthread_mutex_lock(&pool.lock);
    while (pool.started < pool.threads - 1) { /* first use: start the workers */
        if (pthread_create(&pool.workers[pool.started], NULL, worker, NULL) != 0) break;
        pool.started++;
    }
    pool.task = task;
    pool.ctx = ctx;
    pool.tasks = tasks;
    atomic_store(&pool.next, 0);
    atomic_fetch_add(&pool.generation, 1);
    if (pool.sleepers) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    claim(task, ctx, tasks);

    /* Every task is claimed; wait for those still running on workers (spin, then sleep). */
    long long until = now_ns() + SPIN_NS;
    for (int i = 1; atomic_load(&pool.busy) > 0; ++i) {
        cpu_relax();
        if (i % 64 == 0 && now_ns() > until) break;
    }
    pthread_mutex_lock(&pool.lock);
    while (atomic_load(&pool.busy) > 0) pthread_cond_wait(&pool.idle, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&run_lock);
}

static size_t round_up_64(size_t bytes) { return bytes > SIZE_MAX - 63 ? 0 : (bytes + 63) / 64 * 64; }

void *nn_workspace_get(nn_workspace *ws, size_t bytes) {
    size_t rounded = round_up_64(bytes == 0 ? 1 : bytes);
    if (rounded == 0) return ws->data = NULL;
    pthread_once(&fork_handler_once, install_fork_handler);
    if (pthread_mutex_trylock(&workspace_lock) == 0) {
        if (workspace_bytes < rounded) {
            free(workspace);
            workspace = aligned_alloc(64, rounded);
            workspace_bytes = workspace ? rounded : 0;
        }
        if (workspace != NULL) {
            ws->own = 0;
            return ws->data = workspace;
        }
        pthread_mutex_unlock(&workspace_lock);
    }
    ws->own = 1; /* lent out (another thread's product), or too large to keep: one of its own */
    return ws->data = aligned_alloc(64, rounded);
}

void nn_workspace_put(nn_workspace *ws) {
    if (ws->own)
        free(ws->data);
    else
        pthread_mutex_unlock(&workspace_lock);
}
