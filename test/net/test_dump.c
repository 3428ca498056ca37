/* corio_rt_dump: every kind of wait named, with the blocking call in each
 * task's backtrace; names, connection tasks named after their peer. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corio.h"
#include "../support/capture.h"

/* Not static: the dump names them (the test exports its symbols). */
void *dump_test_chan_waiter(void *arg);
void *dump_test_mutex_waiter(void *arg);
void *dump_test_sem_waiter(void *arg);
void *dump_test_sleeper(void *arg);
void *dump_test_joiner(void *arg);
void *dump_test_selector(void *arg);
void *dump_test_group_waiter(void *arg);
void *dump_test_cond_waiter(void *arg);
void *dump_test_reader(void *arg);

static corio_chan_t *ch, *ch2;
static corio_mutex_t mu, cmu;
static corio_sem_t sem;
static corio_cond_t cond;
static corio_tcp_listener_t *ln;
static int port;
static _Atomic(int) ready;

void *dump_test_chan_waiter(void *arg) {
  int v;
  (void)arg;
  corio_task_set_name(NULL, "my-consumer");
  atomic_fetch_add(&ready, 1);
  corio_chan_recv(ch, &v);
  return NULL;
}

void *dump_test_mutex_waiter(void *arg) {
  (void)arg;
  atomic_fetch_add(&ready, 1);
  if (corio_mutex_lock(&mu) == 0)
    corio_mutex_unlock(&mu);
  return NULL;
}

void *dump_test_sem_waiter(void *arg) {
  (void)arg;
  atomic_fetch_add(&ready, 1);
  corio_sem_acquire(&sem);
  return NULL;
}

void *dump_test_sleeper(void *arg) {
  (void)arg;
  atomic_fetch_add(&ready, 1);
  corio_sleep(60000);
  return NULL;
}

void *dump_test_joiner(void *arg) {
  corio_task_t *t;
  (void)arg;
  corio_spawn(corio_current_rt(), dump_test_sleeper, NULL, &t);
  corio_join(t, NULL);
  return NULL;
}

void *dump_test_selector(void *arg) {
  int v;
  corio_select_case_t cases[2] = {{.ch = ch, .op = CORIO_RECV, .elem = &v},
                                  {.ch = ch2, .op = CORIO_RECV, .elem = &v}};
  (void)arg;
  atomic_fetch_add(&ready, 1);
  corio_select(cases, 2);
  return NULL;
}

static int dump_group_member(void *arg) {
  (void)arg;
  return corio_sleep(60000);
}

void *dump_test_group_waiter(void *arg) {
  corio_group_t *g;
  (void)arg;
  corio_group_new(corio_current_rt(), 0, &g);
  corio_group_spawn(g, dump_group_member, NULL);
  atomic_fetch_add(&ready, 1);
  corio_group_wait(g);
  corio_group_close(g);
  return NULL;
}

void *dump_test_cond_waiter(void *arg) {
  (void)arg;
  corio_mutex_lock(&cmu);
  atomic_fetch_add(&ready, 1);
  corio_cond_wait(&cond, &cmu);
  corio_mutex_unlock(&cmu);
  return NULL;
}

static void dump_conn_handler(corio_tcp_t *c, void *arg) {
  char buf[16];
  (void)arg;
  atomic_fetch_add(&ready, 1);
  corio_read(c, buf, sizeof buf); /* the client says nothing */
}

static void *dump_serve(void *arg) {
  (void)arg;
  corio_tcp_serve(ln, dump_conn_handler, NULL);
  return NULL;
}

void *dump_test_reader(void *arg) {
  corio_tcp_t *c;
  char buf[16];
  (void)arg;
  if (corio_tcp_connect("127.0.0.1", port, &c) != 0)
    return NULL;
  atomic_fetch_add(&ready, 1);
  corio_read(c, buf, sizeof buf); /* nor does the server */
  corio_close(c);
  return NULL;
}

static void *dump_setup(void *arg) {
  (void)arg;
  cr_assert_eq(corio_tcp_listen("127.0.0.1", 0, NULL, &ln), 0);
  port = corio_tcp_listener_port(ln);
  return NULL;
}

static void dump_run(corio_rt_options_t o) {
  void *(*fns[])(void *) = {dump_test_chan_waiter, dump_test_mutex_waiter, dump_test_sem_waiter,
                            dump_test_joiner, dump_test_selector, dump_test_group_waiter,
                            dump_test_cond_waiter, dump_test_reader};
  const char *want[] = {
      "\"my-consumer\"", "channel receive on", "mutex lock of", "semaphore acquire on",
      "sleep, +", "join of task", "select over 2 case(s)", "wait on group",
      "condition wait on", "read on a TCP connection", "(peer 127.0.0.1:", "\"conn 127.0.0.1:",
      /* where each waits: its own function, in its backtrace (the calls
       * of corio between may be inlined or tail calls) */
      "dump_test_chan_waiter+", "dump_test_mutex_waiter+", "dump_test_sem_waiter+",
      "dump_test_sleeper+", "dump_test_joiner+", "dump_test_selector+",
      "dump_test_group_waiter+", "dump_test_cond_waiter+", "dump_test_reader+"};
  corio_rt_t *rt;
  corio_task_t *t;
  char *text = NULL;
  size_t len = 0;
  FILE *f;

  atomic_store(&ready, 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &ch), 0);
  cr_assert_eq(corio_chan_new(sizeof(int), 0, &ch2), 0);
  memset(&mu, 0, sizeof mu);
  memset(&cmu, 0, sizeof cmu);
  memset(&cond, 0, sizeof cond);
  corio_sem_init(&sem, 0);
  corio_mutex_lock(&mu); /* this thread holds it */
  cr_assert_eq(corio_rt_new(&o, &rt), 0);
  cr_assert_eq(corio_spawn(rt, dump_setup, NULL, &t), 0);
  cr_assert_eq(corio_join(t, NULL), 0);
  cr_assert_eq(corio_spawn(rt, dump_serve, NULL, NULL), 0);
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
    cr_assert_eq(corio_spawn(rt, fns[i], NULL, NULL), 0);
  while (atomic_load(&ready) < 9) /* the eight, and the server's handler */
    usleep(1000);
  usleep(50000); /* into their waits */
  f = open_memstream(&text, &len);
  cr_assert_eq(corio_rt_dump(rt, f), 0);
  fclose(f);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
#if !defined(__x86_64__)
    if (strncmp(want[i], "dump_test_", 10) == 0)
      continue; /* backtraces: x86-64 only (lib/sched/dump.c) */
#endif
    cr_assert_not_null(strstr(text, want[i]), "\"%s\" is not in the dump:\n%s", want[i], text);
  }
  free(text);
  cr_assert_eq(corio_rt_dump(NULL, stderr), UV_EINVAL);
  cr_assert_eq(corio_rt_shutdown(rt, corio_now() + 10000), 0);
  corio_mutex_unlock(&mu);
  corio_chan_free(ch);
  corio_chan_free(ch2);
}

Test(dump, every_wait_is_named_with_its_backtrace, .timeout = 60) {
  dump_run((corio_rt_options_t){.workers = 2});
  dump_run((corio_rt_options_t){.loop_only = 1});
}

/* The dump signal: a SIGUSR1 writes the dump to stderr, and the program
 * goes on. */
static void *named_sleeper(void *arg) {
  (void)arg;
  corio_task_set_name(NULL, "sig-sleeper");
  atomic_fetch_add(&ready, 1);
  corio_sleep(60000);
  return NULL;
}

Test(dump, a_signal_writes_the_dump_to_stderr, .timeout = 60) {
  corio_rt_t *rt;
  char text[8192];
  capture_t cap;

  atomic_store(&ready, 0);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 2, .dump_signal = SIGUSR1}, &rt), 0);
  cr_assert_eq(corio_spawn_named(rt, "named-at-spawn", dump_test_sleeper, NULL, NULL), 0);
  cr_assert_eq(corio_spawn(rt, named_sleeper, NULL, NULL), 0);
  while (atomic_load(&ready) < 2)
    usleep(1000);
  cr_assert_eq(capture_begin(&cap), 0);
  kill(getpid(), SIGUSR1);
  for (int i = 0; i < 500; i++) {
    capture_read(&cap, text, sizeof text);
    if (strstr(text, "sig-sleeper") != NULL && strstr(text, "named-at-spawn") != NULL)
      break;
    usleep(10000);
  }
  capture_end(&cap);
  cr_assert_not_null(strstr(text, "\"sig-sleeper\""), "%s", text);
  cr_assert_not_null(strstr(text, "\"named-at-spawn\""), "%s", text);
  cr_assert_not_null(strstr(text, "sleep, +"), "%s", text);
  cr_assert_eq(corio_rt_shutdown(rt, corio_now() + 10000), 0, "it went on running");
  /* the runtime gave the signal back: ignore it now, and it is ignored */
  signal(SIGUSR1, SIG_IGN);
  kill(getpid(), SIGUSR1);
}

Test(dump, a_bad_dump_signal_is_einval) {
  corio_rt_t *rt;

  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1, .dump_signal = SIGKILL}, &rt),
               UV_EINVAL);
  cr_assert_eq(corio_rt_new(&(corio_rt_options_t){.workers = 1, .dump_signal = 999}, &rt),
               UV_EINVAL);
}
