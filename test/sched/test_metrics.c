/* corio_rt_metrics: the counters move with the work done. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <unistd.h>

#include "corio.h"

enum { SLEEPERS = 500, ROUNDS = 2000 };

static void *naps(void *arg) {
  (void)arg;
  corio_sleep(1);
  return NULL;
}

static void *pong(void *arg) {
  corio_chan_t **ch = arg;
  int v;

  while (corio_chan_recv(ch[0], &v) == 0 && corio_chan_send(ch[1], &v) == 0) {
  }
  return NULL;
}

static void *work(void *arg) {
  corio_chan_t *ch[2];
  corio_task_t *t[SLEEPERS], *p;
  int v = 0;

  (void)arg;
  for (int i = 0; i < SLEEPERS; i++)
    cr_assert_eq(corio_spawn(corio_current_rt(), naps, NULL, &t[i]), 0);
  for (int i = 0; i < SLEEPERS; i++)
    corio_join(t[i], NULL);
  corio_chan_new(sizeof(int), 0, &ch[0]);
  corio_chan_new(sizeof(int), 0, &ch[1]);
  cr_assert_eq(corio_spawn(corio_current_rt(), pong, ch, &p), 0);
  for (int i = 0; i < ROUNDS; i++) {
    corio_chan_send(ch[0], &v);
    corio_chan_recv(ch[1], &v);
  }
  corio_chan_close(ch[0]);
  corio_join(p, NULL);
  corio_chan_free(ch[0]);
  corio_chan_free(ch[1]);
  return NULL;
}

static void metrics_run(corio_rt_options_t o) {
  corio_worker_metrics_t w[4], sum = {0};
  corio_rt_metrics_t m;
  corio_rt_t *rt;
  corio_task_t *t;

  cr_assert_eq(corio_rt_new(&o, &rt), 0);
  cr_assert_eq(corio_rt_metrics(rt, &m, w, 4), 0);
  cr_assert_eq(m.tasks_spawned, 0);
  cr_assert_eq(corio_spawn(rt, work, NULL, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  usleep(20000); /* the workers run out of work, and sleep */
  cr_assert_eq(corio_rt_metrics(rt, &m, w, 4), 0);
  cr_assert_eq(m.workers, o.loop_only ? 0u : o.workers);
  cr_assert_eq(m.tasks_spawned, 1 + SLEEPERS + 1);
  cr_assert_eq(m.live_tasks, 0);
  cr_assert_gt(m.uptime_ns, 20000000u);
  cr_assert_gt(m.stacks_mapped, 0);
  for (unsigned i = 0; i < m.workers; i++) {
    sum.tasks_run += w[i].tasks_run;
    sum.lifo_runs += w[i].lifo_runs;
    sum.timers_fired += w[i].timers_fired;
    sum.parks += w[i].parks;
    cr_assert_leq(w[i].busy_ns, m.uptime_ns, "worker %u", i);
    cr_assert_eq(w[i].queue_depth, 0);
  }
  sum.tasks_run += m.loop_tasks_run;
  /* every task ran at least once; the ping-pong resumed its pair each round */
  cr_assert_geq(sum.tasks_run, m.tasks_spawned + 2 * ROUNDS, "%llu", (unsigned long long)sum.tasks_run);
  if (m.workers > 0) {
    cr_assert_geq(sum.timers_fired, SLEEPERS, "every sleeper's deadline fired on a worker");
    cr_assert_gt(sum.lifo_runs, ROUNDS, "the ping-pong handed off through the LIFO slot");
    cr_assert_gt(sum.parks, 0, "idle workers sleep");
  } else {
    cr_assert_geq(m.loop_tasks_run, m.tasks_spawned);
    cr_assert_gt(m.loop_iterations, 0);
    cr_assert_gt(m.loop_busy_ns, 0);
    cr_assert_leq(m.loop_busy_ns, m.uptime_ns);
  }
  cr_assert_eq(corio_rt_metrics(NULL, &m, NULL, 0), UV_EINVAL);
  cr_assert_eq(corio_rt_metrics(rt, NULL, NULL, 0), UV_EINVAL);
  cr_assert_eq(corio_rt_metrics(rt, &m, NULL, 1), UV_EINVAL);
  cr_assert_eq(corio_rt_free(rt), 0);
}

Test(metrics, counters_move_with_the_work_on_workers, .timeout = 60) {
  metrics_run((corio_rt_options_t){.workers = 2});
}

Test(metrics, counters_move_with_the_work_loop_only, .timeout = 60) {
  metrics_run((corio_rt_options_t){.loop_only = 1});
}
