/* corio__ctx_make for the assembly switches: lay out a first frame that
 * the switch's epilogue "returns" into. The layout must match the pops in
 * switch_x86_64_sysv.S / switch_aarch64_aapcs.S. */
#include "ctx.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)

/* From the saved stack pointer upwards: MXCSR (4 bytes) and x87 control
 * word (2) in an 8-byte slot, r15 r14 r13 r12 rbx rbp, the return address
 * (the entry function), then a zero "return address" for the entry
 * function itself so that it starts with rsp = 8 mod 16 as if called. */
void corio__ctx_make(corio__ctx_t *ctx, void *stack, size_t size,
                     corio__ctx_entry_fn entry) {
  uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
  uint64_t *sp = (uint64_t *)top;
  uint32_t mxcsr = 0x1F80; /* the System V default: all exceptions masked */
  uint16_t fpucw = 0x037F; /* the System V default x87 control word */

  *--sp = 0;                        /* fake return address of entry */
  *--sp = (uint64_t)(uintptr_t)entry;
  sp -= 6;                          /* rbp rbx r12 r13 r14 r15 */
  memset(sp, 0, 6 * sizeof *sp);
  *--sp = 0;
  memcpy(sp, &mxcsr, sizeof mxcsr);
  memcpy((char *)sp + 4, &fpucw, sizeof fpucw);
  ctx->sp = sp;
}

#elif defined(__aarch64__)

/* A 176-byte frame: x19..x28 (80), x29 and x30 (16), d8..d15 (64), FPCR
 * and padding (16). x30 holds the entry function, so the switch's final
 * `ret` enters it; x29 = 0 ends frame-pointer chains there. */
void corio__ctx_make(corio__ctx_t *ctx, void *stack, size_t size,
                     corio__ctx_entry_fn entry) {
  uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
  uint64_t *sp = (uint64_t *)(top - 176);

  memset(sp, 0, 176);
  sp[11] = (uint64_t)(uintptr_t)entry; /* x30 */
  ctx->sp = sp;
}

#else
#error "no assembly context switch for this architecture; configure with -DCORIO_CONTEXT=ucontext"
#endif
