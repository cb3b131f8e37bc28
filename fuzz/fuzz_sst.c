/* fuzz_sst.c - libFuzzer target for the SSTable reader (src/lsm/sst_reader.c, over the block
 * reader of block.c, the bloom filter probe and LZ4 block decompression).
 *
 * Input: mode(1) || rest. mode bits 0-1 choose the layout:
 *   0 raw:     the rest is a table file as is;
 *   1 fixcrc:  as raw, but magic, format version, footer CRC and the CRC of every block the
 *              footer and the index name are recomputed, so mutations reach the structure
 *              behind the checksums;
 *   2 build:   entries taken from the rest (fuzz_util.h) are written with the real sst_builder
 *              (block size, restart interval, bloom, compression from the next byte) and read
 *              back: a full scan yields exactly them in ascending order; a seek to each key lands
 *              on it; a get at each entry's sequence returns the newest version <= it (value,
 *              or deleted); a key absent from the table is not found; properties count them;
 *   3 damage:  as build, then up to 8 byte edits (offset, xor) from the input are applied and
 *              the CRCs fixed as in 1.
 * mode bit 2: open with a block cache (data blocks then also come from the cache).
 * For every table that opens (0-1, 3): a full scan, seeks to keys seen and to input bytes, and
 * gets of the user keys seen; every key and value must be readable (ASan) and every status an
 * LSM_E* code. A table that does not open must fail with LSM_ECORRUPT (or LSM_EIO/ENOMEM). */
#include <lz4.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cache.h"
#include "coding.h"
#include "crc32c.h"
#include "dbformat.h"
#include "fuzz_util.h"
#include "lsm.h"
#include "sst_builder.h"
#include "sst_format.h"
#include "sst_reader.h"

#define MAX_KEYS 16

static block_cache *g_cache;
static uint64_t g_file_number; /* a new number per table: the cache never mixes tables */

static void fix_block(uint8_t *f, size_t n, uint64_t off, uint64_t size) {
    if (off > n || size > n - off || n - off - size < SST_BLOCK_TRAILER) return;
    uint32_t crc = crc32c(f + off, (size_t)size + 1);
    encode_fixed32((char *)f + off + size + 1, crc32c_mask(crc));
}

/* Makes the footer and the CRCs of the index, filter, properties and data blocks valid. */
static void fix_crcs(uint8_t *f, size_t n) {
    if (n < SST_FOOTER_SIZE) return;
    char *ft = (char *)f + n - SST_FOOTER_SIZE;
    uint64_t io = decode_fixed64(ft), is = decode_fixed64(ft + 8);
    size_t end = n - SST_FOOTER_SIZE;
    if (io <= end && is <= end - io && end - io - is >= SST_BLOCK_TRAILER) {
        /* the index contents, decompressed if need be, to find the data blocks */
        char *idx = NULL;
        size_t il = 0;
        const char *c = (const char *)f + io;
        if (f[io + is] == SST_COMP_NONE) {
            idx = malloc(is ? is : 1);
            if (is) memcpy(idx, c, is);
            il = is;
        } else if (f[io + is] == SST_COMP_LZ4) {
            uint32_t raw;
            const char *p = decode_varint32(c, c + is, &raw);
            if (p && raw <= (1u << 20)) {
                idx = malloc(raw ? raw : 1);
                int got = LZ4_decompress_safe(p, idx, (int)(c + is - p), (int)raw);
                il = got == (int)raw ? raw : 0;
            }
        }
        block b;
        if (idx && block_parse(&b, idx, il) == 0) {
            block_iter it;
            block_iter_init(&it, &b);
            for (block_iter_seek_first(&it); block_iter_valid(&it); block_iter_next(&it)) {
                size_t hl;
                const char *h = block_iter_value(&it, &hl), *lim = h + hl;
                uint64_t off, size;
                if ((h = decode_varint64(h, lim, &off)) && decode_varint64(h, lim, &size))
                    fix_block(f, end, off, size);
            }
            block_iter_cleanup(&it);
        }
        free(idx);
    }
    for (int i = 2; i >= 0; i--)
        fix_block(f, end, decode_fixed64(ft + i * 16), decode_fixed64(ft + i * 16 + 8));
    encode_fixed32(ft + 48, SST_FORMAT_VERSION);
    encode_fixed64(ft + 56, SST_MAGIC);
    encode_fixed32(ft + 52, crc32c_mask(crc32c(ft, 52)));
}

/* Everything a reader of a possibly damaged table does; only memory safety is asserted. */
static void walk(sst_reader *r, fuzz_src *s) {
    char *keys[MAX_KEYS];
    size_t kls[MAX_KEYS], nk = 0, steps = 0;
    internal_iter *it = sst_reader_iter_new(r, s->n & 1);
    FUZZ_CHECK(it != NULL);
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
        size_t kl, vl;
        const char *k = iter_key(it, &kl);
        fuzz_touch(k, kl);
        fuzz_touch(iter_value(it, &vl), vl);
        if (kl >= IKEY_TRAILER && nk < MAX_KEYS) {
            keys[nk] = malloc(kl);
            memcpy(keys[nk], k, kl);
            kls[nk++] = kl;
        }
        if (++steps > 100000) break;
    }
    FUZZ_CHECK(iter_status(it) <= 0);
    steps = 0; /* backward (each step moves to an earlier entry: it ends) */
    for (iter_seek_last(it); iter_valid(it); iter_prev(it)) {
        size_t kl, vl;
        fuzz_touch(iter_key(it, &kl), kl);
        fuzz_touch(iter_value(it, &vl), vl);
        if (++steps > 100000) break;
    }
    FUZZ_CHECK(iter_status(it) <= 0);
    lsm_buf val = {0};
    for (size_t i = 0; i < nk; i++) {
        iter_seek(it, keys[i], kls[i]);
        if (iter_valid(it)) {
            size_t kl;
            fuzz_touch(iter_key(it, &kl), kl);
        }
        iter_seek_for_prev(it, keys[i], kls[i]);
        if (iter_valid(it)) {
            size_t kl;
            fuzz_touch(iter_key(it, &kl), kl);
            iter_prev(it);
            if (iter_valid(it)) fuzz_touch(iter_key(it, &kl), kl);
        }
        int rc = sst_reader_get(r, keys[i], kls[i] - IKEY_TRAILER, MAX_SEQUENCE, &val);
        FUZZ_CHECK(rc == SST_FOUND || rc == SST_NOTFOUND || rc == SST_DELETED || rc < 0);
        if (rc == SST_FOUND) fuzz_touch(val.data, val.len);
        free(keys[i]);
    }
    /* a few lookups made of input bytes (long ones too) */
    for (int i = 0; i < 4 && s->n; i++) {
        size_t got;
        const uint8_t *k = fuzz_bytes(s, fuzz_u8(s) * 2u, &got);
        int rc = sst_reader_get(r, k, got, MAX_SEQUENCE, &val);
        FUZZ_CHECK(rc == SST_FOUND || rc == SST_NOTFOUND || rc == SST_DELETED || rc < 0);
        if (got >= IKEY_TRAILER) iter_seek(it, (const char *)k, got);
    }
    free(val.data);
    iter_destroy(it);
    const sst_props *p = sst_reader_props(r);
    fuzz_touch(p->smallest, p->smallest_len);
    fuzz_touch(p->largest, p->largest_len);
}

static void open_and_walk(const uint8_t *f, size_t n, int cached, fuzz_src *s) {
    char path[512];
    fuzz_write_file("t.sst", f, n, path, sizeof(path));
    sst_reader *r;
    int rc = sst_reader_open(path, ++g_file_number, cached ? g_cache : NULL, &r);
    if (rc) {
        FUZZ_CHECK(rc == LSM_ECORRUPT || rc == LSM_EIO || rc == LSM_ENOMEM);
        return;
    }
    walk(r, s);
    sst_reader_unref(r);
}

/* Builds a table of e[0..n) at path with options from the byte o. */
static void build(const char *path, const fuzz_kv *e, size_t n, uint8_t o) {
    sst_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.block_size = (size_t)64 << (o & 7);
    opt.restart_interval = 1 + ((o >> 3) & 15);
    opt.bloom_bits_per_key = o & 0x80 ? 10 : 0;
    opt.compression = 1; /* lz4 only when it saves 1/8: the values are patterned */
    sst_builder *b = sst_builder_new(path, &opt);
    FUZZ_CHECK(b != NULL);
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(sst_builder_add(b, e[i].k, e[i].kl, e[i].v, e[i].vl) == 0);
    sst_props props;
    memset(&props, 0, sizeof(props));
    FUZZ_CHECK(sst_builder_finish(b, &props) == 0);
    FUZZ_CHECK(props.num_entries == n);
    sst_props_free(&props);
}

static int same_user_key(const fuzz_kv *a, const fuzz_kv *b) {
    return a->kl == b->kl && memcmp(a->k, b->k, a->kl - IKEY_TRAILER) == 0;
}

static void check_round_trip(sst_reader *r, const fuzz_kv *e, size_t n) {
    internal_iter *it = sst_reader_iter_new(r, 1);
    size_t i = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it), i++) {
        size_t kl, vl;
        const char *k = iter_key(it, &kl), *v = iter_value(it, &vl);
        FUZZ_CHECK(i < n && kl == e[i].kl && memcmp(k, e[i].k, kl) == 0);
        FUZZ_CHECK(vl == e[i].vl && (vl == 0 || memcmp(v, e[i].v, vl) == 0));
    }
    FUZZ_CHECK(iter_status(it) == 0 && i == n);
    for (iter_seek_last(it); iter_valid(it); iter_prev(it)) { /* backward: e reversed */
        size_t kl, vl;
        const char *k = iter_key(it, &kl), *v = iter_value(it, &vl);
        FUZZ_CHECK(i > 0);
        i--;
        FUZZ_CHECK(kl == e[i].kl && memcmp(k, e[i].k, kl) == 0);
        FUZZ_CHECK(vl == e[i].vl && (vl == 0 || memcmp(v, e[i].v, vl) == 0));
    }
    FUZZ_CHECK(iter_status(it) == 0 && i == 0);
    for (i = 0; i < n; i++) {
        iter_seek(it, e[i].k, e[i].kl);
        size_t kl;
        FUZZ_CHECK(iter_valid(it));
        const char *k = iter_key(it, &kl);
        FUZZ_CHECK(kl == e[i].kl && memcmp(k, e[i].k, kl) == 0);
        iter_seek_for_prev(it, e[i].k, e[i].kl); /* an exact key: lands on it */
        FUZZ_CHECK(iter_valid(it));
        k = iter_key(it, &kl);
        FUZZ_CHECK(kl == e[i].kl && memcmp(k, e[i].k, kl) == 0);
        iter_prev(it);
        FUZZ_CHECK(i ? iter_valid(it) : !iter_valid(it) && iter_status(it) == 0);
        if (i) {
            k = iter_key(it, &kl);
            FUZZ_CHECK(kl == e[i - 1].kl && memcmp(k, e[i - 1].k, kl) == 0);
        }
    }
    iter_destroy(it);
    lsm_buf val = {0};
    size_t group = 0; /* first entry of e[i]'s user key */
    for (i = 0; i < n && i < 256; i++) {
        if (!same_user_key(&e[group], &e[i])) group = i;
        uint64_t seq = ikey_seq(e[i].k, e[i].kl);
        size_t j = group; /* newest version <= seq: the first of the group with seq <= it */
        while (ikey_seq(e[j].k, e[j].kl) > seq) j++;
        int rc = sst_reader_get(r, e[i].k, e[i].kl - IKEY_TRAILER, seq, &val);
        if (ikey_kind(e[j].k, e[j].kl) == KIND_VALUE) {
            FUZZ_CHECK(rc == SST_FOUND);
            FUZZ_CHECK(val.len == e[j].vl && (val.len == 0 || memcmp(val.data, e[j].v, val.len) == 0));
        } else {
            FUZZ_CHECK(rc == SST_DELETED);
        }
    }
    /* absent: a user key with a byte no entry uses ('a'..'d' only), and a snapshot too old */
    FUZZ_CHECK(sst_reader_get(r, "z", 1, MAX_SEQUENCE, &val) == SST_NOTFOUND);
    for (i = 0; i < n && i < 64; i++) {
        if (i + 1 < n && same_user_key(&e[i], &e[i + 1])) continue; /* the group's oldest */
        uint64_t seq = ikey_seq(e[i].k, e[i].kl);
        if (seq == 0) continue;
        int rc = sst_reader_get(r, e[i].k, e[i].kl - IKEY_TRAILER, seq - 1, &val);
        FUZZ_CHECK(rc == SST_NOTFOUND);
    }
    free(val.data);
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    FUZZ_CHECK(fp != NULL);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *f = malloc(sz ? (size_t)sz : 1);
    FUZZ_CHECK(fread(f, 1, (size_t)sz, fp) == (size_t)sz);
    fclose(fp);
    *n = (size_t)sz;
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_cache) g_cache = block_cache_new(256 * 1024);
    if (size < 1) return 0;
    int mode = data[0], layout = mode & 3, cached = (mode >> 2) & 1;
    fuzz_src s = {data + 1, size - 1};
    if (layout <= 1) {
        uint8_t *f = malloc(s.n ? s.n : 1);
        if (s.n) memcpy(f, s.p, s.n);
        if (layout == 1) fix_crcs(f, s.n);
        fuzz_src keys = s; /* lookups made of the file's own bytes */
        open_and_walk(f, s.n, cached, &keys);
        free(f);
        return 0;
    }
    uint8_t o = fuzz_u8(&s);
    uint8_t edits[8][3];
    int nedits = layout == 3 ? 1 + fuzz_u8(&s) % 8 : 0;
    for (int i = 0; i < nedits; i++)
        for (int j = 0; j < 3; j++) edits[i][j] = fuzz_u8(&s);
    fuzz_kv *e;
    size_t n = fuzz_kv_make(&s, &e, 2000);
    char path[512];
    snprintf(path, sizeof(path), "%s/b.sst", fuzz_dir());
    build(path, e, n, o);
    if (layout == 2) {
        sst_reader *r;
        FUZZ_CHECK(sst_reader_open(path, ++g_file_number, cached ? g_cache : NULL, &r) == 0);
        check_round_trip(r, e, n);
        sst_reader_unref(r);
    } else {
        size_t fn;
        uint8_t *f = read_file(path, &fn);
        for (int i = 0; i < nedits && fn; i++)
            f[((size_t)edits[i][0] | (size_t)edits[i][1] << 8) % fn] ^= edits[i][2] ? edits[i][2] : 1;
        fix_crcs(f, fn);
        open_and_walk(f, fn, cached, &s);
        free(f);
    }
    fuzz_kv_free(e, n);
    return 0;
}
