/* Request conveniences that need no allocation: the connection's
 * addresses, percent-decoding into caller memory, and the query's
 * parameters (corio/http.h). */
#include <string.h>

#include "http.h"


int corio_http_peer(const corio_http_req_t *req, struct sockaddr *addr, int *len) {
  if (req == NULL)
    return UV_EINVAL;
  return corio_tcp_peer(corio__hconn_of_creq(req)->tcp, addr, len);
}


int corio_http_local(const corio_http_req_t *req, struct sockaddr *addr, int *len) {
  if (req == NULL)
    return UV_EINVAL;
  return corio_tcp_local(corio__hconn_of_creq(req)->tcp, addr, len);
}


static int hex(unsigned char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}


/* The decoded byte at in.p[*i] (moving *i past it), or -1: a bad escape
 * or an escaped NUL. */
static int decode_at(corio_http_str_t in, size_t *i, int plus_is_space) {
  unsigned char ch = (unsigned char)in.p[*i];
  int hi, lo;

  if (ch == '%') {
    if (in.len - *i < 3 || (hi = hex((unsigned char)in.p[*i + 1])) < 0 ||
        (lo = hex((unsigned char)in.p[*i + 2])) < 0 || (hi | lo) == 0)
      return -1;
    *i += 3;
    return hi << 4 | lo;
  }
  (*i)++;
  return plus_is_space && ch == '+' ? ' ' : ch;
}


ssize_t corio_http_decode(corio_http_str_t in, int plus_is_space, char *out,
                          size_t cap) {
  size_t i = 0, n = 0;
  int b;

  if (in.p == NULL && in.len > 0)
    return UV_EINVAL;
  if (out == NULL && cap > 0)
    return UV_ENOBUFS;
  while (i < in.len) {
    if ((b = decode_at(in, &i, plus_is_space)) < 0)
      return UV_EINVAL;
    if (out != NULL) {
      if (n + 1 >= cap)
        return UV_ENOBUFS;
      out[n] = (char)b;
    }
    n++;
  }
  if (out != NULL) {
    if (n >= cap)
      return UV_ENOBUFS;
    out[n] = '\0';
  }
  return (ssize_t)n;
}


ssize_t corio_http_path_decoded(const corio_http_req_t *req, char *out, size_t cap) {
  if (req == NULL)
    return UV_EINVAL;
  return corio_http_decode(corio_http_path(req), 0, out, cap);
}


int corio_http_query_next(const corio_http_req_t *req, size_t *pos,
                          corio_http_str_t *name, corio_http_str_t *value) {
  corio_http_str_t q;
  size_t i, start, eq;

  if (req == NULL || pos == NULL)
    return 0;
  q = corio_http_query(req);
  for (i = *pos; i < q.len && q.p[i] == '&'; i++) {
  } /* empty parameters */
  if (i >= q.len) {
    *pos = q.len;
    return 0;
  }
  start = i;
  eq = SIZE_MAX;
  for (; i < q.len && q.p[i] != '&'; i++)
    if (q.p[i] == '=' && eq == SIZE_MAX)
      eq = i;
  *pos = i;
  if (name != NULL) {
    name->p = q.p + start;
    name->len = (eq == SIZE_MAX ? i : eq) - start;
  }
  if (value != NULL) {
    value->p = eq == SIZE_MAX ? q.p + i : q.p + eq + 1;
    value->len = eq == SIZE_MAX ? 0 : i - eq - 1;
  }
  return 1;
}


/* Does the encoded name decode to want? No copy. */
static int decoded_equals(corio_http_str_t enc, const char *want) {
  size_t i = 0, k = 0;
  int b;

  while (i < enc.len) {
    if ((b = decode_at(enc, &i, 1)) < 0 || want[k] == '\0' ||
        (unsigned char)want[k] != b)
      return 0;
    k++;
  }
  return want[k] == '\0';
}


ssize_t corio_http_query_get(const corio_http_req_t *req, const char *name,
                             char *out, size_t cap) {
  corio_http_str_t n, v;
  size_t pos = 0;

  if (req == NULL || name == NULL)
    return UV_EINVAL;
  while (corio_http_query_next(req, &pos, &n, &v) == 1)
    if (decoded_equals(n, name))
      return corio_http_decode(v, 1, out, cap);
  return UV_ENOENT;
}
