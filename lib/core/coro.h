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

/* The stack a coroutine of these options needs: its usable size (record
 * included) and whether it has a guard page. Returns 0 or UV_EINVAL. */
int corio__coro_stack_shape(const corio_coro_options_t *opts, size_t *usable,
                            int *guarded);

/* Create a coroutine on a stack of corio__coro_stack_shape's shape taken
 * by the caller (the coroutine owns it from here: corio_coro_free gives it
 * back). Touches the stack's top lines only. Cannot fail. */
corio_coro_t *corio__coro_create_on(const corio__stack_t *st, corio_coro_fn fn,
                                    void *arg);

#endif
