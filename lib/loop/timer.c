/* Deadlines: one uv_timer_t per runtime and a binary min-heap of timer
 * nodes ordered by deadline, on the loop thread. No libuv handle is made
 * or closed per timed wait; 100,000 sleepers cost a heap of 100,000
 * entries.
 *
 * A node belongs to one wait of one task, and is shared by that task and
 * the loop, so its life is a small handshake on `state`:
 *   ARMED -> FIRING -> FIRED   the loop claimed it at its deadline and
 *                              tried to end the wait; the task frees it;
 *   ARMED -> CANCELLED         the wait ended otherwise; the loop frees it
 *                              when it meets it (or purges it early).
 * The loop touches the task only between FIRING and FIRED; a task whose
 * disarm finds FIRING waits (briefly) for FIRED. So no timer can touch a
 * task after its wait returned.
 *
 * A wait never ends early, and ends as soon after its deadline as the
 * loop can manage: deadlines are ns of uv_hrtime(), compared with a fresh
 * reading of that clock, not the loop's cached millisecond time; libuv
 * timers count whole milliseconds, so the timer is armed for those and,
 * for the last fraction of one, for 0 ms (the loop polls until it passes).
 */
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "loop.h"
#include "sched/sched.h"
#include "sync/wait.h"

enum { TIMER_ARMED, TIMER_FIRING, TIMER_FIRED, TIMER_CANCELLED };

struct corio__timer {
  corio__req_t req;     /* first: posted to the loop as a request */
  uint64_t deadline;    /* ns of uv_hrtime() */
  corio_task_t *task;
  uint64_t seq;
  corio__loop_t *lp;
  _Atomic(int) state;
};


/* --- the heap: each deadline is kept beside its node, so sifting reads
 * only the heap's own array (following pointers into 100,000 nodes at
 * every comparison costs a cache miss each) ---------------------------- */

static int earlier(const corio__heap_entry_t *a, const corio__heap_entry_t *b) {
  return a->deadline < b->deadline;
}


static void sift_up(corio__loop_t *lp, size_t i) {
  corio__heap_entry_t e = lp->heap[i];

  while (i > 0 && earlier(&e, &lp->heap[(i - 1) / 2])) {
    lp->heap[i] = lp->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  lp->heap[i] = e;
}


static void sift_down(corio__loop_t *lp, size_t i) {
  corio__heap_entry_t e = lp->heap[i];
  size_t n = lp->heap_len;

  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && earlier(&lp->heap[c + 1], &lp->heap[c]))
      c++;
    if (!earlier(&lp->heap[c], &e))
      break;
    lp->heap[i] = lp->heap[c];
    i = c;
  }
  lp->heap[i] = e;
}


static int heap_push(corio__loop_t *lp, corio__timer_t *t) {
  if (lp->heap_len == lp->heap_cap) {
    size_t cap = lp->heap_cap ? 2 * lp->heap_cap : 64;
    corio__heap_entry_t *h = realloc(lp->heap, cap * sizeof *h);
    if (h == NULL)
      return UV_ENOMEM;
    lp->heap = h;
    lp->heap_cap = cap;
  }
  lp->heap[lp->heap_len].deadline = t->deadline;
  lp->heap[lp->heap_len].timer = t;
  sift_up(lp, lp->heap_len++);
  return 0;
}


static corio__timer_t *heap_pop(corio__loop_t *lp) {
  corio__timer_t *top = lp->heap[0].timer;

  if (--lp->heap_len > 0) {
    lp->heap[0] = lp->heap[lp->heap_len];
    sift_down(lp, 0);
  }
  return top;
}


static int cancelled(corio__timer_t *t) {
  /* acquire: the task's last use of the node happened before */
  return atomic_load_explicit(&t->state, memory_order_acquire) == TIMER_CANCELLED;
}


/* The cancelled count is a hint for purge(): tasks add, the loop takes. */
static void uncount_cancelled(corio__loop_t *lp) {
  size_t n = atomic_load_explicit(&lp->heap_cancelled, memory_order_relaxed);

  if (n > 0)
    atomic_fetch_sub_explicit(&lp->heap_cancelled, 1, memory_order_relaxed);
}


/* When most of the heap is waits that ended otherwise (a lock taken long
 * before its deadline), drop them all in one pass and re-heapify, instead
 * of keeping them until their deadlines. */
static void purge(corio__loop_t *lp) {
  size_t i, n = 0;

  for (i = 0; i < lp->heap_len; i++) {
    if (cancelled(lp->heap[i].timer))
      free(lp->heap[i].timer);
    else
      lp->heap[n++] = lp->heap[i];
  }
  lp->heap_len = n;
  atomic_store_explicit(&lp->heap_cancelled, 0, memory_order_relaxed);
  for (i = n / 2; i-- > 0;)
    sift_down(lp, i);
}


/* Set the uv timer for the earliest deadline, if it changed. */
static void rearm(corio__loop_t *lp, uint64_t now) {
  uint64_t due;

  if (lp->heap_len == 0) {
    if (lp->timer_due != 0)
      uv_timer_stop(&lp->timer);
    lp->timer_due = 0;
    return;
  }
  due = lp->heap[0].deadline;
  if (due == lp->timer_due)
    return;
  lp->timer_due = due;
  /* libuv counts from its cached time: refresh it, so the whole
   * milliseconds below are counted from now. */
  uv_update_time(lp->loop);
  uv_timer_start(&lp->timer, corio__loop_timers_fire,
                 due > now ? (due - now) / 1000000u : 0, 0);
}


void corio__loop_timers_fire(uv_timer_t *uvt) {
  corio__loop_t *lp = uvt->data;
  uint64_t now = uv_hrtime();

  lp->timer_due = 0;
  while (lp->heap_len > 0 && lp->heap[0].deadline <= now) {
    corio__timer_t *t = heap_pop(lp);
    int armed = TIMER_ARMED;

    if (atomic_compare_exchange_strong(&t->state, &armed, TIMER_FIRING)) {
      corio__wake_seq(t->task, t->seq, UV_ETIMEDOUT);
      /* release: the task may free the node once it sees FIRED */
      atomic_store_explicit(&t->state, TIMER_FIRED, memory_order_release);
    } else {
      free(t); /* cancelled */
      uncount_cancelled(lp);
    }
  }
  rearm(lp, now);
}


void corio__loop_timers_drop(corio__loop_t *lp) {
  size_t i;

  /* The runtime is going away; no task will run again. */
  for (i = 0; i < lp->heap_len; i++)
    free(lp->heap[i].timer);
  free(lp->heap);
  lp->heap = NULL;
  lp->heap_len = lp->heap_cap = 0;
  atomic_store_explicit(&lp->heap_cancelled, 0, memory_order_relaxed);
  if (lp->timer_due != 0)
    uv_timer_stop(&lp->timer);
  lp->timer_due = 0;
}


static void timer_add(corio__req_t *req) {
  corio__timer_t *t = (corio__timer_t *)req;
  corio__loop_t *lp = t->lp;

  size_t dead = atomic_load_explicit(&lp->heap_cancelled, memory_order_relaxed);

  if (lp->closing || cancelled(t)) {
    if (cancelled(t))
      uncount_cancelled(lp);
    free(t);
    return;
  }
  if (dead > 64 && dead > lp->heap_len / 2)
    purge(lp);
  if (heap_push(lp, t) != 0) {
    /* No memory for the heap: end the wait now rather than never. */
    int armed = TIMER_ARMED;
    if (atomic_compare_exchange_strong(&t->state, &armed, TIMER_FIRING)) {
      corio__wake_seq(t->task, t->seq, UV_ENOMEM);
      atomic_store_explicit(&t->state, TIMER_FIRED, memory_order_release);
    } else {
      free(t);
    }
    return;
  }
  rearm(lp, uv_hrtime());
}


corio__timer_t *corio__timer_new(corio_task_t *task, uint64_t seq,
                                 uint64_t deadline_ns) {
  corio__timer_t *t = malloc(sizeof *t);

  if (t == NULL)
    return NULL;
  t->req.run = timer_add;
  t->deadline = deadline_ns;
  t->task = task;
  t->seq = seq;
  t->lp = task->rt->lp;
  atomic_init(&t->state, TIMER_ARMED);
  return t;
}


void corio__timer_arm(corio__timer_t *t) {
  corio__loop_post(t->lp, &t->req);
}


void corio__timer_disarm(corio__timer_t *t) {
  corio__loop_t *lp = t->lp; /* t may be freed by the loop after the CAS */
  int armed = TIMER_ARMED;

  if (atomic_compare_exchange_strong(&t->state, &armed, TIMER_CANCELLED)) {
    /* The loop frees it; count it for purge() */
    atomic_fetch_add_explicit(&lp->heap_cancelled, 1, memory_order_relaxed);
    return;
  }
  /* FIRING or FIRED: the loop is done with the task once it is FIRED. */
  while (atomic_load_explicit(&t->state, memory_order_acquire) != TIMER_FIRED)
    sched_yield();
  free(t);
}


/* --- sleep --------------------------------------------------------------- */

int corio_sleep(uint64_t ms) {
  corio__waiter_t w;
  uint64_t now;
  int err;

  if (corio_self() == NULL) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
      ;
    return 0;
  }
  if (ms == 0)
    return corio_yield();
  err = corio__wait_begin(&w);
  if (err != 0)
    return err;
  now = uv_hrtime();
  /* clamped like libuv clamps its timers: a huge sleep is "forever" */
  err = corio__wait_park(&w, NULL, ms < (UINT64_MAX - now) / 1000000u
                                       ? now + ms * 1000000u
                                       : CORIO__NO_DEADLINE);
  return err == UV_ETIMEDOUT ? 0 : err;
}
