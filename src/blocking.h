/* blocking.h - clients blocked on keys (BLPOP, BZPOPMIN, BLMOVE, BZMPOP ...), Redis 7 semantics.
 * Main thread only.
 *
 * A blocking command's handler first tries its non-blocking form; when no key has data it calls
 * blocking_block, which parks the client: a registry maps (logical db, key) to the FIFO of the
 * clients blocked on it, and the client keeps its keys, its deadline, its command and a private
 * copy of its arguments (c->bstate, owned here). The client's later pipelined commands wait
 * (client.c stops processing its input while CLIENT_BLOCKED is set).
 *
 * Wake-ups: every keyspace write that can give a key data calls blocking_signal_key (one
 * counter check when nobody is blocked); a key with blocked clients is queued as ready once.
 * After each top-level command (and after EXEC as a whole, never inside it) the dispatcher calls
 * blocking_handle_ready: for every ready key, in the order they became ready, the clients blocked
 * on it are served first-come first-served while the key holds data of the type they wait for
 * (a client waiting for another type stays blocked, as Redis 7.0). Serving a client re-runs its
 * command in its non-blocking form in its own write group (blocking_rerunning is true meanwhile;
 * the command serves from the first of its keys, in argument order, with data); its reply goes
 * out after the iteration's WAL commit like any write, then its pipelined input continues
 * (client_unblocked). A served command that pushes to another key (BLMOVE) readies that key and
 * its clients are served in the same pass (chained wake-ups).
 *
 * Timeouts: one event-loop timer at the earliest deadline (millisecond precision); a timed-out
 * client gets the nil array (RESP2 *-1, RESP3 _), as Redis's replyToBlockedClientTimedOut. */
#ifndef KEVO_BLOCKING_H
#define KEVO_BLOCKING_H
#include <stddef.h>
#include <stdint.h>

#include "client.h"

/* Parses a blocking timeout in seconds as Redis's getTimeoutFromObjectOrReply (a long double,
 * ceil to milliseconds): *ms gets the timeout in milliseconds, 0 = forever. 0 ok; -1 when it
 * replied "ERR timeout is not a float or out of range" or "ERR timeout is negative" (values
 * whose milliseconds do not fit a signed 64-bit integer, +-inf included, count as negative, as
 * Redis's conversion makes them). */
int blocking_parse_timeout(client *c, const cmdarg *a, long long *ms);

/* 1 when c may block: not inside EXEC (nor, later, a script). Otherwise a blocking command acts
 * as its non-blocking form and replies its nil at once when no key has data. */
int blocking_may_block(const client *c);

/* 1 while c's blocked command is being re-run because one of its keys got data. The command
 * then treats keys holding another type as empty (Redis 7.0 serves from the ready key and never
 * looks at the others) instead of replying WRONGTYPE. */
int blocking_rerunning(const client *c);

/* Blocks c (running its blocking command, blocking_may_block(c) true, nothing replied) on
 * keys[0..nkeys) of c->db, in argument order (repeated keys count once), waiting for a value of
 * type (KTYPE_LIST, KTYPE_ZSET). timeout_ms from blocking_parse_timeout (0 = forever). Copies
 * c's command and arguments (c->cmd, c->argv): nothing of the caller's is kept. While c is being
 * re-run (blocking_rerunning), it just stays blocked where it was (same place in every FIFO,
 * same deadline). 0, or -1 out of memory (an error was replied, c is not blocked). */
int blocking_block(client *c, const cmdarg *keys, int nkeys, uint8_t type, long long timeout_ms);

/* After blocking_block (not while re-run): c is also re-run when one of its keys is deleted or
 * comes to hold another type than the one it waits for, so that its command can answer that
 * (XREADGROUP: Redis unblocks it with "-UNBLOCKED the stream key no longer exists"). */
void blocking_wake_on_gone(client *c);

/* A write gave (or may have given) key of LOGICAL db data: queues it as ready when clients are
 * blocked on it. Cheap when nobody is blocked. Called by the keyspace on every put; may be called
 * for any key at any time (a ready key without data serves nobody). */
void blocking_signal_key(int db, const char *key, size_t len);
/* Every key of logical db with blocked clients is ready (SWAPDB: the db now shows other data). */
void blocking_signal_db(int db);

/* Serves the clients blocked on ready keys (see above), until no key is ready. Called by the
 * dispatcher after each top-level command and by before-sleep; a no-op when called while it
 * runs (re-run commands do not serve recursively: the loop picks their keys up). */
void blocking_handle_ready(void);

/* CLIENT UNBLOCK: when c is blocked, replies the timeout's nil (error == 0) or
 * "-UNBLOCKED client unblocked via CLIENT UNBLOCK" (error == 1) to it and unblocks it; returns
 * 1. Returns 0 when c is not blocked. */
int blocking_unblock(client *c, int error);

/* Disconnect or CLIENT KILL: c leaves every FIFO, the timeout heap and the counters with no
 * reply. Safe when c is not blocked, and safe to call twice. */
void blocking_client_free(client *c);

/* The event-loop timer's work, callable directly (tests): unblocks, with the nil reply, every
 * client whose deadline (monotonic ms, blocking_now_ms) is <= now_ms. Returns how many. */
size_t blocking_expire(long long now_ms);
long long blocking_now_ms(void); /* CLOCK_MONOTONIC milliseconds */

/* INFO clients: blocked clients; those with a deadline (clients_in_timeout_table). */
size_t blocking_clients(void);
size_t blocking_clients_with_timeout(void);
/* Registry size: keys with at least one blocked client (tests). */
size_t blocking_keys(void);
#endif
