/* The wait protocol (see wait.h). */
#include "wait.h"
#include "core/misuse.h"

#include <time.h>
#include <stdlib.h>
#include <uv.h>

#include "corio/rt.h"
#include "loop/timer.h"
#include "sched.h"

/* The token word: sequence number << SH | CANCEL_BIT (a cancel that
 * found no wait, for the next one) | state. One word, so that arming a
 * wait and noticing a pending cancel is a single CAS. */
#define SH 3
#define CANCEL_BIT 4u
#define STATE(w) ((w) & 3u)


void corio__wait_hint(int kind, const void *obj, uint64_t arg) {
  corio_task_t *t = corio_self();

  if (t == NULL)
    return;
  atomic_store_explicit(&t->wait_obj, (uintptr_t)obj, memory_order_relaxed);
  atomic_store_explicit(&t->wait_arg, arg, memory_order_relaxed);
  atomic_store_explicit(&t->wait_kind, kind, memory_order_relaxed);
}


/* When waits begin, for corio_rt_dump: a clock the schedulers refresh
 * now and then (corio__wait_clock_tick), read by every park as one
 * load. A clock read per park cost a twentieth of a channel hand-off. */
static _Atomic(uint64_t) wait_clock;

uint64_t corio__coarse_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}


void corio__wait_clock_tick(void) {
  atomic_store_explicit(&wait_clock, corio__coarse_ns(), memory_order_relaxed);
}


int corio__wait_begin(corio__waiter_t *w) {
  corio_task_t *t = corio_self();

  if (t == NULL || corio_coro_current() != t->co)
    return UV_EINVAL;
  w->task = t;
  w->link.next = w->link.prev = NULL;
  w->fired = 0;
  w->result = 0;
  w->data = NULL;
  /* Per task: a waker that holds an old sequence number (a timer, a
   * finishing task) cannot end a later wait. Nothing outlives the task's
   * memory: deadlines and joins are done with the task before its wait
   * returns (below, task.c). Owner-only counter, so no atomic is needed. */
  w->seq = ++t->wait_seq;
  /* Consume a pending cancel. Looked at first, as the RMW costs a locked
   * instruction on every wait: a cancel that comes after the look is
   * seen by the CAS that arms the wait (wait_park_fn), which ends it at
   * once with UV_ECANCELED. */
  if ((atomic_load_explicit(&t->wake_word, memory_order_relaxed) & CANCEL_BIT) &&
      (atomic_fetch_and_explicit(&t->wake_word, ~(uint64_t)CANCEL_BIT,
                                 memory_order_acq_rel) & CANCEL_BIT)) {
    atomic_store_explicit(&t->wait_kind, CORIO__WK_NONE, memory_order_relaxed);
    return UV_ECANCELED;
  }
  return 0;
}


/* The one CAS that ends wait `seq` of t: WAITING -> WOKEN. */
static int claim_seq(corio_task_t *t, uint64_t seq) {
  uint64_t expect = seq << SH | CORIO__WAIT_WAITING;

  /* acq_rel: the winner's writes (reason, handed-over data) and the
   * task's earlier writes */
  return atomic_compare_exchange_strong_explicit(
      &t->wake_word, &expect, seq << SH | CORIO__WAIT_WOKEN,
      memory_order_acq_rel, memory_order_relaxed);
}


static int try_end(corio_task_t *t, uint64_t seq, int reason) {
  if (!claim_seq(t, seq))
    return 0;
  t->wake_reason = reason;
  return 1;
}


int corio__wake_seq(corio_task_t *t, uint64_t seq, int reason) {
  if (!try_end(t, seq, reason))
    return 0;
  corio__ready(t);
  return 1;
}


int corio__wake(corio__waiter_t *w, int reason) {
  return corio__wake_seq(w->task, w->seq, reason);
}


int corio__wake_claim(corio__waiter_t *w) {
  return claim_seq(w->task, w->seq);
}


void corio__wake_commit(corio__waiter_t *w, int reason) {
  w->task->wake_reason = reason;
  corio__ready(w->task);
}


/* --- deadlines -------------------------------------------------------- */

/* A wait's deadline: a loop timer that, when it fires, tries to end wait
 * `seq` of `task` with UV_ETIMEDOUT. The task disarms it when its wait is
 * over, whatever ended it. If the timer has begun firing by then, the
 * firing still touches the task (its wake token, its readying), so the
 * task parks a second time and whichever of the two finishes second
 * readies it (`phase`); only then may the task go on and, one day, be
 * freed. The task frees the node, except when cancelled in time: then the
 * loop releases it. */
enum { DL_PENDING, DL_FIRED, DL_OWNER_WAITS };

typedef struct deadline {
  corio__timer_t timer;
  corio_task_t *task;
  uint64_t seq;
  _Atomic(int) phase;
} deadline_t;


static void deadline_fire(corio__timer_t *timer) {
  deadline_t *d = corio__container_of(timer, deadline_t, timer);
  corio_task_t *t = d->task;
  /* Fired before its time only when there was no memory to arm it (a
   * heap fires nothing early, so no clock is read here). */
  int reason = timer->early ? UV_ENOMEM : UV_ETIMEDOUT;

  corio__wake_seq(t, d->seq, reason);
  /* acq_rel: release ends our use of t and d for the owner; acquire sees
   * that the owner parked. After this exchange d may be freed. */
  if (atomic_exchange_explicit(&d->phase, DL_FIRED, memory_order_acq_rel) ==
      DL_OWNER_WAITS)
    corio__ready(t);
}


static void deadline_release(corio__timer_t *timer) {
  free(corio__container_of(timer, deadline_t, timer));
}


/* Deadlines go to the heap of the thread the waiting task is parked on:
 * its worker's (no hop: docs/DESIGN.md 3b) or the loop's. That thread
 * arms it too, in the park function. */
static corio__timer_heap_t *deadline_heap(corio_task_t *t) {
  corio__worker_t *w = corio__worker_current();

  return w != NULL && w->rt == t->rt ? &w->timers : &t->rt->lp->timers;
}


static void deadline_start(corio_task_t *t, deadline_t *d) {
  corio__worker_t *w = corio__worker_current();
  int err;

  if (d->timer.heap == &t->rt->lp->timers)
    err = corio__loop_timer_add(t->rt->lp, &d->timer);
  else
    err = corio__timer_heap_add(&w->timers, &d->timer);
  if (err != 0)
    corio__timer_fire_now(&d->timer); /* no memory: end the wait now */
}


static deadline_t *deadline_new(corio_task_t *t, uint64_t seq,
                                uint64_t deadline) {
  deadline_t *d = malloc(sizeof *d);

  if (d == NULL)
    return NULL;
  corio__timer_init(&d->timer, deadline_heap(t), deadline, deadline_fire,
                    deadline_release);
  d->task = t;
  d->seq = seq;
  atomic_init(&d->phase, DL_PENDING);
  return d;
}


static int wait_for_fire(corio_task_t *t, void *arg) {
  deadline_t *d = arg;
  int pending = DL_PENDING;

  (void)t;
  /* acq_rel: on failure, acquire sees the firing's end */
  return !atomic_compare_exchange_strong_explicit(
      &d->phase, &pending, DL_OWNER_WAITS, memory_order_acq_rel,
      memory_order_acquire);
}


static void deadline_disarm(deadline_t *d) {
  if (corio__timer_cancel(&d->timer))
    return; /* the loop releases it */
  if (atomic_load_explicit(&d->phase, memory_order_acquire) != DL_FIRED)
    corio__park(wait_for_fire, d);
  free(d);
}


/* --- parking ----------------------------------------------------------- */

typedef struct park_args {
  corio__waiter_t *w;
  void (*unlock)(void *);
  void *unlock_arg;
  uint64_t deadline;
  deadline_t *dl;
} park_args_t;


/* A time no later than now: on a worker, its last reading of the clock
 * (run_timers reads it before each pick while its heap holds
 * something), which saves a reading per timed wait. A deadline that
 * passed since is armed and fires at the next pick: never early. */
static uint64_t clock_lower_bound(void) {
  corio__worker_t *w = corio__worker_current();

  return w != NULL ? w->clock_seen : uv_hrtime();
}


/* On the worker, the task off its stack: only now may anyone wake it. Arm
 * the token, then look for a cancel that came before (corio_cancel stores
 * its flag, then reads the token; we store the token, then read the flag:
 * one of us sees the other), then the deadline, then let signallers in. */
static int wait_park_fn(corio_task_t *t, void *arg) {
  park_args_t *a = arg;
  /* Everything from the frame first: once the token is armed the task may
   * be readied and run anywhere, so neither *a nor the task's frame is
   * read again, except through unlock (whose lock the task needs before it
   * can go on, or whose await keeps the frame alive). */
  uint64_t seq = a->w->seq, deadline = a->deadline;
  void (*unlock)(void *) = a->unlock;
  void *unlock_arg = a->unlock_arg;
  deadline_t *dl = NULL;
  uint64_t old, want;
  int run_now = 0, reason = 0;

  if (deadline != CORIO__NO_DEADLINE) {
    if (deadline <= clock_lower_bound()) {
      run_now = 1;
      reason = UV_ETIMEDOUT;
    } else if ((dl = deadline_new(t, seq, deadline)) == NULL) {
      run_now = 1;
      reason = UV_ENOMEM;
    }
  }
  a->dl = dl; /* read by the task only once it is readied */
  old = atomic_load(&t->wake_word);
  for (;;) {
    int cancel = (old & CANCEL_BIT) != 0;
    want = seq << SH | (cancel || run_now ? CORIO__WAIT_WOKEN : CORIO__WAIT_WAITING);
    if (atomic_compare_exchange_weak(&t->wake_word, &old, want)) {
      if (cancel) {
        run_now = 1;
        reason = UV_ECANCELED;
      }
      break;
    }
  }
  if (run_now) {
    /* Nobody else can ready the task: the token never said WAITING. */
    t->wake_reason = reason;
    if (dl != NULL) {
      a->dl = NULL;
      free(dl); /* never started */
    }
  } else if (dl != NULL) {
    deadline_start(t, dl);
  }
  if (unlock != NULL)
    unlock(unlock_arg);
  return run_now;
}


int corio__wait_park_unlock(corio__waiter_t *w, void (*unlock)(void *),
                            void *arg, uint64_t deadline) {
  corio_task_t *t = w->task;
  park_args_t a = {w, unlock, arg, deadline, NULL};
  int reason;

  if (atomic_load_explicit(&t->wait_kind, memory_order_relaxed) == CORIO__WK_NONE)
    atomic_store_explicit(&t->wait_kind, CORIO__WK_OTHER, memory_order_relaxed);
  atomic_store_explicit(&t->wait_since, atomic_load_explicit(&wait_clock, memory_order_relaxed),
                        memory_order_relaxed);
  corio__park(wait_park_fn, &a);
  atomic_store_explicit(&t->wait_kind, CORIO__WK_NONE, memory_order_relaxed);
  reason = t->wake_reason;
  if (a.dl != NULL)
    deadline_disarm(a.dl);
  return reason;
}


static void spin_unlock_fn(void *lock) {
  corio__spin_unlock(lock);
}


typedef struct abandon_waiter {
  corio__waiter_t *w;
  corio__spin_t *lock;
} abandon_waiter_t;

/* The runtime abandons a task parked here: take its waiter off the
 * primitive's list (a no-op if it is on none). */
static void abandon_waiter(void *arg) {
  abandon_waiter_t *a = arg;

  corio__spin_lock(a->lock);
  corio__wlist_unlink(a->w);
  corio__spin_unlock(a->lock);
}


void corio__wait_on_abandon(corio__waiter_t *w, void (*fn)(void *), void *arg) {
  w->task->abandon_fn = fn;
  w->task->abandon_arg = arg;
}


int corio__wait_on_list(corio__wlist_t *wl, corio__spin_t *lock, int kind, const void *obj,
                        uint64_t arg, uint64_t deadline) {
  corio__waiter_t w;
  int err;

  if ((err = corio__wait_begin(&w)) != 0) {
    corio__spin_unlock(lock);
    return err;
  }
  corio__wait_what(&w, kind, obj, arg);
  corio__wlist_push(wl, &w);
  err = corio__wait_park(&w, lock, corio__deadline_ns(deadline));
  corio__spin_lock(lock);
  if (err != 0) {
    corio__wlist_unlink(&w);
    corio__spin_unlock(lock);
  }
  return err;
}


void corio__wake_all(corio__wlist_t *wl) {
  corio__waiter_t *w;

  while ((w = corio__wlist_pop(wl)) != NULL)
    corio__wake(w, 0);
}


int corio__wait_park(corio__waiter_t *w, corio__spin_t *lock, uint64_t deadline) {
  abandon_waiter_t a = {w, lock};
  int err;

  if (lock != NULL)
    corio__wait_on_abandon(w, abandon_waiter, &a);
  err = corio__wait_park_unlock(w, lock != NULL ? spin_unlock_fn : NULL, lock, deadline);
  w->task->abandon_fn = NULL;
  return err;
}


int corio_cancel(corio_task_t *t) {
  unsigned st;

  if (t == NULL)
    return UV_EINVAL;
  if (t != corio_self()) {
    st = atomic_load_explicit(&t->state, memory_order_acquire);
    if (st & CORIO__TASK_SPENT)
      return CORIO__MISUSE("corio_cancel", "the handle was joined or detached: it is gone");
    if ((st & (CORIO__TASK_DETACHED | CORIO__TASK_FINISHED)) == CORIO__TASK_DETACHED)
      return CORIO__MISUSE("corio_cancel",
                           "the task is detached and may be gone at any time; cancel it "
                           "through a group (corio/group.h), or let it cancel itself");
  }
  return corio__cancel(t);
}


int corio__cancel(corio_task_t *t) {
  uint64_t word;

  if (atomic_load_explicit(&t->state, memory_order_acquire) &
      CORIO__TASK_FINISHED)
    return 0; /* harmless */
  word = atomic_load(&t->wake_word);
  for (;;) {
    if (STATE(word) == CORIO__WAIT_WAITING) {
      if (corio__wake_seq(t, word >> SH, UV_ECANCELED))
        return 0;
      word = atomic_load(&t->wake_word);
      continue;
    }
    if (word & CANCEL_BIT)
      return 0;
    if (atomic_compare_exchange_weak(&t->wake_word, &word, word | CANCEL_BIT))
      return 0;
  }
}
