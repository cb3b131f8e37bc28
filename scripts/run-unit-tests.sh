#!/usr/bin/env bash
# Runs each Criterion test binary given on the command line; fails if any fails.
set -u
fail=0
for t in "$@"; do
  echo "== $t"
  if ! "$t" --jobs 2 --short-filename; then fail=1; echo "FAILED: $t"; fi
done
exit $fail
