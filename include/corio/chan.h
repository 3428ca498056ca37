/* corio/chan.h: channels and select, as in Go.
 *
 * A channel carries elements of one fixed size, copied in and out.
 * Capacity 0 is a rendezvous: a send completes only when a receiver has
 * taken the element. Capacity > 0 is a ring buffer: a send completes when
 * the element is in it, waiting only while it is full. Waiters are served
 * in arrival order.
 *
 * corio_chan_close wakes every waiter: receivers first drain what is
 * buffered, then get UV_EOF; senders get UV_EPIPE, now and after.
 *
 * Waiting calls have _dl twins (absolute deadline, ms of corio_now(),
 * UV_ETIMEDOUT once it passes, never before; a deadline already past
 * means "only if it needs no wait"). They return UV_ECANCELED when their
 * task is cancelled (corio_cancel, corio/rt.h), and may suspend the
 * calling task. What can be done without waiting is done on any thread;
 * a call that has to wait must come from a task (not a plain thread, nor
 * a coroutine of corio/coro.h run inside a task): elsewhere it returns
 * UV_EINVAL instead of waiting, having changed nothing. A _dl call with a
 * deadline still ahead may also return UV_ENOMEM when there is no memory
 * for the deadline's timer. The try_ calls never wait and work from any
 * thread. A channel may be used from any number of tasks and threads at
 * once; only corio_chan_free must come after every other use.
 */
#ifndef CORIO_CHAN_H
#define CORIO_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "corio/rt.h"
#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_chan_s corio_chan_t;

/* The largest element, in bytes. Elements are copied straight between the
 * sender's and the receiver's memory, which is often a task's frame: a
 * bound keeps them small enough for that, and catches a count passed
 * where a size belongs. Pass a pointer for anything bigger. */
#define CORIO_CHAN_ELEM_MAX 65536u

/* Make a channel for elements of elem_size bytes (1 to CORIO_CHAN_ELEM_MAX)
 * holding up to capacity of them (0: unbuffered). Returns 0 and sets *ch,
 * or UV_EINVAL (ch NULL, elem_size out of range, capacity * elem_size
 * beyond SIZE_MAX), UV_ENOMEM. Never suspends; any thread. */
CORIO_API int corio_chan_new(size_t elem_size, size_t capacity,
                             corio_chan_t **ch);

/* Free it. Returns 0; UV_EBUSY while a task waits on it (nothing is
 * freed); UV_EINVAL for NULL. Elements still buffered are dropped. Never
 * suspends; any thread, once no other call on ch can still begin. */
CORIO_API int corio_chan_free(corio_chan_t *ch);

/* Send a copy of *elem, waiting while there is no room (no receiver, for
 * an unbuffered channel). Returns 0; UV_EPIPE (closed, before or while
 * waiting); UV_ECANCELED; UV_EINVAL (ch or elem NULL; it has to wait
 * outside a task). May suspend. */
CORIO_API int corio_chan_send(corio_chan_t *ch, const void *elem);
/* The same with a deadline: also UV_ETIMEDOUT, UV_ENOMEM. */
CORIO_API int corio_chan_send_dl(corio_chan_t *ch, const void *elem,
                                 uint64_t deadline);
/* Send if it can be done without waiting: 0, UV_EAGAIN, UV_EPIPE,
 * UV_EINVAL (ch or elem NULL). Never suspends; any thread. */
CORIO_API int corio_chan_try_send(corio_chan_t *ch, const void *elem);

/* Receive into *elem, waiting while there is nothing to take. Returns 0;
 * UV_EOF (closed and drained, before or while waiting); UV_ECANCELED;
 * UV_EINVAL (ch or elem NULL; it has to wait outside a task). May
 * suspend. */
CORIO_API int corio_chan_recv(corio_chan_t *ch, void *elem);
/* The same with a deadline: also UV_ETIMEDOUT, UV_ENOMEM. */
CORIO_API int corio_chan_recv_dl(corio_chan_t *ch, void *elem, uint64_t deadline);
/* Receive if it can be done without waiting: 0, UV_EAGAIN, UV_EOF,
 * UV_EINVAL (ch or elem NULL). Never suspends; any thread. */
CORIO_API int corio_chan_try_recv(corio_chan_t *ch, void *elem);

/* Close: wakes every waiter as said above. Returns 0; UV_EPIPE if already
 * closed; UV_EINVAL for NULL. Never suspends; any thread. */
CORIO_API int corio_chan_close(corio_chan_t *ch);

/* Elements buffered now (a snapshot; 0 for NULL). Never suspends; any
 * thread. */
CORIO_API size_t corio_chan_len(corio_chan_t *ch);
/* The capacity given to corio_chan_new (0 for NULL). Never suspends; any
 * thread. */
CORIO_API size_t corio_chan_cap(const corio_chan_t *ch);

/* ------------------------------------------------------------------------
 * Select: wait for the first of several sends and receives.
 *
 * As in Go, a case whose channel is NULL never proceeds and is otherwise
 * ignored: so a select with no live case (all NULL, or n == 0) is Go's
 * `select {}`: corio_select_try returns UV_EAGAIN, corio_select_dl waits
 * for its deadline (UV_ETIMEDOUT), corio_select waits until the task is
 * cancelled (UV_ECANCELED). The same channel may appear in several cases,
 * also for both directions; a select never completes with itself. */

/* The most cases one select takes (counting NULL ones); more is
 * UV_EINVAL. A select keeps a waiter per case in the calling task's frame,
 * about 4 KiB at this bound, and so never allocates. To wait on more
 * channels, fan them in: a task per group forwards to one channel. */
#define CORIO_SELECT_MAX 64

enum { CORIO_SEND = 1, CORIO_RECV = 2 };

typedef struct corio_select_case_s {
  corio_chan_t *ch;  /* NULL: the case is disabled (op, elem not looked at) */
  int op;            /* CORIO_SEND or CORIO_RECV */
  void *elem;        /* what to send, or where to receive */
  int result;        /* out, for the chosen case: 0, UV_EOF, UV_EPIPE */
} corio_select_case_t;

/* Perform exactly one of the n cases, waiting until one can proceed; when
 * several can, one is chosen at random (no case starves). Returns the
 * index of the case done, whose .result says how (a receive on a closed
 * channel is done with UV_EOF, a send with UV_EPIPE; other cases are left
 * as they were); or UV_ECANCELED; or UV_EINVAL (cases NULL with n > 0, n
 * beyond CORIO_SELECT_MAX, a live case with a bad op or a NULL elem; it
 * has to wait outside a task). May suspend. */
CORIO_API int corio_select(corio_select_case_t *cases, size_t n);
/* With a deadline: also UV_ETIMEDOUT when it passes first, UV_ENOMEM. */
CORIO_API int corio_select_dl(corio_select_case_t *cases, size_t n,
                              uint64_t deadline);
/* With a default case: UV_EAGAIN at once if no case can proceed (also
 * when none is live). Otherwise as corio_select, but never suspends; any
 * thread. */
CORIO_API int corio_select_try(corio_select_case_t *cases, size_t n);

/* ------------------------------------------------------------------------
 * Time as channels (Go's time.Ticker and time.After), to wait on in a
 * select beside other channels. */

typedef struct corio_ticker_s corio_ticker_t;

/* A ticker of rt: tick k is due period_ms * k after this call (k = 1, 2,
 * ...: no drift), and puts corio_now() (a uint64_t) into its channel,
 * which holds one tick. A tick that finds the last one not yet received
 * is dropped, and ticks missed while the ticker's task could not run are
 * skipped, not sent in a burst. Never early. Returns 0 and *out,
 * UV_EINVAL (period 0), UV_ENOMEM. Does not suspend; any thread. */
CORIO_API int corio_ticker_new(corio_rt_t *rt, uint64_t period_ms, corio_ticker_t **out);
/* The same, firing once, ms from now (time.After). */
CORIO_API int corio_after(corio_rt_t *rt, uint64_t ms, corio_ticker_t **out);
/* Its channel: receive from it, or put it in a select. Valid until
 * corio_ticker_free. */
CORIO_API corio_chan_t *corio_ticker_chan(corio_ticker_t *t);
/* Stop the ticker and free it with its channel; no task may wait on the
 * channel any more. Waits for the ticker's task to end (a moment). 0, or
 * UV_EINVAL (NULL; on a loop or worker thread outside a task). May
 * suspend; a task, or a plain thread (which it blocks). */
CORIO_API int corio_ticker_free(corio_ticker_t *t);

#ifdef __cplusplus
}
#endif

#endif
