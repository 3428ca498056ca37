/* Child processes (corio/process.h): uv_spawn on the runtime's loop; the
 * exit callback records the status and wakes the waiters. The record is
 * freed by whichever lets go last, the caller (corio_process_free) or the
 * loop (once the child has exited and its handle closed): a child nobody
 * waits for is still reaped. corio_process_output reads the child's
 * stdout through a pipe on the loop, up to a limit. */
#include <pthread.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "io/await.h"
#include "core/spin.h"
#include "corio/net.h"
#include "corio/process.h"
#include "corio/uv.h"
#include "sched/sched.h"
#include "sched/wait.h"

struct corio_process_s {
  uv_process_t h;                /* loop thread */
  uv_pipe_t out;                 /* stdout, for corio_process_output */
  int capture, out_open;
  int child_end[3];              /* socketpair ends for CORIO_STDIO_PIPE, -1 */
  corio_tcp_t *stdio[3];         /* the parent's ends, as connections */
  char *buf;                     /* what stdout said, up to max */
  size_t len, cap, max;
  int too_big;
  char sink[4096];               /* output past the limit, dropped */
  corio_rt_t *rt;
  int pid;
  _Atomic(int) refs;             /* the caller, the process handle, the pipe */
  corio__spin_t lock;            /* below */
  int exited, eof;
  int64_t status;
  int term_signal;
  corio__wlist_t waiters;
};


static void release(corio_process_t *p) {
  if (atomic_fetch_sub(&p->refs, 1) == 1) {
    free(p->buf);
    free(p);
  }
}


static void wake_all_locked(corio_process_t *p) {
  corio__wake_all(&p->waiters);
}


static void handle_closed(uv_handle_t *h) {
  release(h->data);
}


static void out_closed(uv_handle_t *h) {
  release(h->data);
}


static void exit_cb(uv_process_t *h, int64_t status, int term_signal) {
  corio_process_t *p = h->data;

  corio__spin_lock(&p->lock);
  p->exited = 1;
  p->status = status;
  p->term_signal = term_signal;
  wake_all_locked(p);
  corio__spin_unlock(&p->lock);
  uv_close((uv_handle_t *)h, handle_closed);
}


static void out_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  corio_process_t *p = h->data;

  (void)suggested;
  if (p->len == p->cap && p->cap < p->max + 1) {
    size_t cap = p->cap == 0 ? 16384 : p->cap * 2;
    char *grown;
    if (cap > p->max + 1)
      cap = p->max + 1;
    if ((grown = realloc(p->buf, cap + 1)) != NULL) {
      p->buf = grown;
      p->cap = cap;
    }
  }
  if (p->len < p->cap)
    *buf = uv_buf_init(p->buf + p->len, (unsigned)(p->cap - p->len));
  else
    *buf = uv_buf_init(p->sink, sizeof p->sink); /* past the limit: drained, dropped */
}


static void out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  corio_process_t *p = s->data;

  if (n > 0) {
    if (buf->base >= p->buf && buf->base < p->buf + p->cap)
      p->len += (size_t)n;
    else
      p->too_big = 1;
    if (p->len > p->max) {
      p->len = p->max;
      p->too_big = 1;
    }
    return;
  }
  if (n < 0) { /* UV_EOF, or an error: the end of the output either way */
    uv_close((uv_handle_t *)s, out_closed);
    corio__spin_lock(&p->lock);
    p->eof = 1;
    wake_all_locked(p);
    corio__spin_unlock(&p->lock);
  }
}


typedef struct spawn_job {
  corio_process_t *p;
  const corio_process_options_t *o;
} spawn_job_t;


static int stdio_flags(int mode) {
  return mode == CORIO_STDIO_IGNORE ? UV_IGNORE : UV_INHERIT_FD;
}


static int spawn_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  spawn_job_t *j = arg;
  corio_process_t *p = j->p;
  uv_process_options_t uo;
  uv_stdio_container_t io[3];
  int err;

  {
    /* libuv learns of exits through SIGCHLD: the loop thread must take it
     * (a program may block it elsewhere; corio's workers do) */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  }
  memset(&uo, 0, sizeof uo);
  uo.exit_cb = exit_cb;
  uo.file = j->o->argv[0];
  uo.args = (char **)(uintptr_t)j->o->argv;
  uo.env = (char **)(uintptr_t)j->o->env;
  uo.cwd = j->o->cwd;
  for (int i = 0; i < 3; i++) {
    int mode = i == 0 ? j->o->stdin_mode : i == 1 ? j->o->stdout_mode : j->o->stderr_mode;
    io[i].flags = (uv_stdio_flags)stdio_flags(mode);
    io[i].data.fd = p->child_end[i] >= 0 ? p->child_end[i] : i;
  }
  if (p->capture) {
    uv_pipe_init(loop, &p->out, 0);
    p->out.data = p;
    p->out_open = 1;
    io[1].flags = (uv_stdio_flags)(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    io[1].data.stream = (uv_stream_t *)&p->out;
  }
  uo.stdio = io;
  uo.stdio_count = 3;
  p->h.data = p;
  err = uv_spawn(loop, &p->h, &uo);
  if (err != 0) {
    /* libuv made the handle all the same: close it; nothing to reap */
    uv_close((uv_handle_t *)&p->h, handle_closed);
    if (p->capture)
      uv_close((uv_handle_t *)&p->out, out_closed);
  } else {
    p->pid = p->h.pid;
    if (p->capture)
      uv_read_start((uv_stream_t *)&p->out, out_alloc, out_read);
  }
  corio_await_done(aw, err);
  return 0;
}


static int spawn_with(corio_rt_t *rt, const corio_process_options_t *o, size_t capture_max,
                      corio_process_t **out) {
  corio_process_t *p;
  spawn_job_t job;
  intptr_t status = 0;
  int err;

  if (out == NULL)
    return UV_EINVAL;
  *out = NULL;
  if (rt == NULL || o == NULL || o->argv == NULL || o->argv[0] == NULL)
    return UV_EINVAL;
  if ((p = calloc(1, sizeof *p)) == NULL)
    return UV_ENOMEM;
  p->rt = rt;
  p->capture = capture_max > 0;
  p->max = capture_max;
  atomic_init(&p->refs, p->capture ? 3 : 2);
  atomic_init(&p->lock, 0);
  corio__list_init(&p->waiters.head);
  p->eof = !p->capture;
  for (int i = 0; i < 3; i++) {
    int mode = i == 0 ? o->stdin_mode : i == 1 ? o->stdout_mode : o->stderr_mode, sv[2];
    p->child_end[i] = -1;
    if (mode != CORIO_STDIO_PIPE)
      continue;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      err = -errno;
      goto undo;
    }
    p->child_end[i] = sv[1]; /* dup2'ed into the child's slot i */
    if ((err = corio_pipe_open(sv[0], &p->stdio[i])) != 0) {
      close(sv[0]);
      goto undo;
    }
  }
  job.p = p;
  job.o = o;
  corio__wait_hint(CORIO__WK_AWAIT, p, 0);
  err = corio_await(rt, spawn_start, &job, &status);
  for (int i = 0; i < 3; i++)
    if (p->child_end[i] >= 0)
      close(p->child_end[i]); /* the child has its copy */
  if (err != 0) {
    for (int i = 0; i < 3; i++)
      if (p->stdio[i] != NULL)
        corio_close(p->stdio[i]);
    free(p); /* cancelled before the loop saw it */
    return err;
  }
  if (status != 0) {
    for (int i = 0; i < 3; i++)
      if (p->stdio[i] != NULL)
        corio_close(p->stdio[i]);
    release(p); /* the loop's reference goes with the handle's close */
    return (int)status;
  }
  *out = p;
  return 0;

undo:
  for (int i = 0; i < 3; i++) {
    if (p->child_end[i] >= 0)
      close(p->child_end[i]);
    if (p->stdio[i] != NULL)
      corio_close(p->stdio[i]);
  }
  free(p);
  return err;
}


corio_tcp_t *corio_process_stdio(corio_process_t *p, int i) {
  return p != NULL && i >= 0 && i < 3 ? p->stdio[i] : NULL;
}


int corio_process_spawn(corio_rt_t *rt, const corio_process_options_t *o,
                        corio_process_t **out) {
  return spawn_with(rt, o, 0, out);
}


int corio_process_pid(corio_process_t *p) {
  return p != NULL ? p->pid : UV_EINVAL;
}


int corio_process_kill(corio_process_t *p, int signum) {
  int exited;

  if (p == NULL)
    return UV_EINVAL;
  corio__spin_lock(&p->lock);
  exited = p->exited;
  corio__spin_unlock(&p->lock);
  /* reaped only after exit_cb: until then the pid is still the child's */
  return exited ? UV_ESRCH : uv_kill(p->pid, signum);
}


int corio_process_wait_dl(corio_process_t *p, int64_t *status, int *term_signal,
                          uint64_t deadline) {
  int err;

  if (p == NULL)
    return UV_EINVAL;
  corio__spin_lock(&p->lock);
  while (!p->exited || !p->eof)
    if ((err = corio__wait_on_list(&p->waiters, &p->lock, CORIO__WK_AWAIT, p, 0, deadline)) != 0)
      return err;
  if (status != NULL)
    *status = p->status;
  if (term_signal != NULL)
    *term_signal = p->term_signal;
  corio__spin_unlock(&p->lock);
  return 0;
}


int corio_process_wait(corio_process_t *p, int64_t *status, int *term_signal) {
  return corio_process_wait_dl(p, status, term_signal, UINT64_MAX);
}


int corio_process_free(corio_process_t *p) {
  int busy;

  if (p == NULL)
    return UV_EINVAL;
  corio__spin_lock(&p->lock);
  busy = !corio__wlist_empty(&p->waiters);
  corio__spin_unlock(&p->lock);
  if (busy)
    return UV_EBUSY;
  release(p); /* a child still running is reaped by the loop when it exits */
  return 0;
}


int corio_process_output(corio_rt_t *rt, const char *const *argv, char **out, size_t *len,
                         size_t max, int64_t *status, int *term_signal, uint64_t deadline) {
  corio_process_options_t o = {.argv = argv};
  corio_process_t *p;
  int err;

  if (out == NULL || len == NULL || max == 0)
    return UV_EINVAL;
  *out = NULL;
  *len = 0;
  if ((err = spawn_with(rt, &o, max, &p)) != 0)
    return err;
  if ((err = corio_process_wait_dl(p, status, term_signal, deadline)) != 0) {
    /* past the deadline, or cancelled: the child goes */
    corio_process_kill(p, SIGKILL);
    corio_process_wait(p, NULL, NULL);
    corio_process_free(p);
    return err;
  }
  if (p->too_big) {
    corio_process_free(p);
    return UV_E2BIG;
  }
  if (p->buf == NULL && (p->buf = malloc(1)) == NULL) {
    corio_process_free(p);
    return UV_ENOMEM;
  }
  p->buf[p->len] = '\0';
  *out = p->buf;
  *len = p->len;
  p->buf = NULL;
  corio_process_free(p);
  return 0;
}
