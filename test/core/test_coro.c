/* The coroutine core: values in and out, stacks kept intact, FP state,
 * many coroutines at once, deep recursion. */
#include <criterion/criterion.h>
#include <fenv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corio/coro.h"
#include "corio.h"
#include "../support/sizes.h"

static void *counts_up(void *arg) {
  intptr_t start = (intptr_t)arg;
  void *in = NULL;
  intptr_t i;

  for (i = 0; i < 5; i++) {
    corio_coro_yield((void *)(start + i), &in);
    cr_assert_eq((intptr_t)in, 100 + i, "resume value reaches the yield");
  }
  return (void *)(intptr_t)-1;
}

Test(coro, values_pass_through_resume_and_yield) {
  corio_coro_t *co;
  void *out;
  intptr_t i;

  cr_assert_eq(corio_coro_new(counts_up, (void *)(intptr_t)7, NULL, &co), 0);
  for (i = 0; i < 5; i++) {
    cr_assert_eq(corio_coro_resume(co, (void *)(100 + i - 1), &out),
                 CORIO_CORO_YIELDED);
    cr_assert_eq((intptr_t)out, 7 + i);
  }
  cr_assert_eq(corio_coro_resume(co, (void *)(intptr_t)104, &out),
               CORIO_CORO_FINISHED);
  cr_assert_eq((intptr_t)out, -1, "the function's result comes out");
  cr_assert(corio_coro_finished(co));
  cr_assert_eq(corio_coro_resume(co, NULL, NULL), UV_EINVAL,
               "a finished coroutine cannot be resumed");
  cr_assert_eq(corio_coro_free(co), 0);
}

Test(coro, yield_outside_a_coroutine_is_einval) {
  cr_assert_eq(corio_coro_yield(NULL, NULL), UV_EINVAL);
  cr_assert_null(corio_coro_current());
}

Test(coro, bad_arguments_are_einval) {
  corio_coro_t *co;

  cr_assert_eq(corio_coro_new(counts_up, NULL, NULL, NULL), UV_EINVAL);
  cr_assert_eq(corio_coro_new(NULL, NULL, NULL, &co), UV_EINVAL);
  cr_assert_eq(corio_coro_resume(NULL, NULL, NULL), UV_EINVAL);
  cr_assert_eq(corio_coro_free(NULL), UV_EINVAL);
}

static void *reports_self(void *arg) {
  (void)arg;
  return corio_coro_current();
}

Test(coro, current_is_the_running_coroutine) {
  corio_coro_t *co;
  void *out;

  cr_assert_eq(corio_coro_new(reports_self, NULL, NULL, &co), 0);
  cr_assert_eq(corio_coro_resume(co, NULL, &out), CORIO_CORO_FINISHED);
  cr_assert_eq(out, co);
  cr_assert_null(corio_coro_current());
  corio_coro_free(co);
}

static void *frees_itself(void *arg) {
  (void)arg;
  return (void *)(intptr_t)corio_coro_free(corio_coro_current());
}

Test(coro, running_coroutine_cannot_be_freed) {
  corio_coro_t *co;
  void *out;

  cr_assert_eq(corio_coro_new(frees_itself, NULL, NULL, &co), 0);
  corio_coro_resume(co, NULL, &out);
  cr_assert_eq((intptr_t)out, UV_EBUSY);
  cr_assert_eq(corio_coro_free(co), 0);
}

/* Fill a buffer on the coroutine's stack with a pattern derived from the
 * coroutine's number, yield, and check it is intact after every resume. */
static void *keeps_its_buffer(void *arg) {
  unsigned char buf[4096];
  uintptr_t seed = (uintptr_t)arg;
  size_t i;
  int round;

  for (i = 0; i < sizeof buf; i++)
    buf[i] = (unsigned char)(seed * 31 + i * 7);
  for (round = 0; round < 3; round++) {
    corio_coro_yield(NULL, NULL);
    for (i = 0; i < sizeof buf; i++)
      if (buf[i] != (unsigned char)(seed * 31 + i * 7))
        return (void *)0;
  }
  return (void *)1;
}

Test(coro, stack_buffer_survives_switching_away) {
  enum { N = 64 };
  corio_coro_t *co[N];
  void *out;
  int round, i;

  for (i = 0; i < N; i++)
    cr_assert_eq(corio_coro_new(keeps_its_buffer, (void *)(uintptr_t)i,
                                   NULL, &co[i]), 0);
  for (round = 0; round < 3; round++)
    for (i = 0; i < N; i++)
      cr_assert_eq(corio_coro_resume(co[i], NULL, NULL), CORIO_CORO_YIELDED);
  for (i = 0; i < N; i++) {
    cr_assert_eq(corio_coro_resume(co[i], NULL, &out), CORIO_CORO_FINISHED);
    cr_assert_eq((uintptr_t)out, 1, "coroutine %d found its buffer intact", i);
    corio_coro_free(co[i]);
  }
}

/* The same double arithmetic done straight and across yields must give
 * the same bits: FP registers are not disturbed by switches. */
static double series(int n, int yielding) {
  double acc = 0.0, x = 1.0 / 3.0;
  int i;

  for (i = 1; i <= n; i++) {
    acc += x / (double)i;
    x = x * 1.0000001 + 1e-9;
    if (yielding)
      corio_coro_yield(NULL, NULL);
  }
  return acc;
}

static void *computes_series(void *arg) {
  static double result[2];
  intptr_t which = (intptr_t)arg;

  result[which] = series(1000, 1);
  return &result[which];
}

Test(coro, doubles_across_yields_are_exact) {
  corio_coro_t *a, *b;
  double expect = series(1000, 0);
  void *ra = NULL, *rb = NULL;
  int sa = CORIO_CORO_YIELDED, sb = CORIO_CORO_YIELDED;

  cr_assert_eq(corio_coro_new(computes_series, (void *)0, NULL, &a), 0);
  cr_assert_eq(corio_coro_new(computes_series, (void *)1, NULL, &b), 0);
  while (sa == CORIO_CORO_YIELDED || sb == CORIO_CORO_YIELDED) {
    volatile double noise = 2.5 * 7.25; /* main uses FP registers too */
    (void)noise;
    if (sa == CORIO_CORO_YIELDED)
      sa = corio_coro_resume(a, NULL, &ra);
    if (sb == CORIO_CORO_YIELDED)
      sb = corio_coro_resume(b, NULL, &rb);
  }
  cr_assert(memcmp(ra, &expect, sizeof expect) == 0);
  cr_assert(memcmp(rb, &expect, sizeof expect) == 0);
  corio_coro_free(a);
  corio_coro_free(b);
}

/* FP control state (rounding mode) belongs to each context. */
static void *rounds_downward(void *arg) {
  (void)arg;
  fesetround(FE_DOWNWARD);
  corio_coro_yield(NULL, NULL);
  return (void *)(intptr_t)fegetround();
}

Test(coro, rounding_mode_belongs_to_each_context) {
  corio_coro_t *co;
  void *out;

  cr_assert_eq(fegetround(), FE_TONEAREST);
  cr_assert_eq(corio_coro_new(rounds_downward, NULL, NULL, &co), 0);
  corio_coro_resume(co, NULL, NULL);
  cr_assert_eq(fegetround(), FE_TONEAREST, "the coroutine's mode stays with it");
  corio_coro_resume(co, NULL, &out);
  cr_assert_eq((intptr_t)out, FE_DOWNWARD, "and comes back when it resumes");
  corio_coro_free(co);
}

static void *yields_its_arg_twice(void *arg) {
  corio_coro_yield(arg, NULL);
  return (void *)((uintptr_t)arg * 2);
}

Test(coro, ten_thousand_alive_at_once) {
  enum { N = CORIO_TEST_MANY(10000) };
  corio_coro_t **co = calloc(N, sizeof *co);
  uintptr_t sum = 0;
  void *out;
  size_t i;

  cr_assert_not_null(co);
  for (i = 0; i < N; i++)
    cr_assert_eq(corio_coro_new(yields_its_arg_twice, (void *)(uintptr_t)(i + 1),
                                   NULL, &co[i]), 0);
  for (i = 0; i < N; i++) {
    cr_assert_eq(corio_coro_resume(co[i], NULL, &out), CORIO_CORO_YIELDED);
    sum += (uintptr_t)out;
  }
  for (i = 0; i < N; i++) {
    cr_assert_eq(corio_coro_resume(co[i], NULL, &out), CORIO_CORO_FINISHED);
    sum += (uintptr_t)out;
    corio_coro_free(co[i]);
  }
  cr_assert_eq(sum, 3 * ((uintptr_t)N * (N + 1) / 2));
  free(co);
}

/* Each level holds a 1000-byte array; the frame size is measured, then the
 * recursion goes down to within 8 KiB of the end of a 64 KiB stack. */
static uintptr_t frame_addr[5];

__attribute__((noinline)) static unsigned recurse(unsigned depth) {
  volatile unsigned char pad[1000];

  if (depth < 5)
    frame_addr[depth] = (uintptr_t)pad;
  pad[0] = (unsigned char)depth;
  pad[sizeof pad - 1] = (unsigned char)depth;
  if (depth == 0)
    return pad[0];
  return recurse(depth - 1) + 1 + (pad[sizeof pad - 1] != (unsigned char)depth);
}

static void *recurses(void *arg) {
  return (void *)(uintptr_t)recurse((unsigned)(uintptr_t)arg);
}

Test(coro, recursion_close_to_the_stack_size_works) {
  enum { STACK = 64 * 1024, MARGIN = 8 * 1024 };
  corio_coro_options_t opts = {.stack_size = STACK};
  corio_coro_t *co;
  uintptr_t frame;
  unsigned depth;
  void *out;

  cr_assert_eq(corio_coro_new(recurses, (void *)4, &opts, &co), 0);
  cr_assert_eq(corio_coro_resume(co, NULL, &out), CORIO_CORO_FINISHED);
  corio_coro_free(co);
  frame = (frame_addr[4] - frame_addr[0]) / 4;
  cr_assert(frame >= 1000 && frame < 4096, "frame of %lu bytes", (unsigned long)frame);
  depth = (unsigned)((STACK - MARGIN) / frame);

  cr_assert_eq(corio_coro_new(recurses, (void *)(uintptr_t)depth, &opts, &co), 0);
  cr_assert_eq(corio_coro_resume(co, NULL, &out), CORIO_CORO_FINISHED);
  cr_assert_eq((uintptr_t)out, depth);
  corio_coro_free(co);
}

/* A coroutine may resume another; yields go back to the right resumer. */
static void *inner(void *arg) {
  corio_coro_yield((void *)((uintptr_t)arg + 1), NULL);
  return (void *)((uintptr_t)arg + 2);
}

static void *outer(void *arg) {
  corio_coro_t *in;
  void *v1, *v2;

  (void)arg;
  corio_coro_new(inner, (void *)10, NULL, &in);
  corio_coro_resume(in, NULL, &v1);
  corio_coro_yield((void *)99, NULL);
  cr_assert_eq(corio_coro_resume(in, NULL, &v2), CORIO_CORO_FINISHED);
  corio_coro_free(in);
  return (void *)((uintptr_t)v1 * 100 + (uintptr_t)v2);
}

Test(coro, nested_resume_returns_to_the_right_resumer) {
  corio_coro_t *co;
  void *out;

  cr_assert_eq(corio_coro_new(outer, NULL, NULL, &co), 0);
  cr_assert_eq(corio_coro_resume(co, NULL, &out), CORIO_CORO_YIELDED);
  cr_assert_eq((uintptr_t)out, 99);
  cr_assert_eq(corio_coro_resume(co, NULL, &out), CORIO_CORO_FINISHED);
  cr_assert_eq((uintptr_t)out, 11 * 100 + 12);
  corio_coro_free(co);
}
