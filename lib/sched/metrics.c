/* corio_rt_metrics: the counters each thread keeps of its own (worker.c,
 * on_loop.c, lib/loop), summed when asked. */
#include <stdatomic.h>
#include <string.h>
#include <uv.h>

#include "core/stack.h"
#include "corio/rt.h"
#include "sched.h"

#define GET(c) atomic_load_explicit(&(c), memory_order_relaxed)


int corio_rt_metrics(corio_rt_t *rt, corio_rt_metrics_t *m, corio_worker_metrics_t *workers,
                     unsigned n) {
  uint64_t now = uv_hrtime(), spawned = 0, idle;

  if (rt == NULL || m == NULL || (workers == NULL && n > 0))
    return UV_EINVAL;
  memset(m, 0, sizeof *m);
  m->workers = rt->nworkers;
  m->uptime_ns = now - rt->started_ns;
  m->live_tasks = corio__rt_live(rt);
  for (unsigned i = 0; i < rt->ntallies; i++)
    spawned += atomic_load_explicit(&rt->tallies[i]->spawned, memory_order_relaxed);
  m->tasks_spawned = spawned;
  m->loop_iterations = GET(rt->lp->n_iterations);
  m->loop_requests = GET(rt->lp->n_requests);
  m->loop_tasks_run = GET(rt->n_loop_run);
  m->loop_hops = GET(rt->n_hops);
  if (rt->lp->owned) {
    /* libuv counts the time its loop waited in poll (UV_METRICS_IDLE_TIME) */
    idle = uv_metrics_idle_time(rt->lp->loop);
    m->loop_busy_ns = m->uptime_ns > idle ? m->uptime_ns - idle : 0;
  }
  m->stacks_mapped = corio__stack_mapped_count();
  m->stacks_pooled = corio__stack_shared_count();
  for (unsigned i = 0; i < n && i < rt->nworkers; i++) {
    corio__worker_t *w = &rt->workers[i];
    corio_worker_metrics_t *o = &workers[i];
    uint64_t since = GET(w->asleep_since), asleep = GET(w->asleep_ns);
    int64_t depth = corio__deque_size_approx(&w->dq);

    o->tasks_run = GET(w->n_run);
    o->lifo_runs = GET(w->n_lifo);
    o->steals = GET(w->n_steals);
    o->tasks_stolen = GET(w->n_stolen);
    o->inject_pops = GET(w->n_inject);
    o->timers_fired = GET(w->n_fired);
    o->spins = GET(w->n_spins);
    o->parks = GET(w->n_parks);
    if (since != 0 && now > since)
      asleep += now - since; /* asleep now */
    o->busy_ns = m->uptime_ns > asleep ? m->uptime_ns - asleep : 0;
    o->queue_depth = depth > 0 ? (uint64_t)depth : 0;
  }
  for (unsigned i = rt->nworkers; i < n; i++)
    memset(&workers[i], 0, sizeof workers[i]);
  return 0;
}
