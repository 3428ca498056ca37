/* tcp_hello: the benchmark server of corio's seed, the same job as its Go
 * program. Per connection: read up to 1 KiB, answer with a fixed
 * "Hello, World!" HTTP response, repeat until the peer closes. No HTTP
 * parsing (see http_server for that): one read is taken as one request.
 *
 *   tcp_hello [--host 127.0.0.1] [--port 8080] [--workers N | --loop-only]
 *
 * By default the connections are served on one worker thread per CPU,
 * each on its own loop; --workers N sets N (0: one per CPU); --loop-only
 * runs every task on the loop thread.
 *
 * Prints "listening on http://HOST:PORT" once ready (--port 0 picks a free
 * port); stops on SIGINT or SIGTERM. */
#include <corio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stop_signal.h"

static const char response[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";

static void hello(corio_tcp_t *conn, void *arg) {
  char buf[1024];

  (void)arg;
  while (corio_read(conn, buf, sizeof buf) > 0)
    if (corio_write(conn, response, sizeof response - 1) < 0)
      break;
}

static void *stopper(void *arg) {
  wait_for_stop_signal();
  corio_tcp_listener_close(arg);
  return NULL;
}

int main(int argc, char **argv) {
  corio_rt_options_t opts = {0};
  corio_tcp_listener_options_t lopts = {0};
  corio_tcp_listener_t *ln;
  const char *host = "127.0.0.1";
  int port = 8080, err, i;
  corio_task_t *stop;
  corio_rt_t *rt;

  /* One worker per CPU by default, as the library (docs/BENCHMARKS.md,
   * "Scaling past this machine"). */
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
      host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
      port = atoi(argv[++i]);
    else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
      opts.workers = (unsigned)atoi(argv[++i]); /* 0: one per CPU */
      opts.loop_only = 0;
    }
    else if (strcmp(argv[i], "--loop-only") == 0)
      opts.loop_only = 1;
    else {
      fprintf(stderr, "usage: %s [--host H] [--port P] [--workers N | --loop-only]\n",
              argv[0]);
      return 2;
    }
  }
  stop_signal_block(); /* before the runtime's threads exist */
  if ((err = corio_rt_new(&opts, &rt)) != 0) {
    fprintf(stderr, "tcp_hello: %s\n", uv_strerror(err));
    return 1;
  }
  lopts.rt = rt;
  if ((err = corio_tcp_listen(host, port, &lopts, &ln)) != 0) {
    fprintf(stderr, "tcp_hello: listen on %s:%d: %s\n", host, port, uv_strerror(err));
    corio_rt_free(rt);
    return 1;
  }
  printf(strchr(host, ':') ? "listening on http://[%s]:%d\n" : "listening on http://%s:%d\n",
         host, corio_tcp_listener_port(ln));
  fflush(stdout);
  if ((err = corio_spawn(rt, stopper, ln, &stop)) != 0) {
    fprintf(stderr, "tcp_hello: %s\n", uv_strerror(err));
    corio_tcp_listener_close(ln);
    corio_rt_free(rt);
    return 1;
  }
  err = corio_tcp_serve(ln, hello, NULL); /* until the listener closes */
  /* serve returns as soon as the listener is closed, while the stopper is
   * still inside corio_tcp_listener_close, which frees it: wait for that
   * (corio_rt_free would drop the suspended stopper, and ln with it). */
  if (err == 0)
    corio_join(stop, NULL);
  corio_rt_free(rt);
  return err == 0 ? 0 : 1;
}
