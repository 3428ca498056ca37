/* Scheduler benchmarks, each the same job as the Go program of the same
 * name in bench/peers/go:
 *   spawn     1M empty tasks spawned and joined in batches of 1,000
 *   skynet    1M leaves of a 10-ary tree of tasks; parents sum children
 *   fanout    parallel fib(32), split into tasks down to depth 8; time on
 *             1 worker / time on 2 workers, interleaved in one run
 *   idle_rss  resident memory per suspended task, 100,000 alive
 * Options: --workers N (default 2). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "corio.h"
#include "sched/task.h"

/* --- spawn -------------------------------------------------------------- */

static void *empty(void *arg) {
  return arg;
}

static void *spawn_batches(void *arg) {
  enum { BATCH = 1000 };
  long total = *(long *)arg, done, i;
  corio_task_t *t[BATCH];

  for (done = 0; done < total; done += BATCH) {
    for (i = 0; i < BATCH; i++)
      if (corio_spawn(corio_current_rt(), empty, NULL, &t[i]) != 0)
        abort();
    for (i = 0; i < BATCH; i++)
      corio_join(t[i], NULL);
  }
  return NULL;
}

int bench_spawn(int argc, char **argv) {
  corio_rt_options_t opts = bench_rt_options(argc, argv);
  long total = 1000000;
  double best = 0;

  for (int rep = 0; rep < 3; rep++) {
    double t0 = bench_now_ns(), rate;
    if (corio_main(spawn_batches, &total, &opts, NULL) != 0)
      return 1;
    rate = (double)total / ((bench_now_ns() - t0) / 1e9);
    if (rate > best)
      best = rate;
  }
  printf("spawn_join_per_s %.0f tasks/s\n", best);
  return 0;
}


/* --- skynet ------------------------------------------------------------- */

typedef struct { uint64_t num, size; } sky_t;

static void *skynet(void *arg) {
  sky_t *s = arg, child[10];
  corio_task_t *t[10];
  uint64_t sum = 0;
  int i;

  if (s->size == 1)
    return (void *)(uintptr_t)s->num;
  for (i = 0; i < 10; i++) {
    child[i].num = s->num + (uint64_t)i * (s->size / 10);
    child[i].size = s->size / 10;
    if (corio_spawn(corio_current_rt(), skynet, &child[i], &t[i]) != 0)
      abort();
  }
  for (i = 0; i < 10; i++) {
    void *r;
    corio_join(t[i], &r);
    sum += (uintptr_t)r;
  }
  return (void *)(uintptr_t)sum;
}

int bench_skynet(int argc, char **argv) {
  corio_rt_options_t opts = bench_rt_options(argc, argv);
  sky_t root = {0, 1000000};
  double best = 0;

  for (int rep = 0; rep < 5; rep++) {
    double t0 = bench_now_ns(), ms;
    void *sum;
    if (corio_main(skynet, &root, &opts, &sum) != 0)
      return 1;
    ms = (bench_now_ns() - t0) / 1e6;
    if ((uintptr_t)sum != 499999500000u) {
      fprintf(stderr, "skynet: wrong sum %lu\n", (unsigned long)(uintptr_t)sum);
      return 1;
    }
    if (rep == 0 || ms < best)
      best = ms;
  }
  printf("skynet_ms %.1f ms\n", best);
  return 0;
}


/* --- fanout ------------------------------------------------------------- */

typedef struct { int n, depth; } fib_t;

static uint64_t fib_plain(int n) {
  return n < 2 ? (uint64_t)n : fib_plain(n - 1) + fib_plain(n - 2);
}

static void *fib_task(void *arg) {
  fib_t *f = arg, sub;
  corio_task_t *t;
  uint64_t a, b;
  void *r;

  if (f->depth == 0 || f->n < 2)
    return (void *)(uintptr_t)fib_plain(f->n);
  sub.n = f->n - 1;
  sub.depth = f->depth - 1;
  if (corio_spawn(corio_current_rt(), fib_task, &sub, &t) != 0)
    abort();
  {
    fib_t other = {f->n - 2, f->depth - 1};
    b = (uintptr_t)fib_task(&other);
  }
  corio_join(t, &r);
  a = (uintptr_t)r;
  return (void *)(uintptr_t)(a + b);
}

static double fib_run_ms(corio_rt_t *rt, int n, uint64_t expect) {
  fib_t root = {n, 8};
  corio_task_t *t;
  double t0 = bench_now_ns(), ms;
  void *r;

  corio_spawn(rt, fib_task, &root, &t);
  corio_join(t, &r);
  ms = (bench_now_ns() - t0) / 1e6;
  if ((uintptr_t)r != expect) {
    fprintf(stderr, "fanout: wrong fib %lu\n", (unsigned long)(uintptr_t)r);
    exit(1);
  }
  return ms;
}

/* t(1 worker) / t(2 workers) for fib(n), interleaved runs on two runtimes */
static void fanout_for(corio_rt_t *one, corio_rt_t *two, int n, const char *name) {
  uint64_t expect = fib_plain(n);
  double t1 = 0, t2 = 0;

  fib_run_ms(one, n, expect); /* warm up both */
  fib_run_ms(two, n, expect);
  for (int rep = 0; rep < 20; rep++) {
    t1 += fib_run_ms(one, n, expect);
    t2 += fib_run_ms(two, n, expect);
  }
  printf("%s %.2f x\n", name, t1 / t2);
  printf("%s_fib%d_ms %.2f %.2f ms (1 and 2 workers)\n", name, n, t1 / 20, t2 / 20);
}

int bench_fanout(int argc, char **argv) {
  corio_rt_t *one, *two;

  (void)argc;
  (void)argv;
  corio_rt_new(&(corio_rt_options_t){.workers = 1}, &one);
  corio_rt_new(&(corio_rt_options_t){.workers = 2}, &two);
  fanout_for(one, two, 32, "fanout_speedup");     /* Go's job: fib(32) */
  fanout_for(one, two, 36, "fanout_speedup_big"); /* ~7x the work */
  corio_rt_free(one);
  corio_rt_free(two);
  return 0;
}


/* --- idle_rss ------------------------------------------------------------ */

static long rss_kib(void) {
  char line[256];
  long kib = -1;
  FILE *f = fopen("/proc/self/status", "r");

  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, "VmRSS:", 6) == 0)
      kib = atol(line + 6);
  fclose(f);
  return kib;
}

static _Atomic(long) parked;

static int stay_parked(corio_task_t *self, void *arg) {
  (void)self;
  (void)arg;
  atomic_fetch_add(&parked, 1);
  return 0;
}

static void *parks(void *arg) {
  (void)arg;
  corio__park(stay_parked, NULL);
  return NULL;
}

int bench_idle_rss(int argc, char **argv) {
  /* Unguarded: 100,000 guarded stacks would need 200,000 mappings, over
   * Linux's default vm.max_map_count (see corio_rt_options_t). */
  corio_rt_options_t opts = bench_rt_options(argc, argv);
  const long n = 100000;
  long before, after, i;
  corio_rt_t *rt;

  opts.unguarded = 1;
  if (corio_rt_new(&opts, &rt) != 0)
    return 1;
  before = rss_kib();
  for (i = 0; i < n; i++)
    if (corio_spawn(rt, parks, NULL, NULL) != 0)
      return 1;
  while (atomic_load(&parked) < n)
    ;
  after = rss_kib();
  printf("idle_rss_kib %.2f KiB\n", (double)(after - before) / (double)n);
  corio_rt_free(rt);
  return 0;
}
