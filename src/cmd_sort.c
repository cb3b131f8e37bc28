/* cmd_sort.c - SORT and SORT_RO with Redis 7.0's semantics (its sort.c), over lists, sets and
 * sorted sets:
 *
 *   SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC]
 *        [ALPHA] [STORE destination]
 *   SORT_RO key ... (the same without STORE: "STORE" is a syntax error there)
 *
 * What Redis does, and so what this file does:
 * - Options are parsed left to right before the key is read (a syntax error or a bad LIMIT
 *   number wins over WRONGTYPE); the last LIMIT / BY / STORE wins; a BY pattern without '*'
 *   (`BY nosort`) means "do not sort", and stays so even if a later BY has a '*'.
 * - The key must be a list, a set or a sorted set (WRONGTYPE otherwise); a missing key is an
 *   empty list.
 * - Sorting is numeric unless ALPHA: every weight (the element, or the BY pattern's value) is
 *   read with strtod and must be all of a double (a NUL byte ends it), not NaN and not out of
 *   range, else "ERR One or more scores can't be converted into double" (after the sort, so
 *   nothing is stored). A missing BY value weighs 0. Equal weights are ordered by the elements'
 *   bytes (so only ALPHA can see ties). ALPHA compares with strcoll (the process's LC_COLLATE,
 *   set from the environment at startup as Redis does; C strings, so a NUL byte ends the
 *   comparison), except with STORE, where Redis compares bytes (memcmp, then length). ALPHA BY:
 *   a missing value sorts first, two missing (or equal) values are equal. DESC negates the
 *   comparison. The sort is stable, as glibc's qsort (a merge sort) that Redis calls is, except
 *   for BY with a LIMIT that cuts the result, where Redis runs its partial quicksort: reproduced
 *   here swap for swap, so that ties come out as in Redis.
 * - Not sorting: a list or a sorted set keeps its order (DESC reverses it) and LIMIT picks the
 *   range from that order, loading only that range; a set keeps its iteration order (Redis 7.0:
 *   ascending integers for an intset, hash-table order otherwise; here byte order) and ignores
 *   DESC, except with STORE, where Redis sorts the set with ALPHA (a result stable across
 *   replicas).
 * - LIMIT offset count: negative offsets are 0, a negative count means all, both are clamped to
 *   the length.
 * - Patterns (BY and GET): "#" is the element itself; otherwise the first '*' is replaced by the
 *   element and the key read as a string, or, with "->field" after the '*', the field of the
 *   hash at that key. No '*', a missing key, another type or a missing field: nil (GET) or no
 *   weight (BY). Patterns are free (no cluster mode, no ACL key restrictions here).
 * - STORE destination writes the result as a list (missing GET values as ""), replacing any key
 *   of any type (its TTL goes too), and replies its length; an empty result deletes destination.
 *
 * Costs: SORT loads what it sorts, as Redis does: the elements of the key (with BY nosort on a
 * list or sorted set only the LIMIT range) with their bytes plus ~56 bytes of bookkeeping each,
 * the ALPHA BY values, then the whole output (elements or GET values) before replying or
 * storing: memory O(N + output), time O(N log N) plus one engine lookup per element for BY and
 * one per output element and GET pattern.
 *
 * Ties (ALPHA only) keep the order elements were loaded in: a list's order, an intset's
 * ascending integers, as in Redis; other sets and sorted sets load in byte / score order where
 * Redis uses its hash-table order (unspecified), so ties from those may come out differently.
 * Redis 7.0 does not clear errno before its strtod, so after a weight out of range its later
 * SORTs of non-integer weights fail until a system call changes errno; here each SORT stands
 * alone. Not done: Redis forces ALPHA on a set with BY nosort inside a Lua script too (there
 * are no scripts here). */
#include "client.h"
#include "command.h"
#include "keyspace.h"
#include "notify.h"
#include "types/coll.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/zset.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_SORT_SCORE "ERR One or more scores can't be converted into double"

/* One element to sort. Bytes live in the arena (sort_ctx.arena + off), NUL-terminated. */
typedef struct sort_item {
    size_t off, len;      /* the element */
    double score;         /* numeric weight */
    size_t by_off, by_len; /* ALPHA BY value (when has_by) */
    int has_by;
} sort_item;

/* One output value: arena bytes, or nil. */
typedef struct sort_out {
    size_t off, len;
    int nil;
} sort_out;

typedef struct sort_ctx {
    client *c;
    int desc, alpha, bypattern, store;
    char *arena;                 /* element, BY and GET bytes; offsets survive growth */
    size_t alen, acap;
    sort_item *items;
    size_t n, cap;
    char *key;                   /* a pattern's key under construction */
    size_t kcap;
    char *num;                   /* a weight NUL-terminated for strtod */
    size_t ncap;
    lsm_buf val;                 /* a pattern's value */
    int err;                     /* an arena/vector allocation failed */
} sort_ctx;

static void sort_ctx_free(sort_ctx *s) {
    free(s->arena);
    free(s->items);
    free(s->key);
    free(s->num);
    lsm_buf_free(&s->val);
}

/* Grows *p (of *cap bytes) to hold need bytes. 0 or -1. */
static int grow(char **p, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need) n *= 2;
    char *q = realloc(*p, n);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* Copies len bytes (+ a NUL) into the arena; returns their offset (s->err on failure). */
static size_t arena_add(sort_ctx *s, const void *p, size_t len) {
    if (grow(&s->arena, &s->acap, s->alen + len + 1)) {
        s->err = 1;
        return 0;
    }
    size_t off = s->alen;
    if (len) memcpy(s->arena + off, p, len);
    s->arena[off + len] = 0;
    s->alen += len + 1;
    return off;
}

static int item_add(sort_ctx *s, const void *p, size_t len) {
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        sort_item *ni = realloc(s->items, nc * sizeof *ni);
        if (!ni) return s->err = 1, -1;
        s->items = ni;
        s->cap = nc;
    }
    sort_item *it = &s->items[s->n];
    memset(it, 0, sizeof *it);
    it->off = arena_add(s, p, len);
    if (s->err) return -1;
    it->len = len;
    s->n++;
    return 0;
}

/* ---- patterns (Redis's lookupKeyByPattern) ----------------------------------------------- */

/* The value pattern pat gives for element sub: 1 and *v (sub itself for "#", else bytes in
 * s->val, valid until the next lookup), 0 none, or a negative engine code. Redis reads the
 * pattern as a C string when it looks for '#', '*' and "->" (a NUL byte ends the search) and
 * with its full length when it cuts the key and the field. */
static int sort_lookup(sort_ctx *s, const cmdarg *pat, const char *sub, size_t sublen,
                       const char **v, size_t *vlen) {
    const char *sp = pat->ptr;
    if (sp[0] == '#' && sp[1] == '\0') {
        *v = sub;
        *vlen = sublen;
        return 1;
    }
    const char *star = strchr(sp, '*');
    if (!star) return 0;
    const char *arrow = strstr(star + 1, "->");
    const char *field = NULL;
    size_t fieldlen = 0;
    if (arrow && arrow[2] != '\0') {
        field = arrow + 2;
        fieldlen = pat->len - (size_t)(arrow - sp) - 2;
    }
    size_t prelen = (size_t)(star - sp);
    size_t postlen = pat->len - (prelen + 1) - (field ? fieldlen + 2 : 0);
    size_t klen = prelen + sublen + postlen;
    if (grow(&s->key, &s->kcap, klen + 1)) return LSM_ENOMEM;
    memcpy(s->key, sp, prelen);
    if (sublen) memcpy(s->key + prelen, sub, sublen);
    memcpy(s->key + prelen + sublen, star + 1, postlen);
    int db = s->c->db;
    if (field) {
        coll h;
        int r = hash_open(&h, db, s->key, klen, KS_LOOKUP_READ);
        if (r == 1) r = hash_get(&h, field, fieldlen, &s->val);
        else if (r == COLL_WRONGTYPE) r = 0;
        coll_close(&h);
        if (r <= 0) return r;
    } else {
        ks_value kv;
        int r = keyspace_lookup(db, s->key, klen, &s->val, &kv, KS_LOOKUP_READ);
        if (r <= 0) return r;
        if (kv.type != KTYPE_STRING) return 0;
        /* the payload points into s->val: move it to the front */
        memmove(s->val.data, kv.payload, kv.plen);
        s->val.len = kv.plen;
    }
    *v = s->val.data;
    *vlen = s->val.len;
    return 1;
}

/* ---- weights and comparison --------------------------------------------------------------- */

/* Redis's weight parse: strtod over the C string, all of it, no ERANGE, no NaN. */
static int weight_parse(sort_ctx *s, const char *p, size_t len, double *out) {
    if (grow(&s->num, &s->ncap, len + 1)) return s->err = 1, 0;
    memcpy(s->num, p, len);
    s->num[len] = 0;
    char *end;
    errno = 0;
    double d = strtod(s->num, &end);
    *out = d;
    return !(end[0] != '\0' || errno == ERANGE || isnan(d));
}

/* compareStringObjects: bytes, then length. */
static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl) {
    size_t n = al < bl ? al : bl;
    int r = n ? memcmp(a, b, n) : 0;
    if (r) return r < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

static int coll_cmp(const char *a, const char *b) {
    int r = strcoll(a, b);
    return r < 0 ? -1 : r > 0;
}

/* Redis's sortCompare. */
static int item_cmp(const sort_ctx *s, const sort_item *a, const sort_item *b) {
    const char *ar = s->arena;
    int cmp;
    if (!s->alpha) {
        if (a->score > b->score) cmp = 1;
        else if (a->score < b->score) cmp = -1;
        else cmp = bytes_cmp(ar + a->off, a->len, ar + b->off, b->len);
    } else if (s->bypattern) {
        if (!a->has_by || !b->has_by) cmp = a->has_by == b->has_by ? 0 : !a->has_by ? -1 : 1;
        else if (s->store) cmp = bytes_cmp(ar + a->by_off, a->by_len, ar + b->by_off, b->by_len);
        else cmp = coll_cmp(ar + a->by_off, ar + b->by_off);
    } else if (s->store) {
        cmp = bytes_cmp(ar + a->off, a->len, ar + b->off, b->len);
    } else {
        cmp = coll_cmp(ar + a->off, ar + b->off);
    }
    return s->desc ? -cmp : cmp;
}

/* Stable merge sort of v[0..n) using tmp (n items). */
static void merge_sort(const sort_ctx *s, sort_item *v, sort_item *tmp, size_t n) {
    if (n < 2) return;
    if (n <= 8) { /* insertion sort: stable */
        for (size_t i = 1; i < n; i++) {
            sort_item x = v[i];
            size_t j = i;
            while (j > 0 && item_cmp(s, &v[j - 1], &x) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    merge_sort(s, v, tmp, h);
    merge_sort(s, v + h, tmp, n - h);
    if (item_cmp(s, &v[h - 1], &v[h]) <= 0) return; /* already in order */
    memcpy(tmp, v, h * sizeof *v);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) v[k++] = item_cmp(s, &v[j], &tmp[i]) < 0 ? v[j++] : tmp[i++];
    while (i < h) v[k++] = tmp[i++];
}

/* Partial quicksort (Bentley & McIlroy's "Engineering a Sort Function", the one Redis runs for
 * BY with a LIMIT as pqsort): afterwards ranks lo..hi of v[a .. a+n) hold what a full sort
 * would put there; parts of the array wholly outside lo..hi are left unsorted. Not stable: equal
 * elements come out in the order this exact sequence of swaps leaves them, which is why it is
 * reproduced step for step (median of three, ninther above 40 elements, insertion sort below 7,
 * three-way partition with the equal keys parked at both ends). */
static const sort_ctx *pq_ctx;
static void pq_swap(sort_item *v, long long i, long long j) {
    sort_item t = v[i];
    v[i] = v[j];
    v[j] = t;
}
static int pq_cmp(sort_item *v, long long i, long long j) { return item_cmp(pq_ctx, &v[i], &v[j]); }
static long long pq_med3(sort_item *v, long long a, long long b, long long c) {
    return pq_cmp(v, a, b) < 0 ? (pq_cmp(v, b, c) < 0 ? b : (pq_cmp(v, a, c) < 0 ? c : a))
                               : (pq_cmp(v, b, c) > 0 ? b : (pq_cmp(v, a, c) < 0 ? a : c));
}
/* 1 when ranks lo..hi and the part [a, a+n) overlap (Redis's test: not both before, not both
 * after). */
static int pq_wanted(long long a, long long n, long long lo, long long hi) {
    long long last = a + n - 1;
    return !((lo < a && hi < a) || (lo > last && hi > last));
}
static void pq_sort(sort_item *v, long long a, long long n, long long lo, long long hi) {
    for (;;) {
        if (n < 7) {
            for (long long m = a + 1; m < a + n; m++)
                for (long long l = m; l > a && pq_cmp(v, l - 1, l) > 0; l--) pq_swap(v, l, l - 1);
            return;
        }
        long long pm = a + n / 2;
        if (n > 7) {
            long long pl = a, pn = a + n - 1;
            if (n > 40) {
                long long d = n / 8;
                pl = pq_med3(v, pl, pl + d, pl + 2 * d);
                pm = pq_med3(v, pm - d, pm, pm + d);
                pn = pq_med3(v, pn - 2 * d, pn - d, pn);
            }
            pm = pq_med3(v, pl, pm, pn);
        }
        pq_swap(v, a, pm); /* the pivot at a */
        long long pa = a + 1, pb = a + 1, pc = a + n - 1, pd = a + n - 1;
        int r;
        for (;;) {
            while (pb <= pc && (r = pq_cmp(v, pb, a)) <= 0) {
                if (r == 0) pq_swap(v, pa++, pb);
                pb++;
            }
            while (pb <= pc && (r = pq_cmp(v, pc, a)) >= 0) {
                if (r == 0) pq_swap(v, pc, pd--);
                pc--;
            }
            if (pb > pc) break;
            pq_swap(v, pb++, pc--);
        }
        long long pn = a + n;
        long long k = pa - a < pb - pa ? pa - a : pb - pa;
        for (long long i = 0; i < k; i++) pq_swap(v, a + i, pb - k + i);
        k = pd - pc < pn - pd - 1 ? pd - pc : pn - pd - 1;
        for (long long i = 0; i < k; i++) pq_swap(v, pb + i, pn - k + i);
        if ((k = pb - pa) > 1 && pq_wanted(a, k, lo, hi)) pq_sort(v, a, k, lo, hi);
        if ((k = pd - pc) <= 1) return;
        a = pn - k;
        n = k;
        if (!pq_wanted(a, n, lo, hi)) return;
    }
}

/* ---- loading the key ---------------------------------------------------------------------- */

static int zset_load_visit(void *ctx, const char *m, size_t mlen, double score) {
    (void)score;
    return item_add(ctx, m, mlen) ? LSM_ENOMEM : 0;
}

typedef struct int_rank {
    long long v;
    size_t i;
} int_rank;

static int int_rank_cmp(const void *a, const void *b) {
    long long x = ((const int_rank *)a)->v, y = ((const int_rank *)b)->v;
    return x < y ? -1 : x > y;
}

/* Loads every member of the set; an intset's in ascending integer order (Redis 7.0's iteration
 * order for it), any other in byte order. */
static int load_set(sort_ctx *s, const coll *set) {
    coll_iter it;
    int r = coll_iter_seek(&it, set, COLL_SUB_MEMBER, NULL, 0);
    while (!r && coll_iter_valid(&it)) {
        size_t ml;
        const char *m = coll_iter_member(&it, &ml);
        if (item_add(s, m, ml)) r = LSM_ENOMEM;
        else coll_iter_next(&it);
    }
    if (!r) r = coll_iter_status(&it);
    coll_iter_close(&it);
    if (r || set->enc != COLL_ENC_SMALL || s->n < 2) return r;
    /* an intset: every member is a distinct canonical 64-bit integer */
    int_rank *ir = malloc(s->n * sizeof *ir);
    sort_item *sorted = malloc(s->n * sizeof *sorted);
    if (!ir || !sorted) {
        free(ir);
        free(sorted);
        return LSM_ENOMEM;
    }
    for (size_t i = 0; i < s->n; i++) {
        ir[i].i = i;
        if (!string2ll(s->arena + s->items[i].off, s->items[i].len, &ir[i].v)) ir[i].v = 0;
    }
    qsort(ir, s->n, sizeof *ir, int_rank_cmp);
    for (size_t i = 0; i < s->n; i++) sorted[i] = s->items[ir[i].i];
    memcpy(s->items, sorted, s->n * sizeof *sorted);
    free(ir);
    free(sorted);
    return 0;
}

/* Loads count elements of the list from index start (desc: from the tail, walking to the head). */
static int load_list(sort_ctx *s, const coll *l, long long start, long long count, int desc) {
    if (count <= 0) return 0;
    list_iter li;
    int r = list_iter_seek_readonly(&li, l, start, desc);
    while (!r && count > 0 && list_iter_valid(&li)) {
        size_t vl;
        const char *v = list_iter_value(&li, &vl);
        if (item_add(s, v, vl)) r = LSM_ENOMEM;
        else {
            count--;
            list_iter_next(&li);
        }
    }
    if (!r) r = list_iter_status(&li);
    list_iter_close(&li);
    return r;
}

/* ---- the command -------------------------------------------------------------------------- */

/* Opens the key to sort as whatever it is: KTYPE_* or -1 after a reply (WRONGTYPE, engine). A
 * missing key is an empty list. src must be coll_close'd in every case. */
static int open_source(client *c, coll *src) {
    const cmdarg *k = &c->argv[1];
    int r = coll_open(src, c->db, k->ptr, k->len, KTYPE_SET, KS_LOOKUP_READ);
    if (r == COLL_WRONGTYPE) {
        uint8_t t = src->cur.type;
        coll_close(src);
        if (t != KTYPE_LIST && t != KTYPE_ZSET) {
            memset(src, 0, sizeof *src);
            reply_error(c, ERR_WRONGTYPE);
            return -1;
        }
        r = coll_open(src, c->db, k->ptr, k->len, t, 0);
        if (r == 1) return t;
        if (r == 0) return KTYPE_LIST; /* cannot happen: it was just there */
    }
    if (r < 0) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return r == 1 ? KTYPE_SET : KTYPE_LIST;
}

/* Writes the result as the list at dst (or deletes dst for an empty one); replies the count. */
static void sort_store(client *c, const cmdarg *dst, sort_ctx *s, const sort_out *out,
                       size_t nout) {
    coll d;
    int r = list_open(&d, c->db, dst->ptr, dst->len, 0);
    if (r < 0 && r != COLL_WRONGTYPE) {
        coll_close(&d);
        keyspace_reply_engine_error(c, r);
        return;
    }
    keyspace_begin();
    int existed = d.exists;
    r = 0;
    if (nout) {
        r = list_recreate(&d);
        for (size_t i = 0; !r && i < nout; i++)
            r = list_push(&d, LIST_TAIL, out[i].nil ? "" : s->arena + out[i].off,
                          out[i].nil ? 0 : out[i].len);
        if (!r) r = list_save(&d);
    } else if (d.exists) {
        r = keyspace_remove(c->db, dst->ptr, dst->len, &d.cur);
    }
    coll_close(&d);
    if (r) {
        keyspace_abort();
        keyspace_commit(); /* closes the (failed) group */
        keyspace_reply_engine_error(c, r);
        return;
    }
    if ((r = keyspace_commit())) {
        keyspace_reply_engine_error(c, r);
        return;
    }
    if (nout) notify_keyspace_event(NOTIFY_LIST, "sortstore", c->db, dst->ptr, dst->len);
    else if (existed) notify_keyspace_event(NOTIFY_GENERIC, "del", c->db, dst->ptr, dst->len);
    reply_int(c, (long long)nout);
}

/* Redis's sortCommandGeneric. */
static void sort_generic(client *c, int readonly) {
    sort_ctx s;
    memset(&s, 0, sizeof s);
    s.c = c;
    const cmdarg *sortby = NULL, *storekey = NULL;
    const cmdarg **gets = malloc((size_t)c->argc * sizeof *gets);
    sort_out *out = NULL;
    coll src;
    memset(&src, 0, sizeof src);
    int ngets = 0, dontsort = 0, int_conversion_error = 0, r = 0;
    long long limit_start = 0, limit_count = -1;
    if (!gets) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }

    /* options, left to right (strcasecmp over the C string, as Redis) */
    for (int j = 2; j < c->argc; j++) {
        int left = c->argc - j - 1;
        const char *o = c->argv[j].ptr;
        if (!strcasecmp(o, "asc")) {
            s.desc = 0;
        } else if (!strcasecmp(o, "desc")) {
            s.desc = 1;
        } else if (!strcasecmp(o, "alpha")) {
            s.alpha = 1;
        } else if (!strcasecmp(o, "limit") && left >= 2) {
            if (!string2ll(c->argv[j + 1].ptr, c->argv[j + 1].len, &limit_start) ||
                !string2ll(c->argv[j + 2].ptr, c->argv[j + 2].len, &limit_count)) {
                reply_error(c, ERR_NOT_INT);
                goto done;
            }
            j += 2;
        } else if (!readonly && !strcasecmp(o, "store") && left >= 1) {
            storekey = &c->argv[++j];
        } else if (!strcasecmp(o, "by") && left >= 1) {
            sortby = &c->argv[++j];
            /* a constant BY pattern: nothing to sort, no weights to read */
            if (!strchr(sortby->ptr, '*')) dontsort = 1;
        } else if (!strcasecmp(o, "get") && left >= 1) {
            gets[ngets++] = &c->argv[++j];
        } else {
            reply_error(c, ERR_SYNTAX);
            goto done;
        }
    }

    int type = open_source(c, &src);
    if (type < 0) goto done;

    /* a set not sorted would come out in its iteration order: stored results are sorted */
    if (dontsort && type == KTYPE_SET && storekey) {
        dontsort = 0;
        s.alpha = 1;
        sortby = NULL;
    }

    long long vectorlen = src.exists ? src.count : 0;
    long long start = limit_start < 0 ? 0 : limit_start;
    if (start > vectorlen) start = vectorlen;
    if (limit_count < -1) limit_count = -1;
    if (limit_count > vectorlen) limit_count = vectorlen;
    long long end = limit_count < 0 ? vectorlen - 1 : start + limit_count - 1;
    if (start >= vectorlen) {
        start = vectorlen - 1;
        end = vectorlen - 2;
    }
    if (end >= vectorlen) end = vectorlen - 1;

    /* load; a list or sorted set not sorted loads only the range */
    if (type == KTYPE_LIST && dontsort) {
        if (end >= start) {
            r = load_list(&s, &src, start, end - start + 1, s.desc);
            end -= start;
            start = 0;
        }
    } else if (type == KTYPE_LIST) {
        r = load_list(&s, &src, 0, vectorlen, 0);
    } else if (type == KTYPE_SET) {
        r = load_set(&s, &src);
    } else if (dontsort) {
        if (end >= start) {
            long long n = zset_walk_rank(&src, start, end, s.desc, zset_load_visit, &s);
            r = n < 0 ? (int)n : 0;
        }
        end -= start;
        start = 0;
    } else {
        long long n = zset_walk_all(&src, zset_load_visit, &s);
        r = n < 0 ? (int)n : 0;
    }
    if (!r && s.err) r = LSM_ENOMEM;
    if (r) goto engine_error;
    if (end >= start && (long long)s.n <= end) { /* fewer elements than the count says */
        r = LSM_ECORRUPT;
        goto engine_error;
    }

    /* weights, then the sort */
    if (!dontsort) {
        s.bypattern = sortby != NULL;
        s.store = storekey != NULL;
        for (size_t j = 0; j < s.n; j++) {
            sort_item *it = &s.items[j];
            const char *bv = s.arena + it->off;
            size_t bl = it->len;
            if (sortby) {
                r = sort_lookup(&s, sortby, s.arena + it->off, it->len, &bv, &bl);
                if (r < 0) goto engine_error;
                if (r == 0) continue;
            }
            if (s.alpha) {
                if (sortby) {
                    it->by_off = arena_add(&s, bv, bl);
                    it->by_len = bl;
                    it->has_by = 1;
                }
            } else if (!weight_parse(&s, bv, bl, &it->score)) {
                int_conversion_error = 1;
            }
            if (s.err) {
                r = LSM_ENOMEM;
                goto engine_error;
            }
        }
        if (sortby && (start != 0 || end != vectorlen - 1)) {
            /* Redis sorts only what the LIMIT shows here, with its partial quicksort */
            pq_ctx = &s;
            pq_sort(s.items, 0, (long long)s.n, start, end);
            pq_ctx = NULL;
        } else {
            /* glibc's qsort, which Redis calls here, is a merge sort: stable */
            sort_item *tmp = malloc((s.n / 2 + 1) * sizeof *tmp);
            if (!tmp) {
                r = LSM_ENOMEM;
                goto engine_error;
            }
            merge_sort(&s, s.items, tmp, s.n);
            free(tmp);
        }
    }
    if (int_conversion_error) {
        reply_error(c, ERR_SORT_SCORE);
        goto done;
    }

    /* the output: elements, or the GET values of each */
    size_t per = ngets ? (size_t)ngets : 1;
    size_t nout = end >= start ? (size_t)(end - start + 1) * per : 0;
    out = malloc((nout ? nout : 1) * sizeof *out);
    if (!out) {
        r = LSM_ENOMEM;
        goto engine_error;
    }
    size_t o = 0;
    for (long long j = start; j <= end; j++) {
        const sort_item *it = &s.items[j];
        if (!ngets) {
            out[o++] = (sort_out){it->off, it->len, 0};
            continue;
        }
        for (int g = 0; g < ngets; g++) {
            const char *v;
            size_t vl;
            r = sort_lookup(&s, gets[g], s.arena + it->off, it->len, &v, &vl);
            if (r < 0) goto engine_error;
            if (r == 0) {
                out[o++] = (sort_out){0, 0, 1};
            } else if (v == s.arena + it->off) { /* "#": the element itself */
                out[o++] = (sort_out){it->off, it->len, 0};
            } else {
                size_t off = arena_add(&s, v, vl);
                if (s.err) {
                    r = LSM_ENOMEM;
                    goto engine_error;
                }
                out[o++] = (sort_out){off, vl, 0};
            }
        }
    }
    r = 0;
    coll_close(&src); /* (idempotent: done again below) */
    if (storekey) {
        sort_store(c, storekey, &s, out, nout);
    } else {
        reply_array(c, (long)nout);
        for (size_t i = 0; i < nout; i++) {
            if (out[i].nil) reply_null(c);
            else reply_bulk(c, s.arena + out[i].off, out[i].len);
        }
    }
    goto done;

engine_error:
    keyspace_reply_engine_error(c, r);
done:
    coll_close(&src);
    free(gets);
    free(out);
    sort_ctx_free(&s);
}

static void cmd_sort(client *c) { sort_generic(c, 0); }
static void cmd_sort_ro(client *c) { sort_generic(c, 1); }

/* ---- keys (Redis's sortGetKeys / sortROGetKeys) ------------------------------------------- */

/* The sorted key, then the last STORE's destination. Options with arguments are skipped as Redis
 * skips them (LIMIT 2, GET and BY 1), so "GET store" names no destination; STORE's own argument
 * is not skipped. */
static int sort_getkeys(const cmdarg *argv, int argc, int *pos, int max) {
    int store = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i].ptr;
        if (!strcasecmp(a, "limit")) i += 2;
        else if (!strcasecmp(a, "get") || !strcasecmp(a, "by")) i += 1;
        else if (!strcasecmp(a, "store") && i + 1 < argc) store = i + 1;
    }
    if (max > 0) pos[0] = 1;
    if (store && max > 1) pos[1] = store;
    return store ? 2 : 1;
}

static int sort_ro_getkeys(const cmdarg *argv, int argc, int *pos, int max) {
    (void)argv;
    (void)argc;
    if (max > 0) pos[0] = 1;
    return 1;
}

#define SORT_HINT "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA]"

const struct command sort_commands[] = {
    {"sort", cmd_sort, -2, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "generic",
     "Sort the elements in a list, set or sorted set", "1.0.0", SORT_HINT " [STORE destination]",
     NULL},
    {"sort_ro", cmd_sort_ro, -2, CMD_READONLY, 1, 1, 1, "generic",
     "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "7.0.0",
     SORT_HINT, NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

const struct command_getkeys sort_getkeys_commands[] = {
    {"sort", sort_getkeys},
    {"sort_ro", sort_ro_getkeys},
    {NULL, NULL},
};
