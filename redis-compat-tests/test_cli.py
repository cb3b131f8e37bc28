#!/usr/bin/python3
"""redis-cli suite: --pipe mass insert (100k keys, DBSIZE exact), --scan --pattern, -3 (RESP3),
INFO, plain commands and --raw output, against the server on $KEVO_PORT."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402
from lib import eq, ok, test, run_all, kevo_port, tmpdir, encode_command, skip  # noqa: E402


def cli(*args, stdin=None, timeout=120):
    p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(kevo_port())] + list(args),
                       input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("latin-1"), p.stderr.decode("latin-1")


def R():
    return redis.Redis(host="127.0.0.1", port=kevo_port(), decode_responses=True,
                       socket_timeout=60)


@test
def test_cli_basic_commands():
    R().flushall()
    eq(cli("PING")[1], "PONG\n")
    eq(cli("SET", "k", "hello world")[1], "OK\n")
    eq(cli("GET", "k")[1], "hello world\n")
    eq(cli("GET", "nosuch")[1], "\n", "--raw style for non-tty: empty line for nil")
    eq(cli("--no-raw", "GET", "nosuch")[1], "(nil)\n")
    eq(cli("--no-raw", "INCR", "n")[1], "(integer) 1\n")
    eq(cli("--no-raw", "MGET", "k", "nosuch")[1], '1) "hello world"\n2) (nil)\n')
    rc, out, err = cli("--no-raw", "GET")
    eq(out, "(error) ERR wrong number of arguments for 'get' command\n")
    eq(cli("DBSIZE")[1], "2\n")
    eq(cli("-n", "3", "SET", "in3", "x")[1], "OK\n")
    eq(cli("-n", "3", "DBSIZE")[1], "1\n")


@test
def test_cli_resp3():
    R().flushall()
    eq(cli("-3", "PING")[1], "PONG\n")
    eq(cli("-3", "SET", "a", "1")[1], "OK\n")
    eq(cli("-3", "--no-raw", "GET", "nosuch")[1], "(nil)\n")
    eq(cli("-3", "--no-raw", "GET", "a")[1], '"1"\n')
    eq(cli("-3", "--no-raw", "CONFIG", "GET", "hz")[1], '1# "hz" => "10"\n')
    out = cli("-3", "--no-raw", "HELLO", "3")[1]
    ok('"proto" => (integer) 3' in out, "HELLO 3 map in redis-cli -3: %r" % out)
    eq(cli("-3", "--no-raw", "INCRBYFLOAT", "f", "1.5")[1], '"1.5"\n')
    eq(cli("-3", "--no-raw", "EXISTS", "a")[1], "(integer) 1\n")


@test
def test_cli_info():
    rc, out, err = cli("INFO")
    eq(rc, 0)
    ok("# Server" in out and "redis_version:" in out, "INFO has the server section")
    ok("# Keyspace" in out, "INFO default has keyspace")
    out = cli("INFO", "keyspace")[1]
    ok(out.startswith("# Keyspace"), "INFO keyspace: %r" % out[:40])
    out = cli("--no-raw", "INFO", "server")[1]
    ok("tcp_port:%d" % kevo_port() in out, "tcp_port in INFO server")


@test(timeout=180)
def test_cli_pipe_mass_insert_100k():
    R().flushall()
    path = os.path.join(tmpdir(), "mass.resp")
    with open(path, "wb") as f:
        for i in range(100000):
            f.write(encode_command(["SET", "mass:%d" % i, "value-%d" % i]))
        f.write(encode_command(["SET", "bin:\x00key", "\x00\r\n\x00"]))
    with open(path, "rb") as f:
        p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(kevo_port()), "--pipe"],
                           stdin=f, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=170)
    out = p.stdout.decode("latin-1")
    eq(p.returncode, 0, "redis-cli --pipe exit code (output %r)" % out[-300:])
    ok("errors: 0, replies: 100001" in out, "--pipe summary: %r" % out[-200:])
    r = R()
    eq(r.dbsize(), 100001, "DBSIZE exact after mass insert")
    eq(r.get("mass:0"), "value-0")
    eq(r.get("mass:99999"), "value-99999")
    eq(redis.Redis(host="127.0.0.1", port=kevo_port()).get(b"bin:\x00key"), b"\x00\r\n\x00")
    ks = r.info("keyspace")["db0"]
    eq(ks["keys"], 100001)


@test(timeout=180)
def test_cli_scan_pattern_finds_every_key():
    r = R()
    if r.dbsize() != 100001:
        skip("needs the keys of test_cli_pipe_mass_insert_100k")
    rc, out, err = cli("--scan", "--pattern", "mass:1*")
    eq(rc, 0)
    got = out.split("\n")
    got = [x for x in got if x]
    expect = {"mass:%d" % i for i in range(100000) if str(i).startswith("1")}
    eq(len(set(got) - expect), 0, "--scan returned only matching keys")
    eq(expect - set(got), set(), "--scan --pattern found every matching key")
    rc, out, err = cli("--scan")
    allkeys = set(x for x in out.split("\n") if x)
    eq(len(allkeys), 100001, "--scan without pattern walks every key")
    r.flushall()
    eq(r.dbsize(), 0)


@test
def test_cli_latency_style_and_stat_commands():
    # commands redis-cli runs itself on connect / for modes
    rc, out, err = cli("--no-raw", "COMMAND", "COUNT")
    ok(out.startswith("(integer) "), "COMMAND COUNT from redis-cli: %r" % out)
    rc, out, err = cli("--no-raw", "CLIENT", "SETNAME", "cli-test")
    eq(out, "OK\n")
    rc, out, err = cli("--no-raw", "COMMAND", "DOCS", "get")
    ok('"summary"' in out, "COMMAND DOCS through redis-cli: %r" % out[:200])


if __name__ == "__main__":
    sys.exit(run_all("cli"))
