/* uring_reader.c - data-block reads through io_uring from the owner thread (uring_reader.h).
 *
 * A request (one lookup) is either waiting on a block read (on that read's waiter list) or
 * finished (its tag in ready[]). A block read (ur_io) is in the in-flight map, keyed by (table
 * file number, block offset), from its submission until its completion is reaped; it holds a
 * reference to its table's reader, which keeps the descriptor open. */
#include "uring_reader.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dbformat.h"
#include "hash.h"
#include "lsm.h"
#include "sst_format.h"
#include "sst_reader.h"
#include "table_get.h"

#ifdef KEVO_URING
#include <liburing.h>

typedef struct ur_req {
    struct ur_req *next; /* on its read's waiter list */
    version *v;          /* referenced until the request is reported or dropped */
    uint64_t tag;
    uint64_t h;          /* key_hash64(key) */
    uint64_t stamp;      /* the caller's stamp for the landed callback; 0 = none */
    int reads;           /* block reads it has waited for */
    size_t klen;
    char key[];
} ur_req;

typedef struct ur_io {
    struct ur_io *hnext; /* in-flight map chain */
    sst_reader *r;       /* referenced */
    uint64_t file, off, size;
    size_t skip;         /* where the block starts in buf */
    size_t need;         /* bytes the read must return: skip + size + trailer */
    char *buf;           /* aligned for O_DIRECT */
    ur_req *waiters;
} ur_io;

#define UR_MAP_BUCKETS 1024u /* power of two */
/* A lookup reads at most this many blocks here (a bloom false positive costs one more; a block
 * the cache will not keep would cost one per round): then its command reads in place. */
#define UR_MAX_READS 4
#define UR_ALIGN 4096

struct uring_reader {
    struct io_uring ring;
    /* the submitting thread (see "Submission" below) */
    pthread_t sub_thread;
    int sub_running;           /* sub_thread was started (owner thread only) */
    pthread_mutex_t sub_lock;
    pthread_cond_t sub_cond;
    int sub_kicked;            /* under sub_lock: entries were published since the last enter */
    int sub_stop;              /* under sub_lock: the thread is to exit */
    table_cache *tc;
    int efd;
    int direct;        /* O_DIRECT reads where the file system allows them */
    int hold;          /* uring_reader_hold: new reads wait for uring_reader_flush */
    unsigned depth;    /* ring entries; reads in flight are bounded by it */
    unsigned nio;      /* reads in flight */
    int inflight;      /* requests not yet reported */
    uint64_t reads;
    uint64_t lookups;  /* step() runs */
    uint64_t *ready;   /* finished tags not yet reported */
    size_t nready, ready_cap;
    lsm_buf scratch;   /* values found by the re-run lookups (discarded) */
    uring_landed_fn landed; /* uring_reader_on_landed */
    void *landed_ctx;
    ur_io *map[UR_MAP_BUCKETS];
};

static unsigned map_slot(uint64_t file, uint64_t off) {
    return (unsigned)((file * 0x9E3779B97F4A7C15ull ^ off) * 0xBF58476D1CE4E5B9ull >> 40) &
           (UR_MAP_BUCKETS - 1);
}

static ur_io *map_find(uring_reader *u, uint64_t file, uint64_t off) {
    for (ur_io *io = u->map[map_slot(file, off)]; io; io = io->hnext)
        if (io->file == file && io->off == off) return io;
    return NULL;
}

static void map_remove(uring_reader *u, ur_io *io) {
    ur_io **pp = &u->map[map_slot(io->file, io->off)];
    while (*pp && *pp != io) pp = &(*pp)->hnext;
    if (*pp) *pp = io->hnext;
}

/* ---- Submission ----
 * Handing reads to the kernel (io_uring_enter) costs far more than queueing them: the enter runs
 * each read's file-system and block-layer submission and the device notification (in a VM, an
 * exit to the host: ~14 us of CPU per read was measured here), and the kernel later runs each
 * read's completion work on the task that submitted it. So the owner thread only fills
 * submission entries and publishes the ring's tail; a submitting thread (sub_thread) makes the
 * io_uring_enter calls, and the completion work runs on it too. The owner still reaps the
 * completions (the ring's eventfd wakes its loop). The kernel reads the tail with acquire
 * ordering and serializes concurrent enters on one ring, so the owner may also enter itself
 * (submit_now: a full queue, stop). Without the thread (it could not be started) the owner
 * enters itself, as before. */

/* Makes the entries queued since the last call visible to the kernel. Owner thread. */
static void publish(uring_reader *u) {
    struct io_uring_sq *sq = &u->ring.sq;
    unsigned tail = sq->sqe_tail;
    if (sq->sqe_head == tail) return;
    sq->sqe_head = tail;
    io_uring_smp_store_release(sq->ktail, tail); /* the entries' contents first */
}

/* Entries published and not yet taken by the kernel. */
static unsigned unsubmitted(const uring_reader *u) {
    return io_uring_smp_load_acquire(u->ring.sq.ktail) - io_uring_smp_load_acquire(u->ring.sq.khead);
}

/* Submits every published entry from the calling thread; a transient refusal (no memory for
 * the requests, completions not yet reaped) is retried after a pause, so a parked command never
 * waits for a read that nobody submits. */
static void enter_all(uring_reader *u) {
    int tries = 0;
    while (unsubmitted(u) > 0) {
        long r = syscall(__NR_io_uring_enter, u->ring.ring_fd, u->depth, 0, 0, NULL, 0);
        if (r >= 0) continue;
        if ((errno != EAGAIN && errno != EBUSY && errno != EINTR) || ++tries > 10000) return;
        struct timespec ts = {0, 100 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void *submit_main(void *arg) {
    uring_reader *u = arg;
    pthread_mutex_lock(&u->sub_lock);
    for (;;) {
        while (!u->sub_kicked && !u->sub_stop) pthread_cond_wait(&u->sub_cond, &u->sub_lock);
        if (u->sub_stop) break;
        u->sub_kicked = 0;
        pthread_mutex_unlock(&u->sub_lock);
        enter_all(u);
        pthread_mutex_lock(&u->sub_lock);
    }
    pthread_mutex_unlock(&u->sub_lock);
    return NULL;
}

/* Publishes the queued entries and has them submitted (by the submitting thread when there is
 * one). Owner thread. */
static void kick(uring_reader *u) {
    if (u->ring.sq.sqe_head == u->ring.sq.sqe_tail) return;
    publish(u);
    if (!u->sub_running) {
        enter_all(u);
        return;
    }
    pthread_mutex_lock(&u->sub_lock);
    u->sub_kicked = 1;
    pthread_cond_signal(&u->sub_cond);
    pthread_mutex_unlock(&u->sub_lock);
}

/* Publishes and submits from the owner thread itself, now. */
static void submit_now(uring_reader *u) {
    publish(u);
    enter_all(u);
}

static void drop(uring_reader *u, ur_req *req) {
    version_unref(req->v);
    free(req);
    u->inflight--;
}

/* Reports req finished (its tag to ready[]) and frees it. 0 or LSM_ENOMEM (req kept). */
static int finish(uring_reader *u, ur_req *req) {
    if (u->nready == u->ready_cap) {
        size_t nc = u->ready_cap ? u->ready_cap * 2 : 64;
        uint64_t *p = realloc(u->ready, nc * sizeof(*p));
        if (!p) return LSM_ENOMEM;
        u->ready = p;
        u->ready_cap = nc;
    }
    u->ready[u->nready++] = req->tag;
    drop(u, req);
    return 0;
}

/* Takes a reaped read out of the in-flight map and frees it; returns its waiters, and its
 * table's reader in *r (referenced: the caller drops it). */
static ur_req *retire(uring_reader *u, ur_io *io, sst_reader **r) {
    map_remove(u, io);
    u->nio--;
    ur_req *w = io->waiters;
    *r = io->r;
    free(io->buf);
    free(io);
    return w;
}

enum { STEP_DONE, STEP_QUEUED, STEP_THREAD, STEP_BUSY, STEP_NOMEM };

/* Queues a read of block (off, size) of r for req, or joins the read already in flight. Takes
 * over the reference to r. */
static int queue_read(uring_reader *u, ur_req *req, sst_reader *r, uint64_t off, uint64_t size) {
    uint64_t file = sst_reader_file_number(r);
    ur_io *io = map_find(u, file, off);
    if (io) {
        sst_reader_unref(r);
        req->next = io->waiters;
        io->waiters = req;
        return STEP_QUEUED;
    }
    if (u->nio >= u->depth) {
        sst_reader_unref(r);
        return STEP_BUSY;
    }
    int fd;
    uint64_t aoff;
    size_t alen, skip;
    int plan = sst_reader_read_plan(r, off, size, u->direct, &fd, &aoff, &alen, &skip);
    if (plan < 0) { /* a bad handle: the command's own lookup reports it */
        sst_reader_unref(r);
        return STEP_DONE;
    }
    io = calloc(1, sizeof(*io));
    size_t cap = (alen + UR_ALIGN - 1) & ~(size_t)(UR_ALIGN - 1);
    char *buf = NULL;
    int why = STEP_NOMEM;
    struct io_uring_sqe *sqe = NULL;
    if (!io || posix_memalign((void **)&buf, UR_ALIGN, cap ? cap : UR_ALIGN)) goto fail;
    if (!(sqe = io_uring_get_sqe(&u->ring))) { /* entries not yet handed to the kernel */
        submit_now(u);
        sqe = io_uring_get_sqe(&u->ring);
    }
    why = STEP_BUSY;
    if (!sqe) goto fail;
    io->r = r;
    io->file = file;
    io->off = off;
    io->size = size;
    io->skip = skip;
    io->need = skip + (size_t)size + SST_BLOCK_TRAILER;
    io->buf = buf;
    req->next = NULL;
    io->waiters = req;
    io_uring_prep_read(sqe, fd, buf, (unsigned)alen, aoff);
    io_uring_sqe_set_data(sqe, io);
    unsigned b = map_slot(file, off);
    io->hnext = u->map[b];
    u->map[b] = io;
    u->nio++;
    u->reads++;
    return STEP_QUEUED;
fail:
    free(buf);
    free(io);
    sst_reader_unref(r);
    return why;
}

/* Runs req's lookup from memory; queues the read of the block it lacks. */
static int step(uring_reader *u, ur_req *req) {
    u->lookups++;
    table_get g;
    table_get_start_ex(&g, req->v, u->tc, req->key, req->klen, req->h, TABLE_GET_CACHE_ONLY);
    int rc = table_get_finish(&g, MAX_SEQUENCE, &u->scratch);
    if (u->scratch.cap > (64u << 10)) lsm_buf_free(&u->scratch);
    uint64_t off, size;
    sst_reader *r = table_get_miss(&g, &off, &size);
    if (rc != SST_WOULDBLOCK) { /* answered from memory, or an error its command will meet */
        if (r) sst_reader_unref(r);
        return STEP_DONE;
    }
    if (!r) return STEP_THREAD; /* a table to open */
    if (req->reads >= UR_MAX_READS) {
        sst_reader_unref(r);
        return STEP_DONE;
    }
    req->reads++;
    return queue_read(u, req, r, off, size);
}

int uring_reader_start(uring_reader **out, table_cache *tc, int efd, unsigned depth, int direct,
                       int submit_thread) {
    *out = NULL;
    if (depth < 8) depth = 8;
    if (depth > 4096) depth = 4096;
    uring_reader *u = calloc(1, sizeof(*u));
    if (!u) return LSM_ENOMEM;
    int rc = io_uring_queue_init(depth, &u->ring, 0);
    if (rc < 0) {
        free(u);
        return rc == -ENOMEM ? LSM_ENOMEM : LSM_EINVAL;
    }
    if (io_uring_register_eventfd(&u->ring, efd) < 0) {
        io_uring_queue_exit(&u->ring);
        free(u);
        return LSM_EINVAL;
    }
    u->tc = tc;
    u->efd = efd;
    u->depth = depth;
    u->direct = direct;
    pthread_mutex_init(&u->sub_lock, NULL);
    pthread_cond_init(&u->sub_cond, NULL);
    u->sub_running = submit_thread && pthread_create(&u->sub_thread, NULL, submit_main, u) == 0;
    if (u->sub_running) pthread_setname_np(u->sub_thread, "kevo-uring"); /* what ps/perf show */
    *out = u;
    return 0;
}

static void signal_efd(uring_reader *u) {
    uint64_t one = 1;
    ssize_t w = write(u->efd, &one, sizeof(one));
    (void)w;
}

int uring_reader_submit(uring_reader *u, version *v, const void *key, size_t klen, uint64_t tag,
                        sst_reader *r, uint64_t off, uint64_t size, uint64_t stamp) {
    ur_req *req = malloc(sizeof(*req) + klen);
    if (!req) {
        if (r) sst_reader_unref(r);
        return LSM_ENOMEM;
    }
    req->next = NULL;
    req->v = v;
    req->tag = tag;
    req->h = key_hash64(key, klen);
    req->stamp = r ? stamp : 0;
    req->reads = 0;
    req->klen = klen;
    if (klen) memcpy(req->key, key, klen);
    version_ref(v);
    u->inflight++;
    int s;
    if (r) { /* the caller's lookup named the block: read it */
        req->reads = 1;
        s = queue_read(u, req, r, off, size);
    } else {
        s = step(u, req);
    }
    switch (s) {
    case STEP_QUEUED:
        if (!u->hold) kick(u); /* the read starts now */
        return 0;
    case STEP_DONE:
        if (finish(u, req) != 0) break;
        signal_efd(u); /* the caller hears of it as of any other */
        return 0;
    default:
        break;
    }
    drop(u, req);
    return s == STEP_THREAD ? LSM_EAGAIN : s == STEP_BUSY ? LSM_EBUSY : LSM_ENOMEM;
}

/* A request whose block landed: run it again; finished, needing a thread, or waiting again. */
static void resume(uring_reader *u, ur_req *req, uring_redo_fn redo, void *ctx) {
    req->stamp = 0; /* the stamp vouched for the walk to the first block only */
    int s = step(u, req);
    if (s == STEP_QUEUED) return;
    if (s == STEP_THREAD && redo && redo(ctx, req->v, req->key, req->klen, req->tag) == 0) {
        drop(u, req); /* the thread reports the tag */
        return;
    }
    if (finish(u, req) != 0) drop(u, req); /* no memory to report it: its command reads itself */
}

/* One reaped read: cache the block, finish the waiters whose key it holds, resume the others. */
static void complete(uring_reader *u, ur_io *io, int res, uring_redo_fn redo, void *ctx) {
    int cached = res >= 0 && (size_t)res >= io->need &&
                 sst_reader_cache_block(io->r, io->off, io->size, io->buf + io->skip) == 0;
    uint64_t off = io->off;
    sst_reader *r;
    ur_req *w = retire(u, io, &r);
    /* a failed read leaves the block uncached: the waiters' next step finds it missing again,
     * so they are finished instead of retried (their commands read in place and report) */
    int ok = res >= 0;
    while (w) {
        ur_req *next = w->next;
        /* the lookup ends in this block when it holds the key (every table before it answered
         * from memory): no need to run it all again */
        int held = 0;
        if (ok && cached) {
            held = w->stamp && u->landed
                       ? u->landed(u->landed_ctx, w->key, w->klen, w->stamp, r, off)
                       : -1;
            if (held < 0) held = sst_reader_block_holds(r, off, w->key, w->klen) == 1;
        }
        if (!ok || held == 1) {
            if (finish(u, w) != 0) drop(u, w);
        } else {
            resume(u, w, redo, ctx);
        }
        w = next;
    }
    sst_reader_unref(r);
}

int uring_reader_done(uring_reader *u, uint64_t *tags, int max, uring_redo_fn redo, void *ctx) {
    struct io_uring_cqe *cqe;
    /* at most max reads reaped per call (each verifies and caches a block): the caller's loop
     * serves others between calls; the rest are signalled like new completions */
    for (int reaped = 0; reaped < max && io_uring_peek_cqe(&u->ring, &cqe) == 0; reaped++) {
        ur_io *io = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&u->ring, cqe);
        complete(u, io, res, redo, ctx);
    }
    uring_reader_flush(u); /* waiters' next reads, and reads held since the last flush */
    int n = 0;
    while (n < max && (size_t)n < u->nready) {
        tags[n] = u->ready[n];
        n++;
    }
    if (n) {
        memmove(u->ready, u->ready + n, (u->nready - (size_t)n) * sizeof(*u->ready));
        u->nready -= (size_t)n;
    }
    if (u->nready || io_uring_cq_ready(&u->ring)) signal_efd(u);
    return n;
}

void uring_reader_on_landed(uring_reader *u, uring_landed_fn fn, void *ctx) {
    u->landed = fn;
    u->landed_ctx = ctx;
}

void uring_reader_hold(uring_reader *u, int on) {
    u->hold = on != 0;
    if (!u->hold) uring_reader_flush(u);
}

void uring_reader_flush(uring_reader *u) { kick(u); }

int uring_reader_inflight(const uring_reader *u) { return u->inflight; }
uint64_t uring_reader_reads(const uring_reader *u) { return u->reads; }
uint64_t uring_reader_lookups(const uring_reader *u) { return u->lookups; }

void uring_reader_stop(uring_reader *u) {
    if (!u) return;
    if (u->sub_running) {
        pthread_mutex_lock(&u->sub_lock);
        u->sub_stop = 1;
        pthread_cond_signal(&u->sub_cond);
        pthread_mutex_unlock(&u->sub_lock);
        pthread_join(u->sub_thread, NULL);
        u->sub_running = 0;
    }
    pthread_mutex_destroy(&u->sub_lock);
    pthread_cond_destroy(&u->sub_cond);
    submit_now(u);
    while (u->nio > 0) {
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(&u->ring, &cqe) != 0) break;
        ur_io *io = io_uring_cqe_get_data(cqe);
        io_uring_cqe_seen(&u->ring, cqe);
        sst_reader *r;
        for (ur_req *w = retire(u, io, &r), *next; w; w = next) {
            next = w->next;
            drop(u, w);
        }
        sst_reader_unref(r);
    }
    io_uring_queue_exit(&u->ring);
    free(u->ready);
    lsm_buf_free(&u->scratch);
    free(u);
}

#else /* built without liburing */

int uring_reader_start(uring_reader **out, table_cache *tc, int efd, unsigned depth, int direct,
                       int submit_thread) {
    (void)direct;
    (void)submit_thread;
    (void)tc;
    (void)efd;
    (void)depth;
    *out = NULL;
    return LSM_EINVAL;
}
int uring_reader_submit(uring_reader *u, version *v, const void *key, size_t klen, uint64_t tag,
                        sst_reader *r, uint64_t off, uint64_t size, uint64_t stamp) {
    (void)u; (void)v; (void)key; (void)klen; (void)tag; (void)off; (void)size; (void)stamp;
    if (r) sst_reader_unref(r);
    return LSM_EAGAIN;
}
int uring_reader_done(uring_reader *u, uint64_t *tags, int max, uring_redo_fn redo, void *ctx) {
    (void)u; (void)tags; (void)max; (void)redo; (void)ctx;
    return 0;
}
void uring_reader_on_landed(uring_reader *u, uring_landed_fn fn, void *ctx) {
    (void)u, (void)fn, (void)ctx;
}
void uring_reader_hold(uring_reader *u, int on) { (void)u, (void)on; }
void uring_reader_flush(uring_reader *u) { (void)u; }
int uring_reader_inflight(const uring_reader *u) { (void)u; return 0; }
uint64_t uring_reader_reads(const uring_reader *u) { (void)u; return 0; }
uint64_t uring_reader_lookups(const uring_reader *u) { (void)u; return 0; }
void uring_reader_stop(uring_reader *u) { (void)u; }
#endif
