/* wal.h - the log record format used by the WAL and the MANIFEST (doc/wal_format.md).
 *
 * 32 KiB blocks; each physical record = crc32c_masked(4) || length(2, LE) || type(1) || data,
 * crc over type||data; types FULL=1 FIRST=2 MIDDLE=3 LAST=4; a record never straddles a block;
 * a block tail of < 7 bytes is zero padding. One logical record (e.g. one write batch) may span
 * several physical fragments. On-disk: never change. */
#ifndef KEVO_WAL_H
#define KEVO_WAL_H
#include <stddef.h>
#include <stdint.h>

#define WAL_BLOCK_SIZE 32768
#define WAL_HEADER_SIZE 7

/* ---- writer: owner thread (wal_writer_sync may also run on the everysec sync thread) ---- */
typedef struct wal_writer wal_writer;

/* Creates/truncates path for appending. Returns NULL on error (errno set). */
wal_writer *wal_writer_create(const char *path);
/* Appends one logical record to the in-memory buffer (nothing is written yet). 0 or LSM_ENOMEM. */
int wal_writer_add(wal_writer *w, const void *data, size_t len);
/* Preallocation (the WAL, not the MANIFEST): before a flush would pass the zeroed end of the
 * file, zeros are written ahead in whole chunks of `chunk` bytes, so records then overwrite
 * blocks that are already allocated and inside the file size, and fdatasync writes data only
 * (no journal commit for a size or extent change: ~25 % faster per sync on ext4 here). The
 * zeros reach the disk with the next sync like any data; close truncates them away. A reader
 * takes an all-zero tail as the clean end of the log (wal_reader_next). Call before the first
 * add. If zeroing fails (disk full), the writer falls back to plain appends. */
void wal_writer_set_prealloc(wal_writer *w, uint64_t chunk);
/* Mapped flushes (with preallocation only): flush copies the buffer into a MAP_SHARED mapping
 * of the zeroed chunk instead of calling pwrite(): the bytes are in the page cache when flush
 * returns, exactly as after a write(), so a crash of the process loses nothing, and
 * wal_writer_sync's fdatasync makes them durable the same way; but a flush costs no system
 * call (one page fault per new 4 KiB page instead). For appendfsync everysec/no; with a sync
 * after every flush (always) each flush would fault its page again, so pwrite() stays better
 * there. Falls back to pwrite() if a chunk cannot be mapped. Owner thread; any time. */
void wal_writer_set_mapped(wal_writer *w, int on);
/* A mapped writer's flush of at least this many bytes is written with pwrite() all the same:
 * the first store into each page of a fresh mapping traps (~6 us per 4 KiB page in this VM,
 * ~1.5 ns per byte), where pwrite() costs ~2 us per call plus ~0.25 ns per byte, so small
 * flushes (pipeline 1: an iteration's few commands) are cheaper stored and large ones
 * (pipelined clients: tens of KiB per iteration) cheaper written. Same bytes either way. */
#ifndef WAL_MAP_MAX_FLUSH
#define WAL_MAP_MAX_FLUSH 4096u
#endif
int wal_writer_mapped(const wal_writer *w); /* 1 while flushes go through a mapping */
/* Writes the buffered bytes with one pwrite() (loops on short writes), or stores them through
 * the mapping (wal_writer_set_mapped). 0 or LSM_EIO. A failed flush fails the writer for good:
 * part of the buffer may have reached the file (a torn tail), and later adds/flushes return
 * LSM_EIO, so bytes that were never acknowledged are never written by a retry. */
int wal_writer_flush(wal_writer *w);
/* fdatasync of what has been flushed. Safe to call from another thread concurrently with
 * add/flush on the owner thread. 0 or LSM_EIO. A failed fdatasync is final: every later sync of
 * this writer fails too (after a failed fsync Linux may have dropped the dirty pages and report
 * success for the next one; the caller must rewrite the data elsewhere). */
int wal_writer_sync(wal_writer *w);
/* Bytes logically appended so far (flushed or buffered). */
uint64_t wal_writer_size(const wal_writer *w);
size_t wal_writer_buffered(const wal_writer *w);
/* Flushes, syncs if sync != 0, closes, frees. 0 or LSM_EIO (freed anyway). */
int wal_writer_close(wal_writer *w, int sync);
/* Closes and frees WITHOUT writing what is buffered (a failed log, or a MANIFEST abandoned after
 * a write error). Unless keep_bytes is UINT64_MAX, first cuts the file to keep_bytes (best
 * effort: records past it were never acknowledged). Never fails. */
void wal_writer_abandon(wal_writer *w, uint64_t keep_bytes);
/* Bytes handed to the file successfully so far. */
uint64_t wal_writer_flushed(const wal_writer *w);
int wal_writer_fd(const wal_writer *w);

/* ---- reader: any single thread ---- */
typedef struct wal_reader wal_reader;
wal_reader *wal_reader_open(const char *path); /* NULL on error (errno set) */
enum { WAL_READ_RECORD = 1, WAL_READ_EOF = 0 };
/* Reads the next logical record. Returns WAL_READ_RECORD with *rec and *len valid until the next
 * call; WAL_READ_EOF at the end, including a torn or bad-checksum TAIL (an incomplete last
 * write: wal_reader_tail_dropped() then says how many bytes were ignored; zeros from a record
 * boundary to EOF, at least a header's worth — the space a preallocating writer zeroed ahead,
 * or pages of a last write that never reached the disk — are not counted, only an unfinished
 * record before them); or LSM_ECORRUPT when
 * a bad record is followed by valid data (corruption in the middle): wal_reader_offset() gives
 * the file offset of the bad record. With skip_corrupt set (wal_reader_set_skip), mid-file
 * corruption is skipped to the next block and counted instead. */
int wal_reader_next(wal_reader *r, const char **rec, size_t *len);
uint64_t wal_reader_offset(const wal_reader *r);
uint64_t wal_reader_tail_dropped(const wal_reader *r);
void wal_reader_set_skip(wal_reader *r, int skip_corrupt);
uint64_t wal_reader_skipped_bytes(const wal_reader *r);
void wal_reader_close(wal_reader *r);
#endif
