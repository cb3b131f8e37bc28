/* hugemem.c - huge-page-backed allocations and the page pool (see hugemem.h). */
#include "hugemem.h"

#include "worker.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t mapped_len(size_t bytes) {
    return (bytes + HUGEMEM_PAGE - 1) & ~(size_t)(HUGEMEM_PAGE - 1);
}

void *hugemem_alloc(size_t bytes) {
    if (bytes < HUGEMEM_MIN) return calloc(1, bytes ? bytes : 1);
    size_t len = mapped_len(bytes);
    if (len < bytes) return NULL;
    /* over-map by one huge page, then unmap the unaligned head and tail */
    char *p = mmap(NULL, len + HUGEMEM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) return NULL;
    uintptr_t a = ((uintptr_t)p + HUGEMEM_PAGE - 1) & ~(uintptr_t)(HUGEMEM_PAGE - 1);
    size_t head = (size_t)(a - (uintptr_t)p);
    if (head) munmap(p, head);
    size_t tail = HUGEMEM_PAGE - head;
    if (tail) munmap((char *)a + len, tail);
#ifdef MADV_HUGEPAGE
    madvise((void *)a, len, MADV_HUGEPAGE); /* advice only: 4 KiB pages if refused */
#endif
    return (void *)a;
}

void hugemem_free(void *p, size_t bytes) {
    if (!p) return;
    if (bytes < HUGEMEM_MIN) {
        free(p);
        return;
    }
    munmap(p, mapped_len(bytes));
}

/* ---- the page pool: two stacks of free pages, linked through their first word ---- */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static void *pool_dirty;   /* pages given back (unspecified contents) */
static void *pool_clean;   /* pages the prefill thread faulted in: zero but their first word */
static size_t pool_count;  /* pages pooled, both stacks */
static size_t pool_limit;  /* pages the pool may hold */
static size_t pages_out;   /* pages hugemem_page_get* handed out and not yet given back */
/* prefill (hugemem_prefill_start): pooled + handed-out pages may reach this many; 0 = off */
static size_t prefill_budget;
static pthread_cond_t prefill_cv = PTHREAD_COND_INITIALIZER;
static pid_t prefill_pid; /* the process whose prefill thread runs (a fork child has none) */
static int prefill_nice;  /* set before the thread starts */

/* Pages the prefill thread keeps ready at most (32 MiB): it refills as pages are taken (a page
 * takes it ~4 ms here, a memtable filling at pipeline 16 takes one every ~30 ms), so a window is
 * enough and an idle server does not map a whole memtable's worth ahead. */
#define PREFILL_AHEAD_PAGES 16

/* Under pool_lock: the prefill thread should fault in one more page. */
static int prefill_wanted(void) {
    size_t ahead = pool_limit < PREFILL_AHEAD_PAGES ? pool_limit : PREFILL_AHEAD_PAGES;
    return prefill_budget && pool_count < ahead && pool_count + pages_out < prefill_budget;
}

static void *pop(void **top) {
    void *p = *top;
    if (p) {
        *top = *(void **)p;
        pool_count--;
    }
    return p;
}

/* A pooled page, the preferred stack first (*clean: whether it came from the clean one), or
 * a fresh mapping (zero: *clean = 1), or NULL. */
static void *page_take(int want_clean, int *clean) {
    pthread_mutex_lock(&pool_lock);
    void *p = want_clean ? pop(&pool_clean) : pop(&pool_dirty);
    *clean = want_clean;
    if (!p) {
        p = want_clean ? pop(&pool_dirty) : pop(&pool_clean);
        *clean = !want_clean;
    }
    pages_out++;
    if (prefill_wanted()) pthread_cond_signal(&prefill_cv);
    pthread_mutex_unlock(&pool_lock);
    if (!p) {
        *clean = 1;
        if (!(p = hugemem_alloc(HUGEMEM_PAGE))) {
            pthread_mutex_lock(&pool_lock);
            pages_out--;
            pthread_mutex_unlock(&pool_lock);
        }
    }
    return p;
}

void *hugemem_page_get(void) {
    int clean;
    return page_take(0, &clean);
}

void *hugemem_page_get_zeroed(void) {
    int clean;
    char *p = page_take(1, &clean);
    if (p && clean) *(void **)p = NULL; /* the pool's link */
    else if (p) memset(p, 0, HUGEMEM_PAGE);
    return p;
}

void hugemem_page_put(void *p) {
    if (!p) return;
    pthread_mutex_lock(&pool_lock);
    if (pages_out) pages_out--;
    /* With prefill on, a page is kept while everything mapped stays within the budget: an
     * unmapped page goes back to the OS (in a VM, to the host within ~2 s), and the prefill
     * thread would fault a fresh one in again for the next memtable at ~2 ms per MiB. */
    int keep = pool_count < pool_limit || pool_count + pages_out < prefill_budget;
    if (keep) {
        *(void **)p = pool_dirty;
        pool_dirty = p;
        pool_count++;
    }
    pthread_mutex_unlock(&pool_lock);
    if (!keep) munmap(p, HUGEMEM_PAGE);
}

void hugemem_pool_reserve(size_t bytes) {
    size_t pages = bytes / HUGEMEM_PAGE;
    pthread_mutex_lock(&pool_lock);
    if (pages > pool_limit) pool_limit = pages;
    pthread_mutex_unlock(&pool_lock);
}

void hugemem_pool_drain(void) {
    pthread_mutex_lock(&pool_lock);
    void *stacks[2] = {pool_dirty, pool_clean};
    pool_dirty = pool_clean = NULL;
    pool_count = 0;
    pthread_mutex_unlock(&pool_lock);
    for (int i = 0; i < 2; i++)
        for (void *p = stacks[i]; p;) {
            void *next = *(void **)p;
            munmap(p, HUGEMEM_PAGE);
            p = next;
        }
}

size_t hugemem_pool_pages(void) {
    pthread_mutex_lock(&pool_lock);
    size_t n = pool_count;
    pthread_mutex_unlock(&pool_lock);
    return n;
}

size_t hugemem_pool_limit(void) {
    pthread_mutex_lock(&pool_lock);
    size_t n = pool_limit;
    pthread_mutex_unlock(&pool_lock);
    return n;
}

/* ---- prefill: a background thread faults pages in ahead of the memtables ---- */

static void *prefill_main(void *arg) {
    (void)arg;
    thread_nice_self(prefill_nice);
    pthread_mutex_lock(&pool_lock);
    for (;;) {
        while (!prefill_wanted()) pthread_cond_wait(&prefill_cv, &pool_lock);
        pthread_mutex_unlock(&pool_lock);
        char *p = hugemem_alloc(HUGEMEM_PAGE);
        /* the first write faults the page in (all 2 MiB of it where it is a huge page) */
        if (p)
            for (size_t i = 0; i < HUGEMEM_PAGE; i += 4096) ((volatile char *)p)[i] = 0;
        pthread_mutex_lock(&pool_lock);
        if (!p) { /* no memory now: try again when a page comes back or is taken */
            pthread_cond_wait(&prefill_cv, &pool_lock);
            continue;
        }
        if (prefill_wanted()) {
            *(void **)p = pool_clean;
            pool_clean = p;
            pool_count++;
        } else {
            pthread_mutex_unlock(&pool_lock);
            munmap(p, HUGEMEM_PAGE);
            pthread_mutex_lock(&pool_lock);
        }
    }
    return NULL;
}

void hugemem_prefill_stop(void) {
    pthread_mutex_lock(&pool_lock);
    prefill_budget = 0;
    pthread_mutex_unlock(&pool_lock);
}

size_t hugemem_pages_out(void) {
    pthread_mutex_lock(&pool_lock);
    size_t n = pages_out;
    pthread_mutex_unlock(&pool_lock);
    return n;
}

void hugemem_prefill_start(size_t budget_bytes, int nice) {
    size_t pages = budget_bytes / HUGEMEM_PAGE;
    pthread_mutex_lock(&pool_lock);
    if (pages > prefill_budget) prefill_budget = pages;
    int start = prefill_pid != getpid();
    if (start) {
        prefill_nice = nice;
        if (thread_start_detached(prefill_main, "kevo-prefill") == 0) prefill_pid = getpid();
    }
    if (prefill_wanted()) pthread_cond_signal(&prefill_cv);
    pthread_mutex_unlock(&pool_lock);
}
