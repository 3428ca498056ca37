#include "inject.h"


void corio__inject_init(corio__inject_t *q) {
  pthread_mutex_init(&q->mu, NULL);
  q->head = q->tail = NULL;
  atomic_init(&q->len, 0);
}


void corio__inject_destroy(corio__inject_t *q) {
  pthread_mutex_destroy(&q->mu);
}


void corio__inject_push_list(corio__inject_t *q, corio_task_t *head,
                             corio_task_t *tail, size_t n) {
  pthread_mutex_lock(&q->mu);
  if (q->tail != NULL)
    q->tail->next = head;
  else
    q->head = head;
  q->tail = tail;
  /* release: see corio__inject_len */
  atomic_fetch_add_explicit(&q->len, n, memory_order_release);
  pthread_mutex_unlock(&q->mu);
}


void corio__inject_push(corio__inject_t *q, corio_task_t *t) {
  t->next = NULL;
  corio__inject_push_list(q, t, t, 1);
}


corio_task_t *corio__inject_pop_many(corio__inject_t *q, size_t max,
                                     size_t *count) {
  corio_task_t *head, *t;
  size_t n = 0;

  *count = 0;
  if (corio__inject_len(q) == 0)
    return NULL;
  pthread_mutex_lock(&q->mu);
  head = t = q->head;
  while (t != NULL && ++n < max)
    t = t->next;
  if (t != NULL) {          /* stopped at the max-th task */
    q->head = t->next;
    t->next = NULL;
  } else {                  /* took them all */
    q->head = NULL;
  }
  if (q->head == NULL)
    q->tail = NULL;
  if (head == NULL)
    n = 0;
  /* relaxed: as in corio__inject_pop */
  atomic_fetch_sub_explicit(&q->len, n, memory_order_relaxed);
  pthread_mutex_unlock(&q->mu);
  *count = n;
  return head;
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
