/* Counting semaphore and wait group: a count and a FIFO of waiters behind
 * one spinlock each. */
#include <assert.h>
#include <uv.h>

#include "corio/sync.h"
#include "sched/wait.h"

typedef struct counted {
  corio__spin_t guard;
  int64_t count;
  corio__wlist_t waiters;
} counted_t;

static_assert(sizeof(counted_t) <= CORIO__SYNC_SIZE, "sync storage too small");


/* With the guard held, the caller having found it must wait: begin the
 * wait (UV_EINVAL outside a task, or a pending cancel, and the guard is
 * released), park w on c (the guard is released once w is off its stack),
 * and on a deadline or a cancel take w off the list. Checking before the
 * wait begins keeps a pending cancel for a call that really waits. */
static int park_on(counted_t *c, corio__waiter_t *w, int kind, uint64_t deadline) {
  int err;

  if ((err = corio__wait_begin(w)) != 0) {
    corio__spin_unlock(&c->guard);
    return err;
  }
  corio__wait_what(w, kind, c, (uint64_t)c->count);
  corio__wlist_push(&c->waiters, w);
  err = corio__wait_park(w, &c->guard, corio__deadline_ns(deadline));
  if (err != 0) {
    corio__spin_lock(&c->guard);
    corio__wlist_unlink(w);
    corio__spin_unlock(&c->guard);
  }
  return err;
}


static int counted_busy(counted_t *c) {
  int busy;

  corio__spin_lock(&c->guard);
  busy = !corio__wlist_empty(&c->waiters);
  corio__spin_unlock(&c->guard);
  return busy;
}


/* --- semaphore ------------------------------------------------------------ */

int corio_sem_init(corio_sem_t *cs, int64_t count) {
  counted_t *s = (counted_t *)cs;

  if (s == NULL || count < 0)
    return UV_EINVAL;
  atomic_init(&s->guard, 0);
  s->count = count;
  s->waiters = (corio__wlist_t){{NULL, NULL}};
  return 0;
}


int corio_sem_tryacquire(corio_sem_t *cs) {
  counted_t *s = (counted_t *)cs;
  int err = UV_EAGAIN;

  if (s == NULL)
    return UV_EINVAL;
  corio__spin_lock(&s->guard);
  if (s->count > 0) {
    s->count--;
    err = 0;
  }
  corio__spin_unlock(&s->guard);
  return err;
}


int corio_sem_acquire_dl(corio_sem_t *cs, uint64_t deadline) {
  counted_t *s = (counted_t *)cs;
  corio__waiter_t w;

  if (s == NULL)
    return UV_EINVAL;
  corio__spin_lock(&s->guard);
  if (s->count > 0) {
    s->count--;
    corio__spin_unlock(&s->guard);
    return 0;
  }
  return park_on(s, &w, CORIO__WK_SEM, deadline); /* woken with 0: a unit was handed over */
}


int corio_sem_acquire(corio_sem_t *s) {
  return corio_sem_acquire_dl(s, UINT64_MAX);
}


int corio_sem_release(corio_sem_t *cs, int64_t n) {
  counted_t *s = (counted_t *)cs;
  corio__waiter_t *w;

  if (s == NULL || n <= 0)
    return UV_EINVAL;
  corio__spin_lock(&s->guard);
  /* Waiters exist only at count 0, so a count that cannot take n now
   * cannot take what the waiters leave of it either. */
  if (s->count > INT64_MAX - n) {
    corio__spin_unlock(&s->guard);
    return UV_EINVAL;
  }
  while (n > 0 && (w = corio__wlist_pop(&s->waiters)) != NULL)
    if (corio__wake(w, 0))
      n--;
  s->count += n;
  corio__spin_unlock(&s->guard);
  return 0;
}


int corio_sem_destroy(corio_sem_t *cs) {
  counted_t *s = (counted_t *)cs;

  if (s == NULL)
    return UV_EINVAL;
  return counted_busy(s) ? UV_EBUSY : 0;
}


/* --- wait group ----------------------------------------------------------- */

int corio_wg_add(corio_wg_t *cw, int64_t n) {
  counted_t *g = (counted_t *)cw;
  corio__waiter_t *w;

  if (g == NULL)
    return UV_EINVAL;
  corio__spin_lock(&g->guard);
  /* count >= 0 always, so count + n cannot overflow below */
  if (n > 0 ? g->count > INT64_MAX - n : g->count + n < 0) {
    corio__spin_unlock(&g->guard);
    return UV_EINVAL;
  }
  g->count += n;
  if (g->count == 0)
    while ((w = corio__wlist_pop(&g->waiters)) != NULL)
      corio__wake(w, 0);
  corio__spin_unlock(&g->guard);
  return 0;
}


int corio_wg_done(corio_wg_t *g) {
  return corio_wg_add(g, -1);
}


int corio_wg_wait_dl(corio_wg_t *cw, uint64_t deadline) {
  counted_t *g = (counted_t *)cw;
  corio__waiter_t w;

  if (g == NULL)
    return UV_EINVAL;
  corio__spin_lock(&g->guard);
  if (g->count == 0) {
    corio__spin_unlock(&g->guard);
    return 0;
  }
  return park_on(g, &w, CORIO__WK_WG, deadline);
}


int corio_wg_wait(corio_wg_t *g) {
  return corio_wg_wait_dl(g, UINT64_MAX);
}


int corio_wg_destroy(corio_wg_t *cw) {
  counted_t *g = (counted_t *)cw;

  if (g == NULL)
    return UV_EINVAL;
  return counted_busy(g) ? UV_EBUSY : 0;
}
