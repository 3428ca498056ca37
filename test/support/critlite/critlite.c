/* critlite's runner: runs every registered test in a forked child (up to
 * --jobs N at once), with a timeout, and reports like Criterion does.
 * Exit status 0 only if every test passed. Arguments: --jobs N (or -jN),
 * --verbose (accepted, ignored), --filter PATTERN or a bare PATTERN: run
 * only tests whose "suite::name" contains PATTERN. */
#include "criterion/criterion.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS 1024
#define DEFAULT_TIMEOUT 600

static const struct crl_test *tests[MAX_TESTS];
static size_t ntests;
static int expect_failed;

enum { EXIT_SKIPPED = 77, EXIT_FAILED = 99 };


void crl_register(const struct crl_test *t) {
  if (ntests < MAX_TESTS)
    tests[ntests++] = t;
}


void crl_check(int ok, int fatal, const char *expr, const char *file, int line,
               const char *fmt, ...) {
  va_list ap;

  if (ok)
    return;
  fprintf(stderr, "[FAIL] %s:%d: %s", file, line, expr);
  if (fmt[0] != '\0') {
    fputs(": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  fputc('\n', stderr);
  fflush(NULL);
  if (fatal)
    _exit(EXIT_FAILED);
  expect_failed = 1;
}


void crl_log(const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}


void crl_skip(const char *fmt, ...) {
  va_list ap;

  fputs("[SKIP] ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(NULL);
  _exit(EXIT_SKIPPED);
}


static pid_t start(const struct crl_test *t) {
  pid_t pid = fork();

  if (pid != 0)
    return pid;
  alarm((unsigned)(t->timeout > 0 ? t->timeout + 0.999 : DEFAULT_TIMEOUT));
  if (t->init)
    t->init();
  t->fn();
  if (t->fini)
    t->fini();
  fflush(NULL);
  _exit(expect_failed ? EXIT_FAILED : 0);
}


/* 0 pass, 1 fail, 2 crash, 3 skipped */
static int verdict(const struct crl_test *t, int status) {
  if (t->signal != 0)
    return WIFSIGNALED(status) && WTERMSIG(status) == t->signal ? 0 : 1;
  if (WIFSIGNALED(status))
    return 2;
  if (WEXITSTATUS(status) == EXIT_SKIPPED)
    return 3;
  return WEXITSTATUS(status) == t->exit_code ? 0 : 1;
}


int main(int argc, char **argv) {
  static const char *const label[] = {"PASS", "FAIL", "CRASH", "SKIP"};
  size_t counts[4] = {0}, next = 0, running = 0, i;
  pid_t pids[MAX_TESTS];
  const char *filter = NULL;
  long jobs = 1;
  int a;

  for (a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--jobs") == 0 && a + 1 < argc)
      jobs = atol(argv[++a]);
    else if (strncmp(argv[a], "-j", 2) == 0)
      jobs = atol(argv[a] + 2);
    else if (strcmp(argv[a], "--filter") == 0 && a + 1 < argc)
      filter = argv[++a];
    else if (argv[a][0] != '-')
      filter = argv[a];
  }
  if (jobs < 1)
    jobs = 1;

  for (;;) {
    int status;
    pid_t pid;

    while (next < ntests && running < (size_t)jobs) {
      const struct crl_test *t = tests[next];
      char full[256];
      snprintf(full, sizeof full, "%s::%s", t->suite, t->name);
      if (t->disabled || (filter != NULL && strstr(full, filter) == NULL)) {
        pids[next++] = 0;
        continue;
      }
      fflush(NULL);
      pids[next++] = start(t);
      running++;
    }
    if (running == 0)
      break;
    pid = wait(&status);
    if (pid < 0)
      break;
    for (i = 0; i < next; i++) {
      if (pids[i] == pid) {
        int v = verdict(tests[i], status);
        counts[v]++;
        fprintf(stderr, "[%s] %s::%s", label[v], tests[i]->suite, tests[i]->name);
        if (v == 2)
          fprintf(stderr, " (signal %d%s)", WTERMSIG(status),
                  WTERMSIG(status) == SIGALRM ? ": timed out" : "");
        fputc('\n', stderr);
        pids[i] = 0;
        running--;
      }
    }
  }
  fprintf(stderr, "[====] Synthesis: Tested: %zu | Passing: %zu | Failing: %zu"
                  " | Crashing: %zu | Skipped: %zu\n",
          counts[0] + counts[1] + counts[2], counts[0], counts[1], counts[2],
          counts[3]);
  return counts[1] + counts[2] == 0 ? 0 : 1;
}
