/* void *corio__ctx_switch(corio__ctx_t *from, corio__ctx_t *to, void *value)
 * x86-64 System V: rdi = from, rsi = to, rdx = value.
 * Saves only what the ABI says a callee preserves: rbx, rbp, r12-r15, the
 * MXCSR control bits and the x87 control word. The value comes back in rax
 * (for a resumed switch) and in rdi (the argument of a fresh entry).
 *
 * It ends in pop + indirect jmp rather than `ret`: a `ret` here always
 * goes somewhere other than where the return-stack predictor expects (the
 * other context's call site), and the misprediction doubled the cost of a
 * switch on the machines we measured (docs/BENCHMARKS.md). */
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
  pushq $0                /* a zeroed slot, so the compare below is exact */
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsp, %r10

  movq (%rsi), %rsp
  /* Loading MXCSR and the x87 control word is microcoded and slow, and
   * they almost never differ between contexts: compare, load if not.
   * Only MXCSR's control bits count: its low six bits are sticky status
   * flags (an inexact division anywhere sets one, and threads inherit
   * them from their creator), which the ABI leaves to the caller; with
   * them compared, a worker started after one division took the slow
   * path on every switch. Our own words are read back at the size they
   * were stored (4 and 2 bytes): one 8-byte load over two narrower fresh
   * stores cannot be forwarded from the store buffer and stalls until
   * they retire. */
  movl (%r10), %eax
  movzwl 4(%r10), %ecx
  xorl (%rsp), %eax
  testl $0xffc0, %eax
  jnz 1f
  cmpw 4(%rsp), %cx
  jne 1f
2:
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  movq %rdx, %rax
  movq %rdx, %rdi
  popq %r8 /* not `ret`: see the note at the top */
  jmp *%r8
1:
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  jmp 2b
#if !defined(__APPLE__)
  .size corio__ctx_switch, .-corio__ctx_switch
  .section .note.GNU-stack,"",@progbits
#endif
