/* The HTTP tests' fixture (a server in a runtime) and raw client: a task writes bytes with corio's TCP
 * calls and reads replies (Content-Length, chunked, or until close) with
 * a deadline. Shared by the HTTP test files; static, header-only. */
#ifndef CORIO_TEST_HTTP_FIXTURE_H
#define CORIO_TEST_HTTP_FIXTURE_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corio.h"

/* --- a server in a runtime --------------------------------------------------
 * Each test file defines handler(); the fixture serves it on a free
 * loopback port from a task of a fresh runtime, with an upload directory
 * of its own. */

typedef struct fixture {
  corio_rt_t *rt;
  corio_tcp_listener_t *ln;
  corio_http_server_t *srv;
  corio_task_t *runner;
  int port;
  char dir[64];
} fixture_t;

static const char *updir;

static int handler(corio_http_req_t *req, corio_http_res_t *res, void *arg);

static int is(corio_http_str_t s, const char *lit) {
  return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static void *run_server(void *arg) {
  return (void *)(intptr_t)corio_http_server_run(arg);
}

static void fixture_start(fixture_t *f, corio_rt_options_t ro,
                          const corio_http_server_options_t *ho) {
  static int n;
  corio_tcp_listener_options_t lo = {0};
  struct rlimit rl;

  memset(f, 0, sizeof *f);
  getrlimit(RLIMIT_NOFILE, &rl); /* many connections at once */
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  snprintf(f->dir, sizeof f->dir, "/tmp/corio-http-test-%d-%d", (int)getpid(), n++);
  mkdir(f->dir, 0700);
  updir = f->dir;
  cr_assert_eq(corio_rt_new(&ro, &f->rt), 0);
  lo.rt = f->rt;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, &lo, &f->ln), 0);
  f->port = corio_tcp_listener_port(f->ln);
  cr_assert_eq(corio_http_server_new(f->ln, handler, NULL, ho, &f->srv), 0);
  cr_assert_eq(corio_spawn(f->rt, run_server, f->srv, &f->runner), 0);
}

static void *shutdown_task(void *arg) {
  fixture_t *f = arg;
  return (void *)(intptr_t)corio_http_server_shutdown(f->srv, corio_now() + 5000);
}

/* After a shutdown: run has returned 0 and the server frees. */
static void fixture_end(fixture_t *f) {
  void *res;
  char cmd[128];

  cr_assert_eq(corio_join(f->runner, &res), 0);
  cr_assert_eq((intptr_t)res, 0);
  cr_assert_eq(corio_http_server_free(f->srv), 0);
  cr_assert_eq(corio_rt_free(f->rt), 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  if (system(cmd) != 0) { /* best effort */ }
}

/* Graceful shutdown must succeed: every connection is gone in time. */
static void fixture_stop(fixture_t *f) {
  corio_task_t *t;
  void *res;

  cr_assert_eq(corio_spawn(f->rt, shutdown_task, f, &t), 0);
  cr_assert_eq(corio_join(t, &res), 0);
  cr_assert_eq((intptr_t)res, 0, "shutdown: %s", uv_strerror((int)(intptr_t)res));
  fixture_end(f);
}

/* Run body(arg) as a task of the fixture's runtime, and wait for it. */
static void in_task(fixture_t *f, void *(*body)(void *), void *arg) {
  corio_task_t *t;

  cr_assert_eq(corio_spawn(f->rt, body, arg, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
}

/* --- the client ---------------------------------------------------------- */

typedef struct reply {
  int status;
  char head[4096];
  char *body;
  size_t body_len;
} reply_t;

typedef struct client {
  corio_tcp_t *c;
  char buf[65536];
  size_t len;
} client_t;

static int client_open(client_t *cl, int port) {
  cl->len = 0;
  return corio_tcp_connect_dl("127.0.0.1", port, &cl->c, corio_now() + 5000);
}

static int client_more(client_t *cl, uint64_t deadline) {
  ssize_t n;

  if (cl->len == sizeof cl->buf)
    return UV_ENOBUFS;
  n = corio_read_dl(cl->c, cl->buf + cl->len, sizeof cl->buf - cl->len, deadline);
  if (n > 0)
    cl->len += (size_t)n;
  return n > 0 ? 0 : (int)n;
}

static void client_drop(client_t *cl, size_t n) {
  memmove(cl->buf, cl->buf + n, cl->len - n);
  cl->len -= n;
}

/* One response (Content-Length, chunked, or until close) by the deadline:
 * 0 or an error; r->body is malloc'd (NUL-terminated). */
static int read_reply(client_t *cl, reply_t *r, int head_request, uint64_t deadline) {
  char *end, *p;
  size_t hl, cap = 0;
  long long cl_len = -1;
  int err, chunked = 0;

  memset(r, 0, sizeof *r);
  while ((end = memmem(cl->buf, cl->len, "\r\n\r\n", 4)) == NULL)
    if ((err = client_more(cl, deadline)) != 0)
      return err;
  hl = (size_t)(end - cl->buf) + 4;
  memcpy(r->head, cl->buf, hl < sizeof r->head - 1 ? hl : sizeof r->head - 1);
  r->head[sizeof r->head - 1] = '\0';
  if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
    return UV_EPROTO;
  if ((p = strcasestr(r->head, "\r\ncontent-length:")) != NULL)
    cl_len = atoll(p + 17);
  if (strcasestr(r->head, "\r\ntransfer-encoding: chunked") != NULL)
    chunked = 1;
  client_drop(cl, hl);
  if (head_request || r->status < 200 || r->status == 204 || r->status == 304)
    return 0;
  if (cl_len >= 0) {
    r->body = malloc((size_t)cl_len + 1);
    while (cl->len < (size_t)cl_len) {
      size_t take = cl->len;
      memcpy(r->body + r->body_len, cl->buf, take);
      r->body_len += take;
      cl_len -= (long long)take;
      client_drop(cl, take);
      if ((err = client_more(cl, deadline)) != 0)
        return err;
    }
    memcpy(r->body + r->body_len, cl->buf, (size_t)cl_len);
    r->body_len += (size_t)cl_len;
    r->body[r->body_len] = '\0';
    client_drop(cl, (size_t)cl_len);
    return 0;
  }
  if (chunked) {
    for (;;) {
      size_t size;
      while ((end = memmem(cl->buf, cl->len, "\r\n", 2)) == NULL)
        if ((err = client_more(cl, deadline)) != 0)
          return err;
      size = strtoul(cl->buf, NULL, 16);
      client_drop(cl, (size_t)(end - cl->buf) + 2);
      while (cl->len < size + 2)
        if ((err = client_more(cl, deadline)) != 0)
          return err;
      if (r->body_len + size + 1 > cap) {
        cap = (r->body_len + size + 1) * 2;
        r->body = realloc(r->body, cap);
      }
      memcpy(r->body + r->body_len, cl->buf, size);
      r->body_len += size;
      r->body[r->body_len] = '\0';
      client_drop(cl, size + 2);
      if (size == 0)
        return 0;
    }
  }
  while ((err = client_more(cl, deadline)) == 0) {
  }
  r->body = malloc(cl->len + 1);
  memcpy(r->body, cl->buf, cl->len);
  r->body_len = cl->len;
  r->body[r->body_len] = '\0';
  cl->len = 0;
  return err == UV_EOF ? 0 : err;
}

#endif
