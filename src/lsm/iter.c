/* iter.c - merging (binary min-heap), level, and user-view iterators. See iter.h. */
#include "iter.h"

#include <stdlib.h>
#include <string.h>

#include "dbformat.h"
#include "lsm.h"
#include "sst_reader.h"

/* The direction switches, out of line so that next()'s path stays as lean as before they
 * existed (a switch is rare; inlined into next/prev it would cost every call registers). */
#define ITER_SWITCH __attribute__((noinline, cold))

/* ---------------- merging iterator ----------------
 * Forward: a min-heap of the valid children, each child positioned at its first entry after
 * the current one (in (key, child index) order); next() advances the top child and sifts it.
 * Reverse: a max-heap, each child at its last entry before the current one; prev() steps the
 * top child back. Switching direction repositions every child but the current one from the
 * current key (a seek each), like LevelDB's MergingIterator: O(children * seek) once per switch,
 * nothing extra while the direction stays. */

typedef struct merging_iter {
    internal_iter base;
    internal_iter **kids;
    int n;
    int *heap;      /* indices into kids: min-heap (forward) or max-heap (reverse) by current key */
    int hn;
    const char **key; /* key[i], klen[i]: kids[i]'s current key, cached when it moves (a child's
                         key stays valid until that child moves), so the heap's comparisons make
                         no calls through the children */
    size_t *klen;
    int reverse;    /* direction of the heap and of the children's positions */
} merging_iter;

/* Caches kids[i]'s current key (it must be valid). */
static inline void mi_load(merging_iter *m, int i) { m->key[i] = iter_key(m->kids[i], &m->klen[i]); }

static int mi_less(merging_iter *m, int a, int b) {
    int c = ikey_compare(m->key[a], m->klen[a], m->key[b], m->klen[b]);
    if (c) return c < 0;
    return a < b;
}

static void mi_sift_down(merging_iter *m, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->hn && mi_less(m, m->heap[l], m->heap[s])) s = l;
        if (r < m->hn && mi_less(m, m->heap[r], m->heap[s])) s = r;
        if (s == i) return;
        int t = m->heap[i];
        m->heap[i] = m->heap[s];
        m->heap[s] = t;
        i = s;
    }
}

/* The reverse order: exactly the forward (key, child index) order backwards, so equal keys come
 * out last-child first. Kept apart from mi_less/mi_sift_down so the forward path stays as is. */
static int mi_greater(merging_iter *m, int a, int b) {
    int c = ikey_compare(m->key[a], m->klen[a], m->key[b], m->klen[b]);
    if (c) return c > 0;
    return a > b;
}

static void mi_sift_down_rev(merging_iter *m, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->hn && mi_greater(m, m->heap[l], m->heap[s])) s = l;
        if (r < m->hn && mi_greater(m, m->heap[r], m->heap[s])) s = r;
        if (s == i) return;
        int t = m->heap[i];
        m->heap[i] = m->heap[s];
        m->heap[s] = t;
        i = s;
    }
}

/* A child that failed (iter_status != 0) ends the whole merge: going on with the others would
 * yield older versions of the keys the failed child shadows (or keys it deleted). */
static void mi_build(merging_iter *m, int reverse) {
    m->reverse = reverse;
    m->hn = 0;
    for (int i = 0; i < m->n; i++) {
        if (iter_valid(m->kids[i])) {
            mi_load(m, i);
            m->heap[m->hn++] = i;
        } else if (iter_status(m->kids[i])) { m->hn = 0; return; }
    }
    for (int i = m->hn / 2 - 1; i >= 0; i--) {
        if (reverse) mi_sift_down_rev(m, i);
        else mi_sift_down(m, i);
    }
}

static int mi_valid(internal_iter *it) { return ((merging_iter *)it)->hn > 0; }
static void mi_seek_first(internal_iter *it) {
    merging_iter *m = (merging_iter *)it;
    for (int i = 0; i < m->n; i++) iter_seek_first(m->kids[i]);
    mi_build(m, 0);
}
static void mi_seek(internal_iter *it, const char *k, size_t kl) {
    merging_iter *m = (merging_iter *)it;
    for (int i = 0; i < m->n; i++) iter_seek(m->kids[i], k, kl);
    mi_build(m, 0);
}
static void mi_seek_last(internal_iter *it) {
    merging_iter *m = (merging_iter *)it;
    for (int i = 0; i < m->n; i++) iter_seek_last(m->kids[i]);
    mi_build(m, 1);
}
static void mi_seek_for_prev(internal_iter *it, const char *k, size_t kl) {
    merging_iter *m = (merging_iter *)it;
    for (int i = 0; i < m->n; i++) iter_seek_for_prev(m->kids[i], k, kl);
    mi_build(m, 1);
}

/* Turns a valid reverse merge forward: every other child to its first entry after the current
 * one (cur, key k): seek(k), then past k itself if that child sorts before cur on a tie. The
 * current child steps forward; the heap is rebuilt. */
ITER_SWITCH static void mi_to_forward(merging_iter *m) {
    int cur = m->heap[0];
    size_t kl;
    const char *k = iter_key(m->kids[cur], &kl); /* stays valid: kids[cur] does not move */
    for (int i = 0; i < m->n; i++) {
        if (i == cur) continue;
        internal_iter *c = m->kids[i];
        iter_seek(c, k, kl);
        if (i < cur && iter_valid(c)) {
            size_t cl;
            const char *ck = iter_key(c, &cl);
            if (ikey_compare(ck, cl, k, kl) == 0) iter_next(c);
        }
    }
    iter_next(m->kids[cur]);
    mi_build(m, 0);
}

/* Turns a valid forward merge backward: every other child to its last entry before the current
 * one (cur, key k): seek(k), then one step back unless it landed on k itself and sorts before
 * cur on the tie; its last entry when it has nothing >= k. The current child steps back. */
ITER_SWITCH static void mi_to_reverse(merging_iter *m) {
    int cur = m->heap[0];
    size_t kl;
    const char *k = iter_key(m->kids[cur], &kl);
    for (int i = 0; i < m->n; i++) {
        if (i == cur) continue;
        internal_iter *c = m->kids[i];
        iter_seek(c, k, kl);
        if (iter_valid(c)) {
            size_t cl;
            const char *ck = iter_key(c, &cl);
            if (ikey_compare(ck, cl, k, kl) > 0 || i > cur) iter_prev(c);
        } else if (iter_status(c) == 0) {
            iter_seek_last(c);
        }
    }
    iter_prev(m->kids[cur]);
    mi_build(m, 1);
}

static void mi_next(internal_iter *it) {
    merging_iter *m = (merging_iter *)it;
    if (m->hn == 0) return;
    if (m->reverse) {
        mi_to_forward(m);
        return;
    }
    internal_iter *top = m->kids[m->heap[0]];
    iter_next(top);
    if (!iter_valid(top)) {
        if (iter_status(top)) { m->hn = 0; return; } /* see mi_build */
        m->heap[0] = m->heap[--m->hn];
    } else {
        mi_load(m, m->heap[0]);
    }
    if (m->hn > 0) mi_sift_down(m, 0);
}
static void mi_prev(internal_iter *it) {
    merging_iter *m = (merging_iter *)it;
    if (m->hn == 0) return;
    if (!m->reverse) {
        mi_to_reverse(m);
        return;
    }
    internal_iter *top = m->kids[m->heap[0]];
    iter_prev(top);
    if (!iter_valid(top)) {
        if (iter_status(top)) { m->hn = 0; return; } /* see mi_build */
        m->heap[0] = m->heap[--m->hn];
    } else {
        mi_load(m, m->heap[0]);
    }
    if (m->hn > 0) mi_sift_down_rev(m, 0);
}
static const char *mi_key(internal_iter *it, size_t *kl) {
    merging_iter *m = (merging_iter *)it;
    *kl = m->klen[m->heap[0]];
    return m->key[m->heap[0]];
}
static const char *mi_value(internal_iter *it, size_t *vl) {
    merging_iter *m = (merging_iter *)it;
    return iter_value(m->kids[m->heap[0]], vl);
}
static int mi_status(internal_iter *it) {
    merging_iter *m = (merging_iter *)it;
    for (int i = 0; i < m->n; i++) {
        int s = iter_status(m->kids[i]);
        if (s) return s;
    }
    return 0;
}
static void mi_destroy(internal_iter *it) {
    merging_iter *m = (merging_iter *)it;
    for (int i = 0; i < m->n; i++) iter_destroy(m->kids[i]);
    free(m->kids);
    free(m->heap);
    free(m->key);
    free(m->klen);
    free(m);
}
static const internal_iter_ops merging_ops = {
    .valid = mi_valid,
    .seek_first = mi_seek_first,
    .seek = mi_seek,
    .next = mi_next,
    .seek_last = mi_seek_last,
    .seek_for_prev = mi_seek_for_prev,
    .prev = mi_prev,
    .key = mi_key,
    .value = mi_value,
    .status = mi_status,
    .destroy = mi_destroy,
};

internal_iter *merging_iter_new(internal_iter **children, int n) {
    merging_iter *m = calloc(1, sizeof(*m));
    size_t sz = sizeof(int) * (size_t)(n > 0 ? n : 1);
    if (m) {
        size_t nn = (size_t)(n > 0 ? n : 1);
        m->kids = malloc(sizeof(internal_iter *) * nn);
        m->heap = malloc(sz);
        m->key = malloc(sizeof(const char *) * nn);
        m->klen = malloc(sizeof(size_t) * nn);
    }
    if (!m || !m->kids || !m->heap || !m->key || !m->klen) {
        for (int i = 0; i < n; i++) iter_destroy(children[i]);
        if (m) { free(m->kids); free(m->heap); free(m->key); free(m->klen); free(m); }
        return NULL;
    }
    m->base.ops = &merging_ops;
    if (n) memcpy(m->kids, children, sizeof(internal_iter *) * (size_t)n);
    m->n = n;
    m->hn = 0;
    return &m->base;
}

/* ---------------- level iterator ---------------- */

typedef struct level_iter {
    internal_iter base;
    file_meta **files;
    int n;
    int idx;              /* file of cur; n when exhausted */
    internal_iter *cur;
    table_cache *tc;
    int fill_cache;
    int status;
} level_iter;

static void li_open(level_iter *l, int idx) {
    if (l->cur) {
        iter_destroy(l->cur);
        l->cur = NULL;
    }
    l->idx = idx;
    if (idx >= l->n) return;
    sst_reader *r;
    int rc = table_cache_get(l->tc, l->files[idx]->number, &r);
    if (rc) {
        l->status = rc;
        l->idx = l->n;
        return;
    }
    l->cur = sst_reader_iter_new(r, l->fill_cache);
    sst_reader_unref(r);
    if (!l->cur) {
        l->status = LSM_ENOMEM;
        l->idx = l->n;
    }
}

/* move forward over empty/exhausted files */
static void li_skip(level_iter *l) {
    while (l->cur && !iter_valid(l->cur)) {
        int s = iter_status(l->cur);
        if (s) {
            l->status = s;
            iter_destroy(l->cur);
            l->cur = NULL;
            l->idx = l->n;
            return;
        }
        li_open(l, l->idx + 1);
        if (l->cur) iter_seek_first(l->cur);
    }
}

/* move backward over empty/exhausted files */
static void li_skip_back(level_iter *l) {
    while (l->cur && !iter_valid(l->cur)) {
        int s = iter_status(l->cur);
        if (s) {
            l->status = s;
            iter_destroy(l->cur);
            l->cur = NULL;
            l->idx = l->n;
            return;
        }
        if (l->idx == 0) { /* before the first file */
            li_open(l, l->n);
            return;
        }
        li_open(l, l->idx - 1);
        if (l->cur) iter_seek_last(l->cur);
    }
}

static int li_valid(internal_iter *it) {
    level_iter *l = (level_iter *)it;
    return l->cur && iter_valid(l->cur);
}
static void li_seek_first(internal_iter *it) {
    level_iter *l = (level_iter *)it;
    li_open(l, 0);
    if (l->cur) iter_seek_first(l->cur);
    li_skip(l);
}
static void li_seek(internal_iter *it, const char *k, size_t kl) {
    level_iter *l = (level_iter *)it;
    int lo = 0, hi = l->n;
    while (lo < hi) { /* first file whose largest >= k */
        int mid = lo + (hi - lo) / 2;
        file_meta *f = l->files[mid];
        if (ikey_compare(f->largest, f->largest_len, k, kl) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (!(l->cur && l->idx == lo)) li_open(l, lo);
    if (l->cur) iter_seek(l->cur, k, kl);
    li_skip(l);
}
static void li_next(internal_iter *it) {
    level_iter *l = (level_iter *)it;
    if (!l->cur) return;
    iter_next(l->cur);
    li_skip(l);
}
static void li_seek_last(internal_iter *it) {
    level_iter *l = (level_iter *)it;
    if (l->n == 0) return;
    if (!(l->cur && l->idx == l->n - 1)) li_open(l, l->n - 1);
    if (l->cur) iter_seek_last(l->cur);
    li_skip_back(l);
}
static void li_seek_for_prev(internal_iter *it, const char *k, size_t kl) {
    iter_seek_for_prev_by_seek(it, k, kl);
}
static void li_prev(internal_iter *it) {
    level_iter *l = (level_iter *)it;
    if (!l->cur) return;
    iter_prev(l->cur);
    li_skip_back(l);
}
static const char *li_key(internal_iter *it, size_t *kl) {
    return iter_key(((level_iter *)it)->cur, kl);
}
static const char *li_value(internal_iter *it, size_t *vl) {
    return iter_value(((level_iter *)it)->cur, vl);
}
static int li_status(internal_iter *it) {
    level_iter *l = (level_iter *)it;
    if (l->status) return l->status;
    return l->cur ? iter_status(l->cur) : 0;
}
static void li_destroy(internal_iter *it) {
    level_iter *l = (level_iter *)it;
    iter_destroy(l->cur);
    free(l);
}
static const internal_iter_ops level_ops = {
    .valid = li_valid,
    .seek_first = li_seek_first,
    .seek = li_seek,
    .next = li_next,
    .seek_last = li_seek_last,
    .seek_for_prev = li_seek_for_prev,
    .prev = li_prev,
    .key = li_key,
    .value = li_value,
    .status = li_status,
    .destroy = li_destroy,
};

internal_iter *level_iter_new(file_meta **files, int n, table_cache *tc, int fill_cache) {
    level_iter *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->base.ops = &level_ops;
    l->files = files;
    l->n = n;
    l->idx = n;
    l->tc = tc;
    l->fill_cache = fill_cache;
    return &l->base;
}

/* ---------------- user view ---------------- */

static int kbuf_reserve(db_iter *d, size_t n) {
    if (n <= d->kcap) return 0;
    size_t nc = d->kcap ? d->kcap : 64;
    while (nc < n) nc *= 2;
    char *p = realloc(d->kbuf, nc);
    if (!p) return LSM_ENOMEM;
    d->kbuf = p;
    d->kcap = nc;
    return 0;
}

static int vbuf_set(db_iter *d, const char *v, size_t n) {
    if (n > d->vcap || !d->vbuf) {
        size_t nc = d->vcap ? d->vcap : 64;
        while (nc < n) nc *= 2;
        char *p = realloc(d->vbuf, nc);
        if (!p) return LSM_ENOMEM;
        d->vbuf = p;
        d->vcap = nc;
    }
    if (n) memcpy(d->vbuf, v, n);
    d->vlen = n;
    return 0;
}

/* A seek may be given the iterator's own current key, which in reverse lives in kbuf, where
 * the lookup key is built: then *ukey is copied to vbuf first (the current value is done
 * with). 0 or LSM_ENOMEM. */
static int seek_key(db_iter *d, const void **ukey, size_t ukl) {
    uintptr_t p = (uintptr_t)*ukey, b = (uintptr_t)d->kbuf;
    if (!d->kbuf || p < b || p >= b + d->kcap) return 0;
    if (vbuf_set(d, *ukey, ukl)) return LSM_ENOMEM;
    *ukey = d->vbuf;
    return 0;
}

void db_iter_init(db_iter *d, internal_iter *in, uint64_t snapshot) {
    memset(d, 0, sizeof(*d));
    d->in = in;
    d->snapshot = snapshot;
}

/* Positions on the newest visible entry of the first user key (at or after the current
 * position) whose newest visible entry is a VALUE. skip_ukey/skip_len: a user key to skip
 * entirely (already yielded), or NULL. */
static void db_iter_find(db_iter *d, const char *skip, size_t skip_len) {
    internal_iter *in = d->in;
    int skipping = skip != NULL;
    size_t sl = skip_len;
    while (iter_valid(in)) {
        size_t kl;
        const char *k = iter_key(in, &kl);
        if (kl < IKEY_TRAILER) { d->status = LSM_ECORRUPT; break; }
        size_t ul = kl - IKEY_TRAILER;
        uint64_t t = ikey_trailer(k, kl);
        if ((t >> 8) > d->snapshot) { iter_next(in); continue; }
        if (skipping && ukey_compare(k, ul, d->kbuf, sl) == 0) { iter_next(in); continue; }
        if ((int)(t & 0xff) == KIND_VALUE) {
            d->valid = 1;
            return;
        }
        /* a delete: hide every older version of this key */
        if (kbuf_reserve(d, ul ? ul : 1)) { d->status = LSM_ENOMEM; break; }
        if (ul) memcpy(d->kbuf, k, ul);
        sl = ul;
        skipping = 1;
        iter_next(in);
    }
    d->valid = 0;
    if (!d->status) d->status = iter_status(in);
}

void db_iter_seek(db_iter *d, const void *ukey, size_t ukl) {
    d->valid = 0;
    d->status = 0;
    d->reverse = 0;
    if (seek_key(d, &ukey, ukl) || kbuf_reserve(d, ukl + IKEY_TRAILER)) {
        d->status = LSM_ENOMEM;
        return;
    }
    size_t n = ikey_lookup(d->kbuf, ukey, ukl, d->snapshot);
    iter_seek(d->in, d->kbuf, n);
    db_iter_find(d, NULL, 0);
}

void db_iter_seek_first(db_iter *d) {
    d->valid = 0;
    d->status = 0;
    d->reverse = 0;
    iter_seek_first(d->in);
    db_iter_find(d, NULL, 0);
}

/* next() after a reverse move: `in` is just before the current key's entries (kbuf, klen):
 * step into them, then on past them like next(). */
ITER_SWITCH static void db_iter_next_from_reverse(db_iter *d) {
    d->reverse = 0;
    d->valid = 0;
    if (iter_valid(d->in)) iter_next(d->in);
    else iter_seek_first(d->in); /* before the first entry (a valid reverse had no error) */
    db_iter_find(d, d->kbuf, d->klen);
}

void db_iter_next(db_iter *d) {
    if (!d->valid) return;
    if (d->reverse) {
        db_iter_next_from_reverse(d);
        return;
    }
    size_t kl;
    const char *k = iter_key(d->in, &kl);
    size_t ul = kl - IKEY_TRAILER;
    if (kbuf_reserve(d, ul ? ul : 1)) { d->status = LSM_ENOMEM; d->valid = 0; return; }
    if (ul) memcpy(d->kbuf, k, ul);
    d->valid = 0;
    iter_next(d->in);
    db_iter_find(d, d->kbuf, ul);
}

/* Reverse: walking `in` backward from its position, finds the last user key (before the
 * position) whose newest visible entry is a VALUE, copies that key and value out (kbuf/klen,
 * vbuf/vlen) and leaves `in` on the entry before that key's entries (or invalid). Walking
 * backward meets a key's versions oldest first, so each visible entry replaces what was saved
 * for its key, and a visible entry of a smaller key ends the search once a VALUE is saved. */
static void db_iter_find_prev(db_iter *d) {
    internal_iter *in = d->in;
    int found = 0; /* kbuf/vbuf hold a VALUE: the newest visible version seen so far */
    d->valid = 0;
    while (iter_valid(in)) {
        size_t kl;
        const char *k = iter_key(in, &kl);
        if (kl < IKEY_TRAILER) { d->status = LSM_ECORRUPT; return; }
        size_t ul = kl - IKEY_TRAILER;
        uint64_t t = ikey_trailer(k, kl);
        if ((t >> 8) <= d->snapshot) {
            if (found && ukey_compare(k, ul, d->kbuf, d->klen) < 0) {
                d->valid = 1;
                return;
            }
            found = (int)(t & 0xff) == KIND_VALUE;
            if (found) {
                size_t vl;
                const char *v = iter_value(in, &vl);
                if (kbuf_reserve(d, ul ? ul : 1) || vbuf_set(d, v, vl)) {
                    d->status = LSM_ENOMEM;
                    return;
                }
                if (ul) memcpy(d->kbuf, k, ul);
                d->klen = ul;
            }
        }
        iter_prev(in);
    }
    d->status = iter_status(in);
    d->valid = found && !d->status;
}

void db_iter_seek_last(db_iter *d) {
    d->valid = 0;
    d->status = 0;
    d->reverse = 1;
    iter_seek_last(d->in);
    db_iter_find_prev(d);
}

void db_iter_seek_for_prev(db_iter *d, const void *ukey, size_t ukl) {
    d->valid = 0;
    d->status = 0;
    d->reverse = 1;
    if (seek_key(d, &ukey, ukl) || kbuf_reserve(d, ukl + IKEY_TRAILER)) {
        d->status = LSM_ENOMEM;
        return;
    }
    /* (ukey, sequence 0, DELETE): the trailer sorts after every entry of ukey */
    size_t n = ikey_encode(d->kbuf, ukey, ukl, 0, KIND_DELETE);
    iter_seek_for_prev(d->in, d->kbuf, n);
    db_iter_find_prev(d);
}

void db_iter_prev(db_iter *d) {
    if (!d->valid) return;
    if (!d->reverse) { /* `in` is on the current key's newest visible entry: back out of the key */
        size_t kl;
        const char *k = iter_key(d->in, &kl);
        size_t ul = kl - IKEY_TRAILER;
        d->valid = 0;
        if (kbuf_reserve(d, ul ? ul : 1)) { d->status = LSM_ENOMEM; return; }
        if (ul) memcpy(d->kbuf, k, ul);
        d->reverse = 1;
        for (;;) {
            iter_prev(d->in);
            if (!iter_valid(d->in)) break;
            k = iter_key(d->in, &kl);
            if (kl < IKEY_TRAILER) { d->status = LSM_ECORRUPT; return; }
            if (ukey_compare(k, kl - IKEY_TRAILER, d->kbuf, ul) < 0) break;
        }
    }
    db_iter_find_prev(d);
}

const char *db_iter_key(db_iter *d, size_t *klen) {
    if (d->reverse) {
        *klen = d->klen;
        return d->kbuf;
    }
    size_t kl;
    const char *k = iter_key(d->in, &kl);
    *klen = kl - IKEY_TRAILER;
    return k;
}

const char *db_iter_value(db_iter *d, size_t *vlen) {
    if (d->reverse) {
        *vlen = d->vlen;
        return d->vbuf;
    }
    return iter_value(d->in, vlen);
}

void db_iter_destroy(db_iter *d) {
    iter_destroy(d->in);
    d->in = NULL;
    free(d->kbuf);
    d->kbuf = NULL;
    d->kcap = 0;
    free(d->vbuf);
    d->vbuf = NULL;
    d->vcap = d->vlen = 0;
}
