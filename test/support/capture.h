/* Capture what the process writes to stderr (fd 2) into a file, and read
 * it back: for tests of what corio says there. */
#ifndef CORIO_TEST_CAPTURE_H
#define CORIO_TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct capture {
  char path[32];
  int fd, saved;
} capture_t;

/* From now on, stderr goes to a fresh file. 0, or -1. */
static inline int capture_begin(capture_t *c) {
  strcpy(c->path, "/tmp/corio-capture-XXXXXX");
  if ((c->fd = mkstemp(c->path)) < 0)
    return -1;
  fflush(stderr);
  c->saved = dup(2);
  dup2(c->fd, 2);
  return 0;
}

/* What was written so far, NUL-terminated, into text (cap bytes). */
static inline void capture_read(capture_t *c, char *text, size_t cap) {
  FILE *f;
  size_t n = 0;

  fflush(stderr);
  if ((f = fopen(c->path, "r")) != NULL) {
    n = fread(text, 1, cap - 1, f);
    fclose(f);
  }
  text[n] = '\0';
}

/* stderr back where it was; the file removed. */
static inline void capture_end(capture_t *c) {
  fflush(stderr);
  dup2(c->saved, 2);
  close(c->saved);
  close(c->fd);
  unlink(c->path);
}

#endif
