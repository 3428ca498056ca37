/* void *corio__ctx_switch(corio__ctx_t *from, corio__ctx_t *to, void *value)
 * AArch64 AAPCS64: x0 = from, x1 = to, x2 = value.
 * Saves what a callee preserves: x19-x28, x29 (fp), x30 (lr), the low
 * halves d8-d15 of v8-v15, and FPCR. The value comes back in x0, which is
 * also the argument of a fresh entry function. */
#if defined(__APPLE__)
#define SYM(name) _##name
#else
#define SYM(name) name
#endif

  .text
  .globl SYM(corio__ctx_switch)
#if !defined(__APPLE__)
  .type corio__ctx_switch, %function
  .hidden corio__ctx_switch
#else
  .private_extern SYM(corio__ctx_switch)
#endif
  .p2align 4
SYM(corio__ctx_switch):
  sub sp, sp, #176
  stp x19, x20, [sp, #0]
  stp x21, x22, [sp, #16]
  stp x23, x24, [sp, #32]
  stp x25, x26, [sp, #48]
  stp x27, x28, [sp, #64]
  stp x29, x30, [sp, #80]
  stp d8, d9, [sp, #96]
  stp d10, d11, [sp, #112]
  stp d12, d13, [sp, #128]
  stp d14, d15, [sp, #144]
  mrs x9, fpcr
  str x9, [sp, #160]
  mov x9, sp
  str x9, [x0]

  ldr x9, [x1]
  mov sp, x9
  ldp x19, x20, [sp, #0]
  ldp x21, x22, [sp, #16]
  ldp x23, x24, [sp, #32]
  ldp x25, x26, [sp, #48]
  ldp x27, x28, [sp, #64]
  ldp x29, x30, [sp, #80]
  ldp d8, d9, [sp, #96]
  ldp d10, d11, [sp, #112]
  ldp d12, d13, [sp, #128]
  ldp d14, d15, [sp, #144]
  ldr x9, [sp, #160]
  msr fpcr, x9
  add sp, sp, #176
  mov x0, x2
  ret
#if !defined(__APPLE__)
  .size corio__ctx_switch, .-corio__ctx_switch
  .section .note.GNU-stack,"",@progbits
#endif
