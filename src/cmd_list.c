/* cmd_list.c - the non-blocking list commands (Redis 7.0 semantics, arity, flags, error strings
 * and their order, RESP2/RESP3 reply types) over types/list.h.
 * Every write command checks its arguments and the key types first, then writes inside one
 * engine write group (keyspace_begin .. keyspace_commit: one WAL record, so LMOVE's pop and push
 * survive a crash together or not at all) and replies; replies streamed before the commit are
 * taken back when it fails. Reads stream elements from engine iterators. */
#include "client.h"
#include "cmd_coll.h"
#include "command.h"
#include "keyspace.h"
#include "notify.h"
#include "server.h"
#include "types/list.h"
#include "util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_OUT_OF_RANGE "ERR index out of range"
#define ERR_POSITIVE "ERR value is out of range, must be positive"

static lsm_buf elem; /* an element read (LINDEX, a pop): amortized */

static void elem_trim(void) {
    if (elem.cap > (64u << 10)) lsm_buf_free(&elem);
}

/* Opens argv key as a list: 1 exists, 0 absent, -1 replied (wrong type or engine error). The
 * coll must be closed by the caller whatever the result. */
static int lopen(client *c, coll *l, const cmdarg *k, int flags) {
    return cmd_coll_opened(c, list_open(l, c->db, k->ptr, k->len, flags));
}

/* After a failed write: drops the group's writes, takes back the replies since mk (when not
 * NULL) and replies the error. */
static void lfail(client *c, const reply_mark *mk, int r) {
    keyspace_abort();
    if (mk) client_reply_truncate(c, mk);
    keyspace_reply_engine_error(c, r);
}

/* Commits the group: 0, or -1 after taking back the replies since mk and replying the error. */
static int lcommit(client *c, const reply_mark *mk) {
    int r = keyspace_commit();
    if (r) {
        if (mk) client_reply_truncate(c, mk);
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return 0;
}

/* A keyspace event (notify.h) for key k of the client's db. */
static void event(client *c, int type, const char *name, const cmdarg *k) {
    notify_keyspace_event(type, name, c->db, k->ptr, k->len);
}

/* Redis's listElementsRemoved: the pop event, and "del" when the list is gone. */
static void popped(client *c, const cmdarg *k, int where, const coll *l) {
    event(c, NOTIFY_LIST, where == LIST_HEAD ? "lpop" : "rpop", k);
    if (!l->exists) event(c, NOTIFY_GENERIC, "del", k);
}

static int same_arg(const cmdarg *a, const cmdarg *b) {
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

/* Redis's getLongFromObjectOrReply: 1 ok, 0 replied (msg, or the generic error). */
static int get_long(client *c, const cmdarg *a, long long *out, const char *msg) {
    if (string2ll(a->ptr, a->len, out)) return 1;
    reply_error(c, msg ? msg : ERR_NOT_INT);
    return 0;
}

int cmd_list_position(client *c, const cmdarg *a) {
    if (!strcasecmp(a->ptr, "right")) return LIST_TAIL;
    if (!strcasecmp(a->ptr, "left")) return LIST_HEAD;
    reply_error(c, ERR_SYNTAX);
    return -1;
}

/* Replies n elements from index start as an array of n, walking toward the tail (reverse:
 * toward the head, start then counting from the tail as in list_iter_seek). 0 or a negative
 * code (the caller takes the reply back). */
static int reply_range(client *c, const coll *l, int64_t start, int64_t n, int reverse) {
    reply_array(c, (long)n);
    if (n == 0) return 0;
    list_iter li;
    int64_t got = 0;
    int r = list_iter_seek_readonly(&li, l, start, reverse);
    for (; r == 0 && got < n && list_iter_valid(&li); list_iter_next(&li), got++) {
        size_t el;
        const char *e = list_iter_value(&li, &el);
        reply_bulk(c, e, el);
    }
    if (r == 0) r = list_iter_status(&li);
    if (r == 0 && got != n) r = LSM_ECORRUPT;
    list_iter_close(&li);
    return r;
}

/* ---- LPUSH / RPUSH / LPUSHX / RPUSHX -------------------------------------------------------- */

static void push_generic(client *c, int where, int xx) {
    coll l;
    int r = lopen(c, &l, &c->argv[1], 0);
    if (r < 0) goto out;
    if (r == 0 && xx) {
        reply_int(c, 0);
        goto out;
    }
    keyspace_begin();
    if ((r = list_create(&l))) goto fail;
    for (int j = 2; j < c->argc; j++)
        if ((r = list_push(&l, where, c->argv[j].ptr, c->argv[j].len))) goto fail;
    if ((r = list_save(&l))) goto fail;
    if (lcommit(c, NULL)) goto out;
    reply_int(c, list_len(&l));
    event(c, NOTIFY_LIST, where == LIST_HEAD ? "lpush" : "rpush", &c->argv[1]);
    goto out;
fail:
    lfail(c, NULL, r);
out:
    coll_close(&l);
}

static void cmd_lpush(client *c) { push_generic(c, LIST_HEAD, 0); }
static void cmd_rpush(client *c) { push_generic(c, LIST_TAIL, 0); }
static void cmd_lpushx(client *c) { push_generic(c, LIST_HEAD, 1); }
static void cmd_rpushx(client *c) { push_generic(c, LIST_TAIL, 1); }

/* ---- LPOP / RPOP ---------------------------------------------------------------------------- */

/* Pops up to count elements of an existing list at where, replying them as an array (tail
 * first for LIST_TAIL, as Redis). Inside the caller's write group; the list is saved. 0 or a
 * negative code (the caller takes the reply back). */
static int pop_range(client *c, coll *l, int where, long long count) {
    int64_t n = list_len(l);
    int64_t k = count > n ? n : (int64_t)count;
    int r = reply_range(c, l, 0, k, where == LIST_TAIL);
    if (r == 0) r = where == LIST_HEAD ? list_trim(l, k, n - 1) : list_trim(l, 0, n - k - 1);
    if (r == 0) r = list_save(l);
    return r;
}

static void pop_generic(client *c, int where) {
    long long count = 0;
    int hascount = c->argc == 3;
    if (c->argc > 3) {
        reply_wrong_arity(c, where == LIST_HEAD ? "lpop" : "rpop");
        return;
    }
    if (hascount && !cmd_coll_range_long(c, &c->argv[2], 0, LLONG_MAX, ERR_POSITIVE, &count))
        return;
    coll l;
    int r = lopen(c, &l, &c->argv[1], 0);
    if (r == 0) {
        if (hascount) reply_null_array(c);
        else reply_null(c);
    }
    if (r <= 0) goto out;
    if (hascount && count == 0) {
        reply_array(c, 0);
        goto out;
    }
    keyspace_begin();
    if (!hascount) {
        r = list_pop(&l, where, &elem);
        if (r == 0) r = LSM_ECORRUPT; /* an existing list has elements */
        if (r < 0 || (r = list_save(&l))) {
            lfail(c, NULL, r);
            goto out;
        }
        if (lcommit(c, NULL)) goto out;
        reply_bulk(c, elem.data, elem.len);
        popped(c, &c->argv[1], where, &l);
        goto out;
    }
    reply_mark mk;
    client_reply_mark(c, &mk);
    if ((r = pop_range(c, &l, where, count))) {
        lfail(c, &mk, r);
        goto out;
    }
    if (lcommit(c, &mk) == 0) popped(c, &c->argv[1], where, &l);
out:
    elem_trim();
    coll_close(&l);
}

static void cmd_lpop(client *c) { pop_generic(c, LIST_HEAD); }
static void cmd_rpop(client *c) { pop_generic(c, LIST_TAIL); }

/* ---- LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] ----------------------------------- */

static void cmd_lmpop(client *c) {
    long long numkeys, count;
    int right;
    if (!cmd_coll_parse_mpop(c, 1, "left", "right", &numkeys, &right, &count)) return;
    int where = right ? LIST_TAIL : LIST_HEAD;
    if (!cmd_list_pop(c, &c->argv[2], (int)numkeys, where, count, 0)) reply_null_array(c);
}

int cmd_list_pop(client *c, const cmdarg *keys, int nkeys, int where, long long count, int flags) {
    for (int i = 0; i < nkeys; i++) {
        const cmdarg *key = &keys[i];
        coll l;
        int r = list_open(&l, c->db, key->ptr, key->len, 0);
        if (r == COLL_WRONGTYPE && (flags & LIST_POP_SKIP_WRONGTYPE)) {
            r = 0;
        } else if (r == COLL_WRONGTYPE) {
            reply_error(c, ERR_WRONGTYPE);
        } else if (r < 0) {
            keyspace_reply_engine_error(c, r);
        }
        if (r < 0) {
            coll_close(&l);
            return 1;
        }
        if (r == 0) {
            coll_close(&l);
            continue;
        }
        keyspace_begin();
        if (count == -1) { /* BLPOP/BRPOP: [key, element] */
            r = list_pop(&l, where, &elem);
            if (r == 0) r = LSM_ECORRUPT; /* an existing list has elements */
            if (r < 0 || (r = list_save(&l))) {
                lfail(c, NULL, r);
            } else if (lcommit(c, NULL) == 0) {
                reply_array(c, 2);
                reply_bulk(c, key->ptr, key->len);
                reply_bulk(c, elem.data, elem.len);
                popped(c, key, where, &l);
            }
            elem_trim();
            coll_close(&l);
            return 1;
        }
        reply_mark mk;
        client_reply_mark(c, &mk);
        reply_array(c, 2);
        reply_bulk(c, key->ptr, key->len);
        if ((r = pop_range(c, &l, where, count))) lfail(c, &mk, r);
        else if (lcommit(c, &mk) == 0) popped(c, key, where, &l);
        coll_close(&l);
        return 1;
    }
    return 0;
}

/* ---- LLEN / LINDEX / LRANGE ----------------------------------------------------------------- */

static void cmd_llen(client *c) {
    coll l;
    int r = lopen(c, &l, &c->argv[1], KS_LOOKUP_READ);
    if (r >= 0) reply_int(c, list_len(&l));
    coll_close(&l);
}

static void cmd_lindex(client *c) {
    coll l;
    long long idx;
    int r = lopen(c, &l, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) reply_null(c); /* before the index is parsed, as Redis */
    if (r <= 0 || !get_long(c, &c->argv[2], &idx, NULL)) goto out;
    r = list_index(&l, idx, &elem);
    if (r < 0) keyspace_reply_engine_error(c, r);
    else if (r == 0) reply_null(c);
    else reply_bulk(c, elem.data, elem.len);
out:
    elem_trim();
    coll_close(&l);
}

/* Redis's range normalisation (addListRangeReply, LTRIM): 1 and [*s, *e] inside the list, or 0
 * when the range is empty. */
static int norm_range(long long start, long long end, int64_t len, int64_t *s, int64_t *e) {
    if (start < 0) start = len + start;
    if (end < 0) end = len + end;
    if (start < 0) start = 0;
    if (start > end || start >= len) return 0;
    if (end >= len) end = len - 1;
    *s = start;
    *e = end;
    return 1;
}

static void cmd_lrange(client *c) {
    long long start, end;
    if (!get_long(c, &c->argv[2], &start, NULL) || !get_long(c, &c->argv[3], &end, NULL)) return;
    coll l;
    int r = lopen(c, &l, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) reply_array(c, 0);
    if (r <= 0) goto out;
    int64_t s, e;
    if (!norm_range(start, end, list_len(&l), &s, &e)) {
        reply_array(c, 0);
        goto out;
    }
    reply_mark mk;
    client_reply_mark(c, &mk);
    if ((r = reply_range(c, &l, s, e - s + 1, 0))) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, r);
    }
out:
    coll_close(&l);
}

/* ---- LSET / LINSERT / LREM / LTRIM ---------------------------------------------------------- */

static void cmd_lset(client *c) {
    coll l;
    long long idx;
    int r = lopen(c, &l, &c->argv[1], 0);
    if (r == 0) reply_error(c, ERR_NO_KEY);
    if (r <= 0 || !get_long(c, &c->argv[2], &idx, NULL)) goto out;
    keyspace_begin();
    r = list_set(&l, idx, c->argv[3].ptr, c->argv[3].len);
    if (r == 0) {
        keyspace_commit();
        reply_error(c, ERR_OUT_OF_RANGE);
        goto out;
    }
    if (r < 0 || (r = list_save(&l))) {
        lfail(c, NULL, r);
        goto out;
    }
    if (lcommit(c, NULL) == 0) {
        reply_ok(c);
        event(c, NOTIFY_LIST, "lset", &c->argv[1]);
    }
out:
    coll_close(&l);
}

static void cmd_linsert(client *c) {
    int after;
    if (!strcasecmp(c->argv[2].ptr, "after")) {
        after = 1;
    } else if (!strcasecmp(c->argv[2].ptr, "before")) {
        after = 0;
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    coll l;
    int r = lopen(c, &l, &c->argv[1], 0);
    if (r == 0) reply_int(c, 0);
    if (r <= 0) goto out;
    const cmdarg *pivot = &c->argv[3], *v = &c->argv[4];
    list_iter li;
    int64_t at = -1;
    r = list_iter_seek(&li, &l, 0, 0);
    for (; r == 0 && list_iter_valid(&li); list_iter_next(&li)) {
        size_t el;
        const char *e = list_iter_value(&li, &el);
        if (el == pivot->len && (el == 0 || memcmp(e, pivot->ptr, el) == 0)) {
            at = li.index;
            break;
        }
    }
    if (r == 0) r = list_iter_status(&li);
    list_iter_close(&li);
    if (r) {
        keyspace_reply_engine_error(c, r);
        goto out;
    }
    if (at < 0) {
        reply_int(c, -1);
        goto out;
    }
    keyspace_begin();
    if ((r = list_insert_at(&l, at + after, v->ptr, v->len)) || (r = list_save(&l))) {
        lfail(c, NULL, r);
        goto out;
    }
    if (lcommit(c, NULL) == 0) {
        event(c, NOTIFY_LIST, "linsert", &c->argv[1]);
        reply_int(c, list_len(&l));
    }
out:
    coll_close(&l);
}

static void cmd_lrem(client *c) {
    long long count;
    if (!get_long(c, &c->argv[2], &count, NULL)) return;
    coll l;
    int r = lopen(c, &l, &c->argv[1], 0);
    if (r == 0) reply_int(c, 0);
    if (r <= 0) goto out;
    keyspace_begin();
    int64_t removed = 0;
    if ((r = list_rem(&l, c->argv[3].ptr, c->argv[3].len, count, &removed))) {
        lfail(c, NULL, r);
        goto out;
    }
    if (removed && (r = list_save(&l))) {
        lfail(c, NULL, r);
        goto out;
    }
    if (lcommit(c, NULL) == 0) {
        if (removed) event(c, NOTIFY_LIST, "lrem", &c->argv[1]);
        if (!l.exists) event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
        reply_int(c, removed);
    }
out:
    coll_close(&l);
}

static void cmd_ltrim(client *c) {
    long long start, end;
    if (!get_long(c, &c->argv[2], &start, NULL) || !get_long(c, &c->argv[3], &end, NULL)) return;
    coll l;
    int r = lopen(c, &l, &c->argv[1], 0);
    if (r == 0) reply_ok(c);
    if (r <= 0) goto out;
    int64_t n = list_len(&l), s = 1, e = 0;
    norm_range(start, end, n, &s, &e); /* an empty range keeps s > e: the list goes */
    if (s == 0 && e == n - 1) {
        coll_touch(&l); /* nothing trimmed: Redis still signals the key (WATCH) */
        event(c, NOTIFY_LIST, "ltrim", &c->argv[1]); /* and publishes the event */
        reply_ok(c);
        goto out;
    }
    keyspace_begin();
    if ((r = list_trim(&l, s, e)) || (r = list_save(&l))) {
        lfail(c, NULL, r);
        goto out;
    }
    if (lcommit(c, NULL) == 0) {
        event(c, NOTIFY_LIST, "ltrim", &c->argv[1]);
        if (!l.exists) event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
        reply_ok(c);
    }
out:
    coll_close(&l);
}

/* ---- LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] -------------------------- */

static void cmd_lpos(client *c) {
    long long rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < c->argc; j++) {
        const char *opt = c->argv[j].ptr;
        int more = c->argc - 1 - j;
        if (!strcasecmp(opt, "rank") && more) {
            j++;
            if (!get_long(c, &c->argv[j], &rank, NULL)) return;
            if (rank == 0) {
                reply_error(c, "ERR RANK can't be zero: use 1 to start from the first match, 2 "
                               "from the second ... or use negative to start from the end of "
                               "the list");
                return;
            }
        } else if (!strcasecmp(opt, "count") && more) {
            j++;
            if (!cmd_coll_range_long(c, &c->argv[j], 0, LLONG_MAX, "ERR COUNT can't be negative",
                                     &count))
                return;
        } else if (!strcasecmp(opt, "maxlen") && more) {
            j++;
            if (!cmd_coll_range_long(c, &c->argv[j], 0, LLONG_MAX,
                                     "ERR MAXLEN can't be negative", &maxlen))
                return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    /* A negative rank searches from the tail. Redis negates it in a long: RANK LLONG_MIN stays
     * negative there, so every match qualifies and COUNT never ends the walk. */
    int reverse = rank < 0;
    int unbounded = rank == LLONG_MIN;
    if (unbounded) rank = 1;
    else if (rank < 0) rank = -rank;
    coll l;
    int r = lopen(c, &l, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) {
        if (count != -1) reply_array(c, 0);
        else reply_null(c);
    }
    if (r <= 0) goto out;
    const cmdarg *v = &c->argv[2];
    reply_mark mk;
    client_reply_mark(c, &mk);
    void *h = count != -1 ? reply_defer_len(c) : NULL;
    long long scanned = 0, matches = 0, found = -1, arraylen = 0;
    list_iter li;
    r = list_iter_seek_readonly(&li, &l, 0, reverse);
    for (; r == 0 && list_iter_valid(&li) && (maxlen == 0 || scanned < maxlen);
         list_iter_next(&li), scanned++) {
        size_t el;
        const char *e = list_iter_value(&li, &el);
        if (el != v->len || (el && memcmp(e, v->ptr, el) != 0)) continue;
        if (++matches < rank) continue;
        if (!h) {
            found = li.index;
            break;
        }
        arraylen++;
        reply_int(c, li.index);
        if (count && !unbounded && matches - rank + 1 >= count) break;
    }
    if (r == 0) r = list_iter_status(&li);
    list_iter_close(&li);
    if (r) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, r);
    } else if (h) {
        reply_set_deferred_array(c, h, arraylen);
    } else if (found >= 0) {
        reply_int(c, found);
    } else {
        reply_null(c);
    }
out:
    coll_close(&l);
}

/* ---- LMOVE / RPOPLPUSH ---------------------------------------------------------------------- */

int cmd_list_move(client *c, const cmdarg *srckey, const cmdarg *dstkey, int from, int to) {
    coll src, dst;
    int same = same_arg(srckey, dstkey);
    int r = lopen(c, &src, srckey, 0);
    int dst_open = 0, replied = 1;
    if (r == 0) replied = 0;
    if (r <= 0) goto out;
    coll *d = &src;
    if (!same) {
        dst_open = 1;
        if (lopen(c, &dst, dstkey, 0) < 0) goto out; /* WRONGTYPE before popping */
        d = &dst;
    }
    keyspace_begin();
    r = list_pop(&src, from, &elem);
    if (r == 0) r = LSM_ECORRUPT;
    if (r < 0) goto fail;
    if (!same && (r = list_save(&src))) goto fail;
    if ((r = list_create(d)) || (r = list_push(d, to, elem.data, elem.len)) ||
        (r = list_save(d)))
        goto fail;
    if (lcommit(c, NULL) == 0) {
        /* Redis's lmoveHandlePush: the push event, the reply, then the source's pop events */
        event(c, NOTIFY_LIST, to == LIST_HEAD ? "lpush" : "rpush", dstkey);
        reply_bulk(c, elem.data, elem.len);
        popped(c, srckey, from, &src);
    }
    goto out;
fail:
    lfail(c, NULL, r);
out:
    elem_trim();
    if (dst_open) coll_close(&dst);
    coll_close(&src);
    return replied;
}

static void move_generic(client *c, int from, int to) {
    if (!cmd_list_move(c, &c->argv[1], &c->argv[2], from, to)) reply_null(c);
}

static void cmd_lmove(client *c) {
    int from = cmd_list_position(c, &c->argv[3]);
    if (from < 0) return;
    int to = cmd_list_position(c, &c->argv[4]);
    if (to < 0) return;
    move_generic(c, from, to);
}

static void cmd_rpoplpush(client *c) { move_generic(c, LIST_TAIL, LIST_HEAD); }

/* ---- table ---------------------------------------------------------------------------------- */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define G "list"

const struct command list_commands[] = {
    {"lpush", cmd_lpush, -3, W | D | F, 1, 1, 1, G,
     "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0",
     "key element [element ...]", NULL},
    {"rpush", cmd_rpush, -3, W | D | F, 1, 1, 1, G,
     "Appends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0",
     "key element [element ...]", NULL},
    {"lpushx", cmd_lpushx, -3, W | D | F, 1, 1, 1, G,
     "Prepends one or more elements to a list only when the list exists.", "2.2.0",
     "key element [element ...]", NULL},
    {"rpushx", cmd_rpushx, -3, W | D | F, 1, 1, 1, G,
     "Appends an element to a list only when the list exists.", "2.2.0",
     "key element [element ...]", NULL},
    {"lpop", cmd_lpop, -2, W | F, 1, 1, 1, G,
     "Returns the first elements in a list after removing it. Deletes the list if the last "
     "element was popped.",
     "1.0.0", "key [count]", NULL},
    {"rpop", cmd_rpop, -2, W | F, 1, 1, 1, G,
     "Returns and removes the last elements of a list. Deletes the list if the last element was "
     "popped.",
     "1.0.0", "key [count]", NULL},
    {"llen", cmd_llen, 2, R | F, 1, 1, 1, G, "Returns the length of a list.", "1.0.0", "key",
     NULL},
    {"lrange", cmd_lrange, 4, R, 1, 1, 1, G, "Returns a range of elements from a list.", "1.0.0",
     "key start stop", NULL},
    {"lindex", cmd_lindex, 3, R, 1, 1, 1, G, "Returns an element from a list by its index.",
     "1.0.0", "key index", NULL},
    {"lset", cmd_lset, 4, W | D, 1, 1, 1, G,
     "Sets the value of an element in a list by its index.", "1.0.0", "key index element", NULL},
    {"linsert", cmd_linsert, 5, W | D, 1, 1, 1, G,
     "Inserts an element before or after another element in a list.", "2.2.0",
     "key BEFORE|AFTER pivot element", NULL},
    {"lrem", cmd_lrem, 4, W, 1, 1, 1, G,
     "Removes elements from a list. Deletes the list if the last element was removed.", "1.0.0",
     "key count element", NULL},
    {"ltrim", cmd_ltrim, 4, W, 1, 1, 1, G,
     "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
     "1.0.0", "key start stop", NULL},
    {"lpos", cmd_lpos, -3, R, 1, 1, 1, G, "Returns the index of matching elements in a list.",
     "6.0.6", "key element [RANK rank] [COUNT num-matches] [MAXLEN len]", NULL},
    {"lmove", cmd_lmove, 5, W | D, 1, 2, 1, G,
     "Returns an element after popping it from one list and pushing it to another. Deletes the "
     "list if the last element was moved.",
     "6.2.0", "source destination LEFT|RIGHT LEFT|RIGHT", NULL},
    {"rpoplpush", cmd_rpoplpush, 3, W | D, 1, 2, 1, G,
     "Returns the last element of a list after removing and pushing it to another list. Deletes "
     "the list if the last element was popped.",
     "1.2.0", "source destination", NULL},
    {"lmpop", cmd_lmpop, -4, W | CMD_KEYNUM, 1, 1, 1, G,
     "Returns multiple elements from a list after removing them. Deletes the list if the last "
     "element was popped.",
     "7.0.0", "numkeys key [key ...] LEFT|RIGHT [COUNT count]", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
