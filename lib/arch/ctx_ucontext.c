/* The portable fallback: POSIX ucontext, chosen at configure time
 * (CORIO_CONTEXT=ucontext) on targets without an assembly switch. It is
 * much slower (swapcontext saves the signal mask with a system call) but
 * keeps the same contract as the assembly versions. */
#include "ctx.h"

#include <stdint.h>

/* The value in flight. Written and read by the same thread around one
 * swap: the switching thread sets it, the resumed code, now on that same
 * thread, reads it before it can switch again. */
static _Thread_local void *ctx_transfer;


/* Not inlined, so that the address of the thread-local is computed afresh
 * on whatever thread the context resumed on (docs/DESIGN.md 3a). */
__attribute__((noinline)) static void **ctx_transfer_slot(void) {
  return &ctx_transfer;
}


/* makecontext passes int arguments only: the entry function travels as
 * two 32-bit halves. */
static void ctx_trampoline(unsigned int hi, unsigned int lo) {
  uintptr_t bits = ((uintptr_t)hi << 16 << 16) | (uintptr_t)lo;
  corio__ctx_entry_fn entry = (corio__ctx_entry_fn)bits;

  entry(*ctx_transfer_slot());
}


void corio__ctx_make(corio__ctx_t *ctx, void *stack, size_t size,
                     corio__ctx_entry_fn entry) {
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = stack;
  ctx->uc.uc_stack.ss_size = size;
  ctx->uc.uc_link = NULL;
  uintptr_t bits = (uintptr_t)entry;

  makecontext(&ctx->uc, (void (*)(void))ctx_trampoline, 2,
              (unsigned int)(bits >> 16 >> 16), (unsigned int)(bits & 0xFFFFFFFFu));
}


void *corio__ctx_switch(corio__ctx_t *from, corio__ctx_t *to, void *value) {
  *ctx_transfer_slot() = value;
  swapcontext(&from->uc, &to->uc);
  return *ctx_transfer_slot();
}
