/* The work-stealing deque: order, emptiness, growth, and a steal storm in
 * which every item must be taken exactly once. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include "sched/deque.h"
#include "sched/ebr.h"

/* Items are the integers 1..N disguised as pointers; 0 would be NULL. */
#define ITEM(i) ((void *) (uintptr_t) (i))
#define VALUE(p) ((uintptr_t) (p))


typedef struct {
  corio__ebr_t *ebr;
  corio__deque_t dq;
} fixture_t;


static void fixture_init(fixture_t *f, unsigned participants,
                         unsigned log2_cap) {
  cr_assert_eq(corio__ebr_init(&f->ebr, participants), 0);
  cr_assert_eq(corio__deque_init(&f->dq, log2_cap), 0);
}


static void fixture_fini(fixture_t *f) {
  corio__deque_destroy(&f->dq);
  corio__ebr_free(f->ebr);
}


Test(deque, pop_returns_items_newest_first) {
  fixture_t f;
  corio__ebr_thread_t *owner;
  uintptr_t i;

  fixture_init(&f, 1, 4);
  owner = corio__ebr_thread(f.ebr, 0);
  for (i = 1; i <= 10; i++)
    cr_assert_eq(corio__deque_push(&f.dq, owner, ITEM(i)), 0);

  for (i = 10; i >= 1; i--)
    cr_assert_eq(VALUE(corio__deque_pop(&f.dq)), i);
  cr_assert_null(corio__deque_pop(&f.dq));
  fixture_fini(&f);
}


Test(deque, steal_returns_items_oldest_first) {
  fixture_t f;
  corio__ebr_thread_t *owner;
  corio__ebr_thread_t *thief;
  uintptr_t i;
  int lost;

  fixture_init(&f, 2, 4);
  owner = corio__ebr_thread(f.ebr, 0);
  thief = corio__ebr_thread(f.ebr, 1);
  for (i = 1; i <= 10; i++)
    cr_assert_eq(corio__deque_push(&f.dq, owner, ITEM(i)), 0);

  for (i = 1; i <= 10; i++) {
    lost = -1;
    cr_assert_eq(VALUE(corio__deque_steal(&f.dq, thief, &lost)), i);
    cr_assert_eq(lost, 0);
  }
  cr_assert_null(corio__deque_steal(&f.dq, thief, NULL));
  fixture_fini(&f);
}


Test(deque, empty_deque_returns_null_and_reports_no_lost_race) {
  fixture_t f;
  corio__ebr_thread_t *owner;
  corio__ebr_thread_t *thief;
  int lost;

  fixture_init(&f, 2, 1);
  owner = corio__ebr_thread(f.ebr, 0);
  thief = corio__ebr_thread(f.ebr, 1);

  lost = -1;
  cr_assert_null(corio__deque_pop(&f.dq));
  cr_assert_null(corio__deque_steal(&f.dq, thief, &lost));
  cr_assert_eq(lost, 0);
  cr_assert_eq(corio__deque_size_approx(&f.dq), 0);

  /* Emptied again after use, including by a pop on an empty deque, which
   * must not leave bottom below top. */
  cr_assert_eq(corio__deque_push(&f.dq, owner, ITEM(7)), 0);
  cr_assert_eq(VALUE(corio__deque_pop(&f.dq)), 7);
  cr_assert_null(corio__deque_pop(&f.dq));
  cr_assert_null(corio__deque_steal(&f.dq, thief, &lost));
  cr_assert_eq(lost, 0);
  cr_assert_eq(corio__deque_size_approx(&f.dq), 0);
  cr_assert_eq(corio__deque_push(&f.dq, owner, ITEM(8)), 0);
  cr_assert_eq(VALUE(corio__deque_steal(&f.dq, thief, &lost)), 8);
  fixture_fini(&f);
}


Test(deque, growth_from_capacity_2_to_100k_items_keeps_every_item) {
  enum { N = 100000 };
  fixture_t f;
  corio__ebr_thread_t *owner;
  corio__ebr_thread_t *thief;
  uintptr_t i;
  uintptr_t oldest;
  uintptr_t newest;

  fixture_init(&f, 2, 1);
  owner = corio__ebr_thread(f.ebr, 0);
  thief = corio__ebr_thread(f.ebr, 1);
  for (i = 1; i <= N; i++)
    cr_assert_eq(corio__deque_push(&f.dq, owner, ITEM(i)), 0);
  cr_assert_eq(corio__deque_size_approx(&f.dq), N);

  /* Take from both ends at once: each end must see a consecutive run, so
   * nothing was lost or duplicated by the growths. */
  oldest = 1;
  newest = N;
  while (oldest <= newest) {
    cr_assert_eq(VALUE(corio__deque_steal(&f.dq, thief, NULL)), oldest);
    oldest++;
    if (oldest > newest)
      break;
    cr_assert_eq(VALUE(corio__deque_pop(&f.dq)), newest);
    newest--;
  }
  cr_assert_null(corio__deque_pop(&f.dq));
  cr_assert_null(corio__deque_steal(&f.dq, thief, NULL));
  fixture_fini(&f);
}


Test(deque, wrapping_around_the_buffer_keeps_order) {
  fixture_t f;
  corio__ebr_thread_t *owner;
  corio__ebr_thread_t *thief;
  uintptr_t next;
  uintptr_t round;

  /* Capacity 4, never more than 3 items: indices run far past the
   * capacity, so every slot is reused many times, and no grow happens. */
  fixture_init(&f, 2, 2);
  owner = corio__ebr_thread(f.ebr, 0);
  thief = corio__ebr_thread(f.ebr, 1);
  next = 1;
  for (round = 0; round < 1000; round++) {
    cr_assert_eq(corio__deque_push(&f.dq, owner, ITEM(next)), 0);
    cr_assert_eq(corio__deque_push(&f.dq, owner, ITEM(next + 1)), 0);
    cr_assert_eq(corio__deque_push(&f.dq, owner, ITEM(next + 2)), 0);
    cr_assert_eq(VALUE(corio__deque_steal(&f.dq, thief, NULL)), next);
    cr_assert_eq(VALUE(corio__deque_pop(&f.dq)), next + 2);
    cr_assert_eq(VALUE(corio__deque_steal(&f.dq, thief, NULL)), next + 1);
    cr_assert_null(corio__deque_pop(&f.dq));
    next += 3;
  }
  fixture_fini(&f);
}


Test(deque, push_rejects_null_item_and_init_rejects_huge_capacity) {
  fixture_t f;
  corio__deque_t other;

  fixture_init(&f, 1, 1);
  cr_assert_eq(corio__deque_push(&f.dq, corio__ebr_thread(f.ebr, 0), NULL),
               UV_EINVAL);
  cr_assert_eq(corio__deque_push(&f.dq, NULL, ITEM(1)), UV_EINVAL);
  cr_assert_null(corio__deque_pop(&f.dq));
  cr_assert_eq(corio__deque_init(&other, 41), UV_EINVAL);
  cr_assert_eq(corio__deque_init(NULL, 1), UV_EINVAL);
  fixture_fini(&f);
}


/* --- Steal storm ----------------------------------------------------------
 * One owner pushes 1..N in random bursts and pops part of each burst; three
 * thieves steal all the time. The deque starts with capacity 2, so it grows
 * (and retires buffers) while thieves are reading. Every taker counts each
 * item it got; in the end every item must have been taken exactly once. */

#define STORM_ITEMS 1000000u
#define STORM_THIEVES 3
#define STORM_ROUNDS 3

typedef struct {
  fixture_t f;
  atomic_uint *taken;    /* taken[v]: how many times item v came out */
  pthread_barrier_t start;  /* everyone begins at once */
  atomic_int done;       /* the owner pushed everything and drained */
  atomic_uint bad;       /* items outside 1..N (asserted on the main thread) */
  atomic_ulong total;    /* items taken, by everyone */
  atomic_ulong stolen;   /* items taken by thieves (just reported) */
  int64_t max_size;      /* largest size the owner saw; > 2 means it grew */
  atomic_ulong lost;     /* steals that lost a race (just reported) */
} storm_t;

typedef struct {
  storm_t *s;
  unsigned index;        /* EBR participant; 0 is the owner */
} storm_arg_t;


static uint64_t xorshift(uint64_t *state) {
  uint64_t x = *state;

  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}


static void storm_take(storm_t *s, void *item) {
  uintptr_t v = VALUE(item);

  if (v < 1 || v > STORM_ITEMS) {
    atomic_fetch_add_explicit(&s->bad, 1, memory_order_relaxed);
    return;
  }
  /* relaxed: the counts are read after pthread_join. */
  atomic_fetch_add_explicit(&s->taken[v], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->total, 1, memory_order_relaxed);
}


static void *storm_owner(void *arg) {
  storm_arg_t *a = arg;
  storm_t *s = a->s;
  corio__ebr_thread_t *me = corio__ebr_thread(s->f.ebr, a->index);
  uint64_t rng = 0x9e3779b97f4a7c15u;
  uintptr_t next = 1;
  unsigned burst;
  unsigned pops;
  unsigned k;
  void *item;

  pthread_barrier_wait(&s->start);
  while (next <= STORM_ITEMS) {
    burst = 1 + (unsigned) (xorshift(&rng) % 128);
    for (k = 0; k < burst && next <= STORM_ITEMS; k++, next++) {
      if (corio__deque_push(&s->f.dq, me, ITEM(next)) != 0)
        atomic_fetch_add_explicit(&s->bad, 1, memory_order_relaxed);
      /* What the scheduler does from time to time. */
      if ((next & 4095) == 0)
        corio__ebr_collect(me);
    }
    if (corio__deque_size_approx(&s->f.dq) > s->max_size)
      s->max_size = corio__deque_size_approx(&s->f.dq);
    /* Pop up to one and a half bursts: the deque stays small and often
     * runs empty, so pop races steal for the last item. */
    pops = (unsigned) (xorshift(&rng) % (burst + 1));
    /* Now and then drain completely, racing the thieves down to empty. */
    if (xorshift(&rng) % 256 == 0)
      pops = UINT32_MAX;
    for (k = 0; k < pops; k++) {
      item = corio__deque_pop(&s->f.dq);
      if (item == NULL)
        break;
      storm_take(s, item);
    }
  }

  /* NULL from pop means empty, or a thief took the last item: empty too. */
  while ((item = corio__deque_pop(&s->f.dq)) != NULL)
    storm_take(s, item);

  /* release: the thieves stop only after seeing this. */
  atomic_store_explicit(&s->done, 1, memory_order_release);
  return NULL;
}


static void *storm_thief(void *arg) {
  storm_arg_t *a = arg;
  storm_t *s = a->s;
  corio__ebr_thread_t *me = corio__ebr_thread(s->f.ebr, a->index);
  unsigned misses = 0;
  void *item;
  int lost;

  pthread_barrier_wait(&s->start);
  for (;;) {
    item = corio__deque_steal(&s->f.dq, me, &lost);
    if (item != NULL) {
      storm_take(s, item);
      atomic_fetch_add_explicit(&s->stolen, 1, memory_order_relaxed);
      continue;
    }
    if (lost) {
      atomic_fetch_add_explicit(&s->lost, 1, memory_order_relaxed);
      continue;
    }
    /* acquire: pairs with the owner's release; nothing is pushed after. */
    if (atomic_load_explicit(&s->done, memory_order_acquire))
      break;
    /* Two cores, four threads: spin a little, then let the owner run. */
    if ((++misses & 63) == 0) {
      corio__ebr_collect(me);
      sched_yield();
    }
  }
  return NULL;
}


static void storm_round(unsigned round) {
  storm_t s;
  storm_arg_t args[1 + STORM_THIEVES];
  pthread_t threads[1 + STORM_THIEVES];
  unsigned long total;
  unsigned i;

  fixture_init(&s.f, 1 + STORM_THIEVES, 1);
  s.taken = malloc((STORM_ITEMS + 1) * sizeof(*s.taken));
  cr_assert_not_null(s.taken);
  for (i = 0; i <= STORM_ITEMS; i++)
    atomic_init(&s.taken[i], 0);
  cr_assert_eq(pthread_barrier_init(&s.start, NULL, 1 + STORM_THIEVES), 0);
  atomic_init(&s.done, 0);
  atomic_init(&s.bad, 0);
  atomic_init(&s.total, 0);
  atomic_init(&s.stolen, 0);
  s.max_size = 0;
  atomic_init(&s.lost, 0);

  for (i = 0; i < 1 + STORM_THIEVES; i++) {
    args[i].s = &s;
    args[i].index = i;
    cr_assert_eq(pthread_create(&threads[i], NULL,
                                i == 0 ? storm_owner : storm_thief,
                                &args[i]), 0);
  }
  for (i = 0; i < 1 + STORM_THIEVES; i++)
    cr_assert_eq(pthread_join(threads[i], NULL), 0);

  cr_assert_eq(atomic_load(&s.bad), 0);
  total = atomic_load(&s.total);
  cr_assert_eq(total, STORM_ITEMS, "round %u: %lu items taken, want %u",
               round, total, STORM_ITEMS);
  for (i = 1; i <= STORM_ITEMS; i++) {
    unsigned n = atomic_load_explicit(&s.taken[i], memory_order_relaxed);
    cr_assert_eq(n, 1, "round %u: item %u taken %u times", round, i, n);
  }
  cr_assert_null(corio__deque_pop(&s.f.dq));
  cr_assert_gt(s.max_size, 2, "round %u: the deque never grew", round);
  cr_assert_gt(atomic_load(&s.stolen), 0, "round %u: nothing stolen", round);

  cr_log_info("storm round %u: %lu stolen, %lu steals lost a race, "
              "largest size %lld", round, atomic_load(&s.stolen),
              atomic_load(&s.lost), (long long) s.max_size);
  pthread_barrier_destroy(&s.start);
  free(s.taken);
  fixture_fini(&s.f);
}


Test(deque, steal_storm_takes_every_item_exactly_once, .timeout = 300) {
  unsigned round;

  for (round = 0; round < STORM_ROUNDS; round++)
    storm_round(round);
}
