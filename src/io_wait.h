/* io_wait.h - commands whose keys are not in memory wait for their disk reads without stopping
 * the loop (issue: reads that never block the loop).
 *
 * Before a command runs, the dispatcher asks io_wait_command whether the keys it names (the
 * command table's key specs, as COMMAND GETKEYS finds them; EXEC: the keys of every queued
 * command) can be looked up from memory (lsm_get_ready). When one cannot, its lookup is queued
 * on the engine's reader threads (lsm_prefetch, tag = the client's id), the client is parked
 * (CLIENT_IO_WAIT: its command stays parsed, its input waits) and the loop serves other clients.
 * When the last of its reads lands (the engine's read eventfd, io_wait_reads_done), the client
 * goes back to the input queue and its command is dispatched again: the lookups are now answered
 * from memory. While parked, the complete commands pipelined behind it have their reads queued
 * too (read-ahead), so one client's pipeline has its reads in flight together.
 *
 * Order and semantics are untouched: a client runs its commands one at a time in order, and a
 * command runs whole on the loop as before (a parked command has not started: no reply, no
 * write). Prefetching is only a hint: a block evicted again before the command runs is read in
 * place (a client is parked at most IO_WAIT_MAX_PARKS times per command, then runs regardless).
 *
 * Main thread only. Active when the engine has reader threads (config disk-read-threads). */
#ifndef KEVO_IO_WAIT_H
#define KEVO_IO_WAIT_H
#include <stdint.h>

struct client;
struct command;

#define IO_WAIT_MAX_PARKS 3

/* 0: run cmd now. 1: c is parked (CLIENT_IO_WAIT) until its reads land; the dispatcher returns
 * with the command still parsed. flags: the command's effective flags (scripts' declared). */
int io_wait_command(struct client *c, const struct command *cmd, uint32_t flags);
/* The engine's read eventfd fired: collects finished reads and requeues the clients whose
 * reads have all landed (their input is processed in before-sleep). */
void io_wait_reads_done(void);
/* The engine is closing (reload, shutdown): every parked client goes back to the input queue
 * (its reads are dropped by the engine; its command then reads in place or parks again). */
void io_wait_release_all(void);

typedef struct io_wait_stats {
    long long parked_commands;   /* times a command was parked */
    long long reads_queued;      /* lookups queued on reader threads */
    long long readahead_queued;  /* of which for pipelined commands behind a parked one */
    long long parked_now;        /* clients parked now (counted when asked) */
} io_wait_stats;
void io_wait_get_stats(io_wait_stats *out);
#endif
