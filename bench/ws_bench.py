#!/usr/bin/python3
"""WebSocket benchmark: tidegate against nginx on the same conf. A benchmark, not a test.

For each proxy (1 worker, pinned to PROXY_CPU; backend and client pinned to LOAD_CPU):

  (a) idle tunnels: opens N WebSocket tunnels through the proxy (handshake only) and
      reports the proxy's RSS growth per tunnel (VmRSS of the process tree, after a
      warm-up that opens, uses and closes 200 tunnels, so first-use allocations are in
      the baseline);
  (b) echo latency: CONNS tunnels send RATE messages/s in total (32-byte text frames,
      on a fixed schedule) for DURATION s after WARMUP s; reports p50/p99/max of the
      round trip and the proxy's CPU time per message.

The backend is a minimal asyncio server in a subprocess: it answers the 101 handshake
(with the right Sec-WebSocket-Accept), echoes frames unmasked, answers ping and close;
a request without Upgrade gets "200 ok". Client and backend are stdlib Python.

Environment (all optional):
  N=10000              idle tunnels (capped by the open-files hard limit: the proxy needs
                       2 descriptors per tunnel)
  DURATION=10 WARMUP=1 seconds of measured / unmeasured echo load
  RATE=2000 CONNS=50   messages per second in total, over CONNS tunnels
  ROUNDS=1             interleaved rounds (order flips each round); medians are reported
  PROXIES="nginx tidegate"
  TIDEGATE_BIN         default build/release/app/tidegate (build/debug/... if missing)
  NGINX_BIN=/usr/sbin/nginx
  LOAD_CPU=0 PROXY_CPU=1
  TIME_LIMIT=900       hard limit for the whole run, in seconds
  KEEP_TMP=1           keep the temp dir (confs, error logs)

Run as root on an idle machine:  /usr/bin/python3 bench/ws_bench.py
Loopback only; every process it starts is stopped at exit (SIGTERM, then SIGKILL).
"""

import asyncio
import base64
import ctypes
import gc
import hashlib
import os
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_float(name, default):
    return float(os.environ.get(name, default))


# -- frames (RFC 6455) --------------------------------------------------------------------------


def xor_mask(data, key):
    if not data:
        return b""
    n = len(data)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ k).to_bytes(n, "big")


def frame(opcode, payload, mask):
    n = len(payload)
    head = bytearray([0x80 | opcode])
    m = 0x80 if mask else 0
    if n < 126:
        head.append(m | n)
    elif n < 65536:
        head.append(m | 126)
        head += struct.pack("!H", n)
    else:
        head.append(m | 127)
        head += struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        return bytes(head) + key + xor_mask(payload, key)
    return bytes(head) + payload


def parse_frame(buf):
    """(opcode, payload, consumed) of the first complete frame in buf, or None."""
    if len(buf) < 2:
        return None
    op = buf[0] & 0x0F
    masked = buf[1] & 0x80
    n = buf[1] & 0x7F
    off = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n = struct.unpack_from("!H", buf, 2)[0]
        off = 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n = struct.unpack_from("!Q", buf, 2)[0]
        off = 10
    key = None
    if masked:
        if len(buf) < off + 4:
            return None
        key = bytes(buf[off:off + 4])
        off += 4
    if len(buf) < off + n:
        return None
    payload = bytes(buf[off:off + n])
    if key:
        payload = xor_mask(payload, key)
    return op, payload, off + n


# -- backend (subprocess role) --------------------------------------------------------------------


class EchoBackend(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        self.buf = bytearray()
        self.upgraded = False

    def data_received(self, data):
        self.buf += data
        if not self.upgraded:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head = bytes(self.buf[:i])
            del self.buf[:i + 4]
            key, upgrade = None, False
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                k = k.strip().lower()
                if k == b"sec-websocket-key":
                    key = v.strip()
                elif k == b"upgrade" and b"websocket" in v.lower():
                    upgrade = True
            if not upgrade or key is None:
                self.t.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
                self.t.close()
                return
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            self.t.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            self.upgraded = True
        while True:
            f = parse_frame(self.buf)
            if f is None:
                return
            op, payload, used = f
            del self.buf[:used]
            if op == 0x8:
                self.t.write(frame(0x8, payload[:2], False))
                self.t.close()
                return
            if op == 0x9:
                self.t.write(frame(0xA, payload, False))
            elif op in (0x1, 0x2):
                self.t.write(frame(op, payload, False))


def run_backend():
    raise_nofile()
    gc.disable()  # no collector pauses in the latency figures (nothing here makes cycles)
    loop = asyncio.new_event_loop()
    srv = loop.run_until_complete(loop.create_server(EchoBackend, "127.0.0.1", 0, backlog=4096))
    print(srv.sockets[0].getsockname()[1], flush=True)
    # exits with its parent (stdin closes) or on SIGTERM
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_reader(sys.stdin.fileno(), lambda: loop.stop() if not os.read(sys.stdin.fileno(), 1) else None)
    loop.run_forever()


# -- helpers -----------------------------------------------------------------------------------------


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, task)) as f:
                    todo.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def rss_kb(pid):
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_seconds(pid):
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            total += int(rest[11]) + int(rest[12])
        except (OSError, IndexError):
            pass
    return total / CLK_TCK


_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class Proxy:
    CONF = """daemon off;
worker_processes 1;
worker_rlimit_nofile {rlim};
pid {prefix}/proxy.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections {wc}; }}
http {{
    client_body_temp_path {prefix}/client_body_temp; proxy_temp_path {prefix}/proxy_temp;
    fastcgi_temp_path {prefix}/fastcgi_temp; uwsgi_temp_path {prefix}/uwsgi_temp;
    scgi_temp_path {prefix}/scgi_temp;
    access_log off;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://127.0.0.1:{backend};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
    }}
}}
"""

    def __init__(self, name, binary, tmp, backend_port, rlim, cpu, n):
        self.name = name
        self.binary = binary
        self.prefix = os.path.join(tmp, name)
        os.makedirs(self.prefix, exist_ok=True)
        os.chmod(self.prefix, 0o755)
        os.chmod(tmp, 0o755)
        self.port = free_port()
        self.conf = os.path.join(self.prefix, "proxy.conf")
        with open(self.conf, "w") as f:
            # nginx starts reusing connections once fewer than 1/16 are free: leave room
            # (worker_connections may exceed the open-files limit; nginx then warns)
            wc = max(1024, 2 * n + 2 * n // 15 + 512)
            f.write(self.CONF.format(rlim=rlim, wc=wc, prefix=self.prefix, port=self.port,
                                     backend=backend_port))
        self.cpu = cpu
        self.proc = None

    def start(self):
        out = open(os.path.join(self.prefix, "stdout.log"), "wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(self.cpu), self.binary, "-p", self.prefix + "/", "-c", self.conf,
             "-e", os.path.join(self.prefix, "error.log")],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent)
        out.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s at startup:\n%s" % (self.name, self.proc.returncode,
                                                                          self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("%s not ready:\n%s" % (self.name, self.log_tail()))

    def log_tail(self):
        try:
            with open(os.path.join(self.prefix, "error.log"), errors="replace") as f:
                return "".join(f.readlines()[-15:])
        except OSError:
            return ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)


# -- client ------------------------------------------------------------------------------------------


def handshake(path="/"):
    """(request bytes, expected Sec-WebSocket-Accept value)."""
    key = base64.b64encode(os.urandom(16))
    req = (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    return req, base64.b64encode(hashlib.sha1(key + GUID).digest())


def check_101(head, accept):
    """Checks the 101 as a WebSocket client must (status, Upgrade, Connection, accept key)."""
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 101"):
        raise ConnectionError("no 101: %r" % lines[0])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get(b"upgrade", b"").lower() != b"websocket":
        raise ConnectionError("101 without Upgrade: websocket")
    if b"upgrade" not in [t.strip() for t in hdrs.get(b"connection", b"").lower().split(b",")]:
        raise ConnectionError("101 with Connection: %r" % hdrs.get(b"connection"))
    if hdrs.get(b"sec-websocket-accept") != accept:
        raise ConnectionError("bad Sec-WebSocket-Accept")


async def open_tunnel(port, timeout=10.0):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        req, accept = handshake()
        writer.write(req)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        check_101(head, accept)
        return reader, writer
    except BaseException:
        abort(writer)
        raise


def abort(writer):
    """Close with RST (SO_LINGER 0): no TIME_WAIT left behind."""
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


async def read_frame(reader):
    h = await reader.readexactly(2)
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    if h[1] & 0x80:
        await reader.readexactly(4)  # server frames are not masked; tolerate it anyway
    return h[0] & 0x0F, await reader.readexactly(n)


async def echo_once(reader, writer, payload=b"warm", timeout=5.0):
    writer.write(frame(0x1, payload, True))
    op, got = await asyncio.wait_for(read_frame(reader), timeout)
    if got != payload:
        raise ConnectionError("bad echo")


async def open_many(port, n, concurrency=200, max_failures=50, deadline_s=180.0):
    sem = asyncio.Semaphore(concurrency)
    tunnels, failures = [], []
    deadline = time.monotonic() + deadline_s

    async def one():
        if len(failures) >= max_failures or time.monotonic() > deadline:
            return
        async with sem:
            if len(failures) >= max_failures or time.monotonic() > deadline:
                return
            try:
                tunnels.append(await open_tunnel(port))
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
                failures.append(repr(e))
    await asyncio.gather(*(one() for _ in range(n)))
    return tunnels, failures


async def idle_phase(px, n):
    # warm-up: tunnels opened, used and closed, so first-use allocations are in the baseline
    warm, wfail = await open_many(px.port, 200, max_failures=10)
    for r, w in warm:
        try:
            await echo_once(r, w)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError) as e:
            wfail.append("warm-up echo failed: %r" % e)
        abort(w)
    if wfail:
        return {"opened": 0, "failed": len(wfail), "error": wfail[:1]}
    await asyncio.sleep(1.0)
    before = rss_kb(px.proc.pid)
    t0 = time.monotonic()
    tunnels, failures = await open_many(px.port, n)
    open_s = time.monotonic() - t0
    await asyncio.sleep(2.0)
    after = rss_kb(px.proc.pid)
    # after the measurement: every tunnel must still be open and echo
    alive = 0
    dead = []

    async def check(r, w):
        nonlocal alive
        try:
            await echo_once(r, w, b"alive", timeout=20)
            alive += 1
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError) as e:
            dead.append(repr(e))
    sem = asyncio.Semaphore(500)

    async def bounded(r, w):
        async with sem:
            await check(r, w)
    await asyncio.gather(*(bounded(r, w) for r, w in tunnels))
    for r, w in tunnels:
        abort(w)
    await asyncio.sleep(0.5)
    res = {"opened": len(tunnels), "failed": len(failures), "alive": alive,
           "rss_before_kb": before, "rss_after_kb": after, "open_s": open_s, "kb_per_tunnel": None}
    if tunnels and alive == len(tunnels):
        res["kb_per_tunnel"] = (after - before) / len(tunnels)
    elif tunnels:
        res["error"] = ["%d of %d tunnels no longer echoed after the measurement (%s)"
                        % (len(tunnels) - alive, len(tunnels), dead[0] if dead else "")]
    if failures:
        res["error"] = failures[:1]
    return res


async def latency_phase(px, conns, rate, duration, warmup):
    tunnels, failures = await open_many(px.port, conns, max_failures=5)
    if len(tunnels) < conns:
        for r, w in tunnels:
            abort(w)
        return {"error": failures[:1] or ["could not open %d tunnels" % conns]}
    interval = conns / rate
    payload = b"x" * 32
    gc.collect()
    gc.disable()  # no collector pauses in the latency figures
    samples = []
    errors = []
    sent = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    measure_from = start + warmup
    end = measure_from + duration
    cpu = {}

    async def run(i, reader, writer):
        nonlocal sent
        t_next = start + interval * i / conns
        while t_next < end:
            delay = t_next - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            t_send = time.perf_counter()
            writer.write(frame(0x1, payload, True))
            sent += 1
            try:
                op, got = await asyncio.wait_for(read_frame(reader), 5)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                errors.append(repr(e))
                return
            if got != payload:
                errors.append("bad echo")
                return
            if t_next >= measure_from:
                samples.append(time.perf_counter() - t_send)
            t_next += interval

    async def cpu_marks():
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        cpu["start"] = cpu_seconds(px.proc.pid)
        await asyncio.sleep(max(0.0, end - loop.time()))
        cpu["end"] = cpu_seconds(px.proc.pid)

    try:
        await asyncio.gather(cpu_marks(), *(run(i, r, w) for i, (r, w) in enumerate(tunnels)))
    finally:
        gc.enable()
    for r, w in tunnels:
        abort(w)
    if not samples:
        return {"error": errors[:1] or ["no samples"]}
    samples.sort()

    def pct(p):
        return samples[min(len(samples) - 1, int(p / 100.0 * len(samples)))] * 1e6
    cpu_s = cpu.get("end", 0) - cpu.get("start", 0)
    return {"messages": len(samples), "errors": len(errors), "p50_us": pct(50), "p99_us": pct(99),
            "max_us": samples[-1] * 1e6, "rate": len(samples) / duration,
            "cpu_us_per_msg": cpu_s * 1e6 / len(samples)}


# -- main ------------------------------------------------------------------------------------------------


def fmt(v, digits=1):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return "%.*f" % (digits, v)
    return str(v)


def main():
    n = env_int("N", 10000)
    duration = env_float("DURATION", 10)
    warmup = env_float("WARMUP", 1)
    rate = env_float("RATE", 2000)
    conns = env_int("CONNS", 50)
    rounds = env_int("ROUNDS", 1)
    proxies = os.environ.get("PROXIES", "nginx tidegate").split()
    load_cpu = env_int("LOAD_CPU", 0)
    proxy_cpu = env_int("PROXY_CPU", 1)
    time_limit = env_int("TIME_LIMIT", 900)
    nginx_bin = os.environ.get("NGINX_BIN", "/usr/sbin/nginx")
    tg_bin = os.environ.get("TIDEGATE_BIN")
    if not tg_bin:
        tg_bin = os.path.join(REPO, "build/release/app/tidegate")
        if not os.access(tg_bin, os.X_OK):
            tg_bin = os.path.join(REPO, "build/debug/app/tidegate")
            print("note: no release build; using %s (debug figures are not representative)" % tg_bin)
    bins = {"nginx": nginx_bin, "tidegate": tg_bin}
    for p in proxies:
        if p not in bins:
            sys.exit("ws_bench: unknown proxy %s" % p)
        if not os.access(bins[p], os.X_OK):
            sys.exit("ws_bench: %s binary not found at %s" % (p, bins[p]))
    if shutil.which("taskset") is None:
        sys.exit("ws_bench: taskset not found")
    if os.cpu_count() < 2:
        print("note: fewer than 2 CPUs; the proxy shares CPU %d with client and backend" % load_cpu)
        proxy_cpu = load_cpu

    rlim = raise_nofile()
    # the proxy holds 2 descriptors per tunnel (client + upstream), plus a few
    max_n = (rlim - 200) // 2
    if n > max_n:
        print("note: open-files limit is %d; N lowered from %d to %d (the proxy needs 2 per tunnel)"
              % (rlim, n, max_n))
        n = max_n

    signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError("TIME_LIMIT reached")))
    signal.alarm(time_limit)
    os.sched_setaffinity(0, {load_cpu})
    tmp = tempfile.mkdtemp(prefix="tidegate-wsbench-")
    backend = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--backend"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=_die_with_parent)
    running = []
    results = {p: [] for p in proxies}
    try:
        os.sched_setaffinity(backend.pid, {load_cpu})
        backend_port = int(backend.stdout.readline())
        print("ws_bench: N=%d, echo %g msg/s over %d tunnels for %gs (+%gs warm-up), %d round(s); "
              "proxy on CPU %d, client+backend on CPU %d" % (n, rate, conns, duration, warmup, rounds,
                                                             proxy_cpu, load_cpu))
        for rnd in range(rounds):
            order = proxies if rnd % 2 == 0 else list(reversed(proxies))
            for name in order:
                res = {}
                # a fresh proxy for each phase, so one does not disturb the other
                for phase, fn in (("echo", lambda p: latency_phase(p, conns, rate, duration, warmup)),
                                  ("idle", lambda p: idle_phase(p, n))):
                    px = Proxy(name, bins[name], tmp, backend_port, rlim, proxy_cpu, n)
                    running.append(px)
                    try:
                        px.start()
                        res[phase] = asyncio.run(fn(px))
                    except RuntimeError as e:  # did not start
                        res[phase] = {"error": [str(e).splitlines()[0]]}
                        print(str(e), file=sys.stderr)
                    finally:
                        px.stop()
                        running.remove(px)
                idle, echo = res["idle"], res["echo"]
                print("round %d %-8s idle: opened %s/%d, alive after %s, RSS %s -> %s KB, %s KB/tunnel%s | "
                      "echo: %s msgs, p50 %s us, p99 %s us, max %s us, %s CPU us/msg%s" % (
                          rnd + 1, name, idle.get("opened"), n, idle.get("alive"),
                          idle.get("rss_before_kb"), idle.get("rss_after_kb"), fmt(idle.get("kb_per_tunnel"), 2),
                          (" (error: %s)" % idle["error"][0]) if idle.get("error") else "",
                          echo.get("messages"), fmt(echo.get("p50_us")), fmt(echo.get("p99_us")),
                          fmt(echo.get("max_us")), fmt(echo.get("cpu_us_per_msg"), 2),
                          (" (error: %s)" % echo["error"][0]) if echo.get("error") else ""), flush=True)
                results[name].append(res)
    finally:
        signal.alarm(0)
        for px in running:
            px.stop()
        backend.stdin.close()
        try:
            backend.wait(5)
        except subprocess.TimeoutExpired:
            backend.kill()
            backend.wait()
        if os.environ.get("KEEP_TMP") == "1":
            print("temp dir kept: %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    def med(name, phase, key):
        vals = [r[phase].get(key) for r in results.get(name, []) if r[phase].get(key) is not None]
        return statistics.median(vals) if vals else None

    rows = [
        ("idle tunnels opened (of %d)" % n, "idle", "opened", 0, False),
        ("proxy RSS growth, KB per idle tunnel", "idle", "kb_per_tunnel", 2, True),
        ("echo p50 round trip, us", "echo", "p50_us", 0, True),
        ("echo p99 round trip, us", "echo", "p99_us", 0, True),
        ("proxy CPU us per echoed message", "echo", "cpu_us_per_msg", 2, True),
        ("echoed messages measured", "echo", "messages", 0, False),
    ]
    print()
    print("| metric | %s |%s" % (" | ".join(proxies),
                                " tidegate/nginx |" if {"nginx", "tidegate"} <= set(proxies) else ""))
    print("|---|%s" % ("---|" * (len(proxies) + (1 if {"nginx", "tidegate"} <= set(proxies) else 0))))
    for label, phase, key, digits, ratio in rows:
        vals = [med(p, phase, key) for p in proxies]
        line = "| %s | %s |" % (label, " | ".join(fmt(float(v) if isinstance(v, (int, float)) else v, digits)
                                                   for v in vals))
        if {"nginx", "tidegate"} <= set(proxies):
            a, b = med("tidegate", phase, key), med("nginx", phase, key)
            line += " %s |" % (("%.2f" % (a / b)) if ratio and a is not None and b else "")
        print(line)
    print("\n(lower is better for every ratio; medians over %d round(s))" % rounds)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--backend":
        run_backend()
    else:
        main()
