/* Per-thread caches of same-sized blocks, for memory a connection needs
 * only while bytes are in flight (its read buffer, an HTTP request's
 * header table): an idle connection gives its blocks back, and the next
 * busy one takes them without a trip through malloc. Each thread keeps up
 * to `max` blocks of each kind and frees the rest; a block may be put on
 * another thread than the one that got it. No locks: a thread only
 * touches its own cache. */
#ifndef CORIO_CORE_POOL_H
#define CORIO_CORE_POOL_H

#include <stddef.h>

typedef enum corio__pool_kind {
  CORIO__POOL_READ_BUF,    /* CORIO_TCP_BUFFER bytes (lib/net/conn.c) */
  CORIO__POOL_HTTP_TABLE,  /* an HTTP head's header spans (lib/http) */
  CORIO__POOL_TASK,        /* a task's record, 64-byte aligned (lib/sched) */
  CORIO__POOL_KINDS
} corio__pool_kind_t;

/* A block of `size` bytes (the same size every time for one kind), not
 * zeroed; NULL when memory is out. Any thread. Up to 64 blocks of a kind
 * are kept per thread, 4096 task records. */
void *corio__pool_get(corio__pool_kind_t kind, size_t size);

/* A cached block of this kind, or NULL if the thread has none: never
 * calls malloc, so it may be called under a spinlock. Any thread. */
void *corio__pool_take_cached(corio__pool_kind_t kind);

/* Give back a block from corio__pool_get of this kind (NULL is ignored).
 * Any thread. */
void corio__pool_put(corio__pool_kind_t kind, void *block);

#endif
