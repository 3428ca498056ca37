#include "inject.h"


void corio__inject_init(corio__inject_t *q) {
  pthread_mutex_init(&q->mu, NULL);
  q->head = q->tail = NULL;
  atomic_init(&q->len, 0);
}


void corio__inject_destroy(corio__inject_t *q) {
  pthread_mutex_destroy(&q->mu);
}


void corio__inject_push(corio__inject_t *q, corio_task_t *t) {
  t->next = NULL;
  pthread_mutex_lock(&q->mu);
  if (q->tail != NULL)
    q->tail->next = t;
  else
    q->head = t;
  q->tail = t;
  /* release: see corio__inject_len */
  atomic_fetch_add_explicit(&q->len, 1, memory_order_release);
  pthread_mutex_unlock(&q->mu);
}


corio_task_t *corio__inject_pop(corio__inject_t *q) {
  corio_task_t *t;

  if (corio__inject_len(q) == 0)
    return NULL;
  pthread_mutex_lock(&q->mu);
  t = q->head;
  if (t != NULL) {
    q->head = t->next;
    if (q->head == NULL)
      q->tail = NULL;
    /* relaxed: the mutex orders it with the list; readers only use it as
     * a hint that is re-checked under the lock */
    atomic_fetch_sub_explicit(&q->len, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&q->mu);
  return t;
}
