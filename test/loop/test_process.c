/* Child processes: exit status, a signal that ends one, output collected
 * up to a limit, one that never exits killed at a deadline, one nobody
 * waits for still reaped. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corio.h"

/* SIGCHLD to the loop thread, as corio/process.h suggests for programs
 * whose main thread parks (under ThreadSanitizer a signal sent to a
 * thread parked in a raw futex wait never comes). */
static void block_sigchld(void) {
  sigset_t set;

  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *children(void *arg) {
  const char *ok[] = {"sh", "-c", "exit 3", NULL};
  const char *echo[] = {"sh", "-c", "echo hello; echo world", NULL};
  const char *lots[] = {"sh", "-c", "yes | head -c 100000", NULL};
  const char *forever[] = {"sleep", "60", NULL};
  const char *nope[] = {"/nonexistent/program", NULL};
  corio_process_options_t o = {.argv = ok, .stdout_mode = CORIO_STDIO_IGNORE};
  corio_process_t *p;
  int64_t status = -1;
  int sig = -1, pid;
  char *out;
  size_t len;

  (void)arg;
  /* an exit status */
  cr_assert_eq(corio_process_spawn(corio_current_rt(), &o, &p), 0);
  cr_assert_gt(corio_process_pid(p), 0);
  cr_assert_eq(corio_process_wait(p, &status, &sig), 0);
  cr_assert_eq(status, 3);
  cr_assert_eq(sig, 0);
  cr_assert_eq(corio_process_wait(p, &status, NULL), 0, "waited again");
  cr_assert_eq(corio_process_kill(p, SIGTERM), UV_ESRCH, "gone");
  cr_assert_eq(corio_process_free(p), 0);
  /* output */
  cr_assert_eq(corio_process_output(corio_current_rt(), echo, &out, &len, 1024, &status, NULL,
                                    corio_now() + 10000), 0);
  cr_assert_str_eq(out, "hello\nworld\n");
  cr_assert_eq(len, 12);
  free(out);
  cr_assert_eq(corio_process_output(corio_current_rt(), lots, &out, &len, 1000, &status, NULL,
                                    corio_now() + 10000), UV_E2BIG);
  cr_assert_null(out);
  /* killed by a signal, and one that never exits cut at a deadline */
  o.argv = forever;
  cr_assert_eq(corio_process_spawn(corio_current_rt(), &o, &p), 0);
  cr_assert_eq(corio_process_wait_dl(p, &status, &sig, corio_now() + 50), UV_ETIMEDOUT);
  cr_assert_eq(corio_process_kill(p, SIGTERM), 0);
  cr_assert_eq(corio_process_wait(p, &status, &sig), 0);
  cr_assert_eq(sig, SIGTERM);
  cr_assert_eq(corio_process_free(p), 0);
  cr_assert_eq(corio_process_output(corio_current_rt(), forever, &out, &len, 100, &status, &sig,
                                    corio_now() + 50), UV_ETIMEDOUT);
  /* nobody waits: still reaped */
  o.argv = ok;
  cr_assert_eq(corio_process_spawn(corio_current_rt(), &o, &p), 0);
  pid = corio_process_pid(p);
  cr_assert_eq(corio_process_free(p), 0);
  for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
    corio_sleep(10);
  cr_assert_neq(kill(pid, 0), 0, "the child is a zombie");
  /* errors */
  o.argv = nope;
  cr_assert_eq(corio_process_spawn(corio_current_rt(), &o, &p), UV_ENOENT);
  cr_assert_null(p);
  o.argv = NULL;
  cr_assert_eq(corio_process_spawn(corio_current_rt(), &o, &p), UV_EINVAL);
  return NULL;
}

/* stdin and stdout as connections: cat echoes what it is sent. */
static void *cat_through_pipes(void *arg) {
  const char *cat[] = {"cat", NULL};
  corio_process_options_t o = {.argv = cat, .stdin_mode = CORIO_STDIO_PIPE,
                               .stdout_mode = CORIO_STDIO_PIPE};
  corio_process_t *p;
  corio_tcp_t *in, *out;
  char buf[64];
  int64_t status = -1;
  ssize_t n, have = 0;

  (void)arg;
  cr_assert_eq(corio_process_spawn(corio_current_rt(), &o, &p), 0);
  in = corio_process_stdio(p, 0);
  out = corio_process_stdio(p, 1);
  cr_assert_not_null(in);
  cr_assert_not_null(out);
  cr_assert_null(corio_process_stdio(p, 2), "stderr was inherited");
  cr_assert_eq(corio_write(in, "through cat", 11), 11);
  cr_assert_eq(corio_shutdown(in), 0); /* cat sees the end of its input */
  while ((n = corio_read(out, buf + have, sizeof buf - (size_t)have)) > 0)
    have += n;
  cr_assert_eq(n, UV_EOF);
  cr_assert_eq(have, 11);
  cr_assert_eq(memcmp(buf, "through cat", 11), 0);
  cr_assert_eq(corio_process_wait(p, &status, NULL), 0);
  cr_assert_eq(status, 0);
  corio_close(in);
  corio_close(out);
  cr_assert_eq(corio_process_free(p), 0);
  return NULL;
}

Test(process, stdin_and_stdout_as_connections, .timeout = 60) {
  block_sigchld();
  cr_assert_eq(corio_main(cat_through_pipes, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

Test(process, children_run_exit_are_killed_and_reaped, .timeout = 60) {
  block_sigchld();
  cr_assert_eq(corio_main(children, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
  cr_assert_eq(corio_main(children, NULL, &(corio_rt_options_t){.loop_only = 1}, NULL), 0);
}
