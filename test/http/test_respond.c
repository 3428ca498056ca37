/* Responses that cannot be split: a handler's header fields, raw or as
 * pairs, are checked before anything is sent (corio/http.h, Responses).
 * Each case is a path /case/NAME; a call that fails is answered
 * "err=<code>" in a second, clean response, so the test sees both the
 * error and that the connection is still whole. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "corio.h"
#include "http_fixture.h"

#define BOUND() (corio_now() + 15000)

static char big_value[70000];
static char long_value[3000];

/* The first attempt of each case: its result. */
static int attempt(const char *name, corio_http_res_t *res) {
  corio_http_header_t h[2];

  if (strcmp(name, "no-crlf") == 0)
    return corio_http_respond(res, 200, "X-A: 1", "hello", 5);
  if (strcmp(name, "split") == 0) /* response splitting */
    return corio_http_respond(res, 200, "X-A: 1\r\n\r\nHTTP/1.1 200 OK\r\nX-B: 2\r\n",
                              "hello", 5);
  if (strcmp(name, "bare-lf") == 0)
    return corio_http_respond(res, 200, "X-A: 1\nX-B: 2\r\n", "hello", 5);
  if (strcmp(name, "bad-name") == 0)
    return corio_http_respond(res, 200, "Bad Name: 1\r\n", "hello", 5);
  if (strcmp(name, "space-colon") == 0)
    return corio_http_respond(res, 200, "X-A : 1\r\n", "hello", 5);
  if (strcmp(name, "ctl") == 0)
    return corio_http_respond(res, 200, "X-A: a\x01z\r\n", "hello", 5);
  if (strcmp(name, "cl-conflict") == 0)
    return corio_http_respond(res, 200, "Content-Length: 99\r\n", "hello", 5);
  if (strcmp(name, "cl-same") == 0)
    return corio_http_respond(res, 200, "Content-Length: 5\r\nX-A: 1\r\n", "hello", 5);
  if (strcmp(name, "cl-204") == 0)
    return corio_http_respond(res, 204, "Content-Length: 0\r\n", NULL, 0);
  if (strcmp(name, "te-on-length") == 0)
    return corio_http_respond(res, 200, "Transfer-Encoding: chunked\r\n", "hello", 5);
  if (strcmp(name, "conn-close") == 0)
    return corio_http_respond(res, 200, "Connection: close\r\n", "hello", 5);
  if (strcmp(name, "conn-upgrade") == 0)
    return corio_http_respond(res, 200, "Connection: upgrade\r\n", "hello", 5);
  if (strcmp(name, "date") == 0)
    return corio_http_respond(res, 200, "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
                              "hello", 5);
  if (strcmp(name, "pair") == 0) {
    h[0] = (corio_http_header_t){"X-Pair", "  v 1\t"};
    h[1] = (corio_http_header_t){"Content-Type", "text/plain"};
    return corio_http_respond_with(res, 200, h, 2, "hello", 5);
  }
  if (strcmp(name, "pair-inject") == 0) {
    h[0] = (corio_http_header_t){"X-A", "a\r\nX-Injected: 1"};
    return corio_http_respond_with(res, 200, h, 1, "hello", 5);
  }
  if (strcmp(name, "pair-empty-name") == 0) {
    h[0] = (corio_http_header_t){"", "x"};
    return corio_http_respond_with(res, 200, h, 1, "hello", 5);
  }
  if (strcmp(name, "pair-space-name") == 0) {
    h[0] = (corio_http_header_t){"X A", "x"};
    return corio_http_respond_with(res, 200, h, 1, "hello", 5);
  }
  if (strcmp(name, "pair-null") == 0) {
    h[0] = (corio_http_header_t){"X-A", NULL};
    return corio_http_respond_with(res, 200, h, 1, "hello", 5);
  }
  if (strcmp(name, "pair-too-big") == 0) {
    h[0] = (corio_http_header_t){"X-Big", big_value};
    return corio_http_respond_with(res, 200, h, 1, "hello", 5);
  }
  if (strcmp(name, "pair-long") == 0) { /* past the server's own buffer */
    h[0] = (corio_http_header_t){"X-Long", long_value};
    return corio_http_respond_with(res, 200, h, 1, "hello", 5);
  }
  if (strcmp(name, "te-chunked") == 0 || strcmp(name, "te-gzip") == 0) {
    int err;
    h[0] = (corio_http_header_t){"Transfer-Encoding",
                                 name[3] == 'c' ? "chunked" : "gzip"};
    if ((err = corio_http_res_start_with(res, 200, h, 1, -1)) != 0)
      return err;
    corio_http_res_write(res, "hel", 3);
    corio_http_res_write(res, "lo", 2);
    return corio_http_res_end(res);
  }
  return UV_ENOENT;
}

static int handler(corio_http_req_t *req, corio_http_res_t *res, void *arg) {
  corio_http_str_t path = corio_http_path(req);
  char name[64], out[32];
  int err, n;

  (void)arg;
  if (is(path, "/") || path.len < 7 || memcmp(path.p, "/case/", 6) != 0 ||
      path.len - 6 >= sizeof name)
    return corio_http_respond(res, 404, NULL, NULL, 0);
  memcpy(name, path.p + 6, path.len - 6);
  name[path.len - 6] = '\0';
  if ((err = attempt(name, res)) == 0)
    return 0;
  n = snprintf(out, sizeof out, "err=%d", err);
  return corio_http_respond(res, 200, "X-Second: 1\r\n", out, (size_t)n);
}

/* --- the client ------------------------------------------------------------ */

typedef struct ask {
  int port;
  const char *name;
  int times;                    /* requests on one connection */
  reply_t reply[2];
  int err, closed;
} ask_t;

static void *ask_task(void *arg) {
  ask_t *a = arg;
  client_t *cl = malloc(sizeof *cl);
  char req[128];
  int n;

  if ((a->err = client_open(cl, a->port)) != 0)
    goto out;
  n = snprintf(req, sizeof req, "GET /case/%s HTTP/1.1\r\nHost: x\r\n\r\n", a->name);
  for (int i = 0; i < a->times && a->err == 0; i++) {
    if ((a->err = (int)corio_write(cl->c, req, (size_t)n)) < 0)
      break;
    a->err = read_reply(cl, &a->reply[i], 0, BOUND());
  }
  if (a->err == 0) { /* nothing more: a close, or silence */
    a->closed = cl->len == 0 && client_more(cl, corio_now() + 300) == UV_EOF;
    if (cl->len != 0)
      a->err = UV_EPROTO; /* bytes beyond the response: a split */
  }
  corio_close(cl->c);
out:
  free(cl);
  return NULL;
}

static void ask(fixture_t *f, ask_t *a, const char *name, int times) {
  memset(a, 0, sizeof *a);
  a->port = f->port;
  a->name = name;
  a->times = times;
  in_task(f, ask_task, a);
  cr_assert_eq(a->err, 0, "%s: %s", name, uv_strerror(a->err));
}

static void ask_free(ask_t *a) {
  for (int i = 0; i < 2; i++)
    free(a->reply[i].body);
}

static int count(const char *head, const char *needle) {
  int n = 0;

  for (const char *p = head; (p = strcasestr(p, needle)) != NULL; p++)
    n++;
  return n;
}

/* A case whose first attempt must fail with want: twice on one
 * connection, each time the clean second response, nothing else. */
static void refused(fixture_t *f, const char *name, int want) {
  char body[32];
  ask_t a;

  snprintf(body, sizeof body, "err=%d", want);
  ask(f, &a, name, 2);
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(a.reply[i].status, 200, "%s", name);
    cr_assert_str_eq(a.reply[i].body, body, "%s: round %d", name, i);
    cr_assert_eq(count(a.reply[i].head, "\r\nX-Second: 1\r\n"), 1, "%s", name);
    cr_assert_eq(count(a.reply[i].head, "HTTP/1.1"), 1, "%s", name);
  }
  cr_assert(!a.closed, "%s: the connection closed", name);
  ask_free(&a);
}

static void accepted(fixture_t *f, const char *name, ask_t *a) {
  ask(f, a, name, 1);
  cr_assert_eq(a->reply[0].status, 200, "%s", name);
  cr_assert_str_eq(a->reply[0].body, "hello", "%s", name);
  cr_assert_eq(count(a->reply[0].head, "X-Second"), 0, "%s was refused", name);
}

static fixture_t f;

static void setup(void) {
  memset(big_value, 'b', sizeof big_value - 1);
  memset(long_value, 'l', sizeof long_value - 1);
  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
}

static void teardown(void) {
  fixture_stop(&f);
}

#define CASE .init = setup, .fini = teardown, .timeout = 60

Test(respond, malformed_raw_fields_are_einval_and_send_nothing, CASE) {
  refused(&f, "no-crlf", UV_EINVAL);
  refused(&f, "split", UV_EINVAL);
  refused(&f, "bare-lf", UV_EINVAL);
  refused(&f, "bad-name", UV_EINVAL);
  refused(&f, "space-colon", UV_EINVAL);
  refused(&f, "ctl", UV_EINVAL);
}

Test(respond, malformed_pairs_are_einval_and_send_nothing, CASE) {
  refused(&f, "pair-inject", UV_EINVAL);
  refused(&f, "pair-empty-name", UV_EINVAL);
  refused(&f, "pair-space-name", UV_EINVAL);
  refused(&f, "pair-null", UV_EINVAL);
  refused(&f, "pair-too-big", UV_E2BIG);
}

Test(respond, framing_fields_must_agree_with_the_servers, CASE) {
  ask_t a;

  refused(&f, "cl-conflict", UV_EINVAL);
  refused(&f, "cl-204", UV_EINVAL);
  refused(&f, "te-on-length", UV_EINVAL);
  refused(&f, "te-gzip", UV_EINVAL);
  accepted(&f, "cl-same", &a);
  cr_assert_eq(count(a.reply[0].head, "\r\nContent-Length:"), 1, "%s", a.reply[0].head);
  cr_assert_eq(count(a.reply[0].head, "\r\nX-A: 1\r\n"), 1);
  ask_free(&a);
  accepted(&f, "te-chunked", &a);
  cr_assert_eq(count(a.reply[0].head, "\r\nTransfer-Encoding:"), 1, "%s", a.reply[0].head);
  ask_free(&a);
}

Test(respond, connection_close_from_a_handler_closes_once_said, CASE) {
  ask_t a;

  accepted(&f, "conn-close", &a);
  cr_assert_eq(count(a.reply[0].head, "\r\nConnection:"), 1, "%s", a.reply[0].head);
  cr_assert_eq(count(a.reply[0].head, "\r\nConnection: close\r\n"), 1);
  cr_assert(a.closed, "the server kept the connection open");
  ask_free(&a);
  refused(&f, "conn-upgrade", UV_EINVAL);
}

Test(respond, pairs_and_date_are_written_as_given, CASE) {
  ask_t a;

  accepted(&f, "pair", &a);
  cr_assert_eq(count(a.reply[0].head, "\r\nX-Pair: v 1\r\n"), 1, "%s", a.reply[0].head);
  cr_assert_eq(count(a.reply[0].head, "\r\nContent-Type: text/plain\r\n"), 1);
  cr_assert(!a.closed);
  ask_free(&a);
  accepted(&f, "date", &a);
  cr_assert_eq(count(a.reply[0].head, "\r\nDate:"), 1, "%s", a.reply[0].head);
  cr_assert_eq(count(a.reply[0].head, "\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"), 1);
  ask_free(&a);
  accepted(&f, "pair-long", &a); /* read_reply keeps the first 4 KiB of a head */
  cr_assert_not_null(strstr(a.reply[0].head, "\r\nX-Long: lll"));
  ask_free(&a);
}
