/* sst_reader.c - reads one SSTable (format: sst_format.h, doc/sstable_format.md).
 * Open reads the footer, then the index, filter and properties blocks, verifying every CRC;
 * index and filter stay in memory for the reader's life and are charged to the block cache.
 * Data blocks are read with pread (no shared cursor: any number of threads), verified,
 * decompressed and shared through the block cache keyed by (file number, block offset). */
#include "sst_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <lz4.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block.h"
#include "block_alloc.h"
#include "bloom.h"
#include "coding.h"
#include "crc32c.h"
#include "fs.h"
#include "dbformat.h"
#include "hash.h"
#include "sst_format.h"

#define SST_READAHEAD (1024 * 1024)

/* A block in memory: cache value, or owned by a reader/iterator. One allocation. */
typedef struct sst_block {
    block blk;
    size_t size;
    char data[];
} sst_block;

/* In-memory search accelerator over the index block (not on disk): every index key shares
 * its first cp user-key bytes; pfx[i] is the next 8 user-key bytes of key i, big-endian and
 * zero-padded, so pfx is non-decreasing and a binary search over this compact array replaces
 * most of the random key fetches of a search over the block. */
typedef struct index_accel {
    uint32_t n;                 /* index entries */
    uint32_t cp;
    const char *common;         /* the shared prefix (in the index block) */
    uint64_t *pfx;
    uint64_t *hoff;             /* block handle of entry i: offset, size (a get reads these */
    uint32_t *hsize;            /* instead of the index block entry: one miss less) */
} index_accel;

struct sst_reader {
    atomic_int refs;
    int fd;
    atomic_int dfd;             /* O_DIRECT descriptor for threads that read directly
                                 * (sst_reader_set_direct_reads): DFD_UNOPENED until first used,
                                 * DFD_NONE when the file system refuses O_DIRECT */
    char *path;
    uint64_t file_number;
    uint64_t file_size;
    block_cache *cache;
    sst_block *index;
    char *filter;               /* filter contents, 64-byte aligned (a cache-local filter's
                                 * line is one cache line); NULL: no filter */
    size_t filter_len;
    int64_t pinned;             /* bytes charged to the cache */
    index_accel acc;            /* acc.pfx NULL: plain block search */
    sst_props props;
};

static int decode_handle(const char *p, size_t n, uint64_t *off, uint64_t *size);

static inline uint64_t key_window(const char *u, size_t ul, size_t cp) {
    char b[8] = {0};
    if (ul > cp) memcpy(b, u + cp, ul - cp < 8 ? ul - cp : 8);
    return decode_fixed64_be(b);
}

/* Builds r->acc when the index block has one entry per restart (as the builder writes it).
 * 0, or LSM_ENOMEM; a block of another shape just leaves the accelerator off. */
static int index_accel_build(sst_reader *r) {
    const block *b = &r->index->blk;
    index_accel *a = &r->acc;
    memset(a, 0, sizeof(*a));
    if (b->restarts == 0) { /* no entries */
        a->pfx = malloc(sizeof(uint64_t)); /* non-NULL: accelerator on, n = 0 (never read) */
        return a->pfx ? 0 : LSM_ENOMEM;
    }
    uint32_t n = b->num_restarts;
    const char *first, *last;
    size_t fl, ll;
    if (block_restart_key(b, 0, &first, &fl) || block_restart_key(b, n - 1, &last, &ll) ||
        fl < IKEY_TRAILER || ll < IKEY_TRAILER)
        return 0;
    fl -= IKEY_TRAILER;
    ll -= IKEY_TRAILER;
    size_t cp = 0, m = fl < ll ? fl : ll;
    while (cp < m && first[cp] == last[cp]) cp++;
    uint64_t *pfx = malloc((size_t)n * sizeof(uint64_t));
    uint64_t *hoff = malloc((size_t)n * sizeof(uint64_t));
    uint32_t *hsize = malloc((size_t)n * sizeof(uint32_t));
    if (!pfx || !hoff || !hsize) {
        free(pfx);
        free(hoff);
        free(hsize);
        return LSM_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        size_t kl;
        if (block_restart_key(b, i, &k, &kl) || kl < IKEY_TRAILER) goto off;
        /* exactly one entry per restart: it ends where the next restart (or the array) starts */
        uint32_t end = i + 1 < n ? decode_fixed32(b->data + b->restarts + (size_t)(i + 1) * 4)
                                 : b->restarts;
        block_iter it;
        block_iter_init(&it, b);
        block_iter_seek_to_restart(&it, i);
        int one = block_iter_valid(&it) && it.next_off == end;
        uint64_t off = 0, size = 0;
        if (one) {
            size_t hl;
            const char *hv = block_iter_value(&it, &hl);
            one = decode_handle(hv, hl, &off, &size) == 0 && size <= SST_MAX_BLOCK_SIZE;
        }
        block_iter_cleanup(&it);
        if (!one) goto off;
        pfx[i] = key_window(k, kl - IKEY_TRAILER, cp);
        hoff[i] = off;
        hsize[i] = (uint32_t)size;
    }
    a->n = n;
    a->cp = (uint32_t)cp;
    a->common = first;
    a->pfx = pfx;
    a->hoff = hoff;
    a->hsize = hsize;
    return 0;
off: /* not the builder's shape: plain block search */
    free(pfx);
    free(hoff);
    free(hsize);
    return 0;
}

/* Index of the first index entry >= ikey (n: none), or LSM_ECORRUPT. */
static long index_find(const sst_reader *r, const char *t, size_t tl) {
    const index_accel *a = &r->acc;
    const block *b = &r->index->blk;
    size_t tul = tl - IKEY_TRAILER, cp = a->cp;
    size_t m = tul < cp ? tul : cp;
    int c = m ? memcmp(t, a->common, m) : 0;
    if (c < 0 || (c == 0 && tul < cp)) return 0;
    if (c > 0) return a->n;
    uint64_t pt = key_window(t, tul, cp);
    uint32_t lo = 0, hi = a->n; /* first with pfx >= pt */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a->pfx[mid] < pt) lo = mid + 1;
        else hi = mid;
    }
    uint32_t end = lo; /* first with pfx > pt */
    hi = a->n;
    while (end < hi) {
        uint32_t mid = end + (hi - end) / 2;
        if (a->pfx[mid] <= pt) end = mid + 1;
        else hi = mid;
    }
    hi = end; /* entries in [lo, end) tie on the window: compare whole keys */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *k;
        size_t kl;
        if (block_restart_key(b, mid, &k, &kl)) return LSM_ECORRUPT;
        if (ikey_compare(k, kl, t, tl) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Positions an index iterator at the first entry >= ikey. */
static void index_seek(const sst_reader *r, block_iter *it, const char *k, size_t kl) {
    if (!r->acc.pfx) {
        block_iter_seek(it, k, kl);
        return;
    }
    long i = index_find(r, k, kl);
    if (i < 0) {
        it->status = (int)i;
        it->cur = it->restarts;
        return;
    }
    block_iter_seek_to_restart(it, (uint32_t)i);
}

static _Atomic uint64_t g_bloom_checks, g_bloom_useful;

/* Detail of the last error a reader returned on this thread (sst_reader_last_error). */
static _Thread_local char t_err[320];

static int sst_fail(uint64_t file_number, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int sst_fail(uint64_t file_number, int rc, const char *fmt, ...) {
    int n = snprintf(t_err, sizeof(t_err), "table %06llu.sst: ", (unsigned long long)file_number);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(t_err)) vsnprintf(t_err + n, sizeof(t_err) - (size_t)n, fmt, ap);
    va_end(ap);
    return rc;
}

const char *sst_reader_last_error(void) { return t_err; }

void sst_bloom_stats(uint64_t *checks, uint64_t *useful) {
    *checks = atomic_load_explicit(&g_bloom_checks, memory_order_relaxed);
    *useful = atomic_load_explicit(&g_bloom_useful, memory_order_relaxed);
}

static void sst_block_delete(void *v) { block_free(v); }

/* get_block's fill argument: 0 = read without caching, 1 = read and cache, FILL_CACHED_ONLY =
 * read only what the page cache holds (SST_WOULDBLOCK when the block is in neither). */
#define FILL_CACHED_ONLY 2
/* FILL_CACHE_STRICT: the block cache only (no read at all, not even of the page cache); a miss
 * is SST_WOULDBLOCK with the block's handle left in t_miss (sst_reader_get_cache_only). */
#define FILL_CACHE_STRICT 3
static _Thread_local struct {
    uint64_t off, size;
} t_miss;

/* ---- direct reads (reader threads) ----
 * A thread that loads blocks for the block cache (the read pool) reads them with O_DIRECT: the
 * block cache is their cache, so the OS page cache would only hold a second copy, and filling it
 * costs the copy, the page allocations and, under a memory limit (a cgroup), the reclaim of
 * other pages on every read. O_DIRECT wants offsets, lengths and buffers aligned to the device's
 * block: the aligned range around the block is read into a per-thread bounce buffer. */
#define DFD_UNOPENED (-1)
#define DFD_NONE (-2)
#define DIRECT_ALIGN 4096
static _Thread_local int t_direct;
static _Thread_local char *t_bounce;
static _Thread_local size_t t_bounce_cap;

void sst_reader_set_direct_reads(int on) { t_direct = on; }

void sst_reader_free_thread_buffers(void) {
    free(t_bounce);
    t_bounce = NULL;
    t_bounce_cap = 0;
}

/* The DIRECT_ALIGN-aligned file range [*a, *a + *span) around n bytes at off. */
static void direct_range(uint64_t off, uint64_t n, uint64_t *a, size_t *span) {
    *a = off & ~(uint64_t)(DIRECT_ALIGN - 1);
    *span = (size_t)((off + n - *a + DIRECT_ALIGN - 1) & ~(uint64_t)(DIRECT_ALIGN - 1));
}

static int direct_fd(sst_reader *r) {
    int fd = atomic_load_explicit(&r->dfd, memory_order_acquire);
    if (fd != DFD_UNOPENED) return fd;
    int nfd = open(r->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
    int want = nfd >= 0 ? nfd : DFD_NONE;
    int expected = DFD_UNOPENED;
    if (!atomic_compare_exchange_strong(&r->dfd, &expected, want)) { /* another thread won */
        if (nfd >= 0) close(nfd);
        return expected;
    }
    return want;
}

/* n bytes at off through the O_DIRECT descriptor: the bytes read (n unless at the end of the
 * file), -1 (errno) when the read fails, or -2 when direct reads are not possible here. */
static ssize_t pread_direct(sst_reader *r, char *p, size_t n, uint64_t off) {
    int fd = direct_fd(r);
    if (fd < 0) return -2;
    uint64_t a;
    size_t span;
    direct_range(off, n, &a, &span);
    if (span > t_bounce_cap) {
        free(t_bounce);
        t_bounce = NULL;
        t_bounce_cap = 0;
        if (posix_memalign((void **)&t_bounce, DIRECT_ALIGN, span)) return -2;
        t_bounce_cap = span;
    }
    size_t got = 0;
    while (got < span) {
        ssize_t k = pread(fd, t_bounce + got, span - got, (off_t)(a + got));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return errno == EINVAL && got == 0 ? -2 : -1;
        if (k == 0) break;
        got += (size_t)k;
        if (got % DIRECT_ALIGN) break; /* a short read ends at the end of the file */
    }
    size_t skip = (size_t)(off - a);
    size_t have = got > skip ? got - skip : 0;
    if (have > n) have = n;
    memcpy(p, t_bounce + skip, have);
    if (t_bounce_cap > (1u << 20)) { /* do not keep a huge block's buffer */
        free(t_bounce);
        t_bounce = NULL;
        t_bounce_cap = 0;
    }
    return (ssize_t)have;
}

static int pread_all(int fd, char *p, size_t n, uint64_t off, int nowait) {
    ssize_t r = nowait ? fs_pread_nowait(fd, p, n, off) : fs_pread(fd, p, n, off);
    if (r < 0) return nowait && errno == EAGAIN ? LSM_EAGAIN : LSM_EIO;
    if ((size_t)r < n) return LSM_ECORRUPT; /* file shorter than the handle says */
    return 0;
}

/* Verifies (checksum), decompresses and (parse=1) parses the block read at off into b (size +
 * trailer bytes; b is consumed: freed, or becomes *out). */
static int verify_decode(const sst_reader *r, uint64_t off, uint64_t size, int parse, sst_block *b,
                         sst_block **out) {
    uint32_t want = crc32c_unmask(decode_fixed32(b->data + size + 1));
    if (crc32c(b->data, (size_t)size + 1) != want) {
        block_free(b);
        return sst_fail(r->file_number, LSM_ECORRUPT, "block at offset %llu (%llu bytes): checksum mismatch",
                        (unsigned long long)off, (unsigned long long)size);
    }
    int type = (unsigned char)b->data[size];
    b->size = (size_t)size;
    if (type == SST_COMP_LZ4) {
        uint32_t raw;
        const char *p = decode_varint32(b->data, b->data + size, &raw);
        if (!p || raw > SST_MAX_BLOCK_SIZE || raw > (uint32_t)LZ4_MAX_INPUT_SIZE) {
            block_free(b);
            return sst_fail(r->file_number, LSM_ECORRUPT, "block at offset %llu: bad LZ4 length",
                            (unsigned long long)off);
        }
        sst_block *d = block_alloc(sizeof(*d) + raw);
        if (!d) { block_free(b); return LSM_ENOMEM; }
        int n = LZ4_decompress_safe(p, d->data, (int)(b->data + size - p), (int)raw);
        block_free(b);
        if (n < 0 || (uint32_t)n != raw) {
            block_free(d);
            return sst_fail(r->file_number, LSM_ECORRUPT, "block at offset %llu: bad LZ4 payload",
                            (unsigned long long)off);
        }
        d->size = raw;
        b = d;
    } else if (type != SST_COMP_NONE) {
        block_free(b);
        return sst_fail(r->file_number, LSM_ECORRUPT, "block at offset %llu: unknown compression %d",
                        (unsigned long long)off, type);
    }
    if (parse && block_parse(&b->blk, b->data, b->size)) {
        block_free(b);
        return sst_fail(r->file_number, LSM_ECORRUPT, "block at offset %llu: bad restart array",
                        (unsigned long long)off);
    }
    *out = b;
    return 0;
}

/* verify_decode of a copy of raw (size + trailer bytes read at off). */
static int finish_block(const sst_reader *r, uint64_t off, uint64_t size, int parse,
                        const char *raw, sst_block **out) {
    *out = NULL;
    sst_block *b = block_alloc(sizeof(*b) + (size_t)size + SST_BLOCK_TRAILER);
    if (!b) return LSM_ENOMEM;
    memcpy(b->data, raw, (size_t)size + SST_BLOCK_TRAILER);
    return verify_decode(r, off, size, parse, b, out);
}

/* Reads, verifies and decompresses the block at (off, size). parse=1 also parses the block
 * trailer (data/index/props blocks). nowait=1 reads only from the page cache (LSM_EAGAIN when
 * the bytes are not all there). *out is malloc'ed (free or hand to the cache). */
static int read_block_ex(const sst_reader *r, uint64_t off, uint64_t size, int parse, int nowait,
                         sst_block **out) {
    *out = NULL;
    if (size > SST_MAX_BLOCK_SIZE || off > r->file_size ||
        size + SST_BLOCK_TRAILER > r->file_size - off)
        return sst_fail(r->file_number, LSM_ECORRUPT,
                        "block handle at offset %llu (size %llu) outside the file (%llu bytes)",
                        (unsigned long long)off, (unsigned long long)size,
                        (unsigned long long)r->file_size);
    sst_block *b = block_alloc(sizeof(*b) + (size_t)size + SST_BLOCK_TRAILER);
    if (!b) return LSM_ENOMEM;
    int rc;
    ssize_t d = t_direct && !nowait ? pread_direct((sst_reader *)r, b->data, (size_t)size + SST_BLOCK_TRAILER, off) : -2;
    if (d == -2) {
        rc = pread_all(r->fd, b->data, (size_t)size + SST_BLOCK_TRAILER, off, nowait);
    } else {
        rc = d < 0 ? LSM_EIO : (size_t)d < (size_t)size + SST_BLOCK_TRAILER ? LSM_ECORRUPT : 0;
    }
    if (rc == LSM_EAGAIN) {
        block_free(b);
        return rc;
    }
    if (rc) {
        block_free(b);
        return sst_fail(r->file_number, rc, "block at offset %llu: %s", (unsigned long long)off,
                        rc == LSM_EIO ? strerror(errno) : "file shorter than the block");
    }
    return verify_decode(r, off, size, parse, b, out);
}

static int read_block(const sst_reader *r, uint64_t off, uint64_t size, int parse,
                      sst_block **out) {
    return read_block_ex(r, off, size, parse, 0, out);
}

/* Whether a page-cache read (RWF_NOWAIT) is worth trying for a block the block cache lacks. A
 * miss is not free: the kernel starts the read itself, on the calling thread (the owner: the
 * device kick and any memory reclaim land on the event loop), and the reader thread then waits
 * for it anyway. So the owner tracks how often such reads succeed (a moving average, per
 * thread) and, while they mostly fail (the data set is on disk), tries only one in 4 (one in 16
 * while fewer than 1 in 16 succeed, as with O_DIRECT reads, which leave nothing in the page
 * cache) to notice soon when the working set is back in memory. */
static _Thread_local unsigned t_nowait_ratio = 256; /* success ratio x 256 (optimistic start) */
static _Thread_local unsigned t_nowait_skipped;

static int nowait_worth_trying(void) {
    if (t_nowait_ratio >= 64) return 1; /* >= 1 in 4 succeed */
    /* (a try is two system calls: cachestat, then the read) */
    return (++t_nowait_skipped & (t_nowait_ratio >= 16 ? 3 : 15)) == 0;
}

static void nowait_note(int hit) {
    t_nowait_ratio = (t_nowait_ratio * 15 + (hit ? 256 : 0)) / 16;
}

/* Inserts the parsed data block b read at off into r's cache: the pinned handle, or NULL when
 * the cache could not take it (b stays the caller's). The entry's tag is the parsed trailer
 * (restart array offset, count): a later get builds the block view from the cache entry alone
 * and loads the restart array without first waiting for the block's header. */
static uint64_t cache_tag(const sst_block *b) {
    return (uint64_t)b->blk.restarts | (uint64_t)b->blk.num_restarts << 32;
}
static size_t cache_charge(const sst_block *b) {
    return block_alloc_footprint(b) + BLOCK_CACHE_ENTRY_BYTES;
}

static cache_handle *cache_insert(sst_reader *r, uint64_t off, sst_block *b) {
    return block_cache_insert_tagged(r->cache, r->file_number, off, b, cache_charge(b),
                                     sst_block_delete, cache_tag(b));
}

void sst_cache_warm_block(block_cache *cache, uint64_t file_number, uint64_t off, const char *raw,
                          size_t n) {
    if (!cache || n > SST_MAX_BLOCK_SIZE) return;
    size_t want = sizeof(sst_block) + n;
    if (!block_cache_has_room(cache, file_number, off, want + BLOCK_CACHE_ENTRY_BYTES)) return;
    sst_block *b = block_alloc(want);
    if (!b) return;
    memcpy(b->data, raw, n);
    b->size = n;
    if (block_parse(&b->blk, b->data, b->size)) {
        block_free(b);
        return;
    }
    if (!block_cache_insert_warm(cache, file_number, off, b, cache_charge(b), sst_block_delete,
                                 cache_tag(b)))
        block_free(b);
}

/* Fetches a data block: from the cache (pinned handle in *h), or read (inserted into the
 * cache when fill, else owned by the caller: *h NULL). */
static int get_block(sst_reader *r, uint64_t off, uint64_t size, int fill, sst_block **out,
                     cache_handle **h) {
    *h = NULL;
    if (r->cache) {
        cache_handle *ch = block_cache_lookup(r->cache, r->file_number, off);
        if (ch) {
            *h = ch;
            *out = block_cache_value(ch);
            return 0;
        }
    }
    sst_block *b;
    if (fill == FILL_CACHE_STRICT) {
        t_miss.off = off;
        t_miss.size = size;
        return SST_WOULDBLOCK;
    }
    /* cached only: the page cache may still have it (read without waiting), else the caller
     * has it read elsewhere (the block named in t_miss) */
    if (fill == FILL_CACHED_ONLY) {
        t_miss.off = off;
        t_miss.size = size;
        if (!nowait_worth_trying()) return SST_WOULDBLOCK;
    }
    int rc = read_block_ex(r, off, size, 1, fill == FILL_CACHED_ONLY, &b);
    if (fill == FILL_CACHED_ONLY) nowait_note(rc != LSM_EAGAIN);
    if (rc == LSM_EAGAIN) return SST_WOULDBLOCK;
    if (rc) return rc;
    if (fill == FILL_CACHED_ONLY) fill = 1;
    if (r->cache && fill) *h = cache_insert(r, off, b);
    *out = b;
    return 0;
}

static void put_block(sst_reader *r, sst_block *b, cache_handle *h) {
    if (h) block_cache_release(r->cache, h);
    else block_free(b);
}

static int decode_handle(const char *p, size_t n, uint64_t *off, uint64_t *size) {
    const char *lim = p + n;
    p = decode_varint64(p, lim, off);
    if (!p) return LSM_ECORRUPT;
    p = decode_varint64(p, lim, size);
    return p ? 0 : LSM_ECORRUPT;
}

static int parse_props(sst_reader *r, const sst_block *pb) {
    block_iter it;
    block_iter_init(&it, &pb->blk);
    sst_props *p = &r->props;
    for (block_iter_seek_first(&it); block_iter_valid(&it); block_iter_next(&it)) {
        size_t kl, vl;
        const char *k = block_iter_key(&it, &kl);
        const char *v = block_iter_value(&it, &vl);
        char **sp = NULL;
        size_t *slen = NULL;
        uint64_t *dst = NULL;
#define PROP_IS(name) (kl == sizeof(name) - 1 && memcmp(k, name, kl) == 0)
        if (PROP_IS(SST_PROP_DATA_BLOCKS)) dst = &p->num_data_blocks;
        else if (PROP_IS(SST_PROP_DELETIONS)) dst = &p->num_deletions;
        else if (PROP_IS(SST_PROP_ENTRIES)) dst = &p->num_entries;
        else if (PROP_IS(SST_PROP_MAX_SEQ)) dst = &p->max_seq;
        else if (PROP_IS(SST_PROP_MIN_SEQ)) dst = &p->min_seq;
        else if (PROP_IS(SST_PROP_OLDEST_EXPIRE)) dst = &p->oldest_expire;
        else if (PROP_IS(SST_PROP_RAW_KEY)) dst = &p->raw_key_bytes;
        else if (PROP_IS(SST_PROP_RAW_VALUE)) dst = &p->raw_value_bytes;
        else if (PROP_IS(SST_PROP_SMALLEST)) { sp = &p->smallest; slen = &p->smallest_len; }
        else if (PROP_IS(SST_PROP_LARGEST)) { sp = &p->largest; slen = &p->largest_len; }
#undef PROP_IS
        if (dst) {
            if (!decode_varint64(v, v + vl, dst)) goto corrupt;
        } else if (sp && vl) {
            if (vl < IKEY_TRAILER) goto corrupt;
            free(*sp);
            *sp = malloc(vl);
            if (!*sp) { block_iter_cleanup(&it); return LSM_ENOMEM; }
            memcpy(*sp, v, vl);
            *slen = vl;
        }
    }
    if (it.status) goto corrupt;
    block_iter_cleanup(&it);
    p->file_size = r->file_size;
    return 0;
corrupt:
    block_iter_cleanup(&it);
    return LSM_ECORRUPT;
}

static void reader_free(sst_reader *r) {
    if (r->cache && r->pinned) block_cache_charge_pinned(r->cache, -r->pinned);
    if (r->fd >= 0) fs_close(r->fd);
    int dfd = atomic_load(&r->dfd);
    if (dfd >= 0) close(dfd);
    free(r->path);
    free(r->acc.pfx);
    free(r->acc.hoff);
    free(r->acc.hsize);
    block_free(r->index);
    free(r->filter);
    sst_props_free(&r->props);
    free(r);
}

int sst_reader_open(const char *path, uint64_t file_number, block_cache *cache, sst_reader **out) {
    *out = NULL;
    sst_reader *r = calloc(1, sizeof(*r));
    if (!r) return LSM_ENOMEM;
    atomic_init(&r->refs, 1);
    atomic_init(&r->dfd, DFD_UNOPENED);
    r->file_number = file_number;
    r->cache = cache;
    r->path = strdup(path);
    if (!r->path) {
        free(r);
        return LSM_ENOMEM;
    }
    r->fd = fs_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (r->fd < 0) {
        int e = errno;
        free(r->path);
        free(r);
        return sst_fail(file_number, LSM_EIO, "open %.200s: %s", path, strerror(e));
    }
    int rc;
    if (fs_file_size(r->fd, &r->file_size)) { rc = LSM_EIO; goto fail; }
    /* gets are random: no kernel readahead (sequential readers ask for it explicitly) */
    (void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_RANDOM);
    if (r->file_size < SST_FOOTER_SIZE) {
        rc = sst_fail(file_number, LSM_ECORRUPT, "offset 0: %llu bytes, shorter than a footer",
                      (unsigned long long)r->file_size);
        goto fail;
    }
    char f[SST_FOOTER_SIZE];
    if ((rc = pread_all(r->fd, f, sizeof(f), r->file_size - SST_FOOTER_SIZE, 0))) {
        rc = sst_fail(file_number, rc, "footer at offset %llu: cannot read",
                      (unsigned long long)(r->file_size - SST_FOOTER_SIZE));
        goto fail;
    }
    if (decode_fixed64(f + 56) != SST_MAGIC ||
        crc32c_unmask(decode_fixed32(f + 52)) != crc32c(f, 52) ||
        decode_fixed32(f + 48) != SST_FORMAT_VERSION) {
        rc = sst_fail(file_number, LSM_ECORRUPT, "footer at offset %llu: bad %s",
                      (unsigned long long)(r->file_size - SST_FOOTER_SIZE),
                      decode_fixed64(f + 56) != SST_MAGIC ? "magic number" : "checksum or version");
        goto fail;
    }
    uint64_t data_end = r->file_size - SST_FOOTER_SIZE;
    uint64_t ho[3], hs[3];
    for (int i = 0; i < 3; i++) {
        ho[i] = decode_fixed64(f + i * 16);
        hs[i] = decode_fixed64(f + i * 16 + 8);
        if (ho[i] > data_end || hs[i] + SST_BLOCK_TRAILER > data_end - ho[i]) {
            if (i == 1 && ho[i] == 0 && hs[i] == 0) continue; /* no filter */
            rc = sst_fail(file_number, LSM_ECORRUPT, "footer at offset %llu: handle %d outside the file",
                          (unsigned long long)data_end, i);
            goto fail;
        }
    }
    if ((rc = read_block(r, ho[0], hs[0], 1, &r->index))) goto fail;
    if (!(ho[1] == 0 && hs[1] == 0)) {
        sst_block *fb;
        if ((rc = read_block(r, ho[1], hs[1], 0, &fb))) goto fail;
        size_t alloc = (fb->size + 63) & ~(size_t)63;
        r->filter = alloc ? aligned_alloc(64, alloc) : NULL;
        if (alloc && !r->filter) { block_free(fb); rc = LSM_ENOMEM; goto fail; }
        if (fb->size) memcpy(r->filter, fb->data, fb->size);
        r->filter_len = fb->size;
        block_free(fb);
    }
    sst_block *pb;
    if ((rc = read_block(r, ho[2], hs[2], 1, &pb))) goto fail;
    rc = parse_props(r, pb);
    block_free(pb);
    if (rc) {
        if (rc == LSM_ECORRUPT)
            sst_fail(file_number, rc, "properties block at offset %llu: bad entry",
                     (unsigned long long)ho[2]);
        goto fail;
    }
    if ((rc = index_accel_build(r))) goto fail;
    if (cache) {
        r->pinned = (int64_t)block_alloc_footprint(r->index) +
                    (r->acc.pfx ? (int64_t)r->acc.n * (int64_t)(sizeof(*r->acc.pfx) +
                                                                 sizeof(*r->acc.hoff) +
                                                                 sizeof(*r->acc.hsize)) : 0) +
                    (r->filter ? (int64_t)((r->filter_len + 63) & ~(size_t)63) : 0);
        block_cache_charge_pinned(cache, r->pinned);
    }
    *out = r;
    return 0;
fail:
    reader_free(r);
    return rc;
}

void sst_reader_ref(sst_reader *r) { atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed); }

void sst_reader_unref(sst_reader *r) {
    if (!r) return;
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) reader_free(r);
}

const sst_props *sst_reader_props(const sst_reader *r) { return &r->props; }
uint64_t sst_reader_file_number(const sst_reader *r) { return r->file_number; }

static int buf_set(lsm_buf *b, const char *p, size_t n) {
    if (n > b->cap) {
        size_t c = b->cap ? b->cap : 64;
        while (c < n) c *= 2;
        char *q = realloc(b->data, c);
        if (!q) return LSM_ENOMEM;
        b->data = q;
        b->cap = c;
    }
    if (n) memcpy(b->data, p, n);
    b->len = n;
    return 0;
}

int sst_reader_get(sst_reader *r, const void *ukey, size_t ukl, uint64_t snapshot, lsm_buf *val) {
    return sst_reader_get_hashed(r, ukey, ukl, key_hash64(ukey, ukl), snapshot, val);
}

void sst_reader_prefetch_filter(const sst_reader *r, uint64_t h64) {
    if (r->filter) bloom_prefetch(r->filter, r->filter_len, h64);
}

static int lookup(sst_reader *r, const void *ukey, size_t ukl, uint64_t h64, uint64_t snapshot,
                  lsm_buf *val, int fill);

int sst_reader_get_hashed(sst_reader *r, const void *ukey, size_t ukl, uint64_t h64,
                          uint64_t snapshot, lsm_buf *val) {
    return lookup(r, ukey, ukl, h64, snapshot, val, 1);
}

int sst_reader_get_cached(sst_reader *r, const void *ukey, size_t ukl, uint64_t h64,
                          uint64_t snapshot, lsm_buf *val, uint64_t *miss_off,
                          uint64_t *miss_size) {
    t_miss.off = t_miss.size = UINT64_MAX;
    int rc = lookup(r, ukey, ukl, h64, snapshot, val, r->cache ? FILL_CACHED_ONLY : 1);
    *miss_off = rc == SST_WOULDBLOCK ? t_miss.off : UINT64_MAX;
    *miss_size = rc == SST_WOULDBLOCK ? t_miss.size : UINT64_MAX;
    return rc;
}

int sst_reader_get_cache_only(sst_reader *r, const void *ukey, size_t ukl, uint64_t h64,
                              uint64_t snapshot, lsm_buf *val, uint64_t *miss_off,
                              uint64_t *miss_size) {
    if (!r->cache) return SST_WOULDBLOCK; /* nothing to fill: no handle to give */
    t_miss.off = t_miss.size = UINT64_MAX;
    int rc = lookup(r, ukey, ukl, h64, snapshot, val, FILL_CACHE_STRICT);
    *miss_off = t_miss.off;
    *miss_size = t_miss.size;
    return rc;
}

int sst_reader_read_plan(sst_reader *r, uint64_t off, uint64_t size, int direct, int *fd,
                         uint64_t *aoff, size_t *alen, size_t *skip) {
    if (size > SST_MAX_BLOCK_SIZE || off > r->file_size ||
        size + SST_BLOCK_TRAILER > r->file_size - off)
        return LSM_ECORRUPT;
    uint64_t n = size + SST_BLOCK_TRAILER;
    int dfd = direct ? direct_fd(r) : DFD_NONE;
    if (dfd >= 0) {
        *fd = dfd;
        direct_range(off, n, aoff, alen);
        *skip = (size_t)(off - *aoff);
        return 1;
    }
    *fd = r->fd;
    *aoff = off;
    *alen = (size_t)n;
    *skip = 0;
    return 0;
}

int sst_reader_cache_block(sst_reader *r, uint64_t off, uint64_t size, const char *raw) {
    if (!r->cache) return 0;
    cache_handle *ch = block_cache_lookup(r->cache, r->file_number, off);
    if (ch) { /* loaded meanwhile (another lookup, an iterator) */
        block_cache_release(r->cache, ch);
        return 0;
    }
    sst_block *b;
    int rc = finish_block(r, off, size, 1, raw, &b);
    if (rc) return rc;
    ch = cache_insert(r, off, b);
    if (ch) block_cache_release(r->cache, ch);
    else block_free(b); /* the cache could not take it: nothing is lost but the read */
    return 0;
}

/* Whether the internal key k is an entry of user key ukey. */
static int is_entry_of(const char *k, size_t kl, const void *ukey, size_t ukl) {
    return ikey_user_len(kl) == ukl && (ukl == 0 || memcmp(k, ukey, ukl) == 0);
}

/* The answer of data block b (read at off; h: its pinned cache handle, or NULL) to the lookup
 * key lk of user key ukey, through it (any block iterator, reset here): SST_FOUND (the value
 * copied into *val unless val is NULL), SST_DELETED, SST_NOTFOUND (the block has no entry of ukey at or below the
 * lookup key's sequence: nor has the table, when the index named this block) or a negative
 * code. */
static int block_answer(sst_reader *r, const sst_block *b, cache_handle *h, uint64_t off,
                        block_iter *it, const char *lk, size_t lkl, const void *ukey, size_t ukl,
                        lsm_buf *val) {
    int rc;
    block view;
    uint64_t tag = h ? block_cache_tag(h) : 0;
    if (!tag) {
        view = b->blk;
    } else { /* the view from the cache entry's tag: no wait for the block's header line */
        view.data = b->data;
        view.restarts = (uint32_t)tag;
        view.num_restarts = (uint32_t)(tag >> 32);
        view.size = view.restarts + 4 + (size_t)view.num_restarts * 4;
        cpu_prefetch(view.data + view.restarts);
        cpu_prefetch(view.data + view.size - 4);
    }
    block_iter_reset(it, &view);
    block_iter_seek(it, lk, lkl);
    if (block_iter_valid(it)) {
        /* the entry is the newest version <= snapshot of its user key (seek order) */
        size_t kl;
        const char *k = block_iter_key(it, &kl);
        if (is_entry_of(k, kl, ukey, ukl)) {
            int kind = ikey_kind(k, kl);
            if (kind == KIND_VALUE) {
                rc = 0;
                if (val) {
                    size_t vl;
                    const char *v = block_iter_value(it, &vl);
                    rc = buf_set(val, v, vl);
                }
                if (!rc) rc = SST_FOUND;
            } else if (kind == KIND_DELETE) {
                rc = SST_DELETED;
            } else {
                rc = sst_fail(r->file_number, LSM_ECORRUPT,
                              "data block at offset %llu: entry of unknown kind %d",
                              (unsigned long long)off, kind);
            }
        } else {
            rc = SST_NOTFOUND;
        }
    } else {
        rc = it->status ? sst_fail(r->file_number, it->status,
                                   "data block at offset %llu: an entry does not decode",
                                   (unsigned long long)off)
                        : SST_NOTFOUND;
    }
    return rc;
}

int sst_reader_block_get(sst_reader *r, uint64_t off, const void *ukey, size_t ukl,
                         uint64_t snapshot, lsm_buf *val) {
    if (!r->cache) return SST_WOULDBLOCK;
    cache_handle *h = block_cache_lookup(r->cache, r->file_number, off);
    if (!h) return SST_WOULDBLOCK;
    char kbuf[256];
    char *lk = ukl + IKEY_TRAILER <= sizeof(kbuf) ? kbuf : malloc(ukl + IKEY_TRAILER);
    int rc = LSM_ENOMEM;
    if (lk) {
        size_t lkl = ikey_lookup(lk, ukey, ukl, snapshot > MAX_SEQUENCE ? MAX_SEQUENCE : snapshot);
        const sst_block *b = block_cache_value(h);
        block_iter it;
        block_iter_init(&it, &b->blk);
        rc = block_answer(r, b, h, off, &it, lk, lkl, ukey, ukl, val);
        block_iter_cleanup(&it);
        if (lk != kbuf) free(lk);
    }
    block_cache_release(r->cache, h);
    return rc;
}

int sst_reader_block_holds(sst_reader *r, uint64_t off, const void *ukey, size_t ukl) {
    int rc = sst_reader_block_get(r, off, ukey, ukl, MAX_SEQUENCE, NULL);
    return rc == SST_FOUND || rc == SST_DELETED ? 1 : rc == SST_NOTFOUND ? 0 : -1;
}

int sst_reader_seek_blocks(sst_reader *r, const void *ukey, size_t ukl, int nblocks, int cached_only) {
    char kbuf[256];
    char *lk = ukl + IKEY_TRAILER <= sizeof(kbuf) ? kbuf : malloc(ukl + IKEY_TRAILER);
    if (!lk) return LSM_ENOMEM;
    size_t lkl = ikey_lookup(lk, ukey, ukl, MAX_SEQUENCE);
    int fill = cached_only && r->cache ? FILL_CACHED_ONLY : 1;
    int rc = 0;
    block_iter it;
    block_iter_init(&it, &r->index->blk);
    long i = 0;
    if (r->acc.pfx) {
        i = index_find(r, lk, lkl);
        if (i < 0) rc = sst_fail(r->file_number, (int)i, "index block: bad entry");
    } else {
        block_iter_seek(&it, lk, lkl);
    }
    for (int n = 0; rc == 0 && n < nblocks; n++) {
        uint64_t off, size;
        if (r->acc.pfx) {
            if ((uint32_t)(i + n) >= r->acc.n) break;
            off = r->acc.hoff[i + n];
            size = r->acc.hsize[i + n];
        } else {
            if (n) block_iter_next(&it);
            if (!block_iter_valid(&it)) {
                rc = it.status;
                break;
            }
            size_t hl;
            const char *hv = block_iter_value(&it, &hl);
            if (decode_handle(hv, hl, &off, &size)) {
                rc = sst_fail(r->file_number, LSM_ECORRUPT, "index block: bad block handle");
                break;
            }
        }
        sst_block *b;
        cache_handle *h;
        if ((rc = get_block(r, off, size, fill, &b, &h))) break;
        put_block(r, b, h);
    }
    block_iter_cleanup(&it);
    if (lk != kbuf) free(lk);
    return rc;
}

/* The lookup of sst_reader_get_hashed; fill as get_block's. */
static int lookup(sst_reader *r, const void *ukey, size_t ukl, uint64_t h64, uint64_t snapshot,
                  lsm_buf *val, int fill) {
    if (r->filter) {
        atomic_fetch_add_explicit(&g_bloom_checks, 1, memory_order_relaxed);
        if (!bloom_may_contain_hashed(r->filter, r->filter_len, ukey, ukl, h64)) {
            atomic_fetch_add_explicit(&g_bloom_useful, 1, memory_order_relaxed);
            return SST_NOTFOUND;
        }
    }
    char kbuf[256];
    char *lk = ukl + IKEY_TRAILER <= sizeof(kbuf) ? kbuf : malloc(ukl + IKEY_TRAILER);
    if (!lk) return LSM_ENOMEM;
    size_t lkl = ikey_lookup(lk, ukey, ukl, snapshot > MAX_SEQUENCE ? MAX_SEQUENCE : snapshot);
    int rc = SST_NOTFOUND;
    block_iter it;
    block_iter_init(&it, &r->index->blk);
    uint64_t off, size;
    if (r->acc.pfx) { /* the handle straight from the accelerator: no index block access */
        long i = index_find(r, lk, lkl);
        if (i < 0) { rc = sst_fail(r->file_number, (int)i, "index block: bad entry"); goto out; }
        if ((uint32_t)i >= r->acc.n) goto out;
        off = r->acc.hoff[i];
        size = r->acc.hsize[i];
    } else {
        block_iter_seek(&it, lk, lkl);
        if (!block_iter_valid(&it)) {
            rc = it.status ? it.status : SST_NOTFOUND;
            goto out;
        }
        size_t hl;
        const char *hv = block_iter_value(&it, &hl);
        if (decode_handle(hv, hl, &off, &size)) {
            rc = sst_fail(r->file_number, LSM_ECORRUPT, "index block: bad block handle");
            goto out;
        }
    }
    sst_block *b;
    cache_handle *h;
    if ((rc = get_block(r, off, size, fill, &b, &h))) goto out;
    rc = block_answer(r, b, h, off, &it, lk, lkl, ukey, ukl, val);
    put_block(r, b, h);
out:
    block_iter_cleanup(&it);
    if (lk != kbuf) free(lk);
    return rc;
}

/* ---------------------------------------------------------------- two-level iterator */

typedef struct sst_iter {
    internal_iter base;
    sst_reader *r;
    int fill_cache;
    int status;
    sst_block *blk;             /* current data block (NULL: none) */
    cache_handle *h;            /* its cache handle, or NULL when owned */
    uint64_t blk_off;
    uint64_t ra_end;            /* fill_cache=0 (compaction): readahead requested up to here */
    block_iter idx;
    block_iter data;
} sst_iter;

static void it_drop_block(sst_iter *it) {
    if (it->blk) put_block(it->r, it->blk, it->h);
    it->blk = NULL;
    it->h = NULL;
    block_iter_reset(&it->data, NULL);
}

static void it_set_error(sst_iter *it, int rc) {
    it->status = rc;
    it_drop_block(it);
}

/* Loads the data block the index iterator points at. 0 on success. */
static int it_load_block(sst_iter *it) {
    size_t hl;
    const char *hv = block_iter_value(&it->idx, &hl);
    uint64_t off, size;
    if (decode_handle(hv, hl, &off, &size)) {
        it_set_error(it, sst_fail(it->r->file_number, LSM_ECORRUPT, "index block: bad block handle"));
        return -1;
    }
    if (it->blk && it->blk_off == off) { /* same block: keep it */
        block_iter_reset(&it->data, &it->blk->blk);
        return 0;
    }
    it_drop_block(it);
    if (!it->fill_cache && off + size > it->ra_end) { /* sequential scan: read ahead */
        (void)posix_fadvise(it->r->fd, (off_t)off, SST_READAHEAD, POSIX_FADV_WILLNEED);
        it->ra_end = off + SST_READAHEAD;
    }
    sst_block *b;
    cache_handle *h;
    int rc = get_block(it->r, off, size, it->fill_cache, &b, &h);
    if (rc) { it_set_error(it, rc); return -1; }
    it->blk = b;
    it->h = h;
    it->blk_off = off;
    block_iter_reset(&it->data, &b->blk);
    return 0;
}

/* While the data iterator is exhausted, moves to the next data block. */
static void it_skip_forward(sst_iter *it) {
    while (!block_iter_valid(&it->data)) {
        if (it->data.status) {
            it_set_error(it, sst_fail(it->r->file_number, it->data.status,
                                      "data block at offset %llu: an entry does not decode",
                                      (unsigned long long)it->blk_off));
            return;
        }
        if (!it->blk) return;
        block_iter_next(&it->idx);
        if (!block_iter_valid(&it->idx)) {
            if (it->idx.status) it_set_error(it, it->idx.status);
            else it_drop_block(it);
            return;
        }
        if (it_load_block(it)) return;
        block_iter_seek_first(&it->data);
    }
}

/* While the data iterator is exhausted going backward, moves to the previous data block. */
static void it_skip_backward(sst_iter *it) {
    while (!block_iter_valid(&it->data)) {
        if (it->data.status) {
            it_set_error(it, sst_fail(it->r->file_number, it->data.status,
                                      "data block at offset %llu: an entry does not decode",
                                      (unsigned long long)it->blk_off));
            return;
        }
        if (!it->blk) return;
        block_iter_prev(&it->idx);
        if (!block_iter_valid(&it->idx)) {
            if (it->idx.status) it_set_error(it, it->idx.status);
            else it_drop_block(it);
            return;
        }
        if (it_load_block(it)) return;
        block_iter_seek_last(&it->data);
    }
}

static int it_valid(internal_iter *b) {
    sst_iter *it = (sst_iter *)b;
    return it->status == 0 && it->blk && block_iter_valid(&it->data);
}

static void it_seek_first(internal_iter *b) {
    sst_iter *it = (sst_iter *)b;
    if (it->status) return;
    block_iter_seek_first(&it->idx);
    if (!block_iter_valid(&it->idx)) {
        if (it->idx.status) it_set_error(it, it->idx.status);
        else it_drop_block(it);
        return;
    }
    if (it_load_block(it)) return;
    block_iter_seek_first(&it->data);
    it_skip_forward(it);
}

static void it_seek(internal_iter *b, const char *k, size_t kl) {
    sst_iter *it = (sst_iter *)b;
    if (it->status) return;
    index_seek(it->r, &it->idx, k, kl);
    if (!block_iter_valid(&it->idx)) {
        if (it->idx.status) it_set_error(it, it->idx.status);
        else it_drop_block(it);
        return;
    }
    if (it_load_block(it)) return;
    block_iter_seek(&it->data, k, kl);
    it_skip_forward(it);
}

static void it_next(internal_iter *b) {
    sst_iter *it = (sst_iter *)b;
    if (!it_valid(b)) return;
    block_iter_next(&it->data);
    it_skip_forward(it);
}

static void it_seek_last(internal_iter *b) {
    sst_iter *it = (sst_iter *)b;
    if (it->status) return;
    block_iter_seek_last(&it->idx);
    if (!block_iter_valid(&it->idx)) {
        if (it->idx.status) it_set_error(it, it->idx.status);
        else it_drop_block(it);
        return;
    }
    if (it_load_block(it)) return;
    block_iter_seek_last(&it->data);
    it_skip_backward(it);
}

static void it_seek_for_prev(internal_iter *b, const char *k, size_t kl) {
    iter_seek_for_prev_by_seek(b, k, kl);
}

static void it_prev(internal_iter *b) {
    sst_iter *it = (sst_iter *)b;
    if (!it_valid(b)) return;
    block_iter_prev(&it->data);
    it_skip_backward(it);
}

static const char *it_key(internal_iter *b, size_t *kl) {
    return block_iter_key(&((sst_iter *)b)->data, kl);
}

static const char *it_value(internal_iter *b, size_t *vl) {
    return block_iter_value(&((sst_iter *)b)->data, vl);
}

static int it_status(internal_iter *b) { return ((sst_iter *)b)->status; }

static void it_destroy(internal_iter *b) {
    sst_iter *it = (sst_iter *)b;
    it_drop_block(it);
    block_iter_cleanup(&it->idx);
    block_iter_cleanup(&it->data);
    sst_reader_unref(it->r);
    free(it);
}

static const internal_iter_ops sst_iter_ops = {
    .valid = it_valid,
    .seek_first = it_seek_first,
    .seek = it_seek,
    .next = it_next,
    .seek_last = it_seek_last,
    .seek_for_prev = it_seek_for_prev,
    .prev = it_prev,
    .key = it_key,
    .value = it_value,
    .status = it_status,
    .destroy = it_destroy,
};

internal_iter *sst_reader_iter_new(sst_reader *r, int fill_cache) {
    sst_iter *it = calloc(1, sizeof(*it));
    if (!it) return NULL;
    it->base.ops = &sst_iter_ops;
    it->r = r;
    it->fill_cache = fill_cache;
    sst_reader_ref(r);
    block_iter_init(&it->idx, &r->index->blk);
    block_iter_init(&it->data, NULL);
    return &it->base;
}
