/* cmd_multi.c - MULTI/EXEC/DISCARD/WATCH/UNWATCH with Redis 7 semantics.
 * Queue: each queued command keeps a private copy of its arguments. Watches: each client with
 * watched keys is in ms_watchers; multi_touch_key scans those clients' keys (O(1) when nobody
 * watches). EXEC swaps the queued argv into c->argv for each command_call and restores it. */
#include "multi.h"

#include "client.h"
#include "command.h"
#include "keyspace.h"
#include "log.h"
#include "server.h"

#include <stdlib.h>
#include <string.h>

typedef struct queued_cmd {
    const struct command *cmd;
    int argc;
    cmdarg *argv;
} queued_cmd;

struct multi_state {
    queued_cmd *cmds;
    int n, cap;
};

typedef struct watched_key {
    int db;
    char *key;
    size_t len;
    uint64_t expire; /* the key's expire-at when WATCHed (0: none or absent) */
} watched_key;

struct watch_state {
    watched_key *keys;
    int n, cap;
};

static client **ms_watchers;
static int ms_nwatchers, ms_capwatchers;

static void free_argv(int argc, cmdarg *argv) {
    for (int i = 0; i < argc; i++) free(argv[i].ptr);
    free(argv);
}

static void multi_discard_queue(client *c) {
    struct multi_state *m = c->mstate;
    if (m) {
        for (int i = 0; i < m->n; i++) free_argv(m->cmds[i].argc, m->cmds[i].argv);
        free(m->cmds);
        free(m);
        c->mstate = NULL;
    }
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC | CLIENT_DIRTY_CAS);
}

static void unwatch_all(client *c) {
    struct watch_state *w = c->watched;
    if (w) {
        for (int i = 0; i < w->n; i++) free(w->keys[i].key);
        free(w->keys);
        free(w);
        c->watched = NULL;
        for (int i = 0; i < ms_nwatchers; i++) {
            if (ms_watchers[i] == c) {
                ms_watchers[i] = ms_watchers[--ms_nwatchers];
                break;
            }
        }
    }
    c->flags &= ~CLIENT_DIRTY_CAS;
}

void multi_client_free(client *c) {
    multi_discard_queue(c);
    unwatch_all(c);
}

void multi_flag_error(client *c) {
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
}

int multi_queued_count(const client *c) { return c->mstate ? c->mstate->n : 0; }

const struct command *multi_queued(const client *c, int i, const cmdarg **argv, int *argc) {
    if (!c->mstate || i < 0 || i >= c->mstate->n) return NULL;
    *argv = c->mstate->cmds[i].argv;
    *argc = c->mstate->cmds[i].argc;
    return c->mstate->cmds[i].cmd;
}

void multi_queue_command(client *c) {
    struct multi_state *m = c->mstate;
    if (!m) {
        m = calloc(1, sizeof(*m));
        if (!m) goto oom;
        c->mstate = m;
    }
    if (m->n == m->cap) {
        int nc = m->cap ? m->cap * 2 : 8;
        queued_cmd *q = realloc(m->cmds, sizeof(*q) * (size_t)nc);
        if (!q) goto oom;
        m->cmds = q;
        m->cap = nc;
    }
    cmdarg *argv = calloc((size_t)c->argc, sizeof(cmdarg));
    if (!argv) goto oom;
    for (int i = 0; i < c->argc; i++) {
        argv[i].ptr = malloc(c->argv[i].len + 1);
        if (!argv[i].ptr) {
            free_argv(i, argv);
            goto oom;
        }
        memcpy(argv[i].ptr, c->argv[i].ptr, c->argv[i].len);
        argv[i].ptr[c->argv[i].len] = '\0';
        argv[i].len = c->argv[i].len;
    }
    const struct command *cmd = command_lookup(c->argv[0].ptr, c->argv[0].len);
    if (!cmd) cmd = c->cmd;
    m->cmds[m->n].cmd = cmd;
    m->cmds[m->n].argc = c->argc;
    m->cmds[m->n].argv = argv;
    m->n++;
    reply_simple(c, "QUEUED");
    return;
oom:
    multi_flag_error(c);
    reply_error(c, "ERR out of memory while queueing the command");
}

/* ---- WATCH bookkeeping ---- */

static void touch_client_key(client *c, int db, const char *key, size_t len) {
    struct watch_state *w = c->watched;
    for (int i = 0; i < w->n; i++) {
        watched_key *k = &w->keys[i];
        if (k->db == db && k->len == len && memcmp(k->key, key, len) == 0) {
            c->flags |= CLIENT_DIRTY_CAS;
            return;
        }
    }
}

void multi_touch_key(int db, const char *key, size_t len) {
    for (int i = 0; i < ms_nwatchers; i++) {
        client *c = ms_watchers[i];
        if (!(c->flags & CLIENT_DIRTY_CAS)) touch_client_key(c, db, key, len);
    }
}

void multi_touch_db(int db) {
    if (ms_nwatchers == 0) return;
    for (int i = 0; i < ms_nwatchers; i++) {
        client *c = ms_watchers[i];
        struct watch_state *w = c->watched;
        for (int j = 0; j < w->n && !(c->flags & CLIENT_DIRTY_CAS); j++) {
            watched_key *k = &w->keys[j];
            if (k->db != db) continue;
            ks_value v;
            int r = keyspace_lookup(db, k->key, k->len, keyspace_buf(3), &v,
                                    KS_LOOKUP_NOEXPIRE);
            if (r != 0) c->flags |= CLIENT_DIRTY_CAS;
        }
    }
}

static int watch_key(client *c, const cmdarg *a) {
    struct watch_state *w = c->watched;
    if (!w) {
        w = calloc(1, sizeof(*w));
        if (!w) return -1;
        if (ms_nwatchers == ms_capwatchers) {
            int nc = ms_capwatchers ? ms_capwatchers * 2 : 16;
            client **nw = realloc(ms_watchers, sizeof(*nw) * (size_t)nc);
            if (!nw) {
                free(w);
                return -1;
            }
            ms_watchers = nw;
            ms_capwatchers = nc;
        }
        ms_watchers[ms_nwatchers++] = c;
        c->watched = w;
    }
    for (int i = 0; i < w->n; i++)
        if (w->keys[i].db == c->db && w->keys[i].len == a->len &&
            memcmp(w->keys[i].key, a->ptr, a->len) == 0)
            return 0;
    if (w->n == w->cap) {
        int nc = w->cap ? w->cap * 2 : 4;
        watched_key *nk = realloc(w->keys, sizeof(*nk) * (size_t)nc);
        if (!nk) return -1;
        w->keys = nk;
        w->cap = nc;
    }
    /* A stale (already expired) key is deleted by this lookup before the watch starts, so its
     * deletion does not count as a change (as Redis 7). */
    ks_value v;
    int r = keyspace_lookup(c->db, a->ptr, a->len, keyspace_buf(3), &v, 0);
    watched_key *k = &w->keys[w->n];
    k->key = malloc(a->len ? a->len : 1);
    if (!k->key) return -1;
    memcpy(k->key, a->ptr, a->len);
    k->len = a->len;
    k->db = c->db;
    k->expire = r == 1 ? v.expire : 0;
    w->n++;
    return 0;
}

/* A watched key that was live at WATCH time and has expired since counts as modified. */
static int watched_key_expired(client *c) {
    struct watch_state *w = c->watched;
    if (!w) return 0;
    uint64_t now = server_now_ms();
    for (int i = 0; i < w->n; i++)
        if (w->keys[i].expire && w->keys[i].expire <= now) return 1;
    return 0;
}

/* ---- commands ---- */

static void cmd_multi(client *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->flags |= CLIENT_MULTI;
    c->flags &= ~CLIENT_DIRTY_EXEC;
    reply_ok(c);
}

static void cmd_discard(client *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    multi_discard_queue(c);
    unwatch_all(c);
    reply_ok(c);
}

static void cmd_exec(client *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    if (c->flags & CLIENT_DIRTY_EXEC) {
        reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        multi_discard_queue(c);
        unwatch_all(c);
        return;
    }
    if ((c->flags & CLIENT_DIRTY_CAS) || watched_key_expired(c)) {
        multi_discard_queue(c);
        unwatch_all(c);
        reply_null_array(c);
        return;
    }
    unwatch_all(c);
    struct multi_state *m = c->mstate;
    c->mstate = NULL;
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC | CLIENT_DIRTY_CAS);
    int n = m ? m->n : 0;
    reply_mark exec_start;
    client_reply_mark(c, &exec_start);
    reply_array(c, n);
    int saved_argc = c->argc;
    cmdarg *saved_argv = c->argv;
    const struct command *saved_cmd = c->cmd;
    c->flags |= CLIENT_EXECUTING;
    keyspace_defer_begin(); /* the transaction's writes become one engine batch */
    for (int i = 0; i < n; i++) {
        queued_cmd *q = &m->cmds[i];
        c->argc = q->argc;
        c->argv = q->argv;
        const struct command *cmd = q->cmd;
        if (cmd && !cmd->proc && cmd->subcommands) {
            const struct command *sub =
                q->argc > 1 ? command_lookup_sub(cmd, q->argv[1].ptr, q->argv[1].len) : NULL;
            if (!sub) {
                reply_errorf(c, "ERR unknown subcommand '%.128s'.",
                             q->argc > 1 ? q->argv[1].ptr : "");
                continue;
            }
            cmd = sub;
        }
        if (!cmd || !cmd->proc) {
            reply_errorf(c, "ERR unknown command '%.128s'", q->argv[0].ptr);
            continue;
        }
        c->cmd = cmd;
        command_call(c, cmd);
    }
    int wr = keyspace_defer_end();
    if (wr) {
        /* The transaction is one engine batch and it was not written: none of it happened, so
         * none of its replies may go out. */
        const char *why = "";
        if (!server.engine || !lsm_write_error(server.engine, &why) || !*why) why = lsm_strerror(wr);
        log_msg(LL_WARNING, "EXEC: writing the transaction failed: %s", why);
        client_reply_truncate(c, &exec_start);
        reply_errorf(c, "MISCONF Errors writing to the write-ahead log (%.200s): the transaction was not applied", why);
    }
    c->flags &= ~CLIENT_EXECUTING;
    c->argc = saved_argc;
    c->argv = saved_argv;
    c->cmd = saved_cmd;
    if (m) {
        for (int i = 0; i < m->n; i++) free_argv(m->cmds[i].argc, m->cmds[i].argv);
        free(m->cmds);
        free(m);
    }
}

static void cmd_watch(client *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int j = 1; j < c->argc; j++) {
        if (watch_key(c, &c->argv[j])) {
            reply_error(c, "ERR out of memory");
            return;
        }
    }
    reply_ok(c);
}

static void cmd_unwatch(client *c) {
    if (c->flags & CLIENT_MULTI) {
        /* Redis queues UNWATCH inside MULTI (a no-op at EXEC time, which unwatches anyway) */
        multi_queue_command(c);
        return;
    }
    unwatch_all(c);
    reply_ok(c);
}

#define CTL (CMD_MULTI_CTL | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_ALLOW_BUSY)

const struct command multi_commands[] = {
    {"multi", cmd_multi, 1, CTL | CMD_FAST, 0, 0, 0, "transactions",
     "Starts a transaction.", "1.2.0", "", NULL},
    /* EXEC is refused while a script is busy, as Redis (no allow_busy) */
    {"exec", cmd_exec, 1, (CTL & ~CMD_ALLOW_BUSY) | CMD_SKIP_SLOWLOG, 0, 0, 0, "transactions",
     "Executes all commands in a transaction.", "1.2.0", "", NULL},
    {"discard", cmd_discard, 1, CTL | CMD_FAST, 0, 0, 0, "transactions",
     "Discards a transaction.", "2.0.0", "", NULL},
    {"watch", cmd_watch, -2, CTL | CMD_FAST, 1, -1, 1, "transactions",
     "Monitors changes to keys to determine the execution of a transaction.", "2.2.0",
     "key [key ...]", NULL},
    {"unwatch", cmd_unwatch, 1, CTL | CMD_FAST, 0, 0, 0, "transactions",
     "Forgets about watched keys of a transaction.", "2.2.0", "", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
