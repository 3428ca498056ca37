/* Futex wrappers. The private variants: the words are never shared
 * between processes. */
#include "futex.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void corio__futex_wait(_Atomic(uint32_t) *word, uint32_t expected) {
  syscall(SYS_futex, (uint32_t *)(uintptr_t)word, FUTEX_WAIT_PRIVATE, expected, NULL,
          NULL, 0);
}


void corio__futex_wait_ns(_Atomic(uint32_t) *word, uint32_t expected,
                          uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};

  /* FUTEX_WAIT takes a relative timeout */
  syscall(SYS_futex, (uint32_t *)(uintptr_t)word, FUTEX_WAIT_PRIVATE, expected,
          &ts, NULL, 0);
}


void corio__futex_wake(_Atomic(uint32_t) *word, int n) {
  syscall(SYS_futex, (uint32_t *)(uintptr_t)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

#else
/* Elsewhere: one process-wide mutex and condition variable. Waking is
 * broadcast, which is correct (waiters re-check) if not optimal. */
#include <pthread.h>
#include <time.h>

static pthread_mutex_t futex_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t futex_cond = PTHREAD_COND_INITIALIZER;

void corio__futex_wait(_Atomic(uint32_t) *word, uint32_t expected) {
  pthread_mutex_lock(&futex_mutex);
  if (atomic_load(word) == expected)
    pthread_cond_wait(&futex_cond, &futex_mutex);
  pthread_mutex_unlock(&futex_mutex);
}


void corio__futex_wait_ns(_Atomic(uint32_t) *word, uint32_t expected,
                          uint64_t ns) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += (time_t)(ns / 1000000000u);
  ts.tv_nsec += (long)(ns % 1000000000u);
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&futex_mutex);
  if (atomic_load(word) == expected)
    pthread_cond_timedwait(&futex_cond, &futex_mutex, &ts);
  pthread_mutex_unlock(&futex_mutex);
}


void corio__futex_wake(_Atomic(uint32_t) *word, int n) {
  (void)word;
  (void)n;
  pthread_mutex_lock(&futex_mutex);
  pthread_cond_broadcast(&futex_cond);
  pthread_mutex_unlock(&futex_mutex);
}
#endif
