// What the Swift kernels need from C that Swift cannot spell: software prefetch (`_mm_prefetch` is a C macro
// and `_m_prefetch` is a compiler builtin, neither of which Swift imports), and the acquire/release atomics and
// spin-wait hint that processes sharing memory synchronise with (Swift's atomics cannot live at an address in a
// mapping another process shares).
#ifndef CSHOALKERNELS_H
#define CSHOALKERNELS_H

/// Asks the CPU to bring the cache line holding `address` into all cache levels (`prefetcht0`); never faults.
static inline __attribute__((always_inline)) void shoal_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#include <stdint.h>

/// Reads `*address` with acquire ordering: memory written before the matching release store is visible after it.
static inline __attribute__((always_inline)) uint64_t shoal_load_acquire(const uint64_t *address) {
    return __atomic_load_n(address, __ATOMIC_ACQUIRE);
}

/// Writes `value` to `*address` with release ordering: everything written before it is visible to an acquire load
/// that sees `value`, in this process or another sharing the mapping.
static inline __attribute__((always_inline)) void shoal_store_release(uint64_t *address, uint64_t value) {
    __atomic_store_n(address, value, __ATOMIC_RELEASE);
}

/// Tells the CPU this is a spin-wait loop (`pause`), saving power and the sibling hyperthread's cycles.
static inline __attribute__((always_inline)) void shoal_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
