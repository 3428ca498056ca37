/* Requests: llhttp run over the connection's buffer, heads validated,
 * bodies streamed out of the buffer, the request accessors. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/pool.h"
#include "http.h"

#define PS(p) ((corio__hparse_t *)(p)->data)
#define OVERHEAD_MAX (16 * 1024) /* non-data bytes of a chunked body beyond
                                    its credit (Go's net/http: 16 KiB) */

static int is_tchar(unsigned char ch);


/* --- llhttp callbacks ------------------------------------------------------ */

/* A span continues the last one if llhttp split it at an execute boundary
 * (the bytes are contiguous in the buffer). */
static void span(corio__hparse_t *ps, corio__hspan_t *s, int *open,
                 const char *at, size_t len) {
  size_t off = ps->base_off + (size_t)(at - ps->base);

  if (*open) {
    s->len = off + len - s->off;
  } else {
    s->off = off;
    s->len = len;
    *open = 1;
  }
}

static int on_method(llhttp_t *p, const char *at, size_t len) {
  int open = PS(p)->method.len > 0;
  span(PS(p), &PS(p)->method, &open, at, len);
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  int open = PS(p)->url.len > 0;
  span(PS(p), &PS(p)->url, &open, at, len);
  return 0;
}

static int on_url_complete(llhttp_t *p) {
  PS(p)->url_done = 1;
  return 0;
}

static int on_version(llhttp_t *p, const char *at, size_t len) {
  int open = PS(p)->version.len > 0;
  span(PS(p), &PS(p)->version, &open, at, len);
  return 0;
}

int corio__hp_header_field(llhttp_t *p, const char *at, size_t len) {
  corio__hparse_t *ps = PS(p);
  size_t i;

  for (i = 0; i < len; i++) /* a token, in the head and in trailers */
    if (!is_tchar((unsigned char)at[i])) 
      return HPE_USER; /* 400 */
  ps->field_end = ps->base_off + (size_t)(at - ps->base) + len;
  ps->have_field = 1;
  if (!ps->field_open) {
    if (ps->n == CORIO_HTTP_MAX_HEADERS) {
      ps->too_many = 1;
      return HPE_USER;
    }
    ps->tab->values[ps->n].off = ps->tab->values[ps->n].len = 0;
    ps->n++;
  }
  span(ps, &ps->tab->names[ps->n - 1], &ps->field_open, at, len);
  return 0;
}

int corio__hp_header_field_complete(llhttp_t *p) {
  corio__hparse_t *ps = PS(p);

  ps->field_open = 0;
  if (ps->n > 0 && ps->tab->names[ps->n - 1].len == 0) { /* ": x" */
    return HPE_USER;
  }
  return 0;
}

int corio__hp_header_value(llhttp_t *p, const char *at, size_t len) {
  corio__hparse_t *ps = PS(p);
  size_t off = ps->base_off + (size_t)(at - ps->base), i;
  const char *buf = ps->base - ps->base_off; /* the buffer's start */

  /* obs-fold (RFC 9112 5.2: refuse it). llhttp drops a fold that follows
   * an empty value from the span, so look between the name and the value
   * too: the bytes stay put while a head or trailer section is parsed. */
  if (!ps->value_open && len > 0 && off >= ps->field_end &&
      memchr(buf + ps->field_end, '\n', off - ps->field_end) != NULL) 
    return HPE_USER; /* 400 */
  /* A value without a name (": x"), or a value that goes on after a gap:
   * a fold after a non-empty first line. */
  if ((!ps->value_open && !ps->have_field) ||
      (ps->value_open && off != ps->value_end)) 
    return HPE_USER; /* 400 */
  ps->value_end = off + len;
  for (i = 0; i < len; i++)
    if (at[i] == '\r' || at[i] == '\n' || at[i] == '\0') 
      return HPE_USER; /* 400 */
  if (ps->n == 0)
    return 0;
  span(ps, &ps->tab->values[ps->n - 1], &ps->value_open, at, len);
  return 0;
}

int corio__hp_header_value_complete(llhttp_t *p) {
  PS(p)->value_open = 0;
  PS(p)->have_field = 0;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  PS(p)->headers_done = 1;
  /* Never upgrade (RFC 9110 7.8: a server may ignore Upgrade); llhttp
   * reads this after the callback. CONNECT is refused in finish_head. */
  p->upgrade = 0;
  return HPE_PAUSED; /* the handler runs before the body is parsed */
}

static int on_chunk_header(llhttp_t *p) {
  corio__hparse_t *ps = PS(p);

  if (p->content_length > ps->body_room) { /* one chunk over the limit */
    ps->too_big = 1;
    return HPE_USER;
  }
  ps->body_room -= p->content_length;
  corio__hp_chunk_credit(ps, p->content_length);
  if (p->content_length == 0)
    ps->in_trailers = 1;
  return 0;
}

void corio__hp_chunk_credit(corio__hparse_t *ps, uint64_t chunk_len) {
  /* Saturates: a chunk size near 2^64 (llhttp takes any 64-bit size)
   * must not overflow the sum. Credit that large is never used up: the
   * chunk's bytes would have to come first. */
  const int64_t most = INT64_C(1) << 60;

  if (chunk_len >= (uint64_t)most || ps->overhead_credit >= most - 16 - 2 * (int64_t)chunk_len)
    ps->overhead_credit = most;
  else
    ps->overhead_credit += 16 + 2 * (int64_t)chunk_len;
}

int corio__hp_body(llhttp_t *p, const char *at, size_t len) {
  corio__hparse_t *ps = PS(p);

  /* One span per execute: chunk ends pause (below), and a Content-Length
   * body is contiguous. */
  if (ps->got_body)
    return HPE_USER;
  ps->got_body = 1;
  ps->body.off = ps->base_off + (size_t)(at - ps->base);
  ps->body.len = len;
  return 0;
}

int corio__hp_chunk_complete(llhttp_t *p) {
  return PS(p)->got_body ? HPE_PAUSED : 0;
}

int corio__hp_message_complete(llhttp_t *p) {
  PS(p)->message_done = 1;
  return HPE_PAUSED; /* the next message waits for this one's end */
}

const llhttp_settings_t corio__http_settings = {
    .on_method = on_method,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_version = on_version,
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


llhttp_errno_t corio__hp_execute(llhttp_t *p, corio__hparse_t *ps, corio_tcp_t *tcp,
                                 size_t *parse_off, size_t len_cap) {
  char *buf;
  size_t avail = corio__tcp_peek(tcp, &buf), len = avail - *parse_off;
  llhttp_errno_t err;

  if (len > len_cap)
    len = len_cap;
  ps->base_off = *parse_off;
  ps->base = buf + *parse_off;
  ps->got_body = 0;
  err = llhttp_execute(p, ps->base, len);
  if (err == HPE_OK) {
    *parse_off += len;
  } else if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    *parse_off = ps->base_off + (size_t)(llhttp_get_error_pos(p) - ps->base);
    if (err == HPE_PAUSED)
      llhttp_resume(p);
    else
      llhttp_resume_after_upgrade(p);
    err = HPE_OK;
  }
  return err;
}


static llhttp_errno_t execute(corio__hconn_t *hc) {
  return corio__hp_execute(&hc->parser, &hc->ps, hc->tcp, &hc->req.parse_off, SIZE_MAX);
}


/* --- heads ------------------------------------------------------------- */

static int is_tchar(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static corio_http_str_t view(const char *buf, corio__hspan_t s) {
  corio_http_str_t v = {buf + s.off, s.len};
  return v;
}

static corio_http_str_t trim(corio_http_str_t v) {
  while (v.len > 0 && (v.p[0] == ' ' || v.p[0] == '\t')) {
    v.p++;
    v.len--;
  }
  while (v.len > 0 && (v.p[v.len - 1] == ' ' || v.p[v.len - 1] == '\t'))
    v.len--;
  return v;
}

static int str_ieq(corio_http_str_t v, const char *s) {
  size_t n = strlen(s);
  return v.len == n && strncasecmp(v.p, s, n) == 0;
}

/* RFC 3986 reg-name, IP literal and port characters: what a Host value
 * may hold (RFC 9112 3.2: anything else is a 400). */
static int host_ok(corio_http_str_t v) {
  size_t i;

  for (i = 0; i < v.len; i++) {
    unsigned char ch = (unsigned char)v.p[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || strchr("-._~%!$&'()*+,;=:[]", ch) != NULL) ||
        ch == 0)
      return 0;
  }
  return 1;
}

static int starts_icase(corio_http_str_t v, const char *s) {
  size_t n = strlen(s);
  return v.len >= n && strncasecmp(v.p, s, n) == 0;
}

/* The target: origin-form ("/x?q"), absolute-form ("http://h/x?q", whose
 * path is "/x"), or "*" for OPTIONS; no control bytes or spaces. Sets the
 * path and query views; 0 or 400. */
static int split_target(corio_http_req_t *req, int options) {
  corio_http_str_t t = req->target, path = t;
  const char *q;
  size_t i;

  for (i = 0; i < t.len; i++)
    if ((unsigned char)t.p[i] <= 0x20 || t.p[i] == 0x7f)
      return 400;
  if (t.len == 1 && t.p[0] == '*') {
    if (!options)
      return 400; /* the asterisk-form is for OPTIONS only */
  } else if (t.len == 0) {
    return 400;
  } else if (t.p[0] != '/') {
    const char *slash;
    size_t skip;
    if (starts_icase(t, "http://"))
      skip = 7;
    else if (starts_icase(t, "https://"))
      skip = 8;
    else
      return 400;
    slash = memchr(t.p + skip, '/', t.len - skip);
    q = memchr(t.p + skip, '?', t.len - skip);
    if (slash == NULL || (q != NULL && q < slash)) {
      static const char root[] = "/";
      path.p = root; /* "http://h" or "http://h?q": the path is "/" */
      path.len = 1;
      req->path = path;
      req->query.p = q != NULL ? q + 1 : t.p + t.len;
      req->query.len = q != NULL ? (size_t)(t.p + t.len - q - 1) : 0;
      return 0;
    }
    path.p = slash;
    path.len = (size_t)(t.p + t.len - slash);
  }
  req->path = path;
  req->query.p = path.p + path.len;
  req->query.len = 0;
  if ((q = memchr(path.p, '?', path.len)) != NULL) {
    req->path.len = (size_t)(q - path.p);
    req->query.p = q + 1;
    req->query.len = path.len - req->path.len - 1;
  }
  return 0;
}

/* The head is parsed: build the views, check what llhttp leaves to us. */
static int finish_head(corio__hconn_t *hc) {
  corio_http_req_t *req = &hc->req;
  corio__hparse_t *ps = &hc->ps;
  llhttp_t *p = &hc->parser;
  uint64_t max_body = hc->srv->opts.max_body_bytes;
  char *buf;
  size_t i, hosts = 0, tes = 0;
  int st;

  corio__tcp_peek(hc->tcp, &buf);
  req->head_len = req->parse_off;
  req->method = view(buf, ps->method);
  req->target = view(buf, ps->url);
  if (llhttp_get_http_major(p) != 1)
    return 505;
  req->version = 10 + llhttp_get_http_minor(p);
  if ((st = split_target(req, llhttp_get_method(p) == HTTP_OPTIONS)) != 0)
    return st;
  req->base = buf;
  req->nheaders = ps->n;
  for (i = 0; i < ps->n; i++) {
    corio_http_str_t name = view(buf, ps->tab->names[i]);
    corio_http_str_t value = trim(view(buf, ps->tab->values[i]));
    size_t k;

    if (name.len == 0)
      return 400;
    for (k = 0; k < name.len; k++)
      if (!is_tchar((unsigned char)name.p[k]))
        return 400;
    for (k = 0; k < value.len; k++) /* no obs-fold, no control bytes */
      if (value.p[k] == '\r' || value.p[k] == '\n' || value.p[k] == '\0')
        return 400;
    ps->tab->values[i].off = (size_t)(value.p - buf); /* trimmed */
    ps->tab->values[i].len = value.len;
    if (str_ieq(name, "host")) {
      hosts++;
      if (!host_ok(value))
        return 400;
    } else if (str_ieq(name, "transfer-encoding")) {
      tes++;
      if (!str_ieq(value, "chunked"))
        return 501;
    } else if (str_ieq(name, "expect")) {
      if (!str_ieq(value, "100-continue"))
        return 417;
      req->expect_continue = req->version >= 11;
    }
  }
  if ((req->version >= 11 && hosts != 1) || hosts > 1 || tes > 1)
    return 400;
  req->head_method = llhttp_get_method(p) == HTTP_HEAD;
  req->keep_alive = llhttp_should_keep_alive(p);
  if (tes > 0 && req->version == 10)
    req->keep_alive = 0; /* RFC 9112 6.1: faulty framing, close after */
  if (p->flags & F_CHUNKED) {
    req->content_length = -1;
  } else if (p->flags & F_CONTENT_LENGTH) {
    /* llhttp takes up to 2^64 - 1: compare before it can turn negative */
    if (p->content_length > max_body || p->content_length > INT64_MAX)
      return 413;
    req->content_length = (int64_t)p->content_length;
  } else {
    req->content_length = 0;
  }
  if (llhttp_get_method(p) == HTTP_CONNECT)
    return 501;
  ps->body_room = max_body;
  req->body_done = req->content_length == 0 && ps->message_done;
  return 0;
}


/* A method llhttp does not know: 501 if the line is otherwise shaped
 * like a request line ("TOKEN SP target SP HTTP/"), 400 if it is not. */
static int unknown_method(corio__hconn_t *hc) {
  char *buf, *sp1, *sp2, *eol;
  size_t n = corio__tcp_peek(hc->tcp, &buf), i;

  if ((eol = memchr(buf, '\n', n)) == NULL)
    eol = buf + n;
  if ((sp1 = memchr(buf, ' ', (size_t)(eol - buf))) == NULL || sp1 == buf)
    return 400;
  for (i = 0; buf + i < sp1; i++)
    if (!is_tchar((unsigned char)buf[i]))
      return 400;
  sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
  return sp2 != NULL && eol - sp2 > 6 && memcmp(sp2 + 1, "HTTP/", 5) == 0 ? 501 : 400;
}


/* Over the header limit: 414 if the target alone is too long. */
static int too_big(corio__hconn_t *hc) {
  corio__hparse_t *ps = &hc->ps;
  size_t max = hc->srv->opts.max_header_bytes;

  return ps->url_done && ps->url.off + ps->url.len < max ? 431 : 414;
}


static int status_of(llhttp_errno_t err, corio__hconn_t *hc) {
  corio__hparse_t *ps = &hc->ps;

  switch (err) {
  case HPE_INVALID_METHOD:
    return unknown_method(hc);
  case HPE_INVALID_VERSION:
    return 505;
  case HPE_INVALID_TRANSFER_ENCODING:
    return 501;
  case HPE_USER:
    return ps->too_many ? 431 : 400;
  default:
    return 400;
  }
}


void corio__http_table_put(corio__hconn_t *hc) {
  corio__pool_put(CORIO__POOL_HTTP_TABLE, hc->tab);
  hc->tab = NULL;
}


int corio__http_read_head(corio__hconn_t *hc) {
  corio_http_req_t *req = &hc->req;
  corio__hparse_t *ps = &hc->ps;
  corio_http_server_options_t *o = &hc->srv->opts;
  /* Until the request begins, the idle timeout; then the header one. */
  uint64_t deadline = corio__http_after(o->idle_timeout_ms);
  int begun = 0;
  llhttp_errno_t err;
  ssize_t n;
  char *buf;

  memset(ps, 0, sizeof *ps);
  hc->parser.data = ps;
  for (;;) {
    size_t avail = corio__tcp_peek(hc->tcp, &buf);

    if (avail > req->parse_off) {
      if (!begun) {
        begun = 1;
        deadline = corio__http_after(o->header_timeout_ms);
      }
      if (hc->tab == NULL &&
          (hc->tab = corio__pool_get(CORIO__POOL_HTTP_TABLE, sizeof *hc->tab)) == NULL)
        return 503;
      ps->tab = hc->tab;
      err = execute(hc);
      if (err != HPE_OK)
        return status_of(err, hc);
      if (ps->headers_done) {
        /* message_complete of a body-less request, at once */
        if (llhttp_execute(&hc->parser, buf + req->parse_off, 0) == HPE_PAUSED)
          llhttp_resume(&hc->parser);
        if (req->parse_off > o->max_header_bytes)
          return too_big(hc);
        return finish_head(hc);
      }
      if (req->parse_off > o->max_header_bytes)
        return too_big(hc);
      continue;
    }
    if (avail >= o->max_header_bytes)
      return too_big(hc);
    if (avail == 0) /* idle: wait without the table */
      corio__http_table_put(hc);
    n = corio__tcp_fill_dl(hc->tcp, avail, corio__deadline_ns(deadline));
    if (n == UV_ETIMEDOUT)
      return avail > 0 ? 408 : -1;
    if (n < 0)
      return -1; /* EOF, reset, shutdown: nobody to answer */
  }
}


/* --- bodies -------------------------------------------------------------- */

/* Parse what is buffered past parse_off: at most one span of body bytes
 * comes out (req->left). 0, or the body's error (also kept in body_err). */
static int body_step(corio__hconn_t *hc) {
  corio_http_req_t *req = &hc->req;
  corio__hparse_t *ps = &hc->ps;
  size_t before = req->parse_off, data = 0;
  llhttp_errno_t err;

  ps->message_done = 0;
  err = execute(hc);
  if (err != HPE_OK)
    return req->body_err = ps->too_big ? UV_E2BIG : UV_EPROTO;
  if (ps->got_body) {
    req->left = ps->body;
    req->body_total += ps->body.len;
    data = ps->body.len;
    if (req->body_total > hc->srv->opts.max_body_bytes) {
      req->left.len = 0;
      return req->body_err = UV_E2BIG;
    }
  }
  /* Chunk lines, extensions and trailers beyond their credit: refuse
   * (a client could otherwise send them for ever). */
  ps->overhead_credit -= (int64_t)(req->parse_off - before - data);
  if (ps->overhead_credit < -(int64_t)OVERHEAD_MAX) {
    req->left.len = 0;
    return req->body_err = UV_EPROTO;
  }
  if (ps->message_done) {
    req->body_done = 1;
    /* trailers may say Connection: close; so be it, after this answer */
    if (!llhttp_should_keep_alive(&hc->parser))
      req->keep_alive = 0;
  }
  return 0;
}


ssize_t corio_http_body_read(corio_http_req_t *req, void *out, size_t len) {
  corio__hconn_t *hc;
  ssize_t n;
  char *buf;

  if (req == NULL || (out == NULL && len > 0) || !corio__in_task())
    return UV_EINVAL; /* and nothing recorded: the handler may go on */
  hc = corio__hconn_of_req(req);
  if (!req->body_started) {
    req->body_started = 1;
    if (!req->body_done && (n = corio__http_continue(hc)) < 0)
      return req->body_err = (int)n;
  }
  for (;;) {
    if (req->left.len > 0) {
      size_t k = req->left.len < len ? req->left.len : len;
      corio__tcp_peek(hc->tcp, &buf);
      memcpy(out, buf + req->left.off, k);
      req->left.off += k;
      req->left.len -= k;
      return (ssize_t)k;
    }
    if (req->body_err != 0)
      return req->body_err;
    if (req->body_done || len == 0)
      return 0;
    if (corio__tcp_peek(hc->tcp, &buf) > req->parse_off) {
      if ((n = body_step(hc)) != 0)
        return n;
      continue;
    }
    /* Everything buffered is parsed and handed out: make room behind the
     * head (not in the trailers, whose bytes the fold check looks back
     * at; they are bounded), then wait for more. */
    if (!hc->ps.in_trailers) {
      corio__tcp_cut(hc->tcp, req->head_len, req->parse_off - req->head_len);
      req->parse_off = req->head_len;
    }
    n = corio__tcp_fill_dl(hc->tcp, req->parse_off,
                           corio__deadline_ns(corio__http_deadline(hc)));
    if (n < 0)
      return req->body_err = (n == UV_ENOBUFS ? UV_EPROTO : (int)n);
  }
}


int corio_http_body_discard(corio_http_req_t *req) {
  char scratch[4096];
  ssize_t n;

  while ((n = corio_http_body_read(req, scratch, sizeof scratch)) > 0) {
  }
  return (int)n;
}


/* The probe's parser only looks for the end of the message. */
static int probe_complete(llhttp_t *p) {
  *(int *)p->data = 1;
  return HPE_PAUSED;
}

static const llhttp_settings_t probe_settings = {
    .on_message_complete = probe_complete,
};


int corio__http_body_all_here(corio__hconn_t *hc) {
  corio_http_req_t *req = &hc->req;
  llhttp_t probe;
  int done = 0;
  char *buf;
  size_t avail;

  if (req->body_done)
    return 1;
  avail = corio__tcp_peek(hc->tcp, &buf);
  /* A copy of the parser runs over the buffered bytes: the real one and
   * the bytes stay as they are, for the handler to read yet. */
  probe = hc->parser;
  probe.settings = (void *)(uintptr_t)&probe_settings;
  probe.data = &done;
  llhttp_execute(&probe, buf + req->parse_off, avail - req->parse_off);
  return done;
}


int corio__http_finish_body(corio__hconn_t *hc) {
  corio_http_req_t *req = &hc->req;
  char *buf;

  /* Drop what of an unread body is already here, without waiting for
   * more (nginx answers at once; waiting would hold the answer until
   * the client sends a body it may never send): if that ends the body,
   * the connection can carry the next request. */
  while (!req->body_done && req->body_err == 0 &&
         !(req->expect_continue && !req->continue_sent)) {
    req->left.len = 0;
    if (corio__tcp_peek(hc->tcp, &buf) <= req->parse_off || body_step(hc) != 0)
      break;
  }
  req->left.len = 0;
  return req->body_done && req->body_err == 0 ? 0 : -1;
}


void corio__http_next(corio__hconn_t *hc) {
  corio_http_req_t *req = &hc->req;
  size_t used = req->parse_off;

  /* Drop this request's bytes and move a pipelined next one to the
   * start of the buffer. */
  corio__tcp_cut(hc->tcp, 0, used);
  memset(req, 0, sizeof *req);
}


/* --- accessors ------------------------------------------------------------ */

corio_http_str_t corio_http_method(const corio_http_req_t *req) { return req->method; }
corio_http_str_t corio_http_target(const corio_http_req_t *req) { return req->target; }
corio_http_str_t corio_http_path(const corio_http_req_t *req) { return req->path; }
corio_http_str_t corio_http_query(const corio_http_req_t *req) { return req->query; }
int corio_http_version(const corio_http_req_t *req) { return req->version; }
int corio_http_content_length(const corio_http_req_t *req, uint64_t *len) {
  if (req == NULL || len == NULL)
    return UV_EINVAL;
  if (req->content_length < 0)
    return UV_ENOENT; /* chunked */
  *len = (uint64_t)req->content_length;
  return 0;
}



int corio_http_chunked(const corio_http_req_t *req) { return req->content_length < 0; }
int corio_http_keep_alive(const corio_http_req_t *req) { return req->keep_alive; }
size_t corio_http_header_count(const corio_http_req_t *req) { return req->nheaders; }


static corio_http_str_t header_name(const corio_http_req_t *req, size_t i) {
  const corio__hconn_t *hc = corio__hconn_of_creq(req);

  return view(req->base, hc->tab->names[i]);
}


static corio_http_str_t header_value(const corio_http_req_t *req, size_t i) {
  const corio__hconn_t *hc = corio__hconn_of_creq(req);

  return view(req->base, hc->tab->values[i]);
}


corio_http_str_t corio_http_header(const corio_http_req_t *req, const char *name) {
  corio_http_str_t none = {NULL, 0};
  size_t i;

  for (i = 0; i < req->nheaders; i++)
    if (str_ieq(header_name(req, i), name))
      return header_value(req, i);
  return none;
}


int corio_http_header_at(const corio_http_req_t *req, size_t i,
                         corio_http_str_t *name, corio_http_str_t *value) {
  if (i >= req->nheaders)
    return UV_EOF;
  if (name != NULL)
    *name = header_name(req, i);
  if (value != NULL)
    *value = header_value(req, i);
  return 0;
}
