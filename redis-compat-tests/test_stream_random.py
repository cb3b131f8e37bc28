#!/usr/bin/python3
"""Streams beyond fixed sequences (run.sh's redispy suite runs it), against redis-server:

* seeded random command sequences over a few streams (and a string, for WRONGTYPE): XADD with
  explicit IDs (some too small), `ms-*`, `*` (on streams whose last ID is in the future, so the
  ID it makes is deterministic) and every trim form (MAXLEN/MINID, =, ~, LIMIT, NOMKSTREAM),
  XDEL, XTRIM, XRANGE/XREVRANGE, XREAD, XSETID, consumer groups (CREATE, SETID, DESTROY,
  CREATECONSUMER, DELCONSUMER), XREADGROUP (new and history, COUNT, NOACK), XACK, XPENDING
  (both forms, IDLE, consumer filter), XCLAIM (FORCE, JUSTID, RETRYCOUNT, IDLE, LASTID),
  XAUTOCLAIM, XINFO, DEL. Every reply is compared with redis-server's (idle and delivery times
  masked, as differential.py's ~stream mode does). The seed is printed; KT_STREAM_SEED replays
  one, KT_STREAM_OPS sets the length of a phase.
* the server under test is a Kevo of its own (appendfsync always): between phases it is stopped
  (SIGTERM, then kill -9) and started again, and every stream is compared whole (XINFO STREAM,
  XINFO STREAM FULL, XINFO GROUPS/CONSUMERS, every entry) - node layout, groups, PEL and
  consumers survive the restart exactly.
"""
import os
import random
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (RawConn, eq, test, skip, run_all, redis_port, target_is_kevo,  # noqa: E402
                 start_kevo)
from differential import stream_norm  # noqa: E402

STREAMS = ["s0", "s1", "s2", "fut"]
GROUPS = ["g0", "g1", "g2"]
CONSUMERS = ["alice", "bob", "carol", "dave"]
FIELDS = ["f", "g", "name", "1", ""]
VALUES = ["v", "1", "-5", "12345678901", "", "x" * 70, "a\x00b", "y" * 300]
FUTURE_MS = 9000000000000


class Pair:
    def __init__(self, kport, rport):
        self.kport, self.rport = kport, rport
        self.k = RawConn(kport, timeout=60)
        self.r = RawConn(rport, timeout=60)
        self.kmap, self.rmap = {}, {}
        self.n = 0

    def reconnect_kevo(self, port):
        self.k.close()
        self.kport = port
        self.k = RawConn(port, timeout=60)

    def run(self, cmd, what=""):
        args = [a if isinstance(a, bytes) else str(a).encode("latin-1") for a in cmd]
        self.k.send(*args)
        self.r.send(*args)
        (rk, vk), (rr, vr) = self.k.reply(), self.r.reply()
        nk, nr = stream_norm(vk, self.kmap), stream_norm(vr, self.rmap)
        self.n += 1
        if rk[:1] != rr[:1] or nk != nr:
            d = next((i for i in range(min(len(rk), len(rr))) if rk[i] != rr[i]), min(len(rk), len(rr)))
            d = max(0, d - 200)
            raise AssertionError("%s: %s\n  redis ...%r\n  kevo  ...%r" % (
                what, b" ".join(args)[:300].decode("latin-1"), rr[d + 150:d + 400], rk[d + 150:d + 400]))
        return vr


class Gen:
    """Random commands. It remembers a few IDs per stream so that deletes, claims and ranges
    often hit entries."""

    def __init__(self, rng):
        self.rng = rng
        self.next_ms = {s: 1 for s in STREAMS}
        self.next_ms["fut"] = FUTURE_MS + 1
        self.ids = {s: [] for s in STREAMS}

    def stream(self):
        r = self.rng.random()
        if r < 0.04:
            return "str"
        if r < 0.06:
            return "nokey"
        return self.rng.choice(STREAMS)

    def known_id(self, s):
        ids = self.ids.get(s) or []
        if ids and self.rng.random() < 0.8:
            return self.rng.choice(ids)
        return "%d-%d" % (self.rng.randint(0, self.next_ms.get(s, 5) + 2), self.rng.randint(0, 3))

    def bound(self, s, low):
        r = self.rng.random()
        if r < 0.2:
            return "-" if low else "+"
        i = self.known_id(s)
        if r < 0.35:
            return "(" + i
        if r < 0.45:
            return i.split("-")[0]
        return i

    def fields(self):
        n = self.rng.choice([1, 1, 1, 2, 3])
        if self.rng.random() < 0.6:
            names = ["f", "g", "name"][:n]
        else:
            names = [self.rng.choice(FIELDS) for _ in range(n)]
        out = []
        for f in names:
            out += [f, self.rng.choice(VALUES)]
        return out

    def trim(self, s):
        r = self.rng.random()
        if r < 0.5:
            t = ["MAXLEN"]
            if self.rng.random() < 0.5:
                t.append(self.rng.choice(["~", "="]))
            t.append(str(self.rng.choice([0, 1, 5, 20, 50, 150, 300])))
        else:
            t = ["MINID"]
            if self.rng.random() < 0.5:
                t.append(self.rng.choice(["~", "="]))
            t.append(self.known_id(s))
        if "~" in t and self.rng.random() < 0.3:
            t += ["LIMIT", str(self.rng.choice([0, 1, 50, 100, 1000]))]
        return t

    def xadd(self):
        s = self.stream()
        cmd = ["XADD", s]
        if self.rng.random() < 0.05:
            cmd.append("NOMKSTREAM")
        if self.rng.random() < 0.15:
            cmd += self.trim(s)
        r = self.rng.random()
        ms = self.next_ms.get(s, 1)
        if s == "fut" and r < 0.5:
            cmd.append("*")
        elif r < 0.08:
            cmd.append(self.known_id(s))                  # mostly too small: an error
        elif r < 0.25:
            cmd.append("%d-*" % ms)
        else:
            seq = self.rng.choice([0, 0, 1, 5])
            cmd.append("%d-%d" % (ms, seq))
            self.next_ms[s] = ms + self.rng.choice([0, 1, 1, 1, 2])
            if self.next_ms[s] == ms:
                self.next_ms[s] = ms + 1
        return cmd + self.fields()

    def command(self):
        rng = self.rng
        s = self.stream()
        g = rng.choice(GROUPS)
        c = rng.choice(CONSUMERS)
        r = rng.random()
        if r < 0.30:
            return self.xadd()
        if r < 0.34:
            return ["XDEL", s] + [self.known_id(s) for _ in range(rng.randint(1, 3))]
        if r < 0.37:
            return ["XTRIM", s] + self.trim(s)
        if r < 0.42:
            lo, hi = self.bound(s, 1), self.bound(s, 0)
            cmd = ["XRANGE", s, lo, hi] if rng.random() < 0.6 else ["XREVRANGE", s, hi, lo]
            if rng.random() < 0.5:
                cmd += ["COUNT", str(rng.choice([0, 1, 3, 10, -1]))]
            return cmd
        if r < 0.44:
            ks = rng.sample(STREAMS, rng.randint(1, 3))
            cmd = ["XREAD"]
            if rng.random() < 0.5:
                cmd += ["COUNT", str(rng.choice([1, 2, 10]))]
            return cmd + ["STREAMS"] + ks + [rng.choice(["0", "$", self.known_id(k)]) for k in ks]
        if r < 0.45:
            return ["XLEN", s]
        if r < 0.50:
            cmd = ["XGROUP", "CREATE", s, g, rng.choice(["$", "0", self.known_id(s)])]
            if rng.random() < 0.3:
                cmd.append("MKSTREAM")
            if rng.random() < 0.2:
                cmd += ["ENTRIESREAD", str(rng.choice([-1, 0, 3, 100]))]
            return cmd
        if r < 0.52:
            cmd = ["XGROUP", "SETID", s, g, rng.choice(["$", "0", self.known_id(s)])]
            if rng.random() < 0.3:
                cmd += ["ENTRIESREAD", str(rng.choice([-1, 0, 3]))]
            return cmd
        if r < 0.53:
            return ["XGROUP", "DESTROY", s, g]
        if r < 0.55:
            return ["XGROUP", rng.choice(["CREATECONSUMER", "DELCONSUMER"]), s, g, c]
        if r < 0.68:
            cmd = ["XREADGROUP", "GROUP", g, c]
            if rng.random() < 0.6:
                cmd += ["COUNT", str(rng.choice([1, 2, 5, 0]))]
            if rng.random() < 0.1:
                cmd.append("NOACK")
            ks = rng.sample(STREAMS, rng.randint(1, 2))
            ids = [">" if rng.random() < 0.75 else rng.choice(["0", self.known_id(k)]) for k in ks]
            return cmd + ["STREAMS"] + ks + ids
        if r < 0.74:
            return ["XACK", s, g] + [self.known_id(s) for _ in range(rng.randint(1, 4))]
        if r < 0.79:
            if rng.random() < 0.3:
                return ["XPENDING", s, g]
            cmd = ["XPENDING", s, g]
            if rng.random() < 0.3:
                cmd += ["IDLE", str(rng.choice([0, 100000000]))]
            cmd += [self.bound(s, 1), self.bound(s, 0), str(rng.choice([1, 3, 10, 100]))]
            if rng.random() < 0.4:
                cmd.append(c)
            return cmd
        if r < 0.85:
            cmd = ["XCLAIM", s, g, c, str(rng.choice([0, 0, 100000000]))]
            cmd += [self.known_id(s) for _ in range(rng.randint(1, 3))]
            for opt in ("JUSTID", "FORCE"):
                if rng.random() < 0.3:
                    cmd.append(opt)
            if rng.random() < 0.2:
                cmd += ["RETRYCOUNT", str(rng.randint(0, 9))]
            if rng.random() < 0.15:
                cmd += ["IDLE", str(rng.choice([0, 1000, 50000]))]
            if rng.random() < 0.1:
                cmd += ["LASTID", self.known_id(s)]
            return cmd
        if r < 0.90:
            cmd = ["XAUTOCLAIM", s, g, c, str(rng.choice([0, 0, 100000000])), self.bound(s, 1)]
            if rng.random() < 0.6:
                cmd += ["COUNT", str(rng.choice([1, 2, 5, 100]))]
            if rng.random() < 0.3:
                cmd.append("JUSTID")
            return cmd
        if r < 0.96:
            w = rng.random()
            if w < 0.4:
                return ["XINFO", "STREAM", s] + (["FULL"] if rng.random() < 0.5 else [])
            if w < 0.7:
                return ["XINFO", "GROUPS", s]
            return ["XINFO", "CONSUMERS", s, g]
        if r < 0.97:
            return ["XSETID", s, "%d-%d" % (self.next_ms.get(s, 1) + rng.choice([-3, 0, 5]), rng.randint(0, 9))]
        if r < 0.975:
            return ["DEL", s if s != "fut" else "s0"]  # fut keeps its future last ID
        return ["TYPE", s]

    def learn(self, cmd, reply):
        """Remembers IDs that replies showed."""
        if cmd[0] == "XADD" and isinstance(reply, bytes) and cmd[1] in self.ids:
            s = cmd[1]
            self.ids[s].append(reply.decode())
            if len(self.ids[s]) > 60:
                self.ids[s] = self.ids[s][-60:]
            ms = int(reply.split(b"-")[0])
            if ms >= self.next_ms[s]:
                self.next_ms[s] = ms + 1


def compare_all(p, what):
    for s in STREAMS + ["str"]:
        p.run(["TYPE", s], what)
        p.run(["XINFO", "STREAM", s], what)
        p.run(["XINFO", "STREAM", s, "FULL", "COUNT", "0"], what)
        p.run(["XRANGE", s, "-", "+"], what)
        p.run(["XREVRANGE", s, "+", "-", "COUNT", "7"], what)
        info = p.r.call_raw("XINFO", "GROUPS", s)[1]
        p.k.call_raw("XINFO", "GROUPS", s)
        p.run(["XINFO", "GROUPS", s], what)
        if isinstance(info, list):
            for gi in info:
                name = gi[gi.index(b"name") + 1]
                p.run(["XINFO", "CONSUMERS", s, name], what)
                p.run(["XPENDING", s, name], what)
                p.run(["XPENDING", s, name, "-", "+", "1000000"], what)
    p.run(["DBSIZE"], what)


@test(timeout=600)
def random_streams_vs_redis_across_restarts():
    if not redis_port() or not target_is_kevo():
        skip("needs the reference redis-server and a Kevo under test")
    seed = int(os.environ.get("KT_STREAM_SEED", random.randrange(1 << 30)))
    ops = int(os.environ.get("KT_STREAM_OPS", "2500"))
    print("    seed %d, %d ops per phase (KT_STREAM_SEED to replay)" % (seed, ops))
    rng = random.Random(seed)
    srv = start_kevo("stream-random", appendfsync="always")
    try:
        p = Pair(srv.port, int(redis_port()))
        for c in (p.k, p.r):
            c.call("FLUSHALL")
        p.run(["SET", "str", "v"])
        p.run(["XADD", "fut", "%d-0" % FUTURE_MS, "f", "v"])  # "*" then makes last-ID + 1
        gen = Gen(rng)
        for phase, sig in enumerate([signal.SIGTERM, signal.SIGKILL, None]):
            for i in range(ops):
                cmd = gen.command()
                reply = p.run(cmd, "phase %d op %d" % (phase, i))
                gen.learn(cmd, reply)
            compare_all(p, "phase %d end" % phase)
            if sig is None:
                break
            srv.stop(sig)
            srv.start()
            p.reconnect_kevo(srv.port)
            compare_all(p, "phase %d after restart (signal %d)" % (phase, sig))
        print("    %d replies compared" % p.n)
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(run_all("stream_random"))
