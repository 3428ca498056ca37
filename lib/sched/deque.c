/* Chase-Lev work-stealing deque.
 *
 * Algorithm and memory orders: N. M. Le, A. Pop, A. Cohen, F. Zappa
 * Nardelli, "Correct and Efficient Work-Stealing for Weak Memory Models",
 * PPoPP 2013 (figure 1), on D. Chase and Y. Lev, "Dynamic Circular
 * Work-Stealing Deque", SPAA 2005. Indices are signed 64-bit and only grow
 * (top never decreases), so they never wrap in practice and "bottom - 1"
 * on an empty deque is simply negative, never a huge unsigned value.
 *
 * Why each order (the paper proves these are enough):
 *  - push: the slot store is relaxed and a release fence precedes the
 *    relaxed store of bottom: a thief that reads the new bottom with
 *    acquire sees the item, and everything the pusher wrote into it.
 *    top is read with acquire so that the slots thieves have taken (they
 *    read them before their CAS) are really free before we reuse them.
 *  - pop (take): bottom is decremented first, then a seq_cst fence, then
 *    top is read. This is the Dekker pattern against steal's "read top,
 *    fence, read bottom": either the thief sees the smaller bottom, or we
 *    see its incremented top; both cannot miss each other. Only when one
 *    item is left (t == b) can both want it; a seq_cst CAS on top decides.
 *  - steal: top with acquire, seq_cst fence, bottom with acquire (pairs
 *    with push's release fence), buffer with acquire (pairs with the
 *    release that publishes a grown buffer; the paper uses consume). The
 *    slot is read BEFORE the CAS: once top moves, the owner may overwrite
 *    that slot. The CAS on top is seq_cst: it is the linearisation point
 *    and must be ordered with pop's fence.
 *  - grow: the new buffer is filled with relaxed stores and published with
 *    a release store. The old buffer goes to EBR; thieves pin around a
 *    steal, so it is freed only when none can still be reading it.
 *  - A thief also re-reads the buffer pointer before its CAS and gives up
 *    if it changed: it never trusts a slot read from a buffer that has been
 *    replaced meanwhile (crossbeam-deque's CVE-2021-32810 came from such a
 *    read).
 * TSan does not model fences: under TSan the fences vanish and the
 * neighbouring operations carry the ordering instead (atomics.h).
 */
#include "deque.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#define CORIO__DEQUE_MAX_LOG2 40

struct corio__deque_buf {
  corio__ebr_node_t retire;  /* so a grow can retire it without allocating */
  int64_t mask;              /* capacity - 1; the capacity is a power of 2 */
  _Atomic(void *) slots[];
};


static corio__deque_buf_t *corio__deque_buf_new(int64_t capacity) {
  corio__deque_buf_t *a;
  size_t n;

  n = (size_t) capacity;
  if (n > (SIZE_MAX - sizeof(*a)) / sizeof(a->slots[0]))
    return NULL;

  /* Slots need no initialisation: only [top, bottom) is ever read, and
   * each of those was stored first. */
  a = malloc(sizeof(*a) + n * sizeof(a->slots[0]));
  if (a == NULL)
    return NULL;

  a->mask = capacity - 1;
  return a;
}


int corio__deque_init(corio__deque_t *dq, unsigned log2_cap) {
  corio__deque_buf_t *a;

  if (dq == NULL || log2_cap > CORIO__DEQUE_MAX_LOG2)
    return UV_EINVAL;

  a = corio__deque_buf_new((int64_t) 1 << log2_cap);
  if (a == NULL)
    return UV_ENOMEM;

  atomic_init(&dq->top, 0);
  atomic_init(&dq->bottom, 0);
  atomic_init(&dq->buf, a);
  dq->top_seen = 0;
  return 0;
}


void corio__deque_destroy(corio__deque_t *dq) {
  /* relaxed: the caller guarantees nobody else uses the deque any more. */
  free(atomic_load_explicit(&dq->buf, memory_order_relaxed));
  atomic_store_explicit(&dq->buf, NULL, memory_order_relaxed);
}


/* Owner only. Copies [t, b) into a buffer twice as big, publishes it and
 * retires the old one. NULL when out of memory (nothing changed then). */
static corio__deque_buf_t *corio__deque_grow(corio__deque_t *dq,
                                             corio__ebr_thread_t *owner,
                                             corio__deque_buf_t *old,
                                             int64_t t, int64_t b) {
  corio__deque_buf_t *a;
  void *item;
  int64_t i;

  if (old->mask >= INT64_MAX / 2)
    return NULL;

  a = corio__deque_buf_new((old->mask + 1) * 2);
  if (a == NULL)
    return NULL;

  for (i = t; i < b; i++) {
    /* relaxed: these slots were written by this thread. */
    item = atomic_load_explicit(&old->slots[i & old->mask],
                                memory_order_relaxed);
    /* relaxed: `a` is private until the release store below. */
    atomic_store_explicit(&a->slots[i & a->mask], item, memory_order_relaxed);
  }

  /* release: a thief that loads `a` with acquire sees the copied slots. */
  atomic_store_explicit(&dq->buf, a, memory_order_release);

  /* Thieves pinned before the store above may still read `old`. Grows are
   * rare, so also give EBR a chance to free older buffers now. */
  corio__ebr_retire_node(owner, &old->retire, old, free);
  corio__ebr_collect(owner);
  return a;
}


int corio__deque_push(corio__deque_t *dq, corio__ebr_thread_t *owner,
                      void *item) {
  corio__deque_buf_t *a;
  int64_t b;
  int64_t t;

  if (item == NULL || owner == NULL)
    return UV_EINVAL;

  /* relaxed: only the owner writes bottom. */
  b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
  /* relaxed: only the owner writes buf. */
  a = atomic_load_explicit(&dq->buf, memory_order_relaxed);
  /* A stale top is a lower bound: if even it leaves room, there is room,
   * and every slot below it was freed by a CAS we saw (the acquire load
   * that read it). Else read top again: a thief that CASes it pulls its
   * line away, so reading it on every push cost a miss per push once
   * anyone stole. acquire: thieves read a slot before their CAS on top;
   * seeing the CAS means those reads are done and the slots may be
   * reused. */
  t = dq->top_seen;
  if (b - t > a->mask)
    dq->top_seen = t = atomic_load_explicit(&dq->top, memory_order_acquire);

  if (b - t > a->mask) {
    a = corio__deque_grow(dq, owner, a, t, b);
    if (a == NULL)
      return UV_ENOMEM;
  }

  /* relaxed: published by the release fence and the store of bottom. */
  atomic_store_explicit(&a->slots[b & a->mask], item, memory_order_relaxed);
  corio__fence(memory_order_release);
  /* relaxed after the release fence (release under TSan): a thief that
   * sees b + 1 sees the item and what it points to. */
  atomic_store_explicit(&dq->bottom, b + 1,
                        CORIO__MO(memory_order_relaxed, memory_order_release));
  return 0;
}


void *corio__deque_pop(corio__deque_t *dq) {
  corio__deque_buf_t *a;
  void *item;
  int64_t b;
  int64_t t;

  /* relaxed: only the owner writes bottom and buf. */
  b = atomic_load_explicit(&dq->bottom, memory_order_relaxed) - 1;
  a = atomic_load_explicit(&dq->buf, memory_order_relaxed);

  /* relaxed, then the seq_cst fence: claim slot b before reading top, so a
   * thief and we cannot both miss each other (seq_cst under TSan). */
  atomic_store_explicit(&dq->bottom, b,
                        CORIO__MO(memory_order_relaxed, memory_order_seq_cst));
  corio__fence(memory_order_seq_cst);
  /* relaxed: ordered by the fence above (seq_cst under TSan). */
  t = atomic_load_explicit(&dq->top,
                           CORIO__MO(memory_order_relaxed, memory_order_seq_cst));

  if (t > b) {
    /* Empty: undo the claim. relaxed: nothing was published. */
    atomic_store_explicit(&dq->bottom, b + 1, memory_order_relaxed);
    return NULL;
  }

  /* relaxed: this thread wrote the slot. */
  item = atomic_load_explicit(&a->slots[b & a->mask], memory_order_relaxed);
  if (t < b)
    return item;  /* more than one left: no thief can reach slot b */

  /* The last item: thieves may want it too; whoever moves top wins. On
   * failure (relaxed) a thief took it; we only learn that. */
  if (!atomic_compare_exchange_strong_explicit(&dq->top, &t, t + 1,
                                               memory_order_seq_cst,
                                               memory_order_relaxed))
    item = NULL;

  /* Empty either way; top is now b + 1. relaxed: publishes no item. */
  atomic_store_explicit(&dq->bottom, b + 1, memory_order_relaxed);
  return item;
}


void *corio__deque_steal(corio__deque_t *dq, corio__ebr_thread_t *thief,
                         int *lost_race) {
  corio__deque_buf_t *a;
  void *item;
  int64_t t;
  int64_t b;
  int lost;

  item = NULL;
  lost = 0;
  corio__ebr_pin(thief);

  /* acquire (as in the paper): bottom, read after the fence, is at least
   * as new as this top (seq_cst under TSan, for the missing fence). */
  t = atomic_load_explicit(&dq->top,
                           CORIO__MO(memory_order_acquire, memory_order_seq_cst));
  corio__fence(memory_order_seq_cst);
  /* acquire: pairs with push's release fence, so slot t is visible. */
  b = atomic_load_explicit(&dq->bottom,
                           CORIO__MO(memory_order_acquire, memory_order_seq_cst));

  if (t < b) {
    /* acquire: pairs with the release that published a grown buffer. */
    a = atomic_load_explicit(&dq->buf, memory_order_acquire);
    /* Read before the CAS: once top moves the owner may reuse the slot.
     * acquire: keeps the re-check of buf below after this read. */
    item = atomic_load_explicit(&a->slots[t & a->mask], memory_order_acquire);

    /* relaxed: only compared, never dereferenced; the acquire above keeps
     * it after the slot read and the seq_cst CAS keeps it before the CAS.
     * On CAS failure (relaxed) another thread took slot t. */
    if (atomic_load_explicit(&dq->buf, memory_order_relaxed) != a ||
        !atomic_compare_exchange_strong_explicit(&dq->top, &t, t + 1,
                                                 memory_order_seq_cst,
                                                 memory_order_relaxed)) {
      item = NULL;
      lost = 1;
    }
  }

  corio__ebr_unpin(thief);
  if (lost_race != NULL)
    *lost_race = lost;
  return item;
}


int64_t corio__deque_size_approx(const corio__deque_t *dq) {
  int64_t b;
  int64_t t;

  /* relaxed: a hint for heuristics; it may be stale the moment we return. */
  b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
  t = atomic_load_explicit(&dq->top, memory_order_relaxed);
  return b > t ? b - t : 0;
}
