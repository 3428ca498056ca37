/* corio_await (corio/uv.h): what lib/net needs beyond the public calls. */
#ifndef CORIO_IO_AWAIT_H
#define CORIO_IO_AWAIT_H

#include "corio/uv.h"
#include "loop/loop.h"

/* For an await whose request uv_cancel cannot stop (a connect, a write, an
 * accept waiting in a queue): fn(arg) runs on the loop thread if the wait
 * gives up before the request finished, and must make the request finish
 * (corio_await_done) soon. Call from start. */
void corio__await_on_give_up(corio_await_t *aw, void (*fn)(void *), void *arg);

/* corio_await_dl on a given loop: the reactor's, or a worker's (a socket
 * bound there, docs/DESIGN.md 8). Same results. */
int corio__await_loop_dl(corio__loop_t *lp, corio_await_start_fn start,
                         void *arg, intptr_t *result, uint64_t deadline);

/* Close n handles of rt's loop (uv_close, on the loop thread) and wait
 * until all are closed, whatever cancels come (each is given back to the
 * caller afterwards): the memory of a record that holds them may go once
 * this returns. Their data pointers are overwritten. A task or a plain
 * thread. */
void corio__close_handles(corio_rt_t *rt, uv_handle_t *const *hs, size_t n);

/* Nonzero if a plain thread (not a task) waits in aw. */
int corio__await_by_thread(corio_await_t *aw);

#endif
