#!/usr/bin/python3
"""Restart / durability suite. Each test starts its own server instance in $KT_TMP/<name>:
* SIGTERM then restart: everything is there, DBSIZE / INFO keyspace exact
* kill -9 after the replies were received (appendfsync always): every acknowledged write is
  there, including deletes, overwrites, expires, PERSIST, MOVE, SWAPDB, FLUSHDB
* kill -9 while a client pipelines writes: every acknowledged write survives
* expiry across a restart (short TTLs gone, long ones keep their exact expire time)
* a small memtable (--memtable-size 1mb) so flushes and compactions happen, with DEBUG RELOAD,
  SAVE, COMPACT and kill -9 between writes and reads
* appendfsync everysec / no: a clean SIGTERM loses nothing
When the suite targets redis-server itself, AOF (appendonly yes) provides the durability and
the Kevo-only options are dropped."""
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402
from lib import (eq, ok, test, run_all, env, skip, start_kevo, target_is_kevo, encode_command,  # noqa: E402
                 RawConn, wait_until)

FUTURE = 4102444800  # 2100-01-01: exact EXPIRETIME comparisons


class Model:
    """What the server must contain: {(db, key): (value, expire_at_seconds or None)}."""

    def __init__(self):
        self.d = {}

    def apply_random_workload(self, s, n, seed, value_size=64):
        rnd = random.Random(seed)
        clients = {}

        def cl(db):
            if db not in clients:
                clients[db] = s.redis(db=db)
            return clients[db]
        for db in (0, 1, 5):
            p = cl(db).pipeline(transaction=False)
            ops = []
            for i in range(n):
                k = b"k:%d:%d" % (seed, rnd.randrange(n // 2 + 1))
                op = rnd.random()
                if op < 0.55:
                    v = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(value_size)))
                    p.set(k, v)
                    ops.append(("set", k, v))
                elif op < 0.65:
                    v = b"e\x00" + k
                    et = FUTURE - rnd.randrange(1000)
                    p.set(k, v, exat=et)
                    ops.append(("setex", k, (v, et)))
                elif op < 0.8:
                    p.delete(k)
                    ops.append(("del", k, None))
                elif op < 0.87:
                    p.expireat(k, FUTURE)
                    ops.append(("expireat", k, None))
                elif op < 0.93:
                    p.persist(k)
                    ops.append(("persist", k, None))
                else:
                    p.append(k, b"+")
                    ops.append(("append", k, b"+"))
            res = p.execute()
            for (op, k, v), r in zip(ops, res):
                key = (db, k)
                cur = self.d.get(key)
                if op == "set":
                    self.d[key] = (v, None)
                elif op == "setex":
                    self.d[key] = v
                elif op == "del":
                    self.d.pop(key, None)
                elif op == "expireat":
                    if cur is not None:
                        self.d[key] = (cur[0], FUTURE)
                elif op == "persist":
                    if cur is not None:
                        self.d[key] = (cur[0], None)
                elif op == "append":
                    self.d[key] = ((cur[0] if cur else b"") + b"+", cur[1] if cur else None)

    def verify(self, s, stage):
        clients = {}
        dbs = sorted(set(db for db, _ in self.d) | {0, 1, 5})
        for db in dbs:
            c = clients.setdefault(db, s.redis(db=db))
            keys = [k for (d, k) in self.d if d == db]
            p = c.pipeline(transaction=False)
            for k in keys:
                p.get(k)
                p.execute_command("EXPIRETIME", k)
            res = p.execute()
            for i, k in enumerate(keys):
                v, e = self.d[(db, k)]
                eq(res[2 * i], v, "%s: value of db%d %r" % (stage, db, k))
                eq(res[2 * i + 1], -1 if e is None else e, "%s: expire of db%d %r" % (stage, db, k))
            eq(c.dbsize(), len(keys), "%s: DBSIZE db%d" % (stage, db))
        ks = s.redis(decode_responses=True).info("keyspace")
        for db in dbs:
            n = sum(1 for (d, _) in self.d if d == db)
            m = sum(1 for (d, _), (v, e) in self.d.items() if d == db and e is not None)
            if n == 0:
                ok("db%d" % db not in ks, "%s: no keyspace line for empty db%d" % (stage, db))
            else:
                eq((ks["db%d" % db]["keys"], ks["db%d" % db]["expires"]), (n, m),
                   "%s: INFO keyspace db%d keys/expires" % (stage, db))


@test(timeout=120)
def test_sigterm_restart_keeps_everything():
    s = start_kevo("sigterm", appendfsync="always")
    m = Model()
    m.apply_random_workload(s, 3000, seed=1)
    m.verify(s, "before restart")
    eq(s.stop(signal.SIGTERM), 0, "exit code after SIGTERM")
    s.start()
    m.verify(s, "after SIGTERM restart")
    m.apply_random_workload(s, 1000, seed=2)
    eq(s.stop(signal.SIGTERM), 0)
    s.start()
    m.verify(s, "after second SIGTERM restart")
    s.stop()


@test(timeout=120)
def test_kill9_acknowledged_writes_survive():
    s = start_kevo("kill9", appendfsync="always")
    m = Model()
    m.apply_random_workload(s, 3000, seed=3)
    r = s.redis()
    # keyspace-level operations, each acknowledged before the kill
    r.set(b"mv", b"moved", exat=FUTURE)
    eq(r.move(b"mv", 1), True)
    m.d[(1, b"mv")] = (b"moved", FUTURE)
    r.set(b"renamed-src", b"x")
    r.rename(b"renamed-src", b"renamed-dst")
    m.d[(0, b"renamed-dst")] = (b"x", None)
    r.set(b"ctr", b"0")
    for _ in range(100):
        r.incr(b"ctr")
    m.d[(0, b"ctr")] = (b"100", None)
    r.set(b"", b"")
    m.d[(0, b"")] = (b"", None)
    s.redis(db=9).set(b"gone", b"1")
    s.redis(db=9).flushdb()
    m.verify(s, "before kill -9")
    s.stop(signal.SIGKILL)
    s.start()
    m.verify(s, "after kill -9")
    # SWAPDB is persistent too
    r = s.redis()
    eq(r.swapdb(0, 1), True)
    m.d = {((1 - db) if db in (0, 1) else db, k): v for (db, k), v in m.d.items()}
    s.stop(signal.SIGKILL)
    s.start()
    m.verify(s, "after SWAPDB and kill -9")
    s.stop()


@test(timeout=120)
def test_kill9_during_pipelined_writes():
    s = start_kevo("kill9pipe", appendfsync="always")
    acked = []
    stop = threading.Event()
    err = []

    def writer():
        try:
            c = RawConn(s.port)
            batch = 0
            while not stop.is_set():
                keys = [b"p:%d:%d" % (batch, i) for i in range(200)]
                c.send_raw(b"".join(encode_command([b"SET", k, b"v" + k]) for k in keys))
                for k in keys:
                    raw, v = c.reply()
                    if raw != b"+OK\r\n":
                        raise AssertionError("SET reply %r" % raw)
                    acked.append(k)
                batch += 1
        except Exception as e:  # the kill ends the connection
            err.append(e)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    wait_until(lambda: len(acked) >= 3000, timeout=30, what="3000 acknowledged writes")
    s.stop(signal.SIGKILL)
    stop.set()
    t.join(10)
    n = len(acked)
    s.start()
    r = s.redis()
    p = r.pipeline(transaction=False)
    for k in acked:
        p.get(k)
    vals = p.execute()
    lost = [k for k, v in zip(acked, vals) if v != b"v" + k]
    eq(lost[:5], [], "acknowledged writes lost after kill -9 (%d of %d)" % (len(lost), n))
    ok(r.dbsize() >= n, "DBSIZE %d >= acknowledged %d" % (r.dbsize(), n))
    s.stop()


@test(timeout=120)
def test_flushall_and_flushdb_survive_kill9():
    s = start_kevo("flushkill", appendfsync="always")
    for db in (0, 3):
        p = s.redis(db=db).pipeline(transaction=False)
        for i in range(2000):
            p.set(b"f:%d" % i, b"v", ex=1000 if i % 2 else None)
        p.execute()
    s.stop(signal.SIGKILL)
    s.start()
    eq(s.redis(db=3).dbsize(), 2000)
    eq(s.redis().flushall(), True)
    s.redis(db=3).set(b"after", b"1")
    s.stop(signal.SIGKILL)
    s.start()
    eq(s.redis().dbsize(), 0, "FLUSHALL survives kill -9")
    eq(s.redis(db=3).dbsize(), 1)
    eq(s.redis(db=3).get(b"f:1"), None)
    eq(s.redis(db=3).get(b"after"), b"1")
    ks = s.redis(decode_responses=True).info("keyspace")
    eq(list(ks), ["db3"])
    eq((ks["db3"]["keys"], ks["db3"]["expires"]), (1, 0))
    s.stop()


@test(timeout=120)
def test_expiry_across_restart():
    s = start_kevo("expiry", appendfsync="always")
    r = s.redis()
    p = r.pipeline(transaction=False)
    for i in range(300):
        p.set(b"short:%d" % i, b"v", px=800)
    for i in range(300):
        p.set(b"long:%d" % i, b"v", exat=FUTURE - i)
    for i in range(100):
        p.set(b"plain:%d" % i, b"v")
    p.execute()
    s.stop(signal.SIGKILL)
    time.sleep(1.2)
    s.start()
    r = s.redis()
    eq(r.get(b"short:0"), None, "a key that expired while the server was down is gone")
    eq(r.exists(*[b"short:%d" % i for i in range(300)]), 0)
    wait_until(lambda: r.dbsize() == 400, timeout=8, what="DBSIZE 400 after active expiry")
    ks = r.info("keyspace")["db0"]
    eq((ks["keys"], ks["expires"]), (400, 300))
    p = r.pipeline(transaction=False)
    for i in range(300):
        p.execute_command("EXPIRETIME", b"long:%d" % i)
    eq(p.execute(), [FUTURE - i for i in range(300)], "expire times kept exactly")
    eq(r.ttl(b"plain:1"), -1)
    s.stop(signal.SIGTERM)
    s.start()
    r = s.redis()
    eq(r.dbsize(), 400, "DBSIZE after a clean restart")
    s.stop()


@test(timeout=240)
def test_small_memtable_flush_compaction_reload_kill9():
    s = start_kevo("smallmem", appendfsync="always", memtable_size="1mb",
                   target_file_size="256kb", level1_max_bytes="1mb")
    r = s.redis()
    rnd = random.Random(7)
    model = {}
    # keys that expire during the writes: they must be gone from reads, DBSIZE and SCAN, also
    # once their values sit in SSTables and after restarts
    p = r.pipeline(transaction=False)
    for i in range(500):
        p.set(b"exp:%d" % i, b"x" * 200, px=1500)
    p.execute()
    exp_deadline = time.time() + 1.6
    # ~3 rounds x 8000 keys x ~1 KiB = ~24 MB of writes through a 1 MB memtable
    for rnd_no in range(3):
        p = r.pipeline(transaction=False)
        for i in range(8000):
            k = b"big:%05d" % rnd.randrange(12000)
            if rnd.random() < 0.15:
                p.delete(k)
                model.pop(k, None)
            else:
                v = (b"%d:%d:" % (rnd_no, i)) * 90
                if rnd.random() < 0.1:
                    p.set(k, v, exat=FUTURE)
                    model[k] = (v, FUTURE)
                else:
                    p.set(k, v)
                    model[k] = (v, None)
            if i % 1000 == 999:
                p.execute()
        p.execute()

    def verify(stage):
        keys = sorted(model)
        p = r.pipeline(transaction=False)
        for k in keys:
            p.get(k)
            p.execute_command("EXPIRETIME", k)
        res = p.execute()
        for i, k in enumerate(keys):
            eq(res[2 * i], model[k][0], "%s: value of %r" % (stage, k))
            eq(res[2 * i + 1], -1 if model[k][1] is None else model[k][1],
               "%s: expire of %r" % (stage, k))
        missing = [b"big:%05d" % i for i in range(12000) if b"big:%05d" % i not in model]
        if missing:
            eq(r.exists(*missing), 0, "%s: deleted keys stay deleted" % stage)
        eq(r.exists(*[b"exp:%d" % i for i in range(500)]), 0, "%s: expired keys" % stage)
        wait_until(lambda: r.dbsize() == len(model), timeout=10,
                   what="%s: DBSIZE %d (is %d)" % (stage, len(model), r.dbsize()))
        eq(r.info("keyspace")["db0"]["expires"],
           sum(1 for v in model.values() if v[1] is not None), "%s: expires" % stage)
        eq(len(set(r.scan_iter(count=500))), len(model), "%s: SCAN walk" % stage)

    # a value larger than the memtable, and an empty value, through flushes
    huge = bytes(random.Random(3).getrandbits(8) for _ in range(1 << 16)) * 48  # 3 MiB
    r.set(b"huge", huge)
    model[b"huge"] = (huge, None)
    r.set(b"emptyval", b"")
    model[b"emptyval"] = (b"", None)
    eq(RawConn(s.port).call("SAVE"), "OK")
    # the exp: keys must have expired before the first check, however fast the writes were
    time.sleep(max(0.0, exp_deadline - time.time()))
    verify("after writes")

    def lsm_stat(name):
        text = RawConn(s.port).call("INFO", "lsm").decode()
        for line in text.split("\r\n"):
            if line.startswith(name + ":"):
                return float(line.split(":", 1)[1])
        raise AssertionError("INFO lsm has no %s" % name)
    if target_is_kevo():
        ok(lsm_stat("lsm_flushes") >= 1, "a 1 MB memtable was flushed at least once")
    eq(RawConn(s.port).call("DEBUG", "RELOAD"), "OK")
    verify("after DEBUG RELOAD")
    eq(RawConn(s.port).call("SAVE"), "OK")
    verify("after SAVE")
    if target_is_kevo():
        eq(RawConn(s.port).call("COMPACT"), "OK")
        ok(lsm_stat("lsm_compactions") >= 1, "COMPACT ran at least one compaction")
        verify("after COMPACT")
    s.stop(signal.SIGKILL)
    s.start()
    r = s.redis()
    verify("after kill -9")
    s.stop(signal.SIGTERM)
    s.start()
    r = s.redis()
    verify("after SIGTERM restart")
    s.stop()


@test(timeout=180)
def test_scan_guarantee_across_flushes_and_deletes():
    s = start_kevo("scanflush", appendfsync="no", memtable_size="1mb",
                   target_file_size="256kb", level1_max_bytes="1mb")
    r = s.redis()
    p = r.pipeline(transaction=False)
    for i in range(6000):
        p.set(b"stable:%05d" % i, b"s" * 300)
    for i in range(3000):
        p.set(b"gone:%05d" % i, b"g" * 300)
    p.execute()
    w = s.redis()
    cursor, seen, step = 0, set(), 0
    while True:
        cursor, keys = r.scan(cursor, count=100)
        seen.update(keys)
        step += 1
        p = w.pipeline(transaction=False)
        for i in range(40):  # ~80 KB per step: the 1 MB memtable flushes during the walk
            p.set(b"churn:%d:%d" % (step, i), b"c" * 2000)
        p.delete(*[b"gone:%05d" % j for j in range((step - 1) * 30, step * 30)])
        p.execute()
        if cursor == 0:
            break
        ok(step < 5000, "SCAN terminates")
    missing = {b"stable:%05d" % i for i in range(6000)} - seen
    eq(sorted(missing)[:5], [], "keys present for the whole walk were returned (%d missing)"
       % len(missing))
    s.stop()


@test(timeout=120)
def test_everysec_and_no_clean_shutdown_loses_nothing():
    for mode in ("everysec", "no"):
        s = start_kevo("fsync-" + mode, appendfsync=mode)
        m = Model()
        m.apply_random_workload(s, 2000, seed=11)
        eq(s.stop(signal.SIGTERM), 0)
        s.start()
        m.verify(s, "appendfsync %s, after SIGTERM" % mode)
        s.stop()


@test(timeout=60)
def test_restart_on_same_dir_twice_is_refused_or_locked():
    if not target_is_kevo():
        from lib import skip
        skip("LOCK file is Kevo's")
    s = start_kevo("locked", appendfsync="always")
    from lib import Server, free_port
    t = Server(s.binary, s.dir, s.extra, is_redis=False)
    t.port = free_port()
    import subprocess
    p = subprocess.Popen(t.args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rc = p.wait(15)
        ok(rc != 0, "a second server on the same --dir must exit non-zero")
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError("a second server on the same --dir kept running (no LOCK)")
    eq(s.redis().ping(), True)
    s.stop()


def _kevo_check_bin():
    return os.path.join(os.path.dirname(env("KEVO_BIN")), "kevo-check")


@test(timeout=120)
def test_corrupt_table_errors_name_file_and_offset():
    """A flipped bit in an SSTable data block: kevo-check reports the file and offset (exit 1);
    the server starts (tables are read lazily) and GET of a key in that block answers
    -ERR naming the table and the block offset; every other key has its exact value."""
    if not target_is_kevo():
        skip("kevo-check and the engine's error detail are Kevo's")
    import subprocess
    s = start_kevo("corrupt-sst", appendfsync="always")
    r = s.redis()
    p = r.pipeline(transaction=False)
    vals = {}
    for i in range(3000):
        k = b"key:%05d" % i
        vals[k] = b"value-%d-" % i + b"x" * 40
        p.set(k, vals[k])
    p.execute()
    ok(r.execute_command("SAVE") in (True, b"OK", "OK"), "SAVE")
    eq(s.stop(), 0)
    ssts = sorted(f for f in os.listdir(s.dir) if f.endswith(".sst"))
    ok(ssts, "SAVE wrote a table")
    path = os.path.join(s.dir, ssts[0])
    with open(path, "r+b") as f:
        f.seek(300)
        b = f.read(1)
        f.seek(300)
        f.write(bytes([b[0] ^ 0x10]))
    chk = _kevo_check_bin()
    if os.access(chk, os.X_OK):
        cp = subprocess.run([chk, s.dir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        eq(cp.returncode, 1, cp.stdout.decode())
        ok(("%s: offset 0: error" % ssts[0]).encode() in cp.stdout, cp.stdout.decode())
    s.start()
    r = s.redis()
    errors = 0
    for k, v in vals.items():
        try:
            got = r.get(k)
        except redis.ResponseError as e:
            errors += 1
            ok(ssts[0] in str(e) and "offset" in str(e), "error names the table: %s" % e)
            continue
        eq(got, v)
    ok(errors > 0, "the damaged block's keys answer an error")
    s.stop()


@test(timeout=120)
def test_corrupt_manifest_refuses_to_start():
    """A flipped bit in the MANIFEST (its last edit, a flush): the server refuses to start and
    its log names the MANIFEST; kevo-check reports it."""
    if not target_is_kevo():
        skip("Kevo's files")
    import subprocess
    s = start_kevo("corrupt-manifest", appendfsync="always")
    r = s.redis()
    for i in range(200):
        r.set(b"m:%d" % i, b"v%d" % i)
    r.execute_command("SAVE")
    eq(s.stop(), 0)
    man = [f for f in os.listdir(s.dir) if f.startswith("MANIFEST-")][0]
    path = os.path.join(s.dir, man)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(size - 5)
        b = f.read(1)
        f.seek(size - 5)
        f.write(bytes([b[0] ^ 0x01]))
    chk = _kevo_check_bin()
    if os.access(chk, os.X_OK):
        cp = subprocess.run([chk, s.dir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        eq(cp.returncode, 1, cp.stdout.decode())
        ok(man.encode() in cp.stdout, cp.stdout.decode())
    from lib import free_port
    s.port = free_port()
    log = open(os.path.join(s.dir, "server.log"), "ab")
    p = subprocess.Popen(s.args(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         cwd=s.dir)
    log.close()
    try:
        rc = p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError("the server started on a damaged MANIFEST")
    ok(rc != 0, "exit status %d" % rc)
    ok(man in s.log_tail(10), "the log names %s:\n%s" % (man, s.log_tail(10)))


@test(timeout=240)
def test_kill9_collection_commands_are_all_or_nothing_with_exact_counts():
    """Multi-member HSET/SADD/ZADD, SUNIONSTORE/ZUNIONSTORE and DEL of a big key, pipelined by a
    client while the server is killed: after restart every acknowledged command is there, every
    command is whole or absent, and HLEN/SCARD/ZCARD/DBSIZE agree with what is stored (the
    sorted set's score index with its members)."""
    s = start_kevo("kill9coll", appendfsync="always", memtable_size="1mb")
    r = s.redis()
    W = 40
    r.sadd("src1", *["a%d" % i for i in range(100)])
    r.sadd("src2", *["b%d" % i for i in range(100)])
    r.zadd("zsrc1", {"a%d" % i: i for i in range(100)})
    r.zadd("zsrc2", {"b%d" % i: i for i in range(100)})
    for i in range(4):
        p = r.pipeline(transaction=False)
        for j in range(0, 5000, 1000):
            p.sadd("big:%d" % i, *["m%d" % k for k in range(j, j + 1000)])
        p.execute()
    acked = []
    stop = threading.Event()

    def writer():
        c = s.redis()
        rnd = 0
        try:
            while not stop.is_set():
                p = c.pipeline(transaction=False)
                ops = []
                for _ in range(10):
                    t = rnd % 5
                    if t == 0:
                        p.hset("h:%d" % (rnd % 7), mapping={"f%d" % j: "r%d" % rnd for j in range(W)})
                    elif t == 1:
                        p.sadd("s:%d" % (rnd % 7), *["r%d-%d" % (rnd, j) for j in range(W)])
                    elif t == 2:
                        p.zadd("z:%d" % (rnd % 7), {"r%d-%d" % (rnd, j): rnd * 100 + j for j in range(W)})
                    elif t == 3:
                        p.sunionstore("u:%d" % rnd, ["src1", "src2"])
                        p.zunionstore("zu:%d" % rnd, ["zsrc1", "zsrc2"])
                    else:
                        p.delete("big:%d" % (rnd // 5 % 4))
                    ops.append(rnd)
                    rnd += 1
                p.execute()
                acked.extend(ops)
        except Exception:
            pass  # the kill ends the connection

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    wait_until(lambda: len(acked) >= 600, timeout=60, what="600 acknowledged commands")
    s.stop(signal.SIGKILL)
    stop.set()
    t.join(10)
    last_acked = max(acked)
    s.start()
    r = s.redis()
    for i in range(7):
        h = r.hgetall("h:%d" % i)
        if h:
            eq(len(set(h.values())), 1, "h:%d holds fields of one HSET only: %r" % (i, set(h.values())))
            eq(len(h), W, "h:%d has all %d fields of its HSET" % (i, W))
            eq(r.hlen("h:%d" % i), len(h), "HLEN h:%d exact" % i)
        members = r.smembers("s:%d" % i)
        eq(r.scard("s:%d" % i), len(members), "SCARD s:%d exact" % i)
        per = {}
        for m in members:
            per.setdefault(m.split(b"-")[0], 0)
            per[m.split(b"-")[0]] += 1
        eq(sorted(set(per.values())) or [W], [W], "every SADD in s:%d whole: %r" % (i, per))
        zm = r.zrange("z:%d" % i, 0, -1, withscores=True)
        eq(r.zcard("z:%d" % i), len(zm), "ZCARD z:%d exact" % i)
        eq(r.zcount("z:%d" % i, "-inf", "+inf"), len(zm), "score index agrees with members")
        per = {}
        for m, sc in zm:
            tag = m.split(b"-")[0]
            eq(int(sc) // 100, int(tag[1:]), "score of %r" % m)
            per[tag] = per.get(tag, 0) + 1
        eq(sorted(set(per.values())) or [W], [W], "every ZADD in z:%d whole" % i)
    for rnd in range(0, last_acked + 50):
        if rnd % 5 != 3:
            continue
        n = r.scard("u:%d" % rnd)
        ok(n in (0, 200), "SUNIONSTORE u:%d whole or absent (%d)" % (rnd, n))
        if rnd <= last_acked:
            eq(n, 200, "acknowledged SUNIONSTORE u:%d is there" % rnd)
        zn = r.zcard("zu:%d" % rnd)
        ok(zn in (0, 200), "ZUNIONSTORE zu:%d whole or absent (%d)" % (rnd, zn))
        if rnd <= last_acked:
            eq(zn, 200, "acknowledged ZUNIONSTORE zu:%d is there" % rnd)
    for i in range(4):
        n = r.scard("big:%d" % i)
        ok(n in (0, 5000), "big:%d deleted whole or not at all (%d)" % (i, n))
    deleted_big = {rnd // 5 % 4 for rnd in acked if rnd % 5 == 4}
    for i in deleted_big:
        eq(r.exists("big:%d" % i), 0, "acknowledged DEL big:%d is there" % i)
    eq(r.dbsize(), len(r.keys("*")), "DBSIZE exact")
    s.stop()


@test(timeout=240)
def test_kill9_big_hashes_keep_their_index_exact():
    """Hashes past the random-pick index (up to 3000 fields) grown and shrunk by pipelined HSET
    and HDEL while the server is killed (small memtable: flushes and compactions run under
    them). Every field record of such a hash holds its ordinal and every HDEL moves the last
    field into the hole (doc/keyspace_format.md): after restart HLEN equals the fields stored,
    every value is its field's (values depend on the field only), picks through the ordinals
    (HRANDFIELD with a negative count) name present fields with their values, and deleting every
    field one by one succeeds down to an empty, removed key."""
    s = start_kevo("kill9bighash", appendfsync="always", memtable_size="1mb")
    r = s.redis()
    keys = ["bh:%d" % i for i in range(3)]
    pad = "-" + "x" * 200  # ~2 MB of live fields, 1 MB memtables: flushes and compactions run

    def val(j):
        return "v%d%s" % (j, pad)

    for k in keys:  # past the 128-field threshold from the start
        r.hset(k, mapping={"f%d" % j: val(j) for j in range(200)})
    acked = []
    stop = threading.Event()

    def writer():
        c = s.redis()
        rnd = 0
        try:
            while not stop.is_set():
                p = c.pipeline(transaction=False)
                for _ in range(10):
                    k = keys[rnd % 3]
                    p.hset(k, mapping={"f%d" % ((rnd * 7 + j) % 3000): val((rnd * 7 + j) % 3000)
                                       for j in range(5)})
                    p.hdel(k, *["f%d" % ((rnd * 11 + j) % 3000) for j in range(3)])
                    rnd += 1
                p.execute()
                acked.append(rnd)
        except Exception:
            pass  # the kill ends the connection

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    wait_until(lambda: len(acked) >= 800, timeout=90, what="8000 acknowledged HSET+HDEL pairs")
    flushes = int(r.info("lsm")["lsm_flushes"])
    s.stop(signal.SIGKILL)
    stop.set()
    t.join(10)
    ok(flushes >= 2, "memtables flushed under the writes (%d)" % flushes)
    s.start()
    r = s.redis()
    for k in keys:
        h = r.hgetall(k)
        eq(r.hlen(k), len(h), "HLEN %s exact" % k)
        ok(len(h) > 128, "%s still indexed (%d fields)" % (k, len(h)))
        for f, v in h.items():
            eq(v, val(int(f[1:])).encode(), "%s: value of %r" % (k, f))
        picks = r.hrandfield(k, -300, withvalues=True)
        eq(len(picks), 600)
        for i in range(0, 600, 2):
            eq(h.get(picks[i]), picks[i + 1], "%s: pick %r through the ordinals" % (k, picks[i]))
        fields = sorted(h)
        for at in range(0, len(fields), 500):
            p = r.pipeline(transaction=False)
            for f in fields[at:at + 500]:
                p.hdel(k, f)
            p.hlen(k)
            got = p.execute()
            eq(got[:-1], [1] * len(fields[at:at + 500]), "%s: every HDEL from field %d" % (k, at))
            eq(got[-1], max(0, len(fields) - at - 500), "%s: HLEN after deleting" % k)
        eq(r.exists(k), 0, "%s removed with its last field" % k)
    eq(r.dbsize(), len(r.keys("*")), "DBSIZE exact")
    s.stop()


@test(timeout=240)
def test_kill9_lmove_element_in_exactly_one_list():
    """LMOVE / RPOPLPUSH pipelined by three clients while the server is killed (small memtable,
    so flushes run under the moves): after restart every element is in exactly one list, in an
    order the acknowledged moves explain, and LLEN / DBSIZE agree with what is stored.
    - a -> b (LMOVE a b LEFT RIGHT): b holds a prefix of the original a, at least every
      acknowledged move, a the rest;
    - c rotated on itself (LMOVE c c LEFT RIGHT): c is the original rotated by at least the
      acknowledged count;
    - d <-> e (RPOPLPUSH both ways, LMOVE with random ends): d and e together hold every
      element exactly once."""
    s = start_kevo("kill9lmove", appendfsync="always", memtable_size="1mb")
    r = s.redis()
    N = 6000
    pad = "p" * 200

    def elems(tag):
        return ["%s%05d:%s" % (tag, i, pad) for i in range(N)]
    for key, tag in (("a", "a"), ("c", "c"), ("d", "d")):
        for i in range(0, N, 500):
            r.rpush(key, *elems(tag)[i:i + 500])
    acked = {"ab": 0, "cc": 0}
    stop = threading.Event()

    def mover(kind):
        c = s.redis()
        rng = random.Random(kind)
        try:
            while not stop.is_set():
                p = c.pipeline(transaction=False)
                for _ in range(20):
                    if kind == "ab":
                        p.lmove("a", "b", "LEFT", "RIGHT")
                    elif kind == "cc":
                        p.lmove("c", "c", "LEFT", "RIGHT")
                    elif rng.random() < 0.5:
                        p.rpoplpush(*rng.choice([("d", "e"), ("e", "d")]))
                    else:
                        src, dst = rng.choice([("d", "e"), ("e", "d")])
                        p.lmove(src, dst, rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"]))
                res = p.execute()
                if kind in acked:
                    acked[kind] += sum(1 for x in res if x is not None)
        except Exception:
            pass  # the kill ends the connection

    threads = [threading.Thread(target=mover, args=(k,), daemon=True) for k in ("ab", "cc", "de")]
    for t in threads:
        t.start()
    wait_until(lambda: acked["ab"] >= 2500 and acked["cc"] >= 2500, timeout=60,
               what="2500 acknowledged moves per client")
    s.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(10)
    ok(acked["ab"] < N, "the a -> b mover did not run dry (%d)" % acked["ab"])
    s.start()
    r = s.redis()
    a, b = r.lrange("a", 0, -1), r.lrange("b", 0, -1)
    eq(r.llen("a"), len(a), "LLEN a exact")
    eq(r.llen("b"), len(b), "LLEN b exact")
    orig = [x.encode() for x in elems("a")]
    moved = len(b)
    ok(acked["ab"] <= moved <= acked["ab"] + 20,
       "every acknowledged LMOVE a b is there, at most one pipeline more (%d, acked %d)"
       % (moved, acked["ab"]))
    eq(b, orig[:moved], "b is the moved prefix of a, in order")
    eq(a, orig[moved:], "a is the rest, in order")
    cl = r.lrange("c", 0, -1)
    eq(r.llen("c"), len(cl), "LLEN c exact")
    eq(len(cl), N, "the rotated list keeps every element")
    corig = [x.encode() for x in elems("c")]
    rot = corig.index(cl[0])
    eq(cl, corig[rot:] + corig[:rot], "c is a rotation of the original")
    ok((rot - acked["cc"]) % N <= 20,
       "every acknowledged rotation is there, at most one pipeline more (%d, acked %d)"
       % (rot, acked["cc"]))
    d, e = r.lrange("d", 0, -1), r.lrange("e", 0, -1)
    eq(r.llen("d"), len(d), "LLEN d exact")
    eq(r.llen("e"), len(e), "LLEN e exact")
    eq(sorted(d + e), sorted(x.encode() for x in elems("d")),
       "d and e together hold every element exactly once")
    eq(r.dbsize(), len(r.keys("*")), "DBSIZE exact")
    s.stop()

if __name__ == "__main__":
    sys.exit(run_all("restart"))
