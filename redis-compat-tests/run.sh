#!/usr/bin/env bash
# run.sh KEVO_BINARY [suite...] - black-box compatibility tests with real Redis clients.
#
# Starts the server under test on a free 127.0.0.1 port in a temp dir, and (when installed) a
# reference redis-server on another free port for the differential suite, then runs:
#   redispy       redis-py per-command tests (RESP2 + raw RESP3), test_redispy.py; properties
#                 of the random hash/set commands, test_types_random.py; sorted-set
#                 randomized checks and random sequences vs redis-server, test_zset_random.py;
#                 list random sequences and big-list middle edits vs redis-server,
#                 test_list_random.py; big hashes (past the random-pick index) in random
#                 sequences vs redis-server, test_hash_random.py;
#                 random SORT invocations over random data vs redis-server, test_sort_random.py;
#                 seeded random stream sequences (explicit and automatic IDs, trims, deletes,
#                 groups, claims, pending queries) vs redis-server with restarts in between,
#                 test_stream_random.py
#   differential  the same command sequences against both servers, replies compared byte for
#                 byte, differential.py + sequences*.txt (one file per command family)
#   blocking      blocking commands with several clients (FIFO, timeouts, MULTI, CLIENT UNBLOCK,
#                 KILL, RESP3), each scenario also run against redis-server, test_blocking.py;
#                 XREAD/XREADGROUP BLOCK, test_stream_blocking.py
#   pubsub        pub/sub, keyspace notifications, client-side caching: the same scenarios on
#                 both servers, message streams compared byte for byte (RESP2 and RESP3),
#                 test_pubsub.py (skipped without redis-server)
#   cli           redis-cli: --pipe mass insert, --scan, -3, INFO, test_cli.py
#   hiredis       hiredis_test.c compiled here with -lhiredis
#   restart       durability across SIGTERM / kill -9 / DEBUG RELOAD / flushes, test_restart.py;
#                 streams under kill -9 (acknowledged XADDs, last-id, PEL), test_stream_crash.py
#   scripting     EVAL/FUNCTION end to end, test_scripting.py: a generated script corpus vs
#                 redis-server, busy scripts (BUSY, SCRIPT/FUNCTION KILL, rollback of a killed
#                 writing script), kill -9 mid-stream (scripts whole or absent), functions
#                 surviving kill -9, DUMP/RESTORE, redis-py's Lua lock unchanged
#   hostile       malformed RESP, limits (maxclients, query/output buffers), protected mode,
#                 requirepass, DEBUG and protected configs, side by side with redis-server,
#                 test_hostile.py
#   iowait        commands whose keys are not in memory wait for their reads off the loop: other
#                 clients served meanwhile (DEBUG DISK-READ-DELAY), order, MULTI/WATCH, scripts,
#                 disconnect/KILL/RELOAD while parked, concurrent clients, test_io_wait.py
#   crash         kill -9 crash harness: concurrent pipelined clients, kills during flushes and
#                 compactions, every acknowledged reply checked (crash_harness.py --suite;
#                 KT_CRASH_CYCLES, KT_CRASH_EVERYSEC_CYCLES, KT_CRASH_SEED, KT_CRASH_CLIENTS;
# Prints PASS/FAIL per test and a summary; exits non-zero on any failure. Every server started
# is killed on exit (trap), the temp dir removed (kept with KT_KEEP=1).
# Pointing it at redis-server itself (run.sh "$(command -v redis-server)") checks the suite:
# Kevo-only checks are skipped then.
# Env: KT_ONLY=substring runs only matching test names; KT_TIMEOUT per-suite limit (s).
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -lt 1 ]; then
    echo "usage: $0 KEVO_BINARY [redispy|differential|blocking|pubsub|cli|hiredis|restart|scripting|hostile|diskfull|iowait|crash ...]" >&2
    exit 2
fi
bin="$1"; shift
case "$bin" in /*) ;; *) bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" ;; esac
if [ ! -x "$bin" ]; then
    echo "run.sh: $bin is not an executable" >&2
    exit 2
fi
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(redispy differential blocking pubsub cli hiredis restart scripting hostile diskfull iowait crash)

PY=/usr/bin/python3
if ! "$PY" -c 'import redis' 2>/dev/null; then
    echo "run.sh: $PY cannot import redis (install python3-redis: bash scripts/install-deps.sh test)" >&2
    exit 2
fi

tmp="$(mktemp -d /tmp/kevo-compat.XXXXXX)"
export KT_TMP="$tmp" KT_PIDFILE="$tmp/pids" KT_SUMMARY="$tmp/summary" KEVO_BIN="$bin"
: > "$KT_PIDFILE"; : > "$KT_SUMMARY"
if [ "$(basename "$bin")" = "redis-server" ]; then export KT_TARGET=redis; else export KT_TARGET=kevo; fi

cleanup() {
    local pid
    local pid cwd
    # a running suite first (its own exit handlers stop the servers it started)
    if [ -n "${SUITE_PID:-}" ] && kill -0 "$SUITE_PID" 2>/dev/null; then
        kill -TERM "$SUITE_PID" 2>/dev/null
        sleep 1
        kill -KILL "$SUITE_PID" 2>/dev/null
    fi
    # then every server that is still ours: all of them run with their working directory
    # inside $tmp (a pid that exited may have been reused by an unrelated process)
    while read -r pid; do
        [ -n "$pid" ] || continue
        cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null || true)"
        case "$cwd" in "$tmp"/*) kill -9 "$pid" 2>/dev/null ;; esac
    done < "$KT_PIDFILE"
    if [ "${KT_KEEP:-0}" = 1 ]; then echo "run.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ping() { # port pid
    local i
    for i in $(seq 1 200); do
        kill -0 "$2" 2>/dev/null || return 1
        if "$PY" - "$1" <<'EOF' 2>/dev/null; then return 0; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"*1\r\n$4\r\nPING\r\n")
sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
EOF
        sleep 0.1
    done
    return 1
}

start_kevo() {
    local i
    for i in 1 2 3; do
        KEVO_PORT="$(free_port)"
        mkdir -p "$tmp/kevo"
        if [ "$KT_TARGET" = redis ]; then
            (cd "$tmp/kevo" && exec "$bin" --port "$KEVO_PORT" --bind 127.0.0.1 --dir "$tmp/kevo" \
                --appendonly yes --appendfsync everysec --save '' --hz 10 \
                --enable-debug-command yes >>"$tmp/kevo/server.log" 2>&1) &
        else
            (cd "$tmp/kevo" && exec "$bin" --port "$KEVO_PORT" --bind 127.0.0.1 --dir "$tmp/kevo" \
                --appendfsync everysec --hz 10 --enable-debug-command yes \
                >>"$tmp/kevo/server.log" 2>&1) &
        fi
        KEVO_PID=$!; disown "$KEVO_PID"
        echo "$KEVO_PID" >> "$KT_PIDFILE"
        if wait_ping "$KEVO_PORT" "$KEVO_PID"; then export KEVO_PORT; return 0; fi
        kill -9 "$KEVO_PID" 2>/dev/null
    done
    echo "run.sh: $bin did not start; log:" >&2
    tail -n 30 "$tmp/kevo/server.log" >&2
    return 1
}

start_redis() {
    REDIS_PORT=""
    local rs i
    rs="$(command -v redis-server || true)"
    if [ -z "$rs" ]; then echo "run.sh: redis-server not installed: differential suite skipped"; export REDIS_PORT; return 0; fi
    mkdir -p "$tmp/redis"
    for i in 1 2 3; do
        REDIS_PORT="$(free_port)"
        (cd "$tmp/redis" && exec "$rs" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$tmp/redis" \
            --save '' --appendonly no --hz 10 --enable-debug-command yes --daemonize no \
            --logfile '' >>"$tmp/redis/server.log" 2>&1) &
        REDIS_PID=$!; disown "$REDIS_PID"
        echo "$REDIS_PID" >> "$KT_PIDFILE"
        if wait_ping "$REDIS_PORT" "$REDIS_PID"; then export REDIS_PORT; return 0; fi
        kill -9 "$REDIS_PID" 2>/dev/null
    done
    echo "run.sh: reference redis-server did not start: differential suite skipped" >&2
    REDIS_PORT=""; export REDIS_PORT
    return 0
}

start_kevo || exit 1
start_redis
echo "run.sh: server under test $bin ($KT_TARGET) on port $KEVO_PORT, reference redis on port ${REDIS_PORT:-none}"

# runs one suite under a time limit, in the background so that INT/TERM reach the traps at once
run_bounded() {
    timeout -k 5 "$limit" "$@" &
    SUITE_PID=$!
    wait "$SUITE_PID"
    local r=$?
    SUITE_PID=""
    if [ $r -eq 124 ] || [ $r -eq 137 ]; then
        echo "run.sh: suite timed out after ${limit}s: $*" >&2
        echo "  FAIL timeout: $* ran longer than ${limit}s" >> "$KT_SUMMARY"
    fi
    return $r
}

t_start=$(date +%s)
limit="${KT_TIMEOUT:-300}"
rc=0
for s in "${suites[@]}"; do
    echo "=== suite $s"
    # the main server must still be up for each suite; restart it if an earlier suite killed it
    if ! kill -0 "$KEVO_PID" 2>/dev/null; then
        echo "run.sh: server under test died during the previous suite; log tail:" >&2
        tail -n 20 "$tmp/kevo/server.log" >&2
        echo "$s 0 1 0" >> "$KT_SUMMARY"
        echo "  FAIL $s/server-alive: server under test exited before suite $s" >> "$KT_SUMMARY"
        start_kevo || { rc=1; break; }
    fi
    case "$s" in
        redispy)      run_bounded "$PY" "$here/test_redispy.py" || rc=1
                      run_bounded "$PY" "$here/test_types_random.py" || rc=1
                      run_bounded "$PY" "$here/test_zset_random.py" || rc=1
                      run_bounded "$PY" "$here/test_list_random.py" || rc=1
                      run_bounded "$PY" "$here/test_hash_random.py" || rc=1
                      run_bounded "$PY" "$here/test_sort_random.py" || rc=1
                      run_bounded "$PY" "$here/test_stream_random.py" || rc=1 ;;
        differential)
            if [ -n "$REDIS_PORT" ]; then
                run_bounded "$PY" "$here/differential.py" "$here"/sequences*.txt || rc=1
            else
                echo "differential 0 0 1" >> "$KT_SUMMARY"
            fi ;;
        blocking)     run_bounded "$PY" "$here/test_blocking.py" || rc=1
                      run_bounded "$PY" "$here/test_stream_blocking.py" || rc=1 ;;
        pubsub)       run_bounded "$PY" "$here/test_pubsub.py" || rc=1 ;;
        cli)          run_bounded "$PY" "$here/test_cli.py" || rc=1 ;;
        hiredis)
            if cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -O1 -o "$tmp/hiredis_test" \
                    "$here/hiredis_test.c" -lhiredis 2>"$tmp/hiredis_cc.log"; then
                out="$(timeout -k 5 "$limit" "$tmp/hiredis_test" 127.0.0.1 "$KEVO_PORT" 2>&1)"; r=$?
                echo "$out"
                p=$(grep -c '^PASS' <<<"$out"); f=$(grep -c '^FAIL' <<<"$out"); k=$(grep -c '^SKIP' <<<"$out")
                if [ $r -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL hiredis_test exited with $r"; fi
                echo "hiredis $p $f $k" >> "$KT_SUMMARY"
                grep '^FAIL' <<<"$out" | sed 's/^/  FAIL hiredis\//' >> "$KT_SUMMARY"
                [ $r -ne 0 ] && rc=1
            else
                cat "$tmp/hiredis_cc.log" >&2
                echo "hiredis 0 1 0" >> "$KT_SUMMARY"
                echo "  FAIL hiredis/compile: cc hiredis_test.c -lhiredis failed" >> "$KT_SUMMARY"
                rc=1
            fi ;;
        restart)      run_bounded "$PY" "$here/test_restart.py" || rc=1
                      run_bounded "$PY" "$here/test_stream_crash.py" || rc=1 ;;
        scripting)    run_bounded "$PY" "$here/test_scripting.py" || rc=1 ;;
        hostile)      run_bounded "$PY" "$here/test_hostile.py" || rc=1 ;;
        diskfull)     run_bounded "$PY" "$here/test_diskfull.py" || rc=1 ;;
        iowait)       run_bounded "$PY" "$here/test_io_wait.py" || rc=1 ;;
        crash)        run_bounded "$PY" "$here/crash_harness.py" --suite || rc=1 ;;
        *) echo "run.sh: unknown suite $s" >&2; rc=1 ;;
    esac
done

# the server under test must shut down cleanly on SIGTERM
if kill -0 "$KEVO_PID" 2>/dev/null; then
    kill -TERM "$KEVO_PID"
    for i in $(seq 1 300); do kill -0 "$KEVO_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$KEVO_PID" 2>/dev/null; then
        echo "run.sh: server under test did not exit within 30s of SIGTERM" >&2
        echo "  FAIL shutdown: no exit within 30s of SIGTERM" >> "$KT_SUMMARY"; rc=1
    fi
else
    echo "run.sh: server under test was not running at the end" >&2
    echo "  FAIL shutdown: server under test not running at the end" >> "$KT_SUMMARY"; rc=1
fi

# sanitizer builds (make SANITIZER=...): any report in a server log is a failure
san="$(grep -rhE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' \
        "$tmp" --include=server.log 2>/dev/null | head -n 5 || true)"
if [ -n "$san" ]; then
    echo "run.sh: sanitizer reports in server logs:" >&2
    echo "$san" >&2
    echo "sanitizer 0 1 0" >> "$KT_SUMMARY"
    while IFS= read -r l; do echo "  FAIL sanitizer: $l"; done <<<"$san" >> "$KT_SUMMARY"
    rc=1
fi

echo
echo "==================== redis-compat summary ($(( $(date +%s) - t_start ))s)"
tp=0; tf=0; tk=0
while read -r name p f k; do
    case "$name" in FAIL) continue ;; esac
    [ -z "$name" ] && continue
    printf '  %-14s %4d passed %4d failed %4d skipped\n' "$name" "$p" "$f" "$k"
    tp=$((tp + p)); tf=$((tf + f)); tk=$((tk + k))
done < <(grep -v '^  ' "$KT_SUMMARY")
printf '  %-14s %4d passed %4d failed %4d skipped\n' TOTAL "$tp" "$tf" "$tk"
grep '^  FAIL' "$KT_SUMMARY" || true
[ "$tf" -gt 0 ] && rc=1
if [ $rc -ne 0 ]; then echo "redis-compat: FAILED"; else echo "redis-compat: OK"; fi
exit $rc
