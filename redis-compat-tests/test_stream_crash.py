#!/usr/bin/python3
"""Streams under kill -9 (appendfsync always), run by run.sh's restart suite.

Producers pipeline XADD * (and XADD with MAXLEN ~ trims on a second stream) while consumers
pipeline XREADGROUP ... > and XACK; the server is killed with SIGKILL at a random moment, then
started again. Checked after every restart:
* every acknowledged XADD is there with its ID and fields (unless a later acknowledged trim may
  have removed it, on the trimmed stream);
* last-generated-id never goes backwards: it is at least every acknowledged ID and at least what
  it was before the kill, and entries-added never shrinks;
* no ID is handed out twice: XADD * after the restart returns an ID above every acknowledged one;
* an acknowledged XREADGROUP's deliveries are in the PEL (delivery and PEL entry are one batch)
  unless their XACK was acknowledged; PEL counts agree with the PEL entries; XLEN is exact.
KT_STREAM_CRASH_CYCLES sets the number of kills (default 4), KT_STREAM_CRASH_SEED the seed."""
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import RawConn, RespError, eq, ok, test, run_all, skip, start_kevo, target_is_kevo  # noqa: E402


def parse_id(b):
    ms, seq = b.split(b"-")
    return (int(ms), int(seq))


class Producer(threading.Thread):
    def __init__(self, port, key, tag, maxlen=None):
        super().__init__(daemon=True)
        self.port, self.key, self.tag, self.maxlen = port, key, tag, maxlen
        self.acked = {}        # id -> value
        self.n = 0

    def run(self):
        try:
            c = RawConn(self.port, timeout=10)
            while True:
                batch = []
                for _ in range(16):
                    self.n += 1
                    v = b"%s-%d" % (self.tag, self.n)
                    cmd = ["XADD", self.key]
                    if self.maxlen:
                        cmd += ["MAXLEN", "~", str(self.maxlen)]
                    cmd += ["*", "p", self.tag, "v", v]
                    batch.append(v)
                    c.send(*cmd)
                for v in batch:
                    raw, r = c.reply()
                    if isinstance(r, bytes):
                        self.acked[parse_id(r)] = v
        except Exception:
            return


class Consumer(threading.Thread):
    def __init__(self, port, key, group, name):
        super().__init__(daemon=True)
        self.port, self.key, self.group, self.name = port, key, group, name
        self.delivered = set()  # acknowledged deliveries
        self.acked = set()      # acknowledged XACKs
        self.ack_sent = set()   # XACKs sent (applied or not when the server was killed)

    def run(self):
        rng = random.Random(hash(self.name))
        try:
            c = RawConn(self.port, timeout=10)
            while True:
                raw, r = c.call_raw("XREADGROUP", "GROUP", self.group, self.name, "COUNT", "20",
                                    "STREAMS", self.key, ">")
                if isinstance(r, RespError):
                    return
                ids = [parse_id(e[0]) for e in r[0][1]] if r else []
                self.delivered.update(ids)
                ack = [i for i in ids if rng.random() < 0.5]
                if ack:
                    self.ack_sent.update(ack)
                    raw, n = c.call_raw("XACK", self.key, self.group,
                                        *["%d-%d" % i for i in ack])
                    if isinstance(n, int):
                        self.acked.update(ack)
                if not ids:
                    time.sleep(0.005)
        except Exception:
            return


def xinfo(c, key):
    v = c.call("XINFO", "STREAM", key)
    return {v[i].decode(): v[i + 1] for i in range(0, len(v), 2)}


@test(timeout=600)
def kill9_acknowledged_stream_writes_survive():
    if not target_is_kevo():
        skip("Kevo-only (a redis-server without AOF fsync always would lose writes)")
    seed = int(os.environ.get("KT_STREAM_CRASH_SEED", random.randrange(1 << 30)))
    cycles = int(os.environ.get("KT_STREAM_CRASH_CYCLES", "4"))
    print("    seed %d, %d kills" % (seed, cycles))
    rng = random.Random(seed)
    srv = start_kevo("stream-crash", appendfsync="always", memtable_size="1mb")
    try:
        c = RawConn(srv.port)
        c.call("FLUSHALL")
        c.call("XGROUP", "CREATE", "q", "g", "$", "MKSTREAM")
        acked_q, acked_t = {}, {}  # id -> the value field of the entry
        delivered, xacked, ack_sent = set(), set(), set()
        last_seen = {"q": (0, 0), "t": (0, 0)}
        added_seen = {"q": 0, "t": 0}
        for cycle in range(cycles):
            port = srv.port
            prods = [Producer(port, "q", b"a%d" % cycle), Producer(port, "q", b"b%d" % cycle),
                     Producer(port, "t", b"t%d" % cycle, maxlen=500)]
            cons = [Consumer(port, "q", "g", "c%d" % i) for i in range(2)]
            for t in prods + cons:
                t.start()
            time.sleep(rng.uniform(0.3, 1.5))
            srv.stop(signal.SIGKILL)
            for t in prods + cons:
                t.join(10)
            for p in prods:
                (acked_t if p.key == "t" else acked_q).update(p.acked)
            for k in cons:
                delivered |= k.delivered
                xacked |= k.acked
                ack_sent |= k.ack_sent
            srv.start()
            c = RawConn(srv.port)
            # every acknowledged XADD of q is there, with its fields
            got = {}
            for e in c.call("XRANGE", "q", "-", "+"):
                got[parse_id(e[0])] = e[1]
            missing = [i for i in acked_q if i not in got]
            eq(missing[:5], [], "acknowledged XADDs lost (cycle %d)" % cycle)
            for i, v in acked_q.items():
                eq(got[i][3], v, "entry %r's value" % (i,))
            eq(c.call("XLEN", "q"), len(got), "XLEN exact")
            # the trimmed stream keeps at least its newest acknowledged entries (MAXLEN ~ 500)
            tgot = set(parse_id(e[0]) for e in c.call("XRANGE", "t", "-", "+"))
            # (a pipeline's unacknowledged tail may sit above them: 400 of the newest 500)
            newest = sorted(acked_t)[-400:]
            eq([i for i in newest if i not in tgot][:5], [], "newest entries of t lost")
            # last-id and entries-added never go backwards
            for key, acked in (("q", acked_q), ("t", acked_t)):
                info = xinfo(c, key)
                last = parse_id(info["last-generated-id"])
                ok(last >= last_seen[key], "%s last-id went back: %r < %r" % (key, last, last_seen[key]))
                if acked:
                    ok(last >= max(acked), "%s last-id %r below an acknowledged ID" % (key, last))
                ok(info["entries-added"] >= added_seen[key], "entries-added went back")
                last_seen[key] = last
                added_seen[key] = info["entries-added"]
                # no ID handed out twice
                nid = parse_id(c.call("XADD", key, "*", "p", "probe", "v", b"probe"))
                ok(nid > last, "XADD * after restart gave %r <= last %r" % (nid, last))
                (acked_t if key == "t" else acked_q)[nid] = b"probe"
                last_seen[key] = nid
                added_seen[key] += 1
            # acknowledged deliveries are pending unless acknowledged by XACK
            pel = set()
            for e in c.call("XPENDING", "q", "g", "-", "+", "10000000"):
                pel.add(parse_id(e[0]))
            lost = [i for i in delivered if i not in ack_sent and i not in pel]
            back = [i for i in xacked if i in pel]
            eq(back[:5], [], "acknowledged XACKs undone")
            eq(lost[:5], [], "delivered entries missing from the PEL")
            summary = c.call("XPENDING", "q", "g")
            eq(summary[0], len(pel), "PEL count")
            per = {}
            for e in c.call("XPENDING", "q", "g", "-", "+", "10000000"):
                per[e[1]] = per.get(e[1], 0) + 1
            eq(sorted((k, int(v)) for k, v in (summary[3] or [])), sorted(per.items()),
               "per-consumer pending counts")
            # what the group delivered is at or below its last-delivered-id
            g = c.call("XINFO", "GROUPS", "q")[0]
            gl = parse_id(g[g.index(b"last-delivered-id") + 1])
            if delivered:
                ok(gl >= max(delivered), "group last-delivered-id went back")
            c.close()
        print("    %d + %d acknowledged XADDs, %d deliveries checked" %
              (len(acked_q), len(acked_t), len(delivered)))
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(run_all("stream_crash"))
