/* The runtime and its workers: shared between worker.c (the scheduling
 * loop and the idle protocol), on_loop.c (tasks on the loop thread),
 * task.c and rt.c (the public calls). */
#ifndef CORIO_SCHED_SCHED_H
#define CORIO_SCHED_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/atomics.h"
#include "core/futex.h"
#include "core/list.h"
#include "core/spin.h"
#include "core/timer_heap.h"
#include "deque.h"
#include "ebr.h"
#include "inject.h"
#include "loop/loop.h"
#include "tally.h"
#include "task.h"

/* Tasks readied in a row from the loop thread's next slot before the
 * slot's task goes to the back of its queue (Tokio's
 * MAX_LIFO_POLLS_PER_TICK). Workers bound their LIFO slot by time
 * instead (worker.c). */
#define CORIO__LOOP_NEXT_MAX_STREAK 3

/* idle_state packs two counters so that every transition of the idle
 * protocol is one read-modify-write of one word (Tokio's idle.rs does the
 * same): the number of parked workers and the number searching. */
#define CORIO__IDLE_ONE 1u
#define CORIO__SEARCH_ONE (1u << 16)
#define CORIO__IDLE_COUNT(s) ((s) & 0xFFFFu)
#define CORIO__SEARCH_COUNT(s) ((s) >> 16)

/* What a thief last saw of one victim (worker.c, lifo_stale). */
typedef struct corio__lifo_watch {
  unsigned tick;
  uint64_t since;                /* ns; 0: not yet seen */
} corio__lifo_watch_t;

typedef struct corio__worker {
  corio__deque_t dq;             /* padded: top and bottom on own lines */
  corio_rt_t *rt;
  corio__ebr_thread_t *ebr;
  /* The task readied most recently here. The owner takes it first;
   * thieves may take it too, but only after a search round found nothing
   * else, so a busy owner cannot hide it (Go's runnext works so). */
  _Atomic(corio_task_t *) lifo;
  /* 1 while the task running here has queued work with only its first
   * notify fenced (notify_from_worker): a parker then sleeps no longer
   * than LIFO_WATCH_NS. Written by the owner, read by parkers. */
  _Atomic(int) pushing;
  int run_unfenced;              /* a later notify of the run was not; owner */
  corio_task_t *current;         /* the task running now, or NULL */
  unsigned lifo_streak;          /* LIFO tasks run in a row */
  uint64_t lifo_since;           /* when the streak's clock started (ns) */
  /* Tasks run: the fairness check, and thieves look at it to see whether
   * a worker is stuck in one task (then its LIFO slot may be taken). */
  _Atomic(unsigned) tick;
  unsigned index;
  int searching;                 /* counted in rt->idle_state */
  uint64_t rng;                  /* victim selection */
  pthread_t thread;
  /* Idle protocol, guarded by rt->idle_mu except the futex word. */
  struct corio__worker *idle_next;
  int in_idle;
  _Atomic(uint32_t) wake;        /* futex: 0 while parked, 1 once woken */
  corio__tally_t tally;          /* tasks spawned and finished here */
  corio__lifo_watch_t *watch;    /* per victim, indexed by its index */
  /* The worker this one last sent a joiner home to (corio__ready_home),
   * that worker's tick then, and when (ns); NULL once it went on. */
  struct corio__worker *sent_home;
  unsigned sent_tick;
  uint64_t sent_at;
  corio__timer_heap_t timers;    /* deadlines of tasks parked here (3b) */
  int firing;                    /* run_timers is firing deadlines */
  uint64_t clock_seen;           /* its last reading of uv_hrtime() */
  corio_task_t *fired;           /* the tasks it readied, latest first */
  /* Tasks whose deadlines fired here, earliest first, FIFO; owner. */
  corio_task_t *due_head;
  corio_task_t *due_tail;

  /* This worker's own libuv loop (a driven loop, lib/loop): sockets whose
   * tasks are bound here. It polls it between tasks; it sleeps in it
   * instead of on the futex while a socket lives there. */
  corio__loop_t *lp;
  corio_task_t *bound_head;      /* bound tasks ready to run, FIFO; owner */
  corio_task_t *bound_tail;
  /* Bound tasks that yielded: they run after the deque and the injection
   * queue (a yield lets the others go first), FIFO; owner. */
  corio_task_t *yielded_head;
  corio_task_t *yielded_tail;
  int sleep_in_loop;             /* parked in lp's poll; under rt->idle_mu */
  /* 1 from announcing idle until awake again: a kick (a request posted to
   * lp from elsewhere) looks at it to see whether to wake us. */
  _Atomic(int) asleep;

  /* Counters for corio_rt_metrics, written by this worker alone
   * (CORIO__COUNT: relaxed load and store), read by any thread. */
  _Atomic(uint64_t) n_run, n_lifo, n_steals, n_stolen, n_inject, n_fired, n_spins, n_parks;
  _Atomic(uint64_t) asleep_ns;     /* time spent asleep (parked) */
  _Atomic(uint64_t) asleep_since;  /* uv_hrtime() as it fell asleep; 0 awake */
} corio__worker_t;

/* Values of corio__worker_t.wake once woken. */
#define CORIO__WOKEN_SEARCH 1u    /* to look for work anywhere */
#define CORIO__WOKEN_BOUND 2u     /* for work of its own (bound tasks) */

struct corio_rt_s {
  unsigned nworkers;             /* 0 in loop-only mode */
  int loop_only;
  corio__worker_t *workers;
  corio__ebr_t *ebr;
  corio__inject_t inject;
  corio_coro_options_t coro_opts;
  size_t stack_usable;           /* its tasks' stacks (corio__coro_stack_shape) */
  int stack_guarded;
  /* corio_rt_shutdown: spawns start cancelled (read on every spawn: kept
   * off the idle line below, which workers write) */
  _Atomic(int) shutting_down;
  struct corio__cancel_req *cancel_reqs; /* its requests, one per tally */
  /* The dump signal (dump.c): its number (0: none), the pipe its handler
   * writes to, the thread that reads it, the disposition it replaced. */
  int dump_signal;
  int dump_pipe[2];
  pthread_t dump_thread;
  struct sigaction *dump_old;

  _Alignas(CORIO__CACHE_LINE) _Atomic(uint32_t) idle_state;
  pthread_mutex_t idle_mu;
  corio__worker_t *idle_head;    /* parked workers, a stack */
  _Atomic(int) stopping;

  /* Tasks are counted and listed per thread (tally.h): tallies[] holds
   * each worker's, then loop_tally, then foreign_tally. */
  corio__tally_t **tallies;
  unsigned ntallies;
  corio__tally_t loop_tally;     /* spawned or finished on the loop thread */
  corio__tally_t foreign_tally;  /* spawned by any other thread */
  /* corio_rt_wait: how many wait, and a futex word bumped when the tasks
   * may all have finished (a worker parks, a loop iteration ends). */
  _Alignas(CORIO__CACHE_LINE) _Atomic(uint32_t) waiters;
  _Atomic(uint32_t) quiet_seq;

  corio__loop_t *lp;             /* the reactor (lib/loop) */
  uint64_t started_ns;           /* uv_hrtime() at corio_rt_new */
  _Atomic(uint64_t) n_loop_run;  /* task resumptions on the loop thread */
  _Atomic(uint64_t) n_hops;      /* tasks the loop thread readied for workers */
  /* Tasks on the loop thread (on_loop.c); loop thread only. */
  struct {
    corio_task_t *current;       /* the pinned task running now */
    corio_task_t *next;          /* pinned task readied last here: runs next */
    unsigned next_streak;
    corio_task_t *runq_head;     /* pinned tasks ready to run */
    corio_task_t *runq_tail;
    corio_task_t *batch_head;    /* worker tasks readied here this iteration */
    corio_task_t *batch_tail;
  } on_loop;
};

/* The worker running on this thread, or NULL. Not inlined: a task that
 * moved threads must not reuse another thread's answer (docs/DESIGN.md 3a). */
corio__worker_t *corio__worker_current(void);

/* The loop each worker thread runs. */
void *corio__worker_main(void *worker);

/* Tests only: nonzero makes the unfenced notifies of a task run
 * (notify_from_worker) blind to idle workers, as they are to one whose
 * announcement of idle is not visible yet: what the `pushing` watch must
 * cover. */
extern _Atomic(int) corio__test_unfenced_blind;

/* Put t where a worker of rt will run it, and wake one if needed. */
void corio__schedule(corio_rt_t *rt, corio_task_t *t);

/* The idle protocol's "work has appeared": wakes one parked worker when
 * none is searching. Call after the work is visible. */
void corio__notify(corio_rt_t *rt);

/* The hook of a worker's loop (corio__loop_hooks_t.kick): w has a request
 * in its inbox; wake it if it sleeps. Any thread. */
void corio__worker_kick(void *w);

/* Spawn a detached task bound to the calling worker of rt (it runs there
 * only). From a worker's thread, e.g. its loop's callbacks. Returns 0, or
 * UV_EINVAL on any other thread, or a libuv error. */
int corio__spawn_bound(corio_rt_t *rt, corio_task_fn fn, void *arg);

/* Worker i's loop, to bind a socket's task there, or NULL (loop-only). */
corio__loop_t *corio__rt_worker_loop(corio_rt_t *rt, unsigned i);

/* Release a finished (or abandoned) task's record and stack; on another
 * thread than its home tally's owner, only hand it over (tally.h). */
void corio__task_free(corio_task_t *t);

/* Release the tasks other threads handed over to home. Its owner only
 * (or anyone once the runtime's threads have stopped). */
void corio__task_drain(corio__tally_t *home);

/* A task came back finished: wake its joiner, or free it if detached,
 * and count it in this thread's tally. */
void corio__task_finished(corio_task_t *t);

/* The dump signal of rt_new's options (or CORIO_DUMP_SIGNAL): start and
 * stop its handler and thread. start: 0 or an error (nothing left). */
int corio__dump_signal_start(corio_rt_t *rt, int sig);
void corio__dump_signal_stop(corio_rt_t *rt);

/* The loop's stuck hook (loop.h): which task holds the loop thread. */
void corio__rt_loop_stuck(void *ctx);

/* Tasks of rt not yet finished, as of one instant (tally.h). Any thread. */
uint64_t corio__rt_live(corio_rt_t *rt);

/* The tasks may all have finished (this thread has nothing left to run):
 * let corio_rt_wait and the attached loop's ref look again, if anyone
 * cares. Workers before they park; the loop thread after an iteration. */
void corio__rt_quiet(corio_rt_t *rt);

/* The runtime that owns lp. */
static inline corio_rt_t *corio__loop_owner(corio__loop_t *lp) {
  return lp->hooks.ctx;
}

/* The runtime whose loop thread this is, or NULL. */
corio_rt_t *corio__loop_rt(void);

/* Start rt's reactor with the hooks of on_loop.c. */
int corio__on_loop_start(corio_rt_t *rt, uv_loop_t *app_loop);

/* A pinned task is runnable: run it on the loop thread soon (next, if it
 * was just spawned there). Any thread. */
void corio__on_loop_ready(corio_rt_t *rt, corio_task_t *t, int spawned);

/* A worker task was readied on the loop thread: hand it to the workers at
 * the end of the loop iteration, with the rest of that iteration's batch
 * and one wake-up (docs/DESIGN.md 8). Loop thread. */
void corio__on_loop_batch(corio_rt_t *rt, corio_task_t *t);

/* Resume t until it comes back, with *current pointing at it meanwhile,
 * then deal with why it came back: finished (joiner woken, or freed),
 * parked (its park function run). Returns nonzero if it yielded: the
 * caller queues it. Workers and the loop thread. */
int corio__task_run(corio_task_t *t, corio_task_t **current);

#endif
