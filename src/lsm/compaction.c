/* compaction.c - flush and compaction jobs, compaction picking. See compaction.h.
 *
 * Compaction drop rules, applied to the merged input in internal-key order (per user key the
 * newest version comes first):
 *   - a version is dropped when a newer version of the same user key with sequence <=
 *     smallest_snapshot was already seen (no live iterator can read it);
 *   - a DELETE, or a VALUE whose expire-at (expire_fn) is <= now, with sequence <=
 *     smallest_snapshot is dropped when no file in a level below the output level overlaps the
 *     key (nothing older can resurface); the versions it shadows are dropped by the first rule;
 *   - a VALUE with sequence <= smallest_snapshot and no newer version <= smallest_snapshot is
 *     dropped when the compaction filter says so (lsm.h: its keys are garbage forever), and
 *     with it the versions it shadows (first rule). Flushes apply the filter the same way.
 * Output files are cut at ~target_file_size, never between two versions of one user key. */
#include "compaction.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbformat.h"
#include "fs.h"
#include "iter.h"
#include "hash.h"
#include "sst_reader.h"
#include "table_get.h"

/* ---------------- the compaction filter's view ---------------- */

static _Atomic uint64_t next_view_id = 1;

void filter_view_init(lsm_filter_view *fv, memtable *mem, const version *v, table_cache *tc,
                      uint64_t snapshot) {
    memset(fv, 0, sizeof(*fv));
    fv->mem = mem;
    fv->v = v;
    fv->tc = tc;
    fv->snapshot = snapshot;
    fv->id = atomic_fetch_add_explicit(&next_view_id, 1, memory_order_relaxed);
}

static int view_buf_set(lsm_buf *b, const char *p, size_t n) {
    if (n > b->cap || !b->data) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < n) nc *= 2;
        char *np = realloc(b->data, nc);
        if (!np) return LSM_ENOMEM;
        b->data = np;
        b->cap = nc;
    }
    if (n) memcpy(b->data, p, n);
    b->len = n;
    return 0;
}

int lsm_filter_get(lsm_filter_view *fv, const void *key, size_t klen, lsm_buf *val) {
    if (!fv || !val || (!key && klen)) return LSM_EINVAL;
    uint64_t h = key_hash64(key, klen);
    int rc = SST_NOTFOUND;
    if (fv->mem) { /* a flush's memtable: sealed, readable from any thread (memtable.h) */
        const char *v;
        size_t vl;
        int r = memtable_get_hashed(fv->mem, key, klen, h, fv->snapshot, &v, &vl);
        if (r == MEMTABLE_FOUND) rc = view_buf_set(val, v, vl) ? LSM_ENOMEM : SST_FOUND;
        else if (r == MEMTABLE_DELETED) rc = SST_DELETED;
    }
    if (rc == SST_NOTFOUND && fv->v) {
        table_get g;
        table_get_start(&g, fv->v, fv->tc, key, klen, h);
        rc = table_get_finish(&g, fv->snapshot, val);
    }
    if (rc == SST_FOUND) return 0;
    if (rc == SST_DELETED || rc == SST_NOTFOUND) return LSM_ENOTFOUND;
    fv->failed = 1;
    return rc;
}

uint64_t lsm_filter_view_id(const lsm_filter_view *fv) { return fv->id; }

void *lsm_filter_view_scratch(lsm_filter_view *fv) { return fv->scratch; }

int filter_says_drop(const job_filter *f, lsm_filter_view *fv, const char *ukey, size_t ukl,
                     const char *val, size_t vl) {
    fv->failed = 0;
    int drop = f->fn(f->ctx, fv, ukey, ukl, val, vl);
    return drop == 1 && !fv->failed;
}

/* ---------------- flush ---------------- */

static file_meta *meta_from_props(uint64_t number, const sst_props *p) {
    file_meta *f = file_meta_new(number, p->file_size, p->smallest, p->smallest_len, p->largest,
                                 p->largest_len, p->min_seq, p->max_seq);
    if (f) {
        f->num_entries = p->num_entries;
        f->num_deletions = p->num_deletions;
        f->deletions_known = 1;
    }
    return f;
}

/* Opens a table just written into the table cache, from the job's thread: the lookups that
 * meet it once it is installed find its reader (index and filter read) instead of each opening
 * it (on the loop's reader threads, every parked lookup its own copy). A failure is left for
 * those lookups to meet and report. */
static void warm_table(table_cache *tc, uint64_t number) {
    sst_reader *r;
    if (tc && table_cache_get(tc, number, &r) == 0) sst_reader_unref(r);
}

/* Cache warming: the blocks a job writes go into the block cache as they are written, where it
 * has room without evicting (sst_cache_warm_block). A compaction rewrites tables the loop is
 * reading; without this, every block of its outputs is read and decompressed again on the loop
 * the first time a lookup meets it (measured: ~20k such reads per 200k HSETs on a 30 MB table
 * rewritten by each L0 compaction). With a full cache it does nothing: nothing is evicted for
 * blocks nobody has asked for. Entries of an output that is never installed are never looked up
 * (file numbers are not reused) and go first when the cache needs room (not referenced). */
typedef struct warm_ctx {
    block_cache *bc;
    uint64_t number;
} warm_ctx;

static void warm_block(void *ctx, uint64_t off, const char *raw, size_t n) {
    const warm_ctx *w = ctx;
    sst_cache_warm_block(w->bc, w->number, off, raw, n);
}

static void warm_output(sst_builder *b, warm_ctx *w, block_cache *bc, uint64_t number) {
    w->bc = bc;
    w->number = number;
    if (w->bc) sst_builder_set_block_hook(b, warm_block, w);
}

static void flush_run(bg_job *bj) {
    flush_job *j = (flush_job *)bj;
    j->base.rc = 0;
    j->out = NULL;
    if (memtable_entries(j->mem) == 0) return;
    lsm_filter_view fv;
    if (j->filter.fn) filter_view_init(&fv, j->mem, j->v, j->filter.tc, j->smallest_snapshot);
    char path[4096];
    table_file_name(path, sizeof(path), j->dir, j->file_number);
    sst_builder *b = sst_builder_new(path, &j->sopts);
    if (!b) {
        snprintf(j->err, sizeof(j->err), "flush: create %.300s: %s", path, strerror(errno));
        j->base.rc = LSM_EIO;
        return;
    }
    warm_ctx warm;
    warm_output(b, &warm, j->warm_bc, j->file_number);
    internal_iter *it = memtable_scan_iter_new(j->mem);
    if (!it) {
        sst_builder_abandon(b);
        j->base.rc = LSM_ENOMEM;
        return;
    }
    int rc = 0, eno = 0;
    /* the previous entry's user key: versions it shadows for every reader are dropped */
    char *pk = NULL;
    size_t pkl = 0, pcap = 0;
    int have_prev = 0;
    uint64_t pseq = 0;
    for (iter_seek_first(it); iter_valid(it) && rc == 0; iter_next(it)) {
        size_t kl, vl;
        const char *k = iter_key(it, &kl), *v = iter_value(it, &vl);
        size_t ul = kl - IKEY_TRAILER;
        if (have_prev && pseq <= j->smallest_snapshot && ukey_compare(pk, pkl, k, ul) == 0)
            continue;
        if (ul > pcap) {
            size_t nc = pcap ? pcap * 2 : 64;
            while (nc < ul) nc *= 2;
            char *np = realloc(pk, nc);
            if (!np) { rc = LSM_ENOMEM; break; }
            pk = np;
            pcap = nc;
        }
        if (ul) memcpy(pk, k, ul);
        pkl = ul;
        pseq = ikey_seq(k, kl);
        have_prev = 1;
        /* the newest version <= smallest_snapshot (newer ones were > it): the filter's turn */
        if (j->filter.fn && pseq <= j->smallest_snapshot && ikey_kind(k, kl) == KIND_VALUE &&
            filter_says_drop(&j->filter, &fv, k, ul, v, vl)) {
            j->filter_dropped++;
            continue;
        }
        rc = sst_builder_add(b, k, kl, v, vl);
        if (rc) eno = errno; /* before cleanup calls change it */
    }
    free(pk);
    if (rc == 0) rc = iter_status(it);
    iter_destroy(it);
    if (rc) {
        sst_builder_abandon(b);
        snprintf(j->err, sizeof(j->err), "flush: writing %.300s: %s", path,
                 rc == LSM_EIO && eno ? strerror(eno) : lsm_strerror(rc));
        j->base.rc = rc;
        return;
    }
    if (sst_builder_entries(b) == 0) { /* the filter dropped everything: no table */
        sst_builder_abandon(b);
        return;
    }
    sst_props props;
    memset(&props, 0, sizeof(props));
    rc = sst_builder_finish(b, &props);
    if (rc) {
        snprintf(j->err, sizeof(j->err), "flush: finishing %.300s: %s", path,
                 rc == LSM_EIO ? strerror(errno) : lsm_strerror(rc));
        j->base.rc = rc;
        return;
    }
    j->out = meta_from_props(j->file_number, &props);
    j->bytes_written = props.file_size;
    sst_props_free(&props);
    if (!j->out) {
        fs_unlink(path);
        j->base.rc = LSM_ENOMEM;
        return;
    }
    warm_table(j->tc, j->file_number);
}

void flush_job_init(flush_job *j) {
    memset(j, 0, sizeof(*j));
    j->base.run = flush_run;
    j->base.type = JOB_FLUSH;
}

/* ---------------- compaction ---------------- */

static int push_out(compaction_job *j, file_meta *f) {
    if (j->nouts == j->cap_outs) {
        int nc = j->cap_outs ? j->cap_outs * 2 : 8;
        file_meta **na = realloc(j->outs, sizeof(*na) * (size_t)nc);
        if (!na) return LSM_ENOMEM;
        j->outs = na;
        j->cap_outs = nc;
    }
    j->outs[j->nouts++] = f;
    return 0;
}

static void remove_outputs(compaction_job *j) {
    char path[4096];
    for (int i = 0; i < j->nouts; i++) {
        table_file_name(path, sizeof(path), j->dir, j->outs[i]->number);
        if (j->tc) table_cache_evict(j->tc, j->outs[i]->number); /* warm_table opened it */
        fs_unlink(path);
        file_meta_free(j->outs[i]);
    }
    j->nouts = 0;
}

static int finish_output(compaction_job *j, sst_builder *b, uint64_t number) {
    sst_props props;
    memset(&props, 0, sizeof(props));
    int rc = sst_builder_finish(b, &props);
    if (rc) {
        snprintf(j->err, sizeof(j->err), "compaction: finishing table %llu: %s",
                 (unsigned long long)number, rc == LSM_EIO ? strerror(errno) : lsm_strerror(rc));
        return rc;
    }
    file_meta *f = meta_from_props(number, &props);
    j->bytes_written += props.file_size;
    sst_props_free(&props);
    if (!f || push_out(j, f)) {
        char path[4096];
        table_file_name(path, sizeof(path), j->dir, number);
        fs_unlink(path);
        file_meta_free(f);
        return LSM_ENOMEM;
    }
    warm_table(j->tc, number);
    return 0;
}

static void compaction_run(bg_job *bj) {
    compaction_job *j = (compaction_job *)bj;
    internal_iter *kids[LSM_MAX_LEVELS + 64];
    internal_iter **kv = kids;
    int nk = 0, total = 0, rc = 0;
    for (int l = 0; l < LSM_MAX_LEVELS; l++) total += l == 0 ? j->ninputs[0] : (j->ninputs[l] > 0);
    if (total > (int)(sizeof(kids) / sizeof(kids[0]))) {
        kv = malloc(sizeof(internal_iter *) * (size_t)total);
        if (!kv) { j->base.rc = LSM_ENOMEM; return; }
    }
    j->bytes_read = compaction_input_bytes(j);
    for (int i = 0; i < j->ninputs[0] && rc == 0; i++) {
        sst_reader *r;
        rc = table_cache_get(j->tc, j->inputs[0][i]->number, &r);
        if (rc) break;
        internal_iter *it = sst_reader_iter_new(r, 0);
        sst_reader_unref(r);
        if (!it) rc = LSM_ENOMEM;
        else kv[nk++] = it;
    }
    for (int l = 1; l < LSM_MAX_LEVELS && rc == 0; l++) {
        if (!j->ninputs[l]) continue;
        internal_iter *it = level_iter_new(j->inputs[l], j->ninputs[l], j->tc, 0);
        if (!it) rc = LSM_ENOMEM;
        else kv[nk++] = it;
    }
    if (rc) {
        for (int i = 0; i < nk; i++) iter_destroy(kv[i]);
        if (kv != kids) free(kv);
        snprintf(j->err, sizeof(j->err), "compaction: opening inputs failed (%d)", rc);
        j->base.rc = rc;
        return;
    }
    internal_iter *m = merging_iter_new(kv, nk);
    if (kv != kids) free(kv);
    if (!m) { j->base.rc = LSM_ENOMEM; return; }
    lsm_filter_view fv;
    if (j->filter.fn) filter_view_init(&fv, NULL, j->v, j->filter.tc, j->smallest_snapshot);

    char *cur = NULL;          /* current user key */
    size_t cur_len = 0, cur_cap = 0;
    int have_cur = 0;
    uint64_t last_seq_for_key = 0;
    int last_valid = 0;        /* a newer version of cur was seen */
    sst_builder *b = NULL;
    uint64_t bnum = 0;
    warm_ctx warm = {NULL, 0}; /* the output being written (warm_output) */
    int last_added_is_cur = 0; /* the builder's last key has user key == cur */
    char path[4096];

    for (iter_seek_first(m); iter_valid(m); iter_next(m)) {
        size_t kl, vl;
        const char *k = iter_key(m, &kl);
        const char *v = iter_value(m, &vl);
        if (kl < IKEY_TRAILER) { rc = LSM_ECORRUPT; break; }
        size_t ul = kl - IKEY_TRAILER;
        uint64_t t = ikey_trailer(k, kl);
        uint64_t seq = t >> 8;
        int kind = (int)(t & 0xff);
        if (!have_cur || ukey_compare(k, ul, cur, cur_len) != 0) {
            if (ul > cur_cap) {
                size_t nc = cur_cap ? cur_cap * 2 : 64;
                while (nc < ul) nc *= 2;
                char *np = realloc(cur, nc);
                if (!np) { rc = LSM_ENOMEM; break; }
                cur = np;
                cur_cap = nc;
            }
            if (ul) memcpy(cur, k, ul);
            cur_len = ul;
            have_cur = 1;
            last_valid = 0;
            last_added_is_cur = 0;
        }
        int drop = 0;
        if (last_valid && last_seq_for_key <= j->smallest_snapshot) {
            drop = 1; /* shadowed by a newer version every reader sees */
        } else if (last_valid && seq == last_seq_for_key) {
            drop = 1; /* duplicate of the same entry (replayed WAL flushed twice) */
        } else if (seq <= j->smallest_snapshot) {
            int expired = 0;
            if (kind == KIND_VALUE && j->expire_fn) {
                uint64_t at = j->expire_fn(j->expire_ctx, k, ul, v, vl);
                expired = at != 0 && at <= j->now_ms;
            }
            if ((kind == KIND_DELETE || expired) &&
                !version_key_may_exist_below(j->v, j->out_level, k, ul)) {
                drop = 1;
                if (expired) j->expired_dropped++;
                else j->tombstones_dropped++;
            } else if (kind == KIND_VALUE && j->filter.fn &&
                       filter_says_drop(&j->filter, &fv, k, ul, v, vl)) {
                drop = 1; /* the versions it shadows go by the first rule */
                j->filter_dropped++;
            }
        }
        last_seq_for_key = seq;
        last_valid = 1;
        if (drop) continue;

        if (b && !last_added_is_cur && sst_builder_file_size(b) >= j->target_file_size) {
            rc = finish_output(j, b, bnum);
            b = NULL;
            if (rc) break;
        }
        if (!b) {
            bnum = vset_new_file_number(j->vs);
            table_file_name(path, sizeof(path), j->dir, bnum);
            b = sst_builder_new(path, &j->sopts);
            if (!b) {
                snprintf(j->err, sizeof(j->err), "compaction: create %.300s: %s", path, strerror(errno));
                rc = LSM_EIO;
                break;
            }
            warm_output(b, &warm, j->warm_bc, bnum);
        }
        rc = sst_builder_add(b, k, kl, v, vl);
        if (rc) {
            snprintf(j->err, sizeof(j->err), "compaction: writing table %llu: %s", (unsigned long long)bnum,
                     rc == LSM_EIO ? strerror(errno) : lsm_strerror(rc));
            break;
        }
        last_added_is_cur = 1;
    }
    if (rc == 0) rc = iter_status(m);
    iter_destroy(m);
    free(cur);
    if (rc == 0 && b) {
        rc = finish_output(j, b, bnum);
        b = NULL;
    }
    if (b) sst_builder_abandon(b);
    if (rc) {
        if (!j->err[0]) snprintf(j->err, sizeof(j->err), "compaction failed: %s", lsm_strerror(rc));
        remove_outputs(j);
    }
    j->base.rc = rc;
}

void compaction_job_init(compaction_job *j) {
    memset(j, 0, sizeof(*j));
    j->base.run = compaction_run;
    j->base.type = JOB_COMPACT;
}

void compaction_job_free(compaction_job *j) {
    for (int l = 0; l < LSM_MAX_LEVELS; l++) free(j->inputs[l]);
    for (int i = 0; i < j->nouts; i++)
        if (j->outs[i] && atomic_load(&j->outs[i]->refs) == 0) file_meta_free(j->outs[i]);
    free(j->outs);
    free(j);
}

uint64_t compaction_input_bytes(const compaction_job *j) {
    uint64_t s = 0;
    for (int l = 0; l < LSM_MAX_LEVELS; l++)
        for (int i = 0; i < j->ninputs[l]; i++) s += j->inputs[l][i]->size;
    return s;
}

/* ---------------- picking ---------------- */

double compaction_score(const version *v, const compaction_policy *p, int level) {
    if (level == 0) {
        int n = 0;
        for (int i = 0; i < v->nfiles[0]; i++) n += !v->files[0][i]->being_compacted;
        return (double)n / (double)(p->l0_trigger > 0 ? p->l0_trigger : 4);
    }
    if (level >= v->num_levels - 1) return 0;
    uint64_t bytes = 0;
    for (int i = 0; i < v->nfiles[level]; i++)
        if (!v->files[level][i]->being_compacted) bytes += v->files[level][i]->size;
    return (double)bytes / (double)vset_level_target(p->level1_max_bytes, p->multiplier, level);
}

static int any_busy(file_meta **f, int n) {
    for (int i = 0; i < n; i++)
        if (f[i]->being_compacted) return 1;
    return 0;
}

/* user-key range of a set of files */
static void files_range(file_meta **f, int n, const char **b, size_t *bl, const char **e,
                        size_t *el) {
    *b = *e = NULL;
    *bl = *el = 0;
    for (int i = 0; i < n; i++) {
        const char *s = f[i]->smallest, *l = f[i]->largest;
        size_t sn = f[i]->smallest_len - IKEY_TRAILER, ln = f[i]->largest_len - IKEY_TRAILER;
        if (!*b || ukey_compare(s, sn, *b, *bl) < 0) { *b = s; *bl = sn; }
        if (!*e || ukey_compare(l, ln, *e, *el) > 0) { *e = l; *el = ln; }
    }
}

static int cmp_smallest(const void *a, const void *b) {
    const file_meta *x = *(file_meta *const *)a, *y = *(file_meta *const *)b;
    return ikey_compare(x->smallest, x->smallest_len, y->smallest, y->smallest_len);
}

/* 1 when no two files share a user key (their ranges are disjoint). */
static int l0_disjoint(file_meta **in, int n) {
    file_meta **s = malloc(sizeof(*s) * (size_t)n);
    if (!s) return 0;
    memcpy(s, in, sizeof(*s) * (size_t)n);
    qsort(s, (size_t)n, sizeof(*s), cmp_smallest);
    int ok = 1;
    for (int i = 0; i + 1 < n && ok; i++)
        ok = ukey_compare(s[i]->largest, s[i]->largest_len - IKEY_TRAILER, s[i + 1]->smallest,
                          s[i + 1]->smallest_len - IKEY_TRAILER) < 0;
    free(s);
    return ok;
}

static compaction_job *new_job(version *v, int out_level) {
    compaction_job *j = malloc(sizeof(*j));
    if (!j) return NULL;
    compaction_job_init(j);
    j->v = v;
    version_ref(v);
    j->out_level = out_level;
    return j;
}

/* A compaction of level into level + 1: L0 takes every L0 file; a level >= 1 takes the first
 * free file from rr[level] on (round robin), or only file `only` when only >= 0 (rr then
 * unchanged), widened so no user key is split, with the overlapping files of level + 1. */
static compaction_job *try_level(version *v, const compaction_policy *p, int level, int *rr,
                                 int only, int *trivial) {
    (void)p;
    file_meta **in = NULL, **next = NULL;
    int nin = 0, nnext = 0;
    const char *b, *e;
    size_t bl, el;
    if (level == 0) {
        if (v->nfiles[0] == 0 || any_busy(v->files[0], v->nfiles[0])) return NULL;
        nin = v->nfiles[0];
        in = malloc(sizeof(*in) * (size_t)nin);
        if (!in) return NULL;
        memcpy(in, v->files[0], sizeof(*in) * (size_t)nin);
    } else {
        int n = v->nfiles[level];
        if (n == 0) return NULL;
        for (int k = 0; k < (only >= 0 ? 1 : n) && !in; k++) {
            int i = only >= 0 ? only : (rr[level] + k) % n;
            if (v->files[level][i]->being_compacted) continue;
            /* expand so no user key is split across the input boundary */
            int lo = i, hi = i;
            while (lo > 0) {
                file_meta *a = v->files[level][lo - 1], *c = v->files[level][lo];
                if (ukey_compare(a->largest, a->largest_len - 8, c->smallest,
                                 c->smallest_len - 8) != 0) break;
                lo--;
            }
            while (hi + 1 < n) {
                file_meta *a = v->files[level][hi], *c = v->files[level][hi + 1];
                if (ukey_compare(a->largest, a->largest_len - 8, c->smallest,
                                 c->smallest_len - 8) != 0) break;
                hi++;
            }
            if (any_busy(&v->files[level][lo], hi - lo + 1)) continue;
            files_range(&v->files[level][lo], hi - lo + 1, &b, &bl, &e, &el);
            file_meta **ov;
            int no = version_overlapping(v, level + 1, b, bl, e, el, &ov);
            if (no < 0) return NULL;
            if (any_busy(ov, no)) { free(ov); continue; }
            nin = hi - lo + 1;
            in = malloc(sizeof(*in) * (size_t)nin);
            if (!in) { free(ov); return NULL; }
            memcpy(in, &v->files[level][lo], sizeof(*in) * (size_t)nin);
            next = ov;
            nnext = no;
            if (only < 0) rr[level] = hi + 1;
        }
        if (!in) return NULL;
    }
    if (level == 0) {
        files_range(in, nin, &b, &bl, &e, &el);
        int no = version_overlapping(v, 1, b, bl, e, el, &next);
        if (no < 0) { free(in); return NULL; }
        if (any_busy(next, no)) { free(in); free(next); return NULL; }
        nnext = no;
    }
    compaction_job *j = new_job(v, level + 1);
    if (!j) { free(in); free(next); return NULL; }
    j->inputs[level] = in;
    j->ninputs[level] = nin;
    if (nnext) {
        j->inputs[level + 1] = next;
        j->ninputs[level + 1] = nnext;
    } else {
        free(next);
    }
    /* nothing below overlaps: a single file, or L0 files with disjoint key ranges, can move
     * down without a rewrite */
    *trivial = nnext == 0 && (nin == 1 || (level == 0 && l0_disjoint(in, nin)));
    return j;
}

compaction_job *compaction_pick(version *v, const compaction_policy *p, int *rr, int l0_busy,
                                int *trivial) {
    double score[LSM_MAX_LEVELS];
    int order[LSM_MAX_LEVELS], n = 0;
    *trivial = 0;
    for (int l = 0; l < v->num_levels - 1; l++) {
        score[l] = compaction_score(v, p, l);
        if (l == 0 && l0_busy) continue;
        if (score[l] >= 1.0) order[n++] = l;
    }
    for (int a = 1; a < n; a++) /* sort by descending score */
        for (int c = a; c > 0 && score[order[c]] > score[order[c - 1]]; c--) {
            int t = order[c]; order[c] = order[c - 1]; order[c - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        compaction_job *j = try_level(v, p, order[i], rr, -1, trivial);
        if (j) return j;
    }
    return NULL;
}

/* 1 when a file of a level below `level` overlaps the user-key range [b, e]. */
static int range_exists_below(const version *v, int level, const char *b, size_t bl,
                              const char *e, size_t el) {
    for (int l = level + 1; l < v->num_levels; l++) {
        int n = v->nfiles[l];
        if (!n) continue;
        int i = version_find_file(v, l, b, bl); /* first file whose largest >= b */
        if (i < n && ukey_compare(v->files[l][i]->smallest,
                                  v->files[l][i]->smallest_len - IKEY_TRAILER, e, el) <= 0)
            return 1;
    }
    return 0;
}

static int deletion_dense(const file_meta *f, const compaction_policy *p) {
    return f->deletions_known && f->num_entries > 0 &&
           f->num_entries >= p->deletion_min_entries &&
           f->num_deletions * 100 >= (uint64_t)p->deletion_percent * f->num_entries;
}

/* A rewrite of file i of level (>= 1) into the same level, widened so no user key is split:
 * nothing below overlaps it, so its deletes (<= the snapshot) are dropped. NULL if a file is
 * busy, something below overlaps, an entry is newer than smallest_snapshot, or ENOMEM. */
static compaction_job *rewrite_in_place(version *v, int level, int i, uint64_t smallest_snapshot) {
    int n = v->nfiles[level], lo = i, hi = i;
    file_meta **f = v->files[level];
    while (lo > 0 && ukey_compare(f[lo - 1]->largest, f[lo - 1]->largest_len - IKEY_TRAILER,
                                  f[lo]->smallest, f[lo]->smallest_len - IKEY_TRAILER) == 0)
        lo--;
    while (hi + 1 < n && ukey_compare(f[hi]->largest, f[hi]->largest_len - IKEY_TRAILER,
                                      f[hi + 1]->smallest, f[hi + 1]->smallest_len - IKEY_TRAILER) == 0)
        hi++;
    if (any_busy(&f[lo], hi - lo + 1)) return NULL;
    for (int k = lo; k <= hi; k++)
        if (f[k]->max_seq > smallest_snapshot) return NULL;
    const char *b, *e;
    size_t bl, el;
    files_range(&f[lo], hi - lo + 1, &b, &bl, &e, &el);
    if (range_exists_below(v, level, b, bl, e, el)) return NULL;
    file_meta **in = malloc(sizeof(*in) * (size_t)(hi - lo + 1));
    if (!in) return NULL;
    memcpy(in, &f[lo], sizeof(*in) * (size_t)(hi - lo + 1));
    compaction_job *j = new_job(v, level);
    if (!j) { free(in); return NULL; }
    j->inputs[level] = in;
    j->ninputs[level] = hi - lo + 1;
    return j;
}

typedef struct dense_file {
    int level, index;
    uint64_t deletions;
} dense_file;

static int cmp_dense(const void *a, const void *b) {
    const dense_file *x = a, *y = b;
    return x->deletions > y->deletions ? -1 : x->deletions < y->deletions;
}

compaction_job *compaction_pick_deletions(version *v, const compaction_policy *p,
                                          uint64_t smallest_snapshot, int l0_busy, int *trivial) {
    *trivial = 0;
    if (p->deletion_percent <= 0) return NULL;
    for (int l = 0; l < v->num_levels - 1; l++)
        if (compaction_score(v, p, l) >= 1.0) return NULL; /* size first */
    int n = 0, cap = 0;
    dense_file *c = NULL;
    for (int l = 0; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++) {
            file_meta *f = v->files[l][i];
            if (f->being_compacted || !deletion_dense(f, p) || (l == 0 && l0_busy)) continue;
            if (n == cap) {
                int nc = cap ? cap * 2 : 8;
                dense_file *na = realloc(c, sizeof(*na) * (size_t)nc);
                if (!na) { free(c); return NULL; }
                c = na;
                cap = nc;
            }
            c[n++] = (dense_file){l, i, f->num_deletions};
        }
    if (n > 1) qsort(c, (size_t)n, sizeof(*c), cmp_dense);
    compaction_job *j = NULL;
    int rr[LSM_MAX_LEVELS] = {0}, l0_tried = 0;
    for (int k = 0; k < n && !j; k++) {
        int l = c[k].level, i = c[k].index;
        file_meta *f = v->files[l][i];
        if (l == 0) { /* L0 goes whole: one try serves every L0 candidate */
            if (!l0_tried) j = try_level(v, p, 0, rr, -1, trivial);
            l0_tried = 1;
        } else if (l == v->num_levels - 1 ||
                   !range_exists_below(v, l, f->smallest, f->smallest_len - IKEY_TRAILER,
                                       f->largest, f->largest_len - IKEY_TRAILER)) {
            j = rewrite_in_place(v, l, i, smallest_snapshot);
            *trivial = 0;
        } else {
            j = try_level(v, p, l, rr, i, trivial);
        }
    }
    free(c);
    if (j) j->deletion_triggered = 1;
    return j;
}

compaction_job *compaction_pick_range(version *v, const void *begin, size_t bl, const void *end,
                                      size_t el, int *busy) {
    *busy = 0;
    int last = -1;
    for (int l = 0; l < v->num_levels; l++)
        if (v->nfiles[l]) last = l;
    if (last < 0) return NULL;
    int out = last < 1 ? 1 : last;
    if (out >= v->num_levels) out = v->num_levels - 1;
    file_meta **sel[LSM_MAX_LEVELS] = {0};
    int nsel[LSM_MAX_LEVELS] = {0};
    const char *b = begin, *e = end;
    size_t bn = bl, en = el;
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int l = 0; l <= out; l++) {
            file_meta **ov;
            int no = version_overlapping(v, l, b, bn, e, en, &ov);
            if (no < 0) goto fail;
            if (no != nsel[l]) changed = 1;
            free(sel[l]);
            sel[l] = ov;
            nsel[l] = no;
        }
        /* widen the range to the union of everything selected */
        const char *nb = b, *ne = e;
        size_t nbl = bn, nel = en;
        for (int l = 0; l <= out; l++) {
            const char *fb, *fe;
            size_t fbl, fel;
            if (!nsel[l]) continue;
            files_range(sel[l], nsel[l], &fb, &fbl, &fe, &fel);
            if (nb && ukey_compare(fb, fbl, nb, nbl) < 0) { nb = fb; nbl = fbl; changed = 1; }
            if (ne && ukey_compare(fe, fel, ne, nel) > 0) { ne = fe; nel = fel; changed = 1; }
        }
        b = nb; bn = nbl; e = ne; en = nel;
    }
    int total = 0;
    for (int l = 0; l <= out; l++) {
        total += nsel[l];
        if (any_busy(sel[l], nsel[l])) *busy = 1;
    }
    if (total == 0 || *busy) goto fail;
    compaction_job *j = new_job(v, out);
    if (!j) goto fail;
    for (int l = 0; l <= out; l++) {
        if (nsel[l]) {
            j->inputs[l] = sel[l];
            j->ninputs[l] = nsel[l];
        } else {
            free(sel[l]);
        }
    }
    j->manual = 1;
    return j;
fail:
    for (int l = 0; l < LSM_MAX_LEVELS; l++) free(sel[l]);
    return NULL;
}

/* ---------------- queued manual compactions ---------------- */

/* 1 when [a] and [b] share a user key (has_* = 0: unbounded on that side). */
static int req_overlap(const manual_req *a, const manual_req *b) {
    if (a->has_begin && b->has_end && ukey_compare(a->begin, a->bl, b->end, b->el) > 0) return 0;
    if (b->has_begin && a->has_end && ukey_compare(b->begin, b->bl, a->end, a->el) > 0) return 0;
    return 1;
}

/* dst := the union hull of dst and src; src is freed (its buffers move or go). */
static void req_absorb(manual_req *dst, manual_req *src) {
    if (!src->has_begin) {
        free(dst->begin);
        dst->begin = NULL;
        dst->bl = 0;
        dst->has_begin = 0;
        free(src->begin);
    } else if (dst->has_begin && ukey_compare(src->begin, src->bl, dst->begin, dst->bl) < 0) {
        free(dst->begin);
        dst->begin = src->begin;
        dst->bl = src->bl;
    } else {
        free(src->begin);
    }
    if (!src->has_end) {
        free(dst->end);
        dst->end = NULL;
        dst->el = 0;
        dst->has_end = 0;
        free(src->end);
    } else if (dst->has_end && ukey_compare(src->end, src->el, dst->end, dst->el) > 0) {
        free(dst->end);
        dst->end = src->end;
        dst->el = src->el;
    } else {
        free(src->end);
    }
    if (src->after_flushes > dst->after_flushes) dst->after_flushes = src->after_flushes;
    if (src->id > dst->id) dst->id = src->id;
    memset(src, 0, sizeof(*src));
}

static char *dup_key(const void *k, size_t n) {
    char *p = malloc(n ? n : 1);
    if (p && n) memcpy(p, k, n);
    return p;
}

void manual_queue_remove(manual_queue *mq, int i) {
    free(mq->q[i].begin);
    free(mq->q[i].end);
    memmove(&mq->q[i], &mq->q[i + 1], sizeof(*mq->q) * (size_t)(mq->n - i - 1));
    mq->n--;
}

int manual_queue_add(manual_queue *mq, const void *begin, size_t bl, const void *end, size_t el,
                     uint64_t after_flushes, uint64_t id) {
    manual_req r = {0};
    r.has_begin = begin != NULL;
    r.has_end = end != NULL;
    if (begin && !(r.begin = dup_key(begin, bl))) return LSM_ENOMEM;
    if (end && !(r.end = dup_key(end, el))) {
        free(r.begin);
        return LSM_ENOMEM;
    }
    r.bl = begin ? bl : 0;
    r.el = end ? el : 0;
    r.after_flushes = after_flushes;
    r.id = id;
    int at = -1;
    for (int i = 0; i < mq->n && at < 0; i++)
        if (req_overlap(&mq->q[i], &r)) at = i;
    if (at < 0 && mq->n >= MANUAL_QUEUE_MAX) at = mq->n - 1;
    if (at < 0) {
        if (mq->n == mq->cap) {
            int nc = mq->cap ? mq->cap * 2 : 8;
            manual_req *na = realloc(mq->q, sizeof(*na) * (size_t)nc);
            if (!na) {
                free(r.begin);
                free(r.end);
                return LSM_ENOMEM;
            }
            mq->q = na;
            mq->cap = nc;
        }
        mq->q[mq->n++] = r;
        return 0;
    }
    req_absorb(&mq->q[at], &r);
    /* the union may now overlap other queued requests: fold them in until none does */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < mq->n; i++) {
            if (i == at || !req_overlap(&mq->q[at], &mq->q[i])) continue;
            req_absorb(&mq->q[at], &mq->q[i]);
            memmove(&mq->q[i], &mq->q[i + 1], sizeof(*mq->q) * (size_t)(mq->n - i - 1));
            mq->n--;
            if (i < at) at--;
            changed = 1;
            break;
        }
    }
    return 0;
}

void manual_queue_free(manual_queue *mq) {
    for (int i = 0; i < mq->n; i++) {
        free(mq->q[i].begin);
        free(mq->q[i].end);
    }
    free(mq->q);
    memset(mq, 0, sizeof(*mq));
}
