/* pubsub.c - channels, patterns, shard channels and message delivery (see pubsub.h).
 *
 * Server side: channel -> subscriber list (in subscription order: messages go out in that
 * order, as Redis's lists), one table per kind, and pattern -> subscriber list. Client side
 * (struct pubsub_state): its channels per kind (a set) and its patterns in subscription order
 * (PUNSUBSCRIBE without arguments walks them in that order, as Redis's list).
 * A published message is encoded once per protocol (RESP2 array / RESP3 push) and appended to
 * each receiver as raw bytes. */
#include "pubsub.h"

#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "reply.h"
#include "strmap.h"
#include "util.h"

typedef struct sublist {
    client **c;
    size_t n, cap;
} sublist;

typedef struct pattern {
    char *p;
    size_t len;
} pattern;

struct pubsub_state {
    strmap *chan[2];     /* channel -> NULL, per kind */
    pattern *pats;       /* in subscription order */
    size_t npats, cappats;
};

static strmap *server_chan[2];  /* channel -> sublist*, per kind */
static strmap *server_pats;     /* pattern -> sublist* */

static const char *const sub_name[2] = {"subscribe", "ssubscribe"};
static const char *const unsub_name[2] = {"unsubscribe", "sunsubscribe"};
static const char *const msg_name[2] = {"message", "smessage"};

/* ---- lists ------------------------------------------------------------------------------- */

static int sublist_add(sublist *l, client *c) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4;
        client **n = realloc(l->c, nc * sizeof(*n));
        if (!n) return -1;
        l->c = n;
        l->cap = nc;
    }
    l->c[l->n++] = c;
    return 0;
}

static void sublist_remove(sublist *l, client *c) {
    for (size_t i = 0; i < l->n; i++)
        if (l->c[i] == c) {
            memmove(l->c + i, l->c + i + 1, (l->n - i - 1) * sizeof(*l->c));
            l->n--;
            return;
        }
}

static void sublist_free(void *v) {
    sublist *l = v;
    if (!l) return;
    free(l->c);
    free(l);
}

static struct pubsub_state *state_of(client *c) {
    if (c->pubsub) return c->pubsub;
    struct pubsub_state *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    c->pubsub = s;
    return s;
}

/* ---- replies ----------------------------------------------------------------------------- */

int pubsub_client_count(const client *c, int what) {
    const struct pubsub_state *s = c->pubsub;
    if (!s) return 0;
    if (what == 0) return (int)strmap_size(s->chan[PUBSUB_GLOBAL]);
    if (what == 1) return (int)s->npats;
    return (int)strmap_size(s->chan[PUBSUB_SHARD]);
}

/* The count a (un)subscribe message carries: channels + patterns, or shard channels. */
static long long sub_count(const client *c, int kind) {
    if (kind == PUBSUB_SHARD) return pubsub_client_count(c, 2);
    return pubsub_client_count(c, 0) + pubsub_client_count(c, 1);
}

/* [name, channel or null, count] to c itself (a confirmation: reaches c under REPLY OFF). */
static void reply_confirm(client *c, const char *name, const char *ch, size_t len, int has_ch,
                          long long count) {
    if (!client_push_begin(c)) return;
    reply_push(c, 3);
    reply_bulk_cstr(c, name);
    if (has_ch) reply_bulk(c, ch, len);
    else reply_null(c);
    reply_int(c, count);
    client_push_end(c);
}

/* ---- subscribe / unsubscribe ------------------------------------------------------------- */

int pubsub_subscribe(client *c, const char *ch, size_t len, int kind) {
    struct pubsub_state *s = state_of(c);
    int added = 0;
    if (!s) goto oom;
    if (!s->chan[kind] && !(s->chan[kind] = strmap_new())) goto oom;
    if (!server_chan[kind] && !(server_chan[kind] = strmap_new())) goto oom;
    if (!strmap_find(s->chan[kind], ch, len, NULL)) {
        void *v;
        sublist *l;
        if (strmap_find(server_chan[kind], ch, len, &v)) {
            l = v;
        } else {
            l = calloc(1, sizeof(*l));
            if (!l) goto oom;
            if (strmap_add(server_chan[kind], ch, len, l) < 0) {
                free(l);
                goto oom;
            }
        }
        if (sublist_add(l, c) < 0) {
            if (l->n == 0) {
                strmap_del(server_chan[kind], ch, len, NULL);
                sublist_free(l);
            }
            goto oom;
        }
        if (strmap_add(s->chan[kind], ch, len, NULL) < 0) {
            sublist_remove(l, c);
            goto oom;
        }
        added = 1;
    }
    c->flags |= CLIENT_PUBSUB;
    reply_confirm(c, sub_name[kind], ch, len, 1, sub_count(c, kind));
    return added;
oom:
    reply_error(c, "ERR out of memory");
    return -1;
}

int pubsub_unsubscribe(client *c, const char *ch, size_t len, int kind, int notify) {
    struct pubsub_state *s = c->pubsub;
    int removed = 0;
    if (s && s->chan[kind] && strmap_del(s->chan[kind], ch, len, NULL)) {
        removed = 1;
        void *v;
        if (strmap_find(server_chan[kind], ch, len, &v)) {
            sublist *l = v;
            sublist_remove(l, c);
            if (l->n == 0) {
                strmap_del(server_chan[kind], ch, len, NULL);
                sublist_free(l);
            }
        }
    }
    if (notify) reply_confirm(c, unsub_name[kind], ch, len, 1, sub_count(c, kind));
    return removed;
}

int pubsub_unsubscribe_all(client *c, int kind, int notify) {
    struct pubsub_state *s = c->pubsub;
    int count = 0;
    if (s && s->chan[kind]) {
        strmap_iter it = {0};
        const char *k;
        size_t kl;
        while (strmap_next(s->chan[kind], &it, &k, &kl, NULL)) {
            /* unsubscribing deletes the entry k points into: work on a copy */
            char stack[256];
            char *copy = kl <= sizeof(stack) ? stack : malloc(kl);
            if (!copy) break;
            memcpy(copy, k, kl);
            count += pubsub_unsubscribe(c, copy, kl, kind, notify);
            if (copy != stack) free(copy);
        }
    }
    if (notify && count == 0) reply_confirm(c, unsub_name[kind], NULL, 0, 0, sub_count(c, kind));
    return count;
}

int pubsub_psubscribe(client *c, const char *pat, size_t len) {
    struct pubsub_state *s = state_of(c);
    int added = 0;
    if (!s) goto oom;
    size_t i;
    for (i = 0; i < s->npats; i++)
        if (s->pats[i].len == len && memcmp(s->pats[i].p, pat, len) == 0) break;
    if (i == s->npats) {
        if (!server_pats && !(server_pats = strmap_new())) goto oom;
        if (s->npats == s->cappats) {
            size_t nc = s->cappats ? s->cappats * 2 : 4;
            pattern *np = realloc(s->pats, nc * sizeof(*np));
            if (!np) goto oom;
            s->pats = np;
            s->cappats = nc;
        }
        char *copy = malloc(len ? len : 1);
        if (!copy) goto oom;
        if (len) memcpy(copy, pat, len);
        void *v;
        sublist *l;
        if (strmap_find(server_pats, pat, len, &v)) {
            l = v;
        } else {
            l = calloc(1, sizeof(*l));
            if (!l || strmap_add(server_pats, pat, len, l) < 0) {
                free(l);
                free(copy);
                goto oom;
            }
        }
        if (sublist_add(l, c) < 0) {
            if (l->n == 0) {
                strmap_del(server_pats, pat, len, NULL);
                sublist_free(l);
            }
            free(copy);
            goto oom;
        }
        s->pats[s->npats].p = copy;
        s->pats[s->npats].len = len;
        s->npats++;
        added = 1;
    }
    c->flags |= CLIENT_PUBSUB;
    reply_confirm(c, "psubscribe", pat, len, 1, sub_count(c, PUBSUB_GLOBAL));
    return added;
oom:
    reply_error(c, "ERR out of memory");
    return -1;
}

int pubsub_punsubscribe(client *c, const char *pat, size_t len, int notify) {
    struct pubsub_state *s = c->pubsub;
    int removed = 0;
    for (size_t i = 0; s && i < s->npats; i++) {
        if (s->pats[i].len != len || memcmp(s->pats[i].p, pat, len) != 0) continue;
        void *v;
        if (strmap_find(server_pats, pat, len, &v)) {
            sublist *l = v;
            sublist_remove(l, c);
            if (l->n == 0) {
                strmap_del(server_pats, pat, len, NULL);
                sublist_free(l);
            }
        }
        /* the message below may name pat: keep the bytes until it is sent */
        char *gone = s->pats[i].p;
        memmove(s->pats + i, s->pats + i + 1, (s->npats - i - 1) * sizeof(*s->pats));
        s->npats--;
        removed = 1;
        if (notify) reply_confirm(c, "punsubscribe", gone, len, 1, sub_count(c, PUBSUB_GLOBAL));
        free(gone);
        return removed;
    }
    if (notify) reply_confirm(c, "punsubscribe", pat, len, 1, sub_count(c, PUBSUB_GLOBAL));
    return removed;
}

int pubsub_punsubscribe_all(client *c, int notify) {
    struct pubsub_state *s = c->pubsub;
    int count = 0;
    while (s && s->npats) {
        pattern first = s->pats[0];
        /* copy: punsubscribe frees the stored bytes */
        char stack[256];
        char *p = first.len <= sizeof(stack) ? stack : malloc(first.len);
        if (!p) break;
        memcpy(p, first.p, first.len);
        count += pubsub_punsubscribe(c, p, first.len, notify);
        if (p != stack) free(p);
    }
    if (notify && count == 0) reply_confirm(c, "punsubscribe", NULL, 0, 0, sub_count(c, PUBSUB_GLOBAL));
    return count;
}

void pubsub_update_mode(client *c) {
    if (sub_count(c, PUBSUB_GLOBAL) + sub_count(c, PUBSUB_SHARD) == 0) c->flags &= ~CLIENT_PUBSUB;
}

void pubsub_client_free(client *c) {
    struct pubsub_state *s = c->pubsub;
    if (!s) return;
    pubsub_unsubscribe_all(c, PUBSUB_GLOBAL, 0);
    pubsub_unsubscribe_all(c, PUBSUB_SHARD, 0);
    pubsub_punsubscribe_all(c, 0);
    strmap_free(s->chan[0], NULL);
    strmap_free(s->chan[1], NULL);
    free(s->pats);
    free(s);
    c->pubsub = NULL;
    c->flags &= ~CLIENT_PUBSUB;
}

/* ---- publish ----------------------------------------------------------------------------- */

/* A message encoded once per protocol (index resp == 3), built on first use. */
typedef struct encoded {
    char *p[2];
    size_t len[2];
    char stack[2][512];
} encoded;

static size_t enc_bulk(char *dst, const char *s, size_t len) {
    size_t n = resp_fmt_header(dst, '$', (long long)len);
    if (len) memcpy(dst + n, s, len);
    n += len;
    dst[n++] = '\r';
    dst[n++] = '\n';
    return n;
}

/* [kind name, (pattern,) channel, msg] for protocol 2 or 3. */
static const char *encode(encoded *e, int resp3, const char *name, const char *pat, size_t plen,
                          const char *ch, size_t clen, const char *msg, size_t mlen, size_t *out) {
    int i = resp3 ? 1 : 0;
    if (e->p[i]) {
        *out = e->len[i];
        return e->p[i];
    }
    size_t need = 24 + 4 * 26 + strlen(name) + (pat ? plen : 0) + clen + mlen;
    char *d = need <= sizeof(e->stack[i]) ? e->stack[i] : malloc(need);
    if (!d) return NULL;
    size_t n = resp_fmt_header(d, resp3 ? '>' : '*', pat ? 4 : 3);
    n += enc_bulk(d + n, name, strlen(name));
    if (pat) n += enc_bulk(d + n, pat, plen);
    n += enc_bulk(d + n, ch, clen);
    n += enc_bulk(d + n, msg, mlen);
    e->p[i] = d;
    e->len[i] = n;
    *out = n;
    return d;
}

static void encoded_free(encoded *e) {
    for (int i = 0; i < 2; i++)
        if (e->p[i] && e->p[i] != e->stack[i]) free(e->p[i]);
}

static void deliver(client *c, encoded *e, const char *name, const char *pat, size_t plen,
                    const char *ch, size_t clen, const char *msg, size_t mlen) {
    if (!client_push_begin(c)) return;
    size_t n;
    const char *p = encode(e, c->resp >= 3, name, pat, plen, ch, clen, msg, mlen, &n);
    if (p) reply_proto(c, p, n);
    client_push_end(c);
}

long long pubsub_publish(const char *ch, size_t len, const char *msg, size_t mlen, int kind) {
    long long receivers = 0;
    void *v;
    if (server_chan[kind] && strmap_find(server_chan[kind], ch, len, &v)) {
        sublist *l = v;
        encoded e;
        e.p[0] = e.p[1] = NULL;
        for (size_t i = 0; i < l->n; i++) {
            deliver(l->c[i], &e, msg_name[kind], NULL, 0, ch, len, msg, mlen);
            receivers++;
        }
        encoded_free(&e);
    }
    if (kind == PUBSUB_SHARD || !server_pats || strmap_size(server_pats) == 0) return receivers;
    strmap_iter it = {0};
    const char *pat;
    size_t plen;
    while (strmap_next(server_pats, &it, &pat, &plen, &v)) {
        if (!glob_match(pat, plen, ch, len, 0)) continue;
        sublist *l = v;
        encoded e;
        e.p[0] = e.p[1] = NULL;
        for (size_t i = 0; i < l->n; i++) {
            deliver(l->c[i], &e, "pmessage", pat, plen, ch, len, msg, mlen);
            receivers++;
        }
        encoded_free(&e);
    }
    return receivers;
}

int pubsub_has_subscribers(void) {
    return strmap_size(server_chan[PUBSUB_GLOBAL]) || strmap_size(server_pats);
}

/* ---- introspection ------------------------------------------------------------------------- */

long long pubsub_channel_count(int kind) { return (long long)strmap_size(server_chan[kind]); }
long long pubsub_pattern_count(void) { return (long long)strmap_size(server_pats); }

long long pubsub_numsub(const char *ch, size_t len, int kind) {
    void *v;
    if (!server_chan[kind] || !strmap_find(server_chan[kind], ch, len, &v)) return 0;
    return (long long)((sublist *)v)->n;
}

void pubsub_reply_channels(client *c, const char *pat, size_t plen, int kind) {
    void *h = reply_defer_len(c);
    long n = 0;
    strmap_iter it = {0};
    const char *ch;
    size_t len;
    while (strmap_next(server_chan[kind], &it, &ch, &len, NULL)) {
        if (pat && !glob_match(pat, plen, ch, len, 0)) continue;
        reply_bulk(c, ch, len);
        n++;
    }
    reply_set_deferred_array(c, h, n);
}
