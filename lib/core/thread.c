/* Per-thread setup of corio's threads (thread.h). */
#include "thread.h"

#include <pthread.h>
#include <signal.h>


void corio__block_sigpipe(void) {
  sigset_t set;

  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}
