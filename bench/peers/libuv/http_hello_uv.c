/* The raw libuv + llhttp peer of examples/http_server.c's hello route, the
 * best a callback programmer would write: one loop, no coroutines.
 *
 * Per connection: a 64 KiB read buffer, an llhttp request parser fed from
 * the read callback, and an output buffer. Every complete request of a read
 * batch is answered in order (keep-alive, pipelining) into the output
 * buffer; the batch is then sent with one uv_try_write, and uv_write queues
 * only what the kernel did not take. Reading pauses while more than 1 MiB
 * waits to be written (a client that pipelines without reading).
 *
 *   GET / and HEAD /   200, text/plain, "Hello, World!" (13 bytes)
 *   / with another method   405 with Allow
 *   any other target   404
 *   malformed request  400, then close; request head over 8 KiB: 431
 *   Connection: close, HTTP/1.0 without keep-alive: close after the answer
 *
 * The Date header is formatted at most once per second.
 *
 *   http_hello_uv [--host 127.0.0.1] [--port 8080]     (--port 0: any free)
 *
 * Prints "listening on http://HOST:PORT" once ready. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llhttp.h>
#include <uv.h>

#define READ_BUF_SIZE (64 * 1024)
#define OUT_BUF_SIZE (16 * 1024)
#define MAX_RESPONSE 512 /* the longest answer appended to out */
#define MAX_HEAD (8 * 1024)
#define MAX_URL 64
#define WRITE_HIGH_WATER (1024 * 1024)

typedef struct conn {
  uv_tcp_t tcp;
  uv_shutdown_t shutdown;
  llhttp_t parser;
  size_t head_bytes; /* request line and header bytes of this request */
  size_t url_len;    /* MAX_URL + 1: longer than url[] */
  size_t out_len;
  int error_status;  /* answer to a request the callbacks rejected */
  uint8_t method;
  uint8_t keep_alive;
  uint8_t http10;
  uint8_t closing;      /* the last answer ends the connection */
  uint8_t failed;       /* a write failed: close without answering */
  uint8_t read_stopped; /* paused by the write high-water mark */
  char url[MAX_URL];
  char out[OUT_BUF_SIZE];
  char in[READ_BUF_SIZE];
} conn_t;

typedef struct pending_write {
  uv_write_t req;
  uv_buf_t buf;
  char data[];
} pending_write_t;

/* --- cached Date header ------------------------------------------------ */

static time_t date_sec = -1;
static char date_hdr[64]; /* "Date: ...\r\n" */
static size_t date_len;

static void refresh_date(void) {
  time_t now = time(NULL);
  struct tm tm;

  if (now == date_sec)
    return;
  date_sec = now;
  gmtime_r(&now, &tm);
  date_len = strftime(date_hdr, sizeof date_hdr,
                      "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

/* --- responses ------------------------------------------------------------ */

#define LIT(s) s, sizeof s - 1

typedef struct answer {
  const char *head; /* status line and fixed headers, without Date */
  size_t head_len;
  const char *body;
  size_t body_len;
} answer_t;

static const answer_t ok = {
    LIT("HTTP/1.1 200 OK\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 13\r\n"),
    LIT("Hello, World!")};
static const answer_t not_found = {
    LIT("HTTP/1.1 404 Not Found\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 10\r\n"),
    LIT("Not Found\n")};
static const answer_t not_allowed = {
    LIT("HTTP/1.1 405 Method Not Allowed\r\n"
        "Allow: GET, HEAD\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 19\r\n"),
    LIT("Method Not Allowed\n")};
static const answer_t bad_request = {
    LIT("HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 12\r\n"),
    LIT("Bad Request\n")};
static const answer_t head_too_large = {
    LIT("HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 32\r\n"),
    LIT("Request Header Fields Too Large\n")};

static void append(conn_t *c, const char *p, size_t n) {
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

/* Appends one answer; the caller made room for MAX_RESPONSE bytes. */
static void answer(conn_t *c, const answer_t *a, int with_body) {
  append(c, a->head, a->head_len);
  append(c, date_hdr, date_len);
  if (!c->keep_alive)
    append(c, LIT("Connection: close\r\n"));
  else if (c->http10)
    append(c, LIT("Connection: keep-alive\r\n"));
  append(c, LIT("\r\n"));
  if (with_body)
    append(c, a->body, a->body_len);
}

/* --- connection ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_close(uv_handle_t *h) {
  free(h->data);
}

static void conn_close(conn_t *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp))
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  conn_close(req->handle->data);
}

static void on_written(uv_write_t *req, int status) {
  conn_t *c = req->handle->data;

  free(req);
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->read_stopped && !c->closing &&
      c->tcp.write_queue_size <= WRITE_HIGH_WATER / 2) {
    c->read_stopped = 0;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  }
}

/* Sends out[]: uv_try_write first, uv_write for what is left. 0 or an
 * error. */
static int flush(conn_t *c) {
  uv_stream_t *s = (uv_stream_t *)&c->tcp;
  uv_buf_t buf = uv_buf_init(c->out, (unsigned)c->out_len);
  pending_write_t *pw;
  size_t done, rest;
  int n;

  if (c->out_len == 0)
    return 0;
  c->out_len = 0;
  n = uv_try_write(s, &buf, 1);
  if (n >= 0 && (size_t)n == buf.len)
    return 0;
  if (n < 0 && n != UV_EAGAIN)
    return n;
  done = n < 0 ? 0 : (size_t)n;
  rest = buf.len - done;
  pw = malloc(sizeof *pw + rest);
  if (pw == NULL)
    return UV_ENOMEM;
  memcpy(pw->data, buf.base + done, rest);
  pw->buf = uv_buf_init(pw->data, (unsigned)rest);
  if ((n = uv_write(&pw->req, s, &pw->buf, 1, on_written)) != 0) {
    free(pw);
    return n;
  }
  return 0;
}

/* --- llhttp callbacks ----------------------------------------------------- */

static int count_head(conn_t *c, size_t len) {
  c->head_bytes += len;
  if (c->head_bytes > MAX_HEAD) {
    c->error_status = 431;
    return -1;
  }
  return 0;
}

static int on_message_begin(llhttp_t *p) {
  conn_t *c = p->data;

  c->head_bytes = 0;
  c->url_len = 0;
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  conn_t *c = p->data;

  if (c->url_len + len <= MAX_URL) {
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
  } else {
    c->url_len = MAX_URL + 1;
  }
  return count_head(c, len);
}

static int on_header_data(llhttp_t *p, const char *at, size_t len) {
  (void)at;
  return count_head(p->data, len);
}

static int on_headers_complete(llhttp_t *p) {
  conn_t *c = p->data;

  c->method = llhttp_get_method(p);
  c->keep_alive = (uint8_t)llhttp_should_keep_alive(p);
  c->http10 = p->http_major == 1 && p->http_minor == 0;
  return 0;
}

/* The target is "/", perhaps with a query. */
static int is_root(const conn_t *c) {
  return c->url_len <= MAX_URL && c->url_len >= 1 && c->url[0] == '/' &&
         (c->url_len == 1 || c->url[1] == '?');
}

static int on_message_complete(llhttp_t *p) {
  conn_t *c = p->data;
  int head = c->method == HTTP_HEAD;

  if (c->out_len + MAX_RESPONSE > sizeof c->out && flush(c) != 0) {
    c->failed = 1;
    return HPE_PAUSED;
  }
  if (!is_root(c))
    answer(c, &not_found, !head);
  else if (c->method == HTTP_GET || head)
    answer(c, &ok, !head);
  else
    answer(c, &not_allowed, 1);
  if (!c->keep_alive) {
    c->closing = 1;
    return HPE_PAUSED; /* ignore whatever follows */
  }
  return 0;
}

static llhttp_settings_t settings;

/* --- libuv callbacks ------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn_t *c = h->data;

  (void)suggested;
  *buf = uv_buf_init(c->in, sizeof c->in);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  llhttp_errno_t err;

  if (nread == UV_EOF) {
    c->closing = 1; /* answers still queued go out before the FIN */
  } else if (nread < 0) {
    conn_close(c);
    return;
  } else if (nread == 0) {
    return;
  } else {
    refresh_date();
    err = llhttp_execute(&c->parser, buf->base, (size_t)nread);
    if (err == HPE_PAUSED_UPGRADE) {
      c->closing = 1; /* no upgrades here: answered, now close */
    } else if (err != HPE_OK && err != HPE_PAUSED) {
      if (c->out_len + MAX_RESPONSE > sizeof c->out && flush(c) != 0)
        c->failed = 1;
      c->keep_alive = 0;
      c->closing = 1;
      answer(c, c->error_status == 431 ? &head_too_large : &bad_request, 1);
    }
    if (!c->failed && flush(c) != 0)
      c->failed = 1;
  }
  if (c->failed) {
    conn_close(c);
  } else if (c->closing) {
    uv_read_stop(s);
    if (uv_shutdown(&c->shutdown, s, on_shutdown) != 0)
      conn_close(c);
  } else if (s->write_queue_size > WRITE_HIGH_WATER) {
    uv_read_stop(s);
    c->read_stopped = 1;
  }
}

static void on_connection(uv_stream_t *server, int status) {
  conn_t *c;

  if (status < 0)
    return;
  c = malloc(sizeof *c);
  if (c == NULL)
    return;
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_close);
    return;
  }
  llhttp_init(&c->parser, HTTP_REQUEST, &settings);
  c->parser.data = c;
  c->out_len = 0;
  c->error_status = 0;
  c->closing = c->failed = c->read_stopped = 0;
  c->keep_alive = 1;
  c->http10 = 0;
  uv_tcp_nodelay(&c->tcp, 1);
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    conn_close(c);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 8080, i, err, len;
  struct sockaddr_storage addr, bound;
  char name[INET6_ADDRSTRLEN];
  uv_tcp_t server;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
      host = argv[++i];
    } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: http_hello_uv [--host 127.0.0.1] [--port 8080]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN); /* a peer that left: EPIPE, not death */
  llhttp_settings_init(&settings);
  settings.on_message_begin = on_message_begin;
  settings.on_url = on_url;
  settings.on_header_field = on_header_data;
  settings.on_header_value = on_header_data;
  settings.on_headers_complete = on_headers_complete;
  settings.on_message_complete = on_message_complete;

  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0) {
    fprintf(stderr, "http_hello_uv: bad address %s\n", host);
    return 2;
  }
  uv_tcp_init(uv_default_loop(), &server);
  if ((err = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0)) != 0 ||
      (err = uv_listen((uv_stream_t *)&server, 511, on_connection)) != 0) {
    fprintf(stderr, "http_hello_uv: %s:%d: %s\n", host, port, uv_strerror(err));
    return 1;
  }
  len = sizeof bound;
  uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
  if (bound.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&bound, name, sizeof name);
    printf("listening on http://[%s]:%d\n", name,
           ntohs(((struct sockaddr_in6 *)&bound)->sin6_port));
  } else {
    uv_ip4_name((struct sockaddr_in *)&bound, name, sizeof name);
    printf("listening on http://%s:%d\n", name,
           ntohs(((struct sockaddr_in *)&bound)->sin_port));
  }
  fflush(stdout);
  return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}
