/* A handler's response header fields (corio/http.h, "Responses"): read
 * from either form (a raw block of "Name: value\r\n" lines, or name/value
 * pairs) with the same rules, checked against the framing the server will
 * send, and written out as lines. Nothing is sent unless every field
 * passes, so a bad field can never put half a head, a second head or a
 * second framing header on the wire. */
#include <string.h>
#include <strings.h>

#include "http.h"

typedef struct field {
  const char *name, *value;
  size_t nlen, vlen;
} field_t;


static int is_tchar(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}


/* A byte a field value may hold (RFC 9110 5.5: visible characters,
 * obs-text, space and tab): no CR, LF, NUL or other control byte. */
static int value_byte_ok(unsigned char ch) {
  return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}


static int ieq(const char *p, size_t n, const char *lit) {
  return n == strlen(lit) && strncasecmp(p, lit, n) == 0;
}


/* Validate a value of n bytes (n: SIZE_MAX to stop at a NUL, for the
 * pairs) and trim its blanks. 0 or UV_EINVAL. */
static int value_of(const char *p, size_t n, field_t *f) {
  size_t i;

  for (i = 0; i < n && (n != SIZE_MAX || p[i] != '\0'); i++)
    if (!value_byte_ok((unsigned char)p[i]))
      return UV_EINVAL;
  n = i;
  while (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
    p++;
    n--;
  }
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
    n--;
  f->value = p;
  f->vlen = n;
  return 0;
}


/* The next field of a raw block from *pos: 1, 0 at the end, UV_EINVAL.
 * A line is a token, a colon, a value, CRLF; the last line needs its CRLF
 * too (without it the body would become a header). */
static int raw_next(const char *raw, size_t *pos, field_t *f) {
  const char *p = raw + *pos, *v;
  size_t n = 0;

  if (*p == '\0')
    return 0;
  while (is_tchar((unsigned char)p[n]))
    n++;
  if (n == 0 || p[n] != ':')
    return UV_EINVAL;
  f->name = p;
  f->nlen = n;
  v = p + n + 1;
  for (n = 0; v[n] != '\r'; n++)
    if (!value_byte_ok((unsigned char)v[n])) /* NUL, a bare LF, ... */
      return UV_EINVAL;
  if (v[n + 1] != '\n')
    return UV_EINVAL;
  if (value_of(v, n, f) != 0)
    return UV_EINVAL;
  *pos = (size_t)(v + n + 2 - raw);
  return 1;
}


static int pair_next(const corio_http_header_t *h, size_t n, size_t *pos,
                     field_t *f) {
  const corio_http_header_t *e;
  size_t k = 0;

  if (*pos == n)
    return 0;
  e = &h[(*pos)++];
  if (e->name == NULL || e->value == NULL)
    return UV_EINVAL;
  while (is_tchar((unsigned char)e->name[k]))
    k++;
  if (k == 0 || e->name[k] != '\0')
    return UV_EINVAL;
  f->name = e->name;
  f->nlen = k;
  return value_of(e->value, SIZE_MAX, f) != 0 ? UV_EINVAL : 1;
}


static int next(const corio__hfields_t *fs, size_t *pos, field_t *f) {
  if (fs->raw != NULL)
    return raw_next(fs->raw, pos, f);
  if (fs->pairs != NULL)
    return pair_next(fs->pairs, fs->npairs, pos, f);
  return 0;
}


/* Connection: a list of tokens, of which corio takes "close" (close after
 * this response) and "keep-alive" (the server's default anyway). */
static int connection_ok(const field_t *f, int *close) {
  const char *p = f->value, *end = f->value + f->vlen;

  while (p < end) {
    const char *tok;
    size_t n;
    while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
      p++;
    for (tok = p; p < end && *p != ',' && *p != ' ' && *p != '\t'; p++) {
    }
    n = (size_t)(p - tok);
    if (n == 0)
      continue;
    if (ieq(tok, n, "close"))
      *close = 1;
    else if (!ieq(tok, n, "keep-alive"))
      return 0;
  }
  return 1;
}


/* Content-Length: digits only, equal to the server's. */
static int length_ok(const field_t *f, int64_t server_len) {
  uint64_t v = 0;

  if (server_len < 0 || f->vlen == 0 || f->vlen > 18)
    return 0;
  for (size_t i = 0; i < f->vlen; i++) {
    if (f->value[i] < '0' || f->value[i] > '9')
      return 0;
    v = v * 10 + (uint64_t)(f->value[i] - '0');
  }
  return v == (uint64_t)server_len;
}


/* Is this field one the server writes itself (framing, Connection)? */
static int server_owned(const field_t *f) {
  return ieq(f->name, f->nlen, "content-length") ||
         ieq(f->name, f->nlen, "transfer-encoding") ||
         ieq(f->name, f->nlen, "connection");
}


int corio__hfields_check(const corio__hfields_t *fs, corio__hframing_t *fr) {
  size_t pos = 0;
  field_t f;
  int r;

  fr->close = fr->has_date = fr->has_host = 0;
  fr->bytes = 0;
  while ((r = next(fs, &pos, &f)) == 1) {
    if (ieq(f.name, f.nlen, "content-length")) {
      if (!length_ok(&f, fr->content_length))
        return UV_EINVAL;
    } else if (ieq(f.name, f.nlen, "transfer-encoding")) {
      if (!fr->chunked || !ieq(f.value, f.vlen, "chunked"))
        return UV_EINVAL;
    } else if (ieq(f.name, f.nlen, "connection")) {
      if (!connection_ok(&f, &fr->close))
        return UV_EINVAL;
    } else {
      if (ieq(f.name, f.nlen, "date"))
        fr->has_date = 1;
      if (ieq(f.name, f.nlen, "host"))
        fr->has_host = 1;
      fr->bytes += f.nlen + 2 + f.vlen + 2;
      if (fr->bytes > CORIO_HTTP_MAX_RESPONSE_HEADER_BYTES)
        return UV_E2BIG;
    }
  }
  return r;
}


void corio__hfields_emit(const corio__hfields_t *fs, char *out) {
  size_t pos = 0;
  field_t f;

  while (next(fs, &pos, &f) == 1) {
    if (server_owned(&f))
      continue; /* checked consistent: the server writes its own once */
    memcpy(out, f.name, f.nlen);
    out += f.nlen;
    *out++ = ':';
    *out++ = ' ';
    memcpy(out, f.value, f.vlen);
    out += f.vlen;
    *out++ = '\r';
    *out++ = '\n';
  }
}
