/* test_util.c - the boundaries of Redis-exact number parsing/formatting and glob matching. */
#include <criterion/criterion.h>
#include <limits.h>
#include <string.h>

#include "util.h"

static int s2ll(const char *s, long long *v) { return string2ll(s, strlen(s), v); }

Test(string2ll, accepts_llong_min_and_max_exactly) {
    long long v;
    cr_assert(s2ll("9223372036854775807", &v));
    cr_assert_eq(v, LLONG_MAX);
    cr_assert(s2ll("-9223372036854775808", &v));
    cr_assert_eq(v, LLONG_MIN);
}

Test(string2ll, rejects_overflow_by_one) {
    long long v;
    cr_assert_not(s2ll("9223372036854775808", &v));
    cr_assert_not(s2ll("-9223372036854775809", &v));
    cr_assert_not(s2ll("18446744073709551616", &v));
    cr_assert_not(s2ll("99999999999999999999", &v));
    cr_assert_not(s2ll("123456789012345678901", &v));
}

Test(string2ll, rejects_non_canonical_forms) {
    long long v;
    const char *bad[] = {"", "-", "-0", "01", "00", "+1", " 1", "1 ", "1a", "0x10", "1.0",
                         "--1", "1-", "\t1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(s2ll(bad[i], &v), "accepted '%s'", bad[i]);
}

Test(string2ll, accepts_zero_and_small_values) {
    long long v = 7;
    cr_assert(s2ll("0", &v));
    cr_assert_eq(v, 0);
    cr_assert(s2ll("-1", &v));
    cr_assert_eq(v, -1);
    cr_assert(s2ll("10", &v));
    cr_assert_eq(v, 10);
}

Test(string2ll, embedded_nul_is_rejected) {
    long long v;
    cr_assert_not(string2ll("1\0" "2", 3, &v));
    cr_assert(string2ll("12", 1, &v)); /* length bounds the parse */
    cr_assert_eq(v, 1);
}

Test(ll2string, round_trips_extremes) {
    char buf[32];
    long long vals[] = {0, 1, -1, 10, LLONG_MAX, LLONG_MIN, 1000000007LL};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        int n = ll2string(buf, sizeof(buf), vals[i]);
        long long back;
        cr_assert_eq((size_t)n, strlen(buf));
        cr_assert(string2ll(buf, (size_t)n, &back));
        cr_assert_eq(back, vals[i]);
    }
    cr_assert_eq(ll2string(buf, 3, 1234), 0); /* too small a buffer */
}

Test(string2ld, parses_what_incrbyfloat_accepts) {
    long double v;
    cr_assert(string2ld("10.5", 4, &v));
    cr_assert_float_eq((double)v, 10.5, 1e-12);
    cr_assert(string2ld("5.0e3", 5, &v));
    cr_assert_float_eq((double)v, 5000.0, 1e-9);
    cr_assert(string2ld("-0.1", 4, &v));
    cr_assert(string2ld("3", 1, &v));
}

Test(string2ld, rejects_nan_spaces_and_garbage) {
    long double v;
    const char *bad[] = {"", " 1", "1 ", "nan", "abc", "1.0x", "1e99999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(string2ld(bad[i], strlen(bad[i]), &v), "accepted '%s'", bad[i]);
}

Test(ld2string, trims_like_redis_incrbyfloat) {
    char buf[5200];
    struct {
        long double v;
        const char *s;
    } cases[] = {{10.5L, "10.5"}, {3.0L, "3"}, {0.0L, "0"}, {-0.0L, "0"}, {5000.0L, "5000"},
                 {-1.25L, "-1.25"}, {10.6L, "10.6"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = ld2string(buf, sizeof(buf), cases[i].v);
        cr_assert_str_eq(buf, cases[i].s);
        cr_assert_eq((size_t)n, strlen(cases[i].s));
    }
    /* 10.5 + 0.1 as Redis prints it (%.17Lf, trimmed) */
    long double a;
    string2ld("10.50", 5, &a);
    ld2string(buf, sizeof(buf), a + 0.1L);
    cr_assert_str_eq(buf, "10.6");
}

static int gm(const char *p, const char *s) { return glob_match(p, strlen(p), s, strlen(s), 0); }

Test(glob_match, stars_and_question_marks) {
    cr_assert(gm("*", "anything"));
    cr_assert(gm("h?llo", "hello"));
    cr_assert_not(gm("h?llo", "hllo"));
    cr_assert(gm("h*llo", "hllo"));
    cr_assert(gm("h*llo", "heeeello"));
    cr_assert(gm("a*b*c", "aXXbYYc"));
    cr_assert_not(gm("a*b*c", "aXXbYY"));
    cr_assert(gm("***a", "bba"));
    cr_assert(gm("foo*", "foo"));
    cr_assert_not(gm("foo", "foobar"));
    cr_assert_not(gm("", "a"));
    cr_assert(gm("", ""));
}

/* Redis's stringmatchlen never runs its loop for an empty string: PSUBSCRIBE * gets nothing
 * published on the channel "", KEYS ** skips the key "" (KEYS * and SCAN without MATCH special-
 * case a lone "*" themselves). */
Test(glob_match, empty_string_matches_only_the_empty_pattern) {
    cr_assert(gm("", ""));
    cr_assert_not(gm("*", ""));
    cr_assert_not(gm("**", ""));
    cr_assert_not(gm("?", ""));
    cr_assert_not(gm("[a]", ""));
    /* a string that becomes empty on the way still lets trailing stars match nothing */
    cr_assert(gm("a*", "a"));
    cr_assert(gm("a**", "a"));
}

Test(glob_match, character_classes) {
    cr_assert(gm("h[ae]llo", "hello"));
    cr_assert(gm("h[ae]llo", "hallo"));
    cr_assert_not(gm("h[ae]llo", "hillo"));
    cr_assert(gm("h[^e]llo", "hallo"));
    cr_assert_not(gm("h[^e]llo", "hello"));
    cr_assert(gm("h[a-b]llo", "hbllo"));
    cr_assert_not(gm("h[a-b]llo", "hcllo"));
    cr_assert(gm("[z-a]", "m")); /* reversed range as Redis */
    cr_assert(gm("key:[0-9]*", "key:7abc"));
    cr_assert(gm("[\\]]", "]"));
}

Test(glob_match, escapes_make_specials_literal) {
    cr_assert(gm("\\*", "*"));
    cr_assert_not(gm("\\*", "a"));
    cr_assert(gm("a\\?b", "a?b"));
    cr_assert_not(gm("a\\?b", "acb"));
    cr_assert(gm("\\[a]", "[a]"));
}

Test(glob_match, nocase) {
    cr_assert(glob_match("HeLLo", 5, "hello", 5, 1));
    cr_assert_not(glob_match("HeLLo", 5, "hello", 5, 0));
    cr_assert(glob_match("[A-Z]x", 6, "qX", 2, 1));
}

Test(glob_match, binary_safe_and_no_exponential_blowup) {
    cr_assert(glob_match("a*b", 3, "a\0\0b", 4, 0));
    /* Redis's test suite: a pathological pattern must finish quickly */
    char s[200];
    memset(s, 'a', sizeof(s));
    const char *p = "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
    cr_assert_not(glob_match(p, strlen(p), s, sizeof(s), 0));
}
