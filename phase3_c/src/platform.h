/* nn-foundations Phase 3: the little the library needs from the operating system, in one place
 * (internal header).
 *
 * C11 itself has no threads that every compiler ships (macOS lacks <threads.h>), no monotonic
 * clock, no CPU count, and an aligned_alloc that neither Windows C runtime provides (Windows has
 * _aligned_malloc, whose blocks must go back through _aligned_free, never free). So the library
 * asks this header, which speaks POSIX (Linux, macOS, the BSDs) or Win32 (MSVC and MinGW-w64),
 * each in a handful of lines:
 *   memory   nn_aligned_alloc / nn_aligned_free  (bytes: a multiple of the alignment)
 *   threads  nn_thread_start / nn_thread_join; a worker is `static NN_THREAD_MAIN name(void *arg)`
 *            returning NN_THREAD_DONE
 *   locks    nn_mutex (NN_MUTEX_INIT), nn_cond (NN_COND_INIT): lock, trylock (0: acquired), wait,
 *            signal, broadcast, as pthreads have them
 *   time     nn_now_ns: a monotonic clock in nanoseconds
 *   CPUs     nn_cpu_count: the CPUs this process may run on
 *   spinning nn_cpu_relax: the CPU's hint that this thread is spinning (x86 pause, aarch64 isb)
 * Atomics need nothing here: <stdatomic.h> is C11's, and MSVC has it from Visual Studio 2022
 * 17.5 behind /experimental:c11atomics (phase3_c/meson.build passes it).
 * Left out: fork. Windows has none, so a child process there starts with a fresh library; on
 * POSIX pool.c resets the pool in a forked child itself (pthread_atfork).
 * The clock and the CPU count live in platform.c: they need the system headers with their
 * POSIX and GNU parts switched on, which must happen before any other header is read. */
#ifndef NN_PLATFORM_H
#define NN_PLATFORM_H

#include <stddef.h>
#include <stdlib.h>

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX /* no min and max macros: they would break std::min and std::max in C++ */
#endif
#include <malloc.h> /* _aligned_malloc */
#include <windows.h>
#else
#include <pthread.h>
#endif

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#include <emmintrin.h> /* _mm_pause: SSE2, in every x86-64 CPU */
#elif defined(_MSC_VER) && defined(_M_ARM64)
#include <intrin.h> /* __yield */
#endif

/* ---- memory ------------------------------------------------------------------------------ */
static inline void *nn_aligned_alloc(size_t alignment, size_t bytes) {
#if defined(_WIN32)
    return _aligned_malloc(bytes, alignment);
#else
    return aligned_alloc(alignment, bytes);
#endif
}

static inline void nn_aligned_free(void *p) {
#if defined(_WIN32)
    _aligned_free(p);
#else
    free(p);
#endif
}

/* ---- threads, locks, condition variables ------------------------------------------------ */
#if defined(_WIN32)
typedef HANDLE nn_thread;
#define NN_THREAD_MAIN DWORD WINAPI
#define NN_THREAD_DONE 0
typedef LPTHREAD_START_ROUTINE nn_thread_fn;
/* slim reader/writer locks: statically initialised, no destructor, as pthread mutexes */
typedef SRWLOCK nn_mutex;
typedef CONDITION_VARIABLE nn_cond;
#define NN_MUTEX_INIT SRWLOCK_INIT
#define NN_COND_INIT CONDITION_VARIABLE_INIT

static inline int nn_thread_start(nn_thread *t, nn_thread_fn fn, void *arg) {
    *t = CreateThread(NULL, 0, fn, arg, 0, NULL);
    return *t == NULL;
}
static inline void nn_thread_join(nn_thread t) {
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}
static inline void nn_mutex_lock(nn_mutex *m) { AcquireSRWLockExclusive(m); }
static inline int nn_mutex_trylock(nn_mutex *m) { return !TryAcquireSRWLockExclusive(m); }
static inline void nn_mutex_unlock(nn_mutex *m) { ReleaseSRWLockExclusive(m); }
static inline void nn_cond_wait(nn_cond *c, nn_mutex *m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static inline void nn_cond_signal(nn_cond *c) { WakeConditionVariable(c); }
static inline void nn_cond_broadcast(nn_cond *c) { WakeAllConditionVariable(c); }
#else
typedef pthread_t nn_thread;
#define NN_THREAD_MAIN void *
#define NN_THREAD_DONE NULL
typedef void *(*nn_thread_fn)(void *);
typedef pthread_mutex_t nn_mutex;
typedef pthread_cond_t nn_cond;
#define NN_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
#define NN_COND_INIT PTHREAD_COND_INITIALIZER

static inline int nn_thread_start(nn_thread *t, nn_thread_fn fn, void *arg) {
    return pthread_create(t, NULL, fn, arg) != 0;
}
static inline void nn_thread_join(nn_thread t) { pthread_join(t, NULL); }
static inline void nn_mutex_lock(nn_mutex *m) { pthread_mutex_lock(m); }
static inline int nn_mutex_trylock(nn_mutex *m) { return pthread_mutex_trylock(m) != 0; }
static inline void nn_mutex_unlock(nn_mutex *m) { pthread_mutex_unlock(m); }
static inline void nn_cond_wait(nn_cond *c, nn_mutex *m) { pthread_cond_wait(c, m); }
static inline void nn_cond_signal(nn_cond *c) { pthread_cond_signal(c); }
static inline void nn_cond_broadcast(nn_cond *c) { pthread_cond_broadcast(c); }
#endif

/* ---- time, CPUs, spinning --------------------------------------------------------------- */
long long nn_now_ns(void); /* a monotonic clock, in nanoseconds */
int nn_cpu_count(void);    /* the CPUs this process may run on (at least 1) */

/* x86's `pause` lets the core's other hardware thread run and saves power. On aarch64 `isb`,
 * which stalls for some tens of cycles, where `yield` is a no-op on most cores (Rust's
 * spin_loop hint made the same choice); 32-bit ARM keeps `yield`. */
static inline void nn_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
    _mm_pause();
#elif defined(_MSC_VER) && defined(_M_ARM64)
    __isb(_ARM64_BARRIER_SY);
#elif defined(__aarch64__)
    __asm__ __volatile__("isb" ::: "memory");
#elif defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

#endif /* NN_PLATFORM_H */
