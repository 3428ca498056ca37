/* A heap of timers (timer_heap.h). */
#include "timer_heap.h"

#include <stdlib.h>
#include <uv.h>

/* Purge the heap of cancelled nodes once more than this many, and more
 * than half of it, are cancelled. */
#define PURGE_MIN 64
/* The heap's first allocation, in entries. */
#define HEAP_MIN 64


static int earlier(const corio__heap_entry_t *a, const corio__heap_entry_t *b) {
  return a->deadline < b->deadline;
}


static void sift_up(corio__timer_heap_t *h, size_t i) {
  corio__heap_entry_t e = h->a[i];

  while (i > 0 && earlier(&e, &h->a[(i - 1) / 2])) {
    h->a[i] = h->a[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h->a[i] = e;
}


static void sift_down(corio__timer_heap_t *h, size_t i) {
  corio__heap_entry_t e = h->a[i];
  size_t n = h->len;

  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && earlier(&h->a[c + 1], &h->a[c]))
      c++;
    if (!earlier(&h->a[c], &e))
      break;
    h->a[i] = h->a[c];
    i = c;
  }
  h->a[i] = e;
}


static corio__timer_t *pop(corio__timer_heap_t *h) {
  corio__timer_t *top = h->a[0].timer;

  if (--h->len > 0) {
    h->a[0] = h->a[h->len];
    sift_down(h, 0);
  }
  return top;
}


static int cancelled(corio__timer_t *t) {
  /* acquire: the owner's last use of the node happened before */
  return atomic_load_explicit(&t->state, memory_order_acquire) ==
         CORIO__TIMER_CANCELLED;
}


/* The cancelled count is a hint for purge(): owners add, the heap's thread
 * takes. */
static void uncount_cancelled(corio__timer_heap_t *h) {
  if (atomic_load_explicit(&h->cancelled, memory_order_relaxed) > 0)
    atomic_fetch_sub_explicit(&h->cancelled, 1, memory_order_relaxed);
}


/* When most of the heap is waits that ended otherwise (a lock taken long
 * before its deadline), drop them all in one pass and re-heapify, instead
 * of keeping them until their deadlines. */
static void purge(corio__timer_heap_t *h) {
  size_t i, n = 0;

  for (i = 0; i < h->len; i++) {
    if (cancelled(h->a[i].timer))
      h->a[i].timer->release(h->a[i].timer);
    else
      h->a[n++] = h->a[i];
  }
  h->len = n;
  atomic_store_explicit(&h->cancelled, 0, memory_order_relaxed);
  for (i = n / 2; i-- > 0;)
    sift_down(h, i);
}


void corio__timer_init(corio__timer_t *t, corio__timer_heap_t *heap,
                       uint64_t deadline_ns, void (*fire)(corio__timer_t *),
                       void (*release)(corio__timer_t *)) {
  t->deadline = deadline_ns;
  t->fire = fire;
  t->release = release;
  t->heap = heap;
  t->early = 0;
  atomic_init(&t->state, CORIO__TIMER_ARMED);
}


int corio__timer_heap_add(corio__timer_heap_t *h, corio__timer_t *t) {
  size_t dead = atomic_load_explicit(&h->cancelled, memory_order_relaxed);

  if (cancelled(t)) {
    t->release(t);
    return 0;
  }
  if (dead > PURGE_MIN && dead > h->len / 2)
    purge(h);
  if (h->len == h->cap) {
    size_t cap = h->cap ? 2 * h->cap : HEAP_MIN;
    corio__heap_entry_t *a = realloc(h->a, cap * sizeof *a);
    if (a == NULL)
      return UV_ENOMEM;
    h->a = a;
    h->cap = cap;
  }
  h->a[h->len].deadline = t->deadline;
  h->a[h->len].timer = t;
  sift_up(h, h->len++);
  return 0;
}


/* Claim t from ARMED and fire it; a cancelled one is released. */
static int claim_and_fire(corio__timer_t *t) {
  int armed = CORIO__TIMER_ARMED;

  /* acq_rel: acquire sees the owner's writes before it armed the node */
  if (atomic_compare_exchange_strong_explicit(
          &t->state, &armed, CORIO__TIMER_FIRING, memory_order_acq_rel,
          memory_order_acquire)) {
    t->fire(t);
    return 1;
  }
  t->release(t);
  return 0;
}


void corio__timer_fire_now(corio__timer_t *t) {
  t->early = 1;
  claim_and_fire(t);
}


size_t corio__timer_heap_run(corio__timer_heap_t *h, uint64_t now) {
  size_t fired = 0;

  while (h->len > 0 && h->a[0].deadline <= now) {
    if (claim_and_fire(pop(h)))
      fired++;
    else
      uncount_cancelled(h);
  }
  return fired;
}


void corio__timer_heap_drop(corio__timer_heap_t *h) {
  for (size_t i = 0; i < h->len; i++)
    h->a[i].timer->release(h->a[i].timer);
  free(h->a);
  h->a = NULL;
  h->len = h->cap = 0;
  atomic_store_explicit(&h->cancelled, 0, memory_order_relaxed);
}


int corio__timer_cancel(corio__timer_t *t) {
  corio__timer_heap_t *h = t->heap; /* t may be released after the CAS */
  int armed = CORIO__TIMER_ARMED;

  /* acq_rel: release hands the node to the heap's thread; acquire (on
   * failure) sees what fire did */
  if (!atomic_compare_exchange_strong_explicit(
          &t->state, &armed, CORIO__TIMER_CANCELLED, memory_order_acq_rel,
          memory_order_acquire))
    return 0;
  atomic_fetch_add_explicit(&h->cancelled, 1, memory_order_relaxed);
  return 1;
}
