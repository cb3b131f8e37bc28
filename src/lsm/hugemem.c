/* hugemem.c - huge-page-backed allocations (see hugemem.h). */
#include "hugemem.h"

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
