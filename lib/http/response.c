/* Responses: heads built in one buffer, written with the body in one
 * writev; streamed bodies with Content-Length or chunked framing; files
 * in constant memory; the server's own error answers. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

#define HEAD_MAX 1024 /* the server's own header lines */


const char *corio_http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Content";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}


/* "Date: ..." for this second, rebuilt at most once a second per thread. */
static const char *date_line(void) {
  static _Thread_local time_t last;
  static _Thread_local char line[48];
  time_t now = time(NULL);
  struct tm tm;

  if (now != last) {
    gmtime_r(&now, &tm);
    strftime(line, sizeof line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    last = now;
  }
  return line;
}


uint64_t corio__http_deadline(corio__hconn_t *hc) {
  return corio__http_after(hc->srv->opts.idle_timeout_ms);
}


static ssize_t send_bufs(corio__hconn_t *hc, uv_buf_t *bufs, unsigned n) {
  ssize_t w = corio_writev_dl(hc->tcp, bufs, n, corio__http_deadline(hc));

  if (w < 0)
    hc->res.close_after = 1;
  return w;
}


/* Will the connection close after this response? Decided before the head
 * goes out, so that the head can say so. A body the handler has not
 * touched is dropped now if all of it is here (corio__http_finish_body);
 * if not, nothing of it is dropped (the handler may still read it: a
 * streamed echo that starts its answer first) and the connection closes
 * after this response. One the handler is reading is its business: if it
 * is not finished when the handler returns, the connection closes then. */
static int must_close(corio__hconn_t *hc) {
  corio_http_req_t *req = &hc->req;

  if (!req->keep_alive || corio__http_draining(hc->srv) || hc->res.close_after)
    return 1;
  if (req->body_done && req->left.len == 0)
    return 0;
  if (req->body_started)
    return req->body_err != 0;
  if (!corio__http_body_all_here(hc))
    return 1;
  return corio__http_finish_body(hc) != 0;
}


/* Building a head without printf (a few percent of a small request). */
typedef struct out {
  char *p, *end;
} out_t;

static void put(out_t *o, const char *s, size_t n) {
  if (n > (size_t)(o->end - o->p))
    n = (size_t)(o->end - o->p);
  memcpy(o->p, s, n);
  o->p += n;
}

static void put_str(out_t *o, const char *s) {
  put(o, s, strlen(s));
}

static void put_u64(out_t *o, uint64_t v) {
  char tmp[20];
  int i = (int)sizeof tmp;

  do
    tmp[--i] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  put(o, tmp + i, sizeof tmp - (size_t)i);
}


static int no_body_status(int status) {
  return status < 200 || status == 204 || status == 304;
}


/* Write the head: status line, Date, framing, the caller's fields (checked
 * first: a field that fails sends nothing), and the body if it comes with
 * the head. */
static int send_head(corio_http_res_t *res, int status,
                     const corio__hfields_t *fields, int64_t content_length,
                     const void *body, size_t len) {
  corio__hconn_t *hc = corio__hconn_of_res(res);
  corio_http_req_t *req = &hc->req;
  corio__hframing_t fr;
  char head[HEAD_MAX], *all = head;
  out_t o = {head, head + HEAD_MAX};
  uv_buf_t bufs[2];
  size_t k;
  int err;

  if (res->started)
    return UV_EALREADY;
  if (status < 200 || status > 999)
    return UV_EINVAL;
  fr.content_length = no_body_status(status) ? -1 : content_length;
  fr.chunked = !no_body_status(status) && content_length < 0 && req->version >= 11;
  if ((err = corio__hfields_check(fields, &fr)) != 0)
    return err;
  res->started = 1;
  res->status = status;
  res->close_after = must_close(hc) || fr.close;
  put(&o, "HTTP/1.1 ", 9);
  put_u64(&o, (uint64_t)status);
  put(&o, " ", 1);
  put_str(&o, corio_http_reason(status));
  put(&o, "\r\n", 2);
  if (!fr.has_date)
    put_str(&o, date_line());
  if (no_body_status(status)) {
    res->remaining = 0;
  } else if (content_length >= 0) {
    put(&o, "Content-Length: ", 16);
    put_u64(&o, (uint64_t)content_length);
    put(&o, "\r\n", 2);
    res->remaining = content_length;
  } else if (fr.chunked) {
    put_str(&o, "Transfer-Encoding: chunked\r\n");
    res->chunked = 1;
    res->remaining = -1;
  } else {
    res->close_after = 1; /* HTTP/1.0: the end of the body is the close */
    res->remaining = -1;
  }
  if (res->close_after)
    put_str(&o, "Connection: close\r\n");
  else if (req->version == 10)
    put_str(&o, "Connection: keep-alive\r\n");
  /* The caller's fields and the blank line behind the server's lines, in
   * the stack buffer if they fit, else in one allocated for them. */
  k = (size_t)(o.p - head);
  if (fr.bytes + 2 > HEAD_MAX - k) {
    if ((all = malloc(k + fr.bytes + 2)) == NULL) {
      res->close_after = 1; /* started, yet nothing sent: only a close is clean */
      res->done = 1;
      return UV_ENOMEM;
    }
    memcpy(all, head, k);
  }
  corio__hfields_emit(fields, all + k);
  k += fr.bytes;
  all[k++] = '\r';
  all[k++] = '\n';
  bufs[0] = uv_buf_init(all, (unsigned)k);
  if (body != NULL && len > 0 && !req->head_method && !no_body_status(status)) {
    /* one system call for the whole small response */
    bufs[1] = corio__buf(body, len);
    err = send_bufs(hc, bufs, 2) < 0 ? UV_EPIPE : 0;
  } else {
    err = send_bufs(hc, bufs, 1) < 0 ? UV_EPIPE : 0;
  }
  if (all != head)
    free(all);
  return err;
}


static int respond(corio_http_res_t *res, int status, const corio__hfields_t *fields,
                   const void *body, size_t len) {
  int err;

  if (res == NULL || (body == NULL && len > 0) || !corio__in_task())
    return UV_EINVAL;
  err = send_head(res, status, fields, no_body_status(status) ? -1 : (int64_t)len,
                  body, len);
  if (err == 0) {
    res->remaining = 0;
    res->done = 1;
  }
  return err;
}


int corio_http_respond(corio_http_res_t *res, int status, const char *headers,
                       const void *body, size_t len) {
  corio__hfields_t f = {headers, NULL, 0};

  return respond(res, status, &f, body, len);
}


int corio_http_respond_with(corio_http_res_t *res, int status,
                            const corio_http_header_t *headers, size_t n,
                            const void *body, size_t len) {
  corio__hfields_t f = {NULL, headers, n};

  if (headers == NULL && n > 0)
    return UV_EINVAL;
  return respond(res, status, &f, body, len);
}


static int res_start(corio_http_res_t *res, int status, const corio__hfields_t *fields,
                     int64_t content_length) {
  if (res == NULL || !corio__in_task())
    return UV_EINVAL;
  return send_head(res, status, fields, content_length, NULL, 0);
}


int corio_http_res_start(corio_http_res_t *res, int status, const char *headers,
                         int64_t content_length) {
  corio__hfields_t f = {headers, NULL, 0};

  return res_start(res, status, &f, content_length);
}


int corio_http_res_start_with(corio_http_res_t *res, int status,
                              const corio_http_header_t *headers, size_t n,
                              int64_t content_length) {
  corio__hfields_t f = {NULL, headers, n};

  if (headers == NULL && n > 0)
    return UV_EINVAL;
  return res_start(res, status, &f, content_length);
}


ssize_t corio_http_res_write(corio_http_res_t *res, const void *data,
                             size_t len) {
  corio__hconn_t *hc;
  char frame[24];
  uv_buf_t bufs[3];

  if (res == NULL || (data == NULL && len > 0) || !res->started ||
      res->done || !corio__in_task())
    return UV_EINVAL;
  hc = corio__hconn_of_res(res);
  if (len == 0 || hc->req.head_method || no_body_status(res->status))
    return (ssize_t)len; /* a body HEAD/204/304 do not carry: dropped */
  if (res->remaining >= 0 && (uint64_t)len > (uint64_t)res->remaining)
    return UV_EINVAL; /* more than the Content-Length said */
  if (res->chunked) {
    int k = snprintf(frame, sizeof frame, "%zx\r\n", len);
    bufs[0] = uv_buf_init(frame, (unsigned)k);
    bufs[1] = corio__buf(data, len);
    bufs[2] = uv_buf_init("\r\n", 2);
    return send_bufs(hc, bufs, 3) < 0 ? UV_EPIPE : (ssize_t)len;
  }
  bufs[0] = corio__buf(data, len);
  if (send_bufs(hc, bufs, 1) < 0)
    return UV_EPIPE;
  if (res->remaining > 0)
    res->remaining -= (int64_t)len;
  return (ssize_t)len;
}


int corio_http_res_end(corio_http_res_t *res) {
  uv_buf_t last = uv_buf_init("0\r\n\r\n", 5);
  corio__hconn_t *hc;

  if (res == NULL || !res->started || res->done || !corio__in_task())
    return UV_EINVAL;
  hc = corio__hconn_of_res(res);
  res->done = 1;
  if (res->chunked && !hc->req.head_method)
    return send_bufs(hc, &last, 1) < 0 ? UV_EPIPE : 0;
  if (res->remaining > 0 && !hc->req.head_method) {
    res->close_after = 1; /* the body fell short: the client must see it */
    return UV_EINVAL;
  }
  return 0;
}


int corio_http_send_file(corio_http_res_t *res, const char *path,
                         const char *headers) {
  uv_stat_t st;
  int64_t off = 0;
  char *chunk;
  ssize_t n;
  int fd, err;

  if (res == NULL || path == NULL || !corio__in_task())
    return UV_EINVAL;
  if ((fd = corio_fs_open(path, O_RDONLY, 0)) < 0)
    return fd;
  if ((err = corio_fs_stat(path, &st)) != 0 || (st.st_mode & S_IFMT) != S_IFREG) {
    corio_fs_close(fd);
    return err != 0 ? err : UV_EISDIR;
  }
  if ((chunk = malloc(CORIO_HTTP_FILE_BUFFER)) == NULL) {
    corio_fs_close(fd);
    return UV_ENOMEM;
  }
  err = corio_http_res_start(res, 200, headers, (int64_t)st.st_size);
  while (err == 0 && !corio__hconn_of_res(res)->req.head_method &&
         off < (int64_t)st.st_size) {
    n = corio_fs_read(fd, chunk, CORIO_HTTP_FILE_BUFFER, off);
    if (n <= 0) { /* the file shrank or failed: the client sees a short body */
      err = n < 0 ? (int)n : UV_EIO;
      break;
    }
    ssize_t w = corio_http_res_write(res, chunk, (size_t)n);
    err = w < 0 ? (int)w : 0;
    off += n;
  }
  free(chunk);
  corio_fs_close(fd);
  if (err == 0)
    return corio_http_res_end(res);
  res->close_after = 1;
  res->done = 1;
  return err;
}


int corio__http_continue(corio__hconn_t *hc) {
  static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
  uv_buf_t b = uv_buf_init((char *)(uintptr_t)cont, sizeof cont - 1);

  if (!hc->req.expect_continue || hc->req.continue_sent || hc->res.started)
    return 0;
  hc->req.continue_sent = 1;
  return send_bufs(hc, &b, 1) < 0 ? UV_EPIPE : 0;
}


int corio__http_error(corio__hconn_t *hc, int status) {
  char body[64];
  int n = snprintf(body, sizeof body, "%s\n", corio_http_reason(status));

  hc->res.close_after = 1;
  if (hc->req.version == 0)
    hc->req.version = 11; /* the head did not parse: answer in 1.1 */
  return corio_http_respond(&hc->res, status,
                            "Content-Type: text/plain; charset=utf-8\r\n", body,
                            (size_t)n);
}
