/* cmd_stream.c - stream commands (Redis 7.0 semantics, arity, flags, error strings and their
 * order, RESP2/RESP3 reply types) over types/stream.h: XADD XLEN XRANGE XREVRANGE XDEL XTRIM
 * XREAD XREADGROUP XSETID XGROUP XACK XPENDING XCLAIM XAUTOCLAIM XINFO.
 *
 * Each handler follows its Redis counterpart step by step (t_stream.c): arguments parsed in the
 * same order, the key looked up at the same point, so the first error a malformed command gets
 * is Redis's. Writes go into one engine write group (keyspace_begin .. keyspace_commit) and the
 * replies are appended after the last write that can fail (an engine error drops the writes and
 * the partial reply, and answers the error). Commands Redis runs without signalModifiedKey
 * (XSETID, XGROUP but CREATE MKSTREAM, XREADGROUP, XACK, XCLAIM, XAUTOCLAIM) neither touch
 * WATCH nor wake blocked clients.
 *
 * XREAD/XREADGROUP BLOCK park the client (blocking.h) with `$` resolved to the stream's last ID;
 * when the key is written the command runs again (blocking_rerunning): it then serves the first
 * of its keys whose last ID passed the one it waits for (XREADGROUP: its group's last delivered
 * ID), with one key in the reply, as Redis's serveClientsBlockedOnStreamKey; an XREADGROUP whose
 * key was deleted (or whose group was destroyed) gets Redis's error. Inside MULTI/EXEC it does
 * not block: it replies as a timeout. */
#include "blocking.h"
#include "client.h"
#include "cmd_coll.h"
#include "command.h"
#include "config.h"
#include "keyspace.h"
#include "notify.h"
#include "server.h"
#include "types/stream.h"
#include "util.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_BAD_ID "ERR Invalid stream ID specified as stream command argument"
#define XREAD_BLOCKED_DEFAULT_COUNT 1000

static const stream_id ID_MIN = {0, 0};
static const stream_id ID_MAX = {UINT64_MAX, UINT64_MAX};

static lsm_buf sval;  /* entry values read by handlers: amortized */
static lsm_buf nval;  /* PEL entries read by handlers */
static void sval_trim(void) {
    if (sval.cap > (1u << 20)) lsm_buf_free(&sval);
    if (nval.cap > (64u << 10)) lsm_buf_free(&nval);
}

/* ---- helpers --------------------------------------------------------------------------------- */

/* Opens argv key as a stream: 1 exists, 0 absent, -1 replied (wrong type or engine error). The
 * stream must be closed by the caller whatever the result. */
static int sopen(client *c, stream *s, const cmdarg *k, int flags) {
    int r = stream_open(s, c->db, k->ptr, k->len, flags);
    if (r == COLL_WRONGTYPE) {
        reply_error(c, ERR_WRONGTYPE);
        return -1;
    }
    if (r < 0) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return r;
}

/* An engine error after writes (and maybe part of a reply since mark): all dropped, the error
 * replied. mark may be NULL. */
static void sfail(client *c, int r, const reply_mark *mark) {
    if (mark) client_reply_truncate(c, mark);
    keyspace_abort();
    keyspace_reply_engine_error(c, r);
}

/* Saves the stream (stream_save) and commits the command's writes: 0, or -1 replied. */
static int ssave_commit(client *c, stream *s, int quiet, const reply_mark *mark) {
    int r = stream_save(s, quiet);
    if (r) {
        sfail(c, r, mark);
        return -1;
    }
    r = keyspace_commit();
    if (r) {
        if (mark) client_reply_truncate(c, mark);
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return 0;
}

/* getLongLongFromObjectOrReply: 1 ok; 0 replied (msg or Redis's default). */
static int parse_ll(client *c, const cmdarg *a, long long *v, const char *msg) {
    if (string2ll(a->ptr, a->len, v)) return 1;
    reply_error(c, msg ? msg : ERR_NOT_INT);
    return 0;
}

/* streamGenericParseIDOrReply: 1 ok, 0 replied. */
static int parse_id(client *c, const cmdarg *a, stream_id *id, uint64_t missing_seq, int strict,
                    int *seq_given) {
    if (stream_id_parse(a->ptr, a->len, id, missing_seq, strict, seq_given)) return 1;
    reply_error(c, ERR_BAD_ID);
    return 0;
}

/* The strict IDs argv[first..argc) of XDEL / XACK in a new array (the caller frees it), or NULL
 * after replying the parse error or the engine's out-of-memory error. */
static stream_id *parse_id_list(client *c, int first) {
    int n = c->argc - first;
    stream_id *ids = malloc(sizeof(*ids) * (size_t)(n > 0 ? n : 1));
    if (!ids) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return NULL;
    }
    for (int j = 0; j < n; j++) {
        if (!parse_id(c, &c->argv[first + j], &ids[j], 0, 1, NULL)) {
            free(ids);
            return NULL;
        }
    }
    return ids;
}

/* streamParseIntervalIDOrReply: "(" makes the bound exclusive (then "-"/"+" are invalid). */
static int parse_interval(client *c, const cmdarg *a, stream_id *id, int *exclude,
                          uint64_t missing_seq) {
    *exclude = a->len > 1 && a->ptr[0] == '(';
    if (*exclude) {
        if (stream_id_parse(a->ptr + 1, a->len - 1, id, missing_seq, 1, NULL)) return 1;
        reply_error(c, ERR_BAD_ID);
        return 0;
    }
    return parse_id(c, a, id, missing_seq, 0, NULL);
}

static void reply_id(client *c, const stream_id *id) {
    char b[48];
    int n = stream_id_format(b, id);
    reply_bulk(c, b, (size_t)n);
}

static int arg_is(const cmdarg *a, const char *s) { return strcasecmp(a->ptr, s) == 0; }

/* A keyspace event of the stream class (notify.h), Redis 7.0's names. */
static void sevent(client *c, const cmdarg *key, const char *event) {
    notify_keyspace_event(NOTIFY_STREAM, event, c->db, key->ptr, key->len);
}

/* [id, [field, value, ...]] from an entry value. 0 or LSM_ECORRUPT (the reply is then partial:
 * the caller truncates). */
static int reply_entry(client *c, const stream_id *id, const char *v, size_t vl) {
    stream_fields sf;
    if (stream_fields_open(&sf, v, vl)) return LSM_ECORRUPT;
    reply_array(c, 2);
    reply_id(c, id);
    reply_array(c, sf.n * 2);
    const char *f, *val;
    size_t fl, vvl;
    long n = 0;
    int r;
    while ((r = stream_fields_next(&sf, &f, &fl, &val, &vvl)) == 1) {
        reply_bulk(c, f, fl);
        reply_bulk(c, val, vvl);
        n++;
    }
    if (r < 0 || n != sf.n) return LSM_ECORRUPT;
    return 0;
}

/* One entry by ID (streamReplyWithRange(id, id, RAWENTRIES)): 1 replied, 0 absent, < 0. */
static int reply_one_entry(client *c, const stream *s, const stream_id *id) {
    int r = stream_get(s, id, &sval);
    if (r <= 0) return r;
    r = reply_entry(c, id, sval.data, sval.len);
    return r ? r : 1;
}

/* streamReplyWithRange without a group: the entries in [start, end] (count 0: all), in an array
 * unless raw. Returns how many, or < 0 (the reply is partial: the caller truncates). */
static long reply_range(client *c, const stream *s, const stream_id *start, const stream_id *end,
                        long long count, int rev, int raw) {
    void *h = raw ? NULL : reply_defer_len(c);
    stream_iter it;
    long n = 0;
    int r = stream_iter_open(&it, s, start, end, rev);
    stream_id id;
    const char *v;
    size_t vl;
    while (r == 0 && (!count || n < count)) {
        r = stream_iter_next(&it, &id, &v, &vl);
        if (r <= 0) break;
        r = reply_entry(c, &id, v, vl);
        n++;
    }
    stream_iter_close(&it);
    if (r < 0) return r;
    if (h) reply_set_deferred_array(c, h, n);
    return n;
}

/* ---- XADD / XTRIM ----------------------------------------------------------------------------- */

typedef struct add_args {
    stream_trim_args t;
    stream_id id;
    int id_given, seq_given, no_mkstream;
} add_args;

/* streamParseAddOrTrimArgsOrReply: the position of the ID (XADD), or -1 replied. */
static int parse_add_trim(client *c, add_args *a, int xadd) {
    memset(a, 0, sizeof(*a));
    int i = 2, limit_given = 0;
    for (; i < c->argc; i++) {
        int moreargs = c->argc - 1 - i;
        const char *opt = c->argv[i].ptr;
        if (xadd && opt[0] == '*' && opt[1] == '\0') {
            break;
        } else if ((!strcasecmp(opt, "maxlen") || !strcasecmp(opt, "minid")) && moreargs) {
            int maxlen = !strcasecmp(opt, "maxlen");
            if (a->t.strategy != STREAM_TRIM_NONE) {
                reply_error(c, "ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return -1;
            }
            a->t.approx = 0;
            const char *next = c->argv[i + 1].ptr;
            if (moreargs >= 2 && next[0] == '~' && next[1] == '\0') {
                a->t.approx = 1;
                i++;
            } else if (moreargs >= 2 && next[0] == '=' && next[1] == '\0') {
                i++;
            }
            if (maxlen) {
                if (!parse_ll(c, &c->argv[i + 1], &a->t.maxlen, NULL)) return -1;
                if (a->t.maxlen < 0) {
                    reply_error(c, "ERR The MAXLEN argument must be >= 0.");
                    return -1;
                }
                a->t.strategy = STREAM_TRIM_MAXLEN;
            } else {
                if (!parse_id(c, &c->argv[i + 1], &a->t.minid, 0, 1, NULL)) return -1;
                a->t.strategy = STREAM_TRIM_MINID;
            }
            i++;
        } else if (!strcasecmp(opt, "limit") && moreargs) {
            if (!parse_ll(c, &c->argv[i + 1], &a->t.limit, NULL)) return -1;
            if (a->t.limit < 0) {
                reply_error(c, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = 1;
            i++;
        } else if (xadd && !strcasecmp(opt, "nomkstream")) {
            a->no_mkstream = 1;
        } else if (xadd) {
            if (!parse_id(c, &c->argv[i], &a->id, 0, 1, &a->seq_given)) return -1;
            a->id_given = 1;
            break;
        } else {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
    }
    if (a->t.limit && a->t.strategy == STREAM_TRIM_NONE) {
        reply_error(c, "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return -1;
    }
    if (!xadd && a->t.strategy == STREAM_TRIM_NONE) {
        reply_error(c, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    if (limit_given) {
        if (!a->t.approx) {
            reply_error(c, "ERR syntax error, LIMIT cannot be used without the special ~ option");
            return -1;
        }
    } else if (a->t.approx) {
        /* at most 100 macro nodes per call, as Redis */
        long long per = config.stream_node_max_entries;
        a->t.limit = per > LLONG_MAX / 100 ? 1000000 : 100 * per;
        if (a->t.limit <= 0) a->t.limit = 10000;
        if (a->t.limit > 1000000) a->t.limit = 1000000;
    } else {
        a->t.limit = 0;
    }
    return i;
}

/* XADD key [NOMKSTREAM] [(MAXLEN|MINID) [=|~] threshold [LIMIT count]] *|id field value ... */
static void cmd_xadd(client *c) {
    add_args a;
    int idpos = parse_add_trim(c, &a, 1);
    if (idpos < 0) return;
    int field_pos = idpos + 1;
    if ((c->argc - field_pos) < 2 || ((c->argc - field_pos) % 2) == 1) {
        reply_wrong_arity(c, "xadd");
        return;
    }
    if (a.id_given && a.seq_given && stream_id_is_zero(&a.id)) {
        reply_error(c, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    stream s;
    long npairs = (c->argc - field_pos) / 2;
    const char **f = NULL, **v = NULL;
    size_t *fl = NULL, *vl = NULL;
    int r = sopen(c, &s, &c->argv[1], 0);
    if (r < 0) goto out;
    if (r == 0 && a.no_mkstream) {
        reply_null(c);
        goto out;
    }
    if (r == 1 && s.last_id.ms == UINT64_MAX && s.last_id.seq == UINT64_MAX) {
        reply_error(c, "ERR The stream has exhausted the last possible ID, unable to add more items");
        goto out;
    }
    f = malloc(sizeof(*f) * (size_t)npairs);
    v = malloc(sizeof(*v) * (size_t)npairs);
    fl = malloc(sizeof(*fl) * (size_t)npairs);
    vl = malloc(sizeof(*vl) * (size_t)npairs);
    if (!f || !v || !fl || !vl) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        goto out;
    }
    for (long i = 0; i < npairs; i++) {
        f[i] = c->argv[field_pos + 2 * i].ptr;
        fl[i] = c->argv[field_pos + 2 * i].len;
        v[i] = c->argv[field_pos + 2 * i + 1].ptr;
        vl[i] = c->argv[field_pos + 2 * i + 1].len;
    }
    keyspace_begin();
    int created = r == 0;
    if ((r = stream_create(&s))) {
        sfail(c, r, NULL);
        goto out;
    }
    stream_id added;
    r = stream_add(&s, a.id_given ? &a.id : NULL, a.seq_given, server_now_ms(), f, fl, v, vl, npairs,
                   &added);
    if (r == STREAM_ERR_ID || r == STREAM_ERR_TOOBIG) {
        /* nothing appended; a stream created for it stays, as Redis's dbAdd before the append */
        if (ssave_commit(c, &s, !created, NULL)) goto out;
        reply_error(c, r == STREAM_ERR_ID
                           ? "ERR The ID specified in XADD is equal or smaller than the target stream top item"
                           : "ERR Elements are too large to be stored");
        goto out;
    }
    if (r) {
        sfail(c, r, NULL);
        goto out;
    }
    int64_t trimmed = 0;
    if (a.t.strategy != STREAM_TRIM_NONE && (r = stream_trim(&s, &a.t, &trimmed))) {
        sfail(c, r, NULL);
        goto out;
    }
    if (ssave_commit(c, &s, 0, NULL)) goto out;
    reply_id(c, &added);
    sevent(c, &c->argv[1], "xadd");
    if (trimmed) sevent(c, &c->argv[1], "xtrim");
out:
    free(f);
    free(v);
    free(fl);
    free(vl);
    stream_close(&s);
}

/* XTRIM key (MAXLEN|MINID) [=|~] threshold [LIMIT count] */
static void cmd_xtrim(client *c) {
    add_args a;
    if (parse_add_trim(c, &a, 0) < 0) return;
    stream s;
    int r = sopen(c, &s, &c->argv[1], 0);
    if (r == 0) reply_int(c, 0);
    if (r <= 0) goto out;
    keyspace_begin();
    int64_t deleted;
    if ((r = stream_trim(&s, &a.t, &deleted))) {
        sfail(c, r, NULL);
        goto out;
    }
    /* nothing trimmed: the metadata may still have changed (tail bookkeeping), quietly */
    if (ssave_commit(c, &s, deleted == 0, NULL)) goto out;
    if (deleted) sevent(c, &c->argv[1], "xtrim");
    reply_int(c, deleted);
out:
    stream_close(&s);
}

/* ---- XRANGE / XREVRANGE / XLEN ------------------------------------------------------------------ */

static void xrange_generic(client *c, int rev) {
    const cmdarg *sa = rev ? &c->argv[3] : &c->argv[2];
    const cmdarg *ea = rev ? &c->argv[2] : &c->argv[3];
    stream_id start, end;
    int sx, ex;
    long long count = -1;
    if (!parse_interval(c, sa, &start, &sx, 0)) return;
    if (sx && stream_id_incr(&start)) {
        reply_error(c, "ERR invalid start ID for the interval");
        return;
    }
    if (!parse_interval(c, ea, &end, &ex, UINT64_MAX)) return;
    if (ex && stream_id_decr(&end)) {
        reply_error(c, "ERR invalid end ID for the interval");
        return;
    }
    for (int j = 4; j < c->argc; j++) {
        int additional = c->argc - j - 1;
        if (arg_is(&c->argv[j], "COUNT") && additional >= 1) {
            if (!parse_ll(c, &c->argv[j + 1], &count, NULL)) return;
            if (count < 0) count = 0;
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    stream s;
    int r = sopen(c, &s, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) reply_array(c, 0);
    if (r <= 0) goto out;
    if (count == 0) {
        reply_null_array(c);
        goto out;
    }
    reply_mark mk;
    client_reply_mark(c, &mk);
    long n = reply_range(c, &s, &start, &end, count == -1 ? 0 : count, rev, 0);
    if (n < 0) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, (int)n);
    }
out:
    sval_trim();
    stream_close(&s);
}

static void cmd_xrange(client *c) { xrange_generic(c, 0); }
static void cmd_xrevrange(client *c) { xrange_generic(c, 1); }

static void cmd_xlen(client *c) {
    stream s;
    int r = sopen(c, &s, &c->argv[1], KS_LOOKUP_READ);
    if (r >= 0) reply_int(c, r ? s.c.count : 0);
    stream_close(&s);
}

/* ---- XDEL ---------------------------------------------------------------------------------------- */

static void cmd_xdel(client *c) {
    stream s;
    stream_id *ids = NULL;
    int r = sopen(c, &s, &c->argv[1], 0);
    if (r == 0) reply_int(c, 0);
    if (r <= 0) goto out;
    int n = c->argc - 2;
    if (!(ids = parse_id_list(c, 2))) goto out;
    keyspace_begin();
    long long deleted = 0;
    for (int j = 0; j < n; j++) {
        r = stream_delete(&s, &ids[j]);
        if (r < 0) {
            sfail(c, r, NULL);
            goto out;
        }
        deleted += r;
    }
    if (ssave_commit(c, &s, deleted == 0, NULL)) goto out;
    if (deleted) sevent(c, &c->argv[1], "xdel");
    reply_int(c, deleted);
out:
    free(ids);
    stream_close(&s);
}

/* ---- XSETID ---------------------------------------------------------------------------------------- */

/* XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id] */
static void cmd_xsetid(client *c) {
    stream_id id, max_xdel = {0, 0};
    long long entries_added = -1;
    if (!parse_id(c, &c->argv[2], &id, 0, 1, NULL)) return;
    for (int i = 3; i < c->argc;) {
        int moreargs = c->argc - 1 - i;
        if (arg_is(&c->argv[i], "ENTRIESADDED") && moreargs) {
            if (!parse_ll(c, &c->argv[i + 1], &entries_added, NULL)) return;
            if (entries_added < 0) {
                reply_error(c, "ERR entries_added must be positive");
                return;
            }
            i += 2;
        } else if (arg_is(&c->argv[i], "MAXDELETEDID") && moreargs) {
            if (!parse_id(c, &c->argv[i + 1], &max_xdel, 0, 1, NULL)) return;
            if (stream_id_cmp(&id, &max_xdel) < 0) {
                reply_error(c, "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
                return;
            }
            i += 2;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    stream s;
    int r = sopen(c, &s, &c->argv[1], 0);
    if (r == 0) reply_error(c, ERR_NO_KEY);
    if (r <= 0) goto out;
    if (s.c.count > 0) {
        stream_id maxid;
        r = stream_last_entry(&s, &maxid);
        if (r < 0) {
            keyspace_reply_engine_error(c, r);
            goto out;
        }
        if (stream_id_cmp(&id, &maxid) < 0) {
            reply_error(c, "ERR The ID specified in XSETID is smaller than the target stream top item");
            goto out;
        }
        if (entries_added != -1 && s.c.count > entries_added) {
            reply_error(c, "ERR The entries_added specified in XSETID is smaller than the target stream length");
            goto out;
        }
    }
    keyspace_begin();
    if ((r = stream_load_state(&s))) {
        sfail(c, r, NULL);
        goto out;
    }
    if ((r = stream_set_last_id(&s, &id))) {
        sfail(c, r, NULL);
        goto out;
    }
    if (entries_added != -1) s.entries_added = (uint64_t)entries_added;
    if (!stream_id_is_zero(&max_xdel)) {
        s.max_deleted = max_xdel;
        s.state_dirty = 1;
    }
    if (ssave_commit(c, &s, 1, NULL)) goto out;
    reply_ok(c);
    sevent(c, &c->argv[1], "xsetid");
out:
    stream_close(&s);
}

/* ---- consumer groups: shared pieces -------------------------------------------------------------- */

/* Looks the consumer up (streamLookupConsumer with SLC_DEFAULT: its seen time is refreshed) or
 * creates it (streamCreateConsumer): co is then written by the caller (consumer_put). */
static int consumer_get_or_create(stream *s, stream_group *g, const cmdarg *name,
                                  stream_consumer *co, uint64_t now, int *created) {
    int r = stream_consumer_get(s, g, name->ptr, name->len, co);
    if (r < 0) return r;
    if (r == 0) {
        co->name = name->ptr;
        co->nlen = name->len;
        co->pel = 0;
        g->consumers++;
        if (created) *created = 1;
    }
    co->seen_time = now;
    return 0;
}

/* streamReplyWithCGLag */
static void reply_lag(client *c, const stream *s, const stream_group *g) {
    if (!s->entries_added) {
        reply_int(c, 0);
        return;
    }
    if (g->entries_read != STREAM_ENTRIES_READ_INVALID &&
        !stream_range_has_tombstones(s, &g->last_id, NULL)) {
        reply_int(c, (long long)s->entries_added - g->entries_read);
        return;
    }
    long long er = stream_estimate_distance(s, &g->last_id);
    if (er != STREAM_ENTRIES_READ_INVALID) reply_int(c, (long long)s->entries_added - er);
    else reply_null(c);
}

/* The highest ID in g's PEL (0-0 when empty): deliveries above it need no PEL lookup. */
static int pel_max(const stream *s, const stream_group *g, stream_id *out) {
    stream_gwalk w;
    *out = ID_MIN;
    int r = stream_gwalk_open(&w, s, STREAM_SUB_PEL, g, NULL, 0, NULL, 1, UINT64_MAX);
    const char *k, *v;
    size_t kl, vl;
    if (r == 0) r = stream_gwalk_next(&w, &k, &kl, &v, &vl);
    if (r == 1) {
        if (kl != 16) r = LSM_ECORRUPT;
        else {
            stream_id_decode(k, out);
            r = 0;
        }
    }
    stream_gwalk_close(&w);
    return r;
}

/* streamReplyWithRange with a group: new entries from start (count 0: all) delivered to co,
 * added to the PEL unless noack, the group's last ID and read counter moved on. Replies the
 * array; returns how many, or < 0. */
static long deliver_new(client *c, stream *s, stream_group *g, stream_consumer *co,
                        const stream_id *start, long long count, int noack, uint64_t now) {
    stream_id pmax;
    int r = 0;
    if (!noack && (r = pel_max(s, g, &pmax))) return r;
    void *h = reply_defer_len(c);
    stream_iter it;
    long n = 0;
    r = stream_iter_open(&it, s, start, &ID_MAX, 0);
    stream_id id;
    const char *v;
    size_t vl;
    while (r == 0) {
        r = stream_iter_next(&it, &id, &v, &vl);
        if (r <= 0) break;
        r = 0;
        if (stream_id_cmp(&id, &g->last_id) > 0) {
            if (g->entries_read != STREAM_ENTRIES_READ_INVALID &&
                !stream_range_has_tombstones(s, &id, NULL))
                g->entries_read++;
            else if (s->entries_added)
                g->entries_read = stream_estimate_distance(s, &id);
            g->last_id = id;
        }
        if ((r = reply_entry(c, &id, v, vl))) break;
        if (!noack) {
            stream_nack old;
            int had = 0;
            if (stream_id_cmp(&id, &pmax) <= 0) {
                had = stream_nack_get(s, g, &id, &old, &nval);
                if (had < 0) {
                    r = had;
                    break;
                }
            }
            stream_nack nn = {now, 1, co->name, co->nlen};
            if (had) {
                /* already pending (SETID moved the group back): it changes hands */
                int same = old.clen == co->nlen && memcmp(old.consumer, co->name, co->nlen) == 0;
                if (!same) {
                    if ((r = stream_consumer_pel_add(s, g, old.consumer, old.clen, -1))) break;
                    co->pel++;
                }
                r = stream_nack_put(s, g, &id, &nn, old.consumer, old.clen);
            } else {
                g->pel++;
                co->pel++;
                r = stream_nack_put(s, g, &id, &nn, NULL, 0);
            }
            if (r) break;
        }
        n++;
        if (count && n == count) break;
    }
    stream_iter_close(&it);
    if (r < 0) return r;
    reply_set_deferred_array(c, h, n);
    return n;
}

/* streamReplyWithRangeFromConsumerPEL: co's pending entries from start (count 0: all); entries
 * no longer in the stream come as [id, nil]; the others are delivered again (delivery time and
 * count updated). Replies the array; returns how many, or < 0. */
static long deliver_history(client *c, stream *s, stream_group *g, stream_consumer *co,
                            const stream_id *start, long long count, uint64_t now) {
    stream_gwalk w;
    int r = stream_gwalk_open(&w, s, STREAM_SUB_CPEL, g, co->name, co->nlen, start, 0, co->pel);
    void *h = reply_defer_len(c);
    long n = 0;
    const char *k, *v;
    size_t kl, vl;
    while (r == 0 && (!count || n < count)) {
        r = stream_gwalk_next(&w, &k, &kl, &v, &vl);
        if (r <= 0) break;
        r = 0;
        if (kl != 16) {
            r = LSM_ECORRUPT;
            break;
        }
        stream_id id;
        stream_id_decode(k, &id);
        int e = reply_one_entry(c, s, &id);
        if (e < 0) {
            r = e;
            break;
        }
        if (e == 0) {
            reply_array(c, 2);
            reply_id(c, &id);
            reply_null_array(c);
        } else {
            stream_nack nk;
            int got = stream_nack_get(s, g, &id, &nk, &nval);
            if (got == 0) got = LSM_ECORRUPT; /* the consumer's PEL names the group's entries */
            if (got < 0) {
                r = got;
                break;
            }
            nk.delivery_time = now;
            nk.delivery_count++;
            if ((r = stream_nack_put(s, g, &id, &nk, nk.consumer, nk.clen))) break;
        }
        n++;
    }
    stream_gwalk_close(&w);
    if (r < 0) return r;
    reply_set_deferred_array(c, h, n);
    return n;
}

/* ---- XREAD / XREADGROUP ---------------------------------------------------------------------------- */

typedef struct xread_args {
    long long timeout;        /* -1: no BLOCK */
    long long count;
    int streams_arg, streams_count, noack;
    const cmdarg *group, *consumer;
} xread_args;

/* The option loop of xreadCommand: 0 ok, -1 replied. */
static int xread_parse(client *c, int xreadgroup, xread_args *a) {
    memset(a, 0, sizeof(*a));
    a->timeout = -1;
    for (int i = 1; i < c->argc; i++) {
        int moreargs = c->argc - i - 1;
        const cmdarg *o = &c->argv[i];
        if (arg_is(o, "BLOCK") && moreargs) {
            if (c->flags & CLIENT_DENY_BLOCKING) { /* a script */
                reply_errorf(c, "ERR %s command is not allowed with BLOCK option from scripts",
                             c->argv[0].ptr);
                return -1;
            }
            i++;
            if (!parse_ll(c, &c->argv[i], &a->timeout, "ERR timeout is not an integer or out of range"))
                return -1;
            if (a->timeout < 0) {
                reply_error(c, "ERR timeout is negative");
                return -1;
            }
        } else if (arg_is(o, "COUNT") && moreargs) {
            i++;
            if (!parse_ll(c, &c->argv[i], &a->count, NULL)) return -1;
            if (a->count < 0) a->count = 0;
        } else if (arg_is(o, "STREAMS") && moreargs) {
            a->streams_arg = i + 1;
            a->streams_count = c->argc - a->streams_arg;
            if ((a->streams_count % 2) != 0) {
                reply_error(c, "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
                return -1;
            }
            a->streams_count /= 2;
            break;
        } else if (arg_is(o, "GROUP") && moreargs >= 2) {
            if (!xreadgroup) {
                reply_error(c, "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                return -1;
            }
            a->group = &c->argv[i + 1];
            a->consumer = &c->argv[i + 2];
            i += 2;
        } else if (arg_is(o, "NOACK")) {
            if (!xreadgroup) {
                reply_error(c, "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                return -1;
            }
            a->noack = 1;
        } else {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
    }
    if (a->streams_arg == 0) {
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    if (xreadgroup && !a->group) {
        reply_error(c, "ERR Missing GROUP option for XREADGROUP");
        return -1;
    }
    return 0;
}

/* Serves key i of a read: the [key, entries] element (RESP2 pair, RESP3 map entry). gt: the
 * ID the entries must be greater than. history: XREADGROUP with an explicit ID. *created is set
 * when the group's consumer was created. 0 or < 0. */
static int xread_serve_key(client *c, const xread_args *a, stream *s, const cmdarg *key,
                           const stream_id *gt, int history, long long count, uint64_t now,
                           int *created) {
    stream_id start = *gt;
    stream_id_incr(&start);
    if (c->resp == 2) reply_array(c, 2);
    reply_bulk(c, key->ptr, key->len);
    if (!a->group) {
        long n = reply_range(c, s, &start, &ID_MAX, count, 0, 0);
        return n < 0 ? (int)n : 0;
    }
    stream_group g;
    int r = stream_group_get(s, a->group->ptr, a->group->len, &g);
    if (r == 0) r = LSM_ECORRUPT; /* checked by the caller */
    if (r < 0) return r;
    stream_consumer co;
    if ((r = consumer_get_or_create(s, &g, a->consumer, &co, now, created))) return r;
    long n = history ? deliver_history(c, s, &g, &co, &start, count, now)
                     : deliver_new(c, s, &g, &co, &start, count, a->noack, now);
    if (n < 0) return (int)n;
    if ((r = stream_consumer_put(s, &g, &co)) || (r = stream_group_put(s, &g))) return r;
    return stream_save(s, 1);
}

/* A blocked XREAD/XREADGROUP run again because one of its keys was written (blocking.h):
 * serves the first key whose last ID passed what it waits for, answers a deleted key or group
 * (XREADGROUP), or stays blocked. */
static void xread_rerun(client *c, const xread_args *a, const stream_id *ids) {
    uint64_t now = server_now_ms();
    long long count = a->count ? a->count : XREAD_BLOCKED_DEFAULT_COUNT;
    reply_mark mk;
    client_reply_mark(c, &mk);
    for (int i = 0; i < a->streams_count; i++) {
        const cmdarg *key = &c->argv[a->streams_arg + i];
        stream s;
        int r = stream_open(&s, c->db, key->ptr, key->len, 0);
        if (r < 0 && r != COLL_WRONGTYPE) {
            stream_close(&s);
            keyspace_reply_engine_error(c, r);
            return;
        }
        if (r != 1) {
            stream_close(&s);
            if (a->group) {
                reply_error(c, "UNBLOCKED the stream key no longer exists");
                return;
            }
            continue;
        }
        stream_id gt = ids[i];
        if (a->group) {
            stream_group g;
            r = stream_group_get(&s, a->group->ptr, a->group->len, &g);
            if (r < 0) {
                stream_close(&s);
                keyspace_reply_engine_error(c, r);
                return;
            }
            if (r == 0) {
                stream_close(&s);
                reply_error(c, "NOGROUP the consumer group this client was blocked on no longer exists");
                return;
            }
            gt = g.last_id;
        }
        if (stream_id_cmp(&s.last_id, &gt) <= 0) {
            stream_close(&s);
            continue;
        }
        if (a->group) keyspace_begin();
        int created = 0;
        if ((r = stream_load_state(&s)) == 0) {
            if (c->resp == 2) reply_array(c, 1);
            else reply_map(c, 1);
            r = xread_serve_key(c, a, &s, key, &gt, 0, count, now, &created);
        }
        if (r == 0 && a->group) r = keyspace_commit();
        if (r) {
            client_reply_truncate(c, &mk);
            if (a->group) keyspace_abort();
            keyspace_reply_engine_error(c, r);
        } else if (created) {
            sevent(c, key, "xgroup-createconsumer");
        }
        stream_close(&s);
        sval_trim();
        return;
    }
    /* nothing for it yet: it stays where it was (blocking_block while re-run) */
    blocking_block(c, &c->argv[a->streams_arg], a->streams_count, KTYPE_STREAM, 0);
}

/* Blocks c on its keys, `$` IDs replaced by the ones they stand for (ids). */
static void xread_block(client *c, const xread_args *a, const stream_id *ids) {
    cmdarg *argv = malloc(sizeof(*argv) * (size_t)c->argc);
    char *idbuf = malloc((size_t)a->streams_count * 48);
    if (!argv || !idbuf) {
        free(argv);
        free(idbuf);
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    memcpy(argv, c->argv, sizeof(*argv) * (size_t)c->argc);
    for (int i = 0; i < a->streams_count; i++) {
        cmdarg *ida = &argv[a->streams_arg + a->streams_count + i];
        if (strcmp(ida->ptr, "$") != 0) continue;
        char *b = idbuf + 48 * i;
        ida->len = (size_t)stream_id_format(b, &ids[i]);
        ida->ptr = b;
    }
    cmdarg *saved = c->argv;
    c->argv = argv;
    int r = blocking_block(c, &argv[a->streams_arg], a->streams_count, KTYPE_STREAM, a->timeout);
    c->argv = saved;
    if (r == 0 && a->group) blocking_wake_on_gone(c);
    free(argv);
    free(idbuf);
}

static void xread_generic(client *c, int xreadgroup) {
    xread_args a;
    if (xread_parse(c, xreadgroup, &a)) return;
    stream_id *ids = malloc(sizeof(*ids) * (size_t)(a.streams_count ? a.streams_count : 1));
    if (!ids) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    int rerun = blocking_rerunning(c);
    int *created = NULL;
    /* the IDs, each stream looked up (type, group) in order */
    for (int i = a.streams_arg + a.streams_count; i < c->argc; i++) {
        int idx = i - a.streams_arg - a.streams_count;
        const cmdarg *key = &c->argv[i - a.streams_count];
        stream s;
        int r = rerun ? stream_open(&s, c->db, key->ptr, key->len, 0) : sopen(c, &s, key, KS_LOOKUP_READ);
        if (rerun && r == COLL_WRONGTYPE) r = 0;
        if (r < 0) {
            if (rerun) keyspace_reply_engine_error(c, r);
            stream_close(&s);
            goto out;
        }
        if (a.group && !rerun) {
            stream_group g;
            int gr = r ? stream_group_get(&s, a.group->ptr, a.group->len, &g) : 0;
            if (gr < 0) {
                keyspace_reply_engine_error(c, gr);
                stream_close(&s);
                goto out;
            }
            if (!gr) {
                reply_errorf(c, "NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with GROUP option",
                             key->ptr, a.group->ptr);
                stream_close(&s);
                goto out;
            }
        }
        const cmdarg *ida = &c->argv[i];
        if (strcmp(ida->ptr, "$") == 0) {
            if (xreadgroup) {
                reply_error(c, "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
                stream_close(&s);
                goto out;
            }
            ids[idx] = r ? s.last_id : ID_MIN;
            stream_close(&s);
            continue;
        }
        if (strcmp(ida->ptr, ">") == 0) {
            if (!xreadgroup) {
                reply_error(c, "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
                stream_close(&s);
                goto out;
            }
            ids[idx] = ID_MAX;
            stream_close(&s);
            continue;
        }
        stream_close(&s);
        if (!parse_id(c, ida, &ids[idx], 0, 1, NULL)) goto out;
    }
    if (rerun) {
        xread_rerun(c, &a, ids);
        goto out;
    }

    /* serve synchronously what can be served */
    uint64_t now = server_now_ms();
    reply_mark mk;
    client_reply_mark(c, &mk);
    void *top = NULL;
    long arraylen = 0;
    created = calloc((size_t)(a.streams_count ? a.streams_count : 1), sizeof(int));
    if (!created) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        goto out;
    }
    if (a.group) keyspace_begin();
    for (int i = 0; i < a.streams_count; i++) {
        const cmdarg *key = &c->argv[a.streams_arg + i];
        stream s;
        int r = stream_open(&s, c->db, key->ptr, key->len, 0);
        if (r == COLL_WRONGTYPE) r = 0; /* checked above */
        if (r <= 0) {
            stream_close(&s);
            if (r < 0) {
                sfail(c, r, &mk);
                goto out;
            }
            continue;
        }
        stream_id gt = ids[i];
        int serve = 0, history = 0;
        if (a.group) {
            stream_group g;
            r = stream_group_get(&s, a.group->ptr, a.group->len, &g);
            if (r == 0) r = LSM_ECORRUPT;
            if (r > 0) r = 0;
            if (r == 0 && (gt.ms != UINT64_MAX || gt.seq != UINT64_MAX)) {
                serve = history = 1;
            } else if (r == 0 && s.c.count) {
                stream_id maxid;
                r = stream_last_entry(&s, &maxid);
                if (r == 1) {
                    r = 0;
                    if (stream_id_cmp(&maxid, &g.last_id) > 0) {
                        serve = 1;
                        gt = g.last_id;
                    }
                }
            }
        } else if (s.c.count) {
            stream_id maxid;
            r = stream_last_entry(&s, &maxid);
            if (r == 1) {
                r = 0;
                if (stream_id_cmp(&maxid, &gt) > 0) serve = 1;
            }
        }
        if (r == 0 && serve) {
            arraylen++;
            if (arraylen == 1) top = reply_defer_len(c);
            r = stream_load_state(&s);
            if (r == 0) r = xread_serve_key(c, &a, &s, key, &gt, history, a.count, now, &created[i]);
        }
        stream_close(&s);
        if (r < 0) {
            sfail(c, r, &mk);
            goto out;
        }
    }
    if (arraylen) {
        if (c->resp == 2) reply_set_deferred_array(c, top, arraylen);
        else reply_set_deferred_map(c, top, arraylen);
        if (a.group) {
            int r = keyspace_commit();
            if (r) {
                client_reply_truncate(c, &mk);
                keyspace_reply_engine_error(c, r);
            } else {
                for (int i = 0; i < a.streams_count; i++)
                    if (created[i]) sevent(c, &c->argv[a.streams_arg + i], "xgroup-createconsumer");
            }
        }
        goto out;
    }
    if (a.group) keyspace_commit(); /* nothing written */
    if (a.timeout != -1) {
        if (!blocking_may_block(c)) {
            reply_null_array(c);
            goto out;
        }
        xread_block(c, &a, ids);
        goto out;
    }
    reply_null_array(c);
out:
    sval_trim();
    free(created);
    free(ids);
}

static void cmd_xread(client *c) { xread_generic(c, 0); }
static void cmd_xreadgroup(client *c) { xread_generic(c, 1); }

/* xreadGetKeys: COMMAND GETKEYS when the key spec finds no valid range. */
static int xread_getkeys(const cmdarg *argv, int argc, int *pos, int max) {
    int streams_pos = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i].ptr;
        if (!strcasecmp(arg, "block") || !strcasecmp(arg, "count")) {
            i++;
        } else if (!strcasecmp(arg, "group")) {
            i += 2;
        } else if (!strcasecmp(arg, "noack")) {
            /* nothing */
        } else if (!strcasecmp(arg, "streams")) {
            streams_pos = i;
            break;
        } else {
            break;
        }
    }
    int num = argc - streams_pos - 1;
    if (streams_pos == -1 || num == 0 || num % 2 != 0) return 0;
    num /= 2;
    for (int i = streams_pos + 1; i < argc - num; i++)
        if (i - streams_pos - 1 < max) pos[i - streams_pos - 1] = i;
    return num;
}

/* ---- XGROUP --------------------------------------------------------------------------------------- */

static void reply_subcommand_syntax_error(client *c) {
    char up[32];
    size_t i;
    for (i = 0; i + 1 < sizeof up && c->argv[0].ptr[i]; i++)
        up[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
    up[i] = 0;
    reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try %s HELP.",
                 c->argv[1].ptr, up);
}

/* addReplyHelp: the header line, the lines, then HELP. */
static void reply_help(client *c, const char *const *lines, size_t n) {
    char head[128], up[32];
    size_t i;
    for (i = 0; i + 1 < sizeof up && c->argv[0].ptr[i]; i++)
        up[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
    up[i] = 0;
    snprintf(head, sizeof head, "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", up);
    reply_array(c, (long)n + 3);
    reply_simple(c, head);
    for (i = 0; i < n; i++) reply_simple(c, lines[i]);
    reply_simple(c, "HELP");
    reply_simple(c, "    Prints this help.");
}

static void cmd_xgroup_help(client *c) {
    static const char *const lines[] = {
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
    };
    reply_help(c, lines, sizeof lines / sizeof lines[0]);
}

/* xgroupCommand for CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER (argc >= 4). */
static void xgroup_generic(client *c) {
    const char *opt = c->argv[1].ptr;
    int mkstream = 0;
    long long entries_read = STREAM_ENTRIES_READ_INVALID;
    int create = !strcasecmp(opt, "CREATE"), setid = !strcasecmp(opt, "SETID");
    for (int i = 5; i < c->argc;) {
        if (create && arg_is(&c->argv[i], "MKSTREAM")) {
            mkstream = 1;
            i++;
        } else if ((create || setid) && arg_is(&c->argv[i], "ENTRIESREAD") && i + 1 < c->argc) {
            if (!parse_ll(c, &c->argv[i + 1], &entries_read, NULL)) return;
            if (entries_read < 0 && entries_read != STREAM_ENTRIES_READ_INVALID) {
                reply_error(c, "ERR value for ENTRIESREAD must be positive or -1");
                return;
            }
            i += 2;
        } else {
            reply_subcommand_syntax_error(c);
            return;
        }
    }
    stream s;
    const cmdarg *key = &c->argv[2], *gname = &c->argv[3];
    stream_group g;
    int gexists = 0;
    uint64_t now = server_now_ms();
    int r = sopen(c, &s, key, 0);
    if (r < 0) goto out;
    int exists = r;
    if (!mkstream) {
        if (!exists) {
            reply_error(c, "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
            goto out;
        }
        gexists = stream_group_get(&s, gname->ptr, gname->len, &g);
        if (gexists < 0) {
            keyspace_reply_engine_error(c, gexists);
            goto out;
        }
        if (!gexists && (setid || !strcasecmp(opt, "CREATECONSUMER") || !strcasecmp(opt, "DELCONSUMER"))) {
            reply_errorf(c, "NOGROUP No such consumer group '%s' for key name '%s'", gname->ptr, key->ptr);
            goto out;
        }
    }
    if (create && c->argc >= 5 && c->argc <= 8) {
        stream_id id;
        if (!strcmp(c->argv[4].ptr, "$")) id = exists ? s.last_id : ID_MIN;
        else if (!parse_id(c, &c->argv[4], &id, 0, 1, NULL)) goto out;
        keyspace_begin();
        if (!exists && (r = stream_create(&s))) {
            sfail(c, r, NULL);
            goto out;
        }
        if (exists && mkstream) {
            gexists = stream_group_get(&s, gname->ptr, gname->len, &g);
            if (gexists < 0) {
                sfail(c, gexists, NULL);
                goto out;
            }
        }
        if (gexists) {
            /* nothing written (a created stream cannot have the group) */
            keyspace_commit();
            reply_error(c, "BUSYGROUP Consumer Group name already exists");
            goto out;
        }
        if ((r = stream_load_state(&s))) {
            sfail(c, r, NULL);
            goto out;
        }
        g.name = gname->ptr;
        g.nlen = gname->len;
        g.last_id = id;
        g.entries_read = entries_read;
        g.pel = g.consumers = 0;
        memset(&g.pel_head, 0, sizeof(g.pel_head));
        if ((r = stream_group_put(&s, &g))) {
            sfail(c, r, NULL);
            goto out;
        }
        s.ngroups++;
        s.state_dirty = 1;
        if (ssave_commit(c, &s, exists, NULL)) goto out;
        reply_ok(c);
        sevent(c, key, "xgroup-create");
    } else if (setid && (c->argc == 5 || c->argc == 7)) {
        stream_id id;
        if (!strcmp(c->argv[4].ptr, "$")) id = s.last_id;
        else if (!parse_id(c, &c->argv[4], &id, 0, 0, NULL)) goto out;
        keyspace_begin();
        g.last_id = id;
        g.entries_read = entries_read;
        if ((r = stream_group_put(&s, &g))) {
            sfail(c, r, NULL);
            goto out;
        }
        if (ssave_commit(c, &s, 1, NULL)) goto out;
        reply_ok(c);
        sevent(c, key, "xgroup-setid");
    } else if (!strcasecmp(opt, "DESTROY") && c->argc == 4) {
        if (!gexists) {
            reply_int(c, 0);
            goto out;
        }
        keyspace_begin();
        if ((r = stream_group_destroy(&s, &g))) {
            sfail(c, r, NULL);
            goto out;
        }
        if (ssave_commit(c, &s, 1, NULL)) goto out;
        reply_int(c, 1);
        sevent(c, key, "xgroup-destroy");
        /* XREADGROUP clients blocked on the group get their error */
        blocking_signal_key(c->db, key->ptr, key->len);
    } else if (!strcasecmp(opt, "CREATECONSUMER") && c->argc == 5) {
        stream_consumer co;
        r = stream_consumer_get(&s, &g, c->argv[4].ptr, c->argv[4].len, &co);
        if (r < 0) {
            keyspace_reply_engine_error(c, r);
            goto out;
        }
        if (r == 1) {
            reply_int(c, 0);
            goto out;
        }
        keyspace_begin();
        co.name = c->argv[4].ptr;
        co.nlen = c->argv[4].len;
        co.seen_time = now;
        co.pel = 0;
        g.consumers++;
        if ((r = stream_consumer_put(&s, &g, &co)) || (r = stream_group_put(&s, &g))) {
            sfail(c, r, NULL);
            goto out;
        }
        if (ssave_commit(c, &s, 1, NULL)) goto out;
        sevent(c, key, "xgroup-createconsumer");
        reply_int(c, 1);
    } else if (!strcasecmp(opt, "DELCONSUMER") && c->argc == 5) {
        stream_consumer co;
        r = stream_consumer_get(&s, &g, c->argv[4].ptr, c->argv[4].len, &co);
        if (r < 0) {
            keyspace_reply_engine_error(c, r);
            goto out;
        }
        if (r == 0) {
            reply_int(c, 0);
            goto out;
        }
        long long pending = (long long)co.pel;
        keyspace_begin();
        if ((r = stream_consumer_delete(&s, &g, &co)) || (r = stream_group_put(&s, &g))) {
            sfail(c, r, NULL);
            goto out;
        }
        if (ssave_commit(c, &s, 1, NULL)) goto out;
        sevent(c, key, "xgroup-delconsumer");
        reply_int(c, pending);
    } else {
        reply_subcommand_syntax_error(c);
    }
out:
    stream_close(&s);
}

/* ---- XACK ------------------------------------------------------------------------------------------ */

static void cmd_xack(client *c) {
    stream s;
    stream_id *ids = NULL;
    int r = sopen(c, &s, &c->argv[1], KS_LOOKUP_READ);
    if (r < 0) goto out;
    stream_group g;
    int gr = r ? stream_group_get(&s, c->argv[2].ptr, c->argv[2].len, &g) : 0;
    if (gr < 0) {
        keyspace_reply_engine_error(c, gr);
        goto out;
    }
    if (!gr) {
        reply_int(c, 0);
        goto out;
    }
    int n = c->argc - 3;
    if (!(ids = parse_id_list(c, 3))) goto out;
    keyspace_begin();
    long long acked = 0;
    for (int j = 0; j < n; j++) {
        stream_nack nk;
        r = stream_nack_get(&s, &g, &ids[j], &nk, &nval);
        if (r < 0) break;
        if (r == 0) continue;
        if ((r = stream_nack_del(&s, &g, &ids[j], nk.consumer, nk.clen)) ||
            (r = stream_consumer_pel_add(&s, &g, nk.consumer, nk.clen, -1)))
            break;
        g.pel--;
        acked++;
    }
    if (r < 0 || (acked && (r = stream_group_put(&s, &g)))) {
        sfail(c, r, NULL);
        goto out;
    }
    if (ssave_commit(c, &s, 1, NULL)) goto out;
    reply_int(c, acked);
out:
    free(ids);
    sval_trim();
    stream_close(&s);
}

/* ---- XPENDING -------------------------------------------------------------------------------------- */

/* XPENDING key group [[IDLE min-idle-time] start end count [consumer]] */
static void cmd_xpending(client *c) {
    int justinfo = c->argc == 3;
    const cmdarg *key = &c->argv[1], *gname = &c->argv[2], *cname = NULL;
    stream_id startid, endid;
    long long count = 0, minidle = 0;
    int sx = 0, ex = 0;
    if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (c->argc >= 6) {
        int startidx = 3;
        if (arg_is(&c->argv[3], "IDLE")) {
            if (!parse_ll(c, &c->argv[4], &minidle, NULL)) return;
            if (c->argc < 8) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            startidx += 2;
        }
        if (!parse_ll(c, &c->argv[startidx + 2], &count, NULL)) return;
        if (count < 0) count = 0;
        if (!parse_interval(c, &c->argv[startidx], &startid, &sx, 0)) return;
        if (sx && stream_id_incr(&startid)) {
            reply_error(c, "ERR invalid start ID for the interval");
            return;
        }
        if (!parse_interval(c, &c->argv[startidx + 1], &endid, &ex, UINT64_MAX)) return;
        if (ex && stream_id_decr(&endid)) {
            reply_error(c, "ERR invalid end ID for the interval");
            return;
        }
        if (startidx + 3 < c->argc) cname = &c->argv[startidx + 3];
    }
    stream s;
    stream_gwalk w;
    memset(&w, 0, sizeof(w));
    reply_mark mk;
    client_reply_mark(c, &mk);
    int r = sopen(c, &s, key, KS_LOOKUP_READ);
    if (r < 0) goto out;
    stream_group g;
    int gr = r ? stream_group_get(&s, gname->ptr, gname->len, &g) : 0;
    if (gr < 0) {
        r = gr;
        goto fail;
    }
    if (!gr) {
        reply_errorf(c, "NOGROUP No such key '%s' or consumer group '%s'", key->ptr, gname->ptr);
        goto out;
    }
    const char *k, *v;
    size_t kl, vl;
    if (justinfo) {
        reply_array(c, 4);
        reply_int(c, (long long)g.pel);
        if (g.pel == 0) {
            reply_null(c);
            reply_null(c);
            reply_null_array(c);
            goto out;
        }
        for (int rev = 0; rev < 2; rev++) {
            r = stream_gwalk_open(&w, &s, STREAM_SUB_PEL, &g, NULL, 0, NULL, rev, UINT64_MAX);
            if (r == 0) r = stream_gwalk_next(&w, &k, &kl, &v, &vl);
            if (r == 0 || (r == 1 && kl != 16)) r = LSM_ECORRUPT;
            if (r < 0) goto fail;
            stream_id id;
            stream_id_decode(k, &id);
            reply_id(c, &id);
            stream_gwalk_close(&w);
        }
        void *h = reply_defer_len(c);
        long n = 0;
        r = stream_gwalk_open(&w, &s, STREAM_SUB_CONSUMER, &g, NULL, 0, NULL, 0, UINT64_MAX);
        while (r == 0) {
            r = stream_gwalk_next(&w, &k, &kl, &v, &vl);
            if (r <= 0) break;
            stream_consumer co;
            if (stream_consumer_decode(v, vl, &co)) {
                r = LSM_ECORRUPT;
                break;
            }
            r = 0;
            if (co.pel == 0) continue;
            reply_array(c, 2);
            reply_bulk(c, k, kl);
            reply_bulk_ll(c, (long long)co.pel);
            n++;
        }
        if (r < 0) goto fail;
        reply_set_deferred_array(c, h, n);
        goto out;
    }
    stream_consumer pco = {0};
    if (cname) {
        r = stream_consumer_get(&s, &g, cname->ptr, cname->len, &pco);
        if (r < 0) goto fail;
        if (r == 0) {
            reply_array(c, 0);
            goto out;
        }
    }
    uint64_t now = server_now_ms();
    void *h = reply_defer_len(c);
    long n = 0;
    r = cname ? stream_gwalk_open(&w, &s, STREAM_SUB_CPEL, &g, cname->ptr, cname->len, &startid, 0, pco.pel)
              : stream_gwalk_open(&w, &s, STREAM_SUB_PEL, &g, NULL, 0, &startid, 0, UINT64_MAX);
    while (r == 0 && count) {
        r = stream_gwalk_next(&w, &k, &kl, &v, &vl);
        if (r <= 0) break;
        r = 0;
        if (kl != 16) {
            r = LSM_ECORRUPT;
            break;
        }
        stream_id id;
        stream_id_decode(k, &id);
        if (stream_id_cmp(&id, &endid) > 0) break;
        stream_nack nk;
        if (cname) {
            int got = stream_nack_get(&s, &g, &id, &nk, &nval);
            if (got == 0) got = LSM_ECORRUPT;
            if (got < 0) {
                r = got;
                break;
            }
        } else if (stream_nack_decode(v, vl, &nk)) {
            r = LSM_ECORRUPT;
            break;
        }
        long long idle = (long long)now - (long long)nk.delivery_time;
        if (minidle && idle < minidle) continue;
        n++;
        count--;
        reply_array(c, 4);
        reply_id(c, &id);
        reply_bulk(c, nk.consumer, nk.clen);
        reply_int(c, idle < 0 ? 0 : idle);
        reply_int(c, (long long)nk.delivery_count);
    }
    if (r < 0) goto fail;
    reply_set_deferred_array(c, h, n);
    goto out;
fail:
    client_reply_truncate(c, &mk);
    keyspace_reply_engine_error(c, r);
out:
    stream_gwalk_close(&w);
    sval_trim();
    stream_close(&s);
}

/* ---- XCLAIM / XAUTOCLAIM ------------------------------------------------------------------------------ */

/* Adds delta to the pel count of consumer name: co's own count when it is the consumer held in
 * memory by the command (written back by it later), else its record. */
static int pel_adjust(stream *s, const stream_group *g, stream_consumer *co, const char *name,
                      size_t nlen, int64_t delta) {
    if (co && co->nlen == nlen && memcmp(co->name, name, nlen) == 0) {
        co->pel = (uint64_t)((int64_t)co->pel + delta);
        return 0;
    }
    return stream_consumer_pel_add(s, g, name, nlen, delta);
}

/* Gives the pending entry id (nk, owned by old, or new when had == 0) to co: delivery time
 * and count as given; counts moved. 0 or < 0. */
static int claim_one(stream *s, stream_group *g, stream_consumer *co, const stream_id *id,
                     stream_nack *nk, int had) {
    int r;
    int same = had && nk->clen == co->nlen && memcmp(nk->consumer, co->name, co->nlen) == 0;
    if (had && !same && (r = stream_consumer_pel_add(s, g, nk->consumer, nk->clen, -1))) return r;
    if (!same) co->pel++;
    stream_nack nn = *nk;
    nn.consumer = co->name;
    nn.clen = co->nlen;
    return stream_nack_put(s, g, id, &nn, had ? nk->consumer : NULL, had ? nk->clen : 0);
}

/* XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds]
 *        [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid] */
static void cmd_xclaim(client *c) {
    stream s;
    stream_id *ids = NULL;
    reply_mark mk;
    client_reply_mark(c, &mk);
    int r = sopen(c, &s, &c->argv[1], KS_LOOKUP_READ);
    if (r < 0) goto out;
    stream_group g;
    int gr = r ? stream_group_get(&s, c->argv[2].ptr, c->argv[2].len, &g) : 0;
    if (gr < 0) {
        keyspace_reply_engine_error(c, gr);
        goto out;
    }
    if (!gr) {
        reply_errorf(c, "NOGROUP No such key '%s' or consumer group '%s'", c->argv[1].ptr, c->argv[2].ptr);
        goto out;
    }
    long long minidle, retrycount = -1, deliverytime = -1;
    int force = 0, justid = 0;
    if (!parse_ll(c, &c->argv[4], &minidle, "ERR Invalid min-idle-time argument for XCLAIM")) goto out;
    if (minidle < 0) minidle = 0;
    int nids = c->argc - 5;
    ids = malloc(sizeof(*ids) * (size_t)(nids > 0 ? nids : 1));
    if (!ids) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        goto out;
    }
    int j;
    for (j = 5; j < c->argc; j++)
        if (!stream_id_parse(c->argv[j].ptr, c->argv[j].len, &ids[j - 5], 0, 1, NULL)) break;
    int last_id_arg = j - 1;
    long long now = (long long)server_now_ms();
    stream_id last_id = {0, 0};
    for (; j < c->argc; j++) {
        int moreargs = c->argc - 1 - j;
        const cmdarg *o = &c->argv[j];
        if (arg_is(o, "FORCE")) {
            force = 1;
        } else if (arg_is(o, "JUSTID")) {
            justid = 1;
        } else if (arg_is(o, "IDLE") && moreargs) {
            j++;
            if (!parse_ll(c, &c->argv[j], &deliverytime, "ERR Invalid IDLE option argument for XCLAIM"))
                goto out;
            deliverytime = now - deliverytime;
        } else if (arg_is(o, "TIME") && moreargs) {
            j++;
            if (!parse_ll(c, &c->argv[j], &deliverytime, "ERR Invalid TIME option argument for XCLAIM"))
                goto out;
        } else if (arg_is(o, "RETRYCOUNT") && moreargs) {
            j++;
            if (!parse_ll(c, &c->argv[j], &retrycount, "ERR Invalid RETRYCOUNT option argument for XCLAIM"))
                goto out;
        } else if (arg_is(o, "LASTID") && moreargs) {
            j++;
            if (!parse_id(c, &c->argv[j], &last_id, 0, 1, NULL)) goto out;
        } else {
            reply_errorf(c, "ERR Unrecognized XCLAIM option '%s'", o->ptr);
            goto out;
        }
    }
    keyspace_begin();
    int gdirty = 0;
    if (stream_id_cmp(&last_id, &g.last_id) > 0) {
        g.last_id = last_id;
        gdirty = 1;
    }
    if (deliverytime != -1) {
        if (deliverytime < 0 || deliverytime > now) deliverytime = now;
    } else {
        deliverytime = now;
    }
    stream_consumer co;
    int have_co = 0, co_created = 0;
    const cmdarg *name = &c->argv[3];
    if ((r = stream_load_state(&s))) goto fail;
    void *h = reply_defer_len(c);
    long n = 0;
    for (j = 5; j <= last_id_arg; j++) {
        stream_id id = ids[j - 5];
        stream_nack nk;
        int had = stream_nack_get(&s, &g, &id, &nk, &nval);
        if (had < 0) {
            r = had;
            goto fail;
        }
        int exists = stream_get(&s, &id, &sval);
        if (exists < 0) {
            r = exists;
            goto fail;
        }
        if (!exists) {
            /* no longer in the stream: out of the PEL */
            if (had) {
                if ((r = stream_nack_del(&s, &g, &id, nk.consumer, nk.clen)) ||
                    (r = pel_adjust(&s, &g, have_co ? &co : NULL, nk.consumer, nk.clen, -1)))
                    goto fail;
                g.pel--;
                gdirty = 1;
            }
            continue;
        }
        int created = 0;
        if (force && !had) {
            nk.delivery_time = 0;
            nk.delivery_count = 1; /* streamCreateNACK */
            nk.consumer = NULL;
            nk.clen = 0;
            created = 1;
            g.pel++;
            gdirty = 1;
        }
        if (!had && !created) continue;
        if (had && minidle) {
            long long this_idle = now - (long long)nk.delivery_time;
            if (this_idle < minidle) continue;
        }
        if (!have_co) {
            if ((r = consumer_get_or_create(&s, &g, name, &co, (uint64_t)now, &co_created))) goto fail;
            have_co = 1;
            gdirty = 1;
        }
        nk.delivery_time = (uint64_t)deliverytime;
        if (retrycount >= 0) nk.delivery_count = (uint64_t)retrycount;
        else if (!justid) nk.delivery_count++;
        if ((r = claim_one(&s, &g, &co, &id, &nk, had))) goto fail;
        if (justid) {
            reply_id(c, &id);
        } else if ((r = reply_entry(c, &id, sval.data, sval.len))) {
            goto fail;
        }
        n++;
    }
    if (have_co && (r = stream_consumer_put(&s, &g, &co))) goto fail;
    if (gdirty && (r = stream_group_put(&s, &g))) goto fail;
    reply_set_deferred_array(c, h, n);
    if (ssave_commit(c, &s, 1, &mk)) goto out;
    if (co_created) sevent(c, &c->argv[1], "xgroup-createconsumer");
    goto out;
fail:
    sfail(c, r, &mk);
out:
    free(ids);
    sval_trim();
    stream_close(&s);
}

/* XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]: the walk claims
 * first (collecting the IDs), then the reply [cursor, claimed, deleted] is written. */
static void cmd_xautoclaim(client *c) {
    long long minidle;
    long long count = 100;
    const long long attempts_factor = 10;
    stream_id startid;
    int startex, justid = 0;
    if (!parse_ll(c, &c->argv[4], &minidle, "ERR Invalid min-idle-time argument for XAUTOCLAIM")) return;
    if (minidle < 0) minidle = 0;
    if (!parse_interval(c, &c->argv[5], &startid, &startex, 0)) return;
    if (startex && stream_id_incr(&startid)) {
        reply_error(c, "ERR invalid start ID for the interval");
        return;
    }
    for (int j = 6; j < c->argc; j++) {
        int moreargs = c->argc - 1 - j;
        if (arg_is(&c->argv[j], "COUNT") && moreargs) {
            long long max_count = LONG_MAX / 16; /* LONG_MAX / max(sizeof(streamID), attempts) */
            if (!cmd_coll_range_long(c, &c->argv[j + 1], 1, max_count, "ERR COUNT must be > 0", &count))
                return;
            j++;
        } else if (arg_is(&c->argv[j], "JUSTID")) {
            justid = 1;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    stream s;
    stream_gwalk w;
    memset(&w, 0, sizeof(w));
    stream_id *deleted = NULL, *claimed = NULL;
    long ndeleted = 0, nclaimed = 0, cap = 0;
    char *cname = NULL;
    size_t ccap = 0;
    int r = sopen(c, &s, &c->argv[1], KS_LOOKUP_READ);
    if (r < 0) goto out;
    stream_group g;
    int gr = r ? stream_group_get(&s, c->argv[2].ptr, c->argv[2].len, &g) : 0;
    if (gr < 0) {
        keyspace_reply_engine_error(c, gr);
        goto out;
    }
    if (!gr) {
        reply_errorf(c, "NOGROUP No such key '%s' or consumer group '%s'", c->argv[1].ptr, c->argv[2].ptr);
        goto out;
    }
    /* Redis allocates count IDs (16 bytes each) for the deleted ones up front and refuses the
     * command when that fails (ztrymalloc): the same attempt here, the same answer (beyond
     * 1 TiB no machine has it: refused without asking the allocator) */
    void *probe = (unsigned long long)count > (1ull << 36) ? NULL : malloc((size_t)count * 16);
    if (!probe) {
        reply_error(c, "ERR Insufficient memory, failed allocating transient memory, COUNT too high.");
        goto out;
    }
    free(probe);
    keyspace_begin();
    if ((r = stream_load_state(&s))) goto fail;
    long long attempts = count * attempts_factor;
    long long now = (long long)server_now_ms();
    stream_consumer co;
    int have_co = 0, gdirty = 0, co_created = 0;
    const char *k, *v;
    size_t kl, vl;
    stream_id endid = {0, 0};
    r = stream_gwalk_open(&w, &s, STREAM_SUB_PEL, &g, NULL, 0, &startid, 0, UINT64_MAX);
    if (r) goto fail;
    int more = 1; /* the walk has not reached its end */
    while (attempts-- && count) {
        r = stream_gwalk_next(&w, &k, &kl, &v, &vl);
        if (r < 0) goto fail;
        if (r == 0) {
            more = 0;
            break;
        }
        stream_nack nk;
        if (kl != 16 || stream_nack_decode(v, vl, &nk)) {
            r = LSM_ECORRUPT;
            goto fail;
        }
        stream_id id;
        stream_id_decode(k, &id);
        /* the walk's value belongs to its iterator: keep the owner's name across the writes */
        if (nk.clen > ccap) {
            char *nc = realloc(cname, nk.clen);
            if (!nc) {
                r = LSM_ENOMEM;
                goto fail;
            }
            cname = nc;
            ccap = nk.clen;
        }
        if (nk.clen) memcpy(cname, nk.consumer, nk.clen);
        nk.consumer = cname;
        if (nclaimed + ndeleted == cap) {
            long nc = cap ? cap * 2 : 16;
            stream_id *a = realloc(claimed, sizeof(*a) * (size_t)nc);
            if (!a) {
                r = LSM_ENOMEM;
                goto fail;
            }
            claimed = a;
            stream_id *b = realloc(deleted, sizeof(*b) * (size_t)nc);
            if (!b) {
                r = LSM_ENOMEM;
                goto fail;
            }
            deleted = b;
            cap = nc;
        }
        int exists = stream_get(&s, &id, &sval);
        if (exists < 0) {
            r = exists;
            goto fail;
        }
        if (!exists) {
            /* no longer in the stream: out of the PEL, reported as deleted */
            if ((r = stream_nack_del(&s, &g, &id, nk.consumer, nk.clen)) ||
                (r = pel_adjust(&s, &g, have_co ? &co : NULL, nk.consumer, nk.clen, -1)))
                goto fail;
            g.pel--;
            gdirty = 1;
            deleted[ndeleted++] = id;
            count--;
            continue;
        }
        if (minidle && now - (long long)nk.delivery_time < minidle) continue;
        if (!have_co) {
            if ((r = consumer_get_or_create(&s, &g, &c->argv[3], &co, (uint64_t)now, &co_created))) goto fail;
            have_co = 1;
            gdirty = 1;
        }
        nk.delivery_time = (uint64_t)now;
        if (!justid) nk.delivery_count++;
        if ((r = claim_one(&s, &g, &co, &id, &nk, 1))) goto fail;
        claimed[nclaimed++] = id;
        count--;
    }
    /* the next pending entry is the cursor of the next call */
    if (more) {
        r = stream_gwalk_next(&w, &k, &kl, &v, &vl);
        if (r < 0) goto fail;
        if (r == 1) {
            if (kl != 16) {
                r = LSM_ECORRUPT;
                goto fail;
            }
            stream_id_decode(k, &endid);
        }
        r = 0;
    }
    if (have_co && (r = stream_consumer_put(&s, &g, &co))) goto fail;
    if (gdirty && (r = stream_group_put(&s, &g))) goto fail;
    reply_mark mk;
    client_reply_mark(c, &mk);
    reply_array(c, 3);
    reply_id(c, &endid);
    reply_array(c, nclaimed);
    for (long i = 0; i < nclaimed; i++) {
        if (justid) {
            reply_id(c, &claimed[i]);
            continue;
        }
        r = reply_one_entry(c, &s, &claimed[i]);
        if (r == 0) r = LSM_ECORRUPT; /* it was there a moment ago */
        if (r < 0) {
            sfail(c, r, &mk);
            goto out;
        }
        r = 0;
    }
    reply_array(c, ndeleted);
    for (long i = 0; i < ndeleted; i++) reply_id(c, &deleted[i]);
    if (ssave_commit(c, &s, 1, &mk) == 0 && co_created) sevent(c, &c->argv[1], "xgroup-createconsumer");
    goto out;
fail:
    sfail(c, r, NULL);
out:
    stream_gwalk_close(&w);
    free(deleted);
    free(claimed);
    free(cname);
    sval_trim();
    stream_close(&s);
}

/* ---- XINFO ------------------------------------------------------------------------------------------ */

static void cmd_xinfo_help(client *c) {
    static const char *const lines[] = {
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
    };
    reply_help(c, lines, sizeof lines / sizeof lines[0]);
}

/* lookupKeyReadOrReply(nokeyerr) + checkType: 1 open, -1 replied. */
static int xinfo_open(client *c, stream *s) {
    int r = sopen(c, s, &c->argv[2], KS_LOOKUP_READ);
    if (r == 0) reply_error(c, ERR_NO_KEY);
    if (r <= 0) return -1;
    r = stream_load_state(s);
    if (r) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return 1;
}

static void cmd_xinfo_consumers(client *c) {
    stream s;
    stream_gwalk w;
    memset(&w, 0, sizeof(w));
    reply_mark mk;
    client_reply_mark(c, &mk);
    int r = 0;
    if (xinfo_open(c, &s) < 0) goto out;
    stream_group g;
    r = stream_group_get(&s, c->argv[3].ptr, c->argv[3].len, &g);
    if (r < 0) goto fail;
    if (r == 0) {
        reply_errorf(c, "NOGROUP No such consumer group '%s' for key name '%s'", c->argv[3].ptr,
                     c->argv[2].ptr);
        goto out;
    }
    uint64_t now = server_now_ms();
    reply_array(c, (long)g.consumers);
    long n = 0;
    const char *k, *v;
    size_t kl, vl;
    r = stream_gwalk_open(&w, &s, STREAM_SUB_CONSUMER, &g, NULL, 0, NULL, 0, UINT64_MAX);
    while (r == 0) {
        r = stream_gwalk_next(&w, &k, &kl, &v, &vl);
        if (r <= 0) break;
        stream_consumer co;
        if (stream_consumer_decode(v, vl, &co)) {
            r = LSM_ECORRUPT;
            break;
        }
        r = 0;
        long long idle = (long long)now - (long long)co.seen_time;
        reply_map(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, k, kl);
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)co.pel);
        reply_bulk_cstr(c, "idle");
        reply_int(c, idle < 0 ? 0 : idle);
        n++;
    }
    if (r == 0 && (uint64_t)n != g.consumers) r = LSM_ECORRUPT;
    if (r < 0) goto fail;
    goto out;
fail:
    client_reply_truncate(c, &mk);
    keyspace_reply_engine_error(c, r);
out:
    stream_gwalk_close(&w);
    stream_close(&s);
}

static void cmd_xinfo_groups(client *c) {
    stream s;
    coll_iter ci;
    memset(&ci, 0, sizeof(ci));
    reply_mark mk;
    client_reply_mark(c, &mk);
    int r = 0;
    if (xinfo_open(c, &s) < 0) goto out;
    reply_array(c, (long)s.ngroups);
    long n = 0;
    r = s.ngroups ? coll_iter_seek(&ci, &s.c, STREAM_SUB_GROUP, NULL, 0) : 0;
    /* as many as there are: no step past the last one (over whatever was deleted after it) */
    for (; r == 0 && (uint64_t)n < s.ngroups && coll_iter_valid(&ci); n++) {
        if (n) {
            coll_iter_next(&ci);
            if (!coll_iter_valid(&ci)) break;
        }
        size_t ml, vl;
        const char *m = coll_iter_member(&ci, &ml);
        const char *v = coll_iter_value(&ci, &vl);
        stream_group g;
        if (stream_group_decode(v, vl, &g)) {
            r = LSM_ECORRUPT;
            break;
        }
        reply_map(c, 6);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, m, ml);
        reply_bulk_cstr(c, "consumers");
        reply_int(c, (long long)g.consumers);
        reply_bulk_cstr(c, "pending");
        reply_int(c, (long long)g.pel);
        reply_bulk_cstr(c, "last-delivered-id");
        reply_id(c, &g.last_id);
        reply_bulk_cstr(c, "entries-read");
        if (g.entries_read != STREAM_ENTRIES_READ_INVALID) reply_int(c, g.entries_read);
        else reply_null(c);
        reply_bulk_cstr(c, "lag");
        reply_lag(c, &s, &g);
    }
    if (r == 0) r = coll_iter_status(&ci);
    if (r == 0 && (uint64_t)n != s.ngroups) r = LSM_ECORRUPT;
    if (r < 0) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, r);
    }
out:
    coll_iter_close(&ci);
    stream_close(&s);
}

/* The FULL form's groups (with their PEL and consumers, count entries each at most). */
static int xinfo_full_groups(client *c, stream *s, long long count) {
    coll_iter ci;
    stream_gwalk w, cw;
    memset(&w, 0, sizeof(w));
    memset(&cw, 0, sizeof(cw));
    reply_array(c, (long)s->ngroups);
    long ng = 0;
    const char *k, *v, *k2, *v2;
    size_t kl, vl, kl2, vl2;
    memset(&ci, 0, sizeof(ci));
    int r = s->ngroups ? coll_iter_seek(&ci, &s->c, STREAM_SUB_GROUP, NULL, 0) : 0;
    for (; r == 0 && (uint64_t)ng < s->ngroups && coll_iter_valid(&ci); ng++) {
        if (ng) {
            coll_iter_next(&ci);
            if (!coll_iter_valid(&ci)) break;
        }
        size_t ml, gvl;
        const char *m = coll_iter_member(&ci, &ml);
        const char *gv = coll_iter_value(&ci, &gvl);
        stream_group g;
        if (stream_group_decode(gv, gvl, &g)) {
            r = LSM_ECORRUPT;
            break;
        }
        g.name = m;
        g.nlen = ml;
        reply_map(c, 7);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, m, ml);
        reply_bulk_cstr(c, "last-delivered-id");
        reply_id(c, &g.last_id);
        reply_bulk_cstr(c, "entries-read");
        if (g.entries_read != STREAM_ENTRIES_READ_INVALID) reply_int(c, g.entries_read);
        else reply_null(c);
        reply_bulk_cstr(c, "lag");
        reply_lag(c, s, &g);
        reply_bulk_cstr(c, "pel-count");
        reply_int(c, (long long)g.pel);
        reply_bulk_cstr(c, "pending");
        void *h = reply_defer_len(c);
        long n = 0;
        r = stream_gwalk_open(&w, s, STREAM_SUB_PEL, &g, NULL, 0, NULL, 0, UINT64_MAX);
        while (r == 0 && (!count || n < count)) {
            r = stream_gwalk_next(&w, &k, &kl, &v, &vl);
            if (r <= 0) break;
            stream_nack nk;
            if (kl != 16 || stream_nack_decode(v, vl, &nk)) {
                r = LSM_ECORRUPT;
                break;
            }
            r = 0;
            stream_id id;
            stream_id_decode(k, &id);
            reply_array(c, 4);
            reply_id(c, &id);
            reply_bulk(c, nk.consumer, nk.clen);
            reply_int(c, (long long)nk.delivery_time);
            reply_int(c, (long long)nk.delivery_count);
            n++;
        }
        stream_gwalk_close(&w);
        if (r < 0) break;
        reply_set_deferred_array(c, h, n);
        reply_bulk_cstr(c, "consumers");
        reply_array(c, (long)g.consumers);
        r = stream_gwalk_open(&w, s, STREAM_SUB_CONSUMER, &g, NULL, 0, NULL, 0, UINT64_MAX);
        long nc = 0;
        while (r == 0) {
            r = stream_gwalk_next(&w, &k, &kl, &v, &vl);
            if (r <= 0) break;
            stream_consumer co;
            if (stream_consumer_decode(v, vl, &co)) {
                r = LSM_ECORRUPT;
                break;
            }
            r = 0;
            nc++;
            reply_map(c, 4);
            reply_bulk_cstr(c, "name");
            reply_bulk(c, k, kl);
            reply_bulk_cstr(c, "seen-time");
            reply_int(c, (long long)co.seen_time);
            reply_bulk_cstr(c, "pel-count");
            reply_int(c, (long long)co.pel);
            reply_bulk_cstr(c, "pending");
            void *ch = reply_defer_len(c);
            long cn = 0;
            r = stream_gwalk_open(&cw, s, STREAM_SUB_CPEL, &g, k, kl, NULL, 0, co.pel);
            while (r == 0 && (!count || cn < count)) {
                r = stream_gwalk_next(&cw, &k2, &kl2, &v2, &vl2);
                if (r <= 0) break;
                r = 0;
                if (kl2 != 16) {
                    r = LSM_ECORRUPT;
                    break;
                }
                stream_id id;
                stream_id_decode(k2, &id);
                stream_nack nk;
                int got = stream_nack_get(s, &g, &id, &nk, &nval);
                if (got == 0) got = LSM_ECORRUPT;
                if (got < 0) {
                    r = got;
                    break;
                }
                reply_array(c, 3);
                reply_id(c, &id);
                reply_int(c, (long long)nk.delivery_time);
                reply_int(c, (long long)nk.delivery_count);
                cn++;
            }
            stream_gwalk_close(&cw);
            if (r < 0) break;
            reply_set_deferred_array(c, ch, cn);
        }
        stream_gwalk_close(&w);
        if (r == 0 && (uint64_t)nc != g.consumers) r = LSM_ECORRUPT;
        if (r < 0) break;
    }
    if (r == 0) r = coll_iter_status(&ci);
    if (r == 0 && (uint64_t)ng != s->ngroups) r = LSM_ECORRUPT;
    coll_iter_close(&ci);
    stream_gwalk_close(&w);
    stream_gwalk_close(&cw);
    return r < 0 ? r : 0;
}

/* XINFO STREAM key [FULL [COUNT count]] */
static void cmd_xinfo_stream(client *c) {
    int full = 1;
    long long count = 10;
    int optc = c->argc - 3;
    stream s;
    reply_mark mk;
    client_reply_mark(c, &mk);
    int r = 0;
    if (xinfo_open(c, &s) < 0) goto out;
    if (optc == 0) {
        full = 0;
    } else {
        if (optc != 1 && optc != 3) {
            reply_subcommand_syntax_error(c);
            goto out;
        }
        if (!arg_is(&c->argv[3], "full")) {
            reply_subcommand_syntax_error(c);
            goto out;
        }
        if (optc == 3) {
            if (!arg_is(&c->argv[4], "count")) {
                reply_subcommand_syntax_error(c);
                goto out;
            }
            if (!parse_ll(c, &c->argv[5], &count, NULL)) goto out;
            if (count < 0) count = 10;
        }
    }
    long long radix_nodes;
    if ((r = stream_radix_nodes(&s, &radix_nodes))) goto fail;
    reply_map(c, full ? 9 : 10);
    reply_bulk_cstr(c, "length");
    reply_int(c, s.c.count);
    reply_bulk_cstr(c, "radix-tree-keys");
    reply_int(c, (long long)s.nnodes);
    reply_bulk_cstr(c, "radix-tree-nodes");
    reply_int(c, radix_nodes);
    reply_bulk_cstr(c, "last-generated-id");
    reply_id(c, &s.last_id);
    reply_bulk_cstr(c, "max-deleted-entry-id");
    reply_id(c, &s.max_deleted);
    reply_bulk_cstr(c, "entries-added");
    reply_int(c, (long long)s.entries_added);
    reply_bulk_cstr(c, "recorded-first-entry-id");
    reply_id(c, &s.first_id);
    if (!full) {
        reply_bulk_cstr(c, "groups");
        reply_int(c, (long long)s.ngroups);
        reply_bulk_cstr(c, "first-entry");
        long n = reply_range(c, &s, &ID_MIN, &ID_MAX, 1, 0, 1);
        if (n < 0) {
            r = (int)n;
            goto fail;
        }
        if (!n) reply_null(c);
        reply_bulk_cstr(c, "last-entry");
        n = reply_range(c, &s, &ID_MIN, &ID_MAX, 1, 1, 1);
        if (n < 0) {
            r = (int)n;
            goto fail;
        }
        if (!n) reply_null(c);
        goto out;
    }
    reply_bulk_cstr(c, "entries");
    long n = reply_range(c, &s, &ID_MIN, &ID_MAX, count, 0, 0);
    if (n < 0) {
        r = (int)n;
        goto fail;
    }
    reply_bulk_cstr(c, "groups");
    if ((r = xinfo_full_groups(c, &s, count))) goto fail;
    goto out;
fail:
    client_reply_truncate(c, &mk);
    keyspace_reply_engine_error(c, r);
out:
    sval_trim();
    stream_close(&s);
}

/* ---- table ------------------------------------------------------------------------------------------ */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define B CMD_BLOCKING

/* subcommands in the order Redis 7.0 lists them (COMMAND INFO / DOCS) */
static const struct command xgroup_subcommands[] = {
    {"create", xgroup_generic, -5, W | D, 2, 2, 1, "stream", "Creates a consumer group.", "5.0.0",
     "key group id|$ [MKSTREAM] [ENTRIESREAD entries-read]", NULL},
    {"delconsumer", xgroup_generic, 5, W, 2, 2, 1, "stream", "Deletes a consumer from a consumer group.",
     "5.0.0", "key group consumer", NULL},
    {"createconsumer", xgroup_generic, 5, W | D, 2, 2, 1, "stream",
     "Creates a consumer in a consumer group.", "6.2.0", "key group consumer", NULL},
    {"destroy", xgroup_generic, 4, W, 2, 2, 1, "stream", "Destroys a consumer group.", "5.0.0",
     "key group", NULL},
    {"setid", xgroup_generic, -5, W, 2, 2, 1, "stream", "Sets the last-delivered ID of a consumer group.",
     "5.0.0", "key group id|$ [ENTRIESREAD entries-read]", NULL},
    {"help", cmd_xgroup_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "stream",
     "Returns helpful text about the different subcommands.", "5.0.0", "", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

static const struct command xinfo_subcommands[] = {
    {"stream", cmd_xinfo_stream, -3, R, 2, 2, 1, "stream", "Returns information about a stream.",
     "5.0.0", "key [FULL [COUNT count]]", NULL},
    {"help", cmd_xinfo_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "stream",
     "Returns helpful text about the different subcommands.", "5.0.0", "", NULL},
    {"groups", cmd_xinfo_groups, 3, R, 2, 2, 1, "stream",
     "Returns a list of the consumer groups of a stream.", "5.0.0", "key", NULL},
    {"consumers", cmd_xinfo_consumers, 4, R, 2, 2, 1, "stream",
     "Returns a list of the consumers in a consumer group.", "5.0.0", "key group", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

const struct command stream_commands[] = {
    {"xadd", cmd_xadd, -5, W | D | F, 1, 1, 1, "stream",
     "Appends a new message to a stream. Creates the key if it doesn't exist.", "5.0.0",
     "key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]",
     NULL},
    {"xlen", cmd_xlen, 2, R | F, 1, 1, 1, "stream", "Return the number of messages in a stream.",
     "5.0.0", "key", NULL},
    {"xrange", cmd_xrange, -4, R, 1, 1, 1, "stream",
     "Returns the messages from a stream within a range of IDs.", "5.0.0",
     "key start end [COUNT count]", NULL},
    {"xrevrange", cmd_xrevrange, -4, R, 1, 1, 1, "stream",
     "Returns the messages from a stream within a range of IDs in reverse order.", "5.0.0",
     "key end start [COUNT count]", NULL},
    {"xdel", cmd_xdel, -3, W | F, 1, 1, 1, "stream",
     "Returns the number of messages after removing them from a stream.", "5.0.0",
     "key id [id ...]", NULL},
    {"xtrim", cmd_xtrim, -4, W, 1, 1, 1, "stream",
     "Deletes messages from the beginning of a stream.", "5.0.0",
     "key MAXLEN|MINID [=|~] threshold [LIMIT count]", NULL},
    {"xread", cmd_xread, -4, R | B, 0, 0, 0, "stream",
     "Returns messages from multiple streams with IDs greater than the ones requested. Blocks "
     "until a message is available otherwise.",
     "5.0.0", "[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]", NULL},
    {"xreadgroup", cmd_xreadgroup, -7, W | B, 0, 0, 0, "stream",
     "Returns new or historical messages from a stream for a consumer in a group. Blocks until a "
     "message is available otherwise.",
     "5.0.0",
     "GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]",
     NULL},
    {"xsetid", cmd_xsetid, -3, W | D | F, 1, 1, 1, "stream",
     "An internal command for replicating stream values.", "5.0.0",
     "key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]", NULL},
    {"xgroup", NULL, -2, 0, 0, 0, 0, "stream", "A container for consumer groups commands.", "5.0.0",
     "", xgroup_subcommands},
    {"xack", cmd_xack, -4, W | F, 1, 1, 1, "stream",
     "Returns the number of messages that were successfully acknowledged by the consumer group "
     "member of a stream.",
     "5.0.0", "key group id [id ...]", NULL},
    {"xpending", cmd_xpending, -3, R, 1, 1, 1, "stream",
     "Returns the information and entries from a stream consumer group's pending entries list.",
     "5.0.0", "key group [[IDLE min-idle-time] start end count [consumer]]", NULL},
    {"xclaim", cmd_xclaim, -6, W | F, 1, 1, 1, "stream",
     "Changes, or acquires, ownership of a message in a consumer group, as if the message was "
     "delivered a consumer group member.",
     "5.0.0",
     "key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] "
     "[RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]",
     NULL},
    {"xautoclaim", cmd_xautoclaim, -6, W | F, 1, 1, 1, "stream",
     "Changes, or acquires, ownership of messages in a consumer group, as if the messages were "
     "delivered to as consumer group member.",
     "6.2.0", "key group consumer min-idle-time start [COUNT count] [JUSTID]", NULL},
    {"xinfo", NULL, -2, 0, 0, 0, 0, "stream", "A container for stream introspection commands.",
     "5.0.0", "", xinfo_subcommands},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

const struct command_keyword stream_keyword_commands[] = {
    {"xread", "STREAMS", 1, -1, 1, 2, "RO access", xread_getkeys},
    {"xreadgroup", "STREAMS", 4, -1, 1, 2, "RO access", xread_getkeys},
    {NULL, NULL, 0, 0, 0, 0, NULL, NULL},
};
