/* cmd_bitops.c - bitmap commands (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO) and
 * LCS, with Redis 7.0 semantics: arities, flags, reply types and error strings, including the
 * order in which Redis checks its arguments (which error wins when several apply).
 *
 * Bit numbering is Redis's: bit 0 is the most significant bit of the first byte. A string is
 * stored whole in the engine, so every bit write (SETBIT, BITFIELD SET/INCRBY, BITOP) is a
 * read-modify-write of the whole value: the new value is built in a scratch buffer and staged
 * with keyspace_put_flags(KF_RAW) (Redis modifies such strings in place, which leaves a raw
 * sds), then committed once. A write that changes nothing (same bits, same length) stores
 * nothing and does not touch WATCH, as Redis signals no modification then. */
#include "client.h"
#include "command.h"
#include "config.h"
#include "keyspace.h"
#include "notify.h"
#include "server.h"
#include "util.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_BIT_OFFSET "ERR bit offset is not an integer or out of range"
#define ERR_BIT_VALUE "ERR bit is not an integer or out of range"
#define ERR_BF_TYPE                                                                        \
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported " \
    "but i64 is."

/* proto-max-bulk-len (config), 512 MB by default: the largest string a bit write may address */
static long long bit_max_size(void) {
    return config.proto_max_bulk_len > 0 ? config.proto_max_bulk_len : 512ll * 1024 * 1024;
}

/* ---- lookups, commit, scratch ------------------------------------------------------------- */

/* Looks key up for a bit command. Returns 1 found (a string), 0 absent, -1 when an error was
 * replied (wrong type or engine error). */
static int bit_lookup(client *c, const cmdarg *k, lsm_buf *b, ks_value *v, int flags) {
    int r = keyspace_lookup(c->db, k->ptr, k->len, b, v, flags);
    if (r < 0) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    if (r == 1 && v->type != KTYPE_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return -1;
    }
    return r;
}

/* Drops what this command wrote and replies the engine error; returns -1 when r != 0. */
static int bit_stage_error(client *c, int r) {
    if (!r) return 0;
    keyspace_abort();
    keyspace_reply_engine_error(c, r);
    return -1;
}

static int bit_commit(client *c) {
    int r = keyspace_commit();
    if (r) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return 0;
}

/* Scratch buffer where new values are built; content is kept on growth (realloc). Freed after a
 * command when it grew past 1 MiB, so a one-off big bitmap does not stay resident. */
static lsm_buf bit_scratch;

static unsigned char *scratch_reserve(size_t n) {
    if (bit_scratch.cap < n || !bit_scratch.data) {
        size_t cap = n ? n : 1;
        char *p = realloc(bit_scratch.data, cap);
        if (!p) return NULL;
        bit_scratch.data = p;
        bit_scratch.cap = cap;
    }
    return (unsigned char *)bit_scratch.data;
}

static void scratch_trim(void) {
    if (bit_scratch.cap > (1u << 20)) lsm_buf_free(&bit_scratch);
}

/* ---- argument parsing --------------------------------------------------------------------- */

/* A bit offset as Redis's getBitOffsetFromArgument: a non-negative integer whose byte
 * (offset / 8) is below proto-max-bulk-len. With hash and bits > 0, "#n" means n * bits (the
 * multiplication wraps around 2^64 as Redis's does, so an absurd #n can land on a small
 * offset exactly as there). Returns 0, or -1 after replying the error. */
static int bit_offset_arg(client *c, const cmdarg *a, int hash, int bits, uint64_t *out) {
    int usehash = hash && bits > 0 && a->len > 0 && a->ptr[0] == '#';
    long long off;
    if (!string2ll(a->ptr + usehash, a->len - (size_t)usehash, &off)) {
        reply_error(c, ERR_BIT_OFFSET);
        return -1;
    }
    if (usehash) off = (long long)((unsigned long long)off * (unsigned long long)bits);
    if (off < 0 || (off >> 3) >= bit_max_size()) {
        reply_error(c, ERR_BIT_OFFSET);
        return -1;
    }
    *out = (uint64_t)off;
    return 0;
}

static int arg_ll(const cmdarg *a, long long *v) { return string2ll(a->ptr, a->len, v); }

/* BYTE / BIT unit argument (compared as a C string, as Redis): 0 byte, 1 bit, -1 other. */
static int unit_arg(const cmdarg *a) {
    if (!strcasecmp(a->ptr, "bit")) return 1;
    if (!strcasecmp(a->ptr, "byte")) return 0;
    return -1;
}

/* Redis's range rules for BITCOUNT/BITPOS over a string of len bytes: start/end in bytes (or
 * bits when isbit), negative counting from the end, clamped into the string. Returns 1 with
 * the inclusive absolute bit range in *sb..*eb, or 0 when the range is empty. */
static int bit_range(long long start, long long end, long long len, int isbit, uint64_t *sb,
                     uint64_t *eb) {
    long long tot = isbit ? len * 8 : len;
    if (start < 0) start += tot;
    if (end < 0) end += tot;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= tot) end = tot - 1;
    if (start > end) return 0;
    *sb = isbit ? (uint64_t)start : (uint64_t)start * 8;
    *eb = isbit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    return 1;
}

/* ---- bit scanning ------------------------------------------------------------------------- */

/* Mask of the bits of byte sb/8 at or after bit sb, and of byte eb/8 at or before bit eb. */
static unsigned char first_mask(uint64_t sb) { return (unsigned char)(0xffu >> (sb & 7)); }
static unsigned char last_mask(uint64_t eb) { return (unsigned char)(0xffu << (7 - (eb & 7))); }

/* Number of set bits in the inclusive bit range sb..eb of p (within the string). */
static long long bit_count_range(const unsigned char *p, uint64_t sb, uint64_t eb) {
    uint64_t b0 = sb >> 3, b1 = eb >> 3;
    if (b0 == b1) return __builtin_popcount(p[b0] & first_mask(sb) & last_mask(eb));
    long long n = __builtin_popcount(p[b0] & first_mask(sb)) +
                  __builtin_popcount(p[b1] & last_mask(eb));
    uint64_t i = b0 + 1;
    for (; i + 8 <= b1; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        n += __builtin_popcountll(w);
    }
    for (; i < b1; i++) n += __builtin_popcount(p[i]);
    return n;
}

/* Absolute position of the first bit equal to bit in the inclusive range sb..eb, or -1. */
static long long bit_find(const unsigned char *p, uint64_t sb, uint64_t eb, int bit) {
    uint64_t b0 = sb >> 3, b1 = eb >> 3;
    unsigned char flip = bit ? 0 : 0xff; /* (byte ^ flip) has a 1 where a wanted bit is */
    uint64_t skip = bit ? 0 : UINT64_MAX;
    for (uint64_t i = b0; i <= b1;) {
        if (i > b0 && i + 8 <= b1) { /* a whole word strictly inside the range */
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w == skip) {
                i += 8;
                continue;
            }
        }
        unsigned char m = 0xff;
        if (i == b0) m &= first_mask(sb);
        if (i == b1) m &= last_mask(eb);
        unsigned x = (unsigned)((p[i] ^ flip) & m);
        if (x) return (long long)(i * 8) + (__builtin_clz(x) - (int)(sizeof(unsigned) * 8 - 8));
        i++;
    }
    return -1;
}

/* ---- SETBIT / GETBIT ---------------------------------------------------------------------- */

static void cmd_setbit(client *c) {
    uint64_t off;
    if (bit_offset_arg(c, &c->argv[2], 0, 0, &off)) return;
    long long on;
    if (!arg_ll(&c->argv[3], &on) || (on & ~1ll)) {
        reply_error(c, ERR_BIT_VALUE);
        return;
    }
    ks_value v;
    int r = bit_lookup(c, &c->argv[1], keyspace_buf(0), &v, 0);
    if (r < 0) return;
    size_t byte = (size_t)(off >> 3);
    int shift = 7 - (int)(off & 7);
    size_t oldlen = r == 1 ? v.plen : 0;
    int oldbit = byte < oldlen && (((unsigned char)v.payload[byte] >> shift) & 1);
    size_t newlen = byte + 1 > oldlen ? byte + 1 : oldlen;
    if (r == 1 && newlen == oldlen && oldbit == (int)on) { /* nothing changes */
        reply_int(c, oldbit);
        return;
    }
    unsigned char *p = scratch_reserve(newlen);
    if (!p) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    if (oldlen) memcpy(p, v.payload, oldlen);
    if (newlen > oldlen) memset(p + oldlen, 0, newlen - oldlen);
    p[byte] = (unsigned char)((p[byte] & ~(1u << shift)) | ((unsigned)on << shift));
    keyspace_begin();
    r = keyspace_put_flags(c->db, c->argv[1].ptr, c->argv[1].len, r == 1 ? &v : NULL,
                           KTYPE_STRING, KF_RAW, r == 1 ? v.expire : 0, p, newlen);
    scratch_trim();
    if (bit_stage_error(c, r)) return;
    if (bit_commit(c)) return;
    notify_keyspace_event(NOTIFY_STRING, "setbit", c->db, c->argv[1].ptr, c->argv[1].len);
    reply_int(c, oldbit);
}

static void cmd_getbit(client *c) {
    uint64_t off;
    if (bit_offset_arg(c, &c->argv[2], 0, 0, &off)) return;
    ks_value v;
    int r = bit_lookup(c, &c->argv[1], keyspace_buf(0), &v, KS_LOOKUP_READ);
    if (r < 0) return;
    size_t byte = (size_t)(off >> 3);
    int bit = r == 1 && byte < v.plen &&
              (((unsigned char)v.payload[byte] >> (7 - (int)(off & 7))) & 1);
    reply_int(c, bit);
}

/* ---- BITCOUNT / BITPOS -------------------------------------------------------------------- */

/* BITCOUNT key [start end [BYTE|BIT]]. As Redis, the key is looked up first: an absent key
 * answers 0 whatever the other arguments are. */
static void cmd_bitcount(client *c) {
    ks_value v;
    int r = bit_lookup(c, &c->argv[1], keyspace_buf(0), &v, KS_LOOKUP_READ);
    if (r < 0) return;
    if (r == 0) {
        reply_int(c, 0);
        return;
    }
    long long len = (long long)v.plen;
    uint64_t sb, eb;
    if (c->argc == 4 || c->argc == 5) {
        long long start, end;
        if (!arg_ll(&c->argv[2], &start) || !arg_ll(&c->argv[3], &end)) {
            reply_error(c, ERR_NOT_INT);
            return;
        }
        if (start < 0 && end < 0 && start > end) { /* checked before the unit, as Redis */
            reply_int(c, 0);
            return;
        }
        int isbit = 0;
        if (c->argc == 5 && (isbit = unit_arg(&c->argv[4])) < 0) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        if (!bit_range(start, end, len, isbit, &sb, &eb)) {
            reply_int(c, 0);
            return;
        }
    } else if (c->argc == 2) {
        if (len == 0) {
            reply_int(c, 0);
            return;
        }
        sb = 0;
        eb = (uint64_t)len * 8 - 1;
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    reply_int(c, bit_count_range((const unsigned char *)v.payload, sb, eb));
}

/* BITPOS key bit [start [end [BYTE|BIT]]]. An absent key is an infinite run of zeros. When no
 * bit is found: looking for 1 answers -1; looking for 0 answers the bit just past the range when
 * no end was given (the string is seen as zero-padded on the right), else -1. */
static void cmd_bitpos(client *c) {
    long long bit;
    if (!arg_ll(&c->argv[2], &bit)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if (bit != 0 && bit != 1) {
        reply_error(c, "ERR The bit argument must be 1 or 0.");
        return;
    }
    ks_value v;
    int r = bit_lookup(c, &c->argv[1], keyspace_buf(0), &v, KS_LOOKUP_READ);
    if (r < 0) return;
    if (r == 0) {
        reply_int(c, bit ? -1 : 0);
        return;
    }
    long long len = (long long)v.plen;
    int end_given = 0;
    uint64_t sb, eb;
    if (c->argc >= 4 && c->argc <= 6) {
        long long start, end;
        int isbit = 0;
        if (!arg_ll(&c->argv[3], &start)) {
            reply_error(c, ERR_NOT_INT);
            return;
        }
        if (c->argc == 6 && (isbit = unit_arg(&c->argv[5])) < 0) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        if (c->argc >= 5) {
            if (!arg_ll(&c->argv[4], &end)) {
                reply_error(c, ERR_NOT_INT);
                return;
            }
            end_given = 1;
        } else {
            end = len - 1; /* (the unit is bytes here) */
        }
        if (!bit_range(start, end, len, isbit, &sb, &eb)) {
            reply_int(c, -1);
            return;
        }
    } else if (c->argc == 3) {
        if (len == 0) {
            reply_int(c, -1);
            return;
        }
        sb = 0;
        eb = (uint64_t)len * 8 - 1;
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long pos = bit_find((const unsigned char *)v.payload, sb, eb, (int)bit);
    if (pos < 0 && bit == 0 && !end_given) pos = (long long)eb + 1;
    reply_int(c, pos);
}

/* ---- BITOP -------------------------------------------------------------------------------- */

enum { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

/* BITOP op destkey key [key ...]: missing sources are empty strings (zeros); the result is as
 * long as the longest source; an empty result deletes destkey. destkey is overwritten whatever
 * its type and loses its TTL (Redis's setKey). Replies the result length. */
static void cmd_bitop(client *c) {
    const char *opname = c->argv[1].ptr;
    int op;
    if (!strcasecmp(opname, "and")) op = BITOP_AND;
    else if (!strcasecmp(opname, "or")) op = BITOP_OR;
    else if (!strcasecmp(opname, "xor")) op = BITOP_XOR;
    else if (!strcasecmp(opname, "not")) op = BITOP_NOT;
    else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (op == BITOP_NOT && c->argc != 4) {
        reply_error(c, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    /* The result is folded source by source: res holds the operation over the sources seen so
     * far, zero beyond its length (missing bytes of a shorter source count as zeros). */
    lsm_buf *b = keyspace_buf(0);
    size_t reslen = 0;
    unsigned char *res = NULL;
    for (int j = 3; j < c->argc; j++) {
        ks_value v;
        int r = bit_lookup(c, &c->argv[j], b, &v, KS_LOOKUP_READ);
        if (r < 0) {
            scratch_trim();
            return;
        }
        size_t l = r == 1 ? v.plen : 0;
        const unsigned char *s = (const unsigned char *)(r == 1 ? v.payload : "");
        if (l > reslen || !res) {
            unsigned char *n = scratch_reserve(l > reslen ? l : reslen);
            if (!n) {
                scratch_trim();
                keyspace_reply_engine_error(c, LSM_ENOMEM);
                return;
            }
            res = n;
            if (l > reslen) {
                memset(res + reslen, 0, l - reslen);
                reslen = l;
            }
        }
        if (j == 3) {
            if (l) memcpy(res, s, l);
            if (op == BITOP_NOT)
                for (size_t i = 0; i < l; i++) res[i] = (unsigned char)~res[i];
            continue;
        }
        switch (op) {
        case BITOP_AND:
            for (size_t i = 0; i < l; i++) res[i] &= s[i];
            if (reslen > l) memset(res + l, 0, reslen - l);
            break;
        case BITOP_OR:
            for (size_t i = 0; i < l; i++) res[i] |= s[i];
            break;
        case BITOP_XOR:
            for (size_t i = 0; i < l; i++) res[i] ^= s[i];
            break;
        }
    }
    const cmdarg *dk = &c->argv[2];
    ks_value dv;
    int r = keyspace_lookup(c->db, dk->ptr, dk->len, keyspace_buf(1), &dv, 0);
    if (r < 0) {
        scratch_trim();
        keyspace_reply_engine_error(c, r);
        return;
    }
    keyspace_begin();
    int w = 0;
    if (reslen)
        w = keyspace_put_flags(c->db, dk->ptr, dk->len, r == 1 ? &dv : NULL, KTYPE_STRING, KF_RAW,
                               0, res, reslen);
    else if (r == 1)
        w = keyspace_remove(c->db, dk->ptr, dk->len, &dv);
    scratch_trim();
    if (bit_stage_error(c, w)) return;
    if (bit_commit(c)) return;
    if (reslen) notify_keyspace_event(NOTIFY_STRING, "set", c->db, dk->ptr, dk->len);
    else if (r == 1) notify_keyspace_event(NOTIFY_GENERIC, "del", c->db, dk->ptr, dk->len);
    reply_int(c, (long long)reslen);
}

/* ---- BITFIELD / BITFIELD_RO --------------------------------------------------------------- */

enum { BF_GET, BF_SET, BF_INCRBY };
enum { BF_WRAP, BF_SAT, BF_FAIL };

typedef struct bf_op {
    uint64_t offset;
    int64_t arg;  /* SET value or INCRBY increment */
    int opcode, owtype, bits, sign;
} bf_op;

/* Type "i<1..64>" or "u<1..63>" (the digits are read up to a NUL, as Redis). 0 or -1 replied. */
static int bf_type_arg(client *c, const cmdarg *a, int *sign, int *bits) {
    const char *p = a->ptr;
    long long n;
    if (p[0] == 'i') *sign = 1;
    else if (p[0] == 'u') *sign = 0;
    else {
        reply_error(c, ERR_BF_TYPE);
        return -1;
    }
    if (!string2ll(p + 1, strlen(p + 1), &n) || n < 1 || (*sign && n > 64) ||
        (!*sign && n > 63)) {
        reply_error(c, ERR_BF_TYPE);
        return -1;
    }
    *bits = (int)n;
    return 0;
}

/* Unsigned value of bits bits at bit offset off; bits past len read as zeros. */
static uint64_t bf_get_u(const unsigned char *p, size_t len, uint64_t off, int bits) {
    uint64_t v = 0;
    for (int j = 0; j < bits; j++, off++) {
        uint64_t byte = off >> 3;
        unsigned b = byte < len ? (p[byte] >> (7 - (off & 7))) & 1u : 0;
        v = (v << 1) | b;
    }
    return v;
}

static int64_t bf_get_s(const unsigned char *p, size_t len, uint64_t off, int bits) {
    uint64_t u = bf_get_u(p, len, off, bits);
    if (bits < 64 && (u >> (bits - 1)) & 1) u |= UINT64_MAX << bits; /* sign-extend */
    return (int64_t)u;
}

/* Writes the low bits bits of v at bit offset off (p must hold them). */
static void bf_set(unsigned char *p, uint64_t off, int bits, uint64_t v) {
    for (int j = 0; j < bits; j++, off++) {
        unsigned b = (unsigned)(v >> (bits - 1 - j)) & 1u;
        unsigned shift = 7 - (unsigned)(off & 7);
        p[off >> 3] = (unsigned char)((p[off >> 3] & ~(1u << shift)) | (b << shift));
    }
}

/* Whether value + incr leaves the range of a bits-wide unsigned integer (value is the stored
 * value for INCRBY; for SET it is the new value reinterpreted as unsigned, incr 0). Returns 0
 * when it fits, else nonzero with *limit = the result under owtype (WRAP: modulo 2^bits, SAT:
 * the bound crossed; FAIL: untouched). Same decisions as Redis's checkUnsignedBitfieldOverflow. */
static int bf_overflow_u(uint64_t value, int64_t incr, int bits, int owtype, uint64_t *limit) {
    uint64_t max = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    int over = value > max || (incr > 0 && incr > (int64_t)(max - value));
    int under = !over && incr < 0 && incr < (int64_t)(0 - value);
    if (!over && !under) return 0;
    if (owtype == BF_WRAP) {
        uint64_t r = value + (uint64_t)incr;
        if (bits < 64) r &= ~(UINT64_MAX << bits);
        *limit = r;
    } else if (owtype == BF_SAT) {
        *limit = over ? max : 0;
    }
    return 1;
}

/* Signed counterpart (Redis's checkSignedBitfieldOverflow): the same tests in the same order,
 * including its handling of values outside the range given to SET. */
static int bf_overflow_s(int64_t value, int64_t incr, int bits, int owtype, int64_t *limit) {
    int64_t max = bits == 64 ? INT64_MAX : (int64_t)(((uint64_t)1 << (bits - 1)) - 1);
    int64_t min = -max - 1;
    int64_t room_up = (int64_t)((uint64_t)max - (uint64_t)value);
    int64_t room_down = (int64_t)((uint64_t)min - (uint64_t)value);
    int over = value > max || (bits != 64 && incr > room_up) ||
               (value >= 0 && incr > 0 && incr > room_up);
    int under = !over && (value < min || (bits != 64 && incr < room_down) ||
                          (value < 0 && incr < 0 && incr < room_down));
    if (!over && !under) return 0;
    if (owtype == BF_WRAP) {
        uint64_t r = (uint64_t)value + (uint64_t)incr;
        if (bits < 64) {
            uint64_t high = UINT64_MAX << bits;
            r = (r >> (bits - 1)) & 1 ? r | high : r & ~high;
        }
        *limit = (int64_t)r;
    } else if (owtype == BF_SAT) {
        *limit = over ? max : min;
    }
    return 1;
}

typedef struct bf_result {
    long long v;
    int null;
} bf_result;

/* BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset incr]
 * [OVERFLOW WRAP|SAT|FAIL] ... Every operation is parsed (and every error reported) before the
 * key is touched; the results are computed, the value committed, and only then replied. */
static void bitfield_generic(client *c, int ro) {
    bf_op *ops = malloc(sizeof(bf_op) * (size_t)c->argc);
    if (!ops) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    int nops = 0, owtype = BF_WRAP, readonly = 1;
    uint64_t highest = 0; /* highest bit written */
    for (int j = 2; j < c->argc; j++) {
        int rem = c->argc - j - 1;
        const char *sub = c->argv[j].ptr;
        int opcode;
        if (!strcasecmp(sub, "get") && rem >= 2) opcode = BF_GET;
        else if (!strcasecmp(sub, "set") && rem >= 3) opcode = BF_SET;
        else if (!strcasecmp(sub, "incrby") && rem >= 3) opcode = BF_INCRBY;
        else if (!strcasecmp(sub, "overflow") && rem >= 1) {
            const char *t = c->argv[++j].ptr;
            if (!strcasecmp(t, "wrap")) owtype = BF_WRAP;
            else if (!strcasecmp(t, "sat")) owtype = BF_SAT;
            else if (!strcasecmp(t, "fail")) owtype = BF_FAIL;
            else {
                reply_error(c, "ERR Invalid OVERFLOW type specified");
                free(ops);
                return;
            }
            continue;
        } else {
            reply_error(c, ERR_SYNTAX);
            free(ops);
            return;
        }
        bf_op *o = &ops[nops];
        if (bf_type_arg(c, &c->argv[j + 1], &o->sign, &o->bits) ||
            bit_offset_arg(c, &c->argv[j + 2], 1, o->bits, &o->offset)) {
            free(ops);
            return;
        }
        long long arg = 0;
        if (opcode != BF_GET) {
            readonly = 0;
            if (highest < o->offset + (uint64_t)o->bits - 1) highest = o->offset + (uint64_t)o->bits - 1;
            if (!arg_ll(&c->argv[j + 3], &arg)) {
                reply_error(c, ERR_NOT_INT);
                free(ops);
                return;
            }
        }
        o->arg = arg;
        o->opcode = opcode;
        o->owtype = owtype;
        nops++;
        j += opcode == BF_GET ? 2 : 3;
    }

    ks_value v;
    int r;
    const unsigned char *src;
    unsigned char *buf = NULL;
    size_t srclen;
    int dirty = 0;
    if (readonly) {
        r = bit_lookup(c, &c->argv[1], keyspace_buf(0), &v, KS_LOOKUP_READ);
        if (r < 0) {
            free(ops);
            return;
        }
        src = (const unsigned char *)(r == 1 ? v.payload : "");
        srclen = r == 1 ? v.plen : 0;
    } else {
        if (ro) {
            free(ops);
            reply_error(c, "ERR BITFIELD_RO only supports the GET subcommand");
            return;
        }
        r = bit_lookup(c, &c->argv[1], keyspace_buf(0), &v, 0);
        if (r < 0) {
            free(ops);
            return;
        }
        /* as Redis: the string is created or zero-padded up to the highest bit written, even
         * when every write then fails (OVERFLOW FAIL) */
        size_t oldlen = r == 1 ? v.plen : 0;
        size_t need = (size_t)(highest >> 3) + 1;
        srclen = need > oldlen ? need : oldlen;
        dirty = r == 0 || srclen != oldlen;
        buf = scratch_reserve(srclen);
        if (!buf) {
            free(ops);
            keyspace_reply_engine_error(c, LSM_ENOMEM);
            return;
        }
        if (oldlen) memcpy(buf, v.payload, oldlen);
        if (srclen > oldlen) memset(buf + oldlen, 0, srclen - oldlen);
        src = buf;
    }

    bf_result *res = malloc(sizeof(bf_result) * (size_t)(nops ? nops : 1));
    if (!res) {
        free(ops);
        scratch_trim();
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    int changes = 0, writes = 0; /* writes: SET/INCRBY ops done (not failed by OVERFLOW FAIL) */
    for (int i = 0; i < nops; i++) {
        const bf_op *o = &ops[i];
        res[i].null = 0;
        if (o->opcode == BF_GET) {
            res[i].v = o->sign ? (long long)bf_get_s(src, srclen, o->offset, o->bits)
                               : (long long)bf_get_u(src, srclen, o->offset, o->bits);
            continue;
        }
        int overflow;
        if (o->sign) {
            int64_t oldv = bf_get_s(buf, srclen, o->offset, o->bits), newv, lim = 0, ret;
            if (o->opcode == BF_INCRBY) {
                overflow = bf_overflow_s(oldv, o->arg, o->bits, o->owtype, &lim);
                newv = overflow ? lim : (int64_t)((uint64_t)oldv + (uint64_t)o->arg);
                ret = newv;
            } else {
                overflow = bf_overflow_s(o->arg, 0, o->bits, o->owtype, &lim);
                newv = overflow ? lim : o->arg;
                ret = oldv;
            }
            if (overflow && o->owtype == BF_FAIL) {
                res[i].null = 1;
                continue;
            }
            res[i].v = ret;
            bf_set(buf, o->offset, o->bits, (uint64_t)newv);
            writes++;
            if (oldv != newv) changes++;
        } else {
            uint64_t oldv = bf_get_u(buf, srclen, o->offset, o->bits), newv, lim = 0, ret;
            if (o->opcode == BF_INCRBY) {
                overflow = bf_overflow_u(oldv, o->arg, o->bits, o->owtype, &lim);
                newv = overflow ? lim : oldv + (uint64_t)o->arg;
                ret = newv;
            } else {
                overflow = bf_overflow_u((uint64_t)o->arg, 0, o->bits, o->owtype, &lim);
                newv = overflow ? lim : (uint64_t)o->arg;
                ret = oldv;
            }
            if (overflow && o->owtype == BF_FAIL) {
                res[i].null = 1;
                continue;
            }
            res[i].v = (long long)ret;
            bf_set(buf, o->offset, o->bits, newv);
            writes++;
            if (oldv != newv) changes++;
        }
    }
    free(ops);
    if (!readonly && (changes || dirty)) {
        keyspace_begin();
        int w = keyspace_put_flags(c->db, c->argv[1].ptr, c->argv[1].len, r == 1 ? &v : NULL,
                                   KTYPE_STRING, KF_RAW, r == 1 ? v.expire : 0, buf, srclen);
        scratch_trim();
        if (bit_stage_error(c, w) || bit_commit(c)) {
            free(res);
            return;
        }
    } else if (!readonly) {
        scratch_trim();
    }
    reply_array(c, nops);
    for (int i = 0; i < nops; i++) {
        if (res[i].null) reply_null(c);
        else reply_int(c, res[i].v);
    }
    free(res);
    /* Redis counts a write that changed a value, or any write to a created or grown string */
    if (!readonly && (changes || (dirty && writes)))
        notify_keyspace_event(NOTIFY_STRING, "setbit", c->db, c->argv[1].ptr, c->argv[1].len);
}

static void cmd_bitfield(client *c) { bitfield_generic(c, 0); }
static void cmd_bitfield_ro(client *c) { bitfield_generic(c, 1); }

/* ---- LCS ---------------------------------------------------------------------------------- */

typedef struct lcs_range {
    uint32_t a0, a1, b0, b1;
} lcs_range;

/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the classic dynamic programming
 * table (transient memory bounded by proto-max-bulk-len, as Redis), walked back from the end with
 * Redis's tie-break (up when the row above is strictly longer, else left), so the string and
 * the match ranges are exactly Redis's. Missing keys are empty strings. */
static void cmd_lcs(client *c) {
    ks_value va, vb;
    int ra = keyspace_lookup(c->db, c->argv[1].ptr, c->argv[1].len, keyspace_buf(0), &va,
                             KS_LOOKUP_READ);
    if (ra < 0) {
        keyspace_reply_engine_error(c, ra);
        return;
    }
    int rb = keyspace_lookup(c->db, c->argv[2].ptr, c->argv[2].len, keyspace_buf(1), &vb,
                             KS_LOOKUP_READ);
    if (rb < 0) {
        keyspace_reply_engine_error(c, rb);
        return;
    }
    if ((ra == 1 && va.type != KTYPE_STRING) || (rb == 1 && vb.type != KTYPE_STRING)) {
        reply_error(c, "ERR The specified keys must contain string values");
        return;
    }
    const char *a = ra == 1 ? va.payload : "", *b = rb == 1 ? vb.payload : "";
    size_t alen0 = ra == 1 ? va.plen : 0, blen0 = rb == 1 ? vb.plen : 0;
    int getlen = 0, getidx = 0, withmatchlen = 0;
    long long minmatchlen = 0;
    for (int j = 3; j < c->argc; j++) {
        const char *opt = c->argv[j].ptr;
        int more = c->argc - 1 - j;
        if (!strcasecmp(opt, "idx")) getidx = 1;
        else if (!strcasecmp(opt, "len")) getlen = 1;
        else if (!strcasecmp(opt, "withmatchlen")) withmatchlen = 1;
        else if (!strcasecmp(opt, "minmatchlen") && more) {
            if (!arg_ll(&c->argv[j + 1], &minmatchlen)) {
                reply_error(c, ERR_NOT_INT);
                return;
            }
            if (minmatchlen < 0) minmatchlen = 0;
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (getlen && getidx) {
        reply_error(c, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    if (alen0 >= UINT32_MAX - 1 || blen0 >= UINT32_MAX - 1) {
        reply_error(c, "ERR String too long for LCS");
        return;
    }
    uint32_t alen = (uint32_t)alen0, blen = (uint32_t)blen0;
    unsigned long long cells = (unsigned long long)(alen + 1ull) * (blen + 1ull);
    unsigned long long bytes = cells * sizeof(uint32_t);
    if (bytes > (unsigned long long)bit_max_size()) {
        reply_error(c, "ERR Insufficient memory, transient memory for LCS exceeds "
                       "proto-max-bulk-len");
        return;
    }
    uint32_t *t = malloc((size_t)bytes);
    if (!t) {
        reply_error(c, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
    size_t w = (size_t)blen + 1; /* row width: T(i,j) = LCS length of a[0..i) and b[0..j) */
#define T(i, j) t[(size_t)(i) * w + (j)]
    for (uint32_t j = 0; j <= blen; j++) T(0, j) = 0;
    for (uint32_t i = 1; i <= alen; i++) {
        T(i, 0) = 0;
        for (uint32_t j = 1; j <= blen; j++) {
            if (a[i - 1] == b[j - 1]) T(i, j) = T(i - 1, j - 1) + 1;
            else T(i, j) = T(i - 1, j) > T(i, j - 1) ? T(i - 1, j) : T(i, j - 1);
        }
    }
    uint32_t total = T(alen, blen);
    int want_str = getidx || !getlen;
    char *str = NULL;
    lcs_range *rg = NULL;
    size_t nrg = 0, caprg = 0;
    if (want_str && !(str = malloc(total ? total : 1))) {
        free(t);
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    /* Walk back; a range of consecutive matches grows backwards and is closed by a mismatch
     * step or by reaching the start of either string. */
    uint32_t i = alen, j = blen, k = total;
    int open = 0;
    lcs_range cur = {0, 0, 0, 0};
    while (want_str && i > 0 && j > 0) {
        int close = 0;
        if (a[i - 1] == b[j - 1]) {
            str[--k] = a[i - 1];
            if (!open) {
                cur.a0 = cur.a1 = i - 1;
                cur.b0 = cur.b1 = j - 1;
                open = 1;
            } else if (cur.a0 == i && cur.b0 == j) {
                cur.a0--;
                cur.b0--;
            } else {
                close = 1;
            }
            if (cur.a0 == 0 || cur.b0 == 0) close = 1;
            i--;
            j--;
        } else {
            if (T(i - 1, j) > T(i, j - 1)) i--;
            else j--;
            if (open) close = 1;
        }
        if (close) {
            uint32_t mlen = cur.a1 - cur.a0 + 1;
            if (getidx && (minmatchlen == 0 || (long long)mlen >= minmatchlen)) {
                if (nrg == caprg) {
                    size_t nc = caprg ? caprg * 2 : 16;
                    lcs_range *n = realloc(rg, nc * sizeof *rg);
                    if (!n) {
                        free(rg);
                        free(str);
                        free(t);
                        keyspace_reply_engine_error(c, LSM_ENOMEM);
                        return;
                    }
                    rg = n;
                    caprg = nc;
                }
                rg[nrg++] = cur;
            }
            open = 0;
        }
    }
#undef T
    free(t);
    if (getidx) {
        reply_map(c, 2);
        reply_bulk_cstr(c, "matches");
        reply_array(c, (long)nrg);
        for (size_t x = 0; x < nrg; x++) {
            reply_array(c, 2 + withmatchlen);
            reply_array(c, 2);
            reply_int(c, rg[x].a0);
            reply_int(c, rg[x].a1);
            reply_array(c, 2);
            reply_int(c, rg[x].b0);
            reply_int(c, rg[x].b1);
            if (withmatchlen) reply_int(c, rg[x].a1 - rg[x].a0 + 1);
        }
        reply_bulk_cstr(c, "len");
        reply_int(c, total);
    } else if (getlen) {
        reply_int(c, total);
    } else {
        reply_bulk(c, str, total);
    }
    free(rg);
    free(str);
}

/* ---- table -------------------------------------------------------------------------------- */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM

/* Summaries and "since" as Redis 7.0's COMMAND DOCS. */
const struct command bitops_commands[] = {
    {"setbit", cmd_setbit, 4, W | D, 1, 1, 1, "bitmap",
     "Sets or clears the bit at offset in the string value stored at key", "2.2.0",
     "key offset value", NULL},
    {"getbit", cmd_getbit, 3, R | F, 1, 1, 1, "bitmap",
     "Returns the bit value at offset in the string value stored at key", "2.2.0", "key offset",
     NULL},
    {"bitcount", cmd_bitcount, -2, R, 1, 1, 1, "bitmap", "Count set bits in a string", "2.6.0",
     "key [start end [BYTE|BIT]]", NULL},
    {"bitpos", cmd_bitpos, -3, R, 1, 1, 1, "bitmap", "Find first bit set or clear in a string",
     "2.8.7", "key bit [start [end [BYTE|BIT]]]", NULL},
    {"bitop", cmd_bitop, -4, W | D, 2, -1, 1, "bitmap",
     "Perform bitwise operations between strings", "2.6.0",
     "(AND|OR|XOR|NOT) destkey key [key ...]", NULL},
    {"bitfield", cmd_bitfield, -2, W | D, 1, 1, 1, "bitmap",
     "Perform arbitrary bitfield integer operations on strings", "3.2.0",
     "key [GET encoding offset|[OVERFLOW (WRAP|SAT|FAIL)] (SET encoding offset value|INCRBY "
     "encoding offset increment)] ...",
     NULL},
    {"bitfield_ro", cmd_bitfield_ro, -2, R | F, 1, 1, 1, "bitmap",
     "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
     "6.0.0", "key [GET encoding offset] ...", NULL},
    {"lcs", cmd_lcs, -3, R, 1, 2, 1, "string", "Find longest common substring", "7.0.0",
     "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
