"""Process and client harness for the tidegate integration tests.

The binary under test comes from $TIDEGATE_BIN (CMake sets it), else
build/debug/app/tidegate in the repo. Pointing TIDEGATE_BIN at /usr/sbin/nginx
runs the same tests against real nginx; ``is_nginx()`` tells which one is under
test so that the few tidegate-only checks can be skipped there.

Run a file from the repo root:  /usr/bin/python3 -m unittest -v tests.integration.test_cli
(or by path: each test file puts the repo root on sys.path).
Set TIDEGATE_KEEP_TMP=1 to keep the proxies' prefix directories for inspection.

Tests derive from ``IntegrationTest``: proxies, backends and clients started through
its helpers are stopped in cleanups even when the test fails. A proxy that crashes
(dies of a signal) or ignores SIGQUIT is reported as an error of the test that ran
it, with its conf, error log and stderr. Proxies get PR_SET_PDEATHSIG, so they also
die if the test process is killed (e.g. by a ctest timeout).
"""

from __future__ import annotations

import atexit
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "build" / "debug" / "app" / "tidegate"
CONF_NAME = "tidegate.conf"
# Socket timeout of the test clients: every answer a test waits for is expected within
# milliseconds, so a hanging proxy fails the test quickly. Slow cases pass their own.
DEFAULT_CLIENT_TIMEOUT = 5.0

# nginx's error-log line prefix: "2024/01/31 12:00:00 [error] 123#123: ".
ERROR_LOG_LINE_RE = re.compile(
    r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(debug|info|notice|warn|error|crit|alert|emerg)\] \d+#\d+: ")


def binary() -> str:
    return os.environ.get("TIDEGATE_BIN") or str(DEFAULT_BIN)


def _check_binary():
    b = binary()
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        raise AssertionError(
            "binary under test not found or not executable: %s "
            "(build tidegate, or set TIDEGATE_BIN)" % b)
    return b


_IS_NGINX = None


def is_nginx() -> bool:
    """True when the binary under test is real nginx (used to validate the tests)."""
    global _IS_NGINX
    if _IS_NGINX is None:
        b = binary()
        if os.path.basename(b) == "nginx":
            _IS_NGINX = True
        else:
            try:
                r = subprocess.run([b, "-v"], capture_output=True, timeout=10)
                _IS_NGINX = b"nginx version: nginx/" in (r.stderr + r.stdout)
            except (OSError, subprocess.TimeoutExpired):
                _IS_NGINX = False
    return _IS_NGINX


def _kernel_port_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


_PORT_RANDOM = random.Random(os.getpid() ^ int(time.time() * 1000))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, for a proxy to listen on.

    Taken below the kernel's ephemeral range: a port the kernel handed out with bind(0)
    and took back could be handed out again at once to a backend or provider instance
    binding port 0 (they all do), and the proxy started next would find it taken."""
    low, high = _kernel_port_range()
    top = low - 1 if low > 12000 else 65535
    bottom = 10000 if low > 12000 else high + 1
    for _ in range(200):
        port = _PORT_RANDOM.randint(bottom, top)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # crowded: the kernel's pick
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(args, timeout=10.0, cwd=None):
    """Runs the binary with ``args`` (list of str); returns (rc, stdout, stderr) as text."""
    b = _check_binary()
    r = subprocess.run([b] + [str(a) for a in args], capture_output=True, timeout=timeout,
                       cwd=cwd, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def make_prefix() -> str:
    """A fresh prefix directory with a logs/ subdirectory (mode 0755 so nginx's
    unprivileged workers can use it when validating against nginx as root).
    Returned with a trailing slash."""
    d = tempfile.mkdtemp(prefix="tidegate-it-")
    os.chmod(d, 0o755)
    # as in an installed prefix: the default access log is <prefix>/logs/access.log
    os.mkdir(os.path.join(d, "logs"), 0o755)
    return d.rstrip("/") + "/"


def remove_prefix(prefix: str):
    if os.environ.get("TIDEGATE_KEEP_TMP"):
        return
    shutil.rmtree(prefix, ignore_errors=True)


def nginx_temp_paths(prefix: str) -> str:
    """The temp-path directives real nginx needs (as root its compiled-in defaults
    live under /var/lib/nginx); all on one line so line numbers don't move."""
    p = prefix.rstrip("/")
    return " ".join("%s %s/%s;" % (d, p, sub) for d, sub in (
        ("client_body_temp_path", "client_body_temp"),
        ("proxy_temp_path", "proxy_temp"),
        ("fastcgi_temp_path", "fastcgi_temp"),
        ("uwsgi_temp_path", "uwsgi_temp"),
        ("scgi_temp_path", "scgi_temp"),
    ))


_HTTP_OPEN_RE = re.compile(r"^(\s*http\s*\{)", re.M)
_EVENTS_RE = re.compile(r"^\s*events\s*\{", re.M)


def prepare_conf(text: str, prefix: str, main: bool = True, events: bool = True) -> str:
    """Completes a test's conf text without moving any of its lines:

    - ``@PREFIX@`` is replaced by the prefix directory (no trailing slash);
    - with ``main``: ``daemon off; pid <prefix>/tidegate.pid; error_log <prefix>/error.log info;``
      are appended at the end (main context);
    - with ``events`` and no ``events {}`` block in the text: ``events {}`` is appended;
    - under nginx only: the temp-path directives are put on the ``http {`` line.
    """
    p = prefix.rstrip("/")
    text = text.replace("@PREFIX@", p)
    if is_nginx():
        text = _HTTP_OPEN_RE.sub(lambda m: m.group(1) + " " + nginx_temp_paths(prefix), text, count=1)
    tail = []
    if events and not _EVENTS_RE.search(text):
        tail.append("events { worker_connections 1024; }")
    if main:
        tail.append("daemon off;")
        tail.append("pid %s/tidegate.pid;" % p)
        tail.append("error_log %s/error.log info;" % p)
    if tail:
        if not text.endswith("\n"):
            text += "\n"
        text += "\n".join(tail) + "\n"
    return text


_LISTEN_RE = re.compile(r"^\s*listen\s+(?:(?:127\.0\.0\.1|localhost|\*):)?(\d+)\b", re.M)


def listen_ports(conf_text: str):
    return [int(p) for p in _LISTEN_RE.findall(conf_text)]


def can_connect(port: int, timeout=0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _children(pid: int):
    out = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def process_tree(pid: int):
    """pid and all its descendants (nginx: master + workers; tidegate: itself)."""
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(_children(p))
    return seen


def rss_kb_of(pid: int) -> int:
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


_LIVE = set()

try:
    import ctypes
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover
    _prctl = None


def _die_with_parent():
    """In the child before exec: SIGKILL it if the test process dies (e.g. killed by a
    ctest timeout, when no cleanup runs). Proxies must be started from the main thread."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


@atexit.register
def _kill_leftovers():
    for p in list(_LIVE):
        p.kill()


class Background:
    """Runs fn in a thread; .result is its return value or the exception it raised."""

    def __init__(self, fn):
        self.result = None
        self._t = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._t.start()

    def _run(self, fn):
        try:
            self.result = fn()
        except BaseException as e:  # noqa: B902
            self.result = e

    def join(self, timeout):
        self._t.join(timeout)
        return not self._t.is_alive()


class ProxyStartError(AssertionError):
    pass


class Proxy:
    """One running instance of the binary under test in a fresh prefix directory.

    ``conf`` is the nginx conf text (placeholders already filled by the test; see
    ``prepare_conf`` for what the harness adds). ``files`` are extra files written
    into the prefix first (e.g. for ``include``). ``ports`` defaults to every
    ``listen`` port in the conf; start() waits (``timeout``) until the pid file
    exists and all of them accept connections.

        with Proxy(conf) as px: ...
        px = Proxy(conf).start(); self.addCleanup(px.cleanup)   # or harness.start_proxy(self, conf)
    """

    def __init__(self, conf: str, *, main: bool = True, ports=None, files=None, extra_args=(),
                 timeout: float = 10.0, prefix: str | None = None):
        self.prefix = prefix or make_prefix()
        self.conf_path = os.path.join(self.prefix, CONF_NAME)
        self.error_log_path = os.path.join(self.prefix, "error.log")
        self.pid_path = os.path.join(self.prefix, "tidegate.pid")
        self.main = main
        self.files = dict(files or {})
        self.extra_args = list(extra_args)
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.returncode = None
        self._killed = False  # SIGKILLed by the harness (not a crash)
        self.stop_timed_out = False
        self.conf_text = self.write_conf(conf)
        self.ports = list(ports) if ports is not None else listen_ports(self.conf_text)

    # -- files -------------------------------------------------------------------

    def path(self, rel: str) -> str:
        return os.path.join(self.prefix, rel)

    def write_conf(self, conf: str) -> str:
        """(Re)writes the conf (and extra files); returns the final text. Use with
        signal(SIGHUP) to test reloads."""
        for name, content in self.files.items():
            fp = self.path(name)
            os.makedirs(os.path.dirname(fp), exist_ok=True)
            with open(fp, "w") as f:
                f.write(content.replace("@PREFIX@", self.prefix.rstrip("/")))
        text = prepare_conf(conf, self.prefix, main=self.main)
        tmp = self.conf_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.conf_path)
        self.conf_text = text
        return text

    def _read(self, rel: str) -> str:
        try:
            with open(self.path(rel), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def error_log(self) -> str:
        return self._read("error.log")

    def log(self, rel: str) -> str:
        """Text of any file in the prefix (e.g. an access log), '' if missing."""
        return self._read(rel)

    def stderr_text(self) -> str:
        return self._read("stderr.txt")

    def diagnostics(self) -> str:
        return ("--- command: %s\n--- conf:\n%s\n--- error.log:\n%s\n--- stderr:\n%s\n"
                % (" ".join(self.argv()), self.conf_text, self.error_log()[-8000:],
                   self.stderr_text()[-4000:]))

    def wait_log(self, needle, timeout=5.0, rel="error.log") -> bool:
        """Waits until ``needle`` (str or compiled regex) appears in a log file."""
        deadline = time.monotonic() + timeout
        while True:
            text = self._read(rel)
            if (needle.search(text) if hasattr(needle, "search") else needle in text):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    # -- process -----------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.proc.pid

    def argv(self):
        return [binary(), "-p", self.prefix, "-c", self.conf_path, "-e", self.error_log_path] + self.extra_args

    def spawn(self):
        """Starts the process without waiting for readiness."""
        _check_binary()
        out = open(self.path("stdout.txt"), "wb")
        err = open(self.path("stderr.txt"), "wb")
        try:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         start_new_session=True, cwd=self.prefix,
                                         preexec_fn=_die_with_parent)
        finally:
            out.close()
            err.close()
        self.returncode = None
        _LIVE.add(self)
        return self

    def start(self):
        self.spawn()
        try:
            self.wait_ready(self.timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        pending = list(self.ports)
        while True:
            if self.exited():
                raise ProxyStartError("proxy exited with status %s during startup\n%s"
                                      % (self.returncode, self.diagnostics()))
            pid_ok = False
            try:
                with open(self.pid_path) as f:
                    pid_ok = f.read().strip().isdigit()
            except OSError:
                pass
            if pid_ok:
                pending = [p for p in pending if not can_connect(p)]
                if not pending:
                    return
            if time.monotonic() >= deadline:
                raise ProxyStartError("proxy not ready after %.1fs (pid file %s, ports not accepting: %s)\n%s"
                                      % (timeout, "present" if pid_ok else "missing", pending,
                                         self.diagnostics()))
            time.sleep(0.02)

    def exited(self) -> bool:
        """True once the main process has exited (it is then reaped, together with any
        leftover processes of its group)."""
        if self.proc is None:
            return True
        if self.returncode is not None:
            return True
        try:
            r = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # already reaped elsewhere: nothing left to signal
            self.returncode = self.proc.returncode if self.proc.returncode is not None else -1
            _LIVE.discard(self)
            return True
        if r is None:
            return False
        self._reap()
        return True

    def _reap(self):
        # The main process is a zombie (or gone): its pid and process group id cannot
        # have been reused yet, so this only reaches processes this harness started.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.returncode = self.proc.wait()
        _LIVE.discard(self)

    def wait_exit(self, timeout=10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def is_running(self) -> bool:
        return not self.exited()

    def signal(self, sig):
        if not self.exited():
            os.kill(self.proc.pid, sig)

    def stop(self, timeout=5.0):
        """Graceful stop (SIGQUIT), SIGKILL after ``timeout`` (cleanup() then reports it).
        Returns the exit status. The prefix directory (logs) stays until cleanup()."""
        if self.proc is not None and not self.exited():
            try:
                os.kill(self.proc.pid, signal.SIGQUIT)
            except ProcessLookupError:
                pass
            if not self.wait_exit(timeout):
                self.stop_timed_out = True
                self.kill()
        return self.returncode

    def cleanup(self):
        """stop(), then remove the prefix directory (kept if TIDEGATE_KEEP_TMP is set).
        Raises if the process died of a signal it did not get from the harness (a crash,
        during the test or while stopping), so cleanups report crashes as test errors."""
        try:
            died_before = self.proc is not None and self.returncode is None and self.exited()
            self.stop()
            rc = self.returncode
            if self.stop_timed_out:
                raise AssertionError("%s did not exit within 5 s of SIGQUIT (killed)\n%s"
                                     % (os.path.basename(binary()), self.diagnostics()))
            if rc is not None and rc < 0 and not self._killed:
                try:
                    name = signal.Signals(-rc).name
                except ValueError:
                    name = "signal %d" % -rc
                raise AssertionError("%s died of %s %s\n%s" % (
                    os.path.basename(binary()), name,
                    "during the test" if died_before else "while stopping (SIGQUIT)", self.diagnostics()))
        finally:
            remove_prefix(self.prefix)

    def kill(self):
        if self.proc is None or self.returncode is not None:
            return
        self._killed = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.returncode = self.proc.wait()
        _LIVE.discard(self)

    def rss_kb(self) -> int:
        """Resident set size of the proxy's processes (main process + children), in kB."""
        if self.proc is None:
            return 0
        return sum(rss_kb_of(p) for p in process_tree(self.proc.pid))

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()


def start_proxy(testcase, conf: str, **kw) -> Proxy:
    """Starts a Proxy and registers its stop() as a cleanup of ``testcase`` (runs even
    when the test fails)."""
    px = Proxy(conf, **kw)
    testcase.addCleanup(px.cleanup)
    px.start()
    return px


def start_backend(testcase, backend):
    """Starts a backend object (from tests.support.backends) and registers its stop()."""
    backend.start()
    testcase.addCleanup(backend.stop)
    return backend


# -- raw HTTP client -----------------------------------------------------------------


class Response:
    def __init__(self, version, status, reason, headers, body=b"", interim=None, raw_head=b""):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body
        self.interim = interim or []  # 1xx responses received before this one
        self.raw_head = raw_head
        self.chunked = False

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has_header(self, name):
        return self.header(name) is not None

    def json(self):
        import json
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %s %s %s headers=%r body=%r>" % (
            self.version, self.status, self.reason, self.headers, self.body[:200])


class ConnectionClosed(AssertionError):
    pass


class RawClient:
    """A socket-level HTTP/1.x client: send any bytes, read responses framed by
    Content-Length, chunked encoding or connection close (and 1xx interim ones)."""

    def __init__(self, port: int, timeout: float = DEFAULT_CLIENT_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def request(self, method="GET", path="/", headers=None, body=None, version="HTTP/1.1", host=True):
        """Sends one request. ``headers`` is a list of (name, value) or a dict; a Host
        header is added for HTTP/1.1 unless given (host=False suppresses it)."""
        hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if host and version == "HTTP/1.1" and not any(k.lower() == "host" for k, _ in hdrs):
            hdrs.insert(0, ("Host", "localhost"))
        if body is not None and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in hdrs):
            hdrs.append(("Content-Length", str(len(body))))
        head = "%s %s %s\r\n" % (method, path, version)
        head += "".join("%s: %s\r\n" % (k, v) for k, v in hdrs) + "\r\n"
        data = head.encode("latin-1")
        if body is not None:
            data += body if isinstance(body, bytes) else body.encode()
        self.send(data)

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            data = self.sock.recv(1 << 18)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, sep: bytes, limit=1 << 20) -> bytes:
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i + len(sep)])
                del self.buf[:i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise AssertionError("no %r within %d bytes" % (sep, limit))
            if not self._fill():
                raise ConnectionClosed("connection closed while waiting for %r (buffered %r)"
                                       % (sep, bytes(self.buf[:200])))

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionClosed("connection closed after %d of %d body bytes" % (len(self.buf), n))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_head(self) -> Response:
        head = self._read_until(b"\r\n\r\n")
        lines = head[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise AssertionError("bad status line %r" % lines[0])
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k, v.strip()))
        return Response(version, status, reason, headers, raw_head=head)

    def read_response(self, method="GET", skip_interim=True, body_sink=None) -> Response:
        """Reads one response. With ``skip_interim`` 1xx responses are collected into
        ``.interim`` and the final one is returned; otherwise a 1xx is returned as is.
        ``body_sink(bytes)`` receives the body piecewise instead of keeping it."""
        interim = []
        while True:
            resp = self.read_head()
            if 100 <= resp.status < 200 and resp.status != 101:
                if skip_interim:
                    interim.append(resp)
                    continue
                return resp
            break
        resp.interim = interim
        pieces = []
        sink = body_sink or pieces.append
        te = (resp.header("transfer-encoding") or "").lower()
        cl = resp.header("content-length")
        if method == "HEAD" or resp.status in (204, 304) or resp.status == 101:
            pass
        elif "chunked" in te:
            resp.chunked = True
            while True:
                line = self._read_until(b"\r\n")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self._read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                self._read_body(size, sink)
                if self._read_exact(2) != b"\r\n":
                    raise AssertionError("chunk not followed by CRLF")
        elif cl is not None:
            self._read_body(int(cl), sink)
        else:
            while True:
                if self.buf:
                    sink(bytes(self.buf))
                    self.buf.clear()
                if not self._fill():
                    break
        resp.body = b"".join(pieces)
        return resp

    def _read_body(self, n, sink):
        while n > 0:
            if not self.buf and not self._fill():
                raise ConnectionClosed("connection closed with %d body bytes missing" % n)
            take = min(n, len(self.buf))
            sink(bytes(self.buf[:take]))
            del self.buf[:take]
            n -= take

    def closed_by_peer(self, timeout=2.0) -> bool:
        """True if the server closes the connection (EOF or reset) within ``timeout``
        with no further bytes; raises if unexpected bytes arrive."""
        if self.buf:
            raise AssertionError("unexpected bytes: %r" % bytes(self.buf[:200]))
        if self.eof:
            return True
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(self.timeout)
        if data:
            raise AssertionError("unexpected bytes: %r" % data[:200])
        self.eof = True
        return True


def http_request(port, method="GET", path="/", headers=None, body=None, version="HTTP/1.1",
                 timeout=None) -> Response:
    """One request on a fresh connection (closed afterwards)."""
    with RawClient(port, timeout=timeout or DEFAULT_CLIENT_TIMEOUT) as c:
        c.request(method, path, headers=headers, body=body, version=version)
        return c.read_response(method=method)


def http_get(port, path="/", headers=None, timeout=None) -> Response:
    return http_request(port, "GET", path, headers=headers, timeout=timeout)


# -- test-case helpers -----------------------------------------------------------------

_TOKEN_RE = re.compile(r"@([A-Z][A-Z0-9_]*)@")


def fill(text: str, **values) -> str:
    """Replaces ``@NAME@`` tokens (e.g. ``@PORT@``) with ``values['NAME']``.
    ``@PREFIX@`` is left for the harness; any other unfilled token is an error."""
    def sub(m):
        name = m.group(1)
        if name in values:
            return str(values[name])
        if name == "PREFIX":
            return m.group(0)
        raise KeyError("conf placeholder @%s@ not filled" % name)
    return _TOKEN_RE.sub(sub, text)



class IntegrationTest(unittest.TestCase):
    """Base class: everything started through these helpers is stopped in cleanup,
    also when the test fails."""

    def backend(self, name="backend"):
        from tests.support.backends import Backend
        return start_backend(self, Backend(name))

    def blackhole(self):
        from tests.support.backends import BlackholeBackend
        return start_backend(self, BlackholeBackend())

    def closer(self):
        from tests.support.backends import CloserBackend
        return start_backend(self, CloserBackend())

    def refusing(self):
        from tests.support.backends import RefusingPort
        return start_backend(self, RefusingPort())

    def proxy(self, conf: str, **kw) -> Proxy:
        return start_proxy(self, conf, **kw)

    def client(self, port, timeout=None) -> RawClient:
        c = RawClient(port, timeout=timeout or DEFAULT_CLIENT_TIMEOUT)
        self.addCleanup(c.close)
        return c
