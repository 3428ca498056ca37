/* The coroutine record, shared by the core and the scheduler. It sits at
 * the top of the coroutine's own stack mapping, so a coroutine costs one
 * mapping and no malloc. */
#ifndef CORIO_CORE_CORO_H
#define CORIO_CORE_CORO_H

#include "corio/coro.h"
#include "../arch/ctx.h"
#include "stack.h"

enum corio__coro_state {
  CORIO__CORO_SUSPENDED,
  CORIO__CORO_RUNNING,
  CORIO__CORO_FINISHED
};

struct corio_coro_s {
  corio__ctx_t ctx;          /* where it is suspended */
  corio__ctx_t *resumer;     /* where a yield goes: the resume's frame */
  corio_coro_t *outer;       /* the coroutine that resumed this one, if any */
  corio_coro_fn fn;
  void *arg;
  corio__stack_t stack;
  int state;
  int started;
  /* Sanitizer bookkeeping (unused in normal builds). */
  void *asan_fake;           /* this coroutine's fake stack while away */
  const void *resumer_bottom;/* the resumer's stack, learned on switch-in */
  size_t resumer_size;
  void *tsan_fiber;
  void *tsan_resumer;
};

/* Create with `extra` bytes reserved beside the record (aligned to 64),
 * for the scheduler's task state; corio__coro_extra() finds them. */
int corio__coro_create(corio_coro_t **co, corio_coro_fn fn, void *arg,
                       const corio_coro_options_t *opts, size_t extra);

static inline void *corio__coro_extra(corio_coro_t *co) {
  return (char *)co + ((sizeof(*co) + 63) & ~(size_t)63);
}

#endif
