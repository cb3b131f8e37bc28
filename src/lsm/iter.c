/* iter.c - merging (binary min-heap), level, and user-view iterators. See iter.h. */
#include "iter.h"

#include <stdlib.h>
#include <string.h>

#include "dbformat.h"
#include "lsm.h"
#include "sst_reader.h"

/* ---------------- merging iterator ---------------- */

typedef struct merging_iter {
    internal_iter base;
    internal_iter **kids;
    int n;
    int *heap;      /* indices into kids, min-heap by current key (ties: lower index first) */
    int hn;
} merging_iter;

static int mi_less(merging_iter *m, int a, int b) {
    size_t al, bl;
    const char *ak = iter_key(m->kids[a], &al), *bk = iter_key(m->kids[b], &bl);
    int c = ikey_compare(ak, al, bk, bl);
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

/* A child that failed (iter_status != 0) ends the whole merge: going on with the others would
 * yield older versions of the keys the failed child shadows (or keys it deleted). */
static void mi_build(merging_iter *m) {
    m->hn = 0;
    for (int i = 0; i < m->n; i++) {
        if (iter_valid(m->kids[i])) m->heap[m->hn++] = i;
        else if (iter_status(m->kids[i])) { m->hn = 0; return; }
    }
    for (int i = m->hn / 2 - 1; i >= 0; i--) mi_sift_down(m, i);
}

static int mi_valid(internal_iter *it) { return ((merging_iter *)it)->hn > 0; }
static void mi_seek_first(internal_iter *it) {
    merging_iter *m = (merging_iter *)it;
    for (int i = 0; i < m->n; i++) iter_seek_first(m->kids[i]);
    mi_build(m);
}
static void mi_seek(internal_iter *it, const char *k, size_t kl) {
    merging_iter *m = (merging_iter *)it;
    for (int i = 0; i < m->n; i++) iter_seek(m->kids[i], k, kl);
    mi_build(m);
}
static void mi_next(internal_iter *it) {
    merging_iter *m = (merging_iter *)it;
    if (m->hn == 0) return;
    internal_iter *top = m->kids[m->heap[0]];
    iter_next(top);
    if (!iter_valid(top)) {
        if (iter_status(top)) { m->hn = 0; return; } /* see mi_build */
        m->heap[0] = m->heap[--m->hn];
    }
    if (m->hn > 0) mi_sift_down(m, 0);
}
static const char *mi_key(internal_iter *it, size_t *kl) {
    merging_iter *m = (merging_iter *)it;
    return iter_key(m->kids[m->heap[0]], kl);
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
    free(m);
}
static const internal_iter_ops merging_ops = {mi_valid, mi_seek_first, mi_seek, mi_next,
                                              mi_key, mi_value, mi_status, mi_destroy};

internal_iter *merging_iter_new(internal_iter **children, int n) {
    merging_iter *m = calloc(1, sizeof(*m));
    size_t sz = sizeof(int) * (size_t)(n > 0 ? n : 1);
    if (m) {
        m->kids = malloc(sizeof(internal_iter *) * (size_t)(n > 0 ? n : 1));
        m->heap = malloc(sz);
    }
    if (!m || !m->kids || !m->heap) {
        for (int i = 0; i < n; i++) iter_destroy(children[i]);
        if (m) { free(m->kids); free(m->heap); free(m); }
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
static const internal_iter_ops level_ops = {li_valid, li_seek_first, li_seek, li_next,
                                            li_key, li_value, li_status, li_destroy};

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
    if (kbuf_reserve(d, ukl + IKEY_TRAILER)) { d->status = LSM_ENOMEM; return; }
    size_t n = ikey_lookup(d->kbuf, ukey, ukl, d->snapshot);
    iter_seek(d->in, d->kbuf, n);
    db_iter_find(d, NULL, 0);
}

void db_iter_seek_first(db_iter *d) {
    d->valid = 0;
    d->status = 0;
    iter_seek_first(d->in);
    db_iter_find(d, NULL, 0);
}

void db_iter_next(db_iter *d) {
    if (!d->valid) return;
    size_t kl;
    const char *k = iter_key(d->in, &kl);
    size_t ul = kl - IKEY_TRAILER;
    if (kbuf_reserve(d, ul ? ul : 1)) { d->status = LSM_ENOMEM; d->valid = 0; return; }
    if (ul) memcpy(d->kbuf, k, ul);
    d->valid = 0;
    iter_next(d->in);
    db_iter_find(d, d->kbuf, ul);
}

const char *db_iter_key(db_iter *d, size_t *klen) {
    size_t kl;
    const char *k = iter_key(d->in, &kl);
    *klen = kl - IKEY_TRAILER;
    return k;
}

const char *db_iter_value(db_iter *d, size_t *vlen) { return iter_value(d->in, vlen); }

void db_iter_destroy(db_iter *d) {
    iter_destroy(d->in);
    d->in = NULL;
    free(d->kbuf);
    d->kbuf = NULL;
    d->kcap = 0;
}
