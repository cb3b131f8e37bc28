#!/usr/bin/python3
"""Hashes past the random-pick index threshold (128 fields), against redis-server (run.sh's
redispy suite runs it): every field record of such a hash carries its ordinal in front of its
value in Kevo (doc/keyspace_format.md, POSINLINE), and deletes renumber the last field, so
this drives many adds, overwrites, increments and deletes on big hashes and compares:

* every reply byte for byte, for the commands whose reply does not depend on hash order (HSET
  HSETNX HDEL HGET HMGET HEXISTS HSTRLEN HLEN HINCRBY HINCRBYFLOAT, HRANDFIELD with a count
  covering the whole hash, compared as sorted pairs), and HGETALL / HKEYS / HVALS / a whole
  HSCAN walk as sorted contents (Kevo answers in byte order, Redis in its dict's order);
* between phases both servers DEBUG RELOAD and the server under test COMPACTs, then every key's
  content is compared again.
Seeded: the seed is printed; KT_HASH_SEED replays one, KT_HASH_OPS sets the length.
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import eq, test, run_all, reload_both, both_servers as both  # noqa: E402

HASHES = ["h0", "h1", "h2"]
FIELDS = ["f%03d" % i for i in range(400)] + ["n%d" % i for i in range(8)] + ["\x00bin\xff", ""]


def enc(s):
    return s if isinstance(s, bytes) else s.encode("latin-1")


def value(rng):
    return rng.choice(["", "v", "12", "-7", "3.5", "\x00\r\n\xff", "x" * rng.randint(1, 200)])


def field(rng):
    return rng.choice(FIELDS)


def rand_command(rng):
    h = rng.choice(HASHES * 5 + ["str", "nokey"])
    n = rng.random()
    if n < 0.30:
        args = ["HSET", h]
        for _ in range(rng.randint(1, 4)):
            args += [field(rng), value(rng)]
        return args
    if n < 0.34:
        return ["HSETNX", h, field(rng), value(rng)]
    if n < 0.52:
        return ["HDEL", h] + [field(rng) for _ in range(rng.randint(1, 4))]
    if n < 0.62:
        return ["HGET", h, field(rng)]
    if n < 0.66:
        return ["HMGET", h] + [field(rng) for _ in range(rng.randint(1, 5))]
    if n < 0.69:
        return ["HEXISTS", h, field(rng)]
    if n < 0.72:
        return ["HSTRLEN", h, field(rng)]
    if n < 0.76:
        return ["HLEN", h]
    if n < 0.83:
        return ["HINCRBY", h, "n%d" % rng.randrange(8), str(rng.randint(-1000, 1000))]
    if n < 0.86:
        return ["HINCRBYFLOAT", h, "n%d" % rng.randrange(8), rng.choice(["0.5", "-1.25", "10", "1e3"])]
    if n < 0.87:
        return ["SET", "str", "x"]
    return ["HCONTENT", h]  # compared as sorted contents, below


def content(c, key):
    """A hash's whole content, order-free: HGETALL, HKEYS, HVALS, a full HSCAN walk, and
    HRANDFIELD of a count covering the hash (with values), each sorted."""
    out = [sorted(zip(*[iter(c.call("HGETALL", key))] * 2)), sorted(c.call("HKEYS", key)),
           sorted(c.call("HVALS", key))]
    seen, cursor = {}, "0"
    while True:
        cursor, batch = c.call("HSCAN", key, cursor, "COUNT", 37)
        for i in range(0, len(batch), 2):
            seen[batch[i]] = batch[i + 1]
        if cursor in ("0", b"0"):
            break
    out.append(sorted(seen.items()))
    n = c.call("HLEN", key)
    if n:
        got = c.call("HRANDFIELD", key, n + 5, "WITHVALUES")
        out.append(sorted(zip(got[0::2], got[1::2])))
    return out


def fill(c, key, n):
    args = ["HSET", key]
    for i in range(n):
        args += ["f%03d" % i, "init-%d" % i]
    c.call(*args)


@test(timeout=300)
def test_big_hash_random_sequences_vs_redis():
    k, r = both()
    seed = int(os.environ.get("KT_HASH_SEED", random.randrange(1 << 30)))
    nops = int(os.environ.get("KT_HASH_OPS", "6000"))
    print("  seed %d (KT_HASH_SEED=%d replays it), %d ops" % (seed, seed, nops), flush=True)
    rng = random.Random(seed)
    for c in (k, r):  # past the index threshold from the start: 140, 200 and 300 fields
        for key, n in zip(HASHES, (140, 200, 300)):
            fill(c, key, n)
    history = []
    phases = 3
    for phase in range(phases):
        for i in range(nops // phases):
            cmd = [enc(a) for a in rand_command(rng)]
            history.append(cmd)
            if cmd[0] == b"HCONTENT":
                if r.call("TYPE", cmd[1]) != "hash":
                    continue
                eq(content(k, cmd[1]), content(r, cmd[1]),
                   "phase %d op %d: content of %s; last: %s" % (phase, i, cmd[1], ascii(history[-8:])))
                continue
            a, bb = r.call_raw(*cmd)[0], k.call_raw(*cmd)[0]
            if a != bb:
                raise AssertionError("phase %d op %d %s differs:\n      redis %s\n      kevo  %s\n    last: %s"
                                     % (phase, i, ascii(cmd), ascii(a[:300]), ascii(bb[:300]),
                                        ascii(history[-8:])))
        reload_both(k, r)
        for key in HASHES:
            if r.call("TYPE", key) == "hash":
                eq(content(k, key), content(r, key), "phase %d: %s after DEBUG RELOAD / COMPACT" % (phase, key))
            else:
                eq(k.call("EXISTS", key), r.call("EXISTS", key))


if __name__ == "__main__":
    sys.exit(run_all("hash-random"))
