/* Host names and ports to socket addresses, for listen and connect. */
#ifndef CORIO_NET_ADDR_H
#define CORIO_NET_ADDR_H

#include <stdint.h>
#include <sys/socket.h>

/* The addresses of a name that connect tries in turn: a host has a few
 * (IPv4 and IPv6, a handful of replicas); more would only stretch a
 * failing connect. */
#define CORIO__ADDRS_MAX 8

typedef struct corio__addrs {
  int n;
  struct sockaddr_storage a[CORIO__ADDRS_MAX];
} corio__addrs_t;

/* Numeric hosts directly; names through corio_getaddrinfo_dl in a task,
 * getaddrinfo(3) on a plain thread. NULL host: "0.0.0.0" (passive) or
 * "127.0.0.1". Returns 0 with out->n >= 1, or a libuv error. */
int corio__resolve(const char *host, int port, int passive, uint64_t deadline,
                   corio__addrs_t *out);

/* A Unix-domain socket's address: a path, or "@name" for a name in
 * Linux's abstract namespace. 0, or UV_EINVAL (NULL, empty), UV_ENAMETOOLONG. */
struct sockaddr_un;
int corio__unix_addr(const char *path, struct sockaddr_un *sa, socklen_t *len);

#endif
