/* unlinker.h - unlinks files on a thread of its own (kevo-unlink).
 *
 * Why: the thread that drops an SSTable's last reference is usually the event loop (a version
 * installed after a compaction releases the previous one), and on ext4 unlink(2) of a big file
 * drops its cached pages and frees its blocks before it returns: tens to hundreds of ms for a
 * 64 MiB table, measured as 0.3-0.4 s stalls of every client while a mass expiry's compactions
 * ran. The loop hands the path over instead and goes on.
 *
 * A path queued and not unlinked yet when the process dies is an orphan table: the next open's
 * orphan sweep (lsm.c, remove_garbage) removes it. The unlinks go through fs_unlink (fs.h), so
 * the fault-injection hooks see them.
 * Threads: unlinker_add from any thread; unlinker_start / unlinker_drain / unlinker_stop from
 * the owner (the engine's open and close). */
#ifndef KEVO_UNLINKER_H
#define KEVO_UNLINKER_H
#include <stdint.h>

typedef struct unlinker unlinker;

/* Starts the thread; NULL when it cannot (the caller then unlinks in place). */
unlinker *unlinker_start(void);
/* Queues path (copied). 0, or -1 when it cannot be queued (no memory, stopping): the caller
 * unlinks it itself. */
int unlinker_add(unlinker *u, const char *path);
/* Returns once every path queued before the call was unlinked. */
void unlinker_drain(unlinker *u);
/* Files unlinked so far (any thread). */
uint64_t unlinker_done(unlinker *u);
/* Unlinks what is still queued, stops the thread and frees u (NULL: nothing). */
void unlinker_stop(unlinker *u);
#endif
