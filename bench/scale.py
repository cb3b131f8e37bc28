#!/usr/bin/python3
"""scale.py - the Python side of bench/bench-scale.sh (loads, deletes, collections, sampling).

  scale.py load --port P --pid PID --size N --value V [--conns 4] [--lo 0] --csv FILE [--memfile F]
      SET N keys key:%012d (ids lo..lo+N-1, written in a scattered order: id = lo + (i * A) mod N
      with A coprime to N, so every key is written exactly once, spread over the key space as a
      random order would) with os.urandom values of V bytes, pipelines of 1000 SETs over CONNS
      connections (one process each). Samples every second into CSV: acknowledged keys, keys/s,
      server RSS (/proc/PID/status VmRSS), the memory cgroup's usage (page cache included) and
      INFO lsm_* figures. Prints key=value lines at the end.
  scale.py space --port P --size N --reserve R --value V --dir D [--timeout 600] --csv FILE
      DEL a random half of the ids (chosen among ids >= R: ids < R stay, the benches read them),
      EXPIRE another SIZE/5 ids with TTLs of 5-10 s (one command per key, pipelines of 1000 over
      CONNS connections), waits for the TTLs to pass (then creates the file MARK if given), then polls the table bytes and the
      directory's disk usage every 5 s until they are within 1.3x of the live data (live keys x
      (V + 16)), without sending COMPACT; gives up after TIMEOUT s, or after IDLE s in which no
      flush or compaction ran and neither the table bytes nor DBSIZE (expired keys being reaped)
      moved.
  scale.py colls-load --port P [--members 1000000]
      coll:hash, coll:zset, coll:list, coll:stream with MEMBERS members each, and the same with 100
      members (coll100:*), pipelined.
  scale.py colls-read --port P [--members 1000000] [--calls 300]
      HGET / ZSCORE / LINDEX / XRANGE (COUNT 100 from a random point of the middle half) on the big
      and the 100-member keys: mean / p50 / p99 / max microseconds per call (raw socket client).
  scale.py info --port P FIELD...
"""
import argparse
import math
import multiprocessing as mp
import os
import random
import socket
import sys
import time

KEYFMT = b"key:%012d"
KEYLEN = 16
BATCH = 1000


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """A minimal RESP2 client over one socket (enough for these benches)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise ConnectionError("server closed the connection")
        if self.pos > 1 << 20:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += d

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def reply(self):
        line = self._line()
        t = line[:1]
        if t == b"+":
            return line[1:]
        if t == b"-":
            return RuntimeError(line[1:].decode())
        if t == b":":
            return int(line[1:])
        if t == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            v = bytes(self.buf[self.pos:self.pos + n])
            self.pos += n + 2
            return v
        if t == b"*":
            n = int(line[1:])
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    def call(self, *args):
        self.s.sendall(enc(*args))
        r = self.reply()
        if isinstance(r, RuntimeError):
            raise r
        return r

    def pipeline(self, payload, n):
        """send n commands already encoded, read n replies; return the number of error replies"""
        self.s.sendall(payload)
        errs = 0
        for _ in range(n):
            if isinstance(self.reply(), RuntimeError):
                errs += 1
        return errs

    def pipeline_ok(self, payload, n):
        """n commands whose replies are all +OK (SET): fast path, falls back to parsing"""
        self.s.sendall(payload)
        want = 5 * n
        while len(self.buf) - self.pos < want:
            self._fill()
        if self.buf[self.pos:self.pos + want] == b"+OK\r\n" * n:
            self.pos += want
            return 0
        errs = 0
        for _ in range(n):
            if isinstance(self.reply(), RuntimeError):
                errs += 1
        return errs


def info(c):
    d = {}
    for line in c.call("INFO").decode().splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            d[k] = v
    return d


def coprime_mult(n, seed):
    if n <= 2:
        return 1
    a = int(n * 0.6180339887) | 1
    a += seed
    while math.gcd(a, n) != 1:
        a += 1
    return a % n or 1


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


# ------------------------------------------------------------------------------------- load
def load_worker(port, lo, n, a, start, end, value, done, slot, maxlat, errs):
    c = Conn(port)
    mid = b"\r\n$%d\r\n" % value
    head = b"*3\r\n$3\r\nSET\r\n$%d\r\n" % KEYLEN
    i = start
    worst = 0.0
    nerr = 0
    while i < end:
        m = min(BATCH, end - i)
        vals = os.urandom(m * value)
        parts = []
        for j in range(m):
            k = KEYFMT % (lo + (i + j) * a % n)
            parts.append(head + k + mid + vals[j * value:(j + 1) * value] + b"\r\n")
        t0 = time.perf_counter()
        nerr += c.pipeline_ok(b"".join(parts), m)
        dt = time.perf_counter() - t0
        worst = max(worst, dt)
        i += m
        done[slot] = i - start
    maxlat[slot] = worst
    errs[slot] = nerr


def cmd_load(a):
    n, conns = a.size, a.conns
    mult = coprime_mult(n, 7)
    done = mp.Array("q", conns, lock=False)
    maxlat = mp.Array("d", conns, lock=False)
    errs = mp.Array("q", conns, lock=False)
    procs = []
    for p in range(conns):
        s, e = n * p // conns, n * (p + 1) // conns
        pr = mp.Process(target=load_worker, args=(a.port, a.lo, n, mult, s, e, a.value, done, p, maxlat, errs))
        procs.append(pr)
    c = Conn(a.port)
    i0 = info(c)
    t0 = time.time()
    for pr in procs:
        pr.start()
    f = open(a.csv, "w")
    cols = ["t_s", "keys", "keys_per_s", "rss_mb", "cgroup_mb", "lsm_stall_count", "lsm_stall_ms",
            "l0_files", "imm_memtables", "pending_compaction_mb", "flush_mb", "compaction_mb",
            "sst_mb"]
    f.write(",".join(cols) + "\n")
    prev_keys, prev_t = 0, t0
    peak_rss = peak_cg = 0
    max_stall_step_ms = 0.0
    prev_stall = int(i0.get("lsm_stall_micros", 0))
    zero_secs = 0
    tick = t0
    while True:
        alive = any(pr.is_alive() for pr in procs)
        tick += 1.0
        while alive and time.time() < tick:
            time.sleep(0.05)
            alive = any(pr.is_alive() for pr in procs)
        t = time.time()
        keys = sum(done)
        try:
            d = info(c)
        except (OSError, ConnectionError):
            break
        rss = rss_kb(a.pid) / 1024.0
        cg = read_int(a.memfile) / 1048576.0 if a.memfile else 0.0
        peak_rss, peak_cg = max(peak_rss, rss), max(peak_cg, cg)
        stall = int(d.get("lsm_stall_micros", 0))
        max_stall_step_ms = max(max_stall_step_ms, (stall - prev_stall) / 1000.0)
        prev_stall = stall
        rate = (keys - prev_keys) / max(t - prev_t, 1e-6)
        if rate == 0 and alive:
            zero_secs += 1
        row = [t - t0, keys, rate, rss, cg, int(d.get("lsm_stall_count", 0)), stall / 1000.0,
               int(d.get("lsm_level0_files", 0)), int(d.get("lsm_immutable_memtables", 0)),
               int(d.get("lsm_pending_compaction_bytes", 0)) / 1048576.0,
               int(d.get("lsm_flush_bytes_written", 0)) / 1048576.0,
               int(d.get("lsm_compaction_bytes_written", 0)) / 1048576.0,
               int(d.get("lsm_total_sst_bytes", 0)) / 1048576.0]
        f.write(",".join("%.2f" % x if isinstance(x, float) else str(x) for x in row) + "\n")
        f.flush()
        prev_keys, prev_t = keys, t
        if not alive:
            break
    for pr in procs:
        pr.join()
    secs = time.time() - t0
    f.close()
    bad = [pr.exitcode for pr in procs if pr.exitcode != 0]
    d = info(c)
    print("keys=%d secs=%.1f keys_per_s=%.0f peak_rss_mb=%.1f peak_cgroup_mb=%.1f "
          "max_batch_ms=%.0f max_stall_ms_in_1s=%.0f zero_progress_secs=%d errors=%d workers_failed=%d"
          % (sum(done), secs, sum(done) / secs, peak_rss, peak_cg, max(maxlat) * 1000,
             max_stall_step_ms, zero_secs, sum(errs), len(bad)))
    print("stall_count=%d stall_micros=%d" % (int(d["lsm_stall_count"]) - int(i0.get("lsm_stall_count", 0)),
                                               int(d["lsm_stall_micros"]) - int(i0.get("lsm_stall_micros", 0))))
    return 1 if bad or sum(errs) else 0


# ------------------------------------------------------------------------------------ space
def du_bytes(path):
    tot = 0
    for root, _, files in os.walk(path):
        for fn in files:
            try:
                tot += os.lstat(os.path.join(root, fn)).st_blocks * 512
            except OSError:
                pass
    return tot


def send_ids(port, cmdfn, ids, conns):
    """one command per id, pipelined BATCH per round trip, over CONNS connections (processes);
    returns the number of error replies"""
    errs = mp.Array("q", conns, lock=False)

    def work(slot):
        c = Conn(port)
        part = ids[slot::conns]
        rng = random.Random(slot)
        for i in range(0, len(part), BATCH):
            chunk = part[i:i + BATCH]
            errs[slot] += c.pipeline(b"".join(cmdfn(x, rng) for x in chunk), len(chunk))

    procs = [mp.Process(target=work, args=(k,)) for k in range(conns)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join()
    return sum(errs) + sum(1 for pr in procs if pr.exitcode != 0) * 1000000000


def cmd_space(a):
    n, r = a.size, a.reserve
    span = n - r
    ndel, nexp = n // 2, n // 5
    if ndel + nexp > span:
        print("error=reserve too large", file=sys.stderr)
        return 2
    mult = coprime_mult(span, 11)
    off = span // 3
    perm = lambda j: r + (j * mult + off) % span
    c = Conn(a.port)
    before = info(c)
    keys_before = c.call("DBSIZE")
    t0 = time.time()
    dels = [perm(j) for j in range(ndel)]
    exps = [perm(j) for j in range(ndel, ndel + nexp)]
    e1 = send_ids(a.port, lambda x, rng: enc(b"DEL", KEYFMT % x), dels, a.conns)
    t_del = time.time() - t0
    t1 = time.time()
    e2 = send_ids(a.port, lambda x, rng: enc(b"EXPIRE", KEYFMT % x, rng.randint(5, 10)), exps, a.conns)
    t_exp = time.time() - t1
    t_expire_set = time.time()
    # wait until the last TTL has passed
    while time.time() < t_expire_set + 11:
        time.sleep(0.5)
    live = keys_before - ndel - nexp
    live_bytes = live * (a.value + KEYLEN)
    d = info(c)
    sst0 = int(d["lsm_total_sst_bytes"])
    du0 = du_bytes(a.dir)
    print("keys_before=%d deleted=%d expired=%d live=%d live_bytes=%d del_secs=%.1f del_per_s=%.0f "
          "expire_secs=%.1f errors=%d" % (keys_before, ndel, nexp, live, live_bytes, t_del,
                                          ndel / max(t_del, 1e-6), t_exp, e1 + e2))
    print("sst_before=%d dbsize_after_ttl=%d sst_after=%d du_after=%d"
          % (int(before["lsm_total_sst_bytes"]), c.call("DBSIZE"), sst0, du0))
    sys.stdout.flush()
    if a.mark:
        open(a.mark, "w").close()
    f = open(a.csv, "w")
    f.write("t_s,sst_mb,du_mb,dbsize,compactions,reclaim_compactions,deletion_compactions,"
            "tombstones_dropped,expired_dropped\n")
    start = time.time()
    reached = None
    idle_since, last = start, None
    why = "timeout"
    while True:
        d = info(c)
        sst = int(d["lsm_total_sst_bytes"])
        dbsize = c.call("DBSIZE")
        state = (sst, dbsize, d.get("lsm_compactions"), d.get("lsm_flushes"), d.get("lsm_running_compactions"))
        if state != last:
            idle_since, last = time.time(), state
        du = du_bytes(a.dir)
        el = time.time() - start
        f.write("%.1f,%.1f,%.1f,%d,%s,%s,%s,%s,%s\n" % (
            el, sst / 1048576.0, du / 1048576.0, dbsize, d.get("lsm_compactions"),
            d.get("lsm_reclaim_compactions"), d.get("lsm_deletion_compactions"),
            d.get("lsm_tombstones_dropped"), d.get("lsm_expired_dropped")))
        f.flush()
        if sst <= a.ratio * live_bytes and du <= a.ratio * live_bytes:
            reached = el
            break
        if el >= a.timeout:
            break
        if a.idle and time.time() - idle_since >= a.idle:
            why = "idle"
            break
        time.sleep(5)
    d = info(c)
    print("stopped=%s idle_secs=%.0f" % ("reached" if reached is not None else why, time.time() - idle_since))
    print("reached=%s secs=%.0f sst_final=%d du_final=%d dbsize_final=%d tombstones_dropped=%s "
          "expired_dropped=%s reclaim_compactions=%s deletion_compactions=%s"
          % ("yes" if reached is not None else "no", reached if reached is not None else time.time() - start,
             int(d["lsm_total_sst_bytes"]), du_bytes(a.dir), c.call("DBSIZE"),
             d.get("lsm_tombstones_dropped"), d.get("lsm_expired_dropped"),
             d.get("lsm_reclaim_compactions"), d.get("lsm_deletion_compactions")))
    return 0


# ------------------------------------------------------------------------------ collections
def cmd_colls_load(a):
    m = a.members
    c = Conn(a.port)
    c.call("DEL", "coll:hash", "coll:zset", "coll:list", "coll:stream",
           "coll100:hash", "coll100:zset", "coll100:list", "coll100:stream")

    def batches(kind, key, n):
        if kind == "stream":  # one XADD per entry, explicit IDs <i+1>-0
            for i in range(0, n, BATCH):
                yield b"".join(enc(b"XADD", key, b"%d-0" % (j + 1), b"f", b"v%d" % j)
                               for j in range(i, min(i + BATCH, n))), min(BATCH, n - i)
            return
        for i in range(0, n, BATCH * 50):  # 50 commands of 1000 members per round trip
            cmds = []
            for s in range(i, min(i + BATCH * 50, n), BATCH):
                rng_ = range(s, min(s + BATCH, n))
                if kind == "hash":
                    args = [b"HSET", key] + [x for j in rng_ for x in (b"f%d" % j, b"v%d" % j)]
                elif kind == "zset":
                    args = [b"ZADD", key] + [x for j in rng_ for x in (b"%d" % j, b"m%d" % j)]
                else:
                    args = [b"RPUSH", key] + [b"e%d" % j for j in rng_]
                cmds.append(enc(*args))
            yield b"".join(cmds), len(cmds)

    for kind in ("hash", "zset", "list", "stream"):
        for key, n in ((b"coll:" + kind.encode(), m), (b"coll100:" + kind.encode(), 100)):
            t0 = time.time()
            errs = 0
            for payload, k in batches(kind, key, n):
                errs += c.pipeline(payload, k)
            dt = time.time() - t0
            if n == m:
                print("load_%s members=%d secs=%.1f members_per_s=%.0f errors=%d" % (kind, n, dt, n / dt, errs))
    sizes = (c.call("HLEN", "coll:hash"), c.call("ZCARD", "coll:zset"), c.call("LLEN", "coll:list"),
             c.call("XLEN", "coll:stream"))
    print("sizes hash=%d zset=%d list=%d stream=%d" % sizes)
    return 0 if all(s == m for s in sizes) else 1


def stats(lat):
    """lat in call order: mean, percentiles and the first (coldest) call"""
    us = sorted(lat)
    p = lambda q: us[min(len(us) - 1, int(math.ceil(q / 100.0 * len(us))) - 1)]
    return "mean_us=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f first_us=%.0f" % (
        sum(us) / len(us), p(50), p(99), us[-1], lat[0])


def cmd_colls_read(a):
    c = Conn(a.port)
    rng = random.Random(5)

    def ops(kind, key, n):
        if kind == "hash":
            return lambda: (b"HGET", key, b"f%d" % rng.randrange(n))
        if kind == "zset":
            return lambda: (b"ZSCORE", key, b"m%d" % rng.randrange(n))
        if kind == "list":
            return lambda: (b"LINDEX", key, rng.randrange(n))
        lo_, hi_ = n // 4, max(n * 3 // 4 - 100, n // 4 + 1)
        return lambda: (b"XRANGE", key, b"%d-0" % (rng.randrange(lo_, hi_) + 1), b"+", b"COUNT", b"100")

    for kind in ("hash", "zset", "list", "stream"):
        for label, key, n in (("big", b"coll:" + kind.encode(), a.members), ("small", b"coll100:" + kind.encode(), 100)):
            gen = ops(kind, key, n)
            lat = []
            bad = 0
            for i in range(a.calls):
                args = gen()
                t0 = time.perf_counter()
                r = c.call(*args)
                lat.append((time.perf_counter() - t0) * 1e6)
                if r is None or (kind == "stream" and len(r) != (100 if n > 200 else len(r))):
                    bad += 1
            print("%s %s %s calls=%d bad=%d" % (kind, label, stats(lat), a.calls, bad))
    return 0


def cmd_info(a):
    d = info(Conn(a.port))
    for f in a.fields:
        print("%s=%s" % (f, d.get(f, "")))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("load")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--value", type=int, default=1024)
    p.add_argument("--lo", type=int, default=0)
    p.add_argument("--conns", type=int, default=4)
    p.add_argument("--csv", required=True)
    p.add_argument("--memfile", default="")
    p = sub.add_parser("space")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--reserve", type=int, required=True)
    p.add_argument("--value", type=int, default=1024)
    p.add_argument("--dir", required=True)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--ratio", type=float, default=1.3)
    p.add_argument("--idle", type=float, default=0)
    p.add_argument("--mark", default="")
    p.add_argument("--conns", type=int, default=4)
    p.add_argument("--csv", required=True)
    p = sub.add_parser("colls-load")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--members", type=int, default=1000000)
    p = sub.add_parser("colls-read")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--members", type=int, default=1000000)
    p.add_argument("--calls", type=int, default=300)
    p = sub.add_parser("info")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("fields", nargs="+")
    a = ap.parse_args()
    return {"load": cmd_load, "space": cmd_space, "colls-load": cmd_colls_load,
            "colls-read": cmd_colls_read, "info": cmd_info}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
