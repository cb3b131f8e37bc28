/* cmd_hll.c - HyperLogLog commands (Redis 7.0 semantics, arity, flags and error strings):
 * PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
 * An HLL is a plain string value in Redis's own representation (hyperloglog.h): a value read
 * from redis-server with GET and SET here works unchanged, and every write here leaves the
 * bytes redis-server would hold: PFADD/PFMERGE as Redis updates the value in place, and
 * PFCOUNT of one key storing the cardinality it computed in the value's header, as Redis does.
 * Each write keeps the key's TTL, is one keyspace commit, and marks the value raw (Redis's
 * dbUnshareStringValue makes it a raw string: OBJECT ENCODING "raw"). */
#include "client.h"
#include "command.h"
#include "config.h"
#include "hyperloglog.h"
#include "keyspace.h"
#include "notify.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_NOT_HLL "WRONGTYPE Key is not a valid HyperLogLog string value."
#define ERR_HLL_CORRUPT "INVALIDOBJ Corrupted HLL object detected"

/* The value being modified, amortized across commands (at most a dense value, 12 KB, unless a
 * client stored a huge sparse one: then it is freed after the command). */
static hll work;

static void work_trim(void) {
    if (work.cap > (1u << 20)) hll_free(&work);
}

static size_t sparse_max(void) {
    return config.hll_sparse_max_bytes > 0 ? (size_t)config.hll_sparse_max_bytes : 0;
}

/* Replies the error of a negative hyperloglog.h result. */
static void reply_hll_error(client *c, int r) {
    if (r == HLL_NOMEM) keyspace_reply_engine_error(c, LSM_ENOMEM);
    else reply_error(c, ERR_HLL_CORRUPT);
}

/* Looks key up as Redis's lookupKey + isHLLObjectOrReply. Returns 1 found (a string that passes
 * the HLL header checks), 0 absent, -1 when an error was replied. */
static int hll_lookup(client *c, const cmdarg *k, lsm_buf *b, ks_value *v, int flags) {
    int r = keyspace_lookup(c->db, k->ptr, k->len, b, v, flags);
    if (r < 0) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    if (r == 0) return 0;
    if (v->type != KTYPE_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return -1;
    }
    if (!hll_is_valid(v->payload, v->plen)) {
        reply_error(c, ERR_NOT_HLL);
        return -1;
    }
    return 1;
}

/* Stores `work` as the value of k (old: its live value from a lookup in this command, or NULL),
 * keeping the TTL, and commits. Returns 0, or a negative LSM_E* code (nothing replied). */
static int hll_store(client *c, const cmdarg *k, const ks_value *old) {
    keyspace_begin();
    int r = keyspace_put_flags(c->db, k->ptr, k->len, old, KTYPE_STRING, KF_RAW,
                               old ? old->expire : 0, work.p, work.len);
    if (r) {
        keyspace_begin(); /* drop what was staged */
        return r;
    }
    return keyspace_commit();
}

/* PFADD key [element ...] -> 1 when the key was created or a register changed, else 0. */
static void cmd_pfadd(client *c) {
    const cmdarg *k = &c->argv[1];
    ks_value v;
    int found = hll_lookup(c, k, keyspace_buf(0), &v, 0);
    if (found < 0) return;
    int updated = 0, r;
    if (found) {
        r = hll_set_copy(&work, v.payload, v.plen);
    } else {
        r = hll_set_empty(&work);
        updated = 1;
    }
    if (r) {
        reply_hll_error(c, r);
        return;
    }
    for (int j = 2; j < c->argc; j++) {
        r = hll_add(&work, c->argv[j].ptr, c->argv[j].len, sparse_max());
        if (r == 1) {
            updated++;
        } else if (r < 0) {
            /* A corrupt sparse value: Redis has already updated it in place for the elements
             * before this one (and answers the error); keep those changes too, so that the
             * value reads the same. Out of memory: nothing is written. */
            if (r == HLL_CORRUPT && found &&
                (work.len != v.plen || memcmp(work.p, v.payload, v.plen) != 0)) {
                int w = hll_store(c, k, &v);
                if (w) {
                    keyspace_reply_engine_error(c, w);
                    work_trim();
                    return;
                }
            }
            reply_hll_error(c, r);
            work_trim();
            return;
        }
    }
    if (updated) {
        hll_cache_invalidate(work.p);
        r = hll_store(c, k, found ? &v : NULL);
        work_trim();
        if (r) {
            keyspace_reply_engine_error(c, r);
            return;
        }
        notify_keyspace_event(NOTIFY_STRING, "pfadd", c->db, k->ptr, k->len);
    }
    reply_int(c, updated ? 1 : 0);
}

/* PFCOUNT key [key ...] */
static void cmd_pfcount(client *c) {
    ks_value v;
    if (c->argc > 2) {
        /* the union: registers merged into a temporary, nothing written */
        static uint8_t max[HLL_REGISTERS];
        memset(max, 0, sizeof max);
        for (int j = 1; j < c->argc; j++) {
            int found = hll_lookup(c, &c->argv[j], keyspace_buf(0), &v, KS_LOOKUP_READ);
            if (found < 0) return;
            if (!found) continue; /* a missing key is an empty HLL */
            if (hll_merge(max, v.payload, v.plen)) {
                reply_error(c, ERR_HLL_CORRUPT);
                return;
            }
        }
        reply_int(c, (long long)hll_count_raw(max));
        return;
    }
    const cmdarg *k = &c->argv[1];
    int found = hll_lookup(c, k, keyspace_buf(0), &v, KS_LOOKUP_READ);
    if (found < 0) return;
    if (!found) {
        reply_int(c, 0);
        return;
    }
    uint64_t card;
    if (hll_cache_get(v.payload, &card)) {
        reply_int(c, (long long)card);
        return;
    }
    int invalid = 0;
    card = hll_count(v.payload, v.plen, &invalid);
    if (invalid) {
        reply_error(c, ERR_HLL_CORRUPT);
        return;
    }
    /* As Redis: the value keeps the cardinality (PFCOUNT is a read command; the stored cache
     * only saves the next count, so a failure to write it changes no reply). */
    if (hll_set_copy(&work, v.payload, v.plen) == 0) {
        hll_cache_set(work.p, card);
        (void)hll_store(c, k, &v);
        work_trim();
    }
    reply_int(c, (long long)card);
}

/* PFMERGE destkey [sourcekey ...]: destkey is merged too (it is argv[1] of the source loop, as
 * in Redis). The result is dense when any input was dense, else the sparse destination gets
 * each register set in order (and may turn dense on the way), exactly as Redis builds it. */
static void cmd_pfmerge(client *c) {
    static uint8_t max[HLL_REGISTERS];
    memset(max, 0, sizeof max);
    int use_dense = 0;
    ks_value v;
    for (int j = 1; j < c->argc; j++) {
        int found = hll_lookup(c, &c->argv[j], keyspace_buf(0), &v, KS_LOOKUP_READ);
        if (found < 0) return;
        if (!found) continue;
        if (hll_encoding(v.payload) == HLL_DENSE) use_dense = 1;
        if (hll_merge(max, v.payload, v.plen)) {
            reply_error(c, ERR_HLL_CORRUPT);
            return;
        }
    }
    const cmdarg *k = &c->argv[1];
    int found = hll_lookup(c, k, keyspace_buf(0), &v, 0);
    if (found < 0) return;
    int r = found ? hll_set_copy(&work, v.payload, v.plen) : hll_set_empty(&work);
    if (!r && use_dense) r = hll_to_dense(&work);
    for (long j = 0; !r && j < HLL_REGISTERS; j++) {
        if (!max[j]) continue;
        int x = hll_set_register(&work, j, max[j], sparse_max());
        if (x == HLL_NOMEM) r = x; /* HLL_CORRUPT cannot happen: destkey was merged above */
    }
    if (r) {
        reply_hll_error(c, r);
        work_trim();
        return;
    }
    hll_cache_invalidate(work.p);
    r = hll_store(c, k, found ? &v : NULL);
    work_trim();
    if (r) {
        keyspace_reply_engine_error(c, r);
        return;
    }
    /* Redis publishes PFMERGE as a "pfadd" (a mass add) */
    notify_keyspace_event(NOTIFY_STRING, "pfadd", c->db, k->ptr, k->len);
    reply_ok(c);
}

/* PFDEBUG GETREG|DECODE|ENCODING|TODENSE key. As Redis, the key is looked up and checked before
 * the subcommand is; GETREG and TODENSE turn a sparse value dense and store it. */
static void cmd_pfdebug(client *c) {
    const char *sub = c->argv[1].ptr;
    const cmdarg *k = &c->argv[2];
    ks_value v;
    int found = hll_lookup(c, k, keyspace_buf(0), &v, 0);
    if (found < 0) return;
    if (!found) {
        reply_error(c, "ERR The specified key does not exist");
        return;
    }
    int enc = hll_encoding(v.payload);
    if (!strcasecmp(sub, "getreg") || !strcasecmp(sub, "todense")) {
        int getreg = !strcasecmp(sub, "getreg");
        const uint8_t *regs = (const uint8_t *)v.payload + HLL_HDR_SIZE;
        if (enc == HLL_SPARSE) {
            int r = hll_set_copy(&work, v.payload, v.plen);
            if (!r) r = hll_to_dense(&work);
            if (r) {
                reply_hll_error(c, r);
                return;
            }
            r = hll_store(c, k, &v);
            if (r) {
                keyspace_reply_engine_error(c, r);
                return;
            }
            regs = work.p + HLL_HDR_SIZE;
        }
        if (getreg) {
            reply_array(c, HLL_REGISTERS);
            for (long j = 0; j < HLL_REGISTERS; j++) reply_int(c, hll_dense_get(regs, j));
        } else {
            reply_int(c, enc == HLL_SPARSE ? 1 : 0);
        }
    } else if (!strcasecmp(sub, "decode")) {
        if (enc != HLL_SPARSE) {
            reply_error(c, "ERR HLL encoding is not sparse");
            return;
        }
        size_t n;
        char *s = hll_sparse_decode(v.payload, v.plen, &n);
        if (!s) {
            keyspace_reply_engine_error(c, LSM_ENOMEM);
            return;
        }
        reply_bulk(c, s, n);
        free(s);
    } else if (!strcasecmp(sub, "encoding")) {
        reply_simple(c, enc == HLL_DENSE ? "dense" : "sparse");
    } else {
        /* built here, not with reply_errorf: the name may be longer than its buffer */
        static const char pre[] = "ERR Unknown PFDEBUG subcommand '";
        size_t sl = strlen(sub);
        char *msg = malloc(sizeof pre + sl + 1);
        if (!msg) {
            keyspace_reply_engine_error(c, LSM_ENOMEM);
            return;
        }
        memcpy(msg, pre, sizeof pre - 1);
        memcpy(msg + sizeof pre - 1, sub, sl);
        memcpy(msg + sizeof pre - 1 + sl, "'", 2);
        reply_error(c, msg);
        free(msg);
    }
    work_trim();
}

/* PFSELFTEST: hyperloglog.c's self test (a few seconds of CPU, as in Redis). */
static void cmd_pfselftest(client *c) {
    char err[256];
    if (hll_selftest(sparse_max(), err, sizeof err)) reply_error(c, err);
    else reply_ok(c);
}

/* ---- table (summaries are Redis 7.0.15's) ---------------------------------------------------- */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define A CMD_ADMIN

const struct command hll_commands[] = {
    {"pfadd", cmd_pfadd, -2, W | D | F, 1, 1, 1, "hyperloglog",
     "Adds the specified elements to the specified HyperLogLog.", "2.8.9",
     "key [element [element ...]]", NULL},
    {"pfcount", cmd_pfcount, -2, R, 1, -1, 1, "hyperloglog",
     "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
     "2.8.9", "key [key ...]", NULL},
    {"pfmerge", cmd_pfmerge, -2, W | D, 1, -1, 1, "hyperloglog",
     "Merge N different HyperLogLogs into a single one.", "2.8.9",
     "destkey sourcekey [sourcekey ...]", NULL},
    {"pfdebug", cmd_pfdebug, 3, W | D | A, 2, 2, 1, "hyperloglog",
     "Internal commands for debugging HyperLogLog values", "2.8.9", "subcommand key", NULL},
    {"pfselftest", cmd_pfselftest, 1, A, 0, 0, 0, "hyperloglog",
     "An internal command for testing HyperLogLog values", "2.8.9", "", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
