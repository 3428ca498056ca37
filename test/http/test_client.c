/* The HTTP client (corio/http_client.h) against corio's own server (the
 * fixture) and against raw servers that misbehave on purpose. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "corio.h"
#include "http_fixture.h"
#include "../support/sizes.h"

#define BOUND() (corio_now() + 15000)

/* --- corio's server ----------------------------------------------------------- */

static _Atomic(int) last_peer_port;

static int handler(corio_http_req_t *req, corio_http_res_t *res, void *arg) {
  corio_http_str_t path = corio_http_path(req);
  struct sockaddr_in peer;
  int plen = sizeof peer;
  char buf[16384];
  ssize_t n;

  (void)arg;
  if (corio_http_peer(req, (struct sockaddr *)&peer, &plen) == 0)
    atomic_store(&last_peer_port, ntohs(peer.sin_port));
  if (is(path, "/hello"))
    return corio_http_respond(res, 200, "Content-Type: text/plain\r\n", "hello", 5);
  if (is(path, "/nocontent"))
    return corio_http_respond(res, 204, NULL, NULL, 0);
  if (is(path, "/close"))
    return corio_http_respond(res, 200, "Connection: close\r\n", "bye", 3);
  if (is(path, "/chunked")) {
    corio_http_res_start(res, 200, NULL, -1);
    for (int i = 0; i < 5; i++) {
      int k = snprintf(buf, sizeof buf, "part%d;", i);
      corio_http_res_write(res, buf, (size_t)k);
    }
    return corio_http_res_end(res);
  }
  if (is(path, "/echo")) { /* the request body back, streamed, chunked */
    /* the head goes out before the body is read: nothing of the body
     * may be dropped for it */
    corio_http_res_start(res, 200, NULL, -1);
    while ((n = corio_http_body_read(req, buf, sizeof buf)) > 0) {
      if (corio_http_res_write(res, buf, (size_t)n) < 0)
        return 1;
    }
    if (n < 0)
      return 1;
    return corio_http_res_end(res);
  }
  if (is(path, "/len")) { /* the request body's length and a header */
    uint64_t total = 0;
    corio_http_str_t h = corio_http_header(req, "X-Test");
    while ((n = corio_http_body_read(req, buf, sizeof buf)) > 0)
      total += (uint64_t)n;
    n = snprintf(buf, sizeof buf, "%llu %.*s", (unsigned long long)total,
                 (int)h.len, h.p != NULL ? h.p : "");
    return corio_http_respond(res, 200, NULL, buf, (size_t)n);
  }
  if (is(path, "/zeros")) { /* ?n=BYTES of zeros, streamed with a length */
    uint64_t total = 0, sent = 0;
    char num[32];
    if (corio_http_query_get(req, "n", num, sizeof num) > 0)
      total = strtoull(num, NULL, 10);
    memset(buf, 0, sizeof buf);
    corio_http_res_start(res, 200, NULL, (int64_t)total);
    while (sent < total) {
      size_t k = total - sent < sizeof buf ? (size_t)(total - sent) : sizeof buf;
      if (corio_http_res_write(res, buf, k) < 0)
        return 1;
      sent += k;
    }
    return corio_http_res_end(res);
  }
  if (is(path, "/huge")) { /* 4 GiB + 3 zeros in one write */
    size_t len = ((size_t)4 << 30) + 3;
    void *zeros = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ssize_t w;
    if (zeros == MAP_FAILED)
      return 1;
    corio_http_res_start(res, 200, NULL, (int64_t)len);
    w = corio_http_res_write(res, zeros, len);
    munmap(zeros, len);
    return w == (ssize_t)len ? corio_http_res_end(res) : 1;
  }
  return corio_http_respond(res, 404, NULL, NULL, 0);
}

typedef struct job {
  fixture_t *f;
  corio_http_client_t *cl;
  int port;
  int ok;
} job_t;

static void url(char *out, size_t cap, int port, const char *path) {
  snprintf(out, cap, "http://127.0.0.1:%d%s", port, path);
}

static void *basics(void *arg) {
  job_t *j = arg;
  corio_http_call_t *call;
  char u[128], *body;
  size_t len;
  int first_port;

  /* a whole exchange, then the same connection again */
  url(u, sizeof u, j->port, "/hello");
  cr_assert_eq(corio_http_fetch(j->cl, "GET", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 1024), 200);
  cr_assert_str_eq(body, "hello");
  free(body);
  first_port = atomic_load(&last_peer_port);
  cr_assert_eq(corio_http_fetch(j->cl, "GET", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 1024), 200);
  free(body);
  cr_assert_eq(atomic_load(&last_peer_port), first_port, "the connection was not reused");

  /* headers of the response, a chunked body in small reads */
  url(u, sizeof u, j->port, "/chunked");
  cr_assert_eq(corio_http_call_start(j->cl, "GET", u, NULL, 0, 0, BOUND(), &call), 0);
  cr_assert_eq(corio_http_call_response(call), 200);
  cr_assert_eq(corio_http_call_response(call), 200, "asked again");
  {
    corio_http_str_t te = corio_http_call_header(call, "transfer-encoding");
    char got[128];
    size_t have = 0;
    ssize_t n;
    cr_assert(te.p != NULL && te.len == 7 && memcmp(te.p, "chunked", 7) == 0);
    while ((n = corio_http_call_read(call, got + have, 3)) > 0)
      have += (size_t)n;
    cr_assert_eq(n, 0);
    got[have] = '\0';
    cr_assert_str_eq(got, "part0;part1;part2;part3;part4;");
  }
  cr_assert_eq(corio_http_call_end(call), 0);

  /* HEAD and 204 carry no body */
  url(u, sizeof u, j->port, "/hello");
  cr_assert_eq(corio_http_fetch(j->cl, "HEAD", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 1024), 200);
  cr_assert_eq(len, 0);
  free(body);
  url(u, sizeof u, j->port, "/nocontent");
  cr_assert_eq(corio_http_fetch(j->cl, "GET", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 1024), 204);
  free(body);
  /* an empty body ends at its head (corio's own empty 404) */
  url(u, sizeof u, j->port, "/missing");
  cr_assert_eq(corio_http_fetch(j->cl, "GET", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 1024), 404);
  cr_assert_eq(len, 0);
  free(body);
  cr_assert_eq(atomic_load(&last_peer_port), first_port, "HEAD, 204 or 404 broke the reuse");

  /* a body in memory, a header of ours; then Connection: close ends it */
  {
    corio_http_header_t h[] = {{"X-Test", "yes"}};
    url(u, sizeof u, j->port, "/len");
    cr_assert_eq(corio_http_fetch(j->cl, "POST", u, h, 1, "12345", 5, BOUND(), &body, &len, 1024), 200);
    cr_assert_str_eq(body, "5 yes");
    free(body);
  }
  url(u, sizeof u, j->port, "/close");
  cr_assert_eq(corio_http_fetch(j->cl, "GET", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 1024), 200);
  free(body);
  url(u, sizeof u, j->port, "/hello");
  cr_assert_eq(corio_http_fetch(j->cl, "GET", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 1024), 200);
  free(body);
  cr_assert_neq(atomic_load(&last_peer_port), first_port, "reused after Connection: close");

  /* a response over the limit of fetch */
  url(u, sizeof u, j->port, "/zeros?n=5000");
  cr_assert_eq(corio_http_fetch(j->cl, "GET", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 1000), UV_E2BIG);
  cr_assert_null(body);
  j->ok = 1;
  return NULL;
}

static void *free_client(void *arg) {
  cr_assert_eq(corio_http_client_free(arg), 0);
  return NULL;
}

static void with_server_ho(corio_rt_options_t ro, const corio_http_server_options_t *ho,
                           void *(*body)(void *)) {
  fixture_t f;
  job_t j = {0};

  fixture_start(&f, ro, ho);
  j.f = &f;
  j.port = f.port;
  cr_assert_eq(corio_http_client_new(NULL, &j.cl), 0);
  in_task(&f, body, &j);
  in_task(&f, free_client, j.cl);
  (void)client_open; /* the fixture's raw client: not needed here */
  (void)read_reply;
  fixture_stop(&f);
  cr_assert(j.ok);
}

static void with_server(corio_rt_options_t ro, void *(*body)(void *)) {
  with_server_ho(ro, NULL, body);
}

Test(client, exchanges_with_corios_server_reuse_their_connection, .timeout = 60) {
  with_server((corio_rt_options_t){.workers = 2}, basics);
  with_server((corio_rt_options_t){.loop_only = 1}, basics);
}

/* Both directions streamed: 64 MiB up, chunked, echoed back chunked and
 * read as it comes by a second task (full duplex: the server echoes as it
 * reads), in constant memory. */
enum { PIECE = 65000 };
/* 64 MiB; 8 MiB under TSan or an emulator */
#define TOTAL ((uint64_t)(CORIO_TEST_SLOW ? 8 : 64) << 20)

typedef struct duplex {
  corio_http_call_t *call;
  uint64_t got, sum;
  int status, end;
} duplex_t;

static uint64_t weigh(const char *p, size_t n, uint64_t at) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += (unsigned char)p[i] * ((at + i) % 7 + 1);
  return sum;
}

static void *duplex_reader(void *arg) {
  duplex_t *d = arg;
  char *in = malloc(PIECE);
  ssize_t n;

  d->status = corio_http_call_head(d->call);
  while ((n = corio_http_call_read(d->call, in, PIECE)) > 0) {
    d->sum += weigh(in, (size_t)n, d->got);
    d->got += (uint64_t)n;
  }
  d->end = (int)n;
  free(in);
  return NULL;
}

static void *stream_both_ways(void *arg) {
  job_t *j = arg;
  duplex_t d = {0};
  corio_task_t *reader;
  char u[128], *out = malloc(PIECE);
  uint64_t sent = 0, sum = 0;

  url(u, sizeof u, j->port, "/echo");
  cr_assert_eq(corio_http_call_start(j->cl, "POST", u, NULL, 0, CORIO_HTTP_BODY_CHUNKED,
                                     corio_now() + 60000, &d.call), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), duplex_reader, &d, &reader), 0);
  while (sent < TOTAL) {
    for (size_t i = 0; i < PIECE; i++)
      out[i] = (char)((sent + i) * 131 >> 3);
    cr_assert_eq(corio_http_call_write(d.call, out, PIECE), PIECE);
    sum += weigh(out, PIECE, sent);
    sent += PIECE;
  }
  cr_assert_eq(corio_http_call_finish(d.call), 0);
  corio_join(reader, NULL);
  cr_assert_eq(d.status, 200);
  cr_assert_eq(d.end, 0, "%s", uv_strerror(d.end));
  cr_assert_eq(d.got, sent, "got %llu of %llu", (unsigned long long)d.got, (unsigned long long)sent);
  cr_assert_eq(d.sum, sum);
  cr_assert_eq(corio_http_call_end(d.call), 0);
  free(out);
  j->ok = 1;
  return NULL;
}

Test(client, a_body_streams_both_ways_through_the_client, .timeout = 120) {
  with_server((corio_rt_options_t){.workers = 2}, stream_both_ways);
}

#define CROWD 32
#define ROUNDS 20

typedef struct crowd {
  job_t *j;
  _Atomic(int) ok;
} crowd_t;

static void *crowd_member(void *arg) {
  crowd_t *c = arg;
  char u[128], *body;
  size_t len;

  url(u, sizeof u, c->j->port, "/hello");
  for (int i = 0; i < ROUNDS; i++) {
    if (corio_http_fetch(c->j->cl, "GET", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 64) != 200)
      return NULL;
    if (strcmp(body, "hello") == 0)
      atomic_fetch_add(&c->ok, 1);
    free(body);
  }
  return NULL;
}

static void *crowd_run(void *arg) {
  job_t *j = arg;
  crowd_t c = {j, 0};
  corio_task_t *t[CROWD];

  for (int i = 0; i < CROWD; i++)
    cr_assert_eq(corio_spawn(corio_current_rt(), crowd_member, &c, &t[i]), 0);
  for (int i = 0; i < CROWD; i++)
    corio_join(t[i], NULL);
  cr_assert_eq(atomic_load(&c.ok), CROWD * ROUNDS);
  j->ok = 1;
  return NULL;
}

Test(client, many_tasks_share_one_client, .timeout = 60) {
  with_server((corio_rt_options_t){.workers = 2}, crowd_run);
}

/* --- raw servers that misbehave ------------------------------------------------- */

typedef struct raw {
  const char *answer;            /* sent after the request head */
  size_t answer_len;
  int close_after;               /* close once answered */
  int never;                     /* read, then wait until closed */
  size_t split;                  /* > 0: send the answer in two writes, there */
  int once;                      /* answer one request per connection, then
                                    close at the next without answering */
  int answer_delay_ms;           /* wait before each answer */
  int close_delay_ms;            /* once: wait before that close */
  int stall;                     /* after the head, read nothing for 2 s */
  _Atomic(int) conns, closed;
} raw_t;

static void raw_conn(corio_tcp_t *c, void *arg) {
  raw_t *r = arg;
  char buf[4096];
  size_t have = 0;
  ssize_t n;

  atomic_fetch_add(&r->conns, 1);
  for (int answered = 0;; answered++) {
    have = 0;
    while (memmem(buf, have, "\r\n\r\n", 4) == NULL) {
      if ((n = corio_read_dl(c, buf + have, sizeof buf - have, BOUND())) <= 0)
        goto out;
      have += (size_t)n;
    }
    if (r->never) {
      while (corio_read(c, buf, sizeof buf) > 0) {
      }
      goto out;
    }
    if (r->once && answered > 0) {
      corio_sleep((uint64_t)r->close_delay_ms);
      goto out;
    }
    if (r->stall) {
      corio_sleep(2000);
      while (corio_read(c, buf, sizeof buf) > 0) {
      }
      goto out;
    }
    corio_sleep((uint64_t)r->answer_delay_ms);
    if (r->split > 0) {
      if (corio_write(c, r->answer, r->split) < 0)
        goto out;
      corio_sleep(30); /* the client reads the first part alone */
    }
    if (corio_write(c, r->answer + r->split, r->answer_len - r->split) < 0 || r->close_after)
      goto out;
  }
out:
  atomic_fetch_add(&r->closed, 1);
}

typedef struct raw_job {
  raw_t *r;
  corio_tcp_listener_t *ln;
  corio_task_t *serve;
  int port;
  corio_http_client_t *cl;
  int done;
} raw_job_t;

static void *raw_serve(void *arg) {
  raw_job_t *rj = arg;
  return (void *)(intptr_t)corio_tcp_serve(rj->ln, raw_conn, rj->r);
}

static int raw_fetch(raw_job_t *rj, const char *method, char **body, size_t *len) {
  char u[128];

  url(u, sizeof u, rj->port, "/");
  return corio_http_fetch(rj->cl, method, u, NULL, 0, NULL, 0, corio_now() + 5000, body,
                          len, 1 << 20);
}

static void *raw_run(void *arg) {
  raw_job_t *rj = arg;
  corio_http_client_options_t o = {.head_timeout_ms = 300};

  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &rj->ln), 0);
  rj->port = corio_tcp_listener_port(rj->ln);
  cr_assert_eq(corio_spawn(corio_current_rt(), raw_serve, rj, &rj->serve), 0);
  cr_assert_eq(corio_http_client_new(&o, &rj->cl), 0);
  return NULL;
}

/* The connection tasks are detached: wait for them to end (the client
 * closed its side), as they use *r. */
static void raw_wait_ended(raw_t *r) {
  for (int i = 0; i < 500 && atomic_load(&r->closed) < atomic_load(&r->conns); i++)
    corio_sleep(10);
  cr_assert_eq(atomic_load(&r->closed), atomic_load(&r->conns));
}

static void *raw_stop(void *arg) {
  raw_job_t *rj = arg;

  cr_assert_eq(corio_http_client_free(rj->cl), 0);
  corio_tcp_listener_close(rj->ln);
  corio_join(rj->serve, NULL);
  raw_wait_ended(rj->r);
  return NULL;
}

typedef struct bad_case {
  const char *name, *answer;
  int close_after, never;
  int want;                      /* fetch's result */
  const char *want_body;         /* if want is a status */
  int reuse;                     /* a second fetch goes on the same connection */
  const char *split_after;       /* send the answer in two, after this */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"garbage", "HELLO THERE\r\n\r\n", 0, 0, UV_EPROTO, NULL, 0, NULL},
    {"closes mid-body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", 1, 0, UV_EOF, NULL, 0, NULL},
    {"never answers", NULL, 0, 1, UV_ETIMEDOUT, NULL, 0, NULL},
    {"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
     0, 0, UV_EPROTO, NULL, 0, NULL},
    {"length and chunked",
     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
     0, 0, UV_EPROTO, NULL, 0, NULL},
    {"longer than declared", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA", 0, 0,
     200, "abc", 0, NULL},
    {"until close", "HTTP/1.1 200 OK\r\n\r\nuntil the end", 1, 0, 200, "until the end", 0, NULL},
    {"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n", 0, 0,
     UV_EPROTO, NULL, 0, NULL},
    {"1xx first", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n"
                  "Content-Length: 2\r\n\r\nok", 0, 0, 200, "ok", 1, NULL},
    {"kept alive", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0, 200, "ok", 1, NULL},
    /* bodies that end at their head: no wait for bytes that never come */
    {"empty body", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 0, 200, "", 1, NULL},
    {"204", "HTTP/1.1 204 No Content\r\n\r\n", 0, 0, 204, "", 1, NULL},
    {"empty until close", "HTTP/1.1 200 OK\r\n\r\n", 1, 0, 200, "", 0, NULL},
    /* the trailers come in two reads */
    {"trailers split", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n0\r\nX-Sum: 12\r\nX-More: 2\r\n\r\n",
     0, 0, 200, "abc", 1, "X-Sum: 1"},
    {"head split", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0, 200, "ok", 1,
     "Content-"},
    /* a chunk size near 2^63: no overflow in the framing credit */
    /* a 304 may say the resource's length: still no body */
    {"304 with a length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", 0, 0,
     304, "", 1, NULL},
    {"huge chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "7fffffffffffffff\r\nabc", 1, 0, UV_EOF, NULL, 0, NULL},
};

typedef struct bad_run {
  raw_job_t *rj;
  const bad_case_t *bc;
  int got, got2;
  char *body;
  size_t len;
} bad_run_t;

static void *bad_fetch(void *arg) {
  bad_run_t *b = arg;
  char *body2 = NULL;
  size_t len2;

  b->got = raw_fetch(b->rj, "GET", &b->body, &b->len);
  if (b->bc->reuse) {
    b->got2 = raw_fetch(b->rj, "GET", &body2, &len2);
    free(body2);
  }
  return NULL;
}

Test(client, bad_responses_are_errors_never_hangs_or_misframed_reuse, .timeout = 120) {
  corio_rt_t *rt;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const bad_case_t *bc = &bad_cases[i];
    raw_t r = {.answer = bc->answer, .answer_len = bc->answer ? strlen(bc->answer) : 0,
               .close_after = bc->close_after, .never = bc->never};
    raw_job_t rj = {&r, NULL, NULL, 0, NULL, 0};
    bad_run_t b = {&rj, bc, 0, 0, NULL, 0};
    corio_task_t *t;

    if (bc->split_after != NULL)
      r.split = (size_t)(strstr(bc->answer, bc->split_after) - bc->answer) +
                strlen(bc->split_after);
    cr_assert_eq(corio_spawn(rt, raw_run, &rj, &t), 0);
    cr_assert_eq(corio_join(t, NULL), 0);
    cr_assert_eq(corio_spawn(rt, bad_fetch, &b, &t), 0);
    cr_assert_eq(corio_join(t, NULL), 0);
    cr_assert_eq(b.got, bc->want, "%s: got %d (%s)", bc->name, b.got,
                 b.got < 0 ? uv_strerror(b.got) : "a status");
    if (bc->want_body != NULL)
      cr_assert_str_eq(b.body, bc->want_body, "%s", bc->name);
    else
      cr_assert_null(b.body, "%s", bc->name);
    free(b.body);
    if (bc->reuse) {
      cr_assert_eq(b.got2, bc->want, "%s: the second exchange", bc->name);
      cr_assert_eq(atomic_load(&r.conns), 1, "%s: not reused", bc->name);
    }
    cr_assert_eq(corio_spawn(rt, raw_stop, &rj, &t), 0);
    cr_assert_eq(corio_join(t, NULL), 0);
  }
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* A server that sent more than it declared is never read again, and one
 * that closes each connection after an answer (without saying so) costs
 * the next exchange nothing. */
static void *no_reuse_after_extra(void *arg) {
  raw_job_t *rj = arg;
  char *body;
  size_t len;

  for (int i = 0; i < 3; i++) {
    cr_assert_eq(raw_fetch(rj, "GET", &body, &len), 200);
    cr_assert_str_eq(body, "abc");
    free(body);
  }
  cr_assert_eq(atomic_load(&rj->r->conns), 3, "a connection with extra bytes was reused");
  return NULL;
}

static void *closed_while_pooled(void *arg) {
  raw_job_t *rj = arg;
  char *body;
  size_t len;

  for (int i = 0; i < 3; i++) {
    cr_assert_eq(raw_fetch(rj, "GET", &body, &len), 200, "round %d", i);
    cr_assert_str_eq(body, "ok");
    free(body);
    corio_sleep(50); /* the server's close arrives meanwhile */
  }
  return NULL;
}

/* body runs in a task against a raw server that behaves as r says. */
static void raw_with(raw_t *r, void *(*body)(void *)) {
  corio_rt_t *rt;
  raw_job_t rj = {r, NULL, NULL, 0, NULL, 0};
  corio_task_t *t;

  if (r->answer != NULL)
    r->answer_len = strlen(r->answer);

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, raw_run, &rj, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_spawn(rt, body, &rj, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_spawn(rt, raw_stop, &rj, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

static void raw_scenario(const char *answer, int close_after, void *(*body)(void *)) {
  raw_t r = {.answer = answer, .close_after = close_after};

  raw_with(&r, body);
}

Test(client, pooled_connections_are_reused_only_when_clean, .timeout = 60) {
  raw_scenario("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA", 0,
               no_reuse_after_extra);
  raw_scenario("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1, closed_while_pooled);
}

/* Expect: 100-continue: the body waits for the 100; a server that
 * answers at once gets no body and its answer is read. */
static void *expect_continue(void *arg) {
  job_t *j = arg;
  corio_http_header_t h[] = {{"Expect", "100-continue"}};
  corio_http_call_t *call;
  char u[128], got[64];
  ssize_t n;

  url(u, sizeof u, j->port, "/len");
  cr_assert_eq(corio_http_call_start(j->cl, "PUT", u, h, 1, 4, BOUND(), &call), 0);
  cr_assert_eq(corio_http_call_write(call, "abcd", 4), 4);
  cr_assert_eq(corio_http_call_response(call), 200);
  n = corio_http_call_read(call, got, sizeof got - 1);
  cr_assert_gt(n, 0);
  got[n] = '\0';
  cr_assert_str_eq(got, "4 ");
  cr_assert_eq(corio_http_call_end(call), 0);
  j->ok = 1;
  return NULL;
}

Test(client, expect_continue_waits_for_the_100, .timeout = 60) {
  with_server((corio_rt_options_t){.workers = 2}, expect_continue);
}

static void *early_answer(void *arg) {
  raw_job_t *rj = arg;
  corio_http_header_t h[] = {{"Expect", "100-continue"}};
  corio_http_call_t *call;
  char u[128], got[64];
  ssize_t n;

  url(u, sizeof u, rj->port, "/");
  cr_assert_eq(corio_http_call_start(rj->cl, "PUT", u, h, 1, 4, BOUND(), &call), 0);
  cr_assert_eq(corio_http_call_write(call, "abcd", 4), UV_EALREADY);
  cr_assert_eq(corio_http_call_response(call), 413);
  n = corio_http_call_read(call, got, sizeof got - 1);
  cr_assert_eq(n, 7);
  cr_assert_eq(corio_http_call_read(call, got, sizeof got - 1), 0);
  cr_assert_eq(corio_http_call_end(call), 0);
  return NULL;
}

static void *early_empty_answer(void *arg) {
  raw_job_t *rj = arg;
  corio_http_header_t h[] = {{"Expect", "100-continue"}};
  corio_http_call_t *call;
  char u[128], got[8];

  url(u, sizeof u, rj->port, "/");
  cr_assert_eq(corio_http_call_start(rj->cl, "PUT", u, h, 1, 4, BOUND(), &call), 0);
  cr_assert_eq(corio_http_call_write(call, "abcd", 4), UV_EALREADY);
  cr_assert_eq(corio_http_call_response(call), atoi(rj->r->answer + 9));
  cr_assert_eq(corio_http_call_read(call, got, sizeof got), 0, "no body to wait for");
  cr_assert_eq(corio_http_call_end(call), 0);
  return NULL;
}

Test(client, a_final_answer_before_the_body_is_read_and_the_body_not_sent, .timeout = 60) {
  raw_scenario("HTTP/1.1 413 Content Too Large\r\nContent-Length: 7\r\n\r\ntoo big", 0,
               early_answer);
  raw_scenario("HTTP/1.1 204 No Content\r\n\r\n", 0, early_empty_answer);
  raw_scenario("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 0,
               early_empty_answer);
}

/* A server that answers at once and closes without reading the body:
 * the writer's error (EPIPE, ECONNRESET) does not hide the answer. */
static void *answered_then_closed(void *arg) {
  raw_job_t *rj = arg;
  enum { BIG = 64 << 20, STEP = 1 << 16 };
  corio_http_call_t *call;
  char u[128], got[16], *out = calloc(1, STEP);
  ssize_t w = 0, n;
  size_t sent = 0;

  url(u, sizeof u, rj->port, "/");
  cr_assert_eq(corio_http_call_start(rj->cl, "PUT", u, NULL, 0, BIG, BOUND(), &call), 0);
  while (sent < BIG && (w = corio_http_call_write(call, out, STEP)) > 0)
    sent += (size_t)w;
  cr_assert_lt(w, 0, "%zu bytes went to a closed connection", sent);
  cr_assert_eq(corio_http_call_write(call, out, STEP), w, "the write error sticks");
  cr_assert_eq(corio_http_call_response(call), 403);
  n = corio_http_call_read(call, got, sizeof got);
  cr_assert_eq(n, 2);
  cr_assert_eq(memcmp(got, "no", 2), 0);
  cr_assert_eq(corio_http_call_read(call, got, sizeof got), 0);
  cr_assert_eq(corio_http_call_end(call), 0, "the exchange had its answer");
  free(out);
  return NULL;
}

/* The same through corio_http_fetch, its body in memory. */
static void *fetch_answered_then_closed(void *arg) {
  raw_job_t *rj = arg;
  size_t big = 8 << 20, len;
  char u[128], *out = calloc(1, big), *body;

  url(u, sizeof u, rj->port, "/");
  cr_assert_eq(corio_http_fetch(rj->cl, "POST", u, NULL, 0, out, big, BOUND(), &body, &len, 64),
               403);
  cr_assert_str_eq(body, "no");
  free(body);
  free(out);
  return NULL;
}

Test(client, a_write_error_does_not_hide_the_answer, .timeout = 60) {
  raw_scenario("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
               1, answered_then_closed);
  raw_scenario("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
               1, fetch_answered_then_closed);
}

/* Full duplex, the writer cancelled mid-body against a server that reads
 * nothing: the reader's head timeout counts from the failed write, not
 * until the call's deadline. */
typedef struct stalled {
  corio_http_call_t *call;
  int wrote;
} stalled_t;

static void *stalled_writer(void *arg) {
  stalled_t *s = arg;
  char *piece = calloc(1, 1 << 16);
  ssize_t w;

  while ((w = corio_http_call_write(s->call, piece, 1 << 16)) > 0) {
  }
  s->wrote = (int)w;
  free(piece);
  return NULL;
}

static void *writer_cancelled(void *arg) {
  raw_job_t *rj = arg;
  stalled_t s = {0};
  corio_task_t *writer;
  char u[128];
  uint64_t t0;

  url(u, sizeof u, rj->port, "/");
  cr_assert_eq(corio_http_call_start(rj->cl, "PUT", u, NULL, 0, CORIO_HTTP_BODY_CHUNKED,
                                     corio_now() + 20000, &s.call), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), stalled_writer, &s, &writer), 0);
  corio_sleep(100); /* the kernel's buffers fill; the writer waits */
  cr_assert_eq(corio_cancel(writer), 0);
  corio_join(writer, NULL);
  cr_assert_eq(s.wrote, UV_ECANCELED);
  t0 = corio_now();
  cr_assert_eq(corio_http_call_head(s.call), UV_ETIMEDOUT);
  cr_assert_lt(corio_now() - t0, 5000, "waited for the call's deadline");
  corio_http_call_end(s.call);
  return NULL;
}

Test(client, a_cancelled_writer_leaves_the_reader_its_head_timeout, .timeout = 60) {
  raw_t r = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", .stall = 1};

  raw_with(&r, writer_cancelled);
}

/* A retry on a fresh connection gets a whole head timeout of its own. */
static void *retry_late(void *arg) {
  raw_job_t *rj = arg;
  corio_http_client_options_t o = {.head_timeout_ms = 400};
  corio_http_client_t *cl;
  char u[128], *body;
  size_t len;

  cr_assert_eq(corio_http_client_new(&o, &cl), 0);
  url(u, sizeof u, rj->port, "/");
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(corio_http_fetch(cl, "GET", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 64), 200,
                 "round %d", i);
    free(body);
  }
  cr_assert_eq(atomic_load(&rj->r->conns), 2, "the second went on a fresh connection");
  cr_assert_eq(corio_http_client_free(cl), 0);
  return NULL;
}

Test(client, a_retry_has_its_own_head_timeout, .timeout = 60) {
  /* the pooled connection is closed 350 ms into the second exchange; the
   * fresh one answers after 100 ms: 450 ms in all, 100 ms of the retry */
  raw_t r = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", .once = 1,
             .answer_delay_ms = 100, .close_delay_ms = 350};

  raw_with(&r, retry_late);
}

/* A last chunk and trailers that fill the read buffer between them. */
static void *big_trailers(void *arg) {
  raw_job_t *rj = arg;
  char *body;
  size_t len;

  for (int i = 0; i < 2; i++) {
    cr_assert_eq(raw_fetch(rj, "GET", &body, &len), 200, "round %d", i);
    cr_assert_eq(len, 64000);
    free(body);
  }
  cr_assert_eq(atomic_load(&rj->r->conns), 1, "kept alive");
  return NULL;
}

Test(client, trailers_after_a_chunk_that_fills_the_buffer, .timeout = 60) {
  size_t cap = 80000, k;
  char *a = malloc(cap);
  raw_t r = {0};

  k = (size_t)snprintf(a, cap, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n",
                       64000);
  memset(a + k, 'x', 64000);
  k += 64000;
  k += (size_t)snprintf(a + k, cap - k, "\r\n0\r\n");
  for (int i = 0; i < 30; i++)
    k += (size_t)snprintf(a + k, cap - k, "X-Trailer-%02d: %060d\r\n", i, i);
  k += (size_t)snprintf(a + k, cap - k, "\r\n");
  r.answer = a;
  r.split = k - 1000; /* within the trailers */
  raw_with(&r, big_trailers);
  free(a);
}

/* Full duplex: the head timeout counts from the end of the request, not
 * from call_head; a body that takes longer to send than the head timeout
 * is answered. */
typedef struct slow_up {
  corio_http_call_t *call;
  int status;
} slow_up_t;

static void *slow_up_reader(void *arg) {
  slow_up_t *su = arg;

  su->status = corio_http_call_head(su->call);
  return NULL;
}

static void *slow_upload(void *arg) {
  job_t *j = arg;
  corio_http_client_options_t o = {.head_timeout_ms = 200};
  corio_http_client_t *cl;
  slow_up_t su = {0};
  corio_task_t *reader;
  char u[128], got[64];
  ssize_t n;

  cr_assert_eq(corio_http_client_new(&o, &cl), 0);
  url(u, sizeof u, j->port, "/len");
  cr_assert_eq(corio_http_call_start(cl, "PUT", u, NULL, 0, CORIO_HTTP_BODY_CHUNKED, BOUND(),
                                     &su.call), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), slow_up_reader, &su, &reader), 0);
  for (int i = 0; i < 8; i++) { /* 8 x 100 ms: four head timeouts */
    cr_assert_eq(corio_http_call_write(su.call, "0123456789", 10), 10);
    corio_sleep(100);
  }
  cr_assert_eq(corio_http_call_finish(su.call), 0);
  corio_join(reader, NULL);
  cr_assert_eq(su.status, 200, "got %d", su.status);
  n = corio_http_call_read(su.call, got, sizeof got - 1);
  cr_assert_gt(n, 0);
  got[n] = '\0';
  cr_assert_str_eq(got, "80 ");
  cr_assert_eq(corio_http_call_end(su.call), 0);
  cr_assert_eq(corio_http_client_free(cl), 0);
  j->ok = 1;
  return NULL;
}

Test(client, the_head_timeout_counts_from_the_end_of_the_request, .timeout = 60) {
  with_server((corio_rt_options_t){.workers = 2}, slow_upload);
}

/* Bodies of 4 GiB and more in one write, both ways (uv_buf_init's length
 * is an unsigned int: nothing may be cut to the low 32 bits). Zero pages
 * mapped read-only: no memory behind them. */
static void *four_gib(void *arg) {
  job_t *j = arg;
  size_t len = ((size_t)4 << 30) + 3, got = 0;
  void *zeros = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  corio_http_call_t *call;
  char u[128], *in = malloc(1 << 20), want[32];
  ssize_t n;

  cr_assert_neq(zeros, MAP_FAILED);
  url(u, sizeof u, j->port, "/len");
  cr_assert_eq(corio_http_call_start(j->cl, "PUT", u, NULL, 0, (int64_t)len, corio_now() + 100000,
                                     &call), 0);
  n = corio_http_call_write(call, zeros, len);
  cr_assert_eq(n, (ssize_t)len, "%zd %s", n, n < 0 ? uv_strerror((int)n) : "");
  cr_assert_eq(corio_http_call_response(call), 200);
  n = corio_http_call_read(call, in, 64);
  cr_assert_gt(n, 0);
  in[n] = '\0';
  snprintf(want, sizeof want, "%zu ", len);
  cr_assert_str_eq(in, want);
  cr_assert_eq(corio_http_call_end(call), 0);
  munmap(zeros, len);

  url(u, sizeof u, j->port, "/huge");
  cr_assert_eq(corio_http_call_start(j->cl, "GET", u, NULL, 0, 0, corio_now() + 100000, &call), 0);
  cr_assert_eq(corio_http_call_response(call), 200);
  while ((n = corio_http_call_read(call, in, 1 << 20)) > 0)
    got += (size_t)n;
  cr_assert_eq(n, 0, "%s", uv_strerror((int)n));
  cr_assert_eq(got, len);
  cr_assert_eq(corio_http_call_end(call), 0);
  free(in);
  j->ok = 1;
  return NULL;
}

Test(client, bodies_of_four_gib_go_whole_in_one_write, .timeout = 300) {
  if (CORIO_TEST_SLOW)
    cr_skip_test("8 GiB through loopback: too slow here");
  corio_http_server_options_t ho = {.max_body_bytes = (uint64_t)8 << 30};

  with_server_ho((corio_rt_options_t){.workers = 2}, &ho, four_gib);
}

/* A pooled connection the server closes as the request arrives: a GET
 * goes again on a fresh connection, a POST does not (it may have run). */
static void *retry_idempotent_only(void *arg) {
  raw_job_t *rj = arg;
  char u[128], *body;
  size_t len;

  url(u, sizeof u, rj->port, "/");
  cr_assert_eq(corio_http_fetch(rj->cl, "GET", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 64), 200);
  free(body);
  cr_assert_eq(corio_http_fetch(rj->cl, "GET", u, NULL, 0, NULL, 0, BOUND(), &body, &len, 64), 200,
               "a GET is sent again");
  free(body);
  cr_assert_eq(atomic_load(&rj->r->conns), 2);
  {
    int st = corio_http_fetch(rj->cl, "POST", u, NULL, 0, "x", 1, BOUND(), &body, &len, 64);
    cr_assert(st == UV_EOF || st == UV_ECONNRESET, "a POST went again: %d", st);
    cr_assert_null(body);
  }
  cr_assert_eq(atomic_load(&rj->r->conns), 2, "a POST went again");
  return NULL;
}

Test(client, only_idempotent_requests_are_sent_again, .timeout = 60) {
  raw_t r = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", .once = 1};

  raw_with(&r, retry_idempotent_only);
}

/* An idle connection past its timeout is closed at the client's next
 * call, whatever host that call is for. */
static void *second_listener(void *arg) {
  raw_job_t *rj = arg;

  return (void *)(intptr_t)corio_tcp_serve(rj->ln, raw_conn, rj->r);
}

static void *idle_expiry(void *arg) {
  raw_job_t *a = arg;
  raw_t rb = {.answer = a->r->answer, .answer_len = a->r->answer_len};
  raw_job_t b = {&rb, NULL, NULL, 0, NULL, 0};
  corio_http_client_options_t o = {.idle_timeout_ms = 100};
  corio_http_client_t *cl;
  char ua[128], ub[128], *body;
  size_t len;

  cr_assert_eq(corio_http_client_new(&o, &cl), 0);
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &b.ln), 0);
  b.port = corio_tcp_listener_port(b.ln);
  cr_assert_eq(corio_spawn(corio_current_rt(), second_listener, &b, &b.serve), 0);
  url(ua, sizeof ua, a->port, "/");
  url(ub, sizeof ub, b.port, "/");
  /* idle: A, then B in front of it; A expires, B not yet; the next call
   * takes B from the front of the pool */
  cr_assert_eq(corio_http_fetch(cl, "GET", ua, NULL, 0, NULL, 0, BOUND(), &body, &len, 64), 200);
  free(body);
  corio_sleep(60);
  cr_assert_eq(corio_http_fetch(cl, "GET", ub, NULL, 0, NULL, 0, BOUND(), &body, &len, 64), 200);
  free(body);
  corio_sleep(60);
  cr_assert_eq(corio_http_fetch(cl, "GET", ub, NULL, 0, NULL, 0, BOUND(), &body, &len, 64), 200);
  free(body);
  for (int i = 0; i < 200 && atomic_load(&a->r->closed) == 0; i++)
    corio_sleep(10);
  cr_assert_eq(atomic_load(&a->r->closed), 1, "the expired connection to A is still open");
  cr_assert_eq(corio_http_client_free(cl), 0);
  corio_tcp_listener_close(b.ln);
  corio_join(b.serve, NULL);
  raw_wait_ended(&rb);
  return NULL;
}

Test(client, idle_connections_expire_whatever_the_next_call, .timeout = 60) {
  raw_t r = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};

  raw_with(&r, idle_expiry);
}

static void *bad_calls(void *arg) {
  raw_job_t *rj = arg;
  corio_http_call_t *call = (corio_http_call_t *)(uintptr_t)1;
  corio_http_header_t bad[] = {{"X-A", "a\r\nX-B: b"}};
  char *body;
  size_t len;
  char u[128];

  (void)rj;
  cr_assert_eq(corio_http_call_start(rj->cl, "GET", "https://127.0.0.1/", NULL, 0, 0, BOUND(), &call), UV_EINVAL);
  cr_assert_null(call);
  cr_assert_eq(corio_http_call_start(rj->cl, "GET", "http://user@127.0.0.1/", NULL, 0, 0, BOUND(), &call), UV_EINVAL);
  cr_assert_eq(corio_http_call_start(rj->cl, "GET", "http://127.0.0.1:99999/", NULL, 0, 0, BOUND(), &call), UV_EINVAL);
  cr_assert_eq(corio_http_call_start(rj->cl, "GET", "http://127.0.0.1/a b", NULL, 0, 0, BOUND(), &call), UV_EINVAL);
  /* hosts that would break the Host line */
  cr_assert_eq(corio_http_call_start(rj->cl, "GET", "http://a\r\nX-B: b/", NULL, 0, 0, BOUND(), &call), UV_EINVAL);
  cr_assert_eq(corio_http_call_start(rj->cl, "GET", "http://a b/", NULL, 0, 0, BOUND(), &call), UV_EINVAL);
  cr_assert_eq(corio_http_call_start(rj->cl, "GET", "http://[::1\n]/", NULL, 0, 0, BOUND(), &call), UV_EINVAL);
  cr_assert_eq(corio_http_call_start(rj->cl, "GET", "http://[::1%lo\r]/", NULL, 0, 0, BOUND(), &call), UV_EINVAL);
  cr_assert_eq(corio_http_call_start(rj->cl, "GET", "http://[x::1]/", NULL, 0, 0, BOUND(), &call), UV_EINVAL);
  cr_assert_eq(corio_http_call_start(rj->cl, "G T", "http://127.0.0.1/", NULL, 0, 0, BOUND(), &call), UV_EINVAL);
  url(u, sizeof u, rj->port, "/");
  cr_assert_eq(corio_http_fetch(rj->cl, "GET", u, bad, 1, NULL, 0, BOUND(), &body, &len, 10), UV_EINVAL);
  cr_assert_eq(atomic_load(&rj->r->conns), 0, "a refused call connected");
  /* a declared length not all written, or exceeded */
  cr_assert_eq(corio_http_call_start(rj->cl, "PUT", u, NULL, 0, 10, BOUND(), &call), 0);
  cr_assert_eq(corio_http_call_write(call, "12345", 5), 5);
  cr_assert_eq(corio_http_call_write(call, "1234567", 7), UV_EINVAL);
  cr_assert_eq(corio_http_call_response(call), UV_EINVAL, "the body is not over yet");
  corio_http_call_end(call);
  return NULL;
}

Test(client, bad_calls_are_einval_and_connect_nowhere, .timeout = 60) {
  raw_scenario("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, bad_calls);
}

Test(client, calls_outside_a_task_are_einval) {
  corio_http_client_t *cl;
  corio_http_call_t *call;

  cr_assert_eq(corio_http_client_new(NULL, &cl), 0);
  cr_assert_eq(corio_http_call_start(cl, "GET", "http://127.0.0.1:1/", NULL, 0, 0, 0, &call), UV_EINVAL);
  cr_assert_eq(corio_http_client_free(cl), UV_EINVAL);
  free(cl); /* nothing open: what client_free would have done in a task */
}

/* A chunked upload in pieces larger than the server's buffer, of odd
 * sizes, arrives whole (/len counts it). */
static void *upload_pieces(void *arg) {
  job_t *j = arg;
  size_t piece = 70001;
  uint64_t total = 0;
  corio_http_call_t *call;
  char u[128], got[64], *out = calloc(1, piece);
  ssize_t n;

  url(u, sizeof u, j->port, "/len");
  cr_assert_eq(corio_http_call_start(j->cl, "POST", u, NULL, 0, CORIO_HTTP_BODY_CHUNKED,
                                     corio_now() + 60000, &call), 0);
  for (int i = 0; i < 300; i++) {
    size_t k = piece - (size_t)(i % 5) * 1000;
    cr_assert_eq(corio_http_call_write(call, out, k), (ssize_t)k);
    total += k;
  }
  cr_assert_eq(corio_http_call_response(call), 200);
  n = corio_http_call_read(call, got, sizeof got - 1);
  cr_assert_gt(n, 0);
  got[n] = '\0';
  cr_assert_eq(strtoull(got, NULL, 10), total, "the server counted %s of %llu", got,
               (unsigned long long)total);
  corio_http_call_end(call);
  free(out);
  j->ok = 1;
  return NULL;
}

Test(client, a_chunked_upload_in_big_pieces_arrives_whole, .timeout = 60) {
  with_server((corio_rt_options_t){.workers = 2}, upload_pieces);
  with_server((corio_rt_options_t){.loop_only = 1}, upload_pieces);
}

/* A call waiting for an answer that never comes ends at a cancel. */
typedef struct cancelled {
  raw_job_t *rj;
  corio_http_client_t *cl;      /* with a head timeout far off */
  int got;
} cancelled_t;

static void *fetch_forever(void *arg) {
  cancelled_t *c = arg;
  char *body;
  size_t len;
  char u[128];

  url(u, sizeof u, c->rj->port, "/");
  c->got = corio_http_fetch(c->cl, "GET", u, NULL, 0, NULL, 0, UINT64_MAX, &body, &len, 10);
  return NULL;
}

static void *cancel_a_call(void *arg) {
  raw_job_t *rj = arg;
  corio_http_client_options_t o = {.head_timeout_ms = 600000};
  cancelled_t c = {rj, NULL, 0};
  corio_task_t *t;

  cr_assert_eq(corio_http_client_new(&o, &c.cl), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), fetch_forever, &c, &t), 0);
  while (atomic_load(&rj->r->conns) == 0)
    corio_sleep(1);
  corio_sleep(50); /* the request is out; the call waits for the head */
  cr_assert_eq(corio_cancel(t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(c.got, UV_ECANCELED, "got %d", c.got);
  cr_assert_eq(corio_http_client_free(c.cl), 0);
  return NULL;
}

Test(client, a_call_ends_at_a_cancel, .timeout = 60) {
  raw_t r = {.never = 1};

  raw_with(&r, cancel_a_call);
}
