/* test_stream.c - stream storage (src/types/stream.c) and its commands' bookkeeping: ID parsing
 * (Redis's string2ull quirks), formatting and wrap-around; a long random walk of XADD (explicit,
 * ms-*, *), XDEL, exact and approximate trims against an in-memory model, each step checked
 * whole (XLEN, walks both ways over random ranges, first-id, one record per entry, the macro
 * nodes partitioning the entries with their counts, tail and node count); consumer groups
 * driven through the commands against a model of every PEL (XREADGROUP new and history, XACK,
 * XCLAIM, XAUTOCLAIM, DELCONSUMER, SETID, DESTROY) with the two PEL indexes and every counter
 * cross-checked; O(1) DEL (the compaction filter drops every record), COPY and RENAME keeping
 * groups, an aborted group, the empty stream kept, and a 100k-entry stream with 100k pending
 * entries whose commands cost a bounded engine work (XADD, XACK, XCLAIM, XPENDING, XRANGE from
 * the middle) while XTRIM costs what it trims. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "command.h"
#include "config.h"
#include "keyspace.h"
#include "lsm.h"
#include "server.h"
#include "server_test_util.h"
#include "types/coll.h"
#include "types/stream.h"

static void setup(void) { stu_setup("stream", 4 << 20); }
static void teardown(void) { stu_teardown(); }

TestSuite(stream, .init = setup, .fini = teardown, .timeout = 600);

static const char *KEY = "s";

/* ---- IDs ---------------------------------------------------------------------------------- */

static int parse(const char *s, stream_id *id, uint64_t missing, int strict, int *seq_given) {
    return stream_id_parse(s, strlen(s), id, missing, strict, seq_given);
}

Test(stream, ids_parse_like_redis_string2ull) {
    stream_id id;
    int sg;
    cr_assert(parse("1-2", &id, 0, 1, NULL) && id.ms == 1 && id.seq == 2);
    cr_assert(parse("5", &id, 7, 1, NULL) && id.ms == 5 && id.seq == 7);
    cr_assert(parse("5", &id, UINT64_MAX, 0, NULL) && id.seq == UINT64_MAX);
    cr_assert(parse("-", &id, 0, 0, NULL) && id.ms == 0 && id.seq == 0);
    cr_assert(parse("+", &id, 0, 0, NULL) && id.ms == UINT64_MAX && id.seq == UINT64_MAX);
    cr_assert(!parse("-", &id, 0, 1, NULL));
    cr_assert(!parse("+", &id, 0, 1, NULL));
    cr_assert(parse("18446744073709551615-18446744073709551615", &id, 0, 1, NULL));
    cr_assert(id.ms == UINT64_MAX && id.seq == UINT64_MAX);
    cr_assert(!parse("18446744073709551616", &id, 0, 1, NULL));
    cr_assert(!parse("1-18446744073709551616", &id, 0, 1, NULL));
    /* strtoull accepts what string2ll refuses: leading zeros, '+', spaces */
    cr_assert(parse("007-1", &id, 0, 1, NULL) && id.ms == 7);
    cr_assert(parse("+8-1", &id, 0, 1, NULL) && id.ms == 8);
    cr_assert(parse(" 5", &id, 0, 1, NULL) && id.ms == 5);
    cr_assert(!parse("-1", &id, 0, 1, NULL));
    cr_assert(!parse("", &id, 0, 1, NULL));
    cr_assert(!parse("1-", &id, 0, 1, NULL));
    cr_assert(!parse("-5", &id, 0, 1, NULL));
    cr_assert(!parse("1-2-3", &id, 0, 1, NULL));
    cr_assert(!parse("abc", &id, 0, 1, NULL));
    cr_assert(!parse("1-x", &id, 0, 1, NULL));
    /* ms-* only where the caller accepts it */
    cr_assert(parse("3-*", &id, 0, 1, &sg) && id.ms == 3 && sg == 0);
    cr_assert(parse("3-4", &id, 0, 1, &sg) && sg == 1);
    cr_assert(!parse("3-*", &id, 0, 1, NULL));
    cr_assert(!parse("3-**", &id, 0, 1, &sg));
    /* only the part before a NUL counts, as in Redis (a C string) */
    cr_assert(stream_id_parse("9\0zz", 4, &id, 0, 1, NULL) && id.ms == 9);
    char longid[200];
    memset(longid, '1', sizeof longid);
    cr_assert(!stream_id_parse(longid, sizeof longid, &id, 0, 1, NULL));

    char b[48];
    stream_id x = {UINT64_MAX, 0};
    cr_assert_str_eq((stream_id_format(b, &x), b), "18446744073709551615-0");
    x.ms = 0;
    cr_assert_str_eq((stream_id_format(b, &x), b), "0-0");
    stream_id w = {5, UINT64_MAX};
    cr_assert_eq(stream_id_incr(&w), 0);
    cr_assert(w.ms == 6 && w.seq == 0);
    cr_assert_eq(stream_id_decr(&w), 0);
    cr_assert(w.ms == 5 && w.seq == UINT64_MAX);
    stream_id top = {UINT64_MAX, UINT64_MAX}, bot = {0, 0};
    cr_assert_eq(stream_id_incr(&top), -1);
    cr_assert(top.ms == 0 && top.seq == 0);
    cr_assert_eq(stream_id_decr(&bot), -1);
    cr_assert(bot.ms == UINT64_MAX && bot.seq == UINT64_MAX);
    char e1[16], e2[16];
    stream_id a = {1, 500}, c2 = {2, 0};
    stream_id_encode(e1, &a);
    stream_id_encode(e2, &c2);
    cr_assert_lt(memcmp(e1, e2, 16), 0, "bytewise order is ID order");
}

/* ---- a model of the entries ------------------------------------------------------------------ */

typedef struct ment {
    stream_id id;
    char v[16];
} ment;
typedef struct smodel {
    ment *e;
    long n, cap;
    stream_id last;
    uint64_t added;
} smodel;

static void m_append(smodel *m, stream_id id, const char *v) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->e = realloc(m->e, sizeof(ment) * (size_t)m->cap);
        cr_assert_not_null(m->e);
    }
    m->e[m->n].id = id;
    snprintf(m->e[m->n].v, sizeof m->e[m->n].v, "%s", v);
    m->n++;
    m->last = id;
    m->added++;
}

static void m_remove(smodel *m, long i) {
    memmove(m->e + i, m->e + i + 1, sizeof(ment) * (size_t)(m->n - i - 1));
    m->n--;
}

static int sopen(stream *s) {
    int r = stream_open(s, 0, KEY, strlen(KEY), 0);
    cr_assert(r == 0 || r == 1, "stream_open: %d", r);
    return r;
}

/* XADD of one field "f" = v in its own write group; returns the storage result. */
static int add(const stream_id *use, int seq_given, uint64_t now, const char *v, stream_id *out) {
    stream s;
    keyspace_begin();
    sopen(&s);
    cr_assert_eq(stream_create(&s), 0);
    const char *f[1] = {"f"}, *vv[1] = {v};
    size_t fl[1] = {1}, vl[1] = {strlen(v)};
    int r = stream_add(&s, use, seq_given, now, f, fl, vv, vl, 1, out);
    cr_assert_eq(stream_save(&s, 0), 0);
    cr_assert_eq(keyspace_commit(), 0);
    stream_close(&s);
    return r;
}

/* Every node record: masters ascending, each node's entries in [master, last], live counts sum
 * to the length, the tail is the last node, the node count is right. */
static void check_nodes(stream *s) {
    coll_iter ni;
    cr_assert_eq(coll_iter_seek(&ni, &s->c, STREAM_SUB_NODE, NULL, 0), 0);
    stream_iter ei;
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    cr_assert_eq(stream_iter_open(&ei, s, &lo, &hi, 0), 0);
    stream_id eid;
    const char *v;
    size_t vl;
    int have = stream_iter_next(&ei, &eid, &v, &vl);
    cr_assert_geq(have, 0);
    uint64_t nodes = 0, total = 0;
    stream_id prev_last = {0, 0}, master = {0, 0};
    cr_assert_eq(stream_load_state(s), 0);
    for (; coll_iter_valid(&ni); coll_iter_next(&ni), nodes++) {
        size_t ml, nvl;
        const char *m = coll_iter_member(&ni, &ml);
        const char *nv = coll_iter_value(&ni, &nvl);
        cr_assert_eq(ml, 16);
        stream_id_decode(m, &master);
        if (!nodes) cr_assert_eq(stream_id_cmp(&master, &s->head), 0, "the head hint is the first node");
        cr_assert_geq(nvl, 44);
        uint64_t live = 0;
        for (int i = 0; i < 8; i++) live |= (uint64_t)(unsigned char)nv[i] << (8 * i);
        if (!nodes) cr_assert_eq(live, s->head_live, "the head's live count (its record's)");
        stream_id last;
        stream_id_decode(nv + 24, &last);
        if (!stream_id_cmp(&master, &s->tail) && s->tail_add_n) {
            /* what XADD appended to the tail rides in the metadata */
            live += s->tail_add_n;
            last = s->last_id;
        }
        cr_assert_geq(stream_id_cmp(&last, &master), 0, "a node ends after its master");
        if (nodes) cr_assert_gt(stream_id_cmp(&master, &prev_last), 0, "nodes do not overlap");
        uint64_t in = 0;
        while (have == 1 && stream_id_cmp(&eid, &last) <= 0) {
            cr_assert_geq(stream_id_cmp(&eid, &master), 0, "an entry outside every node");
            in++;
            have = stream_iter_next(&ei, &eid, &v, &vl);
        }
        cr_assert_eq(in, live, "node %llu-%llu: %llu entries, live %llu", (unsigned long long)master.ms,
                     (unsigned long long)master.seq, (unsigned long long)in, (unsigned long long)live);
        total += live;
        prev_last = last;
    }
    cr_assert_eq(have, 0, "entries after the last node");
    stream_iter_close(&ei);
    coll_iter_close(&ni);
    cr_assert_eq(total, (uint64_t)s->c.count);
    cr_assert_eq(stream_load_state(s), 0);
    cr_assert_eq(nodes, s->nnodes);
    if (nodes) cr_assert_eq(stream_id_cmp(&master, &s->tail), 0, "the tail is the last node");
    else cr_assert(stream_id_is_zero(&s->tail) && stream_id_is_zero(&s->head));
}

/* Entry records of version ver with an ID above after (the ones a trim's mark does not hide). */
static long long records_above(uint64_t ver, const stream_id *after) {
    char pfx[10], from[26];
    coll_member_key(pfx, ver, STREAM_SUB_ENTRY, NULL, 0);
    char id[16];
    stream_id_encode(id, after);
    size_t fl = coll_member_key(from, ver, STREAM_SUB_ENTRY, id, 16);
    lsm_iter *it = lsm_iter_new(server.engine);
    long long n = 0;
    for (lsm_iter_seek(it, from, fl); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl;
        const char *k = lsm_iter_key(it, &kl);
        if (kl < 10 || memcmp(k, pfx, 10) != 0) break;
        if (kl == fl && memcmp(k, from, fl) == 0) continue; /* the mark's own ID */
        n++;
    }
    lsm_iter_free(it);
    return n;
}

/* The stream equals the model: length, both walks, random ranges both ways, first/last IDs,
 * one entry record per entry above the trimmed-below mark, the nodes. */
static void check(const smodel *m, unsigned *seed) {
    stream s;
    int r = sopen(&s);
    if (!r) {
        cr_assert_eq(m->n, 0);
        stream_close(&s);
        return;
    }
    cr_assert_eq(s.c.count, m->n);
    cr_assert_eq(stream_id_cmp(&s.last_id, &m->last), 0);
    cr_assert_eq(s.entries_added, m->added);
    if (m->n) cr_assert_eq(stream_id_cmp(&s.first_id, &m->e[0].id), 0, "first-id");
    else cr_assert(stream_id_is_zero(&s.first_id));
    cr_assert_eq(records_above(s.c.version, &s.trimmed), m->n, "one record per entry above the mark");
    if (m->n) cr_assert(stream_id_cmp(&s.trimmed, &m->e[0].id) < 0, "the mark is below the first entry");
    for (int round = 0; round < 6; round++) {
        long a = m->n ? rand_r(seed) % m->n : 0, b = m->n ? rand_r(seed) % m->n : 0;
        if (a > b) {
            long t = a;
            a = b;
            b = t;
        }
        stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
        if (round > 1 && m->n) {
            lo = m->e[a].id;
            hi = m->e[b].id;
        } else {
            a = 0;
            b = m->n - 1;
        }
        for (int rev = 0; rev < 2; rev++) {
            stream_iter it;
            cr_assert_eq(stream_iter_open(&it, &s, &lo, &hi, rev), 0);
            long i = rev ? b : a;
            stream_id id;
            const char *v;
            size_t vl;
            int rr;
            while ((rr = stream_iter_next(&it, &id, &v, &vl)) == 1) {
                cr_assert(i >= a && i <= b, "walk out of range");
                cr_assert_eq(stream_id_cmp(&id, &m->e[i].id), 0);
                stream_fields sf;
                cr_assert_eq(stream_fields_open(&sf, v, vl), 0);
                cr_assert_eq(sf.n, 1);
                const char *f, *fv;
                size_t fl, fvl;
                cr_assert_eq(stream_fields_next(&sf, &f, &fl, &fv, &fvl), 1);
                cr_assert(fl == 1 && f[0] == 'f');
                cr_assert(fvl == strlen(m->e[i].v) && !memcmp(fv, m->e[i].v, fvl));
                i += rev ? -1 : 1;
            }
            cr_assert_eq(rr, 0);
            cr_assert_eq(i, rev ? a - 1 : b + 1, "walk stopped early");
            stream_iter_close(&it);
        }
    }
    stream_id le;
    r = stream_last_entry(&s, &le);
    cr_assert_eq(r, m->n ? 1 : 0);
    if (m->n) cr_assert_eq(stream_id_cmp(&le, &m->e[m->n - 1].id), 0);
    check_nodes(&s);
    stream_close(&s);
}

static int64_t trim(int strategy, int approx, long long maxlen, stream_id minid, long long limit) {
    stream s;
    keyspace_begin();
    cr_assert_eq(sopen(&s), 1);
    stream_trim_args a = {strategy, approx, limit, maxlen, minid};
    int64_t del;
    cr_assert_eq(stream_trim(&s, &a, &del), 0);
    cr_assert_eq(stream_save(&s, 0), 0);
    cr_assert_eq(keyspace_commit(), 0);
    stream_close(&s);
    return del;
}

static int del(const stream_id *id) {
    stream s;
    keyspace_begin();
    cr_assert_eq(sopen(&s), 1);
    int r = stream_delete(&s, id);
    cr_assert_geq(r, 0);
    cr_assert_eq(stream_save(&s, 0), 0);
    cr_assert_eq(keyspace_commit(), 0);
    stream_close(&s);
    return r;
}

Test(stream, random_walk_against_model) {
    unsigned seed = 20240607;
    smodel m = {0};
    char v[16];
    config.stream_node_max_entries = 7; /* many nodes, many node edges */
    for (int step = 0; step < 4000; step++) {
        int op = rand_r(&seed) % 100;
        stream_id id;
        if (op < 55) {
            snprintf(v, sizeof v, "v%d", step);
            int mode = rand_r(&seed) % 4;
            stream_id use = m.last;
            int r;
            if (mode == 0) { /* explicit, sometimes too small */
                use.ms += (uint64_t)(rand_r(&seed) % 3);
                use.seq = (uint64_t)(rand_r(&seed) % 4);
                r = add(&use, 1, 0, v, &id);
                int ok = stream_id_cmp(&use, &m.last) > 0;
                cr_assert_eq(r, ok ? 0 : STREAM_ERR_ID);
                if (ok) m_append(&m, use, v);
            } else if (mode == 1) { /* ms-* */
                use.ms += (uint64_t)(rand_r(&seed) % 2);
                use.seq = 0;
                r = add(&use, 0, 0, v, &id);
                cr_assert_eq(r, 0);
                stream_id want = use.ms == m.last.ms ? (stream_id){m.last.ms, m.last.seq + 1} : use;
                cr_assert_eq(stream_id_cmp(&id, &want), 0);
                m_append(&m, id, v);
            } else { /* "*" with a clock behind or ahead of the last ID */
                uint64_t now = m.last.ms + (uint64_t)(rand_r(&seed) % 3) - 1;
                r = add(NULL, 1, now, v, &id);
                cr_assert_eq(r, 0);
                stream_id want = now > m.last.ms ? (stream_id){now, 0}
                                                 : (stream_id){m.last.ms, m.last.seq + 1};
                cr_assert_eq(stream_id_cmp(&id, &want), 0);
                m_append(&m, id, v);
            }
        } else if (op < 75) {
            if (m.n && rand_r(&seed) % 4) {
                long i = rand_r(&seed) % m.n;
                id = m.e[i].id;
                cr_assert_eq(del(&id), 1);
                m_remove(&m, i);
            } else {
                id.ms = m.last.ms + 5;
                id.seq = 0;
                cr_assert_eq(del(&id), 0);
            }
        } else if (op < 85) {
            long long maxlen = m.n ? rand_r(&seed) % (m.n + 3) : 0;
            int approx = rand_r(&seed) % 2;
            long long limit = approx && rand_r(&seed) % 2 ? rand_r(&seed) % 20 : 0;
            int64_t d = trim(STREAM_TRIM_MAXLEN, approx, maxlen, (stream_id){0, 0}, limit);
            if (!approx) cr_assert_eq(d, m.n > maxlen ? m.n - maxlen : 0);
            else cr_assert(m.n - d >= maxlen || d == 0, "~ keeps at least maxlen");
            if (limit) cr_assert_leq(d, limit);
            for (int64_t i = 0; i < d; i++) m_remove(&m, 0);
        } else if (op < 95) {
            stream_id minid = m.n ? m.e[rand_r(&seed) % m.n].id : m.last;
            int approx = rand_r(&seed) % 2;
            int64_t d = trim(STREAM_TRIM_MINID, approx, 0, minid, 0);
            long below = 0;
            while (below < m.n && stream_id_cmp(&m.e[below].id, &minid) < 0) below++;
            if (!approx) cr_assert_eq(d, below);
            else cr_assert_leq(d, below, "~ removes only entries below MINID");
            for (int64_t i = 0; i < d; i++) m_remove(&m, 0);
        } else {
            check(&m, &seed);
        }
        if (step % 97 == 0) check(&m, &seed);
    }
    check(&m, &seed);
    free(m.e);
}

Test(stream, aborted_group_writes_nothing_and_empty_stream_stays) {
    stream_id id, a = {1, 1}, b = {2, 1};
    cr_assert_eq(add(&a, 1, 0, "x", &id), 0);
    stream s;
    keyspace_begin();
    cr_assert_eq(sopen(&s), 1);
    const char *f[1] = {"f"}, *v[1] = {"y"};
    size_t fl[1] = {1}, vl[1] = {1};
    cr_assert_eq(stream_add(&s, &b, 1, 0, f, fl, v, vl, 1, &id), 0);
    cr_assert_eq(stream_save(&s, 0), 0);
    keyspace_abort();
    cr_assert_neq(keyspace_commit(), 0);
    stream_close(&s);
    smodel m = {0};
    m_append(&m, a, "x");
    unsigned seed = 1;
    check(&m, &seed);
    cr_assert_eq(del(&a), 1);
    cr_assert_eq(sopen(&s), 1, "an empty stream keeps its key");
    cr_assert_eq(s.c.count, 0);
    cr_assert_eq(stream_id_cmp(&s.last_id, &a), 0);
    cr_assert_eq(stu_records(s.c.version, STREAM_SUB_NODE), 0);
    cr_assert_eq(stu_records(s.c.version, STREAM_SUB_ENTRY), 0);
    stream_close(&s);
}

/* ---- groups through the commands, against a model of the PELs ---------------------------------- */

#define NC 4
static const char *CONS[NC] = {"alice", "bob", "carol", "dave"};

typedef struct pmodel {
    int owner[400];          /* entry i (ID i+1-0): -1 not pending, else consumer index */
    int exists[400];
    int n;                   /* entries added */
    int last;                /* group last delivered entry index + 1 */
    int consumer[NC];        /* consumer exists */
} pmodel;

static const char *run(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *run(client *c, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const char *r = stu_run(c, line);
    cr_assert_neq(r[0], '-', "%s: %s", line, r);
    return r;
}

/* Walks the records of kind for group g (member prefix glen|g): count. */
static long long group_records(uint64_t ver, uint8_t kind, const char *g, const char *cons) {
    char pfx[128];
    size_t gl = strlen(g), pl = 0;
    pfx[pl++] = 0, pfx[pl++] = 0, pfx[pl++] = 0, pfx[pl++] = (char)gl;
    memcpy(pfx + pl, g, gl);
    pl += gl;
    if (cons) {
        size_t cl = strlen(cons);
        pfx[pl++] = 0, pfx[pl++] = 0, pfx[pl++] = 0, pfx[pl++] = (char)cl;
        memcpy(pfx + pl, cons, cl);
        pl += cl;
    }
    char key[160];
    size_t kl = coll_member_key(key, ver, kind, pfx, pl);
    lsm_iter *it = lsm_iter_new(server.engine);
    long long n = 0;
    for (lsm_iter_seek(it, key, kl); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t l;
        const char *k = lsm_iter_key(it, &l);
        if (l < kl || memcmp(k, key, kl) != 0) break;
        n++;
    }
    lsm_iter_free(it);
    return n;
}

/* The group's PEL equals the model: every pending entry with its owner in both indexes, the
 * group's and every consumer's counts, the consumer records. */
static void check_group(const pmodel *m, const char *g) {
    stream s;
    cr_assert_eq(sopen(&s), 1);
    stream_group gr;
    cr_assert_eq(stream_group_get(&s, g, strlen(g), &gr), 1);
    long long pending = 0, per[NC] = {0};
    lsm_buf b = {0};
    for (int i = 0; i < m->n; i++) {
        stream_id id = {(uint64_t)i + 1, 0};
        stream_nack nk;
        int r = stream_nack_get(&s, &gr, &id, &nk, &b);
        cr_assert_geq(r, 0);
        cr_assert_eq(r, m->owner[i] >= 0, "entry %d pending: %d", i + 1, r);
        if (r) {
            const char *want = CONS[m->owner[i]];
            cr_assert(nk.clen == strlen(want) && !memcmp(nk.consumer, want, nk.clen), "owner of %d", i + 1);
            pending++;
            per[m->owner[i]]++;
        }
    }
    lsm_buf_free(&b);
    cr_assert_eq(gr.pel, (uint64_t)pending);
    stream_id head = {0, 0};
    for (int i = 0; i < m->n; i++)
        if (m->owner[i] >= 0) {
            head.ms = (uint64_t)i + 1;
            break;
        }
    cr_assert_eq(stream_id_cmp(&gr.pel_head, &head), 0, "the group's first pending ID");
    cr_assert_eq(group_records(s.c.version, STREAM_SUB_PEL, g, NULL), pending);
    cr_assert_eq(group_records(s.c.version, STREAM_SUB_CPEL, g, NULL), pending);
    uint64_t nconsumers = 0;
    for (int k = 0; k < NC; k++) {
        stream_consumer co;
        int r = stream_consumer_get(&s, &gr, CONS[k], strlen(CONS[k]), &co);
        cr_assert_eq(r, m->consumer[k], "consumer %s", CONS[k]);
        if (!r) continue;
        nconsumers++;
        cr_assert_eq(co.pel, (uint64_t)per[k], "%s's count", CONS[k]);
        cr_assert_eq(group_records(s.c.version, STREAM_SUB_CPEL, g, CONS[k]), per[k]);
    }
    cr_assert_eq(gr.consumers, nconsumers);
    cr_assert_eq(group_records(s.c.version, STREAM_SUB_CONSUMER, g, NULL), (long long)nconsumers);
    stream_id want = {(uint64_t)m->last, 0};
    cr_assert_eq(stream_id_cmp(&gr.last_id, &want), 0, "last delivered");
    stream_close(&s);
}

Test(stream, groups_pel_and_consumers_against_model) {
    client *c = client_create(-1);
    unsigned seed = 77;
    pmodel m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < 400; i++) m.owner[i] = -1;
    run(c, "XGROUP CREATE %s g 0 MKSTREAM", KEY);
    for (int step = 0; step < 1500; step++) {
        int op = rand_r(&seed) % 100;
        int k = rand_r(&seed) % NC;
        if (op < 20 && m.n < 400) {
            run(c, "XADD %s %d-0 f v", KEY, m.n + 1);
            m.exists[m.n] = 1;
            m.n++;
        } else if (op < 40) {
            int count = rand_r(&seed) % 4;
            run(c, "XREADGROUP GROUP g %s COUNT %d STREAMS %s >", CONS[k], count, KEY);
            int got = 0;
            int any = 0;
            for (int i = m.last; i < m.n; i++) any |= m.exists[i];
            if (!any) continue; /* nothing served, no consumer made */
            m.consumer[k] = 1;
            for (int i = m.last; i < m.n && (!count || got < count); i++) {
                if (!m.exists[i]) continue;
                m.owner[i] = k;
                m.last = i + 1;
                got++;
            }
        } else if (op < 47) {
            run(c, "XREADGROUP GROUP g %s STREAMS %s 0", CONS[k], KEY);
            m.consumer[k] = 1;
        } else if (op < 60) {
            int i = m.n ? rand_r(&seed) % m.n : 0;
            run(c, "XACK %s g %d-0 %d-0", KEY, i + 1, i + 2);
            for (int j = i; j < i + 2 && j < m.n; j++) m.owner[j] = -1;
        } else if (op < 70) {
            int i = m.n ? rand_r(&seed) % m.n : 0;
            int force = rand_r(&seed) % 3 == 0;
            run(c, "XCLAIM %s g %s 0 %d-0 JUSTID%s", KEY, CONS[k], i + 1, force ? " FORCE" : "");
            if (i < m.n && m.exists[i] && (m.owner[i] >= 0 || force)) {
                m.owner[i] = k;
                m.consumer[k] = 1;
            } else if (i < m.n && !m.exists[i]) {
                m.owner[i] = -1;
            }
        } else if (op < 76) {
            int cnt = 1 + rand_r(&seed) % 5;
            run(c, "XAUTOCLAIM %s g %s 0 0 COUNT %d JUSTID", KEY, CONS[k], cnt);
            int done = 0;
            for (int i = 0; i < m.n && done < cnt; i++) {
                if (m.owner[i] < 0) continue;
                if (!m.exists[i]) m.owner[i] = -1;
                else {
                    m.owner[i] = k;
                    m.consumer[k] = 1;
                }
                done++;
            }
        } else if (op < 82) {
            int i = m.n ? rand_r(&seed) % m.n : 0;
            run(c, "XDEL %s %d-0", KEY, i + 1);
            if (i < m.n) m.exists[i] = 0; /* pending entries stay pending */
        } else if (op < 86) {
            run(c, "XGROUP DELCONSUMER %s g %s", KEY, CONS[k]);
            m.consumer[k] = 0;
            for (int i = 0; i < m.n; i++)
                if (m.owner[i] == k) m.owner[i] = -1;
        } else if (op < 89) {
            run(c, "XGROUP CREATECONSUMER %s g %s", KEY, CONS[k]);
            m.consumer[k] = 1;
        } else if (op < 92) {
            int to = m.n ? rand_r(&seed) % (m.n + 1) : 0;
            run(c, "XGROUP SETID %s g %d-0", KEY, to);
            m.last = to;
        } else if (op < 93) {
            run(c, "XGROUP DESTROY %s g", KEY);
            run(c, "XGROUP CREATE %s g 0", KEY);
            for (int i = 0; i < 400; i++) m.owner[i] = -1;
            memset(m.consumer, 0, sizeof m.consumer);
            m.last = 0;
        } else {
            check_group(&m, "g");
        }
        if (step % 50 == 0) check_group(&m, "g");
    }
    check_group(&m, "g");
    client_free(c);
}

/* ---- whole-key operations ----------------------------------------------------------------- */

Test(stream, del_is_o1_and_compaction_drops_every_record) {
    client *c = client_create(-1);
    for (int i = 1; i <= 3000; i++) run(c, "XADD %s %d-1 f v", KEY, i);
    run(c, "XGROUP CREATE %s g 0", KEY);
    run(c, "XREADGROUP GROUP g alice COUNT 1000 STREAMS %s >", KEY);
    stream s;
    cr_assert_eq(sopen(&s), 1);
    uint64_t ver = s.c.version;
    stream_close(&s);
    cr_assert_gt(stu_records(ver, -1), 5000);
    lsm_stats a, b;
    lsm_get_stats(server.engine, &a);
    cr_assert_str_eq(stu_run(c, "DEL s"), ":1\r\n");
    lsm_get_stats(server.engine, &b);
    cr_assert_leq(b.puts + b.deletes - a.puts - a.deletes, 6, "DEL wrote per record");
    cr_assert(!stu_version_live(ver));
    cr_assert_eq(lsm_compact_range(server.engine, NULL, 0, NULL, 0, 1), 0);
    cr_assert_eq(stu_records(ver, -1), 0, "the compaction filter dropped every record");
    client_free(c);
}

Test(stream, copy_and_rename_keep_groups_and_nodes) {
    client *c = client_create(-1);
    config.stream_node_max_entries = 10;
    for (int i = 1; i <= 55; i++) run(c, "XADD %s %d-1 f v", KEY, i);
    run(c, "XGROUP CREATE %s g 0", KEY);
    run(c, "XREADGROUP GROUP g alice COUNT 7 STREAMS %s >", KEY);
    run(c, "COPY %s t", KEY);
    run(c, "RENAME %s u", KEY);
    cr_assert_str_eq(stu_run(c, "XLEN t"), ":55\r\n");
    cr_assert_str_eq(stu_run(c, "XLEN u"), ":55\r\n");
    const char *p = stu_run(c, "XPENDING t g");
    cr_assert(strstr(p, ":7\r\n") && strstr(p, "alice"), "%s", p);
    run(c, "XACK t g 1-1 2-1");
    p = stu_run(c, "XPENDING u g");
    cr_assert(strstr(p, ":7\r\n"), "the copy is independent: %s", p);
    cr_assert_str_eq(stu_run(c, "XTRIM t MAXLEN ~ 30"), ":20\r\n");
    cr_assert_str_eq(stu_run(c, "XTRIM u MAXLEN ~ 30"), ":20\r\n");
    stream s;
    cr_assert_eq(stream_open(&s, 0, "t", 1, 0), 1);
    check_nodes(&s);
    stream_close(&s);
    client_free(c);
}

/* Lets the engine catch up (flushes installed) so that write commands are not paused by
 * back-pressure: the tests run no event loop. */
static void drain(void) {
    cr_assert_eq(lsm_commit(server.engine), 0);
    cr_assert_eq(lsm_flush(server.engine, 1), 0);
    for (int i = 0; i < 1000 && lsm_write_stalled(server.engine); i++) {
        lsm_poll(server.engine);
        usleep(10000);
    }
    cr_assert(!lsm_write_stalled(server.engine));
}

/* A 100k-entry stream with 100k pending entries: single-entry commands cost a bounded engine
 * work; XTRIM MAXLEN deletes the entries it trims one by one (and no more). */
Test(stream, big_stream_costs_bounded_engine_work) {
    client *c = client_create(-1);
    for (int base = 0; base < 100000; base += 5000) {
        stream s;
        keyspace_begin();
        sopen(&s);
        cr_assert_eq(stream_create(&s), 0);
        for (int i = base; i < base + 5000; i++) {
            stream_id id = {(uint64_t)i + 1, 0}, out;
            char v[16];
            snprintf(v, sizeof v, "e%06d", i);
            const char *f[1] = {"f"}, *vv[1] = {v};
            size_t fl[1] = {1}, vl[1] = {strlen(v)};
            cr_assert_eq(stream_add(&s, &id, 1, 0, f, fl, vv, vl, 1, &out), 0);
        }
        cr_assert_eq(stream_save(&s, 0), 0);
        cr_assert_eq(keyspace_commit(), 0);
        stream_close(&s);
    }
    run(c, "XGROUP CREATE %s g 0", KEY);
    for (int i = 0; i < 10; i++) {
        drain();
        run(c, "XREADGROUP GROUP g c%d COUNT 10000 STREAMS %s >", i, KEY);
    }
    drain();
    struct {
        const char *cmd;
        unsigned long long max_gets, max_writes;
    } cmds[] = {
        {"XADD s 200000-1 f v", 3, 5},
        {"XADD s * f v", 2, 2},
        {"XLEN s", 1, 0},
        {"XRANGE s 50000 50009", 1, 0},
        {"XREVRANGE s 50009 50000", 1, 0},
        {"XACK s g 50000-0", 4, 4},
        {"XACK s g 50000-0 60000-0 70000-0", 7, 7},
        {"XCLAIM s g newc 0 40000-0 JUSTID", 7, 6},
        {"XCLAIM s g newc 0 40001-0", 7, 6},
        {"XPENDING s g - + 10", 2, 0},
        {"XPENDING s g - + 10 c5", 13, 0},
        {"XPENDING s g", 2, 0},
        {"XDEL s 30000-0", 3, 4},
        {"XAUTOCLAIM s g other 0 25000 COUNT 5 JUSTID", 14, 22},
        {"XREADGROUP GROUP g c3 COUNT 10 STREAMS s 35000", 27, 12},
        {"XINFO GROUPS s", 2, 0},
        {"XGROUP CREATECONSUMER s g zz", 3, 2},
    };
    lsm_stats a, b;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        drain();
        lsm_get_stats(server.engine, &a);
        const char *rep = stu_run(c, cmds[i].cmd);
        lsm_get_stats(server.engine, &b);
        cr_assert_neq(rep[0], '-', "%s: %s", cmds[i].cmd, rep);
        unsigned long long g = b.gets - a.gets, w = b.puts + b.deletes - a.puts - a.deletes;
        cr_assert_leq(g, cmds[i].max_gets, "%s: %llu gets", cmds[i].cmd, g);
        cr_assert_leq(w, cmds[i].max_writes, "%s: %llu writes", cmds[i].cmd, w);
    }
    /* XTRIM to 90k: 10001 entries go without a write each: their nodes' records, the mark */
    drain();
    lsm_get_stats(server.engine, &a);
    const char *rep = stu_run(c, "XTRIM s MAXLEN 90000");
    lsm_get_stats(server.engine, &b);
    cr_assert_str_eq(rep, ":10001\r\n"); /* 100000 + 2 XADD - 1 XDEL */
    unsigned long long w = b.puts + b.deletes - a.puts - a.deletes;
    cr_assert(w >= 1 && w <= 10001 / 100 + 10, "XTRIM: %llu writes", w);
    stream s;
    cr_assert_eq(sopen(&s), 1);
    cr_assert_eq(s.c.count, 90000);
    check_nodes(&s);
    stream_close(&s);
    client_free(c);
}

/* A trim raises the trimmed-below mark instead of deleting each entry: the records stay hidden
 * until the compaction filter drops them; COPY carries the mark to its copy's version; XSETID
 * below the mark (an emptied stream) lets lower IDs be added again and keeps them. */
Test(stream, trim_mark_hides_records_until_compaction_drops_them) {
    client *c = client_create(-1);
    for (int i = 1; i <= 3000; i++) run(c, "XADD %s %d-1 f v%d", KEY, i, i);
    cr_assert_str_eq(stu_run(c, "XTRIM s MAXLEN 100"), ":2900\r\n");
    stream s;
    cr_assert_eq(sopen(&s), 1);
    uint64_t ver = s.c.version;
    cr_assert_eq(s.c.count, 100);
    cr_assert_eq(s.trimmed.ms, 2900, "the mark is the last trimmed ID");
    stream_close(&s);
    cr_assert_gt(stu_records(ver, STREAM_SUB_ENTRY), 2900, "trimmed records are still there");
    cr_assert_str_eq(stu_run(c, "XRANGE s - + COUNT 1"), "*1\r\n*2\r\n$6\r\n2901-1\r\n*2\r\n$1\r\nf\r\n$5\r\nv2901\r\n");
    cr_assert_str_eq(stu_run(c, "XREVRANGE s 2901-1 - COUNT 5"), "*1\r\n*2\r\n$6\r\n2901-1\r\n*2\r\n$1\r\nf\r\n$5\r\nv2901\r\n");
    cr_assert_str_eq(stu_run(c, "XDEL s 5-1 2900-1"), ":0\r\n", "trimmed entries are not there to delete");
    cr_assert_str_eq(stu_run(c, "COPY s s2"), ":1\r\n");
    cr_assert_eq(lsm_compact_range(server.engine, NULL, 0, NULL, 0, 1), 0);
    cr_assert_eq(stu_records(ver, STREAM_SUB_ENTRY), 100, "the compaction filter dropped the trimmed records");
    stream s2;
    cr_assert_eq(stream_open(&s2, 0, "s2", 2, 0), 1);
    cr_assert_eq(s2.c.count, 100);
    cr_assert_eq(stu_records(s2.c.version, STREAM_SUB_ENTRY), 100, "the copy's trimmed records too");
    stream_close(&s2);
    cr_assert_str_eq(stu_run(c, "XLEN s2"), ":100\r\n");
    /* empty it, move the last ID below the mark, add below the old mark */
    cr_assert_str_eq(stu_run(c, "XTRIM s MAXLEN 0"), ":100\r\n");
    cr_assert_str_eq(stu_run(c, "XSETID s 10-0"), "+OK\r\n");
    cr_assert_str_eq(stu_run(c, "XADD s 20-1 f again"), "$4\r\n20-1\r\n");
    cr_assert_str_eq(stu_run(c, "XLEN s"), ":1\r\n");
    cr_assert_str_eq(stu_run(c, "XRANGE s - +"), "*1\r\n*2\r\n$4\r\n20-1\r\n*2\r\n$1\r\nf\r\n$5\r\nagain\r\n");
    cr_assert_eq(lsm_compact_range(server.engine, NULL, 0, NULL, 0, 1), 0);
    cr_assert_str_eq(stu_run(c, "XRANGE s - +"), "*1\r\n*2\r\n$4\r\n20-1\r\n*2\r\n$1\r\nf\r\n$5\r\nagain\r\n", "kept by compaction");
    cr_assert_eq(stu_records(ver, STREAM_SUB_ENTRY), 1);
    client_free(c);
}
