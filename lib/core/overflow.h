/* Stack overflow reporting: a SIGSEGV handler on an alternate signal stack
 * that recognises a fault in the running coroutine's guard page. */
#ifndef CORIO_CORE_OVERFLOW_H
#define CORIO_CORE_OVERFLOW_H

/* Make sure the process handler is installed and this thread has an
 * alternate signal stack. Cheap after the first call on a thread. */
void corio__overflow_thread_init(void);

#endif
