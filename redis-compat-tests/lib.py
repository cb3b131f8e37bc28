"""lib.py - the small test harness shared by the redis-compat suites (no pytest needed).

* a test registry: @test decorates a function; run_all() runs them in order, prints
  "PASS name" / "FAIL name: reason" / "SKIP name: reason", then a count line, and returns the
  process exit code (1 if anything failed).
* RawConn: a raw RESP socket client that returns every reply both as the exact bytes the
  server sent and as a decoded Python value (used for protocol-level and differential checks).
* Server: starts a server binary (kevo-server or redis-server) on a free 127.0.0.1 port in a
  directory, waits for PING, stops it (SIGTERM or SIGKILL). Every pid is appended to
  $KT_PIDFILE so run.sh's exit trap kills leftovers even if Python dies.

Environment (set by run.sh):
  KEVO_BIN      path of the server under test
  KEVO_PORT     port of the server under test (started by run.sh)
  REDIS_PORT    port of the reference redis-server, empty when not installed
  KT_TMP        scratch directory (removed by run.sh)
  KT_PIDFILE    file collecting pids of servers started by the suites
  KT_TARGET     "kevo" or "redis" (when the suite is pointed at redis-server itself, checks of
                Kevo-only features are skipped)
"""
import os
import signal
import socket
import subprocess
import sys
import time
import traceback

# ----------------------------------------------------------------------------------- registry

_TESTS = []


class Skip(Exception):
    pass


class TestTimeout(Exception):
    pass


def test(fn=None, *, timeout=60):
    def deco(f):
        _TESTS.append((f.__name__, f, timeout))
        return f
    return deco(fn) if fn is not None else deco


def skip(reason):
    raise Skip(reason)


def _alarm(signum, frame):
    raise TestTimeout("test timed out")


def _sigterm(signum, frame):
    raise SystemExit("terminated")


def run_all(suite_name):
    """Runs the registered tests whose name matches $KT_ONLY (substring), if set."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGTERM, _sigterm)
    only = os.environ.get("KT_ONLY", "")
    passed = failed = skipped = 0
    failures = []
    t0 = time.time()
    try:
        for name, fn, tmo in _TESTS:
            if only and only not in name:
                continue
            start = time.time()
            signal.alarm(tmo)
            try:
                fn()
                signal.alarm(0)
                passed += 1
                print("PASS %s (%.2fs)" % (name, time.time() - start), flush=True)
            except Skip as e:
                signal.alarm(0)
                skipped += 1
                print("SKIP %s: %s" % (name, e), flush=True)
            except BaseException as e:  # noqa: B902 - report everything, keep going
                signal.alarm(0)
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                failed += 1
                tb = traceback.extract_tb(e.__traceback__)
                where = ""
                for fr in reversed(tb):
                    if fr.filename.endswith(("test_", ".py")) and "lib.py" not in fr.filename:
                        where = " [%s:%d]" % (os.path.basename(fr.filename), fr.lineno)
                        break
                msg = "%s: %s%s" % (type(e).__name__, str(e)[:600], where)
                failures.append((name, msg))
                print("FAIL %s: %s" % (name, msg), flush=True)
    finally:
        stop_all_servers()
    print("%s: %d passed, %d failed, %d skipped (%.1fs)" %
          (suite_name, passed, failed, skipped, time.time() - t0), flush=True)
    summary = os.environ.get("KT_SUMMARY")
    if summary:
        with open(summary, "a") as f:
            f.write("%s %d %d %d\n" % (suite_name, passed, failed, skipped))
            for n, m in failures:
                f.write("  FAIL %s/%s: %s\n" % (suite_name, n, m.replace("\n", " ")))
    return 1 if failed else 0


# ------------------------------------------------------------------------------- assertions

def eq(got, expected, what=""):
    if got != expected:
        raise AssertionError("%sexpected %r, got %r" % (what + ": " if what else "",
                                                        expected, got))


def ok(cond, what="condition failed"):
    if not cond:
        raise AssertionError(what)


def raises(fn, *args, match=None, exc=Exception, **kw):
    """fn(*args) must raise exc; if match is given, str(exception) must contain it."""
    try:
        r = fn(*args, **kw)
    except exc as e:
        if match is not None and match not in str(e):
            raise AssertionError("error %r does not contain %r" % (str(e), match))
        return e
    raise AssertionError("expected an error%s, got reply %r" %
                         (" containing %r" % match if match else "", r))


def wait_until(pred, timeout=5.0, step=0.05, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


# ------------------------------------------------------------------------------ environment

def env(name, default=None):
    v = os.environ.get(name, default)
    return v


def target_is_kevo():
    return env("KT_TARGET", "kevo") == "kevo"


def kevo_only():
    if not target_is_kevo():
        skip("Kevo-only feature (suite pointed at redis-server)")


def kevo_port():
    return int(env("KEVO_PORT"))


def redis_port():
    p = env("REDIS_PORT", "")
    return int(p) if p else None


def tmpdir():
    return env("KT_TMP", "/tmp")


# ------------------------------------------------------------------------------ raw RESP I/O

class RespError(Exception):
    """An error reply (-ERR ... or RESP3 !len blob error)."""


class ConnClosed(Exception):
    pass


class Verbatim(bytes):
    pass


class Push(list):
    pass


def encode_command(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawConn:
    """Raw RESP connection. reply() returns (raw_bytes, value); errors are RespError objects
    (returned, not raised) so sequences can be compared; call() raises them."""

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, *args):
        self.sock.sendall(encode_command(args))

    def _fill(self):
        if self.pos > 0 and self.pos > len(self.buf) // 2:
            self.buf = self.buf[self.pos:]
            self.pos = 0
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnClosed("connection closed by server")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = self.buf[self.pos:i]
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = self.buf[self.pos:self.pos + n]
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise AssertionError("bulk not terminated by CRLF")
        self.pos += n + 2
        return data

    def reply(self):
        start_buf_len = None  # raw bytes are rebuilt from the parsed pieces below
        raw = []
        val = self._parse(raw)
        return b"".join(raw), val

    def _parse(self, raw):
        line = self._line()
        raw.append(line + b"\r\n")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode("latin-1")
        if t == b"-":
            return RespError(rest.decode("latin-1"))
        if t == b":":
            return int(rest)
        if t == b"$" or t == b"=" or t == b"!":
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n)
            raw.append(data + b"\r\n")
            if t == b"!":
                return RespError(data.decode("latin-1"))
            if t == b"=":
                return Verbatim(data)
            return data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self._parse(raw) for _ in range(n)]
            if t == b"~":
                return ("set", items)
            if t == b">":
                return Push(items)
            return items
        if t == b"%" or t == b"|":
            n = int(rest)
            items = [(self._parse(raw), self._parse(raw)) for _ in range(n)]
            if t == b"|":  # attribute: followed by the real reply
                return self._parse(raw)
            return ("map", items)
        if t == b"_":
            return None
        if t == b",":
            return ("double", rest.decode())
        if t == b"#":
            return rest == b"t"
        if t == b"(":
            return int(rest)
        raise AssertionError("unknown RESP type byte %r in line %r" % (t, line[:80]))

    def call_raw(self, *args):
        self.send(*args)
        return self.reply()

    def call(self, *args):
        raw, v = self.call_raw(*args)
        if isinstance(v, RespError):
            raise v
        return v

    def expect_closed(self, timeout=3.0):
        """True when the server closes the connection (after any pending replies)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


# --------------------------------------------------------------------------------- servers

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


_SERVERS = []


def _record_pid(pid):
    pf = env("KT_PIDFILE")
    if pf:
        with open(pf, "a") as f:
            f.write("%d\n" % pid)


class Server:
    """A server process. binary is kevo-server or redis-server; extra is a list of
    '--opt', 'val' arguments."""

    def __init__(self, binary, directory, extra=(), port=None, is_redis=None):
        self.binary = binary
        self.dir = directory
        self.extra = list(extra)
        self.port = port
        self.proc = None
        self.is_redis = (os.path.basename(binary).startswith("redis-server")
                         if is_redis is None else is_redis)
        os.makedirs(directory, exist_ok=True)

    def args(self):
        a = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        if self.is_redis:
            a += ["--save", "", "--appendonly", "no", "--enable-debug-command", "yes",
                  "--daemonize", "no", "--logfile", ""]
        return a + self.extra

    def start(self, timeout=20):
        for attempt in range(3):
            if self.port is None or attempt > 0:
                self.port = free_port()
            log = open(os.path.join(self.dir, "server.log"), "ab")
            self.proc = subprocess.Popen(self.args(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.dir)
            log.close()
            _record_pid(self.proc.pid)
            _SERVERS.append(self)
            if self._wait_ping(timeout):
                return self
            self.kill()
        raise AssertionError("server %s did not answer PING on port %s; log tail:\n%s"
                             % (self.binary, self.port, self.log_tail()))

    def _wait_ping(self, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                return False
            try:
                c = RawConn(self.port, timeout=2)
                try:
                    raw, v = c.call_raw("PING")
                    if v == "PONG" or raw.startswith(b"-NOAUTH"):
                        return True
                finally:
                    c.close()
            except (OSError, ConnClosed, RespError, AssertionError):
                pass
            time.sleep(0.05)
        return False

    def log_tail(self, n=30):
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("latin-1")
        except OSError:
            return "(no log)"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends sig and waits for exit; returns the exit code (kills after timeout)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not exit within %ds after signal %d"
                                     % (timeout, sig))
        rc = self.proc.returncode
        if self in _SERVERS:
            _SERVERS.remove(self)
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()

    def redis(self, **kw):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=60, **kw)

    def raw(self):
        return RawConn(self.port)


def stop_all_servers():
    for s in list(_SERVERS):
        try:
            s.kill()
        except Exception:
            pass


def kevo_extra_args(appendfsync="always", **opts):
    """Arguments every Kevo instance started by the suites gets (besides port/bind/dir)."""
    a = ["--appendfsync", appendfsync, "--hz", "10", "--enable-debug-command", "yes"]
    for k, v in opts.items():
        a += ["--" + k.replace("_", "-"), str(v)]
    return a


def both_servers():
    """Connections to the server under test and the reference redis-server, both emptied and in
    RESP2 (skips the test when no reference runs): the differential suites' start."""
    if not redis_port():
        skip("no reference redis-server")
    k, r = RawConn(kevo_port()), RawConn(int(redis_port()))
    for c in (k, r):
        c.call("FLUSHALL")
        c.call("HELLO", "2")
    return k, r


def reload_both(k, r):
    """DEBUG RELOAD on the server under test (k) and the reference (r), in RESP2, then COMPACT
    on the server under test when it is Kevo: the differential suites' step between phases."""
    for c in (k, r):
        c.call("HELLO", "2")
        eq(c.call("DEBUG", "RELOAD"), "OK")
    if target_is_kevo():
        eq(k.call("COMPACT"), "OK")


def start_kevo(name, appendfsync="always", **opts):
    """A fresh server under test in $KT_TMP/<name>; when the suite targets redis-server the
    Kevo-only options (memtable-size...) are dropped."""
    binary = env("KEVO_BIN")
    d = os.path.join(tmpdir(), name)
    if not target_is_kevo():
        opts = {k: v for k, v in opts.items() if k in ("requirepass", "maxclients", "hz", "timeout")}
        extra = ["--hz", "10"] + sum([["--" + k.replace("_", "-"), str(v)]
                                      for k, v in opts.items()], [])
        extra += ["--appendonly", "yes", "--appendfsync", appendfsync]
        s = Server(binary, d, extra, is_redis=True)
        # redis needs AOF for durability tests: override the default '--appendonly no'
        s.args = (lambda s=s: [s.binary, "--port", str(s.port), "--bind", "127.0.0.1",
                               "--dir", s.dir, "--save", "", "--enable-debug-command", "yes",
                               "--daemonize", "no"] + s.extra)
        return s.start()
    return Server(binary, d, kevo_extra_args(appendfsync, **opts), is_redis=False).start()


# ---- side-by-side scenarios (test_blocking.py, test_stream_blocking.py) ----

def servers():
    """The servers a side-by-side scenario runs on: Kevo, and redis-server when one is up."""
    out = [("kevo", kevo_port())]
    if redis_port() and target_is_kevo():
        out.append(("redis", redis_port()))
    return out


def on_all(fn):
    """Runs fn(port) against every server; their results must be equal. Returns Kevo's."""
    res = {}
    for name, port in servers():
        try:
            res[name] = fn(port)
        except AssertionError as e:
            raise AssertionError("[%s] %s" % (name, e))
    if "redis" in res:
        eq(res["kevo"], res["redis"], "kevo vs redis-server")
    return res["kevo"]


def conn(port, resp3=False):
    c = RawConn(port, timeout=10)
    if resp3:
        raw, v = c.call_raw("HELLO", "3")
        ok(not isinstance(v, RespError), "HELLO 3: %r" % (v,))
    return c


def admin(port):
    c = conn(port)
    c.call("FLUSHALL")
    return c

