/* uv_interop: a task awaits libuv requests corio does not wrap, through
 * corio_await (corio/uv.h): a uv_fs_scandir listing a directory, and a
 * uv_queue_work computing on libuv's threadpool. start() runs on the loop
 * thread and starts the request; its callback calls corio_await_done. */
#include <corio.h>
#include <stdio.h>
#include <string.h>

/* --- uv_fs_scandir ------------------------------------------------------ */

static void scandir_done(uv_fs_t *req) {
  corio_await_done(req->data, req->result);
}

static int start_scandir(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  uv_fs_t *req = arg;

  req->data = aw;
  return uv_fs_scandir(loop, req, "/", 0, scandir_done);
}

/* --- uv_queue_work ------------------------------------------------------ */

typedef struct {
  uv_work_t req;
  unsigned n;
  unsigned long long sum;
} sum_job_t;

static void sum_squares(uv_work_t *req) { /* on a threadpool thread */
  sum_job_t *job = (sum_job_t *)req;

  for (unsigned i = 1; i <= job->n; i++)
    job->sum += (unsigned long long)i * i;
}

static void sum_done(uv_work_t *req, int status) {
  sum_job_t *job = (sum_job_t *)req;
  corio_await_done(job->req.data, status);
}

static int start_sum(uv_loop_t *loop, corio_await_t *aw, void *arg) {
  sum_job_t *job = arg;

  job->req.data = aw;
  return uv_queue_work(loop, &job->req, sum_squares, sum_done);
}

static void *explore(void *arg) {
  corio_rt_t *rt = corio_current_rt();
  sum_job_t job = {.n = 1000};
  uv_dirent_t ent;
  uv_fs_t req;
  intptr_t entries, status;
  int err, shown = 0;

  (void)arg;
  err = corio_await(rt, start_scandir, &req, &entries);
  if (err < 0 || entries < 0) {
    fprintf(stderr, "scandir: %s\n", uv_strerror(err < 0 ? err : (int)entries));
    return NULL;
  }
  printf("/ has %ld entries, among them:", (long)entries);
  while (uv_fs_scandir_next(&req, &ent) != UV_EOF)
    if (shown++ < 5)
      printf(" %s", ent.name);
  printf("\n");
  uv_fs_req_cleanup(&req);

  err = corio_await(rt, start_sum, &job, &status);
  if (err == 0 && status == 0)
    printf("sum of squares 1..%u = %llu (on the threadpool)\n", job.n, job.sum);
  return NULL;
}

int main(void) {
  return corio_main(explore, NULL, NULL, NULL) == 0 ? 0 : 1;
}
