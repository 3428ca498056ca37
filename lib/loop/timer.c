/* Timers on the loop thread (timer.h). */
#include "timer.h"


static void timers_fire(uv_timer_t *uvt);


/* Set the uv timer for the earliest deadline, if it changed. */
static void rearm(corio__loop_t *lp, uint64_t now) {
  uint64_t due = corio__timer_heap_next(&lp->timers);

  if (due == 0) {
    if (lp->timer_due != 0)
      uv_timer_stop(&lp->timer);
    lp->timer_due = 0;
    return;
  }
  if (due == lp->timer_due)
    return;
  lp->timer_due = due;
  /* libuv counts from its cached time: refresh it, so the whole
   * milliseconds below are counted from now. */
  uv_update_time(lp->loop);
  uv_timer_start(&lp->timer, timers_fire,
                 due > now ? (due - now) / 1000000u : 0, 0);
}


static void timers_fire(uv_timer_t *uvt) {
  corio__loop_t *lp = uvt->data;
  uint64_t now = uv_hrtime();

  lp->timer_due = 0;
  corio__timer_heap_run(&lp->timers, now);
  rearm(lp, now);
}


int corio__loop_timer_add(corio__loop_t *lp, corio__timer_t *t) {
  int err;

  if (lp->closing) {
    t->release(t); /* the owner will never run again */
    return 0;
  }
  if ((err = corio__timer_heap_add(&lp->timers, t)) != 0)
    return err;
  rearm(lp, uv_hrtime());
  return 0;
}


void corio__loop_timers_drop(corio__loop_t *lp) {
  corio__timer_heap_drop(&lp->timers);
  if (lp->timer_due != 0)
    uv_timer_stop(&lp->timer);
  lp->timer_due = 0;
}
