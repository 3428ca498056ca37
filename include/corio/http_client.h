/* corio/http_client.h: an HTTP/1.1 client, calls written as blocking
 * code, with a pool of keep-alive connections.
 *
 *   corio_http_client_t *cl;
 *   corio_http_call_t *call;
 *   char buf[4096];
 *   ssize_t n;
 *
 *   corio_http_client_new(NULL, &cl);
 *   corio_http_call_start(cl, "GET", "http://127.0.0.1:8080/", NULL, 0, 0,
 *                         corio_now() + 5000, &call);
 *   int status = corio_http_call_response(call);     // 200, or an error
 *   while ((n = corio_http_call_read(call, buf, sizeof buf)) > 0)
 *     ...                                            // the body, streamed
 *   corio_http_call_end(call);     // the connection goes back to the pool
 *   corio_http_client_free(cl);
 *
 * A call is one exchange: its request goes out as the call starts (the
 * head) and as the caller writes (the body, streamed: Content-Length or
 * chunked), its response is read as a stream (Content-Length, chunked, or
 * until the server closes; responses to HEAD, and 1xx, 204 and 304 carry
 * none). Responses are parsed by llhttp in place, in the connection's read
 * buffer (corio/net.h): header views stay valid until the call ends, and
 * a body of any size costs constant memory.
 *
 * Connections are kept per host:port, at most max_idle of them idle and
 * each for at most idle_timeout_ms (an expired one is closed at the
 * client's next call, to any host, or at corio_http_client_free). A
 * connection goes back to the pool only after a clean exchange: the
 * response read to its end, no Connection: close either way, and nothing
 * left over (a server that sent more than it declared is never read
 * again). A request of an idempotent method (GET, HEAD, OPTIONS, TRACE,
 * PUT, DELETE: RFC 9110 9.2.2) without a body, or with corio_http_fetch's
 * body in memory, whose reused connection turns out closed before any
 * byte of the answer is sent again once on a fresh connection (as Go's
 * net/http does); a POST or PATCH never is: it may have run.
 *
 * Only "http://" URLs (no TLS). Names are resolved through
 * corio_getaddrinfo; redirects are the caller's to follow (the status and
 * the Location header are there).
 *
 * Errors are negative libuv codes: UV_EINVAL (bad arguments, a URL that is
 * not http://host[:port][/path], a header field that breaks the rules of
 * corio/http.h "Responses" as they apply to a request), UV_EPROTO (a
 * malformed or misframed response: bad syntax, conflicting Content-Length
 * or Transfer-Encoding, a body that ends short of its chunk framing),
 * UV_E2BIG (a response head over max_head_bytes), UV_EOF (the server
 * closed before the response, or its body, was complete), UV_ETIMEDOUT,
 * UV_ECANCELED (the task was cancelled), and those of corio_tcp_connect,
 * read and write. After an error the call's only use is corio_http_call_end.
 *
 * Every call here may suspend and must be made from a task; elsewhere
 * UV_EINVAL. A client may be used by many tasks at once, on any workers;
 * a call belongs to the task that started it.
 */
#ifndef CORIO_HTTP_CLIENT_H
#define CORIO_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "corio/http.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_http_client_s corio_http_client_t;
typedef struct corio_http_call_s corio_http_call_t;

#define CORIO_HTTP_CLIENT_DEFAULT_MAX_IDLE 8
#define CORIO_HTTP_CLIENT_DEFAULT_IDLE_TIMEOUT_MS 30000
#define CORIO_HTTP_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define CORIO_HTTP_CLIENT_DEFAULT_HEAD_TIMEOUT_MS 30000
#define CORIO_HTTP_CLIENT_DEFAULT_MAX_HEAD_BYTES 16384
/* How long a request with "Expect: 100-continue" waits for the 100 before
 * it sends its body anyway. */
#define CORIO_HTTP_CLIENT_CONTINUE_WAIT_MS 1000

/* A zero field takes the default of its name. */
typedef struct corio_http_client_options_s {
  unsigned max_idle;             /* idle connections kept per host:port */
  uint64_t idle_timeout_ms;      /* an idle connection older is closed */
  uint64_t connect_timeout_ms;   /* each connection attempt */
  uint64_t head_timeout_ms;      /* from the request's end to the response head
                                    (in full duplex too: while the body is
                                    still going out, only the deadline) */
  size_t max_head_bytes;         /* at most CORIO_HTTP_MAX_HEADER_BYTES_CAP */
} corio_http_client_options_t;

/* A client (opts NULL: the defaults). 0 and *out, UV_EINVAL, UV_ENOMEM.
 * Does not suspend; any thread. */
CORIO_API int corio_http_client_new(const corio_http_client_options_t *opts,
                                    corio_http_client_t **out);
/* Close the pooled connections and free the client: 0, UV_EBUSY while a
 * call is open (nothing freed), UV_EINVAL outside a task. */
CORIO_API int corio_http_client_free(corio_http_client_t *cl);

/* The request body's length for call_start: a count of bytes (0: none),
 * or chunked, the caller writing as much as it likes. */
#define CORIO_HTTP_BODY_CHUNKED (-1)

/* Start a call: connect (or take a pooled connection) and send the
 * request head: "METHOD path HTTP/1.1", Host (unless headers give one),
 * Content-Length (body_length > 0, or 0 for POST, PUT and PATCH) or
 * Transfer-Encoding: chunked, then headers (n pairs, checked as the
 * server checks a response's; Connection: close is honoured, an Expect:
 * 100-continue makes the first write wait for the 100). deadline (ms of
 * corio_now(); UINT64_MAX: none) bounds the whole exchange, including
 * reading the body. 0 and *out, or an error (nothing left open). */
CORIO_API int corio_http_call_start(corio_http_client_t *cl, const char *method,
                                    const char *url,
                                    const corio_http_header_t *headers, size_t n,
                                    int64_t body_length, uint64_t deadline,
                                    corio_http_call_t **out);
/* Send len bytes of the request body (any size, in one write): len, or
 * an error; UV_EINVAL past a declared length; UV_EALREADY if the server
 * answered before the body (after an Expect: 100-continue): read that
 * answer, the body is not sent and the connection is not reused. A write
 * error (UV_EPIPE, UV_ECONNRESET: the server stopped reading, often after
 * answering) sticks to the writing side only: call_response or call_head
 * still return an answer that came, then call_read its body. */
CORIO_API ssize_t corio_http_call_write(corio_http_call_t *call,
                                        const void *data, size_t len);
/* End the request: a chunked body's last chunk; UV_EINVAL if a declared
 * length was not all written. 0, or an error. Once is enough; again: 0. */
CORIO_API int corio_http_call_finish(corio_http_call_t *call);
/* End the request (call_finish) and wait for the response head, skipping
 * 1xx answers: the status (200..999), or an error (if the request could
 * not all be sent and no answer came: the write's error). Called again,
 * it returns the same status. */
CORIO_API int corio_http_call_response(corio_http_call_t *call);
/* Wait for the response head without ending the request: for full
 * duplex, a second task reads the response (call_head, then call_read)
 * while the call's task is still writing the body (call_write, then
 * call_finish). The status, or an error. Only these two tasks, each on
 * its side; an Expect: 100-continue is not for such calls. */
CORIO_API int corio_http_call_head(corio_http_call_t *call);
/* The response's header fields (after call_response), as corio/http.h's
 * request accessors: a view valid until call_end; .p NULL if absent. */
CORIO_API corio_http_str_t corio_http_call_header(corio_http_call_t *call,
                                                  const char *name);
CORIO_API size_t corio_http_call_header_count(corio_http_call_t *call);
CORIO_API int corio_http_call_header_at(corio_http_call_t *call, size_t i,
                                        corio_http_str_t *name,
                                        corio_http_str_t *value);
/* Read the response body (after call_response; it calls call_response
 * itself if needed): a count > 0, 0 at the end, or an error (UV_EOF: the
 * server closed mid-body). Trailers after a chunked body are checked as
 * header fields and count toward CORIO_HTTP_MAX_HEADERS with the head;
 * they are not exposed. */
CORIO_API ssize_t corio_http_call_read(corio_http_call_t *call, void *out,
                                       size_t len);
/* End the call and free it: its connection goes back to the pool after a
 * clean exchange, else it is closed. The first error of the response
 * side (or the write's, if no answer came), or 0. Does not wait. NULL:
 * UV_EINVAL. */
CORIO_API int corio_http_call_end(corio_http_call_t *call);

/* One exchange with the request body in memory (body NULL, len 0: none)
 * and the response body collected into *resp (malloc'd, NUL-terminated
 * after *resp_len bytes; free() it) up to max bytes (UV_E2BIG beyond).
 * The status, or an error (then *resp is NULL). */
CORIO_API int corio_http_fetch(corio_http_client_t *cl, const char *method,
                               const char *url,
                               const corio_http_header_t *headers, size_t n,
                               const void *body, size_t len, uint64_t deadline,
                               char **resp, size_t *resp_len, size_t max);

#ifdef __cplusplus
}
#endif

#endif
