/* version.h - file metadata, versions (the set of live SSTables per level), version edits, and
 * the version set that persists edits in the MANIFEST (doc/manifest_format.md) and names the
 * live MANIFEST in CURRENT.
 *
 * Threads: a version_set and every edit applied to it belong to the owner thread. A version is
 * immutable once built: any thread holding a reference may read it (workers read the version
 * their job references). Reference counts are C11 atomics, but the LAST unref of a version (which
 * may delete obsolete files) must happen on the owner thread: workers never drop version refs,
 * the owner does when it installs their results.
 */
#ifndef KEVO_VERSION_H
#define KEVO_VERSION_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "lsm.h"

/* One SSTable. Shared by every version that contains it (refcounted). smallest/largest are
 * internal keys owned by the struct. */
typedef struct file_meta {
    _Atomic int refs;
    uint64_t number;
    uint64_t size;
    char *smallest; size_t smallest_len;
    char *largest; size_t largest_len;
    uint64_t min_seq, max_seq;
    uint64_t num_entries;
    uint64_t num_deletions;     /* DELETE entries, when deletions_known (MANIFEST tag 7; tables
                                   recorded without it count as unknown) */
    int deletions_known;
    int being_compacted;        /* owner thread only */
} file_meta;

/* Allocates a meta with copies of the keys, refs = 0. NULL on ENOMEM. */
file_meta *file_meta_new(uint64_t number, uint64_t size, const char *smallest, size_t sl,
                         const char *largest, size_t ll, uint64_t min_seq, uint64_t max_seq);
/* Frees a meta that no version ever referenced (e.g. a failed job's output). */
void file_meta_free(file_meta *f);

struct version_set;

/* Files per level. L0 is ordered newest first (by sequence ranges, max_seq descending);
 * levels >= 1 hold files with disjoint key ranges sorted by smallest key. */
typedef struct version {
    _Atomic int refs;
    struct version_set *vs;
    int num_levels;
    int nfiles[LSM_MAX_LEVELS];
    file_meta **files[LSM_MAX_LEVELS];
    uint64_t level_bytes[LSM_MAX_LEVELS];
    struct version *prev, *next;    /* list of live versions in the set (owner thread) */
} version;

void version_ref(version *v);
/* Owner thread. Frees the version at 0 refs; files no longer referenced by any version are
 * deleted from disk (unless the set is closing). */
void version_unref(version *v);

/* Index of the first file in level (>= 1) whose largest key >= the user key; nfiles if none. */
int version_find_file(const version *v, int level, const void *ukey, size_t ukl);
/* 1 if any file in levels > level overlaps the user key (compaction's tombstone rule). */
int version_key_may_exist_below(const version *v, int level, const void *ukey, size_t ukl);
/* Collects into *out (malloc'ed, caller frees) the files in level overlapping the user key range
 * [begin, end] (NULL = unbounded). For level 0 the range is widened until closed under overlap.
 * Returns the count, or -1 on ENOMEM. */
int version_overlapping(const version *v, int level, const void *begin, size_t bl,
                        const void *end, size_t el, file_meta ***out);

/* ---- edits ---- */
typedef struct edit_file {
    int level;
    file_meta *f;       /* added: the meta (the edit holds no ref; the new version takes one) */
    uint64_t number;    /* the file number */
} edit_file;

typedef struct version_edit {
    int has_log_number, has_next_file, has_last_seq, has_counters;
    uint64_t log_number, next_file, last_seq;
    int64_t counters[LSM_MAX_COUNTERS];
    edit_file *added; int nadded, cap_added;
    edit_file *deleted; int ndeleted, cap_deleted;
} version_edit;

void edit_init(version_edit *e);
void edit_free(version_edit *e);       /* frees the arrays, never the metas */
void edit_free_added(version_edit *e); /* frees added metas no version references (refs 0) */
int edit_add_file(version_edit *e, int level, file_meta *f);
int edit_delete_file(version_edit *e, int level, uint64_t number);
/* Serializes into a malloc'ed buffer. 0 or LSM_ENOMEM. */
int edit_encode(const version_edit *e, char **out, size_t *len);
/* Parses a record (added metas are allocated). 0 or LSM_ECORRUPT / LSM_ENOMEM. */
int edit_decode(version_edit *e, const char *data, size_t len);

/* ---- the version set ---- */
typedef struct version_set {
    char *dir;
    int num_levels;
    version *current;
    version live;                  /* list head of live versions */
    _Atomic uint64_t next_file;    /* workers allocate file numbers with fetch_add */
    uint64_t last_seq;             /* as recorded in the MANIFEST */
    uint64_t log_number;           /* WALs < log_number are in SSTables */
    int64_t counters[LSM_MAX_COUNTERS]; /* counters as of log_number */
    uint64_t manifest_number;
    void *manifest;                /* wal_writer of the live MANIFEST, or NULL */
    int manifest_failed;           /* a MANIFEST write failed: that MANIFEST is abandoned, the
                                      next edit first writes a fresh snapshot MANIFEST */
    uint64_t *deferred;            /* tables of failed installs (and stale MANIFESTs, as
                                      VSET_MANIFEST_TAG + number) deleted once a fresh MANIFEST
                                      is durable: a failed edit may still be on disk until then */
    int ndeferred, cap_deferred;
    int closing;                   /* set at close: files of dropped versions are kept */
    /* called (owner thread) for each SSTable that becomes obsolete, before it is unlinked */
    void (*on_delete)(void *ctx, uint64_t number);
    void *on_delete_ctx;
    /* when set, an obsolete SSTable's path is handed to it instead of being unlinked by the
     * thread that dropped the last reference; it returns 0 when it took the path (it unlinks
     * it later), else the file is unlinked at once */
    int (*unlink_fn)(void *ctx, const char *path);
    void *unlink_ctx;
    uint64_t deleted_files;
    char errmsg[512];
} version_set;

version_set *vset_new(const char *dir, int num_levels);
/* Closes the MANIFEST, drops the current version (without deleting files), frees the set. */
void vset_free(version_set *vs);
uint64_t vset_new_file_number(version_set *vs); /* any thread */
/* Reads CURRENT and replays its MANIFEST. Returns 0 (*found = 1), 0 with *found = 0 when there
 * is no CURRENT (a new database), or LSM_ECORRUPT / LSM_EIO with vs->errmsg set. A torn tail
 * of the MANIFEST is tolerated (the edit was never acknowledged). */
int vset_recover(version_set *vs, int *found);
/* Starts a new MANIFEST holding a snapshot of the current state, then points CURRENT at it
 * (temp file + rename + directory fsync) and removes the previous MANIFEST. */
int vset_write_snapshot(version_set *vs);
/* Applies e to the current version: appends e to the MANIFEST and fsyncs it, then installs the
 * new version. The edit's log number / last seq / counters, if set, update the set. On success
 * the added metas belong to the new version. Owner thread.
 * On a write error (LSM_EIO) the current version is unchanged and the MANIFEST is abandoned:
 * nothing it buffered is written later, and the next call first starts a fresh MANIFEST from a
 * snapshot of the current version (as at open). The failed edit may have reached the disk, so
 * the caller must not delete files it added: vset_defer_delete them. */
int vset_log_and_apply(version_set *vs, version_edit *e);
/* Builds base + e without logging (recovery and tests). NULL on ENOMEM. */
version *version_apply(version_set *vs, const version *base, const version_edit *e);

/* Deletes table number once a MANIFEST written after now is durable (a failed edit that added
 * it can then no longer be recovered). Owner thread. */
void vset_defer_delete(version_set *vs, uint64_t table_number);
#define VSET_MANIFEST_TAG (1ull << 62)
/* File numbers (tables, WALs, MANIFESTs) are below this; a decoded edit naming one at or above
 * it is corrupt (a number there would also overflow next_file). On-disk: never change. */
#define VSET_MAX_FILE_NUMBER VSET_MANIFEST_TAG

/* Byte target of level (>= 1). */
uint64_t vset_level_target(uint64_t level1_max, int multiplier, int level);

/* fsync of a directory through the file layer: 0 or LSM_EIO. */
int fsync_dir(const char *dir);
#endif
