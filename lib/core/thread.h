/* What every thread corio starts (workers, the loop thread) sets up, and
 * what an application's loop thread gets when corio attaches to it. */
#ifndef CORIO_CORE_THREAD_H
#define CORIO_CORE_THREAD_H

#include <stddef.h>

/* SIGPIPE blocked on the calling thread: corio's threads write to sockets
 * whose peer may be gone (lib/net sends with MSG_NOSIGNAL; libuv's own
 * writes on the loop thread cannot). */
void corio__block_sigpipe(void);
/* Worker threads: block the asynchronous signals a program handles
 * (corio/signal.h lists them), so that the kernel delivers them to the
 * loop thread or the application's threads; SIGPIPE too. */
void corio__block_async_signals(void);

/* Name the calling thread (at most 15 bytes are kept), so that top, perf
 * and gdb tell corio-loop from corio-w0. Best effort: nothing on failure. */
void corio__thread_name(const char *name);

/* Copy len bytes at addr of this process' memory into out, or return 0
 * where it is not mapped (process_vm_readv: a fault is an error code, not
 * a signal). For diagnostics that read what another thread may free or
 * unmap meanwhile (a task's record or stack): the bytes may be stale. */
int corio__peek(const void *addr, void *out, size_t len);

#endif
