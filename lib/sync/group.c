/* Task groups (corio/group.h): a list of running members under a
 * spinlock, their count, the first failure, and waiters woken whenever a
 * member ends.
 *
 * A member's task is spawned detached and links itself into the group as
 * it starts (its record is then corio_self()), and unlinks itself, under
 * the same lock, before its function returns; so a member on the list
 * has a live task record, which is what lets corio_group_cancel call
 * corio_cancel on it under the lock. A member counted but not yet linked
 * (spawned, not started) finds the group cancelled when it links itself,
 * and cancels itself. */
#include <stdlib.h>
#include <uv.h>

#include "core/list.h"
#include "core/spin.h"
#include "corio/group.h"
#include "group.h"
#include "sched/wait.h"

typedef struct member {
  corio__list_t link;            /* on running, then (RESULTS) on ended */
  corio_group_t *g;
  corio_group_fn fn;
  void *arg;
  corio_task_t *task;            /* while on running */
  int result;
} member_t;

struct corio_group_s {
  corio_rt_t *rt;
  unsigned flags;
  corio__spin_t lock;            /* everything below */
  corio__list_t running;         /* member_t, started and linked */
  corio__list_t ended;           /* member_t, results not taken yet */
  size_t live;                   /* spawned and not ended */
  int cancelled;
  int first_failure;
  corio__wlist_t waiters;        /* woken, all of them, as a member ends */
};


int corio_group_new(corio_rt_t *rt, unsigned flags, corio_group_t **out) {
  corio_group_t *g;

  if (out == NULL)
    return UV_EINVAL;
  *out = NULL;
  if (rt == NULL || (flags & ~(CORIO_GROUP_FAIL_FAST | CORIO_GROUP_RESULTS)) != 0)
    return UV_EINVAL;
  if ((g = calloc(1, sizeof *g)) == NULL)
    return UV_ENOMEM;
  g->rt = rt;
  g->flags = flags;
  atomic_init(&g->lock, 0);
  corio__list_init(&g->running);
  corio__list_init(&g->ended);
  corio__list_init(&g->waiters.head);
  *out = g;
  return 0;
}


/* Cancel every running member; the lock is held. */
static void cancel_locked(corio_group_t *g) {
  corio__list_t *l;

  g->cancelled = 1;
  for (l = g->running.next; l != &g->running; l = l->next)
    corio__cancel(corio__container_of(l, member_t, link)->task);
}


static void *member_entry(void *arg) {
  member_t *m = arg;
  corio_group_t *g = m->g;
  int cancelled, r;

  corio__spin_lock(&g->lock);
  m->task = corio_self();
  corio__list_push_back(&g->running, &m->link);
  cancelled = g->cancelled;
  corio__spin_unlock(&g->lock);
  if (cancelled)
    corio__cancel(m->task); /* pending for its first wait */

  r = m->fn(m->arg);

  corio__spin_lock(&g->lock);
  corio__list_remove(&m->link);
  m->task = NULL;
  m->result = r;
  /* A member that reports the group's own cancel did not fail. */
  if (r != 0 && g->first_failure == 0 && !(r == UV_ECANCELED && g->cancelled)) {
    g->first_failure = r;
    if (g->flags & CORIO_GROUP_FAIL_FAST)
      cancel_locked(g);
  }
  if (g->flags & CORIO_GROUP_RESULTS)
    corio__list_push_back(&g->ended, &m->link);
  else
    free(m);
  g->live--;
  corio__wake_all(&g->waiters);
  /* Last touch of g: once the lock is free a closer may free it. */
  corio__spin_unlock(&g->lock);
  return NULL;
}


int corio__group_spawn_with(corio_group_t *g, corio_group_fn fn, void *arg,
                            corio__group_spawner_t spawner) {
  member_t *m;
  int err;

  if (g == NULL || fn == NULL)
    return UV_EINVAL;
  if ((m = malloc(sizeof *m)) == NULL)
    return UV_ENOMEM;
  m->g = g;
  m->fn = fn;
  m->arg = arg;
  m->task = NULL;
  m->result = 0;
  corio__spin_lock(&g->lock);
  if (g->cancelled) {
    corio__spin_unlock(&g->lock);
    free(m);
    return UV_ECANCELED;
  }
  g->live++;
  corio__spin_unlock(&g->lock);
  err = spawner != NULL ? spawner(g->rt, member_entry, m)
                        : corio_spawn(g->rt, member_entry, m, NULL);
  if (err != 0) {
    corio__spin_lock(&g->lock);
    g->live--;
    corio__wake_all(&g->waiters);
    corio__spin_unlock(&g->lock);
    free(m);
  }
  return err;
}


int corio_group_spawn(corio_group_t *g, corio_group_fn fn, void *arg) {
  return corio__group_spawn_with(g, fn, arg, NULL);
}


int corio_group_cancel(corio_group_t *g) {
  if (g == NULL)
    return UV_EINVAL;
  corio__spin_lock(&g->lock);
  cancel_locked(g);
  corio__spin_unlock(&g->lock);
  return 0;
}


size_t corio_group_size(corio_group_t *g) {
  size_t n;

  if (g == NULL)
    return 0;
  corio__spin_lock(&g->lock);
  n = g->live;
  corio__spin_unlock(&g->lock);
  return n;
}


/* With the lock held and something to wait for: park until a member
 * ends (0; the lock is held again), or the deadline or a cancel (the
 * error; the lock is released, and on a cancel the group is cancelled:
 * downwards). */
static int park_locked(corio_group_t *g, uint64_t deadline) {
  int err = corio__wait_on_list(&g->waiters, &g->lock, CORIO__WK_GROUP, g, g->live, deadline);

  if (err == UV_ECANCELED) {
    corio__spin_lock(&g->lock);
    cancel_locked(g);
    corio__spin_unlock(&g->lock);
  }
  return err;
}


static void drop_ended_locked(corio_group_t *g) {
  corio__list_t *l;

  while ((l = corio__list_pop_front(&g->ended)) != NULL)
    free(corio__container_of(l, member_t, link));
}


int corio_group_wait_dl(corio_group_t *g, uint64_t deadline) {
  int err;

  if (g == NULL)
    return UV_EINVAL;
  corio__spin_lock(&g->lock);
  while (g->live > 0)
    if ((err = park_locked(g, deadline)) != 0)
      return err;
  drop_ended_locked(g);
  err = g->first_failure;
  corio__spin_unlock(&g->lock);
  return err;
}


int corio_group_wait(corio_group_t *g) {
  return corio_group_wait_dl(g, UINT64_MAX);
}


int corio_group_next_dl(corio_group_t *g, int *result, uint64_t deadline) {
  corio__list_t *l;
  int err;

  if (g == NULL || result == NULL || !(g->flags & CORIO_GROUP_RESULTS))
    return UV_EINVAL;
  corio__spin_lock(&g->lock);
  while ((l = corio__list_pop_front(&g->ended)) == NULL) {
    if (g->live == 0) {
      corio__spin_unlock(&g->lock);
      return UV_EOF;
    }
    if ((err = park_locked(g, deadline)) != 0)
      return err;
  }
  corio__spin_unlock(&g->lock);
  *result = corio__container_of(l, member_t, link)->result;
  free(corio__container_of(l, member_t, link));
  return 0;
}


int corio_group_next(corio_group_t *g, int *result) {
  return corio_group_next_dl(g, result, UINT64_MAX);
}


/* With the lock held: wait until no member is left. Returns 0 with the
 * lock held, or an error with it released (UV_ETIMEDOUT; UV_EINVAL
 * outside a task). The caller's cancels do not end this wait (the members
 * are cancelled already, and no child is left behind); *cancelled says
 * one came. */
static int wait_out_locked(corio_group_t *g, uint64_t deadline, int *cancelled) {
  int err;

  while (g->live > 0) {
    if (!corio__in_task()) {
      corio__spin_unlock(&g->lock);
      return UV_EINVAL;
    }
    err = park_locked(g, deadline);
    if (err == UV_ECANCELED) {
      *cancelled = 1;
      corio__spin_lock(&g->lock);
      continue;
    }
    if (err != 0)
      return err;
  }
  return 0;
}


int corio_group_close_dl(corio_group_t *g, uint64_t deadline) {
  int err, cancelled = 0;

  if (g == NULL)
    return UV_EINVAL;
  corio__spin_lock(&g->lock);
  cancel_locked(g);
  if ((err = wait_out_locked(g, deadline, &cancelled)) == 0) {
    drop_ended_locked(g);
    err = g->first_failure;
    corio__spin_unlock(&g->lock);
    free(g);
  }
  if (cancelled)
    corio__cancel(corio_self()); /* kept for the caller's next wait */
  return err;
}


int corio_group_drain(corio_group_t *g, uint64_t deadline) {
  int err, cut = 0, cancelled = 0;

  if (g == NULL)
    return UV_EINVAL;
  corio__spin_lock(&g->lock);
  while (g->live > 0) {
    if ((err = park_locked(g, deadline)) == 0)
      continue;
    if (err != UV_ETIMEDOUT && err != UV_ECANCELED)
      return err;
    /* Past the deadline, or the caller cancelled: cut the rest (a cancel
     * did already, in park_locked), and wait until they have ended. */
    corio__spin_lock(&g->lock);
    cancel_locked(g);
    cut = err;
    if ((err = wait_out_locked(g, UINT64_MAX, &cancelled)) != 0)
      return err;
    break;
  }
  corio__spin_unlock(&g->lock);
  return cancelled ? UV_ECANCELED : cut;
}


int corio_group_close(corio_group_t *g) {
  return corio_group_close_dl(g, UINT64_MAX);
}
