/* Resolution for listen and connect. */
#include "addr.h"

#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <uv.h>

#include "corio/uv.h"


int corio__resolve(const char *host, int port, int passive, uint64_t deadline,
                   corio__addrs_t *out) {
  struct addrinfo hints, *res = NULL, *ai;
  char service[sizeof "65535"];
  int err;

  out->n = 0;
  if (port < 0 || port > 65535)
    return UV_EINVAL;
  if (host == NULL)
    host = passive ? "0.0.0.0" : "127.0.0.1";
  memset(out->a, 0, sizeof out->a[0]);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&out->a[0]) == 0 ||
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&out->a[0]) == 0) {
    out->n = 1;
    return 0;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0);
  snprintf(service, sizeof service, "%d", port);
  if (corio_self() != NULL) {
    err = corio_getaddrinfo_dl(host, service, &hints, &res, deadline);
    if (err != 0)
      return err;
  } else {
    err = getaddrinfo(host, service, &hints, &res);
    if (err != 0)
      return err == EAI_AGAIN ? UV_EAI_AGAIN : err == EAI_FAIL ? UV_EAI_FAIL
             : err == EAI_MEMORY ? UV_ENOMEM : UV_EAI_NONAME;
  }
  for (ai = res; ai != NULL && out->n < CORIO__ADDRS_MAX; ai = ai->ai_next) {
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        ai->ai_addrlen > sizeof out->a[0])
      continue;
    memcpy(&out->a[out->n++], ai->ai_addr, ai->ai_addrlen);
  }
  freeaddrinfo(res);
  return out->n > 0 ? 0 : UV_EAI_NONAME;
}


int corio__unix_addr(const char *path, struct sockaddr_un *sa, socklen_t *len) {
  size_t n;

  if (path == NULL || *path == '\0')
    return UV_EINVAL;
  n = strlen(path);
  if (n >= sizeof sa->sun_path)
    return UV_ENAMETOOLONG;
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path, path, n);
  if (path[0] == '@') {
    sa->sun_path[0] = '\0'; /* abstract: the name is the bytes after it */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  } else {
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  }
  return 0;
}
