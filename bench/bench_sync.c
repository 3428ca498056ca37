/* Synchronisation benchmarks, the same jobs as bench/peers/go:
 *   chan   unbuffered ping-pong round trip between two tasks (ns) and the
 *          CPUs the process kept busy meanwhile (task-clock / elapsed), and
 *          1 producer / 1 consumer over a capacity-128 channel (items/s)
 *   mutex  8 tasks lock/unlock one mutex around a counter (locks/s)
 * Options: --workers N (default 2). */
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "corio.h"

typedef struct {
  corio_chan_t *ping, *pong;
  long rounds;
} pp_t;

static void *ponger(void *arg) {
  pp_t *p = arg;
  int v;

  for (long i = 0; i < p->rounds; i++) {
    corio_chan_recv(p->ping, &v);
    corio_chan_send(p->pong, &v);
  }
  return NULL;
}

static void *pinger(void *arg) {
  pp_t *p = arg;
  corio_task_t *t;
  int v = 1;

  corio_spawn(corio_current_rt(), ponger, p, &t);
  for (long i = 0; i < p->rounds; i++) {
    corio_chan_send(p->ping, &v);
    corio_chan_recv(p->pong, &v);
  }
  corio_join(t, NULL);
  return NULL;
}

typedef struct {
  corio_chan_t *ch;
  long items;
  long sum;
} pc_t;

static void *consumer(void *arg) {
  pc_t *p = arg;
  long v, sum = 0;

  while (corio_chan_recv(p->ch, &v) == 0)
    sum += v;
  p->sum = sum;
  return NULL;
}

static void *producer(void *arg) {
  pc_t *p = arg;
  corio_task_t *t;

  corio_spawn(corio_current_rt(), consumer, p, &t);
  for (long i = 0; i < p->items; i++)
    corio_chan_send(p->ch, &i);
  corio_chan_close(p->ch);
  corio_join(t, NULL);
  return NULL;
}

int bench_chan(int argc, char **argv) {
  corio_rt_options_t opts = bench_rt_options(argc, argv);
  double best_pp = 0, best_buf = 0, pp_cpus = 0;

  for (int rep = 0; rep < 3; rep++) {
    pp_t pp = {.rounds = 1000000};
    pc_t pc = {.items = 10000000};
    double t0, c0, ns, rate, cpus;

    corio_chan_new(sizeof(int), 0, &pp.ping);
    corio_chan_new(sizeof(int), 0, &pp.pong);
    t0 = bench_now_ns();
    c0 = bench_cpu_ns();
    corio_main(pinger, &pp, &opts, NULL);
    ns = bench_now_ns() - t0;
    cpus = (bench_cpu_ns() - c0) / ns;
    ns /= (double)pp.rounds;
    corio_chan_free(pp.ping);
    corio_chan_free(pp.pong);

    corio_chan_new(sizeof(long), 128, &pc.ch);
    t0 = bench_now_ns();
    corio_main(producer, &pc, &opts, NULL);
    rate = (double)pc.items / ((bench_now_ns() - t0) / 1e9);
    corio_chan_free(pc.ch);
    if (pc.sum != pc.items * (pc.items - 1) / 2) {
      fprintf(stderr, "chan: wrong sum\n");
      return 1;
    }
    if (rep == 0 || ns < best_pp) {
      best_pp = ns;
      pp_cpus = cpus;
    }
    if (rate > best_buf)
      best_buf = rate;
  }
  printf("chan_pingpong_ns %.0f ns\n", best_pp);
  printf("chan_pingpong_cpus %.2f CPUs\n", pp_cpus);
  printf("chan_buffered_per_s %.0f items/s\n", best_buf);
  return 0;
}


typedef struct {
  corio_mutex_t m;
  long counter, per_task;
} locked_t;

static void *locks_a_lot(void *arg) {
  locked_t *l = arg;

  for (long i = 0; i < l->per_task; i++) {
    corio_mutex_lock(&l->m);
    l->counter++;
    corio_mutex_unlock(&l->m);
  }
  return NULL;
}

static void *runs_lockers(void *arg) {
  corio_task_t *t[8];

  for (int i = 0; i < 8; i++)
    corio_spawn(corio_current_rt(), locks_a_lot, arg, &t[i]);
  for (int i = 0; i < 8; i++)
    corio_join(t[i], NULL);
  return NULL;
}

int bench_mutex(int argc, char **argv) {
  corio_rt_options_t opts = bench_rt_options(argc, argv);
  double best = 0;

  for (int rep = 0; rep < 3; rep++) {
    locked_t l = {.m = CORIO_MUTEX_INITIALIZER, .per_task = 1000000};
    double t0 = bench_now_ns(), rate;

    corio_main(runs_lockers, &l, &opts, NULL);
    rate = (double)(8 * l.per_task) / ((bench_now_ns() - t0) / 1e9);
    if (l.counter != 8 * l.per_task) {
      fprintf(stderr, "mutex: wrong count\n");
      return 1;
    }
    if (rate > best)
      best = rate;
  }
  printf("mutex_contended_per_s %.0f locks/s\n", best);
  return 0;
}
