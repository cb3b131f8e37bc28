#!/bin/sh
# redis-as-kevo.sh - redis-server standing in for kevo-server, for A/A runs of the comparison
# scripts: `bench/issue-matrix.sh -b bench/redis-as-kevo.sh` (or vs-redis.sh -b ...) then compares
# redis-server with itself, and the ratios it prints are the harness's own spread on this machine
# (which server runs first in a round, the host's noise), the resolution any kevo/redis figure has.
# It takes kevo-server's arguments as vs-redis.sh passes them (--port --bind --dir --appendfsync,
# all of which redis-server accepts) and adds the durability vs-redis.sh gives its redis side.
exec redis-server "$@" --save '' --appendonly yes --daemonize no
