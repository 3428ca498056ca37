/* Signal watchers (corio/signal.h): uv_signal_t handles on the runtime's
 * loop count each signal into the watcher; waiting tasks take the counts
 * under the watcher's lock. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <uv.h>

#include "await.h"
#include "core/spin.h"
#include "corio/signal.h"
#include "corio/uv.h"
#include "sched/sched.h"
#include "sched/wait.h"

struct corio_signal_s {
  corio_rt_t *rt;
  size_t n;
  int signums[CORIO_SIGNAL_MAX];
  uv_signal_t h[CORIO_SIGNAL_MAX];  /* loop thread */
  corio__spin_t lock;               /* pending and waiters */
  uint64_t pending[CORIO_SIGNAL_MAX];
  corio__wlist_t waiters;
};


/* Loop thread: count it, wake one waiter. */
static void on_signal(uv_signal_t *h, int signum) {
  corio_signal_t *s = h->data;
  corio__waiter_t *w;

  corio__spin_lock(&s->lock);
  for (size_t i = 0; i < s->n; i++)
    if (s->signums[i] == signum)
      s->pending[i]++;
  while ((w = corio__wlist_pop(&s->waiters)) != NULL && !corio__wake(w, 0)) {
  }
  corio__spin_unlock(&s->lock);
}


static int open_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  corio_signal_t *s = arg;
  sigset_t set;
  int err = 0;

  sigemptyset(&set);
  for (size_t i = 0; i < s->n; i++) {
    uv_signal_init(loop, &s->h[i]);
    s->h[i].data = s;
    if (err == 0)
      err = uv_signal_start(&s->h[i], on_signal, s->signums[i]);
    sigaddset(&set, s->signums[i]);
  }
  /* The loop thread takes them (a program may block them elsewhere: one
   * pending since then comes now). */
  if (err == 0)
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  corio_await_done(aw, err);
  return 0;
}


static void close_handles(corio_signal_t *s) {
  uv_handle_t *hs[CORIO_SIGNAL_MAX];

  for (size_t i = 0; i < s->n; i++)
    hs[i] = (uv_handle_t *)&s->h[i];
  corio__close_handles(s->rt, hs, s->n);
}


int corio_signal_open(corio_rt_t *rt, const int *signums, size_t n, corio_signal_t **out) {
  corio_signal_t *s;
  intptr_t status = 0;
  int err;

  if (out == NULL)
    return UV_EINVAL;
  *out = NULL;
  if (rt == NULL || signums == NULL || n == 0 || n > CORIO_SIGNAL_MAX)
    return UV_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (signums[i] < 1 || signums[i] >= NSIG || signums[i] == SIGKILL || signums[i] == SIGSTOP)
      return UV_EINVAL;
  if ((s = calloc(1, sizeof *s)) == NULL)
    return UV_ENOMEM;
  s->rt = rt;
  s->n = n;
  for (size_t i = 0; i < n; i++)
    s->signums[i] = signums[i];
  atomic_init(&s->lock, 0);
  corio__list_init(&s->waiters.head);
  corio__wait_hint(CORIO__WK_SIGNAL, s, 0);
  err = corio_await(rt, open_start, s, &status);
  if (err != 0) { /* cancelled before the loop saw it: nothing started */
    free(s);
    return err;
  }
  if (status != 0) {
    close_handles(s);
    free(s);
    return (int)status;
  }
  *out = s;
  return 0;
}


int corio_signal_wait_dl(corio_signal_t *s, uint64_t deadline) {
  int err;

  if (s == NULL)
    return UV_EINVAL;
  corio__spin_lock(&s->lock);
  for (;;) {
    for (size_t i = 0; i < s->n; i++) {
      if (s->pending[i] > 0) {
        s->pending[i]--;
        corio__spin_unlock(&s->lock);
        return s->signums[i];
      }
    }
    if ((err = corio__wait_on_list(&s->waiters, &s->lock, CORIO__WK_SIGNAL, s, 0, deadline)) != 0)
      return err;
  }
}


int corio_signal_wait(corio_signal_t *s) {
  return corio_signal_wait_dl(s, UINT64_MAX);
}


int corio_signal_close(corio_signal_t *s) {
  int busy;

  if (s == NULL)
    return UV_EINVAL;
  corio__spin_lock(&s->lock);
  busy = !corio__wlist_empty(&s->waiters);
  corio__spin_unlock(&s->lock);
  if (busy)
    return UV_EBUSY;
  close_handles(s);
  free(s);
  return 0;
}
