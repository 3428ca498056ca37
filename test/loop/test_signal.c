/* corio/signal.h: signals waited for from tasks, counted while nobody
 * waits, seen by every watcher, with deadlines and cancellation. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "corio.h"

static void *two_watchers(void *arg) {
  int sigs[] = {SIGUSR2, SIGHUP};
  corio_signal_t *a, *b;

  (void)arg;
  cr_assert_eq(corio_signal_open(corio_current_rt(), sigs, 2, &a), 0);
  cr_assert_eq(corio_signal_open(corio_current_rt(), sigs, 1, &b), 0);
  /* nothing came yet */
  cr_assert_eq(corio_signal_wait_dl(a, corio_now() + 20), UV_ETIMEDOUT);
  /* one signal, while nobody waits: counted, for each watcher */
  kill(getpid(), SIGUSR2);
  corio_sleep(50);
  cr_assert_eq(corio_signal_wait_dl(a, corio_now() + 5000), SIGUSR2);
  cr_assert_eq(corio_signal_wait_dl(b, corio_now() + 5000), SIGUSR2);
  cr_assert_eq(corio_signal_wait_dl(a, corio_now() + 20), UV_ETIMEDOUT, "taken once");
  /* another, of the other kind, while a task waits */
  kill(getpid(), SIGHUP);
  cr_assert_eq(corio_signal_wait_dl(a, corio_now() + 5000), SIGHUP);
  cr_assert_eq(corio_signal_close(a), 0);
  cr_assert_eq(corio_signal_close(b), 0);
  return NULL;
}

/* The pattern corio/signal.h documents: the test's signals blocked on
 * this thread (and so on the threads the runtime starts), open on the
 * loop thread only once a watcher is there. (Sent to a thread parked in a
 * raw futex wait, under ThreadSanitizer a signal waits until that thread
 * next enters an intercepted call: it would never come.) */
static void block_test_signals(void) {
  sigset_t set;

  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void quiet_handler(int sig) {
  (void)sig;
}

static void keep_alive_after_close(void) {
  /* once the last watcher closes, libuv puts back the default action,
   * which ends the process for these: a handler of our own instead */
  signal(SIGUSR2, quiet_handler);
  signal(SIGHUP, quiet_handler);
}

Test(signal, watchers_count_signals_and_each_sees_them, .timeout = 60) {
  block_test_signals();
  cr_assert_eq(corio_main(two_watchers, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
  keep_alive_after_close();
  cr_assert_eq(corio_main(two_watchers, NULL, &(corio_rt_options_t){.loop_only = 1}, NULL), 0);
  keep_alive_after_close();
}

static corio_signal_t *shared;
static _Atomic(int) waiting;

static void *waits(void *arg) {
  (void)arg;
  atomic_fetch_add(&waiting, 1);
  return (void *)(intptr_t)corio_signal_wait(shared);
}

static void *cancel_and_busy(void *arg) {
  int sigs[] = {SIGUSR2};
  corio_task_t *t;
  void *r;

  (void)arg;
  cr_assert_eq(corio_signal_open(corio_current_rt(), sigs, 1, &shared), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), waits, NULL, &t), 0);
  while (atomic_load(&waiting) == 0)
    corio_sleep(1);
  corio_sleep(10);
  cr_assert_eq(corio_signal_close(shared), UV_EBUSY, "a task waits on it");
  cr_assert_eq(corio_cancel(t), 0);
  cr_assert_eq(corio_join(t, &r), 0);
  cr_assert_eq((int)(intptr_t)r, UV_ECANCELED);
  cr_assert_eq(corio_signal_close(shared), 0);
  return NULL;
}

Test(signal, a_wait_is_cancelled_and_close_refuses_while_waited_on, .timeout = 60) {
  block_test_signals();
  cr_assert_eq(corio_main(cancel_and_busy, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
  keep_alive_after_close();
}

Test(signal, bad_arguments_are_einval) {
  corio_rt_t *rt;
  corio_signal_t *s;
  int bad[] = {SIGKILL}, zero[] = {0}, ok[] = {SIGUSR2};

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &rt), 0);
  cr_assert_eq(corio_signal_open(rt, bad, 1, &s), UV_EINVAL);
  cr_assert_null(s);
  cr_assert_eq(corio_signal_open(rt, zero, 1, &s), UV_EINVAL);
  cr_assert_eq(corio_signal_open(rt, ok, 0, &s), UV_EINVAL);
  cr_assert_eq(corio_signal_open(NULL, ok, 1, &s), UV_EINVAL);
  cr_assert_eq(corio_signal_wait(NULL), UV_EINVAL);
  cr_assert_eq(corio_signal_close(NULL), UV_EINVAL);
  /* from a plain thread: open and close work; a wait that must wait not */
  cr_assert_eq(corio_signal_open(rt, ok, 1, &s), 0);
  cr_assert_eq(corio_signal_wait(s), UV_EINVAL);
  cr_assert_eq(corio_signal_close(s), 0);
  keep_alive_after_close();
  cr_assert_eq(corio_rt_free(rt), 0);
}
