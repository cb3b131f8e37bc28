/* compaction.h - background jobs that write SSTables: the flush job (an immutable memtable ->
 * one L0 table) and the compaction job (merge input files of one or more levels -> output files
 * of one level), plus the owner-side picking of the next compaction by score.
 *
 * Threads: a job is built on the owner thread, run() on a worker, and its result (output metas,
 * stats) read back on the owner thread after the worker returns it through the result ring.
 * run() reads only what the job carries: a referenced memtable / version (immutable), the table
 * cache (thread-safe) and the options copy. It never touches the current version. */
#ifndef KEVO_COMPACTION_H
#define KEVO_COMPACTION_H
#include <stddef.h>
#include <stdint.h>
#include "lsm.h"
#include "memtable.h"
#include "sst_builder.h"
#include "table_cache.h"
#include "version.h"
#include "worker.h"

enum { JOB_FLUSH = 1, JOB_COMPACT = 2 };

/* The compaction filter's view of a job (lsm.h): the job's memtable (a flush's; NULL for a
 * compaction) over the SSTables of v, read at snapshot. Lives in the job; one thread. */
struct lsm_filter_view {
    memtable *mem;            /* borrowed from the job */
    const version *v;         /* borrowed from the job (referenced by it) */
    table_cache *tc;
    uint64_t snapshot;
    uint64_t id;              /* unique per job (filter_view_init) */
    int failed;               /* an lsm_filter_get of the current call failed */
    _Alignas(max_align_t) unsigned char scratch[LSM_FILTER_SCRATCH];
};

/* The filter hook of a job: fn NULL = no filter. */
typedef struct job_filter {
    lsm_compaction_filter_fn fn;
    void *ctx;
    table_cache *tc;          /* for the view's table lookups */
} job_filter;

typedef struct flush_job {
    bg_job base;
    /* input (owner fills) */
    memtable *mem;           /* referenced; the owner unrefs after install */
    uint64_t file_number;
    uint64_t smallest_snapshot; /* older versions shadowed at or below it are dropped */
    job_filter filter;       /* the compaction filter, if any; its view also reads v */
    version *v;              /* referenced when filter.fn is set (the version current at
                                submit, which holds every older memtable); owner unrefs */
    const char *dir;
    sst_options sopts;
    table_cache *tc;         /* the new table is opened into it (NULL: not) */
    block_cache *warm_bc;    /* the blocks written go into it where it has room (NULL: not) */
    void (*log_fn)(void *ctx, int level, const char *msg);
    void *log_ctx;
    /* output */
    file_meta *out;          /* NULL if the memtable was empty */
    uint64_t bytes_written;
    uint64_t filter_dropped;
    char err[512];
    /* owner bookkeeping */
    void *owner_data;
} flush_job;

/* Initializes base.run/type. */
void flush_job_init(flush_job *j);

typedef struct compaction_job {
    bg_job base;
    /* input (owner fills) */
    version *v;                          /* referenced; owner unrefs after install */
    int out_level;
    file_meta **inputs[LSM_MAX_LEVELS];  /* per level, malloc'ed arrays (metas borrowed from v) */
    int ninputs[LSM_MAX_LEVELS];
    uint64_t smallest_snapshot;          /* versions needed by live iterators are kept */
    table_cache *tc;
    block_cache *warm_bc;                /* the blocks written go into it where it has room
                                            (NULL: not) */
    version_set *vs;                     /* only vset_new_file_number (atomic) is used */
    const char *dir;
    sst_options sopts;
    uint64_t target_file_size;
    lsm_expire_fn expire_fn;
    void *expire_ctx;
    uint64_t now_ms;
    job_filter filter;                   /* the compaction filter, if any */
    int manual;
    uint64_t manual_id;                  /* owner bookkeeping of manual jobs (lsm.c) */
    int deletion_triggered;              /* picked by compaction_pick_deletions */
    /* output */
    file_meta **outs;
    int nouts, cap_outs;
    uint64_t bytes_read, bytes_written, tombstones_dropped, expired_dropped, filter_dropped;
    char err[512];
} compaction_job;

void compaction_job_init(compaction_job *j);
/* Frees arrays and (if the job failed or was not installed) output metas with refs == 0.
 * Does not unref j->v. */
void compaction_job_free(compaction_job *j);
uint64_t compaction_input_bytes(const compaction_job *j);

typedef struct compaction_policy {
    int l0_trigger;
    uint64_t level1_max_bytes;
    int multiplier;
    int deletion_percent;            /* compaction_pick_deletions; 0 = off */
    uint64_t deletion_min_entries;
} compaction_policy;

/* Level scores of v (L0: files / trigger; Ln: bytes / target) ignoring files being compacted. */
double compaction_score(const version *v, const compaction_policy *p, int level);

/* Picks the best compaction by score (>= 1) whose files are all free (not being_compacted).
 * Returns a job with v referenced and inputs filled (caller fills the runtime fields and marks
 * the inputs being_compacted), or NULL. rr[] is a per-level round-robin cursor (owner state).
 * l0_busy: an L0 compaction is running. *trivial set when the job's input files can move to
 * the next level without a rewrite (one file, or disjoint L0 files, with no overlap below):
 * the caller installs it directly. */
compaction_job *compaction_pick(version *v, const compaction_policy *p, int *rr, int l0_busy,
                                int *trivial);

/* When no level needs a compaction by score: a compaction of a tombstone-dense table (at least
 * p->deletion_min_entries entries, at least p->deletion_percent % of them deletes, counts
 * known), the densest first, whose files are all free. A table with an overlapping file in a
 * level below goes one level down (L0: all of L0, as by score); one with none below is
 * rewritten in its level, which drops its deletes, and only when all its entries have
 * sequence <= smallest_snapshot (so the rewrite cannot leave it as dense: no repeated picks).
 * Returns a job as compaction_pick (deletion_triggered set; *trivial as there) or NULL. */
compaction_job *compaction_pick_deletions(version *v, const compaction_policy *p,
                                          uint64_t smallest_snapshot, int l0_busy, int *trivial);

/* Manual compaction: every file overlapping [begin, end] (NULL = unbounded) and, closed under
 * overlap across levels, into the last non-empty level (at least L1). NULL when nothing
 * overlaps or some file is busy (*busy set). */
compaction_job *compaction_pick_range(version *v, const void *begin, size_t bl, const void *end,
                                      size_t el, int *busy);

/* ---- the compaction filter (lsm.h) ---- */

/* Prepares a job's view: mem may be NULL; v referenced by the job for its whole run. */
void filter_view_init(lsm_filter_view *fv, memtable *mem, const version *v, table_cache *tc,
                      uint64_t snapshot);
/* Asks f about one entry (user key, value): 1 to drop. A call in which lsm_filter_get failed
 * never drops. */
int filter_says_drop(const job_filter *f, lsm_filter_view *fv, const char *ukey, size_t ukl,
                     const char *val, size_t vl);

/* ---- queued manual compactions (lsm_compact_range) ---- */

/* One request: user-key range [begin, end], has_* = 0 for unbounded; runs once st.flushes
 * reaches after_flushes. id: the newest request merged into it. */
typedef struct manual_req {
    char *begin, *end;
    size_t bl, el;
    int has_begin, has_end;
    uint64_t after_flushes;
    uint64_t id;
} manual_req;

#define MANUAL_QUEUE_MAX 64
/* FIFO of requests, owner thread. */
typedef struct manual_queue {
    manual_req *q;
    int n, cap;
} manual_queue;

/* Queues [begin, end] (NULL = unbounded): merged into a queued request whose range overlaps it
 * (and further merged while the union overlaps others), or into the newest one when
 * MANUAL_QUEUE_MAX are queued; merged requests take the larger after_flushes and id.
 * 0 or LSM_ENOMEM (the queue unchanged). */
int manual_queue_add(manual_queue *mq, const void *begin, size_t bl, const void *end, size_t el,
                     uint64_t after_flushes, uint64_t id);
/* Removes request i (keeps the order of the others). */
void manual_queue_remove(manual_queue *mq, int i);
void manual_queue_free(manual_queue *mq);
#endif
