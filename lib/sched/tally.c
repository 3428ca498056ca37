/* Per-thread task tallies (tally.h). */
#include "tally.h"



void corio__tally_init(corio__tally_t *t, int owned) {
  atomic_init(&t->spawned, 0);
  atomic_init(&t->finished, 0);
  t->owned = owned;
  atomic_init(&t->lock, 0);
  corio__list_init(&t->tasks);
  atomic_init(&t->remote, NULL);
  /* a tally without an owner frees on any thread: nothing comes home */
  atomic_init(&t->carry_budget, owned ? CORIO__CARRY_MAX : 0);
  t->carried_back = 0;
}


/* One collect: the sums, and a fingerprint of every count read, so that
 * two collects can be compared. */
static void collect(corio__tally_t *const *tallies, unsigned n,
                    uint64_t *live, uint64_t *print) {
  uint64_t s = 0, f = 0, p = 0;

  for (unsigned i = 0; i < n; i++) {
    /* acquire: pairs with the owners' release stores */
    uint64_t a = atomic_load_explicit(&tallies[i]->spawned, memory_order_acquire);
    uint64_t b = atomic_load_explicit(&tallies[i]->finished, memory_order_acquire);
    s += a;
    f += b;
    /* The counts only grow, so equal sums mean equal counts. */
    p += a + b;
  }
  *live = s - f;
  *print = p;
}


uint64_t corio__tally_live(corio__tally_t *const *tallies, unsigned n) {
  uint64_t live, print, again;

  collect(tallies, n, &live, &print);
  for (;;) {
    uint64_t prev = print;
    collect(tallies, n, &live, &again);
    if (again == prev)
      return live;
    print = again;
  }
}
