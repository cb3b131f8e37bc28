#!/usr/bin/python3
"""list-middle.py KEVO_BINARY [REDIS_SERVER] - a list of SIZE elements (default 1,000,000) on
Kevo, and the cost of reaching and editing its middle.

Reports:
  build      elements/s while loading (pipelined RPUSH, 1000 elements per command), peak RSS
  LINDEX     at the head (0), the middle (SIZE/2) and near the tail (-2): ms per call
  LSET       at the middle: ms per call
  LINSERT    BEFORE a pivot at ~10% of the list and at the middle (the walk to the pivot, then
             the shorter side moved by one position): ms per call
  LREM       count 1 of an element at ~10% and at the middle (the walk from the head, then the
             shorter side moved): ms per call
  LRANGE     100 elements from the middle: ms per call
  LPUSH/RPOP O(1) ends on the big list: ms per call
Each middle-edit figure is the mean over CALLS calls (default 20; each moves up to ~SIZE/2
records, so keep it small) after one warm-up call; the O(1) figures are means over
max(10 x CALLS, 200) calls after 3 warm-up calls. With REDIS_SERVER (a redis-server binary) the same figures are
measured on it, side by side. Needs python3-redis. Servers run on free 127.0.0.1 ports in a temp
dir, removed at exit.
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
CALLS = int(os.environ.get("CALLS", "20"))


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


def timed(fn, n, warmup=3):
    for i in range(warmup):
        fn(n + i)
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n * 1e3


def start(argv):
    port = free_port()
    proc = subprocess.Popen(argv + ["--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    r = redis.Redis(port=port)
    for _ in range(200):
        try:
            r.ping()
            return proc, r
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("server did not start: %r" % argv)


def measure(r, pid):
    out = {}
    t0 = time.perf_counter()
    for i in range(0, SIZE, 100000):
        p = r.pipeline(transaction=False)
        for j in range(i, min(SIZE, i + 100000), 1000):
            p.rpush("big", *["e%07d" % k for k in range(j, min(SIZE, j + 1000))])
        p.execute()
    dt = time.perf_counter() - t0
    out["build elements/s"] = SIZE / dt
    out["build peak RSS MB"] = rss_kb(pid) / 1024
    mid = SIZE // 2
    tenth = SIZE // 10
    fast = max(CALLS * 10, 200)
    out["LINDEX 0"] = timed(lambda i: r.lindex("big", 0), fast)
    out["LINDEX middle"] = timed(lambda i: r.lindex("big", mid + i), fast)
    out["LINDEX -2"] = timed(lambda i: r.lindex("big", -2), fast)
    out["LSET middle"] = timed(lambda i: r.lset("big", mid + i, "s%d" % i), fast)
    out["LRANGE middle 100"] = timed(lambda i: r.lrange("big", mid, mid + 99), fast)
    # the middle edits: each inserted element is removed again, so warm-up calls stay paired
    out["LINSERT at 10%"] = timed(
        lambda i: r.linsert("big", "BEFORE", "e%07d" % (tenth + i), "i10-%d" % i), CALLS, 1)
    out["LINSERT middle"] = timed(
        lambda i: r.linsert("big", "BEFORE", "e%07d" % (mid + 1000 + i), "im-%d" % i), CALLS, 1)
    out["LREM 1 at 10%"] = timed(lambda i: r.lrem("big", 1, "i10-%d" % i), CALLS, 1)
    out["LREM 1 middle"] = timed(lambda i: r.lrem("big", 1, "im-%d" % i), CALLS, 1)
    out["LPUSH"] = timed(lambda i: r.lpush("big", "h%d" % i), fast, 0)
    out["RPOP"] = timed(lambda i: r.rpop("big"), fast, 0)
    got = r.llen("big")
    if got != SIZE:
        raise SystemExit("LLEN %d, expected %d" % (got, SIZE))
    return out


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    tmp = tempfile.mkdtemp(prefix="kevo-listmid.")
    procs = []
    try:
        kproc, kr = start([os.path.abspath(sys.argv[1]), "--dir", tmp + "/kevo",
                           "--appendfsync", "everysec", "--logfile", tmp + "/kevo.log"])
        procs.append(kproc)
        cols = [("kevo", measure(kr, kproc.pid))]
        if len(sys.argv) > 2:
            os.makedirs(tmp + "/redis")
            rproc, rr = start([sys.argv[2], "--dir", tmp + "/redis", "--save", "",
                               "--appendonly", "no"])
            procs.append(rproc)
            cols.append(("redis", measure(rr, rproc.pid)))
        print("# list-middle: %d elements, %d calls per middle figure (ms per call unless "
              "stated)" % (SIZE, CALLS))
        print("%-22s" % "" + "".join("%14s" % name for name, _ in cols))
        for k in cols[0][1]:
            print("%-22s" % k + "".join("%14.3f" % c[k] if c[k] < 1e5 else "%14.0f" % c[k]
                                        for _, c in cols))
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
