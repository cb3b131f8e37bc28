/* hash.c - Redis hashes over the collection layer (hash.h). */
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

/* existence checks read values we do not need: one buffer, amortized */
static lsm_buf hash_scratch;

static void scratch_trim(void) {
    if (hash_scratch.cap > (64u << 10)) lsm_buf_free(&hash_scratch);
}

int hash_open(coll *h, int db, const char *key, size_t klen, int flags) {
    return coll_open(h, db, key, klen, KTYPE_HASH, flags);
}

int hash_create(coll *h) {
    if (h->exists) return 0;
    return coll_create(h, COLL_ENC_SMALL);
}

void hash_check_length(coll *h, size_t len) {
    if (h->enc == COLL_ENC_SMALL && (long long)len > config.hash_max_listpack_value)
        coll_set_enc(h, COLL_ENC_BIG);
}

int hash_get(const coll *h, const void *f, size_t flen, lsm_buf *out) {
    int r = coll_get(h, COLL_SUB_MEMBER, f, flen, out);
    if (r != 1 || !coll_hash_pos_inline(h)) return r;
    if (out->len < 8) return LSM_ECORRUPT;
    memmove(out->data, out->data + 8, out->len - 8); /* the user's value, without the ordinal */
    out->len -= 8;
    return 1;
}

int hash_exists(const coll *h, const void *f, size_t flen) {
    int r = coll_get(h, COLL_SUB_MEMBER, f, flen, &hash_scratch);
    scratch_trim();
    return r;
}

const char *hash_value(const coll *h, const char *raw, size_t rawlen, size_t *len) {
    *len = rawlen;
    return coll_hash_value(h, &raw, len) ? NULL : raw;
}

int hash_set(coll *h, const void *f, size_t flen, const void *v, size_t vlen, int exists) {
    if (!h->exists) return LSM_EINVAL;
    int inline_pos = coll_hash_pos_inline(h);
    if (exists < 0 || (exists && inline_pos)) { /* the field's record, for its ordinal too */
        exists = coll_get(h, COLL_SUB_MEMBER, f, flen, &hash_scratch);
        if (exists < 0) return exists;
    }
    hash_check_length(h, flen);
    hash_check_length(h, vlen);
    int r;
    if (inline_pos) {
        /* an existing field keeps its ordinal; a new one takes count (count - 1 once added) */
        if (exists && hash_scratch.len < 8) return LSM_ECORRUPT;
        uint64_t ord = exists ? get_be64(hash_scratch.data) : (uint64_t)h->count;
        r = coll_hash_put_inline(h, f, flen, ord, v, vlen);
    } else {
        r = coll_put(h, COLL_SUB_MEMBER, f, flen, v, vlen);
    }
    scratch_trim();
    if (r) return r;
    if (exists) return 0;
    coll_count_add(h, 1);
    if (h->enc == COLL_ENC_SMALL && h->count > config.hash_max_listpack_entries)
        coll_set_enc(h, COLL_ENC_BIG);
    r = coll_rand_member_added(h, f, flen);
    return r ? r : 1;
}

int hash_del(coll *h, const void *f, size_t flen) {
    int r = coll_get(h, COLL_SUB_MEMBER, f, flen, &hash_scratch);
    if (r <= 0) {
        scratch_trim();
        return r;
    }
    uint64_t ord = 0;
    if (coll_rand_indexed(h)) {
        /* a POSINLINE field's record says where it is; older hashes read their 0x03 record */
        r = coll_rand_ordinal(h, f, flen, hash_scratch.data, hash_scratch.len, &ord);
        if (r == 0) r = LSM_ECORRUPT; /* an indexed hash knows where each field is */
    }
    scratch_trim();
    if (r < 0) return r;
    if ((r = coll_del(h, COLL_SUB_MEMBER, f, flen))) return r;
    coll_count_add(h, -1);
    if ((r = coll_rand_member_removed(h, f, flen, ord))) return r;
    return 1;
}

int hash_save(coll *h) { return coll_save(h); }
