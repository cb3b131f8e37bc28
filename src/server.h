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
    /* ... server.c adds what it needs ... */
};
extern struct server server;

/* Wall clock in unix milliseconds / microseconds (cached per command for consistent expiry
 * checks inside one command: commands see server_now_ms() fixed while they run). */
uint64_t server_now_ms(void);
uint64_t server_ustime(void);

/* Commits the engine, closes it and opens it again (DEBUG RELOAD). 0 or -1 (logged). */
int server_reload_engine(int flush_first);
#endif
