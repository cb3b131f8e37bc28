/* net.c - TCP helpers (see net.h). */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int net_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int net_set_nodelay(int fd)
{
    int yes = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
}

int net_set_keepalive(int fd, int interval)
{
    if (interval <= 0) return 0;
    int yes = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof yes) < 0) return -1;
    int idle = interval, intvl = interval / 3 > 0 ? interval / 3 : 1, cnt = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    return 0;
}

int net_listen(const char *addr, int port, int backlog, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    int v6 = strchr(addr, ':') != NULL;
    const char *a = addr;
    if (a[0] == '-') a++; /* "-::1": optional address (Redis syntax); treated as required */
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (strcmp(a, "::*") == 0) s6->sin6_addr = in6addr_any;
        else if (inet_pton(AF_INET6, a, &s6->sin6_addr) != 1) {
            snprintf(err, errlen, "Invalid bind address '%s'", addr);
            return -1;
        }
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (strcmp(a, "*") == 0) s4->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, a, &s4->sin_addr) != 1) {
            snprintf(err, errlen, "Invalid bind address '%s'", addr);
            return -1;
        }
        sl = sizeof *s4;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof yes);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, backlog) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int net_accept(int lfd, char *ip, size_t iplen, int *port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd;
    do {
        fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return -1;
    if (ip) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *s = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s->sin_addr, ip, (socklen_t)iplen);
            if (port) *port = ntohs(s->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s->sin6_addr, ip, (socklen_t)iplen);
            if (port) *port = ntohs(s->sin6_port);
        } else {
            snprintf(ip, iplen, "?");
            if (port) *port = 0;
        }
    }
    return fd;
}

int net_format_addr(int fd, int remote, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int r = remote ? getpeername(fd, (struct sockaddr *)&ss, &sl)
                   : getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (r < 0) {
        snprintf(buf, len, "?:0");
        return -1;
    }
    char ip[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
        snprintf(buf, len, "%s:%d", ip, ntohs(s->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof ip);
        snprintf(buf, len, "%s:%d", ip, ntohs(s->sin6_port));
    } else {
        snprintf(buf, len, "/unix:0");
    }
    return 0;
}

int net_ip_is_loopback(const char *ip)
{
    return ip && (strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0);
}

int net_is_local(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) return 0;
    if (ss.ss_family == AF_UNIX) return 1;
    char ip[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
    return net_ip_is_loopback(ip);
}

int net_protected_mode_refuses(int protected_mode, int has_password, const char *peer_ip)
{
    return protected_mode && !has_password && !net_ip_is_loopback(peer_ip);
}
