#!/usr/bin/env bash
# pubsub.sh - PUBLISH throughput with S subscribers on the channel, kevo-server and redis-server
# side by side (interleaved rounds, same durability settings: Redis with AOF and the same
# appendfsync), printing publishes/s, messages delivered/s and the kevo/redis ratio (median of
# the rounds). redis-benchmark publishes; one python process holds the S subscriber connections
# and drains them (bytes counted, nothing parsed), so that the subscribers keep up.
# usage: bench/pubsub.sh [-b kevo-server] [-f everysec|always] [-s subscribers] [-P pipeline]
#                        [-n publishes] [-c clients] [-k rounds] [-d payload-bytes]
# Servers bind 127.0.0.1 on free ports in a temp dir; everything stops by itself.
set -euo pipefail
bin=./build/kevo-server fsync=everysec subs=100 pipe=1 n=50000 clients=50 rounds=3 size=16
while getopts "b:f:s:P:n:c:k:d:" o; do
    case $o in
        b) bin=$OPTARG ;; f) fsync=$OPTARG ;; s) subs=$OPTARG ;; P) pipe=$OPTARG ;;
        n) n=$OPTARG ;; c) clients=$OPTARG ;; k) rounds=$OPTARG ;; d) size=$OPTARG ;; *) exit 2 ;;
    esac
done
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
    { echo "needs redis-server and redis-benchmark (redis-server redis-tools)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/kevo-vs-pubsub.XXXXXX)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kp=$(free_port); rp=$(free_port)
"$bin" --port "$kp" --bind 127.0.0.1 --dir "$tmp/kevo" --appendfsync "$fsync" --logfile "$tmp/kevo.log" &
kpid=$!
redis-server --port "$rp" --bind 127.0.0.1 --dir "$tmp" --save '' --appendonly yes \
    --appendfsync "$fsync" --daemonize no --logfile "$tmp/redis.log" &
rpid=$!
subpids=()
cleanup() {
    kill "${subpids[@]}" $kpid $rpid 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# S subscribers on "bench" for one server: a single process draining them with epoll
subscribers() { # port count
    /usr/bin/python3 - "$1" "$2" <<'EOF' &
import selectors, socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nbench\r\n")
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
buf = bytearray(1 << 20)
while True:
    for key, _ in sel.select():
        try:
            if key.fileobj.recv_into(buf) == 0:
                sys.exit(0)
        except BlockingIOError:
            pass
EOF
    subpids+=($!)
}

payload=$(head -c "$size" /dev/zero | tr '\0' 'x')
for p in $kp $rp; do
    for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
    # the subscribers keep up with the stream; no output-buffer limit decides the result
    redis-cli -p "$p" config set client-output-buffer-limit "pubsub 0 0 0" >/dev/null
    subscribers "$p" "$subs"
    for _ in $(seq 200); do
        [ "$(redis-cli -p "$p" pubsub numsub bench | tail -1)" = "$subs" ] && break
        sleep 0.05
    done
done

rps() { # port -> requests per second of one redis-benchmark run
    redis-benchmark -p "$1" -c "$clients" -n "$n" -P "$pipe" -q PUBLISH bench "$payload" |
        awk -F'[ :]+' '/requests per second/ {for (i=1;i<=NF;i++) if ($(i+1)=="requests") print $i}' | tail -1
}

echo "# PUBLISH to $subs subscribers: kevo-server vs redis-server, appendfsync=$fsync clients=$clients pipeline=$pipe publishes=$n payload=${size}B rounds=$rounds"
ks=() rs=()
for r in $(seq "$rounds"); do
    rs+=("$(rps "$rp")")
    ks+=("$(rps "$kp")")
    printf "round %d: redis %s/s kevo %s/s\n" "$r" "${rs[-1]}" "${ks[-1]}"
done
/usr/bin/python3 - "$subs" "${rs[*]}" "${ks[*]}" <<'EOF'
import statistics, sys
subs, rs, ks = int(sys.argv[1]), [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ratios = [k / r for k, r in zip(ks, rs)]
print("%-24s %12s %12s %7s" % ("", "redis", "kevo", "ratio"))
print("%-24s %12.0f %12.0f %7.2f" % ("publishes/s (median)", statistics.median(rs), statistics.median(ks), statistics.median(ratios)))
print("%-24s %12.0f %12.0f" % ("messages delivered/s", statistics.median(rs) * subs, statistics.median(ks) * subs))
EOF
