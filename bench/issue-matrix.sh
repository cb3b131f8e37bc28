#!/usr/bin/env bash
# issue-matrix.sh - the throughput matrix the collection and list issues ask for: redis-benchmark's
# own hset,sadd,spop,zadd,zpopmin and lpush,rpush,lpop,rpop,lrange_100,lrange_300 tests through
# ../shared/bench/vs-redis.sh (kevo-server and redis-server side by side, interleaved), for
# appendfsync everysec and always at pipeline 1 and 16.
#
# usage: bench/issue-matrix.sh [-b kevo-server] [-k rounds] [-o outdir] [-f "everysec always"] [-P "1 16"]
# env: N=requests per round (default 200000), VS_REDIS=path of vs-redis.sh
# output: one vs-redis report per cell in outdir, then a markdown table of kevo/redis ratios.
# Takes ~40 minutes with -k 5 on a 2-core machine; leave the machine otherwise idle meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=./kevo-server K=5 OUT="" FSYNCS="everysec always" PIPES="1 16"
while getopts "b:k:o:f:P:" o; do
  case $o in
    b) BIN=$OPTARG;; k) K=$OPTARG;; o) OUT=$OPTARG;; f) FSYNCS=$OPTARG;; P) PIPES=$OPTARG;;
    *) sed -n '2,9p' "$0"; exit 2;;
  esac
done
VS=${VS_REDIS:-../shared/bench/vs-redis.sh}
[ -x "$BIN" ] || { echo "issue-matrix: no kevo-server at $BIN" >&2; exit 2; }
if nm "$BIN" 2>/dev/null | grep -q '__tsan_\|__asan_\|__ubsan_'; then
  echo "issue-matrix: $BIN is a sanitizer build; benchmark the release build" >&2; exit 2
fi
OUT=${OUT:-$(mktemp -d /tmp/issue-matrix.XXXXXX)}
mkdir -p "$OUT"

COLL=hset,sadd,spop,zadd,zpopmin
LIST=lpush,rpush,lpop,rpop,lrange_100,lrange_300
for f in $FSYNCS; do
  for p in $PIPES; do
    for group in coll list; do
      tests=$COLL; [ $group = list ] && tests=$LIST
      bash "$VS" -b "$BIN" -f "$f" -P "$p" -k "$K" -n "${N:-200000}" -t "$tests" >"$OUT/$group-$f-P$p.txt"
    done
  done
done

# the table: one row per fsync/pipeline cell, one column per test (redis-benchmark's names)
python3 - "$OUT" $FSYNCS -- $PIPES <<'PY'
import sys, os, re
out = sys.argv[1]; rest = sys.argv[2:]; cut = rest.index('--')
fsyncs, pipes = rest[:cut], rest[cut + 1:]
def ratios(path):
    r = {}
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r'^(\S.*?)\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s*$', line)
            if m and 'needed' not in m.group(1): r[m.group(1).split(' (')[0]] = m.group(2)
    return r
names = ['HSET', 'SADD', 'SPOP', 'ZADD', 'ZPOPMIN', 'LPUSH', 'RPUSH', 'LPOP', 'RPOP', 'LRANGE_100', 'LRANGE_300']
print('| fsync | P | ' + ' | '.join(names) + ' |')
print('|---|---|' + '---|' * len(names))
for f in fsyncs:
    for p in pipes:
        r = {}
        for g in ('coll', 'list'):
            r.update(ratios(os.path.join(out, f'{g}-{f}-P{p}.txt')))
        cells = []
        for n in names:
            cells.append(r.get(n, '?'))
        print(f'| {f} | {p} | ' + ' | '.join(cells) + ' |')
PY
echo "reports in $OUT"
