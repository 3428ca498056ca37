/* The raw libuv peer of examples/tcp_hello.c, the best a callback
 * programmer would write: one loop, no coroutines; per connection a read
 * buffer in the connection record, and every read answered with a fixed
 * "Hello, World!" HTTP response through uv_try_write (uv_write only for
 * what the kernel did not take).
 *
 *   tcp_hello_uv [--host 127.0.0.1] [--port 8080]
 *
 * Prints "listening on http://HOST:PORT" once ready. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char response[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";

typedef struct conn {
  uv_tcp_t tcp;
  char buf[1024];
} conn_t;

typedef struct pending_write {
  uv_write_t req;
  uv_buf_t buf;
} pending_write_t;

static void on_close(uv_handle_t *h) {
  free(h->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn_t *c = h->data;

  (void)suggested;
  *buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  uv_buf_t out = uv_buf_init((char *)response, sizeof response - 1);
  pending_write_t *pw;
  int n;

  (void)buf;
  if (nread < 0) {
    uv_close((uv_handle_t *)s, on_close);
    return;
  }
  if (nread == 0)
    return;
  n = uv_try_write(s, &out, 1);
  if (n == (int)out.len)
    return;
  if (n < 0 && n != UV_EAGAIN) {
    uv_close((uv_handle_t *)s, on_close);
    return;
  }
  if (n < 0)
    n = 0;
  pw = malloc(sizeof *pw);
  pw->buf = uv_buf_init(out.base + n, out.len - (unsigned)n);
  uv_write(&pw->req, s, &pw->buf, 1, on_written);
}

static void on_connection(uv_stream_t *server, int status) {
  conn_t *c;

  if (status < 0)
    return;
  c = malloc(sizeof *c);
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_close);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 8080, i, err;
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_t server;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
      host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
      port = atoi(argv[++i]);
  }
  uv_ip4_addr(host, port, &addr);
  uv_tcp_init(uv_default_loop(), &server);
  uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  if ((err = uv_listen((uv_stream_t *)&server, 511, on_connection)) != 0) {
    fprintf(stderr, "tcp_hello_uv: %s\n", uv_strerror(err));
    return 1;
  }
  uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
  printf("listening on http://%s:%d\n", host,
         ntohs(((struct sockaddr_in *)&bound)->sin_port));
  fflush(stdout);
  return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}
