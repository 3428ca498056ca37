/* A coroutine that runs off the end of its stack touches its PROT_NONE
 * guard page and the kernel raises SIGSEGV on that thread. The handler
 * cannot run on the exhausted stack, so every thread that runs coroutines
 * gets an alternate signal stack. The handler checks the fault address
 * against the guard page of the coroutine running on this thread; if it
 * matches it says so on stderr and lets the signal kill the process. Any
 * other fault is passed to the handler that was there before us, or to the
 * default action. */
#include "overflow.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro.h"

#define ALTSTACK_SIZE (64u * 1024u)

static struct sigaction previous_segv;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static pthread_key_t altstack_key;
static _Thread_local int thread_ready;


static size_t format_hex(char *out, uintptr_t v) {
  char tmp[2 + 2 * sizeof v];
  size_t n = 0, i;

  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  out[0] = '0';
  out[1] = 'x';
  for (i = 0; i < n; i++)
    out[2 + i] = tmp[n - 1 - i];
  return 2 + n;
}


/* Only async-signal-safe calls from here on: write, sigaction. */
static void overflow_report(uintptr_t addr, const corio__stack_t *st) {
  char msg[256];
  size_t n = 0;
  static const char head[] = "corio: coroutine stack overflow (fault at ";
  static const char mid[] = ", stack ";
  static const char tail[] = "); give the coroutine a larger stack_size\n";

  memcpy(msg + n, head, sizeof head - 1);
  n += sizeof head - 1;
  n += format_hex(msg + n, addr);
  memcpy(msg + n, mid, sizeof mid - 1);
  n += sizeof mid - 1;
  n += format_hex(msg + n, (uintptr_t)corio__stack_lo(st));
  msg[n++] = '-';
  n += format_hex(msg + n, (uintptr_t)corio__stack_hi(st));
  memcpy(msg + n, tail, sizeof tail - 1);
  n += sizeof tail - 1;
  (void)!write(STDERR_FILENO, msg, n);
}


static void segv_handler(int sig, siginfo_t *info, void *uctx) {
  corio_coro_t *co = corio_coro_current();
  uintptr_t addr = (uintptr_t)info->si_addr;
  struct sigaction dfl;

  if (co != NULL && co->stack.guard_size != 0 &&
      addr >= (uintptr_t)co->stack.map &&
      addr < (uintptr_t)co->stack.map + co->stack.guard_size) {
    overflow_report(addr, &co->stack);
  } else if ((previous_segv.sa_flags & SA_SIGINFO) &&
             previous_segv.sa_sigaction != NULL) {
    previous_segv.sa_sigaction(sig, info, uctx);
    return;
  } else if (previous_segv.sa_handler != SIG_DFL &&
             previous_segv.sa_handler != SIG_IGN &&
             previous_segv.sa_handler != NULL) {
    previous_segv.sa_handler(sig);
    return;
  }
  /* Returning re-executes the faulting access, which now takes the default
   * action: the process ends by SIGSEGV, core dump and all. */
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGSEGV, &dfl, NULL);
}


static void altstack_free(void *mem) {
  stack_t off;

  memset(&off, 0, sizeof off);
  off.ss_flags = SS_DISABLE;
  sigaltstack(&off, NULL);
  munmap(mem, ALTSTACK_SIZE);
}


static void handler_install(void) {
  struct sigaction sa;

  pthread_key_create(&altstack_key, altstack_free);
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = segv_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &previous_segv);
}


/* Noinline for the same reason as corio_coro_current: the flag must be
 * this thread's, whatever thread the caller started on. */
__attribute__((noinline)) static int *thread_ready_slot(void) {
  return &thread_ready;
}


void corio__overflow_thread_init(void) {
  int *ready = thread_ready_slot();
  stack_t ss, old;
  void *mem;

  if (*ready)
    return;
  *ready = 1;
  pthread_once(&handler_once, handler_install);
  /* Keep an alternate stack the thread already has (ASan sets one up). */
  if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE) &&
      old.ss_size >= ALTSTACK_SIZE / 4)
    return;
  mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    return; /* no report then, but the fault still kills the process */
  memset(&ss, 0, sizeof ss);
  ss.ss_sp = mem;
  ss.ss_size = ALTSTACK_SIZE;
  if (sigaltstack(&ss, NULL) != 0) {
    munmap(mem, ALTSTACK_SIZE);
    return;
  }
  pthread_setspecific(altstack_key, mem);
}
