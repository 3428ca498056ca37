/* corio's HTTP client under load: CONNS tasks, each a loop of GETs on one
 * keep-alive connection of a shared client, for SECONDS; prints
 * `client_req_per_s X req/s` and the errors. The Go peer
 * (bench/peers/go-http-client) does the same with net/http's client;
 * bench/client_compare.sh runs both against one server.
 *
 * With --stream BYTES instead: one PUT of BYTES (chunked, from a 64 KiB
 * buffer) to URL, then a GET of URL read in 64 KiB pieces, and the
 * process's peak RSS: `client_stream_up_MB_per_s`, `_down_MB_per_s`,
 * `client_stream_bytes_back`, `client_max_rss_kib` (for a server with
 * PUT and GET /files/NAME: examples/http_server, bench/peers/go-http).
 *
 *   http_client --url http://127.0.0.1:8080/ [--connections 64]
 *               [--seconds 10] [--workers N | --loop-only]
 *   http_client --url http://127.0.0.1:8080/files/big --stream 1073741824 */
#include <corio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char *url;
static uint64_t until_ms;
static corio_http_client_t *client;
static _Atomic(uint64_t) done, errors;

static void *member(void *arg) {
  char buf[4096];
  uint64_t mine = 0, bad = 0;
  ssize_t n;

  (void)arg;
  while (corio_now() < until_ms) {
    corio_http_call_t *call;
    int st;
    if (corio_http_call_start(client, "GET", url, NULL, 0, 0, corio_now() + 10000, &call) != 0) {
      bad++;
      continue;
    }
    st = corio_http_call_response(call);
    while (st == 200 && (n = corio_http_call_read(call, buf, sizeof buf)) > 0) {
    }
    if (corio_http_call_end(call) != 0 || st != 200)
      bad++;
    else
      mine++;
  }
  atomic_fetch_add(&done, mine);
  atomic_fetch_add(&errors, bad);
  return NULL;
}

typedef struct run {
  int conns;
  double seconds;
  uint64_t stream;               /* --stream BYTES, or 0 */
  double up_s, down_s;
  uint64_t back;
  int err;
} run_t;

/* --stream: up, then down, each through one call. */
static void *stream(void *arg) {
  run_t *r = arg;
  enum { PIECE = 64 * 1024 };
  char *buf = malloc(PIECE);
  corio_http_call_t *call;
  uint64_t sent = 0, t0;
  ssize_t n;
  int st;

  if (buf == NULL || corio_http_client_new(NULL, &client) != 0)
    abort();
  memset(buf, 'x', PIECE);
  t0 = uv_hrtime();
  if ((r->err = corio_http_call_start(client, "PUT", url, NULL, 0, CORIO_HTTP_BODY_CHUNKED,
                                      UINT64_MAX, &call)) != 0)
    goto out;
  while (sent < r->stream) {
    size_t k = r->stream - sent < PIECE ? (size_t)(r->stream - sent) : PIECE;
    if ((n = corio_http_call_write(call, buf, k)) < 0)
      break;
    sent += k;
  }
  st = corio_http_call_response(call);
  while (corio_http_call_read(call, buf, PIECE) > 0) {
  }
  r->err = corio_http_call_end(call);
  if (st != 201 && st != 200 && r->err == 0)
    r->err = st < 0 ? st : UV_EPROTO;
  r->up_s = (double)(uv_hrtime() - t0) / 1e9;
  if (r->err != 0)
    goto out;
  t0 = uv_hrtime();
  if ((r->err = corio_http_call_start(client, "GET", url, NULL, 0, 0, UINT64_MAX, &call)) != 0)
    goto out;
  if ((st = corio_http_call_response(call)) == 200)
    while ((n = corio_http_call_read(call, buf, PIECE)) > 0)
      r->back += (uint64_t)n;
  r->err = corio_http_call_end(call);
  r->down_s = (double)(uv_hrtime() - t0) / 1e9;
out:
  corio_http_client_free(client);
  free(buf);
  return NULL;
}

static void *run(void *arg) {
  run_t *r = arg;
  corio_http_client_options_t o = {.max_idle = (unsigned)r->conns};
  corio_task_t **t = calloc((size_t)r->conns, sizeof *t);
  uint64_t t0;

  if (t == NULL || corio_http_client_new(&o, &client) != 0)
    abort();
  t0 = uv_hrtime();
  until_ms = corio_now() + (uint64_t)(r->seconds * 1000);
  for (int i = 0; i < r->conns; i++)
    if (corio_spawn(corio_current_rt(), member, NULL, &t[i]) != 0)
      abort();
  for (int i = 0; i < r->conns; i++)
    corio_join(t[i], NULL);
  r->seconds = (double)(uv_hrtime() - t0) / 1e9;
  corio_http_client_free(client);
  free(t);
  return NULL;
}

int main(int argc, char **argv) {
  corio_rt_options_t opts = {0};
  run_t r = {64, 10, 0, 0, 0, 0, 0};
  struct rusage ru;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--loop-only") == 0) {
      opts.loop_only = 1;
      continue;
    }
    if (v == NULL)
      goto usage;
    i++;
    if (strcmp(a, "--url") == 0)
      url = v;
    else if (strcmp(a, "--connections") == 0)
      r.conns = atoi(v);
    else if (strcmp(a, "--seconds") == 0)
      r.seconds = atof(v);
    else if (strcmp(a, "--stream") == 0)
      r.stream = strtoull(v, NULL, 10);
    else if (strcmp(a, "--workers") == 0)
      opts.workers = (unsigned)atoi(v);
    else
      goto usage;
  }
  if (url == NULL || r.conns < 1)
    goto usage;
  if (r.stream > 0) {
    if (corio_main(stream, &r, &opts, NULL) != 0 || r.err != 0) {
      fprintf(stderr, "http_client: %s\n", uv_strerror(r.err));
      return 1;
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("client_stream_up_MB_per_s %.0f MB/s\n", (double)r.stream / 1e6 / r.up_s);
    printf("client_stream_down_MB_per_s %.0f MB/s\n", (double)r.back / 1e6 / r.down_s);
    printf("client_stream_bytes_back %llu\n", (unsigned long long)r.back);
    printf("client_max_rss_kib %ld KiB\n", ru.ru_maxrss);
    return r.back == r.stream ? 0 : 1;
  }
  if (corio_main(run, &r, &opts, NULL) != 0)
    return 1;
  printf("client_req_per_s %.0f req/s\n", (double)atomic_load(&done) / r.seconds);
  printf("client_errors %llu\n", (unsigned long long)atomic_load(&errors));
  return 0;
usage:
  fprintf(stderr, "usage: %s --url URL [--connections N] [--seconds S] [--workers N | --loop-only]\n",
          argv[0]);
  return 2;
}
