/* command.c - the joined command table, case-insensitive lookup, and dispatch with Redis's
 * checks (see command.h), plus per-command statistics and the slow log (info.h). */
#include "command.h"
#include "keyspace.h"
#include "blocking.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "config.h"
#include "info.h"
#include "log.h"
#include "lsm.h"
#include "io_wait.h"
#include "multi.h"
#include "scripting.h"
#include "server.h"
#include "tracking.h"
#include "util.h"

typedef struct cmd_entry {
    command_stats st;
    struct cmd_entry *subs;
    int nsubs;
} cmd_entry;

static cmd_entry *entries;     /* top-level commands in table order */
static size_t nentries;
static cmd_entry **htab;       /* open addressing by lowercase name */
static size_t hsize;

static uint64_t name_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)tolower((unsigned char)s[i]);
        h *= 1099511628211ULL;
    }
    return h;
}

static void entry_init(cmd_entry *e, const struct command *cmd, const struct command *parent)
{
    memset(e, 0, sizeof *e);
    e->st.cmd = cmd;
    e->st.parent = parent;
    if (parent) snprintf(e->st.fullname, sizeof e->st.fullname, "%s|%s", parent->name, cmd->name);
    else snprintf(e->st.fullname, sizeof e->st.fullname, "%s", cmd->name);
    if (cmd->subcommands) {
        int n = 0;
        while (cmd->subcommands[n].name) n++;
        e->subs = calloc((size_t)n, sizeof *e->subs);
        e->nsubs = n;
        for (int i = 0; i < n; i++) entry_init(&e->subs[i], &cmd->subcommands[i], cmd);
    }
}

void command_table_init(void)
{
    if (entries) return;
    const struct command *tables[] = {server_commands, string_commands, keys_commands, multi_commands,
                                      hll_commands, bitops_commands,
                                      hash_commands, set_commands,
                                      zset_commands, list_commands, sort_commands, blocking_commands,
                                      pubsub_commands, script_commands, stream_commands};
    size_t n = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct command *c = tables[t]; c->name; c++) n++;
    entries = calloc(n, sizeof *entries);
    hsize = 16;
    while (hsize < n * 3) hsize *= 2;
    htab = calloc(hsize, sizeof *htab);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct command *c = tables[t]; c->name; c++) {
            size_t len = strlen(c->name);
            size_t h = (size_t)name_hash(c->name, len) & (hsize - 1);
            int dup = 0;
            while (htab[h]) {
                if (!strcasecmp(htab[h]->st.cmd->name, c->name)) dup = 1;
                h = (h + 1) & (hsize - 1);
            }
            if (dup) {
                log_msg(LL_WARNING, "Duplicate command '%s' in the command tables (ignored)", c->name);
                continue;
            }
            cmd_entry *e = &entries[nentries++];
            entry_init(e, c, NULL);
            htab[h] = e;
        }
}

static cmd_entry *lookup_entry(const char *name, size_t len)
{
    if (!htab) return NULL;
    size_t h = (size_t)name_hash(name, len) & (hsize - 1);
    while (htab[h]) {
        const char *n = htab[h]->st.cmd->name;
        if (strlen(n) == len && !strncasecmp(n, name, len)) return htab[h];
        h = (h + 1) & (hsize - 1);
    }
    return NULL;
}

static cmd_entry *lookup_sub_entry(cmd_entry *e, const char *name, size_t len)
{
    for (int i = 0; i < e->nsubs; i++) {
        const char *n = e->subs[i].st.cmd->name;
        if (strlen(n) == len && !strncasecmp(n, name, len)) return &e->subs[i];
    }
    return NULL;
}

const struct command *command_lookup(const char *name, size_t len)
{
    cmd_entry *e = lookup_entry(name, len);
    return e ? e->st.cmd : NULL;
}

const struct command *command_lookup_sub(const struct command *cmd, const char *name, size_t len)
{
    cmd_entry *e = lookup_entry(cmd->name, strlen(cmd->name));
    if (!e || e->st.cmd != cmd) return NULL;
    cmd_entry *s = lookup_sub_entry(e, name, len);
    return s ? s->st.cmd : NULL;
}

static cmd_entry *entry_of(const struct command *cmd)
{
    for (size_t i = 0; i < nentries; i++) {
        if (entries[i].st.cmd == cmd) return &entries[i];
        for (int j = 0; j < entries[i].nsubs; j++)
            if (entries[i].subs[j].st.cmd == cmd) return &entries[i].subs[j];
    }
    return NULL;
}

/* The error count when the last command (or nested command) finished: a command failed when
 * errors were counted since then (Redis's incrCommandStatsOnError), so a script's or a
 * transaction's failed inner commands are not charged to EVAL / EXEC as well. */
static long long prev_err_count;

/* Runs the handler with timing and stats. */
static void call_entry(client *c, cmd_entry *e)
{
    const struct command *cmd = e->st.cmd;
    const struct command *saved = c->cmd;
    c->cmd = cmd;
    uint64_t start;
    if (c->flags & CLIENT_SCRIPT) {
        start = server_ustime(); /* a script's commands all see the time the script started */
    } else {
        server_update_cmd_time();
        start = server.cmd_time_us;
    }
    prev_err_count = server.stat.total_error_replies;
    client_set_lastcmd(c, e->st.fullname);
    if (client_monitors_active() && !(cmd->flags & CMD_ADMIN) && !(e->st.parent && (e->st.parent->flags & CMD_ADMIN)))
        client_monitor_feed(c);
    cmd->proc(c);
    keyspace_command_done(); /* a write group the handler left open is closed here */
    /* client-side caching: the keys a tracking client read (Redis's call()) */
    if ((c->flags & (CLIENT_TRACKING | CLIENT_SCRIPT)) && (cmd->flags & CMD_READONLY)) tracking_remember_keys(c, cmd);
    uint64_t dur = server_ustime() - start;
    if ((long long)dur < 0) dur = 0;
    e->st.calls++;
    e->st.usec += (long long)dur;
    if (server.stat.total_error_replies - prev_err_count > 0) e->st.failed_calls++;
    prev_err_count = server.stat.total_error_replies;
    server.stat.numcommands++;
    if (config.slowlog_log_slower_than >= 0 && (long long)dur >= config.slowlog_log_slower_than &&
        !(cmd->flags & CMD_SKIP_SLOWLOG))
        slowlog_push(c, (long long)dur);
    c->cmd = saved;
}

static cmd_entry *entry_fast(const struct command *cmd);

void command_call(client *c, const struct command *cmd)
{
    cmd_entry *e = entry_fast(cmd);
    if (!e || !cmd->proc) return;
    call_entry(c, e);
}

static cmd_entry *entry_of_cmd(const struct command *cmd)
{
    cmd_entry *t = lookup_entry(cmd->name, strlen(cmd->name));
    return t && t->st.cmd == cmd ? t : entry_of(cmd);
}

void command_note_rejected(const struct command *cmd)
{
    cmd_entry *e = cmd ? entry_of_cmd(cmd) : NULL;
    if (e) e->st.rejected_calls++;
    prev_err_count = server.stat.total_error_replies;
}

void command_note_failed(const struct command *cmd)
{
    cmd_entry *e = cmd ? entry_of_cmd(cmd) : NULL;
    if (e) e->st.failed_calls++;
}

static void reject(client *c, cmd_entry *e, const char *err)
{
    if (e) e->st.rejected_calls++;
    multi_flag_error(c);
    if (e && !e->st.parent && !strcmp(e->st.cmd->name, "exec")) {
        /* as Redis's execCommandAbort: the transaction is discarded */
        multi_client_free(c);
        c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC);
        if (!strncmp(err, "ERR ", 4)) err += 4;
        reply_errorf(c, "EXECABORT Transaction discarded because of: %s", err);
        return;
    }
    reply_error(c, err);
}

/* "POST" or "Host:" as a command name: an HTTP request sent to the server (cross protocol
 * scripting). Redis closes the connection without a reply. */
static int command_is_http(const cmdarg *a)
{
    return (a->len == 4 && !strncasecmp(a->ptr, "post", 4)) || (a->len == 5 && !strncasecmp(a->ptr, "host:", 5));
}

/* Redis 7.0 lets a RESP2 client in subscribed mode run only these. */
static int allowed_in_pubsub_context(const struct command *top)
{
    static const char *const names[] = {"ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe",
                                        "psubscribe", "punsubscribe", "quit", "reset"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(top->name, names[i])) return 1;
    return 0;
}

/* Runs the command after every check; *top gets the top-level command looked up (NULL when
 * unknown). Returns as command_process. */
static int process_command(client *c, const struct command **top)
{
    char err[600];
    if (command_is_http(&c->argv[0])) {
        static uint64_t logged_ms;
        uint64_t now = server_now_ms();
        if (!logged_ms || now - logged_ms > 60000) {
            log_msg(LL_WARNING, "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection aborted.");
            logged_ms = now;
        }
        client_close_async(c);
        return 0;
    }
    cmd_entry *e = lookup_entry(c->argv[0].ptr, c->argv[0].len);
    if (!e) {
        char args[300];
        size_t al = 0;
        args[0] = 0;
        for (int i = 1; i < c->argc && al < 128; i++) {
            int n = snprintf(args + al, sizeof args - al, "'%.*s' ", (int)(128 - al), c->argv[i].ptr);
            if (n < 0) break;
            al += (size_t)n;
            if (al >= sizeof args) al = sizeof args - 1;
        }
        snprintf(err, sizeof err, "ERR unknown command '%.128s', with args beginning with: %s", c->argv[0].ptr, args);
        for (char *p = err; *p; p++)
            if (*p == '\r' || *p == '\n') *p = ' ';
        reject(c, NULL, err);
        return 0;
    }
    *top = e->st.cmd;
    cmd_entry *run = e;
    if (e->nsubs && c->argc >= 2) {
        run = lookup_sub_entry(e, c->argv[1].ptr, c->argv[1].len);
        if (!run) {
            char up[64];
            size_t i;
            for (i = 0; i + 1 < sizeof up && e->st.cmd->name[i]; i++) up[i] = (char)toupper((unsigned char)e->st.cmd->name[i]);
            up[i] = 0;
            snprintf(err, sizeof err, "ERR unknown subcommand '%.128s'. Try %s HELP.", c->argv[1].ptr, up);
            for (char *p = err; *p; p++)
                if (*p == '\r' || *p == '\n') *p = ' ';
            reject(c, e, err);
            return 0;
        }
    }
    const struct command *cmd = run->st.cmd;
    if ((cmd->arity > 0 && cmd->arity != c->argc) || c->argc < -cmd->arity || !cmd->proc) {
        snprintf(err, sizeof err, "ERR wrong number of arguments for '%s' command", run->st.fullname);
        reject(c, run, err);
        return 0;
    }
    if ((e->st.cmd->flags & CMD_PROTECTED) && !config_allow_protected(config.enable_debug_command, c)) {
        reject(c, run, "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
        return 0;
    }
    if (!c->authenticated && config.requirepass && config.requirepass[0] && !(cmd->flags & CMD_NO_AUTH) &&
        !(e->st.cmd->flags & CMD_NO_AUTH)) {
        reject(c, run, "NOAUTH Authentication required.");
        return 0;
    }
    if ((c->flags & CLIENT_MULTI) && (cmd->flags & CMD_NO_MULTI)) {
        reject(c, run, "ERR Command not allowed inside a transaction");
        return 0;
    }
    /* EVAL/FCALL: the flags the script declared (Redis's getCommandFlags) */
    uint32_t flags = (cmd->flags & CMD_SCRIPTED) ? script_command_flags(c, cmd) : cmd->flags;
    const char *why = NULL;
    if ((flags & CMD_WRITE) &&
        (server.commit_failed || (server.engine && lsm_write_error(server.engine, &why)))) {
        /* Redis refuses writes the same way after a failed AOF write or fsync; reads go on, and
         * the engine repairs itself in the background (INFO persistence shows the state) */
        snprintf(err, sizeof err,
                 "MISCONF Errors writing to the write-ahead log (%.200s). Commands that may modify the data set are disabled until the problem is fixed.",
                 why && *why ? why : server.commit_err);
        reject(c, run, err);
        return 0;
    }
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2 && !allowed_in_pubsub_context(e->st.cmd)) {
        snprintf(err, sizeof err,
                 "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                 run->st.fullname);
        reject(c, run, err);
        return 0;
    }
    /* a script past busy-reply-threshold: only the allow_busy commands (Redis's order: after
     * MISCONF, before MULTI queueing) */
    if (scripting_busy() && !(cmd->flags & CMD_ALLOW_BUSY)) {
        reject(c, run, scripting_busy_error());
        return 0;
    }
    if ((c->flags & CLIENT_MULTI) && !(cmd->flags & CMD_MULTI_CTL) && !(e->st.cmd->flags & CMD_MULTI_CTL)) {
        multi_queue_command(c);
        return 0;
    }
    if ((flags & (CMD_WRITE | CMD_MAY_REPLICATE)) && server.engine && lsm_write_stalled(server.engine)) {
        client_pause_write(c);
        return 1;
    }
    if (io_wait_command(c, cmd, flags)) return 1; /* parked: its keys' reads are in flight */
    if ((flags & (CMD_WRITE | CMD_MAY_REPLICATE | CMD_MULTI_CTL)) && server.engine && lsm_commit_wanted(server.engine))
        server_commit_point();
    if (flags & (CMD_WRITE | CMD_MAY_REPLICATE | CMD_MULTI_CTL)) client_note_write(c);
    if (tracking_clients()) tracking_limit_keys(); /* bound the table before the command adds */
    server.current_client = c;
    call_entry(c, run);
    tracking_command_done(); /* invalidations for c itself come after its reply */
    server.current_client = NULL;
    if (c->flags & CLIENT_BLOCKED) return 2; /* its command wrote nothing: nothing got ready */
    blocking_handle_ready(); /* after the command, or after EXEC as a whole */
    return 0;
}

int command_process(client *c)
{
    const struct command *top = NULL;
    int r = process_command(c, &top);
    /* CLIENT CACHING yes|no applies to the next command (or transaction) only */
    if (r != 1 && (c->flags & CLIENT_TRACKING_CACHING) && !(c->flags & CLIENT_MULTI) &&
        !(top && !strcmp(top->name, "client")))
        c->flags &= ~CLIENT_TRACKING_CACHING;
    return r;
}

/* The stats entry of cmd (top-level by name first, then a scan for subcommands). */
static cmd_entry *entry_fast(const struct command *cmd)
{
    cmd_entry *t = lookup_entry(cmd->name, strlen(cmd->name));
    return t && t->st.cmd == cmd ? t : entry_of(cmd);
}

void command_rerun(client *c, const struct command *cmd)
{
    cmd_entry *e = entry_fast(cmd);
    if (!e || !cmd->proc) return;
    if ((cmd->flags & CMD_WRITE) && server.engine && lsm_commit_wanted(server.engine)) server_commit_point();
    if (cmd->flags & CMD_WRITE) client_note_write(c);
    const struct command *saved = c->cmd;
    c->cmd = cmd;
    server_update_cmd_time();
    uint64_t start = server.cmd_time_us;
    long long errs = server.stat.total_error_replies;
    cmd->proc(c);
    keyspace_command_done();
    uint64_t dur = server_ustime() - start;
    if ((long long)dur < 0) dur = 0;
    e->st.usec += (long long)dur;
    if (server.stat.total_error_replies != errs) e->st.failed_calls++;
    c->cmd = saved;
}

void command_count_failed(const struct command *cmd)
{
    cmd_entry *e = cmd ? entry_fast(cmd) : NULL;
    if (e) e->st.failed_calls++;
}

/* ---------------------------------------------------------------- keys of a command */

static const struct command_keynum *const keynum_tables[] = {zset_keynum_commands};

static const struct command_keynum *scan_keynum(const struct command *cmd)
{
    for (size_t t = 0; t < sizeof keynum_tables / sizeof keynum_tables[0]; t++)
        for (const struct command_keynum *k = keynum_tables[t]; k->name; k++)
            if (!strcmp(k->name, cmd->name)) return k;
    return NULL;
}

static const struct command_keyword *const keyword_tables[] = {stream_keyword_commands};

static const struct command_keyword *scan_keyword(const struct command *cmd)
{
    for (size_t t = 0; t < sizeof keyword_tables / sizeof keyword_tables[0]; t++)
        for (const struct command_keyword *k = keyword_tables[t]; k->name; k++)
            if (!strcmp(k->name, cmd->name)) return k;
    return NULL;
}

static const struct command_getkeys *const getkeys_tables[] = {sort_getkeys_commands};

static const struct command_getkeys *scan_getkeys(const struct command *cmd)
{
    for (size_t t = 0; t < sizeof getkeys_tables / sizeof getkeys_tables[0]; t++)
        for (const struct command_getkeys *g = getkeys_tables[t]; g->name; g++)
            if (!strcmp(g->name, cmd->name)) return g;
    return NULL;
}

/* A command's entries in the key-spec tables above, which are searched by name: found once per
 * command and kept in a direct-mapped cache keyed by the command's address (every command that
 * has keys asks on the hot path: io_wait.c, tracking). */
typedef struct keyinfo {
    const struct command *cmd;
    const struct command_keyword *kw;
    const struct command_getkeys *gk;
    const struct command_keynum *kn;
} keyinfo;

static const keyinfo *keyinfo_of(const struct command *cmd)
{
    static keyinfo cache[512];
    keyinfo *k = &cache[((uintptr_t)cmd / sizeof(*cmd)) & 511];
    if (k->cmd != cmd) {
        k->kw = scan_keyword(cmd);
        k->gk = scan_getkeys(cmd);
        k->kn = scan_keynum(cmd);
        k->cmd = cmd;
    }
    return k;
}

const struct command_keynum *command_keynum_of(const struct command *cmd) { return keyinfo_of(cmd)->kn; }
const struct command_keyword *command_keyword_of(const struct command *cmd) { return keyinfo_of(cmd)->kw; }

/* Redis's getKeysUsingKeySpecs for one keyword spec: the count (positions into pos), 0 when the
 * keyword is absent, -1 when the range is invalid. */
static int keyword_keys(const struct command_keyword *kw, const struct cmdarg *argv, int argc, int *pos, int max)
{
    int first = 0;
    int start = kw->startfrom > 0 ? kw->startfrom : argc + kw->startfrom;
    int end = kw->startfrom > 0 ? argc - 1 : 1;
    for (int i = start; i != end; i = start <= end ? i + 1 : i - 1) {
        if (i >= argc || i < 1) break;
        if (!strcasecmp(argv[i].ptr, kw->keyword)) {
            first = i + 1;
            break;
        }
    }
    if (!first) return 0;
    int last;
    if (kw->lastkey >= 0) last = first + kw->lastkey;
    else if (!kw->limit) last = argc + kw->lastkey;
    else last = first + ((argc - first) / kw->limit + kw->lastkey);
    if (last >= argc || last < first || first >= argc) return -1;
    int n = 0;
    for (int i = first; i <= last; i += kw->keystep > 0 ? kw->keystep : 1, n++)
        if (n < max) pos[n] = i;
    return n;
}

const struct command_getkeys *command_getkeys_of(const struct command *cmd) { return keyinfo_of(cmd)->gk; }

int command_get_keys(const struct command *cmd, const struct cmdarg *argv, int argc, int *pos, int max)
{
    const keyinfo *ki = keyinfo_of(cmd);
    const struct command_keyword *kw = ki->kw;
    if (kw) {
        int n = keyword_keys(kw, argv, argc, pos, max);
        if (n < 0) n = kw->getkeys ? kw->getkeys(argv, argc, pos, max) : 0;
        return n > 0 ? n : -1;
    }
    const struct command_getkeys *g = ki->gk;
    if (g) return g->proc(argv, argc, pos, max);
    const struct command_keynum *k = ki->kn;
    int n = 0;
    int store_idx = 0, numkeys_idx, step = 1;
    if (k) {
        store_idx = k->store_idx;
        numkeys_idx = k->numkeys_idx;
    } else if (cmd->flags & CMD_KEYNUM) {
        numkeys_idx = cmd->first_key;
        step = cmd->key_step > 0 ? cmd->key_step : 1;
    } else {
        if (cmd->first_key <= 0) return -1;
        int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
        step = cmd->key_step > 0 ? cmd->key_step : 1;
        for (int i = cmd->first_key; i <= last && i < argc; i += step) {
            if (n < max) pos[n] = i;
            n++;
        }
        return n;
    }
    if (numkeys_idx <= 0 || numkeys_idx >= argc) return -1;
    const cmdarg *na = &argv[numkeys_idx];
    int first = numkeys_idx + 1;
    /* Redis's key specs: numkeys a strict integer naming keys that are all there; the
     * destination first */
    long long num;
    if (string2ll(na->ptr, na->len, &num) && num >= 1 && num <= (argc - first + step - 1) / step) {
        if (store_idx > 0) {
            if (n < max) pos[n] = store_idx;
            n++;
        }
        for (int i = 0; i < (int)num; i++, n++)
            if (n < max) pos[n] = first + i * step;
        return n;
    }
    /* else Redis's getkeys procs: atoi, at least one key, all there; the destination last */
    int a = atoi(na->ptr);
    if (a < 1 || a > (argc - first) / step) return -1;
    for (int i = 0; i < a; i++, n++)
        if (n < max) pos[n] = first + i * step;
    if (store_idx > 0) {
        if (n < max) pos[n] = store_idx;
        n++;
    }
    return n;
}

/* ---------------------------------------------------------------- stats (info.h) */

void command_stats_foreach(void (*fn)(command_stats *st, void *ctx), void *ctx)
{
    for (size_t i = 0; i < nentries; i++) {
        fn(&entries[i].st, ctx);
        for (int j = 0; j < entries[i].nsubs; j++) fn(&entries[i].subs[j].st, ctx);
    }
}

static void reset_one(command_stats *st, void *ctx)
{
    (void)ctx;
    st->calls = st->usec = st->rejected_calls = st->failed_calls = 0;
}

void command_stats_reset(void) { command_stats_foreach(reset_one, NULL); }
size_t command_count(void) { return nentries; }

void command_foreach(void (*fn)(const struct command *cmd, void *ctx), void *ctx)
{
    for (size_t i = 0; i < nentries; i++) fn(entries[i].st.cmd, ctx);
}

/* ---------------------------------------------------------------- slow log */

#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_ARGLEN 128

static slowlog_entry *slog;    /* ring, newest at slog_head-1 */
static size_t slog_cap, slog_len, slog_head;
static long long slog_next_id;

static void slowlog_entry_free(slowlog_entry *e)
{
    for (int i = 0; i < e->argc; i++) free(e->argv[i]);
    free(e->argv);
    free(e->argl);
    memset(e, 0, sizeof *e);
}

void slowlog_push(client *c, long long duration_us)
{
    size_t maxlen = (size_t)(config.slowlog_max_len > 0 ? config.slowlog_max_len : 0);
    if (maxlen == 0) {
        slowlog_reset();
        return;
    }
    if (slog_cap != maxlen) { /* resize: keep the newest entries */
        slowlog_entry *n = calloc(maxlen, sizeof *n);
        if (!n) return;
        size_t keep = slog_len < maxlen ? slog_len : maxlen;
        for (size_t i = 0; i < slog_len; i++) {
            size_t src = (slog_head + slog_cap - 1 - i) % slog_cap;
            if (i < keep) n[keep - 1 - i] = slog[src];
            else slowlog_entry_free(&slog[src]);
        }
        free(slog);
        slog = n;
        slog_cap = maxlen;
        slog_len = keep;
        slog_head = keep % maxlen;
    }
    slowlog_entry *e = &slog[slog_head];
    if (slog_len == slog_cap) slowlog_entry_free(e);
    else slog_len++;
    slog_head = (slog_head + 1) % slog_cap;
    e->id = slog_next_id++;
    e->time = (long long)(server_now_ms() / 1000);
    e->duration = duration_us;
    int argc = c->argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : c->argc;
    e->argc = argc;
    e->argv = calloc((size_t)argc, sizeof *e->argv);
    e->argl = calloc((size_t)argc, sizeof *e->argl);
    for (int i = 0; i < argc && e->argv && e->argl; i++) {
        char buf[SLOWLOG_MAX_ARGLEN + 64];
        size_t len;
        if (argc != c->argc && i == argc - 1) {
            len = (size_t)snprintf(buf, sizeof buf, "... (%d more arguments)", c->argc - argc + 1);
        } else if (c->argv[i].len > SLOWLOG_MAX_ARGLEN) {
            memcpy(buf, c->argv[i].ptr, SLOWLOG_MAX_ARGLEN);
            len = SLOWLOG_MAX_ARGLEN + (size_t)snprintf(buf + SLOWLOG_MAX_ARGLEN, 64, "... (%zu more bytes)",
                                                         c->argv[i].len - SLOWLOG_MAX_ARGLEN);
        } else {
            len = c->argv[i].len;
            memcpy(buf, c->argv[i].ptr, len);
        }
        e->argv[i] = malloc(len + 1);
        if (e->argv[i]) {
            memcpy(e->argv[i], buf, len);
            e->argv[i][len] = 0;
        }
        e->argl[i] = e->argv[i] ? len : 0;
    }
    snprintf(e->peer, sizeof e->peer, "%s", client_peer_addr(c));
    snprintf(e->name, sizeof e->name, "%s", c->name ? c->name : "");
}

size_t slowlog_len(void) { return slog_len; }

const slowlog_entry *slowlog_get(size_t i)
{
    if (i >= slog_len) return NULL;
    return &slog[(slog_head + slog_cap - 1 - i) % slog_cap];
}

void slowlog_reset(void)
{
    for (size_t i = 0; i < slog_cap; i++) slowlog_entry_free(&slog[i]);
    slog_len = 0;
    slog_head = 0;
}
