/* An intrusive doubly linked list and container_of, for every list in
 * corio: the node lives inside the listed record (a waiter in a parked
 * task's frame, a connection, a task), so linking costs no allocation.
 *
 * A list is a circular ring through a sentinel head: insert and remove
 * touch no branches on the ends. An all-zero head is a valid empty list
 * (it becomes a ring at the first insert), so lists can sit in objects
 * made with an ..._INITIALIZER macro. A node that is not on any list has
 * next == NULL (corio__list_linked). The list does no locking: its owner
 * says which lock or thread guards it. A head that holds nodes must not
 * be moved (copied) elsewhere. */
#ifndef CORIO_CORE_LIST_H
#define CORIO_CORE_LIST_H

#include <stddef.h>

/* The record of type `type` whose member `member` is at `ptr`. */
#define corio__container_of(ptr, type, member) \
  ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

typedef struct corio__list {
  struct corio__list *next, *prev;
} corio__list_t;

static inline void corio__list_init(corio__list_t *head) {
  head->next = head->prev = head;
}

static inline int corio__list_empty(const corio__list_t *head) {
  return head->next == NULL || head->next == head;
}

/* Nonzero while n is on a list (nodes start zeroed or removed). */
static inline int corio__list_linked(const corio__list_t *n) {
  return n->next != NULL;
}

/* at is a node on a list or a head (made a ring if still all-zero). */
static inline void corio__list_insert_before(corio__list_t *at,
                                             corio__list_t *n) {
  if (at->next == NULL)
    corio__list_init(at);
  n->next = at;
  n->prev = at->prev;
  at->prev->next = n;
  at->prev = n;
}

/* At the tail (FIFO order with corio__list_pop_front). */
static inline void corio__list_push_back(corio__list_t *head, corio__list_t *n) {
  corio__list_insert_before(head, n);
}

static inline void corio__list_push_front(corio__list_t *head,
                                          corio__list_t *n) {
  if (head->next == NULL)
    corio__list_init(head);
  corio__list_insert_before(head->next, n);
}

/* Unlink n; harmless on a node that is not linked. */
static inline void corio__list_remove(corio__list_t *n) {
  if (n->next == NULL)
    return;
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = NULL;
}

static inline corio__list_t *corio__list_first(const corio__list_t *head) {
  return corio__list_empty(head) ? NULL : head->next;
}

static inline corio__list_t *corio__list_pop_front(corio__list_t *head) {
  corio__list_t *n = corio__list_first(head);

  if (n != NULL)
    corio__list_remove(n);
  return n;
}

/* for (n = each node) ; safe against removing n inside the body. */
#define corio__list_foreach_safe(n, tmp, head)                          \
  for ((n) = corio__list_first(head), (tmp) = (n) ? (n)->next : NULL; \
       (n) != NULL && (n) != (head);                                 \
       (n) = (tmp), (tmp) = (n)->next)

#endif
