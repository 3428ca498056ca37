/* Coroutine stacks: mmap'ed regions with an optional guard page at the
 * low end, recycled through a per-thread cache. */
#ifndef CORIO_CORE_STACK_H
#define CORIO_CORE_STACK_H

#include <stddef.h>

typedef struct corio__stack {
  char *map;          /* start of the mapping (the guard page, if any) */
  size_t map_size;    /* whole mapping, guard included */
  size_t guard_size;  /* 0 when unguarded */
  unsigned vg_id;     /* Valgrind's id for the registered stack */
} corio__stack_t;

/* Map a stack of at least `usable` bytes (a multiple of the page size),
 * to run on this thread now: reuses a cached stack of the same shape,
 * the most recently freed here first. Returns 0 or UV_ENOMEM. */
int corio__stack_alloc(corio__stack_t *st, size_t usable, int guarded);

/* The same, for a stack that will run later, perhaps on another thread
 * (a task's, at spawn): takes the coldest cached ones first, and touches
 * none of its memory. */
int corio__stack_reserve(corio__stack_t *st, size_t usable, int guarded);

/* About to run on *st for the first time: if this thread has a recently
 * freed stack of the same shape (still in its CPU's caches), run on that
 * one instead, and keep *st for later. */
void corio__stack_swap_hot(corio__stack_t *st);

/* Give st back: to this thread's cache, or to the kernel when it is full. */
void corio__stack_release(const corio__stack_t *st);

/* The same for a stack that did not run here lately (one reserved and
 * never run on, or carried over from another thread): among the cold
 * ones, which reservations take first. */
void corio__stack_release_cold(const corio__stack_t *st);

/* A cold stack of this shape from this thread's own cache, to carry back
 * to the thread that reserved one (see corio__task_end); never touches
 * the pool nor maps one. Returns 1 if it took one, else 0. */
int corio__stack_take_cold(corio__stack_t *st, size_t usable, int guarded);

/* The usable range of a stack. */
static inline char *corio__stack_lo(const corio__stack_t *st) {
  return st->map + st->guard_size;
}
static inline char *corio__stack_hi(const corio__stack_t *st) {
  return st->map + st->map_size;
}

size_t corio__page_size(void);

/* Stacks mapped now, in use or cached, process-wide. */
size_t corio__stack_mapped_count(void);

/* Stacks in the shared pool (a hint; for tests). */
size_t corio__stack_shared_count(void);

#endif
