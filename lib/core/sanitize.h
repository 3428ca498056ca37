/* Telling ASan, TSan and Valgrind about coroutine stacks and switches.
 * Each tool keeps its own idea of "the current stack"; without these calls
 * ASan reports false stack-buffer errors, TSan loses track of which
 * accesses happen where, and Valgrind believes every switch is a stack
 * overflow. Everything here compiles to nothing in a normal build. */
#ifndef CORIO_CORE_SANITIZE_H
#define CORIO_CORE_SANITIZE_H

#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#if __has_feature(thread_sanitizer) && !defined(__SANITIZE_THREAD__)
#define __SANITIZE_THREAD__ 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old, size_t *size_old);
#define CORIO__ASAN_START(save, bottom, size) \
  __sanitizer_start_switch_fiber((save), (bottom), (size))
#define CORIO__ASAN_FINISH(save, bottom_old, size_old) \
  __sanitizer_finish_switch_fiber((save), (bottom_old), (size_old))
void __asan_unpoison_memory_region(const volatile void *addr, size_t size);
/* A stack given back while its coroutine was suspended keeps the
 * poisoning of the frames it held: clear it before the stack is reused. */
#define CORIO__ASAN_UNPOISON(addr, size) __asan_unpoison_memory_region((addr), (size))
#else
#define CORIO__ASAN_UNPOISON(addr, size) ((void)(addr), (void)(size))
#define CORIO__ASAN_START(save, bottom, size) ((void)0)
#define CORIO__ASAN_FINISH(save, bottom_old, size_old) ((void)0)
#endif

#if defined(__SANITIZE_THREAD__)
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#define CORIO__TSAN_CURRENT() __tsan_get_current_fiber()
#define CORIO__TSAN_CREATE() __tsan_create_fiber(0)
#define CORIO__TSAN_DESTROY(f) __tsan_destroy_fiber(f)
#define CORIO__TSAN_SWITCH(f) __tsan_switch_to_fiber((f), 0)
#else
#define CORIO__TSAN_CURRENT() ((void *)0)
#define CORIO__TSAN_CREATE() ((void *)0)
#define CORIO__TSAN_DESTROY(f) ((void)(f))
#define CORIO__TSAN_SWITCH(f) ((void)(f))
#endif

#if defined(CORIO_HAVE_VALGRIND_H)
#include <valgrind/valgrind.h>
#define CORIO__VALGRIND_STACK_REGISTER(lo, hi) VALGRIND_STACK_REGISTER((lo), (hi))
#define CORIO__VALGRIND_STACK_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
#else
#define CORIO__VALGRIND_STACK_REGISTER(lo, hi) ((void)(lo), (void)(hi), 0u)
#define CORIO__VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#endif
