/* The HTTP/1.1 client (corio/http_client.h): requests written from the
 * calling task, responses parsed by llhttp in place in the connection's
 * read buffer (the head stays at [0, head_len) until the call ends; body
 * bytes behind it are handed out and cut, as the server does with
 * request bodies), and a pool of idle keep-alive connections.
 *
 * A call's connection is read by that call only (corio__tcp_read_begin);
 * a pooled one by nobody: it is checked quiet (nothing buffered, no end
 * of stream) when it is taken again. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/list.h"
#include "core/pool.h"
#include "core/spin.h"
#include "corio/http_client.h"
#include "http.h"

#define HOST_MAX 256
#define KEY_MAX (HOST_MAX + 8)
#define OVERHEAD_MAX (16 * 1024) /* chunk framing beyond its credit */

/* --- the client and its pool ------------------------------------------------ */

typedef struct pooled {
  corio__list_t link;
  corio_tcp_t *tcp;
  char key[KEY_MAX];
  uint64_t since;                /* corio_now() when it went idle */
} pooled_t;

struct corio_http_client_s {
  corio_http_client_options_t opts;
  corio__spin_t lock;            /* idle and calls */
  corio__list_t idle;            /* pooled_t, newest first */
  unsigned calls;                /* open calls */
};


int corio_http_client_new(const corio_http_client_options_t *opts,
                          corio_http_client_t **out) {
  corio_http_client_t *cl;
  corio_http_client_options_t *o;

  if (out == NULL)
    return UV_EINVAL;
  *out = NULL;
  if ((cl = calloc(1, sizeof *cl)) == NULL)
    return UV_ENOMEM;
  o = &cl->opts;
  if (opts != NULL)
    *o = *opts;
  if (o->max_idle == 0)
    o->max_idle = CORIO_HTTP_CLIENT_DEFAULT_MAX_IDLE;
  if (o->idle_timeout_ms == 0)
    o->idle_timeout_ms = CORIO_HTTP_CLIENT_DEFAULT_IDLE_TIMEOUT_MS;
  if (o->connect_timeout_ms == 0)
    o->connect_timeout_ms = CORIO_HTTP_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
  if (o->head_timeout_ms == 0)
    o->head_timeout_ms = CORIO_HTTP_CLIENT_DEFAULT_HEAD_TIMEOUT_MS;
  if (o->max_head_bytes == 0)
    o->max_head_bytes = CORIO_HTTP_CLIENT_DEFAULT_MAX_HEAD_BYTES;
  if (o->max_head_bytes > CORIO_HTTP_MAX_HEADER_BYTES_CAP)
    o->max_head_bytes = CORIO_HTTP_MAX_HEADER_BYTES_CAP;
  corio__list_init(&cl->idle);
  *out = cl;
  return 0;
}


/* Close the idle connections older than the idle timeout, or no longer
 * quiet, wherever they sit in the list; called with the lock held, they
 * go to stale (closed by close_stale, without the lock). */
static void expire_locked(corio_http_client_t *cl, uint64_t now, corio__list_t *stale) {
  corio__list_t *l, *nx;

  for (l = cl->idle.next; l != &cl->idle; l = nx) {
    pooled_t *p = corio__container_of(l, pooled_t, link);
    nx = l->next;
    /* (since may be past now: a put that read the clock after ours) */
    if ((p->since <= now && now - p->since >= cl->opts.idle_timeout_ms) ||
        !corio__tcp_quiet(p->tcp)) {
      corio__list_remove(l);
      corio__list_push_back(stale, l);
    }
  }
}

static void close_stale(corio__list_t *stale) {
  corio__list_t *l;

  while ((l = stale->next) != stale) {
    pooled_t *p = corio__container_of(l, pooled_t, link);
    corio__list_remove(l);
    corio_close(p->tcp);
    free(p);
  }
}


int corio_http_client_free(corio_http_client_t *cl) {
  if (cl == NULL || !corio__in_task())
    return UV_EINVAL;
  corio__spin_lock(&cl->lock);
  if (cl->calls > 0) {
    corio__spin_unlock(&cl->lock);
    return UV_EBUSY;
  }
  corio__spin_unlock(&cl->lock);
  close_stale(&cl->idle);
  free(cl);
  return 0;
}


/* A quiet pooled connection for key, or NULL. Every expired one in the
 * pool is closed on the way, whatever its key: an idle client closes its
 * old connections at its next call (or at corio_http_client_free). */
static corio_tcp_t *pool_take(corio_http_client_t *cl, const char *key) {
  corio_tcp_t *got = NULL;
  corio__list_t stale, *l;

  corio__list_init(&stale);
  corio__spin_lock(&cl->lock);
  expire_locked(cl, corio_now(), &stale);
  for (l = cl->idle.next; l != &cl->idle; l = l->next) {
    pooled_t *p = corio__container_of(l, pooled_t, link);
    if (strcmp(p->key, key) == 0) {
      corio__list_remove(l);
      got = p->tcp;
      free(p);
      break;
    }
  }
  corio__spin_unlock(&cl->lock);
  close_stale(&stale);
  return got;
}


/* Keep tcp for key, unless key has max_idle already (then close the
 * oldest of them). */
static void pool_put(corio_http_client_t *cl, const char *key, corio_tcp_t *tcp) {
  pooled_t *p = malloc(sizeof *p), *oldest = NULL;
  unsigned same = 0;
  corio__list_t stale, *l;

  if (p == NULL) {
    corio_close(tcp);
    return;
  }
  p->tcp = tcp;
  snprintf(p->key, sizeof p->key, "%s", key);
  p->since = corio_now();
  corio__list_init(&stale);
  corio__spin_lock(&cl->lock);
  expire_locked(cl, p->since, &stale);
  for (l = cl->idle.next; l != &cl->idle; l = l->next) {
    pooled_t *q = corio__container_of(l, pooled_t, link);
    if (strcmp(q->key, key) == 0) {
      same++;
      oldest = q;
    }
  }
  if (same < cl->opts.max_idle)
    oldest = NULL;
  else
    corio__list_remove(&oldest->link);
  corio__list_push_front(&cl->idle, &p->link);
  corio__spin_unlock(&cl->lock);
  close_stale(&stale);
  if (oldest != NULL) {
    corio_close(oldest->tcp);
    free(oldest);
  }
}


/* --- URLs -------------------------------------------------------------------- */

typedef struct url {
  char host[HOST_MAX];           /* for connect: no brackets */
  char authority[HOST_MAX + 8];  /* for Host: "[::1]:8080", "a.b" */
  int port;
  const char *target;            /* "/path?query", or "" for "/" */
} url_t;

/* A host as a name (letters, digits, '-', '.', '_', '~') or, bracketed,
 * an IPv6 literal (hex digits, ':', '.', and a zone after '%'): nothing
 * that could end the Host line or the request line it goes into. */
static int host_ok(const char *h, size_t n, int literal) {
  int zone = 0;

  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)h[i];
    int name = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (literal && !zone) {
      if (c == '%')
        zone = 1;
      else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                 (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
        return 0;
    } else if (!name) {
      return 0;
    }
  }
  return 1;
}


static int parse_url(const char *s, url_t *u) {
  const char *h, *end;
  size_t n;
  long port = 80;

  if (strncasecmp(s, "http://", 7) != 0)
    return UV_EINVAL;
  s += 7;
  if (*s == '[') {
    if ((end = strchr(s, ']')) == NULL)
      return UV_EINVAL;
    h = s + 1;
    n = (size_t)(end - h);
    end++;
  } else {
    h = s;
    n = strcspn(s, ":/?#@");
    end = s + n;
  }
  if (n == 0 || n >= HOST_MAX || !host_ok(h, n, h[-1] == '['))
    return UV_EINVAL;
  memcpy(u->host, h, n);
  u->host[n] = '\0';
  if (*end == ':') {
    char *e;
    port = strtol(end + 1, &e, 10);
    if (e == end + 1 || port < 1 || port > 65535)
      return UV_EINVAL;
    end = e;
  }
  if (*end != '\0' && *end != '/' && *end != '?')
    return UV_EINVAL; /* '@' (userinfo), '#', or junk after the port */
  for (const char *p = end; *p != '\0'; p++)
    if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#')
      return UV_EINVAL; /* no spaces, controls or fragments in a target */
  u->port = (int)port;
  u->target = end;
  snprintf(u->authority, sizeof u->authority, h[-1] == '[' ? "[%s]" : "%s", u->host);
  if (port != 80) {
    size_t k = strlen(u->authority);
    snprintf(u->authority + k, sizeof u->authority - k, ":%ld", port);
  }
  return 0;
}


/* --- calls ----------------------------------------------------------------- */

struct corio_http_call_s {
  corio_http_client_t *cl;
  corio_tcp_t *tcp;
  url_t u;
  char key[KEY_MAX];
  int reused;                    /* tcp came from the pool */
  uint64_t deadline;             /* ms of corio_now(), the whole call */

  /* the request */
  char *head;                    /* its head, kept to send it again */
  size_t head_len;
  const void *mem_body;          /* corio_http_fetch's body, or NULL */
  size_t mem_len;
  int64_t body_length;           /* as call_start's, or chunked */
  uint64_t body_sent;
  int expect_continue;           /* waiting for the 100 before the body */
  int idempotent;                /* the method may be sent twice */
  /* corio_now() + 1 when the request was all out, 0 before: the head
   * timeout counts from there. Atomic: in a full-duplex call the reader
   * waits on it while the writer sets it. */
  _Atomic(uint64_t) request_done;
  _Atomic(int) werr;             /* the writer's first error */
  /* Connection: close, either side; an error. Atomic: in a full-duplex
   * call the writer and the reader are two tasks. */
  _Atomic(int) close_after;

  /* the response */
  llhttp_t parser;
  corio__hparse_t ps;            /* its parse state (parse.c's callbacks) */
  int head_request;              /* the response carries no body */
  size_t nheaders;               /* fields of the final head (then trailers) */
  int status;                    /* the final one, once its head is here */
  size_t head_end;               /* the response head: [0, head_end) */
  size_t parse_off;              /* the first byte llhttp has not seen */
  corio__hspan_t left;           /* body bytes not handed out yet */
  int got_bytes;                 /* some byte of the response came */
  int early_answer;              /* a final answer before the body went */
  size_t trailers_at;            /* where the trailers begin, 0 before */
  int trailers_moved;            /* moved down to head_end */
  _Atomic(int) err;              /* sticky: the reader's first error */
};

static corio_http_call_t *call_of(llhttp_t *p) {
  return corio__container_of((corio__hparse_t *)p->data, corio_http_call_t, ps);
}

static int on_headers_complete(llhttp_t *p) {
  corio_http_call_t *call = call_of(p);

  call->ps.headers_done = 1;
  /* A response to HEAD, a 204 and a 304 have no body, whatever their head
   * says (a 304 may carry the Content-Length of the resource; RFC 9110
   * 8.6). llhttp reads a return of 1 from here as "skip the body", but
   * this pauses, to look at the head first: so the flag itself, which
   * llhttp honours when it resumes. */
  if (call->head_request || p->status_code == 204 || p->status_code == 304)
    p->flags |= F_SKIPBODY;
  return HPE_PAUSED;
}

/* Chunk framing earns credit (as the server counts it); no size limit:
 * the caller reads the body as a stream. */
static int on_chunk_header(llhttp_t *p) {
  corio__hparse_t *ps = &call_of(p)->ps;

  corio__hp_chunk_credit(ps, p->content_length);
  if (p->content_length == 0) {
    /* The last chunk: pause, so that parse_off marks where the trailers
     * begin (call_read moves them down to make room, see there). */
    ps->in_trailers = 1;
    return HPE_PAUSED;
  }
  return 0;
}

static const llhttp_settings_t response_settings = {
    .on_header_field = corio__hp_header_field,
    .on_header_field_complete = corio__hp_header_field_complete,
    .on_header_value = corio__hp_header_value,
    .on_header_value_complete = corio__hp_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_chunk_header = on_chunk_header,
    .on_body = corio__hp_body,
    .on_chunk_complete = corio__hp_chunk_complete,
    .on_message_complete = corio__hp_message_complete,
};


static uint64_t min_u64(uint64_t a, uint64_t b) {
  return a < b ? a : b;
}


/* ms from now, capped by the call's deadline; in the wait core's ns. */
static uint64_t within(corio_http_call_t *call, uint64_t ms) {
  uint64_t now = corio_now();
  uint64_t d = ms >= UINT64_MAX - now ? UINT64_MAX : now + ms;

  return corio__deadline_ns(min_u64(d, call->deadline));
}


/* Run llhttp over up to len_cap buffered bytes from parse_off: 0, or
 * UV_EPROTO. */
static int run(corio_http_call_t *call, size_t len_cap) {
  return corio__hp_execute(&call->parser, &call->ps, call->tcp, &call->parse_off, len_cap) ==
                 HPE_OK
             ? 0
             : UV_EPROTO;
}


static int fail(corio_http_call_t *call, int err) {
  int none = 0;

  atomic_compare_exchange_strong(&call->err, &none, err);
  atomic_store(&call->close_after, 1);
  return err;
}


static void mark_request_done(corio_http_call_t *call) {
  atomic_store(&call->request_done, corio_now() + 1);
}


/* Send bufs on the call's connection, by the call's deadline. */
static int send_all(corio_http_call_t *call, uv_buf_t *bufs, unsigned n) {
  ssize_t w = corio_writev_dl(call->tcp, bufs, n, call->deadline);

  return w < 0 ? (int)w : 0;
}


static void drop_conn(corio_http_call_t *call) {
  if (call->tcp != NULL) {
    corio__tcp_read_end(call->tcp);
    corio_close(call->tcp);
    call->tcp = NULL;
  }
}


/* Connect, or take a pooled connection (fresh: never the pool), and
 * become its reader. */
static int open_conn(corio_http_call_t *call, const url_t *u, int fresh) {
  corio_tcp_t *tcp = fresh ? NULL : pool_take(call->cl, call->key);
  int err;

  call->reused = tcp != NULL;
  if (tcp == NULL) {
    uint64_t now = corio_now(), ms = call->cl->opts.connect_timeout_ms;
    uint64_t d = min_u64(ms >= UINT64_MAX - now ? UINT64_MAX : now + ms, call->deadline);
    if ((err = corio_tcp_connect_dl(u->host, u->port, &tcp, d)) != 0)
      return err;
  }
  if ((err = corio__tcp_read_begin(tcp)) != 0) {
    corio_close(tcp);
    return err;
  }
  call->tcp = tcp;
  return 0;
}


/* The head and, for a fetch, the body, in one write. */
static int send_request(corio_http_call_t *call) {
  uv_buf_t bufs[2];
  unsigned n = 0;

  bufs[n++] = uv_buf_init(call->head, (unsigned)call->head_len);
  if (call->mem_body != NULL && call->mem_len > 0) {
    bufs[n++] = corio__buf(call->mem_body, call->mem_len);
  }
  return send_all(call, bufs, n);
}


/* May the request go again on a fresh connection? Only if the pooled one
 * it went on failed before any byte of the answer, the method is
 * idempotent (RFC 9110 9.2.2: a POST that reached the server must not run
 * twice) and the whole request can be sent again. */
static int may_retry(corio_http_call_t *call, int err) {
  return call->reused && !call->got_bytes && call->idempotent &&
         (call->body_length == 0 || call->mem_body != NULL) &&
         (err == UV_EOF || err == UV_ECONNRESET || err == UV_EPIPE);
}


static int resend_fresh(corio_http_call_t *call) {
  int err;

  drop_conn(call);
  if ((err = open_conn(call, &call->u, 1)) != 0)
    return err;
  return send_request(call);
}


static int is_method(const char *m) {
  if (*m == '\0')
    return 0;
  for (; *m != '\0'; m++)
    if (!((*m >= 'A' && *m <= 'Z') || *m == '-' || *m == '_'))
      return 0;
  return 1;
}


static int is_idempotent(const char *m) {
  static const char *const safe[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};

  for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
    if (strcmp(m, safe[i]) == 0)
      return 1;
  return 0;
}


/* Build the request head into call->head. */
static int build_head(corio_http_call_t *call, const char *method, const url_t *u,
                      const corio_http_header_t *headers, size_t n) {
  corio__hfields_t fs = {NULL, headers, n};
  corio__hframing_t fr;
  int body_method = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                    strcmp(method, "PATCH") == 0;
  int64_t cl = call->body_length > 0 || (call->body_length == 0 && body_method)
                   ? call->body_length : -1;
  const char *target = *u->target == '\0' ? "/" : u->target;
  size_t cap, k;
  int err;

  fr.content_length = cl;
  fr.chunked = call->body_length == CORIO_HTTP_BODY_CHUNKED;
  if ((err = corio__hfields_check(&fs, &fr)) != 0)
    return err;
  atomic_store(&call->close_after, fr.close);
  for (size_t i = 0; i < n; i++)
    if (strcasecmp(headers[i].name, "expect") == 0 &&
        strcasecmp(headers[i].value, "100-continue") == 0)
      call->expect_continue = call->body_length != 0 && call->mem_body == NULL;
  cap = strlen(method) + strlen(target) + strlen(u->authority) + fr.bytes + 128;
  if ((call->head = malloc(cap)) == NULL)
    return UV_ENOMEM;
  k = (size_t)snprintf(call->head, cap, "%s %s HTTP/1.1\r\n", method, target);
  if (!fr.has_host)
    k += (size_t)snprintf(call->head + k, cap - k, "Host: %s\r\n", u->authority);
  if (cl >= 0)
    k += (size_t)snprintf(call->head + k, cap - k, "Content-Length: %lld\r\n",
                          (long long)cl);
  else if (fr.chunked)
    k += (size_t)snprintf(call->head + k, cap - k, "Transfer-Encoding: chunked\r\n");
  if (fr.close)
    k += (size_t)snprintf(call->head + k, cap - k, "Connection: close\r\n");
  corio__hfields_emit(&fs, call->head + k);
  k += fr.bytes;
  call->head[k++] = '\r';
  call->head[k++] = '\n';
  call->head_len = k;
  return 0;
}


static void call_free(corio_http_call_t *call) {
  corio_http_client_t *cl = call->cl;

  corio__pool_put(CORIO__POOL_HTTP_TABLE, call->ps.tab);
  free(call->head);
  free(call);
  corio__spin_lock(&cl->lock);
  cl->calls--;
  corio__spin_unlock(&cl->lock);
}


static int fail_write(corio_http_call_t *call, int err);


static int call_begin(corio_http_client_t *cl, const char *method, const char *url,
                      const corio_http_header_t *headers, size_t n,
                      int64_t body_length, const void *mem_body, size_t mem_len,
                      uint64_t deadline, corio_http_call_t **out) {
  corio_http_call_t *call;
  url_t u;
  int err;

  if (out == NULL)
    return UV_EINVAL;
  *out = NULL;
  if (cl == NULL || method == NULL || url == NULL || (headers == NULL && n > 0) ||
      body_length < CORIO_HTTP_BODY_CHUNKED || !is_method(method) ||
      !corio__in_task())
    return UV_EINVAL;
  if ((err = parse_url(url, &u)) != 0)
    return err;
  if ((call = calloc(1, sizeof *call)) == NULL)
    return UV_ENOMEM;
  corio__spin_lock(&cl->lock);
  cl->calls++;
  corio__spin_unlock(&cl->lock);
  call->cl = cl;
  call->u = u;
  call->deadline = deadline;
  call->body_length = body_length;
  call->mem_body = mem_body;
  call->mem_len = mem_len;
  snprintf(call->key, sizeof call->key, "%s:%d", u.host, u.port);
  llhttp_init(&call->parser, HTTP_RESPONSE, &response_settings);
  call->parser.data = &call->ps;
  call->head_request = strcmp(method, "HEAD") == 0;
  call->idempotent = is_idempotent(method);
  if ((err = build_head(call, method, &call->u, headers, n)) != 0 ||
      (err = open_conn(call, &call->u, 0)) != 0) {
    call_free(call);
    return err;
  }
  err = send_request(call);
  if (err != 0 && may_retry(call, err))
    err = resend_fresh(call);
  if (err == UV_EPIPE || err == UV_ECONNRESET) {
    /* The server stopped reading, perhaps having answered (a 413 to a
     * body too large, a 503 and close): the call goes on, its write side
     * failed, and call_response reads what came. */
    fail_write(call, err);
    *out = call;
    return 0;
  }
  if (err != 0) {
    drop_conn(call);
    call_free(call);
    return err;
  }
  if (mem_body != NULL)
    call->body_sent = mem_len;
  if (body_length == 0 || mem_body != NULL)
    mark_request_done(call); /* nothing more to write */
  *out = call;
  return 0;
}


int corio_http_call_start(corio_http_client_t *cl, const char *method, const char *url,
                          const corio_http_header_t *headers, size_t n,
                          int64_t body_length, uint64_t deadline,
                          corio_http_call_t **out) {
  return call_begin(cl, method, url, headers, n, body_length, NULL, 0, deadline, out);
}


/* Read and parse until the final response head is here: its status, or an
 * error. until_ns bounds this wait (the head timeout, or the continue
 * wait); UV_ETIMEDOUT then. 100 Continue sets *continued. */
static int read_head(corio_http_call_t *call, uint64_t until_ns, int *continued) {
  corio__hparse_t *ps = &call->ps;
  size_t max = call->cl->opts.max_head_bytes;
  ssize_t got;
  char *buf;
  int err;

  for (;;) {
    size_t avail = corio__tcp_peek(call->tcp, &buf);

    if (avail > call->parse_off) {
      call->got_bytes = 1;
      if (ps->tab == NULL &&
          (ps->tab = corio__pool_get(CORIO__POOL_HTTP_TABLE, sizeof *ps->tab)) == NULL)
        return UV_ENOMEM;
      if ((err = run(call, avail - call->parse_off)) != 0)
        return ps->too_many ? UV_E2BIG : err;
      if (ps->headers_done) {
        int status = llhttp_get_status_code(&call->parser);
        if (call->parse_off > max)
          return UV_E2BIG;
        if (status == 101)
          return UV_EPROTO;
        if (status >= 200) {
          call->head_end = call->parse_off;
          call->nheaders = ps->n;
          /* Past the head into the body's framing: a message without a
           * body (Content-Length: 0, HEAD, 204, 304) ends here, and an
           * until-close body may end at the close. */
          if ((err = run(call, 0)) != 0)
            return err;
          return status;
        }
        /* 1xx: its (bodiless) message ends at once; drop it and go on */
        if ((err = run(call, 0)) != 0 || !ps->message_done)
          return UV_EPROTO;
        if (status == 100 && continued != NULL)
          *continued = 1;
        corio__tcp_cut(call->tcp, 0, call->parse_off);
        call->parse_off = 0;
        {
          corio__htable_t *tab = ps->tab;
          memset(ps, 0, sizeof *ps); /* a new head follows */
          ps->tab = tab;
        }
        if (continued != NULL && *continued)
          return 100;
      }
      continue;
    }
    if (avail >= max)
      return UV_E2BIG;
    got = corio__tcp_fill_dl(call->tcp, avail, until_ns);
    if (got < 0)
      return got == UV_ENOBUFS ? UV_E2BIG : (int)got;
  }
}


/* A final answer came before the body was sent (after Expect): keep it
 * for call_response, send no body, never reuse the connection. */
static int answered_early(corio_http_call_t *call, int status) {
  call->status = status;
  call->early_answer = 1;
  atomic_store(&call->close_after, 1);
  return UV_EALREADY;
}


/* The writer's error: kept apart from the reader's (call->err), so that a
 * response that came whole is still read after the server stopped
 * reading the body; the connection is not reused. */
static int fail_write(corio_http_call_t *call, int err) {
  int none = 0;
  uint64_t not_done = 0;

  atomic_compare_exchange_strong(&call->werr, &none, err);
  atomic_store(&call->close_after, 1);
  /* The request ends here, short: the head timeout of a reader (full
   * duplex) counts from now. */
  atomic_compare_exchange_strong(&call->request_done, &not_done, corio_now() + 1);
  return err;
}


ssize_t corio_http_call_write(corio_http_call_t *call, const void *data, size_t len) {
  uv_buf_t bufs[3];
  char frame[24];
  int err;

  if (call == NULL || (data == NULL && len > 0) || !corio__in_task())
    return UV_EINVAL;
  if (call->werr != 0)
    return call->werr;
  if (call->err != 0)
    return call->err;
  if (call->early_answer)
    return UV_EALREADY;
  if (atomic_load(&call->request_done) != 0 ||
      (call->body_length >= 0 && (uint64_t)len > (uint64_t)call->body_length - call->body_sent))
    return UV_EINVAL;
  if (len == 0)
    return 0;
  if (call->expect_continue) {
    int continued = 0, st;
    call->expect_continue = 0;
    st = read_head(call, within(call, CORIO_HTTP_CLIENT_CONTINUE_WAIT_MS), &continued);
    if (st >= 200)
      return answered_early(call, st);
    if (st < 0 && st != UV_ETIMEDOUT)
      return fail(call, st);
  }
  if (call->body_length == CORIO_HTTP_BODY_CHUNKED) {
    int k = snprintf(frame, sizeof frame, "%zx\r\n", len);
    bufs[0] = uv_buf_init(frame, (unsigned)k);
    bufs[1] = corio__buf(data, len);
    bufs[2] = uv_buf_init("\r\n", 2);
    err = send_all(call, bufs, 3);
  } else {
    bufs[0] = corio__buf(data, len);
    err = send_all(call, bufs, 1);
  }
  if (err != 0)
    return fail_write(call, err);
  call->body_sent += len;
  return (ssize_t)len;
}


/* The request is all out: a chunked body's last chunk. */
static int finish_request(corio_http_call_t *call) {
  uv_buf_t last = uv_buf_init("0\r\n\r\n", 5);
  int err;

  if (atomic_load(&call->request_done) != 0 || call->early_answer)
    return 0;
  if (call->body_length > 0 && call->body_sent < (uint64_t)call->body_length)
    return UV_EINVAL;
  if (call->body_length == CORIO_HTTP_BODY_CHUNKED &&
      (err = send_all(call, &last, 1)) != 0)
    return err;
  mark_request_done(call);
  return 0;
}


int corio_http_call_finish(corio_http_call_t *call) {
  int err;

  if (call == NULL || !corio__in_task())
    return UV_EINVAL;
  if (call->werr != 0)
    return call->werr;
  if (call->err != 0)
    return call->err;
  if ((err = finish_request(call)) != 0)
    return err == UV_EINVAL ? err : fail_write(call, err);
  return 0;
}


/* Wait for the final head: the head timeout counts from the request's
 * end. While the writer (full duplex) is still sending, the wait goes on
 * in slices of the head timeout, bounded by the call's deadline. */
static int await_head(corio_http_call_t *call) {
  uint64_t ht = call->cl->opts.head_timeout_ms;

  for (;;) {
    uint64_t done = atomic_load(&call->request_done), until;
    int st;

    if (done != 0) {
      done--;
      until = ht >= UINT64_MAX - done ? UINT64_MAX : done + ht;
      st = read_head(call, corio__deadline_ns(min_u64(until, call->deadline)), NULL);
    } else {
      st = read_head(call, within(call, ht), NULL);
    }
    if (st != UV_ETIMEDOUT || done != 0 || corio_now() >= call->deadline)
      return st;
  }
}


int corio_http_call_head(corio_http_call_t *call) {
  int st, err;

  if (call == NULL || !corio__in_task())
    return UV_EINVAL;
  if (call->err != 0)
    return call->err;
  if (call->head_end > 0)
    return call->status;
  st = await_head(call);
  if (st < 0 && may_retry(call, st) && atomic_load(&call->request_done) != 0) {
    if ((err = resend_fresh(call)) != 0)
      return fail(call, err);
    mark_request_done(call); /* the head timeout counts from the resend */
    st = await_head(call);
  }
  if (st < 0)
    return fail(call, st);
  call->status = st;
  /* read_head took the parser past the head: a response that has no
   * body (HEAD, 204, 304) ends there, or it is misframed. */
  if ((call->head_request || st == 204 || st == 304) && !call->ps.message_done)
    return fail(call, UV_EPROTO);
  return st;
}


int corio_http_call_response(corio_http_call_t *call) {
  int err;

  if (call == NULL || !corio__in_task())
    return UV_EINVAL;
  if (call->head_end > 0 && call->err == 0)
    return call->status;
  if ((err = corio_http_call_finish(call)) != 0) {
    /* The request did not all go out. The server may have answered
     * anyway (it stopped reading and closed): that answer, if whole,
     * is the result; else the write's error. */
    if (err == UV_EINVAL || call->werr == 0 || err == UV_ECANCELED || err == UV_ETIMEDOUT)
      return err; /* nothing to read, or no time to read it */
    return corio_http_call_head(call) >= 0 ? call->status : err;
  }
  return corio_http_call_head(call);
}


static corio_http_str_t field(corio_http_call_t *call, corio__hspan_t s) {
  char *buf;
  corio_http_str_t v;

  corio__tcp_peek(call->tcp, &buf);
  v.p = buf + s.off;
  v.len = s.len;
  while (v.len > 0 && (v.p[0] == ' ' || v.p[0] == '\t')) {
    v.p++;
    v.len--;
  }
  while (v.len > 0 && (v.p[v.len - 1] == ' ' || v.p[v.len - 1] == '\t'))
    v.len--;
  return v;
}


static int head_ready(corio_http_call_t *call) {
  return call != NULL && call->head_end > 0 && call->tcp != NULL;
}


size_t corio_http_call_header_count(corio_http_call_t *call) {
  return head_ready(call) ? call->nheaders : 0;
}


int corio_http_call_header_at(corio_http_call_t *call, size_t i,
                              corio_http_str_t *name, corio_http_str_t *value) {
  if (!head_ready(call) || i >= call->nheaders)
    return UV_EOF;
  if (name != NULL)
    *name = field(call, call->ps.tab->names[i]);
  if (value != NULL)
    *value = field(call, call->ps.tab->values[i]);
  return 0;
}


corio_http_str_t corio_http_call_header(corio_http_call_t *call, const char *name) {
  corio_http_str_t none = {NULL, 0}, n;
  size_t i, len;

  if (!head_ready(call) || name == NULL)
    return none;
  len = strlen(name);
  for (i = 0; i < call->nheaders; i++) {
    n = field(call, call->ps.tab->names[i]);
    if (n.len == len && strncasecmp(n.p, name, len) == 0)
      return field(call, call->ps.tab->values[i]);
  }
  return none;
}


/* Parse what is buffered past parse_off: at most one body span comes out
 * (call->left). 0 or an error. */
static int body_step(corio_http_call_t *call) {
  corio__hparse_t *ps = &call->ps;
  size_t before = call->parse_off, data = 0;
  int err;

  if ((err = run(call, SIZE_MAX)) != 0)
    return err;
  if (ps->in_trailers && call->trailers_at == 0)
    call->trailers_at = call->parse_off; /* the last chunk's pause */
  if (ps->got_body) {
    call->left = ps->body;
    data = ps->body.len;
  }
  ps->overhead_credit -= (int64_t)(call->parse_off - before - data);
  if (ps->overhead_credit < -(int64_t)OVERHEAD_MAX)
    return UV_EPROTO;
  return 0;
}


/* The trailers stay put while they are parsed (their spans, and the fold
 * check, look back at their bytes), but what lies before them (body bytes
 * handed out, chunk lines) goes, once: then trailers as large as the
 * buffer fit. Every offset into them moves down with them. */
static void move_trailers_down(corio_http_call_t *call) {
  corio__hparse_t *ps = &call->ps;
  size_t from = call->trailers_at, d = from - call->head_end;

  call->trailers_moved = 1;
  if (d == 0)
    return;
  corio__tcp_cut(call->tcp, call->head_end, d);
  call->parse_off -= d;
  if (ps->field_end >= from)
    ps->field_end -= d;
  if (ps->value_end >= from)
    ps->value_end -= d;
  for (size_t i = call->nheaders; i < ps->n; i++) {
    if (ps->tab->names[i].off >= from)
      ps->tab->names[i].off -= d;
    if (ps->tab->values[i].off >= from)
      ps->tab->values[i].off -= d;
  }
}


ssize_t corio_http_call_read(corio_http_call_t *call, void *out, size_t len) {
  corio__hparse_t *ps;
  ssize_t n;
  char *buf;
  int st;

  if (call == NULL || (out == NULL && len > 0) || !corio__in_task())
    return UV_EINVAL;
  if (call->head_end == 0 && (st = corio_http_call_response(call)) < 0)
    return st;
  if (call->err != 0)
    return call->err;
  ps = &call->ps;
  for (;;) {
    if (call->left.len > 0) {
      size_t k = call->left.len < len ? call->left.len : len;
      corio__tcp_peek(call->tcp, &buf);
      memcpy(out, buf + call->left.off, k);
      call->left.off += k;
      call->left.len -= k;
      return (ssize_t)k;
    }
    if (ps->message_done || len == 0)
      return 0;
    if (corio__tcp_peek(call->tcp, &buf) > call->parse_off) {
      if ((st = body_step(call)) != 0)
        return fail(call, st);
      continue;
    }
    /* All buffered bytes are handed out: make room behind the head (not
     * in the trailers, whose bytes llhttp's fold check looks back at;
     * the read buffer bounds them). */
    if (!ps->in_trailers) {
      corio__tcp_cut(call->tcp, call->head_end, call->parse_off - call->head_end);
      call->parse_off = call->head_end;
    } else if (!call->trailers_moved) {
      move_trailers_down(call);
    }
    n = corio__tcp_fill_dl(call->tcp, call->parse_off, corio__deadline_ns(call->deadline));
    if (n == UV_EOF && llhttp_message_needs_eof(&call->parser)) {
      /* the body ran until the close: that is its end */
      if (llhttp_finish(&call->parser) != HPE_OK && !ps->message_done)
        return fail(call, UV_EPROTO);
      ps->message_done = 1;
      atomic_store(&call->close_after, 1);
      return 0;
    }
    if (n < 0)
      return fail(call, n == UV_ENOBUFS ? UV_EPROTO : (int)n);
  }
}


int corio_http_call_end(corio_http_call_t *call) {
  int err, reuse;

  if (call == NULL)
    return UV_EINVAL;
  /* The reader's error; the writer's only if no answer came. */
  err = call->err != 0 ? call->err : call->head_end == 0 ? call->werr : 0;
  /* Reuse only after a clean exchange: the response complete and
   * keep-alive, the request all sent, nothing left over. */
  reuse = call->tcp != NULL && err == 0 && call->werr == 0 &&
          !atomic_load(&call->close_after) && atomic_load(&call->request_done) != 0 &&
          call->head_end > 0 && call->ps.message_done &&
          call->left.len == 0 && llhttp_should_keep_alive(&call->parser);
  if (reuse) {
    char *buf;
    /* Bytes past this response: a server that sent more than it said. */
    reuse = corio__tcp_peek(call->tcp, &buf) == call->parse_off;
  }
  if (reuse) {
    corio__tcp_cut(call->tcp, 0, call->parse_off);
    corio__tcp_read_end(call->tcp);
    pool_put(call->cl, call->key, call->tcp);
    call->tcp = NULL;
  } else {
    drop_conn(call);
  }
  call_free(call);
  return err;
}


int corio_http_fetch(corio_http_client_t *cl, const char *method, const char *url,
                     const corio_http_header_t *headers, size_t n, const void *body,
                     size_t len, uint64_t deadline, char **resp, size_t *resp_len,
                     size_t max) {
  corio_http_call_t *call;
  size_t have = 0, cap = 0;
  char *out = NULL, *grown;
  ssize_t got;
  int st, err;

  if (resp == NULL || resp_len == NULL || (body == NULL && len > 0))
    return UV_EINVAL;
  *resp = NULL;
  *resp_len = 0;
  if ((err = call_begin(cl, method, url, headers, n, (int64_t)len, body, len,
                        deadline, &call)) != 0)
    return err;
  st = corio_http_call_response(call);
  for (got = 1; st >= 0 && got > 0;) {
    if (cap - have < 4096) {
      cap = cap == 0 ? 8192 : cap * 2;
      if ((grown = realloc(out, cap + 1)) == NULL) {
        st = UV_ENOMEM;
        break;
      }
      out = grown;
    }
    got = corio_http_call_read(call, out + have, cap - have);
    if (got < 0)
      st = (int)got;
    else if ((have += (size_t)got) > max)
      st = UV_E2BIG;
  }
  if (st >= 0 && out == NULL && (out = malloc(1)) == NULL)
    st = UV_ENOMEM;
  if (st < 0) {
    fail(call, st);
    corio_http_call_end(call);
    free(out);
    return st;
  }
  if ((err = corio_http_call_end(call)) != 0) {
    free(out);
    return err;
  }
  out[have] = '\0';
  *resp = out;
  *resp_len = have;
  return st;
}
