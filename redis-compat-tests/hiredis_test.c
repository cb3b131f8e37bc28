/* hiredis_test.c - drives a server with the hiredis C client (libhiredis-dev).
 * Usage: hiredis_test HOST PORT. Prints "PASS name" / "FAIL name: why" / "SKIP name: why" per
 * test and a count line; exits 1 if anything failed. Compiled by run.sh:
 *   cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -O1 -o hiredis_test hiredis_test.c -lhiredis
 * Checks: pipelined SET/GET of 10k keys with binary values through redisAppendCommand /
 * redisGetReply (every reply checked), MGET, nil / integer / error replies, pipelined DEL,
 * and RESP3 via HELLO 3 when the hiredis version can parse RESP3 (>= 1.0). */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed, skipped;
static char failmsg[512];

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            snprintf(failmsg, sizeof failmsg, __VA_ARGS__);                    \
            return 0;                                                          \
        }                                                                      \
    } while (0)

static redisContext *connect_to(const char *host, int port)
{
    struct timeval tv = {30, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err) {
        fprintf(stderr, "connect %s:%d: %s\n", host, port, c ? c->errstr : "out of memory");
        exit(1);
    }
    redisSetTimeout(c, tv);
    return c;
}

static void run(const char *name, int (*fn)(redisContext *), redisContext *c)
{
    failmsg[0] = 0;
    if (fn(c)) {
        passed++;
        printf("PASS %s\n", name);
    } else if (strncmp(failmsg, "SKIP:", 5) == 0) {
        skipped++;
        printf("SKIP %s:%s\n", name, failmsg + 5);
    } else {
        failed++;
        printf("FAIL %s: %s\n", name, failmsg);
    }
    fflush(stdout);
}

/* value i: binary, includes NUL, CR, LF and a length that varies 0..300 */
static size_t make_value(int i, char *buf)
{
    size_t n = (size_t)(i * 7919) % 301;
    for (size_t j = 0; j < n; j++)
        buf[j] = (char)((i + j * 31) & 0xff);
    if (n > 3) {
        buf[0] = '\0';
        buf[1] = '\r';
        buf[2] = '\n';
    }
    return n;
}

static int test_ping(redisContext *c)
{
    redisReply *r = redisCommand(c, "PING");
    CHECK(r != NULL, "no reply: %s", c->errstr);
    CHECK(r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0, "PING reply type %d",
          r->type);
    freeReplyObject(r);
    r = redisCommand(c, "FLUSHALL");
    CHECK(r && r->type == REDIS_REPLY_STATUS, "FLUSHALL");
    freeReplyObject(r);
    return 1;
}

#define NKEYS 10000

static int test_pipelined_set_10k_binary(redisContext *c)
{
    char key[64], val[512];
    for (int i = 0; i < NKEYS; i++) {
        int kl = snprintf(key, sizeof key, "hk:%d", i);
        key[kl] = '\0';
        size_t vl = make_value(i, val);
        CHECK(redisAppendCommand(c, "SET %b %b", key, (size_t)kl + ((i % 10 == 0) ? 1 : 0),
                                 val, vl) == REDIS_OK, "append %d", i);
    }
    for (int i = 0; i < NKEYS; i++) {
        redisReply *r;
        CHECK(redisGetReply(c, (void **)&r) == REDIS_OK, "reply %d: %s", i, c->errstr);
        CHECK(r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0,
              "SET reply %d: type %d %s", i, r->type, r->str ? r->str : "");
        freeReplyObject(r);
    }
    redisReply *r = redisCommand(c, "DBSIZE");
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == NKEYS, "DBSIZE %lld",
          r ? r->integer : -1);
    freeReplyObject(r);
    return 1;
}

static int test_pipelined_get_10k_binary(redisContext *c)
{
    char key[64], val[512];
    for (int i = 0; i < NKEYS; i++) {
        int kl = snprintf(key, sizeof key, "hk:%d", i);
        key[kl] = '\0';
        CHECK(redisAppendCommand(c, "GET %b", key, (size_t)kl + ((i % 10 == 0) ? 1 : 0)) ==
              REDIS_OK, "append");
    }
    for (int i = 0; i < NKEYS; i++) {
        redisReply *r;
        CHECK(redisGetReply(c, (void **)&r) == REDIS_OK, "reply %d: %s", i, c->errstr);
        size_t vl = make_value(i, val);
        CHECK(r->type == REDIS_REPLY_STRING, "GET %d: type %d", i, r->type);
        CHECK(r->len == vl && memcmp(r->str, val, vl) == 0, "GET %d: value differs (len %zu/%zu)",
              i, (size_t)r->len, vl);
        freeReplyObject(r);
    }
    /* the key without the NUL does not exist for i % 10 == 0 */
    redisReply *r = redisCommand(c, "EXISTS hk:0 hk:1");
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1, "EXISTS hk:0 hk:1 = %lld",
          r ? r->integer : -1);
    freeReplyObject(r);
    return 1;
}

static int test_mget_and_nil(redisContext *c)
{
    char val[512];
    redisReply *r = redisCommand(c, "MGET hk:1 nosuch hk:2");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3, "MGET shape");
    size_t v1 = make_value(1, val);
    CHECK(r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len == v1 &&
          memcmp(r->element[0]->str, val, v1) == 0, "MGET[0]");
    CHECK(r->element[1]->type == REDIS_REPLY_NIL, "MGET[1] nil, got type %d",
          r->element[1]->type);
    freeReplyObject(r);
    r = redisCommand(c, "GET nosuch");
    CHECK(r && r->type == REDIS_REPLY_NIL, "GET nosuch is nil");
    freeReplyObject(r);
    r = redisCommand(c, "SET %b %b", "e", (size_t)1, "", (size_t)0);
    freeReplyObject(r);
    r = redisCommand(c, "GET e");
    CHECK(r && r->type == REDIS_REPLY_STRING && r->len == 0, "empty value is an empty string");
    freeReplyObject(r);
    return 1;
}

static int test_integers_and_errors(redisContext *c)
{
    redisReply *r = redisCommand(c, "INCRBY counter 41");
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 41, "INCRBY");
    freeReplyObject(r);
    r = redisCommand(c, "INCR counter");
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 42, "INCR");
    freeReplyObject(r);
    r = redisCommand(c, "GET");
    CHECK(r && r->type == REDIS_REPLY_ERROR &&
          strcmp(r->str, "ERR wrong number of arguments for 'get' command") == 0,
          "arity error text: %s", r && r->str ? r->str : "");
    freeReplyObject(r);
    r = redisCommand(c, "INCR hk:1");
    CHECK(r && r->type == REDIS_REPLY_ERROR &&
          strcmp(r->str, "ERR value is not an integer or out of range") == 0, "INCR error");
    freeReplyObject(r);
    /* the connection still works after errors */
    r = redisCommand(c, "ECHO %b", "a\0b", (size_t)3);
    CHECK(r && r->type == REDIS_REPLY_STRING && r->len == 3 && memcmp(r->str, "a\0b", 3) == 0,
          "ECHO binary");
    freeReplyObject(r);
    return 1;
}

static int test_pipelined_del(redisContext *c)
{
    char key[64];
    for (int i = 0; i < NKEYS; i++) {
        int kl = snprintf(key, sizeof key, "hk:%d", i);
        key[kl] = '\0';
        redisAppendCommand(c, "DEL %b", key, (size_t)kl + ((i % 10 == 0) ? 1 : 0));
    }
    for (int i = 0; i < NKEYS; i++) {
        redisReply *r;
        CHECK(redisGetReply(c, (void **)&r) == REDIS_OK, "reply %d", i);
        CHECK(r->type == REDIS_REPLY_INTEGER && r->integer == 1, "DEL %d = %lld", i, r->integer);
        freeReplyObject(r);
    }
    redisReply *r = redisCommand(c, "DBSIZE");
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 2, "DBSIZE after DEL = %lld",
          r ? r->integer : -1); /* counter and e remain */
    freeReplyObject(r);
    return 1;
}

static int test_resp3_hello(redisContext *c)
{
#if HIREDIS_MAJOR >= 1
    redisReply *r = redisCommand(c, "HELLO 3");
    CHECK(r && r->type == REDIS_REPLY_MAP, "HELLO 3 is a map, type %d", r ? r->type : -1);
    freeReplyObject(r);
    r = redisCommand(c, "GET nosuch");
    CHECK(r && r->type == REDIS_REPLY_NIL, "RESP3 null");
    freeReplyObject(r);
    r = redisCommand(c, "CONFIG GET hz");
    CHECK(r && r->type == REDIS_REPLY_MAP, "CONFIG GET map in RESP3");
    freeReplyObject(r);
    r = redisCommand(c, "HELLO 2");
    freeReplyObject(r);
    return 1;
#else
    (void)c;
    snprintf(failmsg, sizeof failmsg,
             "SKIP: hiredis %d.%d cannot parse RESP3 (needs >= 1.0)", HIREDIS_MAJOR,
             HIREDIS_MINOR);
    return 0;
#endif
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    redisContext *c = connect_to(argv[1], atoi(argv[2]));
    run("ping_flushall", test_ping, c);
    run("pipelined_set_10k_binary", test_pipelined_set_10k_binary, c);
    run("pipelined_get_10k_binary", test_pipelined_get_10k_binary, c);
    run("mget_and_nil", test_mget_and_nil, c);
    run("integers_and_errors", test_integers_and_errors, c);
    run("pipelined_del", test_pipelined_del, c);
    run("resp3_hello", test_resp3_hello, c);
    redisFree(c);
    printf("hiredis: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
