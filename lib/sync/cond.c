/* The condition variable: a FIFO of waiters behind a spinlock. A waiter
 * queues itself before it lets go of the mutex, so a signal sent by
 * whoever takes the mutex next cannot miss it. */
#include <assert.h>
#include <uv.h>

#include "corio/sync.h"
#include "sched/wait.h"

typedef struct cond {
  corio__spin_t guard;
  corio__wlist_t waiters;
} cond_t;

static_assert(sizeof(cond_t) <= CORIO__SYNC_SIZE, "corio_cond_t too small");


/* Take m again after the wait, whatever ended it. A cancel that comes
 * meanwhile is not lost: it is reported if the wait itself succeeded,
 * else left pending for the task's next wait. */
static int relock(corio_mutex_t *m, int err) {
  int cancelled = 0;

  while (corio_mutex_lock(m) == UV_ECANCELED)
    cancelled = 1;
  if (cancelled) {
    if (err == 0)
      err = UV_ECANCELED;
    else
      corio_cancel(corio_self());
  }
  return err;
}


int corio_cond_wait_dl(corio_cond_t *cc, corio_mutex_t *m, uint64_t deadline) {
  cond_t *c = (cond_t *)cc;
  corio__waiter_t w;
  int err;

  if (c == NULL || m == NULL)
    return UV_EINVAL;
  if ((err = corio__wait_begin(&w)) != 0)
    return err; /* m untouched */
  corio__spin_lock(&c->guard);
  corio__wlist_push(&c->waiters, &w);
  /* On the list before the mutex goes: a signal after the unlock finds
   * us (the signaller needs the guard we hold). */
  if ((err = corio_mutex_unlock(m)) != 0) {
    corio__wlist_unlink(&w);
    corio__spin_unlock(&c->guard);
    return err; /* UV_EPERM: m was not locked */
  }
  corio__wait_what(&w, CORIO__WK_COND, c, 0);
  err = corio__wait_park(&w, &c->guard, corio__deadline_ns(deadline));
  if (err != 0) {
    corio__spin_lock(&c->guard);
    corio__wlist_unlink(&w);
    corio__spin_unlock(&c->guard);
  }
  return relock(m, err);
}


int corio_cond_wait(corio_cond_t *c, corio_mutex_t *m) {
  return corio_cond_wait_dl(c, m, UINT64_MAX);
}


static int cond_wake(corio_cond_t *cc, int all) {
  cond_t *c = (cond_t *)cc;
  corio__waiter_t *w;

  if (c == NULL)
    return UV_EINVAL;
  corio__spin_lock(&c->guard);
  while ((w = corio__wlist_pop(&c->waiters)) != NULL)
    if (corio__wake(w, 0) && !all)
      break;
  corio__spin_unlock(&c->guard);
  return 0;
}


int corio_cond_signal(corio_cond_t *c) {
  return cond_wake(c, 0);
}


int corio_cond_broadcast(corio_cond_t *c) {
  return cond_wake(c, 1);
}


int corio_cond_destroy(corio_cond_t *cc) {
  cond_t *c = (cond_t *)cc;
  int busy;

  if (c == NULL)
    return UV_EINVAL;
  corio__spin_lock(&c->guard);
  busy = !corio__wlist_empty(&c->waiters);
  corio__spin_unlock(&c->guard);
  return busy ? UV_EBUSY : 0;
}
