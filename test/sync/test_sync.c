/* Mutex, semaphore, wait group, condition variable; deadlines; cancel. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sched.h>
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

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = workers}, &rt), 0);
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

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
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

/* --- semaphore, wait group, condition variable --------------------------- */

typedef struct {
  corio_sem_t sem;
  _Atomic(int) inside, most, done;
} limit_t;

static void *uses_a_slot(void *arg) {
  limit_t *l = arg;
  int now, most;

  cr_assert_eq(corio_sem_acquire(&l->sem), 0);
  now = atomic_fetch_add(&l->inside, 1) + 1;
  most = atomic_load(&l->most);
  while (now > most && !atomic_compare_exchange_weak(&l->most, &most, now))
    ;
  corio_yield();
  corio_sleep(1);
  atomic_fetch_sub(&l->inside, 1);
  atomic_fetch_add(&l->done, 1);
  corio_sem_release(&l->sem, 1);
  return NULL;
}

Test(sem, at_most_count_holders_under_contention) {
  enum { TASKS = 200 };
  limit_t l;
  corio_rt_t *rt;

  memset(&l, 0, sizeof l);
  cr_assert_eq(corio_sem_init(&l.sem, 3), 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 4}, &rt), 0);
  for (int i = 0; i < TASKS; i++)
    cr_assert_eq(corio_spawn(rt, uses_a_slot, &l, NULL), 0);
  cr_assert_eq(corio_rt_wait(rt), 0);
  cr_assert_eq(atomic_load(&l.done), TASKS);
  cr_assert_leq(atomic_load(&l.most), 3);
  cr_assert_eq(corio_sem_tryacquire(&l.sem), 0);
  cr_assert_eq(corio_sem_tryacquire(&l.sem), 0);
  cr_assert_eq(corio_sem_tryacquire(&l.sem), 0);
  cr_assert_eq(corio_sem_tryacquire(&l.sem), UV_EAGAIN);
  cr_assert_eq(corio_sem_release(&l.sem, 0), UV_EINVAL);
  cr_assert_eq(corio_sem_destroy(&l.sem), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

typedef struct {
  corio_wg_t wg;
  _Atomic(int) done;
} group_t;

static void *does_a_job(void *arg) {
  group_t *g = arg;

  corio_sleep(1);
  atomic_fetch_add(&g->done, 1);
  corio_wg_done(&g->wg);
  return NULL;
}

static void *waits_for_the_group(void *arg) {
  group_t *g = arg;

  cr_assert_eq(corio_wg_wait(&g->wg), 0);
  return (void *)(intptr_t)atomic_load(&g->done);
}

static void *runs_a_group(void *arg) {
  group_t *g = arg;
  corio_task_t *w[4];
  void *seen;

  (void)arg;
  cr_assert_eq(corio_wg_wait_dl(&g->wg, corio_now() + 1), 0, "zero: at once");
  cr_assert_eq(corio_wg_add(&g->wg, 100), 0);
  cr_assert_eq(corio_wg_wait_dl(&g->wg, corio_now() + 2), UV_ETIMEDOUT);
  for (int i = 0; i < 4; i++)
    corio_spawn(corio_current_rt(), waits_for_the_group, g, &w[i]);
  for (int i = 0; i < 100; i++)
    corio_spawn(corio_current_rt(), does_a_job, g, NULL);
  for (int i = 0; i < 4; i++) {
    corio_join(w[i], &seen);
    cr_assert_eq((intptr_t)seen, 100, "every waiter resumed after all jobs");
  }
  cr_assert_eq(corio_wg_add(&g->wg, -1), UV_EINVAL);
  return NULL;
}

Test(wg, waiters_resume_when_the_count_reaches_zero) {
  group_t g;

  memset(&g, 0, sizeof g);
  cr_assert_eq(corio_main(runs_a_group, &g, &(corio_rt_options_t){.workers = 2}, NULL), 0);
  cr_assert_eq(corio_wg_destroy(&g.wg), 0);
}

typedef struct {
  corio_mutex_t m;
  corio_cond_t nonempty;
  int queue;        /* items available, under m */
  int produced_all;
  long consumed;
} pc_t;

static void *consumes(void *arg) {
  pc_t *p = arg;

  corio_mutex_lock(&p->m);
  for (;;) {
    while (p->queue == 0 && !p->produced_all)
      cr_assert_eq(corio_cond_wait(&p->nonempty, &p->m), 0);
    if (p->queue == 0)
      break;
    p->queue--;
    p->consumed++;
  }
  corio_mutex_unlock(&p->m);
  return NULL;
}

static void *produces(void *arg) {
  pc_t *p = arg;
  corio_task_t *c[8];
  int err;

  for (int i = 0; i < 8; i++)
    corio_spawn(corio_current_rt(), consumes, p, &c[i]);
  for (int i = 0; i < 20000; i++) {
    corio_mutex_lock(&p->m);
    p->queue++;
    corio_cond_signal(&p->nonempty);
    corio_mutex_unlock(&p->m);
    if (i % 100 == 0)
      corio_yield();
  }
  corio_mutex_lock(&p->m);
  p->produced_all = 1;
  corio_cond_broadcast(&p->nonempty);
  corio_mutex_unlock(&p->m);
  for (int i = 0; i < 8; i++)
    corio_join(c[i], NULL);

  corio_mutex_lock(&p->m);
  err = corio_cond_wait_dl(&p->nonempty, &p->m, corio_now() + 5);
  cr_assert_eq(err, UV_ETIMEDOUT);
  cr_assert_eq(corio_mutex_trylock(&p->m), UV_EBUSY, "held again after a timeout");
  corio_mutex_unlock(&p->m);
  return NULL;
}

Test(cond, producer_and_consumers_count_every_item) {
  pc_t p;

  memset(&p, 0, sizeof p);
  cr_assert_eq(corio_main(produces, &p, &(corio_rt_options_t){.workers = 2}, NULL), 0);
  cr_assert_eq(p.consumed, 20000);
  cr_assert_eq(corio_cond_destroy(&p.nonempty), 0);
}

static void *waits_on_cond(void *arg) {
  pc_t *p = arg;

  corio_mutex_lock(&p->m);
  corio_cond_wait(&p->nonempty, &p->m);
  corio_mutex_unlock(&p->m);
  return NULL;
}

static void *destroys_busy(void *arg) {
  pc_t *p = arg;
  corio_task_t *t;

  corio_spawn(corio_current_rt(), waits_on_cond, p, &t);
  corio_sleep(10);
  cr_assert_eq(corio_cond_destroy(&p->nonempty), UV_EBUSY);
  corio_mutex_lock(&p->m);
  corio_cond_signal(&p->nonempty);
  corio_mutex_unlock(&p->m);
  corio_join(t, NULL);
  cr_assert_eq(corio_cond_destroy(&p->nonempty), 0);
  return NULL;
}

Test(cond, destroy_with_a_waiter_is_ebusy) {
  pc_t p;

  memset(&p, 0, sizeof p);
  cr_assert_eq(corio_main(destroys_busy, &p, NULL, NULL), 0);
}

/* --- join with a deadline, cancelled join -------------------------------- */

static void *sleeps_then_returns(void *arg) {
  corio_sleep((uintptr_t)arg);
  return (void *)123;
}

static void *joins_with_deadline(void *arg) {
  corio_task_t *t;
  void *r = NULL;
  uint64_t t0 = uv_hrtime();

  (void)arg;
  corio_spawn(corio_current_rt(), sleeps_then_returns, (void *)50, &t);
  cr_assert_eq(corio_join_dl(t, &r, corio_now() + 10), UV_ETIMEDOUT);
  cr_assert_geq(uv_hrtime() - t0, 9u * 1000000u, "never early");
  cr_assert_eq(corio_join_dl(t, &r, corio_now() + 5000), 0, "retry works");
  cr_assert_eq((uintptr_t)r, 123);
  return NULL;
}

Test(join, join_dl_times_out_and_can_be_retried) {
  cr_assert_eq(corio_main(joins_with_deadline, NULL, NULL, NULL), 0);
}

static void *joins_forever(void *arg) {
  return (void *)(intptr_t)corio_join(arg, NULL);
}

static void *cancels_a_join(void *arg) {
  corio_task_t *sleeper, *joiner;
  void *r;

  (void)arg;
  corio_spawn(corio_current_rt(), sleeps_then_returns, (void *)30, &sleeper);
  corio_spawn(corio_current_rt(), joins_forever, sleeper, &joiner);
  corio_sleep(5);
  corio_cancel(joiner);
  corio_join(joiner, &r);
  cr_assert_eq((intptr_t)r, UV_ECANCELED);
  cr_assert_eq(corio_join(sleeper, &r), 0, "the handle is still good");
  cr_assert_eq((uintptr_t)r, 123);
  return NULL;
}

Test(join, cancel_ends_a_join_and_keeps_the_handle) {
  cr_assert_eq(corio_main(cancels_a_join, NULL, NULL, NULL), 0);
}

/* Joins whose deadlines race with the tasks' ends: every task is joined
 * exactly once in the end, none lost, no use after free (sanitizers). */
static void *ends_soon(void *arg) {
  corio_sleep((uintptr_t)arg % 3);
  return arg;
}

static void *races_joins(void *arg) {
  enum { N = 300 };
  corio_task_t *t[N];
  uintptr_t sum = 0;

  (void)arg;
  for (uintptr_t i = 0; i < N; i++)
    corio_spawn(corio_current_rt(), ends_soon, (void *)i, &t[i]);
  for (uintptr_t i = 0; i < N; i++) {
    void *r;
    while (corio_join_dl(t[i], &r, corio_now() + (i % 2)) == UV_ETIMEDOUT)
      ;
    sum += (uintptr_t)r;
  }
  return (void *)sum;
}

Test(join, deadlines_racing_task_ends, .timeout = 120) {
  void *sum;

  cr_assert_eq(corio_main(races_joins, NULL, &(corio_rt_options_t){.workers = 2}, &sum), 0);
  cr_assert_eq((uintptr_t)sum, 300u * 299u / 2u);
}

/* --- cancel and deadlines on semaphore, wait group, condition ----------- */

typedef struct {
  corio_sem_t sem;
  corio_wg_t wg;
  corio_mutex_t m;
  corio_cond_t c;
} prims_t;

static void *acquires(void *arg) {
  return (void *)(intptr_t)corio_sem_acquire(&((prims_t *)arg)->sem);
}

static void *waits_group(void *arg) {
  return (void *)(intptr_t)corio_wg_wait(&((prims_t *)arg)->wg);
}

static void *waits_cond(void *arg) {
  prims_t *p = arg;
  int err;

  corio_mutex_lock(&p->m);
  err = corio_cond_wait(&p->c, &p->m);
  cr_assert_eq(corio_mutex_trylock(&p->m), UV_EBUSY, "the mutex is held again");
  corio_mutex_unlock(&p->m);
  return (void *)(intptr_t)err;
}

static void *cancels_all_kinds(void *arg) {
  prims_t *p = arg;
  corio_task_t *t[3];
  void *r;

  corio_wg_add(&p->wg, 1);
  cr_assert_eq(corio_sem_acquire_dl(&p->sem, corio_now() + 3), UV_ETIMEDOUT);
  corio_spawn(corio_current_rt(), acquires, p, &t[0]);
  corio_spawn(corio_current_rt(), waits_group, p, &t[1]);
  corio_spawn(corio_current_rt(), waits_cond, p, &t[2]);
  corio_sleep(10);
  for (int i = 0; i < 3; i++)
    corio_cancel(t[i]);
  for (int i = 0; i < 3; i++) {
    corio_join(t[i], &r);
    cr_assert_eq((intptr_t)r, UV_ECANCELED, "kind %d", i);
  }
  cr_assert_eq(corio_sem_destroy(&p->sem), 0, "no waiter left behind");
  cr_assert_eq(corio_wg_destroy(&p->wg), 0);
  cr_assert_eq(corio_cond_destroy(&p->c), 0);
  return NULL;
}

Test(cancel, semaphore_wait_group_and_cond_waits_are_cancellable) {
  prims_t p;

  memset(&p, 0, sizeof p);
  cr_assert_eq(corio_main(cancels_all_kinds, &p, NULL, NULL), 0);
}

/* --- regressions found by review ---------------------------------------- */

/* A join whose deadline has already passed races the task's end: it must
 * neither hang nor lose the task. */
static void *ends_at_once(void *arg) {
  return arg;
}

static void *joins_with_past_deadlines(void *arg) {
  long joined = 0;

  (void)arg;
  for (int i = 0; i < 2000; i++) {
    corio_task_t *t;
    void *r;
    corio_spawn(corio_current_rt(), ends_at_once, (void *)1, &t);
    while (corio_join_dl(t, &r, corio_now() - 1) == UV_ETIMEDOUT)
      corio_yield();
    joined += (intptr_t)r;
  }
  return (void *)joined;
}

Test(join, past_deadline_joins_racing_task_ends_never_hang, .timeout = 60) {
  void *n;

  cr_assert_eq(corio_main(joins_with_past_deadlines, NULL,
                          &(corio_rt_options_t){.workers = 2}, &n), 0);
  cr_assert_eq((intptr_t)n, 2000);
}

/* One corio_cancel ends one wait: the wait after it times out. */
static corio_chan_t *one_ch;
static _Atomic(int) one_go, one_done, one_first, one_second;

static void *waits_twice_per_round(void *arg) {
  int v, rounds = (int)(intptr_t)arg;

  for (int i = 0; i < rounds; i++) {
    while (atomic_load(&one_go) != i + 1)
      corio_yield();
    atomic_store(&one_first, corio_chan_recv(one_ch, &v));
    atomic_store(&one_second, corio_chan_recv_dl(one_ch, &v, corio_now() + 2));
    atomic_store(&one_done, i + 1);
  }
  return NULL;
}

Test(cancel, one_cancel_ends_one_wait, .timeout = 60) {
  int rounds = CORIO_TEST_UNDER_TSAN ? 50 : 300;
  corio_rt_t *rt;
  corio_task_t *t;

  cr_assert_eq(corio_chan_new(sizeof(int), 0, &one_ch), 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, waits_twice_per_round, (void *)(intptr_t)rounds, &t), 0);
  for (int i = 0; i < rounds; i++) {
    atomic_store(&one_go, i + 1);
    if (i % 2 == 0) /* sometimes while it waits, sometimes before */
      corio_sleep(1);
    corio_cancel(t);
    while (atomic_load(&one_done) != i + 1)
      sched_yield();
    cr_assert_eq(atomic_load(&one_first), UV_ECANCELED, "round %d", i);
    cr_assert_eq(atomic_load(&one_second), UV_ETIMEDOUT, "round %d", i);
  }
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
  cr_assert_eq(corio_chan_free(one_ch), 0);
}

/* --- what the header promises about threads, errors and cancels --------- */

#define PAST 0 /* a deadline that has passed: "only if no wait is needed" */

Test(sem, acquire_that_needs_no_wait_works_on_a_plain_thread) {
  corio_sem_t s;

  cr_assert_eq(corio_sem_init(&s, 1), 0);
  cr_assert_eq(corio_sem_acquire(&s), 0);
  cr_assert_eq(corio_sem_acquire(&s), UV_EINVAL, "it would wait");
  cr_assert_eq(corio_sem_acquire_dl(&s, PAST), UV_EINVAL);
  cr_assert_eq(corio_sem_release(&s, 1), 0);
  cr_assert_eq(corio_sem_acquire_dl(&s, PAST), 0, "the count was untouched");
  cr_assert_eq(corio_sem_destroy(&s), 0);
}

Test(wg, wait_at_zero_works_on_a_plain_thread) {
  corio_wg_t g = {{{0}}};

  cr_assert_eq(corio_wg_wait(&g), 0);
  cr_assert_eq(corio_wg_wait_dl(&g, PAST), 0);
  cr_assert_eq(corio_wg_add(&g, 1), 0);
  cr_assert_eq(corio_wg_wait(&g), UV_EINVAL, "it would wait");
  cr_assert_eq(corio_wg_wait_dl(&g, PAST), UV_EINVAL);
  cr_assert_eq(corio_wg_done(&g), 0);
  cr_assert_eq(corio_wg_destroy(&g), 0);
}

Test(sem, counts_stay_within_int64) {
  corio_sem_t s;

  cr_assert_eq(corio_sem_init(&s, -1), UV_EINVAL);
  cr_assert_eq(corio_sem_init(NULL, 1), UV_EINVAL);
  cr_assert_eq(corio_sem_init(&s, INT64_MAX - 1), 0);
  cr_assert_eq(corio_sem_release(&s, 1), 0);
  cr_assert_eq(corio_sem_release(&s, 1), UV_EINVAL, "would pass INT64_MAX");
  cr_assert_eq(corio_sem_release(&s, INT64_MAX), UV_EINVAL);
  cr_assert_eq(corio_sem_release(&s, -1), UV_EINVAL);
  cr_assert_eq(corio_sem_tryacquire(&s), 0, "nothing changed");
  cr_assert_eq(corio_sem_release(&s, 1), 0);
  cr_assert_eq(corio_sem_destroy(&s), 0);
}

Test(wg, counter_stays_within_int64) {
  corio_wg_t g = {{{0}}};

  cr_assert_eq(corio_wg_add(&g, INT64_MAX), 0);
  cr_assert_eq(corio_wg_add(&g, 1), UV_EINVAL, "would pass INT64_MAX");
  cr_assert_eq(corio_wg_add(&g, INT64_MIN), UV_EINVAL, "would go negative");
  cr_assert_eq(corio_wg_add(&g, -INT64_MAX), 0, "nothing had changed");
  cr_assert_eq(corio_wg_wait(&g), 0);
  cr_assert_eq(corio_wg_add(&g, 0), 0);
  cr_assert_eq(corio_wg_done(&g), UV_EINVAL);
}

Test(sync, every_call_takes_null_as_einval) {
  corio_mutex_t m = CORIO_MUTEX_INITIALIZER;

  cr_assert_eq(corio_mutex_lock(NULL), UV_EINVAL);
  cr_assert_eq(corio_mutex_lock_dl(NULL, PAST), UV_EINVAL);
  cr_assert_eq(corio_mutex_trylock(NULL), UV_EINVAL);
  cr_assert_eq(corio_mutex_unlock(NULL), UV_EINVAL);
  cr_assert_eq(corio_mutex_destroy(NULL), UV_EINVAL);
  cr_assert_eq(corio_sem_acquire(NULL), UV_EINVAL);
  cr_assert_eq(corio_sem_acquire_dl(NULL, PAST), UV_EINVAL);
  cr_assert_eq(corio_sem_tryacquire(NULL), UV_EINVAL);
  cr_assert_eq(corio_sem_release(NULL, 1), UV_EINVAL);
  cr_assert_eq(corio_sem_destroy(NULL), UV_EINVAL);
  cr_assert_eq(corio_wg_add(NULL, 1), UV_EINVAL);
  cr_assert_eq(corio_wg_done(NULL), UV_EINVAL);
  cr_assert_eq(corio_wg_wait(NULL), UV_EINVAL);
  cr_assert_eq(corio_wg_wait_dl(NULL, PAST), UV_EINVAL);
  cr_assert_eq(corio_wg_destroy(NULL), UV_EINVAL);
  cr_assert_eq(corio_cond_wait(NULL, &m), UV_EINVAL);
  cr_assert_eq(corio_cond_wait_dl(NULL, &m, PAST), UV_EINVAL);
  cr_assert_eq(corio_cond_signal(NULL), UV_EINVAL);
  cr_assert_eq(corio_cond_broadcast(NULL), UV_EINVAL);
  cr_assert_eq(corio_cond_destroy(NULL), UV_EINVAL);
  cr_assert_eq(corio_cancel(NULL), UV_EINVAL);
}

/* A cancel is for a wait: calls that complete without waiting leave it
 * pending, and the first call that waits takes it. */
static void *cancel_waits_for_a_wait(void *arg) {
  corio_mutex_t m = CORIO_MUTEX_INITIALIZER;
  corio_sem_t s;
  corio_wg_t g = {{{0}}};
  corio_chan_t *ch;
  int v = 1;

  (void)arg;
  cr_assert_eq(corio_sem_init(&s, 1), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 1, &ch), 0);
  cr_assert_eq(corio_cancel(corio_self()), 0);
  cr_assert_eq(corio_mutex_lock(&m), 0, "free: no wait");
  cr_assert_eq(corio_sem_acquire(&s), 0, "count 1: no wait");
  cr_assert_eq(corio_wg_wait(&g), 0, "counter 0: no wait");
  cr_assert_eq(corio_chan_send(ch, &v), 0, "room: no wait");
  cr_assert_eq(corio_chan_recv(ch, &v), 0, "a value: no wait");
  cr_assert_eq(corio_sem_acquire(&s), UV_ECANCELED, "the first wait");
  cr_assert_eq(corio_sem_acquire_dl(&s, PAST), UV_ETIMEDOUT, "taken once");
  cr_assert_eq(corio_mutex_unlock(&m), 0);
  cr_assert_eq(corio_chan_free(ch), 0);
  return NULL;
}

Test(cancel, a_pending_cancel_is_kept_for_the_first_call_that_waits) {
  cr_assert_eq(corio_main(cancel_waits_for_a_wait, NULL, NULL, NULL), 0);
}

/* Where a call that has to wait is refused: a plain thread (the test's
 * own), the loop thread outside a task, a coroutine run inside a task. */

typedef struct {
  corio_mutex_t m, held;
  corio_sem_t empty;
  corio_wg_t busy;
  corio_cond_t c;
  corio_chan_t *ch;
  int results[10];
} refuse_t;

static void try_every_wait(refuse_t *r) {
  int v = 0, i = 0;
  corio_select_case_t cs[1] = {{r->ch, CORIO_RECV, &v, 0}};

  r->results[i++] = corio_mutex_lock(&r->held);
  r->results[i++] = corio_mutex_lock_dl(&r->held, corio_now() + 1000);
  r->results[i++] = corio_sem_acquire(&r->empty);
  r->results[i++] = corio_wg_wait(&r->busy);
  r->results[i++] = corio_chan_recv(r->ch, &v);
  r->results[i++] = corio_chan_send_dl(r->ch, &v, PAST);
  r->results[i++] = corio_select(cs, 1);
  r->results[i++] = corio_select(NULL, 0);
  /* cond_wait always waits: refused with m still locked */
  r->results[i++] = corio_mutex_trylock(&r->m);
  r->results[i++] = corio_cond_wait(&r->c, &r->m);
}

static void check_refused(refuse_t *r, const char *where) {
  for (int i = 0; i < 10; i++)
    if (i != 8)
      cr_assert_eq(r->results[i], UV_EINVAL, "%s: wait %d gave %d", where, i,
                   r->results[i]);
  cr_assert_eq(r->results[8], 0);
  cr_assert_eq(corio_mutex_trylock(&r->m), UV_EBUSY, "%s: m stays locked", where);
  cr_assert_eq(corio_mutex_unlock(&r->m), 0);
  cr_assert_eq(corio_chan_len(r->ch), 0, "%s: nothing sent", where);
  cr_assert_eq(corio_sem_destroy(&r->empty), 0, "%s: no waiter left", where);
  cr_assert_eq(corio_wg_destroy(&r->busy), 0);
  cr_assert_eq(corio_cond_destroy(&r->c), 0);
}

static void refuse_setup(refuse_t *r) {
  memset(r, 0, sizeof *r);
  cr_assert_eq(corio_mutex_trylock(&r->held), 0);
  cr_assert_eq(corio_wg_add(&r->busy, 1), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &r->ch), 0);
}

static void refuse_teardown(refuse_t *r) {
  cr_assert_eq(corio_mutex_unlock(&r->held), 0);
  cr_assert_eq(corio_wg_done(&r->busy), 0);
  cr_assert_eq(corio_chan_free(r->ch), 0);
}

Test(sync, waits_on_a_plain_thread_are_einval) {
  refuse_t r;

  refuse_setup(&r);
  try_every_wait(&r);
  check_refused(&r, "plain thread");
  refuse_teardown(&r);
}

static int waits_in_a_loop_callback(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  (void)loop;
  (void)aw;
  try_every_wait(arg);
  return UV_E2BIG; /* no request started: corio_await returns this at once */
}

static void *refused_on_the_loop_thread(void *arg) {
  refuse_t *r = arg;

  cr_assert_eq(corio_await(corio_current_rt(), waits_in_a_loop_callback, r, NULL),
               UV_E2BIG);
  check_refused(r, "loop thread");
  return NULL;
}

Test(sync, waits_on_the_loop_thread_outside_a_task_are_einval) {
  refuse_t r;

  refuse_setup(&r);
  cr_assert_eq(corio_main(refused_on_the_loop_thread, &r,
                          &(corio_rt_options_t){.workers = 1}, NULL), 0);
  refuse_teardown(&r);
}

static void *waits_in_a_coroutine(void *arg) {
  try_every_wait(arg);
  return NULL;
}

static void *refused_in_a_nested_coroutine(void *arg) {
  refuse_t *r = arg;
  corio_coro_t *co;

  cr_assert_eq(corio_coro_new(waits_in_a_coroutine, r, NULL, &co), 0);
  cr_assert_eq(corio_coro_resume(co, NULL, NULL), CORIO_CORO_FINISHED);
  cr_assert_eq(corio_coro_free(co), 0);
  check_refused(r, "coroutine in a task");
  return NULL;
}

Test(sync, waits_in_a_coroutine_run_by_a_task_are_einval) {
  refuse_t r;

  refuse_setup(&r);
  cr_assert_eq(corio_main(refused_in_a_nested_coroutine, &r, NULL, NULL), 0);
  refuse_teardown(&r);
}

/* --- condition variable: the mutex's rules, cancels while relocking ----- */

static void *waits_with_an_unlocked_mutex(void *arg) {
  corio_mutex_t m = CORIO_MUTEX_INITIALIZER;
  corio_cond_t c = {{{0}}};

  (void)arg;
  cr_assert_eq(corio_cond_wait(&c, &m), UV_EPERM);
  cr_assert_eq(corio_cond_wait_dl(&c, &m, corio_now() + 1000), UV_EPERM);
  cr_assert_eq(corio_cond_destroy(&c), 0, "it did not stay queued");
  cr_assert_eq(corio_mutex_trylock(&m), 0, "m was left alone");
  cr_assert_eq(corio_mutex_unlock(&m), 0);
  return NULL;
}

Test(cond, wait_with_an_unlocked_mutex_is_eperm) {
  cr_assert_eq(corio_main(waits_with_an_unlocked_mutex, NULL, NULL, NULL), 0);
}

typedef struct {
  corio_mutex_t m;
  corio_cond_t c;
  corio_sem_t never;
  _Atomic(int) locked;
  int first, second;
  uint64_t deadline;
} relock_t;

static void *cond_waits_then_waits_again(void *arg) {
  relock_t *x = arg;

  cr_assert_eq(corio_mutex_lock(&x->m), 0);
  atomic_store(&x->locked, 1);
  x->first = x->deadline != 0 ? corio_cond_wait_dl(&x->c, &x->m, x->deadline)
                              : corio_cond_wait(&x->c, &x->m);
  cr_assert_eq(corio_mutex_trylock(&x->m), UV_EBUSY, "back with the mutex");
  cr_assert_eq(corio_mutex_unlock(&x->m), 0);
  x->second = corio_sem_acquire_dl(&x->never, corio_now() + 50);
  return NULL;
}

/* Signalled, then cancelled while it waits to take the mutex back: the
 * wait reports the cancel. On one thread (loop_only) the order is sure:
 * a yield lets the signalled task run until it parks on the mutex. With
 * workers the cancel may come before it tries the mutex; the lock then
 * needs no wait, and the cancel is the next wait's. */
static void *cancels_while_relocking(void *arg) {
  int one_thread = arg != NULL;
  relock_t x;
  corio_task_t *t;

  memset(&x, 0, sizeof x);
  cr_assert_eq(corio_spawn(corio_current_rt(), cond_waits_then_waits_again, &x, &t), 0);
  while (!atomic_load(&x.locked))
    corio_yield();
  cr_assert_eq(corio_mutex_lock(&x.m), 0); /* ours once it waits on c */
  cr_assert_eq(corio_cond_signal(&x.c), 0);
  if (one_thread)
    corio_yield(); /* it runs, and parks on m */
  cr_assert_eq(corio_cancel(t), 0);
  cr_assert_eq(corio_mutex_unlock(&x.m), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  if (one_thread || x.first != 0) {
    cr_assert_eq(x.first, UV_ECANCELED);
    cr_assert_eq(x.second, UV_ETIMEDOUT, "one cancel, one wait");
  } else {
    cr_assert_eq(x.second, UV_ECANCELED, "kept for the next wait");
  }
  return NULL;
}

Test(cond, cancel_while_taking_the_mutex_back_is_reported) {
  cr_assert_eq(corio_main(cancels_while_relocking, (void *)1,
                          &(corio_rt_options_t){.loop_only = 1}, NULL), 0);
  cr_assert_eq(corio_main(cancels_while_relocking, NULL,
                          &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

/* Timed out, then cancelled while it waits to take the mutex back: the
 * wait reports the timeout and the cancel hits the next wait. */
static void *cancels_after_timeout_while_relocking(void *arg) {
  relock_t x;
  corio_task_t *t;

  (void)arg;
  memset(&x, 0, sizeof x);
  x.deadline = corio_now() + 5;
  cr_assert_eq(corio_spawn(corio_current_rt(), cond_waits_then_waits_again, &x, &t), 0);
  while (!atomic_load(&x.locked))
    corio_yield();
  cr_assert_eq(corio_mutex_lock(&x.m), 0);
  corio_sleep(30); /* its deadline passes while we hold the mutex */
  cr_assert_eq(corio_cancel(t), 0);
  cr_assert_eq(corio_mutex_unlock(&x.m), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  /* the cancel is not lost, whichever came first */
  if (x.first == UV_ETIMEDOUT)
    cr_assert_eq(x.second, UV_ECANCELED, "kept for the next wait");
  else
    cr_assert(x.first == UV_ECANCELED && x.second == UV_ETIMEDOUT,
              "first %d second %d", x.first, x.second);
  return NULL;
}

Test(cond, cancel_while_taking_the_mutex_back_after_a_timeout_is_kept) {
  cr_assert_eq(corio_main(cancels_after_timeout_while_relocking, NULL,
                          &(corio_rt_options_t){.workers = 2}, NULL), 0);
}
