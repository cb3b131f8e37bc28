/* cmd_hash.c - hash commands (Redis 7.0 semantics, arity, flags, error strings, RESP2/RESP3
 * reply types) over types/hash.h. Every write command validates its arguments first, then
 * writes inside one engine write group (keyspace_begin .. keyspace_commit) and replies after the
 * commit; reads stream members from an engine iterator (nothing is loaded whole). */
#include "client.h"
#include "cmd_coll.h"
#include "command.h"
#include "config.h"
#include "keyspace.h"
#include "notify.h"
#include "server.h"
#include "types/hash.h"
#include "util.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Opens argv key as a hash: 1 exists, 0 absent, -1 replied (wrong type or engine error). The
 * coll must be closed by the caller whatever the result. */
static int hopen(client *c, coll *h, const cmdarg *k, int flags) {
    return cmd_coll_opened(c, hash_open(h, c->db, k->ptr, k->len, flags));
}

/* A keyspace event (notify.h) for the command's key argv[1]. */
static void event(client *c, int type, const char *name) {
    notify_keyspace_event(type, name, c->db, c->argv[1].ptr, c->argv[1].len);
}

/* An engine error after writes: drop them all and reply the error. */
static void hfail(client *c, int r) {
    keyspace_abort();
    keyspace_reply_engine_error(c, r);
}

/* Saves the hash and commits the command's writes: 0, or -1 replied. */
static int hsave_commit(client *c, coll *h) {
    int r = hash_save(h);
    if (r) {
        hfail(c, r);
        return -1;
    }
    r = keyspace_commit();
    if (r) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return 0;
}

static lsm_buf hval;   /* values read by handlers: amortized */
static lsm_buf hfield; /* fields read from the random-pick index */
static void hval_trim(void) {
    if (hval.cap > (1u << 20)) lsm_buf_free(&hval);
    if (hfield.cap > (64u << 10)) lsm_buf_free(&hfield);
}

/* ---- HSET / HMSET / HSETNX ---------------------------------------------------------------- */

static void hset_generic(client *c, int is_hmset) {
    if (c->argc % 2 == 1) {
        reply_wrong_arity(c, is_hmset ? "hmset" : "hset");
        return;
    }
    coll h;
    int r = hopen(c, &h, &c->argv[1], 0);
    if (r < 0) goto out;
    keyspace_begin();
    if ((r = hash_create(&h))) {
        hfail(c, r);
        goto out;
    }
    for (int i = 2; i < c->argc; i++) hash_check_length(&h, c->argv[i].len);
    long long created = 0;
    for (int i = 2; i < c->argc; i += 2) {
        r = hash_set(&h, c->argv[i].ptr, c->argv[i].len, c->argv[i + 1].ptr, c->argv[i + 1].len,
                     -1);
        if (r < 0) {
            hfail(c, r);
            goto out;
        }
        created += r;
    }
    if (hsave_commit(c, &h)) goto out;
    if (is_hmset) reply_ok(c);
    else reply_int(c, created);
    event(c, NOTIFY_HASH, "hset"); /* after the reply, as Redis */
out:
    coll_close(&h);
}

static void cmd_hset(client *c) { hset_generic(c, 0); }
static void cmd_hmset(client *c) { hset_generic(c, 1); }

static void cmd_hsetnx(client *c) {
    coll h;
    int r = hopen(c, &h, &c->argv[1], 0);
    if (r < 0) goto out;
    if (r == 1) {
        r = hash_exists(&h, c->argv[2].ptr, c->argv[2].len);
        if (r < 0) {
            keyspace_reply_engine_error(c, r);
            goto out;
        }
        if (r == 1) {
            reply_int(c, 0);
            goto out;
        }
    }
    keyspace_begin();
    if ((r = hash_create(&h))) {
        hfail(c, r);
        goto out;
    }
    hash_check_length(&h, c->argv[2].len);
    hash_check_length(&h, c->argv[3].len);
    r = hash_set(&h, c->argv[2].ptr, c->argv[2].len, c->argv[3].ptr, c->argv[3].len, 0);
    if (r < 0) {
        hfail(c, r);
        goto out;
    }
    if (hsave_commit(c, &h)) goto out;
    reply_int(c, 1);
    event(c, NOTIFY_HASH, "hset");
out:
    coll_close(&h);
}

/* ---- reads of single fields --------------------------------------------------------------- */

static void cmd_hget(client *c) {
    coll h;
    int r = hopen(c, &h, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) reply_null(c);
    if (r <= 0) goto out;
    r = hash_get(&h, c->argv[2].ptr, c->argv[2].len, &hval);
    if (r < 0) keyspace_reply_engine_error(c, r);
    else if (r == 0) reply_null(c);
    else reply_bulk(c, hval.data, hval.len);
    hval_trim();
out:
    coll_close(&h);
}

static void cmd_hmget(client *c) {
    coll h;
    int r = hopen(c, &h, &c->argv[1], KS_LOOKUP_READ);
    if (r < 0) goto out;
    reply_mark mk;
    client_reply_mark(c, &mk);
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        r = hash_get(&h, c->argv[i].ptr, c->argv[i].len, &hval);
        if (r < 0) {
            client_reply_truncate(c, &mk);
            keyspace_reply_engine_error(c, r);
            break;
        }
        if (r == 0) reply_null(c);
        else reply_bulk(c, hval.data, hval.len);
    }
    hval_trim();
out:
    coll_close(&h);
}

static void cmd_hlen(client *c) {
    coll h;
    int r = hopen(c, &h, &c->argv[1], KS_LOOKUP_READ);
    if (r >= 0) reply_int(c, r ? h.count : 0);
    coll_close(&h);
}

static void cmd_hstrlen(client *c) {
    coll h;
    int r = hopen(c, &h, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) reply_int(c, 0);
    if (r <= 0) goto out;
    r = hash_get(&h, c->argv[2].ptr, c->argv[2].len, &hval);
    if (r < 0) keyspace_reply_engine_error(c, r);
    else reply_int(c, r ? (long long)hval.len : 0);
    hval_trim();
out:
    coll_close(&h);
}

static void cmd_hexists(client *c) {
    coll h;
    int r = hopen(c, &h, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) reply_int(c, 0);
    if (r <= 0) goto out;
    r = hash_exists(&h, c->argv[2].ptr, c->argv[2].len);
    if (r < 0) keyspace_reply_engine_error(c, r);
    else reply_int(c, r);
out:
    coll_close(&h);
}

/* ---- HDEL --------------------------------------------------------------------------------- */

static void cmd_hdel(client *c) {
    coll h;
    int r = hopen(c, &h, &c->argv[1], 0);
    if (r == 0) reply_int(c, 0);
    if (r <= 0) goto out;
    keyspace_begin();
    long long deleted = 0;
    for (int i = 2; i < c->argc && h.count > 0; i++) {
        r = hash_del(&h, c->argv[i].ptr, c->argv[i].len);
        if (r < 0) {
            hfail(c, r);
            goto out;
        }
        deleted += r;
    }
    if (deleted && hsave_commit(c, &h)) goto out;
    if (deleted) {
        event(c, NOTIFY_HASH, "hdel");
        if (!h.exists) event(c, NOTIFY_GENERIC, "del"); /* the last field went */
    }
    reply_int(c, deleted);
out:
    coll_close(&h);
}

/* ---- HKEYS / HVALS / HGETALL -------------------------------------------------------------- */

#define HG_KEYS 1
#define HG_VALS 2

static void hgetall_generic(client *c, int what) {
    coll h;
    int both = what == (HG_KEYS | HG_VALS);
    int r = hopen(c, &h, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) {
        if (both) reply_map(c, 0);
        else reply_array(c, 0);
    }
    if (r <= 0) goto out;
    reply_mark mk;
    client_reply_mark(c, &mk);
    long n = (long)h.count;
    if (both) reply_map(c, n);
    else reply_array(c, n);
    coll_iter it;
    long got = 0;
    r = coll_iter_seek(&it, &h, COLL_SUB_MEMBER, NULL, 0);
    for (; r == 0 && coll_iter_valid(&it); coll_iter_next(&it)) {
        size_t l;
        const char *p;
        if (++got > n) break;
        if (what & HG_KEYS) {
            p = coll_iter_member(&it, &l);
            reply_bulk(c, p, l);
        }
        if (what & HG_VALS) {
            p = coll_iter_value(&it, &l);
            if (!(p = hash_value(&h, p, l, &l))) {
                r = LSM_ECORRUPT;
                break;
            }
            reply_bulk(c, p, l);
        }
    }
    if (r == 0) r = coll_iter_status(&it);
    if (r == 0 && got != n) r = LSM_ECORRUPT; /* the count and the members disagree */
    coll_iter_close(&it);
    if (r) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, r);
    }
out:
    coll_close(&h);
}

static void cmd_hkeys(client *c) { hgetall_generic(c, HG_KEYS); }
static void cmd_hvals(client *c) { hgetall_generic(c, HG_VALS); }
static void cmd_hgetall(client *c) { hgetall_generic(c, HG_KEYS | HG_VALS); }

/* ---- HINCRBY / HINCRBYFLOAT --------------------------------------------------------------- */

static void cmd_hincrby(client *c) {
    long long incr, value = 0;
    if (!string2ll(c->argv[3].ptr, c->argv[3].len, &incr)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    coll h;
    int r = hopen(c, &h, &c->argv[1], 0), exists = 0;
    if (r < 0) goto out;
    if (r == 1) {
        exists = hash_get(&h, c->argv[2].ptr, c->argv[2].len, &hval);
        if (exists < 0) {
            keyspace_reply_engine_error(c, exists);
            goto out;
        }
        if (exists && !string2ll(hval.data, hval.len, &value)) {
            reply_error(c, "ERR hash value is not an integer");
            goto out;
        }
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        reply_error(c, ERR_OVERFLOW);
        goto out;
    }
    value += incr;
    char buf[32];
    int n = ll2string(buf, sizeof(buf), value);
    keyspace_begin();
    if ((r = hash_create(&h)) ||
        (r = hash_set(&h, c->argv[2].ptr, c->argv[2].len, buf, (size_t)n, exists)) < 0) {
        hfail(c, r);
        goto out;
    }
    if (hsave_commit(c, &h)) goto out;
    reply_int(c, value);
    event(c, NOTIFY_HASH, "hincrby");
out:
    hval_trim();
    coll_close(&h);
}

static void cmd_hincrbyfloat(client *c) {
    long double incr, value = 0;
    if (!string2ld(c->argv[3].ptr, c->argv[3].len, &incr)) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        reply_error(c, "ERR value is NaN or Infinity");
        return;
    }
    coll h;
    int r = hopen(c, &h, &c->argv[1], 0), exists = 0;
    if (r < 0) goto out;
    if (r == 1) {
        exists = hash_get(&h, c->argv[2].ptr, c->argv[2].len, &hval);
        if (exists < 0) {
            keyspace_reply_engine_error(c, exists);
            goto out;
        }
        if (exists && !string2ld(hval.data, hval.len, &value)) {
            reply_error(c, "ERR hash value is not a float");
            goto out;
        }
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        goto out;
    }
    char buf[5200];
    int n = ld2string(buf, sizeof(buf), value);
    if (n <= 0) {
        reply_error(c, ERR_NOT_FLOAT);
        goto out;
    }
    keyspace_begin();
    if ((r = hash_create(&h)) ||
        (r = hash_set(&h, c->argv[2].ptr, c->argv[2].len, buf, (size_t)n, exists)) < 0) {
        hfail(c, r);
        goto out;
    }
    if (hsave_commit(c, &h)) goto out;
    reply_bulk(c, buf, (size_t)n);
    event(c, NOTIFY_HASH, "hincrbyfloat");
out:
    hval_trim();
    coll_close(&h);
}

/* ---- HRANDFIELD ----------------------------------------------------------------------------- */

/* Output limit reached (Redis stops a long random reply when the client is being closed). */
static int reply_over_limit(client *c) {
    return config.obuf_hard > 0 && client_reply_pending(c) > (size_t)config.obuf_hard;
}

/* One field (and value) of an HRANDFIELD reply. v NULL: read the value. */
static int hrand_reply_one(client *c, coll *h, int withvalues, const char *m, size_t ml,
                           const char *v, size_t vl) {
    if (withvalues && c->resp > 2) reply_array(c, 2);
    reply_bulk(c, m, ml);
    if (!withvalues) return 0;
    if (!v) {
        int r = hash_get(h, m, ml, &hval);
        if (r < 0) return r;
        if (r == 0) return LSM_ECORRUPT; /* the index names a field that is gone */
        v = hval.data;
        vl = hval.len;
    }
    reply_bulk(c, v, vl);
    return 0;
}

static void hrandfield_count(client *c, long long l, int withvalues) {
    coll h;
    int r = hopen(c, &h, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) reply_array(c, 0);
    if (r <= 0) {
        coll_close(&h);
        return;
    }
    unsigned long long count = l >= 0 ? (unsigned long long)l : (unsigned long long)-l;
    unsigned long long size = (unsigned long long)h.count;
    int uniq = l >= 0;
    reply_mark mk;
    client_reply_mark(c, &mk);
    coll_rand rnd;
    memset(&rnd, 0, sizeof(rnd));
    coll_iter it;
    memset(&it, 0, sizeof(it));
    coll_u64set seen;
    memset(&seen, 0, sizeof(seen));
    int pairs2 = withvalues && c->resp == 2;
    if (count == 0) {
        reply_array(c, 0);
        goto out;
    }
    if (!uniq || count == 1) {
        /* with repeats: independent picks */
        reply_array(c, (long)(pairs2 ? count * 2 : count));
        if ((r = coll_rand_open(&rnd, &h, count > 1 ? (long)(count > LONG_MAX ? LONG_MAX : count)
                                                    : 1, withvalues)))
            goto out;
        for (unsigned long long i = 0; i < count; i++) {
            const char *m, *v;
            size_t ml, vl;
            r = coll_rand_pick(&rnd, &m, &ml, &v, &vl);
            if (r == 0) r = LSM_ECORRUPT;
            if (r < 0) goto out;
            if ((r = hrand_reply_one(c, &h, withvalues, m, ml, v, vl))) goto out;
            if (reply_over_limit(c)) break;
        }
        r = 0;
        goto out;
    }
    unsigned long long n = count < size ? count : size;
    reply_array(c, (long)(pairs2 ? n * 2 : n));
    if (count >= size || count * 3 > size || !coll_rand_indexed(&h)) {
        /* the whole hash, or a uniform selection of count fields in one ordered walk */
        unsigned long long need = n, left = size;
        r = coll_iter_seek(&it, &h, COLL_SUB_MEMBER, NULL, 0);
        for (; r == 0 && need && coll_iter_valid(&it); coll_iter_next(&it), left--) {
            if (left == 0) break;
            if (need < left && coll_random_below(left) >= need) continue;
            size_t ml, vl;
            const char *m = coll_iter_member(&it, &ml);
            const char *v = coll_iter_value(&it, &vl);
            if (!(v = hash_value(&h, v, vl, &vl))) {
                r = LSM_ECORRUPT;
                break;
            }
            if ((r = hrand_reply_one(c, &h, withvalues, m, ml, v, vl))) goto out;
            need--;
        }
        if (r == 0) r = coll_iter_status(&it);
        if (r == 0 && need) r = LSM_ECORRUPT;
        goto out;
    }
    /* a few fields of a big hash: distinct uniform ordinals of its random-pick index */
    for (unsigned long long added = 0; added < count;) {
        uint64_t ord = coll_random_below(size);
        r = coll_u64set_add(&seen, ord);
        if (r < 0) goto out;
        if (r == 0) continue;
        r = coll_rand_member_at(&h, ord, &hfield);
        if (r == 0) r = LSM_ECORRUPT;
        if (r < 0) goto out;
        if ((r = hrand_reply_one(c, &h, withvalues, hfield.data, hfield.len, NULL, 0))) goto out;
        added++;
    }
    r = 0;
out:
    if (r < 0) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, r);
    }
    coll_u64set_free(&seen);
    coll_iter_close(&it);
    coll_rand_close(&rnd);
    hval_trim();
    coll_close(&h);
}

static void cmd_hrandfield(client *c) {
    if (c->argc >= 3) {
        long long l;
        if (!cmd_coll_range_long(c, &c->argv[2], -LLONG_MAX, LLONG_MAX, NULL, &l)) return;
        int withvalues = 0;
        if (c->argc > 4 || (c->argc == 4 && strcasecmp(c->argv[3].ptr, "withvalues"))) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        if (c->argc == 4) {
            withvalues = 1;
            if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
                reply_error(c, "ERR value is out of range");
                return;
            }
        }
        hrandfield_count(c, l, withvalues);
        return;
    }
    coll h;
    int r = hopen(c, &h, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) reply_null(c);
    if (r <= 0) {
        coll_close(&h);
        return;
    }
    coll_rand rnd;
    const char *m;
    size_t ml;
    r = coll_rand_open(&rnd, &h, 1, 0);
    if (r == 0) r = coll_rand_pick(&rnd, &m, &ml, NULL, NULL);
    if (r == 0) r = LSM_ECORRUPT;
    if (r < 0) keyspace_reply_engine_error(c, r);
    else reply_bulk(c, m, ml);
    coll_rand_close(&rnd);
    coll_close(&h);
}

/* ---- HSCAN ---------------------------------------------------------------------------------- */

static void cmd_hscan(client *c) { cmd_coll_scan_command(c, KTYPE_HASH, 1); }

/* ---- table ---------------------------------------------------------------------------------- */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM

const struct command hash_commands[] = {
    {"hset", cmd_hset, -4, W | D | F, 1, 1, 1, "hash",
     "Creates or modifies the value of a field in a hash.", "2.0.0",
     "key field value [field value ...]", NULL},
    {"hsetnx", cmd_hsetnx, 4, W | D | F, 1, 1, 1, "hash",
     "Sets the value of a field in a hash only when the field doesn't exist.", "2.0.0",
     "key field value", NULL},
    {"hget", cmd_hget, 3, R | F, 1, 1, 1, "hash", "Returns the value of a field in a hash.",
     "2.0.0", "key field", NULL},
    {"hmget", cmd_hmget, -3, R | F, 1, 1, 1, "hash",
     "Returns the values of all fields in a hash.", "2.0.0", "key field [field ...]", NULL},
    {"hmset", cmd_hmset, -4, W | D | F, 1, 1, 1, "hash",
     "Sets the values of multiple fields.", "2.0.0", "key field value [field value ...]", NULL},
    {"hdel", cmd_hdel, -3, W | F, 1, 1, 1, "hash",
     "Deletes one or more fields and their values from a hash. Deletes the hash if no fields "
     "remain.",
     "2.0.0", "key field [field ...]", NULL},
    {"hlen", cmd_hlen, 2, R | F, 1, 1, 1, "hash", "Returns the number of fields in a hash.",
     "2.0.0", "key", NULL},
    {"hstrlen", cmd_hstrlen, 3, R | F, 1, 1, 1, "hash",
     "Returns the length of the value of a field.", "3.2.0", "key field", NULL},
    {"hexists", cmd_hexists, 3, R | F, 1, 1, 1, "hash",
     "Determines whether a field exists in a hash.", "2.0.0", "key field", NULL},
    {"hkeys", cmd_hkeys, 2, R, 1, 1, 1, "hash", "Returns all fields in a hash.", "2.0.0", "key",
     NULL},
    {"hvals", cmd_hvals, 2, R, 1, 1, 1, "hash", "Returns all values in a hash.", "2.0.0", "key",
     NULL},
    {"hgetall", cmd_hgetall, 2, R, 1, 1, 1, "hash",
     "Returns all fields and values in a hash.", "2.0.0", "key", NULL},
    {"hincrby", cmd_hincrby, 4, W | D | F, 1, 1, 1, "hash",
     "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if "
     "the field doesn't exist.",
     "2.0.0", "key field increment", NULL},
    {"hincrbyfloat", cmd_hincrbyfloat, 4, W | D | F, 1, 1, 1, "hash",
     "Increments the floating point value of a field by a number. Uses 0 as initial value if the "
     "field doesn't exist.",
     "2.6.0", "key field increment", NULL},
    {"hrandfield", cmd_hrandfield, -2, R, 1, 1, 1, "hash",
     "Returns one or more random fields from a hash.", "6.2.0", "key [count [WITHVALUES]]",
     NULL},
    {"hscan", cmd_hscan, -3, R, 1, 1, 1, "hash",
     "Iterates over fields and values of a hash.", "2.8.0",
     "key cursor [MATCH pattern] [COUNT count]", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
