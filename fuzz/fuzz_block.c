/* fuzz_block.c - libFuzzer target for the block reader (src/lsm/block.c): the format of an
 * SSTable's data, index and properties blocks (prefix-compressed entries + restart array).
 *
 * Input: mode(1) || rest.
 *   mode bit 0 clear: the rest is a block's contents as read from disk. block_parse, then a
 *     full scan (seek_first/next), every restart point (seek_to_restart, block_restart_key),
 *     and seeks to keys seen in the scan and to keys taken from the input; a backward scan
 *     (seek_last/prev) and a prev and a next after each seek. Invariants: every returned key
 *     and value is readable (ASan); a seek lands on a key >= its target (or is invalid); the
 *     scans end (entries are at least 3 bytes; prev only ever moves to an earlier offset).
 *   mode bit 0 set: round trip. Entries taken from the rest (fuzz_util.h) are built with the
 *     real block_builder (restart interval 1 + mode >> 4) and read back: the scan yields exactly
 *     them, in ascending internal-key order, and backward exactly them reversed; a seek to each
 *     key finds it and a prev from there the key before; a seek past the last key is invalid
 *     with status 0. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "dbformat.h"
#include "fuzz_util.h"
#include "lsm.h"

#define MAX_SEEKS 16

static void touch_entry(block_iter *it) {
    if (!block_iter_valid(it)) return;
    size_t kl, vl;
    fuzz_touch(block_iter_key(it, &kl), kl);
    fuzz_touch(block_iter_value(it, &vl), vl);
}

static void check_seek(block_iter *it, const char *t, size_t tl) {
    block_iter_seek(it, t, tl);
    if (block_iter_valid(it)) {
        size_t kl;
        const char *k = block_iter_key(it, &kl);
        FUZZ_CHECK(kl >= IKEY_TRAILER);
        FUZZ_CHECK(ikey_compare(k, kl, t, tl) >= 0);
        size_t vl;
        fuzz_touch(block_iter_value(it, &vl), vl);
        uint32_t at = it->cur;
        block_iter_prev(it);
        FUZZ_CHECK(!block_iter_valid(it) || it->cur < at);
        touch_entry(it);
        block_iter_next(it);
        touch_entry(it);
    }
}

static void raw_block(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1); /* exactly the block: ASan sees any overread */
    if (size) memcpy(buf, data, size);
    block b;
    if (block_parse(&b, buf, size) != 0) {
        free(buf);
        return;
    }
    FUZZ_CHECK(b.restarts <= size && (uint64_t)b.restarts + 4ull * b.num_restarts + 4 == size);
    char *seen[MAX_SEEKS];
    size_t seenl[MAX_SEEKS], nseen = 0, steps = 0;
    block_iter it;
    block_iter_init(&it, &b);
    for (block_iter_seek_first(&it); block_iter_valid(&it); block_iter_next(&it)) {
        size_t kl, vl;
        const char *k = block_iter_key(&it, &kl);
        fuzz_touch(k, kl);
        fuzz_touch(block_iter_value(&it, &vl), vl);
        FUZZ_CHECK(++steps <= size / 3);
        if (kl >= IKEY_TRAILER && nseen < MAX_SEEKS) {
            seen[nseen] = malloc(kl);
            memcpy(seen[nseen], k, kl);
            seenl[nseen++] = kl;
        }
    }
    FUZZ_CHECK(it.status == 0 || it.status == LSM_ECORRUPT || it.status == LSM_ENOMEM);
    block_iter_reset(&it, &b);
    steps = 0;
    uint32_t last = UINT32_MAX;
    for (block_iter_seek_last(&it); block_iter_valid(&it); block_iter_prev(&it)) {
        touch_entry(&it);
        FUZZ_CHECK(it.cur < last); /* strictly backward: the scan ends */
        last = it.cur;
        FUZZ_CHECK(++steps <= size / 3);
    }
    FUZZ_CHECK(it.status == 0 || it.status == LSM_ECORRUPT || it.status == LSM_ENOMEM);
    for (uint32_t i = 0; i < b.num_restarts && i < 64; i++) {
        block_iter_reset(&it, &b);
        block_iter_seek_to_restart(&it, i);
        if (block_iter_valid(&it)) {
            size_t kl;
            fuzz_touch(block_iter_key(&it, &kl), kl);
        }
        const char *rk;
        size_t rkl;
        if (block_restart_key(&b, i, &rk, &rkl) == 0) fuzz_touch(rk, rkl);
    }
    for (size_t i = 0; i < nseen; i++) {
        block_iter_reset(&it, &b);
        check_seek(&it, seen[i], seenl[i]);
        free(seen[i]);
    }
    /* targets made of the block's own bytes */
    for (size_t off = 0; off + IKEY_TRAILER <= size && off < 8 * 16; off += 16) {
        block_iter_reset(&it, &b);
        check_seek(&it, buf + off, size - off < 24 ? size - off : 24);
    }
    block_iter_cleanup(&it);
    free(buf);
}

static void round_trip(const uint8_t *data, size_t size, int interval) {
    fuzz_src s = {data, size};
    fuzz_kv *e;
    size_t n = fuzz_kv_make(&s, &e, 512);
    block_builder bb;
    block_builder_init(&bb, interval);
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(block_builder_add(&bb, e[i].k, e[i].kl, e[i].v, e[i].vl) == 0);
    size_t len;
    const char *contents = block_builder_finish(&bb, &len);
    FUZZ_CHECK(contents != NULL);
    char *buf = malloc(len);
    memcpy(buf, contents, len);
    block b;
    FUZZ_CHECK(block_parse(&b, buf, len) == 0);
    block_iter it;
    block_iter_init(&it, &b);
    size_t i = 0;
    for (block_iter_seek_first(&it); block_iter_valid(&it); block_iter_next(&it), i++) {
        size_t kl, vl;
        const char *k = block_iter_key(&it, &kl);
        const char *v = block_iter_value(&it, &vl);
        FUZZ_CHECK(i < n && kl == e[i].kl && memcmp(k, e[i].k, kl) == 0);
        FUZZ_CHECK(vl == e[i].vl && (vl == 0 || memcmp(v, e[i].v, vl) == 0));
    }
    FUZZ_CHECK(it.status == 0 && i == n);
    i = n;
    for (block_iter_seek_last(&it); block_iter_valid(&it); block_iter_prev(&it)) {
        size_t kl, vl;
        const char *k = block_iter_key(&it, &kl);
        const char *v = block_iter_value(&it, &vl);
        FUZZ_CHECK(i > 0);
        i--;
        FUZZ_CHECK(kl == e[i].kl && memcmp(k, e[i].k, kl) == 0);
        FUZZ_CHECK(vl == e[i].vl && (vl == 0 || memcmp(v, e[i].v, vl) == 0));
    }
    FUZZ_CHECK(it.status == 0 && i == 0);
    for (i = 0; i < n; i++) {
        block_iter_reset(&it, &b);
        block_iter_seek(&it, e[i].k, e[i].kl);
        size_t kl;
        FUZZ_CHECK(block_iter_valid(&it));
        const char *k = block_iter_key(&it, &kl);
        FUZZ_CHECK(kl == e[i].kl && memcmp(k, e[i].k, kl) == 0);
        block_iter_prev(&it);
        if (i == 0) {
            FUZZ_CHECK(!block_iter_valid(&it) && it.status == 0);
            continue;
        }
        FUZZ_CHECK(block_iter_valid(&it));
        k = block_iter_key(&it, &kl);
        FUZZ_CHECK(kl == e[i - 1].kl && memcmp(k, e[i - 1].k, kl) == 0);
    }
    if (n) { /* past the last key: the largest user key with a longer name */
        char u[32], past[48];
        size_t ul = e[n - 1].kl - IKEY_TRAILER;
        memcpy(u, e[n - 1].k, ul);
        u[ul] = '\xff';
        size_t pl = ikey_encode(past, u, ul + 1, 0, KIND_VALUE);
        block_iter_reset(&it, &b);
        block_iter_seek(&it, past, pl);
        FUZZ_CHECK(!block_iter_valid(&it) && it.status == 0);
    }
    block_iter_cleanup(&it);
    free(buf);
    block_builder_free(&bb);
    fuzz_kv_free(e, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0];
    if (mode & 1) round_trip(data + 1, size - 1, 1 + (mode >> 4));
    else raw_block(data + 1, size - 1);
    return 0;
}
