/* What every thread corio starts (workers, the loop thread) sets up, and
 * what an application's loop thread gets when corio attaches to it. */
#ifndef CORIO_CORE_THREAD_H
#define CORIO_CORE_THREAD_H

/* SIGPIPE blocked on the calling thread: corio's threads write to sockets
 * whose peer may be gone (lib/net sends with MSG_NOSIGNAL; libuv's own
 * writes on the loop thread cannot). */
void corio__block_sigpipe(void);

/* Name the calling thread (at most 15 bytes are kept), so that top, perf
 * and gdb tell corio-loop from corio-w0. Best effort: nothing on failure. */
void corio__thread_name(const char *name);

#endif
