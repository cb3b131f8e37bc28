#!/usr/bin/python3
"""differential.py SEQUENCES... - runs every command of the SEQUENCES files through raw RESP sockets against
the server under test ($KEVO_PORT) and the reference redis-server ($REDIS_PORT), and compares
the replies byte for byte.

File format (see sequences.txt):
  # comment                      ignored
  ## name                        starts a test named `name`: both sides get fresh connections
                                 (RESP2, db 0, no name) and FLUSHALL
  CMD arg ...                    one command, shlex-quoted (POSIX rules); inside an argument
                                 \\xHH (written in single quotes) is the byte HH
  ~mode CMD arg ...              compare after a normalisation (each use is justified by a
                                 comment in the file):
      ~sorted   the reply is an array (or RESP3 set) whose order is unspecified (KEYS):
                compare sorted
      ~type     only the RESP type byte must match (time-dependent values: PTTL, TIME ...)
      ~ignore   send and read the reply on both sides, compare nothing
      ~hello    HELLO reply: the 'version' and 'id' values are replaced before comparing
      ~noreply  the command is sent and no reply is read (CLIENT REPLY OFF/SKIP); the
                next reply read proves that nothing was sent for it
      ~stream   stream replies with wall-clock values: IDs made from the clock (XADD *,
                13+ digit ms part) are numbered in order of first appearance per side and test,
                so the same logical ID compares equal; idle times, delivery times and seen
                times (XPENDING entries, XINFO CONSUMERS idle, XINFO STREAM FULL pending
                lists and seen-time) are masked; the rest is compared as decoded values
      ~scan     SCAN (or HSCAN/SSCAN/ZSCAN key) cursor walk: the full walk is done on both
                sides starting at the
                given cursor; the sets of keys returned are compared (order and
                cursor values differ by design), and errors are compared byte for byte
  !sleep SECONDS                 pause (expiry)
  !reconnect                     fresh connections (same as the start of a test, without FLUSHALL)
"""
import os
import re
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import RawConn, RespError, ConnClosed, test, run_all, kevo_port, redis_port  # noqa: E402

HEX = re.compile(r"\\x([0-9a-fA-F]{2})")


def parse_args(text):
    return [HEX.sub(lambda m: chr(int(m.group(1), 16)), t).encode("latin-1")
            for t in shlex.split(text, posix=True)]


def parse_file(path):
    sections = []
    cur = None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            s = line.strip()
            if not s or (s.startswith("#") and not s.startswith("##")):
                continue
            if s.startswith("##"):
                cur = (s[2:].strip(), [])
                sections.append(cur)
                continue
            if cur is None:
                raise SystemExit("%s:%d: command before the first ## section" % (path, lineno))
            mode = None
            if s.startswith("~"):
                mode, s = s[1:].split(None, 1)
                if mode not in ("sorted", "type", "ignore", "hello", "scan", "noreply", "stream"):
                    raise SystemExit("%s:%d: unknown mode ~%s" % (path, lineno, mode))
            if s.startswith("!"):
                cur[1].append((lineno, "directive", None, s[1:].split()))
                continue
            cur[1].append((lineno, "cmd", mode, parse_args(s)))
    return sections


def norm(v):
    """A comparable form of a decoded reply."""
    if isinstance(v, RespError):
        return ("error", str(v))
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, tuple):
        return tuple(norm(x) for x in v)
    return v


CLOCK_ID = re.compile(rb"^[0-9]{13,}-[0-9]+$")
ANY_ID = re.compile(rb"^[0-9]+-[0-9]+$")
TIME_KEYS = (b"idle", b"seen-time")


def stream_norm(v, idmap):
    """~stream: clock IDs numbered by first appearance (idmap, per side), times masked."""
    if isinstance(v, RespError):
        return ("error", str(v))
    if isinstance(v, bytes):
        if CLOCK_ID.match(v):
            if v not in idmap:
                idmap[v] = b"<id%d>" % len(idmap)
            return idmap[v]
        return v
    if isinstance(v, tuple) and len(v) == 2 and v[0] == "map":
        return ("map", [(stream_norm(k, idmap), "*" if k in TIME_KEYS else stream_norm(x, idmap))
                        for k, x in v[1]])
    if isinstance(v, tuple):
        return tuple(stream_norm(x, idmap) for x in v)
    if isinstance(v, list):
        out = [stream_norm(x, idmap) for x in v]
        # XPENDING entry [id, consumer, idle, count] / FULL group pending [id, consumer, time,
        # count]; FULL consumer pending [id, time, count]
        isid = len(v) >= 3 and isinstance(v[0], bytes) and ANY_ID.match(v[0])
        if isid and len(v) == 4 and isinstance(v[1], bytes) and isinstance(v[2], int) and isinstance(v[3], int):
            out[2] = "*"
        elif isid and len(v) == 3 and isinstance(v[1], int) and isinstance(v[2], int):
            out[1] = "*"
        # RESP2 maps are flat key/value arrays
        for i in range(0, len(v) - 1):
            if isinstance(v[i], bytes) and v[i] in TIME_KEYS and isinstance(v[i + 1], int) and i % 2 == 0:
                out[i + 1] = "*"
        return out
    return v


class Side:
    def __init__(self, port):
        self.port = port
        self.conn = None
        self.idmap = {}

    def connect(self):
        if self.conn:
            self.conn.close()
        self.conn = RawConn(self.port, timeout=20)

    def run(self, args):
        """(raw bytes, value) or (b'<closed>', None) when the connection was closed."""
        try:
            self.conn.send(*args)
            return self.conn.reply()
        except (ConnClosed, ConnectionResetError, BrokenPipeError):
            self.connect()
            return b"<closed>", None

    def scan_walk(self, args):
        args = list(args)
        keys = set()
        # SCAN cursor [...]; HSCAN/SSCAN/ZSCAN key cursor [...]
        ci = 2 if args[0].upper() in (b"HSCAN", b"SSCAN", b"ZSCAN") else 1
        for _ in range(100000):
            raw, v = self.run(args)
            if isinstance(v, RespError) or not (isinstance(v, list) and len(v) == 2):
                return ("reply", raw)
            keys.update(v[1])
            if v[0] == b"0":
                return ("keys", sorted(keys))
            args[ci] = v[0]
        return ("reply", b"<scan did not end>")


def compare(mode, a, b, args, ref=None, sut=None):
    """a: (raw, value) from redis, b: from the server under test. Returns None or a message."""
    (ra, va), (rb, vb) = a, b
    if mode == "stream":
        na, nb = stream_norm(va, ref.idmap), stream_norm(vb, sut.idmap)
        return None if ra[:1] == rb[:1] and na == nb else \
            "stream: redis %r\n      kevo  %r" % (ra[:300], rb[:300])
    if mode is None:
        return None if ra == rb else "redis %r\n      kevo  %r" % (ra[:300], rb[:300])
    if mode == "ignore":
        return None
    if mode == "type":
        return None if ra[:1] == rb[:1] else "type: redis %r kevo %r" % (ra[:60], rb[:60])
    if mode == "sorted":
        if isinstance(va, tuple) and isinstance(vb, tuple) and va[:1] == vb[:1] == ("set",):
            va, vb = va[1], vb[1]  # RESP3 set: same type byte, elements in any order
        if isinstance(va, list) and isinstance(vb, list):
            return None if sorted(norm(va)) == sorted(norm(vb)) else \
                "sorted: redis %r\n      kevo  %r" % (sorted(va)[:20], sorted(vb)[:20])
        return None if ra == rb else "redis %r\n      kevo  %r" % (ra[:300], rb[:300])
    if mode == "hello":
        def fix(v):
            if isinstance(v, tuple) and v and v[0] == "map":
                return [(k, b"*" if k in (b"version", b"id") else norm(x)) for k, x in v[1]]
            if isinstance(v, list):
                out = []
                for i in range(0, len(v) - 1, 2):
                    out.append((v[i], b"*" if v[i] in (b"version", b"id") else norm(v[i + 1])))
                return out
            return norm(v)
        ok_types = ra[:1] == rb[:1]
        return None if ok_types and fix(va) == fix(vb) else \
            "hello: redis %r\n      kevo  %r" % (ra[:300], rb[:300])
    raise AssertionError(mode)


def make_test(name, steps, ref, sut):
    def t():
        for side in (ref, sut):
            side.connect()
            side.run([b"FLUSHALL"])
            side.idmap = {}
        mismatches = []
        count = 0
        for lineno, kind, mode, args in steps:
            if kind == "directive":
                if args[0] == "sleep":
                    time.sleep(float(args[1]))
                elif args[0] == "reconnect":
                    ref.connect()
                    sut.connect()
                else:
                    raise AssertionError("line %d: unknown directive !%s" % (lineno, args[0]))
                continue
            count += 1
            if mode == "noreply":
                ref.conn.send(*args)
                sut.conn.send(*args)
                continue
            if mode == "scan":
                a, b = ref.scan_walk(args), sut.scan_walk(args)
                if a != b:
                    mismatches.append("line %d: %s\n      redis %r\n      kevo  %r" % (
                        lineno, b" ".join(args).decode("latin-1"), a, b))
                continue
            a = ref.run(args)
            b = sut.run(args)
            msg = compare(mode, a, b, args, ref, sut)
            if msg:
                shown = b" ".join(x if len(x) < 60 else x[:60] + b"..." for x in args)
                mismatches.append("line %d: %s\n      %s" % (lineno, shown.decode("latin-1"),
                                                          msg))
        if mismatches:
            for m in mismatches:
                print("    " + m)
            raise AssertionError("%d of %d replies differ (first: %s)" %
                                 (len(mismatches), count, mismatches[0].splitlines()[0]))
    t.__name__ = name
    return t


# Raw protocol cases: each payload is sent on a fresh connection to both servers, followed by
# a PING sentinel; everything the server sends until the sentinel's +PONG or the close is
# compared byte for byte, together with whether the server closed the connection.
RAW_CASES = [
    b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
    b"*-1\r\n",
    b"*0\r\n",
    b"*1\r\n$0\r\n\r\n",
    b"*2\r\n$4\r\nECHO\r\n$-1\r\n",
    b"*2\r\n$4\r\nECHO\r\n$abc\r\n",
    b"*1\r\n:4\r\n",
    b"*1\r\n+PING\r\n",
    b"*abc\r\n",
    b"*-5\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2147483648\r\n",
    b"*3000000000\r\n",
    b"PING\n",
    b"   \r\n",
    b"\r\n",
    b"ECHO 'a b'\r\n",
    b"ECHO \"a\\x41\\n\"\r\n",
    b"ECHO \"unbalanced\r\n",
    b"ECHO 'unbalanced\r\n",
    b"SET inl \"x y\"\r\nGET inl\r\n",
    b"$4\r\nPING\r\n",
    b"\x01\x02 garbage\r\n",
    b"get\r\n",
    b"QUIT\r\n",
    b"*1\r\n$4\r\nQUIT\r\n",
]


def raw_exchange(port, payload):
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(payload + b"*1\r\n$4\r\nPING\r\n")
    except OSError:
        pass
    data = b""
    closed = False
    end = time.time() + 5
    s.settimeout(0.5)
    while time.time() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            if data.endswith(b"+PONG\r\n"):
                break
            continue
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
        if data.endswith(b"+PONG\r\n"):
            break
    s.close()
    return data, closed


def make_raw_test(ref_port, sut_port):
    def raw_protocol():
        bad = []
        for payload in RAW_CASES:
            a = raw_exchange(ref_port, payload)
            b = raw_exchange(sut_port, payload)
            if a != b:
                bad.append("%r\n      redis %r\n      kevo  %r" % (payload, a, b))
        if bad:
            for m in bad:
                print("    " + m)
            raise AssertionError("%d of %d raw payloads answered differently (first: %s)" %
                                 (len(bad), len(RAW_CASES), bad[0].splitlines()[0]))
    return raw_protocol


def main():
    paths = sys.argv[1:] or [os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "sequences.txt")]
    if redis_port() is None:
        print("differential: no reference redis-server; skipped")
        return 0
    sections = [sec for path in paths for sec in parse_file(path)]
    ref, sut = Side(redis_port()), Side(kevo_port())
    total = 0
    for name, steps in sections:
        total += sum(1 for s in steps if s[1] == "cmd")
        test(make_test(name, steps, ref, sut), timeout=120)
    test(make_raw_test(redis_port(), kevo_port()), timeout=300)
    total += len(RAW_CASES)
    print("differential: %d sections, %d commands compared against redis-server" %
          (len(sections), total))
    return run_all("differential")


if __name__ == "__main__":
    sys.exit(main())
