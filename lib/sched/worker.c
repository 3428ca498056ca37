/* The worker loop and the idle protocol.
 *
 * Where a worker looks for its next task, in order (each choice from Go's
 * runtime/proc.go findRunnable and Tokio's multi-thread worker):
 *  0. before each pick: its deadlines that are due (timers, 3b), and the
 *     requests posted to its own loop's inbox;
 *  1. every 61st task, the injection queue first, so tasks readied from
 *     outside are never starved by a busy local queue (Go: "check the
 *     global runnable queue once in a while to ensure fairness", 61); at
 *     the same tick one poll of its loop's sockets, and a bound task that
 *     yielded;
 *  2. the LIFO slot: the task readied most recently on this worker, which
 *     is hot in cache and usually what a message-passing pair wants next
 *     (Go's runnext, Tokio's lifo_slot). A task readied into it inherits
 *     the running time slice, as in Go: LIFO tasks run in a row for up to
 *     LIFO_BUDGET_NS, after which the slot's task goes to the back of the
 *     injection queue, so two tasks readying each other cannot monopolise
 *     the worker, yet a message-passing pair stays on one worker, hot in
 *     its cache. (Tokio's count of 3 in a row pushed such a pair to the
 *     other worker every fourth hand-off: measured here it then kept both
 *     workers busy, 1.9 CPUs for a sequential ping-pong.) Readying into
 *     an empty slot wakes nobody: the task runs next here (Tokio notifies
 *     only when the slot's previous task is pushed out to the deque,
 *     where others may steal it).
 *     Thieves may also take the slot itself, if its owner ran no other
 *     task during their whole search (Go steals runnext, after a pause,
 *     from a P that keeps running);
 *  2b. its bound tasks (tasks of connections served on its own loop,
 *     which run nowhere else: docs/DESIGN.md 8), in FIFO order;
 *  3. its own deque (LIFO end); 4. the injection queue; 4b. bound tasks
 *     that yielded (behind the rest, as a yield should be); 4c. one poll
 *     of its loop's sockets, then 1-4 again;
 *  5. search: steal from the others, starting at a random victim, about
 *     half of the victim's queue (Go's runqsteal, Tokio's steal_into);
 *     at most half of the workers search at once (Tokio);
 *  6. a spin of up to SPIN_NS re-checking, still counted as searching so
 *     that producers do not wake anyone meanwhile, then park on a futex;
 *     a worker whose loop has I/O instead polls it for up to SPIN_NS,
 *     then sleeps in its poll (sleep_in_loop).
 *
 * Waking (Tokio's idle protocol): new work wakes a parked worker only when
 * no worker is searching; a woken worker starts as a searcher; the last
 * searcher to find work wakes one more; parking re-checks every queue
 * after announcing itself idle. Every worker transition is a
 * read-modify-write of one word, rt->idle_state; a notifier publishes its
 * work, issues a seq_cst fence and reads that word. That is what makes the
 * re-check sound: either the notifier sees the parker's announcement and
 * wakes it, or the parker's re-check sees the notifier's work. Work for
 * one worker only (a bound task readied elsewhere, posted to its loop's
 * inbox) wakes that worker through corio__worker_kick, a handshake of the
 * same shape on its `asleep` flag; it gets up not counted as a searcher.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "core/overflow.h"
#include "core/thread.h"
#include "sched.h"
#include "wait.h"

#define FAIRNESS_TICKS 61
/* How long LIFO tasks may run in a row (Go lets runnext inherit a time
 * slice of 10 ms; this is shorter, as corio cannot preempt), and every how
 * many LIFO picks the clock is read to check it. */
#define LIFO_BUDGET_NS 1000000u
#define LIFO_CLOCK_EVERY 16u
/* How long another worker's LIFO slot is left alone (see lifo_stale), and
 * how long a parked worker sleeps before it looks at such a slot again. */
#define LIFO_GRACE_NS 10000u
#define LIFO_WATCH_NS 1000000u
/* How long a joiner sent home may wait there while home picks nothing
 * before the worker that sent it takes it back (sent_home_due). Checked
 * between that worker's own tasks: a joiner waits at most one of them. */
#define SENT_HOME_GRACE_NS 100000u
/* At most this many tasks more per steal: half of a full local queue in
 * Go (runqsteal) and Tokio (steal_into), 128. A smaller cap makes a
 * thief come back more often, each time a search to begin and end and a
 * victim's lines to pull over: spawn_join on 2 workers ran 8% slower
 * with 32, 5% with 64 (10 alternated runs). */
#define STEAL_BATCH_MAX 128
#define SEARCH_ROUNDS 2
/* How long an idle worker polls before it sleeps. A futex wake-up costs
 * the waker a system call and the sleeper tens of microseconds on a busy
 * VM; workloads that hand work back and forth every few microseconds
 * (fork/join, message passing) keep their workers awake this way. */
#define SPIN_NS 50000u
/* CPU pause instructions between two looks at the queues while spinning. */
#define SPIN_PAUSES 32

static _Thread_local corio__worker_t *tls_worker;

_Atomic(int) corio__test_unfenced_blind;


__attribute__((noinline)) corio__worker_t *corio__worker_current(void) {
  return tls_worker;
}


static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}


static uint32_t idle_rmw(corio_rt_t *rt, uint32_t add) {
  /* acq_rel: every idle-protocol step is an RMW of this one word; release
   * publishes the caller's queue push or idle announcement, acquire makes
   * the other side's visible (see the top of this file). */
  return atomic_fetch_add_explicit(&rt->idle_state, add, memory_order_acq_rel);
}


/* Push onto this worker's deque; if that fails (no memory to grow), the
 * injection queue takes it: a task is never dropped. */
static void push_local(corio__worker_t *w, corio_task_t *t) {
  if (corio__deque_push(&w->dq, w->ebr, t) != 0)
    corio__inject_push(&w->rt->inject, t);
}


/* w was taken off the idle list: wake it where it sleeps. */
static void wake_worker(corio__worker_t *w, uint32_t why, int in_loop) {
  /* release: the woken worker's acquire load of wake sees our state */
  atomic_store_explicit(&w->wake, why, memory_order_release);
  if (in_loop)
    corio__loop_wake(w->lp);
  else
    corio__futex_wake(&w->wake, 1);
}


void corio__notify(corio_rt_t *rt) {
  corio__worker_t *w;
  uint32_t s;
  int in_loop = 0;

  /* Our push, then a seq_cst fence, then the load: against a parker's
   * seq_cst RMW on idle_state followed by its re-check of the queues, one
   * of the two sees the other (the store-buffering pattern; Tokio's
   * notify_parked does the same). A load leaves the line shared, where an
   * RMW would pull it over from whichever worker touched it last. Under
   * TSan, which does not model fences, an RMW does the job. (An
   * asymmetric barrier, a membarrier on each park and no fence here, made
   * spawns 6% faster and the timer p99 40% worse: every park interrupts
   * every other CPU running a worker, docs/DESIGN.md 4c.) */
#if CORIO__TSAN
  s = idle_rmw(rt, 0);
#else
  atomic_thread_fence(memory_order_seq_cst);
  s = atomic_load_explicit(&rt->idle_state, memory_order_seq_cst);
#endif
  if (CORIO__SEARCH_COUNT(s) != 0 || CORIO__IDLE_COUNT(s) == 0)
    return;
  pthread_mutex_lock(&rt->idle_mu);
  /* Re-check under the lock: another notifier may have woken a searcher. */
  s = atomic_load_explicit(&rt->idle_state, memory_order_acquire);
  w = NULL;
  if (CORIO__SEARCH_COUNT(s) == 0 && rt->idle_head != NULL) {
    w = rt->idle_head;
    rt->idle_head = w->idle_next;
    w->in_idle = 0;
    in_loop = w->sleep_in_loop;
    /* It wakes as a searcher: counted now so nobody wakes another. */
    idle_rmw(rt, CORIO__SEARCH_ONE - CORIO__IDLE_ONE);
  }
  pthread_mutex_unlock(&rt->idle_mu);
  if (w != NULL)
    wake_worker(w, CORIO__WOKEN_SEARCH, in_loop);
}


/* Take w off the idle list, under rt->idle_mu. Returns 0 if it was not
 * on it (a notifier took it off first: its wake is on the way). */
static int idle_remove_locked(corio_rt_t *rt, corio__worker_t *w) {
  corio__worker_t **link = &rt->idle_head;

  if (!w->in_idle)
    return 0;
  while (*link != w)
    link = &(*link)->idle_next;
  *link = w->idle_next;
  w->in_idle = 0;
  return 1;
}


/* A request for w sits in its loop's inbox (corio__loop_post pushed it,
 * a seq_cst RMW, before calling this). w is awake and will see it (it
 * drains the inbox between tasks), or it announced itself idle: its
 * seq_cst store of `asleep` comes before its re-check of the inbox, so
 * if we read 0 here, that re-check sees our request. A worker woken so
 * is not a searcher: the work is its own, nobody else could take it. */
void corio__worker_kick(void *arg) {
  corio__worker_t *w = arg;
  corio_rt_t *rt = w->rt;
  int woken, in_loop;

#if CORIO__TSAN
  if (atomic_fetch_add(&w->asleep, 0) == 0)
    return;
#else
  if (atomic_load(&w->asleep) == 0)
    return;
#endif
  pthread_mutex_lock(&rt->idle_mu);
  in_loop = w->sleep_in_loop;
  if ((woken = idle_remove_locked(rt, w)))
    idle_rmw(rt, (uint32_t)-CORIO__IDLE_ONE);
  pthread_mutex_unlock(&rt->idle_mu);
  if (woken)
    wake_worker(w, CORIO__WOKEN_BOUND, in_loop);
}


/* Off the workers: a pinned task goes to the loop; a task readied on the
 * loop thread waits for the end of the loop iteration, where the batch
 * goes to the injection queue with one wake-up; anything else goes to the
 * injection queue now. Returns 0 if it handled t. */
static int place_off_worker(corio_rt_t *rt, corio_task_t *t, int spawned) {
  if (t->pinned) {
    corio__on_loop_ready(rt, t, spawned);
    return 0;
  }
  if (corio__loop_rt() == rt) {
    corio__on_loop_batch(rt, t);
    return 0;
  }
  return 1;
}


/* An owner-only FIFO of tasks (bound ones). */
static void fifo_push(corio_task_t **head, corio_task_t **tail, corio_task_t *t) {
  t->next = NULL;
  if (*tail != NULL)
    (*tail)->next = t;
  else
    *head = t;
  *tail = t;
}


static corio_task_t *fifo_pop(corio_task_t **head, corio_task_t **tail) {
  corio_task_t *t = *head;

  if (t != NULL && (*head = t->next) == NULL)
    *tail = NULL;
  return t;
}


/* A bound task to its worker's FIFO. Owner only. */
static void bound_push(corio__worker_t *w, corio_task_t *t) {
  fifo_push(&w->bound_head, &w->bound_tail, t);
}


static corio_task_t *bound_pop(corio__worker_t *w) {
  return fifo_pop(&w->bound_head, &w->bound_tail);
}


static void bound_req_run(corio__req_t *req) {
  corio_task_t *t = corio__container_of(req, corio_task_t, loop_req);

  bound_push(t->bound, t);
}


/* A bound task became runnable: on its worker, into the FIFO (the worker
 * is awake: it is running this, or its loop's callbacks); elsewhere,
 * through its loop's inbox, whose kick wakes the worker. */
static void ready_bound(corio_task_t *t) {
  corio__worker_t *w = t->bound;

  if (corio__worker_current() == w) {
    bound_push(w, t);
    return;
  }
  t->loop_req.run = bound_req_run;
  corio__loop_post(w->lp, &t->loop_req);
}


/* Work appeared on w's own queues: wake a parked worker if none is
 * searching. With one worker there is no one else to wake. Inside a task
 * run only the first notify pays corio__notify's fence, and it publishes
 * `pushing` with it: a worker that parks after that fence sees the flag
 * and sleeps no longer than LIFO_WATCH_NS (park_timeout). Later pushes in
 * the same run read idle_state without a fence, which catches every
 * parker whose announcement is visible by then; the one that announced
 * at the same instant re-checks within LIFO_WATCH_NS, or at the end of
 * the run (end_run_pushes), whichever comes first. A task spawning
 * 1,000 children pays one fence instead of 1,000 (the fence waits for the
 * spawner's stores to the new records, often lines another CPU holds:
 * an eighth of a spawn on 2 workers). */
static void notify_from_worker(corio__worker_t *w) {
  corio_rt_t *rt = w->rt;
  uint32_t s;

  if (rt->nworkers <= 1)
    return;
  if (w->current == NULL) { /* between tasks: no run to end */
    corio__notify(rt);
    return;
  }
  /* relaxed: only this worker writes it */
  if (!atomic_load_explicit(&w->pushing, memory_order_relaxed)) {
    /* relaxed: ordered before the reads of parkers by the fence in
     * corio__notify (store, fence, load against their RMW, load) */
    atomic_store_explicit(&w->pushing, 1, memory_order_relaxed);
    corio__notify(rt);
    return;
  }
  w->run_unfenced = 1;
  if (atomic_load_explicit(&corio__test_unfenced_blind, memory_order_relaxed))
    return;
  /* relaxed: see above; a stale reading is what the watch covers */
  s = atomic_load_explicit(&rt->idle_state, memory_order_relaxed);
  if (CORIO__SEARCH_COUNT(s) == 0 && CORIO__IDLE_COUNT(s) != 0)
    corio__notify(rt);
}


/* A task run that queued work ended: the watch is off, and if some of it
 * went out without a fence and is still queued, the fenced check now
 * (clearing `pushing` before the fence: a parker that misses our work
 * sees the flag, or we see it). */
static void end_run_pushes(corio__worker_t *w) {
  atomic_store_explicit(&w->pushing, 0, memory_order_relaxed);
  if (!w->run_unfenced)
    return;
  w->run_unfenced = 0;
  if (corio__deque_size_approx(&w->dq) > 0 || corio__inject_len(&w->rt->inject) != 0)
    corio__notify(w->rt);
}


void corio__schedule(corio_rt_t *rt, corio_task_t *t) {
  corio__worker_t *w;

  if (t->bound != NULL) {
    ready_bound(t);
    return;
  }
  if (t->pinned || corio__loop_current() != NULL) {
    if (place_off_worker(rt, t, 1) == 0)
      return;
  }
  w = corio__worker_current();
  if (w != NULL && w->rt == rt) {
    push_local(w, t);
    notify_from_worker(w);
    return;
  }
  corio__inject_push(&rt->inject, t);
  corio__notify(rt);
}


void corio__ready_home(corio_task_t *t) {
  corio__worker_t *w = corio__worker_current(), *home = t->ran_on;
  corio_task_t *none = NULL, *back;

  if (home == NULL || home == w || w == NULL || w->rt != t->rt || t->bound != NULL ||
      t->pinned || w->firing ||
      atomic_load_explicit(&home->asleep, memory_order_relaxed) ||
      !atomic_compare_exchange_strong(&home->lifo, &none, t)) {
    corio__ready(t);
    return;
  }
  /* seq_cst, after the CAS: against home's announcement of idle (its
   * seq_cst store of asleep, then its re-check of the slot in own_work,
   * a seq_cst load), one of the two sees the other. If it sleeps, take
   * the task back. Awake, home may still be deep in a long task: we
   * watch for that (sent_home_due). */
  if (atomic_load(&home->asleep) == 0) {
    w->sent_home = home;
    w->sent_tick = atomic_load_explicit(&home->tick, memory_order_relaxed);
    w->sent_at = uv_hrtime();
    return;
  }
  if ((back = atomic_exchange(&home->lifo, NULL)) != NULL)
    corio__ready(back);
}


void corio__ready(corio_task_t *t) {
  corio_rt_t *rt = t->rt;
  corio__worker_t *w;
  corio_task_t *prev;

  if (t->bound != NULL) {
    ready_bound(t);
    return;
  }
  if (t->pinned || corio__loop_current() != NULL) {
    if (place_off_worker(rt, t, 0) == 0)
      return;
  }
  w = corio__worker_current();
  if (w == NULL || w->rt != rt) {
    corio__inject_push(&rt->inject, t);
    corio__notify(rt);
    return;
  }
  if (w->firing) { /* run_timers pushes them */
    t->next = w->fired;
    w->fired = t;
    return;
  }
  /* The newest goes to the LIFO slot, to run next here. Whatever it
   * displaces goes to the deque, where another worker may take it: wake
   * one for that. With nothing displaced, wake one only if the readier
   * itself did not come from the slot: it may run long, and an idle
   * worker can take the slot once stale (lifo_stale). A chain of tasks
   * readying each other through the slot (message passing) wakes nobody:
   * waking would keep a second CPU busy for nothing. acq_rel: thieves
   * exchange the slot too. */
  prev = atomic_exchange_explicit(&w->lifo, t, memory_order_acq_rel);
  if (prev != NULL)
    push_local(w, prev);
  if (prev != NULL || w->lifo_streak == 0)
    notify_from_worker(w);
}


int corio__park(corio__park_fn fn, void *arg) {
  corio_task_t *t = corio_self();

  /* From a coroutine nested inside a task, a yield would go back to the
   * task, not to the scheduler. */
  if (t == NULL || corio_coro_current() != t->co)
    return UV_EINVAL;
  t->park_fn = fn;
  t->park_arg = arg;
  t->why = CORIO__WHY_PARK;
  return corio_coro_yield(NULL, NULL);
}


/* Take from the injection queue a fair share, not just one: its length
 * divided by the workers, plus one, at most INJECT_BATCH_MAX (Go's
 * globrunqget). The first runs now; the rest go to our deque, where
 * others may steal them. One lock instead of one per task. */
#define INJECT_BATCH_MAX 32

static corio_task_t *inject_take(corio__worker_t *w) {
  corio_rt_t *rt = w->rt;
  size_t want = corio__inject_len(&rt->inject) / rt->nworkers + 1, n;
  corio_task_t *first, *t, *next;

  if (want > INJECT_BATCH_MAX)
    want = INJECT_BATCH_MAX;
  first = corio__inject_pop_many(&rt->inject, want, &n);
  if (first == NULL)
    return NULL;
  CORIO__COUNT(w->n_inject, n);
  for (t = first->next; t != NULL; t = next) {
    next = t->next;
    push_local(w, t);
  }
  return first;
}


/* One more LIFO task in a row: still within the time slice it inherits?
 * The clock is read every LIFO_CLOCK_EVERY picks only, so short chains
 * never read it; the budget counts from the first reading. */
static int lifo_in_budget(corio__worker_t *w) {
  unsigned n = ++w->lifo_streak;
  uint64_t now;

  if (n % LIFO_CLOCK_EVERY != 0)
    return 1;
  now = uv_hrtime();
  if (n == LIFO_CLOCK_EVERY) {
    w->lifo_since = now;
    return 1;
  }
  return now - w->lifo_since < LIFO_BUDGET_NS;
}


/* Fire the deadlines of this worker's heap that are due (docs/DESIGN.md
 * 3b): their tasks are readied here. Read the clock only while the heap
 * holds something (Go checks its per-P timers in schedule() so). */
static void run_timers(corio__worker_t *w) {
  uint64_t next = corio__timer_heap_next(&w->timers), now;
  corio_task_t *t, *first = NULL;

  if (next == 0)
    return;
  now = uv_hrtime();
  w->clock_seen = now;
  if (next > now)
    return;
  /* The heap fires in deadline order; corio__ready collects the tasks on
   * w->fired, latest first (see there). They join the due FIFO, which
   * runs before the deque: the earliest due runs first, also across
   * firings. (Through the LIFO slot or the deque's newest end, each
   * firing's tasks ran before those of the firings before it: the first
   * due waited longest.) */
  w->fired = NULL;
  w->firing = 1;
  corio__timer_heap_run(&w->timers, now);
  w->firing = 0;
  while ((t = w->fired) != NULL) { /* reverse: earliest first */
    CORIO__COUNT(w->n_fired, 1);
    w->fired = t->next;
    t->next = first;
    first = t;
  }
  if (first == NULL)
    return;
  if (w->due_tail != NULL)
    w->due_tail->next = first;
  else
    w->due_head = first;
  for (t = first; t->next != NULL; t = t->next) {
  }
  w->due_tail = t;
}


/* A joiner we sent home (corio__ready_home) still waits in its slot, and
 * home has picked nothing since, for SENT_HOME_GRACE_NS: home is stuck in
 * a long task. Take the joiner back to run it here (as a thief would take
 * a stale slot; a busy worker does not search, so it looks here). */
static corio_task_t *sent_home_due(corio__worker_t *w) {
  corio__worker_t *home = w->sent_home;

  if (atomic_load_explicit(&home->tick, memory_order_relaxed) != w->sent_tick ||
      atomic_load_explicit(&home->lifo, memory_order_relaxed) == NULL) {
    w->sent_home = NULL; /* it went on: it took the slot first */
    return NULL;
  }
  if (uv_hrtime() - w->sent_at < SENT_HOME_GRACE_NS)
    return NULL;
  w->sent_home = NULL;
  return atomic_exchange_explicit(&home->lifo, NULL, memory_order_acq_rel);
}


static corio_task_t *find_local(corio__worker_t *w) {
  corio_rt_t *rt = w->rt;
  corio_task_t *t;

  if (w->sent_home != NULL && (t = sent_home_due(w)) != NULL)
    return t;
  run_timers(w);
  corio__loop_drain(w->lp); /* requests posted from elsewhere */

  /* relaxed: a counter only this worker writes, read by thieves as a hint */
  unsigned tick = atomic_load_explicit(&w->tick, memory_order_relaxed) + 1;

  atomic_store_explicit(&w->tick, tick, memory_order_relaxed);
  if (tick % FAIRNESS_TICKS == 0) {
    corio__wait_clock_tick();
    /* Sockets are not starved by a busy queue either (Go polls the
     * network from its scheduler so). */
    if (corio__loop_has_io(w->lp))
      corio__loop_drive(w->lp, 0, 0);
    t = corio__inject_pop(&rt->inject);
    if (t != NULL) {
      CORIO__COUNT(w->n_inject, 1);
      return t;
    }
    if ((t = fifo_pop(&w->yielded_head, &w->yielded_tail)) != NULL)
      return t;
  }
  /* relaxed peek, acq_rel take: thieves may race us for it */
  if (atomic_load_explicit(&w->lifo, memory_order_relaxed) != NULL) {
    t = atomic_exchange_explicit(&w->lifo, NULL, memory_order_acq_rel);
    if (t != NULL && lifo_in_budget(w)) {
      CORIO__COUNT(w->n_lifo, 1);
      return t;
    }
    if (t != NULL) {
      /* To the back of the shared queue: the deque would hand it straight
       * back (its owner's end is LIFO) and starve what lies below. */
      corio__inject_push(&rt->inject, t);
      corio__notify(rt);
    }
  }
  w->lifo_streak = 0;
  if ((t = fifo_pop(&w->due_head, &w->due_tail)) != NULL)
    return t;
  if ((t = bound_pop(w)) != NULL)
    return t;
  t = corio__deque_pop(&w->dq);
  if (t != NULL)
    return t;
  if ((t = inject_take(w)) != NULL)
    return t;
  return fifo_pop(&w->yielded_head, &w->yielded_tail);
}


/* Nothing queued here: see whether this worker's sockets have something
 * (one poll that does not wait), then look again. */
static corio_task_t *find_local_io(corio__worker_t *w) {
  if (!corio__loop_has_io(w->lp))
    return NULL;
  corio__loop_drive(w->lp, 0, 0);
  return find_local(w);
}


static uint64_t next_random(corio__worker_t *w) {
  /* xorshift64: victim choice only needs to be cheap and spread out */
  w->rng ^= w->rng << 13;
  w->rng ^= w->rng >> 7;
  w->rng ^= w->rng << 17;
  return w->rng;
}


/* Take one task from victim v to run, and up to half of the rest of its
 * queue into our own deque. */
static corio_task_t *steal_from(corio__worker_t *w, corio__worker_t *v) {
  corio_task_t *first = NULL, *t;
  int64_t more;
  int lost;

  do {
    lost = 0;
    first = corio__deque_steal(&v->dq, w->ebr, &lost);
  } while (first == NULL && lost);
  if (first == NULL)
    return NULL;
  corio__task_prefetch(first);
  more = corio__deque_size_approx(&v->dq) / 2;
  if (more > STEAL_BATCH_MAX)
    more = STEAL_BATCH_MAX;
  CORIO__COUNT(w->n_steals, 1);
  CORIO__COUNT(w->n_stolen, 1);
  /* One pin for the batch: each steal's own pin is then a nested one, a
   * count, instead of a store and a fence. */
  corio__ebr_pin(w->ebr);
  while (more-- > 0) {
    t = corio__deque_steal(&v->dq, w->ebr, NULL);
    if (t == NULL)
      break;
    CORIO__COUNT(w->n_stolen, 1);
    /* its record's run and join lines, written by the spawner: take them
     * over now, all at once, rather than one miss and one upgrade at a
     * time as each runs */
    corio__task_prefetch(t);
    push_local(w, t);
  }
  corio__ebr_unpin(w->ebr);
  return first;
}


static int begin_search(corio__worker_t *w) {
  corio_rt_t *rt = w->rt;
  uint32_t s;

  if (w->searching)
    return 1;
  s = atomic_load_explicit(&rt->idle_state, memory_order_relaxed);
  /* relaxed: a heuristic cap; the RMW below is what counts */
  if (2 * CORIO__SEARCH_COUNT(s) >= rt->nworkers)
    return 0;
  idle_rmw(rt, CORIO__SEARCH_ONE);
  w->searching = 1;
  return 1;
}


/* A searcher found work (or gives up to park, which counts it down
 * separately). The last one to find work wakes another, so that work
 * still waiting finds a searcher. */
static void end_search_found(corio__worker_t *w) {
  uint32_t prev;

  if (!w->searching)
    return;
  w->searching = 0;
  prev = idle_rmw(w->rt, (uint32_t)-CORIO__SEARCH_ONE);
  if (CORIO__SEARCH_COUNT(prev) == 1)
    corio__notify(w->rt);
}


/* Another worker's LIFO slot is its owner's, to run next: a thief takes
 * it only from a worker that has picked no task for LIFO_GRACE_NS, i.e.
 * is stuck in one long task (Go waits ~3 us before it steals runnext from
 * a running P). One that keeps handing messages back and forth keeps its
 * slot, and its cache. Each thief remembers, per victim, the victim's
 * tick and since when it has seen that tick. Thief only. */
static int lifo_stale(corio__worker_t *w, corio__worker_t *v, uint64_t now) {
  corio__lifo_watch_t *seen = &w->watch[v->index];
  /* relaxed: hints; the exchange that takes the slot is what counts */
  unsigned tick = atomic_load_explicit(&v->tick, memory_order_relaxed);

  if (atomic_load_explicit(&v->lifo, memory_order_relaxed) == NULL)
    return 0;
  if (tick != seen->tick || seen->since == 0) {
    seen->tick = tick;
    seen->since = now;
    return 0;
  }
  return now - seen->since >= LIFO_GRACE_NS;
}


static corio_task_t *search(corio__worker_t *w) {
  corio_rt_t *rt = w->rt;
  unsigned n = rt->nworkers, round, i, start;
  uint64_t now = uv_hrtime();
  corio_task_t *t;

  if (!begin_search(w))
    return NULL;
  for (round = 0; round < SEARCH_ROUNDS; round++) {
    start = (unsigned)(next_random(w) % n);
    for (i = 0; i < n; i++) {
      corio__worker_t *v = &rt->workers[(start + i) % n];
      if (v == w)
        continue;
      t = steal_from(w, v);
      if (t == NULL && lifo_stale(w, v, now))
        t = atomic_exchange_explicit(&v->lifo, NULL, memory_order_acq_rel);
      if (t != NULL)
        goto found;
    }
    t = inject_take(w);
    if (t != NULL)
      goto found;
    cpu_relax();
  }
  return NULL;
found:
  end_search_found(w);
  return t;
}


/* Work of this worker's own that a parked worker must not sleep on: bound
 * tasks, requests in its inbox (seq_cst: the kick's handshake, see
 * corio__worker_kick), tasks its loop's callbacks readied. */
static int own_work(corio__worker_t *w) {
  return w->bound_head != NULL || w->yielded_head != NULL || w->due_head != NULL ||
         atomic_load(&w->lp->inbox.head) != NULL ||
         /* seq_cst: the other side of corio__ready_home's handshake */
         atomic_load(&w->lifo) != NULL ||
         corio__deque_size_approx(&w->dq) > 0;
}


/* Work that this worker could take: the injection queue, another's deque,
 * another's LIFO slot only once stale (a fresh one is its owner's, who is
 * running and will run it: no wake-up is owed for it, see corio__ready). */
static int work_visible(corio__worker_t *w) {
  corio_rt_t *rt = w->rt;
  uint64_t now = 0;
  unsigned i;

  if (corio__inject_len(&rt->inject) != 0 || own_work(w))
    return 1;
  if (corio__timer_heap_next(&w->timers) != 0 &&
      corio__timer_heap_next(&w->timers) <= (now = uv_hrtime()))
    return 1; /* a deadline of ours is due */
  for (i = 0; i < rt->nworkers; i++) {
    corio__worker_t *v = &rt->workers[i];
    if (v == w)
      continue;
    if (corio__deque_size_approx(&v->dq) > 0)
      return 1;
    if (atomic_load_explicit(&v->lifo, memory_order_relaxed) != NULL) {
      if (now == 0)
        now = uv_hrtime();
      if (lifo_stale(w, v, now))
        return 1;
    }
  }
  return 0;
}


static int stopping(corio_rt_t *rt) {
  /* acquire: pairs with corio_rt_free's release store */
  return atomic_load_explicit(&rt->stopping, memory_order_acquire);
}


/* Take a worker that announced itself idle off the idle list, counted
 * as searching again (or, for work of its own, not). Returns 0 if a
 * notifier took it off first (then its wake is on the way). */
static int unpark_as(corio__worker_t *w, int searching) {
  corio_rt_t *rt = w->rt;

  pthread_mutex_lock(&rt->idle_mu);
  if (!idle_remove_locked(rt, w)) {
    pthread_mutex_unlock(&rt->idle_mu);
    return 0;
  }
  idle_rmw(rt, (searching ? CORIO__SEARCH_ONE : 0) - CORIO__IDLE_ONE);
  pthread_mutex_unlock(&rt->idle_mu);
  w->searching = searching;
  atomic_store_explicit(&w->asleep, 0, memory_order_relaxed);
  return 1;
}


static int unpark(corio__worker_t *w) {
  return unpark_as(w, 1);
}


/* Does another worker's LIFO slot hold a task (noting when we saw it), or
 * is another in a run that queued work without a fence (`pushing`)? */
static int lifo_watch_due(corio__worker_t *w) {
  corio_rt_t *rt = w->rt;
  uint64_t now = uv_hrtime();
  int due = 0;

  for (unsigned i = 0; i < rt->nworkers; i++) {
    corio__worker_t *v = &rt->workers[i];
    if (v == w)
      continue;
    if (atomic_load_explicit(&v->lifo, memory_order_relaxed) != NULL) {
      lifo_stale(w, v, now);
      due = 1;
    }
    /* seq_cst: after our announcement of idle (see notify_from_worker) */
    if (atomic_load(&v->pushing))
      due = 1;
  }
  return due;
}


/* How long a parked worker may sleep before it must look again (ns; 0:
 * until woken): until its earliest deadline, and, if another worker's
 * LIFO slot holds a task (nobody will wake us for it, see corio__ready),
 * at most LIFO_WATCH_NS, to see whether it went stale; as long if another
 * is in a run that queues work without a fence (notify_from_worker). */
static uint64_t park_timeout(corio__worker_t *w) {
  uint64_t next = corio__timer_heap_next(&w->timers), sleep_ns = 0, now;

  if (next != 0) {
    now = uv_hrtime();
    sleep_ns = next > now ? next - now : 1;
  }
  if (lifo_watch_due(w) && (sleep_ns == 0 || sleep_ns > LIFO_WATCH_NS))
    sleep_ns = LIFO_WATCH_NS;
  return sleep_ns;
}


/* Sleep in this worker's loop, which has sockets: I/O, a kick or a
 * notifier's wake (its async), or the timeout end the poll. The loop's
 * callbacks ready bound tasks here, on this thread: work of our own, for
 * which we get up without waking anyone (not as a searcher). Returns the
 * wake reason, or 0 if we took ourselves off the idle list. */
static uint32_t sleep_in_loop(corio__worker_t *w) {
  uint32_t why;

  for (;;) {
    corio__loop_drive(w->lp, 1, park_timeout(w));
    if ((why = atomic_load_explicit(&w->wake, memory_order_acquire)) != 0)
      return why;
    if (own_work(w) && unpark_as(w, 0))
      return 0;
    if ((work_visible(w) || stopping(w->rt)) && unpark(w))
      return 0;
    /* Nothing, or a notifier took us off the list: its wake is coming. */
  }
}


static uint32_t sleep_on_futex(corio__worker_t *w) {
  uint64_t sleep_ns;
  uint32_t why;

  /* Sleep until woken, or until a deadline or a slot to watch calls us
   * back to work (park_timeout). */
  if ((sleep_ns = park_timeout(w)) != 0) {
    corio__futex_wait_ns(&w->wake, 0, sleep_ns);
    if (atomic_load_explicit(&w->wake, memory_order_acquire) == 0 && unpark(w))
      return 0;
    /* Woken, or a notifier took us off the list: its wake is coming. */
  }
  while ((why = atomic_load_explicit(&w->wake, memory_order_acquire)) == 0)
    corio__futex_wait(&w->wake, 0);
  return why;
}


/* Before parking, keep looking for up to SPIN_NS. Returns nonzero if work
 * turned up (or the runtime stops). A worker whose loop has I/O polls it
 * (without waiting) meanwhile: under load the next request comes within
 * microseconds, sooner than a sleep in the poll and a wake-up take.
 * Measured here (2 cores, wrk -c64 beside the server, 2 workers): 0.71x
 * loop-only's requests/s without this, 0.93-0.99x with 10 to 60 us. Any
 * other worker spins only while it may search. */
static int spin(corio__worker_t *w, int in_loop) {
  corio_rt_t *rt = w->rt;
  uint64_t spin_end = uv_hrtime() + SPIN_NS;
  int i;

  for (;;) {
    if (in_loop)
      corio__loop_drive(w->lp, 0, 0);
    else if (!w->searching &&
             2 * CORIO__SEARCH_COUNT(atomic_load_explicit(
                     &rt->idle_state, memory_order_relaxed)) >= rt->nworkers)
      return 0;
    if (stopping(rt) || work_visible(w))
      return 1;
    if (!in_loop)
      for (i = 0; i < SPIN_PAUSES; i++)
        cpu_relax();
    /* On a machine with fewer cores than threads, the loop thread or a
     * producer may be waiting for this CPU: let it run. */
    sched_yield();
    if (uv_hrtime() >= spin_end)
      return 0;
  }
}


/* Announce idle, re-check, sleep until woken. On return the worker is
 * awake, counted as searching unless it got up for work of its own. */
static void park_worker(corio__worker_t *w) {
  corio_rt_t *rt = w->rt;
  uint32_t delta = CORIO__IDLE_ONE, why;
  int in_loop = corio__loop_has_io(w->lp);

  corio__wait_clock_tick();
  CORIO__COUNT(w->n_spins, 1);
  if (spin(w, in_loop))
    return;

  pthread_mutex_lock(&rt->idle_mu);
  atomic_store_explicit(&w->wake, 0, memory_order_relaxed);
  w->idle_next = rt->idle_head;
  rt->idle_head = w;
  w->in_idle = 1;
  w->sleep_in_loop = in_loop;
  if (w->searching)
    delta -= CORIO__SEARCH_ONE;
  w->searching = 0;
  idle_rmw(rt, delta);
  /* seq_cst, before the re-check below: see corio__worker_kick */
  atomic_store(&w->asleep, 1);
  pthread_mutex_unlock(&rt->idle_mu);

  /* The re-check that makes the protocol free of lost wake-ups. */
  if (own_work(w) && unpark_as(w, 0))
    return;
  if ((work_visible(w) || stopping(rt)) && unpark(w))
    return;
  corio__task_drain(&w->tally); /* release records freed elsewhere */
  corio__rt_quiet(rt); /* perhaps every task has finished */
  CORIO__COUNT(w->n_parks, 1);
  {
    uint64_t t0 = uv_hrtime();
    atomic_store_explicit(&w->asleep_since, t0, memory_order_relaxed);
    why = in_loop ? sleep_in_loop(w) : sleep_on_futex(w);
    CORIO__COUNT(w->asleep_ns, uv_hrtime() - t0);
    atomic_store_explicit(&w->asleep_since, 0, memory_order_relaxed);
  }
  if (why == 0)
    return; /* unpark_as counted us */
  atomic_store_explicit(&w->asleep, 0, memory_order_relaxed);
  w->searching = why == CORIO__WOKEN_SEARCH;
}


int corio__task_run(corio_task_t *t, corio_task_t **current) {
  int r;

  /* relaxed atomic: a plain store, read by corio_rt_free's report of a
   * worker that does not stop */
  __atomic_store_n(current, t, __ATOMIC_RELAXED);
  /* Cleared each time: a task that hands control back through a bare
   * corio_coro_yield (not corio_yield, not a park) must not re-run its
   * last park function; it is treated as a yield. */
  t->why = 0;
  if (t->co == NULL) {
    if (atomic_load_explicit(&t->state, memory_order_relaxed) &
        (CORIO__TASK_FINISHED | CORIO__TASK_SPENT))
      abort(); /* ended already: readied twice (a broken waiter) */
    corio__task_start(t);
  }
  r = corio_coro_resume(t->co, NULL, NULL);
  __atomic_store_n(current, NULL, __ATOMIC_RELAXED);
  if (r < 0)
    abort(); /* a task readied twice: the caller's waiter logic is broken */
  if (r == CORIO_CORO_FINISHED) {
    corio__task_end(t);
    corio__task_finished(t);
    return 0;
  }
  if (t->why == CORIO__WHY_PARK) {
    if (t->park_fn(t, t->park_arg) != 0)
      corio__ready(t);
    return 0;
  }
  return 1;
}


static void run(corio__worker_t *w, corio_task_t *t) {
  /* corio_yield: to the back of the shared queue, like Go's Gosched, and
   * wake someone: this worker may be busy for a while. */
  CORIO__COUNT(w->n_run, 1);
  int again = corio__task_run(t, &w->current);

  if (atomic_load_explicit(&w->pushing, memory_order_relaxed)) /* ours */
    end_run_pushes(w);
  if (again) {
    if (t->bound != NULL) {
      /* Nobody else may run it; behind what this worker has queued (a
       * bound task spinning on corio_yield for a task it spawned here
       * must let that one run). */
      fifo_push(&w->yielded_head, &w->yielded_tail, t);
      return;
    }
    corio__inject_push(&w->rt->inject, t);
    corio__notify(w->rt);
  }
}


void *corio__worker_main(void *arg) {
  corio__worker_t *w = arg;
  corio_rt_t *rt = w->rt;
  corio_task_t *t;
  char name[16];

  snprintf(name, sizeof name, "corio-w%u", w->index);
  corio__thread_name(name);
  tls_worker = w;
  corio__loop_bind(w->lp);
  corio__overflow_thread_init();
  corio__block_async_signals();
  while (!stopping(rt)) {
    t = find_local(w);
    if (t == NULL)
      t = find_local_io(w);
    if (t == NULL)
      t = search(w);
    if (t != NULL) {
      end_search_found(w);
      run(w, t);
      continue;
    }
    park_worker(w);
  }
  if (w->searching) {
    w->searching = 0;
    idle_rmw(rt, (uint32_t)-CORIO__SEARCH_ONE);
  }
  tls_worker = NULL;
  corio__loop_bind(NULL); /* corio_rt_free closes it, after the reactor */
  corio_stack_cache_drain();
  return NULL;
}
