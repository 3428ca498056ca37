/* Epoch-based reclamation for the scheduler (crossbeam-epoch style).
 *
 * A thief may still be reading a deque buffer that the owner has just
 * replaced with a bigger one. The owner therefore retires the old buffer
 * instead of freeing it, and it is freed only once no thief can hold it.
 *
 * The participants are a fixed set (the N workers), known when the runtime
 * is created; participant i is used by one thread only. A participant pins
 * itself around a steal (never across a coroutine switch). The global epoch
 * advances only when every pinned participant has observed it; unpinned
 * participants never block it. An object retired in epoch e is freed once
 * the global epoch has reached e + 2: every participant that could have
 * seen it has unpinned by then.
 */
#ifndef CORIO_SCHED_EBR_H_
#define CORIO_SCHED_EBR_H_

#include <stdint.h>

typedef struct corio__ebr corio__ebr_t;
typedef struct corio__ebr_thread corio__ebr_thread_t;

/* A retire record. corio__ebr_retire() allocates one; an object that is
 * retired often can embed one and use corio__ebr_retire_node(), which
 * cannot fail. The fields are private to ebr.c. */
typedef struct corio__ebr_node {
  struct corio__ebr_node *next;
  void *ptr;
  void (*free_fn)(void *);
  int owned;  /* allocated by corio__ebr_retire(), freed after free_fn */
} corio__ebr_node_t;


/* --- Lifetime ------------------------------------------------------------
 * Create the domain with its participants, and free it once no thread uses
 * it any more: corio__ebr_free() frees every object still retired. */

/* Returns 0, UV_EINVAL (ebr NULL, nthreads 0 or above 65536) or
 * UV_ENOMEM. */
int corio__ebr_init(corio__ebr_t **ebr, unsigned nthreads);

/* Participant `index` (0 <= index < nthreads), or NULL when out of range.
 * Each thread uses its own participant only. */
corio__ebr_thread_t *corio__ebr_thread(corio__ebr_t *ebr, unsigned index);

/* No thread may use the domain during or after this call. */
void corio__ebr_free(corio__ebr_t *ebr);


/* --- Critical sections ---------------------------------------------------
 * Between pin and unpin the calling thread may read shared objects that
 * another thread may retire at any moment. Pins nest (only the outermost
 * pair counts). Never suspend a coroutine while pinned: the coroutine could
 * resume on another worker, and the pin would block reclamation meanwhile.
 * Called by the participant's own thread only. */

void corio__ebr_pin(corio__ebr_thread_t *t);
void corio__ebr_unpin(corio__ebr_thread_t *t);


/* --- Retiring and collecting ---------------------------------------------
 * Retire an object after making it unreachable for new readers; free_fn(ptr)
 * runs once the global epoch has advanced twice past the retire epoch, on
 * the thread that calls corio__ebr_collect() (or in corio__ebr_free()).
 * Called by the participant's own thread only, pinned or not. */

/* Returns 0 or UV_ENOMEM (then nothing is retired, ptr is still the
 * caller's). */
int corio__ebr_retire(corio__ebr_thread_t *t, void *ptr,
                      void (*free_fn)(void *));

/* Like corio__ebr_retire(), with a record the caller provides, usually
 * inside *ptr itself; it must stay valid until free_fn(ptr) runs. */
void corio__ebr_retire_node(corio__ebr_thread_t *t, corio__ebr_node_t *node,
                            void *ptr, void (*free_fn)(void *));

/* Tries to advance the global epoch, then frees this participant's retired
 * objects that have become safe. Cheap: one load per participant. */
void corio__ebr_collect(corio__ebr_thread_t *t);

#endif /* CORIO_SCHED_EBR_H_ */
