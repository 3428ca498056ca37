/* The injection queue: where tasks made runnable off the workers (spawned
 * by a plain thread, readied by the loop thread) and yielding tasks wait,
 * first in, first out. Any thread pushes; workers pop. A mutex guards the
 * list (as Go's global run queue); the length is atomic so an empty queue
 * costs a load, no lock. */
#ifndef CORIO_SCHED_INJECT_H
#define CORIO_SCHED_INJECT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "task.h"

typedef struct corio__inject {
  pthread_mutex_t mu;
  corio_task_t *head;
  corio_task_t *tail;
  _Atomic(size_t) len;
} corio__inject_t;

void corio__inject_init(corio__inject_t *q);
void corio__inject_destroy(corio__inject_t *q);
void corio__inject_push(corio__inject_t *q, corio_task_t *t);
/* Append a list of n tasks linked through next (tail->next == NULL), under
 * one lock. */
void corio__inject_push_list(corio__inject_t *q, corio_task_t *head,
                             corio_task_t *tail, size_t n);
/* Take up to max tasks at once, oldest first, linked through next; returns
 * the first (NULL when empty) and sets *count. */
corio_task_t *corio__inject_pop_many(corio__inject_t *q, size_t max,
                                     size_t *count);
/* The oldest task, or NULL when empty. */
corio_task_t *corio__inject_pop(corio__inject_t *q);

static inline size_t corio__inject_len(corio__inject_t *q) {
  /* acquire: pairs with the release in push, so a worker that sees the
   * length also sees the push's effects when it takes the lock */
  return atomic_load_explicit(&q->len, memory_order_acquire);
}

#endif
