/* corio_rt_shutdown: every task cancelled and unwound, or abandoned at the
 * deadline with its waits released; spawns during a shutdown start
 * cancelled; corio_rt_free says which task holds a worker that does not
 * stop. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corio.h"
#include "../support/capture.h"
#include "../support/sizes.h"

#define LONG_MS 60000

/* The application's objects, which outlive the runtime. */
static corio_chan_t *ch, *ch2;
static corio_mutex_t mu;
static corio_sem_t sem;
static corio_cond_t cond;
static corio_mutex_t cond_mu;
static _Atomic(int) unwound, started;

static void app_objects(void) {
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &ch), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &ch2), 0);
  memset(&mu, 0, sizeof mu);
  memset(&cond, 0, sizeof cond);
  memset(&cond_mu, 0, sizeof cond_mu);
  cr_assert_eq(corio_sem_init(&sem, 0), 0);
  cr_assert_eq(corio_mutex_lock(&mu), 0); /* held by this thread: lockers wait */
  atomic_store(&unwound, 0);
  atomic_store(&started, 0);
}

/* Every object is free of waiters: destroy and free succeed. */
static void app_objects_free(void) {
  cr_assert_eq(corio_chan_free(ch), 0, "a waiter is left on the channel");
  cr_assert_eq(corio_chan_free(ch2), 0);
  cr_assert_eq(corio_mutex_unlock(&mu), 0);
  cr_assert_eq(corio_mutex_destroy(&mu), 0, "a waiter is left on the mutex");
  cr_assert_eq(corio_sem_destroy(&sem), 0, "a waiter is left on the semaphore");
  cr_assert_eq(corio_cond_destroy(&cond), 0, "a waiter is left on the condition");
}

enum { ON_CHAN, ON_MUTEX, ON_SEM, ON_COND, ON_SELECT, ON_SLEEP, KINDS };

/* One wait of kind k: its result. */
static int wait_once(int k) {
  int v, err;

  switch (k) {
  case ON_CHAN:
    return corio_chan_recv(ch, &v);
  case ON_MUTEX:
    if ((err = corio_mutex_lock(&mu)) == 0)
      corio_mutex_unlock(&mu);
    return err;
  case ON_SEM:
    return corio_sem_acquire(&sem);
  case ON_COND:
    if ((err = corio_mutex_lock(&cond_mu)) != 0)
      return err;
    err = corio_cond_wait(&cond, &cond_mu);
    corio_mutex_unlock(&cond_mu);
    return err;
  case ON_SELECT: {
    corio_select_case_t cases[2] = {{.ch = ch, .op = CORIO_RECV, .elem = &v},
                                    {.ch = ch2, .op = CORIO_RECV, .elem = &v}};
    return corio_select(cases, 2);
  }
  default:
    return corio_sleep(LONG_MS);
  }
}

/* Unwinds at its cancel. */
static void *polite(void *arg) {
  atomic_fetch_add(&started, 1);
  if (wait_once((int)(intptr_t)arg) == UV_ECANCELED)
    atomic_fetch_add(&unwound, 1);
  return NULL;
}

/* Waits again whatever it is told: only abandoning ends it. */
static void *stubborn(void *arg) {
  atomic_fetch_add(&started, 1);
  for (;;)
    wait_once((int)(intptr_t)arg);
  return NULL;
}

static void start(corio_rt_t *rt, void *(*fn)(void *), int per_kind) {
  for (int k = 0; k < KINDS; k++)
    for (int i = 0; i < per_kind; i++)
      cr_assert_eq(corio_spawn(rt, fn, (void *)(intptr_t)k, NULL), 0);
  while (atomic_load(&started) < KINDS * per_kind)
    usleep(1000);
  usleep(20000); /* and into their waits */
}

static void polite_run(corio_rt_options_t o) {
  corio_rt_t *rt;

  app_objects();
  cr_assert_eq(corio_rt_new(&o, &rt), 0);
  start(rt, polite, 4);
  cr_assert_eq(corio_rt_shutdown(rt, corio_now() + 10000), 0);
  cr_assert_eq(atomic_load(&unwound), KINDS * 4, "every task unwound through its cancel");
  app_objects_free();
}

Test(shutdown, every_task_is_cancelled_and_unwinds, .timeout = 60) {
  polite_run((corio_rt_options_t){.workers = 2});
  polite_run((corio_rt_options_t){.loop_only = 1});
}

static void stubborn_run(corio_rt_options_t o) {
  corio_rt_t *rt;
  uint64_t t0;

  app_objects();
  cr_assert_eq(corio_rt_new(&o, &rt), 0);
  start(rt, stubborn, 3);
  t0 = corio_now();
  cr_assert_eq(corio_rt_shutdown(rt, t0 + 100), UV_ETIMEDOUT);
  cr_assert_geq(corio_now(), t0 + 100, "the tasks had until the deadline");
  app_objects_free(); /* their waits were released */
}

Test(shutdown, tasks_left_at_the_deadline_are_abandoned_and_their_waits_released, .timeout = 60) {
  stubborn_run((corio_rt_options_t){.workers = 2});
  stubborn_run((corio_rt_options_t){.loop_only = 1});
}

/* corio_rt_free alone releases the waits of the tasks it abandons. */
Test(shutdown, rt_free_releases_the_waits_it_abandons, .timeout = 60) {
  corio_rt_t *rt;

  app_objects();
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  start(rt, polite, 2);
  cr_assert_eq(corio_rt_free(rt), 0);
  cr_assert_eq(atomic_load(&unwound), 0, "nothing was cancelled");
  app_objects_free();
}

/* A task that cleans up by spawning a helper: the helper starts
 * cancelled, and the shutdown still ends. */
static void *helper(void *arg) {
  (void)arg;
  if (corio_sleep(LONG_MS) == UV_ECANCELED)
    atomic_fetch_add(&unwound, 1);
  return NULL;
}

static void *spawns_on_cancel(void *arg) {
  (void)arg;
  atomic_fetch_add(&started, 1);
  if (corio_sleep(LONG_MS) == UV_ECANCELED)
    corio_spawn(corio_current_rt(), helper, NULL, NULL);
  return NULL;
}

Test(shutdown, tasks_spawned_during_a_shutdown_start_cancelled, .timeout = 60) {
  corio_rt_t *rt;

  atomic_store(&unwound, 0);
  atomic_store(&started, 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  for (int i = 0; i < 10; i++)
    cr_assert_eq(corio_spawn(rt, spawns_on_cancel, NULL, NULL), 0);
  while (atomic_load(&started) < 10)
    usleep(1000);
  cr_assert_eq(corio_rt_shutdown(rt, corio_now() + 10000), 0);
  cr_assert_eq(atomic_load(&unwound), 10);
}

static void *shutdown_from_task(void *arg) {
  return (void *)(intptr_t)corio_rt_shutdown(arg, 0);
}

Test(shutdown, from_a_task_is_einval, .timeout = 60) {
  corio_rt_t *rt;
  corio_task_t *t;
  void *r;

  cr_assert_eq(corio_rt_shutdown(NULL, 0), UV_EINVAL);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, shutdown_from_task, rt, &t), 0);
  cr_assert_eq(corio_join(t, &r), 0);
  cr_assert_eq((int)(intptr_t)r, UV_EINVAL);
  cr_assert_eq(corio_rt_shutdown(rt, corio_now() + 10000), 0, "nothing left to stop");
}

/* --- a worker that does not stop ------------------------------------------ */

static _Atomic(int) spin_go;

void *corio_test_spins_without_suspending(void *arg);
void *corio_test_spins_without_suspending(void *arg) {
  uint64_t end;

  (void)arg;
  atomic_store(&spin_go, 1);
  end = corio_now() + 1500;
  while (corio_now() < end) {
  }
  return NULL;
}

static void stuck_run(corio_rt_options_t o, const char *who) {
  corio_rt_t *rt;
  char text[1024];
  capture_t cap;

  atomic_store(&spin_go, 0);
  cr_assert_eq(corio_rt_new(&o, &rt), 0);
  cr_assert_eq(corio_spawn(rt, corio_test_spins_without_suspending, NULL, NULL), 0);
  while (!atomic_load(&spin_go))
    usleep(1000);
  cr_assert_eq(capture_begin(&cap), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
  capture_read(&cap, text, sizeof text);
  capture_end(&cap);
  cr_assert_neq(text[0], '\0', "nothing was said");
  cr_assert_not_null(strstr(text, who), "%s", text);
  cr_assert_not_null(strstr(text, "does not suspend"), "%s", text);
}

Test(shutdown, rt_free_names_the_task_that_holds_a_worker, .timeout = 60) {
  stuck_run((corio_rt_options_t){.workers = 1}, "worker 0");
}

Test(shutdown, rt_free_names_the_task_that_holds_the_loop_thread, .timeout = 60) {
  stuck_run((corio_rt_options_t){.loop_only = 1}, "the loop thread");
}

/* --- misuse that is detected (lib/core/misuse.h) ---------------------------- */

static void *returns_at_once(void *arg) {
  return arg;
}

static corio_task_t *ended_task(corio_rt_t **rt) {
  corio_task_t *t;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, rt), 0);
  cr_assert_eq(corio_spawn(*rt, returns_at_once, NULL, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  return t;
}

Test(misuse, a_second_join_of_a_handle, .signal = MISUSE_SIGNAL) {
  corio_rt_t *rt;
  corio_task_t *t = ended_task(&rt);

  cr_assert_eq(corio_join(t, NULL), UV_EINVAL);
  cr_assert_eq(corio_rt_free(rt), 0);
}

Test(misuse, a_detach_after_the_join, .signal = MISUSE_SIGNAL) {
  corio_rt_t *rt;
  corio_task_t *t = ended_task(&rt);

  cr_assert_eq(corio_detach(t), UV_EINVAL);
  cr_assert_eq(corio_rt_free(rt), 0);
}

Test(misuse, a_cancel_after_the_join, .signal = MISUSE_SIGNAL) {
  corio_rt_t *rt;
  corio_task_t *t = ended_task(&rt);

  cr_assert_eq(corio_cancel(t), UV_EINVAL);
  cr_assert_eq(corio_rt_free(rt), 0);
}

static void *sleeps_long(void *arg) {
  (void)arg;
  corio_sleep(LONG_MS);
  return NULL;
}

Test(misuse, a_join_of_a_detached_task, .signal = MISUSE_SIGNAL) {
  corio_rt_t *rt;
  corio_task_t *t;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, sleeps_long, NULL, &t), 0);
  cr_assert_eq(corio_detach(t), 0);
  /* t sleeps on: its record is still there to look at */
  cr_assert_eq(corio_join(t, NULL), UV_EINVAL);
  cr_assert_eq(corio_rt_shutdown(rt, corio_now() + 5000), 0);
}

Test(misuse, a_cancel_of_a_detached_task_from_outside, .signal = MISUSE_SIGNAL) {
  corio_rt_t *rt;
  corio_task_t *t;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, sleeps_long, NULL, &t), 0);
  cr_assert_eq(corio_detach(t), 0);
  cr_assert_eq(corio_cancel(t), UV_EINVAL);
  cr_assert_eq(corio_rt_shutdown(rt, corio_now() + 5000), 0);
}
