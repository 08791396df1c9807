// What the Swift kernels need from C that Swift cannot spell: software prefetch (`_mm_prefetch` is a C macro
// and `_m_prefetch` is a compiler builtin, neither of which Swift imports).
#ifndef CSHOALKERNELS_H
#define CSHOALKERNELS_H

/// Asks the CPU to bring the cache line holding `address` into all cache levels (`prefetcht0`); never faults.
static inline __attribute__((always_inline)) void shoal_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
