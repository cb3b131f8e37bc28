#!/usr/bin/python3
"""redis-py suite: per-command replies and errors (RESP2 through redis-py 4.3.4, RESP3 through
raw sockets since that redis-py has no protocol=3), keyspace walks, binary safety, large
values, pipelining, transactions, expiry, DB commands, server/admin commands, AUTH,
maxclients and protocol errors. Runs against the server on $KEVO_PORT (run.sh starts it); a
few tests start their own instance (auth, maxclients, config rewrite, shutdown)."""
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402  (Debian python3-redis)
from lib import (RawConn, RespError, Server, ConnClosed, eq, ok, raises, test, skip,  # noqa: E402
                 run_all, wait_until, kevo_port, kevo_only, target_is_kevo, start_kevo,
                 tmpdir, env, kevo_extra_args, free_port)


def R(**kw):
    return redis.Redis(host="127.0.0.1", port=kevo_port(), decode_responses=True,
                       socket_timeout=60, **kw)


def RB(**kw):
    return redis.Redis(host="127.0.0.1", port=kevo_port(), socket_timeout=60, **kw)


def fresh():
    r = R()
    r.flushall()
    return r


def raw():
    return RawConn(kevo_port())


# ------------------------------------------------------------------------------- strings

@test
def test_set_get_basic():
    r = fresh()
    eq(r.set("k", "v"), True)
    eq(r.get("k"), "v")
    eq(r.get("missing"), None)
    eq(r.set("k", "v2"), True)
    eq(r.get("k"), "v2")
    eq(r.set("e", ""), True)
    eq(r.get("e"), "", "empty value is a value")
    eq(r.exists("e"), 1)
    eq(r.strlen("e"), 0)


@test
def test_set_options_nx_xx_get_keepttl():
    r = fresh()
    eq(r.set("k", "1", nx=True), True)
    eq(r.set("k", "2", nx=True), None)
    eq(r.get("k"), "1")
    eq(r.set("x", "1", xx=True), None)
    eq(r.exists("x"), 0)
    eq(r.set("k", "3", xx=True), True)
    eq(r.get("k"), "3")
    eq(r.set("k", "4", get=True), "3")
    eq(r.set("nokey", "4", get=True), None)
    eq(r.get("nokey"), "4")
    r.set("t", "v", ex=100)
    ok(95 <= r.ttl("t") <= 100, "EX ttl")
    r.set("t", "v2", keepttl=True)
    ok(95 <= r.ttl("t") <= 100, "KEEPTTL keeps the ttl")
    r.set("t", "v3")
    eq(r.ttl("t"), -1, "plain SET clears the ttl")
    raises(r.execute_command, "SET", "k", "v", "NX", "XX", match="syntax error")
    raises(r.execute_command, "SET", "k", "v", "EX", "10", "PX", "100", match="syntax error")
    raises(r.execute_command, "SET", "k", "v", "EX", "0", match="invalid expire time in 'set'")
    raises(r.execute_command, "SET", "k", "v", "EX", "-5", match="invalid expire time in 'set'")
    raises(r.execute_command, "SET", "k", "v", "EX", "abc", match="not an integer")
    raises(r.execute_command, "SET", "k", "v", "BOGUS", match="syntax error")
    raises(r.execute_command, "SET", "k", match="wrong number of arguments for 'set'")


@test
def test_set_ex_px_exat_pxat():
    r = fresh()
    r.set("a", "1", px=100000)
    ok(99000 <= r.pttl("a") <= 100000, "PX pttl")
    now = int(time.time())
    r.set("b", "1", exat=now + 1000)
    eq(r.execute_command("EXPIRETIME", "b"), now + 1000)
    ok(990 <= r.ttl("b") <= 1000, "EXAT ttl")
    r.set("c", "1", pxat=(now + 1000) * 1000 + 123)
    eq(r.execute_command("PEXPIRETIME", "c"), (now + 1000) * 1000 + 123)
    eq(r.execute_command("EXPIRETIME", "c"), now + 1000)
    # an EXAT in the past: the key is gone at once
    r.set("d", "1", exat=now - 10)
    eq(r.get("d"), None)
    eq(r.exists("d"), 0)
    r.set("e", "1", px=50)
    time.sleep(0.2)
    eq(r.get("e"), None, "PX 50 expired after 200 ms")
    eq(r.ttl("e"), -2)


@test
def test_setnx_setex_psetex_getset():
    r = fresh()
    eq(r.setnx("k", "1"), True)
    eq(r.setnx("k", "2"), False)
    eq(r.get("k"), "1")
    eq(r.setex("s", 100, "v"), True)
    ok(95 <= r.ttl("s") <= 100)
    eq(r.psetex("p", 100000, "v"), True)
    ok(99000 <= r.pttl("p") <= 100000)
    raises(r.setex, "s", 0, "v", match="invalid expire time in 'setex'")
    raises(r.psetex, "p", -1, "v", match="invalid expire time in 'psetex'")
    eq(r.getset("k", "new"), "1")
    eq(r.getset("none", "x"), None)
    eq(r.get("none"), "x")
    r.set("t", "v", ex=100)
    r.getset("t", "w")
    eq(r.ttl("t"), -1, "GETSET clears ttl")


@test
def test_getdel_getex():
    r = fresh()
    r.set("k", "v")
    eq(r.getdel("k"), "v")
    eq(r.exists("k"), 0)
    eq(r.getdel("k"), None)
    r.set("g", "v")
    eq(r.getex("g", ex=100), "v")
    ok(95 <= r.ttl("g") <= 100)
    eq(r.getex("g", persist=True), "v")
    eq(r.ttl("g"), -1)
    eq(r.getex("g", px=100000), "v")
    ok(r.pttl("g") > 99000)
    now = int(time.time())
    eq(r.getex("g", exat=now + 500), "v")
    eq(r.execute_command("EXPIRETIME", "g"), now + 500)
    eq(r.getex("g", pxat=(now + 600) * 1000), "v")
    eq(r.execute_command("EXPIRETIME", "g"), now + 600)
    eq(r.getex("g"), "v")
    eq(r.getex("missing", ex=10), None)
    raises(r.execute_command, "GETEX", "g", "EX", "0", match="invalid expire time in 'getex'")
    raises(r.execute_command, "GETEX", "g", "EX", "10", "PERSIST", match="syntax error")


@test
def test_mget_mset_msetnx():
    r = fresh()
    eq(r.mset({"a": "1", "b": "2", "c": "3"}), True)
    eq(r.mget("a", "b", "nope", "c"), ["1", "2", None, "3"])
    eq(r.msetnx({"x": "1", "a": "9"}), False)
    eq(r.exists("x"), 0)
    eq(r.get("a"), "1")
    eq(r.msetnx({"x": "1", "y": "2"}), True)
    eq(r.mget("x", "y"), ["1", "2"])
    raises(r.execute_command, "MSET", "a", "1", "b", match="wrong number of arguments for 'mset'")
    # MSET with a repeated key: the last value wins
    r.execute_command("MSET", "d", "1", "d", "2")
    eq(r.get("d"), "2")


@test
def test_incr_decr_family():
    r = fresh()
    eq(r.incr("n"), 1)
    eq(r.incrby("n", 10), 11)
    eq(r.decr("n"), 10)
    eq(r.decrby("n", 20), -10)
    eq(r.get("n"), "-10")
    r.set("big", str(2 ** 63 - 1))
    raises(r.incr, "big", match="increment or decrement would overflow")
    r.set("small", str(-2 ** 63))
    raises(r.decr, "small", match="increment or decrement would overflow")
    r.set("s", "abc")
    raises(r.incr, "s", match="value is not an integer or out of range")
    r.set("sp", " 1")
    raises(r.incr, "sp", match="not an integer")
    raises(r.incrby, "n", "x", match="not an integer")
    r.set("t", "5", ex=100)
    r.incr("t")
    ok(r.ttl("t") > 0, "INCR keeps the ttl")
    eq(r.incrbyfloat("f", 1.5), 1.5)
    eq(r.incrbyfloat("f", "0.1"), 1.6)
    eq(r.get("f"), "1.6")
    r.set("f2", "10")
    eq(raw().call("INCRBYFLOAT", "f2", "5.0e3"), b"5010")
    raises(r.incrbyfloat, "s", 1, match="value is not a valid float")
    raises(r.execute_command, "INCRBYFLOAT", "f", "inf", match="increment would produce NaN or Infinity")


@test
def test_append_strlen_getrange_setrange_substr():
    r = fresh()
    eq(r.append("a", "hello"), 5)
    eq(r.append("a", " world"), 11)
    eq(r.strlen("a"), 11)
    eq(r.strlen("none"), 0)
    eq(r.getrange("a", 0, 4), "hello")
    eq(r.getrange("a", -5, -1), "world")
    eq(r.getrange("a", 5, 2), "")
    eq(r.getrange("a", 0, 1000), "hello world")
    eq(r.getrange("none", 0, 10), "")
    eq(r.execute_command("SUBSTR", "a", "0", "4"), "hello")
    eq(r.setrange("a", 6, "WORLD"), 11)
    eq(r.get("a"), "hello WORLD")
    eq(r.setrange("pad", 3, "x"), 4)
    eq(RB().get("pad"), b"\x00\x00\x00x")
    eq(r.setrange("none2", 0, ""), 0)
    eq(r.exists("none2"), 0, "SETRANGE with empty value does not create the key")
    raises(r.setrange, "a", -1, "x", match="offset is out of range")
    r.set("t", "v", ex=100)
    r.append("t", "w")
    ok(r.ttl("t") > 0, "APPEND keeps the ttl")


# ----------------------------------------------------------------------------- keyspace

@test
def test_del_unlink_exists_type_touch():
    r = fresh()
    r.mset({"a": "1", "b": "2", "c": "3"})
    eq(r.exists("a", "b", "a", "zz"), 3)
    eq(r.delete("a", "zz"), 1)
    eq(r.unlink("b", "c", "b"), 2)
    eq(r.exists("a", "b", "c"), 0)
    r.set("s", "x")
    eq(r.type("s"), "string")
    eq(r.type("none"), "none")
    eq(r.touch("s", "none", "s"), 2)
    eq(r.dbsize(), 1)


@test
def test_rename_renamenx():
    r = fresh()
    r.set("a", "1", ex=100)
    eq(r.rename("a", "b"), True)
    eq(r.get("b"), "1")
    eq(r.exists("a"), 0)
    ok(r.ttl("b") > 0, "RENAME moves the ttl")
    raises(r.rename, "nope", "x", match="no such key")
    r.set("c", "3")
    eq(r.renamenx("b", "c"), False)
    eq(r.renamenx("b", "d"), True)
    eq(r.get("d"), "1")
    eq(r.rename("d", "d"), True)
    eq(r.get("d"), "1")
    r.set("x", "y")
    r.rename("c", "x")
    eq(r.get("x"), "3", "RENAME overwrites")
    eq(r.dbsize(), 2)


@test
def test_copy():
    r = fresh()
    r.set("a", "1", ex=100)
    eq(r.execute_command("COPY", "a", "b"), 1)
    eq(r.get("b"), "1")
    ok(r.ttl("b") > 0, "COPY copies the ttl")
    r.set("c", "x")
    eq(r.execute_command("COPY", "a", "c"), 0)
    eq(r.get("c"), "x")
    eq(r.execute_command("COPY", "a", "c", "REPLACE"), 1)
    eq(r.get("c"), "1")
    eq(r.execute_command("COPY", "nope", "z"), 0)
    eq(r.execute_command("COPY", "a", "a2", "DB", "3"), 1)
    r3 = R(db=3)
    eq(r3.get("a2"), "1")
    eq(r.exists("a2"), 0)
    raises(r.execute_command, "COPY", "a", "a", match="source and destination objects are the same")
    raises(r.execute_command, "COPY", "a", "b", "DB", "99", match="out of range")


@test
def test_expire_family_and_flags():
    r = fresh()
    r.set("k", "v")
    eq(r.expire("k", 100), True)
    ok(95 <= r.ttl("k") <= 100)
    eq(r.pexpire("k", 200000), True)
    ok(199000 <= r.pttl("k") <= 200000)
    now = int(time.time())
    eq(r.expireat("k", now + 300), True)
    eq(r.execute_command("EXPIRETIME", "k"), now + 300)
    eq(r.pexpireat("k", (now + 400) * 1000), True)
    eq(r.execute_command("PEXPIRETIME", "k"), (now + 400) * 1000)
    eq(r.expire("none", 10), False)
    eq(r.ttl("none"), -2)
    eq(r.pttl("none"), -2)
    eq(r.execute_command("EXPIRETIME", "none"), -2)
    r.set("p", "v")
    eq(r.ttl("p"), -1)
    eq(r.execute_command("EXPIRETIME", "p"), -1)
    eq(r.execute_command("PEXPIRETIME", "p"), -1)
    # NX XX GT LT
    eq(r.execute_command("EXPIRE", "p", "100", "XX"), 0)
    eq(r.execute_command("EXPIRE", "p", "100", "NX"), 1)
    eq(r.execute_command("EXPIRE", "p", "200", "NX"), 0)
    eq(r.execute_command("EXPIRE", "p", "200", "XX"), 1)
    eq(r.execute_command("EXPIRE", "p", "100", "GT"), 0)
    eq(r.execute_command("EXPIRE", "p", "300", "GT"), 1)
    eq(r.execute_command("EXPIRE", "p", "400", "LT"), 0)
    eq(r.execute_command("EXPIRE", "p", "50", "LT"), 1)
    ok(r.ttl("p") <= 50)
    r.set("q", "v")
    eq(r.execute_command("EXPIRE", "q", "100", "GT"), 0, "GT on a key without ttl")
    eq(r.execute_command("EXPIRE", "q", "100", "LT"), 1, "LT on a key without ttl")
    raises(r.execute_command, "EXPIRE", "q", "10", "NX", "XX",
           match="NX and XX, GT or LT options at the same time are not compatible")
    raises(r.execute_command, "EXPIRE", "q", "10", "GT", "LT",
           match="GT and LT options at the same time are not compatible")
    raises(r.execute_command, "EXPIRE", "q", "10", "FOO", match="Unsupported option FOO")
    raises(r.execute_command, "EXPIRE", "q", "abc", match="not an integer")
    # persist
    eq(r.persist("q"), True)
    eq(r.ttl("q"), -1)
    eq(r.persist("q"), False)
    eq(r.persist("none"), False)
    # a non-positive expire deletes
    r.set("d", "v")
    eq(r.expire("d", 0), True)
    eq(r.exists("d"), 0)
    r.set("d", "v")
    eq(r.pexpireat("d", 1000), True)
    eq(r.exists("d"), 0)
    raises(r.execute_command, "EXPIRE", "q", str(2 ** 62), match="invalid expire time in 'expire'")


@test
def test_keys_and_patterns():
    r = fresh()
    names = ["hello", "hallo", "hxllo", "hllo", "heeeello", "a*b", "a?b", "x[y]", "foo:1", "foo:2"]
    for n in names:
        r.set(n, "1")
    eq(sorted(r.keys("*")), sorted(names))
    eq(sorted(r.keys("h?llo")), ["hallo", "hello", "hxllo"])
    eq(sorted(r.keys("h*llo")), ["hallo", "heeeello", "hello", "hllo", "hxllo"])
    eq(sorted(r.keys("h[ae]llo")), ["hallo", "hello"])
    eq(sorted(r.keys("h[^e]llo")), ["hallo", "hxllo"])
    eq(sorted(r.keys("h[a-b]llo")), ["hallo"])
    eq(sorted(r.keys("a\\*b")), ["a*b"])
    eq(sorted(r.keys("foo:*")), ["foo:1", "foo:2"])
    eq(r.keys("nomatch*"), [])


@test
def test_scan_walks_all_keys_match_count_type():
    r = fresh()
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.set("key:%d" % i, i)
    for i in range(300):
        pipe.set("other:%d" % i, i)
    pipe.execute()
    seen = set(r.scan_iter())
    eq(len(seen), 2300, "SCAN default walk")
    seen = set(r.scan_iter(match="key:1*", count=37))
    eq(seen, {"key:%d" % i for i in range(2000) if str(i).startswith("1")}, "MATCH/COUNT walk")
    seen = set(r.scan_iter(count=1000, _type="string"))
    eq(len(seen), 2300, "TYPE string")
    seen = set(r.scan_iter(count=1000, _type="list"))
    eq(seen, set(), "TYPE list")
    # cursors are integers; every reply is [cursor, list]
    cur, keys = r.scan(0, count=10)
    ok(isinstance(cur, int) and cur != 0, "first cursor is a non-zero integer")
    ok(len(keys) <= 100, "COUNT is a hint, not wildly exceeded")
    raises(r.execute_command, "SCAN", "abc", match="invalid cursor")


@test
def test_scan_while_keys_added_and_deleted():
    r = fresh()
    pipe = r.pipeline(transaction=False)
    for i in range(1500):
        pipe.set("stable:%d" % i, i)
    for i in range(500):
        pipe.set("del:%d" % i, i)
    pipe.execute()
    w = R()
    cursor = 0
    seen = set()
    step = 0
    while True:
        cursor, keys = r.scan(cursor, count=40)
        seen.update(keys)
        step += 1
        # between steps another client adds and deletes keys
        w.set("new:%d" % step, "x")
        if step * 10 < 500:
            w.delete(*["del:%d" % j for j in range(step * 10 - 10, step * 10)])
        if cursor == 0:
            break
        ok(step < 10000, "SCAN terminates")
    missing = {"stable:%d" % i for i in range(1500)} - seen
    eq(len(missing), 0, "keys present for the whole walk returned (missing %s)" %
       sorted(missing)[:5])


@test
def test_randomkey_dbsize():
    r = fresh()
    eq(r.randomkey(), None)
    eq(r.dbsize(), 0)
    for i in range(50):
        r.set("k%d" % i, i)
    eq(r.dbsize(), 50)
    for _ in range(20):
        ok(r.randomkey() in {"k%d" % i for i in range(50)}, "RANDOMKEY returns an existing key")
    r.delete("k0")
    eq(r.dbsize(), 49)
    r.set("k1", "overwrite")
    eq(r.dbsize(), 49, "overwrite does not change DBSIZE")


@test
def test_info_keyspace_exact():
    r = fresh()
    eq(r.info("keyspace"), {})
    for i in range(100):
        r.set("p%d" % i, i)
    for i in range(40):
        r.set("e%d" % i, i, ex=1000 + i)
    text = raw().call("INFO", "keyspace").decode()
    ok(re.search(r"^db0:keys=140,expires=40,avg_ttl=\d+\r$", text, re.M),
       "INFO keyspace line format: %r" % text)
    ok(text.startswith("# Keyspace\r\n"), "section header")
    ks = r.info("keyspace")
    eq(ks["db0"]["keys"], 140)
    eq(ks["db0"]["expires"], 40)
    ok(0 <= ks["db0"]["avg_ttl"] <= 1040 * 1000, "avg_ttl in range")
    r.persist("e0")
    r.delete("e1", "p1")
    r.expire("p2", 500)
    ks = r.info("keyspace")
    eq((ks["db0"]["keys"], ks["db0"]["expires"]), (138, 39))
    R(db=5).set("x", "1")
    ks = r.info("keyspace")
    eq((ks["db5"]["keys"], ks["db5"]["expires"]), (1, 0))
    eq(r.dbsize(), 138)


@test
def test_select_swapdb_move_flush():
    r = fresh()
    c = raw()
    eq(c.call("SELECT", "1"), "OK")
    eq(c.call("SET", "a", "in1"), "OK")
    eq(c.call("SELECT", "0"), "OK")
    eq(c.call("GET", "a"), None)
    raises(c.call, "SELECT", "16", match="DB index is out of range")
    raises(c.call, "SELECT", "-1", match="DB index is out of range")
    raises(c.call, "SELECT", "x", match="not an integer")
    r.set("m", "v", ex=100)
    eq(r.move("m", 2), True)
    eq(r.exists("m"), 0)
    r2 = R(db=2)
    eq(r2.get("m"), "v")
    ok(r2.ttl("m") > 0, "MOVE keeps the ttl")
    r.set("m", "again")
    eq(r2.move("m", 0), False, "MOVE onto an existing key fails")
    eq(r.move("nokey", 1), False)
    raises(r.execute_command, "MOVE", "m", "0", match="source and destination objects are the same")
    raises(r.execute_command, "MOVE", "m", "99", match="out of range")
    # SWAPDB
    r.flushall()
    r.set("zero", "0")
    R(db=1).set("one", "1")
    eq(r.swapdb(0, 1), True)
    eq(r.get("one"), "1")
    eq(r.get("zero"), None)
    eq(R(db=1).get("zero"), "0")
    ks = r.info("keyspace")
    eq(ks["db0"]["keys"], 1)
    eq(ks["db1"]["keys"], 1)
    raises(r.execute_command, "SWAPDB", "0", "16", match="DB index is out of range")
    # FLUSHDB only the selected db; FLUSHALL everything; ASYNC/SYNC accepted
    R(db=1).set("x", "1")
    eq(R(db=1).flushdb(), True)
    eq(R(db=1).dbsize(), 0)
    eq(r.dbsize(), 1)
    eq(raw().call("FLUSHDB", "ASYNC"), "OK")
    eq(r.dbsize(), 0)
    R(db=7).set("y", "1")
    eq(raw().call("FLUSHALL", "SYNC"), "OK")
    eq(R(db=7).dbsize(), 0)
    eq(r.info("keyspace"), {})
    raises(r.execute_command, "FLUSHALL", "FOO", match="syntax error")


# ---------------------------------------------------------------------- binary and sizes

@test
def test_binary_safe_keys_and_values():
    r = RB()
    r.flushall()
    keys = [b"a\x00b", b"\x00", b"\xff\xfe\x00\r\n", b"", b"\r\n$3\r\nfoo"]
    for i, k in enumerate(keys):
        v = bytes(range(256)) + k + b"\x00" * i
        eq(r.set(k, v), True)
        eq(r.get(k), v, "binary value for key %r" % k)
    eq(r.dbsize(), len(keys))
    eq(set(r.keys(b"*")), set(keys))
    eq(set(r.scan_iter()), set(keys))
    eq(r.exists(b"a"), 0, "a\\0b is not a")
    eq(r.strlen(b"a\x00b"), 256 + 3)
    eq(r.append(b"a\x00b", b"\x00\x00"), 256 + 5)
    eq(r.getrange(b"\x00", 256, 256), b"\x00")
    eq(r.get(b""), bytes(range(256)) + b"\x00" * 3)


@test(timeout=120)
def test_large_value_64mb():
    r = RB()
    r.flushall()
    big = (b"0123456789abcdef\x00" * ((64 << 20) // 17 + 1))[:64 << 20]
    eq(r.set("big", big), True)
    eq(r.strlen("big"), 64 << 20)
    got = r.get("big")
    eq(len(got), len(big))
    ok(got == big, "64 MB value read back intact")
    eq(r.getrange("big", (64 << 20) - 5, -1), big[-5:])
    r.delete("big")
    eq(r.exists("big"), 0)


@test
def test_proto_max_bulk_len():
    r = R()
    old = r.config_get("proto-max-bulk-len")["proto-max-bulk-len"]
    try:
        eq(r.config_set("proto-max-bulk-len", "1mb"), True)
        eq(r.config_get("proto-max-bulk-len")["proto-max-bulk-len"], str(1 << 20))
        r.set("s", "x")
        raises(r.setrange, "s", 2 << 20, "x", match="string exceeds maximum allowed size")
        r.set("a", "x" * ((1 << 20) - 1))
        raises(r.append, "a", "yy", match="string exceeds maximum allowed size")
        c = raw()
        c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % ((1 << 20) + 1))
        rawr, v = c.reply()
        eq(rawr, b"-ERR Protocol error: invalid bulk length\r\n")
        ok(c.expect_closed(), "connection closed after the protocol error")
    finally:
        r.config_set("proto-max-bulk-len", old)


@test
def test_pipelining():
    r = R()
    r.flushall()
    pipe = r.pipeline(transaction=False)
    for i in range(10000):
        pipe.set("p:%d" % i, "v%d" % i)
        pipe.incr("counter")
    res = pipe.execute()
    eq(len(res), 20000)
    ok(all(x is True for x in res[0::2]), "every SET answered OK")
    eq(res[1::2], list(range(1, 10001)))
    pipe = r.pipeline(transaction=False)
    for i in range(10000):
        pipe.get("p:%d" % i)
    eq(pipe.execute(), ["v%d" % i for i in range(10000)])
    # raw pipeline with errors in the middle, in one write
    c = raw()
    c.send_raw(b"PING\r\n" + b"".join(
        __import__("lib").encode_command(a) for a in
        [["SET", "x", "1"], ["INCR", "x"], ["NOSUCHCMD"], ["GET"], ["GET", "x"]]))
    out = [c.reply()[0] for _ in range(6)]
    eq(out[:3], [b"+PONG\r\n", b"+OK\r\n", b":2\r\n"])
    ok(out[3].startswith(b"-ERR unknown command 'NOSUCHCMD'"), "unknown command: %r" % out[3])
    eq(out[4], b"-ERR wrong number of arguments for 'get' command\r\n")
    eq(out[5], b"$1\r\n2\r\n")


@test
def test_many_clients_concurrent_incr():
    r = fresh()
    errors = []

    def worker():
        try:
            c = R()
            for _ in range(200):
                c.incr("shared")
            c.close()
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=worker) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    eq(errors, [])
    eq(r.get("shared"), "6000", "30 clients x 200 INCR")


@test
def test_mset_mget_10k_keys_one_command():
    r = fresh()
    pairs = {"m:%d" % i: "v%d" % i for i in range(10000)}
    eq(r.mset(pairs), True)
    eq(r.dbsize(), 10000)
    eq(r.mget(list(pairs)), list(pairs.values()))
    eq(r.delete(*pairs), 10000)
    eq(r.dbsize(), 0)


@test(timeout=120)
def test_large_key_1mb():
    r = RB()
    r.flushall()
    big = b"K" * (1 << 20) + b"\x00end"
    eq(r.set(big, b"value"), True)
    r.set(b"small", b"1")
    eq(r.get(big), b"value")
    eq(r.exists(big), 1)
    eq(set(r.scan_iter()), {big, b"small"})
    c = raw()
    eq(c.call("DEBUG", "RELOAD"), "OK")
    eq(r.get(big), b"value", "1 MB key after DEBUG RELOAD")
    if target_is_kevo():
        eq(c.call("COMPACT"), "OK")
        eq(r.get(big), b"value", "1 MB key after COMPACT")
    eq(r.delete(big), 1)
    eq(r.dbsize(), 1)


# ---------------------------------------------------------------------- transactions

@test
def test_multi_exec_discard():
    r = fresh()
    c = raw()
    eq(c.call("MULTI"), "OK")
    eq(c.call("SET", "a", "1"), "QUEUED")
    eq(c.call("INCR", "a"), "QUEUED")
    eq(c.call("GET", "a"), "QUEUED")
    eq(c.call("EXEC"), ["OK", 2, b"2"])
    eq(c.call("MULTI"), "OK")
    raises(c.call, "MULTI", match="MULTI calls can not be nested")
    c.call("SET", "a", "9")
    eq(c.call("DISCARD"), "OK")
    eq(r.get("a"), "2")
    raises(c.call, "EXEC", match="EXEC without MULTI")
    raises(c.call, "DISCARD", match="DISCARD without MULTI")
    # a runtime error does not abort the others
    r.set("s", "abc")
    c.call("MULTI")
    c.call("INCR", "s")
    c.call("SET", "b", "1")
    res = c.call("EXEC")
    ok(isinstance(res[0], RespError) and "not an integer" in str(res[0]), "runtime error kept")
    eq(res[1], "OK")
    # a queueing error aborts EXEC
    c.call("MULTI")
    raises(c.call, "GET", match="wrong number of arguments")
    c.call("SET", "c", "1")
    raises(c.call, "EXEC", match="EXECABORT Transaction discarded because of previous errors")
    eq(r.exists("c"), 0)
    c.call("MULTI")
    raises(c.call, "NOSUCHCOMMAND", match="unknown command")
    raises(c.call, "EXEC", match="EXECABORT")
    # redis-py transaction
    p = r.pipeline(transaction=True)
    p.set("t", "1").incr("t").get("t")
    eq(p.execute(), [True, 2, "2"])


@test
def test_watch_unwatch():
    r = fresh()
    other = R()
    r.set("w", "0")
    with r.pipeline() as p:
        p.watch("w")
        other.set("w", "changed")
        p.multi()
        p.set("w", "mine")
        raises(p.execute, exc=redis.WatchError)
    eq(r.get("w"), "changed")
    with r.pipeline() as p:
        p.watch("w")
        eq(p.get("w"), "changed")
        p.multi()
        p.set("w", "mine")
        eq(p.execute(), [True])
    eq(r.get("w"), "mine")
    c = raw()
    c.call("WATCH", "w")
    other.set("w", "x")
    eq(c.call("UNWATCH"), "OK")
    c.call("MULTI")
    c.call("SET", "w", "after-unwatch")
    eq(c.call("EXEC"), ["OK"])
    # WATCH on a missing key, then it is created
    c.call("WATCH", "newkey")
    other.set("newkey", "1")
    c.call("MULTI")
    c.call("GET", "newkey")
    eq(c.call("EXEC"), None, "EXEC aborted (null array)")
    # DEL / EXPIRE / FLUSHALL of a watched key abort too
    for action in (lambda: other.delete("w"), lambda: other.expire("w", 100),
                   lambda: other.flushall(), lambda: other.rename("w", "w2")):
        r.set("w", "1")
        c.call("WATCH", "w")
        action()
        c.call("MULTI")
        c.call("PING")
        eq(c.call("EXEC"), None, "EXEC aborted after a change to the watched key")
    raises(c.call, "MULTI") if False else None
    c.call("MULTI")
    raises(c.call, "WATCH", "x", match="WATCH inside MULTI is not allowed")
    c.call("DISCARD")


@test
def test_watch_aborted_by_expiry():
    r = fresh()
    c = raw()
    r.set("e", "v", px=300)
    c.call("WATCH", "e")
    time.sleep(0.6)
    c.call("MULTI")
    c.call("SET", "other", "1")
    eq(c.call("EXEC"), None, "a watched key that expired aborts EXEC")
    eq(r.exists("other"), 0)


# ----------------------------------------------------------------------------- expiry

@test
def test_lazy_expiry():
    r = fresh()
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        for i in range(20):
            r.set("lz%d" % i, "v", px=100)
        r.set("keep", "v")
        time.sleep(0.3)
        eq(r.get("lz0"), None)
        eq(r.exists("lz1"), 0)
        eq(r.ttl("lz2"), -2)
        eq(r.mget("lz3", "keep"), [None, "v"])
        eq(sorted(r.keys("*")), ["keep"], "KEYS never shows expired keys")
        eq(set(r.scan_iter()), {"keep"}, "SCAN never shows expired keys")
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


@test
def test_active_expiry_dbsize_drops():
    r = fresh()
    before = r.info("stats")["expired_keys"]
    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.set("ax%d" % i, "v", px=200)
    for i in range(10):
        pipe.set("stay%d" % i, "v")
    pipe.execute()
    eq(r.dbsize(), 210)
    # no access to the keys: the active cycle (hz 10) must remove them
    wait_until(lambda: r.dbsize() == 10, timeout=8, what="DBSIZE to drop to 10")
    ks = r.info("keyspace")["db0"]
    eq((ks["keys"], ks["expires"]), (10, 0))
    ok(r.info("stats")["expired_keys"] - before >= 200, "expired_keys counts them")


@test
def test_debug_set_active_expire():
    r = fresh()
    eq(r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0"), "OK")
    try:
        for i in range(20):
            r.set("d%d" % i, "v", px=50)
        time.sleep(0.8)
        eq(r.dbsize(), 20, "no active expiry while disabled")
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    wait_until(lambda: r.dbsize() == 0, timeout=8, what="active expiry after re-enable")


# ------------------------------------------------------------------------ connection

@test
def test_ping_echo_quit():
    r = R()
    eq(r.ping(), True)
    eq(raw().call("PING", "hi"), b"hi")
    eq(r.echo("hello"), "hello")
    raises(r.execute_command, "PING", "a", "b", match="wrong number of arguments for 'ping'")
    c = raw()
    eq(c.call_raw("QUIT")[0], b"+OK\r\n")
    ok(c.expect_closed(), "QUIT closes")


@test
def test_hello_resp2_and_resp3_raw():
    c = raw()
    v = c.call("HELLO")
    d = dict(zip(v[0::2], v[1::2]))
    eq(d[b"server"], b"redis")
    eq(d[b"proto"], 2)
    ok(isinstance(d[b"id"], int), "id")
    eq(d[b"mode"], b"standalone")
    eq(d[b"role"], b"master")
    eq(d[b"modules"], [])
    raw3, v3 = c.call_raw("HELLO", "3")
    ok(raw3.startswith(b"%7\r\n"), "RESP3 HELLO is a map: %r" % raw3[:20])
    d = dict(v3[1])
    eq(d[b"proto"], 3)
    # RESP3 types
    eq(c.call_raw("GET", "nosuchkey-resp3")[0], b"_\r\n")
    c.call("SET", "r3", "1")
    eq(c.call_raw("GET", "r3")[0], b"$1\r\n1\r\n")
    eq(c.call_raw("EXISTS", "r3")[0], b":1\r\n")
    eq(c.call_raw("MGET", "r3", "nosuchkey-resp3")[0], b"*2\r\n$1\r\n1\r\n_\r\n")
    rawc, _ = c.call_raw("CONFIG", "GET", "hz")
    eq(rawc, b"%1\r\n$2\r\nhz\r\n$2\r\n10\r\n")
    eq(c.call_raw("INCRBYFLOAT", "fl", "1.5")[0], b"$3\r\n1.5\r\n")
    rawi, _ = c.call_raw("INFO", "server")
    ok(rawi.startswith(b"="), "INFO is a verbatim string in RESP3: %r" % rawi[:10])
    eq(c.call_raw("HELLO", "4")[0], b"-NOPROTO unsupported protocol version\r\n")
    v2 = c.call("HELLO", "2")
    ok(isinstance(v2, list), "back to RESP2")
    eq(c.call_raw("GET", "nosuchkey-resp3")[0], b"$-1\r\n")
    c.call("HELLO", "3", "SETNAME", "myname")
    eq(c.call("CLIENT", "GETNAME"), b"myname")


@test
def test_unknown_command_error_text():
    c = raw()
    eq(c.call_raw("FOOBAR", "a", "b")[0],
       b"-ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b' \r\n")
    eq(c.call_raw("NOPE")[0], b"-ERR unknown command 'NOPE', with args beginning with: \r\n")
    eq(c.call_raw("CLIENT", "NOSUB")[0],
       b"-ERR unknown subcommand 'NOSUB'. Try CLIENT HELP.\r\n")
    eq(c.call_raw("GET")[0], b"-ERR wrong number of arguments for 'get' command\r\n")
    eq(c.call_raw("get", "a", "b")[0], b"-ERR wrong number of arguments for 'get' command\r\n")


@test
def test_protocol_errors_raw():
    cases = [
        (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
        (b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"SET \"abc\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ]
    for req, exp in cases:
        c = raw()
        c.send_raw(req)
        eq(c.reply()[0], exp, "reply to %r" % req)
        ok(c.expect_closed(), "closed after protocol error %r" % req)
    # inline commands work
    c = raw()
    c.send_raw(b"PING\r\nSET inl \"a b\"\r\nGET inl\r\n\r\n")
    eq([c.reply()[0] for _ in range(3)], [b"+PONG\r\n", b"+OK\r\n", b"$3\r\na b\r\n"])
    # a command split over many tiny writes
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for b in b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n":
        c.send_raw(bytes([b]))
    eq(c.reply()[0], b"$5\r\nhello\r\n")
    # the server is still fine
    eq(R().ping(), True)


@test
def test_client_subcommands():
    r = R()
    c = raw()
    cid = c.call("CLIENT", "ID")
    ok(isinstance(cid, int) and cid > 0, "CLIENT ID")
    eq(c.call("CLIENT", "GETNAME"), None)
    eq(c.call("CLIENT", "SETNAME", "tester"), "OK")
    eq(c.call("CLIENT", "GETNAME"), b"tester")
    raises(c.call, "CLIENT", "SETNAME", "has space",
           match="Client names cannot contain spaces, newlines or special characters")
    info = c.call("CLIENT", "INFO").decode()
    ok("id=%d " % cid in info and "name=tester" in info, "CLIENT INFO: %r" % info)
    lst = r.execute_command("CLIENT", "LIST")
    if isinstance(lst, bytes):
        lst = lst.decode()
    lines = lst if isinstance(lst, list) else None
    text = str(lst)
    ok("id=%d " % cid in text and "name=tester" in text, "CLIENT LIST has our client")
    eq(c.call("CLIENT", "NO-EVICT", "on"), "OK")
    eq(c.call("CLIENT", "NO-EVICT", "off"), "OK")
    # CLIENT REPLY OFF / SKIP / ON
    d = raw()
    d.send("CLIENT", "REPLY", "OFF")
    d.send("SET", "cr", "1")
    d.send("CLIENT", "REPLY", "SKIP")  # ignored while OFF? (Redis: SKIP sets skip next)
    d.send("CLIENT", "REPLY", "ON")
    eq(d.reply()[0], b"+OK\r\n", "only CLIENT REPLY ON answers")
    d.send("CLIENT", "REPLY", "SKIP")
    d.send("GET", "cr")
    d.send("PING")
    eq(d.reply()[0], b"+PONG\r\n", "SKIP suppressed exactly the next reply")
    eq(r.get("cr"), "1")
    # CLIENT KILL ID
    victim = raw()
    vid = victim.call("CLIENT", "ID")
    eq(r.execute_command("CLIENT", "KILL", "ID", str(vid)), 1)
    ok(victim.expect_closed(), "killed client closed")
    eq(r.execute_command("CLIENT", "KILL", "ID", "999999999"), 0)
    raises(r.execute_command, "CLIENT", "KILL", "127.0.0.1:1", match="No such client")
    # CLIENT SETINFO (Redis 7.2; redis-server 7.0 does not have it)
    if target_is_kevo():
        eq(c.call("CLIENT", "SETINFO", "lib-name", "kevo-tests"), "OK")
        eq(c.call("CLIENT", "SETINFO", "lib-ver", "1.0"), "OK")
        ok("lib-name=kevo-tests" in c.call("CLIENT", "INFO").decode(), "lib-name shown")
    _ = lines


@test
def test_command_count_info_docs_list():
    r = R()
    c = raw()
    n = c.call("COMMAND", "COUNT")
    names = [x.decode() for x in c.call("COMMAND", "LIST")]
    eq(n, len([x for x in names if "|" not in x]),
       "COMMAND COUNT == top-level names in COMMAND LIST")
    required = """get set setnx setex psetex getset getdel getex mget mset msetnx incr decr incrby
    decrby incrbyfloat append strlen getrange setrange substr del unlink exists type rename
    renamenx copy touch expire pexpire expireat pexpireat ttl pttl expiretime pexpiretime persist
    keys scan randomkey dbsize flushdb flushall select swapdb move multi exec discard watch unwatch
    ping echo quit hello auth client command info config time lastsave object debug function
    slowlog save bgsave shutdown""".split()
    if target_is_kevo():
        required.append("compact")
    missing = [x for x in required if x not in names]
    eq(missing, [], "commands missing from COMMAND LIST")
    info = c.call("COMMAND", "INFO", "get", "set", "nosuch")
    eq(info[0][0], b"get")
    eq(info[0][1], 2)
    ok("readonly" in info[0][2], "get is readonly: %r" % (info[0][2],))
    eq(info[0][3:6], [1, 1, 1])
    eq(info[1][1], -3)
    ok("write" in info[1][2], "set is write")
    eq(info[2], None)
    docs = c.call("COMMAND", "DOCS", "get")
    eq(docs[0], b"get")
    dd = dict(zip(docs[1][0::2], docs[1][1::2]))
    ok(b"summary" in dd and b"group" in dd, "COMMAND DOCS has summary and group: %r" % list(dd))
    eq(dd[b"group"], b"string")
    full = c.call("COMMAND")
    eq(len(full), n)


@test
def test_info_sections():
    r = R()
    allinfo = r.info("all")
    for f in ("redis_version", "tcp_port", "process_id", "uptime_in_seconds", "connected_clients",
              "used_memory", "total_commands_processed", "expired_keys", "keyspace_hits",
              "keyspace_misses"):
        ok(f in allinfo, "INFO all has %s" % f)
    eq(allinfo["tcp_port"], kevo_port())
    for sec in ("server", "clients", "memory", "persistence", "stats", "cpu", "keyspace"):
        raw_text = r.execute_command("INFO", sec)
        ok(raw_text is not None, sec)
    srv = raw().call("INFO", "server")
    ok(srv.startswith(b"# Server\r\n"), "INFO server starts with '# Server': %r" % srv[:20])
    r.set("hit", "1")
    st = r.info("stats")
    r.get("hit")
    r.get("nosuch-miss")
    st2 = r.info("stats")
    eq(st2["keyspace_hits"] - st["keyspace_hits"], 1)
    eq(st2["keyspace_misses"] - st["keyspace_misses"], 1)
    eq(r.config_resetstat(), True)
    ok(r.info("stats")["keyspace_hits"] == 0, "CONFIG RESETSTAT zeroes keyspace_hits")
    if target_is_kevo():
        lsm = raw().call("INFO", "lsm")
        ok(lsm.startswith(b"# Lsm") or lsm.startswith(b"# LSM"), "INFO lsm section: %r" % lsm[:40])
        ok(b"\r\n" in lsm and b":" in lsm, "INFO lsm has fields")
        everything = raw().call("INFO", "everything")
        ok(b"# Keyspace" in everything, "INFO everything")


@test
def test_config_get_set():
    r = R()
    eq(r.config_get("hz"), {"hz": "10"})
    eq(r.config_set("hz", "20"), True)
    eq(r.config_get("hz"), {"hz": "20"})
    r.config_set("hz", "10")
    eq(r.config_get("port"), {"port": str(kevo_port())})
    got = r.config_get("*max*")
    ok("maxclients" in got and "proto-max-bulk-len" in got, "CONFIG GET glob")
    eq(r.config_get("nosuch-param"), {})
    raises(r.config_set, "nosuch-param", "1", match="Unknown option or number of arguments")
    raises(r.config_set, "hz", "abc", match="argument couldn't be parsed into an integer")
    raises(r.config_set, "appendfsync", "sometimes", match="argument(s) must be one of")
    raises(r.execute_command, "CONFIG", "SET", "databases", "8", match="can't set immutable config")
    ok(r.config_get("appendfsync")["appendfsync"] in ("always", "everysec", "no"), "appendfsync")
    # multiple pairs in one CONFIG SET (Redis 7)
    oldmax = r.config_get("maxclients")["maxclients"]
    eq(r.execute_command("CONFIG", "SET", "hz", "15", "maxclients", "1000"), "OK")
    eq(r.config_get("hz")["hz"], "15")
    eq(r.config_get("maxclients")["maxclients"], "1000")
    r.execute_command("CONFIG", "SET", "hz", "10", "maxclients", oldmax)
    raises(r.execute_command, "CONFIG", "REWRITE",
           match="The server is running without a config file")


@test
def test_config_rewrite_with_file():
    d = os.path.join(tmpdir(), "cfgrw")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "server.conf")
    with open(conf, "w") as f:
        f.write("# a comment that must survive\nhz 10\nmaxclients 500\n")
    binary = env("KEVO_BIN")
    s = Server(binary, d, [], is_redis=not target_is_kevo())
    base = s.args
    s.args = lambda: [binary, conf] + base()[1:] + (
        kevo_extra_args() if target_is_kevo() else [])
    s.start()
    try:
        r = s.redis(decode_responses=True)
        eq(r.config_get("maxclients")["maxclients"], "500", "value from the config file")
        r.config_set("hz", "33")
        eq(r.execute_command("CONFIG", "REWRITE"), "OK")
        text = open(conf).read()
        ok("hz 33" in text, "rewritten file has hz 33:\n" + text)
        ok("# a comment that must survive" in text, "comments kept")
        s.stop()
        # start from the file alone (port from the command line)
        s.args = lambda: [binary, conf, "--port", str(s.port), "--bind", "127.0.0.1",
                          "--dir", d] + (["--save", ""] if not target_is_kevo() else [])
        s.start()
        eq(s.redis(decode_responses=True).config_get("hz")["hz"], "33")
    finally:
        s.stop()


@test
def test_time_lastsave_save_bgsave():
    r = R()
    t = r.execute_command("TIME")
    ok(abs(int(t[0]) - time.time()) < 5 and 0 <= int(t[1]) < 1000000, "TIME %r" % (t,))
    ls = r.lastsave()
    ok(ls is not None, "LASTSAVE")
    r.set("sv", "1")
    eq(raw().call("SAVE"), "OK")
    ls2 = raw().call("LASTSAVE")
    ok(isinstance(ls2, int) and abs(ls2 - time.time()) < 5, "LASTSAVE after SAVE: %r" % ls2)
    bg = raw().call("BGSAVE")
    ok(bg in ("Background saving started", "OK"), "BGSAVE reply %r" % bg)
    eq(r.get("sv"), "1")
    time.sleep(0.3)


@test
def test_object_subcommands():
    r = fresh()
    r.set("i", "12345")
    r.set("s", "short")
    r.set("l", "x" * 100)
    c = raw()
    eq(c.call("OBJECT", "ENCODING", "i"), b"int")
    eq(c.call("OBJECT", "ENCODING", "s"), b"embstr")
    eq(c.call("OBJECT", "ENCODING", "l"), b"raw")
    eq(c.call("OBJECT", "ENCODING", "none"), None)
    eq(c.call("OBJECT", "REFCOUNT", "s"), 1)
    idle = c.call("OBJECT", "IDLETIME", "s")
    ok(isinstance(idle, int) and idle >= 0, "OBJECT IDLETIME")
    raises(c.call, "OBJECT", "FREQ", "s", match="LFU maxmemory policy is not selected")
    eq(c.call("OBJECT", "IDLETIME", "none"), None)


@test
def test_debug_subcommands():
    r = fresh()
    eq(r.execute_command("DEBUG", "LOG", "hello from the compat tests"), "OK")
    t0 = time.time()
    eq(r.execute_command("DEBUG", "SLEEP", "0.2"), "OK")
    ok(time.time() - t0 >= 0.15, "DEBUG SLEEP slept")
    r.set("o", "val")
    c = raw()
    v = c.call("DEBUG", "OBJECT", "o")
    ok(isinstance(v, str) and "encoding:" in v, "DEBUG OBJECT: %r" % v)
    raises(c.call, "DEBUG", "OBJECT", "none", match="no such key")


@test(timeout=120)
def test_debug_reload_save_compact_between_writes():
    r = RB()
    r.flushall()
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(b"dr:%d" % i, b"v%d\x00" % i)
    for i in range(0, 3000, 3):
        pipe.delete(b"dr:%d" % i)
    for i in range(1, 3000, 3):
        pipe.expire(b"dr:%d" % i, 1000)
    pipe.set(b"", b"")
    pipe.execute()

    def check(stage):
        eq(r.dbsize(), 2001, stage + ": DBSIZE")
        ks = r.info("keyspace")["db0"]
        eq((ks["keys"], ks["expires"]), (2001, 1000), stage + ": INFO keyspace")
        p = r.pipeline(transaction=False)
        for i in range(3000):
            p.get(b"dr:%d" % i)
        vals = p.execute()
        for i, v in enumerate(vals):
            eq(v, None if i % 3 == 0 else b"v%d\x00" % i, stage + ": dr:%d" % i)
        ok(900 < r.ttl(b"dr:1") <= 1000, stage + ": ttl kept")
        eq(r.get(b""), b"", stage + ": empty key and value")

    check("before")
    c = raw()
    eq(c.call("DEBUG", "RELOAD"), "OK")
    check("after DEBUG RELOAD")
    r.set(b"dr:0", b"back")
    r.delete(b"dr:1")
    r.set(b"dr:1", b"v1\x00", ex=1000)
    r.delete(b"dr:0")
    eq(c.call("SAVE"), "OK")
    check("after SAVE")
    if target_is_kevo():
        eq(c.call("COMPACT"), "OK")
        check("after COMPACT")
        res = c.call("COMPACT", "ASYNC")
        ok(res in ("OK", "Background compaction started"), "COMPACT ASYNC reply %r" % res)
        check("after COMPACT ASYNC")
        eq(c.call("DEBUG", "RELOAD"), "OK")
        check("after second DEBUG RELOAD")


@test
def test_function_flush_slowlog():
    r = R()
    eq(r.execute_command("FUNCTION", "FLUSH"), "OK")
    eq(r.execute_command("SLOWLOG", "RESET"), "OK")
    n = r.execute_command("SLOWLOG", "LEN")
    ok(isinstance(n, int) and n >= 0, "SLOWLOG LEN")
    g = r.execute_command("SLOWLOG", "GET", "5")
    ok(isinstance(g, list), "SLOWLOG GET is an array")


# --------------------------------------------------------------- separate server instances

@test
def test_auth_requirepass():
    s = start_kevo("auth", requirepass="s3cret")
    try:
        c = RawConn(s.port)
        eq(c.call_raw("GET", "x")[0], b"-NOAUTH Authentication required.\r\n")
        eq(c.call_raw("PING")[0], b"-NOAUTH Authentication required.\r\n")
        eq(c.call_raw("AUTH", "wrong")[0],
           b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        eq(c.call_raw("AUTH", "default", "wrong")[0],
           b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        eq(c.call_raw("AUTH", "s3cret")[0], b"+OK\r\n")
        eq(c.call_raw("SET", "x", "1")[0], b"+OK\r\n")
        d = RawConn(s.port)
        eq(d.call_raw("AUTH", "default", "s3cret")[0], b"+OK\r\n")
        eq(d.call_raw("GET", "x")[0], b"$1\r\n1\r\n")
        e = RawConn(s.port)
        raw3, v = e.call_raw("HELLO", "3", "AUTH", "default", "s3cret")
        ok(raw3.startswith(b"%"), "HELLO 3 AUTH ok")
        f = RawConn(s.port)
        ok(f.call_raw("HELLO", "3")[0].startswith(b"-NOAUTH"), "HELLO without AUTH refused")
        g = RawConn(s.port)
        eq(g.call_raw("AUTH", "a", "b", "c")[0], b"-ERR syntax error\r\n")
        r = s.redis(password="s3cret", decode_responses=True)
        eq(r.get("x"), "1")
        # without requirepass AUTH is an error
        raises(R().execute_command, "AUTH", "foo",
               match="AUTH <password> called without any password configured")
    finally:
        s.stop()


@test
def test_maxclients():
    s = start_kevo("maxcl", maxclients=3)
    try:
        conns = [RawConn(s.port) for _ in range(3)]
        for c in conns:
            eq(c.call("PING"), "PONG")
        extra = RawConn(s.port)
        try:
            extra.send("PING")
            rawr, _ = extra.reply()
            eq(rawr, b"-ERR max number of clients reached\r\n")
        except (ConnClosed, ConnectionResetError):
            raise AssertionError("closed without the max clients error")
        ok(extra.expect_closed(), "closed after max clients error")
        conns[0].close()
        time.sleep(0.2)
        again = RawConn(s.port)
        eq(again.call("PING"), "PONG", "a slot frees when a client leaves")
    finally:
        s.stop()


@test
def test_idle_timeout_closes_client():
    s = start_kevo("idle", timeout=1)
    try:
        c = RawConn(s.port)
        eq(c.call("PING"), "PONG")
        ok(c.expect_closed(timeout=6), "an idle client is closed after timeout 1")
        d = RawConn(s.port)
        eq(d.call("PING"), "PONG", "new clients still served")
    finally:
        s.stop()


@test(timeout=90)
def test_client_output_buffer_limit_closes_slow_reader():
    s = start_kevo("obuf")
    try:
        r = s.redis()
        eq(r.execute_command("CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0"),
           b"OK")
        r.set("v", b"x" * (256 << 10))
        c = RawConn(s.port)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # 400 GETs of 256 KB = 100 MB of replies, never read while sending
        c.send_raw(b"*2\r\n$3\r\nGET\r\n$1\r\nv\r\n" * 400)
        time.sleep(1.0)
        got = 0
        closed = False
        c.sock.settimeout(10)
        try:
            while True:
                chunk = c.sock.recv(1 << 20)
                if not chunk:
                    closed = True
                    break
                got += len(chunk)
        except (ConnectionResetError, socket.timeout):
            closed = True
        ok(closed, "connection over the output buffer hard limit is closed")
        ok(got < 400 * (256 << 10), "not every reply was delivered (%d bytes)" % got)
        eq(r.ping(), True, "server fine afterwards")
    finally:
        s.stop()


@test
def test_shutdown_nosave_and_save():
    s = start_kevo("shut")
    c = RawConn(s.port)
    c.call("SET", "k", "v")
    try:
        c.send("SHUTDOWN", "NOSAVE")
        c.reply()
        raise AssertionError("SHUTDOWN answered instead of closing")
    except (ConnClosed, ConnectionResetError):
        pass
    s.proc.wait(20)
    eq(s.proc.returncode, 0, "exit code after SHUTDOWN NOSAVE")
    s.start()
    eq(s.redis().get("k"), b"v", "acknowledged write survives SHUTDOWN NOSAVE (appendfsync always)")
    c = RawConn(s.port)
    c.call("SET", "k2", "v2")
    try:
        c.send("SHUTDOWN", "SAVE")
        c.reply()
        raise AssertionError("SHUTDOWN answered instead of closing")
    except (ConnClosed, ConnectionResetError):
        pass
    s.proc.wait(20)
    eq(s.proc.returncode, 0)
    s.start()
    eq(s.redis().mget("k", "k2"), [b"v", b"v2"])
    raises(s.redis().execute_command, "SHUTDOWN", "FOO", match="syntax error")
    s.stop()


# ------------------------------------------------------------------ bitmap commands and LCS
# (cmd_bitops.c; reply-by-reply comparison with redis-server is in sequences_bitops.txt)

@test
def test_bitops_through_redis_py():
    r = fresh()
    eq(r.setbit("b", 7, 1), 0)
    eq(r.setbit("b", 7, 1), 1)
    eq(r.getbit("b", 7), 1)
    eq(r.getbit("b", 6), 0)
    eq(r.getbit("missing", 100), 0)
    rb = RB()
    eq(rb.get("b"), b"\x01")
    r.set("s", "foobar")
    eq(r.bitcount("s"), 26)
    eq(r.bitcount("s", 1, 1), 6)
    eq(r.bitcount("s", 5, 30, "BIT"), 17)
    eq(r.bitpos("s", 1), 1)
    eq(r.bitpos("s", 0, 2, -1, "BIT"), 3)
    eq(r.bitop("XOR", "x", "s", "s"), 6)
    eq(rb.get("x"), b"\x00" * 6)
    eq(r.bitop("AND", "x", "missing"), 0)
    eq(r.exists("x"), 0, "an empty BITOP result deletes the destination")
    bf = r.bitfield("f")
    eq(bf.set("u8", 0, 255).incrby("u8", 0, 10).overflow("FAIL").incrby("u8", 0, 250)
       .get("i8", 0).execute(), [0, 9, None, 9])
    eq(r.execute_command("BITFIELD_RO", "f", "GET", "u4", "#1"), [9])
    raises(r.execute_command, "BITFIELD_RO", "f", "SET", "u8", 0, 1,
           match="BITFIELD_RO only supports the GET subcommand")
    raises(r.setbit, "b", 1 << 32, 1, match="bit offset is not an integer or out of range")
    raises(r.execute_command, "SETBIT", "b", 0, 2, match="bit is not an integer or out of range")
    r.set("a", "ohmytext")
    r.set("c", "mynewtext")
    eq(r.execute_command("LCS", "a", "c"), "mytext")
    eq(r.execute_command("LCS", "a", "c", "LEN"), 6)
    eq(r.execute_command("LCS", "a", "c", "IDX", "MINMATCHLEN", 4, "WITHMATCHLEN"),
       ["matches", [[[4, 7], [5, 8], 4]], "len", 6])


@test
def test_bitops_large_bitmap_pipeline_and_reload():
    r = fresh()
    p = r.pipeline(transaction=False)
    offsets = [0, 7, 8, 4095, 65536, 1000003, 8 * 1024 * 1024 - 1]
    for o in offsets:
        p.setbit("big", o, 1)
    eq(p.execute(), [0] * len(offsets))
    eq(r.strlen("big"), 1024 * 1024)
    eq(r.bitcount("big"), len(offsets))
    eq(r.bitpos("big", 1, 2), 4095)
    eq(r.bitpos("big", 1, 125001), 8 * 1024 * 1024 - 1)
    eq(r.bitpos("big", 0), 1)
    eq(r.bitcount("big", 8192, -1), 3)
    eq(r.bitop("NOT", "inv", "big"), 1024 * 1024)
    eq(r.bitcount("inv"), 8 * 1024 * 1024 - len(offsets))
    eq(r.execute_command("DEBUG", "RELOAD"), "OK")
    eq(r.bitcount("big"), len(offsets), "bits survive an engine reopen")
    eq([r.getbit("big", o) for o in offsets], [1] * len(offsets))
    eq(r.bitcount("inv"), 8 * 1024 * 1024 - len(offsets))


if __name__ == "__main__":
    sys.exit(run_all("redispy"))
