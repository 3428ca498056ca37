/* The runtime's lifetime: new, wait, free, and corio_main. */
/* _GNU_SOURCE (the build defines it): pthread_timedjoin_np, dladdr */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "corio/rt.h"
#include "core/thread.h"
#include "sched.h"
#include "wait.h"
#include "core/misuse.h"

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
  /* Tasks never to run again. First, what the waits of those still
   * waiting left in memory not theirs (a waiter on an application's
   * mutex or channel) is taken back, for every task before any stack
   * goes (a waiter may sit on a channel in another task's frame); then
   * their stacks go without unwinding. */
  for (i = 0; rt->tallies != NULL && i < rt->ntallies; i++) {
    corio__tally_t *home = rt->tallies[i];
    corio__task_drain(home);
    home->owned = 0; /* no owner thread any more: free in place */
    for (n = home->tasks.next; n != &home->tasks; n = n->next) {
      corio_task_t *t = corio__container_of(n, corio_task_t, reg);
      if (t->abandon_fn != NULL) {
        t->abandon_fn(t->abandon_arg);
        t->abandon_fn = NULL;
      }
    }
  }
  for (i = 0; rt->tallies != NULL && i < rt->ntallies; i++) {
    corio__tally_t *home = rt->tallies[i];
    while ((n = corio__list_first(&home->tasks)) != NULL)
      corio__task_free(corio__container_of(n, corio_task_t, reg));
  }
  free(rt->tallies);
  free(rt->cancel_reqs);
  /* The abandoned tasks' stacks went to this (plain) thread's cache:
   * give them back. (Their records stay in this thread's pool, up to
   * 4096, until the thread exits.) */
  corio_stack_cache_drain();
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
  /* cannot fail: the size was checked above */
  corio__coro_stack_shape(&rt->coro_opts, &rt->stack_usable, &rt->stack_guarded);
  corio__inject_init(&rt->inject);
  pthread_mutex_init(&rt->idle_mu, NULL);
  corio__tally_init(&rt->loop_tally, 1);
  corio__tally_init(&rt->foreign_tally, 0);
  rt->loop_only = o.loop_only != 0;
  rt->started_ns = uv_hrtime();
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
    if (err != 0)
      break;
  }
  if (err == 0)
    err = corio__dump_signal_start(rt, o.dump_signal);
  if (err != 0) {
    rt_stop(rt);
    for (i = 0; i < started; i++)
      pthread_join(rt->workers[i].thread, NULL);
    corio__loop_stop(rt->lp);
    rt_release(rt, 0);
    return err;
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


/* Count the caller among those waiting for the tasks to end, then a
 * seq_cst fence before it looks at the tallies (see corio__rt_quiet; the
 * RMW does the job under TSan, which does not model fences). */
static void waiters_enter(corio_rt_t *rt) {
  atomic_fetch_add(&rt->waiters, 1);
#if !CORIO__TSAN
  atomic_thread_fence(memory_order_seq_cst);
#endif
}


int corio_rt_wait(corio_rt_t *rt) {
  uint32_t seq;

  if (rt == NULL || on_corio_thread())
    return UV_EINVAL;
  waiters_enter(rt);
  for (;;) {
    seq = atomic_load(&rt->quiet_seq);
    if (corio__rt_live(rt) == 0)
      break;
    corio__futex_wait(&rt->quiet_seq, seq);
  }
  atomic_fetch_sub(&rt->waiters, 1);
  return 0;
}


/* One line on stderr: the thread `who` has not stopped within a second,
 * held by task t. Its record is read through corio__peek: the task may
 * end (and its record be freed) as we read. */
static void say_stuck(const char *who, corio_task_t *t) {
  Dl_info info;
  const char *fn = NULL;
  corio_task_fn task_fn;

  if (t != NULL && corio__peek(&t->fn, &task_fn, sizeof task_fn) &&
      dladdr((void *)(uintptr_t)task_fn, &info) != 0)
    fn = info.dli_sname;
  fprintf(stderr,
          "corio: corio_rt_free has waited 1 s for %s, which runs task %p "
          "(function %s) that does not suspend; a task must reach a wait, a "
          "yield or its end for its thread to stop\n",
          who, (void *)t, fn != NULL ? fn : "unknown");
}


/* Join worker w; if it has not stopped within a second, say so once,
 * then go on waiting. */
static void join_worker(corio__worker_t *w) {
  struct timespec until;
  char who[32];

  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 1;
  if (pthread_timedjoin_np(w->thread, NULL, &until) != ETIMEDOUT)
    return;
  snprintf(who, sizeof who, "worker %u", w->index);
  say_stuck(who, __atomic_load_n(&w->current, __ATOMIC_RELAXED));
  pthread_join(w->thread, NULL);
}


void corio__rt_loop_stuck(void *ctx) {
  corio_rt_t *rt = ctx;

  say_stuck("the loop thread", __atomic_load_n(&rt->on_loop.current, __ATOMIC_RELAXED));
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
  corio__dump_signal_stop(rt); /* its thread may be in a dump */
  rt_stop(rt);
  for (unsigned i = 0; i < rt->nworkers; i++)
    join_worker(&rt->workers[i]);
  /* The workers' sockets close while the reactor still runs: what their
   * callbacks post to it is run by its stop. What the reactor hands to
   * the workers' loops meanwhile is settled again by rt_release. */
  settle_worker_loops(rt);
  err = corio__loop_stop(rt->lp);
  rt_release(rt, 0);
  return err;
}


/* --- shutdown ------------------------------------------------------------ */

typedef struct corio__cancel_req {
  corio__req_t req;
  corio__tally_t *tally;
} cancel_req_t;


/* Cancel every task listed in home: on its owner thread, or with its
 * lock held for the foreign tally. Finished ones ignore it. */
static void cancel_listed(corio__tally_t *home) {
  corio__list_t *n;

  if (home->owned)
    corio__task_drain(home); /* those freed elsewhere leave the list */
  for (n = home->tasks.next; n != &home->tasks; n = n->next)
    corio__cancel(corio__container_of(n, corio_task_t, reg));
}


static void cancel_req_run(corio__req_t *req) {
  cancel_listed(corio__container_of(req, cancel_req_t, req)->tally);
}


/* Wait until no task of rt is live, or deadline (ms): 0 or UV_ETIMEDOUT.
 * Attached mode (on the loop thread, the application's uv_run over):
 * runs the loop meanwhile, without waiting in it. */
static int wait_quiet_dl(corio_rt_t *rt, uint64_t deadline) {
  int err = 0;

  waiters_enter(rt);
  for (;;) {
    uint32_t seq = atomic_load(&rt->quiet_seq);
    uint64_t now = corio_now();
    if (corio__rt_live(rt) == 0)
      break;
    if (now >= deadline) {
      err = UV_ETIMEDOUT;
      break;
    }
    if (!rt->lp->owned) {
      struct timespec ms = {0, 1000000};
      uv_run(rt->lp->loop, UV_RUN_NOWAIT);
      nanosleep(&ms, NULL);
      continue;
    }
    /* woken when the tasks may all have ended; looks again every 10 ms */
    corio__futex_wait_ns(&rt->quiet_seq, seq,
                         deadline - now < 10 ? (deadline - now) * 1000000u : 10000000u);
  }
  atomic_fetch_sub(&rt->waiters, 1);
  return err;
}


int corio_rt_shutdown(corio_rt_t *rt, uint64_t deadline) {
  unsigned i;
  int err, left;

  if (rt == NULL || corio_self() != NULL || corio__worker_current() != NULL)
    return UV_EINVAL;
  if ((corio__loop_current() == rt->lp) != !rt->lp->owned)
    return UV_EINVAL; /* as corio_rt_free */
  if ((rt->cancel_reqs = calloc(rt->ntallies, sizeof *rt->cancel_reqs)) == NULL)
    return UV_ENOMEM;
  atomic_store(&rt->shutting_down, 1);
  /* Each thread cancels the tasks it lists (only it may walk its list);
   * the foreign tally, which has a lock, is walked here. */
  for (i = 0; i < rt->nworkers; i++) {
    rt->cancel_reqs[i].req.run = cancel_req_run;
    rt->cancel_reqs[i].tally = &rt->workers[i].tally;
    corio__loop_post(rt->workers[i].lp, &rt->cancel_reqs[i].req);
  }
  rt->cancel_reqs[i].req.run = cancel_req_run;
  rt->cancel_reqs[i].tally = &rt->loop_tally;
  corio__loop_post(rt->lp, &rt->cancel_reqs[i].req);
  corio__spin_lock(&rt->foreign_tally.lock);
  cancel_listed(&rt->foreign_tally);
  corio__spin_unlock(&rt->foreign_tally.lock);

  left = wait_quiet_dl(rt, deadline) != 0;
  err = corio_rt_free(rt);
  return err != 0 ? err : left ? UV_ETIMEDOUT : 0;
}


int corio_main(corio_task_fn fn, void *arg, const corio_rt_options_t *opts,
               void **result) {
  corio_task_t *t;
  corio_rt_t *rt;
  int err;

  /* From a task, a worker or a loop thread it would block that thread
   * until the new runtime's tasks were done. */
  if (fn == NULL)
    return UV_EINVAL;
  if (on_corio_thread())
    return CORIO__MISUSE("corio_main", "called from a task, a worker or a loop thread, "
                                       "which it would block for the whole run");
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
