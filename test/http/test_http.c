/* The HTTP server: parsing at every split, protocol errors, bodies both
 * ways, 100-continue, limits, timeouts, vanishing clients, memory under a
 * big upload, many keep-alive clients. Clients are tasks writing raw
 * bytes through corio's TCP calls. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corio.h"
#include "../support/sizes.h"
#include "http_fixture.h"
#include "http/http.h" /* white-box: the idle-memory test at the end */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

/* --- the handler ------------------------------------------------------------ */

/* /hold (the shutdown tests): the handler says it has begun, waits until
 * the test releases it (0) or its task is cancelled (UV_ECANCELED), keeps
 * which, answers 200 if released, and says it has ended. */
static _Atomic(int) hold_begun, hold_ended, hold_result;
static corio_sem_t hold_release;

static int hold(corio_http_res_t *res) {
  int err;

  atomic_fetch_add(&hold_begun, 1);
  err = corio_sem_acquire(&hold_release);
  atomic_store(&hold_result, err);
  if (err == 0)
    corio_http_respond(res, 200, NULL, "held", 4);
  atomic_store(&hold_ended, 1);
  return err != 0;
}

/* Routes: /describe answers with a canonical description of the request
 * (so split and unsplit sends can be compared); /up/NAME and /down/NAME
 * store and serve files; /sink reads the body and answers its size;
 * /ignore answers without reading the body; /slow sleeps 300 ms; /hold
 * waits for the test; /count reads the body, then answers what the
 * header calls say. */
static corio_http_req_t *lent_req;
static corio_http_res_t *lent_res;
static corio_sem_t lent_out, lent_back;

static int handler(corio_http_req_t *req, corio_http_res_t *res, void *arg) {
  corio_http_str_t m = corio_http_method(req), path = corio_http_path(req);
  char out[8192], body[4096], file[256];
  size_t k = 0, i;
  ssize_t n;

  (void)arg;
  if (is(path, "/describe")) {
    corio_http_str_t name, value;
    k += (size_t)snprintf(out + k, sizeof out - k, "%.*s %.*s q=%.*s v=%d\n",
                          (int)m.len, m.p, (int)corio_http_target(req).len,
                          corio_http_target(req).p, (int)corio_http_query(req).len,
                          corio_http_query(req).p, corio_http_version(req));
    for (i = 0; corio_http_header_at(req, i, &name, &value) == 0; i++)
      k += (size_t)snprintf(out + k, sizeof out - k, "[%.*s]=[%.*s]\n", (int)name.len,
                            name.p, (int)value.len, value.p);
    while ((n = corio_http_body_read(req, body, sizeof body)) > 0 &&
           k + (size_t)n < sizeof out) {
      memcpy(out + k, body, (size_t)n);
      k += (size_t)n;
    }
    if (n < 0)
      return 1;
    return corio_http_respond(res, 200, NULL, out, k);
  }
  if (path.len > 4 && memcmp(path.p, "/up/", 4) == 0) {
    uint64_t bytes = 0;
    int err;
    snprintf(file, sizeof file, "%s/%.*s", updir, (int)path.len - 4, path.p + 4);
    err = corio_http_body_to_file(req, file, &bytes);
    if (err == UV_E2BIG)
      return corio_http_respond(res, 413, NULL, "too big", 7), 1;
    if (err != 0)
      return 1;
    k = (size_t)snprintf(out, sizeof out, "%llu", (unsigned long long)bytes);
    return corio_http_respond(res, 201, NULL, out, k);
  }
  if (path.len > 6 && memcmp(path.p, "/down/", 6) == 0) {
    snprintf(file, sizeof file, "%s/%.*s", updir, (int)path.len - 6, path.p + 6);
    if (corio_http_send_file(res, file, NULL) == UV_ENOENT)
      return corio_http_respond(res, 404, NULL, NULL, 0);
    return 0;
  }
  if (is(path, "/sink")) {
    uint64_t total = 0;
    while ((n = corio_http_body_read(req, body, sizeof body)) > 0)
      total += (uint64_t)n;
    if (n < 0)
      return 1;
    k = (size_t)snprintf(out, sizeof out, "%llu", (unsigned long long)total);
    return corio_http_respond(res, 200, NULL, out, k);
  }
  if (is(path, "/ignore"))
    return corio_http_respond(res, 200, NULL, "ignored", 7);
  if (is(path, "/slow")) {
    corio_sleep(300);
    return corio_http_respond(res, 200, NULL, "slow", 4);
  }
  if (is(path, "/hold"))
    return hold(res);
  if (is(path, "/count")) {
    corio_http_str_t name = {NULL, 0};
    size_t count;
    int past, nulls;
    if (corio_http_body_discard(req) != 0)
      return 1;
    count = corio_http_header_count(req);
    past = corio_http_header_at(req, count, &name, NULL);
    nulls = corio_http_header_at(req, 0, NULL, NULL);
    k = (size_t)snprintf(out, sizeof out, "count=%zu past=%s nulls=%d", count,
                         past == UV_EOF ? "eof" : "?", nulls);
    return corio_http_respond(res, 200, NULL, out, k);
  }
  if (is(path, "/lend")) { /* hand req and res to a plain thread, then go on */
    lent_req = req;
    lent_res = res;
    corio_sem_release(&lent_out, 1);
    if (corio_sem_acquire_dl(&lent_back, corio_now() + 15000) != 0)
      return 1;
    n = corio_http_body_read(req, body, sizeof body);
    k = (size_t)snprintf(out, sizeof out, "read=%zd", n);
    return corio_http_respond(res, 200, NULL, out, k);
  }
  if (is(path, "/length")) { /* what content_length and res_write say */
    uint64_t len = 12345;
    int cl = corio_http_content_length(req, &len);
    ssize_t w1, w2;
    if (corio_http_body_discard(req) != 0)
      return 1;
    k = (size_t)snprintf(out, sizeof out, "cl=%d len=%llu", cl,
                         (unsigned long long)len);
    corio_http_res_start(res, 200, NULL, -1);
    w1 = corio_http_res_write(res, out, k);
    w2 = corio_http_res_write(res, " w=", 3);
    k = (size_t)snprintf(out, sizeof out, "%zd,%zd", w1, w2);
    corio_http_res_write(res, out, k);
    return corio_http_res_end(res);
  }
  if (is(path, "/chunky")) { /* a streamed response without a length */
    corio_http_res_start(res, 200, NULL, -1);
    corio_http_res_write(res, "hello ", 6);
    corio_http_res_write(res, "world", 5);
    return corio_http_res_end(res);
  }
  return corio_http_respond(res, 404, NULL, NULL, 0);
}

/* --- the raw client (http_fixture.h), with 15 s bounds ---------------------------- */

#define BOUND() (corio_now() + 15000)

static int at_eof(client_t *cl) {
  return cl->len == 0 && client_more(cl, BOUND()) == UV_EOF;
}

/* Send raw bytes, read one reply, and say whether the server closed. */
typedef struct exchange {
  int port;
  const char *request;
  size_t len;
  reply_t reply;
  int err, closed;
} exchange_t;

static void *exchange(void *arg) {
  exchange_t *x = arg;
  client_t *cl = malloc(sizeof *cl);

  if ((x->err = client_open(cl, x->port)) != 0)
    goto out;
  if ((x->err = (int)corio_write(cl->c, x->request, x->len)) < 0)
    goto close;
  x->err = read_reply(cl, &x->reply, strncmp(x->request, "HEAD ", 5) == 0, BOUND());
  /* said so, and did so */
  if (x->err == 0 && strcasestr(x->reply.head, "\r\nConnection: close\r\n") != NULL)
    x->closed = at_eof(cl);
close:
  corio_close(cl->c);
out:
  free(cl);
  return NULL;
}

static int status_of(fixture_t *f, const char *request, int *closed) {
  exchange_t x = {.port = f->port, .request = request, .len = strlen(request)};

  in_task(f, exchange, &x);
  cr_assert_eq(x.err, 0, "%s: %s", request, uv_strerror(x.err));
  free(x.reply.body);
  if (closed != NULL)
    *closed = x.closed;
  return x.reply.status;
}

/* --- pipelining split at every byte ------------------------------------- */

static const char pipeline[] =
    "GET /describe?a=1&b=2 HTTP/1.1\r\nHost: example.com\r\nX-One: 1\r\n\r\n"
    "POST /describe HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n"
    "X-Mixed-Case:  spaced value  \r\n\r\nhello world"
    "POST /describe HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nchunk\r\n1;ext=1\r\n!\r\n0\r\nTrailer: t\r\n\r\n"
    "GET /describe HTTP/1.0\r\n\r\n";

typedef struct split {
  int port;
  size_t at;
  char *got;
  size_t got_len;
  int err;
} split_t;

/* Send the pipeline in two writes split at `at` (0: one write), read
 * until the server closes (the last request is HTTP/1.0). */
static void *send_split(void *arg) {
  split_t *s = arg;
  size_t len = sizeof pipeline - 1, cap = 1 << 16;
  corio_tcp_t *c;
  ssize_t n;

  s->got = malloc(cap);
  s->got_len = 0;
  if ((s->err = corio_tcp_connect_dl("127.0.0.1", s->port, &c, corio_now() + 10000)) != 0)
    return NULL;
  if (s->at > 0) {
    corio_write(c, pipeline, s->at);
    corio_sleep(1); /* let the server read the first part alone */
  }
  corio_write(c, pipeline + s->at, len - s->at);
  while ((n = corio_read_dl(c, s->got + s->got_len, cap - s->got_len,
                            corio_now() + 10000)) > 0)
    s->got_len += (size_t)n;
  s->err = n == UV_EOF ? 0 : (int)n;
  corio_close(c);
  return NULL;
}

/* Responses minus their Date lines (the second may tick between runs). */
static size_t strip_dates(char *s, size_t len) {
  char *p;

  while ((p = memmem(s, len, "Date: ", 6)) != NULL) {
    char *e = memmem(p, len - (size_t)(p - s), "\r\n", 2);
    size_t cut = (size_t)(e - p) + 2;
    memmove(p, p + cut, len - (size_t)(p - s) - cut);
    len -= cut;
  }
  return len;
}

Test(http, pipelined_requests_split_at_every_byte_parse_the_same, .timeout = 240) {
  fixture_t f;
  split_t whole = {0};
  size_t at, len = sizeof pipeline - 1, step = CORIO_TEST_SLOW ? 7 : 1;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  whole.port = f.port;
  in_task(&f, send_split, &whole);
  cr_assert_eq(whole.err, 0);
  whole.got_len = strip_dates(whole.got, whole.got_len);
  /* four answers, the last one closing */
  cr_assert(memmem(whole.got, whole.got_len, "GET /describe?a=1&b=2 q=a=1&b=2 v=11", 36));
  cr_assert(memmem(whole.got, whole.got_len, "[X-Mixed-Case]=[spaced value]\nhello world", 41));
  cr_assert(memmem(whole.got, whole.got_len, "[Transfer-Encoding]=[chunked]\nchunk!", 36));
  cr_assert(memmem(whole.got, whole.got_len, "GET /describe q= v=10", 21));
  cr_assert(memmem(whole.got, whole.got_len, "Connection: close", 17));
  for (at = 1; at < len; at += step) {
    split_t s = {.port = f.port, .at = at};
    in_task(&f, send_split, &s);
    cr_assert_eq(s.err, 0, "split at %zu: %s", at, uv_strerror(s.err));
    s.got_len = strip_dates(s.got, s.got_len);
    cr_assert_eq(s.got_len, whole.got_len, "split at %zu: %zu bytes, not %zu", at,
                 s.got_len, whole.got_len);
    cr_assert_eq(memcmp(s.got, whole.got, s.got_len), 0, "split at %zu differs", at);
    free(s.got);
  }
  free(whole.got);
  fixture_stop(&f);
}

/* --- protocol errors ------------------------------------------------------ */

Test(http, protocol_errors_are_answered_by_the_server_and_close) {
  static const struct {
    const char *request;
    int status;
  } cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n\r\n", 400},                               /* no Host */
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
       "Transfer-Encoding: chunked\r\n\r\n", 400},
      {"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
      {"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n", 400},
      {"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413},
      {"POST /sink HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n", 417},
      {"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501},
      {"POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"GET / HTTP/3.5\r\nHost: x\r\n\r\n", 505},
  };
  fixture_t f;
  size_t i;
  int closed;

  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.max_body_bytes = 1 << 20});
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_expect_eq(status_of(&f, cases[i].request, &closed), cases[i].status,
                 "case %zu: %s", i, cases[i].request);
    cr_expect(closed, "case %zu: connection left open", i);
  }
  fixture_stop(&f);
}

static void *bad_chunks(void *arg) {
  fixture_t *f = arg;
  exchange_t x = {.port = f->port};

  x.request = "POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              "zz\r\nabc\r\n";
  x.len = strlen(x.request);
  exchange(&x);
  cr_assert_eq(x.err, 0);
  cr_assert_eq(x.reply.status, 400); /* the handler gave up: the server answers */
  free(x.reply.body);
  return NULL;
}

Test(http, long_targets_big_heads_and_bad_chunks) {
  fixture_t f;
  char *req = malloc(20000);
  int closed, i, k;

  fixture_start(&f, (corio_rt_options_t){.loop_only = 1}, NULL);
  /* a 9 KiB target: 414 */
  k = sprintf(req, "GET /");
  memset(req + k, 'a', 9000);
  strcpy(req + k + 9000, " HTTP/1.1\r\nHost: x\r\n\r\n");
  k = status_of(&f, req, &closed);
  cr_assert_eq(k, 414, "long target: %d", k);
  cr_assert(closed);
  /* 9 KiB of headers: 431 */
  k = sprintf(req, "GET / HTTP/1.1\r\nHost: x\r\n");
  for (i = 0; i < 90; i++)
    k += sprintf(req + k, "X-Filler-%03d: %090d\r\n", i, 0);
  strcpy(req + k, "\r\n");
  cr_assert_eq(status_of(&f, req, &closed), 431);
  cr_assert(closed);
  /* more than 100 header lines, though small: 431 */
  k = sprintf(req, "GET / HTTP/1.1\r\nHost: x\r\n");
  for (i = 0; i < 120; i++)
    k += sprintf(req + k, "X%d: y\r\n", i);
  strcpy(req + k, "\r\n");
  cr_assert_eq(status_of(&f, req, &closed), 431);
  in_task(&f, bad_chunks, &f);
  /* and the server still serves */
  cr_assert_eq(status_of(&f, "GET /describe HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 200);
  free(req);
  fixture_stop(&f);
}

/* --- bodies both ways ------------------------------------------------------ */

typedef struct roundtrip {
  int port;
  size_t size;
  int chunked;
  uint64_t seed;
  int err;
  int up_status, down_status;
  int same;
} roundtrip_t;

static void fill(uint64_t seed, char *p, size_t n) {
  uint64_t x = seed * 0x9e3779b97f4a7c15u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = (char)x;
  }
}

static void *upload_download(void *arg) {
  roundtrip_t *rt = arg;
  char *data = malloc(rt->size), head[256], frame[32];
  client_t *cl = malloc(sizeof *cl);
  reply_t r;
  size_t off;
  int k;

  fill(rt->seed, data, rt->size);
  if ((rt->err = client_open(cl, rt->port)) != 0)
    goto out;
  if (rt->chunked)
    k = snprintf(head, sizeof head, "PUT /up/f%llu HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n", (unsigned long long)rt->seed);
  else
    k = snprintf(head, sizeof head, "PUT /up/f%llu HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: %zu\r\n\r\n", (unsigned long long)rt->seed, rt->size);
  corio_write(cl->c, head, (size_t)k);
  for (off = 0; off < rt->size;) {
    size_t n = rt->size - off < 10007 ? rt->size - off : 10007;
    if (rt->chunked) {
      k = snprintf(frame, sizeof frame, "%zx\r\n", n);
      corio_write(cl->c, frame, (size_t)k);
    }
    corio_write(cl->c, data + off, n);
    if (rt->chunked)
      corio_write(cl->c, "\r\n", 2);
    off += n;
  }
  if (rt->chunked)
    corio_write(cl->c, "0\r\n\r\n", 5);
  if ((rt->err = read_reply(cl, &r, 0, BOUND())) != 0)
    goto close;
  rt->up_status = r.status;
  free(r.body);
  k = snprintf(head, sizeof head, "GET /down/f%llu HTTP/1.1\r\nHost: x\r\n\r\n",
               (unsigned long long)rt->seed);
  corio_write(cl->c, head, (size_t)k);
  if ((rt->err = read_reply(cl, &r, 0, BOUND())) != 0)
    goto close;
  rt->down_status = r.status;
  rt->same = r.body_len == rt->size && memcmp(r.body, data, rt->size) == 0;
  free(r.body);
close:
  corio_close(cl->c);
out:
  free(cl);
  free(data);
  return NULL;
}

Test(http, uploads_and_downloads_keep_every_byte, .timeout = 120) {
  fixture_t f;
  roundtrip_t rt[4] = {
      {.size = 3 << 20, .chunked = 0, .seed = 1},
      {.size = 3 << 20, .chunked = 1, .seed = 2},
      {.size = 1, .chunked = 1, .seed = 3},
      {.size = 65536 * 2 + 17, .chunked = 0, .seed = 4},
  };
  corio_task_t *t[4];
  int i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  for (i = 0; i < 4; i++) {
    rt[i].port = f.port;
    cr_assert_eq(corio_spawn(f.rt, upload_download, &rt[i], &t[i]), 0);
  }
  for (i = 0; i < 4; i++) {
    corio_join(t[i], NULL);
    cr_assert_eq(rt[i].err, 0, "%d: %s", i, uv_strerror(rt[i].err));
    cr_assert_eq(rt[i].up_status, 201);
    cr_assert_eq(rt[i].down_status, 200);
    cr_assert(rt[i].same, "%d: downloaded bytes differ", i);
  }
  fixture_stop(&f);
}

/* --- 100-continue ------------------------------------------------------------ */

typedef struct cont {
  int port;
  const char *head;
  int saw_continue, status;
  int err;
} cont_t;

static void *expect_continue(void *arg) {
  cont_t *x = arg;
  client_t *cl = malloc(sizeof *cl);
  reply_t r;

  if ((x->err = client_open(cl, x->port)) != 0)
    goto out;
  corio_write(cl->c, x->head, strlen(x->head));
  if ((x->err = read_reply(cl, &r, 0, BOUND())) != 0)
    goto close;
  if (r.status == 100) {
    x->saw_continue = 1;
    corio_write(cl->c, "hello", 5);
    free(r.body);
    if ((x->err = read_reply(cl, &r, 0, BOUND())) != 0)
      goto close;
  }
  x->status = r.status;
  free(r.body);
close:
  corio_close(cl->c);
out:
  free(cl);
  return NULL;
}

Test(http, expect_100_continue_before_the_body_and_not_when_rejected) {
  fixture_t f;
  cont_t ok = {.head = "PUT /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                       "Expect: 100-continue\r\n\r\n"};
  cont_t big = {.head = "PUT /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n"
                        "Expect: 100-continue\r\n\r\n"};
  cont_t ignored = {.head = "PUT /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                            "Expect: 100-continue\r\n\r\n"};

  fixture_start(&f, (corio_rt_options_t){.workers = 1},
                &(corio_http_server_options_t){.max_body_bytes = 1 << 20});
  ok.port = big.port = ignored.port = f.port;
  in_task(&f, expect_continue, &ok);
  cr_assert_eq(ok.err, 0);
  cr_assert(ok.saw_continue);
  cr_assert_eq(ok.status, 200);
  in_task(&f, expect_continue, &big);
  cr_assert_eq(big.err, 0);
  cr_assert_not(big.saw_continue);
  cr_assert_eq(big.status, 413);
  in_task(&f, expect_continue, &ignored);
  cr_assert_not(ignored.saw_continue); /* answered without reading */
  cr_assert_eq(ignored.status, 200);
  fixture_stop(&f);
}

/* --- limits and timeouts ---------------------------------------------------- */

typedef struct idle {
  int port;
  const char *send;
  int status;
  uint64_t waited_ms;
  int closed;
} idle_t;

static void *idle_client(void *arg) {
  idle_t *x = arg;
  client_t *cl = malloc(sizeof *cl);
  uint64_t t0;
  reply_t r;

  /* Before the connect: the server's timer starts once it has accepted,
   * which may come before this task hears its connect completed. */
  t0 = corio_now();
  if (client_open(cl, x->port) != 0)
    goto out;
  if (x->send[0] != '\0')
    corio_write(cl->c, x->send, strlen(x->send));
  if (read_reply(cl, &r, 0, BOUND()) == 0) {
    x->status = r.status;
    free(r.body);
    x->closed = at_eof(cl);
  } else {
    x->closed = 1; /* closed without an answer */
  }
  x->waited_ms = corio_now() - t0;
  corio_close(cl->c);
out:
  free(cl);
  return NULL;
}

Test(http, header_and_idle_timeouts_close_connections) {
  fixture_t f;
  idle_t partial = {.send = "GET / HTTP/1.1\r\nHost"};
  idle_t silent = {.send = ""};

  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.header_timeout_ms = 150, .idle_timeout_ms = 250});
  partial.port = silent.port = f.port;
  in_task(&f, idle_client, &partial);
  cr_assert_eq(partial.status, 408);
  cr_assert(partial.closed);
  cr_assert_geq(partial.waited_ms, 149);
  in_task(&f, idle_client, &silent);
  cr_assert_eq(silent.status, 0); /* idle: closed without a word */
  cr_assert(silent.closed);
  cr_assert_geq(silent.waited_ms, 249);
  fixture_stop(&f);
}

typedef struct crowd {
  int port, requests;
  _Atomic(int) answered, refused;
  corio_wg_t hold;
} crowd_t;

static void *keep_alive_client(void *arg) {
  crowd_t *cr = arg;
  client_t *cl = malloc(sizeof *cl);
  static const char get[] = "GET /describe HTTP/1.1\r\nHost: x\r\n\r\n";
  reply_t r;
  int i;

  if (client_open(cl, cr->port) != 0)
    goto out;
  for (i = 0; i < cr->requests; i++) {
    corio_write(cl->c, get, sizeof get - 1);
    if (read_reply(cl, &r, 0, BOUND()) != 0)
      break;
    if (r.status == 200)
      atomic_fetch_add(&cr->answered, 1);
    else if (r.status == 503)
      atomic_fetch_add(&cr->refused, 1);
    free(r.body);
    if (i == 0) { /* every connection open at once */
      corio_wg_done(&cr->hold);
      corio_wg_wait(&cr->hold);
    }
  }
  corio_close(cl->c);
out:
  free(cl);
  return NULL;
}

static void run_crowd(fixture_t *f, crowd_t *cr, int n) {
  corio_task_t **t = calloc((size_t)n, sizeof *t);
  int i;

  cr->port = f->port;
  corio_wg_add(&cr->hold, n);
  for (i = 0; i < n; i++)
    cr_assert_eq(corio_spawn(f->rt, keep_alive_client, cr, &t[i]), 0);
  for (i = 0; i < n; i++)
    corio_join(t[i], NULL);
  free(t);
}

Test(http, a_thousand_keep_alive_clients_are_all_answered, .timeout = 120) {
  struct rlimit rl;
  fixture_t f;
  crowd_t cr = {.requests = 3};
  int n = CORIO_TEST_UNDER_TSAN ? 300 : 1000;

  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  run_crowd(&f, &cr, n);
  cr_assert_eq(atomic_load(&cr.answered), n * cr.requests);
  fixture_stop(&f);
}

Test(http, connections_over_the_limit_get_503) {
  fixture_t f;
  crowd_t cr = {.requests = 1};

  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.max_connections = 10});
  run_crowd(&f, &cr, 30);
  cr_assert_eq(atomic_load(&cr.answered) + atomic_load(&cr.refused), 30);
  cr_assert_geq(atomic_load(&cr.refused), 1);
  cr_assert_geq(atomic_load(&cr.answered), 10);
  fixture_stop(&f);
}

/* --- a client vanishing mid-upload ------------------------------------------- */

static void *vanish(void *arg) {
  fixture_t *f = arg;
  static const char head[] = "PUT /up/gone HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
  static char half[300000];
  corio_tcp_t *c;

  cr_assert_eq(corio_tcp_connect("127.0.0.1", f->port, &c), 0);
  corio_write(c, head, sizeof head - 1);
  corio_write(c, half, sizeof half);
  corio_sleep(50);
  corio_close(c); /* gone, 700,000 bytes short */
  return NULL;
}

Test(http, a_client_vanishing_mid_upload_leaves_no_file) {
  fixture_t f;
  char path[128];
  struct stat st;
  int i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  in_task(&f, vanish, &f);
  snprintf(path, sizeof path, "%s/gone", f.dir);
  for (i = 0; i < 200 && stat(path, &st) == 0; i++)
    usleep(10000); /* the handler notices and removes it */
  cr_assert_neq(stat(path, &st), 0, "the partial upload was left behind");
  cr_assert_eq(status_of(&f, "GET /describe HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 200);
  fixture_stop(&f);
}

/* --- streamed responses ------------------------------------------------------- */

static char *reply_to(fixture_t *f, const char *request) {
  exchange_t x = {.port = f->port, .request = request, .len = strlen(request)};
  char *body;

  in_task(f, exchange, &x);
  cr_assert_eq(x.err, 0);
  body = strndup(x.reply.body, x.reply.body_len);
  free(x.reply.body);
  return body;
}

/* The response and body calls must come from a task (the handler's):
 * elsewhere UV_EINVAL, with nothing sent or recorded, and the handler
 * goes on as if nothing happened. */
static void *asks_lend(void *arg) {
  fixture_t *f = arg;

  return reply_to(f, "POST /lend HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody");
}

Test(http, response_and_body_calls_outside_a_task_are_einval) {
  fixture_t f;
  corio_task_t *t;
  char buf[16], *b;

  corio_sem_init(&lent_out, 0);
  corio_sem_init(&lent_back, 0);
  fixture_start(&f, (corio_rt_options_t){.workers = 1}, NULL);
  cr_assert_eq(corio_spawn(f.rt, asks_lend, &f, &t), 0);
  while (corio_sem_tryacquire(&lent_out) != 0)
    usleep(1000);
  cr_assert_eq(corio_http_respond(lent_res, 200, NULL, "x", 1), UV_EINVAL);
  cr_assert_eq(corio_http_res_start(lent_res, 200, NULL, 1), UV_EINVAL);
  cr_assert_eq(corio_http_res_write(lent_res, "x", 1), UV_EINVAL);
  cr_assert_eq(corio_http_res_end(lent_res), UV_EINVAL);
  cr_assert_eq(corio_http_send_file(lent_res, "/etc/hostname", NULL), UV_EINVAL);
  cr_assert_eq(corio_http_body_read(lent_req, buf, sizeof buf), UV_EINVAL);
  cr_assert_eq(corio_http_body_discard(lent_req), UV_EINVAL);
  cr_assert_eq(corio_http_body_to_file(lent_req, "/tmp/corio-nope", NULL), UV_EINVAL);
  corio_sem_release(&lent_back, 1);
  cr_assert_eq(corio_join(t, (void **)&b), 0);
  cr_assert_str_eq(b, "read=4", "the body is all there, got %s", b);
  free(b);
  fixture_stop(&f);
}

/* content_length: 0 and the length, or UV_ENOENT for a chunked body (no
 * sentinel that reads as an error code); res_write: the bytes taken. */
Test(http, content_length_and_res_write_report_plainly) {
  fixture_t f;
  char *b;
  char expect[64];

  fixture_start(&f, (corio_rt_options_t){.loop_only = 1}, NULL);
  b = reply_to(&f, "POST /length HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  cr_assert_str_eq(b, "cl=0 len=5 w=10,3", "got %s", b);
  free(b);
  b = reply_to(&f, "GET /length HTTP/1.1\r\nHost: x\r\n\r\n");
  cr_assert_str_eq(b, "cl=0 len=0 w=10,3", "no body: length 0, got %s", b);
  free(b);
  b = reply_to(&f, "POST /length HTTP/1.1\r\nHost: x\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  snprintf(expect, sizeof expect, "cl=%d len=12345 w=%d,3", UV_ENOENT,
           snprintf(NULL, 0, "cl=%d len=12345", UV_ENOENT));
  cr_assert_str_eq(b, expect, "chunked: UV_ENOENT, len untouched; got %s", b);
  free(b);
  fixture_stop(&f);
}

Test(http, streamed_responses_are_chunked_for_1_1_and_close_delimited_for_1_0) {
  fixture_t f;
  exchange_t x = {0};

  fixture_start(&f, (corio_rt_options_t){.loop_only = 1}, NULL);
  x.port = f.port;
  x.request = "GET /chunky HTTP/1.1\r\nHost: x\r\n\r\n";
  x.len = strlen(x.request);
  in_task(&f, exchange, &x);
  cr_assert_eq(x.err, 0);
  cr_assert(strcasestr(x.reply.head, "Transfer-Encoding: chunked") != NULL);
  cr_assert_eq(x.reply.body_len, 11);
  cr_assert_eq(memcmp(x.reply.body, "hello world", 11), 0);
  cr_assert_not(x.closed);
  free(x.reply.body);
  memset(&x, 0, sizeof x);
  x.port = f.port;
  x.request = "GET /chunky HTTP/1.0\r\n\r\n";
  x.len = strlen(x.request);
  in_task(&f, exchange, &x);
  cr_assert_eq(x.err, 0);
  cr_assert(strcasestr(x.reply.head, "Connection: close") != NULL);
  cr_assert_eq(x.reply.body_len, 11);
  free(x.reply.body);
  cr_assert_eq(status_of(&f, "HEAD /describe HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 200);
  fixture_stop(&f);
}

/* --- a 1 GiB upload in constant memory ----------------------------------------- */

static size_t rss_kib(void) {
  FILE *fp = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;

  if (fp != NULL) {
    if (fscanf(fp, "%lu %lu", &size, &res) != 2)
      res = 0;
    fclose(fp);
  }
  return res * (size_t)(sysconf(_SC_PAGESIZE) / 1024);
}

typedef struct big {
  int port;
  uint64_t size;
  size_t rss_start, rss_max;
  int status;
  char answer[32];
} big_t;

static void *big_upload(void *arg) {
  big_t *b = arg;
  static char chunk[65536];
  client_t *cl = malloc(sizeof *cl);
  char head[128];
  uint64_t sent = 0;
  unsigned i = 0;
  reply_t r;
  int k;

  cr_assert_eq(client_open(cl, b->port), 0);
  k = snprintf(head, sizeof head, "PUT /sink HTTP/1.1\r\nHost: x\r\nContent-Length: %llu\r\n\r\n",
               (unsigned long long)b->size);
  corio_write(cl->c, head, (size_t)k);
  b->rss_start = b->rss_max = rss_kib();
  while (sent < b->size) {
    cr_assert_eq(corio_write(cl->c, chunk, sizeof chunk), (ssize_t)sizeof chunk);
    sent += sizeof chunk;
    if (++i % 256 == 0) {
      size_t now = rss_kib();
      if (now > b->rss_max)
        b->rss_max = now;
    }
  }
  cr_assert_eq(read_reply(cl, &r, 0, BOUND()), 0);
  b->status = r.status;
  snprintf(b->answer, sizeof b->answer, "%.*s", (int)r.body_len, r.body);
  free(r.body);
  corio_close(cl->c);
  free(cl);
  return NULL;
}

Test(http, a_gibibyte_upload_streams_in_constant_memory, .timeout = 240) {
  fixture_t f;
  big_t b = {.size = CORIO_TEST_UNDER_TSAN ? 64ull << 20
                     : UNDER_ASAN          ? 256ull << 20
                                           : 1ull << 30};
  char want[32];

  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.max_body_bytes = 2ull << 30});
  b.port = f.port;
  in_task(&f, big_upload, &b);
  cr_assert_eq(b.status, 200);
  snprintf(want, sizeof want, "%llu", (unsigned long long)b.size);
  cr_assert_str_eq(b.answer, want);
  if (!CORIO_TEST_UNDER_TSAN)
    cr_assert_lt(b.rss_max - b.rss_start, 8 * 1024, "RSS grew by %zu KiB",
                 b.rss_max - b.rss_start);
  fixture_stop(&f);
}

/* --- unread bodies, graceful shutdown --------------------------------------- */

typedef struct ignored {
  int port;
  int statuses[3];
  int err;
} ignored_t;

static void *ignored_bodies(void *arg) {
  static const char three[] =
      "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
      "POST /ignore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n"
      "GET /describe?after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ignored_t *a = arg;
  client_t *cl = malloc(sizeof *cl);
  reply_t r;
  int i;

  if ((a->err = client_open(cl, a->port)) == 0) {
    corio_write(cl->c, three, sizeof three - 1);
    for (i = 0; i < 3; i++) {
      if ((a->err = read_reply(cl, &r, 0, BOUND())) != 0)
        break;
      a->statuses[i] = r.status;
      if (i == 2 && memmem(r.body, r.body_len, "q=after", 7) == NULL)
        a->statuses[i] = -1;
      free(r.body);
    }
    corio_close(cl->c);
  }
  free(cl);
  return NULL;
}

Test(http, a_handler_that_ignores_the_body_does_not_break_the_next_request) {
  fixture_t f;
  ignored_t a = {0};

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  a.port = f.port;
  in_task(&f, ignored_bodies, &a);
  cr_assert_eq(a.err, 0, "%s", uv_strerror(a.err));
  cr_assert_eq(a.statuses[0], 200);
  cr_assert_eq(a.statuses[1], 200);
  cr_assert_eq(a.statuses[2], 200, "the third request was not parsed right");
  fixture_stop(&f);
}

typedef struct drain {
  int port;
  int slow_status, idle_closed;
  int err;
} drain_t;

static void *slow_request(void *arg) {
  drain_t *d = arg;
  exchange_t x = {.port = d->port, .request = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"};

  x.len = strlen(x.request);
  exchange(&x);
  d->err = x.err;
  d->slow_status = x.reply.status;
  free(x.reply.body);
  return NULL;
}

static void *idle_keepalive(void *arg) {
  static const char get[] = "GET /describe HTTP/1.1\r\nHost: x\r\n\r\n";
  drain_t *d = arg;
  client_t *cl = malloc(sizeof *cl);
  reply_t r;

  if (client_open(cl, d->port) == 0) {
    corio_write(cl->c, get, sizeof get - 1);
    if (read_reply(cl, &r, 0, BOUND()) == 0)
      free(r.body);
    d->idle_closed = at_eof(cl); /* the shutdown closes it, unasked */
    corio_close(cl->c);
  }
  free(cl);
  return NULL;
}

Test(http, shutdown_finishes_requests_in_flight_and_closes_idle_connections) {
  fixture_t f;
  drain_t d = {0};
  corio_task_t *slow, *idle, *stop;
  void *res;
  uint64_t t0;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  d.port = f.port;
  cr_assert_eq(corio_spawn(f.rt, idle_keepalive, &d, &idle), 0);
  cr_assert_eq(corio_spawn(f.rt, slow_request, &d, &slow), 0);
  usleep(100000); /* both connected; /slow sleeps 300 ms */
  t0 = corio_now();
  cr_assert_eq(corio_spawn(f.rt, shutdown_task, &f, &stop), 0);
  cr_assert_eq(corio_join(stop, &res), 0);
  cr_assert_eq((intptr_t)res, 0, "shutdown: %s", uv_strerror((int)(intptr_t)res));
  cr_assert_lt(corio_now() - t0, 4000, "shutdown waited for the idle connection");
  corio_join(slow, NULL);
  corio_join(idle, NULL);
  cr_assert_eq(d.err, 0);
  cr_assert_eq(d.slow_status, 200, "the request in flight was not finished");
  cr_assert(d.idle_closed, "the idle connection was left open");
  cr_assert_eq(corio_join(f.runner, &res), 0);
  cr_assert_eq(corio_http_server_free(f.srv), 0);
  cr_assert_eq(corio_rt_free(f.rt), 0);
}


/* --- shutdown and drain, from tasks and plain threads --------------------- */

/* Test side only: sleep until *v reaches want. */
static void wait_for(_Atomic(int) *v, int want) {
  while (atomic_load(v) < want)
    usleep(1000);
}

/* A client of /hold. */
static void *hold_request(void *arg) {
  exchange_t *x = arg;

  x->request = "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n";
  x->len = strlen(x->request);
  exchange(x);
  return NULL;
}

/* Connect until the listener refuses: a shutdown has begun (it takes the
 * listener before anything else). Gives up after BOUND(), for the
 * assertions that follow to fail rather than the test to hang. */
static void *until_refused(void *arg) {
  int port = *(int *)arg;
  uint64_t bound = BOUND();
  corio_tcp_t *c;

  while (corio_now() < bound &&
         corio_tcp_connect_dl("127.0.0.1", port, &c, bound) == 0) {
    corio_close(c);
    corio_sleep(5);
  }
  return NULL;
}

/* A shutdown on a plain thread of its own. */
typedef struct stopper {
  corio_http_server_t *srv;
  uint64_t deadline;
  pthread_t thread;
  int result;
  int handler_ended;          /* hold_ended when shutdown returned */
  _Atomic(int) returned;
} stopper_t;

static void *plain_shutdown(void *arg) {
  stopper_t *s = arg;

  s->result = corio_http_server_shutdown(s->srv, s->deadline);
  s->handler_ended = atomic_load(&hold_ended);
  atomic_store(&s->returned, 1);
  return NULL;
}

static void stopper_start(stopper_t *s, fixture_t *f, uint64_t deadline) {
  memset(s, 0, sizeof *s);
  s->srv = f->srv;
  s->deadline = deadline;
  cr_assert_eq(pthread_create(&s->thread, NULL, plain_shutdown, s), 0);
}

Test(http, shutdown_from_a_plain_thread_returns_when_the_last_handler_ends_not_before, .timeout = 60) {
  fixture_t f;
  exchange_t x = {0};
  stopper_t s;
  corio_task_t *client;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  x.port = f.port;
  cr_assert_eq(corio_spawn(f.rt, hold_request, &x, &client), 0);
  wait_for(&hold_begun, 1);
  stopper_start(&s, &f, corio_now() + 60000);
  in_task(&f, until_refused, &f.port);
  usleep(100000); /* time enough to return early, if it were to */
  cr_assert_eq(atomic_load(&s.returned), 0, "shutdown returned while a handler ran");
  corio_sem_release(&hold_release, 1);
  pthread_join(s.thread, NULL);
  cr_assert_eq(s.result, 0, "shutdown: %s", uv_strerror(s.result));
  cr_assert(s.handler_ended, "shutdown returned before the handler ended");
  cr_assert_eq(atomic_load(&hold_result), 0, "the handler was cut");
  corio_join(client, NULL);
  cr_assert_eq(x.err, 0, "%s", uv_strerror(x.err));
  cr_assert_eq(x.reply.status, 200, "the request in flight was not answered");
  cr_assert(x.closed, "the connection was left open");
  free(x.reply.body);
  cr_assert_eq(corio_http_server_run(f.srv), 0, "run after shutdown returns at once");
  fixture_end(&f);
}

Test(http, shutdown_from_a_plain_thread_cuts_the_handlers_left_at_its_deadline, .timeout = 60) {
  fixture_t f;
  exchange_t x = {0};
  stopper_t s;
  corio_task_t *client;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  x.port = f.port;
  cr_assert_eq(corio_spawn(f.rt, hold_request, &x, &client), 0);
  wait_for(&hold_begun, 1);
  stopper_start(&s, &f, corio_now() + 200);
  pthread_join(s.thread, NULL); /* never released: only the cut ends it */
  cr_assert_eq(s.result, UV_ETIMEDOUT, "shutdown: %s", uv_strerror(s.result));
  cr_assert_eq(atomic_load(&hold_result), UV_ECANCELED);
  cr_assert(s.handler_ended, "shutdown returned before the cut handler ended");
  corio_join(client, NULL);
  free(x.reply.body);
  fixture_end(&f);
}

static void *shutdown_now(void *arg) {
  return (void *)(intptr_t)corio_http_server_shutdown(arg, 0);
}

Test(http, a_second_shutdown_returns_ealready_at_once_and_changes_nothing, .timeout = 60) {
  fixture_t f;
  exchange_t x = {0};
  stopper_t s;
  corio_task_t *client, *t;
  void *res;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  x.port = f.port;
  cr_assert_eq(corio_spawn(f.rt, hold_request, &x, &client), 0);
  wait_for(&hold_begun, 1);
  stopper_start(&s, &f, corio_now() + 60000);
  in_task(&f, until_refused, &f.port);
  /* Deadline 0: had they done anything, they would cut the handler. */
  cr_assert_eq(corio_http_server_shutdown(f.srv, 0), UV_EALREADY);
  cr_assert_eq(corio_spawn(f.rt, shutdown_now, f.srv, &t), 0);
  cr_assert_eq(corio_join(t, &res), 0);
  cr_assert_eq((intptr_t)res, UV_EALREADY);
  cr_assert_eq(atomic_load(&hold_ended), 0, "a second shutdown cut the handler");
  corio_sem_release(&hold_release, 1);
  pthread_join(s.thread, NULL);
  cr_assert_eq(s.result, 0, "shutdown: %s", uv_strerror(s.result));
  cr_assert_eq(atomic_load(&hold_result), 0);
  cr_assert_eq(corio_http_server_shutdown(f.srv, 0), UV_EALREADY, "and after it");
  corio_join(client, NULL);
  cr_assert_eq(x.reply.status, 200);
  free(x.reply.body);
  fixture_end(&f);
}

/* A server call made on the loop thread, outside any task: an await's
 * start runs there. */
typedef struct on_loop {
  corio_http_server_t *srv;
  int (*call)(corio_http_server_t *srv);
  int result;
} on_loop_t;

static int call_on_loop(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  on_loop_t *o = arg;

  (void)loop;
  o->result = o->call(o->srv);
  corio_await_done(aw, 0);
  return 0;
}

static void *await_call_on_loop(void *arg) {
  corio_await(corio_current_rt(), call_on_loop, arg, NULL);
  return NULL;
}

static int shutdown_in_5s(corio_http_server_t *srv) {
  return corio_http_server_shutdown(srv, corio_now() + 5000);
}

Test(http, shutdown_on_the_loop_thread_outside_a_task_returns_einval_and_changes_nothing) {
  fixture_t f;
  on_loop_t o = {0};

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  o.srv = f.srv;
  o.call = shutdown_in_5s;
  in_task(&f, await_call_on_loop, &o);
  cr_assert_eq(o.result, UV_EINVAL, "%s", uv_strerror(o.result));
  cr_assert_eq(status_of(&f, "GET /describe HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 200,
               "the server stopped serving");
  fixture_stop(&f); /* a shutdown from a task: 0, not UV_EALREADY */
}

static void *shutdown_far(void *arg) {
  return (void *)(intptr_t)corio_http_server_shutdown(arg, corio_now() + 60000);
}

Test(http, a_cancelled_shutdown_cuts_what_is_left_at_once_and_returns_ecanceled, .timeout = 60) {
  fixture_t f;
  exchange_t x = {0};
  corio_task_t *client, *stop;
  void *res;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  x.port = f.port;
  cr_assert_eq(corio_spawn(f.rt, hold_request, &x, &client), 0);
  wait_for(&hold_begun, 1);
  cr_assert_eq(corio_spawn(f.rt, shutdown_far, f.srv, &stop), 0);
  in_task(&f, until_refused, &f.port);
  cr_assert_eq(corio_cancel(stop), 0);
  cr_assert_eq(corio_join(stop, &res), 0);
  cr_assert_eq((intptr_t)res, UV_ECANCELED, "shutdown: %s", uv_strerror((int)(intptr_t)res));
  cr_assert_eq(atomic_load(&hold_result), UV_ECANCELED);
  cr_assert_eq(atomic_load(&hold_ended), 1);
  corio_join(client, NULL);
  free(x.reply.body);
  fixture_end(&f);
}

/* --- run: cancelled, busy, refused -------------------------------------- */

/* A client task that says when it has its answer. */
typedef struct late {
  exchange_t x;
  _Atomic(int) done;
} late_t;

static void *late_client(void *arg) {
  late_t *l = arg;

  l->x.request = "GET /describe HTTP/1.1\r\nHost: x\r\n\r\n";
  l->x.len = strlen(l->x.request);
  exchange(&l->x);
  atomic_store(&l->done, 1);
  return NULL;
}

Test(http, a_cancelled_run_returns_ecanceled_and_leaves_listener_and_connections_open, .timeout = 60) {
  fixture_t f;
  exchange_t x = {0};
  late_t l = {0};
  corio_task_t *client, *waiting;
  void *res;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  x.port = l.x.port = f.port;
  cr_assert_eq(corio_spawn(f.rt, hold_request, &x, &client), 0);
  wait_for(&hold_begun, 1); /* run is serving */
  cr_assert_eq(corio_cancel(f.runner), 0);
  cr_assert_eq(corio_join(f.runner, &res), 0);
  cr_assert_eq((intptr_t)res, UV_ECANCELED, "run: %s", uv_strerror((int)(intptr_t)res));
  /* The listener is open, not served: a client connects and waits. */
  cr_assert_eq(corio_spawn(f.rt, late_client, &l, &waiting), 0);
  usleep(100000);
  cr_assert_eq(atomic_load(&l.done), 0, "answered with nobody serving");
  /* The connection being served carries on. */
  cr_assert_eq(atomic_load(&hold_ended), 0, "the cancel of run cut a handler");
  corio_sem_release(&hold_release, 1);
  corio_join(client, NULL);
  cr_assert_eq(x.err, 0, "%s", uv_strerror(x.err));
  cr_assert_eq(x.reply.status, 200);
  free(x.reply.body);
  /* Not shut down: run again serves the client that waited. */
  cr_assert_eq(corio_spawn(f.rt, run_server, f.srv, &f.runner), 0);
  corio_join(waiting, NULL);
  cr_assert_eq(l.x.err, 0, "%s", uv_strerror(l.x.err));
  cr_assert_eq(l.x.reply.status, 200);
  free(l.x.reply.body);
  fixture_stop(&f); /* shutdown 0, the second run 0 */
}

static void *run_in_a_coroutine(void *arg) {
  corio_http_server_t *srv = arg;

  /* a coroutine cannot park its task: neither waits for the loop */
  cr_assert_eq(corio_http_server_run(srv), UV_EINVAL);
  cr_assert_eq(corio_http_server_shutdown(srv, 0), UV_EINVAL);
  return NULL;
}

static void *run_refused(void *arg) {
  corio_http_server_t *srv = arg;
  corio_coro_t *co;

  cr_assert_eq(corio_http_server_run(NULL), UV_EINVAL);
  cr_assert_eq(corio_http_server_run(srv), UV_EBUSY); /* the fixture's runs */
  cr_assert_eq(corio_coro_new(run_in_a_coroutine, srv, NULL, &co), 0);
  cr_assert_eq(corio_coro_resume(co, NULL, NULL), CORIO_CORO_FINISHED);
  cr_assert_eq(corio_coro_free(co), 0);
  return NULL;
}

Test(http, run_returns_ebusy_while_served_and_einval_where_it_cannot_wait) {
  fixture_t f;
  on_loop_t o = {0};

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  cr_assert_eq(status_of(&f, "GET /describe HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 200);
  in_task(&f, run_refused, f.srv);
  o.srv = f.srv;
  o.call = corio_http_server_run;
  in_task(&f, await_call_on_loop, &o);
  cr_assert_eq(o.result, UV_EINVAL, "%s", uv_strerror(o.result));
  cr_assert_eq(status_of(&f, "GET /describe HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 200,
               "the server stopped serving");
  fixture_stop(&f);
}

/* A shutdown by a task with a cancel pending: the listener closes all the
 * same; connections left are cut at once (UV_ECANCELED); with none left,
 * shutdown returns 0 and the cancel stays for the next wait. */
static void *shutdown_cancelled_first(void *arg) {
  intptr_t err;

  cr_assert_eq(corio_cancel(corio_self()), 0);
  err = corio_http_server_shutdown(arg, corio_now() + 60000);
  if (err == 0)
    cr_assert_eq(corio_sleep(1000), UV_ECANCELED, "shutdown took the cancel");
  return (void *)err;
}

Test(http, a_shutdown_with_a_cancel_pending_cuts_what_is_left_at_once, .timeout = 60) {
  fixture_t f;
  exchange_t x = {0};
  corio_task_t *client, *stop;
  void *res;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  x.port = f.port;
  cr_assert_eq(corio_spawn(f.rt, hold_request, &x, &client), 0);
  wait_for(&hold_begun, 1);
  cr_assert_eq(corio_spawn(f.rt, shutdown_cancelled_first, f.srv, &stop), 0);
  cr_assert_eq(corio_join(stop, &res), 0);
  cr_assert_eq((intptr_t)res, UV_ECANCELED, "shutdown: %s", uv_strerror((int)(intptr_t)res));
  cr_assert_eq(atomic_load(&hold_result), UV_ECANCELED);
  cr_assert_eq(atomic_load(&hold_ended), 1);
  corio_join(client, NULL);
  free(x.reply.body);
  fixture_end(&f);
}

Test(http, a_shutdown_with_a_cancel_pending_and_nothing_left_returns_0_and_keeps_it) {
  fixture_t f;
  corio_task_t *stop;
  void *res;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  usleep(50000); /* run is serving (no connection: none to cut) */
  cr_assert_eq(corio_spawn(f.rt, shutdown_cancelled_first, f.srv, &stop), 0);
  cr_assert_eq(corio_join(stop, &res), 0);
  cr_assert_eq((intptr_t)res, 0, "shutdown: %s", uv_strerror((int)(intptr_t)res));
  fixture_end(&f);
}

/* corio_http_serve on a plain thread of its own. */
typedef struct server_thread {
  corio_tcp_listener_t *ln;
  pthread_t thread;
  int result;
  int handler_ended;          /* hold_ended when serve returned */
  _Atomic(int) returned;
} server_thread_t;

static void *plain_serve(void *arg) {
  server_thread_t *st = arg;

  st->result = corio_http_serve(st->ln, handler, NULL, NULL);
  st->handler_ended = atomic_load(&hold_ended);
  atomic_store(&st->returned, 1);
  return NULL;
}

/* A keep-alive client: one request, then it waits for the server to
 * close (BOUND, 15 s, is well under the 60 s idle timeout). */
typedef struct idler {
  int port, err, closed;
  _Atomic(int) answered;
} idler_t;

static void *idler(void *arg) {
  static const char get[] = "GET /describe HTTP/1.1\r\nHost: x\r\n\r\n";
  idler_t *d = arg;
  client_t *cl = malloc(sizeof *cl);
  reply_t r;

  if ((d->err = client_open(cl, d->port)) == 0) {
    corio_write(cl->c, get, sizeof get - 1);
    if ((d->err = read_reply(cl, &r, 0, BOUND())) == 0)
      free(r.body);
    atomic_store(&d->answered, 1);
    d->closed = at_eof(cl);
    corio_close(cl->c);
  }
  atomic_store(&d->answered, 1);
  free(cl);
  return NULL;
}

Test(http, serve_closes_idle_connections_once_its_listener_closes_and_returns_after_the_last_request, .timeout = 60) {
  corio_tcp_listener_options_t lo = {0};
  server_thread_t st = {0};
  exchange_t x = {0};
  idler_t d = {0};
  corio_task_t *client, *idle;
  corio_rt_t *rt;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  lo.rt = rt;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, &lo, &st.ln), 0);
  x.port = d.port = corio_tcp_listener_port(st.ln);
  cr_assert_eq(pthread_create(&st.thread, NULL, plain_serve, &st), 0);
  cr_assert_eq(corio_spawn(rt, idler, &d, &idle), 0);
  wait_for(&d.answered, 1);
  cr_assert_eq(d.err, 0, "%s", uv_strerror(d.err));
  cr_assert_eq(corio_spawn(rt, hold_request, &x, &client), 0);
  wait_for(&hold_begun, 1);
  cr_assert_eq(corio_tcp_listener_close(st.ln), 0);
  corio_join(idle, NULL);
  cr_assert(d.closed, "the idle connection was left open");
  cr_assert_eq(atomic_load(&st.returned), 0, "serve returned while a handler ran");
  corio_sem_release(&hold_release, 1);
  pthread_join(st.thread, NULL);
  cr_assert_eq(st.result, 0, "serve: %s", uv_strerror(st.result));
  cr_assert(st.handler_ended, "serve returned before the handler ended");
  corio_join(client, NULL);
  cr_assert_eq(x.reply.status, 200, "the request in flight was not answered");
  free(x.reply.body);
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* --- options: named defaults, caps, huge values ---------------------------- */

/* The status of GET /ignore with a head of exactly len bytes. */
static int head_of(fixture_t *f, size_t len) {
  static const char pre[] = "GET /ignore HTTP/1.1\r\nHost: x\r\nX-Pad: ";
  char *req = malloc(len + 1);
  int status;

  memcpy(req, pre, sizeof pre - 1);
  memset(req + sizeof pre - 1, 'a', len - (sizeof pre - 1) - 4);
  memcpy(req + len - 4, "\r\n\r\n", 5);
  status = status_of(f, req, NULL);
  free(req);
  return status;
}

Test(http, a_zero_max_header_bytes_means_the_named_default) {
  fixture_t f;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  cr_assert_eq(head_of(&f, CORIO_HTTP_DEFAULT_MAX_HEADER_BYTES - 64), 200);
  cr_assert_eq(head_of(&f, CORIO_HTTP_DEFAULT_MAX_HEADER_BYTES + 64), 431);
  fixture_stop(&f);
}

Test(http, max_header_bytes_above_the_cap_is_lowered_to_it) {
  fixture_t f;

  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.max_header_bytes = SIZE_MAX});
  cr_assert_eq(head_of(&f, CORIO_HTTP_MAX_HEADER_BYTES_CAP - 64), 200);
  cr_assert_eq(head_of(&f, CORIO_HTTP_MAX_HEADER_BYTES_CAP + 64), 431);
  fixture_stop(&f);
}

typedef struct patient {
  int port, err;
  int status[2];
} patient_t;

/* Two requests on one connection, each late: the first head arrives in
 * two parts 50 ms apart, the second request 50 ms after the first reply. */
static void *patient_client(void *arg) {
  static const char part1[] = "GET /describe HTTP/1.1\r\nHo";
  static const char part2[] = "st: x\r\n\r\n";
  patient_t *p = arg;
  client_t *cl = malloc(sizeof *cl);
  reply_t r;
  int i;

  if ((p->err = client_open(cl, p->port)) == 0) {
    for (i = 0; i < 2; i++) {
      corio_sleep(50);
      corio_write(cl->c, part1, sizeof part1 - 1);
      corio_sleep(50);
      corio_write(cl->c, part2, sizeof part2 - 1);
      if ((p->err = read_reply(cl, &r, 0, BOUND())) != 0)
        break;
      p->status[i] = r.status;
      free(r.body);
    }
    corio_close(cl->c);
  }
  free(cl);
  return NULL;
}

Test(http, huge_timeouts_mean_no_timeout_instead_of_wrapping_into_the_past) {
  fixture_t f;
  patient_t p = {0};

  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.header_timeout_ms = UINT64_MAX,
                                        .idle_timeout_ms = UINT64_MAX});
  p.port = f.port;
  in_task(&f, patient_client, &p);
  cr_assert_eq(p.err, 0, "%s", uv_strerror(p.err));
  cr_assert_eq(p.status[0], 200);
  cr_assert_eq(p.status[1], 200);
  fixture_stop(&f);
}

Test(http, header_count_counts_the_head_not_the_trailers) {
  fixture_t f;
  exchange_t x = {0};

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  x.port = f.port;
  x.request = "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
              "X-A: 1\r\n\r\n3\r\nabc\r\n0\r\nT-One: 1\r\nT-Two: 2\r\n\r\n";
  x.len = strlen(x.request);
  in_task(&f, exchange, &x);
  cr_assert_eq(x.err, 0, "%s", uv_strerror(x.err));
  cr_assert_eq(x.reply.status, 200);
  cr_assert_str_eq(x.reply.body, "count=3 past=eof nulls=0");
  free(x.reply.body);
  fixture_stop(&f);
}

/* --- memory of an idle connection (lib/core/pool.h) ------------------------ */

/* The server's one connection, waiting for a request: does it hold a
 * header table or a read buffer? 0: not waiting yet. */
static int idle_holds(fixture_t *f, int *table, int *rbuf) {
  corio_http_server_t *srv = f->srv;
  int parked = 0;

  corio__spin_lock(&srv->lock);
  if (!corio__list_empty(&srv->conns)) {
    corio__hconn_t *hc = corio__container_of(srv->conns.next, corio__hconn_t, link);
    corio__spin_lock(&hc->tcp->lock);
    parked = atomic_load(&hc->idle) && hc->tcp->reader != NULL;
    *table = hc->tab != NULL;
    *rbuf = hc->tcp->rbuf != NULL;
    corio__spin_unlock(&hc->tcp->lock);
  }
  corio__spin_unlock(&srv->lock);
  return parked;
}

typedef struct idle_mem {
  fixture_t *f;
  int rounds, held;
} idle_mem_t;

static void *idle_keep_alive(void *arg) {
  idle_mem_t *m = arg;
  client_t *cl = malloc(sizeof *cl);
  char req[256], want[64];
  reply_t r;

  cr_assert_eq(client_open(cl, m->f->port), 0);
  for (int i = 0; i < 20; i++) {
    int table = 0, rbuf = 0, j, n;

    n = snprintf(req, sizeof req,
                 "GET /describe HTTP/1.1\r\nHost: x\r\nX-Round: %d\r\nX-B: b%d\r\n\r\n", i, i);
    cr_assert_eq(corio_write(cl->c, req, (size_t)n), n);
    cr_assert_eq(read_reply(cl, &r, 0, BOUND()), 0);
    snprintf(want, sizeof want, "[X-Round]=[%d]\n[X-B]=[b%d]\n", i, i);
    cr_assert_not_null(strstr(r.body, want), "round %d: %s", i, r.body);
    free(r.body);
    for (j = 0; j < 5000 && !idle_holds(m->f, &table, &rbuf); j++)
      corio_sleep(1);
    cr_assert_lt(j, 5000, "the connection never waited for a request");
    m->held += table + rbuf;
    m->rounds++;
  }
  corio_close(cl->c);
  free(cl);
  return NULL;
}

/* A keep-alive connection waiting for its next request holds neither a
 * header table nor a read buffer; the next request takes them again and
 * its headers read back right. */
Test(http, an_idle_keep_alive_connection_holds_no_table_and_no_buffer) {
  corio_rt_options_t modes[] = {{.workers = 2}, {.loop_only = 1}};

  for (int k = 0; k < 2; k++) {
    fixture_t f;
    idle_mem_t m = {&f, 0, 0};

    fixture_start(&f, modes[k], NULL);
    in_task(&f, idle_keep_alive, &m);
    fixture_stop(&f);
    cr_assert_eq(m.rounds, 20);
    cr_assert_eq(m.held, 0);
  }
}
