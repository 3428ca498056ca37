/* Overflowing a guarded coroutine stack ends the process with a message
 * naming the cause and SIGSEGV. Provoked in a child process. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corio.h"

/* Far deeper than any stack here; the limit only keeps the compiler from
 * calling the recursion infinite. */
static volatile unsigned depth_limit = 1u << 30;

static unsigned deep(unsigned n) {
  volatile char pad[512];

  pad[0] = (char)n;
  if (n >= depth_limit)
    return 0;
  return deep(n + 1) + (unsigned)pad[0];
}

static void *overflows(void *arg) {
  (void)arg;
  return (void *)(uintptr_t)deep(0);
}

Test(overflow, stack_overflow_is_reported_and_kills_with_sigsegv) {
  int fds[2], status;
  char out[1024];
  ssize_t n, got = 0;
  pid_t pid;

  cr_assert_eq(pipe(fds), 0);
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    corio_coro_options_t opts = {.stack_size = 32 * 1024};
    corio_coro_t *co;

    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    if (corio_coro_new(overflows, NULL, &opts, &co) != 0)
      _exit(3);
    corio_coro_resume(co, NULL, NULL);
    _exit(4); /* not reached */
  }
  close(fds[1]);
  while ((n = read(fds[0], out + got, sizeof out - 1 - (size_t)got)) > 0)
    got += n;
  out[got] = '\0';
  close(fds[0]);
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFSIGNALED(status), "child ended by a signal (status %d)", status);
  cr_assert_eq(WTERMSIG(status), SIGSEGV);
  cr_assert_not_null(strstr(out, "coroutine stack overflow"), "stderr: %s", out);
}
