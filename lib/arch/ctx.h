/* Machine contexts: the one primitive every coroutine switch is made of.
 *
 * A context is the saved state of a suspended stack. corio__ctx_switch()
 * saves the running code's callee-saved registers and FP control state into
 * `from` and continues `to`, passing `value` across: the code that resumes
 * in `to` sees it as the return value of its own corio__ctx_switch() call,
 * or, for a context that never ran, as the argument of its entry function.
 */
#ifndef CORIO_ARCH_CTX_H
#define CORIO_ARCH_CTX_H

#include <stddef.h>

#if defined(CORIO_CTX_UCONTEXT)
#include <ucontext.h>
typedef struct corio__ctx {
  ucontext_t uc;
} corio__ctx_t;
#else
typedef struct corio__ctx {
  void *sp; /* the stack pointer of the suspended code; all else is on its stack */
} corio__ctx_t;
#endif

typedef void (*corio__ctx_entry_fn)(void *value);

/* Prepare `ctx` to run entry(value) on the stack [stack, stack + size) the
 * first time it is switched to. `entry` must never return. */
void corio__ctx_make(corio__ctx_t *ctx, void *stack, size_t size,
                     corio__ctx_entry_fn entry);

/* Save the current state into `from`, continue `to`. Returns the value the
 * context that eventually switches back to `from` passes. */
void *corio__ctx_switch(corio__ctx_t *from, corio__ctx_t *to, void *value);

#endif
