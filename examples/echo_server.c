/* echo_server: every connection gets a task of its own that reads and
 * writes back what it read, as plain blocking code, until the peer shuts
 * its side down. The smallest complete corio server, and a demo of the
 * M:N runtime: the connection tasks run on worker threads and move
 * between them, while the loop thread owns the sockets.
 *
 *   echo_server [--host 127.0.0.1] [--port 7000] [--workers N | --loop-only]
 *
 * By default the tasks run on 2 worker threads; --workers N runs them on
 * N (0: one per CPU), --loop-only runs every task on the loop thread.
 *
 * Prints "listening on tcp://HOST:PORT" once ready (--port 0 picks a free
 * port); stops on SIGINT or SIGTERM. Try it with echo_client, or with
 * `nc 127.0.0.1 7000`. */
#include <corio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stop_signal.h"

static void echo(corio_tcp_t *conn, void *arg) {
  /* On the task's stack: a task has 256 KiB of address space, and only
   * the pages touched cost memory. */
  char buf[16 * 1024];
  ssize_t n;

  (void)arg;
  /* Ends on UV_EOF (the peer shut down its side) or an error; returning
   * closes the connection, so the peer then reads EOF too. */
  while ((n = corio_read(conn, buf, sizeof buf)) > 0)
    if (corio_write(conn, buf, (size_t)n) < 0)
      break;
}

static void *stopper(void *arg) {
  wait_for_stop_signal();
  corio_tcp_listener_close(arg); /* corio_tcp_serve in main returns */
  return NULL;
}

int main(int argc, char **argv) {
  corio_rt_options_t opts = {0};
  corio_tcp_listener_options_t lopts = {0};
  corio_tcp_listener_t *ln;
  const char *host = "127.0.0.1";
  int port = 7000, err, i;
  corio_task_t *stop;
  corio_rt_t *rt;

  /* Two workers by default: connection tasks hop between threads, which
   * is the point of the demo (tcp_hello shows the loop-only mode). */
  opts.workers = 2;
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
    fprintf(stderr, "echo_server: %s\n", uv_strerror(err));
    return 1;
  }
  lopts.rt = rt; /* main is a plain thread, not a task of rt */
  if ((err = corio_tcp_listen(host, port, &lopts, &ln)) != 0) {
    fprintf(stderr, "echo_server: listen on %s:%d: %s\n", host, port, uv_strerror(err));
    corio_rt_free(rt);
    return 1;
  }
  printf(strchr(host, ':') ? "listening on tcp://[%s]:%d\n" : "listening on tcp://%s:%d\n",
         host, corio_tcp_listener_port(ln));
  fflush(stdout); /* a script may be waiting for this line on a pipe */
  if ((err = corio_spawn(rt, stopper, ln, &stop)) != 0) {
    fprintf(stderr, "echo_server: %s\n", uv_strerror(err));
    corio_tcp_listener_close(ln);
    corio_rt_free(rt);
    return 1;
  }
  err = corio_tcp_serve(ln, echo, NULL); /* until the listener closes */
  /* serve returns as soon as the listener is closed, while the stopper is
   * still inside corio_tcp_listener_close, which frees it: wait for that
   * (corio_rt_free would drop the suspended stopper, and ln with it). */
  if (err == 0)
    corio_join(stop, NULL);
  else
    fprintf(stderr, "echo_server: serve: %s\n", uv_strerror(err));
  /* Connections still open are closed here; their tasks never resume. */
  corio_rt_free(rt);
  return err == 0 ? 0 : 1;
}
