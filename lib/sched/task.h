/* Tasks, and the park protocol every blocking operation in corio uses.
 *
 * A task is a coroutine plus what the scheduler needs. Its record lives in
 * the extra space at the top of the coroutine's own stack mapping, so a
 * spawn costs one stack from the cache and no malloc.
 *
 * The park protocol (docs/DESIGN.md 3): a task that must wait calls
 * corio__park(fn, arg). The worker switches back to its own context and
 * only then calls fn(task, arg), which hands the task to whoever will wake
 * it (a waiter list, the loop's inbox, a timer). Whoever that is may call
 * corio__ready(task) at once, from any thread: the task is off its stack. */
#ifndef CORIO_SCHED_TASK_H
#define CORIO_SCHED_TASK_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/coro.h"
#include "core/list.h"
#include "core/spin.h"
#include "corio/rt.h"
#include "loop/inbox.h"

/* Called on the worker after the task has switched away. Return 0 when the
 * task now waits (someone will corio__ready it), nonzero to have it run
 * again at once (what it waited for already happened). */
typedef int (*corio__park_fn)(corio_task_t *task, void *arg);

enum corio__task_flags {
  CORIO__TASK_FINISHED = 1u,   /* fn returned; result is set */
  CORIO__TASK_DETACHED = 2u,   /* nobody will join: free when finished */
  CORIO__TASK_JOINED = 4u,     /* a join took the result: the handle is spent */
  /* The record was freed (joined, or detached and ended): what a late
   * call on the handle finds while the stack waits in the cache, unless a
   * new task has taken it since. */
  CORIO__TASK_SPENT = 0x40000000u
};

enum corio__task_why { CORIO__WHY_PARK = 1, CORIO__WHY_YIELD = 2 };

struct corio__waiter;
struct corio__worker;

struct corio_task_s {
  corio_coro_t *co;
  corio_rt_t *rt;
  corio_task_fn fn;
  void *arg;
  void *result;
  corio_task_t *next;          /* run-queue link */
  corio__park_fn park_fn;      /* set by corio__park, run by the worker */
  void *park_arg;
  int why;                     /* enum corio__task_why: why it switched away */
  int pinned;                  /* runs on the loop thread only */
  /* Runs on this worker only, never stolen: a connection's task, beside
   * its socket on the worker's own loop (docs/DESIGN.md 8). */
  struct corio__worker *bound;
  corio__req_t loop_req;       /* posts a pinned or bound task to its loop */
  struct corio__tally *home;    /* the tally that lists it (tally.h) */
  corio__list_t reg;           /* on home's list until freed */

  /* Joining (task.c): the flags, and who waits for the end, under
   * join_lock: a task parked in corio_join_dl, or a plain thread. */
  corio__spin_t join_lock;
  _Atomic(unsigned) state;     /* enum corio__task_flags */
  struct corio__waiter *joiner;
  _Atomic(uint32_t) *thread_joiner;

  /* The wake token of the current wait (wait.c): the wait's sequence
   * number << 3 | a pending-cancel bit | CORIO__WAIT_*; whoever moves it
   * from WAITING to WOKEN (the event, the deadline, corio_cancel) wakes
   * the task and says why in wake_reason. */
  _Atomic(uint64_t) wake_word;
  uint64_t wait_seq;           /* the last wait's number; owner only */
  int wake_reason;

  /* While the task waits: what its wait left in memory that is not the
   * task's own (its waiter on a mutex's or a channel's list), released by
   * abandon_fn(abandon_arg) if the runtime is freed with the task still
   * waiting (corio_rt_free), so that the application can free its
   * primitive. Set and cleared by the task around its park. */
  void (*abandon_fn)(void *arg);
  void *abandon_arg;

  /* For corio_rt_dump (dump.c), read by other threads (relaxed atomics:
   * plain moves). The name (CORIO_TASK_NAME_MAX bytes, NUL-terminated; a
   * rename is racy for the reader, which copies it bounded), a describer
   * for a task without a name (a connection's task: its peer), and what
   * the current wait is: its kind (enum corio__wait_kind), the object
   * waited on, a number (a sleep's deadline, a select's cases) and since
   * when (ns of CLOCK_MONOTONIC_COARSE, cheap to read). */
  char name[CORIO_TASK_NAME_MAX];
  void (*describe)(corio_task_t *t, char *buf, size_t len);
  void *describe_arg;
  _Atomic(int) wait_kind;
  _Atomic(uintptr_t) wait_obj;
  _Atomic(uint64_t) wait_arg;
  _Atomic(uint64_t) wait_since;
};

/* Suspend the calling task until someone calls corio__ready on it; fn(task,
 * arg) runs on the worker once the task is off its stack. Returns 0, or
 * UV_EINVAL outside a task. */
int corio__park(corio__park_fn fn, void *arg);

/* Nonzero when called from a task itself (not from a coroutine nested in
 * one, nor a plain thread): where a call may park. */
static inline int corio__in_task(void) {
  corio_task_t *t = corio_self();
  return t != NULL && corio_coro_current() == t->co;
}

/* Make a parked task runnable. Any thread. On one of the task's own
 * workers it goes to that worker's LIFO slot; on the loop thread into the
 * iteration's batch; elsewhere to the injection queue, waking an idle
 * worker if none is searching. */
void corio__ready(corio_task_t *task);

#endif
