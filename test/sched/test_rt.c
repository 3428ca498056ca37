/* The runtime: spawn/join at scale across worker counts, joins in every
 * order, foreign threads, wake-ups that must not be lost, shutdown. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sched.h>
#include <string.h>

#include "corio.h"
#include "core/stack.h"
#include "sched/sched.h"
#include "sched/task.h"
#include "../support/sizes.h"

/* --- a one-waiter event built on the park protocol ---------------------- */

typedef struct event {
  _Atomic(uintptr_t) state; /* 0 empty, 1 signalled, else the parked task */
} event_t;

static int event_park(corio_task_t *self, void *arg) {
  event_t *ev = arg;
  uintptr_t expect = 0;

  if (atomic_compare_exchange_strong(&ev->state, &expect, (uintptr_t)self))
    return 0;
  atomic_store(&ev->state, 0); /* it was signalled: consume, run on */
  return 1;
}

static void event_wait(event_t *ev) {
  uintptr_t one = 1;

  if (atomic_compare_exchange_strong(&ev->state, &one, 0))
    return;
  corio__park(event_park, ev);
}

static void event_signal(event_t *ev) {
  for (;;) {
    uintptr_t s = atomic_load(&ev->state);
    if (s == 1)
      return;
    if (s == 0) {
      if (atomic_compare_exchange_strong(&ev->state, &s, 1))
        return;
    } else if (atomic_compare_exchange_strong(&ev->state, &s, 0)) {
      corio__ready((corio_task_t *)s);
      return;
    }
  }
}

/* --- spawn and join at scale -------------------------------------------- */

static void *returns_after_random_yields(void *arg) {
  uintptr_t i = (uintptr_t)arg;
  unsigned seed = (unsigned)i * 2654435761u;
  int yields = rand_r(&seed) % 4;

  while (yields-- > 0)
    corio_yield();
  return (void *)(i * 3);
}

typedef struct { size_t n, batch; } fanout_t;

static void *spawns_and_sums(void *arg) {
  fanout_t *f = arg;
  corio_task_t **t = calloc(f->batch, sizeof *t);
  uintptr_t sum = 0;
  size_t done, i;

  for (done = 0; done < f->n; done += f->batch) {
    for (i = 0; i < f->batch; i++)
      cr_assert_eq(corio_spawn(corio_current_rt(), returns_after_random_yields,
                               (void *)(done + i), &t[i]), 0);
    for (i = 0; i < f->batch; i++) {
      void *r;
      cr_assert_eq(corio_join(t[i], &r), 0);
      sum += (uintptr_t)r;
    }
  }
  free(t);
  return (void *)sum;
}

static void spawn_join_sum(unsigned workers) {
  corio_rt_options_t opts = {.workers = workers};
  fanout_t f = {.n = CORIO_TEST_MANY(100000), .batch = 1000};
  uintptr_t expect = 3 * (f.n * (f.n - 1) / 2);
  void *sum = NULL;

  if (CORIO_TEST_UNDER_TSAN)
    f.batch = 500;
  cr_assert_eq(corio_main(spawns_and_sums, &f, &opts, &sum), 0);
  cr_assert_eq((uintptr_t)sum, expect, "%u workers: sum %lu, expected %lu",
               workers, (unsigned long)(uintptr_t)sum, (unsigned long)expect);
}

Test(rt, spawn_join_100k_with_random_yields_1_worker, .timeout = 120) {
  spawn_join_sum(1);
}
Test(rt, spawn_join_100k_with_random_yields_2_workers, .timeout = 120) {
  spawn_join_sum(2);
}
Test(rt, spawn_join_100k_with_random_yields_4_workers, .timeout = 120) {
  spawn_join_sum(4);
}
Test(rt, spawn_join_100k_with_random_yields_8_workers, .timeout = 120) {
  spawn_join_sum(8);
}

/* --- joins in every order ----------------------------------------------- */

static void *returns_arg(void *arg) {
  return arg;
}

Test(rt, join_from_a_plain_thread_after_the_task_finished) {
  corio_rt_t *rt;
  corio_task_t *t;
  void *r = NULL;

  cr_assert_eq(corio_rt_new(NULL, &rt), 0);
  cr_assert_eq(corio_spawn(rt, returns_arg, (void *)42, &t), 0);
  cr_assert_eq(corio_rt_wait(rt), 0); /* finished, not joined */
  cr_assert_eq(corio_join(t, &r), 0);
  cr_assert_eq((uintptr_t)r, 42);
  cr_assert_eq(corio_rt_free(rt), 0);
}

static void *waits_for_event(void *arg) {
  event_wait(arg);
  return (void *)7;
}

typedef struct { event_t *ev; } delayed_t;

static void *signal_later(void *arg) {
  struct timespec ts = {0, 20 * 1000 * 1000};

  nanosleep(&ts, NULL);
  event_signal(arg);
  return NULL;
}

Test(rt, join_from_a_plain_thread_before_the_task_finished) {
  event_t ev = {0};
  corio_rt_t *rt;
  corio_task_t *t;
  pthread_t th;
  void *r = NULL;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, waits_for_event, &ev, &t), 0);
  pthread_create(&th, NULL, signal_later, &ev);
  cr_assert_eq(corio_join(t, &r), 0); /* blocks until the signal */
  cr_assert_eq((uintptr_t)r, 7);
  pthread_join(th, NULL);
  cr_assert_eq(corio_rt_free(rt), 0);
}

static void *joins_a_slow_and_a_fast_child(void *arg) {
  event_t ev = {0};
  corio_task_t *slow, *fast;
  void *a, *b;

  (void)arg;
  cr_assert_eq(corio_spawn(corio_current_rt(), waits_for_event, &ev, &slow), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), returns_arg, (void *)5, &fast), 0);
  /* fast has most likely finished by the time we join it; slow cannot
   * have, it waits for us */
  for (int i = 0; i < 10; i++)
    corio_yield();
  cr_assert_eq(corio_join(fast, &b), 0);
  event_signal(&ev);
  cr_assert_eq(corio_join(slow, &a), 0);
  return (void *)((uintptr_t)a * 10 + (uintptr_t)b);
}

Test(rt, join_inside_a_task_before_and_after_the_child_finished) {
  void *r = NULL;

  cr_assert_eq(corio_main(joins_a_slow_and_a_fast_child, NULL,
                          &(corio_rt_options_t){.workers = 2}, &r), 0);
  cr_assert_eq((uintptr_t)r, 75);
}

static void *joins_itself(void *arg) {
  (void)arg;
  return (void *)(intptr_t)corio_join(corio_self(), NULL);
}

static void *waits_for_its_runtime(void *arg) {
  (void)arg;
  return (void *)(intptr_t)corio_rt_wait(corio_current_rt());
}

Test(rt, misuse_is_einval) {
  void *r = NULL;

  cr_assert_eq(corio_yield(), UV_EINVAL);
  cr_assert_null(corio_self());
  cr_assert_null(corio_current_rt());
  cr_assert_eq(corio_join(NULL, NULL), UV_EINVAL);
  cr_assert_eq(corio_spawn(NULL, returns_arg, NULL, NULL), UV_EINVAL);
  cr_assert_eq(corio_rt_new(NULL, NULL), UV_EINVAL);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 100000},
                            &(corio_rt_t *){NULL}), UV_EINVAL);
  cr_assert_eq(corio_main(joins_itself, NULL, NULL, &r), 0);
  cr_assert_eq((intptr_t)r, UV_EINVAL);
  cr_assert_eq(corio_main(waits_for_its_runtime, NULL, NULL, &r), 0);
  cr_assert_eq((intptr_t)r, UV_EINVAL);
}

static _Atomic(int) detached_ran;

static void *counts(void *arg) {
  (void)arg;
  corio_yield();
  atomic_fetch_add(&detached_ran, 1);
  return NULL;
}

static void *spawns_detached(void *arg) {
  corio_task_t *t;
  int i;

  for (i = 0; i < (int)(uintptr_t)arg; i++) {
    cr_assert_eq(corio_spawn(corio_current_rt(), counts, NULL, &t), 0);
    if (i % 2 == 0) /* and a task born detached */
      cr_assert_eq(corio_spawn(corio_current_rt(), counts, NULL, NULL), 0);
    cr_assert_eq(corio_detach(t), 0); /* before or after it ends */
  }
  return NULL;
}

Test(rt, main_waits_for_detached_tasks) {
  atomic_store(&detached_ran, 0);
  cr_assert_eq(corio_main(spawns_detached, (void *)1000,
                          &(corio_rt_options_t){.workers = 2}, NULL), 0);
  cr_assert_eq(atomic_load(&detached_ran), 1500);
}

/* --- foreign threads ---------------------------------------------------- */

typedef struct { corio_rt_t *rt; int n; } spawner_t;

static void *spawns_from_a_thread(void *arg) {
  spawner_t *s = arg;
  int i;

  for (i = 0; i < s->n; i++)
    cr_assert_eq(corio_spawn(s->rt, counts, NULL, NULL), 0);
  return NULL;
}

Test(rt, spawning_from_foreign_threads) {
  enum { THREADS = 4 };
  spawner_t s;
  pthread_t th[THREADS];
  int i;

  atomic_store(&detached_ran, 0);
  s.n = CORIO_TEST_MANY(10000) / 4;
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &s.rt), 0);
  for (i = 0; i < THREADS; i++)
    pthread_create(&th[i], NULL, spawns_from_a_thread, &s);
  for (i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  cr_assert_eq(corio_rt_wait(s.rt), 0);
  cr_assert_eq(atomic_load(&detached_ran), THREADS * s.n);
  cr_assert_eq(corio_rt_free(s.rt), 0);
}

/* --- wake-ups ----------------------------------------------------------- */

typedef struct {
  event_t ping, pong;
  int rounds;
  _Atomic(int) count;
} pingpong_t;

static void *pinger(void *arg) {
  pingpong_t *p = arg;
  for (int i = 0; i < p->rounds; i++) {
    event_signal(&p->ping);
    event_wait(&p->pong);
  }
  return NULL;
}

static void *ponger(void *arg) {
  pingpong_t *p = arg;
  for (int i = 0; i < p->rounds; i++) {
    event_wait(&p->ping);
    atomic_fetch_add(&p->count, 1);
    event_signal(&p->pong);
  }
  return NULL;
}

/* Many pairs at once on 4 workers: tasks are readied on one worker and
 * stolen by another all the time. 100,000 hand-offs in all. */
Test(rt, ping_pong_hand_offs_are_never_lost, .timeout = 120) {
  enum { PAIRS = 8 };
  pingpong_t pp[PAIRS];
  corio_task_t *t[2 * PAIRS];
  corio_rt_t *rt;
  int i;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 4}, &rt), 0);
  for (i = 0; i < PAIRS; i++) {
    pp[i] = (pingpong_t){.rounds = CORIO_TEST_MANY(100000) / PAIRS};
    cr_assert_eq(corio_spawn(rt, pinger, &pp[i], &t[2 * i]), 0);
    cr_assert_eq(corio_spawn(rt, ponger, &pp[i], &t[2 * i + 1]), 0);
  }
  for (i = 0; i < 2 * PAIRS; i++)
    cr_assert_eq(corio_join(t[i], NULL), 0);
  for (i = 0; i < PAIRS; i++)
    cr_assert_eq(atomic_load(&pp[i].count), pp[i].rounds);
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* A plain thread and a task hand a token back and forth: every hand-off to
 * the task goes through the injection queue and wakes a parked worker. */
typedef struct {
  event_t to_task;
  _Atomic(uint32_t) to_thread;
  int rounds;
} thread_pong_t;

static void *answers_the_thread(void *arg) {
  thread_pong_t *p = arg;
  for (int i = 0; i < p->rounds; i++) {
    event_wait(&p->to_task);
    atomic_store(&p->to_thread, 1);
  }
  return NULL;
}

Test(rt, parked_workers_wake_for_work_from_a_plain_thread, .timeout = 120) {
  thread_pong_t p = {.rounds = CORIO_TEST_MANY(20000)};
  corio_rt_t *rt;
  corio_task_t *t;
  int i;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, answers_the_thread, &p, &t), 0);
  for (i = 0; i < p.rounds; i++) {
    event_signal(&p.to_task);
    while (atomic_exchange(&p.to_thread, 0) == 0)
      sched_yield();
  }
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

Test(rt, workers_asleep_for_a_while_wake_for_new_work) {
  struct timespec ts = {0, 30 * 1000 * 1000};
  corio_rt_t *rt;
  corio_task_t *t;
  void *r;
  int i;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 4}, &rt), 0);
  for (i = 0; i < 5; i++) {
    nanosleep(&ts, NULL); /* every worker parks */
    cr_assert_eq(corio_spawn(rt, returns_arg, (void *)(uintptr_t)i, &t), 0);
    cr_assert_eq(corio_join(t, &r), 0);
    cr_assert_eq((uintptr_t)r, (uintptr_t)i);
  }
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* --- shutdown ----------------------------------------------------------- */

static _Atomic(int) resumed_after_free;

static int park_forever(corio_task_t *self, void *arg) {
  (void)self;
  (void)arg;
  return 0; /* nobody will ever ready it */
}

static void *parks_forever(void *arg) {
  (void)arg;
  corio__park(park_forever, NULL);
  atomic_store(&resumed_after_free, 1);
  return NULL;
}

Test(rt, free_with_tasks_queued_suspended_and_unjoined) {
  corio_rt_t *rt;
  corio_task_t *unjoined, *suspended;
  int i;

  atomic_store(&detached_ran, 0);
  atomic_store(&resumed_after_free, 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, parks_forever, NULL, &suspended), 0);
  cr_assert_eq(corio_spawn(rt, returns_arg, NULL, &unjoined), 0);
  for (i = 0; i < 1000; i++)
    cr_assert_eq(corio_spawn(rt, counts, NULL, NULL), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
  /* Whatever had not run by now never will; nothing was resumed after. */
  cr_assert_leq(atomic_load(&detached_ran), 1000);
  cr_assert_eq(atomic_load(&resumed_after_free), 0);
}

/* --- starvation --------------------------------------------------------- */

/* Work readied by a task that then keeps its worker busy must not wait for
 * it: another worker takes it (from the injection queue after a yield, or
 * out of the busy worker's LIFO slot). The busy task spins until the other
 * has run, with a generous bound so that a failure ends the test. */
typedef struct {
  event_t go;
  _Atomic(int) ran;
  int mode;
} starve_t;

static void *runs_and_flags(void *arg) {
  starve_t *s = arg;

  event_wait(&s->go);
  atomic_store(&s->ran, 1);
  return NULL;
}

static void *readies_then_hogs(void *arg) {
  starve_t *s = arg;
  uint64_t give_up = uv_hrtime() + 10u * 1000000000u;

  if (s->mode == 0)
    corio_yield(); /* the waiter gets the slot; we go to the shared queue */
  event_signal(&s->go); /* the waiter lands in this worker's LIFO slot */
  while (!atomic_load(&s->ran) && uv_hrtime() < give_up)
    ;
  return (void *)(intptr_t)atomic_load(&s->ran);
}

static void starve_case(int mode) {
  starve_t s = {.mode = mode};
  corio_task_t *waiter, *hog;
  corio_rt_t *rt;
  void *ran;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, runs_and_flags, &s, &waiter), 0);
  /* let the waiter park before the hog starts */
  while (atomic_load(&s.go.state) == 0)
    sched_yield();
  cr_assert_eq(corio_spawn(rt, readies_then_hogs, &s, &hog), 0);
  cr_assert_eq(corio_join(hog, &ran), 0);
  cr_assert_eq((intptr_t)ran, 1, "the readied task ran while its readier was busy");
  cr_assert_eq(corio_join(waiter, NULL), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

Test(rt, task_readied_by_a_busy_task_runs_on_another_worker, .timeout = 60) {
  starve_case(1);
}

Test(rt, yield_then_ready_then_busy_does_not_starve, .timeout = 60) {
  starve_case(0);
}

/* Two tasks that ready each other forever cannot keep a third, queued on
 * the same single worker, from running (the LIFO slot's cap). */
typedef struct {
  event_t a, b;
  _Atomic(int) stop;
} pair_t;

static void *bounces_a(void *arg) {
  pair_t *p = arg;
  while (!atomic_load(&p->stop)) {
    event_signal(&p->b);
    event_wait(&p->a);
  }
  event_signal(&p->b);
  return NULL;
}

static void *bounces_b(void *arg) {
  pair_t *p = arg;
  while (!atomic_load(&p->stop)) {
    event_wait(&p->b);
    event_signal(&p->a);
  }
  event_signal(&p->a);
  return NULL;
}

static void *stops_them(void *arg) {
  atomic_store(&((pair_t *)arg)->stop, 1);
  return NULL;
}

/* Spawned from a task on one worker in this order, c lies deepest in the
 * worker's deque, under the pair: only the LIFO cap sending the pair to
 * the back of the shared queue lets the worker reach it. */
static void *spawns_pair_and_stopper(void *arg) {
  pair_t *p = arg;
  corio_task_t *a, *b, *c;
  corio_rt_t *rt = corio_current_rt();

  cr_assert_eq(corio_spawn(rt, stops_them, p, &c), 0);
  cr_assert_eq(corio_spawn(rt, bounces_b, p, &b), 0);
  cr_assert_eq(corio_spawn(rt, bounces_a, p, &a), 0);
  corio_join(c, NULL);
  corio_join(a, NULL);
  corio_join(b, NULL);
  return NULL;
}

Test(rt, a_ping_pong_pair_does_not_starve_a_third_task, .timeout = 60) {
  pair_t p;

  memset(&p, 0, sizeof p);
  cr_assert_eq(corio_main(spawns_pair_and_stopper, &p,
                          &(corio_rt_options_t){.workers = 1}, NULL), 0);
  cr_assert(atomic_load(&p.stop));
}

/* A task of one runtime joins a task of another. */
static void *waits_for_event_then_returns(void *arg) {
  (void)arg;
  for (int i = 0; i < 3; i++)
    corio_yield();
  return (void *)99;
}

static void *joins_across(void *arg) {
  corio_rt_t *other = arg;
  corio_task_t *t;
  void *r;

  cr_assert_eq(corio_spawn(other, waits_for_event_then_returns, NULL, &t), 0);
  cr_assert_eq(corio_join(t, &r), 0);
  return r;
}

Test(rt, a_task_joins_a_task_of_another_runtime) {
  corio_rt_t *other;
  void *r = NULL;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &other), 0);
  cr_assert_eq(corio_main(joins_across, other,
                          &(corio_rt_options_t){.workers = 1}, &r), 0);
  cr_assert_eq((uintptr_t)r, 99);
  cr_assert_eq(corio_rt_free(other), 0);
}

/* --- contracts: calls that must run in a task, or outside one ------------ */

static void *calls_main(void *arg) {
  (void)arg;
  return (void *)(intptr_t)corio_main(calls_main, NULL, NULL, NULL);
}

/* A misuse: the debug build aborts with a message, the release build
 * returns UV_EINVAL (core/misuse.h). */
Test(rt, main_inside_a_task_is_misuse, .signal = MISUSE_SIGNAL) {
  void *r = NULL;

  cr_assert_eq(corio_main(calls_main, NULL, &(corio_rt_options_t){.workers = 1},
                          &r), 0);
  cr_assert_eq((intptr_t)r, UV_EINVAL, "it would block a worker until itself ended");
}

/* --- joins that race the end of the joined task -------------------------- */

static void *ends_soon(void *arg) {
  unsigned spins = (unsigned)(uintptr_t)arg;

  for (unsigned i = 0; i < spins; i++)
    if (i % 64 == 0)
      corio_yield();
  return (void *)(uintptr_t)(spins + 1);
}

/* Joins with deadlines at the moment the joined task ends, and cancels of
 * the joiner: every join ends once, with the result or an error after
 * which the handle is still good. */
static void *joins_racing_the_end(void *arg) {
  unsigned n = (unsigned)(uintptr_t)arg, timeouts = 0;
  uint64_t seed = 88172645463325252ull;

  for (unsigned i = 0; i < n; i++) {
    corio_task_t *t;
    void *r = NULL;
    int err;

    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    cr_assert_eq(corio_spawn(corio_current_rt(), ends_soon,
                             (void *)(uintptr_t)(seed % 300), &t), 0);
    /* a deadline that has passed, is now, or is a millisecond away */
    err = corio_join_dl(t, &r, corio_now() + (seed >> 20) % 2 - (seed >> 24) % 2);
    if (err == UV_ETIMEDOUT) {
      timeouts++;
      cr_assert_eq(corio_join(t, &r), 0, "the handle survives a timed-out join");
    } else {
      cr_assert_eq(err, 0);
    }
    cr_assert_eq((uintptr_t)r, seed % 300 + 1);
  }
  return (void *)(uintptr_t)timeouts;
}

static void *joins_forever_then_retries(void *arg) {
  corio_task_t *t = arg;
  void *r = NULL;
  int err = corio_join(t, &r);

  if (err == UV_ECANCELED)
    err = corio_join(t, &r);
  cr_assert_eq(err, 0);
  return r;
}

static void *cancels_joiners_racing_the_end(void *arg) {
  unsigned n = (unsigned)(uintptr_t)arg;

  for (unsigned i = 0; i < n; i++) {
    corio_task_t *t, *joiner;
    void *r = NULL;

    corio_spawn(corio_current_rt(), ends_soon, (void *)(uintptr_t)(i % 200), &t);
    corio_spawn(corio_current_rt(), joins_forever_then_retries, t, &joiner);
    for (unsigned k = 0; k < i % 3; k++)
      corio_yield();
    corio_cancel(joiner);
    cr_assert_eq(corio_join(joiner, &r), 0);
    cr_assert_eq((uintptr_t)r, i % 200 + 1);
  }
  return NULL;
}

Test(rt, joins_racing_the_end_of_the_task_end_once, .timeout = 120) {
  unsigned n = CORIO_TEST_SLOW ? 2000 : 20000;
  corio_rt_t *rt;
  corio_task_t *a, *b;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, joins_racing_the_end, (void *)(uintptr_t)n, &a), 0);
  cr_assert_eq(corio_spawn(rt, cancels_joiners_racing_the_end,
                           (void *)(uintptr_t)(n / 4), &b), 0);
  cr_assert_eq(corio_join(a, NULL), 0);
  cr_assert_eq(corio_join(b, NULL), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* --- deadlines that fire while the wait ends otherwise ------------------- */

typedef struct {
  corio_sem_t sem;
  _Atomic(unsigned) taken, timed_out;
} race_sem_t;

static void *takes_with_deadline(void *arg) {
  race_sem_t *rs = arg;

  for (int i = 0; i < 200; i++) {
    int err = corio_sem_acquire_dl(&rs->sem, corio_now() + 1);
    if (err == 0)
      atomic_fetch_add(&rs->taken, 1);
    else if (err == UV_ETIMEDOUT)
      atomic_fetch_add(&rs->timed_out, 1);
    else
      cr_assert_fail("unexpected %d", err);
  }
  return NULL;
}

static void *gives_now_and_then(void *arg) {
  race_sem_t *rs = arg;

  for (int i = 0; i < 1000; i++) {
    corio_sem_release(&rs->sem, 1);
    corio_sleep((uint64_t)(i % 2));
  }
  return NULL;
}

/* A deadline that fires just as the semaphore hands over: the waiter ends
 * once (taken xor timed out), and no unit is lost or counted twice. */
Test(rt, deadlines_racing_wake_ups_lose_nothing, .timeout = 120) {
  race_sem_t rs = {0};
  corio_task_t *t[9];
  corio_rt_t *rt;
  int64_t left = 0;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  corio_sem_init(&rs.sem, 0);
  for (int i = 0; i < 8; i++)
    corio_spawn(rt, takes_with_deadline, &rs, &t[i]);
  corio_spawn(rt, gives_now_and_then, &rs, &t[8]);
  for (int i = 0; i < 9; i++)
    cr_assert_eq(corio_join(t[i], NULL), 0);
  cr_assert_eq(atomic_load(&rs.taken) + atomic_load(&rs.timed_out), 8u * 200u);
  while (corio_sem_tryacquire(&rs.sem) == 0)
    left++;
  cr_assert_eq((int64_t)atomic_load(&rs.taken) + left, 1000, "every unit once");
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* --- threads are named for what they are --------------------------------- */

static void *says_thread_name(void *arg) {
  char *name = arg;

  pthread_getname_np(pthread_self(), name, 16);
  return NULL;
}

Test(rt, threads_are_named_corio_loop_and_corio_w) {
  char on_worker[16] = "", on_loop[16] = "";
  corio_task_t *t;
  corio_rt_t *rt;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, says_thread_name, on_worker, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_spawn_on_loop(rt, says_thread_name, on_loop, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_str_eq(on_worker, "corio-w0");
  cr_assert_str_eq(on_loop, "corio-loop");
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* --- calls that would block a corio thread return UV_EINVAL -------------- */

static void *waits_for_a_runtime(void *arg) {
  return (void *)(intptr_t)corio_rt_wait(arg);
}

static void *frees_a_runtime(void *arg) {
  return (void *)(intptr_t)corio_rt_free(arg);
}

static void *naps_a_while(void *arg) {
  (void)arg;
  corio_sleep(20);
  return (void *)7;
}

static void *frees_from_a_plain_thread(void *arg) {
  return (void *)(intptr_t)corio_rt_free(arg);
}

Test(rt, blocking_runtime_calls_from_corio_threads_are_einval) {
  corio_rt_t *rt, *other;
  corio_task_t *t;
  void *r = NULL;
  uv_loop_t loop;
  pthread_t th;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &rt), 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &other), 0);
  /* from a task of another runtime: it would block that worker */
  cr_assert_eq(corio_spawn(rt, waits_for_a_runtime, other, &t), 0);
  cr_assert_eq(corio_join(t, &r), 0);
  cr_assert_eq((intptr_t)r, UV_EINVAL);
  cr_assert_eq(corio_spawn(rt, frees_a_runtime, other, &t), 0);
  cr_assert_eq(corio_join(t, &r), 0);
  cr_assert_eq((intptr_t)r, UV_EINVAL);
  /* owned mode, from its own loop thread: it would join itself */
  cr_assert_eq(corio_spawn_on_loop(rt, frees_a_runtime, rt, &t), 0);
  cr_assert_eq(corio_join(t, &r), 0);
  cr_assert_eq((intptr_t)r, UV_EINVAL);
  cr_assert_eq(corio_rt_free(other), 0);
  cr_assert_eq(corio_rt_free(rt), 0);

  /* attached mode: this thread is the loop thread */
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1, .loop = &loop}, &rt), 0);
  cr_assert_eq(corio_spawn(rt, naps_a_while, NULL, &t), 0);
  cr_assert_eq(corio_join(t, &r), UV_EINVAL, "joining here would stop the loop");
  cr_assert_eq(corio_rt_wait(rt), UV_EINVAL);
  cr_assert_eq(pthread_create(&th, NULL, frees_from_a_plain_thread, rt), 0);
  cr_assert_eq(pthread_join(th, &r), 0);
  cr_assert_eq((intptr_t)r, UV_EINVAL, "attached: only on the loop thread");
  cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(corio_join(t, &r), 0, "finished: no wait, so it works here");
  cr_assert_eq((intptr_t)r, 7);
  cr_assert_eq(corio_rt_free(rt), 0);
  cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

/* --- corio_rt_wait counts tasks per thread (tally.h): never early -------- */

static _Atomic(unsigned) tree_done;

static void *detached_tree(void *arg) {
  uintptr_t depth = (uintptr_t)arg;

  if (depth > 0)
    for (int i = 0; i < 3; i++)
      corio_spawn(corio_current_rt(), detached_tree, (void *)(depth - 1), NULL);
  if (depth % 2)
    corio_yield();
  atomic_fetch_add(&tree_done, 1);
  return NULL;
}

/* 1 + 3 + 9 + 27 + 81 tasks, each spawned detached by its parent, which
 * may finish first on another worker: corio_main (corio_rt_wait) returns
 * only once every one of them has finished. */
Test(rt, wait_returns_only_after_every_detached_task, .timeout = 120) {
  unsigned rounds = CORIO_TEST_SLOW ? 40 : 300;

  for (unsigned r = 0; r < rounds; r++) {
    corio_rt_options_t o = {.workers = 1 + r % 4, .loop_only = r % 5 == 0};
    atomic_store(&tree_done, 0);
    cr_assert_eq(corio_main(detached_tree, (void *)4, &o, NULL), 0);
    cr_assert_eq(atomic_load(&tree_done), 121u, "round %u", r);
  }
}

/* --- locality: a message-passing pair stays on one worker ---------------- */

typedef struct chat_pair {
  corio_chan_t *ping, *pong;
  long rounds;
  _Atomic(long) moves;          /* hand-offs that found the other side on another thread */
  _Atomic(pthread_t) last;
} chat_pair_t;

static void note_thread(chat_pair_t *p) {
  pthread_t me = pthread_self(), prev = atomic_exchange(&p->last, me);

  if (!pthread_equal(prev, me))
    atomic_fetch_add(&p->moves, 1);
}

static void *pongs(void *arg) {
  chat_pair_t *p = arg;
  int v;

  for (long i = 0; i < p->rounds; i++) {
    corio_chan_recv(p->ping, &v);
    note_thread(p);
    corio_chan_send(p->pong, &v);
  }
  return NULL;
}

static void *pings(void *arg) {
  chat_pair_t *p = arg;
  corio_task_t *t;
  int v = 1;

  corio_spawn(corio_current_rt(), pongs, p, &t);
  for (long i = 0; i < p->rounds; i++) {
    corio_chan_send(p->ping, &v);
    corio_chan_recv(p->pong, &v);
    note_thread(p);
  }
  corio_join(t, NULL);
  return NULL;
}

/* The pair readies each other through the LIFO slot: on 2 workers it
 * stays on one (a task moves only when its time slice of about a
 * millisecond runs out, or at the start), instead of bouncing between
 * cores every few hand-offs. */
Test(rt, a_ping_pong_pair_does_not_migrate, .timeout = 120) {
  chat_pair_t p = {.rounds = CORIO_TEST_SLOW ? 20000 : 200000};
  uint64_t t0 = uv_hrtime(), ms;
  long allowed;

  atomic_init(&p.last, pthread_self());
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &p.ping), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &p.pong), 0);
  cr_assert_eq(corio_main(pings, &p, &(corio_rt_options_t){.workers = 2}, NULL), 0);
  /* The time slice ends at most once a millisecond, and may move the
   * pair then: allow two changes per millisecond (slow builds, emulators)
   * on top of 1% of the hand-offs. */
  ms = (uv_hrtime() - t0) / 1000000u;
  allowed = p.rounds / 100 + 2 * (long)ms;
  cr_assert_lt(atomic_load(&p.moves), allowed,
               "%ld thread changes in %ld hand-offs over %lu ms",
               atomic_load(&p.moves), 2 * p.rounds, (unsigned long)ms);
  corio_chan_free(p.ping);
  corio_chan_free(p.pong);
}

/* A bare corio_coro_yield in a task's own body (not corio_yield) after a
 * park hands the worker back like a yield: it does not re-run the last
 * park function (which left the task waiting forever). */
static void *coro_yields_after_a_park(void *arg) {
  (void)arg;
  corio_sleep(1);
  corio_coro_yield(NULL, NULL);
  corio_coro_yield(NULL, NULL);
  return (void *)5;
}

Test(rt, bare_coro_yield_in_a_task_acts_as_a_yield, .timeout = 30) {
  void *r = NULL;

  cr_assert_eq(corio_main(coro_yields_after_a_park, NULL,
                          &(corio_rt_options_t){.workers = 1}, &r), 0);
  cr_assert_eq((intptr_t)r, 5);
  cr_assert_eq(corio_main(coro_yields_after_a_park, NULL,
                          &(corio_rt_options_t){.loop_only = 1}, &r), 0);
  cr_assert_eq((intptr_t)r, 5);
}

/* --- deadlines due at once run earliest first ------------------------------ */

#define DUE_N 8
#define DUE_FIRST 4             /* due at +1..+4 ms; the rest at +21..+24 */

typedef struct due_order {
  _Atomic(int) next;            /* order of resumption */
  int rank[DUE_N];              /* sleeper i resumed rank[i]-th */
  _Atomic(int) armed;
  uint64_t base;                /* uv_hrtime() before any sleeper armed */
} due_order_t;

typedef struct due_sleeper {
  due_order_t *o;
  int i;
} due_sleeper_t;

static uint64_t due_ms(int i) {
  return (uint64_t)(i < DUE_FIRST ? i + 1 : 20 + i - DUE_FIRST + 1);
}

static void *due_sleep(void *arg) {
  due_sleeper_t *s = arg;
  int rank;

  atomic_fetch_add(&s->o->armed, 1);
  corio_sleep(due_ms(s->i));
  rank = atomic_fetch_add(&s->o->next, 1);
  s->o->rank[s->i] = rank;
  if (rank == 0) { /* hold the worker until the later ones are due too */
    uint64_t until = s->o->base + (due_ms(DUE_N - 1) + 2) * 1000000u;
    while (uv_hrtime() < until) {
    }
  }
  return NULL;
}

/* On one worker: sleepers armed latest first, then a task that keeps the
 * worker until the first four deadlines have passed, so that they come
 * due in one firing; the first of them to run keeps the worker until the
 * other four are due, so that they come due in a second firing. All must
 * resume in deadline order: within a firing (through the LIFO slot they
 * ran latest first) and across firings (through the deque's newest end
 * the second firing ran before the rest of the first). */
static void *due_main(void *arg) {
  due_order_t *o = arg;
  due_sleeper_t s[DUE_N];
  corio_task_t *t[DUE_N];
  uint64_t until;

  o->base = uv_hrtime();
  for (int i = DUE_N - 1; i >= 0; i--) {
    s[i] = (due_sleeper_t){o, i};
    cr_assert_eq(corio_spawn(corio_current_rt(), due_sleep, &s[i], &t[i]), 0);
  }
  while (atomic_load(&o->armed) < DUE_N)
    corio_yield();
  corio_yield(); /* the last one parks */
  until = uv_hrtime() + (due_ms(DUE_FIRST - 1) + 1) * 1000000u;
  while (uv_hrtime() < until) {
  } /* hold the worker: no timer runs meanwhile */
  for (int i = 0; i < DUE_N; i++)
    corio_join(t[i], NULL);
  return NULL;
}

Test(rt, deadlines_due_at_once_run_earliest_first) {
  for (int round = 0; round < 3; round++) {
    due_order_t o = {0};

    cr_assert_eq(corio_main(due_main, &o, &(corio_rt_options_t){.workers = 1}, NULL), 0);
    for (int i = 0; i < DUE_N; i++)
      cr_assert_eq(o.rank[i], i, "round %d: sleeper %d (due at +%d ms) resumed %d-th",
                   round, i, (int)due_ms(i), o.rank[i]);
  }
}


/* --- locality: a joiner resumes where it waited ----------------------------- */

/* The kernel's id of the calling thread, asked afresh (pthread_self may be
 * folded across a suspension: docs/DESIGN.md 3a). */
static long thread_id(void) {
  return syscall(SYS_gettid);
}

static void spin_us(uint64_t us) {
  uint64_t end = uv_hrtime() + us * 1000u;

  while (uv_hrtime() < end) {
  }
}

typedef struct far_child {
  _Atomic(long) ran_on;         /* its thread, once started */
} far_child_t;

static void *runs_far_away(void *arg) {
  far_child_t *c = arg;

  atomic_store(&c->ran_on, thread_id());
  spin_us(300);
  return NULL;
}

static void *keeps_busy(void *arg) {
  spin_us(20);
  return arg;
}

static void *joins_a_stolen_child(void *arg) {
  enum { ROUNDS = 200, KEEPERS = 40 };
  long *moves_and_rounds = arg, me;
  corio_task_t *child, *keeper[KEEPERS];
  far_child_t c;
  uint64_t until;
  int i;

  for (int r = 0; r < ROUNDS; r++) {
    atomic_init(&c.ran_on, 0);
    me = thread_id();
    cr_assert_eq(corio_spawn(corio_current_rt(), runs_far_away, &c, &child), 0);
    /* Hold this worker until the other one has taken the child. */
    until = uv_hrtime() + 5000000u;
    while (atomic_load(&c.ran_on) == 0 && uv_hrtime() < until) {
    }
    /* Work that keeps this worker awake while we wait. */
    for (i = 0; i < KEEPERS; i++)
      cr_assert_eq(corio_spawn(corio_current_rt(), keeps_busy, NULL, &keeper[i]), 0);
    cr_assert_eq(corio_join(child, NULL), 0);
    if (atomic_load(&c.ran_on) != 0 && atomic_load(&c.ran_on) != me) {
      moves_and_rounds[1]++;
      if (thread_id() != me)
        moves_and_rounds[0]++;
    }
    for (i = 0; i < KEEPERS; i++)
      cr_assert_eq(corio_join(keeper[i], NULL), 0);
  }
  return NULL;
}

/* A task that waits in a join for a child another worker ran goes on
 * where it waited, if that worker is awake: its stack and the tasks it
 * spawned are warm there (lib/sched/worker.c, corio__ready_home). Without
 * that, it went on where the child ended, nearly every round. */
Test(rt, a_joiner_resumes_on_the_worker_it_waited_on, .timeout = 60) {
  long moves_and_rounds[2] = {0, 0};

  cr_assert_eq(corio_main(joins_a_stolen_child, moves_and_rounds,
                          &(corio_rt_options_t){.workers = 2}, NULL), 0);
  cr_assert_gt(moves_and_rounds[1], 20, "the child ran on the other worker in %ld rounds",
               moves_and_rounds[1]);
  cr_assert_leq(moves_and_rounds[0], moves_and_rounds[1] / 10,
                "the joiner moved in %ld of %ld rounds", moves_and_rounds[0],
                moves_and_rounds[1]);
}


/* A joiner sent home to a worker that is awake but then stays in one
 * long task is taken back by the worker where its child ended (it would
 * otherwise wait for the long task's end). The long task runs until the
 * joiner has resumed, or 3 s: it must end by the first. */
static _Atomic(int) far_started, joiner_back;
static void *fills_a_queue(void *arg);

/* Keeps its worker busy until the joiner is back, or 100 ms. */
static void *fills_a_queue(void *arg) {
  uint64_t cap = uv_hrtime() + 100000000u;

  while (!atomic_load(&joiner_back) && uv_hrtime() < cap) {
  }
  return arg;
}

static void *queues_work_and_ends(void *arg) {
  atomic_store(&far_started, 1);
  spin_us(2000);
  for (int i = 0; i < 40; i++) /* 4 s of work of its worker's own */
    cr_assert_eq(corio_spawn(corio_current_rt(), fills_a_queue, NULL, NULL), 0);
  return arg;
}

static void *long_until_the_joiner_is_back(void *arg) {
  uint64_t cap = uv_hrtime() + 3000000000u;

  while (!atomic_load(&joiner_back) && uv_hrtime() < cap) {
  }
  return (void *)(uintptr_t)atomic_load(&joiner_back);
  (void)arg;
}

static void *joins_while_home_is_stuck(void *arg) {
  corio_task_t *child, *stuck;
  void *ended_by_flag;
  int *rounds_ok = arg;

  for (int r = 0; r < 20 && *rounds_ok < 3; r++) {
    uint64_t until = uv_hrtime() + 50000000u;
    long me = thread_id();

    atomic_store(&far_started, 0);
    atomic_store(&joiner_back, 0);
    cr_assert_eq(corio_spawn(corio_current_rt(), queues_work_and_ends, NULL, &child), 0);
    while (!atomic_load(&far_started) && uv_hrtime() < until) {
    }
    if (!atomic_load(&far_started) || thread_id() != me) {
      atomic_store(&joiner_back, 1); /* not taken by the other worker: */
      corio_join(child, NULL);       /* no round */
      continue;
    }
    /* runs here, on the worker the join waits on, once we park */
    cr_assert_eq(corio_spawn(corio_current_rt(), long_until_the_joiner_is_back, NULL, &stuck), 0);
    cr_assert_eq(corio_join(child, NULL), 0);
    atomic_store(&joiner_back, 1);
    cr_assert_eq(corio_join(stuck, &ended_by_flag), 0);
    if (ended_by_flag != NULL)
      (*rounds_ok)++;
    else {
      *rounds_ok = -1;
      break;
    }
  }
  return NULL;
}

Test(rt, a_joiner_sent_home_to_a_stuck_worker_is_taken_back, .timeout = 60) {
  int rounds_ok = 0;

  cr_assert_eq(corio_main(joins_while_home_is_stuck, &rounds_ok,
                          &(corio_rt_options_t){.workers = 2}, NULL), 0);
  cr_assert_geq(rounds_ok, 0, "the joiner waited for the long task to end (%d)", rounds_ok);
  if (rounds_ok == 0)
    cr_skip_test("no round had the child on the other worker (a loaded machine)");
}


/* --- stacks: reserved at spawn, given back at the end -------------------- */

/* Where its frame is: the stack it runs on. */
static void *stack_address(void *arg) {
  return __builtin_frame_address(0);
  (void)arg;
}

static void *finished_stacks_are_reused(void *arg) {
  corio_task_t *first, *second;
  void *a, *b;
  int rounds = 0;

  (void)arg;
  cr_assert_eq(corio_spawn(corio_current_rt(), stack_address, NULL, &first), 0);
  /* let it run to its end, unjoined */
  while (!(atomic_load(&first->state) & CORIO__TASK_FINISHED) && rounds++ < 1000)
    corio_yield();
  cr_assert(atomic_load(&first->state) & CORIO__TASK_FINISHED);
  cr_assert_eq(corio_spawn(corio_current_rt(), stack_address, NULL, &second), 0);
  cr_assert_eq(corio_join(second, &b), 0);
  cr_assert_eq(corio_join(first, &a), 0);
  return (void *)(uintptr_t)(a == b);
}

/* A task gives its stack back when it ends, not when it is joined: the
 * next task to run on that worker runs on it, still warm in the CPU's
 * caches (lib/sched/task.h). */
Test(rt, a_finished_task_gives_its_stack_back_before_its_join) {
  void *same = NULL;

  cr_assert_eq(corio_main(finished_stacks_are_reused, NULL,
                          &(corio_rt_options_t){.workers = 1}, &same), 0);
  cr_assert_eq((uintptr_t)same, 1, "the second task ran on the first one's stack");
}

static _Atomic(long) ran;

static void *counts_a_run(void *arg) {
  atomic_fetch_add(&ran, 1);
  return arg;
}

static void *spawns_until_enomem(void *arg) {
  enum { CAP = 70000 };
  corio_task_t **t = calloc(CAP, sizeof *t);
  long n = 0, i;
  int err = 0;

  (void)arg;
  cr_assert_not_null(t);
  /* One worker, and this task does not let go: none of them has run, so
   * only reserved stacks are in use. */
  while (n < CAP && (err = corio_spawn(corio_current_rt(), counts_a_run, NULL, &t[n])) == 0)
    n++;
  cr_assert_eq(err, UV_ENOMEM, "spawning stops with UV_ENOMEM (got %d after %ld)", err, n);
  cr_assert_gt(n, 1000);
  for (i = 0; i < n; i++)
    cr_assert_eq(corio_join(t[i], NULL), 0);
  cr_assert_eq(atomic_load(&ran), n, "every task that was spawned ran");
  /* The stacks are back: spawning works again. */
  cr_assert_eq(corio_spawn(corio_current_rt(), counts_a_run, NULL, &t[0]), 0);
  cr_assert_eq(corio_join(t[0], NULL), 0);
  free(t);
  return NULL;
}

/* A spawn reserves its task's stack: when no stack can be mapped (the
 * kernel's vm.max_map_count: each guarded stack costs two mappings) the
 * spawn fails with UV_ENOMEM, and every task it did accept runs. */
Test(rt, a_spawn_without_a_stack_is_enomem_and_the_others_run, .timeout = 120) {
  if (CORIO_TEST_UNDER_TSAN)
    cr_skip_test("TSan allows 8128 fibers, fewer than the mapping limit");
  if (CORIO_TEST_UNDER_VALGRIND)
    cr_skip_test("Valgrind tracks fewer segments than the mapping limit");
  cr_assert_eq(corio_main(spawns_until_enomem, NULL,
                          &(corio_rt_options_t){.workers = 1, .stack_size = CORIO_STACK_MIN},
                          NULL), 0);
  corio_stack_cache_drain();
}


/* --- work queued without a fence is watched ------------------------------ */

static _Atomic(int) second_ran;

static void *sets_second_ran(void *arg) {
  atomic_store(&second_ran, 1);
  return arg;
}

static uint64_t parks_so_far(void) {
  corio_rt_metrics_t m;
  corio_worker_metrics_t w[2];
  cr_assert_eq(corio_rt_metrics(corio_current_rt(), &m, w, 2), 0);
  return w[0].parks + w[1].parks;
}

/* In one run (no yield): the first spawn pays the fence and wakes the
 * other worker, which runs it and parks again; the second spawn's notify
 * is made blind to it (as to a parker whose announcement is not visible
 * yet). Only the watch gets the second child run while this task keeps
 * its worker busy. Returns 1 if it ran, 0 if it never did, -1 if the
 * setup did not happen (the other worker never took the first). */
static void *spawns_while_the_other_parks(void *arg) {
  corio_task_t *first, *second;
  uint64_t until = uv_hrtime() + 5000000000u, parks;
  void *r = (void *)(intptr_t)-1;

  (void)arg;
  atomic_store(&second_ran, 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), counts_a_run, NULL, &first), 0);
  while (!(atomic_load(&first->state) & CORIO__TASK_FINISHED) && uv_hrtime() < until) {
  }
  parks = parks_so_far();
  while (parks_so_far() == parks && uv_hrtime() < until) {
  }
  if (parks_so_far() != parks) {
    atomic_store(&corio__test_unfenced_blind, 1);
    cr_assert_eq(corio_spawn(corio_current_rt(), sets_second_ran, NULL, &second), 0);
    until = uv_hrtime() + 10000000000u;
    while (!atomic_load(&second_ran) && uv_hrtime() < until) {
    }
    atomic_store(&corio__test_unfenced_blind, 0);
    r = (void *)(intptr_t)atomic_load(&second_ran);
    corio_join(second, NULL);
  }
  corio_join(first, NULL);
  return r;
}

/* A parked worker that cannot see work queued by a task run that skipped
 * the notify fence still looks within LIFO_WATCH_NS (lib/sched/worker.c,
 * notify_from_worker): the task does not wait for its spawner's run to
 * end. Fails (after 10 s) without the watch. */
Test(rt, work_queued_without_a_fence_is_found_by_a_parked_worker, .timeout = 60) {
  void *r = NULL;

  cr_assert_eq(corio_main(spawns_while_the_other_parks, NULL,
                          &(corio_rt_options_t){.workers = 2}, &r), 0);
  if ((intptr_t)r == -1)
    cr_skip_test("the other worker never took the first child (a loaded machine)");
  cr_assert_eq((intptr_t)r, 1, "the second child never ran while its spawner was busy");
}



/* --- a stolen task's stack goes home -------------------------------------- */

static void *spawns_rounds_and_counts_the_pool(void *arg) {
  enum { ROUNDS = 200, BATCH = 100 };
  corio_task_t *t[BATCH];
  corio_rt_metrics_t m;
  corio_worker_metrics_t w[2];
  size_t *pooled = arg;

  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < BATCH; i++)
      cr_assert_eq(corio_spawn(corio_current_rt(), counts_a_run, NULL, &t[i]), 0);
    for (int i = 0; i < BATCH; i++)
      corio_join(t[i], NULL);
    if (corio__stack_shared_count() > *pooled)
      *pooled = corio__stack_shared_count();
  }
  cr_assert_eq(corio_rt_metrics(corio_current_rt(), &m, w, 2), 0);
  return (void *)(uintptr_t)(w[0].tasks_stolen + w[1].tasks_stolen);
}

/* The spawner reserves a stack from its cache; a thief runs the task on a
 * hot stack of its own and keeps the reserved one. When the task ends, a
 * cold stack of the thief's rides home with the record (corio__task_end),
 * so stacks do not pile up at the thief and flow back through the shared
 * pool, under its lock. With 100 tasks in flight, both workers' caches
 * (256 of each kind) hold them all: nothing reaches the pool. */
Test(rt, a_stolen_task_sends_a_stack_home_with_its_record, .timeout = 60) {
  size_t pooled = 0;
  void *stolen = NULL;

  corio_stack_cache_drain(); /* the pool starts empty */
  cr_assert_eq(corio_main(spawns_rounds_and_counts_the_pool, &pooled,
                          &(corio_rt_options_t){.workers = 2}, &stolen), 0);
  if ((uintptr_t)stolen < 1000)
    cr_skip_test("only %lu tasks were stolen (a loaded machine)", (unsigned long)(uintptr_t)stolen);
  cr_assert_eq(pooled, 0, "%zu stacks went through the shared pool (%lu stolen)", pooled,
               (unsigned long)(uintptr_t)stolen);
}

static void *leaves_finished_tasks_unjoined(void *arg) {
  enum { N = 20000, BATCH = 100 };
  corio_task_t **t = calloc(N, sizeof *t);
  corio_rt_metrics_t m;
  corio_worker_metrics_t w[2];
  uint64_t *out = arg;

  cr_assert_not_null(t);
  for (int i = 0; i < N; i += BATCH) {
    for (int j = i; j < i + BATCH; j++)
      cr_assert_eq(corio_spawn(corio_current_rt(), counts_a_run, NULL, &t[j]), 0);
    for (int j = i; j < i + BATCH; j++)
      for (int spins = 0; !(atomic_load(&t[j]->state) & CORIO__TASK_FINISHED); spins++) {
        cr_assert_lt(spins, 1000000, "task %d never ran", j);
        corio_yield();
      }
  }
  cr_assert_eq(corio_rt_metrics(corio_current_rt(), &m, w, 2), 0);
  out[0] = m.stacks_mapped;
  out[1] = w[0].tasks_stolen + w[1].tasks_stolen;
  for (int j = 0; j < N; j++)
    corio_join(t[j], NULL);
  free(t);
  return NULL;
}

/* Records that wait long for their join do not hold a stack each: the
 * carry home is bounded by the spawner's budget (CORIO__CARRY_MAX), and
 * the rest of the stacks keep going round the caches. Unbounded, 20,000
 * finished and unjoined tasks kept about 16,500 stacks mapped (with guard
 * pages, 32,000 is where a spawn meets UV_ENOMEM). */
Test(rt, finished_unjoined_tasks_hold_a_bounded_number_of_stacks, .timeout = 120) {
  uint64_t out[2] = {0, 0};

  corio_stack_cache_drain();
  cr_assert_eq(corio_main(leaves_finished_tasks_unjoined, out,
                          &(corio_rt_options_t){.workers = 2}, NULL), 0);
  if (out[1] < 5000)
    cr_skip_test("only %lu tasks were stolen (a loaded machine)", (unsigned long)out[1]);
  cr_assert_lt(out[0], 4 * CORIO__CARRY_MAX, "%lu stacks mapped for 20,000 finished tasks (%lu stolen)",
               (unsigned long)out[0], (unsigned long)out[1]);
}
