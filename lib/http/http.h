/* The HTTP server's insides, shared by its files.
 *
 * A connection's task owns a corio__hconn_t (on its stack) and serves
 * requests in order. The request's bytes stay in the TCP connection's
 * read buffer (lib/net/tcp.h), parsed in place by llhttp: while a request
 * is served, its head occupies [0, head_len) of the buffer and never
 * moves; body bytes come after it, and the ones already handed to the
 * handler are cut out when more room is needed. */
#ifndef CORIO_HTTP_INTERNAL_H
#define CORIO_HTTP_INTERNAL_H

#include <llhttp.h>
#include <stdatomic.h>

#include "corio/http.h"
#include "corio/sync.h"
#include "net/tcp.h"

#define CORIO__HTTP_MAX_HEADERS 100

typedef struct corio__hspan {
  size_t off, len;   /* from the start of the buffer */
} corio__hspan_t;

typedef struct corio__hconn corio__hconn_t;

struct corio_http_req_s {
  corio__hconn_t *hc;
  corio_http_str_t method, target, path, query;
  int version;                   /* 10, 11 */
  corio_http_str_t names[CORIO__HTTP_MAX_HEADERS];
  corio_http_str_t values[CORIO__HTTP_MAX_HEADERS];
  size_t nheaders;
  int64_t content_length;        /* -1: chunked */
  int keep_alive;
  int head_method;               /* HEAD: responses carry no body */
  int expect_continue, continue_sent;
  /* The body, as body_read takes it. */
  size_t head_len;               /* where the body starts */
  size_t parse_off;              /* the first byte llhttp has not seen */
  corio__hspan_t left;           /* decoded body bytes not handed out yet */
  uint64_t body_total;           /* handed out so far */
  int body_started, body_done, body_err;
};

struct corio_http_res_s {
  corio__hconn_t *hc;
  int started, done;             /* head sent; response complete */
  int chunked;
  int64_t remaining;             /* Content-Length bytes still owed, or -1 */
  int close_after;
  int status;
};

/* Parsing state, llhttp's user data while it runs. */
typedef struct corio__hparse {
  corio__hspan_t method, url, version;
  corio__hspan_t names[CORIO__HTTP_MAX_HEADERS];
  corio__hspan_t values[CORIO__HTTP_MAX_HEADERS];
  size_t n;
  int field_open, value_open, url_done;
  size_t field_end;              /* offset just past the last field name */
  size_t value_end;              /* and the last value span */
  int have_field;                /* a name came since the last value */
  int too_many, too_big;         /* why a callback failed (else: 400) */
  int headers_done, message_done;
  int in_trailers;               /* the last chunk was seen */
  size_t base_off;               /* buffer offset of the bytes being parsed */
  const char *base;              /* and their address */
  corio__hspan_t body;           /* the body span of this execute */
  int got_body;
  /* Chunked bodies: what the body may still grow to, and the credit of
   * non-data bytes (chunk lines, extensions, trailers), as Go's
   * net/http counts it: each chunk earns 16 + 2 * its size. */
  uint64_t body_room;
  int64_t overhead_credit;
} corio__hparse_t;

struct corio__hconn {
  corio_http_server_t *srv;
  corio_tcp_t *tcp;
  llhttp_t parser;
  corio__hparse_t ps;
  corio_http_req_t req;
  corio_http_res_t res;
  corio__hconn_t *prev, *next;   /* the server's list, under its lock */
  corio_task_t *task;
  int idle;                      /* waiting for a request (under srv lock) */
};

struct corio_http_server_s {
  corio_tcp_listener_t *ln;
  corio_http_handler_fn handler;
  void *arg;
  corio_http_options_t opts;
  corio__spin_t lock;
  corio__hconn_t *conns;         /* live connections */
  unsigned nconns;               /* registered connections */
  /* Connection tasks spawned but not registered yet (lib/net counts them
   * as it spawns): srv must outlive them too. */
  _Atomic(int) pending;
  int draining;
};

/* parse.c */
extern const llhttp_settings_t corio__http_settings;
/* Read and parse a request head. 0 (req filled, views valid), or an HTTP
 * status the server answers before closing (400, 408, 413, ...), or -1:
 * close without answering (the client went away, idle timeout, shutdown). */
int corio__http_read_head(corio__hconn_t *hc);
/* The rest of the body after the handler: drop it if small, 0; else -1
 * (close the connection). */
int corio__http_finish_body(corio__hconn_t *hc);
/* The request's bytes are done with: let the next request start. */
void corio__http_next(corio__hconn_t *hc);

/* response.c */
/* A response the server makes itself (errors), closing after it. */
int corio__http_error(corio__hconn_t *hc, int status);
/* Send "100 Continue" if the request asked for it and nothing was sent. */
int corio__http_continue(corio__hconn_t *hc);
uint64_t corio__http_deadline(corio__hconn_t *hc);

#endif
