/* command.h - the command table and dispatch.
 * Each cmd_*.c file exports a const table of its commands, terminated by an entry with
 * name == NULL; command.c joins them into one lookup (case-insensitive) at startup.
 * Handlers run on the main thread with the client's arguments in c->argv (valid for the call
 * only) and reply through the client.h reply functions. Arity as Redis: N = exactly N args
 * (command name included), -N = at least N. The dispatcher checks arity, auth, MULTI queueing
 * and write back-pressure before calling a handler. */
#ifndef KEVO_COMMAND_H
#define KEVO_COMMAND_H
#include <stddef.h>
#include <stdint.h>

struct client;
typedef void (*command_proc)(struct client *c);

/* flags (also shown by COMMAND INFO, lowercase, as Redis names them) */
#define CMD_WRITE      (1u << 0)  /* "write": may modify data; paused under back-pressure */
#define CMD_READONLY   (1u << 1)  /* "readonly" */
#define CMD_DENYOOM    (1u << 2)  /* "denyoom" */
#define CMD_ADMIN      (1u << 3)  /* "admin" */
#define CMD_NOSCRIPT   (1u << 4)  /* "noscript" */
#define CMD_LOADING    (1u << 5)  /* "loading" */
#define CMD_STALE      (1u << 6)  /* "stale" */
#define CMD_FAST       (1u << 7)  /* "fast" */
#define CMD_NO_AUTH    (1u << 8)  /* "no_auth": allowed before AUTH */
#define CMD_NO_MULTI   (1u << 9)  /* "no_multi": refused inside MULTI */
#define CMD_ALLOW_BUSY (1u << 10) /* "allow_busy" */
#define CMD_SKIP_SLOWLOG (1u << 11) /* "skip_slowlog" */
#define CMD_MULTI_CTL  (1u << 12) /* internal: MULTI/EXEC/DISCARD/WATCH/UNWATCH, never queued */
#define CMD_PROTECTED  (1u << 13) /* "protected" (hidden, as in Redis): DEBUG, refused unless
                                     enable-debug-command allows this client */
#define CMD_KEYNUM     (1u << 14) /* "movablekeys": argv[first_key] is numkeys, the keys follow it
                                     (key_step apart); COMMAND INFO shows 0 0 0 and a keynum key
                                     spec, COMMAND GETKEYS reads numkeys (SINTERCARD) */
#define CMD_BLOCKING   (1u << 15) /* "blocking": may block the client (blocking.h) */
#define CMD_PUBSUB     (1u << 16) /* "pubsub": a pub/sub command (allowed in RESP2 subscribed
                                     mode only for (P|S)(UN)SUBSCRIBE; never tracked; its
                                     shard-channel "keys" are not keys for COMMAND GETKEYS) */
#define CMD_SKIP_MONITOR (1u << 17) /* "skip_monitor": EVAL feeds MONITOR itself, before its
                                       script's commands (Kevo's dispatcher feeds it first anyway) */
#define CMD_MAY_REPLICATE (1u << 18) /* (hidden, as in Redis) may write through something else:
                                       EVAL/FCALL without declared flags. The dispatcher treats it
                                       as a write for back-pressure and group commit, not MISCONF */
#define CMD_NO_MANDATORY_KEYS (1u << 19) /* "no_mandatory_keys" */
#define CMD_SCRIPTED   (1u << 20) /* internal: EVAL/FCALL family, whose effective flags come from
                                     the script's declared flags (script_command_flags) */

struct command {
    const char *name;           /* lowercase; for a subcommand just the subcommand ("get") */
    command_proc proc;          /* NULL for a container whose subcommands are dispatched */
    int arity;
    uint32_t flags;
    int first_key, last_key, key_step; /* Redis key spec: 0 0 0 when no keys; last -1 = all */
    const char *group;          /* "string", "generic", "server", "connection", "transactions" */
    const char *summary;        /* for COMMAND DOCS */
    const char *since;          /* Redis version the command appeared in, e.g. "1.0.0" */
    const char *args_hint;      /* argument synopsis for COMMAND DOCS / redis-cli hints,
                                   e.g. "key value [NX|XX] [GET] [EX seconds|PX milliseconds|...]" */
    const struct command *subcommands; /* NULL-name-terminated table, or NULL */
};

/* Tables exported by the command files. */
extern const struct command server_commands[];  /* cmd_server.c */
extern const struct command string_commands[];  /* cmd_string.c */
extern const struct command keys_commands[];    /* cmd_keys.c */
extern const struct command multi_commands[];   /* cmd_multi.c */
extern const struct command hll_commands[];     /* cmd_hll.c */
extern const struct command bitops_commands[];  /* cmd_bitops.c */
extern const struct command hash_commands[];    /* cmd_hash.c */
extern const struct command set_commands[];     /* cmd_set.c */
extern const struct command zset_commands[];    /* cmd_zset.c */
extern const struct command list_commands[];    /* cmd_list.c */
extern const struct command sort_commands[];    /* cmd_sort.c: SORT, SORT_RO */
extern const struct command blocking_commands[]; /* cmd_blocking.c */
extern const struct command pubsub_commands[];  /* cmd_pubsub.c */
extern const struct command stream_commands[];   /* cmd_stream.c */

/* Commands with a destination key before their key count (ZUNIONSTORE dst numkeys key...), which
 * CMD_KEYNUM cannot describe: keys are argv[store_idx] (when > 0), then the numkeys keys after
 * argv[numkeys_idx]. COMMAND INFO shows movablekeys, the destination's spec (from cmd_server.c's
 * metadata) and a keynum spec; COMMAND GETKEYS uses command_get_keys. Tables end with NULL. */
struct command_keynum {
    const char *name;
    int store_idx;
    int numkeys_idx;
};
extern const struct command_keynum zset_keynum_commands[]; /* cmd_zset.c */
struct cmdarg;
/* The keynum description of cmd, or NULL. */
const struct command_keynum *command_keynum_of(const struct command *cmd);
/* Commands whose keys only a procedure can find (Redis's getkeys_proc: SORT's STORE destination
 * may be anywhere): COMMAND INFO shows movablekeys (and the command's first/last/step), COMMAND
 * GETKEYS and command_get_keys call proc, which gets the whole argv (argv[0] = the command name)
 * and returns what command_get_keys returns. Tables end with NULL. */
typedef int (*command_getkeys_proc)(const struct cmdarg *argv, int argc, int *pos, int max);
struct command_getkeys {
    const char *name;
    command_getkeys_proc proc;
};
extern const struct command_getkeys sort_getkeys_commands[]; /* cmd_sort.c */
/* The getkeys procedure entry of cmd, or NULL. */
const struct command_getkeys *command_getkeys_of(const struct command *cmd);

/* Commands whose keys follow a keyword (XREAD ... STREAMS key [key ...] id [id ...]): Redis's
 * "keyword" begin_search key spec (keyword searched from argv[startfrom] up to the one before
 * the last argument) with a "range" find_keys spec (lastkey, keystep, limit as Redis's).
 * COMMAND INFO shows movablekeys and this spec; COMMAND GETKEYS uses it, and when it finds no
 * valid range, getkeys (the command's own key finder, Redis's getkeys_proc: positions into
 * pos[0..max), returns the count or 0). Tables end with NULL. */
struct command_keyword {
    const char *name;
    const char *keyword;
    int startfrom, lastkey, keystep, limit;
    const char *flags;        /* the key spec's flags, e.g. "RO access" */
    int (*getkeys)(const struct cmdarg *argv, int argc, int *pos, int max);
};
extern const struct command_keyword stream_keyword_commands[]; /* cmd_stream.c */
/* The keyword description of cmd, or NULL. */
const struct command_keyword *command_keyword_of(const struct command *cmd);
/* Argument positions of cmd's keys in argv[0..argc) (argv[0] = the command name), as Redis's
 * COMMAND GETKEYS finds them: a command_getkeys procedure, else range (first/last/step),
 * CMD_KEYNUM or command_keynum key specs,
 * then for a malformed count Redis's getkeys procs' fallback (atoi). Writes at most max positions into pos; returns how many keys there are, or -1 when the
 * arguments name no valid keys ("Invalid arguments specified for command"). */
int command_get_keys(const struct command *cmd, const struct cmdarg *argv, int argc, int *pos,
                     int max);

void command_table_init(void);
/* Case-insensitive lookup of a top-level command; NULL if unknown. */
const struct command *command_lookup(const char *name, size_t len);
/* For a container (proc == NULL), the subcommand named by argv[1]; NULL if unknown. */
const struct command *command_lookup_sub(const struct command *cmd, const char *name, size_t len);
/* Runs the command in c->argv after every check (arity, auth, MULTI, back-pressure), then
 * serves the clients blocked on keys it gave data (blocking_handle_ready).
 * Returns 0 when the command ran or was answered, 1 when the client must wait (paused by
 * back-pressure; the same command will be retried later), 2 when the command blocked the
 * client (CLIENT_BLOCKED: it is answered when served, timed out or unblocked). */
int command_process(struct client *c);
/* Calls cmd for c with no checks (used by EXEC for queued commands, and scripts). */
void command_call(struct client *c, const struct command *cmd);
/* blocking.c: runs c's blocked command again (c->argv = its saved arguments) because a key got
 * data: a write mark for the group-commit (client_note_write), a commit point when the engine
 * wants one, the handler, its write group closed. Counts its time and a failure in the
 * command's stats, not a second call (Redis counted the call when it blocked). */
void command_rerun(struct client *c, const struct command *cmd);
/* A blocked command ended without a re-run (CLIENT UNBLOCK): counts a failed call, as Redis's
 * updateStatsOnUnblock. */
void command_count_failed(const struct command *cmd);
/* Counts a call of cmd refused before it ran (INFO commandstats rejected_calls): a script's
 * redis.call refused by the script checks (the error was counted just before; cmd may be NULL
 * for an unknown command). */
void command_note_rejected(const struct command *cmd);
/* Counts cmd as failed although its error reply is not counted in the error stats (an error a
 * script's redis.call already counted, replied again by EVAL/FCALL). */
void command_note_failed(const struct command *cmd);
extern const struct command script_commands[];  /* cmd_script.c: EVAL family, SCRIPT, FUNCTION, FCALL */
#endif
