"""Graceful (SIGQUIT) and fast (SIGTERM) shutdown with requests in flight, idle
keep-alive connections and open WebSocket tunnels.

The in-flight request is a GET /hold that the backend keeps until the test releases
it, so what is still in flight is decided by events, not by wall time; only
worker_shutdown_timeout is a time (with margins for 100 ms timers and a loaded
machine)."""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.balancing_backends import BalancingBackend  # noqa: E402
from tests.support.harness import (Background, IntegrationTest, can_connect, fill, free_port,  # noqa: E402
                                   http_get, start_backend)
from tests.support.ws_backends import WsClient, WsEchoBackend  # noqa: E402

CONF = """
@MAIN@
http {
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://@BE@;
        }
        location /ws {
            proxy_pass http://@WS@;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
    }
}
"""


class ShutdownTest(IntegrationTest):
    def setUp(self):
        self.be = start_backend(self, BalancingBackend("A"))  # the echo backend, with /hold
        self.ws_be = WsEchoBackend("W")
        self.ws_be.start()
        self.addCleanup(self.ws_be.stop)
        self.port = free_port()

    def start(self, main=""):
        return self.proxy(fill(CONF, PORT=self.port, BE=self.be.addr, WS=self.ws_be.addr, MAIN=main))

    def ws(self):
        c = WsClient.connect(self.port, "/ws")
        self.addCleanup(c.abort)
        return c

    def idle_keepalive(self):
        c = self.client(self.port)
        c.request("GET", "/ka")
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Connection"), "keep-alive")
        return c

    def held_request(self):
        """GET /hold in the background, once the backend holds it (until release())."""
        self.addCleanup(self.be.release)  # runs before the proxy's cleanup stops it
        bg = Background(lambda: http_get(self.port, "/hold", timeout=30))
        self.assertTrue(self.be.wait_for(lambda b: b.held == 1, 5), "held request did not reach the backend")
        return bg

    def wait_refused(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while can_connect(self.port):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def test_sigquit_finishes_in_flight_request(self):
        px = self.start()
        ka = self.idle_keepalive()
        bg = self.held_request()
        px.signal(signal.SIGQUIT)
        # idle keep-alive connections are closed at once...
        self.assertTrue(ka.closed_by_peer(timeout=5.0), "idle keep-alive connection not closed on SIGQUIT")
        # ...new connections are refused...
        self.assertTrue(self.wait_refused(), "still accepting after SIGQUIT")
        for _ in range(5):
            self.assertFalse(can_connect(self.port))
        # ...while the in-flight request, still held, keeps the process running...
        self.assertTrue(px.is_running(), "exited before the in-flight request was done")
        self.assertFalse(bg.join(0), "the held request ended before it was released: %r" % bg.result)
        # ...and runs to completion once the backend answers
        self.be.release()
        self.assertTrue(bg.join(10))
        r = bg.result
        self.assertNotIsInstance(r, BaseException, r)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["target"], "/hold")
        self.assertTrue(px.wait_exit(5), "did not exit after the in-flight request\n" + px.diagnostics())
        self.assertEqual(px.returncode, 0)
        self.assertFalse(os.path.exists(px.pid_path), "pid file must be removed at exit")

    def test_sigquit_with_websocket_and_worker_shutdown_timeout(self):
        px = self.start("worker_shutdown_timeout 2s;")
        c = self.ws()
        self.assertEqual(c.echo("before"), "before")
        t0 = time.monotonic()
        px.signal(signal.SIGQUIT)
        self.assertTrue(self.wait_refused(), "still accepting after SIGQUIT")
        # the tunnel keeps working until worker_shutdown_timeout (2 s)...
        self.assertEqual(c.echo("during 1"), "during 1")
        while time.monotonic() - t0 < 1.0:
            time.sleep(0.05)
        self.assertEqual(c.echo("during 2"), "during 2")
        # ...then it is closed, as nginx does it: the connection is dropped without a
        # close frame (the client sees 1006), and the process exits
        code, reason = c.wait_close_frame(timeout=10)
        closed_after = time.monotonic() - t0
        self.assertEqual((code, reason), (1006, ""))
        self.assertGreaterEqual(closed_after, 1.5, "tunnel closed before worker_shutdown_timeout")
        self.assertLess(closed_after, 6.0, "tunnel not closed about 2 s after SIGQUIT")
        self.assertTrue(px.wait_exit(5), "did not exit after worker_shutdown_timeout\n" + px.diagnostics())
        self.assertEqual(px.returncode, 0)
        self.assertFalse(os.path.exists(px.pid_path))
        self.assertTrue(self.ws_be.wait_for(lambda b: b.open_sessions == 0, 5), "backend side left open")

    def test_sigterm_exits_promptly_closing_everything(self):
        px = self.start()
        ka = self.idle_keepalive()
        c = self.ws()
        self.assertEqual(c.echo("before"), "before")
        # never released: only a stop that does not wait for it ends this request
        bg = self.held_request()
        px.signal(signal.SIGTERM)
        self.assertTrue(px.wait_exit(5), "SIGTERM must stop without waiting\n" + px.diagnostics())
        self.assertEqual(px.returncode, 0)
        self.assertFalse(os.path.exists(px.pid_path))
        self.assertFalse(can_connect(self.port))
        # every client connection was closed (the tunnel without a close frame: 1006)
        self.assertTrue(ka.closed_by_peer(timeout=5.0))
        self.assertEqual(c.wait_close_frame(timeout=5), (1006, ""))
        self.assertTrue(bg.join(5))
        self.assertIsInstance(bg.result, BaseException, "in-flight request must be cut: %r" % bg.result)
        self.assertTrue(self.ws_be.wait_for(lambda b: b.open_sessions == 0, 5), "backend side left open")


if __name__ == "__main__":
    unittest.main()
