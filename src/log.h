/* log.h - Redis-style log lines: "pid:M dd Mon yyyy hh:mm:ss.mmm * message".
 * Levels as Redis (debug '.', verbose '-', notice '*', warning '#'). Any thread may call
 * log_msg (each line is written with one write()); log_set_* are main thread only. */
#ifndef KEVO_LOG_H
#define KEVO_LOG_H

enum { LL_DEBUG = 0, LL_VERBOSE = 1, LL_NOTICE = 2, LL_WARNING = 3 };

/* Minimum level written (default LL_NOTICE). */
void log_set_level(int level);
int log_get_level(void);
/* path "" (or NULL) = stdout. Returns 0, or -1 if the file cannot be opened (logging then
 * stays where it was). The file is opened in append mode. */
int log_set_file(const char *path);
/* Writes one line if level >= the configured level. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, for an already formatted message (used as the engine's log_fn). */
void log_str(int level, const char *msg);
#endif
