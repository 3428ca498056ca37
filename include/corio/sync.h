/* corio/sync.h: synchronisation between tasks.
 *
 * Mutexes, semaphores, wait groups and condition variables that suspend
 * the waiting task, never its worker thread. They live in your memory
 * (a global, a struct field, a task's frame); all-zero is a valid initial
 * state, so `corio_mutex_t m = CORIO_MUTEX_INITIALIZER;` or a calloc'ed
 * struct needs no init call.
 *
 * Every call that waits has a twin with the suffix _dl taking an absolute
 * deadline in milliseconds of corio_now(), which returns UV_ETIMEDOUT once
 * it passes (and never before). corio_cancel(task) makes the task's
 * current or next waiting call return UV_ECANCELED; how to unwind is then
 * the task's business. A call that has to wait must be made from a task:
 * on a plain thread it returns UV_EINVAL instead of waiting (one that
 * need not wait, such as locking a free mutex, just succeeds). The calls
 * that never wait work from any thread.
 *
 * Destroying a primitive that a task still waits on returns UV_EBUSY and
 * changes nothing.
 */
#ifndef CORIO_SYNC_H
#define CORIO_SYNC_H

#include <stdint.h>

#include "corio/rt.h"
#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque storage; the fields are private to corio. */
#define CORIO__SYNC_SIZE 48
#define CORIO__SYNC_STORAGE \
  union { unsigned char bytes[CORIO__SYNC_SIZE]; uint64_t align; } _private

/* ------------------------------------------------------------------------
 * Mutex. First come, first served: unlock hands the mutex straight to the
 * longest waiter (no thundering herd, no barging), and an uncontended
 * lock or unlock is one atomic operation, no suspension. Any task may
 * unlock it (as with Go's sync.Mutex). */

typedef struct corio_mutex_s { CORIO__SYNC_STORAGE; } corio_mutex_t;
#define CORIO_MUTEX_INITIALIZER {{{0}}}

/* Lock, suspending until it is ours. Returns 0, UV_ECANCELED, UV_EINVAL
 * (NULL; not in a task). */
CORIO_API int corio_mutex_lock(corio_mutex_t *m);
/* The same with a deadline: UV_ETIMEDOUT once it passes. */
CORIO_API int corio_mutex_lock_dl(corio_mutex_t *m, uint64_t deadline);
/* Lock if free: 0, or UV_EBUSY. Never waits; any thread. */
CORIO_API int corio_mutex_trylock(corio_mutex_t *m);
/* Unlock: 0, or UV_EPERM if it was not locked. Never waits; any thread. */
CORIO_API int corio_mutex_unlock(corio_mutex_t *m);
/* 0, or UV_EBUSY if locked or waited on. */
CORIO_API int corio_mutex_destroy(corio_mutex_t *m);

/* ------------------------------------------------------------------------
 * Counting semaphore. Waiters are served in arrival order. */

typedef struct corio_sem_s { CORIO__SYNC_STORAGE; } corio_sem_t;

/* Set the count (the all-zero state has count 0). Not while in use. */
CORIO_API int corio_sem_init(corio_sem_t *s, int64_t count);
/* Take one, suspending while the count is 0. 0, UV_ECANCELED, UV_EINVAL. */
CORIO_API int corio_sem_acquire(corio_sem_t *s);
CORIO_API int corio_sem_acquire_dl(corio_sem_t *s, uint64_t deadline);
/* Take one if available: 0 or UV_EAGAIN. Any thread. */
CORIO_API int corio_sem_tryacquire(corio_sem_t *s);
/* Give back n (> 0): waiters first, the rest to the count. Any thread. */
CORIO_API int corio_sem_release(corio_sem_t *s, int64_t n);
CORIO_API int corio_sem_destroy(corio_sem_t *s);

/* ------------------------------------------------------------------------
 * Wait group: wait until a counter of outstanding jobs drops to zero. */

typedef struct corio_wg_s { CORIO__SYNC_STORAGE; } corio_wg_t;

/* Add n (may be negative) to the counter; at zero every waiter resumes.
 * UV_EINVAL if the counter would go negative (nothing changes). Any
 * thread. */
CORIO_API int corio_wg_add(corio_wg_t *wg, int64_t n);
/* corio_wg_add(wg, -1). */
CORIO_API int corio_wg_done(corio_wg_t *wg);
/* Suspend until the counter is zero (at once if it is). */
CORIO_API int corio_wg_wait(corio_wg_t *wg);
CORIO_API int corio_wg_wait_dl(corio_wg_t *wg, uint64_t deadline);
CORIO_API int corio_wg_destroy(corio_wg_t *wg);

/* ------------------------------------------------------------------------
 * Condition variable, used with a corio_mutex_t. */

typedef struct corio_cond_s { CORIO__SYNC_STORAGE; } corio_cond_t;

/* Unlock m, wait for a signal, lock m again (always, also when the wait
 * ended by deadline or cancel). m must be locked by the caller. Returns 0,
 * UV_ETIMEDOUT, UV_ECANCELED. Spurious wake-ups do not happen, but as with
 * every condition variable, re-check the condition in a loop. */
CORIO_API int corio_cond_wait(corio_cond_t *c, corio_mutex_t *m);
CORIO_API int corio_cond_wait_dl(corio_cond_t *c, corio_mutex_t *m,
                                 uint64_t deadline);
/* Wake the longest waiter / every waiter. Any thread. */
CORIO_API int corio_cond_signal(corio_cond_t *c);
CORIO_API int corio_cond_broadcast(corio_cond_t *c);
CORIO_API int corio_cond_destroy(corio_cond_t *c);

/* ------------------------------------------------------------------------
 * Cancellation. */

/* Make task's current waiting call (a sync wait above, corio_sleep) return
 * UV_ECANCELED, or if it is not waiting, its next one. Cancelling a
 * finished task does nothing. Returns 0, or UV_EINVAL for NULL. Any
 * thread; the handle must still be valid (not joined or detached). */
CORIO_API int corio_cancel(corio_task_t *task);

#ifdef __cplusplus
}
#endif

#endif
