/* Stress for lib/net: many connections, readers/writers/shutdown/close/
 * cancel racing, deadlines 0-5 ms, small reads vs. big bursts (the
 * buffer-full / resume path), runtime teardown while busy. Every byte of
 * a clean connection is checked against a per-connection pattern; a
 * chaotic one must deliver an in-order prefix. Exit status 1 on any
 * error, and the counts on stdout. ctest runs a few seeds and modes
 * (test/CMakeLists.txt); run it longer by hand, e.g.
 *   build/dev/test/stress_net -w 4 -n 20000 -s 7
 * It is white-box: it holds records with the library's own `users`
 * count, so that helper tasks may still call after the owner's close.
 *
 * usage: stress [-w workers] [-l (loop-only)] [-n conns] [-p parallel]
 *               [-c chaos%] [-s seed] [-t teardown_rounds] [-S (shutdown may
 *               race close)] [-z (zero-length writes)] [-m max_stream_bytes]
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corio.h"
#include "corio/net.h"
#include "corio/sync.h"
#include "corio/uv.h"
#include "net/tcp.h"

static unsigned opt_workers = 2, opt_loop_only, opt_conns = 400, opt_par = 48;
static unsigned opt_chaos = 50, opt_teardown, opt_shutrace, opt_zero;
static uint64_t opt_seed = 1, opt_max = 600000;

static _Atomic(long) n_err, n_clean_ok, n_chaos, n_bytes, n_timeouts, n_cancels,
    n_hang, n_ebadf;
static int port;
static corio_tcp_listener_t *ln;

#define FAIL(...)                                                   \
  do {                                                              \
    fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);            \
    fprintf(stderr, __VA_ARGS__);                                   \
    fputc('\n', stderr);                                            \
    atomic_fetch_add(&n_err, 1);                                    \
  } while (0)

static inline uint64_t rnd(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13; x ^= x >> 7; x ^= x << 17;
  return *s = x;
}
static inline uint64_t rr(uint64_t *s, uint64_t lo, uint64_t hi) { /* [lo,hi] */
  return lo + rnd(s) % (hi - lo + 1);
}

static inline uint8_t pat(uint32_t id, int dir, uint64_t i) {
  return (uint8_t)(((i ^ (i >> 8) ^ (i >> 16) ^ (i >> 24)) * 31u) + id * 7u + (unsigned)dir * 101u);
}

/* Keep the record valid for helper tasks that may call after the owner's
 * close (the API says conn is invalid after close; this is the test's own
 * extra reference, same rule as the library's `users`). */
static void hold(corio_tcp_t *c) {
  corio__spin_lock(&c->lock);
  c->users++;
  corio__spin_unlock(&c->lock);
}
static void release(corio_tcp_t *c) {
  int f;
  corio__spin_lock(&c->lock);
  f = --c->users == 0 && c->handle_closed;
  corio__spin_unlock(&c->lock);
  if (f) {
    free(c->rbuf);
    free(c);
  }
}

typedef struct hdr {
  uint32_t id, chaos;
  uint64_t up, down, seed; /* up: client->server bytes, down: server->client */
} hdr_t;

typedef struct side {
  corio_tcp_t *c;
  uint32_t id;
  int dir_rx, dir_tx;
  int chaos;
  uint64_t rx_want, tx_want;
  uint64_t seed;
  _Atomic(int) closed, rx_done;
  _Atomic(uint64_t) rx, tx_attempted;
  corio_task_t *reader, *writer;
  int shut_after_write;
  const char *who;
} side_t;

static void *reader_task(void *arg) {
  side_t *s = arg;
  uint64_t rs = s->seed * 3 + 1, off = 0;
  char buf[65536];

  for (;;) {
    size_t sz;
    uint64_t r = rnd(&rs) % 100, dl;
    ssize_t n;

    sz = r < 50 ? rr(&rs, 1, 64) : r < 90 ? rr(&rs, 65, 4096) : rr(&rs, 4097, sizeof buf);
    r = rnd(&rs) % 100;
    dl = r < 40 ? corio_now() + rr(&rs, 0, 5) : UINT64_MAX;
    n = corio_read_dl(s->c, buf, sz, dl);
    if (n > 0) {
      for (ssize_t i = 0; i < n; i++)
        if ((uint8_t)buf[i] != pat(s->id, s->dir_rx, off + (uint64_t)i)) {
          FAIL("%s id=%u: byte %llu wrong (got %u want %u)", s->who, s->id,
               (unsigned long long)(off + (uint64_t)i), (uint8_t)buf[i],
               pat(s->id, s->dir_rx, off + (uint64_t)i));
          atomic_store(&s->rx_done, 1);
          return NULL;
        }
      off += (uint64_t)n;
      atomic_store(&s->rx, off);
      atomic_fetch_add(&n_bytes, n);
      if (off > s->rx_want)
        FAIL("%s id=%u: more bytes than sent (%llu > %llu)", s->who, s->id,
             (unsigned long long)off, (unsigned long long)s->rx_want);
      if (rnd(&rs) % 64 == 0)
        corio_sleep(rr(&rs, 0, 3)); /* slow reader: buffer fills */
      continue;
    }
    if (n == UV_ETIMEDOUT) {
      atomic_fetch_add(&n_timeouts, 1);
      continue;
    }
    if (n == UV_ECANCELED && !atomic_load(&s->closed)) {
      atomic_fetch_add(&n_cancels, 1);
      continue;
    }
    if (n == UV_EOF) {
      if (!s->chaos && off != s->rx_want)
        FAIL("%s id=%u: EOF after %llu of %llu", s->who, s->id,
             (unsigned long long)off, (unsigned long long)s->rx_want);
      break;
    }
    if (!s->chaos)
      FAIL("%s id=%u: read error %s after %llu of %llu", s->who, s->id,
           uv_err_name((int)n), (unsigned long long)off, (unsigned long long)s->rx_want);
    break;
  }
  atomic_store(&s->rx_done, 1);
  return NULL;
}

static void *writer_task(void *arg) {
  side_t *s = arg;
  uint64_t ws = s->seed * 5 + 7, off = 0;
  char *buf = malloc(300000);
  int ok = 1;

  while (off < s->tx_want) {
    uint64_t r = rnd(&ws) % 100, len, dl;
    ssize_t n;

    len = r < 30 ? rr(&ws, 1, 512) : r < 70 ? rr(&ws, 513, 65536) : rr(&ws, 65537, 300000);
    if (len > s->tx_want - off)
      len = s->tx_want - off;
    for (uint64_t i = 0; i < len; i++)
      buf[i] = (char)pat(s->id, s->dir_tx, off + i);
    dl = s->chaos && rnd(&ws) % 100 < 30 ? corio_now() + rr(&ws, 0, 5) : UINT64_MAX;
    atomic_store(&s->tx_attempted, off + len);
    if (opt_zero && rnd(&ws) % 8 == 0)
      corio_write(s->c, buf, 0);
    if (rnd(&ws) % 4 == 0 && len >= 4) {
      uv_buf_t b[4];
      uint64_t a = len / 4;
      for (unsigned k = 0; k < 4; k++)
        b[k] = uv_buf_init(buf + a * k, (unsigned)(k == 3 ? len - 3 * a : a));
      n = corio_writev_dl(s->c, b, 4, dl);
    } else {
      n = corio_write_dl(s->c, buf, len, dl);
    }
    if (n == (ssize_t)len) {
      off += len;
      continue;
    }
    if (n >= 0)
      FAIL("%s id=%u: short write %zd of %llu", s->who, s->id, n, (unsigned long long)len);
    else if (!s->chaos)
      FAIL("%s id=%u: write error %s at %llu", s->who, s->id, uv_err_name((int)n),
           (unsigned long long)off);
    ok = 0;
    break;
  }
  free(buf);
  if (ok && s->shut_after_write) {
    int e = corio_shutdown(s->c);
    if (e == UV_EBADF)
      atomic_fetch_add(&n_ebadf, 1);
    if (e != 0 && !s->chaos)
      FAIL("%s id=%u: shutdown %s", s->who, s->id, uv_err_name(e));
  }
  return NULL;
}

typedef struct chaos_args {
  side_t *s;
  uint64_t seed;
  corio_task_t *victims[2];
  _Atomic(int) stop;
} chaos_args_t;

static void *shutter_task(void *arg) {
  chaos_args_t *a = arg;
  uint64_t rs = a->seed;
  int e;

  corio_sleep(rr(&rs, 0, 15));
  e = corio_shutdown(a->s->c);
  if (e == UV_EBADF) {
    atomic_fetch_add(&n_ebadf, 1);
  }
  return NULL;
}

static void *canceller_task(void *arg) {
  chaos_args_t *a = arg;
  uint64_t rs = a->seed;

  for (int i = 0; i < 20 && !atomic_load(&a->s->rx_done) && !atomic_load(&a->stop); i++) {
    corio_sleep(rr(&rs, 0, 3));
    corio_task_t *v = a->victims[rnd(&rs) % 2];
    if (v != NULL)
      corio_cancel(v);
  }
  return NULL;
}

static int join_or_hang(corio_task_t *t, const char *what, side_t *s) {
  int e = corio_join_dl(t, NULL, corio_now() + 15000);
  if (e == UV_ETIMEDOUT) {
    FAIL("%s id=%u: %s did not finish in 15 s (hang) rx=%llu/%llu tx=%llu/%llu",
         s->who, s->id, what, (unsigned long long)atomic_load(&s->rx),
         (unsigned long long)s->rx_want, (unsigned long long)atomic_load(&s->tx_attempted),
         (unsigned long long)s->tx_want);
    atomic_fetch_add(&n_hang, 1);
    return e;
  }
  return e;
}

/* Both sides run the same program; the client owns its close, the server's
 * handler closes (or serve_end does). */
static void run_side(side_t *s, uint64_t seed, int is_client) {
  corio_rt_t *rt = corio_current_rt();
  uint64_t rs = seed ^ 0x1234567;
  corio_task_t *sh = NULL, *cn = NULL;
  chaos_args_t ca = {s, seed * 11 + 3, {NULL, NULL}, 0};
  int close_early = 0;

  if (is_client)
    hold(s->c);
  corio_spawn(rt, reader_task, s, &s->reader);
  corio_spawn(rt, writer_task, s, &s->writer);
  if (s->chaos) {
    uint64_t r = rnd(&rs) % 100;
    if (r < 30 && opt_shutrace)
      corio_spawn(rt, shutter_task, &ca, &sh);
    ca.victims[0] = s->reader;
    ca.victims[1] = rnd(&rs) % 2 ? s->writer : s->reader;
    if (rnd(&rs) % 100 < 40)
      corio_spawn(rt, canceller_task, &ca, &cn);
    close_early = rnd(&rs) % 100 < 60;
  } else {
    ca.victims[0] = ca.victims[1] = s->reader; /* readers only: stream stays exact */
    if (rnd(&rs) % 100 < 30)
      corio_spawn(rt, canceller_task, &ca, &cn);
  }
  if (close_early) {
    corio_sleep(rr(&rs, 0, 25));
    if (cn != NULL && rnd(&rs) % 2) {
      atomic_store(&ca.stop, 1);
      join_or_hang(cn, "canceller", s);
      cn = NULL;
    }
    if (rnd(&rs) % 2)
      corio_yield();
    atomic_store(&s->closed, 1);
    corio_close(s->c);
  }
  if (cn != NULL) { /* victims must not be joined (freed) while it may cancel them */
    corio_sleep(rr(&rs, 0, 20));
    atomic_store(&ca.stop, 1);
    join_or_hang(cn, "canceller", s);
    cn = NULL;
  }
  if (close_early) {
  } else if (!s->chaos || rnd(&rs) % 2) {
    join_or_hang(s->writer, "writer", s);
    s->writer = NULL;
  }
  if (s->reader != NULL) {
    if (!close_early && s->chaos) {
      /* the peer may never end its side: bound the wait, then close */
      if (corio_join_dl(s->reader, NULL, corio_now() + rr(&rs, 5, 60)) == 0)
        s->reader = NULL;
      atomic_store(&s->closed, 1);
      corio_close(s->c);
      close_early = 1;
    }
    if (s->reader != NULL)
      join_or_hang(s->reader, "reader", s);
  }
  if (s->writer != NULL)
    join_or_hang(s->writer, "writer", s);
  if (sh != NULL)
    join_or_hang(sh, "shutter", s);
  if (!close_early && is_client)
    corio_close(s->c);
  if (is_client)
    release(s->c);
}

static void handler(corio_tcp_t *c, void *arg) {
  hdr_t h;
  size_t got;
  ssize_t n;
  side_t s;

  (void)arg;
  n = corio_read_full(c, &h, sizeof h, &got);
  if (n != (ssize_t)sizeof h)
    return; /* a chaos client closed at once; fine */
  memset(&s, 0, sizeof s);
  s.c = c;
  s.id = h.id;
  s.chaos = (int)h.chaos;
  s.dir_rx = 0;
  s.dir_tx = 1;
  s.rx_want = h.up;
  s.tx_want = h.down;
  s.seed = h.seed * 2 + 1;
  s.shut_after_write = 1;
  s.who = "server";
  run_side(&s, h.seed * 13 + 5, 0);
  if (!s.chaos)
    atomic_fetch_add(&n_clean_ok, 1);
}

static corio_sem_t par_sem;
static corio_wg_t wg;

static void *client_task(void *arg) {
  uint64_t id = (uint64_t)(uintptr_t)arg;
  uint64_t rs = opt_seed * 1000003 + id * 7919 + 1;
  hdr_t h;
  side_t s;
  int e;

  rnd(&rs); rnd(&rs);
  memset(&h, 0, sizeof h);
  h.id = (uint32_t)id;
  h.chaos = rnd(&rs) % 100 < opt_chaos;
  h.up = rr(&rs, 0, opt_max);
  h.down = rr(&rs, 0, opt_max);
  if (rnd(&rs) % 8 == 0)
    h.down = rr(&rs, 200000, opt_max * 3); /* big: buffer-full / read_stop path */
  h.seed = rnd(&rs);
  e = corio_tcp_connect("127.0.0.1", port, &s.c);
  if (e != 0) {
    FAIL("connect %s", uv_err_name(e));
    goto out;
  }
  if ((e = (int)corio_write(s.c, &h, sizeof h)) != (int)sizeof h) {
    FAIL("hdr write %s", uv_err_name(e));
    corio_close(s.c);
    goto out;
  }
  {
    corio_tcp_t *c = s.c;
    memset(&s, 0, sizeof s);
    s.c = c;
  }
  s.id = h.id;
  s.chaos = (int)h.chaos;
  s.dir_rx = 1;
  s.dir_tx = 0;
  s.rx_want = h.down;
  s.tx_want = h.up;
  s.seed = h.seed * 2 + 2;
  s.shut_after_write = 1;
  s.who = "client";
  run_side(&s, h.seed * 17 + 9, 1);
  if (s.chaos)
    atomic_fetch_add(&n_chaos, 1);
out:
  corio_sem_release(&par_sem, 1);
  corio_wg_done(&wg);
  return NULL;
}

static void *serve_task(void *arg) {
  (void)arg;
  corio_tcp_serve(ln, handler, NULL);
  return NULL;
}

static void *driver(void *arg) {
  corio_rt_t *rt = corio_current_rt();
  corio_task_t *st;
  unsigned forever = arg != NULL;
  corio_tcp_listener_options_t lo = {0};

  lo.backlog = 1024;
  if (corio_tcp_listen("127.0.0.1", 0, &lo, &ln) != 0) {
    FAIL("listen");
    return NULL;
  }
  port = corio_tcp_listener_port(ln);
  corio_spawn(rt, serve_task, NULL, &st);
  corio_sem_init(&par_sem, opt_par);
  for (uint64_t i = 1; forever || i <= opt_conns; i++) {
    corio_sem_acquire(&par_sem);
    corio_wg_add(&wg, 1);
    corio_spawn(rt, client_task, (void *)(uintptr_t)i, NULL);
  }
  corio_wg_wait(&wg);
  corio_tcp_listener_close(ln);
  corio_join(st, NULL);
  return NULL;
}

int main(int argc, char **argv) {
  corio_rt_options_t o = {0};
  int ch;

  while ((ch = getopt(argc, argv, "w:ln:p:c:s:t:Szm:")) != -1) {
    switch (ch) {
    case 'w': opt_workers = (unsigned)atoi(optarg); break;
    case 'l': opt_loop_only = 1; break;
    case 'n': opt_conns = (unsigned)atoi(optarg); break;
    case 'p': opt_par = (unsigned)atoi(optarg); break;
    case 'c': opt_chaos = (unsigned)atoi(optarg); break;
    case 's': opt_seed = strtoull(optarg, NULL, 0); break;
    case 't': opt_teardown = (unsigned)atoi(optarg); break;
    case 'S': opt_shutrace = 1; break;
    case 'z': opt_zero = 1; break;
    case 'm': opt_max = strtoull(optarg, NULL, 0); break;
    default: return 2;
    }
  }
  o.workers = opt_workers;
  o.loop_only = (int)opt_loop_only;
  if (opt_teardown) {
    uint64_t rs = opt_seed * 31 + 1;
    for (unsigned r = 0; r < opt_teardown; r++) {
      corio_rt_t *rt;
      if (corio_rt_new(&o, &rt) != 0)
        return 3;
      memset(&wg, 0, sizeof wg);
      corio_spawn(rt, driver, (void *)1, NULL);
      usleep((useconds_t)rr(&rs, 1000, 150000));
      if (corio_rt_free(rt) != 0)
        FAIL("rt_free");
    }
  } else {
    if (corio_main(driver, NULL, &o, NULL) != 0)
      return 3;
  }
  printf("workers=%u loop_only=%u conns=%u teardown=%u seed=%llu: err=%ld hang=%ld clean_ok=%ld chaos=%ld "
         "bytes=%ld timeouts=%ld cancels=%ld shutdown_EBADF=%ld\n",
         opt_workers, opt_loop_only, opt_conns, opt_teardown, (unsigned long long)opt_seed,
         atomic_load(&n_err), atomic_load(&n_hang), atomic_load(&n_clean_ok),
         atomic_load(&n_chaos), atomic_load(&n_bytes), atomic_load(&n_timeouts),
         atomic_load(&n_cancels), atomic_load(&n_ebadf));
  return atomic_load(&n_err) != 0 ? 1 : 0;
}
