/* check.h - read-only verification of a database directory (the engine side of kevo-check).
 *
 * lsm_check_dir walks a closed (or running) database directory and verifies everything the
 * formats let it verify, WITHOUT changing anything: files are opened O_RDONLY, nothing is
 * created, renamed or deleted, and the LOCK file is only probed (a shared flock taken and
 * released at once, never held; a directory locked by a running server is reported as a
 * warning, since its files may change under the check).
 *
 *   CURRENT    exactly "MANIFEST-<digits>\n", naming a MANIFEST that exists
 *   MANIFEST   every record's CRC and fragment sequence, every version edit decodes, deletions
 *              name files that are there, no file added twice; a torn or corrupt tail is
 *              reported (recovery would drop that edit)
 *   version    every listed table exists with the listed size; L1+ files have disjoint user-key
 *              ranges; table numbers < next file; max seq <= last sequence; the WAL named by
 *              the log number exists (otherwise writes the MANIFEST says are not in tables yet
 *              are gone)
 *   tables     footer (magic, version, CRC), handles in range, the blocks tile the file exactly
 *              (no unaccounted byte), every block's CRC / compression / restart array, index
 *              keys ascending and separating the data blocks, every data block's entries
 *              (keys strictly ascending within and across blocks, valid kinds), the bloom
 *              filter answers "may contain" for every key, the properties match the contents,
 *              and the MANIFEST's smallest / largest / sequence range / entries match the table
 *   WALs       (numbered >= the log number) every record's CRC and fragment sequence, every
 *              batch decodes, sequence numbers ascend; mid-file corruption (recovery refuses
 *              to open) and a torn tail (recovery drops it) are told apart
 *   leftovers  orphan tables (not in the version), *.tmp files, stale MANIFESTs, WALs below
 *              the log number, unknown files: warnings (lsm_open deletes the first four)
 *
 * Each finding is passed to the report callback with the file name (relative to dir), the byte
 * offset it concerns (-1: the file as a whole) and a message. Thread: any single thread; uses
 * no engine state, so it may run next to a live engine in another process. */
#ifndef KEVO_CHECK_H
#define KEVO_CHECK_H
#include <stdint.h>

enum { LSM_CHECK_INFO = 0, LSM_CHECK_WARNING = 1, LSM_CHECK_ERROR = 2 };

typedef void (*lsm_check_report_fn)(void *ctx, int severity, const char *file, int64_t offset,
                                    const char *msg);

typedef struct lsm_check_stats {
    uint64_t errors, warnings;
    uint64_t tables, data_blocks, entries;
    uint64_t manifest_edits;
    uint64_t wal_files, wal_records;
    uint64_t bytes;             /* bytes read and verified */
    int locked;                 /* LOCK held by another process (a running server) */
    int io_error;               /* some file could not be read */
    uint64_t last_seq;          /* as recovered from the MANIFEST and the WALs */
    int64_t counters[64];       /* MANIFEST counters + the deltas of the WALs' batches */
} lsm_check_stats;

/* Verifies the directory. Returns 0 when everything is intact (warnings allowed), 1 when damage
 * was found (at least one LSM_CHECK_ERROR), 2 when the directory or a file could not be read.
 * st may be NULL. report may be NULL (then only the return value and st tell). */
int lsm_check_dir(const char *dir, lsm_check_report_fn report, void *ctx, lsm_check_stats *st);
#endif
