/* corio_http_body_to_file: the body into a file through the loop's file
 * calls, double-buffered. A file write is a threadpool round trip; done
 * in turn with the reading, the socket sits idle during each one (and
 * the connection's buffer fills and stops the loop's reads). So a writer
 * task writes one buffer while this task fills the other; the two pass
 * buffers through two channels. */
#include <fcntl.h>
#include <stdlib.h>

#include "corio/chan.h"
#include "http.h"

typedef struct piece {
  char *buf;
  size_t len;          /* buf == NULL: the end */
} piece_t;

typedef struct upload {
  uv_file fd;
  corio_chan_t *full;  /* to the writer: pieces to write, then the end */
  corio_chan_t *empty; /* back: buffers to fill */
  int64_t written;
  int err;             /* the writer's first error, seen after a receive */
} upload_t;


static void *writer(void *arg) {
  upload_t *u = arg;
  piece_t p;

  while (corio_chan_recv(u->full, &p) == 0 && p.buf != NULL) {
    if (u->err == 0) {
      ssize_t w = corio_fs_write(u->fd, p.buf, p.len, u->written);
      if (w == (ssize_t)p.len)
        u->written += w;
      else
        u->err = w < 0 ? (int)w : UV_EIO;
    }
    corio_chan_send(u->empty, &p); /* capacity for both: never waits */
  }
  return NULL;
}


/* Fill buffers from the body and hand them to the writer until the body
 * ends, fails, or the writer fails. */
static int read_into(corio_http_req_t *req, upload_t *u) {
  piece_t p;
  ssize_t n = 1;
  int err;

  while (n > 0) {
    if ((err = corio_chan_recv(u->empty, &p)) != 0)
      return err;
    if (u->err != 0)
      return u->err;
    p.len = 0;
    while (p.len < CORIO_HTTP_FILE_BUFFER &&
           (n = corio_http_body_read(req, p.buf + p.len,
                                     CORIO_HTTP_FILE_BUFFER - p.len)) > 0)
      p.len += (size_t)n;
    if (n < 0)
      return (int)n;
    if (p.len > 0 && (err = corio_chan_send(u->full, &p)) != 0)
      return err;
  }
  return 0;
}


int corio_http_body_to_file(corio_http_req_t *req, const char *path,
                            uint64_t *bytes) {
  static const piece_t end = {NULL, 0};
  char *bufs = NULL;
  corio_task_t *w = NULL;
  upload_t u = {0};
  piece_t p;
  int err;

  if (req == NULL || path == NULL || !corio__in_task())
    return UV_EINVAL;
  if ((bufs = malloc(2 * CORIO_HTTP_FILE_BUFFER)) == NULL)
    return UV_ENOMEM;
  if ((err = corio_chan_new(sizeof(piece_t), 3, &u.full)) != 0 ||
      (err = corio_chan_new(sizeof(piece_t), 2, &u.empty)) != 0)
    goto out;
  if ((u.fd = corio_fs_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
    err = u.fd;
    goto out;
  }
  p.buf = bufs;
  corio_chan_send(u.empty, &p);
  p.buf = bufs + CORIO_HTTP_FILE_BUFFER;
  corio_chan_send(u.empty, &p);
  if ((err = corio_spawn(corio_current_rt(), writer, &u, &w)) == 0) {
    err = read_into(req, &u);
    /* A cancel was taken by the wait it ended: these do not wait long. */
    corio_chan_send(u.full, &end);
    while (corio_join(w, NULL) == UV_ECANCELED) {
    }
    if (err == 0)
      err = u.err;
  }
  corio_fs_close(u.fd);
  if (err != 0)
    corio_fs_unlink(path);
  else if (bytes != NULL)
    *bytes = (uint64_t)u.written;
out:
  if (u.full != NULL)
    corio_chan_free(u.full);
  if (u.empty != NULL)
    corio_chan_free(u.empty);
  free(bufs);
  return err;
}
