/* switch: two coroutines on one thread hand control to each other through
 * a driver loop. Each resume is one switch in and the yield one switch
 * out, so a round costs exactly two switches. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "arch/ctx.h"
#include "bench.h"
#include "corio.h"

/* The bare machine switch, without resume/yield around it: the floor. */
static corio__ctx_t raw_main, raw_co;

static void raw_entry(void *value) {
  (void)value;
  for (;;)
    corio__ctx_switch(&raw_co, &raw_main, NULL);
}

static double raw_switch_ns(long rounds) {
  static char stack[64 * 1024];
  double t0;
  long i;

  corio__ctx_make(&raw_co, stack, sizeof stack, raw_entry);
  t0 = bench_now_ns();
  for (i = 0; i < rounds; i++)
    corio__ctx_switch(&raw_main, &raw_co, NULL);
  return (bench_now_ns() - t0) / ((double)rounds * 2);
}

static void *yields_forever(void *arg) {
  (void)arg;
  for (;;)
    corio_coro_yield(NULL, NULL);
  return NULL;
}

int bench_switch(int argc, char **argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 10000000;
  corio_coro_t *a, *b;
  double best = 0;
  int rep;
  long i;

  if (corio_coro_new(yields_forever, NULL, NULL, &a) != 0 ||
      corio_coro_new(yields_forever, NULL, NULL, &b) != 0)
    return 1;
  /* Best of 5: the least disturbed run on a shared machine. */
  for (rep = 0; rep < 5; rep++) {
    double t0 = bench_now_ns(), ns;
    for (i = 0; i < rounds; i++) {
      corio_coro_resume(a, NULL, NULL);
      corio_coro_resume(b, NULL, NULL);
    }
    ns = (bench_now_ns() - t0) / ((double)rounds * 4);
    if (rep == 0 || ns < best)
      best = ns;
  }
  printf("switch_ns %.2f ns\n", best);
  best = raw_switch_ns(rounds);
  for (rep = 1; rep < 5; rep++) {
    double ns = raw_switch_ns(rounds);
    if (ns < best)
      best = ns;
  }
  printf("switch_raw_ns %.2f ns\n", best);
  corio_coro_free(a);
  corio_coro_free(b);
  return 0;
}
