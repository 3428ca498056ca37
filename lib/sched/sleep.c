/* The clock of every deadline, and corio_sleep: a wait with a deadline
 * and no event. */
#include <time.h>
#include <uv.h>

#include "corio/rt.h"
#include "sched.h"
#include "wait.h"


uint64_t corio_now(void) {
  return uv_hrtime() / 1000000u;
}


/* A plain thread sleeps for real. */
static void sleep_thread(uint64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) != 0)
    ;
}


int corio_sleep(uint64_t ms) {
  corio__waiter_t w;
  uint64_t now;
  int err;

  if (corio_self() == NULL) {
    /* On a loop thread, outside a task, sleeping would stop the loop. */
    if (corio__loop_current() != NULL)
      return UV_EINVAL;
    sleep_thread(ms);
    return 0;
  }
  if (ms == 0)
    return corio_yield();
  if ((err = corio__wait_begin(&w)) != 0)
    return err;
  now = uv_hrtime();
  corio__wait_what(&w, CORIO__WK_SLEEP, NULL, corio__after_ns(now, ms));
  err = corio__wait_park(&w, NULL, corio__after_ns(now, ms));
  return err == UV_ETIMEDOUT ? 0 : err;
}
