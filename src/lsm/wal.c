/* wal.c - log records for the WAL and the MANIFEST (format: wal.h, doc/wal_format.md).
 *
 * Physical record (on-disk: never change):
 *   +---------+-----------+---------+----------------+
 *   | crc (4) | length(2) | type(1) | data (length)  |
 *   +---------+-----------+---------+----------------+
 *   crc = crc32c_mask(crc32c(type || data)), little-endian; length little-endian.
 * The file is a sequence of 32 KiB blocks. A physical record never straddles a block; when
 * fewer than 7 bytes remain in a block they are zero padding and the next record starts at the
 * next block. A logical record is either one FULL fragment or FIRST, MIDDLE*, LAST.
 *
 * Writer: appends fragments to an in-memory buffer; flush writes the buffer with one pwrite()
 * at the end of the log (after zeroing ahead, for a preallocating writer), or stores it through
 * a shared mapping of the zeroed chunk (wal_writer_set_mapped).
 * Reader: maps the whole file (or reads it) and walks it; see wal_reader_next for recovery rules. */
#include "wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coding.h"
#include "crc32c.h"
#include "fs.h"
#include "lsm.h"

enum { WAL_ZERO = 0, WAL_FULL = 1, WAL_FIRST = 2, WAL_MIDDLE = 3, WAL_LAST = 4 }; /* on-disk */
#define WAL_MAX_TYPE WAL_LAST
#define WAL_BUF_KEEP (4u << 20) /* a larger buffer is freed once empty */

/* ======================================== writer ======================================== */

struct wal_writer {
    int fd;                       /* fixed for the writer's life: read by the sync thread */
    char *buf;                    /* owner thread only */
    size_t len, cap;              /* owner thread only */
    uint32_t block_off;           /* offset inside the current block of the next byte */
    uint32_t type_crc[WAL_MAX_TYPE + 1];
    atomic_uint_fast64_t size;    /* bytes logically appended (flushed + buffered) */
    atomic_uint_fast64_t flushed; /* bytes handed to write() successfully */
    atomic_uint_fast64_t synced;  /* bytes known durable */
    uint64_t prealloc_chunk;      /* owner thread: 0 = plain appends */
    uint64_t zeroed_end;          /* owner thread: file offset up to which zeros were written */
    int use_map;                  /* owner thread: flush stores into a shared mapping */
    char *map;                    /* owner thread: MAP_SHARED view of one chunk, or NULL */
    uint64_t map_off;             /* file offset of map[0] */
    int failed;                   /* owner thread: a flush failed; the writer only closes now */
    _Atomic int sync_failed;      /* an fdatasync failed: never trusted again (fs.h) */
};

/* Zeros written ahead of the log by wal_writer_set_prealloc; never modified. */
static const char wal_zeros[64 * 1024];

wal_writer *wal_writer_create(const char *path) {
    wal_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        errno = ENOMEM;
        return NULL;
    }
    /* read access too: a shared writable mapping needs it (wal_writer_set_mapped) */
    w->fd = fs_open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int e = errno;
        free(w);
        errno = e;
        return NULL;
    }
    for (int t = 0; t <= WAL_MAX_TYPE; t++) {
        char c = (char)t;
        w->type_crc[t] = crc32c(&c, 1);
    }
    atomic_init(&w->size, 0);
    atomic_init(&w->flushed, 0);
    atomic_init(&w->synced, 0);
    atomic_init(&w->sync_failed, 0);
    return w;
}

static int wal_reserve(wal_writer *w, size_t extra) {
    if (extra <= w->cap - w->len) return 0;
    size_t need = w->len + extra;
    if (need < w->len) return LSM_ENOMEM;
    size_t cap = w->cap ? w->cap : 64 * 1024;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *nb = realloc(w->buf, cap);
    if (!nb) return LSM_ENOMEM;
    w->buf = nb;
    w->cap = cap;
    return 0;
}

int wal_writer_add(wal_writer *w, const void *data, size_t len) {
    if (w->failed) return LSM_EIO;
    const char *p = data;
    /* Upper bound of the bytes this record adds: data, one header per fragment (at most one
     * fragment per block touched, plus a possible empty FIRST), up to 6 bytes of padding. */
    size_t frags = len / (WAL_BLOCK_SIZE - WAL_HEADER_SIZE) + 2;
    if (len > SIZE_MAX - frags * WAL_HEADER_SIZE - 8) return LSM_ENOMEM;
    size_t bound = len + frags * WAL_HEADER_SIZE + WAL_HEADER_SIZE - 1;
    if (wal_reserve(w, bound) != 0) return LSM_ENOMEM;

    size_t start = w->len;
    size_t left = len;
    int begin = 1;
    do {
        uint32_t leftover = WAL_BLOCK_SIZE - w->block_off;
        if (leftover < WAL_HEADER_SIZE) {
            memset(w->buf + w->len, 0, leftover); /* trailer: zero padding */
            w->len += leftover;
            w->block_off = 0;
        }
        size_t avail = WAL_BLOCK_SIZE - w->block_off - WAL_HEADER_SIZE;
        size_t frag = left < avail ? left : avail;
        int end = (frag == left);
        int type = begin ? (end ? WAL_FULL : WAL_FIRST) : (end ? WAL_LAST : WAL_MIDDLE);
        char *h = w->buf + w->len;
        uint32_t crc = crc32c_extend(w->type_crc[type], p, frag);
        encode_fixed32(h, crc32c_mask(crc));
        h[4] = (char)(frag & 0xff);
        h[5] = (char)(frag >> 8);
        h[6] = (char)type;
        if (frag) memcpy(h + WAL_HEADER_SIZE, p, frag);
        w->len += WAL_HEADER_SIZE + frag;
        w->block_off += (uint32_t)(WAL_HEADER_SIZE + frag);
        if (w->block_off == WAL_BLOCK_SIZE) w->block_off = 0;
        p += frag;
        left -= frag;
        begin = 0;
    } while (left > 0);

    uint64_t sz = atomic_load_explicit(&w->size, memory_order_relaxed);
    atomic_store_explicit(&w->size, sz + (w->len - start), memory_order_relaxed);
    return 0;
}

void wal_writer_set_prealloc(wal_writer *w, uint64_t chunk) {
    w->prealloc_chunk = chunk;
    w->zeroed_end = atomic_load_explicit(&w->flushed, memory_order_relaxed);
}

/* Writes zeros from zeroed_end until at least `need`, a whole number of chunks. LSM_EIO
 * (nothing is lost: the data write that follows simply extends the file as an append). */
static int wal_zero_ahead(wal_writer *w, uint64_t need) {
    uint64_t end = w->zeroed_end + w->prealloc_chunk;
    while (end < need) end += w->prealloc_chunk;
    while (w->zeroed_end < end) {
        uint64_t n = end - w->zeroed_end;
        if (n > sizeof wal_zeros) n = sizeof wal_zeros;
        size_t k = 0;
        int rc = fs_pwrite_all(w->fd, wal_zeros, (size_t)n, w->zeroed_end, &k);
        w->zeroed_end += k;
        if (rc) return LSM_EIO;
    }
    return 0;
}

void wal_writer_set_mapped(wal_writer *w, int on) { w->use_map = on != 0; }
int wal_writer_mapped(const wal_writer *w) { return w->use_map && w->map != NULL; }

static void wal_unmap(wal_writer *w) {
    if (w->map) munmap(w->map, (size_t)w->prealloc_chunk);
    w->map = NULL;
}

/* Stores buf[0, len) at file offset `at` through a shared mapping of the zeroed chunk(s) it
 * falls in. The stores land in the page cache itself, as a write() would put them. 0, or -1
 * if a chunk cannot be mapped (nothing half-done matters: the caller pwrites the same bytes). */
static int wal_store_mapped(wal_writer *w, uint64_t at, const char *buf, size_t len) {
    size_t off = 0;
    while (off < len) {
        uint64_t pos = at + off;
        if (!w->map || pos < w->map_off || pos >= w->map_off + w->prealloc_chunk) {
            wal_unmap(w);
            uint64_t start = pos - pos % w->prealloc_chunk;
            void *m = fs_map_shared(w->fd, (size_t)w->prealloc_chunk, start);
            if (!m) return -1;
            w->map = m;
            w->map_off = start;
        }
        size_t room = (size_t)(w->map_off + w->prealloc_chunk - pos);
        size_t n = len - off < room ? len - off : room;
        fs_map_store(w->fd, w->map + (pos - w->map_off), pos, buf + off, n);
        off += n;
    }
    return 0;
}

int wal_writer_flush(wal_writer *w) {
    if (w->failed) return LSM_EIO;
    size_t used = w->len, off = 0;
    int rc = 0;
    uint64_t at = atomic_load_explicit(&w->flushed, memory_order_relaxed);
    /* a failed zero-ahead (disk full, say) leaves plain appends: same bytes, slower syncs */
    if (w->prealloc_chunk && at + w->len > w->zeroed_end && wal_zero_ahead(w, at + w->len) != 0) {
        wal_unmap(w);
        w->prealloc_chunk = 0;
    }
    /* mapped: the chunks are zeroed, allocated and inside the file, so no store can fault
     * past EOF or need new blocks */
    if (w->prealloc_chunk && w->use_map && w->len > 0 && w->len < WAL_MAP_MAX_FLUSH) {
        if (wal_store_mapped(w, at, w->buf, w->len) == 0) off = w->len;
        else w->use_map = 0; /* pwrite below writes the same bytes */
    }
    if (off < w->len) {
        size_t done = 0;
        if (fs_pwrite_all(w->fd, w->buf + off, w->len - off, at + off, &done) != 0) {
            /* Part of the buffer may be in the file: the log now ends in a torn record. The
             * writer is failed for good (adds and flushes return LSM_EIO; close discards the
             * rest), so nothing unacknowledged is written later by a retry (lsm.c starts a new
             * log instead). */
            w->failed = 1;
            rc = LSM_EIO;
        }
        off += done;
    }
    if (off) {
        if (off < w->len) memmove(w->buf, w->buf + off, w->len - off);
        w->len -= off;
        /* A big buffer that this flush used less than a quarter of was grown by an unusual
         * record: give it back (a steadily busy loop keeps its buffer). */
        if (w->len == 0 && w->cap > WAL_BUF_KEEP && used < w->cap / 4) {
            free(w->buf);
            w->buf = NULL;
            w->cap = 0;
        }
        uint64_t f = atomic_load_explicit(&w->flushed, memory_order_relaxed);
        atomic_store_explicit(&w->flushed, f + off, memory_order_release);
    }
    return rc;
}

int wal_writer_sync(wal_writer *w) {
    uint64_t target = atomic_load_explicit(&w->flushed, memory_order_acquire);
    /* After a failed fdatasync the kernel may have dropped the dirty pages and a retry would
     * report success (the fsync lesson from PostgreSQL): a failed sync is final. */
    if (atomic_load_explicit(&w->sync_failed, memory_order_acquire)) return LSM_EIO;
    if (fs_fdatasync(w->fd) != 0) {
        atomic_store_explicit(&w->sync_failed, 1, memory_order_release);
        return LSM_EIO;
    }
    /* Monotonic max: two syncers (owner + everysec thread) may race here. */
    uint64_t cur = atomic_load_explicit(&w->synced, memory_order_relaxed);
    while (cur < target &&
           !atomic_compare_exchange_weak_explicit(&w->synced, &cur, target, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
    return 0;
}

uint64_t wal_writer_size(const wal_writer *w) {
    return atomic_load_explicit(&((wal_writer *)w)->size, memory_order_relaxed);
}

size_t wal_writer_buffered(const wal_writer *w) { return w->len; }

int wal_writer_fd(const wal_writer *w) { return w->fd; }

/* Bytes known durable (synced). Any thread. */
uint64_t wal_writer_synced(const wal_writer *w);
uint64_t wal_writer_synced(const wal_writer *w) {
    return atomic_load_explicit(&((wal_writer *)w)->synced, memory_order_relaxed);
}

static void writer_free(wal_writer *w) {
    free(w->buf);
    free(w);
}

int wal_writer_close(wal_writer *w, int sync) {
    if (!w) return 0;
    int rc = wal_writer_flush(w);
    wal_unmap(w);
    /* drop the zeros ahead: a closed log ends at its last record */
    uint64_t end = atomic_load_explicit(&w->flushed, memory_order_relaxed);
    if (rc == 0 && w->zeroed_end > end && fs_ftruncate(w->fd, end) != 0) rc = LSM_EIO;
    if (rc == 0 && sync) rc = wal_writer_sync(w);
    if (fs_close(w->fd) != 0 && rc == 0 && errno != EINTR) rc = LSM_EIO;
    writer_free(w);
    return rc;
}

void wal_writer_abandon(wal_writer *w, uint64_t keep_bytes) {
    if (!w) return;
    wal_unmap(w);
    if (keep_bytes != UINT64_MAX) (void)fs_ftruncate(w->fd, keep_bytes);
    (void)fs_close(w->fd);
    writer_free(w);
}

uint64_t wal_writer_flushed(const wal_writer *w) {
    return atomic_load_explicit(&((wal_writer *)w)->flushed, memory_order_relaxed);
}

/* ======================================== reader ======================================== */

struct wal_reader {
    const char *base;  /* the whole file */
    uint64_t size;
    int mapped;        /* base is an mmap (else malloc'ed) */
    uint64_t pos;      /* next byte to parse */
    char *scratch;     /* reassembled multi-fragment record */
    size_t slen, scap;
    int skip;
    int status;        /* sticky LSM_ECORRUPT */
    uint64_t rec_off;  /* offset of the last returned record, or of the bad record */
    uint64_t tail_dropped;
    uint64_t skipped;
    uint64_t valid_hint; /* offset of a valid record found by valid_after (0: none known) */
};

wal_reader *wal_reader_open(const char *path) {
    int fd = fs_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return NULL;
    uint64_t fsize;
    if (fs_file_size(fd, &fsize) != 0) {
        int e = errno;
        fs_close(fd);
        errno = e;
        return NULL;
    }
    wal_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        fs_close(fd);
        errno = ENOMEM;
        return NULL;
    }
    r->size = fsize;
    if (r->size > 0) {
        void *p = fs_map_read(fd, (size_t)r->size);
        if (p) {
            (void)madvise(p, (size_t)r->size, MADV_SEQUENTIAL);
            r->base = p;
            r->mapped = 1;
        } else {
            /* Fall back to reading the file (e.g. a filesystem without mmap). */
            char *b = malloc((size_t)r->size);
            size_t got = 0;
            if (b) {
                ssize_t n = fs_pread(fd, b, (size_t)r->size, 0);
                got = n > 0 ? (size_t)n : 0;
            }
            if (!b || got < r->size) {
                int e = b ? (errno ? errno : EIO) : ENOMEM;
                free(b);
                free(r);
                fs_close(fd);
                errno = e;
                return NULL;
            }
            r->base = b;
        }
    }
    fs_close(fd);
    return r;
}

void wal_reader_set_skip(wal_reader *r, int skip_corrupt) { r->skip = skip_corrupt != 0; }
uint64_t wal_reader_offset(const wal_reader *r) { return r->rec_off; }
uint64_t wal_reader_tail_dropped(const wal_reader *r) { return r->tail_dropped; }
uint64_t wal_reader_skipped_bytes(const wal_reader *r) { return r->skipped; }

void wal_reader_close(wal_reader *r) {
    if (!r) return;
    if (r->mapped)
        munmap((void *)r->base, (size_t)r->size);
    else
        free((void *)r->base);
    free(r->scratch);
    free(r);
}

enum { PHYS_OK = 0, PHYS_EOF = 1, PHYS_BAD = 2 };

/* Checks a physical record at off without consuming it. PHYS_OK fills type/data/len. */
static int phys_check(const wal_reader *r, uint64_t off, int *type, const char **data,
                      size_t *len) {
    uint64_t block_left = WAL_BLOCK_SIZE - off % WAL_BLOCK_SIZE;
    if (block_left < WAL_HEADER_SIZE || r->size - off < WAL_HEADER_SIZE) return PHYS_BAD;
    const char *h = r->base + off;
    size_t n = (size_t)(unsigned char)h[4] | ((size_t)(unsigned char)h[5] << 8);
    int t = (unsigned char)h[6];
    if (t < WAL_FULL || t > WAL_MAX_TYPE) return PHYS_BAD;
    if (WAL_HEADER_SIZE + n > block_left) return PHYS_BAD;
    if (WAL_HEADER_SIZE + n > r->size - off) return PHYS_BAD;
    uint32_t want = crc32c_unmask(decode_fixed32(h));
    if (crc32c(h + 6, 1 + n) != want) return PHYS_BAD;
    *type = t;
    *data = h + WAL_HEADER_SIZE;
    *len = n;
    return PHYS_OK;
}

/* Is there any valid physical record after the bad one at off? Every byte position after it is
 * a candidate (not only block starts): a bit flip in a length field loses the record boundaries
 * of the rest of its block, and the records behind it must still count as "valid data after".
 * A false match needs a valid type, a fitting length and a 32-bit CRC match, so a torn tail is
 * not mistaken for corruption in practice. The scan stops at the first valid record; its offset
 * is remembered so later bad records before it (skip mode) do not rescan. */
static int valid_after(wal_reader *r, uint64_t off) {
    if (r->valid_hint > off) return 1;
    int t;
    const char *d;
    size_t n;
    for (uint64_t p = off + 1; p < r->size && r->size - p >= WAL_HEADER_SIZE; p++) {
        uint64_t block_left = WAL_BLOCK_SIZE - p % WAL_BLOCK_SIZE;
        if (block_left < WAL_HEADER_SIZE) {
            p += block_left - 1; /* trailer: go to the next block start */
            continue;
        }
        unsigned char type = (unsigned char)r->base[p + 6];
        if (type < WAL_FULL || type > WAL_MAX_TYPE) continue; /* cheap reject first */
        if (phys_check(r, p, &t, &d, &n) == PHYS_OK) {
            r->valid_hint = p;
            return 1;
        }
    }
    return 0;
}

/* Are all bytes from off to the end of the file zero? */
static int zeros_to_eof(const wal_reader *r, uint64_t off) {
    const char *p = r->base + off, *end = r->base + r->size;
    for (; p < end && ((uintptr_t)p & 7); p++)
        if (*p) return 0;
    for (; end - p >= 8; p += 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v) return 0;
    }
    for (; p < end; p++)
        if (*p) return 0;
    return 1;
}

/* Reads the next physical record, skipping block trailers. PHYS_BAD leaves r->pos at the bad
 * record (*off says where). */
static int phys_next(wal_reader *r, int *type, const char **data, size_t *len, uint64_t *off) {
    for (;;) {
        if (r->pos >= r->size) return PHYS_EOF;
        uint64_t block_left = WAL_BLOCK_SIZE - r->pos % WAL_BLOCK_SIZE;
        if (block_left < WAL_HEADER_SIZE) { /* trailer padding */
            r->pos = r->pos + block_left < r->size ? r->pos + block_left : r->size;
            continue;
        }
        *off = r->pos;
        int rc = phys_check(r, r->pos, type, data, len);
        if (rc == PHYS_OK) r->pos += WAL_HEADER_SIZE + *len;
        return rc;
    }
}

static int scratch_append(wal_reader *r, const char *p, size_t n) {
    if (n > r->scap - r->slen) {
        size_t cap = r->scap ? r->scap : 64 * 1024;
        while (cap < r->slen + n) cap *= 2;
        char *nb = realloc(r->scratch, cap);
        if (!nb) return LSM_ENOMEM;
        r->scratch = nb;
        r->scap = cap;
    }
    if (n) memcpy(r->scratch + r->slen, p, n);
    r->slen += n;
    return 0;
}

/* Recovery rules:
 *  - EOF (possibly inside a trailer) ends reading; an unfinished FIRST..MIDDLE chain at EOF is a
 *    torn tail: dropped quietly (tail_dropped counts from its FIRST to EOF).
 *  - A bad physical record (bad type, length beyond block or file, bad CRC, truncated header)
 *    with NO valid record anywhere after it is a torn tail: EOF, tail_dropped = bytes from the
 *    bad record (or from the FIRST of the unfinished record it belongs to) to EOF.
 *  - A bad physical record followed by a valid one is corruption: LSM_ECORRUPT, offset = the bad
 *    physical record's offset. In skip mode the rest of its block is skipped instead.
 *  - A fragment out of sequence (FULL/FIRST while a record is open, MIDDLE/LAST with none open)
 *    is corruption: LSM_ECORRUPT at the open record's FIRST (or the orphan fragment). In skip
 *    mode the incomplete record / the orphan is dropped and counted. */
int wal_reader_next(wal_reader *r, const char **rec, size_t *len) {
    if (r->status < 0) return r->status;
    int in_frag = 0;
    uint64_t rec_start = 0;
    r->slen = 0;
    for (;;) {
        int type;
        const char *data;
        size_t n;
        uint64_t off = r->pos;
        int rc = phys_next(r, &type, &data, &n, &off);
        if (rc == PHYS_EOF) {
            if (in_frag) r->tail_dropped = r->size - rec_start;
            return WAL_READ_EOF;
        }
        if (rc == PHYS_BAD) {
            /* space a preallocating writer zeroed ahead (a real header is never 7 zeros) */
            if (r->size - off >= WAL_HEADER_SIZE && zeros_to_eof(r, off)) {
                r->tail_dropped = in_frag ? off - rec_start : 0;
                r->pos = r->size;
                return WAL_READ_EOF;
            }
            if (!valid_after(r, off)) {
                r->tail_dropped = r->size - (in_frag ? rec_start : off);
                r->pos = r->size;
                return WAL_READ_EOF;
            }
            if (!r->skip) {
                r->rec_off = off;
                r->status = LSM_ECORRUPT;
                return LSM_ECORRUPT;
            }
            uint64_t next_block = off - off % WAL_BLOCK_SIZE + WAL_BLOCK_SIZE;
            if (next_block > r->size) next_block = r->size;
            r->skipped += (next_block - off) + (in_frag ? off - rec_start : 0);
            in_frag = 0;
            r->slen = 0;
            r->pos = next_block;
            continue;
        }
        switch (type) {
        case WAL_FULL:
        case WAL_FIRST:
            if (in_frag) {
                if (!r->skip) {
                    r->rec_off = rec_start;
                    r->status = LSM_ECORRUPT;
                    return LSM_ECORRUPT;
                }
                r->skipped += off - rec_start;
                r->slen = 0;
                in_frag = 0;
            }
            if (type == WAL_FULL) {
                r->rec_off = off;
                *rec = data;
                *len = n;
                return WAL_READ_RECORD;
            }
            rec_start = off;
            in_frag = 1;
            if (scratch_append(r, data, n) != 0) return r->status = LSM_ENOMEM;
            break;
        default: /* MIDDLE, LAST */
            if (!in_frag) {
                if (!r->skip) {
                    r->rec_off = off;
                    r->status = LSM_ECORRUPT;
                    return LSM_ECORRUPT;
                }
                r->skipped += WAL_HEADER_SIZE + n;
                break;
            }
            if (scratch_append(r, data, n) != 0) return r->status = LSM_ENOMEM;
            if (type == WAL_LAST) {
                r->rec_off = rec_start;
                *rec = r->scratch ? r->scratch : data; /* empty reassembly: any valid pointer */
                *len = r->slen;
                return WAL_READ_RECORD;
            }
            break;
        }
    }
}
