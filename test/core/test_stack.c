/* Stacks: the per-thread cache, size limits, running out of mappings. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include <pthread.h>

#include "corio.h"
#include "core/stack.h"
#include "../support/sizes.h"

static void *returns_arg(void *arg) {
  return arg;
}

Test(stack, finished_coroutines_give_their_stacks_to_the_cache) {
  enum { N = 20 };
  corio_coro_t *co[N];
  size_t before;
  int i;

  corio_stack_cache_drain();
  cr_assert_eq(corio_stack_cache_count(), 0);
  for (i = 0; i < N; i++) {
    cr_assert_eq(corio_coro_new(returns_arg, NULL, NULL, &co[i]), 0);
    cr_assert_eq(corio_coro_resume(co[i], NULL, NULL), CORIO_CORO_FINISHED);
  }
  before = corio_stack_cache_count();
  for (i = 0; i < N; i++)
    corio_coro_free(co[i]);
  cr_assert_eq(corio_stack_cache_count(), before + N);

  /* Creating takes them back out, without asking the kernel. */
  for (i = 0; i < N; i++)
    cr_assert_eq(corio_coro_new(returns_arg, NULL, NULL, &co[i]), 0);
  cr_assert_eq(corio_stack_cache_count(), before);
  for (i = 0; i < N; i++)
    corio_coro_free(co[i]);
  corio_stack_cache_drain();
  cr_assert_eq(corio_stack_cache_count(), 0);
}

Test(stack, cached_stack_of_another_size_is_not_reused) {
  corio_coro_options_t small = {.stack_size = 32 * 1024};
  corio_coro_t *co;

  corio_stack_cache_drain();
  cr_assert_eq(corio_coro_new(returns_arg, NULL, &small, &co), 0);
  corio_coro_free(co);
  cr_assert_eq(corio_stack_cache_count(), 1);
  cr_assert_eq(corio_coro_new(returns_arg, NULL, NULL, &co), 0);
  cr_assert_eq(corio_stack_cache_count(), 1, "default size needs a new stack");
  cr_assert_eq(corio_coro_resume(co, (void *)5, NULL), CORIO_CORO_FINISHED);
  corio_coro_free(co);
  corio_stack_cache_drain();
}

Test(stack, absurd_stack_sizes_are_refused) {
  corio_coro_options_t opts = {0};
  corio_coro_t *co = NULL;

  opts.stack_size = SIZE_MAX;
  cr_assert_eq(corio_coro_new(returns_arg, NULL, &opts, &co), UV_EINVAL);
  opts.stack_size = CORIO_STACK_MAX + 1;
  cr_assert_eq(corio_coro_new(returns_arg, NULL, &opts, &co), UV_EINVAL);
  opts.stack_size = 100;
  cr_assert_eq(corio_coro_new(returns_arg, NULL, &opts, &co), UV_EINVAL);
  cr_assert_null(co);

  opts.stack_size = CORIO_STACK_MAX; /* legal: address space only */
  cr_assert_eq(corio_coro_new(returns_arg, (void *)3, &opts, &co), 0);
  cr_assert_eq(corio_coro_resume(co, NULL, NULL), CORIO_CORO_FINISHED);
  corio_coro_free(co);
}

static void *parks(void *arg) {
  corio_coro_yield(NULL, NULL);
  return arg;
}

/* Guarded stacks cost two mappings each; the kernel's vm.max_map_count
 * ends creation with UV_ENOMEM, never a crash, and freeing makes room. */
Test(stack, running_out_of_mappings_is_enomem, .timeout = 120) {
  enum { CAP = 70000 };
  corio_coro_options_t opts = {.stack_size = CORIO_STACK_MIN};
  corio_coro_t **co = calloc(CAP, sizeof *co);
  size_t n = 0, i;
  int err = 0;

  if (CORIO_TEST_UNDER_TSAN)
    cr_skip_test("TSan allows 8128 fibers, fewer than the mapping limit");
  if (CORIO_TEST_UNDER_VALGRIND)
    cr_skip_test("Valgrind tracks fewer segments than the mapping limit");
  cr_assert_not_null(co);
  while (n < CAP) {
    err = corio_coro_new(parks, NULL, &opts, &co[n]);
    if (err != 0)
      break;
    n++;
  }
  cr_assert_eq(err, UV_ENOMEM, "creation stops with UV_ENOMEM (got %d after %zu)",
               err, n);
  cr_assert_gt(n, 1000);
  /* The ones made still work. */
  cr_assert_eq(corio_coro_resume(co[0], NULL, NULL), CORIO_CORO_YIELDED);
  for (i = 0; i < n; i++)
    corio_coro_free(co[i]);
  corio_stack_cache_drain();
  cr_assert_eq(corio_coro_new(parks, NULL, &opts, &co[0]), 0);
  corio_coro_free(co[0]);
  free(co);
}

/* Unguarded stacks merge into few mappings: far more than the guarded
 * limit can be alive at once. */
Test(stack, unguarded_stacks_go_past_the_mapping_limit, .timeout = 120) {
  enum { N = 40000 };
  corio_coro_options_t opts = {.stack_size = CORIO_STACK_MIN, .unguarded = 1};
  corio_coro_t **co = calloc(N, sizeof *co);
  size_t i;

  if (CORIO_TEST_UNDER_TSAN)
    cr_skip_test("TSan allows 8128 fibers, fewer than the mapping limit");
  if (CORIO_TEST_UNDER_VALGRIND)
    cr_skip_test("Valgrind tracks fewer segments than the mapping limit");
  cr_assert_not_null(co);
  for (i = 0; i < N; i++) {
    cr_assert_eq(corio_coro_new(parks, (void *)i, &opts, &co[i]), 0,
                 "coroutine %zu", i);
    cr_assert_eq(corio_coro_resume(co[i], NULL, NULL), CORIO_CORO_YIELDED);
  }
  for (i = 0; i < N; i++) {
    void *out;
    cr_assert_eq(corio_coro_resume(co[i], NULL, &out), CORIO_CORO_FINISHED);
    cr_assert_eq((size_t)out, i);
    corio_coro_free(co[i]);
  }
  corio_stack_cache_drain();
  free(co);
}

/* Stacks freed on one thread in bulk flow to another through the shared
 * pool instead of going back to the kernel. */
enum { CROSS_N = 600 };

static void *frees_them(void *arg) {
  corio_coro_t **co = arg;

  for (int i = 0; i < CROSS_N; i++)
    corio_coro_free(co[i]);
  return NULL;
}

Test(stack, stacks_freed_on_another_thread_come_back_through_the_pool) {
  corio_coro_t **co = calloc(CROSS_N, sizeof *co);
  pthread_t th;
  size_t pooled;
  int i;

  corio_stack_cache_drain();
  for (i = 0; i < CROSS_N; i++)
    cr_assert_eq(corio_coro_new(returns_arg, NULL, NULL, &co[i]), 0);
  pthread_create(&th, NULL, frees_them, co);
  pthread_join(th, NULL); /* its own cache went back to the kernel at exit */
  pooled = corio__stack_shared_count();
  cr_assert_gt(pooled, 0, "the freeing thread spilled stacks to the pool");
  for (i = 0; i < CROSS_N; i++)
    cr_assert_eq(corio_coro_new(returns_arg, NULL, NULL, &co[i]), 0);
  cr_assert_eq(corio__stack_shared_count(), 0, "and they were reused here");
  for (i = 0; i < CROSS_N; i++)
    corio_coro_free(co[i]);
  corio_stack_cache_drain();
  free(co);
}
