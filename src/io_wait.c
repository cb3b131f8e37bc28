/* io_wait.c - commands wait for their disk reads off the loop (see io_wait.h). */
#include "io_wait.h"

#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "command.h"
#include "keyspace.h"
#include "lsm.h"
#include "multi.h"
#include "server.h"

#define MAX_PROBED_KEYS 256      /* keys of one command probed; the rest read in place */
#define READAHEAD_COMMANDS 16    /* pipelined commands behind a parked one */
#define READAHEAD_BYTES (64 * 1024)
#define READAHEAD_ARGS 64

static io_wait_stats st;

/* Probes one key of logical db: 0 when its lookup can run from memory (or fails otherwise: the
 * command meets the error itself), 1 when a read was queued for it with tag. */
static int probe_key(int db, const char *key, size_t klen, uint64_t tag)
{
    char sbuf[256];
    char *ek = klen + 2 <= sizeof sbuf ? sbuf : malloc(klen + 2);
    if (!ek) return 0;
    size_t n = keyspace_encode_key(ek, keyspace_phys_db(db), key, klen);
    int queued = 0;
    if (lsm_get_ready(server.engine, ek, n) == LSM_EAGAIN &&
        lsm_prefetch(server.engine, ek, n, tag) == 0) {
        queued = 1;
        st.reads_queued++;
    }
    if (ek != sbuf) free(ek);
    return queued;
}

/* Probes the keys of one command (argv as the dispatcher sees it); returns reads queued. */
static int probe_command(int db, const struct command *cmd, const cmdarg *argv, int argc, uint64_t tag)
{
    int pos[MAX_PROBED_KEYS];
    int n = command_get_keys(cmd, argv, argc, pos, MAX_PROBED_KEYS);
    if (n > MAX_PROBED_KEYS) n = MAX_PROBED_KEYS;
    int queued = 0;
    for (int i = 0; i < n; i++)
        if (pos[i] > 0 && pos[i] < argc) queued += probe_key(db, argv[pos[i]].ptr, argv[pos[i]].len, tag);
    return queued;
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
