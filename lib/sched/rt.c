/* The runtime's lifetime: new, wait, free, and corio_main. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "corio/rt.h"
#include "sched.h"

#define MAX_WORKERS 1024u
#define DEQUE_LOG2_INITIAL 8  /* 256 tasks before the first grow */


/* --- lifetime ---------------------------------------------------------- */

static unsigned online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1u;
}


/* calloc for types aligned to a cache line. */
static void *zalloc_aligned(size_t size) {
  size_t rounded = (size + CORIO__CACHE_LINE - 1) / CORIO__CACHE_LINE *
                   CORIO__CACHE_LINE;
  void *p = aligned_alloc(CORIO__CACHE_LINE, rounded);

  if (p != NULL)
    memset(p, 0, rounded);
  return p;
}


/* The workers have stopped: close their loops' sockets, and run the loops
 * (on this thread) until every one is quiet. Round after round, as one
 * loop's callbacks may post to another's (loop.h). */
static void settle_worker_loops(corio_rt_t *rt) {
  unsigned i;
  int more;

  for (i = 0; i < rt->nworkers; i++)
    corio__loop_shut_driven(rt->workers[i].lp);
  do {
    more = 0;
    for (i = 0; i < rt->nworkers; i++)
      more |= corio__loop_settle(rt->workers[i].lp);
  } while (more);
}


static void rt_release(corio_rt_t *rt, unsigned started) {
  corio__list_t *n;
  unsigned i;

  for (i = 0; i < started; i++)
    pthread_join(rt->workers[i].thread, NULL);
  /* The workers' loops, now that no thread posts to them any more (see
   * settle_worker_loops): what was posted runs, on this thread. Before the
   * tasks go: a request may point into a task's stack. */
  settle_worker_loops(rt);
  for (i = 0; i < rt->nworkers; i++)
    corio__loop_close_driven(rt->workers[i].lp);
  /* Tasks never to run again: their stacks go without unwinding. */
  for (i = 0; rt->tallies != NULL && i < rt->ntallies; i++) {
    corio__tally_t *home = rt->tallies[i];
    corio__task_drain(home);
    home->owned = 0; /* no owner thread any more: free in place */
    while ((n = corio__list_first(&home->tasks)) != NULL)
      corio__task_free(corio__container_of(n, corio_task_t, reg));
  }
  free(rt->tallies);
  for (i = 0; i < rt->nworkers; i++) {
    corio__timer_heap_drop(&rt->workers[i].timers);
    corio__deque_destroy(&rt->workers[i].dq);
    free(rt->workers[i].watch);
  }
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
    atomic_store_explicit(&rt->workers[i].wake, CORIO__WOKEN_SEARCH,
                          memory_order_release);
    corio__futex_wake(&rt->workers[i].wake, 1);
    corio__loop_wake(rt->workers[i].lp); /* if it sleeps in its loop */
  }
}


int corio_rt_new(const corio_rt_options_t *opts, corio_rt_t **out) {
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

  rt = zalloc_aligned(sizeof *rt);
  if (rt == NULL)
    return UV_ENOMEM;
  rt->coro_opts.stack_size = o.stack_size;
  rt->coro_opts.unguarded = o.unguarded;
  corio__inject_init(&rt->inject);
  pthread_mutex_init(&rt->idle_mu, NULL);
  corio__tally_init(&rt->loop_tally, 1);
  corio__tally_init(&rt->foreign_tally, 0);
  rt->loop_only = o.loop_only != 0;
  err = 0;
  rt->tallies = calloc(o.workers + 2u, sizeof *rt->tallies);
  if (rt->tallies == NULL)
    err = UV_ENOMEM;
  if (err == 0 && o.workers > 0) {
    rt->workers = zalloc_aligned(o.workers * sizeof *rt->workers);
    err = rt->workers == NULL ? UV_ENOMEM : corio__ebr_init(&rt->ebr, o.workers);
  }
  /* nworkers counts the deques made so far, for rt_release */
  for (i = 0; err == 0 && i < o.workers; i++) {
    corio__worker_t *w = &rt->workers[i];
    w->rt = rt;
    w->index = i;
    w->ebr = corio__ebr_thread(rt->ebr, i);
    w->rng = 0x9E3779B97F4A7C15ull * (i + 1);
    corio__tally_init(&w->tally, 1);
    rt->tallies[rt->ntallies++] = &w->tally;
    w->watch = calloc(o.workers, sizeof *w->watch);
    err = w->watch == NULL ? UV_ENOMEM
                           : corio__deque_init(&w->dq, DEQUE_LOG2_INITIAL);
    if (err == 0) {
      corio__loop_hooks_t hooks = {0};
      hooks.ctx = rt;
      hooks.kick = corio__worker_kick;
      hooks.kick_ctx = w;
      if ((err = corio__loop_open_driven(&hooks, &w->lp)) != 0)
        corio__deque_destroy(&w->dq);
    }
    if (err == 0)
      rt->nworkers = i + 1;
    else
      free(w->watch); /* rt_release frees those of the first nworkers */
  }
  if (rt->tallies != NULL) {
    rt->tallies[rt->ntallies++] = &rt->loop_tally;
    rt->tallies[rt->ntallies++] = &rt->foreign_tally;
  }
  if (err == 0)
    err = corio__on_loop_start(rt, o.loop);
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


corio__loop_t *corio__rt_worker_loop(corio_rt_t *rt, unsigned i) {
  return i < rt->nworkers ? rt->workers[i].lp : NULL;
}


unsigned corio_rt_workers(const corio_rt_t *rt) {
  return rt != NULL ? rt->nworkers : 0;
}


uv_loop_t *corio_rt_loop(corio_rt_t *rt) {
  return rt != NULL ? rt->lp->loop : NULL;
}


int corio_on_loop_thread(corio_rt_t *rt) {
  return rt != NULL && corio__loop_current() == rt->lp;
}


/* A worker or a loop thread (of any runtime), or a task: where blocking
 * the thread would stall tasks. */
static int on_corio_thread(void) {
  return corio__worker_current() != NULL || corio__loop_current() != NULL ||
         corio_self() != NULL;
}


uint64_t corio__rt_live(corio_rt_t *rt) {
  return corio__tally_live(rt->tallies, rt->ntallies);
}


void corio__rt_quiet(corio_rt_t *rt) {
  uint32_t waiters;

  /* Our finished counts, then a seq_cst fence, then the load of waiters;
   * corio_rt_wait does the converse: one of the two sees the other. An
   * RMW under TSan, which does not model fences. */
#if CORIO__TSAN
  waiters = atomic_fetch_add(&rt->waiters, 0);
#else
  atomic_thread_fence(memory_order_seq_cst);
  waiters = atomic_load_explicit(&rt->waiters, memory_order_relaxed);
#endif
  if (waiters != 0) {
    atomic_fetch_add(&rt->quiet_seq, 1);
    corio__futex_wake(&rt->quiet_seq, INT32_MAX);
  }
  corio__loop_alive_changed(rt->lp); /* attached mode only */
}


int corio_rt_wait(corio_rt_t *rt) {
  uint32_t seq;

  if (rt == NULL || on_corio_thread())
    return UV_EINVAL;
  atomic_fetch_add(&rt->waiters, 1);
  atomic_thread_fence(memory_order_seq_cst); /* see corio__rt_quiet */
  for (;;) {
    seq = atomic_load(&rt->quiet_seq);
    if (corio__rt_live(rt) == 0)
      break;
    corio__futex_wait(&rt->quiet_seq, seq);
  }
  atomic_fetch_sub(&rt->waiters, 1);
  return 0;
}


int corio_rt_free(corio_rt_t *rt) {
  int err;

  if (rt == NULL || corio_self() != NULL || corio__worker_current() != NULL)
    return UV_EINVAL;
  /* Owned: not from its own loop thread (it joins that thread). Attached:
   * only there (it closes handles of that loop). */
  if ((corio__loop_current() == rt->lp) != !rt->lp->owned)
    return UV_EINVAL;
  if (!rt->lp->owned && atomic_load(&rt->lp->inflight) != 0)
    return UV_EBUSY;
  rt_stop(rt);
  for (unsigned i = 0; i < rt->nworkers; i++)
    pthread_join(rt->workers[i].thread, NULL);
  /* The workers' sockets close while the reactor still runs: what their
   * callbacks post to it is run by its stop. What the reactor hands to
   * the workers' loops meanwhile is settled again by rt_release. */
  settle_worker_loops(rt);
  err = corio__loop_stop(rt->lp);
  rt_release(rt, 0);
  return err;
}


int corio_main(corio_task_fn fn, void *arg, const corio_rt_options_t *opts,
               void **result) {
  corio_task_t *t;
  corio_rt_t *rt;
  int err;

  /* From a task, a worker or a loop thread it would block that thread
   * until the new runtime's tasks were done. */
  if (fn == NULL || on_corio_thread())
    return UV_EINVAL;
  err = corio_rt_new(opts, &rt);
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
