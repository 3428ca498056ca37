/* Channels and select. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corio.h"
#include "../support/sizes.h"

/* --- many producers and consumers ---------------------------------------- */

enum { PRODUCERS = 4, CONSUMERS = 4 };

typedef struct { uint32_t producer, seq; } item_t;

typedef struct {
  corio_chan_t *ch;
  corio_wg_t producers;
  uint32_t per_producer;
  _Atomic(uint8_t) *seen;       /* [producer * per_producer + seq] */
  _Atomic(long) received;
  _Atomic(int) order_broken;
} storm_t;

typedef struct { storm_t *s; uint32_t id; } who_t;

static void *producer(void *arg) {
  who_t *w = arg;

  for (uint32_t i = 0; i < w->s->per_producer; i++) {
    item_t it = {w->id, i};
    cr_assert_eq(corio_chan_send(w->s->ch, &it), 0);
  }
  corio_wg_done(&w->s->producers);
  return NULL;
}

static void *consumer(void *arg) {
  storm_t *s = arg;
  int64_t last[PRODUCERS];
  item_t it;
  int err;

  for (int i = 0; i < PRODUCERS; i++)
    last[i] = -1;
  while ((err = corio_chan_recv(s->ch, &it)) == 0) {
    atomic_fetch_add(&s->seen[it.producer * s->per_producer + it.seq], 1);
    atomic_fetch_add(&s->received, 1);
    if ((int64_t)it.seq <= last[it.producer])
      atomic_store(&s->order_broken, 1);
    last[it.producer] = it.seq;
  }
  cr_assert_eq(err, UV_EOF);
  return NULL;
}

static void *closes_after_producers(void *arg) {
  storm_t *s = arg;

  corio_wg_wait(&s->producers);
  corio_chan_close(s->ch);
  return NULL;
}

static void storm(size_t capacity, unsigned workers) {
  storm_t s;
  who_t who[PRODUCERS];
  corio_rt_t *rt;
  uint32_t total;

  memset(&s, 0, sizeof s);
  s.per_producer = CORIO_TEST_UNDER_TSAN ? 500 : 20000;
  total = PRODUCERS * s.per_producer;
  s.seen = calloc(total, sizeof *s.seen);
  cr_assert_eq(corio_chan_new(sizeof(item_t), capacity, &s.ch), 0);
  cr_assert_eq(corio_wg_add(&s.producers, PRODUCERS), 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = workers}, &rt), 0);
  for (int i = 0; i < CONSUMERS; i++)
    cr_assert_eq(corio_spawn(rt, consumer, &s, NULL), 0);
  for (uint32_t i = 0; i < PRODUCERS; i++) {
    who[i] = (who_t){&s, i};
    cr_assert_eq(corio_spawn(rt, producer, &who[i], NULL), 0);
  }
  cr_assert_eq(corio_spawn(rt, closes_after_producers, &s, NULL), 0);
  cr_assert_eq(corio_rt_wait(rt), 0);
  cr_assert_eq(atomic_load(&s.received), (long)total);
  for (uint32_t i = 0; i < total; i++)
    cr_assert_eq(atomic_load(&s.seen[i]), 1, "item %u received %u times", i,
                 (unsigned)atomic_load(&s.seen[i]));
  cr_assert_not(atomic_load(&s.order_broken), "per-producer order kept");
  cr_assert_eq(corio_chan_free(s.ch), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
  free(s.seen);
}

Test(chan, storm_unbuffered_every_value_once_in_order, .timeout = 120) { storm(0, 2); }
Test(chan, storm_buffered_every_value_once_in_order, .timeout = 120) { storm(64, 2); }
Test(chan, storm_buffered_on_4_workers, .timeout = 120) { storm(7, 4); }

/* --- close, rendezvous --------------------------------------------------- */

static void *recv_until_closed(void *arg) {
  int v;
  return (void *)(intptr_t)corio_chan_recv(arg, &v);
}

static void *send_until_closed(void *arg) {
  int v = 1;
  return (void *)(intptr_t)corio_chan_send(arg, &v);
}

static void *close_semantics(void *arg) {
  corio_chan_t *buf, *unbuf;
  corio_task_t *r[3], *snd;
  int v, i;
  void *res;

  (void)arg;
  cr_assert_eq(corio_chan_new(sizeof(int), 4, &buf), 0);
  for (v = 1; v <= 3; v++)
    cr_assert_eq(corio_chan_send(buf, &v), 0);
  cr_assert_eq(corio_chan_close(buf), 0);
  cr_assert_eq(corio_chan_close(buf), UV_EPIPE);
  v = 9;
  cr_assert_eq(corio_chan_send(buf, &v), UV_EPIPE);
  for (i = 1; i <= 3; i++) {
    cr_assert_eq(corio_chan_recv(buf, &v), 0, "buffered items drain first");
    cr_assert_eq(v, i);
  }
  cr_assert_eq(corio_chan_recv(buf, &v), UV_EOF);
  cr_assert_eq(corio_chan_try_recv(buf, &v), UV_EOF);
  cr_assert_eq(corio_chan_free(buf), 0);

  cr_assert_eq(corio_chan_new(sizeof(int), 0, &unbuf), 0);
  for (i = 0; i < 3; i++)
    corio_spawn(corio_current_rt(), recv_until_closed, unbuf, &r[i]);
  corio_sleep(10);
  cr_assert_eq(corio_chan_free(unbuf), UV_EBUSY, "receivers wait on it");
  cr_assert_eq(corio_chan_close(unbuf), 0);
  for (i = 0; i < 3; i++) {
    corio_join(r[i], &res);
    cr_assert_eq((intptr_t)res, UV_EOF, "close wakes every receiver");
  }
  cr_assert_eq(corio_chan_free(unbuf), 0);

  cr_assert_eq(corio_chan_new(sizeof(int), 0, &unbuf), 0);
  corio_spawn(corio_current_rt(), send_until_closed, unbuf, &snd);
  corio_sleep(10);
  corio_chan_close(unbuf);
  corio_join(snd, &res);
  cr_assert_eq((intptr_t)res, UV_EPIPE, "a blocked sender gets EPIPE");
  cr_assert_eq(corio_chan_free(unbuf), 0);
  return NULL;
}

Test(chan, close_semantics) {
  cr_assert_eq(corio_main(close_semantics, NULL, NULL, NULL), 0);
}

typedef struct {
  corio_chan_t *ch;
  _Atomic(int) sent;
} rv_t;

static void *sends_and_flags(void *arg) {
  rv_t *r = arg;
  int v = 42;

  cr_assert_eq(corio_chan_send(r->ch, &v), 0);
  atomic_store(&r->sent, 1);
  return NULL;
}

static void *rendezvous(void *arg) {
  rv_t r = {0};
  corio_task_t *t;
  int v = 0;

  (void)arg;
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &r.ch), 0);
  cr_assert_eq(corio_chan_try_send(r.ch, &v), UV_EAGAIN, "nobody receives");
  corio_spawn(corio_current_rt(), sends_and_flags, &r, &t);
  corio_sleep(20);
  cr_assert_eq(atomic_load(&r.sent), 0, "the send waits for a receiver");
  cr_assert_eq(corio_chan_len(r.ch), 0);
  cr_assert_eq(corio_chan_recv(r.ch, &v), 0);
  cr_assert_eq(v, 42);
  corio_join(t, NULL);
  cr_assert_eq(atomic_load(&r.sent), 1);
  cr_assert_eq(corio_chan_recv_dl(r.ch, &v, corio_now() + 5), UV_ETIMEDOUT);
  cr_assert_eq(corio_chan_free(r.ch), 0);
  return NULL;
}

Test(chan, unbuffered_send_completes_only_when_received) {
  cr_assert_eq(corio_main(rendezvous, NULL, NULL, NULL), 0);
}

Test(chan, misuse_is_einval) {
  corio_chan_t *ch;
  int v = 0;

  cr_assert_eq(corio_chan_new(0, 1, &ch), UV_EINVAL);
  cr_assert_eq(corio_chan_new(100000, 1, &ch), UV_EINVAL);
  cr_assert_eq(corio_chan_new(sizeof(int), 1, &ch), 0);
  cr_assert_eq(corio_chan_try_send(ch, &v), 0);
  cr_assert_eq(corio_chan_send(ch, &v), UV_EINVAL, "would wait, not in a task");
  cr_assert_eq(corio_chan_try_recv(ch, &v), 0);
  cr_assert_eq(corio_chan_recv(ch, &v), UV_EINVAL);
  cr_assert_eq(corio_chan_free(ch), 0);
}

/* --- select -------------------------------------------------------------- */

static void *select_is_fair(void *arg) {
  corio_chan_t *a, *b;
  int counts[2] = {0, 0}, v = 7, got;
  enum { ROUNDS = 10000 };

  (void)arg;
  corio_chan_new(sizeof(int), 1, &a);
  corio_chan_new(sizeof(int), 1, &b);
  for (int i = 0; i < ROUNDS; i++) {
    corio_select_case_t c[2] = {{a, CORIO_RECV, &got, 0}, {b, CORIO_RECV, &got, 0}};
    int r;
    corio_chan_try_send(a, &v); /* keep both ready */
    corio_chan_try_send(b, &v);
    r = corio_select(c, 2);
    cr_assert(r == 0 || r == 1);
    cr_assert_eq(c[r].result, 0);
    counts[r]++;
  }
  cr_assert_geq(counts[0], ROUNDS * 3 / 10, "a chosen %d times", counts[0]);
  cr_assert_geq(counts[1], ROUNDS * 3 / 10, "b chosen %d times", counts[1]);
  corio_chan_free(a);
  corio_chan_free(b);
  return NULL;
}

Test(select, each_of_two_ready_cases_is_chosen_at_least_30_percent) {
  cr_assert_eq(corio_main(select_is_fair, NULL, NULL, NULL), 0);
}

typedef struct {
  corio_chan_t *in, *out;
} pipes_t;

static void *sends_later(void *arg) {
  pipes_t *p = arg;
  int v = 5;

  corio_sleep(10);
  corio_chan_send(p->in, &v);
  return NULL;
}

static void *select_paths(void *arg) {
  pipes_t p;
  corio_task_t *t;
  int got = 0, v = 1, r;
  uint64_t t0;

  (void)arg;
  corio_chan_new(sizeof(int), 0, &p.in);
  corio_chan_new(sizeof(int), 0, &p.out);
  {
    corio_select_case_t c[2] = {{p.in, CORIO_RECV, &got, 0}, {p.out, CORIO_SEND, &v, 0}};
    cr_assert_eq(corio_select_try(c, 2), UV_EAGAIN, "default: nothing ready");
    t0 = uv_hrtime();
    cr_assert_eq(corio_select_dl(c, 2, corio_now() + 15), UV_ETIMEDOUT);
    cr_assert_geq(uv_hrtime() - t0, 14u * 1000000u, "never early");
    corio_spawn(corio_current_rt(), sends_later, &p, &t);
    r = corio_select(c, 2);
    cr_assert_eq(r, 0);
    cr_assert_eq(got, 5);
    corio_join(t, NULL);
  }
  /* the select's other waiter is gone: the channel can be freed */
  cr_assert_eq(corio_chan_free(p.out), 0);
  corio_chan_close(p.in);
  {
    corio_select_case_t c[1] = {{p.in, CORIO_RECV, &got, 0}};
    cr_assert_eq(corio_select(c, 1), 0);
    cr_assert_eq(c[0].result, UV_EOF, "a receive on a closed channel is ready");
  }
  corio_chan_free(p.in);
  return NULL;
}

Test(select, default_timeout_and_wake_paths) {
  cr_assert_eq(corio_main(select_paths, NULL, NULL, NULL), 0);
}

static void *blocks_in_select(void *arg) {
  corio_chan_t *ch = arg;
  int v;
  corio_select_case_t c[1] = {{ch, CORIO_RECV, &v, 0}};
  return (void *)(intptr_t)corio_select(c, 1);
}

static void *cancels_blocked_channel_ops(void *arg) {
  corio_chan_t *ch;
  corio_task_t *r, *s;
  void *res;

  (void)arg;
  corio_chan_new(sizeof(int), 0, &ch);
  corio_spawn(corio_current_rt(), recv_until_closed, ch, &r);
  corio_spawn(corio_current_rt(), blocks_in_select, ch, &s);
  corio_sleep(10);
  corio_cancel(r);
  corio_cancel(s);
  corio_join(r, &res);
  cr_assert_eq((intptr_t)res, UV_ECANCELED, "recv");
  corio_join(s, &res);
  cr_assert_eq((intptr_t)res, UV_ECANCELED, "select");
  cr_assert_eq(corio_chan_free(ch), 0, "no waiter left behind");
  return NULL;
}

Test(select, cancel_ends_blocked_channel_waits) {
  cr_assert_eq(corio_main(cancels_blocked_channel_ops, NULL, NULL, NULL), 0);
}

/* --- Go's channel and select tests, ported ------------------------------
 *
 * From Go's test/chan (select3.go, select6.go, doubleselect.go, ...) and
 * runtime/chan_test.go, rewritten for corio:
 * a nil channel is a NULL case, a panic on a closed channel is UV_EPIPE,
 * `default:` is corio_select_try. Where Go sleeps to order goroutines, the
 * tests below run on one thread (loop_only): a task runs until it waits,
 * so once it has said "about to wait" and the caller has the CPU again,
 * it is parked. "Never blocks" is checked with a deadline already past,
 * which fails with UV_ETIMEDOUT exactly when the call would have to wait. */

#define PAST 0 /* a deadline that has passed: "only if no wait is needed" */
#define UNTOUCHED 12345 /* a .result that no select may write */

static corio_rt_options_t one_thread = {.loop_only = 1};

static void yield_until(_Atomic(int) *flag) {
  while (!atomic_load(flag))
    corio_yield();
}

static void null_cases(corio_select_case_t *c, size_t n) {
  for (size_t i = 0; i < n; i++)
    c[i] = (corio_select_case_t){NULL, 0, NULL, UNTOUCHED};
}

/* select3.go: an empty select, and one whose channels are all nil. */

Test(select, no_live_case_try_is_eagain_on_any_thread) {
  corio_select_case_t c[3];

  null_cases(c, 3);
  cr_assert_eq(corio_select_try(NULL, 0), UV_EAGAIN);
  cr_assert_eq(corio_select_try(c, 0), UV_EAGAIN);
  cr_assert_eq(corio_select_try(c, 3), UV_EAGAIN);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(c[i].result, UNTOUCHED);
}

Test(select, no_live_case_outside_a_task_is_einval_as_it_would_wait) {
  corio_select_case_t c[3];

  null_cases(c, 3);
  cr_assert_eq(corio_select(NULL, 0), UV_EINVAL);
  cr_assert_eq(corio_select(c, 3), UV_EINVAL);
  cr_assert_eq(corio_select_dl(c, 3, corio_now() + 5), UV_EINVAL);
  cr_assert_eq(corio_select_dl(c, 3, PAST), UV_EINVAL);
}

static void *selects_on_nothing_with_deadlines(void *arg) {
  corio_select_case_t c[3];

  (void)arg;
  null_cases(c, 3);
  cr_assert_eq(corio_select_dl(NULL, 0, corio_now() + 5), UV_ETIMEDOUT);
  cr_assert_eq(corio_select_dl(c, 3, corio_now() + 5), UV_ETIMEDOUT);
  cr_assert_eq(corio_select_dl(c, 3, PAST), UV_ETIMEDOUT);
  cr_assert_eq(corio_select_try(c, 3), UV_EAGAIN);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(c[i].result, UNTOUCHED);
  return NULL;
}

Test(select, no_live_case_dl_waits_for_its_deadline) {
  cr_assert_eq(corio_main(selects_on_nothing_with_deadlines, NULL, NULL, NULL), 0);
}

static void *selects_on_nothing(void *arg) {
  corio_select_case_t c[2];
  intptr_t how = (intptr_t)arg;

  null_cases(c, 2);
  if (how == 0)
    return (void *)(intptr_t)corio_select(NULL, 0);
  if (how == 1)
    return (void *)(intptr_t)corio_select(c, 2);
  return (void *)(intptr_t)corio_select_dl(c, 2, corio_now() + 3600 * 1000);
}

static void *cancels_selects_on_nothing(void *arg) {
  corio_task_t *t[3];
  void *r;

  (void)arg;
  for (intptr_t i = 0; i < 3; i++)
    cr_assert_eq(corio_spawn(corio_current_rt(), selects_on_nothing, (void *)i,
                             &t[i]), 0);
  /* whether it waits already or not yet, the cancel ends that wait */
  for (int i = 0; i < 3; i++)
    cr_assert_eq(corio_cancel(t[i]), 0);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(corio_join(t[i], &r), 0);
    cr_assert_eq((intptr_t)r, UV_ECANCELED, "select %d", i);
  }
  return NULL;
}

Test(select, no_live_case_waits_until_cancelled) {
  cr_assert_eq(corio_main(cancels_selects_on_nothing, NULL,
                          &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

/* select3.go, select4.go: a nil channel among live ones is never chosen
 * (its op and elem are not even looked at). */

static void *sends_one_int(void *arg) {
  int v = 77;
  return (void *)(intptr_t)corio_chan_send(arg, &v);
}

static void *null_among_live(void *arg) {
  corio_chan_t *a;
  corio_select_case_t c[3];
  corio_task_t *t;
  int v, got = 0;
  void *r;

  (void)arg;
  cr_assert_eq(corio_chan_new(sizeof(int), 1, &a), 0);
  null_cases(c, 3);
  c[1] = (corio_select_case_t){a, CORIO_RECV, &got, UNTOUCHED};
  c[2].op = 99; /* would be EINVAL on a live case */
  for (v = 0; v < 200; v++) {
    cr_assert_eq(corio_chan_try_send(a, &v), 0);
    cr_assert_eq(corio_select(c, 3), 1, "random start %d", v);
    cr_assert_eq(c[1].result, 0);
    cr_assert_eq(got, v);
  }
  cr_assert_eq(corio_select_try(c, 3), UV_EAGAIN);
  cr_assert_eq(corio_select_dl(c, 3, PAST), UV_ETIMEDOUT);
  cr_assert_eq(corio_spawn(corio_current_rt(), sends_one_int, a, &t), 0);
  cr_assert_eq(corio_select(c, 3), 1);
  cr_assert_eq(got, 77);
  cr_assert_eq(corio_join(t, &r), 0);
  cr_assert_eq((intptr_t)r, 0);
  cr_assert_eq(c[0].result, UNTOUCHED);
  cr_assert_eq(c[2].result, UNTOUCHED);
  cr_assert_eq(corio_chan_free(a), 0);
  return NULL;
}

Test(select, null_case_among_live_ones_is_never_chosen) {
  cr_assert_eq(corio_main(null_among_live, NULL, NULL, NULL), 0);
}

/* The case limit: CORIO_SELECT_MAX cases work, one more is UV_EINVAL. */

typedef struct {
  corio_chan_t *ch[CORIO_SELECT_MAX];
  int k;
} many_t;

static void *sends_on_k(void *arg) {
  many_t *m = arg;
  int v = 1000 + m->k;
  return (void *)(intptr_t)corio_chan_send(m->ch[m->k], &v);
}

static void *selects_over_the_limit(void *arg) {
  corio_select_case_t c[CORIO_SELECT_MAX + 1];
  many_t m;
  corio_task_t *t;
  int got[CORIO_SELECT_MAX + 1] = {0}, v = 5;

  (void)arg;
  for (int i = 0; i < CORIO_SELECT_MAX; i++) {
    cr_assert_eq(corio_chan_new(sizeof(int), 0, &m.ch[i]), 0);
    c[i] = (corio_select_case_t){m.ch[i], CORIO_RECV, &got[i], 0};
  }
  c[CORIO_SELECT_MAX] = c[0];
  cr_assert_eq(corio_select_try(c, CORIO_SELECT_MAX + 1), UV_EINVAL);
  cr_assert_eq(corio_select_dl(c, CORIO_SELECT_MAX + 1, PAST), UV_EINVAL);
  cr_assert_eq(corio_select(c, CORIO_SELECT_MAX + 1), UV_EINVAL);
  cr_assert_eq(corio_select(c, SIZE_MAX), UV_EINVAL);
  /* even when every case but the first is disabled */
  for (int i = 1; i <= CORIO_SELECT_MAX; i++)
    c[i].ch = NULL;
  cr_assert_eq(corio_select(c, CORIO_SELECT_MAX + 1), UV_EINVAL);
  for (int i = 1; i < CORIO_SELECT_MAX; i++)
    c[i].ch = m.ch[i];

  cr_assert_eq(corio_select_try(c, CORIO_SELECT_MAX), UV_EAGAIN);
  m.k = CORIO_SELECT_MAX - 1;
  cr_assert_eq(corio_spawn(corio_current_rt(), sends_on_k, &m, &t), 0);
  cr_assert_eq(corio_select(c, CORIO_SELECT_MAX), CORIO_SELECT_MAX - 1);
  cr_assert_eq(got[CORIO_SELECT_MAX - 1], 1000 + CORIO_SELECT_MAX - 1);
  cr_assert_eq(corio_join(t, NULL), 0);
  m.k = 37;
  cr_assert_eq(corio_spawn(corio_current_rt(), sends_on_k, &m, &t), 0);
  cr_assert_eq(corio_select(c, CORIO_SELECT_MAX), 37);
  cr_assert_eq(got[37], 1037);
  cr_assert_eq(corio_join(t, NULL), 0);

  /* other misuse */
  cr_assert_eq(corio_select(NULL, 1), UV_EINVAL);
  cr_assert_eq(corio_select_try(NULL, 1), UV_EINVAL);
  c[0].op = 0;
  cr_assert_eq(corio_select_try(c, 1), UV_EINVAL, "a live case needs an op");
  c[0].op = CORIO_SEND;
  c[0].elem = NULL;
  cr_assert_eq(corio_select_try(c, 1), UV_EINVAL, "and an elem");
  c[0].elem = &v;
  for (int i = 0; i < CORIO_SELECT_MAX; i++)
    cr_assert_eq(corio_chan_free(m.ch[i]), 0, "no waiter left on %d", i);
  return NULL;
}

Test(select, up_to_select_max_cases_and_not_one_more) {
  cr_assert_eq(corio_main(selects_over_the_limit, NULL, NULL, NULL), 0);
}

Test(select, over_the_limit_outside_a_task_is_einval_too) {
  corio_select_case_t c[CORIO_SELECT_MAX + 1];

  null_cases(c, CORIO_SELECT_MAX + 1);
  cr_assert_eq(corio_select_try(c, CORIO_SELECT_MAX + 1), UV_EINVAL);
  cr_assert_eq(corio_select_try(c, CORIO_SELECT_MAX), UV_EAGAIN);
}

/* select3.go: selects with closed channels behave like ordinary
 * operations: a receive proceeds (buffered values first, then UV_EOF), a
 * send is done with UV_EPIPE (Go panics). */

static void *selects_on_closed(void *arg) {
  corio_chan_t *closed, *idle;
  int v = 0, got = -1;

  (void)arg;
  cr_assert_eq(corio_chan_new(sizeof(int), 2, &closed), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &idle), 0);
  for (v = 1; v <= 2; v++)
    cr_assert_eq(corio_chan_try_send(closed, &v), 0);
  cr_assert_eq(corio_chan_close(closed), 0);
  {
    corio_select_case_t c[2] = {{idle, CORIO_RECV, &got, UNTOUCHED},
                                {closed, CORIO_RECV, &got, UNTOUCHED}};
    for (v = 1; v <= 2; v++) {
      cr_assert_eq(corio_select_dl(c, 2, PAST), 1, "never blocks");
      cr_assert_eq(c[1].result, 0, "buffered values first");
      cr_assert_eq(got, v);
    }
    for (int i = 0; i < 10; i++) {
      c[1].result = UNTOUCHED;
      cr_assert_eq(corio_select_try(c, 2), 1);
      cr_assert_eq(c[1].result, UV_EOF);
      c[1].result = UNTOUCHED;
      cr_assert_eq(corio_select_dl(c, 2, PAST), 1);
      cr_assert_eq(c[1].result, UV_EOF);
      c[1].result = UNTOUCHED;
      cr_assert_eq(corio_select(c, 2), 1);
      cr_assert_eq(c[1].result, UV_EOF);
    }
    cr_assert_eq(c[0].result, UNTOUCHED);
  }
  {
    corio_select_case_t c[2] = {{idle, CORIO_SEND, &v, UNTOUCHED},
                                {closed, CORIO_SEND, &v, UNTOUCHED}};
    cr_assert_eq(corio_select(c, 2), 1);
    cr_assert_eq(c[1].result, UV_EPIPE, "a send on a closed channel");
    cr_assert_eq(c[0].result, UNTOUCHED);
  }
  cr_assert_eq(corio_chan_free(closed), 0);
  cr_assert_eq(corio_chan_free(idle), 0);
  return NULL;
}

Test(select, closed_channel_cases_proceed_at_once) {
  cr_assert_eq(corio_main(selects_on_closed, NULL, NULL, NULL), 0);
}

typedef struct {
  corio_chan_t *ch;
  int op, result;
  _Atomic(int) about_to_wait;
} closer_t;

static void *selects_until_closed(void *arg) {
  closer_t *c = arg;
  int v = 0;
  corio_select_case_t cs[1] = {{c->ch, c->op, &v, UNTOUCHED}};
  int r;

  atomic_store(&c->about_to_wait, 1);
  r = corio_select(cs, 1);
  c->result = cs[0].result;
  return (void *)(intptr_t)r;
}

static void *closes_under_blocked_selects(void *arg) {
  closer_t r = {0}, s = {0};
  corio_task_t *tr, *ts;
  void *res;

  (void)arg;
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &r.ch), 0);
  s.ch = r.ch;
  r.op = CORIO_RECV;
  s.op = CORIO_SEND;
  cr_assert_eq(corio_spawn(corio_current_rt(), selects_until_closed, &r, &tr), 0);
  yield_until(&r.about_to_wait);
  /* a parked receiver takes the sender's element: the sender needs a
   * channel of its own */
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &s.ch), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), selects_until_closed, &s, &ts), 0);
  yield_until(&s.about_to_wait);
  cr_assert_eq(corio_chan_close(r.ch), 0);
  cr_assert_eq(corio_chan_close(s.ch), 0);
  cr_assert_eq(corio_join(tr, &res), 0);
  cr_assert_eq((intptr_t)res, 0);
  cr_assert_eq(r.result, UV_EOF);
  cr_assert_eq(corio_join(ts, &res), 0);
  cr_assert_eq((intptr_t)res, 0);
  cr_assert_eq(s.result, UV_EPIPE);
  cr_assert_eq(corio_chan_free(r.ch), 0);
  cr_assert_eq(corio_chan_free(s.ch), 0);
  return NULL;
}

Test(select, close_ends_a_parked_select) {
  cr_assert_eq(corio_main(closes_under_blocked_selects, NULL, &one_thread, NULL), 0);
}

/* select3.go: "select should not get confused if it sees itself"; and
 * runtime TestSelfSelect: two tasks selecting send and receive on one
 * channel only ever complete with each other. */

static void *sees_itself(void *arg) {
  corio_chan_t *c;
  int out = 1, in = 0;

  (void)arg;
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &c), 0);
  {
    corio_select_case_t cs[2] = {{c, CORIO_SEND, &out, UNTOUCHED},
                                 {c, CORIO_RECV, &in, UNTOUCHED}};
    cr_assert_eq(corio_select_try(cs, 2), UV_EAGAIN);
    cr_assert_eq(corio_select_dl(cs, 2, corio_now() + 5), UV_ETIMEDOUT);
    cr_assert_eq(cs[0].result, UNTOUCHED);
    cr_assert_eq(cs[1].result, UNTOUCHED);
  }
  cr_assert_eq(corio_chan_free(c), 0);
  return NULL;
}

Test(select, alone_with_both_ends_of_a_channel_it_waits) {
  cr_assert_eq(corio_main(sees_itself, NULL, NULL, NULL), 0);
}

typedef struct {
  corio_chan_t *c;
  size_t cap;
  _Atomic(int) self_receives;
} selfsel_t;

typedef struct { selfsel_t *s; int p; } selfsel_arg_t;

static void *selects_both_ways(void *arg) {
  selfsel_arg_t *a = arg;
  int rounds = CORIO_TEST_SLOW ? 300 : 1000;

  for (int i = 0; i < rounds; i++) {
    int out = a->p, in = -1, r;
    corio_select_case_t cs[2] = {{a->s->c, CORIO_SEND, &out, 0},
                                 {a->s->c, CORIO_RECV, &in, 0}};
    if (a->p == 1 && i % 2 == 1) { /* the other order too */
      corio_select_case_t tmp = cs[0];
      cs[0] = cs[1];
      cs[1] = tmp;
    }
    r = corio_select(cs, 2);
    cr_assert(r == 0 || r == 1, "select returned %d", r);
    cr_assert_eq(cs[r].result, 0);
    if (cs[r].op == CORIO_RECV && a->s->cap == 0 && in == a->p)
      atomic_fetch_add(&a->s->self_receives, 1);
  }
  return NULL;
}

static void self_select(size_t cap) {
  selfsel_t s = {.cap = cap};
  selfsel_arg_t a[2] = {{&s, 0}, {&s, 1}};
  corio_rt_t *rt;
  corio_task_t *t[2];

  cr_assert_eq(corio_chan_new(sizeof(int), cap, &s.c), 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  for (int p = 0; p < 2; p++)
    cr_assert_eq(corio_spawn(rt, selects_both_ways, &a[p], &t[p]), 0);
  for (int p = 0; p < 2; p++)
    cr_assert_eq(corio_join(t[p], NULL), 0);
  cr_assert_eq(atomic_load(&s.self_receives), 0, "a select met itself");
  cr_assert_eq(corio_rt_free(rt), 0);
  cr_assert_eq(corio_chan_free(s.c), 0);
}

Test(select, two_tasks_selecting_both_ways_unbuffered_never_meet_themselves,
     .timeout = 120) {
  self_select(0);
}

Test(select, two_tasks_selecting_both_ways_buffered_finish, .timeout = 120) {
  self_select(10);
}

/* runtime TestSelectDuplicateChannel: one task queued twice on a channel,
 * woken through a third, leaves that channel's queue sound for the next
 * receiver. */

typedef struct {
  corio_chan_t *c, *d, *e;
  _Atomic(int) a_waits, b_waits;
} dup_t;

static void *selects_on_c_twice_and_d(void *arg) {
  dup_t *x = arg;
  int v = 0, nine = 9;
  corio_select_case_t cs[3] = {{x->c, CORIO_RECV, &v, 0},
                               {x->c, CORIO_RECV, &v, 0},
                               {x->d, CORIO_RECV, &v, 0}};
  int r;

  atomic_store(&x->a_waits, 1);
  r = corio_select(cs, 3);
  cr_assert_eq(r, 2, "woken through d");
  cr_assert_eq(v, 7);
  cr_assert_eq(corio_chan_send(x->e, &nine), 0);
  return NULL;
}

static void *receives_on_c(void *arg) {
  dup_t *x = arg;
  int v = 0;

  atomic_store(&x->b_waits, 1);
  cr_assert_eq(corio_chan_recv(x->c, &v), 0);
  return (void *)(intptr_t)v;
}

static void *duplicate_channel(void *arg) {
  dup_t x = {0};
  corio_task_t *a, *b;
  int v = 7;
  void *r;

  (void)arg;
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &x.c), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &x.d), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &x.e), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), selects_on_c_twice_and_d, &x, &a), 0);
  yield_until(&x.a_waits); /* A is queued on c first (twice), */
  cr_assert_eq(corio_spawn(corio_current_rt(), receives_on_c, &x, &b), 0);
  yield_until(&x.b_waits); /* then B */
  cr_assert_eq(corio_chan_send(x.d, &v), 0); /* A leaves c's queue */
  cr_assert_eq(corio_chan_recv(x.e, &v), 0);
  cr_assert_eq(v, 9);
  v = 8;
  cr_assert_eq(corio_chan_send(x.c, &v), 0); /* must reach B */
  cr_assert_eq(corio_join(b, &r), 0);
  cr_assert_eq((intptr_t)r, 8);
  cr_assert_eq(corio_join(a, NULL), 0);
  cr_assert_eq(corio_chan_free(x.c), 0);
  cr_assert_eq(corio_chan_free(x.d), 0);
  cr_assert_eq(corio_chan_free(x.e), 0);
  return NULL;
}

Test(select, a_task_queued_twice_on_a_channel_leaves_its_queue_sound) {
  cr_assert_eq(corio_main(duplicate_channel, NULL, &one_thread, NULL), 0);
}

/* select6.go (Go issue 2075): the failed case of a select, queued behind
 * another receiver, must not corrupt that channel's queue. */

typedef struct {
  corio_chan_t *c1, *c2, *c3;
} i2075_t;

static void *receives_c1(void *arg) {
  i2075_t *x = arg;
  int v;
  return (void *)(intptr_t)corio_chan_recv(x->c1, &v);
}

static void *selects_c1_or_c2(void *arg) {
  i2075_t *x = arg;
  int v = 0, yes = 1;
  corio_select_case_t cs[2] = {{x->c1, CORIO_RECV, &v, 0},
                               {x->c2, CORIO_RECV, &v, 0}};

  cr_assert_eq(corio_select(cs, 2), 1, "c1 gets a value only after c3");
  cr_assert_eq(corio_chan_send(x->c3, &yes), 0);
  return (void *)(intptr_t)corio_chan_recv(x->c1, &v);
}

static void *sends_c2(void *arg) {
  i2075_t *x = arg;
  int yes = 1;
  return (void *)(intptr_t)corio_chan_send(x->c2, &yes);
}

static void *issue_2075(void *arg) {
  i2075_t x;
  corio_task_t *t[3];
  int v = 1;
  void *r;

  (void)arg;
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &x.c1), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &x.c2), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &x.c3), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), receives_c1, &x, &t[0]), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), selects_c1_or_c2, &x, &t[1]), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), sends_c2, &x, &t[2]), 0);
  cr_assert_eq(corio_chan_recv(x.c3, &v), 0);
  cr_assert_eq(corio_chan_send(x.c1, &v), 0);
  cr_assert_eq(corio_chan_send(x.c1, &v), 0);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(corio_join(t[i], &r), 0);
    cr_assert_eq((intptr_t)r, 0, "task %d", i);
  }
  cr_assert_eq(corio_chan_free(x.c1), 0);
  cr_assert_eq(corio_chan_free(x.c2), 0);
  cr_assert_eq(corio_chan_free(x.c3), 0);
  return NULL;
}

Test(select, failed_case_behind_another_receiver_keeps_the_queue_sound) {
  cr_assert_eq(corio_main(issue_2075, NULL, &(corio_rt_options_t){.workers = 2},
                          NULL), 0);
  cr_assert_eq(corio_main(issue_2075, NULL, &one_thread, NULL), 0);
}

/* runtime TestNonblockRecvRace: a channel holding a value and being
 * closed is always ready for a non-blocking receive. */

static void *must_find_it_ready(void *arg) {
  int v;
  corio_select_case_t cs[1] = {{arg, CORIO_RECV, &v, 0}};
  return (void *)(intptr_t)corio_select_try(cs, 1);
}

static void *nonblock_recv_race(void *arg) {
  int rounds = CORIO_TEST_SLOW ? 200 : 5000;

  (void)arg;
  for (int i = 0; i < rounds; i++) {
    corio_chan_t *c;
    corio_task_t *t;
    int v = 1;
    void *r;

    cr_assert_eq(corio_chan_new(sizeof(int), 1, &c), 0);
    cr_assert_eq(corio_chan_send(c, &v), 0);
    cr_assert_eq(corio_spawn(corio_current_rt(), must_find_it_ready, c, &t), 0);
    cr_assert_eq(corio_chan_close(c), 0);
    corio_chan_recv(c, &v); /* the value, or EOF if the task took it */
    cr_assert_eq(corio_join(t, &r), 0);
    cr_assert_eq((intptr_t)r, 0, "round %d: not ready", i);
    cr_assert_eq(corio_chan_free(c), 0);
  }
  return NULL;
}

Test(select, nonblocking_receive_on_a_closing_channel_is_ready, .timeout = 120) {
  cr_assert_eq(corio_main(nonblock_recv_race, NULL,
                          &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

/* runtime TestSelectStress: plain sends and receives on four channels
 * race with a select that sends on all four and one that receives on all
 * four, each disabling a channel (NULL) once it has done its share. */

enum { STRESS_CH = 4 };

typedef struct {
  corio_chan_t *c[STRESS_CH];
  int n;
} sstress_t;

typedef struct { sstress_t *s; int k; } sstress_arg_t;

static void *plain_sends(void *arg) {
  sstress_arg_t *a = arg;
  int v = 0;

  for (int i = 0; i < a->s->n; i++)
    cr_assert_eq(corio_chan_send(a->s->c[a->k], &v), 0);
  return NULL;
}

static void *plain_recvs(void *arg) {
  sstress_arg_t *a = arg;
  int v;

  for (int i = 0; i < a->s->n; i++)
    cr_assert_eq(corio_chan_recv(a->s->c[a->k], &v), 0);
  return NULL;
}

static void *select_all(void *arg) {
  sstress_arg_t *a = arg; /* k: CORIO_SEND or CORIO_RECV */
  int done[STRESS_CH] = {0}, v = 0;
  corio_select_case_t cs[STRESS_CH];

  for (int k = 0; k < STRESS_CH; k++)
    cs[k] = (corio_select_case_t){a->s->c[k], a->k, &v, 0};
  for (int i = 0; i < STRESS_CH * a->s->n; i++) {
    int r = corio_select(cs, STRESS_CH);
    cr_assert(r >= 0 && r < STRESS_CH, "select returned %d", r);
    cr_assert_eq(cs[r].result, 0);
    if (++done[r] == a->s->n)
      cs[r].ch = NULL; /* its share is done: disable the case */
  }
  for (int k = 0; k < STRESS_CH; k++)
    cr_assert_null(cs[k].ch);
  return NULL;
}

Test(select, stress_with_plain_ops_and_cases_disabled_by_null, .timeout = 120) {
  static const size_t caps[STRESS_CH] = {0, 0, 2, 3};
  sstress_t s = {.n = CORIO_TEST_SLOW ? 300 : 5000};
  sstress_arg_t args[2 * STRESS_CH + 2];
  corio_rt_t *rt;
  int i = 0;

  for (int k = 0; k < STRESS_CH; k++)
    cr_assert_eq(corio_chan_new(sizeof(int), caps[k], &s.c[k]), 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 4}, &rt), 0);
  for (int k = 0; k < STRESS_CH; k++) {
    args[i] = (sstress_arg_t){&s, k};
    cr_assert_eq(corio_spawn(rt, plain_sends, &args[i++], NULL), 0);
    args[i] = (sstress_arg_t){&s, k};
    cr_assert_eq(corio_spawn(rt, plain_recvs, &args[i++], NULL), 0);
  }
  args[i] = (sstress_arg_t){&s, CORIO_SEND};
  cr_assert_eq(corio_spawn(rt, select_all, &args[i++], NULL), 0);
  args[i] = (sstress_arg_t){&s, CORIO_RECV};
  cr_assert_eq(corio_spawn(rt, select_all, &args[i++], NULL), 0);
  cr_assert_eq(corio_rt_wait(rt), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
  for (int k = 0; k < STRESS_CH; k++) {
    cr_assert_eq(corio_chan_len(s.c[k]), 0);
    cr_assert_eq(corio_chan_free(s.c[k]), 0);
  }
}

/* doubleselect.go: one sender selects over four channels, four tasks
 * forward what they get to one channel; every value arrives once. */

typedef struct {
  corio_chan_t *c[4], *mux, *done;
  int n;
} dsel_t;

typedef struct { dsel_t *d; int k; } dsel_arg_t;

static void *sends_by_select(void *arg) {
  dsel_t *d = arg;
  corio_select_case_t cs[4];
  int v;

  for (int k = 0; k < 4; k++)
    cs[k] = (corio_select_case_t){d->c[k], CORIO_SEND, &v, 0};
  for (v = 0; v < d->n; v++) {
    int r = corio_select(cs, 4);
    cr_assert(r >= 0 && r < 4);
    cr_assert_eq(cs[r].result, 0);
  }
  for (int k = 0; k < 4; k++)
    corio_chan_close(d->c[k]);
  return NULL;
}

static void *forwards(void *arg) {
  dsel_arg_t *a = arg;
  int v, one = 1;

  while (corio_chan_recv(a->d->c[a->k], &v) == 0)
    cr_assert_eq(corio_chan_send(a->d->mux, &v), 0);
  cr_assert_eq(corio_chan_send(a->d->done, &one), 0);
  return NULL;
}

static void *closes_mux_when_done(void *arg) {
  dsel_t *d = arg;
  int v;

  for (int k = 0; k < 4; k++)
    cr_assert_eq(corio_chan_recv(d->done, &v), 0);
  corio_chan_close(d->mux);
  return NULL;
}

static void *double_select(void *arg) {
  dsel_t d = {.n = CORIO_TEST_SLOW ? 2000 : 50000};
  dsel_arg_t a[4];
  corio_task_t *t[6];
  unsigned char *seen = calloc((size_t)d.n, 1);
  int v, got = 0;

  (void)arg;
  for (int k = 0; k < 4; k++)
    cr_assert_eq(corio_chan_new(sizeof(int), 0, &d.c[k]), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &d.mux), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &d.done), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), sends_by_select, &d, &t[4]), 0);
  for (int k = 0; k < 4; k++) {
    a[k] = (dsel_arg_t){&d, k};
    cr_assert_eq(corio_spawn(corio_current_rt(), forwards, &a[k], &t[k]), 0);
  }
  cr_assert_eq(corio_spawn(corio_current_rt(), closes_mux_when_done, &d, &t[5]), 0);
  while (corio_chan_recv(d.mux, &v) == 0) {
    cr_assert(v >= 0 && v < d.n);
    cr_assert_eq(seen[v], 0, "value %d twice", v);
    seen[v] = 1;
    got++;
  }
  cr_assert_eq(got, d.n);
  for (int i = 0; i < 6; i++)
    cr_assert_eq(corio_join(t[i], NULL), 0);
  for (int k = 0; k < 4; k++)
    cr_assert_eq(corio_chan_free(d.c[k]), 0);
  cr_assert_eq(corio_chan_free(d.mux), 0);
  cr_assert_eq(corio_chan_free(d.done), 0);
  free(seen);
  return NULL;
}

Test(select, double_select_delivers_every_value_once, .timeout = 120) {
  cr_assert_eq(corio_main(double_select, NULL, &(corio_rt_options_t){.workers = 2},
                          NULL), 0);
}

/* runtime TestChan, for each capacity: what blocks and what does not,
 * FIFO order, values intact, len and cap. */

static void *chan_ops_at(void *arg) {
  size_t cap = (size_t)(uintptr_t)arg;
  corio_chan_t *c;
  int v = 0;

  cr_assert_eq(corio_chan_new(sizeof(int), cap, &c), 0);
  cr_assert_eq(corio_chan_cap(c), cap);
  /* a receive from an empty channel blocks; a non-blocking one does not */
  cr_assert_eq(corio_chan_recv_dl(c, &v, PAST), UV_ETIMEDOUT);
  cr_assert_eq(corio_chan_try_recv(c, &v), UV_EAGAIN);
  /* sends fill the buffer without blocking, then block */
  for (v = 0; v < (int)cap; v++) {
    cr_assert_eq(corio_chan_send_dl(c, &v, PAST), 0);
    cr_assert_eq(corio_chan_len(c), (size_t)v + 1);
  }
  cr_assert_eq(corio_chan_send_dl(c, &v, PAST), UV_ETIMEDOUT);
  cr_assert_eq(corio_chan_try_send(c, &v), UV_EAGAIN);
  /* received in FIFO order, intact */
  for (int i = 0; i < (int)cap; i++) {
    cr_assert_eq(corio_chan_recv_dl(c, &v, PAST), 0);
    cr_assert_eq(v, i);
  }
  cr_assert_eq(corio_chan_len(c), 0);
  /* a closed channel yields UV_EOF, never blocking, again and again */
  cr_assert_eq(corio_chan_close(c), 0);
  for (int i = 0; i < 10; i++)
    cr_assert_eq(corio_chan_recv_dl(c, &v, PAST), UV_EOF);
  cr_assert_eq(corio_chan_send_dl(c, &v, PAST), UV_EPIPE);
  cr_assert_eq(corio_chan_try_send(c, &v), UV_EPIPE);
  cr_assert_eq(corio_chan_free(c), 0);
  return NULL;
}

typedef struct {
  corio_chan_t *c;
  int from, n;
} span_t;

static void *sends_span(void *arg) {
  span_t *s = arg;

  for (int v = s->from; v < s->from + s->n; v++)
    cr_assert_eq(corio_chan_send(s->c, &v), 0);
  return NULL;
}

static void *chan_fifo_at(void *arg) {
  size_t cap = (size_t)(uintptr_t)arg;
  enum { SENDERS = 4, EACH = 1000 };
  span_t s[SENDERS];
  corio_task_t *t[SENDERS];
  int last[SENDERS], v;
  long sum = 0;

  cr_assert_eq(corio_chan_new(sizeof(int), cap, &s[0].c), 0);
  for (int k = 0; k < SENDERS; k++) {
    s[k] = (span_t){s[0].c, k * EACH, EACH};
    last[k] = -1;
    cr_assert_eq(corio_spawn(corio_current_rt(), sends_span, &s[k], &t[k]), 0);
  }
  for (int i = 0; i < SENDERS * EACH; i++) {
    cr_assert_eq(corio_chan_recv(s[0].c, &v), 0);
    cr_assert(v >= 0 && v < SENDERS * EACH);
    cr_assert_gt(v, last[v / EACH], "each sender's values in order");
    last[v / EACH] = v;
    sum += v;
  }
  cr_assert_eq(sum, (long)SENDERS * EACH * (SENDERS * EACH - 1) / 2);
  for (int k = 0; k < SENDERS; k++)
    cr_assert_eq(corio_join(t[k], NULL), 0);
  cr_assert_eq(corio_chan_free(s[0].c), 0);
  return NULL;
}

Test(chan, ops_block_or_not_as_in_go_for_each_capacity) {
  static const size_t caps[] = {0, 1, 2, 10, 100};

  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    cr_assert_eq(corio_main(chan_ops_at, (void *)(uintptr_t)caps[i], NULL, NULL), 0);
    cr_assert_eq(corio_main(chan_fifo_at, (void *)(uintptr_t)caps[i],
                            &(corio_rt_options_t){.workers = 2}, NULL), 0);
  }
}

/* nonblock.go: a non-blocking send or receive succeeds once a partner
 * waits, for an unbuffered and a buffered channel. */

static void *receives_123(void *arg) {
  int v = 0;

  cr_assert_eq(corio_chan_recv(arg, &v), 0);
  cr_assert_eq(v, 123);
  return NULL;
}

static void *sends_234(void *arg) {
  int v = 234;

  cr_assert_eq(corio_chan_send(arg, &v), 0);
  return NULL;
}

static void *nonblocking_meets_partner(void *arg) {
  (void)arg;
  for (size_t cap = 0; cap < 2; cap++) {
    corio_chan_t *c;
    corio_task_t *t;
    int v = 123, r;
    corio_select_case_t cs[1] = {{NULL, CORIO_RECV, &v, 0}};

    cr_assert_eq(corio_chan_new(sizeof(int), cap, &c), 0);
    cs[0].ch = c;
    cr_assert_eq(corio_select_try(cs, 1), UV_EAGAIN, "nobody sends yet");
    cr_assert_eq(corio_spawn(corio_current_rt(), receives_123, c, &t), 0);
    cs[0].op = CORIO_SEND;
    while ((r = corio_select_try(cs, 1)) == UV_EAGAIN)
      corio_yield();
    cr_assert_eq(r, 0);
    cr_assert_eq(corio_join(t, NULL), 0);

    cr_assert_eq(corio_spawn(corio_current_rt(), sends_234, c, &t), 0);
    cs[0].op = CORIO_RECV;
    while ((r = corio_select_try(cs, 1)) == UV_EAGAIN)
      corio_yield();
    cr_assert_eq(r, 0);
    cr_assert_eq(v, 234);
    cr_assert_eq(corio_join(t, NULL), 0);
    cr_assert_eq(corio_chan_free(c), 0);
  }
  return NULL;
}

Test(chan, nonblocking_ops_meet_a_waiting_partner) {
  cr_assert_eq(corio_main(nonblocking_meets_partner, NULL, &one_thread, NULL), 0);
  cr_assert_eq(corio_main(nonblocking_meets_partner, NULL,
                          &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

/* The header's argument errors, and the element size bound. */
Test(chan, argument_errors_are_einval) {
  corio_chan_t *ch;
  int v = 0;

  cr_assert_eq(corio_chan_new(sizeof(int), 1, NULL), UV_EINVAL);
  cr_assert_eq(corio_chan_new(CORIO_CHAN_ELEM_MAX + 1, 0, &ch), UV_EINVAL);
  cr_assert_eq(corio_chan_new(8, SIZE_MAX / 4, &ch), UV_EINVAL, "size overflows");
  cr_assert_eq(corio_chan_new(CORIO_CHAN_ELEM_MAX, 1, &ch), 0);
  cr_assert_eq(corio_chan_cap(ch), 1);
  cr_assert_eq(corio_chan_free(ch), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 1, &ch), 0);
  cr_assert_eq(corio_chan_send(NULL, &v), UV_EINVAL);
  cr_assert_eq(corio_chan_send(ch, NULL), UV_EINVAL);
  cr_assert_eq(corio_chan_send_dl(ch, NULL, PAST), UV_EINVAL);
  cr_assert_eq(corio_chan_try_send(NULL, &v), UV_EINVAL);
  cr_assert_eq(corio_chan_try_send(ch, NULL), UV_EINVAL);
  cr_assert_eq(corio_chan_recv(NULL, &v), UV_EINVAL);
  cr_assert_eq(corio_chan_recv(ch, NULL), UV_EINVAL);
  cr_assert_eq(corio_chan_recv_dl(ch, NULL, PAST), UV_EINVAL);
  cr_assert_eq(corio_chan_try_recv(NULL, &v), UV_EINVAL);
  cr_assert_eq(corio_chan_try_recv(ch, NULL), UV_EINVAL);
  cr_assert_eq(corio_chan_close(NULL), UV_EINVAL);
  cr_assert_eq(corio_chan_free(NULL), UV_EINVAL);
  cr_assert_eq(corio_chan_len(NULL), 0);
  cr_assert_eq(corio_chan_cap(NULL), 0);
  /* on a plain thread: what needs no wait is done, a wait is UV_EINVAL */
  cr_assert_eq(corio_chan_send_dl(ch, &v, PAST), 0);
  cr_assert_eq(corio_chan_send_dl(ch, &v, PAST), UV_EINVAL);
  cr_assert_eq(corio_chan_len(ch), 1, "nothing changed");
  cr_assert_eq(corio_chan_recv_dl(ch, &v, PAST), 0);
  cr_assert_eq(corio_chan_recv_dl(ch, &v, PAST), UV_EINVAL);
  cr_assert_eq(corio_chan_free(ch), 0);
}
