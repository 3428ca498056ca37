/* The mutex: a state word for the uncontended path and, behind a
 * spinlock, a FIFO of waiters to which unlock hands the mutex directly. */
#include <assert.h>
#include <uv.h>

#include "corio/sync.h"
#include "sched/wait.h"

/* The state word's bits. WAITERS is set, under the guard, only while
 * LOCKED is: it sends unlock to the slow path, which hands over. */
enum { LOCKED = 1u, WAITERS = 2u };

typedef struct mutex {
  _Atomic(uint32_t) state;
  corio__spin_t guard;
  corio__wlist_t waiters;
} mutex_t;

static_assert(sizeof(mutex_t) <= CORIO__SYNC_SIZE, "corio_mutex_t too small");


/* Under the guard: with nobody left on the list, let unlock take the fast
 * path again. relaxed: the guard orders it with the list. */
static void drop_waiters_bit(mutex_t *m) {
  if (corio__wlist_empty(&m->waiters))
    atomic_fetch_and_explicit(&m->state, ~WAITERS, memory_order_relaxed);
}


int corio_mutex_trylock(corio_mutex_t *cm) {
  mutex_t *m = (mutex_t *)cm;
  uint32_t free_ = 0;

  if (m == NULL)
    return UV_EINVAL;
  /* acquire: the critical section starts here */
  return atomic_compare_exchange_strong_explicit(&m->state, &free_, LOCKED,
                                                 memory_order_acquire,
                                                 memory_order_relaxed)
             ? 0
             : UV_EBUSY;
}


int corio_mutex_lock_dl(corio_mutex_t *cm, uint64_t deadline) {
  mutex_t *m = (mutex_t *)cm;
  corio__waiter_t w;
  uint32_t s;
  int err;

  if (m == NULL)
    return UV_EINVAL;
  if (corio_mutex_trylock(cm) == 0)
    return 0;
  corio__spin_lock(&m->guard);
  /* relaxed: a first guess for the CAS below, which re-reads on failure */
  s = atomic_load_explicit(&m->state, memory_order_relaxed);
  for (;;) {
    if (!(s & LOCKED)) {
      /* acquire: the critical section starts here */
      if (atomic_compare_exchange_weak_explicit(&m->state, &s, s | LOCKED,
                                                memory_order_acquire,
                                                memory_order_relaxed)) {
        corio__spin_unlock(&m->guard);
        return 0;
      }
      continue;
    }
    /* Mark waiters, so that unlock takes the slow path and hands over.
     * relaxed: only the word itself matters (unlock's CAS on it then
     * fails); the hand-over is ordered by the guard and the wake token. */
    if ((s & WAITERS) ||
        atomic_compare_exchange_weak_explicit(&m->state, &s, s | WAITERS,
                                              memory_order_relaxed,
                                              memory_order_relaxed))
      break;
  }
  if ((err = corio__wait_begin(&w)) != 0) {
    drop_waiters_bit(m);
    corio__spin_unlock(&m->guard);
    return err;
  }
  corio__wlist_push(&m->waiters, &w);
  corio__wait_what(&w, CORIO__WK_MUTEX, m, 0);
  err = corio__wait_park(&w, &m->guard, corio__deadline_ns(deadline));
  if (err == 0)
    return 0; /* handed over: ours, still LOCKED */
  corio__spin_lock(&m->guard);
  corio__wlist_unlink(&w);
  drop_waiters_bit(m);
  corio__spin_unlock(&m->guard);
  return err;
}


int corio_mutex_lock(corio_mutex_t *m) {
  return corio_mutex_lock_dl(m, UINT64_MAX);
}


int corio_mutex_unlock(corio_mutex_t *cm) {
  mutex_t *m = (mutex_t *)cm;
  uint32_t locked = LOCKED;
  corio__waiter_t *w;

  if (m == NULL)
    return UV_EINVAL;
  /* release: the critical section ends here */
  if (atomic_compare_exchange_strong_explicit(&m->state, &locked, 0,
                                              memory_order_release,
                                              memory_order_relaxed))
    return 0;
  if (!(locked & LOCKED))
    return UV_EPERM;
  corio__spin_lock(&m->guard);
  while ((w = corio__wlist_pop(&m->waiters)) != NULL) {
    if (corio__wake(w, 0)) {
      /* Baton passed: stays LOCKED, now the waiter's. */
      drop_waiters_bit(m);
      corio__spin_unlock(&m->guard);
      return 0;
    }
  }
  atomic_store_explicit(&m->state, 0, memory_order_release);
  corio__spin_unlock(&m->guard);
  return 0;
}


int corio_mutex_destroy(corio_mutex_t *cm) {
  mutex_t *m = (mutex_t *)cm;

  if (m == NULL)
    return UV_EINVAL;
  /* relaxed: a snapshot; by contract nothing else uses m meanwhile */
  return atomic_load_explicit(&m->state, memory_order_relaxed) != 0 ? UV_EBUSY
                                                                     : 0;
}
