/* Sleeping: one uv_timer_t per runtime and a binary min-heap of sleepers
 * ordered by deadline, all on the loop thread. A sleeper's record lives in
 * the sleeping task's frame. No handle is created or closed per sleep, and
 * 100,000 sleepers cost a heap of 100,000 pointers.
 *
 * A sleep never ends early, and ends as soon after its deadline as the
 * loop can manage: deadlines are in nanoseconds of uv_hrtime(), and the
 * timer callback compares them with a fresh reading of that clock, not
 * with the loop's cached millisecond time (which lags and rounds). libuv
 * timers have millisecond resolution, so the timer is armed for the whole
 * milliseconds that remain and, for the last fraction of one, for 0 ms:
 * the loop polls without blocking until the deadline has passed. */
#include <stdlib.h>
#include <time.h>

#include "loop.h"
#include "sched/sched.h"

struct corio__sleeper {
  corio__req_t req;
  uint64_t deadline;    /* ns of uv_hrtime() */
  corio_task_t *task;
  corio__loop_t *lp;
  int err;
};


/* The heap holds each deadline beside its sleeper, so that sifting reads
 * only the heap's own array: with 100,000 sleepers, following a pointer
 * into each sleeper's stack at every comparison cost a TLB miss each and
 * made the loop thread the bottleneck. */
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


static int heap_push(corio__loop_t *lp, corio__sleeper_t *s) {
  if (lp->heap_len == lp->heap_cap) {
    size_t cap = lp->heap_cap ? 2 * lp->heap_cap : 64;
    corio__heap_entry_t *h = realloc(lp->heap, cap * sizeof *h);
    if (h == NULL)
      return UV_ENOMEM;
    lp->heap = h;
    lp->heap_cap = cap;
  }
  lp->heap[lp->heap_len].deadline = s->deadline;
  lp->heap[lp->heap_len].sleeper = s;
  sift_up(lp, lp->heap_len++);
  return 0;
}


static corio__sleeper_t *heap_pop(corio__loop_t *lp) {
  corio__sleeper_t *top = lp->heap[0].sleeper;

  if (--lp->heap_len > 0) {
    lp->heap[0] = lp->heap[lp->heap_len];
    sift_down(lp, 0);
  }
  return top;
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


void corio__loop_timers_fire(uv_timer_t *timer) {
  corio__loop_t *lp = timer->data;
  uint64_t now = uv_hrtime();

  lp->timer_due = 0;
  while (lp->heap_len > 0 && lp->heap[0].deadline <= now)
    corio__ready(heap_pop(lp)->task);
  rearm(lp, now);
}


void corio__loop_timers_drop(corio__loop_t *lp) {
  free(lp->heap);
  lp->heap = NULL;
  lp->heap_len = lp->heap_cap = 0;
  if (lp->timer_due != 0)
    uv_timer_stop(&lp->timer);
  lp->timer_due = 0;
}


static void sleeper_add(corio__req_t *req) {
  corio__sleeper_t *s = (corio__sleeper_t *)req;
  corio__loop_t *lp = s->lp;

  if (lp->closing)
    return; /* the runtime is going away; the task will never run again */
  s->err = heap_push(lp, s);
  if (s->err != 0) {
    corio__ready(s->task);
    return;
  }
  rearm(lp, uv_hrtime());
}


static int sleep_park(corio_task_t *self, void *arg) {
  corio__sleeper_t *s = arg;

  s->task = self;
  corio__loop_post(s->lp, &s->req);
  return 0;
}


int corio_sleep(uint64_t ms) {
  corio_task_t *self = corio_self();
  corio__sleeper_t s;
  uint64_t now;

  if (self == NULL) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
      ;
    return 0;
  }
  s.req.run = sleeper_add;
  now = uv_hrtime();
  /* clamped like libuv clamps its timers: a huge sleep is "forever" */
  s.deadline = ms < (UINT64_MAX - now) / 1000000u ? now + ms * 1000000u
                                                 : UINT64_MAX;
  s.lp = self->rt->lp;
  s.err = 0;
  if (ms == 0)
    return corio_yield();
  corio__park(sleep_park, &s);
  return s.err;
}
