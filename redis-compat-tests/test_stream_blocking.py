#!/usr/bin/python3
"""XREAD BLOCK / XREADGROUP BLOCK with several real clients (raw RESP sockets, replies compared
byte for byte): `$` resolved when the client blocks, FIFO service (every XREAD reader gets the
entry; group readers share the entries in the order they blocked), COUNT (and the default of
1000 when blocked), timeouts, several keys (only the key that got data in the reply), MULTI/EXEC
(served once after EXEC with everything it wrote; a blocking read inside MULTI replies as a
timeout), RESP3, a deleted / overwritten / flushed / expired stream and a destroyed group waking
XREADGROUP with Redis's error while XREAD stays blocked, CLIENT UNBLOCK, pipelined input
behind a blocked read, RENAME of a stream onto the key.

Each scenario runs against the server under test ($KEVO_PORT) and, when run.sh started one, the
reference redis-server ($REDIS_PORT): both must give the same replies."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (eq, ok, test, run_all, wait_until, on_all, conn, admin)  # noqa: E402


def blocked_clients(a):
    text = a.call("INFO", "clients").decode()
    for line in text.split("\r\n"):
        if line.startswith("blocked_clients:"):
            return int(line.split(":", 1)[1])
    raise AssertionError("INFO clients has no blocked_clients")


def wait_blocked(a, n):
    wait_until(lambda: blocked_clients(a) == n, timeout=10, what="blocked_clients == %d" % n)


def block(port, a, n_before, *cmd, resp3=False):
    """A new client sends cmd and is blocked (waits until the server counts it)."""
    c = conn(port, resp3)
    c.send(*cmd)
    wait_blocked(a, n_before + 1)
    return c


def no_reply(c, wait=0.15):
    """True when nothing arrives on c for a short while (the client is still blocked)."""
    c.sock.settimeout(wait)
    try:
        c.sock.recv(1, socket.MSG_PEEK)
        return False
    except socket.timeout:
        return True
    finally:
        c.sock.settimeout(10)


def raw(c):
    return c.reply()[0]


def close(*cs):
    for c in cs:
        c.close()


# ------------------------------------------------------------------------------- XREAD

@test
def xread_dollar_is_the_last_id_when_blocking():
    def run(port):
        a = admin(port)
        a.call("XADD", "s", "1-1", "old", "1")
        c = block(port, a, 0, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        a.call("XADD", "s", "2-1", "new", "2")
        r = raw(c)
        wait_blocked(a, 0)
        close(a, c)
        return r
    eq(on_all(run), b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$3\r\nnew\r\n$1\r\n2\r\n")


@test
def xread_every_reader_is_served():
    def run(port):
        a = admin(port)
        cs = [block(port, a, i, "XREAD", "BLOCK", "0", "STREAMS", "s", "$") for i in range(3)]
        a.call("XADD", "s", "5-1", "f", "v")
        out = [raw(c) for c in cs]
        wait_blocked(a, 0)
        close(a, *cs)
        return out
    got = on_all(run)
    eq(len(set(got)), 1, "the three readers got the same entry")


@test
def xread_dollar_on_a_missing_key_then_created():
    def run(port):
        a = admin(port)
        c = block(port, a, 0, "XREAD", "BLOCK", "0", "STREAMS", "nokey", "$")
        a.call("XADD", "nokey", "1-1", "a", "b")
        r = raw(c)
        close(a, c)
        return r
    on_all(run)


@test
def xread_several_keys_reply_holds_the_written_one():
    def run(port):
        a = admin(port)
        a.call("XADD", "k1", "1-1", "a", "1")
        a.call("XADD", "k2", "1-1", "a", "1")
        c = block(port, a, 0, "XREAD", "BLOCK", "0", "STREAMS", "k1", "k2", "k3", "$", "$", "$")
        a.call("XADD", "k2", "2-1", "b", "2")
        r = raw(c)
        c2 = block(port, a, 0, "XREAD", "BLOCK", "0", "STREAMS", "k1", "k2", "k3", "$", "$", "$")
        a.call("XADD", "k3", "7-7", "c", "3")
        r2 = raw(c2)
        close(a, c, c2)
        return [r, r2]
    got = on_all(run)
    ok(b"k2" in got[0] and b"k1" not in got[0], got[0])
    ok(b"k3" in got[1], got[1])


@test
def xread_count_and_the_default_count_when_blocked():
    def run(port):
        a = admin(port)
        a.call("XADD", "s", "1-1", "a", "1")
        c = block(port, a, 0, "XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "s", "1-1")
        ok(no_reply(c), "served with nothing new")
        a.call("MULTI")
        for i in range(2, 6):
            a.call("XADD", "s", "%d-1" % i, "a", str(i))
        a.call("EXEC")
        r = raw(c)
        # no COUNT: at most 1000 entries when served after blocking
        c2 = block(port, a, 0, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        a.send("MULTI")
        a.reply()
        for i in range(6, 1207):
            a.send("XADD", "s", "%d-1" % i, "a", "x")
        for i in range(6, 1207):
            a.reply()
        a.call("EXEC")
        r2 = c2.reply()[1]
        close(a, c, c2)
        return [r, len(r2[0][1]), r2[0][1][0][0], r2[0][1][-1][0]]
    got = on_all(run)
    eq(got[1:], [1000, b"6-1", b"1005-1"])


@test
def xread_timeout_and_zero_data():
    def run(port):
        a = admin(port)
        a.call("XADD", "s", "1-1", "a", "1")
        c = conn(port)
        t0 = time.time()
        r = c.call_raw("XREAD", "BLOCK", "150", "STREAMS", "s", "$")[0]
        el = time.time() - t0
        ok(el >= 0.1, "returned after %.3fs" % el)
        c3 = conn(port, resp3=True)
        r3 = c3.call_raw("XREAD", "BLOCK", "50", "STREAMS", "s", "$")[0]
        wait_blocked(a, 0)
        close(a, c, c3)
        return [r, r3]
    eq(on_all(run), [b"*-1\r\n", b"_\r\n"])


@test
def xread_served_after_exec_with_all_it_wrote():
    def run(port):
        a = admin(port)
        a.call("XADD", "s", "1-1", "a", "1")
        c = block(port, a, 0, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        a.call("MULTI")
        a.call("XADD", "s", "2-1", "a", "2")
        a.call("XADD", "s", "3-1", "a", "3")
        ok(no_reply(c), "served before EXEC")
        a.call("EXEC")
        r = raw(c)
        close(a, c)
        return r
    got = on_all(run)
    ok(b"2-1" in got and b"3-1" in got, got)


@test
def xread_add_then_delete_in_one_transaction():
    # served because the stream's last ID moved on, with what is left: nothing
    def run(port):
        a = admin(port)
        a.call("XADD", "s", "1-1", "a", "1")
        c = block(port, a, 0, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        a.call("MULTI")
        a.call("XADD", "s", "2-1", "a", "2")
        a.call("XDEL", "s", "2-1")
        a.call("EXEC")
        r = raw(c)
        c2 = block(port, a, 0, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        a.call("XADD", "s", "MAXLEN", "0", "3-1", "a", "3")
        r2 = raw(c2)
        close(a, c, c2)
        return [r, r2]
    eq(on_all(run), [b"*1\r\n*2\r\n$1\r\ns\r\n*0\r\n", b"*1\r\n*2\r\n$1\r\ns\r\n*0\r\n"])


@test
def xread_resp3_shape():
    def run(port):
        a = admin(port)
        c = block(port, a, 0, "XREAD", "BLOCK", "0", "STREAMS", "s", "$", resp3=True)
        a.call("XADD", "s", "1-1", "a", "1")
        r = raw(c)
        close(a, c)
        return r
    eq(on_all(run), b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n")


@test
def xread_stays_blocked_when_its_key_is_deleted_or_another_type():
    def run(port):
        a = admin(port)
        a.call("XADD", "s", "1-1", "a", "1")
        c = block(port, a, 0, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        a.call("DEL", "s")
        a.call("LPUSH", "s", "x")
        ok(no_reply(c), "XREAD answered after DEL / LPUSH")
        a.call("DEL", "s")
        a.call("XADD", "s", "1-2", "b", "2")
        r = raw(c)
        close(a, c)
        return r
    on_all(run)


@test
def xread_pipelined_commands_wait_behind_it():
    def run(port):
        a = admin(port)
        c = conn(port)
        c.send_raw(b"".join([
            b"*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n$7\r\nSTREAMS\r\n$1\r\ns\r\n$1\r\n$\r\n",
            b"*1\r\n$4\r\nPING\r\n"]))
        wait_blocked(a, 1)
        ok(no_reply(c), "PING answered while blocked")
        a.call("XADD", "s", "1-1", "a", "1")
        r1, r2 = raw(c), raw(c)
        close(a, c)
        return [r1, r2]
    got = on_all(run)
    eq(got[1], b"+PONG\r\n")


@test
def xread_rename_onto_the_key_serves():
    def run(port):
        a = admin(port)
        a.call("XADD", "s", "1-1", "a", "1")
        c = block(port, a, 0, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        a.call("XADD", "other", "5-1", "z", "9")
        a.call("RENAME", "other", "s")
        r = raw(c)
        close(a, c)
        return r
    on_all(run)


@test
def xread_client_unblock():
    def run(port):
        a = admin(port)
        c = conn(port)
        cid = c.call("CLIENT", "ID")
        c.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        wait_blocked(a, 1)
        eq(a.call("CLIENT", "UNBLOCK", str(cid)), 1)
        r = raw(c)
        c.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        wait_blocked(a, 1)
        eq(a.call("CLIENT", "UNBLOCK", str(cid), "ERROR"), 1)
        r2 = raw(c)
        close(a, c)
        return [r, r2]
    eq(on_all(run), [b"*-1\r\n", b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"])


@test
def blocking_read_inside_multi_replies_at_once():
    def run(port):
        a = admin(port)
        a.call("XADD", "s", "1-1", "a", "1")
        a.call("XGROUP", "CREATE", "s", "g", "$")
        a.call("MULTI")
        a.call("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        a.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        r = a.call_raw("EXEC")[0]
        close(a)
        return r
    eq(on_all(run), b"*2\r\n*-1\r\n*-1\r\n")


# ------------------------------------------------------------------------------ XREADGROUP

@test
def xreadgroup_readers_share_entries_in_blocking_order():
    def run(port):
        a = admin(port)
        a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        c1 = block(port, a, 0, "XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">")
        c2 = block(port, a, 1, "XREADGROUP", "GROUP", "g", "bob", "BLOCK", "0", "STREAMS", "s", ">")
        a.call("XADD", "s", "1-1", "a", "1")
        r1 = raw(c1)
        ok(no_reply(c2), "bob served although alice took the only entry")
        a.call("XADD", "s", "2-1", "a", "2")
        r2 = raw(c2)
        pend = a.call_raw("XPENDING", "s", "g")[0]
        close(a, c1, c2)
        return [r1, r2, pend]
    got = on_all(run)
    ok(b"1-1" in got[0] and b"2-1" in got[1], got)


@test
def xreadgroup_one_transaction_feeds_several_readers():
    def run(port):
        a = admin(port)
        a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        c1 = block(port, a, 0, "XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">")
        c2 = block(port, a, 1, "XREADGROUP", "GROUP", "g", "bob", "BLOCK", "0", "STREAMS", "s", ">")
        c3 = block(port, a, 2, "XREADGROUP", "GROUP", "g", "carol", "BLOCK", "0", "STREAMS", "s", ">")
        a.call("MULTI")
        for i in range(1, 4):
            a.call("XADD", "s", "%d-1" % i, "a", str(i))
        a.call("EXEC")
        r1, r2 = raw(c1), raw(c2)
        ok(no_reply(c3), "carol served with nothing left")
        info = a.call_raw("XINFO", "GROUPS", "s")[0]
        a.call("XADD", "s", "4-1", "a", "4")
        r3 = raw(c3)
        close(a, c1, c2, c3)
        return [r1, r2, r3, info]
    on_all(run)


@test
def xreadgroup_noack_blocked():
    def run(port):
        a = admin(port)
        a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        c = block(port, a, 0, "XREADGROUP", "GROUP", "g", "c", "NOACK", "BLOCK", "0", "STREAMS", "s", ">")
        a.call("XADD", "s", "1-1", "a", "1")
        r = raw(c)
        p = a.call_raw("XPENDING", "s", "g")[0]
        close(a, c)
        return [r, p]
    on_all(run)


@test
def xreadgroup_woken_with_an_error_when_the_stream_goes():
    def run(port):
        a = admin(port)
        out = []
        for how in ("DEL", "SET", "FLUSHALL", "UNLINK", "RESTORE_TYPE"):
            a.call("FLUSHALL")
            a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
            g = block(port, a, 0, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
            x = block(port, a, 1, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
            if how == "DEL":
                a.call("DEL", "s")
            elif how == "SET":
                a.call("SET", "s", "v")
            elif how == "FLUSHALL":
                a.call("FLUSHALL")
            elif how == "UNLINK":
                a.call("UNLINK", "s")
            else:
                a.call("MULTI")
                a.call("DEL", "s")
                a.call("SADD", "s", "m")
                a.call("EXEC")
            out.append(raw(g))
            ok(no_reply(x), "XREAD answered after %s" % how)
            x.close()
            wait_blocked(a, 0)
            g.close()
        close(a)
        return out
    eq(on_all(run), [b"-UNBLOCKED the stream key no longer exists\r\n"] * 5)


@test
def xreadgroup_woken_with_an_error_when_the_group_goes():
    def run(port):
        a = admin(port)
        a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        a.call("XGROUP", "CREATE", "s", "g2", "$")
        c = block(port, a, 0, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        c2 = block(port, a, 1, "XREADGROUP", "GROUP", "g2", "c", "BLOCK", "0", "STREAMS", "s", ">")
        eq(a.call("XGROUP", "DESTROY", "s", "g"), 1)
        r = raw(c)
        ok(no_reply(c2), "the other group's reader answered")
        a.call("XADD", "s", "1-1", "a", "1")
        r2 = raw(c2)
        close(a, c, c2)
        return [r, r2]
    got = on_all(run)
    eq(got[0], b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n")


@test
def xreadgroup_woken_when_the_stream_expires():
    def run(port):
        a = admin(port)
        a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        a.call("PEXPIRE", "s", "200")
        c = conn(port)
        c.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        c.sock.settimeout(10)
        r = raw(c)
        close(a, c)
        return r
    eq(on_all(run), b"-UNBLOCKED the stream key no longer exists\r\n")


@test
def xreadgroup_timeout():
    def run(port):
        a = admin(port)
        a.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        c = conn(port)
        r = c.call_raw("XREADGROUP", "GROUP", "g", "c", "BLOCK", "100", "STREAMS", "s", ">")[0]
        cons = a.call_raw("XINFO", "CONSUMERS", "s", "g")[0]
        close(a, c)
        return [r, cons]
    # the consumer is not created by a read that timed out (Redis 7.0)
    eq(on_all(run), [b"*-1\r\n", b"*0\r\n"])


if __name__ == "__main__":
    sys.exit(run_all("stream_blocking"))
