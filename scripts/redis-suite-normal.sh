#!/usr/bin/env bash
# Runs units of Redis 7.0.15's test suite (../shared/redis-tests/redis-7.0.15) in their normal mode,
# where the suite starts its own servers from src/redis-server with the configs it generates — the
# mode that units tagged external:skip (unit/wait, integration/replication*, psync2*) need. Once with
# src/redis-server = the real redis-server, once with a wrapper that starts `iotbuf store` with the
# same arguments; prints the [ok] counts side by side.
#
# usage, from the project root after a build:  scripts/redis-suite-normal.sh unit/wait integration/replication-2
set -uo pipefail
root=$(pwd)
suite="$root/../shared/redis-tests/redis-7.0.15"
[ -f "$root/bin/iotbuf.js" ] && [ -d "$suite" ] || { echo "run from the project root (bin/iotbuf.js, ../shared/redis-tests)"; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for kind in redis store; do
  cp -r "$suite" "$tmp/$kind"; chmod -R u+w "$tmp/$kind"; mkdir -p "$tmp/$kind/src"
  for t in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do ln -sf "$(command -v $t)" "$tmp/$kind/src/$t"; done
done
ln -sf "$(command -v redis-server)" "$tmp/redis/src/redis-server"
# the suite finds the server's pid in its first output line, as redis-server's logo prints it
printf '#!/bin/sh\necho "iotbuf store PID: $$"\nexec node %q store "$@"\n' "$root/bin/iotbuf.js" > "$tmp/store/src/redis-server"
chmod +x "$tmp/store/src/redis-server"
printf '%-32s %8s %8s  %s\n' unit redis store "first failure of the store"
for u in "$@"; do
  for kind in redis store; do
    (cd "$tmp/$kind" && timeout 600 ./runtest --single "$u" --clients 1 --timeout 60 --baseport $(( 30000 + RANDOM % 20000 ))) 2>&1 | sed 's/\x1b\[[0-9;]*m//g' > "$tmp/$kind.log"
  done
  printf '%-32s %8s %8s  %s\n' "$u" "$(grep -c '^\[ok\]' "$tmp/redis.log")" "$(grep -c '^\[ok\]' "$tmp/store.log")" \
    "$(grep -m1 -E '^\[(err|exception|TIMEOUT)\]' "$tmp/store.log" | cut -c1-100)"
done
