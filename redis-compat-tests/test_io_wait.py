#!/usr/bin/python3
"""Reads that never block the loop (io_wait.h): a command whose keys are not in memory is parked
while the engine's reader threads load its blocks, and the loop serves other clients meanwhile.

One server in $KT_TMP/iowait with a 2 MiB block cache over ~20 MB of tables whose pages the
tests evict from the OS page cache (fsync + POSIX_FADV_DONTNEED), so nearly every GET of a
random key needs a disk read; with the page cache warm, reads are done in place (RWF_NOWAIT). DEBUG DISK-READ-DELAY makes every background read sleep
first, so a test can see the loop go on while a read is in flight:
* cold GETs answer the right values and are counted in INFO disk_wait_commands
* while one client's read is delayed 800 ms, other clients' PING/SET/GET answer at once and the
  parked client's reply is not there yet; it comes later with the right value
* a pipeline mixing cold reads, writes, deletes and counters keeps its order and its values
* EXEC reads its queued commands' keys first: right values, WATCH still aborts on a change
* a parked client that disconnects, or is killed, leaves nothing behind; DEBUG RELOAD while
  clients are parked lets them go on with the right replies
* scripts (EVAL KEYS) and MGET park too
* HGET/HMGET/LINDEX/ZSCORE/SISMEMBER of cold members of big collections park for the member
  records too (the key's metadata first, then the members the arguments name); LRANGE, XRANGE
  and XREVRANGE park for the blocks where their range starts
* 8 concurrent clients with a model of their own keys plus shared read-only cold keys
* the active expire cycle queues the reads of due keys' records on disk instead of reading them
  on the loop, and expires the keys once they landed
* a reply built from reads alone leaves as soon as its command has run, not after the rest of
  the loop's iteration; a write's reply, and a read's that sees a write not yet committed, wait
  for the iteration's commit
Kevo-only (skipped against redis-server)."""
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (eq, ok, test, run_all, skip, start_kevo, target_is_kevo, RawConn,  # noqa: E402
                 wait_until)

NKEYS = 20000
VSIZE = 1000
_srv = None


def value(i):
    return random.Random(i).randbytes(VSIZE)


def key(i):
    return b"cold:%06d" % i


def server():
    global _srv
    if not target_is_kevo():
        skip("Kevo-only: reader threads")
    if _srv is None:
        s = start_kevo("iowait", appendfsync="no", block_cache_size="2mb", memtable_size="1mb")
        r = s.redis()
        p = r.pipeline(transaction=False)
        for i in range(NKEYS):
            p.set(key(i), value(i))
            if i % 500 == 499:
                p.execute()
        p.execute()
        r.execute_command("COMPACT")
        eq(r.dbsize(), NKEYS, "loaded")
        _srv = s
    return _srv


def cold():
    """Evicts the server's tables from the OS page cache (written back first), so that their
    blocks not in the block cache need real reads: a command probing them finds neither cache
    and parks (with the page cache warm it reads them in place without waiting)."""
    d = server().dir
    for name in os.listdir(d):
        if name.endswith(".sst"):
            try:
                fd = os.open(os.path.join(d, name), os.O_RDONLY)
            except FileNotFoundError:
                continue  # compacted away meanwhile
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def warm():
    """Reads the server's tables into the OS page cache (as a data set that fits in RAM is)."""
    d = server().dir
    for name in os.listdir(d):
        if name.endswith(".sst"):
            try:
                with open(os.path.join(d, name), "rb") as f:
                    while f.read(1 << 20):
                        pass
            except FileNotFoundError:
                pass


def waits(r):
    return int(r.info("stats")["disk_wait_commands"])


def delay(r, ms):
    r.execute_command("DEBUG", "DISK-READ-DELAY", ms)


def has_reply(raw):
    """True when bytes are waiting on the raw connection's socket (non-blocking peek)."""
    raw.sock.setblocking(False)
    try:
        return len(raw.sock.recv(1, socket.MSG_PEEK)) > 0
    except BlockingIOError:
        return False
    finally:
        raw.sock.setblocking(True)
        raw.sock.settimeout(30)


@test
def cold_gets_park_and_answer():
    r = server().redis()
    cold()
    before = waits(r)
    rnd = random.Random(1)
    for i in rnd.sample(range(NKEYS), 300):
        eq(r.get(key(i)), value(i), "GET %d" % i)
    ok(waits(r) - before >= 100, "cold GETs were parked (%d)" % (waits(r) - before))
    # with the tables in the page cache (the reader threads read with O_DIRECT, so they do not
    # put them there): read in place from it, without parking
    warm()
    before = waits(r)
    for i in random.Random(1).sample(range(NKEYS), 300):
        eq(r.get(key(i)), value(i), "GET %d" % i)
    # (after a cold phase the server tries page-cache reads for 1 in 4 misses until they succeed
    # again: a few parks while it notices)
    ok(waits(r) - before <= 60, "page-cache reads do not park (%d parked)" % (waits(r) - before))
    ok(int(r.info("stats")["disk_reads_queued"]) > 0, "reads queued")
    eq(r.get(b"cold:absent"), None, "absent key")


@test
def loop_serves_others_while_a_read_is_in_flight():
    s = server()
    r = s.redis()
    a = s.raw()
    cold()
    delay(r, 800)
    try:
        # a key whose block no recent test read (the cache holds ~2 MiB of ~20 MB)
        i = random.Random(2).randrange(NKEYS)
        w0 = waits(r)
        t0 = time.time()
        a.send("GET", key(i))
        time.sleep(0.05)
        b = s.raw()
        eq(b.call("PING"), "PONG", "PING answered")
        eq(b.call("SET", "hot:x", "1"), "OK", "SET answered")
        eq(b.call("GET", "hot:x"), b"1", "GET of a key in memory answered")
        elapsed = time.time() - t0
        ok(elapsed < 0.6, "other clients waited %.3fs behind the parked read" % elapsed)
        ok(not has_reply(a), "the parked client's reply is not there before its read")
        eq(a.reply()[1], value(i), "the parked GET's value")
        waited = time.time() - t0
        ok(0.75 <= waited < 1.5, "the parked GET waited for one read (%.3fs)" % waited)
        eq(waits(r) - w0, 1, "parked once: the block its read loaded was there when it ran")
        eq(int(r.info("stats")["disk_wait_clients"]), 0, "nobody parked at the end")
        a.close()
        b.close()
    finally:
        delay(r, 0)


@test
def pipeline_keeps_order_and_values():
    s = server()
    r = s.redis()
    cold()
    rnd = random.Random(3)
    ids = rnd.sample(range(NKEYS), 40)
    p = r.pipeline(transaction=False)
    expect = []
    for n, i in enumerate(ids):
        k = key(i)
        p.get(k)
        expect.append(value(i))
        if n % 4 == 0:
            p.set(k, b"new%d" % n)
            expect.append(True)
            p.get(k)
            expect.append(b"new%d" % n)
            p.set(k, value(i))
            expect.append(True)
        if n % 7 == 0:
            p.incr(b"ctr:pipe")
            expect.append(None)  # checked below
            p.strlen(k)
            expect.append(VSIZE)
    got = p.execute()
    eq(len(got), len(expect), "reply count")
    ctr = 0
    for g, e in zip(got, expect):
        if e is None:
            ctr += 1
            eq(g, ctr, "INCR in order")
        else:
            eq(g, e)


@test
def multi_exec_reads_queued_keys_and_watch_still_aborts():
    s = server()
    r = s.redis()
    cold()
    rnd = random.Random(4)
    ids = rnd.sample(range(NKEYS), 20)
    p = r.pipeline(transaction=True)
    for i in ids:
        p.get(key(i))
    p.set(key(ids[0]), b"changed")
    p.get(key(ids[0]))
    p.set(key(ids[0]), value(ids[0]))
    eq(p.execute(), [value(i) for i in ids] + [True, b"changed", True], "EXEC replies")
    # WATCH a cold key, another client changes it: EXEC aborts (nil)
    j = rnd.randrange(NKEYS)
    c1 = s.raw()
    eq(c1.call("WATCH", key(j)), "OK")
    eq(c1.call("MULTI"), "OK")
    eq(c1.call("GET", key(j)), "QUEUED")
    r.set(key(j), b"other")
    eq(c1.call("EXEC"), None, "EXEC after a watched key changed")
    r.set(key(j), value(j))
    c1.close()


@test
def mget_and_scripts_park_too():
    s = server()
    r = s.redis()
    cold()
    rnd = random.Random(5)
    ids = rnd.sample(range(NKEYS), 50)
    before = waits(r)
    eq(r.mget([key(i) for i in ids]), [value(i) for i in ids], "MGET")
    i = rnd.randrange(NKEYS)
    eq(r.eval("return redis.call('get', KEYS[1])", 1, key(i)), value(i), "EVAL of a cold key")
    ok(waits(r) > before, "parked")


@test
def parked_client_disconnect_and_kill():
    s = server()
    r = s.redis()
    cold()
    delay(r, 400)
    try:
        rnd = random.Random(6)
        for _ in range(5):  # disconnect while parked
            a = s.raw()
            a.send("GET", key(rnd.randrange(NKEYS)))
            time.sleep(0.02)
            a.close()
        a = s.raw()
        aid = a.call("CLIENT", "ID")
        a.send("GET", key(rnd.randrange(NKEYS)))
        time.sleep(0.05)
        eq(r.execute_command("CLIENT", "KILL", "ID", aid), 1, "killed the parked client")
        ok(a.expect_closed(), "the killed client's socket closes")
        wait_until(lambda: int(r.info("stats")["disk_wait_clients"]) == 0, timeout=5,
                   what="no client left parked")
        i = rnd.randrange(NKEYS)
        eq(r.get(key(i)), value(i), "server still answers")
    finally:
        delay(r, 0)


@test
def reload_while_clients_are_parked():
    s = server()
    r = s.redis()
    cold()
    delay(r, 300)
    try:
        rnd = random.Random(7)
        ids = rnd.sample(range(NKEYS), 4)
        conns = []
        for i in ids:
            a = s.raw()
            a.send("GET", key(i))
            conns.append(a)
        time.sleep(0.05)
        eq(r.execute_command("DEBUG", "RELOAD"), b"OK", "DEBUG RELOAD")
        for a, i in zip(conns, ids):
            eq(a.reply()[1], value(i), "parked GET after the reload")
            a.close()
    finally:
        delay(r, 0)


@test(timeout=120)
def collection_members_are_read_ahead():
    """HGET/HMGET/ZSCORE/SISMEMBER/LINDEX of cold members: the key's metadata first, then the
    member records the arguments name, each parked for (not read in place)."""
    s = server()
    r = s.redis()
    n = 20000
    p = r.pipeline(transaction=False)
    for i in range(0, n, 500):
        p.hset("big:h", mapping={b"f%d" % j: value(j)[:300] for j in range(i, i + 500)})
        p.rpush("big:l", *[value(j)[:300] for j in range(i, i + 500)])
        p.zadd("big:z", {value(j)[:300]: j for j in range(i, i + 500)})
        p.sadd("big:s", *[value(j)[:300] for j in range(i, i + 500)])
        for j in range(i, i + 500):
            p.xadd("big:x", {"f": value(j)[:100]}, id="%d-1" % (j + 1))
    p.execute()
    r.execute_command("COMPACT")
    rnd = random.Random(8)

    def stats():
        st = r.info("stats")
        return int(st["disk_wait_commands"]), int(st["disk_reads_queued"])

    checks = [
        (lambda j: ["HGET", "big:h", b"f%d" % j], lambda j: value(j)[:300]),
        (lambda j: ["LINDEX", "big:l", j], lambda j: value(j)[:300]),
        (lambda j: ["LINDEX", "big:l", j - n], lambda j: value(j)[:300]),
        (lambda j: ["ZSCORE", "big:z", value(j)[:300]], lambda j: float(j)),
        (lambda j: ["SISMEMBER", "big:s", value(j)[:300]], lambda j: 1),
        # range reads: the blocks where the range starts are read ahead
        (lambda j: ["LRANGE", "big:l", j, j + 20], lambda j: [value(x)[:300] for x in range(j, min(j + 21, n))]),
        (lambda j: ["XRANGE", "big:x", "%d-1" % (j + 1), "+", "COUNT", 30],
         lambda j: [(b"%d-1" % (x + 1), {b"f": value(x)[:100]}) for x in range(j, min(j + 30, n))]),
        (lambda j: ["XREVRANGE", "big:x", "%d-1" % (j + 1), "-", "COUNT", 30],
         lambda j: [(b"%d-1" % (x + 1), {b"f": value(x)[:100]}) for x in range(j, max(j - 30, -1), -1)]),
    ]
    for make, want in checks:
        cold()
        parked = members_read = 0
        for _ in range(20):
            j = rnd.randrange(n)
            w0, q0 = stats()
            got = r.execute_command(*make(j))
            eq(got, want(j), "%r" % make(j)[:2])
            w1, q1 = stats()
            parked += w1 - w0
            members_read += q1 - q0
        # the metadata block stays cached across the 20 calls: nearly every call parks for
        # its member only (a member read in place would leave both counters still)
        ok(parked >= 10 and members_read >= 10,
           "%s: %d parked, %d reads queued in 20 calls" % (make(0)[0], parked, members_read))
    j = rnd.randrange(n - 3)
    eq(r.hmget("big:h", [b"f%d" % (j + d) for d in range(3)] + [b"nofield"]),
       [value(j + d)[:300] for d in range(3)] + [None], "HMGET")
    r.delete("big:h", "big:l", "big:z", "big:s", "big:x")


@test(timeout=120)
def concurrent_clients_with_a_model():
    s = server()
    cold()
    errors = []

    def worker(t):
        try:
            r = s.redis()
            rnd = random.Random(100 + t)
            mine = {}
            for n in range(250):
                op = rnd.random()
                k = b"own:%d:%d" % (t, rnd.randrange(30))
                if op < 0.3:
                    v = b"%d-%d" % (t, n)
                    r.set(k, v)
                    mine[k] = v
                elif op < 0.5:
                    eq(r.get(k), mine.get(k), "own key")
                elif op < 0.6:
                    eq(r.delete(k), 1 if k in mine else 0, "DEL own key")
                    mine.pop(k, None)
                elif op < 0.8:
                    i = rnd.randrange(NKEYS)
                    eq(r.get(key(i)), value(i), "shared cold key")
                else:
                    ids = [rnd.randrange(NKEYS) for _ in range(8)]
                    p = r.pipeline(transaction=rnd.random() < 0.5)
                    for i in ids:
                        p.get(key(i))
                    p.get(k)
                    eq(p.execute(), [value(i) for i in ids] + [mine.get(k)], "pipeline")
        except Exception as e:  # noqa: BLE001
            errors.append("client %d: %r" % (t, e))

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    eq(errors, [], "client errors")


@test
def read_replies_leave_before_the_rest_of_the_iteration():
    s = server()
    r = s.redis()
    r.set("early:k", "v0")
    # busy: DEBUG SLEEP 0.3 holds the loop while a (then a2) and b send; when it is over, one
    # iteration runs a's command, a2's, then b's DEBUG SLEEP 0.6, and commits at its end
    for case in ("read", "write", "read after write"):
        busy, a, a2, b = s.raw(), s.raw(), s.raw(), s.raw()
        busy.send("DEBUG", "SLEEP", "0.3")
        time.sleep(0.1)
        t0 = time.time()
        if case == "read":
            a.send("GET", "early:k")
        else:
            a.send("SET", "early:k", case)
        time.sleep(0.02)
        if case == "read after write":
            a2.send("GET", "early:k")
            time.sleep(0.02)
        b.send("DEBUG", "SLEEP", "0.6")
        got = a.reply()[1]
        ta = time.time() - t0
        if case == "read after write":
            eq(a2.reply()[1], case.encode(), "the read sees the write")
            ta = time.time() - t0
        eq(b.reply()[1], "OK", "b's sleep")
        eq(busy.reply()[1], "OK", "the first sleep")
        if case == "read":
            eq(got, b"v0", "GET")
            ok(ta < 0.5, "a read's reply left before the 0.6 s that followed it (%.3fs)" % ta)
        else:
            eq(got, "OK", "SET")
            ok(ta >= 0.6, "%s: the reply waited for the commit after b's sleep (%.3fs)" % (case, ta))
        for c in (busy, a, a2, b):
            c.close()


@test(timeout=90)
def expiry_reads_cold_keys_off_the_loop():
    """The active expire cycle must read a due key's record (is the index entry still its
    incarnation's?); a record on disk is read by the reader threads, not on the loop: the cycle
    queues the reads and stops, and expires the keys once they landed."""
    s = server()
    r = s.redis()
    n = 100
    size0 = r.dbsize()
    at = int(time.time() * 1000) + 3000
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set(b"exp:%04d" % i, value(i), pxat=at)
    p.execute()
    r.execute_command("COMPACT")
    eq(r.execute_command("DEBUG", "RELOAD"), b"OK", "DEBUG RELOAD (an empty block cache)")
    cold()
    st = r.info("stats")
    e0, q0 = int(st["expired_keys"]), int(st["disk_reads_queued_by_expire"])
    delay(r, 700)
    try:
        while time.time() * 1000 < at + 400:
            time.sleep(0.05)
        st = r.info("stats")
        eq(int(st["expired_keys"]) - e0, 0, "no key expired before its read landed")
        ok(int(st["disk_reads_queued_by_expire"]) - q0 >= 1, "the cycle queued reads")
        t0 = time.time()
        eq(r.ping(), True, "PING")
        ok(time.time() - t0 < 0.3, "the loop answers meanwhile (%.3fs)" % (time.time() - t0))
    finally:
        delay(r, 0)
    wait_until(lambda: int(r.info("stats")["expired_keys"]) - e0 >= n, 30, what="every key expired")
    eq(int(r.info("stats")["expired_keys"]) - e0, n, "each key expired once")
    eq(r.dbsize(), size0, "DBSIZE exact")
    for i in range(0, n, 7):
        eq(r.get(b"exp:%04d" % i), None, "expired key %d" % i)


if __name__ == "__main__":
    sys.exit(run_all("iowait"))
