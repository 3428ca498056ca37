/* Clients: connect (each resolved address in turn) and adopting an
 * application's connected handle. */
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <sys/socket.h>

#include "addr.h"
#include "core/list.h"
#include "sched/sched.h"
#include "tcp.h"

typedef struct connect_job {
  uv_connect_t req;
  corio_tcp_t *c;
  const struct sockaddr *addr;
  int started, connected;
} connect_job_t;


static void connect_cb(uv_connect_t *req, int status) {
  connect_job_t *j = corio__container_of(req, connect_job_t, req);

  if (status == 0 && !uv_is_closing((uv_handle_t *)j->c->h)) {
    corio__tcp_opened(j->c);
    j->connected = 1;
  } else {
    if (status == 0)
      status = UV_ECANCELED;
    corio__tcp_discard(j->c); /* frees it once closed */
  }
  corio_await_done(req->data, status);
}


/* The wait gave up: closing the handle ends the connect (UV_ECANCELED). */
static void connect_give_up(void *arg) {
  connect_job_t *j = arg;

  if (!uv_is_closing((uv_handle_t *)j->c->h))
    corio__tcp_discard(j->c);
}


static int connect_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  connect_job_t *j = arg;
  corio_tcp_t *c = j->c;
  int err;

  /* From here on the loop disposes of c if the connect fails. */
  j->started = 1;
  if ((err = uv_tcp_init(loop, &c->own.tcp)) != 0) {
    free(c);
    return err;
  }
  corio__tcp_listed(c);
  j->req.data = aw;
  if ((err = uv_tcp_connect(&j->req, &c->own.tcp, j->addr, connect_cb)) != 0) {
    corio__tcp_discard(c);
    return err;
  }
  corio__await_on_give_up(aw, connect_give_up, j);
  return 0;
}


int corio_tcp_connect_dl(const char *host, int port, corio_tcp_t **out,
                         uint64_t deadline) {
  corio_rt_t *rt = corio_current_rt();
  corio__addrs_t addrs;
  connect_job_t job;
  intptr_t status;
  int i, err;

  if (out == NULL || rt == NULL || !corio__in_task())
    return UV_EINVAL;
  if ((err = corio__resolve(host, port, 0, deadline, &addrs)) != 0)
    return err;
  for (i = 0; i < addrs.n; i++) {
    memset(&job, 0, sizeof job);
    if ((job.c = corio__tcp_new(rt->lp)) == NULL)
      return UV_ENOMEM;
    job.addr = (const struct sockaddr *)&addrs.a[i];
    status = 0;
    corio__wait_hint(CORIO__WK_TCP_CONNECT, NULL, 0);
    err = corio_await_dl(rt, connect_start, &job, &status, deadline);
    if (err == 0)
      err = (int)status;
    if (err == 0) {
      *out = job.c;
      return 0;
    }
    if (job.connected) /* connected just as the wait gave up */
      corio_close(job.c);
    else if (!job.started)
      free(job.c);
    if (err == UV_ETIMEDOUT || err == UV_ECANCELED)
      break;
  }
  return err;
}


int corio_tcp_connect(const char *host, int port, corio_tcp_t **out) {
  return corio_tcp_connect_dl(host, port, out, UINT64_MAX);
}


/* --- adopt --------------------------------------------------------------- */

static int adopt_now(corio_tcp_t *c) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  uv_tcp_t *h = (uv_tcp_t *)c->h;
  uv_os_fd_t fd;

  if (h->type != UV_TCP || h->loop != c->lp->loop ||
      uv_is_closing((uv_handle_t *)h) || uv_fileno((uv_handle_t *)h, &fd) != 0 ||
      getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
    return UV_EINVAL;
  uv_read_stop((uv_stream_t *)h);
  corio__tcp_listed(c);
  corio__tcp_opened(c);
  return 0;
}


static int adopt_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  int err = adopt_now(arg);

  (void)loop;
  if (err == 0)
    corio_await_done(aw, 0);
  return err;
}


int corio_tcp_adopt(uv_tcp_t *h, corio_tcp_t **out) {
  corio__loop_t *lp = corio__loop_current();
  corio_rt_t *rt = corio_current_rt();
  corio_tcp_t *c;
  int err;

  if (out == NULL || h == NULL)
    return UV_EINVAL;
  if (lp == NULL && rt == NULL)
    return UV_EINVAL;
  if (lp == NULL)
    lp = rt->lp;
  if ((c = corio__tcp_new(lp)) == NULL)
    return UV_ENOMEM;
  c->h = (uv_stream_t *)h;
  c->adopted = 1;
  if (corio__loop_current() == lp)
    err = adopt_now(c);
  else {
    corio__wait_hint(CORIO__WK_TCP_OTHER, c, 0);
    err = corio_await(corio__loop_owner(lp), adopt_start, c, NULL);
  }
  if (err != 0 && c->listed)
    err = 0; /* adopted, though the wait was cancelled meanwhile */
  if (err != 0) {
    free(c);
    return err;
  }
  *out = c;
  return 0;
}


/* --- Unix-domain sockets and pipes ----------------------------------------- */

typedef struct pipe_job {
  corio_tcp_t *c;
  int fd;
  int started;
} pipe_job_t;

/* Loop thread: fd becomes c's pipe handle, read like any connection. */
static int pipe_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  pipe_job_t *j = arg;
  corio_tcp_t *c = j->c;
  int err;

  j->started = 1;
  uv_pipe_init(loop, &c->own.pipe, 0);
  c->h = (uv_stream_t *)&c->own.pipe;
  corio__tcp_listed(c);
  if ((err = uv_pipe_open(&c->own.pipe, j->fd)) != 0) {
    corio__tcp_discard(c);
    return err;
  }
  corio__tcp_opened(c);
  corio_await_done(aw, 0);
  return 0;
}


/* fd as a connection of the calling task's runtime: 0 and *out, or an
 * error (fd is then left to the caller). */
static int open_fd(int fd, corio_tcp_t **out) {
  corio_rt_t *rt = corio_current_rt();
  pipe_job_t job = {NULL, fd, 0};
  int err;

  if (rt == NULL || !corio__in_task())
    return UV_EINVAL;
  if ((job.c = corio__tcp_new(rt->lp)) == NULL)
    return UV_ENOMEM;
  corio__wait_hint(CORIO__WK_TCP_OTHER, NULL, 0);
  err = corio_await(rt, pipe_start, &job, NULL);
  if (err != 0 && job.started && job.c->listed)
    err = 0; /* opened, though the wait was cancelled meanwhile */
  if (err != 0) {
    if (!job.started)
      free(job.c);
    return err;
  }
  *out = job.c;
  return 0;
}


int corio_unix_connect(const char *path, corio_tcp_t **out) {
  struct sockaddr_un sa;
  socklen_t len;
  int fd, err;

  if (out == NULL)
    return UV_EINVAL;
  *out = NULL;
  if ((err = corio__unix_addr(path, &sa, &len)) != 0)
    return err;
  if (!corio__in_task())
    return UV_EINVAL;
  if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
    return -errno;
  /* A local connect completes at once, or fails at once (EAGAIN: the
   * listener's backlog is full). */
  if (connect(fd, (struct sockaddr *)&sa, len) != 0) {
    err = -errno;
    close(fd);
    return err;
  }
  if ((err = open_fd(fd, out)) != 0)
    close(fd);
  return err;
}


int corio_pipe_open(int fd, corio_tcp_t **out) {
  if (out == NULL || fd < 0)
    return UV_EINVAL;
  *out = NULL;
  return open_fd(fd, out);
}
