/* corio/http.h: an HTTP/1.1 server on llhttp, handlers written as
 * blocking code.
 *
 *   static int hello(corio_http_req_t *req, corio_http_res_t *res, void *arg) {
 *     return corio_http_respond(res, 200, "Content-Type: text/plain\r\n",
 *                               "Hello, World!", 13);
 *   }
 *   ...
 *   corio_http_serve(ln, hello, NULL, NULL);   // ln from corio_tcp_listen
 *
 * One task per connection calls the handler once per request, in order
 * (keep-alive and pipelining). Requests are parsed in place in the
 * connection's read buffer (corio/net.h): every string of a request is a
 * view into that buffer, not a copy, valid until the handler returns (so
 * copy what must outlive the request). Bodies stream: nothing is buffered
 * beyond the connection's buffer, so an upload of any size costs constant
 * memory.
 *
 * The server answers malformed or abusive requests itself, before any
 * handler sees them, and then closes the connection: 400 (bad syntax, bad
 * chunk framing, missing or repeated Host, Content-Length with
 * Transfer-Encoding, invalid or conflicting Content-Length), 408 (header
 * timeout), 413 (Content-Length over the body limit), 414 (target over the
 * header limit), 417 (an Expect other than 100-continue), 431 (header
 * block over the limit, more than CORIO_HTTP_MAX_HEADERS header fields),
 * 501 (unknown method, a Transfer-Encoding other than chunked), 505 (HTTP
 * major version not 1).
 *
 * The calls on requests and responses are for the connection's own task
 * (the handler), may suspend, and return 0 / a count or a negative libuv
 * error. The serving calls say each where they may be called.
 */
#ifndef CORIO_HTTP_H
#define CORIO_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "corio/net.h"
#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_http_req_s corio_http_req_t;
typedef struct corio_http_res_s corio_http_res_t;
typedef struct corio_http_server_s corio_http_server_t;

/* A view: len bytes at p, not NUL-terminated. */
typedef struct corio_http_str_s {
  const char *p;
  size_t len;
} corio_http_str_t;

/* The handler: called once per request. It answers through res (if it
 * returns without a complete response, the server answers 500, or ends a
 * streamed response by closing). Its return value: 0 to go on with the
 * connection, nonzero to close it after this request. */
typedef int (*corio_http_handler_fn)(corio_http_req_t *req,
                                     corio_http_res_t *res, void *arg);

/* ------------------------------------------------------------------------
 * Options and limits. A zero field of corio_http_server_options_t takes the
 * CORIO_HTTP_DEFAULT_ value of its name; the other constants are fixed
 * limits of the server. */

#define CORIO_HTTP_DEFAULT_MAX_HEADER_BYTES 8192
/* max_header_bytes above it is lowered to it: a request head takes at most
 * half the connection's buffer (CORIO_TCP_BUFFER, corio/net.h), so its
 * body has room to stream behind it. */
#define CORIO_HTTP_MAX_HEADER_BYTES_CAP (CORIO_TCP_BUFFER / 2)
#define CORIO_HTTP_DEFAULT_MAX_BODY_BYTES ((uint64_t)1 << 30) /* 1 GiB */
#define CORIO_HTTP_DEFAULT_HEADER_TIMEOUT_MS 10000
#define CORIO_HTTP_DEFAULT_IDLE_TIMEOUT_MS 60000
#define CORIO_HTTP_DEFAULT_MAX_CONNECTIONS 10000
/* Header fields a request head may have; more is a 431. */
#define CORIO_HTTP_MAX_HEADERS 100
/* The buffer of corio_http_send_file, and each of the two of
 * corio_http_body_to_file: one threadpool round trip moves this much. */
#define CORIO_HTTP_FILE_BUFFER (256 * 1024)

typedef struct corio_http_server_options_s {
  /* Request line + headers; over it: 431 (414 if the target alone is).
   * 0: CORIO_HTTP_DEFAULT_MAX_HEADER_BYTES; at most
   * CORIO_HTTP_MAX_HEADER_BYTES_CAP. */
  size_t max_header_bytes;
  /* Over it: 413, or UV_E2BIG from the body calls.
   * 0: CORIO_HTTP_DEFAULT_MAX_BODY_BYTES. */
  uint64_t max_body_bytes;
  /* From a request's first byte to the end of its headers; over it: 408.
   * 0: CORIO_HTTP_DEFAULT_HEADER_TIMEOUT_MS. */
  uint64_t header_timeout_ms;
  /* The keep-alive wait for the next request, and any read or write making
   * no progress. 0: CORIO_HTTP_DEFAULT_IDLE_TIMEOUT_MS. */
  uint64_t idle_timeout_ms;
  /* Connections served at once; beyond it: 503 and close.
   * 0: CORIO_HTTP_DEFAULT_MAX_CONNECTIONS. */
  unsigned max_connections;
} corio_http_server_options_t;

/* ------------------------------------------------------------------------
 * Serving. A server serves one listener with a task per connection. It is
 * stopped by shutdown, which waits for the connections to close, and
 * freed after that; corio_http_serve does all of it for a listener that
 * someone else closes. */

/* A server for ln (which it serves, and closes on shutdown). opts may be
 * NULL. Returns 0 and *srv, UV_EINVAL, or UV_ENOMEM. Does not suspend;
 * any thread. */
CORIO_API int corio_http_server_new(corio_tcp_listener_t *ln,
                                    corio_http_handler_fn handler, void *arg,
                                    const corio_http_server_options_t *opts,
                                    corio_http_server_t **srv);

/* Serve: a task per accepted connection, until the server is shut down.
 * Returns 0 then, or at once if shutdown came first. Else:
 * - UV_ECANCELED when the calling task is cancelled (corio_cancel; a
 *   cancel pending at the call counts), as corio_tcp_serve: only serving
 *   stops. The listener stays open (new connections wait in its backlog),
 *   the connections being served carry on, and the server is not shut
 *   down: run again, or shut it down. A cancel that comes as shutdown
 *   closes the listener may be taken by run, which then returns 0.
 * - UV_EBUSY, at once, if the listener is already served (run is running,
 *   or corio_tcp_serve on it) or has corio_tcp_accept waiters.
 * - UV_EINVAL, at once, for NULL, on the loop thread outside a task
 *   (waiting there would stop the loop), or in a coroutine nested in a
 *   task.
 * May suspend. From a task, or a plain thread, which it blocks. */
CORIO_API int corio_http_server_run(corio_http_server_t *srv);

/* Graceful stop: close the listener (so run returns) and the idle
 * keep-alive connections, let requests in progress finish until deadline
 * (ms of corio_now()), then cancel the tasks of those left (their calls
 * return UV_ECANCELED, again and again if a handler carries on) and wait
 * for them to close. The last connection to close wakes the caller: no
 * polling.
 *
 * Returns once every connection is closed: 0, or UV_ETIMEDOUT if some had
 * to be cut at the deadline, or UV_ECANCELED if the calling task was
 * cancelled (corio_cancel, while it waited or before the call) with
 * connections left: those were cut then. With none left a pending cancel
 * is not taken: shutdown returns 0 and the next wait sees it.
 * Returns at once, having changed nothing, with UV_EALREADY if shutdown
 * was called before (it may still be running), UV_EINVAL (NULL; on the
 * loop thread outside a task, where waiting would stop the loop; in a
 * coroutine nested in a task), or on a plain thread the error of
 * creating the condition variable it waits on (uv_cond_init).
 *
 * May suspend. From any task, or any plain thread, which it blocks: a
 * thread that waits for signals (sigwait, signalfd) may call it; a signal
 * handler may not. */
CORIO_API int corio_http_server_shutdown(corio_http_server_t *srv,
                                         uint64_t deadline);

/* Free a server that run has returned for and that has no connections
 * (after shutdown). Returns 0, or UV_EBUSY (nothing is freed). Does not
 * suspend; any thread. */
CORIO_API int corio_http_server_free(corio_http_server_t *srv);

/* new + run + free: serve ln until it is closed (corio_tcp_listener_close
 * from another task or thread), or until the calling task is cancelled.
 * Then close the idle keep-alive connections, wait without a deadline
 * for the requests in progress to finish (a cancel of the calling task
 * meanwhile cuts them), and free the server. Returns run's result: 0
 * once ln was closed, UV_ECANCELED if the task was cancelled (ln is still
 * open then, and the caller's to close), UV_EBUSY, UV_EINVAL as run; or
 * an error of new (UV_EINVAL, UV_ENOMEM), or on a plain thread of
 * uv_cond_init. May suspend. From a task, or a plain thread, which it
 * blocks (not the loop thread). */
CORIO_API int corio_http_serve(corio_tcp_listener_t *ln,
                               corio_http_handler_fn handler, void *arg,
                               const corio_http_server_options_t *opts);

/* ------------------------------------------------------------------------
 * Requests: views valid until the handler returns. The accessors never
 * suspend; the body calls below may, and like the response calls they
 * must be made from a task (the handler's): elsewhere they return
 * UV_EINVAL and change nothing. */

CORIO_API corio_http_str_t corio_http_method(const corio_http_req_t *req);
/* The request target as sent ("/files/a?x=1"), its path ("/files/a") and
 * query ("x=1", empty if none), undecoded. */
CORIO_API corio_http_str_t corio_http_target(const corio_http_req_t *req);
CORIO_API corio_http_str_t corio_http_path(const corio_http_req_t *req);
CORIO_API corio_http_str_t corio_http_query(const corio_http_req_t *req);
/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
CORIO_API int corio_http_version(const corio_http_req_t *req);

/* The peer's and the local address of the request's connection, as
 * corio_tcp_peer and corio_tcp_local (corio/net.h): 0, or a libuv error
 * (UV_EINVAL for a NULL argument). Never suspends; the handler's task. */
CORIO_API int corio_http_peer(const corio_http_req_t *req,
                              struct sockaddr *addr, int *len);
CORIO_API int corio_http_local(const corio_http_req_t *req,
                               struct sockaddr *addr, int *len);

/* Percent-decoding into caller memory, no allocation: the bytes of in
 * with each "%XX" (two hex digits) replaced by the byte it names, and,
 * if plus_is_space, each '+' by a space (as in a query). Writes the
 * result and a NUL into out (cap bytes, the NUL included). Returns the
 * decoded length, or UV_EINVAL ('%' without two hex digits after it, or
 * "%00": a NUL byte that would cut C strings short; out then holds
 * nothing meaningful), UV_ENOBUFS (out too small, or NULL with cap > 0;
 * with cap 0 and out NULL: the length it needs without the NUL, so one
 * call can size the buffer). Never suspends; any thread. */
CORIO_API ssize_t corio_http_decode(corio_http_str_t in, int plus_is_space,
                                    char *out, size_t cap);
/* The path, percent-decoded ('+' stays '+'), as corio_http_decode. A
 * decoded path may hold "/" from "%2F" and ".." segments: check it
 * before using it as a file name. */
CORIO_API ssize_t corio_http_path_decoded(const corio_http_req_t *req,
                                          char *out, size_t cap);
/* The query's parameters in order: *pos starts at 0; each call gives the
 * next "name=value" (or "name": an empty value) between '&'s, both
 * undecoded (decode them with corio_http_decode, plus_is_space set), and
 * returns 1, or 0 after the last. Empty parameters ("a=1&&b=2") are
 * skipped. Never suspends. */
CORIO_API int corio_http_query_next(const corio_http_req_t *req, size_t *pos,
                                    corio_http_str_t *name,
                                    corio_http_str_t *value);
/* The value of the first query parameter whose decoded name is name,
 * decoded into out as corio_http_decode: its length, UV_ENOENT if there
 * is none, or corio_http_decode's errors. Never suspends. */
CORIO_API ssize_t corio_http_query_get(const corio_http_req_t *req,
                                       const char *name, char *out, size_t cap);

/* The value of the first header called name (case-insensitive), without
 * surrounding whitespace; .p == NULL if absent. */
CORIO_API corio_http_str_t corio_http_header(const corio_http_req_t *req,
                                             const char *name);
/* The number of header fields of the request head (trailers are not
 * counted). */
CORIO_API size_t corio_http_header_count(const corio_http_req_t *req);
/* Headers in arrival order: 0 and *name, *value (each may be NULL) for
 * i < count, else UV_EOF. */
CORIO_API int corio_http_header_at(const corio_http_req_t *req, size_t i,
                                   corio_http_str_t *name,
                                   corio_http_str_t *value);

/* The body's declared length: 0 and *len (0: no body), or UV_ENOENT when
 * the body is chunked (no length is declared; *len is left alone), or
 * UV_EINVAL. Does not suspend. */
CORIO_API int corio_http_content_length(const corio_http_req_t *req,
                                        uint64_t *len);
CORIO_API int corio_http_chunked(const corio_http_req_t *req);
/* Nonzero if the connection stays open after this request. */
CORIO_API int corio_http_keep_alive(const corio_http_req_t *req);

/* Read up to len bytes of the body (chunked framing removed): the count,
 * 0 at its end, UV_E2BIG past the body limit, UV_ETIMEDOUT (no progress
 * for the idle timeout), UV_ECONNRESET / UV_EOF (the client went away:
 * the body is incomplete), UV_EPROTO (bad chunk framing). Sends
 * "100 Continue" first if the client asked for it and no response has
 * started yet: read before answering when the client waits for it. */
CORIO_API ssize_t corio_http_body_read(corio_http_req_t *req, void *buf,
                                       size_t len);
/* Write the whole body to path (created or truncated, mode 0644) through
 * the loop's file calls, in constant memory (two buffers of
 * CORIO_HTTP_FILE_BUFFER bytes while it runs: a helper task writes one
 * while the body fills the other); *bytes (if not NULL) gets the count.
 * 0, or an error as body_read's or the file's; on error the file is
 * removed. */
CORIO_API int corio_http_body_to_file(corio_http_req_t *req, const char *path,
                                      uint64_t *bytes);
/* Read and drop the rest of the body. 0 or an error as body_read's. */
CORIO_API int corio_http_body_discard(corio_http_req_t *req);

/* ------------------------------------------------------------------------
 * Responses. A handler's header fields come as name/value pairs
 * (corio_http_header_t, the _with calls) or as a raw block of lines, each
 * ending in "\r\n" ("Content-Type: text/plain\r\n"; NULL: none). Both
 * forms are checked the same way before anything is sent:
 *  - a name is a token (letters, digits and !#$%&'*+-.^_`|~), followed in
 *    a raw line by ':' at once;
 *  - a value holds no CR, LF, NUL or other control byte but tab (so no
 *    field can end the head early or start a second one); its leading and
 *    trailing blanks are dropped;
 *  - a raw block's last line ends in "\r\n" too;
 *  - Content-Length and Transfer-Encoding are the server's: a handler's
 *    may only repeat what the server writes (the same length; "chunked"
 *    for a streamed response it chunks), and is then written once; a
 *    framing the server does not use (one for 1xx, 204 or 304) is refused;
 *  - Connection may say "close" (the connection closes after this
 *    response, and the head says so once) or "keep-alive" (the default),
 *    nothing else;
 *  - a handler's Date replaces the server's.
 * A field that breaks a rule: UV_EINVAL; more than
 * CORIO_HTTP_MAX_RESPONSE_HEADER_BYTES of fields: UV_E2BIG. Either way
 * nothing was sent and the handler may still answer (or return, and the
 * server answers 500). The server adds Date, Content-Length or
 * Transfer-Encoding, and Connection: close when it will close. For HEAD
 * requests no body is sent. Every call here may suspend and must be made
 * from a task; elsewhere UV_EINVAL, nothing sent. */

/* Handler header fields, as lines, at most this many bytes. */
#define CORIO_HTTP_MAX_RESPONSE_HEADER_BYTES 65536

/* One response header field. Both strings are NUL-terminated and only
 * read during the call. */
typedef struct corio_http_header_s {
  const char *name;
  const char *value;
} corio_http_header_t;

/* A complete response with a body of len bytes. */
CORIO_API int corio_http_respond(corio_http_res_t *res, int status,
                                 const char *headers, const void *body,
                                 size_t len);
/* The same with n header fields as pairs (headers may be NULL if n is 0). */
CORIO_API int corio_http_respond_with(corio_http_res_t *res, int status,
                                      const corio_http_header_t *headers,
                                      size_t n, const void *body, size_t len);
/* A streamed response: start (content_length < 0: chunked, or until close
 * for HTTP/1.0), write pieces, end. */
CORIO_API int corio_http_res_start(corio_http_res_t *res, int status,
                                   const char *headers, int64_t content_length);
CORIO_API int corio_http_res_start_with(corio_http_res_t *res, int status,
                                        const corio_http_header_t *headers,
                                        size_t n, int64_t content_length);
CORIO_API ssize_t corio_http_res_write(corio_http_res_t *res, const void *data,
                                       size_t len);
CORIO_API int corio_http_res_end(corio_http_res_t *res);
/* The file at path as the body, status 200, in constant memory (one
 * buffer of CORIO_HTTP_FILE_BUFFER bytes while it runs):
 * UV_ENOENT (nothing was sent: answer 404 yourself) or another error. */
CORIO_API int corio_http_send_file(corio_http_res_t *res, const char *path,
                                   const char *headers);

/* The reason phrase of a status ("Not Found"), or "Unknown". */
CORIO_API const char *corio_http_reason(int status);

#ifdef __cplusplus
}
#endif

#endif
