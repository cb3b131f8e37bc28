#!/usr/bin/env bash
# install-deps.sh build|test - install what Kevo needs on Debian 12 (apt-get), only what is missing.
#   build: compiler, make, pkg-config, jemalloc, lz4, hiredis headers, Lua 5.1 with cjson and
#          bitop (scripting: linked statically)
#   test:  build + Criterion, redis-server, redis-tools (redis-cli), python3-redis (Debian's
#          redis-py, used through /usr/bin/python3), clang-14 + libclang-rt-14-dev (libFuzzer
#          and the sanitizer runtimes for the fuzz targets in fuzz/)
# Runs apt-get as root, or through sudo otherwise. `apt-get update` only when something is
# missing, so a second run is fast and quiet.
set -euo pipefail

mode="${1:-build}"
build_pkgs=(gcc libc6-dev make pkg-config libjemalloc-dev liblz4-dev libhiredis-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev liburing-dev)
test_pkgs=(libcriterion-dev redis-server redis-tools python3-redis clang-14 libclang-rt-14-dev)

case "$mode" in
    build) pkgs=("${build_pkgs[@]}") ;;
    test)  pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
    # installed = dpkg knows it with status "install ok installed"
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing packages: ${missing[*]} (no apt-get here: install them by hand)" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-deps: missing packages: ${missing[*]}; run as root or install sudo" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    "${missing[@]}"

# The Debian redis-server package starts a system service on port 6379; the tests never use it
# (they start their own servers on free ports), so leave it as the package set it up.
exit 0
