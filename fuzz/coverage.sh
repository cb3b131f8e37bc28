#!/usr/bin/env bash
# coverage.sh target [corpus-dir...] - line/branch coverage of one fuzz target's corpus
# (default: fuzz/corpus/<target> and build-fuzz/corpus/<target>), with clang source-based
# coverage (no sanitizers) in build-fuzz-cov/. Prints llvm-cov's report for the files the
# target is about. Example: bash fuzz/coverage.sh wal
set -euo pipefail
cd "$(dirname "$0")/.."
t="$1"; shift
dirs=("$@")
[ "${#dirs[@]}" -eq 0 ] && dirs=(fuzz/corpus/"$t" build-fuzz/corpus/"$t")
case "$t" in
    resp)     files=(src/resp/parser.c) ;;
    wal)      files=(src/lsm/wal.c src/lsm/batch.c) ;;
    block)    files=(src/lsm/block.c) ;;
    sst)      files=(src/lsm/sst_reader.c src/lsm/block.c src/lsm/bloom.c src/lsm/sst_builder.c) ;;
    manifest) files=(src/lsm/version.c src/lsm/wal.c) ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
esac
out=build-fuzz-cov
mkdir -p "$out"
flags=(-std=c11 -D_GNU_SOURCE -g -O1 -fprofile-instr-generate -fcoverage-mapping
       -Isrc -Isrc/lsm -Isrc/resp -Ifuzz)
clang-14 "${flags[@]}" -fsanitize=fuzzer -o "$out/fuzz_$t" "fuzz/fuzz_$t.c" src/lsm/*.c \
    src/resp/parser.c src/util.c -pthread -llz4 -lm
existing=()
for d in "${dirs[@]}"; do [ -d "$d" ] && existing+=("$d"); done
LLVM_PROFILE_FILE="$out/$t.profraw" "$out/fuzz_$t" -runs=0 "${existing[@]}" > "$out/$t.log" 2>&1
llvm-profdata-14 merge -sparse "$out/$t.profraw" -o "$out/$t.profdata"
llvm-cov-14 report "$out/fuzz_$t" -instr-profile="$out/$t.profdata" "${files[@]}"
