/* The loop's inbox: requests from any thread to the loop thread.
 *
 * Multi-producer, single-consumer, intrusive: a request is a node inside
 * the caller's own record (usually on a parked task's stack). Producers
 * push with one CAS (a Treiber stack); the loop takes everything at once
 * with one exchange and reverses it into arrival order. The consumer never
 * pops a single node, so there is no ABA. A producer calls uv_async_send
 * only after its push is complete (docs/DESIGN.md 3a: uv_async_send's fast path
 * is a relaxed load, so the queue itself must publish the node). */
#ifndef CORIO_LOOP_INBOX_H
#define CORIO_LOOP_INBOX_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct corio__req corio__req_t;
typedef void (*corio__req_fn)(corio__req_t *req);

struct corio__req {
  corio__req_t *next;
  corio__req_fn run;  /* called on the loop thread */
};

typedef struct corio__inbox {
  _Atomic(corio__req_t *) head;
} corio__inbox_t;

/* Returns nonzero if the inbox was empty before: only then does the loop
 * need a wake-up (a pending one will drain this request too). */
static inline int corio__inbox_push(corio__inbox_t *in, corio__req_t *req) {
  corio__req_t *old = atomic_load_explicit(&in->head, memory_order_relaxed);

  do
    req->next = old;
  /* seq_cst (release would do for the contents): it is also one half of
   * the Dekker handshake with the loop's `polling` flag (loop.c) */
  while (!atomic_compare_exchange_weak_explicit(
      &in->head, &old, req, memory_order_seq_cst, memory_order_relaxed));
  return old == NULL;
}

/* Everything pushed so far, oldest first. Loop thread only. */
static inline corio__req_t *corio__inbox_take_all(corio__inbox_t *in) {
  corio__req_t *r, *fifo = NULL;

  /* acquire: pairs with the producers' release CAS */
  r = atomic_exchange_explicit(&in->head, NULL, memory_order_acquire);
  while (r != NULL) {
    corio__req_t *next = r->next;
    r->next = fifo;
    fifo = r;
    r = next;
  }
  return fifo;
}

#endif
