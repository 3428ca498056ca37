/* Unix-domain sockets (a path and an abstract name) and pipes are
 * connections like TCP's: served, read, written, closed by the same
 * calls, and the HTTP server answers on one. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corio.h"

static void ux_echo(corio_tcp_t *c, void *arg) {
  char buf[256];
  ssize_t n;

  (void)arg;
  while ((n = corio_read(c, buf, sizeof buf)) > 0)
    if (corio_write(c, buf, (size_t)n) < 0)
      return;
}

typedef struct ux {
  corio_tcp_listener_t *ln;
  corio_group_t *g;
  const char *name;
} ux_t;

static void *ux_serve(void *arg) {
  ux_t *u = arg;
  return (void *)(intptr_t)corio_tcp_serve_group(u->ln, u->g, ux_echo, NULL);
}

static void ux_round(const char *name) {
  ux_t u = {NULL, NULL, name};
  corio_task_t *srv;
  corio_tcp_t *c;
  char buf[64];

  cr_assert_eq(corio_unix_listen(name, NULL, &u.ln), 0, "%s", name);
  cr_assert_eq(corio_tcp_listener_port(u.ln), UV_EINVAL, "no port");
  cr_assert_eq(corio_group_new(corio_current_rt(), 0, &u.g), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), ux_serve, &u, &srv), 0);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(corio_unix_connect(name, &c), 0, "%s", name);
    cr_assert_eq(corio_write(c, "over unix", 9), 9);
    cr_assert_eq(corio_read_full(c, buf, 9, NULL), 9);
    cr_assert_eq(memcmp(buf, "over unix", 9), 0);
    corio_close(c);
  }
  cr_assert_eq(corio_tcp_listener_close(u.ln), 0);
  corio_join(srv, NULL);
  cr_assert_eq(corio_group_drain(u.g, corio_now() + 5000), 0);
  cr_assert_eq(corio_group_close(u.g), 0);
}

static void *unix_echo(void *arg) {
  char path[64];

  (void)arg;
  snprintf(path, sizeof path, "/tmp/corio-unix-%d.sock", (int)getpid());
  unlink(path);
  ux_round(path);
  unlink(path);
  snprintf(path, sizeof path, "@corio-unix-%d", (int)getpid());
  ux_round(path);
  /* errors */
  {
    corio_tcp_t *c;
    corio_tcp_listener_t *ln;
    cr_assert_eq(corio_unix_connect("/tmp/corio-no-such.sock", &c), UV_ENOENT);
    cr_assert_eq(corio_unix_listen("", NULL, &ln), UV_EINVAL);
  }
  return NULL;
}

Test(unix, echo_over_a_path_and_an_abstract_name, .timeout = 60) {
  cr_assert_eq(corio_main(unix_echo, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
  cr_assert_eq(corio_main(unix_echo, NULL, &(corio_rt_options_t){.loop_only = 1}, NULL), 0);
}

static int hello(corio_http_req_t *req, corio_http_res_t *res, void *arg) {
  (void)req;
  (void)arg;
  return corio_http_respond(res, 200, NULL, "hello over unix", 15);
}

static void *http_serve(void *arg) {
  return (void *)(intptr_t)corio_http_serve(arg, hello, NULL, NULL);
}

static void *unix_http(void *arg) {
  char path[] = "@corio-unix-http", buf[512];
  corio_tcp_listener_t *ln;
  corio_task_t *srv;
  corio_tcp_t *c;
  ssize_t n, have = 0;
  static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

  (void)arg;
  cr_assert_eq(corio_unix_listen(path, NULL, &ln), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), http_serve, ln, &srv), 0);
  cr_assert_eq(corio_unix_connect(path, &c), 0);
  cr_assert_eq(corio_write(c, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
  while ((n = corio_read(c, buf + have, sizeof buf - 1 - (size_t)have)) > 0)
    have += n;
  buf[have] = '\0';
  cr_assert_not_null(strstr(buf, "HTTP/1.1 200"), "%s", buf);
  cr_assert_not_null(strstr(buf, "hello over unix"), "%s", buf);
  corio_close(c);
  cr_assert_eq(corio_tcp_listener_close(ln), 0);
  corio_join(srv, NULL);
  return NULL;
}

Test(unix, the_http_server_answers_on_a_unix_socket, .timeout = 60) {
  cr_assert_eq(corio_main(unix_http, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

/* A pipe's two ends as connections. */
static void *pipes(void *arg) {
  int fds[2];
  corio_tcp_t *r, *w;
  char buf[16];

  (void)arg;
  cr_assert_eq(pipe(fds), 0);
  cr_assert_eq(corio_pipe_open(fds[0], &r), 0);
  cr_assert_eq(corio_pipe_open(fds[1], &w), 0);
  cr_assert_eq(corio_write(w, "through", 7), 7);
  cr_assert_eq(corio_read_full(r, buf, 7, NULL), 7);
  cr_assert_eq(memcmp(buf, "through", 7), 0);
  corio_close(w);
  cr_assert_eq(corio_read(r, buf, sizeof buf), UV_EOF, "the writer closed");
  corio_close(r);
  cr_assert_eq(corio_pipe_open(-1, &r), UV_EINVAL);
  return NULL;
}

Test(unix, a_pipe_is_a_connection, .timeout = 60) {
  cr_assert_eq(corio_main(pipes, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

/* A terminal (the slave side of a pseudo-terminal) as a connection. */
static void *tty(void *arg) {
  int master = posix_openpt(O_RDWR | O_NOCTTY), slave;
  corio_tcp_t *t;
  char buf[64];
  ssize_t n;

  (void)arg;
  cr_assert_geq(master, 0);
  cr_assert_eq(grantpt(master), 0);
  cr_assert_eq(unlockpt(master), 0);
  slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  cr_assert_geq(slave, 0);
  cr_assert_eq(corio_pipe_open(slave, &t), 0);
  cr_assert_eq(write(master, "typed\n", 6), 6);
  n = corio_read_dl(t, buf, sizeof buf, corio_now() + 5000);
  cr_assert_eq(n, 6, "%zd", n);
  cr_assert_eq(memcmp(buf, "typed\n", 6), 0);
  cr_assert_eq(corio_write(t, "shown", 5), 5);
  corio_close(t);
  close(master);
  return NULL;
}

Test(unix, a_terminal_is_a_connection, .timeout = 60) {
  cr_assert_eq(corio_main(tty, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
}
