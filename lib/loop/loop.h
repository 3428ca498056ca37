/* The loop side of a runtime: the loop thread, the bridge from workers,
 * loop-pinned tasks, timers. */
#ifndef CORIO_LOOP_LOOP_H
#define CORIO_LOOP_LOOP_H

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "corio/uv.h"
#include "inbox.h"
#include "sched/task.h"

typedef struct corio__timer corio__timer_t;

/* A socket of lib/net on the loop: closed by force when the runtime stops
 * (its tasks will never run again). Loop thread only. */
typedef struct corio__net_node {
  struct corio__net_node *prev, *next;
  void (*force_close)(struct corio__net_node *node);
} corio__net_node_t;

typedef struct corio__heap_entry {
  uint64_t deadline;
  corio__timer_t *timer;
} corio__heap_entry_t;

typedef struct corio__loop {
  corio_rt_t *rt;
  uv_loop_t *loop;
  uv_loop_t owned_loop;      /* the loop, in owned mode */
  int owned;
  uv_thread_t thread;        /* the loop thread, owned mode */
  uv_sem_t started;

  uv_async_t async;          /* workers -> loop: drain the inbox */
  uv_check_t check;          /* end of iteration: flush readied tasks */
  uv_idle_t idle;            /* keeps poll from blocking while pinned tasks wait */
  uv_timer_t timer;          /* the earliest sleeper */
  int handles_open;          /* closed in corio__loop_close, counted down */
  int closing;

  corio__inbox_t inbox;
  /* 1 while the loop polls the inbox itself (for LOOP_SPIN_NS after the
   * last request), so producers need not signal the uv_async_t. */
  _Atomic(int) polling;
  uint64_t poll_until;       /* ns of uv_hrtime(), loop thread only */
  corio__req_t live_req;     /* re-evaluate the async handle's ref */
  _Atomic(int) live_req_queued;
  corio__req_t stop_req;     /* owned mode: close everything */

  /* Loop thread only. */
  corio_task_t *current;     /* the pinned task running now */
  corio_task_t *next;        /* pinned task readied last here: runs next */
  unsigned next_streak;
  corio_task_t *runq_head;   /* pinned tasks ready to run */
  corio_task_t *runq_tail;
  corio_task_t *batch_head;  /* worker tasks readied here this iteration */
  corio_task_t *batch_tail;
  corio__heap_entry_t *heap; /* timers, a binary min-heap by deadline */
  _Atomic(size_t) heap_cancelled; /* entries whose waits ended otherwise (a hint) */
  size_t heap_len, heap_cap;
  uint64_t timer_due;        /* the deadline (ns) the uv timer is set for, or 0 */

  _Atomic(int) inflight;     /* libuv requests started through corio_await */
  corio__net_node_t *net_head; /* open sockets of lib/net, loop thread only */
} corio__loop_t;

/* The loop of the calling thread, if it is a loop thread. Not inlined, for
 * the reason corio__worker_current is not (DESIGN.md 3a). */
corio__loop_t *corio__loop_current(void);

int corio__loop_start(corio_rt_t *rt, uv_loop_t *app_loop, corio__loop_t **out);
/* Workers are stopped. Owned mode: close and join the loop thread (waits
 * for requests in flight). Attached mode (on the loop thread): UV_EBUSY if
 * requests are in flight, else close the handles; the last close callback
 * frees lp during the application's next uv_run. */
int corio__loop_stop(corio__loop_t *lp);

/* Post req to the loop thread (or run it now if this is the loop thread). */
void corio__loop_post(corio__loop_t *lp, corio__req_t *req);

/* A pinned task is runnable: run it on the loop thread soon (next, if it
 * was just spawned there). Any thread. */
void corio__loop_ready_pinned(corio__loop_t *lp, corio_task_t *t, int spawned);
/* A worker task was readied on the loop thread: batch it. */
void corio__loop_ready_batched(corio__loop_t *lp, corio_task_t *t);
/* rt->live moved between zero and nonzero: re-check the loop's ref. */
void corio__loop_live_changed(corio__loop_t *lp);

/* The sockets the loop closes when the runtime stops. Loop thread. */
void corio__loop_net_add(corio__loop_t *lp, corio__net_node_t *node);
void corio__loop_net_remove(corio__loop_t *lp, corio__net_node_t *node);

/* SIGPIPE blocked on the calling thread: corio's threads write to sockets
 * whose peer may be gone (lib/net sends with MSG_NOSIGNAL; libuv's own
 * writes on the loop thread cannot). */
void corio__block_sigpipe(void);

/* For an await whose request uv_cancel cannot stop (a connect, a write, an
 * accept waiting in a queue): fn(arg) runs on the loop thread if the wait
 * gives up before the request finished, and must make the request finish
 * (corio_await_done) soon. Call from start. */
void corio__await_on_give_up(corio_await_t *aw, void (*fn)(void *), void *arg);
/* Nonzero if a plain thread (not a task) waits in aw. */
int corio__await_by_thread(corio_await_t *aw);

/* Deadlines of waits (timer.c). A timer node belongs to one wait of one
 * task: made and armed by the waiting task's park function, fired on the
 * loop thread (which ends the wait with UV_ETIMEDOUT if nothing else did),
 * disarmed by the task once its wait is over, whatever ended it. */
corio__timer_t *corio__timer_new(corio_task_t *t, uint64_t seq, uint64_t deadline_ns);
void corio__timer_arm(corio__timer_t *timer);
void corio__timer_disarm(corio__timer_t *timer);
/* Loop thread. */
void corio__loop_timers_fire(uv_timer_t *timer);
void corio__loop_timers_drop(corio__loop_t *lp);

#endif
