/* For the example servers: a task that waits for SIGINT or SIGTERM
 * through the loop (uv_signal_t, awaited with corio_await), so that a
 * server stops cleanly: listener closed, runtime freed, nothing leaked.
 *
 * main calls stop_signal_block() before corio_rt_new: the two signals are
 * then blocked on every thread but the loop thread, which unblocks them
 * once its handler is in place, so they are always handled there, at
 * once. Otherwise the kernel may pick a thread parked in a raw futex wait
 * (main in corio_tcp_serve, an idle worker), and ThreadSanitizer holds a
 * signal back until its thread next enters an intercepted function, which
 * a parked thread never does: the server would not stop. A signal that
 * comes before the handler is ready stays pending until it is. */
#ifndef EXAMPLES_STOP_SIGNAL_H
#define EXAMPLES_STOP_SIGNAL_H

#include <corio.h>
#include <pthread.h>
#include <signal.h>

static void stop_signal_mask(int how) {
  sigset_t set;

  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(how, &set, NULL);
}

/* In main, before corio_rt_new (threads inherit the mask). */
static void stop_signal_block(void) {
  stop_signal_mask(SIG_BLOCK);
}

typedef struct stop_signal {
  uv_signal_t sigint, sigterm;
  corio_await_t *aw;
  int signum;
} stop_signal_t;

static void stop_signal_cb(uv_signal_t *s, int signum) {
  stop_signal_t *st = s->data;

  if (st->aw != NULL) {
    st->signum = signum;
    corio_await_done(st->aw, signum);
    st->aw = NULL;
  }
}

static int stop_signal_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  stop_signal_t *st = arg;

  st->aw = aw;
  uv_signal_init(loop, &st->sigint);
  uv_signal_init(loop, &st->sigterm);
  st->sigint.data = st->sigterm.data = st;
  uv_signal_start(&st->sigint, stop_signal_cb, SIGINT);
  uv_signal_start(&st->sigterm, stop_signal_cb, SIGTERM);
  stop_signal_mask(SIG_UNBLOCK); /* on the loop thread, see above */
  return 0;
}

static void stop_signal_closed(uv_handle_t *h) {
  stop_signal_t *st = h->data;

  if (h == (uv_handle_t *)&st->sigterm)
    corio_await_done(st->aw, 0);
}

static int stop_signal_close(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  stop_signal_t *st = arg;

  (void)loop;
  st->aw = aw;
  uv_close((uv_handle_t *)&st->sigint, NULL);
  uv_close((uv_handle_t *)&st->sigterm, stop_signal_closed);
  return 0;
}

/* Suspend the calling task until SIGINT or SIGTERM; returns the signal. */
static int wait_for_stop_signal(void) {
  stop_signal_t st = {0};
  intptr_t signum = 0;

  corio_await(corio_current_rt(), stop_signal_start, &st, &signum);
  corio_await(corio_current_rt(), stop_signal_close, &st, NULL);
  return (int)signum;
}

#endif
