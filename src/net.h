/* net.h - TCP helpers: listening sockets, accept, socket options. Any thread (pure syscalls).
 * Errors: -1 with a message written to err (errlen bytes). */
#ifndef KEVO_NET_H
#define KEVO_NET_H
#include <stddef.h>

/* Listens on addr:port (IPv4 or IPv6 literal, or "*" / "::*" for any), non-blocking,
 * SO_REUSEADDR, close-on-exec. Returns the fd or -1. */
int net_listen(const char *addr, int port, int backlog, char *err, size_t errlen);
/* Accepts one connection (non-blocking, close-on-exec). Returns the fd, or -1 with errno
 * (EAGAIN when none is pending). ip (>= 46 bytes) and *port receive the peer when non-NULL. */
int net_accept(int lfd, char *ip, size_t iplen, int *port);
int net_set_nonblock(int fd);
int net_set_nodelay(int fd);
/* SO_KEEPALIVE with the given interval in seconds (0 = leave off). */
int net_set_keepalive(int fd, int interval);
/* "ip:port" of the peer (remote != 0) or of the local end. */
int net_format_addr(int fd, int remote, char *buf, size_t len);
/* 1 when the peer address is loopback (127.0.0.0/8, ::1) or a unix socket. */
int net_is_local(int fd);
#endif
