/* cmd_server.c - server and connection commands (server_commands table): PING ECHO QUIT HELLO
 * AUTH RESET CLIENT COMMAND INFO CONFIG TIME LASTSAVE DEBUG FUNCTION SLOWLOG SAVE BGSAVE COMPACT
 * SHUTDOWN ROLE WAIT. Replies and errors follow Redis 7. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "blocking.h"
#include "client.h"
#include "command.h"
#include "config.h"
#include "info.h"
#include "keyspace.h"
#include "types/coll.h"
#include "log.h"
#include "lsm.h"
#include "multi.h"
#include "pubsub.h"
#include "scripting.h"
#include "server.h"
#include "tracking.h"
#include "util.h"

#ifdef KEVO_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

static int arg_is(const cmdarg *a, const char *s) { return strcasecmp(a->ptr, s) == 0; }

static void reply_help(client *c, const char *const *lines, size_t n)
{
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++) reply_simple(c, lines[i]);
}

static void reply_subcommand_syntax_error(client *c)
{
    char up[32];
    size_t i;
    for (i = 0; i + 1 < sizeof up && c->argv[0].ptr[i]; i++) up[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
    up[i] = 0;
    reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try %s HELP.", c->argv[1].ptr, up);
}

/* ---------------------------------------------------------------- connection */

static void cmd_ping(client *c)
{
    if (c->argc > 2) {
        reply_wrong_arity(c, "ping");
        return;
    }
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2) { /* subscribed mode: ["pong", message] */
        reply_array(c, 2);
        reply_bulk(c, "pong", 4);
        if (c->argc == 1) reply_bulk(c, "", 0);
        else reply_bulk(c, c->argv[1].ptr, c->argv[1].len);
        return;
    }
    if (c->argc == 1) reply_simple(c, "PONG");
    else reply_bulk(c, c->argv[1].ptr, c->argv[1].len);
}

static void cmd_echo(client *c) { reply_bulk(c, c->argv[1].ptr, c->argv[1].len); }

static void cmd_quit(client *c)
{
    reply_ok(c);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* 1 when user/pass authenticate as the default user. */
static int check_password(const cmdarg *user, const cmdarg *pass)
{
    if (user && strcmp(user->ptr, "default") != 0) return 0;
    const char *rp = config.requirepass ? config.requirepass : "";
    if (!rp[0]) return 1; /* nopass: any password */
    /* constant time: the same work whatever the attempt (its length or first wrong byte) */
    size_t l = strlen(rp), n = pass->len;
    unsigned diff = l != n;
    for (size_t i = 0; i < l; i++) {
        unsigned char b = n ? (unsigned char)pass->ptr[i % n] : 0;
        diff |= (unsigned char)rp[i] ^ b;
    }
    return diff == 0;
}

static void cmd_auth(client *c)
{
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    const char *rp = config.requirepass ? config.requirepass : "";
    if (c->argc == 2 && !rp[0]) {
        reply_error(c, "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        return;
    }
    const cmdarg *user = c->argc == 3 ? &c->argv[1] : NULL;
    const cmdarg *pass = c->argc == 3 ? &c->argv[2] : &c->argv[1];
    if (check_password(user, pass)) {
        c->authenticated = 1;
        reply_ok(c);
    } else {
        log_msg(LL_VERBOSE, "AUTH failed from %s", client_peer_addr(c));
        reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
    }
}

static int valid_client_name(const cmdarg *a)
{
    for (size_t i = 0; i < a->len; i++)
        if (a->ptr[i] < '!' || a->ptr[i] > '~') return 0;
    return 1;
}

static void cmd_hello(client *c)
{
    long long ver = 0;
    int next = 1;
    if (c->argc >= 2) {
        if (!string2ll(c->argv[1].ptr, c->argv[1].len, &ver)) {
            reply_error(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        next = 2;
        if (ver < 2 || ver > 3) {
            reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const cmdarg *user = NULL, *pass = NULL, *name = NULL;
    for (int j = next; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (arg_is(&c->argv[j], "AUTH") && more >= 2) {
            user = &c->argv[j + 1];
            pass = &c->argv[j + 2];
            j += 2;
        } else if (arg_is(&c->argv[j], "SETNAME") && more >= 1) {
            name = &c->argv[j + 1];
            if (!valid_client_name(name)) {
                reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }
            j++;
        } else {
            reply_errorf(c, "ERR Syntax error in HELLO option '%.128s'", c->argv[j].ptr);
            return;
        }
    }
    if (user) {
        if (!check_password(user, pass)) {
            reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }
        c->authenticated = 1;
    }
    if (!c->authenticated && config.requirepass && config.requirepass[0]) {
        reply_error(c, "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    if (name) {
        free(c->name);
        c->name = name->len ? strndup(name->ptr, name->len) : NULL;
    }
    if (ver) c->resp = (int)ver;
    reply_map(c, 7);
    reply_bulk_cstr(c, "server");
    reply_bulk_cstr(c, "redis");
    reply_bulk_cstr(c, "version");
    reply_bulk_cstr(c, KEVO_VERSION);
    reply_bulk_cstr(c, "proto");
    reply_int(c, c->resp);
    reply_bulk_cstr(c, "id");
    reply_int(c, (long long)c->id);
    reply_bulk_cstr(c, "mode");
    reply_bulk_cstr(c, "standalone");
    reply_bulk_cstr(c, "role");
    reply_bulk_cstr(c, "master");
    reply_bulk_cstr(c, "modules");
    reply_array(c, 0);
}

static void cmd_reset(client *c)
{
    multi_client_free(c);
    tracking_client_free(c);  /* tracking off */
    pubsub_client_free(c);    /* every subscription, silently */
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC | CLIENT_REPLY_OFF | CLIENT_NO_EVICT);
    c->db = 0;
    c->resp = 2;
    free(c->name);
    c->name = NULL;
    c->authenticated = !(config.requirepass && config.requirepass[0]);
    reply_simple(c, "RESET");
}

/* ---------------------------------------------------------------- CLIENT */

static void client_id_cmd(client *c) { reply_int(c, (long long)c->id); }
static void client_getname_cmd(client *c)
{
    if (c->name) reply_bulk_cstr(c, c->name);
    else reply_null(c);
}
static void client_setname_cmd(client *c)
{
    if (!valid_client_name(&c->argv[2])) {
        reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
        return;
    }
    free(c->name);
    c->name = c->argv[2].len ? strndup(c->argv[2].ptr, c->argv[2].len) : NULL;
    reply_ok(c);
}

struct strbuf {
    char *p;
    size_t len, cap;
};
static void sb_add(struct strbuf *sb, const char *s, size_t n)
{
    if (sb->len + n + 1 > sb->cap) {
        size_t nc = sb->cap ? sb->cap * 2 : 1024;
        while (nc < sb->len + n + 1) nc *= 2;
        char *np = realloc(sb->p, nc);
        if (!np) return;
        sb->p = np;
        sb->cap = nc;
    }
    memcpy(sb->p + sb->len, s, n);
    sb->len += n;
    sb->p[sb->len] = 0;
}

struct list_ctx {
    struct strbuf sb;
    uint64_t *ids;
    int nids;
    int type; /* -1 any, else client_obuf_class */
};
static void client_list_one(client *c, void *ctx)
{
    struct list_ctx *lc = ctx;
    if (c->fd < 0) return;
    if (lc->type >= 0 && client_obuf_class(c) != lc->type) return;
    if (lc->nids) {
        int found = 0;
        for (int i = 0; i < lc->nids; i++)
            if (lc->ids[i] == c->id) found = 1;
        if (!found) return;
    }
    char line[1024];
    client_info_string(c, line, sizeof line);
    sb_add(&lc->sb, line, strlen(line));
    sb_add(&lc->sb, "\n", 1);
}

static void client_list_cmd(client *c)
{
    struct list_ctx lc;
    memset(&lc, 0, sizeof lc);
    uint64_t ids[64];
    lc.ids = ids;
    lc.type = -1;
    for (int j = 2; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "TYPE") && j + 1 < c->argc) {
            const char *t = c->argv[j + 1].ptr;
            if (strcasecmp(t, "normal") && strcasecmp(t, "master") && strcasecmp(t, "replica") &&
                strcasecmp(t, "slave") && strcasecmp(t, "pubsub")) {
                reply_errorf(c, "ERR Unknown client type '%s'", t);
                return;
            }
            if (strcasecmp(t, "normal") && strcasecmp(t, "pubsub")) { /* no replicas here */
                reply_verbatim(c, "", 0, "txt");
                return;
            }
            lc.type = strcasecmp(t, "normal") ? 2 : 0;
            j++;
        } else if (arg_is(&c->argv[j], "ID") && j + 1 < c->argc) {
            for (j = j + 1; j < c->argc && lc.nids < 64; j++) {
                long long id;
                if (!string2ll(c->argv[j].ptr, c->argv[j].len, &id) || id <= 0) {
                    reply_error(c, "ERR Invalid client ID");
                    return;
                }
                ids[lc.nids++] = (uint64_t)id;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    client_foreach(client_list_one, &lc);
    reply_verbatim(c, lc.sb.p ? lc.sb.p : "", lc.sb.len, "txt");
    free(lc.sb.p);
}

static void client_info_cmd(client *c)
{
    char line[1024];
    client_info_string(c, line, sizeof line);
    size_t n = strlen(line);
    line[n++] = '\n';
    reply_verbatim(c, line, n, "txt");
}

struct kill_ctx {
    client *self;
    long long id;
    const char *addr, *laddr;
    int skipme, killed, user_mismatch;
    int type; /* -1 any, else client_obuf_class */
};
static void client_kill_one(client *c, void *ctx)
{
    struct kill_ctx *k = ctx;
    if (c->fd < 0) return;
    if (k->type >= 0 && client_obuf_class(c) != k->type) return;
    if (k->id && c->id != (uint64_t)k->id) return;
    if (k->addr && strcmp(client_peer_addr(c), k->addr)) return;
    if (k->laddr) {
        char line[1024];
        client_info_string(c, line, sizeof line);
        const char *p = strstr(line, " laddr=");
        size_t l = strlen(k->laddr);
        if (!p || strncmp(p + 7, k->laddr, l) || p[7 + l] != ' ') return;
    }
    if (k->user_mismatch) return;
    if (c == k->self && k->skipme) return;
    if (c == k->self) c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    else client_close_async(c);
    k->killed++;
}

static void client_kill_cmd(client *c)
{
    struct kill_ctx k;
    memset(&k, 0, sizeof k);
    k.self = c;
    k.skipme = 1;
    k.type = -1;
    if (c->argc == 3) { /* old form: CLIENT KILL addr:port */
        k.addr = c->argv[2].ptr;
        k.skipme = 0;
        client_foreach(client_kill_one, &k);
        if (k.killed) reply_ok(c);
        else reply_error(c, "ERR No such client");
        return;
    }
    if (c->argc % 2 != 0) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    for (int j = 2; j < c->argc; j += 2) {
        const cmdarg *o = &c->argv[j], *v = &c->argv[j + 1];
        if (arg_is(o, "id")) {
            if (!string2ll(v->ptr, v->len, &k.id) || k.id <= 0) {
                reply_error(c, "ERR client-id should be greater than 0");
                return;
            }
        } else if (arg_is(o, "addr")) {
            k.addr = v->ptr;
        } else if (arg_is(o, "laddr")) {
            k.laddr = v->ptr;
        } else if (arg_is(o, "type")) {
            if (strcasecmp(v->ptr, "normal") == 0 || strcasecmp(v->ptr, "pubsub") == 0) {
                k.type = strcasecmp(v->ptr, "normal") ? 2 : 0;
                continue;
            }
            if (!strcasecmp(v->ptr, "master") || !strcasecmp(v->ptr, "replica") || !strcasecmp(v->ptr, "slave")) {
                k.user_mismatch = 1;
                continue;
            }
            reply_errorf(c, "ERR Unknown client type '%s'", v->ptr);
            return;
        } else if (arg_is(o, "user")) {
            if (strcmp(v->ptr, "default") != 0) {
                reply_errorf(c, "ERR No such user '%s'", v->ptr);
                return;
            }
        } else if (arg_is(o, "skipme")) {
            if (arg_is(v, "yes")) k.skipme = 1;
            else if (arg_is(v, "no")) k.skipme = 0;
            else {
                reply_error(c, ERR_SYNTAX);
                return;
            }
        } else if (arg_is(o, "maxage")) {
            long long age;
            if (!string2ll(v->ptr, v->len, &age)) {
                reply_error(c, ERR_NOT_INT);
                return;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    client_foreach(client_kill_one, &k);
    reply_int(c, k.killed);
}

/* CLIENT UNBLOCK client-id [TIMEOUT|ERROR] */
static void client_unblock_cmd(client *c)
{
    if (c->argc > 4) {
        reply_subcommand_syntax_error(c);
        return;
    }
    int error = 0;
    if (c->argc == 4) {
        if (arg_is(&c->argv[3], "timeout")) {
            error = 0;
        } else if (arg_is(&c->argv[3], "error")) {
            error = 1;
        } else {
            reply_error(c, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    long long id;
    if (!string2ll(c->argv[2].ptr, c->argv[2].len, &id)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    client *target = id > 0 ? client_by_id((uint64_t)id) : NULL;
    reply_int(c, target && blocking_unblock(target, error) ? 1 : 0);
}

static void client_setinfo_cmd(client *c)
{
    const cmdarg *v = &c->argv[3];
    int ver;
    if (arg_is(&c->argv[2], "lib-name")) ver = 0;
    else if (arg_is(&c->argv[2], "lib-ver")) ver = 1;
    else {
        reply_errorf(c, "ERR Unrecognized option '%s'", c->argv[2].ptr);
        return;
    }
    for (size_t i = 0; i < v->len; i++)
        if (v->ptr[i] < '!' || v->ptr[i] > '~') {
            reply_errorf(c, "ERR %s cannot contain spaces, newlines or special characters.", ver ? "lib-ver" : "lib-name");
            return;
        }
    client_set_lib(c, ver, v->ptr, v->len);
    reply_ok(c);
}

static void client_onoff(client *c, uint32_t flag)
{
    if (arg_is(&c->argv[2], "on")) c->flags |= flag;
    else if (arg_is(&c->argv[2], "off")) c->flags &= ~flag;
    else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    reply_ok(c);
}
static void client_no_evict_cmd(client *c) { client_onoff(c, CLIENT_NO_EVICT); }
static void client_no_touch_cmd(client *c)
{
    if (!arg_is(&c->argv[2], "on") && !arg_is(&c->argv[2], "off")) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    reply_ok(c);
}

static void client_reply_cmd(client *c)
{
    if (arg_is(&c->argv[2], "on")) {
        c->flags &= ~CLIENT_REPLY_OFF;
        reply_ok(c);
    } else if (arg_is(&c->argv[2], "off")) {
        c->flags |= CLIENT_REPLY_OFF;
    } else if (arg_is(&c->argv[2], "skip")) {
        if (!(c->flags & CLIENT_REPLY_OFF)) client_skip_next_reply(c);
    } else {
        reply_error(c, ERR_SYNTAX);
    }
}

static void client_help_cmd(client *c)
{
    static const char *const lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME (yes|no).",
        "LIST [options ...]",
        "    Return information about client connections. Options: TYPE (normal), ID <client-id> [...].",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Set client meta attributes.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof lines[0]);
}

/* ---------------------------------------------------------------- COMMAND */

typedef struct cmd_meta {
    const char *name, *acl, *tips; /* space-separated lists */
    int nspecs;
    struct {
        const char *flags;
        int index, lastkey, keystep; /* index -1: begin_search and find_keys "unknown" (SORT) */
        const char *notes;
    } specs[3];
} cmd_meta;

/* Redis 7.0 command metadata not carried by struct command: ACL categories (in Redis's order),
 * command tips and key specs, as COMMAND INFO reports them. Commands not listed fall back to
 * categories derived from their flags and one key spec from first/last/step. */
static const struct cmd_meta redis_meta[] = {
    {"ping", "@fast @connection", "request_policy:all_shards response_policy:all_succeeded", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"echo", "@fast @connection", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"quit", "@fast @connection", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hello", "@fast @connection", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"auth", "@fast @connection", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"reset", "@fast @connection", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"client", "@slow", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"command", "@slow @connection", "nondeterministic_output_order", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"info", "@slow @dangerous", "nondeterministic_output request_policy:all_shards response_policy:special", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"config", "@slow", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"time", "@fast", "nondeterministic_output", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"lastsave", "@admin @fast @dangerous", "nondeterministic_output", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"debug", "@admin @slow @dangerous", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"function", "@slow", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"script", "@slow", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"eval", "@slow @scripting", "", 1, {{"RW access update", 2, 0, 1, "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"}, {NULL, 0, 0, 0, NULL}}},
    {"evalsha", "@slow @scripting", "", 1, {{"RW access update", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"eval_ro", "@slow @scripting", "", 1, {{"RO access", 2, 0, 1, "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"}, {NULL, 0, 0, 0, NULL}}},
    {"evalsha_ro", "@slow @scripting", "", 1, {{"RO access", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"fcall", "@slow @scripting", "", 1, {{"RW access update", 2, 0, 1, "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"}, {NULL, 0, 0, 0, NULL}}},
    {"fcall_ro", "@slow @scripting", "", 1, {{"RO access", 2, 0, 1, "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"}, {NULL, 0, 0, 0, NULL}}},
    {"script|kill", "@slow @scripting", "request_policy:all_shards response_policy:one_succeeded", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"script|load", "@slow @scripting", "request_policy:all_nodes response_policy:all_succeeded", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"script|exists", "@slow @scripting", "request_policy:all_shards response_policy:agg_logical_and", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"script|flush", "@slow @scripting", "request_policy:all_nodes response_policy:all_succeeded", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"function|load", "@write @slow @scripting", "request_policy:all_shards response_policy:all_succeeded", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"function|delete", "@write @slow @scripting", "request_policy:all_shards response_policy:all_succeeded", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"function|flush", "@write @slow @scripting", "request_policy:all_shards response_policy:all_succeeded", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"function|restore", "@write @slow @scripting", "request_policy:all_shards response_policy:all_succeeded", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"function|kill", "@slow @scripting", "request_policy:all_shards response_policy:one_succeeded", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"function|stats", "@slow @scripting", "nondeterministic_output request_policy:all_shards response_policy:special", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"function|list", "@slow @scripting", "nondeterministic_output_order", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"slowlog", "@slow", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"save", "@admin @slow @dangerous", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"bgsave", "@admin @slow @dangerous", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"bgrewriteaof", "@admin @slow @dangerous", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"shutdown", "@admin @slow @dangerous", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"role", "@admin @fast @dangerous", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"wait", "@slow @connection", "request_policy:all_shards response_policy:agg_min", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"readwrite", "@fast @connection", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"get", "@read @string @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"set", "@write @string @slow", "", 1, {{"RW access update variable_flags", 1, 0, 1, "RW and ACCESS due to the optional `GET` argument"}, {NULL, 0, 0, 0, NULL}}},
    {"setnx", "@write @string @fast", "", 1, {{"OW insert", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"setex", "@write @string @slow", "", 1, {{"OW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"psetex", "@write @string @slow", "", 1, {{"OW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"getset", "@write @string @fast", "", 1, {{"RW access update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"getdel", "@write @string @fast", "", 1, {{"RW access delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"getex", "@write @string @fast", "", 1, {{"RW access update", 1, 0, 1, "RW and UPDATE because it changes the TTL"}, {NULL, 0, 0, 0, NULL}}},
    {"mget", "@read @string @fast", "request_policy:multi_shard", 1, {{"RO access", 1, -1, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"mset", "@write @string @slow", "request_policy:multi_shard response_policy:all_succeeded", 1, {{"OW update", 1, -1, 2, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"msetnx", "@write @string @slow", "request_policy:multi_shard response_policy:agg_min", 1, {{"OW insert", 1, -1, 2, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"incr", "@write @string @fast", "", 1, {{"RW access update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"decr", "@write @string @fast", "", 1, {{"RW access update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"incrby", "@write @string @fast", "", 1, {{"RW access update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"decrby", "@write @string @fast", "", 1, {{"RW access update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"incrbyfloat", "@write @string @fast", "", 1, {{"RW access update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"append", "@write @string @fast", "", 1, {{"RW insert", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"strlen", "@read @string @fast", "", 1, {{"RO", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"getrange", "@read @string @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"substr", "@read @string @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"setrange", "@write @string @slow", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"del", "@keyspace @write @slow", "request_policy:multi_shard response_policy:agg_sum", 1, {{"RM delete", 1, -1, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"unlink", "@keyspace @write @fast", "request_policy:multi_shard response_policy:agg_sum", 1, {{"RM delete", 1, -1, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"exists", "@keyspace @read @fast", "request_policy:multi_shard response_policy:agg_sum", 1, {{"RO", 1, -1, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"touch", "@keyspace @read @fast", "request_policy:multi_shard response_policy:agg_sum", 1, {{"RO", 1, -1, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"type", "@keyspace @read @fast", "", 1, {{"RO", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"rename", "@keyspace @write @slow", "", 2, {{"RW access delete", 1, 0, 1, NULL}, {"OW update", 2, 0, 1, NULL}}},
    {"renamenx", "@keyspace @write @fast", "", 2, {{"RW access delete", 1, 0, 1, NULL}, {"OW insert", 2, 0, 1, NULL}}},
    {"copy", "@keyspace @write @slow", "", 2, {{"RO access", 1, 0, 1, NULL}, {"OW update", 2, 0, 1, NULL}}},
    {"move", "@keyspace @write @fast", "", 1, {{"RW access update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"expire", "@keyspace @write @fast", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"pexpire", "@keyspace @write @fast", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"expireat", "@keyspace @write @fast", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"pexpireat", "@keyspace @write @fast", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"ttl", "@keyspace @read @fast", "nondeterministic_output", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"pttl", "@keyspace @read @fast", "nondeterministic_output", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"expiretime", "@keyspace @read @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"pexpiretime", "@keyspace @read @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"persist", "@keyspace @write @fast", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"keys", "@keyspace @read @slow @dangerous", "request_policy:all_shards nondeterministic_output_order", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"scan", "@keyspace @read @slow", "nondeterministic_output request_policy:special", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"randomkey", "@keyspace @read @slow", "request_policy:all_shards nondeterministic_output", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"dbsize", "@keyspace @read @fast", "request_policy:all_shards response_policy:agg_sum", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"flushdb", "@keyspace @write @slow @dangerous", "request_policy:all_shards response_policy:all_succeeded", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"flushall", "@keyspace @write @slow @dangerous", "request_policy:all_shards response_policy:all_succeeded", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"select", "@fast @connection", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"swapdb", "@keyspace @write @fast @dangerous", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"object", "@slow", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"multi", "@fast @transaction", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"exec", "@slow @transaction", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"discard", "@fast @transaction", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"watch", "@fast @transaction", "", 1, {{"RO", 1, -1, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"unwatch", "@fast @transaction", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    /* ---- hash and set commands (hashset branch) ---- */
    {"hset", "@write @hash @fast", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hsetnx", "@write @hash @fast", "", 1, {{"RW insert", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hget", "@read @hash @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hmget", "@read @hash @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hmset", "@write @hash @fast", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hdel", "@write @hash @fast", "", 1, {{"RW delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hlen", "@read @hash @fast", "", 1, {{"RO", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hstrlen", "@read @hash @fast", "", 1, {{"RO", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hexists", "@read @hash @fast", "", 1, {{"RO", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hkeys", "@read @hash @slow", "nondeterministic_output_order", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hvals", "@read @hash @slow", "nondeterministic_output_order", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hgetall", "@read @hash @slow", "nondeterministic_output_order", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hincrby", "@write @hash @fast", "", 1, {{"RW access update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hincrbyfloat", "@write @hash @fast", "", 1, {{"RW access update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hrandfield", "@read @hash @slow", "nondeterministic_output", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"hscan", "@read @hash @slow", "nondeterministic_output", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"sadd", "@write @set @fast", "", 1, {{"RW insert", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"srem", "@write @set @fast", "", 1, {{"RW delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"smembers", "@read @set @slow", "nondeterministic_output_order", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"sismember", "@read @set @fast", "", 1, {{"RO", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"smismember", "@read @set @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"scard", "@read @set @fast", "", 1, {{"RO", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"spop", "@write @set @fast", "nondeterministic_output", 1, {{"RW access delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"srandmember", "@read @set @slow", "nondeterministic_output", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"smove", "@write @set @fast", "", 2, {{"RW access delete", 1, 0, 1, NULL}, {"RW insert", 2, 0, 1, NULL}}},
    {"sinter", "@read @set @slow", "nondeterministic_output_order", 1, {{"RO access", 1, -1, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"sintercard", "@read @set @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"sinterstore", "@write @set @slow", "", 2, {{"RW update", 1, 0, 1, NULL}, {"RO access", 2, -1, 1, NULL}}},
    {"sunion", "@read @set @slow", "nondeterministic_output_order", 1, {{"RO access", 1, -1, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"sunionstore", "@write @set @slow", "", 2, {{"OW update", 1, 0, 1, NULL}, {"RO access", 2, -1, 1, NULL}}},
    {"sdiff", "@read @set @slow", "nondeterministic_output_order", 1, {{"RO access", 1, -1, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"sdiffstore", "@write @set @slow", "", 2, {{"OW update", 1, 0, 1, NULL}, {"RO access", 2, -1, 1, NULL}}},
    {"sscan", "@read @set @slow", "nondeterministic_output", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    /* ---- end of hash and set commands ---- */
    /* ---- sorted-set commands (zset branch) ---- */
    {"zadd", "@write @sortedset @fast", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zincrby", "@write @sortedset @fast", "", 1, {{"RW access update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zrem", "@write @sortedset @fast", "", 1, {{"RW delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zcard", "@read @sortedset @fast", "", 1, {{"RO", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zscore", "@read @sortedset @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zmscore", "@read @sortedset @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zrank", "@read @sortedset @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zrevrank", "@read @sortedset @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zcount", "@read @sortedset @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zlexcount", "@read @sortedset @fast", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zrange", "@read @sortedset @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zrangestore", "@write @sortedset @slow", "", 2, {{"OW update", 1, 0, 1, NULL}, {"RO access", 2, 0, 1, NULL}}},
    {"zrangebyscore", "@read @sortedset @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zrevrangebyscore", "@read @sortedset @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zrangebylex", "@read @sortedset @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zrevrangebylex", "@read @sortedset @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zrevrange", "@read @sortedset @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zremrangebyrank", "@write @sortedset @slow", "", 1, {{"RW delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zremrangebyscore", "@write @sortedset @slow", "", 1, {{"RW delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zremrangebylex", "@write @sortedset @slow", "", 1, {{"RW delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zpopmin", "@write @sortedset @fast", "", 1, {{"RW access delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zpopmax", "@write @sortedset @fast", "", 1, {{"RW access delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zrandmember", "@read @sortedset @slow", "nondeterministic_output", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zscan", "@read @sortedset @slow", "nondeterministic_output", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zmpop", "@write @sortedset @slow", "", 1, {{"RW access delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zunion", "@read @sortedset @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zinter", "@read @sortedset @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zdiff", "@read @sortedset @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zintercard", "@read @sortedset @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    /* ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE: the destination's spec; the keynum spec of the sources
     * follows from their command_keynum entry (command.h) */
    {"zunionstore", "@write @sortedset @slow", "", 1, {{"OW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zinterstore", "@write @sortedset @slow", "", 1, {{"OW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"zdiffstore", "@write @sortedset @slow", "", 1, {{"OW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    /* ---- end of sorted-set commands ---- */
    /* ---- list commands (list branch) ---- */
    {"lpush", "@write @list @fast", "", 1, {{"RW insert", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"rpush", "@write @list @fast", "", 1, {{"RW insert", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"lpushx", "@write @list @fast", "", 1, {{"RW insert", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"rpushx", "@write @list @fast", "", 1, {{"RW insert", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"lpop", "@write @list @fast", "", 1, {{"RW access delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"rpop", "@write @list @fast", "", 1, {{"RW access delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"llen", "@read @list @fast", "", 1, {{"RO", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"lrange", "@read @list @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"lindex", "@read @list @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"lset", "@write @list @slow", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"linsert", "@write @list @slow", "", 1, {{"RW insert", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"lrem", "@write @list @slow", "", 1, {{"RW delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"ltrim", "@write @list @slow", "", 1, {{"RW delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"lpos", "@read @list @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"lmove", "@write @list @slow", "", 2, {{"RW access delete", 1, 0, 1, NULL}, {"RW insert", 2, 0, 1, NULL}}},
    {"rpoplpush", "@write @list @slow", "", 2, {{"RW access delete", 1, 0, 1, NULL}, {"RW insert", 2, 0, 1, NULL}}},
    {"lmpop", "@write @list @slow", "", 1, {{"RW access delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    /* ---- end of list commands ---- */
    /* ---- SORT (sort branch): BY/GET keys and STORE's destination are "unknown" key specs ---- */
    {"sort", "@write @set @sortedset @list @slow @dangerous", "", 3,
     {{"RO access", 1, 0, 1, NULL},
      {"RO access", -1, 0, 0, "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"},
      {"OW update", -1, 0, 0, "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array"}}},
    {"sort_ro", "@read @set @sortedset @list @slow @dangerous", "", 2,
     {{"RO access", 1, 0, 1, NULL},
      {"RO access", -1, 0, 0, "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"}}},
    /* ---- end of SORT ---- */
    /* ---- blocking commands (cmd_blocking.c) ---- */
    {"bzpopmin", "@write @sortedset @fast @blocking", "", 1, {{"RW access delete", 1, -2, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"bzpopmax", "@write @sortedset @fast @blocking", "", 1, {{"RW access delete", 1, -2, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"bzmpop", "@write @sortedset @slow @blocking", "", 1, {{"RW access delete", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"blpop", "@write @list @slow @blocking", "", 1, {{"RW access delete", 1, -2, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"brpop", "@write @list @slow @blocking", "", 1, {{"RW access delete", 1, -2, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"brpoplpush", "@write @list @slow @blocking", "", 2, {{"RW access delete", 1, 0, 1, NULL}, {"RW insert", 2, 0, 1, NULL}}},
    {"blmove", "@write @list @slow @blocking", "", 2, {{"RW access delete", 1, 0, 1, NULL}, {"RW insert", 2, 0, 1, NULL}}},
    {"blmpop", "@write @list @slow @blocking", "", 1, {{"RW access delete", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    /* ---- end of blocking commands ---- */
    /* pub/sub: shard channels are "not_key" key specs */
    {"ssubscribe", "@pubsub @slow", "", 1, {{"not_key", 1, -1, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"sunsubscribe", "@pubsub @slow", "", 1, {{"not_key", 1, -1, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"spublish", "@pubsub @fast", "", 1, {{"not_key", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    /* ---- stream commands (cmd_stream.c; XREAD/XREADGROUP's keyword spec: command_keyword) ---- */
    {"xadd", "@write @stream @fast", "nondeterministic_output", 1, {{"RW update", 1, 0, 1, "UPDATE instead of INSERT because of the optional trimming feature"}, {NULL, 0, 0, 0, NULL}}},
    {"xlen", "@read @stream @fast", "", 1, {{"RO", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xrange", "@read @stream @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xrevrange", "@read @stream @slow", "", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xdel", "@write @stream @fast", "", 1, {{"RW delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xtrim", "@write @stream @slow", "nondeterministic_output", 1, {{"RW delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xread", "@read @stream @slow @blocking", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xreadgroup", "@write @stream @slow @blocking", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xsetid", "@write @stream @fast", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xgroup", "@slow", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xgroup|create", "@write @stream @slow", "", 1, {{"RW insert", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xgroup|delconsumer", "@write @stream @slow", "", 1, {{"RW delete", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xgroup|createconsumer", "@write @stream @slow", "", 1, {{"RW insert", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xgroup|destroy", "@write @stream @slow", "", 1, {{"RW delete", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xgroup|setid", "@write @stream @slow", "", 1, {{"RW update", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xgroup|help", "@stream @slow", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xack", "@write @stream @fast", "", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xpending", "@read @stream @slow", "nondeterministic_output", 1, {{"RO access", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xclaim", "@write @stream @fast", "nondeterministic_output", 1, {{"RW update", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xautoclaim", "@write @stream @fast", "nondeterministic_output", 1, {{"RW delete", 1, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xinfo", "@slow", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xinfo|stream", "@read @stream @slow", "", 1, {{"RO access", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xinfo|help", "@stream @slow", "", 0, {{NULL, 0, 0, 0, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xinfo|groups", "@read @stream @slow", "", 1, {{"RO access", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    {"xinfo|consumers", "@read @stream @slow", "nondeterministic_output", 1, {{"RO access", 2, 0, 1, NULL}, {NULL, 0, 0, 0, NULL}}},
    /* ---- end of stream commands ---- */
};

/* A subcommand's row is named "parent|sub"; one without a row gets the fallback. */
static const cmd_meta *find_meta(const struct command *cmd, const struct command *parent)
{
    char full[96];
    const char *name = cmd->name;
    if (parent) {
        snprintf(full, sizeof full, "%s|%s", parent->name, cmd->name);
        name = full;
    }
    for (size_t i = 0; i < sizeof redis_meta / sizeof redis_meta[0]; i++)
        if (!strcmp(redis_meta[i].name, name)) return &redis_meta[i];
    return NULL;
}

/* Replies a set of the space-separated words of list (bulk strings when bulk, else simple). */
static void reply_word_set(client *c, const char *list, int bulk)
{
    long n = 0;
    for (const char *p = list; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        n++;
        while (*p && *p != ' ') p++;
    }
    reply_set(c, n);
    for (const char *p = list; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != ' ') e++;
        char w[64];
        size_t l = (size_t)(e - p) < sizeof w - 1 ? (size_t)(e - p) : sizeof w - 1;
        memcpy(w, p, l);
        w[l] = 0;
        if (bulk) reply_bulk(c, w, l);
        else reply_simple(c, w);
        p = e;
    }
}

/* COMMAND INFO flags in Redis 7.0's order (addReplyFlagsForCommand; may_replicate and protected
 * are hidden there too); movablekeys is derived */
#define FLAG_MOVABLE 0
static const struct {
    uint32_t flag;
    const char *name;
} flag_names[] = {
    {CMD_WRITE, "write"},       {CMD_READONLY, "readonly"}, {CMD_DENYOOM, "denyoom"},
    {CMD_ADMIN, "admin"},       {CMD_PUBSUB, "pubsub"},     {CMD_NOSCRIPT, "noscript"},
    {CMD_BLOCKING, "blocking"}, {CMD_LOADING, "loading"},   {CMD_STALE, "stale"},
    {CMD_SKIP_MONITOR, "skip_monitor"}, {CMD_SKIP_SLOWLOG, "skip_slowlog"},
    {CMD_FAST, "fast"},         {CMD_NO_AUTH, "no_auth"},
    {CMD_NO_MANDATORY_KEYS, "no_mandatory_keys"}, {CMD_NO_MULTI, "no_multi"},
    {FLAG_MOVABLE, "movablekeys"}, {CMD_ALLOW_BUSY, "allow_busy"},
};

static void reply_command_flags(client *c, const struct command *cmd)
{
    int movable = (cmd->flags & CMD_KEYNUM) || command_keynum_of(cmd) || command_getkeys_of(cmd) ||
                  command_keyword_of(cmd);
    long n = 0;
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
        if (flag_names[i].flag ? (cmd->flags & flag_names[i].flag) != 0 : movable) n++;
    reply_set(c, n);
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
        if (flag_names[i].flag ? (cmd->flags & flag_names[i].flag) != 0 : movable)
            reply_simple(c, flag_names[i].name);
}

static void reply_acl_categories(client *c, const struct command *cmd, const struct command *parent)
{
    const cmd_meta *m = find_meta(cmd, parent);
    if (m) {
        reply_word_set(c, m->acl, 0);
        return;
    }
    /* Redis's category order: keyspace read write ... string ... admin fast slow ... dangerous
     * connection transaction */
    const char *cats[10];
    int n = 0;
    const char *group = cmd->group ? cmd->group : (parent ? parent->group : NULL);
    if (group && !strcmp(group, "generic")) cats[n++] = "@keyspace";
    if (cmd->flags & CMD_READONLY) cats[n++] = "@read";
    if (cmd->flags & CMD_WRITE) cats[n++] = "@write";
    /* the data-type categories, in Redis's order */
    static const char *const type_cats[][2] = {
        {"set", "@set"},       {"sorted-set", "@sortedset"},    {"list", "@list"},
        {"hash", "@hash"},     {"string", "@string"},           {"bitmap", "@bitmap"},
        {"hyperloglog", "@hyperloglog"}, {"geo", "@geo"},       {"stream", "@stream"},
    };
    for (size_t i = 0; group && i < sizeof type_cats / sizeof type_cats[0]; i++)
        if (!strcmp(group, type_cats[i][0])) cats[n++] = type_cats[i][1];
    if (cmd->flags & CMD_PUBSUB) cats[n++] = "@pubsub";
    if (cmd->flags & CMD_ADMIN) cats[n++] = "@admin";
    cats[n++] = (cmd->flags & CMD_FAST) ? "@fast" : "@slow";
    if (cmd->flags & CMD_ADMIN) cats[n++] = "@dangerous";
    if (group && !strcmp(group, "connection")) cats[n++] = "@connection";
    if (group && !strcmp(group, "transactions")) cats[n++] = "@transaction";
    if (group && !strcmp(group, "scripting")) cats[n++] = "@scripting";
    reply_set(c, n);
    for (int i = 0; i < n; i++) reply_simple(c, cats[i]);
}

static void reply_one_key_spec(client *c, const char *flags, int index, int lastkey, int keystep,
                               const char *notes)
{
    reply_map(c, notes ? 4 : 3);
    if (notes) {
        reply_bulk_cstr(c, "notes");
        reply_bulk_cstr(c, notes);
    }
    reply_bulk_cstr(c, "flags");
    reply_word_set(c, flags, 0);
    reply_bulk_cstr(c, "begin_search");
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    if (index < 0) { /* keys only the command can find (SORT's BY/GET/STORE): empty specs */
        reply_bulk_cstr(c, "unknown");
        reply_bulk_cstr(c, "spec");
        reply_map(c, 0);
        reply_bulk_cstr(c, "find_keys");
        reply_map(c, 2);
        reply_bulk_cstr(c, "type");
        reply_bulk_cstr(c, "unknown");
        reply_bulk_cstr(c, "spec");
        reply_map(c, 0);
        return;
    }
    reply_bulk_cstr(c, "index");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 1);
    reply_bulk_cstr(c, "index");
    reply_int(c, index);
    reply_bulk_cstr(c, "find_keys");
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, "range");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 3);
    reply_bulk_cstr(c, "lastkey");
    reply_int(c, lastkey);
    reply_bulk_cstr(c, "keystep");
    reply_int(c, keystep);
    reply_bulk_cstr(c, "limit");
    reply_int(c, 0);
}

/* A keynum key spec (CMD_KEYNUM: numkeys at first_key, the keys right after it). */
static void reply_keynum_key_spec(client *c, const char *flags, int index, int keystep, const char *notes)
{
    reply_map(c, notes ? 4 : 3);
    if (notes) {
        reply_bulk_cstr(c, "notes");
        reply_bulk_cstr(c, notes);
    }
    reply_bulk_cstr(c, "flags");
    reply_word_set(c, flags, 0);
    reply_bulk_cstr(c, "begin_search");
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, "index");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 1);
    reply_bulk_cstr(c, "index");
    reply_int(c, index);
    reply_bulk_cstr(c, "find_keys");
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, "keynum");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 3);
    reply_bulk_cstr(c, "keynumidx");
    reply_int(c, 0);
    reply_bulk_cstr(c, "firstkey");
    reply_int(c, 1);
    reply_bulk_cstr(c, "keystep");
    reply_int(c, keystep);
}

/* A keyword key spec (command_keyword: XREAD ... STREAMS key ...). */
static void reply_keyword_key_spec(client *c, const struct command_keyword *kw)
{
    reply_map(c, 3);
    reply_bulk_cstr(c, "flags");
    reply_word_set(c, kw->flags, 0);
    reply_bulk_cstr(c, "begin_search");
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, "keyword");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 2);
    reply_bulk_cstr(c, "keyword");
    reply_bulk_cstr(c, kw->keyword);
    reply_bulk_cstr(c, "startfrom");
    reply_int(c, kw->startfrom);
    reply_bulk_cstr(c, "find_keys");
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, "range");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 3);
    reply_bulk_cstr(c, "lastkey");
    reply_int(c, kw->lastkey);
    reply_bulk_cstr(c, "keystep");
    reply_int(c, kw->keystep);
    reply_bulk_cstr(c, "limit");
    reply_int(c, kw->limit);
}

static void reply_key_specs(client *c, const struct command *cmd, const struct command *parent)
{
    const struct command_keyword *kw = command_keyword_of(cmd);
    if (kw) {
        reply_set(c, 1);
        reply_keyword_key_spec(c, kw);
        return;
    }
    const cmd_meta *m = find_meta(cmd, parent);
    if (cmd->flags & CMD_KEYNUM) {
        reply_set(c, 1);
        reply_keynum_key_spec(c, m && m->nspecs ? m->specs[0].flags : ((cmd->flags & CMD_WRITE) ? "RW update" : "RO access"),
                              cmd->first_key, cmd->key_step > 0 ? cmd->key_step : 1,
                              m && m->nspecs ? m->specs[0].notes : NULL);
        return;
    }
    const struct command_keynum *kn = command_keynum_of(cmd);
    if (m) {
        /* a destination before a key count (ZUNIONSTORE): its range spec, then the keynum one */
        reply_set(c, m->nspecs + (kn ? 1 : 0));
        for (int i = 0; i < m->nspecs; i++)
            reply_one_key_spec(c, m->specs[i].flags, m->specs[i].index, m->specs[i].lastkey, m->specs[i].keystep,
                               m->specs[i].notes);
        if (kn) reply_keynum_key_spec(c, "RO access", kn->numkeys_idx, 1, NULL);
        return;
    }
    if (cmd->first_key <= 0) {
        reply_set(c, 0);
        return;
    }
    reply_set(c, 1);
    reply_one_key_spec(c, (cmd->flags & CMD_WRITE) ? "RW update" : "RO access", cmd->first_key,
                       cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key, cmd->key_step, NULL);
}

static void reply_command_info(client *c, const struct command *cmd, const struct command *parent)
{
    char name[64];
    if (parent) snprintf(name, sizeof name, "%s|%s", parent->name, cmd->name);
    else snprintf(name, sizeof name, "%s", cmd->name);
    reply_array(c, 10);
    reply_bulk_cstr(c, name);
    reply_int(c, cmd->arity);
    reply_command_flags(c, cmd);
    int keynum = (cmd->flags & CMD_KEYNUM) != 0; /* movable keys: Redis shows 0 0 0 */
    reply_int(c, keynum ? 0 : cmd->first_key);
    reply_int(c, keynum ? 0 : cmd->last_key);
    reply_int(c, keynum ? 0 : cmd->key_step);
    reply_acl_categories(c, cmd, parent);
    const cmd_meta *m = find_meta(cmd, parent);
    reply_word_set(c, m ? m->tips : "", 1); /* tips */
    reply_key_specs(c, cmd, parent);
    long nsub = 0;
    if (cmd->subcommands)
        while (cmd->subcommands[nsub].name) nsub++;
    reply_set(c, nsub);
    for (long i = 0; i < nsub; i++) reply_command_info(c, &cmd->subcommands[i], cmd);
}

static void command_info_all(const struct command *cmd, void *ctx) { reply_command_info(ctx, cmd, NULL); }

static void cmd_command(client *c)
{
    if (c->argc == 1) {
        reply_array(c, (long)command_count());
        command_foreach(command_info_all, c);
        return;
    }
    reply_subcommand_syntax_error(c);
}

static void command_count_cmd(client *c) { reply_int(c, (long long)command_count()); }

/* Finds "name" or "container|sub". */
static const struct command *find_command_path(const char *name, const struct command **parent)
{
    *parent = NULL;
    const char *bar = strchr(name, '|');
    if (!bar) return command_lookup(name, strlen(name));
    const struct command *p = command_lookup(name, (size_t)(bar - name));
    if (!p || !p->subcommands) return NULL;
    *parent = p;
    return command_lookup_sub(p, bar + 1, strlen(bar + 1));
}

static void command_info_cmd(client *c)
{
    if (c->argc == 2) {
        reply_array(c, (long)command_count());
        command_foreach(command_info_all, c);
        return;
    }
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        const struct command *parent, *cmd = find_command_path(c->argv[i].ptr, &parent);
        if (cmd) reply_command_info(c, cmd, parent);
        else reply_null(c);
    }
}

/* --- COMMAND DOCS: the argument synopsis (args_hint) parsed into Redis's argument maps --- */

typedef struct arg_node {
    int kind;              /* 0 word, 1 oneof, 2 block */
    char word[64];
    int optional, multiple;
    int nchild;
    struct arg_node *child[24];
} arg_node;

static arg_node *arg_node_new(int kind)
{
    arg_node *n = calloc(1, sizeof *n);
    if (n) n->kind = kind;
    return n;
}

static void arg_node_free(arg_node *n)
{
    if (!n) return;
    for (int i = 0; i < n->nchild; i++) arg_node_free(n->child[i]);
    free(n);
}

/* Parses a sequence until ']' or end; alternatives separated by '|' make a oneof. */
static arg_node *parse_seq(const char **sp, int depth)
{
    arg_node *alts = arg_node_new(1), *cur = arg_node_new(2);
    if (!alts || !cur) {
        free(alts);
        free(cur);
        return NULL;
    }
    const char *s = *sp;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        if (*s == ']' || *s == ')') {
            if (depth > 0) s++;
            else { s++; continue; }
            break;
        }
        if (*s == '|') {
            if (alts->nchild < 24) alts->child[alts->nchild++] = cur;
            else arg_node_free(cur);
            cur = arg_node_new(2);
            s++;
            continue;
        }
        arg_node *item = NULL;
        if (*s == '[' || *s == '(') {
            int opt = *s == '[';
            s++;
            item = parse_seq(&s, depth + 1);
            if (item && opt) item->optional = 1;
        } else if (!strncmp(s, "...", 3)) {
            if (cur && cur->nchild) cur->child[cur->nchild - 1]->multiple = 1;
            s += 3;
            continue;
        } else {
            item = arg_node_new(0);
            size_t l = 0;
            while (*s && *s != ' ' && *s != '|' && *s != ']' && *s != '[' && *s != ')' && strncmp(s, "...", 3)) {
                if (item && l + 1 < sizeof item->word) item->word[l++] = *s;
                s++;
            }
            if (item) item->word[l] = 0;
        }
        if (item && cur && cur->nchild < 24) cur->child[cur->nchild++] = item;
        else arg_node_free(item);
    }
    *sp = s;
    arg_node *res;
    if (alts->nchild == 0) {
        free(alts);
        res = cur;
    } else {
        if (alts->nchild < 24) alts->child[alts->nchild++] = cur;
        else arg_node_free(cur);
        /* collapse single-item alternatives */
        for (int i = 0; i < alts->nchild; i++) {
            arg_node *a = alts->child[i];
            if (a->kind == 2 && a->nchild == 1) {
                alts->child[i] = a->child[0];
                a->nchild = 0;
                arg_node_free(a);
            }
        }
        res = alts;
    }
    /* a block of one item is that item */
    if (res->kind == 2 && res->nchild == 1) {
        arg_node *only = res->child[0];
        res->nchild = 0;
        arg_node_free(res);
        res = only;
    }
    return res;
}

static int is_token(const char *w)
{
    int upper = 0;
    for (const char *p = w; *p; p++) {
        if (islower((unsigned char)*p)) return 0;
        if (isupper((unsigned char)*p)) upper = 1;
    }
    return upper;
}

static void node_name(const arg_node *n, char *buf, size_t cap, int idx)
{
    if (n->kind == 0) {
        size_t i;
        for (i = 0; i + 1 < cap && n->word[i]; i++) buf[i] = (char)tolower((unsigned char)n->word[i]);
        buf[i] = 0;
    } else if (n->nchild && n->child[0]->kind == 0) {
        node_name(n->child[0], buf, cap, idx);
    } else {
        snprintf(buf, cap, "arg%d", idx);
    }
}

static void reply_arg_node(client *c, const arg_node *n, int idx)
{
    char name[64];
    node_name(n, name, sizeof name, idx);
    int token = n->kind == 0 && is_token(n->word);
    const char *type;
    if (n->kind == 1) type = "oneof";
    else if (n->kind == 2) type = "block";
    else if (token) type = "pure-token";
    else if (!strcmp(n->word, "key") || !strcmp(n->word, "destination") || !strcmp(n->word, "source") ||
             !strcmp(n->word, "newkey"))
        type = "key";
    else if (!strcmp(n->word, "seconds") || !strcmp(n->word, "milliseconds") || !strcmp(n->word, "count") ||
             !strcmp(n->word, "index") || !strcmp(n->word, "timeout") || !strcmp(n->word, "db") ||
             !strcmp(n->word, "offset") || !strcmp(n->word, "start") || !strcmp(n->word, "end") ||
             !strcmp(n->word, "increment") || !strcmp(n->word, "decrement") || !strcmp(n->word, "cursor") ||
             !strcmp(n->word, "unix-time-seconds") || !strcmp(n->word, "unix-time-milliseconds"))
        type = "integer";
    else type = "string";
    int nf = (n->optional != 0) + (n->multiple != 0);
    long fields = 2 + (token ? 1 : 0) + (!token && n->kind == 0 ? 1 : 0) + (nf ? 1 : 0) +
                  (n->kind != 0 ? 1 : 0) + (!strcmp(type, "key") ? 1 : 0);
    reply_map(c, fields);
    reply_bulk_cstr(c, "name");
    reply_bulk_cstr(c, name);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, type);
    if (!strcmp(type, "key")) {
        reply_bulk_cstr(c, "key_spec_index");
        reply_int(c, 0);
    }
    if (token) {
        reply_bulk_cstr(c, "token");
        reply_bulk_cstr(c, n->word);
    } else if (n->kind == 0) {
        reply_bulk_cstr(c, "display_text");
        reply_bulk_cstr(c, n->word);
    }
    if (nf) {
        reply_bulk_cstr(c, "flags");
        reply_set(c, nf);
        if (n->optional) reply_simple(c, "optional");
        if (n->multiple) reply_simple(c, "multiple");
    }
    if (n->kind != 0) {
        reply_bulk_cstr(c, "arguments");
        reply_array(c, n->nchild);
        for (int i = 0; i < n->nchild; i++) reply_arg_node(c, n->child[i], i);
    }
}

static void reply_arguments(client *c, const char *hint)
{
    const char *s = hint;
    arg_node *root = parse_seq(&s, 0);
    if (!root) {
        reply_array(c, 0);
        return;
    }
    if (root->kind == 2 && !root->optional && !root->multiple) {
        reply_array(c, root->nchild);
        for (int i = 0; i < root->nchild; i++) reply_arg_node(c, root->child[i], i);
    } else {
        reply_array(c, 1);
        reply_arg_node(c, root, 0);
    }
    arg_node_free(root);
}

static void reply_command_docs(client *c, const struct command *cmd, const struct command *parent)
{
    int has_args = cmd->args_hint && cmd->args_hint[0];
    int has_subs = cmd->subcommands != NULL;
    reply_map(c, 4 + has_args + has_subs);
    reply_bulk_cstr(c, "summary");
    reply_bulk_cstr(c, cmd->summary ? cmd->summary : "");
    reply_bulk_cstr(c, "since");
    reply_bulk_cstr(c, cmd->since ? cmd->since : "1.0.0");
    reply_bulk_cstr(c, "group");
    reply_bulk_cstr(c, cmd->group ? cmd->group : (parent && parent->group ? parent->group : "server"));
    reply_bulk_cstr(c, "complexity");
    reply_bulk_cstr(c, (cmd->flags & CMD_FAST) ? "O(1)" : "O(N)");
    if (has_args) {
        reply_bulk_cstr(c, "arguments");
        reply_arguments(c, cmd->args_hint);
    }
    if (has_subs) {
        long n = 0;
        while (cmd->subcommands[n].name) n++;
        reply_bulk_cstr(c, "subcommands");
        reply_map(c, n);
        for (long i = 0; i < n; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s|%s", cmd->name, cmd->subcommands[i].name);
            reply_bulk_cstr(c, name);
            reply_command_docs(c, &cmd->subcommands[i], cmd);
        }
    }
}

static void command_docs_all(const struct command *cmd, void *ctx)
{
    client *c = ctx;
    reply_bulk_cstr(c, cmd->name);
    reply_command_docs(c, cmd, NULL);
}

static void command_docs_cmd(client *c)
{
    if (c->argc == 2) {
        reply_map(c, (long)command_count());
        command_foreach(command_docs_all, c);
        return;
    }
    void *h = reply_defer_len(c);
    long n = 0;
    for (int i = 2; i < c->argc; i++) {
        const struct command *parent, *cmd = find_command_path(c->argv[i].ptr, &parent);
        if (!cmd) continue;
        char name[64];
        if (parent) snprintf(name, sizeof name, "%s|%s", parent->name, cmd->name);
        else snprintf(name, sizeof name, "%s", cmd->name);
        reply_bulk_cstr(c, name);
        reply_command_docs(c, cmd, parent);
        n++;
    }
    reply_set_deferred_map(c, h, n);
}

struct cmdlist_ctx {
    client *c;
    int filter;           /* 0 none, 1 pattern, 2 aclcat, 3 module */
    const cmdarg *arg;
    long n;
};
static void command_list_one(const struct command *cmd, void *ctx)
{
    struct cmdlist_ctx *lc = ctx;
    if (lc->filter == 3) return;
    long nsub = 0;
    if (cmd->subcommands)
        while (cmd->subcommands[nsub].name) nsub++;
    for (long i = -1; i < nsub; i++) {
        const struct command *x = i < 0 ? cmd : &cmd->subcommands[i];
        char name[64];
        if (i < 0) snprintf(name, sizeof name, "%s", cmd->name);
        else snprintf(name, sizeof name, "%s|%s", cmd->name, x->name);
        if (lc->filter == 1 && !glob_match(lc->arg->ptr, lc->arg->len, name, strlen(name), 1)) continue;
        if (lc->filter == 2) {
            const char *cat = lc->arg->ptr;
            if (cat[0] == '@') cat++;
            const char *g = x->group ? x->group : cmd->group;
            const cmd_meta *m = find_meta(x, i < 0 ? NULL : cmd);
            int ok;
            if (m) { /* Redis's own categories for this command */
                size_t cl = strlen(cat);
                ok = 0;
                for (const char *p = m->acl; *p && !ok;) {
                    while (*p == ' ') p++;
                    const char *e = p;
                    while (*e && *e != ' ') e++;
                    if (*p == '@' && (size_t)(e - p - 1) == cl && !strncasecmp(p + 1, cat, cl)) ok = 1;
                    p = e;
                }
            } else {
                ok = (!strcasecmp(cat, "write") && (x->flags & CMD_WRITE)) ||
                     (!strcasecmp(cat, "read") && (x->flags & CMD_READONLY)) ||
                     (!strcasecmp(cat, "fast") && (x->flags & CMD_FAST)) ||
                     (!strcasecmp(cat, "slow") && !(x->flags & CMD_FAST)) ||
                     (!strcasecmp(cat, "admin") && (x->flags & CMD_ADMIN)) ||
                     (!strcasecmp(cat, "blocking") && (x->flags & CMD_BLOCKING)) ||
                     (!strcasecmp(cat, "string") && g && !strcmp(g, "string")) ||
                     (!strcasecmp(cat, "sortedset") && g && !strcmp(g, "sorted-set")) ||
                     (g && strcmp(g, "string") && strcmp(g, "sorted-set") && !strcasecmp(cat, g) &&
                      (!strcmp(g, "hash") || !strcmp(g, "set") || !strcmp(g, "list") ||
                       !strcmp(g, "bitmap") || !strcmp(g, "hyperloglog") || !strcmp(g, "stream"))) ||
                     (!strcasecmp(cat, "keyspace") && g && !strcmp(g, "generic")) ||
                     (!strcasecmp(cat, "connection") && g && !strcmp(g, "connection")) ||
                     (!strcasecmp(cat, "transaction") && g && !strcmp(g, "transactions"));
            }
            if (!ok) continue;
        }
        if (lc->filter == 0 && i >= 0) continue;
        reply_bulk_cstr(lc->c, name);
        lc->n++;
    }
}

static void command_list_cmd(client *c)
{
    struct cmdlist_ctx lc = {c, 0, NULL, 0};
    if (c->argc == 5 && arg_is(&c->argv[2], "FILTERBY")) {
        if (arg_is(&c->argv[3], "PATTERN")) lc.filter = 1;
        else if (arg_is(&c->argv[3], "ACLCAT")) lc.filter = 2;
        else if (arg_is(&c->argv[3], "MODULE")) lc.filter = 3;
        else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        lc.arg = &c->argv[4];
    } else if (c->argc != 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    void *h = reply_defer_len(c);
    command_foreach(command_list_one, &lc);
    reply_set_deferred_array(c, h, lc.n);
}

static void command_getkeys_cmd(client *c)
{
    const struct command *cmd = command_lookup(c->argv[2].ptr, c->argv[2].len);
    if (!cmd) {
        reply_error(c, "ERR Invalid command specified");
        return;
    }
    int argc = c->argc - 2;
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
        reply_error(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    const struct command *k = cmd;
    if (cmd->subcommands && argc >= 2) {
        k = command_lookup_sub(cmd, c->argv[3].ptr, c->argv[3].len);
        if (!k) k = cmd;
    }
    if ((k->first_key <= 0 && !command_keynum_of(k) && !command_getkeys_of(k) && !(k->flags & CMD_KEYNUM) &&
         !command_keyword_of(k)) ||
        (k->flags & CMD_PUBSUB)) { /* shard channels: "not_key" specs */
        reply_error(c, "ERR The command has no key arguments");
        return;
    }
    int pos[64];
    int n = command_get_keys(k, c->argv + 2, argc, pos, 64);
    if (n < 0) {
        reply_error(c, "ERR Invalid arguments specified for command");
        return;
    }
    int *all = n > 64 ? malloc((size_t)n * sizeof *all) : pos;
    if (!all) {
        reply_error(c, "ERR Invalid arguments specified for command");
        return;
    }
    if (all != pos) command_get_keys(k, c->argv + 2, argc, all, n);
    reply_array(c, n);
    for (int i = 0; i < n; i++) reply_bulk(c, c->argv[2 + all[i]].ptr, c->argv[2 + all[i]].len);
    if (all != pos) free(all);
}

static void command_help_cmd(client *c)
{
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full command.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof lines[0]);
}

/* ---------------------------------------------------------------- INFO, TIME, LASTSAVE */

static void cmd_info(client *c)
{
    char section[256] = "";
    size_t off = 0;
    for (int i = 1; i < c->argc && off + 1 < sizeof section; i++)
        off += (size_t)snprintf(section + off, sizeof section - off, "%s%s", i > 1 ? " " : "", c->argv[i].ptr);
    size_t len;
    char *text = info_generate(c->argc > 1 ? section : NULL, &len);
    if (!text) {
        reply_error(c, "ERR out of memory");
        return;
    }
    reply_verbatim(c, text, len, "txt");
    free(text);
}

static void cmd_time(client *c)
{
    uint64_t us = server_ustime();
    reply_array(c, 2);
    reply_bulk_ll(c, (long long)(us / 1000000));
    reply_bulk_ll(c, (long long)(us % 1000000));
}

static void cmd_lastsave(client *c) { reply_int(c, server.lastsave); }

/* ---------------------------------------------------------------- persistence */

static void cmd_save(client *c)
{
    int r = lsm_commit(server.engine);
    if (r == 0) r = lsm_flush(server.engine, 1);
    if (r < 0) {
        server.last_save_ok = 0;
        log_msg(LL_WARNING, "SAVE failed: %s", lsm_strerror(r));
        reply_errorf(c, "ERR %s", lsm_strerror(r));
        return;
    }
    server.last_save_ok = 1;
    server.dirty = 0;
    server.lastsave = (long long)(server_now_ms() / 1000);
    log_msg(LL_NOTICE, "DB saved on disk");
    reply_ok(c);
}

static void cmd_bgsave(client *c)
{
    if (c->argc > 2 || (c->argc == 2 && !arg_is(&c->argv[1], "SCHEDULE"))) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int r = lsm_flush(server.engine, 0);
    if (r < 0) {
        reply_errorf(c, "ERR %s", lsm_strerror(r));
        return;
    }
    server.lastsave = (long long)(server_now_ms() / 1000);
    server.dirty = 0;
    log_msg(LL_NOTICE, "Background saving started");
    reply_simple(c, "Background saving started");
}

static void cmd_bgrewriteaof(client *c)
{
    reply_simple(c, "Background append only file rewriting started");
}

static void cmd_compact(client *c)
{
    int wait = 1;
    if (c->argc == 2) {
        if (arg_is(&c->argv[1], "ASYNC")) wait = 0;
        else if (!arg_is(&c->argv[1], "SYNC")) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    } else if (c->argc > 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int r = lsm_commit(server.engine);
    if (r == 0) r = lsm_compact_range(server.engine, NULL, 0, NULL, 0, wait);
    if (r < 0) {
        reply_errorf(c, "ERR compaction failed: %s", lsm_strerror(r));
        return;
    }
    if (wait) reply_ok(c);
    else reply_simple(c, "Background compaction started");
}

static void cmd_shutdown(client *c)
{
    int flags = SHUTDOWN_NOFLAGS;
    for (int i = 1; i < c->argc; i++) {
        if (arg_is(&c->argv[i], "NOSAVE")) flags |= SHUTDOWN_NOSAVE;
        else if (arg_is(&c->argv[i], "SAVE")) flags |= SHUTDOWN_SAVE;
        else if (arg_is(&c->argv[i], "NOW") || arg_is(&c->argv[i], "FORCE")) continue;
        else if (arg_is(&c->argv[i], "ABORT")) {
            reply_error(c, "ERR No shutdown in progress.");
            return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if ((flags & SHUTDOWN_SAVE) && (flags & SHUTDOWN_NOSAVE)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR Command not allowed inside a transaction");
        return;
    }
    if (scripting_busy()) {
        /* only SHUTDOWN NOSAVE while a script is busy (Redis); the script's writes are dropped
         * so everything acknowledged before it can be committed */
        if (!(flags & SHUTDOWN_NOSAVE)) {
            reply_error(c, scripting_busy_error());
            return;
        }
        scripting_shutdown_abort();
    }
    server_prepare_shutdown(flags);
    reply_error(c, "ERR Errors trying to SHUTDOWN. Check logs.");
}

/* ---------------------------------------------------------------- DEBUG */

/* DEBUG OBJECT key: Redis's line format. */
static void debug_object(client *c) {
    if (c->argc < 3) {
        reply_wrong_arity(c, "debug|object");
        return;
    }
    ks_value v;
    lsm_buf *b = keyspace_buf(0);
    int r = keyspace_lookup(c->db, c->argv[2].ptr, c->argv[2].len, b, &v, 0);
    if (r < 0) {
        keyspace_reply_engine_error(c, r);
        return;
    }
    if (r == 0) {
        reply_error(c, ERR_NO_KEY);
        return;
    }
    const char *enc = coll_encoding_name(&v);
    size_t serlen = v.plen;
    long long iv;
    int shared = v.plen <= 4 && string2ll(v.payload, v.plen, &iv) && iv >= 0 && iv < 10000;
    /* a list adds Redis 7.0's quicklist figures; Kevo keeps no per-element byte sizes, so the
     * node count assumes ~16 bytes per element under a byte-budget fill (doc/commands.md) */
    char ql[160] = "";
    if (v.type == KTYPE_LIST && v.plen >= COLL_META_FIXED) {
        long long count = 0;
        for (int i = 7; i >= 0; i--) count = (count << 8) | (unsigned char)v.payload[8 + i];
        long long fill = config.list_max_listpack_size;
        static const long long budget[] = {4096, 8192, 16384, 32768, 65536};
        long long per_node = fill > 0 ? fill : budget[fill < -5 ? 4 : -fill - 1] / 16;
        long long nodes = count > 0 ? (count + per_node - 1) / per_node : 0;
        snprintf(ql, sizeof ql,
                 " ql_nodes:%lld ql_avg_node:%.2f ql_listpack_max:%lld ql_compressed:%d "
                 "ql_uncompressed_size:%lld",
                 nodes, nodes ? (double)count / (double)nodes : 0.0, fill,
                 config.list_compress_depth != 0, count * 16);
    }
    char line[384];
    snprintf(line, sizeof(line),
             "Value at:0x%012llx refcount:%d encoding:%s serializedlength:%zu lru:0 "
             "lru_seconds_idle:0%s",
             (unsigned long long)(uintptr_t)v.payload & 0xffffffffffffull,
             shared ? 2147483647 : 1, enc, serlen ? serlen : 1, ql);
    reply_simple(c, line);
}

static void cmd_debug(client *c)
{
    /* enable-debug-command is checked by command_process (CMD_PROTECTED), as Redis does */
    const cmdarg *sub = &c->argv[1];
    if (arg_is(sub, "help")) {
        static const char *const lines[] = {
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOG <message>",
            "    Write <message> to the server log.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not accessed.",
            "RELOAD [NOSAVE]",
            "    Commit the WAL, flush memtables (unless NOSAVE), close and reopen the engine.",
            "OBJECT <key>",
            "    Show low level info about the key.",
            "JMAP",
            "    Show jemalloc statistics (in the server log).",
            "DISK-READ-DELAY <milliseconds>",
            "    Every background disk read (disk-read-threads) first sleeps this long (tests: 0 = off).",
            "HELP",
            "    Print this help.",
        };
        reply_help(c, lines, sizeof lines / sizeof lines[0]);
    } else if (arg_is(sub, "log") && c->argc == 3) {
        log_msg(LL_WARNING, "DEBUG LOG: %s", c->argv[2].ptr);
        reply_ok(c);
    } else if (arg_is(sub, "sleep") && c->argc == 3) {
        double d = strtod(c->argv[2].ptr, NULL);
        if (d > 0) {
            struct timespec ts;
            ts.tv_sec = (time_t)d;
            ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
            nanosleep(&ts, NULL);
        }
        reply_ok(c);
    } else if (arg_is(sub, "set-active-expire") && c->argc == 3) {
        server.active_expire_enabled = atoi(c->argv[2].ptr) != 0;
        reply_ok(c);
    } else if (arg_is(sub, "reload")) {
        int flush = 1;
        for (int i = 2; i < c->argc; i++) {
            if (arg_is(&c->argv[i], "NOSAVE")) flush = 0;
            else if (arg_is(&c->argv[i], "NOFLUSH") || arg_is(&c->argv[i], "MERGE")) continue;
            else {
                reply_error(c, "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
                return;
            }
        }
        if (server_reload_engine(flush) < 0) {
            reply_error(c, "ERR Error trying to load the engine");
            return;
        }
        log_msg(LL_NOTICE, "DB reloaded by DEBUG RELOAD");
        reply_ok(c);
    } else if (arg_is(sub, "object") && c->argc == 3) {
        debug_object(c);
    } else if (arg_is(sub, "disk-read-delay") && c->argc == 3) {
        long long ms;
        if (!string2ll(c->argv[2].ptr, c->argv[2].len, &ms) || ms < 0 || ms > 60000) {
            reply_error(c, "ERR DISK-READ-DELAY takes milliseconds from 0 to 60000");
            return;
        }
        lsm_debug_set_read_delay_us((unsigned)(ms * 1000));
        reply_ok(c);
    } else if (arg_is(sub, "jmap")) {
#ifdef KEVO_JEMALLOC
        malloc_stats_print(NULL, NULL, NULL);
#endif
        reply_ok(c);
    } else {
        reply_subcommand_syntax_error(c);
    }
}

/* ---------------------------------------------------------------- FUNCTION, SLOWLOG, misc */

static void slowlog_get_cmd(client *c)
{
    long long count = 10;
    if (c->argc == 3) {
        if (!string2ll(c->argv[2].ptr, c->argv[2].len, &count) || count < -1) {
            reply_error(c, "ERR count should be greater than or equal to -1");
            return;
        }
        if (count == -1) count = (long long)slowlog_len();
    }
    long long n = (long long)slowlog_len() < count ? (long long)slowlog_len() : count;
    reply_array(c, (long)n);
    for (long long i = 0; i < n; i++) {
        const slowlog_entry *e = slowlog_get((size_t)i);
        reply_array(c, 6);
        reply_int(c, e->id);
        reply_int(c, e->time);
        reply_int(c, e->duration);
        reply_array(c, e->argc);
        for (int j = 0; j < e->argc; j++) reply_bulk(c, e->argv[j] ? e->argv[j] : "", e->argl[j]);
        reply_bulk_cstr(c, e->peer);
        reply_bulk_cstr(c, e->name);
    }
}

static void slowlog_len_cmd(client *c) { reply_int(c, (long long)slowlog_len()); }
static void slowlog_reset_cmd(client *c)
{
    slowlog_reset();
    reply_ok(c);
}
static void slowlog_help_cmd(client *c)
{
    static const char *const lines[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof lines / sizeof lines[0]);
}

static void cmd_role(client *c)
{
    reply_array(c, 3);
    reply_bulk_cstr(c, "master");
    reply_int(c, 0);
    reply_array(c, 0);
}

static void cmd_wait(client *c)
{
    long long n, t;
    if (!string2ll(c->argv[1].ptr, c->argv[1].len, &n) || !string2ll(c->argv[2].ptr, c->argv[2].len, &t)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if (t < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    reply_int(c, 0);
}

static void cmd_readonly_noop(client *c) { reply_ok(c); }

static void cmd_monitor(client *c)
{
    if (c->flags & CLIENT_MONITOR) return; /* already monitoring: ignored, as Redis */
    client_monitor_add(c);
    reply_ok(c);
}

/* ---------------------------------------------------------------- tables */

#define A CMD_ADMIN
#define NS CMD_NOSCRIPT
#define LS (CMD_LOADING | CMD_STALE)

static const struct command client_subcommands[] = {
    {"id", client_id_cmd, 2, NS | LS, 0, 0, 0, "connection", "Returns the unique client ID of the connection.", "5.0.0", "", NULL},
    {"getname", client_getname_cmd, 2, NS | LS, 0, 0, 0, "connection", "Returns the name of the connection.", "2.6.9", "", NULL},
    {"setname", client_setname_cmd, 3, NS | LS, 0, 0, 0, "connection", "Sets the connection name.", "2.6.9", "connection-name", NULL},
    {"list", client_list_cmd, -2, A | NS | LS, 0, 0, 0, "connection", "Lists open connections.", "2.4.0", "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]", NULL},
    {"info", client_info_cmd, 2, NS | LS, 0, 0, 0, "connection", "Returns information about the connection.", "6.2.0", "", NULL},
    {"kill", client_kill_cmd, -3, A | NS | LS, 0, 0, 0, "connection", "Terminates open connections.", "2.4.0", "ip:port|[ID client-id] [TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME YES|NO]", NULL},
    {"setinfo", client_setinfo_cmd, 4, NS | LS, 0, 0, 0, "connection", "Sets information specific to the client or connection.", "7.2.0", "LIB-NAME libname|LIB-VER libver", NULL},
    {"no-evict", client_no_evict_cmd, 3, A | NS | LS, 0, 0, 0, "connection", "Sets the client eviction mode of the connection.", "7.0.0", "ON|OFF", NULL},
    {"no-touch", client_no_touch_cmd, 3, NS | LS, 0, 0, 0, "connection", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "7.2.0", "ON|OFF", NULL},
    {"reply", client_reply_cmd, 3, NS | LS, 0, 0, 0, "connection", "Instructs the server whether to reply to commands.", "3.2.0", "ON|OFF|SKIP", NULL},
    {"unblock", client_unblock_cmd, -3, A | NS | LS, 0, 0, 0, "connection", "Unblocks a client blocked by a blocking command from a different connection.", "5.0.0", "client-id [TIMEOUT|ERROR]", NULL},
    {"tracking", tracking_client_tracking_cmd, -3, NS | LS, 0, 0, 0, "connection", "Controls server-assisted client-side caching for the connection.", "6.0.0", "ON|OFF [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]", NULL},
    {"caching", tracking_client_caching_cmd, 3, NS | LS, 0, 0, 0, "connection", "Instructs the server whether to track the keys in the next request.", "6.0.0", "YES|NO", NULL},
    {"getredir", tracking_client_getredir_cmd, 2, NS | LS, 0, 0, 0, "connection", "Returns the client ID to which the connection's tracking notifications are redirected.", "6.0.0", "", NULL},
    {"trackinginfo", tracking_client_trackinginfo_cmd, 2, NS | LS, 0, 0, 0, "connection", "Returns information about server-assisted client-side caching for the connection.", "6.2.0", "", NULL},
    {"help", client_help_cmd, 2, LS, 0, 0, 0, "connection", "Returns helpful text about the different subcommands.", "5.0.0", "", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

static const struct command command_subcommands[] = {
    {"count", command_count_cmd, 2, LS, 0, 0, 0, "server", "Returns a count of commands.", "2.8.13", "", NULL},
    {"info", command_info_cmd, -2, LS, 0, 0, 0, "server", "Returns information about one, multiple or all commands.", "2.8.13", "[command-name [command-name ...]]", NULL},
    {"docs", command_docs_cmd, -2, LS, 0, 0, 0, "server", "Returns documentary information about one, multiple or all commands.", "7.0.0", "[command-name [command-name ...]]", NULL},
    {"list", command_list_cmd, -2, LS, 0, 0, 0, "server", "Returns a list of command names.", "7.0.0", "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]", NULL},
    {"getkeys", command_getkeys_cmd, -4, LS, 0, 0, 0, "server", "Extracts the key names from an arbitrary command.", "2.8.13", "command [arg [arg ...]]", NULL},
    {"help", command_help_cmd, 2, LS, 0, 0, 0, "server", "Returns helpful text about the different subcommands.", "5.0.0", "", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

static const struct command config_subcommands[] = {
    {"get", config_get_command, -3, A | NS | LS, 0, 0, 0, "server", "Returns the effective values of configuration parameters.", "2.0.0", "parameter [parameter ...]", NULL},
    {"set", config_set_command, -4, A | NS | LS, 0, 0, 0, "server", "Sets configuration parameters in-flight.", "2.0.0", "parameter value [parameter value ...]", NULL},
    {"resetstat", config_resetstat_command, 2, A | NS | LS, 0, 0, 0, "server", "Resets the server's statistics.", "2.0.0", "", NULL},
    {"rewrite", config_rewrite_command, 2, A | NS | LS, 0, 0, 0, "server", "Persists the effective configuration to file.", "2.8.0", "", NULL},
    {"help", config_help_command, 2, LS, 0, 0, 0, "server", "Returns helpful text about the different subcommands.", "5.0.0", "", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

static const struct command slowlog_subcommands[] = {
    {"get", slowlog_get_cmd, -2, A | LS, 0, 0, 0, "server", "Returns the slow log's entries.", "2.2.12", "[count]", NULL},
    {"len", slowlog_len_cmd, 2, A | LS, 0, 0, 0, "server", "Returns the number of entries in the slow log.", "2.2.12", "", NULL},
    {"reset", slowlog_reset_cmd, 2, A | LS, 0, 0, 0, "server", "Clears all entries from the slow log.", "2.2.12", "", NULL},
    {"help", slowlog_help_cmd, 2, LS, 0, 0, 0, "server", "Show helpful text about the different subcommands", "6.2.0", "", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

const struct command server_commands[] = {
    {"ping", cmd_ping, -1, CMD_FAST, 0, 0, 0, "connection", "Returns the server's liveliness response.", "1.0.0", "[message]", NULL},
    {"echo", cmd_echo, 2, CMD_FAST | LS, 0, 0, 0, "connection", "Returns the given string.", "1.0.0", "message", NULL},
    {"quit", cmd_quit, -1, NS | CMD_NO_AUTH | CMD_FAST | LS | CMD_MULTI_CTL | CMD_ALLOW_BUSY, 0, 0, 0, "connection", "Closes the connection.", "1.0.0", "", NULL},
    {"hello", cmd_hello, -1, CMD_NO_AUTH | CMD_FAST | LS | NS | CMD_ALLOW_BUSY, 0, 0, 0, "connection", "Handshakes with the Redis server.", "6.0.0", "[protover [AUTH username password] [SETNAME clientname]]", NULL},
    {"auth", cmd_auth, -2, CMD_NO_AUTH | CMD_FAST | LS | NS | CMD_ALLOW_BUSY, 0, 0, 0, "connection", "Authenticates the connection.", "1.0.0", "[username] password", NULL},
    {"reset", cmd_reset, 1, CMD_NO_AUTH | CMD_FAST | LS | NS | CMD_MULTI_CTL | CMD_ALLOW_BUSY, 0, 0, 0, "connection", "Resets the connection.", "6.2.0", "", NULL},
    {"client", NULL, -2, 0, 0, 0, 0, "connection", "A container for client connection commands.", "2.4.0", "", client_subcommands},
    {"command", cmd_command, -1, LS, 0, 0, 0, "server", "Returns detailed information about all commands.", "2.8.13", "", command_subcommands},
    {"info", cmd_info, -1, LS, 0, 0, 0, "server", "Returns information and statistics about the server.", "1.0.0", "[section [section ...]]", NULL},
    {"config", NULL, -2, 0, 0, 0, 0, "server", "A container for server configuration commands.", "2.0.0", "", config_subcommands},
    {"time", cmd_time, 1, CMD_FAST | LS, 0, 0, 0, "server", "Returns the server time.", "2.6.0", "", NULL},
    {"lastsave", cmd_lastsave, 1, CMD_FAST | LS, 0, 0, 0, "server", "Returns the Unix timestamp of the last successful save to disk.", "1.0.0", "", NULL},
    {"debug", cmd_debug, -2, A | NS | LS | CMD_PROTECTED, 0, 0, 0, "server", "A container for debugging commands.", "1.0.0", "subcommand [arg ...]", NULL},
    {"slowlog", NULL, -2, 0, 0, 0, 0, "server", "A container for slow log commands.", "2.2.12", "", slowlog_subcommands},
    {"save", cmd_save, 1, A | NS | CMD_NO_MULTI, 0, 0, 0, "server", "Synchronously saves the database(s) to disk.", "1.0.0", "", NULL},
    {"bgsave", cmd_bgsave, -1, A | NS, 0, 0, 0, "server", "Asynchronously saves the database(s) to disk.", "1.0.0", "[SCHEDULE]", NULL},
    {"bgrewriteaof", cmd_bgrewriteaof, 1, A | NS, 0, 0, 0, "server", "Asynchronously rewrites the append-only file to disk.", "1.0.0", "", NULL},
    {"compact", cmd_compact, -1, A | NS, 0, 0, 0, "server", "Compacts the whole keyspace down to the last level (Kevo).", "7.0.0", "[ASYNC|SYNC]", NULL},
    {"shutdown", cmd_shutdown, -1, A | NS | LS | CMD_NO_MULTI | CMD_ALLOW_BUSY, 0, 0, 0, "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "1.0.0", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]", NULL},
    {"role", cmd_role, 1, NS | LS | CMD_FAST, 0, 0, 0, "server", "Returns the replication role.", "2.8.12", "", NULL},
    {"wait", cmd_wait, 3, NS, 0, 0, 0, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "3.0.0", "numreplicas timeout", NULL},
    {"monitor", cmd_monitor, 1, A | NS | LS, 0, 0, 0, "server", "Listens for all requests received by the server in real-time.", "1.0.0", "", NULL},
    {"readwrite", cmd_readonly_noop, 1, LS | CMD_FAST, 0, 0, 0, "connection", "Enables read-write queries for a connection to a Redis Cluster replica node.", "3.0.0", "", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
