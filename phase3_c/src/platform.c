/* nn-foundations Phase 3: the clock and the CPU count of platform.h, per operating system.
 * They need the system headers with their POSIX and GNU parts (clock_gettime, Linux's
 * sched_getaffinity), which a C11 build switches on here, before any header is read. */
#define _GNU_SOURCE
#include "platform.h"

#if !defined(_WIN32)
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif
#endif

long long nn_now_ns(void) {
#if defined(_WIN32)
    LARGE_INTEGER count, frequency;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&frequency);
    /* whole seconds and the rest apart: count * 1e9 would overflow after days of uptime */
    long long hz = frequency.QuadPart;
    return count.QuadPart / hz * 1000000000LL + count.QuadPart % hz * 1000000000LL / hz;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
#endif
}

int nn_cpu_count(void) {
#if defined(_WIN32)
    /* The affinity mask covers one processor group (up to 64 CPUs); with more groups than one,
     * Windows 11 spreads a process's threads over all of them: count them all. */
    DWORD_PTR process, system;
    if (GetActiveProcessorGroupCount() == 1 && GetProcessAffinityMask(GetCurrentProcess(), &process, &system)) {
        int n = 0;
        for (; process; process &= process - 1) ++n;
        if (n >= 1) return n;
    }
    DWORD all = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return all >= 1 ? (int)all : 1;
#else
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set; /* the CPUs this process may use (taskset, a container's cpuset) */
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1) return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
#endif
}
