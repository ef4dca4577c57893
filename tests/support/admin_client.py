"""Helpers for the tests of tidegate's admin surface: the NGINX Plus–compatible API
(``api``), the Prometheus page (``prometheus``) and the dashboard (``dashboard``).

``Api`` talks to an API location (one fresh connection per call, JSON in and out);
``assert_api_error`` checks NGINX Plus's error body; ``LoadLoop`` sends keep-alive
requests through the proxy in a background thread and counts every outcome;
``parse_prometheus`` reads the text exposition format; ``ExternalProcess`` runs a
helper program (Prometheus) that dies with the test process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time

from tests.support.harness import ConnectionClosed, RawClient, http_request

API_VERSION = 9
ISO_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
REQUEST_ID_RE = re.compile(r"^[0-9a-f]{32}$")

# NGINX Plus's peer fields (GET /api/9/http/upstreams/<name>) and their JSON kinds;
# tidegate adds tunnels, drained and windows.
PEER_FIELDS = {
    "id": int, "server": str, "name": str, "backup": bool, "weight": int, "state": str,
    "active": int, "requests": int, "responses": dict, "sent": int, "received": int,
    "fails": int, "unavail": int, "health_checks": dict, "downtime": int,
    "header_time": int, "response_time": int,
    "tunnels": int, "drained": bool, "windows": dict,
}
# GET .../servers entries.
SERVER_FIELDS = {
    "id": int, "server": str, "weight": int, "max_conns": int, "max_fails": int,
    "fail_timeout": str, "slow_start": str, "route": str, "backup": bool, "down": bool,
}
WINDOW_FIELDS = ("seconds", "requests", "rps", "p50_ms", "p95_ms", "p99_ms", "header_p95_ms",
                 "error_rate", "active_avg", "active_max", "tunnels_avg", "tunnels_max",
                 "connects_per_s")
RESPONSE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def wait_until(predicate, timeout=5.0, interval=0.05, what="condition"):
    """Polls ``predicate()`` until it returns a truthy value (returned); raises
    AssertionError with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


class ApiResponse:
    """Status, headers and decoded JSON (``None`` for an empty body) of one call."""

    def __init__(self, raw):
        self.raw = raw
        self.status = raw.status
        self.headers = raw.headers
        self.body = raw.body
        self.data = None
        if raw.body:
            try:
                self.data = json.loads(raw.body.decode("utf-8"))
            except ValueError:
                self.data = None

    def header(self, name, default=None):
        return self.raw.header(name, default)

    def __repr__(self):
        return "<ApiResponse %d %r>" % (self.status, self.body[:400])


class Api:
    """Calls to the API at ``prefix`` (``/api``) of a proxy on 127.0.0.1:``port``.
    Paths are relative to ``/api/9`` unless ``version_prefix`` is False."""

    def __init__(self, port, prefix="/api", headers=None, timeout=5.0):
        self.port = port
        self.prefix = prefix.rstrip("/")
        self.extra_headers = list(headers or [])
        self.timeout = timeout

    def url(self, path, version_prefix=True):
        """``path`` below /api/9, or, without ``version_prefix``, the whole path."""
        if not version_prefix:
            return path
        return "%s/%d%s" % (self.prefix, API_VERSION, path)

    def call(self, method, path, body=None, raw_body=None, version_prefix=True, headers=None):
        hdrs = list(self.extra_headers) + list(headers or [])
        data = None
        if raw_body is not None:
            data = raw_body if isinstance(raw_body, bytes) else raw_body.encode()
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            hdrs.append(("Content-Type", "application/json"))
        r = http_request(self.port, method, self.url(path, version_prefix), headers=hdrs,
                         body=data, timeout=self.timeout)
        return ApiResponse(r)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    # -- shortcuts that expect success ------------------------------------------

    def json(self, path):
        r = self.get(path)
        if r.status != 200:
            raise AssertionError("GET %s: %r" % (self.url(path), r))
        return r.data

    def servers(self, upstream):
        return self.json("/http/upstreams/%s/servers" % upstream)

    def peers(self, upstream):
        return self.json("/http/upstreams/%s" % upstream)["peers"]

    def peer_by_server(self, upstream, addr):
        for p in self.peers(upstream):
            if p["server"] == addr:
                return p
        raise AssertionError("no peer %s in upstream %s" % (addr, upstream))

    def server_id(self, upstream, addr):
        for s in self.servers(upstream):
            if s["server"] == addr:
                return s["id"]
        raise AssertionError("no server %s in upstream %s" % (addr, upstream))

    def add_server(self, upstream, body):
        r = self.post("/http/upstreams/%s/servers" % upstream, body)
        if r.status != 201:
            raise AssertionError("POST server %r: %r" % (body, r))
        return r.data

    def change_server(self, upstream, sid, body):
        r = self.patch("/http/upstreams/%s/servers/%d" % (upstream, sid), body)
        if r.status != 200:
            raise AssertionError("PATCH server %d %r: %r" % (sid, body, r))
        return r.data

    def remove_server(self, upstream, sid):
        r = self.delete("/http/upstreams/%s/servers/%d" % (upstream, sid))
        if r.status != 200:
            raise AssertionError("DELETE server %d: %r" % (sid, r))
        return r.data

    def generation(self):
        return self.json("/nginx")["generation"]


def assert_api_error(tc, r, status, code):
    """NGINX Plus's error answer: HTTP ``status`` and the body
    {"error": {"status": N, "text": "...", "code": "..."}, "request_id": "...", "href": "..."}."""
    tc.assertEqual(r.status, status, r)
    tc.assertTrue((r.header("content-type") or "").startswith("application/json"), r.headers)
    d = r.data
    tc.assertIsInstance(d, dict, r)
    tc.assertEqual(set(d), {"error", "request_id", "href"}, d)
    tc.assertEqual(set(d["error"]), {"status", "text", "code"}, d)
    tc.assertEqual(d["error"]["status"], status, d)
    tc.assertEqual(d["error"]["code"], code, d)
    tc.assertIsInstance(d["error"]["text"], str)
    tc.assertTrue(d["error"]["text"], d)
    tc.assertRegex(d["request_id"], REQUEST_ID_RE)
    tc.assertIsInstance(d["href"], str)
    tc.assertTrue(d["href"].startswith("https://"), d)


def backend_of(resp):
    """The name of the test backend that answered a proxied echo request."""
    return resp.header("x-backend")


def spread(port, n, path="/spread"):
    """Sends ``n`` GETs through the proxy on one keep-alive connection; returns
    {backend name: count}. Every answer must be 200."""
    counts = {}
    with RawClient(port) as c:
        for i in range(n):
            c.request("GET", "%s?i=%d" % (path, i))
            r = c.read_response()
            if r.status != 200:
                raise AssertionError("request %d answered %r" % (i, r))
            name = backend_of(r)
            counts[name] = counts.get(name, 0) + 1
    return counts


class LoadLoop:
    """Keep-alive GETs through the proxy from a background thread, until stop().

    Every request is counted: ``ok`` (200), ``bad`` (other statuses, with the first
    few kept in ``problems``) and ``errors`` (connection failures: a request that was
    sent and got no answer). A connection the proxy closes *between* requests (after
    a complete answer, e.g. ``Connection: close``) is reopened and is not an error.
    """

    def __init__(self, port, path="/load", clients=1):
        self.port = port
        self.path = path
        self.ok = 0
        self.bad = 0
        self.errors = 0
        self.by_backend = {}
        self.problems = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(clients)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    @property
    def total(self):
        with self._lock:
            return self.ok + self.bad + self.errors

    def snapshot(self):
        with self._lock:
            return dict(self.by_backend)

    def _note(self, kind, detail):
        with self._lock:
            if kind == "ok":
                self.ok += 1
                self.by_backend[detail] = self.by_backend.get(detail, 0) + 1
                return
            if kind == "bad":
                self.bad += 1
            else:
                self.errors += 1
            if len(self.problems) < 20:
                self.problems.append(detail)

    def _run(self, n):
        c = None
        i = 0
        while not self._stop.is_set():
            try:
                if c is None:
                    c = RawClient(self.port, timeout=5.0)
                i += 1
                sep = "&" if "?" in self.path else "?"
                c.request("GET", "%s%sc=%d&i=%d" % (self.path, sep, n, i))
                r = c.read_response()
            except (OSError, ConnectionClosed, AssertionError) as e:
                self._note("error", "request %d: %r" % (i, e))
                if c is not None:
                    c.close()
                c = None
                continue
            if r.status == 200:
                self._note("ok", backend_of(r))
            else:
                self._note("bad", "request %d: %r" % (i, r))
            if (r.header("connection") or "").lower() == "close":
                c.close()
                c = None
        if c is not None:
            c.close()

    def wait_total(self, n, timeout=10.0):
        wait_until(lambda: self.total >= n, timeout, what="%d requests of the load loop" % n)

    def wait_backend(self, name, n, timeout=10.0):
        """Waits until backend ``name`` answered ``n`` more requests than now."""
        base = self.snapshot().get(name, 0)
        wait_until(lambda: self.snapshot().get(name, 0) >= base + n, timeout,
                   what="%d more requests answered by %s" % (n, name))

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(10)


# -- Prometheus text format ---------------------------------------------------------------

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*')


def _unescape(v):
    return v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def parse_prometheus(text):
    """Parses the text exposition format: returns (samples, types, helps) where
    samples maps (name, frozenset(labels.items())) to a float."""
    samples, types, helps = {}, {}, {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            parts = line.split(" ", 3)
            helps[parts[2]] = parts[3] if len(parts) > 3 else ""
            continue
        if line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            raise AssertionError("unparsable sample line %r" % line)
        name, labels_text, value = m.groups()
        labels = {}
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                lm = _LABEL_RE.match(labels_text, pos)
                if not lm:
                    raise AssertionError("bad labels in %r" % line)
                labels[lm.group(1)] = _unescape(lm.group(2))
                pos = lm.end()
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise AssertionError("duplicate sample %r" % line)
        samples[key] = float(value)
    return samples, types, helps


def sample(samples, name, **labels):
    """The value of one sample (KeyError if missing)."""
    return samples[(name, frozenset(labels.items()))]


# -- helper programs -------------------------------------------------------------------------

try:
    import ctypes
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover
    _prctl = None


def _die_with_parent():
    if _prctl is not None:
        _prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class ExternalProcess:
    """A helper program (e.g. Prometheus) with its output in ``log_path``; it gets
    SIGKILL if the test process dies, and stop() ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, argv, log_path, cwd=None):
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.proc = None

    def start(self):
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.cwd,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout=10.0):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def writable_tempdir(prefix):
    """A temporary directory the proxy's unprivileged user can write into (tidegate and
    nginx drop root for workers, and NGINX Plus writes `state` files from them)."""
    import tempfile
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o777)
    return d
