/* client.c - one connection: query buffer and parsing, dispatch, reply buffer, writes
 * (see client.h). Replies are only written in before-sleep (client_flush_all), after the
 * iteration's WAL commit: group commit (DESIGN.md section 1). */
#include "client.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blocking.h"
#include "command.h"
#include "config.h"
#include "event.h"
#include "info.h"
#include "log.h"
#include "multi.h"
#include "net.h"
#include "parser.h"
#include "pubsub.h"
#include "reply.h"
#include "server.h"
#include "strmap.h"
#include "tracking.h"

#define QB_READ_LEN (16 * 1024)
#define MAX_IOV 64
#define MAX_WRITE_PER_ITER (1024 * 1024)

struct client_internal {
    client *prev, *next;          /* all clients */
    client *pw_prev, *pw_next;    /* pending-write list */
    client *pz_prev, *pz_next;    /* paused list */
    client *ub_prev, *ub_next;    /* unblocked list: input to process in before-sleep */
    int in_pending, in_paused, in_unblocked, closing, wr_handler, skip_next, skip_cur;
    int unlisted;                 /* the script client: in no list */
    int protected_, held;         /* busy script: the caller / replies held (client_hold_pending) */
    char *flat;                   /* client_reply_contents copy */
    size_t flatcap;
    char *qb;
    size_t qblen, qbcap, qbpos;   /* bytes in qb; capacity; start of the current command */
    resp_parser parser;
    int cmd_ready;                /* parser holds a complete command not yet run */
    cmdarg *argvbuf;
    int argvcap;
    uint64_t ctime_ms, last_ms;
    uint64_t obuf_soft_since;
    long long mark_iter;          /* iteration of the write mark, -1 none */
    reply_mark mark;
    long cmds_since_mark;
    char addr[64], laddr[64];
    int local;
    const char *lastcmd;
    char *lib_name, *lib_ver;
    reply_buf rb;                 /* last: 16 KiB fixed buffer */
};

static client *clients_head;
static size_t nclients;
static client *pending_head;
static client *paused_head;
static client *unblocked_head, *unblocked_tail;
static client **closing;
static size_t nclosing, closing_cap;
static client **monitors;
static size_t nmonitors, monitors_cap;
static strmap *clients_by_id;     /* id (8 bytes, native order) -> client */

/* ---------------------------------------------------------------- lists */

static int write_out(client *c, int may_free);
static int reply_may_go_now(const client *c);

static void pending_add(client *c)
{
    struct client_internal *ci = c->in;
    if (ci->in_pending || c->fd < 0) return;
    ci->in_pending = 1;
    ci->pw_prev = NULL;
    ci->pw_next = pending_head;
    if (pending_head) pending_head->in->pw_prev = c;
    pending_head = c;
}

static void pending_remove(client *c)
{
    struct client_internal *ci = c->in;
    if (!ci->in_pending) return;
    if (ci->pw_prev) ci->pw_prev->in->pw_next = ci->pw_next;
    else pending_head = ci->pw_next;
    if (ci->pw_next) ci->pw_next->in->pw_prev = ci->pw_prev;
    ci->in_pending = 0;
}

static void paused_add(client *c)
{
    struct client_internal *ci = c->in;
    if (ci->in_paused) return;
    ci->in_paused = 1;
    ci->pz_prev = NULL;
    ci->pz_next = paused_head;
    if (paused_head) paused_head->in->pz_prev = c;
    paused_head = c;
}

static void paused_remove(client *c)
{
    struct client_internal *ci = c->in;
    if (!ci->in_paused) return;
    if (ci->pz_prev) ci->pz_prev->in->pz_next = ci->pz_next;
    else paused_head = ci->pz_next;
    if (ci->pz_next) ci->pz_next->in->pz_prev = ci->pz_prev;
    ci->in_paused = 0;
}

static void unblocked_add(client *c)
{
    struct client_internal *ci = c->in;
    if (ci->in_unblocked) return;
    ci->in_unblocked = 1;
    ci->ub_next = NULL;
    ci->ub_prev = unblocked_tail;
    if (unblocked_tail) unblocked_tail->in->ub_next = c;
    else unblocked_head = c;
    unblocked_tail = c;
}

static void unblocked_remove(client *c)
{
    struct client_internal *ci = c->in;
    if (!ci->in_unblocked) return;
    if (ci->ub_prev) ci->ub_prev->in->ub_next = ci->ub_next;
    else unblocked_head = ci->ub_next;
    if (ci->ub_next) ci->ub_next->in->ub_prev = ci->ub_prev;
    else unblocked_tail = ci->ub_prev;
    ci->ub_prev = ci->ub_next = NULL;
    ci->in_unblocked = 0;
}

/* ---------------------------------------------------------------- lifecycle */

static void client_read_handler(event_loop *el, int fd, void *data, int mask);

/* A client and its internals with every field at its start value (not in any list yet); NULL
 * when out of memory. */
static client *client_alloc(int fd)
{
    client *c = calloc(1, sizeof *c);
    struct client_internal *ci = malloc(sizeof *ci);
    if (!c || !ci) {
        free(c);
        free(ci);
        return NULL;
    }
    memset(ci, 0, offsetof(struct client_internal, rb));
    reply_buf_init(&ci->rb);
    c->in = ci;
    c->id = ++server.next_client_id;
    c->fd = fd;
    c->resp = 2;
    resp_parser_init(&ci->parser, config.proto_max_bulk_len);
    ci->mark_iter = -1;
    ci->ctime_ms = ci->last_ms = server_now_ms();
    return c;
}

client *client_create(int fd)
{
    client *c = client_alloc(fd);
    if (!c) return NULL;
    struct client_internal *ci = c->in;
    c->authenticated = !(config.requirepass && config.requirepass[0]);
    if (fd >= 0) {
        net_set_nodelay(fd);
        net_set_keepalive(fd, config.tcp_keepalive);
        net_format_addr(fd, 1, ci->addr, sizeof ci->addr);
        net_format_addr(fd, 0, ci->laddr, sizeof ci->laddr);
        ci->local = net_is_local(fd);
        if (server.el && ev_add(server.el, fd, EV_READABLE, client_read_handler, c) < 0) {
            resp_parser_free(&ci->parser);
            free(ci);
            free(c);
            return NULL;
        }
    } else {
        snprintf(ci->addr, sizeof ci->addr, "?:0");
        snprintf(ci->laddr, sizeof ci->laddr, "?:0");
        ci->local = 1;
    }
    if (!clients_by_id) clients_by_id = strmap_new();
    if (!clients_by_id || strmap_add(clients_by_id, &c->id, sizeof(c->id), c) < 0) {
        if (fd >= 0 && server.el) ev_del(server.el, fd, EV_READABLE);
        resp_parser_free(&ci->parser);
        free(ci);
        free(c);
        return NULL;
    }
    ci->next = clients_head;
    if (clients_head) clients_head->in->prev = c;
    clients_head = c;
    nclients++;
    return c;
}

client *client_create_script(void)
{
    client *c = client_alloc(-1);
    if (!c) return NULL;
    struct client_internal *ci = c->in;
    c->authenticated = 1;
    c->flags = CLIENT_SCRIPT | CLIENT_DENY_BLOCKING;
    ci->unlisted = 1;
    ci->local = 1;
    snprintf(ci->addr, sizeof ci->addr, "lua");
    snprintf(ci->laddr, sizeof ci->laddr, "lua");
    return c;
}

void client_free(client *c)
{
    struct client_internal *ci = c->in;
    if (c->fd >= 0) {
        if (server.el) ev_del(server.el, c->fd, EV_READABLE | EV_WRITABLE);
        close(c->fd);
        c->fd = -1;
    }
    pending_remove(c);
    paused_remove(c);
    unblocked_remove(c);
    blocking_client_free(c);
    for (size_t i = 0; i < nclosing; i++)
        if (closing[i] == c) closing[i] = NULL;
    for (size_t i = 0; i < nmonitors; i++)
        if (monitors[i] == c) {
            monitors[i] = monitors[--nmonitors];
            break;
        }
    multi_client_free(c);
    pubsub_client_free(c);
    tracking_client_free(c);
    if (server.current_client == c) server.current_client = NULL;
    if (!ci->unlisted) {
        strmap_del(clients_by_id, &c->id, sizeof(c->id), NULL);
        if (ci->prev) ci->prev->in->next = ci->next;
        else clients_head = ci->next;
        if (ci->next) ci->next->in->prev = ci->prev;
        nclients--;
    }
    reply_buf_free(&ci->rb);
    free(ci->flat);
    resp_parser_free(&ci->parser);
    free(ci->qb);
    free(ci->argvbuf);
    free(ci->lib_name);
    free(ci->lib_ver);
    free(c->name);
    free(ci);
    free(c);
}

void client_close_async(client *c)
{
    struct client_internal *ci = c->in;
    if (ci->closing) return;
    ci->closing = 1;
    blocking_client_free(c); /* a killed client takes nothing more: leaves every key's FIFO now */
    if (c->fd >= 0 && server.el) ev_del(server.el, c->fd, EV_READABLE);
    if (nclosing == closing_cap) {
        size_t nc = closing_cap ? closing_cap * 2 : 16;
        client **n = realloc(closing, nc * sizeof *n);
        if (!n) return; /* freed at its next event instead */
        closing = n;
        closing_cap = nc;
    }
    closing[nclosing++] = c;
}

void client_foreach(void (*fn)(client *c, void *ctx), void *ctx)
{
    client *c = clients_head;
    while (c) {
        client *next = c->in->next;
        fn(c, ctx);
        c = next;
    }
}

client *client_by_id(uint64_t id)
{
    void *v;
    return strmap_find(clients_by_id, &id, sizeof(id), &v) ? v : NULL;
}

size_t client_count(void) { return nclients; }
size_t client_paused_count(void)
{
    size_t n = 0;
    for (client *c = paused_head; c; c = c->in->pz_next) n++;
    return n;
}

void client_accept_handler(event_loop *el, int lfd, void *data, int mask)
{
    (void)el, (void)data, (void)mask;
    for (int i = 0; i < 1000; i++) {
        char ip[64];
        int port = 0;
        int fd = net_accept(lfd, ip, sizeof ip, &port);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
                log_msg(LL_WARNING, "Accepting client connection: %s", strerror(errno));
            return;
        }
        if (nclients >= (size_t)config.maxclients) {
            static const char msg[] = "-ERR max number of clients reached\r\n";
            ssize_t w = write(fd, msg, sizeof msg - 1);
            (void)w;
            server.stat.rejected_conn++;
            close(fd);
            continue;
        }
        if (net_protected_mode_refuses(config.protected_mode, config.requirepass && config.requirepass[0], ip)) {
            /* best effort, as Redis: the message, then the connection closes */
            ssize_t w = write(fd, NET_DENIED_MSG, sizeof NET_DENIED_MSG - 1);
            (void)w;
            server.stat.rejected_conn++;
            close(fd);
            continue;
        }
        client *c = client_create(fd);
        if (!c) {
            log_msg(LL_WARNING, "Error registering fd event for the new client: %s", strerror(errno));
            close(fd);
            continue;
        }
        server.stat.numconnections++;
        log_msg(LL_VERBOSE, "Accepted %s:%d", ip, port);
    }
}

/* ---------------------------------------------------------------- input */

static int client_ensure_qb(struct client_internal *ci, size_t readlen)
{
    if (ci->qbcap - ci->qblen >= readlen) return 0;
    if (ci->qbpos > 0) { /* drop consumed bytes (only the partial command remains) */
        memmove(ci->qb, ci->qb + ci->qbpos, ci->qblen - ci->qbpos);
        ci->qblen -= ci->qbpos;
        ci->qbpos = 0;
        if (ci->qbcap - ci->qblen >= readlen) return 0;
    }
    size_t need = ci->qblen + readlen + 1;
    size_t nc = ci->qbcap ? ci->qbcap : QB_READ_LEN;
    while (nc < need) nc *= 2;
    if (readlen > QB_READ_LEN) nc = need; /* a big bulk: exactly what it needs */
    char *nb = realloc(ci->qb, nc);
    if (!nb) return -1;
    ci->qb = nb;
    ci->qbcap = nc;
    return 0;
}

static void client_read_handler(event_loop *el, int fd, void *data, int mask)
{
    (void)el, (void)fd, (void)mask;
    client *c = data;
    struct client_internal *ci = c->in;
    if (ci->closing || ci->protected_ || (c->flags & CLIENT_PAUSED_WRITE)) return;
    size_t readlen = QB_READ_LEN;
    size_t have = ci->qblen - ci->qbpos;
    if (ci->parser.need > have && ci->parser.need - have > readlen) readlen = ci->parser.need - have;
    if (client_ensure_qb(ci, readlen) < 0) {
        log_msg(LL_WARNING, "Out of memory reading from client %s", ci->addr);
        client_free(c);
        return;
    }
    ssize_t n = read(c->fd, ci->qb + ci->qblen, readlen);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        log_msg(LL_VERBOSE, "Reading from client: %s", strerror(errno));
        client_free(c);
        return;
    }
    if (n == 0) {
        log_msg(LL_VERBOSE, "Client closed connection id=%llu addr=%s", (unsigned long long)c->id, ci->addr);
        client_free(c);
        return;
    }
    ci->qblen += (size_t)n;
    ci->last_ms = server_now_ms();
    server.stat.net_input_bytes += n;
    server.stat_total_reads++;
    /* as Redis's query buffer: the bytes not parsed yet (arguments of the current command
     * already parsed stay in place here, where Redis would have moved them to its argv) */
    size_t parsed = ci->parser.pos <= ci->qblen - ci->qbpos ? ci->parser.pos : 0;
    if (ci->qblen - ci->qbpos - parsed > (size_t)config.client_query_buffer_limit) {
        log_msg(LL_WARNING, "Closing client that reached max query buffer length: id=%llu addr=%s (qbuf initial bytes: \"%.32s\")",
                (unsigned long long)c->id, ci->addr, ci->qb + ci->qbpos);
        client_free(c);
        return;
    }
    client_process_input(c);
}

int client_obuf_class(const client *c) { return (c->flags & CLIENT_PUBSUB) ? 2 : 0; }

static void client_check_output_limit(client *c)
{
    struct client_internal *ci = c->in;
    long long hard = config.obuf_hard, soft = config.obuf_soft;
    int secs = config.obuf_soft_seconds;
    if (client_obuf_class(c) == 2) {
        hard = config.obuf_pubsub_hard;
        soft = config.obuf_pubsub_soft;
        secs = config.obuf_pubsub_soft_seconds;
    }
    if (hard == 0 && soft == 0) return;
    size_t used = reply_buf_pending(&ci->rb);
    int close_it = 0;
    if (hard && used > (size_t)hard) close_it = 1;
    if (soft && used > (size_t)soft) {
        uint64_t now = server_now_ms();
        if (!ci->obuf_soft_since) ci->obuf_soft_since = now;
        else if (now - ci->obuf_soft_since > (uint64_t)secs * 1000) close_it = 1;
    } else {
        ci->obuf_soft_since = 0;
    }
    if (close_it && !ci->closing) {
        char info[512];
        client_info_string(c, info, sizeof info);
        log_msg(LL_WARNING, "Client %s scheduled to be closed ASAP for overcoming of output buffer limits.", info);
        reply_buf_free(&ci->rb);
        client_close_async(c);
    }
}

/* Bookkeeping after c's current (parsed) command has run to its end. */
static void client_command_finished(client *c)
{
    struct client_internal *ci = c->in;
    if (ci->skip_cur) {
        ci->skip_cur = 0;
        c->flags &= ~CLIENT_REPLY_OFF;
    }
    if (ci->mark_iter == server.iteration) ci->cmds_since_mark++;
    client_check_output_limit(c); /* the class's limits (a subscriber's are pubsub's) */
    c->argc = 0;
    c->argv = NULL;
    ci->cmd_ready = 0;
    ci->qbpos += ci->parser.pos;
    resp_parser_reset(&ci->parser);
}

void client_process_input(client *c)
{
    struct client_internal *ci = c->in;
    while (ci->cmd_ready || ci->qbpos < ci->qblen) {
        if (ci->closing || (c->flags & (CLIENT_PAUSED_WRITE | CLIENT_CLOSE_AFTER_REPLY | CLIENT_BLOCKED | CLIENT_IO_WAIT)))
            break;
        if (!ci->cmd_ready) {
            ci->parser.unauthenticated = !c->authenticated && config.requirepass && config.requirepass[0];
            ci->parser.max_bulk_len = config.proto_max_bulk_len;
            int r = resp_parse(&ci->parser, ci->qb + ci->qbpos, ci->qblen - ci->qbpos);
            if (r == RESP_PARSE_INCOMPLETE) break;
            if (r == RESP_PARSE_ERROR) {
                log_msg(LL_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s", ci->parser.err,
                        (unsigned long long)c->id, ci->addr);
                c->flags &= ~CLIENT_REPLY_OFF;
                reply_errorf(c, "ERR %s", ci->parser.err);
                c->flags |= CLIENT_CLOSE_AFTER_REPLY;
                ci->qbpos = ci->qblen = 0;
                resp_parser_reset(&ci->parser);
                break;
            }
            if (ci->parser.argc == 0) {
                ci->qbpos += ci->parser.pos;
                resp_parser_reset(&ci->parser);
                continue;
            }
            ci->cmd_ready = 1;
        }
        int argc = ci->parser.argc;
        if (argc > ci->argvcap) {
            int nc = ci->argvcap ? ci->argvcap : 8;
            while (nc < argc) nc *= 2;
            cmdarg *na = realloc(ci->argvbuf, (size_t)nc * sizeof *na);
            if (!na) {
                client_close_async(c);
                break;
            }
            ci->argvbuf = na;
            ci->argvcap = nc;
        }
        char *base = ci->qb + ci->qbpos;
        for (int i = 0; i < argc; i++) {
            ci->argvbuf[i].ptr = base + ci->parser.argoff[i];
            ci->argvbuf[i].len = ci->parser.arglen[i];
        }
        c->argc = argc;
        c->argv = ci->argvbuf;
        if (ci->skip_next) {
            ci->skip_next = 0;
            ci->skip_cur = 1;
            c->flags |= CLIENT_REPLY_OFF;
        }
        int r = command_process(c);
        if (r == 1) break; /* paused: the command stays parsed */
        if (c->flags & CLIENT_BLOCKED) {
            /* the command stays parsed until it is served (client_unblocked); blocking.c
             * re-runs it from its own copy of the arguments, so argv (into a query buffer
             * that may move while more input arrives) is dropped */
            c->argc = 0;
            c->argv = NULL;
            break;
        }
        client_command_finished(c);
    }
    if (ci->qbpos == ci->qblen) ci->qbpos = ci->qblen = 0;
    if (c->fd >= 0 && reply_buf_pending(&ci->rb)) {
        client_check_output_limit(c);
        /* sent now when it may be (and all of it went), else in before-sleep */
        if (!(reply_may_go_now(c) && write_out(c, 0) == 0 && !reply_buf_pending(&ci->rb))) pending_add(c);
    } else if (c->fd >= 0 && (c->flags & CLIENT_CLOSE_AFTER_REPLY)) {
        client_close_async(c);
    }
}

void client_unblocked(client *c)
{
    struct client_internal *ci = c->in;
    if (ci->cmd_ready) {
        client_command_finished(c);
    } else {
        /* a client without a query buffer (tests): only the reply bookkeeping */
        if (ci->mark_iter == server.iteration) ci->cmds_since_mark++;
        if (config.obuf_hard || config.obuf_soft) client_check_output_limit(c);
    }
    if (c->fd < 0 || ci->closing) return;
    if (reply_buf_pending(&ci->rb)) pending_add(c);
    unblocked_add(c);
}

#define UNBLOCKED_MAX_US 2000 /* client_process_unblocked returns after this long */

int client_process_unblocked(long long budget_us)
{
    if (!unblocked_head) return 0;
    uint64_t start = server_ustime();
    uint64_t next_poll = budget_us > 0 ? start + (uint64_t)budget_us : 0;
    while (unblocked_head) {
        client *c = unblocked_head;
        unblocked_remove(c);
        if (c->in->closing) continue;
        client_process_input(c);
        if (!unblocked_head || !next_poll) continue;
        uint64_t now = server_ustime();
        if (now < next_poll || (server.engine && lsm_commit_pending(server.engine))) continue;
        if (now - start >= UNBLOCKED_MAX_US) return 1;
        /* every budget_us while only reads ran: the sockets' new input is served in between
         * (requests answered from memory leave at once; disk-bound ones park, their reads start) */
        if (server.el) ev_process_file_events_nested(server.el);
        if (server.engine) lsm_prefetch_flush(server.engine);
        next_poll = server_ustime() + (uint64_t)budget_us;
    }
    return 0;
}

void client_schedule_input(client *c)
{
    if (c->fd < 0 || c->in->closing) return;
    unblocked_add(c);
}

const char *client_pending_input(client *c, size_t *len)
{
    struct client_internal *ci = c->in;
    size_t start = ci->qbpos + (ci->cmd_ready ? ci->parser.pos : 0);
    if (start >= ci->qblen) {
        *len = 0;
        return NULL;
    }
    *len = ci->qblen - start;
    return ci->qb + start;
}

void client_pause_write(client *c)
{
    c->flags |= CLIENT_PAUSED_WRITE;
    if (c->fd >= 0 && server.el) ev_del(server.el, c->fd, EV_READABLE);
    paused_add(c);
    server.stat_paused_writes++;
}

void client_resume_paused(void)
{
    while (paused_head) {
        client *c = paused_head;
        paused_remove(c);
        c->flags &= ~CLIENT_PAUSED_WRITE;
        if (c->in->closing) continue;
        if (c->fd >= 0 && server.el) ev_add(server.el, c->fd, EV_READABLE, client_read_handler, c);
        client_process_input(c);
        if (c->flags & CLIENT_PAUSED_WRITE) break; /* stalled again: the rest stay paused */
    }
}

void client_note_write(client *c)
{
    struct client_internal *ci = c->in;
    if (ci->mark_iter == server.iteration) return;
    ci->mark_iter = server.iteration;
    reply_buf_mark(&ci->rb, &ci->mark);
    ci->cmds_since_mark = 0;
}

/* ---------------------------------------------------------------- output */

static void client_writable_handler(event_loop *el, int fd, void *data, int mask)
{
    (void)el, (void)fd, (void)mask;
    /* writes happen in before-sleep, after the commit of this iteration */
    pending_add((client *)data);
}

/* Writes what it can; returns 0, or -1 when the client was freed. */
static int client_write(client *c) { return write_out(c, 1); }

/* 1 when c's replies may go out now, before this iteration's commit: nothing they could show
 * is waiting for the commit (no write since the last one, in the engine or by c; no failure to
 * report) and nothing else holds them. Replies to reads then leave as soon as their command has
 * run, not after every other client's work of the iteration (lsm_commit_pending). */
static int reply_may_go_now(const client *c)
{
    const struct client_internal *ci = c->in;
    if (ci->closing || ci->held || ci->protected_ || ci->mark_iter == server.iteration || server.epoch_commit_error ||
        (c->flags & CLIENT_CLOSE_AFTER_REPLY))
        return 0;
    return !server.engine || !lsm_commit_pending(server.engine);
}

/* Writes what it can; returns 0, or -1 when the client is gone: freed (may_free), else closed
 * asynchronously (the caller may still touch it). */
static int write_out(client *c, int may_free)
{
    struct client_internal *ci = c->in;
    size_t total = 0;
    while (reply_buf_pending(&ci->rb) && total < MAX_WRITE_PER_ITER) {
        struct iovec iov[MAX_IOV];
        int n = reply_buf_iov(&ci->rb, iov, MAX_IOV);
        size_t want = 0;
        for (int i = 0; i < n; i++) want += iov[i].iov_len;
        ssize_t w = n == 1 ? write(c->fd, iov[0].iov_base, iov[0].iov_len) : writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
            log_msg(LL_VERBOSE, "Error writing to client: %s", strerror(errno));
            if (may_free) client_free(c);
            else client_close_async(c);
            return -1;
        }
        reply_buf_consume(&ci->rb, (size_t)w);
        total += (size_t)w;
        server.stat.net_output_bytes += w;
        server.stat_total_writes++;
        if ((size_t)w < want) break;
    }
    if (total) ci->last_ms = server_now_ms();
    if (reply_buf_pending(&ci->rb)) {
        if (!ci->wr_handler && ev_add(server.el, c->fd, EV_WRITABLE, client_writable_handler, c) == 0)
            ci->wr_handler = 1;
        client_check_output_limit(c);
    } else {
        if (ci->wr_handler) {
            ev_del(server.el, c->fd, EV_WRITABLE);
            ci->wr_handler = 0;
        }
        if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
            if (may_free) client_free(c);
            else client_close_async(c);
            return -1;
        }
    }
    return 0;
}

void client_flush_all(int commit_ok, const char *err)
{
    while (pending_head) {
        client *c = pending_head;
        struct client_internal *ci = c->in;
        pending_remove(c);
        if (ci->closing) continue;
        if (!commit_ok && ci->mark_iter == server.iteration) {
            /* the writes of this iteration are not durable: never acknowledge them */
            reply_buf_truncate(&ci->rb, &ci->mark);
            uint32_t saved = c->flags;
            c->flags &= ~CLIENT_REPLY_OFF;
            for (long i = 0; i < ci->cmds_since_mark; i++) reply_errorf(c, "%s", err);
            c->flags = saved;
        }
        client_write(c);
    }
    for (size_t i = 0; i < nclosing; i++)
        if (closing[i]) {
            client *c = closing[i];
            closing[i] = NULL;
            client_free(c);
        }
    nclosing = 0;
}

void client_cron(void)
{
    uint64_t now = server_now_ms();
    client *c = clients_head;
    while (c) {
        client *next = c->in->next;
        struct client_internal *ci = c->in;
        if (config.timeout > 0 && c->fd >= 0 && !(c->flags & (CLIENT_PAUSED_WRITE | CLIENT_BLOCKED)) && !ci->closing &&
            now - ci->last_ms > (uint64_t)config.timeout * 1000) {
            log_msg(LL_VERBOSE, "Closing idle client");
            client_free(c);
        } else {
            if (ci->qblen == 0 && ci->qbcap > 4 * QB_READ_LEN) {
                free(ci->qb);
                ci->qb = NULL;
                ci->qbcap = 0;
            }
            /* argument arrays grown by a command with many arguments: back to nothing */
            if (!ci->cmd_ready && ci->parser.reqtype == RESP_REQ_NONE && ci->parser.argcap > 1024)
                resp_parser_free(&ci->parser);
            if (!ci->cmd_ready && ci->argvcap > 1024) {
                free(ci->argvbuf);
                ci->argvbuf = NULL;
                ci->argvcap = 0;
            }
            if (reply_buf_pending(&ci->rb)) client_check_output_limit(c);
        }
        c = next;
    }
}

/* ---------------------------------------------------------------- busy scripts */

const char *client_reply_contents(client *c, size_t *len)
{
    struct client_internal *ci = c->in;
    reply_buf *rb = &ci->rb;
    if (!rb->head) {
        *len = rb->bufpos - rb->sent;
        return rb->buf + rb->sent;
    }
    size_t n = reply_buf_pending(rb);
    if (ci->flatcap < n + 1) {
        char *nb = realloc(ci->flat, n + 1);
        if (!nb) {
            *len = 0;
            return "";
        }
        ci->flat = nb;
        ci->flatcap = n + 1;
    }
    *len = reply_buf_copy(rb, ci->flat, n);
    return ci->flat;
}

void client_protect(client *c)
{
    struct client_internal *ci = c->in;
    if (ci->protected_) return;
    ci->protected_ = 1;
    if (c->fd >= 0 && server.el) ev_del(server.el, c->fd, EV_READABLE);
}

void client_unprotect(client *c)
{
    struct client_internal *ci = c->in;
    if (!ci->protected_) return;
    ci->protected_ = 0;
    if (c->fd >= 0 && server.el && !ci->closing && !(c->flags & CLIENT_PAUSED_WRITE))
        ev_add(server.el, c->fd, EV_READABLE, client_read_handler, c);
}

void client_hold_pending(void)
{
    /* only replies to writes of the current commit epoch wait: read replies go out (Redis
     * writes every reply from a busy script's event processing) */
    for (client *c = pending_head; c; c = c->in->pw_next)
        if (c->in->mark_iter == server.iteration) c->in->held = 1;
}

void client_release_held(void)
{
    for (client *c = clients_head; c; c = c->in->next) c->in->held = 0;
}

void client_flush_unheld(void)
{
    client *c = pending_head;
    while (c) {
        client *next = c->in->pw_next;
        struct client_internal *ci = c->in;
        if (!ci->held && !ci->protected_) {
            pending_remove(c);
            if (!ci->closing && client_write(c) < 0) {
                /* freed: the list may have changed under us, start over */
                c = pending_head;
                continue;
            }
        }
        c = next;
    }
    for (size_t i = 0; i < nclosing; i++)
        if (closing[i] && !closing[i]->in->protected_ && !closing[i]->in->held) {
            client *d = closing[i];
            closing[i] = NULL;
            client_free(d);
        }
}

/* ---------------------------------------------------------------- monitor */

void client_monitor_add(client *c)
{
    if (c->flags & CLIENT_MONITOR) return;
    if (nmonitors == monitors_cap) {
        size_t nc = monitors_cap ? monitors_cap * 2 : 4;
        client **n = realloc(monitors, nc * sizeof *n);
        if (!n) return;
        monitors = n;
        monitors_cap = nc;
    }
    monitors[nmonitors++] = c;
    c->flags |= CLIENT_MONITOR;
}

int client_monitors_active(void) { return nmonitors > 0; }

void client_monitor_feed(client *c)
{
    char line[4096];
    uint64_t us = server.cmd_time_us ? server.cmd_time_us : server_ustime();
    size_t off = (size_t)snprintf(line, sizeof line, "+%llu.%06llu [%d %s]", (unsigned long long)(us / 1000000),
                                  (unsigned long long)(us % 1000000), c->db, c->in->addr);
    for (int i = 0; i < c->argc && off + 8 < sizeof line; i++) {
        line[off++] = ' ';
        line[off++] = '"';
        for (size_t j = 0; j < c->argv[i].len && off + 8 < sizeof line; j++) {
            unsigned char ch = (unsigned char)c->argv[i].ptr[j];
            if (ch == '"' || ch == '\\') {
                line[off++] = '\\';
                line[off++] = (char)ch;
            } else if (ch == '\n') {
                line[off++] = '\\', line[off++] = 'n';
            } else if (ch == '\r') {
                line[off++] = '\\', line[off++] = 'r';
            } else if (ch < 32 || ch > 126) {
                off += (size_t)snprintf(line + off, sizeof line - off, "\\x%02x", ch);
            } else {
                line[off++] = (char)ch;
            }
        }
        line[off++] = '"';
    }
    line[off++] = '\r';
    line[off++] = '\n';
    for (size_t i = 0; i < nmonitors; i++) {
        client *m = monitors[i];
        if (m == c || m->in->closing) continue;
        if (reply_buf_append(&m->in->rb, line, off) == 0) pending_add(m);
        client_check_output_limit(m);
    }
}

/* ---------------------------------------------------------------- info */

const char *client_peer_addr(client *c) { return c->in->addr; }
int client_is_local(client *c) { return c->in->local; }
void client_skip_next_reply(client *c) { c->in->skip_next = 1; }
void client_set_lastcmd(client *c, const char *fullname) { c->in->lastcmd = fullname; }

void client_set_lib(client *c, int ver, const char *v, size_t len)
{
    char **slot = ver ? &c->in->lib_ver : &c->in->lib_name;
    free(*slot);
    *slot = len ? strndup(v, len) : NULL;
}

size_t client_reply_pending(client *c) { return reply_buf_pending(&c->in->rb); }
size_t client_reply_copy(client *c, char *dst, size_t cap) { return reply_buf_copy(&c->in->rb, dst, cap); }
void client_reply_reset(client *c)
{
    reply_buf_free(&c->in->rb);
    if (c->in->flatcap > 64 * 1024) { /* a big reply read by a script: not kept */
        free(c->in->flat);
        c->in->flat = NULL;
        c->in->flatcap = 0;
    }
}
void client_reply_mark(client *c, reply_mark *m) { reply_buf_mark(&c->in->rb, m); }
void client_reply_truncate(client *c, const reply_mark *m) { reply_buf_truncate(&c->in->rb, m); }

size_t client_max_output(void)
{
    size_t m = 0;
    for (client *c = clients_head; c; c = c->in->next) {
        size_t v = reply_buf_pending(&c->in->rb);
        if (v > m) m = v;
    }
    return m;
}

size_t client_max_input(void)
{
    size_t m = 0;
    for (client *c = clients_head; c; c = c->in->next)
        if (c->in->qbcap > m) m = c->in->qbcap;
    return m;
}

void client_info_string(client *c, char *buf, size_t cap)
{
    struct client_internal *ci = c->in;
    uint64_t now = server_now_ms();
    char flags[24];
    int f = 0;
    /* Redis's order */
    if (c->flags & CLIENT_MONITOR) flags[f++] = 'O';
    if (c->flags & CLIENT_PUBSUB) flags[f++] = 'P';
    if (c->flags & CLIENT_MULTI) flags[f++] = 'x';
    if (c->flags & (CLIENT_PAUSED_WRITE | CLIENT_BLOCKED)) flags[f++] = 'b';
    if (c->flags & CLIENT_TRACKING) flags[f++] = 't';
    if (c->flags & CLIENT_TRACKING_BROKEN_REDIR) flags[f++] = 'R';
    if (c->flags & CLIENT_TRACKING_BCAST) flags[f++] = 'B';
    if (c->flags & CLIENT_DIRTY_CAS) flags[f++] = 'd';
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) flags[f++] = 'c';
    if (c->flags & CLIENT_NO_EVICT) flags[f++] = 'e';
    if (f == 0) flags[f++] = 'N';
    flags[f] = 0;
    int mask = (c->fd >= 0 && server.el) ? ev_get_mask(server.el, c->fd) : 0;
    char events[3];
    int e = 0;
    if (mask & EV_READABLE) events[e++] = 'r';
    if (mask & EV_WRITABLE) events[e++] = 'w';
    events[e] = 0;
    size_t obl = ci->rb.bufpos, omem = ci->rb.chunk_bytes;
    long oll = 0;
    for (reply_chunk *ch = ci->rb.head; ch; ch = ch->next) oll++;
    snprintf(buf, cap,
             "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu flags=%s db=%d sub=%d psub=%d "
             "ssub=%d multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 rbs=%d rbp=%zu obl=%zu "
             "oll=%ld omem=%zu tot-mem=%zu events=%s cmd=%s user=default redir=%lld resp=%d lib-name=%s "
             "lib-ver=%s",
             (unsigned long long)c->id, ci->addr, ci->laddr, c->fd, c->name ? c->name : "",
             (unsigned long long)((now - ci->ctime_ms) / 1000),
             (unsigned long long)((now - ci->last_ms) / 1000), flags, c->db,
             pubsub_client_count(c, 0), pubsub_client_count(c, 1), pubsub_client_count(c, 2),
             (c->flags & CLIENT_MULTI) ? 0 : -1,
             /* a blocked client's command was consumed from Redis's query buffer */
             ci->qblen - ci->qbpos - ((c->flags & CLIENT_BLOCKED) && ci->cmd_ready ? ci->parser.pos : 0),
             ci->qbcap - ci->qblen,
             REPLY_FIXED_SIZE, obl, obl, oll, omem,
             sizeof *c + sizeof *ci + ci->qbcap + omem, events, ci->lastcmd ? ci->lastcmd : "NULL",
             (c->flags & CLIENT_TRACKING) ? (long long)tracking_redirect_id(c) : -1LL, c->resp, ci->lib_name ? ci->lib_name : "", ci->lib_ver ? ci->lib_ver : "");
}

/* ---------------------------------------------------------------- replies */

static inline void reply_add(client *c, const void *p, size_t len)
{
    if ((c->flags & (CLIENT_REPLY_OFF | CLIENT_PUSHING)) == CLIENT_REPLY_OFF) return;
    if (reply_buf_append(&c->in->rb, p, len) < 0) {
        log_msg(LL_WARNING, "Out of memory appending a reply: closing client %s", c->in->addr);
        client_close_async(c);
    }
}

static inline void reply_header(client *c, char type, long long n)
{
    char hdr[32];
    size_t l = resp_fmt_header(hdr, type, n);
    reply_add(c, hdr, l);
}

void reply_simple(client *c, const char *s)
{
    size_t n = strlen(s);
    if (n + 3 <= 256) {
        char buf[256];
        buf[0] = '+';
        memcpy(buf + 1, s, n);
        buf[n + 1] = '\r';
        buf[n + 2] = '\n';
        reply_add(c, buf, n + 3);
        return;
    }
    reply_add(c, "+", 1);
    reply_add(c, s, n);
    reply_add(c, "\r\n", 2);
}

void reply_ok(client *c) { reply_add(c, "+OK\r\n", 5); }

static void reply_error_common(client *c, const char *msg, int stats)
{
    if (msg[0] == '-') msg++;
    if (stats) {
        server.stat.total_error_replies++;
        info_count_error(msg);
    }
    /* an error is one line: newlines would break the protocol */
    size_t n = strlen(msg);
    char buf[512];
    if (n + 3 <= sizeof buf) {
        buf[0] = '-';
        for (size_t i = 0; i < n; i++) buf[i + 1] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
        buf[n + 1] = '\r';
        buf[n + 2] = '\n';
        reply_add(c, buf, n + 3);
        return;
    }
    reply_add(c, "-", 1);
    for (size_t i = 0; i < n; i++) {
        char ch = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
        reply_add(c, &ch, 1);
    }
    reply_add(c, "\r\n", 2);
}

void reply_error(client *c, const char *msg) { reply_error_common(c, msg, 1); }
void reply_error_nostats(client *c, const char *msg)
{
    reply_error_common(c, msg, 0);
    if (c->cmd) command_note_failed(c->cmd); /* Redis: the command still failed */
}

void reply_errorf(client *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    reply_error(c, buf);
}

void reply_wrong_arity(client *c, const char *cmdname)
{
    reply_errorf(c, "ERR wrong number of arguments for '%s' command", cmdname);
}

void reply_int(client *c, long long v)
{
    if (v == 0) reply_add(c, ":0\r\n", 4);
    else if (v == 1) reply_add(c, ":1\r\n", 4);
    else reply_header(c, ':', v);
}

void reply_bulk(client *c, const void *p, size_t len)
{
    if (len <= 512 && !(c->flags & CLIENT_REPLY_OFF)) {
        /* straight into the output when it has room: "$<len>\r\n<bytes>\r\n" */
        char hdr[8];
        size_t hl = resp_fmt_header(hdr, '$', (long long)len);
        char *dst = reply_buf_claim(&c->in->rb, hl + len + 2);
        if (dst) {
            memcpy(dst, hdr, hl);
            if (len) memcpy(dst + hl, p, len); /* an empty value may come as NULL */
            dst[hl + len] = '\r';
            dst[hl + len + 1] = '\n';
            return;
        }
    }
    if (len <= 512) {
        char buf[600];
        size_t l = resp_fmt_header(buf, '$', (long long)len);
        if (len) memcpy(buf + l, p, len);
        l += len;
        buf[l++] = '\r';
        buf[l++] = '\n';
        reply_add(c, buf, l);
        return;
    }
    reply_header(c, '$', (long long)len);
    reply_add(c, p, len);
    reply_add(c, "\r\n", 2);
}

void reply_bulk_cstr(client *c, const char *s)
{
    if (!s) reply_null(c);
    else reply_bulk(c, s, strlen(s));
}

void reply_bulk_ll(client *c, long long v)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    reply_bulk(c, buf, (size_t)n);
}

void reply_null(client *c)
{
    if (c->resp >= 3) reply_add(c, "_\r\n", 3);
    else reply_add(c, "$-1\r\n", 5);
}

void reply_null_array(client *c)
{
    if (c->resp >= 3) reply_add(c, "_\r\n", 3);
    else reply_add(c, "*-1\r\n", 5);
}

void reply_array(client *c, long n) { reply_header(c, '*', n); }
void reply_map(client *c, long n)
{
    if (c->resp >= 3) reply_header(c, '%', n);
    else reply_header(c, '*', 2 * n);
}
void reply_set(client *c, long n) { reply_header(c, c->resp >= 3 ? '~' : '*', n); }

void reply_double(client *c, double d)
{
    char buf[64];
    size_t n = resp_fmt_double(buf + 1, d);
    if (c->resp >= 3) {
        buf[0] = ',';
        buf[n + 1] = '\r';
        buf[n + 2] = '\n';
        reply_add(c, buf, n + 3);
    } else {
        reply_bulk(c, buf + 1, n);
    }
}

void reply_bool(client *c, int b)
{
    if (c->resp >= 3) reply_add(c, b ? "#t\r\n" : "#f\r\n", 4);
    else reply_add(c, b ? ":1\r\n" : ":0\r\n", 4);
}

void reply_verbatim(client *c, const char *p, size_t len, const char *ext3)
{
    if (c->resp < 3) {
        reply_bulk(c, p, len);
        return;
    }
    reply_header(c, '=', (long long)len + 4);
    char ext[4] = {'t', 'x', 't', ':'};
    if (ext3 && strlen(ext3) == 3) memcpy(ext, ext3, 3);
    reply_add(c, ext, 4);
    reply_add(c, p, len);
    reply_add(c, "\r\n", 2);
}

void reply_push(client *c, long n) { reply_header(c, c->resp >= 3 ? '>' : '*', n); }
void reply_proto(client *c, const void *p, size_t len) { reply_add(c, p, len); }

int client_push_begin(client *c)
{
    if (c->in->closing || (c->flags & CLIENT_CLOSE_AFTER_REPLY)) return 0;
    c->flags |= CLIENT_PUSHING;
    return 1;
}

void client_push_end(client *c)
{
    c->flags &= ~CLIENT_PUSHING;
    if (c == server.current_client) return; /* its command's replies follow: checked after it */
    if (reply_buf_pending(&c->in->rb)) pending_add(c);
    client_check_output_limit(c);
}

void reply_bignum(client *c, const char *p, size_t len)
{
    if (c->resp < 3) {
        reply_bulk(c, p, len);
        return;
    }
    reply_add(c, "(", 1);
    reply_add(c, p, len);
    reply_add(c, "\r\n", 2);
}

void *reply_defer_len(client *c)
{
    if ((c->flags & (CLIENT_REPLY_OFF | CLIENT_PUSHING)) == CLIENT_REPLY_OFF) return NULL;
    return reply_buf_defer(&c->in->rb);
}

static void set_deferred(client *c, void *h, char type, long long n)
{
    if (!h) return;
    char hdr[32];
    size_t l = resp_fmt_header(hdr, type, n);
    reply_buf_set_deferred(&c->in->rb, h, hdr, l);
}

void reply_set_deferred_array(client *c, void *handle, long n) { set_deferred(c, handle, '*', n); }
void reply_set_deferred_map(client *c, void *handle, long n)
{
    if (c->resp >= 3) set_deferred(c, handle, '%', n);
    else set_deferred(c, handle, '*', 2LL * n);
}
void reply_set_deferred_set(client *c, void *handle, long n)
{
    set_deferred(c, handle, c->resp >= 3 ? '~' : '*', n);
}

void keyspace_reply_engine_error(client *c, int err) {
    /* corruption / I/O: the engine's detail names the file and offset (a damaged table block) */
    const char *d = (err == LSM_ECORRUPT || err == LSM_EIO) && server.engine
                        ? lsm_last_error(server.engine) : "";
    if (d && *d) reply_errorf(c, "ERR storage engine error: %s: %s", lsm_strerror(err), d);
    else reply_errorf(c, "ERR storage engine error: %s", lsm_strerror(err));
}
