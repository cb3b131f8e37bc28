#!/usr/bin/env bash
# vs-redis-streams.sh - stream throughput of kevo-server and redis-server side by side, in one
# run (interleaved rounds, same durability: Redis with AOF and the same appendfsync), printing
# requests/s and the kevo/redis ratio (median of rounds), at pipeline 1 and 16:
#   XADD s * f v                      (redis-benchmark -n 200000 by default)
#   XADD c MAXLEN ~ 1000 * f v        (a capped stream: a macro node trimmed every ~100 XADDs)
#   XRANGE r <id> + COUNT 10          (10 entries from the middle of a 10k-entry stream)
# usage: bench/vs-redis-streams.sh [-b kevo-server] [-f everysec|always] [-n requests]
#                                  [-c clients] [-k rounds] [-P "1 16"]
# Servers bind 127.0.0.1 on free ports in a temp dir; everything stops by itself.
set -euo pipefail
set -f # "XADD s * f v": no globbing of the star
bin=./build/kevo-server fsync=everysec n=200000 clients=50 rounds=3 pipes="1 16"
while getopts "b:f:n:c:k:P:" o; do
    case $o in
        b) bin=$OPTARG ;; f) fsync=$OPTARG ;; n) n=$OPTARG ;; c) clients=$OPTARG ;;
        k) rounds=$OPTARG ;; P) pipes=$OPTARG ;; *) exit 2 ;;
    esac
done
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
    { echo "needs redis-server and redis-benchmark (redis-server redis-tools)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/kevo-vs-streams.XXXXXX)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kp=$(free_port); rp=$(free_port)
"$bin" --port "$kp" --bind 127.0.0.1 --dir "$tmp/kevo" --appendfsync "$fsync" --logfile "$tmp/kevo.log" &
kpid=$!
redis-server --port "$rp" --bind 127.0.0.1 --dir "$tmp" --save '' --appendonly yes \
    --appendfsync "$fsync" --daemonize no --logfile "$tmp/redis.log" &
rpid=$!
trap 'kill $kpid $rpid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
for p in $kp $rp; do
    for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
    # a 10k-entry stream with explicit IDs: XRANGE reads 10 of them from its middle
    for i in $(seq 1 10000); do echo "XADD r $i-0 field value-$i"; done | redis-cli -p "$p" >/dev/null
done
rps() { awk -F'[ :]+' '/requests per second/ {for (i=1;i<=NF;i++) if ($(i+1)=="requests") print $i}' | tail -1; }
echo "# kevo-server vs redis-server $(redis-server --version | grep -o 'v=[0-9.]*'): appendfsync=$fsync clients=$clients requests=$n rounds=$rounds"
printf "%-28s %4s %10s %10s %7s\n" command P redis_rps kevo_rps ratio
for pipe in $pipes; do
    for c in "XADD s * f v" "XADD c MAXLEN ~ 1000 * f v" "XRANGE r 5000 + COUNT 10"; do
        ks=() rs=()
        for _ in $(seq "$rounds"); do
            # shellcheck disable=SC2086
            rs+=("$(redis-benchmark -p "$rp" -c "$clients" -n "$n" -P "$pipe" -q $c | rps)")
            # shellcheck disable=SC2086
            ks+=("$(redis-benchmark -p "$kp" -c "$clients" -n "$n" -P "$pipe" -q $c | rps)")
        done
        /usr/bin/python3 - "$c" "$pipe" "${rs[*]}" "${ks[*]}" <<'PY'
import statistics, sys
name, pipe = sys.argv[1], sys.argv[2]
rs, ks = [float(x) for x in sys.argv[3].split()], [float(x) for x in sys.argv[4].split()]
ratios = [k / r for k, r in zip(ks, rs)]
print("%-28s %4s %10.0f %10.0f %7.2f" % (name, pipe, statistics.median(rs), statistics.median(ks), statistics.median(ratios)))
PY
    done
done
echo "# stream lengths after the runs: redis $(redis-cli -p "$rp" xlen s), kevo $(redis-cli -p "$kp" xlen s)"
