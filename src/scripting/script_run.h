/* script_run.h - one script invocation (EVAL family or FCALL) as Redis 7.0's script.c models it:
 * the run context, the checks every redis.call goes through, the busy state (busy-reply-
 * threshold), SCRIPT KILL / FUNCTION KILL, and the event processing from inside a long script.
 *
 * Atomicity: a run is one engine write group (keyspace_defer_begin .. keyspace_defer_end)
 * unless it is already inside one (a script inside MULTI/EXEC joins the transaction's group).
 * All its writes become one WAL record; reads inside see them. A killed script that wrote is
 * rolled back (keyspace_abort) when it owns its group; inside EXEC it is UNKILLABLE once it
 * wrote, as in Redis.
 *
 * Busy: past busy-reply-threshold ms the run becomes "timed out": the hook (every 100000 Lua
 * instructions) processes file events (no timers) so other clients get BUSY errors, and SCRIPT
 * KILL / FUNCTION KILL / SHUTDOWN NOSAVE can act. Meanwhile the caller is not read from, and
 * clients whose replies were produced before the script started keep them until the loop's own
 * before-sleep (their writes may not be committed yet: group commit).
 * Main thread only. */
#ifndef KEVO_SCRIPT_RUN_H
#define KEVO_SCRIPT_RUN_H
#include <stdint.h>

#include "reply.h"

struct client;

/* Script flags (shebang "#!lua flags=..." and register_function's flags), Redis's values. */
#define SCRIPT_FLAG_NO_WRITES        (1ULL << 0)
#define SCRIPT_FLAG_ALLOW_OOM        (1ULL << 1)
#define SCRIPT_FLAG_ALLOW_STALE      (1ULL << 2)
#define SCRIPT_FLAG_NO_CLUSTER       (1ULL << 3)
#define SCRIPT_FLAG_EVAL_COMPAT_MODE (1ULL << 4) /* EVAL without a shebang */
#define SCRIPT_FLAG_ALLOW_CROSS_SLOT (1ULL << 5)

typedef struct script_flag_def {
    uint64_t flag;
    const char *name;
} script_flag_def;
/* no-writes, allow-oom, allow-stale, no-cluster, allow-cross-slot-keys; ends with {0, NULL} */
extern const script_flag_def script_flag_defs[];

/* Run flags. */
#define SCRIPT_RUN_WRITE_DIRTY (1 << 0) /* a write command ran */
#define SCRIPT_RUN_TIMEDOUT    (1 << 3) /* past busy-reply-threshold: events are processed */
#define SCRIPT_RUN_KILLED      (1 << 4) /* SCRIPT KILL / FUNCTION KILL asked for it */
#define SCRIPT_RUN_READ_ONLY   (1 << 5) /* *_RO command or no-writes script */
#define SCRIPT_RUN_EVAL_MODE   (1 << 7) /* EVAL family (else FCALL) */

#define SCRIPT_CONTINUE 0
#define SCRIPT_KILL 1

typedef struct script_run {
    const char *funcname;       /* the sha (EVAL) or function name (FCALL) */
    struct client *c;           /* the script client the commands run on */
    struct client *caller;      /* the client that sent EVAL/FCALL */
    int flags;                  /* SCRIPT_RUN_* */
    uint64_t start_us;          /* monotonic start */
    uint64_t snapshot_ms, snapshot_us; /* the server time the whole run sees */
    int owns_group;             /* the run opened the engine write group */
    reply_mark reply_start;     /* the caller's replies before the script's own */
} script_run;

/* Redis's scriptPrepareForRun: refuses (replying the error to caller, returning -1) a script
 * with shebang flags that cannot run (write flag with an *_RO command, writes while the WAL is
 * failing); otherwise selects the caller's db on sc, RESP2, opens the write group, makes r the
 * running script and returns 0. funcname must outlive the run. */
int script_prepare_run(script_run *r, struct client *sc, struct client *caller, const char *funcname,
                       uint64_t script_flags, int ro);
/* Ends the run: closes the write group (rolled back when a killed script wrote; when the group
 * cannot be written the caller's reply is replaced by a MISCONF error), leaves the busy state. */
void script_reset_run(script_run *r);
/* The running script or NULL. */
script_run *script_current(void);
int script_is_running(void);
int script_is_timedout(void);
int script_is_eval(void);          /* requires a running script */
/* Redis's -BUSY error for the kind of script running (without the leading '-'). */
const char *script_busy_error(void);
/* Runs the command in r->c->argv/argc with Redis's script checks (arity, noscript, read-only
 * script, MISCONF); on a refusal returns -1 with the error in err (Redis's form: "msg" or
 * "-CODE msg", counted in the error stats) and nothing is replied; else 0 (the command's reply
 * is in r->c's reply buffer). */
int script_call(script_run *r, char *err, size_t errlen);
/* Called by the Lua hook: SCRIPT_KILL when the script must stop now. */
int script_interrupt(script_run *r);
/* SCRIPT KILL (is_eval) / FUNCTION KILL: replies to c. */
void script_kill(struct client *c, int is_eval);
/* Milliseconds the running script has been running. */
long long script_run_duration_ms(void);
/* SHUTDOWN NOSAVE from inside a busy script: drops the script's (unacknowledged) writes so the
 * engine can commit everything acknowledged before it and close. */
void script_shutdown_abort(void);
#endif
