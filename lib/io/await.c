/* Awaiting libuv requests: the general mechanism (corio_await) and, in
 * fs.c, the wrappers built on it.
 *
 * The await record lives in the waiter's frame. A task waits through the
 * wait core (lib/sched/wait.h), so a deadline or corio_cancel can end the
 * wait; its park function posts the record to the loop, which starts the
 * request; the request's callback calls corio_await_done, which wakes it.
 *
 * A wait that ends early (deadline, cancel) cannot just return: the
 * request is in flight and its callback will write into the caller's
 * frame. So the task parks a second time, without a token, and posts a
 * cancel request to the loop, which uv_cancel()s the libuv request if the
 * starter registered it (corio_await_cancelable). Both the cancel request
 * and the completion run on the loop thread; whichever comes second
 * resumes the task. A plain thread waits on a futex, without deadline. */
#include <stdlib.h>
#include <string.h>

#include "await.h"
#include "sched/sched.h"
#include "sched/wait.h"

struct corio_await_s {
  corio__req_t req;                /* start, on the loop */
  corio__req_t cancel_req;         /* give up, on the loop */
  corio__loop_t *lp;
  corio_await_start_fn start;
  void *arg;
  intptr_t value;
  int start_err;                   /* what start returned, if negative */
  corio__waiter_t *w;              /* a task's wait, or NULL: a thread's */
  uv_req_t *uvreq;                 /* what to uv_cancel, if anything */
  void (*give_up_fn)(void *);      /* or what to call to stop it */
  void *give_up_arg;
  int done, cancel_seen;           /* loop thread only */
  _Atomic(uint32_t) thread_done;
};


void corio_await_cancelable(corio_await_t *aw, uv_req_t *req) {
  aw->uvreq = req;
}


void corio__await_on_give_up(corio_await_t *aw, void (*fn)(void *), void *arg) {
  aw->give_up_fn = fn;
  aw->give_up_arg = arg;
}


int corio__await_by_thread(corio_await_t *aw) {
  return aw->w == NULL;
}


void corio_await_done(corio_await_t *aw, intptr_t value) {
  aw->value = value;
  aw->done = 1;
  atomic_fetch_sub_explicit(&aw->lp->inflight, 1, memory_order_relaxed);
  if (aw->w == NULL) {
    /* release: the thread's acquire load sees value */
    atomic_store_explicit(&aw->thread_done, 1, memory_order_release);
    corio__futex_wake(&aw->thread_done, 1);
    return;
  }
  if (corio__wake(aw->w, 0))
    return;
  /* The task gave up; it resumes once its cancel request was seen too. */
  if (aw->cancel_seen)
    corio__ready(aw->w->task);
}


static void await_start(corio__req_t *req) {
  corio_await_t *aw = corio__container_of(req, corio_await_t, req);
  int err;

  atomic_fetch_add_explicit(&aw->lp->inflight, 1, memory_order_relaxed);
  err = aw->start(aw->lp->loop, aw, aw->arg);
  if (err < 0) {
    aw->start_err = err;
    corio_await_done(aw, err);
  }
}


static void await_give_up(corio__req_t *req) {
  corio_await_t *aw = corio__container_of(req, corio_await_t, cancel_req);

  aw->cancel_seen = 1;
  if (aw->done)
    corio__ready(aw->w->task);
  else if (aw->give_up_fn != NULL)
    aw->give_up_fn(aw->give_up_arg);
  else if (aw->uvreq != NULL)
    uv_cancel(aw->uvreq); /* the callback then reports UV_ECANCELED */
}


static void post_start(void *arg) {
  corio_await_t *aw = arg;
  corio__loop_post(aw->lp, &aw->req);
}


static int post_give_up(corio_task_t *self, void *arg) {
  corio_await_t *aw = arg;

  (void)self;
  corio__loop_post(aw->lp, &aw->cancel_req);
  return 0;
}


int corio_await_dl(corio_rt_t *rt, corio_await_start_fn start, void *arg,
                   intptr_t *result, uint64_t deadline) {
  if (rt == NULL)
    return UV_EINVAL;
  return corio__await_loop_dl(rt->lp, start, arg, result, deadline);
}


int corio__await_loop_dl(corio__loop_t *lp, corio_await_start_fn start,
                         void *arg, intptr_t *result, uint64_t deadline) {
  corio_rt_t *rt = corio__loop_owner(lp);
  corio_task_t *self = corio_self();
  corio__waiter_t w;
  corio_await_t aw;
  int err;

  if (start == NULL)
    return UV_EINVAL;
  memset(&aw, 0, sizeof aw);
  aw.req.run = await_start;
  aw.cancel_req.run = await_give_up;
  aw.lp = lp;
  aw.start = start;
  aw.arg = arg;
  if (self != NULL) {
    if ((err = corio__wait_begin(&w)) != 0)
      return err;
    if (atomic_load_explicit(&self->wait_kind, memory_order_relaxed) == CORIO__WK_NONE)
      corio__wait_what(&w, CORIO__WK_AWAIT, (const void *)(uintptr_t)start, 0);
    aw.w = &w;
    err = corio__wait_park_unlock(&w, post_start, &aw, corio__deadline_ns(deadline));
    if (err != 0) {
      corio__park(post_give_up, &aw); /* until the request is finished */
      return err;
    }
  } else {
    if (corio_on_loop_thread(rt) || corio__worker_current() != NULL ||
        deadline != CORIO__NO_DEADLINE)
      return UV_EINVAL; /* waiting here would stop the loop, or a worker */
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


int corio_await(corio_rt_t *rt, corio_await_start_fn start, void *arg,
                intptr_t *result) {
  return corio_await_dl(rt, start, arg, result, CORIO__NO_DEADLINE);
}


/* --- closing handles -------------------------------------------------------- */

typedef struct close_job {
  uv_handle_t *const *hs;
  size_t n, left;
  corio_await_t *aw;
  int started;
} close_job_t;

static void one_closed(uv_handle_t *h) {
  close_job_t *j = h->data;

  if (--j->left == 0)
    corio_await_done(j->aw, 0);
}

static int close_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  close_job_t *j = arg;

  (void)loop;
  j->started = 1;
  j->aw = aw;
  j->left = j->n;
  for (size_t i = 0; i < j->n; i++) {
    j->hs[i]->data = j;
    uv_close(j->hs[i], one_closed);
  }
  return 0;
}

void corio__close_handles(corio_rt_t *rt, uv_handle_t *const *hs, size_t n) {
  close_job_t j = {hs, n, 0, NULL, 0};
  int cancelled = 0;

  if (n == 0)
    return;
  /* Once started, the wait ends only when every close is done (an await
   * returns after its callback); a cancel before the start: again. */
  while (corio_await(rt, close_start, &j, NULL) == UV_ECANCELED && !j.started)
    cancelled = 1;
  if (cancelled)
    corio_cancel(corio_self());
}
