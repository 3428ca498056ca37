/* Files, names and threadpool work, each one corio_await on the matching
 * libuv request. The request and its arguments live in the caller's frame;
 * the callback copies out what the caller needs and cleans the request up
 * on the loop thread. */
#include <string.h>

#include "core/list.h"
#include "corio/uv.h"
#include "sched/wait.h"

typedef struct fs_job {
  uv_fs_t req;
  int op;
  const char *path, *path2;
  uv_file fd;
  uv_buf_t buf;
  int64_t offset;
  int flags, mode;
  uv_stat_t *st;
  uint64_t deadline;
} fs_job_t;

enum { OP_OPEN, OP_READ, OP_WRITE, OP_CLOSE, OP_STAT, OP_UNLINK, OP_RENAME,
       OP_MKDIR };


static void fs_done(uv_fs_t *req) {
  fs_job_t *job = corio__container_of(req, fs_job_t, req);
  corio_await_t *aw = req->data;
  intptr_t result = (intptr_t)req->result;

  if (job->op == OP_STAT && result == 0)
    *job->st = req->statbuf;
  uv_fs_req_cleanup(req);
  corio_await_done(aw, result);
}


static int fs_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  fs_job_t *j = arg;

  j->req.data = aw;
  corio_await_cancelable(aw, (uv_req_t *)&j->req);
  switch (j->op) {
  case OP_OPEN:
    return uv_fs_open(loop, &j->req, j->path, j->flags, j->mode, fs_done);
  case OP_READ:
    return uv_fs_read(loop, &j->req, j->fd, &j->buf, 1, j->offset, fs_done);
  case OP_WRITE:
    return uv_fs_write(loop, &j->req, j->fd, &j->buf, 1, j->offset, fs_done);
  case OP_CLOSE:
    return uv_fs_close(loop, &j->req, j->fd, fs_done);
  case OP_STAT:
    return uv_fs_stat(loop, &j->req, j->path, fs_done);
  case OP_UNLINK:
    return uv_fs_unlink(loop, &j->req, j->path, fs_done);
  case OP_RENAME:
    return uv_fs_rename(loop, &j->req, j->path, j->path2, fs_done);
  case OP_MKDIR:
    return uv_fs_mkdir(loop, &j->req, j->path, j->mode, fs_done);
  }
  return UV_EINVAL;
}


static intptr_t fs_run(fs_job_t *j) {
  corio_rt_t *rt = corio_current_rt();
  intptr_t result;
  int err;

  if (rt == NULL)
    return UV_EINVAL;
  corio__wait_hint(CORIO__WK_FS, j->path, (uint64_t)j->op);
  err = corio_await_dl(rt, fs_start, j, &result, j->deadline);
  return err < 0 ? err : result;
}


int corio_fs_open_dl(const char *path, int flags, int mode, uint64_t deadline) {
  fs_job_t j = {.op = OP_OPEN, .path = path, .flags = flags, .mode = mode,
                .deadline = deadline};
  return path == NULL ? UV_EINVAL : (int)fs_run(&j);
}


ssize_t corio_fs_read_dl(uv_file fd, void *buf, size_t len, int64_t offset,
                         uint64_t deadline) {
  fs_job_t j = {.op = OP_READ, .fd = fd, .offset = offset, .deadline = deadline};

  if (buf == NULL || len > UINT32_MAX)
    return UV_EINVAL;
  j.buf = uv_buf_init(buf, (unsigned int)len);
  return (ssize_t)fs_run(&j);
}


ssize_t corio_fs_write_dl(uv_file fd, const void *buf, size_t len,
                          int64_t offset, uint64_t deadline) {
  fs_job_t j = {.op = OP_WRITE, .fd = fd, .offset = offset, .deadline = deadline};

  if (buf == NULL || len > UINT32_MAX)
    return UV_EINVAL;
  /* libuv's write takes a non-const buffer; it only reads it */
  j.buf = uv_buf_init((char *)(uintptr_t)buf, (unsigned int)len);
  return (ssize_t)fs_run(&j);
}


int corio_fs_close_dl(uv_file fd, uint64_t deadline) {
  fs_job_t j = {.op = OP_CLOSE, .fd = fd, .deadline = deadline};
  return (int)fs_run(&j);
}


int corio_fs_stat_dl(const char *path, uv_stat_t *st, uint64_t deadline) {
  fs_job_t j = {.op = OP_STAT, .path = path, .st = st, .deadline = deadline};
  return path == NULL || st == NULL ? UV_EINVAL : (int)fs_run(&j);
}


int corio_fs_unlink_dl(const char *path, uint64_t deadline) {
  fs_job_t j = {.op = OP_UNLINK, .path = path, .deadline = deadline};
  return path == NULL ? UV_EINVAL : (int)fs_run(&j);
}


int corio_fs_rename_dl(const char *from, const char *to, uint64_t deadline) {
  fs_job_t j = {.op = OP_RENAME, .path = from, .path2 = to, .deadline = deadline};
  return from == NULL || to == NULL ? UV_EINVAL : (int)fs_run(&j);
}


int corio_fs_mkdir_dl(const char *path, int mode, uint64_t deadline) {
  fs_job_t j = {.op = OP_MKDIR, .path = path, .mode = mode, .deadline = deadline};
  return path == NULL ? UV_EINVAL : (int)fs_run(&j);
}


int corio_fs_open(const char *path, int flags, int mode) {
  return corio_fs_open_dl(path, flags, mode, CORIO__NO_DEADLINE);
}
ssize_t corio_fs_read(uv_file fd, void *buf, size_t len, int64_t offset) {
  return corio_fs_read_dl(fd, buf, len, offset, CORIO__NO_DEADLINE);
}
ssize_t corio_fs_write(uv_file fd, const void *buf, size_t len, int64_t offset) {
  return corio_fs_write_dl(fd, buf, len, offset, CORIO__NO_DEADLINE);
}
int corio_fs_close(uv_file fd) {
  return corio_fs_close_dl(fd, CORIO__NO_DEADLINE);
}
int corio_fs_stat(const char *path, uv_stat_t *st) {
  return corio_fs_stat_dl(path, st, CORIO__NO_DEADLINE);
}
int corio_fs_unlink(const char *path) {
  return corio_fs_unlink_dl(path, CORIO__NO_DEADLINE);
}
int corio_fs_rename(const char *from, const char *to) {
  return corio_fs_rename_dl(from, to, CORIO__NO_DEADLINE);
}
int corio_fs_mkdir(const char *path, int mode) {
  return corio_fs_mkdir_dl(path, mode, CORIO__NO_DEADLINE);
}


/* --- getaddrinfo -------------------------------------------------------- */

typedef struct gai_job {
  uv_getaddrinfo_t req;
  const char *node, *service;
  const struct addrinfo *hints;
  struct addrinfo *res;
} gai_job_t;


static void gai_done(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  gai_job_t *j = corio__container_of(req, gai_job_t, req);

  j->res = res;
  corio_await_done(req->data, status);
}


static int gai_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  gai_job_t *j = arg;

  j->req.data = aw;
  corio_await_cancelable(aw, (uv_req_t *)&j->req);
  return uv_getaddrinfo(loop, &j->req, gai_done, j->node, j->service, j->hints);
}


int corio_getaddrinfo(const char *node, const char *service,
                      const struct addrinfo *hints, struct addrinfo **res) {
  return corio_getaddrinfo_dl(node, service, hints, res, CORIO__NO_DEADLINE);
}


int corio_getaddrinfo_dl(const char *node, const char *service,
                         const struct addrinfo *hints, struct addrinfo **res,
                         uint64_t deadline) {
  gai_job_t j = {.node = node, .service = service, .hints = hints};
  corio_rt_t *rt = corio_current_rt();
  intptr_t status;
  int err;

  if (rt == NULL || res == NULL || (node == NULL && service == NULL))
    return UV_EINVAL;
  corio__wait_hint(CORIO__WK_DNS, node, 0);
  err = corio_await_dl(rt, gai_start, &j, &status, deadline);
  if (err < 0) {
    if (j.res != NULL) /* it finished after all: nobody will use it */
      uv_freeaddrinfo(j.res);
    return err;
  }
  if (status < 0)
    return (int)status;
  *res = j.res;
  return 0;
}


/* --- threadpool work ---------------------------------------------------- */

typedef struct work_job {
  uv_work_t req;
  void (*fn)(void *);
  void *arg;
} work_job_t;


static void work_run(uv_work_t *req) {
  work_job_t *j = corio__container_of(req, work_job_t, req);
  j->fn(j->arg);
}


static void work_done(uv_work_t *req, int status) {
  corio_await_done(req->data, status);
}


static int work_start(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  work_job_t *j = arg;

  j->req.data = aw;
  corio_await_cancelable(aw, (uv_req_t *)&j->req);
  return uv_queue_work(loop, &j->req, work_run, work_done);
}


int corio_work(void (*fn)(void *arg), void *arg) {
  return corio_work_dl(fn, arg, CORIO__NO_DEADLINE);
}


int corio_work_dl(void (*fn)(void *arg), void *arg, uint64_t deadline) {
  work_job_t j = {.fn = fn, .arg = arg};
  corio_rt_t *rt = corio_current_rt();
  intptr_t status;
  int err;

  if (rt == NULL || fn == NULL)
    return UV_EINVAL;
  corio__wait_hint(CORIO__WK_WORK, NULL, 0);
  err = corio_await_dl(rt, work_start, &j, &status, deadline);
  return err < 0 ? err : (int)status;
}
