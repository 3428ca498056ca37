/* Fences that ThreadSanitizer can follow.
 *
 * TSan models the release/acquire edges of atomic operations but not those
 * of atomic_thread_fence(): a release fence followed by a relaxed store
 * looks to it like a plain relaxed store, so it reports races on data that
 * the fence does protect (and GCC warns, -Wtsan, on every fence it sees).
 * Under TSan we therefore drop the bare fence and strengthen the atomic
 * operations it orders to the equivalent acquire/release or seq_cst ones:
 *
 *   corio__fence(memory_order_release);
 *   atomic_store_explicit(&x, v, CORIO__MO(memory_order_relaxed,
 *                                          memory_order_release));
 *
 * reads as "relaxed store after a release fence; a release store under
 * TSan". Outside TSan the code is exactly what the algorithm specifies.
 */
#ifndef CORIO_CORE_ATOMICS_H_
#define CORIO_CORE_ATOMICS_H_

#include <stdatomic.h>

#if defined(__SANITIZE_THREAD__)
# define CORIO__TSAN 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define CORIO__TSAN 1
# endif
#endif
#ifndef CORIO__TSAN
# define CORIO__TSAN 0
#endif

#if CORIO__TSAN
# define corio__fence(order) ((void) 0)
# define CORIO__MO(plain, tsan) (tsan)
#else
# define corio__fence(order) atomic_thread_fence(order)
# define CORIO__MO(plain, tsan) (plain)
#endif

/* Keeps fields that different threads write on different cache lines. */
#define CORIO__CACHE_LINE 64

/* Start fetching the cache line at p for writing: a line that another CPU
 * wrote last arrives owned, so the reads and writes that follow neither
 * wait for it one by one nor pay a second trip to take it over. x86-64:
 * PREFETCHW, which GCC emits only with -mprfchw (else a prefetch for
 * reading); CPUs without it execute it as a NOP. A hint: no effect on
 * what the program computes. */
static inline void corio__prefetch_write(const void *p) {
#if defined(__x86_64__)
  __asm__ __volatile__("prefetchw %0" : : "m"(*(const char *)p));
#else
  __builtin_prefetch(p, 1);
#endif
}

#endif /* CORIO_CORE_ATOMICS_H_ */
