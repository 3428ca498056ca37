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
  cr_assert_eq(corio_chan_new(&s.ch, sizeof(item_t), capacity), 0);
  cr_assert_eq(corio_wg_add(&s.producers, PRODUCERS), 0);
  cr_assert_eq(corio_rt_new(&rt, &(corio_rt_options_t){.workers = workers}), 0);
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
  cr_assert_eq(corio_chan_new(&buf, sizeof(int), 4), 0);
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

  cr_assert_eq(corio_chan_new(&unbuf, sizeof(int), 0), 0);
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

  cr_assert_eq(corio_chan_new(&unbuf, sizeof(int), 0), 0);
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
  cr_assert_eq(corio_chan_new(&r.ch, sizeof(int), 0), 0);
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

  cr_assert_eq(corio_chan_new(&ch, 0, 1), UV_EINVAL);
  cr_assert_eq(corio_chan_new(&ch, 100000, 1), UV_EINVAL);
  cr_assert_eq(corio_chan_new(&ch, sizeof(int), 1), 0);
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
  corio_chan_new(&a, sizeof(int), 1);
  corio_chan_new(&b, sizeof(int), 1);
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
  corio_chan_new(&p.in, sizeof(int), 0);
  corio_chan_new(&p.out, sizeof(int), 0);
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
  corio_chan_new(&ch, sizeof(int), 0);
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
