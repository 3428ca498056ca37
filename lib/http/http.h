/* The HTTP server's insides, shared by its files.
 *
 * A connection's task owns a corio__hconn_t (calloc'ed when the task
 * starts, freed when it ends) and serves requests in order. The request's
 * bytes stay in the TCP connection's read buffer (lib/net/tcp.h), parsed
 * in place by llhttp: while a request is served, its head occupies
 * [0, head_len) of the buffer and never moves; body bytes come after it,
 * and the ones already handed to the handler are cut out when more room
 * is needed. */
#ifndef CORIO_HTTP_INTERNAL_H
#define CORIO_HTTP_INTERNAL_H

#include <llhttp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/list.h"
#include "core/spin.h"
#include "corio/http.h"
#include "corio/sync.h"
#include "corio/uv.h"
#include "net/tcp.h"
#include "sched/task.h"
#include "sched/wait.h"

typedef struct corio__hspan {
  size_t off, len;   /* from the start of the buffer */
} corio__hspan_t;

typedef struct corio__hconn corio__hconn_t;

/* Where a request's header fields (and trailer fields after them) sit in
 * the buffer: names and values, values trimmed once the head is done.
 * Taken from a pool (core/pool.h) when a request's first bytes are there,
 * given back when the connection waits for the next one with nothing
 * buffered, so an idle connection holds none. */
typedef struct corio__htable {
  corio__hspan_t names[CORIO_HTTP_MAX_HEADERS];
  corio__hspan_t values[CORIO_HTTP_MAX_HEADERS];
} corio__htable_t;

/* A request and its response are members of their connection
 * (corio__hconn_of_req, corio__hconn_of_res get back to it). */
struct corio_http_req_s {
  corio_http_str_t method, target, path, query;
  int version;                   /* 10, 11 */
  const char *base;              /* the buffer the head's spans are in */
  size_t nheaders;               /* the first ones of hc->tab */
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
  int started, done;             /* head sent; response complete */
  int chunked;
  int64_t remaining;             /* Content-Length bytes still owed, or -1 */
  int close_after;
  int status;
};

/* Parsing state, llhttp's user data while it runs. */
typedef struct corio__hparse {
  corio__hspan_t method, url, version;
  corio__htable_t *tab;          /* hc->tab */
  size_t n;                      /* fields in tab */
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
  corio__htable_t *tab;          /* or NULL while idle */
  corio_http_req_t req;
  corio_http_res_t res;
  corio__list_t link;            /* on srv->conns, under srv->lock */
  corio_task_t *task;
  _Atomic(int) idle;             /* waiting for a request (see set_idle) */
};

/* A buffer over len bytes: uv_buf_init takes an unsigned length and
 * would cut a body of 4 GiB or more. */
static inline uv_buf_t corio__buf(const void *p, size_t len) {
  uv_buf_t b;

  b.base = (char *)(uintptr_t)p;
  b.len = len;
  return b;
}

static inline corio__hconn_t *corio__hconn_of_req(corio_http_req_t *req) {
  return corio__container_of(req, corio__hconn_t, req);
}


static inline const corio__hconn_t *corio__hconn_of_creq(const corio_http_req_t *req) {
  return (const corio__hconn_t *)(const void *)((const char *)req -
                                               offsetof(corio__hconn_t, req));
}


static inline corio__hconn_t *corio__hconn_of_res(corio_http_res_t *res) {
  return corio__container_of(res, corio__hconn_t, res);
}


typedef struct corio__hthread_waiter corio__hthread_waiter_t;

/* The server. Everything below `lock` is under it, except `pending`
 * (atomic) and `left` (a wait group, changed under the lock).
 *
 * Ending: the connections have all ended once none is registered
 * (nconns == 0) and none can still come: the listener spawns no more
 * tasks (ln_done: it is closed, or run has returned) and those it spawned
 * have all begun (pending == 0): then the gate opens. `left` counts what
 * is left, 1 for the gate and 1 per registered connection; a task waiting
 * for the end waits on it, a plain thread on its own condition variable
 * (thread_waiter, server.c). Whoever brings the count to zero wakes both,
 * under the lock, which is its last touch of srv. */
struct corio_http_server_s {
  corio_tcp_listener_t *ln;      /* NULL once shutdown has taken it */
  corio_http_handler_fn handler;
  void *arg;
  corio_http_server_options_t opts;
  corio__spin_t lock;
  corio__list_t conns;           /* registered connections (hc->link) */
  unsigned nconns;
  /* Connection tasks spawned but not registered yet (lib/net counts them
   * as it spawns, on the loop thread): srv must outlive them too. */
  _Atomic(int) pending;
  int shutting;                  /* shutdown was called */
  /* Refuse new connections, end idle ones. Set under lock; read without
   * it by must_close (response.c). */
  _Atomic(int) draining;
  int ln_done, gate_open;
  corio_wg_t left;
  corio__hthread_waiter_t *thread_waiter;
};

/* Connections close after their current request: the server is
 * stopping. Relaxed: a hint for the response head ("Connection: close");
 * set_idle (server.c) reads it again under the lock before the next
 * request, and that read decides. */
static inline int corio__http_draining(corio_http_server_t *srv) {
  return atomic_load_explicit(&srv->draining, memory_order_relaxed);
}


/* ms from now as a deadline (ms of corio_now(); corio__deadline_ns of
 * sched/wait.h turns it into the ns lib/net's waits take); saturates at
 * CORIO__NO_DEADLINE, so a huge timeout option cannot wrap into the past. */
static inline uint64_t corio__http_after(uint64_t ms) {
  uint64_t now = corio_now();

  return ms >= CORIO__NO_DEADLINE - now ? CORIO__NO_DEADLINE : now + ms;
}


/* fields.c: a handler's response header fields, in either form. */
typedef struct corio__hfields {
  const char *raw;                   /* "Name: value\r\n" lines, or NULL */
  const corio_http_header_t *pairs;  /* or npairs pairs */
  size_t npairs;
} corio__hfields_t;

/* The framing the server will write, and what the fields ask of it. */
typedef struct corio__hframing {
  int64_t content_length;        /* in: its Content-Length, or -1: none */
  int chunked;                   /* in: it writes Transfer-Encoding: chunked */
  int close;                     /* out: a Connection: close among them */
  int has_date;                  /* out: a Date among them (the server's
                                  * own is left out) */
  int has_host;                  /* out: a Host among them (a client's) */
  size_t bytes;                  /* out: what corio__hfields_emit writes */
} corio__hframing_t;

/* Check every field: names are tokens; values hold no CR, LF, NUL or
 * other control byte but tab; a raw line ends in CRLF; Content-Length and
 * Transfer-Encoding must match the server's framing, Connection may only
 * say close or keep-alive. 0, UV_EINVAL, or UV_E2BIG (more than
 * CORIO_HTTP_MAX_RESPONSE_HEADER_BYTES). Sends nothing. */
int corio__hfields_check(const corio__hfields_t *fs, corio__hframing_t *fr);
/* Write the checked fields, but for the framing and Connection ones
 * (the server writes its own), as lines: fr->bytes bytes. */
void corio__hfields_emit(const corio__hfields_t *fs, char *out);

/* parse.c */
extern const llhttp_settings_t corio__http_settings;
/* llhttp callbacks shared by the server's requests and the client's
 * responses (p->data is a corio__hparse_t whose tab is set): fields go
 * into tab as spans (names checked as tokens; values for folds and
 * control bytes; too many: too_many and an error), at most one body span
 * per execute (got_body, body: a chunk's end pauses), and a pause at the
 * end of each message (message_done). */
int corio__hp_header_field(llhttp_t *p, const char *at, size_t len);
int corio__hp_header_field_complete(llhttp_t *p);
int corio__hp_header_value(llhttp_t *p, const char *at, size_t len);
int corio__hp_header_value_complete(llhttp_t *p);
int corio__hp_body(llhttp_t *p, const char *at, size_t len);
/* A chunk of chunk_len bytes earns overhead credit (its line, extensions
 * and, for the last, trailers may take that much): 16 + 2 * chunk_len,
 * saturating. */
void corio__hp_chunk_credit(corio__hparse_t *ps, uint64_t chunk_len);
int corio__hp_chunk_complete(llhttp_t *p);
int corio__hp_message_complete(llhttp_t *p);
/* Run p over the bytes of tcp's buffer from *parse_off (at most len_cap
 * of them), moving *parse_off past what it took; a pause is resumed.
 * HPE_OK, or llhttp's error. The connection's reader only. */
llhttp_errno_t corio__hp_execute(llhttp_t *p, corio__hparse_t *ps, corio_tcp_t *tcp,
                                 size_t *parse_off, size_t len_cap);
/* Read and parse a request head. 0 (req filled, views valid), or an HTTP
 * status the server answers before closing (400, 408, 413, ...), or -1:
 * close without answering (the client went away, idle timeout, shutdown). */
int corio__http_read_head(corio__hconn_t *hc);
/* Give the header table back (the connection waits idle, or ends). */
void corio__http_table_put(corio__hconn_t *hc);
/* Is the whole of an unread body buffered already? Parses a copy of the
 * parser over the buffered bytes: nothing is consumed. */
int corio__http_body_all_here(corio__hconn_t *hc);
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
