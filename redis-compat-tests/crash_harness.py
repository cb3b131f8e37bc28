#!/usr/bin/python3
"""crash_harness.py - kill -9 crash harness over the Redis protocol.

Clients (threads, one connection each) send a seeded random mix of writes (SET with its options,
SETNX, GETSET, SETEX/PSETEX, APPEND, SETRANGE, MSET, MSETNX, DEL, GETDEL, RENAME, RENAMENX,
INCR/INCRBY/DECR/DECRBY/INCRBYFLOAT, EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT (NX XX GT LT), PERSIST,
GETEX, MULTI/EXEC blocks) and some reads, pipelined (1-40 commands in flight), to a server
started with appendfsync always (or everysec / no) and tiny engine sizes (64 KiB memtables,
L0 trigger 2, 1 MiB L1, 64 KiB tables) so that flushes and compactions never stop. A burst
writer adds 4-16 KiB values; an admin client owns databases 2 and 3 and adds SELECT, MOVE,
COPY ... DB, SWAPDB and FLUSHDB. At a random moment, while a flush or a compaction is running
(INFO lsm), or just after a burst of large writes, the server gets SIGKILL; sometimes it is
killed again while it recovers; it is restarted on the same directory (half the restarts
change some engine options) and the recovered state is checked against a model. Cycles go on
on the same data directory, as in real life.

The model
* Every client owns its keys (c<id>:s:<i> strings, c<id>:n:<i> numbers, c<id>:v:<i> keys with
  10-1500 ms TTLs that expire during the run, while the server is down or after), so the
  history of each key is the linear history of one connection. Shared counters (shared:<j>,
  INCR/INCRBY by every client of a database) are checked for monotonicity and by sums.
* A client's commands are applied in order and the WAL is replayed as a prefix, so after the
  crash each client's state must be its base state plus a *prefix* of the commands it sent:
  all acknowledged ones (a reply was read), plus possibly some of the following in-flight ones
  (sent, no reply read). The checker finds every prefix length L in [acked, sent] consistent
  with each key the client owns and intersects them: an empty intersection means a lost
  acknowledged write, a write applied without an earlier one, or a partial MSET / RENAME /
  MULTI-EXEC / SWAPDB (each is a single unit of the history, all-or-nothing).
* Shared counters: the recovered value must be >= the largest acknowledged INCR reply (never
  go back) and equal to base + the sum of the increments inside the prefixes found above.
* Every acknowledged reply is compared with the model's (shared counters: strictly increasing
  per client). Relative TTLs are known within [send time, reply time or kill time]; the checks
  use SLACK_MS of clock slack. A key whose expire time had passed must be absent (no
  resurrection), PTTL must agree with PEXPIRETIME, DBSIZE must equal the keys SCAN finds and
  INFO keyspace's keys/expires; no orphan .sst stays on disk; no sanitizer report in the log.
* After a successful check the observed state becomes the base of the next cycle; after the
  last cycle a clean SIGTERM restart must give exactly that state.
* --self-test also feeds the checker recovered states with injected faults (an acknowledged
  write undone, one key of a multi-key unit applied alone, a counter below an acknowledged
  reply or above any possible sum) and fails if it accepts one.

Reproducibility: the command streams and the kill schedule are drawn from random.Random seeded
with (seed, cycle, client); the interleaving of clients, the kill point and hence the state the
next cycle starts from depend on timing. A failure prints the seed, the cycle, the key and its
history (base state, every command of the cycle on it, acknowledged or not, replies), writes
every command and reply of the cycle to history-cycle<N>.txt and keeps the data directory.

Usage:
  crash_harness.py --server ./kevo-server [--cycles N] [--clients C] [--seed S]
                   [--fsync always|everysec|no] [--workdir DIR] [--keep] [--quiet] [--self-test]
  make crash-test CYCLES=N [CLIENTS=4] [SEED=S] [FSYNC=always] [VERBOSE=1]
  (--server redis-server runs the same harness against Redis with AOF: a check of the model;
   --server-args '--appendonly no' there is a negative control that must fail)
As a redis-compat suite (run.sh KEVO_BINARY crash, part of make test): 30 cycles with
appendfsync always and 10 with everysec, with --self-test; KT_CRASH_CYCLES,
KT_CRASH_EVERYSEC_CYCLES, KT_CRASH_CLIENTS, KT_CRASH_SEED, KT_CRASH_VERBOSE=1.
"""
import argparse
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (RawConn, RespError, ConnClosed, Server, encode_command,  # noqa: E402
                 stop_all_servers, _record_pid)

SLACK_MS = 5                 # clock slack for expire-time comparisons (ms truncation, rounding)
LONG_TTL_MIN_S = 10 ** 6     # "long" TTLs (11+ days) never expire during a run
VOLATILE_HORIZON_MS = 86400 * 1000  # an expire time closer than this is a short (volatile) TTL
SHORT_TTL_MS = (10, 1500)    # short TTLs: some expire during the run, some while down, some after

NS, NN, NV = 40, 12, 24      # per client: string keys, integer keys, short-TTL keys
NSHARED = 4                  # shared counters per database
NBURST = 128                 # keys of the burst writer
NADMIN = 32                  # keys a:<i> of the admin client in databases 2 and 3

DONTCARE = object()


def now_ms():
    return time.time() * 1000.0


class Err:
    """A predicted error reply: the error string must start with prefix."""

    def __init__(self, prefix):
        self.prefix = prefix

    def __repr__(self):
        return "Err(%r)" % self.prefix


class ModelAmbiguous(Exception):
    """The generator produced a command whose effect depends on an uncertain expiry: a bug of
    the harness, not of the server."""


class CheckFailure(Exception):
    pass


def b(x):
    if isinstance(x, bytes):
        return x
    return str(x).encode()


# ---------------------------------------------------------------------------------- the model
# A store maps (db, key) -> (value bytes, expire) where expire is None or (lo_ms, hi_ms): the
# absolute expire time is known to lie in [lo, hi] (lo == hi for absolute times and for states
# read back from the server). Absent keys are not in the store.

def strict_int(v):
    """Redis's string2ll: optional '-', digits without leading zeros, in int64 range."""
    import re
    if not re.fullmatch(rb"-?(0|[1-9][0-9]*)", v) or v == b"-0":
        return None
    n = int(v)
    return n if -2 ** 63 <= n < 2 ** 63 else None


def is_shared(key):
    return key.startswith(b"shared:")


class Model:
    def __init__(self, st, tlo, thi, contrib):
        self.st = st
        self.tlo = tlo
        self.thi = thi
        self.contrib = contrib  # (db, key) -> sum of this client's increments of a shared key

    def live(self, k, strict=True):
        s = self.st.get(k)
        if s is None or s[1] is None:
            return s
        lo, hi = s[1]
        if hi + SLACK_MS < self.tlo:      # expired before the command could run
            del self.st[k]
            return None
        if lo - SLACK_MS > self.thi:      # still live whenever the command ran
            return s
        if strict:
            raise ModelAmbiguous("%r: expire %r vs command time [%r, %r]" %
                                 (k, s[1], self.tlo, self.thi))
        return DONTCARE

    def rel(self, ms):
        return (self.tlo + ms, self.thi + ms)

    def exec(self, db, args):
        name = args[0].upper()
        a = [b(x) for x in args[1:]]
        key = lambda x: (db, x)  # noqa: E731
        st = self.st
        if name == "SET":
            k = key(a[0])
            v = a[1]
            opts = [o.upper() for o in a[2:]]
            nx, xx, get, keepttl = b"NX" in opts, b"XX" in opts, b"GET" in opts, b"KEEPTTL" in opts
            exp = None
            i = 0
            while i < len(opts):
                o = opts[i]
                if o in (b"EX", b"PX", b"EXAT", b"PXAT"):
                    n = int(a[2 + i + 1])
                    exp = {b"EX": lambda: self.rel(n * 1000), b"PX": lambda: self.rel(n),
                           b"EXAT": lambda: (n * 1000, n * 1000),
                           b"PXAT": lambda: (n, n)}[o]()
                    i += 2
                else:
                    i += 1
            need_old = nx or xx or get or keepttl
            old = self.live(k) if need_old else None
            if (nx and old is not None) or (xx and old is None):
                return old[0] if get and old is not None else None
            if keepttl and old is not None:
                exp = old[1]
            st[k] = (v, exp)
            if get:
                return old[0] if old is not None else None
            return "OK"
        if name == "SETNX":
            k = key(a[0])
            if self.live(k) is not None:
                return 0
            st[k] = (a[1], None)
            return 1
        if name == "GETSET":
            k = key(a[0])
            old = self.live(k)
            st[k] = (a[1], None)
            return old[0] if old else None
        if name in ("SETEX", "PSETEX"):
            n = int(a[1])
            st[key(a[0])] = (a[2], self.rel(n * 1000 if name == "SETEX" else n))
            return "OK"
        if name == "APPEND":
            k = key(a[0])
            old = self.live(k)
            v = (old[0] if old else b"") + a[1]
            st[k] = (v, old[1] if old else None)
            return len(v)
        if name == "SETRANGE":
            k = key(a[0])
            off = int(a[1])
            old = self.live(k)
            v = old[0] if old else b""
            if len(v) < off:
                v = v + b"\0" * (off - len(v))
            v = v[:off] + a[2] + v[off + len(a[2]):]
            st[k] = (v, old[1] if old else None)
            return len(v)
        if name == "MSET":
            for i in range(0, len(a), 2):
                st[key(a[i])] = (a[i + 1], None)
            return "OK"
        if name == "MSETNX":
            if any(self.live(key(a[i])) is not None for i in range(0, len(a), 2)):
                return 0
            for i in range(0, len(a), 2):
                st[key(a[i])] = (a[i + 1], None)
            return 1
        if name in ("DEL", "UNLINK"):
            n = 0
            for x in a:
                s = self.live(key(x), strict=False)
                if s is DONTCARE:
                    n = DONTCARE
                elif s is not None and n is not DONTCARE:
                    n += 1
                st.pop(key(x), None)
            return n
        if name == "GETDEL":
            k = key(a[0])
            old = self.live(k)
            st.pop(k, None)
            return old[0] if old else None
        if name == "RENAME":
            s, d = key(a[0]), key(a[1])
            old = self.live(s)
            if old is None:
                return Err("ERR no such key")
            del st[s]
            st[d] = old
            return "OK"
        if name in ("INCR", "DECR", "INCRBY", "DECRBY"):
            k = key(a[0])
            d = int(a[1]) if name in ("INCRBY", "DECRBY") else 1
            if name.startswith("DECR"):
                d = -d
            if is_shared(a[0]):
                self.contrib[k] = self.contrib.get(k, 0) + d
                return DONTCARE
            old = self.live(k)
            cur = strict_int(old[0]) if old else 0
            if cur is None:
                return Err("ERR value is not an integer or out of range")
            n = cur + d
            st[k] = (b"%d" % n, old[1] if old else None)
            return n
        if name in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
            k = key(a[0])
            n = int(a[1])
            old = self.live(k)
            if old is None:
                return 0
            exp = {"EXPIRE": lambda: self.rel(n * 1000), "PEXPIRE": lambda: self.rel(n),
                   "EXPIREAT": lambda: (n * 1000, n * 1000), "PEXPIREAT": lambda: (n, n)}[name]()
            opt = a[2].upper() if len(a) > 2 else None
            cur = old[1]
            if (opt == b"NX" and cur is not None) or (opt == b"XX" and cur is None):
                return 0
            if opt in (b"GT", b"LT") and cur is not None:
                if exp[1] < cur[0]:
                    greater = False
                elif exp[0] > cur[1]:
                    greater = True
                else:
                    raise ModelAmbiguous("%r: %s %s: %r vs %r" % (k, name, opt, exp, cur))
                if greater != (opt == b"GT"):
                    return 0
            elif opt == b"GT":      # no TTL counts as an infinite one
                return 0
            st[k] = (old[0], exp)
            return 1
        if name == "PERSIST":
            k = key(a[0])
            old = self.live(k)
            if old is None or old[1] is None:
                return 0
            st[k] = (old[0], None)
            return 1
        if name == "GETEX":
            k = key(a[0])
            old = self.live(k)
            if old is None:
                return None
            opts = [o.upper() for o in a[1:]]
            if opts and opts[0] == b"PERSIST":
                st[k] = (old[0], None)
            elif opts and opts[0] == b"EX":
                st[k] = (old[0], self.rel(int(a[2]) * 1000))
            elif opts and opts[0] == b"PXAT":
                n = int(a[2])
                st[k] = (old[0], (n, n))
            return old[0]
        if name == "RENAMENX":
            s_, d = key(a[0]), key(a[1])
            old = self.live(s_)
            if old is None:
                return Err("ERR no such key")
            if self.live(d) is not None:
                return 0
            del st[s_]
            st[d] = old
            return 1
        if name == "INCRBYFLOAT":
            k = key(a[0])
            old = self.live(k)
            try:
                cur = float(old[0]) if old else 0.0
            except ValueError:
                return Err("ERR value is not a valid float")
            txt = ("%.17f" % (cur + float(a[1]))).rstrip("0").rstrip(".")
            if txt == "-0":
                txt = "0"
            st[k] = (txt.encode(), old[1] if old else None)
            return txt.encode()
        if name == "SELECT":
            return "OK"
        if name == "MOVE":
            k, d = key(a[0]), (int(a[1]), a[0])
            old = self.live(k)
            if old is None or self.live(d) is not None:
                return 0
            del st[k]
            st[d] = old
            return 1
        if name == "COPY":
            opts = [o.upper() for o in a[2:]]
            ddb = int(a[2 + opts.index(b"DB") + 1]) if b"DB" in opts else db
            k, d = key(a[0]), (ddb, a[1])
            old = self.live(k)
            if old is None:
                return 0
            if self.live(d) is not None and b"REPLACE" not in opts:
                return 0
            st[d] = old
            return 1
        if name == "SWAPDB":
            x, y = int(a[0]), int(a[1])
            moved = {}
            for (d, kk) in list(st):
                if d in (x, y):
                    moved[(y if d == x else x, kk)] = st.pop((d, kk))
            st.update(moved)
            return "OK"
        if name == "FLUSHDB":
            for k in [k for k in st if k[0] == db]:
                del st[k]
            return "OK"
        if name == "GET":
            old = self.live(key(a[0]))
            return old[0] if old else None
        if name == "MGET":
            return [(lambda s: s[0] if s else None)(self.live(key(x))) for x in a]
        if name == "EXISTS":
            return sum(1 for x in a if self.live(key(x)) is not None)
        raise AssertionError("model: unknown command %s" % name)


def run_unit(st, db, unit, tlo, thi, contrib):
    """Applies one unit (a command, or MULTI ... EXEC) to st; returns the predicted replies.
    The unit runs in unit.db (the connection's database when it was sent) if set."""
    if unit.db is not None:
        db = unit.db
    m = Model(st, tlo, thi, contrib)
    if unit.multi:
        inner = [m.exec(db, c) for c in unit.cmds[1:-1]]
        return ["OK"] + ["QUEUED"] * len(inner) + [inner]
    return [m.exec(db, c) for c in unit.cmds]


def reply_matches(pred, got):
    if pred is DONTCARE:
        return True
    if isinstance(pred, Err):
        return isinstance(got, RespError) and str(got).startswith(pred.prefix)
    if isinstance(got, RespError):
        return False
    if isinstance(pred, list):
        return (isinstance(got, list) and len(got) == len(pred)
                and all(reply_matches(p, g) for p, g in zip(pred, got)))
    return pred == got


def short(v, n=60):
    if isinstance(v, bytes) and len(v) > n:
        return repr(v[:n]) + "...(%d bytes)" % len(v)
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], bytes):
        return "(%s, %r)" % (short(v[0], n), v[1])
    if isinstance(v, list):
        return "[" + ", ".join(short(x, n) for x in v) + "]"
    return repr(v)


def fmt_cmd(c):
    return " ".join(short(b(x), 40) if len(b(x)) > 40 else b(x).decode("latin-1") for x in c)


# ------------------------------------------------------------------------------ the generator

class Unit:
    __slots__ = ("cmds", "multi", "keys", "writes", "send_t", "recv_t", "replies", "idx", "db")

    def __init__(self, cmds, keys, multi=False, writes=True):
        self.cmds = cmds
        self.multi = multi
        self.keys = keys          # (db, key) the unit may modify or read
        self.writes = writes
        self.send_t = None
        self.recv_t = None
        self.replies = None
        self.idx = None
        self.db = None

    def text(self):
        if self.multi:
            return "MULTI; " + "; ".join(fmt_cmd(c) for c in self.cmds[1:-1]) + "; EXEC"
        return fmt_cmd(self.cmds[0])


class Generator:
    """Draws a client's commands. It simulates the client's own keys (all commands sent so far
    are applied when the next is generated), so it only issues commands on short-TTL keys whose
    effect cannot depend on whether the key has expired yet."""

    def __init__(self, cid, db, rng, sim, cycle):
        self.cid, self.db, self.rng, self.sim, self.cycle = cid, db, rng, sim, cycle
        self.seq = 0
        self.skeys = [b"c%d:s:%d" % (cid, i) for i in range(NS)]
        self.nkeys = [b"c%d:n:%d" % (cid, i) for i in range(NN)]
        self.vkeys = [b"c%d:v:%d" % (cid, i) for i in range(NV)]
        self.shared = [b"shared:%d" % j for j in range(NSHARED)]
        self.contrib = {}
        self.multi_keys = set()

    def value(self, big=False):
        r = self.rng
        self.seq += 1
        tag = b"c%d.%d.%d|" % (self.cid, self.cycle, self.seq)
        if big:
            n = r.randint(4096, 16384)
        else:
            x = r.random()
            n = r.randint(0, 16) if x < 0.15 else r.randint(16, 600) if x < 0.9 else r.randint(600, 4000)
        return tag + r.randbytes(n)

    def long_rel_s(self):
        return self.rng.randint(LONG_TTL_MIN_S, 2 * LONG_TTL_MIN_S)

    def long_abs_ms(self):
        return int(time.time() * 1000) + self.rng.randint(10 * LONG_TTL_MIN_S, 20 * LONG_TTL_MIN_S) * 1000

    def volatile(self, k):
        if k in self.multi_keys:    # the simulation runs a MULTI block only at its end
            return True
        s = self.sim.get((self.db, k))
        return s is not None and s[1] is not None and s[1][0] < now_ms() + VOLATILE_HORIZON_MS

    def one(self):
        """One command: (args, keys)."""
        r = self.rng
        x = r.random()
        if x < 0.40:
            return self.string_cmd()
        if x < 0.58:
            return self.int_cmd()
        if x < 0.80:
            return self.vol_cmd()
        if x < 0.88:
            j = r.choice(self.shared)
            if r.random() < 0.5:
                return ["INCR", j], [j]
            return ["INCRBY", j, r.randint(1, 10)], [j]
        if x < 0.94:  # MSET across string and integer keys
            ks = r.sample(self.skeys + self.nkeys, r.randint(2, 6))
            args = ["MSET"]
            for k in ks:
                args += [k, self.value() if k in self.skeys else b"%d" % r.randint(-1000, 1000)]
            return args, ks
        # reads
        y = r.random()
        if y < 0.5:
            k = r.choice(self.skeys + self.nkeys)
            return ["GET", k], [k]
        if y < 0.8:
            ks = r.sample(self.skeys, r.randint(2, 5))
            return ["MGET"] + ks, ks
        ks = r.sample(self.skeys, r.randint(1, 3))
        return ["EXISTS"] + ks, ks

    def string_cmd(self):
        r = self.rng
        k = r.choice(self.skeys)
        x = r.random()
        if x < 0.30:
            args = ["SET", k, self.value()]
            y = r.random()
            if y < 0.15:
                args += ["EX", self.long_rel_s()]
            elif y < 0.25:
                args += ["PXAT", self.long_abs_ms()]
            elif y < 0.35:
                args += ["KEEPTTL"]
            elif y < 0.45:
                args += ["NX"]
            elif y < 0.55:
                args += ["XX"]
            elif y < 0.65:
                args += ["GET"]
            elif y < 0.70:
                args += ["XX", "GET", "KEEPTTL"]
            return args, [k]
        if x < 0.35:
            return ["SETNX", k, self.value()], [k]
        if x < 0.40:
            return ["GETSET", k, self.value()], [k]
        if x < 0.44:
            return ["SETEX", k, self.long_rel_s(), self.value()], [k]
        if x < 0.47:
            return ["PSETEX", k, self.long_rel_s() * 1000, self.value()], [k]
        if x < 0.57:
            s = self.sim.get((self.db, k))
            if s is not None and len(s[0]) > 3000:
                return ["SET", k, self.value()], [k]
            return ["APPEND", k, self.value()], [k]
        if x < 0.61:
            return ["SETRANGE", k, r.randint(0, 200), b"R%d" % r.randint(0, 10 ** 6)], [k]
        if x < 0.64:
            ks = r.sample(self.skeys, r.randint(2, 4))
            args = ["MSETNX"]
            for kk in ks:
                args += [kk, self.value()]
            return args, ks
        if x < 0.72:
            ks = r.sample(self.skeys, r.randint(1, 3))
            return ["DEL"] + ks, ks
        if x < 0.75:
            return ["GETDEL", k], [k]
        if x < 0.80:
            d = r.choice(self.skeys)
            if d == k:
                return ["GET", k], [k]
            return [r.choice(["RENAME", "RENAME", "RENAMENX"]), k, d], [k, d]
        if x < 0.82:
            return ["EXPIRE", k, self.long_rel_s()], [k]
        if x < 0.84:
            t = self.long_rel_s()
            s = self.sim.get((self.db, k))
            if s is not None and s[1] is not None and abs(now_ms() + t * 1000 - s[1][0]) < 10 ** 5:
                t += 1000   # GT / LT never compare two expire times a few ms apart
            return ["EXPIRE", k, t, r.choice(["NX", "XX", "GT", "LT"])], [k]
        if x < 0.86:
            return ["PEXPIRE", k, self.long_rel_s() * 1000], [k]
        if x < 0.88:
            return ["EXPIREAT", k, self.long_abs_ms() // 1000], [k]
        if x < 0.90:
            return ["PEXPIREAT", k, self.long_abs_ms()], [k]
        if x < 0.95:
            return ["PERSIST", k], [k]
        y = r.random()
        if y < 0.4:
            return ["GETEX", k, "PERSIST"], [k]
        if y < 0.7:
            return ["GETEX", k, "EX", self.long_rel_s()], [k]
        return ["GETEX", k, "PXAT", self.long_abs_ms()], [k]

    def int_cmd(self):
        r = self.rng
        k = r.choice(self.nkeys)
        x = r.random()
        if x < 0.30:
            return ["INCR", k], [k]
        if x < 0.50:
            return ["INCRBY", k, r.randint(-100, 1000)], [k]
        if x < 0.58:
            return ["DECR", k], [k]
        if x < 0.65:
            return ["DECRBY", k, r.randint(1, 100)], [k]
        if x < 0.69:
            return ["INCRBYFLOAT", k, "%g" % (r.randint(-40, 40) * 0.25)], [k]
        if x < 0.72:
            return ["SET", k, b"%d" % r.randint(-10 ** 6, 10 ** 6)], [k]
        if x < 0.77:
            return ["GETSET", k, b"%d" % r.randint(0, 100)], [k]
        if x < 0.81:
            return ["SETNX", k, b"%d" % r.randint(0, 100)], [k]
        if x < 0.86:
            return ["DEL", k], [k]
        if x < 0.93:
            return ["EXPIRE", k, self.long_rel_s()], [k]
        return ["PERSIST", k], [k]

    def vol_cmd(self):
        r = self.rng
        k = r.choice(self.vkeys)
        ttl = r.randint(*SHORT_TTL_MS)
        x = r.random()
        if x < 0.25:
            return ["SET", k, self.value(), "PX", ttl], [k]
        if x < 0.35:
            return ["PSETEX", k, ttl, self.value()], [k]
        if x < 0.42:
            return ["SET", k, self.value(), "EX", 1], [k]
        if x < 0.55:
            return ["SET", k, self.value()], [k]
        if x < 0.62:
            return ["DEL", k], [k]
        if not self.volatile(k):
            # the key is absent or has no TTL: conditional commands are deterministic
            if x < 0.80:
                return ["PEXPIRE", k, ttl], [k]
            if x < 0.88:
                return ["EXPIRE", k, 1], [k]
            if x < 0.94:
                return ["APPEND", k, b"+a"], [k]
            return ["GET", k], [k]
        return ["SET", k, self.value(), "PX", ttl], [k]

    def unit(self):
        r = self.rng
        if r.random() < 0.12:
            cmds, keys = [["MULTI"]], []
            self.multi_keys = set()
            for _ in range(r.randint(1, 6)):
                c, ks = self.one()
                cmds.append(c)
                keys += ks
                self.multi_keys.update(ks)
            self.multi_keys = set()
            cmds.append(["EXEC"])
            u = Unit(cmds, [(self.db, k) for k in keys], multi=True)
        else:
            c, ks = self.one()
            u = Unit([c], [(self.db, k) for k in ks],
                     writes=c[0] not in ("GET", "MGET", "EXISTS"))
        u.db = self.db
        t = now_ms()
        run_unit(self.sim, self.db, u, t, t, self.contrib)
        return u


class BurstGenerator(Generator):
    """Large values on its own keys (b:<i>, db 0): a burst fills several memtables at once."""

    def __init__(self, cid, rng, sim, cycle):
        super().__init__(cid, 0, rng, sim, cycle)
        self.bkeys = [b"b:%d" % i for i in range(NBURST)]

    def unit(self):
        r = self.rng
        x = r.random()
        if x < 0.6:
            k = r.choice(self.bkeys)
            c, ks = ["SET", k, self.value(big=True)], [k]
        elif x < 0.85:
            ks = r.sample(self.bkeys, r.randint(2, 8))
            c = ["MSET"]
            for k in ks:
                c += [k, self.value(big=True)]
        else:
            ks = r.sample(self.bkeys, r.randint(1, 4))
            c = ["DEL"] + ks
        u = Unit([c], [(0, k) for k in ks])
        u.db = 0
        t = now_ms()
        run_unit(self.sim, 0, u, t, t, self.contrib)
        return u


class AdminGenerator(Generator):
    """Owns databases 2 and 3 entirely (keys a:<i>), so SELECT, MOVE, COPY ... DB, SWAPDB and
    FLUSHDB keep a linear history: the database of each command is tracked."""

    DBS = (2, 3)

    def __init__(self, cid, rng, sim, cycle):
        super().__init__(cid, 2, rng, sim, cycle)
        self.akeys = [b"a:%d" % i for i in range(NADMIN)]
        self.cur = 2   # ClientRun SELECTs gen.db at connect
        self.all = [(d, k) for d in self.DBS for k in self.akeys]

    def unit(self):
        r = self.rng
        cur, other = self.cur, 5 - self.cur
        k = r.choice(self.akeys)
        x = r.random()
        keys = [(cur, k)]
        if x < 0.30:
            c = ["SET", k, self.value()]
        elif x < 0.40:
            ks = r.sample(self.akeys, r.randint(2, 6))
            c = ["MSET"] + [y for kk in ks for y in (kk, self.value())]
            keys = [(cur, kk) for kk in ks]
        elif x < 0.50:
            c = ["DEL", k]
        elif x < 0.57:
            c = ["INCR", r.choice(self.akeys[:8])]
            keys = [(cur, c[1])]
        elif x < 0.62:
            c = ["EXPIRE", k, self.long_rel_s()]
        elif x < 0.72:
            c = ["MOVE", k, other]
            keys = [(cur, k), (other, k)]
        elif x < 0.80:
            d = r.choice(self.akeys)
            if r.random() < 0.5:
                c = ["COPY", k, d, "DB", other] + (["REPLACE"] if r.random() < 0.5 else [])
                keys = [(cur, k), (other, d)]
            elif d != k:
                c = ["COPY", k, d] + (["REPLACE"] if r.random() < 0.5 else [])
                keys = [(cur, k), (cur, d)]
            else:
                c = ["GET", k]
        elif x < 0.88:
            c = ["SELECT", other]
            keys = []
        elif x < 0.95:
            c = ["SWAPDB", 2, 3]
            keys = list(self.all)
        elif x < 0.97:
            c = ["FLUSHDB"]
            keys = [(cur, kk) for kk in self.akeys]
        else:
            c = ["GET", k]
        if c[0] == "INCR" and self.sim.get((cur, c[1])) is not None and r.random() < 0.7:
            if strict_int(self.sim[(cur, c[1])][0]) is None:   # else: an error reply
                c = ["SET", c[1], b"%d" % r.randint(0, 100)]
        u = Unit([c], keys, writes=c[0] not in ("GET", "SELECT"))
        u.db = cur
        if c[0] == "SELECT":
            self.cur = other
        t = now_ms()
        run_unit(self.sim, cur, u, t, t, self.contrib)
        return u


# ------------------------------------------------------------------------------------ clients

class ClientRun(threading.Thread):
    """One connection: batches of 1..max_batch units, pipelined, replies read in order, until
    the connection dies. burst_req (optional): when set, the next batch has burst_size units and
    sent_ev is set just before it is written."""

    def __init__(self, port, gen, max_batch, burst_req=None, burst_size=0, sent_ev=None,
                 pause=0.0):
        super().__init__(daemon=True)
        self.pause = pause
        self.port, self.gen, self.max_batch = port, gen, max_batch
        self.units = []
        self.end = None           # why the connection ended
        self.error = None         # an unexpected exception (harness bug or protocol garbage)
        self.burst_req, self.burst_size, self.sent_ev = burst_req, burst_size, sent_ev
        self.last_reply = now_ms()

    def run(self):
        conn = None
        try:
            conn = RawConn(self.port, timeout=60)
            if self.gen.db:
                v = conn.call("SELECT", self.gen.db)
                if v != "OK":
                    raise AssertionError("SELECT replied %r" % (v,))
            while True:
                burst = self.burst_req is not None and self.burst_req.is_set()
                if burst:
                    self.burst_req.clear()
                    n = self.burst_size
                else:
                    if self.pause:
                        if self.burst_req is not None:
                            self.burst_req.wait(self.pause)
                        else:
                            time.sleep(self.pause)
                    n = self.gen.rng.randint(1, self.max_batch)
                units = [self.gen.unit() for _ in range(n)]
                payload = b"".join(encode_command(c) for u in units for c in u.cmds)
                t = now_ms()
                for u in units:
                    u.send_t = t
                    u.idx = len(self.units)
                    self.units.append(u)
                if burst:
                    self.sent_ev.set()
                conn.send_raw(payload)
                for u in units:
                    reps = []
                    for _ in u.cmds:
                        reps.append(conn.reply()[1])
                    u.recv_t = self.last_reply = now_ms()
                    u.replies = reps
        except (ConnClosed, OSError) as e:
            self.end = e
        except BaseException as e:  # noqa: B902
            self.error = "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())
        finally:
            if conn is not None:
                conn.close()

    def acked(self):
        n = 0
        for u in self.units:
            if u.replies is None:
                break
            n += 1
        return n


# ------------------------------------------------------------------------------------ harness

def kevo_args(fsync, rng=None):
    """Tiny engine sizes so that flushes and compactions never stop. With rng, each restart
    varies a few engine options (as an operator might between restarts): files written under
    one setting must be read under another."""
    a = ["--appendfsync", fsync, "--hz", "50", "--enable-debug-command", "yes",
         "--memtable-size", "64kb", "--max-immutable-memtables", "2",
         "--l0-compaction-trigger", "2", "--l0-slowdown-trigger", "8",
         "--level1-max-bytes", "1mb", "--target-file-size", "64kb",
         "--block-size", "4kb", "--block-cache-size", "1mb", "--max-open-files", "32"]
    if rng is not None and rng.random() < 0.5:
        a += ["--memtable-size", rng.choice(["64kb", "64kb", "128kb", "256kb"]),
              "--max-immutable-memtables", str(rng.choice([1, 2, 3])),
              "--l0-compaction-trigger", str(rng.choice([1, 2, 4])),
              "--compaction-threads", str(rng.choice([1, 2])),
              "--compression", rng.choice(["yes", "yes", "no"]),
              "--bloom-bits-per-key", str(rng.choice([10, 10, 0, 4])),
              "--block-size", rng.choice(["4kb", "1kb", "16kb"])]
    return a


def redis_args(fsync):
    return ["--appendonly", "yes", "--appendfsync", fsync, "--save", "", "--hz", "50",
            "--daemonize", "no", "--enable-debug-command", "yes"]


class Stats:
    def __init__(self):
        self.cycles = 0
        self.units_sent = 0
        self.acked_units = 0
        self.acked_writes = 0
        self.acked_replies_checked = 0
        self.inflight = 0
        self.inflight_applied = 0
        self.inflight_lost = 0
        self.inflight_undetermined = 0
        self.kill_modes = {}
        self.kills_flush_running = 0
        self.kills_compaction_running = 0
        self.kills_tmp_files = 0
        self.flushes = 0
        self.compactions = 0
        self.keys_checked = 0
        self.expired_checked = 0
        self.time = 0.0
        self.restart_time = 0.0
        self.recovery_kills = 0

    def line(self):
        return ("%d cycles, %d commands sent, %d acknowledged (%d writes), %d replies checked, "
                "%d in flight at the kill (%d applied, %d not applied, %d without visible effect), "
                "kills: %s, with a flush running %d, with a compaction running %d, with an SSTable "
                ".tmp on disk %d; engine flushes %d, compactions %d (before the kills); "
                "%d more kills during recovery; "
                "%d key checks (%d of keys past their expire time), %.1fs (%.1fs restarting)" % (
                    self.cycles, self.units_sent, self.acked_units, self.acked_writes,
                    self.acked_replies_checked, self.inflight, self.inflight_applied,
                    self.inflight_lost, self.inflight_undetermined,
                    " ".join("%s=%d" % kv for kv in sorted(self.kill_modes.items())),
                    self.kills_flush_running, self.kills_compaction_running, self.kills_tmp_files,
                    self.flushes, self.compactions, self.recovery_kills, self.keys_checked,
                    self.expired_checked,
                    self.time, self.restart_time))


class Harness:
    def __init__(self, binary, workdir, fsync="always", clients=4, seed=1, log=print,
                 run_time=(0.05, 0.9), max_batch=40, self_test=False, extra_args=()):
        self.binary = binary
        self.is_redis = os.path.basename(binary).startswith("redis-server")
        self.dir = os.path.join(workdir, "data")
        self.fsync = fsync
        self.nclients = clients
        self.seed = seed
        self.log = log
        self.run_time = run_time
        self.max_batch = max_batch
        self.stats = Stats()
        self.self_test = self_test
        self.kill_t = None
        self.runs = None
        self.log_offset = 0
        self.mutations_caught = {}
        self.extra_args = list(extra_args)
        self.base = {}          # (db, key) -> state: the verified state the next cycle starts from
        self.client_dbs = sorted(set(self.db_of(c) for c in range(clients)) | {0})
        self.dbs = self.client_dbs + list(AdminGenerator.DBS)
        self.server = None
        self.universe = {}      # db -> set of keys
        for c in range(clients):
            db = self.db_of(c)
            u = self.universe.setdefault(db, set())
            u.update(b"c%d:%s:%d" % (c, t, i) for t, n in ((b"s", NS), (b"n", NN), (b"v", NV))
                     for i in range(n))
            u.update(b"shared:%d" % j for j in range(NSHARED))
        self.universe.setdefault(0, set()).update(b"b:%d" % i for i in range(NBURST))
        for d in AdminGenerator.DBS:
            self.universe[d] = set(b"a:%d" % i for i in range(NADMIN))

    @staticmethod
    def db_of(c):
        return c % 2

    def client_db(self, c):
        if c == self.nclients:        # the burst writer
            return 0
        if c == self.nclients + 1:    # the admin client (databases 2 and 3)
            return AdminGenerator.DBS[0]
        return self.db_of(c)

    def owned(self, c):
        if c == self.nclients:
            return [(0, b"b:%d" % i) for i in range(NBURST)]
        if c == self.nclients + 1:
            return [(d, b"a:%d" % i) for d in AdminGenerator.DBS for i in range(NADMIN)]
        db = self.db_of(c)
        return [(db, b"c%d:%s:%d" % (c, t, i)) for t, n in ((b"s", NS), (b"n", NN), (b"v", NV))
                for i in range(n)]

    def fail(self, cycle, msg):
        dump = self.dump_history(cycle)
        raise CheckFailure("crash harness FAILED: seed=%d cycle=%d fsync=%s clients=%d\n%s\n"
                           "data directory: %s\nevery command and reply of the cycle: %s\n"
                           "rerun: make crash-test SEED=%d CYCLES=%d CLIENTS=%d FSYNC=%s" % (
                               self.seed, cycle, self.fsync, self.nclients, msg, self.dir, dump,
                               self.seed, cycle + 1, self.nclients, self.fsync))

    def dump_history(self, cycle):
        """Writes the base state and every command / reply of the cycle next to the data dir."""
        if not self.runs:
            return "(none)"
        path = os.path.join(os.path.dirname(self.dir), "history-cycle%d.txt" % cycle)
        try:
            with open(path, "w") as f:
                f.write("seed %d cycle %d fsync %s kill at %.3f\n" % (self.seed, cycle, self.fsync,
                                                                      self.kill_t or 0))
                for k in sorted(self.base):
                    f.write("base db%d %r = %s\n" % (k[0], k[1], short(self.base[k], 200)))
                for c, run in sorted(self.runs.items()):
                    f.write("client %d: %d sent, %d acknowledged\n" % (c, len(run.units), run.acked()))
                    for u in run.units:
                        f.write("  #%d db%s sent@%.3f %s -> %s\n" % (
                            u.idx, u.db, u.send_t, u.text(),
                            "ACK@%.3f %s" % (u.recv_t, short(u.replies, 200))
                            if u.replies is not None else "no reply"))
        except OSError as e:
            return "(could not write %s: %s)" % (path, e)
        return path

    # ------------------------------------------------------------------ server control
    def start_server(self, rng=None, cycle=None):
        extra = redis_args(self.fsync) if self.is_redis else kevo_args(self.fsync, rng)
        extra += self.extra_args
        if self.server is None:
            self.server = Server(self.binary, self.dir, extra, is_redis=False)
        self.server.extra = extra
        try:
            self.server.start(timeout=60)
        except AssertionError as e:
            if cycle is None:
                raise
            tail = self.server.log_tail(40)
            msg = "the server did not come back after the kill:\n%s\n%s" % (e, tail)
            self.fail(cycle, msg)

    def info(self, section):
        c = RawConn(self.server.port, timeout=10)
        try:
            v = c.call("INFO", section)
        finally:
            c.close()
        out = {}
        for line in v.decode("latin-1").splitlines():
            if ":" in line and not line.startswith("#"):
                k, _, val = line.partition(":")
                out[k] = val
        return out

    def kill_during_recovery(self, delay):
        srv = self.server
        log = open(os.path.join(self.dir, "server.log"), "ab")
        p = subprocess.Popen(srv.args(), stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=self.dir)
        log.close()
        _record_pid(p.pid)
        time.sleep(delay)
        p.kill()
        p.wait()
        self.stats.recovery_kills += 1

    def tmp_files(self):
        try:
            return [f for f in os.listdir(self.dir) if f.endswith(".tmp")]
        except OSError:
            return []

    # ------------------------------------------------------------------ one cycle
    def run_cycle(self, cycle):
        st = self.stats
        crng = random.Random("%d:%d:kill" % (self.seed, cycle))
        mode = crng.choices(["random", "flush", "compaction", "burst"], [4, 2, 2.5, 1.5])[0]
        if self.is_redis and mode in ("flush", "compaction"):
            mode = "random"
        delay = crng.uniform(*self.run_time)
        port = self.server.port
        threads = []
        for c in range(self.nclients):
            rng = random.Random("%d:%d:%d" % (self.seed, cycle, c))
            g = Generator(c, self.db_of(c), rng, dict(self.base), cycle)
            threads.append(ClientRun(port, g, self.max_batch))
        brng = random.Random("%d:%d:burst" % (self.seed, cycle))
        burst_ev, burst_req = threading.Event(), threading.Event()
        burst = ClientRun(port, BurstGenerator(self.nclients, brng, dict(self.base), cycle), 3,
                          burst_req=burst_req, burst_size=brng.randint(16, 64), sent_ev=burst_ev,
                          pause=0.02)
        threads.append(burst)
        arng = random.Random("%d:%d:admin" % (self.seed, cycle))
        threads.append(ClientRun(port, AdminGenerator(self.nclients + 1, arng, dict(self.base),
                                                      cycle), 8, pause=0.005))
        for t in threads:
            t.start()
        mon = RawConn(port, timeout=30)

        def lsm():
            if self.is_redis:
                return {}
            try:
                v = mon.call("INFO", "lsm").decode("latin-1")
            except (OSError, ConnClosed, RespError) as e:
                self.fail(cycle, "INFO lsm failed while the clients ran (server stalled or "
                          "dead?): %r; log tail:\n%s" % (e, self.server.log_tail()))
            return dict(line.split(":", 1) for line in v.splitlines() if ":" in line)

        t_start = time.time()
        info = {}
        if mode == "random":
            time.sleep(delay)
        elif mode in ("flush", "compaction"):
            time.sleep(crng.uniform(0.02, 0.2))
            field = "lsm_running_flushes" if mode == "flush" else "lsm_running_compactions"
            end = time.time() + 3.0
            while time.time() < end:
                info = lsm()
                if int(info.get(field, 0)) > 0:
                    break
            else:
                mode += "-timeout"
            if mode == "compaction":
                time.sleep(crng.uniform(0, 0.01))
        elif mode == "burst":
            time.sleep(delay / 2)
            burst_req.set()
            burst_ev.wait(10)
            time.sleep(crng.uniform(0, 0.015))
        # liveness: the clients must be making progress when the kill comes (a deadlocked or
        # stalled server would otherwise just be killed and restarted without notice)
        waited = time.time()
        while now_ms() - max(t.last_reply for t in threads) > 1000:
            for t in threads:
                if t.error or t.end is not None:
                    self.fail(cycle, "client %d stopped before the kill: %s" %
                              (t.gen.cid, t.error or repr(t.end)))
            if not self.server.alive():
                self.fail(cycle, "the server died by itself before the kill; log tail:\n%s" %
                          self.server.log_tail())
            if time.time() - waited > 10:
                self.fail(cycle, "server stalled: no client got a reply for %.1f s "
                          "(INFO lsm: %s)" % ((now_ms() - max(t.last_reply for t in threads))
                                             / 1000.0, lsm()))
            time.sleep(0.05)
        if not self.server.alive():
            self.fail(cycle, "the server died by itself before the kill; log tail:\n%s" %
                      self.server.log_tail())
        info = lsm() if not mode.startswith("flush") or not info else info
        mon.close()
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait()
        kill_t = now_ms()
        self.kill_t = kill_t
        self.server.stop()
        tmps = self.tmp_files()
        for t in threads:
            t.join(60)
            if t.is_alive():
                self.fail(cycle, "client thread did not end after the kill")
            if t.error:
                self.fail(cycle, "client %d: %s" % (t.gen.cid, t.error))
        st.kill_modes[mode] = st.kill_modes.get(mode, 0) + 1
        if int(info.get("lsm_running_flushes", 0)) > 0:
            st.kills_flush_running += 1
        if int(info.get("lsm_running_compactions", 0)) > 0:
            st.kills_compaction_running += 1
        if tmps:
            st.kills_tmp_files += 1
        st.flushes += int(info.get("lsm_flushes", 0))
        st.compactions += int(info.get("lsm_compactions", 0))
        runs = {t.gen.cid: t for t in threads}
        self.runs = runs
        # sometimes a second kill while the server recovers (WAL replay, recovery flush)
        for _ in range(crng.choice([0] * 8 + [1, 2])):
            self.kill_during_recovery(crng.uniform(0, 0.12))
        t_restart = time.time()
        self.start_server(crng, cycle)
        t_check = time.time()
        self.stats.restart_time += t_check - t_restart
        obs = self.observe(cycle)
        if self.self_test:
            self.mutations(cycle, runs, kill_t, obs)
        summary = self.check(cycle, runs, kill_t, obs)
        self.check_counts(cycle, obs)
        self.check_files(cycle)
        self.check_log(cycle)
        t_end = time.time()
        self.base = {k: (o[0], None if o[1] == -1 else (o[1], o[1]))
                     for k, o in obs.items() if o[0] is not None}
        st.cycles += 1
        st.time += time.time() - t_start
        return ("cycle %d: kill %-18s after %.2fs, %s, restart %.2fs, check %.2fs, L0..: %s, "
                "running flush/compaction %s/%s%s" % (
                    cycle, mode, (kill_t / 1000.0) - t_start, summary, t_check - t_restart,
                    t_end - t_check,
                    ",".join(info.get("lsm_level%d_files" % i, "-") for i in range(4)),
                    info.get("lsm_running_flushes", "-"), info.get("lsm_running_compactions", "-"),
                    ", .tmp: %s" % " ".join(tmps) if tmps else ""))

    # ------------------------------------------------------------------ observation
    def observe(self, cycle, keys_by_db=None):
        """(db, key) -> (value or None, PEXPIRETIME, PTTL, t0, t1) for every key of the universe."""
        out = {}
        conn = RawConn(self.server.port, timeout=60)
        try:
            for db in self.dbs:
                conn.call("SELECT", db)
                pending = sorted(self.universe.get(db, ())) if keys_by_db is None else keys_by_db[db]
                for attempt in range(6):
                    if not pending:
                        break
                    t0 = now_ms()
                    conn.send_raw(b"".join(encode_command([c, k]) for k in pending
                                           for c in ("GET", "PEXPIRETIME", "PTTL")))
                    res = [conn.reply()[1] for _ in range(3 * len(pending))]
                    t1 = now_ms()
                    again = []
                    for i, k in enumerate(pending):
                        v, pxt, pttl = res[3 * i: 3 * i + 3]
                        for x in (v, pxt, pttl):
                            if isinstance(x, RespError):
                                self.fail(cycle, "observing db%d %r: error %s" % (db, k, x))
                        coherent = ((v is None and pxt == -2 and pttl == -2) or
                                    (v is not None and pxt == -1 and pttl == -1) or
                                    (v is not None and pxt >= 0 and pttl >= 0))
                        if not coherent:
                            again.append(k)  # may have expired between the commands
                            continue
                        if v is not None and pxt >= 0:
                            if pxt + SLACK_MS < t0:
                                self.fail(cycle, "db%d %r: GET returned a value although its "
                                          "PEXPIRETIME %d is %.0f ms in the past" %
                                          (db, k, pxt, t0 - pxt))
                            if not (pxt - t1 - SLACK_MS <= pttl <= pxt - t0 + SLACK_MS):
                                self.fail(cycle, "db%d %r: PTTL %d disagrees with PEXPIRETIME %d "
                                          "(observed in [%.0f, %.0f])" % (db, k, pttl, pxt, t0, t1))
                        out[(db, k)] = (v, pxt, pttl, t0, t1)
                    pending = again
                    if pending:
                        time.sleep(0.01)
                if pending:
                    self.fail(cycle, "db%d: GET/PEXPIRETIME/PTTL incoherent after 6 attempts for "
                              "%r" % (db, pending[:5]))
        finally:
            conn.close()
        return out

    @staticmethod
    def consistent(state, o):
        v, pxt = o[0], o[1]
        t0, t1 = o[3], o[4]
        if state is None:
            return v is None
        sv, e = state
        if e is None:
            return v == sv and pxt == -1
        lo, hi = e
        if hi + SLACK_MS < t0:
            return v is None
        if v is None:
            return lo - SLACK_MS <= t1
        return v == sv and lo - SLACK_MS <= pxt <= hi + SLACK_MS

    # ------------------------------------------------------------------ the check
    def history(self, c, key, run, a, base_state, obs_state, extra=""):
        lines = ["  key db%d %r (client %d); base state at cycle start: %s" %
                 (key[0], key[1], c, short(base_state))]
        mine = [u for u in run.units if key in u.keys]
        if len(mine) > 25:
            lines.append("    ... %d earlier commands on this key omitted" % (len(mine) - 25))
        for u in mine[-25:]:
            status = ("ACK@%.0f %s" % (u.recv_t, short(u.replies)) if u.replies is not None
                      else "in flight (no reply read)")
            lines.append("    #%d sent@%.0f %s -> %s" % (u.idx, u.send_t, u.text(), status))
        lines.append("  client %d: %d commands sent, the first %d acknowledged; kill at %.0f" %
                     (c, len(run.units), a, self.kill_t or 0))
        lines.append("  observed after restart: value=%s PEXPIRETIME=%r PTTL=%r at [%.0f, %.0f]" %
                     (short(obs_state[0]), obs_state[1], obs_state[2], obs_state[3], obs_state[4]))
        return "\n".join(lines) + extra

    def check(self, cycle, runs, kill_t, obs):
        st = self.stats
        contrib_sets = {}   # db -> list (per client) of {tuple of contributions}
        shared_keys = {db: [(db, b"shared:%d" % j) for j in range(NSHARED)]
                       for db in self.client_dbs}
        max_acked = {}      # shared key -> largest acknowledged reply
        n_inflight = 0
        for c, run in sorted(runs.items()):
            db = self.client_db(c)
            units = run.units
            a = run.acked()
            n = len(units)
            s = dict(self.base)
            contrib = {}
            last_shared = {}
            for u in units[:a]:
                try:
                    pred = run_unit(s, db, u, u.send_t, u.recv_t, contrib)
                except ModelAmbiguous as e:
                    raise AssertionError("harness bug: ambiguous command %s: %s" % (u.text(), e))
                if not reply_matches(pred, u.replies):
                    k = u.keys[0] if u.keys else None
                    self.fail(cycle, "acknowledged reply differs from the model: client %d "
                              "command #%d %s\n  expected %s\n  got      %s\n%s" % (
                                  c, u.idx, u.text(), short(pred), short(u.replies),
                                  self.history(c, k, run, a, self.base.get(k), obs[k])
                                  if k in obs else ""))
                st.acked_replies_checked += len(u.cmds)
                # shared counters: each acknowledged reply is larger than the previous one
                flat = u.replies[-1] if u.multi else u.replies
                cmds = u.cmds[1:-1] if u.multi else u.cmds
                for cmd, r in zip(cmds, flat if isinstance(flat, list) else []):
                    if cmd[0] in ("INCR", "INCRBY") and is_shared(b(cmd[1])):
                        sk = (db, b(cmd[1]))
                        if not isinstance(r, int):
                            self.fail(cycle, "client %d: %s replied %r" % (c, fmt_cmd(cmd), r))
                        if sk in last_shared and r <= last_shared[sk]:
                            self.fail(cycle, "shared counter db%d %r went back within a run: "
                                      "client %d saw %d then %d" % (db, sk[1], c, last_shared[sk], r))
                        last_shared[sk] = r
                        max_acked[sk] = max(max_acked.get(sk, r), r)
                if u.writes:
                    st.acked_writes += 1
            st.units_sent += n
            st.acked_units += a
            # the window of in-flight commands: states after every prefix a..n
            touched = {}
            contribs = [tuple(contrib.get(k, 0) for k in shared_keys.get(db, []))]
            for i in range(a, n):
                u = units[i]
                for k in u.keys:
                    if k not in touched:
                        touched[k] = [(a, s.get(k))]
                try:
                    run_unit(s, db, u, u.send_t, kill_t, contrib)
                except ModelAmbiguous as e:
                    raise AssertionError("harness bug: ambiguous command %s: %s" % (u.text(), e))
                for k in u.keys:
                    touched[k].append((i + 1, s.get(k)))
                contribs.append(tuple(contrib.get(k, 0) for k in shared_keys.get(db, [])))
            feasible = set(range(a, n + 1))
            per_key = {}
            for k in self.owned(c):
                o = obs[k]
                st.keys_checked += 1
                if k not in touched:
                    state = s.get(k)
                    if state is not None and state[1] is not None and state[1][1] + SLACK_MS < o[3]:
                        st.expired_checked += 1
                    if not self.consistent(state, o):
                        self.fail(cycle, "acknowledged state lost or wrong: expected %s\n%s" % (
                            short(state), self.history(c, k, run, a, self.base.get(k), o)))
                    continue
                hist = touched[k]
                fk = set()
                for L in range(a, n + 1):
                    state = [x for x in hist if x[0] <= L][-1][1]
                    if self.consistent(state, o):
                        fk.add(L)
                per_key[k] = fk
                if not fk:
                    self.fail(cycle, "recovered value matches no state between the last "
                              "acknowledged command and the last sent one: candidates %s\n%s" % (
                                  "; ".join("after #%d: %s" % (L - 1, short(x)) for L, x in hist),
                                  self.history(c, k, run, a, self.base.get(k), o)))
                feasible &= fk
            if not feasible:
                detail = "\n".join(
                    "  db%d %r consistent with prefixes %s" % (k[0], k[1], sorted(v))
                    for k, v in sorted(per_key.items()))
                worst = sorted(per_key.items())
                hist = "\n".join(self.history(c, k, run, a, self.base.get(k), obs[k])
                                 for k, v in worst[:6])
                self.fail(cycle, "client %d: no single prefix of its commands explains the "
                          "recovered state (partial MSET/RENAME/EXEC, or a write durable without "
                          "an earlier one): acknowledged %d of %d sent\n%s\n%s" % (
                              c, a, n, detail, hist))
            n_inflight += n - a
            st.inflight += n - a
            if len(feasible) == 1:
                L = feasible.pop()
                st.inflight_applied += L - a
                st.inflight_lost += n - L
                feasible = {L}
            else:
                st.inflight_undetermined += n - a
            contrib_sets.setdefault(db, []).append({contribs[L - a] for L in feasible})
        # shared counters: never back, and exactly base + the increments of the prefixes
        for db in self.client_dbs:
            sk = shared_keys[db]
            sums = {tuple(0 for _ in sk)}
            for cs in contrib_sets.get(db, []):
                sums = {tuple(x + y for x, y in zip(p, q)) for p in sums for q in cs}
                if len(sums) > 100000:
                    sums = None
                    break
            basev = tuple(int(self.base[k][0]) if k in self.base else 0 for k in sk)
            got = tuple(int(obs[k][0]) if obs[k][0] is not None else 0 for k in sk)
            for i, k in enumerate(sk):
                if k in max_acked and got[i] < max_acked[k]:
                    self.fail(cycle, "shared counter db%d %r went back: acknowledged INCR replied "
                              "%d, recovered value %d" % (db, k[1], max_acked[k], got[i]))
                if got[i] < basev[i]:
                    self.fail(cycle, "shared counter db%d %r went back below its value at the "
                              "start of the cycle: %d < %d" % (db, k[1], got[i], basev[i]))
            delta = tuple(g - x for g, x in zip(got, basev))
            if sums is not None and delta not in sums:
                self.fail(cycle, "shared counters of db%d: recovered %r, base %r: the increments "
                          "%r are not the sum of the prefixes consistent with each client's "
                          "own keys (possible: %s)" % (db, got, basev, delta,
                                                       sorted(sums)[:20]))
        return "%d in flight" % n_inflight

    def check_counts(self, cycle, obs):
        """DBSIZE == keys SCAN finds == INFO keyspace, no stray or resurrected keys."""
        conn = RawConn(self.server.port, timeout=60)
        try:
            for db in self.dbs:
                conn.call("SELECT", db)
                deadline = time.time() + 10
                while True:
                    t0 = now_ms()
                    n1 = conn.call("DBSIZE")
                    keys = set()
                    cur = b"0"
                    while True:
                        cur, batch = conn.call("SCAN", cur, "COUNT", 97)
                        keys.update(batch)
                        if cur == b"0":
                            break
                    n2 = conn.call("DBSIZE")
                    ks = conn.call("INFO", "keyspace").decode()
                    t1 = now_ms()
                    ik, ie = 0, 0
                    for line in ks.splitlines():
                        if line.startswith("db%d:" % db):
                            f = dict(x.split("=") for x in line.split(":", 1)[1].split(","))
                            ik, ie = int(f["keys"]), int(f["expires"])
                    stray = [k for k in keys if k not in self.universe.get(db, ())]
                    if stray:
                        self.fail(cycle, "SCAN db%d returned keys no client ever wrote: %r" %
                                  (db, stray[:5]))
                    ghosts = [k for k in keys if obs[(db, k)][0] is None]
                    if ghosts:
                        self.fail(cycle, "SCAN db%d returned keys that GET found absent just "
                                  "before: %r" % (db, ghosts[:5]))
                    expected = set()
                    for (d, k), o in obs.items():
                        if d != db or o[0] is None:
                            continue
                        if o[1] == -1 or o[1] > t1 + SLACK_MS:
                            expected.add(k)
                        elif o[1] + SLACK_MS < t0 and k in keys:
                            self.fail(cycle, "SCAN db%d returned %r whose expire time %d passed "
                                      "%.0f ms earlier" % (db, k, o[1], t0 - o[1]))
                    missing = expected - keys
                    if missing:
                        self.fail(cycle, "SCAN db%d misses live keys: %r" % (db, sorted(missing)[:5]))
                    nexp = sum(1 for k in keys if obs[(db, k)][1] >= 0)
                    if n1 == n2 == len(keys) == ik and ie == nexp:
                        break
                    if time.time() > deadline:
                        self.fail(cycle, "db%d: DBSIZE %d / %d, SCAN found %d keys (%d with a TTL), "
                                  "INFO keyspace keys=%d expires=%d, still different after 10 s" %
                                  (db, n1, n2, len(keys), nexp, ik, ie))
                    time.sleep(0.05)
        finally:
            conn.close()

    # ------------------------------------------------------------------ checking the checker
    def expect_failure(self, what, cycle, runs, kill_t, obs, key=None):
        saved = self.stats
        self.stats = Stats()
        try:
            self.check(cycle, runs, kill_t, obs)
        except CheckFailure:
            self.mutations_caught[what] = self.mutations_caught.get(what, 0) + 1
            return
        finally:
            self.stats = saved
        raise AssertionError("self-test: the checker accepted an injected fault (%s) seed %d "
                             "cycle %d key %r: %s" % (what, self.seed, cycle, key,
                                                      short(obs.get(key))))

    def mutations(self, cycle, runs, kill_t, obs):
        """--self-test: the check must reject recovered states with injected faults: an
        acknowledged write undone, a shared counter one below, one key of a multi-key unit
        (MSET, RENAME, MULTI/EXEC) applied without the others."""
        rng = random.Random("%d:%d:mutate" % (self.seed, cycle))
        to_state = lambda o, state: ((None, -2, -2, o[3], o[4]) if state is None else  # noqa: E731
                                     (state[0], -1 if state[1] is None else state[1][0],
                                      0, o[3], o[4]))
        for c, run in sorted(runs.items()):
            db = self.client_db(c)
            a, units = run.acked(), run.units
            window = set(k for u in units[a:] for k in u.keys)
            # 1. undo an acknowledged write: a key written by an acknowledged command, not
            #    touched after, observed with a state different from the base state
            cands = [k for u in units[:a] if u.writes for k in u.keys
                     if k not in window and not is_shared(k[1]) and obs[k][0] is not None
                     and (obs[k][1] == -1 or obs[k][1] > obs[k][4] + VOLATILE_HORIZON_MS)
                     and (self.base.get(k) is None or self.base[k][0] != obs[k][0])]
            if cands:
                k = rng.choice(cands)
                m = dict(obs)
                m[k] = to_state(obs[k], self.base.get(k))
                self.expect_failure("acknowledged write undone", cycle, runs, kill_t, m, k)
            # 2. half of a multi-key unit: replay to find the states before and after it
            multi = [i for i, u in enumerate(units) if u.writes and len(set(u.keys)) >= 2
                     and all(not is_shared(k[1]) for k in u.keys)]
            if not multi:
                continue
            i = rng.choice(multi)
            u = units[i]
            if any(k in units[j].keys for j in range(i + 1, len(units)) for k in u.keys):
                continue
            st = dict(self.base)
            for j, v in enumerate(units[:i]):
                run_unit(st, db, v, v.send_t, v.recv_t if v.replies is not None else kill_t, {})
            before = {k: st.get(k) for k in u.keys}
            run_unit(st, db, u, u.send_t, u.recv_t if u.replies is not None else kill_t, {})
            after = {k: st.get(k) for k in u.keys}
            changed = [k for k in set(u.keys) if before[k] != after[k]
                       and all(x is None or x[1] is None for x in (before[k], after[k]))]
            if len(changed) < 2:
                continue
            applied = all(self.consistent(after[k], obs[k]) for k in changed)
            unapplied = all(self.consistent(before[k], obs[k]) for k in changed)
            if applied == unapplied:
                continue
            k = rng.choice(changed)
            m = dict(obs)
            m[k] = to_state(obs[k], before[k] if applied else after[k])
            self.expect_failure("multi-key unit split", cycle, runs, kill_t, m, k)
        # 3. a shared counter below an acknowledged INCR reply, and one above every sum of
        #    increments the clients' prefixes allow
        acked_max = {}
        for c, run in runs.items():
            db = self.client_db(c)
            for u in run.units[:run.acked()]:
                cmds = u.cmds[1:-1] if u.multi else u.cmds
                reps = u.replies[-1] if u.multi else u.replies
                for cmd, r in zip(cmds, reps if isinstance(reps, list) else []):
                    if cmd[0] in ("INCR", "INCRBY") and is_shared(b(cmd[1])) and isinstance(r, int):
                        k = (db, b(cmd[1]))
                        acked_max[k] = max(acked_max.get(k, r), r)
        if acked_max:
            k = rng.choice(sorted(acked_max))
            m = dict(obs)
            m[k] = (b"%d" % (acked_max[k] - 1),) + obs[k][1:]
            self.expect_failure("shared counter below an acknowledged reply", cycle, runs,
                                kill_t, m)
        for db in self.client_dbs:
            k = (db, b"shared:%d" % rng.randrange(NSHARED))
            m = dict(obs)
            m[k] = (b"%d" % (int(obs[k][0] or 0) + 10 ** 6), -1, -1) + obs[k][3:]
            self.expect_failure("shared counter above every prefix sum", cycle, runs, kill_t, m)

    def check_log(self, cycle):
        """Sanitizer reports (make SANITIZER=... crash-test) in the new part of server.log."""
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                f.seek(self.log_offset)
                new = f.read()
        except OSError:
            return
        self.log_offset += len(new)
        for pat in (b"ERROR: AddressSanitizer", b"runtime error:", b"WARNING: ThreadSanitizer",
                    b"ERROR: LeakSanitizer"):
            i = new.find(pat)
            if i >= 0:
                self.fail(cycle, "sanitizer report in server.log:\n%s" %
                          new[max(0, i - 200): i + 2000].decode("latin-1"))

    def check_files(self, cycle):
        """No orphan tables: the .sst files on disk are the tables of the live version (INFO lsm
        levels), once no flush or compaction is between writing a table and installing it."""
        if self.is_redis:
            return
        deadline = time.time() + 10
        while True:
            info = self.info("lsm")
            live = sum(int(v) for k, v in info.items()
                       if k.startswith("lsm_level") and k.endswith("_files"))
            on_disk = sorted(f for f in os.listdir(self.dir) if f.endswith(".sst"))
            busy = int(info.get("lsm_running_flushes", 0)) + int(info.get("lsm_running_compactions", 0))
            if len(on_disk) == live and not busy:
                return
            if time.time() > deadline:
                self.fail(cycle, "after the restart %d .sst files on disk but %d tables in the "
                          "live version (INFO lsm), for 10 s: orphan or missing tables\n%s" %
                          (len(on_disk), live, " ".join(on_disk)))
            time.sleep(0.05)

    def final_clean_restart(self, cycle):
        """SIGTERM, restart: the state must be exactly the last verified one."""
        rc = self.server.stop(signal.SIGTERM, timeout=60)
        if rc != 0:
            self.fail(cycle, "server exited with %r after SIGTERM" % rc)
        self.start_server()
        obs = self.observe(cycle)
        for k, o in obs.items():
            if not self.consistent(self.base.get(k), o):
                self.fail(cycle, "after a clean restart db%d %r is %s, expected %s" % (
                    k[0], k[1], short((o[0], o[1])), short(self.base.get(k))))
        self.check_counts(cycle, obs)

    def run(self, cycles, verbose=True, deadline=None):
        t0 = time.time()
        self.start_server(cycle=0)
        try:
            done = 0
            for cycle in range(cycles):
                line = self.run_cycle(cycle)
                done += 1
                if verbose:
                    self.log(line)
                elif cycle % 50 == 49:
                    self.log("%d cycles (%.0fs): %s" % (cycle + 1, time.time() - t0,
                                                        self.stats.line()))
                if deadline and time.time() > deadline:
                    self.log("time limit reached after %d cycles" % done)
                    break
            self.final_clean_restart(done)
        finally:
            if self.server is not None:
                self.server.kill()
        return self.stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", default="./kevo-server")
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--fsync", default="always", choices=["always", "everysec", "no"])
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the data directory on success")
    ap.add_argument("--quiet", action="store_true", help="a progress line every 50 cycles")
    ap.add_argument("--self-test", action="store_true",
                    help="also check that the checker rejects injected faults, every cycle")
    ap.add_argument("--server-args", default="",
                    help="extra server arguments (e.g. a negative control: redis-server "
                    "--server-args '--appendonly no' must fail)")
    ns = ap.parse_args()
    seed = ns.seed if ns.seed is not None else random.randrange(1, 10 ** 9)
    binary = os.path.abspath(ns.server) if os.sep in ns.server else (shutil.which(ns.server) or ns.server)
    work = ns.workdir or tempfile.mkdtemp(prefix="kevo-crash.")
    os.makedirs(work, exist_ok=True)
    print("crash harness: server %s, appendfsync %s, %d clients, seed %d, %d cycles, dir %s" %
          (binary, ns.fsync, ns.clients, seed, ns.cycles, work), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    h = Harness(binary, work, fsync=ns.fsync, clients=ns.clients, seed=seed,
                self_test=ns.self_test, extra_args=shlex.split(ns.server_args),
                log=lambda s: print(s, flush=True))
    try:
        stats = h.run(ns.cycles, verbose=not ns.quiet)
    except CheckFailure as e:
        print(str(e), flush=True)
        print("crash harness: FAILED (stats so far: %s)" % h.stats.line(), flush=True)
        return 1
    finally:
        stop_all_servers()
    print("crash harness: OK: %s" % stats.line(), flush=True)
    if ns.self_test:
        print("self-test: injected faults rejected: %s" % h.mutations_caught, flush=True)
    if not ns.keep and not ns.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def suite():
    """redis-compat suite (run.sh KEVO_BINARY crash): a short run per fsync policy."""
    from lib import test, run_all, env, tmpdir, skip

    def one(fsync, cycles_var, default):
        cycles = int(env(cycles_var, str(default)))
        if cycles <= 0:
            skip("%s=0" % cycles_var)
        seed = int(env("KT_CRASH_SEED", "0")) or random.randrange(1, 10 ** 9)
        clients = int(env("KT_CRASH_CLIENTS", "4"))
        work = tempfile.mkdtemp(prefix="crash-%s." % fsync, dir=tmpdir())
        print("crash harness: appendfsync %s, %d cycles, %d clients, seed %d (KT_CRASH_SEED "
              "to repeat)" % (fsync, cycles, clients, seed), flush=True)
        h = Harness(env("KEVO_BIN"), work, fsync=fsync, clients=clients, seed=seed,
                    self_test=True, log=lambda s: print("  " + s, flush=True))
        try:
            stats = h.run(cycles, verbose=env("KT_CRASH_VERBOSE", "0") == "1")
        except CheckFailure as e:
            print(str(e), flush=True)   # the whole history (the summary line is truncated)
            print("  (run.sh removes the data directory unless KT_KEEP=1)", flush=True)
            raise
        print("  %s\n  self-test: injected faults rejected: %s" % (stats.line(), h.mutations_caught),
              flush=True)
        shutil.rmtree(work, ignore_errors=True)

    @test(timeout=240)
    def test_crash_kill9_appendfsync_always():
        one("always", "KT_CRASH_CYCLES", 30)

    @test(timeout=120)
    def test_crash_kill9_appendfsync_everysec():
        one("everysec", "KT_CRASH_EVERYSEC_CYCLES", 10)

    return run_all("crash")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--suite":
        sys.exit(suite())
    sys.exit(main())
