"""Directives whose nginx behaviour README claims, checked at their boundaries (and
against nginx): large_client_header_buffers' per-line rule, the implicit 301 of a
`location /x/` handled by proxy_pass, keepalive_timeout's header, port_in_redirect,
server_name_in_redirect, charset, proxy_buffer_size, server_tokens and
reset_timedout_connection."""

import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import (IntegrationTest, fill, free_port, http_get, http_request,  # noqa: E402
                                   is_nginx)


def header_line(name_len_total):
    """A header line `X-Fill: vvv...` of exactly `name_len_total` bytes with its CRLF."""
    return "X-Fill: " + "v" * (name_len_total - 10) + "\r\n"


class RawUpstreamOnce:
    """Answers every request on every connection with fixed bytes (then closes)."""

    def __init__(self, response):
        import threading
        self.response = response
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.hits = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        while not self.done.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                c.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = c.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    self.hits += 1
                    c.sendall(self.response)
                except OSError:
                    pass

    def stop(self):
        self.done.set()
        self.sock.close()
        self.thread.join(5)


class ConformanceTest(IntegrationTest):
    def setUp(self):
        self.port = free_port()
        self.be = self.backend()

    def start(self, conf, **values):
        return self.proxy(fill(conf, PORT=self.port, BE=self.be.addr, **values))

    # -- large_client_header_buffers: each line fits one buffer --------------------------

    def test_large_client_header_buffers_apply_per_line_at_the_boundary(self):
        self.start("""
http {
    access_log off;
    client_header_buffer_size 1k;
    large_client_header_buffers 2 1k;
    server { listen 127.0.0.1:@PORT@; location / { proxy_pass http://@BE@; } }
}
""")
        # "GET /aaa HTTP/1.1\r\n": 4 + path + 11 bytes with the CRLF.
        def request_line(total):
            return "GET /" + "a" * (total - 16) + " HTTP/1.1\r\n"
        cases = [
            ("request line of exactly one buffer", request_line(1024) + "Host: x\r\n\r\n", 200),
            ("request line one byte longer", request_line(1025) + "Host: x\r\n\r\n", 414),
            ("request line of 1.5 KB", request_line(1536) + "Host: x\r\n\r\n", 414),
            ("header line of exactly one buffer",
             "GET / HTTP/1.1\r\nHost: x\r\n" + header_line(1024) + "\r\n", 200),
            ("header line one byte longer",
             "GET / HTTP/1.1\r\nHost: x\r\n" + header_line(1025) + "\r\n", 400),
            ("header line of 1.5 KB",
             "GET / HTTP/1.1\r\nHost: x\r\n" + header_line(1536) + "\r\n", 400),
            ("three 700-byte headers", "GET / HTTP/1.1\r\nHost: x\r\n" + header_line(700) * 3 + "\r\n",
             200),
            ("four 700-byte headers", "GET / HTTP/1.1\r\nHost: x\r\n" + header_line(700) * 4 + "\r\n",
             400),
        ]
        before = len(self.be.requests)
        passed = 0
        for name, raw, status in cases:
            with self.subTest(name):
                c = self.client(self.port)
                c.send(raw)
                r = c.read_response()
                self.assertEqual(r.status, status, r)
                passed += status == 200
        # Only the requests answered 200 reached the backend: checked after a positive
        # signal (a marker request on a fresh connection reached it).
        self.assertEqual(http_get(self.port, "/marker").json()["target"], "/marker")
        self.assertEqual(len(self.be.requests) - before, passed + 1)
        self.assertEqual(self.be.last_request().target, "/marker")

    # -- the implicit redirect of `location /x/` -----------------------------------------

    def test_prefix_location_with_slash_redirects_the_bare_path(self):
        self.start("""
http {
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        location / { return 200 "root"; }
        location /app/ { proxy_pass http://@BE@; }
        location /exact/ { proxy_pass http://@BE@; }
        location = /exact { return 200 "exact"; }
        location /plain/ { return 200 "plain"; }
        location ~ ^/app$ { return 200 "regex"; }
    }
}
""")
        r = http_get(self.port, "/app")
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("Location"), "http://localhost:%d/app/" % self.port)
        r = http_get(self.port, "/app?a=1&b=2")
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("Location"), "http://localhost:%d/app/?a=1&b=2" % self.port)
        # An exact location for the bare path wins; a location without proxy_pass
        # does not redirect.
        self.assertEqual(http_get(self.port, "/exact").text, "exact")
        self.assertEqual(http_get(self.port, "/plain").text, "root")
        self.assertEqual(http_get(self.port, "/app/x").status, 200)

    # -- keepalive_timeout's second argument ------------------------------------------------

    def test_keepalive_timeout_header(self):
        self.start("""
http {
    access_log off;
    keepalive_timeout 30s 25s;
    server { listen 127.0.0.1:@PORT@; location / { return 200 "ok"; } }
}
""")
        r = http_get(self.port, "/")
        self.assertEqual(r.header("Keep-Alive"), "timeout=25", r)

    def test_chunked_transfer_encoding_off_ends_an_unknown_length_by_closing(self):
        conf = """
http {
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://@BE@; proxy_http_version 1.1; }
        location /plain/ { proxy_pass http://@BE@/; proxy_http_version 1.1; chunked_transfer_encoding off; }
    }
}
"""
        self.start(conf)
        c = self.client(self.port)
        c.request("GET", "/chunked?n=3&size=5")
        r = c.read_response()
        self.assertEqual(r.header("Transfer-Encoding"), "chunked", r)
        self.assertEqual(len(r.body), 15)
        c = self.client(self.port)
        c.request("GET", "/plain/chunked?n=3&size=5")
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.header("Transfer-Encoding"), r)
        self.assertIsNone(r.header("Content-Length"), r)
        self.assertEqual(r.header("Connection"), "close", r)
        self.assertEqual(len(r.body), 15)
        self.assertTrue(c.closed_by_peer())

    # -- redirects: port_in_redirect, server_name_in_redirect ------------------------------

    def test_port_and_server_name_in_redirect(self):
        self.start("""
http {
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        server_name canonical.example alias.example;
        location = /default { return 302 /target; }
        location = /noport { port_in_redirect off; return 302 /target; }
        location = /named { server_name_in_redirect on; return 302 /target; }
    }
}
""")
        hdr = {"Host": "alias.example"}
        self.assertEqual(http_get(self.port, "/default", headers=hdr).header("Location"),
                         "http://alias.example:%d/target" % self.port)
        self.assertEqual(http_get(self.port, "/noport", headers=hdr).header("Location"),
                         "http://alias.example/target")
        self.assertEqual(http_get(self.port, "/named", headers=hdr).header("Location"),
                         "http://canonical.example:%d/target" % self.port)
        # No Host (HTTP/1.0): nginx names the local address.
        r = http_request(self.port, "GET", "/default", version="HTTP/1.0")
        self.assertEqual(r.header("Location"), "http://127.0.0.1:%d/target" % self.port)

    # -- charset ---------------------------------------------------------------------------

    def test_charset_is_added_to_listed_types_only(self):
        koi8 = RawUpstreamOnce(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=koi8-r\r\n"
                               b"Content-Length: 2\r\nConnection: close\r\n\r\nok").start()
        self.addCleanup(koi8.stop)
        self.start("""
http {
    access_log off;
    charset utf-8;
    server {
        listen 127.0.0.1:@PORT@;
        location = /text { default_type text/plain; return 200 "t"; }
        location = /json { default_type application/json; return 200 "{}"; }
        location = /missing { return 404; }
        location /be/ { proxy_pass http://@BE@/; }
        location /koi8/ { proxy_pass http://@KOI8@; }
    }
}
""", KOI8=koi8.addr)
        self.assertEqual(http_get(self.port, "/text").header("Content-Type"), "text/plain; charset=utf-8")
        self.assertEqual(http_get(self.port, "/json").header("Content-Type"), "application/json")
        self.assertEqual(http_get(self.port, "/missing").header("Content-Type"),
                         "text/html; charset=utf-8")
        # Proxied: text/plain gets the charset, application/json (the echo) does not,
        # and a charset the upstream gave is kept.
        self.assertEqual(http_get(self.port, "/be/status/200").header("Content-Type"),
                         "text/plain; charset=utf-8")
        self.assertEqual(http_get(self.port, "/be/echo").header("Content-Type"), "application/json")
        r = http_get(self.port, "/koi8/")
        self.assertEqual(r.header("Content-Type"), "text/html; charset=koi8-r", r)

    # -- proxy_buffer_size: the largest upstream response head -------------------------------

    def test_proxy_buffer_size_limits_the_upstream_head(self):
        big = RawUpstreamOnce(b"HTTP/1.1 200 OK\r\nX-Big: " + b"v" * 3000 +
                              b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").start()
        self.addCleanup(big.stop)
        self.start("""
http {
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        location /small/ { proxy_buffer_size 1k; proxy_pass http://@BIG@; }
        location /default/ { proxy_pass http://@BIG@; }
        location /large/ { proxy_buffer_size 64k; proxy_buffers 4 64k; proxy_pass http://@BIG@; }
    }
}
""", BIG=big.addr)
        self.assertEqual(http_get(self.port, "/small/").status, 502)
        self.assertEqual(http_get(self.port, "/default/").status, 200)  # 4k, one page
        self.assertEqual(http_get(self.port, "/large/").status, 200)

    def test_proxy_buffer_size_above_the_pooled_buffer(self):
        big = RawUpstreamOnce(b"HTTP/1.1 200 OK\r\nX-Big: " + b"v" * 40000 +
                              b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").start()
        self.addCleanup(big.stop)
        self.start("""
http {
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        location /default/ { proxy_pass http://@BIG@; }
        location /large/ { proxy_buffer_size 64k; proxy_buffers 4 64k; proxy_pass http://@BIG@; }
    }
}
""", BIG=big.addr)
        self.assertEqual(http_get(self.port, "/default/").status, 502)
        r = http_get(self.port, "/large/")
        self.assertEqual((r.status, r.body), (200, b"ok"), r)
        self.assertEqual(len(r.header("X-Big")), 40000)

    # -- server_tokens ------------------------------------------------------------------------

    def test_server_tokens(self):
        self.start("""
http {
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        location = /on { return 404; }
        location = /off { server_tokens off; return 404; }
    }
}
""")
        on = http_get(self.port, "/on")
        off = http_get(self.port, "/off")
        self.assertRegex(on.header("Server"), r"^\w+/\d+\.\d+\.\d+$")
        self.assertRegex(off.header("Server"), r"^\w+$")
        self.assertIn(b"<hr><center>%s</center>" % on.header("Server").encode(), on.body)
        self.assertIn(b"<hr><center>%s</center>" % off.header("Server").encode(), off.body)

    # -- reset_timedout_connection ------------------------------------------------------------

    def _timed_out_body(self, reset):
        self.start("""
http {
    access_log off;
    client_body_timeout 1s;
    reset_timedout_connection @RESET@;
    server { listen 127.0.0.1:@PORT@; location / { proxy_pass http://@BE@; } }
}
""", RESET="on" if reset else "off")
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            got = b""
            try:
                while True:
                    data = s.recv(65536)
                    if not data:
                        return got, False
                    got += data
            except ConnectionResetError:
                return got, True

    def test_reset_timedout_connection_on_resets(self):
        got, reset = self._timed_out_body(True)
        self.assertTrue(reset, got)

    def test_reset_timedout_connection_off_closes(self):
        got, reset = self._timed_out_body(False)
        self.assertFalse(reset, got)

    def test_upstream_timeout_mid_body_is_not_reset(self):
        # Only a client that timed out is reset: when the upstream stops in the middle
        # of a response, the bytes already relayed must still reach the client,
        # followed by a clean close (a reset could discard them).
        import threading
        lsock = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(lsock.close)
        stop = threading.Event()

        def serve():
            c, _ = lsock.accept()
            with c:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += c.recv(65536)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 50000)
                stop.wait(5)
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        self.addCleanup(t.join, 5)
        self.addCleanup(stop.set)
        self.proxy(fill("""
http {
    access_log off;
    proxy_read_timeout 1s;
    reset_timedout_connection on;
    server { listen 127.0.0.1:@PORT@; location / { proxy_pass http://@UP@; } }
}
""", PORT=self.port, UP="127.0.0.1:%d" % lsock.getsockname()[1]))
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(1.5)  # the upstream times out before the client reads
            got = b""
            while True:
                data = s.recv(65536)  # a reset raises ConnectionResetError here
                if not data:
                    break
                got += data
        head, _, body = got.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertEqual(body, b"x" * len(body))
        # nginx may keep the last bytes of its busy buffers; tidegate relays all.
        if not is_nginx():
            self.assertEqual(len(body), 50000)

    # -- stub_status ---------------------------------------------------------------------------

    def test_stub_status_page(self):
        import re
        self.start("""
http {
    access_log off;
    server { listen 127.0.0.1:@PORT@; location = /status { stub_status; } location / { return 200; } }
}
""")
        page = re.compile(r"Active connections: (\d+) \nserver accepts handled requests\n (\d+) (\d+) "
                          r"(\d+) \nReading: (\d+) Writing: (\d+) Waiting: (\d+) \n")
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):  # idle, says nothing
            time.sleep(0.2)
            r = http_get(self.port, "/status")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("Content-Type"), "text/plain")
            m = page.fullmatch(r.text)
            self.assertIsNotNone(m, r.text)
            active, accepts, handled, requests, reading, writing, waiting = map(int, m.groups())
            self.assertGreaterEqual(active, 2)
            self.assertEqual(accepts, handled)
            self.assertGreaterEqual(writing, 1)  # this request
            self.assertGreaterEqual(waiting, 1)  # the idle connection
            self.assertEqual(active, reading + writing + waiting)
        again = page.fullmatch(http_get(self.port, "/status").text)
        self.assertEqual(int(again.group(4)), requests + 1)
        self.assertEqual(http_request(self.port, "POST", "/status", body=b"x").status, 405)

    # -- realip ---------------------------------------------------------------------------------

    def test_realip_takes_the_client_from_trusted_proxies_only(self):
        ports = [free_port() for _ in range(3)]
        self.start("""
http {
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        set_real_ip_from 127.0.0.1;
        location / { return 200 "$remote_addr|$realip_remote_addr|$remote_port"; }
        location /denied { deny 203.0.113.7; proxy_pass http://@BE@; }
        location /xff/ {
            real_ip_header X-Forwarded-For;
            proxy_pass http://@BE@/;
            proxy_set_header X-Client $remote_addr;
        }
    }
    server {
        listen 127.0.0.1:@P1@;
        set_real_ip_from 127.0.0.0/8;
        set_real_ip_from 10.0.0.0/8;
        real_ip_header X-Forwarded-For;
        location / { return 200 "$remote_addr"; }
    }
    server {
        listen 127.0.0.1:@P2@;
        set_real_ip_from 127.0.0.0/8;
        set_real_ip_from 10.0.0.0/8;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / { return 200 "$remote_addr"; }
    }
    server {
        listen 127.0.0.1:@P3@;
        set_real_ip_from 10.0.0.1;
        location / { return 200 "$remote_addr"; }
    }
}
""", P1=ports[0], P2=ports[1], P3=ports[2])

        def get(port, path, **headers):
            return http_get(port, path, headers=headers)
        # X-Real-IP from a trusted peer, at server level: before `return` too
        r = get(self.port, "/", **{"X-Real-IP": "198.51.100.9"})
        self.assertEqual(r.text, "198.51.100.9|127.0.0.1|")
        self.assertTrue(get(self.port, "/").text.startswith("127.0.0.1|127.0.0.1|"))
        # allow/deny see the real client
        self.assertEqual(get(self.port, "/denied", **{"X-Real-IP": "203.0.113.7"}).status, 403)
        self.assertEqual(get(self.port, "/denied", **{"X-Real-IP": "203.0.113.8"}).status, 200)
        # a location's real_ip_header applies before the proxy when the server's did not
        echoed = get(self.port, "/xff/echo", **{"X-Forwarded-For": "192.0.2.5"}).json()
        self.assertEqual([v for k, v in echoed["headers"] if k.lower() == "x-client"],
                         ["192.0.2.5"])
        xff = {"X-Forwarded-For": "203.0.113.1, 10.0.0.2"}
        self.assertEqual(get(ports[0], "/", **xff).text, "10.0.0.2")  # the last proxy's word
        self.assertEqual(get(ports[1], "/", **xff).text, "203.0.113.1")  # past trusted proxies
        # an untrusted peer's header is ignored
        self.assertEqual(get(ports[2], "/", **{"X-Real-IP": "198.51.100.9"}).text, "127.0.0.1")

    # -- proxy_method, proxy_pass_request_headers -----------------------------------------------

    def test_proxy_method_and_proxy_pass_request_headers(self):
        self.start("""
http {
    access_log off;
    map $arg_m $wanted { default PATCH; bad "GE T"; }
    server {
        listen 127.0.0.1:@PORT@;
        location /post/ { proxy_method POST; proxy_pass http://@BE@/; }
        location /var/ { proxy_method $wanted; proxy_pass http://@BE@/; }
        location /bare/ {
            proxy_pass_request_headers off;
            proxy_set_header X-Kept yes;
            proxy_pass http://@BE@/;
        }
    }
}
""")
        self.assertEqual(http_get(self.port, "/post/echo").json()["method"], "POST")
        self.assertEqual(http_get(self.port, "/var/echo").json()["method"], "PATCH")
        echoed = http_get(self.port, "/bare/echo", headers={"X-Custom": "1"}).json()
        names = {k.lower() for k, _ in echoed["headers"]}
        self.assertIn("x-kept", names)
        self.assertIn("host", names)
        self.assertNotIn("x-custom", names)
        if not is_nginx():  # nginx sends the bytes as they are: a broken request line
            self.assertEqual(http_get(self.port, "/var/echo?m=bad").status, 500)

    # -- split_clients ---------------------------------------------------------------------------

    @staticmethod
    def murmur2(data):
        """MurmurHash2 as nginx's ngx_murmur_hash2 (written here from the algorithm, to
        check both servers against the same expectation)."""
        m, mask = 0x5BD1E995, 0xFFFFFFFF
        h = len(data)
        i = 0
        while i + 4 <= len(data):
            k = int.from_bytes(data[i:i + 4], "little")
            k = (k * m) & mask
            k ^= k >> 24
            k = (k * m) & mask
            h = ((h * m) & mask) ^ k
            i += 4
        rest = data[i:]
        if len(rest) == 3:
            h ^= rest[2] << 16
        if len(rest) >= 2:
            h ^= rest[1] << 8
        if len(rest) >= 1:
            h ^= rest[0]
            h = (h * m) & mask
        h ^= h >> 13
        h = (h * m) & mask
        h ^= h >> 15
        return h

    def test_split_clients_picks_parts_as_nginx(self):
        self.start("""
http {
    access_log off;
    split_clients "${arg_k}salt" $variant {
        12.5%   a;
        50%     b;
        *       c;
    }
    split_clients "$arg_k" $partial { 0.5% tiny; }
    server { listen 127.0.0.1:@PORT@; location / { return 200 "$variant|$partial"; } }
}
""")
        bounds = [(12.5, "a"), (62.5, "b")]
        seen = set()
        for n in range(60):
            key = "user%d" % n
            h = self.murmur2((key + "salt").encode())
            want = "c"
            for total, value in bounds:
                if h < int(total * 100) * 0xFFFFFFFF // 10000:
                    want = value
                    break
            tiny = "tiny" if self.murmur2(key.encode()) < 50 * 0xFFFFFFFF // 10000 else ""
            self.assertEqual(http_get(self.port, "/?k=" + key).text, want + "|" + tiny, key)
            seen.add(want)
        self.assertEqual(seen, {"a", "b", "c"})

    # -- limit_req -------------------------------------------------------------------------------

    def test_limit_req(self):
        conf = """
http {
    access_log off;
    limit_req_zone $arg_k zone=slow:1m rate=1r/m;
    limit_req_zone $arg_k zone=second:1m rate=1r/s;
    server {
        listen 127.0.0.1:@PORT@;
        location /strict/ { limit_req zone=slow; proxy_pass http://@BE@/; }
        location /burst/ { limit_req zone=slow burst=2 nodelay; proxy_pass http://@BE@/; }
        location /status/ { limit_req zone=slow; limit_req_status 429; proxy_pass http://@BE@/; }
        location /delay/ { limit_req zone=second burst=1; proxy_pass http://@BE@/; }
        location /dry/ { limit_req zone=slow; limit_req_dry_run on; proxy_pass http://@BE@/; }
        location /free/ { limit_req zone=slow; proxy_pass http://@BE@/; }
    }
}
"""
        px = self.start(conf)

        def codes(path, n):
            return [http_get(self.port, path).status for _ in range(n)]
        self.assertEqual(codes("/strict/echo?k=a", 2), [200, 503])
        self.assertEqual(codes("/strict/echo?k=b", 1), [200])  # keys are counted apart
        self.assertTrue(px.wait_log('limiting requests, excess: 1.000 by zone'), px.error_log())
        self.assertIn('by zone "slow", client: 127.0.0.1, server: , request: "GET '
                      '/strict/echo?k=a HTTP/1.1"', px.error_log())
        self.assertEqual(codes("/burst/echo?k=c", 4), [200, 200, 200, 503])
        self.assertEqual(codes("/status/echo?k=d", 2), [200, 429])
        self.assertEqual(codes("/dry/echo?k=e", 3), [200, 200, 200])
        self.assertTrue(px.wait_log("limiting requests, dry run"))
        self.assertEqual(codes("/free/echo", 3), [200, 200, 200])  # an empty key is not limited
        # burst=1 without nodelay: the second request waits its turn (about 1 s at 1r/s)
        self.assertEqual(codes("/delay/echo?k=f", 1), [200])
        started = time.monotonic()
        self.assertEqual(codes("/delay/echo?k=f", 1), [200])
        self.assertGreater(time.monotonic() - started, 0.5)
        self.assertTrue(px.wait_log("delaying request, excess: "))
        # a reload keeps the zone's keys: k=a is still over its rate
        px.write_conf(fill(conf.replace("location /strict/",
                                        'location = /gen { return 200 "2"; }\n'
                                        "        location /strict/"),
                           PORT=self.port, BE=self.be.addr))
        px.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while http_get(self.port, "/gen").text != "2":
            self.assertLess(time.monotonic(), deadline, px.error_log())
            time.sleep(0.05)
        self.assertEqual(codes("/strict/echo?k=a", 1), [503])

    def test_limit_conn(self):
        import threading
        px = self.start("""
http {
    access_log off;
    limit_conn_zone $arg_k zone=per_key:1m;
    server {
        listen 127.0.0.1:@PORT@;
        location /one/ { limit_conn per_key 1; proxy_pass http://@BE@/; }
        location /dry/ { limit_conn per_key 1; limit_conn_dry_run on; proxy_pass http://@BE@/; }
        location /teapot/ { limit_conn per_key 1; limit_conn_status 429; proxy_pass http://@BE@/; }
    }
}
""")
        for prefix, refused in (("/one/", 503), ("/teapot/", 429), ("/dry/", 200)):
            with self.subTest(prefix=prefix):
                # The previous round's slow request may still count at the backend
                # for a moment after its answer arrived.
                self.assertTrue(self.be.wait_for(lambda b: b.in_flight == 0, 5))
                started = threading.Event()
                slow = {}

                def hold():
                    started.set()
                    slow["r"] = http_get(self.port, prefix + "slow?ms=1500&k=x")
                t = threading.Thread(target=hold)
                t.start()
                started.wait()
                # wait until the slow request is in progress at the backend
                self.assertTrue(self.be.wait_for(lambda b: b.in_flight >= 1, 5))
                self.assertEqual(http_get(self.port, prefix + "echo?k=x").status, refused)
                self.assertEqual(http_get(self.port, prefix + "echo?k=y").status, 200)
                t.join(10)
                self.assertEqual(slow["r"].status, 200)
                # its place is given back when it ends
                self.assertEqual(http_get(self.port, prefix + "echo?k=x").status, 200)
        self.assertIn('limiting connections by zone "per_key", client: 127.0.0.1', px.error_log())
        self.assertIn("limiting connections, dry run", px.error_log())

    # -- return 444 ---------------------------------------------------------------------------

    def test_return_444_closes_without_an_answer(self):
        px = self.start("""
http {
    log_format st '$request_uri $status';
    access_log st.log st;
    server { listen 127.0.0.1:@PORT@; location /drop { return 444; } location / { return 200 ok; } }
}
""")
        for target in (b"/drop", b"/drop?x=1"):
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(s.recv(65536), b"")  # closed, not one byte of a response
        self.assertEqual(http_get(self.port, "/other").status, 200)
        self.assertTrue(px.wait_log("/other 200", rel="st.log"), px.log("st.log"))
        self.assertIn("/drop 444", px.log("st.log"))

    # -- lingering close ----------------------------------------------------------------------

    def test_lingering_close_reads_while_the_client_sends_then_closes_when_it_stops(self):
        self.start("""
http {
    access_log off;
    client_max_body_size 1k;
    lingering_time 4s;
    lingering_timeout 1s;
    server { listen 127.0.0.1:@PORT@; location / { proxy_pass http://@BE@; } }
}
""")
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"a" * 10000)
            got = b""
            while b"</html>\r\n" not in got:
                got += s.recv(65536)
            self.assertTrue(got.startswith(b"HTTP/1.1 413"), got)
            # The client goes on sending for longer than a lingering_timeout: the
            # server keeps reading (no reset) until lingering_time.
            end = time.monotonic() + 2.5
            while time.monotonic() < end:
                s.sendall(b"a" * 1000)
                time.sleep(0.25)
            # It stops: after lingering_timeout without data the server closes.
            stopped = time.monotonic()
            self.assertEqual(s.recv(65536), b"")  # a reset raises ConnectionResetError
            self.assertLess(time.monotonic() - stopped, 3.0)

    def test_lingering_close_directives_are_checked(self):
        import shutil
        from tests.support.harness import make_prefix, run_cli
        prefix = make_prefix()
        self.addCleanup(shutil.rmtree, prefix, True)
        conf = os.path.join(prefix, "bad.conf")
        with open(conf, "w") as f:
            f.write("events {}\nhttp {\n    lingering_close sometimes;\n}\n")
        rc, _, err = run_cli(["-t", "-p", prefix, "-c", conf])
        self.assertNotEqual(rc, 0)
        self.assertIn('[emerg]', err)
        self.assertIn('invalid value "sometimes" in %s:3' % conf, err)


if __name__ == "__main__":
    unittest.main()
