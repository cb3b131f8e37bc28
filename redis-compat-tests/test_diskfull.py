"""test_diskfull.py - kevo-server on a filesystem that fills up, end to end.

A small tmpfs is mounted for the data directory (root only: skipped with a clear message
otherwise), pre-filled with a ballast file so that a few MiB of writes fill it. Clients write
until the disk is full, and then:
  * writes get an error that says why (MISCONF ... No space left on device), never an OK that is
    not durable;
  * reads keep working and return every acknowledged value;
  * INFO persistence shows the state (engine_writes_refused:1, the reason);
  * once space is freed (the ballast removed) writes resume by themselves, with no restart;
  * after the episode and a restart (SIGTERM, and kill -9), every acknowledged write is there.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (RawConn, RespError, Server, Skip, env, eq, kevo_only, ok, run_all, test,  # noqa: E402
                 tmpdir, wait_until)

MIB = 1 << 20


def mount_small_fs(size_mib):
    if os.geteuid() != 0:
        raise Skip("needs root to mount a small tmpfs (run as root, as CI does)")
    d = os.path.join(tmpdir(), "smallfs-%d" % os.getpid())
    os.makedirs(d, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % size_mib, "tmpfs", d],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip("cannot mount a tmpfs here: %s" % r.stderr.strip())
    return d


def umount(d):
    subprocess.run(["umount", "-l", d], capture_output=True)


def fill(path, mib):
    with open(path, "wb") as f:
        chunk = b"\xa5" * MIB
        for _ in range(mib):
            f.write(chunk)


def info_field(conn, section, name):
    raw, v = conn.call_raw("INFO", section)
    text = v.decode() if isinstance(v, bytes) else v
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


def start(data):
    s = Server(env("KEVO_BIN"), data,
               extra=["--appendfsync", "always", "--memtable-size", "256kb",
                      "--enable-debug-command", "yes"])
    return s.start()


def server_on_small_fs(size_mib):
    """Mounts a size_mib tmpfs and starts kevo-server with its data there:
    (mount dir, server, connection)."""
    fsdir = mount_small_fs(size_mib)
    try:
        data = os.path.join(fsdir, "data")
        os.makedirs(data)
        s = start(data)
        return fsdir, s, RawConn(s.port)
    except BaseException:
        umount(fsdir)
        raise


def write_until_full(conn, acked, prefix, limit=200000):
    """SETs until the server refuses; returns the first error reply."""
    val = os.urandom(2000).hex()  # incompressible, 4000 bytes
    for i in range(limit):
        k = "%s:%06d" % (prefix, i)
        try:
            r = conn.call("SET", k, val)
        except RespError as e:
            return str(e)
        eq(r, "OK")
        acked[k] = val
    raise AssertionError("the disk never filled")


def wait_writes_resume(conn):
    """Polls with a SET until the server accepts writes again (its repair, no restart)."""
    def accepted():
        try:
            return conn.call("SET", "after", "1") == "OK"
        except RespError:
            return False
    wait_until(accepted, timeout=60, step=0.2, what="writes to resume after space was freed")


def check_all(conn, acked, what):
    bad = 0
    for k, v in acked.items():
        got = conn.call("GET", k)
        got = got.decode() if isinstance(got, bytes) else got
        if got != v:
            bad += 1
    eq(bad, 0, "%s: %d of %d acknowledged values missing or wrong" % (what, bad, len(acked)))


@test(timeout=240)
def test_disk_full_refuses_writes_serves_reads_and_recovers_by_itself():
    kevo_only()
    fsdir, s, c = server_on_small_fs(48)
    try:
        acked = {}
        for i in range(200):  # a first part, flushed to tables
            k = "pre:%04d" % i
            eq(c.call("SET", k, "v%d" % i), "OK")
            acked[k] = "v%d" % i
        ballast = os.path.join(fsdir, "ballast")
        st = os.statvfs(fsdir)
        free_mib = st.f_bavail * st.f_frsize // MIB
        fill(ballast, max(free_mib - 12, 1))  # leave ~12 MiB
        # Writes until refused, then INFO must show the refusal and its reason. The engine may
        # repair itself before INFO is read (a compaction frees a little space, a flush then
        # succeeds): then writes are accepted again, so write until refused once more.
        for attempt in range(30):
            err = write_until_full(c, acked, "full%d" % attempt)
            ok(err.startswith("MISCONF"), "refusal is not MISCONF: %s" % err)
            ok("No space left on device" in err, "the error does not say why: %s" % err)
            check_all(c, acked, "reads while the disk is full")
            if info_field(c, "persistence", "engine_writes_refused") != "1":
                continue
            why = info_field(c, "persistence", "engine_write_error")
            ok(why and "space" in why.lower(), "INFO does not say why: %r" % why)
            eq(info_field(c, "persistence", "aof_last_write_status"), "err")
            break
        else:
            raise AssertionError("INFO never showed writes refused while they were")
        # space comes back: writes resume by themselves
        os.unlink(ballast)
        wait_writes_resume(c)
        acked["after"] = "1"
        eq(info_field(c, "persistence", "engine_writes_refused"), "0")
        for i in range(300):
            k = "post:%04d" % i
            eq(c.call("SET", k, "p%d" % i), "OK")
            acked[k] = "p%d" % i
        check_all(c, acked, "after recovery")
        c.close()
        # a clean restart, then a kill -9 and restart: nothing acknowledged lost
        s.restart()
        c = RawConn(s.port)
        check_all(c, acked, "after a restart")
        eq(c.call("DBSIZE"), len(acked))
        c.close()
        s.kill()
        s.start()
        c = RawConn(s.port)
        check_all(c, acked, "after kill -9")
        c.close()
        s.stop()
    finally:
        umount(fsdir)


@test(timeout=240)
def test_server_restarts_on_a_full_disk_and_serves_reads():
    """A server killed while the disk is full must start again on that full disk and serve
    every acknowledged write (writes wait for space)."""
    kevo_only()
    fsdir, s, c = server_on_small_fs(40)
    try:
        acked = {}
        ballast = os.path.join(fsdir, "ballast")
        st = os.statvfs(fsdir)
        fill(ballast, max(st.f_bavail * st.f_frsize // MIB - 10, 1))
        write_until_full(c, acked, "k")
        c.close()
        s.kill()
        # completely full now: the restart must still come up
        # unbuffered: a buffered file would retry its pending bytes at close and raise ENOSPC
        with open(os.path.join(fsdir, "topup"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        s.start(timeout=60)
        c = RawConn(s.port)
        check_all(c, acked, "restart on a full disk")
        c.close()
        os.unlink(ballast)
        os.unlink(os.path.join(fsdir, "topup"))
        c = RawConn(s.port)
        wait_writes_resume(c)
        c.close()
        s.stop()
    finally:
        umount(fsdir)


if __name__ == "__main__":
    sys.exit(run_all("diskfull"))
