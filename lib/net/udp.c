/* UDP sockets (corio/net.h "UDP"): the handle lives on the runtime's loop,
 * which receives datagrams into a bounded queue; tasks take them from
 * there (or wait), and send straight from their own thread with sendto(2)
 * on the socket, through the loop only when the kernel's buffer is full. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "addr.h"
#include "core/list.h"
#include "io/await.h"
#include "core/spin.h"
#include "corio/net.h"
#include "corio/uv.h"
#include "sched/sched.h"
#include "sched/wait.h"

#define DGRAM_MAX 65536

typedef struct dgram {
  corio__list_t link;
  struct sockaddr_storage from;
  size_t len;
  char data[];
} dgram_t;

struct corio_udp_s {
  uv_udp_t h;                    /* loop thread */
  corio_rt_t *rt;
  int fd;
  char rbuf[DGRAM_MAX];          /* libuv reads each datagram here */
  corio__spin_t lock;            /* queue, dropped, waiters */
  corio__list_t queue;
  size_t queued, queue_max;
  uint64_t dropped;
  corio__wlist_t waiters;
};


static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  corio_udp_t *u = h->data;

  (void)suggested;
  *buf = uv_buf_init(u->rbuf, sizeof u->rbuf);
}


static void recv_cb(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags) {
  corio_udp_t *u = h->data;
  corio__waiter_t *w;
  dgram_t *d = NULL;

  (void)buf;
  (void)flags; /* UV_UDP_PARTIAL cannot happen: the buffer holds any datagram */
  if (n < 0 || addr == NULL)
    return; /* an error, or "nothing more for now" */
  corio__spin_lock(&u->lock);
  if (u->queued >= u->queue_max || (d = malloc(sizeof *d + (size_t)n)) == NULL) {
    u->dropped++;
  } else {
    memset(&d->from, 0, sizeof d->from);
    memcpy(&d->from, addr, addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                       : sizeof(struct sockaddr_in));
    d->len = (size_t)n;
    memcpy(d->data, u->rbuf, (size_t)n);
    corio__list_push_back(&u->queue, &d->link);
    u->queued++;
  }
  while ((w = corio__wlist_pop(&u->waiters)) != NULL && !corio__wake(w, 0)) {
  }
  corio__spin_unlock(&u->lock);
}


typedef struct bind_job {
  corio_udp_t *u;
  const struct sockaddr *addr;
  unsigned flags;
  int broadcast;
} bind_job_t;

static int bind_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  bind_job_t *j = arg;
  corio_udp_t *u = j->u;
  uv_os_fd_t fd;
  int err;

  uv_udp_init(loop, &u->h);
  u->h.data = u;
  err = uv_udp_bind(&u->h, j->addr, j->flags);
  if (err == 0 && j->broadcast)
    err = uv_udp_set_broadcast(&u->h, 1);
  if (err == 0 && (err = uv_fileno((uv_handle_t *)&u->h, &fd)) == 0)
    u->fd = fd;
  if (err == 0)
    err = uv_udp_recv_start(&u->h, alloc_cb, recv_cb);
  corio_await_done(aw, err);
  return 0;
}


static void free_udp(corio_udp_t *u) {
  corio__list_t *l;

  while ((l = corio__list_pop_front(&u->queue)) != NULL)
    free(corio__container_of(l, dgram_t, link));
  free(u);
}


int corio_udp_close(corio_udp_t *u) {
  uv_handle_t *h;
  int busy;

  if (u == NULL)
    return UV_EINVAL;
  corio__spin_lock(&u->lock);
  busy = !corio__wlist_empty(&u->waiters);
  corio__spin_unlock(&u->lock);
  if (busy)
    return UV_EBUSY;
  h = (uv_handle_t *)&u->h;
  corio__close_handles(u->rt, &h, 1);
  free_udp(u);
  return 0;
}


int corio_udp_bind(const char *host, int port, const corio_udp_options_t *opts,
                   corio_udp_t **out) {
  corio_udp_options_t defaults = {0};
  corio__addrs_t addrs;
  bind_job_t job;
  intptr_t status = 0;
  corio_udp_t *u;
  corio_rt_t *rt;
  int err;

  if (out == NULL)
    return UV_EINVAL;
  *out = NULL;
  if (opts == NULL)
    opts = &defaults;
  rt = opts->rt != NULL ? opts->rt : corio_current_rt();
  if (rt == NULL || port < 0 || port > 65535)
    return UV_EINVAL;
  if ((err = corio__resolve(host, port, 1, UINT64_MAX, &addrs)) != 0)
    return err;
  if ((u = calloc(1, sizeof *u)) == NULL)
    return UV_ENOMEM;
  u->rt = rt;
  u->fd = -1;
  u->queue_max = opts->queue_max != 0 ? opts->queue_max : CORIO_UDP_DEFAULT_QUEUE;
  atomic_init(&u->lock, 0);
  corio__list_init(&u->queue);
  corio__list_init(&u->waiters.head);
  job.u = u;
  job.addr = (const struct sockaddr *)&addrs.a[0];
  job.flags = (opts->reuseaddr ? UV_UDP_REUSEADDR : 0u) |
              (opts->ipv6_only && addrs.a[0].ss_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0u);
  job.broadcast = opts->broadcast;
  if ((err = corio_await(rt, bind_start, &job, &status)) != 0) {
    free(u); /* cancelled before the loop saw it */
    return err;
  }
  if (status != 0) {
    corio_udp_close(u);
    return (int)status;
  }
  *out = u;
  return 0;
}


int corio_udp_port(corio_udp_t *u) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;

  if (u == NULL)
    return UV_EINVAL;
  if (getsockname(u->fd, (struct sockaddr *)&ss, &len) != 0)
    return -errno;
  return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}


/* --- sending: the calling thread's sendto(2), the loop's when full ---------- */

typedef struct send_job {
  corio_udp_t *u;
  uv_udp_send_t req;
  uv_buf_t buf;
  const struct sockaddr *to;
} send_job_t;

static void send_cb(uv_udp_send_t *req, int status) {
  corio_await_done(req->data, status);
}

static int send_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  send_job_t *j = arg;

  (void)loop;
  j->req.data = aw;
  return uv_udp_send(&j->req, &j->u->h, &j->buf, 1, j->to, send_cb);
}


ssize_t corio_udp_send_to_dl(corio_udp_t *u, const void *buf, size_t len,
                             const struct sockaddr *to, uint64_t deadline) {
  socklen_t tolen = 0;
  ssize_t n;

  if (u == NULL || (buf == NULL && len > 0) || len > DGRAM_MAX)
    return UV_EINVAL;
  if (to != NULL)
    tolen = to->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  do
    n = sendto(u->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, to, tolen);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return n;
  if (errno != EAGAIN && errno != EWOULDBLOCK)
    return -errno;
  {
    /* the kernel's buffer is full: the loop sends when there is room */
    send_job_t j = {u, {0}, uv_buf_init((char *)(uintptr_t)buf, (unsigned)len), to};
    intptr_t status = 0;
    int err;
    corio__wait_hint(CORIO__WK_AWAIT, u, 0);
    if ((err = corio_await_dl(u->rt, send_start, &j, &status, deadline)) != 0)
      return err;
    return status < 0 ? (ssize_t)status : (ssize_t)len;
  }
}


ssize_t corio_udp_send_to(corio_udp_t *u, const void *buf, size_t len,
                          const struct sockaddr *to) {
  return corio_udp_send_to_dl(u, buf, len, to, UINT64_MAX);
}


ssize_t corio_udp_send(corio_udp_t *u, const void *buf, size_t len) {
  return corio_udp_send_to_dl(u, buf, len, NULL, UINT64_MAX);
}


ssize_t corio_udp_send_dl(corio_udp_t *u, const void *buf, size_t len, uint64_t deadline) {
  return corio_udp_send_to_dl(u, buf, len, NULL, deadline);
}


/* --- receiving ------------------------------------------------------------------- */

ssize_t corio_udp_recv_from_dl(corio_udp_t *u, void *buf, size_t cap,
                               struct sockaddr_storage *from, int *truncated,
                               uint64_t deadline) {
  corio__list_t *l;
  int err;

  if (u == NULL || (buf == NULL && cap > 0))
    return UV_EINVAL;
  corio__spin_lock(&u->lock);
  while ((l = corio__list_pop_front(&u->queue)) == NULL)
    if ((err = corio__wait_on_list(&u->waiters, &u->lock, CORIO__WK_AWAIT, u, 0, deadline)) != 0)
      return err;
  u->queued--;
  corio__spin_unlock(&u->lock);
  {
    dgram_t *d = corio__container_of(l, dgram_t, link);
    size_t k = d->len < cap ? d->len : cap;
    ssize_t len = (ssize_t)d->len;
    memcpy(buf, d->data, k);
    if (from != NULL)
      *from = d->from;
    if (truncated != NULL)
      *truncated = d->len > cap;
    free(d);
    return len;
  }
}


ssize_t corio_udp_recv_from(corio_udp_t *u, void *buf, size_t cap,
                            struct sockaddr_storage *from, int *truncated) {
  return corio_udp_recv_from_dl(u, buf, cap, from, truncated, UINT64_MAX);
}


ssize_t corio_udp_recv(corio_udp_t *u, void *buf, size_t cap) {
  return corio_udp_recv_from_dl(u, buf, cap, NULL, NULL, UINT64_MAX);
}


ssize_t corio_udp_recv_dl(corio_udp_t *u, void *buf, size_t cap, uint64_t deadline) {
  return corio_udp_recv_from_dl(u, buf, cap, NULL, NULL, deadline);
}


int corio_udp_connect(corio_udp_t *u, const char *host, int port) {
  corio__addrs_t addrs;
  int err;

  if (u == NULL || host == NULL)
    return UV_EINVAL;
  if ((err = corio__resolve(host, port, 0, UINT64_MAX, &addrs)) != 0)
    return err;
  /* connect(2) on the socket: the loop's handle reads what comes, now
   * from that peer only */
  if (connect(u->fd, (struct sockaddr *)&addrs.a[0],
              addrs.a[0].ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                               : sizeof(struct sockaddr_in)) != 0)
    return -errno;
  return 0;
}


uint64_t corio_udp_dropped(corio_udp_t *u) {
  uint64_t n;

  if (u == NULL)
    return 0;
  corio__spin_lock(&u->lock);
  n = u->dropped;
  corio__spin_unlock(&u->lock);
  return n;
}


/* --- options, on the loop thread --------------------------------------------------- */

typedef struct opt_job {
  corio_udp_t *u;
  int what, value;
  const char *group, *iface;
} opt_job_t;

enum { OPT_JOIN, OPT_LEAVE, OPT_TTL, OPT_MCAST_TTL, OPT_BROADCAST, OPT_LOOP };

static int opt_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  opt_job_t *j = arg;
  uv_udp_t *h = &j->u->h;
  int err;

  (void)loop;
  switch (j->what) {
  case OPT_JOIN:
    err = uv_udp_set_membership(h, j->group, j->iface, UV_JOIN_GROUP);
    break;
  case OPT_LEAVE:
    err = uv_udp_set_membership(h, j->group, j->iface, UV_LEAVE_GROUP);
    break;
  case OPT_TTL:
    err = uv_udp_set_ttl(h, j->value);
    break;
  case OPT_MCAST_TTL:
    err = uv_udp_set_multicast_ttl(h, j->value);
    break;
  case OPT_BROADCAST:
    err = uv_udp_set_broadcast(h, j->value);
    break;
  default:
    err = uv_udp_set_multicast_loop(h, j->value);
  }
  corio_await_done(aw, err);
  return 0;
}

static int set_opt(corio_udp_t *u, int what, int value, const char *group, const char *iface) {
  opt_job_t j = {u, what, value, group, iface};
  intptr_t status = 0;
  int err;

  if (u == NULL || ((what == OPT_JOIN || what == OPT_LEAVE) && group == NULL))
    return UV_EINVAL;
  if ((err = corio_await(u->rt, opt_start, &j, &status)) != 0)
    return err;
  return (int)status;
}

int corio_udp_join(corio_udp_t *u, const char *group, const char *iface) {
  return set_opt(u, OPT_JOIN, 0, group, iface);
}
int corio_udp_leave(corio_udp_t *u, const char *group, const char *iface) {
  return set_opt(u, OPT_LEAVE, 0, group, iface);
}
int corio_udp_set_ttl(corio_udp_t *u, int ttl) {
  return set_opt(u, OPT_TTL, ttl, NULL, NULL);
}
int corio_udp_set_multicast_ttl(corio_udp_t *u, int ttl) {
  return set_opt(u, OPT_MCAST_TTL, ttl, NULL, NULL);
}
int corio_udp_set_multicast_loop(corio_udp_t *u, int on) {
  return set_opt(u, OPT_LOOP, on, NULL, NULL);
}
int corio_udp_set_broadcast(corio_udp_t *u, int on) {
  return set_opt(u, OPT_BROADCAST, on, NULL, NULL);
}
