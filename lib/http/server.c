/* The server: a task per connection serving its requests in order, the
 * connection limit, graceful shutdown. */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "sched/sched.h"


int corio_http_server_new(corio_http_server_t **out, corio_tcp_listener_t *ln,
                          corio_http_handler_fn handler, void *arg,
                          const corio_http_options_t *opts) {
  corio_http_server_t *srv;

  if (out == NULL || ln == NULL || handler == NULL)
    return UV_EINVAL;
  if ((srv = calloc(1, sizeof *srv)) == NULL)
    return UV_ENOMEM;
  if (opts != NULL)
    srv->opts = *opts;
  if (srv->opts.max_header_bytes == 0)
    srv->opts.max_header_bytes = 8192;
  if (srv->opts.max_header_bytes > 32768) /* half the connection's buffer */
    srv->opts.max_header_bytes = 32768;
  if (srv->opts.max_body_bytes == 0)
    srv->opts.max_body_bytes = (uint64_t)1 << 30;
  if (srv->opts.header_timeout_ms == 0)
    srv->opts.header_timeout_ms = 10000;
  if (srv->opts.idle_timeout_ms == 0)
    srv->opts.idle_timeout_ms = 60000;
  if (srv->opts.max_connections == 0)
    srv->opts.max_connections = 10000;
  srv->ln = ln;
  srv->handler = handler;
  srv->arg = arg;
  *out = srv;
  return 0;
}


static void refuse(corio_tcp_t *tcp) {
  static const char busy[] =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
      "Connection: close\r\n\r\n";

  corio_write_dl(tcp, busy, sizeof busy - 1, corio_now() + 1000);
}


static int set_idle(corio__hconn_t *hc, int idle) {
  corio_http_server_t *srv = hc->srv;
  int draining;

  corio__spin_lock(&srv->lock);
  hc->idle = idle;
  draining = srv->draining;
  corio__spin_unlock(&srv->lock);
  return draining;
}


/* One request: 0 to go on with the connection, -1 to close it. */
static int serve_request(corio__hconn_t *hc) {
  corio_http_server_t *srv = hc->srv;
  int status, keep;

  if (set_idle(hc, 1))
    return -1;
  status = corio__http_read_head(hc);
  set_idle(hc, 0);
  if (status < 0)
    return -1;
  if (status > 0) {
    corio__http_error(hc, status);
    return -1;
  }
  keep = srv->handler(&hc->req, &hc->res, srv->arg) == 0;
  if (!hc->res.done) {
    /* No answer: say why if the body was at fault, or 500. A client that
     * went away gets nothing. A streamed response left open: only a
     * close ends it. */
    int why = hc->req.body_err;
    if (!hc->res.started && why != UV_EOF && why != UV_ECONNRESET &&
        why != UV_ECANCELED && why != UV_ETIMEDOUT && why != UV_EPIPE)
      corio__http_error(hc, why == UV_EPROTO ? 400 : why == UV_E2BIG ? 413 : 500);
    return -1;
  }
  if (!keep || hc->res.close_after || !hc->req.keep_alive ||
      corio__http_finish_body(hc) != 0)
    return -1;
  corio__http_next(hc);
  memset(&hc->res, 0, sizeof hc->res);
  hc->res.hc = hc;
  return 0;
}


static void serve_conn(corio_tcp_t *tcp, void *arg) {
  corio_http_server_t *srv = arg;
  corio__hconn_t *hc;

  corio__spin_lock(&srv->lock);
  if (srv->draining || srv->nconns >= srv->opts.max_connections) {
    atomic_fetch_sub(&srv->pending, 1); /* the last touch of srv */
    corio__spin_unlock(&srv->lock);
    refuse(tcp);
    return;
  }
  srv->nconns++;
  atomic_fetch_sub(&srv->pending, 1); /* now counted in nconns */
  corio__spin_unlock(&srv->lock);

  if ((hc = calloc(1, sizeof *hc)) != NULL) {
    hc->srv = srv;
    hc->tcp = tcp;
    hc->task = corio_self();
    hc->req.hc = hc;
    hc->res.hc = hc;
    llhttp_init(&hc->parser, HTTP_REQUEST, &corio__http_settings);
    /* The server decides when a connection ends (after the answer); in
     * llhttp's own "closed" state it would swallow every later byte. */
    llhttp_set_lenient_keep_alive(&hc->parser, 1);
    corio__spin_lock(&srv->lock);
    hc->next = srv->conns;
    if (srv->conns != NULL)
      srv->conns->prev = hc;
    srv->conns = hc;
    corio__spin_unlock(&srv->lock);

    while (serve_request(hc) == 0) {
    }

    corio__spin_lock(&srv->lock);
    if (hc->prev != NULL)
      hc->prev->next = hc->next;
    else
      srv->conns = hc->next;
    if (hc->next != NULL)
      hc->next->prev = hc->prev;
    corio__spin_unlock(&srv->lock);
    free(hc);
  }
  /* The last touch of srv: once nconns is 0, it may be freed. The
   * connection itself closes when this returns. */
  corio__spin_lock(&srv->lock);
  srv->nconns--;
  corio__spin_unlock(&srv->lock);
}


int corio_http_server_run(corio_http_server_t *srv) {
  int err;

  if (srv == NULL)
    return UV_EINVAL;
  err = corio__tcp_serve_counted(srv->ln, serve_conn, srv, &srv->pending);
  return err == UV_ECANCELED ? 0 : err;
}


/* Cancel the tasks of connections (idle ones only, or all). Locked. */
static void cancel_conns(corio_http_server_t *srv, int idle_only) {
  corio__hconn_t *hc;

  for (hc = srv->conns; hc != NULL; hc = hc->next)
    if (!idle_only || hc->idle)
      corio_cancel(hc->task);
}


/* No connection left, nor one about to begin. */
static int all_gone(corio_http_server_t *srv) {
  int gone;

  corio__spin_lock(&srv->lock);
  gone = srv->nconns == 0 && atomic_load(&srv->pending) == 0;
  corio__spin_unlock(&srv->lock);
  return gone;
}


/* Wait (polling: this is shutdown, not a hot path) until all_gone or the
 * deadline. */
static int wait_gone(corio_http_server_t *srv, uint64_t deadline) {
  while (!all_gone(srv)) {
    if (corio_now() >= deadline)
      return UV_ETIMEDOUT;
    corio_sleep(1);
  }
  return 0;
}


int corio_http_server_shutdown(corio_http_server_t *srv, uint64_t deadline) {
  int err;

  if (srv == NULL || corio_self() == NULL)
    return UV_EINVAL;
  corio__spin_lock(&srv->lock);
  if (srv->draining) {
    corio__spin_unlock(&srv->lock);
    return UV_EALREADY;
  }
  srv->draining = 1;
  cancel_conns(srv, 1);
  corio__spin_unlock(&srv->lock);
  corio_tcp_listener_close(srv->ln);
  srv->ln = NULL;
  /* Idle connections that were busy when cancelled, or that were
   * registering meanwhile, are looked for again as the wait goes. */
  while ((err = wait_gone(srv, corio_now() + 50 < deadline ? corio_now() + 50
                                                            : deadline)) != 0 &&
         corio_now() < deadline) {
    corio__spin_lock(&srv->lock);
    cancel_conns(srv, 1);
    corio__spin_unlock(&srv->lock);
  }
  if (err == 0)
    return 0;
  /* Past the deadline: cut what is left. Its calls return UV_ECANCELED. */
  do {
    corio__spin_lock(&srv->lock);
    cancel_conns(srv, 0);
    corio__spin_unlock(&srv->lock);
  } while (wait_gone(srv, corio_now() + 100) != 0);
  return UV_ETIMEDOUT;
}


int corio_http_server_free(corio_http_server_t *srv) {
  if (srv == NULL)
    return UV_EINVAL;
  if (!all_gone(srv))
    return UV_EBUSY;
  free(srv);
  return 0;
}


int corio_http_serve(corio_tcp_listener_t *ln, corio_http_handler_fn handler,
                     void *arg, const corio_http_options_t *opts) {
  corio_http_server_t *srv;
  int err;

  if ((err = corio_http_server_new(&srv, ln, handler, arg, opts)) != 0)
    return err;
  err = corio_http_server_run(srv);
  /* connections may still be open: let them finish before freeing */
  corio__spin_lock(&srv->lock);
  srv->draining = 1;
  corio__spin_unlock(&srv->lock);
  while (corio_http_server_free(srv) == UV_EBUSY)
    corio_sleep(1); /* a plain thread sleeps */
  return err;
}
