/* The asymmetric barrier (barrier.h) on Linux's membarrier. */
#include "barrier.h"

#include <pthread.h>

#ifdef __linux__
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int available;


static void register_once(void) {
#if defined(__linux__) && defined(SYS_membarrier)
  long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

  if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
    available = 1;
#endif
}


int corio__asym_barrier_init(void) {
  pthread_once(&once, register_once);
  return available;
}


void corio__asym_barrier_heavy(void) {
#if defined(__linux__) && defined(SYS_membarrier)
  /* Registered by init: it cannot fail but for a kernel bug. */
  syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#endif
}
