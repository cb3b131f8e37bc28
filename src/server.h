/* server.h - the one server context (global `server`, Redis style), cron, before-sleep, startup
 * and shutdown. Main thread only unless a field says otherwise. server.c owns this; the fields
 * below are the contract other modules rely on (server.c may add more). */
#ifndef KEVO_SERVER_H
#define KEVO_SERVER_H
#include <stddef.h>
#include <stdint.h>
#include "lsm.h"

#define KEVO_VERSION "7.0.0"   /* reported as redis_version (clients key features off it) */
#define KEVO_MAX_DBS 16

struct config;   /* config.h */

struct server_stats {
    long long numcommands;
    long long numconnections;
    long long rejected_conn;
    long long expiredkeys;          /* keys deleted by expiry (lazy or active) */
    long long keyspace_hits, keyspace_misses;
    long long total_error_replies;
    long long net_input_bytes, net_output_bytes;
    long long stat_expired_time_cap_reached_count;
};

struct server {
    lsm_t *engine;          /* the open engine; NULL while reopening (DEBUG RELOAD) */
    char *dir;              /* data directory */
    int port;
    int dbnum;              /* "databases" config (<= KEVO_MAX_DBS) */
    int active_expire_enabled; /* DEBUG SET-ACTIVE-EXPIRE */
    long long dirty;        /* writes since last SAVE */
    long long lastsave;     /* unix seconds of last SAVE */
    int hz;
    uint64_t start_time_ms;
    struct server_stats stat;
    lsm_batch *batch;       /* a reusable write batch for the keyspace layer (always cleared
                               before use; never held across calls) */
    /* ---- added by server.c (S1) ---- */
    struct event_loop *el;
    int listen_fds[16];
    int nlisten;
    uint64_t cmd_time_ms;   /* cached wall clock for the running command (server_now_ms) */
    uint64_t cmd_time_us;
    long long iteration;    /* event-loop iterations (before-sleep calls) */
    long long cronloops;
    volatile int shutdown_asap; /* set by SIGTERM/SIGINT, handled in cron/before-sleep */
    int shutdown_flags;     /* SHUTDOWN_* */
    int commit_failed;      /* the last lsm_commit failed: writes are refused (MISCONF) */
    char commit_err[256];
    uint64_t next_client_id;
    long long stat_total_reads, stat_total_writes;
    long long stat_paused_writes;   /* commands paused by back-pressure */
    long long stat_starttime_resetstat;
    uint64_t lsm_engine_errors;
    int epoch_commit_error; /* a server_commit_point failed: before_sleep fails the epoch */
    int engine_failed;      /* the engine refuses writes (lsm_write_error), as last polled */
    long long bgsave_last_ms;
    int last_save_ok;
    /* ---- added for pub/sub and client-side caching ---- */
    struct client *current_client; /* the client whose top-level command is running (set by
                                      command_process, NULL between commands, in the cron and
                                      in before-sleep); a command run by EXEC keeps its caller */
};
#define SHUTDOWN_NOFLAGS 0
#define SHUTDOWN_SAVE 1
#define SHUTDOWN_NOSAVE 2
extern struct server server;

/* Wall clock in unix milliseconds / microseconds (cached per command for consistent expiry
 * checks inside one command: commands see server_now_ms() fixed while they run). */
uint64_t server_now_ms(void);
uint64_t server_ustime(void);

/* Commits the engine, closes it and opens it again (DEBUG RELOAD). 0 or -1 (logged). */
int server_reload_engine(int flush_first);

/* ---- added by server.c (S1) ---- */
/* Startup after config_load: logging, listening sockets, engine open. 0 or -1 (logged). */
int server_init(void);
/* Runs the event loop until shutdown; returns the exit code. */
int server_run(void);
/* Stops the server after this iteration (SHUTDOWN): commits, closes the engine, exits.
 * flags SHUTDOWN_SAVE flushes memtables to SSTables first. Returns only on failure (-1). */
int server_prepare_shutdown(int flags);
/* Zeroes INFO stats, command stats and error counts (CONFIG RESETSTAT). */
void server_reset_stats(void);
/* Refreshes the cached command time (called by the dispatcher before each command). */
void server_update_cmd_time(void);
/* A commit in the middle of a loop iteration, before a write command when the engine asks for
 * one (lsm_commit_wanted: the memtable is full and turns over only at a commit). On success the
 * writes so far are durable and a new commit epoch starts (server.iteration), so a later failed
 * commit in the same iteration never turns their replies into errors. Loop thread. */
void server_commit_point(void);
/* lsm_poll, and the log lines when the engine starts or stops refusing writes. Loop thread. */
void server_poll_engine(void);
/* Engine options from config. */
void server_engine_options(lsm_options *o);
#endif
