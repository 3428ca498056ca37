/* Buffered reading on a connection: lines (LF and CRLF), read_until,
 * peek without consuming, what is left after an error. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "corio.h"

static corio_tcp_listener_t *bl_ln;

static void *bl_server(void *arg) {
  const char *text = arg;
  corio_tcp_t *c;

  if (corio_tcp_accept(bl_ln, &c) != 0)
    return NULL;
  corio_write(c, text, strlen(text));
  corio_close(c);
  return NULL;
}

static corio_tcp_t *bl_connect(const char *text, corio_task_t **srv) {
  corio_tcp_t *c;

  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &bl_ln), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), bl_server, (void *)(uintptr_t)text, srv), 0);
  cr_assert_eq(corio_tcp_connect("127.0.0.1", corio_tcp_listener_port(bl_ln), &c), 0);
  return c;
}

static void bl_done(corio_tcp_t *c, corio_task_t *srv) {
  corio_close(c);
  corio_join(srv, NULL);
  corio_tcp_listener_close(bl_ln);
}

static void *lines(void *arg) {
  corio_task_t *srv;
  corio_tcp_t *c = bl_connect("hello\r\nworld\n\nkey: value;rest-without-end", &srv);
  char buf[64], small[4];
  const char *p;

  (void)arg;
  cr_assert_geq(corio_peek(c, 3, &p), 3);
  cr_assert_eq(memcmp(p, "hel", 3), 0, "peek sees the bytes");
  cr_assert_eq(corio_read_line(c, buf, sizeof buf), 5);
  cr_assert_str_eq(buf, "hello", "the CRLF is not part of the line");
  cr_assert_eq(corio_read_line(c, buf, sizeof buf), 5);
  cr_assert_str_eq(buf, "world");
  cr_assert_eq(corio_read_line(c, buf, sizeof buf), 0);
  cr_assert_str_eq(buf, "", "an empty line");
  cr_assert_eq(corio_read_until(c, ';', small, sizeof small), UV_ENOBUFS, "no ';' in 4 bytes");
  cr_assert_eq(corio_read_until(c, ':', buf, sizeof buf), 4, "nothing was consumed by the refusal");
  cr_assert_eq(memcmp(buf, "key:", 4), 0);
  cr_assert_eq(corio_read_until(c, ';', buf, sizeof buf), 7);
  cr_assert_eq(memcmp(buf, " value;", 7), 0);
  cr_assert_eq(corio_read_line(c, buf, sizeof buf), UV_EOF, "the last line has no end");
  cr_assert_eq(corio_read(c, buf, sizeof buf), 16, "its bytes stay readable");
  cr_assert_eq(memcmp(buf, "rest-without-end", 16), 0);
  cr_assert_eq(corio_peek(c, CORIO_TCP_BUFFER + 1, &p), UV_EINVAL);
  bl_done(c, srv);
  return NULL;
}

Test(buffered, lines_delimiters_and_peek, .timeout = 60) {
  cr_assert_eq(corio_main(lines, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
  cr_assert_eq(corio_main(lines, NULL, &(corio_rt_options_t){.loop_only = 1}, NULL), 0);
}
