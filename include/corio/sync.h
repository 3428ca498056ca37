/* corio/sync.h: synchronisation between tasks.
 *
 * Mutexes, semaphores, wait groups and condition variables that suspend
 * the waiting task, never its worker thread. They live in your memory
 * (a global, a struct field, a task's frame); all-zero is a valid initial
 * state, so `corio_mutex_t m = CORIO_MUTEX_INITIALIZER;` or a calloc'ed
 * struct needs no init call. Every call may come from any number of tasks
 * and threads at once, except that _destroy (and corio_sem_init) must
 * come after every other call on the object has returned.
 *
 * Every call that waits may suspend the calling task, and has a twin with
 * the suffix _dl taking an absolute deadline in milliseconds of
 * corio_now() (UINT64_MAX: none), which returns UV_ETIMEDOUT once it
 * passes (and never before; a deadline already past means "only if it
 * needs no wait"), or UV_ENOMEM when there is no memory for the
 * deadline's timer. corio_cancel(task) makes the task's current or next
 * wait return UV_ECANCELED; how to unwind is then the task's business. A
 * call that has to wait must be made from a task (not a plain thread, nor
 * a coroutine of corio/coro.h run inside a task): elsewhere it returns
 * UV_EINVAL instead of waiting, having changed nothing; one that need not
 * wait, such as locking a free mutex, just succeeds on any thread. The
 * calls that never wait never suspend and work from any thread.
 *
 * Destroying a primitive that a task still waits on returns UV_EBUSY and
 * changes nothing (a diagnostic: it cannot see a call whose wait has
 * ended but which has not returned yet). Every call returns UV_EINVAL for
 * a NULL object.
 */
#ifndef CORIO_SYNC_H
#define CORIO_SYNC_H

#include <stdint.h>

#include "corio/rt.h"
#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque storage; the fields are private to corio. 48 bytes hold the
 * largest of them (a spinlock, a count and a waiter list: 32 bytes on a
 * 64-bit target) with room to grow without changing the ABI; the library
 * checks the fit when it is built. */
#define CORIO__SYNC_SIZE 48
#define CORIO__SYNC_STORAGE \
  union { unsigned char bytes[CORIO__SYNC_SIZE]; uint64_t align; } _private

/* ------------------------------------------------------------------------
 * Mutex. First come, first served: unlock hands the mutex straight to the
 * longest waiter (no thundering herd, no barging), and an uncontended
 * lock or unlock is one atomic operation, no suspension. Any task or
 * thread may unlock it, not only the one that locked it (as with Go's
 * sync.Mutex). */

typedef struct corio_mutex_s { CORIO__SYNC_STORAGE; } corio_mutex_t;
#define CORIO_MUTEX_INITIALIZER {{{0}}}

/* Lock, suspending until it is ours. Returns 0, UV_ECANCELED, UV_EINVAL
 * (NULL; it has to wait outside a task). May suspend. */
CORIO_API int corio_mutex_lock(corio_mutex_t *m);
/* The same with a deadline: also UV_ETIMEDOUT, UV_ENOMEM. */
CORIO_API int corio_mutex_lock_dl(corio_mutex_t *m, uint64_t deadline);
/* Lock if free: 0, UV_EBUSY, UV_EINVAL. Never suspends; any thread. */
CORIO_API int corio_mutex_trylock(corio_mutex_t *m);
/* Unlock: 0, UV_EPERM if it was not locked, UV_EINVAL. Never suspends;
 * any thread. */
CORIO_API int corio_mutex_unlock(corio_mutex_t *m);
/* Check that it can go: 0, UV_EBUSY if locked or waited on, UV_EINVAL.
 * Nothing to free. Never suspends; any thread. */
CORIO_API int corio_mutex_destroy(corio_mutex_t *m);

/* ------------------------------------------------------------------------
 * Counting semaphore. Waiters are served in arrival order. */

typedef struct corio_sem_s { CORIO__SYNC_STORAGE; } corio_sem_t;

/* Set the count (the all-zero state has count 0), on a semaphore nobody
 * uses: fresh memory, or after corio_sem_destroy. Returns 0, or
 * UV_EINVAL (NULL, count < 0). Never suspends; any thread. */
CORIO_API int corio_sem_init(corio_sem_t *s, int64_t count);
/* Take one, suspending while the count is 0. Returns 0, UV_ECANCELED,
 * UV_EINVAL (NULL; it has to wait outside a task). May suspend. */
CORIO_API int corio_sem_acquire(corio_sem_t *s);
/* The same with a deadline: also UV_ETIMEDOUT, UV_ENOMEM. */
CORIO_API int corio_sem_acquire_dl(corio_sem_t *s, uint64_t deadline);
/* Take one if available: 0, UV_EAGAIN, UV_EINVAL. Never suspends; any
 * thread. */
CORIO_API int corio_sem_tryacquire(corio_sem_t *s);
/* Give back n: waiters first, the rest to the count. Returns 0, or
 * UV_EINVAL (NULL, n <= 0, the count would pass INT64_MAX; nothing
 * changes). Never suspends; any thread. */
CORIO_API int corio_sem_release(corio_sem_t *s, int64_t n);
/* Check that it can go: 0, UV_EBUSY while a task waits on it, UV_EINVAL.
 * Nothing to free. Never suspends; any thread. */
CORIO_API int corio_sem_destroy(corio_sem_t *s);

/* ------------------------------------------------------------------------
 * Wait group: wait until a counter of outstanding jobs drops to zero. */

typedef struct corio_wg_s { CORIO__SYNC_STORAGE; } corio_wg_t;

/* Add n (may be negative) to the counter; at zero every waiter resumes.
 * Returns 0, or UV_EINVAL (NULL, the counter would go negative or pass
 * INT64_MAX; nothing changes). Never suspends; any thread. */
CORIO_API int corio_wg_add(corio_wg_t *wg, int64_t n);
/* corio_wg_add(wg, -1). */
CORIO_API int corio_wg_done(corio_wg_t *wg);
/* Wait until the counter is zero: at once if it is, on any thread.
 * Returns 0, UV_ECANCELED, UV_EINVAL (NULL; it has to wait outside a
 * task). May suspend. */
CORIO_API int corio_wg_wait(corio_wg_t *wg);
/* The same with a deadline: also UV_ETIMEDOUT, UV_ENOMEM. */
CORIO_API int corio_wg_wait_dl(corio_wg_t *wg, uint64_t deadline);
/* Check that it can go: 0, UV_EBUSY while a task waits on it, UV_EINVAL.
 * Nothing to free. Never suspends; any thread. */
CORIO_API int corio_wg_destroy(corio_wg_t *wg);

/* ------------------------------------------------------------------------
 * Condition variable, used with a corio_mutex_t. */

typedef struct corio_cond_s { CORIO__SYNC_STORAGE; } corio_cond_t;

/* Unlock m, wait for a signal, lock m again: always, also when the wait
 * ended by deadline or cancel (a cancel that comes while m is taken again
 * is reported if the wait had succeeded, else left pending for the next
 * wait). m must be locked by the caller. Returns 0, UV_ECANCELED,
 * UV_EPERM (m was not locked; nothing waited), UV_EINVAL (c or m NULL;
 * outside a task, as it always waits; m stays locked). Spurious wake-ups
 * do not happen, but as with every condition variable, re-check the
 * condition in a loop. May suspend. */
CORIO_API int corio_cond_wait(corio_cond_t *c, corio_mutex_t *m);
/* The same with a deadline: also UV_ETIMEDOUT, UV_ENOMEM. */
CORIO_API int corio_cond_wait_dl(corio_cond_t *c, corio_mutex_t *m,
                                 uint64_t deadline);
/* Wake the longest waiter / every waiter, whether or not the caller holds
 * the mutex. Returns 0, or UV_EINVAL. Never suspends; any thread. */
CORIO_API int corio_cond_signal(corio_cond_t *c);
CORIO_API int corio_cond_broadcast(corio_cond_t *c);
/* Check that it can go: 0, UV_EBUSY while a task waits on it, UV_EINVAL.
 * Nothing to free. Never suspends; any thread. */
CORIO_API int corio_cond_destroy(corio_cond_t *c);

#ifdef __cplusplus
}
#endif

#endif
