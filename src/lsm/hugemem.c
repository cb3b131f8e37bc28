/* hugemem.c - huge-page-backed allocations and the page pool (see hugemem.h). */
#include "hugemem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

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

/* ---- the page pool: a stack of free pages, linked through their first word ---- */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static void *pool_top;     /* first pooled page (its first word: the next one) */
static size_t pool_count;  /* pages pooled */
static size_t pool_limit;  /* pages the pool may hold */

void *hugemem_page_get(void) {
    pthread_mutex_lock(&pool_lock);
    void *p = pool_top;
    if (p) {
        pool_top = *(void **)p;
        pool_count--;
    }
    pthread_mutex_unlock(&pool_lock);
    return p ? p : hugemem_alloc(HUGEMEM_PAGE);
}

void hugemem_page_put(void *p) {
    if (!p) return;
    pthread_mutex_lock(&pool_lock);
    int keep = pool_count < pool_limit;
    if (keep) {
        *(void **)p = pool_top;
        pool_top = p;
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
    void *p = pool_top;
    pool_top = NULL;
    pool_count = 0;
    pthread_mutex_unlock(&pool_lock);
    while (p) {
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
