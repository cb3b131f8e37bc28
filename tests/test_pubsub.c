/* test_pubsub.c - pub/sub, keyspace events and tracking through the command path with
 * socketless clients: the exact bytes a subscriber gets, RESP2 subscribed-mode refusals, the
 * pubsub output-buffer class, cleanup on disconnect, and an invalidation for the writer itself
 * coming after its reply. */
#include "server_test_util.h"

#include "pubsub.h"
#include "tracking.h"

static void setup(void) { stu_setup("pubsub", 1 << 20); }
static void teardown(void) { stu_teardown(); }

/* Everything sent to c so far (static buffer), then c's output is emptied. */
static const char *drain(client *c) {
    static char buf[1 << 14];
    size_t n = client_reply_copy(c, buf, sizeof buf - 1);
    buf[n] = 0;
    client_reply_reset(c);
    return buf;
}

TestSuite(pubsub, .init = setup, .fini = teardown);

Test(pubsub, messages_in_subscription_order_with_patterns_counted) {
    client *a = client_create(-1), *b = client_create(-1), *p = client_create(-1);
    cr_assert_str_eq(stu_run(a, "SUBSCRIBE news"), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    stu_run(b, "SUBSCRIBE news");
    cr_assert_str_eq(stu_run(b, "PSUBSCRIBE n*"), "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n");
    cr_assert_str_eq(stu_run(p, "PUBLISH news hi"), ":3\r\n", "two subscribers and one pattern");
    cr_assert_str_eq(drain(a), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
    cr_assert_str_eq(drain(b), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
                               "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
    cr_assert_str_eq(stu_run(p, "PUBSUB NUMSUB news"), "*2\r\n$4\r\nnews\r\n:2\r\n");
    cr_assert_str_eq(stu_run(p, "SPUBLISH news hi"), ":0\r\n", "shard channels are apart");
    client_free(a);
    cr_assert_str_eq(stu_run(p, "PUBSUB NUMSUB news"), "*2\r\n$4\r\nnews\r\n:1\r\n", "freed: gone");
    client_free(b);
    cr_assert_str_eq(stu_run(p, "PUBSUB NUMPAT"), ":0\r\n");
    cr_assert_eq(pubsub_has_subscribers(), 0);
    client_free(p);
}

Test(pubsub, resp2_subscribed_mode_refuses_other_commands) {
    client *c = client_create(-1);
    stu_run(c, "SUBSCRIBE x");
    cr_assert(c->flags & CLIENT_PUBSUB);
    cr_assert_eq(client_obuf_class(c), 2, "the pubsub output-buffer class");
    cr_assert_str_eq(stu_run(c, "GET k"),
                     "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                     "RESET are allowed in this context\r\n");
    cr_assert_str_eq(stu_run(c, "CONFIG GET port"),
                     "-ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                     "QUIT / RESET are allowed in this context\r\n");
    cr_assert_str_eq(stu_run(c, "PING"), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    cr_assert_str_eq(stu_run(c, "PING hey"), "*2\r\n$4\r\npong\r\n$3\r\nhey\r\n");
    c->resp = 3; /* RESP3: anything goes, pushes are > */
    cr_assert_str_eq(stu_run(c, "GET k"), "_\r\n");
    cr_assert_str_eq(stu_run(c, "PING"), "+PONG\r\n");
    cr_assert_str_eq(stu_run(c, "UNSUBSCRIBE"), ">3\r\n$11\r\nunsubscribe\r\n$1\r\nx\r\n:0\r\n");
    cr_assert_not(c->flags & CLIENT_PUBSUB, "no subscription left");
    cr_assert_eq(client_obuf_class(c), 0);
    client_free(c);
}

Test(pubsub, reset_unsubscribes_silently) {
    client *c = client_create(-1), *q = client_create(-1);
    stu_run(c, "SUBSCRIBE a b");
    stu_run(c, "PSUBSCRIBE p*");
    stu_run(c, "SSUBSCRIBE s");
    cr_assert_str_eq(stu_run(c, "RESET"), "+RESET\r\n");
    cr_assert_eq(pubsub_client_count(c, 0) + pubsub_client_count(c, 1) + pubsub_client_count(c, 2), 0);
    cr_assert_str_eq(stu_run(q, "PUBLISH a m"), ":0\r\n");
    cr_assert_str_eq(stu_run(q, "PUBSUB NUMPAT"), ":0\r\n");
    cr_assert_str_eq(stu_run(c, "GET a"), "$-1\r\n");
    client_free(c);
    client_free(q);
}

Test(pubsub, keyspace_events_reach_subscribers) {
    client *s = client_create(-1), *w = client_create(-1);
    char err[128];
    cr_assert_eq(config_set("notify-keyspace-events", "KEg$", 1, err, sizeof err), 0);
    stu_run(s, "PSUBSCRIBE __key*");
    stu_run(w, "SET k v");
    cr_assert_str_eq(drain(s),
                     "*4\r\n$8\r\npmessage\r\n$6\r\n__key*\r\n$16\r\n__keyspace@0__:k\r\n$3\r\nset\r\n"
                     "*4\r\n$8\r\npmessage\r\n$6\r\n__key*\r\n$18\r\n__keyevent@0__:set\r\n$1\r\nk\r\n");
    stu_run(w, "SADD set m"); /* class s is off */
    cr_assert_str_eq(drain(s), "");
    stu_run(w, "DEL k nokey");
    cr_assert_str_eq(drain(s),
                     "*4\r\n$8\r\npmessage\r\n$6\r\n__key*\r\n$16\r\n__keyspace@0__:k\r\n$3\r\ndel\r\n"
                     "*4\r\n$8\r\npmessage\r\n$6\r\n__key*\r\n$18\r\n__keyevent@0__:del\r\n$1\r\nk\r\n");
    cr_assert_eq(config_set("notify-keyspace-events", "", 1, err, sizeof err), 0);
    stu_run(w, "SET k v");
    cr_assert_str_eq(drain(s), "", "off");
    client_free(s);
    client_free(w);
}

Test(pubsub, a_tracking_clients_own_write_invalidates_after_its_reply) {
    client *t = client_create(-1), *w = client_create(-1);
    t->resp = 3;
    cr_assert_str_eq(stu_run(t, "CLIENT TRACKING on"), "+OK\r\n");
    cr_assert_str_eq(stu_run(t, "GET k"), "_\r\n");
    cr_assert_eq(tracking_total_keys(), 1);
    cr_assert_str_eq(stu_run(t, "SET k v"), "+OK\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
    cr_assert_eq(tracking_total_keys(), 0, "an invalidated key is forgotten");
    stu_run(t, "GET k");
    stu_run(w, "SET k other"); /* another writer: the message is appended to t at once */
    cr_assert_str_eq(drain(t), ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
    cr_assert_str_eq(stu_run(t, "CLIENT TRACKING on NOLOOP"), "+OK\r\n");
    stu_run(t, "GET k");
    cr_assert_str_eq(stu_run(t, "SET k mine"), "+OK\r\n", "NOLOOP: not for its own writes");
    cr_assert_str_eq(stu_run(t, "FLUSHALL"), "+OK\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n");
    cr_assert_eq(tracking_clients(), 1);
    client_free(t);
    cr_assert_eq(tracking_clients(), 0);
    client_free(w);
}
