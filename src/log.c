/* log.c - Redis-style log lines (see log.h). */
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_level = LL_NOTICE;
static int log_fd = STDOUT_FILENO;

void log_set_level(int level) { log_level = level; }
int log_get_level(void) { return log_level; }

int log_set_file(const char *path)
{
    int fd = STDOUT_FILENO;
    if (path && path[0]) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return -1;
    }
    if (log_fd != STDOUT_FILENO) close(log_fd);
    log_fd = fd;
    return 0;
}

void log_str(int level, const char *msg)
{
    static const char marks[] = ".-*#";
    if (level < LL_DEBUG) level = LL_DEBUG;
    if (level > LL_WARNING) level = LL_WARNING;
    if (level < log_level) return;
    char line[1200];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    char ts[64];
    size_t off = strftime(ts, sizeof ts, "%d %b %Y %H:%M:%S.", &tm);
    snprintf(ts + off, sizeof ts - off, "%03d", (int)(tv.tv_usec / 1000));
    int n = snprintf(line, sizeof line, "%d:M %s %c %s\n", (int)getpid(), ts, marks[level], msg);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}

void log_msg(int level, const char *fmt, ...)
{
    if (level < log_level) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_str(level, msg);
}
