/* Channels and select.
 *
 * A channel is a ring buffer and two FIFOs of waiters (senders, receivers)
 * behind one spinlock. Waiters live in the waiting task's frame and carry
 * a pointer to the element to send or the place to receive into; whoever
 * completes an operation with a waiter copies the element directly
 * between the two tasks' memory, then wakes it (claim first: a waiter of a
 * select may have been won by another channel, or timed out).
 *
 * Select takes the locks of all its channels in address order (so two
 * selects cannot deadlock, as in Go's sellock), completes a ready case if
 * there is one (starting at a random case), else queues one waiter per
 * case, all sharing the task's single wake token, and parks; the channel
 * that claims first wins, and the task takes its other waiters back. A
 * case with a NULL channel is skipped throughout (Go's nil channel); a
 * select with no live case parks with no waiter anywhere, so only its
 * deadline or a cancel ends it. The waiters and the lock list live in the
 * caller's frame, bounded by CORIO_SELECT_MAX.
 */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "corio/chan.h"
#include "sched/wait.h"

struct corio_chan_s {
  corio__spin_t lock;
  int closed;
  size_t elem_size, cap;
  size_t head, len;          /* ring: elements at head .. head+len-1 */
  corio__wlist_t senders, receivers;
  unsigned char *ring;
};


int corio_chan_new(size_t elem_size, size_t capacity, corio_chan_t **out) {
  corio_chan_t *ch;

  if (out == NULL || elem_size == 0 || elem_size > CORIO_CHAN_ELEM_MAX ||
      capacity > SIZE_MAX / elem_size)
    return UV_EINVAL;
  ch = calloc(1, sizeof *ch);
  if (ch == NULL)
    return UV_ENOMEM;
  if (capacity > 0 && (ch->ring = malloc(capacity * elem_size)) == NULL) {
    free(ch);
    return UV_ENOMEM;
  }
  ch->elem_size = elem_size;
  ch->cap = capacity;
  *out = ch;
  return 0;
}


int corio_chan_free(corio_chan_t *ch) {
  int busy;

  if (ch == NULL)
    return UV_EINVAL;
  corio__spin_lock(&ch->lock);
  busy = !corio__wlist_empty(&ch->senders) ||
         !corio__wlist_empty(&ch->receivers);
  corio__spin_unlock(&ch->lock);
  if (busy)
    return UV_EBUSY;
  free(ch->ring);
  free(ch);
  return 0;
}


static unsigned char *slot(corio_chan_t *ch, size_t i) {
  return ch->ring + ((ch->head + i) % ch->cap) * ch->elem_size;
}


/* One element: the common sizes as fixed-size copies the compiler
 * inlines (a call to memcpy was a few percent of a hand-off). */
static void copy_elem(void *dst, const void *src, size_t n) {
  switch (n) {
  case 4: memcpy(dst, src, 4); break;
  case 8: memcpy(dst, src, 8); break;
  case 16: memcpy(dst, src, 16); break;
  default: memcpy(dst, src, n); break;
  }
}


/* Take the first waiter of l that can still be claimed, or NULL. */
static corio__waiter_t *claim_first(corio__wlist_t *l) {
  corio__waiter_t *w;

  while ((w = corio__wlist_pop(l)) != NULL)
    if (corio__wake_claim(w))
      return w;
  return NULL;
}


static void fire(corio__waiter_t *w, int result) {
  w->fired = 1;
  w->result = result;
  corio__wake_commit(w, 0);
}


/* Under the lock: send now if possible. 0 done, UV_EPIPE, UV_EAGAIN. */
static int send_now(corio_chan_t *ch, const void *elem) {
  corio__waiter_t *r;

  if (ch->closed)
    return UV_EPIPE;
  if ((r = claim_first(&ch->receivers)) != NULL) {
    copy_elem(r->data, elem, ch->elem_size); /* straight into its memory */
    fire(r, 0);
    return 0;
  }
  if (ch->len < ch->cap) {
    copy_elem(slot(ch, ch->len), elem, ch->elem_size);
    ch->len++;
    return 0;
  }
  return UV_EAGAIN;
}


/* Under the lock: receive now if possible. 0 done, UV_EOF, UV_EAGAIN. */
static int recv_now(corio_chan_t *ch, void *elem) {
  corio__waiter_t *s;

  if (ch->len > 0) {
    copy_elem(elem, slot(ch, 0), ch->elem_size);
    ch->head = (ch->head + 1) % ch->cap;
    ch->len--;
    /* room now: the longest-waiting sender moves its element in */
    if ((s = claim_first(&ch->senders)) != NULL) {
      copy_elem(slot(ch, ch->len), s->data, ch->elem_size);
      ch->len++;
      fire(s, 0);
    }
    return 0;
  }
  if ((s = claim_first(&ch->senders)) != NULL) {
    copy_elem(elem, s->data, ch->elem_size); /* rendezvous */
    fire(s, 0);
    return 0;
  }
  return ch->closed ? UV_EOF : UV_EAGAIN;
}


int corio_chan_try_send(corio_chan_t *ch, const void *elem) {
  int err;

  if (ch == NULL || elem == NULL)
    return UV_EINVAL;
  corio__spin_lock(&ch->lock);
  err = send_now(ch, elem);
  corio__spin_unlock(&ch->lock);
  return err;
}


int corio_chan_try_recv(corio_chan_t *ch, void *elem) {
  int err;

  if (ch == NULL || elem == NULL)
    return UV_EINVAL;
  corio__spin_lock(&ch->lock);
  err = recv_now(ch, elem);
  corio__spin_unlock(&ch->lock);
  return err;
}


/* Send or receive, waiting if need be. */
static int chan_op(corio_chan_t *ch, int op, void *elem, uint64_t deadline) {
  corio__wlist_t *queue;
  corio__waiter_t w;
  int err;

  if (ch == NULL || elem == NULL)
    return UV_EINVAL;
  corio__spin_lock(&ch->lock);
  err = op == CORIO_SEND ? send_now(ch, elem) : recv_now(ch, elem);
  if (err != UV_EAGAIN) {
    corio__spin_unlock(&ch->lock);
    return err;
  }
  if ((err = corio__wait_begin(&w)) != 0) {
    corio__spin_unlock(&ch->lock);
    return err;
  }
  corio__wait_what(&w, op == CORIO_SEND ? CORIO__WK_CHAN_SEND : CORIO__WK_CHAN_RECV, ch, 0);
  w.data = elem;
  queue = op == CORIO_SEND ? &ch->senders : &ch->receivers;
  corio__wlist_push(queue, &w);
  err = corio__wait_park(&w, &ch->lock, corio__deadline_ns(deadline));
  if (err == 0)
    return w.result; /* done by the other side, or the channel closed */
  corio__spin_lock(&ch->lock);
  corio__wlist_unlink(&w);
  corio__spin_unlock(&ch->lock);
  return err;
}


int corio_chan_send_dl(corio_chan_t *ch, const void *elem, uint64_t deadline) {
  /* the element is only read; the waiter's data pointer is untyped */
  return chan_op(ch, CORIO_SEND, (void *)(uintptr_t)elem, deadline);
}


int corio_chan_send(corio_chan_t *ch, const void *elem) {
  return corio_chan_send_dl(ch, elem, UINT64_MAX);
}


int corio_chan_recv_dl(corio_chan_t *ch, void *elem, uint64_t deadline) {
  return chan_op(ch, CORIO_RECV, elem, deadline);
}


int corio_chan_recv(corio_chan_t *ch, void *elem) {
  return corio_chan_recv_dl(ch, elem, UINT64_MAX);
}


int corio_chan_close(corio_chan_t *ch) {
  corio__waiter_t *w;

  if (ch == NULL)
    return UV_EINVAL;
  corio__spin_lock(&ch->lock);
  if (ch->closed) {
    corio__spin_unlock(&ch->lock);
    return UV_EPIPE;
  }
  ch->closed = 1;
  /* Receivers wait only while the buffer is empty, so they all get EOF. */
  while ((w = claim_first(&ch->receivers)) != NULL)
    fire(w, UV_EOF);
  while ((w = claim_first(&ch->senders)) != NULL)
    fire(w, UV_EPIPE);
  corio__spin_unlock(&ch->lock);
  return 0;
}


size_t corio_chan_len(corio_chan_t *ch) {
  size_t n;

  if (ch == NULL)
    return 0;
  corio__spin_lock(&ch->lock);
  n = ch->len;
  corio__spin_unlock(&ch->lock);
  return n;
}


size_t corio_chan_cap(const corio_chan_t *ch) {
  return ch != NULL ? ch->cap : 0;
}


/* --- select ------------------------------------------------------------- */

typedef struct select_state {
  corio_select_case_t *cases;
  size_t n;
  corio_chan_t *locked[CORIO_SELECT_MAX]; /* distinct channels, address order */
  size_t nlocked;                         /* 0: no live case */
} select_state_t;


static void lock_all(select_state_t *s) {
  for (size_t i = 0; i < s->nlocked; i++)
    corio__spin_lock(&s->locked[i]->lock);
}


static void unlock_all(void *arg) {
  select_state_t *s = arg;

  for (size_t i = s->nlocked; i-- > 0;)
    corio__spin_unlock(&s->locked[i]->lock);
}


static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)*(corio_chan_t *const *)a;
  uintptr_t y = (uintptr_t)*(corio_chan_t *const *)b;
  return (x > y) - (x < y);
}


/* Check the cases and list their distinct channels. A NULL channel
 * disables its case (Go's nil channel): no live case at all is valid, and
 * leaves nlocked 0. */
static int select_prepare(select_state_t *s, corio_select_case_t *cases, size_t n) {
  size_t i, k = 0;

  if ((cases == NULL && n > 0) || n > CORIO_SELECT_MAX)
    return UV_EINVAL;
  s->cases = cases;
  s->n = n;
  s->nlocked = 0;
  for (i = 0; i < n; i++) {
    if (cases[i].ch == NULL)
      continue;
    if ((cases[i].op != CORIO_SEND && cases[i].op != CORIO_RECV) ||
        cases[i].elem == NULL)
      return UV_EINVAL;
    s->locked[k++] = cases[i].ch;
  }
  if (k == 0)
    return 0;
  qsort(s->locked, k, sizeof s->locked[0], cmp_ptr);
  for (i = 0; i < k; i++)
    if (i == 0 || s->locked[i] != s->locked[i - 1])
      s->locked[s->nlocked++] = s->locked[i];
  return 0;
}


/* xorshift32 (Marsaglia, "Xorshift RNGs", 2003; 13, 17, 5 are its shift
 * triple), per thread, for the random start: quality does not matter,
 * only that every ready case gets its turn. */
static unsigned select_random(void) {
  static _Thread_local uint32_t x;

  if (x == 0)
    x = (uint32_t)(uintptr_t)&x | 1u; /* any nonzero seed */
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}


/* Under all locks: do a ready case, starting at a random one. Returns its
 * index, or UV_EAGAIN. */
static int select_now(select_state_t *s) {
  size_t start;

  if (s->nlocked == 0)
    return UV_EAGAIN; /* no live case: never ready */
  start = select_random() % s->n;
  for (size_t k = 0; k < s->n; k++) {
    size_t i = (start + k) % s->n;
    corio_select_case_t *c = &s->cases[i];
    int err;

    if (c->ch == NULL)
      continue;
    err = c->op == CORIO_SEND ? send_now(c->ch, c->elem) : recv_now(c->ch, c->elem);
    if (err != UV_EAGAIN) {
      c->result = err;
      return (int)i;
    }
  }
  return UV_EAGAIN;
}


int corio_select_try(corio_select_case_t *cases, size_t n) {
  select_state_t s;
  int r;

  if ((r = select_prepare(&s, cases, n)) != 0)
    return r;
  lock_all(&s);
  r = select_now(&s);
  unlock_all(&s);
  return r;
}


/* Go's `select {}`: nothing can end the wait but the deadline or a
 * cancel. */
static int select_none(uint64_t deadline) {
  corio__waiter_t w;
  int err;

  if ((err = corio__wait_begin(&w)) != 0)
    return err;
  corio__wait_what(&w, CORIO__WK_SELECT, NULL, 0);
  return corio__wait_park(&w, NULL, corio__deadline_ns(deadline));
}


static corio__wlist_t *case_queue(corio_select_case_t *c) {
  return c->op == CORIO_SEND ? &c->ch->senders : &c->ch->receivers;
}


typedef struct select_abandon {
  select_state_t *s;
  corio__waiter_t *w;
  corio_select_case_t *cases;
  size_t n;
} select_abandon_t;

/* The runtime abandons a task waiting in a select: its waiters leave the
 * channels' lists. */
static void select_abandon(void *arg) {
  select_abandon_t *a = arg;

  lock_all(a->s);
  for (size_t i = 0; i < a->n; i++)
    if (a->cases[i].ch != NULL)
      corio__wlist_unlink(&a->w[i]);
  unlock_all(a->s);
}


int corio_select_dl(corio_select_case_t *cases, size_t n, uint64_t deadline) {
  corio__waiter_t w[CORIO_SELECT_MAX];
  select_state_t s;
  int r, err;
  size_t i;

  if ((r = select_prepare(&s, cases, n)) != 0)
    return r;
  if (s.nlocked == 0)
    return select_none(deadline);
  lock_all(&s);
  if ((r = select_now(&s)) != UV_EAGAIN) {
    unlock_all(&s);
    return r;
  }
  if ((err = corio__wait_begin(&w[0])) != 0) {
    unlock_all(&s);
    return err;
  }
  corio__wait_what(&w[0], CORIO__WK_SELECT, cases, n);
  /* One waiter per case, all with the task's one wake token. */
  for (i = 0; i < n; i++) {
    w[i] = w[0];
    w[i].data = cases[i].elem;
    w[i].link.next = w[i].link.prev = NULL;
    if (cases[i].ch != NULL)
      corio__wlist_push(case_queue(&cases[i]), &w[i]);
  }
  {
    select_abandon_t ab = {&s, w, cases, n};
    corio__wait_on_abandon(&w[0], select_abandon, &ab);
    err = corio__wait_park_unlock(&w[0], unlock_all, &s, corio__deadline_ns(deadline));
    corio__wait_on_abandon(&w[0], NULL, NULL);
  }
  /* Take back the waiters that did not fire. */
  lock_all(&s);
  r = err != 0 ? err : UV_EAGAIN;
  for (i = 0; i < n; i++) {
    if (cases[i].ch == NULL)
      continue;
    if (w[i].fired) {
      cases[i].result = w[i].result;
      r = (int)i;
    }
    corio__wlist_unlink(&w[i]);
  }
  unlock_all(&s);
  return r;
}


int corio_select(corio_select_case_t *cases, size_t n) {
  return corio_select_dl(cases, n, UINT64_MAX);
}
