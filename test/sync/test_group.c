/* Task groups (corio/group.h): wait, first failure, fail-fast, close
 * cancels, results in end order, cancellation downwards, deadlines,
 * misuse, and a stress of spawns, failures and cancels racing. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "corio.h"
#include "../support/sizes.h"

#define LONG_MS 60000 /* a sleep only a cancel ends */

typedef struct shared {
  _Atomic(int) started, ended, cancelled;
  corio_sem_t sem;
  _Atomic(int) stop;
} shared_t;

static shared_t sh;

static void reset(void) {
  atomic_store(&sh.started, 0);
  atomic_store(&sh.ended, 0);
  atomic_store(&sh.cancelled, 0);
  atomic_store(&sh.stop, 0);
  corio_sem_init(&sh.sem, 0);
}

static void in_rt(unsigned workers, void *(*body)(void *)) {
  corio_rt_t *rt;
  corio_task_t *t;

  reset();
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = workers}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, body, NULL, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* Sleeps arg ms (LONG_MS: until cancelled); 0, or the wait's error. */
static int sleeper(void *arg) {
  int err;

  atomic_fetch_add(&sh.started, 1);
  err = corio_sleep((uint64_t)(uintptr_t)arg);
  if (err == UV_ECANCELED)
    atomic_fetch_add(&sh.cancelled, 1);
  atomic_fetch_add(&sh.ended, 1);
  return err;
}

/* Fails with -(arg) after a short sleep. */
static int failer(void *arg) {
  corio_sleep(5);
  atomic_fetch_add(&sh.ended, 1);
  return -(int)(uintptr_t)arg;
}

/* --- waiting for all ------------------------------------------------------- */

static void *all_run(void *arg) {
  corio_group_t *g;

  (void)arg;
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &g), 0);
  for (uintptr_t i = 0; i < 100; i++)
    cr_assert_eq(corio_group_spawn(g, sleeper, (void *)(i % 5 + 1)), 0);
  cr_assert_eq(corio_group_wait(g), 0);
  cr_assert_eq(corio_group_size(g), 0);
  cr_assert_eq(atomic_load(&sh.ended), 100);
  cr_assert_eq(corio_group_close(g), 0);
  return NULL;
}

Test(group, wait_returns_once_every_member_has_ended, .timeout = 60) {
  in_rt(2, all_run);
}

static void *first_failure(void *arg) {
  corio_group_t *g;

  (void)arg;
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &g), 0);
  cr_assert_eq(corio_group_spawn(g, failer, (void *)5), 0);
  cr_assert_eq(corio_group_wait(g), -5);
  cr_assert_eq(corio_group_spawn(g, failer, (void *)7), 0);
  for (int i = 0; i < 10; i++)
    cr_assert_eq(corio_group_spawn(g, sleeper, (void *)20), 0);
  cr_assert_eq(corio_group_wait(g), -5, "the first failure stays");
  cr_assert_eq(atomic_load(&sh.cancelled), 0, "independent members: nobody cancelled");
  cr_assert_eq(corio_group_close(g), -5);
  return NULL;
}

Test(group, the_first_failure_is_kept, .timeout = 60) {
  in_rt(2, first_failure);
}

static void *fail_fast(void *arg) {
  corio_group_t *g;

  (void)arg;
  cr_assert_eq(corio_group_new(corio_current_rt(), CORIO_GROUP_FAIL_FAST, &g), 0);
  for (int i = 0; i < 20; i++)
    cr_assert_eq(corio_group_spawn(g, sleeper, (void *)LONG_MS), 0);
  cr_assert_eq(corio_group_spawn(g, failer, (void *)9), 0);
  cr_assert_eq(corio_group_wait(g), -9, "the failure, not the cancels it caused");
  cr_assert_eq(atomic_load(&sh.cancelled), 20);
  cr_assert_eq(corio_group_spawn(g, sleeper, (void *)1), UV_ECANCELED);
  cr_assert_eq(corio_group_close(g), -9);
  return NULL;
}

Test(group, fail_fast_cancels_the_others, .timeout = 60) {
  in_rt(2, fail_fast);
}

static void *close_cancels(void *arg) {
  corio_group_t *g;

  (void)arg;
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &g), 0);
  for (int i = 0; i < 50; i++)
    cr_assert_eq(corio_group_spawn(g, sleeper, (void *)LONG_MS), 0);
  while (atomic_load(&sh.started) < 50)
    corio_sleep(1);
  cr_assert_eq(corio_group_size(g), 50);
  cr_assert_eq(corio_group_close(g), 0, "a cancel by the close is no failure");
  cr_assert_eq(atomic_load(&sh.cancelled), 50);
  cr_assert_eq(atomic_load(&sh.ended), 50, "close returned before its members ended");
  return NULL;
}

Test(group, close_cancels_and_waits_for_every_member, .timeout = 60) {
  in_rt(2, close_cancels);
  in_rt(1, close_cancels);
}

/* --- results ---------------------------------------------------------------- */

static int waits_for_sem(void *arg) {
  corio_sem_acquire(&sh.sem);
  return (int)(uintptr_t)arg;
}

static int returns_at_once(void *arg) {
  return (int)(uintptr_t)arg;
}

static void *results_in_end_order(void *arg) {
  corio_group_t *g;
  int r = 0;

  (void)arg;
  cr_assert_eq(corio_group_new(corio_current_rt(), CORIO_GROUP_RESULTS, &g), 0);
  cr_assert_eq(corio_group_spawn(g, waits_for_sem, (void *)1), 0);
  cr_assert_eq(corio_group_spawn(g, returns_at_once, (void *)2), 0);
  cr_assert_eq(corio_group_next(g, &r), 0);
  cr_assert_eq(r, 2, "the one that ended first comes first");
  cr_assert_eq(corio_group_next_dl(g, &r, corio_now() + 20), UV_ETIMEDOUT);
  corio_sem_release(&sh.sem, 1);
  cr_assert_eq(corio_group_next(g, &r), 0);
  cr_assert_eq(r, 1);
  cr_assert_eq(corio_group_next(g, &r), UV_EOF);
  cr_assert_eq(corio_group_wait(g), 2, "a nonzero result is a failure: the first to end");
  cr_assert_eq(corio_group_close(g), 2);
  /* without CORIO_GROUP_RESULTS there is nothing to take */
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &g), 0);
  cr_assert_eq(corio_group_next(g, &r), UV_EINVAL);
  cr_assert_eq(corio_group_close(g), 0);
  return NULL;
}

Test(group, next_takes_results_in_the_order_members_ended, .timeout = 60) {
  in_rt(2, results_in_end_order);
}

/* --- cancellation downwards ------------------------------------------------- */

static int opens_inner(void *arg) {
  corio_group_t *inner;
  int err;

  (void)arg;
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &inner), 0);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(corio_group_spawn(inner, sleeper, (void *)LONG_MS), 0);
  err = corio_group_wait(inner); /* the outer cancel ends this, and goes on down */
  cr_assert_eq(corio_group_close(inner), 0);
  return err;
}

static void *nested(void *arg) {
  corio_group_t *outer;

  (void)arg;
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &outer), 0);
  for (int i = 0; i < 4; i++)
    cr_assert_eq(corio_group_spawn(outer, opens_inner, NULL), 0);
  while (atomic_load(&sh.started) < 12)
    corio_sleep(1);
  cr_assert_eq(corio_group_close(outer), 0);
  cr_assert_eq(atomic_load(&sh.cancelled), 12, "the grandchildren were cancelled");
  cr_assert_eq(atomic_load(&sh.ended), 12);
  return NULL;
}

Test(group, nested_groups_cancel_downwards, .timeout = 60) {
  in_rt(2, nested);
}

static void *waits_on_group(void *arg) {
  return (void *)(intptr_t)corio_group_wait(arg);
}

static void *waiter_cancelled(void *arg) {
  corio_group_t *g;
  corio_task_t *t;
  void *r;

  (void)arg;
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &g), 0);
  cr_assert_eq(corio_group_spawn(g, sleeper, (void *)LONG_MS), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), waits_on_group, g, &t), 0);
  while (atomic_load(&sh.started) < 1)
    corio_sleep(1);
  corio_sleep(5);
  cr_assert_eq(corio_cancel(t), 0);
  cr_assert_eq(corio_join(t, &r), 0);
  cr_assert_eq((int)(intptr_t)r, UV_ECANCELED);
  cr_assert_eq(corio_group_wait(g), 0);
  cr_assert_eq(atomic_load(&sh.cancelled), 1, "the waiter's cancel reached the member");
  cr_assert_eq(corio_group_close(g), 0);
  return NULL;
}

Test(group, a_cancelled_waiter_cancels_the_group, .timeout = 60) {
  in_rt(2, waiter_cancelled);
}

/* Spawned, cancelled before it ran (one worker, the spawner does not
 * yield): it still runs, and its first wait is cancelled. */
static void *cancelled_before_start(void *arg) {
  corio_group_t *g;

  (void)arg;
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &g), 0);
  cr_assert_eq(corio_group_spawn(g, sleeper, (void *)LONG_MS), 0);
  cr_assert_eq(atomic_load(&sh.started), 0);
  cr_assert_eq(corio_group_cancel(g), 0);
  cr_assert_eq(corio_group_close(g), 0);
  cr_assert_eq(atomic_load(&sh.started), 1, "it ran");
  cr_assert_eq(atomic_load(&sh.cancelled), 1);
  return NULL;
}

Test(group, a_member_cancelled_before_it_started_runs_cancelled, .timeout = 60) {
  in_rt(1, cancelled_before_start);
}

/* --- deadlines and misuse ------------------------------------------------------ */

static int ignores_cancel(void *arg) {
  (void)arg;
  atomic_fetch_add(&sh.started, 1);
  while (!atomic_load(&sh.stop))
    corio_sleep(1); /* its cancel ends one sleep; it goes on */
  return 0;
}

static void *deadlines(void *arg) {
  corio_group_t *g;

  (void)arg;
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &g), 0);
  cr_assert_eq(corio_group_spawn(g, ignores_cancel, NULL), 0);
  cr_assert_eq(corio_group_wait_dl(g, corio_now() + 20), UV_ETIMEDOUT);
  cr_assert_eq(corio_group_size(g), 1);
  cr_assert_eq(corio_group_close_dl(g, corio_now() + 30), UV_ETIMEDOUT, "it ignores its cancel");
  cr_assert_eq(corio_group_size(g), 1, "still there, the group still open");
  atomic_store(&sh.stop, 1);
  cr_assert_eq(corio_group_close(g), 0);
  return NULL;
}

Test(group, waits_and_close_have_deadlines, .timeout = 60) {
  in_rt(2, deadlines);
}

Test(group, misuse_is_einval) {
  corio_rt_t *rt;
  corio_group_t *g;

  reset();
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &rt), 0);
  cr_assert_eq(corio_group_new(NULL, 0, &g), UV_EINVAL);
  cr_assert_eq(corio_group_new(rt, 0x80, &g), UV_EINVAL);
  cr_assert_null(g);
  cr_assert_eq(corio_group_new(rt, 0, NULL), UV_EINVAL);
  cr_assert_eq(corio_group_spawn(NULL, sleeper, NULL), UV_EINVAL);
  cr_assert_eq(corio_group_cancel(NULL), UV_EINVAL);
  cr_assert_eq(corio_group_close(NULL), UV_EINVAL);
  cr_assert_eq(corio_group_size(NULL), 0);
  /* from a plain thread: spawn and cancel yes; a wait only if it need not */
  cr_assert_eq(corio_group_new(rt, 0, &g), 0);
  cr_assert_eq(corio_group_spawn(g, ignores_cancel, NULL), 0);
  cr_assert_eq(corio_group_wait(g), UV_EINVAL);
  cr_assert_eq(corio_group_close(g), UV_EINVAL, "members left: not freed");
  atomic_store(&sh.stop, 1);
  cr_assert_eq(corio_rt_wait(rt), 0);
  cr_assert_eq(corio_group_close(g), 0, "nothing to wait for");
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* --- stress --------------------------------------------------------------------- */

static int stress_member(void *arg) {
  unsigned k = (unsigned)(uintptr_t)arg;
  int err = 0;

  atomic_fetch_add(&sh.started, 1);
  if (k % 3 == 0)
    err = corio_yield();
  else if (k % 3 == 1)
    err = corio_sleep(k % 2);
  atomic_fetch_add(&sh.ended, 1);
  if (k % 17 == 0)
    return -1;
  return err;
}

static void *stress_canceller(void *arg) {
  corio_sleep(0);
  corio_group_cancel(arg);
  return NULL;
}

static void *stress(void *arg) {
  int rounds = CORIO_TEST_SLOW ? 100 : 1000;

  (void)arg;
  for (int r = 0; r < rounds; r++) {
    corio_group_t *g;
    corio_task_t *c;
    int spawned = 0, err;

    atomic_store(&sh.started, 0);
    atomic_store(&sh.ended, 0);
    cr_assert_eq(corio_group_new(corio_current_rt(), r % 2 ? CORIO_GROUP_FAIL_FAST : 0, &g), 0);
    cr_assert_eq(corio_spawn(corio_current_rt(), stress_canceller, g, &c), 0);
    for (unsigned k = 0; k < 40; k++) {
      err = corio_group_spawn(g, stress_member, (void *)(uintptr_t)(k + (unsigned)r));
      if (err == 0)
        spawned++;
      else
        cr_assert_eq(err, UV_ECANCELED);
    }
    corio_join(c, NULL);
    err = corio_group_close(g);
    cr_assert(err == 0 || err == -1, "round %d: %d", r, err);
    cr_assert_eq(atomic_load(&sh.started), spawned, "round %d", r);
    cr_assert_eq(atomic_load(&sh.ended), spawned, "round %d", r);
  }
  return NULL;
}

Test(group, spawns_failures_and_cancels_race_safely, .timeout = 120) {
  in_rt(2, stress);
}
