/* Misuse the library can see cheaply (a second join on a handle, a join
 * of a detached task, corio_main inside a task): in a debug build a
 * message naming the call and an abort, as an assertion would; in a
 * release build (NDEBUG) the call returns UV_EINVAL. */
#ifndef CORIO_CORE_MISUSE_H
#define CORIO_CORE_MISUSE_H

#include <uv.h>

/* Prints "corio: <call>: <what>" on stderr and aborts. */
_Noreturn void corio__misuse_abort(const char *call, const char *what);

#ifdef NDEBUG
#define CORIO__MISUSE(call, what) ((void)(call), (void)(what), UV_EINVAL)
#else
#define CORIO__MISUSE(call, what) (corio__misuse_abort((call), (what)), UV_EINVAL)
#endif

#endif
