/* The work-stealing deque of one worker (Chase-Lev, with the memory orders
 * of Le et al., PPoPP 2013).
 *
 * The owner pushes and pops at the bottom (LIFO, good for cache locality);
 * other workers steal from the top (FIFO, the oldest and usually largest
 * piece of work). Items are non-NULL pointers. The buffer doubles when it
 * is full; the old one is retired through EBR because a thief may still be
 * reading it. The structure lives in the worker's own memory: no allocation
 * besides the buffer.
 */
#ifndef CORIO_SCHED_DEQUE_H_
#define CORIO_SCHED_DEQUE_H_

#include <stdatomic.h>
#include <stdint.h>

#include "core/atomics.h"
#include "ebr.h"

typedef struct corio__deque_buf corio__deque_buf_t;

typedef struct corio__deque {
  /* Thieves CAS top; the owner only when it races for the last item. */
  _Atomic(int64_t) top;
  char pad0_[CORIO__CACHE_LINE - sizeof(_Atomic(int64_t))];
  /* Written by the owner only; read by thieves. */
  _Atomic(int64_t) bottom;
  _Atomic(corio__deque_buf_t *) buf;
  /* The owner's last reading of top, a lower bound of it (top only
   * grows): a push reads top again only when this says the buffer may be
   * full. Owner only. */
  int64_t top_seen;
  char pad1_[CORIO__CACHE_LINE - 2 * sizeof(_Atomic(int64_t)) -
             sizeof(_Atomic(corio__deque_buf_t *))];
} corio__deque_t;


/* --- Lifetime ------------------------------------------------------------
 * No other thread may use the deque during either call. */

/* Allocates a buffer of 2^log2_cap slots (log2_cap <= 40). Returns 0,
 * UV_EINVAL or UV_ENOMEM. */
int corio__deque_init(corio__deque_t *dq, unsigned log2_cap);

/* Frees the current buffer. Items still inside are dropped; buffers already
 * retired belong to EBR (corio__ebr_free). */
void corio__deque_destroy(corio__deque_t *dq);


/* --- Owner ---------------------------------------------------------------
 * Only the worker that owns the deque calls these. */

/* Pushes item at the bottom, doubling the buffer when it is full; `owner` is
 * the caller's EBR participant, which retires the old buffer. Returns 0,
 * UV_EINVAL (item or owner NULL) or UV_ENOMEM (then item was not pushed). */
int corio__deque_push(corio__deque_t *dq, corio__ebr_thread_t *owner,
                      void *item);

/* Takes the newest item, or NULL when the deque is empty (or a thief won
 * the last one). */
void *corio__deque_pop(corio__deque_t *dq);


/* --- Thieves -------------------------------------------------------------
 * Any thread with an EBR participant of the same domain. */

/* Takes the oldest item. Returns NULL when the deque is empty, or when
 * another thread took the item first or the buffer was replaced meanwhile;
 * in those two cases *lost_race is set to 1 (if lost_race is not NULL) and
 * retrying may succeed. Pins `thief` for the duration only. */
void *corio__deque_steal(corio__deque_t *dq, corio__ebr_thread_t *thief,
                         int *lost_race);

/* Number of items, possibly stale by the time it returns; never negative.
 * Any thread; for heuristics only. */
int64_t corio__deque_size_approx(const corio__deque_t *dq);

#endif /* CORIO_SCHED_DEQUE_H_ */
