/* info.h - INFO sections and the statistics behind INFO commandstats and SLOWLOG (kept by
 * command.c, read by info.c/cmd_server.c). Main thread only. */
#ifndef KEVO_INFO_H
#define KEVO_INFO_H
#include <stddef.h>
#include <stdint.h>

struct client;
struct command;

/* Per-command statistics (top-level commands and subcommands). */
typedef struct command_stats {
    const struct command *cmd;
    const struct command *parent;  /* container for a subcommand, else NULL */
    char fullname[64];             /* "get", "config|get" */
    long long calls, usec, rejected_calls, failed_calls;
} command_stats;

/* Calls fn for every command (top-level first, then its subcommands). */
void command_stats_foreach(void (*fn)(command_stats *st, void *ctx), void *ctx);
void command_stats_reset(void);
/* Number of top-level commands. */
size_t command_count(void);
/* Calls fn for each top-level command in table order. */
void command_foreach(void (*fn)(const struct command *cmd, void *ctx), void *ctx);

/* Slow log (entries newest first). */
typedef struct slowlog_entry {
    long long id;
    long long time;       /* unix seconds */
    long long duration;   /* usec */
    int argc;             /* at most 32 kept (the last says "... (N more arguments)") */
    char **argv;
    size_t *argl;
    char peer[64];
    char name[64];
} slowlog_entry;
void slowlog_push(struct client *c, long long duration_us);
size_t slowlog_len(void);
/* i = 0 is the newest entry; NULL past the end. */
const slowlog_entry *slowlog_get(size_t i);
void slowlog_reset(void);

/* Error replies by their first word (INFO errorstats). */
void info_count_error(const char *msg);

/* Builds the INFO text for section (NULL / "default" / "all" / "everything" / a name) into a
 * malloc'ed NUL-terminated string (*len set). */
char *info_generate(const char *section, size_t *len);
/* Resets info.c's own counters (error stats). */
void info_reset(void);
/* Samples ops/sec and bandwidth for the instantaneous_* fields (server cron). */
void info_cron(void);
#endif
