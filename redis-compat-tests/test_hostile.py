#!/usr/bin/python3
"""Hostile input and limits, and Redis 7 security defaults. Black box, raw sockets.

Every hostile input goes to the server under test and, side by side, to a reference
redis-server 7.0 started with the same options (when installed): the bytes answered and
whether the connection was closed must be identical. The cases whose answers matter most are
also pinned to Redis's literal text, so the suite still fails without a reference server.
Meanwhile a bystander connection must keep being served, and memory (INFO used_memory, and
the process RSS) must come back to its baseline after the big ones.

Servers (all on 127.0.0.1, free ports, started here):
  plain    defaults (protected mode on, no password, DEBUG and protected configs disabled)
  secured  requirepass, enable-debug-command local, enable-protected-configs local
Connections from 127.0.0.2 stand for non-loopback clients (Redis 7.0's islocalClient: only
127.0.0.1 and ::1 are local).
"""
import os
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (eq, ok, test, run_all, skip, env, tmpdir, Server, RawConn,  # noqa: E402
                 wait_until, target_is_kevo)

REMOTE_IP = "127.0.0.2"  # not local for Redis 7.0 (and Kevo): a "remote" client on this host
PASSWORD = "s3cret-pw"

DEBUG_DENIED = (b'-ERR DEBUG command not allowed. If the enable-debug-command option is set to '
                b'"local", you can run it from a local connection, otherwise you need to set this '
                b'option in the configuration file, and then restart the server.\r\n')
DENIED_PREFIX = (b"-DENIED Redis is running in protected mode because protected mode is enabled "
                 b"and no password is set for the default user.")

_servers = {}


def _start(name, is_redis, extra):
    binary = shutil.which("redis-server") if is_redis else env("KEVO_BIN")
    d = os.path.join(tmpdir(), "hostile-" + name + ("-redis" if is_redis else ""))
    s = Server(binary, d, list(extra), is_redis=is_redis or None)
    if s.is_redis:  # no --enable-debug-command yes: the defaults are under test
        s.args = (lambda s=s: [s.binary, "--port", str(s.port), "--bind", "127.0.0.1", "--dir",
                               s.dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
                               "--logfile", ""] + s.extra)
    else:
        s.extra = ["--hz", "10"] + s.extra
    return s.start()


PLAIN = []
SECURED = ["--requirepass", PASSWORD, "--enable-debug-command", "local",
           "--enable-protected-configs", "local"]


def server(name):
    """(server under test, reference redis-server or None) for a configuration name."""
    if name not in _servers:
        extra = PLAIN if name == "plain" else SECURED
        k = _start(name, False, extra)
        r = _start(name, True, extra) if shutil.which("redis-server") else None
        _servers[name] = (k, r)
    return _servers[name]


# ------------------------------------------------------------------------------- raw I/O

def connect(port, source=None, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def drain(s, quiet=0.15, limit=10.0):
    """Reads until the server closes (returns (bytes, True)) or stays quiet for `quiet`
    seconds after the last byte (returns (bytes, False))."""
    out = b""
    end = time.time() + limit
    s.settimeout(quiet)
    while time.time() < end:
        try:
            d = s.recv(1 << 16)
        except socket.timeout:
            return out, False
        except ConnectionResetError:
            return out, True
        if not d:
            return out, True
        out += d
    return out, False


def exchange(port, data, source=None, quiet=0.15, shut_wr=False, byte_by_byte=False):
    s = connect(port, source)
    try:
        try:
            if byte_by_byte:
                for i in range(len(data)):
                    s.sendall(data[i:i + 1])
                    if i % 16 == 15:
                        time.sleep(0.001)
            else:
                s.sendall(data)
            if shut_wr:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed after a protocol error: what it answered is still to be read
        return drain(s, quiet)
    finally:
        s.close()


class Bystander:
    """A client connected before the hostile one; must be served throughout."""

    def __init__(self, port, auth=None):
        self.c = RawConn(port, timeout=10)
        if auth:
            eq(self.c.call("AUTH", auth), "OK")

    def check(self, what=""):
        eq(self.c.call_raw("PING")[0], b"+PONG\r\n", "bystander served " + what)

    def measures_memory(self):
        """Memory baselines are checked when the allocator's own counters back used_memory
        (jemalloc: release builds); sanitizer builds keep freed memory on purpose."""
        raw, v = self.c.call_raw("INFO", "memory")
        return b"mem_allocator:jemalloc" in v

    def info(self, field):
        raw, v = self.c.call_raw("INFO", "memory" if field.startswith("used_memory") else "all")
        for line in v.decode().split("\r\n"):
            if line.startswith(field + ":"):
                return int(line.split(":")[1])
        raise AssertionError("no %s in INFO" % field)


def rss(srv):
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def same_as_redis(name, data, pin=None, **kw):
    """Sends data to both servers of configuration `name`; the answers must be equal (and
    equal to pin = (bytes, closed) when given). Returns Kevo's answer."""
    k, r = server(name)
    got = exchange(k.port, data, **kw)
    if pin is not None:
        eq(got, pin, "answer to %r" % data[:60])
    if r is not None:
        ref = exchange(r.port, data, **kw)
        eq(got, ref, "same answer as redis-server to %r" % data[:60])
    return got


# ------------------------------------------------------------------------ malformed RESP

PROTOCOL_CASES = [
    # (input, pinned Redis answer or None); every answer is also compared with redis-server
    (b"*abc\r\n", (b"-ERR Protocol error: invalid multibulk length\r\n", True)),
    (b"*99999999999\r\n", (b"-ERR Protocol error: invalid multibulk length\r\n", True)),
    (b"*2147483648\r\n", (b"-ERR Protocol error: invalid multibulk length\r\n", True)),
    (b"*\r\n", (b"-ERR Protocol error: invalid multibulk length\r\n", True)),
    (b"*-1\r\n*0\r\nPING\r\n", (b"+PONG\r\n", False)),
    (b"*1\r\n$-1\r\n", (b"-ERR Protocol error: invalid bulk length\r\n", True)),
    (b"*1\r\n$99999999999999999999\r\n", (b"-ERR Protocol error: invalid bulk length\r\n", True)),
    (b"*1\r\n$536870913\r\n", (b"-ERR Protocol error: invalid bulk length\r\n", True)),
    (b"*1\r\n$x\r\n", (b"-ERR Protocol error: invalid bulk length\r\n", True)),
    (b"*1\r\n:4\r\nPING\r\n", (b"-ERR Protocol error: expected '$', got ':'\r\n", True)),
    (b"*2\r\n*1\r\n$4\r\nPING\r\n", (b"-ERR Protocol error: expected '$', got '*'\r\n", True)),
    (b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n", (b"+PONG\r\n+PONG\r\n", False)),  # CRLF not checked
    (b"*1\n$4\nPING\n", None),
    (b"*1\r$4\rPING\r", None),
    (b'ECHO "abc\r\n', (b"-ERR Protocol error: unbalanced quotes in request\r\n", True)),
    (b"ECHO 'abc\r\n", (b"-ERR Protocol error: unbalanced quotes in request\r\n", True)),
    (b'ECHO "abc"d\r\n', (b"-ERR Protocol error: unbalanced quotes in request\r\n", True)),
    (b'ECHO "a\\x41\\n b"\r\n', (b"$5\r\naA\n b\r\n", False)),
    (b"ECHO a\x0bb\r\n", (b"$3\r\na\x0bb\r\n", False)),      # \v does not split
    (b"ECHO a\x00b\r\nPING\r\n", (b"", False)),               # NUL hides the line end
    (b"*1\r\n\x00\r\n", (b"", False)),
    (b"\r\n\n   \r\nPING\r\n", (b"+PONG\r\n", False)),
    (bytes(range(1, 256)) + b"\r\n", None),                   # binary garbage, one line
    (b"\xff\xfe\x80\x81 \x90\r\n", None),
    (b"A" * 70000, (b"-ERR Protocol error: too big inline request\r\n", True)),
    (b"*" + b"1" * 70000, (b"-ERR Protocol error: too big mbulk count string\r\n", True)),
    (b"*1\r\n$" + b"1" * 70000, (b"-ERR Protocol error: too big bulk count string\r\n", True)),
    (b"PING\x00" + b"\n" * 70000, (b"-ERR Protocol error: too big inline request\r\n", True)),
    (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", (b"", True)),     # cross protocol scripting
    (b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", (b"", True)),
    (b"PING\r\n*1\r\n$-5\r\nPING\r\n",
     (b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n", True)),
    (b"|1\r\n+a\r\n+b\r\n", None),
]


@test
def test_malformed_resp_answers_as_redis_and_others_are_served():
    k, r = server("plain")
    by = Bystander(k.port)
    for data, pin in PROTOCOL_CASES:
        same_as_redis("plain", data, pin)
        by.check("after %r" % data[:40])


@test
def test_every_case_delivered_one_byte_at_a_time():
    k, r = server("plain")
    by = Bystander(k.port)
    pipeline = (b"*3\r\n$3\r\nSET\r\n$2\r\nkb\r\n$5\r\nv\r\nal\r\n*2\r\n$3\r\nGET\r\n$2\r\nkb\r\n"
                b"ECHO \"x y\"\r\nDEL kb\r\n*1\r\n$-7\r\n")
    got = same_as_redis("plain", pipeline, byte_by_byte=True)
    eq(got, (b"+OK\r\n$5\r\nv\r\nal\r\n$3\r\nx y\r\n:1\r\n"
             b"-ERR Protocol error: invalid bulk length\r\n", True))
    for data, pin in PROTOCOL_CASES:
        # (an HTTP request arriving byte by byte may get its GET answered before "Host:"
        # arrives, or not, depending on how the bytes were grouped: not compared here)
        if len(data) < 300 and not data.startswith((b"GET /", b"POST /")):
            same_as_redis("plain", data, pin, byte_by_byte=True)
    by.check()


@test
def test_half_closed_socket_still_gets_its_replies():
    k, r = server("plain")
    by = Bystander(k.port)
    got = same_as_redis("plain", b"SET hc 1\r\nINCR hc\r\nGET hc\r\nDEL hc\r\n", shut_wr=True)
    eq(got, (b"+OK\r\n:2\r\n$1\r\n2\r\n:1\r\n", True))
    # half a command, then EOF: nothing to answer, the connection just goes
    same_as_redis("plain", b"*2\r\n$3\r\nGET\r\n$10\r\nabc", (b"", True), shut_wr=True)
    same_as_redis("plain", b"ECHO unfinished", (b"", True), shut_wr=True)
    by.check()


# --------------------------------------------------------------------------- the two named

@test
def test_select_and_db_indexes_beyond_int():
    rng = b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    for cmd, pin in [(b"SELECT 99999999999", rng), (b"SELECT 2147483648", rng),
                     (b"SELECT -2147483649", rng), (b"MOVE k 99999999999", rng),
                     (b"COPY a b DB 99999999999", rng),
                     (b"SELECT 99999999999999999999", b"-ERR value is not an integer or out of range\r\n"),
                     (b"SELECT 16", b"-ERR DB index is out of range\r\n"),
                     (b"SELECT -1", b"-ERR DB index is out of range\r\n"),
                     (b"SWAPDB 0 99999999999", b"-ERR invalid second DB index\r\n"),
                     (b"COPY a b DB 16", b"-ERR DB index is out of range\r\n")]:
        same_as_redis("plain", cmd + b"\r\n", (pin, False))


@test
def test_setrange_and_append_beyond_proto_max_bulk_len():
    k, r = server("plain")
    by = Bystander(k.port)
    big = b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    for cmd, pin in [(b"SETRANGE sr 9223372036854775807 x", big),
                     (b"SETRANGE sr 9223372036854775806 xy", big),
                     (b"SETRANGE sr 536870912 x", big),
                     (b"SETRANGE sr -1 x", b"-ERR offset is out of range\r\n"),
                     (b"SETRANGE sr 9223372036854775807 \"\"", b":0\r\n"),
                     (b"SETRANGE sr 9223372036854775808 x",
                      b"-ERR value is not an integer or out of range\r\n")]:
        same_as_redis("plain", cmd + b"\r\n", (pin, False))
    same_as_redis("plain", b"SET sr abc\r\nSETRANGE sr 536870910 xyz\r\nAPPEND sr \"\"\r\nDEL sr\r\n",
                  (b"+OK\r\n" + big + b":3\r\n:1\r\n", False))
    by.check()
    eq(by.c.call("EXISTS", "sr"), 0)


# ------------------------------------------------------------------------------- limits

def _config_both(name, *args):
    for s in server(name):
        if s is not None:
            c = RawConn(s.port)
            if name == "secured":
                c.call("AUTH", PASSWORD)
            eq(c.call("CONFIG", "SET", *args), "OK")
            c.close()


@test
def test_connections_past_maxclients():
    k, r = server("plain")
    answers = []
    for s in (k, r):
        if s is None:
            continue
        ctl = RawConn(s.port)
        before = int(dict(l.split(":", 1) for l in ctl.call("INFO", "stats").decode().split("\r\n")
                          if ":" in l)["rejected_connections"])
        n = int(ctl.call("INFO", "clients").decode().split("connected_clients:")[1].split("\r\n")[0])
        eq(ctl.call("CONFIG", "SET", "maxclients", str(n + 2)), "OK")
        try:
            held = [connect(s.port), connect(s.port)]
            for h in held:
                h.sendall(b"PING\r\n")
                eq(drain(h, 0.2), (b"+PONG\r\n", False), "clients up to maxclients served")
            refused = exchange(s.port, b"PING\r\n", quiet=1)
            answers.append(refused)
            eq(refused, (b"-ERR max number of clients reached\r\n", True))
            eq(ctl.call_raw("PING")[0], b"+PONG\r\n")
            after = int(dict(l.split(":", 1) for l in ctl.call("INFO", "stats").decode().split("\r\n")
                             if ":" in l)["rejected_connections"])
            eq(after, before + 1, "rejected_connections")
            held.pop().close()
            wait_until(lambda: exchange(s.port, b"PING\r\n") == (b"+PONG\r\n", False), 5,
                       what="a slot freed by a closed client is reusable")
            for h in held:
                h.close()
        finally:
            eq(ctl.call("CONFIG", "SET", "maxclients", "10000"), "OK")
            ctl.close()
    if len(answers) == 2:
        eq(answers[0], answers[1], "same answer as redis-server")
    # Redis's range and message for nonsense values
    same_as_redis("plain", b"CONFIG SET maxclients 0\r\n",
                  (b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument "
                   b"must be between 1 and 4294967295 inclusive\r\n", False))


@test
def test_query_buffer_limit_closes_only_that_client_and_memory_returns():
    k, r = server("plain")
    by = Bystander(k.port)
    base_used = by.info("used_memory")
    base_rss = rss(k)
    _config_both("plain", "client-query-buffer-limit", "4mb", "proto-max-bulk-len", "16mb")
    try:
        results = []
        for s in (k, r):
            if s is None:
                continue
            c = connect(s.port)
            c.sendall(b"*3\r\n$3\r\nSET\r\n$2\r\nqb\r\n$10000000\r\n")
            try:
                for _ in range(6):
                    c.sendall(b"q" * (1 << 20))
            except (BrokenPipeError, ConnectionResetError):
                pass
            results.append(drain(c, 1.0))
            c.close()
        eq(results[0], (b"", True), "closed without a reply past client-query-buffer-limit")
        if len(results) == 2:
            eq(results[0], results[1], "same as redis-server")
        by.check("after the query buffer overflow")
        eq(by.c.call("EXISTS", "qb"), 0)
        # the limit is on what is not parsed yet: a command whose arguments together pass it
        # is served (Redis moves each finished argument out of its query buffer)
        v = b"m" * 3000000
        same_as_redis("plain", b"*5\r\n$4\r\nMSET\r\n$3\r\nqb1\r\n$3000000\r\n" + v +
                      b"\r\n$3\r\nqb2\r\n$3000000\r\n" + v + b"\r\nSTRLEN qb2\r\nDEL qb1 qb2\r\n",
                      (b"+OK\r\n:3000000\r\n:2\r\n", False), quiet=1.5)
        # an argument above proto-max-bulk-len is refused before any of it is read
        same_as_redis("plain", b"*3\r\n$3\r\nSET\r\n$2\r\nqb\r\n$16777217\r\n",
                      (b"-ERR Protocol error: invalid bulk length\r\n", True))
    finally:
        _config_both("plain", "client-query-buffer-limit", "1gb", "proto-max-bulk-len", "512mb")
    # default limits: 200 MB of a declared 512 MB argument, then the client vanishes
    base_used = by.info("used_memory")  # after the MSET above (its values sit in the memtable)
    base_rss = rss(k)
    c = connect(k.port)
    c.sendall(b"*3\r\n$3\r\nSET\r\n$2\r\nqb\r\n$536870912\r\n")
    chunk = b"z" * (1 << 20)
    for _ in range(200):
        c.sendall(chunk)
    if by.measures_memory():
        wait_until(lambda: by.info("used_memory") > base_used + (150 << 20), 10,
                   what="the big argument being buffered")
    by.check("while a 512 MB argument is arriving")
    c.close()
    if by.measures_memory():
        wait_until(lambda: by.info("used_memory") < base_used + (2 << 20), 10,
                   what="used_memory back to its baseline (%d)" % base_used)
        wait_until(lambda: rss(k) < base_rss + (16 << 20), 30, step=0.5,
                   what="RSS back near its baseline (%d MB)" % (base_rss >> 20))
    eq(by.c.call("EXISTS", "qb"), 0)


@test
def test_many_clients_with_half_sent_commands_then_gone():
    k, r = server("plain")
    by = Bystander(k.port)
    base_used = by.info("used_memory")
    base_rss = rss(k)
    conns = []
    try:
        for i in range(1000):
            c = connect(k.port)
            c.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$100000\r\n" + b"h" * 50000)
            conns.append(c)
        by.check("with 1000 clients holding half commands")
        if by.measures_memory():
            wait_until(lambda: by.info("used_memory") > base_used + (40 << 20), 10,
                       what="their buffers")
    finally:
        for c in conns:
            c.close()
    wait_until(lambda: int(by.c.call("INFO", "clients").decode().split("connected_clients:")[1]
                           .split("\r\n")[0]) == 1, 10, what="all closed")
    if by.measures_memory():
        wait_until(lambda: by.info("used_memory") < base_used + (2 << 20), 10,
                   what="used_memory back to its baseline")
        wait_until(lambda: rss(k) < base_rss + (16 << 20), 30, step=0.5,
                   what="RSS back near its baseline (%d MB)" % (base_rss >> 20))
    eq(by.c.call("EXISTS", "half"), 0)


@test
def test_slow_reader_past_output_buffer_limit_is_closed():
    k, r = server("plain")
    by = Bystander(k.port)
    base_used = by.info("used_memory")
    _config_both("plain", "client-output-buffer-limit", "normal 2mb 0 0")
    try:
        results = []
        for s in (k, r):
            if s is None:
                continue
            c = RawConn(s.port)
            eq(c.call("SET", "obig", "o" * 100000), "OK")
            c.close()
            slow = socket.socket()
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.connect(("127.0.0.1", s.port))
            slow.sendall(b"GET obig\r\n" * 400)  # 40 MB of replies, never read
            time.sleep(1.0)
            got, closed = drain(slow, 1.0, limit=20)
            slow.close()
            results.append(closed)
            ok(len(got) < 400 * 100000, "the slow reader did not get every reply")
        eq(results[0], True, "closed past the hard output limit")
        if len(results) == 2:
            eq(results[0], results[1], "same as redis-server")
        by.check("after the slow reader")
        if by.measures_memory():
            wait_until(lambda: by.info("used_memory") < base_used + (2 << 20), 10,
                       what="used_memory back to its baseline")
    finally:
        _config_both("plain", "client-output-buffer-limit", "normal 0 0 0")
        by.c.call("DEL", "obig")
    for s in (k, r):
        if s is not None:
            c = RawConn(s.port)
            c.call("DEL", "obig")
            c.close()


def _connected(port):
    c = RawConn(port)
    try:
        return int(c.call("INFO", "clients").decode().split("connected_clients:")[1].split("\r\n")[0]) - 1
    finally:
        c.close()


@test
def test_slow_reader_over_soft_output_limit_is_closed_after_soft_seconds():
    k, r = server("plain")
    by = Bystander(k.port)
    _config_both("plain", "client-output-buffer-limit", "normal 0 1mb 1")
    try:
        for s in (k, r):
            if s is None:
                continue
            c = RawConn(s.port)
            eq(c.call("SET", "osoft", "s" * 100000), "OK")
            before = _connected(s.port)
            slow = socket.socket()
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.connect(("127.0.0.1", s.port))
            slow.sendall(b"GET osoft\r\n" * 100)  # 10 MB of replies, never read
            t0 = time.time()
            wait_until(lambda: _connected(s.port) == before + 1, 2, what="slow reader connected")
            time.sleep(0.5)
            eq(_connected(s.port), before + 1, "still connected within soft-seconds")
            wait_until(lambda: _connected(s.port) == before, 5, what="slow reader closed")
            ok(time.time() - t0 >= 0.9, "closed only after soft-seconds")
            slow.close()
            c.call("DEL", "osoft")
            c.close()
        by.check("after the slow reader")
    finally:
        _config_both("plain", "client-output-buffer-limit", "normal 0 0 0")


# ----------------------------------------------------------------------------- security

@test
def test_protected_mode_refuses_remote_clients_without_password():
    k, r = server("plain")
    got = same_as_redis("plain", b"", source=REMOTE_IP, quiet=2)
    ok(got[1] and got[0].startswith(DENIED_PREFIX) and got[0].endswith(b"outside.\r\n")
       and len(got[0]) == 1067, "Redis's DENIED message, then closed: %r" % (got,))
    # loopback clients are served
    same_as_redis("plain", b"PING\r\n", (b"+PONG\r\n", False))
    # protected mode off: remote clients are served
    _config_both("plain", "protected-mode", "no")
    try:
        same_as_redis("plain", b"PING\r\n", (b"+PONG\r\n", False), source=REMOTE_IP)
    finally:
        _config_both("plain", "protected-mode", "yes")
    same_as_redis("plain", b"", source=REMOTE_IP, quiet=2)
    # with a password, remote clients may connect (and must AUTH)
    same_as_redis("secured", b"GET k\r\n", (b"-NOAUTH Authentication required.\r\n", False),
                  source=REMOTE_IP)


@test
def test_requirepass_auth_and_wrongpass():
    wrong = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    noauth = b"-NOAUTH Authentication required.\r\n"
    pw = PASSWORD.encode()
    for data, pin in [
        (b"GET k\r\n", (noauth, False)),
        (b"FOO\r\n", (b"-ERR unknown command 'FOO', with args beginning with: \r\n", False)),
        (b"GET\r\n", (b"-ERR wrong number of arguments for 'get' command\r\n", False)),
        (b"MULTI\r\nGET k\r\nEXEC\r\n", None),
        (b"AUTH nope\r\n", (wrong, False)),
        (b"AUTH " + pw[:-1] + b"\r\n", (wrong, False)),
        (b"AUTH " + pw + b"x\r\n", (wrong, False)),
        (b"AUTH default nope\r\n", (wrong, False)),
        (b"AUTH bob " + pw + b"\r\n", (wrong, False)),
        (b"AUTH a b c\r\n", (b"-ERR syntax error\r\n", False)),
        (b"AUTH " + pw + b"\r\nGET k\r\n", (b"+OK\r\n$-1\r\n", False)),
        (b"AUTH default " + pw + b"\r\nGET k\r\n", (b"+OK\r\n$-1\r\n", False)),
        (b"AUTH " + pw + b"\r\nRESET\r\nGET k\r\n", (b"+OK\r\n+RESET\r\n" + noauth, False)),
        (b"HELLO 2 AUTH default nope\r\n", (wrong, False)),
        (b"HELLO 2 AUTH default " + pw + b" SETNAME n\r\nCLIENT GETNAME\r\n", None),
        # clients that still must AUTH get Redis's small limits
        (b"*11\r\n", (b"-ERR Protocol error: unauthenticated multibulk length\r\n", True)),
        (b"*1\r\n$16385\r\n", (b"-ERR Protocol error: unauthenticated bulk length\r\n", True)),
        (b"*2\r\n$4\r\nECHO\r\n$16384\r\n" + b"a" * 16384 + b"\r\n", (noauth, False)),
    ]:
        got = same_as_redis("secured", data, pin) if pin else None
        if pin is None:
            k, r = server("secured")
            got = exchange(k.port, data)
            if r is not None and not data.startswith(b"HELLO"):  # HELLO shows versions and ids
                eq(got, exchange(r.port, data), "same as redis-server for %r" % data[:40])
    k, r = server("secured")
    got = exchange(k.port, b"HELLO 2 AUTH default " + pw + b"\r\nGET k\r\n")
    ok(got[0].startswith(b"*14\r\n$6\r\nserver\r\n") and got[0].endswith(b"$-1\r\n"),
       "HELLO AUTH authenticates: %r" % (got,))


@test
def test_debug_disabled_by_default_and_local_only_when_so_configured():
    same_as_redis("plain", b"DEBUG SLEEP 0\r\n", (DEBUG_DENIED, False))
    same_as_redis("plain", b"DEBUG\r\n",
                  (b"-ERR wrong number of arguments for 'debug' command\r\n", False))
    same_as_redis("plain", b"MULTI\r\nDEBUG SLEEP 0\r\nEXEC\r\n",
                  (b"+OK\r\n" + DEBUG_DENIED +
                   b"-EXECABORT Transaction discarded because of previous errors.\r\n", False))
    same_as_redis("plain", b"CONFIG SET enable-debug-command yes\r\n",
                  (b"-ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') "
                   b"- can't set immutable config\r\n", False))
    pw = PASSWORD.encode()
    # "local": refused before AUTH is checked, from anywhere but loopback
    same_as_redis("secured", b"DEBUG SLEEP 0\r\n", (DEBUG_DENIED, False), source=REMOTE_IP)
    same_as_redis("secured", b"AUTH " + pw + b"\r\nDEBUG SLEEP 0\r\n",
                  (b"+OK\r\n" + DEBUG_DENIED, False), source=REMOTE_IP)
    same_as_redis("secured", b"DEBUG SLEEP 0\r\n",
                  (b"-NOAUTH Authentication required.\r\n", False))
    same_as_redis("secured", b"AUTH " + pw + b"\r\nDEBUG SLEEP 0\r\n", (b"+OK\r\n+OK\r\n", False))


@test
def test_protected_configs_and_file_options():
    prot = b"-ERR CONFIG SET failed (possibly related to argument '%s') - can't set protected config\r\n"
    imm = b"-ERR CONFIG SET failed (possibly related to argument '%s') - can't set immutable config\r\n"
    for opt in (b"dir", b"dbfilename"):
        same_as_redis("plain", b"CONFIG SET " + opt + b" /tmp\r\n", (prot % opt, False))
    for opt in (b"logfile", b"pidfile", b"enable-protected-configs", b"appendfilename",
                b"appenddirname"):
        same_as_redis("plain", b"CONFIG SET " + opt + b" x\r\n", (imm % opt, False))
    same_as_redis("plain", b"CONFIG GET enable-protected-configs\r\n",
                  (b"*2\r\n$24\r\nenable-protected-configs\r\n$2\r\nno\r\n", False))
    same_as_redis("plain", b"CONFIG GET dbfilename\r\n",
                  (b"*2\r\n$10\r\ndbfilename\r\n$8\r\ndump.rdb\r\n", False))
    pw = PASSWORD.encode()
    auth = b"AUTH " + pw + b"\r\n"
    # enable-protected-configs local: a remote client is refused, a local one may set them
    same_as_redis("secured", auth + b"CONFIG SET dbfilename x.rdb\r\n",
                  (b"+OK\r\n" + prot % b"dbfilename", False), source=REMOTE_IP)
    same_as_redis("secured", auth + b"CONFIG SET dbfilename x.rdb\r\nCONFIG GET dbfilename\r\n"
                  b"CONFIG SET dbfilename dump.rdb\r\n",
                  (b"+OK\r\n+OK\r\n*2\r\n$10\r\ndbfilename\r\n$5\r\nx.rdb\r\n+OK\r\n", False))
    same_as_redis("secured", auth + b"CONFIG SET dbfilename ../../etc/x\r\n",
                  (b"+OK\r\n-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - "
                   b"dbfilename can't be a path, just a filename\r\n", False))
    same_as_redis("secured", auth + b"CONFIG SET dir /nonexistent/dir\r\n",
                  (b"+OK\r\n-ERR CONFIG SET failed (possibly related to argument 'dir') - "
                   b"No such file or directory\r\n", False))
    k, r = server("secured")
    c = RawConn(k.port)
    c.call("AUTH", PASSWORD)
    d = c.call("CONFIG", "GET", "dir")[1].decode()
    ok(os.path.isabs(d), "CONFIG GET dir is absolute like Redis's: %r" % d)
    eq(c.call("CONFIG", "SET", "dir", d), "OK", "the directory in use")
    if target_is_kevo():
        # Kevo's engine cannot move: any other directory is refused, nothing is written there
        other = os.path.join(tmpdir(), "hostile-elsewhere")
        os.makedirs(other, exist_ok=True)
        raw, v = c.call_raw("CONFIG", "SET", "dir", other)
        ok(raw.startswith(b"-ERR CONFIG SET failed (possibly related to argument 'dir') - "),
           "CONFIG SET dir elsewhere refused: %r" % raw)
        eq(c.call("SET", "after-dir", "1"), "OK")
        eq(c.call("SAVE"), "OK")
        eq(os.listdir(other), [], "no file written in a client-named directory")
        eq(c.call("CONFIG", "GET", "dir")[1].decode(), d)
        c.call("DEL", "after-dir")
    c.close()


@test
def test_security_answers_keep_the_server_up_for_everyone():
    for name in ("plain", "secured"):
        k, r = server(name)
        ok(k.alive(), "%s server alive" % name)
        by = Bystander(k.port, PASSWORD if name == "secured" else None)
        by.check()


if __name__ == "__main__":
    sys.exit(run_all("hostile"))
