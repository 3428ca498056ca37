/* libFuzzer target: corio's HTTP server, driven through its real
 * connection code. One runtime and server for the whole run; each input
 * is the byte stream of one client connection over loopback (pipelined
 * requests, bodies in every framing, trailers, 100-continue, garbage),
 * after which the client half-closes and reads until the server closes.
 * A crash is a finding (ASan/UBSan), and so is a connection the server
 * has not closed within HANG_MS of the client's end (it must: its own
 * timeouts are 300 ms here), which aborts.
 *
 * The handler picks what it does from the path's second byte, so that
 * inputs reach the body calls, streamed responses, unread bodies, header
 * and query accessors. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "corio.h"

#define HANG_MS 5000

static int port;

static int handler(corio_http_req_t *req, corio_http_res_t *res, void *arg) {
  corio_http_str_t path = corio_http_path(req), name, value;
  char buf[512], out[256];
  corio_http_header_t h[2] = {{"X-Fuzz", "1"}, {"Cache-Control", "no-store"}};
  uint64_t total = 0;
  size_t pos = 0;
  ssize_t n;
  int k;

  (void)arg;
  for (size_t i = 0; corio_http_header_at(req, i, &name, &value) == 0; i++)
    total += name.len + value.len;
  while (corio_http_query_next(req, &pos, &name, &value) == 1)
    corio_http_decode(value, 1, out, sizeof out);
  corio_http_path_decoded(req, out, sizeof out);
  switch (path.len > 1 ? path.p[1] : 'b') {
  case 'd': /* answer without reading the body */
    return corio_http_respond_with(res, 200, h, 2, "d", 1);
  case 's': /* stream the answer first, then read the body */
    if (corio_http_res_start(res, 200, NULL, -1) != 0)
      return 1;
    while ((n = corio_http_body_read(req, buf, sizeof buf)) > 0)
      corio_http_res_write(res, buf, (size_t)n);
    return corio_http_res_end(res) == 0 && n == 0 ? 0 : 1;
  case 'h': /* a raw header block of the handler's */
    return corio_http_respond(res, 204, "X-A: b\r\n", NULL, 0);
  default: /* read the body, then answer its size */
    while ((n = corio_http_body_read(req, buf, sizeof buf)) > 0)
      total += (uint64_t)n;
    if (n < 0)
      return 1;
    k = snprintf(out, sizeof out, "%llu", (unsigned long long)total);
    return corio_http_respond(res, 200, "Content-Type: text/plain\r\n", out, (size_t)k);
  }
}

static void *serve(void *arg) {
  corio_http_server_options_t o = {.header_timeout_ms = 300, .idle_timeout_ms = 300,
                                   .max_body_bytes = 1 << 20};
  return (void *)(intptr_t)corio_http_serve(arg, handler, NULL, &o);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  corio_rt_options_t ro = {.workers = 1};
  corio_tcp_listener_options_t lo = {0};
  corio_tcp_listener_t *ln;
  corio_task_t *t;
  corio_rt_t *rt;

  (void)argc;
  (void)argv;
  if (corio_rt_new(&ro, &rt) != 0)
    abort();
  lo.rt = rt;
  if (corio_tcp_listen("127.0.0.1", 0, &lo, &ln) != 0)
    abort();
  port = corio_tcp_listener_port(ln);
  if (corio_spawn(rt, serve, ln, &t) != 0)
    abort();
  return 0; /* the runtime lives until the process ends */
}

/* connect(2), finished even if a signal interrupts it (libFuzzer's
 * -timeout alarm does, once a second): 0, or -1 and errno. */
static int connect_fully(int fd, const struct sockaddr_in *a) {
  struct pollfd p = {fd, POLLOUT, 0};
  socklen_t len = sizeof(int);
  int err = 0;

  if (connect(fd, (const struct sockaddr *)a, sizeof *a) == 0)
    return 0;
  if (errno != EINTR)
    return -1;
  while (poll(&p, 1, -1) < 0)
    if (errno != EINTR)
      return -1;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    errno = err != 0 ? err : errno;
    return -1;
  }
  return 0;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  char sink[4096];
  int fd = socket(AF_INET, SOCK_STREAM, 0), waited = 0;
  size_t off = 0, got = 0;

  /* Each connection from another loopback address: this side closes
   * first (its half-close ends the input), so each leaves a TIME_WAIT
   * behind for a minute, and one address has only ~28,000 ports. */
  static unsigned turn;
  struct sockaddr_in from = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + turn++ % 250)};

  if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof from) != 0 ||
      connect_fully(fd, &a) != 0) {
    fprintf(stderr, "fuzz_server: cannot connect: %s\n", strerror(errno));
    abort();
  }
  while (off < size) { /* the server may close early: stop writing then */
    ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  shutdown(fd, SHUT_WR);
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, 100);
    ssize_t n;
    if (r < 0 && errno == EINTR)
      continue;
    if (r == 0) {
      if ((waited += 100) >= HANG_MS) {
        struct tcp_info ti;
        socklen_t tl = sizeof ti;
        memset(&ti, 0, sizeof ti);
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl);
        fprintf(stderr,
                "fuzz_server: the server kept the connection open %d ms (sent %zu of %zu, "
                "received %zu; tcp state %u, unacked %u, retransmits %u)\n",
                HANG_MS, off, size, got, ti.tcpi_state, ti.tcpi_unacked, ti.tcpi_retransmits);
        abort();
      }
      continue;
    }
    n = recv(fd, sink, sizeof sink, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* closed (or reset): done */
    got += (size_t)n;
  }
  close(fd);
  return 0;
}
