/* client.h - one client connection: query buffer, parsed arguments, reply buffer, and the
 * reply functions every command handler uses. Main thread only.
 *
 * Replies are buffered (a fixed buffer plus a list of overflow chunks) and written to the socket
 * in the loop's before-sleep hook AFTER the WAL commit of that iteration (group commit), never
 * from a handler. A client whose pending output passes its limit is closed. */
#ifndef KEVO_CLIENT_H
#define KEVO_CLIENT_H
#include "reply.h"
#include <stddef.h>
#include <stdint.h>

/* One argument of the current command. ptr is NUL-terminated (ptr[len] == 0) for convenience,
 * but the content may contain NUL bytes. Valid until the handler returns. */
typedef struct cmdarg {
    char *ptr;
    size_t len;
} cmdarg;

#define CLIENT_MULTI        (1u << 0)  /* inside MULTI */
#define CLIENT_DIRTY_CAS    (1u << 1)  /* a WATCHed key changed: EXEC will fail */
#define CLIENT_DIRTY_EXEC   (1u << 2)  /* an error while queueing: EXEC answers EXECABORT */
#define CLIENT_CLOSE_AFTER_REPLY (1u << 3)
#define CLIENT_PAUSED_WRITE (1u << 4)  /* waiting for engine back-pressure to clear */
#define CLIENT_EXECUTING    (1u << 5)  /* inside EXEC */
#define CLIENT_NO_EVICT     (1u << 6)
#define CLIENT_REPLY_OFF    (1u << 7)  /* CLIENT REPLY OFF/SKIP */
#define CLIENT_MONITOR      (1u << 8)
#define CLIENT_BLOCKED      (1u << 9)  /* in a blocking command (blocking.h): input waits */
#define CLIENT_DENY_BLOCKING (1u << 10) /* a blocking command must act as its non-blocking form
                                          (set on the script client, as Redis) */
#define CLIENT_SCRIPT       (1u << 11) /* the script client redis.call runs commands on: the
                                          server time stays frozen for the whole script */
#define CLIENT_IO_WAIT      (1u << 12) /* parked until the disk reads of its command land
                                          (io_wait.h): the command stays parsed, input waits */
/* pub/sub and client-side caching (pubsub.c, tracking.c): high bits, as Redis names them */
#define CLIENT_PUBSUB       (1u << 20) /* subscribed to a channel, pattern or shard channel */
#define CLIENT_PUSHING      (1u << 21) /* an out-of-band message is being appended: CLIENT REPLY
                                          OFF/SKIP does not silence it (client_push_begin) */
#define CLIENT_TRACKING     (1u << 22) /* CLIENT TRACKING on */
#define CLIENT_TRACKING_BROKEN_REDIR (1u << 23) /* the redirect target is gone */
#define CLIENT_TRACKING_BCAST  (1u << 24)
#define CLIENT_TRACKING_OPTIN  (1u << 25)
#define CLIENT_TRACKING_OPTOUT (1u << 26)
#define CLIENT_TRACKING_CACHING (1u << 27) /* CLIENT CACHING yes/no given for the next command */
#define CLIENT_TRACKING_NOLOOP (1u << 28)

struct multi_state;  /* owned by cmd_multi.c */
struct watch_state;  /* owned by cmd_multi.c */
struct block_state;  /* owned by blocking.c */
struct pubsub_state;   /* owned by pubsub.c */
struct tracking_state; /* owned by tracking.c */

typedef struct client {
    uint64_t id;
    int fd;
    uint32_t flags;
    int resp;                 /* 2 or 3 (HELLO) */
    int db;                   /* selected logical database (SELECT) */
    int authenticated;
    int argc;
    cmdarg *argv;
    const struct command *cmd;      /* command being run (top-level) */
    struct multi_state *mstate;     /* MULTI queue, NULL outside MULTI (cmd_multi.c) */
    struct watch_state *watched;    /* WATCHed keys, NULL if none (cmd_multi.c) */
    struct block_state *bstate;     /* keys, deadline, command while CLIENT_BLOCKED (blocking.c) */
    char *name;                     /* CLIENT SETNAME, NULL if unset */
    struct pubsub_state *pubsub;    /* subscriptions, NULL if none yet (pubsub.c) */
    struct tracking_state *tracking; /* CLIENT TRACKING details, NULL if never on (tracking.c) */
    int io_pending;                 /* CLIENT_IO_WAIT: reads still in flight (io_wait.c) */
    int io_parks;                   /* times the current command was parked (io_wait.c) */
    /* ... connection internals (buffers, timestamps, addresses): client.c's business ... */
    struct client_internal *in;
} client;

/* ---- replies (RESP2 or RESP3 per c->resp) ---- */
void reply_simple(client *c, const char *s);             /* +s */
void reply_ok(client *c);                                /* +OK */
void reply_error(client *c, const char *msg);            /* -msg ; msg like "ERR syntax error" */
/* As reply_error without counting it in the error stats: an error already counted when a
 * command inside a script replied it (Redis's ERR_REPLY_FLAG_NO_STATS_UPDATE). c's current
 * command (EVAL, FCALL) still counts as failed in INFO commandstats, as in Redis. */
void reply_error_nostats(client *c, const char *msg);
void reply_errorf(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_int(client *c, long long v);                  /* :v */
void reply_bulk(client *c, const void *p, size_t len);   /* $len p */
void reply_bulk_cstr(client *c, const char *s);
void reply_bulk_ll(client *c, long long v);              /* integer as a bulk string */
void reply_null(client *c);          /* RESP2 $-1, RESP3 _ */
void reply_null_array(client *c);    /* RESP2 *-1, RESP3 _ */
void reply_array(client *c, long n); /* *n */
void reply_map(client *c, long n);   /* RESP3 %n, RESP2 *2n */
void reply_set(client *c, long n);   /* RESP3 ~n, RESP2 *n */
void reply_double(client *c, double d); /* RESP3 ,d ; RESP2 bulk string (Redis's %.17g form) */
void reply_bool(client *c, int b);   /* RESP3 #t/#f ; RESP2 :1/:0 */
void reply_verbatim(client *c, const char *p, size_t len, const char *ext3); /* RESP3 =, RESP2 $ */
void reply_push(client *c, long n);  /* RESP3 >n (out-of-band push), RESP2 *n */
void reply_proto(client *c, const void *p, size_t len); /* bytes already in RESP form */
void reply_bignum(client *c, const char *p, size_t len); /* RESP3 (p, RESP2 bulk string */
/* Aggregate whose length is known only after its elements: reserve, add elements, then set. */
void *reply_defer_len(client *c);
void reply_set_deferred_array(client *c, void *handle, long n);
void reply_set_deferred_map(client *c, void *handle, long n);
void reply_set_deferred_set(client *c, void *handle, long n);

/* Redis's standard errors */
#define ERR_SYNTAX   "ERR syntax error"
#define ERR_NOT_INT  "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT "ERR value is not a valid float"
#define ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_NO_KEY   "ERR no such key"
#define ERR_OVERFLOW "ERR increment or decrement would overflow"
#define ERR_DB_INDEX "ERR DB index is out of range"
void reply_wrong_arity(client *c, const char *cmdname);
/* Replies "-ERR storage engine error: ..." for a negative engine (LSM_E*) code, with the
 * engine's detail for corruption and I/O errors. */
void keyspace_reply_engine_error(client *c, int err); /* ERR wrong number of arguments for '%s' command */

/* ---- lifecycle (client.c) ---- */
client *client_create(int fd);
void client_free(client *c);                 /* closes the socket */
void client_close_async(client *c);          /* freed at a safe point in before-sleep */
/* Input processing resumes for c in before-sleep (a parked client whose reads landed). */
void client_schedule_input(client *c);
/* The bytes of c's query buffer after its current parsed command (pipelined commands not parsed
 * yet), for a read-only look ahead; NULL when none. Valid until c's input is next processed. */
const char *client_pending_input(client *c, size_t *len);
/* Iterate all clients (CLIENT LIST / KILL, INFO clients). */
void client_foreach(void (*fn)(client *c, void *ctx), void *ctx);
client *client_by_id(uint64_t id);  /* O(1); NULL when no such client is connected */

/* Out-of-band messages (pub/sub messages, keyspace events, invalidations) to any client, the
 * running one included: client_push_begin returns 0 when c takes no more output (closing, or
 * QUIT was sent), else sets CLIENT_PUSHING so that the reply_* calls up to client_push_end
 * reach c even under CLIENT REPLY OFF/SKIP (as Redis). client_push_end clears the flag,
 * schedules c's write for before-sleep and applies c's output buffer limits (a client over
 * them is closed asynchronously; not checked for the client whose command is running, whose
 * limits are checked after its command). Loop thread. */
int client_push_begin(client *c);
void client_push_end(client *c);
/* The client-output-buffer-limit class of c: 0 normal, 2 pubsub (Redis's order: normal,
 * replica, pubsub; Kevo has no replicas). */
int client_obuf_class(const client *c);

/* ---- added by client.c (S1): connection plumbing used by server.c/command.c/cmd_server.c ---- */
struct event_loop;
/* Listening socket handler: accepts up to 1000 connections per event. */
void client_accept_handler(struct event_loop *el, int fd, void *data, int mask);
size_t client_count(void);
/* Processes the buffered commands of c (after a read, or when resumed). */
void client_process_input(client *c);
/* Back-pressure: stop reading c (its current command stays parsed, to be retried). */
void client_pause_write(client *c);
/* c was just unblocked by blocking.c (served, timed out, CLIENT UNBLOCK), its reply appended:
 * its blocked command is done (the parsed command leaves the query buffer), its reply is queued
 * for before-sleep's write and its pipelined input is processed by client_process_unblocked.
 * Never called while c's own input is being processed. */
void client_unblocked(client *c);
/* Before-sleep, before the WAL commit: processes the pending input of the clients unblocked since
 * the last call (and of those they unblock in turn), in order. While nothing waits for a commit
 * (only reads ran), every budget_us (> 0) it handles the loop's ready file events in between
 * (ev_process_file_events_nested: new requests, landed reads) and starts the reads they queued;
 * after 2 ms of that it returns 1, leaving the rest for the next call. Once a write waits for
 * the commit it goes on to the end (their replies go out together after one commit): returns 0. */
int client_process_unblocked(long long budget_us);
/* Resumes every paused client (the engine is no longer stalled): runs their pending commands. */
void client_resume_paused(void);
size_t client_paused_count(void);
/* A write command is about to run for c in this loop iteration: remembers the reply position so
 * the replies can be replaced by errors if the iteration's WAL commit fails. */
void client_note_write(client *c);
/* Before-sleep, after lsm_commit: writes every client's pending replies (one writev each;
 * a writable handler only when the socket would block), then frees clients closed async.
 * commit_ok == 0: replies of commands since each client's write mark are replaced by errs. */
void client_flush_all(int commit_ok, const char *err);
/* Cron: idle timeout, output-buffer soft limit, query buffer shrinking. */
void client_cron(void);
/* "id=.. addr=.. ..." line of CLIENT LIST / CLIENT INFO (no trailing newline) into buf. */
void client_info_string(client *c, char *buf, size_t cap);
const char *client_peer_addr(client *c);
int client_is_local(client *c);
/* CLIENT REPLY SKIP: suppress the reply of the next command only. */
void client_skip_next_reply(client *c);
/* Last command name run by c (for CLIENT LIST "cmd="). */
void client_set_lastcmd(client *c, const char *fullname);
void client_set_lib(client *c, int ver, const char *v, size_t len); /* CLIENT SETINFO */
/* Bytes of reply not yet written (tests, INFO). */
size_t client_reply_pending(client *c);
/* Copies the pending reply bytes into dst (tests); returns the count. */
size_t client_reply_copy(client *c, char *dst, size_t cap);
/* The reply position now, and dropping every reply byte appended after it: for a command that
 * must take back what it replied (EXEC whose transaction could not be written). Valid within
 * one command (replies are only written out in before-sleep). Loop thread. */
void client_reply_mark(client *c, reply_mark *m);
void client_reply_truncate(client *c, const reply_mark *m);
/* Discards pending reply bytes (tests). */
void client_reply_reset(client *c);
/* MONITOR: c starts receiving every command run by any client. */
void client_monitor_add(client *c);
/* 1 when at least one MONITOR client is connected. */
int client_monitors_active(void);
/* Sends c's current command (c->argv) to every monitor, Redis's format:
 * +<unix time.usec> [<db> <addr>] "arg" "arg"... */
void client_monitor_feed(client *c);
/* ---- the script client and busy scripts (src/scripting) ---- */
/* A client with no connection, not listed anywhere (CLIENT LIST, INFO, monitors' targets):
 * scripts run their commands on it. Its address reads "lua" (MONITOR shows [db lua]). Freed
 * with client_free. NULL when out of memory. */
client *client_create_script(void);
/* The pending reply bytes of c as one block (*len set): the fixed buffer itself when nothing
 * overflowed, else a copy in a buffer c owns. Valid until the next reply to c or
 * client_reply_reset. */
const char *client_reply_contents(client *c, size_t *len);
/* A busy script's caller: not read from (nor freed by a read error) until client_unprotect,
 * which resumes reading. */
void client_protect(client *c);
void client_unprotect(client *c);
/* A script became busy: every client whose pending replies answer writes of the current commit
 * epoch (not durable yet) is held; client_flush_unheld writes the others (read replies, BUSY
 * errors, SCRIPT KILL's reply...) and frees closed clients; client_release_held ends the hold
 * (held replies then go out in the loop's before-sleep, after the commit). */
void client_hold_pending(void);
void client_flush_unheld(void);
void client_release_held(void);
/* Totals for INFO clients/stats. */
size_t client_max_output(void);
size_t client_max_input(void);
#endif
