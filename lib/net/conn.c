/* Connections: the loop's persistent reads, the reader's side of the
 * buffer, syscall-first writes, close. See tcp.h for the protocol. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "core/list.h"
#include "core/pool.h"
#include "sched/sched.h"
#include "tcp.h"

/* Each connection's read buffer (docs/DESIGN.md 8), allocated when its first
 * bytes arrive. */
#define RBUF_CAP ((size_t)CORIO_TCP_BUFFER)
/* The reader asks the loop to read again (a hop) only once this much of
 * the buffer is free, unless it is about to wait: resuming on any room
 * would cost a hop for every few bytes taken from a full buffer, and half
 * a buffer is still one large read for the loop. */
#define RESUME_ROOM (RBUF_CAP / 2)
/* The reader moves its unread bytes to the front of the buffer once this
 * many consumed bytes lie before them (or the end is reached, or it is
 * about to wait): copying a short tail is cheap, and then the loop has
 * room behind it again. */
#define COMPACT_AT (RBUF_CAP / 2)
/* Buffers a write hands to the loop without allocating (the rest of a
 * writev the kernel did not take); more are rare, and get a malloc. */
#define WRITE_LOCAL_BUFS 16

static void close_run(corio__req_t *req);
static void resume_run(corio__req_t *req);
static void force_close(corio__loop_closer_t *node);


corio_tcp_t *corio__tcp_new(corio__loop_t *lp) {
  corio_tcp_t *c = calloc(1, sizeof *c);

  if (c == NULL)
    return NULL;
  c->h = (uv_stream_t *)&c->own.tcp; /* until a pipe says otherwise */
  c->lp = lp;
  c->fd = -1;
  c->node.close = force_close;
  c->close_req.run = close_run;
  c->resume_req.run = resume_run;
  return c;
}


static void conn_free(corio_tcp_t *c) {
  corio__pool_put(CORIO__POOL_READ_BUF, c->rbuf);
  free(c);
}


/* --- the loop's side of reading ---------------------------------------- */

/* The buffer is taken here, as bytes are about to come, and given back by
 * the reader when it waits with nothing buffered (give_back_locked): an
 * idle connection holds none. Only this callback sets rbuf. */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  corio_tcp_t *c = h->data;
  char *fresh;

  (void)suggested;
  corio__spin_lock(&c->lock);
  if (c->rbuf == NULL)
    c->rbuf = corio__pool_take_cached(CORIO__POOL_READ_BUF);
  if (c->rbuf == NULL) { /* malloc, but not under the lock */
    corio__spin_unlock(&c->lock);
    fresh = malloc(RBUF_CAP);
    corio__spin_lock(&c->lock);
    c->rbuf = fresh; /* still NULL: the reader only ever clears it */
  }
  if (c->rbuf == NULL) {
    *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
  } else {
    *buf = uv_buf_init(c->rbuf + c->wpos, (unsigned)(RBUF_CAP - c->wpos));
    c->filling = 1;
  }
  corio__spin_unlock(&c->lock);
}


static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  corio_tcp_t *c = s->data;
  corio__waiter_t *w;
  corio_task_t *t;
  int stop;

  (void)buf;
  corio__spin_lock(&c->lock);
  c->filling = 0;
  if ((t = c->cutter) != NULL) { /* parked until now: lock_not_filling */
    c->cutter = NULL;
    corio__ready(t);
  }
  if (nread > 0)
    c->wpos += (size_t)nread;
  else if (nread < 0 && c->read_err == 0)
    c->read_err = (int)nread;
  stop = nread < 0 || c->wpos == RBUF_CAP;
  if (stop)
    c->read_on = 0;
  /* Wake under the lock: a reader that gave up unlinks itself under it,
   * so its waiter is still there. On the loop thread the wake-up is
   * batched to the end of the iteration. */
  if (nread != 0 && (w = c->reader) != NULL) {
    c->reader = NULL;
    corio__wake(w, 0);
  }
  corio__spin_unlock(&c->lock);
  if (stop)
    uv_read_stop(s);
}


/* Reading could not start: the stream is over for the reader, who must
 * not wait for bytes that will never come. Loop thread. */
static void read_failed(corio_tcp_t *c, int err) {
  corio__waiter_t *w;

  corio__spin_lock(&c->lock);
  c->read_on = 0;
  if (c->read_err == 0)
    c->read_err = err;
  if ((w = c->reader) != NULL) {
    c->reader = NULL;
    corio__wake(w, 0);
  }
  corio__spin_unlock(&c->lock);
}


void corio__tcp_opened(corio_tcp_t *c) {
  uv_os_fd_t fd = -1;
  int one = 1, err;

  uv_fileno((uv_handle_t *)c->h, &fd);
  c->fd = fd;
  c->h->data = c;
  if (c->h->type == UV_NAMED_PIPE) {
    struct stat st;
    c->not_socket = fstat(fd, &st) == 0 && !S_ISSOCK(st.st_mode);
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->read_on = 1;
  if ((err = uv_read_start((uv_stream_t *)c->h, alloc_cb, read_cb)) != 0)
    read_failed(c, err);
}


void corio__tcp_listed(corio_tcp_t *c) {
  c->listed = 1;
  c->h->data = c;
  corio__loop_closer_add(c->lp, &c->node);
}


static void unlist(corio_tcp_t *c) {
  if (c->listed) {
    c->listed = 0;
    corio__loop_closer_remove(&c->node);
  }
}


/* Asked for by a reader that drained the buffer (users counts it). */
static void resume_run(corio__req_t *req) {
  corio_tcp_t *c = corio__container_of(req, corio_tcp_t, resume_req);
  int start, free_now, err;

  corio__spin_lock(&c->lock);
  c->resume_queued = 0;
  c->users--;
  start = !c->closing && !c->handle_closed && !c->read_on && c->read_err == 0 &&
          c->wpos < RBUF_CAP;
  if (start)
    c->read_on = 1;
  free_now = c->handle_closed && c->users == 0;
  corio__spin_unlock(&c->lock);
  if (free_now)
    conn_free(c);
  else if (start && (err = uv_read_start((uv_stream_t *)c->h, alloc_cb, read_cb)) != 0)
    read_failed(c, err);
}


/* --- the reader's side --------------------------------------------------- */

/* Make room behind wpos if the loop is not writing there, and say whether
 * the loop must be asked to read again (then users counts the request).
 * want: the reader is about to wait, so any room will do. Locked. */
static int make_room_locked(corio_tcp_t *c, int want) {
  size_t room;

  if (!c->filling) {
    if (c->rpos == c->wpos) {
      c->rpos = c->wpos = 0;
    } else if (c->rpos > 0 &&
               (c->wpos == RBUF_CAP || c->rpos >= COMPACT_AT || want)) {
      memmove(c->rbuf, c->rbuf + c->rpos, c->wpos - c->rpos);
      c->wpos -= c->rpos;
      c->rpos = 0;
    }
  }
  room = RBUF_CAP - c->wpos;
  if (c->read_on || c->resume_queued || c->read_err != 0 || c->closing ||
      room == 0 || (!want && room < RESUME_ROOM))
    return 0;
  c->resume_queued = 1;
  c->users++;
  return 1;
}


int corio__tcp_read_begin(corio_tcp_t *c) {
  int err = 0;

  corio__spin_lock(&c->lock);
  if (c->in_read)
    err = UV_EBUSY;
  else if (c->closing)
    err = UV_ECANCELED;
  else {
    c->in_read = 1;
    c->users++;
  }
  corio__spin_unlock(&c->lock);
  return err;
}


/* A caller leaves: free the record if it was the last thing keeping it. */
static void leave_locked_and_unlock(corio_tcp_t *c) {
  int free_now;

  c->users--;
  free_now = c->handle_closed && c->users == 0;
  corio__spin_unlock(&c->lock);
  if (free_now)
    conn_free(c);
}


void corio__tcp_read_end(corio_tcp_t *c) {
  corio__spin_lock(&c->lock);
  c->in_read = 0;
  leave_locked_and_unlock(c);
}


size_t corio__tcp_peek(corio_tcp_t *c, char **p) {
  size_t n;

  corio__spin_lock(&c->lock);
  *p = c->rbuf != NULL ? c->rbuf + c->rpos : NULL;
  n = c->wpos - c->rpos;
  corio__spin_unlock(&c->lock);
  return n;
}


void corio__tcp_consume(corio_tcp_t *c, size_t n) {
  int resume;

  corio__spin_lock(&c->lock);
  c->rpos += n;
  resume = make_room_locked(c, 0);
  corio__spin_unlock(&c->lock);
  if (resume)
    corio__loop_post(c->lp, &c->resume_req);
}


/* The reader's park: release the lock once the wait is armed, then ask
 * the loop to read again if needed. Copies what it needs first: after
 * the unlock the reader may run on and leave its frame. */
typedef struct fill_unlock {
  corio_tcp_t *c;
  int resume;
  char *spare;                 /* the empty buffer, given back */
} fill_unlock_t;

static void fill_unlock(void *arg) {
  fill_unlock_t *u = arg;
  corio_tcp_t *c = u->c;
  int resume = u->resume;
  char *spare = u->spare;

  corio__spin_unlock(&c->lock);
  corio__pool_put(CORIO__POOL_READ_BUF, spare);
  if (resume) /* the request keeps c alive (users) */
    corio__loop_post(c->lp, &c->resume_req);
}


/* What needs no wait (bytes, the end of the stream, a close, a full
 * buffer) is answered before the wait begins: a call that returns without
 * waiting leaves a pending cancel for the next call that waits. */
ssize_t corio__tcp_fill_dl(corio_tcp_t *c, size_t have, uint64_t deadline_ns) {
  corio__waiter_t w;
  fill_unlock_t u = {c, 0, NULL};
  int err;

  corio__spin_lock(&c->lock);
  if (c->wpos - c->rpos > have) { /* came since the caller looked */
    err = (int)(c->wpos - c->rpos);
    corio__spin_unlock(&c->lock);
    return err;
  }
  if (c->closing) {
    corio__spin_unlock(&c->lock);
    return UV_ECANCELED;
  }
  if (c->read_err != 0) {
    err = c->read_err;
    corio__spin_unlock(&c->lock);
    return err;
  }
  u.resume = make_room_locked(c, 1);
  if (c->wpos == RBUF_CAP && c->rpos == 0) {
    corio__spin_unlock(&c->lock); /* nothing was queued: no room */
    return UV_ENOBUFS;
  }
  if ((err = corio__wait_begin(&w)) != 0) {
    fill_unlock(&u); /* posts a resume it queued: the next read wants it */
    return err;
  }
  corio__wait_what(&w, CORIO__WK_TCP_READ, c, 0);
  c->reader = &w;
  /* Nothing buffered and the loop not reading into it: an idle
   * connection holds no buffer (alloc_cb takes one when bytes come). */
  if (c->rpos == c->wpos && !c->filling) {
    u.spare = c->rbuf;
    c->rbuf = NULL;
    c->rpos = c->wpos = 0;
  }
  err = corio__wait_park_unlock(&w, fill_unlock, &u, deadline_ns);
  corio__spin_lock(&c->lock);
  if (c->reader == &w)
    c->reader = NULL;
  if (err == 0 && c->wpos - c->rpos > have)
    err = (int)(c->wpos - c->rpos);
  else if (err == 0)
    err = c->read_err != 0 ? c->read_err : UV_ECANCELED;
  corio__spin_unlock(&c->lock);
  return err;
}


/* --- reading ------------------------------------------------------------- */

ssize_t corio_read_dl(corio_tcp_t *c, void *buf, size_t len, uint64_t deadline) {
  ssize_t n;
  char *p;

  if (c == NULL || (buf == NULL && len > 0) || !corio__in_task())
    return UV_EINVAL;
  if (len == 0)
    return 0;
  if ((n = corio__tcp_read_begin(c)) != 0)
    return n;
  n = (ssize_t)corio__tcp_peek(c, &p);
  if (n == 0) {
    n = corio__tcp_fill_dl(c, 0, corio__deadline_ns(deadline));
    corio__tcp_peek(c, &p);
  }
  if (n > 0) {
    if ((size_t)n > len)
      n = (ssize_t)len;
    memcpy(buf, p, (size_t)n);
    corio__tcp_consume(c, (size_t)n);
  }
  corio__tcp_read_end(c);
  return n;
}


ssize_t corio_read(corio_tcp_t *c, void *buf, size_t len) {
  return corio_read_dl(c, buf, len, UINT64_MAX);
}


ssize_t corio_read_full_dl(corio_tcp_t *c, void *buf, size_t len, size_t *got,
                           uint64_t deadline) {
  size_t done = 0;
  ssize_t n = 0;

  if (got != NULL)
    *got = 0;
  if (c == NULL || (buf == NULL && len > 0) || !corio__in_task())
    return UV_EINVAL; /* also for len == 0, as corio_read */
  while (done < len) {
    n = corio_read_dl(c, (char *)buf + done, len - done, deadline);
    if (n <= 0)
      break;
    done += (size_t)n;
  }
  if (got != NULL)
    *got = done;
  if (done == len)
    return (ssize_t)len;
  return n; /* < 0: corio_read_dl returns > 0 or an error for len > 0 */
}


ssize_t corio_read_full(corio_tcp_t *c, void *buf, size_t len, size_t *got) {
  return corio_read_full_dl(c, buf, len, got, UINT64_MAX);
}


/* --- writing ------------------------------------------------------------- */

typedef struct write_job {
  uv_write_t req;
  corio_tcp_t *c;
  uv_buf_t *bufs;
  unsigned nbufs;
} write_job_t;


static void write_cb(uv_write_t *req, int status) {
  corio_await_done(req->data, status);
}


/* The write gave up with bytes queued in libuv: end the stream so that
 * the queued write fails now instead of whenever the peer reads. */
static void write_give_up(void *arg) {
  write_job_t *j = arg;

  if (!uv_is_closing((uv_handle_t *)j->c->h))
    shutdown(j->c->fd, SHUT_WR);
}


static int write_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  write_job_t *j = arg;

  (void)loop;
  if (uv_is_closing((uv_handle_t *)j->c->h))
    return UV_ECANCELED;
  j->req.data = aw;
  corio__await_on_give_up(aw, write_give_up, j);
  return uv_write(&j->req, (uv_stream_t *)j->c->h, j->bufs, j->nbufs, write_cb);
}


/* Whatever of bufs a non-blocking send takes: the byte count, or a libuv
 * error (UV_EAGAIN when it took nothing). */
static ssize_t send_now(int fd, const uv_buf_t *bufs, unsigned nbufs, int not_socket) {
  struct msghdr msg;
  ssize_t n;

  memset(&msg, 0, sizeof msg);
  /* uv_buf_t is laid out as struct iovec on Unix (uv.h says so) */
  msg.msg_iov = (struct iovec *)(uintptr_t)bufs;
  msg.msg_iovlen = nbufs;
  do
    /* a pipe: writev (libuv made it non-blocking; corio's threads block
     * SIGPIPE, which sendmsg's MSG_NOSIGNAL spares a socket) */
    n = not_socket ? writev(fd, msg.msg_iov, (int)nbufs)
                   : sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return errno == EWOULDBLOCK ? UV_EAGAIN : -errno;
  return n;
}


static void post_close_locked(corio_tcp_t *c, int *post);


ssize_t corio_writev_dl(corio_tcp_t *c, const uv_buf_t *bufs, unsigned nbufs,
                        uint64_t deadline) {
  uv_buf_t local[WRITE_LOCAL_BUFS], *rest = local;
  write_job_t job;
  size_t total = 0, sent;
  ssize_t n;
  unsigned i, first;
  int err, post = 0;

  if (c == NULL || (bufs == NULL && nbufs > 0) || nbufs > CORIO_TCP_WRITEV_MAX ||
      !corio__in_task())
    return UV_EINVAL;
  for (i = 0; i < nbufs; i++)
    total += bufs[i].len;
  corio__spin_lock(&c->lock);
  if (c->closing) {
    corio__spin_unlock(&c->lock);
    return UV_ECANCELED;
  }
  c->users++;
  corio__spin_unlock(&c->lock);

  if ((err = corio_mutex_lock_dl(&c->wmu, deadline)) != 0)
    goto leave;
  corio__spin_lock(&c->lock);
  err = c->write_err != 0 ? c->write_err : c->closing ? UV_ECANCELED : 0;
  if (err == 0 && total > 0)
    c->sending = 1; /* cleared below, after the send */
  corio__spin_unlock(&c->lock);
  if (err != 0 || total == 0)
    goto unlock;

  /* Syscall first: a small write costs no hop. */
  n = send_now(c->fd, bufs, nbufs, c->not_socket);
  corio__spin_lock(&c->lock);
  c->sending = 0;
  post_close_locked(c, &post); /* a close that came during the send */
  if (n < 0 && n != UV_EAGAIN)
    c->write_err = err = (int)n;
  corio__spin_unlock(&c->lock);
  if (post)
    corio__loop_post(c->lp, &c->close_req);
  if (err != 0 || (size_t)n == total)
    goto unlock;

  /* The kernel's buffer is full: the rest goes through the loop. */
  sent = n > 0 ? (size_t)n : 0;
  for (first = 0; sent >= bufs[first].len; first++)
    sent -= bufs[first].len;
  if (nbufs - first > WRITE_LOCAL_BUFS &&
      (rest = malloc((nbufs - first) * sizeof *rest)) == NULL) {
    err = UV_ENOMEM;
    goto unlock;
  }
  for (i = first; i < nbufs; i++)
    rest[i - first] = bufs[i];
  rest[0].base += sent;
  rest[0].len -= sent;
  job.c = c;
  job.bufs = rest;
  job.nbufs = nbufs - first;
  {
    intptr_t status = 0;
    corio__wait_hint(CORIO__WK_TCP_WRITE, c, 0);
    err = corio__await_loop_dl(c->lp, write_start, &job, &status, deadline);
    if (err == 0)
      err = (int)status;
  }
  if (rest != local)
    free(rest);
  if (err != 0) {
    corio__spin_lock(&c->lock);
    if (c->write_err == 0)
      c->write_err = err == UV_ETIMEDOUT || err == UV_ECANCELED ? UV_EPIPE : err;
    corio__spin_unlock(&c->lock);
  }
unlock:
  corio_mutex_unlock(&c->wmu);
leave:
  corio__spin_lock(&c->lock);
  leave_locked_and_unlock(c);
  return err != 0 ? err : (ssize_t)total;
}


ssize_t corio_writev(corio_tcp_t *c, const uv_buf_t *bufs, unsigned nbufs) {
  return corio_writev_dl(c, bufs, nbufs, UINT64_MAX);
}


ssize_t corio_write_dl(corio_tcp_t *c, const void *buf, size_t len,
                       uint64_t deadline) {
  uv_buf_t b = uv_buf_init((char *)(uintptr_t)buf, (unsigned)len);

  if (buf == NULL && len > 0)
    return UV_EINVAL;
  if (len > UINT32_MAX) /* uv_buf_t lengths are size_t, uv_buf_init's not */
    b.len = len;
  return corio_writev_dl(c, &b, 1, deadline);
}


ssize_t corio_write(corio_tcp_t *c, const void *buf, size_t len) {
  return corio_write_dl(c, buf, len, UINT64_MAX);
}


int corio_shutdown_dl(corio_tcp_t *c, uint64_t deadline) {
  int err, post = 0;

  if (c == NULL || !corio__in_task())
    return UV_EINVAL;
  corio__spin_lock(&c->lock);
  if (c->closing) {
    corio__spin_unlock(&c->lock);
    return UV_ECANCELED;
  }
  c->users++;
  corio__spin_unlock(&c->lock);
  /* After the writes before it: they finish before releasing wmu. */
  if ((err = corio_mutex_lock_dl(&c->wmu, deadline)) != 0)
    goto leave;
  corio__spin_lock(&c->lock);
  if (c->closing) { /* closed while we waited: the fd may be gone */
    corio__spin_unlock(&c->lock);
    err = UV_ECANCELED;
    goto unlock;
  }
  c->sending = 1;
  corio__spin_unlock(&c->lock);
  err = shutdown(c->fd, SHUT_WR) == 0 ? 0 : -errno;
  corio__spin_lock(&c->lock);
  c->sending = 0;
  if (err == 0 && c->write_err == 0)
    c->write_err = UV_EPIPE;
  post_close_locked(c, &post); /* a close that came during the call */
  corio__spin_unlock(&c->lock);
  if (post)
    corio__loop_post(c->lp, &c->close_req);
unlock:
  corio_mutex_unlock(&c->wmu);
leave:
  corio__spin_lock(&c->lock);
  leave_locked_and_unlock(c);
  return err;
}


int corio_shutdown(corio_tcp_t *c) {
  return corio_shutdown_dl(c, UINT64_MAX);
}


/* --- closing ------------------------------------------------------------- */

/* If the record is closing and nothing holds the descriptor, the close
 * request is due: *post = 1 (once). Locked. */
static void post_close_locked(corio_tcp_t *c, int *post) {
  if (c->closing && !c->sending && !c->close_queued) {
    c->close_queued = 1;
    *post = 1;
  }
}


static void close_cb(uv_handle_t *h) {
  corio_tcp_t *c = h->data;
  corio_task_t *t;
  int free_now;

  corio__spin_lock(&c->lock);
  c->handle_closed = 1;
  if ((t = c->closer) != NULL) { /* parked in corio_close */
    c->closer = NULL;
    corio__ready(t);
  }
  free_now = c->users == 0;
  corio__spin_unlock(&c->lock);
  if (free_now)
    conn_free(c);
}


static void close_handle(corio_tcp_t *c) {
  unlist(c);
  corio__spin_lock(&c->lock);
  c->read_on = 0;
  corio__spin_unlock(&c->lock);
  uv_close((uv_handle_t *)c->h, close_cb); /* cancels queued writes */
}


static void close_run(corio__req_t *req) {
  close_handle(corio__container_of(req, corio_tcp_t, close_req));
}


/* The runtime stops: its tasks never run again, so nothing waits for
 * them; the record goes with the handle. */
static void force_close(corio__loop_closer_t *node) {
  corio_tcp_t *c = corio__container_of(node, corio_tcp_t, node);

  corio__spin_lock(&c->lock);
  c->closing = 1;
  c->close_queued = 1;
  c->users = 0;
  c->closer = NULL;
  c->cutter = NULL;
  c->reader = NULL;
  corio__spin_unlock(&c->lock);
  close_handle(c);
}


void corio__tcp_discard(corio_tcp_t *c) {
  c->closing = c->close_queued = 1;
  c->h->data = c;
  unlist(c);
  if (!uv_is_closing((uv_handle_t *)c->h))
    uv_close((uv_handle_t *)c->h, close_cb);
}


/* Start closing: wake a reader (UV_ECANCELED); post the close unless a
 * send holds the descriptor (then the sender posts it). Locked. */
static int begin_close_locked(corio_tcp_t *c) {
  corio__waiter_t *w;
  int post = 0;

  c->closing = 1;
  if ((w = c->reader) != NULL) {
    c->reader = NULL;
    corio__wake(w, UV_ECANCELED);
  }
  post_close_locked(c, &post);
  return post;
}


/* The park function of a task that waits with c->lock held (the closer,
 * the cutter): it is off its stack now, so whoever readies it may. */
static int unlock_parked(corio_task_t *self, void *arg) {
  corio_tcp_t *c = arg;

  (void)self;
  corio__spin_unlock(&c->lock);
  return 0;
}


/* An adopted handle's memory is the application's: wait for close_cb
 * before returning. A plain park, with no wake token, so neither a
 * deadline nor corio_cancel can end it (the close comes soon): a cancel
 * stays pending for the task's next wait. users keeps c alive until we
 * are back. Locked on entry; unlocked on return. */
static void wait_closed_locked(corio_tcp_t *c, int post) {
  corio_task_t *self = corio_self();

  c->users++;
  corio__spin_unlock(&c->lock);
  if (post)
    corio__loop_post(c->lp, &c->close_req);
  corio__spin_lock(&c->lock);
  while (!c->handle_closed) {
    c->closer = self; /* close_cb readies us; it needs the lock first */
    corio__park(unlock_parked, c);
    corio__spin_lock(&c->lock);
  }
  leave_locked_and_unlock(c);
}


int corio_close(corio_tcp_t *c) {
  int post;

  if (c == NULL)
    return UV_EINVAL;
  corio__spin_lock(&c->lock);
  if (c->closing) {
    corio__spin_unlock(&c->lock);
    return UV_EINVAL; /* closed twice */
  }
  post = begin_close_locked(c);
  if (c->adopted && corio__in_task()) {
    wait_closed_locked(c, post);
    return 0;
  }
  corio__spin_unlock(&c->lock);
  if (post)
    corio__loop_post(c->lp, &c->close_req);
  return 0;
}


/* The serve task's end: close unless the handler did, then let go. */
void corio__tcp_serve_end(corio_tcp_t *c) {
  int post = 0;

  corio__spin_lock(&c->lock);
  if (!c->closing)
    post = begin_close_locked(c);
  if (post) {
    corio__spin_unlock(&c->lock);
    corio__loop_post(c->lp, &c->close_req);
    corio__spin_lock(&c->lock);
  }
  leave_locked_and_unlock(c);
}


/* --- options ------------------------------------------------------------- */

int corio_tcp_nodelay(corio_tcp_t *c, int enable) {
  int on = enable != 0;

  if (c == NULL)
    return UV_EINVAL;
  return setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0 ? 0 : -errno;
}


int corio_tcp_keepalive(corio_tcp_t *c, int enable, unsigned delay_s) {
  int on = enable != 0, delay = (int)delay_s;

  if (c == NULL || (enable && delay_s == 0))
    return UV_EINVAL;
  if (setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0)
    return -errno;
  if (on && setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &delay, sizeof delay) != 0)
    return -errno;
  return 0;
}


static int sockname(corio_tcp_t *c, struct sockaddr *addr, int *len,
                    int (*get)(int, struct sockaddr *, socklen_t *)) {
  socklen_t n;

  if (c == NULL || addr == NULL || len == NULL || *len < 0)
    return UV_EINVAL;
  n = (socklen_t)*len;
  if (get(c->fd, addr, &n) != 0)
    return -errno;
  *len = (int)n;
  return 0;
}


int corio_tcp_peer(corio_tcp_t *c, struct sockaddr *addr, int *len) {
  return sockname(c, addr, len, getpeername);
}


int corio_tcp_local(corio_tcp_t *c, struct sockaddr *addr, int *len) {
  return sockname(c, addr, len, getsockname);
}


int corio__tcp_quiet(corio_tcp_t *c) {
  int quiet;

  corio__spin_lock(&c->lock);
  quiet = c->rpos == c->wpos && c->read_err == 0 && !c->closing && !c->handle_closed;
  corio__spin_unlock(&c->lock);
  return quiet;
}


uv_tcp_t *corio_tcp_handle(corio_tcp_t *c) {
  return c != NULL && c->h->type == UV_TCP ? (uv_tcp_t *)c->h : NULL;
}


/* --- for in-place parsers (tcp.h) --------------------------------------- */

/* Wait out the loop's alloc_cb..read_cb window (one read system call on
 * the loop thread, which may take long if that thread is preempted)
 * before moving bytes. The task parks and read_cb readies it; a plain
 * park, not cancellable, since the read ends by itself. The loop may
 * start its next read before we run: then we park again, which happens
 * only while bytes keep arriving, and the buffer bounds those. Locked on
 * return. */
static void lock_not_filling(corio_tcp_t *c) {
  corio_task_t *self = corio_self();

  corio__spin_lock(&c->lock);
  while (c->filling) {
    c->cutter = self;
    if (corio__park(unlock_parked, c) != 0) {
      /* Not a task (tcp.h says the reader must be one), so nothing can
       * park: yield the CPU to the loop thread. Bounded: between alloc_cb
       * and read_cb the loop makes one non-blocking read(2) and takes no
       * lock (it takes c->lock again in read_cb, and we hold none). */
      c->cutter = NULL;
      corio__spin_unlock(&c->lock);
      sched_yield();
    }
    corio__spin_lock(&c->lock);
  }
}


void corio__tcp_cut(corio_tcp_t *c, size_t off, size_t n) {
  size_t at;

  if (n == 0 && off > 0)
    return;
  lock_not_filling(c);
  if (c->rbuf == NULL) {
    corio__spin_unlock(&c->lock);
    return;
  }
  at = c->rpos + off;
  if (off == 0) {
    c->rpos += n; /* drop the front, then start at 0 */
    at = c->rpos;
    memmove(c->rbuf, c->rbuf + at, c->wpos - at);
    c->wpos -= at;
    c->rpos = 0;
  } else if (n > 0) {
    memmove(c->rbuf + at, c->rbuf + at + n, c->wpos - at - n);
    c->wpos -= n;
  }
  corio__spin_unlock(&c->lock);
}


/* --- for corio_rt_dump ------------------------------------------------------ */

/* "peer ADDRESS:PORT" of a connection, or nothing if it has none. */
static void describe_conn(const void *obj, char *buf, size_t len) {
  struct sockaddr_storage ss;
  int n = sizeof ss;
  char ip[64] = "";

  if (corio_tcp_peer((corio_tcp_t *)(uintptr_t)obj, (struct sockaddr *)&ss, &n) != 0)
    return;
  uv_ip_name((struct sockaddr *)&ss, ip, sizeof ip);
  snprintf(buf, len, ss.ss_family == AF_INET6 ? "(peer [%s]:%d)" : "(peer %s:%d)", ip,
           ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port));
}


/* The name of a served connection's task: "conn ADDRESS:PORT". */
static void describe_serve_task(corio_task_t *t, char *buf, size_t len) {
  char peer[96] = "";

  describe_conn(t->describe_arg, peer, sizeof peer);
  /* "(peer X)" -> "conn X" */
  if (strlen(peer) > 7) {
    peer[strlen(peer) - 1] = '\0';
    snprintf(buf, len, "conn %s", peer + 6);
  }
}


void corio__tcp_name_task(corio_tcp_t *c) {
  corio_task_t *t = corio_self();

  if (t != NULL) {
    t->describe_arg = c;
    t->describe = describe_serve_task;
  }
}


__attribute__((constructor)) static void register_describers(void) {
  corio__dump_describer(CORIO__WK_TCP_READ, describe_conn);
  corio__dump_describer(CORIO__WK_TCP_WRITE, describe_conn);
}


/* --- buffered reading -------------------------------------------------------- */

/* Fill until cond(buffered bytes) says done, from the one reading task:
 * the count buffered, or UV_EOF / an error. UV_ENOBUFS when the buffer is
 * full and cond still wants more. */
typedef ssize_t (*enough_fn)(const char *p, size_t n, const void *arg);

static ssize_t fill_until(corio_tcp_t *c, enough_fn enough, const void *arg,
                          uint64_t deadline, char **p) {
  size_t have = corio__tcp_peek(c, p);
  ssize_t r, n;

  for (;;) {
    if ((r = enough(*p, have, arg)) != 0)
      return r;
    n = corio__tcp_fill_dl(c, have, corio__deadline_ns(deadline));
    if (n < 0)
      return n;
    have = corio__tcp_peek(c, p);
  }
}


typedef struct until_arg {
  int delim;
  size_t cap;
} until_arg_t;

/* The length up to and including delim, or 0 for "more", or UV_ENOBUFS. */
static ssize_t until_enough(const char *p, size_t n, const void *arg) {
  const until_arg_t *u = arg;
  size_t look = n < u->cap ? n : u->cap;
  const char *d = memchr(p, u->delim, look);

  if (d != NULL)
    return d - p + 1;
  if (n >= u->cap || n >= CORIO_TCP_BUFFER)
    return UV_ENOBUFS;
  return 0;
}


ssize_t corio_read_until_dl(corio_tcp_t *c, int delim, char *buf, size_t cap,
                            uint64_t deadline) {
  until_arg_t u = {delim, cap};
  ssize_t n;
  char *p;

  if (c == NULL || buf == NULL || cap == 0 || !corio__in_task())
    return UV_EINVAL;
  if ((n = corio__tcp_read_begin(c)) != 0)
    return n;
  n = fill_until(c, until_enough, &u, deadline, &p);
  if (n > 0) {
    memcpy(buf, p, (size_t)n);
    corio__tcp_consume(c, (size_t)n);
  }
  corio__tcp_read_end(c);
  return n;
}


ssize_t corio_read_until(corio_tcp_t *c, int delim, char *buf, size_t cap) {
  return corio_read_until_dl(c, delim, buf, cap, UINT64_MAX);
}


ssize_t corio_read_line_dl(corio_tcp_t *c, char *buf, size_t cap, uint64_t deadline) {
  ssize_t n;

  if (buf == NULL || cap < 2)
    return UV_EINVAL;
  /* room for the LF; the NUL takes its place */
  if ((n = corio_read_until_dl(c, '\n', buf, cap, deadline)) <= 0)
    return n;
  n--;
  if (n > 0 && buf[n - 1] == '\r')
    n--;
  buf[n] = '\0';
  return n;
}


ssize_t corio_read_line(corio_tcp_t *c, char *buf, size_t cap) {
  return corio_read_line_dl(c, buf, cap, UINT64_MAX);
}


static ssize_t peek_enough(const char *p, size_t n, const void *arg) {
  (void)p;
  return n >= *(const size_t *)arg ? (ssize_t)n : 0;
}


ssize_t corio_peek_dl(corio_tcp_t *c, size_t want, const char **out, uint64_t deadline) {
  ssize_t n;
  char *p;

  if (c == NULL || out == NULL || want > CORIO_TCP_BUFFER || !corio__in_task())
    return UV_EINVAL;
  if ((n = corio__tcp_read_begin(c)) != 0)
    return n;
  if (want == 0)
    want = 1;
  n = fill_until(c, peek_enough, &want, deadline, &p);
  if (n > 0)
    *out = p;
  corio__tcp_read_end(c);
  return n;
}


ssize_t corio_peek(corio_tcp_t *c, size_t want, const char **p) {
  return corio_peek_dl(c, want, p, UINT64_MAX);
}
