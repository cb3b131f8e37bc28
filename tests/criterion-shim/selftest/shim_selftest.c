/* Shim self-test: tests that pass and tests that must fail, checked line by line by
 * ../selftest.sh (an [FAIL] here is expected where the test name says so). Tests run sorted by
 * suite then name, in one process, so the order suite checks state left by earlier tests. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>

static int log_[64], nlog;
static void note(int x) { log_[nlog++] = x; }
static void s_init(void) { note(1); }
static void s_fini(void) { note(9); }
static void t_init(void) { note(2); }
static void t_fini(void) { note(8); }
static void bad_init(void) { note(3); cr_assert(0, "init fails"); note(33); }

TestSuite(order, .init = s_init, .fini = s_fini);
Test(order, a_body_runs_between_inits_and_finis, .init = t_init, .fini = t_fini) {
    cr_assert_eq(nlog, 2);
    cr_assert_eq(log_[0], 1);
    cr_assert_eq(log_[1], 2);
}
Test(order, b_previous_finis_ran_in_order) {
    /* a: 1 2 8 9, then this: 1 */
    cr_assert_eq(nlog, 5, "nlog %d", nlog);
    cr_assert_eq(log_[2], 8);
    cr_assert_eq(log_[3], 9);
}
Test(order, c_init_failure_skips_body_runs_fini_must_fail, .init = bad_init, .fini = t_fini) {
    note(77); /* not reached */
}
Test(order, d_check_c) {
    /* c: 1 3 8 9, d: 1 */
    cr_assert_eq(nlog, 11, "nlog %d", nlog);
    cr_assert_eq(log_[7], 3);
    cr_assert_eq(log_[8], 8);
    cr_assert_eq(log_[9], 9);
}

static int calls;
static int saw[2];
static int f(int v) { calls++; return v; }
Test(eval, operands_evaluated_once) {
    calls = 0;
    cr_assert_eq(f(3), f(3));
    cr_assert_neq(f(3), f(4), "%d", f(0) + 100); /* message not evaluated on pass */
    cr_assert_lt(f(1), f(2));
    cr_assert(f(1));
    cr_assert_not(f(0));
    cr_assert_not_null(calls ? "x" : NULL);
    cr_assert_str_eq(f(1) ? "a" : "b", "a");
    cr_assert_float_eq((double)f(1), 1.0, 1e-9);
    int a[2] = {1, 2}, b[2] = {1, 2};
    cr_assert_arr_eq(a, b, sizeof a);
    cr_expect_eq(calls, 10, "calls %d", calls);
}

Test(fail, expect_continues_assert_stops_must_fail) {
    cr_expect_eq(1, 2, "first expect %d", 42);
    cr_expect(0);
    saw[0] = 1;
    cr_assert_str_eq("abc", "abd", "str message");
    saw[1] = 1;
}
Test(fail, z_check_previous) {
    cr_assert(saw[0] && !saw[1]);
}
Test(fail, float_null_str_arr_expects_must_fail) {
    cr_expect_float_eq(1.0, 1.5, 0.1);
    const char *p = "x";
    cr_expect_null(p, "p should be null");
    cr_expect_str_empty(p);
    cr_expect_arr_neq("ab", "ab", 2);
    cr_assert_fail("explicit %s", "fail");
}
Test(fail, fail_without_message_must_fail) { cr_assert_fail(); }
Test(skip, skipped) { cr_skip_test("not today %d", 1); cr_assert_fail(); }
Test(skip, disabled, .disabled = true) { cr_assert_fail(); }
Test(time, timeout_passes_when_fast, .timeout = 1) { cr_assert(1); }
Test(macros, pri_and_commas) {
    uint64_t v = 5;
    int arr[3] = {1, 2, 3};
    cr_assert_eq(arr[1], (int)(sizeof(int[2]) / sizeof(int)), "v=%" PRIu64 " x=%d", v, 1);
    cr_log_info("log %d\n", 3);
    cr_log_warn("warn");
    cr_log_error("err %s", "x");
}

static void *assert_on_thread(void *arg)
{
    (void)arg;
    cr_assert(0, "from a worker thread");
    return NULL;
}

/* Run alone (--filter 'zthread/[*]'): it ends the binary with status 1. */
Test(zthread, assert_on_other_thread_exits_binary)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, assert_on_thread, NULL), 0);
    pthread_join(t, NULL);
}
