"""Draining an upstream server: ``server ADDR drain;`` (nginx >= 1.29.6 syntax; Debian's
nginx 1.22 does not have it, so every test here is skipped under nginx).

A draining server gets no new requests, except from clients whose ``sticky cookie``
points at it; tunnels already open to it keep working. tidegate's extension
``drain_timeout`` (server parameter ``drain_timeout=1s`` or upstream directive
``drain_timeout 1s;``) closes the WebSocket tunnels still open to a draining server
after that time with close code 1001 (going away).
"""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import IntegrationTest, fill, free_port, http_get, is_nginx  # noqa: E402
from tests.support.ws_backends import WsClient, WsEchoBackend  # noqa: E402

CONF = """
worker_processes 1;
http {
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    access_log off;
    upstream pool {
        server @A@;
        server @B@ @B_PARAMS@;
        @UPSTREAM_EXTRA@
    }
    server {
        listen 127.0.0.1:@PORT@;
        add_header X-Gen @GEN@ always;
        location / {
            proxy_pass http://pool;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
    }
}
"""


class DrainTest(IntegrationTest):
    def setUp(self):
        if is_nginx():
            self.skipTest("'drain' needs nginx >= 1.29.6 (Debian 12 has 1.22); drain_timeout is tidegate's")
        self.port = free_port()
        self.gen = 0
        self.reloads = 0

    def conf(self, a, b, b_params="", upstream_extra=""):
        self.gen += 1
        return fill(CONF, PORT=self.port, A=a.addr, B=b.addr, B_PARAMS=b_params,
                    UPSTREAM_EXTRA=upstream_extra, GEN=self.gen)

    def reload(self, px, text):
        px.write_conf(text)
        log_before = len(px.error_log())
        t0 = time.monotonic()
        px.signal(signal.SIGHUP)
        self.reloads += 1
        deadline = time.monotonic() + 10
        if is_nginx():  # its old worker may still accept until it is shutting down
            while px.error_log().count("gracefully shutting down") < self.reloads:
                self.assertLess(time.monotonic(), deadline, "old worker not shutting down\n" + px.diagnostics())
                time.sleep(0.01)
        while True:
            try:
                if http_get(self.port, "/settle", timeout=3).header("X-Gen") == str(self.gen):
                    return t0
            except OSError:
                pass
            self.assertNotIn("[emerg]", px.error_log()[log_before:], "reload refused\n" + px.diagnostics())
            self.assertLess(time.monotonic(), deadline, "reload not live\n" + px.diagnostics())
            time.sleep(0.01)

    def backends(self):
        a = self.backend("A")
        b = self.backend("B")
        return a, b

    def ws_backends(self):
        a, b = WsEchoBackend("A"), WsEchoBackend("B")
        for x in (a, b):
            x.start()
            self.addCleanup(x.stop)
        return a, b

    def ws(self):
        c = WsClient.connect(self.port, "/ws")
        self.addCleanup(c.abort)
        return c

    def served_by(self, n, headers=None):
        out = []
        for i in range(n):
            r = http_get(self.port, "/req/%d" % i, headers=headers)
            self.assertEqual(r.status, 200, r)
            out.append(r.header("X-Backend"))
        return out

    # -- no new requests -----------------------------------------------------------------------

    def test_draining_server_gets_no_new_requests(self):
        a, b = self.backends()
        px = self.proxy(self.conf(a, b))
        self.assertEqual(sorted(set(self.served_by(6))), ["A", "B"], "both servers serve before draining")
        self.reload(px, self.conf(a, b, "drain"))
        before = len(b.requests)
        self.assertEqual(self.served_by(20), ["A"] * 20)
        self.assertEqual(len(b.requests), before, "the draining server got new requests")

    def test_drain_in_initial_conf(self):
        a, b = self.backends()
        self.proxy(self.conf(a, b, "drain"))
        self.assertEqual(self.served_by(10), ["A"] * 10)
        self.assertEqual(len(b.requests), 0)

    # -- sticky sessions -------------------------------------------------------------------------------

    def test_sticky_cookie_still_reaches_draining_server(self):
        a, b = self.backends()
        px = self.proxy(self.conf(a, b, upstream_extra="sticky cookie srv_id;"))
        cookies = {}
        for i in range(10):
            r = http_get(self.port, "/learn/%d" % i)
            self.assertEqual(r.status, 200, r)
            sc = r.header("Set-Cookie")
            self.assertIsNotNone(sc, "no sticky cookie set: %r" % r)
            name, _, value = sc.split(";")[0].partition("=")
            self.assertEqual(name.strip(), "srv_id")
            cookies.setdefault(r.header("X-Backend"), value.strip())
            if len(cookies) == 2:
                break
        self.assertEqual(sorted(cookies), ["A", "B"], cookies)
        self.assertNotEqual(cookies["A"], cookies["B"])
        to_b = [("Cookie", "srv_id=%s" % cookies["B"])]
        to_a = [("Cookie", "srv_id=%s" % cookies["A"])]
        self.assertEqual(self.served_by(4, to_b), ["B"] * 4, "sticky cookie not honoured")

        self.reload(px, self.conf(a, b, "drain", upstream_extra="sticky cookie srv_id;"))
        # a client bound to B still reaches it; everyone else goes to A
        self.assertEqual(self.served_by(5, to_b), ["B"] * 5)
        self.assertEqual(self.served_by(5, to_a), ["A"] * 5)
        before = len(b.requests)
        self.assertEqual(self.served_by(10), ["A"] * 10)
        self.assertEqual(len(b.requests), before)

    # -- tunnels ----------------------------------------------------------------------------------------

    def open_on_both(self):
        """Opens WebSocket sessions until one is on A and one on B."""
        on = {}
        for _ in range(6):
            c = self.ws()
            who = c.who()
            if who in on:
                c.close()
            else:
                on[who] = c
            if len(on) == 2:
                return on["A"], on["B"]
        self.fail("round robin did not reach both servers: %s" % sorted(on))

    def test_tunnel_to_draining_server_keeps_working(self):
        wa, wb = self.ws_backends()
        px = self.proxy(self.conf(wa, wb))
        ca, cb = self.open_on_both()
        self.reload(px, self.conf(wa, wb, "drain"))
        self.assertEqual(cb.echo("after drain"), "after drain")
        self.assertEqual(cb.who(), "B")
        # without drain_timeout it is not cut
        time.sleep(1.5)
        self.assertEqual(cb.echo(b"\x01" * 70000), b"\x01" * 70000)
        self.assertEqual(ca.echo("a still"), "a still")
        # new sessions all land on A
        for _ in range(4):
            c = self.ws()
            self.assertEqual(c.who(), "A")
            c.close()
        cb.close(1000)
        self.assertEqual(cb.close_code, 1000)

    def _drain_timeout_closes_tunnel(self, b_params, upstream_extra=""):
        wa, wb = self.ws_backends()
        px = self.proxy(self.conf(wa, wb))
        ca, cb = self.open_on_both()
        b_sessions = wb.sessions
        t0 = self.reload(px, self.conf(wa, wb, b_params, upstream_extra))
        # still open right after the reload...
        self.assertEqual(cb.echo("still here"), "still here")
        # ...closed by the proxy with 1001 "going away" about 1 s later
        code, reason = cb.wait_close_frame(timeout=10)
        elapsed = time.monotonic() - t0
        self.assertEqual(code, 1001, "close code %s %r" % (code, reason))
        # t0 is just before the SIGHUP; margins for 100 ms timers and a loaded machine
        self.assertGreaterEqual(elapsed, 0.8, "tunnel closed before drain_timeout (%.2fs)" % elapsed)
        self.assertLess(elapsed, 6.0, "tunnel not closed about 1 s after the drain (%.2fs)" % elapsed)
        self.assertTrue(wb.wait_for(lambda b: b.open_sessions == 0, 5), "backend B side left open")
        # the session on A is untouched, and the client reconnects to A
        self.assertEqual(ca.echo("a untouched"), "a untouched")
        for _ in range(3):
            c = self.ws()
            self.assertEqual(c.who(), "A")
            c.close()
        self.assertEqual(wb.sessions, b_sessions, "a new session reached the draining server")

    def test_drain_timeout_server_parameter_closes_tunnel_with_1001(self):
        self._drain_timeout_closes_tunnel("drain drain_timeout=1s")

    def test_drain_timeout_upstream_directive_closes_tunnel_with_1001(self):
        self._drain_timeout_closes_tunnel("drain", upstream_extra="drain_timeout 1s;")


if __name__ == "__main__":
    unittest.main()
