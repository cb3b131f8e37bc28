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
#include <stdint.h>
#include "lsm.h"
#include "memtable.h"
#include "sst_builder.h"
#include "table_cache.h"
#include "version.h"
#include "worker.h"

enum { JOB_FLUSH = 1, JOB_COMPACT = 2 };

typedef struct flush_job {
    bg_job base;
    /* input (owner fills) */
    memtable *mem;           /* referenced; the owner unrefs after install */
    uint64_t file_number;
    uint64_t smallest_snapshot; /* older versions shadowed at or below it are dropped */
    const char *dir;
    sst_options sopts;
    void (*log_fn)(void *ctx, int level, const char *msg);
    void *log_ctx;
    /* output */
    file_meta *out;          /* NULL if the memtable was empty */
    uint64_t bytes_written;
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
    version_set *vs;                     /* only vset_new_file_number (atomic) is used */
    const char *dir;
    sst_options sopts;
    uint64_t target_file_size;
    lsm_expire_fn expire_fn;
    void *expire_ctx;
    uint64_t now_ms;
    int manual;
    /* output */
    file_meta **outs;
    int nouts, cap_outs;
    uint64_t bytes_read, bytes_written, tombstones_dropped, expired_dropped;
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

/* Manual compaction: every file overlapping [begin, end] (NULL = unbounded) and, closed under
 * overlap across levels, into the last non-empty level (at least L1). NULL when nothing
 * overlaps or some file is busy (*busy set). */
compaction_job *compaction_pick_range(version *v, const void *begin, size_t bl, const void *end,
                                      size_t el, int *busy);
#endif
