/* test_batch.c - write batch payload: encode/decode, counter merging, validation of garbage. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "coding.h"
#include "dbformat.h"
#include "lsm.h"

typedef struct rec {
    int nops;
    uint64_t seq[16];
    int kind[16];
    char key[16][32];
    size_t kl[16];
    char val[16][32];
    size_t vl[16];
    int nctr;
    int idx[70];
    int64_t delta[70];
    int stop_after; /* return 99 from the op callback at this op index (-1: never) */
} rec;

static int on_op(void *ctx, uint64_t seq, int kind, const char *key, size_t klen,
                 const char *val, size_t vlen) {
    rec *r = ctx;
    if (r->nops == r->stop_after) return 99;
    int i = r->nops++;
    r->seq[i] = seq;
    r->kind[i] = kind;
    memcpy(r->key[i], key, klen);
    r->kl[i] = klen;
    if (vlen) memcpy(r->val[i], val, vlen);
    r->vl[i] = vlen;
    return 0;
}
static void on_ctr(void *ctx, int idx, int64_t delta) {
    rec *r = ctx;
    r->idx[r->nctr] = idx;
    r->delta[r->nctr++] = delta;
}

static void collect(const lsm_batch *b, rec *r) {
    memset(r, 0, sizeof *r);
    r->stop_after = -1;
    cr_assert_eq(batch_iterate(b, on_op, on_ctr, r), 0);
}

Test(batch, new_batch_is_empty_and_encodes_minimal_payload) {
    lsm_batch *b = lsm_batch_new();
    cr_assert_eq(lsm_batch_count(b), 0);
    size_t len;
    const char *d = batch_data(b, &len);
    cr_assert_eq(len, 13); /* seq(8) + count(4) + counter_count varint 0 */
    cr_assert_eq(decode_fixed32(d + 8), 0);
    cr_assert_eq(d[12], 0);
    lsm_batch_free(b);
}

Test(batch, payload_layout_matches_documented_example) {
    lsm_batch *b = lsm_batch_new();
    cr_assert_eq(lsm_batch_put(b, "k1", 2, "v", 1), 0);
    cr_assert_eq(lsm_batch_delete(b, "k2", 2), 0);
    cr_assert_eq(lsm_batch_counter_add(b, 3, -2), 0);
    batch_set_sequence(b, 0x0102);
    size_t len;
    const char *d = batch_data(b, &len);
    static const unsigned char want[] = {
        0x02, 0x01, 0, 0, 0, 0, 0, 0, /* first_sequence 0x102 */
        0x02, 0, 0, 0,                /* op_count 2 */
        0x01, 0x02, 'k', '1', 0x01, 'v', /* VALUE k1 = v */
        0x00, 0x02, 'k', '2',         /* DELETE k2 */
        0x01,                         /* one counter */
        0x03, 0x03,                   /* idx 3, zigzag(-2) = 3 */
    };
    cr_assert_eq(len, sizeof want);
    cr_assert(memcmp(d, want, len) == 0);
    lsm_batch_free(b);
}

Test(batch, encode_decode_round_trip_with_sequences) {
    lsm_batch *b = lsm_batch_new();
    cr_assert_eq(lsm_batch_put(b, "alpha", 5, "one", 3), 0);
    cr_assert_eq(lsm_batch_put(b, "", 0, "emptykey", 8), 0);
    cr_assert_eq(lsm_batch_put(b, "e", 1, "", 0), 0); /* empty value stays a VALUE */
    cr_assert_eq(lsm_batch_delete(b, "gone", 4), 0);
    cr_assert_eq(lsm_batch_counter_add(b, 0, 5), 0);
    cr_assert_eq(lsm_batch_counter_add(b, 63, INT64_MIN), 0);
    batch_set_sequence(b, 1000);
    cr_assert_eq(lsm_batch_count(b), 4);
    cr_assert_eq(batch_user_bytes(b), 5 + 3 + 8 + 1 + 4);
    size_t len;
    const char *d = batch_data(b, &len);
    char *copy = malloc(len);
    memcpy(copy, d, len);

    lsm_batch *c = lsm_batch_new();
    cr_assert_eq(batch_set_data(c, copy, len), 0);
    free(copy);
    cr_assert_eq(batch_sequence(c), 1000);
    cr_assert_eq(lsm_batch_count(c), 4);
    cr_assert_eq(batch_user_bytes(c), batch_user_bytes(b));
    rec r;
    collect(c, &r);
    cr_assert_eq(r.nops, 4);
    uint64_t seqs[] = {1000, 1001, 1002, 1003};
    int kinds[] = {KIND_VALUE, KIND_VALUE, KIND_VALUE, KIND_DELETE};
    const char *keys[] = {"alpha", "", "e", "gone"};
    const char *vals[] = {"one", "emptykey", "", ""};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(r.seq[i], seqs[i]);
        cr_assert_eq(r.kind[i], kinds[i]);
        cr_assert_eq(r.kl[i], strlen(keys[i]));
        cr_assert(memcmp(r.key[i], keys[i], r.kl[i]) == 0);
        cr_assert_eq(r.vl[i], strlen(vals[i]));
        cr_assert(memcmp(r.val[i], vals[i], r.vl[i]) == 0);
    }
    cr_assert_eq(r.nctr, 2);
    cr_assert_eq(r.idx[0], 0);
    cr_assert_eq(r.delta[0], 5);
    cr_assert_eq(r.idx[1], 63);
    cr_assert_eq(r.delta[1], INT64_MIN);
    /* re-encoding the decoded batch gives the same bytes */
    size_t len2;
    const char *d2 = batch_data(c, &len2);
    const char *d1 = batch_data(b, &len);
    cr_assert_eq(len2, len);
    cr_assert(memcmp(d1, d2, len) == 0);
    lsm_batch_free(b);
    lsm_batch_free(c);
}

Test(batch, counters_for_same_idx_are_merged) {
    lsm_batch *b = lsm_batch_new();
    lsm_batch_counter_add(b, 7, 3);
    lsm_batch_counter_add(b, 2, 1);
    lsm_batch_counter_add(b, 7, 4);
    lsm_batch_counter_add(b, 7, -10);
    lsm_batch_counter_add(b, 5, 1);
    lsm_batch_counter_add(b, 5, -1); /* nets to zero: omitted */
    rec r;
    collect(b, &r);
    cr_assert_eq(r.nctr, 2);
    cr_assert_eq(r.idx[0], 2);
    cr_assert_eq(r.delta[0], 1);
    cr_assert_eq(r.idx[1], 7);
    cr_assert_eq(r.delta[1], -3);
    size_t len;
    const char *d = batch_data(b, &len);
    cr_assert_eq(len, 12 + 1 + 2 * 2);
    cr_assert_eq(d[12], 2);
    lsm_batch_free(b);
}

Test(batch, counter_idx_out_of_range_is_einval) {
    lsm_batch *b = lsm_batch_new();
    cr_assert_eq(lsm_batch_counter_add(b, -1, 1), LSM_EINVAL);
    cr_assert_eq(lsm_batch_counter_add(b, LSM_MAX_COUNTERS, 1), LSM_EINVAL);
    cr_assert_eq(lsm_batch_counter_add(b, LSM_MAX_COUNTERS - 1, 1), 0);
    lsm_batch_free(b);
}

Test(batch, counter_only_batch_has_zero_ops) {
    lsm_batch *b = lsm_batch_new();
    lsm_batch_counter_add(b, 1, 42);
    cr_assert_eq(lsm_batch_count(b), 0);
    size_t len;
    const char *d = batch_data(b, &len);
    lsm_batch *c = lsm_batch_new();
    cr_assert_eq(batch_set_data(c, d, len), 0);
    rec r;
    collect(c, &r);
    cr_assert_eq(r.nops, 0);
    cr_assert_eq(r.nctr, 1);
    cr_assert_eq(r.delta[0], 42);
    lsm_batch_free(b);
    lsm_batch_free(c);
}

Test(batch, clear_resets_ops_counters_and_sequence) {
    lsm_batch *b = lsm_batch_new();
    lsm_batch_put(b, "k", 1, "v", 1);
    lsm_batch_counter_add(b, 9, 9);
    batch_set_sequence(b, 77);
    lsm_batch_clear(b);
    cr_assert_eq(lsm_batch_count(b), 0);
    cr_assert_eq(batch_sequence(b), 0);
    cr_assert_eq(batch_user_bytes(b), 0);
    rec r;
    collect(b, &r);
    cr_assert_eq(r.nops, 0);
    cr_assert_eq(r.nctr, 0);
    lsm_batch_put(b, "x", 1, "y", 1); /* reusable */
    cr_assert_eq(lsm_batch_count(b), 1);
    lsm_batch_free(b);
}

Test(batch, iterate_stops_at_callback_error) {
    lsm_batch *b = lsm_batch_new();
    for (int i = 0; i < 5; i++) lsm_batch_put(b, "k", 1, "v", 1);
    lsm_batch_counter_add(b, 1, 1);
    rec r;
    memset(&r, 0, sizeof r);
    r.stop_after = 2;
    cr_assert_eq(batch_iterate(b, on_op, on_ctr, &r), 99);
    cr_assert_eq(r.nops, 2);
    cr_assert_eq(r.nctr, 0); /* counters come after all ops */
    lsm_batch_free(b);
}

Test(batch, large_batch_grows_buffer_and_clear_shrinks_it) {
    lsm_batch *b = lsm_batch_new();
    char v[1000];
    memset(v, 'z', sizeof v);
    for (int i = 0; i < 2000; i++) cr_assert_eq(lsm_batch_put(b, &i, sizeof i, v, sizeof v), 0);
    lsm_batch_counter_add(b, 0, 2000);
    size_t len;
    const char *d = batch_data(b, &len);
    cr_assert_gt(len, 2000u * 1000);
    lsm_batch *c = lsm_batch_new();
    cr_assert_eq(batch_set_data(c, d, len), 0);
    cr_assert_eq(lsm_batch_count(c), 2000);
    /* clear after a huge batch shrinks the buffer; the batch stays usable */
    lsm_batch_clear(b);
    cr_assert_eq(lsm_batch_put(b, "k", 1, "v", 1), 0);
    d = batch_data(b, &len);
    cr_assert_eq(batch_set_data(c, d, len), 0);
    cr_assert_eq(lsm_batch_count(c), 1);
    lsm_batch_free(b);
    lsm_batch_free(c);
}

static const char *sample(size_t *len, lsm_batch **keep) {
    lsm_batch *b = lsm_batch_new();
    lsm_batch_put(b, "key-one", 7, "value-one", 9);
    lsm_batch_delete(b, "k2", 2);
    lsm_batch_put(b, "", 0, "", 0);
    char big[300];
    memset(big, 'b', sizeof big); /* 2-byte varint length */
    lsm_batch_put(b, "big", 3, big, sizeof big);
    lsm_batch_counter_add(b, 0, 1);
    lsm_batch_counter_add(b, 40, -123456789012345);
    batch_set_sequence(b, 123456789);
    *keep = b;
    return batch_data(b, len);
}

Test(batch, truncated_payload_at_every_byte_is_corrupt) {
    lsm_batch *src;
    size_t len;
    const char *d = sample(&len, &src);
    lsm_batch *c = lsm_batch_new();
    for (size_t cut = 0; cut < len; cut++) {
        char *p = malloc(cut ? cut : 1); /* exact size: ASAN catches any over-read */
        memcpy(p, d, cut);
        cr_assert_eq(batch_set_data(c, p, cut), LSM_ECORRUPT, "cut %zu", cut);
        free(p);
    }
    cr_assert_eq(batch_set_data(c, NULL, 0), LSM_ECORRUPT);
    char *p = malloc(len);
    memcpy(p, d, len);
    cr_assert_eq(batch_set_data(c, p, len), 0);
    free(p);
    lsm_batch_free(c);
    lsm_batch_free(src);
}

Test(batch, trailing_garbage_is_corrupt) {
    lsm_batch *src;
    size_t len;
    const char *d = sample(&len, &src);
    char *p = malloc(len + 1);
    memcpy(p, d, len);
    p[len] = 0;
    lsm_batch *c = lsm_batch_new();
    cr_assert_eq(batch_set_data(c, p, len + 1), LSM_ECORRUPT);
    free(p);
    lsm_batch_free(c);
    lsm_batch_free(src);
}

Test(batch, failed_set_data_leaves_batch_unchanged) {
    lsm_batch *c = lsm_batch_new();
    lsm_batch_put(c, "keep", 4, "me", 2);
    cr_assert_eq(batch_set_data(c, "short", 5), LSM_ECORRUPT);
    rec r;
    collect(c, &r);
    cr_assert_eq(r.nops, 1);
    cr_assert_eq(r.kl[0], 4);
    lsm_batch_free(c);
}

Test(batch, bad_kind_huge_lengths_and_bad_counter_idx_are_corrupt) {
    lsm_batch *c = lsm_batch_new();
    char p[64];
    memset(p, 0, sizeof p);
    /* op_count 1, kind 2 */
    encode_fixed32(p + 8, 1);
    p[12] = 2; p[13] = 0; p[14] = 0;
    cr_assert_eq(batch_set_data(c, p, 15), LSM_ECORRUPT);
    /* key length varint claims 2^63 */
    p[12] = KIND_DELETE;
    size_t n = encode_varint64(p + 13, (uint64_t)1 << 63);
    p[13 + n] = 0;
    cr_assert_eq(batch_set_data(c, p, 13 + n + 1), LSM_ECORRUPT);
    /* op_count 2^32-1 with one op present */
    encode_fixed32(p + 8, UINT32_MAX);
    p[13] = 1; p[14] = 'k'; p[15] = 0;
    cr_assert_eq(batch_set_data(c, p, 16), LSM_ECORRUPT);
    /* counter idx 64 */
    encode_fixed32(p + 8, 0);
    p[12] = 1; p[13] = 64; p[14] = 2;
    cr_assert_eq(batch_set_data(c, p, 15), LSM_ECORRUPT);
    p[13] = 63; /* the same payload with idx 63 is valid */
    cr_assert_eq(batch_set_data(c, p, 15), 0);
    /* huge counter_count */
    n = encode_varint64(p + 12, UINT64_MAX);
    cr_assert_eq(batch_set_data(c, p, 12 + n), LSM_ECORRUPT);
    lsm_batch_free(c);
}

static int touch_op(void *ctx, uint64_t seq, int kind, const char *key, size_t klen,
                    const char *val, size_t vlen) {
    unsigned *sink = ctx;
    (void)seq;
    (void)kind;
    for (size_t i = 0; i < klen; i++) *sink += (unsigned char)key[i];
    for (size_t i = 0; i < vlen; i++) *sink += (unsigned char)val[i];
    return 0;
}
static void touch_ctr(void *ctx, int idx, int64_t delta) {
    cr_assert(idx >= 0 && idx < LSM_MAX_COUNTERS);
    *(unsigned *)ctx += (unsigned)delta;
}

Test(batch, random_byte_flips_never_read_out_of_bounds) {
    unsigned sink = 0;
    lsm_batch *c = lsm_batch_new();
    uint64_t s = 12345;
    lsm_batch *src;
    size_t len;
    const char *d = sample(&len, &src);
    for (int t = 0; t < 20000; t++) {
        char *p = malloc(len);
        memcpy(p, d, len);
        /* flip 1-3 random bytes of a valid payload */
        int flips = 1 + t % 3;
        for (int f = 0; f < flips; f++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            p[s % len] ^= (char)(1 + (s >> 32) % 255);
        }
        int rc = batch_set_data(c, p, len);
        cr_assert(rc == 0 || rc == LSM_ECORRUPT);
        if (rc == 0) /* whatever was accepted must iterate within bounds (ASAN checks) */
            cr_assert_eq(batch_iterate(c, touch_op, touch_ctr, &sink), 0);
        free(p);
    }
    lsm_batch_free(c);
    lsm_batch_free(src);
}
