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
 * UV_ETIMEDOUT) and return UV_ECANCELED when their task is cancelled
 * (corio/sync.h). A call that has to wait must come from a task; on a
 * plain thread it returns UV_EINVAL instead. The try_ calls never wait and
 * work from any thread.
 */
#ifndef CORIO_CHAN_H
#define CORIO_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_chan_s corio_chan_t;

/* Make a channel for elements of elem_size bytes (1 to 65536) holding up
 * to capacity of them (0: unbuffered). Returns 0, UV_EINVAL, UV_ENOMEM.
 * Any thread. */
CORIO_API int corio_chan_new(corio_chan_t **ch, size_t elem_size, size_t capacity);

/* Free it: 0, or UV_EBUSY while a task waits on it (nothing is freed).
 * Elements still buffered are dropped. Any thread. */
CORIO_API int corio_chan_free(corio_chan_t *ch);

/* Send a copy of *elem. 0, UV_EPIPE (closed), UV_ECANCELED, UV_EINVAL. */
CORIO_API int corio_chan_send(corio_chan_t *ch, const void *elem);
CORIO_API int corio_chan_send_dl(corio_chan_t *ch, const void *elem,
                                 uint64_t deadline);
/* Send if it can be done without waiting: 0, UV_EAGAIN, UV_EPIPE. */
CORIO_API int corio_chan_try_send(corio_chan_t *ch, const void *elem);

/* Receive into *elem. 0, UV_EOF (closed and drained), UV_ECANCELED,
 * UV_EINVAL. */
CORIO_API int corio_chan_recv(corio_chan_t *ch, void *elem);
CORIO_API int corio_chan_recv_dl(corio_chan_t *ch, void *elem, uint64_t deadline);
/* Receive if it can be done without waiting: 0, UV_EAGAIN, UV_EOF. */
CORIO_API int corio_chan_try_recv(corio_chan_t *ch, void *elem);

/* Close: 0, or UV_EPIPE if already closed. Any thread. */
CORIO_API int corio_chan_close(corio_chan_t *ch);

/* Elements buffered now (a snapshot), and the capacity. */
CORIO_API size_t corio_chan_len(corio_chan_t *ch);
CORIO_API size_t corio_chan_cap(const corio_chan_t *ch);

/* ------------------------------------------------------------------------
 * Select: wait for the first of several sends and receives. */

enum { CORIO_SEND = 1, CORIO_RECV = 2 };

typedef struct corio_select_case_s {
  corio_chan_t *ch;  /* NULL: the case is ignored */
  int op;            /* CORIO_SEND or CORIO_RECV */
  void *elem;        /* what to send, or where to receive */
  int result;        /* out, for the chosen case: 0, UV_EOF, UV_EPIPE */
} corio_select_case_t;

/* Perform exactly one of the cases, waiting until one can proceed; when
 * several can, one is chosen at random (no case starves). Returns the
 * index of the case done, whose .result says how (a receive on a closed
 * channel is done with UV_EOF, a send with UV_EPIPE); or UV_ECANCELED,
 * UV_EINVAL. */
CORIO_API int corio_select(corio_select_case_t *cases, size_t n);
/* With a deadline: UV_ETIMEDOUT when it passes first. */
CORIO_API int corio_select_dl(corio_select_case_t *cases, size_t n,
                              uint64_t deadline);
/* With a default case: UV_EAGAIN at once if no case can proceed. Any
 * thread. */
CORIO_API int corio_select_try(corio_select_case_t *cases, size_t n);

#ifdef __cplusplus
}
#endif

#endif
