/* corio/signal.h: wait for signals from a task.
 *
 *   corio_signal_t *sig;
 *   int stop[] = {SIGINT, SIGTERM};
 *   corio_signal_open(corio_current_rt(), stop, 2, &sig);
 *   int signum = corio_signal_wait(sig);   // SIGINT or SIGTERM
 *   corio_signal_close(sig);
 *
 * A watcher counts, from its open on, each of its signals that the process
 * receives (libuv's uv_signal_t on the runtime's loop: the handler only
 * writes to a pipe, the loop thread counts), and corio_signal_wait takes
 * them one at a time: a signal that came while nobody waited is not lost,
 * and the memory is a count per signal, not a queue. Several watchers of
 * one signal each see it (several tasks may wait on one watcher: each
 * signal wakes one of them). The kernel merges a signal sent again
 * before the first was handled into one, as it always does.
 *
 * Signal masks: corio's worker threads (and the thread of the dump
 * signal) block SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
 * SIGCHLD, SIGALRM, SIGWINCH and SIGPIPE, so that the kernel delivers
 * those to the loop thread or to the application's threads; every thread
 * corio starts blocks SIGPIPE. corio_signal_open unblocks its signals on
 * the loop thread: a program may block them on all its own threads
 * (before corio_rt_new, so that corio's threads inherit it) and have them
 * handled there only, a signal sent meanwhile staying pending until then.
 */
#ifndef CORIO_SIGNAL_H
#define CORIO_SIGNAL_H

#include <stddef.h>
#include <stdint.h>

#include "corio/rt.h"
#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_signal_s corio_signal_t;

/* Signals one watcher may watch. */
#define CORIO_SIGNAL_MAX 16

/* Watch the n signals of signums (1..CORIO_SIGNAL_MAX of them; not
 * SIGKILL or SIGSTOP) on rt's loop. Returns 0 and *out, UV_EINVAL,
 * UV_ENOMEM, UV_ECANCELED (the task was cancelled first), or libuv's
 * error. May suspend (the loop thread starts the watch); in a task, or a
 * plain thread (which it blocks). */
CORIO_API int corio_signal_open(corio_rt_t *rt, const int *signums, size_t n,
                                corio_signal_t **out);

/* Take a signal that came since the open (or the last wait that took
 * it), waiting for one if none did: the signal's number (> 0), or
 * UV_ETIMEDOUT (_dl), UV_ECANCELED, UV_EINVAL (NULL; outside a task when
 * it would have to wait). May suspend; from any task. */
CORIO_API int corio_signal_wait(corio_signal_t *s);
CORIO_API int corio_signal_wait_dl(corio_signal_t *s, uint64_t deadline);

/* Stop watching and free s. UV_EBUSY (nothing done) while a task waits
 * on it; 0. A cancel does not cut the close short (it is kept for the
 * caller's next wait). May suspend; in a task, or a plain thread. */
CORIO_API int corio_signal_close(corio_signal_t *s);

#ifdef __cplusplus
}
#endif

#endif
