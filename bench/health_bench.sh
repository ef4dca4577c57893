#!/usr/bin/env bash
# Active health check cost: the CPU tidegate spends checking N servers every
# INTERVAL (issue 10's target: 1,000 servers every second under 5% of one core;
# 10,000 servers every 5 s must work). A benchmark, not a test. See bench/README.md.
#
# One nginx answers `return 200` on PORTS loopback ports; tidegate's group lists
# SERVERS servers over those ports (a port appears SERVERS/PORTS times) with
# `health_check interval=INTERVAL`. After WARMUP seconds, tidegate's user+system
# CPU time over DURATION seconds is read from /proc, and the checks made from the
# API's health_checks counters.
#
# Environment:
#   CASES="1000:off 1000:1s 1000:1s:60s 10000:off 10000:5s 10000:5s:60s"
#                      SERVERS:INTERVAL[:KEEPALIVE_TIME] (keepalive_time= of the check);
#                      INTERVAL "off": no health_check, the idle cost of that many servers
#                      (the metrics sample), to subtract
#   PORTS=1000  WARMUP=3  DURATION=20
#   JITTER=0           the checks' jitter= (0: every server exactly every interval)
#   TIDEGATE_BIN=build/release/app/tidegate  NGINX_BIN=/usr/sbin/nginx
#   STRACE=1           also count tidegate's system calls for 5 s (strace -c)
#   PERF=file          also record a cpu-clock profile for 5 s into file (perf report -i)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CASES=${CASES:-"1000:off 1000:1s 1000:1s:60s 10000:off 10000:5s 10000:5s:60s"}
PORTS=${PORTS:-1000}
WARMUP=${WARMUP:-3}
DURATION=${DURATION:-20}
JITTER=${JITTER:-0}
TIDEGATE_BIN=${TIDEGATE_BIN:-$repo/build/release/app/tidegate}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
PYTHON=${PYTHON:-/usr/bin/python3}
[[ -x $TIDEGATE_BIN ]] || { echo "no $TIDEGATE_BIN: build the release preset first" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -f $tmp/nginx/nginx.pid ]] && kill "$(cat "$tmp/nginx/nginx.pid")" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_ports() {  # N free loopback ports
  "$PYTHON" - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

read -r -a ports <<<"$(free_ports $((PORTS + 1)))"
api_port=${ports[PORTS]}
unset "ports[PORTS]"

# The backend: one nginx worker on every port.
mkdir -p "$tmp/nginx/logs"
{
  echo "worker_processes 1; pid $tmp/nginx/nginx.pid; error_log $tmp/nginx/error.log;"
  echo "worker_rlimit_nofile 65536; events { worker_connections 16384; }"
  echo "http { log_format n '.'; access_log $tmp/nginx/access.log n;"
  echo "  client_body_temp_path $tmp/nginx; proxy_temp_path $tmp/nginx; fastcgi_temp_path $tmp/nginx;"
  echo "  uwsgi_temp_path $tmp/nginx; scgi_temp_path $tmp/nginx;"
  echo "  server {"
  for p in "${ports[@]}"; do echo "    listen 127.0.0.1:$p;"; done
  echo "    location / { return 200 ok; } } }"
} >"$tmp/nginx/nginx.conf"
"$NGINX_BIN" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf"

# Checks counted where they arrive (the backend's access log), so that no API
# call runs inside the measured time.
checks_total() { wc -l <"$tmp/nginx/access.log"; }

utime() { awk '{print $14}' "/proc/$1/stat"; }
stime() { awk '{print $15}' "/proc/$1/stat"; }

printf '%-26s %10s %14s %10s %10s %10s\n' "servers @ interval" "checks/s" "CPU % of core" "user %" "system %" "RSS MiB"
for case in $CASES; do
  IFS=: read -r servers interval keepalive <<<"$case"
  extra=""
  label="$servers @ $interval"
  if [[ -n $keepalive ]]; then
    extra=" keepalive_time=$keepalive"
    label="$label, keepalive"
  fi
  dir=$tmp/tg-$servers-${keepalive:-0}
  mkdir -p "$dir/logs"
  {
    echo "daemon off; worker_processes 1; error_log $dir/error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "http { access_log off;"
    echo "  upstream hc { zone hc 16m;"
    for ((i = 0; i < servers; i++)); do echo "    server 127.0.0.1:${ports[i % PORTS]};"; done
    echo "  }"
    echo "  server { listen 127.0.0.1:$api_port;"
    echo "    location /api { api; }"
    if [[ $interval == off ]]; then
      echo "    location / { proxy_pass http://hc; }"
    else
      echo "    location / { proxy_pass http://hc; health_check interval=$interval jitter=$JITTER$extra; }"
    fi
    echo "  } }"
  } >"$dir/tidegate.conf"
  "$TIDEGATE_BIN" -p "$dir/" -c "$dir/tidegate.conf" &
  pid=$!
  pids+=("$pid")
  sleep "$WARMUP"
  c0=$(checks_total)
  u0=$(utime "$pid") s0=$(stime "$pid")
  sleep "$DURATION"
  u1=$(utime "$pid") s1=$(stime "$pid")
  c1=$(checks_total)
  rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  hz=$(getconf CLK_TCK)
  pct() { awk -v a="$1" -v b="$2" -v hz="$hz" -v d="$DURATION" 'BEGIN {printf "%.2f", (b - a) / hz / d * 100}'; }
  cpu=$(pct $((u0 + s0)) $((u1 + s1)))
  rate=$(awk -v a="$c0" -v b="$c1" -v d="$DURATION" 'BEGIN {printf "%.0f", (b - a) / d}')
  printf '%-26s %10s %14s %10s %10s %10s\n' "$label" "$rate" "$cpu" "$(pct "$u0" "$u1")" \
    "$(pct "$s0" "$s1")" "$rss"
  if grep -q "\[emerg\]\|\[alert\]" "$dir/error.log"; then
    echo "  (tidegate logged errors: $dir/error.log)"; grep -m3 "\[emerg\]\|\[alert\]" "$dir/error.log"
  fi
  unhealthy=$(curl -s "http://127.0.0.1:$api_port/api/9/http/upstreams/hc" |
    "$PYTHON" -c 'import json,sys; print(sum(p["state"] != "up" for p in json.load(sys.stdin)["peers"]))')
  echo "  servers not up at the end: $unhealthy"
  [[ -n ${STRACE:-} ]] && timeout 5 strace -c -f -p "$pid" 2>&1 | head -25
  [[ -n ${PERF:-} ]] && perf record -e cpu-clock -g -o "$PERF" -p "$pid" -- sleep 5 >/dev/null 2>&1
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
