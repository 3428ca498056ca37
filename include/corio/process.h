/* corio/process.h: child processes, waited for from tasks.
 *
 *   const char *argv[] = {"sh", "-c", "echo hi", NULL};
 *   char *out; size_t len; int64_t status;
 *   corio_process_output(corio_current_rt(), argv, &out, &len, 1 << 20,
 *                        &status, NULL, corio_now() + 5000);
 *
 * A child runs under the runtime's loop (uv_spawn); its exit is recorded
 * whether or not anyone waits, and a child whose handle was freed before
 * it exited is still reaped when it does: no zombies. libuv learns of
 * exits through SIGCHLD, which corio's workers block and the loop thread
 * unblocks as it starts a child: a program whose main thread parks may
 * block SIGCHLD there (before corio_rt_new) and have it handled on the
 * loop thread only. Errors are negative
 * libuv codes. spawn, wait and output may suspend (the loop thread starts
 * the child): a task, or a plain thread (which they block; wait only if
 * it must not wait, else UV_EINVAL). */
#ifndef CORIO_PROCESS_H
#define CORIO_PROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "corio/rt.h"
#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_process_s corio_process_t;

/* What a child's stdin, stdout or stderr is. */
#define CORIO_STDIO_INHERIT 0    /* the parent's */
#define CORIO_STDIO_IGNORE 1     /* /dev/null */
#define CORIO_STDIO_PIPE 2       /* a connection to the parent: corio_process_stdio */

typedef struct corio_process_options_s {
  const char *const *argv;   /* NULL-terminated; argv[0] is looked up in PATH */
  const char *const *env;    /* "NAME=value", NULL-terminated; NULL: the parent's */
  const char *cwd;           /* NULL: the parent's */
  int stdin_mode, stdout_mode, stderr_mode;  /* CORIO_STDIO_* */
} corio_process_options_t;

/* Start a child: 0 and *out, UV_EINVAL, UV_ENOMEM, or uv_spawn's error
 * (UV_ENOENT: no such program). */
CORIO_API int corio_process_spawn(corio_rt_t *rt, const corio_process_options_t *opts,
                                  corio_process_t **out);
/* The parent's end of the child's stdin (0), stdout (1) or stderr (2)
 * when it was CORIO_STDIO_PIPE, else NULL: a connection (corio/net.h) to
 * read, write, shut down (the child sees the end of its input) and close
 * (the caller's to close, before or after the child's exit). */
CORIO_API struct corio_tcp_s *corio_process_stdio(corio_process_t *p, int i);
/* Its process id. */
CORIO_API int corio_process_pid(corio_process_t *p);
/* Send it a signal: 0, UV_ESRCH once it has exited, or kill(2)'s error. */
CORIO_API int corio_process_kill(corio_process_t *p, int signum);
/* Wait until it has exited: 0 with its exit status and the signal that
 * ended it (0 if none); UV_ETIMEDOUT (_dl), UV_ECANCELED, UV_EINVAL. Any
 * number of waits, before or after the exit. */
CORIO_API int corio_process_wait(corio_process_t *p, int64_t *status, int *term_signal);
CORIO_API int corio_process_wait_dl(corio_process_t *p, int64_t *status, int *term_signal,
                                    uint64_t deadline);
/* Let go of p; a child still running runs on and is reaped when it
 * exits. UV_EBUSY while a task waits on it; 0. Never suspends. */
CORIO_API int corio_process_free(corio_process_t *p);

/* Run argv, collect its stdout (up to max bytes; UV_E2BIG past them) into
 * *out (malloc'd, NUL-terminated after *len bytes; free it), and wait for
 * its exit until deadline (ms of corio_now(); past it, or on a cancel,
 * the child is killed and waited for, and that error returned). stdin and
 * stderr are the parent's. 0, or an error (then *out is NULL). */
CORIO_API int corio_process_output(corio_rt_t *rt, const char *const *argv, char **out,
                                   size_t *len, size_t max, int64_t *status,
                                   int *term_signal, uint64_t deadline);

#ifdef __cplusplus
}
#endif

#endif
