/* test_wal.c - log record format: fragmentation at block edges, trailers, aligned EOF, torn
 * tails at every byte, mid-file corruption, skip mode, and concurrent flush + sync. */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coding.h"
#include "crc32c.h"
#include "lsm.h"
#include "fs.h"
#include "wal.h"

#define B WAL_BLOCK_SIZE
#define H WAL_HEADER_SIZE

static char dir[64];
static char path[128];

static void setup(void) {
    strcpy(dir, "/tmp/kevo_test_wal_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/000001.log", dir);
}
static void teardown(void) {
    unlink(path);
    rmdir(dir);
}
TestSuite(wal, .init = setup, .fini = teardown);

/* Record i's content: its index in the first 4 bytes (when it fits), then a pattern. */
static void fill_record(char *p, size_t n, uint32_t i) {
    for (size_t j = 0; j < n; j++) p[j] = (char)(i * 31 + j * 7 + (j >> 8));
    if (n >= 4) encode_fixed32(p, i);
}

/* Writes records of the given sizes; stores each record's start offset (its first header). */
static uint64_t write_records(const size_t *sizes, int n, uint64_t *starts) {
    wal_writer *w = wal_writer_create(path);
    cr_assert_not_null(w);
    for (int i = 0; i < n; i++) {
        uint64_t sz = wal_writer_size(w);
        uint64_t left = B - sz % B;
        if (starts) starts[i] = left < H ? sz + left : sz;
        char *p = malloc(sizes[i] + 1);
        fill_record(p, sizes[i], (uint32_t)i);
        cr_assert_eq(wal_writer_add(w, p, sizes[i]), 0);
        free(p);
    }
    uint64_t total = wal_writer_size(w);
    cr_assert_eq(wal_writer_close(w, 0), 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq((uint64_t)st.st_size, total);
    return total;
}

static void expect_record(wal_reader *r, size_t size, uint32_t i) {
    const char *rec;
    size_t len;
    int rc = wal_reader_next(r, &rec, &len);
    cr_assert_eq(rc, WAL_READ_RECORD, "record %u: rc %d", i, rc);
    cr_assert_eq(len, size, "record %u: len %zu want %zu", i, len, size);
    char *want = malloc(size + 1);
    fill_record(want, size, i);
    cr_assert(size == 0 || memcmp(rec, want, size) == 0, "record %u content", i);
    free(want);
}

static void expect_eof(wal_reader *r) {
    const char *rec;
    size_t len;
    cr_assert_eq(wal_reader_next(r, &rec, &len), WAL_READ_EOF);
    cr_assert_eq(wal_reader_next(r, &rec, &len), WAL_READ_EOF); /* stays at EOF */
}

static void read_all_expect(const size_t *sizes, int n) {
    wal_reader *r = wal_reader_open(path);
    cr_assert_not_null(r);
    for (int i = 0; i < n; i++) expect_record(r, sizes[i], (uint32_t)i);
    expect_eof(r);
    cr_assert_eq(wal_reader_tail_dropped(r), 0);
    cr_assert_eq(wal_reader_skipped_bytes(r), 0);
    wal_reader_close(r);
}

static char *slurp(uint64_t *size) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    char *b = malloc((size_t)st.st_size + 1);
    cr_assert_eq(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    *size = (uint64_t)st.st_size;
    return b;
}
static void spit(const char *b, uint64_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, b, (size_t)n), (ssize_t)n);
    close(fd);
}
/* Rewrites the header at off with a new length/type and a CRC that is valid for them. */
static void reseal(char *f, uint64_t off, size_t len, int type) {
    f[off + 4] = (char)(len & 0xff);
    f[off + 5] = (char)(len >> 8);
    f[off + 6] = (char)type;
    encode_fixed32(f + off, crc32c_mask(crc32c(f + off + 6, 1 + len)));
}

/* ---- writer layout ---- */

Test(wal, empty_file_reads_eof) {
    write_records(NULL, 0, NULL);
    read_all_expect(NULL, 0);
}

Test(wal, missing_file_open_returns_null) {
    cr_assert_null(wal_reader_open("/tmp/kevo_test_wal_does_not_exist/x.log"));
}

Test(wal, small_records_round_trip_with_header_layout) {
    size_t sizes[] = {1, 2, 100, 3};
    write_records(sizes, 4, NULL);
    read_all_expect(sizes, 4);
    uint64_t n;
    char *f = slurp(&n);
    cr_assert_eq(n, 4 * H + 106);
    /* first record: crc || len=1 LE || type FULL || data */
    cr_assert_eq((unsigned char)f[4], 1);
    cr_assert_eq((unsigned char)f[5], 0);
    cr_assert_eq((unsigned char)f[6], 1);
    cr_assert_eq(crc32c_unmask(decode_fixed32(f)), crc32c(f + 6, 2));
    free(f);
}

Test(wal, zero_length_records_round_trip) {
    size_t sizes[] = {0, 5, 0, 0, 7};
    uint64_t total = write_records(sizes, 5, NULL);
    cr_assert_eq(total, 5 * H + 12);
    read_all_expect(sizes, 5);
}

Test(wal, record_exactly_filling_one_block_is_full_and_eof_is_aligned) {
    size_t sizes[] = {B - H};
    uint64_t total = write_records(sizes, 1, NULL);
    cr_assert_eq(total, B);
    uint64_t n;
    char *f = slurp(&n);
    cr_assert_eq((unsigned char)f[6], 1); /* FULL, not FIRST + empty LAST */
    free(f);
    read_all_expect(sizes, 1);
}

Test(wal, aligned_eof_after_two_full_blocks) {
    size_t sizes[] = {B - H - 100 - H, 100, B - H};
    uint64_t total = write_records(sizes, 3, NULL);
    cr_assert_eq(total, 2 * B);
    read_all_expect(sizes, 3);
}

Test(wal, records_crossing_one_two_and_three_block_boundaries) {
    size_t sizes[] = {B - H + 1, 10, 2 * B, 3 * B + 123, 1, B * 3 - 3 * H, 0, 70000};
    int n = (int)(sizeof sizes / sizeof sizes[0]);
    uint64_t starts[8];
    write_records(sizes, n, starts);
    read_all_expect(sizes, n);
    /* the reader reports each record's start offset */
    wal_reader *r = wal_reader_open(path);
    const char *rec;
    size_t len;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(wal_reader_next(r, &rec, &len), WAL_READ_RECORD);
        cr_assert_eq(wal_reader_offset(r), starts[i], "record %d", i);
    }
    wal_reader_close(r);
}

/* A first record leaves exactly t bytes in block 0; t < 7 must be zero padding with the next
 * record at the next block; t == 7 holds an empty FIRST fragment of the next record. */
Test(wal, trailer_of_zero_to_seven_bytes) {
    for (size_t t = 0; t <= 7; t++) {
        size_t sizes[] = {B - H - t, 10, 20};
        uint64_t starts[3];
        uint64_t total = write_records(sizes, 3, starts);
        uint64_t n;
        char *f = slurp(&n);
        if (t < 7) {
            for (size_t j = 0; j < t; j++) cr_assert_eq(f[B - t + j], 0, "t=%zu padding", t);
            cr_assert_eq(starts[1], B);
            cr_assert_eq((unsigned char)f[B + 6], 1, "t=%zu: FULL at block 1", t);
            cr_assert_eq(total, B + 2 * H + 30);
        } else {
            cr_assert_eq(starts[1], B - 7);
            cr_assert_eq((unsigned char)f[B - 7 + 4], 0); /* empty FIRST */
            cr_assert_eq((unsigned char)f[B - 7 + 6], 2);
            cr_assert_eq((unsigned char)f[B + 6], 4); /* LAST at block 1 */
            cr_assert_eq(total, B + 2 * H + 30);
        }
        free(f);
        read_all_expect(sizes, 3);
        wal_reader *r = wal_reader_open(path);
        const char *rec;
        size_t len;
        wal_reader_next(r, &rec, &len);
        wal_reader_next(r, &rec, &len);
        cr_assert_eq(wal_reader_offset(r), starts[1], "t=%zu", t);
        wal_reader_close(r);
    }
}

Test(wal, zero_length_record_in_last_seven_bytes_is_full_and_fills_block) {
    size_t sizes[] = {B - 2 * H, 0, 5};
    uint64_t starts[3];
    uint64_t total = write_records(sizes, 3, starts);
    cr_assert_eq(starts[1], B - H);
    cr_assert_eq(starts[2], B);
    cr_assert_eq(total, B + H + 5);
    uint64_t n;
    char *f = slurp(&n);
    cr_assert_eq((unsigned char)f[B - H + 6], 1); /* FULL, length 0 */
    cr_assert_eq((unsigned char)f[B - H + 4], 0);
    free(f);
    read_all_expect(sizes, 3);
}

Test(wal, size_and_buffered_track_flushes) {
    wal_writer *w = wal_writer_create(path);
    cr_assert_eq(wal_writer_size(w), 0);
    cr_assert_eq(wal_writer_add(w, "abc", 3), 0);
    cr_assert_eq(wal_writer_size(w), H + 3);
    cr_assert_eq(wal_writer_buffered(w), H + 3);
    struct stat st;
    stat(path, &st);
    cr_assert_eq(st.st_size, 0); /* nothing written before flush */
    cr_assert_eq(wal_writer_flush(w), 0);
    cr_assert_eq(wal_writer_buffered(w), 0);
    stat(path, &st);
    cr_assert_eq(st.st_size, H + 3);
    cr_assert_eq(wal_writer_sync(w), 0);
    cr_assert_eq(wal_writer_flush(w), 0); /* empty flush is a no-op */
    cr_assert_geq(wal_writer_fd(w), 0);
    cr_assert_eq(wal_writer_close(w, 1), 0);
}

Test(wal, buffer_is_released_after_a_huge_record_and_writer_keeps_working) {
    size_t sizes[] = {10, 6u << 20, 20, 30};
    wal_writer *w = wal_writer_create(path);
    for (int i = 0; i < 4; i++) {
        char *p = malloc(sizes[i]);
        fill_record(p, sizes[i], (uint32_t)i);
        cr_assert_eq(wal_writer_add(w, p, sizes[i]), 0);
        free(p);
        cr_assert_eq(wal_writer_flush(w), 0);
        cr_assert_eq(wal_writer_buffered(w), 0);
    }
    cr_assert_eq(wal_writer_close(w, 0), 0);
    read_all_expect(sizes, 4);
}

/* ---- torn tails ---- */

/* Truncates the file at every byte inside the last record (and its headers): all earlier records
 * are read, then EOF, and tail_dropped counts the partial record's bytes. */
static void torn_tail_every_byte(const size_t *sizes, int n) {
    uint64_t starts[16];
    uint64_t total = write_records(sizes, n, starts);
    uint64_t fsz;
    char *full = slurp(&fsz);
    cr_assert_eq(fsz, total);
    uint64_t last = starts[n - 1];
    for (uint64_t cut = last; cut < total; cut++) {
        spit(full, cut);
        wal_reader *r = wal_reader_open(path);
        cr_assert_not_null(r);
        for (int i = 0; i < n - 1; i++) expect_record(r, sizes[i], (uint32_t)i);
        expect_eof(r);
        cr_assert_eq(wal_reader_tail_dropped(r), cut - last, "cut %llu",
                     (unsigned long long)cut);
        wal_reader_close(r);
    }
    spit(full, total);
    read_all_expect(sizes, n);
    free(full);
}

Test(wal, torn_tail_at_every_byte_of_small_last_record) {
    size_t sizes[] = {100, 200, 300};
    torn_tail_every_byte(sizes, 3);
}

Test(wal, torn_tail_at_every_byte_of_last_record_spanning_two_blocks, .timeout = 60) {
    size_t sizes[] = {B - 2000, 3000};
    torn_tail_every_byte(sizes, 2);
}

Test(wal, torn_tail_at_every_byte_of_last_record_with_empty_first_fragment) {
    size_t sizes[] = {B - 2 * H, 500}; /* leaves exactly 7 bytes: empty FIRST, then LAST */
    torn_tail_every_byte(sizes, 2);
}

Test(wal, torn_tail_cut_inside_trailer_padding_is_clean_eof) {
    size_t sizes[] = {B - H - 3, 50};
    write_records(sizes, 2, NULL);
    uint64_t fsz;
    char *full = slurp(&fsz);
    for (uint64_t cut = B - 3; cut <= B; cut++) {
        spit(full, cut);
        wal_reader *r = wal_reader_open(path);
        expect_record(r, sizes[0], 0);
        expect_eof(r);
        cr_assert_eq(wal_reader_tail_dropped(r), 0);
        wal_reader_close(r);
    }
    free(full);
}

Test(wal, first_without_last_at_tail_is_torn) {
    size_t sizes[] = {10, 2 * B};
    uint64_t starts[2];
    write_records(sizes, 2, starts);
    uint64_t fsz;
    char *f = slurp(&fsz);
    spit(f, B); /* keep only block 0: rec 0 + the FIRST fragment (aligned EOF) */
    wal_reader *r = wal_reader_open(path);
    expect_record(r, 10, 0);
    expect_eof(r);
    cr_assert_eq(wal_reader_tail_dropped(r), B - starts[1]);
    wal_reader_close(r);
    free(f);
}

Test(wal, length_field_past_eof_at_tail_is_torn) {
    size_t sizes[] = {10, 20, 30};
    uint64_t starts[3];
    uint64_t total = write_records(sizes, 3, starts);
    uint64_t fsz;
    char *f = slurp(&fsz);
    f[starts[2] + 4] = (char)100; /* claims 100 bytes, file has 30 */
    spit(f, total);
    wal_reader *r = wal_reader_open(path);
    expect_record(r, 10, 0);
    expect_record(r, 20, 1);
    expect_eof(r);
    cr_assert_eq(wal_reader_tail_dropped(r), total - starts[2]);
    wal_reader_close(r);
    free(f);
}

/* Writes the records, zeros the file from `from` (an offset, or -1 - i for the start of record
 * i) to its end, and expects the first `kept` records, EOF, and `dropped` bytes counted. */
static void check_zeroed_tail(const size_t *sizes, int n, long long from, int kept,
                              long long dropped_from_record) {
    uint64_t starts[16];
    uint64_t total = write_records(sizes, n, starts);
    uint64_t fsz;
    char *f = slurp(&fsz);
    uint64_t z = from < 0 ? starts[-1 - from] : (uint64_t)from;
    memset(f + z, 0, total - z); /* pages that never made it to disk */
    spit(f, total);
    wal_reader *r = wal_reader_open(path);
    for (int i = 0; i < kept; i++) expect_record(r, sizes[i], (uint32_t)i);
    expect_eof(r);
    uint64_t want = dropped_from_record < 0 ? 0 : z - starts[dropped_from_record];
    cr_assert_eq(wal_reader_tail_dropped(r), want);
    wal_reader_close(r);
    free(f);
}

Test(wal, zero_filled_tail_ends_the_log) {
    /* indistinguishable from preallocated space: the end of the log, nothing counted */
    size_t sizes[] = {10, 20, 3000};
    check_zeroed_tail(sizes, 3, -1 - 2, 2, -1);
}

Test(wal, zeros_after_an_unfinished_record_count_only_its_fragments) {
    /* the second record is FIRST (block 0) + LAST (block 1); block 1 never reached the disk */
    size_t sizes[] = {10, B + 100};
    check_zeroed_tail(sizes, 2, B, 1, 1);
}

/* A preallocating writer: the file is zeroed ahead in whole chunks while open, records overwrite
 * the zeros, a reader of the open file (a crash image) finds every flushed record and a clean
 * end, and close cuts the zeros. */
static void preallocating_writer_case(int mapped) {
    const uint64_t chunk = 64 * 1024;
    wal_writer *w = wal_writer_create(path);
    cr_assert_not_null(w);
    wal_writer_set_prealloc(w, chunk);
    wal_writer_set_mapped(w, mapped);
    size_t sizes[40];
    struct stat st;
    for (int i = 0; i < 40; i++) {
        /* ~100 KB in all: several chunks; each flush below WAL_MAP_MAX_FLUSH, so a mapped
         * writer stores every one through its mapping */
        sizes[i] = 1000 + (size_t)(i % 14) * 211;
        char *p = malloc(sizes[i]);
        fill_record(p, sizes[i], (uint32_t)i);
        cr_assert_eq(wal_writer_add(w, p, sizes[i]), 0);
        free(p);
        cr_assert_eq(wal_writer_flush(w), 0);
        cr_assert_eq(stat(path, &st), 0);
        uint64_t logical = wal_writer_size(w);
        cr_assert_eq((uint64_t)st.st_size % chunk, 0, "size %lld is not whole chunks",
                     (long long)st.st_size);
        cr_assert_geq((uint64_t)st.st_size, logical);
        cr_assert_lt((uint64_t)st.st_size - logical, chunk + 1, "zeroed more than a chunk ahead");
        cr_assert_eq(wal_writer_mapped(w), mapped, "flush %d did not take the %s path", i,
                     mapped ? "mapped" : "pwrite");
    }
    /* the open file, as a crash would leave it: every record, then a clean end */
    wal_reader *r = wal_reader_open(path);
    cr_assert_not_null(r);
    for (int i = 0; i < 40; i++) expect_record(r, sizes[i], (uint32_t)i);
    expect_eof(r);
    cr_assert_eq(wal_reader_tail_dropped(r), 0);
    wal_reader_close(r);
    uint64_t logical = wal_writer_size(w);
    cr_assert_eq(wal_writer_close(w, 1), 0);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq((uint64_t)st.st_size, logical, "close left the zeros ahead");
    read_all_expect(sizes, 40);
}

Test(wal, preallocating_writer_zeroes_ahead_and_close_truncates) { preallocating_writer_case(0); }

/* The same through a shared mapping (everysec/no): records crossing chunk boundaries, the open
 * file read back from the page cache as a crash would leave it. */
Test(wal, mapped_writer_zeroes_ahead_and_close_truncates) { preallocating_writer_case(1); }

/* A mapped writer stores small flushes through its mapping and writes large ones with pwrite()
 * (WAL_MAP_MAX_FLUSH): counted through the file-layer hooks; the log reads back whole. */
static atomic_int g_map_stores, g_pwrites;
static uint64_t g_flush_at; /* where the flush's bytes go, and how many (not the zeros ahead) */
static size_t g_flush_len;
static int count_before(void *ctx, const fs_call *c, size_t *len) {
    (void)ctx, (void)len;
    if (c->op == FS_MAP_STORE) atomic_fetch_add(&g_map_stores, 1);
    if (c->op == FS_WRITE && c->off == g_flush_at && c->len == g_flush_len)
        atomic_fetch_add(&g_pwrites, 1);
    return 0;
}
static void count_after(void *ctx, const fs_call *c, long result, int err) {
    (void)ctx, (void)c, (void)result, (void)err;
}

Test(wal, mapped_writer_pwrites_large_flushes) {
    static const fs_hooks hooks = {count_before, count_after, NULL};
    wal_writer *w = wal_writer_create(path);
    cr_assert_not_null(w);
    wal_writer_set_prealloc(w, 64 * 1024);
    wal_writer_set_mapped(w, 1);
    size_t sizes[30];
    for (int i = 0; i < 30; i++) {
        int large = i % 3 == 2;
        sizes[i] = large ? WAL_MAP_MAX_FLUSH + 100 + (size_t)i * 331 : 100 + (size_t)i * 57;
        char *p = malloc(sizes[i]);
        fill_record(p, sizes[i], (uint32_t)i);
        cr_assert_eq(wal_writer_add(w, p, sizes[i]), 0);
        free(p);
        atomic_store(&g_map_stores, 0);
        atomic_store(&g_pwrites, 0);
        g_flush_at = wal_writer_flushed(w);
        g_flush_len = wal_writer_buffered(w);
        fs_set_hooks(&hooks);
        cr_assert_eq(wal_writer_flush(w), 0);
        fs_set_hooks(NULL);
        /* a small flush that crosses into the next chunk stores once per chunk */
        int stores = atomic_load(&g_map_stores);
        cr_assert(large ? stores == 0 : stores >= 1 && stores <= 2, "flush %d (%zu bytes): %d stores",
                  i, sizes[i], stores);
        cr_assert_eq(atomic_load(&g_pwrites), large ? 1 : 0, "flush %d (%zu bytes) pwrites", i,
                     sizes[i]);
    }
    wal_reader *r = wal_reader_open(path);
    cr_assert_not_null(r);
    for (int i = 0; i < 30; i++) expect_record(r, sizes[i], (uint32_t)i);
    expect_eof(r);
    wal_reader_close(r);
    cr_assert_eq(wal_writer_close(w, 1), 0);
    read_all_expect(sizes, 30);
}

/* Switching between mapped stores and pwrite (CONFIG SET appendfsync) mid-log keeps one log. */
Test(wal, mapped_and_pwrite_flushes_interleave) {
    wal_writer *w = wal_writer_create(path);
    cr_assert_not_null(w);
    wal_writer_set_prealloc(w, 64 * 1024);
    size_t sizes[60];
    for (int i = 0; i < 60; i++) {
        wal_writer_set_mapped(w, (i / 7) % 2); /* runs of 7 flushes each way */
        sizes[i] = 3000 + (size_t)i * 97;
        char *p = malloc(sizes[i]);
        fill_record(p, sizes[i], (uint32_t)i);
        cr_assert_eq(wal_writer_add(w, p, sizes[i]), 0);
        free(p);
        cr_assert_eq(wal_writer_flush(w), 0);
        if (i % 10 == 9) cr_assert_eq(wal_writer_sync(w), 0);
    }
    cr_assert_eq(wal_writer_close(w, 1), 0);
    read_all_expect(sizes, 60);
}

Test(wal, bad_crc_in_last_record_is_torn_tail) {
    size_t sizes[] = {10, 20};
    uint64_t starts[2];
    uint64_t total = write_records(sizes, 2, starts);
    uint64_t fsz;
    char *f = slurp(&fsz);
    f[starts[1] + H + 5] ^= 1;
    spit(f, total);
    wal_reader *r = wal_reader_open(path);
    expect_record(r, 10, 0);
    expect_eof(r);
    cr_assert_eq(wal_reader_tail_dropped(r), total - starts[1]);
    wal_reader_close(r);
    free(f);
}

/* ---- corruption in the middle ---- */

Test(wal, bad_crc_in_middle_is_corrupt_with_offset) {
    size_t sizes[] = {10, 20, 30, 40};
    uint64_t starts[4];
    uint64_t total = write_records(sizes, 4, starts);
    uint64_t fsz;
    char *f = slurp(&fsz);
    f[starts[1] + H + 3] ^= 0x40;
    spit(f, total);
    wal_reader *r = wal_reader_open(path);
    expect_record(r, 10, 0);
    const char *rec;
    size_t len;
    cr_assert_eq(wal_reader_next(r, &rec, &len), LSM_ECORRUPT);
    cr_assert_eq(wal_reader_offset(r), starts[1]);
    cr_assert_eq(wal_reader_next(r, &rec, &len), LSM_ECORRUPT); /* sticky */
    wal_reader_close(r);
    free(f);
}

Test(wal, bad_crc_in_middle_fragment_is_corrupt_at_that_fragment) {
    size_t sizes[] = {10, 3 * B, 40};
    uint64_t starts[3];
    uint64_t total = write_records(sizes, 3, starts);
    uint64_t fsz;
    char *f = slurp(&fsz);
    f[B + H + 100] ^= 1; /* the MIDDLE fragment at block 1 */
    spit(f, total);
    wal_reader *r = wal_reader_open(path);
    expect_record(r, 10, 0);
    const char *rec;
    size_t len;
    cr_assert_eq(wal_reader_next(r, &rec, &len), LSM_ECORRUPT);
    cr_assert_eq(wal_reader_offset(r), B);
    wal_reader_close(r);
    free(f);
}

Test(wal, garbage_length_in_middle_with_valid_later_block_is_corrupt) {
    size_t sizes[] = {10, 20, B, 50};
    uint64_t starts[4];
    uint64_t total = write_records(sizes, 4, starts);
    uint64_t fsz;
    char *f = slurp(&fsz);
    f[starts[1] + 4] = (char)0xff; /* length 0xff14: past the block end */
    f[starts[1] + 5] = (char)0xff;
    spit(f, total);
    wal_reader *r = wal_reader_open(path);
    expect_record(r, 10, 0);
    const char *rec;
    size_t len;
    cr_assert_eq(wal_reader_next(r, &rec, &len), LSM_ECORRUPT);
    cr_assert_eq(wal_reader_offset(r), starts[1]);
    wal_reader_close(r);
    free(f);
}

/* All records in one block: a flipped length bit loses the record boundaries for the rest of
 * the block, yet the intact records behind it make this corruption, not a torn tail. */
Test(wal, length_bit_flip_in_middle_of_single_block_is_corrupt) {
    enum { N = 60 };
    size_t sizes[N];
    uint64_t starts[N];
    for (int i = 0; i < N; i++) sizes[i] = 100 + (size_t)i;
    uint64_t total = write_records(sizes, N, starts);
    cr_assert_lt(total, B);
    uint64_t fsz;
    char *f = slurp(&fsz);
    for (int delta = 0; delta < 3; delta++) {
        char *g = malloc(total);
        memcpy(g, f, total);
        unsigned char bits[] = {0x10, 0x01, 0x80};
        g[starts[20] + 4] ^= (char)bits[delta];
        spit(g, total);
        wal_reader *r = wal_reader_open(path);
        for (int i = 0; i < 20; i++) expect_record(r, sizes[i], (uint32_t)i);
        const char *rec;
        size_t len;
        cr_assert_eq(wal_reader_next(r, &rec, &len), LSM_ECORRUPT, "bit %x", bits[delta]);
        cr_assert_eq(wal_reader_offset(r), starts[20]);
        wal_reader_close(r);
        /* skip mode drops the rest of the block (here: the rest of the file) and says so */
        r = wal_reader_open(path);
        wal_reader_set_skip(r, 1);
        for (int i = 0; i < 20; i++) expect_record(r, sizes[i], (uint32_t)i);
        expect_eof(r);
        cr_assert_eq(wal_reader_skipped_bytes(r), total - starts[20]);
        wal_reader_close(r);
        free(g);
    }
    free(f);
}

Test(wal, first_followed_by_full_is_corrupt_at_first) {
    size_t sizes[] = {B, 10};
    uint64_t starts[2];
    uint64_t total = write_records(sizes, 2, starts);
    uint64_t fsz;
    char *f = slurp(&fsz);
    /* turn the LAST fragment at block 1 into a FULL one: the FIRST is left unfinished */
    size_t lastlen = (size_t)(unsigned char)f[B + 4] | ((size_t)(unsigned char)f[B + 5] << 8);
    reseal(f, B, lastlen, 1);
    spit(f, total);
    wal_reader *r = wal_reader_open(path);
    const char *rec;
    size_t len;
    cr_assert_eq(wal_reader_next(r, &rec, &len), LSM_ECORRUPT);
    cr_assert_eq(wal_reader_offset(r), 0);
    wal_reader_close(r);
    /* skip mode drops the unfinished record and goes on with the FULL one */
    r = wal_reader_open(path);
    wal_reader_set_skip(r, 1);
    cr_assert_eq(wal_reader_next(r, &rec, &len), WAL_READ_RECORD);
    cr_assert_eq(len, lastlen);
    cr_assert_eq(wal_reader_offset(r), B);
    expect_record(r, 10, 1);
    expect_eof(r);
    cr_assert_eq(wal_reader_skipped_bytes(r), B);
    wal_reader_close(r);
    free(f);
}

Test(wal, orphan_last_fragment_is_corrupt) {
    size_t sizes[] = {B, 10};
    uint64_t total = write_records(sizes, 2, NULL);
    uint64_t fsz;
    char *f = slurp(&fsz);
    reseal(f, 0, B - H, 1); /* block 0: FIRST -> FULL; block 1 starts with an orphan LAST */
    spit(f, total);
    wal_reader *r = wal_reader_open(path);
    const char *rec;
    size_t len;
    cr_assert_eq(wal_reader_next(r, &rec, &len), WAL_READ_RECORD);
    cr_assert_eq(wal_reader_next(r, &rec, &len), LSM_ECORRUPT);
    cr_assert_eq(wal_reader_offset(r), B);
    wal_reader_close(r);
    free(f);
}

Test(wal, skip_mode_skips_rest_of_block_and_counts_bytes) {
    enum { N = 100 };
    size_t sizes[N];
    uint64_t starts[N];
    for (int i = 0; i < N; i++) sizes[i] = 1000;
    uint64_t total = write_records(sizes, N, starts);
    uint64_t fsz;
    char *f = slurp(&fsz);
    f[starts[5] + H + 10] ^= 0x10;
    spit(f, total);
    wal_reader *r = wal_reader_open(path);
    wal_reader_set_skip(r, 1);
    for (int i = 0; i < 5; i++) expect_record(r, 1000, (uint32_t)i);
    int first_after = -1;
    for (int i = 6; i < N; i++)
        if (starts[i] >= B) { first_after = i; break; }
    cr_assert_gt(first_after, 6);
    for (int i = first_after; i < N; i++) expect_record(r, 1000, (uint32_t)i);
    expect_eof(r);
    /* bytes from the bad record to the end of block 0, plus the orphan LAST fragment at the
     * start of block 1 (the record straddling blocks 0 and 1) */
    uint64_t orphan = starts[first_after] - B;
    cr_assert_eq(wal_reader_skipped_bytes(r), (B - starts[5]) + orphan);
    cr_assert_eq(wal_reader_tail_dropped(r), 0);
    wal_reader_close(r);
    free(f);
}

Test(wal, zeroed_blocks_in_middle_corrupt_then_skip_mode_resumes_after_them) {
    enum { N = 200 };
    size_t sizes[N];
    uint64_t starts[N];
    for (int i = 0; i < N; i++) sizes[i] = 1000;
    uint64_t total = write_records(sizes, N, starts);
    cr_assert_gt(total, 5 * (uint64_t)B);
    uint64_t fsz;
    char *f = slurp(&fsz);
    memset(f + B, 0, 3 * B); /* blocks 1..3 lost */
    spit(f, total);
    int last_whole = -1, first_after = -1;
    for (int i = 0; i < N; i++) {
        if (starts[i] + H + 1000 <= B) last_whole = i;
        if (first_after < 0 && starts[i] >= 4 * (uint64_t)B) first_after = i;
    }
    /* default: refuse */
    wal_reader *r = wal_reader_open(path);
    for (int i = 0; i <= last_whole; i++) expect_record(r, 1000, (uint32_t)i);
    const char *rec;
    size_t len;
    cr_assert_eq(wal_reader_next(r, &rec, &len), LSM_ECORRUPT);
    cr_assert_eq(wal_reader_offset(r), B);
    wal_reader_close(r);
    /* skip mode: everything from the straddling record to the first record starting in block 4 */
    r = wal_reader_open(path);
    wal_reader_set_skip(r, 1);
    for (int i = 0; i <= last_whole; i++) expect_record(r, 1000, (uint32_t)i);
    for (int i = first_after; i < N; i++) expect_record(r, 1000, (uint32_t)i);
    expect_eof(r);
    cr_assert_eq(wal_reader_skipped_bytes(r), starts[first_after] - starts[last_whole + 1]);
    wal_reader_close(r);
    free(f);
}

Test(wal, skip_mode_still_treats_bad_tail_as_torn) {
    size_t sizes[] = {10, 20};
    uint64_t starts[2];
    uint64_t total = write_records(sizes, 2, starts);
    uint64_t fsz;
    char *f = slurp(&fsz);
    f[total - 1] ^= 1;
    spit(f, total);
    wal_reader *r = wal_reader_open(path);
    wal_reader_set_skip(r, 1);
    expect_record(r, 10, 0);
    expect_eof(r);
    cr_assert_eq(wal_reader_skipped_bytes(r), 0);
    cr_assert_eq(wal_reader_tail_dropped(r), total - starts[1]);
    wal_reader_close(r);
    free(f);
}

/* ---- threads ---- */

typedef struct sync_ctx {
    wal_writer *w;
    atomic_int stop;
    int syncs;
    int errors;
} sync_ctx;

static void *sync_thread(void *arg) {
    sync_ctx *c = arg;
    while (!atomic_load(&c->stop)) {
        if (wal_writer_sync(c->w) != 0) c->errors++;
        c->syncs++;
        (void)wal_writer_size(c->w);
        usleep(200);
    }
    return NULL;
}

Test(wal, flush_on_owner_and_sync_on_another_thread_concurrently) {
    enum { N = 3000 };
    size_t sizes[N];
    wal_writer *w = wal_writer_create(path);
    sync_ctx c = {.w = w, .syncs = 0, .errors = 0};
    atomic_init(&c.stop, 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, sync_thread, &c), 0);
    char buf[600];
    for (int i = 0; i < N; i++) {
        sizes[i] = (size_t)(i * 37 % 600);
        fill_record(buf, sizes[i], (uint32_t)i);
        cr_assert_eq(wal_writer_add(w, buf, sizes[i]), 0);
        if (i % 10 == 9) cr_assert_eq(wal_writer_flush(w), 0);
    }
    cr_assert_eq(wal_writer_flush(w), 0);
    atomic_store(&c.stop, 1);
    pthread_join(th, NULL);
    cr_assert_eq(c.errors, 0);
    cr_assert_eq(wal_writer_close(w, 1), 0);
    read_all_expect(sizes, N);
}

/* A process killed while a mapped flush stores its records (typically at the page fault on a
 * fresh page of the mapping) must leave a prefix of the bytes: then the log ends in a torn tail.
 * memcpy stored its first vector last, so a kill there left zeros at a record boundary followed by
 * whole records: corruption in the middle, and the server refused to start. The fault is made
 * deterministic: the second page of the destination is inaccessible, and the SIGSEGV handler
 * (standing for the kill) checks that everything before it was stored. */
static sigjmp_buf store_jmp;
static void store_segv(int sig) {
    (void)sig;
    siglongjmp(store_jmp, 1);
}

Test(wal, mapped_store_interrupted_at_a_page_fault_leaves_a_prefix) {
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    cr_assert_eq(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
    size_t n = (size_t)pg + 512, start = 40; /* crosses into the inaccessible page */
    char *src = malloc(n);
    for (size_t i = 0; i < n; i++) src[i] = (char)(1 + i % 251);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = store_segv;
    sigaction(SIGSEGV, &sa, &old);
    if (sigsetjmp(store_jmp, 1) == 0) {
        fs_map_store(-1, m + start, 0, src, n);
        cr_assert_fail("the store did not fault");
    }
    sigaction(SIGSEGV, &old, NULL);
    size_t stored = (size_t)pg - start; /* everything before the fault */
    for (size_t i = 0; i < stored; i++)
        cr_assert_eq(m[start + i], src[i], "byte %zu before the faulting page was not stored yet", i);
    free(src);
    munmap(m, (size_t)pg * 2);
}
