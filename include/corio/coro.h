/* corio/coro.h: the coroutine core.
 *
 * Stackful coroutines driven by hand, on the calling thread: create one,
 * resume it, and it runs until it yields or returns. A value travels with
 * every resume (in) and every yield or return (out). This is the layer
 * the scheduler (corio/rt.h) is built on; use it directly for generators,
 * state machines and the like, where you want the switch and nothing else.
 *
 * Stacks are mmap'ed with a PROT_NONE guard page below each (by default),
 * and come from a per-thread cache before the kernel is asked. Running
 * past the end of a guarded stack stops the process with the message
 * "corio: coroutine stack overflow" on stderr and SIGSEGV, never silent
 * corruption. A frame larger than the guard page can jump over it: keep
 * big buffers off coroutine stacks, or build with -fstack-clash-protection.
 *
 * Threads: a coroutine may be resumed from any thread, one resume at a
 * time; it runs on the thread that resumed it, until it yields or returns.
 */
#ifndef CORIO_CORO_H
#define CORIO_CORO_H

#include <stddef.h>

#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_coro_s corio_coro_t;

/* The body of a coroutine: gets the `arg` given at creation; what it
 * returns is handed to the resume that saw it finish. */
typedef void *(*corio_coro_fn)(void *arg);

/* Default usable stack size: 256 KiB of address space, of which only the
 * pages a coroutine touches cost memory. */
#define CORIO_STACK_DEFAULT (256u * 1024u)
/* Smallest and largest stack size accepted; outside them, UV_EINVAL. */
#define CORIO_STACK_MIN (16u * 1024u)
#define CORIO_STACK_MAX ((size_t)1 << 30)

/* Options for one coroutine. All-zero means the defaults. */
typedef struct corio_coro_options_s {
  /* Usable stack bytes, rounded up to whole pages. 0: CORIO_STACK_DEFAULT. */
  size_t stack_size;
  /* Nonzero: no guard page. Each guarded stack costs the kernel two memory
   * mappings and Linux caps a process at vm.max_map_count (65530 by
   * default), so guarded stacks stop near 32,000 live coroutines. Unguarded
   * stacks merge into few mappings and allow millions, but an overflow then
   * corrupts whatever lies below instead of stopping the process. */
  int unguarded;
} corio_coro_options_t;

/* What corio_coro_resume returns when the coroutine yielded, or finished. */
#define CORIO_CORO_YIELDED 1
#define CORIO_CORO_FINISHED 0

/* Create a suspended coroutine that will run fn(arg) when first resumed.
 * opts may be NULL (defaults). Returns 0 and sets *co, or UV_EINVAL (bad
 * arguments, stack size out of range) or UV_ENOMEM (no memory or no more
 * memory mappings). Does not suspend; any thread. */
CORIO_API int corio_coro_new(corio_coro_fn fn, void *arg,
                             const corio_coro_options_t *opts, corio_coro_t **co);

/* Run co on the calling thread until it yields or returns. `in` becomes the
 * value its pending corio_coro_yield() reports (ignored on the first
 * resume, which starts fn(arg)). *out (if out is not NULL) receives the
 * yielded value or fn's result. Returns CORIO_CORO_YIELDED,
 * CORIO_CORO_FINISHED, or UV_EINVAL if co is NULL, finished, or running.
 * Suspends the caller only in the sense that co runs first; any thread. */
CORIO_API int corio_coro_resume(corio_coro_t *co, void *in, void **out);

/* Suspend the running coroutine and return to whoever resumed it, handing
 * it `value`. Returns 0 when resumed again, with *in (if not NULL) set to
 * the resumer's `in`; UV_EINVAL when called outside a coroutine. Only from
 * inside a coroutine. In a task's own body (corio/rt.h) the resumer is the
 * scheduler: there it acts as corio_yield (value is dropped). */
CORIO_API int corio_coro_yield(void *value, void **in);

/* The coroutine running on the calling thread, or NULL on a plain thread. */
CORIO_API corio_coro_t *corio_coro_current(void);

/* Nonzero once co's function has returned. */
CORIO_API int corio_coro_finished(const corio_coro_t *co);

/* Release co and its stack (to the calling thread's stack cache). A
 * suspended coroutine is discarded without running any more of it: what
 * its stack pointed to is the caller's to free. Returns 0, or UV_EBUSY if
 * co is running (itself or a coroutine that resumed another). Any thread
 * where co is not running. */
CORIO_API int corio_coro_free(corio_coro_t *co);

/* How many free stacks the calling thread's cache holds (for tests and
 * tuning), and a way to give them all back to the kernel. */
CORIO_API size_t corio_stack_cache_count(void);
CORIO_API void corio_stack_cache_drain(void);

#ifdef __cplusplus
}
#endif

#endif
