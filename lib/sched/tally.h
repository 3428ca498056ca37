/* Counting and listing tasks without a shared hot spot.
 *
 * A runtime must know which tasks are still alive (corio_rt_wait, the
 * attached loop's ref) and find every task not yet freed (corio_rt_free).
 * One global counter and one global list would put a contended cache line
 * on every spawn and exit. Instead every thread that spawns or finishes
 * tasks has a tally of its own: each worker, the loop thread, and one
 * shared by foreign threads.
 *
 *  - `spawned` and `finished` only grow. A worker's and the loop's are
 *    written by their own thread alone (a plain store, no RMW); the
 *    foreign tally's spawned count takes an RMW (any thread). A task adds
 *    to the spawned count of the tally where it was spawned and to the
 *    finished count of the one where it finished. The number of live tasks
 *    is the sum of the differences, read by a double collect: read every
 *    pair twice; if nothing moved in between, both reads show the counts
 *    as they all were at one instant (each only grows), so the sum is
 *    exact for that instant.
 *  - `tasks` lists the tasks spawned here and not yet freed. A worker's
 *    and the loop's list are touched by their own thread alone, with no
 *    lock: a task freed on another thread (joined or finished elsewhere)
 *    is pushed on `remote` (one CAS) and unlinked and released by the
 *    owner later, when it next spawns, goes idle or the runtime is freed
 *    (mimalloc frees across threads the same way). Its record then goes
 *    back to the pool of the thread that will spawn with it again. The
 *    foreign tally has no owner thread: its list is under `lock`.
 */
#ifndef CORIO_SCHED_TALLY_H
#define CORIO_SCHED_TALLY_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/atomics.h"
#include "core/list.h"
#include "core/spin.h"

struct corio_task_s;

typedef struct corio__tally {
  _Alignas(CORIO__CACHE_LINE) _Atomic(uint64_t) spawned;
  _Atomic(uint64_t) finished;
  corio__spin_t lock;            /* the foreign tally's list */
  corio__list_t tasks;
  int carried_back;              /* owner only: not yet given back */
  /* Tasks of this list freed by other threads, linked through next; and
   * whether it has an owner thread (a worker's or the loop's: no lock),
   * on this line because those freers read it (the line above is written
   * on every spawn and end). */
  _Alignas(CORIO__CACHE_LINE) _Atomic(struct corio_task_s *) remote;
  int owned;
  /* Stacks that tasks spawned here and ended elsewhere may still carry
   * home in their records (corio__task_end): the ending thread takes one
   * before it carries, the owner gives them back as it frees those
   * records (carried_back, CORIO__CARRY_BATCH at a time). So finished,
   * unjoined records hold at most about CORIO__CARRY_MAX stacks. On a
   * line of its own: the owner reads the one above on every free. */
  _Alignas(CORIO__CACHE_LINE) _Atomic(int) carry_budget;
} corio__tally_t;

#define CORIO__CARRY_MAX 1024
#define CORIO__CARRY_BATCH 32

void corio__tally_init(corio__tally_t *t, int owned);

/* Count one more spawned here, by its owner thread (owner != 0) or by any
 * thread (the foreign tally). */
static inline void corio__tally_spawned(corio__tally_t *t, int owner) {
  if (owner)
    /* release: pairs with the collect's acquire loads */
    atomic_store_explicit(&t->spawned,
                          atomic_load_explicit(&t->spawned, memory_order_relaxed) + 1,
                          memory_order_release);
  else
    atomic_fetch_add_explicit(&t->spawned, 1, memory_order_release);
}

/* Count one more finished here. Owner thread only. */
static inline void corio__tally_finished(corio__tally_t *t) {
  /* release: the task's effects are visible to whoever sees the count */
  atomic_store_explicit(&t->finished,
                        atomic_load_explicit(&t->finished, memory_order_relaxed) + 1,
                        memory_order_release);
}

/* The number of live tasks over tallies[0..n), as of one instant. Any
 * thread; not for hot paths (it reads every tally twice, or more while
 * they move). */
uint64_t corio__tally_live(corio__tally_t *const *tallies, unsigned n);

#endif
