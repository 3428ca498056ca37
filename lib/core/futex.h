/* Sleeping on a 32-bit word: Linux futex, or a condition variable elsewhere.
 * The one way a corio thread (worker or a plain thread in corio_join /
 * corio_rt_wait) goes to sleep. */
#ifndef CORIO_CORE_FUTEX_H
#define CORIO_CORE_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>

/* Sleep while *word == expected (spurious returns are allowed: callers
 * loop on their condition). */
void corio__futex_wait(_Atomic(uint32_t) *word, uint32_t expected);

/* The same, for at most ns nanoseconds. */
void corio__futex_wait_ns(_Atomic(uint32_t) *word, uint32_t expected,
                          uint64_t ns);

/* Wake up to n threads sleeping on word (n = INT32_MAX for all). */
void corio__futex_wake(_Atomic(uint32_t) *word, int n);

#endif
