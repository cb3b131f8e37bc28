/* test_config.c - the option table's users: config file syntax (quotes, comments, units),
 * unknown directives, CONFIG SET validation with Redis's messages, and the CONFIG REWRITE round
 * trip that keeps comments. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static void setup(void) { config_init(); }
static void teardown(void) { config_free(); }
TestSuite(config, .init = setup, .fini = teardown);

static int load(const char *text, char *err, int *line)
{
    char e[256], t[256];
    int l = 0;
    int r = config_load_string(text, e, sizeof e, &l, t, sizeof t);
    if (err) strcpy(err, e);
    if (line) *line = l;
    return r;
}

Test(config, defaults_match_the_documented_values)
{
    cr_assert_eq(config.port, 6379);
    cr_assert_str_eq(config.bind, "127.0.0.1");
    cr_assert_str_eq(config.dir, "./data");
    cr_assert_eq(config.appendfsync, 1);
    cr_assert_eq(config.proto_max_bulk_len, 512LL * 1024 * 1024);
    cr_assert_eq(config.client_query_buffer_limit, 1024LL * 1024 * 1024);
    cr_assert_eq(config.memtable_size, 64LL * 1024 * 1024);
    cr_assert_eq(config.hz, 10);
    cr_assert_eq(config.obuf_hard, 0);
}

Test(config, file_syntax_quotes_comments_units)
{
    const char *text =
        "# a comment\n"
        "   # indented comment\n"
        "\n"
        "port 7000\n"
        "PORT 7001\n"                       /* case-insensitive, later wins */
        "dir \"/tmp/with space\"\n"
        "logfile ''\n"
        "requirepass \"p\\x41ss\\\"\"\n"
        "memtable-size 64mb\n"
        "block-cache-size 1gb\n"
        "block-size 4k\n"
        "proto-max-bulk-len 2MB\n"
        "loglevel WARNING\n"
        "bind 127.0.0.1 -::1\n"
        "save 900 1 300 10\n"
        "compression no\r\n"               /* CRLF line */
        "  hz   20  \n";
    char err[256];
    cr_assert_eq(load(text, err, NULL), 0, "%s", err);
    cr_assert_eq(config.port, 7001);
    cr_assert_str_eq(config.dir, "/tmp/with space");
    cr_assert_str_eq(config.logfile, "");
    cr_assert_str_eq(config.requirepass, "pAss\"");
    cr_assert_eq(config.memtable_size, 64LL << 20);
    cr_assert_eq(config.block_cache_size, 1LL << 30);
    cr_assert_eq(config.block_size, 4000);
    cr_assert_eq(config.proto_max_bulk_len, 2LL << 20);
    cr_assert_eq(config.loglevel, 3);
    cr_assert_str_eq(config.bind, "127.0.0.1 -::1");
    cr_assert_str_eq(config.save, "900 1 300 10");
    cr_assert_eq(config.compression, 0);
    cr_assert_eq(config.hz, 20);
}

Test(config, unknown_directive_reports_line)
{
    char err[256];
    int line;
    cr_assert_eq(load("port 1\n# c\nnosuch-option 5\n", err, &line), -1);
    cr_assert_eq(line, 3);
    cr_assert_str_eq(err, "Bad directive or wrong number of arguments");
}

Test(config, wrong_argument_count_and_bad_values)
{
    char err[256];
    cr_assert_eq(load("port\n", err, NULL), -1);
    cr_assert_str_eq(err, "Bad directive or wrong number of arguments");
    cr_assert_eq(load("port 1 2\n", err, NULL), -1);
    cr_assert_eq(load("port abc\n", err, NULL), -1);
    cr_assert_str_eq(err, "argument couldn't be parsed into an integer");
    cr_assert_eq(load("dir \"unterminated\n", err, NULL), -1);
    cr_assert_str_eq(err, "Unbalanced quotes in configuration line");
    cr_assert_eq(load("daemonize yes\n", err, NULL), -1);
}

Test(config, set_validation_messages)
{
    char err[256];
    cr_assert_eq(config_set("hz", "abc", 1, err, sizeof err), -1);
    cr_assert_str_eq(err, "argument couldn't be parsed into an integer");
    cr_assert_eq(config_set("hz", "0", 1, err, sizeof err), -1);
    cr_assert_str_eq(err, "argument must be between 1 and 500 inclusive");
    cr_assert_eq(config_set("compression", "maybe", 0, err, sizeof err), -1);
    cr_assert_str_eq(err, "argument must be 'yes' or 'no'");
    cr_assert_eq(config_set("appendfsync", "sometimes", 1, err, sizeof err), -1);
    cr_assert_str_eq(err, "argument(s) must be one of the following: everysec, always, no");
    cr_assert_eq(config_set("proto-max-bulk-len", "12xb", 1, err, sizeof err), -1);
    cr_assert_str_eq(err, "argument must be a memory value");
    cr_assert_eq(config_set("port", "7000", 1, err, sizeof err), -1);
    cr_assert_str_eq(err, "can't set immutable config");
    cr_assert_eq(config_set("nosuch", "1", 1, err, sizeof err), -2);
    cr_assert_eq(config_set("enable-debug-command", "local", 0, err, sizeof err), 0);
    cr_assert_eq(config.enable_debug_command, CFG_DEBUG_LOCAL);
    cr_assert_eq(config_set("maxclients", "10", 1, err, sizeof err), 0);
    cr_assert_eq(config.maxclients, 10);
}

Test(config, memory_units)
{
    long long v;
    cr_assert(config_parse_memory("1gb", &v));
    cr_assert_eq(v, 1LL << 30);
    cr_assert(config_parse_memory("1G", &v));
    cr_assert_eq(v, 1000000000LL);
    cr_assert(config_parse_memory("64mb", &v));
    cr_assert_eq(v, 64LL << 20);
    cr_assert(config_parse_memory("100", &v));
    cr_assert_eq(v, 100);
    cr_assert(config_parse_memory("16KB", &v));
    cr_assert_eq(v, 16384);
    cr_assert_not(config_parse_memory("mb", &v));
    cr_assert_not(config_parse_memory("1tb", &v));
    cr_assert_not(config_parse_memory("", &v));
    cr_assert_not(config_parse_memory("99999999999gb", &v));
}

Test(config, output_buffer_limit_simple_form)
{
    char err[256];
    cr_assert_eq(config_set("client-output-buffer-limit", "normal 10mb 5mb 30", 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(config.obuf_hard, 10LL << 20);
    cr_assert_eq(config.obuf_soft, 5LL << 20);
    cr_assert_eq(config.obuf_soft_seconds, 30);
    char v[256];
    config_get("client-output-buffer-limit", v, sizeof v);
    cr_assert_str_eq(v, "normal 10485760 5242880 30 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    /* setting one class keeps the others */
    cr_assert_eq(config_set("client-output-buffer-limit", "pubsub 1mb 1mb 1", 1, err, sizeof err), 0, "%s", err);
    config_get("client-output-buffer-limit", v, sizeof v);
    cr_assert_str_eq(v, "normal 10485760 5242880 30 slave 268435456 67108864 60 pubsub 1048576 1048576 1");
    cr_assert_eq(config.obuf_hard, 10LL << 20);
    cr_assert_eq(config_set("client-output-buffer-limit", "normal 1 2", 1, err, sizeof err), -1);
    cr_assert_eq(config_set("client-output-buffer-limit", "bogus 1 2 3", 1, err, sizeof err), -1);
}

/* The pubsub class is applied to subscribers: its three numbers reach the config struct, and a
 * failed set leaves them as they were. */
Test(config, output_buffer_limit_pubsub_class)
{
    char err[256];
    cr_assert_eq(config.obuf_pubsub_hard, 32LL << 20, "default pubsub 32mb 8mb 60");
    cr_assert_eq(config.obuf_pubsub_soft, 8LL << 20);
    cr_assert_eq(config.obuf_pubsub_soft_seconds, 60);
    cr_assert_eq(config_set("client-output-buffer-limit", "pubsub 256kb 128kb 5", 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(config.obuf_pubsub_hard, 256LL << 10);
    cr_assert_eq(config.obuf_pubsub_soft, 128LL << 10);
    cr_assert_eq(config.obuf_pubsub_soft_seconds, 5);
    cr_assert_eq(config.obuf_hard, 0, "the normal class is untouched");
    cr_assert_eq(config_set("client-output-buffer-limit", "pubsub 1mb x 5", 1, err, sizeof err), -1);
    cr_assert_str_eq(err, "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    cr_assert_eq(config.obuf_pubsub_hard, 256LL << 10);
    cr_assert_eq(config_set("client-output-buffer-limit", "master 1mb 1mb 5", 1, err, sizeof err), -1);
    cr_assert_str_eq(err, "Invalid client class specified in buffer limit configuration.");
}

Test(config, notify_keyspace_events_canonical_and_invalid)
{
    char err[256], v[64];
    config_get("notify-keyspace-events", v, sizeof v);
    cr_assert_str_eq(v, "", "off by default");
    cr_assert_eq(config.notify_keyspace_events, 0);
    cr_assert_eq(config_set("notify-keyspace-events", "ExK$", 1, err, sizeof err), 0, "%s", err);
    config_get("notify-keyspace-events", v, sizeof v);
    cr_assert_str_eq(v, "$xKE");
    cr_assert_eq(config_set("notify-keyspace-events", "KEA!", 1, err, sizeof err), -1);
    cr_assert_str_eq(err, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    config_get("notify-keyspace-events", v, sizeof v);
    cr_assert_str_eq(v, "$xKE", "a refused value changes nothing");
    cr_assert_eq(config_load_string("notify-keyspace-events \"\"\n", err, sizeof err, NULL, NULL, 0), 0, "%s", err);
    cr_assert_eq(config.notify_keyspace_events, 0);
}

Test(config, tracking_table_max_keys_range)
{
    char err[256], v[64];
    config_get("tracking-table-max-keys", v, sizeof v);
    cr_assert_str_eq(v, "1000000");
    cr_assert_eq(config_set("tracking-table-max-keys", "0", 1, err, sizeof err), 0, "0 = no limit");
    cr_assert_eq(config_set("tracking-table-max-keys", "-1", 1, err, sizeof err), -1);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

Test(config, rewrite_round_trip_keeps_comments)
{
    char path[] = "/tmp/kevo-test-config-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *orig =
        "# Kevo test config\n"
        "port 7000\n"
        "# the data lives here\n"
        "dir /tmp/somewhere\n"
        "port 7001\n"
        "unknown-but-kept-as-is? no: it is a comment-free line\n";
    /* the last line is not an option: rewrite must keep it verbatim (it never parses it) */
    cr_assert_eq(write(fd, orig, strlen(orig)), (ssize_t)strlen(orig));
    close(fd);
    char err[256];
    cr_assert_eq(config_set("port", "7001", 0, err, sizeof err), 0);
    cr_assert_eq(config_set("dir", "/tmp/other dir", 0, err, sizeof err), 0);
    cr_assert_eq(config_set("hz", "42", 1, err, sizeof err), 0);
    cr_assert_eq(config_set("memtable-size", "128mb", 0, err, sizeof err), 0);
    cr_assert_eq(config_set("requirepass", "s3 cret", 1, err, sizeof err), 0);
    cr_assert_eq(config_rewrite(path, err, sizeof err), 0, "%s", err);
    char *text = slurp(path);
    cr_assert(strstr(text, "# Kevo test config\n") == text, "leading comment kept");
    cr_assert_not_null(strstr(text, "# the data lives here\n"));
    cr_assert_not_null(strstr(text, "port 7001\n"));
    cr_assert_null(strstr(text, "port 7000"), "old value replaced");
    cr_assert_not_null(strstr(text, "dir \"/tmp/other dir\"\n"));
    cr_assert_not_null(strstr(text, "# Generated by CONFIG REWRITE\n"));
    cr_assert_not_null(strstr(text, "hz 42\n"));
    cr_assert_not_null(strstr(text, "memtable-size 128mb\n"));
    cr_assert_null(strstr(text, "block-size"), "defaults are not appended");
    /* only one port line remains */
    const char *first = strstr(text, "port ");
    cr_assert_null(strstr(first + 1, "\nport "));

    /* reading the rewritten file back gives the same values (minus the non-option line) */
    config_init();
    char *copy = strdup(text);
    char *bad = strstr(copy, "unknown-but-kept");
    *bad = '#';
    int line;
    cr_assert_eq(load(copy, err, &line), 0, "%s at %d", err, line);
    free(copy);
    cr_assert_eq(config.port, 7001);
    cr_assert_str_eq(config.dir, "/tmp/other dir");
    cr_assert_eq(config.hz, 42);
    cr_assert_eq(config.memtable_size, 128LL << 20);
    cr_assert_str_eq(config.requirepass, "s3 cret");

    /* a second rewrite is stable */
    cr_assert_eq(config_rewrite(path, err, sizeof err), 0);
    char *again = slurp(path);
    cr_assert_not_null(strstr(again, "hz 42\n"));
    const char *m = strstr(again, "# Generated by CONFIG REWRITE");
    cr_assert_null(strstr(m + 1, "# Generated by CONFIG REWRITE"), "marker written once");
    unlink(path);
}

Test(config, security_defaults_are_redis_7s)
{
    cr_assert_eq(config.protected_mode, 1);
    cr_assert_eq(config.enable_debug_command, CFG_DEBUG_NO);
    cr_assert_eq(config.enable_protected_configs, CFG_DEBUG_NO);
    cr_assert_str_eq(config.requirepass, "");
    cr_assert_str_eq(config.dbfilename, "dump.rdb");
    cr_assert_eq(config.maxclients, 10000u);
    /* protected actions: "yes" allows anyone, "no" nobody (no client needed to decide) */
    cr_assert(config_allow_protected(CFG_DEBUG_YES, NULL));
    cr_assert_not(config_allow_protected(CFG_DEBUG_NO, NULL));
    cr_assert_not(config_allow_protected(CFG_DEBUG_LOCAL, NULL));
}

Test(config, file_options_are_names_not_paths)
{
    char err[256];
    cr_assert_eq(config_set("dbfilename", "../../etc/cron.d/x", 0, err, sizeof err), -1);
    cr_assert_str_eq(err, "dbfilename can't be a path, just a filename");
    cr_assert_eq(config_set("dbfilename", "a\\b", 0, err, sizeof err), -1);
    cr_assert_eq(config_set("dbfilename", "", 0, err, sizeof err), 0, "empty allowed, as Redis");
    cr_assert_eq(config_set("dbfilename", "x.rdb", 0, err, sizeof err), 0);
    cr_assert_str_eq(config.dbfilename, "x.rdb");
    cr_assert_eq(config_set("appendfilename", "", 0, err, sizeof err), -1);
    cr_assert_str_eq(err, "appendfilename can't be empty");
    cr_assert_eq(config_set("appendfilename", "/tmp/x", 0, err, sizeof err), -1);
    cr_assert_str_eq(err, "appendfilename can't be a path, just a filename");
    cr_assert_eq(config_set("appenddirname", "a/b", 0, err, sizeof err), -1);
    cr_assert_str_eq(err, "appenddirname can't be a path, just a dirname");
    /* fixed at startup: a runtime set is refused */
    cr_assert_eq(config_set("enable-protected-configs", "yes", 1, err, sizeof err), -1);
    cr_assert_str_eq(err, "can't set immutable config");
    cr_assert_eq(config_set("enable-protected-configs", "local", 0, err, sizeof err), 0);
    cr_assert_eq(config.enable_protected_configs, CFG_DEBUG_LOCAL);
}

Test(config, maxclients_range_is_redis_unsigned_int)
{
    char err[256];
    cr_assert_eq(config_set("maxclients", "0", 0, err, sizeof err), -1);
    cr_assert_str_eq(err, "argument must be between 1 and 4294967295 inclusive");
    cr_assert_eq(config_set("maxclients", "4294967296", 0, err, sizeof err), -1);
    cr_assert_eq(config_set("maxclients", "4294967295", 0, err, sizeof err), 0);
    cr_assert_eq(config.maxclients, 4294967295u);
    char buf[64];
    cr_assert_eq(config_get("maxclients", buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "4294967295");
}
