/* File-change notification as a wait (corio/uv.h corio_fs_watch_*): a
 * uv_fs_event_t on the runtime's loop queues what changed into a bounded
 * ring; waiting tasks take the events in order. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "await.h"
#include "core/spin.h"
#include "corio/uv.h"
#include "sched/sched.h"
#include "sched/wait.h"

#define RING 64

typedef struct watch_event {
  char name[CORIO_FS_WATCH_NAME_MAX];
  int events;
} watch_event_t;

struct corio_fs_watch_s {
  corio_rt_t *rt;
  char *path;
  int flags;
  uv_fs_event_t h;               /* loop thread */
  corio__spin_t lock;            /* the ring, dropped, waiters */
  watch_event_t ring[RING];
  size_t head, count;
  uint64_t dropped;              /* events that found the ring full */
  corio__wlist_t waiters;
};


static void on_change(uv_fs_event_t *h, const char *name, int events, int status) {
  corio_fs_watch_t *w = h->data;
  corio__waiter_t *waiter;

  corio__spin_lock(&w->lock);
  if (status < 0 || w->count == RING) {
    w->dropped++;
  } else {
    watch_event_t *e = &w->ring[(w->head + w->count++) % RING];
    snprintf(e->name, sizeof e->name, "%s", name != NULL ? name : "");
    e->events = events;
  }
  while ((waiter = corio__wlist_pop(&w->waiters)) != NULL && !corio__wake(waiter, 0)) {
  }
  corio__spin_unlock(&w->lock);
}


static int open_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  corio_fs_watch_t *w = arg;
  int err;

  uv_fs_event_init(loop, &w->h);
  w->h.data = w;
  err = uv_fs_event_start(&w->h, on_change, w->path, (unsigned)w->flags);
  corio_await_done(aw, err);
  return 0;
}


static void close_handle(corio_fs_watch_t *w) {
  uv_handle_t *h = (uv_handle_t *)&w->h;

  corio__close_handles(w->rt, &h, 1);
}


int corio_fs_watch_open(corio_rt_t *rt, const char *path, int flags, corio_fs_watch_t **out) {
  corio_fs_watch_t *w;
  intptr_t status = 0;
  int err;

  if (out == NULL)
    return UV_EINVAL;
  *out = NULL;
  if (rt == NULL || path == NULL)
    return UV_EINVAL;
  if ((w = calloc(1, sizeof *w)) == NULL || (w->path = strdup(path)) == NULL) {
    free(w);
    return UV_ENOMEM;
  }
  w->rt = rt;
  w->flags = flags;
  atomic_init(&w->lock, 0);
  corio__list_init(&w->waiters.head);
  corio__wait_hint(CORIO__WK_FS, w->path, 0);
  if ((err = corio_await(rt, open_start, w, &status)) != 0) {
    free(w->path);
    free(w);
    return err;
  }
  if (status != 0) {
    close_handle(w);
    free(w->path);
    free(w);
    return (int)status;
  }
  *out = w;
  return 0;
}


int corio_fs_watch_wait_dl(corio_fs_watch_t *w, char *name, size_t cap, int *events,
                           uint64_t deadline) {
  int err;

  if (w == NULL || events == NULL || (name == NULL && cap > 0))
    return UV_EINVAL;
  corio__spin_lock(&w->lock);
  for (;;) {
    if (w->dropped > 0) {
      w->dropped = 0;
      corio__spin_unlock(&w->lock);
      return UV_ENOBUFS; /* events were lost: look again at what you watch */
    }
    if (w->count > 0) {
      watch_event_t *e = &w->ring[w->head];
      if (cap > 0)
        snprintf(name, cap, "%s", e->name);
      *events = e->events;
      w->head = (w->head + 1) % RING;
      w->count--;
      corio__spin_unlock(&w->lock);
      return 0;
    }
    err = corio__wait_on_list(&w->waiters, &w->lock, CORIO__WK_FS, w->path, 0, deadline);
    if (err != 0)
      return err;
  }
}


int corio_fs_watch_wait(corio_fs_watch_t *w, char *name, size_t cap, int *events) {
  return corio_fs_watch_wait_dl(w, name, cap, events, UINT64_MAX);
}


int corio_fs_watch_close(corio_fs_watch_t *w) {
  int busy;

  if (w == NULL)
    return UV_EINVAL;
  corio__spin_lock(&w->lock);
  busy = !corio__wlist_empty(&w->waiters);
  corio__spin_unlock(&w->lock);
  if (busy)
    return UV_EBUSY;
  close_handle(w);
  free(w->path);
  free(w);
  return 0;
}
