#!/usr/bin/env bash
# run-engine-bench.sh BUILD_BENCH_DIR - the Kevo engine vs RocksDB's db_bench, same workloads,
# same settings, same machine, same run; prints a table.
#
#   bash bench/run-engine-bench.sh build/bench          (what `make bench-engine` runs)
#
# Knobs (environment): NUM (1000000 entries), BLOCK_SIZE (4096, db_bench's default),
# L1_BYTES (268435456, db_bench's default max_bytes_for_level_base), COMMIT_EVERY (1),
# SKIP_ROCKSDB=1, DB_BENCH (path of db_bench; default: from PATH), BENCH_TMP (parent of the
# temp DB dirs; default $TMPDIR or /tmp), OUT (file for the raw logs + table; default
# BUILD_BENCH_DIR/engine-bench-last.txt).
#
# Settings, identical for both engines: 16-byte keys, 100-byte values generated with
# compression ratio 0.5 (db_bench's generator), lz4, 64 MiB block cache, 10 bloom bits/key,
# 64 MiB memtable (write_buffer_size) x 2 (max_write_buffer_number = 1 active + 1 immutable),
# 64 MiB target files, L1 max bytes L1_BYTES, level multiplier 10, L0 compaction trigger 4,
# BLOCK_SIZE blocks, WAL on, no sync, one thread.
# Kevo commits (one WAL write()) after every COMMIT_EVERY puts (1 = after each put, as a server
# serving one client does); RocksDB with --sync=0 --disable_wal=0 does one WAL write per Put too.
#
# Both engines run the SAME four phases, each a separate process (alternating between the
# engines phase by phase):
#   1. fillseq,waitforcompaction          fresh DB "seq"
#   2. fillrandom,waitforcompaction       fresh DB "rand"
#   3. overwrite,waitforcompaction        DB "rand" reopened (use_existing_db=1)
#   4. readrandom,readseq,seekrandom      DB "rand" reopened: the read workloads see the state
#      left by fillrandom+overwrite after its compactions settled; the memtable left unflushed
#      at the end of phase 3 is recovered from the WAL when phase 4 opens the DB.
# Each phase gets its own random seed (same seeds for both engines; key sequences differ
# between the engines' generators, the distributions are the same: uniform over [0, NUM)).
# Ops/s are of the workload alone (waitforcompaction is not timed).
# Write amplification of a write phase = (flush + compaction bytes written during the phase,
# including the waitforcompaction that follows it) / (NUM x (16 + 100)) user bytes.
# RocksDB's bytes come from --statistics (rocksdb.flush.write.bytes +
# rocksdb.compact.write.bytes), Kevo's from lsm_get_stats (flush_bytes_written +
# compaction_bytes_written).
set -uo pipefail

BENCH_DIR=${1:-build/bench}
NUM=${NUM:-1000000}
BLOCK_SIZE=${BLOCK_SIZE:-4096}
L1_BYTES=${L1_BYTES:-268435456}
COMMIT_EVERY=${COMMIT_EVERY:-1}
OUT=${OUT:-$BENCH_DIR/engine-bench-last.txt}
KEVO_BENCH=$BENCH_DIR/engine_bench
DB_BENCH=${DB_BENCH:-$(command -v db_bench || true)}
[ "${SKIP_ROCKSDB:-0}" = 1 ] && DB_BENCH=

if [ ! -x "$KEVO_BENCH" ]; then
  echo "run-engine-bench: $KEVO_BENCH not built (make bench-engine builds it)" >&2
  exit 1
fi

TMP=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/kevo-engine-bench.XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

COMMON=(--num="$NUM" --key_size=16 --value_size=100 --compression_ratio=0.5
        --compression_type=lz4 --cache_size=67108864 --bloom_bits=10
        --write_buffer_size=67108864 --max_write_buffer_number=2 --block_size="$BLOCK_SIZE"
        --target_file_size_base=67108864 --max_bytes_for_level_base="$L1_BYTES"
        --max_bytes_for_level_multiplier=10 --level0_file_num_compaction_trigger=4
        --sync=0 --seek_nexts=10)
PHASES=("fillseq,waitforcompaction" "fillrandom,waitforcompaction"
        "overwrite,waitforcompaction" "readrandom,readseq,seekrandom")
PHASE_DB=(seq rand rand rand)
PHASE_EXISTING=(0 0 1 1)
PHASE_SEED=(1001 2002 3003 4004)

: > "$OUT"
log() { echo "$@" | tee -a "$OUT"; }

log "== engine bench: NUM=$NUM block=$BLOCK_SIZE L1=$L1_BYTES commit_every=$COMMIT_EVERY $(date -u +%FT%TZ) on $(nproc) cores"
declare -A K_OPS K_WAMP R_OPS R_WAMP K_FOUND R_FOUND

run_kevo() {
  local i=$1
  {
    log "-- kevo phase $((i+1)): ${PHASES[$i]}"
    local out
    out=$(nice -n 10 "$KEVO_BENCH" "${COMMON[@]}" --commit_every="$COMMIT_EVERY" \
          --benchmarks="${PHASES[$i]}" --db="$TMP/kevo-${PHASE_DB[$i]}" \
          --use_existing_db="${PHASE_EXISTING[$i]}" --seed="${PHASE_SEED[$i]}" 2>&1)
    local rc=$?
    echo "$out" >> "$OUT"
    if [ $rc -ne 0 ]; then
      log "kevo phase $((i+1)) FAILED (exit $rc):"; echo "$out" | tail -5
      return 1
    fi
    # the last RESULT line of each workload wins (after waitforcompaction it includes the
    # background work the workload caused)
    while read -r _ name rest; do
      K_OPS[$name]=$(sed -n 's/.*ops_per_sec=\([0-9.]*\).*/\1/p' <<<"$rest")
      K_WAMP[$name]=$(sed -n 's/.*wamp=\([0-9.]*\).*/\1/p' <<<"$rest")
      K_FOUND[$name]=$(sed -n 's/.*found=\([0-9]*\).*/\1/p' <<<"$rest")
    done < <(grep '^RESULT ' <<<"$out")
    grep -E 'micros/op|^levels' <<<"$out" | sed 's/^/   /'
  }
}

run_rocksdb() {
  local i=$1
  {
    log "-- rocksdb phase $((i+1)): ${PHASES[$i]}"
    local out
    out=$(nice -n 10 "$DB_BENCH" "${COMMON[@]}" --disable_wal=0 --threads=1 --statistics=1 \
          --benchmarks="${PHASES[$i]}" --db="$TMP/rocks-${PHASE_DB[$i]}" \
          --use_existing_db="${PHASE_EXISTING[$i]}" --seed="${PHASE_SEED[$i]}" 2>&1)
    local rc=$?
    echo "$out" >> "$OUT"
    if [ $rc -ne 0 ]; then
      log "rocksdb phase $((i+1)) FAILED (exit $rc):"; echo "$out" | tail -5
      return 1
    fi
    while read -r name ops found; do
      R_OPS[$name]=$ops
      R_FOUND[$name]=$found
    done < <(awk '$2 == ":" && /ops\/sec/ {
                 ops = ""; found = "";
                 for (i = 1; i <= NF; i++) { if ($i == "ops/sec") ops = $(i-1);
                                             if ($i == "of" && $(i-1) ~ /^\(/) found = substr($(i-1), 2);
                                             if ($i == "operations;" && $1 == "readseq") found = $(i-1) }
                 print $1, ops, found }' <<<"$out")
    local name=${PHASES[$i]%%,*}
    case $name in fill*|overwrite)
      local fb cb
      fb=$(awk '$1 == "rocksdb.flush.write.bytes" {print $4}' <<<"$out")
      cb=$(awk '$1 == "rocksdb.compact.write.bytes" {print $4}' <<<"$out")
      R_WAMP[$name]=$(awk -v f="${fb:-0}" -v c="${cb:-0}" -v n="$NUM" \
                      'BEGIN { printf "%.3f", (f + c) / (n * 116) }')
      ;;
    esac
    grep -E 'micros/op' <<<"$out" | sed 's/^/   /'
  }
}

# Phases alternate between the engines (kevo 1, rocksdb 1, kevo 2, ...) so that load from
# other processes on a shared machine hits both alike.
kevo_ok=1; rocks_ok=0
if [ -n "$DB_BENCH" ]; then
  log "(RocksDB: $("$DB_BENCH" --version 2>&1 | head -1))"
  rocks_ok=1
else
  log "(db_bench not found: RocksDB column skipped; apt-get install rocksdb-tools)"
fi
for i in 0 1 2 3; do
  [ $kevo_ok = 1 ] && { run_kevo $i || kevo_ok=0; }
  [ -n "$DB_BENCH" ] && [ $rocks_ok = 1 ] && { run_rocksdb $i || rocks_ok=0; }
done

log ""
log "NUM=$NUM, 16-byte keys, 100-byte values (ratio 0.5), lz4, 64 MiB cache, 10 bloom bits, 64 MiB memtable, WAL on, no sync"
printf '%-12s %14s %14s %8s %9s %9s  %s\n' workload "RocksDB ops/s" "Kevo ops/s" "Kevo/RDB" \
       "RDB w-amp" "Kevo w-amp" "found (RDB/Kevo)" | tee -a "$OUT"
for w in fillseq fillrandom overwrite readrandom readseq seekrandom; do
  r=${R_OPS[$w]:--}; k=${K_OPS[$w]:--}
  ratio=-
  if [[ $r =~ ^[0-9.]+$ && $k =~ ^[0-9.]+$ ]] && [ "$r" != 0 ]; then
    ratio=$(awk -v a="$k" -v b="$r" 'BEGIN { printf "%.2f", a / b }')
  fi
  rw=${R_WAMP[$w]:--}; kw=${K_WAMP[$w]:--}
  case $w in read*|seek*) rw=-; kw=- ;; esac
  found="${R_FOUND[$w]:--}/${K_FOUND[$w]:--}"
  case $w in fill*|overwrite) found= ;; esac
  printf '%-12s %14s %14s %8s %9s %9s  %s\n' "$w" "$r" "$k" "$ratio" "$rw" "$kw" "$found" \
    | tee -a "$OUT"
done
log "(raw output: $OUT)"
[ $kevo_ok = 1 ] || exit 1
[ -z "$DB_BENCH" ] || [ $rocks_ok = 1 ] || exit 1
exit 0
