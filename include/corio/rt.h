/* corio/rt.h: the runtime, tasks and the M:N scheduler.
 *
 * A runtime owns N worker threads. Each runs coroutines ("tasks") from its
 * own work-stealing queue and steals from the others when it runs dry; an
 * idle worker sleeps on a futex and is woken, one at a time, when work
 * appears. A task may continue on another worker after any suspension, so
 * never keep the address of a thread-local variable (or errno's value)
 * across a call that can suspend.
 *
 * Calls that "may suspend" do so only inside a task; from a plain thread
 * they block the thread or return UV_EINVAL, as each says.
 */
#ifndef CORIO_RT_H
#define CORIO_RT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "corio/coro.h"
#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_rt_s corio_rt_t;
typedef struct corio_task_s corio_task_t;

/* The body of a task: gets `arg`, returns its result (see corio_join). */
typedef void *(*corio_task_fn)(void *arg);

/* Runtime options. All-zero means the defaults. */
typedef struct corio_rt_options_s {
  /* Worker threads; 0: one per online CPU. At most 1024. */
  unsigned workers;
  /* Usable stack bytes of each task; 0: CORIO_STACK_DEFAULT (256 KiB of
   * address space; only touched pages cost memory). */
  size_t stack_size;
  /* Nonzero: stacks without guard pages, for more than ~32,000 live tasks
   * (see corio_coro_options_t.unguarded for the trade-off). */
  int unguarded;
  /* Nonzero: no worker threads at all; every task runs on the loop thread
   * (as if spawned with corio_spawn_on_loop), and `workers` is ignored.
   * No cross-thread hop anywhere: the baseline for what hops cost, the
   * natural mode for a small machine, and what a single-threaded libuv
   * application that attaches corio usually wants. */
  int loop_only;
  /* NULL: the runtime creates a libuv loop and runs it on a thread of its
   * own. Otherwise attached mode: corio adds its handles to this loop,
   * which the application runs; corio_rt_new, corio_rt_free must then be
   * called on that loop's thread (see corio/uv.h). corio_rt_new blocks
   * SIGPIPE on that thread (libuv writes to sockets there; see
   * corio/net.h), as on every thread corio starts. */
  struct uv_loop_s *loop;
  /* A signal (e.g. SIGQUIT or SIGUSR1) that makes the runtime write
   * corio_rt_dump to stderr, without stopping the program; 0: the
   * environment variable CORIO_DUMP_SIGNAL (a number, or QUIT, USR1,
   * USR2), else none. The handler only writes a byte to a pipe; a thread
   * of the runtime's does the dump. One runtime per signal: the last one
   * created takes it, and corio_rt_free gives it back to its earlier
   * disposition. */
  int dump_signal;
} corio_rt_options_t;

/* ------------------------------------------------------------------------
 * Runtime lifetime. */

/* Start a runtime: its worker threads wait for tasks. opts may be NULL.
 * Returns 0 and sets *rt, or UV_EINVAL (bad options), UV_ENOMEM, the
 * error of a failed thread creation, or of setting up the loop
 * (uv_loop_init, the wake-up handle: e.g. UV_EMFILE); nothing is left
 * behind on failure. Does not suspend; any thread. */
CORIO_API int corio_rt_new(const corio_rt_options_t *opts, corio_rt_t **rt);

/* Block the calling thread until every task of rt has finished (including
 * tasks spawned meanwhile). Returns 0, or UV_EINVAL when called from a
 * task, a worker or a loop thread (of any runtime: it would stall the
 * tasks that thread runs). Plain threads only. */
CORIO_API int corio_rt_wait(corio_rt_t *rt);

/* Stop the workers and the loop bridge and free the runtime. Owned mode:
 * closes every handle corio opened, waits for libuv requests in flight,
 * closes the loop. Attached mode (call it on the loop thread, typically
 * after uv_run returned): UV_EBUSY while corio requests are in flight;
 * otherwise corio's handles are closed and finish closing, and the last of
 * corio's memory is freed, in the application's next uv_run.
 * Tasks still queued never run;
 * tasks suspended (waiting on something) are never resumed; tasks finished
 * but not joined are released. Their stacks are freed without unwinding,
 * and every corio_task_t of rt becomes invalid. Sockets still open are
 * closed. What an abandoned task owned is not freed: its own allocations,
 * and corio's records that only it would have released (a connection it
 * was inside a call on, the timer of a deadline that had fired for it):
 * end the tasks first (corio_cancel, then join) when that matters. A
 * task that is running when this is called runs until it next suspends,
 * so a task that never suspends makes this wait for it (after a second,
 * once, a line on stderr names the worker and the task's function). What
 * an abandoned task waited on is released as for corio_rt_shutdown. Returns 0, or
 * UV_EINVAL when called from a task or a worker thread, in owned mode from
 * rt's own loop thread (it joins that thread), in attached mode from any
 * thread but the loop's. Plain threads only; no other thread may use rt
 * or its tasks during or after the call. */
CORIO_API int corio_rt_free(corio_rt_t *rt);

/* Stop a runtime with its tasks: cancel every task of rt (corio_cancel,
 * detached ones and group members included; tasks spawned from now on
 * start cancelled), let them unwind through their cancellation paths
 * until deadline (ms of corio_now()), then free the runtime as
 * corio_rt_free does, abandoning the tasks still there. What an abandoned
 * task waited on is released: its place in the waiter list of a mutex, a
 * semaphore, a wait group, a condition variable or a channel (select
 * included) is taken back, so that the application can destroy or free
 * those once this returns (they no longer report UV_EBUSY for it); what
 * the task itself allocated is not freed. Returns 0 if every task ended
 * by the deadline, UV_ETIMEDOUT if some were abandoned, or as
 * corio_rt_free (UV_EINVAL from a task, a worker, the wrong loop thread;
 * UV_ENOMEM, with nothing done). In attached mode (on the loop thread,
 * after the application's uv_run returned) it runs the loop itself,
 * without waiting in it, until the tasks end or the deadline. A task that
 * never suspends cannot be cancelled: it is waited for, with a word on
 * stderr after a second (corio_rt_free). Plain threads only; rt and its
 * tasks are gone afterwards. */
CORIO_API int corio_rt_shutdown(corio_rt_t *rt, uint64_t deadline);

/* Run fn(arg) as the first task of a new runtime (opts may be NULL), wait
 * until it and everything it spawned have finished, free the runtime.
 * *result (if result is not NULL) gets fn's return value. Returns 0 or an
 * error of corio_rt_new / corio_spawn; UV_EINVAL from a task, a worker or
 * a loop thread (it would block that thread for the whole run). Plain
 * threads only. */
CORIO_API int corio_main(corio_task_fn fn, void *arg,
                         const corio_rt_options_t *opts, void **result);

/* ------------------------------------------------------------------------
 * Tasks. A task handle stays valid until it is joined or detached, in
 * whatever order the task's end and the join fall.
 *
 * Misuse of a handle is a bug in the caller, reported where it is cheap to
 * see: a second join or detach of a handle, a join of a detached task, a
 * corio_cancel of a joined handle or (from another task) of a detached
 * one, corio_main inside a task. A debug build prints "corio: <call>:
 * <what>" on stderr and aborts; a release build (NDEBUG) returns
 * UV_EINVAL. Not seen: a handle used after its task's record was taken
 * by a new task (the handle then names that task) or returned to malloc
 * (undefined), and any call on a runtime after corio_rt_free. Destroying a
 * primitive that tasks still wait on returns UV_EBUSY (corio/sync.h). */

/* Create a task running fn(arg) on rt. With task == NULL it starts
 * detached: its result is dropped and its memory freed when it ends.
 * Returns 0 (and sets *task), UV_EINVAL or UV_ENOMEM (no memory or no
 * more memory mappings for a stack: the stack is reserved here, so a
 * task that was spawned always runs). The task gives the stack it ran on
 * back when it ends; until it is joined it holds its record (about 320
 * bytes) and perhaps a cached stack on its way back to the spawner's
 * cache (if it ran on another worker; at most about 1,024 such records
 * per spawning thread hold one). Does not suspend; any thread. */
CORIO_API int corio_spawn(corio_rt_t *rt, corio_task_fn fn, void *arg,
                          corio_task_t **task);
/* corio_spawn with a name (corio_task_set_name), set before the task can
 * run. */
CORIO_API int corio_spawn_named(corio_rt_t *rt, const char *name, corio_task_fn fn,
                                void *arg, corio_task_t **task);
/* Like corio_spawn, but the task runs on the loop thread: the "main thread"
 * of a libuv application, where it may use that application's handles and
 * call libuv directly (corio/uv.h). It must not block the thread (it would
 * stop the loop); waiting through corio calls is fine. Any thread. */
CORIO_API int corio_spawn_on_loop(corio_rt_t *rt, corio_task_fn fn, void *arg,
                                  corio_task_t **task);

/* Wait for task to finish, store its result in *result (if not NULL) and
 * release the handle. Inside a task it suspends the caller; on a plain
 * thread it blocks the thread. On a loop or worker thread outside a task
 * it returns UV_EINVAL unless the task has already finished (waiting
 * there would stall the loop or the worker). Returns 0, or UV_EINVAL
 * (NULL task, a task joining itself, a second joiner at once), or, in a
 * task, UV_ECANCELED (corio_cancel) with the handle still valid. A task
 * is joined once, and not after a detach. */
CORIO_API int corio_join(corio_task_t *task, void **result);
/* The same with a deadline (ms of corio_now()): UV_ETIMEDOUT when it
 * passes first; the handle stays valid and the join can be retried. From
 * a plain thread only without one (UINT64_MAX), else UV_EINVAL. */
CORIO_API int corio_join_dl(corio_task_t *task, void **result, uint64_t deadline);

/* Give up the handle: the task runs on and is freed when it ends (or now,
 * if it already has). Returns 0 or UV_EINVAL. Does not suspend; any
 * thread. */
CORIO_API int corio_detach(corio_task_t *task);

/* Make task's current wait return UV_ECANCELED, or if it is not waiting,
 * its next one: any call of corio that lists UV_ECANCELED (the waits of
 * corio/sync.h and corio/chan.h, corio_sleep, corio_join, I/O, awaits).
 * One cancel ends one wait; cancels that come while no wait is under way
 * count as one. A call that completes without waiting leaves a pending
 * cancel for the next one that waits. Cancelling a finished task does
 * nothing. Returns 0, or UV_EINVAL for NULL. Never suspends; any thread;
 * the handle must still be valid (not joined or detached). */
CORIO_API int corio_cancel(corio_task_t *task);

/* Name a task, for corio_rt_dump and debuggers: name is copied, cut to
 * CORIO_TASK_NAME_MAX - 1 bytes (NULL: no name). task NULL: the calling
 * task. Returns 0, or UV_EINVAL (NULL outside a task). Never suspends;
 * any thread, for a valid handle (a rename racing a dump may show cut). */
#define CORIO_TASK_NAME_MAX 32
CORIO_API int corio_task_set_name(corio_task_t *task, const char *name);
/* The task's name ("" if it has none; task NULL: the calling task, or ""
 * outside one). The pointer is valid while the handle is. */
CORIO_API const char *corio_task_name(corio_task_t *task);

/* Write a description of every live task of rt to out, as Go's goroutine
 * dump: per task its id (the record's address), its name (connection
 * tasks without one: "conn <peer>"), its state (running on worker N,
 * runnable, waiting, finished and not joined), what it waits on in words
 * (a channel, a mutex, a read on a TCP connection and its peer, a sleep
 * and how long is left, a join, a file system call, ...), since how long,
 * and, for a waiting task, the call stack it waits in (symbols through
 * libunwind when corio was built with it, else through dladdr, which
 * knows only exported functions). Each thread of rt lists its own tasks:
 * a thread busy in a task that does not suspend answers within 200 ms or
 * is reported as busy, with the task it runs. Returns 0, UV_EINVAL (NULL;
 * from a task of rt or a thread of rt other than its loop's), UV_ENOMEM.
 * Blocks the calling thread (for a few ms); any plain thread, rt's loop
 * thread, or a task of another runtime. */
CORIO_API int corio_rt_dump(corio_rt_t *rt, FILE *out);

/* Counters of one worker since its runtime started (corio_rt_metrics). */
typedef struct corio_worker_metrics_s {
  uint64_t tasks_run;     /* task resumptions (a task that waits n times runs n + 1) */
  uint64_t lifo_runs;     /* of those, from its LIFO slot: a task readied by the one before */
  uint64_t steals;        /* steals from other workers that took something */
  uint64_t tasks_stolen;  /* tasks those took */
  uint64_t inject_pops;   /* tasks taken from the injection queue */
  uint64_t timers_fired;  /* deadlines that came due on it */
  uint64_t spins;         /* times it ran out of work and polled before sleeping */
  uint64_t parks;         /* times it went to sleep */
  uint64_t busy_ns;       /* time awake (running, searching, spinning) */
  uint64_t queue_depth;   /* tasks in its deque now */
} corio_worker_metrics_t;

/* Counters of a runtime since it started. */
typedef struct corio_rt_metrics_s {
  unsigned workers;          /* its workers (0: loop-only) */
  uint64_t uptime_ns;
  uint64_t live_tasks;       /* spawned and not finished, now */
  uint64_t tasks_spawned;
  uint64_t loop_iterations;  /* of the loop thread (its uv_check runs) */
  uint64_t loop_requests;    /* requests posted to it and run */
  uint64_t loop_tasks_run;   /* task resumptions on it (pinned, loop-only) */
  uint64_t loop_hops;        /* tasks it readied for the workers */
  uint64_t loop_busy_ns;     /* time not waiting in poll (owned mode; 0 attached) */
  uint64_t stacks_mapped;    /* coroutine stacks mapped now, process-wide */
  uint64_t stacks_pooled;    /* of those, in the shared pool */
} corio_rt_metrics_t;

/* Read rt's counters into *m, and those of its first n workers into
 * workers[0..n) (workers may be NULL with n 0). Each thread counts its own
 * (no shared atomic on a hot path); this sums them, at one instant per
 * thread, not one for all. Returns 0 or UV_EINVAL. Never suspends; any
 * thread. */
CORIO_API int corio_rt_metrics(corio_rt_t *rt, corio_rt_metrics_t *m,
                               corio_worker_metrics_t *workers, unsigned n);

/* Milliseconds of a monotonic clock (uv_hrtime / 1e6). All corio deadlines
 * are absolute values of this clock. Any thread. */
CORIO_API uint64_t corio_now(void);

/* Suspend the calling task for at least ms milliseconds (never less);
 * ms == 0 yields. Returns 0, or UV_ECANCELED when the task is cancelled,
 * or UV_ENOMEM (no memory for the timer). A plain thread sleeps for real
 * and gets 0; on a loop thread outside a task it returns UV_EINVAL (it
 * would stop the loop). Timers live in one heap of deadlines per runtime;
 * no handle is created per sleep. */
CORIO_API int corio_sleep(uint64_t ms);

/* Let other tasks run: the caller goes to the back of the runtime's
 * shared queue. Returns 0, or UV_EINVAL outside a task. May suspend. */
CORIO_API int corio_yield(void);

/* The task running on this thread, or NULL on a plain thread. */
CORIO_API corio_task_t *corio_self(void);

/* The runtime of the task running on this thread, or NULL. */
CORIO_API corio_rt_t *corio_current_rt(void);

/* The runtime's libuv loop (its own, or the application's in attached
 * mode; corio/uv.h). Touch it only from the loop thread. */
CORIO_API struct uv_loop_s *corio_rt_loop(corio_rt_t *rt);

/* Nonzero on rt's loop thread. */
CORIO_API int corio_on_loop_thread(corio_rt_t *rt);

/* The number of worker threads of rt. */
CORIO_API unsigned corio_rt_workers(const corio_rt_t *rt);

#ifdef __cplusplus
}
#endif

#endif
