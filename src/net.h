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
/* Redis's islocalClient: 1 when the peer address is exactly 127.0.0.1 or ::1 (other 127/8
 * addresses and ::ffff:127.0.0.1 are NOT local, as in Redis 7.0) or a unix socket. */
int net_is_local(int fd);
/* The same rule on a textual peer address (inet_ntop form). Pure. */
int net_ip_is_loopback(const char *ip);
/* Protected mode (Redis 7.0's clientAcceptHandler): 1 when a connection from peer_ip must be
 * refused with NET_DENIED_MSG, i.e. protected mode is on, the default user has no password,
 * and the peer is not loopback (net_ip_is_loopback). Pure. */
int net_protected_mode_refuses(int protected_mode, int has_password, const char *peer_ip);
/* Redis's exact reply (with its CRLF) to a connection refused by protected mode. */
#define NET_DENIED_MSG \
    "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set " \
    "for the default user. In this mode connections are only accepted from the loopback interface. If you " \
    "want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just " \
    "disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by " \
    "connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly " \
    "accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) " \
    "Alternatively you can just disable the protected mode by editing the Redis configuration file, and " \
    "setting the protected mode option to 'no', and then restarting the server. 3) If you started the server " \
    "manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication " \
    "password for the default user. NOTE: You only need to do one of the above things in order for the server " \
    "to start accepting connections from the outside.\r\n"
#endif
