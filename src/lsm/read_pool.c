/* read_pool.c - background point lookups that warm the caches for the owner (read_pool.h). */
#include "read_pool.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "dbformat.h"
#include "hash.h"
#include "lsm.h"
#include "table_get.h"
#include "uring_reader.h"
#include "worker.h"

typedef struct read_job {
    bg_job base;          /* first: the worker hands back the bg_job */
    table_cache *tc;
    int direct;           /* the pool's read_direct */
    version *v;           /* referenced by submit, released by read_pool_done */
    uint64_t tag;
    int seek_blocks;      /* 0: a point lookup; n: the blocks a seek to key reads (n per table) */
    size_t klen;
    char key[];
} read_job;

struct read_pool {
    int n;
    int efd;
    int inflight;
    int direct;           /* readers use O_DIRECT */
    table_cache *tc;
    uring_reader *uring;  /* point lookups' block reads from the owner thread; NULL: threads only */
    worker w[];
};

/* A finished lookup's value is not wanted: one buffer per reader thread takes it. */
static _Thread_local lsm_buf t_val;
#define KEEP_VALUE_BUFFER (1u << 20)

static _Atomic unsigned g_delay_us; /* lsm_debug_set_read_delay_us */

void lsm_debug_set_read_delay_us(unsigned us) { atomic_store(&g_delay_us, us); }

/* Reader threads yield to the event loop: on this 2-core class of machine they share the CPUs
 * with it, and a command served from memory must not wait behind a block's checksum. */
#define READER_NICE 5
static _Thread_local int t_direct_set;

static void read_job_run(bg_job *j) {
    read_job *r = (read_job *)j;
    if (!t_direct_set) {
        t_direct_set = 1;
        sst_reader_set_direct_reads(r->direct); /* the block cache is the cache: no page-cache copy */
    }
    unsigned delay = atomic_load_explicit(&g_delay_us, memory_order_relaxed);
    if (delay) {
        struct timespec ts = {(time_t)(delay / 1000000u), (long)(delay % 1000000u) * 1000L};
        nanosleep(&ts, NULL);
    }
    if (r->seek_blocks) {
        j->rc = table_seek_blocks(r->v, r->tc, r->key, r->klen, r->seek_blocks, 0);
        return;
    }
    table_get g;
    table_get_start(&g, r->v, r->tc, r->key, r->klen, key_hash64(r->key, r->klen));
    /* errors are the owner's lookup's to report: it meets them again */
    j->rc = table_get_finish(&g, MAX_SEQUENCE, &t_val);
    if (t_val.cap > KEEP_VALUE_BUFFER) lsm_buf_free(&t_val);
}

int read_pool_start(read_pool **out, int nthreads, table_cache *tc, int direct, int uring) {
    *out = NULL;
    if (nthreads < 1) nthreads = 1;
    if (nthreads > READ_POOL_MAX_THREADS) nthreads = READ_POOL_MAX_THREADS;
    read_pool *p = calloc(1, sizeof(*p) + (size_t)nthreads * sizeof(worker));
    if (!p) return LSM_ENOMEM;
    p->tc = tc;
    p->direct = direct;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        free(p);
        return LSM_EIO;
    }
    for (int i = 0; i < nthreads; i++) {
        char name[16];
        snprintf(name, sizeof name, "kevo-read-%u", (unsigned)i % 1000u); /* fits 15 chars */
        if (worker_start(&p->w[i], p->efd, name, READER_NICE) != 0) {
            read_pool_stop(p);
            return LSM_ENOMEM;
        }
        p->n++;
    }
    /* as deep as the threads' reads could be, at least 64 */
    if (uring && uring_reader_start(&p->uring, tc, p->efd, (unsigned)(nthreads < 64 ? 64 : nthreads * 2), direct,
                                    uring == 2) != 0)
        p->uring = NULL; /* no io_uring here: the threads do every read */
    *out = p;
    return 0;
}

int read_pool_submit(read_pool *p, version *v, const void *key, size_t klen, uint64_t tag,
                     const read_hint *hint) {
    /* the owner's own io_uring reads first (not while a test delays the threads' reads: the delay
     * applies to thread jobs only); what they cannot do, or beyond their depth, goes to a thread */
    static const read_hint none = {NULL, 0, 0, 0};
    if (!hint) hint = &none;
    if (p->uring && atomic_load_explicit(&g_delay_us, memory_order_relaxed) == 0) {
        int rc = uring_reader_submit(p->uring, v, key, klen, tag, hint->r, hint->off, hint->size,
                                     hint->stamp);
        if (rc != LSM_EAGAIN && rc != LSM_EBUSY) return rc;
    } else if (hint->r) {
        sst_reader_unref(hint->r);
    }
    return read_pool_submit_seek(p, v, key, klen, 0, tag);
}

/* uring_reader_done's redo: a lookup that needs a table opened goes to a thread. */
static int redo_on_thread(void *ctx, version *v, const void *key, size_t klen, uint64_t tag) {
    return read_pool_submit_seek(ctx, v, key, klen, 0, tag);
}

int read_pool_submit_seek(read_pool *p, version *v, const void *key, size_t klen, int nblocks,
                          uint64_t tag) {
    /* the least busy worker: a reader blocked on a slow read keeps its queue to itself */
    int best = 0;
    for (int i = 1; i < p->n && p->w[best].inflight; i++)
        if (p->w[i].inflight < p->w[best].inflight) best = i;
    read_job *j = malloc(sizeof(*j) + klen);
    if (!j) return LSM_ENOMEM;
    j->base.run = read_job_run;
    j->base.type = 0;
    j->base.rc = 0;
    j->tc = p->tc;
    j->direct = p->direct;
    j->v = v;
    j->tag = tag;
    j->seek_blocks = nblocks;
    j->klen = klen;
    if (klen) memcpy(j->key, key, klen);
    version_ref(v);
    if (worker_submit(&p->w[best], &j->base) != 0) {
        version_unref(v);
        free(j);
        return LSM_EBUSY;
    }
    p->inflight++;
    return 0;
}

int read_pool_done(read_pool *p, uint64_t *tags, int max) {
    uint64_t v; /* one read takes the whole count (the eventfd is not a semaphore) */
    ssize_t rd = read(p->efd, &v, sizeof(v));
    (void)rd;
    int n = 0;
    for (int i = 0; i < p->n && n < max; i++) {
        bg_job *j;
        while (n < max && (j = worker_pop_result(&p->w[i]))) {
            read_job *r = (read_job *)j;
            tags[n++] = r->tag;
            version_unref(r->v);
            free(r);
            p->inflight--;
        }
    }
    if (p->uring && n < max) n += uring_reader_done(p->uring, tags + n, max - n, redo_on_thread, p);
    /* more left than max: make sure the caller hears of them (the eventfd was drained) */
    if (n == max && p->inflight > 0) {
        uint64_t one = 1;
        ssize_t w = write(p->efd, &one, sizeof(one));
        (void)w;
    }
    return n;
}

void read_pool_on_landed(read_pool *p, uring_landed_fn fn, void *ctx) {
    if (p->uring) uring_reader_on_landed(p->uring, fn, ctx);
}

int read_pool_fd(const read_pool *p) { return p->efd; }
int read_pool_inflight(const read_pool *p) {
    return p->inflight + (p->uring ? uring_reader_inflight(p->uring) : 0);
}

void read_pool_hold(read_pool *p, int on) {
    if (p->uring) uring_reader_hold(p->uring, on);
}

void read_pool_flush(read_pool *p) {
    if (p->uring) uring_reader_flush(p->uring);
}

int read_pool_uses_uring(const read_pool *p) { return p->uring != NULL; }
uint64_t read_pool_uring_reads(const read_pool *p) { return p->uring ? uring_reader_reads(p->uring) : 0; }
uint64_t read_pool_uring_lookups(const read_pool *p) {
    return p->uring ? uring_reader_lookups(p->uring) : 0;
}

/* The last job of each reader thread: frees what its lookups kept for the next one. */
static void cleanup_run(bg_job *j) {
    (void)j;
    lsm_buf_free(&t_val);
    sst_reader_free_thread_buffers();
}

static void wait_idle(read_pool *p) {
    uint64_t tags[64];
    while (p->inflight > 0) {
        if (read_pool_done(p, tags, 64) == 0) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
}

void read_pool_stop(read_pool *p) {
    if (!p) return;
    uring_reader_stop(p->uring); /* its pending lookups are dropped unreported */
    p->uring = NULL;
    wait_idle(p);
    for (int i = 0; i < p->n; i++) {
        read_job *j = calloc(1, sizeof(*j));
        if (!j) continue; /* its buffers are left to the process's exit */
        j->base.run = cleanup_run;
        if (worker_submit(&p->w[i], &j->base) == 0) p->inflight++;
        else free(j);
    }
    wait_idle(p);
    for (int i = 0; i < p->n; i++) worker_stop(&p->w[i]);
    close(p->efd);
    free(p);
}
