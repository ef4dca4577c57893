"""HTTP/1.x edges on the client side: HTTP/1.0, pipelining, Expect, chunked bodies,
size limits and malformed requests.

Every request the proxy refuses itself (4xx/5xx of its own) must not reach the
backend. That absence is checked after a positive signal: a marker request on a
fresh connection reaches the backend, and then the backend's record must hold
nothing but the marker (and what the test proxied on purpose)."""

import hashlib
import os
import sys
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import IntegrationTest, fill, free_port  # noqa: E402

CONF = """
http {
    client_max_body_size 1k;
    large_client_header_buffers 2 1k;
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://@BE@;
        }
        location /big/ {
            client_max_body_size 10m;
            proxy_pass http://@BE@/;
        }
        location /h11/ {
            client_max_body_size 10m;
            proxy_pass http://@BE@/;
            proxy_http_version 1.1;
            proxy_request_buffering off;
        }
    }
}
"""


def chunked(pieces, trailers=()):
    out = b""
    for p in pieces:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    out += b"0\r\n"
    for k, v in trailers:
        out += ("%s: %s\r\n" % (k, v)).encode()
    return out + b"\r\n"


class HttpEdgeTest(IntegrationTest):
    def setUp(self):
        self.be = self.backend()
        self.port = free_port()
        self.px = self.proxy(fill(CONF, PORT=self.port, BE=self.be.addr))

    def conn(self):
        return self.client(self.port)

    def assert_backend_got_only(self, *targets):
        """The positive signal first: GET /marker on a fresh connection is answered by the
        backend. Then the backend must have received exactly ``targets`` and the marker,
        each on its own connection (proxy_pass without keepalive)."""
        c = self.conn()
        c.request("GET", "/marker")
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/marker")
        self.assertEqual([q.target for q in self.be.requests], list(targets) + ["/marker"])
        self.assertEqual(self.be.connections, len(targets) + 1)

    # -- versions and connection handling ------------------------------------------------

    def test_http10_gets_response_then_close(self):
        c = self.conn()
        c.send(b"GET /chunked?n=3 HTTP/1.0\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertIn(r.version, ("HTTP/1.0", "HTTP/1.1"))
        self.assertFalse(r.chunked, "no chunked encoding towards an HTTP/1.0 client")
        self.assertEqual(r.body, b"chunk-0\nchunk-1\nchunk-2\n")
        self.assertTrue(c.closed_by_peer())

    def test_http10_keep_alive(self):
        c = self.conn()
        for i in range(2):
            c.send(b"GET /ka10/%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/ka10/%d" % i)
            self.assertEqual((r.header("Connection") or "").lower(), "keep-alive")
        c.send(b"GET /last HTTP/1.0\r\n\r\n")
        self.assertEqual(c.read_response().status, 200)
        self.assertTrue(c.closed_by_peer())

    def test_pipelined_requests_answered_in_order(self):
        c = self.conn()
        c.send(b"GET /slow?ms=300&n=1 HTTP/1.1\r\nHost: a\r\n\r\n"
               b"GET /fast?n=2 HTTP/1.1\r\nHost: a\r\n\r\n"
               b"POST /post?n=3 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
        self.assertEqual([r.status for r in (r1, r2, r3)], [200, 200, 200])
        self.assertEqual(r1.json()["target"], "/slow?ms=300&n=1")
        self.assertEqual(r2.json()["target"], "/fast?n=2")
        self.assertEqual(r3.json()["target"], "/post?n=3")
        self.assertEqual(r3.json()["body_len"], 5)
        self.assertEqual(r3.header("Connection"), "close")
        self.assertTrue(c.closed_by_peer())

    def test_expect_100_continue(self):
        c = self.conn()
        body = b"0123456789"
        c.send(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
        interim = c.read_response(skip_interim=False)
        self.assertEqual(interim.status, 100, interim)
        c.send(body)
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"bytes": 10, "sha256": hashlib.sha256(body).hexdigest(),
                                    "chunked": False})
        self.assertIsNone(self.be.last_request().header("Expect"), "Expect is not forwarded")

    def test_expect_100_continue_over_limit_gets_413_without_100(self):
        c = self.conn()
        c.send(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        r = c.read_response(skip_interim=False)
        self.assertEqual(r.status, 413, r)
        self.assert_backend_got_only()

    # -- bodies ----------------------------------------------------------------------------

    def test_chunked_request_body_forwarded(self):
        pieces = [b"a" * 100, b"b" * 3000, b"c", b"d" * 50000]
        data = b"".join(pieces)
        for prefix in ("/big/", "/h11/"):
            with self.subTest(location=prefix):
                c = self.conn()
                c.send(b"POST " + prefix.encode() + b"upload HTTP/1.1\r\nHost: a\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n" + chunked(pieces))
                r = c.read_response()
                self.assertEqual(r.status, 200, r)
                got = r.json()
                self.assertEqual(got["bytes"], len(data))
                self.assertEqual(got["sha256"], hashlib.sha256(data).hexdigest())

    def test_chunked_request_body_sent_in_pieces_with_extensions_and_trailer(self):
        c = self.conn()
        c.send(b"POST /big/upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        c.send(b"5;ext=1\r\nhel")
        c.send(b"lo\r\n")
        c.send(b"6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["bytes"], 11)
        self.assertEqual(r.json()["sha256"], hashlib.sha256(b"hello world").hexdigest())

    def test_chunked_response_forwarded(self):
        expected = b"".join(b"chunk-%d\n" % i for i in range(7))
        for path in ("/chunked?n=7", "/h11/chunked?n=7"):
            with self.subTest(path=path):
                c = self.conn()
                c.request("GET", path)
                r = c.read_response()
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.chunked, "no length known: chunked to an HTTP/1.1 client")
                self.assertEqual(r.body, expected)
                # the connection stays usable
                c.request("GET", "/after")
                self.assertEqual(c.read_response().json()["target"], "/after")

    def test_client_max_body_size(self):
        c = self.conn()
        c.request("POST", "/upload", body=b"x" * 1024)
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["bytes"], 1024)

        c = self.conn()
        c.request("POST", "/upload", body=b"x" * 2000)
        self.assertEqual(c.read_response().status, 413)

        c = self.conn()
        c.send(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               + chunked([b"y" * 800, b"y" * 800]))
        self.assertEqual(c.read_response().status, 413)
        self.assert_backend_got_only("/upload")

    # -- malformed or oversized requests ------------------------------------------------------

    def test_header_too_large(self):
        c = self.conn()
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"h" * 4096 + b"\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 400, r)
        self.assertIn(b"Request Header Or Cookie Too Large", r.body)
        self.assert_backend_got_only()

    def test_request_line_too_long(self):
        c = self.conn()
        c.send(b"GET /" + b"u" * 4096 + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 414, r)
        self.assert_backend_got_only()

    def test_headers_fitting_the_buffers_pass(self):
        c = self.conn()
        c.request("GET", "/", headers=[("X-Medium-%d" % i, "m" * 700) for i in range(2)])
        r = c.read_response()
        self.assertEqual(r.status, 200, r)

    def test_malformed_request_line(self):
        cases = [
            b"BAD REQUEST LINE\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n",
            b"GET / FTP/1.1\r\nHost: a\r\n\r\n",
            b"\x01\x02\x03 / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nBad Header Line\r\n\r\n",
        ]
        for raw in cases:
            with self.subTest(raw=raw):
                c = self.conn()
                c.send(raw)
                r = c.read_response()
                self.assertEqual(r.status, 400, r)
                self.assertTrue(c.closed_by_peer())
        self.assert_backend_got_only()

    def test_http11_without_host_is_400(self):
        c = self.conn()
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        self.assertEqual(c.read_response().status, 400)
        self.assert_backend_got_only()

    def test_unsupported_http_version_is_505(self):
        c = self.conn()
        c.send(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n")
        self.assertEqual(c.read_response().status, 505)
        self.assert_backend_got_only()

    def test_content_length_with_transfer_encoding_is_400(self):
        c = self.conn()
        c.send(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(c.read_response().status, 400)
        self.assert_backend_got_only()

    def test_invalid_content_length_is_400(self):
        c = self.conn()
        c.send(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n")
        self.assertEqual(c.read_response().status, 400)
        self.assert_backend_got_only()

    def test_bad_chunk_size_is_400(self):
        c = self.conn()
        c.send(b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(c.read_response().status, 400)
        self.assert_backend_got_only()


if __name__ == "__main__":
    unittest.main()
