/* fuzz_wal.c - libFuzzer target for the log reader (src/lsm/wal.c reader: WAL and MANIFEST
 * framing) and the write-batch payload decoder that WAL replay runs on each record
 * (src/lsm/batch.c batch_set_data/batch_iterate).
 *
 * Input: mode(1) || rest. mode bit 0: skip mode (wal_reader_set_skip); bits 1-2 the layout:
 *   0 raw:      the rest is the log file as is;
 *   1 fixcrc:   as raw, but the CRC of every header found by walking the file as the reader
 *               does is recomputed first, so mutations reach the fragment logic behind the
 *               checksum;
 *   2 framed:   the rest is a list of records (u16 length || payload, a short payload padded
 *               with a pattern) written with the real wal_writer;
 *   3 framed with a preallocating, mapped writer (zeros ahead of the log).
 * mode bit 3 (raw layouts): the bytes start k (next input byte) bytes before the end of the
 * first 32 KiB block, behind one valid padding record, to reach the block trailer cases.
 *
 * Invariants: records lie in memory we can read (ASan), a returned length <= file size; once
 * EOF or LSM_ECORRUPT is returned it is returned again (sticky); skip mode never returns
 * LSM_ECORRUPT; tail_dropped and skipped_bytes <= file size. Framed layouts: reading gives back
 * exactly the records written, then EOF, nothing dropped or skipped (also while the writer still
 * has zeros ahead); then the file is cut at a point taken from the input (a torn write): the
 * reader must give a prefix of the records and then EOF - never corruption, unless a payload
 * forges a valid physical record after the cut point (the documented limit of telling a torn
 * tail from mid-log damage, wal.c valid_after; fuzz/corpus/wal/torn-tail-forged-record is such
 * an input: a value holding bytes that form a valid record makes its own torn write look like
 * mid-log corruption). FUZZ_WAL_DEBUG=1 prints where each cut fell and what the reader said. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "coding.h"
#include "crc32c.h"
#include "fuzz_util.h"
#include "lsm.h"
#include "wal.h"

#define MAX_RECORDS 64

static uint64_t g_bad_off; /* read_all: wal_reader_offset() when it ended on LSM_ECORRUPT */

static int count_op(void *ctx, uint64_t seq, int kind, const char *key, size_t klen,
                    const char *val, size_t vlen) {
    (void)seq; (void)kind;
    uint64_t *h = ctx;
    *h = fuzz_hash(*h, key, klen);
    if (val) *h = fuzz_hash(*h, val, vlen);
    return 0;
}
static void count_counter(void *ctx, int idx, int64_t delta) {
    (void)ctx; (void)idx; (void)delta;
}

/* What recovery does with a WAL record: decode it as a write batch and walk its ops. */
static void replay_batch(const char *rec, size_t len) {
    lsm_batch *b = lsm_batch_new();
    FUZZ_CHECK(b != NULL);
    if (batch_set_data(b, rec, len) == 0) {
        uint64_t h = FUZZ_HASH_INIT;
        int rc = batch_iterate(b, count_op, count_counter, &h);
        FUZZ_CHECK(rc == 0 || rc == LSM_ECORRUPT);
    }
    lsm_batch_free(b);
}

/* Reads the whole log; calls want(i, rec, len) per record if given. Returns the final status
 * (WAL_READ_EOF or a negative code) and the record count in *nrec. */
static int read_all(const char *path, int skip, uint64_t fsize, size_t *nrec,
                    void (*want)(void *ctx, size_t i, const char *rec, size_t len), void *ctx) {
    wal_reader *r = wal_reader_open(path);
    FUZZ_CHECK(r != NULL);
    wal_reader_set_skip(r, skip);
    size_t n = 0;
    int rc;
    const char *rec;
    size_t len;
    while ((rc = wal_reader_next(r, &rec, &len)) == WAL_READ_RECORD) {
        FUZZ_CHECK(len <= fsize);
        FUZZ_CHECK(wal_reader_offset(r) < fsize);
        FUZZ_CHECK(len == 0 || rec != NULL);
        fuzz_touch(rec, len);
        if (want) want(ctx, n, rec, len);
        else replay_batch(rec, len);
        n++;
        FUZZ_CHECK(n <= fsize / WAL_HEADER_SIZE + 1);
    }
    FUZZ_CHECK(rc == WAL_READ_EOF || rc == LSM_ECORRUPT || rc == LSM_ENOMEM);
    if (skip) FUZZ_CHECK(rc != LSM_ECORRUPT);
    if (rc == LSM_ECORRUPT) {
        g_bad_off = wal_reader_offset(r);
        FUZZ_CHECK(g_bad_off < fsize);
    }
    FUZZ_CHECK(wal_reader_next(r, &rec, &len) == rc); /* sticky end */
    FUZZ_CHECK(wal_reader_tail_dropped(r) <= fsize);
    FUZZ_CHECK(wal_reader_skipped_bytes(r) <= fsize);
    wal_reader_close(r);
    *nrec = n;
    return rc;
}

/* Recomputes the CRC of each header found walking the file as the reader does; after a header
 * that cannot be a record, continues at the next block. */
static void fix_crcs(uint8_t *f, size_t n) {
    size_t pos = 0;
    while (pos + WAL_HEADER_SIZE <= n) {
        size_t left = WAL_BLOCK_SIZE - pos % WAL_BLOCK_SIZE;
        if (left < WAL_HEADER_SIZE) { pos += left; continue; }
        size_t len = (size_t)f[pos + 4] | (size_t)f[pos + 5] << 8;
        int type = f[pos + 6];
        if (type < 1 || type > 4 || WAL_HEADER_SIZE + len > left || pos + WAL_HEADER_SIZE + len > n) {
            pos += left; /* next block */
            continue;
        }
        encode_fixed32((char *)f + pos, crc32c_mask(crc32c(f + pos + 6, 1 + len)));
        pos += WAL_HEADER_SIZE + len;
    }
}

static void raw_layout(const uint8_t *data, size_t size, int mode) {
    fuzz_src s = {data, size};
    size_t pad = 0;
    if (mode & 8) pad = WAL_BLOCK_SIZE - fuzz_u8(&s);
    size_t n = pad + s.n;
    uint8_t *f = calloc(1, n ? n : 1);
    FUZZ_CHECK(f != NULL);
    if (pad >= WAL_HEADER_SIZE) { /* one FULL record of zeros filling [0, pad) */
        size_t len = pad - WAL_HEADER_SIZE;
        f[4] = (uint8_t)len;
        f[5] = (uint8_t)(len >> 8);
        f[6] = 1;
        encode_fixed32((char *)f, crc32c_mask(crc32c(f + 6, 1 + len)));
    }
    if (s.n) memcpy(f + pad, s.p, s.n);
    if (((mode >> 1) & 3) == 1) fix_crcs(f, n);
    char path[512];
    fuzz_write_file("wal.log", f, n, path, sizeof(path));
    size_t nrec;
    read_all(path, mode & 1, n, &nrec, NULL, NULL);
    free(f);
}

typedef struct framed {
    uint8_t *rec[MAX_RECORDS];
    size_t len[MAX_RECORDS];
    size_t n;
    uint64_t off[MAX_RECORDS + 1]; /* physical start of each logical record, end of log */
} framed;

static void expect_record(void *ctx, size_t i, const char *rec, size_t len) {
    framed *fr = ctx;
    FUZZ_CHECK(i < fr->n);
    FUZZ_CHECK(len == fr->len[i]);
    FUZZ_CHECK(len == 0 || memcmp(rec, fr->rec[i], len) == 0);
}

/* Does f[from..n) hold a valid physical record (at an offset the writer did not put one)? */
static int forged_record(const uint8_t *f, size_t n, uint64_t from) {
    for (size_t p = from; p + WAL_HEADER_SIZE <= n; p++) {
        size_t left = WAL_BLOCK_SIZE - p % WAL_BLOCK_SIZE;
        if (left < WAL_HEADER_SIZE) continue;
        size_t len = (size_t)f[p + 4] | (size_t)f[p + 5] << 8;
        if (f[p + 6] < 1 || f[p + 6] > 4 || WAL_HEADER_SIZE + len > left) continue;
        if (p + WAL_HEADER_SIZE + len > n) continue;
        if (crc32c_unmask(decode_fixed32((const char *)f + p)) == crc32c(f + p + 6, 1 + len))
            return 1;
    }
    return 0;
}

static void framed_layout(const uint8_t *data, size_t size, int mode) {
    fuzz_src s = {data, size};
    uint16_t cut = fuzz_u16(&s);
    framed fr = {0};
    while (s.n && fr.n < MAX_RECORDS) {
        size_t len = fuzz_u16(&s), got;
        const uint8_t *p = fuzz_bytes(&s, len, &got);
        uint8_t *r = malloc(len ? len : 1);
        FUZZ_CHECK(r != NULL);
        if (got) memcpy(r, p, got);
        for (size_t i = got; i < len; i++) r[i] = (uint8_t)(i * 7 + len);
        fr.rec[fr.n] = r;
        fr.len[fr.n++] = len;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/framed.log", fuzz_dir());
    wal_writer *w = wal_writer_create(path);
    FUZZ_CHECK(w != NULL);
    int prealloc = ((mode >> 1) & 3) == 3;
    if (prealloc) {
        wal_writer_set_prealloc(w, 64 * 1024);
        wal_writer_set_mapped(w, 1);
    }
    for (size_t i = 0; i < fr.n; i++) {
        fr.off[i] = wal_writer_size(w);
        FUZZ_CHECK(wal_writer_add(w, fr.rec[i], fr.len[i]) == 0);
        if (i % 3 == 2) FUZZ_CHECK(wal_writer_flush(w) == 0); /* several flushes */
    }
    FUZZ_CHECK(wal_writer_flush(w) == 0);
    uint64_t end = wal_writer_size(w);
    fr.off[fr.n] = end;
    size_t nrec;
    int rc;
    if (prealloc) { /* the log as a crash would leave it: zeros ahead of the last record */
        rc = read_all(path, mode & 1, UINT64_MAX, &nrec, expect_record, &fr);
        FUZZ_CHECK(rc == WAL_READ_EOF && nrec == fr.n);
    }
    FUZZ_CHECK(wal_writer_close(w, 0) == 0);
    rc = read_all(path, mode & 1, end, &nrec, expect_record, &fr);
    FUZZ_CHECK(rc == WAL_READ_EOF && nrec == fr.n);

    /* a torn write: the log cut short (read without skip mode, as the default server does) */
    if (end > 0) {
        uint64_t at = (end * cut) >> 16;
        FUZZ_CHECK(truncate(path, (off_t)at) == 0);
        rc = read_all(path, 0, end, &nrec, expect_record, &fr);
        size_t whole = 0; /* records wholly before the cut */
        while (whole < fr.n && fr.off[whole + 1] <= at) whole++;
        if (getenv("FUZZ_WAL_DEBUG"))
            fprintf(stderr, "cut at %llu of %llu: rc %d, %zu records of %zu (whole %zu), bad %llu\n",
                    (unsigned long long)at, (unsigned long long)end, rc, nrec, fr.n, whole,
                    (unsigned long long)g_bad_off);
        if (rc == LSM_ECORRUPT) {
            /* only a forged record inside the torn payload can make the tail look like damage */
            uint8_t *f = malloc(at ? at : 1);
            FUZZ_CHECK(f != NULL);
            int fd = open(path, O_RDONLY);
            FUZZ_CHECK(fd >= 0 && pread(fd, f, at, 0) == (ssize_t)at);
            close(fd);
            FUZZ_CHECK(forged_record(f, at, g_bad_off + 1));
            free(f);
        } else {
            FUZZ_CHECK(rc == WAL_READ_EOF);
            FUZZ_CHECK(nrec == whole);
        }
    }
    for (size_t i = 0; i < fr.n; i++) free(fr.rec[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0];
    if (((mode >> 1) & 3) >= 2) framed_layout(data + 1, size - 1, mode);
    else raw_layout(data + 1, size - 1, mode);
    return 0;
}
