/* http_server: corio's showcase, an HTTP/1.1 file server whose handlers
 * read like blocking code. The contract (flags, routes, limits) is
 * docs/HTTP_SERVER.md; in short:
 *
 *   GET|HEAD /            "Hello, World!"
 *   PUT /files/NAME       the body streamed to DIR/NAME (201, JSON)
 *   GET|HEAD /files/NAME  the file streamed back (404 if missing)
 *   POST /echo            the body sent back
 *
 *   http_server [--host 127.0.0.1] [--port 8080] [--unix PATH]
 *               [--dir ./uploads] [--workers N | --loop-only]
 *               [--max-body BYTES] [--header-timeout-ms MS]
 *               [--idle-timeout-ms MS]
 *
 * Prints "listening on http://HOST:PORT" when ready (--port 0 picks a free
 * port), or with --unix "listening on unix:PATH" (a Unix-domain socket;
 * "@name" for an abstract one; a stale socket file is replaced). SIGINT/SIGTERM: stop accepting, finish requests in flight (at
 * most 5 s), exit 0. Uploads and downloads run in constant memory: bodies
 * stream between the socket and the file in 64 KiB pieces. */
#include <corio.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stop_signal.h"

static const char *dir = "./uploads";

static int is(corio_http_str_t s, const char *lit) {
  return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* [A-Za-z0-9._-]{1,128}, not starting with '.' (so never a temporary
 * upload name, and never "." or ".."). */
static int valid_name(corio_http_str_t n) {
  size_t i;

  if (n.len == 0 || n.len > 128 || n.p[0] == '.')
    return 0;
  for (i = 0; i < n.len; i++) {
    char ch = n.p[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
      return 0;
  }
  return 1;
}

static int text(corio_http_res_t *res, int status, const char *body) {
  return corio_http_respond(res, status, "Content-Type: text/plain\r\n", body,
                            strlen(body));
}

static int not_allowed(corio_http_res_t *res, const char *allow) {
  char headers[128];

  snprintf(headers, sizeof headers,
           "Allow: %s\r\nContent-Type: text/plain\r\n", allow);
  return corio_http_respond(res, 405, headers, "Method Not Allowed\n", 19);
}

/* PUT: into a temporary name, renamed once complete, so a failed upload
 * never leaves DIR/NAME. */
static int put_file(corio_http_req_t *req, corio_http_res_t *res,
                    corio_http_str_t name) {
  static _Atomic(unsigned long) seq;
  char path[512], tmp[600], json[200];
  uint64_t bytes = 0;
  int err, n;

  snprintf(path, sizeof path, "%s/%.*s", dir, (int)name.len, name.p);
  snprintf(tmp, sizeof tmp, "%s/.%.*s.%ld.%lu.part", dir, (int)name.len, name.p,
           (long)getpid(), atomic_fetch_add(&seq, 1));
  err = corio_http_body_to_file(req, tmp, &bytes);
  if (err == UV_E2BIG) {
    text(res, 413, "Content Too Large\n");
    return 1; /* close: the rest of the body is not read */
  }
  if (err == 0)
    err = corio_fs_rename(tmp, path);
  if (err != 0) {
    corio_fs_unlink(tmp);
    /* a client that went away gets nothing; otherwise say what failed */
    if (err == UV_EPROTO)
      return text(res, 400, "Bad Request\n"), 1;
    if (err == UV_EOF || err == UV_ECONNRESET || err == UV_ETIMEDOUT ||
        err == UV_ECANCELED)
      return 1;
    text(res, 500, "Internal Server Error\n");
    return 1;
  }
  n = snprintf(json, sizeof json, "{\"name\":\"%.*s\",\"bytes\":%" PRIu64 "}",
               (int)name.len, name.p, bytes);
  return corio_http_respond(res, 201, "Content-Type: application/json\r\n", json,
                            (size_t)n) == 0 ? 0 : 1;
}

static int get_file(corio_http_res_t *res, corio_http_str_t name) {
  char path[512];
  int err;

  snprintf(path, sizeof path, "%s/%.*s", dir, (int)name.len, name.p);
  err = corio_http_send_file(res, path, "Content-Type: application/octet-stream\r\n");
  if (err == UV_ENOENT || err == UV_EISDIR)
    return text(res, 404, "Not Found\n");
  return err == 0 ? 0 : 1;
}

/* POST /echo: the body back, with its Content-Length if it had one. The
 * first read comes before the response starts, so that a client waiting
 * for "100 Continue" gets it first. */
static int echo(corio_http_req_t *req, corio_http_res_t *res) {
  char buf[16384];
  ssize_t n = corio_http_body_read(req, buf, sizeof buf);
  uint64_t len;
  int err;

  if (n < 0)
    return 1; /* the server answers for a bad body (400, 413) */
  err = corio_http_res_start(res, 200, "Content-Type: application/octet-stream\r\n",
                             corio_http_content_length(req, &len) == 0 ? (int64_t)len : -1);
  while (err == 0 && n > 0) {
    ssize_t w = corio_http_res_write(res, buf, (size_t)n);
    err = w < 0 ? (int)w : 0;
    if (err == 0)
      n = corio_http_body_read(req, buf, sizeof buf);
  }
  if (err == 0 && n < 0)
    return 1; /* the body broke off: so does the response */
  return err == 0 && corio_http_res_end(res) == 0 ? 0 : 1;
}

static int handle(corio_http_req_t *req, corio_http_res_t *res, void *arg) {
  corio_http_str_t m = corio_http_method(req), path = corio_http_path(req);
  int get = is(m, "GET") || is(m, "HEAD");

  (void)arg;
  if (is(path, "/"))
    return get ? text(res, 200, "Hello, World!") : not_allowed(res, "GET, HEAD");
  if (path.len > 7 && memcmp(path.p, "/files/", 7) == 0) {
    corio_http_str_t name = {path.p + 7, path.len - 7};
    if (!get && !is(m, "PUT"))
      return not_allowed(res, "GET, HEAD, PUT");
    if (!valid_name(name))
      return text(res, 400, "Bad Request: invalid file name\n");
    return get ? get_file(res, name) : put_file(req, res, name);
  }
  if (is(path, "/echo"))
    return is(m, "POST") ? echo(req, res) : not_allowed(res, "POST");
  return text(res, 404, "Not Found\n");
}

static void *stopper(void *arg) {
  wait_for_stop_signal();
  corio_http_server_shutdown(arg, corio_now() + 5000);
  return NULL;
}

int main(int argc, char **argv) {
  corio_rt_options_t opts = {0};
  corio_tcp_listener_options_t lopts = {0};
  corio_http_server_options_t hopts = {0};
  corio_http_server_t *srv;
  corio_tcp_listener_t *ln;
  corio_task_t *stop;
  const char *host = "127.0.0.1", *unix_path = NULL;
  int port = 8080, err, i;
  corio_rt_t *rt;

  /* One worker per CPU unless told otherwise, as the library: each worker
   * serves its connections on its own loop (docs/DESIGN.md 8). */
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
    else if (strcmp(a, "--unix") == 0)
      unix_path = v;
    else if (strcmp(a, "--dir") == 0)
      dir = v;
    else if (strcmp(a, "--workers") == 0) {
      opts.workers = (unsigned)atoi(v); /* 0: one per CPU */
      opts.loop_only = 0;
    } else if (strcmp(a, "--max-body") == 0)
      hopts.max_body_bytes = strtoull(v, NULL, 10);
    else if (strcmp(a, "--header-timeout-ms") == 0)
      hopts.header_timeout_ms = strtoull(v, NULL, 10);
    else if (strcmp(a, "--idle-timeout-ms") == 0)
      hopts.idle_timeout_ms = strtoull(v, NULL, 10);
    else
      goto usage;
  }
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "http_server: cannot create %s: %s\n", dir, strerror(errno));
    return 1;
  }
  stop_signal_block(); /* before the runtime's threads exist */
  if ((err = corio_rt_new(&opts, &rt)) != 0) {
    fprintf(stderr, "http_server: %s\n", uv_strerror(err));
    return 1;
  }
  lopts.rt = rt;
  if (unix_path != NULL) {
    struct stat st;
    /* a socket file left by an earlier run, not any file */
    if (unix_path[0] != '@' && stat(unix_path, &st) == 0 && S_ISSOCK(st.st_mode))
      unlink(unix_path);
    err = corio_unix_listen(unix_path, &lopts, &ln);
  } else {
    err = corio_tcp_listen(host, port, &lopts, &ln);
  }
  if (err != 0) {
    fprintf(stderr, "http_server: listen on %s: %s\n", unix_path != NULL ? unix_path : host,
            uv_strerror(err));
    corio_rt_free(rt);
    return 1;
  }
  corio_http_server_new(ln, handle, NULL, &hopts, &srv);
  if ((err = corio_spawn(rt, stopper, srv, &stop)) != 0) {
    fprintf(stderr, "http_server: %s\n", uv_strerror(err));
    return 1;
  }
  if (unix_path != NULL)
    printf("listening on unix:%s\n", unix_path);
  else
    printf(strchr(host, ':') ? "listening on http://[%s]:%d\n" : "listening on http://%s:%d\n",
           host, corio_tcp_listener_port(ln));
  fflush(stdout);
  err = corio_http_server_run(srv); /* until the stopper shuts it down */
  corio_join(stop, NULL);           /* every connection is closed */
  corio_http_server_free(srv);
  corio_rt_free(rt);
  if (unix_path != NULL && unix_path[0] != '@')
    unlink(unix_path);
  return err == 0 ? 0 : 1;

usage:
  fprintf(stderr,
          "usage: %s [--host H] [--port P] [--unix PATH] [--dir DIR] [--workers N | --loop-only]\n"
          "          [--max-body BYTES] [--header-timeout-ms MS] [--idle-timeout-ms MS]\n",
          argv[0]);
  return 2;
}
