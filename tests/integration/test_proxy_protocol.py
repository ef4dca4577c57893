"""`listen ... proxy_protocol`: the PROXY header (v1 text, v2 binary) a balancer in
front sends, $proxy_protocol_addr/_port/_server_addr/_server_port, realip with
`real_ip_header proxy_protocol`, a broken header, and PROXY before TLS. Checked
against nginx too."""

import os
import socket
import ssl
import struct
import sys
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import IntegrationTest, RawClient, fill, free_port  # noqa: E402
from tests.support.tls_certs import shared_certs  # noqa: E402

CONF = """
http {
    access_log off;
    server {
        listen 127.0.0.1:@PP@ proxy_protocol;
        location / {
            return 200 "pp=$proxy_protocol_addr:$proxy_protocol_port to $proxy_protocol_server_addr:$proxy_protocol_server_port remote=$remote_addr\\n";
        }
    }
    server {
        listen 127.0.0.1:@REAL@ proxy_protocol;
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location / { return 200 "remote=$remote_addr realip_remote=$realip_remote_addr\\n"; }
    }
    server {
        listen 127.0.0.1:@TLS@ ssl proxy_protocol;
        ssl_certificate @CRT@;
        ssl_certificate_key @KEY@;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 200 "tls pp=$proxy_protocol_addr scheme=$scheme\\n"; }
    }
}
"""

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(src, dst, sport, dport, command=0x21):
    addresses = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return V2_SIGNATURE + bytes([command, 0x11]) + struct.pack("!H", len(addresses)) + addresses


class ProxyProtocolTest(IntegrationTest):
    def setUp(self):
        self.ports = {"PP": free_port(), "REAL": free_port(), "TLS": free_port()}
        while len(set(self.ports.values())) < 3:
            self.ports["TLS"] = free_port()
        cert = shared_certs().server("a.test", "ecdsa")
        self.px = self.proxy(fill(CONF, CRT=cert.crt, KEY=cert.key, **self.ports))

    def ask(self, port, header, path="/"):
        c = self.client(port)
        c.send(header + b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        return c.read_response()

    def test_v1(self):
        r = self.ask(self.ports["PP"], b"PROXY TCP4 203.0.113.7 198.51.100.2 40000 443\r\n")
        self.assertEqual((r.status, r.text),
                         (200, "pp=203.0.113.7:40000 to 198.51.100.2:443 remote=127.0.0.1\n"))
        r = self.ask(self.ports["PP"], b"PROXY TCP6 2001:db8::1 2001:db8::2 5 6\r\n")
        self.assertEqual(r.text, "pp=2001:db8::1:5 to 2001:db8::2:6 remote=127.0.0.1\n")

    def test_v2(self):
        r = self.ask(self.ports["PP"], v2_header("192.0.2.10", "192.0.2.20", 1234, 80))
        self.assertEqual(r.text, "pp=192.0.2.10:1234 to 192.0.2.20:80 remote=127.0.0.1\n")

    def test_keepalive_requests_keep_the_header(self):
        c = self.client(self.ports["PP"])
        c.send(b"PROXY TCP4 203.0.113.9 198.51.100.2 1 2\r\n")
        for _ in range(3):
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn("pp=203.0.113.9:1 ", c.read_response().text)

    def test_realip_from_proxy_protocol(self):
        r = self.ask(self.ports["REAL"], b"PROXY TCP4 203.0.113.7 198.51.100.2 40000 443\r\n")
        self.assertEqual(r.text, "remote=203.0.113.7 realip_remote=127.0.0.1\n")

    def test_broken_header_closes_without_an_answer(self):
        c = self.client(self.ports["PP"])
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(c.closed_by_peer(3))
        self.assertTrue(self.px.wait_log("broken header"), self.px.error_log())

    def test_proxy_protocol_before_tls(self):
        raw = socket.create_connection(("127.0.0.1", self.ports["TLS"]), timeout=5)
        self.addCleanup(raw.close)
        raw.sendall(b"PROXY TCP4 203.0.113.5 198.51.100.2 7 443\r\n")
        ctx = ssl.create_default_context(cafile=shared_certs().ca)
        tls = ctx.wrap_socket(raw, server_hostname="a.test")
        tls.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = tls.recv(4096)
            if not chunk:
                break
            data += chunk
        self.assertIn(b"200 OK", data)
        self.assertTrue(data.endswith(b"tls pp=203.0.113.5 scheme=https\n"), data)


if __name__ == "__main__":
    unittest.main()
