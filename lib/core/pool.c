/* Per-thread block caches (pool.h). A cached block keeps its list link in
 * its own first bytes. A thread's blocks are freed when it exits. */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

/* Blocks kept per thread and kind: enough for a loop iteration's worth of
 * connections that read at once (each takes a read buffer before any of
 * their tasks runs), few enough that a cache of read buffers costs at
 * most 64 x 64 KiB of address space, of which only touched pages count. */
#define POOL_MAX 64
/* Task records: a fan-out spawns and joins thousands at a time, and a
 * record that goes back to malloc costs more than the rest of a spawn. */
#define POOL_MAX_TASK 4096

typedef struct free_block {
  struct free_block *next;
} free_block_t;

typedef struct pool_cache {
  free_block_t *head[CORIO__POOL_KINDS];
  unsigned count[CORIO__POOL_KINDS];
  int registered;
} pool_cache_t;

static _Thread_local pool_cache_t cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;


static void cache_destructor(void *arg) {
  pool_cache_t *pc = arg;

  for (int k = 0; k < CORIO__POOL_KINDS; k++)
    while (pc->head[k] != NULL) {
      free_block_t *b = pc->head[k];
      pc->head[k] = b->next;
      free(b);
    }
  pc->registered = 0; /* a later put registers again */
}


static void cache_key_create(void) {
  pthread_key_create(&cache_key, cache_destructor);
}


/* Noinline: a task may go on on another thread between two calls, so the
 * cache's address is computed afresh each time (docs/DESIGN.md 3a). */
__attribute__((noinline)) static pool_cache_t *cache_get(void) {
  pool_cache_t *pc = &cache;

  if (!pc->registered) {
    pthread_once(&cache_once, cache_key_create);
    pthread_setspecific(cache_key, pc);
    pc->registered = 1;
  }
  return pc;
}


void *corio__pool_take_cached(corio__pool_kind_t kind) {
  pool_cache_t *pc = cache_get();
  free_block_t *b = pc->head[kind];

  if (b != NULL) {
    pc->head[kind] = b->next;
    pc->count[kind]--;
  }
  return b;
}


void *corio__pool_get(corio__pool_kind_t kind, size_t size) {
  void *b = corio__pool_take_cached(kind);

  if (b != NULL)
    return b;
  if (kind == CORIO__POOL_TASK) /* cache-line aligned: see task.h */
    return aligned_alloc(64, (size + 63) & ~(size_t)63);
  return malloc(size);
}


void corio__pool_put(corio__pool_kind_t kind, void *block) {
  pool_cache_t *pc;
  free_block_t *b = block;

  if (b == NULL)
    return;
  pc = cache_get();
  if (pc->count[kind] >= (kind == CORIO__POOL_TASK ? POOL_MAX_TASK : POOL_MAX)) {
    free(b);
    return;
  }
  b->next = pc->head[kind];
  pc->head[kind] = b;
  pc->count[kind]++;
}
