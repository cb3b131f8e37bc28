#!/usr/bin/python3
"""Lists beyond fixed sequences (run.sh's redispy suite runs it), against redis-server:

* random command sequences over a few lists mixed with strings, sets, hashes and sorted sets,
  every reply compared byte for byte (seeded: the seed is printed; KT_LIST_SEED replays one,
  KT_LIST_OPS sets the length). Between phases both servers DEBUG RELOAD (and the server under
  test COMPACTs), then every key's type and whole content are compared.
* big lists (thousands of elements) edited in the middle from both sides (LINSERT, LREM with
  every count sign, LSET, LTRIM, LMOVE rotations), checked against redis-server element by
  element after each round, across DEBUG RELOAD and COMPACT.
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import eq, test, run_all, reload_both, both_servers as both  # noqa: E402

LISTS = ["l0", "l1", "l2", "l3"]
OTHERS = ["str", "set", "hash", "zset"]
VALUES = ["a", "b", "c", "", "a\x00b", "\xff", "12", "-1", "longer-element-%s" % ("x" * 40)]


def val(rng):
    return rng.choice(VALUES).encode("latin-1")


def idx(rng):
    return str(rng.choice([0, 1, 2, -1, -2, -3, 5, 10, -10, 100, -100, rng.randint(-20, 20)]))


def side(rng):
    return rng.choice(["LEFT", "RIGHT", "left", "right"])


def any_key(rng):
    return rng.choice(LISTS * 4 + OTHERS + ["nokey"])


def rand_command(rng):
    k = any_key(rng)
    n = rng.random()
    if n < 0.14:
        return [rng.choice(["LPUSH", "RPUSH"]), k] + [val(rng) for _ in range(rng.randint(1, 5))]
    if n < 0.18:
        return [rng.choice(["LPUSHX", "RPUSHX"]), k, val(rng)]
    if n < 0.26:
        cmd = [rng.choice(["LPOP", "RPOP"]), k]
        if rng.random() < 0.5:
            cmd.append(str(rng.choice([0, 1, 2, 3, 10, -1])))
        return cmd
    if n < 0.30:
        return ["LLEN", k]
    if n < 0.36:
        return ["LRANGE", k, idx(rng), idx(rng)]
    if n < 0.40:
        return ["LINDEX", k, idx(rng)]
    if n < 0.44:
        return ["LSET", k, idx(rng), val(rng)]
    if n < 0.50:
        return ["LINSERT", k, rng.choice(["BEFORE", "AFTER"]), val(rng), val(rng)]
    if n < 0.56:
        return ["LREM", k, str(rng.choice([0, 1, 2, -1, -2, 5, -5])), val(rng)]
    if n < 0.60:
        return ["LTRIM", k, idx(rng), idx(rng)]
    if n < 0.66:
        cmd = ["LPOS", k, val(rng)]
        for opt in rng.sample(["RANK", "COUNT", "MAXLEN"], rng.randint(0, 3)):
            if opt == "RANK":
                cmd += ["RANK", str(rng.choice([1, 2, -1, -2, 3, -3, 0]))]
            elif opt == "COUNT":
                cmd += ["COUNT", str(rng.choice([0, 1, 2, 5, -1]))]
            else:
                cmd += ["MAXLEN", str(rng.choice([0, 1, 3, 10, -1]))]
        return cmd
    if n < 0.74:
        return ["LMOVE", k, any_key(rng), side(rng), side(rng)]
    if n < 0.77:
        return ["RPOPLPUSH", k, any_key(rng)]
    if n < 0.82:
        keys = [any_key(rng) for _ in range(rng.randint(1, 3))]
        cmd = ["LMPOP", str(len(keys))] + keys + [side(rng)]
        if rng.random() < 0.5:
            cmd += ["COUNT", str(rng.choice([1, 2, 5, 0]))]
        return cmd
    if n < 0.84:
        return rand_other_write(rng)
    if n < 0.86:
        return ["DEL", k]
    if n < 0.88:
        return ["TYPE", k]
    if n < 0.90:
        return ["RENAME", k, rng.choice(LISTS)]
    if n < 0.92:
        return ["COPY", k, rng.choice(LISTS), "REPLACE"]
    if n < 0.93:
        return ["OBJECT", "ENCODING", k]
    if n < 0.94:
        return ["HELLO", rng.choice(["2", "3"])]
    if n < 0.95:
        return ["EXPIRE", k, "1000"]
    if n < 0.96:
        return ["DBSIZE"]
    if n < 0.97:
        return ["EXISTS"] + LISTS
    return ["LRANGE", k, "0", "-1"]


def rand_other_write(rng):
    t = rng.choice(["SET", "SADD", "HSET", "ZADD"])
    if t == "SET":
        return ["SET", rng.choice(["str"] + LISTS[:1]), "v"]
    if t == "SADD":
        return ["SADD", rng.choice(["set"] + LISTS[:1]), "m"]
    if t == "HSET":
        return ["HSET", rng.choice(["hash"] + LISTS[:1]), "f", "v"]
    return ["ZADD", rng.choice(["zset"] + LISTS[:1]), "1", "m"]


def hello_fix(raw):
    return raw[:2]  # HELLO's version and id differ by design: the reply's shape only


def state(c):
    """Every key's type and content (a comparable snapshot)."""
    out = {}
    for key in sorted(c.call("KEYS", "*")):
        t = c.call("TYPE", key)
        if t == "list":
            out[key] = (t, c.call("LRANGE", key, 0, -1))
        elif t == "string":
            out[key] = (t, c.call("GET", key))
        elif t == "set":
            out[key] = (t, sorted(c.call("SMEMBERS", key)))
        elif t == "hash":
            out[key] = (t, sorted(c.call("HGETALL", key)))
        else:
            out[key] = (t, c.call("ZRANGE", key, 0, -1, "WITHSCORES"))
    return out


@test(timeout=300)
def test_random_sequences_vs_redis():
    k, r = both()
    seed = int(os.environ.get("KT_LIST_SEED", random.randrange(1 << 30)))
    nops = int(os.environ.get("KT_LIST_OPS", "6000"))
    print("  seed %d (KT_LIST_SEED=%d replays it), %d ops" % (seed, seed, nops), flush=True)
    rng = random.Random(seed)
    history = []
    phases = 3
    try:
        for phase in range(phases):
            for i in range(nops // phases):
                cmd = rand_command(rng)
                history.append(cmd)
                a, bb = r.call_raw(*cmd)[0], k.call_raw(*cmd)[0]
                if cmd[0] == "HELLO":
                    a, bb = hello_fix(a), hello_fix(bb)
                if a != bb:
                    raise AssertionError(
                        "phase %d op %d %s differs:\n      redis %s\n      kevo  %s\n    last: %s"
                        % (phase, i, ascii(cmd), ascii(a[:300]), ascii(bb[:300]),
                           ascii(history[-8:])))
            reload_both(k, r)
            eq(state(k), state(r), "phase %d: every key after DEBUG RELOAD / COMPACT" % phase)
    finally:
        for c in (k, r):
            c.call("HELLO", "2")


def fill(c, key, n, tag):
    for i in range(0, n, 1000):
        c.call("RPUSH", key, *["%s%d" % (tag, j) for j in range(i, min(n, i + 1000))])


@test(timeout=300)
def test_big_lists_middle_edits_vs_redis():
    k, r = both()
    rng = random.Random(int(os.environ.get("KT_LIST_SEED", "7")))
    n = 4000
    for c in (k, r):
        fill(c, "big", n, "e")
        fill(c, "big2", n // 2, "f")
        c.call("RPUSH", "big", *["dup"] * 20)
    for rnd in range(6):
        cmds = []
        for _ in range(60):
            length = r.call("LLEN", "big")
            at = rng.randrange(max(length, 1))
            pick = rng.random()
            if pick < 0.25:
                pivot = r.call("LINDEX", "big", at) or b"none"
                cmds.append(["LINSERT", "big", rng.choice(["BEFORE", "AFTER"]), pivot,
                             "ins%d" % rng.randrange(100)])
            elif pick < 0.45:
                pivot = r.call("LINDEX", "big", at) or b"none"
                cmds.append(["LREM", "big", str(rng.choice([1, -1, 2, -2, 0])), pivot])
            elif pick < 0.6:
                cmds.append(["LSET", "big", str(at - rng.choice([0, length])), "set%d" % at])
            elif pick < 0.7:
                cmds.append(["LINDEX", "big", str(at)])
            elif pick < 0.8:
                cmds.append(["LMOVE", "big", rng.choice(["big", "big2"]), side(rng), side(rng)])
            elif pick < 0.85:
                cmds.append(["LPOS", "big", "dup", "RANK", str(rng.choice([1, -1, 3])), "COUNT", "0"])
            elif pick < 0.9:
                cmds.append(["LRANGE", "big", str(at), str(at + 30)])
            elif pick < 0.95:
                cmds.append(["LREM", "big", "0", "ins%d" % rng.randrange(100)])
            else:
                cmds.append([rng.choice(["LPOP", "RPOP"]), "big", str(rng.randint(1, 40))])
        for cmd in cmds:
            a, bb = r.call_raw(*cmd)[0], k.call_raw(*cmd)[0]
            if a != bb:
                raise AssertionError("round %d %s differs:\n      redis %s\n      kevo  %s"
                                     % (rnd, ascii(cmd)[:200], ascii(a[:200]), ascii(bb[:200])))
        if rnd % 2 == 1:
            reload_both(k, r)
        for key in ("big", "big2"):
            eq(k.call("LLEN", key), r.call("LLEN", key), "round %d: LLEN %s" % (rnd, key))
            eq(k.call("LRANGE", key, 0, -1), r.call("LRANGE", key, 0, -1),
               "round %d: %s element by element" % (rnd, key))
    # trims from both ends, then to empty
    for cmd in (["LTRIM", "big", "100", "-100"], ["LTRIM", "big", "-500", "-1"],
                ["LTRIM", "big", "1", "-2"], ["LRANGE", "big", "0", "-1"],
                ["LTRIM", "big", "10", "5"], ["EXISTS", "big"]):
        eq(k.call_raw(*cmd)[0], r.call_raw(*cmd)[0], ascii(cmd))


if __name__ == "__main__":
    sys.exit(run_all("list-random"))
