/* generator: the coroutine core alone, no runtime. A generator coroutine yields
 * Fibonacci numbers; main pulls them out one at a time. */
#include <corio.h>
#include <stdint.h>
#include <stdio.h>

static void *fibonacci(void *arg) {
  uintptr_t count = (uintptr_t)arg, a = 0, b = 1, i;

  for (i = 0; i < count; i++) {
    uintptr_t next = a + b;
    corio_coro_yield((void *)a, NULL); /* hand a to main, wait to be resumed */
    a = b;
    b = next;
  }
  return (void *)a; /* fib(count) */
}

int main(void) {
  corio_coro_t *gen;
  void *value;
  int err;

  err = corio_coro_new(fibonacci, (void *)20, NULL, &gen);
  if (err != 0) {
    fprintf(stderr, "generator: %s\n", uv_strerror(err));
    return 1;
  }
  printf("the first Fibonacci numbers from a generator coroutine\n");
  while (corio_coro_resume(gen, NULL, &value) == CORIO_CORO_YIELDED)
    printf("%lu ", (unsigned long)(uintptr_t)value);
  printf("\nfib(20) = %lu\n", (unsigned long)(uintptr_t)value);
  corio_coro_free(gen);
  return 0;
}
