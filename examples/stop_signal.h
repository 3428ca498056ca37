/* For the example servers: a task that waits for SIGINT or SIGTERM
 * (corio/signal.h), so that a server stops cleanly: listener closed,
 * runtime freed, nothing leaked.
 *
 * main calls stop_signal_block() before corio_rt_new: the two signals are
 * then blocked on every thread, corio's included, until the watcher
 * unblocks them on the loop thread, where they are always handled, at
 * once. Otherwise the kernel may pick a thread parked in a raw futex wait
 * (main in corio_tcp_serve), and ThreadSanitizer holds a signal back until
 * its thread next enters an intercepted function, which a parked thread
 * never does: the server would not stop. A signal that comes before the
 * watcher is open stays pending until it is. */
#ifndef EXAMPLES_STOP_SIGNAL_H
#define EXAMPLES_STOP_SIGNAL_H

#include <corio.h>
#include <pthread.h>
#include <signal.h>

/* In main, before corio_rt_new (threads inherit the mask). */
static void stop_signal_block(void) {
  sigset_t set;

  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Suspend the calling task until SIGINT or SIGTERM; returns the signal,
 * or a negative libuv error. */
static int wait_for_stop_signal(void) {
  int stop[] = {SIGINT, SIGTERM}, signum;
  corio_signal_t *sig;

  if ((signum = corio_signal_open(corio_current_rt(), stop, 2, &sig)) != 0)
    return signum;
  signum = corio_signal_wait(sig);
  corio_signal_close(sig);
  return signum;
}

#endif
