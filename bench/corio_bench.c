/* corio-bench <subcommand>: prints one `name value unit` line per figure.
 * docs/BENCHMARKS.md says what each measures and how it compares. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *what;
} subcommands[] = {
  {"switch", bench_switch, "two coroutines yield to each other: switch_ns"},
  {"spawn", bench_spawn, "1M tasks spawned+joined in batches of 1,000: spawn_join_per_s"},
  {"skynet", bench_skynet, "1M-leaf 10-ary tree of tasks: skynet_ms"},
  {"fanout", bench_fanout, "parallel fib(32), 1 vs 2 workers: fanout_speedup"},
  {"idle_rss", bench_idle_rss, "RSS per suspended task, 100,000 alive: idle_rss_kib"},
  {"hop", bench_hop, "worker -> loop -> worker round trip: hop_ns"},
  {"chan", bench_chan, "unbuffered ping-pong and buffered 1:1 throughput: chan_pingpong_ns, chan_buffered_per_s"},
  {"mutex", bench_mutex, "8 tasks lock/unlock one mutex: mutex_contended_per_s"},
  {"timer", bench_timer, "lateness of 10,000 concurrent 1 ms sleeps: timer_late_p50_us/p99_us"},
};

int main(int argc, char **argv) {
  size_t i, n = sizeof subcommands / sizeof subcommands[0];

  if (argc >= 2)
    for (i = 0; i < n; i++)
      if (strcmp(argv[1], subcommands[i].name) == 0)
        return subcommands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "usage: corio-bench <subcommand>\n");
  for (i = 0; i < n; i++)
    fprintf(stderr, "  %-10s %s\n", subcommands[i].name, subcommands[i].what);
  return 2;
}
