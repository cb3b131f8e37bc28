/* config.c - the option table and everything that reads or writes it (see config.h).
 *
 * File syntax (redis.conf): one directive per line, "name arg arg...", arguments split like
 * Redis's sdssplitargs (double quotes with \n \r \t \xHH escapes, single quotes), '#' starts a
 * comment line. Names are case-insensitive. Later lines override earlier ones. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#ifdef KEVO_JEMALLOC
#include <jemalloc/jemalloc.h>
#include <stdbool.h>
#endif
#include <unistd.h>

#include "client.h"
#include "event.h"
#include "log.h"
#include "notify.h"
#include "parser.h"
#include "server.h"
#include "util.h"

struct config config;

enum { CFG_BOOL, CFG_INT, CFG_UINT, CFG_LL, CFG_MEMORY, CFG_STRING, CFG_ENUM };
#define CFG_MUTABLE 1
#define CFG_MULTIARG 2 /* value is a list of words written unquoted (bind, save) */
#define CFG_PROTECTED 4 /* Redis's PROTECTED_CONFIG: CONFIG SET only if enable-protected-configs
                           allows the client (yes, or local and a loopback client) */

typedef struct cfg_enum {
    const char *name;
    int value;
} cfg_enum;

typedef struct config_option {
    const char *name;
    int type;
    int flags;
    const char *deflt;
    const char *doc;
    void *ptr;
    long long min, max;
    const cfg_enum *enums;                  /* CFG_ENUM: NULL-name-terminated */
    int (*apply)(char *err, size_t errlen); /* runtime hook after a successful set */
} config_option;

/* Enum values in Redis's listing order (error messages list them in this order). */
static const cfg_enum loglevel_enum[] = {{"debug", 0}, {"verbose", 1}, {"notice", 2}, {"warning", 3}, {NULL, 0}};
static const cfg_enum fsync_enum[] = {{"everysec", 1}, {"always", 2}, {"no", 0}, {NULL, 0}};
static const cfg_enum debug_enum[] = {{"no", CFG_DEBUG_NO}, {"yes", CFG_DEBUG_YES}, {"local", CFG_DEBUG_LOCAL}, {NULL, 0}};
static const cfg_enum maxmemory_policy_enum[] = {
    {"volatile-lru", 0}, {"volatile-lfu", 1}, {"volatile-random", 2}, {"volatile-ttl", 3},
    {"allkeys-lru", 4},  {"allkeys-lfu", 5},  {"allkeys-random", 6},  {"noeviction", 7}, {NULL, 0}};

static int apply_loglevel(char *err, size_t errlen)
{
    (void)err, (void)errlen;
    log_set_level(config.loglevel);
    return 0;
}
static int apply_hz(char *err, size_t errlen)
{
    (void)err, (void)errlen;
    server.hz = config.hz;
    return 0;
}
static int apply_busy_poll(char *err, size_t errlen)
{
    (void)err, (void)errlen;
    if (server.el) ev_set_busy_poll(server.el, config.busy_poll_us);
    return 0;
}
static int apply_obuf(char *err, size_t errlen);
/* Applied in place: the engine commits and syncs its WAL, then switches policy. */
static int apply_appendfsync(char *err, size_t errlen)
{
    if (!server.engine) return 0;
    if (lsm_set_sync_mode(server.engine, (lsm_sync_mode)config.appendfsync) != 0) {
        snprintf(err, errlen, "changing the WAL sync policy failed: %s",
                 lsm_last_error(server.engine));
        return -1;
    }
    log_msg(LL_NOTICE, "appendfsync set to %s", config.appendfsync == LSM_SYNC_ALWAYS ? "always" :
            config.appendfsync == LSM_SYNC_EVERYSEC ? "everysec" : "no");
    return 0;
}
/* Redis's adjustOpenFilesLimit: raises RLIMIT_NOFILE to hold maxclients plus the server's own
 * files (reserved: 32 as Redis, plus the engine's max-open-files); when the OS refuses, lowers
 * maxclients to what fits (at least 1). Returns 1 when maxclients was lowered. */
static int adjust_open_files_limit(int quiet)
{
    rlim_t reserved = 32 + (rlim_t)(config.max_open_files > 0 ? config.max_open_files : 0);
    rlim_t want = (rlim_t)config.maxclients + reserved;
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0) return 0;
    rlim_t old = lim.rlim_cur;
    if (old >= want) return 0;
    /* the wanted limit (raising the hard limit too, which root may), else the hard limit */
    rlim_t best = want;
    int serr = 0;
    rlim_t hard = lim.rlim_max;
    lim.rlim_cur = want;
    if (hard != RLIM_INFINITY && hard < want) lim.rlim_max = want;
    if (setrlimit(RLIMIT_NOFILE, &lim) < 0) {
        serr = errno;
        best = old;
        if (hard != RLIM_INFINITY && hard > old) {
            lim.rlim_cur = lim.rlim_max = hard;
            if (setrlimit(RLIMIT_NOFILE, &lim) == 0) best = hard;
        }
    }
    if (best < old) best = old;
    if (best >= want) {
        if (!quiet)
            log_msg(LL_NOTICE, "Increased maximum number of open files to %llu (it was originally set to %llu).",
                    (unsigned long long)want, (unsigned long long)old);
        return 0;
    }
    unsigned prev = config.maxclients;
    /* when the engine's share alone exceeds the limit, clients and engine split it */
    if (best > reserved) config.maxclients = (unsigned)(best - reserved);
    else config.maxclients = best > 64 ? (unsigned)((best - 32) / 2) : 1;
    if (!quiet) {
        log_msg(LL_WARNING, "You requested maxclients of %u requiring at least %llu max file descriptors.", prev,
                (unsigned long long)want);
        log_msg(LL_WARNING, "Server can't set maximum open files to %llu because of OS error: %s.",
                (unsigned long long)want, strerror(serr));
        log_msg(LL_WARNING, "Current maximum open files is %llu. maxclients has been reduced to %u to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
                (unsigned long long)best, config.maxclients);
    }
    return 1;
}

/* jemalloc-bg-thread: jemalloc's background threads return freed pages to the OS on their own
 * (without them, pages freed by closed clients stay resident until the next allocations). */
static int apply_jemalloc_bg_thread(char *err, size_t errlen)
{
    (void)err, (void)errlen;
#ifdef KEVO_JEMALLOC
    bool on = config.jemalloc_bg_thread != 0;
    mallctl("background_thread", NULL, NULL, &on, sizeof on);
#endif
    return 0;
}

void config_server_started(void)
{
    adjust_open_files_limit(0);
    char err[8];
    apply_jemalloc_bg_thread(err, sizeof err);
}

static int apply_maxclients(char *err, size_t errlen)
{
    if (adjust_open_files_limit(1)) {
        snprintf(err, errlen, "The operating system is not able to handle the specified number of clients, try with %u",
                 config.maxclients);
        return -1;
    }
    return 0;
}

static int check_daemonize(char *err, size_t errlen)
{
    if (config.daemonize) {
        snprintf(err, errlen, "daemonize yes is not supported");
        return -1;
    }
    return 0;
}

#define KB 1024LL
#define MB (1024LL * 1024)
#define GB (1024LL * 1024 * 1024)

static const config_option options[] = {
    {"bind", CFG_STRING, CFG_MULTIARG, "127.0.0.1", "Addresses to listen on (space separated).", &config.bind, 0, 0, NULL, NULL},
    {"port", CFG_INT, 0, "6379", "TCP port.", &config.port, 0, 65535, NULL, NULL},
    {"tcp-backlog", CFG_INT, 0, "511", "listen() backlog.", &config.tcp_backlog, 0, INT_MAX, NULL, NULL},
    {"dir", CFG_STRING, CFG_MUTABLE | CFG_PROTECTED, "./data", "Data directory (the engine's files). CONFIG SET needs enable-protected-configs and then only accepts the directory already in use (the engine cannot move).", &config.dir, 0, 0, NULL, NULL},
    {"dbfilename", CFG_STRING, CFG_MUTABLE | CFG_PROTECTED, "dump.rdb", "Accepted for compatibility (a file name, not a path): Kevo never writes an RDB file.", &config.dbfilename, 0, 0, NULL, NULL},
    {"appendfilename", CFG_STRING, 0, "appendonly.aof", "Accepted for compatibility (a file name, not a path): the engine's WAL replaces the AOF.", &config.appendfilename, 0, 0, NULL, NULL},
    {"appenddirname", CFG_STRING, 0, "appendonlydir", "Accepted for compatibility (a directory name, not a path).", &config.appenddirname, 0, 0, NULL, NULL},
    {"jemalloc-bg-thread", CFG_BOOL, CFG_MUTABLE, "yes", "jemalloc background threads purge freed memory (memory of closed clients returns to the OS while the server is idle).", &config.jemalloc_bg_thread, 0, 0, NULL, apply_jemalloc_bg_thread},
    {"enable-protected-configs", CFG_ENUM, 0, "no", "CONFIG SET of protected options (dir, dbfilename): no, yes, or local (loopback connections only).", &config.enable_protected_configs, 0, 0, debug_enum, NULL},
    {"logfile", CFG_STRING, 0, "", "Log file; empty = standard output.", &config.logfile, 0, 0, NULL, NULL},
    {"loglevel", CFG_ENUM, CFG_MUTABLE, "notice", "debug, verbose, notice or warning.", &config.loglevel, 0, 0, loglevel_enum, apply_loglevel},
    {"daemonize", CFG_BOOL, 0, "no", "Only 'no' is supported (run under a supervisor).", &config.daemonize, 0, 0, NULL, check_daemonize},
    {"pidfile", CFG_STRING, 0, "", "Write the pid here at startup (empty = none).", &config.pidfile, 0, 0, NULL, NULL},
    {"appendfsync", CFG_ENUM, CFG_MUTABLE, "everysec", "WAL fsync policy: always (before replying), everysec, no. Mutable at runtime.", &config.appendfsync, 0, 0, fsync_enum, apply_appendfsync},
    {"appendonly", CFG_BOOL, CFG_MUTABLE, "yes", "Accepted for compatibility: the WAL is always on.", &config.appendonly, 0, 0, NULL, NULL},
    {"save", CFG_STRING, CFG_MUTABLE | CFG_MULTIARG, "", "Accepted for compatibility, ignored (data is always persistent).", &config.save, 0, 0, NULL, NULL},
    {"requirepass", CFG_STRING, CFG_MUTABLE, "", "Password clients must AUTH with (empty = none).", &config.requirepass, 0, 0, NULL, NULL},
    {"protected-mode", CFG_BOOL, CFG_MUTABLE, "yes", "Refuse clients not on the loopback interface (127.0.0.1, ::1) while no password (requirepass) is set, with Redis's DENIED message.", &config.protected_mode, 0, 0, NULL, NULL},
    {"maxclients", CFG_UINT, CFG_MUTABLE, "10000", "Maximum simultaneous clients; the next one gets '-ERR max number of clients reached'. Lowered at startup (and refused by CONFIG SET) when the open files limit cannot hold it plus the engine's files (max-open-files + 32).", &config.maxclients, 1, UINT_MAX, NULL, apply_maxclients},
    {"databases", CFG_INT, 0, "16", "Number of logical databases (at most 16).", &config.databases, 1, KEVO_MAX_DBS, NULL, NULL},
    {"timeout", CFG_INT, CFG_MUTABLE, "0", "Close a client idle for this many seconds (0 = never).", &config.timeout, 0, INT_MAX, NULL, NULL},
    {"tcp-keepalive", CFG_INT, CFG_MUTABLE, "300", "TCP keepalive interval in seconds (0 = off).", &config.tcp_keepalive, 0, INT_MAX, NULL, NULL},
    {"hz", CFG_INT, CFG_MUTABLE, "10", "Background task frequency (1-500).", &config.hz, 1, 500, NULL, apply_hz},
    {"busy-poll-us", CFG_INT, CFG_MUTABLE, "50", "Poll for requests up to this long (usec) before the loop sleeps; adapts to 0 when idle (0 = never poll).", &config.busy_poll_us, 0, 1000, NULL, apply_busy_poll},
    {"proto-max-bulk-len", CFG_MEMORY, CFG_MUTABLE, "512mb", "Largest bulk string a client may send.", &config.proto_max_bulk_len, 1024 * 1024, LLONG_MAX, NULL, NULL},
    {"hash-max-listpack-entries", CFG_LL, CFG_MUTABLE, "128", "OBJECT ENCODING of hashes: 'listpack' up to this many fields (then 'hashtable', for good), as Redis. Storage is the same either way.", &config.hash_max_listpack_entries, 0, LLONG_MAX, NULL, NULL},
    {"hash-max-ziplist-entries", CFG_LL, CFG_MUTABLE, "128", "Alias of hash-max-listpack-entries.", &config.hash_max_listpack_entries, 0, LLONG_MAX, NULL, NULL},
    {"hash-max-listpack-value", CFG_LL, CFG_MUTABLE, "64", "OBJECT ENCODING of hashes: 'listpack' while every field and value is at most this long.", &config.hash_max_listpack_value, 0, LLONG_MAX, NULL, NULL},
    {"hash-max-ziplist-value", CFG_LL, CFG_MUTABLE, "64", "Alias of hash-max-listpack-value.", &config.hash_max_listpack_value, 0, LLONG_MAX, NULL, NULL},
    {"set-max-intset-entries", CFG_LL, CFG_MUTABLE, "512", "OBJECT ENCODING of sets: 'intset' while every member is an integer and there are at most this many (then 'hashtable').", &config.set_max_intset_entries, 0, LLONG_MAX, NULL, NULL},
    {"zset-max-listpack-entries", CFG_LL, CFG_MUTABLE, "128", "OBJECT ENCODING of sorted sets: 'listpack' up to this many members (then 'skiplist').", &config.zset_max_listpack_entries, 0, LLONG_MAX, NULL, NULL},
    {"zset-max-ziplist-entries", CFG_LL, CFG_MUTABLE, "128", "Alias of zset-max-listpack-entries.", &config.zset_max_listpack_entries, 0, LLONG_MAX, NULL, NULL},
    {"zset-max-listpack-value", CFG_LL, CFG_MUTABLE, "64", "OBJECT ENCODING of sorted sets: 'listpack' while every member is at most this long.", &config.zset_max_listpack_value, 0, LLONG_MAX, NULL, NULL},
    {"zset-max-ziplist-value", CFG_LL, CFG_MUTABLE, "64", "Alias of zset-max-listpack-value.", &config.zset_max_listpack_value, 0, LLONG_MAX, NULL, NULL},
    {"list-max-listpack-size", CFG_LL, CFG_MUTABLE, "-2", "OBJECT ENCODING of lists: 'listpack' while small by this rule (negative: -1..-5 = 4..64 KiB; positive: entries), else 'quicklist'.", &config.list_max_listpack_size, -5, LLONG_MAX, NULL, NULL},
    {"list-max-ziplist-size", CFG_LL, CFG_MUTABLE, "-2", "Alias of list-max-listpack-size.", &config.list_max_listpack_size, -5, LLONG_MAX, NULL, NULL},
    {"stream-node-max-bytes", CFG_MEMORY, CFG_MUTABLE, "4096", "Streams: a macro node takes entries while its Redis listpack size stays under this many bytes (0 = 1 GiB); approximate trimming (MAXLEN/MINID ~) removes whole nodes, as Redis.", &config.stream_node_max_bytes, 0, LLONG_MAX, NULL, NULL},
    {"stream-node-max-entries", CFG_LL, CFG_MUTABLE, "100", "Streams: at most this many entries per macro node (0 = no limit).", &config.stream_node_max_entries, 0, LLONG_MAX, NULL, NULL},
    {"list-compress-depth", CFG_LL, CFG_MUTABLE, "0", "Accepted for compatibility (the engine compresses blocks with LZ4).", &config.list_compress_depth, 0, LLONG_MAX, NULL, NULL},
    {"client-query-buffer-limit", CFG_MEMORY, CFG_MUTABLE, "1gb", "Largest query buffer of a client.", &config.client_query_buffer_limit, 1024 * 1024, LLONG_MAX, NULL, NULL},
    {"client-output-buffer-limit", CFG_STRING, CFG_MUTABLE | CFG_MULTIARG, "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60", "<class> <hard> <soft> <soft-seconds>: a client over the hard limit, or over the soft limit for soft-seconds, is closed. 'normal' applies to ordinary clients, 'pubsub' to clients subscribed to a channel, pattern or shard channel; 'replica' is accepted (no replicas).", &config.client_output_buffer_limit, 0, 0, NULL, apply_obuf},
    {"notify-keyspace-events", CFG_STRING, CFG_MUTABLE, "", "Keyspace notifications: the event classes published on __keyspace@<db>__:<key> (K) and __keyevent@<db>__:<event> (E): g generic, $ string, l list, s set, h hash, z zset, x expired, e evicted, t stream, m key miss, d module, n new key, A = g$lshzxetd. Empty = off.", &config.notify_keyspace_events_str, 0, 0, NULL, NULL},
    {"tracking-table-max-keys", CFG_LL, CFG_MUTABLE, "1000000", "Client-side caching: keys remembered for tracking clients (default mode); past it, random keys are invalidated. 0 = no limit.", &config.tracking_table_max_keys, 0, LONG_MAX, NULL, NULL},
    {"maxmemory", CFG_MEMORY, CFG_MUTABLE, "0", "Accepted for compatibility: memory is bounded by the engine options below (not enforced).", &config.maxmemory, 0, LLONG_MAX, NULL, NULL},
    {"maxmemory-policy", CFG_ENUM, CFG_MUTABLE, "noeviction", "Accepted for compatibility (Kevo never evicts: data lives on disk).", &config.maxmemory_policy, 0, 0, maxmemory_policy_enum, NULL},
    {"maxmemory-samples", CFG_INT, CFG_MUTABLE, "5", "Accepted for compatibility.", &config.maxmemory_samples, 1, 64, NULL, NULL},
    {"enable-debug-command", CFG_ENUM, 0, "no", "DEBUG command: no, yes, or local (loopback connections only).", &config.enable_debug_command, 0, 0, debug_enum, NULL},
    {"slowlog-log-slower-than", CFG_LL, CFG_MUTABLE, "10000", "Log commands slower than this (usec); negative disables, 0 logs all.", &config.slowlog_log_slower_than, LLONG_MIN, LLONG_MAX, NULL, NULL},
    {"slowlog-max-len", CFG_INT, CFG_MUTABLE, "128", "Slow log entries kept.", &config.slowlog_max_len, 0, INT_MAX, NULL, NULL},
    {"hll-sparse-max-bytes", CFG_MEMORY, CFG_MUTABLE, "3000", "A sparse HyperLogLog that would grow past this many bytes turns dense (12 KB), as in Redis.", &config.hll_sparse_max_bytes, 0, LLONG_MAX, NULL, NULL},
    {"busy-reply-threshold", CFG_LL, CFG_MUTABLE, "5000", "Milliseconds a script may run before other clients get -BUSY and SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE become possible (0 = never).", &config.busy_reply_threshold, 0, LLONG_MAX, NULL, NULL},
    {"lua-time-limit", CFG_LL, CFG_MUTABLE, "5000", "Alias of busy-reply-threshold.", &config.busy_reply_threshold, 0, LLONG_MAX, NULL, NULL},
    {"memtable-size", CFG_MEMORY, 0, "64mb", "Engine: memtable size before it is flushed.", &config.memtable_size, 64 * KB, LLONG_MAX, NULL, NULL},
    {"memtable-link-thread", CFG_BOOL, 0, "yes", "Engine: a thread of its own (kevo-link) links new memtable entries into the memtable's ordered list, instead of the event loop.", &config.memtable_link_thread, 0, 0, NULL, NULL},
    {"loop-idle-linking", CFG_BOOL, CFG_MUTABLE, "yes", "Engine: while the event loop busy-polls with nothing to do, it links new memtable entries the link thread has not taken yet (that CPU time is spent anyway).", &config.loop_idle_linking, 0, 0, NULL, NULL},
    {"max-immutable-memtables", CFG_INT, 0, "2", "Engine: writes stall beyond this many memtables waiting for flush.", &config.max_immutable_memtables, 1, 64, NULL, NULL},
    {"block-cache-size", CFG_MEMORY, 0, "256mb", "Engine: block cache capacity.", &config.block_cache_size, 0, LLONG_MAX, NULL, NULL},
    {"block-size", CFG_MEMORY, 0, "4kb", "Engine: target data block size.", &config.block_size, 512, 64 * MB, NULL, NULL},
    {"bloom-bits-per-key", CFG_INT, 0, "10", "Engine: bloom filter bits per key (0 = no filter).", &config.bloom_bits_per_key, 0, 64, NULL, NULL},
    {"compression", CFG_BOOL, 0, "yes", "Engine: LZ4-compress blocks when it saves at least 1/8.", &config.compression, 0, 0, NULL, NULL},
    {"l0-compaction-trigger", CFG_INT, 0, "4", "Engine: L0 files that start a compaction into L1.", &config.l0_compaction_trigger, 1, 1000, NULL, NULL},
    {"l0-slowdown-trigger", CFG_INT, 0, "20", "Engine: L0 files at which writing clients are paused.", &config.l0_slowdown_trigger, 1, 10000, NULL, NULL},
    {"level1-max-bytes", CFG_MEMORY, 0, "64mb", "Engine: target size of L1 (each deeper level 10x).", &config.level1_max_bytes, 1 * MB, LLONG_MAX, NULL, NULL},
    {"target-file-size", CFG_MEMORY, 0, "64mb", "Engine: target SSTable size.", &config.target_file_size, 64 * KB, LLONG_MAX, NULL, NULL},
    {"compaction-threads", CFG_INT, 0, "2", "Engine: background compaction threads.", &config.compaction_threads, 1, 64, NULL, NULL},
    {"disk-read-threads", CFG_INT, 0, "32", "Engine: threads that read from disk for commands whose keys are not in memory, so the loop never waits for the disk (0 = the loop reads in place).", &config.disk_read_threads, 0, 128, NULL, NULL},
    {"disk-read-uring", CFG_BOOL, 0, "yes", "Engine: with disk-read-threads > 0, the loop itself submits the block reads of point lookups through io_uring (no thread hand-off per read); the threads take the rest (tables to open, range reads). Falls back to the threads where io_uring is unavailable.", &config.disk_read_uring, 0, 0, NULL, NULL},
    {"disk-read-uring-thread", CFG_BOOL, 0, "yes", "Engine: with disk-read-uring, a thread of its own hands the io_uring reads to the kernel (and runs their completion work) instead of the event loop, which only queues them.", &config.disk_read_uring_thread, 0, 0, NULL, NULL},
    {"disk-read-direct", CFG_BOOL, 0, "yes", "Engine: reader threads read with O_DIRECT (the block cache is the only cache of what they read); no = through the OS page cache, which then serves as a second cache behind the block cache (better when the hot set is bigger than the block cache but fits in RAM).", &config.disk_read_direct, 0, 0, NULL, NULL},
    {"max-open-files", CFG_INT, 0, "1000", "Engine: SSTables kept open.", &config.max_open_files, 16, 1000000, NULL, NULL},
    {"wal-skip-corrupt", CFG_BOOL, 0, "no", "Engine: on a corrupt record in the middle of a WAL, log and skip (yes) or refuse to start (no).", &config.wal_skip_corrupt, 0, 0, NULL, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, 0, 0, NULL, NULL},
};

static const config_option *config_find(const char *name)
{
    for (const config_option *o = options; o->name; o++)
        if (strcasecmp(o->name, name) == 0) return o;
    return NULL;
}

int config_allow_protected(int setting, struct client *c)
{
    return setting == CFG_DEBUG_YES || (setting == CFG_DEBUG_LOCAL && c && client_is_local(c));
}

int config_parse_memory(const char *s, long long *out)
{
    const char *u = s;
    if (*u == '-') u++;
    while (*u >= '0' && *u <= '9') u++;
    size_t nlen = (size_t)(u - s);
    long long mul;
    if (*u == 0) mul = 1;
    else if (!strcasecmp(u, "b")) mul = 1;
    else if (!strcasecmp(u, "k")) mul = 1000;
    else if (!strcasecmp(u, "kb")) mul = KB;
    else if (!strcasecmp(u, "m")) mul = 1000 * 1000;
    else if (!strcasecmp(u, "mb")) mul = MB;
    else if (!strcasecmp(u, "g")) mul = 1000LL * 1000 * 1000;
    else if (!strcasecmp(u, "gb")) mul = GB;
    else return 0;
    long long v;
    if (nlen == 0 || !string2ll(s, nlen, &v)) return 0;
    if (v != 0 && (v > LLONG_MAX / mul || v < LLONG_MIN / mul)) return 0;
    *out = v * mul;
    return 1;
}

/* Parses "normal 0 0 0 replica 256mb 64mb 60 ..." into the limits of the three classes
 * (vals[class][hard, soft, seconds], class 0 normal, 1 replica, 2 pubsub) and a canonical
 * string; classes not named keep their current values. */
static int parse_obuf(const char *s, long long vals[3][3], char *canon, size_t canoncap, char *err,
                      size_t errlen)
{
    static const char *const classes[] = {"normal", "replica", "pubsub"};
    static const long long defaults[3][3] = {{0, 0, 0}, {256 * MB, 64 * MB, 60}, {32 * MB, 8 * MB, 60}};
    memcpy(vals, defaults, sizeof defaults);
    /* start from the current values so a partial set keeps the other classes */
    if (config.client_output_buffer_limit && config.client_output_buffer_limit != s) {
        char cur[256];
        snprintf(cur, sizeof cur, "%s", config.client_output_buffer_limit);
        char *save = NULL, *tok[12];
        int n = 0;
        for (char *t = strtok_r(cur, " ", &save); t && n < 12; t = strtok_r(NULL, " ", &save)) tok[n++] = t;
        for (int i = 0; i + 3 < n + 0 && i + 3 <= 11; i += 4)
            for (int k = 0; k < 3; k++)
                if (!strcasecmp(tok[i], classes[k]) || (k == 1 && !strcasecmp(tok[i], "slave")))
                    for (int j = 0; j < 3; j++) config_parse_memory(tok[i + 1 + j], &vals[k][j]);
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL, *tok[64];
    int n = 0;
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (n == 64) break;
        tok[n++] = t;
    }
    if (n % 4 != 0) {
        snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    for (int i = 0; i < n; i += 4) {
        int k;
        const char *cls = tok[i];
        if (!strcasecmp(cls, "slave")) cls = "replica";
        for (k = 0; k < 3; k++)
            if (!strcasecmp(cls, classes[k])) break;
        if (k == 3) {
            snprintf(err, errlen, "Invalid client class specified in buffer limit configuration.");
            return -1;
        }
        long long h, so, se;
        if (!config_parse_memory(tok[i + 1], &h) || !config_parse_memory(tok[i + 2], &so) ||
            !string2ll(tok[i + 3], strlen(tok[i + 3]), &se) || h < 0 || so < 0 || se < 0) {
            snprintf(err, errlen, "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
            return -1;
        }
        vals[k][0] = h, vals[k][1] = so, vals[k][2] = se;
    }
    snprintf(canon, canoncap, "normal %lld %lld %lld slave %lld %lld %lld pubsub %lld %lld %lld",
             vals[0][0], vals[0][1], vals[0][2], vals[1][0], vals[1][1], vals[1][2], vals[2][0],
             vals[2][1], vals[2][2]);
    return 0;
}

static int apply_obuf(char *err, size_t errlen)
{
    (void)err, (void)errlen;
    return 0;
}

/* Validates and stores one value. */
static int option_set(const config_option *o, const char *value, char *err, size_t errlen)
{
    switch (o->type) {
    case CFG_BOOL: {
        int b;
        if (!strcasecmp(value, "yes")) b = 1;
        else if (!strcasecmp(value, "no")) b = 0;
        else {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        *(int *)o->ptr = b;
        return 0;
    }
    case CFG_INT:
    case CFG_UINT:
    case CFG_LL: {
        long long v;
        if (!string2ll(value, strlen(value), &v)) {
            snprintf(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        if (v < o->min || v > o->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive", o->min, o->max);
            return -1;
        }
        if (o->type == CFG_INT) *(int *)o->ptr = (int)v;
        else if (o->type == CFG_UINT) *(unsigned *)o->ptr = (unsigned)v;
        else *(long long *)o->ptr = v;
        return 0;
    }
    case CFG_MEMORY: {
        long long v;
        if (!config_parse_memory(value, &v) || v < 0) {
            snprintf(err, errlen, "argument must be a memory value");
            return -1;
        }
        if (v < o->min || v > o->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive", o->min, o->max);
            return -1;
        }
        *(long long *)o->ptr = v;
        return 0;
    }
    case CFG_ENUM: {
        for (int i = 0; o->enums[i].name; i++)
            if (!strcasecmp(value, o->enums[i].name)) {
                *(int *)o->ptr = o->enums[i].value;
                return 0;
            }
        size_t off = (size_t)snprintf(err, errlen, "argument(s) must be one of the following: ");
        for (int i = 0; o->enums[i].name && off < errlen; i++)
            off += (size_t)snprintf(err + off, errlen - off, "%s%s", i ? ", " : "", o->enums[i].name);
        return -1;
    }
    case CFG_STRING: {
        char canon[512];
        /* file options name a file inside dir, never a path (Redis's isValid*name) */
        int is_path = strchr(value, '/') != NULL || strchr(value, '\\') != NULL;
        if (o->ptr == &config.dbfilename && is_path) {
            snprintf(err, errlen, "dbfilename can't be a path, just a filename");
            return -1;
        }
        if (o->ptr == &config.appendfilename || o->ptr == &config.appenddirname) {
            int isdir = o->ptr == &config.appenddirname;
            if (!value[0] || is_path) {
                snprintf(err, errlen, "%s can't be %s", o->name,
                         !value[0] ? "empty" : isdir ? "a path, just a dirname" : "a path, just a filename");
                return -1;
            }
        }
        if (o->ptr == &config.client_output_buffer_limit) {
            long long v[3][3];
            if (parse_obuf(value, v, canon, sizeof canon, err, errlen) < 0) return -1;
            config.obuf_hard = v[0][0], config.obuf_soft = v[0][1], config.obuf_soft_seconds = (int)v[0][2];
            config.obuf_pubsub_hard = v[2][0], config.obuf_pubsub_soft = v[2][1];
            config.obuf_pubsub_soft_seconds = (int)v[2][2];
            value = canon;
        }
        if (o->ptr == &config.notify_keyspace_events_str) {
            int flags = notify_flags_parse(value);
            if (flags < 0) {
                snprintf(err, errlen, "%s", NOTIFY_INVALID_MSG);
                return -1;
            }
            config.notify_keyspace_events = flags;
            notify_flags_format(flags, canon); /* CONFIG GET shows Redis's canonical form */
            value = canon;
        }
        char *dup = strdup(value);
        if (!dup) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        char **slot = o->ptr;
        free(*slot);
        *slot = dup;
        return 0;
    }
    }
    return -1;
}

void config_free(void)
{
    for (const config_option *o = options; o->name; o++)
        if (o->type == CFG_STRING) {
            char **slot = o->ptr;
            free(*slot);
            *slot = NULL;
        }
    free(config.configfile);
    config.configfile = NULL;
}

void config_init(void)
{
    config_free();
    char err[256];
    for (const config_option *o = options; o->name; o++) {
        if (option_set(o, o->deflt, err, sizeof err) < 0) {
            fprintf(stderr, "bad default for %s: %s\n", o->name, err);
            abort();
        }
    }
}

int config_set(const char *name, const char *value, int runtime, char *err, size_t errlen)
{
    const config_option *o = config_find(name);
    if (!o) {
        snprintf(err, errlen, "Bad directive or wrong number of arguments");
        return -2;
    }
    if (runtime && !(o->flags & CFG_MUTABLE)) {
        snprintf(err, errlen, "can't set immutable config");
        return -1;
    }
    if (option_set(o, value, err, errlen) < 0) return -1;
    if (o->apply && (runtime || o->apply == check_daemonize) && o->apply(err, errlen) < 0) return -1;
    return 0;
}

static size_t format_memory_rewrite(long long v, char *buf, size_t cap)
{
    if (v != 0 && v % GB == 0) return (size_t)snprintf(buf, cap, "%lldgb", v / GB);
    if (v != 0 && v % MB == 0) return (size_t)snprintf(buf, cap, "%lldmb", v / MB);
    if (v != 0 && v % KB == 0) return (size_t)snprintf(buf, cap, "%lldkb", v / KB);
    return (size_t)snprintf(buf, cap, "%lld", v);
}

static void option_format(const config_option *o, char *buf, size_t cap, int for_rewrite)
{
    switch (o->type) {
    case CFG_BOOL: snprintf(buf, cap, "%s", *(int *)o->ptr ? "yes" : "no"); break;
    case CFG_INT: snprintf(buf, cap, "%d", *(int *)o->ptr); break;
    case CFG_UINT: snprintf(buf, cap, "%u", *(unsigned *)o->ptr); break;
    case CFG_LL: snprintf(buf, cap, "%lld", *(long long *)o->ptr); break;
    case CFG_MEMORY:
        if (for_rewrite) format_memory_rewrite(*(long long *)o->ptr, buf, cap);
        else snprintf(buf, cap, "%lld", *(long long *)o->ptr);
        break;
    case CFG_ENUM: {
        const char *name = "";
        for (int i = 0; o->enums[i].name; i++)
            if (o->enums[i].value == *(int *)o->ptr) name = o->enums[i].name;
        snprintf(buf, cap, "%s", name);
        break;
    }
    case CFG_STRING: {
        const char *s = *(char **)o->ptr ? *(char **)o->ptr : "";
        if (!for_rewrite && o->ptr == &config.dir) { /* absolute, as Redis's getcwd() */
            char *abs = realpath(s, NULL);
            snprintf(buf, cap, "%s", abs ? abs : s);
            free(abs);
            break;
        }
        if (!for_rewrite || (o->flags & CFG_MULTIARG && s[0])) {
            snprintf(buf, cap, "%s", s);
            break;
        }
        /* quote when needed so the file parser reads the same string back */
        int plain = s[0] != 0;
        for (const char *p = s; *p; p++)
            if (isspace((unsigned char)*p) || *p == '"' || *p == '\'' || *p == '\\' || !isprint((unsigned char)*p)) plain = 0;
        if (plain) {
            snprintf(buf, cap, "%s", s);
            break;
        }
        size_t off = 0;
        buf[off++] = '"';
        for (const char *p = s; *p && off + 6 < cap; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '"' || ch == '\\') off += (size_t)snprintf(buf + off, cap - off, "\\%c", ch);
            else if (ch == '\n') off += (size_t)snprintf(buf + off, cap - off, "\\n");
            else if (ch == '\r') off += (size_t)snprintf(buf + off, cap - off, "\\r");
            else if (ch == '\t') off += (size_t)snprintf(buf + off, cap - off, "\\t");
            else if (!isprint(ch)) off += (size_t)snprintf(buf + off, cap - off, "\\x%02x", ch);
            else buf[off++] = (char)ch;
        }
        buf[off++] = '"';
        buf[off] = 0;
        break;
    }
    }
}

int config_get(const char *name, char *buf, size_t cap)
{
    const config_option *o = config_find(name);
    if (!o) return -1;
    option_format(o, buf, cap, 0);
    return 0;
}

/* Splits one config line into arguments (sdssplitargs rules) using the request parser's inline
 * splitter. Returns argc (0 for an empty line) or -1 on unbalanced quotes. args point into
 * *scratch (owned by the caller, freed with free()). */
static int split_line(const char *line, size_t len, char **scratch, resp_parser *p)
{
    free(*scratch);
    *scratch = malloc(len + 2);
    if (!*scratch) return -1;
    memcpy(*scratch, line, len);
    (*scratch)[len] = '\n';
    (*scratch)[len + 1] = 0;
    resp_parser_reset(p);
    p->reqtype = RESP_REQ_INLINE;
    int r = resp_parse(p, *scratch, len + 1);
    if (r != RESP_PARSE_OK) return -1;
    return p->argc;
}

/* Joins args[1..argc) with single spaces into a malloc'ed string. */
static char *join_args(char *base, resp_parser *p)
{
    size_t total = 1;
    for (int i = 1; i < p->argc; i++) total += p->arglen[i] + 1;
    char *s = malloc(total);
    if (!s) return NULL;
    size_t off = 0;
    for (int i = 1; i < p->argc; i++) {
        if (i > 1) s[off++] = ' ';
        memcpy(s + off, base + p->argoff[i], p->arglen[i]);
        off += p->arglen[i];
    }
    s[off] = 0;
    return s;
}

int config_load_string(const char *text, char *err, size_t errlen, int *errline, char *errtext,
                       size_t errtextlen)
{
    resp_parser p;
    resp_parser_init(&p, LLONG_MAX);
    char *scratch = NULL;
    int lineno = 0, rc = 0;
    const char *s = text;
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        lineno++;
        const char *t = s;
        while (t < s + len && isspace((unsigned char)*t)) t++;
        if (t < s + len && *t != '#') {
            int argc = split_line(s, len, &scratch, &p);
            const char *msg = NULL;
            char vmsg[256];
            if (argc < 0) {
                msg = "Unbalanced quotes in configuration line";
            } else if (argc > 0) {
                const char *name = scratch + p.argoff[0];
                const config_option *o = config_find(name);
                if (!o || argc < 2 || (argc > 2 && !(o->flags & CFG_MULTIARG))) {
                    msg = "Bad directive or wrong number of arguments";
                } else {
                    char *val = join_args(scratch, &p);
                    if (!val || config_set(name, val, 0, vmsg, sizeof vmsg) < 0) msg = val ? vmsg : "out of memory";
                    free(val);
                }
            }
            if (msg) {
                snprintf(err, errlen, "%s", msg);
                if (errline) *errline = lineno;
                if (errtext) snprintf(errtext, errtextlen, "%.*s", (int)len, s);
                rc = -1;
                break;
            }
        }
        s += len;
        if (*s == '\n') s++;
    }
    free(scratch);
    resp_parser_free(&p);
    return rc;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

int config_load(const char *path, const char *extra)
{
    char err[256], line[1024];
    int lineno = 0;
    if (path) {
        char *text = read_file(path);
        if (!text) {
            fprintf(stderr, "Fatal error, can't open config file '%s': %s\n", path, strerror(errno));
            return -1;
        }
        char *abs = realpath(path, NULL);
        free(config.configfile);
        config.configfile = abs ? abs : strdup(path);
        int r = config_load_string(text, err, sizeof err, &lineno, line, sizeof line);
        free(text);
        if (r < 0) goto fatal;
    }
    if (extra && config_load_string(extra, err, sizeof err, &lineno, line, sizeof line) < 0) goto fatal;
    return 0;
fatal:
    fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR (Kevo %s) ***\n", KEVO_VERSION);
    fprintf(stderr, "Reading the configuration file, at line %d\n", lineno);
    fprintf(stderr, ">>> '%s'\n", line);
    fprintf(stderr, "%s\n", err);
    return -1;
}

/* ---- CONFIG REWRITE ---- */

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap * 2 : 4096;
        while (nc < *len + n + 1) nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb) return -1;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = 0;
    return 0;
}

static void option_line(const config_option *o, char *line, size_t cap)
{
    char val[1024];
    option_format(o, val, sizeof val, 1);
    snprintf(line, cap, "%s %s\n", o->name, val);
}

static int option_is_default(const config_option *o)
{
    char cur[1024], def[1024];
    option_format(o, cur, sizeof cur, 0);
    /* format the default the same way */
    if (o->type == CFG_MEMORY) {
        long long v = 0;
        config_parse_memory(o->deflt, &v);
        snprintf(def, sizeof def, "%lld", v);
    } else if (o->ptr == &config.client_output_buffer_limit) {
        long long v[3][3];
        char e[128];
        char *saved = config.client_output_buffer_limit;
        config.client_output_buffer_limit = NULL;
        parse_obuf(o->deflt, v, def, sizeof def, e, sizeof e);
        config.client_output_buffer_limit = saved;
    } else {
        snprintf(def, sizeof def, "%s", o->deflt);
    }
    return strcmp(cur, def) == 0;
}

int config_rewrite(const char *path, char *err, size_t errlen)
{
    if (!path) {
        snprintf(err, errlen, "The server is running without a config file");
        return -1;
    }
    char *old = read_file(path);
    if (!old) old = strdup(""); /* a missing file is created */
    if (!old) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t nopt = 0;
    while (options[nopt].name) nopt++;
    char *seen = calloc(nopt, 1);
    char *out = NULL;
    size_t len = 0, cap = 0;
    resp_parser p;
    resp_parser_init(&p, LLONG_MAX);
    char *scratch = NULL;
    char line[2048];
    int rc = 0, has_marker = 0;
    const char *marker = "# Generated by CONFIG REWRITE";
    for (const char *s = old; *s;) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        const char *t = s;
        while (t < s + l && isspace((unsigned char)*t)) t++;
        int keep = 1;
        if (l >= strlen(marker) && !strncmp(s, marker, strlen(marker))) has_marker = 1;
        if (t < s + l && *t != '#' && split_line(s, l, &scratch, &p) > 0) {
            const config_option *o = config_find(scratch + p.argoff[0]);
            if (o) {
                size_t idx = (size_t)(o - options);
                keep = 0;
                if (!seen[idx]) {
                    seen[idx] = 1;
                    option_line(o, line, sizeof line);
                    append(&out, &len, &cap, line, strlen(line));
                }
            }
        }
        if (keep) {
            append(&out, &len, &cap, s, l);
            append(&out, &len, &cap, "\n", 1);
        }
        s += l;
        if (*s == '\n') s++;
    }
    int wrote_marker = has_marker;
    for (size_t i = 0; i < nopt; i++) {
        if (seen[i] || option_is_default(&options[i])) continue;
        if (!wrote_marker) {
            if (len && out[len - 1] != '\n') append(&out, &len, &cap, "\n", 1);
            append(&out, &len, &cap, marker, strlen(marker));
            append(&out, &len, &cap, "\n", 1);
            wrote_marker = 1;
        }
        option_line(&options[i], line, sizeof line);
        append(&out, &len, &cap, line, strlen(line));
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f || (len && fwrite(out, 1, len, f) != len) || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        snprintf(err, errlen, "Rewriting config file: %s", strerror(errno));
        if (f) fclose(f);
        unlink(tmp);
        rc = -1;
    } else {
        fclose(f);
        if (rename(tmp, path) < 0) {
            snprintf(err, errlen, "Rewriting config file: %s", strerror(errno));
            unlink(tmp);
            rc = -1;
        }
    }
    free(scratch);
    resp_parser_free(&p);
    free(out);
    free(old);
    free(seen);
    return rc;
}

/* ---- CONFIG command handlers ---- */

void config_get_command(client *c)
{
    size_t nopt = 0;
    while (options[nopt].name) nopt++;
    char *match = calloc(nopt, 1);
    long n = 0;
    for (int a = 2; a < c->argc; a++)
        for (size_t i = 0; i < nopt; i++)
            if (!match[i] && glob_match(c->argv[a].ptr, c->argv[a].len, options[i].name,
                                        strlen(options[i].name), 1)) {
                match[i] = 1;
                n++;
            }
    reply_map(c, n);
    char val[1024];
    for (size_t i = 0; i < nopt; i++) {
        if (!match[i]) continue;
        reply_bulk_cstr(c, options[i].name);
        option_format(&options[i], val, sizeof val, 0);
        reply_bulk_cstr(c, val);
    }
    free(match);
}

/* CONFIG SET dir (allowed by enable-protected-configs): the engine keeps its files open in the
 * directory it started in, so only that same directory is accepted. */
static int check_dir_unchanged(const char *value, char *err, size_t errlen)
{
    char *want = realpath(value, NULL);
    if (!want) {
        snprintf(err, errlen, "%s", strerror(errno)); /* what Redis's chdir() reports */
        return -1;
    }
    char *cur = realpath(config.dir, NULL);
    int same = cur && strcmp(cur, want) == 0;
    if (!same)
        snprintf(err, errlen, "the data directory of a running server cannot change (the engine's files are in '%.200s'): set dir in the configuration file and restart",
                 cur ? cur : config.dir);
    free(want);
    free(cur);
    return same ? 0 : -1;
}

void config_set_command(client *c)
{
    if (c->argc < 4 || c->argc % 2) {
        reply_wrong_arity(c, "config|set");
        return;
    }
    int npairs = (c->argc - 2) / 2;
    const config_option **opts = calloc((size_t)npairs, sizeof *opts);
    char err[512];
    /* validate names first (unknown, immutable, duplicate), as Redis does */
    for (int i = 0; i < npairs; i++) {
        const char *name = c->argv[2 + 2 * i].ptr;
        const config_option *o = config_find(name);
        if (!o) {
            reply_errorf(c, "ERR Unknown option or number of arguments for CONFIG SET - '%s'", name);
            free(opts);
            return;
        }
        if (!(o->flags & CFG_MUTABLE) ||
            ((o->flags & CFG_PROTECTED) && !config_allow_protected(config.enable_protected_configs, c))) {
            reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - can't set %s config", name,
                         !(o->flags & CFG_MUTABLE) ? "immutable" : "protected");
            free(opts);
            return;
        }
        if (o->ptr == &config.dir && check_dir_unchanged(c->argv[3 + 2 * i].ptr, err, sizeof err) < 0) {
            reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", name, err);
            free(opts);
            return;
        }
        for (int j = 0; j < i; j++)
            if (opts[j] == o) {
                reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - duplicate parameter", name);
                free(opts);
                return;
            }
        opts[i] = o;
    }
    /* apply all; on failure restore the previous values of those already set */
    char (*prev)[1024] = malloc((size_t)npairs * sizeof *prev);
    for (int i = 0; i < npairs; i++) option_format(opts[i], prev[i], sizeof prev[i], 0);
    for (int i = 0; i < npairs; i++) {
        if (opts[i]->ptr == &config.dir) continue; /* checked: the same directory, kept as written */
        if (config_set(opts[i]->name, c->argv[3 + 2 * i].ptr, 1, err, sizeof err) < 0) {
            char e2[64];
            for (int j = 0; j <= i; j++) config_set(opts[j]->name, prev[j], 1, e2, sizeof e2);
            reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", opts[i]->name, err);
            free(prev);
            free(opts);
            return;
        }
    }
    free(prev);
    free(opts);
    reply_ok(c);
}

void config_rewrite_command(client *c)
{
    char err[512];
    if (!config.configfile) {
        reply_error(c, "ERR The server is running without a config file");
        return;
    }
    if (config_rewrite(config.configfile, err, sizeof err) < 0) {
        log_msg(LL_WARNING, "CONFIG REWRITE failed: %s", err);
        reply_errorf(c, "ERR %s", err);
        return;
    }
    log_msg(LL_NOTICE, "CONFIG REWRITE executed with success.");
    reply_ok(c);
}

void config_resetstat_command(client *c)
{
    server_reset_stats();
    reply_ok(c);
}

void config_help_command(client *c)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Print this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++) reply_simple(c, lines[i]);
}
