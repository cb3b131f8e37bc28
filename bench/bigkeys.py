#!/usr/bin/python3
"""bigkeys.py KEVO_BINARY - big collections on Kevo: a hash, a set and a sorted set of SIZE
members (default 1,000,000) next to 10-member ones, in one server started here.

Reports, per type:
  build      members/s while loading (pipelined, 1000 members per command), peak RSS
  per-member cost on the big key vs the 10-member key: HGET / SISMEMBER / ZSCORE / ZADD,
             mean microseconds over N calls each, and the ratio big/small
  ranges     ZRANGE 0 99, ZRANGEBYSCORE -inf +inf LIMIT 0 100, ZREVRANGE 0 9 on the big zset vs
             the same on a 100-member one (time ratio: ~1 means only ~100 members were read)
  DEL        reply time of DEL of each big key (O(1))
  space      lsm_total_sst_bytes before/after, and the seconds until the engine gave the space
             back by itself (no COMPACT command is sent)
Knobs (environment): SIZE, CALLS (per-member samples, default 2000), RECLAIM_TIMEOUT (s, 300).
Needs python3-redis. The server runs on a free 127.0.0.1 port in a temp dir, removed at exit.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

SIZE = int(os.environ.get("SIZE", "1000000"))
CALLS = int(os.environ.get("CALLS", "2000"))
RECLAIM_TIMEOUT = float(os.environ.get("RECLAIM_TIMEOUT", "300"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def lsm_info(r, field):
    return int(r.info("lsm")[field])


def timed(fn, n):
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n * 1e6


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="kevo-bigkeys.")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--dir", tmp + "/data",
                             "--appendfsync", "everysec", "--logfile", tmp + "/log"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        print("# bigkeys: %d members per big key, %d samples per figure" % (SIZE, CALLS))
        peak = 0
        for name, add in (("hash", lambda p, k, i: p.hset(k, mapping={"f%d" % j: "v%d" % j for j in range(i, i + 1000)})),
                          ("set", lambda p, k, i: p.sadd(k, *["m%d" % j for j in range(i, i + 1000)])),
                          ("zset", lambda p, k, i: p.zadd(k, {"m%d" % j: j for j in range(i, i + 1000)}))):
            t0 = time.perf_counter()
            p = r.pipeline(transaction=False)
            for i in range(0, SIZE, 1000):
                add(p, "big:" + name, i)
                if (i // 1000) % 50 == 49:
                    p.execute()
                    peak = max(peak, rss_kb(proc.pid))
            p.execute()
            dt = time.perf_counter() - t0
            p = r.pipeline(transaction=False)
            if name == "hash":
                p.hset("small:hash", mapping={"f%d" % j: "v%d" % j for j in range(10)})
            elif name == "set":
                p.sadd("small:set", *["m%d" % j for j in range(10)])
            else:
                p.zadd("small:zset", {"m%d" % j: j for j in range(10)})
                p.zadd("mid:zset", {"m%d" % j: j for j in range(100)})
            p.execute()
            peak = max(peak, rss_kb(proc.pid))
            print("build %-5s %9.0f members/s   peak RSS so far %6.1f MB" % (name, SIZE / dt, peak / 1024.0))
        print("cardinalities: HLEN %d SCARD %d ZCARD %d" % (r.hlen("big:hash"), r.scard("big:set"), r.zcard("big:zset")))

        print("\n# per-member cost, mean us per call (big = %d members, small = 10)" % SIZE)
        rows = [
            ("HGET", lambda k: (lambda i: r.hget(k, "f%d" % (i * 7919 % 10))), "hash"),
            ("SISMEMBER", lambda k: (lambda i: r.sismember(k, "m%d" % (i * 7919 % 10))), "set"),
            ("ZSCORE", lambda k: (lambda i: r.zscore(k, "m%d" % (i * 7919 % 10))), "zset"),
            ("ZADD", lambda k: (lambda i: r.zadd(k, {"m%d" % (i * 7919 % 10): i})), "zset"),
        ]
        for cmd, mk, t in rows:
            big = timed(mk("big:" + t), CALLS)
            small = timed(mk("small:" + t), CALLS)
            print("%-10s big %7.1f   small %7.1f   ratio %.2f" % (cmd, big, small, big / small))

        print("\n# ranges on the big zset vs a 100-member zset, mean us per call")
        for label, fn in (("ZRANGE 0 99", lambda k: r.zrange(k, 0, 99)),
                          ("ZRANGEBYSCORE LIMIT 0 100", lambda k: r.zrangebyscore(k, "-inf", "+inf", start=0, num=100)),
                          ("ZREVRANGE 0 9", lambda k: r.zrevrange(k, 0, 9)),
                          ("ZRANGE -10 -1", lambda k: r.zrange(k, -10, -1))):
            n = max(CALLS // 10, 50)
            big = timed(lambda i: fn("big:zset"), n)
            mid = timed(lambda i: fn("mid:zset"), n)
            print("%-26s big %8.1f   100-member %8.1f   ratio %.2f" % (label, big, mid, big / mid))

        print("\n# DEL of the big keys and the space coming back (no COMPACT sent)")
        before = lsm_info(r, "lsm_total_sst_bytes")
        t_del = time.perf_counter()
        for t in ("hash", "set", "zset"):
            t0 = time.perf_counter()
            n = r.delete("big:" + t)
            print("DEL big:%-5s -> %d in %.2f ms" % (t, n, (time.perf_counter() - t0) * 1e3))
        print("DBSIZE after DEL: %d" % r.dbsize())
        t_end = time.perf_counter() + RECLAIM_TIMEOUT
        after = before
        while time.perf_counter() < t_end:
            after = lsm_info(r, "lsm_total_sst_bytes")
            if after < before * 0.2:
                break
            time.sleep(0.5)
        dt = time.perf_counter() - t_del
        print("table bytes: %.1f MB before DEL, %.1f MB after %.1f s (%s); reclaim compactions %d"
              % (before / 1e6, after / 1e6, dt, "space back" if after < before * 0.2 else "NOT back",
                 lsm_info(r, "lsm_reclaim_compactions")))
        print("peak RSS %.1f MB" % (max(peak, rss_kb(proc.pid)) / 1024.0))
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
