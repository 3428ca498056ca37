/* Uses corio through its installed headers and library. */
#include <corio.h>
#include <stdint.h>
#include <stdio.h>

static void *twice(void *arg) {
  corio_coro_yield(arg, NULL);
  return (void *)((uintptr_t)arg * 2);
}

int main(void) {
  corio_coro_t *co;
  void *a, *b;

  if (corio_coro_new(twice, (void *)21, NULL, &co) != 0)
    return 1;
  if (corio_coro_resume(co, NULL, &a) != CORIO_CORO_YIELDED ||
      corio_coro_resume(co, NULL, &b) != CORIO_CORO_FINISHED)
    return 2;
  corio_coro_free(co);
  if ((uintptr_t)a != 21 || (uintptr_t)b != 42)
    return 3;
  printf("consumer ok (libuv %s)\n", uv_version_string());
  return 0;
}
