/* A heap of timers, owned by one thread (a worker, or the loop thread),
 * cancellable from any thread.
 *
 * A binary min-heap by deadline; each entry keeps its deadline beside the
 * node pointer, so sifting reads only the heap's own array (following
 * pointers into 100,000 nodes at every comparison costs a cache miss
 * each). Deadlines are ns of uv_hrtime().
 *
 * A node is shared by its owner (the party that armed it: a waiting task)
 * and the heap's thread, so its life is a handshake on `state`:
 *   ARMED -> FIRING      the heap's thread claimed it at its deadline and
 *                        calls fire(node): from then on the node is fire's
 *                        (and its owner's, as they agree: lib/sched/wait.c);
 *   ARMED -> CANCELLED   the owner cancelled it first; the heap's thread
 *                        calls release(node) when it meets it, or purges it
 *                        early once most of the heap is cancelled.
 * Nodes still armed when the heap is dropped are released too. */
#ifndef CORIO_CORE_TIMER_HEAP_H
#define CORIO_CORE_TIMER_HEAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { CORIO__TIMER_ARMED, CORIO__TIMER_FIRING, CORIO__TIMER_CANCELLED };

typedef struct corio__timer corio__timer_t;
typedef struct corio__timer_heap corio__timer_heap_t;

struct corio__timer {
  uint64_t deadline;             /* ns of uv_hrtime() */
  void (*fire)(corio__timer_t *timer);    /* the heap's thread */
  void (*release)(corio__timer_t *timer); /* the heap's thread: free it */
  corio__timer_heap_t *heap;     /* where it goes (set before arming) */
  _Atomic(int) state;
  int early;                     /* fired by corio__timer_fire_now */
};

typedef struct corio__heap_entry {
  uint64_t deadline;
  corio__timer_t *timer;
} corio__heap_entry_t;

struct corio__timer_heap {
  corio__heap_entry_t *a;
  size_t len, cap;
  _Atomic(size_t) cancelled;     /* nodes cancelled meanwhile (a hint) */
};

/* Fill a node in, armed for deadline_ns, to be added to heap.
 * corio__timer_cancel may be called from here on, even before the add. */
void corio__timer_init(corio__timer_t *t, corio__timer_heap_t *heap,
                       uint64_t deadline_ns, void (*fire)(corio__timer_t *),
                       void (*release)(corio__timer_t *));

/* Add t (initialised for h). The heap's thread. Returns 0, or UV_ENOMEM
 * (t not added: still the caller's). A node cancelled before it is added
 * is released at once. */
int corio__timer_heap_add(corio__timer_heap_t *h, corio__timer_t *t);

/* The earliest deadline in the heap (perhaps of a cancelled node), or 0
 * when empty. The heap's thread. */
static inline uint64_t corio__timer_heap_next(const corio__timer_heap_t *h) {
  return h->len != 0 ? h->a[0].deadline : 0;
}

/* Fire every node due at now (release cancelled ones). The heap's thread.
 * Returns how many fired. */
size_t corio__timer_heap_run(corio__timer_heap_t *h, uint64_t now);

/* Release every node and free the array. The heap's thread, or anyone
 * once it is gone. */
void corio__timer_heap_drop(corio__timer_heap_t *h);

/* Fire t now, unless cancelled (then release it): for a node that could
 * not be added. The thread that would have added it. */
void corio__timer_fire_now(corio__timer_t *t);

/* Returns 1 if t will never fire (its heap releases it), 0 if firing has
 * begun (fire has it). Any thread. */
int corio__timer_cancel(corio__timer_t *t);

#endif
