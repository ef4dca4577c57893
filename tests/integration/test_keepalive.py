"""Keep-alive on both sides: client connections, upstream connection reuse, limits."""

import os
import sys
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import IntegrationTest, fill, free_port, http_get  # noqa: E402


class KeepaliveTest(IntegrationTest):
    def test_client_keepalive_20_requests_one_connection(self):
        be = self.backend()
        port = free_port()
        px = self.proxy(fill("""
http {
    log_format conn '$connection $connection_requests $request';
    access_log access.log conn;
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://@BE@;
            add_header X-Conn $connection;
            add_header X-Conn-Requests $connection_requests;
        }
    }
}
""", PORT=port, BE=be.addr))
        c = self.client(port)
        conns = set()
        for i in range(1, 21):
            c.request("GET", "/ka/%d" % i)
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/ka/%d" % i)
            self.assertEqual(r.header("X-Conn-Requests"), str(i))
            self.assertNotEqual((r.header("Connection") or "").lower(), "close")
            conns.add(r.header("X-Conn"))
        self.assertEqual(len(conns), 1, conns)
        self.assertEqual(len(be.requests), 20)
        c.close()
        conn = conns.pop()
        # the access log (written at the end of each request) tells the same story
        self.assertTrue(px.wait_log("%s 20 GET /ka/20 HTTP/1.1" % conn, rel="access.log"), px.log("access.log"))
        lines = [line for line in px.log("access.log").splitlines() if line]
        self.assertEqual(lines, ["%s %d GET /ka/%d HTTP/1.1" % (conn, i, i) for i in range(1, 21)])

    def test_connection_close_from_client_is_honoured(self):
        port = free_port()
        self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / { return 200 "ok"; }
    }
}
""", PORT=port))
        c = self.client(port)
        c.request("GET", "/", headers=[("Connection", "close")])
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Connection"), "close")
        self.assertTrue(c.closed_by_peer())

    def test_keepalive_requests_limit(self):
        port = free_port()
        self.proxy(fill("""
http {
    keepalive_requests 3;
    server {
        listen 127.0.0.1:@PORT@;
        location / { return 200 "ok"; }
    }
}
""", PORT=port))
        c = self.client(port)
        for i in range(1, 4):
            c.request("GET", "/%d" % i)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            if i < 3:
                self.assertEqual(r.header("Connection"), "keep-alive", r)
            else:
                self.assertEqual(r.header("Connection"), "close", r)
        self.assertTrue(c.closed_by_peer(), "connection must close after keepalive_requests")

    def test_keepalive_timeout_closes_idle_connection(self):
        port = free_port()
        self.proxy(fill("""
http {
    keepalive_timeout 1s;
    server {
        listen 127.0.0.1:@PORT@;
        location / { return 200 "ok"; }
    }
}
""", PORT=port))
        c = self.client(port)
        c.request("GET", "/")
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Connection"), "keep-alive")
        self.assertTrue(c.closed_by_peer(timeout=4.0), "idle connection must close after keepalive_timeout")

    def test_keepalive_timeout_zero_disables(self):
        port = free_port()
        self.proxy(fill("""
http {
    keepalive_timeout 0;
    server {
        listen 127.0.0.1:@PORT@;
        location / { return 200 "ok"; }
    }
}
""", PORT=port))
        c = self.client(port)
        c.request("GET", "/")
        r = c.read_response()
        self.assertEqual(r.header("Connection"), "close")
        self.assertTrue(c.closed_by_peer())

    def _upstream_conf(self, port, be, keepalive):
        return fill("""
worker_processes 1;  # the upstream connection cache is per worker
http {
    upstream pool {
        server @BE@;
        @KEEPALIVE@
    }
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://pool;
            @HTTP11@
        }
    }
}
""", PORT=port, BE=be.addr,
            KEEPALIVE="keepalive 16;" if keepalive else "",
            HTTP11='proxy_http_version 1.1;\n            proxy_set_header Connection "";' if keepalive else "")

    def test_upstream_keepalive_reuses_connection(self):
        be = self.backend()
        port = free_port()
        self.proxy(self._upstream_conf(port, be, keepalive=True))
        ids = []
        for _ in range(6):
            r = http_get(port, "/conn")  # a new client connection each time
            self.assertEqual(r.status, 200, r)
            ids.append(r.json()["conn"])
        self.assertEqual(len(set(ids)), 1, "upstream connection must be reused: %s" % ids)
        self.assertEqual(be.connections, 1)
        last = be.last_request()
        self.assertEqual(last.version, "HTTP/1.1")
        self.assertIsNone(last.header("Connection"), last.headers)

    def test_upstream_keepalive_on_one_client_connection(self):
        be = self.backend()
        port = free_port()
        self.proxy(self._upstream_conf(port, be, keepalive=True))
        c = self.client(port)
        ids = []
        for _ in range(5):
            c.request("GET", "/conn")
            ids.append(c.read_response().json()["conn"])
        self.assertEqual(len(set(ids)), 1, ids)

    def test_no_upstream_keepalive_opens_new_connections(self):
        be = self.backend()
        port = free_port()
        self.proxy(self._upstream_conf(port, be, keepalive=False))
        ids = [http_get(port, "/conn").json()["conn"] for _ in range(5)]
        self.assertEqual(len(set(ids)), 5, ids)
        self.assertEqual(be.connections, 5)
        self.assertEqual(be.last_request().header("Connection"), "close")

    def test_upstream_closing_connection_is_not_reused(self):
        be = self.backend()
        port = free_port()
        self.proxy(self._upstream_conf(port, be, keepalive=True))
        a = http_get(port, "/conn").json()["conn"]
        r = http_get(port, "/close")  # backend answers "Connection: close" and closes
        self.assertEqual(r.status, 200)
        self.assertEqual(r.text, "closing %s\n" % a)
        b = http_get(port, "/conn").json()["conn"]
        self.assertNotEqual(a, b)
        c = http_get(port, "/conn").json()["conn"]
        self.assertEqual(b, c)


if __name__ == "__main__":
    unittest.main()
