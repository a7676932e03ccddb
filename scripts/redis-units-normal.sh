#!/usr/bin/env bash
# Runs units of Redis 7.0.15's test suite in its normal mode — the suite starts its own servers,
# with the overrides a unit asks for (aclfile, user lines, requirepass ...) — once with Debian's
# redis-server and once with the bundled store as src/redis-server. Units tagged external:skip
# (unit/acl, unit/acl-v2, unit/auth ...) only run this way; ../shared/redis-tests/run-units.sh
# runs the external mode.
#
# usage, from the project root after a build:  scripts/redis-units-normal.sh unit/acl unit/auth
# prints: unit, tests redis-server passed, tests the store passed, ratio, the store's first failure
set -uo pipefail
root=$(pwd)
suite=$root/../shared/redis-tests/redis-7.0.15
[ -f "$root/bin/iotbuf.js" ] || { echo "run from the project root (bin/iotbuf.js not found)"; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # <redis|store> <unit>  -> the run's log on stdout
  local dir=$tmp/$1
  rm -rf "$dir"; cp -r "$suite" "$dir"; chmod -R u+w "$dir"; mkdir -p "$dir/src"
  ln -sf "$(command -v redis-cli)" "$dir/src/redis-cli"
  ln -sf "$(command -v redis-benchmark)" "$dir/src/redis-benchmark"
  if [ "$1" = redis ]; then
    ln -sf "$(command -v redis-server)" "$dir/src/redis-server"
  else
    # the suite waits for " PID: <pid>" in the log; exec keeps the shell's pid for node
    printf '#!/bin/sh\necho "iotbuf store PID: $$"\nexec node %q/bin/iotbuf.js store "$@"\n' "$root" > "$dir/src/redis-server"
    chmod +x "$dir/src/redis-server"
  fi
  (cd "$dir" && timeout 600 tclsh tests/test_helper.tcl --clients 1 --timeout 30 --baseport $(( 20000 + RANDOM % 20000 )) \
    --tags "-needs:debug -needs:repl -needs:save -slow" --single "$2") 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
}
printf '%-16s %8s %8s %7s  %s\n' unit redis store ratio "first failure of the store"
for u in "$@"; do
  r=$(run redis "$u" | grep -c '^\[ok\]')
  run store "$u" > "$tmp/ours.log"
  o=$(grep -c '^\[ok\]' "$tmp/ours.log")
  first=$(grep -m1 -E '^\[(err|exception|TIMEOUT)\]|^Killing|No PID' "$tmp/ours.log" | cut -c1-100)
  printf '%-16s %8s %8s %7s  %s\n' "$u" "$r" "$o" "$(node -e "console.log($r ? ($o/$r).toFixed(2) : '-')")" "$first"
  [ -n "${KEEP_LOG:-}" ] && cp "$tmp/ours.log" "$KEEP_LOG.$(basename "$u").log"
done
