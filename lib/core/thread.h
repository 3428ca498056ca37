/* What every thread corio starts (workers, the loop thread) sets up, and
 * what an application's loop thread gets when corio attaches to it. */
#ifndef CORIO_CORE_THREAD_H
#define CORIO_CORE_THREAD_H

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

#endif
