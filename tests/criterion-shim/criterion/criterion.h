/* criterion.h - minimal stand-in for Criterion 2.4's <criterion/criterion.h> (test shim).
 *
 * Why: Criterion cannot start under ThreadSanitizer (Snaipe/Criterion#274, "Could not
 * initialize inheritable arena"), so `make SANITIZER=thread` builds the unit tests with
 * -Itests/criterion-shim and without -lcriterion. This header then provides the subset of
 * Criterion's API our tests use, plus a main(). See tests/criterion-shim/README.md.
 *
 * Supported: Test(suite, name, .init, .fini, .timeout, .disabled, .description, .data),
 * TestSuite(name, same options), cr_assert / cr_expect and their _not, _eq, _neq, _lt, _leq,
 * _gt, _geq, _null, _not_null, _float_eq, _float_neq, _str_eq, _str_neq, _str_lt, _str_leq,
 * _str_gt, _str_geq, _str_empty, _str_not_empty, _arr_eq, _arr_neq, _fail variants,
 * cr_skip_test, cr_log, cr_log_info, cr_log_warn, cr_log_error. Every assertion takes an
 * optional printf-style message after its operands, like Criterion. Anything else (.signal,
 * .exit_code, parameterized tests, theories, redirections, report hooks, _cmp array asserts)
 * is deliberately absent, so a test using it fails to compile here rather than silently
 * passing.
 *
 * Semantics (kept as close to Criterion's as an in-process runner allows):
 *  - Operands are evaluated exactly once; message arguments only when the assertion fails.
 *  - cr_assert* failing: the test fails and is left at once (longjmp back to the runner);
 *    .fini still runs. cr_expect* failing: the test is marked failed and continues.
 *  - Per test: suite .init, test .init, body, test .fini, suite .fini (Criterion's order).
 *    An assertion failing in an .init fails the test and skips its body; the .finis still
 *    run (Criterion would abort the test process instead; in one process the cleanup
 *    matters more). cr_skip_test leaves the body (or .init) and still runs the .finis.
 *  - Tests run one at a time, sorted by suite then name, all in this process (no fork), so
 *    static state and open descriptors left by one test are visible to the next. Setting
 *    CRITERION_SHIM_FORK=1 runs each test in its own forked child instead (isolation, crash
 *    accounting). Under ThreadSanitizer, a race reported while a test runs fails that test.
 *  - .timeout (the test's, else the suite's, else --timeout) is multiplied by
 *    CRITERION_SHIM_TIMEOUT_SCALE (default 10: sanitizer builds are slow; 0 disables) and
 *    enforced with alarm(): on expiry the whole binary exits 1 after naming the test.
 *  - An assertion failing on a thread other than the test's, or in a process forked by the
 *    test, cannot unwind the test: it prints the failure and the process exits with status 1.
 *
 * Command line: Criterion's options are accepted; --filter/--pattern GLOB ("suite/name",
 * fnmatch), --list, --fail-fast, --timeout N, --short-filename, --always-succeed and --help
 * are honoured, the rest (--jobs N, --verbose, --ascii, ...) are ignored.
 * Output (stderr): "[RUN ] suite::name", failures, "[PASS]/[FAIL]/[SKIP] suite::name", and a
 * final "[====] Synthesis: Tested: N | Passing: P | Failing: F | Crashing: C". Exit status is
 * 1 when any test failed or crashed, else 0.
 *
 * Thread: assertions may be called from any thread (see above); the runner is single-
 * threaded. This header defines main(): include it from exactly one translation unit. */
#ifndef KEVO_CRITERION_SHIM_CRITERION_H
#define KEVO_CRITERION_SHIM_CRITERION_H

/* What the real <criterion/criterion.h> pulls in (tests may rely on it) plus the shim's own. */
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#define CRITERION_SHIM 1

/* ---- argument-list helpers (standard C11: no empty __VA_ARGS__ extensions) ------------- */

#define CRS_CAT_(a, b) CRS_CAT2_(a, b)
#define CRS_CAT2_(a, b) a##b
/* First element of a non-empty list. */
#define CRS_HEAD(...) CRS_HEAD_(__VA_ARGS__, ~)
#define CRS_HEAD_(x, ...) x
/* Everything after the first element (nothing when the list has one element). At most 64. */
#define CRS_REST(...) CRS_CAT_(CRS_REST_, CRS_ONE_(__VA_ARGS__))(__VA_ARGS__)
#define CRS_REST_1(x)
#define CRS_REST_0(x, ...) __VA_ARGS__
#define CRS_ONE_(...) CRS_PICK65_(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,      \
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, ~)
#define CRS_PICK65_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, \
    _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, _33, _34, _35,      \
    _36, _37, _38, _39, _40, _41, _42, _43, _44, _45, _46, _47, _48, _49, _50, _51, _52, _53,      \
    _54, _55, _56, _57, _58, _59, _60, _61, _62, _63, _64, N, ...) N
/* Element 2, 3, 4 of a list and what follows element 2, 3, 4. */
#define CRS_2ND(...) CRS_HEAD(CRS_REST(__VA_ARGS__))
#define CRS_3RD(...) CRS_HEAD(CRS_REST(CRS_REST(__VA_ARGS__)))
#define CRS_AFTER1(...) CRS_REST(__VA_ARGS__)
#define CRS_AFTER2(...) CRS_REST(CRS_REST(__VA_ARGS__))
#define CRS_AFTER3(...) CRS_REST(CRS_REST(CRS_REST(__VA_ARGS__)))
#define CRS_AFTER2X_(...) CRS_AFTER2(__VA_ARGS__)

/* ---- registration ------------------------------------------------------------------------ */

/* Options of Test(...) and TestSuite(...), as designated initializers (Criterion's names). */
struct criterion_test_extra_data {
    int sentinel_;
    void (*init)(void);
    void (*fini)(void);
    bool disabled;
    const char *description;
    double timeout; /* seconds; 0 = none */
    void *data;
};

struct crs_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    const char *file;
    int line;
    struct criterion_test_extra_data opts;
    struct crs_test *next;
};

struct crs_suite {
    const char *name;
    struct criterion_test_extra_data opts;
    struct crs_suite *next;
};

/* Registration lists, filled by constructors before main (single-threaded). */
static struct crs_test *crs_tests_;
static struct crs_suite *crs_suites_;

static inline void crs_register_test_(struct crs_test *t)
{
    t->next = crs_tests_;
    crs_tests_ = t;
}

static inline void crs_register_suite_(struct crs_suite *s)
{
    s->next = crs_suites_;
    crs_suites_ = s;
}

#define Test(...) CRS_TEST_X_(CRS_HEAD(__VA_ARGS__), CRS_2ND(__VA_ARGS__), CRS_AFTER2(__VA_ARGS__))
#define CRS_TEST_X_(...) CRS_TEST_(__VA_ARGS__)
#define CRS_TEST_(Suite, Name, ...)                                                                \
    static void crs_fn_##Suite##__##Name(void);                                                    \
    static struct crs_test crs_test_##Suite##__##Name = {                                          \
        #Suite, #Name, crs_fn_##Suite##__##Name, __FILE__, __LINE__,                               \
        { .sentinel_ = 0, __VA_ARGS__ }, NULL };                                                   \
    __attribute__((constructor)) static void crs_reg_##Suite##__##Name(void)                       \
    {                                                                                              \
        crs_register_test_(&crs_test_##Suite##__##Name);                                           \
    }                                                                                              \
    static void crs_fn_##Suite##__##Name(void)

#define TestSuite(...) CRS_SUITE_X_(CRS_HEAD(__VA_ARGS__), CRS_AFTER1(__VA_ARGS__))
#define CRS_SUITE_X_(...) CRS_SUITE_(__VA_ARGS__)
#define CRS_SUITE_(Suite, ...)                                                                     \
    static struct crs_suite crs_suite_##Suite = {                                                  \
        #Suite, { .sentinel_ = 0, __VA_ARGS__ }, NULL };                                           \
    __attribute__((constructor)) static void crs_regsuite_##Suite(void)                            \
    {                                                                                              \
        crs_register_suite_(&crs_suite_##Suite);                                                   \
    }                                                                                              \
    struct crs_suite_semicolon_##Suite

/* ---- runner state -------------------------------------------------------------------------- */

static struct {
    jmp_buf jmp;
    atomic_int armed;             /* jmp is valid (runner thread, inside crs_run_one_) */
    pthread_t thread;             /* the thread running tests */
    pid_t pid;                    /* the process running tests */
    const struct crs_test *cur;
    atomic_int failed;            /* current test has failed */
    volatile int skipped;         /* current test called cr_skip_test */
    int short_names;
    atomic_uint tsan_reports;     /* ThreadSanitizer reports so far (in-process count) */
    char timeout_msg[512];        /* written by the SIGALRM handler */
} crs_;

static _Thread_local char crs_note_[1200]; /* operand values of the failing assertion */

/* ---- failure reporting ------------------------------------------------------------------- */

static inline const char *crs_file_(const char *f)
{
    if (crs_.short_names) {
        const char *s = strrchr(f, '/');
        if (s != NULL)
            return s + 1;
    }
    return f;
}

/* Copies into out the idx-th (0-based) top-level comma-separated element of text (the
 * stringified macro arguments), trimmed. Commas inside (), [], {}, "" and '' do not split. */
static inline void crs_arg_text_(const char *text, int idx, char *out, size_t cap)
{
    int depth = 0, cur = 0;
    size_t n = 0;
    char quote = 0;
    for (const char *p = text; *p != '\0'; p++) {
        char c = *p;
        if (quote) {
            if (c == '\\' && p[1] != '\0') {
                if (cur == idx && n + 2 < cap) {
                    out[n++] = c;
                    out[n++] = p[1];
                }
                p++;
                continue;
            }
            if (c == quote)
                quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '(' || c == '[' || c == '{') {
            depth++;
        } else if (c == ')' || c == ']' || c == '}') {
            depth--;
        } else if (c == ',' && depth == 0) {
            if (cur == idx)
                break;
            cur++;
            continue;
        }
        if (cur == idx && n + 1 < cap)
            out[n++] = c;
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t' || out[n - 1] == '\n'))
        n--;
    size_t start = 0;
    while (start < n && (out[start] == ' ' || out[start] == '\t' || out[start] == '\n'))
        start++;
    memmove(out, out + start, n - start);
    out[n - start] = '\0';
}

/* Records a string operand pair for the failure message (escaped, truncated). */
static inline void crs_quote_(char *out, size_t cap, const char *s)
{
    if (s == NULL) {
        snprintf(out, cap, "NULL");
        return;
    }
    size_t n = 0;
    out[n++] = '"';
    for (; *s != '\0' && n + 6 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    if (*s != '\0' && n + 4 < cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n++] = '"';
    out[n] = '\0';
}

static inline void crs_note_str_(const char *a, const char *b, int two)
{
    char qa[520], qb[520];
    crs_quote_(qa, sizeof qa, a);
    if (two) {
        crs_quote_(qb, sizeof qb, b);
        snprintf(crs_note_, sizeof crs_note_, "actual: %s, expected: %s", qa, qb);
    } else {
        snprintf(crs_note_, sizeof crs_note_, "value: %s", qa);
    }
}

static inline void crs_note_float_(long double a, long double b, long double eps)
{
    snprintf(crs_note_, sizeof crs_note_, "actual: %.17Lg, expected: %.17Lg, epsilon: %.17Lg",
             a, b, eps);
}

/* A failed assertion. abort_test: cr_assert (leave the test) vs cr_expect (continue).
 * tmpl: the default description, where bytes 1, 2, 3 stand for the first, second, third
 * element of args (the stringified macro arguments). fmt: "x" followed by the user's
 * optional message format. Returns only when !abort_test. */
static inline void crs_vfail_(int abort_test, const char *file, int line, const char *tmpl,
                              const char *args, const char *fmt, va_list ap0)
{
    char desc[2048];
    size_t n = 0;
    for (const char *t = tmpl; *t != '\0' && n + 1 < sizeof desc; t++) {
        if (*t >= 1 && *t <= 3) {
            char a[800];
            crs_arg_text_(args, *t - 1, a, sizeof a);
            n += (size_t)snprintf(desc + n, sizeof desc - n, "%s", a);
            if (n >= sizeof desc)
                n = sizeof desc - 1;
        } else {
            desc[n++] = *t;
        }
    }
    desc[n] = '\0';

    char *msg = NULL;
    va_list ap;
    va_copy(ap, ap0);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len > 1) {
        msg = malloc((size_t)len + 1);
        if (msg != NULL)
            vsnprintf(msg, (size_t)len + 1, fmt, ap0);
    }

    atomic_store(&crs_.failed, 1);
    int same_thread = crs_.armed && pthread_equal(pthread_self(), crs_.thread);
    int same_proc = getpid() == crs_.pid;

    flockfile(stderr);
    fprintf(stderr, "[----] %s:%d: %s\n", crs_file_(file), line,
            abort_test ? "Assertion Failed" : "Expectation Failed");
    if (desc[0] != '\0')
        fprintf(stderr, "[----]   %s\n", desc);
    if (crs_note_[0] != '\0')
        fprintf(stderr, "[----]   %s\n", crs_note_);
    if (msg != NULL)
        fprintf(stderr, "[----]   %s\n", msg + 1);
    if (!same_proc)
        fprintf(stderr, "[----]   (in process %d forked by the test%s)\n", (int)getpid(),
                abort_test ? ": it exits with status 1" : "");
    else if (abort_test && !same_thread)
        fprintf(stderr, "[----]   (on a thread other than the test's: the shim cannot abort "
                        "the test from there; the test binary exits with status 1)\n");
    fflush(stderr);
    funlockfile(stderr);
    crs_note_[0] = '\0';
    free(msg);

    if (!abort_test)
        return;
    if (!same_proc || !same_thread) {
        fflush(NULL);
        _exit(1);
    }
    longjmp(crs_.jmp, 1);
}

/* cr_expect* failing: records the failure, returns. */
__attribute__((format(printf, 5, 6)))
static inline void crs_fail_cont_(const char *file, int line, const char *tmpl, const char *args,
                                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    crs_vfail_(0, file, line, tmpl, args, fmt, ap);
    va_end(ap);
}

/* cr_assert* failing: records the failure and leaves the test (never returns). */
__attribute__((format(printf, 5, 6)))
_Noreturn static inline void crs_fail_abort_(const char *file, int line, const char *tmpl,
                                             const char *args, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    crs_vfail_(1, file, line, tmpl, args, fmt, ap);
    va_end(ap);
    abort(); /* not reached: crs_vfail_ longjmps or exits */
}

/* cr_skip_test: leaves the test, which counts as skipped (never returns). */
__attribute__((format(printf, 1, 2)))
_Noreturn static inline void crs_skip_(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (buf[1] != '\0')
        fprintf(stderr, "[----] skipped: %s\n", buf + 1);
    if (!crs_.armed || !pthread_equal(pthread_self(), crs_.thread) || getpid() != crs_.pid) {
        fprintf(stderr, "[----] cr_skip_test called outside the test's thread: the test "
                        "binary exits with status 1\n");
        fflush(NULL);
        _exit(1);
    }
    crs_.skipped = 1;
    longjmp(crs_.jmp, 1);
}

/* ---- assertions -------------------------------------------------------------------------- */

#define CRS_ABORT_ crs_fail_abort_
#define CRS_CONT_ crs_fail_cont_

/* Pass/fail on a condition; Tmpl describes it (see crs_vfail_), Text is #__VA_ARGS__. */
#define CRS_CHECK_(Mode, Cond, Tmpl, Text, ...)                                                    \
    do {                                                                                           \
        if (!(Cond))                                                                               \
            Mode(__FILE__, __LINE__, Tmpl, Text, "x" __VA_ARGS__);                                 \
    } while (0)

#define CRS_BOOL_(Mode, Neg, Tmpl, Text, ...)                                                      \
    CRS_CHECK_(Mode, Neg(CRS_HEAD(__VA_ARGS__)), Tmpl, Text, CRS_AFTER1(__VA_ARGS__))
#define CRS_BINOP_(Mode, Op, Text, ...)                                                            \
    CRS_CHECK_(Mode, (CRS_HEAD(__VA_ARGS__)) Op (CRS_2ND(__VA_ARGS__)),                            \
               "(\1) " #Op " (\2) is false", Text, CRS_AFTER2(__VA_ARGS__))
#define CRS_NULLOP_(Mode, Op, Tmpl, Text, ...)                                                     \
    CRS_CHECK_(Mode, (CRS_HEAD(__VA_ARGS__)) Op NULL, Tmpl, Text, CRS_AFTER1(__VA_ARGS__))
#define CRS_MEMOP_(Mode, Op, Text, ...)                                                            \
    CRS_CHECK_(Mode,                                                                               \
               memcmp((CRS_HEAD(__VA_ARGS__)), (CRS_2ND(__VA_ARGS__)),                             \
                      (CRS_3RD(__VA_ARGS__))) Op 0,                                                \
               "(\1)[0..\3] " #Op " (\2)[0..\3] is false", Text,                                   \
               CRS_AFTER3(__VA_ARGS__))

#define CRS_STROP_(Mode, Op, Text, ...)                                                            \
    do {                                                                                           \
        const char *crs_sa_ = (CRS_HEAD(__VA_ARGS__));                                             \
        const char *crs_sb_ = (CRS_2ND(__VA_ARGS__));                                              \
        if (!(crs_sa_ != NULL && crs_sb_ != NULL && strcmp(crs_sa_, crs_sb_) Op 0)) {              \
            crs_note_str_(crs_sa_, crs_sb_, 1);                                                    \
            Mode(__FILE__, __LINE__, "(\1) " #Op " (\2) is false (as strings)",                    \
                      Text, "x" CRS_AFTER2(__VA_ARGS__));                                          \
        }                                                                                          \
    } while (0)

#define CRS_STREMPTY_(Mode, Op, Tmpl, Text, ...)                                                   \
    do {                                                                                           \
        const char *crs_sa_ = (CRS_HEAD(__VA_ARGS__));                                             \
        if (!(crs_sa_ != NULL && crs_sa_[0] Op '\0')) {                                            \
            crs_note_str_(crs_sa_, NULL, 0);                                                       \
            Mode(__FILE__, __LINE__, Tmpl, Text,                                                   \
                      "x" CRS_AFTER1(__VA_ARGS__));                                                \
        }                                                                                          \
    } while (0)

#define CRS_FLOATOP_(Mode, Neq, Text, ...)                                                         \
    do {                                                                                           \
        long double crs_fa_ = (CRS_HEAD(__VA_ARGS__));                                             \
        long double crs_fb_ = (CRS_2ND(__VA_ARGS__));                                              \
        long double crs_fe_ = (CRS_3RD(__VA_ARGS__));                                              \
        int crs_close_ = crs_fb_ - crs_fa_ <= crs_fe_ && crs_fa_ - crs_fb_ <= crs_fe_;             \
        if (crs_close_ == (Neq)) {                                                                 \
            crs_note_float_(crs_fa_, crs_fb_, crs_fe_);                                            \
            Mode(__FILE__, __LINE__,                                                               \
                      (Neq) ? "(\1) differs from (\2) by more than \3 is false"                    \
                            : "(\1) equals (\2) within \3 is false",                               \
                      Text, "x" CRS_AFTER3(__VA_ARGS__));                                          \
        }                                                                                          \
    } while (0)

#define CRS_NOTHING_
#define CRS_NOT_ !

#define cr_assert(...) \
    CRS_BOOL_(CRS_ABORT_, CRS_NOTHING_, "\1 is false", #__VA_ARGS__, __VA_ARGS__)
#define cr_expect(...) \
    CRS_BOOL_(CRS_CONT_, CRS_NOTHING_, "\1 is false", #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_not(...) \
    CRS_BOOL_(CRS_ABORT_, CRS_NOT_, "!(\1) is false", #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_not(...) \
    CRS_BOOL_(CRS_CONT_, CRS_NOT_, "!(\1) is false", #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_fail(...)                                                                        \
    crs_fail_abort_(__FILE__, __LINE__, "cr_assert_fail", "", "x" __VA_ARGS__)
#define cr_expect_fail(...)                                                                        \
    crs_fail_cont_(__FILE__, __LINE__, "cr_expect_fail", "", "x" __VA_ARGS__)
#define cr_skip_test(...)       crs_skip_("x" __VA_ARGS__)

#define cr_assert_eq(...)       CRS_BINOP_(CRS_ABORT_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_eq(...)       CRS_BINOP_(CRS_CONT_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_neq(...)      CRS_BINOP_(CRS_ABORT_, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_neq(...)      CRS_BINOP_(CRS_CONT_, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_lt(...)       CRS_BINOP_(CRS_ABORT_, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_lt(...)       CRS_BINOP_(CRS_CONT_, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_leq(...)      CRS_BINOP_(CRS_ABORT_, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_leq(...)      CRS_BINOP_(CRS_CONT_, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_gt(...)       CRS_BINOP_(CRS_ABORT_, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_gt(...)       CRS_BINOP_(CRS_CONT_, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_geq(...)      CRS_BINOP_(CRS_ABORT_, >=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_geq(...)      CRS_BINOP_(CRS_CONT_, >=, #__VA_ARGS__, __VA_ARGS__)

#define cr_assert_null(...) \
    CRS_NULLOP_(CRS_ABORT_, ==, "\1 is not null", #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_null(...) \
    CRS_NULLOP_(CRS_CONT_, ==, "\1 is not null", #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_not_null(...) \
    CRS_NULLOP_(CRS_ABORT_, !=, "\1 is null", #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_not_null(...) \
    CRS_NULLOP_(CRS_CONT_, !=, "\1 is null", #__VA_ARGS__, __VA_ARGS__)

#define cr_assert_float_eq(...)  CRS_FLOATOP_(CRS_ABORT_, 0, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_float_eq(...)  CRS_FLOATOP_(CRS_CONT_, 0, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_float_neq(...) CRS_FLOATOP_(CRS_ABORT_, 1, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_float_neq(...) CRS_FLOATOP_(CRS_CONT_, 1, #__VA_ARGS__, __VA_ARGS__)

#define cr_assert_str_eq(...)   CRS_STROP_(CRS_ABORT_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_eq(...)   CRS_STROP_(CRS_CONT_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_neq(...)  CRS_STROP_(CRS_ABORT_, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_neq(...)  CRS_STROP_(CRS_CONT_, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_lt(...)   CRS_STROP_(CRS_ABORT_, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_lt(...)   CRS_STROP_(CRS_CONT_, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_leq(...)  CRS_STROP_(CRS_ABORT_, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_leq(...)  CRS_STROP_(CRS_CONT_, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_gt(...)   CRS_STROP_(CRS_ABORT_, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_gt(...)   CRS_STROP_(CRS_CONT_, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_geq(...)  CRS_STROP_(CRS_ABORT_, >=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_geq(...)  CRS_STROP_(CRS_CONT_, >=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_empty(...)                                                                   \
    CRS_STREMPTY_(CRS_ABORT_, ==, "\1 is not empty", #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_empty(...)                                                                   \
    CRS_STREMPTY_(CRS_CONT_, ==, "\1 is not empty", #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_not_empty(...)                                                               \
    CRS_STREMPTY_(CRS_ABORT_, !=, "\1 is empty or null", #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_not_empty(...)                                                               \
    CRS_STREMPTY_(CRS_CONT_, !=, "\1 is empty or null", #__VA_ARGS__, __VA_ARGS__)

/* Like Criterion's: Size is in bytes (memcmp). */
#define cr_assert_arr_eq(...)   CRS_MEMOP_(CRS_ABORT_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_arr_eq(...)   CRS_MEMOP_(CRS_CONT_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_arr_neq(...)  CRS_MEMOP_(CRS_ABORT_, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_arr_neq(...)  CRS_MEMOP_(CRS_CONT_, !=, #__VA_ARGS__, __VA_ARGS__)

/* ---- logging ----------------------------------------------------------------------------- */

enum criterion_severity { CR_LOG_INFO, CR_LOG_WARNING, CR_LOG_ERROR };

__attribute__((format(printf, 2, 3)))
static inline void crs_log_(enum criterion_severity sev, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    const char *tag = sev == CR_LOG_ERROR ? "ERR " : sev == CR_LOG_WARNING ? "WARN" : "----";
    fprintf(stderr, "[%s] %s\n", tag, buf);
}

#define cr_log(...)       crs_log_(__VA_ARGS__)
#define cr_log_info(...)  crs_log_(CR_LOG_INFO, __VA_ARGS__)
#define cr_log_warn(...)  crs_log_(CR_LOG_WARNING, __VA_ARGS__)
#define cr_log_error(...) crs_log_(CR_LOG_ERROR, __VA_ARGS__)

/* ---- ThreadSanitizer report hook ----------------------------------------------------------- */

#if defined(__SANITIZE_THREAD__)
#define CRS_TSAN_ 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CRS_TSAN_ 1
#endif
#endif

#ifdef CRS_TSAN_
/* Called by the TSAN runtime for every report it prints (overrides its weak default). */
void __tsan_on_report(const void *report);
void __tsan_on_report(const void *report)
{
    (void)report;
    atomic_fetch_add(&crs_.tsan_reports, 1u);
}
#endif

/* ---- runner ------------------------------------------------------------------------------ */

enum { CRS_PASS_, CRS_FAILED_, CRS_SKIPPED_ };

static void crs_on_alarm_(int sig)
{
    (void)sig;
    int saved = errno;
    ssize_t w = write(2, crs_.timeout_msg, strlen(crs_.timeout_msg));
    (void)w;
    errno = saved;
    _exit(1);
}

static double crs_now_(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs one test (suite may be NULL) in this process; returns CRS_PASS_/FAILED_/SKIPPED_. */
static int crs_run_one_(const struct crs_test *t, const struct crs_suite *s, double timeout,
                        double scale)
{
    crs_.cur = t;
    crs_.thread = pthread_self();
    crs_.pid = getpid();
    atomic_store(&crs_.failed, 0);
    crs_.skipped = 0;
    unsigned tsan_before = atomic_load(&crs_.tsan_reports);

    volatile unsigned secs = 0;
    if (timeout > 0 && scale > 0) {
        double d = timeout * scale;
        secs = d >= 4e9 ? 4000000000u : (unsigned)d + (d > (unsigned)d ? 1u : 0u);
        if (secs == 0)
            secs = 1;
        snprintf(crs_.timeout_msg, sizeof crs_.timeout_msg,
                 "[FAIL] %s::%s: timed out after %us (.timeout %gs x "
                 "CRITERION_SHIM_TIMEOUT_SCALE %g); exiting\n",
                 t->suite, t->name, secs, timeout, scale);
        signal(SIGALRM, crs_on_alarm_);
        alarm(secs);
    }

    volatile int init_ok = 0;
    crs_.armed = 1;
    if (!setjmp(crs_.jmp)) {
        if (s != NULL && s->opts.init != NULL)
            s->opts.init();
        if (t->opts.init != NULL)
            t->opts.init();
        init_ok = 1;
    }
    if (!init_ok && !crs_.skipped)
        fprintf(stderr, "[----] %s::%s: .init failed: body skipped, .fini run\n", t->suite,
                t->name);
    if (init_ok && !crs_.skipped) {
        if (!setjmp(crs_.jmp))
            t->fn();
    }
    if (!setjmp(crs_.jmp)) {
        if (t->opts.fini != NULL)
            t->opts.fini();
    }
    if (!setjmp(crs_.jmp)) {
        if (s != NULL && s->opts.fini != NULL)
            s->opts.fini();
    }
    crs_.armed = 0;
    if (secs > 0) {
        alarm(0);
        signal(SIGALRM, SIG_DFL);
    }
    unsigned tsan_new = atomic_load(&crs_.tsan_reports) - tsan_before;
    if (tsan_new > 0) {
        fprintf(stderr, "[----] %s::%s: ThreadSanitizer reported %u warning(s) during this "
                        "test\n", t->suite, t->name, tsan_new);
        atomic_store(&crs_.failed, 1);
    }
    crs_.cur = NULL;
    if (atomic_load(&crs_.failed))
        return CRS_FAILED_;
    return crs_.skipped ? CRS_SKIPPED_ : CRS_PASS_;
}

static int crs_cmp_tests_(const void *a, const void *b)
{
    const struct crs_test *x = *(const struct crs_test *const *)a;
    const struct crs_test *y = *(const struct crs_test *const *)b;
    int c = strcmp(x->suite, y->suite);
    return c != 0 ? c : strcmp(x->name, y->name);
}

static void crs_usage_(const char *prog)
{
    fprintf(stderr,
            "usage: %s [options]   (Kevo's Criterion shim, tests/criterion-shim)\n"
            "  --filter GLOB / --pattern GLOB   run tests whose \"suite/name\" matches\n"
            "  -l, --list                       list the tests\n"
            "  -f, --fail-fast                  stop at the first failure\n"
            "  --timeout SECONDS                timeout for tests without .timeout\n"
            "  -S, --short-filename             short file names in messages\n"
            "  --always-succeed                 exit 0 even when tests fail\n"
            "  other Criterion options (--jobs N, --verbose, ...) are accepted and ignored\n"
            "environment: CRITERION_SHIM_FORK=1 (a forked child per test),\n"
            "  CRITERION_SHIM_TIMEOUT_SCALE=X (default 10; 0 disables timeouts)\n",
            prog);
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    int list = 0, fail_fast = 0, always_succeed = 0;
    double cli_timeout = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
#define CRS_OPT_(name) (strncmp(a, name, strlen(name)) == 0 &&                                     \
                        (a[strlen(name)] == '\0' || a[strlen(name)] == '='))
#define CRS_VAL_() (eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : ""))
        if (CRS_OPT_("--filter") || CRS_OPT_("--pattern")) {
            filter = CRS_VAL_();
        } else if (strcmp(a, "-l") == 0 || strcmp(a, "--list") == 0) {
            list = 1;
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--fail-fast") == 0) {
            fail_fast = 1;
        } else if (CRS_OPT_("--timeout")) {
            cli_timeout = atof(CRS_VAL_());
        } else if (strcmp(a, "-S") == 0 || strcmp(a, "--short-filename") == 0) {
            crs_.short_names = 1;
        } else if (strcmp(a, "--always-succeed") == 0) {
            always_succeed = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            crs_usage_(argv[0]);
            return 0;
        } else if (CRS_OPT_("--jobs") || CRS_OPT_("--output") || strcmp(a, "-j") == 0 ||
                   strcmp(a, "-O") == 0) {
            (void)CRS_VAL_(); /* ignored: the shim runs tests one at a time */
        } else {
            /* -jN, --verbose[=N], --ascii, --no-early-exit, --tap, ...: ignored */
        }
#undef CRS_OPT_
#undef CRS_VAL_
    }

    const char *fork_env = getenv("CRITERION_SHIM_FORK");
    int use_fork = fork_env != NULL && fork_env[0] != '\0' && strcmp(fork_env, "0") != 0;
    double scale = 10;
    const char *scale_env = getenv("CRITERION_SHIM_TIMEOUT_SCALE");
    if (scale_env != NULL && scale_env[0] != '\0')
        scale = atof(scale_env);

    size_t ntests = 0;
    for (struct crs_test *t = crs_tests_; t != NULL; t = t->next)
        ntests++;
    const struct crs_test **tests = calloc(ntests + 1, sizeof *tests);
    if (tests == NULL) {
        fprintf(stderr, "criterion shim: out of memory\n");
        return 1;
    }
    size_t k = 0;
    for (struct crs_test *t = crs_tests_; t != NULL; t = t->next)
        tests[k++] = t;
    qsort(tests, ntests, sizeof *tests, crs_cmp_tests_);

    unsigned tested = 0, passing = 0, failing = 0, crashing = 0, skipped = 0;
    for (size_t i = 0; i < ntests; i++) {
        const struct crs_test *t = tests[i];
        const struct crs_suite *s = NULL;
        for (const struct crs_suite *x = crs_suites_; x != NULL; x = x->next)
            if (strcmp(x->name, t->suite) == 0)
                s = x;
        if (filter != NULL) {
            char full[512];
            snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
            if (fnmatch(filter, full, 0) != 0)
                continue;
        }
        if (list) {
            printf("%s::%s%s%s%s\n", t->suite, t->name,
                   t->opts.description ? "  - " : "",
                   t->opts.description ? t->opts.description : "",
                   (t->opts.disabled || (s != NULL && s->opts.disabled)) ? "  (disabled)" : "");
            continue;
        }
        if (t->opts.disabled || (s != NULL && s->opts.disabled)) {
            fprintf(stderr, "[SKIP] %s::%s: test is disabled\n", t->suite, t->name);
            skipped++;
            continue;
        }
        double timeout = t->opts.timeout != 0 ? t->opts.timeout
                         : (s != NULL && s->opts.timeout != 0) ? s->opts.timeout
                         : cli_timeout;
        fprintf(stderr, "[RUN ] %s::%s\n", t->suite, t->name);
        fflush(NULL);
        double t0 = crs_now_();
        int r;
        if (use_fork) {
            pid_t pid = fork();
            if (pid < 0) {
                perror("criterion shim: fork");
                return 1;
            }
            if (pid == 0) {
                r = crs_run_one_(t, s, timeout, scale);
                fflush(NULL);
                exit(r == CRS_FAILED_ ? 1 : r == CRS_SKIPPED_ ? 2 : 0);
            }
            int status = 0;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            if (WIFSIGNALED(status)) {
                fprintf(stderr, "[CRSH] %s::%s: killed by signal %d (%.2fs)\n", t->suite,
                        t->name, WTERMSIG(status), crs_now_() - t0);
                tested++;
                crashing++;
                if (fail_fast)
                    break;
                continue;
            }
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
            if (code != 0 && code != 1 && code != 2)
                fprintf(stderr, "[----] %s::%s: child exited with status %d (66 = sanitizer "
                                "reports)\n", t->suite, t->name, code);
            r = code == 0 ? CRS_PASS_ : code == 2 ? CRS_SKIPPED_ : CRS_FAILED_;
        } else {
            r = crs_run_one_(t, s, timeout, scale);
        }
        double dt = crs_now_() - t0;
        if (r == CRS_SKIPPED_) {
            fprintf(stderr, "[SKIP] %s::%s (%.2fs)\n", t->suite, t->name, dt);
            skipped++;
            continue;
        }
        tested++;
        if (r == CRS_PASS_) {
            passing++;
            fprintf(stderr, "[PASS] %s::%s (%.2fs)\n", t->suite, t->name, dt);
        } else {
            failing++;
            fprintf(stderr, "[FAIL] %s::%s (%.2fs)\n", t->suite, t->name, dt);
            if (fail_fast)
                break;
        }
    }
    free(tests);
    if (list)
        return 0;
    fprintf(stderr, "[====] Synthesis: Tested: %u | Passing: %u | Failing: %u | Crashing: %u",
            tested, passing, failing, crashing);
    if (skipped > 0)
        fprintf(stderr, " | Skipped: %u", skipped);
    fprintf(stderr, "\n");
    fflush(NULL);
    if (always_succeed)
        return 0;
    return failing + crashing > 0 ? 1 : 0;
}

#endif /* KEVO_CRITERION_SHIM_CRITERION_H */
