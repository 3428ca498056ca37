/* A TCP connection: the record shared by its tasks and the thread that
 * drives its loop, lp (the loop thread, or for a served connection with
 * workers, the worker its task is bound to: docs/DESIGN.md 8). Below, "the
 * loop" and "loop thread" mean that thread.
 *
 * Read side (docs/DESIGN.md 8): [rpos, wpos) of rbuf are buffered bytes. The
 * loop appends behind wpos (alloc_cb hands out [wpos, end), read_cb moves
 * wpos); only the reader consumes and compacts, so bytes the reader is
 * looking at never move under it. `filling` marks the loop between
 * alloc_cb and read_cb (one read system call), when the reader must not
 * move bytes: compaction is put off, and a cut for an in-place parser
 * parks (`cutter`) until read_cb readies it. A full buffer stops the
 * loop's reads; the reader asks for them again (resume_req) once it has
 * drained half, or when it would otherwise wait.
 *
 * Write side: writers take wmu, then send on the socket themselves; only
 * what the kernel did not take goes to the loop as a uv_write. `sending`
 * marks a send in progress: the loop must not close the descriptor under
 * it, so a close that comes meanwhile is posted by the sender.
 *
 * Lifetime: the record is freed when the handle is closed (close_cb) and
 * no task is inside a call on it (`users`, which counts callers, the serve
 * task around its handler, a queued resume_req, and the task closing an
 * adopted handle until close_cb readies it). Everything below is
 * under `lock` unless it says otherwise.
 *
 * `lock` is a spinlock, and its waits are bounded: every holder keeps it
 * for a few field updates, a memmove within one buffer, or the readying of
 * a task (which at most takes the scheduler's idle lock for a few stores
 * and makes one non-blocking wake-up call). No holder reads, sends, waits
 * or switches with it, except a task that parks with it held, whose park
 * function releases it on the worker at once (docs/DESIGN.md 3). No task waits
 * by spinning on it for something the other side has yet to do: such
 * waits park (the reader, the cutter, an adopted handle's closer).
 */
#ifndef CORIO_NET_TCP_H
#define CORIO_NET_TCP_H

#include <sys/types.h>

#include "corio/net.h"
#include "corio/sync.h"
#include "io/await.h"
#include "sched/sched.h"
#include "sched/wait.h"

struct corio_tcp_s {
  corio__loop_closer_t node;      /* loop thread: on lp's list while open */
  /* the handle, unless adopted: a TCP socket, or a Unix-domain socket or
   * pipe (corio_unix_*, corio_pipe_open): one stream type for both */
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } own;
  uv_stream_t *h;
  corio__loop_t *lp;
  int fd;                      /* set before any task sees the record */
  int adopted;
  int not_socket;              /* a pipe: written with writev, not sendmsg */
  int listed;                  /* loop thread: on lp's list */

  corio__spin_t lock;
  char *rbuf;                  /* CORIO_TCP_BUFFER bytes, or NULL yet */
  size_t rpos, wpos;
  int filling;                 /* the loop is in a read system call */
  corio_task_t *cutter;        /* parked in corio__tcp_cut until read_cb */
  int read_on;                 /* the loop reads (uv_read_start in effect) */
  int read_err;                /* UV_EOF or an error, after the bytes */
  int in_read;                 /* a task is reading */
  corio__waiter_t *reader;     /* parked until bytes arrive */
  int resume_queued;
  corio__req_t resume_req;

  corio_mutex_t wmu;           /* writers, in arrival order */
  int sending;
  int write_err;               /* sticky */

  int users;
  int closing;                 /* corio_close called: no new calls */
  int close_queued;
  int handle_closed;
  corio__req_t close_req;
  corio_task_t *closer;        /* adopted: corio_close parks until close_cb */

  corio_tcp_handler_fn handler; /* corio_tcp_serve */
  void *handler_arg;
};

/* A record for a handle the loop thread is about to open. */
corio_tcp_t *corio__tcp_new(corio__loop_t *lp);
/* Loop thread: c->h is initialised; the loop closes it if the runtime
 * stops. */
void corio__tcp_listed(corio_tcp_t *c);
/* Loop thread: the handle is connected; start reading (nodelay on). */
void corio__tcp_opened(corio_tcp_t *c);
/* corio_tcp_serve that counts in *pending (+1 on the loop thread before
 * each spawn or hand-off) the handler tasks to come: the handler subtracts
 * 1 once it no longer needs what arg points to to stay alive unannounced.
 * A connection dropped before its handler began (no memory, no
 * descriptor, the runtime stopping; perhaps on a worker, after serve
 * returned) calls dropped(arg) instead, which must subtract the 1 itself
 * (and may then announce it). group: as corio_tcp_serve_group, or NULL. */
int corio__tcp_serve_counted(corio_tcp_listener_t *ln, corio_group_t *group,
                             corio_tcp_handler_fn handler, void *arg,
                             _Atomic(int) *pending, void (*dropped)(void *arg));
/* Name the calling task after connection c, for corio_rt_dump ("conn
 * PEER", computed only when a dump asks). */
void corio__tcp_name_task(corio_tcp_t *c);
/* The end of a corio_tcp_serve task: close unless the handler did. */
void corio__tcp_serve_end(corio_tcp_t *c);
/* Loop thread: close a record no task has seen (failed connect, ...). */
void corio__tcp_discard(corio_tcp_t *c);

/* For protocols that parse in place (HTTP), from the one reading task
 * (between read_begin and read_end; UV_EBUSY if another reads). corio__tcp_peek: the buffered bytes, valid until the next
 * consume or fill. corio__tcp_fill_dl waits until more than `have` bytes
 * (what the caller last saw) are buffered, compacting to make room:
 * returns the bytes now buffered (> have), UV_EOF, an error, UV_ENOBUFS
 * when the buffer is full of unconsumed bytes, UV_ETIMEDOUT, UV_ECANCELED
 * (the connection is closing, or the task was cancelled). What is known
 * without waiting (bytes, the end of the stream, an error, a close, a full
 * buffer) returns before the wait begins, leaving a pending cancel for
 * the next call that waits. */
int corio__tcp_read_begin(corio_tcp_t *c);
void corio__tcp_read_end(corio_tcp_t *c);
size_t corio__tcp_peek(corio_tcp_t *c, char **p);
void corio__tcp_consume(corio_tcp_t *c, size_t n);
ssize_t corio__tcp_fill_dl(corio_tcp_t *c, size_t have, uint64_t deadline_ns);
/* Remove n buffered bytes at offset off from the first; off == 0 also
 * moves what is left to the start of the buffer (so offsets from the
 * buffer and from the first byte agree, and stay so while the reader only
 * cuts at off > 0). Moves bytes: pointers from peek are stale after. May
 * suspend the task briefly: while the loop is reading into the buffer,
 * it parks until that read is over (no deadline, not cancellable). */
void corio__tcp_cut(corio_tcp_t *c, size_t off, size_t n);
/* Nothing buffered, no end of stream or error, not closing: a kept-alive
 * connection nobody reads that may carry a new exchange. Any thread. */
int corio__tcp_quiet(corio_tcp_t *c);

#endif
