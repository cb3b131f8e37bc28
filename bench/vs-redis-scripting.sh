#!/usr/bin/env bash
# vs-redis-scripting.sh - EVALSHA of small scripts on kevo-server and redis-server side by side
# (interleaved rounds, same durability: Redis with AOF and the same appendfsync), printing
# requests/s and the kevo/redis ratio (median of rounds):
#   GET:  return redis.call('GET', KEYS[1])            (a read through redis.call)
#   INCR: return redis.call('INCR', KEYS[1])           (a write: one engine group per script)
#   FCALL of the INCR one as a function
# usage: bench/vs-redis-scripting.sh [-b kevo-server] [-f everysec|always] [-P pipeline]
#                                    [-n requests] [-c clients] [-k rounds] [-r keyspace]
# Servers bind 127.0.0.1 on free ports in a temp dir; everything stops by itself.
set -euo pipefail
bin=./kevo-server fsync=everysec pipe=1 n=100000 clients=50 rounds=3 keys=100000
while getopts "b:f:P:n:c:k:r:" o; do
    case $o in
        b) bin=$OPTARG ;; f) fsync=$OPTARG ;; P) pipe=$OPTARG ;; n) n=$OPTARG ;;
        c) clients=$OPTARG ;; k) rounds=$OPTARG ;; r) keys=$OPTARG ;; *) exit 2 ;;
    esac
done
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
    { echo "needs redis-server and redis-benchmark (redis-server redis-tools)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/kevo-vs-scripting.XXXXXX)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kp=$(free_port); rp=$(free_port)
"$bin" --port "$kp" --bind 127.0.0.1 --dir "$tmp/kevo" --appendfsync "$fsync" --logfile "$tmp/kevo.log" &
kpid=$!
redis-server --port "$rp" --bind 127.0.0.1 --dir "$tmp" --save '' --appendonly yes \
    --appendfsync "$fsync" --daemonize no --logfile "$tmp/redis.log" &
rpid=$!
trap 'kill $kpid $rpid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
get="return redis.call('GET', KEYS[1])"
incr="return redis.call('INCR', KEYS[1])"
lib="#!lua name=bench
redis.register_function('incr', function(keys) return redis.call('INCR', keys[1]) end)"
for p in $kp $rp; do
    for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
    gsha=$(redis-cli -p "$p" script load "$get")
    isha=$(redis-cli -p "$p" script load "$incr")
    redis-cli -p "$p" function load "$lib" >/dev/null
    # the keys the GET script reads exist
    redis-benchmark -p "$p" -c 50 -n "$keys" -r "$keys" -q -t set >/dev/null
done
cmds=("EVALSHA $gsha 1 key:__rand_int__" "EVALSHA $isha 1 counter:__rand_int__" "FCALL incr 1 counter:__rand_int__")
names=("evalsha GET" "evalsha INCR" "fcall INCR")
echo "# kevo-server vs redis-server: appendfsync=$fsync clients=$clients pipeline=$pipe requests=$n rounds=$rounds"
printf "%-14s %10s %10s %7s\n" script redis_rps kevo_rps ratio
rps() { awk -F'[ :]+' '/requests per second/ {for (i=1;i<=NF;i++) if ($(i+1)=="requests") print $i}' | tail -1; }
for i in "${!cmds[@]}"; do
    c=${cmds[$i]} ks=() rs=()
    for _ in $(seq "$rounds"); do
        # shellcheck disable=SC2086
        rs+=("$(redis-benchmark -p "$rp" -c "$clients" -n "$n" -P "$pipe" -r "$keys" -q $c | rps)")
        # shellcheck disable=SC2086
        ks+=("$(redis-benchmark -p "$kp" -c "$clients" -n "$n" -P "$pipe" -r "$keys" -q $c | rps)")
    done
    /usr/bin/python3 - "${names[$i]}" "${rs[*]}" "${ks[*]}" <<'PY'
import statistics, sys
name, rs, ks = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ratios = [k / r for k, r in zip(ks, rs)]
print("%-14s %10.0f %10.0f %7.2f" % (name, statistics.median(rs), statistics.median(ks), statistics.median(ratios)))
PY
done
