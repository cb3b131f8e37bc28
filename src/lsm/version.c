/* version.c - versions, version edits, the MANIFEST and CURRENT (doc/manifest_format.md).
 *
 * MANIFEST = a log of records in the wal.h format; each record is one version edit:
 *   edit  = field*
 *   field = tag varint || payload           (on-disk: never change the tags)
 *     1 log_number    varint
 *     2 next_file     varint
 *     3 last_seq      varint
 *     4 deleted file  varint level || varint number
 *     5 added file    varint level || varint number || varint size || varint min_seq ||
 *                     varint max_seq || varint entries || varint slen || smallest ikey ||
 *                     varint llen || largest ikey
 *     6 counters      varint n || n * (varint idx || varint zigzag(value))   (absolute values)
 *     7 deletions     varint number || varint deletions: the DELETE entries of the file added
 *                     by the tag 5 field just before it in the same edit (same number); older
 *                     MANIFESTs lack it (deletions unknown)
 * The first record of a MANIFEST is a snapshot of the whole state (every live file added).
 */
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coding.h"
#include "dbformat.h"
#include "fs.h"
#include "wal.h"

#define MANIFEST_ROLL_BYTES (64u << 20)

enum { /* on-disk: never change */
    TAG_LOG_NUMBER = 1,
    TAG_NEXT_FILE = 2,
    TAG_LAST_SEQ = 3,
    TAG_DELETED = 4,
    TAG_ADDED = 5,
    TAG_COUNTERS = 6,
    TAG_DELETIONS = 7,
};

int fsync_dir(const char *dir) { return fs_sync_dir(dir) == 0 ? 0 : LSM_EIO; }

/* ---- file metadata ---- */

file_meta *file_meta_new(uint64_t number, uint64_t size, const char *smallest, size_t sl,
                         const char *largest, size_t ll, uint64_t min_seq, uint64_t max_seq) {
    file_meta *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    f->smallest = malloc(sl ? sl : 1);
    f->largest = malloc(ll ? ll : 1);
    if (!f->smallest || !f->largest) {
        free(f->smallest);
        free(f->largest);
        free(f);
        return NULL;
    }
    if (sl) memcpy(f->smallest, smallest, sl);
    if (ll) memcpy(f->largest, largest, ll);
    f->smallest_len = sl;
    f->largest_len = ll;
    f->number = number;
    f->size = size;
    f->min_seq = min_seq;
    f->max_seq = max_seq;
    atomic_init(&f->refs, 0);
    return f;
}

void file_meta_free(file_meta *f) {
    if (!f) return;
    free(f->smallest);
    free(f->largest);
    free(f);
}

static void file_unref(version_set *vs, file_meta *f) {
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1) return;
    if (vs && !vs->closing) {
        if (vs->on_delete) vs->on_delete(vs->on_delete_ctx, f->number);
        char path[4096];
        snprintf(path, sizeof(path), "%s/%06llu.sst", vs->dir, (unsigned long long)f->number);
        if (!vs->unlink_fn || vs->unlink_fn(vs->unlink_ctx, path) != 0) fs_unlink(path);
        vs->deleted_files++;
    }
    file_meta_free(f);
}

/* ---- versions ---- */

static version *version_alloc(version_set *vs) {
    version *v = calloc(1, sizeof(*v));
    if (!v) return NULL;
    v->vs = vs;
    v->num_levels = vs ? vs->num_levels : LSM_MAX_LEVELS;
    atomic_init(&v->refs, 0);
    return v;
}

void version_ref(version *v) { atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed); }

static void version_destroy(version *v) {
    if (v->prev) v->prev->next = v->next;
    if (v->next) v->next->prev = v->prev;
    for (int l = 0; l < v->num_levels; l++) {
        for (int i = 0; i < v->nfiles[l]; i++) file_unref(v->vs, v->files[l][i]);
        free(v->files[l]);
    }
    free(v);
}

void version_unref(version *v) {
    if (!v) return;
    if (atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1) version_destroy(v);
}

static const char *fm_small_ukey(const file_meta *f, size_t *n) {
    *n = f->smallest_len - IKEY_TRAILER;
    return f->smallest;
}
static const char *fm_large_ukey(const file_meta *f, size_t *n) {
    *n = f->largest_len - IKEY_TRAILER;
    return f->largest;
}

int version_find_file(const version *v, int level, const void *ukey, size_t ukl) {
    int lo = 0, hi = v->nfiles[level];
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        size_t n;
        const char *lk = fm_large_ukey(v->files[level][mid], &n);
        if (ukey_compare(lk, n, ukey, ukl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int file_overlaps_ukey(const file_meta *f, const void *ukey, size_t ukl) {
    size_t sn, ln;
    const char *s = fm_small_ukey(f, &sn), *l = fm_large_ukey(f, &ln);
    return ukey_compare(ukey, ukl, s, sn) >= 0 && ukey_compare(ukey, ukl, l, ln) <= 0;
}

int version_key_may_exist_below(const version *v, int level, const void *ukey, size_t ukl) {
    for (int l = level + 1; l < v->num_levels; l++) {
        if (v->nfiles[l] == 0) continue;
        if (l == 0) continue;
        int i = version_find_file(v, l, ukey, ukl);
        if (i < v->nfiles[l] && file_overlaps_ukey(v->files[l][i], ukey, ukl)) return 1;
    }
    return 0;
}

int version_overlapping(const version *v, int level, const void *begin, size_t bl,
                        const void *end, size_t el, file_meta ***out) {
    int n = v->nfiles[level], cnt = 0;
    file_meta **res = malloc(sizeof(*res) * (size_t)(n ? n : 1));
    if (!res) return -1;
    /* working range; may widen for L0 */
    const char *b = begin, *e = end;
    size_t bn = bl, en = el;
restart:
    cnt = 0;
    for (int i = 0; i < n; i++) {
        file_meta *f = v->files[level][i];
        size_t sn, ln;
        const char *s = fm_small_ukey(f, &sn), *l = fm_large_ukey(f, &ln);
        if (b && ukey_compare(l, ln, b, bn) < 0) continue;
        if (e && ukey_compare(s, sn, e, en) > 0) continue;
        res[cnt++] = f;
        if (level == 0) {
            int widened = 0;
            if (b && ukey_compare(s, sn, b, bn) < 0) { b = s; bn = sn; widened = 1; }
            if (e && ukey_compare(l, ln, e, en) > 0) { e = l; en = ln; widened = 1; }
            if (widened) goto restart;
        }
    }
    *out = res;
    return cnt;
}

static int cmp_l0(const void *a, const void *b) {
    const file_meta *x = *(file_meta *const *)a, *y = *(file_meta *const *)b;
    /* newest first */
    if (x->max_seq != y->max_seq) return x->max_seq > y->max_seq ? -1 : 1;
    if (x->min_seq != y->min_seq) return x->min_seq > y->min_seq ? -1 : 1;
    return x->number > y->number ? -1 : x->number < y->number ? 1 : 0;
}
static int cmp_ln(const void *a, const void *b) {
    const file_meta *x = *(file_meta *const *)a, *y = *(file_meta *const *)b;
    return ikey_compare(x->smallest, x->smallest_len, y->smallest, y->smallest_len);
}

static void version_sort(version *v) {
    for (int l = 0; l < v->num_levels; l++) {
        if (v->nfiles[l] > 1)
            qsort(v->files[l], (size_t)v->nfiles[l], sizeof(file_meta *), l == 0 ? cmp_l0 : cmp_ln);
        uint64_t bytes = 0;
        for (int i = 0; i < v->nfiles[l]; i++) bytes += v->files[l][i]->size;
        v->level_bytes[l] = bytes;
    }
}

static int edit_deletes(const version_edit *e, int level, uint64_t number) {
    for (int i = 0; i < e->ndeleted; i++)
        if (e->deleted[i].level == level && e->deleted[i].number == number) return 1;
    return 0;
}

version *version_apply(version_set *vs, const version *base, const version_edit *e) {
    version *v = version_alloc(vs);
    if (!v) return NULL;
    for (int l = 0; l < v->num_levels; l++) {
        int cap = (base ? base->nfiles[l] : 0);
        for (int i = 0; i < e->nadded; i++)
            if (e->added[i].level == l) cap++;
        if (cap == 0) continue;
        v->files[l] = malloc(sizeof(file_meta *) * (size_t)cap);
        if (!v->files[l]) goto oom;
        int n = 0;
        if (base)
            for (int i = 0; i < base->nfiles[l]; i++) {
                file_meta *f = base->files[l][i];
                if (e->ndeleted && edit_deletes(e, l, f->number)) continue;
                v->files[l][n++] = f;
            }
        for (int i = 0; i < e->nadded; i++)
            if (e->added[i].level == l) v->files[l][n++] = e->added[i].f;
        v->nfiles[l] = n;
    }
    for (int l = 0; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++)
            atomic_fetch_add_explicit(&v->files[l][i]->refs, 1, memory_order_relaxed);
    version_sort(v);
    return v;
oom:
    for (int l = 0; l < v->num_levels; l++) free(v->files[l]);
    free(v);
    return NULL;
}

/* ---- edits ---- */

void edit_init(version_edit *e) { memset(e, 0, sizeof(*e)); }

void edit_free(version_edit *e) {
    free(e->added);
    free(e->deleted);
    e->added = e->deleted = NULL;
    e->nadded = e->ndeleted = e->cap_added = e->cap_deleted = 0;
}

void edit_free_added(version_edit *e) {
    for (int i = 0; i < e->nadded; i++)
        if (e->added[i].f && atomic_load(&e->added[i].f->refs) == 0) {
            file_meta_free(e->added[i].f);
            e->added[i].f = NULL;
        }
}

static int push_ef(edit_file **arr, int *n, int *cap, edit_file ef) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        edit_file *na = realloc(*arr, sizeof(edit_file) * (size_t)nc);
        if (!na) return LSM_ENOMEM;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = ef;
    return 0;
}

int edit_add_file(version_edit *e, int level, file_meta *f) {
    edit_file ef = {level, f, f->number};
    return push_ef(&e->added, &e->nadded, &e->cap_added, ef);
}

int edit_delete_file(version_edit *e, int level, uint64_t number) {
    edit_file ef = {level, NULL, number};
    return push_ef(&e->deleted, &e->ndeleted, &e->cap_deleted, ef);
}

typedef struct ebuf {
    char *p;
    size_t len, cap;
    int oom;
} ebuf;

static void eb_reserve(ebuf *b, size_t n) {
    if (b->oom || b->len + n <= b->cap) return;
    size_t nc = b->cap ? b->cap * 2 : 256;
    while (nc < b->len + n) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) {
        b->oom = 1;
        return;
    }
    b->p = np;
    b->cap = nc;
}
static void eb_varint(ebuf *b, uint64_t v) {
    eb_reserve(b, 10);
    if (!b->oom) b->len += encode_varint64(b->p + b->len, v);
}
static void eb_bytes(ebuf *b, const char *d, size_t n) {
    eb_varint(b, n);
    eb_reserve(b, n);
    if (!b->oom && n) {
        memcpy(b->p + b->len, d, n);
        b->len += n;
    }
}
static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

int edit_encode(const version_edit *e, char **out, size_t *len) {
    ebuf b = {0};
    if (e->has_log_number) { eb_varint(&b, TAG_LOG_NUMBER); eb_varint(&b, e->log_number); }
    if (e->has_next_file) { eb_varint(&b, TAG_NEXT_FILE); eb_varint(&b, e->next_file); }
    if (e->has_last_seq) { eb_varint(&b, TAG_LAST_SEQ); eb_varint(&b, e->last_seq); }
    for (int i = 0; i < e->ndeleted; i++) {
        eb_varint(&b, TAG_DELETED);
        eb_varint(&b, (uint64_t)e->deleted[i].level);
        eb_varint(&b, e->deleted[i].number);
    }
    for (int i = 0; i < e->nadded; i++) {
        const file_meta *f = e->added[i].f;
        eb_varint(&b, TAG_ADDED);
        eb_varint(&b, (uint64_t)e->added[i].level);
        eb_varint(&b, f->number);
        eb_varint(&b, f->size);
        eb_varint(&b, f->min_seq);
        eb_varint(&b, f->max_seq);
        eb_varint(&b, f->num_entries);
        eb_bytes(&b, f->smallest, f->smallest_len);
        eb_bytes(&b, f->largest, f->largest_len);
        if (f->deletions_known) {
            eb_varint(&b, TAG_DELETIONS);
            eb_varint(&b, f->number);
            eb_varint(&b, f->num_deletions);
        }
    }
    if (e->has_counters) {
        int n = 0;
        for (int i = 0; i < LSM_MAX_COUNTERS; i++) n += e->counters[i] != 0;
        eb_varint(&b, TAG_COUNTERS);
        eb_varint(&b, (uint64_t)n);
        for (int i = 0; i < LSM_MAX_COUNTERS; i++)
            if (e->counters[i]) {
                eb_varint(&b, (uint64_t)i);
                eb_varint(&b, zigzag(e->counters[i]));
            }
    }
    if (b.oom) {
        free(b.p);
        return LSM_ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

int edit_decode(version_edit *e, const char *data, size_t len) {
    if (len == 0) return 0; /* an empty edit (data may be NULL: edit_encode of an empty edit) */
    const char *p = data, *lim = data + len;
    int rc;
    file_meta *last_added = NULL; /* the file of the field just before, if it added one */
    while (p < lim) {
        uint64_t tag, a, b2;
        if (!(p = decode_varint64(p, lim, &tag))) return LSM_ECORRUPT;
        file_meta *prev_added = last_added;
        last_added = NULL;
        switch (tag) {
        case TAG_LOG_NUMBER:
            if (!(p = decode_varint64(p, lim, &e->log_number))) return LSM_ECORRUPT;
            if (e->log_number >= VSET_MAX_FILE_NUMBER) return LSM_ECORRUPT;
            e->has_log_number = 1;
            break;
        case TAG_NEXT_FILE:
            if (!(p = decode_varint64(p, lim, &e->next_file))) return LSM_ECORRUPT;
            if (e->next_file > VSET_MAX_FILE_NUMBER) return LSM_ECORRUPT;
            e->has_next_file = 1;
            break;
        case TAG_LAST_SEQ:
            if (!(p = decode_varint64(p, lim, &e->last_seq))) return LSM_ECORRUPT;
            e->has_last_seq = 1;
            break;
        case TAG_DELETED:
            if (!(p = decode_varint64(p, lim, &a))) return LSM_ECORRUPT;
            if (!(p = decode_varint64(p, lim, &b2))) return LSM_ECORRUPT;
            if (a >= LSM_MAX_LEVELS || b2 >= VSET_MAX_FILE_NUMBER) return LSM_ECORRUPT;
            if ((rc = edit_delete_file(e, (int)a, b2))) return rc;
            break;
        case TAG_ADDED: {
            uint64_t level, num, size, mins, maxs, ents, sl, ll;
            if (!(p = decode_varint64(p, lim, &level))) return LSM_ECORRUPT;
            if (!(p = decode_varint64(p, lim, &num))) return LSM_ECORRUPT;
            if (!(p = decode_varint64(p, lim, &size))) return LSM_ECORRUPT;
            if (!(p = decode_varint64(p, lim, &mins))) return LSM_ECORRUPT;
            if (!(p = decode_varint64(p, lim, &maxs))) return LSM_ECORRUPT;
            if (!(p = decode_varint64(p, lim, &ents))) return LSM_ECORRUPT;
            if (!(p = decode_varint64(p, lim, &sl))) return LSM_ECORRUPT;
            if (sl < IKEY_TRAILER || sl > (uint64_t)(lim - p)) return LSM_ECORRUPT;
            const char *s = p;
            p += sl;
            if (!(p = decode_varint64(p, lim, &ll))) return LSM_ECORRUPT;
            if (ll < IKEY_TRAILER || ll > (uint64_t)(lim - p)) return LSM_ECORRUPT;
            const char *l = p;
            p += ll;
            if (level >= LSM_MAX_LEVELS || num >= VSET_MAX_FILE_NUMBER) return LSM_ECORRUPT;
            file_meta *f = file_meta_new(num, size, s, sl, l, ll, mins, maxs);
            if (!f) return LSM_ENOMEM;
            f->num_entries = ents;
            if ((rc = edit_add_file(e, (int)level, f))) {
                file_meta_free(f);
                return rc;
            }
            last_added = f; /* for a tag 7 right after */
            break;
        }
        case TAG_DELETIONS: { /* follows the added file it describes */
            if (!(p = decode_varint64(p, lim, &a))) return LSM_ECORRUPT;
            if (!(p = decode_varint64(p, lim, &b2))) return LSM_ECORRUPT;
            if (!prev_added || prev_added->number != a || b2 > prev_added->num_entries)
                return LSM_ECORRUPT;
            prev_added->num_deletions = b2;
            prev_added->deletions_known = 1;
            break;
        }
        case TAG_COUNTERS: {
            uint64_t n;
            if (!(p = decode_varint64(p, lim, &n))) return LSM_ECORRUPT;
            memset(e->counters, 0, sizeof(e->counters));
            for (uint64_t i = 0; i < n; i++) {
                if (!(p = decode_varint64(p, lim, &a))) return LSM_ECORRUPT;
                if (!(p = decode_varint64(p, lim, &b2))) return LSM_ECORRUPT;
                if (a >= LSM_MAX_COUNTERS) return LSM_ECORRUPT;
                e->counters[a] = unzigzag(b2);
            }
            e->has_counters = 1;
            break;
        }
        default:
            return LSM_ECORRUPT;
        }
    }
    return 0;
}

/* ---- version set ---- */

version_set *vset_new(const char *dir, int num_levels) {
    version_set *vs = calloc(1, sizeof(*vs));
    if (!vs) return NULL;
    vs->dir = strdup(dir);
    if (!vs->dir) {
        free(vs);
        return NULL;
    }
    if (num_levels < 2) num_levels = 2;
    if (num_levels > LSM_MAX_LEVELS) num_levels = LSM_MAX_LEVELS;
    vs->num_levels = num_levels;
    atomic_init(&vs->next_file, 2);
    vs->live.next = vs->live.prev = NULL;
    version *v = version_alloc(vs);
    if (!v) {
        free(vs->dir);
        free(vs);
        return NULL;
    }
    version_ref(v);
    v->prev = &vs->live;
    vs->live.next = v;
    vs->current = v;
    return vs;
}

void vset_free(version_set *vs) {
    if (!vs) return;
    vs->closing = 1;
    if (vs->manifest) wal_writer_close((wal_writer *)vs->manifest, 1);
    vs->manifest = NULL;
    free(vs->deferred);
    version_unref(vs->current);
    vs->current = NULL;
    free(vs->dir);
    free(vs);
}

uint64_t vset_new_file_number(version_set *vs) {
    return atomic_fetch_add_explicit(&vs->next_file, 1, memory_order_relaxed);
}

static void install(version_set *vs, version *v) {
    version_ref(v);
    v->prev = &vs->live;
    v->next = vs->live.next;
    if (v->next) v->next->prev = v;
    vs->live.next = v;
    version *old = vs->current;
    vs->current = v;
    version_unref(old);
}

static void absorb_scalars(version_set *vs, const version_edit *e) {
    if (e->has_log_number && e->log_number > vs->log_number) vs->log_number = e->log_number;
    if (e->has_next_file && e->next_file > atomic_load(&vs->next_file))
        atomic_store(&vs->next_file, e->next_file);
    if (e->has_last_seq && e->last_seq > vs->last_seq) vs->last_seq = e->last_seq;
    if (e->has_counters) memcpy(vs->counters, e->counters, sizeof(vs->counters));
}

int vset_recover(version_set *vs, int *found) {
    char path[4096], buf[256];
    *found = 0;
    snprintf(path, sizeof(path), "%s/CURRENT", vs->dir);
    int fd = fs_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        snprintf(vs->errmsg, sizeof(vs->errmsg), "open %.300s: %s", path, strerror(errno));
        return LSM_EIO;
    }
    ssize_t n = fs_pread(fd, buf, sizeof(buf) - 1, 0);
    int rerr = errno;
    fs_close(fd);
    if (n < 0) {
        snprintf(vs->errmsg, sizeof(vs->errmsg), "read %.300s: %s", path, strerror(rerr));
        return LSM_EIO;
    }
    if (n <= 0 || buf[n - 1] != '\n' || strncmp(buf, "MANIFEST-", 9) != 0) {
        snprintf(vs->errmsg, sizeof(vs->errmsg), "%.300s: malformed CURRENT file", path);
        return LSM_ECORRUPT;
    }
    buf[n - 1] = 0;
    vs->manifest_number = strtoull(buf + 9, NULL, 10);
    snprintf(path, sizeof(path), "%s/%s", vs->dir, buf);
    wal_reader *r = wal_reader_open(path);
    if (!r) {
        int e = errno;
        snprintf(vs->errmsg, sizeof(vs->errmsg), "CURRENT names %.40s: open %.300s: %s", buf, path,
                 strerror(e));
        return e == ENOENT ? LSM_ECORRUPT : LSM_EIO;
    }
    /* Build in place: per-level growable arrays. */
    file_meta **lv[LSM_MAX_LEVELS] = {0};
    int nf[LSM_MAX_LEVELS] = {0}, cap[LSM_MAX_LEVELS] = {0};
    int rc = 0, records = 0;
    const char *rec;
    size_t rlen;
    for (;;) {
        int s = wal_reader_next(r, &rec, &rlen);
        if (s == WAL_READ_EOF) break;
        if (s < 0) {
            snprintf(vs->errmsg, sizeof(vs->errmsg), "%.300s: corrupt record at offset %llu", path,
                     (unsigned long long)wal_reader_offset(r));
            rc = LSM_ECORRUPT;
            break;
        }
        version_edit e;
        edit_init(&e);
        int d = edit_decode(&e, rec, rlen);
        if (d) {
            for (int i = 0; i < e.nadded; i++) file_meta_free(e.added[i].f);
            edit_free(&e);
            snprintf(vs->errmsg, sizeof(vs->errmsg), "%.300s: bad version edit at offset %llu", path,
                     (unsigned long long)wal_reader_offset(r));
            rc = d;
            break;
        }
        records++;
        for (int i = 0; i < e.ndeleted; i++) {
            int l = e.deleted[i].level;
            for (int j = 0; j < nf[l]; j++)
                if (lv[l][j]->number == e.deleted[i].number) {
                    file_meta_free(lv[l][j]);
                    lv[l][j] = lv[l][--nf[l]];
                    break;
                }
        }
        for (int i = 0; i < e.nadded && rc == 0; i++) {
            int l = e.added[i].level;
            if (l >= vs->num_levels) {
                snprintf(vs->errmsg, sizeof(vs->errmsg), "%.300s: file at level %d >= num_levels",
                         path, l);
                rc = LSM_ECORRUPT;
            } else if (nf[l] == cap[l]) {
                int nc = cap[l] ? cap[l] * 2 : 16;
                file_meta **na = realloc(lv[l], sizeof(file_meta *) * (size_t)nc);
                if (!na) rc = LSM_ENOMEM;
                else { lv[l] = na; cap[l] = nc; }
            }
            if (rc == 0) lv[l][nf[l]++] = e.added[i].f;
            else file_meta_free(e.added[i].f);
            e.added[i].f = NULL;
        }
        for (int i = 0; i < e.nadded; i++) file_meta_free(e.added[i].f);
        absorb_scalars(vs, &e);
        edit_free(&e);
        if (rc) break;
    }
    wal_reader_close(r);
    if (rc == 0 && records == 0) {
        snprintf(vs->errmsg, sizeof(vs->errmsg), "%.300s: empty MANIFEST", path);
        rc = LSM_ECORRUPT;
    }
    if (rc) {
        for (int l = 0; l < LSM_MAX_LEVELS; l++) {
            for (int j = 0; j < nf[l]; j++) file_meta_free(lv[l][j]);
            free(lv[l]);
        }
        return rc;
    }
    version *v = vs->current; /* the empty initial version, only owner */
    uint64_t maxnum = 0;
    for (int l = 0; l < vs->num_levels; l++) {
        free(v->files[l]);
        v->files[l] = lv[l];
        v->nfiles[l] = nf[l];
        for (int j = 0; j < nf[l]; j++) {
            atomic_fetch_add_explicit(&lv[l][j]->refs, 1, memory_order_relaxed);
            if (lv[l][j]->number > maxnum) maxnum = lv[l][j]->number;
        }
    }
    version_sort(v);
    if (maxnum + 1 > atomic_load(&vs->next_file)) atomic_store(&vs->next_file, maxnum + 1);
    if (vs->manifest_number + 1 > atomic_load(&vs->next_file))
        atomic_store(&vs->next_file, vs->manifest_number + 1);
    if (vs->log_number + 1 > atomic_load(&vs->next_file))
        atomic_store(&vs->next_file, vs->log_number + 1);
    *found = 1;
    return 0;
}

/* Points CURRENT at MANIFEST-mnum: temp file, fsync, rename, directory fsync. Returns 0, or
 * LSM_EIO with *renamed saying whether CURRENT may already name the new MANIFEST (the rename
 * happened but the directory sync failed: after a power loss it may name either). */
static int write_current(version_set *vs, uint64_t mnum, int *renamed) {
    char tmp[4096], path[4096], line[64];
    *renamed = 0;
    snprintf(tmp, sizeof(tmp), "%s/CURRENT.tmp", vs->dir);
    snprintf(path, sizeof(path), "%s/CURRENT", vs->dir);
    int n = snprintf(line, sizeof(line), "MANIFEST-%06llu\n", (unsigned long long)mnum);
    int fd = fs_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) goto fail;
    if (fs_pwrite_all(fd, line, (size_t)n, 0, NULL) != 0 || fs_fsync(fd) != 0) {
        int e = errno;
        fs_close(fd);
        fs_unlink(tmp);
        errno = e;
        goto fail;
    }
    if (fs_close(fd) != 0) {
        fs_unlink(tmp);
        goto fail;
    }
    if (fs_rename(tmp, path) != 0) {
        int e = errno;
        fs_unlink(tmp);
        errno = e;
        goto fail;
    }
    *renamed = 1;
    if (fs_sync_dir(vs->dir) != 0) goto fail;
    return 0;
fail:
    snprintf(vs->errmsg, sizeof(vs->errmsg), "writing CURRENT: %s", strerror(errno));
    return LSM_EIO;
}

/* Drops the live MANIFEST writer after a write error without writing what it buffered: that
 * MANIFEST is never appended to again (the next vset_log_and_apply starts a fresh one from a
 * snapshot), so an edit that failed can never reach the disk later. */
static void manifest_abandon(version_set *vs) {
    if (vs->manifest) wal_writer_abandon((wal_writer *)vs->manifest, UINT64_MAX);
    vs->manifest = NULL;
    vs->manifest_failed = 1;
}

static int append_edit(version_set *vs, const version_edit *e) {
    char *data;
    size_t len;
    int rc = edit_encode(e, &data, &len);
    if (rc) return rc;
    wal_writer *w = vs->manifest;
    rc = wal_writer_add(w, data, len);
    free(data);
    if (rc) return rc; /* ENOMEM: nothing was buffered */
    rc = wal_writer_flush(w);
    if (rc == 0) rc = wal_writer_sync(w);
    if (rc) {
        snprintf(vs->errmsg, sizeof(vs->errmsg), "MANIFEST write failed: %s", strerror(errno));
        manifest_abandon(vs);
    }
    return rc;
}

static void unlink_manifest(const version_set *vs, uint64_t num) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/MANIFEST-%06llu", vs->dir, (unsigned long long)num);
    fs_unlink(path);
}

static int push_u64(uint64_t **a, int *n, int *cap, uint64_t v) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        uint64_t *na = realloc(*a, sizeof(*na) * (size_t)nc);
        if (!na) return LSM_ENOMEM;
        *a = na;
        *cap = nc;
    }
    (*a)[(*n)++] = v;
    return 0;
}

void vset_defer_delete(version_set *vs, uint64_t table_number) {
    /* on ENOMEM the table stays until the next open's orphan sweep */
    (void)push_u64(&vs->deferred, &vs->ndeferred, &vs->cap_deferred, table_number);
}

/* After a MANIFEST switch made durable: tables of failed installs and stale MANIFESTs are
 * referenced by nothing any recovery can read. */
static void delete_deferred(version_set *vs) {
    char path[4096];
    for (int i = 0; i < vs->ndeferred; i++) {
        uint64_t n = vs->deferred[i];
        if (n >= VSET_MANIFEST_TAG) {
            unlink_manifest(vs, n - VSET_MANIFEST_TAG);
        } else {
            snprintf(path, sizeof(path), "%s/%06llu.sst", vs->dir, (unsigned long long)n);
            fs_unlink(path);
        }
    }
    vs->ndeferred = 0;
}

int vset_write_snapshot(version_set *vs) {
    uint64_t mnum = vset_new_file_number(vs);
    char path[4096];
    snprintf(path, sizeof(path), "%s/MANIFEST-%06llu", vs->dir, (unsigned long long)mnum);
    wal_writer *w = wal_writer_create(path);
    if (!w) {
        snprintf(vs->errmsg, sizeof(vs->errmsg), "create %.300s: %s", path, strerror(errno));
        return LSM_EIO;
    }
    version_edit e;
    edit_init(&e);
    e.has_log_number = 1;
    e.log_number = vs->log_number;
    e.has_next_file = 1;
    e.next_file = atomic_load(&vs->next_file);
    e.has_last_seq = 1;
    e.last_seq = vs->last_seq;
    e.has_counters = 1;
    memcpy(e.counters, vs->counters, sizeof(e.counters));
    int rc = 0;
    version *v = vs->current;
    for (int l = 0; l < v->num_levels && rc == 0; l++)
        for (int i = 0; i < v->nfiles[l] && rc == 0; i++) rc = edit_add_file(&e, l, v->files[l][i]);
    char *data = NULL;
    size_t len = 0;
    if (rc == 0) rc = edit_encode(&e, &data, &len);
    edit_free(&e);
    if (rc == 0) rc = wal_writer_add(w, data, len);
    free(data);
    if (rc == 0) rc = wal_writer_flush(w);
    if (rc == 0) rc = wal_writer_sync(w);
    if (rc) {
        if (rc == LSM_EIO)
            snprintf(vs->errmsg, sizeof(vs->errmsg), "writing %.300s: %s", path, strerror(errno));
        wal_writer_abandon(w, UINT64_MAX);
        fs_unlink(path);
        return rc;
    }
    int renamed;
    rc = write_current(vs, mnum, &renamed);
    if (rc && !renamed) { /* CURRENT still names the previous MANIFEST, which stays live */
        wal_writer_abandon(w, UINT64_MAX);
        fs_unlink(path);
        return rc;
    }
    uint64_t oldnum = vs->manifest_number;
    if (vs->manifest) wal_writer_close((wal_writer *)vs->manifest, 1);
    vs->manifest = w;
    vs->manifest_number = mnum;
    if (oldnum && oldnum != mnum)
        (void)push_u64(&vs->deferred, &vs->ndeferred, &vs->cap_deferred, VSET_MANIFEST_TAG + oldnum);
    if (rc) {
        /* renamed but not known durable: after a power loss CURRENT may name either MANIFEST,
         * so both stay, and the next edit starts over with another snapshot */
        manifest_abandon(vs);
        return rc;
    }
    vs->manifest_failed = 0;
    delete_deferred(vs);
    return 0;
}

int vset_log_and_apply(version_set *vs, version_edit *e) {
    if (vs->manifest_failed) {
        int rc = vset_write_snapshot(vs);
        if (rc) return rc;
    }
    e->has_next_file = 1;
    e->next_file = atomic_load(&vs->next_file);
    if (e->has_last_seq && e->last_seq < vs->last_seq) e->last_seq = vs->last_seq;
    version *v = version_apply(vs, vs->current, e);
    if (!v) return LSM_ENOMEM;
    int rc = vs->manifest ? append_edit(vs, e) : 0;
    if (rc) {
        /* drop the refs taken on the files without freeing or deleting anything */
        for (int l = 0; l < v->num_levels; l++) {
            for (int i = 0; i < v->nfiles[l]; i++)
                atomic_fetch_sub_explicit(&v->files[l][i]->refs, 1, memory_order_acq_rel);
            free(v->files[l]);
        }
        free(v);
        return rc;
    }
    absorb_scalars(vs, e);
    install(vs, v);
    /* keep recovery fast: start over with a snapshot once the log grows large */
    if (vs->manifest && wal_writer_size((wal_writer *)vs->manifest) > MANIFEST_ROLL_BYTES)
        (void)vset_write_snapshot(vs); /* on failure the old MANIFEST stays live and complete */
    return 0;
}

uint64_t vset_level_target(uint64_t level1_max, int multiplier, int level) {
    uint64_t t = level1_max;
    for (int i = 1; i < level; i++) t *= (uint64_t)(multiplier > 1 ? multiplier : 1);
    return t;
}
