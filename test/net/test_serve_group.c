/* A TCP server whose connection tasks are a group (corio_tcp_serve_group):
 * closing the listener stops accepting, a drain lets handlers finish and
 * cuts the rest at its deadline, and nothing is left after the close. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

#include "corio.h"

#define BOUND() (corio_now() + 10000)

typedef struct server {
  corio_tcp_listener_t *ln;
  corio_group_t *g;
  int port;
  _Atomic(int) began, cancelled, finished_alone;
} server_t;

/* Reads until "bye" (then ends by itself) or an error (a cancel). */
static void handler(corio_tcp_t *c, void *arg) {
  server_t *s = arg;
  char buf[64];
  ssize_t n;

  atomic_fetch_add(&s->began, 1);
  while ((n = corio_read(c, buf, sizeof buf)) > 0) {
    if (n >= 3 && memcmp(buf, "bye", 3) == 0) {
      atomic_fetch_add(&s->finished_alone, 1);
      return;
    }
  }
  if (n == UV_ECANCELED)
    atomic_fetch_add(&s->cancelled, 1);
}

static void *serve(void *arg) {
  server_t *s = arg;

  return (void *)(intptr_t)corio_tcp_serve_group(s->ln, s->g, handler, s);
}

static void wait_size(server_t *s, size_t n) {
  for (int i = 0; i < 1000 && corio_group_size(s->g) != n; i++)
    corio_sleep(5);
  cr_assert_eq(corio_group_size(s->g), n);
}

static void *stop_with_grace(void *arg) {
  server_t s = {0};
  corio_tcp_t *c[3];
  corio_task_t *server;
  void *r;
  char buf[8];

  (void)arg;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &s.ln), 0);
  s.port = corio_tcp_listener_port(s.ln);
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &s.g), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), serve, &s, &server), 0);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(corio_tcp_connect_dl("127.0.0.1", s.port, &c[i], BOUND()), 0);
  wait_size(&s, 3);
  /* one handler finishes by itself */
  cr_assert_eq(corio_write(c[0], "bye", 3), 3);
  wait_size(&s, 2);
  cr_assert_eq(corio_read_dl(c[0], buf, sizeof buf, BOUND()), UV_EOF);
  /* stop: no new connections, the two idle handlers cut at the deadline */
  cr_assert_eq(corio_tcp_listener_close(s.ln), 0);
  cr_assert_eq(corio_join(server, &r), 0);
  cr_assert_eq((int)(intptr_t)r, 0);
  cr_assert_eq(corio_group_drain(s.g, corio_now() + 50), UV_ETIMEDOUT);
  cr_assert_eq(corio_group_size(s.g), 0, "drain returned before every handler ended");
  cr_assert_eq(atomic_load(&s.cancelled), 2);
  cr_assert_eq(atomic_load(&s.finished_alone), 1);
  cr_assert_eq(corio_group_close(s.g), 0);
  for (int i = 1; i < 3; i++)
    cr_assert_eq(corio_read_dl(c[i], buf, sizeof buf, BOUND()), UV_EOF, "connection %d", i);
  for (int i = 0; i < 3; i++)
    corio_close(c[i]);
  cr_assert_eq(corio_tcp_connect_dl("127.0.0.1", s.port, &c[0], BOUND()), UV_ECONNREFUSED);
  return NULL;
}

static void in_rt(corio_rt_options_t o, void *(*body)(void *)) {
  corio_rt_t *rt;
  corio_task_t *t;

  cr_assert_eq(corio_rt_new(&o, &rt), 0);
  cr_assert_eq(corio_spawn(rt, body, NULL, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

Test(serve_group, a_server_stops_with_grace_then_cuts, .timeout = 60) {
  in_rt((corio_rt_options_t){.workers = 2}, stop_with_grace);
  in_rt((corio_rt_options_t){.loop_only = 1}, stop_with_grace);
}

/* Handlers that all finish within the drain's deadline: 0, none cut. */
static void *all_finish(void *arg) {
  server_t s = {0};
  corio_tcp_t *c[4];
  corio_task_t *server;

  (void)arg;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &s.ln), 0);
  s.port = corio_tcp_listener_port(s.ln);
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &s.g), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), serve, &s, &server), 0);
  for (int i = 0; i < 4; i++)
    cr_assert_eq(corio_tcp_connect_dl("127.0.0.1", s.port, &c[i], BOUND()), 0);
  wait_size(&s, 4);
  cr_assert_eq(corio_tcp_listener_close(s.ln), 0);
  corio_join(server, NULL);
  for (int i = 0; i < 4; i++)
    corio_close(c[i]); /* each handler reads EOF and ends */
  cr_assert_eq(corio_group_drain(s.g, BOUND()), 0);
  cr_assert_eq(atomic_load(&s.cancelled), 0);
  cr_assert_eq(corio_group_close(s.g), 0);
  return NULL;
}

Test(serve_group, a_drain_that_needs_no_cut_returns_0, .timeout = 60) {
  in_rt((corio_rt_options_t){.workers = 2}, all_finish);
}

/* A cancelled group turns connections away: closed at once. */
static void *cancelled_group_refuses(void *arg) {
  server_t s = {0};
  corio_tcp_t *c;
  corio_task_t *server;
  char buf[8];

  (void)arg;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &s.ln), 0);
  s.port = corio_tcp_listener_port(s.ln);
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &s.g), 0);
  cr_assert_eq(corio_group_cancel(s.g), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), serve, &s, &server), 0);
  cr_assert_eq(corio_tcp_connect_dl("127.0.0.1", s.port, &c, BOUND()), 0);
  cr_assert_eq(corio_read_dl(c, buf, sizeof buf, BOUND()), UV_EOF);
  cr_assert_eq(atomic_load(&s.began), 0);
  corio_close(c);
  cr_assert_eq(corio_tcp_listener_close(s.ln), 0);
  corio_join(server, NULL);
  cr_assert_eq(corio_group_close(s.g), 0);
  return NULL;
}

Test(serve_group, a_cancelled_group_takes_no_connection, .timeout = 60) {
  in_rt((corio_rt_options_t){.workers = 2}, cancelled_group_refuses);
  in_rt((corio_rt_options_t){.loop_only = 1}, cancelled_group_refuses);
}
