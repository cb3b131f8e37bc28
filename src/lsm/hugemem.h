/* hugemem.h - big zero-filled allocations backed by transparent huge pages where the OS offers
 * them (madvise(MADV_HUGEPAGE) on a 2 MiB-aligned mapping).
 *
 * Why: the memtable's skiplist nodes and its hash index are read at random over tens of MB; with
 * 4 KiB pages nearly every node a search visits is a TLB miss (a nested page walk in a VM), and
 * every first touch of a page is a page fault. 2 MiB pages make both ~512x rarer.
 * Requests below HUGEMEM_MIN bytes are served by calloc (huge pages would waste memory there).
 * Threads: any thread; a region may be freed by another thread than the one that allocated it. */
#ifndef KEVO_HUGEMEM_H
#define KEVO_HUGEMEM_H
#include <stddef.h>

#define HUGEMEM_PAGE (2u << 20)
#define HUGEMEM_MIN HUGEMEM_PAGE

/* bytes of zeroed memory, 16-aligned (2 MiB-aligned when bytes >= HUGEMEM_MIN), or NULL. The
 * same bytes must be passed to hugemem_free. */
void *hugemem_alloc(size_t bytes);
void hugemem_free(void *p, size_t bytes);
#endif
