/* The loop thread and the bridge (loop.h).
 *
 * After handling requests the loop keeps polling its inbox (idle handle
 * active, so uv_run does not block) for CORIO__LOOP_SPIN_NS, with
 * `polling` set; producers that see it skip uv_async_send. A busy
 * worker/loop pair thus trades requests without an eventfd write and an
 * epoll wake-up each (docs/DESIGN.md 8, "Few cores").
 * Stopping is a Dekker handshake: the loop clears `polling`, then looks at
 * the inbox again; a producer pushes, then looks at `polling`. One of them
 * sees the other.
 */
#include "loop.h"

#include <sched.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "core/thread.h"
#include "timer.h"

/* How long the loop keeps polling its inbox after the last request. */
#define CORIO__LOOP_SPIN_NS 30000u

static _Thread_local corio__loop_t *tls_loop;
/* The loop this thread runs, of either kind: requests posted to it from
 * here run at once. */
static _Thread_local corio__loop_t *tls_driving;


__attribute__((noinline)) corio__loop_t *corio__loop_current(void) {
  return tls_loop;
}


/* --- the idle and check phases ------------------------------------------ */

static int run_reqs(corio__loop_t *lp) {
  corio__req_t *r = corio__inbox_take_all(&lp->inbox), *next;
  int n = 0;

  for (; r != NULL; r = next, n++) {
    next = r->next;
    r->run(r);
  }
  if (n != 0)
    CORIO__COUNT(lp->n_requests, (uint64_t)n);
  return n;
}


/* While polling: drain the inbox; past the deadline, stop polling unless a
 * request slipped in (see the top of this file). Returns nonzero while
 * polling goes on. */
static int poll_inbox(corio__loop_t *lp) {
  if (!atomic_load_explicit(&lp->polling, memory_order_relaxed))
    return 0;
  if (run_reqs(lp) != 0) {
    lp->poll_until = uv_hrtime() + CORIO__LOOP_SPIN_NS;
    return 1;
  }
  if (uv_hrtime() < lp->poll_until) {
    sched_yield(); /* fewer cores than threads: let a worker run */
    return 1;
  }
  /* seq_cst store, then seq_cst load of the inbox head: the Dekker pair
   * of corio__loop_post's push and load of polling */
  atomic_store(&lp->polling, 0);
  if (atomic_load(&lp->inbox.head) != NULL) {
    atomic_store(&lp->polling, 1);
    return 1;
  }
  return 0;
}


static void idle_cb(uv_idle_t *idle) {
  corio__loop_t *lp = idle->data;
  int polling = poll_inbox(lp);

  if (!lp->hooks.run(lp->hooks.ctx) && !polling)
    uv_idle_stop(&lp->idle);
}


static void check_cb(uv_check_t *check) {
  corio__loop_t *lp = check->data;

  CORIO__COUNT(lp->n_iterations, 1);
  if (!lp->hooks.flush(lp->hooks.ctx) &&
      !atomic_load_explicit(&lp->polling, memory_order_relaxed))
    uv_idle_stop(&lp->idle);
}


void corio__loop_busy(corio__loop_t *lp) {
  if (!lp->closing)
    uv_idle_start(&lp->idle, idle_cb);
}


/* --- the bridge -------------------------------------------------------- */

static void async_cb(uv_async_t *async) {
  corio__loop_t *lp = async->data;

  run_reqs(lp);
  if (lp->closing || lp->driven)
    return;
  /* Requests came: keep polling for more for a while. */
  lp->poll_until = uv_hrtime() + CORIO__LOOP_SPIN_NS;
  atomic_store_explicit(&lp->polling, 1, memory_order_relaxed);
  uv_idle_start(&lp->idle, idle_cb);
}


void corio__loop_post(corio__loop_t *lp, corio__req_t *req) {
  if (tls_driving == lp) {
    req->run(req); /* already on the loop thread: no hop */
    return;
  }
  if (lp->driven) {
    /* A request behind others needs no kick: theirs woke the driver,
     * which drains the whole inbox. The kick does its own handshake. */
    if (corio__inbox_push(&lp->inbox, req))
      lp->hooks.kick(lp->hooks.kick_ctx);
    return;
  }
  /* The push is a seq_cst-ordered RMW and so is this load: see the top */
  if (corio__inbox_push(&lp->inbox, req) && !atomic_load(&lp->polling))
    uv_async_send(&lp->async);
}


/* In attached mode the async handle keeps the application's loop alive
 * exactly while hooks.alive says so. Loop thread. */
static void alive_eval(corio__loop_t *lp) {
  if (lp->owned || lp->closing)
    return;
  if (lp->hooks.alive(lp->hooks.ctx))
    uv_ref((uv_handle_t *)&lp->async);
  else
    uv_unref((uv_handle_t *)&lp->async);
}


static void alive_req_run(corio__req_t *req) {
  corio__loop_t *lp = corio__container_of(req, corio__loop_t, alive_req);

  /* The node has left the inbox: it may be posted again. */
  atomic_store(&lp->alive_req_queued, 0);
  alive_eval(lp);
}


void corio__loop_alive_changed(corio__loop_t *lp) {
  if (lp == NULL || lp->owned)
    return;
  if (corio__loop_current() == lp) {
    alive_eval(lp); /* the node may be in the inbox: leave it alone */
    return;
  }
  /* The node may be in the inbox once only. */
  if (atomic_exchange(&lp->alive_req_queued, 1) == 0)
    corio__loop_post(lp, &lp->alive_req);
}


void corio__loop_closer_add(corio__loop_t *lp, corio__loop_closer_t *closer) {
  corio__list_push_front(&lp->closers, &closer->node);
}


void corio__loop_closer_remove(corio__loop_closer_t *closer) {
  corio__list_remove(&closer->node);
}


/* --- lifetime ---------------------------------------------------------- */

static void handle_closed(uv_handle_t *h) {
  corio__loop_t *lp = h->data;

  if (--lp->handles_open == 0 && !lp->owned)
    free(lp); /* attached mode: nothing of corio is left on the loop */
}


static void close_handles(corio__loop_t *lp) {
  corio__list_t *n;

  lp->closing = 1;
  while ((n = corio__list_first(&lp->closers)) != NULL) {
    corio__loop_closer_t *c = corio__container_of(n, corio__loop_closer_t, node);
    c->close(c); /* unlinks itself */
  }
  atomic_store(&lp->polling, 0);
  corio__loop_timers_drop(lp);
  uv_close((uv_handle_t *)&lp->async, handle_closed);
  uv_close((uv_handle_t *)&lp->check, handle_closed);
  uv_close((uv_handle_t *)&lp->idle, handle_closed);
  uv_close((uv_handle_t *)&lp->timer, handle_closed);
}


static void stop_req_run(corio__req_t *req) {
  corio__loop_t *lp = corio__container_of(req, corio__loop_t, stop_req);

  run_reqs(lp); /* whatever is still queued, then nothing more */
  close_handles(lp);
}


static int init_handles(corio__loop_t *lp) {
  int err;

  if ((err = uv_async_init(lp->loop, &lp->async, async_cb)) != 0)
    return err;
  /* These cannot fail: libuv only fills the handle in. */
  uv_check_init(lp->loop, &lp->check);
  uv_idle_init(lp->loop, &lp->idle);
  uv_timer_init(lp->loop, &lp->timer);
  lp->async.data = lp->check.data = lp->idle.data = lp->timer.data = lp;
  lp->handles_open = 4;
  uv_unref((uv_handle_t *)&lp->idle);
  if (lp->driven) {
    /* Unreferenced: uv_run(UV_RUN_ONCE) with no socket open must not
     * block on it (the driver then sleeps elsewhere). */
    uv_unref((uv_handle_t *)&lp->async);
    uv_unref((uv_handle_t *)&lp->timer);
    return 0;
  }
  uv_check_start(&lp->check, check_cb);
  uv_unref((uv_handle_t *)&lp->check);
  /* Attached: hold the application's loop only while there is work. */
  if (!lp->owned && !lp->hooks.alive(lp->hooks.ctx))
    uv_unref((uv_handle_t *)&lp->async);
  tls_loop = tls_driving = lp;
  return 0;
}


static void loop_thread_main(void *arg) {
  corio__loop_t *lp = arg;

  corio__thread_name("corio-loop");
  corio__block_sigpipe();
  lp->start_err = init_handles(lp);
  uv_sem_post(&lp->started);
  if (lp->start_err != 0)
    return; /* corio__loop_start reports it and cleans up */
  uv_run(lp->loop, UV_RUN_DEFAULT);
  tls_loop = tls_driving = NULL;
}


static corio__loop_t *loop_alloc(const corio__loop_hooks_t *hooks) {
  corio__loop_t *lp = calloc(1, sizeof *lp);

  if (lp == NULL)
    return NULL;
  lp->hooks = *hooks;
  lp->alive_req.run = alive_req_run;
  lp->stop_req.run = stop_req_run;
  corio__list_init(&lp->closers);
  return lp;
}


static int start_owned(corio__loop_t *lp) {
  int err;

  lp->owned = 1;
  lp->loop = &lp->owned_loop;
  if ((err = uv_loop_init(lp->loop)) != 0)
    return err;
  /* uv_metrics_idle_time, for the loop's busy time (corio_rt_metrics) */
  uv_loop_configure(lp->loop, UV_METRICS_IDLE_TIME);
  if ((err = uv_sem_init(&lp->started, 0)) != 0) {
    uv_loop_close(lp->loop);
    return err;
  }
  err = uv_thread_create(&lp->thread, loop_thread_main, lp);
  if (err == 0) {
    uv_sem_wait(&lp->started);
    err = lp->start_err;
    if (err != 0)
      uv_thread_join(&lp->thread); /* it returned without running */
  }
  uv_sem_destroy(&lp->started);
  if (err != 0)
    uv_loop_close(lp->loop); /* no handle was made: returns 0 */
  return err;
}


int corio__loop_start(uv_loop_t *app_loop, const corio__loop_hooks_t *hooks,
                      corio__loop_t **out) {
  corio__loop_t *lp = loop_alloc(hooks);
  int err;

  if (lp == NULL)
    return UV_ENOMEM;
  if (app_loop != NULL) {
    corio__block_sigpipe(); /* this is the application's loop thread */
    lp->loop = app_loop;
    err = init_handles(lp);
  } else {
    err = start_owned(lp);
  }
  if (err != 0) {
    free(lp);
    return err;
  }
  *out = lp;
  return 0;
}


int corio__loop_stop(corio__loop_t *lp) {
  int err;

  if (lp == NULL)
    return 0;
  if (!lp->owned) {
    /* Attached, on the loop thread: the application's next uv_run
     * finishes the close and frees lp. */
    if (atomic_load(&lp->inflight) != 0)
      return UV_EBUSY;
    close_handles(lp);
    if (tls_loop == lp)
      tls_loop = tls_driving = NULL;
    return 0;
  }
  corio__loop_post(lp, &lp->stop_req);
  {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    /* uv_thread_t is a pthread_t here (libuv on Unix) */
    if (pthread_timedjoin_np(lp->thread, NULL, &until) == ETIMEDOUT) {
      if (lp->hooks.stuck != NULL)
        lp->hooks.stuck(lp->hooks.ctx);
      uv_thread_join(&lp->thread);
    }
  }
  /* Every handle is closed and every request done, or uv_run would not
   * have returned. */
  err = uv_loop_close(lp->loop);
  free(lp);
  return err;
}


/* --- driven loops ------------------------------------------------------- */

int corio__loop_open_driven(const corio__loop_hooks_t *hooks, corio__loop_t **out) {
  corio__loop_t *lp = loop_alloc(hooks);
  int err;

  if (lp == NULL)
    return UV_ENOMEM;
  lp->owned = lp->driven = 1;
  lp->loop = &lp->owned_loop;
  if ((err = uv_loop_init(lp->loop)) != 0) {
    free(lp);
    return err;
  }
  if ((err = init_handles(lp)) != 0) {
    uv_loop_close(lp->loop);
    free(lp);
    return err;
  }
  *out = lp;
  return 0;
}


void corio__loop_bind(corio__loop_t *lp) {
  tls_driving = lp;
}


int corio__loop_drain(corio__loop_t *lp) {
  /* relaxed peek first: the common case is an empty inbox */
  if (atomic_load_explicit(&lp->inbox.head, memory_order_relaxed) == NULL)
    return 0;
  return run_reqs(lp);
}


static void wake_timer_cb(uv_timer_t *timer) {
  /* Its job is to end the poll. It may fire before the poll, in the same
   * uv_run (its millisecond went by before uv_run read the clock): then
   * with no timer left the poll would block for good. uv_stop makes it
   * return at once; uv_run clears the flag on the way out. */
  uv_stop(timer->loop);
}


void corio__loop_drive(corio__loop_t *lp, int block, uint64_t timeout_ns) {
  corio__loop_drain(lp);
  if (!block) {
    uv_run(lp->loop, UV_RUN_NOWAIT);
    return;
  }
  /* Referenced while we block: a request's kick sends the async. */
  uv_ref((uv_handle_t *)&lp->async);
  if (timeout_ns != 0) {
    uv_update_time(lp->loop);
    uv_timer_start(&lp->timer, wake_timer_cb, (timeout_ns + 999999u) / 1000000u, 0);
    uv_ref((uv_handle_t *)&lp->timer);
  }
  uv_run(lp->loop, UV_RUN_ONCE);
  uv_timer_stop(&lp->timer);
  uv_unref((uv_handle_t *)&lp->timer);
  uv_unref((uv_handle_t *)&lp->async);
  corio__loop_drain(lp);
}


void corio__loop_wake(corio__loop_t *lp) {
  uv_async_send(&lp->async);
}


void corio__loop_shut_driven(corio__loop_t *lp) {
  corio__loop_t *prev = tls_driving;

  if (lp == NULL || lp->closing)
    return;
  tls_driving = lp;
  run_reqs(lp);
  close_handles(lp);
  tls_driving = prev;
}


int corio__loop_settle(corio__loop_t *lp) {
  corio__loop_t *prev = tls_driving;
  int ran;

  if (lp == NULL)
    return 0;
  tls_driving = lp;
  ran = run_reqs(lp);
  uv_run(lp->loop, UV_RUN_NOWAIT);
  ran += run_reqs(lp);
  tls_driving = prev;
  return ran != 0 || uv_loop_alive(lp->loop) ||
         atomic_load(&lp->inbox.head) != NULL;
}


int corio__loop_close_driven(corio__loop_t *lp) {
  int err;

  if (lp == NULL)
    return 0;
  corio__loop_shut_driven(lp);
  while (corio__loop_settle(lp)) {
  }
  err = uv_loop_close(lp->loop);
  free(lp);
  return err;
}
