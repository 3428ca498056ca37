/* http_proxy: a streaming reverse proxy in front of one backend, with
 * corio's HTTP server on one side and its client on the other.
 *
 *   http_proxy --backend http://HOST:PORT [--host 127.0.0.1] [--port 8081]
 *              [--workers N | --loop-only] [--timeout-ms MS]
 *
 * Each request goes to the backend with its method, target and headers,
 * less the hop-by-hop ones (Connection and what it names, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade), plus
 * X-Forwarded-For; the answer comes back the same way. Bodies stream both
 * ways in 64 KiB pieces, each write waiting for the other side to take
 * the last (backpressure), so a body of any size costs constant memory.
 * The backend refusing or breaking before its answer: 502; no answer by
 * the deadline (--timeout-ms, default 30000, for the whole exchange): 504.
 * The request body goes to the backend before its answer is read, as a
 * backend that reads a request before answering expects.
 *
 * Prints "listening on http://HOST:PORT" when ready (--port 0 picks a free
 * port). SIGINT/SIGTERM: stop accepting, finish requests in flight (at
 * most 5 s), exit 0. */
#include <arpa/inet.h>
#include <corio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stop_signal.h"

#define PIECE (64 * 1024)
#define MAX_FIELDS (CORIO_HTTP_MAX_HEADERS + 1)

static const char *backend;         /* "http://HOST:PORT", no slash at the end */
static uint64_t timeout_ms = 30000;
static corio_http_client_t *client;

static int ieq(corio_http_str_t s, const char *lit) {
  return s.len == strlen(lit) && strncasecmp(s.p, lit, s.len) == 0;
}

/* Does a comma-separated Connection value name this field? */
static int named_by(corio_http_str_t conn, corio_http_str_t name) {
  const char *p = conn.p, *end = conn.p + conn.len;

  while (conn.p != NULL && p < end) {
    const char *tok;
    while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
      p++;
    for (tok = p; p < end && *p != ',' && *p != ' ' && *p != '\t'; p++) {
    }
    if ((size_t)(p - tok) == name.len && strncasecmp(tok, name.p, name.len) == 0)
      return 1;
  }
  return 0;
}

/* Fields that belong to one connection, not to the message (RFC 9110
 * 7.6.1), and the framing, which each side writes for itself. */
static int hop_by_hop(corio_http_str_t name, corio_http_str_t conn) {
  return ieq(name, "connection") || ieq(name, "keep-alive") ||
         ieq(name, "proxy-connection") || ieq(name, "te") || ieq(name, "trailer") ||
         ieq(name, "transfer-encoding") || ieq(name, "upgrade") ||
         ieq(name, "content-length") || named_by(conn, name);
}

/* NUL-terminated copies of views, in one block per message. */
typedef struct strings {
  char *buf;
  size_t len, cap;
} strings_t;

/* The block is sized once for the largest head (the pairs point into it,
 * so it must not move): NULL if it is full, and the field is left out. */
static const char *keep(strings_t *s, const char *p, size_t n) {
  char *at;

  if (s->len + n + 1 > s->cap)
    return NULL;
  at = s->buf + s->len;
  memcpy(at, p, n);
  at[n] = '\0';
  s->len += n + 1;
  return at;
}

/* Both strings of a field, or neither. */
static int keep_field(strings_t *s, corio_http_header_t *f, corio_http_str_t name,
                      corio_http_str_t value) {
  size_t mark = s->len;

  f->name = keep(s, name.p, name.len);
  f->value = keep(s, value.p, value.len);
  if (f->name != NULL && f->value != NULL)
    return 1;
  s->len = mark;
  return 0;
}

/* The request's fields for the backend, and X-Forwarded-For. */
static size_t request_fields(corio_http_req_t *req, corio_http_header_t *out,
                             strings_t *s) {
  corio_http_str_t conn = corio_http_header(req, "connection"), name, value, xff = {0};
  struct sockaddr_storage peer;
  char ip[INET6_ADDRSTRLEN] = "unknown", both[512];
  int plen = sizeof peer;
  size_t n = 0;

  for (size_t i = 0; corio_http_header_at(req, i, &name, &value) == 0; i++) {
    if (hop_by_hop(name, conn))
      continue;
    if (ieq(name, "x-forwarded-for")) {
      xff = value;
      continue;
    }
    n += (size_t)keep_field(s, &out[n], name, value);
  }
  if (corio_http_peer(req, (struct sockaddr *)&peer, &plen) == 0) {
    if (peer.ss_family == AF_INET)
      inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, ip, sizeof ip);
    else if (peer.ss_family == AF_INET6)
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, ip, sizeof ip);
  }
  if (xff.p != NULL && xff.len > 0)
    snprintf(both, sizeof both, "%.*s, %s", (int)xff.len, xff.p, ip);
  else
    snprintf(both, sizeof both, "%s", ip);
  out[n].name = "X-Forwarded-For";
  out[n].value = keep(s, both, strlen(both));
  return out[n].value != NULL ? n + 1 : n;
}

static size_t response_fields(corio_http_call_t *call, corio_http_header_t *out,
                              strings_t *s) {
  corio_http_str_t conn = corio_http_call_header(call, "connection"), name, value;
  size_t n = 0;

  for (size_t i = 0; n < MAX_FIELDS && corio_http_call_header_at(call, i, &name, &value) == 0;
       i++) {
    if (hop_by_hop(name, conn))
      continue;
    n += (size_t)keep_field(s, &out[n], name, value);
  }
  return n;
}

static int fail(corio_http_res_t *res, int err) {
  int status = err == UV_ETIMEDOUT ? 504 : 502;
  char body[128];
  int k = snprintf(body, sizeof body, "%s: %s\n", corio_http_reason(status), uv_strerror(err));

  corio_http_respond(res, status, "Content-Type: text/plain\r\n", body, (size_t)k);
  return 1; /* and close: the exchange did not complete */
}

static int proxy(corio_http_req_t *req, corio_http_res_t *res, void *arg) {
  corio_http_header_t fields[MAX_FIELDS];
  corio_http_str_t m = corio_http_method(req), t = corio_http_target(req);
  strings_t s = {0};
  corio_http_call_t *call;
  char method[32], *url, *piece = NULL;
  int64_t body_length = 0;
  uint64_t len = 0;
  ssize_t n;
  size_t nf;
  int st, err, ret = 1;

  (void)arg;
  if (m.len >= sizeof method)
    return corio_http_respond(res, 501, NULL, NULL, 0), 1;
  memcpy(method, m.p, m.len);
  method[m.len] = '\0';
  if (corio_http_content_length(req, &len) == 0)
    body_length = (int64_t)len;
  else
    body_length = CORIO_HTTP_BODY_CHUNKED;
  /* One block for every copied string: a request head is at most
   * max_header_bytes (8 KiB by default), a response head the client's
   * max_head_bytes (16 KiB). */
  s.cap = 64 * 1024;
  if ((s.buf = malloc(s.cap)) == NULL || (url = malloc(strlen(backend) + t.len + 1)) == NULL) {
    free(s.buf);
    return corio_http_respond(res, 503, NULL, NULL, 0), 1;
  }
  sprintf(url, "%s%.*s", backend, (int)t.len, t.p);
  nf = request_fields(req, fields, &s);
  err = corio_http_call_start(client, method, url, fields, nf, body_length,
                              corio_now() + timeout_ms, &call);
  free(url);
  if (err != 0) {
    free(s.buf);
    return fail(res, err);
  }
  if (body_length != 0 && (piece = malloc(PIECE)) == NULL) {
    corio_http_call_end(call);
    free(s.buf);
    return corio_http_respond(res, 503, NULL, NULL, 0), 1;
  }
  /* The request body, piece by piece. */
  while (body_length != 0 && (n = corio_http_body_read(req, piece, PIECE)) > 0)
    if ((n = corio_http_call_write(call, piece, (size_t)n)) < 0 && n != UV_EALREADY)
      break;
  st = corio_http_call_response(call);
  if (st < 0) {
    corio_http_call_end(call);
    free(piece);
    free(s.buf);
    return fail(res, st);
  }
  /* The answer: its length if it gave one, else chunked. */
  s.len = 0;
  nf = response_fields(call, fields, &s);
  {
    corio_http_str_t v = corio_http_call_header(call, "content-length");
    int64_t rl = -1;
    if (v.p != NULL && corio_http_call_header(call, "transfer-encoding").p == NULL)
      rl = (int64_t)strtoull(v.p, NULL, 10);
    if (st == 204 || st == 304 || (st >= 100 && st < 200))
      rl = 0;
    err = corio_http_res_start_with(res, st, fields, nf, rl);
  }
  if (err == 0) {
    if (piece == NULL)
      piece = malloc(PIECE);
    while (piece != NULL && (n = corio_http_call_read(call, piece, PIECE)) > 0)
      if (corio_http_res_write(res, piece, (size_t)n) < 0)
        break;
    if (piece != NULL && n == 0 && corio_http_res_end(res) == 0)
      ret = 0;
  }
  if (corio_http_call_end(call) != 0)
    ret = 1;
  free(piece);
  free(s.buf);
  return ret;
}

static void *stopper(void *arg) {
  wait_for_stop_signal();
  corio_http_server_shutdown(arg, corio_now() + 5000);
  return NULL;
}

static void *free_client(void *arg) {
  (void)arg;
  return (void *)(intptr_t)corio_http_client_free(client);
}

int main(int argc, char **argv) {
  corio_rt_options_t opts = {0};
  corio_tcp_listener_options_t lopts = {0};
  corio_http_client_options_t copts = {.max_idle = 256};
  corio_http_server_t *srv;
  corio_tcp_listener_t *ln;
  corio_task_t *stop, *t;
  const char *host = "127.0.0.1";
  char *be = NULL;
  int port = 8081, err, i;
  corio_rt_t *rt;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--loop-only") == 0) {
      opts.loop_only = 1;
      continue;
    }
    if (v == NULL)
      goto usage;
    i++;
    if (strcmp(a, "--host") == 0)
      host = v;
    else if (strcmp(a, "--port") == 0)
      port = atoi(v);
    else if (strcmp(a, "--backend") == 0)
      backend = v;
    else if (strcmp(a, "--timeout-ms") == 0)
      timeout_ms = strtoull(v, NULL, 10);
    else if (strcmp(a, "--workers") == 0) {
      opts.workers = (unsigned)atoi(v);
      opts.loop_only = 0;
    } else
      goto usage;
  }
  if (backend == NULL || strncmp(backend, "http://", 7) != 0)
    goto usage;
  if ((be = strdup(backend)) == NULL)
    return 1;
  while (strlen(be) > 7 && be[strlen(be) - 1] == '/')
    be[strlen(be) - 1] = '\0';
  backend = be;
  stop_signal_block();
  if ((err = corio_rt_new(&opts, &rt)) != 0 ||
      (err = corio_http_client_new(&copts, &client)) != 0) {
    fprintf(stderr, "http_proxy: %s\n", uv_strerror(err));
    return 1;
  }
  lopts.rt = rt;
  if ((err = corio_tcp_listen(host, port, &lopts, &ln)) != 0) {
    fprintf(stderr, "http_proxy: listen on %s:%d: %s\n", host, port, uv_strerror(err));
    return 1;
  }
  corio_http_server_new(ln, proxy, NULL, NULL, &srv);
  if ((err = corio_spawn(rt, stopper, srv, &stop)) != 0) {
    fprintf(stderr, "http_proxy: %s\n", uv_strerror(err));
    return 1;
  }
  printf(strchr(host, ':') ? "listening on http://[%s]:%d\n" : "listening on http://%s:%d\n",
         host, corio_tcp_listener_port(ln));
  fflush(stdout);
  err = corio_http_server_run(srv);
  corio_join(stop, NULL);
  corio_spawn(rt, free_client, NULL, &t); /* closes the pooled connections */
  corio_join(t, NULL);
  corio_http_server_free(srv);
  corio_rt_free(rt);
  free(be);
  return err == 0 ? 0 : 1;

usage:
  fprintf(stderr,
          "usage: %s --backend http://HOST:PORT [--host H] [--port P]\n"
          "          [--workers N | --loop-only] [--timeout-ms MS]\n",
          argv[0]);
  return 2;
}
