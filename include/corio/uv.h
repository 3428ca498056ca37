/* corio/uv.h: the libuv loop as corio's reactor.
 *
 * Every runtime has one libuv loop. By default (corio_rt_options_t.loop ==
 * NULL) the runtime creates it and runs it on a thread of its own, the
 * loop thread. In attached mode (.loop = your loop) corio adds its handles
 * to your loop and never runs it: your uv_run keeps going while corio has
 * live tasks and returns by itself once they and your own handles are done.
 *
 * libuv is not thread-safe, so only the loop thread touches libuv. A task
 * on a worker that needs libuv hands the request to the loop thread (an
 * MPSC inbox and one uv_async_t) and parks; the request's callback makes
 * it runnable again. A task already on the loop thread (corio_spawn_on_loop)
 * calls libuv directly, with no hop.
 *
 * All calls here that wait may suspend the calling task. corio_await also
 * works from a plain thread, which it blocks, except on the loop thread
 * itself outside a task, where waiting would stop the loop: it returns
 * UV_EINVAL there (as corio_sleep does, corio/rt.h). The calls without a
 * runtime argument (files, names, work) use the calling task's runtime and
 * return UV_EINVAL outside a task.
 */
#ifndef CORIO_UV_H
#define CORIO_UV_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "corio/rt.h"
#include "corio/version.h"

#ifdef __cplusplus
extern "C" {
#endif


/* ------------------------------------------------------------------------
 * Awaiting any libuv request.
 *
 * corio_await(rt, start, arg, &result) runs start(loop, aw, arg) on the
 * loop thread. start begins a libuv request (keep a pointer to aw in the
 * request's data field) and returns 0, or a negative libuv error, which
 * corio_await then returns at once. The request's callback, on the loop
 * thread, calls corio_await_done(aw, value); corio_await then returns 0
 * and *result (if not NULL) is that value. The caller's memory (arg, the
 * request) stays valid throughout: the caller is parked until done.
 *
 *   static void scandir_cb(uv_fs_t *req) {
 *     corio_await_done(req->data, req->result);
 *   }
 *   static int start_scandir(uv_loop_t *loop, corio_await_t *aw, void *arg) {
 *     uv_fs_t *req = arg;
 *     req->data = aw;
 *     return uv_fs_scandir(loop, req, "/tmp", 0, scandir_cb);
 *   }
 *   ...in a task:
 *   uv_fs_t req;
 *   intptr_t n;
 *   int err = corio_await(corio_current_rt(), start_scandir, &req, &n);
 *   ...use req (uv_fs_scandir_next), then uv_fs_req_cleanup(&req);
 */
typedef struct corio_await_s corio_await_t;
typedef int (*corio_await_start_fn)(uv_loop_t *loop, corio_await_t *aw,
                                    void *arg);

/* See above. Returns 0, the error start returned, UV_ECANCELED (the task
 * was cancelled: corio_cancel, corio/rt.h), or UV_EINVAL (NULL arguments;
 * on the loop thread outside a task). May suspend. */
CORIO_API int corio_await(corio_rt_t *rt, corio_await_start_fn start,
                          void *arg, intptr_t *result);

/* With a deadline (ms of corio_now()): UV_ETIMEDOUT when it passes first.
 * A wait ended by a deadline or a cancel still returns only once the
 * request's callback has run (it writes into the caller's memory); corio
 * uv_cancel()s the request meanwhile if start registered it with
 * corio_await_cancelable. Whatever the request did is then lost to the
 * caller. From a plain thread only without a deadline (UINT64_MAX). */
CORIO_API int corio_await_dl(corio_rt_t *rt, corio_await_start_fn start,
                             void *arg, intptr_t *result, uint64_t deadline);

/* Called by start: if the wait ends early, corio may uv_cancel(req). Only
 * for requests uv_cancel supports (fs, work, getaddrinfo, getnameinfo). */
CORIO_API void corio_await_cancelable(corio_await_t *aw, uv_req_t *req);

/* Finish an await: its waiter resumes with value. Loop thread only, once. */
CORIO_API void corio_await_done(corio_await_t *aw, intptr_t value);

/* ------------------------------------------------------------------------
 * Files, through libuv's threadpool. Each returns what the matching uv_fs_*
 * request's result is: >= 0 on success (a descriptor, a byte count),
 * a negative libuv error otherwise (UV_ENOENT, ...). May suspend. */

CORIO_API int corio_fs_open(const char *path, int flags, int mode);
CORIO_API ssize_t corio_fs_read(uv_file fd, void *buf, size_t len, int64_t offset);
CORIO_API ssize_t corio_fs_write(uv_file fd, const void *buf, size_t len,
                                 int64_t offset);
CORIO_API int corio_fs_close(uv_file fd);
CORIO_API int corio_fs_stat(const char *path, uv_stat_t *st);
CORIO_API int corio_fs_unlink(const char *path);
CORIO_API int corio_fs_rename(const char *from, const char *to);
CORIO_API int corio_fs_mkdir(const char *path, int mode);

/* The same with a deadline (ms of corio_now()): UV_ETIMEDOUT when it
 * passes first, with the semantics of corio_await_dl (the operation is
 * cancelled if it has not started, and its outcome is lost). */
CORIO_API int corio_fs_open_dl(const char *path, int flags, int mode,
                               uint64_t deadline);
CORIO_API ssize_t corio_fs_read_dl(uv_file fd, void *buf, size_t len,
                                   int64_t offset, uint64_t deadline);
CORIO_API ssize_t corio_fs_write_dl(uv_file fd, const void *buf, size_t len,
                                    int64_t offset, uint64_t deadline);
CORIO_API int corio_fs_close_dl(uv_file fd, uint64_t deadline);
CORIO_API int corio_fs_stat_dl(const char *path, uv_stat_t *st, uint64_t deadline);
CORIO_API int corio_fs_unlink_dl(const char *path, uint64_t deadline);
CORIO_API int corio_fs_rename_dl(const char *from, const char *to,
                                 uint64_t deadline);
CORIO_API int corio_fs_mkdir_dl(const char *path, int mode, uint64_t deadline);

/* More of libuv's file calls, each as its uv_fs_* request (the same
 * arguments; results as there), with a _dl twin as above. Paths are the
 * caller's until the call returns. May suspend. */
CORIO_API int corio_fs_fstat(uv_file fd, uv_stat_t *st);
CORIO_API int corio_fs_lstat(const char *path, uv_stat_t *st);
CORIO_API int corio_fs_fsync(uv_file fd);
CORIO_API int corio_fs_fdatasync(uv_file fd);
CORIO_API int corio_fs_ftruncate(uv_file fd, int64_t len);
CORIO_API int corio_fs_rmdir(const char *path);
CORIO_API int corio_fs_access(const char *path, int mode);
CORIO_API int corio_fs_chmod(const char *path, int mode);
CORIO_API int corio_fs_fchmod(uv_file fd, int mode);
CORIO_API int corio_fs_chown(const char *path, uv_uid_t uid, uv_gid_t gid);
CORIO_API int corio_fs_fchown(uv_file fd, uv_uid_t uid, uv_gid_t gid);
CORIO_API int corio_fs_lchown(const char *path, uv_uid_t uid, uv_gid_t gid);
CORIO_API int corio_fs_utime(const char *path, double atime, double mtime);
CORIO_API int corio_fs_lutime(const char *path, double atime, double mtime);
CORIO_API int corio_fs_futime(uv_file fd, double atime, double mtime);
/* path becomes a link to target (flags: UV_FS_SYMLINK_*). */
CORIO_API int corio_fs_symlink(const char *target, const char *path, int flags);
CORIO_API int corio_fs_link(const char *from, const char *to);
/* The link's target, or the canonical path, into buf, NUL-terminated: its
 * length, UV_ENOBUFS if it does not fit in cap bytes, or an error. */
CORIO_API ssize_t corio_fs_readlink(const char *path, char *buf, size_t cap);
CORIO_API ssize_t corio_fs_realpath(const char *path, char *buf, size_t cap);
CORIO_API int corio_fs_copyfile(const char *from, const char *to, int flags);
/* Bytes sent from in (at offset) to out, or an error. */
CORIO_API ssize_t corio_fs_sendfile(uv_file out, uv_file in, int64_t offset, size_t len);
/* tmpl ends in "XXXXXX", rewritten in place with the name made: 0 (a
 * directory), or the open descriptor (mkstemp), or an error. */
CORIO_API int corio_fs_mkdtemp(char *tmpl);
CORIO_API int corio_fs_mkstemp(char *tmpl);
CORIO_API int corio_fs_statfs(const char *path, uv_statfs_t *st);
/* Call fn for each entry of the directory (not . or ..), on the calling
 * task, until it returns nonzero: the count of entries seen, or an error. */
typedef int (*corio_fs_dirent_fn)(const uv_dirent_t *ent, void *arg);
CORIO_API ssize_t corio_fs_scandir(const char *path, corio_fs_dirent_fn fn, void *arg);
/* A whole file into *out (malloc'd, NUL-terminated after the returned
 * length; free it): its length, UV_E2BIG past max bytes, or an error (then
 * *out is NULL). */
CORIO_API ssize_t corio_fs_read_file(const char *path, char **out, size_t max);
/* Create or truncate path (mode for a new file) and write data: 0 or an
 * error. */
CORIO_API int corio_fs_write_file(const char *path, const void *data, size_t len, int mode);

CORIO_API int corio_fs_fstat_dl(uv_file fd, uv_stat_t *st, uint64_t deadline);
CORIO_API int corio_fs_lstat_dl(const char *path, uv_stat_t *st, uint64_t deadline);
CORIO_API int corio_fs_fsync_dl(uv_file fd, uint64_t deadline);
CORIO_API int corio_fs_fdatasync_dl(uv_file fd, uint64_t deadline);
CORIO_API int corio_fs_ftruncate_dl(uv_file fd, int64_t len, uint64_t deadline);
CORIO_API int corio_fs_rmdir_dl(const char *path, uint64_t deadline);
CORIO_API int corio_fs_access_dl(const char *path, int mode, uint64_t deadline);
CORIO_API int corio_fs_chmod_dl(const char *path, int mode, uint64_t deadline);
CORIO_API int corio_fs_fchmod_dl(uv_file fd, int mode, uint64_t deadline);
CORIO_API int corio_fs_chown_dl(const char *path, uv_uid_t uid, uv_gid_t gid,
                                uint64_t deadline);
CORIO_API int corio_fs_utime_dl(const char *path, double atime, double mtime,
                                uint64_t deadline);
CORIO_API int corio_fs_fchown_dl(uv_file fd, uv_uid_t uid, uv_gid_t gid, uint64_t deadline);
CORIO_API int corio_fs_lchown_dl(const char *path, uv_uid_t uid, uv_gid_t gid,
                                 uint64_t deadline);
CORIO_API int corio_fs_lutime_dl(const char *path, double atime, double mtime,
                                 uint64_t deadline);
CORIO_API int corio_fs_futime_dl(uv_file fd, double atime, double mtime, uint64_t deadline);
CORIO_API int corio_fs_symlink_dl(const char *target, const char *path, int flags,
                                  uint64_t deadline);
CORIO_API int corio_fs_link_dl(const char *from, const char *to, uint64_t deadline);
CORIO_API ssize_t corio_fs_readlink_dl(const char *path, char *buf, size_t cap,
                                       uint64_t deadline);
CORIO_API ssize_t corio_fs_realpath_dl(const char *path, char *buf, size_t cap,
                                       uint64_t deadline);
CORIO_API int corio_fs_copyfile_dl(const char *from, const char *to, int flags,
                                   uint64_t deadline);
CORIO_API ssize_t corio_fs_sendfile_dl(uv_file out, uv_file in, int64_t offset, size_t len,
                                       uint64_t deadline);
CORIO_API int corio_fs_mkdtemp_dl(char *tmpl, uint64_t deadline);
CORIO_API int corio_fs_mkstemp_dl(char *tmpl, uint64_t deadline);
CORIO_API int corio_fs_statfs_dl(const char *path, uv_statfs_t *st, uint64_t deadline);
CORIO_API ssize_t corio_fs_scandir_dl(const char *path, corio_fs_dirent_fn fn, void *arg,
                                      uint64_t deadline);
CORIO_API ssize_t corio_fs_read_file_dl(const char *path, char **out, size_t max,
                                        uint64_t deadline);
CORIO_API int corio_fs_write_file_dl(const char *path, const void *data, size_t len,
                                     int mode, uint64_t deadline);

/* File-change notification (uv_fs_event): a watcher of path (a file or a
 * directory; flags: UV_FS_EVENT_*) queues what changes, up to 64 events
 * (past that they are dropped and the next wait says UV_ENOBUFS: look at
 * the files again). corio_fs_watch_wait takes the next: 0, the name of
 * what changed (in a directory; cut to cap bytes, NUL-terminated) and
 * *events (UV_RENAME | UV_CHANGE); UV_ETIMEDOUT (_dl), UV_ECANCELED,
 * UV_ENOBUFS, UV_EINVAL. close: UV_EBUSY while a task waits. open and
 * close may suspend (the loop thread starts and stops the watch); a task
 * or a plain thread. */
typedef struct corio_fs_watch_s corio_fs_watch_t;
#define CORIO_FS_WATCH_NAME_MAX 256
CORIO_API int corio_fs_watch_open(corio_rt_t *rt, const char *path, int flags,
                                  corio_fs_watch_t **out);
CORIO_API int corio_fs_watch_wait(corio_fs_watch_t *w, char *name, size_t cap, int *events);
CORIO_API int corio_fs_watch_wait_dl(corio_fs_watch_t *w, char *name, size_t cap,
                                     int *events, uint64_t deadline);
CORIO_API int corio_fs_watch_close(corio_fs_watch_t *w);

/* ------------------------------------------------------------------------
 * Names and blocking work. */

/* Resolve node/service like getaddrinfo(3), on libuv's threadpool. Returns
 * 0 and sets *res (free it with uv_freeaddrinfo), or a negative libuv
 * error (UV_EAI_NONAME, ...). May suspend. */
CORIO_API int corio_getaddrinfo(const char *node, const char *service,
                                const struct addrinfo *hints,
                                struct addrinfo **res);
CORIO_API int corio_getaddrinfo_dl(const char *node, const char *service,
                                   const struct addrinfo *hints,
                                   struct addrinfo **res, uint64_t deadline);

/* Run fn(arg) on libuv's threadpool, for blocking code that must not hold a
 * worker, and return when it is done. Returns 0 or a negative libuv error.
 * May suspend. */
CORIO_API int corio_work(void (*fn)(void *arg), void *arg);
/* With a deadline: UV_ETIMEDOUT when it passes first; fn, if it already
 * runs, runs to its end before this returns (threads cannot be stopped),
 * if it has not started it never will. */
CORIO_API int corio_work_dl(void (*fn)(void *arg), void *arg, uint64_t deadline);

#ifdef __cplusplus
}
#endif

#endif
