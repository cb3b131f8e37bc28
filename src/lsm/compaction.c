/* compaction.c - flush and compaction jobs, compaction picking. See compaction.h.
 *
 * Compaction drop rules, applied to the merged input in internal-key order (per user key the
 * newest version comes first):
 *   - a version is dropped when a newer version of the same user key with sequence <=
 *     smallest_snapshot was already seen (no live iterator can read it);
 *   - a DELETE, or a VALUE whose expire-at (expire_fn) is <= now, with sequence <=
 *     smallest_snapshot is dropped when no file in a level below the output level overlaps the
 *     key (nothing older can resurface); the versions it shadows are dropped by the first rule.
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
#include "sst_reader.h"

/* ---------------- flush ---------------- */

static file_meta *meta_from_props(uint64_t number, const sst_props *p) {
    file_meta *f = file_meta_new(number, p->file_size, p->smallest, p->smallest_len, p->largest,
                                 p->largest_len, p->min_seq, p->max_seq);
    if (f) f->num_entries = p->num_entries;
    return f;
}

static void flush_run(bg_job *bj) {
    flush_job *j = (flush_job *)bj;
    j->base.rc = 0;
    j->out = NULL;
    if (memtable_entries(j->mem) == 0) return;
    char path[4096];
    table_file_name(path, sizeof(path), j->dir, j->file_number);
    sst_builder *b = sst_builder_new(path, &j->sopts);
    if (!b) {
        snprintf(j->err, sizeof(j->err), "flush: create %.300s: %s", path, strerror(errno));
        j->base.rc = LSM_EIO;
        return;
    }
    internal_iter *it = memtable_iter_new(j->mem);
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
    }
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

    char *cur = NULL;          /* current user key */
    size_t cur_len = 0, cur_cap = 0;
    int have_cur = 0;
    uint64_t last_seq_for_key = 0;
    int last_valid = 0;        /* a newer version of cur was seen */
    sst_builder *b = NULL;
    uint64_t bnum = 0;
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

static compaction_job *try_level(version *v, const compaction_policy *p, int level, int *rr,
                                 int *trivial) {
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
        for (int k = 0; k < n && !in; k++) {
            int i = (rr[level] + k) % n;
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
            rr[level] = hi + 1;
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
        compaction_job *j = try_level(v, p, order[i], rr, trivial);
        if (j) return j;
    }
    return NULL;
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
