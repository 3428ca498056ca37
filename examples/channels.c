/* channels: a small pipeline. A generator sends numbers on one channel, a
 * squarer turns them into squares on another; main's task collects them
 * with corio_select, together with a ticker, and gives up on a deadline
 * if the pipeline stalls. */
#include <corio.h>
#include <stdio.h>

typedef struct {
  corio_chan_t *numbers, *squares, *ticks;
} pipeline_t;

static void *generate(void *arg) {
  pipeline_t *p = arg;

  for (int i = 1; i <= 10; i++)
    corio_chan_send(p->numbers, &i);
  corio_chan_close(p->numbers); /* the squarer drains, then sees UV_EOF */
  return NULL;
}

static void *square(void *arg) {
  pipeline_t *p = arg;
  int n;

  while (corio_chan_recv(p->numbers, &n) == 0) {
    int sq = n * n;
    corio_sleep(2); /* pretend it is work */
    corio_chan_send(p->squares, &sq);
  }
  corio_chan_close(p->squares);
  return NULL;
}

static void *tick(void *arg) {
  pipeline_t *p = arg;
  int beat = 0;

  while (corio_sleep(5) == 0 && corio_chan_send(p->ticks, &beat) == 0)
    beat++;
  return NULL;
}

static void *collect(void *arg) {
  pipeline_t *p = arg;
  corio_task_t *ticker;
  int sum = 0, value, ticks = 0;

  corio_spawn(corio_current_rt(), generate, p, NULL);
  corio_spawn(corio_current_rt(), square, p, NULL);
  corio_spawn(corio_current_rt(), tick, p, &ticker);
  for (;;) {
    corio_select_case_t cases[2] = {
      {p->squares, CORIO_RECV, &value, 0},
      {p->ticks, CORIO_RECV, &value, 0},
    };
    int which = corio_select_dl(cases, 2, corio_now() + 1000);

    if (which == UV_ETIMEDOUT) {
      printf("pipeline stalled\n");
      break;
    }
    if (which == 1) {
      ticks++;
      continue;
    }
    if (cases[0].result == UV_EOF)
      break; /* squares closed: done */
    sum += value;
  }
  corio_cancel(ticker); /* its sleep or send returns UV_ECANCELED */
  corio_join(ticker, NULL);
  printf("sum of squares 1..10 = %d (%d ticks while waiting)\n", sum, ticks);
  return NULL;
}

int main(void) {
  pipeline_t p;

  corio_chan_new(sizeof(int), 4, &p.numbers);
  corio_chan_new(sizeof(int), 0, &p.squares);
  corio_chan_new(sizeof(int), 0, &p.ticks);
  if (corio_main(collect, &p, NULL, NULL) != 0)
    return 1;
  corio_chan_free(p.numbers);
  corio_chan_free(p.squares);
  corio_chan_free(p.ticks);
  return 0;
}
