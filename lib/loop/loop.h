/* The reactor: one libuv loop, run on a thread of its own (owned mode) or
 * by the application (attached mode), and the bridge other threads reach
 * it through (docs/DESIGN.md 1 and 5).
 *
 * This layer knows nothing about tasks. The layer above (lib/sched) hands
 * it hooks: work to run in the loop's idle phase, a flush at the end of
 * every iteration, and whether the loop should be kept alive. Timers fire
 * the callback they were given (timer.h); requests run their own function
 * (inbox.h).
 *
 * Handles corio adds to the loop (owned or the application's):
 *  - async: other threads push a request into the inbox, then
 *    uv_async_send; the callback drains the inbox. In attached mode it is
 *    referenced only while hooks.alive says so, so the application's
 *    uv_run returns by itself once corio has nothing left to do.
 *  - check (unreferenced): at the end of every iteration, hooks.flush.
 *  - idle (unreferenced, started only while needed): hooks.run, and
 *    polling the inbox; an active idle handle keeps poll from blocking.
 *  - timer: the earliest deadline of the timer heap (timer.c). */
#ifndef CORIO_LOOP_LOOP_H
#define CORIO_LOOP_LOOP_H

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "core/list.h"
#include "core/timer_heap.h"
#include "inbox.h"

typedef struct corio__loop corio__loop_t;

/* What the layer above runs on the loop thread. */
typedef struct corio__loop_hooks {
  void *ctx;
  /* Idle phase, while corio__loop_busy asked for it: run what is pending.
   * Returns nonzero while work remains (the idle handle stays on). */
  int (*run)(void *ctx);
  /* End of every iteration (uv_check). Returns nonzero while work remains
   * for run. */
  int (*flush)(void *ctx);
  /* Attached mode: nonzero while the application's loop must stay alive
   * for corio (it has live work). Re-asked after corio__loop_alive_changed. */
  int (*alive)(void *ctx);
  /* Driven loops only (corio__loop_open_driven): a request was posted from
   * another thread into an empty inbox; wake the driver (kick_ctx) if it
   * sleeps. It replaces uv_async_send: the driver may be asleep elsewhere
   * than in this loop's poll. */
  void (*kick)(void *kick_ctx);
  void *kick_ctx;
  /* Owned mode: the loop thread has not stopped a second after
   * corio__loop_stop asked it to (something on it does not return): say
   * what, once. May be NULL. */
  void (*stuck)(void *ctx);
} corio__loop_hooks_t;

/* Something of the layers above that holds libuv handles on this loop (a
 * socket of lib/net): closed by force when the loop stops, because nothing
 * will ever run its owner again. close must unlink the node
 * (corio__loop_closer_remove). Loop thread only. */
typedef struct corio__loop_closer {
  corio__list_t node;
  void (*close)(struct corio__loop_closer *closer);
} corio__loop_closer_t;

struct corio__loop {
  uv_loop_t *loop;
  uv_loop_t owned_loop;      /* the loop, in owned mode */
  int owned;
  int driven;                /* run by a worker, not a thread of its own */
  uv_thread_t thread;        /* the loop thread, owned mode */
  uv_sem_t started;
  int start_err;             /* what setting up the handles returned */
  corio__loop_hooks_t hooks;

  uv_async_t async;          /* other threads -> loop: drain the inbox */
  uv_check_t check;          /* end of iteration: hooks.flush */
  uv_idle_t idle;            /* hooks.run; keeps poll from blocking */
  uv_timer_t timer;          /* the earliest deadline of the heap */
  int handles_open;          /* closed when the loop stops, counted down */
  int closing;

  corio__inbox_t inbox;
  /* 1 while the loop polls the inbox itself (for CORIO__LOOP_SPIN_NS after
   * the last request), so producers need not signal the uv_async_t. */
  _Atomic(int) polling;
  uint64_t poll_until;       /* ns of uv_hrtime(), loop thread only */
  corio__req_t alive_req;    /* re-ask hooks.alive on the loop thread */
  _Atomic(int) alive_req_queued;
  corio__req_t stop_req;     /* owned mode: close everything */

  /* Timers (timer.c), loop thread only. */
  corio__timer_heap_t timers;
  uint64_t timer_due;        /* the deadline (ns) the uv timer is set for, or 0 */

  _Atomic(int) inflight;     /* libuv requests started through corio_await */
  corio__list_t closers;     /* corio__loop_closer_t, loop thread only */

  /* Counters for corio_rt_metrics: written by the thread running the
   * loop alone (relaxed load and store, no RMW), read by any thread. */
  _Atomic(uint64_t) n_iterations;  /* uv_check: one per loop iteration */
  _Atomic(uint64_t) n_requests;    /* inbox requests run */
};

/* One more on a counter that only the calling thread writes; nothing in
 * a build configured with -DCORIO_METRICS=OFF (to measure their cost). */
#ifdef CORIO_NO_METRICS
#define CORIO__COUNT(c, n) ((void)0)
#else
#define CORIO__COUNT(c, n)                                                   \
  atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + (n), \
                        memory_order_relaxed)
#endif

/* The loop of the calling thread, if it is a loop thread (the reactor's
 * own, or an application's in attached mode; not a worker's driven loop). Not inlined: a
 * task that moved threads must not reuse another thread's answer
 * (docs/DESIGN.md 3a, thread-locals across a switch). */
corio__loop_t *corio__loop_current(void);

/* Start the reactor. app_loop NULL: a new loop on a new thread (owned);
 * else attach to the application's loop, on its loop thread (the caller).
 * hooks are copied. Returns 0 or a libuv error (no loop is left behind). */
int corio__loop_start(uv_loop_t *app_loop, const corio__loop_hooks_t *hooks,
                      corio__loop_t **out);

/* Nothing above will post again. Owned mode: close every handle (closers
 * first), join the loop thread, close the loop (its result is returned).
 * Attached mode (on the loop thread): UV_EBUSY if requests are in flight,
 * else close the handles; the last close callback frees lp during the
 * application's next uv_run. */
int corio__loop_stop(corio__loop_t *lp);

/* Run req->run(req) on the loop thread: now if this is the loop thread
 * (or the thread driving it), else through the inbox. Any thread. */
void corio__loop_post(corio__loop_t *lp, corio__req_t *req);

/* hooks.run has work: call it soon, and do not block in poll meanwhile.
 * Loop thread. */
void corio__loop_busy(corio__loop_t *lp);

/* What hooks.alive says may have changed. Any thread. */
void corio__loop_alive_changed(corio__loop_t *lp);

/* Loop thread. */
void corio__loop_closer_add(corio__loop_t *lp, corio__loop_closer_t *closer);
void corio__loop_closer_remove(corio__loop_closer_t *closer);

/* --- driven loops --------------------------------------------------------
 * A loop with no thread of its own: a worker runs it between tasks
 * (docs/DESIGN.md 8, "A loop per worker"). Its hooks: run and flush are
 * not used, alive is not asked (the loop is the driver's own), kick wakes
 * the driver. Requests posted from other threads wait in the inbox until
 * the driver calls corio__loop_drive (or corio__loop_drain). */

/* A new driven loop, made on any thread; the driver calls
 * corio__loop_bind before driving it. Returns 0 or a libuv error. */
int corio__loop_open_driven(const corio__loop_hooks_t *hooks, corio__loop_t **out);
/* The calling thread drives lp from now on (lp NULL: none). */
void corio__loop_bind(corio__loop_t *lp);
/* Driver: run the requests posted so far. Returns how many ran. */
int corio__loop_drain(corio__loop_t *lp);
/* Driver: one loop iteration, after draining the inbox. block 0: poll
 * without waiting; else wait for I/O, a request, or about timeout_ns (0:
 * no limit). libuv counts in whole milliseconds: the wait is rounded up,
 * but its clock is truncated, so it may end up to a millisecond early;
 * the caller looks at its own clock again. */
void corio__loop_drive(corio__loop_t *lp, int block, uint64_t timeout_ns);
/* Wake the driver sleeping in corio__loop_drive. Any thread. */
void corio__loop_wake(corio__loop_t *lp);
/* Has lp anything to poll or finish: a socket that reads, a write or
 * other request in flight, a handle being closed (libuv's "alive"; the
 * loop's own handles do not count)? Driver. A socket's close finishes
 * in a later iteration, as do the callbacks of the writes it cancels: a
 * loop whose last socket is closing still needs driving. */
static inline int corio__loop_has_io(corio__loop_t *lp) {
  return uv_loop_alive(lp->loop);
}
/* Closing driven loops once their drivers have stopped, on any one
 * thread. Loops may post to each other meanwhile (a write cancelled on
 * one readies a task bound to another), so a set of them closes in
 * phases: shut each (run what is posted, close its sockets and handles),
 * then settle them all, round after round, until none has anything left,
 * then close each. corio__loop_shut_driven: idempotent.
 * corio__loop_settle: one round (requests, one non-blocking iteration);
 * returns nonzero while lp is not quiet yet. corio__loop_close_driven:
 * shuts, settles, closes and frees lp (uv_loop_close's result). */
void corio__loop_shut_driven(corio__loop_t *lp);
int corio__loop_settle(corio__loop_t *lp);
int corio__loop_close_driven(corio__loop_t *lp);

#endif
