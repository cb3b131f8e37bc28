/* test_parser.c - the incremental RESP request parser: commands split at every byte boundary,
 * inline quoting, every protocol error, and the bulk/multibulk length limits. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

#define MAXCMDS 32
#define MAXARGS 16

typedef struct parsed {
    int ncmds;
    int argc[MAXCMDS];
    size_t len[MAXCMDS][MAXARGS];
    char arg[MAXCMDS][MAXARGS][64];
    int error;
    char err[128];
} parsed;

/* Feeds input to a parser the way client.c does (the buffer holds bytes from the current
 * command's start), delivering it in pieces cut at the given positions. */
static void feed(const char *input, size_t n, const size_t *cuts, int ncuts, parsed *out)
{
    memset(out, 0, sizeof *out);
    resp_parser p;
    resp_parser_init(&p, 512LL * 1024 * 1024);
    char *buf = malloc(n + 1);
    size_t have = 0, start = 0;
    for (int piece = 0; piece <= ncuts; piece++) {
        size_t end = piece < ncuts ? cuts[piece] : n;
        memcpy(buf + have, input + have, end - have);
        have = end;
        for (;;) {
            int r = resp_parse(&p, buf + start, have - start);
            if (r == RESP_PARSE_INCOMPLETE) break;
            if (r == RESP_PARSE_ERROR) {
                out->error = 1;
                snprintf(out->err, sizeof out->err, "%s", p.err);
                goto done;
            }
            if (p.argc > 0) {
                int c = out->ncmds++;
                out->argc[c] = p.argc;
                for (int i = 0; i < p.argc && i < MAXARGS; i++) {
                    const char *a = buf + start + p.argoff[i];
                    cr_assert_eq(a[p.arglen[i]], '\0', "argument not NUL-terminated in place");
                    out->len[c][i] = p.arglen[i];
                    memcpy(out->arg[c][i], a, p.arglen[i] < 63 ? p.arglen[i] : 63);
                }
            }
            start += p.pos;
            resp_parser_reset(&p);
        }
    }
done:
    free(buf);
    resp_parser_free(&p);
}

static const char pipeline[] =
    "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n"  /* a bulk containing CRLF */
    "PING\r\n"                                            /* inline */
    "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"                      /* empty bulk */
    "*0\r\n"                                              /* empty multibulk: skipped */
    "set \"a b\" 'c'\n"                                   /* inline with quotes, LF only */
    "\r\n"                                                /* empty inline: skipped */
    "*1\r\n$4\r\nPING\r\n";

static void check_pipeline(const parsed *r)
{
    cr_assert_not(r->error, "unexpected error %s", r->err);
    cr_assert_eq(r->ncmds, 5);
    cr_assert_eq(r->argc[0], 3);
    cr_assert_str_eq(r->arg[0][0], "SET");
    cr_assert_eq(r->len[0][2], 5);
    cr_assert(memcmp(r->arg[0][2], "va\r\nl", 5) == 0);
    cr_assert_eq(r->argc[1], 1);
    cr_assert_str_eq(r->arg[1][0], "PING");
    cr_assert_eq(r->argc[2], 2);
    cr_assert_eq(r->len[2][1], 0);
    cr_assert_eq(r->argc[3], 3);
    cr_assert_str_eq(r->arg[3][1], "a b");
    cr_assert_str_eq(r->arg[3][2], "c");
    cr_assert_eq(r->argc[4], 1);
}

Test(parser, pipeline_in_one_read)
{
    parsed r;
    feed(pipeline, sizeof pipeline - 1, NULL, 0, &r);
    check_pipeline(&r);
}

Test(parser, pipeline_split_at_every_byte_position)
{
    size_t n = sizeof pipeline - 1;
    for (size_t k = 1; k < n; k++) {
        parsed r;
        size_t cut = k;
        feed(pipeline, n, &cut, 1, &r);
        check_pipeline(&r);
    }
}

Test(parser, pipeline_delivered_one_byte_at_a_time)
{
    size_t n = sizeof pipeline - 1;
    size_t *cuts = malloc(n * sizeof *cuts);
    for (size_t i = 0; i < n - 1; i++) cuts[i] = i + 1;
    parsed r;
    feed(pipeline, n, cuts, (int)n - 1, &r);
    check_pipeline(&r);
    free(cuts);
}

Test(parser, pipeline_split_at_every_pair_of_positions)
{
    size_t n = sizeof pipeline - 1;
    for (size_t a = 1; a < n; a += 3)
        for (size_t b = a + 1; b < n; b++) {
            size_t cuts[2] = {a, b};
            parsed r;
            feed(pipeline, n, cuts, 2, &r);
            check_pipeline(&r);
        }
}

Test(parser, inline_quotes_and_escapes)
{
    const char in[] = "set \"k\\x41\\n\\\"q\" 'it\\'s' plain\r\n";
    parsed r;
    feed(in, sizeof in - 1, NULL, 0, &r);
    cr_assert_not(r.error);
    cr_assert_eq(r.ncmds, 1);
    cr_assert_eq(r.argc[0], 4);
    cr_assert_str_eq(r.arg[0][1], "kA\n\"q");
    cr_assert_str_eq(r.arg[0][2], "it's");
    cr_assert_str_eq(r.arg[0][3], "plain");
}

Test(parser, inline_empty_quoted_argument)
{
    const char in[] = "set k \"\"\r\n";
    parsed r;
    feed(in, sizeof in - 1, NULL, 0, &r);
    cr_assert_eq(r.argc[0], 3);
    cr_assert_eq(r.len[0][2], 0);
}

static void expect_error(const char *in, size_t n, const char *msg)
{
    parsed r;
    feed(in, n, NULL, 0, &r);
    cr_assert(r.error, "no error for %s", in);
    cr_assert_str_eq(r.err, msg);
}

Test(parser, protocol_errors_use_redis_strings)
{
    expect_error("*abc\r\n", 6, "Protocol error: invalid multibulk length");
    expect_error("*3000000000\r\n", 13, "Protocol error: invalid multibulk length");
    expect_error("*2\r\n$3\r\nget\r\n:1\r\n", 18, "Protocol error: expected '$', got ':'");
    expect_error("*1\r\n$-5\r\n", 9, "Protocol error: invalid bulk length");
    expect_error("*1\r\n$x\r\n", 8, "Protocol error: invalid bulk length");
    expect_error("set a \"b\r\n", 10, "Protocol error: unbalanced quotes in request");
    expect_error("set a \"b\"c\r\n", 12, "Protocol error: unbalanced quotes in request");
    expect_error("set a 'b\r\n", 10, "Protocol error: unbalanced quotes in request");
}

Test(parser, too_big_inline_and_count_strings)
{
    size_t n = RESP_INLINE_MAX_SIZE + 10;
    char *big = malloc(n + 8);
    cr_assert_not_null(big);
    if (!big) return;
    memset(big, 'x', n);
    expect_error(big, n, "Protocol error: too big inline request");
    big[0] = '*';
    memset(big + 1, '1', n - 1);
    expect_error(big, n, "Protocol error: too big mbulk count string");
    memcpy(big, "*1\r\n$", 5);
    expect_error(big, n, "Protocol error: too big bulk count string");
    free(big);
}

Test(parser, inline_just_under_limit_is_incomplete_not_error)
{
    size_t n = RESP_INLINE_MAX_SIZE;
    char *big = malloc(n);
    cr_assert_not_null(big);
    if (!big) return;
    memset(big, 'x', n);
    parsed r;
    feed(big, n, NULL, 0, &r);
    cr_assert_not(r.error);
    cr_assert_eq(r.ncmds, 0);
    free(big);
}

Test(parser, bulk_length_limit_is_inclusive)
{
    resp_parser p;
    resp_parser_init(&p, 1024 * 1024);
    char ok[] = "*1\r\n$1048576\r\n";
    cr_assert_eq(resp_parse(&p, ok, sizeof ok - 1), RESP_PARSE_INCOMPLETE);
    cr_assert_eq(p.need, sizeof ok - 1 + 1048576 + 2, "need hint sizes the read of the whole bulk");
    resp_parser_reset(&p);
    char bad[] = "*1\r\n$1048577\r\n";
    cr_assert_eq(resp_parse(&p, bad, sizeof bad - 1), RESP_PARSE_ERROR);
    cr_assert_str_eq(p.err, "Protocol error: invalid bulk length");
    resp_parser_free(&p);
}

Test(parser, unauthenticated_limits)
{
    resp_parser p;
    resp_parser_init(&p, 512LL * 1024 * 1024);
    p.unauthenticated = 1;
    char mb[] = "*11\r\n";
    cr_assert_eq(resp_parse(&p, mb, sizeof mb - 1), RESP_PARSE_ERROR);
    cr_assert_str_eq(p.err, "Protocol error: unauthenticated multibulk length");
    resp_parser_reset(&p);
    char bl[] = "*1\r\n$16385\r\n";
    cr_assert_eq(resp_parse(&p, bl, sizeof bl - 1), RESP_PARSE_ERROR);
    cr_assert_str_eq(p.err, "Protocol error: unauthenticated bulk length");
    resp_parser_free(&p);
}

Test(parser, big_bulk_arrives_in_many_reads_linear_state)
{
    /* a 1 MiB bulk delivered in 4 KiB pieces: the parser keeps its position, never rescans */
    size_t blen = 1 << 20;
    char hdr[64];
    int h = snprintf(hdr, sizeof hdr, "*2\r\n$3\r\nSET\r\n$%zu\r\n", blen);
    size_t n = (size_t)h + blen + 2;
    char *in = malloc(n);
    memcpy(in, hdr, (size_t)h);
    memset(in + h, 'v', blen);
    memcpy(in + h + blen, "\r\n", 2);
    resp_parser p;
    resp_parser_init(&p, 512LL * 1024 * 1024);
    int r = RESP_PARSE_INCOMPLETE;
    size_t have;
    for (have = 4096; have < n && r == RESP_PARSE_INCOMPLETE; have += 4096) {
        r = resp_parse(&p, in, have);
        if (have > (size_t)h) cr_assert_eq(p.pos, (size_t)h, "position stays after the header");
    }
    if (r == RESP_PARSE_INCOMPLETE) r = resp_parse(&p, in, n);
    cr_assert_eq(r, RESP_PARSE_OK);
    cr_assert_eq(p.argc, 2);
    cr_assert_eq(p.arglen[1], blen);
    cr_assert_eq(p.pos, n);
    resp_parser_free(&p);
    free(in);
}

Test(parser, multibulk_with_many_arguments_grows_arrays)
{
    size_t cap = 1 << 20, len = 0;
    char *in = malloc(cap);
    len += (size_t)sprintf(in, "*3000\r\n");
    for (int i = 0; i < 3000; i++) len += (size_t)sprintf(in + len, "$%d\r\n%d\r\n", i < 10 ? 1 : i < 100 ? 2 : i < 1000 ? 3 : 4, i);
    resp_parser p;
    resp_parser_init(&p, 512LL * 1024 * 1024);
    cr_assert_eq(resp_parse(&p, in, len), RESP_PARSE_OK);
    cr_assert_eq(p.argc, 3000);
    cr_assert_str_eq(in + p.argoff[2999], "2999");
    resp_parser_free(&p);
    free(in);
}

/* ---- boundaries where Redis's strchr/sdssplitargs behaviour is the spec ---- */

static void expect_incomplete(const char *in, size_t n)
{
    parsed r;
    feed(in, n, NULL, 0, &r);
    cr_assert_not(r.error, "unexpected error %s", r.err);
    cr_assert_eq(r.ncmds, 0, "a NUL before the line end hides it (Redis's strchr)");
}

Test(parser, nul_before_line_end_keeps_the_command_incomplete)
{
    expect_incomplete("ECHO a\0b\r\nPING\r\n", 16);     /* inline */
    expect_incomplete("*1\0\r\n$4\r\nPING\r\n", 15);   /* multibulk count */
    expect_incomplete("*1\r\n\0\r\n", 7);             /* bulk count: no "expected '$'" yet */
    expect_incomplete("*1\r\n$4\0\r\nPING\r\n", 15);
    /* a NUL inside a bulk's data is data */
    parsed r;
    feed("*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n", 23, NULL, 0, &r);
    cr_assert_not(r.error);
    cr_assert_eq(r.ncmds, 1);
    cr_assert_eq(r.len[0][1], 3);
}

Test(parser, nul_stalled_inline_stays_stalled_when_more_bytes_arrive)
{
    /* the line end arrives in a later read: still hidden behind the NUL */
    const char in[] = "GET a\0\r\nPING\r\nPING\r\n";
    size_t n = sizeof in - 1;
    for (size_t k = 1; k < n; k++) {
        parsed r;
        size_t cut = k;
        feed(in, n, &cut, 1, &r);
        cr_assert_not(r.error);
        cr_assert_eq(r.ncmds, 0, "cut at %zu", k);
    }
}

Test(parser, nul_stalled_request_ends_in_too_big_error)
{
    size_t n = RESP_INLINE_MAX_SIZE + 10;
    char *big = malloc(n);
    cr_assert_not_null(big);
    if (!big) return;
    memset(big, '\n', n);
    memcpy(big, "PING\0", 5);
    expect_error(big, n, "Protocol error: too big inline request");
    memcpy(big, "*1\0", 3);
    expect_error(big, n, "Protocol error: too big mbulk count string");
    free(big);
}

Test(parser, inline_vertical_tab_and_form_feed_do_not_split_arguments)
{
    /* sdssplitargs ends an unquoted argument only at space, \t, \r, \n */
    parsed r;
    feed("ECHO a\vb\r\n", 10, NULL, 0, &r);
    cr_assert_eq(r.ncmds, 1);
    cr_assert_eq(r.argc[0], 2);
    cr_assert_str_eq(r.arg[0][1], "a\vb");
    feed("ECHO a\fb c\td\r\n", 14, NULL, 0, &r);
    cr_assert_eq(r.argc[0], 4);
    cr_assert_str_eq(r.arg[0][1], "a\fb");
    cr_assert_str_eq(r.arg[0][3], "d");
    /* ...but leading \v \f are blanks (isspace) */
    feed("\v\fPING\r\n", 8, NULL, 0, &r);
    cr_assert_eq(r.argc[0], 1);
    cr_assert_str_eq(r.arg[0][0], "PING");
}

Test(parser, negative_and_overflowing_lengths)
{
    expect_error("*99999999999999999999\r\n", 23, "Protocol error: invalid multibulk length");
    expect_error("*2147483648\r\n", 13, "Protocol error: invalid multibulk length");
    expect_error("*\r\n", 3, "Protocol error: invalid multibulk length");
    expect_error("*1\r\n$99999999999999999999\r\n", 27, "Protocol error: invalid bulk length");
    expect_error("*1\r\n$536870913\r\n", 16, "Protocol error: invalid bulk length");
    expect_error("*1\r\n$\r\n", 7, "Protocol error: invalid bulk length");
    expect_error("*1\r\n*1\r\n", 8, "Protocol error: expected '$', got '*'");
    /* negative counts are empty commands, not errors (Redis) */
    parsed r;
    feed("*-1\r\n*-5\r\nPING\r\n", 16, NULL, 0, &r);
    cr_assert_not(r.error);
    cr_assert_eq(r.ncmds, 1);
    cr_assert_str_eq(r.arg[0][0], "PING");
}
