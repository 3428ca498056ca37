/* UDP: datagrams both ways with the sender's address, truncation said,
 * a bounded queue that counts what it drops, connected sockets,
 * deadlines, options. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "corio.h"

static struct sockaddr_in to_port(int port) {
  struct sockaddr_in a;

  uv_ip4_addr("127.0.0.1", port, &a);
  return a;
}

static void *udp_basics(void *arg) {
  corio_udp_t *a, *b;
  struct sockaddr_storage from;
  struct sockaddr_in ta, tb;
  char buf[256], big[100];
  int truncated = -1;

  (void)arg;
  cr_assert_eq(corio_udp_bind("127.0.0.1", 0, NULL, &a), 0);
  cr_assert_eq(corio_udp_bind("127.0.0.1", 0, NULL, &b), 0);
  ta = to_port(corio_udp_port(a));
  tb = to_port(corio_udp_port(b));
  cr_assert_eq(corio_udp_send_to(a, "ping", 4, (struct sockaddr *)&tb), 4);
  cr_assert_eq(corio_udp_recv_from(b, buf, sizeof buf, &from, &truncated), 4);
  cr_assert_eq(memcmp(buf, "ping", 4), 0);
  cr_assert_eq(truncated, 0);
  cr_assert_eq(ntohs(((struct sockaddr_in *)&from)->sin_port), corio_udp_port(a), "the sender");
  cr_assert_eq(corio_udp_send_to(b, "pong", 4, (struct sockaddr *)&from), 4);
  cr_assert_eq(corio_udp_recv_from_dl(a, buf, sizeof buf, NULL, NULL, corio_now() + 5000), 4);
  /* longer than the buffer: the length says so */
  memset(big, 'x', sizeof big);
  cr_assert_eq(corio_udp_send_to(a, big, sizeof big, (struct sockaddr *)&tb), 100);
  cr_assert_eq(corio_udp_recv_from(b, buf, 10, NULL, &truncated), 100);
  cr_assert_eq(truncated, 1);
  /* kept while nobody waits */
  for (int i = 0; i < 5; i++)
    cr_assert_eq(corio_udp_send_to(a, &i, sizeof i, (struct sockaddr *)&tb), (ssize_t)sizeof i);
  corio_sleep(30);
  for (int i = 0; i < 5; i++) {
    int v = -1;
    cr_assert_eq(corio_udp_recv_from_dl(b, &v, sizeof v, NULL, NULL, corio_now() + 5000),
                 (ssize_t)sizeof v);
    cr_assert_eq(v, i, "in order on loopback");
  }
  cr_assert_eq(corio_udp_recv_from_dl(b, buf, sizeof buf, NULL, NULL, corio_now() + 20),
               UV_ETIMEDOUT);
  /* connected */
  cr_assert_eq(corio_udp_connect(a, "127.0.0.1", corio_udp_port(b)), 0);
  cr_assert_eq(corio_udp_send(a, "hi", 2), 2);
  cr_assert_eq(corio_udp_recv(b, buf, sizeof buf), 2);
  (void)ta;
  /* options */
  cr_assert_eq(corio_udp_set_broadcast(b, 1), 0);
  cr_assert_eq(corio_udp_set_ttl(b, 8), 0);
  cr_assert_eq(corio_udp_set_multicast_ttl(b, 1), 0);
  cr_assert_eq(corio_udp_set_multicast_loop(b, 1), 0);
  if (corio_udp_join(b, "239.255.0.7", "127.0.0.1") == 0)
    cr_assert_eq(corio_udp_leave(b, "239.255.0.7", "127.0.0.1"), 0);
  cr_assert_eq(corio_udp_join(b, NULL, NULL), UV_EINVAL);
  cr_assert_eq(corio_udp_dropped(b), 0);
  cr_assert_eq(corio_udp_close(a), 0);
  cr_assert_eq(corio_udp_close(b), 0);
  return NULL;
}

Test(udp, datagrams_both_ways, .timeout = 60) {
  cr_assert_eq(corio_main(udp_basics, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
  cr_assert_eq(corio_main(udp_basics, NULL, &(corio_rt_options_t){.loop_only = 1}, NULL), 0);
}

static void *bounded(void *arg) {
  corio_udp_options_t o = {.queue_max = 4};
  corio_udp_t *a, *b;
  struct sockaddr_in tb;
  char buf[16];

  (void)arg;
  cr_assert_eq(corio_udp_bind("127.0.0.1", 0, NULL, &a), 0);
  cr_assert_eq(corio_udp_bind("127.0.0.1", 0, &o, &b), 0);
  tb = to_port(corio_udp_port(b));
  for (int i = 0; i < 10; i++)
    cr_assert_eq(corio_udp_send_to(a, "d", 1, (struct sockaddr *)&tb), 1);
  for (int i = 0; i < 200 && corio_udp_dropped(b) < 6; i++)
    corio_sleep(5);
  cr_assert_eq(corio_udp_dropped(b), 6, "a queue of 4 drops the other 6");
  for (int i = 0; i < 4; i++)
    cr_assert_eq(corio_udp_recv_from_dl(b, buf, sizeof buf, NULL, NULL, corio_now() + 5000), 1);
  cr_assert_eq(corio_udp_recv_from_dl(b, buf, sizeof buf, NULL, NULL, corio_now() + 20),
               UV_ETIMEDOUT);
  cr_assert_eq(corio_udp_close(a), 0);
  cr_assert_eq(corio_udp_close(b), 0);
  return NULL;
}

Test(udp, the_queue_is_bounded_and_drops_are_counted, .timeout = 60) {
  cr_assert_eq(corio_main(bounded, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
}

static corio_udp_t *waited;

static void *recv_forever(void *arg) {
  char buf[8];

  (void)arg;
  return (void *)(intptr_t)corio_udp_recv_from(waited, buf, sizeof buf, NULL, NULL);
}

static void *cancelled(void *arg) {
  corio_task_t *t;
  void *r;

  (void)arg;
  cr_assert_eq(corio_udp_bind("127.0.0.1", 0, NULL, &waited), 0);
  cr_assert_eq(corio_spawn(corio_current_rt(), recv_forever, NULL, &t), 0);
  corio_sleep(20);
  cr_assert_eq(corio_udp_close(waited), UV_EBUSY);
  cr_assert_eq(corio_cancel(t), 0);
  cr_assert_eq(corio_join(t, &r), 0);
  cr_assert_eq((int)(intptr_t)r, UV_ECANCELED);
  cr_assert_eq(corio_udp_close(waited), 0);
  cr_assert_eq(corio_udp_bind("127.0.0.1", 70000, NULL, &waited), UV_EINVAL);
  return NULL;
}

Test(udp, a_receive_is_cancelled_and_close_refuses_while_waited_on, .timeout = 60) {
  cr_assert_eq(corio_main(cancelled, NULL, &(corio_rt_options_t){.workers = 2}, NULL), 0);
}
