/* server_test_util.h - what the server-level unit tests (test_coll, test_hash, test_set) share:
 * an engine opened in a temp dir as the server opens it (expiry hook, compaction filter), the
 * command table, a socketless client's command runner, and probes of the collection layout.
 * Header-only (static functions); include once per test file. Main thread. */
#ifndef KEVO_SERVER_TEST_UTIL_H
#define KEVO_SERVER_TEST_UTIL_H
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "command.h"
#include "config.h"
#include "keyspace.h"
#include "lsm.h"
#include "server.h"
#include "types/coll.h"

static char stu_dir[64];
static size_t stu_memtable = 1 << 20;

/* Opens the engine (and the keyspace) on stu_dir with the server's hooks. */
static void stu_open_engine(void) {
    lsm_options o;
    lsm_options_init(&o);
    o.memtable_size = stu_memtable;
    o.block_cache_size = stu_memtable;
    o.expire_fn = keyspace_value_expire;
    o.compaction_filter = coll_compaction_filter;
    cr_assert_eq(lsm_open(stu_dir, &o, &server.engine), 0, "%s", lsm_last_error(NULL));
    cr_assert_eq(keyspace_open(), 0);
}

static void stu_close_engine(void) {
    keyspace_close();
    lsm_close(server.engine);
    server.engine = NULL;
}

/* A fresh server state in a new temp dir named after tag, memtable (and cache) of mem bytes. */
static void stu_setup(const char *tag, size_t mem) {
    config_init();
    snprintf(stu_dir, sizeof stu_dir, "/tmp/kevo-test-%s-XXXXXX", tag);
    cr_assert_not_null(mkdtemp(stu_dir));
    stu_memtable = mem;
    server.batch = lsm_batch_new();
    server.dbnum = 16;
    stu_open_engine();
    command_table_init();
}

static void stu_teardown(void) {
    stu_close_engine();
    lsm_batch_free(server.batch);
    server.batch = NULL;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", stu_dir);
    cr_assert_eq(system(cmd), 0);
}

/* Runs a space-separated command line on c; returns the raw RESP reply (static buffer, valid
 * until the next call). */
static const char *stu_run(client *c, const char *line) {
    static char reply[1 << 16];
    char buf[2048];
    cmdarg argv[64];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", line);
    for (char *tok = strtok(buf, " "); tok && argc < 64; tok = strtok(NULL, " ")) {
        argv[argc].ptr = tok;
        argv[argc].len = strlen(tok);
        argc++;
    }
    cmdarg *saved = c->argv;
    c->argc = argc;
    c->argv = argv;
    client_reply_reset(c);
    command_process(c);
    c->argv = saved;
    c->argc = 0;
    size_t n = client_reply_copy(c, reply, sizeof(reply) - 1);
    reply[n] = '\0';
    client_reply_reset(c);
    return reply;
}

/* 1 when the 'v' || version liveness record exists. */
__attribute__((unused)) static int stu_version_live(uint64_t ver) {
    char vk[9];
    vk[0] = KS_TAG_VERSION;
    for (int i = 0; i < 8; i++) vk[1 + i] = (char)(ver >> (8 * (7 - i)));
    lsm_buf b = {0};
    int r = lsm_get(server.engine, vk, sizeof vk, &b);
    lsm_buf_free(&b);
    cr_assert(r == 0 || r == LSM_ENOTFOUND);
    return r == 0;
}

/* Engine records under 'm' || ver || sub (sub < 0: every kind). */
__attribute__((unused)) static long long stu_records(uint64_t ver, int sub) {
    char pfx[10];
    coll_member_key(pfx, ver, sub < 0 ? 0 : (uint8_t)sub, NULL, 0);
    size_t pl = sub < 0 ? 9 : 10;
    lsm_iter *it = lsm_iter_new(server.engine);
    long long n = 0;
    for (lsm_iter_seek(it, pfx, pl); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl;
        const char *k = lsm_iter_key(it, &kl);
        if (kl < pl || memcmp(k, pfx, pl) != 0) break;
        n++;
    }
    lsm_iter_free(it);
    return n;
}
#endif
