#!/usr/bin/python3
"""test_types_random.py - properties of the random hash/set commands (SPOP, SRANDMEMBER,
HRANDFIELD), which a byte-for-byte differential cannot compare: reply sizes, membership,
no duplicates for positive counts, repeats allowed for negative ones, SPOP shrinking the set by
exactly what it returned, values matching their fields, RESP3 shapes, and every member being
reachable (rough uniformity). Small (intset/listpack), medium and big (past the random-pick
index threshold) collections, binary members. Runs against $KEVO_PORT (run.sh starts it);
pointed at redis-server it checks the same properties there."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import RawConn, eq, ok, test, run_all, kevo_port  # noqa: E402

SIZES = (1, 5, 100, 129, 1000)
COUNTS = (1, 2, 3, 10, 99, 100, 128, 129, 130, 500, 999, 1000, 5000)


def conn():
    c = RawConn(kevo_port())
    c.call("FLUSHALL")
    return c


def members(n, binary=False):
    out = []
    for i in range(n):
        m = b"m%d" % i
        if binary and i % 3 == 0:
            m = b"\x00\xff" + m + b"\r\n"
        out.append(m)
    return out


def fill_set(c, key, ms):
    for i in range(0, len(ms), 500):
        c.call("SADD", key, *ms[i:i + 500])


def fill_hash(c, key, ms):
    for i in range(0, len(ms), 500):
        args = []
        for m in ms[i:i + 500]:
            args += [m, b"v:" + m]
        c.call("HSET", key, *args)


@test(timeout=300)
def test_spop_count_properties():
    c = conn()
    for size in SIZES:
        for count in COUNTS:
            for binary in (False, True):
                c.call("DEL", "s")
                orig = set(members(size, binary))
                fill_set(c, "s", sorted(orig))
                got = c.call("SPOP", "s", count)
                want = min(count, size)
                eq(len(got), want, "SPOP %d of %d: reply size" % (count, size))
                eq(len(set(got)), want, "SPOP %d of %d: no duplicates" % (count, size))
                ok(set(got) <= orig, "SPOP returns members")
                left = set(c.call("SMEMBERS", "s"))
                eq(c.call("SCARD", "s"), size - want, "the set shrinks by what SPOP returned")
                eq(left | set(got), orig, "popped + left = before")
                eq(left & set(got), set(), "popped members are gone")
                eq(c.call("EXISTS", "s"), 1 if size > want else 0)


@test(timeout=300)
def test_spop_single_until_empty():
    c = conn()
    for size in (3, 200):
        orig = set(members(size, True))
        fill_set(c, "s", sorted(orig))
        seen = set()
        for i in range(size):
            m = c.call("SPOP", "s")
            ok(m in orig and m not in seen, "SPOP returns each member once")
            seen.add(m)
            eq(c.call("SISMEMBER", "s", m), 0)
        eq(seen, orig)
        eq(c.call("SPOP", "s"), None)
        eq(c.call("EXISTS", "s"), 0)


@test(timeout=300)
def test_srandmember_properties():
    c = conn()
    for size in SIZES:
        c.call("DEL", "s")
        orig = set(members(size, True))
        fill_set(c, "s", sorted(orig))
        for count in COUNTS:
            got = c.call("SRANDMEMBER", "s", count)
            eq(len(got), min(count, size), "SRANDMEMBER %d of %d" % (count, size))
            eq(len(set(got)), len(got), "no duplicates for a positive count")
            ok(set(got) <= orig)
            got = c.call("SRANDMEMBER", "s", -count)
            eq(len(got), count, "SRANDMEMBER -%d: exactly |count|" % count)
            ok(set(got) <= orig)
        eq(c.call("SCARD", "s"), size, "SRANDMEMBER leaves the set alone")
        ok(c.call("SRANDMEMBER", "s") in orig)


@test(timeout=300)
def test_hrandfield_properties():
    c = conn()
    for size in SIZES:
        c.call("DEL", "h")
        orig = set(members(size, True))
        fill_hash(c, "h", sorted(orig))
        for count in COUNTS:
            got = c.call("HRANDFIELD", "h", count)
            eq(len(got), min(count, size))
            eq(len(set(got)), len(got), "no duplicates for a positive count")
            ok(set(got) <= orig)
            got = c.call("HRANDFIELD", "h", count, "WITHVALUES")
            eq(len(got), 2 * min(count, size))
            fields = got[0::2]
            eq(len(set(fields)), len(fields))
            for f, v in zip(got[0::2], got[1::2]):
                eq(v, b"v:" + f, "the value of its field")
            got = c.call("HRANDFIELD", "h", -count, "WITHVALUES")
            eq(len(got), 2 * count, "negative count: exactly |count| pairs")
            for f, v in zip(got[0::2], got[1::2]):
                ok(f in orig)
                eq(v, b"v:" + f)
        ok(c.call("HRANDFIELD", "h") in orig)
        eq(c.call("HLEN", "h"), size)


@test(timeout=120)
def test_random_replies_resp3_shapes():
    c = conn()
    c.call("HELLO", "3")
    fill_hash(c, "h", members(300))
    fill_set(c, "s", members(300))
    got = c.call("HRANDFIELD", "h", 5, "WITHVALUES")
    eq(len(got), 5)
    for pair in got:
        ok(isinstance(pair, list) and len(pair) == 2 and pair[1] == b"v:" + pair[0])
    got = c.call("HRANDFIELD", "h", -7, "WITHVALUES")
    eq(len(got), 7)
    got = c.call("SPOP", "s", 5)
    ok(isinstance(got, tuple) and got[0] == "set" and len(got[1]) == 5, "SPOP count: a set")
    got = c.call("SRANDMEMBER", "s", 5)
    ok(isinstance(got, list) and len(got) == 5, "SRANDMEMBER count: an array")
    got = c.call("SPOP", "s", 1000)
    ok(isinstance(got, tuple) and len(got[1]) == 295)


@test(timeout=300)
def test_every_member_reachable():
    c = conn()
    for size, picks in ((10, 20000), (1000, 50000)):
        c.call("DEL", "s", "h")
        ms = members(size)
        fill_set(c, "s", ms)
        fill_hash(c, "h", ms)
        for cmd in ("SRANDMEMBER", "HRANDFIELD"):
            hits = {}
            for _ in range(picks // 10000):
                for m in c.call(cmd, "s" if cmd[0] == "S" else "h", -10000):
                    hits[m] = hits.get(m, 0) + 1
            eq(len(hits), size, "%s over %d members: every member picked" % (cmd, size))
            share = picks / size
            ok(max(hits.values()) < 4 * share,
               "%s: no member near 4x its share (%d vs %.0f)" % (cmd, max(hits.values()), share))
            if size <= 128:  # small collections are picked from exactly uniformly
                ok(min(hits.values()) > share / 2, "%s: uniform on a small collection" % cmd)


@test(timeout=120)
def test_spop_in_transaction_and_with_expire():
    c = conn()
    fill_set(c, "s", members(50))
    c.call("EXPIRE", "s", 100)
    c.call("MULTI")
    c.call("SPOP", "s", 10)
    c.call("SPOP", "s")
    c.call("SCARD", "s")
    res = c.call("EXEC")
    eq(len(res[0]), 10)
    ok(res[1] not in res[0])
    eq(res[2], 39)
    ok(0 < c.call("TTL", "s") <= 100, "SPOP keeps the TTL")


if __name__ == "__main__":
    sys.exit(run_all("types_random"))
