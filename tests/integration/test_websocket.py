"""WebSocket (and any Upgrade) proxying with nginx's idiom:

    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;

Echo of text/binary/ping, closing handshakes both ways, 1,000 concurrent sessions,
proxy_read_timeout on an idle tunnel (dropped without a close frame: 1006), no upgrade
without the header lines, half-close of a raw upgraded tunnel, the access-log line of a
tunnel (written when it ends, not before: checked after a later request's line), plain
HTTP on the same location. (least_conn counting tunnels: test_balancing.)
"""

import asyncio
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import websockets  # noqa: E402

from tests.support.backends import pattern_chunks  # noqa: E402
from tests.support.harness import IntegrationTest, fill, free_port, http_get, is_nginx  # noqa: E402
from tests.support.ws_backends import (OP_BINARY, OP_CLOSE, FrameReader,  # noqa: E402
                                       RawUpgradeBackend, WsClient, WsEchoBackend,
                                       WsHandshakeError, accept_key, encode_frame,
                                       handshake_request, run_async)

WS_CONF = """
events { worker_connections 4096; }
worker_rlimit_nofile 8192;
worker_processes 1;  # one access-log buffer, written in order
http {
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    log_format tunnel '$status $bytes_sent $request';
    access_log access.log tunnel;
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://@WS@;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            @EXTRA@
        }
        location /raw {
            proxy_pass http://@RAW@;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
        location /no-upgrade-headers {
            proxy_pass http://@WS@;
            proxy_http_version 1.1;
        }
    }
}
"""


def _header(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


class WebSocketTest(IntegrationTest):
    def setUp(self):
        self.ws_be = WsEchoBackend("A")
        self.ws_be.start()
        self.addCleanup(self.ws_be.stop)
        self.raw_be = RawUpgradeBackend()
        self.raw_be.start()
        self.addCleanup(self.raw_be.stop)
        self.port = free_port()

    def start(self, extra=""):
        return self.proxy(fill(WS_CONF, PORT=self.port, WS=self.ws_be.addr, RAW=self.raw_be.addr,
                               EXTRA=extra))

    def ws(self, path="/ws", **kw) -> WsClient:
        c = WsClient.connect(self.port, path, **kw)
        self.addCleanup(c.abort)
        return c

    # -- echo --------------------------------------------------------------------------------

    def test_text_echo(self):
        self.start()
        c = self.ws("/ws/chat?room=1")
        for msg in ["hello", "", "ünïcödé ✓", "x" * 125, "y" * 126, "z" * 70000]:
            self.assertEqual(c.echo(msg), msg)
        self.assertEqual(c.who(), "A")
        # the handshake reached the backend as a WebSocket upgrade
        self.assertEqual(len(self.ws_be.handshakes), 1)
        path, headers = self.ws_be.handshakes[0]
        self.assertEqual(path, "/ws/chat?room=1")
        self.assertEqual(_header(headers, "Upgrade"), "websocket")
        self.assertEqual(_header(headers, "Connection"), "upgrade")
        self.assertIsNotNone(_header(headers, "Sec-WebSocket-Key"))
        self.assertEqual(_header(headers, "Sec-WebSocket-Version"), "13")
        # and the 101 came back with the upgrade headers (websockets checked the accept key)
        rh = c.response_headers
        self.assertEqual(rh.get("Upgrade", "").lower(), "websocket")
        self.assertEqual(rh.get("Connection", "").lower(), "upgrade")
        c.close()
        self.assertEqual(c.close_code, 1000)

    def test_binary_frames_up_to_1mb(self):
        self.start()
        c = self.ws()
        big = b"".join(pattern_chunks(1 << 20))
        for n in (0, 1, 125, 126, 65535, 65536, 300_000):
            payload = big[:n]
            got = c.echo(payload)
            self.assertIsInstance(got, bytes)
            self.assertEqual(got, payload, "binary echo of %d bytes" % n)
        got = c.echo(big, timeout=15)
        self.assertEqual(len(got), len(big))
        self.assertEqual(got, big, "1 MB binary message corrupted")
        # types are preserved when text and binary interleave
        self.assertEqual(c.echo("text"), "text")
        self.assertEqual(c.echo(b"\x00\xffbin"), b"\x00\xffbin")
        # several messages in flight at once come back in order
        for i in range(20):
            c.send(b"%d" % i * 1000)
        for i in range(20):
            self.assertEqual(c.recv(), b"%d" % i * 1000)

    def test_ping_pong(self):
        self.start()
        c = self.ws()
        for payload in (b"", b"p1", b"x" * 125):
            rtt = c.ping(payload)
            self.assertLess(rtt, 2.0)
        self.assertEqual(c.echo("after pings"), "after pings")

    # -- closing handshake ----------------------------------------------------------------------

    def test_close_from_client_propagates_code(self):
        self.start()
        c = self.ws()
        self.assertEqual(c.echo("hi"), "hi")
        c.close(4001, "client bye")
        # the backend got the client's close frame...
        self.assertTrue(self.ws_be.wait_for(lambda b: len(b.closes) == 1, 5), self.ws_be.closes)
        self.assertEqual(self.ws_be.closes[0], (4001, "client bye"))
        # ...and its answer (the same code) came back
        self.assertEqual(c.close_code, 4001)
        self.assertEqual(c.close_reason, "client bye")

    def test_close_from_backend_propagates_code(self):
        self.start()
        c = self.ws()
        c.send("close:4002:server done")
        self.assertEqual(c.wait_close_frame(5), (4002, "server done"))
        self.assertTrue(self.ws_be.wait_for(lambda b: len(b.closes) == 1, 5))
        self.assertEqual(self.ws_be.closes[0], (4002, "server done"))
        # the TCP connection then ends (the proxy closes the client side too)
        deadline = time.monotonic() + 5
        while c.close_code is None and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(c.close_code, 4002)

    # -- many sessions --------------------------------------------------------------------------

    def test_1000_concurrent_sessions(self):
        self.start()
        n, msgs = 1000, 3
        url = "ws://127.0.0.1:%d/ws/many" % self.port

        async def scenario():
            gate = asyncio.Semaphore(100)  # bounded handshake concurrency (listen backlog)
            all_open = asyncio.Event()
            opened = 0
            errors = []

            async def session(i):
                nonlocal opened
                try:
                    async with gate:
                        ws = await websockets.connect(url, compression=None, ping_interval=None,
                                                      close_timeout=5, open_timeout=20)
                    try:
                        opened += 1
                        if opened == n:
                            all_open.set()
                        await asyncio.wait_for(all_open.wait(), 30)
                        for k in range(msgs):
                            text = "s%d-m%d" % (i, k)
                            await ws.send(text)
                            got = await asyncio.wait_for(ws.recv(), 20)
                            if got != text:
                                errors.append("session %d: sent %r got %r" % (i, text, got))
                    finally:
                        await ws.close()
                except Exception as e:  # noqa: B902
                    errors.append("session %d: %r" % (i, e))
                    all_open.set()  # do not keep the others waiting for a failed one
            await asyncio.gather(*(session(i) for i in range(n)))
            return opened, errors

        opened, errors = run_async(scenario(), timeout=50)
        self.assertEqual(errors[:10], [], "%d errors" % len(errors))
        self.assertEqual(opened, n)
        self.assertEqual(self.ws_be.sessions, n)
        self.assertGreaterEqual(self.ws_be.max_open, n, "the sessions were not concurrent")
        self.assertEqual(self.ws_be.messages, n * msgs)
        self.assertTrue(self.ws_be.wait_for(lambda b: b.open_sessions == 0, 10))

    # -- timeouts -------------------------------------------------------------------------------

    def test_proxy_read_timeout_closes_idle_tunnel(self):
        self.start(extra="proxy_read_timeout 2s;")
        c = self.ws()
        # traffic every 0.3 s keeps the tunnel open past the 2 s timeout (1.7 s of slack
        # per gap for a loaded machine)
        t_first = time.monotonic()
        i = 0
        while time.monotonic() - t_first < 2.6:
            self.assertEqual(c.echo("tick %d" % i), "tick %d" % i)
            time.sleep(0.3)
            i += 1
        self.assertEqual(c.echo("last"), "last")
        t0 = time.monotonic()
        code, reason = c.wait_close_frame(timeout=10)
        elapsed = time.monotonic() - t0
        # As nginx: the proxy drops the connection without a close frame of its own (the
        # client sees 1006, "abnormal closure")
        self.assertEqual((code, reason), (1006, ""))
        # the timer runs from the last traffic the proxy saw (just before t0); margins
        # for 100 ms timers and a loaded machine
        self.assertGreaterEqual(elapsed, 1.5, "idle tunnel closed too early (%.2fs)" % elapsed)
        self.assertLess(elapsed, 6.0, "idle tunnel not closed about 2 s after the last traffic")
        # the backend side is closed too
        self.assertTrue(self.ws_be.wait_for(lambda b: b.open_sessions == 0, 5))

    # -- no upgrade without the header lines -----------------------------------------------------

    def test_upgrade_not_forwarded_without_proxy_set_header(self):
        self.start()
        with self.assertRaises(WsHandshakeError) as cm:
            self.ws("/no-upgrade-headers")
        # the backend saw a plain request (Upgrade is hop-by-hop, Connection is "close")
        # and answered it as HTTP; that answer is what the client got
        self.assertEqual(cm.exception.status, 200, str(cm.exception))
        self.assertEqual(self.ws_be.handshakes, [])
        self.assertEqual(self.ws_be.sessions, 0)
        self.assertEqual(len(self.ws_be.http_requests), 1)
        path, headers = self.ws_be.http_requests[0]
        self.assertEqual(path, "/no-upgrade-headers")
        self.assertIsNone(_header(headers, "Upgrade"), headers)
        self.assertEqual(_header(headers, "Connection"), "close")

    # -- raw upgrade: half-close ----------------------------------------------------------------

    def _raw_upgrade(self, path="/raw"):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.addCleanup(s.close)
        s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n"
                   % path).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            more = s.recv(4096)
            self.assertTrue(more, "connection closed before the 101: %r" % data)
            data += more
        head, _, rest = data.partition(b"\r\n\r\n")
        return s, head.decode("latin-1"), rest

    def test_half_close_of_raw_upgraded_tunnel(self):
        if is_nginx():
            self.skipTest("nginx 1.22 ends an upgraded connection at the first EOF from either side")
        self.start()
        s, head, rest = self._raw_upgrade()
        lines = head.split("\r\n")
        self.assertTrue(lines[0].startswith("HTTP/1.1 101"), head)
        hdrs = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
        self.assertEqual(_header(hdrs, "Upgrade"), "foo")
        self.assertEqual(_header(hdrs, "Connection").lower(), "upgrade")
        # the backend got "Upgrade: foo" and "Connection: upgrade" from the map
        self.assertTrue(self.raw_be.wait_for(lambda b: len(b.heads) == 1, 5))
        bhead = self.raw_be.heads[0]
        self.assertIn("\r\nUpgrade: foo", bhead)
        self.assertIn("\r\nConnection: upgrade", bhead)
        got = rest
        s.sendall(b"hello")
        while len(got) < 5:
            more = s.recv(4096)
            self.assertTrue(more, "tunnel closed before the echo")
            got += more
        self.assertEqual(got, b"hello")
        # client half-closes: the backend sees EOF, and what it sends afterwards still
        # reaches the client, followed by EOF
        s.shutdown(socket.SHUT_WR)
        self.assertTrue(self.raw_be.wait_for(lambda b: b.eof_seen == 1, 5), "EOF not forwarded to backend")
        tail = b""
        while True:
            try:
                more = s.recv(4096)
            except ConnectionResetError as e:
                self.fail("tunnel reset after half-close (got %r): %r" % (tail, e))
            if not more:
                break
            tail += more
        self.assertEqual(tail, b"after-eof:5")
        self.assertEqual(self.raw_be.errors, [])

    # -- access log -----------------------------------------------------------------------------

    def test_access_log_101_and_bytes_sent_after_close(self):
        px = self.start()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.addCleanup(s.close)
        req, key = handshake_request("/logged")
        s.sendall(req)
        data = b""
        while b"\r\n\r\n" not in data:
            more = s.recv(4096)
            self.assertTrue(more, data)
            data += more
        head, _, rest = data.partition(b"\r\n\r\n")
        self.assertEqual(rest, b"")
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
        self.assertIn(("Sec-WebSocket-Accept: %s" % accept_key(key)).encode(), head)
        received = len(data)
        reader = FrameReader()
        for payload in (b"a" * 100, b"b" * 1000, b"c" * 70000):
            s.sendall(encode_frame(OP_BINARY, payload))
            frames = []
            while not frames:
                more = s.recv(1 << 16)
                self.assertTrue(more)
                received += len(more)
                reader.feed(more)
                frames = reader.frames()
            self.assertEqual(frames, [(True, OP_BINARY, payload)])
        # not logged while the tunnel is open: a plain request on another connection is
        # logged after the tunnel's traffic (the positive signal: its line reached the
        # file, and with one worker so did every line written before it) ...
        r = http_get(self.port, "/marker-open")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(px.wait_log("GET /marker-open HTTP/1.1", timeout=5, rel="access.log"),
                        px.log("access.log"))
        # ... and the tunnel's is not there
        self.assertNotIn("GET /logged", px.log("access.log"))
        s.sendall(encode_frame(OP_CLOSE, b"\x03\xe8"))
        while True:
            more = s.recv(1 << 16)
            if not more:
                break
            received += len(more)
            reader.feed(more)
        self.assertEqual(reader.frames(), [(True, OP_CLOSE, b"\x03\xe8")])
        # logged once it closed: status 101, every byte sent to the client counted
        line = "101 %d GET /logged HTTP/1.1" % received
        self.assertTrue(px.wait_log(line, timeout=5, rel="access.log"),
                        "expected %r in access log:\n%s" % (line, px.log("access.log")))

    # -- plain HTTP on the same location ----------------------------------------------------------

    def test_plain_http_on_websocket_location(self):
        self.start()
        c = self.client(self.port)
        for i in range(2):  # keep-alive on the client side still works
            c.request("GET", "/ws/plain%d" % i)
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.text, "http A\n")
            self.assertEqual(r.header("X-Backend"), "A")
        self.assertEqual(len(self.ws_be.http_requests), 2)
        path, headers = self.ws_be.http_requests[0]
        self.assertEqual(path, "/ws/plain0")
        # $http_upgrade is empty: the map sends "Connection: close" and no Upgrade header
        self.assertEqual(_header(headers, "Connection"), "close")
        self.assertIsNone(_header(headers, "Upgrade"))
        # and a WebSocket still works next to it
        ws = self.ws()
        self.assertEqual(ws.echo("still"), "still")


if __name__ == "__main__":
    unittest.main()
