/* TCP: servers and clients over loopback, in loop-only mode and on
 * workers; data integrity, ends of streams, deadlines, cancellation,
 * closing under a reader, backpressure, many connections, descriptor
 * exhaustion, adopting an application's handle. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corio.h"
#include "../support/sizes.h"
#include "net/tcp.h" /* white-box: the cut test at the end */

/* --- helpers -------------------------------------------------------------- */

typedef void *(*body_fn)(void *);

/* Run body(arg) as a task of a fresh runtime and free the runtime. */
static void run_in(corio_rt_options_t opts, body_fn body, void *arg) {
  corio_rt_t *rt;
  corio_task_t *t;

  cr_assert_eq(corio_rt_new(&opts, &rt), 0);
  cr_assert_eq(corio_spawn(rt, body, arg, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

static const corio_rt_options_t on_workers = {.workers = 2};
static const corio_rt_options_t loop_only = {.loop_only = 1};

/* The same test on 2 workers and in loop-only mode. */
static void run_both(body_fn body, void *arg) {
  run_in(on_workers, body, arg);
  run_in(loop_only, body, arg);
}

typedef struct server {
  corio_tcp_listener_t *ln;
  corio_tcp_handler_fn handler;
  void *arg;
  corio_task_t *task;
  int port;
} server_t;

static void *serve_task(void *arg) {
  server_t *s = arg;
  return (void *)(intptr_t)corio_tcp_serve(s->ln, s->handler, s->arg);
}

/* In a task: listen on a free loopback port and serve it from a task. */
static void server_start(server_t *s, corio_tcp_handler_fn handler, void *arg) {
  s->handler = handler;
  s->arg = arg;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &s->ln), 0);
  s->port = corio_tcp_listener_port(s->ln);
  cr_assert_gt(s->port, 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), serve_task, s, &s->task), 0);
}

static void server_stop(server_t *s) {
  void *res;

  cr_assert_eq(corio_tcp_listener_close(s->ln), 0);
  cr_assert_eq(corio_join(s->task, &res), 0);
  cr_assert_eq((intptr_t)res, 0, "serve returned %d", (int)(intptr_t)res);
}

static void echo(corio_tcp_t *c, void *arg) {
  char buf[16384];
  ssize_t n;

  (void)arg;
  while ((n = corio_read(c, buf, sizeof buf)) > 0)
    if (corio_write(c, buf, (size_t)n) != n)
      break;
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static void fill_random(uint64_t *seed, char *buf, size_t len) {
  for (size_t i = 0; i < len; i++)
    buf[i] = (char)(splitmix(seed) >> 56);
}

static uint64_t fnv(uint64_t h, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * 0x100000001b3u;
  return h;
}

static void raise_nofile(rlim_t want) {
  struct rlimit rl;

  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* --- 100 connections echo 1 MiB of random bytes each ----------------------- */

typedef struct echo_client {
  int port;
  size_t bytes;
  uint64_t seed;
  uint64_t sent_sum, got_sum;
  corio_tcp_t *conn;
  int err;
} echo_client_t;

static void *echo_writer(void *arg) {
  echo_client_t *e = arg;
  uint64_t seed = e->seed;
  char chunk[7919]; /* prime: writes straddle the reader's buffer */
  size_t left = e->bytes;

  e->sent_sum = 0xcbf29ce484222325u;
  while (left > 0) {
    size_t n = left < sizeof chunk ? left : sizeof chunk;
    fill_random(&seed, chunk, n);
    e->sent_sum = fnv(e->sent_sum, chunk, n);
    if (corio_write(e->conn, chunk, n) != (ssize_t)n) {
      e->err = -1;
      break;
    }
    left -= n;
  }
  return NULL;
}

static void *echo_client(void *arg) {
  echo_client_t *e = arg;
  corio_task_t *w;
  char buf[10007];
  size_t got = 0;
  ssize_t n;

  e->err = corio_tcp_connect_dl("127.0.0.1", e->port, &e->conn, corio_now() + 10000);
  if (e->err != 0)
    return NULL;
  /* another task writes while this one reads the echo */
  cr_assert_eq(corio_spawn(corio_current_rt(), echo_writer, e, &w), 0);
  e->got_sum = 0xcbf29ce484222325u;
  while (got < e->bytes) {
    n = corio_read_dl(e->conn, buf, sizeof buf, corio_now() + 30000);
    if (n <= 0) {
      e->err = (int)n;
      break;
    }
    e->got_sum = fnv(e->got_sum, buf, (size_t)n);
    got += (size_t)n;
  }
  corio_join(w, NULL);
  corio_close(e->conn);
  return NULL;
}

static void *many_echoes(void *arg) {
  int conns = CORIO_TEST_UNDER_TSAN ? 16 : 100;
  size_t bytes = CORIO_TEST_UNDER_TSAN ? 128 * 1024 : 1024 * 1024;
  echo_client_t *e = calloc((size_t)conns, sizeof *e);
  corio_task_t **t = calloc((size_t)conns, sizeof *t);
  server_t s;
  int i;

  (void)arg;
  server_start(&s, echo, NULL);
  for (i = 0; i < conns; i++) {
    e[i].port = s.port;
    e[i].bytes = bytes;
    e[i].seed = (uint64_t)i * 7777 + 1;
    cr_assert_eq(corio_spawn(corio_current_rt(), echo_client, &e[i], &t[i]), 0);
  }
  for (i = 0; i < conns; i++) {
    corio_join(t[i], NULL);
    cr_assert_eq(e[i].err, 0, "client %d: %s", i, uv_strerror(e[i].err));
    cr_assert_eq(e[i].got_sum, e[i].sent_sum, "client %d: checksums differ", i);
  }
  server_stop(&s);
  free(e);
  free(t);
  return NULL;
}

Test(tcp, hundred_connections_echo_random_mebibytes_on_workers, .timeout = 120) {
  run_in(on_workers, many_echoes, NULL);
}

Test(tcp, hundred_connections_echo_random_mebibytes_loop_only, .timeout = 120) {
  run_in(loop_only, many_echoes, NULL);
}

/* --- half-close -------------------------------------------------------------- */

/* Reads to EOF, then answers with the byte count and closes. */
static void count_then_answer(corio_tcp_t *c, void *arg) {
  char buf[4096], out[32];
  size_t total = 0;
  ssize_t n;

  (void)arg;
  while ((n = corio_read(c, buf, sizeof buf)) > 0)
    total += (size_t)n;
  if (n != UV_EOF)
    return;
  n = snprintf(out, sizeof out, "%zu", total);
  corio_write(c, out, (size_t)n);
}

static void *half_close(void *arg) {
  corio_tcp_t *c;
  server_t s;
  char buf[64];
  size_t got = 0;
  ssize_t n;

  (void)arg;
  server_start(&s, count_then_answer, NULL);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c), 0);
  cr_assert_eq(corio_write(c, "hello, ", 7), 7);
  cr_assert_eq(corio_write(c, "world", 5), 5);
  cr_assert_eq(corio_shutdown(c), 0);
  cr_assert_eq(corio_write(c, "x", 1), UV_EPIPE); /* no more writes */
  while ((n = corio_read_dl(c, buf + got, sizeof buf - got, corio_now() + 10000)) > 0)
    got += (size_t)n;
  cr_assert_eq(n, UV_EOF);
  cr_assert_eq(got, 2);
  cr_assert_eq(memcmp(buf, "12", 2), 0);
  cr_assert_eq(corio_read(c, buf, sizeof buf), UV_EOF); /* stays at EOF */
  corio_close(c);
  server_stop(&s);
  return NULL;
}

Test(tcp, half_close_lets_the_peer_read_eof_and_answer) {
  run_both(half_close, NULL);
}

/* --- a raw peer on a plain thread -------------------------------------------- */

typedef struct raw_peer {
  int lfd, port;
  int mode; /* 0: reset at once, 1: hold silent until told, 2: close at once */
  _Atomic(int) release;
  pthread_t thread;
} raw_peer_t;

static void *raw_peer_main(void *arg) {
  raw_peer_t *p = arg;
  int fd = accept(p->lfd, NULL, NULL);

  if (fd < 0)
    return NULL;
  if (p->mode == 0) {
    struct linger lg = {1, 0};
    char b[16];
    /* wait for the client's byte, so the reset comes after connect */
    if (recv(fd, b, sizeof b, 0) < 0) { /* fine either way */ }
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  } else if (p->mode == 1) {
    while (!atomic_load(&p->release))
      usleep(1000);
  }
  close(fd);
  return NULL;
}

static void raw_peer_start(raw_peer_t *p, int mode) {
  struct sockaddr_in a = {0};
  socklen_t len = sizeof a;

  p->mode = mode;
  atomic_init(&p->release, 0);
  p->lfd = socket(AF_INET, SOCK_STREAM, 0);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
  cr_assert_eq(listen(p->lfd, 16), 0);
  getsockname(p->lfd, (struct sockaddr *)&a, &len);
  p->port = ntohs(a.sin_port);
  pthread_create(&p->thread, NULL, raw_peer_main, p);
}

static void raw_peer_stop(raw_peer_t *p) {
  atomic_store(&p->release, 1);
  pthread_join(p->thread, NULL);
  close(p->lfd);
}

/* run_both, each run against a fresh raw peer (body gets the peer). */
static void run_both_with_peer(int mode, body_fn body) {
  raw_peer_t p;

  raw_peer_start(&p, mode);
  run_in(on_workers, body, &p);
  raw_peer_stop(&p);
  raw_peer_start(&p, mode);
  run_in(loop_only, body, &p);
  raw_peer_stop(&p);
}

static void *reset_by_peer(void *arg) {
  raw_peer_t *p = arg;
  corio_tcp_t *c;
  char buf[16];

  cr_assert_eq(corio_tcp_connect("127.0.0.1", p->port, &c), 0);
  cr_assert_eq(corio_write(c, "x", 1), 1);
  cr_assert_eq(corio_read_dl(c, buf, sizeof buf, corio_now() + 10000), UV_ECONNRESET);
  corio_close(c);
  return NULL;
}

Test(tcp, peer_reset_gives_econnreset) {
  run_both_with_peer(0, reset_by_peer);
}

static void *write_to_closed_peer(void *arg) {
  raw_peer_t *p = arg;
  static char chunk[1 << 16];
  corio_tcp_t *c;
  ssize_t n = 0;
  int i;

  cr_assert_eq(corio_tcp_connect("127.0.0.1", p->port, &c), 0);
  /* The peer closed without reading: writes fail, with no SIGPIPE (which
   * would kill this process). */
  for (i = 0; i < 10000 && n >= 0; i++) {
    n = corio_write_dl(c, chunk, sizeof chunk, corio_now() + 10000);
    if (n >= 0)
      corio_sleep(1);
  }
  cr_assert(n == UV_EPIPE || n == UV_ECONNRESET, "write gave %s", uv_strerror((int)n));
  cr_assert_eq(corio_write(c, "x", 1), n); /* sticky */
  corio_close(c);
  return NULL;
}

Test(tcp, writing_to_a_closed_peer_fails_without_sigpipe) {
  signal(SIGPIPE, SIG_DFL);
  run_both_with_peer(2, write_to_closed_peer);
}

/* --- deadlines, refused connections --------------------------------------- */

static void *read_deadline(void *arg) {
  raw_peer_t *p = arg;
  corio_tcp_t *c;
  char buf[16];
  uint64_t t0, waited;

  cr_assert_eq(corio_tcp_connect("127.0.0.1", p->port, &c), 0);
  t0 = uv_hrtime();
  cr_assert_eq(corio_read_dl(c, buf, sizeof buf, corio_now() + 50), UV_ETIMEDOUT);
  waited = uv_hrtime() - t0;
  /* never early: the deadline is at least 49 ms (corio_now rounds down) away */
  cr_assert_geq(waited, 49000000u, "returned after %llu ns", (unsigned long long)waited);
  /* a deadline in the past returns at once, and the connection still works */
  cr_assert_eq(corio_read_dl(c, buf, sizeof buf, 0), UV_ETIMEDOUT);
  atomic_store(&p->release, 1); /* the peer closes: EOF */
  cr_assert_eq(corio_read_dl(c, buf, sizeof buf, corio_now() + 10000), UV_EOF);
  corio_close(c);
  return NULL;
}

Test(tcp, read_deadline_times_out_never_early) {
  run_both_with_peer(1, read_deadline);
}

static void *refused(void *arg) {
  int port = *(int *)arg;
  corio_tcp_t *c = NULL;

  cr_assert_eq(corio_tcp_connect("127.0.0.1", port, &c), UV_ECONNREFUSED);
  cr_assert_eq(corio_tcp_connect_dl("localhost", port, &c, corio_now() + 10000),
               UV_ECONNREFUSED); /* every address of the name refused */
  cr_assert_eq(corio_tcp_connect("no-such-host.invalid", port, &c) < 0, 1);
  cr_assert_null(c);
  return NULL;
}

Test(tcp, connect_to_a_closed_port_is_refused) {
  struct sockaddr_in a = {0};
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;

  /* a port that was free a moment ago, with nobody listening */
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  port = ntohs(a.sin_port);
  close(fd);
  run_both(refused, &port);
}

/* --- cancel, close under a reader -------------------------------------------- */

typedef struct blocked {
  corio_tcp_t *c;
  _Atomic(int) entered;
  ssize_t result;
} blocked_t;

static void *blocked_reader(void *arg) {
  blocked_t *b = arg;
  char buf[16];

  atomic_store(&b->entered, 1);
  b->result = corio_read(b->c, buf, sizeof buf);
  return NULL;
}

static void silent(corio_tcp_t *c, void *arg) {
  char buf[16];

  (void)arg;
  /* say nothing until the client closes; then answer nothing */
  while (corio_read(c, buf, sizeof buf) > 0)
    corio_write(c, buf, 1);
}

static void *cancel_read(void *arg) {
  corio_tcp_t *c;
  corio_task_t *t;
  server_t s;
  blocked_t b = {0};
  char buf[16];

  (void)arg;
  server_start(&s, silent, NULL);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c), 0);
  b.c = c;
  cr_assert_eq(corio_spawn(corio_current_rt(), blocked_reader, &b, &t), 0);
  while (!atomic_load(&b.entered))
    corio_sleep(1);
  corio_sleep(20); /* let it park */
  cr_assert_eq(corio_cancel(t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(b.result, UV_ECANCELED);
  /* the connection is intact: a round trip still works */
  cr_assert_eq(corio_write(c, "ab", 2), 2);
  cr_assert_eq(corio_read_dl(c, buf, sizeof buf, corio_now() + 10000), 1);
  cr_assert_eq(buf[0], 'a');
  corio_close(c);
  server_stop(&s);
  return NULL;
}

Test(tcp, cancel_a_blocked_read) {
  run_both(cancel_read, NULL);
}

static void *close_under_reader(void *arg) {
  corio_tcp_t *c;
  corio_task_t *t;
  server_t s;
  blocked_t b = {0};

  (void)arg;
  server_start(&s, silent, NULL);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c), 0);
  b.c = c;
  cr_assert_eq(corio_spawn(corio_current_rt(), blocked_reader, &b, &t), 0);
  while (!atomic_load(&b.entered))
    corio_sleep(1);
  corio_sleep(20);
  cr_assert_eq(corio_close(c), 0); /* the owner closes; the reader wakes */
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(b.result, UV_ECANCELED);
  server_stop(&s);
  return NULL;
}

Test(tcp, closing_wakes_a_reader_in_another_task_with_ecanceled) {
  run_both(close_under_reader, NULL);
}

/* --- a slow reader: memory stays bounded ---------------------------------- */

static size_t rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;

  if (f != NULL) {
    if (fscanf(f, "%lu %lu", &size, &res) != 2)
      res = 0;
    fclose(f);
  }
  return res * (size_t)(sysconf(_SC_PAGESIZE) / 1024);
}

typedef struct slow {
  size_t total;
  _Atomic(size_t) got; /* the test task polls it */
  size_t rss_start, rss_max;
  uint64_t sum_sent, sum_got;
} slow_t;

static void slow_reader(corio_tcp_t *c, void *arg) {
  slow_t *s = arg;
  char buf[65536];
  ssize_t n;
  unsigned i = 0;

  s->sum_got = 0xcbf29ce484222325u;
  while ((n = corio_read(c, buf, sizeof buf)) > 0) {
    s->sum_got = fnv(s->sum_got, buf, (size_t)n);
    atomic_fetch_add(&s->got, (size_t)n); /* after sum_got: seq_cst */
    if (++i % 4 == 0) {
      size_t r = rss_kib();
      if (r > s->rss_max)
        s->rss_max = r;
      corio_sleep(1);
    }
  }
}

static void *slow_reader_test(void *arg) {
  slow_t *st = arg;
  static char chunk[65536];
  uint64_t seed = 42;
  corio_tcp_t *c;
  server_t s;
  size_t sent = 0;

  /* Before the server starts: its handler reads rss_max, and the only
   * order between our writes and its reads after that is the socket, which
   * TSan does not see. */
  st->rss_start = st->rss_max = rss_kib();
  server_start(&s, slow_reader, st);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c), 0);
  st->sum_sent = 0xcbf29ce484222325u;
  while (sent < st->total) {
    fill_random(&seed, chunk, sizeof chunk);
    st->sum_sent = fnv(st->sum_sent, chunk, sizeof chunk);
    cr_assert_eq(corio_write(c, chunk, sizeof chunk), (ssize_t)sizeof chunk);
    sent += sizeof chunk;
  }
  corio_close(c);
  while (atomic_load(&st->got) < st->total)
    corio_sleep(5);
  server_stop(&s);
  return NULL;
}

Test(tcp, a_slow_reader_keeps_memory_bounded, .timeout = 120) {
  slow_t st = {.total = (size_t)(CORIO_TEST_UNDER_TSAN ? 8 : 64) << 20};

  run_in(on_workers, slow_reader_test, &st);
  cr_assert_eq(atomic_load(&st.got), st.total);
  cr_assert_eq(st.sum_got, st.sum_sent);
  /* 64 MiB went through; what stayed resident is a few buffers (not
   * under TSan, whose shadow and history memory grow with the traffic) */
  if (!CORIO_TEST_UNDER_TSAN)
    cr_assert_lt(st.rss_max - st.rss_start, 16 * 1024,
               "RSS grew by %zu KiB", st.rss_max - st.rss_start);
}

/* --- 4,000 connections at once ------------------------------------------ */

typedef struct crowd {
  int port, n;
  corio_wg_t all_connected;
  _Atomic(int) ok;
} crowd_t;

static void *crowd_client(void *arg) {
  crowd_t *cr = arg;
  corio_tcp_t *c;
  char b = 'z';

  if (corio_tcp_connect_dl("127.0.0.1", cr->port, &c, corio_now() + 60000) != 0) {
    corio_wg_done(&cr->all_connected);
    return NULL;
  }
  corio_wg_done(&cr->all_connected);
  corio_wg_wait(&cr->all_connected); /* every connection open at once */
  if (corio_write(c, &b, 1) == 1 &&
      corio_read_dl(c, &b, 1, corio_now() + 60000) == 1 && b == 'z')
    atomic_fetch_add(&cr->ok, 1);
  corio_close(c);
  return NULL;
}

static void *crowd_test(void *arg) {
  crowd_t *cr = arg;
  corio_task_t **t = calloc((size_t)cr->n, sizeof *t);
  server_t s;
  int i;

  server_start(&s, echo, NULL);
  cr->port = s.port;
  corio_wg_add(&cr->all_connected, cr->n);
  for (i = 0; i < cr->n; i++)
    cr_assert_eq(corio_spawn(corio_current_rt(), crowd_client, cr, &t[i]), 0);
  for (i = 0; i < cr->n; i++)
    corio_join(t[i], NULL);
  server_stop(&s);
  free(t);
  return NULL;
}

Test(tcp, four_thousand_connections_open_at_once, .timeout = 180) {
  crowd_t cr = {.n = CORIO_TEST_UNDER_TSAN ? 1000 : 4000};

  raise_nofile(3u * (rlim_t)cr.n + 100);
  run_in(on_workers, crowd_test, &cr);
  cr_assert_eq(atomic_load(&cr.ok), cr.n);
}

/* --- accept ------------------------------------------------------------------ */

static void *accept_test(void *arg) {
  corio_tcp_listener_t *ln;
  corio_tcp_t *a, *b;
  uint64_t t0;
  char buf[8];
  int port;

  (void)arg;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &ln), 0);
  port = corio_tcp_listener_port(ln);
  t0 = uv_hrtime();
  cr_assert_eq(corio_tcp_accept_dl(ln, &a, corio_now() + 30), UV_ETIMEDOUT);
  cr_assert_geq(uv_hrtime() - t0, 29000000u);
  /* a connection that arrives before accept waits in libuv */
  cr_assert_eq(corio_tcp_connect("127.0.0.1", port, &b), 0);
  cr_assert_eq(corio_write(b, "hi", 2), 2);
  cr_assert_eq(corio_tcp_accept_dl(ln, &a, corio_now() + 10000), 0);
  cr_assert_eq(corio_read_full_dl(a, buf, 2, NULL, corio_now() + 10000), 2);
  cr_assert_eq(memcmp(buf, "hi", 2), 0);
  {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    cr_assert_eq(corio_tcp_peer(a, (struct sockaddr *)&ss, &len), 0);
    cr_assert_eq(ss.ss_family, AF_INET);
    len = sizeof ss;
    cr_assert_eq(corio_tcp_local(b, (struct sockaddr *)&ss, &len), 0);
    cr_assert_eq(ss.ss_family, AF_INET);
  }
  cr_assert_eq(corio_tcp_nodelay(a, 0), 0);
  cr_assert_eq(corio_tcp_keepalive(a, 1, 30), 0);
  corio_close(a);
  cr_assert_eq(corio_read_dl(b, buf, sizeof buf, corio_now() + 10000), UV_EOF);
  corio_close(b);
  cr_assert_eq(corio_tcp_listener_close(ln), 0);
  return NULL;
}

Test(tcp, accept_waits_with_a_deadline_and_takes_queued_connections) {
  run_both(accept_test, NULL);
}

static void *listen_errors(void *arg) {
  corio_tcp_listener_t *a, *b;
  corio_tcp_listener_options_t reuse = {.reuseport = 1};
  int port;

  (void)arg;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &a), 0);
  port = corio_tcp_listener_port(a);
  cr_assert_eq(corio_tcp_listen("127.0.0.1", port, NULL, &b), UV_EADDRINUSE);
  cr_assert_eq(corio_tcp_listen("no-such-host.invalid", 0, NULL, &b) < 0, 1);
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 70000, NULL, &b), UV_EINVAL);
  cr_assert_eq(corio_tcp_listener_close(a), 0);
  /* two listeners on one port with SO_REUSEPORT */
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, &reuse, &a), 0);
  port = corio_tcp_listener_port(a);
  cr_assert_eq(corio_tcp_listen("127.0.0.1", port, &reuse, &b), 0);
  cr_assert_eq(corio_tcp_listener_close(b), 0);
  cr_assert_eq(corio_tcp_listener_close(a), 0);
  /* IPv6, if the machine has it */
  if (corio_tcp_listen("::1", 0, NULL, &a) == 0) {
    corio_tcp_t *c, *d;
    cr_assert_eq(corio_tcp_connect("::1", corio_tcp_listener_port(a), &c), 0);
    cr_assert_eq(corio_tcp_accept(a, &d), 0);
    corio_close(c);
    corio_close(d);
    cr_assert_eq(corio_tcp_listener_close(a), 0);
  }
  return NULL;
}

Test(tcp, listen_reports_errors_and_supports_reuseport_and_ipv6) {
  run_in(on_workers, listen_errors, NULL);
}

/* --- descriptor exhaustion ------------------------------------------------- */

static long cpu_ticks(pid_t pid) {
  char path[64], line[1024], *p;
  unsigned long ut = 0, st = 0;
  FILE *f;

  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  if ((f = fopen(path, "r")) == NULL)
    return -1;
  p = fgets(line, sizeof line, f);
  fclose(f);
  if (p == NULL || (p = strrchr(line, ')')) == NULL)
    return -1;
  /* after ")": state, then fields 4..13; utime and stime are 14 and 15 */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return -1;
  return (long)(ut + st);
}

static int connect_raw(int port) {
  struct sockaddr_in a = {0};
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* One echo round trip, bounded: 1 if it worked. */
static int echo_once(int fd) {
  struct pollfd pfd = {fd, POLLIN, 0};
  char b = 'q';

  if (send(fd, &b, 1, MSG_NOSIGNAL) != 1)
    return 0;
  if (poll(&pfd, 1, 2000) != 1 || recv(fd, &b, 1, 0) != 1)
    return 0;
  return b == 'q';
}

static void *emfile_server(void *arg) {
  int *pipefd = arg;
  server_t s;
  char port[16];
  int n;

  server_start(&s, echo, NULL);
  n = snprintf(port, sizeof port, "%d\n", s.port);
  if (write(pipefd[1], port, (size_t)n) != n)
    abort();
  corio_join(s.task, NULL); /* serves until the process is killed */
  return NULL;
}

Test(tcp, descriptor_exhaustion_neither_spins_nor_stops_service, .timeout = 60) {
  enum { CLIENTS = 80, HZ_SAMPLE_MS = 600 };
  int pipefd[2], port = 0, fds[CLIENTS], i, served = 0, resumed = 0;
  long hz = sysconf(_SC_CLK_TCK), t0, t1;
  char line[16] = {0};
  pid_t pid;

  cr_assert_eq(pipe(pipefd), 0);
  pid = fork();
  if (pid == 0) {
    struct rlimit rl = {40, 40}; /* the server gets ~30 connections */
    setrlimit(RLIMIT_NOFILE, &rl);
    run_in(loop_only, emfile_server, pipefd);
    _exit(0);
  }
  cr_assert_gt(read(pipefd[0], line, sizeof line - 1), 0);
  port = atoi(line);
  /* More connections than the server has descriptors for. */
  for (i = 0; i < CLIENTS; i++) {
    fds[i] = connect_raw(port); /* the kernel completes the handshake */
    if (fds[i] >= 0 && echo_once(fds[i]))
      served++;
  }
  cr_assert_gt(served, 5);
  cr_assert_lt(served, CLIENTS, "the limit was not reached");
  /* Exhausted and with connections waiting: the server must not spin. */
  t0 = cpu_ticks(pid);
  usleep(HZ_SAMPLE_MS * 1000);
  t1 = cpu_ticks(pid);
  cr_assert_lt((t1 - t0) * 1000 / hz, HZ_SAMPLE_MS / 4,
               "server used %ld ms of CPU in %d ms", (t1 - t0) * 1000 / hz, HZ_SAMPLE_MS);
  /* Free the server's descriptors: service resumes for new clients. */
  for (i = 0; i < CLIENTS; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  for (i = 0; i < 50 && !resumed; i++) {
    int fd = connect_raw(port);
    if (fd >= 0) {
      resumed = echo_once(fd);
      close(fd);
    }
    if (!resumed)
      usleep(20000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  cr_assert(resumed, "no service after descriptors were freed");
}

/* --- adopting the application's handle (attached mode) ----------------------- */

typedef struct app {
  uv_loop_t loop;
  uv_tcp_t server, client_side;
  corio_rt_t *rt;
  int adopted_err;
  char got[6];
  int echoed;
} app_t;

static void *adopted_echo(void *arg) {
  corio_tcp_t *c = arg;
  app_t *app = (app_t *)corio_tcp_handle(c)->loop; /* loop is app's first field */
  char buf[16];
  ssize_t n;

  while ((n = corio_read(c, buf, sizeof buf)) > 0)
    if (corio_write(c, buf, (size_t)n) == n)
      app->echoed += (int)n;
  corio_close(c); /* waits for the handle's close: app's memory */
  return NULL;
}

static void app_connection(uv_stream_t *server, int status) {
  app_t *app = server->data;
  corio_tcp_t *c;

  cr_assert_eq(status, 0);
  uv_tcp_init(&app->loop, &app->client_side);
  cr_assert_eq(uv_accept(server, (uv_stream_t *)&app->client_side), 0);
  /* on the loop thread, in the application's own callback */
  app->adopted_err = corio_tcp_adopt(&app->client_side, &c);
  if (app->adopted_err == 0)
    corio_spawn(app->rt, adopted_echo, c, NULL);
  uv_close((uv_handle_t *)server, NULL); /* one connection is enough */
}

static void *app_client(void *arg) {
  int port = *(int *)arg, fd = connect_raw(port);
  char buf[7] = {0};
  size_t got = 0;

  if (fd < 0)
    return NULL;
  send(fd, "hello!", 6, MSG_NOSIGNAL);
  while (got < 6) {
    struct pollfd pfd = {fd, POLLIN, 0};
    ssize_t n;
    if (poll(&pfd, 1, 10000) != 1 || (n = recv(fd, buf + got, 6 - got, 0)) <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  return strdup(buf);
}

Test(tcp, an_application_handle_is_adopted_in_attached_mode) {
  app_t app;
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof ss, port;
  pthread_t client;
  void *echoed;

  memset(&app, 0, sizeof app);
  cr_assert_eq(uv_loop_init(&app.loop), 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2, .loop = &app.loop}, &app.rt), 0);
  uv_tcp_init(&app.loop, &app.server);
  app.server.data = &app;
  uv_ip4_addr("127.0.0.1", 0, &a);
  cr_assert_eq(uv_tcp_bind(&app.server, (struct sockaddr *)&a, 0), 0);
  cr_assert_eq(uv_listen((uv_stream_t *)&app.server, 8, app_connection), 0);
  uv_tcp_getsockname(&app.server, (struct sockaddr *)&ss, &len);
  port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  pthread_create(&client, NULL, app_client, &port);
  /* returns once the listener is closed and corio's task is done */
  uv_run(&app.loop, UV_RUN_DEFAULT);
  pthread_join(client, &echoed);
  cr_assert_eq(app.adopted_err, 0, "adopt: %s", uv_strerror(app.adopted_err));
  cr_assert_str_eq((const char *)echoed, "hello!", "echoed \"%s\", %d bytes", (const char *)echoed, app.echoed);
  cr_assert_eq(app.echoed, 6);
  free(echoed);
  cr_assert_eq(corio_rt_free(app.rt), 0);
  uv_run(&app.loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&app.loop), 0);
}

/* --- writes that cannot finish ------------------------------------------------ */

typedef struct stuck {
  corio_tcp_t *c;
  _Atomic(int) entered;
  ssize_t result;
  uint64_t waited_ns;
} stuck_t;

/* Write far more than the kernel buffers to a peer that never reads. */
static void *stuck_writer(void *arg) {
  stuck_t *s = arg;
  size_t len = 64u << 20;
  char *big = calloc(1, len);
  uint64_t t0 = uv_hrtime();

  atomic_store(&s->entered, 1);
  s->result = corio_write_dl(s->c, big, len, corio_now() + 100);
  s->waited_ns = uv_hrtime() - t0;
  free(big);
  return NULL;
}

static void *write_deadline(void *arg) {
  raw_peer_t *p = arg;
  corio_task_t *t;
  stuck_t s = {0};
  char buf[8];

  cr_assert_eq(corio_tcp_connect("127.0.0.1", p->port, &s.c), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), stuck_writer, &s, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(s.result, UV_ETIMEDOUT, "write gave %s", uv_strerror((int)s.result));
  cr_assert_geq(s.waited_ns, 99000000u, "gave up after %llu ns",
                (unsigned long long)s.waited_ns);
  /* the stream is in an unknown state: shut down, later writes fail */
  cr_assert_eq(corio_write(s.c, "x", 1), UV_EPIPE);
  /* reading still works: the peer's close is seen */
  atomic_store(&p->release, 1);
  cr_assert_eq(corio_read_dl(s.c, buf, sizeof buf, corio_now() + 10000) < 0, 1);
  corio_close(s.c);
  return NULL;
}

Test(tcp, a_write_that_cannot_finish_times_out_and_ends_the_stream) {
  run_both_with_peer(1, write_deadline);
}

static void *stuck_writer_nodl(void *arg) {
  stuck_t *s = arg;
  size_t len = 64u << 20;
  char *big = calloc(1, len);

  atomic_store(&s->entered, 1);
  s->result = corio_write(s->c, big, len);
  free(big);
  return NULL;
}

static void *close_under_writer(void *arg) {
  raw_peer_t *p = arg;
  corio_task_t *t;
  stuck_t s = {0};

  cr_assert_eq(corio_tcp_connect("127.0.0.1", p->port, &s.c), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), stuck_writer_nodl, &s, &t), 0);
  while (!atomic_load(&s.entered))
    corio_sleep(1);
  corio_sleep(50); /* the kernel's buffers are full: it waits in the loop */
  cr_assert_eq(corio_close(s.c), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(s.result, UV_ECANCELED, "write gave %s", uv_strerror((int)s.result));
  atomic_store(&p->release, 1);
  return NULL;
}

Test(tcp, closing_wakes_a_blocked_writer_with_ecanceled) {
  run_both_with_peer(1, close_under_writer);
}

/* --- regressions from a concurrency review ------------------------------------ */

static void empty_write_then_return(corio_tcp_t *c, void *arg) {
  (void)arg;
  corio_write(c, "", 0); /* the last write before the close is empty */
}

static void *empty_write_close(void *arg) {
  corio_tcp_t *c;
  server_t s;
  char buf[8];

  (void)arg;
  server_start(&s, empty_write_then_return, NULL);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c), 0);
  /* the handler returned, so the server closed: we see the end */
  cr_assert_eq(corio_read_dl(c, buf, sizeof buf, corio_now() + 5000), UV_EOF);
  corio_close(c);
  server_stop(&s);
  return NULL;
}

Test(tcp, an_empty_last_write_does_not_keep_the_connection_open) {
  run_both(empty_write_close, NULL);
}

typedef struct shut {
  corio_tcp_t *c;
  _Atomic(int) entered;
  int result;
} shut_t;

static void *blocked_shutdown(void *arg) {
  shut_t *s = arg;

  atomic_store(&s->entered, 1);
  s->result = corio_shutdown(s->c); /* waits behind the stuck writer */
  return NULL;
}

static void *shutdown_racing_close(void *arg) {
  raw_peer_t *p = arg;
  corio_task_t *wt, *st;
  stuck_t w = {0};
  shut_t s = {0};

  cr_assert_eq(corio_tcp_connect("127.0.0.1", p->port, &w.c), 0);
  s.c = w.c;
  cr_assert_eq(corio_spawn(corio_current_rt(), stuck_writer_nodl, &w, &wt), 0);
  while (!atomic_load(&w.entered))
    corio_sleep(1);
  corio_sleep(30); /* the writer waits in the loop, holding the write lock */
  cr_assert_eq(corio_spawn(corio_current_rt(), blocked_shutdown, &s, &st), 0);
  while (!atomic_load(&s.entered))
    corio_sleep(1);
  corio_sleep(10);
  cr_assert_eq(corio_close(w.c), 0);
  cr_assert_eq(corio_join(wt, NULL), 0);
  cr_assert_eq(corio_join(st, NULL), 0);
  cr_assert_eq(w.result, UV_ECANCELED);
  /* before the fix: 0 or UV_EBADF, a shutdown of a closed (or reused) fd */
  cr_assert_eq(s.result, UV_ECANCELED, "shutdown gave %s", uv_strerror(s.result));
  atomic_store(&p->release, 1);
  return NULL;
}

Test(tcp, a_shutdown_waiting_behind_a_write_never_touches_a_closed_descriptor) {
  run_both_with_peer(1, shutdown_racing_close);
}

/* --- calls that must run in a task ------------------------------------------- */

typedef struct pair {
  corio_tcp_listener_t *ln;
  corio_tcp_t *c, *a; /* the client's end and the accepted one */
  int port;
  _Atomic(int) ready;
} pair_t;

/* In a task: a listener and a connection through it, both ends kept. */
static void *pair_open(void *arg) {
  pair_t *p = arg;

  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &p->ln), 0);
  p->port = corio_tcp_listener_port(p->ln);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", p->port, &p->c), 0);
  cr_assert_eq(corio_tcp_accept_dl(p->ln, &p->a, corio_now() + 10000), 0);
  atomic_store(&p->ready, 1);
  return NULL;
}

/* Every call that needs a task says so with UV_EINVAL, consuming nothing. */
static void expect_einval_outside_a_task(pair_t *p) {
  uv_buf_t b = uv_buf_init((char *)"x", 1);
  corio_tcp_t *x = NULL;
  char buf[4];
  size_t got = 99;

  cr_assert_eq(corio_read(p->a, buf, sizeof buf), UV_EINVAL);
  cr_assert_eq(corio_read(p->a, buf, 0), UV_EINVAL);
  cr_assert_eq(corio_read_dl(p->a, buf, sizeof buf, 0), UV_EINVAL);
  cr_assert_eq(corio_read_full(p->a, buf, sizeof buf, &got), UV_EINVAL);
  cr_assert_eq(got, 0);
  got = 99;
  cr_assert_eq(corio_read_full_dl(p->a, buf, 0, &got, 0), UV_EINVAL); /* not 0 */
  cr_assert_eq(got, 0);
  cr_assert_eq(corio_write(p->c, "x", 1), UV_EINVAL);
  cr_assert_eq(corio_write(p->c, "", 0), UV_EINVAL);
  cr_assert_eq(corio_write_dl(p->c, "x", 1, 0), UV_EINVAL);
  cr_assert_eq(corio_writev(p->c, &b, 1), UV_EINVAL);
  cr_assert_eq(corio_writev_dl(p->c, &b, 1, 0), UV_EINVAL);
  cr_assert_eq(corio_shutdown(p->c), UV_EINVAL);
  cr_assert_eq(corio_shutdown_dl(p->c, 0), UV_EINVAL);
  cr_assert_eq(corio_tcp_accept(p->ln, &x), UV_EINVAL);
  cr_assert_eq(corio_tcp_accept_dl(p->ln, &x, 0), UV_EINVAL);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", p->port, &x), UV_EINVAL);
  cr_assert_eq(corio_tcp_connect_dl("127.0.0.1", p->port, &x, 0), UV_EINVAL);
  cr_assert_null(x);
  /* the calls that never wait work anywhere */
  cr_assert_eq(corio_tcp_listener_port(p->ln), p->port);
  cr_assert_eq(corio_tcp_nodelay(p->a, 1), 0);
  cr_assert_not_null(corio_tcp_handle(p->a));
}

/* In a task: nothing was written, read or shut down above. */
static void *pair_still_works(void *arg) {
  pair_t *p = arg;
  char buf[4];

  cr_assert_eq(corio_write(p->c, "ok", 2), 2);
  cr_assert_eq(corio_read_full_dl(p->a, buf, 2, NULL, corio_now() + 10000), 2);
  cr_assert_eq(memcmp(buf, "ok", 2), 0);
  cr_assert_eq(corio_write(p->a, "!", 1), 1);
  cr_assert_eq(corio_read_dl(p->c, buf, sizeof buf, corio_now() + 10000), 1);
  return NULL;
}

Test(tcp, calls_that_wait_return_einval_on_a_plain_thread) {
  corio_tcp_listener_options_t with_rt = {0};
  corio_tcp_listener_t *ln2;
  pair_t p = {0};
  corio_rt_t *rt;
  corio_task_t *t;

  cr_assert_eq(corio_rt_new(&on_workers, &rt), 0);
  cr_assert_eq(corio_spawn(rt, pair_open, &p, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  expect_einval_outside_a_task(&p);
  cr_assert_eq(corio_spawn(rt, pair_still_works, &p, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  /* listen needs a runtime; with one, a plain thread may listen and close */
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &ln2), UV_EINVAL);
  with_rt.rt = rt;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, &with_rt, &ln2), 0);
  cr_assert_eq(corio_tcp_listener_close(ln2), 0);
  /* closing never waits: any thread */
  cr_assert_eq(corio_close(p.c), 0);
  cr_assert_eq(corio_close(p.a), 0);
  cr_assert_eq(corio_tcp_listener_close(p.ln), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

static void *pair_close(void *arg);

static void *refused_in_a_coroutine(void *arg) {
  pair_t *p = arg;
  corio_tcp_listener_t *x;

  expect_einval_outside_a_task(p);
  /* a coroutine cannot park its task: no call here waits for the loop */
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &x), UV_EINVAL);
  cr_assert_eq(corio_tcp_serve(p->ln, echo, NULL), UV_EINVAL);
  cr_assert_eq(corio_tcp_listener_close(p->ln), UV_EINVAL); /* still open */
  return NULL;
}

static void *nested_coroutine(void *arg) {
  pair_t p = {0};
  corio_coro_t *co;

  (void)arg;
  pair_open(&p);
  cr_assert_eq(corio_coro_new(refused_in_a_coroutine, &p, NULL, &co), 0);
  cr_assert_eq(corio_coro_resume(co, NULL, NULL), CORIO_CORO_FINISHED);
  cr_assert_eq(corio_coro_free(co), 0);
  pair_still_works(&p);
  pair_close(&p);
  return NULL;
}

Test(tcp, calls_that_wait_return_einval_in_a_coroutine_run_by_a_task) {
  run_both(nested_coroutine, NULL);
}

typedef struct on_loop {
  uv_loop_t loop;
  uv_timer_t poll;
  corio_rt_t *rt;
  pair_t p;
  int checked;
} on_loop_t;

static void *pair_close(void *arg) {
  pair_t *p = arg;

  corio_close(p->c);
  corio_close(p->a);
  cr_assert_eq(corio_tcp_listener_close(p->ln), 0);
  return NULL;
}

/* The application's timer, on the loop thread outside any task. */
static void on_loop_check(uv_timer_t *timer) {
  on_loop_t *o = timer->data;
  corio_tcp_listener_options_t with_rt = {.rt = o->rt};
  corio_tcp_listener_t *x;
  uint64_t t0;

  if (!atomic_load(&o->p.ready))
    return;
  expect_einval_outside_a_task(&o->p);
  /* waiting here would stop the loop: not even a name is resolved */
  t0 = uv_hrtime();
  cr_assert_eq(corio_tcp_listen("localhost", 0, &with_rt, &x), UV_EINVAL);
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, &with_rt, &x), UV_EINVAL);
  cr_assert_lt(uv_hrtime() - t0, 1000000000u);
  cr_assert_eq(corio_tcp_serve(o->p.ln, echo, NULL), UV_EINVAL);
  cr_assert_eq(corio_tcp_listener_close(o->p.ln), UV_EINVAL); /* still open */
  cr_assert_eq(corio_tcp_listener_port(o->p.ln), o->p.port);
  o->checked = 1;
  uv_close((uv_handle_t *)timer, NULL);
  cr_assert_eq(corio_spawn(o->rt, pair_close, &o->p, NULL), 0);
}

Test(tcp, calls_that_wait_return_einval_on_the_loop_thread_outside_a_task) {
  on_loop_t o;

  memset(&o, 0, sizeof o);
  cr_assert_eq(uv_loop_init(&o.loop), 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2, .loop = &o.loop}, &o.rt), 0);
  uv_timer_init(&o.loop, &o.poll);
  o.poll.data = &o;
  uv_timer_start(&o.poll, on_loop_check, 1, 1);
  cr_assert_eq(corio_spawn(o.rt, pair_open, &o.p, NULL), 0);
  uv_run(&o.loop, UV_RUN_DEFAULT); /* until the timer and corio's tasks are done */
  cr_assert(o.checked);
  cr_assert_eq(corio_rt_free(o.rt), 0);
  uv_run(&o.loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&o.loop), 0);
}

/* --- documented edges ------------------------------------------------------- */

static void *edges(void *arg) {
  static char bytes[CORIO_TCP_WRITEV_MAX + 1];
  static uv_buf_t bufs[CORIO_TCP_WRITEV_MAX + 1];
  static char got[CORIO_TCP_WRITEV_MAX];
  corio_tcp_t *x = NULL;
  pair_t p = {0};
  size_t n = 99;
  unsigned i;

  (void)arg;
  pair_open(&p);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", 70000, &x), UV_EINVAL);
  cr_assert_null(x);
  cr_assert_eq(corio_read_full(p.a, got, 0, &n), 0);
  cr_assert_eq(n, 0);
  cr_assert_eq(corio_write(p.c, "", 0), 0);
  /* at most CORIO_TCP_WRITEV_MAX buffers, in order */
  for (i = 0; i <= CORIO_TCP_WRITEV_MAX; i++) {
    bytes[i] = (char)(i * 7);
    bufs[i] = uv_buf_init(&bytes[i], 1);
  }
  cr_assert_eq(corio_writev(p.c, bufs, CORIO_TCP_WRITEV_MAX + 1), UV_EINVAL);
  cr_assert_eq(corio_writev(p.c, bufs, CORIO_TCP_WRITEV_MAX), CORIO_TCP_WRITEV_MAX);
  cr_assert_eq(corio_read_full_dl(p.a, got, sizeof got, NULL, corio_now() + 10000),
               (ssize_t)sizeof got);
  cr_assert_eq(memcmp(got, bytes, sizeof got), 0);
  pair_close(&p);
  return NULL;
}

Test(tcp, writev_takes_at_most_the_documented_buffers_and_connect_checks_the_port) {
  run_both(edges, NULL);
}

/* --- accept waiters, serve and close under cancellation ----------------------- */

typedef struct acceptor {
  corio_tcp_listener_t *ln;
  _Atomic(int) order; /* 1 + the rank in which it got a connection, or 0 */
  int result;
  corio_task_t *task;
} acceptor_t;

static _Atomic(int) accepted_rank;

static void *acceptor_main(void *arg) {
  acceptor_t *a = arg;
  corio_tcp_t *c;

  a->result = corio_tcp_accept(a->ln, &c);
  if (a->result == 0) {
    atomic_store(&a->order, atomic_fetch_add(&accepted_rank, 1) + 1);
    corio_close(c);
  }
  return NULL;
}

static void *accept_in_order(void *arg) {
  acceptor_t acc[4];
  corio_tcp_listener_t *ln;
  corio_tcp_t *c[3];
  int i, port;

  (void)arg;
  atomic_store(&accepted_rank, 0);
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &ln), 0);
  port = corio_tcp_listener_port(ln);
  memset(acc, 0, sizeof acc);
  for (i = 0; i < 4; i++) {
    acc[i].ln = ln;
    cr_assert_eq(corio_spawn(corio_current_rt(), acceptor_main, &acc[i], &acc[i].task), 0);
    corio_sleep(20); /* let it queue, in this order */
  }
  /* the second gives up: the others keep their places */
  cr_assert_eq(corio_cancel(acc[1].task), 0);
  cr_assert_eq(corio_join(acc[1].task, NULL), 0);
  cr_assert_eq(acc[1].result, UV_ECANCELED);
  for (i = 0; i < 2; i++) {
    cr_assert_eq(corio_tcp_connect("127.0.0.1", port, &c[i]), 0);
    while (atomic_load(&accepted_rank) < i + 1)
      corio_sleep(1);
  }
  cr_assert_eq(atomic_load(&acc[0].order), 1);
  cr_assert_eq(atomic_load(&acc[2].order), 2);
  cr_assert_eq(atomic_load(&acc[3].order), 0);
  /* serve refuses a listener with accept waiters */
  cr_assert_eq(corio_tcp_serve(ln, echo, NULL), UV_EBUSY);
  /* closing the listener ends the last wait */
  cr_assert_eq(corio_tcp_listener_close(ln), 0);
  for (i = 0; i < 4; i++)
    if (i != 1)
      cr_assert_eq(corio_join(acc[i].task, NULL), 0);
  cr_assert_eq(acc[3].result, UV_ECANCELED);
  for (i = 0; i < 2; i++)
    corio_close(c[i]);
  return NULL;
}

Test(tcp, accept_waiters_get_connections_in_arrival_order) {
  run_both(accept_in_order, NULL);
}

typedef struct served {
  corio_tcp_listener_t *ln;
  int result;
} served_t;

static void *serve_until(void *arg) {
  served_t *s = arg;

  s->result = corio_tcp_serve(s->ln, echo, NULL);
  return NULL;
}

static void *cancel_serve(void *arg) {
  served_t s = {0};
  corio_tcp_t *c, *a;
  corio_task_t *t;
  char buf[4];
  int port;

  (void)arg;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &s.ln), 0);
  port = corio_tcp_listener_port(s.ln);
  cr_assert_eq(corio_spawn(corio_current_rt(), serve_until, &s, &t), 0);
  corio_sleep(20);
  cr_assert_eq(corio_cancel(t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(s.result, UV_ECANCELED);
  /* the listener stays open, no longer served: accept takes the next one */
  cr_assert_eq(corio_tcp_connect("127.0.0.1", port, &c), 0);
  cr_assert_eq(corio_tcp_accept_dl(s.ln, &a, corio_now() + 10000), 0);
  cr_assert_eq(corio_write(c, "hi", 2), 2);
  cr_assert_eq(corio_read_full_dl(a, buf, 2, NULL, corio_now() + 10000), 2);
  corio_close(a);
  corio_close(c);
  cr_assert_eq(corio_tcp_listener_close(s.ln), 0);
  return NULL;
}

Test(tcp, a_cancelled_serve_returns_ecanceled_and_leaves_the_listener_open) {
  run_both(cancel_serve, NULL);
}

static void *close_listener_cancelled(void *arg) {
  corio_tcp_listener_t *ln;
  int port;

  (void)arg;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &ln), 0);
  port = corio_tcp_listener_port(ln);
  cr_assert_eq(corio_cancel(corio_self()), 0); /* pending */
  cr_assert_eq(corio_tcp_listener_close(ln), 0);
  cr_assert_eq(corio_sleep(1), UV_ECANCELED); /* kept for the next wait */
  /* the port is free again: the socket really closed */
  cr_assert_eq(corio_tcp_listen("127.0.0.1", port, NULL, &ln), 0);
  cr_assert_eq(corio_tcp_listener_close(ln), 0);
  return NULL;
}

Test(tcp, closing_a_listener_in_a_cancelled_task_still_closes_it) {
  run_both(close_listener_cancelled, NULL);
}

/* --- shutdown with a deadline ------------------------------------------------- */

static void *shutdown_deadline(void *arg) {
  raw_peer_t *p = arg;
  corio_task_t *t;
  stuck_t w = {0};
  uint64_t t0, waited;

  cr_assert_eq(corio_tcp_connect("127.0.0.1", p->port, &w.c), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), stuck_writer_nodl, &w, &t), 0);
  while (!atomic_load(&w.entered))
    corio_sleep(1);
  corio_sleep(30); /* the writer waits in the loop, holding the write lock */
  t0 = uv_hrtime();
  cr_assert_eq(corio_shutdown_dl(w.c, corio_now() + 50), UV_ETIMEDOUT);
  waited = uv_hrtime() - t0;
  cr_assert_geq(waited, 49000000u, "gave up after %llu ns", (unsigned long long)waited);
  cr_assert_eq(corio_close(w.c), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(w.result, UV_ECANCELED);
  atomic_store(&p->release, 1);
  return NULL;
}

Test(tcp, a_shutdown_behind_a_stuck_write_times_out) {
  run_both_with_peer(1, shutdown_deadline);
}

/* --- adopted handles and cancellation ----------------------------------------- */

typedef struct adoptee {
  raw_peer_t *peer;
  uv_tcp_t *h;
} adoptee_t;

/* On the loop thread (a pinned task): a connected handle of rt's loop, in
 * memory the test frees once corio_close has returned. */
static void *make_app_handle(void *arg) {
  adoptee_t *ad = arg;
  int fd = connect_raw(ad->peer->port);

  cr_assert_geq(fd, 0);
  ad->h = malloc(sizeof *ad->h);
  cr_assert_eq(uv_tcp_init(corio_rt_loop(corio_current_rt()), ad->h), 0);
  cr_assert_eq(uv_tcp_open(ad->h, fd), 0);
  return NULL;
}

static void *adopt_and_close_cancelled(void *arg) {
  adoptee_t *ad = arg;
  corio_task_t *t;
  corio_tcp_t *c;

  cr_assert_eq(corio_spawn_on_loop(corio_current_rt(), make_app_handle, ad, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  if (!corio_on_loop_thread(corio_current_rt())) {
    /* from a worker, adopting waits for the loop: a cancel stops it */
    cr_assert_eq(corio_cancel(corio_self()), 0);
    cr_assert_eq(corio_tcp_adopt(ad->h, &c), UV_ECANCELED);
  }
  cr_assert_eq(corio_tcp_adopt(ad->h, &c), 0);
  cr_assert_eq(corio_cancel(corio_self()), 0); /* pending */
  cr_assert_eq(corio_close(c), 0); /* waits for the close all the same */
  free(ad->h); /* the application's memory is its own again */
  cr_assert_eq(corio_sleep(1), UV_ECANCELED); /* the cancel was kept */
  atomic_store(&ad->peer->release, 1);
  return NULL;
}

static void *adopt_on_workers(void *arg) {
  return adopt_and_close_cancelled(arg);
}

static void *adopt_on_loop(void *arg) {
  corio_task_t *t;

  /* the same from a task pinned to the loop thread */
  cr_assert_eq(corio_spawn_on_loop(corio_current_rt(), adopt_and_close_cancelled, arg, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  return NULL;
}

Test(tcp, closing_an_adopted_handle_in_a_cancelled_task_waits_and_keeps_the_cancel) {
  raw_peer_t p;
  adoptee_t ad = {&p, NULL};

  raw_peer_start(&p, 1);
  run_in(on_workers, adopt_on_workers, &ad);
  raw_peer_stop(&p);
  raw_peer_start(&p, 1);
  run_in(on_workers, adopt_on_loop, &ad);
  raw_peer_stop(&p);
  raw_peer_start(&p, 1);
  run_in(loop_only, adopt_on_workers, &ad);
  raw_peer_stop(&p);
}

/* --- a read that needs no wait keeps a pending cancel ------------------------
 * corio_cancel (rt.h): a call that completes without waiting leaves the
 * cancel pending for the next call that waits. */
static void *read_at_eof_keeps_cancel(void *arg) {
  pair_t p = {0};
  char buf[16];

  (void)arg;
  pair_open(&p);
  cr_assert_eq(corio_write(p.c, "abc", 3), 3);
  cr_assert_eq(corio_shutdown(p.c), 0);
  cr_assert_eq(corio_read_full_dl(p.a, buf, 3, NULL, corio_now() + 10000), 3);
  cr_assert_eq(corio_read_dl(p.a, buf, sizeof buf, corio_now() + 10000), UV_EOF);
  cr_assert_eq(corio_cancel(corio_self()), 0); /* pending */
  /* the end of the stream is known: no wait, so the cancel is not taken */
  cr_assert_eq(corio_read(p.a, buf, sizeof buf), UV_EOF);
  cr_assert_eq(corio_read_dl(p.a, buf, sizeof buf, corio_now() + 10000), UV_EOF);
  cr_assert_eq(corio_sleep(1000), UV_ECANCELED, "the read took the cancel");
  cr_assert_eq(corio_sleep(1), 0); /* it was taken once */
  pair_close(&p);
  return NULL;
}

Test(tcp, a_read_at_eof_leaves_a_pending_cancel_for_the_next_wait) {
  run_both(read_at_eof_keeps_cancel, NULL);
}

/* --- white-box: a cut waits for the loop's read by parking ------------------- */

typedef struct cutting {
  corio_tcp_t *c;
  _Atomic(int) done;
} cutting_t;

static void *cut_task(void *arg) {
  cutting_t *ct = arg;

  corio__tcp_cut(ct->c, 0, 0);
  atomic_store(&ct->done, 1);
  return NULL;
}

static void *cut_waits_for_read(void *arg) {
  cutting_t ct = {0};
  corio_task_t *t;
  int parked;
  pair_t p = {0};
  char buf[4];

  (void)arg;
  pair_open(&p);
  ct.c = p.a;
  cr_assert_eq(corio__tcp_read_begin(p.a), 0);
  /* As if the loop were between alloc_cb and read_cb (nothing has been
   * sent, so the real loop is not). */
  corio__spin_lock(&p.a->lock);
  p.a->filling = 1;
  corio__spin_unlock(&p.a->lock);
  cr_assert_eq(corio_spawn(corio_current_rt(), cut_task, &ct, &t), 0);
  /* A spinning cutter would keep this task (on the only worker, or the
   * loop thread) from waking up at all. */
  corio_sleep(30);
  cr_assert_eq(atomic_load(&ct.done), 0);
  corio__spin_lock(&p.a->lock);
  parked = p.a->cutter != NULL;
  corio__spin_unlock(&p.a->lock);
  cr_assert(parked, "the cutter is not parked");
  /* the loop's next read ends the window and readies the cutter */
  cr_assert_eq(corio_write(p.c, "x", 1), 1);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(atomic_load(&ct.done), 1);
  corio__tcp_read_end(p.a);
  cr_assert_eq(corio_read_dl(p.a, buf, sizeof buf, corio_now() + 10000), 1);
  cr_assert_eq(buf[0], 'x');
  pair_close(&p);
  return NULL;
}

Test(tcp, a_cut_during_the_loops_read_parks_until_the_read_is_over) {
  run_in((corio_rt_options_t){.workers = 1}, cut_waits_for_read, NULL);
  run_in(loop_only, cut_waits_for_read, NULL);
}

/* --- a loop per worker (docs/DESIGN.md 8) ---------------------------------- */

#define STAY_ROUNDS 300

typedef struct stay {
  corio_rt_t *rt;
  pthread_t seen[STAY_ROUNDS];
  int on_loop_thread;           /* the handler ever ran there */
  int rounds;
} stay_t;

/* Yields (which send an unbound task to the shared queue, where the other
 * worker takes it), sleeps and reads: a served connection's task must run
 * on its worker, beside its socket, each time. */
static void stay_put(corio_tcp_t *c, void *arg) {
  stay_t *st = arg;
  char b;

  for (int i = 0; i < STAY_ROUNDS; i++) {
    st->seen[i] = pthread_self();
    st->on_loop_thread |= corio_on_loop_thread(st->rt);
    if (i % 100 == 50) {
      if (corio_read(c, &b, 1) != 1)
        return;
    } else if (i % 100 == 75) {
      corio_sleep(1);
    } else {
      corio_yield();
    }
    st->rounds = i + 1;
  }
  corio_write(c, "k", 1);
}

static void *stay_client(void *arg) {
  stay_t *st = arg;
  corio_tcp_t *c;
  server_t s;
  char b = 0;

  st->rt = corio_current_rt();
  server_start(&s, stay_put, st);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c), 0);
  cr_assert_eq(corio_write(c, "abc", 3), 3);
  cr_assert_eq(corio_read_dl(c, &b, 1, corio_now() + 20000), 1);
  cr_assert_eq(b, 'k');
  corio_close(c);
  server_stop(&s);
  return NULL;
}

Test(tcp, a_served_connections_task_stays_on_one_worker_off_the_loop_thread) {
  stay_t st = {0};

  run_in(on_workers, stay_client, &st);
  cr_assert_eq(st.rounds, STAY_ROUNDS);
  cr_assert_eq(st.on_loop_thread, 0);
  for (int i = 1; i < STAY_ROUNDS; i++)
    cr_assert(pthread_equal(st.seen[i], st.seen[0]),
              "round %d ran on another thread", i);
}

typedef struct kick {
  corio_sem_t sem;
  _Atomic(int) waiting;
  int got;
} kick_t;

static void wait_on_sem(corio_tcp_t *c, void *arg) {
  kick_t *k = arg;
  char b;

  if (corio_read(c, &b, 1) != 1)
    return;
  atomic_store(&k->waiting, 1);
  if (corio_sem_acquire_dl(&k->sem, corio_now() + 10000) == 0)
    corio_write(c, "x", 1);
}

static void *kick_client(void *arg) {
  kick_t *k = arg;
  corio_tcp_t *c;
  server_t s;
  char b = 0;

  server_start(&s, wait_on_sem, k);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c), 0);
  cr_assert_eq(corio_write(c, "?", 1), 1);
  if (corio_read_dl(c, &b, 1, corio_now() + 10000) == 1)
    k->got = b;
  corio_close(c);
  server_stop(&s);
  return NULL;
}

/* The handler's worker has a socket, so it sleeps in its loop's poll; a
 * plain thread's release readies the handler through the worker's inbox,
 * whose kick must wake it there (a lost kick: the handler times out). */
Test(tcp, a_worker_asleep_in_its_loop_is_woken_for_its_task_from_a_plain_thread) {
  for (int round = 0; round < 20; round++) {
    kick_t k = {0};
    corio_rt_t *rt;
    corio_task_t *t;

    cr_assert_eq(corio_sem_init(&k.sem, 0), 0);
    cr_assert_eq(corio_rt_new(&on_workers, &rt), 0);
    cr_assert_eq(corio_spawn(rt, kick_client, &k, &t), 0);
    while (!atomic_load(&k.waiting))
      usleep(1000);
    usleep(round % 2 ? 20000 : 100); /* asleep by now, or perhaps not yet */
    cr_assert_eq(corio_sem_release(&k.sem, 1), 0);
    cr_assert_eq(corio_join(t, NULL), 0);
    cr_assert_eq(corio_rt_free(rt), 0);
    cr_assert_eq(k.got, 'x', "round %d: the handler was not woken", round);
  }
}

/* A write to a served connection, queued on its worker's loop by a task
 * on another worker; the connection's own task then ends, which closes
 * the socket, the worker's only one. The write's callback (UV_ECANCELED)
 * comes in a later iteration of that loop: the worker must still run it,
 * or the writer never resumes. */
typedef struct late_write {
  corio_sem_t ready, close_now;
  corio_tcp_t *served;
  char *buf;                    /* filled before the writer starts */
  size_t len;
  ssize_t wrote;
} late_write_t;

static void hold_until_told(corio_tcp_t *c, void *arg) {
  late_write_t *lw = arg;

  lw->served = c;
  corio_sem_release(&lw->ready, 1);
  corio_sem_acquire_dl(&lw->close_now, corio_now() + 20000);
}

static void *write_big(void *arg) {
  late_write_t *lw = arg;

  lw->wrote = corio_write(lw->served, lw->buf, lw->len); /* never read */
  return NULL;
}

static void *late_write_body(void *arg) {
  late_write_t *lw = arg;
  corio_task_t *wt;
  corio_tcp_t *c;
  server_t s;

  server_start(&s, hold_until_told, lw);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c), 0);
  cr_assert_eq(corio_sem_acquire_dl(&lw->ready, corio_now() + 10000), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), write_big, lw, &wt), 0);
  /* The writer must be inside its write (the kernel's buffers full, the
   * rest queued) before the owner ends: a call that begins after the
   * close would touch a freed connection. */
  corio_sleep(CORIO_TEST_UNDER_TSAN ? 1500 : 300);
  corio_sem_release(&lw->close_now, 1);
  cr_assert_eq(corio_join_dl(wt, NULL, corio_now() + 10000), 0,
               "the writer never resumed");
  cr_assert_lt(lw->wrote, 0);
  corio_close(c);
  server_stop(&s);
  return NULL;
}

Test(tcp, a_write_queued_on_a_workers_loop_ends_when_its_last_socket_closes) {
  late_write_t lw = {.len = (size_t)64 << 20};

  cr_assert_not_null(lw.buf = malloc(lw.len));
  memset(lw.buf, 'x', lw.len);
  cr_assert_eq(corio_sem_init(&lw.ready, 0), 0);
  cr_assert_eq(corio_sem_init(&lw.close_now, 0), 0);
  run_in(on_workers, late_write_body, &lw);
  free(lw.buf);
}

/* A bound handler that yields until a task it spawned has run: on one
 * worker, yielding must let the spawned task (in the worker's deque)
 * go first, or the pair livelocks. */
typedef struct yield_wait {
  _Atomic(int) helper_ran;
  long yields;
} yield_wait_t;

static void *set_flag(void *arg) {
  atomic_store(&((yield_wait_t *)arg)->helper_ran, 1);
  return NULL;
}

static void yield_for_helper(corio_tcp_t *c, void *arg) {
  yield_wait_t *yw = arg;
  corio_task_t *t;

  if (corio_spawn(corio_current_rt(), set_flag, yw, &t) != 0)
    return;
  while (!atomic_load(&yw->helper_ran) && yw->yields < 1000000) {
    corio_yield();
    yw->yields++;
  }
  corio_join(t, NULL);
  corio_write(c, "k", 1);
}

static void *yield_wait_body(void *arg) {
  corio_tcp_t *c;
  server_t s;
  char b = 0;

  server_start(&s, yield_for_helper, arg);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c), 0);
  cr_assert_eq(corio_read_dl(c, &b, 1, corio_now() + 20000), 1);
  corio_close(c);
  server_stop(&s);
  return NULL;
}

Test(tcp, a_bound_handler_yielding_lets_the_task_it_spawned_run) {
  yield_wait_t yw = {0};

  run_in((corio_rt_options_t){.workers = 1}, yield_wait_body, &yw);
  cr_assert_eq(atomic_load(&yw.helper_ran), 1);
  cr_assert_lt(yw.yields, 1000, "%ld yields before the helper ran", yw.yields);
}

/* corio_rt_free with a write pending from a task bound to worker 0 to a
 * connection on worker 1's loop: closing worker 1's sockets cancels the
 * write, which readies the writer through worker 0's loop. The loops
 * close in phases, so that post finds worker 0's loop still there (ASan
 * and valgrind would see a freed one). */
typedef struct cross_write {
  corio_sem_t got, never;
  corio_tcp_t *conns[2];
  _Atomic(int) nconn, stored, writing;
  char *buf;                    /* the test's: the writer never returns */
  size_t len;
} cross_write_t;

static void cross_writer(corio_tcp_t *c, void *arg) {
  cross_write_t *cw = arg;
  int i = atomic_fetch_add(&cw->nconn, 1);

  cw->conns[i] = c;
  /* published after the store (nconn alone told task 0 of conns[1]
   * before task 1 had written it: TSan) */
  atomic_fetch_add(&cw->stored, 1);
  corio_sem_release(&cw->got, 1);
  if (i == 0) {
    while (atomic_load(&cw->stored) < 2)
      corio_sleep(1);
    atomic_store(&cw->writing, 1);
    corio_write(cw->conns[1], cw->buf, cw->len); /* never returns: rt_free */
  }
  corio_sem_acquire(&cw->never);
}

static void *cross_client(void *arg) {
  cross_write_t *cw = arg;
  corio_tcp_t *c1, *c2;
  server_t s;

  server_start(&s, cross_writer, cw);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c1), 0);
  cr_assert_eq(corio_sem_acquire(&cw->got), 0);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c2), 0);
  cr_assert_eq(corio_sem_acquire(&cw->got), 0);
  corio_sem_acquire(&cw->never);
  return NULL;
}

Test(tcp, freeing_a_runtime_with_a_write_pending_across_workers_loops) {
  cross_write_t cw = {0};
  corio_rt_t *rt;
  corio_task_t *t;

  cw.len = (size_t)64 << 20;
  cr_assert_not_null(cw.buf = malloc(cw.len));
  memset(cw.buf, 'x', cw.len);
  cr_assert_eq(corio_sem_init(&cw.got, 0), 0);
  cr_assert_eq(corio_sem_init(&cw.never, 0), 0);
  cr_assert_eq(corio_rt_new(&on_workers, &rt), 0);
  cr_assert_eq(corio_spawn(rt, cross_client, &cw, &t), 0);
  cr_assert_eq(corio_detach(t), 0);
  for (int i = 0; i < 10000 && !atomic_load(&cw.writing); i++)
    usleep(1000);
  cr_assert_eq(atomic_load(&cw.writing), 1);
  usleep(200000); /* the write is queued on worker 1's loop by now */
  cr_assert_eq(corio_rt_free(rt), 0);
  free(cw.buf);
}

/* --- memory of an idle connection (lib/core/pool.h) ------------------------ */

#define IDLE_ROUNDS 50

typedef struct idle_buf {
  _Atomic(corio_tcp_t *) conn;  /* the served side */
  int held_while_idle;          /* rounds its reader waited holding a buffer */
  int rounds;
} idle_buf_t;

/* Echo one byte at a time, IDLE_ROUNDS times. */
static void idle_echo(corio_tcp_t *c, void *arg) {
  idle_buf_t *ib = arg;
  char b;

  atomic_store(&ib->conn, c);
  for (int i = 0; i < IDLE_ROUNDS; i++)
    if (corio_read(c, &b, 1) != 1 || corio_write(c, &b, 1) != 1)
      return;
}

/* Is the served side's reader parked, and does it hold a buffer? */
static int parked_holding(corio_tcp_t *c, int *holding) {
  int parked;

  corio__spin_lock(&c->lock);
  parked = c->reader != NULL;
  *holding = c->rbuf != NULL;
  corio__spin_unlock(&c->lock);
  return parked;
}

static void *idle_client(void *arg) {
  idle_buf_t *ib = arg;
  corio_tcp_t *c, *sc;
  server_t s;

  memset(ib, 0, sizeof *ib);
  server_start(&s, idle_echo, ib);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", s.port, &c), 0);
  for (int i = 0; i < IDLE_ROUNDS; i++) {
    char out = (char)('a' + i % 26), in = 0;
    int holding = 0, j;

    /* wait until the server's reader is parked on an empty buffer */
    for (j = 0; j < 5000; j++) {
      if ((sc = atomic_load(&ib->conn)) != NULL && parked_holding(sc, &holding))
        break;
      corio_sleep(1);
    }
    cr_assert_lt(j, 5000, "the reader never waited");
    ib->held_while_idle += holding;
    cr_assert_eq(corio_write(c, &out, 1), 1);
    cr_assert_eq(corio_read_dl(c, &in, 1, corio_now() + 10000), 1);
    cr_assert_eq(in, out, "round %d: the byte came back changed", i);
    ib->rounds++;
  }
  corio_close(c);
  server_stop(&s);
  return NULL;
}

/* A connection with nothing buffered gives its read buffer back while it
 * waits, and takes one again when bytes come (the bytes intact). */
Test(tcp, an_idle_connection_holds_no_read_buffer) {
  idle_buf_t ib;

  run_in(on_workers, idle_client, &ib);
  cr_assert_eq(ib.rounds, IDLE_ROUNDS);
  cr_assert_eq(ib.held_while_idle, 0);
  run_in(loop_only, idle_client, &ib);
  cr_assert_eq(ib.rounds, IDLE_ROUNDS);
  cr_assert_eq(ib.held_while_idle, 0);
}
