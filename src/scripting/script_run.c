/* script_run.c - the run context of one script invocation, the checks of redis.call, the busy
 * state and SCRIPT KILL / FUNCTION KILL (see script_run.h; Redis 7.0's script.c semantics). */
#include "script_run.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "command.h"
#include "config.h"
#include "event.h"
#include "info.h"
#include "keyspace.h"
#include "log.h"
#include "lsm.h"
#include "server.h"

const script_flag_def script_flag_defs[] = {
    {SCRIPT_FLAG_NO_WRITES, "no-writes"},
    {SCRIPT_FLAG_ALLOW_OOM, "allow-oom"},
    {SCRIPT_FLAG_ALLOW_STALE, "allow-stale"},
    {SCRIPT_FLAG_NO_CLUSTER, "no-cluster"},
    {SCRIPT_FLAG_ALLOW_CROSS_SLOT, "allow-cross-slot-keys"},
    {0, NULL},
};

static script_run *curr;

static const char BUSY_EVAL[] = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
static const char BUSY_FUNCTION[] = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

script_run *script_current(void) { return curr; }
int script_is_running(void) { return curr != NULL; }
int script_is_timedout(void) { return curr && (curr->flags & SCRIPT_RUN_TIMEDOUT); }
int script_is_eval(void) { return curr && (curr->flags & SCRIPT_RUN_EVAL_MODE); }
const char *script_busy_error(void) { return script_is_eval() ? BUSY_EVAL : BUSY_FUNCTION; }

long long script_run_duration_ms(void) { return curr ? (long long)((mono_us() - curr->start_us) / 1000) : 0; }

/* The WAL refuses writes (Kevo's MISCONF state): its reason, else NULL. */
static const char *write_refused(void)
{
    const char *why = NULL;
    if (server.commit_failed) return server.commit_err;
    if (server.engine && lsm_write_error(server.engine, &why)) return why && *why ? why : "write error";
    return NULL;
}

int script_prepare_run(script_run *r, client *sc, client *caller, const char *funcname, uint64_t script_flags,
                       int ro)
{
    if (!(script_flags & SCRIPT_FLAG_EVAL_COMPAT_MODE) && !(script_flags & SCRIPT_FLAG_NO_WRITES)) {
        /* a script declaring it may write: refused up front when writes cannot happen */
        const char *why = write_refused();
        if (why) {
            reply_errorf(caller,
                         "MISCONF Errors writing to the write-ahead log (%.200s). Writable scripts are blocked. Use 'no-writes' flag for read only scripts.",
                         why);
            return -1;
        }
        if (ro) {
            reply_error(caller, "ERR Can not execute a script with write flag using *_ro command.");
            return -1;
        }
    }
    memset(r, 0, sizeof *r);
    r->funcname = funcname;
    r->c = sc;
    r->caller = caller;
    sc->db = caller->db;
    sc->resp = 2;
    r->start_us = mono_us();
    r->snapshot_ms = server.cmd_time_ms;
    r->snapshot_us = server.cmd_time_us;
    if (ro || (!(script_flags & SCRIPT_FLAG_EVAL_COMPAT_MODE) && (script_flags & SCRIPT_FLAG_NO_WRITES)))
        r->flags |= SCRIPT_RUN_READ_ONLY;
    client_reply_mark(caller, &r->reply_start);
    r->owns_group = !keyspace_defer_active();
    if (r->owns_group) keyspace_defer_begin();
    curr = r;
    return 0;
}

void script_reset_run(script_run *r)
{
    int killed_writer = (r->flags & SCRIPT_RUN_KILLED) && (r->flags & SCRIPT_RUN_WRITE_DIRTY);
    if (r->owns_group) {
        if (killed_writer) {
            /* Kevo can take back a killed script's writes: they are only in the open group */
            keyspace_abort();
            keyspace_defer_end();
            log_msg(LL_WARNING, "The killed script's writes were rolled back.");
        } else {
            int wr = keyspace_defer_end();
            if (wr) {
                const char *why = "";
                if (!server.engine || !lsm_write_error(server.engine, &why) || !*why) why = lsm_strerror(wr);
                log_msg(LL_WARNING, "Writing the script's changes failed: %s", why);
                client_reply_truncate(r->caller, &r->reply_start);
                reply_errorf(r->caller,
                             "MISCONF Errors writing to the write-ahead log (%.200s): the script was not applied", why);
            }
        }
    }
    if (r->flags & SCRIPT_RUN_TIMEDOUT) {
        client_unprotect(r->caller);
        client_release_held();
    }
    r->c->flags &= ~CLIENT_MULTI;
    /* the commands of the script ran at the script's start time; the caller's next command
     * refreshes it */
    curr = NULL;
}

/* ---------------------------------------------------------------- busy */

/* Redis's processEventsWhileBlocked: a few rounds of file events, then the replies that can go
 * out. The cached server time is the script's again afterwards. */
static void process_events_while_blocked(script_run *r)
{
    for (int i = 0; i < 4; i++) {
        int n = server.el ? ev_process_file_events_nested(server.el) : 0;
        client_flush_unheld();
        if (n == 0) break;
    }
    server.cmd_time_ms = r->snapshot_ms;
    server.cmd_time_us = r->snapshot_us;
}

int script_interrupt(script_run *r)
{
    if (r->flags & SCRIPT_RUN_TIMEDOUT) {
        process_events_while_blocked(r);
        return (r->flags & SCRIPT_RUN_KILLED) ? SCRIPT_KILL : SCRIPT_CONTINUE;
    }
    long long elapsed = (long long)((mono_us() - r->start_us) / 1000);
    if (config.busy_reply_threshold <= 0 || elapsed < config.busy_reply_threshold) return SCRIPT_CONTINUE;
    log_msg(LL_WARNING,
            "Slow script detected: still in execution after %lld milliseconds. You can try killing the script using the %s command. Script name is: %s.",
            elapsed, (r->flags & SCRIPT_RUN_EVAL_MODE) ? "SCRIPT KILL" : "FUNCTION KILL", r->funcname);
    r->flags |= SCRIPT_RUN_TIMEDOUT;
    client_protect(r->caller);
    client_hold_pending();
    process_events_while_blocked(r);
    return (r->flags & SCRIPT_RUN_KILLED) ? SCRIPT_KILL : SCRIPT_CONTINUE;
}

void script_kill(client *c, int is_eval)
{
    if (!curr) {
        reply_error(c, "NOTBUSY No scripts in execution right now.");
        return;
    }
    /* a script inside MULTI/EXEC shares the transaction's write group: its writes cannot be
     * taken back alone (Redis refuses every script that wrote) */
    if ((curr->flags & SCRIPT_RUN_WRITE_DIRTY) && !curr->owns_group) {
        reply_error(c, "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        return;
    }
    if (is_eval && !(curr->flags & SCRIPT_RUN_EVAL_MODE)) {
        reply_error(c, BUSY_FUNCTION);
        return;
    }
    if (!is_eval && (curr->flags & SCRIPT_RUN_EVAL_MODE)) {
        reply_error(c, BUSY_EVAL);
        return;
    }
    curr->flags |= SCRIPT_RUN_KILLED;
    reply_ok(c);
}

void script_shutdown_abort(void)
{
    if (!curr) return;
    keyspace_abort();
    while (keyspace_defer_active()) keyspace_defer_end();
}

/* ---------------------------------------------------------------- redis.call checks */

/* A refusal: counted in the error stats (and the command's rejected calls) as Redis's
 * afterErrorReply + incrCommandStatsOnError do. */
static int refuse(const struct command *cmd, char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    server.stat.total_error_replies++;
    if (msg[0] == '-') {
        info_count_error(msg + 1);
    } else {
        char full[512];
        snprintf(full, sizeof full, "ERR %s", msg);
        info_count_error(full);
    }
    command_note_rejected(cmd);
    return -1;
}

int script_call(script_run *r, char *err, size_t errlen)
{
    client *c = r->c;
    const struct command *cmd = command_lookup(c->argv[0].ptr, c->argv[0].len);
    if (cmd && !cmd->proc && cmd->subcommands && c->argc >= 2)
        cmd = command_lookup_sub(cmd, c->argv[1].ptr, c->argv[1].len);
    if (!cmd) return refuse(NULL, err, errlen, "Unknown Redis command called from script");
    if ((cmd->arity > 0 && cmd->arity != c->argc) || c->argc < -cmd->arity || !cmd->proc)
        return refuse(cmd, err, errlen, "Wrong number of args calling Redis command from script");
    if (cmd->flags & CMD_NOSCRIPT) return refuse(cmd, err, errlen, "This Redis command is not allowed from script");
    if ((r->flags & SCRIPT_RUN_READ_ONLY) && (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)))
        return refuse(cmd, err, errlen, "Write commands are not allowed from read-only scripts.");
    if ((cmd->flags & CMD_WRITE) && !(r->flags & SCRIPT_RUN_WRITE_DIRTY)) {
        const char *why = write_refused();
        if (why) {
            char msg[400];
            snprintf(msg, sizeof msg,
                     "-MISCONF Errors writing to the write-ahead log (%.200s). Commands that may modify the data set are disabled until the problem is fixed.",
                     why);
            return refuse(cmd, err, errlen, msg);
        }
    }
    if (cmd->flags & CMD_WRITE) r->flags |= SCRIPT_RUN_WRITE_DIRTY;
    c->cmd = cmd;
    command_call(c, cmd);
    return 0;
}
