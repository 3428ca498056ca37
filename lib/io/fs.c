/* Files, names and threadpool work, each one corio_await on the matching
 * libuv request. The request and its arguments live in the caller's frame;
 * the callback copies out what the caller needs and cleans the request up
 * on the loop thread. */
#include <stdlib.h>
#include <string.h>

#include "core/list.h"
#include "corio/uv.h"
#include "sched/wait.h"

typedef struct fs_job {
  uv_fs_t req;
  int op;
  const char *path, *path2;
  uv_file fd, fd2;
  uv_buf_t buf;
  int64_t offset;
  size_t len;
  int flags, mode;
  uv_stat_t *st;
  uv_statfs_t *sfs;
  double atime, mtime;
  uv_uid_t uid;
  uv_gid_t gid;
  char *out;                    /* readlink, realpath: the caller's buffer */
  size_t cap;
  char *tmpl;                   /* mkdtemp, mkstemp: rewritten in place */
  int keep;                     /* scandir: the task walks req, then cleans up */
  uint64_t deadline;
} fs_job_t;

enum { OP_OPEN, OP_READ, OP_WRITE, OP_CLOSE, OP_STAT, OP_UNLINK, OP_RENAME,
       OP_MKDIR, OP_FSTAT, OP_LSTAT, OP_FSYNC, OP_FDATASYNC, OP_FTRUNCATE,
       OP_RMDIR, OP_ACCESS, OP_CHMOD, OP_FCHMOD, OP_CHOWN, OP_UTIME, OP_FUTIME,
       OP_SYMLINK, OP_LINK, OP_READLINK, OP_REALPATH, OP_COPYFILE, OP_SENDFILE,
       OP_MKDTEMP, OP_MKSTEMP, OP_STATFS, OP_SCANDIR, OP_FCHOWN, OP_LCHOWN,
       OP_LUTIME };


static void fs_done(uv_fs_t *req) {
  fs_job_t *job = corio__container_of(req, fs_job_t, req);
  corio_await_t *aw = req->data;
  intptr_t result = (intptr_t)req->result;

  if ((job->op == OP_STAT || job->op == OP_FSTAT || job->op == OP_LSTAT) && result == 0)
    *job->st = req->statbuf;
  if (job->op == OP_STATFS && result == 0)
    *job->sfs = *(uv_statfs_t *)req->ptr;
  if ((job->op == OP_READLINK || job->op == OP_REALPATH) && result == 0) {
    size_t n = strlen(req->ptr);
    if (n >= job->cap) {
      result = UV_ENOBUFS;
    } else {
      memcpy(job->out, req->ptr, n + 1);
      result = (intptr_t)n;
    }
  }
  if ((job->op == OP_MKDTEMP || job->op == OP_MKSTEMP) && result >= 0)
    memcpy(job->tmpl, req->path, strlen(job->tmpl)); /* same length: X's replaced */
  if (!job->keep || result < 0)
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
  case OP_FSTAT:
    return uv_fs_fstat(loop, &j->req, j->fd, fs_done);
  case OP_LSTAT:
    return uv_fs_lstat(loop, &j->req, j->path, fs_done);
  case OP_FSYNC:
    return uv_fs_fsync(loop, &j->req, j->fd, fs_done);
  case OP_FDATASYNC:
    return uv_fs_fdatasync(loop, &j->req, j->fd, fs_done);
  case OP_FTRUNCATE:
    return uv_fs_ftruncate(loop, &j->req, j->fd, j->offset, fs_done);
  case OP_RMDIR:
    return uv_fs_rmdir(loop, &j->req, j->path, fs_done);
  case OP_ACCESS:
    return uv_fs_access(loop, &j->req, j->path, j->mode, fs_done);
  case OP_CHMOD:
    return uv_fs_chmod(loop, &j->req, j->path, j->mode, fs_done);
  case OP_FCHMOD:
    return uv_fs_fchmod(loop, &j->req, j->fd, j->mode, fs_done);
  case OP_CHOWN:
    return uv_fs_chown(loop, &j->req, j->path, j->uid, j->gid, fs_done);
  case OP_UTIME:
    return uv_fs_utime(loop, &j->req, j->path, j->atime, j->mtime, fs_done);
  case OP_FUTIME:
    return uv_fs_futime(loop, &j->req, j->fd, j->atime, j->mtime, fs_done);
  case OP_SYMLINK:
    return uv_fs_symlink(loop, &j->req, j->path, j->path2, j->flags, fs_done);
  case OP_LINK:
    return uv_fs_link(loop, &j->req, j->path, j->path2, fs_done);
  case OP_READLINK:
    return uv_fs_readlink(loop, &j->req, j->path, fs_done);
  case OP_REALPATH:
    return uv_fs_realpath(loop, &j->req, j->path, fs_done);
  case OP_COPYFILE:
    return uv_fs_copyfile(loop, &j->req, j->path, j->path2, j->flags, fs_done);
  case OP_SENDFILE:
    return uv_fs_sendfile(loop, &j->req, j->fd, j->fd2, j->offset, j->len, fs_done);
  case OP_MKDTEMP:
    return uv_fs_mkdtemp(loop, &j->req, j->tmpl, fs_done);
  case OP_MKSTEMP:
    return uv_fs_mkstemp(loop, &j->req, j->tmpl, fs_done);
  case OP_STATFS:
    return uv_fs_statfs(loop, &j->req, j->path, fs_done);
  case OP_SCANDIR:
    return uv_fs_scandir(loop, &j->req, j->path, 0, fs_done);
  case OP_FCHOWN:
    return uv_fs_fchown(loop, &j->req, j->fd, j->uid, j->gid, fs_done);
  case OP_LCHOWN:
    return uv_fs_lchown(loop, &j->req, j->path, j->uid, j->gid, fs_done);
  case OP_LUTIME:
    return uv_fs_lutime(loop, &j->req, j->path, j->atime, j->mtime, fs_done);
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


/* Path first, no other argument can be wrong. */
#define PATH_RUN(j) ((j).path == NULL ? UV_EINVAL : (int)fs_run(&(j)))

int corio_fs_fstat_dl(uv_file fd, uv_stat_t *st, uint64_t deadline) {
  fs_job_t j = {.op = OP_FSTAT, .fd = fd, .st = st, .deadline = deadline};
  return st == NULL ? UV_EINVAL : (int)fs_run(&j);
}

int corio_fs_lstat_dl(const char *path, uv_stat_t *st, uint64_t deadline) {
  fs_job_t j = {.op = OP_LSTAT, .path = path, .st = st, .deadline = deadline};
  return st == NULL ? UV_EINVAL : PATH_RUN(j);
}

int corio_fs_fsync_dl(uv_file fd, uint64_t deadline) {
  fs_job_t j = {.op = OP_FSYNC, .fd = fd, .deadline = deadline};
  return (int)fs_run(&j);
}

int corio_fs_fdatasync_dl(uv_file fd, uint64_t deadline) {
  fs_job_t j = {.op = OP_FDATASYNC, .fd = fd, .deadline = deadline};
  return (int)fs_run(&j);
}

int corio_fs_ftruncate_dl(uv_file fd, int64_t len, uint64_t deadline) {
  fs_job_t j = {.op = OP_FTRUNCATE, .fd = fd, .offset = len, .deadline = deadline};
  return (int)fs_run(&j);
}

int corio_fs_rmdir_dl(const char *path, uint64_t deadline) {
  fs_job_t j = {.op = OP_RMDIR, .path = path, .deadline = deadline};
  return PATH_RUN(j);
}

int corio_fs_access_dl(const char *path, int mode, uint64_t deadline) {
  fs_job_t j = {.op = OP_ACCESS, .path = path, .mode = mode, .deadline = deadline};
  return PATH_RUN(j);
}

int corio_fs_chmod_dl(const char *path, int mode, uint64_t deadline) {
  fs_job_t j = {.op = OP_CHMOD, .path = path, .mode = mode, .deadline = deadline};
  return PATH_RUN(j);
}

int corio_fs_fchmod_dl(uv_file fd, int mode, uint64_t deadline) {
  fs_job_t j = {.op = OP_FCHMOD, .fd = fd, .mode = mode, .deadline = deadline};
  return (int)fs_run(&j);
}

int corio_fs_chown_dl(const char *path, uv_uid_t uid, uv_gid_t gid, uint64_t deadline) {
  fs_job_t j = {.op = OP_CHOWN, .path = path, .uid = uid, .gid = gid, .deadline = deadline};
  return PATH_RUN(j);
}

int corio_fs_fchown_dl(uv_file fd, uv_uid_t uid, uv_gid_t gid, uint64_t deadline) {
  fs_job_t j = {.op = OP_FCHOWN, .fd = fd, .uid = uid, .gid = gid, .deadline = deadline};
  return (int)fs_run(&j);
}

int corio_fs_lchown_dl(const char *path, uv_uid_t uid, uv_gid_t gid, uint64_t deadline) {
  fs_job_t j = {.op = OP_LCHOWN, .path = path, .uid = uid, .gid = gid, .deadline = deadline};
  return PATH_RUN(j);
}

int corio_fs_lutime_dl(const char *path, double atime, double mtime, uint64_t deadline) {
  fs_job_t j = {.op = OP_LUTIME, .path = path, .atime = atime, .mtime = mtime,
                .deadline = deadline};
  return PATH_RUN(j);
}

int corio_fs_utime_dl(const char *path, double atime, double mtime, uint64_t deadline) {
  fs_job_t j = {.op = OP_UTIME, .path = path, .atime = atime, .mtime = mtime,
                .deadline = deadline};
  return PATH_RUN(j);
}

int corio_fs_futime_dl(uv_file fd, double atime, double mtime, uint64_t deadline) {
  fs_job_t j = {.op = OP_FUTIME, .fd = fd, .atime = atime, .mtime = mtime,
                .deadline = deadline};
  return (int)fs_run(&j);
}

int corio_fs_symlink_dl(const char *target, const char *path, int flags, uint64_t deadline) {
  fs_job_t j = {.op = OP_SYMLINK, .path = target, .path2 = path, .flags = flags,
                .deadline = deadline};
  return path == NULL ? UV_EINVAL : PATH_RUN(j);
}

int corio_fs_link_dl(const char *from, const char *to, uint64_t deadline) {
  fs_job_t j = {.op = OP_LINK, .path = from, .path2 = to, .deadline = deadline};
  return to == NULL ? UV_EINVAL : PATH_RUN(j);
}

ssize_t corio_fs_readlink_dl(const char *path, char *buf, size_t cap, uint64_t deadline) {
  fs_job_t j = {.op = OP_READLINK, .path = path, .out = buf, .cap = cap,
                .deadline = deadline};
  return buf == NULL || cap == 0 ? UV_EINVAL : PATH_RUN(j);
}

ssize_t corio_fs_realpath_dl(const char *path, char *buf, size_t cap, uint64_t deadline) {
  fs_job_t j = {.op = OP_REALPATH, .path = path, .out = buf, .cap = cap,
                .deadline = deadline};
  return buf == NULL || cap == 0 ? UV_EINVAL : PATH_RUN(j);
}

int corio_fs_copyfile_dl(const char *from, const char *to, int flags, uint64_t deadline) {
  fs_job_t j = {.op = OP_COPYFILE, .path = from, .path2 = to, .flags = flags,
                .deadline = deadline};
  return to == NULL ? UV_EINVAL : PATH_RUN(j);
}

ssize_t corio_fs_sendfile_dl(uv_file out, uv_file in, int64_t offset, size_t len,
                             uint64_t deadline) {
  fs_job_t j = {.op = OP_SENDFILE, .fd = out, .fd2 = in, .offset = offset, .len = len,
                .deadline = deadline};
  return (ssize_t)fs_run(&j);
}

/* A template ends in XXXXXX (libuv checks), rewritten in place. */
int corio_fs_mkdtemp_dl(char *tmpl, uint64_t deadline) {
  fs_job_t j = {.op = OP_MKDTEMP, .path = tmpl, .tmpl = tmpl, .deadline = deadline};
  return PATH_RUN(j);
}

int corio_fs_mkstemp_dl(char *tmpl, uint64_t deadline) {
  fs_job_t j = {.op = OP_MKSTEMP, .path = tmpl, .tmpl = tmpl, .deadline = deadline};
  return PATH_RUN(j);
}

int corio_fs_statfs_dl(const char *path, uv_statfs_t *st, uint64_t deadline) {
  fs_job_t j = {.op = OP_STATFS, .path = path, .sfs = st, .deadline = deadline};
  return st == NULL ? UV_EINVAL : PATH_RUN(j);
}

ssize_t corio_fs_scandir_dl(const char *path, corio_fs_dirent_fn fn, void *arg,
                            uint64_t deadline) {
  fs_job_t j = {.op = OP_SCANDIR, .path = path, .keep = 1, .deadline = deadline};
  uv_dirent_t ent;
  ssize_t n, seen = 0;

  if (path == NULL || fn == NULL)
    return UV_EINVAL;
  if ((n = (ssize_t)fs_run(&j)) < 0)
    return n; /* cleaned up already, or never started */
  /* The entries are the request's: walk them here, then free them (the
   * cleanup frees memory only; any thread). */
  while (uv_fs_scandir_next(&j.req, &ent) == 0) {
    seen++;
    if (fn(&ent, arg) != 0)
      break;
  }
  uv_fs_req_cleanup(&j.req);
  return seen;
}


/* --- whole files ------------------------------------------------------------ */

ssize_t corio_fs_read_file_dl(const char *path, char **out, size_t max, uint64_t deadline) {
  size_t have = 0, cap = 0;
  char *buf = NULL, *grown;
  ssize_t n = 0;
  int fd;

  if (path == NULL || out == NULL)
    return UV_EINVAL;
  *out = NULL;
  if ((fd = corio_fs_open_dl(path, UV_FS_O_RDONLY, 0, deadline)) < 0)
    return fd;
  do {
    if (cap - have < 4096) {
      cap = cap == 0 ? 16384 : cap * 2;
      if ((grown = realloc(buf, cap + 1)) == NULL) {
        n = UV_ENOMEM;
        break;
      }
      buf = grown;
    }
    n = corio_fs_read_dl(fd, buf + have, cap - have > (1u << 30) ? (1u << 30) : cap - have,
                         (int64_t)have, deadline);
    if (n > 0 && (have += (size_t)n) > max)
      n = UV_E2BIG;
  } while (n > 0);
  corio_fs_close(fd);
  if (n < 0) {
    free(buf);
    return n;
  }
  if (buf == NULL && (buf = malloc(1)) == NULL)
    return UV_ENOMEM;
  buf[have] = '\0';
  *out = buf;
  return (ssize_t)have;
}

int corio_fs_write_file_dl(const char *path, const void *data, size_t len, int mode,
                           uint64_t deadline) {
  size_t done = 0;
  ssize_t n = 0;
  int fd, err;

  if (path == NULL || (data == NULL && len > 0))
    return UV_EINVAL;
  fd = corio_fs_open_dl(path, UV_FS_O_WRONLY | UV_FS_O_CREAT | UV_FS_O_TRUNC, mode, deadline);
  if (fd < 0)
    return fd;
  while (done < len) {
    size_t k = len - done > (1u << 30) ? (1u << 30) : len - done;
    if ((n = corio_fs_write_dl(fd, (const char *)data + done, k, (int64_t)done, deadline)) < 0)
      break;
    done += (size_t)n;
  }
  err = corio_fs_close(fd);
  return n < 0 ? (int)n : err;
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
int corio_fs_fstat(uv_file fd, uv_stat_t *st) {
  return corio_fs_fstat_dl(fd, st, CORIO__NO_DEADLINE);
}
int corio_fs_lstat(const char *path, uv_stat_t *st) {
  return corio_fs_lstat_dl(path, st, CORIO__NO_DEADLINE);
}
int corio_fs_fsync(uv_file fd) {
  return corio_fs_fsync_dl(fd, CORIO__NO_DEADLINE);
}
int corio_fs_fdatasync(uv_file fd) {
  return corio_fs_fdatasync_dl(fd, CORIO__NO_DEADLINE);
}
int corio_fs_ftruncate(uv_file fd, int64_t len) {
  return corio_fs_ftruncate_dl(fd, len, CORIO__NO_DEADLINE);
}
int corio_fs_rmdir(const char *path) {
  return corio_fs_rmdir_dl(path, CORIO__NO_DEADLINE);
}
int corio_fs_access(const char *path, int mode) {
  return corio_fs_access_dl(path, mode, CORIO__NO_DEADLINE);
}
int corio_fs_chmod(const char *path, int mode) {
  return corio_fs_chmod_dl(path, mode, CORIO__NO_DEADLINE);
}
int corio_fs_fchmod(uv_file fd, int mode) {
  return corio_fs_fchmod_dl(fd, mode, CORIO__NO_DEADLINE);
}
int corio_fs_chown(const char *path, uv_uid_t uid, uv_gid_t gid) {
  return corio_fs_chown_dl(path, uid, gid, CORIO__NO_DEADLINE);
}
int corio_fs_fchown(uv_file fd, uv_uid_t uid, uv_gid_t gid) {
  return corio_fs_fchown_dl(fd, uid, gid, CORIO__NO_DEADLINE);
}
int corio_fs_lchown(const char *path, uv_uid_t uid, uv_gid_t gid) {
  return corio_fs_lchown_dl(path, uid, gid, CORIO__NO_DEADLINE);
}
int corio_fs_lutime(const char *path, double atime, double mtime) {
  return corio_fs_lutime_dl(path, atime, mtime, CORIO__NO_DEADLINE);
}
int corio_fs_utime(const char *path, double atime, double mtime) {
  return corio_fs_utime_dl(path, atime, mtime, CORIO__NO_DEADLINE);
}
int corio_fs_futime(uv_file fd, double atime, double mtime) {
  return corio_fs_futime_dl(fd, atime, mtime, CORIO__NO_DEADLINE);
}
int corio_fs_symlink(const char *target, const char *path, int flags) {
  return corio_fs_symlink_dl(target, path, flags, CORIO__NO_DEADLINE);
}
int corio_fs_link(const char *from, const char *to) {
  return corio_fs_link_dl(from, to, CORIO__NO_DEADLINE);
}
ssize_t corio_fs_readlink(const char *path, char *buf, size_t cap) {
  return corio_fs_readlink_dl(path, buf, cap, CORIO__NO_DEADLINE);
}
ssize_t corio_fs_realpath(const char *path, char *buf, size_t cap) {
  return corio_fs_realpath_dl(path, buf, cap, CORIO__NO_DEADLINE);
}
int corio_fs_copyfile(const char *from, const char *to, int flags) {
  return corio_fs_copyfile_dl(from, to, flags, CORIO__NO_DEADLINE);
}
ssize_t corio_fs_sendfile(uv_file out, uv_file in, int64_t offset, size_t len) {
  return corio_fs_sendfile_dl(out, in, offset, len, CORIO__NO_DEADLINE);
}
int corio_fs_mkdtemp(char *tmpl) {
  return corio_fs_mkdtemp_dl(tmpl, CORIO__NO_DEADLINE);
}
int corio_fs_mkstemp(char *tmpl) {
  return corio_fs_mkstemp_dl(tmpl, CORIO__NO_DEADLINE);
}
int corio_fs_statfs(const char *path, uv_statfs_t *st) {
  return corio_fs_statfs_dl(path, st, CORIO__NO_DEADLINE);
}
ssize_t corio_fs_scandir(const char *path, corio_fs_dirent_fn fn, void *arg) {
  return corio_fs_scandir_dl(path, fn, arg, CORIO__NO_DEADLINE);
}
ssize_t corio_fs_read_file(const char *path, char **out, size_t max) {
  return corio_fs_read_file_dl(path, out, max, CORIO__NO_DEADLINE);
}
int corio_fs_write_file(const char *path, const void *data, size_t len, int mode) {
  return corio_fs_write_file_dl(path, data, len, mode, CORIO__NO_DEADLINE);
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
