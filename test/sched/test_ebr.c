/* Epoch-based reclamation: when retired objects are freed, and that a
 * reader never sees one freed under it. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include "sched/ebr.h"


static void set_flag(void *p) {
  atomic_store_explicit((atomic_int *) p, 1, memory_order_relaxed);
}


static void spin_until(atomic_int *flag) {
  /* acquire: what the other thread did before raising the flag is done. */
  while (!atomic_load_explicit(flag, memory_order_acquire))
    sched_yield();
}


Test(ebr, init_rejects_no_participants_and_lookup_rejects_bad_index) {
  corio__ebr_t *ebr;

  cr_assert_eq(corio__ebr_init(&ebr, 0), UV_EINVAL);
  cr_assert_eq(corio__ebr_init(NULL, 1), UV_EINVAL);
  cr_assert_eq(corio__ebr_init(&ebr, 2), 0);
  cr_assert_not_null(corio__ebr_thread(ebr, 1));
  cr_assert_null(corio__ebr_thread(ebr, 2));
  corio__ebr_free(ebr);
}


Test(ebr, retired_object_is_freed_only_after_the_epoch_advanced_twice) {
  corio__ebr_t *ebr;
  corio__ebr_thread_t *me;
  atomic_int freed = 0;

  cr_assert_eq(corio__ebr_init(&ebr, 1), 0);
  me = corio__ebr_thread(ebr, 0);
  cr_assert_eq(corio__ebr_retire(me, &freed, set_flag), 0);

  corio__ebr_collect(me);  /* epoch e -> e + 1: a reader may remain */
  cr_assert_eq(atomic_load(&freed), 0);
  corio__ebr_collect(me);  /* e + 1 -> e + 2: none can */
  cr_assert_eq(atomic_load(&freed), 1);
  corio__ebr_free(ebr);
}


typedef struct {
  corio__ebr_thread_t *me;
  atomic_int pinned;
  atomic_int may_unpin;
  atomic_int unpinned;
} pinner_t;


static void *pinner_main(void *arg) {
  pinner_t *p = arg;

  corio__ebr_pin(p->me);
  /* release: the main thread retires only once we are pinned. */
  atomic_store_explicit(&p->pinned, 1, memory_order_release);
  spin_until(&p->may_unpin);
  corio__ebr_unpin(p->me);
  /* release: the unpin is done before the main thread looks. */
  atomic_store_explicit(&p->unpinned, 1, memory_order_release);
  return NULL;
}


Test(ebr, retired_object_is_not_freed_while_another_participant_is_pinned) {
  corio__ebr_t *ebr;
  corio__ebr_thread_t *a;
  pinner_t b;
  pthread_t thread;
  atomic_int freed = 0;
  int i;

  cr_assert_eq(corio__ebr_init(&ebr, 2), 0);
  a = corio__ebr_thread(ebr, 0);
  b.me = corio__ebr_thread(ebr, 1);
  atomic_init(&b.pinned, 0);
  atomic_init(&b.may_unpin, 0);
  atomic_init(&b.unpinned, 0);
  cr_assert_eq(pthread_create(&thread, NULL, pinner_main, &b), 0);
  spin_until(&b.pinned);

  cr_assert_eq(corio__ebr_retire(a, &freed, set_flag), 0);
  for (i = 0; i < 1000; i++) {
    corio__ebr_collect(a);
    cr_assert_eq(atomic_load(&freed), 0, "freed under a pin after %d", i);
  }

  atomic_store_explicit(&b.may_unpin, 1, memory_order_release);
  spin_until(&b.unpinned);
  corio__ebr_collect(a);
  corio__ebr_collect(a);
  cr_assert_eq(atomic_load(&freed), 1);

  cr_assert_eq(pthread_join(thread, NULL), 0);
  corio__ebr_free(ebr);
}


static void *pin_once_main(void *arg) {
  corio__ebr_thread_t *me = arg;

  corio__ebr_pin(me);
  corio__ebr_unpin(me);
  return NULL;
}


Test(ebr, unpinned_idle_participants_do_not_block_reclamation) {
  corio__ebr_t *ebr;
  corio__ebr_thread_t *me;
  pthread_t thread;
  atomic_int freed = 0;

  /* Participants 1 and 3 never pin; 2 pinned once long ago, then idled. */
  cr_assert_eq(corio__ebr_init(&ebr, 4), 0);
  me = corio__ebr_thread(ebr, 0);
  cr_assert_eq(pthread_create(&thread, NULL, pin_once_main,
                              corio__ebr_thread(ebr, 2)), 0);
  cr_assert_eq(pthread_join(thread, NULL), 0);

  cr_assert_eq(corio__ebr_retire(me, &freed, set_flag), 0);
  corio__ebr_collect(me);
  corio__ebr_collect(me);
  cr_assert_eq(atomic_load(&freed), 1);
  corio__ebr_free(ebr);
}


Test(ebr, nested_pins_hold_until_the_outermost_unpin) {
  corio__ebr_t *ebr;
  corio__ebr_thread_t *a;
  corio__ebr_thread_t *b;
  atomic_int freed = 0;
  int i;

  /* One thread drives both participants in turn; never concurrently. */
  cr_assert_eq(corio__ebr_init(&ebr, 2), 0);
  a = corio__ebr_thread(ebr, 0);
  b = corio__ebr_thread(ebr, 1);

  corio__ebr_pin(b);
  corio__ebr_pin(b);
  corio__ebr_unpin(b);
  cr_assert_eq(corio__ebr_retire(a, &freed, set_flag), 0);
  for (i = 0; i < 10; i++)
    corio__ebr_collect(a);
  cr_assert_eq(atomic_load(&freed), 0);

  corio__ebr_unpin(b);
  corio__ebr_collect(a);
  corio__ebr_collect(a);
  cr_assert_eq(atomic_load(&freed), 1);
  corio__ebr_free(ebr);
}


/* An object that carries its own retire record. */
typedef struct {
  corio__ebr_node_t node;
  atomic_int *frees;
} counted_t;


static void counted_free(void *p) {
  counted_t *c = p;

  atomic_fetch_add_explicit(c->frees, 1, memory_order_relaxed);
  free(c);
}


static counted_t *counted_new(atomic_int *frees) {
  counted_t *c = malloc(sizeof(*c));

  cr_assert_not_null(c);
  c->frees = frees;
  return c;
}


Test(ebr, ebr_free_frees_every_object_still_retired) {
  corio__ebr_t *ebr;
  corio__ebr_thread_t *a;
  corio__ebr_thread_t *b;
  atomic_int frees = 0;
  counted_t *c;
  int i;

  cr_assert_eq(corio__ebr_init(&ebr, 2), 0);
  a = corio__ebr_thread(ebr, 0);
  b = corio__ebr_thread(ebr, 1);

  /* Keep b pinned so that collecting advances at most once: a's objects
   * end up in two different epochs' bags. */
  corio__ebr_pin(b);
  for (i = 0; i < 10; i++)
    cr_assert_eq(corio__ebr_retire(a, counted_new(&frees), counted_free), 0);
  corio__ebr_collect(a);
  for (i = 0; i < 5; i++) {
    c = counted_new(&frees);
    corio__ebr_retire_node(a, &c->node, c, counted_free);
  }
  corio__ebr_collect(a);
  for (i = 0; i < 3; i++)
    cr_assert_eq(corio__ebr_retire(b, counted_new(&frees), counted_free), 0);
  cr_assert_eq(atomic_load(&frees), 0);

  corio__ebr_unpin(b);
  corio__ebr_free(ebr);
  cr_assert_eq(atomic_load(&frees), 18);
}


/* --- Readers against a writer ---------------------------------------------
 * A writer keeps replacing a shared object and retiring the old one; the
 * free function poisons it before freeing. Readers pin, load the object and
 * check it. A reclamation bug shows up as a poisoned read here, or as a
 * use-after-free under ASan and a race under TSan. */

#define SWAP_READERS 2
#define SWAP_REPLACEMENTS 200000
#define SWAP_MAGIC 0x5eedf00du

typedef struct {
  corio__ebr_node_t node;
  atomic_uint value;
} cell_t;

typedef struct {
  corio__ebr_t *ebr;
  _Atomic(cell_t *) current;
  atomic_int done;
  atomic_ulong bad;
  atomic_ulong reads;
} swap_t;

typedef struct {
  swap_t *s;
  unsigned index;
} swap_arg_t;


static void cell_free(void *p) {
  cell_t *c = p;

  /* relaxed: only a reader racing a premature free could see this. */
  atomic_store_explicit(&c->value, 0, memory_order_relaxed);
  free(c);
}


static cell_t *cell_new(void) {
  cell_t *c = malloc(sizeof(*c));

  if (c != NULL)
    atomic_init(&c->value, SWAP_MAGIC);
  return c;
}


static void *swap_writer(void *arg) {
  swap_arg_t *a = arg;
  swap_t *s = a->s;
  corio__ebr_thread_t *me = corio__ebr_thread(s->ebr, a->index);
  cell_t *old;
  cell_t *c;
  int i;

  for (i = 0; i < SWAP_REPLACEMENTS; i++) {
    c = cell_new();
    if (c == NULL) {
      atomic_fetch_add_explicit(&s->bad, 1, memory_order_relaxed);
      break;
    }
    /* acq_rel: release publishes the new cell; acquire takes ownership of
     * the old one from whoever published it (us). */
    old = atomic_exchange_explicit(&s->current, c, memory_order_acq_rel);
    corio__ebr_retire_node(me, &old->node, old, cell_free);
    if ((i & 15) == 0)
      corio__ebr_collect(me);
  }
  /* release: the readers stop after seeing this. */
  atomic_store_explicit(&s->done, 1, memory_order_release);
  return NULL;
}


static void *swap_reader(void *arg) {
  swap_arg_t *a = arg;
  swap_t *s = a->s;
  corio__ebr_thread_t *me = corio__ebr_thread(s->ebr, a->index);
  unsigned long n = 0;
  cell_t *c;

  /* acquire: pairs with the writer's release of done. */
  while (!atomic_load_explicit(&s->done, memory_order_acquire)) {
    corio__ebr_pin(me);
    /* acquire: pairs with the writer's publication of the cell. */
    c = atomic_load_explicit(&s->current, memory_order_acquire);
    /* relaxed: a value, published with the cell. */
    if (atomic_load_explicit(&c->value, memory_order_relaxed) != SWAP_MAGIC)
      atomic_fetch_add_explicit(&s->bad, 1, memory_order_relaxed);
    corio__ebr_unpin(me);
    if ((++n & 255) == 0) {
      corio__ebr_collect(me);
      sched_yield();
    }
  }
  atomic_fetch_add_explicit(&s->reads, n, memory_order_relaxed);
  return NULL;
}


Test(ebr, readers_never_see_a_freed_object, .timeout = 120) {
  swap_t s;
  swap_arg_t args[1 + SWAP_READERS];
  pthread_t threads[1 + SWAP_READERS];
  cell_t *last;
  unsigned i;

  cr_assert_eq(corio__ebr_init(&s.ebr, 1 + SWAP_READERS), 0);
  atomic_init(&s.current, cell_new());
  cr_assert_not_null(atomic_load(&s.current));
  atomic_init(&s.done, 0);
  atomic_init(&s.bad, 0);
  atomic_init(&s.reads, 0);

  for (i = 0; i < 1 + SWAP_READERS; i++) {
    args[i].s = &s;
    args[i].index = i;
    cr_assert_eq(pthread_create(&threads[i], NULL,
                                i == 0 ? swap_writer : swap_reader,
                                &args[i]), 0);
  }
  for (i = 0; i < 1 + SWAP_READERS; i++)
    cr_assert_eq(pthread_join(threads[i], NULL), 0);

  cr_assert_eq(atomic_load(&s.bad), 0);
  cr_assert_gt(atomic_load(&s.reads), 0);
  cr_log_info("%lu reads", atomic_load(&s.reads));

  last = atomic_load(&s.current);
  free(last);
  corio__ebr_free(s.ebr);
}
