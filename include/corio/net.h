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
 *   corio_tcp_listen("127.0.0.1", 8080, NULL, &ln);   // in a task
 *   corio_tcp_serve(ln, echo, NULL);   // one task per connection
 *
 * How it runs (docs/DESIGN.md 8): a socket belongs to one libuv loop, run by
 * one thread. With workers, a connection served by corio_tcp_serve lives
 * on a worker's own loop and its task is bound to that worker (it runs
 * there only, never stolen): its reads, handler and writes need no other
 * thread. Other sockets (listeners, accept, connect, adopted handles, and
 * every socket in loop-only mode) live on the runtime's loop thread.
 * Reads are loop-driven and persistent: the loop reads into the
 * connection's buffer (CORIO_TCP_BUFFER bytes, allocated when the first
 * bytes arrive) and wakes the reader; corio_read takes buffered bytes
 * without involving the loop. When the buffer is full the loop stops
 * reading, so a slow reader costs one buffer and then TCP's own flow
 * control. Writes are tried by the calling task first (a non-blocking
 * send); only what the kernel did not take goes through the loop.
 *
 * Threads and ownership: a connection belongs to one task at a time, its
 * owner (the handler of corio_tcp_serve, the caller of accept or connect),
 * which closes it. At most one task reads at a time and writes are
 * serialised in arrival order, so another task may write while the owner
 * reads. Calls that wait for the network or the peer (accept, connect,
 * read, write, shutdown) take a deadline in their _dl twin (ms of
 * corio_now(); UV_ETIMEDOUT when it passes, never before; UV_ENOMEM if no
 * memory is left to arm it); listen, serve, listener_close and adopt wait
 * only for the loop thread (serve: until the listener closes) and have
 * none. A call that waits returns UV_ECANCELED when its task is cancelled
 * (corio_cancel) unless it says otherwise. Each call says where it may be
 * called; "in a task" means a task itself, not a coroutine nested in one,
 * and such a call returns UV_EINVAL anywhere else instead of waiting.
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

#include "corio/group.h"

#include "corio/rt.h"
#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of each connection's read buffer, allocated when its first bytes
 * arrive and kept until it closes: the most the loop reads ahead of the
 * reader, and the most an in-place parser (HTTP) sees at once. */
#define CORIO_TCP_BUFFER (64 * 1024)

/* The most buffers one corio_writev takes: IOV_MAX on Linux and macOS, as
 * many as one sendmsg(2) accepts. */
#define CORIO_TCP_WRITEV_MAX 1024

/* The listen(2) backlog when the options give none: 511, as nginx,
 * Node.js and Redis use (the kernel caps it at net.core.somaxconn). */
#define CORIO_TCP_DEFAULT_BACKLOG 511

typedef struct corio_tcp_s corio_tcp_t;
typedef struct corio_tcp_listener_s corio_tcp_listener_t;

/* ------------------------------------------------------------------------
 * Servers. A listener accepts into a task waiting in corio_tcp_accept, or,
 * served by corio_tcp_serve, spawns a task per connection. Connections that come while nobody accepts wait in the kernel's
 * backlog. */

typedef struct corio_tcp_listener_options_s {
  int backlog;    /* listen(2) backlog; 0 or less: CORIO_TCP_DEFAULT_BACKLOG */
  int reuseport;  /* nonzero: SO_REUSEPORT, for several listeners on a port */
  int ipv6_only;  /* nonzero: an IPv6 listener takes no IPv4 connections */
  /* The runtime whose loop listens; NULL: the calling task's runtime. */
  corio_rt_t *rt;
} corio_tcp_listener_options_t;

/* Listen on host:port. host is a numeric IPv4 or IPv6 address, a name
 * (resolved; the first address is used), or NULL for every IPv4 address
 * ("0.0.0.0"); port 0 picks a free port (see corio_tcp_listener_port).
 * opts may be NULL. Returns 0 and sets *ln, or a libuv error:
 * UV_EADDRINUSE, UV_EACCES, ... (bind, listen), UV_EAI_NONAME, ...
 * (resolution), UV_ENOMEM, UV_ECANCELED (the task was cancelled; nothing
 * is left listening), UV_EINVAL (ln NULL; port outside 0..65535; no
 * runtime: outside a task without opts->rt; on a loop thread outside a
 * task; SO_REUSEPORT could not be set). May suspend. In a task, or on a
 * plain thread when opts->rt is set (it blocks the thread, and resolves a
 * name with getaddrinfo(3)). */
CORIO_API int corio_tcp_listen(const char *host, int port,
                               const corio_tcp_listener_options_t *opts,
                               corio_tcp_listener_t **ln);

/* Listen on a Unix-domain socket: path (the file is created; one left by
 * an earlier run makes this UV_EADDRINUSE: unlink it first), or "@name"
 * for Linux's abstract namespace (no file). opts as corio_tcp_listen's
 * (backlog, rt; not the TCP ones). The listener and its connections are
 * the same types as TCP's: accept, serve, serve_group, the HTTP server,
 * read, write and close work unchanged (connection tasks are then bound
 * to workers as TCP's). Returns 0 and *ln, UV_EINVAL,
 * UV_ENAMETOOLONG, bind's and listen's errors. May suspend; as
 * corio_tcp_listen. */
CORIO_API int corio_unix_listen(const char *path, const corio_tcp_listener_options_t *opts,
                                corio_tcp_listener_t **ln);

/* The port ln is bound to (> 0), or a negative libuv error (UV_EINVAL for
 * NULL, and for a Unix-domain listener). Does not suspend; any thread. */
CORIO_API int corio_tcp_listener_port(corio_tcp_listener_t *ln);

/* Wait for the next connection: 0 and *conn (the caller owns it), or
 * UV_ECANCELED (the task was cancelled, or the listener closed),
 * UV_ETIMEDOUT (_dl), UV_EBUSY (ln is served by corio_tcp_serve),
 * UV_EINVAL (ln or conn NULL; not in a task). Several tasks may wait on
 * one listener: connections go to them in the order they began to wait.
 * May suspend; in a task. */
CORIO_API int corio_tcp_accept(corio_tcp_listener_t *ln, corio_tcp_t **conn);
CORIO_API int corio_tcp_accept_dl(corio_tcp_listener_t *ln, corio_tcp_t **conn,
                                  uint64_t deadline);

/* The body of a connection's task. It owns conn; when it returns, conn is
 * closed (if the handler did not close it already). */
typedef void (*corio_tcp_handler_fn)(corio_tcp_t *conn, void *arg);

/* Serve ln: every accepted connection gets a new task running
 * handler(conn, arg), spawned as the loop thread accepts, with no accept
 * round trip. With workers, the connections are handed to the workers in
 * turn; each task is bound to its connection's worker, so a handler that
 * computes for long holds up that worker's other connections (spawn such
 * work as tasks of its own, which any worker may run). A connection
 * accepted just before serve returns may still get its handler after:
 * arg must outlive the handlers, not only the call. Waits until the listener is closed and returns 0;
 * returns at once with UV_EBUSY if ln is already served or has accept
 * waiters, UV_EINVAL for NULL ln or handler or on a loop thread outside a
 * task. A cancelled task returns UV_ECANCELED and stops serving: the
 * listener stays open (close it, or serve it again). Connections already
 * accepted live on after the listener closes. When accept fails for lack
 * of descriptors (EMFILE, ENFILE), libuv's reserve descriptor lets the
 * loop refuse the waiting connections instead of spinning; serving
 * resumes as soon as descriptors are free. May suspend; in a task, or on
 * a plain thread (which it blocks). */
CORIO_API int corio_tcp_serve(corio_tcp_listener_t *ln,
                              corio_tcp_handler_fn handler, void *arg);

/* corio_tcp_serve with every connection's task a member of g (corio/
 * group.h; its result is 0): the group knows when every connection has
 * ended, and closing it cancels those left. A connection accepted while g
 * is cancelled is closed at once. A server that stops, with grace:
 *
 *   corio_tcp_listener_close(ln);           // serve returns 0: no new ones
 *   corio_group_drain(g, corio_now() + 5000); // handlers finish, or are cut
 *   corio_group_close(g);
 *
 * Cancelling the serving task stops serving as for corio_tcp_serve
 * (UV_ECANCELED, the listener stays open, the connections go on): close
 * the listener, then drain or close the group. Returns as corio_tcp_serve,
 * and UV_EINVAL for a NULL g. */
CORIO_API int corio_tcp_serve_group(corio_tcp_listener_t *ln, corio_group_t *g,
                                    corio_tcp_handler_fn handler, void *arg);

/* Stop listening and free ln: corio_tcp_serve returns 0 and accept waiters
 * get UV_ECANCELED; no call on ln may start after this one. Waits until
 * the socket is closed, then returns 0; a cancel does not cut that short
 * (it stays pending for the task's next wait). UV_EINVAL, with nothing
 * done, for NULL or on a loop thread outside a task. May suspend; in a
 * task, or on a plain thread (which it blocks). */
CORIO_API int corio_tcp_listener_close(corio_tcp_listener_t *ln);

/* ------------------------------------------------------------------------
 * Clients. */

/* Connect to host:port: resolves host through the loop (numeric addresses
 * without the threadpool; NULL: "127.0.0.1") and tries each address in
 * turn. Returns 0 and *conn (the caller owns it), or a libuv error: the
 * last address's (UV_ECONNREFUSED, UV_ENETUNREACH, ...), UV_EAI_NONAME,
 * ... (resolution), UV_ETIMEDOUT (_dl: the deadline covers resolution and
 * every attempt), UV_ECANCELED, UV_ENOMEM, UV_EINVAL (conn NULL; port
 * outside 0..65535; not in a task). May suspend; in a task. */
CORIO_API int corio_tcp_connect(const char *host, int port, corio_tcp_t **conn);
CORIO_API int corio_tcp_connect_dl(const char *host, int port,
                                   corio_tcp_t **conn, uint64_t deadline);

/* ------------------------------------------------------------------------
 * Data. Reads take what the loop has buffered; writes send from the
 * calling task and wait only when the kernel's buffer is full. */

/* Read up to len bytes: the number read (> 0), UV_EOF once the peer has
 * shut down its side and everything before was read, a libuv error
 * (UV_ECONNRESET, ...; UV_ENOBUFS: no memory for the connection's
 * buffer), UV_ETIMEDOUT (_dl), UV_ECANCELED (the task was cancelled, or
 * the owner closed conn, before or meanwhile), UV_EBUSY (another task is
 * reading), UV_EINVAL (conn NULL; buf NULL with len > 0; not in a task).
 * UV_EOF and the stream's errors stay: every later read returns them
 * again. Returns without waiting when bytes are buffered. len == 0
 * returns 0. Nothing is lost when it gives up: unread bytes stay
 * buffered. May suspend; in a task. */
CORIO_API ssize_t corio_read(corio_tcp_t *conn, void *buf, size_t len);
CORIO_API ssize_t corio_read_dl(corio_tcp_t *conn, void *buf, size_t len,
                                uint64_t deadline);

/* Buffered reading: these work on the bytes in the connection's own
 * buffer (CORIO_TCP_BUFFER), copying only what they hand out, and leave
 * what follows for the next read. All may suspend; in a task; the _dl
 * deadline covers the whole call.
 *
 * corio_read_until: the bytes up to and including the first delim, into
 * buf: their count; UV_ENOBUFS if cap bytes (or the whole connection
 * buffer) came without delim (nothing is consumed: read them with
 * corio_read); UV_EOF if the stream ends first (what came before the end
 * stays readable with corio_read); or an error as corio_read. */
CORIO_API ssize_t corio_read_until(corio_tcp_t *conn, int delim, char *buf, size_t cap);
CORIO_API ssize_t corio_read_until_dl(corio_tcp_t *conn, int delim, char *buf, size_t cap,
                                      uint64_t deadline);
/* A line ended by LF or CRLF, into buf without its end, NUL-terminated:
 * its length (cap - 1 at most); errors as corio_read_until (UV_ENOBUFS:
 * no line end within cap - 1 bytes). */
CORIO_API ssize_t corio_read_line(corio_tcp_t *conn, char *buf, size_t cap);
CORIO_API ssize_t corio_read_line_dl(corio_tcp_t *conn, char *buf, size_t cap,
                                     uint64_t deadline);
/* Wait until at least want bytes are buffered (want <= CORIO_TCP_BUFFER,
 * else UV_EINVAL) and point *p at them, without consuming: the count
 * buffered (>= want), or UV_EOF (the stream ended with fewer: those stay
 * readable), or an error as corio_read. *p is valid until the next call
 * that reads from conn. */
CORIO_API ssize_t corio_peek(corio_tcp_t *conn, size_t want, const char **p);
CORIO_API ssize_t corio_peek_dl(corio_tcp_t *conn, size_t want, const char **p,
                                uint64_t deadline);

/* Read exactly len bytes: len, or an error as corio_read (UV_EOF if the
 * stream ends first). *got (if not NULL) says how many bytes were read
 * into buf, also on an error. len == 0 returns 0. The _dl deadline covers
 * the whole read. May suspend; in a task. */
CORIO_API ssize_t corio_read_full(corio_tcp_t *conn, void *buf, size_t len,
                                  size_t *got);
CORIO_API ssize_t corio_read_full_dl(corio_tcp_t *conn, void *buf, size_t len,
                                     size_t *got, uint64_t deadline);

/* Write all of buf: returns len once the kernel has accepted every byte
 * (0 for len == 0), or a libuv error: UV_EPIPE, UV_ECONNRESET, ... (once
 * a write failed, every later write fails the same way; after
 * corio_shutdown, UV_EPIPE), UV_ETIMEDOUT (_dl), UV_ECANCELED (the task
 * was cancelled, or the owner closed conn, before or meanwhile),
 * UV_ENOMEM, UV_EINVAL (conn NULL; buf NULL with len > 0; not in a task).
 * A write that gives up (deadline, cancel) with bytes still queued leaves
 * the stream in an unknown state: corio shuts the socket down, and later
 * writes return UV_EPIPE. May suspend (only when the kernel's buffer is
 * full, or behind another task's write); in a task. */
CORIO_API ssize_t corio_write(corio_tcp_t *conn, const void *buf, size_t len);
CORIO_API ssize_t corio_write_dl(corio_tcp_t *conn, const void *buf,
                                 size_t len, uint64_t deadline);
/* The same for several buffers, written in order as one stream (one
 * system call when the kernel takes them all): their total length, or an
 * error as corio_write (UV_EINVAL also for bufs NULL with nbufs > 0, or
 * more than CORIO_TCP_WRITEV_MAX buffers). */
CORIO_API ssize_t corio_writev(corio_tcp_t *conn, const uv_buf_t *bufs,
                               unsigned nbufs);
CORIO_API ssize_t corio_writev_dl(corio_tcp_t *conn, const uv_buf_t *bufs,
                                  unsigned nbufs, uint64_t deadline);

/* Half-close: no more writes (the peer reads EOF, later writes return
 * UV_EPIPE); reading goes on. Waits for the writes before it to finish.
 * Returns 0, or a libuv error: UV_ENOTCONN, ... (shutdown(2)),
 * UV_ETIMEDOUT (_dl, still behind a write), UV_ECANCELED (the task was
 * cancelled, or the owner closed conn, before or meanwhile), UV_EINVAL
 * (conn NULL; not in a task). May suspend; in a task. */
CORIO_API int corio_shutdown(corio_tcp_t *conn);
CORIO_API int corio_shutdown_dl(corio_tcp_t *conn, uint64_t deadline);

/* Close conn and release it. The owner only, once; conn is invalid after.
 * Another task blocked in a read, write or shutdown on conn returns
 * UV_ECANCELED (the record stays valid until it has returned), but no
 * task may start a call on conn after this: the owner makes sure its
 * helpers have stopped. Does not wait: the loop closes the socket. The
 * exception is an adopted handle (corio_tcp_adopt), whose memory is the
 * application's: called in a task, it waits until the close is complete
 * (a cancel does not cut that short and stays pending for the task's next
 * wait); elsewhere the handle must outlive the loop's next iteration.
 * Returns 0, or UV_EINVAL for NULL. Any thread. */
CORIO_API int corio_close(corio_tcp_t *conn);

/* ------------------------------------------------------------------------
 * Options, addresses, interop. None of these suspends; any thread, while
 * conn is open. */

/* TCP_NODELAY on (nonzero, the default) or off. 0, or a libuv error
 * (UV_EINVAL for NULL). */
CORIO_API int corio_tcp_nodelay(corio_tcp_t *conn, int enable);
/* TCP keep-alive probes after delay_s idle seconds (enable != 0), or off.
 * 0, or a libuv error (UV_EINVAL for NULL, or enable with delay_s 0). */
CORIO_API int corio_tcp_keepalive(corio_tcp_t *conn, int enable,
                                  unsigned delay_s);
/* The peer's and the local address; *len is in/out as for getpeername(2).
 * 0, or a libuv error (UV_EINVAL for a NULL argument or *len < 0;
 * UV_ENOTCONN, ...). */
CORIO_API int corio_tcp_peer(corio_tcp_t *conn, struct sockaddr *addr, int *len);
CORIO_API int corio_tcp_local(corio_tcp_t *conn, struct sockaddr *addr, int *len);

/* Take over a connected uv_tcp_t of the application (attached mode, or any
 * handle on rt's loop): corio stops the application's reads, and from now
 * on reads, writes and closes it; its memory must stay valid until the
 * close completes, which corio_close on an adopted handle waits for.
 * Returns 0 and *conn, or a libuv error: UV_EINVAL (NULL; not a connected
 * TCP handle of the runtime's loop; neither on a loop thread nor in a
 * task), UV_ENOMEM, UV_ECANCELED (from a cancelled task: not adopted, the
 * handle is still the application's). Call it on a runtime's loop thread
 * (a callback of the application, or a task pinned there), where it does
 * not suspend, or in a task of that runtime, where it may. */
CORIO_API int corio_tcp_adopt(uv_tcp_t *handle, corio_tcp_t **conn);

/* The libuv TCP handle under conn (NULL for NULL, and for a Unix-domain
 * socket, a pipe or a terminal, whose handle is a uv_pipe_t), for code that needs libuv
 * directly: touch it on the loop thread only, and do not read from it or
 * close it. Does not suspend; any thread. */
CORIO_API uv_tcp_t *corio_tcp_handle(corio_tcp_t *conn);

/* Connect to a Unix-domain socket (a path, or "@name"): 0 and *conn, a
 * connection like a TCP one; UV_ENOENT, UV_ECONNREFUSED, UV_EAGAIN (its
 * backlog is full), UV_EINVAL (not in a task). May suspend; in a task. */
CORIO_API int corio_unix_connect(const char *path, corio_tcp_t **conn);

/* A descriptor the process already has (a pipe, a socket pair, a
 * terminal, stdin or stdout when they are one of those) as a connection: read, write, close as any
 * (corio_close closes fd). 0 and *conn, or UV_EINVAL, UV_ENOMEM, libuv's
 * error (a regular file is not a stream). May suspend; in a task. */
CORIO_API int corio_pipe_open(int fd, corio_tcp_t **conn);

/* ------------------------------------------------------------------------
 * UDP. A socket lives on its runtime's loop, which receives datagrams into
 * a queue of at most queue_max (past it they are dropped and counted:
 * corio_udp_dropped), so that a datagram that comes while no task waits
 * is kept, within a bound. Sends go out from the calling thread (the loop
 * only when the kernel's buffer is full). Any number of tasks may send
 * and receive on one socket. */

typedef struct corio_udp_s corio_udp_t;

#define CORIO_UDP_DEFAULT_QUEUE 256

typedef struct corio_udp_options_s {
  corio_rt_t *rt;            /* NULL: the calling task's runtime */
  int reuseaddr;             /* SO_REUSEADDR (several sockets on one port) */
  int ipv6_only;             /* an IPv6 socket without IPv4-mapped addresses */
  int broadcast;             /* SO_BROADCAST from the start */
  size_t queue_max;          /* datagrams kept; 0: CORIO_UDP_DEFAULT_QUEUE */
} corio_udp_options_t;

/* Bind to host:port (host NULL: 0.0.0.0; port 0: any) and start receiving.
 * 0 and *out, or UV_EINVAL, UV_ENOMEM, libuv's error (UV_EADDRINUSE, ...).
 * May suspend; a task, or a plain thread with opts->rt set. */
CORIO_API int corio_udp_bind(const char *host, int port, const corio_udp_options_t *opts,
                             corio_udp_t **out);
/* The bound port, or a negative error. Any thread. */
CORIO_API int corio_udp_port(corio_udp_t *u);
/* Send one datagram (at most 65,536 bytes) to to (NULL once connected):
 * its length, or UV_EINVAL, UV_ETIMEDOUT (_dl), UV_ECANCELED, or the
 * kernel's error (UV_EMSGSIZE, UV_ECONNREFUSED after an ICMP on a
 * connected socket, ...). May suspend. */
CORIO_API ssize_t corio_udp_send_to(corio_udp_t *u, const void *buf, size_t len,
                                    const struct sockaddr *to);
CORIO_API ssize_t corio_udp_send_to_dl(corio_udp_t *u, const void *buf, size_t len,
                                       const struct sockaddr *to, uint64_t deadline);
/* Take the next datagram, waiting for one: its whole length (the first
 * cap bytes are in buf; *truncated, if not NULL, says whether it was
 * longer), the sender in *from (if not NULL); UV_ETIMEDOUT (_dl),
 * UV_ECANCELED, UV_EINVAL (outside a task when it must wait). May
 * suspend. */
CORIO_API ssize_t corio_udp_recv_from(corio_udp_t *u, void *buf, size_t cap,
                                      struct sockaddr_storage *from, int *truncated);
CORIO_API ssize_t corio_udp_recv_from_dl(corio_udp_t *u, void *buf, size_t cap,
                                         struct sockaddr_storage *from, int *truncated,
                                         uint64_t deadline);
/* Connected UDP: the peer for send and the only one received from. */
CORIO_API int corio_udp_connect(corio_udp_t *u, const char *host, int port);
CORIO_API ssize_t corio_udp_send(corio_udp_t *u, const void *buf, size_t len);
CORIO_API ssize_t corio_udp_recv(corio_udp_t *u, void *buf, size_t cap);
CORIO_API ssize_t corio_udp_send_dl(corio_udp_t *u, const void *buf, size_t len,
                                    uint64_t deadline);
CORIO_API ssize_t corio_udp_recv_dl(corio_udp_t *u, void *buf, size_t cap, uint64_t deadline);
/* Datagrams dropped because the queue was full. Any thread. */
CORIO_API uint64_t corio_udp_dropped(corio_udp_t *u);
/* Options and multicast membership, as libuv's uv_udp_set_* (iface NULL:
 * the system's choice): 0 or libuv's error. May suspend. */
CORIO_API int corio_udp_join(corio_udp_t *u, const char *group, const char *iface);
CORIO_API int corio_udp_leave(corio_udp_t *u, const char *group, const char *iface);
CORIO_API int corio_udp_set_ttl(corio_udp_t *u, int ttl);
CORIO_API int corio_udp_set_multicast_ttl(corio_udp_t *u, int ttl);
CORIO_API int corio_udp_set_multicast_loop(corio_udp_t *u, int on);
CORIO_API int corio_udp_set_broadcast(corio_udp_t *u, int on);
/* Close and free u (the datagrams queued go with it). UV_EBUSY while a
 * task waits in a receive; 0. May suspend. */
CORIO_API int corio_udp_close(corio_udp_t *u);

#ifdef __cplusplus
}
#endif

#endif
