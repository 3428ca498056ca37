/* The runtime's public calls: lifetime, spawn, join, detach, yield. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>
#include <uv.h>

#include "loop/loop.h"
#include "sched.h"
#include "sync/wait.h"

#define MAX_WORKERS 1024u
#define DEQUE_LOG2_INITIAL 8  /* 256 tasks before the first grow */


/* --- the registry of all tasks, for corio_rt_free ---------------------- */

static void reg_lock(corio_rt_t *rt) {
  corio__spin_lock(&rt->reg_lock);
}


static void reg_unlock(corio_rt_t *rt) {
  corio__spin_unlock(&rt->reg_lock);
}


static void reg_add(corio_rt_t *rt, corio_task_t *t) {
  reg_lock(rt);
  t->reg_prev = NULL;
  t->reg_next = rt->reg_head;
  if (rt->reg_head != NULL)
    rt->reg_head->reg_prev = t;
  rt->reg_head = t;
  reg_unlock(rt);
}


static void reg_remove(corio_rt_t *rt, corio_task_t *t) {
  reg_lock(rt);
  if (t->reg_prev != NULL)
    t->reg_prev->reg_next = t->reg_next;
  else
    rt->reg_head = t->reg_next;
  if (t->reg_next != NULL)
    t->reg_next->reg_prev = t->reg_prev;
  reg_unlock(rt);
}


void corio__task_free(corio_task_t *t) {
  reg_remove(t->rt, t);
  corio_coro_free(t->co); /* the record lives on this stack: last use */
}


/* --- lifetime ---------------------------------------------------------- */

static unsigned online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1u;
}


static void rt_release(corio_rt_t *rt, unsigned started) {
  unsigned i;

  for (i = 0; i < started; i++)
    pthread_join(rt->workers[i].thread, NULL);
  while (rt->reg_head != NULL)
    corio__task_free(rt->reg_head);
  for (i = 0; i < rt->nworkers; i++)
    corio__deque_destroy(&rt->workers[i].dq);
  if (rt->ebr != NULL)
    corio__ebr_free(rt->ebr);
  corio__inject_destroy(&rt->inject);
  pthread_mutex_destroy(&rt->idle_mu);
  free(rt->workers);
  free(rt);
}


static void rt_stop(corio_rt_t *rt) {
  corio__worker_t *w;
  unsigned i;

  /* Under the idle lock, so no worker can be between announcing itself
   * idle and sleeping unseen: each parked one is taken off the list and
   * counted as searching, as corio__notify does, then woken. */
  pthread_mutex_lock(&rt->idle_mu);
  /* release: workers that see it see everything before it */
  atomic_store_explicit(&rt->stopping, 1, memory_order_release);
  while ((w = rt->idle_head) != NULL) {
    rt->idle_head = w->idle_next;
    w->in_idle = 0;
    atomic_fetch_add_explicit(&rt->idle_state,
                              CORIO__SEARCH_ONE - CORIO__IDLE_ONE,
                              memory_order_acq_rel);
  }
  pthread_mutex_unlock(&rt->idle_mu);
  for (i = 0; i < rt->nworkers; i++) {
    atomic_store_explicit(&rt->workers[i].wake, 1, memory_order_release);
    corio__futex_wake(&rt->workers[i].wake, 1);
  }
}


int corio_rt_new(corio_rt_t **out, const corio_rt_options_t *opts) {
  corio_rt_options_t o = {0};
  corio_rt_t *rt;
  unsigned i, started = 0;
  int err;

  if (out == NULL)
    return UV_EINVAL;
  if (opts != NULL)
    o = *opts;
  if (o.loop_only)
    o.workers = 0;
  else if (o.workers == 0)
    o.workers = online_cpus();
  if (o.workers > MAX_WORKERS)
    return UV_EINVAL;
  if (o.stack_size != 0 &&
      (o.stack_size < CORIO_STACK_MIN || o.stack_size > CORIO_STACK_MAX))
    return UV_EINVAL;

  rt = calloc(1, sizeof *rt);
  if (rt == NULL)
    return UV_ENOMEM;
  rt->coro_opts.stack_size = o.stack_size;
  rt->coro_opts.unguarded = o.unguarded_stacks;
  corio__inject_init(&rt->inject);
  pthread_mutex_init(&rt->idle_mu, NULL);
  atomic_init(&rt->reg_lock, 0);
  rt->loop_only = o.loop_only != 0;
  err = 0;
  if (o.workers > 0) {
    rt->workers = calloc(o.workers, sizeof *rt->workers);
    err = rt->workers == NULL ? UV_ENOMEM : corio__ebr_init(&rt->ebr, o.workers);
  }
  /* nworkers counts the deques made so far, for rt_release */
  for (i = 0; err == 0 && i < o.workers; i++) {
    corio__worker_t *w = &rt->workers[i];
    w->rt = rt;
    w->index = i;
    w->ebr = corio__ebr_thread(rt->ebr, i);
    w->rng = 0x9E3779B97F4A7C15ull * (i + 1);
    err = corio__deque_init(&w->dq, DEQUE_LOG2_INITIAL);
    if (err == 0)
      rt->nworkers = i + 1;
  }
  if (err == 0)
    err = corio__loop_start(rt, o.loop, &rt->lp);
  if (err != 0) {
    rt_release(rt, 0);
    return err;
  }
  for (; started < o.workers; started++) {
    err = -pthread_create(&rt->workers[started].thread, NULL,
                          corio__worker_main, &rt->workers[started]);
    if (err != 0) {
      rt_stop(rt);
      for (i = 0; i < started; i++)
        pthread_join(rt->workers[i].thread, NULL);
      corio__loop_stop(rt->lp);
      rt_release(rt, 0);
      return err;
    }
  }
  *out = rt;
  return 0;
}


unsigned corio_rt_workers(const corio_rt_t *rt) {
  return rt != NULL ? rt->nworkers : 0;
}


static int called_from_own_task(corio_rt_t *rt) {
  return corio_current_rt() == rt;
}


int corio_rt_wait(corio_rt_t *rt) {
  uint32_t live;

  if (rt == NULL || called_from_own_task(rt) || corio_on_loop_thread(rt))
    return UV_EINVAL;
  /* acquire: pairs with the last task's release decrement */
  while ((live = atomic_load_explicit(&rt->live, memory_order_acquire)) != 0)
    corio__futex_wait(&rt->live, live);
  return 0;
}


int corio_rt_free(corio_rt_t *rt) {
  int err;

  if (rt == NULL || called_from_own_task(rt))
    return UV_EINVAL;
  if (!rt->lp->owned && atomic_load(&rt->lp->inflight) != 0)
    return UV_EBUSY;
  rt_stop(rt);
  for (unsigned i = 0; i < rt->nworkers; i++)
    pthread_join(rt->workers[i].thread, NULL);
  err = corio__loop_stop(rt->lp);
  rt_release(rt, 0);
  return err;
}


/* --- tasks ------------------------------------------------------------- */

static void *task_entry(void *arg) {
  corio_task_t *t = arg;

  t->result = t->fn(t->arg);
  return NULL;
}


static int spawn(corio_rt_t *rt, corio_task_fn fn, void *arg,
                 corio_task_t **task, int pinned) {
  corio_coro_t *co;
  corio_task_t *t;
  int err;

  if (rt == NULL || fn == NULL)
    return UV_EINVAL;
  err = corio__coro_create(&co, task_entry, NULL, &rt->coro_opts, sizeof *t);
  if (err != 0)
    return err;
  t = corio__coro_extra(co);
  memset(t, 0, sizeof *t);
  co->arg = t;
  t->co = co;
  t->rt = rt;
  t->fn = fn;
  t->arg = arg;
  t->pinned = pinned || rt->loop_only;
  atomic_init(&t->state, task == NULL ? CORIO__TASK_DETACHED : 0u);
  reg_add(rt, t);
  /* relaxed: only the count matters; the wait's acquire pairs with the
   * finishing task's release decrement */
  if (atomic_fetch_add_explicit(&rt->live, 1, memory_order_relaxed) == 0)
    corio__loop_live_changed(rt->lp);
  if (task != NULL)
    *task = t;
  corio__schedule(rt, t);
  return 0;
}


int corio_spawn(corio_rt_t *rt, corio_task_fn fn, void *arg,
                corio_task_t **task) {
  return spawn(rt, fn, arg, task, 0);
}


int corio_spawn_on_loop(corio_rt_t *rt, corio_task_fn fn, void *arg,
                        corio_task_t **task) {
  return spawn(rt, fn, arg, task, 1);
}


/* Runs in the joiner's park function, its wait token armed: announce
 * the joiner; if t finished meanwhile, end the wait here. The joiner may
 * be readied (by a deadline, a cancel) before this runs, so it waits for
 * `done` on every path before it touches t or leaves its frame. */
typedef struct join_reg {
  corio_task_t *t;
  _Atomic(int) done;
} join_reg_t;

static void join_register(void *arg) {
  join_reg_t *jr = arg;
  corio_task_t *t = jr->t;
  unsigned old;

  /* acq_rel: release publishes joiner/join_seq; acquire sees the result
   * if the task finished meanwhile. If our wake fails, the joiner gave up
   * and waits for WAKE_DONE like after a finisher's failed wake. */
  old = atomic_fetch_or_explicit(&t->state, CORIO__TASK_JOIN_WAIT,
                                 memory_order_acq_rel);
  if ((old & CORIO__TASK_FINISHED) && !corio__wake_seq(t->joiner, t->join_seq, 0))
    atomic_fetch_or_explicit(&t->state, CORIO__TASK_WAKE_DONE, memory_order_release);
  atomic_store_explicit(&jr->done, 1, memory_order_release);
}


static void join_from_thread(corio_task_t *t) {
  corio__thread_waiter_t tw;
  unsigned old;

  atomic_init(&tw.done, 0);
  t->thread_joiner = &tw;
  old = atomic_fetch_or_explicit(&t->state, CORIO__TASK_JOIN_WAIT,
                                 memory_order_acq_rel);
  if (old & CORIO__TASK_FINISHED)
    return;
  while (atomic_load_explicit(&tw.done, memory_order_acquire) == 0)
    corio__futex_wait(&tw.done, 0);
}


/* A joining task waits through the wait core, so deadlines and cancel
 * apply. Giving up leaves the handle valid: the join can be retried. */
static int join_task(corio_task_t *t, uint64_t deadline) {
  corio__waiter_t w;
  unsigned old;
  int err;

  if ((err = corio__wait_begin(&w)) != 0)
    return err;
  join_reg_t jr = {t, 0};
  t->joiner = w.task;
  t->join_seq = w.seq;
  err = corio__wait_park_unlock(&w, join_register, &jr, corio__deadline_ns(deadline));
  while (!atomic_load_explicit(&jr.done, memory_order_acquire))
    sched_yield(); /* join_register's last access to our frame */
  if (err == 0)
    return 0;
  /* Withdraw. If t finished meanwhile, its finisher saw JOIN_WAIT and is
   * trying to wake us: wait until it is done with our wait. */
  old = atomic_fetch_and_explicit(&t->state, ~(unsigned)CORIO__TASK_JOIN_WAIT,
                                  memory_order_acq_rel);
  if (old & CORIO__TASK_FINISHED)
    while (!(atomic_load_explicit(&t->state, memory_order_acquire) &
             CORIO__TASK_WAKE_DONE))
      sched_yield();
  atomic_fetch_and_explicit(&t->state, ~(unsigned)CORIO__TASK_WAKE_DONE,
                            memory_order_relaxed);
  return err;
}


int corio_join_dl(corio_task_t *t, void **result, uint64_t deadline) {
  corio_task_t *self = corio_self();
  int err;

  if (t == NULL || t == self)
    return UV_EINVAL;
  /* acquire: pairs with task_finished's release */
  if (!(atomic_load_explicit(&t->state, memory_order_acquire) &
        CORIO__TASK_FINISHED)) {
    if (self != NULL) {
      if ((err = join_task(t, deadline)) != 0)
        return err;
    } else {
      if (deadline != UINT64_MAX)
        return UV_EINVAL; /* a plain thread waits without a deadline */
      join_from_thread(t);
    }
  }
  if (result != NULL)
    *result = t->result;
  corio__task_free(t);
  return 0;
}


int corio_join(corio_task_t *t, void **result) {
  return corio_join_dl(t, result, UINT64_MAX);
}


int corio_detach(corio_task_t *t) {
  unsigned old;

  if (t == NULL)
    return UV_EINVAL;
  old = atomic_fetch_or_explicit(&t->state, CORIO__TASK_DETACHED,
                                 memory_order_acq_rel);
  if (old & CORIO__TASK_FINISHED)
    corio__task_free(t);
  return 0;
}


int corio_yield(void) {
  corio_task_t *t = corio_self();

  if (t == NULL || corio_coro_current() != t->co)
    return UV_EINVAL;
  t->why = CORIO__WHY_YIELD;
  return corio_coro_yield(NULL, NULL);
}


corio_task_t *corio_self(void) {
  corio__worker_t *w = corio__worker_current();
  corio__loop_t *lp;

  if (w != NULL)
    return w->current;
  lp = corio__loop_current();
  return lp != NULL ? lp->current : NULL;
}


corio_rt_t *corio_current_rt(void) {
  corio_task_t *t = corio_self();
  return t != NULL ? t->rt : NULL;
}


int corio_main(corio_task_fn fn, void *arg, const corio_rt_options_t *opts,
               void **result) {
  corio_task_t *t;
  corio_rt_t *rt;
  int err;

  if (fn == NULL)
    return UV_EINVAL;
  err = corio_rt_new(&rt, opts);
  if (err != 0)
    return err;
  err = corio_spawn(rt, fn, arg, &t);
  if (err == 0) {
    corio_join(t, result);
    corio_rt_wait(rt);
  }
  corio_rt_free(rt);
  return err;
}
