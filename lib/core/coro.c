/* The coroutine core: create, resume, yield, finish, on the calling thread.
 *
 * Each coroutine's record lives at the top of its stack mapping. Resume
 * keeps the resumer's context in its own frame and points the coroutine
 * at it; yield switches back there. Everything the sanitizers need to
 * hear about a switch is said right here, on both sides of it. */
#include "coro.h"

#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include "overflow.h"
#include "sanitize.h"

/* Initial-exec: a plain %fs-relative access, no __tls_get_addr call, even
 * in the shared library. */
#define TLS_FAST __attribute__((tls_model("initial-exec")))

static _Thread_local corio_coro_t *coro_current TLS_FAST;
static _Thread_local int thread_armed TLS_FAST; /* overflow handler ready */


/* Noinline, so a caller inside a coroutine never reuses the address of
 * another thread's variable after it moved threads (docs/DESIGN.md 3a). Resume
 * may touch the variables directly: it returns on the thread it was
 * called on. */
__attribute__((noinline)) corio_coro_t *corio_coro_current(void) {
  return coro_current;
}


/* Switched into: tell ASan which stack we came from. */
static void coro_switched_in(corio_coro_t *co) {
  CORIO__ASAN_FINISH(co->asan_fake, &co->resumer_bottom, &co->resumer_size);
  (void)co;
}


static void coro_entry(void *value) {
  corio_coro_t *co = value;
  void *result;

  coro_switched_in(co);
  result = co->fn(co->arg);
  co->state = CORIO__CORO_FINISHED;
  /* NULL fake-stack save: this stack is done, ASan may drop its frames. */
  CORIO__ASAN_START(NULL, co->resumer_bottom, co->resumer_size);
  CORIO__TSAN_SWITCH(co->tsan_resumer);
  corio__ctx_switch(&co->ctx, co->resumer, result);
  abort(); /* a finished coroutine is never resumed */
}


static size_t round_up(size_t n, size_t to) {
  return (n + to - 1) & ~(to - 1);
}


int corio__coro_stack_shape(const corio_coro_options_t *opts, size_t *usable,
                            int *guarded) {
  size_t want = opts != NULL && opts->stack_size != 0 ? opts->stack_size
                                                      : CORIO_STACK_DEFAULT;

  if (want < CORIO_STACK_MIN || want > CORIO_STACK_MAX)
    return UV_EINVAL;
  *usable = round_up(want + round_up(sizeof(corio_coro_t), 64), corio__page_size());
  *guarded = opts == NULL || !opts->unguarded;
  return 0;
}


corio_coro_t *corio__coro_create_on(const corio__stack_t *st, corio_coro_fn fn,
                                    void *arg) {
  corio_coro_t *co =
      (corio_coro_t *)(corio__stack_hi(st) - round_up(sizeof(corio_coro_t), 64));

  /* Field by field: a compound literal compiles to rep stos, whose
   * start-up cost was a tenth of a spawn-and-join. */
  co->resumer = NULL;
  co->outer = NULL;
  co->fn = fn;
  co->arg = arg;
  co->stack = *st;
  co->state = CORIO__CORO_SUSPENDED;
  co->started = 0;
  co->asan_fake = NULL;
  co->resumer_bottom = NULL;
  co->resumer_size = 0;
  co->tsan_resumer = NULL;
  co->tsan_fiber = CORIO__TSAN_CREATE();
  corio__ctx_make(&co->ctx, corio__stack_lo(st),
                  (size_t)((char *)co - corio__stack_lo(st)), coro_entry);
  return co;
}


int corio_coro_new(corio_coro_fn fn, void *arg,
                   const corio_coro_options_t *opts, corio_coro_t **co) {
  corio__stack_t st;
  size_t usable;
  int guarded, err;

  if (co == NULL || fn == NULL)
    return UV_EINVAL;
  if ((err = corio__coro_stack_shape(opts, &usable, &guarded)) != 0)
    return err;
  if ((err = corio__stack_alloc(&st, usable, guarded)) != 0)
    return err;
  *co = corio__coro_create_on(&st, fn, arg);
  return 0;
}


int corio_coro_resume(corio_coro_t *co, void *in, void **out) {
  corio__ctx_t here;
  void *fake = NULL;
  void *value;

  if (co == NULL || co->state != CORIO__CORO_SUSPENDED)
    return UV_EINVAL;
  if (__builtin_expect(!thread_armed, 0)) {
    corio__overflow_thread_init();
    thread_armed = 1;
  }
  co->resumer = &here;
  co->outer = coro_current;
  co->state = CORIO__CORO_RUNNING;
  coro_current = co;
  if (__builtin_expect(!co->started, 0)) {
    co->started = 1;
    in = co;  /* the entry function's argument */
  }
  co->tsan_resumer = CORIO__TSAN_CURRENT();
  CORIO__ASAN_START(&fake, corio__stack_lo(&co->stack),
                    (size_t)((char *)co - corio__stack_lo(&co->stack)));
  CORIO__TSAN_SWITCH(co->tsan_fiber);
  value = corio__ctx_switch(&here, &co->ctx, in);
  CORIO__ASAN_FINISH(fake, NULL, NULL);
  (void)fake;

  coro_current = co->outer;
  if (out != NULL)
    *out = value;
  return co->state == CORIO__CORO_FINISHED ? CORIO_CORO_FINISHED
                                           : CORIO_CORO_YIELDED;
}


int corio_coro_yield(void *value, void **in) {
  corio_coro_t *co = corio_coro_current();
  void *got;

  if (co == NULL)
    return UV_EINVAL;
  co->state = CORIO__CORO_SUSPENDED;
  CORIO__ASAN_START(&co->asan_fake, co->resumer_bottom, co->resumer_size);
  CORIO__TSAN_SWITCH(co->tsan_resumer);
  got = corio__ctx_switch(&co->ctx, co->resumer, value);
  coro_switched_in(co);
  if (in != NULL)
    *in = got;
  return 0;
}


int corio_coro_finished(const corio_coro_t *co) {
  return co != NULL && co->state == CORIO__CORO_FINISHED;
}


int corio_coro_free(corio_coro_t *co) {
  corio__stack_t st;

  if (co == NULL)
    return UV_EINVAL;
  if (co->state == CORIO__CORO_RUNNING)
    return UV_EBUSY;
  CORIO__TSAN_DESTROY(co->tsan_fiber);
  st = co->stack;
  if (co->state != CORIO__CORO_FINISHED)
    CORIO__ASAN_UNPOISON(st.map + st.guard_size, st.map_size - st.guard_size);
  corio__stack_release(&st);
  return 0;
}
