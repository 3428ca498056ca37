/* Stack allocation. One mmap per stack (MAP_NORESERVE: only touched pages
 * cost memory) and an mprotect for the guard page, behind two caches so
 * that spawning almost never makes a system call (the shape of rpmalloc's
 * and tcmalloc's thread caches, and of Go's per-P stack cache):
 *  - a per-thread cache, no locks, up to LOCAL_MAX hot and LOCAL_MAX cold
 *    stacks (see stack_cache_t);
 *  - a shared pool, one mutex, up to SHARED_MAX stacks, that threads move
 *    stacks to and from in batches. It matters when stacks are created on
 *    one thread and freed on another (a task spawned on worker A, joined on
 *    worker B), and when more tasks live at once than a thread caches:
 *    B's surplus flows to A through the pool instead of going back to the
 *    kernel while A maps new ones.
 * Both caches are arrays of descriptors (corio__stack_t): moving a batch
 * is a copy of 64 descriptors, and no cached stack's memory is touched
 * until it runs again. (They were lists linked through each stack's top
 * bytes; a refill then chased 64 pointers into cold stacks, one cache and
 * TLB miss after another under the mutex: a tenth of a spawn.) Only
 * stacks of one shape (size and guard) match. */
#include "stack.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include "corio/coro.h"
#include "sanitize.h"

#define LOCAL_MAX 256
#define BATCH 64        /* moved between a thread and the pool at once */
/* Unmapping is the expensive end: munmap takes the process' mmap lock for
 * writing (page faults on every thread wait behind it) and interrupts
 * every CPU to flush TLBs. Measured with 10,000 tasks finishing at once
 * (corio-bench timer), a pool of 4096 put the p99 wake-up lateness at
 * 24-58 ms, one that holds them all at 2 ms. So the pool is large; what it
 * holds costs the pages each stack touched (a few KiB), and
 * corio_stack_cache_drain() gives it all back. */
#define SHARED_MAX 16384

typedef struct stack_array {
  size_t n;
  corio__stack_t s[LOCAL_MAX];
} stack_array_t;

/* A thread's cache holds two kinds of stacks. Hot ones were freed here,
 * by a coroutine that ran here: their top lines and pages are likely in
 * this CPU's caches and TLB. Cold ones were handed over (a task spawned
 * elsewhere swapped its stack for a hot one, corio__stack_swap_hot) or
 * came from the pool. Running takes hot first; reserving for a task that
 * may run elsewhere takes cold first. */
typedef struct stack_cache {
  stack_array_t hot, cold;
} stack_cache_t;

/* Allocated at a thread's first release (its TLS stays small). */
static _Thread_local stack_cache_t *local_cache;
static pthread_key_t local_cache_key;
static pthread_once_t local_cache_once = PTHREAD_ONCE_INIT;

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  size_t n;
  corio__stack_t s[SHARED_MAX];
} shared_pool;
/* shared_pool.n, readable without the lock as a hint */
static _Atomic(size_t) shared_hint;
/* Stacks mapped now, process-wide (corio_rt_metrics): changed only where
 * a stack is mapped or unmapped, never on a cached reuse. */
static _Atomic(size_t) mapped;


size_t corio__page_size(void) {
  /* relaxed: every thread computes the same value; the atomic only makes
   * the benign race of the first calls well-defined */
  static _Atomic(size_t) page;
  size_t p = atomic_load_explicit(&page, memory_order_relaxed);

  if (p == 0) {
    p = (size_t)sysconf(_SC_PAGESIZE);
    atomic_store_explicit(&page, p, memory_order_relaxed);
  }
  return p;
}


static void stack_unmap(const corio__stack_t *st) {
  CORIO__VALGRIND_STACK_DEREGISTER(st->vg_id);
  munmap(st->map, st->map_size);
  atomic_fetch_sub_explicit(&mapped, 1, memory_order_relaxed);
}


static void unmap_all(corio__stack_t *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    stack_unmap(&s[i]);
}


/* Noinline: a coroutine may continue on another thread, so the cache's
 * address must be computed afresh at every use (docs/DESIGN.md 3a). */
__attribute__((noinline)) static stack_cache_t **local_cache_get(void) {
  return &local_cache;
}


/* Thread exit: this thread's stacks go back to the kernel. */
static void local_cache_destructor(void *cache) {
  stack_cache_t *c = cache;

  unmap_all(c->hot.s, c->hot.n);
  unmap_all(c->cold.s, c->cold.n);
  free(c);
  /* the destructor runs on the exiting thread: a later release (another
   * key's destructor) makes a new cache, and a new destructor run */
  *local_cache_get() = NULL;
}


static void local_cache_key_create(void) {
  pthread_key_create(&local_cache_key, local_cache_destructor);
}


static int same_shape(const corio__stack_t *st, size_t map_size, size_t guard) {
  return st->map_size == map_size && st->guard_size == guard;
}


/* Take the newest stack of the given shape out of s[0, *n). */
static int array_take(corio__stack_t *s, size_t *n, size_t map_size, size_t guard,
                      corio__stack_t *st) {
  for (size_t i = *n; i-- > 0;) {
    if (same_shape(&s[i], map_size, guard)) {
      *st = s[i];
      s[i] = s[--*n]; /* the newest of the others moves down: order matters little */
      return 1;
    }
  }
  return 0;
}


/* Refill a local array with up to BATCH stacks of this shape, newest
 * first. */
static void refill_from_pool(stack_array_t *local, size_t map_size, size_t guard) {
  corio__stack_t st;
  int k;

  pthread_mutex_lock(&shared_mu);
  for (k = 0; k < BATCH && local->n < LOCAL_MAX &&
              array_take(shared_pool.s, &shared_pool.n, map_size, guard, &st);
       k++)
    local->s[local->n++] = st;
  atomic_store_explicit(&shared_hint, shared_pool.n, memory_order_relaxed);
  pthread_mutex_unlock(&shared_mu);
}


/* A local array is full: its BATCH oldest stacks go to the pool, or to
 * the kernel if the pool is full too. */
static void spill_to_pool(stack_array_t *local) {
  corio__stack_t out[BATCH];
  size_t k = local->n < BATCH ? local->n : BATCH, moved;

  memcpy(out, local->s, k * sizeof out[0]);
  memmove(local->s, local->s + k, (local->n - k) * sizeof out[0]);
  local->n -= k;
  pthread_mutex_lock(&shared_mu);
  moved = SHARED_MAX - shared_pool.n < k ? SHARED_MAX - shared_pool.n : k;
  memcpy(shared_pool.s + shared_pool.n, out, moved * sizeof out[0]);
  shared_pool.n += moved;
  atomic_store_explicit(&shared_hint, shared_pool.n, memory_order_relaxed);
  pthread_mutex_unlock(&shared_mu);
  unmap_all(out + moved, k - moved);
}


/* This thread's cache, made at its first use; NULL if out of memory. */
static stack_cache_t *local_cache_ensure(void) {
  stack_cache_t **slot = local_cache_get(), *local = *slot;

  if (local == NULL) {
    local = malloc(sizeof *local);
    if (local == NULL)
      return NULL;
    local->hot.n = 0;
    local->cold.n = 0;
    *slot = local;
    /* the thread-exit destructor */
    pthread_once(&local_cache_once, local_cache_key_create);
    pthread_setspecific(local_cache_key, local);
  }
  return local;
}


static int map_stack(corio__stack_t *st, size_t map_size, size_t guard) {
  char *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);

  if (map == MAP_FAILED)
    return UV_ENOMEM;
  /* The guard splits the mapping in two; this is the call that fails once
   * the process reaches vm.max_map_count. */
  if (guard != 0 && mprotect(map, guard, PROT_NONE) != 0) {
    munmap(map, map_size);
    return UV_ENOMEM;
  }
  st->map = map;
  st->map_size = map_size;
  st->guard_size = guard;
  st->vg_id = CORIO__VALGRIND_STACK_REGISTER(map + guard, map + map_size);
  atomic_fetch_add_explicit(&mapped, 1, memory_order_relaxed);
  return 0;
}


/* A stack from this thread's arrays, `first` tried before `second`, then
 * the pool, then a new mapping. */
static int stack_get(corio__stack_t *st, size_t usable, int guarded, int hot_first) {
  stack_cache_t *local = local_cache_ensure();
  size_t guard = guarded ? corio__page_size() : 0;
  size_t map_size = usable + guard;

  if (local != NULL) {
    stack_array_t *first = hot_first ? &local->hot : &local->cold;
    stack_array_t *second = hot_first ? &local->cold : &local->hot;
    if (array_take(first->s, &first->n, map_size, guard, st) ||
        array_take(second->s, &second->n, map_size, guard, st))
      return 0;
    /* relaxed peek: a stale answer only costs a lock or a fresh mapping */
    if (atomic_load_explicit(&shared_hint, memory_order_relaxed) != 0) {
      refill_from_pool(&local->cold, map_size, guard);
      if (array_take(local->cold.s, &local->cold.n, map_size, guard, st))
        return 0;
    }
  }
  return map_stack(st, map_size, guard);
}


int corio__stack_alloc(corio__stack_t *st, size_t usable, int guarded) {
  return stack_get(st, usable, guarded, 1);
}


int corio__stack_reserve(corio__stack_t *st, size_t usable, int guarded) {
  return stack_get(st, usable, guarded, 0);
}


static void array_put(stack_array_t *a, const corio__stack_t *st) {
  if (a->n == LOCAL_MAX)
    spill_to_pool(a);
  a->s[a->n++] = *st;
}


void corio__stack_swap_hot(corio__stack_t *st) {
  stack_cache_t *local = *local_cache_get();
  corio__stack_t hot;

  if (local == NULL ||
      !array_take(local->hot.s, &local->hot.n, st->map_size, st->guard_size, &hot))
    return;
  array_put(&local->cold, st);
  *st = hot;
}


/* Into this thread's hot or cold array; to the kernel if it has none. */
static void release_to(const corio__stack_t *st, int cold) {
  stack_cache_t *local = local_cache_ensure();

  if (local == NULL)
    stack_unmap(st);
  else
    array_put(cold ? &local->cold : &local->hot, st);
}


void corio__stack_release(const corio__stack_t *st) {
  release_to(st, 0);
}


void corio__stack_release_cold(const corio__stack_t *st) {
  release_to(st, 1);
}


int corio__stack_take_cold(corio__stack_t *st, size_t usable, int guarded) {
  stack_cache_t *local = *local_cache_get();
  size_t guard = guarded ? corio__page_size() : 0;

  return local != NULL &&
         array_take(local->cold.s, &local->cold.n, usable + guard, guard, st);
}


size_t corio__stack_mapped_count(void) {
  return atomic_load_explicit(&mapped, memory_order_relaxed);
}


size_t corio__stack_shared_count(void) {
  return atomic_load_explicit(&shared_hint, memory_order_relaxed);
}


size_t corio_stack_cache_count(void) {
  stack_cache_t *local = *local_cache_get();

  return local != NULL ? local->hot.n + local->cold.n : 0;
}


void corio_stack_cache_drain(void) {
  stack_cache_t **slot = local_cache_get(), *local = *slot;

  if (local != NULL) {
    unmap_all(local->hot.s, local->hot.n);
    unmap_all(local->cold.s, local->cold.n);
    free(local);
    *slot = NULL;
    pthread_setspecific(local_cache_key, NULL);
  }
  pthread_mutex_lock(&shared_mu);
  unmap_all(shared_pool.s, shared_pool.n);
  shared_pool.n = 0;
  atomic_store_explicit(&shared_hint, 0, memory_order_relaxed);
  pthread_mutex_unlock(&shared_mu);
}
