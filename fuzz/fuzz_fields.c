/* libFuzzer target: the header-field check every response (and client
 * request) goes through (lib/http/fields.c). The input is a raw block of
 * lines; after the first NUL, the rest is read as NUL-separated name/value
 * pairs. Whatever passes must come out as well-formed lines: no CR or LF
 * but each line's CRLF, a token name, a colon and a space, exactly
 * fr.bytes bytes, no framing field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static int is_tchar(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static void check_lines(const char *out, size_t len) {
  size_t i = 0;

  while (i < len) {
    size_t start = i, colon;
    while (i < len && is_tchar((unsigned char)out[i]))
      i++;
    if (i == start || i + 1 >= len || out[i] != ':' || out[i + 1] != ' ')
      abort();
    colon = i;
    if (strncasecmp(out + start, "content-length", colon - start) == 0 &&
        colon - start == 14)
      abort(); /* the server's to write */
    for (i += 2; i < len && out[i] != '\r'; i++)
      if (out[i] == '\n' || out[i] == '\0')
        abort();
    if (i + 1 >= len || out[i + 1] != '\n')
      abort();
    i += 2;
  }
}

static void run(const corio__hfields_t *fs, int64_t cl, int chunked) {
  corio__hframing_t fr = {.content_length = cl, .chunked = chunked};
  char *out;

  if (corio__hfields_check(fs, &fr) != 0)
    return;
  if ((out = malloc(fr.bytes + 1)) == NULL)
    return;
  corio__hfields_emit(fs, out);
  check_lines(out, fr.bytes);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *copy = malloc(size + 1), *rest;
  corio_http_header_t pairs[16];
  size_t n = 0, raw_len;

  if (copy == NULL)
    return 0;
  memcpy(copy, data, size);
  copy[size] = '\0';
  raw_len = strlen(copy);
  {
    corio__hfields_t fs = {copy, NULL, 0};
    run(&fs, 5, 0);
    run(&fs, -1, 1);
  }
  /* pairs after the first NUL: name\0value\0name\0value... */
  rest = copy + raw_len + 1;
  while (rest < copy + size && n < 16) {
    char *name = rest, *value;
    rest += strlen(rest) + 1;
    if (rest >= copy + size + 1)
      break;
    value = rest;
    rest += strlen(rest) + 1;
    pairs[n].name = name;
    pairs[n].value = value;
    n++;
  }
  {
    corio__hfields_t fs = {NULL, pairs, n};
    run(&fs, 5, 0);
    run(&fs, -1, 1);
  }
  free(copy);
  return 0;
}
