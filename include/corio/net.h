/* corio/net.h: TCP servers and clients written as blocking code.
 *
 *   static void echo(corio_tcp_t *conn, void *arg) {
 *     char buf[4096];
 *     ssize_t n;
 *     while ((n = corio_read(conn, buf, sizeof buf)) > 0)
 *       if (corio_write(conn, buf, (size_t)n) < 0)
 *         break;
 *   }                                  // the connection closes on return
 *   ...
 *   corio_tcp_listener_t *ln;
 *   corio_tcp_listen(&ln, "127.0.0.1", 8080, NULL);   // in a task
 *   corio_tcp_serve(ln, echo, NULL);   // one task per connection
 *
 * How it runs (DESIGN.md 8): the loop thread owns every socket. Reads are
 * loop-driven and persistent: the loop reads into the connection's buffer
 * (CORIO_TCP_BUFFER bytes, allocated when the first bytes arrive) and
 * wakes the reader; corio_read takes buffered bytes without involving the
 * loop. When the buffer is full the loop stops reading, so a slow reader
 * costs one buffer and then TCP's own flow control. Writes are tried on
 * the calling worker first (a non-blocking send); only what the kernel did
 * not take goes through the loop. A keep-alive request/response therefore
 * costs one loop-to-worker wake-up and no worker-to-loop hop.
 *
 * Threads and ownership: a connection belongs to one task at a time, its
 * owner (the handler of corio_tcp_serve, the caller of accept or connect),
 * which closes it. At most one task reads at a time and writes are
 * serialised in arrival order, so another task may write while the owner
 * reads. All calls that wait take a deadline in their _dl twin (ms of
 * corio_now(), UV_ETIMEDOUT when it passes) and return UV_ECANCELED when
 * the task is cancelled (corio_cancel). They may suspend and must be
 * called from a task (UV_EINVAL elsewhere) unless they say otherwise.
 *
 * Defaults: TCP_NODELAY is set on every connection (small responses go out
 * at once, as in Go). SIGPIPE never reaches the application: corio sends
 * with MSG_NOSIGNAL and blocks SIGPIPE on its own threads (and, in attached
 * mode, on the loop thread, where libuv writes).
 */
#ifndef CORIO_NET_H
#define CORIO_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "corio/rt.h"
#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of each connection's read buffer. */
#define CORIO_TCP_BUFFER (64 * 1024)

typedef struct corio_tcp_s corio_tcp_t;
typedef struct corio_tcp_listener_s corio_tcp_listener_t;

/* ------------------------------------------------------------------------
 * Servers. */

typedef struct corio_tcp_listen_options_s {
  int backlog;    /* listen(2) backlog; 0: 511 */
  int reuseport;  /* nonzero: SO_REUSEPORT, for several listeners on a port */
  int ipv6_only;  /* nonzero: an IPv6 listener takes no IPv4 connections */
  /* The runtime whose loop listens; NULL: the calling task's runtime. */
  corio_rt_t *rt;
} corio_tcp_listen_options_t;

/* Listen on host:port. host is a numeric IPv4 or IPv6 address, a
 * name (resolved; the first address is used), or NULL for every IPv4
 * address ("0.0.0.0"); port 0 picks a free port (see
 * corio_tcp_listener_port). opts may be NULL. Returns 0 and sets *ln, or a
 * libuv error (UV_EADDRINUSE, UV_EACCES, UV_EAI_NONAME, ...; UV_EINVAL
 * without a runtime). May suspend; also works from a plain thread (which
 * it blocks) when opts->rt is set, but not on the loop thread outside a
 * task. */
CORIO_API int corio_tcp_listen(corio_tcp_listener_t **ln,
                               const char *host, int port,
                               const corio_tcp_listen_options_t *opts);

/* The port the listener is bound to, or a negative libuv error. Any thread. */
CORIO_API int corio_tcp_listener_port(corio_tcp_listener_t *ln);

/* Wait for the next connection: 0 and *conn (the caller owns it), or
 * UV_ECANCELED (task cancelled, or the listener closed), UV_ETIMEDOUT
 * (_dl), UV_EBUSY (the listener is being served by corio_tcp_serve). */
CORIO_API int corio_tcp_accept(corio_tcp_listener_t *ln, corio_tcp_t **conn);
CORIO_API int corio_tcp_accept_dl(corio_tcp_listener_t *ln, corio_tcp_t **conn,
                                  uint64_t deadline);

/* The body of a connection's task. It owns conn; when it returns, conn is
 * closed (if the handler did not close it already). */
typedef void (*corio_tcp_handler_fn)(corio_tcp_t *conn, void *arg);

/* Serve ln: every accepted connection gets a new task running
 * handler(conn, arg), spawned by the loop thread as it accepts, with no
 * accept round trip. Returns when the listener is closed (0), or at once
 * with UV_EBUSY if ln is already served or has accept waiters. Blocks the
 * calling task (or plain thread, not the loop thread) until then.
 * Connections already accepted live on after the listener closes.
 * When accept fails for lack of descriptors (EMFILE, ENFILE), libuv's
 * reserve descriptor lets the loop refuse the waiting connections instead
 * of spinning; serving resumes as soon as descriptors are free. */
CORIO_API int corio_tcp_serve(corio_tcp_listener_t *ln,
                              corio_tcp_handler_fn handler, void *arg);

/* Stop listening and free ln: corio_tcp_serve returns 0 and accept waiters
 * get UV_ECANCELED. Returns 0 once the socket is closed. May suspend; also
 * from a plain thread (not the loop thread outside a task). */
CORIO_API int corio_tcp_listener_close(corio_tcp_listener_t *ln);

/* ------------------------------------------------------------------------
 * Clients. */

/* Connect to host:port: resolves host through the loop (numeric addresses
 * without the threadpool) and tries each address in turn. Returns 0 and
 * *conn (the caller owns it), or the last address's error as a libuv code
 * (UV_ECONNREFUSED, UV_ENETUNREACH, UV_EAI_NONAME, ...), UV_ETIMEDOUT
 * (_dl: the deadline covers resolution and every attempt), UV_ECANCELED. */
CORIO_API int corio_tcp_connect(corio_tcp_t **conn, const char *host, int port);
CORIO_API int corio_tcp_connect_dl(corio_tcp_t **conn, const char *host,
                                   int port, uint64_t deadline);

/* ------------------------------------------------------------------------
 * Data. */

/* Read up to len bytes: the number read (> 0), UV_EOF once the peer has
 * shut down its side and everything before was read, a libuv error
 * (UV_ECONNRESET, ...), UV_ETIMEDOUT (_dl), UV_ECANCELED (the task was
 * cancelled, or the owner closed conn meanwhile), UV_EBUSY (another task
 * is reading). Returns without waiting when bytes are buffered. len == 0
 * returns 0. Nothing is lost when it gives up: unread bytes stay buffered. */
CORIO_API ssize_t corio_read(corio_tcp_t *conn, void *buf, size_t len);
CORIO_API ssize_t corio_read_dl(corio_tcp_t *conn, void *buf, size_t len,
                                uint64_t deadline);

/* Read exactly len bytes: len, or an error as corio_read (UV_EOF if the
 * stream ends first). On an error, *got (if not NULL) says how many bytes
 * were read into buf before it. */
CORIO_API ssize_t corio_read_full(corio_tcp_t *conn, void *buf, size_t len,
                                  size_t *got);
CORIO_API ssize_t corio_read_full_dl(corio_tcp_t *conn, void *buf, size_t len,
                                     size_t *got, uint64_t deadline);

/* Write all of buf: returns len once the kernel has accepted every byte,
 * or a libuv error (UV_EPIPE, UV_ECONNRESET, ...; once a write failed,
 * every later write fails the same way). A write that gives up (deadline,
 * cancel) with bytes still queued leaves the stream in an unknown state:
 * corio shuts the socket down, and later writes return UV_EPIPE. */
CORIO_API ssize_t corio_write(corio_tcp_t *conn, const void *buf, size_t len);
CORIO_API ssize_t corio_write_dl(corio_tcp_t *conn, const void *buf,
                                 size_t len, uint64_t deadline);
/* The same for several buffers, written in order as one stream (one
 * system call when the kernel takes them all). At most 1024 buffers. */
CORIO_API ssize_t corio_writev(corio_tcp_t *conn, const uv_buf_t *bufs,
                               unsigned nbufs);
CORIO_API ssize_t corio_writev_dl(corio_tcp_t *conn, const uv_buf_t *bufs,
                                  unsigned nbufs, uint64_t deadline);

/* Half-close: no more writes (the peer reads EOF); reading goes on. Waits
 * for a write in progress to finish. Returns 0 or a libuv error. */
CORIO_API int corio_shutdown(corio_tcp_t *conn);

/* Close conn and release it. The owner only, once; conn is invalid after.
 * Another task blocked in corio_read or corio_write on conn returns
 * UV_ECANCELED (the record stays valid until it has returned), but no
 * task may start a call on conn after this: the owner makes sure its
 * helpers have stopped. Does not wait: the loop closes the socket (an
 * adopted handle: called from a task, it waits until the close is
 * complete; elsewhere the handle must outlive the loop's next iteration).
 * Returns 0. Any thread, also outside a task. */
CORIO_API int corio_close(corio_tcp_t *conn);

/* ------------------------------------------------------------------------
 * Options, addresses, interop. None of these waits; any thread. */

/* TCP_NODELAY on (nonzero, the default) or off. 0 or a libuv error. */
CORIO_API int corio_tcp_nodelay(corio_tcp_t *conn, int enable);
/* TCP keep-alive probes after delay_s idle seconds (enable != 0), or off. */
CORIO_API int corio_tcp_keepalive(corio_tcp_t *conn, int enable,
                                  unsigned delay_s);
/* The peer's and the local address; *len is in/out as for getpeername(2).
 * 0 or a libuv error. */
CORIO_API int corio_tcp_peer(corio_tcp_t *conn, struct sockaddr *addr, int *len);
CORIO_API int corio_tcp_local(corio_tcp_t *conn, struct sockaddr *addr, int *len);

/* Take over a connected uv_tcp_t of the application (attached mode, or any
 * handle on rt's loop): corio stops the application's reads, and from now
 * on reads, writes and closes it; its memory must stay valid until the
 * close completes, which corio_close on an adopted handle waits for.
 * Returns 0 and *conn, or a libuv error (UV_EINVAL: not a connected TCP
 * handle of the runtime's loop). Call it on a runtime's loop thread (a
 * callback of the application, or a task pinned there) or from a task of
 * that runtime. */
CORIO_API int corio_tcp_adopt(corio_tcp_t **conn, uv_tcp_t *handle);

/* The libuv handle under conn, for code that needs libuv directly: touch
 * it on the loop thread only, and do not read from it or close it. */
CORIO_API uv_tcp_t *corio_tcp_handle(corio_tcp_t *conn);

#ifdef __cplusplus
}
#endif

#endif
