#!/usr/bin/python3
"""Blocking commands (BZPOPMIN BZPOPMAX BZMPOP BLPOP BRPOP BLMPOP BLMOVE BRPOPLPUSH) with several real clients (raw RESP sockets, so replies are compared byte
for byte): FIFO fairness, several keys, timeouts (also sub-second), wake-ups only after EXEC,
CLIENT UNBLOCK TIMEOUT/ERROR, CLIENT KILL and disconnect while blocked, RESP3 replies, INFO
blocked_clients, CLIENT LIST flags=b, blocking commands inside MULTI, errors, pipelined input
behind a blocked command, SWAPDB/RENAME/MOVE/COPY into a key with blocked clients.

Each scenario runs against the server under test ($KEVO_PORT) and, when run.sh started one, the
reference redis-server ($REDIS_PORT): both must give the same replies (and the expected ones).
Where Kevo follows Redis 7.2 on purpose (a client blocked on several keys is served from the
first key of its argument order with data; Redis 7.0 serves from the key that got data first),
the check is Kevo-only."""
import os
import random
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (RawConn, ConnClosed, encode_command, eq, ok, test, run_all, wait_until, kevo_port, target_is_kevo, skip, start_kevo, on_all, conn, admin)  # noqa: E402


def info_field(c, section, field):
    text = c.call("INFO", section).decode()
    for line in text.split("\r\n"):
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError("INFO %s has no %s" % (section, field))


def wait_blocked(a, n, what="blocked clients"):
    wait_until(lambda: info_field(a, "clients", "blocked_clients") == n, timeout=10,
               what="%s == %d" % (what, n))


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
        data = c.sock.recv(1, socket.MSG_PEEK)
        return False if data else False
    except socket.timeout:
        return True
    finally:
        c.sock.settimeout(10)


def raw_reply(c):
    return c.reply()[0]


# ----------------------------------------------------------------------------- serving

@test
def fifo_fairness_first_blocked_first_served():
    def run(port):
        a = admin(port)
        c1 = block(port, a, 0, "BZPOPMIN", "q", "0")
        c2 = block(port, a, 1, "BZPOPMIN", "q", "0")
        c3 = block(port, a, 2, "BZPOPMAX", "q", "0")
        eq(a.call("ZADD", "q", "1", "a", "2", "b"), 2)
        r1, r2 = raw_reply(c1), raw_reply(c2)
        ok(no_reply(c3), "the third client got a reply with nothing left")
        wait_blocked(a, 1)
        eq(a.call("EXISTS", "q"), 0, "two members served, the key is gone")
        eq(a.call("ZADD", "q", "3", "c", "4", "d"), 2)
        r3 = raw_reply(c3)
        eq(a.call("ZRANGE", "q", "0", "-1"), [b"c"], "BZPOPMAX took the highest")
        wait_blocked(a, 0)
        for c in (c1, c2, c3):
            c.close()
        return [r1, r2, r3]
    got = on_all(run)
    eq(got[0], b"*3\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\n1\r\n")
    eq(got[1], b"*3\r\n$1\r\nq\r\n$1\r\nb\r\n$1\r\n2\r\n")
    eq(got[2], b"*3\r\n$1\r\nq\r\n$1\r\nd\r\n$1\r\n4\r\n")


@test
def served_from_the_key_that_got_data():
    def run(port):
        a = admin(port)
        c = block(port, a, 0, "BZPOPMIN", "k1", "k2", "k3", "0")
        a.call("ZADD", "k3", "7", "m")
        r = raw_reply(c)
        wait_blocked(a, 0)
        c.close()
        return r
    eq(on_all(run), b"*3\r\n$2\r\nk3\r\n$1\r\nm\r\n$1\r\n7\r\n")


@test
def several_keys_first_in_argument_order_with_data():
    # Redis 7.2 re-runs the command: the first key of its arguments with data serves it (7.0
    # served from the key signaled first, k3 here)
    if not target_is_kevo():
        skip("Kevo follows Redis 7.2 here")
    port = kevo_port()
    a = admin(port)
    c = block(port, a, 0, "BZPOPMIN", "k1", "k2", "k3", "0")
    a.send("MULTI")
    a.send("ZADD", "k3", "3", "c")
    a.send("ZADD", "k2", "2", "b")
    a.send("EXEC")
    for _ in range(4):
        a.reply()
    eq(raw_reply(c), b"*3\r\n$2\r\nk2\r\n$1\r\nb\r\n$1\r\n2\r\n")
    eq(a.call("ZRANGE", "k3", "0", "-1"), [b"c"])
    c.close()


@test
def clients_waiting_on_other_keys_stay_blocked():
    def run(port):
        a = admin(port)
        c1 = block(port, a, 0, "BZPOPMIN", "x", "0")
        c2 = block(port, a, 1, "BZPOPMIN", "y", "x", "0")
        a.call("ZADD", "y", "1", "m")
        r2 = raw_reply(c2)
        ok(no_reply(c1))
        wait_blocked(a, 1)
        a.call("ZADD", "x", "1", "n", "2", "o")
        r1 = raw_reply(c1)
        eq(a.call("ZRANGE", "x", "0", "-1"), [b"o"])
        c1.close()
        c2.close()
        return [r1, r2]
    on_all(run)


@test
def bzmpop_count_and_resp3_shapes():
    def run(port):
        a = admin(port)
        c2 = block(port, a, 0, "BZMPOP", "0", "2", "z1", "z2", "MAX", "COUNT", "10")
        c3 = block(port, a, 1, "BZPOPMIN", "z2", "0", resp3=True)
        c4 = block(port, a, 2, "BZMPOP", "0", "1", "z2", "MIN", resp3=True)
        a.call("ZADD", "z2", "1", "a", "2.5", "b", "3", "c")
        out = [raw_reply(c2)]
        ok(no_reply(c3))
        a.call("ZADD", "z2", "1", "a", "2", "b")
        out += [raw_reply(c3), raw_reply(c4)]
        wait_blocked(a, 0)
        for c in (c2, c3, c4):
            c.close()
        return out
    got = on_all(run)
    eq(got[0], b"*2\r\n$2\r\nz2\r\n*3\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$3\r\n2.5\r\n"
               b"*2\r\n$1\r\na\r\n$1\r\n1\r\n")
    eq(got[1], b"*3\r\n$2\r\nz2\r\n$1\r\na\r\n,1\r\n")
    eq(got[2], b"*2\r\n$2\r\nz2\r\n*1\r\n*2\r\n$1\r\nb\r\n,2\r\n")


@test
def data_already_there_is_served_at_once():
    def run(port):
        a = admin(port)
        a.call("ZADD", "k", "1", "a", "2", "b")
        c = conn(port)
        out = [c.call_raw("BZPOPMAX", "nokey", "k", "0")[0],
               c.call_raw("BZMPOP", "0", "2", "nokey", "k", "MIN", "COUNT", "5")[0],
               c.call_raw("EXISTS", "k")[0]]
        c.close()
        return out
    eq(on_all(run), [b"*3\r\n$1\r\nk\r\n$1\r\nb\r\n$1\r\n2\r\n",
                     b"*2\r\n$1\r\nk\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n", b":0\r\n"])


# ----------------------------------------------------------------------------- timeouts

@test
def timeouts_reply_nil_resp2_and_resp3():
    def run(port):
        a = admin(port)
        out = []
        for resp3 in (False, True):
            c = conn(port, resp3)
            for cmd in (("BZPOPMIN", "nokey", "0.1"), ("BZPOPMAX", "a", "b", "0.05"),
                        ("BZMPOP", "0.05", "1", "nokey", "MIN")):
                t0 = time.time()
                out.append(c.call_raw(*cmd)[0])
                dt = time.time() - t0
                ok(0.03 <= dt < 5, "%s took %.3fs" % (cmd, dt))
            c.close()
        eq(info_field(a, "clients", "blocked_clients"), 0)
        return out
    eq(on_all(run), [b"*-1\r\n"] * 3 + [b"_\r\n"] * 3)


@test
def sub_second_timeout_precision():
    def run(port):
        admin(port)
        c = conn(port)
        t0 = time.time()
        r = c.call_raw("BZPOPMIN", "nokey", "0.25")[0]
        dt = time.time() - t0
        ok(0.2 <= dt < 1.5, "a 0.25 s timeout took %.3fs" % dt)
        c.close()
        return r
    eq(on_all(run), b"*-1\r\n")


@test
def timeout_zero_waits_forever_and_table_counts():
    def run(port):
        a = admin(port)
        c1 = block(port, a, 0, "BZPOPMIN", "k", "0")
        c2 = block(port, a, 1, "BZPOPMIN", "k", "100")
        eq(info_field(a, "clients", "clients_in_timeout_table"), 1)
        ok(no_reply(c1, 0.4), "timeout 0 replied")
        c1.close()
        c2.close()
        wait_blocked(a, 0)
        eq(info_field(a, "clients", "clients_in_timeout_table"), 0)
        return True
    on_all(run)


@test
def timeout_argument_errors():
    def run(port):
        a = admin(port)
        c = conn(port)
        out = []
        for t in ("abc", "-1", "-0.5", "inf", "-inf", "1e30", " 1", "nan", ""):
            out.append(c.call_raw("BZPOPMIN", "k", t)[0])
            out.append(c.call_raw("BZMPOP", t, "1", "k", "MIN")[0])
        # "-0", "-0.0001" round to 0 ms: block forever; 1e-9 s rounds up to 1 ms
        out.append(c.call_raw("BZPOPMIN", "k", "0.000000001")[0])
        for t in ("-0", "-0.0001", "0x10", "9223372036854775"):
            c2 = conn(port)
            c2.send("BZPOPMIN", "k", t)
            wait_blocked(a, 1)
            c2.close()
            wait_blocked(a, 0)
        c.close()
        return out
    got = on_all(run)
    ok(b"-ERR timeout is not a float or out of range\r\n" in got)
    ok(b"-ERR timeout is negative\r\n" in got)


@test
def argument_errors_and_wrongtype():
    def run(port):
        a = admin(port)
        a.call("SET", "str", "x")
        c = conn(port)
        out = [c.call_raw(*cmd)[0] for cmd in (
            ("BZPOPMIN", "k"),
            ("BZPOPMIN", "str", "0"),
            ("BZPOPMIN", "nokey", "str", "0"),
            ("BZPOPMAX", "str", "abc"),
            ("BZMPOP", "0", "1", "k"),
            ("BZMPOP", "0", "0", "k", "MIN"),
            ("BZMPOP", "0", "-1", "k", "MIN"),
            ("BZMPOP", "0", "x", "k", "MIN"),
            ("BZMPOP", "0", "3", "k", "MIN"),
            ("BZMPOP", "0", "1", "k", "MINX"),
            ("BZMPOP", "0", "1", "k", "MIN", "COUNT"),
            ("BZMPOP", "0", "1", "k", "MIN", "COUNT", "0"),
            ("BZMPOP", "0", "1", "k", "MIN", "COUNT", "1", "COUNT", "2"),
            ("BZMPOP", "0", "1", "k", "MIN", "FOO", "1"),
            ("BZMPOP", "bad", "1", "k", "MINX"),
            ("BZMPOP", "bad", "1", "k", "MIN"),
            ("BZMPOP", "0", "1", "str", "MAX"),
        )]
        eq(info_field(a, "clients", "blocked_clients"), 0)
        c.close()
        return out
    on_all(run)


# ----------------------------------------------------------------------------- transactions

@test
def multi_exec_wakes_only_after_exec():
    def run(port):
        a = admin(port)
        c = block(port, a, 0, "BZPOPMIN", "k", "0")
        # a member added and deleted inside the transaction never reaches the blocked client
        a.send("MULTI")
        a.send("ZADD", "k", "1", "a")
        a.send("DEL", "k")
        a.send("EXEC")
        ex1 = [raw_reply(a) for _ in range(4)][-1]
        ok(no_reply(c), "served inside EXEC")
        a.send("MULTI")
        a.send("ZADD", "k", "1", "a")
        a.send("ZREM", "k", "a")
        a.send("ZADD", "k", "5", "z")
        a.send("EXEC")
        ex2 = [raw_reply(a) for _ in range(5)][-1]
        r = raw_reply(c)
        wait_blocked(a, 0)
        c.close()
        return [ex1, ex2, r]
    eq(on_all(run)[2], b"*3\r\n$1\r\nk\r\n$1\r\nz\r\n$1\r\n5\r\n")


@test
def blocking_commands_inside_multi_do_not_block():
    def run(port):
        a = admin(port)
        c = conn(port)
        for cmd in (("MULTI",), ("BZPOPMIN", "k", "0"), ("BZPOPMAX", "k", "k2", "10"),
                    ("BZMPOP", "0", "1", "k", "MIN"), ("ZADD", "k", "1", "a", "2", "b"),
                    ("BZPOPMAX", "k", "0"), ("BZMPOP", "0", "1", "k", "MIN", "COUNT", "3"),
                    ("BZPOPMIN", "k", "0")):
            c.send(*cmd)
        out = [raw_reply(c) for _ in range(8)]
        c.send("EXEC")
        out.append(raw_reply(c))
        eq(info_field(a, "clients", "blocked_clients"), 0)
        c.close()
        return out
    got = on_all(run)
    eq(got[-1], b"*7\r\n*-1\r\n*-1\r\n*-1\r\n:2\r\n*3\r\n$1\r\nk\r\n$1\r\nb\r\n$1\r\n2\r\n"
                b"*2\r\n$1\r\nk\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*-1\r\n")


# ----------------------------------------------------------------------------- unblock, kill

@test
def client_unblock_timeout_and_error():
    def run(port):
        a = admin(port)
        c1 = conn(port)
        id1 = c1.call("CLIENT", "ID")
        c1.send("BZPOPMIN", "k", "0")
        c1.send("PING")  # pipelined behind the blocked command
        wait_blocked(a, 1)
        ok(no_reply(c1), "PING answered while blocked")
        out = [a.call_raw("CLIENT", "UNBLOCK", str(id1))[0], raw_reply(c1), raw_reply(c1)]
        c2 = conn(port, resp3=True)
        id2 = c2.call("CLIENT", "ID")
        c2.send("BZMPOP", "0", "1", "k", "MAX")
        wait_blocked(a, 1)
        out += [a.call_raw("CLIENT", "UNBLOCK", str(id2), "ERROR")[0], raw_reply(c2)]
        c2.send("BZPOPMAX", "k", "0")
        wait_blocked(a, 1)
        out += [a.call_raw("CLIENT", "UNBLOCK", str(id2), "timeout")[0], raw_reply(c2)]
        out += [a.call_raw("CLIENT", "UNBLOCK", str(id2))[0],         # not blocked
                a.call_raw("CLIENT", "UNBLOCK", "999999")[0],
                a.call_raw("CLIENT", "UNBLOCK", "abc")[0],
                a.call_raw("CLIENT", "UNBLOCK", str(id2), "foo")[0],
                a.call_raw("CLIENT", "UNBLOCK", str(id2), "timeout", "x")[0],
                a.call_raw("CLIENT", "UNBLOCK")[0]]
        eq(info_field(a, "clients", "blocked_clients"), 0)
        c1.close()
        c2.close()
        return out
    eq(on_all(run)[:7], [b":1\r\n", b"*-1\r\n", b"+PONG\r\n", b":1\r\n",
                         b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n", b":1\r\n", b"_\r\n"])


@test
def client_kill_while_blocked_leaves_nothing():
    def run(port):
        a = admin(port)
        c = conn(port)
        cid = c.call("CLIENT", "ID")
        c.send("BZPOPMIN", "k", "0")
        wait_blocked(a, 1)
        out = [a.call_raw("CLIENT", "KILL", "ID", str(cid))[0]]
        ok(c.expect_closed(), "the killed client's connection stays open")
        wait_blocked(a, 0)
        out.append(a.call_raw("ZADD", "k", "1", "a")[0])
        out.append(a.call_raw("ZCARD", "k")[0])  # nobody took it
        eq(info_field(a, "clients", "clients_in_timeout_table"), 0)
        return out
    eq(on_all(run), [b":1\r\n", b":1\r\n", b":1\r\n"])


@test
def disconnect_while_blocked_leaves_nothing():
    def run(port):
        a = admin(port)
        cs = [block(port, a, i, "BZPOPMIN", "k", "k%d" % i, "30") for i in range(3)]
        cs[1].close()
        wait_blocked(a, 2)
        a.call("ZADD", "k", "1", "a", "2", "b", "3", "c")
        r0, r2 = raw_reply(cs[0]), raw_reply(cs[2])
        wait_blocked(a, 0)
        out = [r0, r2, a.call_raw("ZRANGE", "k", "0", "-1")[0]]
        cs[0].close()
        cs[2].close()
        return out
    eq(on_all(run)[2], b"*1\r\n$1\r\nc\r\n")


# ----------------------------------------------------------------------------- introspection

@test
def info_and_client_list_show_blocked_clients():
    def run(port):
        a = admin(port)
        c = conn(port)
        c.call("CLIENT", "SETNAME", "waiter")
        c.send("BZPOPMAX", "k", "0")
        wait_blocked(a, 1)
        lst = a.call("CLIENT", "LIST").decode()
        line = [l for l in lst.split("\n") if "name=waiter" in l][0]
        fields = dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
        out = [fields["flags"], fields["cmd"], fields["qbuf"], info_field(a, "clients", "blocked_clients")]
        c.close()
        wait_blocked(a, 0)
        return out
    eq(on_all(run), ["b", "bzpopmax", "0", 1])


@test
def command_info_blocking_flags():
    def run(port):
        c = conn(port)
        out = [c.call_raw("COMMAND", "INFO", name)[0]
               for name in ("bzpopmin", "bzpopmax", "bzmpop", "blpop", "brpop", "blmpop", "blmove",
                            "brpoplpush", "exec", "client|unblock")]
        for cmd in (("BZMPOP", "0", "2", "a", "b", "MIN"), ("BZPOPMIN", "a", "b", "0"),
                    ("BLMPOP", "0", "1", "a", "LEFT", "COUNT", "2"), ("BLMOVE", "a", "b", "LEFT", "RIGHT", "0"),
                    ("BRPOPLPUSH", "a", "b", "0"), ("BLPOP", "a", "0"), ("BLMPOP", "0", "3", "a", "LEFT")):
            out.append(c.call_raw("COMMAND", "GETKEYS", *cmd)[0])
        # (Redis also lists the stream commands XREAD and XREADGROUP, which Kevo does not have)
        out.append(sorted(n for n in c.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "blocking")
                          if not n.startswith(b"x")))
        c.close()
        return out
    got = on_all(run)
    ok(b"+blocking\r\n" in got[0])


# ----------------------------------------------------------------------------- type changes

@test
def wrong_type_at_the_key_keeps_clients_blocked():
    def run(port):
        a = admin(port)
        c = block(port, a, 0, "BZPOPMIN", "k", "0")
        a.call("SET", "k", "v")  # another type: the client stays blocked (Redis 7.0)
        ok(no_reply(c))
        a.call("DEL", "k")
        a.call("SADD", "k", "m")
        ok(no_reply(c))
        a.call("DEL", "k")
        a.call("ZADD", "k", "1", "a")
        r = raw_reply(c)
        wait_blocked(a, 0)
        c.close()
        return r
    eq(on_all(run), b"*3\r\n$1\r\nk\r\n$1\r\na\r\n$1\r\n1\r\n")


@test
def wrong_type_at_another_key_is_skipped_when_served():
    def run(port):
        a = admin(port)
        c = block(port, a, 0, "BZPOPMIN", "k1", "k2", "0")
        a.call("SET", "k1", "v")
        a.call("ZADD", "k2", "1", "a")
        r = raw_reply(c)
        wait_blocked(a, 0)
        c.close()
        return r
    eq(on_all(run), b"*3\r\n$2\r\nk2\r\n$1\r\na\r\n$1\r\n1\r\n")


@test
def rename_move_copy_swapdb_into_a_blocked_key():
    def run(port):
        a = admin(port)
        out = []
        a.call("ZADD", "src", "1", "a", "2", "b", "3", "c")
        c = block(port, a, 0, "BZPOPMIN", "dst", "0")
        a.call("RENAME", "src", "dst")
        out.append(raw_reply(c))
        a.call("COPY", "dst", "dst2")
        c.send("BZPOPMAX", "dst3", "0")
        wait_blocked(a, 1)
        a.call("COPY", "dst2", "dst3")
        out.append(raw_reply(c))
        c.send("SELECT", "1")
        out.append(raw_reply(c))
        c.send("BZPOPMAX", "dst", "0")
        wait_blocked(a, 1)
        a.call("MOVE", "dst", "1")
        out.append(raw_reply(c))
        c.send("BZPOPMIN", "sw", "0")
        wait_blocked(a, 1)
        a.call("SELECT", "0")
        a.call("ZADD", "sw", "9", "s")
        ok(no_reply(c), "served from another db")
        a.call("SWAPDB", "0", "1")
        out.append(raw_reply(c))
        wait_blocked(a, 0)
        c.close()
        return out
    eq(on_all(run), [b"*3\r\n$3\r\ndst\r\n$1\r\na\r\n$1\r\n1\r\n",
                     b"*3\r\n$4\r\ndst3\r\n$1\r\nc\r\n$1\r\n3\r\n",
                     b"+OK\r\n",
                     b"*3\r\n$3\r\ndst\r\n$1\r\nc\r\n$1\r\n3\r\n",
                     b"*3\r\n$2\r\nsw\r\n$1\r\ns\r\n$1\r\n9\r\n"])


@test
def pipelined_commands_wait_for_the_blocked_one():
    def run(port):
        a = admin(port)
        c = conn(port)
        c.send_raw(encode_command(["BZPOPMIN", "k", "0"]) + encode_command(["ZADD", "k2", "1", "x"]) +
                   encode_command(["PING"]))
        wait_blocked(a, 1)
        ok(no_reply(c), "the pipeline went on behind a blocked command")
        a.call("ZADD", "k", "1", "a")
        out = [raw_reply(c), raw_reply(c), raw_reply(c)]
        c.close()
        return out
    eq(on_all(run), [b"*3\r\n$1\r\nk\r\n$1\r\na\r\n$1\r\n1\r\n", b":1\r\n", b"+PONG\r\n"])


@test
def many_blocked_clients_with_timeouts_all_answered():
    def run(port):
        a = admin(port)
        cs = []
        for i in range(40):
            c = conn(port)
            c.send("BZPOPMIN", "many%d" % (i % 5), "%.2f" % (0.05 + (i % 7) * 0.03))
            cs.append(c)
        out = [raw_reply(c) for c in cs]
        wait_blocked(a, 0)
        eq(info_field(a, "clients", "clients_in_timeout_table"), 0)
        for c in cs:
            c.close()
        return out
    eq(on_all(run), [b"*-1\r\n"] * 40)


# ----------------------------------------------------------------------------- lists

@test
def list_pops_fifo_and_reply_shapes():
    def run(port):
        a = admin(port)
        c1 = block(port, a, 0, "BLPOP", "l1", "l2", "0")
        c2 = block(port, a, 1, "BRPOP", "l2", "0")
        c3 = block(port, a, 2, "BLMPOP", "0", "2", "l0", "l2", "RIGHT", "COUNT", "5")
        c4 = block(port, a, 3, "BLPOP", "l2", "0", resp3=True)
        c5 = block(port, a, 4, "BLMPOP", "0", "1", "l2", "LEFT", resp3=True)
        eq(a.call("RPUSH", "l2", "a", "b", "c", "d", "e", "f"), 6)
        out = [raw_reply(c) for c in (c1, c2, c3)]
        wait_blocked(a, 2)
        eq(a.call("EXISTS", "l2"), 0)
        a.call("RPUSH", "l2", "x", "y")
        out += [raw_reply(c4), raw_reply(c5)]
        wait_blocked(a, 0)
        for c in (c1, c2, c3, c4, c5):
            c.close()
        return out
    eq(on_all(run), [b"*2\r\n$2\r\nl2\r\n$1\r\na\r\n", b"*2\r\n$2\r\nl2\r\n$1\r\nf\r\n",
                     b"*2\r\n$2\r\nl2\r\n*4\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n",
                     b"*2\r\n$2\r\nl2\r\n$1\r\nx\r\n", b"*2\r\n$2\r\nl2\r\n*1\r\n$1\r\ny\r\n"])


@test
def blmove_chained_wakeups():
    def run(port):
        a = admin(port)
        c1 = block(port, a, 0, "BLMOVE", "s1", "s2", "RIGHT", "LEFT", "0")
        c2 = block(port, a, 1, "BRPOPLPUSH", "s2", "s3", "0")
        c3 = block(port, a, 2, "BLMPOP", "0", "2", "s9", "s3", "LEFT")
        c4 = block(port, a, 3, "BLPOP", "s3", "0")
        a.call("LPUSH", "s1", "job1")
        out = [raw_reply(c1), raw_reply(c2), raw_reply(c3)]
        ok(no_reply(c4), "an element was served twice")
        out += [a.call_raw("LLEN", k)[0] for k in ("s1", "s2", "s3")]
        # a push inside MULTI followed by a move to s3 inside the same transaction
        a.send("MULTI")
        a.send("RPUSH", "s2", "j2")
        a.send("LMOVE", "s2", "s3", "LEFT", "RIGHT")
        a.send("EXEC")
        out.append([raw_reply(a) for _ in range(4)][-1])
        out.append(raw_reply(c4))
        wait_blocked(a, 0)
        for c in (c1, c2, c3, c4):
            c.close()
        return out
    got = on_all(run)
    eq(got[:3], [b"$4\r\njob1\r\n", b"$4\r\njob1\r\n", b"*2\r\n$2\r\ns3\r\n*1\r\n$4\r\njob1\r\n"])
    eq(got[-1], b"*2\r\n$2\r\ns3\r\n$2\r\nj2\r\n")


@test
def blmove_rotation_and_wrong_type_destination():
    def run(port):
        a = admin(port)
        out = []
        c = block(port, a, 0, "BLMOVE", "r", "r", "RIGHT", "LEFT", "0")
        a.call("RPUSH", "r", "a")
        out += [raw_reply(c), a.call_raw("LRANGE", "r", "0", "-1")[0]]
        a.call("SET", "str", "x")
        c.send("BLMOVE", "src", "str", "LEFT", "RIGHT", "0")
        wait_blocked(a, 1)
        a.call("RPUSH", "src", "e1", "e2")
        out += [raw_reply(c), a.call_raw("LRANGE", "src", "0", "-1")[0]]
        wait_blocked(a, 0)
        out.append(c.call_raw("BLMOVE", "src", "str", "LEFT", "RIGHT", "0")[0])
        out.append(c.call_raw("BLMOVE", "str", "src", "LEFT", "RIGHT", "0")[0])
        c.close()
        return out
    eq(on_all(run)[:4], [b"$1\r\na\r\n", b"*1\r\n$1\r\na\r\n",
                         b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
                         b"*2\r\n$2\r\ne1\r\n$2\r\ne2\r\n"])


@test
def list_and_zset_waiters_on_one_key():
    def run(port):
        a = admin(port)
        cz = block(port, a, 0, "BZPOPMIN", "k", "0")
        cl = block(port, a, 1, "BLPOP", "k", "0")
        a.call("RPUSH", "k", "a", "b")
        out = [raw_reply(cl)]
        ok(no_reply(cz), "a zset waiter served by a list")
        eq(a.call("LRANGE", "k", "0", "-1"), [b"b"])
        a.call("DEL", "k")
        a.call("ZADD", "k", "1", "m")
        out.append(raw_reply(cz))
        wait_blocked(a, 0)
        cz.close()
        cl.close()
        return out
    on_all(run)


@test
def list_timeouts_multi_and_errors():
    def run(port):
        a = admin(port)
        a.call("SET", "str", "x")
        out = []
        for resp3 in (False, True):
            c = conn(port, resp3)
            for cmd in (("BLPOP", "nokey", "0.05"), ("BRPOP", "a", "b", "0.05"),
                        ("BLMPOP", "0.05", "1", "nokey", "LEFT"),
                        ("BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.05"),
                        ("BRPOPLPUSH", "nokey", "d", "0.05")):
                out.append(c.call_raw(*cmd)[0])
            c.close()
        c = conn(port)
        for cmd in (("MULTI",), ("BLPOP", "nokey", "0"), ("BRPOPLPUSH", "nokey", "d", "0"),
                    ("BLMOVE", "nokey", "d", "LEFT", "RIGHT", "0"), ("BLMPOP", "0", "1", "nokey", "RIGHT"),
                    ("RPUSH", "l", "1", "2", "3"), ("BLMOVE", "l", "d", "LEFT", "RIGHT", "0"),
                    ("BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "9"), ("BRPOP", "l", "0")):
            c.send(*cmd)
        for _ in range(9):
            raw_reply(c)
        out.append(c.call_raw("EXEC")[0])
        for cmd in (("BLPOP", "k"), ("BLPOP", "str", "0"), ("BLPOP", "k", "abc"), ("BLPOP", "k", "-1"),
                    ("BLMOVE", "k", "d", "UP", "LEFT", "abc"), ("BLMOVE", "k", "d", "LEFT", "DOWN", "abc"),
                    ("BLMOVE", "k", "d", "LEFT", "LEFT", "abc"), ("BLMOVE", "str", "d", "LEFT", "LEFT", "0"),
                    ("BRPOPLPUSH", "k", "d", "x"), ("BRPOPLPUSH", "str", "d", "0"),
                    ("BLMPOP", "0", "0", "k", "LEFT"), ("BLMPOP", "0", "2", "k", "LEFT"),
                    ("BLMPOP", "0", "1", "k", "UP"), ("BLMPOP", "x", "1", "k", "LEFT", "COUNT", "0"),
                    ("BLMPOP", "x", "1", "k", "LEFT"), ("BLMPOP", "0", "1", "str", "LEFT")):
            out.append(c.call_raw(*cmd)[0])
        eq(info_field(a, "clients", "blocked_clients"), 0)
        c.close()
        return out
    got = on_all(run)
    eq(got[:10], [b"*-1\r\n"] * 5 + [b"_\r\n"] * 5)
    eq(got[10], b"*8\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n:3\r\n$1\r\n1\r\n"
                b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n*-1\r\n")


@test
def list_type_change_and_several_keys():
    def run(port):
        a = admin(port)
        c = block(port, a, 0, "BRPOP", "k1", "k2", "0")
        a.call("SET", "k2", "v")
        ok(no_reply(c))
        a.call("ZADD", "k1", "1", "z")
        ok(no_reply(c))
        a.call("DEL", "k2")
        a.call("RPUSH", "k2", "a", "b")
        out = [raw_reply(c)]
        wait_blocked(a, 0)
        c.close()
        return out
    eq(on_all(run), [b"*2\r\n$2\r\nk2\r\n$1\r\nb\r\n"])


# ----------------------------------------------------------------------------- queue under kill -9

@test(timeout=120)
def queue_workload_survives_kill9():
    """A job queue under kill -9 (appendfsync always): 3 producers LPUSH unique job ids, 2
    consumers BRPOP, 2 consumers BLMOVE each job into their own processing list and LREM it when
    done. The server is killed mid-run and restarted on the same directory. Then:
    - every job whose LPUSH was acknowledged was delivered (its pop acknowledged) or is still
      queued / in a processing list, except at most one job per BRPOP consumer whose pop was in
      flight at the kill (BRPOP is not a reliable queue: that is what BLMOVE is for);
    - no job whose pop (BRPOP or BLMOVE) was acknowledged is in the queue again;
    - no job whose LREM was acknowledged is anywhere; a processing list holds only jobs its
      consumer moved (acknowledged, or the one in flight);
    - no job is in two places, and nothing was invented."""
    s = start_kevo("queue9", appendfsync="always")
    stop = threading.Event()
    lock = threading.Lock()
    pushed, inflight_push = set(), set()
    popped = {}          # job -> consumer name (acknowledged pops)
    moved = {}           # job -> BLMOVE consumer (acknowledged moves)
    done = set()         # acknowledged LREMs
    inflight_pop = {}    # consumer -> True while a BRPOP/BLMOVE is outstanding
    errors = []

    def producer(pid):
        try:
            c = RawConn(s.port)
            i = 0
            while not stop.is_set():
                job = "job:%d:%d" % (pid, i)
                with lock:
                    inflight_push.add(job)
                raw, v = c.call_raw("LPUSH", "queue", job)
                if not isinstance(v, int):
                    raise AssertionError("LPUSH reply %r" % raw)
                with lock:
                    pushed.add(job)
                i += 1
                if i % 50 == 0:
                    time.sleep(0.005)
        except (ConnClosed, OSError):
            pass
        except Exception as e:  # noqa: B902
            errors.append(e)

    def brpop_consumer(name):
        try:
            c = RawConn(s.port)
            while not stop.is_set():
                inflight_pop[name] = True
                raw, v = c.call_raw("BRPOP", "queue", "0.5")
                inflight_pop[name] = False
                if v is None:
                    continue
                if not (isinstance(v, list) and v[0] == b"queue"):
                    raise AssertionError("BRPOP reply %r" % raw)
                with lock:
                    if v[1].decode() in popped or v[1].decode() in moved:
                        raise AssertionError("job %r delivered twice" % v[1])
                    popped[v[1].decode()] = name
        except (ConnClosed, OSError):
            pass
        except Exception as e:  # noqa: B902
            errors.append(e)

    def blmove_consumer(name):
        try:
            c = RawConn(s.port)
            while not stop.is_set():
                inflight_pop[name] = True
                raw, v = c.call_raw("BLMOVE", "queue", "proc:" + name, "RIGHT", "LEFT", "0.5")
                inflight_pop[name] = False
                if v is None:
                    continue
                if not isinstance(v, bytes):
                    raise AssertionError("BLMOVE reply %r" % raw)
                job = v.decode()
                with lock:
                    if job in popped or job in moved:
                        raise AssertionError("job %r delivered twice" % job)
                    moved[job] = name
                raw, v = c.call_raw("LREM", "proc:" + name, "1", job)
                if v != 1:
                    raise AssertionError("LREM of a moved job replied %r" % raw)
                with lock:
                    done.add(job)
        except (ConnClosed, OSError):
            pass
        except Exception as e:  # noqa: B902
            errors.append(e)

    threads = [threading.Thread(target=producer, args=(i,), daemon=True) for i in range(3)]
    threads += [threading.Thread(target=brpop_consumer, args=("b%d" % i,), daemon=True) for i in range(2)]
    threads += [threading.Thread(target=blmove_consumer, args=("m%d" % i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    wait_until(lambda: len(popped) >= 200 and len(done) >= 200, timeout=60,
               what="200 jobs through each kind of consumer")
    time.sleep(random.Random().uniform(0.05, 0.4))
    s.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(10)
    eq(errors, [], "client errors before the kill")
    with lock:
        in_flight_brpop = sum(1 for n, f in inflight_pop.items() if f and n.startswith("b"))
    s.start()
    c = RawConn(s.port)
    queue = [x.decode() for x in c.call("LRANGE", "queue", "0", "-1")]
    procs = {n: [x.decode() for x in c.call("LRANGE", "proc:" + n, "0", "-1")] for n in ("m0", "m1")}
    c.close()
    present = queue + procs["m0"] + procs["m1"]
    eq(len(present), len(set(present)), "a job in two places after restart")
    invented = [j for j in present if j not in pushed and j not in inflight_push]
    eq(invented, [], "jobs nobody pushed")
    eq([j for j in queue if j in popped or j in moved], [], "acknowledged pops back in the queue")
    eq([j for j in present if j in done], [], "jobs whose LREM was acknowledged are back")
    for n in ("m0", "m1"):
        strays = [j for j in procs[n] if moved.get(j) not in (n, None) or (j not in moved and j in popped)]
        eq(strays, [], "processing list of %s holds jobs it did not move" % n)
        unacked = [j for j in procs[n] if j not in moved]
        ok(len(unacked) <= 1, "at most the in-flight BLMOVE of %s is unacknowledged: %r" % (n, unacked))
    print("  queue9: %d pushed, %d BRPOP-ed, %d BLMOVE-d (%d done), %d left after restart, %d BRPOP in flight"
          % (len(pushed), len(popped), len(moved), len(done), len(present), in_flight_brpop), flush=True)
    accounted = set(popped) | set(moved) | set(present)
    lost = [j for j in pushed if j not in accounted]
    ok(len(lost) <= in_flight_brpop,
       "%d acknowledged jobs lost (%r...), only %d BRPOP pops were in flight"
       % (len(lost), lost[:3], in_flight_brpop))
    s.stop()


if __name__ == "__main__":
    sys.exit(run_all("blocking"))
