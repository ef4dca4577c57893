"""Upstream servers for the tidegate integration tests.

Everything here listens on 127.0.0.1 only, on ephemeral ports, and runs in a
background thread of the test process (one asyncio loop per backend), so a test
can start as many as it needs and inspect what they received.

``Backend`` is a small raw-asyncio HTTP/1.1 server (no framework, so it sees the
request exactly as the proxy sent it: header order, case, duplicates, chunked
framing).  Endpoints (query strings are parsed, unknown paths echo):

  any other path      echo: JSON {server, method, target, path, query, version,
                      headers: [[name, value], ...], body_len, body_sha256, conn}
  /slow?ms=N          sleeps N ms, then echoes
  /status/NNN         answers with status NNN
  /chunked?n=N&size=S chunked response of N chunks (S bytes each, default a
                      short line "chunk-i\\n"); close-delimited for HTTP/1.0
  /upload             reads the whole body streaming (Content-Length or chunked,
                      any size), answers JSON {bytes, sha256}
  /big?bytes=N        streams N bytes of the deterministic ``pattern`` with a
                      Content-Length (``&chunked=1`` for chunked framing)
  /conn               JSON {conn}: an id unique per accepted TCP connection
  /close              answers with "Connection: close" and closes the connection
                      (``?hard=1``: no Connection header, just closes after)
  /hdrs?h=Name:Value  answers 200 with the given response headers (repeatable)
  /health             what ``health_reply`` says: (status, [(name, value)], body)
                      (default 200 "ok"), or "hang" (reads, never answers)
  (any other path)    answers ``error_status`` instead when a test sets it

Also: ``RefusingPort`` (connect() gets ECONNREFUSED), ``BlackholeBackend``
(accepts, reads, never answers) and ``CloserBackend`` (accepts and closes at once).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import socket
import threading
import time
import urllib.parse

__all__ = [
    "Backend",
    "BlackholeBackend",
    "CloserBackend",
    "RefusingPort",
    "pattern_chunks",
    "pattern_sha256",
    "PATTERN_BLOCK",
]

# Deterministic payload for big transfers. The block length is deliberately not a
# power of two so that it never lines up with a proxy's buffer sizes.
PATTERN_BLOCK = random.Random(0x7165).randbytes(1_048_573)


def wait_on(cond, ready, timeout):
    """Waits on `cond` (a threading.Condition notified when state changes) until
    ready() is true or `timeout` seconds pass. Returns the final truth value."""
    deadline = time.monotonic() + timeout
    with cond:
        while not ready():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            cond.wait(min(left, 0.1))
        return True


def pattern_chunks(total: int, chunk: int = 1 << 20):
    """Yields ``total`` bytes of the repeating pattern in pieces of at most ``chunk``."""
    block = PATTERN_BLOCK
    doubled = block + block  # any window of len <= len(block) is a slice of this
    blen = len(block)
    off = 0
    remaining = total
    while remaining > 0:
        n = min(chunk, remaining, blen)
        start = off % blen
        yield doubled[start:start + n]
        off += n
        remaining -= n


def pattern_sha256(total: int) -> str:
    h = hashlib.sha256()
    for piece in pattern_chunks(total):
        h.update(piece)
    return h.hexdigest()


class Request:
    """A request as the backend received it."""

    def __init__(self, method, target, version, headers, conn_id, peer):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # list of (name, value) in arrival order
        self.conn_id = conn_id
        self.peer = peer
        path, _, query = target.partition("?")
        self.path = path
        self.query_string = query
        self.query = urllib.parse.parse_qs(query, keep_blank_values=True)
        self.body_len = 0
        self.body_sha256 = None
        self.body_chunked = False

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

    def qint(self, name, default):
        try:
            return int(self.query[name][0])
        except (KeyError, IndexError, ValueError):
            return default

    def as_dict(self):
        return {
            "method": self.method,
            "target": self.target,
            "path": self.path,
            "query": self.query_string,
            "version": self.version,
            "headers": [[k, v] for k, v in self.headers],
            "body_len": self.body_len,
            "body_sha256": self.body_sha256,
            "body_chunked": self.body_chunked,
            "conn": self.conn_id,
        }


class BadRequest(Exception):
    pass


class _Body:
    """Streams a request body framed by Content-Length or chunked encoding."""

    def __init__(self, reader: asyncio.StreamReader, req: Request):
        self.reader = reader
        self.req = req
        te = req.header("transfer-encoding")
        cl = req.header("content-length")
        self.chunked = te is not None and te.strip().lower().endswith("chunked")
        req.body_chunked = self.chunked
        if self.chunked:
            self.remaining = 0
            self.chunk_left = 0
        elif cl is not None:
            try:
                self.remaining = int(cl.strip())
            except ValueError:
                raise BadRequest("bad content-length")
        else:
            self.remaining = 0
        self.done = not self.chunked and self.remaining == 0
        self.hash = hashlib.sha256()
        self.count = 0

    async def read(self, n=1 << 18) -> bytes:
        if self.done:
            return b""
        if not self.chunked:
            data = await self.reader.read(min(n, self.remaining))
            if not data:
                raise BadRequest("body truncated")
            self.remaining -= len(data)
            if self.remaining == 0:
                self.done = True
            return self._account(data)
        while self.chunk_left == 0:
            line = await self.reader.readuntil(b"\r\n")
            size_s = line.split(b";", 1)[0].strip()
            try:
                size = int(size_s, 16)
            except ValueError:
                raise BadRequest("bad chunk size %r" % line)
            if size == 0:
                # trailers until an empty line
                while True:
                    t = await self.reader.readuntil(b"\r\n")
                    if t == b"\r\n":
                        break
                self.done = True
                return b""
            self.chunk_left = size
        data = await self.reader.read(min(n, self.chunk_left))
        if not data:
            raise BadRequest("chunk truncated")
        self.chunk_left -= len(data)
        if self.chunk_left == 0:
            crlf = await self.reader.readexactly(2)
            if crlf != b"\r\n":
                raise BadRequest("missing CRLF after chunk")
        return self._account(data)

    def _account(self, data):
        self.count += len(data)
        self.hash.update(data)
        return data

    async def consume(self):
        while await self.read(1 << 20):
            pass
        self.req.body_len = self.count
        self.req.body_sha256 = self.hash.hexdigest()


class LoopThreadServer:
    """An asyncio server on 127.0.0.1 (ephemeral port) in its own thread: the
    lifecycle shared by the test backends. Subclasses implement ``_serve()`` (a
    coroutine returning the started asyncio server) and ``_abort_connections()``
    (called on the loop at stop, after the server stopped listening)."""

    thread_prefix = "backend-"

    def _init_loop_thread(self):
        self.port = None
        self._loop = None
        self._thread = None
        self._server = None
        self._started = threading.Event()
        self._error = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name=self.thread_prefix + self.name,
                                        daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("%s%s did not start" % (self.thread_prefix, self.name))
        if self._error:
            raise self._error
        return self

    def _run(self):
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(self._serve())
            self.port = self._server.sockets[0].getsockname()[1]
        except Exception as e:  # pragma: no cover
            self._error = e
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            try:
                # let aborted transports run their connection_lost callbacks
                loop.run_until_complete(asyncio.sleep(0.01))
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.wait(pending, timeout=2))
            finally:
                loop.close()

    def stop(self):
        if self._loop is None or self._thread is None:
            return

        def shutdown():
            if self._server is not None:
                self._server.close()
            self._abort_connections()
            self._loop.stop()

        try:
            self._loop.call_soon_threadsafe(shutdown)
        except RuntimeError:
            pass  # loop already closed
        self._thread.join(10)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port


class Backend(LoopThreadServer):
    """HTTP/1.1 test upstream in a background thread. Use as a context manager or
    call start()/stop(). ``name`` is reported by the echo endpoints and in the
    ``X-Backend`` response header."""

    def __init__(self, name="backend"):
        self.name = name
        self._init_loop_thread()
        self.requests: list[Request] = []  # completed requests, in order
        self.connections = 0  # TCP connections accepted so far
        self.in_flight = 0
        self.health_reply = (200, [], b"ok")  # what /health answers (tests flip it)
        self.error_status = None  # when set, every other path answers with this status
        self.health_requests = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._writers = set()

    # -- lifecycle -------------------------------------------------------------

    async def _serve(self):
        return await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=1 << 20,
                                          backlog=128)

    def _abort_connections(self):
        for w in list(self._writers):
            try:
                w.transport.abort()
            except Exception:
                pass

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    # -- inspection --------------------------------------------------------------

    def wait_for(self, predicate, timeout=10.0):
        """Waits until predicate(self) is true (checked whenever the backend's state
        changes). Returns the final truth value."""
        return wait_on(self._cond, lambda: predicate(self), timeout)

    def wait_in_flight(self, n=1, timeout=10.0):
        return self.wait_for(lambda b: b.in_flight >= n, timeout)

    def last_request(self) -> Request:
        with self._lock:
            return self.requests[-1]

    def _notify(self):
        with self._cond:
            self._cond.notify_all()

    # -- HTTP --------------------------------------------------------------------

    async def _handle(self, reader, writer):
        with self._cond:
            self.connections += 1
            conn_no = self.connections
            self._cond.notify_all()
        peer = writer.get_extra_info("peername")
        conn_id = "%s#%d:%d" % (self.name, conn_no, peer[1] if peer else 0)
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    break
                try:
                    req = self._parse_head(head, conn_id, peer)
                    body = _Body(reader, req)
                except BadRequest as e:
                    await self._write(writer, None, 400, [("Connection", "close")], str(e).encode())
                    break
                with self._cond:
                    self.in_flight += 1
                    self._cond.notify_all()
                try:
                    keep = await self._dispatch(req, body, writer)
                    if not body.done:
                        await body.consume()
                finally:
                    if req.body_sha256 is None:
                        req.body_len = body.count
                        req.body_sha256 = body.hash.hexdigest()
                    self._record(req)
                    with self._cond:
                        self.in_flight -= 1
                        self._cond.notify_all()
                if not keep or not self._keep_alive(req):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, BadRequest, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            try:
                writer.close()
            except Exception:
                pass

    def _record(self, req):
        # Called before the response goes out, so a client that got its response can
        # rely on the request being in self.requests.
        with self._cond:
            if not getattr(req, "_recorded", False):
                req._recorded = True
                self.requests.append(req)
                self._cond.notify_all()

    @staticmethod
    def _parse_head(head: bytes, conn_id, peer) -> Request:
        lines = head[:-4].split(b"\r\n")
        try:
            method, target, version = lines[0].decode("latin-1").split(" ")
        except ValueError:
            raise BadRequest("bad request line %r" % lines[0])
        headers = []
        for raw in lines[1:]:
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep:
                raise BadRequest("bad header line %r" % raw)
            headers.append((name, value.strip()))
        return Request(method, target, version, headers, conn_id, peer)

    @staticmethod
    def _keep_alive(req: Request) -> bool:
        conn = (req.header("connection") or "").lower()
        tokens = [t.strip() for t in conn.split(",")]
        if req.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens

    async def _write(self, writer, req, status, headers, body=b"", *, chunks=None, chunked=False,
                     close=False):
        """Writes a response. ``chunks`` (an iterable of bytes) streams the body; with
        ``chunked`` it is sent chunked (or close-delimited to an HTTP/1.0 client)."""
        if req is not None:
            self._record(req)
        reason = _REASONS.get(status, "Status")
        out = ["HTTP/1.1 %d %s" % (status, reason)]
        names = {k.lower() for k, _ in headers}
        hdrs = list(headers)
        hdrs.append(("X-Backend", self.name))
        http10 = req is not None and req.version == "HTTP/1.0"
        close_delimited = False
        if chunks is None:
            if status >= 200 and status not in (204, 304) and "content-length" not in names:
                hdrs.append(("Content-Length", str(len(body))))
        elif chunked:
            if http10:
                close_delimited = True
            else:
                hdrs.append(("Transfer-Encoding", "chunked"))
        if close_delimited or close:
            if "connection" not in names:
                hdrs.append(("Connection", "close"))
        elif http10 and req is not None and self._keep_alive(req):
            hdrs.append(("Connection", "keep-alive"))
        out.extend("%s: %s" % (k, v) for k, v in hdrs)
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        if req is not None and req.method == "HEAD":
            await writer.drain()
            return not (close_delimited or close)
        if chunks is None:
            if body:
                writer.write(body)
            await writer.drain()
        else:
            for piece in chunks:
                if chunked and not close_delimited:
                    if not piece:
                        continue
                    writer.write(b"%x\r\n" % len(piece))
                    writer.write(piece)
                    writer.write(b"\r\n")
                else:
                    writer.write(piece)
                await writer.drain()
            if chunked and not close_delimited:
                writer.write(b"0\r\n\r\n")
            await writer.drain()
        return not (close_delimited or close)

    async def _json(self, writer, req, obj, status=200, extra=()):
        body = json.dumps(obj).encode()
        headers = [("Content-Type", "application/json"), ("X-Conn-Id", req.conn_id)]
        headers.extend(extra)
        return await self._write(writer, req, status, headers, body)

    async def _echo(self, writer, req, body):
        await body.consume()
        d = req.as_dict()
        d["server"] = self.name
        return await self._json(writer, req, d)

    async def _dispatch(self, req: Request, body: _Body, writer) -> bool:
        path = req.path
        if path == "/health":
            await body.consume()
            with self._lock:
                self.health_requests += 1
            reply = self.health_reply
            if reply == "hang":
                await asyncio.sleep(3600)
            status, extra, payload = reply
            return await self._write(writer, req, status, list(extra), payload)
        if self.error_status is not None:
            await body.consume()
            return await self._write(writer, req, self.error_status, [("Content-Type", "text/plain")],
                                     b"error\n")
        if path == "/slow":
            await asyncio.sleep(req.qint("ms", 1000) / 1000.0)
            return await self._echo(writer, req, body)
        if path.startswith("/status/"):
            await body.consume()
            try:
                status = int(path[len("/status/"):])
            except ValueError:
                status = 400
            payload = b"" if status in (204, 304) else ("status %d from %s\n" % (status, self.name)).encode()
            headers = [("Content-Type", "text/plain")]
            if status in (301, 302, 303, 307, 308):
                headers.append(("Location", "/redirected"))
            return await self._write(writer, req, status, headers, payload)
        if path == "/chunked":
            await body.consume()
            n = req.qint("n", 5)
            size = req.qint("size", 0)
            if size:
                pieces = [bytes([0x61 + i % 26]) * size for i in range(n)]
            else:
                pieces = [("chunk-%d\n" % i).encode() for i in range(n)]
            return await self._write(writer, req, 200, [("Content-Type", "text/plain")],
                                     chunks=pieces, chunked=True)
        if path == "/upload":
            await body.consume()
            return await self._json(writer, req, {"bytes": body.count, "sha256": body.hash.hexdigest(),
                                                  "chunked": body.chunked})
        if path == "/big":
            await body.consume()
            n = req.qint("bytes", 1 << 20)
            chunked = req.qint("chunked", 0) == 1
            headers = [("Content-Type", "application/octet-stream")]
            if not chunked:
                headers.append(("Content-Length", str(n)))
            return await self._write(writer, req, 200, headers, chunks=pattern_chunks(n, 1 << 18),
                                     chunked=chunked)
        if path == "/conn":
            await body.consume()
            return await self._json(writer, req, {"conn": req.conn_id, "server": self.name})
        if path == "/close":
            await body.consume()
            payload = ("closing %s\n" % req.conn_id).encode()
            if req.qint("hard", 0):
                await self._write(writer, req, 200, [("Content-Type", "text/plain")], payload)
            else:
                await self._write(writer, req, 200, [("Content-Type", "text/plain")], payload, close=True)
            return False
        if path == "/hdrs":
            await body.consume()
            headers = []
            for spec in req.query.get("h", []):
                k, _, v = spec.partition(":")
                headers.append((k, v))
            headers.append(("Content-Type", "text/plain"))
            return await self._write(writer, req, 200, headers, b"hdrs\n")
        return await self._echo(writer, req, body)


_REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently",
    302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect",
    308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 413: "Payload Too Large", 418: "I'm a teapot", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


class RefusingPort:
    """A 127.0.0.1 port on which connect() is refused: the socket is bound (so no one
    else can take the port) but never listens."""

    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        return self

    def stop(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class _ThreadedListener:
    """Accepts connections in a thread and hands each to ``_on_conn``."""

    def __init__(self):
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", 0))
        self._lsock.listen(128)
        self._lsock.settimeout(0.1)
        self.port = self._lsock.getsockname()[1]
        self.accepted = 0
        self._conns = []
        self._stop = threading.Event()
        self._thread = None

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                c, _ = self._lsock.accept()
            except socket.timeout:
                self._poll()
                continue
            except OSError:
                break
            self.accepted += 1
            self._on_conn(c)
            self._poll()

    def _on_conn(self, c):
        raise NotImplementedError

    def _poll(self):
        pass

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self._lsock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class BlackholeBackend(_ThreadedListener):
    """Accepts connections, reads and discards whatever arrives, never answers."""

    def _on_conn(self, c):
        c.setblocking(False)
        self._conns.append(c)

    def _poll(self):
        for c in self._conns:
            try:
                while c.recv(65536):
                    pass
            except (BlockingIOError, OSError):
                pass


class CloserBackend(_ThreadedListener):
    """Accepts connections, reads the request head and closes the connection cleanly
    (FIN, not RST) without answering: "upstream prematurely closed connection"."""

    def _on_conn(self, c):
        c.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                more = c.recv(65536)
                if not more:
                    break
                data += more
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()
