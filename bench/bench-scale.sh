#!/usr/bin/env bash
# bench-scale.sh - Kevo with a data set several times larger than its memory: load, disk-bound
# and skewed reads, latency isolation, space reclaim, latency under compaction, restart times
# and big collections, next to fio and RocksDB's db_bench on the same disk in the same run.
#
#   make bench-scale                          (builds kevo-server + build/bench/getload, runs this)
#   SIZE=200000 MEMORY=200M DURATION=5 make bench-scale          (smoke run, a few minutes)
#   bash bench/bench-scale.sh                 (SERVER=, GETLOAD= name the binaries)
#
# Knobs (environment):
#   SIZE (4500000 keys)  VALUE (1024 bytes, random: incompressible)  CLIENTS (50)
#   MEMORY (700M: limit of the server's memory cgroup, its page cache included; "none" = no limit)
#   DURATION (30 s per read phase)  READ_ROUNDS (2: the read phases are run this many times)
#   BLOCK_CACHE, MEMTABLE (the server's block-cache-size and memtable-size: 256mb and 64mb, the
#     defaults, when MEMORY >= 700M; below, 3/8 and 1/12 of MEMORY, so that cache + 3 memtables
#     leave room for the page cache)
#   READ_BLOCK_CACHE, READ_MEMTABLE (the same for the servers of the read phases, 2 and 3: a
#     server configured for reads gives the memory to its cache: MEMORY - 140 MB and 8mb when
#     MEMORY >= 700M, else BLOCK_CACHE and MEMTABLE; cache + 3 memtables + ~80 MB of the rest of
#     the process stay within MEMORY, writes included)
#   CACHE_KEYS (50000: the in-cache key range [0, CACHE_KEYS), at most SIZE/10)
#   PROBE_RATE (1000 GET/s of the latency probe client)  BURST (20 s write burst, 8 clients)
#   SPACE_TIMEOUT (600 s), SPACE_IDLE (180 s: the space phase also stops once the engine has run
#     no flush or compaction and neither its table bytes nor DBSIZE moved for this long; 0 = never)
#   SETTLE_TIMEOUT (600 s: waiting for compactions after the load)
#   COLL_MEMBERS (1000000)  COLL_CALLS (300)  WAL_KEYS (50000 keys written before kill -9)
#   FIO=0 / DBBENCH=0 skip the fio / db_bench comparisons; FIO_SIZE (4G)  FIO_RUNTIME (20 s)
#   BENCH_TMP (/tmp: parent of the data directories)  KEEP=1 keeps them
#   OUT (/tmp/bench-scale-<date>: report.md, CSVs, plots, logs and every tool's raw output)
#
# Keys are key:%012d (16 bytes), ids [0, SIZE) loaded once each in a scattered order; the write
# burst writes ids [SIZE, 2*SIZE), the kill -9 test ids from 3*SIZE. The server runs with
# appendfsync no, binds 127.0.0.1 on a free port, and runs in a memory cgroup of MEMORY bytes
# (cgroup v1 memory controller, or v2) so its page cache is bounded too; without root or a
# memory controller it runs unbounded and the report says so. Every step is bounded in time;
# the exit trap ends every process the script started and removes the cgroup and temp dirs.
# Run order: fio, 1 load, db_bench, 2+3 reads (READ_ROUNDS rounds, the two disk-read-threads
# settings alternating, each on a fresh server with the page cache dropped), 5 write burst,
# 4 deletes/expiry and space, 6 restarts, 7 collections; the report lists sections 1-7 in order.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERVER=${SERVER:-$ROOT/build/kevo-server}
GETLOAD=${GETLOAD:-$ROOT/build/bench/getload}
PY=/usr/bin/python3
HELPER=$ROOT/bench/scale.py

SIZE=${SIZE:-4500000}
VALUE=${VALUE:-1024}
CLIENTS=${CLIENTS:-50}
MEMORY=${MEMORY:-700M}
DURATION=${DURATION:-30}
BLOCK_CACHE=${BLOCK_CACHE:-}
MEMTABLE=${MEMTABLE:-}
READ_BLOCK_CACHE=${READ_BLOCK_CACHE:-}
READ_MEMTABLE=${READ_MEMTABLE:-}
CACHE_KEYS=${CACHE_KEYS:-50000}
PROBE_RATE=${PROBE_RATE:-1000}
BURST=${BURST:-20}
SPACE_TIMEOUT=${SPACE_TIMEOUT:-600}
SPACE_IDLE=${SPACE_IDLE:-180}
SETTLE_TIMEOUT=${SETTLE_TIMEOUT:-600}
COLL_MEMBERS=${COLL_MEMBERS:-1000000}
COLL_CALLS=${COLL_CALLS:-300}
WAL_KEYS=${WAL_KEYS:-50000}
FIO=${FIO:-1}
DBBENCH=${DBBENCH:-1}
FIO_SIZE=${FIO_SIZE:-4G}
FIO_RUNTIME=${FIO_RUNTIME:-20}
BENCH_TMP=${BENCH_TMP:-/tmp}
KEEP=${KEEP:-0}
OUT=${OUT:-/tmp/bench-scale-$(date +%Y%m%d-%H%M%S)}
READ_ROUNDS=${READ_ROUNDS:-2}
KEYLEN=16
READ_THREADS=(32 0)

[ "$CACHE_KEYS" -gt $((SIZE / 10)) ] && CACHE_KEYS=$((SIZE / 10))
HOT_HI=$((SIZE / 10))

# ------------------------------------------------------------------------------ checks
missing=()
for t in redis-cli:redis-tools fio:fio db_bench:rocksdb-tools gnuplot:gnuplot-nox \
         numfmt:coreutils timeout:coreutils setsid:util-linux; do
  command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
[ -x "$PY" ] || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-scale: missing tools; install them with: apt-get install ${missing[*]}" >&2
  exit 2
fi
for b in "$SERVER" "$GETLOAD"; do
  if [ ! -x "$b" ]; then
    echo "bench-scale: $b not built (make bench-scale builds kevo-server and build/bench/getload)" >&2
    exit 2
  fi
done
mkdir -p "$BENCH_TMP" "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
DATA_BYTES=$((SIZE * (VALUE + KEYLEN)))
FIO_BYTES=0
[ "$FIO" = 1 ] && FIO_BYTES=$(v=${FIO_SIZE^^}; numfmt --from=iec "${v%B}")
# Kevo's directory peaks at ~1.6x the data (space amplification + compaction outputs not yet
# swapped in), db_bench's likewise while both exist; fio's file is removed before the load.
NEED=$((DATA_BYTES * 16 / 10 + (DBBENCH == 1 ? DATA_BYTES * 16 / 10 : 0) + 2 * 1024 * 1024 * 1024))
[ "$FIO_BYTES" -gt "$NEED" ] && NEED=$FIO_BYTES
AVAIL=$(df -P -B1 "$BENCH_TMP" | awk 'NR == 2 { print $4 }')
if [ "$AVAIL" -lt "$NEED" ]; then
  echo "bench-scale: $BENCH_TMP has $((AVAIL >> 30)) GiB free, this run needs ~$((NEED >> 30)) GiB" \
       "(SIZE=$SIZE x $((VALUE + KEYLEN)) bytes); free space, lower SIZE or set BENCH_TMP" >&2
  exit 2
fi

TMPD=$(mktemp -d "$BENCH_TMP/kevo-scale.XXXXXX") || exit 2
DATA=$TMPD/data
REPORT=$OUT/report.md
mkdir -p "$OUT/reads" "$OUT/logs"
rm -f "$OUT"/logs/report-[0-9].md "$REPORT"
T_START=$EPOCHREALTIME

# ------------------------------------------------------------------ process bookkeeping
PIDS=()      # process groups started with setsid (helpers, load generators, db_bench, fio)
SPID=        # the server
CG=          # memory cgroup dir
CG_KIND=none
CG_MEMFILE=

note() { printf '[%s %5ss] %s\n' "$(date +%T)" "$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN{printf "%d", b-a}')" "$*" >&2; }
SEC=0   # report section being written; sections are written in run order, assembled in number order
rep() { printf '%s\n' "$*" >> "$OUT/logs/report-$SEC.md"; }
assemble() { cat "$OUT"/logs/report-[0-9].md > "$REPORT" 2>/dev/null; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  assemble
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
    kill -TERM "$SPID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SPID" 2>/dev/null
  fi
  for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "$CG" ] && [ -d "$CG" ]; then
    for _ in $(seq 50); do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
    [ -d "$CG" ] && echo "bench-scale: could not remove cgroup $CG" >&2
  fi
  if [ "$KEEP" = 1 ]; then
    echo "bench-scale: data kept in $TMPD" >&2
  else
    rm -rf "$TMPD"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_bg LIMIT_SECONDS OUTFILE CMD...: a bounded command in its own process group, waited for
# in the background so that a signal reaches the trap at once; returns its status.
run_bg() {
  local limit=$1 out=$2; shift 2
  setsid timeout -k 10 "$limit" "$@" > "$out" 2>&1 &
  local p=$!
  PIDS+=("$p")
  wait "$p"
  local rc=$?
  forget "$p"
  return $rc
}
forget() { local q keep=(); for q in "${PIDS[@]}"; do [ "$q" = "$1" ] || keep+=("$q"); done; PIDS=("${keep[@]}"); }
# start_bg LIMIT OUTFILE CMD...: the same, not waited for; sets BGPID
start_bg() {
  local limit=$1 out=$2; shift 2
  setsid timeout -k 10 "$limit" "$@" > "$out" 2>&1 &
  BGPID=$!
  PIDS+=("$BGPID")
}
wait_bg() { wait "$1"; local rc=$?; forget "$1"; return $rc; }

kv() { tr ' ' '\n' < "$1" | awk -F= -v k="$2" '$1 == k { v = $2 } END { print v }'; }
kvl() { grep "^$2" "$1" | tr ' ' '\n' | awk -F= -v k="$3" '$1 == k { v = $2 } END { print v }'; }
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }
fmt() { if [[ ${1:-} =~ ^[0-9.]+$ ]]; then printf '%.0f' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; else printf '%s' "${1:--}"; fi; }
bytes() { local v=${1^^}; numfmt --from=iec "${v%B}"; }
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------------- memory cgroup
MEM_BYTES=0
case ${MEMORY,,} in none|0|"") ;; *) MEM_BYTES=$(bytes "$MEMORY") ;; esac
if [ "$MEM_BYTES" -gt 0 ] && [ "$MEM_BYTES" -lt $((700 << 20)) ]; then
  : "${BLOCK_CACHE:=$((MEM_BYTES * 3 / 8 >> 20))mb}" "${MEMTABLE:=$((MEM_BYTES / 12 >> 20))mb}"
fi
: "${BLOCK_CACHE:=256mb}" "${MEMTABLE:=64mb}"
if [ "$MEM_BYTES" -ge $((700 << 20)) ]; then
  : "${READ_BLOCK_CACHE:=$(((MEM_BYTES >> 20) - 140))mb}" "${READ_MEMTABLE:=8mb}"
fi
: "${READ_BLOCK_CACHE:=$BLOCK_CACHE}" "${READ_MEMTABLE:=$MEMTABLE}"
cgroup_setup() {
  [ "$MEM_BYTES" -gt 0 ] || { CG_MSG="no memory limit (MEMORY=$MEMORY)"; return; }
  if [ "$(id -u)" != 0 ]; then
    CG_MSG="NOT ROOT: no memory cgroup, the server runs without a memory limit and its page cache is the machine's (reads are not disk-bound as intended)"
    return
  fi
  if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
    CG=/sys/fs/cgroup/memory/kevo-bench-$$
    if mkdir "$CG" && echo "$MEM_BYTES" > "$CG/memory.limit_in_bytes"; then
      CG_KIND=v1; CG_MEMFILE=$CG/memory.usage_in_bytes
      CG_MSG="cgroup v1 memory controller: $CG, memory.limit_in_bytes=$MEM_BYTES (page cache included)"
      return
    fi
    rmdir "$CG" 2>/dev/null; CG=
  fi
  local base
  for base in /sys/fs/cgroup /sys/fs/cgroup/unified; do
    if [ -f "$base/cgroup.controllers" ] && grep -qw memory "$base/cgroup.controllers"; then
      grep -qw memory "$base/cgroup.subtree_control" 2>/dev/null || echo +memory > "$base/cgroup.subtree_control" 2>/dev/null
      CG=$base/kevo-bench-$$
      if mkdir "$CG" && echo "$MEM_BYTES" > "$CG/memory.max"; then
        echo 0 > "$CG/memory.swap.max" 2>/dev/null
        CG_KIND=v2; CG_MEMFILE=$CG/memory.current
        CG_MSG="cgroup v2: $CG, memory.max=$MEM_BYTES (page cache included)"
        return
      fi
      rmdir "$CG" 2>/dev/null; CG=
    fi
  done
  CG_MSG="NO MEMORY CGROUP AVAILABLE (neither v1 memory nor v2 with the memory controller): the server runs without a memory limit, its page cache is the machine's (reads are not disk-bound as intended)"
}
cg_oom_kills() {
  case $CG_KIND in
    v1) awk '$1 == "oom_kill" { print $2 }' "$CG/memory.oom_control" 2>/dev/null ;;
    v2) awk '$1 == "oom_kill" { print $2 }' "$CG/memory.events" 2>/dev/null ;;
    *) echo - ;;
  esac
}
cg_peak() {
  case $CG_KIND in
    v1) cat "$CG/memory.max_usage_in_bytes" ;;
    v2) cat "$CG/memory.peak" 2>/dev/null || echo - ;;
    *) echo - ;;
  esac
}
# "${CGWRAP[@]}" CMD...: CMD inside the cgroup (a shell moves itself in, then execs CMD)
CGWRAP=()
drop_caches() {
  if [ "$(id -u)" = 0 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; else note "not root: page cache NOT dropped"; fi
}

# ----------------------------------------------------------------------------- server
PORT=
SERVER_LOG=
NSTART=0
START_MS=
# start_server THREADS [CACHE MEMTABLE]: start kevo-server on DATA inside the cgroup (block-cache-size
# and memtable-size BLOCK_CACHE and MEMTABLE unless given), wait for its PING (up to 900 s: a WAL
# replay); START_MS = launch to first PING answered
start_server() {
  local threads=$1 cache=${2:-$BLOCK_CACHE} memtable=${3:-$MEMTABLE}
  NSTART=$((NSTART + 1))
  PORT=$(free_port)
  SERVER_LOG=$OUT/logs/server-$NSTART.log
  local t0=$EPOCHREALTIME
  "${CGWRAP[@]}" "$SERVER" --port "$PORT" --bind 127.0.0.1 --dir "$DATA" --appendfsync no \
    --block-cache-size "$cache" --memtable-size "$memtable" --disk-read-threads "$threads" \
    --logfile "$SERVER_LOG" > /dev/null 2>&1 &
  SPID=$!
  local n=0
  until redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG; do
    if ! kill -0 "$SPID" 2>/dev/null; then
      note "server failed to start (log: $SERVER_LOG)"; tail -5 "$SERVER_LOG" >&2; SPID=; return 1
    fi
    n=$((n + 1))
    [ $n -gt 90000 ] && { note "server not answering after 900 s"; return 1; }
    sleep 0.01
  done
  START_MS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
  note "server #$NSTART up (pid $SPID, port $PORT, disk-read-threads $threads) in $START_MS ms"
}
# stop_server [SIGNAL]: SIGTERM (default) or KILL; STOP_MS = signal to exit
STOP_MS=
stop_server() {
  local sig=${1:-TERM}
  [ -n "$SPID" ] || return 0
  local t0=$EPOCHREALTIME
  if [ "$sig" = KILL ]; then  # waited for at once: no "Killed" notice from the shell
    { kill -KILL "$SPID" && wait "$SPID"; } 2>/dev/null
  fi
  kill -"$sig" "$SPID" 2>/dev/null
  local n=0
  while kill -0 "$SPID" 2>/dev/null; do
    n=$((n + 1))
    if [ $n -gt 3000 ]; then note "server still running 300 s after SIG$sig: KILL"; kill -KILL "$SPID"; fi
    sleep 0.1
  done
  wait "$SPID" 2>/dev/null
  STOP_MS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
  SPID=
}
alive() { [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; }
info() { redis-cli -p "$PORT" info 2>/dev/null | tr -d '\r'; }
snap() { info > "$1"; awk '$1 == "read_bytes:" { print "proc_read_bytes:" $2 }' "/proc/$SPID/io" >> "$1" 2>/dev/null; }
fld() { awk -F: -v k="$2" '$1 == k { print $2 }' "$1"; }
delta() { awk -v a="$(fld "$1" "$3")" -v b="$(fld "$2" "$3")" 'BEGIN { printf "%.0f", b - a }'; }
rss_mb() { awk '$1 == "VmRSS:" { printf "%.0f", $2 / 1024 }' "/proc/$SPID/status" 2>/dev/null; }
# settle: SAVE (memtable -> SSTable), then wait until no flush or compaction runs or is pending
settle() {
  local limit=$1 t0=$EPOCHREALTIME
  SETTLED=yes
  redis-cli -p "$PORT" save > /dev/null
  while :; do
    info > "$OUT/logs/settle.info"
    if [ "$(fld "$OUT/logs/settle.info" lsm_pending_compaction_bytes)" = 0 ] &&
       [ "$(fld "$OUT/logs/settle.info" lsm_running_compactions)" = 0 ] &&
       [ "$(fld "$OUT/logs/settle.info" lsm_running_flushes)" = 0 ] &&
       [ "$(fld "$OUT/logs/settle.info" lsm_immutable_memtables)" = 0 ]; then
      break
    fi
    awk -v a="$t0" -v b="$EPOCHREALTIME" -v l="$limit" 'BEGIN { exit !(b - a > l) }' && { SETTLED=no; break; }
    sleep 1
  done
  SETTLE_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
}

cgroup_setup
[ -n "$CG" ] && CGWRAP=(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG")
note "$CG_MSG"
note "output: $OUT, data: $TMPD"
note "SIZE=$SIZE VALUE=$VALUE CLIENTS=$CLIENTS MEMORY=$MEMORY DURATION=$DURATION BLOCK_CACHE=$BLOCK_CACHE MEMTABLE=$MEMTABLE READ_BLOCK_CACHE=$READ_BLOCK_CACHE READ_MEMTABLE=$READ_MEMTABLE"

GIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
rep "# Kevo at scale (bench/bench-scale.sh)"
rep ""
rep "$(date -u +%FT%TZ), kevo $GIT, $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM,"
rep "load average at start: $(cut -d' ' -f1-3 /proc/loadavg), data on $(df -P "$BENCH_TMP" | awk 'NR == 2 { print $1 }') ($BENCH_TMP)."
rep "SIZE=$SIZE keys key:%012d ($KEYLEN bytes), VALUE=$VALUE random bytes (incompressible), CLIENTS=$CLIENTS,"
rep "MEMORY=$MEMORY, DURATION=$DURATION s, server: appendfsync no, block-cache-size $BLOCK_CACHE, memtable-size $MEMTABLE"
rep "(sections 2 and 3, the reads: block-cache-size $READ_BLOCK_CACHE, memtable-size $READ_MEMTABLE),"
rep "other options default (disk-read-threads as given per phase; 32 is the default; disk-read-uring yes, the default:"
rep "with threads > 0 the loop submits point lookups' block reads through io_uring, the threads take the rest)."
rep "Memory bound: $CG_MSG."
rep "User data: $(calc %.2f "$DATA_BYTES / 1e9") GB. Raw data, logs and CSVs: $OUT."
rep "Run order: fio, 1, db_bench, 2+3, 5, 4, 6, 7 (the write burst runs before the deletes, so that the"
rep "server's reaping of expired keys does not mix into its figures)."
rep ""

# ============================================================================ fio
FIO_QD1=- FIO_QD32=- FIO_QD32_8K=- FIO_QD1_LAT=- FIO_QD32_LAT=-
if [ "$FIO" = 1 ]; then
  note "fio: $FIO_SIZE file in $TMPD, random 4k reads, O_DIRECT, QD1 and QD32, $FIO_RUNTIME s each"
  fio_run() { # name bs qd
    run_bg $((FIO_RUNTIME + 900)) "$OUT/fio-$1.json" fio --name="$1" --filename="$TMPD/fio.dat" \
      --rw=randread --bs="$2" --direct=1 --ioengine=libaio --iodepth="$3" --runtime="$FIO_RUNTIME" \
      --time_based --size="$FIO_SIZE" --output-format=json
  }
  fio_iops() { $PY -c 'import json,sys; j=json.load(open(sys.argv[1])); r=j["jobs"][0]["read"]; print("%.0f %.0f" % (r["iops"], r["clat_ns"]["percentile"].get("99.000000", 0) / 1000))' "$1" 2>/dev/null; }
  fio_run qd1 4k 1 && read -r FIO_QD1 FIO_QD1_LAT < <(fio_iops "$OUT/fio-qd1.json")
  fio_run qd32 4k 32 && read -r FIO_QD32 FIO_QD32_LAT < <(fio_iops "$OUT/fio-qd32.json")
  fio_run qd32-8k 8k 32 && read -r FIO_QD32_8K _ < <(fio_iops "$OUT/fio-qd32-8k.json")
  rm -f "$TMPD/fio.dat"
  note "fio: QD1 $FIO_QD1 IOPS, QD32 $FIO_QD32 IOPS (4k), QD32 8k $FIO_QD32_8K IOPS"
fi

# ============================================================================ 1. load
SEC=1
note "1. load: $SIZE keys x $VALUE bytes"
start_server 32 || exit 1
run_bg 7200 "$OUT/load.txt" $PY "$HELPER" load --port "$PORT" --pid "$SPID" --size "$SIZE" \
  --value "$VALUE" --conns 4 --csv "$OUT/load.csv" --memfile "$CG_MEMFILE"
LOAD_RC=$?
cat "$OUT/load.txt" >&2
snap "$OUT/logs/after-load.info"
settle "$SETTLE_TIMEOUT"
snap "$OUT/logs/after-settle.info"
DBSIZE=$(redis-cli -p "$PORT" dbsize)
du_data() { du -sb "$DATA" | cut -f1; }
DU_LOAD=$(du_data)
L_KEYS_S=$(kv "$OUT/load.txt" keys_per_s); L_SECS=$(kv "$OUT/load.txt" secs)
wamp() { calc %.2f "($(fld "$1" lsm_flush_bytes_written) + $(fld "$1" lsm_compaction_bytes_written)) / $DATA_BYTES"; }
K_WAMP_END=$(wamp "$OUT/logs/after-load.info")
K_WAMP=$(wamp "$OUT/logs/after-settle.info")
K_SST=$(fld "$OUT/logs/after-settle.info" lsm_total_sst_bytes)
K_SAMP=$(calc %.2f "$K_SST / $DATA_BYTES")
note "load: $L_KEYS_S keys/s, w-amp $K_WAMP_END at the end, $K_WAMP settled ($SETTLE_S s), space amp $K_SAMP"
levels=$(grep -E '^lsm_level[0-9]+_(files|bytes)' "$OUT/logs/after-settle.info" |
         awk -F: '{ split($1, a, "_"); l = substr(a[2], 6); if (a[3] == "files") f[l] = $2; else b[l] = $2 }
                  END { for (l = 0; l in f; l++) if (f[l] > 0) { printf "%sL%d %d files %.0f MB", s, l, f[l], b[l] / 1048576; s = ", " } }')
stop_server

# ------------------------------------------------------------------------- db_bench
R_OPS=- R_WAMP=- R_SAMP=- R_STALL=- R_SECS=-
if [ "$DBBENCH" = 1 ]; then
  note "db_bench fillrandom, same sizes, same memory limit"
  mkdir -p "$TMPD/rocksdb"
  run_bg 7200 "$OUT/db_bench.txt" "${CGWRAP[@]}" db_bench --benchmarks=fillrandom,flush,waitforcompaction,stats,levelstats \
    --db="$TMPD/rocksdb" --num="$SIZE" --key_size=$KEYLEN --value_size="$VALUE" --compression_ratio=1.0 \
    --compression_type=lz4 --cache_size="$(bytes "$BLOCK_CACHE")" \
    --bloom_bits=10 --block_size=4096 --write_buffer_size="$(bytes "$MEMTABLE")" --max_write_buffer_number=3 \
    --target_file_size_base=67108864 --max_bytes_for_level_base=67108864 \
    --level0_file_num_compaction_trigger=4 --level0_slowdown_writes_trigger=20 --threads=1 \
    --sync=0 --disable_wal=0 --statistics=1 --seed=1 --report_interval_seconds=1 \
    --report_file="$OUT/db_bench-report.csv"
  if [ $? = 0 ]; then
    R_OPS=$(awk '$1 == "fillrandom" && /ops\/sec/ { for (i = 1; i <= NF; i++) if ($i == "ops/sec") print $(i-1) }' "$OUT/db_bench.txt" | head -1)
    [[ $R_OPS =~ ^[0-9.]+$ ]] && R_SECS=$(calc %.1f "$SIZE / $R_OPS") || R_OPS=-
    fb=$(awk '$1 == "rocksdb.flush.write.bytes" { print $4 }' "$OUT/db_bench.txt")
    cb=$(awk '$1 == "rocksdb.compact.write.bytes" { print $4 }' "$OUT/db_bench.txt")
    R_WAMP=$(calc %.2f "(${fb:-0} + ${cb:-0}) / $DATA_BYTES")
    R_STALL=$(awk '$1 == "rocksdb.stall.micros" { print $4 }' "$OUT/db_bench.txt")
    R_SST=$(find "$TMPD/rocksdb" -name '*.sst' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    R_SAMP=$(calc %.2f "$R_SST / $DATA_BYTES")
    R_STALLS_LINE=$(grep -m1 '^Cumulative stall' "$OUT/db_bench.txt" | tail -1)
  else
    note "db_bench failed (see $OUT/db_bench.txt)"
  fi
  rm -rf "$TMPD/rocksdb"
fi

# load plot
GP_DB=
[ -s "$OUT/db_bench-report.csv" ] && GP_DB=", '$OUT/db_bench-report.csv' using 1:2 with lines lw 2 title 'db_bench fillrandom ops/s'"
gnuplot > "$OUT/logs/gnuplot-load.txt" 2>&1 <<EOF
set terminal png size 1100,600
set output '$OUT/load.png'
set datafile separator ','
set datafile columnheaders
set termoption noenhanced
set title 'Load of $SIZE keys x $VALUE B (memory limit $MEMORY)'
set xlabel 'seconds'
set ylabel 'keys/s'
set y2label 'MB'
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key outside bottom center horizontal
plot '$OUT/load.csv' using 1:3 with lines lw 2 title 'Kevo SET/s' $GP_DB, \
     '$OUT/load.csv' using 1:4 axes x1y2 with lines title 'Kevo RSS (MB)', \
     '$OUT/load.csv' using 1:5 axes x1y2 with lines title 'cgroup usage incl. page cache (MB)'
EOF

rep "## 1. Load"
rep ""
rep "Kevo: \`bench/scale.py load\`, 4 connections (one process each), pipelines of 1000 SETs of"
rep "os.urandom values, every key written once in a scattered order. db_bench: \`fillrandom\` (keys drawn"
rep "with replacement, so ~63% distinct), 1 thread, same memory limit, lz4, $MEMTABLE memtables x 3,"
rep "64 MiB L1 and files, 4 KiB blocks (both), 10 bloom bits, no sync; ops/s of fillrandom alone; w-amp from"
rep "\`--statistics\` (rocksdb.flush.write.bytes + rocksdb.compact.write.bytes, after flush +"
rep "waitforcompaction). Kevo's w-amp from INFO (lsm_flush_bytes_written + lsm_compaction_bytes_written)"
rep "after SAVE and all compactions finished. Both over SIZE x (VALUE + 16) user bytes."
rep ""
rep "| | Kevo | db_bench (RocksDB $(db_bench --version 2>&1 | awk '{ print $NF }')) | Kevo/RocksDB |"
rep "|---|---:|---:|---:|"
rep "| keys/s (whole load) | $(fmt "$L_KEYS_S") | $(fmt "$R_OPS") | $([ "$R_OPS" != - ] && calc %.2f "$L_KEYS_S / $R_OPS" || echo -) |"
rep "| seconds | $L_SECS | $R_SECS | |"
rep "| write amplification | $K_WAMP (at the end of the load: $K_WAMP_END) | $R_WAMP | |"
rep "| space amplification (SST bytes / user bytes) | $K_SAMP | $R_SAMP (of ~63% distinct keys) | |"
rep "| write stalls | $(kvl "$OUT/load.txt" stall_count stall_count) stalls, $(calc %.1f "$(kvl "$OUT/load.txt" stall_count stall_micros) / 1e6") s in all | $([[ ${R_STALL:-} =~ ^[0-9]+$ ]] && calc %.1f "$R_STALL / 1e6" || echo -) s (rocksdb.stall.micros) | |"
rep ""
rep "Kevo: DBSIZE $DBSIZE after the load (expected $SIZE); peak RSS $(kv "$OUT/load.txt" peak_rss_mb) MB; peak cgroup usage"
rep "(page cache included) $(kv "$OUT/load.txt" peak_cgroup_mb) MB; longest stall time accrued within one 1-s sample"
rep "$(kv "$OUT/load.txt" max_stall_ms_in_1s) ms (INFO has no longest-stall field); slowest pipeline of 1000 SETs as a"
rep "client saw it: $(kv "$OUT/load.txt" max_batch_ms) ms; seconds with no SET acknowledged: $(kv "$OUT/load.txt" zero_progress_secs)."
rep "CPU during the load (2 cores): kevo-server $(kvl "$OUT/load.txt" cpu server_cores) cores (its loop thread $(kvl "$OUT/load.txt" cpu server_main_thread_cores), the rest flushes"
rep "and compactions), the Python loader $(kvl "$OUT/load.txt" cpu loader_cores) cores; db_bench has no client, protocol or server in its figure."
rep "SAVE + compactions settling after the load: $SETTLE_S s (settled: $SETTLED). Levels: $levels"
rep "du of the data dir: $(calc %.2f "$DU_LOAD / 1e9") GB. ${R_STALLS_LINE:+db_bench: $R_STALLS_LINE}"
rep "Per-second samples: load.csv."
rep ""
rep "![throughput and memory during the load](load.png)"
rep ""
[ "$LOAD_RC" = 0 ] || rep "**The load reported errors (exit $LOAD_RC): see load.txt.**"

# ============================================================================ 2+3. reads
# read_phase NAME THREADS GETLOAD-ARGS...: one getload run, INFO / io deltas around it
declare -A RES
read_phase() {
  local name=$1 t=$2; shift 2
  local f=$OUT/reads/$name-t$t
  snap "$f.before"
  run_bg $((DURATION + 120)) "$f.txt" "$GETLOAD" -p "$PORT" "$@"
  snap "$f.after"
  local h m
  h=$(delta "$f.before" "$f.after" lsm_cache_hits); m=$(delta "$f.before" "$f.after" lsm_cache_misses)
  RES[$name/$t/ops]=$(kv "$f.txt" ops_per_s)
  RES[$name/$t/p50]=$(kv "$f.txt" p50_us)
  RES[$name/$t/p99]=$(kv "$f.txt" p99_us)
  RES[$name/$t/p999]=$(kv "$f.txt" p999_us)
  RES[$name/$t/max]=$(kv "$f.txt" max_us)
  RES[$name/$t/miss]=$(kv "$f.txt" misses)
  RES[$name/$t/hit]=$(calc %.1f "($h + $m) > 0 ? 100 * $h / ($h + $m) : 0")
  # blocks read from disk per GET: the loop's io_uring reads, or (threads 0) the misses read in place
  local g rd
  g=$(delta "$f.before" "$f.after" lsm_gets)
  if [ "$t" = 0 ]; then rd=$m; else rd=$(delta "$f.before" "$f.after" lsm_uring_block_reads); fi
  RES[$name/$t/rpg]=$(calc %.2f "$g > 0 ? $rd / $g : 0")
  RES[$name/$t/rss]=$(rss_mb)
  RES[$name/$t/diskmb]=$(calc %.1f "$(delta "$f.before" "$f.after" proc_read_bytes) / 1048576 / $DURATION")
  RES[$name/$t/wait]=$(delta "$f.before" "$f.after" disk_wait_commands)
  RES[$name/$t/load]=$(cut -d' ' -f1 /proc/loadavg)
  note "  $name (threads $t): ${RES[$name/$t/ops]} GET/s p99 ${RES[$name/$t/p99]} us, cache hits ${RES[$name/$t/hit]}%, ${RES[$name/$t/rpg]} block reads/GET, RSS ${RES[$name/$t/rss]} MB, disk ${RES[$name/$t/diskmb]} MB/s"
}
GL=(-c "$CLIENTS" -d "$DURATION" -n "$SIZE")
PROBE=(-c 1 -r "$PROBE_RATE" -d "$DURATION" --dist range --lo 0 --hi 16)
# The machine's share of the probe's latency: an idle redis-server (no persistence, outside the
# cgroup) holding the probe's 16 keys gets the same probe, alone and under the same disk-bound
# load of Kevo. It serves nothing else, so what its p99 gains under the load is the 2-core
# machine's (the clients' and the server's wake-ups waiting for a CPU), not a server's work.
REF_PORT= REF_PID=
if command -v redis-server > /dev/null; then
  REF_PORT=$(free_port)
  start_bg 100000 "$OUT/logs/ref-redis.log" redis-server --port "$REF_PORT" --bind 127.0.0.1 \
    --save '' --appendonly no --daemonize no
  REF_PID=$BGPID
  for _ in $(seq 100); do redis-cli -p "$REF_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  run_bg 60 "$OUT/logs/ref-fill.txt" "$GETLOAD" -p "$REF_PORT" -t set -v "$VALUE" -c 1 -d 1 \
    --dist range --lo 0 --hi 16
  [ "$(redis-cli -p "$REF_PORT" dbsize 2>/dev/null)" = 16 ] || { note "reference redis-server: no 16 keys, skipped"; REF_PORT=; }
else
  note "no redis-server: the probe's machine reference is skipped"
fi
# ref_probe NAME THREADS GETLOAD-ARGS...: the probe against the idle reference server
ref_probe() {
  [ -n "$REF_PORT" ] || return 0
  local name=$1 t=$2 f=$OUT/reads/$1-t$2.txt; shift 2
  run_bg $((DURATION + 120)) "$f" "$GETLOAD" -p "$REF_PORT" "${PROBE[@]}" "$@"
  local k; for k in ops p50 p99 p999; do RES[$name/$t/$k]=$(kv "$f" "$( [ $k = ops ] && echo ops_per_s || echo ${k}_us)"); done
}
# run_group G THREADS X: one group of phases on a server just started with THREADS, caches dropped;
# X is the round's suffix of the phase names ("" in round 1, "@2" in round 2, ...)
run_group() {
  local g=$1 t=$2 x=$3
  case $g in
    uniform)
      # twice on one server: the 1st starts cold (every table's index and filter blocks are read
      # in as its first keys are looked up: the rate climbs for ~15 s), the 2nd is the steady
      # state, still disk-bound (reads/GET ~1: 6x more data than memory)
      read_phase "uniform1$x" "$t" "${GL[@]}" --dist uniform -s 11
      read_phase "uniform2$x" "$t" "${GL[@]}" --dist uniform -s 21 ;;
    skew)
      read_phase "skew1$x" "$t" "${GL[@]}" --dist skew --hot-lo 0 --hot-hi "$HOT_HI" --hot-pct 90 -s 12
      read_phase "skew2$x" "$t" "${GL[@]}" --dist skew --hot-lo 0 --hot-hi "$HOT_HI" --hot-pct 90 -s 13
      # side by side on this server: in-cache and warm skewed phases alternating, so that the
      # ratio does not depend on how the machine changed between two servers minutes apart
      read_phase "samecache$x" "$t" "${GL[@]}" --dist range --lo 0 --hi "$CACHE_KEYS" -s 19
      read_phase "sameskew$x" "$t" "${GL[@]}" --dist skew --hot-lo 0 --hot-hi "$HOT_HI" --hot-pct 90 -s 20
      read_phase "samecache2$x" "$t" "${GL[@]}" --dist range --lo 0 --hi "$CACHE_KEYS" -s 22 ;;
    cache)
      read_phase "cache1$x" "$t" "${GL[@]}" --dist range --lo 0 --hi "$CACHE_KEYS" -s 14
      read_phase "cache2$x" "$t" "${GL[@]}" --dist range --lo 0 --hi "$CACHE_KEYS" -s 15 ;;
    probe)
      run_bg 60 "$OUT/reads/probe-warm$x-t$t.txt" "$GETLOAD" -p "$PORT" -c 1 -d 1 --dist range --lo 0 --hi 16
      read_phase "probe-alone$x" "$t" "${PROBE[@]}" -s 16
      ref_probe "probe-ref-alone$x" "$t" -s 16
      # the disk-bound load lasts for both probes: Kevo's, then the idle reference server's
      local bgsecs=$((DURATION + 4)); [ -n "$REF_PORT" ] && bgsecs=$((2 * DURATION + 4))
      start_bg $((bgsecs + 120)) "$OUT/reads/probe-bg$x-t$t.txt" "$GETLOAD" -p "$PORT" -c "$CLIENTS" \
        -d "$bgsecs" -n "$SIZE" --dist uniform -s 17
      local bg=$BGPID
      sleep 2
      read_phase "probe-load$x" "$t" "${PROBE[@]}" -s 18
      ref_probe "probe-ref-load$x" "$t" -s 18
      wait_bg "$bg"
      RES[probe-bg$x/$t/ops]=$(kv "$OUT/reads/probe-bg$x-t$t.txt" ops_per_s)
      RES[probe-bg$x/$t/p99]=$(kv "$OUT/reads/probe-bg$x-t$t.txt" p99_us) ;;
  esac
}
# The two settings alternate group by group (which one goes first alternates too, and flips in
# the next round), each on a freshly started server with the page cache dropped, so that both see
# the same machine.
SEC=2
SFX=("")
for ((k = 2; k <= READ_ROUNDS; k++)); do SFX+=("@$k"); done
for ((k = 1; k <= READ_ROUNDS; k++)); do
  gi=0
  for g in uniform skew cache probe; do
    order=("${READ_THREADS[@]}")
    [ $(((gi + k - 1) % 2)) = 1 ] && order=("${READ_THREADS[1]}" "${READ_THREADS[0]}")
    for t in "${order[@]}"; do
      note "2/3. round $k: $g reads, disk-read-threads $t: restart, drop caches"
      start_server "$t" "$READ_BLOCK_CACHE" "$READ_MEMTABLE" || exit 1
      drop_caches
      run_group "$g" "$t" "${SFX[$((k - 1))]}"
      alive || { note "server died: see $SERVER_LOG (OOM kills in the cgroup: $(cg_oom_kills))"; exit 1; }
      stop_server
    done
    gi=$((gi + 1))
  done
done
[ -n "$REF_PID" ] && { kill -TERM -- "-$REF_PID" 2>/dev/null; wait_bg "$REF_PID"; }

r() { echo "${RES[$1]:--}"; }
ratio() { local a=$1 b=$2; [[ $a =~ ^[0-9.]+$ && $b =~ ^[0-9.]+$ ]] && [ "$b" != 0 ] && calc %.2f "$a / $b" || echo -; }
# rr PHASE THREADS FIELD [fmt]: the field in every round, "r1 / r2 / ..."
rr() {
  local out= x v
  for x in "${SFX[@]}"; do
    v=$(r "$1$x/$2/$3")
    [ "${4:-}" = fmt ] && v=$(fmt "$v")
    out+="${out:+ / }$v"
  done
  echo "$out"
}
# rratio A_PHASE A_T B_PHASE B_T [FIELD]: A/B in every round
rratio() {
  local out= x
  for x in "${SFX[@]}"; do out+="${out:+ / }$(ratio "$(r "$1$x/$2/${5:-ops}")" "$(r "$3$x/$4/${5:-ops}")")"; done
  echo "$out"
}
rfio() { local out= x; for x in "${SFX[@]}"; do out+="${out:+ / }$(ratio "$(r "$1$x/$2/ops")" "$3")"; done; echo "$out"; }
RN=; [ "$READ_ROUNDS" -gt 1 ] && RN=" (round 1 / round 2$( [ "$READ_ROUNDS" -gt 2 ] && echo " / ..."))"
HOT_MB=$(calc %.0f "$HOT_HI * ($VALUE + $KEYLEN) / 1048576")
rep "## 2. Reads ($DURATION s per phase, $CLIENTS clients, pipeline 1)"
rep ""
rep "\`build/bench/getload\` (C, one thread, epoll, one GET in flight per connection). Four groups of"
rep "phases (uniform x2; skewed x3 with in-cache x2 between and after; in-cache x2; the probe of section 3), each run once per disk-read-threads"
rep "setting on a freshly started server with the page cache dropped, the two settings alternating group"
rep "by group (32 first, then 0 first, ...; the other way round in round 2), so both see the same machine;"
rep "$READ_ROUNDS round(s), every cell gives each round's figure$RN."
rep "uniform: keys uniform over all $SIZE ids (disk-bound), run twice on one server: the 1st from the cold"
rep "start (tables' index and filter blocks read in as the first keys of each table are looked up), the"
rep "2nd is the steady (warm) figure, still ~1 block read per GET. skewed: 90% of GETs to the hot 10%, the"
rep "contiguous id range [0, $HOT_HI) ($HOT_MB MB of data against a $READ_BLOCK_CACHE block cache and a $MEMORY memory limit),"
rep "10% uniform over the rest; run twice, the second is the warm figure, then (same server) an in-cache"
rep "phase, a 3rd skewed one and an in-cache one again, for a side-by-side ratio. in-cache: uniform over"
rep "[0, $CACHE_KEYS) ($(calc %.0f "$CACHE_KEYS * ($VALUE + $KEYLEN) / 1048576") MB), run twice. disk-read-threads 32 is the default (io_uring and reader"
rep "threads load blocks while the loop serves others), 0 the loop reading in place. reads/GET = data blocks"
rep "read from disk per GET during the phase (lsm_uring_block_reads, with threads 0 lsm_cache_misses, over"
rep "lsm_gets); RSS = the server's at the end of the phase; disk MB/s = the server's /proc/PID/io read_bytes"
rep "(storage reads) per second; parked = disk_wait_commands (INFO) during the phase; load avg = the"
rep "machine's 1-minute load average after the phase (2 cores, shared with other work)."
rep "Every GET found its key (nil replies: $(for k in "${!RES[@]}"; do case $k in */miss) echo "${RES[$k]}";; esac; done | awk '{ s += $1 } END { print s + 0 }') in all phases)."
rep ""
rep "| phase | threads | GET/s | p50 us | p99 us | p99.9 us | reads/GET | RSS MB | disk MB/s | parked | load avg |"
rep "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for ph in uniform1 uniform2 skew1 skew2 samecache sameskew samecache2 cache1 cache2; do
  for t in "${READ_THREADS[@]}"; do
    label=$ph; case $ph in uniform1) label="uniform (1st, from cold)";; uniform2) label="uniform (2nd, warm)";;
                         skew1) label="skewed (1st, warming)";; skew2) label="skewed (2nd, warm)";;
                         cache1) label="in-cache (1st, warming)";; cache2) label="in-cache (2nd, warm)";;
                         samecache) label="in-cache, on the skewed phases' server";;
                         sameskew) label="skewed (3rd, warm), after it";;
                         samecache2) label="in-cache again, after it";; esac
    rep "| $label | $t | $(rr "$ph" "$t" ops fmt) | $(rr "$ph" "$t" p50) | $(rr "$ph" "$t" p99) | $(rr "$ph" "$t" p999) | $(rr "$ph" "$t" rpg) | $(rr "$ph" "$t" rss) | $(rr "$ph" "$t" diskmb) | $(rr "$ph" "$t" wait fmt) | $(rr "$ph" "$t" load) |"
  done
done
rep ""
rep "Side by side, GET/s with threads 32 / with threads 0: uniform (warm) $(rratio uniform2 32 uniform2 0), skewed (warm)"
rep "$(rratio skew2 32 skew2 0), in-cache (warm) $(rratio cache2 32 cache2 0)."
rep ""
rep "fio on the same filesystem ($FIO_SIZE file, O_DIRECT, libaio, $FIO_RUNTIME s): 4k random reads QD1 $(fmt "$FIO_QD1") IOPS"
rep "(p99 $FIO_QD1_LAT us), QD32 $(fmt "$FIO_QD32") IOPS (p99 $FIO_QD32_LAT us); 8k (the size of Kevo's block reads: a 4 KiB block and its trailer mostly straddle two pages) QD32 $(fmt "$FIO_QD32_8K") IOPS."
rep ""
rep "Targets: uniform disk-bound GET/s >= 50% of fio's QD32 IOPS: $(rfio uniform2 32 "$FIO_QD32") of fio QD32 4k once warm"
rep "(from the cold start: $(rfio uniform1 32 "$FIO_QD32"); warm: $(rfio uniform2 32 "$FIO_QD32_8K") of QD32 8k; threads 0: $(rfio uniform2 0 "$FIO_QD32")). Skewed >= 80% of in-cache once warm:"
rep "$(rratio skew2 32 cache2 32) (threads 0: $(rratio skew2 0 cache2 0)) against the in-cache phases of another server;"
# side_ratio THREADS: per round, the warm skewed phases over the in-cache phases alternating with
# them on the same server (skewed 2nd + 3rd over in-cache 1st + 2nd)
side_ratio() {
  local x; for x in "${SFX[@]}"; do
    calc %.2f "(${RES[skew2$x/$1/ops]:-0} + ${RES[sameskew$x/$1/ops]:-0}) / (${RES[samecache$x/$1/ops]:-0} + ${RES[samecache2$x/$1/ops]:-0} + 0.000001)"; echo
  done | paste -sd/ | sed 's|/| / |g'
}
rep "side by side on one server (the 2nd and 3rd warm skewed phases against the two in-cache phases"
rep "alternating with them: skewed, in-cache, skewed, in-cache): $(side_ratio 32) (threads 0: $(side_ratio 0))."
rep ""
rep "## 3. Latency of cached keys while others read from disk"
rep ""
rep "One client sends $PROBE_RATE GET/s (paced, latency from the actual send) of 16 keys read just before,"
rep "for $DURATION s: alone, then while $CLIENTS other clients run the uniform disk-bound GETs$RN."
rep ""
rep "| threads | | probe alone | probe under load | under load / alone |"
rep "|---:|---|---:|---:|---:|"
for t in "${READ_THREADS[@]}"; do
  rep "| $t | p50 us | $(rr probe-alone "$t" p50) | $(rr probe-load "$t" p50) | $(rratio probe-load "$t" probe-alone "$t" p50) |"
  rep "| $t | p99 us | $(rr probe-alone "$t" p99) | $(rr probe-load "$t" p99) | $(rratio probe-load "$t" probe-alone "$t" p99) |"
  rep "| $t | p99.9 us | $(rr probe-alone "$t" p999) | $(rr probe-load "$t" p999) | $(rratio probe-load "$t" probe-alone "$t" p999) |"
  rep "| $t | the $CLIENTS disk-bound clients: GET/s, p99 us | | $(rr probe-bg "$t" ops fmt); $(rr probe-bg "$t" p99) | |"
done
rep ""
rep "Target: p99 under load within 2x of alone (threads 32): $(rratio probe-load 32 probe-alone 32 p99)."
rep ""
if [ -n "$REF_PORT" ]; then
  rep "The machine's share: the same probe against an idle redis-server $(redis-server --version | awk '{ print $3 }' | cut -d= -f2) on the same machine (no"
  rep "persistence, no memory limit, serving nothing else), alone and while Kevo serves the same $CLIENTS disk-bound"
  rep "clients (right after Kevo's probe, in the same load). Whatever its latency gains under the load"
  rep "comes from the machine (its $(nproc) cores busy with the load generator, Kevo and the kernel's"
  rep "network and I/O work), not from the server:"
  rep ""
  rep "| threads | | idle redis-server alone | idle redis-server under Kevo's load | under load / alone |"
  rep "|---:|---|---:|---:|---:|"
  for t in "${READ_THREADS[@]}"; do
    for k in p50 p99 p999; do
      rep "| $t | ${k/p999/p99.9} us | $(rr probe-ref-alone "$t" $k) | $(rr probe-ref-load "$t" $k) | $(rratio probe-ref-load "$t" probe-ref-alone "$t" $k) |"
    done
  done
  rep ""
fi

# ============================================================================ 5. compaction burst
SEC=5
note "5. GET latency during a $BURST s write burst (8 clients SET new keys) vs without"
start_server 32 || exit 1
READERS=(-c 4 -r 1000 -d "$BURST" --dist range --lo 0 --hi "$CACHE_KEYS" --timeline)
run_bg 300 "$OUT/logs/burst-warm.txt" "$GETLOAD" -p "$PORT" -c 8 -d 5 --dist range --lo 0 --hi "$CACHE_KEYS"
snap "$OUT/logs/burst0.info"
run_bg $((BURST + 120)) "$OUT/burst-base.txt" "$GETLOAD" -p "$PORT" "${READERS[@]}" "$OUT/burst-base.csv" -s 21
snap "$OUT/logs/burst1.info"
start_bg $((BURST + 120)) "$OUT/burst-writers.txt" "$GETLOAD" -p "$PORT" -t set -v "$VALUE" -c 8 -d "$BURST" \
  --dist range --lo "$SIZE" --hi $((2 * SIZE)) --timeline "$OUT/burst-writers.csv" -s 22
wb=$BGPID
run_bg $((BURST + 120)) "$OUT/burst-load.txt" "$GETLOAD" -p "$PORT" "${READERS[@]}" "$OUT/burst-load.csv" -s 23
wait_bg "$wb"
snap "$OUT/logs/burst2.info"
sleep 5
snap "$OUT/logs/burst3.info"
b() { kv "$OUT/burst-$1.txt" "$2"; }
gnuplot > "$OUT/logs/gnuplot-burst.txt" 2>&1 <<EOF
set terminal png size 1100,500
set output '$OUT/burst.png'
set datafile separator ','
set datafile columnheaders
set termoption noenhanced
set title 'GET p99 per second (4 clients x 1000/s, cached keys), without and during a write burst'
set xlabel 'second'
set ylabel 'GET p99 (us)'
set y2label 'SET/s of the burst'
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key outside bottom center horizontal
plot '$OUT/burst-base.csv' using 1:3 with linespoints title 'GET p99, no writes', \
     '$OUT/burst-load.csv' using 1:3 with linespoints title 'GET p99, during the burst', \
     '$OUT/burst-writers.csv' using 1:2 axes x1y2 with lines title 'SET/s (8 clients)'
EOF
rep "## 5. GET latency during a write burst"
rep ""
rep "Readers: 4 clients x 1000 GET/s (paced) of the cached range [0, $CACHE_KEYS), $BURST s. Writers: 8 clients"
rep "SET of new keys (ids uniform over [$SIZE, $((2 * SIZE)))), $VALUE random bytes, closed loop, $BURST s."
rep ""
rep "| | GET p50 us | p99 us | p99.9 us | max us | GET/s |"
rep "|---|---:|---:|---:|---:|---:|"
rep "| no writes | $(b base p50_us) | $(b base p99_us) | $(b base p999_us) | $(b base max_us) | $(b base ops_per_s) |"
rep "| during the burst | $(b load p50_us) | $(b load p99_us) | $(b load p999_us) | $(b load max_us) | $(b load ops_per_s) |"
rep ""
rep "p99 during/without: $(ratio "$(b load p99_us)" "$(b base p99_us)")x, p99.9 $(ratio "$(b load p999_us)" "$(b base p999_us)")x. The burst: $(fmt "$(b writers ops_per_s)") SET/s"
rep "($(calc %.0f "$(b writers ops_per_s) * ($VALUE + $KEYLEN) / 1048576") MB/s of user data), SET p99 $(b writers p99_us) us, max $(b writers max_us) us; during it the engine"
rep "flushed $(calc %.0f "$(delta "$OUT/logs/burst1.info" "$OUT/logs/burst2.info" lsm_flush_bytes_written) / 1048576") MB and compacted $(calc %.0f "$(delta "$OUT/logs/burst1.info" "$OUT/logs/burst2.info" lsm_compaction_bytes_written) / 1048576") MB"
rep "(+$(calc %.0f "$(delta "$OUT/logs/burst2.info" "$OUT/logs/burst3.info" lsm_compaction_bytes_written) / 1048576") MB in the 5 s after), write stalls: $(delta "$OUT/logs/burst1.info" "$OUT/logs/burst2.info" lsm_stall_count)"
rep "($(calc %.2f "$(delta "$OUT/logs/burst1.info" "$OUT/logs/burst2.info" lsm_stall_micros) / 1e6") s). Per second: burst-*.csv."
rep ""
rep "![GET p99 per second with and without the write burst](burst.png)"
rep ""
settle 300
rep "Afterwards SAVE and the compactions the burst left took $SETTLE_S s (settled: $SETTLED) before section 4 began."
rep ""

# ============================================================================ 4. space
SEC=4
note "4. space: DEL a random half, EXPIRE 20% (5-10 s), wait for the engine to give the space back"
rm -f "$OUT/logs/ttl-passed"
start_bg $((SPACE_TIMEOUT + 3600)) "$OUT/space.txt" $PY "$HELPER" space --port "$PORT" --size "$SIZE" \
  --reserve "$CACHE_KEYS" --value "$VALUE" --dir "$DATA" --timeout "$SPACE_TIMEOUT" --idle "$SPACE_IDLE" \
  --csv "$OUT/space.csv" --mark "$OUT/logs/ttl-passed"
spid=$BGPID
# once the TTLs have passed, the latency probe of section 3 while the server reaps expired keys
while kill -0 "$spid" 2>/dev/null && [ ! -e "$OUT/logs/ttl-passed" ]; do sleep 1; done
REAP_PROBE=0
if [ -e "$OUT/logs/ttl-passed" ]; then
  run_bg 60 "$OUT/logs/reap-warm.txt" "$GETLOAD" -p "$PORT" -c 1 -d 1 --dist range --lo 0 --hi 16
  snap "$OUT/logs/reap0.info"
  run_bg $((DURATION + 120)) "$OUT/reap-probe.txt" "$GETLOAD" -p "$PORT" "${PROBE[@]}" -s 31
  snap "$OUT/logs/reap1.info"
  REAP_PROBE=1
fi
wait_bg "$spid"
cat "$OUT/space.txt" >&2
sp() { kv "$OUT/space.txt" "$1"; }
LIVE_B=$(sp live_bytes)
rep "## 4. Space given back after deletes and expiry"
rep ""
rep "DEL of a random half of the keys ($(fmt "$(sp deleted)") single-key DELs, pipelined 1000 per round trip, 4 connections:"
rep "$(sp del_secs) s, $(fmt "$(sp del_per_s)") DEL/s), then EXPIRE of another $(fmt "$(sp expired)") keys (20%) with TTLs of 5-10 s"
rep "($(sp expire_secs) s to send), waiting 11 s for the last TTL to pass. The keys with id < $CACHE_KEYS are not"
rep "touched (the latency benches read them). Live data left (the write burst's keys included): $(fmt "$(sp live)") keys x $((VALUE + KEYLEN)) B ="
rep "$(calc %.2f "$LIVE_B / 1e9") GB. No COMPACT was sent; table bytes and \`du\` polled every 5 s (space.csv)."
rep ""
rep "| | table bytes (lsm_total_sst_bytes) | du of the data dir | / live data |"
rep "|---|---:|---:|---:|"
rep "| before the DELs | $(calc %.2f "$(sp sst_before) / 1e9") GB | | $(calc %.2f "$(sp sst_before) / $LIVE_B") |"
rep "| right after the TTLs passed | $(calc %.2f "$(sp sst_after) / 1e9") GB | $(calc %.2f "$(sp du_after) / 1e9") GB | $(calc %.2f "$(sp sst_after) / $LIVE_B") |"
rep "| end of polling | $(calc %.2f "$(sp sst_final) / 1e9") GB | $(calc %.2f "$(sp du_final) / 1e9") GB | $(calc %.2f "$(sp sst_final) / $LIVE_B") |"
rep ""
if [ "$(sp reached)" = yes ]; then
  rep "Within 1.3x of the live data (table bytes and du) $(sp secs) s after the TTLs passed."
else
  if [ "$(sp stopped)" = idle ]; then
    rep "**NOT within 1.3x of the live data**: polling stopped after $(sp secs) s, the engine having run no flush or"
    rep "compaction, and neither its table bytes nor DBSIZE having moved, for the last $(sp idle_secs) s (SPACE_IDLE=$SPACE_IDLE; SPACE_TIMEOUT=$SPACE_TIMEOUT)."
  else
    rep "**NOT within 1.3x of the live data after $(sp secs) s** (bound SPACE_TIMEOUT=$SPACE_TIMEOUT)."
  fi
fi
rep "DBSIZE after: $(sp dbsize_final) (expected $(sp live)); engine counters: tombstones dropped $(sp tombstones_dropped),"
rep "expired values dropped $(sp expired_dropped), reclaim compactions $(sp reclaim_compactions), deletion compactions $(sp deletion_compactions)."
rep "DBSIZE counts keys whose TTL has passed until the server's expire cycle deletes them (as Redis's does):"
rep "$(fmt "$(sp dbsize_after_ttl)") right after the TTLs passed."
rep ""
if [ "$REAP_PROBE" = 1 ]; then
  rp() { kv "$OUT/reap-probe.txt" "$1"; }
  rep "Latency while expired keys are reaped: the probe of section 3 (1 client, $PROBE_RATE GET/s of 16 cached keys,"
  rep "$DURATION s) right after the TTLs passed, no other client: p50 $(rp p50_us) / p99 $(rp p99_us) / p99.9 $(rp p999_us) / max $(rp max_us) us"
  rep "(alone in section 3, threads 32: p99 $(r probe-alone/32/p99) us; ratio $(ratio "$(rp p99_us)" "$(r probe-alone/32/p99)")x). Meanwhile the server reaped"
  rep "$(fmt "$(calc %.0f "$(delta "$OUT/logs/reap0.info" "$OUT/logs/reap1.info" expired_keys) / $DURATION")") expired keys/s and read $(calc %.1f "$(delta "$OUT/logs/reap0.info" "$OUT/logs/reap1.info" proc_read_bytes) / 1048576 / $DURATION") MB/s from disk, $(delta "$OUT/logs/reap0.info" "$OUT/logs/reap1.info" disk_wait_commands) commands parked."
  rep ""
fi

# ============================================================================ 6. restart
SEC=6
note "6. restart after SIGTERM and after kill -9"
wal_bytes() { find "$DATA" -maxdepth 1 -name '*.log' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
replay_line() { grep -o 'recovered [0-9]* WAL records' "$SERVER_LOG" | tail -1 | awk '{ print $2 }'; }
loaded_s() { grep -o 'DB loaded from disk: [0-9.]* seconds' "$SERVER_LOG" | tail -1 | awk '{ print $5 }'; }
MEMT1=$(info | awk -F: '$1 == "lsm_memtable_bytes" { print $2 }')
stop_server TERM
STOP_TERM=$STOP_MS
W1=$(wal_bytes)
start_server 32 || exit 1
S_TERM=$START_MS; REC_TERM=$(replay_line); LOAD_TERM=$(loaded_s)
run_bg 1800 "$OUT/wal-keys.txt" $PY "$HELPER" load --port "$PORT" --pid "$SPID" --size "$WAL_KEYS" \
  --lo $((3 * SIZE)) --value "$VALUE" --conns 2 --csv "$OUT/logs/wal-keys.csv"
MEMT2=$(info | awk -F: '$1 == "lsm_memtable_bytes" { print $2 }')
sleep 1
stop_server KILL
W2=$(wal_bytes)
start_server 32 || exit 1
S_KILL=$START_MS; REC_KILL=$(replay_line); LOAD_KILL=$(loaded_s)
rep "## 6. Restart"
rep ""
rep "Time from launching kevo-server to its first PING answered (redis-cli polled every 10 ms), on the"
rep "data set left by the phases above (no page cache drop). WAL bytes = apparent size of the *.log files"
rep "left (preallocated in 1 MiB chunks, so up to 1 MiB per file is zeros); records and load time from the log."
rep ""
rep "| | shutdown | start to first PING | WAL files | WAL records replayed | DB load (log) | replay MB/s |"
rep "|---|---:|---:|---:|---:|---:|---:|"
rep "| after SIGTERM | $STOP_TERM ms | $S_TERM ms | $(calc %.1f "$W1 / 1048576") MB | ${REC_TERM:-0} | ${LOAD_TERM:--} s | $( [ -n "$LOAD_TERM" ] && calc %.0f "$W1 / 1048576 / ($LOAD_TERM > 0 ? $LOAD_TERM : 1e-3)" || echo -) |"
rep "| after kill -9 | - | $S_KILL ms | $(calc %.1f "$W2 / 1048576") MB | ${REC_KILL:-0} | ${LOAD_KILL:--} s | $( [ -n "$LOAD_KILL" ] && calc %.0f "$W2 / 1048576 / ($LOAD_KILL > 0 ? $LOAD_KILL : 1e-3)" || echo -) |"
rep ""
rep "Before the kill -9, $WAL_KEYS new keys ($(calc %.1f "$WAL_KEYS * ($VALUE + $KEYLEN) / 1048576") MB of user data) were written; memtable bytes then:"
rep "$(calc %.1f "${MEMT2:-0} / 1048576") MB (before SIGTERM: $(calc %.1f "${MEMT1:-0} / 1048576") MB). SIGTERM closes without flushing the memtable, so both starts replay a WAL."
rep ""

# ============================================================================ 7. collections
SEC=7
note "7. collections of $COLL_MEMBERS members: load, restart, drop caches, cold reads"
run_bg 3600 "$OUT/colls-load.txt" $PY "$HELPER" colls-load --port "$PORT" --members "$COLL_MEMBERS"
cat "$OUT/colls-load.txt" >&2
redis-cli -p "$PORT" save > /dev/null
stop_server TERM
drop_caches
start_server 32 || exit 1
drop_caches
run_bg 3600 "$OUT/colls-read.txt" $PY "$HELPER" colls-read --port "$PORT" --members "$COLL_MEMBERS" --calls "$COLL_CALLS"
cat "$OUT/colls-read.txt" >&2
cl() { kv "$OUT/colls-load.txt" "$1"; }
rep "## 7. Collections at scale"
rep ""
rep "One hash, sorted set, list and stream of $COLL_MEMBERS members each, loaded pipelined (HSET / ZADD / RPUSH of"
rep "1000 members per command, 50 commands per round trip; XADD of one entry per command, 1000 per"
rep "round trip), next to 100-member ones; then SAVE, restart, drop caches, and $COLL_CALLS calls each at random"
rep "members / positions, big key first (cold), then the 100-member key (first call cold, then cached)."
rep "XRANGE reads COUNT 100 from a random ID in the middle half. Microseconds per call as a Python client"
rep "on a raw socket sees it (~20-40 us of that is the client)."
rep ""
rep "| load | members/s |"
rep "|---|---:|"
for k in hash zset list stream; do
  rep "| $k | $(fmt "$(kvl "$OUT/colls-load.txt" "load_$k" members_per_s)") |"
done
rep ""
rep "| call | $COLL_MEMBERS-member key: mean / p50 / p99 / first us | 100-member key: mean / p50 / p99 / first us | mean ratio |"
rep "|---|---:|---:|---:|"
for k in hash:HGET zset:ZSCORE list:LINDEX "stream:XRANGE COUNT 100"; do
  ty=${k%%:*}; c=${k#*:}
  bm=$(kvl "$OUT/colls-read.txt" "$ty big" mean_us); sm=$(kvl "$OUT/colls-read.txt" "$ty small" mean_us)
  rep "| $c | $bm / $(kvl "$OUT/colls-read.txt" "$ty big" p50_us) / $(kvl "$OUT/colls-read.txt" "$ty big" p99_us) / $(kvl "$OUT/colls-read.txt" "$ty big" first_us) | $sm / $(kvl "$OUT/colls-read.txt" "$ty small" p50_us) / $(kvl "$OUT/colls-read.txt" "$ty small" p99_us) / $(kvl "$OUT/colls-read.txt" "$ty small" first_us) | $(ratio "$bm" "$sm") |"
done
rep ""
stop_server TERM

T_END=$EPOCHREALTIME
SEC=9
rep "## Run"
rep ""
rep "Whole run: $(awk -v a="$T_START" -v b="$T_END" 'BEGIN { printf "%.1f min", (b - a) / 60 }'). Memory cgroup peak usage: $(c=$(cg_peak); [[ $c =~ ^[0-9]+$ ]] && calc %.0f "$c / 1048576" || echo -) MB, OOM kills: $(cg_oom_kills)."
rep "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
note "done in $(awk -v a="$T_START" -v b="$T_END" 'BEGIN { printf "%.1f min", (b - a) / 60 }'); report: $REPORT"
assemble
cat "$REPORT"
