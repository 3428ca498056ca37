/* libFuzzer target: corio's HTTP client reading whatever a server sends.
 * For each input this harness is the server: it accepts the client's
 * connection, reads the request head, sends the input (minus its first
 * byte, which picks GET or HEAD, and whether the client reads in small
 * pieces), ends its stream, and waits for the client's
 * call to end. The call runs in a task of one runtime for the whole run,
 * with a fresh client each time (so no connection carries over) and
 * deadlines well under HANG_MS: a call that has not ended by then is a
 * hang, and aborts; a crash is a finding (ASan/UBSan). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "corio.h"

#define HANG_MS 5000

static corio_rt_t *rt;
static int lfd, port;

typedef struct job {
  int mode;
  _Atomic(int) done;
} job_t;

static void *call(void *arg) {
  job_t *j = arg;
  corio_http_client_options_t o = {.head_timeout_ms = 500, .connect_timeout_ms = 1000};
  corio_http_client_t *cl;
  corio_http_call_t *c;
  char url[64], buf[64];
  size_t piece = j->mode & 4 ? 7 : sizeof buf;

  snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
  if (corio_http_client_new(&o, &cl) != 0)
    abort();
  if (corio_http_call_start(cl, j->mode & 1 ? "HEAD" : "GET", url, NULL, 0, 0,
                            corio_now() + 1500, &c) == 0) {
    if (corio_http_call_response(c) > 0) {
      corio_http_str_t name, value;
      for (size_t i = 0; corio_http_call_header_at(c, i, &name, &value) == 0; i++) {
      }
      corio_http_call_header(c, "content-type");
      while (corio_http_call_read(c, buf, piece) > 0) {
      }
    }
    corio_http_call_end(c);
  }
  corio_http_client_free(cl);
  atomic_store(&j->done, 1);
  return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  corio_rt_options_t ro = {.workers = 1};

  (void)argc;
  (void)argv;
  if (corio_rt_new(&ro, &rt) != 0)
    abort();
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 16) != 0 ||
      getsockname(lfd, (struct sockaddr *)&a, &len) != 0)
    abort();
  port = ntohs(a.sin_port);
  return 0;
}

/* Wait until fd is readable, for at most ms: 1, or 0 at the limit. */
static int wait_in(int fd, int ms) {
  struct pollfd p = {fd, POLLIN, 0};
  int r;

  while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR) {
  } /* libFuzzer's -timeout alarm interrupts, once a second */
  return r > 0;
}

/* Close with a reset once the exchange is over, so that this side's
 * socket, which half-closed first, does not sit in TIME_WAIT (thousands
 * of loopback connections a second would exhaust the ports). */
static void close_reset(int fd) {
  struct linger no = {1, 0};

  setsockopt(fd, SOL_SOCKET, SO_LINGER, &no, sizeof no);
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  job_t j = {size > 0 ? data[0] : 0, 0};
  char head[4096];
  size_t have = 0;
  corio_task_t *t;
  int fd = -1;

  if (corio_spawn(rt, call, &j, &t) != 0)
    abort();
  if (wait_in(lfd, HANG_MS) && (fd = accept(lfd, NULL, NULL)) >= 0) {
    /* the request head, then the answer */
    while (have < sizeof head && memmem(head, have, "\r\n\r\n", 4) == NULL &&
           wait_in(fd, 2000)) {
      ssize_t n = recv(fd, head + have, sizeof head - have, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      have += (size_t)n;
    }
    if (size > 1)
      send(fd, data + 1, size - 1, MSG_NOSIGNAL);
    /* Then the end of the stream: a response that needs more bytes ends
     * now, not at a timeout (one run would take the 500 ms head timeout). */
    shutdown(fd, SHUT_WR);
  }
  /* (corio_join_dl takes no deadline on a plain thread: poll a flag) */
  for (uint64_t until = corio_now() + HANG_MS; !atomic_load(&j.done);) {
    if (corio_now() >= until) {
      fprintf(stderr, "fuzz_client: the call did not end in %d ms\n", HANG_MS);
      abort();
    }
    usleep(50);
  }
  corio_join(t, NULL);
  if (fd >= 0)
    close_reset(fd);
  return 0;
}
