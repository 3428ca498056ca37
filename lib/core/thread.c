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


void corio__block_async_signals(void) {
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
                             SIGCHLD, SIGALRM, SIGWINCH, SIGPIPE};
  sigset_t set;

  sigemptyset(&set);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaddset(&set, sigs[i]);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}


void corio__thread_name(const char *name) {
#if defined(__linux__)
  char buf[16];
  size_t i;

  for (i = 0; i < sizeof buf - 1 && name[i] != '\0'; i++)
    buf[i] = name[i];
  buf[i] = '\0';
  pthread_setname_np(pthread_self(), buf);
#elif defined(__APPLE__)
  pthread_setname_np(name);
#else
  (void)name;
#endif
}
