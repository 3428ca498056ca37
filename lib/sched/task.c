/* Tasks: spawn, join, detach, yield, and what happens when one finishes.
 *
 * Joining is a small protocol under the task's own join_lock (one word in
 * the task's record, so nothing is shared between tasks): the finisher
 * sets FINISHED and takes the joiner, if any; a joining task registers
 * itself and parks with the lock released by its park function
 * (docs/DESIGN.md 3); a joiner that gives up (deadline, cancel) takes the
 * lock again and withdraws before it returns, so the finisher never
 * touches a frame that is gone. Detach and finish meet under the same
 * lock: exactly one of them frees the task. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <uv.h>

#include "corio/rt.h"
#include "sched.h"
#include "wait.h"
#include "core/misuse.h"
#include "core/pool.h"


/* --- where a task is counted and listed (tally.h) ---------------------- */

enum { ON_WORKER, ON_LOOP, FOREIGN };

/* The calling thread's tally, and which kind of thread this is for rt:
 * only a worker or the loop thread owns its tally (writes it alone). */
static corio__tally_t *my_tally(corio_rt_t *rt, int *where) {
  corio__worker_t *w = corio__worker_current();

  if (w != NULL && w->rt == rt) {
    *where = ON_WORKER;
    return &w->tally;
  }
  if (corio__loop_rt() == rt) {
    *where = ON_LOOP;
    return &rt->loop_tally;
  }
  *where = FOREIGN;
  return &rt->foreign_tally;
}


static void reg_add(corio__tally_t *home, corio_task_t *t) {
  t->home = home;
  if (home->owned) {
    corio__list_push_front(&home->tasks, &t->reg);
    return;
  }
  corio__spin_lock(&home->lock);
  corio__list_push_front(&home->tasks, &t->reg);
  corio__spin_unlock(&home->lock);
}


/* A stack came home in a record of this tally's (corio__task_end):
 * owner only. */
static void carried_back(corio__tally_t *home) {
  if (++home->carried_back < CORIO__CARRY_BATCH)
    return;
  atomic_fetch_add_explicit(&home->carry_budget, home->carried_back, memory_order_relaxed);
  home->carried_back = 0;
}


static void release(corio_task_t *t) {
  unsigned state = atomic_load_explicit(&t->state, memory_order_relaxed);

  atomic_store_explicit(&t->state, CORIO__TASK_SPENT, memory_order_relaxed);
  if (t->co != NULL) {
    corio_coro_free(t->co); /* abandoned in a wait (corio_rt_free) */
  } else if (t->stack.map != NULL) {
    /* never ran, or ended and carried a stack home */
    if (state & CORIO__TASK_FINISHED)
      carried_back(t->home);
    corio__stack_release_cold(&t->stack);
  }
  corio__pool_put(CORIO__POOL_TASK, t);
}


void corio__task_drain(corio__tally_t *home) {
  corio_task_t *t, *next;

  if (atomic_load_explicit(&home->remote, memory_order_relaxed) == NULL)
    return;
  /* acquire: pairs with the remote freers' release CAS */
  t = atomic_exchange_explicit(&home->remote, NULL, memory_order_acquire);
  for (; t != NULL; t = next) {
    next = t->next;
    corio__list_remove(&t->reg);
    release(t);
  }
}


void corio__task_free(corio_task_t *t) {
  corio__tally_t *home = t->home, *mine;
  corio_task_t *old;
  int where;

  if (!home->owned) {
    corio__spin_lock(&home->lock);
    corio__list_remove(&t->reg);
    corio__spin_unlock(&home->lock);
    release(t);
    return;
  }
  mine = my_tally(t->rt, &where);
  if (mine == home) {
    corio__list_remove(&t->reg);
    release(t);
    return;
  }
  /* Another thread's list: hand it over (tally.h). */
  old = atomic_load_explicit(&home->remote, memory_order_relaxed);
  do
    t->next = old;
  /* release: the owner sees t->next and everything before the free */
  while (!atomic_compare_exchange_weak_explicit(
      &home->remote, &old, t, memory_order_release, memory_order_relaxed));
}


/* --- spawning ------------------------------------------------------------ */

/* The hot lines of task.h: what running and joining touch. */
_Static_assert(offsetof(corio_task_t, home) + sizeof(void *) <= 128,
               "a task's run and join fields fit in two cache lines");

static void *task_entry(void *arg) {
  corio_task_t *t = arg;

  t->result = t->fn(t->arg);
  return NULL;
}


void corio__task_start(corio_task_t *t) {
  corio__stack_swap_hot(&t->stack);
  /* relaxed atomic: a plain store, read by the dump on another thread */
  __atomic_store_n(&t->co, corio__coro_create_on(&t->stack, task_entry, t),
                   __ATOMIC_RELAXED);
  t->stack.map = NULL; /* the coroutine owns it now */
}


void corio__task_end(corio_task_t *t) {
  corio_coro_t *co = t->co;
  corio__tally_t *home = t->home;
  int where;

  __atomic_store_n(&t->co, NULL, __ATOMIC_RELAXED);
  corio_coro_free(co);
  /* Spawned elsewhere: the spawner reserved a stack from its cache, and
   * this thread kept it when it ran the task on a hot one of its own
   * (corio__task_start). The record goes back to the spawner's thread to
   * be freed (tally.h): a cold stack rides along and lands in that
   * thread's cache. Else every stolen task moved one stack from the
   * spawner's cache to the thief's, and both went through the shared pool
   * in batches, under its lock, every 64 steals (spawn and join on 2
   * workers ran 5% slower). A record may wait long for its join, holding
   * the stack from every cache meanwhile: the home's carry budget bounds
   * how many do (tally.h). relaxed: a count; the stack itself travels
   * with the record, published by the task's end (task_finished). */
  if (my_tally(t->rt, &where) != home &&
      atomic_load_explicit(&home->carry_budget, memory_order_relaxed) > 0) {
    if (atomic_fetch_sub_explicit(&home->carry_budget, 1, memory_order_relaxed) > 0 &&
        corio__stack_take_cold(&t->stack, t->rt->stack_usable, t->rt->stack_guarded))
      return;
    atomic_fetch_add_explicit(&home->carry_budget, 1, memory_order_relaxed);
  }
}


static int spawn(corio_rt_t *rt, corio_task_fn fn, void *arg,
                 corio_task_t **task, int pinned, corio__worker_t *bound,
                 const char *name) {
  corio__tally_t *home;
  corio_task_t *t;
  int err, where;

  if (rt == NULL || fn == NULL)
    return UV_EINVAL;
  t = corio__pool_get(CORIO__POOL_TASK, sizeof *t);
  if (t == NULL)
    return UV_ENOMEM;
  /* A stack is reserved now, so that a spawn that returns 0 will run:
   * an out-of-memory error is the spawner's to see, not the runner's. */
  err = corio__stack_reserve(&t->stack, rt->stack_usable, rt->stack_guarded);
  if (err != 0) {
    corio__pool_put(CORIO__POOL_TASK, t);
    return err;
  }
  /* Field by field: a memset of the whole record (rep stos on a cold
   * line) measured a fifth of a spawn-and-join. */
  t->co = NULL;
  t->rt = rt;
  t->fn = fn;
  t->arg = arg;
  t->result = NULL;
  t->next = NULL;
  t->why = 0;
  t->pinned = pinned || rt->loop_only;
  t->ran_on = NULL;
  t->bound = bound;
  atomic_init(&t->join_lock, 0);
  atomic_init(&t->state, task == NULL ? CORIO__TASK_DETACHED : 0u);
  t->joiner = NULL;
  t->thread_joiner = NULL;
  atomic_init(&t->wake_word, 0);
  t->wait_seq = 0;
  t->wake_reason = 0;
  t->abandon_fn = NULL;
  t->name[0] = '\0';
  if (name != NULL)
    corio_task_set_name(t, name); /* before anyone can see it */
  t->describe = NULL;
  atomic_store_explicit(&t->wait_kind, 0, memory_order_relaxed);
  home = my_tally(rt, &where);
  if (home->owned)
    corio__task_drain(home);
  reg_add(home, t);
  corio__tally_spawned(home, where != FOREIGN);
  /* From outside rt's tasks there may have been no live task: the
   * attached loop must hold on again. (A task spawning keeps it held
   * itself; on rt's workers only its tasks run.) */
  if (where == FOREIGN || (where == ON_LOOP && rt->on_loop.current == NULL))
    corio__loop_alive_changed(rt->lp);
  if (task != NULL)
    *task = t;
  /* relaxed: a spawn racing the start of a shutdown is cancelled by it */
  if (atomic_load_explicit(&rt->shutting_down, memory_order_relaxed))
    corio__cancel(t); /* pending for its first wait */
  corio__schedule(rt, t);
  return 0;
}


int corio_spawn(corio_rt_t *rt, corio_task_fn fn, void *arg,
                corio_task_t **task) {
  return spawn(rt, fn, arg, task, 0, NULL, NULL);
}


int corio_spawn_named(corio_rt_t *rt, const char *name, corio_task_fn fn, void *arg,
                      corio_task_t **task) {
  return spawn(rt, fn, arg, task, 0, NULL, name);
}


int corio__spawn_bound(corio_rt_t *rt, corio_task_fn fn, void *arg) {
  corio__worker_t *w = corio__worker_current();

  if (w == NULL || w->rt != rt)
    return UV_EINVAL;
  return spawn(rt, fn, arg, NULL, 0, w, NULL);
}


int corio_spawn_on_loop(corio_rt_t *rt, corio_task_fn fn, void *arg,
                        corio_task_t **task) {
  return spawn(rt, fn, arg, task, 1, NULL, NULL);
}


/* --- finishing and joining ------------------------------------------------ */

void corio__task_finished(corio_task_t *t) {
  corio_rt_t *rt = t->rt;
  int where;
  corio__tally_t *here = my_tally(rt, &where); /* a worker or the loop */
  corio__waiter_t *w;
  _Atomic(uint32_t) *thread_done;
  unsigned old;
  int claimed = 0;

  corio__spin_lock(&t->join_lock);
  /* Every change of state is under join_lock, so a store does (one
   * atomic RMW less than a fetch_or). release: a joiner that sees
   * FINISHED sees t->result. */
  old = atomic_load_explicit(&t->state, memory_order_relaxed);
  atomic_store_explicit(&t->state, old | CORIO__TASK_FINISHED,
                        memory_order_release);
  w = t->joiner;
  thread_done = t->thread_joiner;
  t->joiner = NULL;
  t->thread_joiner = NULL;
  /* Claimed under the lock, while the joiner's frame is surely there; a
   * joiner that gave up meanwhile fails the claim and withdraws later. */
  if (w != NULL)
    claimed = corio__wake_claim(w);
  corio__spin_unlock(&t->join_lock);

  /* From here on t may be freed by its joiner. */
  if (claimed) {
    w->task->wake_reason = 0;
    corio__ready_home(w->task);
  }
  if (thread_done != NULL) {
    /* release: the thread's acquire load sees the result */
    atomic_store_explicit(thread_done, 1, memory_order_release);
    corio__futex_wake(thread_done, 1);
  }
  if (old & CORIO__TASK_DETACHED)
    corio__task_free(t);
  corio__tally_finished(here);
}


static int finished(corio_task_t *t) {
  /* acquire: pairs with corio__task_finished's release */
  return (atomic_load_explicit(&t->state, memory_order_acquire) &
          CORIO__TASK_FINISHED) != 0;
}


static int has_joiner(corio_task_t *t) {
  return t->joiner != NULL || t->thread_joiner != NULL;
}


/* Take t's join lock to register a joiner. Returns 0 with the lock held,
 * else (lock released) 1 if t has finished meanwhile, or UV_EINVAL if
 * someone else is joining it. */
static int lock_for_joiner(corio_task_t *t) {
  corio__spin_lock(&t->join_lock);
  if (!finished(t) && !has_joiner(t))
    return 0;
  corio__spin_unlock(&t->join_lock);
  return finished(t) ? 1 : UV_EINVAL;
}


/* A plain thread waits on a futex word in its frame. */
static int join_from_thread(corio_task_t *t) {
  _Atomic(uint32_t) done;
  int err;

  atomic_init(&done, 0);
  if ((err = lock_for_joiner(t)) != 0)
    return err < 0 ? err : 0;
  t->thread_joiner = &done;
  corio__spin_unlock(&t->join_lock);
  while (atomic_load_explicit(&done, memory_order_acquire) == 0)
    corio__futex_wait(&done, 0);
  return 0;
}


/* A task waits through the wait core, so deadlines and cancel apply.
 * Giving up leaves the handle valid: the join can be retried. */
static int join_from_task(corio_task_t *t, uint64_t deadline) {
  corio__waiter_t w;
  int err;

  if ((err = corio__wait_begin(&w)) != 0)
    return err;
  if ((err = lock_for_joiner(t)) != 0)
    return err < 0 ? err : 0;
  corio__wait_what(&w, CORIO__WK_JOIN, t, 0);
  /* where to go back to when t's end readies us (corio__ready_home) */
  w.task->ran_on = corio__worker_current();
  t->joiner = &w;
  err = corio__wait_park(&w, &t->join_lock, corio__deadline_ns(deadline));
  if (err != 0) {
    /* Withdraw, unless the finisher took us off already. */
    corio__spin_lock(&t->join_lock);
    if (t->joiner == &w)
      t->joiner = NULL;
    corio__spin_unlock(&t->join_lock);
  }
  return err;
}


/* A handle that is spent, or detached, is misused (core/misuse.h). */
static int handle_check(corio_task_t *t, const char *call) {
  unsigned st = atomic_load_explicit(&t->state, memory_order_acquire);

  if (st & CORIO__TASK_SPENT)
    return CORIO__MISUSE(call, "the handle was joined or detached already (a task is "
                               "joined once, and never after a detach)");
  if (st & CORIO__TASK_DETACHED)
    return CORIO__MISUSE(call, "the task is detached: its handle was given up");
  return 0;
}


int corio_join_dl(corio_task_t *t, void **result, uint64_t deadline) {
  corio_task_t *self = corio_self();
  int err;

  if (t == NULL || t == self)
    return UV_EINVAL;
  /* The lines a join reads and the free writes: if another worker ran
   * the task, they are that CPU's. */
  corio__task_prefetch(t);
  if ((err = handle_check(t, "corio_join")) != 0)
    return err;
  if (!finished(t)) {
    if (self != NULL)
      err = join_from_task(t, deadline);
    else if (deadline != UINT64_MAX || corio__loop_current() != NULL ||
             corio__worker_current() != NULL)
      err = UV_EINVAL; /* a plain thread waits without a deadline; a loop
                          or worker thread must not wait at all */
    else
      err = join_from_thread(t);
    if (err != 0)
      return err;
  }
  /* FINISHED is set under join_lock, so the finisher may still hold it
   * (it unlocks last, a few instructions later, without waiting on
   * anything): the record must not be freed before. */
  corio__spin_wait_free(&t->join_lock);
  if (result != NULL)
    *result = t->result;
  corio__task_free(t);
  return 0;
}


int corio_join(corio_task_t *t, void **result) {
  return corio_join_dl(t, result, UINT64_MAX);
}


int corio_detach(corio_task_t *t) {
  unsigned old;
  int err;

  if (t == NULL)
    return UV_EINVAL;
  if ((err = handle_check(t, "corio_detach")) != 0)
    return err;
  corio__spin_lock(&t->join_lock);
  old = atomic_load_explicit(&t->state, memory_order_relaxed);
  atomic_store_explicit(&t->state, old | CORIO__TASK_DETACHED,
                        memory_order_relaxed);
  corio__spin_unlock(&t->join_lock);
  if (old & CORIO__TASK_FINISHED)
    corio__task_free(t);
  return 0;
}


/* --- the running task ---------------------------------------------------- */

int corio_yield(void) {
  corio_task_t *t = corio_self();

  if (t == NULL || corio_coro_current() != t->co)
    return UV_EINVAL;
  t->why = CORIO__WHY_YIELD;
  return corio_coro_yield(NULL, NULL);
}


corio_task_t *corio_self(void) {
  corio__worker_t *w = corio__worker_current();
  corio_rt_t *rt;

  if (w != NULL)
    return w->current;
  rt = corio__loop_rt();
  return rt != NULL ? rt->on_loop.current : NULL;
}


corio_rt_t *corio_current_rt(void) {
  corio_task_t *t = corio_self();
  return t != NULL ? t->rt : NULL;
}
