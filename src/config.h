/* config.h - the option table and its users: config file (redis.conf syntax), command line
 * (--name value), CONFIG GET/SET/REWRITE/RESETSTAT. Main thread only.
 * One table (config.c) lists every option: name, type, default, mutability, doc, value pointer.
 * The values live in the global `config` below; other modules read them directly. */
#ifndef KEVO_CONFIG_H
#define KEVO_CONFIG_H
#include <stddef.h>

struct client;

enum { CFG_DEBUG_NO = 0, CFG_DEBUG_YES = 1, CFG_DEBUG_LOCAL = 2 };

struct config {
    char *configfile;          /* absolute path of the file loaded, NULL when none */
    char *bind;                /* space-separated addresses */
    int port;
    int tcp_backlog;
    char *dir;
    char *logfile;
    int loglevel;              /* LL_* */
    int daemonize;
    char *pidfile;
    int appendfsync;           /* lsm_sync_mode values: 0 no, 1 everysec, 2 always */
    int appendonly;            /* accepted, informational (the WAL is always on) */
    char *save;                /* accepted, ignored */
    char *requirepass;         /* "" = none */
    int protected_mode;        /* refuse non-loopback clients while no password is set */
    unsigned maxclients;       /* Redis's range 1..4294967295 (config_adjust_open_files_limit) */
    int databases;
    int timeout;               /* idle seconds, 0 = never */
    int tcp_keepalive;
    int hz;
    int busy_poll_us;          /* event loop busy-poll limit, 0 = off */
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    /* OBJECT ENCODING thresholds (Redis's names; storage does not depend on them) */
    long long hash_max_listpack_entries, hash_max_listpack_value;
    long long set_max_intset_entries;
    long long zset_max_listpack_entries, zset_max_listpack_value;
    long long list_max_listpack_size, list_compress_depth;
    /* stream macro-node limits (Redis's): decide where XADD starts a new node, which is what
     * MAXLEN/MINID ~ trim by (types/stream.h) */
    long long stream_node_max_bytes, stream_node_max_entries;
    char *client_output_buffer_limit;  /* canonical "normal h s t replica h s t pubsub h s t" */
    long long obuf_hard, obuf_soft;    /* normal class, bytes; 0 = no limit */
    int obuf_soft_seconds;
    long long obuf_pubsub_hard, obuf_pubsub_soft; /* pubsub class (subscribed clients) */
    int obuf_pubsub_soft_seconds;
    char *notify_keyspace_events_str;  /* canonical, as CONFIG GET shows it (notify.h) */
    int notify_keyspace_events;        /* NOTIFY_* classes (notify.h) */
    long long tracking_table_max_keys; /* client-side caching: keys remembered, 0 = no limit */
    int enable_debug_command;  /* CFG_DEBUG_* */
    int jemalloc_bg_thread;    /* jemalloc background purging threads */
    int enable_protected_configs; /* CFG_DEBUG_*: CONFIG SET of dir, dbfilename */
    char *dbfilename;          /* accepted, never written */
    char *appendfilename;      /* accepted */
    char *appenddirname;       /* accepted */
    long long maxmemory;       /* accepted, not enforced */
    int maxmemory_policy;      /* accepted */
    int maxmemory_samples;     /* accepted */
    long long slowlog_log_slower_than; /* usec, <0 disables, 0 logs all */
    int slowlog_max_len;
    long long hll_sparse_max_bytes; /* a sparse HyperLogLog growing past this turns dense */
    long long busy_reply_threshold; /* ms a script runs before other clients get -BUSY
                                       (alias lua-time-limit); 0 = never */
    /* engine */
    long long memtable_size;
    int max_immutable_memtables;
    long long block_cache_size;
    long long block_size;
    int bloom_bits_per_key;
    int compression;
    int l0_compaction_trigger;
    int l0_slowdown_trigger;
    long long level1_max_bytes;
    long long target_file_size;
    int compaction_threads;
    int disk_read_threads;
    int disk_read_direct;
    int disk_read_uring;
    int disk_read_uring_thread;
    int memtable_link_thread;
    int loop_idle_linking;
    int max_open_files;
    int wal_skip_corrupt;
};
extern struct config config;

/* Resets every option to its default (frees previous strings). */
void config_init(void);
void config_free(void);
/* Applies redis.conf-syntax text ("name value..." lines, quotes, '#' comments). On error returns
 * -1 with a Redis-style message in err ("Bad directive or wrong number of arguments", ...) and
 * the 1-based line in *errline and the line's text in errtext (errtextlen bytes). */
int config_load_string(const char *text, char *err, size_t errlen, int *errline, char *errtext,
                       size_t errtextlen);
/* Loads path (may be NULL) then extra (command-line options as config text, may be NULL).
 * Prints Redis's "FATAL CONFIG FILE ERROR" report to stderr on failure; returns 0 or -1. */
int config_load(const char *path, const char *extra);
/* Sets one option from its string value (multi-word values joined by spaces). runtime != 0
 * refuses immutable options and runs the option's apply hook. 0, or -1 with the reason in err
 * (Redis's wording, e.g. "argument must be 'yes' or 'no'"); -2 when the option is unknown. */
int config_set(const char *name, const char *value, int runtime, char *err, size_t errlen);
/* Current value of name as CONFIG GET shows it, into buf; returns 0, or -1 if unknown. */
int config_get(const char *name, char *buf, size_t cap);
/* Rewrites path in place (CONFIG REWRITE): option lines get the current values, comments and
 * unknown lines are kept, non-default options not present are appended. 0 or -1 (err). */
int config_rewrite(const char *path, char *err, size_t errlen);
/* Redis's allowProtectedAction: 1 when an option set to CFG_DEBUG_YES, or CFG_DEBUG_LOCAL and c
 * connected from the loopback interface, lets c do the protected action (DEBUG; CONFIG SET of
 * a protected option such as dir). */
int config_allow_protected(int setting, struct client *c);
/* Once, after server_init: raises the open files limit for maxclients, or lowers maxclients to
 * fit (logged), as Redis's adjustOpenFilesLimit; starts jemalloc's background threads when
 * jemalloc-bg-thread is yes. */
void config_server_started(void);
/* Parses a memory value ("64mb", "1gb", "100", "4k"): 1 ok, 0 invalid. */
int config_parse_memory(const char *s, long long *out);

/* Command handlers (CONFIG subcommands; table entries live in cmd_server.c). */
void config_get_command(struct client *c);
void config_set_command(struct client *c);
void config_rewrite_command(struct client *c);
void config_resetstat_command(struct client *c);
void config_help_command(struct client *c);
#endif
