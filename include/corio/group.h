/* corio/group.h: task groups, a parent that owns its children.
 *
 *   corio_group_t *g;
 *   corio_group_new(corio_current_rt(), CORIO_GROUP_FAIL_FAST, &g);
 *   corio_group_spawn(g, fetch_one, &a);
 *   corio_group_spawn(g, fetch_one, &b);
 *   int err = corio_group_close(g);  // waits for both: 0 or the first failure
 *
 * A group's members are tasks that return an int: 0 for success, anything
 * else (a negative libuv code by convention) for a failure; the group
 * keeps the first failure. Closing a group cancels the members still
 * running (corio_cancel: their current or next wait returns UV_ECANCELED)
 * and waits until every one has ended, so a function that opens a group
 * and closes it before it returns cannot leave a child behind (Trio's
 * nurseries, libdill's bundles, Go's errgroup, Tokio's JoinSet).
 *
 * Cancellation goes downwards: a task cancelled while it waits on a group
 * (corio_group_wait, _next, _close) cancels that group's members before
 * its wait returns UV_ECANCELED. A member that itself opened a group and
 * waits on it passes the cancel on to its own members, and so on down.
 *
 * A member that had not started when its group was cancelled still runs
 * (it may own something to release, such as a connection), with the
 * cancel pending for its first wait.
 *
 * Waits (wait, next, close) suspend the calling task and must be made from
 * a task; elsewhere they return UV_EINVAL, unless there is nothing to wait
 * for. Several tasks may wait on one group at once. new, spawn, cancel and
 * size never suspend and work from any thread. Errors are negative libuv
 * codes. A group is freed by corio_group_close only; using it after is
 * undefined.
 */
#ifndef CORIO_GROUP_H
#define CORIO_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "corio/rt.h"
#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_group_s corio_group_t;

/* A member: returns 0, or nonzero for a failure. */
typedef int (*corio_group_fn)(void *arg);

/* The first member that fails cancels the others (errgroup). Without it,
 * members are independent: a failure is only kept (a server's
 * connections). */
#define CORIO_GROUP_FAIL_FAST 1u
/* Keep each ended member's result until corio_group_next takes it.
 * Without it, results are dropped as members end (only the first failure
 * is kept): a long-lived group (a server) holds nothing per ended task. */
#define CORIO_GROUP_RESULTS 2u

/* A new, empty group whose members run on rt. flags: CORIO_GROUP_*.
 * Returns 0 and *out, UV_EINVAL, UV_ENOMEM. Any thread. */
CORIO_API int corio_group_new(corio_rt_t *rt, unsigned flags, corio_group_t **out);

/* Start fn(arg) as a member. Returns 0, UV_ECANCELED (the group was
 * cancelled or is closing: fn does not run), UV_EINVAL, UV_ENOMEM. Any
 * thread; does not suspend. */
CORIO_API int corio_group_spawn(corio_group_t *g, corio_group_fn fn, void *arg);

/* Wait until no member is left (members may start meanwhile). Returns
 * the group's first failure or 0, UV_ETIMEDOUT (_dl; the members run on),
 * UV_ECANCELED (the caller was cancelled: the members are cancelled too,
 * and still to be waited for), UV_EINVAL. With CORIO_GROUP_RESULTS, the
 * results not taken by corio_group_next are dropped. */
CORIO_API int corio_group_wait(corio_group_t *g);
CORIO_API int corio_group_wait_dl(corio_group_t *g, uint64_t deadline);

/* Wait for the next member to end (with CORIO_GROUP_RESULTS; members in
 * the order they ended) and take its result into *result. Returns 0,
 * UV_EOF when no member is left to end, UV_ETIMEDOUT, UV_ECANCELED (as
 * for wait), UV_EINVAL (no CORIO_GROUP_RESULTS, result NULL). */
CORIO_API int corio_group_next(corio_group_t *g, int *result);
CORIO_API int corio_group_next_dl(corio_group_t *g, int *result, uint64_t deadline);

/* Cancel every member that is running, and every member spawned later
 * (corio_group_spawn then returns UV_ECANCELED). Returns 0 or UV_EINVAL.
 * Any thread; does not suspend. */
CORIO_API int corio_group_cancel(corio_group_t *g);

/* Cancel the group, wait until every member has ended, free it. Returns
 * the first failure of a member (a member cancelled by the close itself
 * is not a failure), or 0; UV_ETIMEDOUT (_dl): members are still running,
 * cancelled; the group is not freed: close it again. UV_EINVAL: NULL, or
 * outside a task with members left. */
CORIO_API int corio_group_close(corio_group_t *g);
CORIO_API int corio_group_close_dl(corio_group_t *g, uint64_t deadline);

/* A graceful stop: wait until deadline for the members to end by
 * themselves, then cancel those left and wait until they have ended.
 * Returns 0 if they all ended by the deadline, UV_ETIMEDOUT if some had
 * to be cancelled (all have ended by now), UV_ECANCELED if the caller was
 * cancelled (the members are cancelled, and waited for all the same),
 * UV_EINVAL (NULL, or outside a task with members left). The group stays
 * open: close it (at once) to free it. A member that never waits again
 * after its cancel keeps this waiting. */
CORIO_API int corio_group_drain(corio_group_t *g, uint64_t deadline);

/* Members started and not yet ended. Any thread. */
CORIO_API size_t corio_group_size(corio_group_t *g);

#ifdef __cplusplus
}
#endif

#endif
