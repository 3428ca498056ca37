/* Timers on the loop thread (timer.h). */
#include "timer.h"

#include <stdlib.h>

/* Purge the heap of cancelled nodes once more than this many, and more
 * than half of it, are cancelled. */
#define CORIO__TIMER_PURGE_MIN 64
/* The heap's first allocation, in entries. */
#define CORIO__TIMER_HEAP_MIN 64

static void timers_fire(uv_timer_t *uvt);


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
    size_t cap = lp->heap_cap ? 2 * lp->heap_cap : CORIO__TIMER_HEAP_MIN;
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
  return atomic_load_explicit(&t->state, memory_order_acquire) ==
         CORIO__TIMER_CANCELLED;
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
      lp->heap[i].timer->release(lp->heap[i].timer);
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
  uv_timer_start(&lp->timer, timers_fire,
                 due > now ? (due - now) / 1000000u : 0, 0);
}


static void timers_fire(uv_timer_t *uvt) {
  corio__loop_t *lp = uvt->data;
  uint64_t now = uv_hrtime();

  lp->timer_due = 0;
  while (lp->heap_len > 0 && lp->heap[0].deadline <= now) {
    corio__timer_t *t = heap_pop(lp);
    int armed = CORIO__TIMER_ARMED;

    /* acq_rel: acquire sees the owner's writes before it armed the node */
    if (atomic_compare_exchange_strong_explicit(
            &t->state, &armed, CORIO__TIMER_FIRING, memory_order_acq_rel,
            memory_order_acquire)) {
      t->fire(t);
    } else {
      uncount_cancelled(lp);
      t->release(t);
    }
  }
  rearm(lp, now);
}


void corio__loop_timers_drop(corio__loop_t *lp) {
  size_t i;

  /* The loop is stopping: nothing will wait for these any more. */
  for (i = 0; i < lp->heap_len; i++)
    lp->heap[i].timer->release(lp->heap[i].timer);
  free(lp->heap);
  lp->heap = NULL;
  lp->heap_len = lp->heap_cap = 0;
  atomic_store_explicit(&lp->heap_cancelled, 0, memory_order_relaxed);
  if (lp->timer_due != 0)
    uv_timer_stop(&lp->timer);
  lp->timer_due = 0;
}


static void timer_add(corio__req_t *req) {
  corio__timer_t *t = corio__container_of(req, corio__timer_t, req);
  corio__loop_t *lp = t->lp;
  size_t dead = atomic_load_explicit(&lp->heap_cancelled, memory_order_relaxed);

  if (cancelled(t)) {
    uncount_cancelled(lp);
    t->release(t);
    return;
  }
  if (lp->closing) {
    t->release(t); /* the owner will never run again */
    return;
  }
  if (dead > CORIO__TIMER_PURGE_MIN && dead > lp->heap_len / 2)
    purge(lp);
  if (heap_push(lp, t) != 0) {
    /* No memory for the heap: fire now rather than never. The owner sees
     * an early end; lib/sched/wait.c reports it as UV_ENOMEM. */
    int armed = CORIO__TIMER_ARMED;
    if (atomic_compare_exchange_strong(&t->state, &armed, CORIO__TIMER_FIRING))
      t->fire(t);
    else
      t->release(t);
    return;
  }
  rearm(lp, uv_hrtime());
}


void corio__timer_init(corio__timer_t *t, corio__loop_t *lp,
                       uint64_t deadline_ns, void (*fire)(corio__timer_t *),
                       void (*release)(corio__timer_t *)) {
  t->req.run = timer_add;
  t->deadline = deadline_ns;
  t->lp = lp;
  t->fire = fire;
  t->release = release;
  atomic_init(&t->state, CORIO__TIMER_ARMED);
}


void corio__timer_start(corio__timer_t *t) {
  corio__loop_post(t->lp, &t->req);
}


int corio__timer_cancel(corio__timer_t *t) {
  corio__loop_t *lp = t->lp; /* t may be released by the loop after the CAS */
  int armed = CORIO__TIMER_ARMED;

  /* acq_rel: release hands the node to the loop; acquire (on failure) sees
   * what fire did */
  if (!atomic_compare_exchange_strong_explicit(
          &t->state, &armed, CORIO__TIMER_CANCELLED, memory_order_acq_rel,
          memory_order_acquire))
    return 0;
  /* The loop releases it; count it for purge() */
  atomic_fetch_add_explicit(&lp->heap_cancelled, 1, memory_order_relaxed);
  return 1;
}
