/* The loop thread and the bridge.
 *
 * Handles corio adds to the loop (owned or the application's):
 *  - async: workers push a request into the inbox, then uv_async_send; the
 *    callback drains the inbox. In attached mode it is referenced only
 *    while the runtime has live tasks, so the application's uv_run returns
 *    by itself once corio has nothing left to do.
 *  - check (unreferenced): at the end of every loop iteration, the worker
 *    tasks readied during it go to the injection queue in one batch with a
 *    single wake-up (DESIGN.md 8), instead of one wake per callback.
 *  - idle (unreferenced, started only while needed): tasks pinned to the
 *    loop thread that are ready to run; an active idle handle also keeps
 *    poll from blocking while they wait.
 *  - timer: the earliest sleeper (timer.c).
 *
 * After handling requests the loop keeps polling its inbox (idle handle
 * active, so uv_run does not block) for LOOP_SPIN_NS, with `polling` set;
 * producers that see it skip uv_async_send. A busy worker/loop pair thus
 * trades requests without an eventfd write and an epoll wake-up each
 * (DESIGN.md 8, "spin briefly before parking"). Stopping is a Dekker
 * handshake: the loop clears `polling`, then looks at the inbox again;
 * a producer pushes, then looks at `polling`. One of them sees the other.
 */
#include "loop.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"

#define LOOP_SPIN_NS 30000u

static _Thread_local corio__loop_t *tls_loop;


__attribute__((noinline)) corio__loop_t *corio__loop_current(void) {
  return tls_loop;
}


uint64_t corio_now(void) {
  return uv_hrtime() / 1000000u;
}


uv_loop_t *corio_rt_loop(corio_rt_t *rt) {
  return rt != NULL ? rt->lp->loop : NULL;
}


int corio_on_loop_thread(corio_rt_t *rt) {
  return rt != NULL && corio__loop_current() == rt->lp;
}


/* --- running tasks on the loop thread ---------------------------------- */

static void idle_cb(uv_idle_t *idle);


static void runq_push(corio__loop_t *lp, corio_task_t *t) {
  t->next = NULL;
  if (lp->runq_tail != NULL)
    lp->runq_tail->next = t;
  else
    lp->runq_head = t;
  lp->runq_tail = t;
  if (!lp->closing)
    uv_idle_start(&lp->idle, idle_cb);
}


static int run_reqs(corio__loop_t *lp);


/* While polling: drain the inbox; past the deadline, stop polling unless a
 * request slipped in (see the top of this file). Returns nonzero while
 * polling goes on. */
static int poll_inbox(corio__loop_t *lp) {
  if (!atomic_load_explicit(&lp->polling, memory_order_relaxed))
    return 0;
  if (run_reqs(lp) != 0) {
    lp->poll_until = uv_hrtime() + LOOP_SPIN_NS;
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


/* The next pinned task to run: the one readied last on this thread (as a
 * worker's LIFO slot, capped at 3 in a row), else the head of the queue. */
static corio_task_t *next_pinned(corio__loop_t *lp) {
  corio_task_t *t = lp->next;

  if (t != NULL) {
    lp->next = NULL;
    if (lp->next_streak++ < 3)
      return t;
    runq_push(lp, t);
  }
  lp->next_streak = 0;
  t = lp->runq_head;
  if (t != NULL) {
    lp->runq_head = t->next;
    if (lp->runq_head == NULL)
      lp->runq_tail = NULL;
  }
  return t;
}


static void idle_cb(uv_idle_t *idle) {
  corio__loop_t *lp = idle->data;
  corio_task_t *t, *end = lp->runq_tail;
  int polling = poll_inbox(lp);

  /* Run what is ready now; tasks readied meanwhile wait for the next
   * round (but for the next slot), so callbacks and I/O are not starved. */
  while ((t = next_pinned(lp)) != NULL) {
    if (corio__task_run(t, &lp->current))
      runq_push(lp, t); /* corio_yield: to the back */
    if (t == end)
      break;
  }
  if (lp->runq_head == NULL && lp->next == NULL && lp->batch_head == NULL &&
      !polling)
    uv_idle_stop(&lp->idle);
}


static void resume_pinned_req(corio__req_t *req) {
  corio_task_t *t = (corio_task_t *)((char *)req - offsetof(corio_task_t, loop_req));
  corio__loop_t *lp = t->rt->lp;

  runq_push(lp, t);
}


void corio__loop_ready_pinned(corio__loop_t *lp, corio_task_t *t, int spawned) {
  if (corio__loop_current() == lp) {
    /* A task spawned here runs next (Go's runnext): a tree of spawns then
     * unfolds depth first, as on a worker's LIFO deque, instead of
     * breadth first with every node alive at once. */
    if (spawned && lp->runq_head != NULL) {
      t->next = lp->runq_head;
      lp->runq_head = t;
      return;
    }
    if (!spawned) {
      /* readied here: the next slot; what it held goes to the queue */
      corio_task_t *prev = lp->next;
      lp->next = t;
      if (prev != NULL)
        runq_push(lp, prev);
      else if (!lp->closing)
        uv_idle_start(&lp->idle, idle_cb);
      return;
    }
    runq_push(lp, t);
    return;
  }
  t->loop_req.run = resume_pinned_req;
  corio__loop_post(lp, &t->loop_req);
}


void corio__loop_ready_batched(corio__loop_t *lp, corio_task_t *t) {
  t->next = NULL;
  if (lp->batch_tail != NULL) {
    lp->batch_tail->next = t;
  } else {
    lp->batch_head = t;
    /* An active idle handle makes this iteration's poll return at once,
     * so the check phase that flushes the batch comes without delay. */
    if (!lp->closing)
      uv_idle_start(&lp->idle, idle_cb);
  }
  lp->batch_tail = t;
}


static void check_cb(uv_check_t *check) {
  corio__loop_t *lp = check->data;
  corio_task_t *t = lp->batch_head, *tail = lp->batch_tail;
  size_t n = 0;

  if (t == NULL)
    return;
  lp->batch_head = lp->batch_tail = NULL;
  for (corio_task_t *c = t; c != NULL; c = c->next)
    n++;
  corio__inject_push_list(&lp->rt->inject, t, tail, n);
  corio__notify(lp->rt);
  if (lp->runq_head == NULL &&
      !atomic_load_explicit(&lp->polling, memory_order_relaxed))
    uv_idle_stop(&lp->idle);
}


/* --- the bridge -------------------------------------------------------- */

static int run_reqs(corio__loop_t *lp) {
  corio__req_t *r = corio__inbox_take_all(&lp->inbox), *next;
  int n = 0;

  for (; r != NULL; r = next, n++) {
    next = r->next;
    r->run(r);
  }
  return n;
}


static void async_cb(uv_async_t *async) {
  corio__loop_t *lp = async->data;

  run_reqs(lp);
  if (lp->closing)
    return;
  /* Requests came: keep polling for more for a while. */
  lp->poll_until = uv_hrtime() + LOOP_SPIN_NS;
  atomic_store_explicit(&lp->polling, 1, memory_order_relaxed);
  uv_idle_start(&lp->idle, idle_cb);
}


void corio__loop_post(corio__loop_t *lp, corio__req_t *req) {
  if (corio__loop_current() == lp) {
    req->run(req); /* already on the loop thread: no hop */
    return;
  }
  /* The push is a seq_cst-ordered RMW and so is this load: see the top */
  if (corio__inbox_push(&lp->inbox, req) && !atomic_load(&lp->polling))
    uv_async_send(&lp->async);
}


/* In attached mode the async handle keeps the application's loop alive
 * exactly while corio has live tasks. */
static void live_req_run(corio__req_t *req) {
  corio__loop_t *lp = (corio__loop_t *)((char *)req - offsetof(corio__loop_t, live_req));

  atomic_store(&lp->live_req_queued, 0);
  if (lp->owned || lp->closing)
    return;
  if (atomic_load(&lp->rt->live) != 0)
    uv_ref((uv_handle_t *)&lp->async);
  else
    uv_unref((uv_handle_t *)&lp->async);
}


void corio__loop_live_changed(corio__loop_t *lp) {
  if (lp == NULL || lp->owned)
    return;
  if (corio__loop_current() == lp) {
    live_req_run(&lp->live_req);
    return;
  }
  /* The node may be in the inbox once only. */
  if (atomic_exchange(&lp->live_req_queued, 1) == 0)
    corio__loop_post(lp, &lp->live_req);
}


/* --- lifetime ---------------------------------------------------------- */

static void handle_closed(uv_handle_t *h) {
  corio__loop_t *lp = h->data;

  if (--lp->handles_open == 0 && !lp->owned)
    free(lp); /* attached mode: nothing of corio is left on the loop */
}


void corio__loop_net_add(corio__loop_t *lp, corio__net_node_t *node) {
  node->prev = NULL;
  node->next = lp->net_head;
  if (lp->net_head != NULL)
    lp->net_head->prev = node;
  lp->net_head = node;
}


void corio__loop_net_remove(corio__loop_t *lp, corio__net_node_t *node) {
  if (node->prev != NULL)
    node->prev->next = node->next;
  else
    lp->net_head = node->next;
  if (node->next != NULL)
    node->next->prev = node->prev;
  node->prev = node->next = NULL;
}


void corio__block_sigpipe(void) {
  sigset_t set;

  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}


static void close_handles(corio__loop_t *lp) {
  lp->closing = 1;
  while (lp->net_head != NULL)
    lp->net_head->force_close(lp->net_head); /* unlinks itself */
  atomic_store(&lp->polling, 0);
  corio__loop_timers_drop(lp);
  uv_close((uv_handle_t *)&lp->async, handle_closed);
  uv_close((uv_handle_t *)&lp->check, handle_closed);
  uv_close((uv_handle_t *)&lp->idle, handle_closed);
  uv_close((uv_handle_t *)&lp->timer, handle_closed);
}


static void stop_req_run(corio__req_t *req) {
  corio__loop_t *lp = (corio__loop_t *)((char *)req - offsetof(corio__loop_t, stop_req));

  run_reqs(lp); /* whatever is still queued, then nothing more */
  close_handles(lp);
}


static int init_handles(corio__loop_t *lp) {
  int err;

  tls_loop = lp;
  if ((err = uv_async_init(lp->loop, &lp->async, async_cb)) != 0)
    return err;
  uv_check_init(lp->loop, &lp->check);
  uv_idle_init(lp->loop, &lp->idle);
  uv_timer_init(lp->loop, &lp->timer);
  lp->async.data = lp->check.data = lp->idle.data = lp->timer.data = lp;
  lp->handles_open = 4;
  uv_check_start(&lp->check, check_cb);
  uv_unref((uv_handle_t *)&lp->check);
  uv_unref((uv_handle_t *)&lp->idle);
  /* Attached: no live tasks yet, so do not hold the loop open. */
  if (!lp->owned && atomic_load(&lp->rt->live) == 0)
    uv_unref((uv_handle_t *)&lp->async);
  return 0;
}


static void loop_thread_main(void *arg) {
  corio__loop_t *lp = arg;

  corio__block_sigpipe();
  init_handles(lp);
  uv_sem_post(&lp->started);
  uv_run(lp->loop, UV_RUN_DEFAULT);
  tls_loop = NULL;
}


int corio__loop_start(corio_rt_t *rt, uv_loop_t *app_loop, corio__loop_t **out) {
  corio__loop_t *lp = calloc(1, sizeof *lp);
  int err;

  if (lp == NULL)
    return UV_ENOMEM;
  lp->rt = rt;
  lp->live_req.run = live_req_run;
  lp->stop_req.run = stop_req_run;
  if (app_loop != NULL) {
    corio__block_sigpipe(); /* this is the application's loop thread */
    lp->loop = app_loop;
    err = init_handles(lp);
    if (err != 0) {
      tls_loop = NULL;
      free(lp);
      return err;
    }
    *out = lp;
    return 0;
  }
  lp->owned = 1;
  lp->loop = &lp->owned_loop;
  if ((err = uv_loop_init(lp->loop)) != 0) {
    free(lp);
    return err;
  }
  uv_sem_init(&lp->started, 0);
  err = uv_thread_create(&lp->thread, loop_thread_main, lp);
  if (err != 0) {
    uv_sem_destroy(&lp->started);
    uv_loop_close(lp->loop);
    free(lp);
    return err;
  }
  uv_sem_wait(&lp->started);
  uv_sem_destroy(&lp->started);
  *out = lp;
  return 0;
}


int corio__loop_stop(corio__loop_t *lp) {
  int err = 0;

  if (lp == NULL)
    return 0;
  if (!lp->owned) {
    /* Attached, on the loop thread: the application's next uv_run
     * finishes the close and frees lp. */
    if (atomic_load(&lp->inflight) != 0)
      return UV_EBUSY;
    close_handles(lp);
    if (tls_loop == lp)
      tls_loop = NULL;
    return 0;
  }
  corio__loop_post(lp, &lp->stop_req);
  uv_thread_join(&lp->thread);
  /* Every handle is closed and every request done, or uv_run would not
   * have returned. */
  err = uv_loop_close(lp->loop);
  free(lp);
  return err;
}
