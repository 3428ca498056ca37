/* An asymmetric memory barrier: the store-then-load handshake of the idle
 * protocol (lib/sched/worker.c) without a fence on the frequent side.
 *
 * Two threads each store, then load what the other stored (a spawner: its
 * push, then the idle count; a parking worker: the idle count, then the
 * queues). Each needs a full barrier between its store and its load, or
 * both may miss the other. A seq_cst fence on every spawn costs what the
 * store buffer holds (measured here: a tenth of a spawn-and-join on 2
 * workers). Linux's membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) lets the
 * rare side pay instead: it makes every running thread of the process
 * execute a full barrier (an IPI) before it returns, so the frequent side
 * needs only a compiler barrier (the scheme of liburcu and of folly's
 * asymmetricHeavyBarrier). A parking worker is the rare side: it already
 * pays a futex sleep and a wake-up. */
#ifndef CORIO_CORE_BARRIER_H
#define CORIO_CORE_BARRIER_H

#include <stdatomic.h>

/* Register the process for the heavy barrier, once. Returns 1 if it is
 * available (Linux 4.14+ and not refused by a sandbox), 0 if the light
 * side must stay a full fence. Any thread. */
int corio__asym_barrier_init(void);

/* The light side: orders the caller's earlier stores before its later
 * loads against threads that call corio__asym_barrier_heavy. Only valid
 * after corio__asym_barrier_init returned 1. */
static inline void corio__asym_barrier_light(void) {
  atomic_signal_fence(memory_order_seq_cst);
}

/* The heavy side: a full barrier on every running thread of the process
 * (a few microseconds: an interrupt on each CPU that runs one of them). */
void corio__asym_barrier_heavy(void);

#endif
