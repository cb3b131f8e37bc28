/* block.c - block builder and reader (format in block.h and doc/sstable_format.md):
 *
 *   entry   = shared varint32 || non_shared varint32 || value_len varint32
 *             || key delta (non_shared bytes) || value
 *   trailer = restart offsets fixed32[num_restarts] || num_restarts fixed32
 */
#include "block.h"

#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "dbformat.h"
#include "lsm.h"

/* ---------------------------------------------------------------- builder */

void block_builder_init(block_builder *b, int interval) {
    memset(b, 0, sizeof(*b));
    b->interval = interval < 1 ? 1 : interval;
}

void block_builder_free(block_builder *b) {
    free(b->buf);
    free(b->restarts);
    free(b->last);
    memset(b, 0, sizeof(*b));
}

void block_builder_reset(block_builder *b) {
    b->len = 0;
    b->nrestarts = 0;
    b->counter = 0;
    b->last_len = 0;
    b->entries = 0;
    b->finished = 0;
    b->oom = 0;
}

static int bb_reserve(char **p, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need) n *= 2;
    char *q = realloc(*p, n);
    if (!q) return LSM_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int bb_push_restart(block_builder *b, uint32_t off) {
    if (b->nrestarts == b->rcap) {
        size_t n = b->rcap ? b->rcap * 2 : 64;
        uint32_t *q = realloc(b->restarts, n * sizeof(*q));
        if (!q) return LSM_ENOMEM;
        b->restarts = q;
        b->rcap = n;
    }
    b->restarts[b->nrestarts++] = off;
    return 0;
}

int block_builder_add(block_builder *b, const char *key, size_t klen, const char *val, size_t vlen) {
    size_t shared = 0;
    if (b->counter < b->interval && b->entries > 0) {
        size_t n = klen < b->last_len ? klen : b->last_len;
        while (shared < n && key[shared] == b->last[shared]) shared++;
    } else {
        if (bb_push_restart(b, (uint32_t)b->len)) { b->oom = 1; return LSM_ENOMEM; }
        b->counter = 0;
    }
    size_t non_shared = klen - shared;
    if (bb_reserve(&b->buf, &b->cap, b->len + 15 + non_shared + vlen)) {
        b->oom = 1;
        return LSM_ENOMEM;
    }
    char *p = b->buf + b->len;
    p += encode_varint32(p, (uint32_t)shared);
    p += encode_varint32(p, (uint32_t)non_shared);
    p += encode_varint32(p, (uint32_t)vlen);
    memcpy(p, key + shared, non_shared);
    p += non_shared;
    if (vlen) memcpy(p, val, vlen);
    p += vlen;
    b->len = (size_t)(p - b->buf);
    if (bb_reserve(&b->last, &b->last_cap, klen)) { b->oom = 1; return LSM_ENOMEM; }
    memcpy(b->last + shared, key + shared, non_shared);
    b->last_len = klen;
    b->counter++;
    b->entries++;
    return 0;
}

size_t block_builder_size(const block_builder *b) {
    if (b->finished) return b->len;
    size_t nr = b->nrestarts ? b->nrestarts : 1;
    return b->len + nr * 4 + 4;
}

const char *block_builder_finish(block_builder *b, size_t *len) {
    if (b->oom) return NULL;
    if (!b->finished) {
        /* an empty block still has one restart (offset 0) so the reader's checks hold */
        if (b->nrestarts == 0 && bb_push_restart(b, 0)) return NULL;
        if (bb_reserve(&b->buf, &b->cap, b->len + b->nrestarts * 4 + 4)) return NULL;
        for (size_t i = 0; i < b->nrestarts; i++) {
            encode_fixed32(b->buf + b->len, b->restarts[i]);
            b->len += 4;
        }
        encode_fixed32(b->buf + b->len, (uint32_t)b->nrestarts);
        b->len += 4;
        b->finished = 1;
    }
    *len = b->len;
    return b->buf;
}

/* ---------------------------------------------------------------- reader */

int block_parse(block *b, const char *data, size_t size) {
    memset(b, 0, sizeof(*b));
    if (size < 4 || size > UINT32_MAX) return LSM_ECORRUPT;
    uint32_t n = decode_fixed32(data + size - 4);
    if (n == 0 || (uint64_t)n * 4 + 4 > size) return LSM_ECORRUPT;
    b->data = data;
    b->size = size;
    b->num_restarts = n;
    b->restarts = (uint32_t)(size - 4 - (size_t)n * 4);
    return 0;
}

void block_iter_init(block_iter *it, const block *b) {
    it->key = it->kinline;
    it->kcap = sizeof(it->kinline);
    it->klen = 0;
    it->pents = NULL;
    it->pkeys = NULL;
    it->pcap = 0;
    it->pkcap = 0;
    block_iter_reset(it, b);
}

void block_iter_reset(block_iter *it, const block *b) {
    if (b) {
        it->data = b->data;
        it->restarts = b->restarts;
        it->num_restarts = b->num_restarts;
    } else {
        it->data = NULL;
        it->restarts = 0;
        it->num_restarts = 0;
    }
    it->cur = it->restarts;
    it->next_off = it->restarts;
    it->val = NULL;
    it->vlen = 0;
    it->status = 0;
    it->klen = 0;
    it->pidx = -1;
}

void block_iter_cleanup(block_iter *it) {
    if (it->key != it->kinline) free(it->key);
    it->key = it->kinline;
    it->kcap = sizeof(it->kinline);
    it->klen = 0;
    free(it->pents);
    free(it->pkeys);
    it->pents = NULL;
    it->pkeys = NULL;
    it->pcap = 0;
    it->pkcap = 0;
    it->pidx = -1;
}

static inline uint32_t restart_point(const block_iter *it, uint32_t i) {
    return decode_fixed32(it->data + it->restarts + (size_t)i * 4);
}

/* Decodes an entry header at p (< limit). Returns the key delta start or NULL if malformed. */
static inline const char *decode_entry(const char *p, const char *limit, uint32_t *shared,
                                       uint32_t *non_shared, uint32_t *vlen) {
    if (limit - p < 3) return NULL;
    uint32_t a = (unsigned char)p[0], b = (unsigned char)p[1], c = (unsigned char)p[2];
    if ((a | b | c) < 128) {
        *shared = a;
        *non_shared = b;
        *vlen = c;
        p += 3;
    } else {
        if (!(p = decode_varint32(p, limit, shared))) return NULL;
        if (!(p = decode_varint32(p, limit, non_shared))) return NULL;
        if (!(p = decode_varint32(p, limit, vlen))) return NULL;
    }
    if ((uint64_t)(limit - p) < (uint64_t)*non_shared + *vlen) return NULL;
    return p;
}

static void corrupt(block_iter *it) {
    it->status = LSM_ECORRUPT;
    it->cur = it->restarts;
    it->next_off = it->restarts;
    it->klen = 0;
    it->val = NULL;
    it->vlen = 0;
}

static int key_reserve(block_iter *it, size_t need) {
    if (need <= it->kcap) return 0;
    size_t n = it->kcap * 2;
    while (n < need) n *= 2;
    char *q = malloc(n);
    if (!q) return LSM_ENOMEM;
    memcpy(q, it->key, it->klen);
    if (it->key != it->kinline) free(it->key);
    it->key = q;
    it->kcap = n;
    return 0;
}

/* Parses the entry at next_off into the current position. 0 = at end or error. */
static inline int parse_next(block_iter *it) {
    if (it->next_off >= it->restarts) {
        it->cur = it->restarts;
        it->klen = 0;
        return 0;
    }
    const char *p = it->data + it->next_off;
    const char *limit = it->data + it->restarts;
    uint32_t shared, non_shared, vlen;
    p = decode_entry(p, limit, &shared, &non_shared, &vlen);
    if (!p || shared > it->klen) {
        corrupt(it);
        return 0;
    }
    size_t klen = (size_t)shared + non_shared;
    if (klen > it->kcap && key_reserve(it, klen)) {
        it->status = LSM_ENOMEM;
        it->cur = it->restarts;
        return 0;
    }
    memcpy(it->key + shared, p, non_shared);
    it->klen = klen;
    it->cur = it->next_off;
    it->val = p + non_shared;
    it->vlen = vlen;
    it->next_off = (uint32_t)(it->val + vlen - it->data);
    return 1;
}

void block_iter_seek_first(block_iter *it) {
    if (it->status) return;
    it->klen = 0;
    it->next_off = it->num_restarts ? restart_point(it, 0) : it->restarts;
    if (it->next_off > it->restarts) { corrupt(it); return; }
    parse_next(it);
}

void block_iter_next(block_iter *it) {
    if (!block_iter_valid(it)) return;
    parse_next(it);
}

/* Starts loading the restart keys the binary search below will compare, so their cache misses
 * overlap instead of following one another: every restart key of a small block (a 16 KiB block
 * of ~100-byte entries has ~8), else those of the search's first three levels. */
static void prefetch_search(const block_iter *it) {
    uint32_t n = it->num_restarts;
    if (n <= 32) {
        for (uint32_t i = 1; i < n; i++) {
            uint32_t off = restart_point(it, i);
            if (off < it->restarts) cpu_prefetch(it->data + off);
        }
        return;
    }
    for (uint32_t d = 2; d <= 8; d *= 2)
        for (uint32_t j = 1; j < d; j += 2) {
            uint32_t off = restart_point(it, (uint32_t)((uint64_t)n * j / d));
            if (off < it->restarts) cpu_prefetch(it->data + off);
        }
}

void block_iter_seek(block_iter *it, const char *ikey, size_t ikl) {
    if (it->status || it->num_restarts == 0) return;
    const char *limit = it->data + it->restarts;
    prefetch_search(it);
    /* binary search: the last restart whose key is < ikey (restart keys are stored whole) */
    uint32_t lo = 0, hi = it->num_restarts - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        uint32_t off = restart_point(it, mid);
        uint32_t shared, non_shared, vlen;
        const char *k = off < it->restarts ? decode_entry(it->data + off, limit, &shared,
                                                          &non_shared, &vlen) : NULL;
        if (!k || shared != 0 || non_shared < IKEY_TRAILER) { corrupt(it); return; }
        if (ikey_compare(k, non_shared, ikey, ikl) < 0) lo = mid;
        else hi = mid - 1;
    }
    it->klen = 0;
    it->next_off = restart_point(it, lo);
    if (it->next_off > it->restarts) { corrupt(it); return; }
    {   /* the scan reads the interval's entries in order: load all their lines at once */
        uint32_t end = lo + 1 < it->num_restarts ? restart_point(it, lo + 1) : it->restarts;
        if (end > it->restarts) end = it->restarts;
        for (uint32_t off = (it->next_off & ~63u) + 64; off < end && off < it->next_off + 2048;
             off += 64)
            cpu_prefetch(it->data + off);
    }
    /* linear scan inside the restart interval (and past it, when every key there is < ikey) */
    while (parse_next(it)) {
        if (it->klen < IKEY_TRAILER) { corrupt(it); return; }
        if (ikey_compare(it->key, it->klen, ikey, ikl) >= 0) return;
    }
}

void block_iter_seek_last(block_iter *it) {
    if (it->status) return;
    it->klen = 0;
    if (it->num_restarts == 0) {
        it->cur = it->next_off = it->restarts;
        return;
    }
    it->next_off = restart_point(it, it->num_restarts - 1);
    if (it->next_off > it->restarts) { corrupt(it); return; }
    while (parse_next(it) && it->next_off < it->restarts) {
    }
}

/* Appends the current entry to the prev() cache as its entry n (*kused key bytes so far).
 * 0 when out of memory (the scan goes on uncached). */
static int prev_cache_add(block_iter *it, uint32_t n, size_t *kused) {
    if (n == it->pcap) {
        uint32_t nc = it->pcap ? it->pcap * 2 : 16;
        block_prev_ent *p = realloc(it->pents, nc * sizeof(*p));
        if (!p) return 0;
        it->pents = p;
        it->pcap = nc;
    }
    if (*kused + it->klen > it->pkcap) {
        size_t nc = it->pkcap ? it->pkcap : 512;
        while (nc < *kused + it->klen) nc *= 2;
        char *p = realloc(it->pkeys, nc);
        if (!p) return 0;
        it->pkeys = p;
        it->pkcap = nc;
    }
    block_prev_ent *e = &it->pents[n];
    e->off = it->cur;
    e->next_off = it->next_off;
    e->voff = (uint32_t)(it->val - it->data);
    e->vlen = it->vlen;
    e->koff = (uint32_t)*kused;
    e->klen = (uint32_t)it->klen;
    if (it->klen) memcpy(it->pkeys + *kused, it->key, it->klen); /* pkeys: NULL until needed */
    *kused += it->klen;
    return 1;
}

void block_iter_prev(block_iter *it) {
    if (!block_iter_valid(it)) return;
    uint32_t orig = it->cur;
    if (it->pidx > 0 && it->pents[it->pidx].off == orig) {
        /* the predecessor was decoded by the scan that reached the current entry (the cache
         * describes this block: reset drops it, and a block's entries never change) */
        const block_prev_ent *e = &it->pents[--it->pidx];
        if (e->klen > it->kcap && key_reserve(it, e->klen)) {
            it->status = LSM_ENOMEM;
            it->cur = it->restarts;
            return;
        }
        if (e->klen) memcpy(it->key, it->pkeys + e->koff, e->klen);
        it->klen = e->klen;
        it->cur = e->off;
        it->next_off = e->next_off;
        it->val = it->data + e->voff;
        it->vlen = e->vlen;
        return;
    }
    /* restarts [0, lo) start before the current entry: the last of them holds its predecessor */
    uint32_t lo = 0, hi = it->num_restarts;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (restart_point(it, mid) < orig) lo = mid + 1;
        else hi = mid;
    }
    it->klen = 0;
    if (lo == 0) { /* the current entry is the first: nothing before it */
        it->cur = it->next_off = it->restarts;
        return;
    }
    it->next_off = restart_point(it, lo - 1);
    it->pidx = -1;
    uint32_t n = 0;
    size_t kused = 0;
    int caching = 1;
    do {
        if (!parse_next(it)) {
            if (!it->status) corrupt(it); /* ran past the entries: they do not line up */
            return;
        }
        if (caching && (caching = prev_cache_add(it, n, &kused))) n++;
    } while (it->next_off < orig);
    if (it->next_off != orig) corrupt(it); /* an entry straddles where the current one began */
    else if (caching) it->pidx = (int)n - 1;
}

void block_iter_seek_to_restart(block_iter *it, uint32_t i) {
    if (it->status) return;
    it->klen = 0;
    if (i >= it->num_restarts) {
        it->cur = it->next_off = it->restarts;
        return;
    }
    it->next_off = restart_point(it, i);
    if (it->next_off > it->restarts) { corrupt(it); return; }
    parse_next(it);
}

int block_restart_key(const block *b, uint32_t i, const char **key, size_t *klen) {
    if (i >= b->num_restarts) return LSM_ECORRUPT;
    uint32_t off = decode_fixed32(b->data + b->restarts + (size_t)i * 4);
    if (off >= b->restarts) return LSM_ECORRUPT;
    uint32_t shared, non_shared, vlen;
    const char *k = decode_entry(b->data + off, b->data + b->restarts, &shared, &non_shared, &vlen);
    if (!k || shared != 0) return LSM_ECORRUPT;
    *key = k;
    *klen = non_shared;
    return 0;
}
