/* A tiny spinlock: for a few pointer updates (a task's join state, the
 * waiter lists of sync primitives), and held across the switch of a task
 * that parks, released by its park function on the worker (docs/DESIGN.md 3).
 * If the holder was preempted, waiting threads give up their CPU to it. */
#ifndef CORIO_CORE_SPIN_H
#define CORIO_CORE_SPIN_H

#include <sched.h>
#include <stdatomic.h>

typedef _Atomic(int) corio__spin_t;

static inline void corio__spin_lock(corio__spin_t *l) {
  unsigned spins = 0;

  /* acquire: pairs with corio__spin_unlock */
  while (atomic_exchange_explicit(l, 1, memory_order_acquire) != 0)
    while (atomic_load_explicit(l, memory_order_relaxed) != 0)
      if (++spins % 128 == 0)
        sched_yield();
}

/* Wait until l is free, without taking it: for a reader that only needs
 * the holder to be done with the object (acquire: sees what it did). */
static inline void corio__spin_wait_free(corio__spin_t *l) {
  unsigned spins = 0;

  while (atomic_load_explicit(l, memory_order_acquire) != 0)
    if (++spins % 128 == 0)
      sched_yield();
}

static inline void corio__spin_unlock(corio__spin_t *l) {
  /* release: the next holder sees our updates */
  atomic_store_explicit(l, 0, memory_order_release);
}

#endif
