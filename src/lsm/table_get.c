/* table_get.c - point lookups in the tables of a version. See table_get.h. */
#include "table_get.h"

#include "dbformat.h"

static inline int ukey_in_file(const file_meta *f, const void *k, size_t kl) {
    return ukey_compare(k, kl, f->smallest, f->smallest_len - IKEY_TRAILER) >= 0 &&
           ukey_compare(k, kl, f->largest, f->largest_len - IKEY_TRAILER) <= 0;
}

/* The next table that may hold the key, in probe order; NULL when none is left. Walks the
 * version without allocating. */
static file_meta *next_candidate(table_get *g) {
    const version *v = g->v;
    while (g->l0 < v->nfiles[0]) {
        file_meta *f = v->files[0][g->l0++];
        if (ukey_in_file(f, g->key, g->klen)) return f;
    }
    while (g->level < v->num_levels) {
        int l = g->level++, nf = v->nfiles[l];
        if (!nf) continue;
        int i = version_find_file(v, l, g->key, g->klen);
        if (i < nf && ukey_in_file(v->files[l][i], g->key, g->klen)) return v->files[l][i];
    }
    return NULL;
}

/* Takes the readers of the next (up to TABLE_GET_WINDOW) candidates and starts loading their
 * filter lines. Returns how many it took (0: no candidates left). */
static int window_open(table_get *g) {
    int w = 0;
    file_meta *f;
    while (w < TABLE_GET_WINDOW && (f = next_candidate(g))) {
        g->p[w].r = NULL;
        if (g->cached_only == TABLE_GET_READ) {
            g->p[w].rc = table_cache_get(g->tc, f->number, &g->p[w].r);
        } else if ((g->p[w].rc = table_cache_peek(g->tc, f->number, &g->p[w].r)) != 0) {
            g->p[w].rc = SST_WOULDBLOCK; /* opening the table reads it */
        }
        if (g->p[w].r) sst_reader_prefetch_filter(g->p[w].r, g->h);
        w++;
    }
    g->w = w;
    return w;
}

static void window_close(table_get *g) {
    for (int i = 0; i < g->w; i++) sst_reader_unref(g->p[i].r);
    g->w = 0;
}

/* Probes the open window in order: SST_FOUND / SST_DELETED / a negative code end the lookup. */
static int window_probe(table_get *g, uint64_t snapshot, lsm_buf *val) {
    int rc = SST_NOTFOUND;
    for (int i = 0; i < g->w && rc == SST_NOTFOUND; i++) {
        sst_reader *r = g->p[i].r;
        if (!r) {
            rc = g->p[i].rc;
        } else if (g->cached_only != TABLE_GET_READ) {
            rc = g->cached_only == TABLE_GET_CACHE_ONLY
                     ? sst_reader_get_cache_only(r, g->key, g->klen, g->h, snapshot, val,
                                                 &g->miss_off, &g->miss_size)
                     : sst_reader_get_cached(r, g->key, g->klen, g->h, snapshot, val, &g->miss_off,
                                             &g->miss_size);
            if (rc == SST_WOULDBLOCK && g->miss_off != UINT64_MAX) {
                sst_reader_ref(r);
                g->miss_r = r;
            }
        } else {
            rc = sst_reader_get_hashed(r, g->key, g->klen, g->h, snapshot, val);
        }
    }
    return rc;
}

void table_get_start(table_get *g, const version *v, table_cache *tc, const void *key,
                     size_t klen, uint64_t h) {
    table_get_start_ex(g, v, tc, key, klen, h, 0);
}

void table_get_start_ex(table_get *g, const version *v, table_cache *tc, const void *key,
                        size_t klen, uint64_t h, int cached_only) {
    g->cached_only = cached_only;
    g->miss_r = NULL;
    g->v = v;
    g->tc = tc;
    g->key = key;
    g->klen = klen;
    g->h = h;
    g->l0 = 0;
    g->level = 1;
    g->w = 0;
    window_open(g);
}

int table_get_finish(table_get *g, uint64_t snapshot, lsm_buf *val) {
    int rc = window_probe(g, snapshot, val);
    window_close(g);
    /* later windows (more than TABLE_GET_WINDOW candidates: a deep L0) */
    while (rc == SST_NOTFOUND && window_open(g) > 0) {
        rc = window_probe(g, snapshot, val);
        window_close(g);
    }
    return rc;
}

void table_get_abort(table_get *g) { window_close(g); }

sst_reader *table_get_miss(table_get *g, uint64_t *off, uint64_t *size) {
    sst_reader *r = g->miss_r;
    g->miss_r = NULL;
    *off = g->miss_off;
    *size = g->miss_size;
    return r;
}

/* One table of the seek: its blocks at key (cached_only: checked only). */
static int seek_one(table_cache *tc, const file_meta *f, const void *key, size_t klen, int nblocks,
                    int cached_only) {
    sst_reader *r;
    int rc = cached_only ? table_cache_peek(tc, f->number, &r) : table_cache_get(tc, f->number, &r);
    if (rc) return cached_only ? SST_WOULDBLOCK : rc;
    rc = sst_reader_seek_blocks(r, key, klen, nblocks, cached_only);
    sst_reader_unref(r);
    return rc;
}

int table_seek_blocks(const version *v, table_cache *tc, const void *key, size_t klen, int nblocks,
                      int cached_only) {
    int rc = 0;
    for (int i = 0; i < v->nfiles[0] && rc == 0; i++) {
        const file_meta *f = v->files[0][i];
        if (ukey_compare(key, klen, f->largest, f->largest_len - IKEY_TRAILER) <= 0)
            rc = seek_one(tc, f, key, klen, nblocks, cached_only);
    }
    for (int l = 1; l < v->num_levels && rc == 0; l++) {
        int nf = v->nfiles[l];
        int i = nf ? version_find_file(v, l, key, klen) : nf;
        if (i < nf) rc = seek_one(tc, v->files[l][i], key, klen, nblocks, cached_only);
    }
    return rc;
}
