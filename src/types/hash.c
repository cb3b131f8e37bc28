/* hash.c - Redis hashes over the collection layer (hash.h). */
#include "hash.h"

#include "config.h"

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
    return coll_get(h, COLL_SUB_MEMBER, f, flen, out);
}

int hash_exists(const coll *h, const void *f, size_t flen) {
    int r = coll_get(h, COLL_SUB_MEMBER, f, flen, &hash_scratch);
    scratch_trim();
    return r;
}

int hash_set(coll *h, const void *f, size_t flen, const void *v, size_t vlen, int exists) {
    if (!h->exists) return LSM_EINVAL;
    if (exists < 0) {
        exists = hash_exists(h, f, flen);
        if (exists < 0) return exists;
    }
    hash_check_length(h, flen);
    hash_check_length(h, vlen);
    int r = coll_put(h, COLL_SUB_MEMBER, f, flen, v, vlen);
    if (r) return r;
    if (exists) return 0;
    coll_count_add(h, 1);
    if (h->enc == COLL_ENC_SMALL && h->count > config.hash_max_listpack_entries)
        coll_set_enc(h, COLL_ENC_BIG);
    r = coll_rand_member_added(h, f, flen);
    return r ? r : 1;
}

int hash_del(coll *h, const void *f, size_t flen) {
    int r = hash_exists(h, f, flen);
    if (r <= 0) return r;
    uint64_t ord = 0;
    if (coll_rand_indexed(h)) {
        r = coll_rand_ordinal(h, f, flen, NULL, 0, &ord);
        if (r == 0) r = LSM_ECORRUPT; /* an indexed hash knows where each field is */
        if (r < 0) return r;
    }
    if ((r = coll_del(h, COLL_SUB_MEMBER, f, flen))) return r;
    coll_count_add(h, -1);
    if ((r = coll_rand_member_removed(h, f, flen, ord))) return r;
    return 1;
}

int hash_save(coll *h) { return coll_save(h); }
