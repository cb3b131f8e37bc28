#!/usr/bin/env bash
# vs-redis-types.sh - collection reads that redis-benchmark has no built-in test for, on
# kevo-server and redis-server side by side (interleaved rounds, same durability: Redis with
# AOF and the same appendfsync), printing requests/s and the kevo/redis ratio (median of rounds):
#   HGET of a 10-field hash, HGETALL of it, ZSCORE and ZRANGE 0 9 of a 100-member sorted set,
#   SISMEMBER of a 100-member set.
# usage: bench/vs-redis-types.sh [-b kevo-server] [-f everysec|always] [-P pipeline] [-n requests]
#                                [-c clients] [-k rounds]
# Servers bind 127.0.0.1 on free ports in a temp dir; everything stops by itself.
set -euo pipefail
bin=./build/kevo-server fsync=everysec pipe=1 n=100000 clients=50 rounds=3
while getopts "b:f:P:n:c:k:" o; do
    case $o in
        b) bin=$OPTARG ;; f) fsync=$OPTARG ;; P) pipe=$OPTARG ;; n) n=$OPTARG ;;
        c) clients=$OPTARG ;; k) rounds=$OPTARG ;; *) exit 2 ;;
    esac
done
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
    { echo "needs redis-server and redis-benchmark (redis-server redis-tools)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/kevo-vs-types.XXXXXX)
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
    redis-cli -p "$p" hset h $(for i in $(seq 0 9); do echo "field$i value-of-field-$i"; done) >/dev/null
    redis-cli -p "$p" zadd z $(for i in $(seq 0 99); do echo "$i member:$i"; done) >/dev/null
    redis-cli -p "$p" sadd s $(for i in $(seq 0 99); do echo "member:$i"; done) >/dev/null
done
cmds=("HGET h field5" "HGETALL h" "ZSCORE z member:42" "ZRANGE z 0 9" "SISMEMBER s member:42")
echo "# kevo-server vs redis-server: appendfsync=$fsync clients=$clients pipeline=$pipe requests=$n rounds=$rounds"
printf "%-22s %10s %10s %7s\n" command redis_rps kevo_rps ratio
for c in "${cmds[@]}"; do
    ks=() rs=()
    for _ in $(seq "$rounds"); do
        # shellcheck disable=SC2086
        rs+=("$(redis-benchmark -p "$rp" -c "$clients" -n "$n" -P "$pipe" -q $c | awk -F'[ :]+' '/requests per second/ {for (i=1;i<=NF;i++) if ($(i+1)=="requests") print $i}' | tail -1)")
        # shellcheck disable=SC2086
        ks+=("$(redis-benchmark -p "$kp" -c "$clients" -n "$n" -P "$pipe" -q $c | awk -F'[ :]+' '/requests per second/ {for (i=1;i<=NF;i++) if ($(i+1)=="requests") print $i}' | tail -1)")
    done
    /usr/bin/python3 - "$c" "${rs[*]}" "${ks[*]}" <<'EOF'
import statistics, sys
name, rs, ks = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ratios = [k / r for k, r in zip(ks, rs)]
print("%-22s %10.0f %10.0f %7.2f" % (name, statistics.median(rs), statistics.median(ks), statistics.median(ratios)))
EOF
done
