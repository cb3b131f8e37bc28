/* list.c - Redis lists over the collection layer (list.h).
 *
 * Layout (on-disk: never change; doc/keyspace_format.md "Lists"):
 *   'k' || db || key -> value header || version (8, BE) || count (8, LE) || enc (1) || head (8, BE)
 *   'm' || version || 0x00 || pos (8, BE) -> element bytes,  pos = head .. head + count - 1
 * Index i is at head + i. Pushing at the head lowers head; popping there raises it; the tail is
 * head + count. A middle insert or removal moves the elements of the shorter side by one
 * position each (their records rewritten), so the positions stay dense. */
#include "list.h"

#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "util.h"

#define LIST_HEAD_START (1ull << 63)


static uint64_t head_of(const coll *l) { return get_be64(l->extra); }

static void set_head(coll *l, uint64_t h) {
    put_be64(l->extra, h);
    l->extra_len = 8;
    l->meta_dirty = 1;
}

/* Element record at position pos. */
static int pos_get(const coll *l, uint64_t pos, lsm_buf *out) {
    char p[8];
    put_be64(p, pos);
    return coll_get(l, COLL_SUB_MEMBER, p, 8, out);
}
static int pos_put(coll *l, uint64_t pos, const void *v, size_t vlen) {
    char p[8];
    put_be64(p, pos);
    return coll_put(l, COLL_SUB_MEMBER, p, 8, v, vlen);
}
static int pos_del(coll *l, uint64_t pos) {
    char p[8];
    put_be64(p, pos);
    return coll_del(l, COLL_SUB_MEMBER, p, 8);
}
/* A hint: the next push or pop at an end writes the record at pos; start loading its memtable
 * index line now, so that write (a command later) does not wait for it. */
static void pos_prefetch(const coll *l, uint64_t pos) {
    char p[8];
    put_be64(p, pos);
    coll_prefetch(l, COLL_SUB_MEMBER, p, 8, 1);
}

int list_open(coll *l, int db, const char *key, size_t klen, int flags) {
    int r = coll_open(l, db, key, klen, KTYPE_LIST, flags);
    if (r == 1 && l->extra_len != 8) return LSM_ECORRUPT;
    return r;
}

/* A fresh list: head in the middle of the position space. Redis 7.0 lists are quicklists. */
static int fresh(coll *l) {
    set_head(l, LIST_HEAD_START);
    return 0;
}

int list_create(coll *l) {
    if (l->exists) return 0;
    int r = coll_create(l, COLL_ENC_BIG);
    return r ? r : fresh(l);
}

int list_recreate(coll *l) {
    int r = coll_recreate(l, COLL_ENC_BIG);
    return r ? r : fresh(l);
}

int list_push(coll *l, int where, const void *v, size_t vlen) {
    if (!l->exists) return LSM_EINVAL;
    uint64_t head = head_of(l), pos;
    if (where == LIST_HEAD) {
        if (head == 0) return LSM_EINVAL; /* 2^63 pushes at the head */
        pos = head - 1;
    } else {
        pos = head + (uint64_t)l->count;
        if (pos < head) return LSM_EINVAL;
    }
    int r = pos_put(l, pos, v, vlen);
    if (r) return r;
    if (where == LIST_HEAD) set_head(l, pos);
    coll_count_add(l, 1);
    pos_prefetch(l, where == LIST_HEAD ? pos - 1 : pos + 1);
    return 0;
}

/* ---- read-ahead of the end elements: LPOP/RPOP without an engine lookup per pop ----
 * Popping a long list from one end reads elements that sit next to each other, so a pop of a
 * list of LC_MIN_LEN elements or more reads up to LC_AHEAD of them (LC_BYTES bytes) from its end
 * with one walk, and the pops that follow take them from here: the run of positions lo..hi of one
 * list version, each element as read from the engine. It stays right because
 *  - a pop of a position of the run takes it out (lo++ or hi--: the run is contiguous and a pop
 *    takes an end of the list), so the run is always inside the list's live positions
 *    [head, head + count), and a push, which writes head - 1 or head + count, never writes one
 *    of its positions;
 *  - every other write of this file that rewrites or deletes elements where they are (LSET,
 *    LINSERT, LREM, LTRIM, removals) forgets it (lc_forget), and versions are never reused (a
 *    deleted, overwritten or recreated list has another version);
 *  - a write taken back after the fact (an aborted command, a failed WAL commit) may have been
 *    read into the run, or may have freed positions the run holds for a later push to reuse: the
 *    engine's rollback count (lsm_rollbacks) is part of the run's identity, so any rollback drops
 *    it.
 * A pop uses the run only for the position the metadata names when it is one of the run's ends;
 * anything else reads as before. A walk is made only for the second pop in a row at one end
 * (the position right after the previous pop's): a list used as a stack (a push and a pop at
 * the same end, in turns) or a queue kept short pops with one lookup each, as before. */
#define LC_AHEAD 64
#define LC_BYTES (64u << 10)
#define LC_MIN_LEN 32 /* shorter lists (a queue kept near empty) pop with one lookup each */
/* What a run or a streak belongs to: the list's version and the engine's rollback count (whose
 * values never repeat across engines, so a reopened engine never matches either). */
typedef struct lc_id {
    uint64_t version, rollbacks;
} lc_id;

static lc_id lc_id_of(const coll *l) { return (lc_id){l->version, lsm_rollbacks(server.engine)}; }
static int lc_id_eq(lc_id a, lc_id b) { return a.version == b.version && a.rollbacks == b.rollbacks; }

static struct {
    int valid;
    lc_id id;
    uint64_t first;             /* position of the element read first */
    int down;                   /* read from the tail: element k is at first - k (else first + k) */
    uint64_t lo, hi;            /* positions still held (inclusive) */
    char *bytes;
    size_t bytes_cap;
    size_t off[LC_AHEAD + 1];   /* element k is bytes[off[k] .. off[k + 1]) */
} lc;
static int lc_enabled = 1;
static uint64_t lc_walks; /* read-aheads made (tests) */
/* Where the next pop at each end would be if pops go on: the streak that earns a walk. */
static struct {
    lc_id id;
    uint64_t pos[2]; /* [LIST_HEAD], [LIST_TAIL] */
} lc_next;

uint64_t list_cache_walks(void) { return lc_walks; }

static void lc_forget(uint64_t version) {
    if (lc.valid && lc.id.version == version) lc.valid = 0;
}

void list_cache_enable(int on) {
    lc_enabled = on;
    lc.valid = 0;
}

/* Reads up to LC_AHEAD elements (LC_BYTES bytes in all) from the `where` end of l into the run.
 * 0, or nonzero: no run (an error, or a first element bigger than LC_BYTES). */
static int lc_fill(const coll *l, int where) {
    lc.valid = 0;
    list_iter li;
    int r = list_iter_seek(&li, l, 0, where == LIST_TAIL);
    size_t n = 0, len = 0;
    for (; r == 0 && list_iter_valid(&li) && n < LC_AHEAD; list_iter_next(&li), n++) {
        size_t vl;
        const char *v = list_iter_value(&li, &vl);
        if (len + vl > LC_BYTES) break; /* the buffer stays small (a big element: no run) */
        if (len + vl > lc.bytes_cap) {
            size_t nc = lc.bytes_cap ? lc.bytes_cap : 4096;
            while (nc < len + vl) nc *= 2;
            char *nb = realloc(lc.bytes, nc);
            if (!nb) {
                r = LSM_ENOMEM;
                break;
            }
            lc.bytes = nb;
            lc.bytes_cap = nc;
        }
        if (vl) memcpy(lc.bytes + len, v, vl);
        lc.off[n] = len;
        len += vl;
    }
    if (r == 0) r = list_iter_status(&li);
    list_iter_close(&li);
    if (r) return r;
    if (n == 0) return -1;
    lc.off[n] = len;
    uint64_t head = head_of(l);
    lc.down = where == LIST_TAIL;
    lc.first = lc.down ? head + (uint64_t)l->count - 1 : head;
    lc.lo = lc.down ? lc.first - (n - 1) : lc.first;
    lc.hi = lc.down ? lc.first : lc.first + (n - 1);
    lc.id = lc_id_of(l);
    lc.valid = 1;
    return 0;
}

static int lc_holds(lc_id id, uint64_t pos) {
    return lc.valid && lc_id_eq(lc.id, id) && (pos == lc.lo || pos == lc.hi);
}

/* The element at pos (an end of the list) into out from the run, reading ahead first when the
 * list is long enough: 1 taken (the run lets it go), 0 not held (read it), or LSM_ENOMEM. */
static int lc_take(const coll *l, lc_id id, int where, uint64_t pos, lsm_buf *out) {
    if (!lc_enabled) return 0;
    if (!lc_holds(id, pos)) {
        /* a walk that fails (no memory, a hole the count does not explain) leaves the pop to
         * its own lookup, which reports what it finds */
        int streak = lc_id_eq(lc_next.id, id) && lc_next.pos[where] == pos;
        if (!streak || l->count < LC_MIN_LEN) return 0;
        lc_walks++;
        if (lc_fill(l, where) != 0 || !lc_holds(id, pos)) return 0;
    }
    uint64_t k = lc.down ? lc.first - pos : pos - lc.first;
    size_t vl = lc.off[k + 1] - lc.off[k];
    if (vl > out->cap) {
        char *nb = realloc(out->data, vl);
        if (!nb) return LSM_ENOMEM;
        out->data = nb;
        out->cap = vl;
    }
    if (vl) memcpy(out->data, lc.bytes + lc.off[k], vl);
    out->len = vl;
    if (lc.lo == lc.hi) lc.valid = 0;
    else if (pos == lc.lo) lc.lo++;
    else lc.hi--;
    return 1;
}

int list_pop(coll *l, int where, lsm_buf *out) {
    if (!l->exists || l->count <= 0) return 0;
    uint64_t head = head_of(l);
    uint64_t pos = where == LIST_HEAD ? head : head + (uint64_t)l->count - 1;
    lc_id id = lc_id_of(l);
    int r = lc_take(l, id, where, pos, out);
    if (!lc_id_eq(lc_next.id, id)) {
        lc_next.id = id;
        lc_next.pos[0] = lc_next.pos[1] = 0;
    }
    lc_next.pos[where] = where == LIST_HEAD ? pos + 1 : pos - 1;
    if (r == 0) {
        r = pos_get(l, pos, out);
        if (r == 0) r = LSM_ECORRUPT; /* the count says an element is there */
    }
    if (r < 0) return r;
    if ((r = pos_del(l, pos))) return r;
    if (where == LIST_HEAD) set_head(l, head + 1);
    coll_count_add(l, -1);
    if (l->count > 0) pos_prefetch(l, lc_next.pos[where]);
    return 1;
}

/* idx (negative from the tail) -> 0-based index from the head, or -1 when out of range. */
static int64_t norm_index(const coll *l, int64_t idx) {
    int64_t n = list_len(l);
    if (idx < 0) {
        if (idx < -n) return -1;
        idx += n;
    }
    return idx < n ? idx : -1;
}

int list_index(const coll *l, int64_t idx, lsm_buf *out) {
    idx = norm_index(l, idx);
    if (idx < 0) return 0;
    int r = pos_get(l, head_of(l) + (uint64_t)idx, out);
    return r == 0 ? LSM_ECORRUPT : r;
}

int list_set(coll *l, int64_t idx, const void *v, size_t vlen) {
    idx = norm_index(l, idx);
    if (idx < 0) return 0;
    lc_forget(l->version);
    int r = pos_put(l, head_of(l) + (uint64_t)idx, v, vlen);
    return r ? r : 1;
}

/* ---- walks ---- */

/* Checks that the iterator sits on the record of li->index. */
static void iter_check(list_iter *li) {
    if (!coll_iter_valid(&li->ci)) return;
    if (li->index < 0 || li->index >= li->len) {
        li->ci.valid = 0;
        return;
    }
    size_t ml;
    const char *m = coll_iter_member(&li->ci, &ml);
    if (ml != 8 || get_be64(m) != li->head + (uint64_t)li->index) {
        li->err = LSM_ECORRUPT;
        li->ci.valid = 0;
    }
}

/* Positions the engine iterator at li->index. */
static int iter_seek_at(list_iter *li) {
    char p[8];
    put_be64(p, li->head + (uint64_t)li->index);
    int r = li->reverse ? coll_iter_seek_rev(&li->ci, li->l, COLL_SUB_MEMBER, p, 8)
                        : coll_iter_seek(&li->ci, li->l, COLL_SUB_MEMBER, p, 8);
    if (r) return r;
    iter_check(li);
    if (!coll_iter_valid(&li->ci) && !li->err) li->err = LSM_ECORRUPT; /* count said present */
    return li->err;
}

/* Looks up the elements from idx on, in the walk's direction, in the memtables (a batch: the
 * first of a walk holds 2, each next one twice as many up to LSM_MEM_BATCH). */
static void point_fill(list_iter *li, int64_t idx) {
    int64_t left = li->reverse ? idx + 1 : li->len - idx;
    int n = left < li->pgrow ? (int)left : li->pgrow;
    if (li->pgrow < LSM_MEM_BATCH) li->pgrow *= 2;
    char keys[LSM_MEM_BATCH][32];
    const char *kp[LSM_MEM_BATCH];
    size_t kl[LSM_MEM_BATCH];
    char p[8];
    put_be64(p, li->head + (uint64_t)idx);
    size_t len = coll_member_key(keys[0], li->l->version, COLL_SUB_MEMBER, p, 8);
    for (int j = 0; j < n; j++) { /* the same prefix, the position in the last 8 bytes */
        if (j) {
            memcpy(keys[j], keys[0], len - 8);
            put_be64(keys[j] + len - 8, li->head + (uint64_t)(li->reverse ? idx - j : idx + j));
        }
        kl[j] = len;
        kp[j] = keys[j];
    }
    lsm_get_in_memtables_batch(server.engine, n, kp, kl, li->pv, li->pvl, li->prc);
    li->pn = n;
    li->pi = 0;
}

/* Moves a read-only walk to idx (inside the list; the next element when point is set): from a
 * memtable when one holds it, else with the engine iterator from there on. */
static int point_go(list_iter *li, int64_t idx) {
    li->index = idx;
    if (li->point && li->pi + 1 < li->pn) li->pi++;
    else point_fill(li, idx);
    int r = li->prc[li->pi];
    li->point = r == 0;
    if (r == 0) return 0;
    if (r == LSM_EAGAIN) return iter_seek_at(li); /* no memtable holds it */
    return li->err = r == LSM_ENOTFOUND ? LSM_ECORRUPT : r; /* a delete inside the list */
}

static int seek(list_iter *li, const coll *l, int64_t start, int reverse, int readonly) {
    memset(li, 0, sizeof(*li));
    int64_t n = list_len(l);
    if (start < 0 || start >= n) return 0;
    li->l = l;
    li->head = head_of(l);
    li->len = n;
    li->reverse = reverse;
    li->index = reverse ? n - 1 - start : start;
    li->pgrow = 2;
    return readonly ? point_go(li, li->index) : iter_seek_at(li);
}

int list_iter_seek(list_iter *li, const coll *l, int64_t start, int reverse) {
    return seek(li, l, start, reverse, 0);
}

int list_iter_seek_readonly(list_iter *li, const coll *l, int64_t start, int reverse) {
    return seek(li, l, start, reverse, 1);
}

int list_iter_valid(const list_iter *li) { return li->point || coll_iter_valid(&li->ci); }

void list_iter_next(list_iter *li) {
    if (!list_iter_valid(li)) return;
    int64_t want = li->index + (li->reverse ? -1 : 1);
    if (want < 0 || want >= li->len) {
        li->point = 0;
        li->ci.valid = 0;
        return;
    }
    if (li->point) {
        point_go(li, want);
        return;
    }
    if (li->reverse) coll_iter_prev(&li->ci);
    else coll_iter_next(&li->ci);
    li->index = want;
    if (!coll_iter_valid(&li->ci)) {
        if (!coll_iter_status(&li->ci)) li->err = LSM_ECORRUPT; /* a hole inside the list */
        return;
    }
    iter_check(li);
}

const char *list_iter_value(const list_iter *li, size_t *len) {
    if (li->point) {
        *len = li->pvl[li->pi];
        return li->pv[li->pi];
    }
    return coll_iter_value(&li->ci, len);
}

int list_iter_status(const list_iter *li) {
    int r = coll_iter_status(&li->ci);
    return r ? r : li->err;
}

void list_iter_close(list_iter *li) { coll_iter_close(&li->ci); }

/* ---- middle edits ---- */

int list_insert_at(coll *l, int64_t idx, const void *v, size_t vlen) {
    int64_t n = list_len(l);
    if (!l->exists || idx < 0 || idx > n) return LSM_EINVAL;
    lc_forget(l->version);
    if (idx == 0) return list_push(l, LIST_HEAD, v, vlen);
    if (idx == n) return list_push(l, LIST_TAIL, v, vlen);
    uint64_t head = head_of(l);
    list_iter li;
    int r;
    if (idx <= n - idx) {
        /* indexes 0..idx-1 move one position toward the head */
        if (head == 0) return LSM_EINVAL;
        r = list_iter_seek(&li, l, 0, 0);
        for (; r == 0 && list_iter_valid(&li) && li.index < idx; list_iter_next(&li)) {
            size_t el;
            const char *e = list_iter_value(&li, &el);
            r = pos_put(l, head + (uint64_t)li.index - 1, e, el);
        }
        if (r == 0) r = list_iter_status(&li);
        list_iter_close(&li);
        if (r == 0) r = pos_put(l, head + (uint64_t)idx - 1, v, vlen);
        if (r) return r;
        set_head(l, head - 1);
    } else {
        /* indexes idx..n-1 move one position toward the tail */
        r = list_iter_seek(&li, l, 0, 1);
        for (; r == 0 && list_iter_valid(&li) && li.index >= idx; list_iter_next(&li)) {
            size_t el;
            const char *e = list_iter_value(&li, &el);
            r = pos_put(l, head + (uint64_t)li.index + 1, e, el);
        }
        if (r == 0) r = list_iter_status(&li);
        list_iter_close(&li);
        if (r == 0) r = pos_put(l, head + (uint64_t)idx, v, vlen);
        if (r) return r;
    }
    coll_count_add(l, 1);
    return 0;
}

/* Removes the elements at the k distinct ascending indexes rm[], moving the survivors of the
 * shorter side: those after rm[0] toward the head, or those before rm[k-1] toward the tail. A
 * list losing every element keeps its records: list_save retires the version with them. */
static int remove_indexes(coll *l, const int64_t *rm, int64_t k) {
    int64_t n = list_len(l);
    if (k <= 0) return 0;
    lc_forget(l->version);
    if (k >= n) {
        coll_count_add(l, -n);
        return 0;
    }
    uint64_t head = head_of(l);
    int64_t after = n - rm[0] - 1, before = rm[k - 1];
    list_iter li;
    int r;
    if (after <= before) {
        int64_t i = 0, shift = 0;
        r = list_iter_seek(&li, l, rm[0], 0);
        for (; r == 0 && list_iter_valid(&li); list_iter_next(&li)) {
            if (i < k && rm[i] == li.index) {
                i++;
                shift++;
                continue;
            }
            size_t el;
            const char *e = list_iter_value(&li, &el);
            r = pos_put(l, head + (uint64_t)(li.index - shift), e, el);
        }
        if (r == 0) r = list_iter_status(&li);
        list_iter_close(&li);
        for (int64_t j = n - k; r == 0 && j < n; j++) r = pos_del(l, head + (uint64_t)j);
        if (r) return r;
    } else {
        int64_t i = k - 1, shift = 0;
        r = list_iter_seek(&li, l, n - 1 - rm[k - 1], 1);
        for (; r == 0 && list_iter_valid(&li); list_iter_next(&li)) {
            if (i >= 0 && rm[i] == li.index) {
                i--;
                shift++;
                continue;
            }
            size_t el;
            const char *e = list_iter_value(&li, &el);
            r = pos_put(l, head + (uint64_t)(li.index + shift), e, el);
        }
        if (r == 0) r = list_iter_status(&li);
        list_iter_close(&li);
        for (int64_t j = 0; r == 0 && j < k; j++) r = pos_del(l, head + (uint64_t)j);
        if (r) return r;
        set_head(l, head + (uint64_t)k);
    }
    coll_count_add(l, -k);
    return 0;
}

int list_remove_at(coll *l, int64_t idx) {
    if (!l->exists || idx < 0 || idx >= list_len(l)) return LSM_EINVAL;
    return remove_indexes(l, &idx, 1);
}

int list_rem(coll *l, const void *v, size_t vlen, int64_t count, int64_t *removed) {
    *removed = 0;
    int64_t n = list_len(l);
    if (n == 0) return 0;
    int reverse = count < 0;
    uint64_t want = count < 0 ? (uint64_t)0 - (uint64_t)count : (uint64_t)count;
    int64_t *rm = NULL, k = 0, cap = 0;
    list_iter li;
    int r = list_iter_seek(&li, l, 0, reverse);
    for (; r == 0 && list_iter_valid(&li); list_iter_next(&li)) {
        size_t el;
        const char *e = list_iter_value(&li, &el);
        if (el != vlen || (vlen && memcmp(e, v, vlen) != 0)) continue;
        if (k == cap) {
            int64_t nc = cap ? cap * 2 : 16;
            int64_t *nr = realloc(rm, sizeof(int64_t) * (size_t)nc);
            if (!nr) {
                r = LSM_ENOMEM;
                break;
            }
            rm = nr;
            cap = nc;
        }
        rm[k++] = li.index;
        if (want && (uint64_t)k == want) break;
    }
    if (r == 0) r = list_iter_status(&li);
    list_iter_close(&li);
    if (r == 0 && reverse) {
        for (int64_t i = 0, j = k - 1; i < j; i++, j--) {
            int64_t t = rm[i];
            rm[i] = rm[j];
            rm[j] = t;
        }
    }
    if (r == 0) r = remove_indexes(l, rm, k);
    free(rm);
    if (r == 0) *removed = k;
    return r;
}

int list_trim(coll *l, int64_t start, int64_t stop) {
    int64_t n = list_len(l);
    if (n == 0) return 0;
    lc_forget(l->version);
    if (start < 0) start = 0;
    if (stop >= n) stop = n - 1;
    if (start > stop || start >= n) {
        coll_count_add(l, -n); /* emptied: list_save retires the version with its records */
        return 0;
    }
    uint64_t head = head_of(l);
    int r = 0;
    for (int64_t j = 0; r == 0 && j < start; j++) r = pos_del(l, head + (uint64_t)j);
    for (int64_t j = stop + 1; r == 0 && j < n; j++) r = pos_del(l, head + (uint64_t)j);
    if (r) return r;
    if (start) set_head(l, head + (uint64_t)start);
    coll_count_add(l, (stop - start + 1) - n);
    return 0;
}

int list_save(coll *l) { return coll_save(l); }
