/* Tickers and corio_after: never early, no drift, no bursts, usable in a
 * select, stoppable. No upper bound on timing is asserted. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "corio.h"

static void *ticks_never_early(void *arg) {
  corio_ticker_t *tk;
  uint64_t start = corio_now(), v, last = 0;

  (void)arg;
  cr_assert_eq(corio_ticker_new(corio_current_rt(), 20, &tk), 0);
  for (uint64_t k = 1; k <= 5; k++) {
    cr_assert_eq(corio_chan_recv(corio_ticker_chan(tk), &v), 0);
    cr_assert_geq(v, start + 20 * k, "tick %llu came early", (unsigned long long)k);
    cr_assert_gt(v, last);
    last = v;
  }
  cr_assert_eq(corio_ticker_free(tk), 0);
  return NULL;
}

Test(ticker, ticks_are_never_early_and_do_not_drift, .timeout = 60) {
  cr_assert_eq(corio_main(ticks_never_early, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

/* A receiver that sleeps through many ticks finds one, not a burst. */
static void *no_burst(void *arg) {
  corio_ticker_t *tk;
  uint64_t v;

  (void)arg;
  cr_assert_eq(corio_ticker_new(corio_current_rt(), 5, &tk), 0);
  corio_sleep(100);
  cr_assert_eq(corio_chan_try_recv(corio_ticker_chan(tk), &v), 0);
  cr_assert_eq(corio_chan_try_recv(corio_ticker_chan(tk), &v), UV_EAGAIN, "a burst of ticks");
  cr_assert_eq(corio_ticker_free(tk), 0);
  return NULL;
}

Test(ticker, missed_ticks_are_skipped_not_sent_in_a_burst, .timeout = 60) {
  cr_assert_eq(corio_main(no_burst, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

/* corio_after in a select beside a channel nobody sends on: the timeout
 * case wins, once. */
static void *after_in_select(void *arg) {
  corio_ticker_t *after;
  corio_chan_t *quiet;
  uint64_t start = corio_now(), v = 0;
  int x;

  (void)arg;
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &quiet), 0);
  cr_assert_eq(corio_after(corio_current_rt(), 30, &after), 0);
  {
    corio_select_case_t cases[2] = {{.ch = quiet, .op = CORIO_RECV, .elem = &x},
                                    {.ch = corio_ticker_chan(after), .op = CORIO_RECV, .elem = &v}};
    cr_assert_eq(corio_select(cases, 2), 1);
  }
  cr_assert_geq(v, start + 30);
  cr_assert_eq(corio_chan_recv_dl(corio_ticker_chan(after), &v, corio_now() + 60), UV_ETIMEDOUT,
               "it fires once");
  cr_assert_eq(corio_ticker_free(after), 0);
  cr_assert_eq(corio_chan_free(quiet), 0);
  return NULL;
}

Test(ticker, after_fires_once_in_a_select, .timeout = 60) {
  cr_assert_eq(corio_main(after_in_select, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

Test(ticker, stopped_from_a_plain_thread_and_bad_arguments) {
  corio_rt_t *rt;
  corio_ticker_t *tk;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &rt), 0);
  cr_assert_eq(corio_ticker_new(rt, 0, &tk), UV_EINVAL);
  cr_assert_null(tk);
  cr_assert_eq(corio_ticker_new(NULL, 10, &tk), UV_EINVAL);
  cr_assert_eq(corio_ticker_free(NULL), UV_EINVAL);
  cr_assert_null(corio_ticker_chan(NULL));
  cr_assert_eq(corio_ticker_new(rt, 1000, &tk), 0);
  cr_assert_eq(corio_ticker_free(tk), 0, "stopped before its first tick");
  cr_assert_eq(corio_rt_free(rt), 0);
}
