#!/usr/bin/env bash
# Self-test of the Criterion shim: builds selftest/*.c against it (plain and TSAN) and checks
# the runner's verdicts line by line. Usage: bash tests/criterion-shim/selftest.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CC=${CC:-cc}
F="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wpedantic -g -O1 -pthread -I$here"
fail=0
check() { # check <file> <fixed string> : the line must be present
  if grep -qF -- "$2" "$1"; then echo "ok   $2"; else echo "FAIL missing: $2"; fail=1; fi
}
$CC $F "$here/selftest/shim_selftest.c" -o "$tmp/st" || exit 1
$CC $F -fsanitize=thread "$here/selftest/shim_selftest_tsan.c" -o "$tmp/st_tsan" || exit 1

"$tmp/st" --jobs 2 --short-filename --filter '[!z]*/*' > "$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] && echo "ok   exit status 1 with failures" || { echo "FAIL exit status $rc"; fail=1; }
for t in eval::operands_evaluated_once fail::z_check_previous macros::pri_and_commas \
         order::a_body_runs_between_inits_and_finis order::b_previous_finis_ran_in_order \
         order::d_check_c time::timeout_passes_when_fast; do
  check "$tmp/out" "[PASS] $t ("
done
for t in fail::expect_continues_assert_stops_must_fail fail::fail_without_message_must_fail \
         fail::float_null_str_arr_expects_must_fail \
         order::c_init_failure_skips_body_runs_fini_must_fail; do
  check "$tmp/out" "[FAIL] $t ("
done
check "$tmp/out" "[SKIP] skip::disabled: test is disabled"
check "$tmp/out" "[SKIP] skip::skipped ("
check "$tmp/out" "[----]   first expect 42"
check "$tmp/out" '[----]   actual: "abc", expected: "abd"'
check "$tmp/out" "[====] Synthesis: Tested: 11 | Passing: 7 | Failing: 4 | Crashing: 0 | Skipped: 2"

"$tmp/st" --filter 'zthread/*' > "$tmp/out2" 2>&1
rc=$?
[ $rc -eq 1 ] && echo "ok   foreign-thread assert exits 1" || { echo "FAIL foreign-thread rc $rc"; fail=1; }
check "$tmp/out2" "[----]   from a worker thread"

CRITERION_SHIM_FORK=1 "$tmp/st" --filter 'eval/*' > "$tmp/out3" 2>&1
check "$tmp/out3" "[====] Synthesis: Tested: 1 | Passing: 1 | Failing: 0 | Crashing: 0"

"$tmp/st_tsan" --filter 'race/*' > "$tmp/out4" 2>&1
rc=$?
[ $rc -ne 0 ] && echo "ok   TSAN binary exits nonzero after a race" || { echo "FAIL TSAN rc $rc"; fail=1; }
check "$tmp/out4" "[FAIL] race::unsynchronized_increment_is_reported ("
check "$tmp/out4" "[PASS] race::test_after_the_race_still_passes ("

CRITERION_SHIM_TIMEOUT_SCALE=1 "$tmp/st_tsan" --filter 'time/*' > "$tmp/out5" 2>&1
rc=$?
[ $rc -eq 1 ] && echo "ok   timeout exits 1" || { echo "FAIL timeout rc $rc"; fail=1; }
check "$tmp/out5" "[FAIL] time::hang_is_stopped_by_timeout: timed out after 1s"

[ $fail -eq 0 ] && echo "criterion shim self-test: all ok" || echo "criterion shim self-test: FAILED"
exit $fail
