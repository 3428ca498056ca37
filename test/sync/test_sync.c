/* Mutex, semaphore, wait group, condition variable; deadlines; cancel. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corio.h"
#include "../support/sizes.h"

/* --- mutex --------------------------------------------------------------- */

typedef struct {
  corio_mutex_t m;
  long counter;        /* plain: only touched under m */
  int per_task;
} counter_t;

static void *increments(void *arg) {
  counter_t *c = arg;

  for (int i = 0; i < c->per_task; i++) {
    cr_assert_eq(corio_mutex_lock(&c->m), 0);
    c->counter++;
    if (i % 64 == 0)
      corio_yield(); /* hold it across a suspension sometimes */
    corio_mutex_unlock(&c->m);
  }
  return NULL;
}

static void mutex_total(unsigned workers) {
  enum { TASKS = 64 };
  counter_t c = {.m = CORIO_MUTEX_INITIALIZER,
                 .per_task = CORIO_TEST_UNDER_TSAN ? 300 : 10000};
  corio_task_t *t[TASKS];
  corio_rt_t *rt;
  int i;

  cr_assert_eq(corio_rt_new(&rt, &(corio_rt_options_t){.workers = workers}), 0);
  for (i = 0; i < TASKS; i++)
    cr_assert_eq(corio_spawn(rt, increments, &c, &t[i]), 0);
  for (i = 0; i < TASKS; i++)
    cr_assert_eq(corio_join(t[i], NULL), 0);
  cr_assert_eq(c.counter, (long)TASKS * c.per_task, "%u workers", workers);
  cr_assert_eq(corio_mutex_destroy(&c.m), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

Test(mutex, total_exact_with_64_tasks_on_1_worker, .timeout = 120) { mutex_total(1); }
Test(mutex, total_exact_with_64_tasks_on_2_workers, .timeout = 120) { mutex_total(2); }
Test(mutex, total_exact_with_64_tasks_on_4_workers, .timeout = 120) { mutex_total(4); }

enum { FIFO_N = 16 };

typedef struct {
  corio_mutex_t m;
  _Atomic(int) started[FIFO_N];
  int order[FIFO_N];
  _Atomic(int) next;
} fifo_t;

typedef struct { fifo_t *f; int i; } fifo_arg_t;

static void *queues_up(void *arg) {
  fifo_arg_t *a = arg;

  atomic_store(&a->f->started[a->i], 1);
  cr_assert_eq(corio_mutex_lock(&a->f->m), 0);
  a->f->order[a->i] = atomic_fetch_add(&a->f->next, 1);
  corio_mutex_unlock(&a->f->m);
  return NULL;
}

static void *holds_while_others_queue(void *arg) {
  fifo_t *f = arg;
  fifo_arg_t args[FIFO_N];
  corio_task_t *t[FIFO_N];

  cr_assert_eq(corio_mutex_lock(&f->m), 0);
  for (int i = 0; i < FIFO_N; i++) {
    args[i] = (fifo_arg_t){f, i};
    cr_assert_eq(corio_spawn(corio_current_rt(), queues_up, &args[i], &t[i]), 0);
    /* one worker: when we yield, it runs i until it parks in lock */
    while (!atomic_load(&f->started[i]))
      corio_yield();
    corio_yield();
  }
  cr_assert_eq(corio_mutex_trylock(&f->m), UV_EBUSY);
  corio_mutex_unlock(&f->m);
  for (int i = 0; i < FIFO_N; i++)
    corio_join(t[i], NULL);
  return NULL;
}

Test(mutex, waiters_acquire_in_arrival_order) {
  fifo_t f;

  memset(&f, 0, sizeof f);
  cr_assert_eq(corio_main(holds_while_others_queue, &f,
                          &(corio_rt_options_t){.workers = 1}, NULL), 0);
  for (int i = 0; i < FIFO_N; i++)
    cr_assert_eq(f.order[i], i, "waiter %d got the mutex %dth", i, f.order[i]);
}

Test(mutex, trylock_unlock_and_destroy_rules) {
  corio_mutex_t m = CORIO_MUTEX_INITIALIZER;

  cr_assert_eq(corio_mutex_unlock(&m), UV_EPERM);
  cr_assert_eq(corio_mutex_trylock(&m), 0);
  cr_assert_eq(corio_mutex_trylock(&m), UV_EBUSY);
  cr_assert_eq(corio_mutex_destroy(&m), UV_EBUSY);
  cr_assert_eq(corio_mutex_unlock(&m), 0);
  cr_assert_eq(corio_mutex_destroy(&m), 0);
  cr_assert_eq(corio_mutex_lock(&m), 0, "free: no wait, fine anywhere");
  cr_assert_eq(corio_mutex_lock(&m), UV_EINVAL, "waiting needs a task");
  cr_assert_eq(corio_mutex_unlock(&m), 0);
}

typedef struct {
  corio_mutex_t m;
  uint64_t waited_ns;
  int err;
} timed_t;

static void *locks_with_deadline(void *arg) {
  timed_t *t = arg;
  uint64_t t0 = uv_hrtime();

  t->err = corio_mutex_lock_dl(&t->m, corio_now() + 30);
  t->waited_ns = uv_hrtime() - t0;
  return NULL;
}

static void *holds_past_the_deadline(void *arg) {
  timed_t *t = arg;
  corio_task_t *w;

  corio_mutex_lock(&t->m);
  corio_spawn(corio_current_rt(), locks_with_deadline, t, &w);
  corio_join(w, NULL);
  corio_mutex_unlock(&t->m);
  /* the timed-out waiter was not handed the mutex: it is free now */
  cr_assert_eq(corio_mutex_trylock(&t->m), 0);
  corio_mutex_unlock(&t->m);
  return NULL;
}

Test(mutex, lock_dl_times_out_never_early_and_leaves_the_mutex_sound) {
  timed_t t;

  memset(&t, 0, sizeof t);
  cr_assert_eq(corio_main(holds_past_the_deadline, &t, NULL, NULL), 0);
  cr_assert_eq(t.err, UV_ETIMEDOUT);
  cr_assert_geq(t.waited_ns, 29u * 1000000u, "waited %lu ns",
                (unsigned long)t.waited_ns);
}

/* Many tasks with tiny deadlines race against unlocks: every lock that
 * succeeded was exclusive (the counter is exact), none was lost. */
typedef struct {
  corio_mutex_t m;
  long counter;
  _Atomic(long) acquired;
  int rounds;
} race_t;

static void *locks_with_short_deadlines(void *arg) {
  race_t *r = arg;

  for (int i = 0; i < r->rounds; i++) {
    int err = corio_mutex_lock_dl(&r->m, corio_now() + (uint64_t)(i % 3));
    if (err == 0) {
      r->counter++;
      atomic_fetch_add(&r->acquired, 1);
      if (i % 7 == 0)
        corio_yield();
      corio_mutex_unlock(&r->m);
    } else {
      cr_assert_eq(err, UV_ETIMEDOUT);
    }
  }
  return NULL;
}

Test(mutex, deadlines_racing_unlocks_keep_exclusion, .timeout = 120) {
  enum { TASKS = 16 };
  race_t r = {.m = CORIO_MUTEX_INITIALIZER, .rounds = CORIO_TEST_UNDER_TSAN ? 200 : 2000};
  corio_task_t *t[TASKS];
  corio_rt_t *rt;

  cr_assert_eq(corio_rt_new(&rt, &(corio_rt_options_t){.workers = 2}), 0);
  for (int i = 0; i < TASKS; i++)
    cr_assert_eq(corio_spawn(rt, locks_with_short_deadlines, &r, &t[i]), 0);
  for (int i = 0; i < TASKS; i++)
    corio_join(t[i], NULL);
  cr_assert_eq(r.counter, atomic_load(&r.acquired));
  cr_assert_gt(r.counter, 0);
  cr_assert_eq(corio_mutex_destroy(&r.m), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* --- cancellation -------------------------------------------------------- */

static void *locks_forever(void *arg) {
  return (void *)(intptr_t)corio_mutex_lock(arg);
}

static void *sleeps_long(void *arg) {
  (void)arg;
  return (void *)(intptr_t)corio_sleep(60000);
}

static _Atomic(int) pending_cancel_ready;

static void *cancelled_before_waiting(void *arg) {
  (void)arg;
  while (!atomic_load(&pending_cancel_ready))
    ;
  return (void *)(intptr_t)corio_sleep(60000); /* the pending cancel hits */
}

static void *returns_zero_helper(void *arg) {
  (void)arg;
  return NULL;
}

static void *cancels(void *arg) {
  corio_mutex_t *m = arg;
  corio_task_t *locker, *sleeper, *early, *done;
  void *r;

  corio_mutex_lock(m);
  corio_spawn(corio_current_rt(), locks_forever, m, &locker);
  corio_spawn(corio_current_rt(), sleeps_long, NULL, &sleeper);
  corio_sleep(20); /* both are waiting now */
  cr_assert_eq(corio_cancel(locker), 0);
  cr_assert_eq(corio_cancel(sleeper), 0);
  corio_join(locker, &r);
  cr_assert_eq((intptr_t)r, UV_ECANCELED, "lock");
  corio_join(sleeper, &r);
  cr_assert_eq((intptr_t)r, UV_ECANCELED, "sleep");
  cr_assert_eq(corio_mutex_destroy(m), UV_EBUSY, "still ours");
  corio_mutex_unlock(m);
  cr_assert_eq(corio_mutex_destroy(m), 0, "the cancelled waiter is gone");

  corio_spawn(corio_current_rt(), cancelled_before_waiting, NULL, &early);
  corio_cancel(early);
  atomic_store(&pending_cancel_ready, 1);
  corio_join(early, &r);
  cr_assert_eq((intptr_t)r, UV_ECANCELED, "a pending cancel hits the next wait");

  corio_spawn(corio_current_rt(), returns_zero_helper, NULL, &done);
  corio_sleep(5);
  cr_assert_eq(corio_cancel(done), 0, "harmless on a finished task");
  corio_join(done, &r);
  cr_assert_eq((intptr_t)r, 0);
  return NULL;
}

Test(cancel, each_kind_of_wait_returns_ecanceled) {
  corio_mutex_t m = CORIO_MUTEX_INITIALIZER;

  atomic_store(&pending_cancel_ready, 0);
  cr_assert_eq(corio_main(cancels, &m, &(corio_rt_options_t){.workers = 2}, NULL), 0);
}
