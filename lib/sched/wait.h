/* Waiting with a deadline and cancellation: the protocol every blocking
 * primitive of corio builds on, on top of the park protocol
 * (docs/DESIGN.md 3).
 *
 * A wait has one wake token, in the task (task->wake_word): the wait's
 * sequence number (unique for the task) and a state. Three parties may
 * try to end the wait: the event the task waits for (a primitive's
 * signal), its deadline (a timer, lib/loop/timer.h) and corio_cancel.
 * Each tries one compare-and-swap of the token from WAITING to WOKEN; the
 * one that succeeds records the reason and readies the task, the others do
 * nothing. So a task is readied once per wait, whatever races.
 *
 * A primitive keeps waiters (corio__waiter_t, in the waiting task's frame)
 * in a list under its own lock. To signal, it takes a waiter off the list
 * and calls corio__wake(); if that fails (the waiter timed out or was
 * cancelled meanwhile), it moves on to the next. A waiter woken by its
 * deadline or a cancel finds itself perhaps still on the list: it takes
 * the lock and unlinks itself before returning.
 */
#ifndef CORIO_SCHED_WAIT_H
#define CORIO_SCHED_WAIT_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/list.h"
#include "core/spin.h"
#include "task.h"

enum { CORIO__WAIT_IDLE = 0, CORIO__WAIT_WAITING = 1, CORIO__WAIT_WOKEN = 2 };

/* "No deadline". */
#define CORIO__NO_DEADLINE UINT64_MAX

/* A public deadline (ms of corio_now()) in the ns the wait core uses. */
static inline uint64_t corio__deadline_ns(uint64_t deadline_ms) {
  return deadline_ms >= UINT64_MAX / 1000000u ? CORIO__NO_DEADLINE
                                              : deadline_ms * 1000000u;
}


/* The deadline ms milliseconds from now, in the ns the wait core uses;
 * clamped like libuv clamps its timers: a huge span is "forever". */
static inline uint64_t corio__after_ns(uint64_t now_ns, uint64_t ms) {
  return ms < (CORIO__NO_DEADLINE - now_ns) / 1000000u ? now_ns + ms * 1000000u
                                                     : CORIO__NO_DEADLINE;
}


typedef struct corio__waiter {
  corio__list_t link; /* on the primitive's list (under its lock) */
  corio_task_t *task;
  uint64_t seq;
  void *data;        /* for the primitive: a value to hand over, ... */
  int fired;         /* set by the waker that claimed this waiter */
  int result;        /* what the waker says happened (channels) */
} corio__waiter_t;

/* A primitive's waiters, oldest first. All-zero is an empty list. */
typedef struct corio__wlist {
  corio__list_t head;
} corio__wlist_t;

static inline int corio__wlist_empty(const corio__wlist_t *l) {
  return corio__list_empty(&l->head);
}

static inline void corio__wlist_push(corio__wlist_t *l, corio__waiter_t *w) {
  corio__list_push_back(&l->head, &w->link);
}

/* Take w off its list if it is on one. */
static inline void corio__wlist_unlink(corio__waiter_t *w) {
  corio__list_remove(&w->link);
}

static inline corio__waiter_t *corio__wlist_pop(corio__wlist_t *l) {
  corio__list_t *n = corio__list_pop_front(&l->head);
  return n != NULL ? corio__container_of(n, corio__waiter_t, link) : NULL;
}

/* What a task waits on, for corio_rt_dump. */
enum corio__wait_kind {
  CORIO__WK_NONE,
  CORIO__WK_OTHER,        /* a wait nobody described */
  CORIO__WK_SLEEP,        /* arg: the deadline, ns */
  CORIO__WK_JOIN,         /* obj: the task */
  CORIO__WK_GROUP,
  CORIO__WK_MUTEX,
  CORIO__WK_COND,
  CORIO__WK_SEM,
  CORIO__WK_WG,
  CORIO__WK_CHAN_SEND,
  CORIO__WK_CHAN_RECV,
  CORIO__WK_SELECT,       /* arg: cases */
  CORIO__WK_TCP_READ,     /* obj: the connection */
  CORIO__WK_TCP_WRITE,
  CORIO__WK_TCP_CONNECT,
  CORIO__WK_TCP_ACCEPT,
  CORIO__WK_TCP_SERVE,    /* obj: the listener */
  CORIO__WK_TCP_OTHER,    /* listen, close, adopt */
  CORIO__WK_FS,           /* arg: the uv_fs_type */
  CORIO__WK_DNS,
  CORIO__WK_WORK,         /* the threadpool */
  CORIO__WK_AWAIT,        /* a libuv request through corio_await */
  CORIO__WK_SIGNAL,       /* obj: the watcher */
  CORIO__WK_COUNT
};

/* A layer above describes the objects of a kind for corio_rt_dump (net:
 * a connection's peer): fn writes a few words into buf. */
void corio__dump_describer(int kind, void (*fn)(const void *obj, char *buf, size_t len));

/* Say what w's wait is (kind, object, a number), after corio__wait_begin
 * and before the park, which clears it; a wait not described shows as
 * CORIO__WK_OTHER. Inline: a few stores into the task's record. */
static inline void corio__wait_what(corio__waiter_t *w, int kind, const void *obj,
                                    uint64_t arg) {
  corio_task_t *t = w->task;

  atomic_store_explicit(&t->wait_obj, (uintptr_t)obj, memory_order_relaxed);
  atomic_store_explicit(&t->wait_arg, arg, memory_order_relaxed);
  atomic_store_explicit(&t->wait_kind, kind, memory_order_relaxed);
}

/* The common wait of a watcher (signals, file events, datagrams, a
 * child's exit): with lock held, having found nothing to take, wait once
 * on wl for a corio__wake. Returns 0 with lock held again (look again:
 * another waiter may have taken it), or an error (UV_EINVAL outside a
 * task, UV_ECANCELED, UV_ETIMEDOUT: deadline in ms of corio_now()) with
 * the waiter gone and lock released. */
int corio__wait_on_list(corio__wlist_t *wl, corio__spin_t *lock, int kind, const void *obj,
                        uint64_t arg, uint64_t deadline);

/* Wake every waiter on wl (with its lock held). */
void corio__wake_all(corio__wlist_t *wl);

/* Refresh the clock that dates the start of waits (CLOCK_MONOTONIC_COARSE,
 * ns): the workers call it every so many scheduling decisions and as
 * they park, the loop thread every iteration. Any thread. */
void corio__wait_clock_tick(void);
/* That clock (CLOCK_MONOTONIC_COARSE) read now, in ns. */
uint64_t corio__coarse_ns(void);

/* The same for the calling task's next wait, before a call that waits
 * inside (corio_await). Nothing outside a task. */
void corio__wait_hint(int kind, const void *obj, uint64_t arg);

/* Start a wait of the calling task: fills w. Returns 0, UV_EINVAL outside
 * a task, or UV_ECANCELED if a cancel is pending (it is consumed). */
int corio__wait_begin(corio__waiter_t *w);

/* Park until woken, releasing `lock` (if not NULL) once off the stack.
 * deadline: absolute, in ns of uv_hrtime() (a corio_now() deadline D in ms
 * is D * 1000000), or CORIO__NO_DEADLINE.
 * Returns 0 (woken by the event), UV_ETIMEDOUT or UV_ECANCELED. After a
 * nonzero return the waiter may still be on the primitive's list. */
int corio__wait_park(corio__waiter_t *w, corio__spin_t *lock, uint64_t deadline);

/* Park with several locks held: unlock(arg) runs once the task is off its
 * stack (corio_select holds every channel's lock). */
int corio__wait_park_unlock(corio__waiter_t *w, void (*unlock)(void *),
                            void *arg, uint64_t deadline);

/* corio_cancel without its checks of the handle: for corio's own use on
 * tasks it knows to be alive (group members, a runtime's tasks, the
 * caller itself), detached or not. 0. */
int corio__cancel(corio_task_t *t);

/* For a wait parked with corio__wait_park_unlock whose waiters sit on
 * lists in memory not the task's own: fn(arg) takes them off, should the
 * runtime abandon the task while it waits (corio_rt_free). Set it before
 * the park, clear it (corio__wait_on_abandon(w, NULL, NULL)) after.
 * corio__wait_park does this itself for its one waiter. */
void corio__wait_on_abandon(corio__waiter_t *w, void (*fn)(void *), void *arg);

/* End w's wait with reason (0 for the event). Returns 1 if this call woke
 * the task, 0 if its wait had already ended. Any thread. */
int corio__wake(corio__waiter_t *w, int reason);

/* The same in two steps, for wakers that must hand something over between
 * winning and waking (channels): claim ends the wait (1) or finds it ended
 * (0); after a successful claim, commit readies the task. */
int corio__wake_claim(corio__waiter_t *w);
void corio__wake_commit(corio__waiter_t *w, int reason);

/* The same, for a wait known by task and sequence number (timers). */
int corio__wake_seq(corio_task_t *t, uint64_t seq, int reason);

#endif
