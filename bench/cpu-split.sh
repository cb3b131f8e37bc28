#!/usr/bin/env bash
# cpu-split.sh - where the CPU goes in a redis-benchmark run, redis-server against kevo-server:
# for each test of each round, both servers in turn (redis first), one line each with the rate,
# the client's share of a CPU (user+sys over wall time), its CPU per request, how often it was
# preempted (involuntary context switches) or slept (voluntary), and the server's CPU split into
# the event loop and every other thread (kevo: flush, compaction, linker, prefill ... by name).
#
# Why: at pipeline 1 redis-benchmark needs a whole CPU of the two, so the rate follows the CPU the
# client gets; any background thread of the server that runs on the client's CPU shows here as a
# lower client share and more preemptions, next to the server's background ticks.
#
# usage: bench/cpu-split.sh [-b kevo-server] [-P pipeline] [-k rounds] [-f everysec|always]
#                           [-t sadd,hset,spop,zadd,zpopmin] [-n requests] [-a "extra kevo args"]
# output: "round test server rate=... client=..% cl_us=.. ivcs=.. vcs=.. loop=ticks bg=ticks [thread=ticks ...]"
#         (ticks: 1/100 s of CPU, /proc/PID/task/*/stat utime+stime)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=./kevo-server P=1 K=3 F=everysec T=sadd,hset,spop,zadd,zpopmin N=200000 EXTRA=""
while getopts "b:P:k:f:t:n:a:" o; do
  case $o in
    b) BIN=$OPTARG;; P) P=$OPTARG;; k) K=$OPTARG;; f) F=$OPTARG;; t) T=$OPTARG;; n) N=$OPTARG;;
    a) EXTRA=$OPTARG;;
    *) sed -n '2,15p' "$0"; exit 2;;
  esac
done
[ -x "$BIN" ] || { echo "cpu-split: no kevo-server at $BIN" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "cpu-split: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

W=$(mktemp -d /tmp/cpu-split.XXXXXX)
KP=$((30000 + RANDOM % 5000)); RP=$((KP + 100))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
mkdir -p "$W/redis"
# shellcheck disable=SC2086
"$BIN" --port $KP --bind 127.0.0.1 --dir "$W/kevo" --appendfsync "$F" $EXTRA >"$W/kevo.log" 2>&1 & pids+=($!); KPID=$!
redis-server --port $RP --bind 127.0.0.1 --dir "$W/redis" --save '' --appendonly yes \
  --appendfsync "$F" >"$W/redis.log" 2>&1 & pids+=($!); RPID=$!
for port in $KP $RP; do
  for _ in $(seq 100); do redis-cli -p $port ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
done

# per-thread CPU ticks of a process, summed by thread name (kevo's compaction threads as one)
snap() {
  for t in /proc/"$1"/task/*; do
    echo "$(sed 's/kevo-compact-[0-9]*/kevo-compact/; s/ /_/g' "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"
  done | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort
}
LOOP_NAMES="$(cat /proc/$RPID/comm) $(cat /proc/$KPID/comm)" # the main threads: the event loops

for i in $(seq "$K"); do
  for t in ${T//,/ }; do
    for who in redis kevo; do
      port=$KP pid=$KPID; [ $who = redis ] && port=$RP pid=$RPID
      snap $pid >"$W/before"; start=$(date +%s.%N)
      /usr/bin/time -f "%U %S %w %c" -o "$W/client" redis-benchmark -p $port -c 50 -n "$N" -P "$P" \
        -r 1000000 -d 100 -t "$t" -q >/dev/null 2>&1
      end=$(date +%s.%N); snap $pid >"$W/after"
      read -r cu cs vcs ivcs <"$W/client"
      split=$(join "$W/before" "$W/after" | awk -v loops="$LOOP_NAMES" '
        BEGIN { n = split(loops, l, " "); for (i = 1; i <= n; i++) isloop[l[i]] = 1 }
        { d = $3 - $2; if ($1 in isloop) loop += d; else { bg += d; if (d > 0) rest = rest " " $1 "=" d } }
        END { printf "loop=%d bg=%d%s", loop, bg, rest }')
      awk -v i="$i" -v t="$t" -v who=$who -v n="$N" -v s="$start" -v e="$end" -v cu="$cu" -v cs="$cs" \
          -v vcs="$vcs" -v ivcs="$ivcs" -v threads="$split" 'BEGIN {
        w = e - s; printf "%s %s %s rate=%d client=%d%% cl_us=%.2f ivcs=%d vcs=%d %s\n",
          i, t, who, n / w, 100 * (cu + cs) / w, 1e6 * (cu + cs) / n, ivcs, vcs, threads }'
    done
  done
done
