/* Stack allocation. One mmap per stack (MAP_NORESERVE: only touched pages
 * cost memory) and an mprotect for the guard page; a per-thread cache of
 * free stacks in front of the kernel so that spawning rarely makes a
 * system call. A cached stack keeps its own list link in its top bytes,
 * so the cache allocates nothing. */
#include "stack.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include <pthread.h>
#include <uv.h>

#include "corio/coro.h"
#include "sanitize.h"

/* Per-thread cache size: enough to absorb bursts of spawn/finish. */
#define STACK_CACHE_MAX 64

typedef struct cached_stack {
  struct cached_stack *next;
  corio__stack_t st;
} cached_stack_t;

typedef struct stack_cache {
  cached_stack_t *head;
  size_t count;
} stack_cache_t;

static _Thread_local stack_cache_t stack_cache;
static pthread_key_t stack_cache_key;
static pthread_once_t stack_cache_once = PTHREAD_ONCE_INIT;


size_t corio__page_size(void) {
  static size_t page;

  if (page == 0)
    page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}


static void stack_unmap(const corio__stack_t *st) {
  CORIO__VALGRIND_STACK_DEREGISTER(st->vg_id);
  munmap(st->map, st->map_size);
}


/* Thread exit: the cache's stacks go back to the kernel. */
static void stack_cache_destructor(void *unused) {
  (void)unused;
  corio_stack_cache_drain();
}


static void stack_cache_key_create(void) {
  pthread_key_create(&stack_cache_key, stack_cache_destructor);
}


/* Noinline: a coroutine may continue on another thread, so the cache's
 * address must be computed afresh at every use (DESIGN.md 3a). */
__attribute__((noinline)) static stack_cache_t *stack_cache_get(void) {
  return &stack_cache;
}


static cached_stack_t *cached_at(const corio__stack_t *st) {
  return (cached_stack_t *)(corio__stack_hi(st) - sizeof(cached_stack_t));
}


int corio__stack_alloc(corio__stack_t *st, size_t usable, int guarded) {
  stack_cache_t *cache = stack_cache_get();
  size_t guard = guarded ? corio__page_size() : 0;
  cached_stack_t **link;
  char *map;

  for (link = &cache->head; *link != NULL; link = &(*link)->next) {
    cached_stack_t *c = *link;
    if (c->st.map_size == usable + guard && c->st.guard_size == guard) {
      *link = c->next;
      cache->count--;
      *st = c->st;
      return 0;
    }
  }

  map = mmap(NULL, usable + guard, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (map == MAP_FAILED)
    return UV_ENOMEM;
  /* The guard splits the mapping in two; this is the call that fails once
   * the process reaches vm.max_map_count. */
  if (guard != 0 && mprotect(map, guard, PROT_NONE) != 0) {
    munmap(map, usable + guard);
    return UV_ENOMEM;
  }
  st->map = map;
  st->map_size = usable + guard;
  st->guard_size = guard;
  st->vg_id = CORIO__VALGRIND_STACK_REGISTER(map + guard, map + usable + guard);
  return 0;
}


void corio__stack_release(const corio__stack_t *st) {
  stack_cache_t *cache = stack_cache_get();
  cached_stack_t *c;

  if (cache->count >= STACK_CACHE_MAX) {
    stack_unmap(st);
    return;
  }
  if (cache->count == 0) {
    /* Register the thread-exit destructor (harmless to repeat). */
    pthread_once(&stack_cache_once, stack_cache_key_create);
    pthread_setspecific(stack_cache_key, cache);
  }
  c = cached_at(st);
  c->st = *st;
  c->next = cache->head;
  cache->head = c;
  cache->count++;
}


size_t corio_stack_cache_count(void) {
  return stack_cache_get()->count;
}


void corio_stack_cache_drain(void) {
  stack_cache_t *cache = stack_cache_get();

  while (cache->head != NULL) {
    cached_stack_t *c = cache->head;
    corio__stack_t st = c->st;
    cache->head = c->next;
    cache->count--;
    stack_unmap(&st);
  }
}
