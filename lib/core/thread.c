/* Per-thread setup of corio's threads, and a safe read (thread.h). */
#include "thread.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/uio.h>
#include <unistd.h>


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


int corio__peek(const void *addr, void *out, size_t len) {
  struct iovec local = {out, len}, remote = {(void *)(uintptr_t)addr, len};

  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len;
}
