"""Upstream failures: status codes, error-log lines as nginx writes them, next-upstream retries."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import IntegrationTest, fill, free_port, http_get  # noqa: E402


class UpstreamErrorTest(IntegrationTest):
    def test_connection_refused_is_502_and_logged(self):
        dead = self.refusing()
        port = free_port()
        px = self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://@DEAD@;
        }
    }
}
""", PORT=port, DEAD=dead.addr))
        r = http_get(port, "/some/path?q=1", headers=[("Host", "front.example")])
        self.assertEqual(r.status, 502, r)
        needle = ("connect() failed (111: Connection refused) while connecting to upstream, "
                  "client: 127.0.0.1, server: ")
        self.assertTrue(px.wait_log(needle), px.error_log())
        line = next(line for line in px.error_log().splitlines() if needle in line)
        self.assertRegex(line, r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] \d+#\d+: \*\d+ connect\(\) failed")
        self.assertIn('request: "GET /some/path?q=1 HTTP/1.1"', line)
        self.assertIn('upstream: "http://%s/some/path?q=1"' % dead.addr, line)
        self.assertIn('host: "front.example"', line)

    def test_server_name_in_error_log(self):
        dead = self.refusing()
        port = free_port()
        px = self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        server_name named.example;
        location / {
            proxy_pass http://@DEAD@/base/;
        }
    }
}
""", PORT=port, DEAD=dead.addr))
        self.assertEqual(http_get(port, "/x").status, 502)
        self.assertTrue(px.wait_log('server: named.example, request: "GET /x HTTP/1.1", '
                                    'upstream: "http://%s/base/x"' % dead.addr), px.error_log())

    def test_read_timeout_is_504_and_logged(self):
        hole = self.blackhole()
        port = free_port()
        px = self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://@HOLE@;
            proxy_read_timeout 1s;
        }
    }
}
""", PORT=port, HOLE=hole.addr))
        t0 = time.monotonic()
        r = http_get(port, "/wait")
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 504, r)
        # proxy_read_timeout 1s; margins for 100 ms timers and a loaded machine
        self.assertGreaterEqual(elapsed, 0.8)
        self.assertLess(elapsed, 6.0)
        needle = ("upstream timed out (110: Connection timed out) while reading response header "
                  "from upstream, client: 127.0.0.1, server: ")
        self.assertTrue(px.wait_log(needle), px.error_log())
        self.assertTrue(px.wait_log('upstream: "http://%s/wait"' % hole.addr), px.error_log())
        self.assertGreaterEqual(hole.accepted, 1)

    def test_upstream_closing_without_response_is_502(self):
        closer = self.closer()
        port = free_port()
        px = self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://@CLOSER@; }
    }
}
""", PORT=port, CLOSER=closer.addr))
        r = http_get(port, "/")
        self.assertEqual(r.status, 502, r)
        self.assertTrue(px.wait_log("upstream prematurely closed connection while reading response header "
                                    "from upstream"), px.error_log())

    def test_dead_and_live_server_in_group(self):
        dead = self.refusing()
        live = self.backend("live")
        port = free_port()
        px = self.proxy(fill("""
worker_processes 1;  # balancing/keepalive state is per worker
http {
    upstream pool {
        server @DEAD@;
        server @LIVE@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://pool; }
    }
}
""", PORT=port, DEAD=dead.addr, LIVE=live.addr))
        statuses = [http_get(port, "/n/%d" % i).status for i in range(10)]
        self.assertEqual(statuses, [200] * 10)
        self.assertEqual(len(live.requests), 10)
        # the refused attempt is logged (then the server is skipped for fail_timeout)
        self.assertTrue(px.wait_log("connect() failed (111: Connection refused) while connecting to upstream"),
                        px.error_log())
        self.assertIn('upstream: "http://%s/n/0"' % dead.addr, px.error_log())

    def test_all_servers_dead(self):
        d1, d2 = self.refusing(), self.refusing()
        port = free_port()
        px = self.proxy(fill("""
worker_processes 1;  # balancing/keepalive state is per worker
http {
    upstream pool {
        server @D1@;
        server @D2@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://pool; }
    }
}
""", PORT=port, D1=d1.addr, D2=d2.addr))
        self.assertEqual(http_get(port, "/").status, 502)
        # both were tried once, and are now considered unavailable
        log = px.error_log()
        self.assertIn('upstream: "http://%s/"' % d1.addr, log)
        self.assertIn('upstream: "http://%s/"' % d2.addr, log)
        self.assertEqual(http_get(port, "/again").status, 502)
        self.assertTrue(px.wait_log("no live upstreams while connecting to upstream"), px.error_log())

    def test_proxy_next_upstream_off(self):
        dead = self.refusing()
        live = self.backend("live")
        port = free_port()
        self.proxy(fill("""
worker_processes 1;  # balancing/keepalive state is per worker
http {
    upstream pool {
        server @DEAD@;
        server @LIVE@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://pool;
            proxy_next_upstream off;
        }
    }
}
""", PORT=port, DEAD=dead.addr, LIVE=live.addr))
        statuses = [http_get(port, "/").status for _ in range(2)]
        self.assertEqual(sorted(statuses), [200, 502], "one request hits the dead server and is not retried")

    def test_next_upstream_on_status(self):
        bad = self.backend("bad")
        good = self.backend("good")
        port = free_port()
        self.proxy(fill("""
http {
    upstream pool {
        server @BAD@;
        server @GOOD@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /retry/ {
            proxy_pass http://pool/status/;
            proxy_next_upstream error timeout http_503;
        }
        location /noretry/ {
            proxy_pass http://pool/status/;
        }
    }
}
""", PORT=port, BAD=bad.addr, GOOD=good.addr))
        # both answer 503 to /status/503: with http_503 in proxy_next_upstream both are tried
        r = http_get(port, "/retry/503")
        self.assertEqual(r.status, 503)
        self.assertEqual(len(bad.requests) + len(good.requests), 2)
        r = http_get(port, "/noretry/503")
        self.assertEqual(r.status, 503)
        self.assertEqual(len(bad.requests) + len(good.requests), 3)

    def test_error_log_lines_have_nginx_format(self):
        dead = self.refusing()
        port = free_port()
        px = self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://@DEAD@; }
    }
}
""", PORT=port, DEAD=dead.addr))
        http_get(port, "/")
        self.assertTrue(px.wait_log("connect() failed"), px.error_log())
        lines = [line for line in px.error_log().splitlines() if line]
        bad = [line for line in lines if not re.match(
            r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(debug|info|notice|warn|error|crit|alert|emerg)\] \d+#\d+: ", line)]
        self.assertEqual(bad, [])


if __name__ == "__main__":
    unittest.main()
