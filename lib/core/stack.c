/* Stack allocation. One mmap per stack (MAP_NORESERVE: only touched pages
 * cost memory) and an mprotect for the guard page, behind two caches so
 * that spawning almost never makes a system call (the shape of rpmalloc's
 * and tcmalloc's thread caches):
 *  - a per-thread cache, no locks, up to LOCAL_MAX stacks;
 *  - a shared pool, one mutex, up to SHARED_MAX stacks, that threads move
 *    stacks to and from in batches. It matters when stacks are created on
 *    one thread and freed on another (a task spawned on worker A, joined on
 *    worker B): B's surplus flows to A through the pool instead of going
 *    back to the kernel while A maps new ones.
 * A cached stack keeps its list link in its own top bytes, so the caches
 * allocate nothing. Only stacks of one shape (size and guard) match. */
#include "stack.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
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

typedef struct cached_stack {
  struct cached_stack *next;
  corio__stack_t st;
} cached_stack_t;

typedef struct stack_list {
  cached_stack_t *head;
  size_t count;
} stack_list_t;

static _Thread_local stack_list_t local_cache;
static pthread_key_t local_cache_key;
static pthread_once_t local_cache_once = PTHREAD_ONCE_INIT;

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static stack_list_t shared_pool;
/* shared_pool.count, readable without the lock as a hint */
static _Atomic(size_t) shared_hint;


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
}


static void list_unmap_all(stack_list_t *l) {
  while (l->head != NULL) {
    cached_stack_t *c = l->head;
    corio__stack_t st = c->st;
    l->head = c->next;
    l->count--;
    stack_unmap(&st);
  }
}


/* Thread exit: this thread's stacks go back to the kernel. */
static void local_cache_destructor(void *cache) {
  list_unmap_all(cache);
}


static void local_cache_key_create(void) {
  pthread_key_create(&local_cache_key, local_cache_destructor);
}


/* Noinline: a coroutine may continue on another thread, so the cache's
 * address must be computed afresh at every use (docs/DESIGN.md 3a). */
__attribute__((noinline)) static stack_list_t *local_cache_get(void) {
  return &local_cache;
}


static cached_stack_t *cached_at(const corio__stack_t *st) {
  return (cached_stack_t *)(corio__stack_hi(st) - sizeof(cached_stack_t));
}


/* Take the first stack of the given shape out of l. */
static int list_take(stack_list_t *l, size_t map_size, size_t guard,
                     corio__stack_t *st) {
  cached_stack_t **link;

  for (link = &l->head; *link != NULL; link = &(*link)->next) {
    cached_stack_t *c = *link;
    if (c->st.map_size == map_size && c->st.guard_size == guard) {
      *link = c->next;
      l->count--;
      *st = c->st;
      return 1;
    }
  }
  return 0;
}


static void list_push(stack_list_t *l, cached_stack_t *c) {
  c->next = l->head;
  l->head = c;
  l->count++;
}


/* Refill the local cache with up to BATCH stacks of this shape. */
static void refill_from_pool(stack_list_t *local, size_t map_size,
                             size_t guard) {
  corio__stack_t st;
  int n;

  pthread_mutex_lock(&shared_mu);
  for (n = 0; n < BATCH && list_take(&shared_pool, map_size, guard, &st); n++)
    list_push(local, cached_at(&st));
  atomic_store_explicit(&shared_hint, shared_pool.count, memory_order_relaxed);
  pthread_mutex_unlock(&shared_mu);
}


/* The local cache is full: move a batch to the pool, or to the kernel if
 * the pool is full too. */
static void spill_to_pool(stack_list_t *local) {
  stack_list_t spill = {NULL, 0};
  int n;

  for (n = 0; n < BATCH && local->head != NULL; n++) {
    cached_stack_t *c = local->head;
    local->head = c->next;
    local->count--;
    list_push(&spill, c);
  }
  pthread_mutex_lock(&shared_mu);
  while (spill.head != NULL && shared_pool.count < SHARED_MAX) {
    cached_stack_t *c = spill.head;
    spill.head = c->next;
    spill.count--;
    list_push(&shared_pool, c);
  }
  atomic_store_explicit(&shared_hint, shared_pool.count, memory_order_relaxed);
  pthread_mutex_unlock(&shared_mu);
  list_unmap_all(&spill);
}


int corio__stack_alloc(corio__stack_t *st, size_t usable, int guarded) {
  stack_list_t *local = local_cache_get();
  size_t guard = guarded ? corio__page_size() : 0;
  size_t map_size = usable + guard;
  char *map;

  if (list_take(local, map_size, guard, st))
    return 0;
  /* relaxed peek: a stale answer only costs a lock or a fresh mapping */
  if (atomic_load_explicit(&shared_hint, memory_order_relaxed) != 0) {
    refill_from_pool(local, map_size, guard);
    if (list_take(local, map_size, guard, st))
      return 0;
  }

  map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
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
  return 0;
}


void corio__stack_release(const corio__stack_t *st) {
  stack_list_t *local = local_cache_get();
  cached_stack_t *c = cached_at(st);

  if (local->count == 0) {
    /* Register the thread-exit destructor (harmless to repeat). */
    pthread_once(&local_cache_once, local_cache_key_create);
    pthread_setspecific(local_cache_key, local);
  }
  c->st = *st;
  list_push(local, c);
  if (local->count > LOCAL_MAX)
    spill_to_pool(local);
}


size_t corio__stack_shared_count(void) {
  return atomic_load_explicit(&shared_hint, memory_order_relaxed);
}


size_t corio_stack_cache_count(void) {
  return local_cache_get()->count;
}


void corio_stack_cache_drain(void) {
  list_unmap_all(local_cache_get());
  pthread_mutex_lock(&shared_mu);
  list_unmap_all(&shared_pool);
  atomic_store_explicit(&shared_hint, 0, memory_order_relaxed);
  pthread_mutex_unlock(&shared_mu);
}
