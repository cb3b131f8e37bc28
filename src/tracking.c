/* tracking.c - client-side caching: CLIENT TRACKING and its invalidation messages (see
 * tracking.h).
 *
 * State:
 *   table     key -> set of client ids that may cache it (default mode); created by the first
 *             CLIENT TRACKING on and never dropped (Redis's TrackingTable)
 *   prefixes  BCAST prefixes in byte order, each with its clients and the keys modified since
 *             the last before-sleep (key -> id of the client that modified it last, 0 for
 *             expiry), so NOLOOP clients can be spared their own writes
 *   pending   invalidations for the client whose command is running: sent after its reply
 *             (Redis's tracking_pending_keys), a NULL key meaning "everything" (flush)
 * A client's ids stay in the table after it stops tracking or disconnects; they are dropped
 * when their key is invalidated (lazy, as Redis: a disconnect costs nothing). */
#include "tracking.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client.h"
#include "command.h"
#include "config.h"
#include "reply.h"
#include "script_run.h"
#include "server.h"
#include "strmap.h"
#include "util.h"

typedef struct prefix {
    char *p;
    size_t len;
} prefix;

struct tracking_state {
    uint64_t redirect;   /* client id, 0 = none */
    prefix *pfx;         /* BCAST prefixes of this client, byte order */
    size_t npfx, cappfx;
};

/* an open-addressing set of client ids (0 never is one) */
typedef struct idset {
    uint64_t *slot;
    size_t cap, n;
} idset;

typedef struct bcast {
    prefix pre;
    client **clients;
    size_t nclients, capclients;
    strmap *keys;        /* key -> (uintptr_t) id of the last writer, 0 = none */
} bcast;

typedef struct pending {
    char *key;           /* NULL: invalidate everything */
    size_t len;
} pending;

static strmap *table;
static long long total_items;
static bcast **bc;                 /* by prefix, byte order */
static size_t nbc, capbc;
static long long nclients;
static pending *pend;
static size_t npend, cappend;

#define ERR_OVERLAP_TAIL " Prefixes for a single client must not overlap."

/* ---------------------------------------------------------------- small helpers */

static int idset_add(idset *s, uint64_t id) {
    if ((s->n + 1) * 4 > s->cap * 3) {
        size_t nc = s->cap ? s->cap * 2 : 4;
        uint64_t *ns = calloc(nc, sizeof(*ns));
        if (!ns) return -1;
        for (size_t i = 0; i < s->cap; i++) {
            uint64_t v = s->slot[i];
            if (!v) continue;
            size_t j = (size_t)(v * 0x9E3779B97F4A7C15ull >> 7) & (nc - 1);
            while (ns[j]) j = (j + 1) & (nc - 1);
            ns[j] = v;
        }
        free(s->slot);
        s->slot = ns;
        s->cap = nc;
    }
    size_t j = (size_t)(id * 0x9E3779B97F4A7C15ull >> 7) & (s->cap - 1);
    while (s->slot[j]) {
        if (s->slot[j] == id) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->slot[j] = id;
    s->n++;
    return 1;
}

static void idset_free(void *v) {
    idset *s = v;
    if (!s) return;
    free(s->slot);
    free(s);
}

/* Byte order with a shorter string first on a common prefix (Redis's rax order). */
static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl) {
    size_t m = al < bl ? al : bl;
    int r = m ? memcmp(a, b, m) : 0;
    if (r) return r;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

/* One of the two is a prefix of the other (Redis's stringCheckPrefix). */
static int overlaps(const char *a, size_t al, const char *b, size_t bl) {
    size_t m = al < bl ? al : bl;
    return m == 0 || memcmp(a, b, m) == 0;
}

static uint64_t rnd_state;
static uint64_t rnd(void) {
    if (!rnd_state) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rnd_state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ 0x9E3779B97F4A7C15ull;
    }
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static struct tracking_state *state_of(client *c) {
    if (!c->tracking) c->tracking = calloc(1, sizeof(struct tracking_state));
    return c->tracking;
}

uint64_t tracking_redirect_id(const client *c) { return c->tracking ? c->tracking->redirect : 0; }

/* ---------------------------------------------------------------- messages */

/* Redis's sendTrackingMessage: key (proto == 0) or an already encoded RESP value (proto == 1:
 * a BCAST array or a null) to c or its redirect target. */
static void send_message(client *c, const char *key, size_t len, int proto) {
    client *to = c;
    int redirected = 0;
    uint64_t redir = tracking_redirect_id(c);
    if (redir) {
        to = client_by_id(redir);
        if (!to) {
            c->flags |= CLIENT_TRACKING_BROKEN_REDIR;
            if (c->resp > 2 && client_push_begin(c)) {
                reply_push(c, 2);
                reply_bulk(c, "tracking-redir-broken", 21);
                reply_int(c, (long long)redir);
                client_push_end(c);
            }
            return;
        }
        redirected = 1;
    }
    if (to->resp <= 2 && !(redirected && (to->flags & CLIENT_PUBSUB))) return; /* no way to tell */
    if (!client_push_begin(to)) return;
    if (to->resp > 2) {
        reply_push(to, 2);
        reply_bulk(to, "invalidate", 10);
    } else {
        /* RESP2 redirect target in pub/sub mode: a message on __redis__:invalidate */
        reply_push(to, 3);
        reply_bulk(to, "message", 7);
        reply_bulk(to, "__redis__:invalidate", 20);
    }
    if (proto) {
        reply_proto(to, key, len);
    } else {
        reply_array(to, 1);
        reply_bulk(to, key, len);
    }
    client_push_end(to);
}

/* A null as c's protocol encodes it (the flush invalidation carries the original client's). */
static void send_null(client *c) {
    if (c->resp > 2) send_message(c, "_\r\n", 3, 1);
    else send_message(c, "$-1\r\n", 5, 1);
}

static void pending_add(const char *key, size_t len) {
    if (npend == cappend) {
        size_t nc = cappend ? cappend * 2 : 8;
        pending *np = realloc(pend, nc * sizeof(*np));
        if (!np) return;
        pend = np;
        cappend = nc;
    }
    char *copy = NULL;
    if (key) {
        copy = malloc(len ? len : 1);
        if (!copy) return;
        if (len) memcpy(copy, key, len);
    }
    pend[npend].key = copy;
    pend[npend].len = len;
    npend++;
}

void tracking_command_done(void) {
    client *c = server.current_client;
    for (size_t i = 0; i < npend; i++) {
        if (c) {
            if (pend[i].key) send_message(c, pend[i].key, pend[i].len, 0);
            else send_null(c);
        }
        free(pend[i].key);
    }
    npend = 0;
    if (cappend > 1024) {
        free(pend);
        pend = NULL;
        cappend = 0;
    }
}

/* ---------------------------------------------------------------- BCAST prefixes */

/* Index of prefix p in bc, or -(insertion point) - 1. */
static long bc_find(const char *p, size_t len) {
    size_t lo = 0, hi = nbc;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = bytes_cmp(bc[mid]->pre.p, bc[mid]->pre.len, p, len);
        if (r == 0) return (long)mid;
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return -(long)lo - 1;
}

static int client_add_prefix(struct tracking_state *s, const char *p, size_t len) {
    size_t i = 0;
    while (i < s->npfx && bytes_cmp(s->pfx[i].p, s->pfx[i].len, p, len) < 0) i++;
    if (i < s->npfx && bytes_cmp(s->pfx[i].p, s->pfx[i].len, p, len) == 0) return 0;
    if (s->npfx == s->cappfx) {
        size_t nc = s->cappfx ? s->cappfx * 2 : 4;
        prefix *np = realloc(s->pfx, nc * sizeof(*np));
        if (!np) return -1;
        s->pfx = np;
        s->cappfx = nc;
    }
    char *copy = malloc(len ? len : 1);
    if (!copy) return -1;
    if (len) memcpy(copy, p, len);
    memmove(s->pfx + i + 1, s->pfx + i, (s->npfx - i) * sizeof(*s->pfx));
    s->pfx[i].p = copy;
    s->pfx[i].len = len;
    s->npfx++;
    return 1;
}

/* Redis's enableBcastTrackingForPrefix. */
static void bcast_enable(client *c, const char *p, size_t len) {
    long at = bc_find(p, len);
    bcast *b;
    if (at >= 0) {
        b = bc[at];
    } else {
        size_t ins = (size_t)(-at - 1);
        if (nbc == capbc) {
            size_t nc = capbc ? capbc * 2 : 8;
            bcast **nb = realloc(bc, nc * sizeof(*nb));
            if (!nb) return;
            bc = nb;
            capbc = nc;
        }
        b = calloc(1, sizeof(*b));
        if (!b) return;
        b->pre.p = malloc(len ? len : 1);
        b->keys = strmap_new();
        if (!b->pre.p || !b->keys) {
            free(b->pre.p);
            strmap_free(b->keys, NULL);
            free(b);
            return;
        }
        if (len) memcpy(b->pre.p, p, len);
        b->pre.len = len;
        memmove(bc + ins + 1, bc + ins, (nbc - ins) * sizeof(*bc));
        bc[ins] = b;
        nbc++;
    }
    for (size_t i = 0; i < b->nclients; i++)
        if (b->clients[i] == c) return;
    if (b->nclients == b->capclients) {
        size_t nc = b->capclients ? b->capclients * 2 : 4;
        client **n = realloc(b->clients, nc * sizeof(*n));
        if (!n) return;
        b->clients = n;
        b->capclients = nc;
    }
    struct tracking_state *s = state_of(c);
    if (!s || client_add_prefix(s, p, len) < 0) return;
    b->clients[b->nclients++] = c;
}

static void bcast_remove_client(client *c, const char *p, size_t len) {
    long at = bc_find(p, len);
    if (at < 0) return;
    bcast *b = bc[at];
    for (size_t i = 0; i < b->nclients; i++)
        if (b->clients[i] == c) {
            b->clients[i] = b->clients[--b->nclients];
            break;
        }
    if (b->nclients) return;
    free(b->clients);
    strmap_free(b->keys, NULL);
    free(b->pre.p);
    free(b);
    memmove(bc + at, bc + at + 1, (nbc - (size_t)at - 1) * sizeof(*bc));
    nbc--;
}

/* ---------------------------------------------------------------- enable / disable */

static void tracking_disable(client *c) {
    struct tracking_state *s = c->tracking;
    if ((c->flags & CLIENT_TRACKING_BCAST) && s) {
        for (size_t i = 0; i < s->npfx; i++) {
            bcast_remove_client(c, s->pfx[i].p, s->pfx[i].len);
            free(s->pfx[i].p);
        }
        free(s->pfx);
        s->pfx = NULL;
        s->npfx = s->cappfx = 0;
    }
    if (c->flags & CLIENT_TRACKING) {
        nclients--;
        c->flags &= ~(CLIENT_TRACKING | CLIENT_TRACKING_BROKEN_REDIR | CLIENT_TRACKING_BCAST |
                      CLIENT_TRACKING_OPTIN | CLIENT_TRACKING_OPTOUT | CLIENT_TRACKING_CACHING |
                      CLIENT_TRACKING_NOLOOP);
    }
}

void tracking_client_free(client *c) {
    tracking_disable(c);
    if (c->tracking) {
        for (size_t i = 0; i < c->tracking->npfx; i++) free(c->tracking->pfx[i].p);
        free(c->tracking->pfx);
        free(c->tracking);
        c->tracking = NULL;
    }
}

static void tracking_enable(client *c, uint64_t redirect, uint32_t options, const cmdarg *pfx,
                            size_t npfx) {
    if (!(c->flags & CLIENT_TRACKING)) nclients++;
    c->flags |= CLIENT_TRACKING;
    c->flags &= ~(CLIENT_TRACKING_BROKEN_REDIR | CLIENT_TRACKING_BCAST | CLIENT_TRACKING_OPTIN |
                  CLIENT_TRACKING_OPTOUT | CLIENT_TRACKING_NOLOOP);
    struct tracking_state *s = state_of(c);
    if (s) s->redirect = redirect;
    if (!table) table = strmap_new();
    if (options & CLIENT_TRACKING_BCAST) {
        c->flags |= CLIENT_TRACKING_BCAST;
        if (npfx == 0) bcast_enable(c, "", 0);
        for (size_t j = 0; j < npfx; j++) bcast_enable(c, pfx[j].ptr, pfx[j].len);
    }
    c->flags |= options & (CLIENT_TRACKING_OPTIN | CLIENT_TRACKING_OPTOUT | CLIENT_TRACKING_NOLOOP);
}

/* Redis's checkPrefixCollisionsOrReply, including its return value: 0 after an error about an
 * existing prefix or about the first given one; for an overlap between two given prefixes past
 * the first it replies the error and returns the index (non-zero), so the caller goes on. */
static size_t check_prefix_collisions(client *c, const cmdarg *pfx, size_t n) {
    const struct tracking_state *s = c->tracking;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; s && k < s->npfx; k++) {
            if (overlaps(s->pfx[k].p, s->pfx[k].len, pfx[i].ptr, pfx[i].len)) {
                reply_errorf(c, "ERR Prefix '%s' overlaps with an existing prefix '%.*s'." ERR_OVERLAP_TAIL,
                             pfx[i].ptr, (int)s->pfx[k].len, s->pfx[k].p);
                return 0;
            }
        }
        for (size_t j = i + 1; j < n; j++) {
            if (overlaps(pfx[i].ptr, pfx[i].len, pfx[j].ptr, pfx[j].len)) {
                reply_errorf(c, "ERR Prefix '%s' overlaps with another provided prefix '%s'." ERR_OVERLAP_TAIL,
                             pfx[i].ptr, pfx[j].ptr);
                return i;
            }
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- CLIENT subcommands */

void tracking_client_tracking_cmd(client *c) {
    long long redir = 0;
    uint32_t options = 0;
    cmdarg *pfx = NULL;
    size_t npfx = 0;
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        const char *o = c->argv[j].ptr;
        if (!strcasecmp(o, "redirect") && more) {
            j++;
            if (redir != 0) {
                reply_error(c, "ERR A client can only redirect to a single other client");
                goto out;
            }
            if (!string2ll(c->argv[j].ptr, c->argv[j].len, &redir)) {
                reply_error(c, ERR_NOT_INT);
                goto out;
            }
            if (redir <= 0 || !client_by_id((uint64_t)redir)) {
                reply_error(c, "ERR The client ID you want redirect to does not exist");
                goto out;
            }
        } else if (!strcasecmp(o, "bcast")) {
            options |= CLIENT_TRACKING_BCAST;
        } else if (!strcasecmp(o, "optin")) {
            options |= CLIENT_TRACKING_OPTIN;
        } else if (!strcasecmp(o, "optout")) {
            options |= CLIENT_TRACKING_OPTOUT;
        } else if (!strcasecmp(o, "noloop")) {
            options |= CLIENT_TRACKING_NOLOOP;
        } else if (!strcasecmp(o, "prefix") && more) {
            j++;
            cmdarg *np = realloc(pfx, (npfx + 1) * sizeof(*np));
            if (!np) {
                reply_error(c, "ERR out of memory");
                goto out;
            }
            pfx = np;
            pfx[npfx++] = c->argv[j];
        } else {
            reply_error(c, ERR_SYNTAX);
            goto out;
        }
    }
    if (!strcasecmp(c->argv[2].ptr, "on")) {
        if (!(options & CLIENT_TRACKING_BCAST) && npfx) {
            reply_error(c, "ERR PREFIX option requires BCAST mode to be enabled");
            goto out;
        }
        if (c->flags & CLIENT_TRACKING) {
            int oldb = !!(c->flags & CLIENT_TRACKING_BCAST), newb = !!(options & CLIENT_TRACKING_BCAST);
            if (oldb != newb) {
                reply_error(c, "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
                goto out;
            }
        }
        if ((options & CLIENT_TRACKING_BCAST) && (options & (CLIENT_TRACKING_OPTIN | CLIENT_TRACKING_OPTOUT))) {
            reply_error(c, "ERR OPTIN and OPTOUT are not compatible with BCAST");
            goto out;
        }
        if ((options & CLIENT_TRACKING_OPTIN) && (options & CLIENT_TRACKING_OPTOUT)) {
            reply_error(c, "ERR You can't specify both OPTIN mode and OPTOUT mode");
            goto out;
        }
        if (((options & CLIENT_TRACKING_OPTIN) && (c->flags & CLIENT_TRACKING_OPTOUT)) ||
            ((options & CLIENT_TRACKING_OPTOUT) && (c->flags & CLIENT_TRACKING_OPTIN))) {
            reply_error(c, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
            goto out;
        }
        if ((options & CLIENT_TRACKING_BCAST) && !check_prefix_collisions(c, pfx, npfx)) goto out;
        tracking_enable(c, (uint64_t)redir, options, pfx, npfx);
    } else if (!strcasecmp(c->argv[2].ptr, "off")) {
        tracking_disable(c);
    } else {
        reply_error(c, ERR_SYNTAX);
        goto out;
    }
    reply_ok(c);
out:
    free(pfx);
}

void tracking_client_caching_cmd(client *c) {
    if (!(c->flags & CLIENT_TRACKING)) {
        reply_error(c, "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
        return;
    }
    const char *o = c->argv[2].ptr;
    if (!strcasecmp(o, "yes")) {
        if (!(c->flags & CLIENT_TRACKING_OPTIN)) {
            reply_error(c, "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
            return;
        }
    } else if (!strcasecmp(o, "no")) {
        if (!(c->flags & CLIENT_TRACKING_OPTOUT)) {
            reply_error(c, "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
            return;
        }
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    c->flags |= CLIENT_TRACKING_CACHING;
    reply_ok(c);
}

void tracking_client_getredir_cmd(client *c) {
    reply_int(c, (c->flags & CLIENT_TRACKING) ? (long long)tracking_redirect_id(c) : -1);
}

void tracking_client_trackinginfo_cmd(client *c) {
    reply_map(c, 3);
    reply_bulk_cstr(c, "flags");
    const char *f[8];
    int n = 0;
    f[n++] = (c->flags & CLIENT_TRACKING) ? "on" : "off";
    if (c->flags & CLIENT_TRACKING_BCAST) f[n++] = "bcast";
    if (c->flags & CLIENT_TRACKING_OPTIN) {
        f[n++] = "optin";
        if (c->flags & CLIENT_TRACKING_CACHING) f[n++] = "caching-yes";
    }
    if (c->flags & CLIENT_TRACKING_OPTOUT) {
        f[n++] = "optout";
        if (c->flags & CLIENT_TRACKING_CACHING) f[n++] = "caching-no";
    }
    if (c->flags & CLIENT_TRACKING_NOLOOP) f[n++] = "noloop";
    if (c->flags & CLIENT_TRACKING_BROKEN_REDIR) f[n++] = "broken_redirect";
    reply_set(c, n);
    for (int i = 0; i < n; i++) reply_bulk_cstr(c, f[i]);
    reply_bulk_cstr(c, "redirect");
    reply_int(c, (c->flags & CLIENT_TRACKING) ? (long long)tracking_redirect_id(c) : -1);
    reply_bulk_cstr(c, "prefixes");
    const struct tracking_state *s = c->tracking;
    size_t np = s ? s->npfx : 0;
    reply_array(c, (long)np);
    for (size_t i = 0; i < np; i++) reply_bulk(c, s->pfx[i].p, s->pfx[i].len);
}

/* ---------------------------------------------------------------- remembering keys */

static void remember_keys(client *c, const struct command *cmd);

void tracking_remember_keys(client *c, const struct command *cmd) {
    if (!(cmd->flags & CMD_READONLY)) return;
    if (c->flags & CLIENT_SCRIPT) {
        /* a read inside a script: the caller remembers the keys its EVAL/FCALL declared
         * (Redis 7.0's call() with server.script_caller) */
        script_run *r = script_current();
        client *caller = r ? r->caller : NULL;
        if (caller && caller->cmd) remember_keys(caller, caller->cmd);
        return;
    }
    /* EVAL_RO, EVALSHA_RO, FCALL_RO: only the commands the script runs count (Redis 7.0) */
    if (cmd->flags & CMD_SCRIPTED) return;
    remember_keys(c, cmd);
}

/* Remembers the keys of c's current command (c->argv, as cmd) for c. */
static void remember_keys(client *c, const struct command *cmd) {
    if ((c->flags & (CLIENT_TRACKING | CLIENT_TRACKING_BCAST)) != CLIENT_TRACKING) return;
    uint32_t optin = c->flags & CLIENT_TRACKING_OPTIN, optout = c->flags & CLIENT_TRACKING_OPTOUT;
    uint32_t caching = c->flags & CLIENT_TRACKING_CACHING;
    if ((optin && !caching) || (optout && caching)) return;
    if (cmd->flags & CMD_PUBSUB) return;
    int stack[32];
    int n = command_get_keys(cmd, c->argv, c->argc, stack, 32);
    if (n <= 0 || !table) return;
    int *pos = stack;
    if (n > 32) {
        pos = malloc((size_t)n * sizeof(*pos));
        if (!pos) return;
        command_get_keys(cmd, c->argv, c->argc, pos, n);
    }
    for (int i = 0; i < n; i++) {
        const cmdarg *k = &c->argv[pos[i]];
        void *v;
        idset *ids;
        if (strmap_find(table, k->ptr, k->len, &v)) {
            ids = v;
        } else {
            ids = calloc(1, sizeof(*ids));
            if (!ids) break;
            if (strmap_add(table, k->ptr, k->len, ids) < 0) {
                free(ids);
                break;
            }
        }
        if (idset_add(ids, c->id) == 1) total_items++;
    }
    if (pos != stack) free(pos);
}

/* ---------------------------------------------------------------- invalidation */

/* Redis's trackingRememberKeyToBroadcast. */
static void remember_for_bcast(const char *key, size_t len, uint64_t writer) {
    for (size_t i = 0; i < nbc; i++) {
        bcast *b = bc[i];
        if (b->pre.len > len || (b->pre.len && memcmp(b->pre.p, key, b->pre.len) != 0)) continue;
        strmap_set(b->keys, key, len, (void *)(uintptr_t)writer);
    }
}

/* Redis's trackingInvalidateKey(c, key, bcast). */
static void invalidate(const char *key, size_t len, uint64_t writer, int with_bcast) {
    if (!table) return;
    if (with_bcast && nbc) remember_for_bcast(key, len, writer);
    void *v;
    if (!strmap_find(table, key, len, &v)) return;
    idset *ids = v;
    client *cur = server.current_client;
    for (size_t i = 0; i < ids->cap; i++) {
        uint64_t id = ids->slot[i];
        if (!id) continue;
        client *t = client_by_id(id);
        if (!t || (t->flags & (CLIENT_TRACKING | CLIENT_TRACKING_BCAST)) != CLIENT_TRACKING) continue;
        if ((t->flags & CLIENT_TRACKING_NOLOOP) && t == cur) continue;
        if (t == cur) pending_add(key, len); /* after its reply */
        else send_message(t, key, len, 0);
    }
    total_items -= (long long)ids->n;
    strmap_del(table, key, len, NULL);
    idset_free(ids);
}

void tracking_invalidate_key(const char *key, size_t len, int by_expiry) {
    uint64_t writer = (!by_expiry && server.current_client) ? server.current_client->id : 0;
    invalidate(key, len, writer, 1);
}

static void invalidate_all_one(client *c, void *ctx) {
    (void)ctx;
    if (!(c->flags & CLIENT_TRACKING)) return;
    if (c == server.current_client) pending_add(NULL, 0);
    else send_null(c);
}

void tracking_invalidate_all(void) {
    if (nclients) client_foreach(invalidate_all_one, NULL);
    if (table) {
        strmap_free(table, idset_free);
        table = strmap_new();
        total_items = 0;
    }
}

/* A modified key of a BCAST prefix and the id of the client that modified it last. */
typedef struct keyref {
    const char *k;
    size_t len;
    uint64_t writer;
} keyref;

static int keyref_cmp(const void *a, const void *b) {
    const keyref *x = a, *y = b;
    return bytes_cmp(x->k, x->len, y->k, y->len);
}

/* keys (sorted) as a RESP array, without those last written by `skip` (when non-zero); NULL
 * when that leaves nothing (or out of memory). *outlen set. */
static char *bcast_reply(const keyref *keys, size_t n, uint64_t skip, size_t *outlen) {
    size_t count = 0, bytes = 32;
    for (size_t i = 0; i < n; i++)
        if (!skip || keys[i].writer != skip) {
            count++;
            bytes += keys[i].len + 32;
        }
    if (count == 0) return NULL;
    char *p = malloc(bytes);
    if (!p) return NULL;
    size_t off = resp_fmt_header(p, '*', (long long)count);
    for (size_t i = 0; i < n; i++) {
        if (skip && keys[i].writer == skip) continue;
        off += resp_fmt_header(p + off, '$', (long long)keys[i].len);
        memcpy(p + off, keys[i].k, keys[i].len);
        off += keys[i].len;
        p[off++] = '\r';
        p[off++] = '\n';
    }
    *outlen = off;
    return p;
}

void tracking_broadcast(void) {
    if (!table || !nclients) return;
    for (size_t i = 0; i < nbc; i++) {
        bcast *b = bc[i];
        size_t n = strmap_size(b->keys);
        if (n == 0) continue;
        keyref *keys = malloc(n * sizeof(*keys));
        if (keys) {
            strmap_iter it = {0};
            const char *k;
            size_t kl;
            void *v;
            size_t m = 0;
            while (m < n && strmap_next(b->keys, &it, &k, &kl, &v)) {
                keys[m].k = k;
                keys[m].len = kl;
                keys[m].writer = (uint64_t)(uintptr_t)v;
                m++;
            }
            qsort(keys, m, sizeof(*keys), keyref_cmp);
            size_t plen = 0;
            char *proto = bcast_reply(keys, m, 0, &plen);
            for (size_t j = 0; j < b->nclients; j++) {
                client *c = b->clients[j];
                if (c->flags & CLIENT_TRACKING_NOLOOP) {
                    size_t alen = 0;
                    char *adhoc = bcast_reply(keys, m, c->id, &alen);
                    if (adhoc) send_message(c, adhoc, alen, 1);
                    free(adhoc);
                } else if (proto) {
                    send_message(c, proto, plen, 1);
                }
            }
            free(proto);
        }
        free(keys);
        strmap_free(b->keys, NULL);
        b->keys = strmap_new();
    }
}

void tracking_limit_keys(void) {
    static unsigned timeout_counter;
    if (!table || config.tracking_table_max_keys <= 0) return;
    size_t max = (size_t)config.tracking_table_max_keys;
    if (strmap_size(table) <= max) {
        timeout_counter = 0;
        return;
    }
    int effort = 100 * (int)(timeout_counter + 1);
    while (effort-- > 0) {
        const char *k;
        size_t kl;
        if (!strmap_random(table, rnd(), &k, &kl, NULL)) break;
        char stack[256];
        char *copy = kl <= sizeof(stack) ? stack : malloc(kl);
        if (!copy) break;
        memcpy(copy, k, kl); /* invalidate frees the entry k points into */
        invalidate(copy, kl, 0, 0);
        if (copy != stack) free(copy);
        if (strmap_size(table) <= max) {
            timeout_counter = 0;
            return;
        }
    }
    timeout_counter++;
}

long long tracking_clients(void) { return nclients; }
long long tracking_total_keys(void) { return (long long)strmap_size(table); }
long long tracking_total_items(void) { return total_items; }
long long tracking_total_prefixes(void) { return (long long)nbc; }
