/* Listeners: accept into a waiting task, or (corio_tcp_serve) spawn a
 * task per connection from the loop thread as it accepts. Everything but
 * the record's creation and the final free happens on the loop thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "core/list.h"
#include "sched/sched.h"
#include "sync/group.h"
#include "tcp.h"

/* What corio_tcp_serve gives every connection. Copied into each hand-off
 * to a worker, which may run after serve has returned. */
typedef struct serve_spec {
  corio_tcp_handler_fn handler;
  void *arg;
  _Atomic(int) *pending;       /* handler tasks not yet begun, or NULL */
  void (*dropped)(void *arg);  /* one of them will not begin (tcp.h) */
  corio_group_t *group;        /* the tasks' group, or NULL: detached */
} serve_spec_t;

typedef struct accept_job {
  corio__list_t link;          /* on ln->accepting while it waits */
  corio_tcp_listener_t *ln;
  corio_await_t *aw;
  corio_tcp_t *conn;           /* what the loop handed over */
  serve_spec_t spec;           /* serve only */
} accept_job_t;

struct corio_tcp_listener_s {
  union {                      /* TCP, or a Unix-domain socket */
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  int is_pipe;
  corio__loop_closer_t node;      /* on the loop's list of sockets */
  corio__loop_t *lp;
  /* Loop thread only. */
  int pending;                 /* libuv holds an accepted descriptor */
  int closed;
  corio__list_t accepting;     /* accept_job_t: tasks in corio_tcp_accept */
  accept_job_t *serve;         /* corio_tcp_serve's job, or NULL */
  corio_await_t *close_aw;
  unsigned long accept_errors; /* EMFILE and friends, after libuv's trick */
  unsigned next_worker;        /* serve: whose loop gets the next one */
};


/* The first task waiting in corio_tcp_accept, or NULL. */
static accept_job_t *first_acceptor(corio_tcp_listener_t *ln) {
  corio__list_t *n = corio__list_first(&ln->accepting);

  return n != NULL ? corio__container_of(n, accept_job_t, link) : NULL;
}


/* Take the connection libuv accepted into a new record. NULL when out of
 * memory: the descriptor stays with libuv, which stops watching the
 * listener until the next uv_accept. */
static corio_tcp_t *take(corio_tcp_listener_t *ln) {
  corio_tcp_t *c = corio__tcp_new(ln->lp);

  if (c == NULL) {
    ln->pending = 1;
    return NULL;
  }
  if (ln->is_pipe) {
    uv_pipe_init(ln->lp->loop, &c->own.pipe, 0);
    c->h = (uv_stream_t *)&c->own.pipe;
  } else {
    uv_tcp_init(ln->lp->loop, &c->own.tcp);
  }
  corio__tcp_listed(c);
  ln->pending = 0;
  if (uv_accept((uv_stream_t *)&ln->h, (uv_stream_t *)c->h) != 0) {
    corio__tcp_discard(c);
    return NULL;
  }
  corio__tcp_opened(c);
  return c;
}


static void *serve_task(void *arg) {
  corio_tcp_t *c = arg;

  corio__tcp_name_task(c);
  c->handler(c, c->handler_arg);
  corio__tcp_serve_end(c);
  return NULL;
}


static int serve_member(void *arg) {
  serve_task(arg);
  return 0;
}


/* --- serving on the workers' loops (docs/DESIGN.md 8) ---------------------
 * With workers, a served connection lives on one worker's loop, and its
 * task is bound to that worker: its reads, its handler and its writes
 * all happen on one thread, with no hop through the reactor, as in
 * loop-only mode, and each worker polls its own sockets. The reactor
 * only accepts: it takes the descriptor out of a scratch handle (dup,
 * then close the scratch) and posts it to the next worker round-robin. */

typedef struct handoff {
  corio__req_t req;            /* runs on the worker */
  corio__loop_t *lp;           /* the worker's loop */
  int fd;
  int is_pipe;                 /* a Unix-domain connection */
  serve_spec_t spec;
} handoff_t;


static void count(const serve_spec_t *s) {
  if (s->pending != NULL)
    atomic_fetch_add(s->pending, 1);
}


/* A counted connection will not get its handler (tcp.h). */
static void uncount(const serve_spec_t *s) {
  if (s->pending == NULL)
    return;
  if (s->dropped != NULL)
    s->dropped(s->arg);
  else
    atomic_fetch_sub(s->pending, 1);
}


/* Spawn c's task (bound to the calling worker, or not), counted already;
 * if that fails, close c and take the count back. */
static void start_serve_task(corio_tcp_t *c, const serve_spec_t *s,
                             corio_rt_t *rt, int bound) {
  int err;

  c->handler = s->handler;
  c->handler_arg = s->arg;
  c->users = 1; /* the serve task, until its handler returned */
  if (s->group != NULL) /* a cancelled group refuses it: UV_ECANCELED */
    err = corio__group_spawn_with(s->group, serve_member, c,
                                  bound ? corio__spawn_bound : NULL);
  else
    err = bound ? corio__spawn_bound(rt, serve_task, c)
                : corio_spawn(rt, serve_task, c, NULL);
  if (err != 0) {
    c->users = 0;
    corio__tcp_discard(c);
    uncount(s);
  }
}


static void handoff_failed(handoff_t *h) {
  uncount(&h->spec);
  free(h);
}


static void handoff_run(corio__req_t *req) {
  handoff_t *h = corio__container_of(req, handoff_t, req);
  corio_rt_t *rt = corio__loop_owner(h->lp);
  corio_tcp_t *c = NULL;

  /* acquire: pairs with corio_rt_free's release store */
  if (!atomic_load_explicit(&rt->stopping, memory_order_acquire))
    c = corio__tcp_new(h->lp);
  if (c == NULL) {
    close(h->fd);
    handoff_failed(h);
    return;
  }
  if (h->is_pipe) {
    uv_pipe_init(h->lp->loop, &c->own.pipe, 0);
    c->h = (uv_stream_t *)&c->own.pipe;
  } else {
    uv_tcp_init(h->lp->loop, &c->own.tcp);
  }
  corio__tcp_listed(c);
  if ((h->is_pipe ? uv_pipe_open(&c->own.pipe, h->fd) : uv_tcp_open(&c->own.tcp, h->fd)) != 0) {
    close(h->fd); /* not the handle's: it did not take it */
    corio__tcp_discard(c);
    handoff_failed(h);
    return;
  }
  corio__tcp_opened(c);
  start_serve_task(c, &h->spec, rt, 1);
  free(h);
}


static void scratch_closed(uv_handle_t *h) {
  free(h);
}


/* Accept into a scratch handle and post a duplicate of its descriptor to
 * a worker. Returns 0, or nonzero when out of memory or descriptors (the
 * connection is then dropped; libuv keeps watching the listener). */
static int hand_off(corio_tcp_listener_t *ln, unsigned nworkers) {
  /* big enough for either kind of handle */
  union { uv_tcp_t tcp; uv_pipe_t pipe; } *scratch = malloc(sizeof *scratch);
  handoff_t *h = malloc(sizeof *h);
  uv_os_fd_t fd = -1;
  int err = UV_ENOMEM;

  if (scratch == NULL || h == NULL) {
    free(scratch);
    free(h);
    ln->pending = 1; /* libuv holds it until the next try */
    return err;
  }
  if (ln->is_pipe)
    uv_pipe_init(ln->lp->loop, &scratch->pipe, 0);
  else
    uv_tcp_init(ln->lp->loop, &scratch->tcp);
  ln->pending = 0;
  err = uv_accept((uv_stream_t *)&ln->h, (uv_stream_t *)scratch);
  if (err == 0)
    err = uv_fileno((uv_handle_t *)scratch, &fd);
  if (err == 0 && (fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
    err = UV_EMFILE;
  uv_close((uv_handle_t *)scratch, scratch_closed);
  if (err != 0) {
    ln->accept_errors++;
    free(h);
    return err;
  }
  h->req.run = handoff_run;
  h->lp = corio__rt_worker_loop(corio__loop_owner(ln->lp),
                                ln->next_worker++ % nworkers);
  h->is_pipe = ln->is_pipe;
  h->fd = fd;
  h->spec = ln->serve->spec;
  count(&h->spec);
  corio__loop_post(h->lp, &h->req);
  return 0;
}


static void serve_one(corio_tcp_listener_t *ln) {
  unsigned nworkers = corio_rt_workers(corio__loop_owner(ln->lp));
  corio_tcp_t *c;

  if (nworkers > 0) {
    hand_off(ln, nworkers);
    return;
  }
  if ((c = take(ln)) == NULL)
    return;
  count(&ln->serve->spec);
  start_serve_task(c, &ln->serve->spec, corio__loop_owner(ln->lp), 0);
}


static void connection_cb(uv_stream_t *server, int status) {
  corio_tcp_listener_t *ln = server->data;
  accept_job_t *j;

  if (status < 0) {
    /* libuv already refused the waiting connections (its reserve
     * descriptor trick), so this does not spin. */
    ln->accept_errors++;
    return;
  }
  if (ln->serve != NULL) {
    serve_one(ln);
  } else if ((j = first_acceptor(ln)) != NULL) {
    if ((j->conn = take(ln)) != NULL) {
      corio__list_remove(&j->link);
      corio_await_done(j->aw, 0);
    }
  } else {
    ln->pending = 1; /* until someone accepts */
  }
}


/* --- listen -------------------------------------------------------------- */

typedef struct listen_job {
  int started, ok;
  corio_tcp_listener_t *ln;
  const struct sockaddr *addr;
  const corio_tcp_listener_options_t *opts;
  int unix_fd;                 /* a bound Unix-domain socket, or -1 */
} listen_job_t;


static void free_cb(uv_handle_t *h) {
  free(h->data);
}


static void force_close(corio__loop_closer_t *node) {
  corio_tcp_listener_t *ln = corio__container_of(node, corio_tcp_listener_t, node);
  accept_job_t *j;

  /* The runtime stops. Only plain threads still wait (tasks never run
   * again); let them go. */
  corio__loop_closer_remove(node);
  while ((j = first_acceptor(ln)) != NULL) {
    corio__list_remove(&j->link);
    if (corio__await_by_thread(j->aw))
      corio_await_done(j->aw, UV_ECANCELED);
  }
  if (ln->serve != NULL && corio__await_by_thread(ln->serve->aw))
    corio_await_done(ln->serve->aw, UV_ECANCELED);
  ln->serve = NULL;
  uv_close((uv_handle_t *)&ln->h, free_cb);
}


static int listen_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  listen_job_t *j = arg;
  corio_tcp_listener_t *ln = j->ln;
  uv_os_fd_t fd;
  int err, one = 1;
  int backlog = j->opts->backlog > 0 ? j->opts->backlog
                                      : CORIO_TCP_DEFAULT_BACKLOG;

  /* On failure this disposes of ln: the caller must not touch it. */
  j->started = 1;
  if (j->unix_fd >= 0) {
    uv_pipe_init(loop, &ln->h.pipe, 0);
    ln->h.pipe.data = ln;
    ln->is_pipe = 1;
    if ((err = uv_pipe_open(&ln->h.pipe, j->unix_fd)) != 0)
      close(j->unix_fd); /* not the handle's: it did not take it */
    if (err == 0)
      err = uv_listen((uv_stream_t *)&ln->h, backlog, connection_cb);
    goto listening;
  }
  err = uv_tcp_init_ex(loop, &ln->h.tcp, j->addr->sa_family);
  if (err != 0) {
    free(ln);
    return err;
  }
  ln->h.tcp.data = ln;
  if (j->opts->reuseport && uv_fileno((uv_handle_t *)&ln->h, &fd) == 0 &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    err = UV_EINVAL;
  if (err == 0)
    err = uv_tcp_bind(&ln->h.tcp, j->addr,
                      j->opts->ipv6_only && j->addr->sa_family == AF_INET6
                          ? UV_TCP_IPV6ONLY : 0);
  if (err == 0)
    err = uv_listen((uv_stream_t *)&ln->h, backlog, connection_cb);
listening:
  if (err != 0) {
    uv_close((uv_handle_t *)&ln->h, free_cb);
    return err;
  }
  ln->node.close = force_close;
  corio__loop_closer_add(ln->lp, &ln->node);
  j->ok = 1;
  corio_await_done(aw, 0);
  return 0;
}


int corio_tcp_listen(const char *host, int port,
                     const corio_tcp_listener_options_t *opts,
                     corio_tcp_listener_t **out) {
  corio_tcp_listener_options_t defaults = {0};
  corio_tcp_listener_t *ln;
  corio__addrs_t addrs;
  listen_job_t job;
  corio_rt_t *rt;
  int err;

  if (out == NULL)
    return UV_EINVAL;
  if (opts == NULL)
    opts = &defaults;
  rt = opts->rt != NULL ? opts->rt : corio_current_rt();
  if (rt == NULL)
    return UV_EINVAL;
  /* A loop thread waits only in a task: a plain wait there (for the name,
   * then for the listen) would stop its loop. */
  if (!corio__in_task() && corio__loop_current() != NULL)
    return UV_EINVAL;
  if ((err = corio__resolve(host, port, 1, UINT64_MAX, &addrs)) != 0)
    return err;
  if ((ln = calloc(1, sizeof *ln)) == NULL)
    return UV_ENOMEM;
  ln->lp = rt->lp;
  corio__list_init(&ln->accepting);
  memset(&job, 0, sizeof job);
  job.ln = ln;
  job.addr = (const struct sockaddr *)&addrs.a[0];
  job.opts = opts;
  job.unix_fd = -1;
  corio__wait_hint(CORIO__WK_TCP_OTHER, NULL, 0);
  err = corio_await(rt, listen_start, &job, NULL);
  if (err != 0) {
    if (!job.started)
      free(ln);
    else if (job.ok) /* listening, but the wait was cancelled meanwhile */
      corio_tcp_listener_close(ln);
    return err;
  }
  *out = ln;
  return 0;
}


int corio_unix_listen(const char *path, const corio_tcp_listener_options_t *opts,
                      corio_tcp_listener_t **out) {
  corio_tcp_listener_options_t defaults = {0};
  struct sockaddr_un sa;
  socklen_t salen;
  corio_tcp_listener_t *ln;
  listen_job_t job;
  corio_rt_t *rt;
  int err, fd;

  if (out == NULL)
    return UV_EINVAL;
  *out = NULL;
  if (opts == NULL)
    opts = &defaults;
  rt = opts->rt != NULL ? opts->rt : corio_current_rt();
  if (rt == NULL || (!corio__in_task() && corio__loop_current() != NULL))
    return UV_EINVAL;
  if ((err = corio__unix_addr(path, &sa, &salen)) != 0)
    return err;
  /* The socket is bound here (an abstract name needs the address's
   * length, which uv_pipe_bind does not take); the loop listens on it. */
  if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
    return -errno;
  if (bind(fd, (struct sockaddr *)&sa, salen) != 0) {
    err = -errno;
    close(fd);
    return err;
  }
  if ((ln = calloc(1, sizeof *ln)) == NULL) {
    close(fd);
    return UV_ENOMEM;
  }
  ln->lp = rt->lp;
  corio__list_init(&ln->accepting);
  memset(&job, 0, sizeof job);
  job.ln = ln;
  job.opts = opts;
  job.unix_fd = fd;
  corio__wait_hint(CORIO__WK_TCP_OTHER, NULL, 0);
  err = corio_await(rt, listen_start, &job, NULL);
  if (err != 0) {
    if (!job.started) {
      close(fd);
      free(ln);
    } else if (job.ok) {
      corio_tcp_listener_close(ln);
    }
    return err;
  }
  *out = ln;
  return 0;
}


int corio_tcp_listener_port(corio_tcp_listener_t *ln) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  int err;

  if (ln == NULL)
    return UV_EINVAL;
  /* getsockname only reads the descriptor: fine off the loop thread */
  if (ln->is_pipe)
    return UV_EINVAL; /* a Unix-domain listener has no port */
  err = uv_tcp_getsockname(&ln->h.tcp, (struct sockaddr *)&ss, &len);
  if (err != 0)
    return err;
  return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}


/* --- accept -------------------------------------------------------------- */

static void accept_give_up(void *arg) {
  accept_job_t *j = arg;

  corio__list_remove(&j->link);
  corio_await_done(j->aw, UV_ECANCELED);
}


static int accept_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  accept_job_t *j = arg;
  corio_tcp_listener_t *ln = j->ln;

  (void)loop;
  j->aw = aw;
  if (ln->closed)
    return UV_ECANCELED;
  if (ln->serve != NULL)
    return UV_EBUSY;
  if (ln->pending && corio__list_empty(&ln->accepting) &&
      (j->conn = take(ln)) != NULL) {
    corio_await_done(aw, 0);
    return 0;
  }
  corio__list_push_back(&ln->accepting, &j->link);
  corio__await_on_give_up(aw, accept_give_up, j);
  return 0;
}


int corio_tcp_accept_dl(corio_tcp_listener_t *ln, corio_tcp_t **conn,
                        uint64_t deadline) {
  accept_job_t job;
  intptr_t status = 0;
  int err;

  if (ln == NULL || conn == NULL || !corio__in_task())
    return UV_EINVAL;
  memset(&job, 0, sizeof job);
  job.ln = ln;
  corio__wait_hint(CORIO__WK_TCP_ACCEPT, ln, 0);
  err = corio_await_dl(corio__loop_owner(ln->lp), accept_start, &job, &status, deadline);
  if (err == 0)
    err = (int)status;
  if (err != 0) {
    if (job.conn != NULL) /* accepted just as the wait gave up */
      corio_close(job.conn);
    return err;
  }
  *conn = job.conn;
  return 0;
}


int corio_tcp_accept(corio_tcp_listener_t *ln, corio_tcp_t **conn) {
  return corio_tcp_accept_dl(ln, conn, UINT64_MAX);
}


/* --- serve --------------------------------------------------------------- */

static void serve_give_up(void *arg) {
  accept_job_t *j = arg;

  if (j->ln->serve == j)
    j->ln->serve = NULL;
  corio_await_done(j->aw, UV_ECANCELED);
}


static int serve_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  accept_job_t *j = arg;
  corio_tcp_listener_t *ln = j->ln;

  (void)loop;
  j->aw = aw;
  if (ln->closed)
    return UV_ECANCELED;
  if (ln->serve != NULL || !corio__list_empty(&ln->accepting))
    return UV_EBUSY;
  ln->serve = j;
  corio__await_on_give_up(aw, serve_give_up, j);
  if (ln->pending)
    serve_one(ln);
  return 0;
}


int corio__tcp_serve_counted(corio_tcp_listener_t *ln, corio_group_t *group,
                             corio_tcp_handler_fn handler, void *arg,
                             _Atomic(int) *pending, void (*dropped)(void *arg)) {
  accept_job_t job;
  intptr_t status = 0;
  int err;

  if (ln == NULL || handler == NULL)
    return UV_EINVAL;
  memset(&job, 0, sizeof job);
  job.ln = ln;
  job.spec.handler = handler;
  job.spec.arg = arg;
  job.spec.pending = pending;
  job.spec.dropped = dropped;
  job.spec.group = group;
  corio__wait_hint(CORIO__WK_TCP_SERVE, ln, 0);
  err = corio_await(corio__loop_owner(ln->lp), serve_start, &job, &status);
  return err != 0 ? err : (int)status;
}


int corio_tcp_serve(corio_tcp_listener_t *ln, corio_tcp_handler_fn handler,
                    void *arg) {
  return corio__tcp_serve_counted(ln, NULL, handler, arg, NULL, NULL);
}


int corio_tcp_serve_group(corio_tcp_listener_t *ln, corio_group_t *g,
                          corio_tcp_handler_fn handler, void *arg) {
  if (g == NULL)
    return UV_EINVAL;
  return corio__tcp_serve_counted(ln, g, handler, arg, NULL, NULL);
}


/* --- close --------------------------------------------------------------- */

static void listener_closed(uv_handle_t *h) {
  corio_tcp_listener_t *ln = h->data;

  corio_await_done(ln->close_aw, 0);
}


static int close_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  corio_tcp_listener_t *ln = arg;
  accept_job_t *j;

  (void)loop;
  ln->closed = 1;
  while ((j = first_acceptor(ln)) != NULL) {
    corio__list_remove(&j->link);
    corio_await_done(j->aw, UV_ECANCELED);
  }
  if (ln->serve != NULL) {
    corio_await_done(ln->serve->aw, 0);
    ln->serve = NULL;
  }
  corio__loop_closer_remove(&ln->node);
  ln->close_aw = aw;
  uv_close((uv_handle_t *)&ln->h, listener_closed);
  return 0;
}


int corio_tcp_listener_close(corio_tcp_listener_t *ln) {
  int err, cancelled = 0;

  if (ln == NULL)
    return UV_EINVAL;
  /* Once started, the close completes before corio_await returns, whatever
   * ends the wait. A cancel that was pending returns at once instead, with
   * nothing started (ln->closed still 0, and no other thread writes it):
   * the close must happen all the same, so try again, and give the cancel
   * back for the task's next wait. Each round consumes one cancel. */
  do {
    corio__wait_hint(CORIO__WK_TCP_OTHER, ln, 0);
    err = corio_await(corio__loop_owner(ln->lp), close_start, ln, NULL);
    if (err == UV_ECANCELED)
      cancelled = 1;
  } while (err == UV_ECANCELED && !ln->closed);
  if (err == UV_EINVAL)
    return err;
  free(ln);
  if (cancelled)
    corio_cancel(corio_self());
  return 0;
}
