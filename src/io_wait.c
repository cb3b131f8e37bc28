/* io_wait.c - commands wait for their disk reads off the loop (see io_wait.h). */
#include "io_wait.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "command.h"
#include "keyspace.h"
#include "lsm.h"
#include "multi.h"
#include "server.h"
#include "types/coll.h"
#include "types/stream.h"
#include "util.h"

#define MAX_PROBED_KEYS 256      /* keys of one command probed; the rest read in place */
#define READAHEAD_COMMANDS 16    /* pipelined commands behind a parked one */
#define READAHEAD_BYTES (64 * 1024)
#define READAHEAD_ARGS 64

static io_wait_stats st;

/* Probes one key of logical db: 0 when its lookup can run from memory (or fails otherwise: the
 * command meets the error itself), 1 when a read was queued for it with tag. */
/* Engine key ek: 1 when its lookup needs the disk and a read was queued for it with tag. */
static int queue_if_missing(const char *ek, size_t n, uint64_t tag)
{
    if (lsm_get_ready(server.engine, ek, n) != LSM_EAGAIN || lsm_prefetch(server.engine, ek, n, tag) != 0)
        return 0;
    st.reads_queued++;
    return 1;
}

static int probe_key(int db, const char *key, size_t klen, uint64_t tag)
{
    char sbuf[256];
    char *ek = klen + 2 <= sizeof sbuf ? sbuf : malloc(klen + 2);
    if (!ek) return 0;
    int queued = queue_if_missing(ek, keyspace_encode_key(ek, keyspace_phys_db(db), key, klen), tag);
    if (ek != sbuf) free(ek);
    return queued;
}

/* Commands that read members their arguments name (the second step, once the key's metadata
 * is in memory: it holds the collection version the member keys are made of). */
typedef struct member_spec {
    const char *name;
    uint8_t type;   /* KTYPE_* the key must hold */
    int first;      /* argv index of the first member */
    int step;       /* 0: argv[first] only; else every step-th argument from first on */
    int list_index; /* argv[first] is a list index (LINDEX, LSET) */
    int range;      /* RANGE_*: a range read, whose first blocks are read ahead instead */
} member_spec;

#define RANGE_FIRST 1  /* from the first member record (HGETALL, SMEMBERS...) */
#define RANGE_LIST 2   /* from the list index argv[first] (LRANGE) */
#define RANGE_STREAM 3 /* from the stream ID argv[first] (XRANGE start, XREVRANGE end) */
#define RANGE_BLOCKS 2 /* blocks read ahead per table from where the range starts */

static const member_spec member_specs[] = {
    {"hget", KTYPE_HASH, 2, 0, 0, 0},      {"hexists", KTYPE_HASH, 2, 0, 0, 0},
    {"hstrlen", KTYPE_HASH, 2, 0, 0, 0},   {"hincrby", KTYPE_HASH, 2, 0, 0, 0},
    {"hincrbyfloat", KTYPE_HASH, 2, 0, 0, 0}, {"hsetnx", KTYPE_HASH, 2, 0, 0, 0},
    {"hmget", KTYPE_HASH, 2, 1, 0, 0},     {"hdel", KTYPE_HASH, 2, 1, 0, 0},
    {"hset", KTYPE_HASH, 2, 2, 0, 0},      {"hmset", KTYPE_HASH, 2, 2, 0, 0},
    {"sismember", KTYPE_SET, 2, 0, 0, 0},  {"smismember", KTYPE_SET, 2, 1, 0, 0},
    {"sadd", KTYPE_SET, 2, 1, 0, 0},       {"srem", KTYPE_SET, 2, 1, 0, 0},
    {"zscore", KTYPE_ZSET, 2, 0, 0, 0},    {"zmscore", KTYPE_ZSET, 2, 1, 0, 0},
    {"zrem", KTYPE_ZSET, 2, 1, 0, 0},      {"zincrby", KTYPE_ZSET, 3, 0, 0, 0},
    {"lindex", KTYPE_LIST, 2, 0, 1, 0},    {"lset", KTYPE_LIST, 2, 0, 1, 0},
    {"hgetall", KTYPE_HASH, 0, 0, 0, RANGE_FIRST}, {"hkeys", KTYPE_HASH, 0, 0, 0, RANGE_FIRST},
    {"hvals", KTYPE_HASH, 0, 0, 0, RANGE_FIRST},   {"smembers", KTYPE_SET, 0, 0, 0, RANGE_FIRST},
    {"lrange", KTYPE_LIST, 2, 0, 0, RANGE_LIST},   {"xrange", KTYPE_STREAM, 2, 0, 0, RANGE_STREAM},
    {"xrevrange", KTYPE_STREAM, 2, 0, 0, RANGE_STREAM},
};

/* The member spec of cmd or NULL, through a small cache keyed by the command's address (the
 * table is only scanned the first time a command is seen in a slot). */
static const member_spec *spec_of(const struct command *cmd)
{
    static struct {
        const struct command *cmd;
        const member_spec *spec;
    } cache[64];
    size_t slot = ((uintptr_t)cmd >> 4) & 63;
    if (cache[slot].cmd == cmd) return cache[slot].spec;
    const member_spec *spec = NULL;
    for (size_t i = 0; i < sizeof member_specs / sizeof member_specs[0]; i++)
        if (!strcmp(member_specs[i].name, cmd->name)) spec = &member_specs[i];
    cache[slot].cmd = cmd;
    cache[slot].spec = spec;
    return spec;
}

/* Probes one member record of collection version; 1 when a read was queued. */
static int probe_member(uint64_t version, const char *m, size_t mlen, uint64_t tag)
{
    char sbuf[256];
    char *mk = mlen + 10 <= sizeof sbuf ? sbuf : malloc(mlen + 10);
    if (!mk) return 0;
    int queued = queue_if_missing(mk, coll_member_key(mk, version, COLL_SUB_MEMBER, m, mlen), tag);
    if (mk != sbuf) free(mk);
    return queued;
}

/* A stream ID argument (XRANGE's forms: "-", "+", "<ms>[-<seq>]", "(" exclusive) as its 16
 * bytes; 0 when it does not parse (the command answers the error). */
static int stream_id_arg(const cmdarg *a, char out[16])
{
    size_t skip = a->len > 0 && a->ptr[0] == '(';
    stream_id id;
    if (!stream_id_parse(a->ptr + skip, a->len - skip, &id, 0, 0, NULL)) return 0;
    stream_id_encode(out, &id);
    return 1;
}

/* A range read of a collection in memory up to its members: the blocks a seek to where the range
 * starts reads. 1 when their read was queued. */
static int probe_range(const member_spec *ms, uint64_t version, const ks_value *kv, const cmdarg *argv, int argc,
                       uint64_t tag)
{
    char mk[10 + 16];
    size_t n;
    if (ms->range == RANGE_FIRST) {
        n = coll_member_key(mk, version, COLL_SUB_MEMBER, NULL, 0);
    } else if (ms->range == RANGE_LIST) {
        long long idx, count = (long long)get_le64(kv->payload + 8);
        if (argc <= ms->first || kv->plen < COLL_META_FIXED + 8 ||
            !string2ll(argv[ms->first].ptr, argv[ms->first].len, &idx))
            return 0;
        if (idx < 0) idx += count;
        if (idx < 0) idx = 0;
        if (idx >= count) return 0;
        char pos[8];
        put_be64(pos, get_be64(kv->payload + COLL_META_FIXED) + (uint64_t)idx);
        n = coll_member_key(mk, version, COLL_SUB_MEMBER, pos, 8);
    } else {
        char id[16];
        if (argc <= ms->first || !stream_id_arg(&argv[ms->first], id)) return 0;
        n = coll_member_key(mk, version, COLL_SUB_MEMBER, id, 16);
    }
    if (lsm_seek_ready(server.engine, mk, n, RANGE_BLOCKS) == LSM_EAGAIN &&
        lsm_prefetch_seek(server.engine, mk, n, RANGE_BLOCKS, tag) == 0) {
        st.reads_queued++;
        return 1;
    }
    return 0;
}

/* The second step for a command with a member spec whose key's metadata is in memory: probes
 * the member records its arguments name. Returns reads queued. */
static int probe_members(int db, const member_spec *ms, const cmdarg *argv, int argc, uint64_t tag)
{
    if (argc <= ms->first || argc < 2) return 0;
    char sbuf[256];
    const cmdarg *k = &argv[1];
    char *ek = k->len + 2 <= sizeof sbuf ? sbuf : malloc(k->len + 2);
    if (!ek) return 0;
    size_t n = keyspace_encode_key(ek, keyspace_phys_db(db), k->ptr, k->len);
    const char *v;
    size_t vl;
    int rc = lsm_get_ready_value(server.engine, ek, n, &v, &vl);
    if (ek != sbuf) free(ek);
    ks_value kv;
    if (rc != 0 || keyspace_decode_value(v, vl, &kv) != 0 || kv.type != ms->type || kv.plen < COLL_META_FIXED)
        return 0; /* absent, not read yet, or another type: nothing to read ahead */
    uint64_t version = get_be64(kv.payload);
    if (ms->range) return probe_range(ms, version, &kv, argv, argc, tag);
    if (ms->list_index) {
        /* index i of a list is at position head + i (list.h) */
        long long idx, count = (long long)get_le64(kv.payload + 8);
        if (kv.plen < COLL_META_FIXED + 8 || !string2ll(argv[ms->first].ptr, argv[ms->first].len, &idx)) return 0;
        if (idx < 0) idx += count;
        if (idx < 0 || idx >= count) return 0;
        char pos[8];
        put_be64(pos, get_be64(kv.payload + COLL_META_FIXED) + (uint64_t)idx);
        return probe_member(version, pos, 8, tag);
    }
    int queued = 0, probed = 0;
    for (int i = ms->first; i < argc && probed < MAX_PROBED_KEYS; i += ms->step ? ms->step : argc, probed++)
        queued += probe_member(version, argv[i].ptr, argv[i].len, tag);
    return queued;
}

/* Probes the keys of one command (argv as the dispatcher sees it), then, when they are all in
 * memory, the members it names; returns reads queued. */
static int probe_command(int db, const struct command *cmd, const cmdarg *argv, int argc, uint64_t tag)
{
    int pos[MAX_PROBED_KEYS];
    int n = command_get_keys(cmd, argv, argc, pos, MAX_PROBED_KEYS);
    if (n > MAX_PROBED_KEYS) n = MAX_PROBED_KEYS;
    int queued = 0;
    for (int i = 0; i < n; i++)
        if (pos[i] > 0 && pos[i] < argc) queued += probe_key(db, argv[pos[i]].ptr, argv[pos[i]].len, tag);
    if (queued || n <= 0) return queued;
    const member_spec *ms = spec_of(cmd);
    return ms ? probe_members(db, ms, argv, argc, tag) : 0;
}

/* The (sub)command argv names, or NULL. */
static const struct command *resolve(const cmdarg *argv, int argc)
{
    const struct command *cmd = command_lookup(argv[0].ptr, argv[0].len);
    if (cmd && !cmd->proc && argc >= 2) {
        const struct command *sub = command_lookup_sub(cmd, argv[1].ptr, argv[1].len);
        if (sub) cmd = sub;
    }
    return cmd;
}

/* Parses a decimal length terminated by \r\n at p (within end); -1 when malformed or cut. */
static long long peek_len(const char **p, const char *end)
{
    long long v = 0;
    const char *q = *p;
    if (q >= end) return -1;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        v = v * 10 + (*q - '0');
        if (v > (long long)READAHEAD_BYTES) return -1;
    }
    if (q == *p || end - q < 2 || q[0] != '\r' || q[1] != '\n') return -1;
    *p = q + 2;
    return v;
}

/* Read-ahead: queues the reads of the complete multibulk commands pipelined after c's current
 * one (a read-only scan of the bytes; the client's parser handles them later as usual). Inline
 * commands, or anything unusual, end the scan. Tag 0: nobody waits for these reads. */
static void readahead(client *c)
{
    size_t len;
    const char *p = client_pending_input(c, &len);
    if (!p || !len) return;
    const char *end = p + (len > READAHEAD_BYTES ? READAHEAD_BYTES : len);
    char *copy = NULL;
    size_t copycap = 0;
    cmdarg argv[READAHEAD_ARGS];
    for (int cmds = 0; cmds < READAHEAD_COMMANDS && p < end && *p == '*'; cmds++) {
        p++;
        long long argc = peek_len(&p, end);
        if (argc <= 0 || argc > READAHEAD_ARGS) break;
        size_t off[READAHEAD_ARGS], total = 0;
        const char *args = p;
        int ok = 1;
        for (long long i = 0; i < argc && ok; i++) {
            if (p >= end || *p != '$') { ok = 0; break; }
            p++;
            long long bl = peek_len(&p, end);
            if (bl < 0 || end - p < bl + 2) { ok = 0; break; }
            off[i] = (size_t)(p - args);
            argv[i].len = (size_t)bl;
            total += (size_t)bl + 1;
            p += bl + 2;
        }
        if (!ok) break;
        /* NUL-terminated copies: key finders compare keywords with strcasecmp */
        if (total > copycap) {
            char *nc = realloc(copy, total);
            if (!nc) break;
            copy = nc;
            copycap = total;
        }
        size_t at = 0;
        for (long long i = 0; i < argc; i++) {
            memcpy(copy + at, args + off[i], argv[i].len);
            copy[at + argv[i].len] = 0;
            argv[i].ptr = copy + at;
            at += argv[i].len + 1;
        }
        const struct command *cmd = resolve(argv, (int)argc);
        if (!cmd || (cmd->flags & CMD_MULTI_CTL) || !strcmp(cmd->name, "select")) break;
        st.readahead_queued += probe_command(c->db, cmd, argv, (int)argc, 0);
    }
    free(copy);
}

int io_wait_command(client *c, const struct command *cmd, uint32_t flags)
{
    (void)flags;
    if (!server.engine || lsm_read_event_fd(server.engine) < 0 || (c->flags & CLIENT_SCRIPT) || c->fd < 0)
        return 0;
    if (c->io_parks >= IO_WAIT_MAX_PARKS) { /* evicted again and again: read in place */
        c->io_parks = 0;
        return 0;
    }
    int queued;
    if ((cmd->flags & CMD_MULTI_CTL) && !strcmp(cmd->name, "exec")) {
        /* EXEC: the keys of every queued command, read before the transaction runs whole */
        queued = 0;
        int n = multi_queued_count(c);
        for (int i = 0; i < n; i++) {
            const cmdarg *argv;
            int argc;
            const struct command *q = multi_queued(c, i, &argv, &argc) ? resolve(argv, argc) : NULL;
            if (q) queued += probe_command(c->db, q, argv, argc, c->id);
        }
    } else {
        queued = probe_command(c->db, cmd, c->argv, c->argc, c->id);
    }
    if (!queued) {
        c->io_parks = 0;
        return 0;
    }
    c->flags |= CLIENT_IO_WAIT;
    c->io_pending = queued;
    c->io_parks++;
    st.parked_commands++;
    readahead(c);
    return 1;
}

static void requeue(client *c)
{
    c->flags &= ~CLIENT_IO_WAIT;
    c->io_pending = 0;
    client_schedule_input(c);
}

void io_wait_reads_done(void)
{
    if (!server.engine) return;
    uint64_t tags[256];
    int n;
    while ((n = lsm_prefetch_done(server.engine, tags, 256)) > 0) {
        for (int i = 0; i < n; i++) {
            if (!tags[i]) continue; /* read-ahead */
            if (tags[i] == KS_EXPIRE_READ_TAG) { /* the active expire cycle's */
                keyspace_expire_read_done();
                continue;
            }
            client *c = client_by_id(tags[i]);
            if (c && (c->flags & CLIENT_IO_WAIT) && --c->io_pending <= 0) requeue(c);
        }
        if (n < 256) break;
    }
}

static void release_one(client *c, void *ctx)
{
    (void)ctx;
    if (c->flags & CLIENT_IO_WAIT) requeue(c);
}

void io_wait_release_all(void) { client_foreach(release_one, NULL); }

static void count_parked(client *c, void *ctx)
{
    if (c->flags & CLIENT_IO_WAIT) (*(long long *)ctx)++;
}

void io_wait_get_stats(io_wait_stats *out)
{
    *out = st;
    out->parked_now = 0;
    client_foreach(count_parked, &out->parked_now);
}
