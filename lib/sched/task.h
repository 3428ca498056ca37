/* Tasks, and the park protocol every blocking operation in corio uses.
 *
 * A task is a record plus a coroutine. The record comes from a per-thread
 * pool of 64-byte aligned blocks (core/pool.h) and lives from spawn to
 * join (or to the end of a detached task). The coroutine is made where
 * and when the task first runs, and gives its stack back as soon as the
 * task finishes: the spawner only reserves a stack (a descriptor taken
 * from its cache, no memory touched), and the worker that runs the task
 * trades it for one of its own that is still warm in its CPU's caches
 * (corio__stack_swap_hot). A task stolen by another worker so never
 * drags its stack's lines across; a task run where it was spawned reuses
 * the stack the previous one just left. (When the record lived on top of
 * the stack, spawning wrote six cold lines there, and a thief pulled
 * them all over: 2 workers spawned and joined 3.4 M/s, 1 worker 4.9 M/s;
 * now about 7 and 10, docs/BENCHMARKS.md.)
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

#include "core/atomics.h"
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
   * call on the handle finds while the record waits in its pool, unless
   * a new task has taken it since. */
  CORIO__TASK_SPENT = 0x40000000u
};

enum corio__task_why { CORIO__WHY_PARK = 1, CORIO__WHY_YIELD = 2 };

struct corio__waiter;
struct corio__worker;

struct corio_task_s {
  /* Line 0: what running it reads and writes. co is NULL until the task
   * first runs, and again once it has finished (its stack is back in the
   * cache then). Other threads read it (the dump) with relaxed atomics. */
  corio_coro_t *co;
  corio_rt_t *rt;
  corio_task_fn fn;
  void *arg;
  void *result;
  corio_task_t *next;          /* run-queue link */
  int why;                     /* enum corio__task_why: why it switched away */
  int pinned;                  /* runs on the loop thread only */
  /* Runs on this worker only, never stolen: a connection's task, beside
   * its socket on the worker's own loop (docs/DESIGN.md 8). */
  struct corio__worker *bound;

  /* Line 1: joining (task.c), and the stack reserved for it at spawn
   * (corio__task_start runs it there, or on a hot one of its own; once it
   * ended on another thread, a cold stack on its way back to the
   * spawner's cache, corio__task_end). The
   * flags, and who waits for the end, under join_lock: a task parked in
   * corio_join_dl, or a plain thread. */
  corio__spin_t join_lock;
  _Atomic(unsigned) state;     /* enum corio__task_flags */
  struct corio__waiter *joiner;
  _Atomic(uint32_t) *thread_joiner;
  corio__stack_t stack;
  /* The tally that lists it (tally.h): on this line, which the thread
   * that ends the task has taken over anyway, as it reads this too
   * (corio__task_end); the spawner's next write to the line below then
   * finds it unshared. */
  struct corio__tally *home;

  /* The rest is written at spawn and read by the thread that frees it,
   * or only if the task waits. */
  corio__list_t reg;           /* on home's list until freed */
  /* The worker it waits on in a join (corio__ready_home), or NULL. */
  struct corio__worker *ran_on;
  corio__park_fn park_fn;      /* set by corio__park, run by the worker */
  void *park_arg;
  corio__req_t loop_req;       /* posts a pinned or bound task to its loop */

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

/* Before a task first runs, on the thread that runs it: its coroutine,
 * on its reserved stack or a hot one of this thread's (task.c). */
void corio__task_start(corio_task_t *t);

/* It finished, on the thread that ran it: its stack goes back to this
 * thread's cache now (the record stays until joined). */
void corio__task_end(corio_task_t *t);

/* Suspend the calling task until someone calls corio__ready on it; fn(task,
 * arg) runs on the worker once the task is off its stack. Returns 0, or
 * UV_EINVAL outside a task. */
int corio__park(corio__park_fn fn, void *arg);

/* Start taking over t's first two lines (running and joining it touch
 * them; a thief or joiner on another CPU finds them that CPU's): both at
 * once, and owned, not shared and then upgraded. */
static inline void corio__task_prefetch(const corio_task_t *t) {
  corio__prefetch_write(t);
  corio__prefetch_write((const char *)t + CORIO__CACHE_LINE);
}

/* Nonzero when called from a task itself (not from a coroutine nested in
 * one, nor a plain thread): where a call may park. */
static inline int corio__in_task(void) {
  corio_task_t *t = corio_self();
  return t != NULL && corio_coro_current() == t->co;
}

/* A task waiting in a join is runnable, readied by the task it joined,
 * which just ended here: back to the worker it waited on if that one is
 * awake and its LIFO slot free (the joiner's stack and the tasks it
 * spawned are warm there; the ended task leaves nothing warm here), else
 * as corio__ready. */
void corio__ready_home(corio_task_t *task);

/* Make a parked task runnable. Any thread. On one of the task's own
 * workers it goes to that worker's LIFO slot; on the loop thread into the
 * iteration's batch; elsewhere to the injection queue, waking an idle
 * worker if none is searching. */
void corio__ready(corio_task_t *task);

#endif
