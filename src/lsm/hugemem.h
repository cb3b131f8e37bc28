/* hugemem.h - big zero-filled allocations backed by transparent huge pages where the OS offers
 * them (madvise(MADV_HUGEPAGE) on a 2 MiB-aligned mapping), and a bounded pool of single 2 MiB
 * pages for the memtable arenas and hash indexes.
 *
 * Why: the memtable's skiplist nodes and its hash index are read at random over tens of MB; with
 * 4 KiB pages nearly every node a search visits is a TLB miss (a nested page walk in a VM), and
 * every first touch of a page is a page fault. 2 MiB pages make both ~512x rarer.
 * Requests below HUGEMEM_MIN bytes are served by calloc (huge pages would waste memory there).
 *
 * The page pool: a memtable's arena is freed (after its flush) while the next memtable is
 * filling, and that one would fault in, and have the kernel zero, the same amount of fresh
 * memory on the write path (~8% of the loop's time in an XADD run). hugemem_page_put keeps a
 * freed page (up to the pool limit, hugemem_pool_reserve) and hugemem_page_get hands it out
 * again, already mapped and NOT zeroed (hugemem_page_get_zeroed clears one for an index).
 * Without prefill the pool only holds pages a memtable gave back, so the process's peak
 * footprint is unchanged; it keeps up to the limit mapped between memtables.
 * Prefill (hugemem_prefill_start, the server's engine): fresh memory is costly to fault in
 * where it is first touched (in a VM each new page also faults on the host: ~2 ms per MiB here,
 * 80x a memset of mapped memory), so a detached background thread keeps the pool stocked with
 * pages it has faulted in, up to 16 pages (32 MiB; at most the pool limit) and while pooled +
 * handed-out pages stay within the budget (the engine's memtable bound), refilling as pages are
 * taken, so a new memtable, the first ones included, fills without page faults on the owner
 * thread. With prefill on, a page given back is also kept past the pool limit as long as pooled
 * + handed-out pages stay within the budget: a page unmapped after a flush goes back to the OS
 * (in a VM with free page reporting, to the host within ~2 s) and the next memtable would have
 * it faulted in afresh (measured: the prefill thread's ~10 ticks of CPU per 64 MiB memtable,
 * gone once the pages circulate). Peak footprint: still within that budget.
 * Threads: any thread; a region may be freed by another thread than the one that allocated it
 * (the pool has its own lock). */
#ifndef KEVO_HUGEMEM_H
#define KEVO_HUGEMEM_H
#include <stddef.h>

#define HUGEMEM_PAGE (2u << 20)
#define HUGEMEM_MIN HUGEMEM_PAGE

/* bytes of zeroed memory, 16-aligned (2 MiB-aligned when bytes >= HUGEMEM_MIN), or NULL. The
 * same bytes must be passed to hugemem_free. */
void *hugemem_alloc(size_t bytes);
void hugemem_free(void *p, size_t bytes);

/* One 2 MiB-aligned page of HUGEMEM_PAGE bytes with UNSPECIFIED contents (a pooled page, or a
 * fresh zeroed one), or NULL. Give it back with hugemem_page_put (or hugemem_free). */
void *hugemem_page_get(void);
/* The same, zero-filled: a page the prefill thread faulted in (already zero), else a pooled one
 * cleared with memset, else a fresh one. */
void *hugemem_page_get_zeroed(void);
/* Returns a page from hugemem_page_get (or a hugemem_alloc of HUGEMEM_PAGE bytes) to the pool,
 * or unmaps it when the pool is full (at its limit, and with prefill on, pooled + handed-out
 * pages at the prefill budget). */
void hugemem_page_put(void *p);
/* Raises the pool limit to at least bytes (lsm_open: its memtable size). Never lowers it. */
void hugemem_pool_reserve(size_t bytes);
/* Starts (once per process) the prefill thread, nice added to its niceness (the first call's:
 * thread_nice_self), and raises its budget to at least budget_bytes (pooled + handed-out
 * pages); it runs until the process exits. */
void hugemem_prefill_start(size_t budget_bytes, int nice);
/* Sets the budget to 0: the thread stops adding pages (tests; it stays, idle). */
void hugemem_prefill_stop(void);
/* Pages handed out by hugemem_page_get* and not given back. */
size_t hugemem_pages_out(void);
/* Unmaps every pooled page (tests; memory accounting). */
void hugemem_pool_drain(void);
/* Pages in the pool now; pages it may hold. */
size_t hugemem_pool_pages(void);
size_t hugemem_pool_limit(void);
#endif
