/* Request conveniences: the connection's addresses, percent-decoding of
 * the path and the query's parameters into caller memory. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corio.h"
#include "http_fixture.h"

static corio_http_str_t s(const char *lit) {
  corio_http_str_t v = {lit, strlen(lit)};
  return v;
}

static void decodes(const char *in, int plus, const char *want) {
  char out[64];

  cr_assert_eq(corio_http_decode(s(in), plus, out, sizeof out), (ssize_t)strlen(want),
               "%s", in);
  cr_assert_str_eq(out, want, "%s", in);
  cr_assert_eq(corio_http_decode(s(in), plus, NULL, 0), (ssize_t)strlen(want),
               "%s: the length alone", in);
}

Test(request, percent_decoding_into_caller_memory) {
  char out[4];

  decodes("a%20b+c", 1, "a b c");
  decodes("a%20b+c", 0, "a b+c");
  decodes("%41%62%7e", 0, "Ab~");
  decodes("%C3%a9", 0, "\xc3\xa9");
  decodes("", 1, "");
  cr_assert_eq(corio_http_decode(s("%zz"), 0, out, sizeof out), UV_EINVAL);
  cr_assert_eq(corio_http_decode(s("ab%2"), 0, out, sizeof out), UV_EINVAL);
  cr_assert_eq(corio_http_decode(s("%"), 0, out, sizeof out), UV_EINVAL);
  cr_assert_eq(corio_http_decode(s("a%00b"), 0, out, sizeof out), UV_EINVAL);
  cr_assert_eq(corio_http_decode(s("abc"), 0, out, 4), 3); /* exactly fits */
  cr_assert_str_eq(out, "abc");
  cr_assert_eq(corio_http_decode(s("abcd"), 0, out, 4), UV_ENOBUFS);
  cr_assert_eq(corio_http_decode(s("abc"), 0, out, 0), UV_ENOBUFS);
  cr_assert_eq(corio_http_decode(s("abc"), 0, NULL, 4), UV_ENOBUFS);
}

/* --- through the server ------------------------------------------------------ */

static int handler(corio_http_req_t *req, corio_http_res_t *res, void *arg) {
  char out[1024], path[64], name[64], value[64], got[64];
  corio_http_str_t n, v;
  struct sockaddr_storage peer, local;
  int plen = sizeof peer, llen = sizeof local;
  size_t pos = 0, k = 0;
  ssize_t r;

  (void)arg;
  if (is(corio_http_path(req), "/nothing"))
    return corio_http_respond(res, 204, NULL, NULL, 0);
  r = corio_http_path_decoded(req, path, sizeof path);
  k += (size_t)snprintf(out + k, sizeof out - k, "path=%zd:%s\n", r, r >= 0 ? path : "");
  while (corio_http_query_next(req, &pos, &n, &v) == 1) {
    ssize_t a = corio_http_decode(n, 1, name, sizeof name);
    ssize_t b = corio_http_decode(v, 1, value, sizeof value);
    k += (size_t)snprintf(out + k, sizeof out - k, "[%s]=[%s]\n", a >= 0 ? name : "?",
                          b >= 0 ? value : "?");
  }
  r = corio_http_query_get(req, "a", got, sizeof got);
  k += (size_t)snprintf(out + k, sizeof out - k, "get a=%zd:%s\n", r, r >= 0 ? got : "");
  r = corio_http_query_get(req, "d e", got, sizeof got);
  k += (size_t)snprintf(out + k, sizeof out - k, "get d e=%zd:%s\n", r, r >= 0 ? got : "");
  r = corio_http_query_get(req, "zz", got, sizeof got);
  k += (size_t)snprintf(out + k, sizeof out - k, "get zz=%zd\n", r);
  if (corio_http_peer(req, (struct sockaddr *)&peer, &plen) == 0 &&
      corio_http_local(req, (struct sockaddr *)&local, &llen) == 0 &&
      peer.ss_family == AF_INET && local.ss_family == AF_INET) {
    struct sockaddr_in *p = (struct sockaddr_in *)&peer, *l = (struct sockaddr_in *)&local;
    char ps[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &p->sin_addr, ps, sizeof ps);
    k += (size_t)snprintf(out + k, sizeof out - k, "peer=%s:%d local=%d\n", ps,
                          ntohs(p->sin_port), ntohs(l->sin_port));
  }
  return corio_http_respond(res, 200, NULL, out, k);
}

typedef struct ask {
  int port, err, client_port;
  const char *target;
  reply_t reply;
} ask_t;

static void *ask_task(void *arg) {
  ask_t *a = arg;
  client_t *cl = malloc(sizeof *cl);
  struct sockaddr_in me;
  int len = sizeof me;
  char req[512];
  int n;

  if ((a->err = client_open(cl, a->port)) == 0) {
    if (corio_tcp_local(cl->c, (struct sockaddr *)&me, &len) == 0)
      a->client_port = ntohs(me.sin_port);
    n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", a->target);
    if ((a->err = (int)corio_write(cl->c, req, (size_t)n)) > 0)
      a->err = read_reply(cl, &a->reply, 0, corio_now() + 15000);
    corio_close(cl->c);
  }
  free(cl);
  return NULL;
}

static char *ask(fixture_t *f, const char *target, int *client_port) {
  ask_t a = {.port = f->port, .target = target};

  in_task(f, ask_task, &a);
  cr_assert_eq(a.err, 0, "%s: %s", target, uv_strerror(a.err));
  cr_assert_eq(a.reply.status, 200, "%s", target);
  if (client_port != NULL)
    *client_port = a.client_port;
  return a.reply.body;
}

Test(request, the_path_and_query_decode_and_the_addresses_are_the_connections,
     .timeout = 60) {
  fixture_t f;
  char want[512], *got;
  int cport;

  fixture_start(&f, (corio_rt_options_t){.workers = 2}, NULL);
  got = ask(&f, "/a%2Fb%20c+d?a=1&b=x%20y+z&&c&d+e=%3D&a=2&bad=%zz", &cport);
  snprintf(want, sizeof want,
           "path=8:/a/b c+d\n"
           "[a]=[1]\n[b]=[x y z]\n[c]=[]\n[d e]=[=]\n[a]=[2]\n[bad]=[?]\n"
           "get a=1:1\nget d e=1:=\nget zz=%d\n"
           "peer=127.0.0.1:%d local=%d\n",
           UV_ENOENT, cport, f.port);
  cr_assert_str_eq(got, want);
  free(got);
  got = ask(&f, "/p%00?a=%00", NULL); /* NUL bytes are refused, not cut */
  snprintf(want, sizeof want, "path=%d:\n[a]=[?]\nget a=%d:\n", UV_EINVAL, UV_EINVAL);
  cr_assert_not_null(strstr(got, want), "%s", got);
  free(got);
  got = ask(&f, "/plain", NULL); /* no query at all */
  snprintf(want, sizeof want, "path=6:/plain\nget a=%d:\n", UV_ENOENT);
  cr_assert_not_null(strstr(got, want), "%s", got);
  free(got);
  fixture_stop(&f);
}
