/* info.c - INFO sections (see info.h). */
#include "io_wait.h"
#include "info.h"
#include "scripting.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "blocking.h"
#include "client.h"
#include "command.h"
#include "config.h"
#include "event.h"
#include "keyspace.h"
#include "lsm.h"
#include "pubsub.h"
#include "server.h"
#include "tracking.h"

#ifdef KEVO_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_printf(sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *sb, const char *fmt, ...)
{
    for (;;) {
        size_t room = sb->cap - sb->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(sb->p ? sb->p + sb->len : NULL, sb->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (sb->p && (size_t)n < room) {
            sb->len += (size_t)n;
            return;
        }
        size_t nc = sb->cap ? sb->cap * 2 : 4096;
        while (nc < sb->len + (size_t)n + 1) nc *= 2;
        char *np = realloc(sb->p, nc);
        if (!np) return;
        sb->p = np;
        sb->cap = nc;
    }
}

/* ---------------------------------------------------------------- error stats */

#define MAX_ERROR_KINDS 128
static struct {
    char name[32];
    long long count;
} errstats[MAX_ERROR_KINDS];
static int nerrstats;

void info_count_error(const char *msg)
{
    if (msg[0] == '-') msg++;
    size_t l = strcspn(msg, " ");
    if (l >= sizeof errstats[0].name) l = sizeof errstats[0].name - 1;
    for (int i = 0; i < nerrstats; i++)
        if (strlen(errstats[i].name) == l && !strncmp(errstats[i].name, msg, l)) {
            errstats[i].count++;
            return;
        }
    if (nerrstats == MAX_ERROR_KINDS) return;
    memcpy(errstats[nerrstats].name, msg, l);
    errstats[nerrstats].name[l] = 0;
    errstats[nerrstats].count = 1;
    nerrstats++;
}

void info_reset(void) { nerrstats = 0; }

/* ---------------------------------------------------------------- helpers */

static void human_bytes(char *buf, size_t cap, unsigned long long n)
{
    double d = (double)n;
    if (n < 1024) snprintf(buf, cap, "%lluB", n);
    else if (n < 1024ULL * 1024) snprintf(buf, cap, "%.2fK", d / 1024);
    else if (n < 1024ULL * 1024 * 1024) snprintf(buf, cap, "%.2fM", d / (1024.0 * 1024));
    else if (n < 1024ULL * 1024 * 1024 * 1024) snprintf(buf, cap, "%.2fG", d / (1024.0 * 1024 * 1024));
    else snprintf(buf, cap, "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
}

static unsigned long long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long long size = 0, res = 0;
    if (fscanf(f, "%llu %llu", &size, &res) != 2) res = 0;
    fclose(f);
    return res * (unsigned long long)sysconf(_SC_PAGESIZE);
}

static unsigned long long total_system_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), ps = sysconf(_SC_PAGESIZE);
    return pages > 0 && ps > 0 ? (unsigned long long)pages * (unsigned long long)ps : 0;
}

static char run_id[41];

static void ensure_run_id(void)
{
    if (run_id[0]) return;
    FILE *f = fopen("/dev/urandom", "r");
    unsigned char b[20] = {0};
    if (f) {
        if (fread(b, 1, sizeof b, f) != sizeof b) memset(b, 0x5a, sizeof b);
        fclose(f);
    }
    for (int i = 0; i < 20; i++) snprintf(run_id + 2 * i, 3, "%02x", b[i]);
}

static unsigned long long peak_memory;

/* ---------------------------------------------------------------- sections */

static void sec_server(sbuf *sb)
{
    struct utsname un;
    uname(&un);
    ensure_run_id();
    uint64_t now_us = server_ustime();
    uint64_t up = (now_us / 1000 - server.start_time_ms) / 1000;
    char exe[1024] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) exe[n] = 0;
    sb_printf(sb,
              "# Server\r\n"
              "redis_version:%s\r\n"
              "redis_git_sha1:00000000\r\n"
              "redis_git_dirty:0\r\n"
              "redis_build_id:0\r\n"
              "redis_mode:standalone\r\n"
              "kevo_version:%s\r\n"
              "os:%s %s %s\r\n"
              "arch_bits:%d\r\n"
              "monotonic_clock:POSIX clock_gettime\r\n"
              "multiplexing_api:epoll\r\n"
              "atomicvar_api:c11-builtin\r\n"
              "gcc_version:%d.%d.%d\r\n"
              "process_id:%d\r\n"
              "process_supervised:no\r\n"
              "run_id:%s\r\n"
              "tcp_port:%d\r\n"
              "server_time_usec:%llu\r\n"
              "uptime_in_seconds:%llu\r\n"
              "uptime_in_days:%llu\r\n"
              "hz:%d\r\n"
              "configured_hz:%d\r\n"
              "lru_clock:%llu\r\n"
              "executable:%s\r\n"
              "config_file:%s\r\n"
              "io_threads_active:0\r\n",
              KEVO_VERSION, KEVO_VERSION, un.sysname, un.release, un.machine, (int)(sizeof(long) * 8),
#ifdef __GNUC__
              __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
              0, 0, 0,
#endif
              (int)getpid(), run_id, config.port, (unsigned long long)now_us, (unsigned long long)up,
              (unsigned long long)(up / 86400), server.hz, config.hz,
              (unsigned long long)((now_us / 1000000) & ((1 << 24) - 1)), exe,
              config.configfile ? config.configfile : "");
}

static void sec_clients(sbuf *sb)
{
    sb_printf(sb,
              "# Clients\r\n"
              "connected_clients:%zu\r\n"
              "cluster_connections:0\r\n"
              "maxclients:%d\r\n"
              "client_recent_max_input_buffer:%zu\r\n"
              "client_recent_max_output_buffer:%zu\r\n"
              "blocked_clients:%zu\r\n"
              "tracking_clients:%lld\r\n"
              "clients_in_timeout_table:%zu\r\n"
              "paused_write_clients:%zu\r\n",
              client_count(), config.maxclients, client_max_input(), client_max_output(), blocking_clients(),
              tracking_clients(), blocking_clients_with_timeout(), client_paused_count());
}

static void sec_memory(sbuf *sb)
{
    unsigned long long allocated = 0, active = 0, resident = 0, mapped = 0;
    const char *allocator = "libc";
#ifdef KEVO_JEMALLOC
    {
        uint64_t epoch = 1;
        size_t sz = sizeof epoch;
        mallctl("epoch", &epoch, &sz, &epoch, sz);
        size_t v;
        sz = sizeof v;
        if (mallctl("stats.allocated", &v, &sz, NULL, 0) == 0) allocated = v;
        sz = sizeof v;
        if (mallctl("stats.active", &v, &sz, NULL, 0) == 0) active = v;
        sz = sizeof v;
        if (mallctl("stats.resident", &v, &sz, NULL, 0) == 0) resident = v;
        sz = sizeof v;
        if (mallctl("stats.mapped", &v, &sz, NULL, 0) == 0) mapped = v;
        allocator = "jemalloc";
    }
#endif
    unsigned long long rss = rss_bytes();
    unsigned long long used = allocated ? allocated : rss;
    if (used > peak_memory) peak_memory = used;
    unsigned long long sysmem = total_system_memory();
    char h1[32], h2[32], h3[32], h4[32];
    human_bytes(h1, sizeof h1, used);
    human_bytes(h2, sizeof h2, rss);
    human_bytes(h3, sizeof h3, peak_memory);
    human_bytes(h4, sizeof h4, sysmem);
    lsm_stats st;
    memset(&st, 0, sizeof st);
    if (server.engine) lsm_get_stats(server.engine, &st);
    scripting_memory sm;
    scripting_memory_info(&sm);
    char hl[32], hv[32], hs[32];
    human_bytes(hl, sizeof hl, sm.eval_vm);
    human_bytes(hv, sizeof hv, sm.eval_vm + sm.functions_vm);
    human_bytes(hs, sizeof hs, sm.eval_scripts + sm.functions_caches);
    sb_printf(sb,
              "# Memory\r\n"
              "used_memory:%llu\r\n"
              "used_memory_human:%s\r\n"
              "used_memory_rss:%llu\r\n"
              "used_memory_rss_human:%s\r\n"
              "used_memory_peak:%llu\r\n"
              "used_memory_peak_human:%s\r\n"
              "total_system_memory:%llu\r\n"
              "total_system_memory_human:%s\r\n"
              "used_memory_lua:%zu\r\n"
              "used_memory_vm_eval:%zu\r\n"
              "used_memory_lua_human:%s\r\n"
              "used_memory_scripts_eval:%zu\r\n"
              "number_of_cached_scripts:%zu\r\n"
              "number_of_functions:%zu\r\n"
              "number_of_libraries:%zu\r\n"
              "used_memory_vm_functions:%zu\r\n"
              "used_memory_vm_total:%zu\r\n"
              "used_memory_vm_total_human:%s\r\n"
              "used_memory_functions:%zu\r\n"
              "used_memory_scripts:%zu\r\n"
              "used_memory_scripts_human:%s\r\n"
              "used_memory_memtables:%llu\r\n"
              "used_memory_block_cache:%llu\r\n"
              "block_cache_capacity:%llu\r\n"
              "maxmemory:0\r\n"
              "maxmemory_human:0B\r\n"
              "maxmemory_policy:noeviction\r\n"
              "allocator_allocated:%llu\r\n"
              "allocator_active:%llu\r\n"
              "allocator_resident:%llu\r\n"
              "allocator_mapped:%llu\r\n"
              "mem_fragmentation_ratio:%.2f\r\n"
              "mem_allocator:%s\r\n",
              used, h1, rss, h2, peak_memory, h3, sysmem, h4, sm.eval_vm, sm.eval_vm, hl, sm.eval_scripts,
              sm.cached_scripts, sm.functions, sm.libraries, sm.functions_vm, sm.eval_vm + sm.functions_vm, hv,
              sm.functions_caches, sm.eval_scripts + sm.functions_caches, hs, (unsigned long long)st.memtable_bytes,
              (unsigned long long)st.cache_bytes, (unsigned long long)st.cache_capacity, allocated, active,
              resident, mapped, used ? (double)rss / (double)used : 0.0, allocator);
}

static void sec_persistence(sbuf *sb)
{
    static const char *const fs[] = {"no", "everysec", "always"};
    /* the engine's failure state (the Redis MISCONF model; lsm.h lsm_commit) */
    char why[256] = "";
    const char *w = "";
    int refused = server.engine && lsm_write_error(server.engine, &w) != 0;
    size_t n = 0;
    for (; w[n] && n < sizeof why - 1; n++) why[n] = w[n] == '\r' || w[n] == '\n' ? ' ' : w[n];
    why[n] = 0;
    lsm_stats st;
    memset(&st, 0, sizeof st);
    if (server.engine) lsm_get_stats(server.engine, &st);
    sb_printf(sb,
              "# Persistence\r\n"
              "loading:0\r\n"
              "async_loading:0\r\n"
              "rdb_changes_since_last_save:%lld\r\n"
              "rdb_bgsave_in_progress:0\r\n"
              "rdb_last_save_time:%lld\r\n"
              "rdb_last_bgsave_status:%s\r\n"
              "aof_enabled:1\r\n"
              "aof_rewrite_in_progress:0\r\n"
              "aof_rewrite_scheduled:0\r\n"
              "aof_last_write_status:%s\r\n"
              "aof_last_bgrewrite_status:ok\r\n"
              "wal_fsync_policy:%s\r\n"
              "engine_background_error:%d\r\n"
              "engine_writes_refused:%d\r\n"
              "engine_write_error:%s\r\n"
              "engine_write_failures:%llu\r\n",
              server.dirty, server.lastsave, server.last_save_ok ? "ok" : "err",
              server.commit_failed || refused ? "err" : "ok", fs[config.appendfsync % 3], refused, refused,
              why, (unsigned long long)st.write_failures);
}

/* instantaneous ops/sec: samples taken by info_cron */
#define OPS_SAMPLES 16
static long long ops_samples[OPS_SAMPLES], in_samples[OPS_SAMPLES], out_samples[OPS_SAMPLES];
static int ops_idx;
static long long last_ms, last_ops, last_in, last_out;

void info_cron(void)
{
    long long now = (long long)server_now_ms();
    if (last_ms && now - last_ms < 100) return;
    if (last_ms) {
        long long dt = now - last_ms;
        if (dt <= 0) dt = 1;
        ops_samples[ops_idx] = (server.stat.numcommands - last_ops) * 1000 / dt;
        in_samples[ops_idx] = (server.stat.net_input_bytes - last_in) * 1000 / dt;
        out_samples[ops_idx] = (server.stat.net_output_bytes - last_out) * 1000 / dt;
        ops_idx = (ops_idx + 1) % OPS_SAMPLES;
    }
    last_ms = now;
    last_ops = server.stat.numcommands;
    last_in = server.stat.net_input_bytes;
    last_out = server.stat.net_output_bytes;
}

static long long avg(const long long *s)
{
    long long t = 0;
    for (int i = 0; i < OPS_SAMPLES; i++) t += s[i];
    return t / OPS_SAMPLES;
}

static void sec_stats(sbuf *sb)
{
    ev_busy_poll_stats poll = {0};
    if (server.el) poll = ev_get_busy_poll_stats(server.el);
    io_wait_stats iw;
    io_wait_get_stats(&iw);
    sb_printf(sb,
              "# Stats\r\n"
              "total_connections_received:%lld\r\n"
              "total_commands_processed:%lld\r\n"
              "instantaneous_ops_per_sec:%lld\r\n"
              "total_net_input_bytes:%lld\r\n"
              "total_net_output_bytes:%lld\r\n"
              "instantaneous_input_kbps:%.2f\r\n"
              "instantaneous_output_kbps:%.2f\r\n"
              "rejected_connections:%lld\r\n"
              "sync_full:0\r\n"
              "sync_partial_ok:0\r\n"
              "sync_partial_err:0\r\n"
              "expired_keys:%lld\r\n"
              "expired_stale_perc:0.00\r\n"
              "expired_time_cap_reached_count:%lld\r\n"
              "evicted_keys:0\r\n"
              "evicted_clients:0\r\n"
              "keyspace_hits:%lld\r\n"
              "keyspace_misses:%lld\r\n"
              "pubsub_channels:%lld\r\n"
              "pubsub_patterns:%lld\r\n"
              "pubsubshard_channels:%lld\r\n"
              "latest_fork_usec:0\r\n"
              "total_forks:0\r\n"
              "tracking_total_keys:%lld\r\n"
              "tracking_total_items:%lld\r\n"
              "tracking_total_prefixes:%lld\r\n"
              "total_error_replies:%lld\r\n"
              "total_reads_processed:%lld\r\n"
              "total_writes_processed:%lld\r\n"
              "paused_write_commands:%lld\r\n"
              "disk_wait_commands:%lld\r\n"
              "disk_wait_clients:%lld\r\n"
              "disk_reads_queued:%lld\r\n"
              "disk_readahead_queued:%lld\r\n"
              "disk_reads_queued_by_expire:%lld\r\n"
              "busy_poll_limit_us:%lld\r\n"
              "busy_poll_window_us:%lld\r\n"
              "busy_poll_hits:%lld\r\n"
              "busy_poll_misses:%lld\r\n",
              server.stat.numconnections, server.stat.numcommands, avg(ops_samples), server.stat.net_input_bytes,
              server.stat.net_output_bytes, (double)avg(in_samples) / 1024, (double)avg(out_samples) / 1024,
              server.stat.rejected_conn, server.stat.expiredkeys, server.stat.stat_expired_time_cap_reached_count,
              server.stat.keyspace_hits, server.stat.keyspace_misses, pubsub_channel_count(PUBSUB_GLOBAL),
              pubsub_pattern_count(), pubsub_channel_count(PUBSUB_SHARD), tracking_total_keys(),
              tracking_total_items(), tracking_total_prefixes(), server.stat.total_error_replies,
              server.stat_total_reads, server.stat_total_writes, server.stat_paused_writes,
              iw.parked_commands, iw.parked_now, iw.reads_queued, iw.readahead_queued, keyspace_expire_reads_queued(), poll.limit_us, poll.window_us, poll.hits, poll.misses);
}

static void sec_replication(sbuf *sb)
{
    ensure_run_id();
    sb_printf(sb,
              "# Replication\r\n"
              "role:master\r\n"
              "connected_slaves:0\r\n"
              "master_failover_state:no-failover\r\n"
              "master_replid:%s\r\n"
              "master_replid2:0000000000000000000000000000000000000000\r\n"
              "master_repl_offset:0\r\n"
              "second_repl_offset:-1\r\n"
              "repl_backlog_active:0\r\n"
              "repl_backlog_size:1048576\r\n"
              "repl_backlog_first_byte_offset:0\r\n"
              "repl_backlog_histlen:0\r\n",
              run_id);
}

static void sec_cpu(sbuf *sb)
{
    struct rusage self, children, thread;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &thread);
#define TV(t) ((double)(t).tv_sec + (double)(t).tv_usec / 1e6)
    sb_printf(sb,
              "# CPU\r\n"
              "used_cpu_sys:%.6f\r\n"
              "used_cpu_user:%.6f\r\n"
              "used_cpu_sys_children:%.6f\r\n"
              "used_cpu_user_children:%.6f\r\n"
              "used_cpu_sys_main_thread:%.6f\r\n"
              "used_cpu_user_main_thread:%.6f\r\n",
              TV(self.ru_stime), TV(self.ru_utime), TV(children.ru_stime), TV(children.ru_utime),
              TV(thread.ru_stime), TV(thread.ru_utime));
#undef TV
}

static void cmdstat_one(command_stats *st, void *ctx)
{
    sbuf *sb = ctx;
    if (!st->calls && !st->rejected_calls && !st->failed_calls) return;
    sb_printf(sb, "cmdstat_%s:calls=%lld,usec=%lld,usec_per_call=%.2f,rejected_calls=%lld,failed_calls=%lld\r\n",
              st->fullname, st->calls, st->usec, st->calls ? (double)st->usec / (double)st->calls : 0.0,
              st->rejected_calls, st->failed_calls);
}

static void sec_commandstats(sbuf *sb)
{
    sb_printf(sb, "# Commandstats\r\n");
    command_stats_foreach(cmdstat_one, sb);
}

static void sec_errorstats(sbuf *sb)
{
    sb_printf(sb, "# Errorstats\r\n");
    for (int i = 0; i < nerrstats; i++) sb_printf(sb, "errorstat_%s:count=%lld\r\n", errstats[i].name, errstats[i].count);
}

static void sec_modules(sbuf *sb) { sb_printf(sb, "# Modules\r\n"); }

/* Kevo is never a cluster node; redis-py's fixtures and cluster-detecting tools read this. */
static void sec_cluster(sbuf *sb) { sb_printf(sb, "# Cluster\r\ncluster_enabled:0\r\n"); }

static void sec_keyspace(sbuf *sb)
{
    sb_printf(sb, "# Keyspace\r\n");
    if (!server.engine) return;
    for (int db = 0; db < server.dbnum; db++) {
        long long keys = keyspace_dbsize(db);
        if (keys <= 0) continue;
        sb_printf(sb, "db%d:keys=%lld,expires=%lld,avg_ttl=%lld\r\n", db, keys, keyspace_expires(db),
                  keyspace_avg_ttl(db));
    }
}

static void sec_lsm(sbuf *sb)
{
    sb_printf(sb, "# Lsm\r\n");
    if (!server.engine) return;
    lsm_stats st;
    memset(&st, 0, sizeof st);
    lsm_get_stats(server.engine, &st);
    for (int i = 0; i < LSM_MAX_LEVELS; i++)
        sb_printf(sb, "lsm_level%d_files:%d\r\nlsm_level%d_bytes:%llu\r\n", i, st.level_files[i], i,
                  (unsigned long long)st.level_bytes[i]);
#define U(f) (unsigned long long)st.f
    sb_printf(sb,
              "lsm_immutable_memtables:%d\r\n"
              "lsm_memtable_bytes:%llu\r\n"
              "lsm_wal_bytes_written:%llu\r\n"
              "lsm_user_bytes_written:%llu\r\n"
              "lsm_flush_bytes_written:%llu\r\n"
              "lsm_compaction_bytes_read:%llu\r\n"
              "lsm_compaction_bytes_written:%llu\r\n"
              "lsm_write_amplification:%.2f\r\n"
              "lsm_flushes:%llu\r\n"
              "lsm_compactions:%llu\r\n"
              "lsm_pending_compaction_bytes:%llu\r\n"
              "lsm_running_flushes:%d\r\n"
              "lsm_running_compactions:%d\r\n"
              "lsm_bloom_checks:%llu\r\n"
              "lsm_bloom_useful:%llu\r\n"
              "lsm_cache_hits:%llu\r\n"
              "lsm_cache_misses:%llu\r\n"
              "lsm_cache_bytes:%llu\r\n"
              "lsm_cache_capacity:%llu\r\n"
              "lsm_cache_entries:%llu\r\n"
              "lsm_cache_pinned_bytes:%llu\r\n"
              "lsm_stall_micros:%llu\r\n"
              "lsm_stall_count:%llu\r\n"
              "lsm_write_stalled:%d\r\n"
              "lsm_last_sequence:%llu\r\n"
              "lsm_gets:%llu\r\n"
              "lsm_puts:%llu\r\n"
              "lsm_deletes:%llu\r\n"
              "lsm_memtable_overwrites:%llu\r\n"
              "lsm_expired_dropped:%llu\r\n"
              "lsm_tombstones_dropped:%llu\r\n"
              "lsm_total_sst_bytes:%llu\r\n"
              "lsm_open_tables:%d\r\n"
              "lsm_reclaim_compactions:%llu\r\n"
              "lsm_filter_dropped:%llu\r\n"
              "lsm_deletion_compactions:%llu\r\n"
              "lsm_queued_manual_compactions:%d\r\n"
              "lsm_read_uring:%d\r\n"
              "lsm_uring_block_reads:%llu\r\n"
              "lsm_uring_lookups:%llu\r\n"
              "lsm_landed_answers:%llu\r\n"
              "lsm_background_linking:%d\r\n"
              "lsm_linked_by_thread:%llu\r\n"
              "lsm_linked_by_loop:%llu\r\n"
              "lsm_linked_by_loop_idle:%llu\r\n"
              "lsm_background_unlinks:%llu\r\n"
              "lsm_block_slab_stock_bytes:%llu\r\n"
              "lsm_block_slabs_from_stock:%llu\r\n"
              "lsm_block_slabs_stock_missed:%llu\r\n",
              st.immutable_memtables, U(memtable_bytes), U(wal_bytes_written), U(user_bytes_written),
              U(flush_bytes_written), U(compaction_bytes_read), U(compaction_bytes_written),
              st.user_bytes_written
                  ? (double)(st.wal_bytes_written + st.flush_bytes_written + st.compaction_bytes_written) /
                        (double)st.user_bytes_written
                  : 0.0,
              U(flushes), U(compactions), U(pending_compaction_bytes), st.running_flushes, st.running_compactions,
              U(bloom_checks), U(bloom_useful), U(cache_hits), U(cache_misses), U(cache_bytes), U(cache_capacity),
              U(cache_entries), U(cache_pinned_bytes),
              U(stall_micros), U(stall_count), lsm_write_stalled(server.engine), U(last_sequence), U(gets), U(puts),
              U(deletes), U(overwrites), U(expired_dropped), U(tombstones_dropped), U(total_sst_bytes), st.open_tables,
              (unsigned long long)keyspace_reclaims(), U(filter_dropped), U(deletion_compactions),
              st.queued_manual_compactions, st.read_uring, U(uring_block_reads), U(uring_lookups), U(landed_answers),
              st.background_linking,
              U(linked_by_thread), U(linked_by_writer), U(linked_idle), U(background_unlinks),
              U(slab_stock_bytes), U(slabs_from_stock), U(slabs_stock_missed));
#undef U
}

typedef struct info_section {
    const char *name;
    void (*fn)(sbuf *sb);
    int in_default;
} info_section;

static const info_section sections[] = {
    {"server", sec_server, 1},           {"clients", sec_clients, 1},   {"memory", sec_memory, 1},
    {"persistence", sec_persistence, 1}, {"stats", sec_stats, 1},       {"replication", sec_replication, 1},
    {"cpu", sec_cpu, 1},                 {"modules", sec_modules, 1},   {"commandstats", sec_commandstats, 0},
    {"errorstats", sec_errorstats, 1},   {"cluster", sec_cluster, 1},   {"keyspace", sec_keyspace, 1},
    {"lsm", sec_lsm, 1},
    {NULL, NULL, 0},
};

char *info_generate(const char *section, size_t *len)
{
    sbuf sb = {NULL, 0, 0};
    int want[16] = {0};
    int nsec = 0;
    while (sections[nsec].name) nsec++;
    if (!section || !section[0]) section = "default";
    char buf[256];
    snprintf(buf, sizeof buf, "%s", section);
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        for (int i = 0; i < nsec; i++) {
            if (!strcasecmp(t, "all") || !strcasecmp(t, "everything")) want[i] = 1;
            else if (!strcasecmp(t, "default") && sections[i].in_default) want[i] = 1;
            else if (!strcasecmp(t, sections[i].name)) want[i] = 1;
        }
    }
    int first = 1;
    for (int i = 0; i < nsec; i++) {
        if (!want[i]) continue;
        if (!first) sb_printf(&sb, "\r\n");
        first = 0;
        sections[i].fn(&sb);
    }
    if (!sb.p) sb_printf(&sb, "%s", "");
    *len = sb.len;
    return sb.p;
}
