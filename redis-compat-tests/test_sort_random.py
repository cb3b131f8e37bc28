#!/usr/bin/python3
"""SORT / SORT_RO beyond fixed sequences (run.sh's redispy suite runs it): seeded random data
(lists, intsets, hash-table sets, listpack and skiplist sorted sets; weight strings, hashes and
GET targets of random content: numbers in every strtod form, words, binary with NUL bytes,
UTF-8) and random SORT invocations over it (BY string keys, hash fields, nosort and constant
patterns, repeated BY, LIMIT with negative and huge values, several GETs, ASC/DESC, ALPHA,
STORE onto fresh keys, the source or keys of other types, SORT_RO, stray words), run on the
server under test and on redis-server, every reply compared byte for byte, STORE results read
back with LRANGE and TYPE.

Where Redis's own order is unspecified the comparison is limited to what Redis defines:
* a hash-table set not sorted (BY nosort without STORE) comes out in Redis's hash-table order:
  the output groups are compared as a multiset (without LIMIT) or by count (with LIMIT);
* ties between elements of a hash-table set or a sorted set (Redis loads them in hash-table
  order) can only arise with ALPHA: such invocations get no BY pattern, and those sources hold
  no NUL bytes (strcoll stops at them). Lists and intsets load in the same order on both
  servers, so their ties (ALPHA BY with equal or missing values, NUL-equal strings, also through
  Redis's partial quicksort for BY + LIMIT) are compared byte for byte.

Redis 7.0 does not clear errno before its strtod, so after a weight out of range ("1e400") every
later SORT whose weights are not integer-encoded fails on that connection until some system call
of the server happens to change errno (a new connection's accept does): a Redis bug this server
does not copy. After a SORT that answered the score error, both connections are reopened, which
clears Redis's stale errno.

The seed is printed; KT_SORT_SEED replays one, KT_SORT_ROUNDS sets the number of data sets.
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import RawConn, RespError, test, skip, run_all, kevo_port, redis_port  # noqa: E402

CONFIG_DEFAULTS = [("set-max-intset-entries", "512"), ("zset-max-listpack-entries", "128"),
                   ("zset-max-listpack-value", "64"), ("hash-max-listpack-entries", "128")]


def defaults(c):
    c.call("HELLO", "2")
    c.call("FLUSHALL")
    for k, v in CONFIG_DEFAULTS:
        c.call("CONFIG", "SET", k, v)


def both():
    if not redis_port():
        skip("no reference redis-server")
    k, r = RawConn(kevo_port()), RawConn(int(redis_port()))
    for c in (k, r):
        defaults(c)
    return k, r


# ----------------------------------------------------------------------------- random values

def rnum(rng):
    """A string strtod reads whole (mostly), in many spellings."""
    n = rng.random()
    if n < 0.35:
        return str(rng.randint(-20, 20))
    if n < 0.55:
        return repr(round(rng.uniform(-50, 50), rng.randint(0, 3)))
    if n < 0.6:
        return rng.choice(["0", "-0", "007", "+3", "1e2", "-1.5e-3", ".5", "5.", "0x1A", "inf",
                           "-inf", "Infinity", " 12", "\t-4", "1e-300", "", "9007199254740993",
                           "-9223372036854775808", "18446744073709551616"])
    if n < 0.63:  # not a number for strtod: the error
        return rng.choice(["abc", "1 ", "nan", "1e400", "-1e400", "1e-400", "1,5", "--1", "0x",
                           "2b"])
    if n < 0.65:
        return "3\x00junk"  # a NUL byte ends the number
    return str(rng.randint(-1000, 1000))


WORDS = ["apple", "Apple", "banana", "b", "a", "ab", "a b", "", "z", "Zebra", "10", "9", "-1",
         "0.5", "caf\u00e9", "\u00e9t\u00e9", "\u65e5\u672c", "\U0001f600", "\xff", "\x7f",
         "\x80abc", "MiXeD", "same", "same2"]
BINARY = ["a\x00b", "a\x00a", "a\x00", "\x00", "\x00z", "a\x00\xff", "\x00\x00"]


def enc(s):
    """str -> bytes: code points < 256 are bytes (binary), others UTF-8."""
    if all(ord(ch) < 256 for ch in s):
        return s.encode("latin-1")
    return s.encode("utf-8")


def rword(rng, nul):
    n = rng.random()
    if nul and n < 0.12:
        return rng.choice(BINARY)
    if n < 0.5:
        return rng.choice(WORDS)
    return "".join(rng.choice("abcxyzAB01") for _ in range(rng.randint(1, 5)))


def relement(rng, numeric_bias, nul):
    if rng.random() < numeric_bias:
        v = rnum(rng)
        return v if nul or "\x00" not in v else v.replace("\x00", "")
    return rword(rng, nul)


def rvalue(rng):
    """A weight or GET value."""
    return rnum(rng) if rng.random() < 0.75 else rword(rng, True)


# ----------------------------------------------------------------------------- data sets

def make_data(rng):
    """Commands building one data set, and a description of it."""
    cmds = []
    kind = rng.choice(["list", "list", "intset", "set", "zset", "zset_big", "missing"])
    n = rng.choice([0, 1, 2, 3, 5, 6, 7, 8, 12, 20, 41, 60])
    numeric_bias = rng.choice([0.0, 0.5, 0.95, 1.0])
    elems = []
    if kind == "list":
        elems = [relement(rng, numeric_bias, True) for _ in range(n)]
        # duplicates sometimes
        if elems and rng.random() < 0.3:
            elems += rng.sample(elems, min(len(elems), 3))
        if elems:
            cmds.append(["RPUSH", "src"] + elems)
    elif kind == "intset":
        elems = list({str(rng.randint(-500, 500)) for _ in range(n)})
        if elems:
            cmds.append(["SADD", "src"] + elems)
            if rng.random() < 0.2:  # past set-max-intset-entries: a hash-table set of integers
                cmds.insert(0, ["CONFIG", "SET", "set-max-intset-entries", "4"])
                kind = "set" if len(elems) > 4 else "intset"
    elif kind == "set":
        elems = list({relement(rng, numeric_bias, False) for _ in range(n)})
        # at least one non-integer, so that the set is a hash table
        elems.append("w%d" % rng.randint(0, 9))
        elems = list(set(elems))
        cmds.append(["SADD", "src"] + elems)
    elif kind in ("zset", "zset_big"):
        elems = list({relement(rng, numeric_bias, False) for _ in range(n)})
        if elems:
            if kind == "zset_big":
                cmds.append(["CONFIG", "SET", "zset-max-listpack-entries", "4"])
            args = ["ZADD", "src"]
            for e in elems:
                args += [str(rng.choice([rng.randint(-5, 5), round(rng.uniform(-9, 9), 2)])), e]
            cmds.append(args)
    distinct = list(dict.fromkeys(elems))
    # weights: strings w_<e>, hashes h_<e> (fields w, name), GET targets o_<e>
    for e in distinct:
        if rng.random() < 0.8:
            cmds.append(["SET", "w_" + e, rvalue(rng)])
        elif rng.random() < 0.3:
            cmds.append(["RPUSH", "w_" + e, "1"])  # another type: no weight
        if rng.random() < 0.7:
            f = ["HSET", "h_" + e]
            if rng.random() < 0.85:
                f += ["w", rvalue(rng)]
            f += ["name", rword(rng, True)]
            cmds.append(f)
        elif rng.random() < 0.2:
            cmds.append(["SET", "h_" + e, "notahash"])
        if rng.random() < 0.7:
            cmds.append(["SET", "o_" + e, rword(rng, True)])
    if rng.random() < 0.3:
        # a hash-table hash among the weights
        cmds.append(["CONFIG", "SET", "hash-max-listpack-entries", "1"])
        cmds.append(["HSET", "h_" + (distinct[0] if distinct else "x"), "x", "1", "y", "2"])
    # possible STORE destinations of other types
    cmds.append(["SET", "dstr", "x"])
    cmds.append(["HSET", "dhash", "f", "v"])
    cmds.append(["ZADD", "dzset", "1", "a"])
    return cmds, kind


BY_PATTERNS = ["w_*", "w_*", "h_*->w", "h_*->name", "h_*->nosuch", "nosuch_*", "*", "nosort",
               "constant", "#", "h_*->", "o_*"]
GET_PATTERNS = ["#", "o_*", "h_*->name", "h_*->w", "w_*", "nosuch_*", "nostar", "*"]


def rlimit(rng):
    n = rng.random()
    if n < 0.6:
        return [str(rng.randint(-2, 25)), str(rng.randint(-2, 25))]
    if n < 0.8:
        return [str(rng.randint(0, 5)), str(rng.randint(0, 5))]
    return [rng.choice(["0", "-9223372036854775808", "9223372036854775807", "100", "-1"]),
            rng.choice(["0", "-9223372036854775808", "9223372036854775807", "-1", "1"])]


def parse_opts(opts, ro):
    """SORT's options as Redis's parser reads them: None on a syntax error, else a dict."""
    p = {"bys": [], "gets": 0, "alpha": False, "store": None, "limit": False}
    j = 0
    while j < len(opts):
        o, left = opts[j].lower(), len(opts) - j - 1
        if o in ("asc", "desc"):
            pass
        elif o == "alpha":
            p["alpha"] = True
        elif o == "limit" and left >= 2:
            p["limit"] = True
            j += 2
        elif o == "store" and left >= 1 and not ro:
            p["store"] = opts[j + 1]
            j += 1
        elif o == "by" and left >= 1:
            p["bys"].append(opts[j + 1])
            j += 1
        elif o == "get" and left >= 1:
            p["gets"] += 1
            j += 1
        else:
            return None
        j += 1
    return p


def rand_sort(rng, kind):
    """(command, info) where info says how to compare."""
    ro = rng.random() < 0.2
    groups_ = []  # options, each a list of words
    for _ in range(rng.randint(0, 5)):
        o = rng.random()
        if o < 0.25:
            groups_.append(["BY", rng.choice(BY_PATTERNS)])
        elif o < 0.45:
            groups_.append(["LIMIT"] + rlimit(rng))
        elif o < 0.65:
            groups_.append(["GET", rng.choice(GET_PATTERNS)])
        elif o < 0.8:
            groups_.append([rng.choice(["ASC", "DESC", "desc", "asc"])])
        elif o < 0.9 and not ro:
            groups_.append(["STORE", rng.choice(["dst", "dst", "src", "dstr", "dhash", "dzset",
                                                 "w_a"])])
        else:
            groups_.append([rng.choice(["ALPHA", "alpha"])])
    if rng.random() < 0.45:
        groups_.insert(rng.randint(0, len(groups_)), ["ALPHA"])
    if rng.random() < 0.03:  # a stray word: a syntax error, or an option eating what follows
        groups_.insert(rng.randint(0, len(groups_)),
                       [rng.choice(["foo", "LIMIT", "STORE", "BY", "GET"])])
    opts = [w for g in groups_ for w in g]
    p = parse_opts(opts, ro)
    if p is not None:
        dontsort = any("*" not in b for b in p["bys"])
        sortby = p["bys"][-1] if p["bys"] else None
        alpha = p["alpha"]
        if kind == "set" and dontsort and p["store"]:
            dontsort, sortby, alpha = False, None, True
        if kind in ("set", "zset", "zset_big") and alpha and not dontsort and sortby is not None:
            # ties would come in Redis's hash-table order: no BY patterns then
            opts = [w for g in groups_ if g[0] != "BY" for w in g]
            p = parse_opts(opts, ro)
            dontsort = False
    cmd = ["SORT_RO" if ro else "SORT", "src"] + opts
    if p is None:
        return cmd, {"unordered": False, "store": None}
    return cmd, {"unordered": kind == "set" and dontsort and not p["store"],
                 "limit": p["limit"], "group": max(1, p["gets"]), "store": p["store"]}


def groups(v, size):
    """The output cut into one group per element, in a canonical order (nil sorts first)."""
    key = [tuple((x is not None, x if x is not None else b"") for x in v[i:i + size])
           for i in range(0, len(v), size)]
    return sorted(key)


SCORE_ERR = b"-ERR One or more scores can't be converted into double"


def compare(cmd, info, r, k, history):
    """Compares; returns True when Redis answered the score error (its errno is stale now)."""
    (ra, va), (rk, vk) = r.call_raw(*cmd), k.call_raw(*cmd)
    history.append(cmd)
    if ra == rk:
        return ra.startswith(SCORE_ERR)
    if info["unordered"] and isinstance(va, list) and isinstance(vk, list):
        if info["limit"]:
            if len(va) == len(vk):
                return False
        elif groups(va, info["group"]) == groups(vk, info["group"]):
            return False
    raise AssertionError("%s differs:\n      redis %s\n      kevo  %s\n    last: %s"
                         % (ascii(cmd), ascii(ra[:400]), ascii(rk[:400]), ascii(history[-6:])))


@test(timeout=280)
def test_random_sort_vs_redis():
    conns = list(both())
    seed = int(os.environ.get("KT_SORT_SEED", random.randrange(1 << 30)))
    rounds = int(os.environ.get("KT_SORT_ROUNDS", "160"))
    print("  seed %d (KT_SORT_SEED=%d replays it), %d data sets" % (seed, seed, rounds),
          flush=True)
    rng = random.Random(seed)
    history = []
    sorts = 0
    try:
        for _ in range(rounds):
            k, r = conns
            for c in (k, r):
                defaults(c)
            cmds, kind = make_data(rng)
            resp3 = rng.random() < 0.15
            if resp3:
                cmds.insert(0, ["HELLO", "3"])
            for cmd in cmds:
                cmd = [enc(x) for x in cmd]
                a, b = r.call_raw(*cmd)[0], k.call_raw(*cmd)[0]
                if cmd[0] != b"HELLO" and a != b:
                    raise AssertionError("setup %s differs: redis %s kevo %s"
                                         % (ascii(cmd), ascii(a[:200]), ascii(b[:200])))
            for _ in range(rng.randint(15, 30)):
                cmd, info = rand_sort(rng, kind)
                stale = compare([enc(x) for x in cmd], info, r, k, history)
                sorts += 1
                if stale:  # a fresh connection clears Redis's errno (see above)
                    for c in (k, r):
                        c.close()
                    conns = [RawConn(kevo_port()), RawConn(int(redis_port()))]
                    k, r = conns
                    if resp3:
                        for c in (k, r):
                            c.call("HELLO", "3")
                if info["store"]:
                    for follow in (["TYPE", info["store"]], ["LRANGE", info["store"], "0", "-1"],
                                   ["EXISTS", info["store"]], ["TTL", info["store"]]):
                        compare([enc(x) for x in follow], {"unordered": False}, r, k, history)
                    if info["store"] == "src" and r.call("TYPE", "src") == "list":
                        kind = "list"  # the source is now the stored list
    finally:
        for c in conns:
            defaults(c)
    print("  %d SORT invocations compared" % sorts, flush=True)


if __name__ == "__main__":
    sys.exit(run_all("sort-random"))
