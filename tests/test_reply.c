/* test_reply.c - RESP2/RESP3 reply encoding byte for byte, deferred aggregate lengths, replies
 * crossing the fixed 16 KiB buffer into the chunk list, partial writes, commit-failure rollback. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "config.h"
#include "reply.h"

static client *c;
static char out[1 << 20];

static void setup(void)
{
    config_init();
    c = client_create(-1);
    cr_assert_not_null(c);
}
static void teardown(void) { client_free(c); }

static void expect(const char *want)
{
    size_t n = client_reply_copy(c, out, sizeof out);
    out[n] = 0;
    cr_assert_eq(n, strlen(want), "got \"%s\" want \"%s\"", out, want);
    cr_assert(memcmp(out, want, n) == 0, "got \"%s\" want \"%s\"", out, want);
    client_reply_reset(c);
}

TestSuite(reply, .init = setup, .fini = teardown);

Test(reply, scalar_types_resp2)
{
    reply_simple(c, "PONG");
    expect("+PONG\r\n");
    reply_ok(c);
    expect("+OK\r\n");
    reply_error(c, "ERR bad\r\nthing");
    expect("-ERR bad  thing\r\n");
    reply_errorf(c, "ERR %d", 7);
    expect("-ERR 7\r\n");
    reply_int(c, 0);
    reply_int(c, -42);
    reply_int(c, 9223372036854775807LL);
    reply_int(c, -9223372036854775807LL - 1);
    expect(":0\r\n:-42\r\n:9223372036854775807\r\n:-9223372036854775808\r\n");
}

Test(reply, bulk_binary_and_empty)
{
    reply_bulk(c, "", 0);
    expect("$0\r\n\r\n");
    reply_bulk(c, "a\0b", 3);
    size_t n = client_reply_copy(c, out, sizeof out);
    cr_assert_eq(n, 9);
    cr_assert(memcmp(out, "$3\r\na\0b\r\n", 9) == 0);
    client_reply_reset(c);
    reply_bulk_ll(c, -15);
    expect("$3\r\n-15\r\n");
    reply_bulk_cstr(c, NULL);
    expect("$-1\r\n");
}

Test(reply, nulls_bools_aggregates_resp2)
{
    reply_null(c);
    reply_null_array(c);
    reply_bool(c, 1);
    reply_bool(c, 0);
    reply_array(c, 2);
    reply_map(c, 2);
    reply_set(c, 3);
    expect("$-1\r\n*-1\r\n:1\r\n:0\r\n*2\r\n*4\r\n*3\r\n");
}

Test(reply, nulls_bools_aggregates_resp3)
{
    c->resp = 3;
    reply_null(c);
    reply_null_array(c);
    reply_bool(c, 1);
    reply_bool(c, 0);
    reply_array(c, 2);
    reply_map(c, 2);
    reply_set(c, 3);
    expect("_\r\n_\r\n#t\r\n#f\r\n*2\r\n%2\r\n~3\r\n");
}

Test(reply, doubles_resp2_are_bulk_strings_17g_as_redis_7_0)
{
    reply_double(c, 1.5);
    reply_double(c, 0.1);
    reply_double(c, 3.0);
    reply_double(c, INFINITY);
    reply_double(c, -INFINITY);
    expect("$3\r\n1.5\r\n$19\r\n0.10000000000000001\r\n$1\r\n3\r\n$3\r\ninf\r\n$4\r\n-inf\r\n");
    reply_double(c, 1.0 / 3.0);
    expect("$19\r\n0.33333333333333331\r\n");
    reply_double(c, -0.0);
    expect("$2\r\n-0\r\n");
    reply_double(c, -123456789.0);
    reply_double(c, 999999999999999.0);
    reply_double(c, 1e15);
    reply_double(c, -1e17);
    expect("$10\r\n-123456789\r\n$15\r\n999999999999999\r\n$16\r\n1000000000000000\r\n$6\r\n-1e+17\r\n");
}

Test(reply, doubles_resp3)
{
    c->resp = 3;
    reply_double(c, 1.5);
    reply_double(c, -INFINITY);
    reply_double(c, NAN);
    reply_double(c, 1e300);
    expect(",1.5\r\n,-inf\r\n,nan\r\n,1.0000000000000001e+300\r\n");
}

Test(reply, verbatim_resp2_and_resp3)
{
    reply_verbatim(c, "hello", 5, "txt");
    expect("$5\r\nhello\r\n");
    c->resp = 3;
    reply_verbatim(c, "hello", 5, "txt");
    expect("=9\r\ntxt:hello\r\n");
    reply_verbatim(c, "x", 1, "mkd");
    expect("=5\r\nmkd:x\r\n");
}

Test(reply, deferred_lengths)
{
    void *h = reply_defer_len(c);
    reply_bulk(c, "a", 1);
    reply_bulk(c, "b", 1);
    reply_set_deferred_array(c, h, 2);
    expect("*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    reply_int(c, 1);
    h = reply_defer_len(c);
    reply_bulk(c, "k", 1);
    reply_int(c, 5);
    reply_set_deferred_map(c, h, 1);
    reply_int(c, 2);
    expect(":1\r\n*2\r\n$1\r\nk\r\n:5\r\n:2\r\n");
    c->resp = 3;
    h = reply_defer_len(c);
    void *h2 = reply_defer_len(c);
    reply_set_deferred_set(c, h2, 0);
    reply_set_deferred_map(c, h, 0);
    expect("%0\r\n~0\r\n");
}

Test(reply, deferred_length_with_zero_elements_and_nesting)
{
    void *outer = reply_defer_len(c);
    void *inner = reply_defer_len(c);
    reply_set_deferred_array(c, inner, 0);
    reply_set_deferred_array(c, outer, 1);
    expect("*1\r\n*0\r\n");
}

Test(reply, reply_off_suppresses_output)
{
    c->flags |= CLIENT_REPLY_OFF;
    reply_ok(c);
    void *h = reply_defer_len(c);
    reply_set_deferred_array(c, h, 3);
    cr_assert_eq(client_reply_pending(c), 0);
    c->flags &= ~CLIENT_REPLY_OFF;
    reply_ok(c);
    expect("+OK\r\n");
}

Test(reply, big_replies_cross_the_fixed_buffer)
{
    /* 3000 bulks of 100 bytes = ~321 KB: the fixed buffer, then chunks, in order */
    char val[100];
    size_t wl = 0;
    static char want[400000];
    wl += (size_t)sprintf(want, "*3000\r\n");
    reply_array(c, 3000);
    for (int i = 0; i < 3000; i++) {
        memset(val, 'a' + i % 26, sizeof val);
        reply_bulk(c, val, sizeof val);
        wl += (size_t)sprintf(want + wl, "$100\r\n");
        memcpy(want + wl, val, 100);
        wl += 100;
        memcpy(want + wl, "\r\n", 2);
        wl += 2;
    }
    cr_assert_eq(client_reply_pending(c), wl);
    size_t n = client_reply_copy(c, out, sizeof out);
    cr_assert_eq(n, wl);
    cr_assert(memcmp(out, want, wl) == 0);
    client_reply_reset(c);
}

Test(reply, one_bulk_larger_than_a_chunk)
{
    size_t big = 100000;
    char *v = malloc(big);
    memset(v, 'z', big);
    reply_ok(c);
    reply_bulk(c, v, big);
    reply_ok(c);
    size_t n = client_reply_copy(c, out, sizeof out);
    cr_assert_eq(n, 5 + 9 + big + 2 + 5);
    cr_assert(memcmp(out + 5, "$100000\r\n", 9) == 0);
    cr_assert(memcmp(out + n - 5, "+OK\r\n", 5) == 0);
    client_reply_reset(c);
    free(v);
}

Test(reply_buf, partial_consume_across_buffer_and_chunks)
{
    static reply_buf rb;
    reply_buf_init(&rb);
    static char data[50000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)('A' + i % 23);
    for (size_t off = 0; off < sizeof data; off += 1000) reply_buf_append(&rb, data + off, 1000);
    size_t consumed = 0;
    size_t steps[] = {1, 16383, 1, 5000, 12000, 3};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        reply_buf_consume(&rb, steps[s]);
        consumed += steps[s];
        cr_assert_eq(reply_buf_pending(&rb), sizeof data - consumed);
        struct iovec iov[64];
        int n = reply_buf_iov(&rb, iov, 64);
        cr_assert_gt(n, 0);
        cr_assert(memcmp(iov[0].iov_base, data + consumed, 1) == 0, "iov starts at the first unsent byte");
        static char copy[50000];
        size_t got = reply_buf_copy(&rb, copy, sizeof copy);
        cr_assert_eq(got, sizeof data - consumed);
        cr_assert(memcmp(copy, data + consumed, got) == 0);
    }
    reply_buf_consume(&rb, reply_buf_pending(&rb));
    cr_assert_eq(reply_buf_pending(&rb), 0);
    reply_buf_append(&rb, "x", 1);
    cr_assert_eq(reply_buf_pending(&rb), 1);
    reply_buf_free(&rb);
}

Test(reply_buf, truncate_to_mark_drops_later_replies)
{
    static reply_buf rb;
    reply_buf_init(&rb);
    reply_buf_append(&rb, "keep", 4);
    reply_mark m;
    reply_buf_mark(&rb, &m);
    static char junk[40000];
    memset(junk, 'j', sizeof junk);
    reply_buf_append(&rb, junk, sizeof junk);
    reply_buf_truncate(&rb, &m);
    cr_assert_eq(reply_buf_pending(&rb), 4);
    reply_buf_append(&rb, "+E\r\n", 4);
    char got[16];
    cr_assert_eq(reply_buf_copy(&rb, got, sizeof got), 8);
    cr_assert(memcmp(got, "keep+E\r\n", 8) == 0);
    /* a mark taken inside the chunk list */
    reply_buf_append(&rb, junk, 20000);
    reply_buf_mark(&rb, &m);
    reply_buf_append(&rb, junk, 30000);
    reply_buf_truncate(&rb, &m);
    cr_assert_eq(reply_buf_pending(&rb), 8 + 20000);
    reply_buf_free(&rb);
}

Test(reply_fmt, header_extremes)
{
    char b[32];
    size_t n = resp_fmt_header(b, '*', -1);
    cr_assert_eq(n, 5);
    cr_assert(memcmp(b, "*-1\r\n", 5) == 0);
    n = resp_fmt_header(b, ':', -9223372036854775807LL - 1);
    b[n] = 0;
    cr_assert_str_eq(b, ":-9223372036854775808\r\n");
}

/* Every header from -20 to 20000 as printf writes it (the short fast path and the general one
 * meet at 1000). */
Test(reply_fmt, header_matches_printf_around_the_fast_path)
{
    char b[32], want[32];
    for (long long n = -20; n <= 20000; n++) {
        size_t l = resp_fmt_header(b, '$', n);
        int wl = snprintf(want, sizeof want, "$%lld\r\n", n);
        cr_assert_eq(l, (size_t)wl, "length of %lld", n);
        cr_assert(memcmp(b, want, l) == 0, "header of %lld", n);
    }
}

/* reply_buf_claim hands out only room already allocated: the fixed buffer's end, a chunk's end,
 * never a deferred slot; what it refuses, reply_buf_append places, in order. */
Test(reply_buf, claim_only_what_fits_and_keeps_the_order)
{
    reply_buf rb;
    reply_buf_init(&rb);
    char *p = reply_buf_claim(&rb, REPLY_FIXED_SIZE - 3);
    cr_assert_not_null(p);
    memset(p, 'a', REPLY_FIXED_SIZE - 3);
    cr_assert_null(reply_buf_claim(&rb, 4), "past the fixed buffer");
    cr_assert_eq(reply_buf_append(&rb, "bbbb", 4), 0); /* 3 in the buffer, 1 in a new chunk */
    p = reply_buf_claim(&rb, 2);
    cr_assert_not_null(p, "the tail chunk's room");
    memcpy(p, "cc", 2);
    void *h = reply_buf_defer(&rb);
    cr_assert_null(reply_buf_claim(&rb, 1), "never into a deferred slot");
    cr_assert_eq(reply_buf_append(&rb, "d", 1), 0);
    reply_buf_set_deferred(&rb, h, "*1\r\n", 4);
    static char got[REPLY_FIXED_SIZE + 64];
    size_t n = reply_buf_copy(&rb, got, sizeof got);
    cr_assert_eq(n, REPLY_FIXED_SIZE - 3 + 4 + 2 + 4 + 1);
    cr_assert_eq(got[REPLY_FIXED_SIZE - 4], 'a');
    cr_assert(memcmp(got + REPLY_FIXED_SIZE - 3, "bbbbcc*1\r\nd", 11) == 0);
    cr_assert_eq(reply_buf_pending(&rb), n);
    reply_buf_free(&rb);
}
