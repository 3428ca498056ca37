/* void *corio__ctx_switch(corio__ctx_t *from, corio__ctx_t *to, void *value)
 * x86-64 System V: rdi = from, rsi = to, rdx = value.
 * Saves only what the ABI says a callee preserves: rbx, rbp, r12-r15, the
 * MXCSR control bits and the x87 control word. The value comes back in rax
 * (for a resumed switch) and in rdi (the argument of a fresh entry). */
#if defined(__APPLE__)
#define SYM(name) _##name
#else
#define SYM(name) name
#endif

  .text
  .globl SYM(corio__ctx_switch)
#if !defined(__APPLE__)
  .type corio__ctx_switch, @function
  .hidden corio__ctx_switch
#else
  .private_extern SYM(corio__ctx_switch)
#endif
  .p2align 4
SYM(corio__ctx_switch):
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)

  movq (%rsi), %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  movq %rdx, %rax
  movq %rdx, %rdi
  ret
#if !defined(__APPLE__)
  .size corio__ctx_switch, .-corio__ctx_switch
  .section .note.GNU-stack,"",@progbits
#endif
