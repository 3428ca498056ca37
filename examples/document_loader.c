/* document_loader: two files are read in parallel by tasks on the worker
 * threads; then a step pinned to the loop thread (where a libuv
 * application keeps its state) joins them and builds the result. Each step
 * says which thread it ran on. */
#include <corio.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char path[256];
  char text[256];
  ssize_t len;
} part_t;

static const char *thread_name(void) {
  static _Thread_local char name[32];
  corio_rt_t *rt = corio_current_rt();

  snprintf(name, sizeof name, "%s thread %lx",
           rt != NULL && corio_on_loop_thread(rt) ? "loop" : "worker",
           (unsigned long)pthread_self() & 0xffffff);
  return name;
}

static void *load(void *arg) {
  part_t *p = arg;
  int fd;

  printf("load %-12s on %s\n", strrchr(p->path, '/') + 1, thread_name());
  fd = corio_fs_open(p->path, O_RDONLY, 0);
  if (fd < 0)
    return (void *)(intptr_t)fd;
  p->len = corio_fs_read(fd, p->text, sizeof p->text - 1, 0);
  corio_fs_close(fd);
  if (p->len >= 0)
    p->text[p->len] = '\0';
  return (void *)(intptr_t)(p->len < 0 ? p->len : 0);
}

typedef struct {
  part_t parts[2];
  corio_task_t *loaders[2];
} document_t;

static void *assemble(void *arg) {
  document_t *doc = arg;

  printf("assemble     on %s\n", thread_name());
  for (int i = 0; i < 2; i++) {
    void *err;
    corio_join(doc->loaders[i], &err);
    if ((intptr_t)err != 0) {
      fprintf(stderr, "load failed: %s\n", uv_strerror((int)(intptr_t)err));
      return err;
    }
  }
  printf("document: \"%s %s\" (on %s)\n", doc->parts[0].text,
         doc->parts[1].text, thread_name());
  return NULL;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

int main(void) {
  char dir[] = "/tmp/corio-doc-XXXXXX";
  document_t doc;
  corio_task_t *step;
  corio_rt_t *rt;
  void *err = NULL;

  if (mkdtemp(dir) == NULL)
    return 1;
  memset(&doc, 0, sizeof doc);
  snprintf(doc.parts[0].path, sizeof doc.parts[0].path, "%s/header.txt", dir);
  snprintf(doc.parts[1].path, sizeof doc.parts[1].path, "%s/body.txt", dir);
  write_file(doc.parts[0].path, "Hello,");
  write_file(doc.parts[1].path, "world of coroutines!");

  if (corio_rt_new(&(corio_rt_options_t){.workers = 2}, &rt) != 0)
    return 1;
  for (int i = 0; i < 2; i++)
    corio_spawn(rt, load, &doc.parts[i], &doc.loaders[i]);
  corio_spawn_on_loop(rt, assemble, &doc, &step);
  corio_join(step, &err);
  corio_rt_free(rt);

  unlink(doc.parts[0].path);
  unlink(doc.parts[1].path);
  rmdir(dir);
  return err == NULL ? 0 : 1;
}
