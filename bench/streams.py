#!/usr/bin/python3
"""streams.py KEVO_BINARY - a big stream on kevo-server and redis-server side by side (each
started here, everysec; Redis with AOF), one 1M-entry stream each:

  build      entries/s loading the stream (pipelined XADD with explicit IDs)
  XRANGE     100 entries from the middle of the stream, mean us per call (and the same on a
             1000-entry stream: ~1 means only what is returned was read)
  XLEN       mean us per call
  XTRIM      MAXLEN 100000 (900k entries removed): seconds for the one call
  RSS        peak and final resident memory of both servers
  space      Kevo: data directory bytes (tables + WAL) after the build, right after the trim,
             after the engine's own compactions for a while (no COMPACT sent), and after a
             COMPACT; Redis: used_memory before/after the trim
Knobs (environment): SIZE (default 1000000), CALLS (default 2000), SETTLE (s, default 60).
Needs python3-redis. Servers run on free 127.0.0.1 ports in a temp dir, removed at exit.
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
SETTLE = float(os.environ.get("SETTLE", "60"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_up(r):
    for _ in range(200):
        try:
            r.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def dir_bytes(d):
    n = 0
    for root, _, files in os.walk(d):
        for f in files:
            try:
                n += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return n


def rss_mb(pid):
    """(VmRSS, VmHWM) of pid in MB, from /proc."""
    vals = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                vals[line.split(":")[0]] = int(line.split()[1]) / 1024
    return vals.get("VmRSS", 0), vals.get("VmHWM", 0)


def timed(fn, n):
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n * 1e6


def build(r, key, n):
    value = "x" * 20
    t0 = time.perf_counter()
    p = r.pipeline(transaction=False)
    for i in range(1, n + 1):
        p.execute_command("XADD", key, "%d-0" % i, "field", value)
        if i % 1000 == 0:
            p.execute()
    p.execute()
    return n / (time.perf_counter() - t0)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="kevo-streams.")
    kp, rp = free_port(), free_port()
    kdir = tmp + "/kevo"
    os.makedirs(kdir)
    os.makedirs(tmp + "/redis")
    procs = [subprocess.Popen([binary, "--port", str(kp), "--bind", "127.0.0.1", "--dir", kdir,
                               "--appendfsync", "everysec", "--logfile", tmp + "/kevo.log"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
             subprocess.Popen(["redis-server", "--port", str(rp), "--bind", "127.0.0.1",
                               "--dir", tmp + "/redis", "--save", "", "--appendonly", "yes",
                               "--appendfsync", "everysec", "--daemonize", "no",
                               "--logfile", tmp + "/redis.log"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        k, rd = redis.Redis(port=kp), redis.Redis(port=rp)
        wait_up(k)
        wait_up(rd)
        print("# streams: a %d-entry stream (1 field, 20-byte value), %d samples per figure" % (SIZE, CALLS))
        print("%-34s %12s %12s %7s" % ("", "redis", "kevo", "k/r"))
        rates = {}
        for name, r in (("redis", rd), ("kevo", k)):
            rates[name] = build(r, "big", SIZE)
            build(r, "small", 1000)
        print("%-34s %12.0f %12.0f %7.2f" % ("build entries/s", rates["redis"], rates["kevo"],
                                             rates["kevo"] / rates["redis"]))
        eq = [r.xlen("big") for r in (rd, k)]
        assert eq == [SIZE, SIZE], eq
        kbuild = dir_bytes(kdir)

        def row(label, fn_for):
            ts = {}
            for name, r in (("redis", rd), ("kevo", k)):
                ts[name] = timed(fn_for(r), CALLS)
            print("%-34s %10.1fus %10.1fus %7.2f" % (label, ts["redis"], ts["kevo"], ts["kevo"] / ts["redis"]))
            return ts

        mid = SIZE // 2
        big = row("XRANGE 100 from the middle",
                  lambda r: (lambda i: r.execute_command("XRANGE", "big", "%d-0" % (mid + i % 1000), "+", "COUNT", "100")))
        small = row("XRANGE 100 of a 1000-entry stream",
                    lambda r: (lambda i: r.execute_command("XRANGE", "small", "%d-0" % (1 + i % 900), "+", "COUNT", "100")))
        print("%-34s %12.2f %12.2f" % ("  big/small time ratio", big["redis"] / small["redis"], big["kevo"] / small["kevo"]))
        row("XREVRANGE 100 from the middle",
            lambda r: (lambda i: r.execute_command("XREVRANGE", "big", "%d-0" % (mid + i % 1000), "-", "COUNT", "100")))
        row("XLEN", lambda r: (lambda i: r.xlen("big")))

        rmem0 = int(rd.info("memory")["used_memory"])
        tt = {}
        for name, r in (("redis", rd), ("kevo", k)):
            t0 = time.perf_counter()
            n = r.execute_command("XTRIM", "big", "MAXLEN", str(SIZE // 10))
            tt[name] = time.perf_counter() - t0
            assert n == SIZE - SIZE // 10, n
        print("%-34s %11.3fs %11.3fs %7.2f" % ("XTRIM MAXLEN %d (%d removed)" % (SIZE // 10, SIZE - SIZE // 10),
                                                tt["redis"], tt["kevo"], tt["kevo"] / tt["redis"]))
        row("XRANGE 100 after the trim (head)", lambda r: (lambda i: r.execute_command("XRANGE", "big", "-", "+", "COUNT", "100")))
        rmem1 = int(rd.info("memory")["used_memory"])
        kafter = dir_bytes(kdir)
        t_end = time.perf_counter() + SETTLE
        ksettle = kafter
        while time.perf_counter() < t_end:
            time.sleep(1)
            ksettle = dir_bytes(kdir)
        k.execute_command("COMPACT")
        kcompact = dir_bytes(kdir)
        print("\n# space")
        print("redis used_memory: %.1f MB before the trim, %.1f MB after" % (rmem0 / 1e6, rmem1 / 1e6))
        print("kevo data dir: %.1f MB after the build, %.1f MB right after the trim, %.1f MB %.0f s later"
              " (engine alone), %.1f MB after COMPACT" % (kbuild / 1e6, kafter / 1e6, ksettle / 1e6, SETTLE, kcompact / 1e6))
        for name, p in (("kevo", procs[0]), ("redis", procs[1])):
            rss, hwm = rss_mb(p.pid)
            print("%s RSS: %.0f MB now, %.0f MB peak (build, reads and the trim included)" % (name, rss, hwm))
        return 0
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
