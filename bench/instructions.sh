#!/usr/bin/env bash
# User-space instructions per proxied request, counted by callgrind: a figure
# that does not move with the noise of a shared machine, for judging hot-path
# changes. A benchmark, not a test. See bench/README.md.
#
# Each proxy runs under `valgrind --tool=callgrind` (one worker, no master
# process) in front of a backend nginx (`return 200`, upstream keepalive 64);
# a client sends exactly N keep-alive requests over C connections; the proxy is
# stopped and its total instruction count read. Two runs (N and 2N requests)
# cancel start-up and shutdown: per request = (Ir(2N) - Ir(N)) / N.
#
# Environment:
#   REQUESTS=5000 CONNS=10        N and C
#   PROXIES="nginx tidegate"      which proxies to count
#   TIDEGATE_BIN=build/release/app/tidegate  NGINX_BIN=/usr/sbin/nginx
#   EXTRA_BIN=path                also count another tidegate binary (e.g. the previous main)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUESTS=${REQUESTS:-5000}
CONNS=${CONNS:-10}
PROXIES=${PROXIES:-nginx tidegate}
TIDEGATE_BIN=${TIDEGATE_BIN:-$repo/build/release/app/tidegate}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
PYTHON=${PYTHON:-/usr/bin/python3}
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }
[[ -x $TIDEGATE_BIN || " $PROXIES " != *" tidegate "* ]] || {
  echo "no $TIDEGATE_BIN: build the release preset first" >&2
  exit 1
}

tmp=$(mktemp -d /tmp/tidegate-instr.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n ${KEEP_TMP:-} ]] || rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

backend_port=$(free_port)
mkdir -p "$tmp/backend/logs"
cat >"$tmp/backend.conf" <<EOF
daemon off; worker_processes 1; pid $tmp/backend.pid; error_log $tmp/backend.err warn;
events { worker_connections 1024; }
http { access_log off;
  client_body_temp_path $tmp/backend/cb; proxy_temp_path $tmp/backend/pt;
  fastcgi_temp_path $tmp/backend/ft; uwsgi_temp_path $tmp/backend/ut; scgi_temp_path $tmp/backend/st;
  server { listen 127.0.0.1:$backend_port; keepalive_requests 100000;
           location / { return 200 "hello"; } } }
EOF
"$NGINX_BIN" -p "$tmp/backend/" -c "$tmp/backend.conf" -e "$tmp/backend.err" &
pids+=($!)

# Sends exactly N requests over C keep-alive connections; fails on any non-200.
client() {
  "$PYTHON" - "$1" "$2" "$3" <<'EOF'
import socket, sys, threading
port, total, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
req = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
errors = []
def run(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    buf = b""
    for _ in range(n):
        s.sendall(req)
        while True:
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                head = buf[:i]
                cl = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
                if len(buf) >= i + 4 + cl:
                    if not head.startswith(b"HTTP/1.1 200"):
                        errors.append(head[:40])
                    buf = buf[i + 4 + cl:]
                    break
            buf += s.recv(65536)
    s.close()
ts = [threading.Thread(target=run, args=(total // conns,)) for _ in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    sys.exit("non-200 answers: %r" % errors[:3])
EOF
}

wait_port() {
  for _ in $(seq 600); do
    "$PYTHON" -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "port $1 never opened" >&2
  return 1
}

# Prints the proxy's total instruction count after `requests` requests.
count() {
  local name=$1 bin=$2 requests=$3 port dir
  port=$(free_port)
  dir="$tmp/$name-$requests"
  mkdir -p "$dir/logs"
  cat >"$dir/proxy.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $dir/proxy.pid; error_log $dir/error.log warn;
events { worker_connections 1024; }
http { access_log off;
  client_body_temp_path $dir/cb; proxy_temp_path $dir/pt;
  fastcgi_temp_path $dir/ft; uwsgi_temp_path $dir/ut; scgi_temp_path $dir/st;
  upstream be { server 127.0.0.1:$backend_port; keepalive 64; }
  server { listen 127.0.0.1:$port; keepalive_requests 100000;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
EOF
  # tidegate: one process (no master_process) that stays root like nginx's
  # master_process off, so callgrind can write its file at exit.
  if [[ $name != nginx ]]; then sed -i 's/ master_process off;/ user root;/' "$dir/proxy.conf"; fi
  valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out.%p" \
    "$bin" -p "$dir/" -c "$dir/proxy.conf" -e "$dir/error.log" 2>"$dir/valgrind.txt" &
  local vpid=$!
  wait_port "$port"
  client "$port" "$requests" "$CONNS"
  kill -QUIT "$vpid"
  wait "$vpid" || true
  awk '/^summary:/ {print $2}' "$dir/callgrind.out.$vpid"
}

wait_port "$backend_port"
declare -A bins=([nginx]=$NGINX_BIN [tidegate]=$TIDEGATE_BIN)
list=($PROXIES)
if [[ -n ${EXTRA_BIN:-} ]]; then
  bins[other]=$EXTRA_BIN
  list+=(other)
fi
echo "instructions per proxied request (callgrind; $REQUESTS and $((2 * REQUESTS)) keep-alive requests over $CONNS connections)"
for name in "${list[@]}"; do
  one=$(count "$name" "${bins[$name]}" "$REQUESTS")
  two=$(count "$name" "${bins[$name]}" $((2 * REQUESTS)))
  printf '%-10s %8d instructions/request   (%s)\n' "$name" $(((two - one) / REQUESTS)) "${bins[$name]}"
done
