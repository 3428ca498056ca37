/* Epoch-based reclamation, for a fixed set of participants.
 *
 * State: one global epoch G; per participant a word `state` that is
 * (epoch << 1 | 1) while pinned and 0 while not, and three bags of retired
 * objects, one per epoch modulo 3.
 *
 * Why an object retired in epoch e is safe to free once G >= e + 2.
 * Let a thief T read the object after pinning. All loads of G and the
 * advancing CAS are seq_cst, so they sit in one total order S with the
 * seq_cst fences of pin (F_T), retire (F_r) and advance (F_c).
 *  - If T pinned in an epoch >= e + 1, its read of G came after the CAS
 *    that installed e + 1, which came after the retirer read e after F_r;
 *    hence F_r precedes F_T in S, and T's load of the shared pointer
 *    (after F_T) sees the unlink (before F_r): T never saw the object.
 *  - If T pinned in an epoch <= e, the advance from e + 1 to e + 2 is made
 *    by a collector that read G (e + 1) and then ran F_c before reading
 *    T's state. If F_T precedes F_c, the collector sees T pinned in an old
 *    epoch and does not advance until T unpins. If F_c precedes F_T, then
 *    F_r precedes F_T as well (F_r < read of e < CAS to e + 1 < F_c) and,
 *    as above, T cannot have seen the object.
 * The frees happen after T's reads: T's unpin (or its next pin) is a
 * release store, the collector reads it with acquire, the advancing CAS
 * releases, and the freeing thread reads G with acquire.
 *
 * TSan does not model the fences; under TSan they vanish and the accesses
 * next to them become seq_cst (see atomics.h).
 */
#include "ebr.h"
#include "core/atomics.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#define CORIO__EBR_BAGS 3

/* Far more workers than any machine has cores; keeps the size computation
 * below from overflowing even with a 32-bit size_t. */
#define CORIO__EBR_MAX_THREADS 65536u

typedef struct {
  corio__ebr_node_t *head;
  uint64_t epoch;  /* the epoch every node in this bag was retired in */
} corio__ebr_bag_t;

struct corio__ebr_thread {
  /* Alone on its line: collectors read it while its owner pins/unpins. */
  _Alignas(CORIO__CACHE_LINE) _Atomic(uint64_t) state;
  unsigned depth;  /* pin nesting; owner-only */
  corio__ebr_t *ebr;
  corio__ebr_bag_t bags[CORIO__EBR_BAGS];
};

struct corio__ebr {
  _Alignas(CORIO__CACHE_LINE) _Atomic(uint64_t) epoch;
  unsigned nthreads;
  corio__ebr_thread_t threads[];
};


int corio__ebr_init(corio__ebr_t **ebr, unsigned nthreads) {
  corio__ebr_t *e;
  size_t size;
  unsigned i;

  if (ebr == NULL || nthreads == 0 || nthreads > CORIO__EBR_MAX_THREADS)
    return UV_EINVAL;

  /* aligned_alloc wants a multiple of the alignment. */
  size = sizeof(*e) + nthreads * sizeof(e->threads[0]);
  size = (size + CORIO__CACHE_LINE - 1) & ~(size_t) (CORIO__CACHE_LINE - 1);
  e = aligned_alloc(CORIO__CACHE_LINE, size);
  if (e == NULL)
    return UV_ENOMEM;

  atomic_init(&e->epoch, 0);
  e->nthreads = nthreads;
  for (i = 0; i < nthreads; i++) {
    corio__ebr_thread_t *t = &e->threads[i];
    int b;

    atomic_init(&t->state, 0);
    t->depth = 0;
    t->ebr = e;
    for (b = 0; b < CORIO__EBR_BAGS; b++) {
      t->bags[b].head = NULL;
      t->bags[b].epoch = 0;
    }
  }

  *ebr = e;
  return 0;
}


corio__ebr_thread_t *corio__ebr_thread(corio__ebr_t *ebr, unsigned index) {
  if (ebr == NULL || index >= ebr->nthreads)
    return NULL;
  return &ebr->threads[index];
}


static void corio__ebr_bag_free(corio__ebr_bag_t *bag) {
  corio__ebr_node_t *n;
  corio__ebr_node_t *next;
  int owned;

  /* Detach first, so a free_fn that retires again finds a sane bag. */
  n = bag->head;
  bag->head = NULL;

  while (n != NULL) {
    /* free_fn may free the node itself when it is embedded in the object. */
    next = n->next;
    owned = n->owned;
    n->free_fn(n->ptr);
    if (owned)
      free(n);
    n = next;
  }
}


void corio__ebr_free(corio__ebr_t *ebr) {
  unsigned i;
  int b;

  if (ebr == NULL)
    return;

  for (i = 0; i < ebr->nthreads; i++)
    for (b = 0; b < CORIO__EBR_BAGS; b++)
      corio__ebr_bag_free(&ebr->threads[i].bags[b]);

  free(ebr);
}


void corio__ebr_pin(corio__ebr_thread_t *t) {
  uint64_t epoch;

  if (t->depth++ != 0)
    return;

  /* seq_cst: this read must be ordered in S with the retire-time read and
   * the advancing CAS (see the argument at the top of the file). */
  epoch = atomic_load_explicit(&t->ebr->epoch, memory_order_seq_cst);

  /* release: a collector that reads this pin (with acquire) also sees that
   * the reads made under our previous pin are over. */
  atomic_store_explicit(&t->state, epoch << 1 | 1,
                        CORIO__MO(memory_order_release, memory_order_seq_cst));

  /* StoreLoad: the pin must be visible to collectors before we load any
   * pointer that may be retired. */
  corio__fence(memory_order_seq_cst);
}


void corio__ebr_unpin(corio__ebr_thread_t *t) {
  /* An unbalanced unpin must not wrap the count and pin us forever. */
  if (t->depth == 0 || --t->depth != 0)
    return;

  /* release: every read made while pinned happens before the collector
   * that sees us unpinned, hence before the frees its advance allows. */
  atomic_store_explicit(&t->state, 0, memory_order_release);
}


static void corio__ebr_add(corio__ebr_thread_t *t, corio__ebr_node_t *node) {
  corio__ebr_bag_t *bag;
  uint64_t epoch;

  /* StoreLoad: the store that unlinked the object must precede our read
   * of the epoch in S; otherwise a thief pinned in a later epoch could
   * still load it and we would free it too early. */
  corio__fence(memory_order_seq_cst);
  epoch = atomic_load_explicit(&t->ebr->epoch, memory_order_seq_cst);

  /* Epochs only grow, so a non-empty bag for another epoch holds objects
   * retired three or more epochs ago: already safe. */
  bag = &t->bags[epoch % CORIO__EBR_BAGS];
  if (bag->head != NULL && bag->epoch != epoch)
    corio__ebr_bag_free(bag);

  bag->epoch = epoch;
  node->next = bag->head;
  bag->head = node;
}


void corio__ebr_retire_node(corio__ebr_thread_t *t, corio__ebr_node_t *node,
                            void *ptr, void (*free_fn)(void *)) {
  node->ptr = ptr;
  node->free_fn = free_fn;
  node->owned = 0;
  corio__ebr_add(t, node);
}


int corio__ebr_retire(corio__ebr_thread_t *t, void *ptr,
                      void (*free_fn)(void *)) {
  corio__ebr_node_t *node;

  node = malloc(sizeof(*node));
  if (node == NULL)
    return UV_ENOMEM;

  node->ptr = ptr;
  node->free_fn = free_fn;
  node->owned = 1;
  corio__ebr_add(t, node);
  return 0;
}


static void corio__ebr_try_advance(corio__ebr_t *ebr) {
  uint64_t epoch;
  uint64_t state;
  unsigned i;

  epoch = atomic_load_explicit(&ebr->epoch, memory_order_seq_cst);

  /* Pairs with the fence in pin: either we see a participant's pin below,
   * or that participant sees everything unlinked before this epoch. */
  corio__fence(memory_order_seq_cst);

  for (i = 0; i < ebr->nthreads; i++) {
    /* acquire: a participant seen unpinned (or pinned anew) has finished
     * its earlier reads; they must happen before the frees we enable. */
    state = atomic_load_explicit(&ebr->threads[i].state,
                                 CORIO__MO(memory_order_acquire,
                                           memory_order_seq_cst));
    if ((state & 1) != 0 && (state >> 1) != epoch)
      return;
  }

  /* On failure (relaxed) someone else advanced already: nothing to do. */
  atomic_compare_exchange_strong_explicit(&ebr->epoch, &epoch, epoch + 1,
                                          memory_order_seq_cst,
                                          memory_order_relaxed);
}


void corio__ebr_collect(corio__ebr_thread_t *t) {
  uint64_t epoch;
  int b;

  corio__ebr_try_advance(t->ebr);

  /* acquire: synchronises with the advancing CAS, so the unpins that
   * allowed it happen before our frees. */
  epoch = atomic_load_explicit(&t->ebr->epoch, memory_order_acquire);

  for (b = 0; b < CORIO__EBR_BAGS; b++) {
    corio__ebr_bag_t *bag = &t->bags[b];

    if (bag->head != NULL && bag->epoch + 2 <= epoch)
      corio__ebr_bag_free(bag);
  }
}
