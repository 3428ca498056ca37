/* Timers on the loop thread: one uv_timer_t per loop and a binary
 * min-heap of timer nodes ordered by deadline. No libuv handle is made or
 * closed per timer; 100,000 timers cost a heap of 100,000 entries.
 *
 * A node is shared by its owner (any thread) and the loop, so its life is
 * a small handshake on `state`:
 *   ARMED -> FIRING      the loop claimed it at its deadline and calls
 *                        fire(node): from then on the node is fire's (and
 *                        its owner's, as they agree: lib/sched/wait.c);
 *   ARMED -> CANCELLED   the owner cancelled it first; the loop calls
 *                        release(node) when it meets it (or purges it).
 * Nodes still armed when the loop stops are released too.
 *
 * A timer never fires early, and fires as soon after its deadline as the
 * loop can manage: deadlines are ns of uv_hrtime(), compared with a fresh
 * reading of that clock, not the loop's cached millisecond time; libuv
 * timers count whole milliseconds, so the uv timer is set for those and,
 * for the last fraction of one, for 0 ms (the loop polls until it
 * passes). */
#ifndef CORIO_LOOP_TIMER_H
#define CORIO_LOOP_TIMER_H

#include <stdatomic.h>
#include <stdint.h>

#include "loop.h"

enum { CORIO__TIMER_ARMED, CORIO__TIMER_FIRING, CORIO__TIMER_CANCELLED };

struct corio__timer {
  corio__req_t req;        /* posts the node to the loop */
  uint64_t deadline;       /* ns of uv_hrtime() */
  corio__loop_t *lp;
  /* Loop thread, at the deadline, unless cancelled first. */
  void (*fire)(corio__timer_t *timer);
  /* Loop thread: free a node that will never fire. */
  void (*release)(corio__timer_t *timer);
  _Atomic(int) state;
};

/* Fill timer in, armed for deadline_ns on lp. From here on
 * corio__timer_cancel may be called, even before the start. */
void corio__timer_init(corio__timer_t *timer, corio__loop_t *lp,
                       uint64_t deadline_ns,
                       void (*fire)(corio__timer_t *timer),
                       void (*release)(corio__timer_t *timer));

/* Hand timer to the loop (through its inbox). Any thread. */
void corio__timer_start(corio__timer_t *timer);

/* Returns 1 if timer will never fire (the loop releases it), 0 if firing
 * has begun (fire has it). Any thread. */
int corio__timer_cancel(corio__timer_t *timer);

/* Loop thread: release every node, the loop is stopping. */
void corio__loop_timers_drop(corio__loop_t *lp);

#endif
