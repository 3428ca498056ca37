/* Loop benchmarks:
 *   hop    a task on a worker asks the loop thread for a no-op through
 *          corio_await and is resumed: ns per round trip
 *   timer  10,000 tasks each sleep 1 ms at once: how late they wake,
 *          p50 and p99 in microseconds
 * Options: --workers N (default 2). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "corio.h"
#include "sched/task.h"

/* --- hop ----------------------------------------------------------------- */

static int start_noop(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  (void)loop;
  (void)arg;
  corio_await_done(aw, 0); /* done at once, on the loop thread */
  return 0;
}

static void *hops(void *arg) {
  long n = *(long *)arg;

  for (long i = 0; i < n; i++)
    corio_await(corio_current_rt(), start_noop, NULL, NULL);
  return NULL;
}

int bench_hop(int argc, char **argv) {
  corio_rt_options_t opts = bench_rt_options(argc, argv);
  long n = 200000;
  double best = 0;

  for (int rep = 0; rep < 3; rep++) {
    double t0 = bench_now_ns(), ns;
    if (corio_main(hops, &n, &opts, NULL) != 0)
      return 1;
    ns = (bench_now_ns() - t0) / (double)n;
    if (rep == 0 || ns < best)
      best = ns;
  }
  printf("hop_ns %.0f ns\n", best);
  return 0;
}


/* --- timer ---------------------------------------------------------------
 * All 10,000 tasks are created first and wait at a gate, so that what is
 * measured is the timer path, not the cost of creating 10,000 stacks
 * while the first sleepers are due. The gate opens; every task then
 * sleeps 1 ms and notes how late it woke. */

#ifndef SLEEPERS
#define SLEEPERS 10000
#endif
static double lateness_us[SLEEPERS];
static _Atomic(corio_task_t *) gate_waiters;
static _Atomic(long) at_gate;

static int gate_park(corio_task_t *self, void *arg) {
  corio_task_t *head = atomic_load(&gate_waiters);

  (void)arg;
  do
    self->next = head; /* the task's queue link is free while it waits */
  while (!atomic_compare_exchange_weak(&gate_waiters, &head, self));
  atomic_fetch_add(&at_gate, 1);
  return 0;
}

static void *sleeps_1ms(void *arg) {
  uintptr_t i = (uintptr_t)arg;
  uint64_t t0;

  corio__park(gate_park, NULL);
  t0 = uv_hrtime();
  corio_sleep(1);
  lateness_us[i] = ((double)(uv_hrtime() - t0) - 1e6) / 1e3;
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The gate opens from a task, as the Go peer's close(gate) runs on a P:
 * readying 10,000 tasks from the main thread instead would add a third
 * busy thread on this 2-core machine while the first sleepers are due. */
static void *open_gate_after_spawning(void *arg) {
  corio_task_t *t, *next;

  (void)arg;
  for (uintptr_t i = 0; i < SLEEPERS; i++)
    if (corio_spawn(corio_current_rt(), sleeps_1ms, (void *)i, NULL) != 0)
      abort();
  while (atomic_load(&at_gate) < SLEEPERS)
    corio_sleep(1);
  for (t = atomic_exchange(&gate_waiters, NULL); t != NULL; t = next) {
    next = t->next;
    corio__ready(t);
  }
  return NULL;
}

int bench_timer(int argc, char **argv) {
  corio_rt_options_t opts = bench_rt_options(argc, argv);

  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--unguarded") == 0)
      opts.unguarded = 1;
  /* corio_main returns once every task has finished */
  if (corio_main(open_gate_after_spawning, NULL, &opts, NULL) != 0)
    return 1;
  qsort(lateness_us, SLEEPERS, sizeof lateness_us[0], cmp_double);
  printf("timer_late_p50_us %.0f us\n", lateness_us[SLEEPERS / 2]);
  printf("timer_late_p99_us %.0f us\n", lateness_us[SLEEPERS * 99 / 100]);
  return 0;
}
