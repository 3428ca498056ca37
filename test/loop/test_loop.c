/* The reactor: sleeps, the bridge, files, names, threadpool work, tasks
 * pinned to the loop thread, attached mode. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "corio.h"
#include "../support/sizes.h"

/* --- sleep -------------------------------------------------------------- */

typedef struct {
  uint64_t ms;
  uint64_t until;  /* a common base plus ms: deadlines in the order of ms */
  uint64_t asked, slept;
  uint64_t deadline_ns; /* when the sleep was due, as the task computed it */
  int order;
} sleeper_t;

static _Atomic(int) wake_seq;

static void *sleeps(void *arg) {
  sleeper_t *s = arg;
  uint64_t t0 = uv_hrtime(), now = corio_now();

  s->asked = s->until > now ? s->until - now : 0;
  s->deadline_ns = t0 + s->asked * 1000000u;
  cr_assert_eq(corio_sleep(s->asked), 0);
  s->slept = uv_hrtime() - t0;
  s->order = atomic_fetch_add(&wake_seq, 1);
  return NULL;
}

Test(loop, sleeps_never_end_early_and_end_in_deadline_order) {
  enum { N = 12 };
  sleeper_t s[N];
  corio_task_t *t[N];
  corio_rt_t *rt;
  uint64_t base;
  int i;

  atomic_store(&wake_seq, 0);
  /* One worker: tasks readied together run in the order they were readied. */
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1}, &rt), 0);
  /* 200 ms of slack for starting every task before the first is due */
  base = corio_now() + 200;
  for (i = 0; i < N; i++) {
    /* distinct, shuffled, 20 ms apart: far enough that a loop running
     * late (an emulator, a loaded machine) does not fire two at once */
    s[i].ms = (uint64_t)((i * 7) % N) * 20 + 1;
    s[i].until = base + s[i].ms;
    cr_assert_eq(corio_spawn(rt, sleeps, &s[i], &t[i]), 0);
  }
  for (i = 0; i < N; i++)
    cr_assert_eq(corio_join(t[i], NULL), 0);
  for (i = 0; i < N; i++) {
    cr_assert_gt(s[i].asked, 0, "started late: raise the slack");
    cr_assert_geq(s[i].slept, s[i].asked * 1000000u, "slept %lu ns for %lu ms",
                  (unsigned long)s[i].slept, (unsigned long)s[i].asked);
    for (int j = 0; j < N; j++)
      /* a task preempted before it slept is due later than planned:
       * compare the deadlines it really asked for, 10 ms apart at least
       * (timers that fire in one loop iteration are readied together, and
       * tasks readied together need not run in that order) */
      if (s[j].deadline_ns + 10000000u < s[i].deadline_ns)
        cr_assert_lt(s[j].order, s[i].order, "%lu ms woke after %lu ms",
                     (unsigned long)s[j].ms, (unsigned long)s[i].ms);
  }
  cr_assert_eq(corio_rt_free(rt), 0);
}

static _Atomic(long) woke;

static void *sleeps_a_little(void *arg) {
  corio_sleep((uintptr_t)arg % 10 + 1);
  atomic_fetch_add(&woke, 1);
  return NULL;
}

Test(loop, hundred_thousand_concurrent_sleepers, .timeout = 120) {
  corio_rt_options_t opts = {.workers = 2, .unguarded = 1,
                             .stack_size = 32 * 1024};
  long n = CORIO_TEST_MANY(100000), i;
  corio_rt_t *rt;

  atomic_store(&woke, 0);
  cr_assert_eq(corio_rt_new(&opts, &rt), 0);
  for (i = 0; i < n; i++)
    cr_assert_eq(corio_spawn(rt, sleeps_a_little, (void *)(uintptr_t)i, NULL), 0);
  cr_assert_eq(corio_rt_wait(rt), 0);
  cr_assert_eq(atomic_load(&woke), n);
  cr_assert_eq(corio_rt_free(rt), 0);
}

Test(loop, sleep_on_a_plain_thread_sleeps) {
  uint64_t t0 = uv_hrtime();

  cr_assert_eq(corio_sleep(5), 0);
  cr_assert_geq(uv_hrtime() - t0, 5000000u);
}

/* --- files -------------------------------------------------------------- */

static void *file_round_trip(void *arg) {
  const char *dir = arg;
  char path[512], moved[512], back[64];
  const char text[] = "written through corio_fs";
  uv_stat_t st;
  int fd;

  snprintf(path, sizeof path, "%s/a.txt", dir);
  snprintf(moved, sizeof moved, "%s/b.txt", dir);
  fd = corio_fs_open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  cr_assert_geq(fd, 0, "open: %s", uv_strerror(fd));
  cr_assert_eq(corio_fs_write(fd, text, sizeof text, 0), (ssize_t)sizeof text);
  cr_assert_eq(corio_fs_close(fd), 0);
  cr_assert_eq(corio_fs_stat(path, &st), 0);
  cr_assert_eq(st.st_size, sizeof text);
  cr_assert_eq(corio_fs_rename(path, moved), 0);
  fd = corio_fs_open(moved, O_RDONLY, 0);
  cr_assert_geq(fd, 0);
  memset(back, 0, sizeof back);
  cr_assert_eq(corio_fs_read(fd, back, sizeof back, 0), (ssize_t)sizeof text);
  cr_assert_str_eq(back, text);
  cr_assert_eq(corio_fs_close(fd), 0);
  cr_assert_eq(corio_fs_unlink(moved), 0);

  cr_assert_eq(corio_fs_open(path, O_RDONLY, 0), UV_ENOENT);
  cr_assert_eq(corio_fs_stat(moved, &st), UV_ENOENT);
  cr_assert_eq(corio_fs_unlink(moved), UV_ENOENT);
  cr_assert_eq(corio_fs_close(-1), UV_EBADF);
  snprintf(path, sizeof path, "%s/sub", dir);
  cr_assert_eq(corio_fs_mkdir(path, 0755), 0);
  cr_assert_eq(corio_fs_mkdir(path, 0755), UV_EEXIST);
  rmdir(path);
  return NULL;
}

Test(loop, file_written_and_read_back_errors_are_negative_codes) {
  char dir[] = "/tmp/corio-test-XXXXXX";

  cr_assert_not_null(mkdtemp(dir));
  cr_assert_eq(corio_main(file_round_trip, dir, NULL, NULL), 0);
  rmdir(dir);
}

Test(loop, fs_outside_a_task_is_einval) {
  uv_stat_t st;

  cr_assert_eq(corio_fs_stat("/", &st), UV_EINVAL);
}

/* --- threadpool work, names -------------------------------------------- */

static void square_in_place(void *arg) {
  uint64_t *v = arg;
  *v *= *v;
}

static void *works(void *arg) {
  uint64_t v = (uintptr_t)arg;

  cr_assert_eq(corio_work(square_in_place, &v), 0);
  return (void *)(uintptr_t)v;
}

Test(loop, work_from_many_tasks) {
  enum { N = 200 };
  corio_task_t *t[N];
  corio_rt_t *rt;
  uint64_t sum = 0, expect = 0;
  int i;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  for (i = 0; i < N; i++) {
    cr_assert_eq(corio_spawn(rt, works, (void *)(uintptr_t)i, &t[i]), 0);
    expect += (uint64_t)i * (uint64_t)i;
  }
  for (i = 0; i < N; i++) {
    void *r;
    cr_assert_eq(corio_join(t[i], &r), 0);
    sum += (uintptr_t)r;
  }
  cr_assert_eq(sum, expect);
  cr_assert_eq(corio_rt_free(rt), 0);
}

static void *resolves_localhost(void *arg) {
  struct addrinfo hints, *res = NULL, *ai;
  int loopback = 0;

  (void)arg;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  cr_assert_eq(corio_getaddrinfo("localhost", "80", &hints, &res), 0);
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ai->ai_addr;
    if (ntohl(sin->sin_addr.s_addr) == 0x7f000001)
      loopback = 1;
  }
  uv_freeaddrinfo(res);
  cr_assert(loopback, "localhost resolves to 127.0.0.1");
  cr_assert_lt(corio_getaddrinfo("no-such-host.invalid", NULL, NULL, &res), 0);
  return NULL;
}

Test(loop, resolves_localhost) {
  cr_assert_eq(corio_main(resolves_localhost, NULL, NULL, NULL), 0);
}

/* --- corio_await on a request the library does not wrap ----------------- */

static void scandir_cb(uv_fs_t *req) {
  corio_await_done(req->data, req->result);
}

static int start_scandir(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  uv_fs_t *req = arg;

  req->data = aw;
  return uv_fs_scandir(loop, req, req->path, 0, scandir_cb);
}

static int start_fails(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  (void)loop;
  (void)aw;
  (void)arg;
  return UV_EPERM;
}

static void *scans(void *arg) {
  const char *dir = arg;
  uv_dirent_t ent;
  uv_fs_t req;
  intptr_t n = -1;
  int found = 0;

  memset(&req, 0, sizeof req);
  req.path = dir;
  cr_assert_eq(corio_await(corio_current_rt(), start_scandir, &req, &n), 0);
  cr_assert_eq(n, 2);
  while (uv_fs_scandir_next(&req, &ent) != UV_EOF)
    found += strcmp(ent.name, "x") == 0 || strcmp(ent.name, "y") == 0;
  uv_fs_req_cleanup(&req);
  cr_assert_eq(found, 2);
  cr_assert_eq(corio_await(corio_current_rt(), start_fails, NULL, NULL), UV_EPERM);
  return NULL;
}

Test(loop, await_any_libuv_request) {
  char dir[] = "/tmp/corio-test-XXXXXX", path[64];

  cr_assert_not_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/x", dir);
  close(open(path, O_CREAT | O_WRONLY, 0644));
  snprintf(path, sizeof path, "%s/y", dir);
  close(open(path, O_CREAT | O_WRONLY, 0644));
  cr_assert_eq(corio_main(scans, dir, NULL, NULL), 0);
  unlink(path);
  snprintf(path, sizeof path, "%s/x", dir);
  unlink(path);
  rmdir(dir);
}

static void noop_cb(uv_timer_t *timer) {
  corio_await_done(timer->data, 77);
  uv_close((uv_handle_t *)timer, NULL);
}

static int start_timer(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  uv_timer_t *timer = arg;

  uv_timer_init(loop, timer);
  timer->data = aw;
  return uv_timer_start(timer, noop_cb, 1, 0);
}

Test(loop, await_from_a_plain_thread_blocks_it) {
  uv_timer_t *timer = malloc(sizeof *timer); /* closed on the loop later */
  corio_rt_t *rt;
  intptr_t v = 0;

  cr_assert_eq(corio_rt_new(NULL, &rt), 0);
  cr_assert_eq(corio_await(rt, start_timer, timer, &v), 0);
  cr_assert_eq(v, 77);
  cr_assert_eq(corio_rt_free(rt), 0); /* uv_loop_close returned 0 */
  free(timer);
}

/* --- affinity ------------------------------------------------------------ */

typedef struct {
  pthread_t thread;
  int on_loop;
} where_t;

static void *notes_where(void *arg) {
  where_t *w = arg;

  w->thread = pthread_self();
  w->on_loop = corio_on_loop_thread(corio_current_rt());
  corio_sleep(1); /* and still there after waiting */
  cr_assert(pthread_equal(w->thread, pthread_self()));
  cr_assert(corio_on_loop_thread(corio_current_rt()));
  return NULL;
}

static void *notes_where_plain(void *arg) {
  where_t *w = arg;

  w->thread = pthread_self();
  w->on_loop = corio_on_loop_thread(corio_current_rt());
  return NULL;
}

Test(loop, spawn_on_loop_runs_on_the_loop_thread) {
  where_t a = {0}, b = {0}, c = {0};
  corio_task_t *t;
  corio_rt_t *rt;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt), 0);
  cr_assert_eq(corio_spawn_on_loop(rt, notes_where, &a, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_spawn_on_loop(rt, notes_where, &b, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_spawn(rt, notes_where_plain, &c, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert(a.on_loop && b.on_loop);
  cr_assert(pthread_equal(a.thread, b.thread), "always the same thread");
  cr_assert_not(c.on_loop);
  cr_assert_not(pthread_equal(a.thread, c.thread), "workers are not the loop");
  cr_assert_not(pthread_equal(a.thread, pthread_self()));
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* --- attached mode ------------------------------------------------------- */

typedef struct {
  uv_timer_t timer;
  int ticks;
} app_t;

static void app_tick(uv_timer_t *timer) {
  app_t *app = timer->data;

  if (++app->ticks == 3)
    uv_close((uv_handle_t *)timer, NULL);
}

static _Atomic(int) attached_done;

static void *attached_task(void *arg) {
  char tmp[] = "/tmp/corio-attach-XXXXXX";

  (void)arg;
  corio_sleep(5);
  cr_assert_not_null(mkdtemp(tmp));
  cr_assert_eq(corio_fs_mkdir(tmp, 0700), UV_EEXIST);
  rmdir(tmp);
  atomic_fetch_add(&attached_done, 1);
  return NULL;
}

Test(loop, attached_mode_runs_beside_the_application_and_lets_it_exit) {
  uv_loop_t loop;
  app_t app = {.ticks = 0};
  corio_rt_t *rt;
  int i;

  atomic_store(&attached_done, 0);
  cr_assert_eq(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &app.timer);
  app.timer.data = &app;
  uv_timer_start(&app.timer, app_tick, 2, 2);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2,
                                                       .loop = &loop}, &rt), 0);
  cr_assert_eq(corio_rt_loop(rt), &loop);
  for (i = 0; i < 10; i++)
    cr_assert_eq(corio_spawn(rt, attached_task, NULL, NULL), 0);
  /* Returns by itself once the app's timer is closed and corio is idle. */
  cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(app.ticks, 3);
  cr_assert_eq(atomic_load(&attached_done), 10);
  cr_assert_eq(corio_rt_free(rt), 0);
  uv_run(&loop, UV_RUN_DEFAULT); /* corio's handles finish closing */
  cr_assert_eq(uv_loop_close(&loop), 0);
}

/* --- deadlines and cancellation of I/O ---------------------------------- */

typedef struct {
  _Atomic(int) started, finished;
} slow_t;

static void slow_job(void *arg) {
  slow_t *s = arg;
  struct timespec ts = {0, 40 * 1000 * 1000};

  atomic_fetch_add(&s->started, 1);
  nanosleep(&ts, NULL);
  atomic_fetch_add(&s->finished, 1);
}

static void *work_with_deadline(void *arg) {
  slow_t *s = arg;
  uint64_t t0 = uv_hrtime();

  cr_assert_eq(corio_work_dl(slow_job, s, corio_now() + 5), UV_ETIMEDOUT);
  /* it returned only once the job was done with our memory */
  cr_assert_eq(atomic_load(&s->started), atomic_load(&s->finished));
  cr_assert_geq(uv_hrtime() - t0, 4u * 1000000u);
  return NULL;
}

Test(loop, work_dl_times_out_after_the_job_let_go) {
  slow_t s;

  memset(&s, 0, sizeof s);
  cr_assert_eq(corio_main(work_with_deadline, &s, NULL, NULL), 0);
}

/* Fill libuv's threadpool (4 threads by default) with jobs that hold
 * their threads until the test lets them go, then cancel a task whose job
 * is still queued behind them: it is taken off the queue and never runs. */
typedef struct {
  slow_t busy[6];
  slow_t victim;
  _Atomic(int) gate_open;
} pool_t;

static pool_t *the_pool;

static void gated_job(void *arg) {
  slow_t *s = arg;
  struct timespec ts = {0, 1000 * 1000};

  atomic_fetch_add(&s->started, 1);
  while (!atomic_load(&the_pool->gate_open))
    nanosleep(&ts, NULL);
  atomic_fetch_add(&s->finished, 1);
}

static void *runs_gated(void *arg) {
  return (void *)(intptr_t)corio_work(gated_job, arg);
}

static void *cancels_queued_work(void *arg) {
  pool_t *p = arg;
  corio_task_t *busy[6], *victim;
  int running;
  void *r;

  for (int i = 0; i < 6; i++)
    corio_spawn(corio_current_rt(), runs_gated, &p->busy[i], &busy[i]);
  do { /* until every threadpool thread holds a busy job */
    corio_sleep(1);
    running = 0;
    for (int i = 0; i < 6; i++)
      running += atomic_load(&p->busy[i].started);
  } while (running < 4);
  corio_spawn(corio_current_rt(), runs_gated, &p->victim, &victim);
  corio_sleep(5); /* its job is queued, behind two busy ones */
  corio_cancel(victim);
  corio_join(victim, &r);
  cr_assert_eq((intptr_t)r, UV_ECANCELED);
  atomic_store(&p->gate_open, 1);
  for (int i = 0; i < 6; i++) {
    corio_join(busy[i], &r);
    cr_assert_eq((intptr_t)r, 0);
  }
  cr_assert_eq(atomic_load(&p->victim.started), 0, "never ran");
  return NULL;
}

Test(loop, cancel_takes_queued_work_off_the_threadpool) {
  pool_t p;

  memset(&p, 0, sizeof p);
  the_pool = &p;
  cr_assert_eq(corio_main(cancels_queued_work, &p, NULL, NULL), 0);
}

static void *reads_with_past_deadline(void *arg) {
  char buf[8];

  (void)arg;
  cr_assert_eq(corio_fs_open_dl("/dev/null", O_RDONLY, 0, corio_now() - 1),
               UV_ETIMEDOUT);
  cr_assert_eq(corio_fs_read_dl(-1, buf, sizeof buf, 0, corio_now() + 1000),
               UV_EBADF, "errors pass through");
  return NULL;
}

Test(loop, fs_dl_with_a_past_deadline_is_etimedout) {
  cr_assert_eq(corio_main(reads_with_past_deadline, NULL, NULL, NULL), 0);
}

/* --- loop-only mode ----------------------------------------------------- */

static void *child_on_loop(void *arg) {
  (void)arg;
  corio_sleep(1);
  return (void *)(intptr_t)corio_on_loop_thread(corio_current_rt());
}

static void *everything_on_the_loop(void *arg) {
  corio_task_t *t[20];
  corio_chan_t *ch;
  int v = 5, got = 0;
  long on_loop = 0;

  (void)arg;
  cr_assert(corio_on_loop_thread(corio_current_rt()));
  for (int i = 0; i < 20; i++)
    corio_spawn(corio_current_rt(), child_on_loop, NULL, &t[i]);
  for (int i = 0; i < 20; i++) {
    void *r;
    corio_join(t[i], &r);
    on_loop += (intptr_t)r;
  }
  cr_assert_eq(on_loop, 20);
  corio_chan_new(sizeof(int), 1, &ch);
  corio_chan_send(ch, &v);
  corio_chan_recv(ch, &got);
  cr_assert_eq(got, 5);
  corio_chan_free(ch);
  return NULL;
}

Test(loop, loop_only_mode_runs_every_task_on_the_loop_thread) {
  corio_rt_t *rt;
  corio_task_t *t;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.loop_only = 1}, &rt), 0);
  cr_assert_eq(corio_rt_workers(rt), 0);
  cr_assert_eq(corio_spawn(rt, everything_on_the_loop, NULL, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_rt_wait(rt), 0);
  cr_assert_eq(corio_rt_free(rt), 0);
}

/* --- contracts ------------------------------------------------------------ */

Test(loop, sleep_on_the_loop_thread_outside_a_task_is_einval) {
  uv_loop_t loop;
  corio_rt_t *rt;

  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1, .loop = &loop}, &rt), 0);
  cr_assert_eq(corio_sleep(1), UV_EINVAL, "sleeping here would stop the loop");
  cr_assert_eq(corio_rt_free(rt), 0);
  cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

/* Starting with few descriptors left: corio_rt_new fails with a libuv
 * error, or returns a runtime whose loop runs; never a dead loop. (With
 * libuv 1.44 the loop's own set-up takes every descriptor corio's handles
 * need, so the failing case is uv_loop_init's; corio_rt_new also reports
 * a failure of its handles on the loop thread now.) */
static void *naps(void *arg) {
  (void)arg;
  return (void *)(intptr_t)corio_sleep(1);
}

Test(loop, rt_new_reports_a_loop_that_cannot_start, .timeout = 30) {
  struct rlimit lim;
  int fds[4096], n, err, failed = 0;
  corio_rt_t *rt;
  corio_task_t *t;
  uv_loop_t warm;
  void *r;

  /* libuv's one-time global set-up (its signal pipe) aborts without
   * descriptors: have it done first. */
  cr_assert_eq(uv_loop_init(&warm), 0);
  cr_assert_eq(uv_loop_close(&warm), 0);
  cr_assert_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
  lim.rlim_cur = 256; /* this test runs in a process of its own */
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
  for (int left = 0; left <= 6; left++) {
    n = 0;
    while (n < 4096 && (fds[n] = dup(0)) >= 0)
      n++;
    cr_assert_lt(n, 4096);
    for (int k = 0; k < left && n > 0; k++)
      close(fds[--n]);
    rt = NULL;
    err = corio_rt_new(&(corio_rt_options_t){.workers = 1}, &rt);
    while (n > 0)
      close(fds[--n]);
    if (err != 0) {
      cr_assert_lt(err, 0);
      failed++;
      continue;
    }
    cr_assert_eq(corio_spawn(rt, naps, NULL, &t), 0);
    cr_assert_eq(corio_join(t, &r), 0);
    cr_assert_eq((intptr_t)r, 0, "%d descriptors left: the loop runs", left);
    cr_assert_eq(corio_rt_free(rt), 0);
  }
  cr_assert_gt(failed, 0, "with no descriptor left, corio_rt_new fails");
}

/* --- attached mode: the loop's ref follows the tasks, under churn --------- */

typedef struct churn {
  uv_timer_t timer;
  corio_rt_t *rt;
  int ticks;
  _Atomic(int) done;
} churn_t;

static void *churns(void *arg) {
  churn_t *c = arg;

  corio_sleep(1);
  atomic_fetch_add(&c->done, 1);
  return NULL;
}

/* Each tick spawns from the loop thread (the loop re-checks its ref at
 * once) while workers finish tasks and park (they ask the loop to
 * re-check through its inbox): both must leave the loop sane, and
 * uv_run must return once the timer is closed and every task is done. */
static void churn_tick(uv_timer_t *timer) {
  churn_t *c = timer->data;

  for (int i = 0; i < 4; i++)
    corio_spawn(c->rt, churns, c, NULL);
  if (++c->ticks == 25)
    uv_close((uv_handle_t *)timer, NULL);
}

Test(loop, attached_loop_ref_follows_tasks_under_churn, .timeout = 120) {
  for (int round = 0; round < (CORIO_TEST_SLOW ? 5 : 20); round++) {
    uv_loop_t loop;
    churn_t c = {0};

    cr_assert_eq(uv_loop_init(&loop), 0);
    cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2, .loop = &loop},
                              &c.rt), 0);
    uv_timer_init(&loop, &c.timer);
    c.timer.data = &c;
    uv_timer_start(&c.timer, churn_tick, 0, 1);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(atomic_load(&c.done), 100, "round %d", round);
    cr_assert_eq(corio_rt_free(c.rt), 0);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
  }
}
