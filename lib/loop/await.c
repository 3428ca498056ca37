/* Awaiting libuv requests: the general mechanism (corio_await) and the
 * wrappers built on it (files, names, threadpool work).
 *
 * The await record lives in the waiter's frame. A task parks; its park
 * function posts the record to the loop (or, on the loop thread, starts
 * the request at once); the request's callback calls corio_await_done,
 * which readies the task. A plain thread waits on a futex instead. */
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "sched/sched.h"

struct corio_await_s {
  corio__req_t req;
  corio__loop_t *lp;
  corio_await_start_fn start;
  void *arg;
  intptr_t value;
  int start_err;                   /* what start returned, if negative */
  corio_task_t *task;              /* or NULL: a plain thread waits */
  _Atomic(uint32_t) thread_done;
};


void corio_await_done(corio_await_t *aw, intptr_t value) {
  aw->value = value;
  atomic_fetch_sub_explicit(&aw->lp->inflight, 1, memory_order_relaxed);
  if (aw->task != NULL) {
    corio__ready(aw->task);
  } else {
    /* release: the thread's acquire load sees value */
    atomic_store_explicit(&aw->thread_done, 1, memory_order_release);
    corio__futex_wake(&aw->thread_done, 1);
  }
}


/* On the loop thread: start the user's request. */
static void await_start(corio__req_t *req) {
  corio_await_t *aw = (corio_await_t *)req;
  int err;

  atomic_fetch_add_explicit(&aw->lp->inflight, 1, memory_order_relaxed);
  err = aw->start(aw->lp->loop, aw, aw->arg);
  if (err < 0) {
    aw->start_err = err;
    corio_await_done(aw, err);
  }
}


static int await_park(corio_task_t *self, void *arg) {
  corio_await_t *aw = arg;

  aw->task = self;
  corio__loop_post(aw->lp, &aw->req);
  return 0;
}


int corio_await(corio_rt_t *rt, corio_await_start_fn start, void *arg,
                intptr_t *result) {
  corio_task_t *self = corio_self();
  corio_await_t aw;

  if (rt == NULL || start == NULL)
    return UV_EINVAL;
  memset(&aw, 0, sizeof aw);
  aw.req.run = await_start;
  aw.lp = rt->lp;
  aw.start = start;
  aw.arg = arg;
  if (self != NULL) {
    corio__park(await_park, &aw);
  } else {
    if (corio_on_loop_thread(rt))
      return UV_EINVAL; /* waiting here would stop the loop */
    atomic_init(&aw.thread_done, 0);
    corio__loop_post(aw.lp, &aw.req);
    while (atomic_load_explicit(&aw.thread_done, memory_order_acquire) == 0)
      corio__futex_wait(&aw.thread_done, 0);
  }
  if (aw.start_err != 0)
    return aw.start_err;
  if (result != NULL)
    *result = aw.value;
  return 0;
}
