/* lsm.c - the engine: open/recovery, write path, read path, iterators, lsm_poll (installing
 * background results), scheduling of flushes and compactions, stats. See lsm.h.
 *
 * Threads: everything here runs on the owner thread except the bodies of background jobs
 * (compaction.c, run by worker.c threads) and the everysec sync callback (sync_tick), which
 * only touches the WAL writer under wal_mu plus an atomic flag.
 *
 * Memtables and WALs: the active memtable's writes go to the WAL numbered mem_log. When the
 * memtable turns immutable a new WAL starts; the immutable remembers the number of that next
 * WAL and the counters as of its end. Its flush installs an edit {L0 file, log_number = next
 * WAL, counters, last_seq}; WALs below the MANIFEST's log number are then deleted. Recovery
 * replays every WAL >= log_number into the active memtable and continues with a fresh WAL. */
#include "lsm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "cache.h"
#include "coding.h"
#include "compaction.h"
#include "dbformat.h"
#include "fs.h"
#include "hash.h"
#include "block_alloc.h"
#include "hugemem.h"
#include "iter.h"
#include "memtable.h"
#include "read_pool.h"
#include "sst_reader.h"
#include "table_cache.h"
#include "unlinker.h"
#include "table_get.h"
#include "version.h"
#include "wal.h"
#include "worker.h"

#define MAX_COMPACTION_THREADS 8

typedef struct imm_entry {
    memtable *mem;
    uint64_t log_number;     /* WAL holding its data */
    uint64_t next_log;       /* WAL of the memtable that followed */
    int64_t counters[LSM_MAX_COUNTERS];
    int flushing;
    flush_job *job;
} imm_entry;

struct lsm_iter {
    lsm_t *db;
    db_iter d;
    version *v;
    uint64_t seq;
    int status;
    struct lsm_iter *prev, *next;
};

/* An answer of lsm_get_ready kept for the lsm_get that follows it (valid while epoch is the
 * db's read_epoch; 0 = empty). */
#define GET_MEMO 64 /* a batch of landed blocks answers up to one per parked client */
#define MEMO_KEEP_BUFFER (1u << 20) /* a bigger value buffer is freed once used */
typedef struct get_memo {
    uint64_t epoch;
    int rc;                          /* 0 found (value in val) or LSM_ENOTFOUND */
    lsm_buf key, val;
} get_memo;

/* The data block the last lookup from memory (lsm_get_ready) lacked: the lsm_prefetch of the
 * same key that follows has it read without looking the key up again. Dropped by the next such
 * lookup, by that lsm_prefetch, and by lsm_poll (a version change may retire the table). */
typedef struct probe_miss {
    sst_reader *r;       /* referenced; NULL = none */
    uint64_t off, size;
    const version *v;    /* the version the lookup ran in */
    uint64_t epoch;      /* the read_epoch it ran at */
    lsm_buf key;
} probe_miss;

struct lsm {
    uint64_t open_id;                /* lsm_open_id */
    char *dir;
    lsm_options o;
    int lock_fd;
    version_set *vs;
    block_cache *bc;
    table_cache *tc;
    sst_options sopts;
    compaction_policy pol;

    memtable *mem;                   /* active; set through set_active */
    mt_linker *linker;               /* links mem's new entries (o.background_linking) or NULL */
    unlinker *unlinker;              /* unlinks obsolete tables (o.unlink_in_background) or NULL */
    size_t mem_est;                  /* estimated bytes of the active memtable's entries */
    size_t mem_base;                 /* memtable_memory_usage of the fresh active memtable */
    uint64_t mem_log;
    wal_writer *wal;                 /* swapped under wal_mu (the sync thread reads it) */
    pthread_mutex_t wal_mu;
    _Atomic int wal_unsynced;        /* flushed bytes not yet fdatasync'ed (everysec) */
    wal_writer **retired;            /* everysec: written-out WALs of rotated memtables that the
                                      * sync thread fdatasyncs and closes (under wal_mu) */
    int nretired, cap_retired;
    int wal_dirty;                   /* owner: flushed since the last sync (always) */

    imm_entry *imm;                  /* oldest first */
    int nimm, cap_imm;
    uint64_t *logs;                  /* live WAL numbers (ascending) */
    int nlogs, cap_logs;

    uint64_t last_seq;
    int64_t counters[LSM_MAX_COUNTERS];

    int efd;
    worker flush_w;
    worker comp_w[MAX_COMPACTION_THREADS];
    int ncomp;
    periodic syncer;
    int running_compactions;
    int l0_busy;
    int rr[LSM_MAX_LEVELS];
    int closing;

    /* lsm_compact_range requests (compaction.h): queued, run one after another, taking turns
     * with compactions by score (manual_turn) */
    manual_queue mq;
    int manual_running;              /* manual jobs in flight */
    int manual_turn;                 /* the next free worker tries a queued request first */
    uint64_t manual_ids;             /* last request id handed out */
    uint64_t manual_wait_id;         /* lsm_compact_range(wait=1): its request's id */
    int manual_rc;                   /* first failure of a job holding manual_wait_id's range */

    lsm_iter iters;                  /* list head of live iterators */

    /* Reads that do not wait for the disk (lsm_get_ready / lsm_prefetch) */
    read_pool *readers;              /* NULL: read_threads == 0 */
    uint64_t read_epoch;             /* changes whenever what a lookup returns may change:
                                        every write, rollback, dropped write, lsm_poll */
    uint64_t rollbacks;              /* applied writes taken back (lsm_rollbacks) */
    get_memo memo[GET_MEMO];         /* lsm_get_ready's answers, for the next lsm_get */
    int memo_next;                   /* round robin replacement */
    uint64_t memo_epoch;             /* read_epoch when the last memo was made */
    int memo_live;                   /* memos of memo_epoch not used yet */
    probe_miss pmiss;                /* what lsm_get_ready's last lookup lacked */

    /* Failure state (the Redis MISCONF model): while bg_error != 0 writes are refused with
     * LSM_EIO, reads go on, and lsm_poll retries in the background until everything
     * acknowledged is known durable again. See enter_log_failure and try_recover. */
    int bg_error;                    /* the code refusing writes (0: accepting) */
    int fail_log;                    /* the WAL failed: flush every memtable, then a new WAL */
    int fail_flush;                  /* the last flush or its install failed */
    int fail_compaction;             /* the last compaction failed (writes are refused only
                                        when L0 has reached its stall limit meanwhile) */
    char compaction_err[512];
    int fatal;                       /* cannot recover without a restart (ENOMEM in a rollback) */
    uint64_t fail_log_next;          /* number of the WAL that starts after a log failure */
    uint64_t retry_at, retry_delay;  /* monotonic us: next background retry; backoff */
    uint64_t comp_retry_at;          /* compactions wait until then after a failure */
    uint64_t rotate_retry_at;        /* a failed rotation is retried after then */
    uint64_t failures;               /* count of failures entered (stats) */
    _Atomic int sync_errno;          /* set by the sync thread: a WAL fdatasync/close failed */
    uint64_t committed_seq;          /* last_seq as of the last successful commit */
    uint64_t wal_committed_bytes;    /* bytes of the active WAL written by successful commits */
    int64_t committed_counters[LSM_MAX_COUNTERS];
    int commit_poisoned;             /* uncommitted writes were dropped: the next commit fails */
    char errmsg[1024];
    char failmsg[768];               /* why writes are refused (lsm_write_error) */

    char *scratch;
    size_t scratch_cap;
    lsm_batch *replay_batch;

    /* Write groups (lsm_group_begin/end): writes apply to the memtable at once, their WAL
     * payload accumulates in `group` and is logged as ONE record when the outermost group
     * ends. Memtables never rotate and no commit happens while a group is open. */
    int group_depth;
    int group_failed;                /* aborted or dropped by a failure: writes refused */
    lsm_batch *group;
    uint64_t group_first_seq;        /* sequence of the group's first op */
    lsm_batch *counter_batch;        /* lsm_counter_add outside a group */

    int stalled;
    int replaying;                   /* WAL replay at open: ops are not counted as puts */
    uint64_t stall_start;
    uint64_t replay_next;            /* open: the sequence the next replayed batch must start at */
    uint64_t expire_clock_ms;        /* lsm_set_expire_clock (0: use the real clock) */
    lsm_stats st;                    /* accumulated counters */
};

static _Thread_local char open_error[1024];

/* ---------------- small helpers ---------------- */

const char *lsm_strerror(int err) {
    switch (err) {
    case LSM_OK: return "ok";
    case LSM_ENOTFOUND: return "not found";
    case LSM_EIO: return "I/O error";
    case LSM_ECORRUPT: return "corruption";
    case LSM_ENOMEM: return "out of memory";
    case LSM_EINVAL: return "invalid argument";
    case LSM_EBUSY: return "busy (database locked, or too many reads in flight)";
    case LSM_EAGAIN: return "needs a disk read";
    default: return "unknown error";
    }
}

void lsm_options_init(lsm_options *o) {
    memset(o, 0, sizeof(*o));
    o->memtable_size = 64u << 20;
    o->max_immutable_memtables = 2;
    o->block_cache_size = 256u << 20;
    o->block_size = 4u << 10;
    o->block_restart_interval = 16;
    o->warm_block_cache = 1;
    o->bloom_bits_per_key = 10;
    o->compression = 1;
    o->l0_compaction_trigger = 4;
    o->l0_slowdown_trigger = 20;
    o->level1_max_bytes = 64ull << 20;
    o->level_multiplier = 10;
    o->target_file_size = 64ull << 20;
    o->num_levels = 7;
    o->compaction_threads = 1;
    o->background_linking = 1;
    o->max_open_files = 1000;
    o->read_direct = 1;
    o->read_uring = 2;
    o->sync_mode = LSM_SYNC_EVERYSEC;
    o->wal_prealloc = 1u << 20;
    o->deletion_compaction_percent = 50;
    o->deletion_compaction_min_entries = 1000;
}

void lsm_buf_free(lsm_buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

const char *lsm_last_error(lsm_t *db) { return db ? db->errmsg : open_error; }

static void db_log(lsm_t *db, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void db_log(lsm_t *db, int level, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (db->o.log_fn) db->o.log_fn(db->o.log_ctx, level, msg);
    else if (level >= 2) fprintf(stderr, "lsm: %s\n", msg);
}

static uint64_t now_micros(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
static uint64_t now_unix_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int buf_set(lsm_buf *b, const char *p, size_t n) {
    if (n > b->cap || !b->data) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < n) nc *= 2;
        char *np = realloc(b->data, nc);
        if (!np) return LSM_ENOMEM;
        b->data = np;
        b->cap = nc;
    }
    if (n) memcpy(b->data, p, n);
    b->len = n;
    return 0;
}

static void log_path(char *buf, size_t cap, const char *dir, uint64_t n) {
    snprintf(buf, cap, "%s/%06llu.log", dir, (unsigned long long)n);
}

static int logs_push(lsm_t *db, uint64_t n) {
    if (db->nlogs == db->cap_logs) {
        int nc = db->cap_logs ? db->cap_logs * 2 : 8;
        uint64_t *na = realloc(db->logs, sizeof(*na) * (size_t)nc);
        if (!na) return LSM_ENOMEM;
        db->logs = na;
        db->cap_logs = nc;
    }
    db->logs[db->nlogs++] = n;
    return 0;
}

/* Deletes WALs whose data the MANIFEST says is in SSTables. */
static void delete_obsolete_logs(lsm_t *db) {
    int k = 0;
    char path[4096];
    for (int i = 0; i < db->nlogs; i++) {
        if (db->logs[i] < db->vs->log_number && db->logs[i] != db->mem_log) {
            log_path(path, sizeof(path), db->dir, db->logs[i]);
            fs_unlink(path);
        } else {
            db->logs[k++] = db->logs[i];
        }
    }
    db->nlogs = k;
}

static void on_table_deleted(void *ctx, uint64_t number) {
    lsm_t *db = ctx;
    table_cache_evict(db->tc, number);
    block_cache_erase_file(db->bc, number);
}

/* ---------------- stall accounting ---------------- */

static void refresh_error_state(lsm_t *db);

/* While writes are refused (a failure being repaired) writers are not held back: they get the
 * error at once instead of waiting for flushes that cannot run. */
static int stalled_now(lsm_t *db) {
    return !db->bg_error && (db->nimm > db->o.max_immutable_memtables ||
                             db->vs->current->nfiles[0] >= db->o.l0_slowdown_trigger);
}

static void update_stall(lsm_t *db) {
    if (db->fail_compaction) refresh_error_state(db); /* L0 may have filled meanwhile */
    int s = stalled_now(db);
    if (s && !db->stalled) {
        db->stalled = 1;
        db->stall_start = now_micros();
        db->st.stall_count++;
    } else if (!s && db->stalled) {
        db->stalled = 0;
        db->st.stall_micros += now_micros() - db->stall_start;
    }
}

int lsm_write_stalled(lsm_t *db) {
    update_stall(db);
    return db->stalled;
}

/* ---------------- scheduling ---------------- */

static uint64_t smallest_snapshot(lsm_t *db) {
    uint64_t s = db->last_seq;
    for (lsm_iter *it = db->iters.next; it; it = it->next)
        if (it->seq < s) s = it->seq;
    return s;
}

/* ---------------- failure state ---------------- */

#define RETRY_MIN_US 100000u   /* first retry after a failure: 100 ms */
#define RETRY_MAX_US 5000000u  /* backoff cap: 5 s */

/* Compactions keep failing and L0 is full: instead of holding writers back until a compaction
 * succeeds (forever, on a full disk), refuse their writes with the reason. */
static int compaction_blocks_writes(const lsm_t *db) {
    return db->fail_compaction && db->vs->current->nfiles[0] >= db->o.l0_slowdown_trigger;
}

static void refresh_error_state(lsm_t *db) {
    int was = db->bg_error;
    if (db->fatal) db->bg_error = db->fatal;
    else if (db->fail_log || db->fail_flush || db->vs->manifest_failed) db->bg_error = LSM_EIO;
    else if (compaction_blocks_writes(db)) db->bg_error = LSM_EIO;
    else db->bg_error = 0;
    if (!was && db->bg_error && compaction_blocks_writes(db) && !db->fail_log && !db->fail_flush &&
        !db->vs->manifest_failed) {
        snprintf(db->failmsg, sizeof(db->failmsg), "%s", db->compaction_err);
        db->failures++;
        db_log(db, 3, "write failure: compactions fail and level 0 is full (%s); writes are refused "
                      "until a compaction succeeds", db->compaction_err);
    }
    if (was && !db->bg_error) {
        db->retry_delay = 0;
        db->failmsg[0] = 0;
        db_log(db, 3, "recovered from the write failure: every acknowledged write is durable, "
                      "writes are accepted again");
    }
}

static void backoff(lsm_t *db, uint64_t *at) {
    db->retry_delay = db->retry_delay ? db->retry_delay * 2 : RETRY_MIN_US;
    if (db->retry_delay > RETRY_MAX_US) db->retry_delay = RETRY_MAX_US;
    *at = now_micros() + db->retry_delay;
}

/* Records a failure that refuses writes (the flags were set by the caller). */
static void note_failure(lsm_t *db, int rc, const char *what) {
    snprintf(db->errmsg, sizeof(db->errmsg), "%s", what);
    snprintf(db->failmsg, sizeof(db->failmsg), "%s", what);
    if (!db->bg_error) db->failures++;
    db_log(db, 3, "write failure: %s (%s); writes are refused until it is repaired", what,
           lsm_strerror(rc));
    refresh_error_state(db);
}

static void fail_fatal(lsm_t *db, int rc, const char *what) {
    db->fatal = rc ? rc : LSM_EIO;
    note_failure(db, db->fatal, what);
}

int lsm_write_error(lsm_t *db, const char **why) {
    if (why) *why = db->bg_error ? db->failmsg : "";
    return db->bg_error;
}

static void try_recover(lsm_t *db);
static int do_commit(lsm_t *db);

static void mark_inputs(compaction_job *j, int busy) {
    for (int l = 0; l < LSM_MAX_LEVELS; l++)
        for (int i = 0; i < j->ninputs[l]; i++) j->inputs[l][i]->being_compacted = busy;
}

static int install_trivial_move(lsm_t *db, compaction_job *j) {
    int from = j->out_level - 1;
    version_edit e;
    edit_init(&e);
    int rc = 0;
    for (int i = 0; i < j->ninputs[from] && !rc; i++) {
        file_meta *f = j->inputs[from][i];
        rc = edit_delete_file(&e, from, f->number);
        if (!rc) rc = edit_add_file(&e, j->out_level, f);
    }
    e.has_last_seq = 1;
    e.last_seq = db->last_seq;
    if (!rc) rc = vset_log_and_apply(db->vs, &e);
    edit_free(&e);
    if (rc) {
        backoff(db, &db->comp_retry_at);
        if (db->vs->manifest_failed) note_failure(db, rc, db->vs->errmsg);
    }
    return rc;
}

/* The block cache a flush or compaction job warms with the blocks it writes (NULL: none). */
static block_cache *job_warm_cache(const lsm_t *db) { return db->o.warm_block_cache ? db->bc : NULL; }

static int submit_compaction(lsm_t *db, worker *w, compaction_job *j) {
    j->smallest_snapshot = smallest_snapshot(db);
    j->tc = db->tc;
    j->warm_bc = job_warm_cache(db);
    j->vs = db->vs;
    j->dir = db->dir;
    j->sopts = db->sopts;
    j->target_file_size = db->o.target_file_size;
    j->expire_fn = db->o.expire_fn;
    j->expire_ctx = db->o.expire_ctx;
    j->filter = (job_filter){db->o.compaction_filter, db->o.compaction_filter_ctx, db->tc};
    j->now_ms = db->expire_clock_ms ? db->expire_clock_ms : now_unix_ms();
    mark_inputs(j, 1);
    int l0 = j->ninputs[0] > 0;
    if (worker_submit(w, &j->base) != 0) {
        mark_inputs(j, 0);
        return -1;
    }
    if (l0) db->l0_busy = 1;
    db->running_compactions++;
    return 0;
}

static void drop_job(compaction_job *j) {
    version_unref(j->v);
    compaction_job_free(j);
}

/* Starts the first queued manual request that is ready (its flush installed) and whose files
 * are free; a request with nothing left to compact is done. 1 started, 0 none, -1 failed. */
static int start_manual(lsm_t *db, worker *w) {
    for (int i = 0; i < db->mq.n;) {
        manual_req *q = &db->mq.q[i];
        if (db->st.flushes < q->after_flushes) { /* its writes are not all in tables yet */
            i++;
            continue;
        }
        int busy;
        compaction_job *j = compaction_pick_range(db->vs->current, q->has_begin ? q->begin : NULL,
                                                  q->bl, q->has_end ? q->end : NULL, q->el, &busy);
        if (!j && busy) { /* its files are being compacted: retried when a job is installed */
            i++;
            continue;
        }
        if (!j) { /* nothing overlaps it any more */
            manual_queue_remove(&db->mq, i);
            continue;
        }
        j->manual_id = q->id;
        if (submit_compaction(db, w, j) != 0) {
            drop_job(j);
            return -1;
        }
        manual_queue_remove(&db->mq, i);
        db->manual_running++;
        db->manual_turn = 0;
        return 1;
    }
    return 0;
}

/* Starts a compaction by score, or else one of a tombstone-dense table (trivial moves are
 * installed on the way). 1 started, 0 none, -1 failed. */
static int start_auto(lsm_t *db, worker *w) {
    for (;;) {
        int trivial;
        compaction_job *j = compaction_pick(db->vs->current, &db->pol, db->rr, db->l0_busy,
                                            &trivial);
        if (!j)
            j = compaction_pick_deletions(db->vs->current, &db->pol, smallest_snapshot(db),
                                          db->l0_busy, &trivial);
        if (!j) return 0;
        if (j->deletion_triggered) db->st.deletion_compactions++;
        if (trivial) {
            int rc = install_trivial_move(db, j);
            drop_job(j);
            if (rc) return -1;
            continue;
        }
        if (submit_compaction(db, w, j) != 0) {
            drop_job(j);
            return -1;
        }
        db->manual_turn = 1;
        return 1;
    }
}

/* A queued manual request waits for the flush of the active memtable (it held writes made
 * before the call): that memtable turns immutable once no flush is pending, at a commit
 * boundary (lsm_commit, or lsm_poll with nothing buffered) outside a write group, so a burst
 * of requests costs one flush. Owner thread. */
static int rotate_memtable(lsm_t *db);
static void rotate_for_manual(lsm_t *db) {
    if (db->nimm > 0 || db->bg_error || db->closing || db->group_depth || !db->wal ||
        wal_writer_buffered(db->wal))
        return;
    uint64_t need = 0;
    for (int i = 0; i < db->mq.n; i++)
        if (db->mq.q[i].after_flushes > need) need = db->mq.q[i].after_flushes;
    if (need <= db->st.flushes) return;
    if (memtable_entries(db->mem) > 0) {
        (void)rotate_memtable(db);
    } else { /* nothing left to flush (a failed commit dropped it): no wait */
        for (int i = 0; i < db->mq.n; i++)
            if (db->mq.q[i].after_flushes > db->st.flushes) db->mq.q[i].after_flushes = db->st.flushes;
    }
}

static void schedule(lsm_t *db) {
    if ((db->closing && !db->fail_log) || db->fatal) return;
    uint64_t now = (db->fail_flush || db->comp_retry_at) ? now_micros() : 0;
    /* flushes: one at a time, oldest first, so installs happen in order; after a failure, again
     * once the backoff has passed (they are how a failed log is repaired) */
    if (db->flush_w.started && db->flush_w.inflight == 0 && !(db->fail_flush && now < db->retry_at)) {
        for (int i = 0; i < db->nimm; i++) {
            imm_entry *e = &db->imm[i];
            if (e->flushing) continue;
            flush_job *j = malloc(sizeof(*j));
            if (!j) break;
            flush_job_init(j);
            j->mem = e->mem;
            memtable_ref(e->mem);
            j->file_number = vset_new_file_number(db->vs);
            j->smallest_snapshot = smallest_snapshot(db);
            j->dir = db->dir;
            j->sopts = db->sopts;
            j->tc = db->tc;
            j->warm_bc = job_warm_cache(db);
            if (db->o.compaction_filter) {
                /* the filter's view: this memtable over the current version, which holds
                 * every older memtable (flushes install in order) */
                j->filter = (job_filter){db->o.compaction_filter, db->o.compaction_filter_ctx, db->tc};
                j->v = db->vs->current;
                version_ref(j->v);
            }
            if (worker_submit(&db->flush_w, &j->base) != 0) {
                memtable_unref(e->mem);
                if (j->v) version_unref(j->v);
                free(j);
                break;
            }
            e->flushing = 1;
            e->job = j;
            break;
        }
    }
    /* compactions (they may also free the space a failure needs) */
    if (db->closing || now < db->comp_retry_at) return;
    for (int wi = 0; wi < db->ncomp; wi++) {
        worker *w = &db->comp_w[wi];
        if (w->inflight) continue;
        /* queued manual requests and compactions by score take turns on free workers */
        int r = db->manual_turn ? start_manual(db, w) : 0;
        if (r == 0) r = start_auto(db, w);
        if (r == 0 && !db->manual_turn) r = start_manual(db, w);
        if (r <= 0) return; /* nothing to start (or a failure): the other workers neither */
    }
}

/* ---------------- installing results ---------------- */

/* An edit moving the log number to log_number (WALs below it are in tables), with the counters
 * as of that log's start and the last sequence. */
static void log_edit_init(const lsm_t *db, version_edit *ed, uint64_t log_number, const int64_t *counters) {
    edit_init(ed);
    ed->has_log_number = 1;
    ed->log_number = log_number;
    ed->has_counters = 1;
    memcpy(ed->counters, counters, sizeof(ed->counters));
    ed->has_last_seq = 1;
    ed->last_seq = db->last_seq;
}

/* The MANIFEST's log number always names a WAL that exists (open checks it). After a log
 * failure the next WAL is only created by the repair, so a flush naming it creates it empty. */
static int ensure_log_file(lsm_t *db, uint64_t number) {
    if (number == db->mem_log && db->wal) return 0;
    char path[4096];
    log_path(path, sizeof(path), db->dir, number);
    if (access(path, F_OK) == 0) return 0;
    int fd = fs_open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || fs_close(fd) != 0 || fsync_dir(db->dir) != 0) {
        snprintf(db->vs->errmsg, sizeof(db->vs->errmsg), "create %.300s: %s", path, strerror(errno));
        return LSM_EIO;
    }
    return 0;
}

static void install_flush(lsm_t *db, flush_job *j) {
    imm_entry *e = NULL;
    int idx = -1;
    for (int i = 0; i < db->nimm; i++)
        if (db->imm[i].job == j) { e = &db->imm[i]; idx = i; break; }
    memtable_unref(j->mem);
    if (j->v) version_unref(j->v); /* the filter's view (owner: may delete obsolete files) */
    if (!e) { /* cannot happen */
        if (j->out) file_meta_free(j->out);
        free(j);
        return;
    }
    if (j->base.rc) { /* the job removed its output; the memtable stays and is retried */
        e->flushing = 0;
        e->job = NULL;
        db->fail_flush = 1;
        backoff(db, &db->retry_at);
        note_failure(db, j->base.rc, j->err[0] ? j->err : "flush failed");
        free(j);
        return;
    }
    version_edit ed;
    log_edit_init(db, &ed, e->next_log, e->counters);
    int rc = ensure_log_file(db, e->next_log);
    if (!rc && j->out) rc = edit_add_file(&ed, 0, j->out);
    if (!rc) rc = vset_log_and_apply(db->vs, &ed);
    edit_free(&ed);
    if (rc) {
        /* the edit may be on disk although its write failed: the table is deleted only once a
         * fresh MANIFEST is durable (vset_defer_delete) */
        if (j->out) {
            vset_defer_delete(db->vs, j->out->number);
            file_meta_free(j->out);
        }
        e->flushing = 0;
        e->job = NULL;
        db->fail_flush = 1;
        backoff(db, &db->retry_at);
        note_failure(db, rc, db->vs->errmsg[0] ? db->vs->errmsg : "MANIFEST write failed");
        free(j);
        return;
    }
    if (db->fail_flush) {
        db->fail_flush = 0;
        refresh_error_state(db);
    }
    db->st.flushes++;
    db->st.flush_bytes_written += j->bytes_written;
    db->st.filter_dropped += j->filter_dropped;
    memtable_unref(e->mem);
    memmove(&db->imm[idx], &db->imm[idx + 1], sizeof(imm_entry) * (size_t)(db->nimm - idx - 1));
    db->nimm--;
    free(j);
    delete_obsolete_logs(db);
}

static void install_compaction(lsm_t *db, compaction_job *j) {
    db->running_compactions--;
    if (j->ninputs[0]) db->l0_busy = 0;
    mark_inputs(j, 0);
    if (j->manual) {
        db->manual_running--;
        if (j->base.rc && j->manual_id >= db->manual_wait_id && !db->manual_rc) {
            db->manual_rc = j->base.rc;
            snprintf(db->errmsg, sizeof(db->errmsg), "%s", j->err[0] ? j->err : "compaction failed");
        }
    }
    if (j->base.rc) {
        /* the job removed its outputs; its inputs stay live. Retried after a backoff; writes
         * go on (a compaction loses nothing by waiting) */
        backoff(db, &db->comp_retry_at);
        db->fail_compaction = 1;
        snprintf(db->compaction_err, sizeof(db->compaction_err), "%s", j->err[0] ? j->err : lsm_strerror(j->base.rc));
        db_log(db, 3, "compaction failed: %s (retrying in %llu ms)", db->compaction_err,
               (unsigned long long)(db->retry_delay / 1000));
        refresh_error_state(db);
    } else {
        version_edit ed;
        edit_init(&ed);
        int rc = 0;
        for (int l = 0; l < LSM_MAX_LEVELS && !rc; l++)
            for (int i = 0; i < j->ninputs[l] && !rc; i++)
                rc = edit_delete_file(&ed, l, j->inputs[l][i]->number);
        for (int i = 0; i < j->nouts && !rc; i++) rc = edit_add_file(&ed, j->out_level, j->outs[i]);
        ed.has_last_seq = 1;
        ed.last_seq = db->last_seq;
        if (!rc) rc = vset_log_and_apply(db->vs, &ed);
        edit_free(&ed);
        if (rc) {
            if (j->manual && j->manual_id >= db->manual_wait_id && !db->manual_rc) db->manual_rc = rc;
            for (int i = 0; i < j->nouts; i++) vset_defer_delete(db->vs, j->outs[i]->number);
            backoff(db, &db->comp_retry_at);
            if (db->vs->manifest_failed)
                note_failure(db, rc, db->vs->errmsg[0] ? db->vs->errmsg : "MANIFEST write failed");
        } else {
            db->comp_retry_at = 0;
            if (db->fail_compaction) {
                db->fail_compaction = 0;
                refresh_error_state(db);
            }
            db->st.compactions++;
            db->st.compaction_bytes_read += j->bytes_read;
            db->st.compaction_bytes_written += j->bytes_written;
            db->st.tombstones_dropped += j->tombstones_dropped;
            db->st.expired_dropped += j->expired_dropped;
            db->st.filter_dropped += j->filter_dropped;
        }
    }
    version_unref(j->v);
    compaction_job_free(j);
}

static void probe_miss_drop(lsm_t *db) {
    if (db->pmiss.r) sst_reader_unref(db->pmiss.r);
    db->pmiss.r = NULL;
}

size_t lsm_idle(lsm_t *db, size_t max) {
    return db->mem ? memtable_link_idle(db->mem, max) : 0;
}

int lsm_poll(lsm_t *db) {
    db->read_epoch++; /* results installed below: lookups are answered anew */
    probe_miss_drop(db);
    uint64_t v;
    while (read(db->efd, &v, sizeof(v)) > 0) {
    }
    int n = 0;
    bg_job *j;
    while ((j = worker_pop_result(&db->flush_w))) {
        install_flush(db, (flush_job *)j);
        n++;
    }
    for (int i = 0; i < db->ncomp; i++)
        while ((j = worker_pop_result(&db->comp_w[i]))) {
            install_compaction(db, (compaction_job *)j);
            n++;
        }
    try_recover(db);
    if (db->mq.n) rotate_for_manual(db);
    schedule(db);
    update_stall(db);
    return db->bg_error ? db->bg_error : n;
}

static int bg_busy(lsm_t *db) {
    if (db->flush_w.inflight) return 1;
    for (int i = 0; i < db->ncomp; i++)
        if (db->comp_w[i].inflight) return 1;
    return 0;
}

/* Blocks (owner) until a background result arrives or 100 ms pass, then polls. */
static void wait_bg(lsm_t *db) {
    struct pollfd p = {db->efd, POLLIN, 0};
    (void)poll(&p, 1, 100);
    (void)lsm_poll(db);
}

/* ---------------- write path ---------------- */

/* Everysec: queue a written-out WAL for fdatasync + close on the sync thread. 0 or -1. */
static int retire_wal(lsm_t *db, wal_writer *w) {
    if (wal_writer_flush(w) != 0) return -1;
    int rc = 0;
    pthread_mutex_lock(&db->wal_mu);
    if (db->nretired == db->cap_retired) {
        int nc = db->cap_retired ? db->cap_retired * 2 : 4;
        wal_writer **na = realloc(db->retired, sizeof(*na) * (size_t)nc);
        if (na) {
            db->retired = na;
            db->cap_retired = nc;
        } else {
            rc = -1;
        }
    }
    if (rc == 0) db->retired[db->nretired++] = w;
    pthread_mutex_unlock(&db->wal_mu);
    return rc;
}

/* WAL flushes go through a mapping unless every flush is synced (wal_writer_set_mapped). */
static int wal_mapped_for(lsm_sync_mode mode) { return mode != LSM_SYNC_ALWAYS; }

/* Creates the WAL at path with the database's write path: zeroed ahead by wal_prealloc, mapped
 * per the sync mode. NULL on error (errno set). */
static wal_writer *wal_create(const lsm_t *db, const char *path) {
    wal_writer *w = wal_writer_create(path);
    if (w) {
        wal_writer_set_prealloc(w, db->o.wal_prealloc);
        wal_writer_set_mapped(w, wal_mapped_for(db->o.sync_mode));
    }
    return w;
}

/* Room in the immutable list for one more entry. 0 or LSM_ENOMEM. */
static int grow_imm(lsm_t *db) {
    if (db->nimm < db->cap_imm) return 0;
    int nc = db->cap_imm ? db->cap_imm * 2 : 8;
    imm_entry *na = realloc(db->imm, sizeof(*na) * (size_t)nc);
    if (!na) return LSM_ENOMEM;
    db->imm = na;
    db->cap_imm = nc;
    return 0;
}

/* m becomes the active memtable, with the linker attached (which detaches the one before). */
static void set_active(lsm_t *db, memtable *m) {
    db->mem = m;
    if (db->linker) memtable_attach_linker(m, db->linker);
}

/* The active memtable becomes the newest immutable (grow_imm succeeded); its data is in WAL
 * mem_log, and later writes go to WAL next_log; nm becomes the active memtable. */
static void push_immutable(lsm_t *db, uint64_t next_log, memtable *nm) {
    imm_entry *e = &db->imm[db->nimm++];
    memset(e, 0, sizeof(*e));
    memtable_seal(db->mem); /* link its pending entries here, before the flush thread reads it */
    e->mem = db->mem;
    e->log_number = db->mem_log;
    e->next_log = next_log;
    memcpy(e->counters, db->counters, sizeof(e->counters));
    set_active(db, nm);
    db->mem_est = 0;
    db->mem_base = memtable_memory_usage(nm) - memtable_index_bytes(nm);
}

/* The active memtable turns immutable; a new WAL starts. Only at a commit boundary (nothing
 * buffered): every write in the old WAL was acknowledged, and a failure here changes nothing
 * (the caller retries later). */
static int rotate_memtable(lsm_t *db) {
    uint64_t num = vset_new_file_number(db->vs);
    char path[4096];
    log_path(path, sizeof(path), db->dir, num);
    wal_writer *nw = wal_create(db, path);
    /* sized like the memtable it replaces: no index doubling (a stall) while it fills */
    memtable *nm = nw ? memtable_new_for(memtable_distinct_keys(db->mem)) : NULL;
    int rc = !nw ? LSM_EIO : !nm || grow_imm(db) || logs_push(db, num) ? LSM_ENOMEM : 0;
    /* the new WAL's directory entry must survive a power loss before writes are acknowledged
     * in it (ALWAYS); everysec accepts losing the last second anyway */
    if (rc == 0 && db->o.sync_mode == LSM_SYNC_ALWAYS && fsync_dir(db->dir) != 0) {
        db->nlogs--;
        rc = LSM_EIO;
    }
    if (rc) {
        snprintf(db->errmsg, sizeof(db->errmsg), "cannot start WAL %.300s: %s", path,
                 rc == LSM_EIO ? strerror(errno) : "out of memory");
        if (nw) {
            wal_writer_abandon(nw, UINT64_MAX);
            fs_unlink(path);
        }
        if (nm) memtable_unref(nm);
        return rc;
    }
    pthread_mutex_lock(&db->wal_mu);
    wal_writer *old = db->wal;
    db->wal = nw;
    pthread_mutex_unlock(&db->wal_mu);
    /* Everything in the old WAL was written (and, for ALWAYS, synced) by the commit before this.
     * EVERYSEC hands its fdatasync + close to the sync thread's next tick, off the owner's loop
     * (a failure there is reported through sync_errno). */
    if (db->o.sync_mode != LSM_SYNC_EVERYSEC || retire_wal(db, old) != 0) {
        if (wal_writer_close(old, db->o.sync_mode != LSM_SYNC_NO) != 0) {
            if (db->o.sync_mode == LSM_SYNC_EVERYSEC) /* its fdatasync failed: as on the thread */
                atomic_store_explicit(&db->sync_errno, errno ? errno : EIO, memory_order_release);
            else /* always: synced by the commit before; no: no sync was promised */
                db_log(db, 3, "closing WAL %llu failed: %s (its records were written before)",
                       (unsigned long long)db->mem_log, strerror(errno));
        }
    }
    db->wal_dirty = 0;
    db->wal_committed_bytes = 0;
    push_immutable(db, num, nm);
    db->mem_log = num;
    schedule(db);
    update_stall(db);
    return 0;
}

/* With no usable WAL (a log failure, or an open that could not start one): the active memtable's
 * data, if any, becomes an immutable waiting for its flush, whose next log is next_log (created
 * by the repair); an empty active memtable stays. 0 or LSM_ENOMEM (nothing changed). */
static int freeze_for_repair(lsm_t *db, uint64_t next_log) {
    if (memtable_entries(db->mem) == 0) return 0;
    memtable *nm = memtable_new_for(memtable_distinct_keys(db->mem));
    if (!nm || grow_imm(db)) {
        if (nm) memtable_unref(nm);
        return LSM_ENOMEM;
    }
    push_immutable(db, next_log, nm);
    return 0;
}

/* A WAL write or sync failed (or the sync thread reported one). The log cannot be trusted any
 * more (a failed fsync is final, fs.h), so: the writes not yet acknowledged are dropped from
 * the memtable (they get error replies and must never become durable), the WAL is abandoned,
 * and writes are refused until every memtable is in a table and a fresh WAL has been started
 * (try_recover). Reads go on meanwhile. */
static void enter_log_failure(lsm_t *db, const char *what) {
    char msg[600];
    snprintf(msg, sizeof(msg), "%s", what);
    pthread_mutex_lock(&db->wal_mu);
    wal_writer *w = db->wal;
    db->wal = NULL;
    pthread_mutex_unlock(&db->wal_mu);
    /* cut the records that were never acknowledged (best effort: this log is never appended
     * to again, and it is deleted once its memtable is in a table) */
    if (w) wal_writer_abandon(w, db->wal_committed_bytes);
    db->wal_dirty = 0;
    db->commit_poisoned = 1;
    db->fail_log = 1;
    if (db->group_depth) { /* the open group's writes are dropped with the rest */
        lsm_batch_clear(db->group);
        db->group_failed = 1;
    }
    db->rollbacks++;
    if (db->last_seq > db->committed_seq) {
        memtable_commit_undo_apply(db->mem); /* committed versions overwritten in place */
        memtable *old_mem = db->mem;
        memtable *c = memtable_copy_upto(old_mem, db->committed_seq);
        if (!c) {
            fail_fatal(db, LSM_ENOMEM, "out of memory while dropping the writes of a failed WAL "
                                       "commit; restart the server");
            return;
        }
        set_active(db, c);
        memtable_unref(old_mem);
        db->read_epoch++;
    }
    memcpy(db->counters, db->committed_counters, sizeof(db->counters));
    db->committed_seq = db->last_seq; /* dropped sequence numbers are never reused */
    db->fail_log_next = vset_new_file_number(db->vs);
    if (freeze_for_repair(db, db->fail_log_next)) {
        fail_fatal(db, LSM_ENOMEM, "out of memory after a failed WAL write; restart the server");
        return;
    }
    db->mem_log = db->fail_log_next; /* created by try_recover */
    db->retry_at = 0;                /* flush now */
    note_failure(db, LSM_EIO, msg);
    schedule(db);
}

/* Background repair of a failure (lsm_poll): once the memtables of a failed log are all in
 * tables, a fresh WAL is created and the MANIFEST's log number moves past every older WAL;
 * a failed MANIFEST with nothing to install is rewritten from a snapshot. */
static void try_recover(lsm_t *db) {
    if (!db->bg_error || db->fatal || now_micros() < db->retry_at) return;
    if (db->fail_log) {
        if (db->nimm > 0) return; /* flushes first (schedule retries them) */
        char path[4096];
        log_path(path, sizeof(path), db->dir, db->fail_log_next);
        wal_writer *w = wal_create(db, path);
        int rc = w ? 0 : LSM_EIO;
        if (rc == 0 && fsync_dir(db->dir) != 0) rc = LSM_EIO;
        if (rc == 0) rc = logs_push(db, db->fail_log_next);
        if (rc == 0) {
            version_edit ed;
            log_edit_init(db, &ed, db->fail_log_next, db->counters);
            rc = vset_log_and_apply(db->vs, &ed);
            edit_free(&ed);
            if (rc) db->nlogs--;
        }
        if (rc) {
            snprintf(db->failmsg, sizeof(db->failmsg), "cannot start a new WAL after a write failure: %s",
                     rc == LSM_EIO ? (db->vs->errmsg[0] ? db->vs->errmsg : strerror(errno)) : lsm_strerror(rc));
            /* an empty file stays: a flush may already have named it as the log number */
            if (w) wal_writer_abandon(w, 0);
            backoff(db, &db->retry_at);
            return;
        }
        pthread_mutex_lock(&db->wal_mu);
        db->wal = w;
        pthread_mutex_unlock(&db->wal_mu);
        db->wal_committed_bytes = 0;
        db->fail_log = 0;
        delete_obsolete_logs(db);
    } else if (db->vs->manifest_failed && !db->fail_flush) {
        if (vset_write_snapshot(db->vs) != 0) {
            snprintf(db->failmsg, sizeof(db->failmsg), "%s", db->vs->errmsg);
            backoff(db, &db->retry_at);
            return;
        }
    }
    refresh_error_state(db);
}

/* Niceness of the background threads (thread_nice_self): the event loop serves clients at the
 * process's priority; a flush (it frees memtable room writers may wait for) yields a little,
 * compactions (they only have to keep up over seconds) yield more.
 * The linker and the page prefill run in short bursts all through a write load: at the loop's
 * own priority the scheduler shares a CPU with them fairly, so the client a reply wakes (or the
 * loop itself) waits behind them while the loop idles for its next requests (perf sched, SADD at
 * pipeline 16: the loop slept 22% of each second, the other CPU 23% idle). At nice 10 they give
 * way to both at once. Neither can stall the loop for long: a full linker ring has the loop
 * link a batch itself (after the thread's current one), an empty page pool has it fault a page
 * itself. Not SCHED_IDLE: next to busy processes that starves them (doc/performance-history.md,
 * sessions 23 and 31). */
#define FLUSH_NICE 3
#define COMPACTION_NICE 10
#define LINK_NICE 10
#define PREFILL_NICE 10

/* Entry overhead in the skiplist beyond key+value (node, trailer, tower): an estimate. */
#define MEM_ENTRY_OVERHEAD 40
/* The arena grows in big blocks, so its usage alone overshoots small memtable sizes: rotate on
 * the estimated entry bytes, or when the arena is a block past the limit. */
/* Fullness counts the arena (entries + skiplist nodes), as RocksDB's write_buffer_size does; the
 * hash index (a fraction of the arena, bounded by the entry count) is left out so the index does
 * not make memtables rotate earlier and raise write amplification. */
static inline int mem_over(lsm_t *db, size_t limit) {
    size_t arena = memtable_memory_usage(db->mem) - memtable_index_bytes(db->mem);
    return db->mem_est >= limit || arena - db->mem_base >= limit + HUGEMEM_PAGE;
}
static inline int mem_full(lsm_t *db) { return mem_over(db, db->o.memtable_size); }
/* Memtables rotate at commit boundaries only (lsm_commit), so a failed commit never has writes
 * in an immutable memtable; a caller that writes a whole extra memtable without committing is
 * committed for at this bound. */
static inline int mem_hard_full(lsm_t *db) { return mem_over(db, 2 * db->o.memtable_size); }

/* Before a write of nops entries and bytes of keys and values: refuses it in the failure state,
 * makes room (rotation at a commit boundary), and reserves the memtable memory so that applying
 * it cannot fail half way. 0, or an error with nothing changed. */
static int write_prepare(lsm_t *db, size_t nops, size_t bytes) {
    if (db->bg_error) return LSM_EIO;
    if (db->group_depth) {
        /* the group's writes stay in the active memtable until its record is logged (a
         * rotation would let a flush make part of the group durable): it grows instead */
        if (db->group_failed) return LSM_EIO;
        if (db->wal == NULL) return LSM_EIO;
        return memtable_reserve(db->mem, nops, bytes);
    }
    if (mem_full(db)) {
        if (wal_writer_buffered(db->wal) == 0) {
            /* a failed rotation waits for its backoff, unless the memtable cannot grow more */
            if ((mem_hard_full(db) || now_micros() >= db->rotate_retry_at) && rotate_memtable(db) != 0) {
                db_log(db, 3, "%s (retrying)", db->errmsg);
                backoff(db, &db->rotate_retry_at);
            }
        } else if (mem_hard_full(db)) {
            db->rotate_retry_at = 0; /* the commit rotates now */
            int rc = do_commit(db);
            if (rc) return rc;
        }
        if (mem_hard_full(db)) {
            snprintf(db->errmsg, sizeof(db->errmsg), "the memtable is full and a new one cannot be started");
            return LSM_EIO;
        }
    }
    if (db->wal == NULL) return LSM_EIO;
    return memtable_reserve(db->mem, nops, bytes);
}

/* Adds one write to the active memtable (reserved by write_prepare: cannot fail for memory).
 * The key's newest memtable node takes the write in place when nobody can need the version it
 * replaces (memtable.h): no live iterator; recorded for a failed commit when it was committed
 * (enter_log_failure puts it back) and for a rollback when it predates the open group. */
static int mem_apply(lsm_t *db, uint64_t seq, int kind, const void *key, size_t klen,
                     const void *val, size_t vlen) {
    db->read_epoch++;
    mt_overwrite ow = {db->committed_seq, db->group_depth ? db->group_first_seq : 0, 1};
    int rc = memtable_put(db->mem, seq, kind, key, klen, val, vlen,
                          db->iters.next == NULL ? &ow : NULL);
    if (rc == MEMTABLE_OVERWRITTEN) {
        db->st.overwrites++;
        return 0;
    }
    if (rc == 0) db->mem_est += klen + vlen + MEM_ENTRY_OVERHEAD;
    return rc;
}

static int write_one(lsm_t *db, int kind, const void *key, size_t klen, const void *val,
                     size_t vlen) {
    if (klen > UINT32_MAX - IKEY_TRAILER || vlen > UINT32_MAX) return LSM_EINVAL;
    int rc = write_prepare(db, 1, klen + vlen);
    if (rc) return rc;
    if (db->group_depth) {
        rc = kind == KIND_VALUE ? lsm_batch_put(db->group, key, klen, val, vlen)
                                : lsm_batch_delete(db->group, key, klen);
        if (rc) return rc;
        uint64_t gseq = db->last_seq + 1;
        rc = mem_apply(db, gseq, kind, key, klen, val, vlen); /* reserved: cannot fail */
        if (rc) {
            enter_log_failure(db, "applying a write to the memtable failed");
            return rc;
        }
        db->last_seq = gseq;
        db->st.user_bytes_written += klen + vlen;
        return 0;
    }
    size_t need = 8 + 4 + 1 + 10 + klen + 10 + vlen + 1;
    if (need > db->scratch_cap) {
        size_t nc = db->scratch_cap ? db->scratch_cap : 256;
        while (nc < need) nc *= 2;
        char *np = realloc(db->scratch, nc);
        if (!np) return LSM_ENOMEM;
        db->scratch = np;
        db->scratch_cap = nc;
    }
    uint64_t seq = db->last_seq + 1;
    char *p = db->scratch;
    encode_fixed64(p, seq);
    encode_fixed32(p + 8, 1);
    size_t n = 12;
    p[n++] = (char)kind;
    n += encode_varint64(p + n, klen);
    if (klen) memcpy(p + n, key, klen);
    n += klen;
    if (kind == KIND_VALUE) {
        n += encode_varint64(p + n, vlen);
        if (vlen) memcpy(p + n, val, vlen);
        n += vlen;
    }
    p[n++] = 0; /* no counters */
    rc = wal_writer_add(db->wal, p, n);
    if (rc) return rc;
    rc = mem_apply(db, seq, kind, key, klen, val, vlen); /* reserved: cannot fail */
    if (rc) {
        enter_log_failure(db, "applying a write to the memtable failed");
        return rc;
    }
    db->last_seq = seq;
    db->st.user_bytes_written += klen + vlen;
    db->st.wal_bytes_written += n;
    return 0;
}

int lsm_put(lsm_t *db, const void *key, size_t klen, const void *val, size_t vlen) {
    db->st.puts++;
    return write_one(db, KIND_VALUE, key, klen, val, vlen);
}

int lsm_delete(lsm_t *db, const void *key, size_t klen) {
    db->st.deletes++;
    return write_one(db, KIND_DELETE, key, klen, NULL, 0);
}

static int apply_op(void *ctx, uint64_t seq, int kind, const char *key, size_t klen,
                    const char *val, size_t vlen) {
    lsm_t *db = ctx;
    int rc = mem_apply(db, seq, kind, key, klen, val, vlen);
    if (!db->replaying) {
        if (kind == KIND_VALUE) db->st.puts++;
        else db->st.deletes++;
    }
    if (rc == 0 && seq > db->last_seq) db->last_seq = seq;
    return rc;
}

static void apply_counter(void *ctx, int idx, int64_t delta) {
    lsm_t *db = ctx;
    if (idx >= 0 && idx < LSM_MAX_COUNTERS) db->counters[idx] += delta;
}

static int check_op(void *ctx, uint64_t seq, int kind, const char *key, size_t klen,
                    const char *val, size_t vlen) {
    (void)ctx, (void)seq, (void)kind, (void)key, (void)val;
    return klen > UINT32_MAX - IKEY_TRAILER || vlen > UINT32_MAX ? LSM_EINVAL : 0;
}

static int group_append_op(void *ctx, uint64_t seq, int kind, const char *key, size_t klen,
                           const char *val, size_t vlen) {
    (void)seq;
    lsm_batch *g = ctx;
    return kind == KIND_VALUE ? lsm_batch_put(g, key, klen, val, vlen)
                              : lsm_batch_delete(g, key, klen);
}

static void group_append_counter(void *ctx, int idx, int64_t delta) {
    lsm_batch_counter_add(ctx, idx, delta);
}

int lsm_write(lsm_t *db, lsm_batch *b) {
    if (!b) return LSM_EINVAL;
    size_t n = lsm_batch_count(b);
    uint64_t bytes = batch_user_bytes(b);
    if (bytes > UINT32_MAX - IKEY_TRAILER) { /* only then can one op be too big */
        int rc = batch_iterate(b, check_op, NULL, NULL);
        if (rc) return rc;
    }
    int rc = write_prepare(db, n, (size_t)bytes);
    if (rc) return rc;
    batch_set_sequence(b, db->last_seq + 1);
    size_t len;
    const char *data = batch_data(b, &len);
    if (n == 0 && len <= 13) return 0; /* nothing at all */
    if (db->group_depth) rc = batch_iterate(b, group_append_op, group_append_counter, db->group);
    else rc = wal_writer_add(db->wal, data, len);
    if (rc) return rc;
    rc = batch_iterate(b, apply_op, apply_counter, db); /* reserved: cannot fail */
    if (rc) {
        enter_log_failure(db, "applying a batch to the memtable failed");
        return rc;
    }
    if (n) db->last_seq = batch_sequence(b) + n - 1;
    db->st.user_bytes_written += batch_user_bytes(b);
    if (!db->group_depth) db->st.wal_bytes_written += len;
    return 0;
}

int lsm_counter_add(lsm_t *db, int idx, int64_t delta) {
    if (idx < 0 || idx >= LSM_MAX_COUNTERS) return LSM_EINVAL;
    if (delta == 0) return 0;
    if (db->group_depth) {
        if (db->bg_error || db->group_failed || db->wal == NULL) return LSM_EIO;
        int rc = lsm_batch_counter_add(db->group, idx, delta);
        if (rc == 0) db->counters[idx] += delta;
        return rc;
    }
    lsm_batch_clear(db->counter_batch);
    int rc = lsm_batch_counter_add(db->counter_batch, idx, delta);
    if (rc == 0) rc = lsm_write(db, db->counter_batch);
    lsm_batch_clear(db->counter_batch);
    return rc;
}

void lsm_group_begin(lsm_t *db) {
    if (db->group_depth++ > 0) return;
    lsm_batch_clear(db->group);
    memtable_undo_clear(db->mem);
    db->group_failed = 0;
    db->group_first_seq = db->last_seq + 1;
}

static int group_skip_op(void *ctx, uint64_t seq, int kind, const char *key, size_t klen,
                         const char *val, size_t vlen) {
    (void)ctx, (void)seq, (void)kind, (void)key, (void)klen, (void)val, (void)vlen;
    return 0;
}

static void group_undo_counter(void *ctx, int idx, int64_t delta) {
    lsm_t *db = ctx;
    if (idx >= 0 && idx < LSM_MAX_COUNTERS) db->counters[idx] -= delta;
}

/* Drops every write of the open group from the memtable (they were never logged) and restores
 * the counters; later writes of the group are refused. */
static int group_rollback(lsm_t *db) {
    int rc = 0;
    db->rollbacks++;
    if (db->last_seq >= db->group_first_seq && db->wal != NULL) {
        memtable_undo_apply(db->mem); /* older versions the group overwrote in place */
        memtable *c = memtable_copy_upto(db->mem, db->group_first_seq - 1);
        if (!c) {
            fail_fatal(db, LSM_ENOMEM, "out of memory while rolling back a write group; "
                                       "restart the server");
            rc = LSM_ENOMEM;
        } else {
            memtable *old_mem = db->mem;
            set_active(db, c);
            memtable_unref(old_mem);
            db->read_epoch++;
            /* the group's sequence numbers were never logged: hand them out again, so the WAL
             * stays gapless (replay checks that each record follows the previous one) */
            db->last_seq = db->group_first_seq - 1;
        }
    }
    /* the group batch holds exactly the counter deltas applied since the group began */
    if (db->wal != NULL) batch_iterate(db->group, group_skip_op, group_undo_counter, db);
    lsm_batch_clear(db->group);
    db->group_failed = 1;
    return rc;
}

int lsm_group_abort(lsm_t *db) {
    if (db->group_depth == 0 || db->group_failed) return 0;
    return group_rollback(db);
}

int lsm_group_end(lsm_t *db) {
    if (db->group_depth == 0) return LSM_EINVAL;
    if (--db->group_depth > 0) return db->group_failed ? LSM_EIO : 0;
    int failed = db->group_failed;
    db->group_failed = 0;
    if (failed) {
        lsm_batch_clear(db->group);
        return LSM_EIO;
    }
    memtable_undo_clear(db->mem);
    size_t n = lsm_batch_count(db->group);
    batch_set_sequence(db->group, db->group_first_seq);
    size_t len;
    const char *data = batch_data(db->group, &len);
    int rc = 0;
    if (n == 0 && len <= 13) {
        /* nothing */
    } else if (db->wal == NULL) {
        rc = LSM_EIO; /* a failure dropped the group's writes (enter_log_failure) */
    } else if ((rc = wal_writer_add(db->wal, data, len)) != 0) {
        group_rollback(db);
        db->group_failed = 0;
    } else {
        db->st.wal_bytes_written += len;
    }
    lsm_batch_clear(db->group);
    return rc;
}

void lsm_set_expire_clock(lsm_t *db, uint64_t now_ms) { db->expire_clock_ms = now_ms; }

uint64_t lsm_rollbacks(const lsm_t *db) { return db->rollbacks; }

/* Engines opened by this process: where each one's rollback count starts (lsm_open). */
static atomic_uint_fast64_t g_opens;

int64_t lsm_counter(lsm_t *db, int idx) {
    if (idx < 0 || idx >= LSM_MAX_COUNTERS) return 0;
    return db->counters[idx];
}

static int commit_failed(lsm_t *db, const char *what, int err) {
    char msg[600];
    snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
    enter_log_failure(db, msg);
    snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg);
    return LSM_EIO;
}

/* lsm_commit's work. A failure leaves commit_poisoned set (enter_log_failure): an implicit
 * commit (write_prepare) fails its write, and the caller's own lsm_commit fails too, so writes
 * acknowledged "OK" earlier in the same iteration are never reported as durable. */
static int do_commit(lsm_t *db) {
    int se = atomic_exchange_explicit(&db->sync_errno, 0, memory_order_acq_rel);
    if (se && !db->fail_log && !db->fatal)
        return commit_failed(db, "WAL fdatasync failed (appendfsync everysec)", se);
    if (!db->wal) return db->commit_poisoned ? LSM_EIO : 0; /* failure state: nothing written */
    if (wal_writer_buffered(db->wal)) {
        if (wal_writer_flush(db->wal)) return commit_failed(db, "WAL write failed", errno);
        db->wal_dirty = 1;
        if (db->o.sync_mode == LSM_SYNC_EVERYSEC)
            atomic_store_explicit(&db->wal_unsynced, 1, memory_order_release);
    }
    if (db->o.sync_mode == LSM_SYNC_ALWAYS && db->wal_dirty) {
        if (wal_writer_sync(db->wal)) return commit_failed(db, "WAL fdatasync failed", errno);
        db->wal_dirty = 0;
    }
    db->wal_committed_bytes = wal_writer_flushed(db->wal);
    if (db->committed_seq != db->last_seq ||
        memcmp(db->committed_counters, db->counters, sizeof(db->counters)) != 0) {
        db->committed_seq = db->last_seq;
        memcpy(db->committed_counters, db->counters, sizeof(db->counters));
    }
    memtable_commit_undo_clear(db->mem); /* what replaced them is durable now */
    if (mem_full(db) && now_micros() >= db->rotate_retry_at && rotate_memtable(db) != 0) {
        db_log(db, 3, "%s (retrying)", db->errmsg);
        backoff(db, &db->rotate_retry_at);
    }
    if (db->mq.n) rotate_for_manual(db); /* a queued lsm_compact_range waits for this memtable */
    return 0;
}

int lsm_commit_pending(lsm_t *db) {
    if (db->group_depth || db->commit_poisoned || !db->wal) return 1;
    if (atomic_load_explicit(&db->sync_errno, memory_order_acquire)) return 1;
    if (db->committed_seq != db->last_seq || wal_writer_buffered(db->wal)) return 1;
    if (db->o.sync_mode == LSM_SYNC_ALWAYS && db->wal_dirty) return 1;
    return memcmp(db->committed_counters, db->counters, sizeof(db->counters)) != 0;
}

int lsm_commit_wanted(lsm_t *db) {
    return db->group_depth == 0 && db->wal && !db->bg_error && wal_writer_buffered(db->wal) && mem_full(db);
}

int lsm_commit(lsm_t *db) {
    if (db->group_depth) return LSM_EINVAL; /* the group's record is not written yet */
    int rc = do_commit(db);
    if (db->commit_poisoned) { /* writes since the last commit were dropped: reported here */
        db->commit_poisoned = 0;
        if (rc == 0) rc = LSM_EIO;
    }
    return rc;
}

static void sync_tick(void *ctx) {
    lsm_t *db = ctx;
    wal_writer *batch[16];
    int n = 0;
    pthread_mutex_lock(&db->wal_mu);
    while (db->nretired > 0 && n < 16) batch[n++] = db->retired[--db->nretired];
    pthread_mutex_unlock(&db->wal_mu);
    for (int i = 0; i < n; i++)
        if (wal_writer_close(batch[i], 1) != 0)
            atomic_store_explicit(&db->sync_errno, errno ? errno : EIO, memory_order_release);
    if (!atomic_exchange_explicit(&db->wal_unsynced, 0, memory_order_acq_rel)) return;
    pthread_mutex_lock(&db->wal_mu);
    if (db->wal && wal_writer_sync(db->wal) != 0)
        atomic_store_explicit(&db->sync_errno, errno ? errno : EIO, memory_order_release);
    pthread_mutex_unlock(&db->wal_mu);
}

/* fdatasync of a closed WAL by number (an immutable memtable's log written under `no`). */
static int sync_log_file(lsm_t *db, uint64_t number) {
    char path[4096];
    log_path(path, sizeof(path), db->dir, number);
    int fd = fs_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return errno == ENOENT ? 0 : LSM_EIO; /* already flushed and deleted */
    int rc = fs_fdatasync(fd) ? LSM_EIO : 0;
    fs_close(fd);
    return rc;
}

int lsm_set_sync_mode(lsm_t *db, lsm_sync_mode mode) {
    if (mode == db->o.sync_mode) return 0;
    int rc = lsm_commit(db);
    if (rc) return rc;
    int err = 0;
    if (db->o.sync_mode == LSM_SYNC_EVERYSEC) {
        periodic_stop(&db->syncer);
        /* close the WALs handed to the sync thread; the current one is synced below */
        pthread_mutex_lock(&db->wal_mu);
        while (db->nretired > 0) {
            wal_writer *w = db->retired[--db->nretired];
            if (wal_writer_close(w, 1) != 0) err = errno ? errno : EIO;
        }
        pthread_mutex_unlock(&db->wal_mu);
        atomic_store_explicit(&db->wal_unsynced, 0, memory_order_release);
    } else if (db->o.sync_mode == LSM_SYNC_NO) {
        /* the promise covers the logs of immutable memtables too: `no` never synced them */
        for (int i = 0; i < db->nimm; i++)
            if (sync_log_file(db, db->imm[i].log_number) != 0) err = errno ? errno : EIO;
    }
    if (db->wal && wal_writer_sync(db->wal) != 0) err = errno ? errno : EIO;
    /* the names of logs created under a laxer policy (rotation syncs the directory only under
     * always) must survive a power loss too */
    if (fsync_dir(db->dir) != 0) err = errno ? errno : EIO;
    db->wal_dirty = 0;
    db->o.sync_mode = mode;
    if (db->wal) wal_writer_set_mapped(db->wal, wal_mapped_for(mode));
    if (mode == LSM_SYNC_EVERYSEC && periodic_start(&db->syncer, 1000, sync_tick, db, "kevo-wal-sync") != 0)
        rc = LSM_ENOMEM;
    if (err && !db->fail_log && !db->fatal) {
        rc = commit_failed(db, "syncing the WAL for the new appendfsync policy failed", err);
        db->commit_poisoned = 0; /* nothing uncommitted was dropped: lsm_commit(db) ran first */
    }
    return rc;
}

/* ---------------- read path ---------------- */

/* The newest version of key in the memtables at snap (active first, then the immutable ones
 * newest first): MEMTABLE_FOUND (*v / *vl point into the memtable), _DELETED or _NOTFOUND. */
static int mem_get(lsm_t *db, const void *key, size_t klen, uint64_t h, uint64_t snap,
                   const char **v, size_t *vl) {
    int r = memtable_get_hashed(db->mem, key, klen, h, snap, v, vl);
    for (int i = db->nimm - 1; i >= 0 && r == MEMTABLE_NOTFOUND; i--)
        r = memtable_get_hashed(db->imm[i].mem, key, klen, h, snap, v, vl);
    return r;
}

/* Keeps the data block a lookup from memory lacked (g's miss) for lsm_prefetch. */
static void probe_miss_keep(lsm_t *db, table_get *g, const void *key, size_t klen) {
    probe_miss_drop(db);
    uint64_t off, size;
    sst_reader *r = table_get_miss(g, &off, &size);
    if (!r) return;
    if (buf_set(&db->pmiss.key, key, klen) != 0) {
        sst_reader_unref(r);
        return;
    }
    db->pmiss.r = r;
    db->pmiss.off = off;
    db->pmiss.size = size;
    db->pmiss.v = db->vs->current;
    db->pmiss.epoch = db->read_epoch;
}

/* lsm_get's lookup; cached_only = 1 reads no file (LSM_EAGAIN where it would: the block it
 * lacked is kept in db->pmiss). */
static int get_impl(lsm_t *db, const void *key, size_t klen, lsm_buf *val, int cached_only) {
    const char *v;
    size_t vl;
    uint64_t snap = db->last_seq;
    uint64_t h = key_hash64(key, klen); /* once, for every memtable index and filter */
    /* Start every first miss of the lookup at once: the memtable index slots now, the filter
     * lines of the first window of tables while the candidates are gathered (table_get.h), and
     * only then wait for the memtables' answers. */
    memtable_prefetch_slot(db->mem, h);
    for (int i = db->nimm - 1; i >= 0; i--) memtable_prefetch_slot(db->imm[i].mem, h);
    table_get g;
    table_get_start_ex(&g, db->vs->current, db->tc, key, klen, h, cached_only);
    int rc = SST_NOTFOUND, r = mem_get(db, key, klen, h, snap, &v, &vl);
    if (r == MEMTABLE_FOUND) {
        table_get_abort(&g);
        rc = buf_set(val, v, vl);
        if (rc == 0) rc = SST_FOUND;
    } else if (r == MEMTABLE_DELETED) {
        table_get_abort(&g);
        rc = SST_DELETED;
    } else {
        rc = table_get_finish(&g, snap, val);
        if (cached_only) probe_miss_keep(db, &g, key, klen);
    }
    if (rc == SST_FOUND) return 0;
    if (rc == SST_DELETED || rc == SST_NOTFOUND) return LSM_ENOTFOUND;
    if (rc == SST_WOULDBLOCK) return LSM_EAGAIN;
    /* the table reader's detail names the file and the block offset */
    snprintf(db->errmsg, sizeof(db->errmsg), "get: %s", sst_reader_last_error());
    return rc;
}

void lsm_prefetch_memtables(lsm_t *db, const void *key, size_t klen) {
    uint64_t h = key_hash64(key, klen);
    memtable_prefetch_slot(db->mem, h);
    for (int i = db->nimm - 1; i >= 0; i--) memtable_prefetch_slot(db->imm[i].mem, h);
}

void lsm_prefetch_memtables_entry(lsm_t *db, const void *key, size_t klen) {
    uint64_t h = key_hash64(key, klen);
    memtable_prefetch_node(db->mem, h);
}

void lsm_get_in_memtables_batch(lsm_t *db, int n, const char *const *keys, const size_t *klens,
                                const char **vals, size_t *vlens, int *rcs) {
    uint64_t h[LSM_MEM_BATCH];
    if (n > LSM_MEM_BATCH) n = LSM_MEM_BATCH;
    for (int i = 0; i < n; i++) {
        h[i] = key_hash64(keys[i], klens[i]);
        memtable_prefetch_slot(db->mem, h[i]);
    }
    for (int i = 0; i < n; i++) {
        int r = mem_get(db, keys[i], klens[i], h[i], db->last_seq, &vals[i], &vlens[i]);
        rcs[i] = r == MEMTABLE_FOUND ? 0 : r == MEMTABLE_DELETED ? LSM_ENOTFOUND : LSM_EAGAIN;
    }
}

/* The memo lsm_get_ready left for key, or NULL. */
static get_memo *memo_find(lsm_t *db, const void *key, size_t klen) {
    /* none made since the last change, or all used */
    if (db->memo_epoch != db->read_epoch || db->memo_live == 0) return NULL;
    /* the newest first: a command reads the key it was just probed for */
    for (int j = 0, i = db->memo_next, seen = 0; j < GET_MEMO && seen < db->memo_live; j++) {
        i = i == 0 ? GET_MEMO - 1 : i - 1;
        get_memo *m = &db->memo[i];
        if (m->epoch == 0) continue; /* used, or a probe that needed a read */
        if (m->epoch != db->read_epoch) break; /* older ones are stale too (made in order) */
        seen++;
        if (m->key.len == klen && (klen == 0 || memcmp(m->key.data, key, klen) == 0)) return m;
    }
    return NULL;
}

/* The memo slot to fill next (its old answer dropped), empty until memo_publish. */
static get_memo *memo_claim(lsm_t *db) {
    get_memo *m = &db->memo[db->memo_next];
    db->memo_next = (db->memo_next + 1) % GET_MEMO;
    if (db->memo_epoch != db->read_epoch) db->memo_live = 0; /* the others are stale */
    else if (m->epoch == db->read_epoch) db->memo_live--;  /* an unused one is replaced */
    m->epoch = 0;
    return m;
}

/* Makes m (from memo_claim, its value in m->val when rc is 0) the answer rc for key until the
 * read epoch changes. 0, or LSM_ENOMEM (m stays empty). */
static int memo_publish(lsm_t *db, get_memo *m, const void *key, size_t klen, int rc) {
    if (buf_set(&m->key, key, klen) != 0) return LSM_ENOMEM;
    m->rc = rc;
    m->epoch = db->read_epoch;
    db->memo_epoch = db->read_epoch;
    db->memo_live++;
    return 0;
}

int lsm_get(lsm_t *db, const void *key, size_t klen, lsm_buf *val) {
    db->st.gets++;
    get_memo *m = memo_find(db, key, klen);
    if (!m) return get_impl(db, key, klen, val, 0);
    m->epoch = 0; /* used once: the value moves to the caller */
    db->memo_live--;
    if (m->rc != 0) return m->rc;
    lsm_buf t = *val;
    *val = m->val;
    m->val = t;
    if (m->val.cap > MEMO_KEEP_BUFFER) lsm_buf_free(&m->val);
    return 0;
}

int lsm_get_ready(lsm_t *db, const void *key, size_t klen) {
    return lsm_get_ready_value(db, key, klen, NULL, NULL);
}

int lsm_get_ready_value(lsm_t *db, const void *key, size_t klen, const char **val, size_t *vlen) {
    get_memo *m = memo_find(db, key, klen);
    if (m) {
        if (val && m->rc == 0) {
            *val = m->val.data;
            *vlen = m->val.len;
        }
        return m->rc;
    }
    m = memo_claim(db);
    int rc = get_impl(db, key, klen, &m->val, 1);
    if (rc != 0 && rc != LSM_ENOTFOUND) return rc; /* LSM_EAGAIN or an error: no memo */
    if (memo_publish(db, m, key, klen, rc) != 0) return rc;
    if (val && rc == 0) {
        *val = m->val.data;
        *vlen = m->val.len;
    }
    return rc;
}

int lsm_prefetch(lsm_t *db, const void *key, size_t klen, uint64_t tag) {
    if (!db->readers) return LSM_EINVAL;
    /* the block lsm_get_ready just found missing for this key: read it without a new lookup */
    probe_miss *pm = &db->pmiss;
    read_hint hint = {NULL, 0, 0, 0};
    if (pm->r && pm->v == db->vs->current && pm->key.len == klen &&
        (klen == 0 || memcmp(pm->key.data, key, klen) == 0)) {
        hint.r = pm->r;
        hint.off = pm->off;
        hint.size = pm->size;
        /* the lookup's walk to the block holds while nothing changes (read_epoch >= 1) */
        hint.stamp = pm->epoch == db->read_epoch ? pm->epoch : 0;
        pm->r = NULL;
    }
    int rc = read_pool_submit(db->readers, db->vs->current, key, klen, tag, hint.r ? &hint : NULL);
    if (rc == 0) db->st.prefetches++;
    return rc;
}

/* The io_uring reader's landed callback (uring_reader.h): the block a lookup from memory found
 * missing at read epoch stamp has landed. The lookup had found the key in no memtable and no
 * table before that block; if nothing changed since (same epoch: no write, no new version), the
 * block's answer is the lookup's, and it becomes a memo: the parked command's lsm_get_ready and
 * lsm_get then run no lookup at all. */
static int landed_answer(void *ctx, const void *key, size_t klen, uint64_t stamp, sst_reader *r,
                         uint64_t off) {
    lsm_t *db = ctx;
    if (stamp != db->read_epoch) return -1;
    get_memo *m = memo_claim(db);
    int rc = sst_reader_block_get(r, off, key, klen, db->last_seq, &m->val);
    if (rc != SST_FOUND && rc != SST_DELETED) return rc == SST_NOTFOUND ? 0 : -1;
    if (memo_publish(db, m, key, klen, rc == SST_FOUND ? 0 : LSM_ENOTFOUND) == 0)
        db->st.landed_answers++;
    return 1;
}

int lsm_seek_ready(lsm_t *db, const void *key, size_t klen, int nblocks) {
    if (nblocks < 1) nblocks = 1;
    int rc = table_seek_blocks(db->vs->current, db->tc, key, klen, nblocks, 1);
    return rc == SST_WOULDBLOCK ? LSM_EAGAIN : rc < 0 ? rc : 0;
}

int lsm_prefetch_seek(lsm_t *db, const void *key, size_t klen, int nblocks, uint64_t tag) {
    if (!db->readers) return LSM_EINVAL;
    if (nblocks < 1) nblocks = 1;
    int rc = read_pool_submit_seek(db->readers, db->vs->current, key, klen, nblocks, tag);
    if (rc == 0) db->st.prefetches++;
    return rc;
}

int lsm_prefetch_done(lsm_t *db, uint64_t *tags, int max) {
    return db->readers ? read_pool_done(db->readers, tags, max) : 0;
}

void lsm_prefetch_hold(lsm_t *db, int on) {
    if (db->readers) read_pool_hold(db->readers, on);
}

void lsm_prefetch_flush(lsm_t *db) {
    if (db->readers) read_pool_flush(db->readers);
}

int lsm_read_event_fd(lsm_t *db) { return db->readers ? read_pool_fd(db->readers) : -1; }

/* ---------------- iterators ---------------- */

lsm_iter *lsm_iter_new(lsm_t *db) {
    lsm_iter *it = calloc(1, sizeof(*it));
    if (!it) return NULL;
    version *v = db->vs->current;
    int cap = 1 + db->nimm + v->nfiles[0] + v->num_levels, n = 0, rc = 0;
    internal_iter **kids = malloc(sizeof(*kids) * (size_t)cap);
    if (!kids) { free(it); return NULL; }
    internal_iter *x = memtable_iter_new(db->mem);
    if (!x) rc = LSM_ENOMEM; else kids[n++] = x;
    for (int i = db->nimm - 1; i >= 0 && !rc; i--) {
        x = memtable_iter_new(db->imm[i].mem);
        if (!x) rc = LSM_ENOMEM; else kids[n++] = x;
    }
    for (int i = 0; i < v->nfiles[0] && !rc; i++) {
        sst_reader *r;
        rc = table_cache_get(db->tc, v->files[0][i]->number, &r);
        if (rc) break;
        x = sst_reader_iter_new(r, 1);
        sst_reader_unref(r);
        if (!x) rc = LSM_ENOMEM; else kids[n++] = x;
    }
    for (int l = 1; l < v->num_levels && !rc; l++) {
        if (!v->nfiles[l]) continue;
        x = level_iter_new(v->files[l], v->nfiles[l], db->tc, 1);
        if (!x) rc = LSM_ENOMEM; else kids[n++] = x;
    }
    if (rc) {
        for (int i = 0; i < n; i++) iter_destroy(kids[i]);
        n = 0;
    }
    internal_iter *m = merging_iter_new(kids, n);
    free(kids);
    if (!m) { free(it); return NULL; }
    it->db = db;
    it->status = rc;
    it->v = v;
    version_ref(v);
    it->seq = db->last_seq;
    db_iter_init(&it->d, m, it->seq);
    it->next = db->iters.next;
    it->prev = &db->iters;
    if (it->next) it->next->prev = it;
    db->iters.next = it;
    return it;
}

void lsm_iter_seek(lsm_iter *it, const void *key, size_t klen) {
    if (it->status) return;
    db_iter_seek(&it->d, key, klen);
}
void lsm_iter_seek_first(lsm_iter *it) {
    if (it->status) return;
    db_iter_seek_first(&it->d);
}
int lsm_iter_valid(const lsm_iter *it) { return !it->status && it->d.valid; }
void lsm_iter_next(lsm_iter *it) {
    if (it->status) return;
    db_iter_next(&it->d);
}
void lsm_iter_seek_last(lsm_iter *it) {
    if (it->status) return;
    db_iter_seek_last(&it->d);
}
void lsm_iter_seek_for_prev(lsm_iter *it, const void *key, size_t klen) {
    if (it->status) return;
    db_iter_seek_for_prev(&it->d, key, klen);
}
void lsm_iter_prev(lsm_iter *it) {
    if (it->status) return;
    db_iter_prev(&it->d);
}
const char *lsm_iter_key(const lsm_iter *it, size_t *klen) {
    return db_iter_key((db_iter *)&it->d, klen);
}
const char *lsm_iter_value(const lsm_iter *it, size_t *vlen) {
    return db_iter_value((db_iter *)&it->d, vlen);
}
int lsm_iter_status(const lsm_iter *it) {
    int rc = it->status ? it->status : it->d.status;
    if (rc && rc != LSM_ENOMEM) /* the table reader's detail names the file and block offset */
        snprintf(it->db->errmsg, sizeof(it->db->errmsg), "iterator: %s", sst_reader_last_error());
    return rc;
}
void lsm_iter_free(lsm_iter *it) {
    if (!it) return;
    db_iter_destroy(&it->d);
    if (it->prev) it->prev->next = it->next;
    if (it->next) it->next->prev = it->prev;
    version_unref(it->v);
    free(it);
}

/* ---------------- maintenance ---------------- */

int lsm_flush(lsm_t *db, int wait) {
    if (db->bg_error) return LSM_EIO;
    int rc = lsm_commit(db);
    if (rc) return rc;
    if (memtable_entries(db->mem) > 0 || wal_writer_size(db->wal) > 0) {
        rc = rotate_memtable(db);
        if (rc) return rc;
    }
    if (wait)
        while (db->nimm > 0 && !db->bg_error) wait_bg(db);
    return db->bg_error ? LSM_EIO : 0;
}

int lsm_compact_range(lsm_t *db, const void *begin, size_t blen, const void *end, size_t elen,
                      int wait) {
    if (db->bg_error) return LSM_EIO;
    /* the writes made so far go to tables first: a blocking flush when waiting anyway;
     * otherwise the request waits for the flush of the memtables holding them (the active one
     * turns immutable at a commit boundary once no flush is pending: rotate_for_manual; the
     * commit here makes this call one, as lsm_flush does, except inside a write group) */
    int rc = wait ? lsm_flush(db, 1) : db->group_depth ? 0 : lsm_commit(db);
    if (rc) return rc;
    uint64_t after = db->st.flushes + (uint64_t)db->nimm + (memtable_entries(db->mem) > 0);
    uint64_t id = ++db->manual_ids;
    rc = manual_queue_add(&db->mq, begin, blen, end, elen, after, id);
    if (rc) return rc;
    if (wait) {
        db->manual_wait_id = id;
        db->manual_rc = 0;
    }
    rotate_for_manual(db);
    schedule(db);
    if (!wait) return db->bg_error ? LSM_EIO : 0;
    /* done once no queued or running request holds this one's range (merges keep the newest
     * id); requests queued before it may run first */
    for (;;) {
        int pending = 0;
        for (int i = 0; i < db->mq.n; i++) pending |= db->mq.q[i].id >= id;
        if (!pending && !db->manual_running) break;
        if (db->bg_error) break;
        wait_bg(db);
    }
    db->manual_wait_id = 0;
    if (db->bg_error) return LSM_EIO;
    return db->manual_rc;
}

int lsm_event_fd(lsm_t *db) { return db->efd; }

void lsm_get_stats(lsm_t *db, lsm_stats *out) {
    *out = db->st;
    version *v = db->vs->current;
    uint64_t total = 0, pending = 0;
    for (int l = 0; l < LSM_MAX_LEVELS; l++) {
        out->level_files[l] = l < v->num_levels ? v->nfiles[l] : 0;
        out->level_bytes[l] = l < v->num_levels ? v->level_bytes[l] : 0;
        total += out->level_bytes[l];
    }
    if (v->nfiles[0] >= db->o.l0_compaction_trigger) pending += v->level_bytes[0];
    for (int l = 1; l < v->num_levels - 1; l++) {
        uint64_t t = vset_level_target(db->o.level1_max_bytes, db->o.level_multiplier, l);
        if (v->level_bytes[l] > t) pending += v->level_bytes[l] - t;
    }
    out->pending_compaction_bytes = pending;
    out->total_sst_bytes = total;
    out->immutable_memtables = db->nimm;
    uint64_t mb = memtable_memory_usage(db->mem);
    for (int i = 0; i < db->nimm; i++) mb += memtable_memory_usage(db->imm[i].mem);
    out->memtable_bytes = mb;
    out->running_flushes = db->flush_w.inflight;
    out->running_compactions = db->running_compactions;
    sst_bloom_stats(&out->bloom_checks, &out->bloom_useful);
    block_cache_stats cs;
    block_cache_get_stats(db->bc, &cs);
    out->cache_hits = cs.hits;
    out->cache_misses = cs.misses;
    out->cache_bytes = cs.bytes;
    out->cache_capacity = cs.capacity;
    out->cache_entries = cs.entries;
    out->cache_pinned_bytes = cs.pinned;
    out->background_linking = db->linker != NULL;
    out->background_unlinks = unlinker_done(db->unlinker);
    mt_linker_stats(db->linker, &out->linked_by_thread, &out->linked_by_writer, &out->linked_idle);
    block_alloc_stats bs;
    block_alloc_get_stats(&bs);
    out->slab_stock_bytes = bs.stock_bytes;
    out->slabs_from_stock = bs.stock_taken;
    out->slabs_stock_missed = bs.stock_missed;
    out->stall_micros = db->st.stall_micros + (db->stalled ? now_micros() - db->stall_start : 0);
    out->last_sequence = db->last_seq;
    out->open_tables = table_cache_open_count(db->tc);
    out->write_failures = db->failures;
    out->queued_manual_compactions = db->mq.n;
    out->prefetches_in_flight = db->readers ? read_pool_inflight(db->readers) : 0;
    out->read_uring = db->readers ? read_pool_uses_uring(db->readers) : 0;
    out->uring_block_reads = db->readers ? read_pool_uring_reads(db->readers) : 0;
    out->uring_lookups = db->readers ? read_pool_uring_lookups(db->readers) : 0;
}

/* ---------------- open / recovery / close ---------------- */

typedef struct dir_scan {
    uint64_t *logs;
    int nlogs, cap;
    uint64_t max_number;
    char **garbage;      /* names to remove once the recovered version is checked */
    int ngarbage, cap_garbage;
} dir_scan;

static void dir_scan_free(dir_scan *ds) {
    free(ds->logs);
    for (int i = 0; i < ds->ngarbage; i++) free(ds->garbage[i]);
    free(ds->garbage);
    memset(ds, 0, sizeof(*ds));
}

static int add_garbage(dir_scan *ds, const char *name) {
    if (ds->ngarbage == ds->cap_garbage) {
        int nc = ds->cap_garbage ? ds->cap_garbage * 2 : 16;
        char **na = realloc(ds->garbage, sizeof(*na) * (size_t)nc);
        if (!na) return LSM_ENOMEM;
        ds->garbage = na;
        ds->cap_garbage = nc;
    }
    if (!(ds->garbage[ds->ngarbage] = strdup(name))) return LSM_ENOMEM;
    ds->ngarbage++;
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int file_in_version(const version *v, uint64_t number) {
    for (int l = 0; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++)
            if (v->files[l][i]->number == number) return 1;
    return 0;
}

/* Lists WALs and finds the highest file number in use; notes temp files, stale MANIFESTs and
 * orphan tables (written by a job that never got into the MANIFEST) for removal. Deletes
 * nothing: remove_garbage runs only after the recovered version was checked (a MANIFEST that
 * lost edits must make open refuse, never make it delete live tables). */
static int scan_dir(lsm_t *db, dir_scan *ds, int found) {
    memset(ds, 0, sizeof(*ds));
    DIR *d = opendir(db->dir);
    if (!d) return LSM_EIO;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        const char *name = de->d_name;
        size_t nl = strlen(name);
        char *endp;
        if (nl > 4 && strcmp(name + nl - 4, ".tmp") == 0) {
            rc = add_garbage(ds, name);
            continue;
        }
        if (strncmp(name, "MANIFEST-", 9) == 0) {
            uint64_t n = strtoull(name + 9, &endp, 10);
            if (n > ds->max_number) ds->max_number = n;
            if (*endp == 0 && n != db->vs->manifest_number) rc = add_garbage(ds, name);
            continue;
        }
        if (name[0] < '0' || name[0] > '9') continue;
        uint64_t n = strtoull(name, &endp, 10);
        if (strcmp(endp, ".log") == 0) {
            if (n > ds->max_number) ds->max_number = n;
            if (ds->nlogs == ds->cap) {
                int nc = ds->cap ? ds->cap * 2 : 16;
                uint64_t *na = realloc(ds->logs, sizeof(*na) * (size_t)nc);
                if (!na) { rc = LSM_ENOMEM; break; }
                ds->logs = na;
                ds->cap = nc;
            }
            ds->logs[ds->nlogs++] = n;
        } else if (strcmp(endp, ".sst") == 0) {
            if (n > ds->max_number) ds->max_number = n;
            if (!found) { /* tables are only written after the first MANIFEST exists */
                snprintf(db->errmsg, sizeof(db->errmsg),
                         "%.300s has tables but no CURRENT file: refusing to open", db->dir);
                rc = LSM_ECORRUPT;
                break;
            }
            if (!file_in_version(db->vs->current, n)) rc = add_garbage(ds, name);
        }
    }
    closedir(d);
    if (rc) {
        dir_scan_free(ds);
        return rc;
    }
    if (ds->nlogs > 1) qsort(ds->logs, (size_t)ds->nlogs, sizeof(uint64_t), cmp_u64);
    return 0;
}

static void remove_garbage(lsm_t *db, const dir_scan *ds) {
    char path[4096];
    for (int i = 0; i < ds->ngarbage; i++) {
        snprintf(path, sizeof(path), "%s/%s", db->dir, ds->garbage[i]);
        fs_unlink(path);
        size_t nl = strlen(ds->garbage[i]);
        if (nl > 4 && strcmp(ds->garbage[i] + nl - 4, ".sst") == 0)
            db_log(db, 2, "removed orphan table %s", ds->garbage[i]);
    }
}

/* A batch with no operations and no counters (13 bytes: sequence, count, counter count) is never
 * written by lsm_write: open writes one at the start of each new WAL, after syncing every log it
 * replayed. It marks where the sequence may jump (to the MANIFEST's last sequence). */
#define SESSION_MARKER_LEN 13

/* Replays WAL number into the active memtable. Sequence numbers must continue across records
 * and logs: a batch that does not start where the previous one ended means an older log lost
 * data that a newer one kept (a power loss under everysec/no); replay then stops there, before
 * the gap (*gap = 1: a consistent prefix, at most the unsynced suffix lost, never a hole). */
static int replay_log(lsm_t *db, uint64_t number, uint64_t *records, int *gap) {
    char path[4096];
    log_path(path, sizeof(path), db->dir, number);
    wal_reader *r = wal_reader_open(path);
    if (!r) {
        snprintf(db->errmsg, sizeof(db->errmsg), "open %.300s: %s", path, strerror(errno));
        return LSM_EIO;
    }
    wal_reader_set_skip(r, db->o.skip_corrupt_wal);
    const char *rec;
    size_t len;
    int rc = 0;
    for (;;) {
        int s = wal_reader_next(r, &rec, &len);
        if (s == WAL_READ_EOF) break;
        if (s < 0) {
            snprintf(db->errmsg, sizeof(db->errmsg),
                     "WAL %.300s is corrupt at offset %llu (set skip_corrupt_wal to skip it)", path,
                     (unsigned long long)wal_reader_offset(r));
            rc = LSM_ECORRUPT;
            break;
        }
        rc = batch_set_data(db->replay_batch, rec, len);
        if (rc == 0) rc = batch_iterate(db->replay_batch, check_op, NULL, NULL); /* whole or not */
        if (rc == 0) {
            uint64_t first = batch_sequence(db->replay_batch);
            size_t n = lsm_batch_count(db->replay_batch);
            int marker = n == 0 && len == SESSION_MARKER_LEN;
            if (!marker && db->replay_next && first != db->replay_next && !db->o.skip_corrupt_wal) {
                if (wal_reader_offset(r) != 0) { /* inside one log sequences always follow */
                    snprintf(db->errmsg, sizeof(db->errmsg),
                             "WAL %.300s is corrupt at offset %llu: sequence %llu does not follow %llu",
                             path, (unsigned long long)wal_reader_offset(r), (unsigned long long)first,
                             (unsigned long long)(db->replay_next - 1));
                    rc = LSM_ECORRUPT;
                    break;
                }
                db_log(db, 3, "WAL %s starts at sequence %llu, but the logs before it end at %llu: "
                       "they lost writes in a power loss; recovery stops before the gap",
                       path, (unsigned long long)first, (unsigned long long)(db->replay_next - 1));
                *gap = 1;
                break;
            }
            if (marker || n) db->replay_next = first + n;
            if (!marker) rc = batch_iterate(db->replay_batch, apply_op, apply_counter, db);
        }
        if (rc) {
            snprintf(db->errmsg, sizeof(db->errmsg), "WAL %.300s: bad batch before offset %llu",
                     path, (unsigned long long)wal_reader_offset(r));
            if (db->o.skip_corrupt_wal && rc == LSM_ECORRUPT) {
                db_log(db, 3, "%s (skipped)", db->errmsg);
                rc = 0;
                continue;
            }
            break;
        }
        if (len != SESSION_MARKER_LEN || lsm_batch_count(db->replay_batch) != 0) (*records)++;
    }
    if (rc == 0) {
        if (wal_reader_tail_dropped(r))
            db_log(db, 2, "WAL %s: dropped a torn tail of %llu bytes", path,
                   (unsigned long long)wal_reader_tail_dropped(r));
        if (wal_reader_skipped_bytes(r))
            db_log(db, 3, "WAL %s: skipped %llu corrupt bytes", path,
                   (unsigned long long)wal_reader_skipped_bytes(r));
    }
    wal_reader_close(r);
    return rc;
}

/* Creates the active WAL (number mem_log) with its session marker, durable with its directory
 * entry. 0; or LSM_EIO (nothing left behind, db->wal NULL, errmsg set) / LSM_ENOMEM. */
static int start_session_wal(lsm_t *db) {
    char path[4096];
    log_path(path, sizeof(path), db->dir, db->mem_log);
    db->wal = wal_create(db, path);
    if (!db->wal) {
        snprintf(db->errmsg, sizeof(db->errmsg), "create %.300s: %s", path, strerror(errno));
        return LSM_EIO;
    }
    /* the session marker: sequences may jump here (replay_log) */
    char marker[SESSION_MARKER_LEN] = {0};
    encode_fixed64(marker, db->last_seq + 1);
    int rc = wal_writer_add(db->wal, marker, sizeof(marker));
    if (rc == 0 && (wal_writer_flush(db->wal) != 0 || wal_writer_sync(db->wal) != 0 ||
                    fsync_dir(db->dir) != 0)) {
        snprintf(db->errmsg, sizeof(db->errmsg), "writing %.300s: %s", path, strerror(errno));
        rc = LSM_EIO;
    }
    if (rc == 0) rc = logs_push(db, db->mem_log);
    if (rc) {
        wal_writer_abandon(db->wal, UINT64_MAX);
        db->wal = NULL;
        fs_unlink(path);
        return rc;
    }
    db->wal_committed_bytes = wal_writer_flushed(db->wal);
    return 0;
}

/* version_set.unlink_fn: an obsolete table's path goes to the unlinker thread. */
static int queue_unlink(void *ctx, const char *path) {
    lsm_t *db = ctx;
    return unlinker_add(db->unlinker, path);
}

static void free_db(lsm_t *db) {
    if (db->linker) {
        if (db->mem) memtable_seal(db->mem); /* detached before its linker goes */
        mt_linker_stop(db->linker);
        db->linker = NULL;
    }
    for (int i = 0; i < db->nimm; i++) memtable_unref(db->imm[i].mem);
    for (int i = 0; i < db->nretired; i++) wal_writer_close(db->retired[i], 1);
    free(db->retired);
    free(db->imm);
    if (db->mem) memtable_unref(db->mem);
    if (db->vs) vset_free(db->vs);
    unlinker_stop(db->unlinker); /* after the last version: unlinks what it still holds */
    db->unlinker = NULL;
    probe_miss_drop(db); /* its reader belongs to the table cache */
    if (db->tc) table_cache_free(db->tc);
    if (db->bc) block_cache_free(db->bc);
    if (db->efd >= 0) close(db->efd);
    if (db->lock_fd >= 0) close(db->lock_fd);
    if (db->replay_batch) lsm_batch_free(db->replay_batch);
    if (db->group) lsm_batch_free(db->group);
    if (db->counter_batch) lsm_batch_free(db->counter_batch);
    pthread_mutex_destroy(&db->wal_mu);
    free(db->logs);
    free(db->scratch);
    for (int i = 0; i < GET_MEMO; i++) {
        lsm_buf_free(&db->memo[i].key);
        lsm_buf_free(&db->memo[i].val);
    }
    lsm_buf_free(&db->pmiss.key);
    manual_queue_free(&db->mq);
    free(db->dir);
    free(db);
}

static atomic_uint_fast64_t open_ids;

uint64_t lsm_open_id(const lsm_t *db) { return db ? db->open_id : 0; }

int lsm_open(const char *dir, const lsm_options *opts, lsm_t **out) {
    *out = NULL;
    open_error[0] = 0;
    if (!dir || !*dir) {
        snprintf(open_error, sizeof(open_error), "no directory given");
        return LSM_EINVAL;
    }
    lsm_t *db = calloc(1, sizeof(*db));
    if (!db) return LSM_ENOMEM;
    db->open_id = atomic_fetch_add(&open_ids, 1) + 1;
    db->efd = -1;
    db->lock_fd = -1;
    pthread_mutex_init(&db->wal_mu, NULL);
    atomic_init(&db->wal_unsynced, 0);
    if (opts) db->o = *opts;
    else lsm_options_init(&db->o);
    lsm_options *o = &db->o;
    if (o->memtable_size < 4096) o->memtable_size = 4096;
    /* arena and index pages are reused memtable to memtable (the index: ~1/4 of the arena) */
    hugemem_pool_reserve(o->memtable_size + o->memtable_size / 4);
    if (o->max_immutable_memtables < 1) o->max_immutable_memtables = 1;
    if (o->prefault_memtables)
        hugemem_prefill_start(o->memtable_size * (1 + (size_t)o->max_immutable_memtables),
                              PREFILL_NICE);
    if (o->prefault_blocks) block_alloc_stock_start(PREFILL_NICE);
    if (o->l0_compaction_trigger < 1) o->l0_compaction_trigger = 1;
    if (o->l0_slowdown_trigger < o->l0_compaction_trigger)
        o->l0_slowdown_trigger = o->l0_compaction_trigger;
    if (o->num_levels < 2) o->num_levels = 2;
    if (o->num_levels > LSM_MAX_LEVELS) o->num_levels = LSM_MAX_LEVELS;
    if (o->level_multiplier < 2) o->level_multiplier = 2;
    if (o->level1_max_bytes < 4096) o->level1_max_bytes = 4096;
    if (o->target_file_size < 4096) o->target_file_size = 4096;
    if (o->compaction_threads < 1) o->compaction_threads = 1;
    if (o->compaction_threads > MAX_COMPACTION_THREADS)
        o->compaction_threads = MAX_COMPACTION_THREADS;
    if (o->max_open_files < 16) o->max_open_files = 16;
    if (o->block_size < 256) o->block_size = 256;
    if (o->block_restart_interval < 1) o->block_restart_interval = 16;
    db->sopts.block_size = o->block_size;
    db->sopts.restart_interval = o->block_restart_interval;
    db->sopts.bloom_bits_per_key = o->bloom_bits_per_key;
    db->sopts.compression = o->compression;
    db->sopts.expire_fn = o->expire_fn;
    db->sopts.expire_ctx = o->expire_ctx;
    db->pol.l0_trigger = o->l0_compaction_trigger;
    db->pol.level1_max_bytes = o->level1_max_bytes;
    db->pol.multiplier = o->level_multiplier;
    if (o->deletion_compaction_percent < 0) o->deletion_compaction_percent = 0;
    if (o->deletion_compaction_percent > 100) o->deletion_compaction_percent = 100;
    db->pol.deletion_percent = o->deletion_compaction_percent;
    db->pol.deletion_min_entries = o->deletion_compaction_min_entries;

    int rc = 0;
    char path[4096];
    db->dir = strdup(dir);
    db->replay_batch = lsm_batch_new();
    db->group = lsm_batch_new();
    db->counter_batch = lsm_batch_new();
    if (!db->dir || !db->replay_batch || !db->group || !db->counter_batch) { rc = LSM_ENOMEM; goto fail; }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(db->errmsg, sizeof(db->errmsg), "mkdir %s: %s", dir, strerror(errno));
        rc = LSM_EIO;
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/LOCK", dir);
    db->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (db->lock_fd < 0) {
        snprintf(db->errmsg, sizeof(db->errmsg), "open %.300s: %s", path, strerror(errno));
        rc = LSM_EIO;
        goto fail;
    }
    if (flock(db->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(db->errmsg, sizeof(db->errmsg), "%s is locked by another process", dir);
        rc = errno == EWOULDBLOCK ? LSM_EBUSY : LSM_EIO;
        goto fail;
    }
    db->bc = block_cache_new(o->block_cache_size);
    if (db->bc) db->tc = table_cache_new(dir, o->max_open_files, db->bc);
    db->vs = vset_new(dir, o->num_levels);
    db->mem = memtable_new();
    if (db->mem) db->mem_base = memtable_memory_usage(db->mem) - memtable_index_bytes(db->mem);
    db->read_epoch = 1; /* memo epoch 0 means empty */
    /* rollback counts of different engines never meet: each open starts its own range */
    db->rollbacks = (uint64_t)(atomic_fetch_add(&g_opens, 1) + 1) << 32;
    db->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!db->bc || !db->tc || !db->vs || !db->mem) { rc = LSM_ENOMEM; goto fail; }
    if (db->efd < 0) {
        snprintf(db->errmsg, sizeof(db->errmsg), "eventfd: %s", strerror(errno));
        rc = LSM_EIO;
        goto fail;
    }
    db->vs->on_delete = on_table_deleted;
    db->vs->on_delete_ctx = db;
    if (o->unlink_in_background && (db->unlinker = unlinker_start()) != NULL) {
        db->vs->unlink_fn = queue_unlink;
        db->vs->unlink_ctx = db;
    }

    int found = 0;
    rc = vset_recover(db->vs, &found);
    if (rc) {
        snprintf(db->errmsg, sizeof(db->errmsg), "%s", db->vs->errmsg);
        goto fail;
    }
    if (found) { /* writes from the log number on are in WALs only: that WAL must be there */
        log_path(path, sizeof(path), dir, db->vs->log_number);
        if (access(path, F_OK) != 0) {
            snprintf(db->errmsg, sizeof(db->errmsg),
                     "MANIFEST-%06llu names WAL %06llu.log as holding the writes not yet in tables, "
                     "but it is missing (a MANIFEST that lost its last edits, or a deleted WAL): "
                     "refusing to open (kevo-check %.300s tells more)",
                     (unsigned long long)db->vs->manifest_number,
                     (unsigned long long)db->vs->log_number, dir);
            rc = LSM_ECORRUPT;
            goto fail;
        }
    }
    dir_scan ds;
    rc = scan_dir(db, &ds, found);
    if (rc) {
        if (rc != LSM_ECORRUPT)
            snprintf(db->errmsg, sizeof(db->errmsg), "cannot list %.300s", dir);
        goto fail;
    }
    {
        version *cv = db->vs->current;
        for (int l = 0; l < cv->num_levels && rc == 0; l++)
            for (int i = 0; i < cv->nfiles[l] && rc == 0; i++) {
                table_file_name(path, sizeof(path), dir, cv->files[l][i]->number);
                if (access(path, F_OK) != 0) {
                    snprintf(db->errmsg, sizeof(db->errmsg),
                             "table %.300s listed in MANIFEST-%06llu is missing", path,
                             (unsigned long long)db->vs->manifest_number);
                    rc = LSM_ECORRUPT;
                }
            }
        if (rc) {
            dir_scan_free(&ds);
            goto fail;
        }
    }
    if (ds.max_number + 1 > atomic_load(&db->vs->next_file))
        atomic_store(&db->vs->next_file, ds.max_number + 1);
    db->last_seq = db->vs->last_seq;
    memcpy(db->counters, db->vs->counters, sizeof(db->counters));

    remove_garbage(db, &ds); /* the version is checked: orphans and temp files can go */
    uint64_t records = 0;
    int gap = 0;
    db->replaying = 1;
    for (int i = 0; i < ds.nlogs && rc == 0; i++) {
        log_path(path, sizeof(path), dir, ds.logs[i]);
        if (ds.logs[i] < db->vs->log_number) {
            /* already in SSTables: a crash between the MANIFEST write and the unlink */
            fs_unlink(path);
            continue;
        }
        if (!gap) rc = replay_log(db, ds.logs[i], &records, &gap);
        if (rc == 0 && gap) { /* from the gap on: kept aside for inspection, never replayed */
            char aside[4200];
            snprintf(aside, sizeof(aside), "%s.gap", path);
            if (fs_rename(path, aside) == 0) {
                db_log(db, 3, "WAL %s set aside as %s", path, aside);
            } else {
                snprintf(db->errmsg, sizeof(db->errmsg), "rename %.300s: %s", path, strerror(errno));
                rc = LSM_EIO;
            }
            continue;
        }
        if (rc == 0) rc = logs_push(db, ds.logs[i]);
        /* what was replayed must be durable before a new log builds on it (a power loss must
         * not take an older log's tail and leave a newer one: that would be a gap) */
        if (rc == 0 && sync_log_file(db, ds.logs[i]) != 0) {
            snprintf(db->errmsg, sizeof(db->errmsg), "fdatasync %.300s: %s", path, strerror(errno));
            rc = LSM_EIO;
        }
    }
    dir_scan_free(&ds);
    db->replaying = 0;
    if (rc) goto fail;
    if (records) db_log(db, 2, "recovered %llu WAL records, last sequence %llu",
                        (unsigned long long)records, (unsigned long long)db->last_seq);

    db->committed_seq = db->last_seq;
    memcpy(db->committed_counters, db->counters, sizeof(db->counters));
    if (db->last_seq > db->vs->last_seq) db->vs->last_seq = db->last_seq;
    /* The WAL for new writes, and a fresh MANIFEST. On a full disk (or a failing one) the
     * database still opens: reads are served from what was recovered, writes are refused, and
     * the background repair (try_recover) finishes the job once writing works again. */
    db->mem_log = vset_new_file_number(db->vs);
    char failed[600] = "";
    rc = start_session_wal(db);
    if (rc == LSM_EIO) {
        snprintf(failed, sizeof(failed), "%.500s", db->errmsg);
        rc = 0;
    } else if (rc) {
        goto fail;
    }
    uint64_t recovered_log_number = db->vs->log_number;
    if (db->wal && records == 0) db->vs->log_number = db->mem_log; /* older WALs hold nothing */
    rc = vset_write_snapshot(db->vs);
    if (rc == LSM_EIO) { /* the recovered MANIFEST stays live; rewritten by the repair */
        if (!failed[0]) snprintf(failed, sizeof(failed), "%.500s", db->vs->errmsg);
        db->vs->log_number = recovered_log_number;
        db->vs->manifest_failed = 1;
        rc = 0;
    } else if (rc) {
        snprintf(db->errmsg, sizeof(db->errmsg), "%s", db->vs->errmsg);
        goto fail;
    }
    if (!db->vs->manifest_failed) delete_obsolete_logs(db);
    if (!db->wal) { /* the recovered memtable waits for a flush, the new WAL for the repair */
        if ((rc = freeze_for_repair(db, db->mem_log))) goto fail;
        db->fail_log = 1;
        db->fail_log_next = db->mem_log;
    }
    if (failed[0]) {
        char msg[700];
        snprintf(msg, sizeof(msg), "opened with writes refused: %s", failed);
        note_failure(db, LSM_EIO, msg);
    }

    if (worker_start(&db->flush_w, db->efd, "kevo-flush", FLUSH_NICE) != 0) { rc = LSM_ENOMEM; goto fail_threads; }
    for (int i = 0; i < o->compaction_threads; i++) {
        char name[16];
        snprintf(name, sizeof name, "kevo-compact-%u", (unsigned)i % 100u); /* fits 15 chars */
        if (worker_start(&db->comp_w[i], db->efd, name, COMPACTION_NICE) != 0) { rc = LSM_ENOMEM; goto fail_threads; }
        db->ncomp++;
    }
    if (o->read_threads > 0 &&
        read_pool_start(&db->readers, o->read_threads, db->tc, o->read_direct, o->read_uring) != 0) {
        rc = LSM_ENOMEM;
        goto fail_threads;
    }
    if (db->readers) read_pool_on_landed(db->readers, landed_answer, db);
    if (o->sync_mode == LSM_SYNC_EVERYSEC && periodic_start(&db->syncer, 1000, sync_tick, db, "kevo-wal-sync") != 0) {
        rc = LSM_ENOMEM;
        goto fail_threads;
    }
    if (o->background_linking && (db->linker = mt_linker_start(LINK_NICE)) != NULL)
        memtable_attach_linker(db->mem, db->linker);
    if (mem_full(db)) rotate_memtable(db);
    schedule(db);
    *out = db;
    return 0;

fail_threads:
    read_pool_stop(db->readers);
    db->readers = NULL;
    periodic_stop(&db->syncer);
    worker_stop(&db->flush_w);
    for (int i = 0; i < db->ncomp; i++) worker_stop(&db->comp_w[i]);
fail:
    snprintf(open_error, sizeof(open_error), "%s",
             db->errmsg[0] ? db->errmsg : lsm_strerror(rc));
    if (db->wal) wal_writer_close(db->wal, 0);
    db->wal = NULL;
    free_db(db);
    return rc;
}

int lsm_close(lsm_t *db) {
    if (!db) return 0;
    int rc = lsm_commit(db);
    /* After a log failure the memtables are only safe in tables: give their flushes a few
     * seconds of retries before going (what remains is replayed from the old logs). */
    for (uint64_t end = now_micros() + 3000000u; db->fail_log && !db->fatal && now_micros() < end;) {
        if (db->retry_at > now_micros() + 100000u) db->retry_at = now_micros() + 100000u;
        wait_bg(db);
    }
    if (db->bg_error && rc == 0) rc = LSM_EIO;
    db->closing = 1;
    while (bg_busy(db)) wait_bg(db);
    (void)lsm_poll(db);
    periodic_stop(&db->syncer);
    worker_stop(&db->flush_w);
    for (int i = 0; i < db->ncomp; i++) worker_stop(&db->comp_w[i]);
    probe_miss_drop(db);
    read_pool_stop(db->readers); /* waits for its lookups, releases their versions */
    db->readers = NULL;
    /* iterators must be gone by contract; drop any leftovers' refs defensively */
    while (db->iters.next) lsm_iter_free(db->iters.next);
    pthread_mutex_lock(&db->wal_mu);
    wal_writer *w = db->wal;
    db->wal = NULL;
    pthread_mutex_unlock(&db->wal_mu);
    if (w && wal_writer_close(w, db->o.sync_mode != LSM_SYNC_NO) != 0 && rc == 0) rc = LSM_EIO;
    if (db->stalled) update_stall(db);
    free_db(db);
    return rc;
}
