/* attach: an existing libuv program adopts corio. The program owns its
 * loop and its uv_timer callbacks, as before; corio attaches to that loop
 * (no thread of its own for libuv), runs tasks beside the callbacks, and
 * uv_run returns by itself once the timer is closed and the tasks are done.
 */
#include <corio.h>
#include <stdio.h>

static void on_tick(uv_timer_t *timer) {
  int *ticks = timer->data;

  printf("app: timer tick %d\n", ++*ticks);
  if (*ticks == 3)
    uv_close((uv_handle_t *)timer, NULL);
}

static void *background(void *arg) {
  const char *name = arg;

  for (int i = 1; i <= 2; i++) {
    corio_sleep(15);
    printf("corio task %s: step %d\n", name, i);
  }
  return NULL;
}

int main(void) {
  uv_loop_t *loop = uv_default_loop();
  uv_timer_t timer;
  corio_rt_t *rt;
  int ticks = 0, err;

  /* The application's own handle, as it always had. */
  uv_timer_init(loop, &timer);
  timer.data = &ticks;
  uv_timer_start(&timer, on_tick, 10, 10);

  /* Attach corio to the same loop, from the loop's thread. */
  err = corio_rt_new(&(corio_rt_options_t){.workers = 2, .loop = loop}, &rt);
  if (err != 0) {
    fprintf(stderr, "attach: %s\n", uv_strerror(err));
    return 1;
  }
  corio_spawn(rt, background, "A", NULL);
  corio_spawn(rt, background, "B", NULL);

  uv_run(loop, UV_RUN_DEFAULT); /* returns when the timer and the tasks are done */
  printf("uv_run returned: app ticks %d, corio idle\n", ticks);

  corio_rt_free(rt);
  uv_run(loop, UV_RUN_DEFAULT); /* let corio's handles finish closing */
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
