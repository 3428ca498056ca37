/* The runtime and its workers: shared between worker.c (the scheduling
 * loop and the idle protocol) and rt.c (the public calls). */
#ifndef CORIO_SCHED_SCHED_H
#define CORIO_SCHED_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "atomics.h"
#include "deque.h"
#include "ebr.h"
#include "futex.h"
#include "inject.h"
#include "spin.h"
#include "task.h"

/* idle_state packs two counters so that every transition of the idle
 * protocol is one read-modify-write of one word (Tokio's idle.rs does the
 * same): the number of parked workers and the number searching. */
#define CORIO__IDLE_ONE 1u
#define CORIO__SEARCH_ONE (1u << 16)
#define CORIO__IDLE_COUNT(s) ((s) & 0xFFFFu)
#define CORIO__SEARCH_COUNT(s) ((s) >> 16)

typedef struct corio__worker {
  corio__deque_t dq;             /* padded: top and bottom on own lines */
  corio_rt_t *rt;
  corio__ebr_thread_t *ebr;
  /* The task readied most recently here. The owner takes it first;
   * thieves may take it too, but only after a search round found nothing
   * else, so a busy owner cannot hide it (Go's runnext works so). */
  _Atomic(corio_task_t *) lifo;
  corio_task_t *current;         /* the task running now, or NULL */
  unsigned lifo_streak;          /* LIFO tasks run in a row */
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
} corio__worker_t;

struct corio_rt_s {
  unsigned nworkers;             /* 0 in loop-only mode */
  int loop_only;
  corio__worker_t *workers;
  corio__ebr_t *ebr;
  corio__inject_t inject;
  corio_coro_options_t coro_opts;

  _Alignas(CORIO__CACHE_LINE) _Atomic(uint32_t) idle_state;
  pthread_mutex_t idle_mu;
  corio__worker_t *idle_head;    /* parked workers, a stack */
  _Atomic(int) stopping;

  /* Tasks not yet finished; corio_rt_wait sleeps on it. */
  _Alignas(CORIO__CACHE_LINE) _Atomic(uint32_t) live;

  struct corio__loop *lp;        /* the reactor (lib/loop) */

  /* Every task not yet freed, for corio_rt_free. */
  _Alignas(CORIO__CACHE_LINE) corio__spin_t reg_lock;
  corio_task_t *reg_head;
};

/* The worker running on this thread, or NULL. Not inlined: a task that
 * moved threads must not reuse another thread's answer (DESIGN.md 3a). */
corio__worker_t *corio__worker_current(void);

/* The loop each worker thread runs. */
void *corio__worker_main(void *worker);

/* Put t where a worker of rt will run it, and wake one if needed. */
void corio__schedule(corio_rt_t *rt, corio_task_t *t);

/* The idle protocol's "work has appeared": wakes one parked worker when
 * none is searching. Call after the work is visible. */
void corio__notify(corio_rt_t *rt);

/* Release a finished (or abandoned) task's record and stack. */
void corio__task_free(corio_task_t *t);

/* Resume t until it comes back, with *current pointing at it meanwhile,
 * then deal with why it came back: finished (joiner woken, or freed),
 * parked (its park function run). Returns nonzero if it yielded: the
 * caller queues it. Workers and the loop thread. */
int corio__task_run(corio_task_t *t, corio_task_t **current);

#endif
