/* stream.c - Redis streams over the collection layer (stream.h; layout in
 * doc/keyspace_format.md "Streams"). */
#include "stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "server.h"
#include "util.h"

/* ---- small encoders ---------------------------------------------------------------------- */

/* put_be64 / get_le64 ...: util.h */

/* A growable byte buffer. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int sbuf_reserve(sbuf *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t nc = b->cap ? b->cap * 2 : 256;
    while (nc < b->len + more) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) return LSM_ENOMEM;
    b->p = np;
    b->cap = nc;
    return 0;
}
static int sbuf_add(sbuf *b, const void *p, size_t n) {
    if (sbuf_reserve(b, n)) return LSM_ENOMEM;
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}
static int sbuf_varint(sbuf *b, uint64_t v) {
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (char)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= (char)0x80;
        n++;
    } while (v);
    return sbuf_add(b, tmp, n);
}
static void sbuf_trim(sbuf *b) {
    if (b->cap > (1u << 20)) {
        free(b->p);
        memset(b, 0, sizeof(*b));
    }
    b->len = 0;
}
/* 1 ok (value and advance), 0 malformed */
static int get_varint(const char **p, const char *end, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        unsigned char c = (unsigned char)*(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* scratch buffers, amortized */
static sbuf key_buf, val_buf, val_buf2;
static lsm_buf read_buf;
static void scratch_trim(void) {
    sbuf_trim(&key_buf);
    sbuf_trim(&val_buf);
    sbuf_trim(&val_buf2);
    if (read_buf.cap > (1u << 20)) lsm_buf_free(&read_buf);
}

/* ---- IDs --------------------------------------------------------------------------------- */

int stream_id_cmp(const stream_id *a, const stream_id *b) {
    if (a->ms != b->ms) return a->ms > b->ms ? 1 : -1;
    if (a->seq != b->seq) return a->seq > b->seq ? 1 : -1;
    return 0;
}

int stream_id_is_zero(const stream_id *a) { return !a->ms && !a->seq; }

int stream_id_incr(stream_id *id) {
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX) {
            id->ms = id->seq = 0;
            return -1;
        }
        id->ms++;
        id->seq = 0;
        return 0;
    }
    id->seq++;
    return 0;
}

int stream_id_decr(stream_id *id) {
    if (id->seq == 0) {
        if (id->ms == 0) {
            id->ms = id->seq = UINT64_MAX;
            return -1;
        }
        id->ms--;
        id->seq = UINT64_MAX;
        return 0;
    }
    id->seq--;
    return 0;
}

void stream_id_encode(char dst[16], const stream_id *id) {
    put_be64(dst, id->ms);
    put_be64(dst + 8, id->seq);
}

void stream_id_decode(const char src[16], stream_id *id) {
    id->ms = get_be64(src);
    id->seq = get_be64(src + 8);
}

static int u64_format(char *dst, uint64_t v) {
    char tmp[21];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
    return n;
}

int stream_id_format(char *dst, const stream_id *id) {
    int n = u64_format(dst, id->ms);
    dst[n++] = '-';
    n += u64_format(dst + n, id->seq);
    dst[n] = 0;
    return n;
}

/* Redis's string2ull: string2ll (negative: invalid), else strtoull with its own rules. */
static int redis_string2ull(const char *s, unsigned long long *value) {
    long long ll;
    if (string2ll(s, strlen(s), &ll)) {
        if (ll < 0) return 0;
        *value = (unsigned long long)ll;
        return 1;
    }
    errno = 0;
    char *endptr = NULL;
    *value = strtoull(s, &endptr, 10);
    if (errno == EINVAL || errno == ERANGE || !(*s != '\0' && *endptr == '\0')) return 0;
    return 1;
}

int stream_id_parse(const char *s, size_t len, stream_id *id, uint64_t missing_seq, int strict,
                    int *seq_given) {
    char buf[128];
    if (len > sizeof(buf) - 1) return 0;
    memcpy(buf, s, len);
    buf[len] = 0;
    if (strict && (buf[0] == '-' || buf[0] == '+') && buf[1] == '\0') return 0;
    if (seq_given) *seq_given = 1;
    if (buf[0] == '-' && buf[1] == '\0') {
        id->ms = id->seq = 0;
        return 1;
    }
    if (buf[0] == '+' && buf[1] == '\0') {
        id->ms = id->seq = UINT64_MAX;
        return 1;
    }
    unsigned long long ms, seq;
    char *dot = strchr(buf, '-');
    if (dot) *dot = '\0';
    if (!redis_string2ull(buf, &ms)) return 0;
    if (dot) {
        if (seq_given && strlen(dot + 1) == 1 && dot[1] == '*') {
            seq = 0;
            *seq_given = 0;
        } else if (!redis_string2ull(dot + 1, &seq)) {
            return 0;
        }
    } else {
        seq = missing_seq;
    }
    id->ms = ms;
    id->seq = seq;
    return 1;
}

/* ---- Redis listpack sizes (what Redis's macro node would weigh) ---------------------------- */

static size_t lp_backlen(uint64_t l) {
    if (l <= 127) return 1;
    if (l < 16383) return 2;
    if (l < 2097151) return 3;
    if (l < 268435455) return 4;
    return 5;
}

static size_t lp_int_size(int64_t v) {
    size_t e;
    if (v >= 0 && v <= 127) e = 1;
    else if (v >= -4096 && v <= 4095) e = 2;
    else if (v >= -32768 && v <= 32767) e = 3;
    else if (v >= -8388608 && v <= 8388607) e = 4;
    else if (v >= -2147483648LL && v <= 2147483647LL) e = 5;
    else e = 9;
    return e + lp_backlen(e);
}

/* Redis's lpStringToInt64 */
static int lp_string_to_int64(const char *s, size_t slen, int64_t *value) {
    const char *p = s;
    size_t plen = 0;
    int negative = 0;
    uint64_t v;
    if (slen == 0 || slen >= 21) return 0;
    if (slen == 1 && p[0] == '0') {
        *value = 0;
        return 1;
    }
    if (p[0] == '-') {
        negative = 1;
        p++;
        plen++;
        if (plen == slen) return 0;
    }
    if (p[0] >= '1' && p[0] <= '9') {
        v = (uint64_t)(p[0] - '0');
        p++;
        plen++;
    } else {
        return 0;
    }
    while (plen < slen && p[0] >= '0' && p[0] <= '9') {
        if (v > (UINT64_MAX / 10)) return 0;
        v *= 10;
        if (v > (UINT64_MAX - (uint64_t)(p[0] - '0'))) return 0;
        v += (uint64_t)(p[0] - '0');
        p++;
        plen++;
    }
    if (plen < slen) return 0;
    if (negative) {
        if (v > ((uint64_t)(-(INT64_MIN + 1)) + 1)) return 0;
        *value = (int64_t)(0 - v);
    } else {
        if (v > INT64_MAX) return 0;
        *value = (int64_t)v;
    }
    return 1;
}

static size_t lp_str_size(const char *s, size_t len) {
    int64_t v;
    if (lp_string_to_int64(s, len, &v)) return lp_int_size(v);
    uint64_t e = len < 64 ? 1 + len : len < 4096 ? 2 + len : 5 + (uint64_t)len;
    return (size_t)(e + lp_backlen(e));
}

/* ---- macro nodes --------------------------------------------------------------------------- */

typedef struct snode {
    stream_id master;
    uint64_t live, deleted, body; /* body: listpack bytes of master fields + entries */
    stream_id last;               /* the last entry appended (deleted or not) */
    uint32_t nfields;
    const char *mf;               /* master fields: nfields x (len (4, LE) | bytes) */
    size_t mflen;
} snode;

#define NODE_FIXED 44

static int node_decode(const char *v, size_t vlen, const stream_id *master, snode *n) {
    if (vlen < NODE_FIXED) return LSM_ECORRUPT;
    n->master = *master;
    n->live = get_le64(v);
    n->deleted = get_le64(v + 8);
    n->body = get_le64(v + 16);
    stream_id_decode(v + 24, &n->last);
    n->nfields = get_le32(v + 40);
    n->mf = v + NODE_FIXED;
    n->mflen = vlen - NODE_FIXED;
    return 0;
}

static int node_encode(sbuf *b, const snode *n) {
    b->len = 0;
    if (sbuf_reserve(b, NODE_FIXED + n->mflen)) return LSM_ENOMEM;
    put_le64(b->p, n->live);
    put_le64(b->p + 8, n->deleted);
    put_le64(b->p + 16, n->body);
    stream_id_encode(b->p + 24, &n->last);
    put_le32(b->p + 40, n->nfields);
    if (n->mflen) memcpy(b->p + NODE_FIXED, n->mf, n->mflen);
    b->len = NODE_FIXED + n->mflen;
    return 0;
}

/* The bytes of Redis's listpack for this node (lpBytes). */
static uint64_t node_lp_bytes(const snode *n) {
    return 7 + lp_int_size((int64_t)n->live) + lp_int_size((int64_t)n->deleted) +
           lp_int_size((int64_t)n->nfields) + lp_int_size(0) + n->body;
}

static int node_put(stream *s, const snode *n) {
    char k[16];
    stream_id_encode(k, &n->master);
    int r = node_encode(&val_buf2, n);
    if (r) return r;
    return coll_put(&s->c, STREAM_SUB_NODE, k, 16, val_buf2.p, val_buf2.len);
}

static int node_del(stream *s, const stream_id *master) {
    char k[16];
    stream_id_encode(k, master);
    return coll_del(&s->c, STREAM_SUB_NODE, k, 16);
}

/* Reads the node whose master is `master` into n (value in buf). 1, 0 absent, < 0. */
static int node_get(const stream *s, const stream_id *master, snode *n, lsm_buf *buf) {
    char k[16];
    stream_id_encode(k, master);
    int r = coll_get(&s->c, STREAM_SUB_NODE, k, 16, buf);
    if (r <= 0) return r;
    return node_decode(buf->data, buf->len, master, n) ? LSM_ECORRUPT : 1;
}

/* The last node with master <= id (id NULL: the last node). 1 (n, value copied into buf), 0, < 0 */
static int node_find(const stream *s, const stream_id *id, snode *n, lsm_buf *buf) {
    coll_iter ci;
    char k[16];
    if (id) stream_id_encode(k, id);
    int r = coll_iter_seek_rev(&ci, &s->c, STREAM_SUB_NODE, id ? k : NULL, id ? 16 : 0);
    if (r == 0 && coll_iter_valid(&ci)) {
        size_t ml, vl;
        const char *m = coll_iter_member(&ci, &ml);
        const char *v = coll_iter_value(&ci, &vl);
        if (ml != 16) {
            r = LSM_ECORRUPT;
        } else {
            stream_id master;
            stream_id_decode(m, &master);
            if (buf->cap < vl) {
                char *nd = realloc(buf->data, vl ? vl : 1);
                if (!nd) r = LSM_ENOMEM;
                else {
                    buf->data = nd;
                    buf->cap = vl;
                }
            }
            if (r == 0) {
                if (vl) memcpy(buf->data, v, vl);
                buf->len = vl;
                r = node_decode(buf->data, vl, &master, n) ? LSM_ECORRUPT : 1;
            }
        }
    } else if (r == 0) {
        r = coll_iter_status(&ci);
    }
    coll_iter_close(&ci);
    return r;
}

/* The tail node's record lags behind by the entries XADD appended since it was written (their
 * count and bytes are in the metadata, its last ID is then the stream's): n becomes what the
 * tail holds. */
static void tail_effective(const stream *s, snode *n) {
    if (s->tail_add_n == 0 || stream_id_cmp(&n->master, &s->tail) != 0) return;
    n->live += s->tail_add_n;
    n->body += s->tail_add_bytes;
    n->last = s->last_id;
}

/* Writes the tail's record as it stands (before anything but XADD reads or changes nodes, or
 * moves the last ID). 0 or < 0. */
static int tail_settle(stream *s) {
    if (s->tail_add_n == 0) return 0;
    snode n;
    int r = node_get(s, &s->tail, &n, &read_buf);
    if (r == 0) r = LSM_ECORRUPT;
    if (r < 0) return r;
    tail_effective(s, &n);
    if ((r = node_put(s, &n))) return r;
    s->tail_add_n = s->tail_add_bytes = 0;
    s->c.meta_dirty = 1;
    return 0;
}

int stream_set_last_id(stream *s, const stream_id *id) {
    int r = tail_settle(s);
    if (r) return r;
    if (stream_id_cmp(id, &s->trimmed) < 0) {
        /* below the trimmed-below mark (XSETID of an emptied stream): IDs above id can be
         * added again, so the records the mark hides above id are deleted, then it falls */
        stream_id from = *id;
        coll_iter ci;
        char k[16];
        if (stream_id_incr(&from) == 0) {
            stream_id_encode(k, &from);
            r = coll_iter_seek(&ci, &s->c, STREAM_SUB_ENTRY, k, 16);
            while (r == 0 && coll_iter_valid(&ci)) {
                size_t ml;
                const char *m = coll_iter_member(&ci, &ml);
                stream_id e;
                if (ml != 16) {
                    r = LSM_ECORRUPT;
                    break;
                }
                stream_id_decode(m, &e);
                if (stream_id_cmp(&e, &s->trimmed) > 0) break;
                memcpy(k, m, 16);
                if ((r = coll_del(&s->c, STREAM_SUB_ENTRY, k, 16))) break;
                coll_iter_next(&ci);
            }
            if (r == 0) r = coll_iter_status(&ci);
            coll_iter_close(&ci);
            if (r) return r;
        }
        s->trimmed = *id;
        s->trimmed_dirty = 1;
    }
    s->last_id = *id;
    return 0;
}

/* ---- the stream's metadata ------------------------------------------------------------------ */

#define STATE_LEN 56 /* max-deleted-id | groups | nodes | head node | head node live count */

static void meta_encode(stream *s) {
    char *x = s->c.extra;
    stream_id_encode(x, &s->last_id);
    put_le64(x + 16, s->entries_added);
    stream_id_encode(x + 24, &s->first_id);
    stream_id_encode(x + 40, &s->tail);
    put_le32(x + 56, s->tail_add_n);
    put_le32(x + 60, s->tail_add_bytes);
    stream_id_encode(x + 64, &s->trimmed);
    s->c.extra_len = STREAM_EXTRA_LEN;
}

int stream_open(stream *s, int db, const char *key, size_t klen, int flags) {
    memset(s, 0, sizeof(*s));
    int r = coll_open(&s->c, db, key, klen, KTYPE_STREAM, flags);
    if (r != 1) return r;
    if (s->c.extra_len != STREAM_EXTRA_LEN && s->c.extra_len != STREAM_EXTRA_LEN_V1) return LSM_ECORRUPT;
    const char *x = s->c.extra;
    stream_id_decode(x, &s->last_id);
    s->entries_added = get_le64(x + 16);
    stream_id_decode(x + 24, &s->first_id);
    stream_id_decode(x + 40, &s->tail);
    s->tail_add_n = get_le32(x + 56);
    s->tail_add_bytes = get_le32(x + 60);
    if (s->c.extra_len == STREAM_EXTRA_LEN) stream_id_decode(x + 64, &s->trimmed);
    return 1;
}

void stream_close(stream *s) {
    coll_close(&s->c);
    scratch_trim();
}

int stream_create(stream *s) {
    if (s->c.exists) return 0;
    int r = coll_create(&s->c, COLL_ENC_SMALL);
    if (r) return r;
    memset(&s->last_id, 0, sizeof(s->last_id));
    memset(&s->first_id, 0, sizeof(s->first_id));
    memset(&s->tail, 0, sizeof(s->tail));
    s->tail_add_n = s->tail_add_bytes = 0;
    s->entries_added = 0;
    s->state_loaded = 1;
    s->state_dirty = 0;
    memset(&s->max_deleted, 0, sizeof(s->max_deleted));
    s->ngroups = s->nnodes = 0;
    memset(&s->head, 0, sizeof(s->head));
    s->head_live = 0;
    memset(&s->trimmed, 0, sizeof(s->trimmed));
    s->trimmed_dirty = 0;
    meta_encode(s);
    s->c.meta_dirty = 1;
    return 0;
}

int stream_load_state(stream *s) {
    if (s->state_loaded || !s->c.exists) return 0;
    int r = coll_get(&s->c, STREAM_SUB_STATE, NULL, 0, &read_buf);
    if (r < 0) return r;
    memset(&s->head, 0, sizeof(s->head));
    s->head_live = 0;
    if (r == 0) {
        memset(&s->max_deleted, 0, sizeof(s->max_deleted));
        s->ngroups = s->nnodes = 0;
    } else {
        if (read_buf.len != STATE_LEN) return LSM_ECORRUPT;
        stream_id_decode(read_buf.data, &s->max_deleted);
        s->ngroups = get_le64(read_buf.data + 16);
        s->nnodes = get_le64(read_buf.data + 24);
        stream_id_decode(read_buf.data + 32, &s->head);
        s->head_live = get_le64(read_buf.data + 48);
    }
    s->state_loaded = 1;
    return 0;
}

int stream_save(stream *s, int quiet) {
    if (!s->c.exists) return 0;
    int r;
    if (s->trimmed_dirty) {
        char t[16];
        stream_id_encode(t, &s->trimmed);
        if ((r = coll_set_version_value(&s->c, t, sizeof(t)))) return r;
        s->trimmed_dirty = 0;
    }
    if (s->state_dirty) {
        char v[STATE_LEN];
        stream_id_encode(v, &s->max_deleted);
        put_le64(v + 16, s->ngroups);
        put_le64(v + 24, s->nnodes);
        stream_id_encode(v + 32, &s->head);
        put_le64(v + 48, s->head_live);
        if ((r = coll_put(&s->c, STREAM_SUB_STATE, NULL, 0, v, sizeof(v)))) return r;
        s->state_dirty = 0;
    }
    char old[STREAM_EXTRA_LEN];
    memcpy(old, s->c.extra, STREAM_EXTRA_LEN);
    size_t oldlen = s->c.extra_len;
    meta_encode(s);
    if (oldlen != STREAM_EXTRA_LEN || memcmp(old, s->c.extra, STREAM_EXTRA_LEN) != 0)
        s->c.meta_dirty = 1;
    return coll_save_keep(&s->c, quiet);
}

/* ---- entries -------------------------------------------------------------------------------- */

int stream_fields_open(stream_fields *sf, const char *v, size_t vlen) {
    sf->p = v;
    sf->end = v + vlen;
    uint64_t n;
    if (!get_varint(&sf->p, sf->end, &n) || n > vlen) return LSM_ECORRUPT;
    sf->n = (long)n;
    return 0;
}

int stream_fields_next(stream_fields *sf, const char **f, size_t *fl, const char **v,
                       size_t *vl) {
    if (sf->p >= sf->end) return 0;
    uint64_t l;
    if (!get_varint(&sf->p, sf->end, &l) || l > (uint64_t)(sf->end - sf->p)) return LSM_ECORRUPT;
    *f = sf->p;
    *fl = (size_t)l;
    sf->p += l;
    if (!get_varint(&sf->p, sf->end, &l) || l > (uint64_t)(sf->end - sf->p)) return LSM_ECORRUPT;
    *v = sf->p;
    *vl = (size_t)l;
    sf->p += l;
    return 1;
}

int stream_get(const stream *s, const stream_id *id, lsm_buf *out) {
    if (stream_id_cmp(id, &s->trimmed) <= 0) return 0; /* trimmed (its record may remain) */
    char k[16];
    stream_id_encode(k, id);
    return coll_get(&s->c, STREAM_SUB_ENTRY, k, 16, out);
}

/* ---- XADD ----------------------------------------------------------------------------------- */

int stream_add(stream *s, const stream_id *use_id, int seq_given, uint64_t now_ms,
               const char *const *f, const size_t *fl, const char *const *v, const size_t *vl,
               long npairs, stream_id *added) {
    stream_id id;
    if (use_id) {
        if (seq_given) {
            id = *use_id;
        } else if (s->last_id.ms == use_id->ms) {
            /* Redis returns an error without setting errno here: the reply is its other one */
            if (s->last_id.seq == UINT64_MAX) return STREAM_ERR_TOOBIG;
            id = s->last_id;
            id.seq++;
        } else {
            id = *use_id;
        }
    } else if (now_ms > s->last_id.ms) {
        id.ms = now_ms;
        id.seq = 0;
    } else {
        id = s->last_id;
        stream_id_incr(&id);
    }
    if (stream_id_cmp(&id, &s->last_id) <= 0) return STREAM_ERR_ID;
    uint64_t totelelen = 0;
    for (long i = 0; i < npairs; i++) totelelen += fl[i] + vl[i];
    if (totelelen > STREAM_LISTPACK_MAX_SIZE) return STREAM_ERR_TOOBIG;
    int r;

    /* the tail node, and whether the entry goes into a new one (streamAppendItem) */
    snode n;
    int have = 0;
    if (!stream_id_is_zero(&s->tail)) {
        r = node_get(s, &s->tail, &n, &read_buf);
        if (r < 0) return r;
        if (r == 0) return LSM_ECORRUPT;
        tail_effective(s, &n);
        uint64_t maxb = (uint64_t)config.stream_node_max_bytes;
        if (config.stream_node_max_bytes <= 0 || maxb > STREAM_LISTPACK_MAX_SIZE)
            maxb = STREAM_LISTPACK_MAX_SIZE;
        have = 1;
        if (node_lp_bytes(&n) + totelelen >= maxb) have = 0;
        else if (config.stream_node_max_entries > 0 &&
                 n.live + n.deleted >= (uint64_t)config.stream_node_max_entries)
            have = 0;
    }
    int same = 0;
    sbuf *mfb = &val_buf;
    if (!have && s->tail_add_n) {
        /* the old tail is done: its record takes what XADD appended to it */
        if ((r = node_put(s, &n))) return r;
        s->tail_add_n = s->tail_add_bytes = 0;
        if ((r = stream_load_state(s))) return r;
        if (stream_id_cmp(&n.master, &s->head) == 0) s->head_live = n.live;
    }
    if (!have) {
        /* a new node: its master entry holds this entry's fields */
        if ((r = stream_load_state(s))) return r;
        mfb->len = 0;
        memset(&n, 0, sizeof(n));
        n.master = id;
        n.nfields = (uint32_t)npairs;
        for (long i = 0; i < npairs; i++) {
            char l[4];
            put_le32(l, (uint32_t)fl[i]);
            if ((r = sbuf_add(mfb, l, 4)) || (r = sbuf_add(mfb, f[i], fl[i]))) return r;
            n.body += lp_str_size(f[i], fl[i]);
        }
        n.mf = mfb->p;
        n.mflen = mfb->len;
        same = 1;
        if (s->nnodes++ == 0) { /* the first node */
            s->head = id;
            s->head_live = 1;
        }
        s->state_dirty = 1;
        s->tail = id;
    } else if ((long)n.nfields == npairs) {
        const char *p = n.mf, *end = n.mf + n.mflen;
        long i;
        for (i = 0; i < npairs; i++) {
            if (end - p < 4) return LSM_ECORRUPT;
            uint32_t l = get_le32(p);
            p += 4;
            if ((uint64_t)(end - p) < l) return LSM_ECORRUPT;
            if (l != fl[i] || memcmp(p, f[i], l) != 0) break;
            p += l;
        }
        same = i == npairs;
    }
    /* the entry's bytes in Redis's listpack */
    uint64_t esize = lp_int_size(same ? 2 : 0) + lp_int_size((int64_t)(id.ms - n.master.ms)) +
                     lp_int_size((int64_t)(id.seq - n.master.seq));
    if (!same) esize += lp_int_size(npairs);
    for (long i = 0; i < npairs; i++) {
        if (!same) esize += lp_str_size(f[i], fl[i]);
        esize += lp_str_size(v[i], vl[i]);
    }
    int64_t lp_count = npairs + 3 + (same ? 0 : npairs + 1);
    esize += lp_int_size(lp_count);
    /* the entry record */
    sbuf *eb = &key_buf;
    eb->len = 0;
    if ((r = sbuf_varint(eb, (uint64_t)npairs))) return r;
    for (long i = 0; i < npairs; i++) {
        if ((r = sbuf_varint(eb, fl[i])) || (r = sbuf_add(eb, f[i], fl[i])) ||
            (r = sbuf_varint(eb, vl[i])) || (r = sbuf_add(eb, v[i], vl[i])))
            return r;
    }
    char k[16];
    stream_id_encode(k, &id);
    if ((r = coll_put(&s->c, STREAM_SUB_ENTRY, k, 16, eb->p, eb->len))) return r;
    if (!have) {
        /* the new node's record holds its first entry */
        n.body += esize;
        n.live = 1;
        n.last = id;
        if ((r = node_put(s, &n))) return r;
    } else {
        /* appended to the tail: only its counts in the metadata move (no node write) */
        s->tail_add_n++;
        s->tail_add_bytes += (uint32_t)esize;
    }
    coll_count_add(&s->c, 1);
    s->entries_added++;
    s->last_id = id;
    if (s->c.count == 1) s->first_id = id;
    *added = id;
    return 0;
}

/* ---- walks ----------------------------------------------------------------------------------- */

int stream_iter_open(stream_iter *it, const stream *s, const stream_id *start,
                     const stream_id *end, int rev) {
    memset(it, 0, sizeof(*it));
    it->s = s;
    it->start = *start;
    it->end = *end;
    it->rev = rev;
    if (!s->c.exists || s->c.count <= 0 || stream_id_cmp(start, end) > 0) return 0;
    char k[16];
    int r;
    if (!rev) {
        /* the first live entry is first-id: a trimmed head's tombstones are skipped by the seek */
        stream_id from = stream_id_cmp(start, &s->first_id) < 0 ? s->first_id : *start;
        stream_id_encode(k, &from);
        r = coll_iter_seek(&it->ci, &s->c, STREAM_SUB_ENTRY, k, 16);
    } else {
        stream_id from = stream_id_cmp(end, &s->last_id) > 0 ? s->last_id : *end;
        stream_id_encode(k, &from);
        r = coll_iter_seek_rev(&it->ci, &s->c, STREAM_SUB_ENTRY, k, 16);
    }
    it->valid = 1;
    return r;
}

int stream_iter_next(stream_iter *it, stream_id *id, const char **v, size_t *vlen) {
    if (!it->valid) return 0;
    if (it->started) {
        if (it->rev) coll_iter_prev(&it->ci);
        else coll_iter_next(&it->ci);
    }
    it->started = 1;
    if (!coll_iter_valid(&it->ci)) {
        it->valid = 0;
        return coll_iter_status(&it->ci);
    }
    size_t ml;
    const char *m = coll_iter_member(&it->ci, &ml);
    if (ml != 16) {
        it->valid = 0;
        return LSM_ECORRUPT;
    }
    stream_id_decode(m, id);
    if (it->rev ? stream_id_cmp(id, &it->start) < 0 || stream_id_cmp(id, &it->s->trimmed) <= 0
                : stream_id_cmp(id, &it->end) > 0) {
        it->valid = 0;
        return 0;
    }
    *v = coll_iter_value(&it->ci, vlen);
    return 1;
}

void stream_iter_close(stream_iter *it) {
    coll_iter_close(&it->ci);
    it->valid = 0;
}

int stream_last_entry(const stream *s, stream_id *id) {
    stream_id lo = {0, 0};
    stream_iter it;
    const char *v;
    size_t vl;
    int r = stream_iter_open(&it, s, &lo, &s->last_id, 1);
    if (r == 0) r = stream_iter_next(&it, id, &v, &vl);
    stream_iter_close(&it);
    if (r == 0 && s->c.count > 0) r = LSM_ECORRUPT; /* a non-empty stream has a last entry */
    return r;
}

/* The first live entry with ID > after (after NULL: the first). 1, 0 none, < 0. */
static int first_entry_after(const stream *s, const stream_id *after, stream_id *out) {
    stream_id from = {0, 0};
    if (after) {
        from = *after;
        if (stream_id_incr(&from)) return 0;
    }
    if (stream_id_cmp(&from, &s->trimmed) <= 0) { /* trimmed records may remain: not live */
        from = s->trimmed;
        if (stream_id_incr(&from)) return 0;
    }
    coll_iter ci;
    char k[16];
    stream_id_encode(k, &from);
    int r = coll_iter_seek(&ci, &s->c, STREAM_SUB_ENTRY, k, 16);
    if (r == 0 && coll_iter_valid(&ci)) {
        size_t ml;
        const char *m = coll_iter_member(&ci, &ml);
        if (ml != 16) r = LSM_ECORRUPT;
        else {
            stream_id_decode(m, out);
            r = 1;
        }
    } else if (r == 0) {
        r = coll_iter_status(&ci);
    }
    coll_iter_close(&ci);
    return r;
}

/* ---- XDEL ------------------------------------------------------------------------------------ */

/* The node n (master) was removed: the tail moves to the node before it when n was the tail. */
static int node_removed(stream *s, const stream_id *master) {
    s->nnodes--;
    s->state_dirty = 1;
    if (stream_id_cmp(master, &s->head) == 0) {
        /* the next node is the head (one step over the record just deleted) */
        memset(&s->head, 0, sizeof(s->head));
        s->head_live = 0;
        if (s->nnodes) {
            coll_iter ci;
            char k[16];
            stream_id_encode(k, master);
            int r = coll_iter_seek(&ci, &s->c, STREAM_SUB_NODE, k, 16);
            if (r == 0 && coll_iter_valid(&ci)) {
                size_t ml, vl;
                const char *m = coll_iter_member(&ci, &ml);
                const char *v = coll_iter_value(&ci, &vl);
                snode hn;
                stream_id hm;
                if (ml == 16) stream_id_decode(m, &hm);
                if (ml != 16 || node_decode(v, vl, &hm, &hn)) {
                    r = LSM_ECORRUPT;
                } else {
                    s->head = hm;
                    s->head_live = hn.live;
                }
            } else if (r == 0) {
                r = coll_iter_status(&ci);
                if (r == 0) r = LSM_ECORRUPT; /* nodes counted but none found */
            }
            coll_iter_close(&ci);
            if (r) return r;
        }
    }
    if (stream_id_cmp(master, &s->tail) != 0) return 0;
    snode prev;
    lsm_buf b = {0};
    int r = node_find(s, NULL, &prev, &b);
    if (r == 1) s->tail = prev.master;
    else if (r == 0) memset(&s->tail, 0, sizeof(s->tail));
    lsm_buf_free(&b);
    return r < 0 ? r : 0;
}

int stream_delete(stream *s, const stream_id *id) {
    if (!s->c.exists || s->c.count <= 0) return 0;
    int r = stream_get(s, id, &read_buf);
    if (r <= 0) return r;
    if ((r = stream_load_state(s))) return r;
    char k[16];
    stream_id_encode(k, id);
    if ((r = coll_del(&s->c, STREAM_SUB_ENTRY, k, 16))) return r;
    coll_count_add(&s->c, -1);
    snode n;
    r = node_find(s, id, &n, &read_buf);
    if (r == 0) r = LSM_ECORRUPT; /* every entry is in a node */
    if (r < 0) return r;
    /* the tail's record is written (or removed) below: it takes what XADD appended to it */
    if (stream_id_cmp(&n.master, &s->tail) == 0 && s->tail_add_n) {
        tail_effective(s, &n);
        s->tail_add_n = s->tail_add_bytes = 0;
    }
    if (n.live <= 1) {
        if ((r = node_del(s, &n.master)) || (r = node_removed(s, &n.master))) return r;
    } else {
        n.live--;
        n.deleted++;
        if ((r = node_put(s, &n))) return r;
        if (stream_id_cmp(&n.master, &s->head) == 0) {
            s->head_live = n.live;
            s->state_dirty = 1;
        }
    }
    if (stream_id_cmp(id, &s->max_deleted) > 0) {
        s->max_deleted = *id;
        s->state_dirty = 1;
    }
    if (s->c.count == 0) {
        memset(&s->first_id, 0, sizeof(s->first_id));
    } else if (stream_id_cmp(id, &s->first_id) == 0) {
        r = first_entry_after(s, id, &s->first_id);
        if (r == 0) r = LSM_ECORRUPT;
        if (r < 0) return r;
    }
    return 1;
}

/* ---- trimming -------------------------------------------------------------------------------- */

/* Entry walk of a trim: forward from first-id, entries deleted behind it. */
typedef struct trim_walk {
    coll_iter ci;
    int open, valid;
    stream_id cur;
} trim_walk;

static int tw_load(trim_walk *w) {
    w->valid = coll_iter_valid(&w->ci);
    if (!w->valid) return coll_iter_status(&w->ci);
    size_t ml;
    const char *m = coll_iter_member(&w->ci, &ml);
    if (ml != 16) return LSM_ECORRUPT;
    stream_id_decode(m, &w->cur);
    return 0;
}

/* Opens the walk at first use (a trim that removes nothing creates no iterator). */
static int tw_open(trim_walk *w, const stream *s) {
    if (w->open) return 0;
    w->open = 1;
    if (s->c.count <= 0) return 0;
    /* from the first live entry: records at or below trimmed may still be there */
    stream_id from = s->first_id;
    if (stream_id_cmp(&from, &s->trimmed) <= 0) {
        from = s->trimmed;
        if (stream_id_incr(&from)) return 0;
    }
    char k[16];
    stream_id_encode(k, &from);
    int r = coll_iter_seek(&w->ci, &s->c, STREAM_SUB_ENTRY, k, 16);
    return r ? r : tw_load(w);
}

/* Trims the current entry (the trimmed-below mark covers it once the walk ends: every entry
 * before it is gone already) and moves to the next one. */
static int tw_trim(trim_walk *w, stream *s) {
    s->trimmed = w->cur;
    s->trimmed_dirty = 1;
    coll_count_add(&s->c, -1);
    coll_iter_next(&w->ci);
    return tw_load(w);
}

int stream_trim(stream *s, const stream_trim_args *a, int64_t *deleted) {
    *deleted = 0;
    if (a->strategy == STREAM_TRIM_NONE || !s->c.exists) return 0;
    /* Redis's first check, before any node is looked at: the common XADD MAXLEN case */
    if (a->strategy == STREAM_TRIM_MAXLEN && s->c.count <= a->maxlen) return 0;
    int r = stream_load_state(s);
    if (r) return r;
    if (a->approx && a->strategy == STREAM_TRIM_MAXLEN && !stream_id_is_zero(&s->head)) {
        /* the loop's first node decides it all when it cannot go: no iterator (XADD MAXLEN ~
         * of a capped stream lands here nearly every time) */
        int64_t first = (int64_t)s->head_live;
        if (stream_id_cmp(&s->head, &s->tail) == 0) first += s->tail_add_n;
        if ((a->limit && first > a->limit) || s->c.count - first < a->maxlen) return 0;
    }
    trim_walk w;
    memset(&w, 0, sizeof(w));
    coll_iter nodes;
    memset(&nodes, 0, sizeof(nodes));
    lsm_buf nb = {0};
    char hk[16];
    int have_head = !stream_id_is_zero(&s->head);
    if (have_head) stream_id_encode(hk, &s->head);
    /* from the head node: the records of nodes trimmed before are not stepped over */
    if ((r = coll_iter_seek(&nodes, &s->c, STREAM_SUB_NODE, have_head ? hk : NULL, have_head ? 16 : 0)))
        goto out;
    int removed = 0, rewrote = 0; /* nodes removed; the loop's last node rewritten */
    uint64_t rewrote_live = 0;
    for (; coll_iter_valid(&nodes); coll_iter_next(&nodes)) {
        if (a->strategy == STREAM_TRIM_MAXLEN && s->c.count <= a->maxlen) break;
        size_t ml, vl;
        const char *m = coll_iter_member(&nodes, &ml);
        const char *v = coll_iter_value(&nodes, &vl);
        if (ml != 16) {
            r = LSM_ECORRUPT;
            goto out;
        }
        stream_id master;
        stream_id_decode(m, &master);
        snode n;
        /* a copy: the node record is rewritten below */
        if (nb.cap < vl) {
            char *nd = realloc(nb.data, vl);
            if (!nd) {
                r = LSM_ENOMEM;
                goto out;
            }
            nb.data = nd;
            nb.cap = vl;
        }
        memcpy(nb.data, v, vl);
        nb.len = vl;
        if (node_decode(nb.data, nb.len, &master, &n)) {
            r = LSM_ECORRUPT;
            goto out;
        }
        int is_tail = stream_id_cmp(&n.master, &s->tail) == 0;
        if (is_tail) tail_effective(s, &n); /* what XADD appended, not in the record yet */
        int64_t entries = (int64_t)n.live;
        if (a->limit && *deleted + entries > a->limit) break;
        int remove_node = a->strategy == STREAM_TRIM_MAXLEN
                              ? s->c.count - entries >= a->maxlen
                              : stream_id_cmp(&n.last, &a->minid) < 0;
        if (remove_node) {
            /* every entry of the node goes: the mark moves past its last ID, and its records
             * are left to the compaction filter (no walk, nothing written per entry) */
            coll_count_add(&s->c, -entries);
            *deleted += entries;
            if (stream_id_cmp(&n.last, &s->trimmed) > 0) {
                s->trimmed = n.last;
                s->trimmed_dirty = 1;
            }
            if (w.open) { /* a walk opened before starts again past the mark */
                coll_iter_close(&w.ci);
                memset(&w, 0, sizeof(w));
            }
            if ((r = node_del(s, &n.master))) goto out;
            s->nnodes--;
            s->state_dirty = 1;
            removed = 1;
            if (is_tail) {
                memset(&s->tail, 0, sizeof(s->tail));
                s->tail_add_n = s->tail_add_bytes = 0;
            }
            continue;
        }
        if (a->approx) break;
        /* within the node: entries one by one from its first */
        if ((r = tw_open(&w, s))) goto out;
        int64_t gone = 0;
        while (w.valid && stream_id_cmp(&w.cur, &n.last) <= 0) {
            int stop = a->strategy == STREAM_TRIM_MAXLEN ? s->c.count <= a->maxlen
                                                          : stream_id_cmp(&w.cur, &a->minid) >= 0;
            if (stop) break;
            if ((r = tw_trim(&w, s))) goto out;
            gone++;
        }
        *deleted += gone;
        if (gone) {
            n.live -= (uint64_t)gone;
            n.deleted += (uint64_t)gone;
            if ((r = node_put(s, &n))) goto out;
            if (is_tail) s->tail_add_n = s->tail_add_bytes = 0; /* the record has them now */
            rewrote = 1;
            rewrote_live = n.live;
        }
        break;
    }
    if (r == 0) r = coll_iter_status(&nodes);
    if (r) goto out;
    if (removed || rewrote) {
        /* the loop stopped on the first node left (its record as the walk saw it, or as the
         * loop rewrote it), or ran out of nodes */
        memset(&s->head, 0, sizeof(s->head));
        s->head_live = 0;
        s->state_dirty = 1;
        if (coll_iter_valid(&nodes)) {
            size_t ml, vl;
            const char *m = coll_iter_member(&nodes, &ml);
            const char *v = coll_iter_value(&nodes, &vl);
            snode hn;
            stream_id hm;
            if (ml == 16) stream_id_decode(m, &hm);
            if (ml != 16 || node_decode(v, vl, &hm, &hn)) {
                r = LSM_ECORRUPT;
                goto out;
            }
            s->head = hm;
            s->head_live = rewrote ? rewrote_live : hn.live;
        }
    }
    if (s->c.count == 0) {
        memset(&s->first_id, 0, sizeof(s->first_id));
    } else if (*deleted) {
        r = first_entry_after(s, &s->trimmed, &s->first_id);
        if (r == 0) r = LSM_ECORRUPT; /* entries counted but none found */
        if (r < 0) goto out;
        r = 0;
    }
    if (*deleted) keyspace_notify_trimmed(s->c.version, (uint64_t)*deleted);
out:
    coll_iter_close(&nodes);
    coll_iter_close(&w.ci);
    lsm_buf_free(&nb);
    return r;
}

/* ---- XINFO figures ---------------------------------------------------------------------------- */

/* Nodes of Redis's rax holding the sorted, distinct 16-byte keys k[lo..hi) below depth d. */
static long long rax_count(const char (*k)[16], size_t lo, size_t hi, int d) {
    if (hi - lo == 1) return d < 16 ? 2 : 1; /* a compressed node for the rest, then the key */
    /* the common prefix of the range is that of its first and last keys (sorted) */
    int p = d;
    while (p < 16 && k[lo][p] == k[hi - 1][p]) p++;
    long long n = p > d ? 1 : 0;            /* a compressed node for the common part */
    n++;                                    /* the branching node */
    size_t i = lo;
    while (i < hi) {
        size_t j = i + 1;
        while (j < hi && k[j][p] == k[i][p]) j++;
        n += rax_count(k, i, j, p + 1);
        i = j;
    }
    return n;
}

int stream_radix_nodes(const stream *s, long long *out) {
    *out = 1; /* an empty rax is its root */
    if (!s->c.exists) return 0;
    coll_iter ci;
    char(*keys)[16] = NULL;
    size_t n = 0, cap = 0;
    char hk[16];
    int have_head = !stream_id_is_zero(&s->head);
    if (have_head) stream_id_encode(hk, &s->head);
    int r = coll_iter_seek(&ci, &s->c, STREAM_SUB_NODE, have_head ? hk : NULL, have_head ? 16 : 0);
    for (; r == 0 && coll_iter_valid(&ci); coll_iter_next(&ci)) {
        size_t ml;
        const char *m = coll_iter_member(&ci, &ml);
        if (ml != 16) {
            r = LSM_ECORRUPT;
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char(*nk)[16] = realloc(keys, nc * 16);
            if (!nk) {
                r = LSM_ENOMEM;
                break;
            }
            keys = nk;
            cap = nc;
        }
        memcpy(keys[n++], m, 16);
    }
    if (r == 0) r = coll_iter_status(&ci);
    coll_iter_close(&ci);
    if (r == 0 && n) *out = rax_count((const char(*)[16])keys, 0, n, 0);
    free(keys);
    return r;
}

int stream_range_has_tombstones(const stream *s, const stream_id *start, const stream_id *end) {
    if (!s->c.count || stream_id_is_zero(&s->max_deleted)) return 0;
    if (stream_id_cmp(&s->first_id, &s->max_deleted) > 0) return 0;
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    if (start) lo = *start;
    if (end) hi = *end;
    return stream_id_cmp(&lo, &s->max_deleted) <= 0 && stream_id_cmp(&s->max_deleted, &hi) <= 0;
}

long long stream_estimate_distance(const stream *s, const stream_id *id) {
    if (!s->entries_added) return 0;
    if (!s->c.count && stream_id_cmp(id, &s->last_id) < 1) return (long long)s->entries_added;
    int cmp_last = stream_id_cmp(id, &s->last_id);
    if (cmp_last == 0) return (long long)s->entries_added;
    if (cmp_last > 0) return STREAM_ENTRIES_READ_INVALID;
    int cmp_id_first = stream_id_cmp(id, &s->first_id);
    int cmp_xdel_first = stream_id_cmp(&s->max_deleted, &s->first_id);
    if (stream_id_is_zero(&s->max_deleted) || cmp_xdel_first < 0) {
        if (cmp_id_first < 0) return (long long)(s->entries_added - (uint64_t)s->c.count);
        if (cmp_id_first == 0) return (long long)(s->entries_added - (uint64_t)s->c.count + 1);
    }
    return STREAM_ENTRIES_READ_INVALID;
}

/* ---- consumer groups ---------------------------------------------------------------------- */

#define GROUP_LEN 56 /* last id | entries read | pel | consumers | pel head */

/* G = glen (4, BE) | group, into key_buf (reset); then more may be appended. */
static int gkey(sbuf *b, const stream_group *g) {
    b->len = 0;
    char l[4];
    put_be32(l, (uint32_t)g->nlen);
    int r = sbuf_add(b, l, 4);
    return r ? r : sbuf_add(b, g->name, g->nlen);
}

static int ckey_add(sbuf *b, const char *c, size_t clen) {
    char l[4];
    put_be32(l, (uint32_t)clen);
    int r = sbuf_add(b, l, 4);
    return r ? r : sbuf_add(b, c, clen);
}

int stream_group_decode(const char *v, size_t vlen, stream_group *g) {
    if (vlen != GROUP_LEN) return LSM_ECORRUPT;
    stream_id_decode(v, &g->last_id);
    g->entries_read = (long long)get_le64(v + 16);
    g->pel = get_le64(v + 24);
    g->consumers = get_le64(v + 32);
    stream_id_decode(v + 40, &g->pel_head);
    g->head_stale = 0;
    return 0;
}

int stream_group_get(const stream *s, const char *name, size_t nlen, stream_group *g) {
    if (!s->c.exists) return 0;
    int r = coll_get(&s->c, STREAM_SUB_GROUP, name, nlen, &read_buf);
    if (r <= 0) return r;
    g->name = name;
    g->nlen = nlen;
    return stream_group_decode(read_buf.data, read_buf.len, g) ? LSM_ECORRUPT : 1;
}

static int pel_head_from(const stream *s, stream_group *g, const stream_id *from);

int stream_group_put(stream *s, stream_group *g) {
    if (g->head_stale) {
        /* the first pending entry went: the next one, found once for all the command removed */
        int r = g->pel ? pel_head_from(s, g, &g->pel_head) : 0;
        if (r) return r;
        if (!g->pel) memset(&g->pel_head, 0, sizeof(g->pel_head));
        g->head_stale = 0;
    }
    char v[GROUP_LEN];
    stream_id_encode(v, &g->last_id);
    put_le64(v + 16, (uint64_t)g->entries_read);
    put_le64(v + 24, g->pel);
    put_le64(v + 32, g->consumers);
    stream_id_encode(v + 40, &g->pel_head);
    return coll_put(&s->c, STREAM_SUB_GROUP, g->name, g->nlen, v, sizeof(v));
}

/* Deletes every record of kind whose member starts with prefix. */
static int delete_prefixed(stream *s, uint8_t kind, const char *prefix, size_t plen) {
    coll_iter ci;
    sbuf del = {0};
    int r = coll_iter_seek(&ci, &s->c, kind, prefix, plen);
    for (; r == 0 && coll_iter_valid(&ci); coll_iter_next(&ci)) {
        size_t ml;
        const char *m = coll_iter_member(&ci, &ml);
        if (ml < plen || memcmp(m, prefix, plen) != 0) break;
        del.len = 0;
        if ((r = sbuf_add(&del, m, ml))) break;
        r = coll_del(&s->c, kind, del.p, del.len);
    }
    if (r == 0) r = coll_iter_status(&ci);
    coll_iter_close(&ci);
    free(del.p);
    return r;
}

int stream_group_destroy(stream *s, const stream_group *g) {
    int r = stream_load_state(s);
    if (r) return r;
    sbuf pfx = {0};
    if ((r = gkey(&pfx, g)) == 0 && (r = delete_prefixed(s, STREAM_SUB_PEL, pfx.p, pfx.len)) == 0 &&
        (r = delete_prefixed(s, STREAM_SUB_CPEL, pfx.p, pfx.len)) == 0 &&
        (r = delete_prefixed(s, STREAM_SUB_CONSUMER, pfx.p, pfx.len)) == 0)
        r = coll_del(&s->c, STREAM_SUB_GROUP, g->name, g->nlen);
    free(pfx.p);
    if (r) return r;
    s->ngroups--;
    s->state_dirty = 1;
    return 0;
}

/* ---- consumers -------------------------------------------------------------------------------- */

int stream_consumer_decode(const char *v, size_t vlen, stream_consumer *co) {
    if (vlen != 16) return LSM_ECORRUPT;
    co->seen_time = get_le64(v);
    co->pel = get_le64(v + 8);
    return 0;
}

int stream_consumer_get(const stream *s, const stream_group *g, const char *name, size_t nlen,
                        stream_consumer *co) {
    int r = gkey(&key_buf, g);
    if (r == 0) r = sbuf_add(&key_buf, name, nlen);
    if (r) return r;
    r = coll_get(&s->c, STREAM_SUB_CONSUMER, key_buf.p, key_buf.len, &read_buf);
    if (r <= 0) return r;
    co->name = name;
    co->nlen = nlen;
    return stream_consumer_decode(read_buf.data, read_buf.len, co) ? LSM_ECORRUPT : 1;
}

int stream_consumer_put(stream *s, const stream_group *g, const stream_consumer *co) {
    int r = gkey(&key_buf, g);
    if (r == 0) r = sbuf_add(&key_buf, co->name, co->nlen);
    if (r) return r;
    char v[16];
    put_le64(v, co->seen_time);
    put_le64(v + 8, co->pel);
    return coll_put(&s->c, STREAM_SUB_CONSUMER, key_buf.p, key_buf.len, v, sizeof(v));
}

int stream_consumer_pel_add(stream *s, const stream_group *g, const char *name, size_t nlen,
                            int64_t delta) {
    stream_consumer co;
    int r = stream_consumer_get(s, g, name, nlen, &co);
    if (r <= 0) return r;
    co.pel = (uint64_t)((int64_t)co.pel + delta);
    return stream_consumer_put(s, g, &co);
}

/* PEL key: G | id */
static int pel_key(sbuf *b, const stream_group *g, const stream_id *id) {
    int r = gkey(b, g);
    if (r) return r;
    char k[16];
    stream_id_encode(k, id);
    return sbuf_add(b, k, 16);
}

/* consumer PEL key: G | C | id */
static int cpel_key(sbuf *b, const stream_group *g, const char *c, size_t clen,
                    const stream_id *id) {
    int r = gkey(b, g);
    if (r == 0) r = ckey_add(b, c, clen);
    if (r) return r;
    if (!id) return 0;
    char k[16];
    stream_id_encode(k, id);
    return sbuf_add(b, k, 16);
}

/* g's first pending ID at or after from (0-0 when none): a seek that meets only the records
 * deleted since from was the head. 0 or < 0. */
static int pel_head_from(const stream *s, stream_group *g, const stream_id *from) {
    memset(&g->pel_head, 0, sizeof(g->pel_head));
    sbuf pfx = {0};
    coll_iter ci;
    memset(&ci, 0, sizeof(ci));
    int r = pel_key(&pfx, g, from);
    if (r == 0) r = coll_iter_seek(&ci, &s->c, STREAM_SUB_PEL, pfx.p, pfx.len);
    if (r == 0 && coll_iter_valid(&ci)) {
        size_t ml;
        const char *m = coll_iter_member(&ci, &ml);
        size_t gl = pfx.len - 16;
        if (ml == gl + 16 && memcmp(m, pfx.p, gl) == 0) stream_id_decode(m + gl, &g->pel_head);
    } else if (r == 0) {
        r = coll_iter_status(&ci);
    }
    coll_iter_close(&ci);
    free(pfx.p);
    return r;
}

int stream_consumer_delete(stream *s, stream_group *g, const stream_consumer *co) {
    sbuf pfx = {0}, k = {0};
    coll_iter ci;
    memset(&ci, 0, sizeof(ci));
    uint64_t gone = 0;
    int head_gone = 0;
    int r = cpel_key(&pfx, g, co->name, co->nlen, NULL);
    if (r) goto out;
    size_t plen = pfx.len;
    if (co->pel && !stream_id_is_zero(&g->pel_head)) {
        /* its entries are all at or after the group's head */
        char hk[16];
        stream_id_encode(hk, &g->pel_head);
        if ((r = sbuf_add(&pfx, hk, 16))) goto out;
    }
    if (co->pel) r = coll_iter_seek(&ci, &s->c, STREAM_SUB_CPEL, pfx.p, pfx.len);
    pfx.len = plen;
    for (; r == 0 && gone < co->pel && coll_iter_valid(&ci); coll_iter_next(&ci)) {
        size_t ml;
        const char *m = coll_iter_member(&ci, &ml);
        if (ml != pfx.len + 16 || memcmp(m, pfx.p, pfx.len) != 0) break;
        stream_id id;
        stream_id_decode(m + pfx.len, &id);
        k.len = 0;
        if ((r = sbuf_add(&k, m, ml)) || (r = coll_del(&s->c, STREAM_SUB_CPEL, k.p, k.len)))
            break;
        if ((r = pel_key(&k, g, &id)) || (r = coll_del(&s->c, STREAM_SUB_PEL, k.p, k.len))) break;
        if (!stream_id_cmp(&id, &g->pel_head)) head_gone = 1;
        gone++;
    }
    if (r == 0) r = coll_iter_status(&ci);
    if (r) goto out;
    if (gone != co->pel) {
        r = LSM_ECORRUPT; /* the consumer's count names its records */
        goto out;
    }
    if (head_gone) g->head_stale = 1; /* stream_group_put finds the next */
    if ((r = gkey(&k, g)) || (r = sbuf_add(&k, co->name, co->nlen)) ||
        (r = coll_del(&s->c, STREAM_SUB_CONSUMER, k.p, k.len)))
        goto out;
    g->pel -= gone;
    g->consumers--;
out:
    coll_iter_close(&ci);
    free(pfx.p);
    free(k.p);
    return r;
}

/* ---- pending entries --------------------------------------------------------------------------- */

int stream_nack_decode(const char *v, size_t vlen, stream_nack *n) {
    if (vlen < 16) return LSM_ECORRUPT;
    n->delivery_time = get_le64(v);
    n->delivery_count = get_le64(v + 8);
    n->consumer = v + 16;
    n->clen = vlen - 16;
    return 0;
}

int stream_nack_get(const stream *s, const stream_group *g, const stream_id *id, stream_nack *n,
                    lsm_buf *buf) {
    int r = pel_key(&key_buf, g, id);
    if (r) return r;
    r = coll_get(&s->c, STREAM_SUB_PEL, key_buf.p, key_buf.len, buf);
    if (r <= 0) return r;
    return stream_nack_decode(buf->data, buf->len, n) ? LSM_ECORRUPT : 1;
}

int stream_nack_put(stream *s, stream_group *g, const stream_id *id, const stream_nack *n,
                    const char *old_consumer, size_t old_clen) {
    sbuf *v = &val_buf;
    v->len = 0;
    int r = sbuf_reserve(v, 16 + n->clen);
    if (r) return r;
    put_le64(v->p, n->delivery_time);
    put_le64(v->p + 8, n->delivery_count);
    v->len = 16;
    if ((r = sbuf_add(v, n->consumer, n->clen))) return r;
    if ((r = pel_key(&key_buf, g, id)) ||
        (r = coll_put(&s->c, STREAM_SUB_PEL, key_buf.p, key_buf.len, v->p, v->len)))
        return r;
    if (!old_consumer && (stream_id_is_zero(&g->pel_head) || stream_id_cmp(id, &g->pel_head) < 0)) {
        g->pel_head = *id; /* a new first pending entry (before what was left) */
        g->head_stale = 0;
    }
    int moved = !old_consumer || old_clen != n->clen ||
                (old_clen && memcmp(old_consumer, n->consumer, old_clen) != 0);
    if (!moved) return 0;
    if (old_consumer) {
        if ((r = cpel_key(&key_buf, g, old_consumer, old_clen, id)) ||
            (r = coll_del(&s->c, STREAM_SUB_CPEL, key_buf.p, key_buf.len)))
            return r;
    }
    if ((r = cpel_key(&key_buf, g, n->consumer, n->clen, id))) return r;
    return coll_put(&s->c, STREAM_SUB_CPEL, key_buf.p, key_buf.len, "", 0);
}

int stream_nack_del(stream *s, stream_group *g, const stream_id *id, const char *consumer,
                    size_t clen) {
    int r = pel_key(&key_buf, g, id);
    if (r == 0) r = coll_del(&s->c, STREAM_SUB_PEL, key_buf.p, key_buf.len);
    if (r == 0) r = cpel_key(&key_buf, g, consumer, clen, id);
    if (r == 0) r = coll_del(&s->c, STREAM_SUB_CPEL, key_buf.p, key_buf.len);
    if (r == 0 && !stream_id_cmp(id, &g->pel_head)) g->head_stale = 1; /* stream_group_put finds the next */
    return r;
}

/* ---- group walks ------------------------------------------------------------------------------- */

int stream_gwalk_open(stream_gwalk *w, const stream *s, uint8_t kind, const stream_group *g,
                      const char *consumer, size_t clen, const stream_id *from, int rev,
                      uint64_t limit) {
    memset(w, 0, sizeof(*w));
    w->rev = rev;
    w->left = limit;
    if (kind == STREAM_SUB_PEL && g->pel < w->left) w->left = g->pel;
    if (kind == STREAM_SUB_CONSUMER && g->consumers < w->left) w->left = g->consumers;
    if (kind != STREAM_SUB_CONSUMER && g->pel == 0) w->left = 0;
    if (w->left == 0) return 0; /* nothing to walk: no seek at all */
    /* pending entries are at or after the group's head: the seek skips what was acknowledged */
    stream_id fromh;
    if (!rev && kind != STREAM_SUB_CONSUMER && !stream_id_is_zero(&g->pel_head) &&
        (!from || stream_id_cmp(from, &g->pel_head) < 0)) {
        fromh = g->pel_head;
        from = &fromh;
    }
    sbuf b = {0};
    int r = kind == STREAM_SUB_CPEL ? cpel_key(&b, g, consumer, clen, NULL) : gkey(&b, g);
    if (r) {
        free(b.p);
        return r;
    }
    w->prefix = b.p;
    w->plen = b.len;
    if (rev) {
        /* just past the prefix: the last record of the walk is before it */
        sbuf e = {0};
        if ((r = sbuf_add(&e, b.p, b.len)) || (r = sbuf_add(&e, "\xff\xff\xff\xff\xff\xff\xff\xff"
                                                              "\xff\xff\xff\xff\xff\xff\xff\xff"
                                                              "\xff",
                                                           17))) {
            free(e.p);
            return r;
        }
        r = coll_iter_seek_rev(&w->ci, &s->c, kind, e.p, e.len);
        free(e.p);
        return r;
    }
    if (from) {
        char k[16];
        stream_id_encode(k, from);
        if ((r = sbuf_add(&b, k, 16))) return r;
        w->prefix = b.p; /* may have moved */
    }
    r = coll_iter_seek(&w->ci, &s->c, kind, b.p, b.len);
    return r;
}

int stream_gwalk_next(stream_gwalk *w, const char **k, size_t *klen, const char **v,
                      size_t *vlen) {
    if (!w->ci.it || !w->prefix || w->left == 0) return 0;
    if (w->started) {
        if (w->rev) coll_iter_prev(&w->ci);
        else coll_iter_next(&w->ci);
    }
    w->started = 1;
    if (!coll_iter_valid(&w->ci)) return coll_iter_status(&w->ci);
    size_t ml;
    const char *m = coll_iter_member(&w->ci, &ml);
    if (ml < w->plen || memcmp(m, w->prefix, w->plen) != 0) {
        coll_iter_close(&w->ci);
        return 0;
    }
    *k = m + w->plen;
    *klen = ml - w->plen;
    *v = coll_iter_value(&w->ci, vlen);
    w->left--;
    return 1;
}

void stream_gwalk_close(stream_gwalk *w) {
    coll_iter_close(&w->ci);
    free(w->prefix);
    w->prefix = NULL;
}
