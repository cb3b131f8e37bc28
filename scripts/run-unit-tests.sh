#!/usr/bin/env bash
# Runs each Criterion test binary given on the command line; fails if any fails.
set -u
# sanitizer builds: leaks inside Criterion's runner itself are not ours (tests/lsan.supp)
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")/.." && pwd)/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fail=0
for t in "$@"; do
  echo "== $t"
  if ! "$t" --jobs 2 --short-filename; then fail=1; echo "FAILED: $t"; fi
done
exit $fail
