/* multi.h - MULTI/EXEC/DISCARD/WATCH/UNWATCH state (cmd_multi.c). Main thread only.
 * A client's queue (c->mstate) and watched keys (c->watched) are owned by cmd_multi.c and freed
 * by multi_client_free. */
#ifndef KEVO_MULTI_H
#define KEVO_MULTI_H
#include <stddef.h>

struct client;
struct command;
struct cmdarg;

/* Called by the dispatcher for every non-CMD_MULTI_CTL command while c->flags & CLIENT_MULTI,
 * after the command lookup and arity checks succeeded: copies c->argv into the queue and replies
 * +QUEUED. (Errors while queueing are the dispatcher's: it calls multi_flag_error.) */
void multi_queue_command(struct client *c);
/* Marks the transaction as failed (EXEC will answer EXECABORT): unknown command, bad arity, or a
 * command refused while queueing. Safe to call when the client is not in MULTI (no-op). */
void multi_flag_error(struct client *c);
/* A key of LOGICAL db was modified (written, deleted, expired): every client watching it gets
 * CLIENT_DIRTY_CAS. O(1) when nobody watches anything. Called by the keyspace on every write. */
void multi_touch_key(int db, const char *key, size_t len);
/* Logical db is about to be emptied or swapped: every watched key of db that currently exists
 * is touched (as Redis's touchAllWatchedKeysInDb). */
void multi_touch_db(int db);
/* The commands queued by MULTI (for reading their keys ahead of EXEC: io_wait.h): how many,
 * and the i-th one's top-level command with its arguments (valid until the queue changes). */
int multi_queued_count(const struct client *c);
const struct command *multi_queued(const struct client *c, int i, const struct cmdarg **argv, int *argc);
/* Frees the queue and the watches of c (disconnect). Safe to call twice. */
void multi_client_free(struct client *c);
#endif
