/* Timers on the loop thread: a heap of timer nodes (core/timer_heap.h)
 * and one uv_timer_t set for the earliest deadline. No libuv handle is
 * made or closed per timer.
 *
 * A timer never fires early, and fires as soon after its deadline as the
 * loop can manage: deadlines are ns of uv_hrtime(), compared with a fresh
 * reading of that clock, not the loop's cached millisecond time; libuv
 * timers count whole milliseconds, so the uv timer is set for those and,
 * for the last fraction of one, for 0 ms (the loop polls until it
 * passes). */
#ifndef CORIO_LOOP_TIMER_H
#define CORIO_LOOP_TIMER_H

#include "core/timer_heap.h"
#include "loop.h"

/* Add t, initialised for &lp->timers. Loop thread. Returns 0, or
 * UV_ENOMEM (t not added). */
int corio__loop_timer_add(corio__loop_t *lp, corio__timer_t *t);

/* Loop thread: release every node, the loop is stopping. */
void corio__loop_timers_drop(corio__loop_t *lp);

#endif
