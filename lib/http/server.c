/* The server: a task per connection serving its requests in order, the
 * connection limit, graceful shutdown. */
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* A 503 for a connection over the limit gets this long to go out. */
#define REFUSE_WRITE_MS 1000
/* Past the shutdown deadline, the connections still open are cancelled
 * again this often: a handler may take one UV_ECANCELED and wait again. */
#define RECANCEL_MS 100
/* A plain thread's timed wait is at most this long at a time (it waits
 * again if its deadline is further), so that the nanoseconds libuv adds
 * to its clock cannot wrap. */
#define THREAD_WAIT_MAX_MS ((uint64_t)24 * 3600 * 1000)


/* A plain thread waiting for the connections to end: corio's waits need a
 * task, so it blocks on a condition variable of its own, which whoever
 * ends the last connection signals (wake_thread). The waiter holds mu only
 * to test or set `woken`, never while it takes the server's lock. */
struct corio__hthread_waiter {
  uv_mutex_t mu;
  uv_cond_t cond;
  int woken;                     /* under mu */
};


static int thread_waiter_init(corio__hthread_waiter_t *tw) {
  int err;

  if ((err = uv_mutex_init(&tw->mu)) != 0)
    return err;
  if ((err = uv_cond_init(&tw->cond)) != 0) {
    uv_mutex_destroy(&tw->mu);
    return err;
  }
  tw->woken = 0;
  return 0;
}


static void thread_waiter_destroy(corio__hthread_waiter_t *tw) {
  uv_cond_destroy(&tw->cond);
  uv_mutex_destroy(&tw->mu);
}


/* --- how a server ends (http.h: the gate and srv->left) ------------------- */

/* Every connection has ended, and no more can begin. Locked. */
static int all_ended(corio_http_server_t *srv) {
  return srv->gate_open && srv->nconns == 0;
}


/* Wake the plain thread waiting for all_ended, if it now holds (a waiting
 * task is woken by srv->left itself). Locked; with the unlock that
 * follows, the last touch of srv by whoever ended the server. */
static void wake_thread(corio_http_server_t *srv) {
  corio__hthread_waiter_t *tw = srv->thread_waiter;

  if (tw == NULL || !all_ended(srv))
    return;
  srv->thread_waiter = NULL;
  uv_mutex_lock(&tw->mu);
  tw->woken = 1;
  uv_cond_signal(&tw->cond);
  uv_mutex_unlock(&tw->mu);
}


/* Open the gate once the listener spawns no more connection tasks and
 * each it spawned has begun. Locked. */
static void open_gate_if_due(corio_http_server_t *srv) {
  if (srv->gate_open || !srv->ln_done ||
      atomic_load_explicit(&srv->pending, memory_order_seq_cst) != 0)
    return;
  srv->gate_open = 1;
  corio_wg_done(&srv->left);
  wake_thread(srv);
}


/* --- serving -------------------------------------------------------------- */

int corio_http_server_new(corio_tcp_listener_t *ln,
                          corio_http_handler_fn handler, void *arg,
                          const corio_http_server_options_t *opts,
                          corio_http_server_t **out) {
  corio_http_server_t *srv;
  corio_http_server_options_t *o;

  if (out == NULL || ln == NULL || handler == NULL)
    return UV_EINVAL;
  if ((srv = calloc(1, sizeof *srv)) == NULL)
    return UV_ENOMEM;
  o = &srv->opts;
  if (opts != NULL)
    *o = *opts;
  if (o->max_header_bytes == 0)
    o->max_header_bytes = CORIO_HTTP_DEFAULT_MAX_HEADER_BYTES;
  if (o->max_header_bytes > CORIO_HTTP_MAX_HEADER_BYTES_CAP)
    o->max_header_bytes = CORIO_HTTP_MAX_HEADER_BYTES_CAP;
  if (o->max_body_bytes == 0)
    o->max_body_bytes = CORIO_HTTP_DEFAULT_MAX_BODY_BYTES;
  if (o->header_timeout_ms == 0)
    o->header_timeout_ms = CORIO_HTTP_DEFAULT_HEADER_TIMEOUT_MS;
  if (o->idle_timeout_ms == 0)
    o->idle_timeout_ms = CORIO_HTTP_DEFAULT_IDLE_TIMEOUT_MS;
  if (o->max_connections == 0)
    o->max_connections = CORIO_HTTP_DEFAULT_MAX_CONNECTIONS;
  srv->ln = ln;
  srv->handler = handler;
  srv->arg = arg;
  corio__list_init(&srv->conns);
  corio_wg_add(&srv->left, 1); /* the gate */
  *out = srv;
  return 0;
}


static void refuse(corio_tcp_t *tcp) {
  static const char busy[] =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
      "Connection: close\r\n\r\n";

  corio_write_dl(tcp, busy, sizeof busy - 1, corio__http_after(REFUSE_WRITE_MS));
}


/* Mark the connection idle (waiting for a request) or not; returns
 * nonzero if the server is draining, which an idle connection must not
 * wait through. No lock (a server-wide lock here, twice per request, was
 * a cache line every worker fought over): our seq_cst store of idle, then
 * load of draining, against drain's store of draining, then load of each
 * idle flag. One of the two sees the other, so drain's cancel of the idle
 * ones and this check cannot both miss. */
static int set_idle(corio__hconn_t *hc, int idle) {
  if (!idle) {
    atomic_store_explicit(&hc->idle, 0, memory_order_relaxed);
    return 0;
  }
  atomic_store(&hc->idle, 1);
  return atomic_load(&hc->srv->draining);
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
  return 0;
}


static corio__hconn_t *hconn_new(corio_http_server_t *srv, corio_tcp_t *tcp) {
  corio__hconn_t *hc;

  if ((hc = calloc(1, sizeof *hc)) == NULL)
    return NULL;
  hc->srv = srv;
  hc->tcp = tcp;
  hc->task = corio_self();
  llhttp_init(&hc->parser, HTTP_REQUEST, &corio__http_settings);
  /* The server decides when a connection ends (after the answer); in
   * llhttp's own "closed" state it would swallow every later byte. */
  llhttp_set_lenient_keep_alive(&hc->parser, 1);
  return hc;
}


/* The task of a connection (lib/net spawned it, counted in pending). */
static void serve_conn(corio_tcp_t *tcp, void *arg) {
  corio_http_server_t *srv = arg;
  corio__hconn_t *hc = hconn_new(srv, tcp);
  int refused;

  corio__spin_lock(&srv->lock);
  refused = hc == NULL || corio__http_draining(srv) ||
            srv->nconns >= srv->opts.max_connections;
  if (!refused) {
    srv->nconns++;
    corio_wg_add(&srv->left, 1);
    corio__list_push_back(&srv->conns, &hc->link);
  }
  /* Begun: a refused task touches srv no more after the unlock. */
  atomic_fetch_sub_explicit(&srv->pending, 1, memory_order_seq_cst);
  open_gate_if_due(srv);
  corio__spin_unlock(&srv->lock);
  if (refused) {
    free(hc);
    refuse(tcp);
    return;
  }

  while (serve_request(hc) == 0) {
  }

  /* The last touch of srv: once all_ended, it may be freed. The
   * connection itself closes when this returns. */
  corio__spin_lock(&srv->lock);
  corio__list_remove(&hc->link);
  srv->nconns--;
  corio_wg_done(&srv->left);
  wake_thread(srv);
  corio__spin_unlock(&srv->lock);
  corio__http_table_put(hc);
  free(hc);
}


/* lib/net dropped a connection before its task began (tcp.h). */
static void conn_dropped(void *arg) {
  corio_http_server_t *srv = arg;

  corio__spin_lock(&srv->lock);
  atomic_fetch_sub_explicit(&srv->pending, 1, memory_order_seq_cst);
  open_gate_if_due(srv);
  corio__spin_unlock(&srv->lock);
}


int corio_http_server_run(corio_http_server_t *srv) {
  corio_tcp_listener_t *ln;
  int err, shutting;

  if (srv == NULL)
    return UV_EINVAL;
  corio__spin_lock(&srv->lock);
  ln = srv->ln;
  corio__spin_unlock(&srv->lock);
  if (ln == NULL)
    return 0; /* shut down already */
  /* 0 once shutdown closed the listener; UV_ECANCELED if the calling task
   * was cancelled, which stops only this call (as corio_tcp_serve): the
   * listener stays open and the server is not shut down. lib/net says
   * UV_ECANCELED too when the listener was closed before serving began,
   * which only a shutdown that took ln after we read it can have done:
   * the server is shut down then, and run says so (http.h). */
  err = corio__tcp_serve_counted(ln, NULL, serve_conn, srv, &srv->pending,
                                 conn_dropped);
  if (err == UV_ECANCELED) {
    corio__spin_lock(&srv->lock);
    shutting = srv->shutting;
    corio__spin_unlock(&srv->lock);
    if (shutting)
      err = 0;
  }
  return err;
}


/* --- stopping ------------------------------------------------------------- */

/* Cancel the tasks of connections (idle ones only, or all). Locked. */
static void cancel_conns(corio_http_server_t *srv, int idle_only) {
  corio__list_t *n, *tmp;

  corio__list_foreach_safe(n, tmp, &srv->conns) {
    corio__hconn_t *hc = corio__container_of(n, corio__hconn_t, link);

    if (!idle_only || atomic_load(&hc->idle)) /* seq_cst: see set_idle */
      corio__cancel(hc->task); /* detached: alive while listed here */
  }
}


/* A plain thread's wait for all_ended, until deadline: 0 or UV_ETIMEDOUT. */
static int thread_wait(corio_http_server_t *srv, corio__hthread_waiter_t *tw,
                       uint64_t deadline) {
  uint64_t now, ms;
  int done;

  corio__spin_lock(&srv->lock);
  if (!(done = all_ended(srv))) {
    tw->woken = 0;
    srv->thread_waiter = tw;
  }
  corio__spin_unlock(&srv->lock);
  if (done)
    return 0;
  uv_mutex_lock(&tw->mu);
  while (!tw->woken && (now = corio_now()) < deadline) {
    ms = deadline - now < THREAD_WAIT_MAX_MS ? deadline - now : THREAD_WAIT_MAX_MS;
    uv_cond_timedwait(&tw->cond, &tw->mu, ms * 1000000u);
  }
  uv_mutex_unlock(&tw->mu);
  corio__spin_lock(&srv->lock);
  if (srv->thread_waiter == tw)
    srv->thread_waiter = NULL;
  done = all_ended(srv);
  corio__spin_unlock(&srv->lock);
  return done ? 0 : UV_ETIMEDOUT;
}


/* Wait for all_ended until deadline: a task on srv->left, a plain thread
 * (tw != NULL) on its condition variable. 0, UV_ETIMEDOUT, or (a task)
 * UV_ECANCELED. */
static int wait_ended(corio_http_server_t *srv, corio__hthread_waiter_t *tw,
                      uint64_t deadline) {
  if (tw == NULL)
    return corio_wg_wait_dl(&srv->left, deadline);
  return thread_wait(srv, tw, deadline);
}


/* The listener spawns no more connection tasks: end the idle connections,
 * let the others finish until deadline, then cut them. Returns once every
 * connection has ended: 0, or UV_ETIMEDOUT / UV_ECANCELED if some were cut
 * at the deadline / because the waiting task was cancelled. */
static int drain(corio_http_server_t *srv, corio__hthread_waiter_t *tw,
                 uint64_t deadline) {
  int err;

  corio__spin_lock(&srv->lock);
  /* seq_cst: set_idle's handshake; the lock orders it for serve_conn */
  atomic_store(&srv->draining, 1);
  cancel_conns(srv, 1);
  srv->ln_done = 1;
  open_gate_if_due(srv);
  corio__spin_unlock(&srv->lock);
  if ((err = wait_ended(srv, tw, deadline)) == 0)
    return 0;
  do {
    corio__spin_lock(&srv->lock);
    cancel_conns(srv, 0);
    corio__spin_unlock(&srv->lock);
  } while (wait_ended(srv, tw, corio__http_after(RECANCEL_MS)) != 0);
  return err;
}


int corio_http_server_shutdown(corio_http_server_t *srv, uint64_t deadline) {
  corio__hthread_waiter_t tw, *twp = NULL;
  corio_tcp_listener_t *ln = NULL;
  int err;

  if (srv == NULL)
    return UV_EINVAL;
  if (corio_self() == NULL) {
    if ((err = thread_waiter_init(&tw)) != 0)
      return err;
    twp = &tw;
  }
  corio__spin_lock(&srv->lock);
  if ((err = srv->shutting ? UV_EALREADY : 0) == 0) {
    srv->shutting = 1;
    ln = srv->ln;
    srv->ln = NULL;
  }
  corio__spin_unlock(&srv->lock);
  /* The listener first. Its close returns 0 or UV_EINVAL: on the loop
   * thread outside a task (or in a nested coroutine) it fails having done
   * nothing, and so does shutdown: waiting there would stop the loop.
   * Otherwise ln is closed and freed, no more connection tasks come, and a
   * cancel the close took is pending again: drain's first wait sees it
   * and cuts the connections at once (UV_ECANCELED), unless none is left. */
  if (err == 0 && (err = corio_tcp_listener_close(ln)) != 0) {
    corio__spin_lock(&srv->lock);
    srv->shutting = 0;
    srv->ln = ln;
    corio__spin_unlock(&srv->lock);
  }
  if (err == 0)
    err = drain(srv, twp, deadline);
  if (twp != NULL)
    thread_waiter_destroy(twp);
  return err;
}


int corio_http_server_free(corio_http_server_t *srv) {
  int busy;

  if (srv == NULL)
    return UV_EINVAL;
  corio__spin_lock(&srv->lock);
  busy = srv->nconns != 0 ||
         atomic_load_explicit(&srv->pending, memory_order_seq_cst) != 0 ||
         srv->thread_waiter != NULL;
  corio__spin_unlock(&srv->lock);
  if (busy || corio_wg_destroy(&srv->left) != 0)
    return UV_EBUSY;
  free(srv);
  return 0;
}


int corio_http_serve(corio_tcp_listener_t *ln, corio_http_handler_fn handler,
                     void *arg, const corio_http_server_options_t *opts) {
  corio__hthread_waiter_t tw, *twp = NULL;
  corio_http_server_t *srv;
  int err;

  if (corio_self() == NULL) {
    if ((err = thread_waiter_init(&tw)) != 0)
      return err;
    twp = &tw;
  }
  if ((err = corio_http_server_new(ln, handler, arg, opts, &srv)) == 0) {
    err = corio_http_server_run(srv);
    /* run has returned: ln spawns no more connection tasks. */
    drain(srv, twp, CORIO__NO_DEADLINE);
    corio_http_server_free(srv);
  }
  if (twp != NULL)
    thread_waiter_destroy(twp);
  return err;
}
