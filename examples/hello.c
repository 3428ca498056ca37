/* hello: the corio runtime in one screen. Two tasks run at once on the
 * worker threads; each sleeps (suspending itself, not its thread) and
 * prints. corio_main returns when both are done. */
#include <corio.h>
#include <stdio.h>

typedef struct {
  const char *name;
  unsigned times;
  uint64_t every_ms;
} greeter_t;

static void *greet(void *arg) {
  greeter_t *g = arg;

  for (unsigned i = 1; i <= g->times; i++) {
    corio_sleep(g->every_ms);
    printf("%s: hello #%u (after %lu ms)\n", g->name, i,
           (unsigned long)(i * g->every_ms));
  }
  return NULL;
}

static void *start(void *arg) {
  greeter_t fast = {"fast", 4, 10}, slow = {"slow", 2, 25};
  corio_task_t *a, *b;

  (void)arg;
  corio_spawn(corio_current_rt(), greet, &fast, &a);
  corio_spawn(corio_current_rt(), greet, &slow, &b);
  corio_join(a, NULL);
  corio_join(b, NULL);
  printf("both done\n");
  return NULL;
}

int main(void) {
  int err = corio_main(start, NULL, NULL, NULL);

  if (err != 0) {
    fprintf(stderr, "hello: %s\n", uv_strerror(err));
    return 1;
  }
  return 0;
}
