/* The HTTP server against hostile clients: request smuggling shapes,
 * malformed heads and chunk framing, pipelining floods, clients that never
 * read, slowloris, half-closes, resets mid-response, connection churn.
 * Every attack is bounded by deadlines, and after it the same server must
 * still answer a normal request on a fresh connection.
 *
 * An attack that would smuggle a request reaches /smuggled; the handler
 * counts those, and no test may see the count move.
 *
 * The tests of suite hostile_fixed each caught a bug of the server when
 * they were written (their comments say what it did); they guard the fixes. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "corio.h"
#include "../support/sizes.h"
#include "http_fixture.h"

#define LIT(s) s, sizeof s - 1

/* --- the server ----------------------------------------------------------- */

static _Atomic(int) smuggled;     /* requests that reached /smuggled */
static _Atomic(int) big_aborted, big_finished;
static _Atomic(int) blob_failed, blob_served;

static int starts(corio_http_str_t s, const char *lit) {
  return s.len > strlen(lit) && memcmp(s.p, lit, strlen(lit)) == 0;
}

static char blob[16384];
static char piece[65536];

#define BIG_BYTES (64ll << 20)

/* /describe: the request described (method target path query version,
 * headers, body); /sink: the body's size (a body error: no answer, the
 * server says why); /up/NAME, /down/NAME: files; /chunky: a streamed
 * chunked answer; /sized: a streamed answer with a length; /blob: 16 KiB;
 * /big: 64 MiB streamed; /q: the query; /smuggled: counted. */
static int handler(corio_http_req_t *req, corio_http_res_t *res, void *arg) {
  corio_http_str_t m = corio_http_method(req), path = corio_http_path(req);
  char out[8192], body[4096], file[256];
  size_t k = 0, i;
  ssize_t n;

  (void)arg;
  if (is(path, "/smuggled")) {
    atomic_fetch_add(&smuggled, 1);
    return corio_http_respond(res, 200, NULL, "SMUGGLED", 8);
  }
  if (is(path, "/q")) {
    corio_http_str_t q = corio_http_query(req);
    return corio_http_respond(res, 200, NULL, q.p, q.len);
  }
  if (is(path, "/describe") || is(corio_http_target(req), "*")) {
    corio_http_str_t name, value;
    k += (size_t)snprintf(out + k, sizeof out - k, "%.*s %.*s p=%.*s q=%.*s v=%d\n",
                          (int)m.len, m.p, (int)corio_http_target(req).len,
                          corio_http_target(req).p, (int)path.len, path.p,
                          (int)corio_http_query(req).len, corio_http_query(req).p,
                          corio_http_version(req));
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
  if (is(path, "/sink")) {
    uint64_t total = 0;
    while ((n = corio_http_body_read(req, body, sizeof body)) > 0)
      total += (uint64_t)n;
    if (n < 0)
      return 1;
    k = (size_t)snprintf(out, sizeof out, "%llu", (unsigned long long)total);
    return corio_http_respond(res, 200, NULL, out, k);
  }
  if (starts(path, "/up/")) {
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
  if (starts(path, "/down/")) {
    snprintf(file, sizeof file, "%s/%.*s", updir, (int)path.len - 6, path.p + 6);
    if (corio_http_send_file(res, file, NULL) == UV_ENOENT)
      return corio_http_respond(res, 404, NULL, NULL, 0);
    return 0;
  }
  if (is(path, "/chunky")) {
    corio_http_res_start(res, 200, NULL, -1);
    corio_http_res_write(res, "hello ", 6);
    corio_http_res_write(res, "world", 5);
    return corio_http_res_end(res);
  }
  if (is(path, "/sized")) {
    corio_http_res_start(res, 200, NULL, 11);
    corio_http_res_write(res, "hello ", 6);
    corio_http_res_write(res, "world", 5);
    return corio_http_res_end(res);
  }
  if (is(path, "/blob")) {
    if (corio_http_respond(res, 200, NULL, blob, sizeof blob) != 0) {
      atomic_fetch_add(&blob_failed, 1);
      return 1;
    }
    atomic_fetch_add(&blob_served, 1);
    return 0;
  }
  if (is(path, "/big")) {
    long long left = BIG_BYTES;
    int err = corio_http_res_start(res, 200, NULL, BIG_BYTES);
    while (err == 0 && left > 0) {
      ssize_t w = corio_http_res_write(res, piece, sizeof piece);
      err = w < 0 ? (int)w : 0;
      left -= (long long)sizeof piece;
    }
    if (err == 0)
      err = corio_http_res_end(res);
    atomic_fetch_add(err == 0 ? &big_finished : &big_aborted, 1);
    return err != 0;
  }
  return corio_http_respond(res, 404, NULL, NULL, 0);
}

/* --- the raw client: http_fixture.h ------------------------------------------- */

static int gone(int err) {
  return err == UV_EOF || err == UV_ECONNRESET;
}

/* Send bytes, then read every reply until the server closes or the
 * deadline passes. */
#define PROBE_MAX 8
typedef struct probe {
  int port;
  const char *req;
  size_t len;
  uint64_t wait_ms;            /* 0: 3000 */
  size_t split;                /* > 0: two writes, the first of split bytes */
  int n;                       /* replies */
  int status[PROBE_MAX];
  char body0[512];             /* the first reply's body */
  char head0[512];
  int end;                     /* how reading ended: UV_EOF, UV_ETIMEDOUT, ... */
  uint64_t took_ms;
} probe_t;

static void *probe_task(void *arg) {
  probe_t *p = arg;
  client_t *cl = malloc(sizeof *cl);
  uint64_t t0 = corio_now(), dl = t0 + (p->wait_ms != 0 ? p->wait_ms : 3000);
  int head = p->len >= 5 && memcmp(p->req, "HEAD ", 5) == 0;

  if ((p->end = client_open(cl, p->port)) != 0)
    goto out;
  if (p->split > 0 && p->split < p->len) {
    corio_write_dl(cl->c, p->req, p->split, dl);
    corio_sleep(1); /* the server parses the first part alone */
    corio_write_dl(cl->c, p->req + p->split, p->len - p->split, dl);
  } else if (p->len > 0) {
    corio_write_dl(cl->c, p->req, p->len, dl); /* may fail: the server said no */
  }
  for (;;) {
    reply_t r;
    int err = read_reply(cl, &r, head, dl);
    if (err != 0) {
      p->end = err;
      free(r.body);
      break;
    }
    if (p->n < PROBE_MAX)
      p->status[p->n] = r.status;
    if (p->n == 0) {
      snprintf(p->body0, sizeof p->body0, "%s", r.body != NULL ? r.body : "");
      memcpy(p->head0, r.head, sizeof p->head0 - 1);
      p->head0[sizeof p->head0 - 1] = '\0';
    }
    p->n++;
    free(r.body);
  }
  corio_close(cl->c);
out:
  p->took_ms = corio_now() - t0;
  free(cl);
  return NULL;
}

static probe_t probe(fixture_t *f, const char *req, size_t len) {
  probe_t p = {.port = f->port, .req = req, .len = len};

  in_task(f, probe_task, &p);
  return p;
}

/* The server still answers a normal request on a fresh connection. */
static void still_serves(fixture_t *f) {
  probe_t p = probe(f, LIT("GET /describe HTTP/1.1\r\nHost: ok\r\nConnection: close\r\n\r\n"));

  cr_assert_eq(p.n, 1, "the server no longer answers (%s)", uv_strerror(p.end));
  cr_assert_eq(p.status[0], 200);
  cr_assert(strncmp(p.body0, "GET /describe", 13) == 0);
  cr_assert(gone(p.end));
}

/* --- helpers for the main thread: plain sockets, memory ------------------ */

static int raw_connect(int port) {
  struct sockaddr_in a;
  struct timeval tv = {5, 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  cr_assert_geq(fd, 0);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s",
               strerror(errno));
  return fd;
}

/* Close with a TCP reset instead of a FIN. */
static void raw_reset(int fd) {
  struct linger l = {1, 0};

  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

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

/* Wait (polling, from the main thread) until *v >= want or ms pass. */
static int wait_for(_Atomic(int) *v, int want, uint64_t ms) {
  uint64_t dl = corio_now() + ms;

  while (atomic_load(v) < want && corio_now() < dl)
    usleep(5000);
  return atomic_load(v);
}

/* Building big requests. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf_t;

static void __attribute__((format(printf, 2, 3))) addf(sbuf_t *b, const char *fmt, ...) {
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  cr_assert(n >= 0 && (size_t)n < b->cap - b->len, "request buffer too small");
  b->len += (size_t)n;
}

static void addn(sbuf_t *b, char ch, size_t n) {
  cr_assert_leq(n, b->cap - b->len, "request buffer too small");
  memset(b->p + b->len, ch, n);
  b->len += n;
}

/* An attack table: request bytes and the statuses that may answer them
 * (the first reply); after it the server must close, and nothing may
 * reach /smuggled. */
typedef struct attack {
  const char *req;
  size_t len;
  int ok[3];
} attack_t;

static void run_attacks(fixture_t *f, const attack_t *a, size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    probe_t p = probe(f, a[i].req, a[i].len);
    int st = p.n > 0 ? p.status[0] : -1;

    cr_expect(st > 0 && (st == a[i].ok[0] || st == a[i].ok[1] || st == a[i].ok[2]),
              "case %zu: answered %d (%d replies, %s), want %d/%d/%d:\n%.*s", i, st, p.n,
              uv_err_name(p.end), a[i].ok[0], a[i].ok[1], a[i].ok[2], (int)a[i].len,
              a[i].req);
    cr_expect_eq(p.n, 1, "case %zu: %d replies", i, p.n);
    cr_expect(gone(p.end), "case %zu: left open (%s)", i, uv_err_name(p.end));
  }
  cr_assert_eq(atomic_load(&smuggled), 0, "a request was smuggled");
}

#define SMUG "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
#define POST_SINK "POST /sink HTTP/1.1\r\nHost: x\r\n"
#define POST_DESCRIBE "POST /describe HTTP/1.1\r\nHost: x\r\n"
#define CLOSE_GET "GET /describe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

static const corio_http_server_options_t small_limits = {
    .max_body_bytes = 1 << 20, .header_timeout_ms = 1000, .idle_timeout_ms = 3000};

/* --- request smuggling ------------------------------------------------------ */

/* Each of these frames its body one way for one reader and another way
 * for another: the only safe answer is to refuse it and close. The
 * trailing request reaches the handler if the server picked a framing. */
Test(hostile, smuggling_shapes_are_refused_and_close) {
  static const attack_t cases[] = {
      /* Content-Length with Transfer-Encoding, both orders and spellings */
      {LIT(POST_SINK "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
           SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"
           SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: CHUNKED\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"
           SMUG), {400}},
      {LIT(POST_SINK "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
           "\r\n" SMUG), {400}},
      {LIT(POST_SINK "Content-Length: 40\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n"
           SMUG), {400, 501}},
      /* Transfer-Encoding not exactly "chunked" */
      {LIT(POST_SINK "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" SMUG), {400, 501}},
      {LIT(POST_SINK "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n" SMUG), {400, 501}},
      {LIT(POST_SINK "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" SMUG), {400, 501}},
      {LIT(POST_SINK "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n" SMUG), {400, 501}},
      {LIT(POST_SINK "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n" SMUG), {400, 501}},
      {LIT(POST_SINK "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" SMUG), {400, 501}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n" SMUG), {400, 501}},
      {LIT(POST_SINK "Transfer-Encoding: \x0b" "chunked\r\n\r\n0\r\n\r\n" SMUG), {400, 501}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
           SMUG), {400, 501}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n"
           SMUG), {400, 501}},
      {LIT(POST_SINK "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
           SMUG), {400, 501}},
      {LIT(POST_SINK "Transfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"
           SMUG), {400}},
      /* whitespace around the field name */
      {LIT(POST_SINK "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n" SMUG), {400}},
      {LIT("POST /sink HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: x\r\n\r\n0\r\n\r\n"
           SMUG), {400}},
      {LIT("POST /sink HTTP/1.1\r\n Content-Length: 35\r\nHost: x\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Content-Length : 35\r\n\r\n" SMUG), {400}},
      /* a bare CR is no line end (CVE-2023-30589's shape) */
      {LIT(POST_SINK "X: a\rContent-Length: 35\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "X: a\rTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Content-Length: 35\r\rn\r\n" SMUG), {400}},
      /* Content-Length that is not one plain decimal */
      {LIT(POST_SINK "Content-Length: +5\r\n\r\nhello" SMUG), {400}},
      {LIT(POST_SINK "Content-Length: -5\r\n\r\nhello" SMUG), {400}},
      {LIT(POST_SINK "Content-Length: 0x5\r\n\r\nhello" SMUG), {400}},
      {LIT(POST_SINK "Content-Length: 1,1\r\n\r\nh" SMUG), {400}},
      {LIT(POST_SINK "Content-Length: 5 5\r\n\r\nhello" SMUG), {400}},
      {LIT(POST_SINK "Content-Length: 5\x0b\r\n\r\nhello" SMUG), {400}},
      {LIT(POST_SINK "Content-Length: \r\n\r\nhello" SMUG), {400}},
      {LIT(POST_SINK "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello" SMUG), {400}},
      {LIT(POST_SINK "Content-Length: 99999999999999999999\r\n\r\nhello" SMUG), {400, 413}},
      {LIT(POST_SINK "Content-Length: 5\r\nContent-Length: 41\r\n\r\nhello" SMUG), {400}},
  };
  fixture_t f;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  run_attacks(&f, cases, sizeof cases / sizeof cases[0]);
  still_serves(&f);
  fixture_stop(&f);
}

Test(hostile, broken_chunk_framing_is_400_and_closes) {
  static const attack_t cases[] = {
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n"
           SMUG), {400, 413}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5z\r\nhello\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\n\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nhello\r\n0\r\n\r\n"
           SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: a\0b\r\n\r\n"
           SMUG), {400}},
  };
  fixture_t f;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  run_attacks(&f, cases, sizeof cases / sizeof cases[0]);
  still_serves(&f);
  fixture_stop(&f);
}

/* --- malformed heads ------------------------------------------------------- */

Test(hostile, malformed_heads_are_refused_and_close) {
  static const attack_t cases[] = {
      /* request lines */
      {LIT("GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n" SMUG), {400}},
      {LIT("GET /a\x01" "b HTTP/1.1\r\nHost: x\r\n\r\n" SMUG), {400}},
      {LIT("GET /a\x7f" "b HTTP/1.1\r\nHost: x\r\n\r\n" SMUG), {400}},
      {LIT("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n" SMUG), {400, 505}},
      {LIT("GET describe HTTP/1.1\r\nHost: x\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\rHost: x\r\n\r\n" SMUG), {400, 505}},
      {LIT("GET /describe HTTP/1.1 \r\nHost: x\r\n\r\n" SMUG), {400, 505}},
      {LIT("GET /describe HTTP/1.1.1\r\nHost: x\r\n\r\n" SMUG), {400, 505}},
      {LIT("GET /describe HTTP/11\r\nHost: x\r\n\r\n" SMUG), {400, 505}},
      {LIT("GET /describe http/1.1\r\nHost: x\r\n\r\n" SMUG), {400, 505}},
      {LIT("GET /describe HTTP/0.9\r\nHost: x\r\n\r\n" SMUG), {400, 505}},
      {LIT("GET /describe\r\n\r\n" SMUG), {400, 505}},
      {LIT("GET /describe HTTP/1.1\nHost: x\nConnection: close\n\n"), {400, 200}},
      {LIT("G\x01T /describe HTTP/1.1\r\nHost: x\r\n\r\n" SMUG), {400, 501}},
      {LIT("get /describe HTTP/1.1\r\nHost: x\r\n\r\n" SMUG), {400, 501}},
      {LIT("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" SMUG), {400, 501}},
      {LIT("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: 35\r\n"
           "\r\n" SMUG), {400, 501}},
      /* header lines */
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX\0: ab\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX: a\x01" "b\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX: a\x7f\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\n: x\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX(y): z\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\n \r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\n\tHost: x\r\n\r\n" SMUG), {400}},
      /* Host */
      {LIT("GET /describe HTTP/1.1\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nhost: a\r\nHOST: b\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n" SMUG), {400}},
      /* expectations */
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, foo\r\n\r\n" SMUG), {417}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nExpect: foo\r\n\r\n"
           SMUG), {417}},
  };
  fixture_t f;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  run_attacks(&f, cases, sizeof cases / sizeof cases[0]);
  still_serves(&f);
  fixture_stop(&f);
}

/* An HTTP/0.9 request line and a head that never ends: the server waits
 * no longer than the header timeout. */
Test(hostile, heads_that_never_end_are_cut_at_the_header_timeout) {
  static const attack_t cases[] = {
      {LIT("GET /\r\n"), {400, 408, 505}},
      {LIT("GET / HTTP/1.1\r\nHost: x\r\n"), {408}},
      {LIT("GET / HTTP/1.1\r\nHost: x\r\n\r"), {400, 408}},
      {LIT("\r\n\r\n\r\n"), {400, 408}},
  };
  fixture_t f;
  size_t i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.header_timeout_ms = 300, .idle_timeout_ms = 3000});
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    probe_t p = probe(&f, cases[i].req, cases[i].len);
    int st = p.n > 0 ? p.status[0] : -1;
    cr_expect(st == cases[i].ok[0] || st == cases[i].ok[1] || st == cases[i].ok[2],
              "case %zu: %d", i, st);
    cr_expect(gone(p.end), "case %zu: left open", i);
    cr_expect(p.took_ms < 300 + 700, "case %zu: answered after %llu ms", i,
              (unsigned long long)p.took_ms);
  }
  still_serves(&f);
  fixture_stop(&f);
}

/* What RFC 9112 lets a server accept is served as usual. */
Test(hostile, tolerated_oddities_are_served) {
  static const struct {
    const char *req;
    size_t len;
    const char *want; /* in the body of the answer */
  } cases[] = {
      {LIT("\r\n\r\nGET /describe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
       "GET /describe"},
      {LIT(POST_DESCRIBE "Content-Length:   5  \r\nConnection: close\r\n\r\nhello"), "\nhello"},
      {LIT(POST_DESCRIBE "Content-Length: 005\r\nConnection: close\r\n\r\nhello"), "\nhello"},
      {LIT(POST_DESCRIBE "Transfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n"
           "5\r\nhello\r\n0\r\n\r\n"), "\nhello"},
      {LIT(POST_DESCRIBE "Transfer-Encoding:  chunked \r\nConnection: close\r\n\r\n"
           "5\r\nhello\r\n0\r\n\r\n"), "\nhello"},
      {LIT(POST_DESCRIBE "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           "5;q=\"quo;ted\"\r\nhello\r\n1;a;b\r\n!\r\n00000;last\r\nX-Trailer: t\r\n\r\n"),
       "\nhello!"},
      {LIT("GET /describe HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n"), "[Host]=[]"},
      {LIT("GET /describe HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n"),
       "[Host]=[[::1]:8080]"},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX: \x80\xff" "\r\nConnection: close\r\n\r\n"),
       "[X]=[\x80\xff" "]"},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX: a\tb\r\nConnection: close\r\n\r\n"),
       "[X]=[a\tb]"},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nExpect: 100-CONTINUE\r\n"
           "Connection: close\r\n\r\n"),
       "GET /describe"},
      {LIT("OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), "OPTIONS * p=*"},
      {LIT("GET /describe?a=%00&b=\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
       "q=a=%00&b=\xff"},
  };
  fixture_t f;
  size_t i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    probe_t p = probe(&f, cases[i].req, cases[i].len);
    cr_expect_eq(p.n, 1, "case %zu: %d replies", i, p.n);
    cr_expect_eq(p.status[0], 200, "case %zu: %d", i, p.status[0]);
    cr_expect(strstr(p.body0, cases[i].want) != NULL, "case %zu: %s", i, p.body0);
  }
  still_serves(&f);
  fixture_stop(&f);
}

/* --- pipelines that must stop, trailers that must not reframe ------------ */

Test(hostile, a_pipeline_ends_where_the_connection_must_close) {
  static const attack_t cases[] = {
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" SMUG), {200}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n"
           SMUG), {200}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nConnection: CLOSE\r\n\r\n" SMUG), {200}},
      {LIT("GET /describe HTTP/1.0\r\n\r\n" SMUG), {200}},
      {LIT("GET /describe HTTP/1.0\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
           "0\r\n\r\n" SMUG), {200, 400}},
      {LIT(POST_DESCRIBE "Content-Length: 5\r\nConnection: close\r\n\r\nhello" SMUG), {200}},
      /* a body ended by the close: nothing can follow it */
      {LIT("GET /chunky HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" SMUG), {200}},
  };
  fixture_t f;
  static char big[700000];
  sbuf_t b = {big, 0, sizeof big};
  size_t i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  run_attacks(&f, cases, sizeof cases / sizeof cases[0]);
  /* a body the handler ignores, too big to drop: answered, then closed,
   * and the request after it is not read as one */
  addf(&b, "PUT /ignored HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n");
  addn(&b, 'b', 300000);
  addf(&b, SMUG);
  {
    attack_t a = {big, b.len, {404}};
    run_attacks(&f, &a, 1);
  }
  b.len = 0;
  addf(&b, "PUT /ignored HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (i = 0; i < 30; i++) {
    addf(&b, "2710\r\n");
    addn(&b, 'c', 10000);
    addf(&b, "\r\n");
  }
  addf(&b, "0\r\n\r\n" SMUG);
  {
    attack_t a = {big, b.len, {404}};
    run_attacks(&f, &a, 1);
  }
  still_serves(&f);
  fixture_stop(&f);
}

Test(hostile, trailers_do_not_reframe_the_next_request) {
  static const char *const trailers[] = {
      "Content-Length: 50\r\n", "Transfer-Encoding: chunked\r\n",
      "Transfer-Encoding: gzip\r\n", "Host: other\r\nHost: again\r\n",
      "Expect: nonsense\r\n", "Upgrade: foo\r\n", "Connection: keep-alive\r\n",
  };
  char req[1024];
  fixture_t f;
  size_t i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  for (i = 0; i < sizeof trailers / sizeof trailers[0]; i++) {
    int k = snprintf(req, sizeof req,
                     POST_DESCRIBE "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n%s\r\n"
                     "GET /describe?second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     trailers[i]);
    probe_t p = probe(&f, req, (size_t)k);
    /* either both answered as sent, or the first refused and closed */
    if (p.n == 2) {
      cr_expect_eq(p.status[0], 200, "trailer %zu", i);
      cr_expect_eq(p.status[1], 200, "trailer %zu", i);
      cr_expect(strstr(p.body0, "\nhello") != NULL, "trailer %zu: %s", i, p.body0);
    } else {
      cr_expect_eq(p.n, 1, "trailer %zu: %d replies", i, p.n);
      cr_expect_eq(p.status[0], 400, "trailer %zu: %d", i, p.status[0]);
    }
    cr_expect(gone(p.end));
  }
  {
    /* chunk data that looks like the end of the body and a request */
    probe_t p = probe(&f, LIT(POST_DESCRIBE "Transfer-Encoding: chunked\r\nConnection: close\r\n"
        "\r\n"
                              "28\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n"
                                  "\r\n"));
    cr_expect_eq(p.n, 1);
    cr_expect_eq(p.status[0], 200);
    cr_expect(strstr(p.body0, "\n0\r\n\r\nGET /smuggled") != NULL, "%s", p.body0);
  }
  {
    /* more header lines than the server keeps, as trailers: refused */
    static char big[8192];
    sbuf_t b = {big, 0, sizeof big};
    int j;
    addf(&b, POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n");
    for (j = 0; j < 150; j++)
      addf(&b, "T%d: v\r\n", j);
    addf(&b, "\r\n" SMUG);
    attack_t a = {big, b.len, {400, 431}};
    run_attacks(&f, &a, 1);
  }
  still_serves(&f);
  fixture_stop(&f);
}

/* The verdict on a request must not depend on where the network splits
 * it: every attack above, split at every byte, gets the same answers as
 * sent whole (spans that llhttp reports in pieces are joined in place). */
Test(hostile, verdicts_do_not_depend_on_where_requests_are_split, .timeout = 120) {
  static const struct {
    const char *req;
    size_t len;
  } cases[] = {
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n" SMUG)},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" SMUG)},
      {LIT(POST_SINK "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" SMUG)},
      {LIT(POST_SINK "X: a\rContent-Length: 35\r\n\r\n" SMUG)},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n" SMUG)},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX y: b\r\n\r\n" SMUG)},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n" SMUG)},
      {LIT(POST_DESCRIBE "Transfer-Encoding: chunked\r\n\r\n5;e=\"x\"\r\nhello\r\n0\r\nT: v\r\n\r\n"
           "GET /q?second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")},
  };
  fixture_t f;
  size_t i, at, step = CORIO_TEST_SLOW ? 5 : 1;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    probe_t whole = probe(&f, cases[i].req, cases[i].len);
    cr_assert(whole.n >= 1 && gone(whole.end), "case %zu: %d replies, %s", i, whole.n,
              uv_err_name(whole.end));
    for (at = 1; at < cases[i].len; at += step) {
      probe_t p = {.port = f.port, .req = cases[i].req, .len = cases[i].len, .split = at};
      in_task(&f, probe_task, &p);
      cr_assert(p.n == whole.n && memcmp(p.status, whole.status, sizeof p.status) == 0 &&
                    strcmp(p.body0, whole.body0) == 0 && gone(p.end),
                "case %zu split at %zu: %d replies (%d, %d), whole: %d (%d, %d)", i, at, p.n,
                p.status[0], p.status[1], whole.n, whole.status[0], whole.status[1]);
    }
  }
  cr_assert_eq(atomic_load(&smuggled), 0);
  still_serves(&f);
  fixture_stop(&f);
}

/* 50,000 one-byte chunks: every byte counted, nothing lost between the
 * pauses at each chunk end and the buffer compaction. */
Test(hostile, fifty_thousand_one_byte_chunks_are_all_counted) {
  static char req[400000];
  sbuf_t b = {req, 0, sizeof req};
  fixture_t f;
  probe_t p;
  int i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  addf(&b, "POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           "Connection: close\r\n\r\n");
  for (i = 0; i < 50000; i++)
    addf(&b, "1\r\n%c\r\n", 'a' + i % 26);
  addf(&b, "0\r\n\r\n");
  p = probe(&f, req, b.len);
  cr_assert_eq(p.n, 1);
  cr_assert_eq(p.status[0], 200);
  cr_assert_str_eq(p.body0, "50000");
  still_serves(&f);
  fixture_stop(&f);
}

/* --- limits -------------------------------------------------------------- */

Test(hostile, header_counts_and_sizes_at_their_limits) {
  static char req[40000];
  sbuf_t b = {req, 0, sizeof req};
  fixture_t f;
  probe_t p;
  size_t head;
  int i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  /* 100 header lines: served; 101: 431 */
  addf(&b, "GET /describe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
  for (i = 0; i < 98; i++)
    addf(&b, "X%d: y\r\n", i);
  head = b.len;
  addf(&b, "\r\n");
  p = probe(&f, req, b.len);
  cr_assert_eq(p.status[0], 200);
  b.len = head;
  addf(&b, "X-One-Too-Many: y\r\n\r\n" SMUG);
  p = probe(&f, req, b.len);
  cr_assert_eq(p.status[0], 431);
  cr_assert(gone(p.end));
  /* one 10 KiB header value */
  b.len = 0;
  addf(&b, "GET /describe HTTP/1.1\r\nHost: x\r\nX-Big: ");
  addn(&b, 'v', 10240);
  addf(&b, "\r\n\r\n" SMUG);
  p = probe(&f, req, b.len);
  cr_assert_eq(p.status[0], 431);
  cr_assert(gone(p.end));
  /* a 10 KiB header name */
  b.len = 0;
  addf(&b, "GET /describe HTTP/1.1\r\nHost: x\r\n");
  addn(&b, 'N', 10240);
  addf(&b, ": v\r\n\r\n" SMUG);
  p = probe(&f, req, b.len);
  cr_assert_eq(p.status[0], 431);
  /* 32 KiB of empty lines before a request */
  b.len = 0;
  for (i = 0; i < 16384; i++)
    addf(&b, "\r\n");
  addf(&b, CLOSE_GET);
  p = probe(&f, req, b.len);
  cr_assert(p.status[0] == 400 || p.status[0] == 414 || p.status[0] == 431,
            "%d", p.status[0]);
  cr_assert(gone(p.end));
  cr_assert_eq(atomic_load(&smuggled), 0);
  still_serves(&f);
  fixture_stop(&f);
}

/* The body limit holds for chunked bodies too: 413, close, no file. */
Test(hostile, chunked_uploads_over_the_limit_are_413_and_leave_no_file) {
  static const size_t sizes[] = {65536, 65537, 300000};
  static char req[400000];
  sbuf_t b = {req, 0, sizeof req};
  char path[128];
  struct stat st;
  fixture_t f;
  size_t i, off, n;
  probe_t p;

  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.max_body_bytes = 65536});
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    b.len = 0;
    addf(&b, "PUT /up/c%zu HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n%s\r\n", i,
         sizes[i] <= 65536 ? "Connection: close\r\n" : "");
    for (off = 0; off < sizes[i]; off += n) {
      n = sizes[i] - off < 10000 ? sizes[i] - off : 10000;
      addf(&b, "%zx\r\n", n);
      addn(&b, 'u', n);
      addf(&b, "\r\n");
    }
    addf(&b, "0\r\n\r\n%s", sizes[i] > 65536 ? SMUG : "");
    p = probe(&f, req, b.len);
    snprintf(path, sizeof path, "%s/c%zu", f.dir, i);
    if (sizes[i] <= 65536) {
      cr_expect_eq(p.status[0], 201, "%zu bytes: %d", sizes[i], p.status[0]);
      cr_expect_eq(stat(path, &st), 0);
    } else {
      cr_expect_eq(p.status[0], 413, "%zu bytes: %d", sizes[i], p.status[0]);
      cr_expect_eq(p.n, 1);
      cr_expect(gone(p.end));
      cr_expect(stat(path, &st) != 0, "%zu bytes: the file was left", sizes[i]);
    }
  }
  /* the limit with a declared length: 413 before any byte of it, no
   * 100 Continue */
  p = probe(&f, LIT("PUT /up/d HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n"
                    "Expect: 100-continue\r\n\r\n"));
  cr_expect_eq(p.status[0], 413);
  cr_expect_eq(p.n, 1);
  cr_assert_eq(atomic_load(&smuggled), 0);
  still_serves(&f);
  fixture_stop(&f);
}

/* --- Expect and HEAD ----------------------------------------------------- */

typedef struct expect10 {
  int port;
  int early;       /* bytes the server sent before the body */
  reply_t r;
  int err;
} expect10_t;

/* HTTP/1.0 knows no 100 Continue: the server must ignore the expectation
 * (RFC 9110 10.1.1) and just read the body. */
static void *expect_in_1_0(void *arg) {
  expect10_t *x = arg;
  client_t *cl = malloc(sizeof *cl);
  static const char head[] = "PUT /sink HTTP/1.0\r\nExpect: 100-continue\r\n"
      "Content-Length: 5\r\n\r\n";

  if ((x->err = client_open(cl, x->port)) != 0)
    goto out;
  corio_write(cl->c, head, sizeof head - 1);
  if (client_more(cl, corio_now() + 300) == 0)
    x->early = (int)cl->len;
  corio_write(cl->c, "hello", 5);
  x->err = read_reply(cl, &x->r, 0, corio_now() + 3000);
  corio_close(cl->c);
out:
  free(cl);
  return NULL;
}

Test(hostile, expect_100_continue_is_ignored_in_http_1_0) {
  expect10_t x = {0};
  fixture_t f;
  probe_t p;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  x.port = f.port;
  in_task(&f, expect_in_1_0, &x);
  cr_assert_eq(x.err, 0, "%s", uv_strerror(x.err));
  cr_assert_eq(x.early, 0, "the server sent something before the body");
  cr_assert_eq(x.r.status, 200);
  cr_assert_str_eq(x.r.body, "5");
  free(x.r.body);
  /* all at once: one answer, no interim one */
  p = probe(&f, LIT("PUT /sink HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
      "hello"));
  cr_assert_eq(p.n, 1);
  cr_assert_eq(p.status[0], 200);
  cr_assert_str_eq(p.body0, "5");
  still_serves(&f);
  fixture_stop(&f);
}

typedef struct heads {
  int port;
  reply_t r[6];
  int err, after;
  char tail[64];
} heads_t;

static void *head_pipeline(void *arg) {
  heads_t *h = arg;
  client_t *cl = malloc(sizeof *cl);
  static const char reqs[] =
      "HEAD /chunky HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /sized HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /down/file HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /describe HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /describe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  int i;

  if ((h->err = client_open(cl, h->port)) != 0)
    goto out;
  corio_write(cl->c, reqs, sizeof reqs - 1);
  for (i = 0; i < 6; i++)
    if ((h->err = read_reply(cl, &h->r[i], i < 5, corio_now() + 3000)) != 0)
      break;
  /* nothing after the last answer but the close */
  h->after = (int)cl->len;
  if (client_more(cl, corio_now() + 2000) == 0)
    h->after = (int)cl->len;
  corio_close(cl->c);
out:
  free(cl);
  return NULL;
}

Test(hostile, head_answers_carry_no_body_even_when_streamed) {
  heads_t h = {0};
  fixture_t f;
  char path[128];
  FILE *fp;
  probe_t p;
  int i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  snprintf(path, sizeof path, "%s/file", f.dir);
  cr_assert_not_null(fp = fopen(path, "w"));
  for (i = 0; i < 1000; i++)
    fputs("0123456789", fp);
  fclose(fp);
  h.port = f.port;
  in_task(&f, head_pipeline, &h);
  cr_assert_eq(h.err, 0, "%s", uv_strerror(h.err));
  for (i = 0; i < 6; i++)
    cr_assert_eq(h.r[i].status, 200, "reply %d: %d", i, h.r[i].status);
  cr_assert(strcasestr(h.r[0].head, "Transfer-Encoding: chunked") != NULL);
  cr_assert(strcasestr(h.r[1].head, "Content-Length: 11\r\n") != NULL);
  cr_assert(strcasestr(h.r[2].head, "Content-Length: 10000\r\n") != NULL);
  cr_assert(strcasestr(h.r[3].head, "Content-Length: 67108864\r\n") != NULL);
  cr_assert(strncmp(h.r[5].body, "GET /describe", 13) == 0, "%s", h.r[5].body);
  cr_assert_eq(h.after, 0, "%d bytes after the last answer", h.after);
  for (i = 0; i < 6; i++)
    free(h.r[i].body);
  /* HTTP/1.0, streamed without a length: the head, then the close */
  p = probe(&f, LIT("HEAD /chunky HTTP/1.0\r\n\r\n"));
  cr_assert_eq(p.n, 1);
  cr_assert(strcasestr(p.head0, "Connection: close") != NULL);
  cr_assert(gone(p.end), "%s", uv_err_name(p.end));
  still_serves(&f);
  fixture_stop(&f);
}

/* --- floods -------------------------------------------------------------- */

typedef struct flood {
  corio_rt_t *rt;
  int port, n;
  int answered, in_order, err;
  ssize_t wrote;
} flood_t;

typedef struct writer {
  corio_tcp_t *c;
  const char *buf;
  size_t len;
  ssize_t w;
} writer_t;

static void *write_all(void *arg) {
  writer_t *w = arg;
  w->w = corio_write_dl(w->c, w->buf, w->len, corio_now() + 20000);
  return NULL;
}

static void *flood_task(void *arg) {
  flood_t *fl = arg;
  client_t *cl = malloc(sizeof *cl);
  size_t cap = (size_t)fl->n * 48, len = 0;
  char *reqs = malloc(cap), want[16];
  uint64_t dl = corio_now() + 25000;
  corio_task_t *wt;
  writer_t w;
  int i;

  cr_assert_not_null(reqs);
  for (i = 0; i < fl->n; i++)
    len += (size_t)snprintf(reqs + len, cap - len, "GET /q?%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
  if ((fl->err = client_open(cl, fl->port)) != 0)
    goto out;
  w = (writer_t){cl->c, reqs, len, 0};
  /* one write of everything, read meanwhile */
  cr_assert_eq(corio_spawn(fl->rt, write_all, &w, &wt), 0);
  fl->in_order = 1;
  for (i = 0; i < fl->n; i++) {
    reply_t r;
    if ((fl->err = read_reply(cl, &r, 0, dl)) != 0)
      break;
    snprintf(want, sizeof want, "%d", i);
    if (r.status != 200 || strcmp(r.body, want) != 0)
      fl->in_order = 0;
    fl->answered++;
    free(r.body);
  }
  corio_join(wt, NULL);
  fl->wrote = w.w;
  corio_close(cl->c);
out:
  free(reqs);
  free(cl);
  return NULL;
}

Test(hostile, ten_thousand_pipelined_requests_in_one_write_are_answered_in_order,
     .timeout = 60) {
  fixture_t f;
  flood_t fl = {.n = CORIO_TEST_UNDER_TSAN ? 2000 : 10000};

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  fl.rt = f.rt;
  fl.port = f.port;
  in_task(&f, flood_task, &fl);
  cr_assert_eq(fl.err, 0, "%s after %d answers", uv_strerror(fl.err), fl.answered);
  cr_assert_eq(fl.answered, fl.n);
  cr_assert(fl.in_order);
  cr_assert_gt(fl.wrote, 0);
  still_serves(&f);
  fixture_stop(&f);
}

/* A client pipelines requests for 16 KiB answers and never reads one: the
 * server must not buffer answers for it (bounded memory), must keep
 * serving others, and must give up on it after the idle timeout. */
Test(hostile, a_pipelining_client_that_never_reads_costs_bounded_memory, .timeout = 60) {
  static const char get[] = "GET /blob HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t len = (sizeof get - 1) * 4096, off = 0, rss0, rss_max, now;
  static char reqs[(sizeof "GET /blob HTTP/1.1\r\nHost: x\r\n\r\n" - 1) * 4096];
  uint64_t t0, stuck_since = 0;
  fixture_t f;
  int fd, i, served;

  for (i = 0; i < 4096; i++)
    memcpy(reqs + (size_t)i * (sizeof get - 1), get, sizeof get - 1);
  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.idle_timeout_ms = 1000});
  still_serves(&f); /* warm up: the runtime's own memory is in rss0 */
  rss0 = rss_max = rss_kib();
  fd = raw_connect(f.port);
  t0 = corio_now();
  /* write until the server stops taking requests (its buffer and the
   * kernel's are full) for 300 ms, at most 3 s */
  while (corio_now() - t0 < 3000) {
    ssize_t n = send(fd, reqs + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      off = (off + (size_t)n) % len;
      stuck_since = 0;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (stuck_since == 0)
        stuck_since = corio_now();
      else if (corio_now() - stuck_since > 300)
        break;
      usleep(2000);
    } else {
      break;
    }
    if ((now = rss_kib()) > rss_max)
      rss_max = now;
  }
  served = atomic_load(&blob_served);
  cr_assert_gt(served, 10, "only %d answers went out", served);
  /* the stuck connection holds no one else up */
  still_serves(&f);
  /* and the server gives up on it: a write stalled for the idle timeout */
  for (t0 = corio_now(); atomic_load(&blob_failed) == 0 && corio_now() - t0 < 5000;) {
    usleep(10000);
    if ((now = rss_kib()) > rss_max)
      rss_max = now;
  }
  cr_assert_eq(atomic_load(&blob_failed), 1, "the server never gave up on the reader");
  cr_assert_lt(corio_now() - t0, 2500, "the stalled write was given up late");
  cr_log_info("%d answers before the stall, given up after %llu ms, RSS +%zu KiB", served,
              (unsigned long long)(corio_now() - t0), rss_max - rss0);
  cr_assert_lt(atomic_load(&blob_served) - served, 64,
               "answers kept going out to a client that reads nothing");
  cr_assert_lt(rss_max - rss0, 16 * 1024, "RSS grew by %zu KiB", rss_max - rss0);
  close(fd);
  still_serves(&f);
  fixture_stop(&f);
}

/* --- slowloris -------------------------------------------------------------- */

typedef struct slow {
  int port;
  const char *first;   /* a complete request before, or NULL */
  const char *trickle; /* sent a byte per 100 ms */
  int status, closed;
  uint64_t waited;     /* from the first trickled byte to the answer */
} slow_t;

static void *slowloris(void *arg) {
  slow_t *s = arg;
  client_t *cl = malloc(sizeof *cl);
  uint64_t t0 = 0;
  reply_t r;
  size_t i;
  int err = 0;

  if (client_open(cl, s->port) != 0)
    goto out;
  if (s->first != NULL) {
    corio_write(cl->c, s->first, strlen(s->first));
    if (read_reply(cl, &r, 0, corio_now() + 3000) != 0 || r.status != 200)
      s->status = -1;
    free(r.body);
    if (s->status != 0)
      goto close;
  }
  for (i = 0; s->trickle[i] != '\0'; i++) {
    if (corio_write_dl(cl->c, s->trickle + i, 1, corio_now() + 1000) < 0)
      break;
    if (i == 0)
      t0 = corio_now();
    err = client_more(cl, corio_now() + 100); /* the pause, unless it answers */
    if (err != UV_ETIMEDOUT)
      break;
  }
  if (read_reply(cl, &r, 0, corio_now() + 3000) == 0) {
    s->status = r.status;
    free(r.body);
  }
  s->waited = corio_now() - t0;
  s->closed = cl->len == 0 && gone(client_more(cl, corio_now() + 1000));
close:
  corio_close(cl->c);
out:
  free(cl);
  return NULL;
}

Test(hostile, slowloris_gets_408_at_the_header_timeout) {
  slow_t s[3] = {
      {.trickle = "GET /describe HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
          "\r\n"},
      {.first = "GET /describe HTTP/1.1\r\nHost: x\r\n\r\n",
       .trickle = "GET /describe HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
           "\r\n"},
      {.trickle = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"},
  };
  corio_task_t *t[3];
  fixture_t f;
  int i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.header_timeout_ms = 500, .idle_timeout_ms = 5000});
  for (i = 0; i < 3; i++) {
    s[i].port = f.port;
    cr_assert_eq(corio_spawn(f.rt, slowloris, &s[i], &t[i]), 0);
  }
  still_serves(&f); /* while they crawl */
  for (i = 0; i < 3; i++) {
    corio_join(t[i], NULL);
    cr_expect_eq(s[i].status, 408, "slowloris %d: %d", i, s[i].status);
    cr_expect(s[i].closed, "slowloris %d: left open", i);
    cr_expect(s[i].waited >= 480, "slowloris %d: after %llu ms", i,
              (unsigned long long)s[i].waited);
    cr_expect(s[i].waited < 500 + 400, "slowloris %d: after %llu ms", i,
              (unsigned long long)s[i].waited);
  }
  still_serves(&f);
  fixture_stop(&f);
}

/* --- half-closes, resets, churn ------------------------------------------------ */

typedef struct half {
  int port;
  const char *req;
  size_t len;
  int head;
  int n, status[4];
  char body[64];
  int end;
} half_t;

static void *half_close(void *arg) {
  half_t *h = arg;
  client_t *cl = malloc(sizeof *cl);
  uint64_t dl = corio_now() + 3000;
  reply_t r;

  if ((h->end = client_open(cl, h->port)) != 0)
    goto out;
  corio_write(cl->c, h->req, h->len);
  corio_shutdown(cl->c); /* no more requests: the peer reads EOF */
  while ((h->end = read_reply(cl, &r, h->head, dl)) == 0) {
    if (h->n < 4)
      h->status[h->n] = r.status;
    if (h->n == 0)
      snprintf(h->body, sizeof h->body, "%s", r.body != NULL ? r.body : "");
    h->n++;
    free(r.body);
  }
  free(r.body);
  corio_close(cl->c);
out:
  free(cl);
  return NULL;
}

Test(hostile, half_closed_clients_still_get_their_answers) {
  static const struct {
    const char *req;
    size_t len;
    int n;
    const char *body;
  } cases[] = {
      {LIT("GET /q?x HTTP/1.1\r\nHost: x\r\n\r\n"), 1, "x"},
      {LIT("POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"), 1, "5"},
      {LIT("POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n"), 1, "6"},
      {LIT("PUT /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
           "hello"),
       2, ""},
      {LIT("GET /q?1 HTTP/1.1\r\nHost: x\r\n\r\nGET /q?2 HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /q?3 HTTP/1.1\r\nHost: x\r\n\r\n"), 3, "1"},
      {LIT("HEAD /chunky HTTP/1.1\r\nHost: x\r\n\r\n"), 1, ""},
      {LIT("GET /chunky HTTP/1.0\r\n\r\n"), 1, "hello world"},
  };
  fixture_t f;
  size_t i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    half_t h = {.port = f.port, .req = cases[i].req, .len = cases[i].len};
    h.head = strncmp(h.req, "HEAD", 4) == 0;
    in_task(&f, half_close, &h);
    cr_expect_eq(h.n, cases[i].n, "case %zu: %d answers (%s)", i, h.n, uv_err_name(h.end));
    cr_expect(gone(h.end), "case %zu: %s", i, uv_err_name(h.end));
    cr_expect_eq(h.status[h.n > 0 ? h.n - 1 : 0], 200, "case %zu", i);
    if (cases[i].body[0] != '\0')
      cr_expect(strcmp(h.body, cases[i].body) == 0, "case %zu", i);
  }
  still_serves(&f);
  fixture_stop(&f);
}

Test(hostile, resets_mid_download_and_mid_upload_cost_only_their_connection,
     .timeout = 60) {
  static const char get[] = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
  static const char put[] = "PUT /up/rst HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n";
  static char junk[200000];
  char buf[65536], path[128];
  struct stat st;
  fixture_t f;
  int i, fd;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  for (i = 0; i < 10; i++) {
    size_t got = 0;
    ssize_t n;
    fd = raw_connect(f.port);
    cr_assert_eq(send(fd, get, sizeof get - 1, MSG_NOSIGNAL), (ssize_t)sizeof get - 1);
    while (got < 100000 && (n = recv(fd, buf, sizeof buf, 0)) > 0)
      got += (size_t)n;
    cr_assert_geq(got, 100000);
    raw_reset(fd);
  }
  cr_assert_eq(wait_for(&big_aborted, 10, 5000), 10, "downloads still running");
  cr_assert_eq(atomic_load(&big_finished), 0);
  /* an upload reset halfway: the handler sees it and removes its file */
  snprintf(path, sizeof path, "%s/rst", f.dir);
  fd = raw_connect(f.port);
  cr_assert_eq(send(fd, put, sizeof put - 1, MSG_NOSIGNAL), (ssize_t)sizeof put - 1);
  cr_assert_eq(send(fd, junk, sizeof junk, MSG_NOSIGNAL), (ssize_t)sizeof junk);
  for (i = 0; i < 300 && stat(path, &st) != 0; i++)
    usleep(10000);
  cr_assert_eq(stat(path, &st), 0, "the upload never began");
  raw_reset(fd);
  for (i = 0; i < 300 && stat(path, &st) == 0; i++)
    usleep(10000);
  cr_assert_neq(stat(path, &st), 0, "the reset upload was left behind");
  still_serves(&f);
  fixture_stop(&f);
}

typedef struct crowd {
  int port;
  _Atomic(int) ok, refused, failed;
  corio_wg_t hold;
} crowd_t;

/* Open, one request, wait until all are open, a second request. */
static void *crowd_client(void *arg) {
  crowd_t *cr = arg;
  client_t *cl = malloc(sizeof *cl);
  static const char get[] = "GET /q?c HTTP/1.1\r\nHost: x\r\n\r\n";
  int i, held = 0;

  if (client_open(cl, cr->port) != 0) {
    atomic_fetch_add(&cr->failed, 1);
    goto out;
  }
  for (i = 0; i < 2; i++) {
    reply_t r;
    corio_write_dl(cl->c, get, sizeof get - 1, corio_now() + 3000);
    if (read_reply(cl, &r, 0, corio_now() + 3000) != 0) {
      atomic_fetch_add(&cr->failed, 1);
      free(r.body);
      break;
    }
    atomic_fetch_add(r.status == 200 ? &cr->ok : r.status == 503 ? &cr->refused : &cr->failed, 1);
    free(r.body);
    if (i == 0) {
      corio_wg_done(&cr->hold);
      held = 1;
      corio_wg_wait_dl(&cr->hold, corio_now() + 3000);
    }
  }
  corio_close(cl->c);
out:
  if (!held)
    corio_wg_done(&cr->hold);
  free(cl);
  return NULL;
}

/* n clients at once, twice each: all answered 200? */
static int crowd_all_served(fixture_t *f, int n) {
  corio_task_t **t = calloc((size_t)n, sizeof *t);
  crowd_t *cr = calloc(1, sizeof *cr);
  int i, all;

  cr->port = f->port;
  corio_wg_add(&cr->hold, n);
  for (i = 0; i < n; i++)
    cr_assert_eq(corio_spawn(f->rt, crowd_client, cr, &t[i]), 0);
  for (i = 0; i < n; i++)
    corio_join(t[i], NULL);
  all = atomic_load(&cr->ok) == 2 * n;
  free(t);
  free(cr);
  return all;
}

/* Connections that open and vanish in every way must give their slot
 * back: afterwards max_connections clients are served at once. */
Test(hostile, a_thousand_vanishing_connections_leak_no_slots, .timeout = 60) {
  enum { SLOTS = 32, BATCH = 100 };
  static const char part[] = "GET /describe HTT";
  static const char full[] = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
  fixture_t f;
  int b, i, fds[BATCH], tries;

  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.max_connections = SLOTS, .header_timeout_ms = 5000,
                                        .idle_timeout_ms = 5000});
  for (b = 0; b < 10; b++) {
    for (i = 0; i < BATCH; i++)
      fds[i] = raw_connect(f.port);
    for (i = 0; i < BATCH; i++) {
      switch (i % 5) {
      case 0: close(fds[i]); break;
      case 1: raw_reset(fds[i]); break;
      case 2: send(fds[i], part, sizeof part - 1, MSG_NOSIGNAL); close(fds[i]); break;
      case 3: send(fds[i], part, sizeof part - 1, MSG_NOSIGNAL); raw_reset(fds[i]); break;
      default: send(fds[i], full, sizeof full - 1, MSG_NOSIGNAL); raw_reset(fds[i]); break;
      }
    }
  }
  /* the server notices each of them soon, not at a timeout */
  for (tries = 0; tries < 20 && !crowd_all_served(&f, SLOTS); tries++)
    usleep(100000);
  cr_assert_lt(tries, 20, "connection slots were not given back");
  still_serves(&f);
  fixture_stop(&f);
}

/* Graceful shutdown with hostile clients connected: a slowloris head, an
 * upload stalled mid-body, a client that never reads its answers. Shutdown
 * returns by its deadline (cutting the busy ones), every connection is
 * closed, no partial upload is left, and the server can be freed. */
typedef struct stopper {
  corio_http_server_t *srv;
  uint64_t deadline_ms;
} stopper_t;

static void *stop_task(void *arg) {
  stopper_t *st = arg;
  return (void *)(intptr_t)corio_http_server_shutdown(st->srv, corio_now() + st->deadline_ms);
}

Test(hostile, shutdown_cuts_hostile_connections_at_its_deadline, .timeout = 60) {
  static const char partial[] = "GET /describe HTTP/1.1\r\nHost: x\r\nX-Slow: aaa";
  static const char get[] = "GET /blob HTTP/1.1\r\nHost: x\r\n\r\n";
  static char reqs[(sizeof get - 1) * 2048];
  char put[128], buf[4096], path[128], cmd[160];
  int fds[7], i, n;
  corio_task_t *t;
  stopper_t st;
  struct stat sb;
  fixture_t f;
  uint64_t t0;
  void *res;

  memset(buf, 'u', sizeof buf);
  fixture_start(&f, (corio_rt_options_t){.workers = 2},
                &(corio_http_server_options_t){.header_timeout_ms = 10000, .idle_timeout_ms = 10000});
  for (i = 0; i < 3; i++) { /* slowloris */
    fds[i] = raw_connect(f.port);
    cr_assert_eq(send(fds[i], partial, sizeof partial - 1, MSG_NOSIGNAL),
                 (ssize_t)sizeof partial - 1);
  }
  for (i = 3; i < 6; i++) { /* uploads stalled after 1000 bytes */
    n = snprintf(put, sizeof put, "PUT /up/s%d HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 1000000\r\n\r\n", i);
    fds[i] = raw_connect(f.port);
    cr_assert_eq(send(fds[i], put, (size_t)n, MSG_NOSIGNAL), n);
    cr_assert_eq(send(fds[i], buf, 1000, MSG_NOSIGNAL), 1000);
  }
  for (i = 0; i < 2048; i++) /* a reader of nothing */
    memcpy(reqs + (size_t)i * (sizeof get - 1), get, sizeof get - 1);
  fds[6] = raw_connect(f.port);
  send(fds[6], reqs, sizeof reqs, MSG_NOSIGNAL | MSG_DONTWAIT);
  for (i = 3; i < 6; i++) { /* the uploads have begun */
    snprintf(path, sizeof path, "%s/s%d", f.dir, i);
    for (n = 0; n < 300 && stat(path, &sb) != 0; n++)
      usleep(10000);
    cr_assert_eq(stat(path, &sb), 0, "upload %d never began", i);
  }
  cr_assert_gt(wait_for(&blob_served, 20, 3000), 10);
  usleep(100000); /* the reader of nothing stalls the server's writes */

  t0 = corio_now();
  st = (stopper_t){f.srv, 500};
  cr_assert_eq(corio_spawn(f.rt, stop_task, &st, &t), 0);
  cr_assert_eq(corio_join(t, &res), 0);
  cr_assert((intptr_t)res == 0 || (intptr_t)res == UV_ETIMEDOUT, "shutdown: %s",
            uv_strerror((int)(intptr_t)res));
  cr_assert_lt(corio_now() - t0, 2000, "shutdown took %llu ms",
               (unsigned long long)(corio_now() - t0));
  cr_log_info("shutdown: %s after %llu ms", uv_err_name((int)(intptr_t)res),
              (unsigned long long)(corio_now() - t0));
  cr_assert_eq(corio_join(f.runner, &res), 0);
  cr_assert_eq((intptr_t)res, 0);
  cr_assert_eq(corio_http_server_free(f.srv), 0);
  for (i = 3; i < 6; i++) {
    snprintf(path, sizeof path, "%s/s%d", f.dir, i);
    cr_expect(stat(path, &sb) != 0, "the cut upload %d was left behind", i);
  }
  /* every client sees its connection end (FIN or reset), none hangs */
  for (i = 0; i < 7; i++) {
    ssize_t r;
    while ((r = recv(fds[i], buf, sizeof buf, 0)) > 0) {
    }
    cr_expect(r == 0 || (r < 0 && errno == ECONNRESET), "client %d: %s", i,
              r < 0 ? strerror(errno) : "EOF");
    close(fds[i]);
  }
  cr_assert_eq(corio_rt_free(f.rt), 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", f.dir);
  if (system(cmd) != 0) { /* best effort */ }
}

/* ===========================================================================
 * Known library bugs: each test states what a hardened server does; they
 * are disabled until the library is fixed (see the report in each).
 * ======================================================================== */

/* Content-Length above INT64_MAX passes llhttp (it fits a uint64) and is
 * cast to int64_t in finish_head (lib/http/parse.c): 2^64-1 becomes -1
 * (corio_http_content_length says "chunked"), 2^63 becomes INT64_MIN; the
 * "> max_body_bytes" test sees a negative number, so no 413: the handler
 * runs and waits for an exabyte until the idle timeout, and nobody
 * answers. Expected: 413 (or 400) at once, as for 99999999999. */
Test(hostile_fixed, content_length_beyond_int64_is_413_at_once) {
  static const attack_t cases[] = {
      {LIT(POST_SINK "Content-Length: 18446744073709551615\r\n\r\nhello"), {400, 413}},
      {LIT(POST_SINK "Content-Length: 9223372036854775808\r\n\r\nhello"), {400, 413}},
      {LIT(POST_SINK "Content-Length: 9223372036854775807\r\n\r\nhello"), {400, 413}},
  };
  fixture_t f;
  size_t i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    probe_t p = {.port = f.port, .req = cases[i].req, .len = cases[i].len, .wait_ms = 1500};
    in_task(&f, probe_task, &p);
    cr_expect(p.n == 1 && (p.status[0] == 400 || p.status[0] == 413),
              "case %zu: %d replies, %d, %s after %llu ms", i, p.n, p.status[0],
              uv_err_name(p.end), (unsigned long long)p.took_ms);
  }
  still_serves(&f);
  fixture_stop(&f);
}

/* Obsolete line folding is refused (400) when the first line has a value,
 * but when it is empty llhttp starts the value after the fold, the CR LF
 * is not in the span finish_head checks, and the folded header is taken:
 * "Transfer-Encoding:\r\n chunked" frames the body as chunked (the shape
 * of CVE-2022-32215), "Content-Length:\r\n 5" as 5 bytes. The contract
 * (and "X: a\r\n folded" -> 400) says obs-fold is refused. */
Test(hostile_fixed, obs_fold_after_an_empty_value_is_refused) {
  static const attack_t cases[] = {
      {LIT(POST_SINK "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: \r\n\tchunked\r\n\r\n0\r\n\r\n" SMUG), {400}},
      {LIT(POST_SINK "Content-Length:\r\n 35\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost:\r\n x\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\r\nX:\r\n folded\r\n\r\n" SMUG), {400}},
  };
  fixture_t f;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  run_attacks(&f, cases, sizeof cases / sizeof cases[0]);
  still_serves(&f);
  fixture_stop(&f);
}

/* A request with "Upgrade: x" and "Connection: Upgrade" (what curl
 * --http2 sends to http:// URLs: Upgrade: h2c) is served, but llhttp then
 * stops with HPE_PAUSED_UPGRADE, which execute() (lib/http/parse.c) takes
 * for an error: the next request on the connection gets 400. A server
 * that does not upgrade must ignore Upgrade (RFC 9110 7.8) and go on. */
Test(hostile_fixed, an_ignored_upgrade_does_not_break_the_next_request) {
  static const char *const reqs[] = {
      "GET /q?1 HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
      "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
      "GET /q?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "GET /q?1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
      "GET /q?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "POST /q?1 HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nConnection: Upgrade\r\n"
      "Content-Length: 5\r\n\r\nhello"
      "GET /q?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  };
  fixture_t f;
  size_t i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  for (i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
    probe_t p = probe(&f, reqs[i], strlen(reqs[i]));
    cr_expect_eq(p.n, 2, "case %zu: %d replies", i, p.n);
    cr_expect_eq(p.status[0], 200, "case %zu", i);
    cr_expect_eq(p.status[1], 200, "case %zu: the second got %d", i, p.status[1]);
  }
  still_serves(&f);
  fixture_stop(&f);
}

/* RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
 * framing; the server must close after answering it. With "Connection:
 * keep-alive" the server keeps the connection and serves what follows. */
Test(hostile_fixed, http_1_0_with_transfer_encoding_closes_after_the_answer) {
  static const attack_t cases[] = {
      {LIT("POST /describe HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nhello\r\n0\r\n\r\n" SMUG), {200, 400}},
  };
  fixture_t f;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  run_attacks(&f, cases, 1);
  still_serves(&f);
  fixture_stop(&f);
}

typedef struct endless {
  int port;
  const char *head;
  char fill;
  size_t bytes;       /* of fill after head */
  const char *tail;
  int status, closed;
  uint64_t took;
} endless_t;

/* head, then `bytes` of fill, then tail; what did the server say? */
static void *endless_client(void *arg) {
  endless_t *e = arg;
  client_t *cl = malloc(sizeof *cl);
  char *chunk = malloc(65536);
  uint64_t t0 = corio_now();
  size_t sent = 0;
  reply_t r;
  int err;

  memset(chunk, e->fill, 65536);
  if (client_open(cl, e->port) != 0)
    goto out;
  corio_write(cl->c, e->head, strlen(e->head));
  while (sent < e->bytes) {
    size_t n = e->bytes - sent < 65536 ? e->bytes - sent : 65536;
    if (corio_write_dl(cl->c, chunk, n, corio_now() + 2000) < 0)
      break; /* refused already */
    sent += n;
  }
  if (sent == e->bytes && e->tail != NULL)
    corio_write_dl(cl->c, e->tail, strlen(e->tail), corio_now() + 2000);
  err = read_reply(cl, &r, 0, corio_now() + 1000);
  if (err == 0)
    e->status = r.status;
  else
    e->closed = gone(err);
  free(r.body);
  e->took = corio_now() - t0;
  corio_close(cl->c);
out:
  free(chunk);
  free(cl);
  return NULL;
}

/* Bytes that are not body bytes have no limit: a chunk extension, a
 * chunk-size line of leading zeros and a trailer section are all read
 * for ever (llhttp consumes them, body_read cuts them from the buffer,
 * max_body_bytes counts only data, the idle deadline moves with every
 * read). The shape of CVE-2024-22019 (Node: unbounded chunk extensions);
 * Go caps a chunk line at 4 KiB and non-data overhead, nginx and Go cap
 * trailers with the header limit. Expected: refused (4xx or closed) long
 * before 1 MiB of it. */
Test(hostile_fixed, chunk_lines_and_trailers_are_bounded, .timeout = 60) {
  endless_t cases[] = {
      {.head = POST_SINK "Transfer-Encoding: chunked\r\n\r\n1;ext=", .fill = 'e',
       .bytes = 1 << 20, .tail = "\r\nx\r\n0\r\n\r\n"},
      {.head = POST_SINK "Transfer-Encoding: chunked\r\n\r\n", .fill = '0',
       .bytes = 1 << 20, .tail = "1\r\nx\r\n0\r\n\r\n"},
      {.head = POST_SINK "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-Trailer: ",
       .fill = 't', .bytes = 1 << 20, .tail = "\r\n\r\n"},
  };
  fixture_t f;
  size_t i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cases[i].port = f.port;
    in_task(&f, endless_client, &cases[i]);
    cr_expect((cases[i].status >= 400 && cases[i].status < 500) || cases[i].closed,
              "case %zu: 1 MiB of it was taken (answer %d)", i, cases[i].status);
  }
  still_serves(&f);
  fixture_stop(&f);
}

/* RFC 9112 3.2: "A server MUST respond with a 400 (Bad Request) status
 * code to any HTTP/1.1 request message that ... contains ... a Host
 * header field with an invalid field value." finish_head counts Host
 * lines but never looks at the value: handlers get "a b", "x/y". */
Test(hostile_fixed, invalid_host_values_are_400) {
  static const attack_t cases[] = {
      {LIT("GET /describe HTTP/1.1\r\nHost: a b\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x/y\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: x\\y\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: \"x\"\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe HTTP/1.1\r\nHost: <x>\r\n\r\n" SMUG), {400}},
  };
  fixture_t f;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  run_attacks(&f, cases, sizeof cases / sizeof cases[0]);
  still_serves(&f);
  fixture_stop(&f);
}

/* RFC 9112 3.2.2: a server MUST accept the absolute-form. The path and
 * query accessors cut only at '?', so for "http://example.com/describe?a=1"
 * the path is "http://example.com/describe" and no route matches. */
Test(hostile_fixed, absolute_form_targets_have_a_path) {
  fixture_t f;
  probe_t p;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  p = probe(&f, LIT("GET http://example.com/describe?a=1 HTTP/1.1\r\nHost: example.com\r\n"
                    "Connection: close\r\n\r\n"));
  cr_expect_eq(p.status[0], 200, "%d", p.status[0]);
  cr_expect(strstr(p.body0, "p=/describe q=a=1") != NULL, "%s", p.body0);
  still_serves(&f);
  fixture_stop(&f);
}

/* RFC 9112 3.2.4: the asterisk-form is only for OPTIONS; nginx and Go
 * answer 400 to "GET *". The server hands it to the handler. */
Test(hostile_fixed, asterisk_form_is_only_for_options) {
  static const attack_t cases[] = {
      {LIT("GET * HTTP/1.1\r\nHost: x\r\n\r\n" SMUG), {400}},
      {LIT("POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" SMUG), {400}},
  };
  fixture_t f;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  run_attacks(&f, cases, sizeof cases / sizeof cases[0]);
  still_serves(&f);
  fixture_stop(&f);
}

/* A chunk that declares more than max_body_bytes (here 16 EiB - 1 with a
 * 1 MiB limit) is taken: the handler waits for its bytes until the idle
 * timeout and nobody answers. Go refuses chunk sizes of 16 hex digits,
 * nginx sizes over its off_t; a chunk over the body limit can be refused
 * at once, like a Content-Length over it (413). */
Test(hostile_fixed, a_chunk_larger_than_the_body_limit_is_refused_at_once) {
  static const char *const sizes[] = {"ffffffffffffffff", "7fffffffffffffff", "200000"};
  char req[256];
  fixture_t f;
  size_t i;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    int k = snprintf(req, sizeof req, POST_SINK "Transfer-Encoding: chunked\r\n\r\n%s\r\nhello",
                     sizes[i]);
    probe_t p = {.port = f.port, .req = req, .len = (size_t)k, .wait_ms = 1500};
    in_task(&f, probe_task, &p);
    cr_expect(p.n == 1 && (p.status[0] == 400 || p.status[0] == 413),
              "chunk of 0x%s: %d replies (%d), %s after %llu ms", sizes[i], p.n, p.status[0],
              uv_err_name(p.end), (unsigned long long)p.took_ms);
  }
  still_serves(&f);
  fixture_stop(&f);
}


/* Connection in the trailer section: llhttp applies it at the end of the
 * message (F_CONNECTION_CLOSE), and in its non-strict build a message
 * that should not keep the connection alive leaves the parser in its
 * "closed" state, where every later byte is swallowed silently. The
 * server decided keep-alive from the head (finish_head) and goes on: the
 * next request is eaten and the client gets 408 at the header timeout.
 * Expected: trailers do not decide the connection (RFC 9110 6.5.1), the
 * next request is served; or the server closes after the answer. */
Test(hostile_fixed, connection_close_in_trailers_does_not_eat_the_next_request) {
  fixture_t f;
  probe_t p;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  p = probe(&f, LIT(POST_DESCRIBE "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
                    "Connection: close\r\n\r\n" CLOSE_GET));
  cr_expect_eq(p.status[0], 200);
  cr_expect(p.n == 1 || (p.n == 2 && p.status[1] == 200),
            "%d replies, the second %d after %llu ms", p.n, p.status[1],
            (unsigned long long)p.took_ms);
  cr_expect(gone(p.end));
  still_serves(&f);
  fixture_stop(&f);
}

/* Trailer lines are not checked as header lines are (finish_head checks
 * names and values of the head only; llhttp's non-strict build lets these
 * through): a name with a space, an empty name, an obs-fold. Expected:
 * 400 and close, as for the same lines in the head. */
Test(hostile_fixed, malformed_trailers_are_400) {
  static const attack_t cases[] = {
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nBad Trailer: x\r\n"
           "\r\n" SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n: x\r\n\r\n"
           SMUG), {400}},
      {LIT(POST_SINK "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: a\r\n folded\r\n"
           "\r\n" SMUG), {400}},
  };
  fixture_t f;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  run_attacks(&f, cases, sizeof cases / sizeof cases[0]);
  still_serves(&f);
  fixture_stop(&f);
}

/* llhttp's non-strict build takes HTAB and FF inside the request target:
 * "GET /a\tb HTTP/1.1" reaches the handler with target "/a\tb". A front
 * end splitting the request line on whitespace (RFC 9112 3 lets it) reads
 * target "/a" and version "b". RFC 9112 3.2: no whitespace in a target;
 * an invalid request line should get 400, not be "corrected". */
Test(hostile_fixed, whitespace_inside_the_target_is_400) {
  static const attack_t cases[] = {
      {LIT("GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n" SMUG), {400}},
      {LIT("GET /a\x0c" "b HTTP/1.1\r\nHost: x\r\n\r\n" SMUG), {400}},
      {LIT("GET /describe\t HTTP/1.1\r\nHost: x\r\n\r\n" SMUG), {400, 505}},
  };
  fixture_t f;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, &small_limits);
  run_attacks(&f, cases, sizeof cases / sizeof cases[0]);
  still_serves(&f);
  fixture_stop(&f);
}
