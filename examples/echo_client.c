/* echo_client: checks an echo server (echo_server) byte for byte. Opens
 * the connections at once, one task each; on every connection a second
 * task sends the lines and then shuts the sending side down, while the
 * connection's task reads the echo back line by line, compares it with
 * what was sent, and finally expects EOF (the server closes once it has
 * echoed everything). Every line carries its connection and line number
 * and has its own length, so an echo that loses, repeats or mixes up
 * bytes, or crosses connections, does not compare equal.
 *
 *   echo_client [--host 127.0.0.1] [--port 7000] [--connections 1]
 *               [--lines 100]
 *
 * Prints "echo_client: C connections x L lines ok" and exits 0, or says
 * what went wrong and exits 1. Connecting gives up after 5 s, and every
 * read or write after 10 s, so a stalled server fails the check instead
 * of hanging it. */
#include <corio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_MS 5000
#define IO_MS 10000
#define LINE_MAX_LEN 128

typedef struct {
  const char *host;
  int port, lines;
} config_t;

typedef struct {
  const config_t *cfg;
  int id;
  corio_tcp_t *conn;
} conn_t;

/* Line `line` of connection `id`: "conn 3 line 17 " and a filler whose
 * length and letters depend on both numbers, then a newline. */
static size_t make_line(char *buf, int id, int line) {
  int len = snprintf(buf, LINE_MAX_LEN, "conn %d line %d ", id, line);
  int fill = (int)(((unsigned)id * 7u + (unsigned)line * 13u) % 61u);

  for (int k = 0; k < fill; k++)
    buf[len++] = (char)('a' + (id + line + k) % 26);
  buf[len++] = '\n';
  return (size_t)len;
}

/* For an error message: the line without its newline, control bytes as
 * dots (a broken echo may return anything). */
static const char *printable(char *buf, size_t len) {
  if (len > 0 && buf[len - 1] == '\n')
    len--;
  for (size_t i = 0; i < len; i++)
    if (buf[i] < ' ' || buf[i] > '~')
      buf[i] = '.';
  buf[len] = '\0';
  return buf;
}

/* The sending half: returns 0 or a libuv error (as a pointer). */
static void *send_lines(void *arg) {
  conn_t *c = arg;
  char line[LINE_MAX_LEN];
  ssize_t n;

  for (int i = 0; i < c->cfg->lines; i++) {
    size_t len = make_line(line, c->id, i);

    /* One write per line: the server sees the stream in many pieces and
     * its reads need not line up with them. */
    if ((n = corio_write_dl(c->conn, line, len, corio_now() + IO_MS)) < 0)
      return (void *)(intptr_t)n;
  }
  /* EOF for the server once it has read everything: it echoes the rest
   * and closes, which is the EOF the reader waits for. */
  return (void *)(intptr_t)corio_shutdown(c->conn);
}

/* One connection's task: returns NULL on success, else non-NULL. */
static void *run_connection(void *arg) {
  conn_t *c = arg;
  const config_t *cfg = c->cfg;
  char want[LINE_MAX_LEN], got[LINE_MAX_LEN + 1];
  corio_task_t *sender;
  void *result;
  int failed = 0, err;
  ssize_t n;

  err = corio_tcp_connect_dl(cfg->host, cfg->port, &c->conn, corio_now() + CONNECT_MS);
  if (err != 0) {
    fprintf(stderr, "echo_client: connection %d: connect to %s:%d: %s\n", c->id,
            cfg->host, cfg->port, uv_strerror(err));
    return c;
  }
  if ((err = corio_spawn(corio_current_rt(), send_lines, c, &sender)) != 0) {
    fprintf(stderr, "echo_client: connection %d: spawn: %s\n", c->id, uv_strerror(err));
    corio_close(c->conn);
    return c;
  }
  /* Reading while the other task writes: the echo never has to wait for
   * us, so neither side can fill its buffers and stall the other. */
  for (int i = 0; i < cfg->lines && !failed; i++) {
    size_t len = make_line(want, c->id, i), have = 0;

    n = corio_read_full_dl(c->conn, got, len, &have, corio_now() + IO_MS);
    if (n < 0) {
      fprintf(stderr, "echo_client: connection %d line %d: read: %s (%zu of %zu bytes)\n",
              c->id, i, uv_strerror((int)n), have, len);
      failed = 1;
    }
    else if (memcmp(got, want, len) != 0) {
      fprintf(stderr, "echo_client: connection %d line %d: sent \"%s\"",
              c->id, i, printable(want, len));
      fprintf(stderr, ", echo was \"%s\"\n", printable(got, len));
      failed = 1;
    }
  }
  if (!failed) {
    n = corio_read_dl(c->conn, got, sizeof got, corio_now() + IO_MS);
    if (n != UV_EOF) {
      if (n > 0)
        fprintf(stderr, "echo_client: connection %d: %zd bytes more than were sent\n",
                c->id, n);
      else
        fprintf(stderr, "echo_client: connection %d: waiting for EOF: %s\n", c->id,
                uv_strerror((int)n));
      failed = 1;
    }
  }
  /* The sender uses the connection: stop and join it before closing. */
  if (failed)
    corio_cancel(sender);
  corio_join(sender, &result);
  err = (int)(intptr_t)result;
  if (err != 0 && !(failed && err == UV_ECANCELED)) {
    fprintf(stderr, "echo_client: connection %d: send: %s\n", c->id, uv_strerror(err));
    failed = 1;
  }
  corio_close(c->conn);
  return failed ? c : NULL;
}

int main(int argc, char **argv) {
  config_t cfg = {"127.0.0.1", 7000, 100};
  int connections = 1, failures = 0, spawned = 0, err, i;
  corio_task_t **tasks;
  conn_t *conns;
  corio_rt_t *rt;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
      cfg.host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
      cfg.port = atoi(argv[++i]);
    else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc)
      connections = atoi(argv[++i]);
    else if (strcmp(argv[i], "--lines") == 0 && i + 1 < argc)
      cfg.lines = atoi(argv[++i]);
    else
      break;
  }
  if (i < argc || connections < 1 || cfg.lines < 0 || cfg.port <= 0 || cfg.port > 65535) {
    fprintf(stderr, "usage: %s [--host H] [--port P] [--connections N] [--lines N]\n",
            argv[0]);
    return 2;
  }
  tasks = calloc((size_t)connections, sizeof *tasks);
  conns = calloc((size_t)connections, sizeof *conns);
  if (tasks == NULL || conns == NULL) {
    fprintf(stderr, "echo_client: out of memory\n");
    return 1;
  }
  if ((err = corio_rt_new(NULL, &rt)) != 0) { /* a worker per CPU */
    fprintf(stderr, "echo_client: %s\n", uv_strerror(err));
    return 1;
  }
  for (i = 0; i < connections; i++) {
    conns[i].cfg = &cfg;
    conns[i].id = i;
    if ((err = corio_spawn(rt, run_connection, &conns[i], &tasks[i])) != 0) {
      fprintf(stderr, "echo_client: spawn: %s\n", uv_strerror(err));
      failures++;
      break;
    }
    spawned++;
  }
  /* main is a plain thread: each join blocks it until that task ends. */
  for (i = 0; i < spawned; i++) {
    void *result;

    corio_join(tasks[i], &result);
    if (result != NULL)
      failures++;
  }
  corio_rt_free(rt);
  free(conns);
  free(tasks);
  if (failures > 0) {
    fprintf(stderr, "echo_client: %d of %d connections failed\n", failures, connections);
    return 1;
  }
  printf("echo_client: %d connections x %d lines ok\n", connections, cfg.lines);
  return 0;
}
