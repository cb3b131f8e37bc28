/* main.c - kevo-server [config-file] [--option value ...] (redis-server's command line):
 * options after the file override it. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "server.h"

static void usage(void)
{
    fprintf(stderr,
            "Usage: ./kevo-server [/path/to/kevo-server.conf] [options]\n"
            "       ./kevo-server - (read config from stdin)\n"
            "       ./kevo-server -v or --version\n"
            "       ./kevo-server -h or --help\n\n"
            "Examples:\n"
            "       ./kevo-server (run the server with default conf)\n"
            "       ./kevo-server /etc/kevo/6379.conf\n"
            "       ./kevo-server --port 7777\n"
            "       ./kevo-server /etc/mykevo.conf --loglevel verbose\n");
    exit(1);
}

/* Appends s to the growing text, quoted so the config parser reads it back unchanged. */
static void append_quoted(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t need = *len + strlen(s) * 4 + 8;
    if (need > *cap) {
        while (*cap < need) *cap = *cap ? *cap * 2 : 256;
        *buf = realloc(*buf, *cap);
        if (!*buf) exit(1);
    }
    char *o = *buf + *len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 32 || *p == 127) {
            o += sprintf(o, "\\x%02x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = '"';
    *o = 0;
    *len = (size_t)(o - *buf);
}

static void append_raw(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t need = *len + strlen(s) + 2;
    if (need > *cap) {
        while (*cap < need) *cap = *cap ? *cap * 2 : 256;
        *buf = realloc(*buf, *cap);
        if (!*buf) exit(1);
    }
    strcpy(*buf + *len, s);
    *len += strlen(s);
}

int main(int argc, char **argv)
{
    /* SORT ... ALPHA collates with strcoll in the environment's LC_COLLATE, as Redis does */
    setlocale(LC_COLLATE, "");
    config_init();
    const char *file = NULL;
    int j = 1;
    if (argc >= 2) {
        if (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version")) {
            printf("Kevo server v=%s bits=%d (Redis protocol compatible, LSM engine)\n", KEVO_VERSION,
                   (int)(sizeof(long) * 8));
            return 0;
        }
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) usage();
        if (argv[1][0] != '-' || argv[1][1] != '-') {
            if (strcmp(argv[1], "-") != 0) file = argv[1];
            j = 2;
        }
    }
    char *extra = NULL;
    size_t len = 0, cap = 0;
    append_raw(&extra, &len, &cap, "");
    for (; j < argc; j++) {
        if (argv[j][0] == '-' && argv[j][1] == '-' && argv[j][2]) {
            if (len) append_raw(&extra, &len, &cap, "\n");
            append_raw(&extra, &len, &cap, argv[j] + 2);
        } else {
            append_raw(&extra, &len, &cap, " ");
            append_quoted(&extra, &len, &cap, argv[j]);
        }
    }
    if (config_load(file, extra) < 0) {
        free(extra);
        return 1;
    }
    free(extra);
    if (server_init() < 0) return 1;
    config_server_started();
    return server_run();
}
