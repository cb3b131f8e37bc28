/* blocking.c - clients blocked on keys (see blocking.h).
 *
 * Structures:
 *   registry   chained hash table (db, key) -> bk_entry; an entry holds the FIFO (doubly linked
 *              bk_waiter nodes) of the clients blocked on that key, and exists while the FIFO is
 *              not empty (or while the serve loop pins it).
 *   ready      FIFO of entries signaled since the last serve pass (entry->ready dedups).
 *   block_state per blocked client: one waiter node per distinct key (in argument order), the
 *              deadline and its slot in the timeout heap, the command and a copy of its argv.
 *   heap       binary min-heap of blocked clients with a deadline; one event-loop timer is armed
 *              at the earliest deadline.
 * Every structure is touched only on the main thread. */
#include "blocking.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "event.h"
#include "keyspace.h"
#include "log.h"
#include "server.h"
#include "util.h"

typedef struct bk_entry bk_entry;

typedef struct bk_waiter {
    client *c;
    bk_entry *e;
    struct bk_waiter *prev, *next; /* e's FIFO */
} bk_waiter;

struct bk_entry {
    bk_entry *hnext;          /* hash chain */
    uint64_t hash;
    bk_waiter *head, *tail;   /* FIFO: the client blocked first is served first */
    size_t nwaiters;
    bk_entry *rprev, *rnext;  /* ready list */
    int ready;
    int pinned;               /* the serve loop is walking it: not freed when emptied */
    int db;
    size_t len;
    char key[];
};

struct block_state {
    int db;
    uint8_t type;              /* KTYPE_* waited for */
    int nw;
    bk_waiter *w;              /* nw nodes, one per distinct key, argument order */
    long long deadline;        /* monotonic ms, 0 = none */
    size_t heap_idx;           /* slot in the timeout heap (deadline != 0) */
    const struct command *cmd;
    int argc;
    cmdarg *argv;              /* private copy of the blocked command's arguments */
    int rerun;                 /* the command runs again (serve) */
    int still_blocked;         /* ... and blocked again: stays where it was */
    int freed;                 /* blocking_client_free during the re-run */
    int wake_gone;             /* also re-run when the key is gone / another type */
};

static bk_entry **htab;
static size_t hcap, hcount;     /* buckets (power of two), entries */
static bk_entry *ready_head, *ready_tail;
static size_t nblocked;
static client **heap;
static size_t heap_len, heap_cap;
static long long timer_id;      /* the armed timer, 0 none */
static long long timer_when;    /* its deadline (monotonic ms) */
static int serving;             /* blocking_handle_ready is running */
static bk_entry *serving_entry; /* the entry being served: its own pops do not re-ready it */
static lsm_buf type_buf;

/* ---------------------------------------------------------------- clock, timeout parsing */

long long blocking_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int blocking_parse_timeout(client *c, const cmdarg *a, long long *ms)
{
    long double v;
    if (!string2ld(a->ptr, a->len, &v)) {
        reply_error(c, "ERR timeout is not a float or out of range");
        return -1;
    }
    long double t = ceill(v * 1000.0L);
    /* Redis converts with a plain (long long) cast: out of range (and +-inf) comes out as
     * LLONG_MIN on the platforms it runs on, hence "negative" */
    if (!(t < 9223372036854775808.0L) || t < 0) {
        reply_error(c, "ERR timeout is negative");
        return -1;
    }
    *ms = (long long)t;
    return 0;
}

int blocking_may_block(const client *c) { return !(c->flags & (CLIENT_EXECUTING | CLIENT_DENY_BLOCKING)); }

int blocking_rerunning(const client *c) { return c->bstate && c->bstate->rerun; }

/* ---------------------------------------------------------------- registry */

static uint64_t key_hash(int db, const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(unsigned)db;
    h *= 1099511628211ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static bk_entry *entry_find(int db, const char *key, size_t len, uint64_t h)
{
    if (!hcount) return NULL;
    for (bk_entry *e = htab[h & (hcap - 1)]; e; e = e->hnext)
        if (e->hash == h && e->db == db && e->len == len && (len == 0 || memcmp(e->key, key, len) == 0)) return e;
    return NULL;
}

static int table_grow(void)
{
    size_t nc = hcap ? hcap * 2 : 64;
    bk_entry **nt = calloc(nc, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < hcap; i++) {
        bk_entry *e = htab[i];
        while (e) {
            bk_entry *next = e->hnext;
            e->hnext = nt[e->hash & (nc - 1)];
            nt[e->hash & (nc - 1)] = e;
            e = next;
        }
    }
    free(htab);
    htab = nt;
    hcap = nc;
    return 0;
}

static bk_entry *entry_get(int db, const char *key, size_t len)
{
    uint64_t h = key_hash(db, key, len);
    bk_entry *e = entry_find(db, key, len, h);
    if (e) return e;
    if (hcount + 1 > hcap && table_grow() < 0) return NULL;
    e = calloc(1, sizeof *e + (len ? len : 1));
    if (!e) return NULL;
    e->hash = h;
    e->db = db;
    e->len = len;
    if (len) memcpy(e->key, key, len);
    e->hnext = htab[h & (hcap - 1)];
    htab[h & (hcap - 1)] = e;
    hcount++;
    return e;
}

static void ready_remove(bk_entry *e)
{
    if (!e->ready) return;
    if (e->rprev) e->rprev->rnext = e->rnext;
    else ready_head = e->rnext;
    if (e->rnext) e->rnext->rprev = e->rprev;
    else ready_tail = e->rprev;
    e->rprev = e->rnext = NULL;
    e->ready = 0;
}

static void ready_add(bk_entry *e)
{
    if (e->ready) return;
    e->ready = 1;
    e->rnext = NULL;
    e->rprev = ready_tail;
    if (ready_tail) ready_tail->rnext = e;
    else ready_head = e;
    ready_tail = e;
}

/* Frees an entry left without waiters (not while the serve loop holds it). */
static void entry_release(bk_entry *e)
{
    if (e->head || e->pinned) return;
    ready_remove(e);
    bk_entry **pp = &htab[e->hash & (hcap - 1)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    hcount--;
    free(e);
}

static void waiter_unlink(bk_waiter *w)
{
    bk_entry *e = w->e;
    if (w->prev) w->prev->next = w->next;
    else e->head = w->next;
    if (w->next) w->next->prev = w->prev;
    else e->tail = w->prev;
    e->nwaiters--;
    w->prev = w->next = NULL;
    entry_release(e);
}

/* ---------------------------------------------------------------- timeout heap and timer */

static int heap_less(size_t a, size_t b) { return heap[a]->bstate->deadline < heap[b]->bstate->deadline; }

static void heap_swap(size_t a, size_t b)
{
    client *t = heap[a];
    heap[a] = heap[b];
    heap[b] = t;
    heap[a]->bstate->heap_idx = a;
    heap[b]->bstate->heap_idx = b;
}

static void heap_up(size_t i)
{
    while (i > 0 && heap_less(i, (i - 1) / 2)) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < heap_len && heap_less(l, m)) m = l;
        if (r < heap_len && heap_less(r, m)) m = r;
        if (m == i) return;
        heap_swap(i, m);
        i = m;
    }
}

static int heap_push(client *c)
{
    if (heap_len == heap_cap) {
        size_t nc = heap_cap ? heap_cap * 2 : 16;
        client **nh = realloc(heap, nc * sizeof *nh);
        if (!nh) return -1;
        heap = nh;
        heap_cap = nc;
    }
    heap[heap_len] = c;
    c->bstate->heap_idx = heap_len++;
    heap_up(heap_len - 1);
    return 0;
}

static void heap_remove(client *c)
{
    size_t i = c->bstate->heap_idx;
    heap_len--;
    if (i != heap_len) {
        heap[i] = heap[heap_len];
        heap[i]->bstate->heap_idx = i;
        heap_down(i);
        heap_up(i);
    }
}

#define TIMER_MAX_DELAY_MS (3600 * 1000LL) /* far deadlines: the timer re-arms hourly */

static long long timer_delay(long long when, long long now)
{
    long long d = when - now;
    if (d < 0) d = 0;
    return d > TIMER_MAX_DELAY_MS ? TIMER_MAX_DELAY_MS : d;
}

static long long timeout_timer(event_loop *el, long long id, void *data)
{
    (void)el, (void)id, (void)data;
    long long now = blocking_now_ms();
    blocking_expire(now);
    if (heap_len == 0) {
        timer_id = 0;
        return -1;
    }
    timer_when = heap[0]->bstate->deadline;
    long long d = timer_delay(timer_when, blocking_now_ms());
    if (timer_when - now > TIMER_MAX_DELAY_MS) timer_when = now + d; /* an hourly re-arm */
    return d > 0 ? d : 1;
}

/* Arms the timer for a new deadline when it is the earliest. */
static void timer_arm(long long deadline)
{
    if (!server.el) return; /* unit tests call blocking_expire */
    if (timer_id && timer_when <= deadline) return;
    if (timer_id) ev_timer_del(server.el, timer_id);
    long long now = blocking_now_ms();
    long long d = timer_delay(deadline, now);
    timer_id = ev_timer_add(server.el, d, timeout_timer, NULL);
    if (timer_id < 0) timer_id = 0;
    timer_when = now + d;
}

/* ---------------------------------------------------------------- block / unblock */

static void free_argv(int argc, cmdarg *argv)
{
    if (!argv) return;
    for (int i = 0; i < argc; i++) free(argv[i].ptr);
    free(argv);
}

/* Takes c out of every structure and frees its state; clears CLIENT_BLOCKED. */
static void unregister(client *c)
{
    struct block_state *bs = c->bstate;
    if (!bs) return;
    for (int i = 0; i < bs->nw; i++)
        if (bs->w[i].e) waiter_unlink(&bs->w[i]);
    if (bs->deadline) heap_remove(c);
    free(bs->w);
    free_argv(bs->argc, bs->argv);
    free(bs);
    c->bstate = NULL;
    c->flags &= ~CLIENT_BLOCKED;
    nblocked--;
}

int blocking_block(client *c, const cmdarg *keys, int nkeys, uint8_t type, long long timeout_ms)
{
    if (c->bstate) {
        /* a re-run that found no data (another type at its other keys): as it was */
        c->bstate->still_blocked = 1;
        return 0;
    }
    struct block_state *bs = calloc(1, sizeof *bs);
    if (!bs) goto oom;
    bs->w = calloc((size_t)(nkeys > 0 ? nkeys : 1), sizeof *bs->w);
    bs->argv = calloc((size_t)c->argc, sizeof *bs->argv);
    if (!bs->w || !bs->argv) goto oom_free;
    for (int i = 0; i < c->argc; i++) {
        bs->argv[i].ptr = malloc(c->argv[i].len + 1);
        if (!bs->argv[i].ptr) {
            bs->argc = i;
            goto oom_free;
        }
        memcpy(bs->argv[i].ptr, c->argv[i].ptr, c->argv[i].len);
        bs->argv[i].ptr[c->argv[i].len] = 0;
        bs->argv[i].len = c->argv[i].len;
    }
    bs->argc = c->argc;
    bs->db = c->db;
    bs->type = type;
    bs->cmd = c->cmd;
    c->bstate = bs;
    nblocked++;
    c->flags |= CLIENT_BLOCKED;
    for (int i = 0; i < nkeys; i++) {
        bk_entry *e = entry_get(c->db, keys[i].ptr, keys[i].len);
        if (!e) {
            unregister(c);
            goto oom;
        }
        if (e->tail && e->tail->c == c) continue; /* a repeated key: already in its FIFO */
        bk_waiter *w = &bs->w[bs->nw++];
        w->c = c;
        w->e = e;
        w->next = NULL;
        w->prev = e->tail;
        if (e->tail) e->tail->next = w;
        else e->head = w;
        e->tail = w;
        e->nwaiters++;
    }
    if (timeout_ms > 0) {
        long long now = blocking_now_ms();
        bs->deadline = timeout_ms > LLONG_MAX - now ? LLONG_MAX : now + timeout_ms;
        if (heap_push(c) < 0) {
            bs->deadline = 0;
            unregister(c);
            goto oom;
        }
        timer_arm(bs->deadline);
    }
    return 0;
oom_free:
    if (bs) {
        free(bs->w);
        free_argv(bs->argc, bs->argv);
        free(bs);
    }
oom:
    reply_error(c, "ERR out of memory blocking the client");
    return -1;
}

void blocking_wake_on_gone(client *c)
{
    if (c->bstate && !c->bstate->rerun) c->bstate->wake_gone = 1;
}

void blocking_client_free(client *c)
{
    if (!c->bstate) return;
    if (c->bstate->rerun) {
        c->bstate->freed = 1; /* the serve loop unregisters it when the re-run returns */
        return;
    }
    unregister(c);
}

/* Ends c's block with a reply already appended (or suppressed): frees the state and lets its
 * input go on. */
static void finish(client *c)
{
    unregister(c);
    client_unblocked(c);
}

int blocking_unblock(client *c, int error)
{
    if (!c->bstate || c->bstate->rerun) return 0;
    if (error) reply_error(c, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    else reply_null_array(c);
    command_count_failed(c->bstate->cmd); /* as Redis's updateStatsOnUnblock(..., 1) */
    finish(c);
    return 1;
}

size_t blocking_expire(long long now_ms)
{
    size_t n = 0;
    while (heap_len && heap[0]->bstate->deadline <= now_ms) {
        client *c = heap[0];
        reply_null_array(c);
        finish(c);
        n++;
    }
    return n;
}

/* ---------------------------------------------------------------- signals and serving */

void blocking_signal_key(int db, const char *key, size_t len)
{
    if (!hcount) return;
    bk_entry *e = entry_find(db, key, len, key_hash(db, key, len));
    if (e && e != serving_entry) ready_add(e);
}

void blocking_signal_db(int db)
{
    if (!hcount) return;
    for (size_t i = 0; i < hcap; i++)
        for (bk_entry *e = htab[i]; e; e = e->hnext)
            if (e->db == db && e != serving_entry) ready_add(e);
}

/* Type of e's key: 1 (type in *t), 0 absent or expired, < 0 engine error. No side effects. */
static int entry_key_type(const bk_entry *e, uint8_t *t)
{
    ks_value v;
    int r = keyspace_lookup(e->db, e->key, e->len, &type_buf, &v, KS_LOOKUP_NOEXPIRE);
    if (r == 1) *t = v.type;
    return r;
}

/* Re-runs c's command; unblocks c unless it stayed blocked. */
static void serve_client(client *c)
{
    struct block_state *bs = c->bstate;
    int saved_argc = c->argc;
    cmdarg *saved_argv = c->argv;
    int saved_db = c->db;
    c->argc = bs->argc;
    c->argv = bs->argv;
    c->db = bs->db;
    bs->rerun = 1;
    bs->still_blocked = 0;
    command_rerun(c, bs->cmd);
    bs->rerun = 0;
    c->argc = saved_argc;
    c->argv = saved_argv;
    c->db = saved_db;
    if (bs->freed) unregister(c); /* closed while it ran: no more input to process */
    else if (!bs->still_blocked) finish(c);
}

static void serve_entry(bk_entry *e)
{
    serving_entry = e;
    size_t budget = e->nwaiters; /* a re-run never adds waiters; a bound all the same */
    bk_waiter *w = e->head;
    while (w && budget--) {
        /* w's client is the only one a re-run can unblock (its own nodes): w->next survives */
        bk_waiter *next = w->next;
        uint8_t t = 0;
        int r = entry_key_type(e, &t);
        if (r < 0) {
            log_msg(LL_WARNING, "Serving clients blocked on a key: %s", lsm_strerror(r));
            break;
        }
        if (r == 0) {
            /* no data left: the rest stay blocked, in order, but for those that want to know
             * the key is gone (their re-run answers it without creating the key) */
            for (; w; w = next) {
                next = w->next;
                if (w->c->bstate->wake_gone) serve_client(w->c);
            }
            break;
        }
        if (t == w->c->bstate->type || w->c->bstate->wake_gone) serve_client(w->c);
        w = next;
    }
    serving_entry = NULL;
}

void blocking_handle_ready(void)
{
    if (!ready_head || serving || !server.engine) return;
    serving = 1;
    while (ready_head) {
        bk_entry *e = ready_head;
        ready_remove(e);
        e->pinned = 1;
        serve_entry(e);
        e->pinned = 0;
        entry_release(e);
    }
    serving = 0;
}

/* ---------------------------------------------------------------- counters */

size_t blocking_clients(void) { return nblocked; }
size_t blocking_clients_with_timeout(void) { return heap_len; }
size_t blocking_keys(void) { return hcount; }
