/* Test sizes that adapt to the build: ThreadSanitizer counts every
 * coroutine as a fiber, caps a process at 8128 of them and makes each
 * step ~10x slower, so stress tests scale down under it. */
#ifndef CORIO_TEST_SIZES_H
#define CORIO_TEST_SIZES_H

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(__SANITIZE_THREAD__)
#define __SANITIZE_THREAD__ 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define CORIO_TEST_UNDER_TSAN 1
#define CORIO_TEST_MANY(n) ((n) > 4000 ? 4000 : (n))
#else
#define CORIO_TEST_UNDER_TSAN 0
#define CORIO_TEST_MANY(n) (n)
#endif

/* Slow builds (TSan, or an emulator such as qemu-user for a cross build:
 * CMake defines CORIO_TEST_EMULATED) sample exhaustive loops instead. */
#if defined(CORIO_TEST_EMULATED)
#define CORIO_TEST_SLOW 1
#else
#define CORIO_TEST_SLOW CORIO_TEST_UNDER_TSAN
#endif

/* Valgrind caps the number of memory segments far below the kernel. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORIO_TEST_UNDER_VALGRIND (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef CORIO_TEST_UNDER_VALGRIND
#define CORIO_TEST_UNDER_VALGRIND 0
#endif

/* A misuse the library detects aborts with a message in a debug build
 * and returns UV_EINVAL in a release build (lib/core/misuse.h): a test
 * of one expects the signal, or the error. */
#include <signal.h>
#ifdef NDEBUG
#define MISUSE_SIGNAL 0
#else
#define MISUSE_SIGNAL SIGABRT
#endif

#endif
