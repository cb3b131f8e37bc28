/* server.c - the server context, startup, cron, before-sleep (group commit), engine open/reload,
 * signals and shutdown (see server.h). */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "blocking.h"
#include "client.h"
#include "command.h"
#include "config.h"
#include "event.h"
#include "info.h"
#include "io_wait.h"
#include "keyspace.h"
#include "types/coll.h"
#include "log.h"
#include "net.h"
#include "tracking.h"
#include "scripting.h"

struct server server;

static void server_refresh_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    server.cmd_time_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
    server.cmd_time_ms = server.cmd_time_us / 1000;
    /* compactions judge expiry by this cached time, never by a clock ahead of it */
    if (server.engine) lsm_set_expire_clock(server.engine, server.cmd_time_ms);
}

uint64_t server_now_ms(void)
{
    if (!server.cmd_time_ms) server_refresh_time();
    return server.cmd_time_ms;
}

/* Fresh on every call (used to time commands). */
uint64_t server_ustime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void server_update_cmd_time(void) { server_refresh_time(); }

void server_reset_stats(void)
{
    memset(&server.stat, 0, sizeof server.stat);
    server.stat_total_reads = server.stat_total_writes = server.stat_paused_writes = 0;
    command_stats_reset();
    info_reset();
    if (server.el) ev_reset_busy_poll_stats(server.el);
}

static void engine_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    log_str(level, msg);
}

void server_engine_options(lsm_options *o)
{
    lsm_options_init(o);
    o->memtable_size = (size_t)config.memtable_size;
    o->max_immutable_memtables = config.max_immutable_memtables;
    o->prefault_memtables = 1;
    o->prefault_blocks = 1;
    o->background_linking = config.memtable_link_thread;
    o->unlink_in_background = 1; /* the loop never waits for ext4 to free an obsolete table */
    o->block_cache_size = (size_t)config.block_cache_size;
    o->block_size = (size_t)config.block_size;
    o->bloom_bits_per_key = config.bloom_bits_per_key;
    o->compression = config.compression;
    o->l0_compaction_trigger = config.l0_compaction_trigger;
    o->l0_slowdown_trigger = config.l0_slowdown_trigger;
    o->level1_max_bytes = (uint64_t)config.level1_max_bytes;
    o->target_file_size = (uint64_t)config.target_file_size;
    o->compaction_threads = config.compaction_threads;
    o->max_open_files = config.max_open_files;
    o->read_threads = config.disk_read_threads;
    o->read_direct = config.disk_read_direct;
    o->read_uring = config.disk_read_uring ? (config.disk_read_uring_thread ? 2 : 1) : 0;
    o->sync_mode = (lsm_sync_mode)config.appendfsync;
    o->skip_corrupt_wal = config.wal_skip_corrupt;
    o->expire_fn = keyspace_value_expire;
    o->expire_ctx = NULL;
    o->compaction_filter = coll_compaction_filter; /* members of dead collection versions */
    o->compaction_filter_ctx = NULL;
    o->log_fn = engine_log;
    o->log_ctx = NULL;
}

static void engine_event_handler(event_loop *el, int fd, void *data, int mask)
{
    (void)el, (void)fd, (void)data, (void)mask;
    /* not from inside a busy script: its write group is open (results wait for the loop) */
    if (!server.engine || scripting_script_running()) return;
    server_poll_engine();
    if (client_paused_count() && !lsm_write_stalled(server.engine)) client_resume_paused();
}

/* The engine's reader threads finished reads that parked clients wait for (io_wait.h). */
static void engine_read_handler(event_loop *el, int fd, void *data, int mask)
{
    (void)el, (void)fd, (void)data, (void)mask;
    io_wait_reads_done();
}

/* Installs background results; logs when the engine starts or stops refusing writes (the
 * engine logs each failure and repair itself, through engine_log). */
void server_poll_engine(void)
{
    int r = lsm_poll(server.engine);
    const char *why = "";
    int refused = lsm_write_error(server.engine, &why) != 0;
    if (refused && !server.engine_failed)
        log_msg(LL_WARNING, "Writes are refused (MISCONF) until the engine repairs: %s (%s)", why,
                lsm_strerror(r < 0 ? r : LSM_EIO));
    else if (!refused && server.engine_failed)
        log_msg(LL_WARNING, "The engine repaired the write failure: writes are accepted again.");
    server.engine_failed = refused;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
    return 0;
}

static int server_open_engine(void)
{
    if (mkdir_p(config.dir) < 0) {
        log_msg(LL_WARNING, "Can't create the data directory '%s': %s", config.dir, strerror(errno));
        return -1;
    }
    lsm_options o;
    server_engine_options(&o);
    uint64_t t0 = server_ustime();
    int r = lsm_open(config.dir, &o, &server.engine);
    if (r < 0) {
        log_msg(LL_WARNING, "Failed opening the storage engine in '%s': %s (%s)", config.dir, lsm_strerror(r),
                lsm_last_error(NULL));
        server.engine = NULL;
        return -1;
    }
    int efd = lsm_event_fd(server.engine);
    if (efd >= 0 && server.el && ev_add(server.el, efd, EV_READABLE, engine_event_handler, NULL) < 0) {
        log_msg(LL_WARNING, "Can't watch the engine's event fd: %s", strerror(errno));
        lsm_close(server.engine);
        server.engine = NULL;
        return -1;
    }
    int rfd = lsm_read_event_fd(server.engine);
    if (rfd >= 0 && server.el && ev_add(server.el, rfd, EV_READABLE, engine_read_handler, NULL) < 0) {
        log_msg(LL_WARNING, "Can't watch the engine's read event fd: %s", strerror(errno));
        if (efd >= 0) ev_del(server.el, efd, EV_READABLE);
        lsm_close(server.engine);
        server.engine = NULL;
        return -1;
    }
    if (keyspace_open() < 0) {
        log_msg(LL_WARNING, "Failed loading the keyspace metadata");
        if (efd >= 0 && server.el) ev_del(server.el, efd, EV_READABLE);
        if (rfd >= 0 && server.el) ev_del(server.el, rfd, EV_READABLE);
        lsm_close(server.engine);
        server.engine = NULL;
        return -1;
    }
    server.engine_failed = 0;
    /* io_uring reads queued while commands run start together in before_sleep */
    if (server.el) lsm_prefetch_hold(server.engine, 1);
    log_msg(LL_NOTICE, "DB loaded from disk: %.3f seconds", (double)(server_ustime() - t0) / 1e6);
    return 0;
}

static void server_close_engine(int flush_first)
{
    if (!server.engine) return;
    keyspace_close();
    int r = lsm_commit(server.engine);
    if (r < 0) log_msg(LL_WARNING, "WAL commit failed while closing: %s", lsm_strerror(r));
    if (flush_first) {
        r = lsm_flush(server.engine, 1);
        if (r < 0) log_msg(LL_WARNING, "Flushing memtables failed: %s", lsm_strerror(r));
    }
    int efd = lsm_event_fd(server.engine);
    if (efd >= 0 && server.el) ev_del(server.el, efd, EV_READABLE);
    int rfd = lsm_read_event_fd(server.engine);
    if (rfd >= 0 && server.el) ev_del(server.el, rfd, EV_READABLE);
    io_wait_release_all(); /* their reads are dropped with the engine: they read in place */
    r = lsm_close(server.engine);
    if (r < 0) log_msg(LL_WARNING, "Closing the engine: %s", lsm_strerror(r));
    server.engine = NULL;
}

int server_reload_engine(int flush_first)
{
    server_close_engine(flush_first);
    if (server_open_engine() < 0) {
        /* the server cannot serve without its engine */
        log_msg(LL_WARNING, "Reopening the engine failed: exiting");
        exit(1);
    }
    return 0;
}

/* ---------------------------------------------------------------- signals & shutdown */

static void sig_shutdown_handler(int sig)
{
    if (server.shutdown_asap && sig == SIGINT) {
        static const char msg[] = "You insist... exiting now.\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(1);
    }
    server.shutdown_asap = sig;
}

static void setup_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = sig_shutdown_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int server_prepare_shutdown(int flags)
{
    log_msg(LL_WARNING, "User requested shutdown...");
    if (server.engine && (flags & SHUTDOWN_SAVE)) log_msg(LL_NOTICE, "Flushing memtables to SSTables before exiting.");
    int commit_ok = 1;
    if (server.engine && lsm_commit(server.engine) < 0) commit_ok = 0;
    client_flush_all(commit_ok, "ERR shutdown: WAL commit failed");
    server_close_engine(flags & SHUTDOWN_SAVE);
    for (int i = 0; i < server.nlisten; i++) close(server.listen_fds[i]);
    if (config.pidfile && config.pidfile[0]) unlink(config.pidfile);
    log_msg(LL_WARNING, "Kevo is now ready to exit, bye bye...");
    exit(0);
    return -1;
}

static void check_shutdown(void)
{
    if (!server.shutdown_asap) return;
    log_msg(LL_WARNING, "Received %s scheduling shutdown...", server.shutdown_asap == SIGINT ? "SIGINT" : "SIGTERM");
    server_prepare_shutdown(SHUTDOWN_NOFLAGS);
}

/* ---------------------------------------------------------------- loop hooks */

void server_commit_point(void)
{
    int r = lsm_commit(server.engine);
    if (r == 0) server.iteration++; /* a new commit epoch: the replies so far are settled */
    else server.epoch_commit_error = r; /* reported, with this epoch's replies, in before_sleep */
}

#define UNBLOCKED_SLICE_US 30 /* resumed clients' time between two polls of the sockets */

#define EXPIRE_FAST_CYCLE_US 1000 /* as Redis's fast expire cycle */

/* Memtable entries the loop links per empty poll of a busy-poll window (~0.3-1 us each): short
 * enough that a request arriving meanwhile waits a few us at most. */
#define IDLE_LINK_ENTRIES 16

/* ev_set_idle: the loop polled and found nothing; the linker thread's work is done here instead,
 * in CPU time the loop spends anyway (the thread would take it from the clients' processes). */
static void loop_idle(event_loop *el)
{
    (void)el;
    if (server.engine && config.loop_idle_linking) lsm_idle(server.engine, IDLE_LINK_ENTRIES);
}

static void before_sleep(event_loop *el)
{
    check_shutdown();
    /* clients unblocked since the last iteration (served, timed out, CLIENT UNBLOCK) go on with
     * their pipelined commands now, so their writes join this iteration's commit */
    blocking_handle_ready();
    /* the sockets are polled every slice in between (while only reads ran): a loop busy with
     * many resumed clients (parked commands whose reads landed) serves a request that needs no
     * disk after one slice, not after all of them */
    if (client_process_unblocked(UNBLOCKED_SLICE_US)) ev_dont_wait(el);
    /* the keys the active expire cycle waited for are in memory now: a fast cycle goes on */
    if (server.engine && server.active_expire_enabled && keyspace_expire_fast_due()) {
        keyspace_active_expire_cycle(EXPIRE_FAST_CYCLE_US);
        if (keyspace_expire_fast_due()) ev_dont_wait(el); /* its budget ran out: more next time */
    }
    /* the io_uring reads the iteration's parked commands (and the expire cycle) queued start
     * now, together */
    if (server.engine) lsm_prefetch_flush(server.engine);
    int ok = 1;
    char err[400];
    err[0] = 0;
    if (server.engine) {
        int r = lsm_commit(server.engine);
        if (r == 0 && server.epoch_commit_error) r = server.epoch_commit_error;
        server.epoch_commit_error = 0;
        if (r < 0) {
            ok = 0;
            if (!server.commit_failed)
                log_msg(LL_WARNING, "WAL commit failed: %s (%s). Refusing writes until it succeeds.", lsm_strerror(r),
                        lsm_last_error(server.engine));
            server.commit_failed = 1;
            snprintf(server.commit_err, sizeof server.commit_err, "%s", lsm_strerror(r));
            snprintf(err, sizeof err, "MISCONF Errors writing to the write-ahead log (%s): the write was not persisted",
                     server.commit_err);
        } else if (server.commit_failed) {
            server.commit_failed = 0;
            log_msg(LL_WARNING, "WAL commit succeeded again: writes are accepted.");
        }
    }
    /* client-side caching in BCAST mode: the keys modified in this iteration, before the
     * replies go out (Redis's beforeSleep order) */
    tracking_broadcast();
    client_flush_all(ok, err);
    server.iteration++;
}

static long long server_cron(event_loop *el, long long id, void *data)
{
    (void)el, (void)id, (void)data;
    server_refresh_time();
    server.cronloops++;
    check_shutdown();
    client_cron();
    info_cron();
    if (tracking_clients()) tracking_limit_keys(); /* after a CONFIG SET of a lower limit, idle */
    if (server.engine) {
        server_poll_engine();
        if (server.active_expire_enabled) {
            long long budget = 1000000LL / (server.hz > 0 ? server.hz : 10) / 4;
            long long n = keyspace_active_expire_cycle(budget);
            (void)n;
        }
        keyspace_reclaim_cron();
        if (client_paused_count() && !lsm_write_stalled(server.engine)) client_resume_paused();
    }
    return 1000 / (server.hz > 0 ? server.hz : 10);
}

/* ---------------------------------------------------------------- startup */

static int server_listen(void)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", config.port == 0 ? "" : config.bind ? config.bind : ""); /* port 0: no TCP */
    char *save = NULL;
    for (char *a = strtok_r(buf, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
        if (server.nlisten == (int)(sizeof server.listen_fds / sizeof server.listen_fds[0])) break;
        char err[256];
        int optional = a[0] == '-';
        int fd = net_listen(a, config.port, config.tcp_backlog, err, sizeof err);
        if (fd < 0) {
            if (optional) continue;
            log_msg(LL_WARNING, "Warning: Could not create server TCP listening socket %s:%d: %s", a, config.port, err);
            return -1;
        }
        if (ev_add(server.el, fd, EV_READABLE, client_accept_handler, NULL) < 0) {
            close(fd);
            return -1;
        }
        server.listen_fds[server.nlisten++] = fd;
    }
    if (server.nlisten == 0) {
        log_msg(LL_WARNING, "Configured to not listen anywhere, exiting.");
        return -1;
    }
    return 0;
}

int server_init(void)
{
    log_set_level(config.loglevel);
    if (log_set_file(config.logfile) < 0) {
        fprintf(stderr, "Can't open the log file: %s\n", strerror(errno));
        return -1;
    }
    server_refresh_time();
    server.start_time_ms = server_now_ms();
    server.port = config.port;
    server.dir = config.dir;
    server.dbnum = config.databases;
    server.hz = config.hz;
    server.active_expire_enabled = 1;
    server.lastsave = (long long)(server.start_time_ms / 1000);
    server.last_save_ok = 1;
    server.stat_starttime_resetstat = server.lastsave;
    log_msg(LL_NOTICE, "oO0OoO0OoO0Oo Kevo is starting oO0OoO0OoO0Oo");
    log_msg(LL_NOTICE, "Kevo version=%s, bits=%d, pid=%d, just started", KEVO_VERSION, (int)(sizeof(long) * 8), (int)getpid());
    if (config.configfile) log_msg(LL_NOTICE, "Configuration loaded");
    else log_msg(LL_WARNING, "Warning: no config file specified, using the default config. In order to specify a config file use kevo-server /path/to/kevo-server.conf");
    setup_signals();
    server.el = ev_create(config.maxclients + 128);
    if (!server.el) {
        log_msg(LL_WARNING, "Failed creating the event loop: %s", strerror(errno));
        return -1;
    }
    ev_set_busy_poll(server.el, config.busy_poll_us);
    if (config.busy_poll_us > 0 && ev_get_busy_poll_stats(server.el).limit_us == 0)
        log_msg(LL_NOTICE, "busy-poll-us: only one CPU available, the event loop will not poll");
    server.batch = lsm_batch_new();
    command_table_init();
    if (scripting_init() < 0) return -1;
    if (server_listen() < 0) return -1;
    if (server_open_engine() < 0) return -1;
    if (scripting_load_functions() < 0) return -1;
    if (config.pidfile && config.pidfile[0]) {
        FILE *f = fopen(config.pidfile, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        } else {
            log_msg(LL_WARNING, "Failed to write PID file: %s", strerror(errno));
        }
    }
    ev_timer_add(server.el, 1, server_cron, NULL);
    ev_set_before_sleep(server.el, before_sleep);
    ev_set_idle(server.el, loop_idle);
    log_msg(LL_NOTICE, "Server initialized");
    log_msg(LL_NOTICE, "Kevo %s (LSM engine) running, port %d, data directory %s", KEVO_VERSION, config.port, config.dir);
    log_msg(LL_NOTICE, "Ready to accept connections tcp");
    return 0;
}

int server_run(void)
{
    ev_main(server.el);
    return 0;
}
