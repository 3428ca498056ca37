/* The file calls beyond open/read/write: each against the real file
 * system, in a fresh temporary directory. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corio.h"

static int count_entry(const uv_dirent_t *ent, void *arg) {
  int *n = arg;

  if (strcmp(ent->name, "a.txt") == 0 || strcmp(ent->name, "sub") == 0 ||
      strcmp(ent->name, "link") == 0 || strcmp(ent->name, "hard") == 0 ||
      strcmp(ent->name, "copy") == 0)
    (*n)++;
  return 0;
}

static void *fs_more(void *arg) {
  char dir[64] = "/tmp/corio-fs-XXXXXX", path[128], sub[128], link[128], hard[128],
       copy[128], buf[256], *data;
  uv_stat_t st;
  uv_statfs_t sfs;
  int fd, n = 0;
  ssize_t len;

  (void)arg;
  cr_assert_eq(corio_fs_mkdtemp(dir), 0);
  cr_assert_eq(strstr(dir, "XXXXXX"), NULL, "the template was filled in: %s", dir);
  snprintf(path, sizeof path, "%s/a.txt", dir);
  snprintf(sub, sizeof sub, "%s/sub", dir);
  snprintf(link, sizeof link, "%s/link", dir);
  snprintf(hard, sizeof hard, "%s/hard", dir);
  snprintf(copy, sizeof copy, "%s/copy", dir);

  /* whole files */
  cr_assert_eq(corio_fs_write_file(path, "hello, file", 11, 0644), 0);
  cr_assert_eq(corio_fs_read_file(path, &data, 1024), 11);
  cr_assert_str_eq(data, "hello, file");
  free(data);
  cr_assert_eq(corio_fs_read_file(path, &data, 5), UV_E2BIG);
  cr_assert_null(data);
  cr_assert_eq(corio_fs_read_file("/nonexistent/x", &data, 5), UV_ENOENT);

  /* descriptors */
  fd = corio_fs_open(path, UV_FS_O_RDWR, 0);
  cr_assert_geq(fd, 0);
  cr_assert_eq(corio_fs_fstat(fd, &st), 0);
  cr_assert_eq(st.st_size, 11);
  cr_assert_eq(corio_fs_ftruncate(fd, 5), 0);
  cr_assert_eq(corio_fs_fsync(fd), 0);
  cr_assert_eq(corio_fs_fdatasync(fd), 0);
  cr_assert_eq(corio_fs_fchmod(fd, 0600), 0);
  cr_assert_eq(corio_fs_futime(fd, 1000000, 2000000), 0);
  cr_assert_eq(corio_fs_fchown(fd, (uv_uid_t)-1, (uv_gid_t)-1), 0);
  cr_assert_eq(corio_fs_fstat(fd, &st), 0);
  cr_assert_eq(st.st_size, 5);
  cr_assert_eq(st.st_mode & 0777, 0600);
  cr_assert_eq(st.st_mtim.tv_sec, 2000000);
  cr_assert_eq(corio_fs_close(fd), 0);

  /* paths */
  cr_assert_eq(corio_fs_access(path, 4 /* R_OK */), 0);
  cr_assert_eq(corio_fs_chmod(path, 0640), 0);
  cr_assert_eq(corio_fs_utime(path, 3000000, 4000000), 0);
  cr_assert_eq(corio_fs_chown(path, (uv_uid_t)-1, (uv_gid_t)-1), 0, "-1: unchanged");
  cr_assert_eq(corio_fs_lchown(path, (uv_uid_t)-1, (uv_gid_t)-1), 0);
  cr_assert_eq(corio_fs_stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0640);
  cr_assert_eq(corio_fs_mkdir(sub, 0755), 0);
  cr_assert_eq(corio_fs_symlink(path, link, 0), 0);
  cr_assert_eq(corio_fs_lutime(link, 5000000, 6000000), 0);
  cr_assert_eq(corio_fs_lstat(link, &st), 0);
  cr_assert((st.st_mode & 0170000) == 0120000, "a symbolic link");
  cr_assert_eq(st.st_mtim.tv_sec, 6000000, "the link's own time");
  len = corio_fs_readlink(link, buf, sizeof buf);
  cr_assert_eq(len, (ssize_t)strlen(path));
  cr_assert_str_eq(buf, path);
  cr_assert_eq(corio_fs_readlink(link, buf, 4), UV_ENOBUFS);
  cr_assert_gt(corio_fs_realpath(link, buf, sizeof buf), 0);
  cr_assert_not_null(strstr(buf, "a.txt"), "%s", buf);
  cr_assert_eq(corio_fs_link(path, hard), 0);
  cr_assert_eq(corio_fs_copyfile(path, copy, 0), 0);
  cr_assert_eq(corio_fs_scandir(dir, count_entry, &n), 5);
  cr_assert_eq(n, 5);
  cr_assert_eq(corio_fs_statfs(dir, &sfs), 0);
  cr_assert_gt(sfs.f_bsize, 0);
  {
    char tmpl[128];
    int out, in;
    snprintf(tmpl, sizeof tmpl, "%s/tmpXXXXXX", dir);
    out = corio_fs_mkstemp(tmpl);
    cr_assert_geq(out, 0);
    in = corio_fs_open(copy, UV_FS_O_RDONLY, 0);
    cr_assert_eq(corio_fs_sendfile(out, in, 0, 5), 5);
    corio_fs_close(in);
    corio_fs_close(out);
    cr_assert_eq(corio_fs_read_file(tmpl, &data, 64), 5);
    cr_assert_eq(memcmp(data, "hello", 5), 0);
    free(data);
    cr_assert_eq(corio_fs_unlink(tmpl), 0);
  }
  /* errors are libuv codes */
  cr_assert_eq(corio_fs_rmdir(dir), UV_ENOTEMPTY);
  cr_assert_eq(corio_fs_lstat(NULL, &st), UV_EINVAL);
  cr_assert_eq(corio_fs_access("/nonexistent/x", 0), UV_ENOENT);

  cr_assert_eq(corio_fs_unlink(link), 0);
  cr_assert_eq(corio_fs_unlink(hard), 0);
  cr_assert_eq(corio_fs_unlink(copy), 0);
  cr_assert_eq(corio_fs_unlink(path), 0);
  cr_assert_eq(corio_fs_rmdir(sub), 0);
  cr_assert_eq(corio_fs_rmdir(dir), 0);
  return NULL;
}

Test(fs, the_rest_of_the_file_calls, .timeout = 60) {
  cr_assert_eq(corio_main(fs_more, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

/* A directory watcher sees a file created in it. */
static void *watch(void *arg) {
  char dir[64] = "/tmp/corio-watch-XXXXXX", path[128], name[CORIO_FS_WATCH_NAME_MAX];
  corio_fs_watch_t *w;
  int events = 0, seen = 0;

  (void)arg;
  cr_assert_eq(corio_fs_mkdtemp(dir), 0);
  cr_assert_eq(corio_fs_watch_open(corio_current_rt(), dir, 0, &w), 0);
  cr_assert_eq(corio_fs_watch_wait_dl(w, name, sizeof name, &events, corio_now() + 20),
               UV_ETIMEDOUT, "nothing changed yet");
  snprintf(path, sizeof path, "%s/new.txt", dir);
  cr_assert_eq(corio_fs_write_file(path, "x", 1, 0644), 0);
  while (corio_fs_watch_wait_dl(w, name, sizeof name, &events, corio_now() + 5000) == 0) {
    if (strcmp(name, "new.txt") == 0) {
      seen = 1;
      break;
    }
  }
  cr_assert(seen, "the new file was not reported");
  cr_assert_neq(events & (UV_RENAME | UV_CHANGE), 0);
  cr_assert_eq(corio_fs_watch_close(w), 0);
  cr_assert_eq(corio_fs_unlink(path), 0);
  cr_assert_eq(corio_fs_rmdir(dir), 0);
  cr_assert_eq(corio_fs_watch_open(corio_current_rt(), "/nonexistent/dir", 0, &w), UV_ENOENT);
  cr_assert_null(w);
  return NULL;
}

Test(fs, a_watcher_reports_a_change, .timeout = 60) {
  cr_assert_eq(corio_main(watch, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
  cr_assert_eq(corio_main(watch, NULL, &(corio_rt_options_t){.loop_only = 1}, NULL), 0);
}
