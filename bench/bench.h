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

/* --workers N, default 2 */
static inline unsigned opt_workers(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], "--workers") == 0)
      return (unsigned)atoi(argv[i + 1]);
  return 2;
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
