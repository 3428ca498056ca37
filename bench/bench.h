/* Shared by the corio-bench subcommands. */
#ifndef CORIO_BENCH_H
#define CORIO_BENCH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* CPU time of the whole process (every thread), ns: divided by the wall
 * time of a run, how many CPUs it kept busy. */
static inline double bench_cpu_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#include "corio/rt.h"

/* --workers N (default 2), --loop-only: every task on the loop thread */
static inline corio_rt_options_t bench_rt_options(int argc, char **argv) {
  corio_rt_options_t o = {.workers = 2};

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
      o.workers = (unsigned)atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--loop-only") == 0)
      o.loop_only = 1;
  }
  return o;
}

int bench_switch(int argc, char **argv);
int bench_spawn(int argc, char **argv);
int bench_skynet(int argc, char **argv);
int bench_fanout(int argc, char **argv);
int bench_idle_rss(int argc, char **argv);
int bench_hop(int argc, char **argv);
int bench_timer(int argc, char **argv);
int bench_chan(int argc, char **argv);
int bench_mutex(int argc, char **argv);

#endif
