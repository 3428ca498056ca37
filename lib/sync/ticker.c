/* Tickers and one-shot timers as channels (corio/chan.h): a task of the
 * runtime's sleeps until each tick is due and offers the time to a
 * channel of one, dropping it if the last is still there. */
#include <stdlib.h>
#include <uv.h>

#include "corio/chan.h"
#include "corio/rt.h"
#include "sched/sched.h"

struct corio_ticker_s {
  corio_chan_t *ch;
  corio_task_t *task;
  uint64_t start, period;        /* ms of corio_now() */
  int once;
};


static void *tick_task(void *arg) {
  corio_ticker_t *t = arg;
  uint64_t k = 1;

  corio_task_set_name(NULL, t->once ? "after" : "ticker");
  for (;;) {
    uint64_t due = t->start + k * t->period, now = corio_now();
    if (due > now && corio_sleep(due - now) != 0)
      break; /* cancelled: stopped */
    now = corio_now();
    corio_chan_try_send(t->ch, &now); /* full: the receiver has one, drop */
    if (t->once)
      break;
    /* the next due tick after now: those missed are skipped */
    k = (now - t->start) / t->period + 1;
  }
  return NULL;
}


static int ticker_start(corio_rt_t *rt, uint64_t period, int once, corio_ticker_t **out) {
  corio_ticker_t *t;
  int err;

  if (out == NULL)
    return UV_EINVAL;
  *out = NULL;
  if (rt == NULL || (period == 0 && !once))
    return UV_EINVAL;
  if ((t = calloc(1, sizeof *t)) == NULL)
    return UV_ENOMEM;
  t->start = corio_now();
  t->period = period;
  t->once = once;
  if ((err = corio_chan_new(sizeof(uint64_t), 1, &t->ch)) != 0 ||
      (err = corio_spawn(rt, tick_task, t, &t->task)) != 0) {
    if (t->ch != NULL)
      corio_chan_free(t->ch);
    free(t);
    return err;
  }
  *out = t;
  return 0;
}


int corio_ticker_new(corio_rt_t *rt, uint64_t period_ms, corio_ticker_t **out) {
  return ticker_start(rt, period_ms, 0, out);
}


int corio_after(corio_rt_t *rt, uint64_t ms, corio_ticker_t **out) {
  return ticker_start(rt, ms, 1, out);
}


corio_chan_t *corio_ticker_chan(corio_ticker_t *t) {
  return t != NULL ? t->ch : NULL;
}


int corio_ticker_free(corio_ticker_t *t) {
  int err, cancelled = 0;

  if (t == NULL)
    return UV_EINVAL;
  if (corio_self() == NULL && (corio__loop_current() != NULL || corio__worker_current() != NULL))
    return UV_EINVAL;
  corio_cancel(t->task);
  /* A cancel of the caller must not leave the ticker's task behind: wait
   * on, and give the cancel back after. */
  while ((err = corio_join(t->task, NULL)) == UV_ECANCELED)
    cancelled = 1;
  if (cancelled)
    corio_cancel(corio_self());
  corio_chan_free(t->ch);
  free(t);
  return err;
}
