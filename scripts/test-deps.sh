#!/usr/bin/env bash
# The system packages the test suite starts or drives, checked and installed in one place:
# `npm test` runs this first and `.ci/run` reuses it, so `npm install && npm test` is all the
# set-up a fresh Debian/Ubuntu machine needs. Present tools cost one `command -v` each; missing
# ones are installed with apt-get as root or through sudo; when neither is possible it says in one
# line which packages to install and exits 1.
set -euo pipefail

# Debian puts mosquitto in /usr/sbin, which is not on a normal user's PATH
PATH="$PATH:/usr/sbin"
# Debian's python3-* packages install for Debian's interpreter, not for a pyenv/venv python3 earlier on PATH
python=/usr/bin/python3

need=()
has() { command -v "$1" >/dev/null 2>&1; }
pyhas() { [ -x "$python" ] && "$python" -c "import $1" >/dev/null 2>&1; }
has redis-server  || need+=(redis-server)       # store tests compare every reply with it
has redis-cli     || need+=(redis-tools)        # redis-cli and redis-benchmark against the store
has redis-sentinel || need+=(redis-sentinel)   # watches bundled stores and fails over (replication tests)
has mosquitto     || need+=(mosquitto)          # the bridge's upstream and the MQTT anchors
has mosquitto_pub || need+=(mosquitto-clients)  # a real MQTT client publishing to the broker
has influxd       || need+=(influxdb)           # the influx sink's target
has tmux          || need+=(tmux)               # a real terminal for status --watch
has tclsh         || need+=(tcl)                # Redis' own test suite
pyhas paho.mqtt.client || need+=(python3-paho-mqtt)
pyhas redis            || need+=(python3-redis)

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$EUID" = 0 ]; then
  as_root=()
elif has sudo && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
  as_root=(sudo)
else
  echo "test-deps: the tests need the Debian packages ${need[*]}; install them (sudo apt-get install ${need[*]}) or run npm test as root" >&2
  exit 1
fi
if ! has apt-get; then
  echo "test-deps: the tests need ${need[*]} (Debian package names) and there is no apt-get here; install their equivalents" >&2
  exit 1
fi
echo "test-deps: installing ${need[*]}" >&2
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
