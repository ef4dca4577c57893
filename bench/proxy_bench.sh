#!/usr/bin/env bash
# Reverse-proxy benchmark: nginx vs tidegate on the same conf.
# A benchmark, not a test. See bench/README.md.
#
# Environment:
#   ROUNDS=3          interleaved rounds (nginx and tidegate once each per round)
#   DURATION=10       seconds per wrk run
#   WARMUP=1          seconds of unmeasured wrk load before each measured run
#   WRK_THREADS=1 WRK_CONNS=50
#   IDLE_CONNS=10000  idle keep-alive connections for the memory part (0 skips it)
#   PROXIES="nginx tidegate"   which proxies to run
#   TIDEGATE_BIN=build/release/app/tidegate   (when set, nothing is built)
#   NGINX_BIN=/usr/sbin/nginx  PYTHON=/usr/bin/python3
#   LOAD_CPU=0 PROXY_CPU=1     taskset CPUs: backend+wrk, proxy
#   TLS=ecdsa|rsa     clients speak TLS to the proxy (a P-256 or RSA-2048 certificate)
#   TLS_PROTOCOLS="TLSv1.2 TLSv1.3"   the proxy's ssl_protocols (one version pins it)
#   NEW_CONNS=1       every request on a new connection (with TLS: a full handshake each)
#   SKIP_BUILD=1      do not build the release binary
#   KEEP_TMP=1        keep the temp dir (confs, error logs, wrk output)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNS=${WRK_CONNS:-50}
IDLE_CONNS=${IDLE_CONNS:-10000}
PROXIES=${PROXIES:-nginx tidegate}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
PYTHON=${PYTHON:-/usr/bin/python3}
LOAD_CPU=${LOAD_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
TLS=${TLS:-}
TLS_PROTOCOLS=${TLS_PROTOCOLS:-TLSv1.2 TLSv1.3}
NEW_CONNS=${NEW_CONNS:-0}

if [[ -z ${TIDEGATE_BIN:-} ]]; then
  TIDEGATE_BIN=$repo/build/release/app/tidegate
  if [[ ${SKIP_BUILD:-0} != 1 && " $PROXIES " == *" tidegate "* ]]; then
    ./scripts/setup
    echo "building release preset ..."
    buildlog=$(mktemp)
    if ! { cmake --preset release && cmake --build --preset release; } >"$buildlog" 2>&1; then
      cat "$buildlog" >&2
      rm -f "$buildlog"
      echo "bench: release build failed" >&2
      exit 1
    fi
    rm -f "$buildlog"
  fi
fi

die() { echo "bench: $*" >&2; exit 1; }
for tool in wrk taskset curl pgrep getconf timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/setup)"
done
[[ -x $NGINX_BIN ]] || die "nginx not found at $NGINX_BIN (run scripts/setup)"
[[ -x $PYTHON ]] || die "python not found at $PYTHON"
if [[ " $PROXIES " == *" tidegate "* ]]; then
  [[ -x $TIDEGATE_BIN ]] || die "tidegate binary not found at $TIDEGATE_BIN"
fi
if (($(nproc) < 2)); then
  echo "bench: warning: fewer than 2 CPUs; proxy shares CPU $LOAD_CPU with wrk and backend" >&2
  PROXY_CPU=$LOAD_CPU
fi

bin_of() {
  case $1 in
    nginx) echo "$NGINX_BIN" ;;
    tidegate) echo "$TIDEGATE_BIN" ;;
    *) die "unknown proxy $1" ;;
  esac
}

# Enough descriptors for 10k idle client connections (root may raise the hard limit).
if [[ $(ulimit -Hn) != unlimited ]] && (($(ulimit -Hn) < 65536)); then
  ulimit -Hn 65536 2>/dev/null || true
fi
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
# worker_rlimit_nofile 30000, unless the hard limit cannot be raised that far
# (in some sandboxes even root cannot): then the hard limit, which avoids a
# setrlimit alert per worker start and is still enough for IDLE_CONNS=10000.
RLIMIT_NOFILE=30000
if [[ $(ulimit -Hn) != unlimited ]] && (($(ulimit -Hn) < RLIMIT_NOFILE)); then
  RLIMIT_NOFILE=$(ulimit -Hn)
  echo "note: open-files hard limit is $RLIMIT_NOFILE; using worker_rlimit_nofile $RLIMIT_NOFILE"
fi

CLK_TCK=$(getconf CLK_TCK)
tmp=$(mktemp -d /tmp/tidegate-bench.XXXXXX)
PIDS=()

# ---------------------------------------------------------------- processes

# stop_proc PID: SIGTERM (nginx: fast shutdown), then SIGKILL after 5s.
stop_proc() {
  local pid=$1 kids i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kids=$(pgrep -P "$pid" || true)
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    # shellcheck disable=SC2086 # word splitting of the pid list is intended
    [[ -z $kids ]] || kill -KILL $kids 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_proc "$pid"; done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then
    echo "temp dir kept: $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pid_tree PID: the process and its direct children (nginx master + workers;
# tidegate is one process whose threads are counted in its own /proc stat).
pid_tree() {
  echo "$1"
  pgrep -P "$1" || true
}

# cpu_ticks PID: utime+stime of the process tree, in clock ticks.
cpu_ticks() {
  local total=0 p stat rest
  local -a f
  for p in $(pid_tree "$1"); do
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    rest=${stat##*) }              # drop "pid (comm) ", comm may contain spaces
    read -r -a f <<<"$rest"       # f[0] is field 3 (state): utime=f[11], stime=f[12]
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# wait_ready PID PORT NAME [SCHEME]: until SCHEME://127.0.0.1:PORT/ answers 200 (10s max).
wait_ready() {
  local pid=$1 port=$2 name=$3 scheme=${4:-http} i code
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    code=$(curl -sk -o /dev/null -m 2 -w '%{http_code}' "$scheme://127.0.0.1:$port/" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "bench: $name on port $port did not become ready" >&2
  else
    local rc=0
    wait "$pid" || rc=$?
    echo "bench: $name exited with status $rc before it became ready" >&2
  fi
  tail -n 20 "$tmp/$name/error.log" "$tmp/$name/stdout.log" >&2 2>/dev/null || true
  exit 1
}

# start_server NAME BIN CONF CPU: runs BIN in the foreground (conf says
# `daemon off;`) with prefix $tmp/NAME/, pinned to CPU. Sets SERVER_PID.
start_server() {
  local name=$1 bin=$2 conf=$3 cpu=$4
  mkdir -p "$tmp/$name"
  taskset -c "$cpu" "$bin" -p "$tmp/$name/" -c "$conf" -e "$tmp/$name/error.log" \
    >>"$tmp/$name/stdout.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
}

stop_server() {
  local pid=$1 keep=() p
  stop_proc "$pid"
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# -------------------------------------------------------------------- confs

BACKEND_PORT=$(free_port)
PROXY_PORT=$(free_port)

temp_paths='
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;'

cat >"$tmp/backend.conf" <<EOF
# Backend: a tiny fixed response. Relative paths resolve against -p.
daemon off;
worker_processes 1;
worker_rlimit_nofile $RLIMIT_NOFILE;
pid backend.pid;
error_log error.log warn;
events {
    worker_connections 8192;
}
http {
    access_log off;$temp_paths
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$BACKEND_PORT backlog=4096;
        location / {
            return 200 "ok\n";
        }
    }
}
EOF

# TLS=...: a self-signed certificate for the proxy (absolute paths: both proxies
# read the same files).
SCHEME=http
LISTEN_TLS=
if [[ -n $TLS ]]; then
  case $TLS in
    ecdsa) keyopts=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    rsa) keyopts=(-newkey rsa:2048) ;;
    *) die "TLS must be ecdsa or rsa" ;;
  esac
  openssl req -x509 "${keyopts[@]}" -nodes -keyout "$tmp/proxy.key" -out "$tmp/proxy.pem" \
    -days 2 -subj /CN=bench.local -addext subjectAltName=DNS:bench.local 2>/dev/null ||
    die "openssl could not make a certificate"
  SCHEME=https
  LISTEN_TLS=" ssl;
        ssl_certificate $tmp/proxy.pem;
        ssl_certificate_key $tmp/proxy.key;
        ssl_protocols $TLS_PROTOCOLS;
        ssl_session_cache off;
        ssl_session_tickets off"
fi
WRK_HEADERS=()
((NEW_CONNS == 0)) || WRK_HEADERS=(-H "Connection: close")

# The proxy conf: the very same file for nginx and tidegate (each run gets its
# own prefix directory; every path in it is relative to the prefix).
cat >"$tmp/proxy.conf" <<EOF
daemon off;
worker_processes 1;
worker_rlimit_nofile $RLIMIT_NOFILE;
pid proxy.pid;
error_log error.log warn;
events {
    worker_connections 20000;
}
http {
    access_log off;$temp_paths

    upstream be {
        server 127.0.0.1:$BACKEND_PORT;
        keepalive 64;
    }

    server {
        listen 127.0.0.1:$PROXY_PORT$LISTEN_TLS;
        location / {
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF

# -------------------------------------------------------------------- wrk

# to_ms VALUE_WITH_UNIT (wrk prints e.g. 812.00us, 1.23ms, 1.01s, 1.50m)
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}

run_wrk() { # run_wrk SECONDS OUTFILE
  timeout $(($1 + 30)) taskset -c "$LOAD_CPU" \
    wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$1"s --latency "${WRK_HEADERS[@]}" \
    "$SCHEME://127.0.0.1:$PROXY_PORT/" >"$2" 2>&1
}

declare -A RPS P99 CPU IDLE_KB
for name in $PROXIES; do RPS[$name]=""; P99[$name]=""; CPU[$name]=""; done

measure() { # measure NAME ROUND
  local name=$1 round=$2 pid out t0 t1 requests rps p99 errs non2xx cpu_us
  start_server "$name" "$(bin_of "$name")" "$tmp/proxy.conf" "$PROXY_CPU"
  pid=$SERVER_PID
  wait_ready "$pid" "$PROXY_PORT" "$name" "$SCHEME"
  if ((WARMUP > 0)); then run_wrk "$WARMUP" "$tmp/$name/warmup.txt" || true; fi
  out=$tmp/$name/wrk-round$round.txt
  t0=$(cpu_ticks "$pid")
  run_wrk "$DURATION" "$out" || { cat "$out" >&2; die "wrk failed against $name"; }
  t1=$(cpu_ticks "$pid")
  kill -0 "$pid" 2>/dev/null || die "$name exited during the run (see $tmp/$name/error.log, KEEP_TMP=1)"
  stop_server "$pid"

  requests=$(awk '/ requests in /{print $1}' "$out")
  rps=$(awk '/^Requests\/sec:/{print $2}' "$out")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  errs=$(awk '/Socket errors:/{ n = 0; for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i; print n }' "$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$out")
  [[ -n $requests && -n $rps ]] || { cat "$out" >&2; die "could not parse wrk output"; }
  cpu_us=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
  RPS[$name]+="$rps "
  P99[$name]+="$p99 "
  CPU[$name]+="$cpu_us "
  printf 'round %d %-8s %10.0f req/s   p99 %8.3f ms   %7.2f CPU us/req   (%d requests' \
    "$round" "$name" "$rps" "$p99" "$cpu_us" "$requests"
  [[ -z ${errs:-} || $errs == 0 ]] || printf ', %d socket errors' "$errs"
  [[ -z ${non2xx:-} ]] || printf ', %d non-2xx/3xx' "$non2xx"
  printf ')\n'
}

idle_memory() { # idle_memory NAME
  local name=$1 pid pids line
  start_server "$name" "$(bin_of "$name")" "$tmp/proxy.conf" "$PROXY_CPU"
  pid=$SERVER_PID
  wait_ready "$pid" "$PROXY_PORT" "$name" "$SCHEME"
  # Warm up so that lazily allocated state is in the baseline, not the growth.
  run_wrk 1 "$tmp/$name/idle-warmup.txt" || true
  sleep 1
  pids=$(pid_tree "$pid" | paste -sd, -)
  line=$(timeout 240 taskset -c "$LOAD_CPU" "$PYTHON" "$repo/bench/idle_conns.py" \
    --port "$PROXY_PORT" --count "$IDLE_CONNS" --pids "$pids" --timeout 200 ${TLS:+--tls} \
    2>"$tmp/$name/idle.err" | grep '^RESULT' || true)
  kill -0 "$pid" 2>/dev/null || die "$name exited during the idle test"
  stop_server "$pid"
  sed 's/^/  /' "$tmp/$name/idle.err"
  [[ -n $line ]] || die "idle_conns.py gave no result for $name"
  local ok before after
  ok=$(sed -E 's/.* ok=([0-9]+).*/\1/' <<<"$line")
  before=$(sed -E 's/.* rss_before_kb=([0-9]+).*/\1/' <<<"$line")
  after=$(sed -E 's/.* rss_after_kb=([0-9]+).*/\1/' <<<"$line")
  ((ok > 0)) || die "no idle connection succeeded against $name"
  # RSS growth scaled to 10,000 connections, in KiB.
  IDLE_KB[$name]=$(awk -v a="$after" -v b="$before" -v n="$ok" 'BEGIN { printf "%.0f", (a - b) * 10000 / n }')
  printf 'idle %-8s RSS %d -> %d KiB with %d idle connections: %.1f MiB per 10k (%.0f bytes/conn)\n' \
    "$name" "$before" "$after" "$ok" "$(awk -v k="${IDLE_KB[$name]}" 'BEGIN{print k/1024}')" \
    "$(awk -v k="${IDLE_KB[$name]}" 'BEGIN{print k*1024/10000}')"
}

median() { # median "v1 v2 ..."
  # shellcheck disable=SC2086 # the list is split on purpose
  printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "n/a"; exit }
    if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
    print m }'
}

ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

# -------------------------------------------------------------------- main

mode=""
[[ -z $TLS ]] || mode+=" TLS=$TLS ($TLS_PROTOCOLS)"
((NEW_CONNS == 0)) || mode+=" new connection per request"
echo "tidegate proxy bench: rounds=$ROUNDS duration=${DURATION}s wrk -t$WRK_THREADS -c$WRK_CONNS$mode;" \
  "backend+wrk on CPU $LOAD_CPU, proxy on CPU $PROXY_CPU"
echo "nginx:    $NGINX_BIN"
[[ " $PROXIES " != *" tidegate "* ]] || echo "tidegate: $TIDEGATE_BIN"
echo "temp dir: $tmp"

start_server backend "$NGINX_BIN" "$tmp/backend.conf" "$LOAD_CPU"
BACKEND_PID=$SERVER_PID
wait_ready "$BACKEND_PID" "$BACKEND_PORT" backend

read -r -a order <<<"$PROXIES"
for ((r = 1; r <= ROUNDS; r++)); do
  # Alternate the order each round so that drift on the machine hits both.
  if ((r % 2 == 0)); then
    for ((i = ${#order[@]} - 1; i >= 0; i--)); do measure "${order[i]}" "$r"; done
  else
    for name in "${order[@]}"; do measure "$name" "$r"; done
  fi
done

if ((IDLE_CONNS > 0)); then
  for name in "${order[@]}"; do idle_memory "$name"; done
fi

val() { # val ASSOC_NAME KEY
  local -n arr=$1
  if [[ -n ${arr[$2]+x} && -n ${arr[$2]} ]]; then echo "${arr[$2]}"; else echo "n/a"; fi
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

n_rps=$(median "$(val RPS nginx)");   t_rps=$(median "$(val RPS tidegate)")
n_p99=$(median "$(val P99 nginx)");   t_p99=$(median "$(val P99 tidegate)")
n_cpu=$(median "$(val CPU nginx)");   t_cpu=$(median "$(val CPU tidegate)")
n_mem=$(val IDLE_KB nginx);           t_mem=$(val IDLE_KB tidegate)
[[ $n_mem == n/a ]] || n_mem=$(mib "$n_mem")
[[ $t_mem == n/a ]] || t_mem=$(mib "$t_mem")

echo
echo "| median of $ROUNDS rounds (${DURATION}s, wrk -t$WRK_THREADS -c$WRK_CONNS) | nginx | tidegate | tidegate/nginx |"
echo "|---|---:|---:|---:|"
printf '| requests/s (higher is better) | %s | %s | %s |\n' "$n_rps" "$t_rps" "$(ratio "$t_rps" "$n_rps")"
printf '| p99 latency, ms (lower is better) | %s | %s | %s |\n' "$n_p99" "$t_p99" "$(ratio "$t_p99" "$n_p99")"
printf '| proxy CPU, us/request (lower is better) | %s | %s | %s |\n' "$n_cpu" "$t_cpu" "$(ratio "$t_cpu" "$n_cpu")"
if ((IDLE_CONNS > 0)); then
  printf '| RSS growth per 10k idle keep-alive conns, MiB (lower is better) | %s | %s | %s |\n' \
    "$n_mem" "$t_mem" "$(ratio "$t_mem" "$n_mem")"
fi
