"""WebSocket peers and a synchronous WebSocket client for the tidegate integration tests.

Everything listens on 127.0.0.1 only, on ephemeral ports, in a background thread of
the test process, like tests/support/backends.py.

``WsEchoBackend(name)`` is a real WebSocket server (python3-websockets, Debian 12 has
10.4: the legacy asyncio implementation; no permessage-deflate, no keepalive pings,
messages up to 64 MiB). Per session it answers:

  text "who"                 -> text: its name
  text "headers"             -> text: JSON [[name, value], ...] of the handshake request
  text "close:CODE[:REASON]" -> starts the closing handshake with CODE/REASON
  anything else              -> echoed back, text as text and binary as binary

A request that is not a WebSocket handshake (no ``Upgrade: websocket`` plus
``Connection: upgrade``) is recorded in ``.http_requests`` and answered
``200 "http NAME\\n"`` (with ``X-Backend: NAME`` and ``Connection: close``). Handshakes
are recorded in ``.handshakes``; the close code/reason the backend *received* for
each finished session goes to ``.closes``.

``RawUpgradeBackend`` answers any request with ``101 Switching Protocols`` echoing its
``Upgrade`` header, then speaks raw bytes: it echoes what arrives, and once the proxy
half-closes (EOF) it sends ``after-eof:<bytes received>`` and closes.

``WsClient`` is a synchronous client (a wrapper around websockets' asyncio client,
run on one shared background event loop; websockets 10.4 has no sync client).

Frame helpers (``encode_frame``, ``FrameReader``, ``handshake_request``) support raw
socket clients that count exact bytes.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import http
import json
import os
import socket
import struct
import threading
import time

import websockets
import websockets.exceptions
from websockets.datastructures import Headers

from tests.support.backends import LoopThreadServer, wait_on

__all__ = [
    "WsEchoBackend",
    "RawUpgradeBackend",
    "WsClient",
    "WsHandshakeError",
    "run_async",
    "encode_frame",
    "FrameReader",
    "handshake_request",
    "accept_key",
    "OP_TEXT",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
]

MAX_MESSAGE = 64 << 20
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


# -- frame helpers (RFC 6455) ------------------------------------------------------------


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def handshake_request(path="/", host="localhost", key=None, extra=()):
    """Returns (bytes, key) of a WebSocket opening handshake request."""
    key = key or base64.b64encode(os.urandom(16)).decode()
    lines = ["GET %s HTTP/1.1" % path, "Host: %s" % host, "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: %s" % key, "Sec-WebSocket-Version: 13"]
    lines.extend("%s: %s" % kv for kv in extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), key


def encode_frame(opcode: int, payload: bytes = b"", mask: bool = True, fin: bool = True) -> bytes:
    """One frame; clients must mask (``mask=True``), servers must not."""
    n = len(payload)
    head = bytearray([(0x80 if fin else 0) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head.append(mbit | n)
    elif n < 1 << 16:
        head.append(mbit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mbit | 127)
        head += struct.pack("!Q", n)
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4)
    head += key
    return bytes(head) + _xor(payload, key)


def _xor(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    n = len(data)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ k).to_bytes(n, "big")


class FrameReader:
    """Incremental frame parser: feed() bytes, then frames() yields
    (fin, opcode, payload) tuples (payloads unmasked)."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data: bytes):
        self.buf += data

    def frames(self):
        out = []
        while True:
            b = self.buf
            if len(b) < 2:
                break
            fin = bool(b[0] & 0x80)
            op = b[0] & 0x0F
            masked = bool(b[1] & 0x80)
            n = b[1] & 0x7F
            off = 2
            if n == 126:
                if len(b) < 4:
                    break
                n = struct.unpack_from("!H", b, 2)[0]
                off = 4
            elif n == 127:
                if len(b) < 10:
                    break
                n = struct.unpack_from("!Q", b, 2)[0]
                off = 10
            key = None
            if masked:
                if len(b) < off + 4:
                    break
                key = bytes(b[off:off + 4])
                off += 4
            if len(b) < off + n:
                break
            payload = bytes(b[off:off + n])
            del b[:off + n]
            if key:
                payload = _xor(payload, key)
            out.append((fin, op, payload))
        return out


# -- WebSocket echo backend ------------------------------------------------------------------


def _is_upgrade(headers: Headers) -> bool:
    conn = ",".join(headers.get_all("Connection")).lower()
    up = ",".join(headers.get_all("Upgrade")).lower()
    return "upgrade" in [t.strip() for t in conn.split(",")] and "websocket" in up


class WsEchoBackend(LoopThreadServer):
    """WebSocket echo server in a background thread (see the module docstring)."""

    thread_prefix = "ws-backend-"

    def __init__(self, name="ws"):
        self.name = name
        self._init_loop_thread()
        self.handshakes = []     # [(path, [(name, value), ...])] of accepted handshakes
        self.http_requests = []  # [(path, [(name, value), ...])] of non-upgrade requests
        self.closes = []         # [(code, reason)] received by the backend, per finished session
        self.sessions = 0        # sessions opened so far
        self.open_sessions = 0
        self.max_open = 0
        self.messages = 0        # messages received
        self._cond = threading.Condition()

    # -- lifecycle -----------------------------------------------------------------------

    async def _serve(self):
        return await websockets.serve(
            self._session, "127.0.0.1", 0, process_request=self._process_request,
            compression=None, ping_interval=None, max_size=MAX_MESSAGE, max_queue=None,
            close_timeout=2, backlog=1024, read_limit=1 << 20, write_limit=1 << 20)

    def _abort_connections(self):
        # the server stopped listening; websockets closes sessions with 1001
        for ws in list(getattr(self._server, "websockets", ())):
            try:
                ws.transport.abort()
            except Exception:
                pass

    # -- inspection -----------------------------------------------------------------------

    def wait_for(self, predicate, timeout=10.0):
        return wait_on(self._cond, lambda: predicate(self), timeout)

    def _update(self, fn):
        with self._cond:
            fn()
            self._cond.notify_all()

    # -- protocol ---------------------------------------------------------------------------

    async def _process_request(self, path, headers: Headers):
        raw = list(headers.raw_items())
        if _is_upgrade(headers):
            self._update(lambda: self.handshakes.append((path, raw)))
            return None
        self._update(lambda: self.http_requests.append((path, raw)))
        body = ("http %s\n" % self.name).encode()
        return http.HTTPStatus.OK, [("Content-Type", "text/plain"), ("X-Backend", self.name)], body

    async def _session(self, ws, path=None):
        def opened():
            self.sessions += 1
            self.open_sessions += 1
            self.max_open = max(self.max_open, self.open_sessions)
        self._update(opened)
        try:
            async for msg in ws:
                self._update(lambda: setattr(self, "messages", self.messages + 1))
                if isinstance(msg, str):
                    if msg == "who":
                        await ws.send(self.name)
                        continue
                    if msg == "headers":
                        await ws.send(json.dumps([[k, v] for k, v in ws.request_headers.raw_items()]))
                        continue
                    if msg.startswith("close:"):
                        parts = msg.split(":", 2)
                        await ws.close(int(parts[1]), parts[2] if len(parts) > 2 else "")
                        break
                await ws.send(msg)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            try:
                await asyncio.wait_for(ws.wait_closed(), 3)
            except (asyncio.TimeoutError, Exception):
                pass
            code, reason = ws.close_code, ws.close_reason

            def closed():
                self.open_sessions -= 1
                self.closes.append((code, reason))
            self._update(closed)


# -- raw upgrade backend ------------------------------------------------------------------------


class RawUpgradeBackend:
    """Answers any request with 101 (``Upgrade`` echoed from the request), then echoes
    raw bytes; after EOF from the proxy it sends ``after-eof:<n>`` (n = bytes received
    after the head) and closes. ``.heads`` holds the raw request heads,
    ``.eof_seen`` counts connections on which the proxy half-closed."""

    def __init__(self, after_eof_delay=0.2):
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", 0))
        self._lsock.listen(64)
        self._lsock.settimeout(0.1)
        self.port = self._lsock.getsockname()[1]
        self.after_eof_delay = after_eof_delay
        self.heads = []
        self.eof_seen = 0
        self.errors = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads = []
        self._conns = []

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                c, _ = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self._conns.append(c)
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, c):
        c.settimeout(10)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                more = c.recv(65536)
                if not more:
                    return
                data += more
            head, _, rest = data.partition(b"\r\n\r\n")
            with self._cond:
                self.heads.append(head.decode("latin-1"))
                self._cond.notify_all()
            upgrade = "foo"
            for line in head.decode("latin-1").split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "upgrade":
                    upgrade = v.strip()
            c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n"
                       % upgrade).encode("latin-1"))
            received = len(rest)
            if rest:
                c.sendall(rest)
            while True:
                more = c.recv(65536)
                if not more:
                    break
                received += len(more)
                c.sendall(more)
            with self._cond:
                self.eof_seen += 1
                self._cond.notify_all()
            # the proxy's write side is closed; ours must still reach the client
            if self.after_eof_delay:
                self._stop.wait(self.after_eof_delay)
            c.sendall(b"after-eof:%d" % received)
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.errors.append(repr(e))
        finally:
            c.close()

    def wait_for(self, predicate, timeout=10.0):
        return wait_on(self._cond, lambda: predicate(self), timeout)

    def stop(self):
        self._stop.set()
        self._lsock.close()
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv()
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# -- synchronous client -------------------------------------------------------------------------

_LOOP = None
_LOOP_LOCK = threading.Lock()


def _loop():
    """The shared background event loop of the synchronous clients."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            loop = asyncio.new_event_loop()
            t = threading.Thread(target=loop.run_forever, name="ws-client-loop", daemon=True)
            t.start()
            _LOOP = loop
        return _LOOP


def run_async(coro, timeout=30.0):
    """Runs ``coro`` on the shared client loop and returns its result (raises its
    exception; TimeoutError after ``timeout`` s, cancelling it)."""
    fut = asyncio.run_coroutine_threadsafe(coro, _loop())
    try:
        return fut.result(timeout)
    except concurrent.futures.TimeoutError:
        fut.cancel()
        raise TimeoutError("websocket operation timed out after %.1fs" % timeout)


class WsHandshakeError(AssertionError):
    """The opening handshake failed (e.g. the proxy or backend did not answer 101)."""

    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


class WsClient:
    """Synchronous WebSocket client.

        c = WsClient.connect(port, "/ws")
        c.send("hi"); c.recv() == "hi"
        c.close(4000, "bye"); c.close_code

    recv() raises ``websockets.exceptions.ConnectionClosed`` once the session is over.
    """

    def __init__(self, ws, url):
        self.ws = ws
        self.url = url

    @classmethod
    def connect(cls, port, path="/", timeout=5.0, headers=None, **kw):
        url = "ws://127.0.0.1:%d%s" % (port, path)
        opts = dict(compression=None, ping_interval=None, max_size=MAX_MESSAGE, max_queue=None,
                    close_timeout=2, open_timeout=timeout)
        opts.update(kw)

        async def go():
            return await websockets.connect(url, extra_headers=headers, **opts)
        try:
            ws = run_async(go(), timeout + 1)
        except websockets.exceptions.InvalidStatusCode as e:
            raise WsHandshakeError("handshake to %s failed: HTTP %s" % (url, e.status_code), e.status_code)
        except websockets.exceptions.InvalidHandshake as e:
            raise WsHandshakeError("handshake to %s failed: %r" % (url, e))
        return cls(ws, url)

    # -- messages --

    def send(self, msg, timeout=10.0):
        run_async(self.ws.send(msg), timeout)

    def recv(self, timeout=5.0):
        return run_async(self.ws.recv(), timeout)

    def echo(self, msg, timeout=5.0):
        self.send(msg, timeout)
        return self.recv(timeout)

    def who(self, timeout=5.0):
        return self.echo("who", timeout)

    def ping(self, data=b"", timeout=5.0) -> float:
        """Sends a ping, waits for its pong; returns the round-trip time (s)."""
        async def go():
            t0 = time.monotonic()
            waiter = await self.ws.ping(data)
            await waiter
            return time.monotonic() - t0
        return run_async(go(), timeout)

    # -- closing --

    def close(self, code=1000, reason="", timeout=5.0):
        """Runs the closing handshake (client-initiated)."""
        run_async(self.ws.close(code, reason), timeout)

    def wait_close_frame(self, timeout=5.0):
        """Waits until the peer's close frame arrives or the connection is lost.
        Returns (code, reason) as soon as that happens (not after the TCP close that
        follows): code 1006 when the connection ended without a close frame.
        Messages arriving before that stay queued for recv()."""
        async def go():
            # the reader task ends at the close frame or when the connection is lost
            # (it may end cancelled when the connection is lost: wait() does not raise)
            await asyncio.wait([self.ws.transfer_data_task])
            rcvd = self.ws.close_rcvd
            if rcvd is None:
                return 1006, ""
            return rcvd.code, rcvd.reason
        return run_async(go(), timeout)

    @property
    def open(self) -> bool:
        return self.ws.open

    @property
    def close_code(self):
        return self.ws.close_code

    @property
    def close_reason(self):
        return self.ws.close_reason

    @property
    def response_headers(self):
        return self.ws.response_headers

    def abort(self):
        """Drops the TCP connection at once (for cleanups)."""
        def go():
            try:
                self.ws.transport.abort()
            except Exception:
                pass
        try:
            _loop().call_soon_threadsafe(go)
        except RuntimeError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()
