/* Tasks on the loop thread: the scheduler's side of the reactor.
 *
 * Two kinds of tasks meet the loop thread. Pinned tasks (corio_spawn_on_loop,
 * every task in loop-only mode) run there: a FIFO run queue plus a next
 * slot, drained in the loop's idle phase (hooks.run). Worker tasks readied
 * there (by a libuv callback, a timer, a pinned task) are batched and
 * handed to the injection queue at the end of the loop iteration with a
 * single wake-up (hooks.flush), instead of one wake per callback
 * (docs/DESIGN.md 8). */
#include "sched.h"
#include "wait.h"


corio_rt_t *corio__loop_rt(void) {
  corio__loop_t *lp = corio__loop_current();
  return lp != NULL ? lp->hooks.ctx : NULL;
}


static void runq_push(corio_rt_t *rt, corio_task_t *t) {
  t->next = NULL;
  if (rt->on_loop.runq_tail != NULL)
    rt->on_loop.runq_tail->next = t;
  else
    rt->on_loop.runq_head = t;
  rt->on_loop.runq_tail = t;
  corio__loop_busy(rt->lp);
}


/* The next pinned task to run: the one readied last on this thread (as a
 * worker's LIFO slot, capped in a row), else the head of the queue. */
static corio_task_t *next_pinned(corio_rt_t *rt) {
  corio_task_t *t = rt->on_loop.next;

  if (t != NULL) {
    rt->on_loop.next = NULL;
    if (rt->on_loop.next_streak++ < CORIO__LOOP_NEXT_MAX_STREAK)
      return t;
    runq_push(rt, t);
  }
  rt->on_loop.next_streak = 0;
  t = rt->on_loop.runq_head;
  if (t != NULL) {
    rt->on_loop.runq_head = t->next;
    if (rt->on_loop.runq_head == NULL)
      rt->on_loop.runq_tail = NULL;
  }
  return t;
}


static int pending(corio_rt_t *rt) {
  return rt->on_loop.runq_head != NULL || rt->on_loop.next != NULL ||
         rt->on_loop.batch_head != NULL;
}


/* hooks.run: run what is ready now; tasks readied meanwhile wait for the
 * next round (but for the next slot), so callbacks and I/O are not
 * starved. */
static int run_hook(void *ctx) {
  corio_rt_t *rt = ctx;
  corio_task_t *t, *end = rt->on_loop.runq_tail;
  int ran = 0;

  corio__task_drain(&rt->loop_tally);
  corio__wait_clock_tick();
  while ((t = next_pinned(rt)) != NULL) {
    ran = 1;
    CORIO__COUNT(rt->n_loop_run, 1);
    if (corio__task_run(t, &rt->on_loop.current))
      runq_push(rt, t); /* corio_yield: to the back */
    if (t == end)
      break;
  }
  if (!pending(rt)) {
    /* Nothing left to run here, and perhaps nothing alive (the loop may
     * block in poll next, before its check phase: say so now). */
    if (ran)
      corio__rt_quiet(rt);
    return 0;
  }
  return 1;
}


/* hooks.flush: this iteration's batch to the workers, one wake-up. */
static int flush_hook(void *ctx) {
  corio_rt_t *rt = ctx;
  corio_task_t *t = rt->on_loop.batch_head, *tail = rt->on_loop.batch_tail;
  size_t n = 0;

  if (t != NULL) {
    rt->on_loop.batch_head = rt->on_loop.batch_tail = NULL;
    for (corio_task_t *c = t; c != NULL; c = c->next)
      n++;
    CORIO__COUNT(rt->n_hops, n);
    corio__inject_push_list(&rt->inject, t, tail, n);
    corio__notify(rt);
  }
  return pending(rt);
}


/* hooks.alive: attached mode holds the application's loop while tasks
 * live. */
static int alive_hook(void *ctx) {
  return corio__rt_live(ctx) != 0;
}


int corio__on_loop_start(corio_rt_t *rt, uv_loop_t *app_loop) {
  corio__loop_hooks_t hooks = {rt, run_hook, flush_hook, alive_hook, NULL, NULL,
                               corio__rt_loop_stuck};

  return corio__loop_start(app_loop, &hooks, &rt->lp);
}


static void resume_pinned_req(corio__req_t *req) {
  corio_task_t *t = corio__container_of(req, corio_task_t, loop_req);

  runq_push(t->rt, t);
}


void corio__on_loop_ready(corio_rt_t *rt, corio_task_t *t, int spawned) {
  if (corio__loop_current() != rt->lp) {
    t->loop_req.run = resume_pinned_req;
    corio__loop_post(rt->lp, &t->loop_req);
    return;
  }
  if (spawned) {
    /* A task spawned here runs first of the queue (Go's runnext): a tree
     * of spawns then unfolds depth first, as on a worker's LIFO deque,
     * instead of breadth first with every node alive at once. */
    if (rt->on_loop.runq_head != NULL) {
      t->next = rt->on_loop.runq_head;
      rt->on_loop.runq_head = t;
    } else {
      runq_push(rt, t);
    }
    return;
  }
  /* Readied here: the next slot; what it held goes to the queue. */
  corio_task_t *prev = rt->on_loop.next;
  rt->on_loop.next = t;
  if (prev != NULL)
    runq_push(rt, prev);
  else
    corio__loop_busy(rt->lp);
}


void corio__on_loop_batch(corio_rt_t *rt, corio_task_t *t) {
  t->next = NULL;
  if (rt->on_loop.batch_tail != NULL) {
    rt->on_loop.batch_tail->next = t;
  } else {
    rt->on_loop.batch_head = t;
    /* An active idle handle makes this iteration's poll return at once,
     * so the check phase that flushes the batch comes without delay. */
    corio__loop_busy(rt->lp);
  }
  rt->on_loop.batch_tail = t;
}
