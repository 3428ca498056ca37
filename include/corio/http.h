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
 * block over the limit, too many headers), 501 (unknown method, a
 * Transfer-Encoding other than chunked), 505 (HTTP major version not 1).
 *
 * All calls here are for the connection's own task (the handler), may
 * suspend, and return 0 / a count or a negative libuv error.
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

/* Server options; all-zero fields take the documented defaults. */
typedef struct corio_http_options_s {
  size_t max_header_bytes;     /* request line + headers; 0: 8192 (<= 32768) */
  uint64_t max_body_bytes;     /* 0: 1 GiB; over it: 413 or UV_E2BIG */
  uint64_t header_timeout_ms;  /* first byte to end of headers; 0: 10000 */
  uint64_t idle_timeout_ms;    /* keep-alive wait, and any read or write
                                * making no progress; 0: 60000 */
  unsigned max_connections;    /* beyond it: 503 and close; 0: 10000 */
} corio_http_options_t;

/* ------------------------------------------------------------------------
 * Serving. */

/* A server for ln (which it serves, and closes on shutdown). opts may be
 * NULL. Returns 0 and *srv, UV_EINVAL, or UV_ENOMEM. Does not suspend. */
CORIO_API int corio_http_server_new(corio_http_server_t **srv,
                                    corio_tcp_listener_t *ln,
                                    corio_http_handler_fn handler, void *arg,
                                    const corio_http_options_t *opts);

/* Serve until the server is shut down (or its listener closed): returns 0
 * then. Blocks the calling task (or plain thread, not the loop thread). */
CORIO_API int corio_http_server_run(corio_http_server_t *srv);

/* Graceful stop: close the listener (so run returns), close idle
 * keep-alive connections, let requests in progress finish until deadline
 * (ms of corio_now()), then cancel the tasks of those left (their calls
 * return UV_ECANCELED) and close them. Returns once every connection is
 * closed: 0, or UV_ETIMEDOUT if some had to be cut at the deadline. Any
 * task, or a plain thread; once. */
CORIO_API int corio_http_server_shutdown(corio_http_server_t *srv,
                                         uint64_t deadline);

/* Free a server that run has returned for and that has no connections
 * (after shutdown). UV_EBUSY otherwise. */
CORIO_API int corio_http_server_free(corio_http_server_t *srv);

/* new + run + free: serve ln until it is closed. */
CORIO_API int corio_http_serve(corio_tcp_listener_t *ln,
                               corio_http_handler_fn handler, void *arg,
                               const corio_http_options_t *opts);

/* ------------------------------------------------------------------------
 * Requests: views valid until the handler returns. */

CORIO_API corio_http_str_t corio_http_method(const corio_http_req_t *req);
/* The request target as sent ("/files/a?x=1"), its path ("/files/a") and
 * query ("x=1", empty if none), undecoded. */
CORIO_API corio_http_str_t corio_http_target(const corio_http_req_t *req);
CORIO_API corio_http_str_t corio_http_path(const corio_http_req_t *req);
CORIO_API corio_http_str_t corio_http_query(const corio_http_req_t *req);
/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
CORIO_API int corio_http_version(const corio_http_req_t *req);

/* The value of the first header called name (case-insensitive), without
 * surrounding whitespace; .p == NULL if absent. */
CORIO_API corio_http_str_t corio_http_header(const corio_http_req_t *req,
                                             const char *name);
/* Headers in arrival order: 0 and *name, *value for i < count, else UV_EOF. */
CORIO_API size_t corio_http_header_count(const corio_http_req_t *req);
CORIO_API int corio_http_header_at(const corio_http_req_t *req, size_t i,
                                   corio_http_str_t *name,
                                   corio_http_str_t *value);

/* The body's declared length, or -1 when it is chunked. 0: no body. */
CORIO_API int64_t corio_http_content_length(const corio_http_req_t *req);
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
 * the loop's file calls, in constant memory (two 256 KiB buffers while
 * it runs: a helper task writes one while the body fills the other); *bytes (if not NULL) gets the count. 0, or an error as body_read's or the file's; on error the file
 * is removed. */
CORIO_API int corio_http_body_to_file(corio_http_req_t *req, const char *path,
                                      uint64_t *bytes);
/* Read and drop the rest of the body. 0 or an error as body_read's. */
CORIO_API int corio_http_body_discard(corio_http_req_t *req);

/* ------------------------------------------------------------------------
 * Responses. `headers` is NULL or extra header lines, each ending in
 * "\r\n" ("Content-Type: text/plain\r\n"); the server adds Date,
 * Content-Length or Transfer-Encoding, and Connection: close when it will
 * close. For HEAD requests no body is sent. */

/* A complete response with a body of len bytes. */
CORIO_API int corio_http_respond(corio_http_res_t *res, int status,
                                 const char *headers, const void *body,
                                 size_t len);
/* A streamed response: start (content_length < 0: chunked, or until close
 * for HTTP/1.0), write pieces, end. */
CORIO_API int corio_http_res_start(corio_http_res_t *res, int status,
                                   const char *headers, int64_t content_length);
CORIO_API int corio_http_res_write(corio_http_res_t *res, const void *data,
                                   size_t len);
CORIO_API int corio_http_res_end(corio_http_res_t *res);
/* The file at path as the body, status 200, in constant memory (one
 * 256 KiB buffer while it runs):
 * UV_ENOENT (nothing was sent: answer 404 yourself) or another error. */
CORIO_API int corio_http_send_file(corio_http_res_t *res, const char *path,
                                   const char *headers);

/* The reason phrase of a status ("Not Found"), or "Unknown". */
CORIO_API const char *corio_http_reason(int status);

#ifdef __cplusplus
}
#endif

#endif
