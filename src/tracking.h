/* tracking.h - client-side caching (Redis 7.0's tracking.c): CLIENT TRACKING, the table of keys
 * tracking clients have read, and invalidation messages.
 *
 * Default mode: after a read-only command of a tracking client (OPTIN: only after CLIENT CACHING
 * yes; OPTOUT: unless CLIENT CACHING no), its keys (command_get_keys) are remembered with the
 * client's id. When such a key is modified (by anyone: NOLOOP skips the client's own writes)
 * the clients that read it get one invalidation and the key is forgotten. BCAST mode: nothing is
 * remembered; every modified key matching one of the client's prefixes ("" = all) is collected
 * and sent in before-sleep, one message per prefix, keys in byte order.
 * Messages: RESP3 push [invalidate, [key...]] (null instead of the array after FLUSHDB /
 * FLUSHALL); with REDIRECT to a RESP2 client subscribed to anything, a pub/sub message on
 * __redis__:invalidate; a RESP2 client without redirection gets nothing. A redirect target that
 * disconnected makes the client's invalidations stop (flag R) and, in RESP3, the client gets
 * [tracking-redir-broken, id] instead.
 * The table is global (all DBs) and bounded by tracking-table-max-keys: over it, random keys are
 * invalidated (as if modified) before commands and in the cron.
 *
 * Loop thread only. Clients are referenced by id in the table (removed lazily, as Redis). */
#ifndef KEVO_TRACKING_H
#define KEVO_TRACKING_H
#include <stddef.h>
#include <stdint.h>

struct client;
struct command;

/* CLIENT subcommand handlers (table entries in cmd_server.c): TRACKING, CACHING, GETREDIR,
 * TRACKINGINFO, with Redis's replies and errors. */
void tracking_client_tracking_cmd(struct client *c);
void tracking_client_caching_cmd(struct client *c);
void tracking_client_getredir_cmd(struct client *c);
void tracking_client_trackinginfo_cmd(struct client *c);

/* The redirect id of a tracking client (0: none), for CLIENT LIST redir=. */
uint64_t tracking_redirect_id(const struct client *c);
/* Tracking off (CLIENT TRACKING off, RESET, disconnect): leaves its prefixes; frees its state. */
void tracking_client_free(struct client *c);

/* After cmd ran for c (any outcome): remembers its keys when cmd is read-only and c tracks in
 * default mode (command.c's call path; c->argv is the command's arguments). When c is the script
 * client, the script's caller remembers the keys its EVAL/FCALL declared (Redis 7.0). */
void tracking_remember_keys(struct client *c, const struct command *cmd);
/* A key changed (Redis's trackingInvalidateKey from signalModifiedKey): invalidation for the
 * clients that read it, and for BCAST prefixes. by_expiry: deleted by expiry (no writer for
 * NOLOOP's purposes). Messages for server.current_client wait for tracking_command_done. */
void tracking_invalidate_key(const char *key, size_t len, int by_expiry);
/* FLUSHDB / FLUSHALL: a null invalidation to every tracking client; the table is emptied. */
void tracking_invalidate_all(void);
/* After a top-level command: sends the invalidations kept for server.current_client. */
void tracking_command_done(void);
/* Before-sleep: the BCAST messages collected since the last call. */
void tracking_broadcast(void);
/* Before each command and in the cron: keeps the table within tracking-table-max-keys. */
void tracking_limit_keys(void);

/* INFO: tracking_clients, tracking_total_keys, tracking_total_items, tracking_total_prefixes. */
long long tracking_clients(void);
long long tracking_total_keys(void);
long long tracking_total_items(void);
long long tracking_total_prefixes(void);
#endif
