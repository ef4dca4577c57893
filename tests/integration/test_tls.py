"""TLS termination (nginx's ngx_http_ssl_module directives, read unchanged).

Clients are real: Python's ssl module, ``openssl s_client`` and ``curl``; all traffic
goes to 127.0.0.1. Certificates come from tests.support.tls_certs (one CA for the
server certificates of a.test / b.test (RSA-2048 and ECDSA P-256) and default.test,
a client CA with the client certificate "CN=alice,O=Tidegate Tests", and a self-signed
client certificate "CN=mallory,O=Tidegate Tests").

Covered: proxying over TLS (bodies of 1 MB both ways, keep-alive), SNI certificate
selection and Host routing, RSA+ECDSA certificate pairs, ssl_protocols / ssl_ciphers,
the $ssl_* variables, client certificates (ssl_verify_client on/optional/optional_no_ca,
error_page 495/496, 421 on SNI/Host mismatch), session resumption (cache and tickets),
plain HTTP on the TLS port (400 / error_page 497), reloads with new certificate files,
``-t`` errors, ssl_reject_handshake, ``data:`` certificates and WebSocket over TLS.

nginx 1.22 notes the tests rely on (tidegate must match):
- nginx 1.22's default ssl_protocols is "TLSv1 TLSv1.1 TLSv1.2" (TLSv1.3 joined the
  default in 1.23.4), so the confs here always set ssl_protocols explicitly.
- nginx checks client certificates after the handshake (it never aborts it for a bad
  one): the request gets 400 (496 "No required SSL certificate was sent", 495 "The SSL
  certificate error"), the handshake itself succeeds.
"""

import asyncio
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import websockets  # noqa: E402

from tests.support.backends import pattern_chunks, pattern_sha256  # noqa: E402
from tests.support.harness import (DEFAULT_CLIENT_TIMEOUT, IntegrationTest, RawClient,  # noqa: E402
                                   fill, free_port, is_nginx, make_prefix, prepare_conf,
                                   process_tree, remove_prefix, run_cli)
from tests.support.tls_certs import shared_certs  # noqa: E402
from tests.support.ws_backends import WsEchoBackend, run_async  # noqa: E402

MB = 1 << 20


def free_ports(n):
    """``n`` distinct free ports (free_port() alone may return the same one twice)."""
    ports = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


# -- clients -----------------------------------------------------------------------------------


def client_context(ca=None, cert=None, min_version=None, max_version=None, ciphers=None,
                   check_hostname=True):
    """A client SSLContext verifying the server against ``ca`` (CERT_REQUIRED, so that
    getpeercert() returns the decoded certificate). ``cert`` is a tls_certs.Cert to
    present as client certificate."""
    ctx = ssl.create_default_context(cafile=ca or shared_certs().ca)
    ctx.check_hostname = check_hostname
    if cert is not None:
        ctx.load_cert_chain(cert.crt, cert.key)
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


def tls12_only(**kw):
    return client_context(min_version=ssl.TLSVersion.TLSv1_2, max_version=ssl.TLSVersion.TLSv1_2, **kw)


def tls13_only(**kw):
    return client_context(min_version=ssl.TLSVersion.TLSv1_3, max_version=ssl.TLSVersion.TLSv1_3, **kw)


class TlsClient(RawClient):
    """RawClient over TLS (Python's ssl module). ``server_hostname`` is the SNI name
    (None: no SNI; then hostname checking is off)."""

    def __init__(self, port, server_hostname="a.test", context=None, session=None,
                 timeout=DEFAULT_CLIENT_TIMEOUT):
        ctx = context or client_context(check_hostname=server_hostname is not None)
        if server_hostname is None:
            ctx.check_hostname = False
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=server_hostname, session=session)
        except BaseException:
            raw.close()
            raise
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(1 << 18)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def peer(self):
        """The server certificate as getpeercert() decodes it."""
        return self.sock.getpeercert()

    def peer_serial(self):
        return self.sock.getpeercert()["serialNumber"]

    def peer_ou(self):
        return subject_field(self.sock.getpeercert(), "organizationalUnitName")

    def peer_cn(self):
        return subject_field(self.sock.getpeercert(), "commonName")


def subject_field(peercert, name):
    for rdn in peercert["subject"]:
        for k, v in rdn:
            if k == name:
                return v
    return None


def handshake_error(port, server_hostname="a.test", context=None):
    """Tries a handshake; returns the ssl.SSLError (or OSError) it failed with, None if
    it succeeded."""
    try:
        c = TlsClient(port, server_hostname, context=context)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
        return e
    c.close()
    return None


def s_client(port, servername=None, *extra, ca=None):
    """Runs ``openssl s_client`` (stdin closed) and parses what it printed: returns a
    dict with rc, out, subject and serial of the server certificate (None if none came),
    protocol, cipher and verify (the "Verify return code" line)."""
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", ca or shared_certs().ca]
    args += ["-servername", servername] if servername else ["-noservername"]
    args += list(extra)
    r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    res = {"rc": r.returncode, "out": out, "subject": None, "serial": None, "protocol": None,
           "cipher": None, "verify": None}
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    if m:
        x = subprocess.run(["openssl", "x509", "-noout", "-serial", "-subject", "-nameopt", "RFC2253"],
                           input=m.group(0).encode(), capture_output=True, timeout=10)
        info = x.stdout.decode()
        res["serial"] = re.search(r"^serial=(\S+)", info, re.M).group(1)
        res["subject"] = re.search(r"^subject=(.*)$", info, re.M).group(1).strip()
    m = re.search(r"^New, (TLSv[\d.]+), Cipher is (\S+)", out, re.M)
    if m:
        res["protocol"], res["cipher"] = m.group(1), m.group(2)
    m = re.search(r"Verify return code: (\d+)", out)
    if m:
        res["verify"] = int(m.group(1))
    return res


def curl(port, url_path, *extra, host="a.test", names=("a.test", "b.test", "default.test"), ca=None,
         timeout=15):
    """Runs curl against https://<host>:<port><url_path>, every name in ``names`` resolved
    to 127.0.0.1. Returns the CompletedProcess (stdout bytes = body unless redirected)."""
    args = ["curl", "-sS", "--max-time", "10", "--cacert", ca or shared_certs().ca]
    for n in names:
        args += ["--resolve", "%s:%d:127.0.0.1" % (n, port)]
    args += list(extra)
    args.append("https://%s:%d%s" % (host, port, url_path))
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


def received_headers(resp):
    """The headers the echo backend received, from its JSON answer, as {lowercase name: value}."""
    return {k.lower(): v for k, v in resp.json()["headers"]}


# -- confs -------------------------------------------------------------------------------------

# Everything the backend should see of the TLS side of a request.
SSL_VARS = """
            proxy_set_header X-Scheme $scheme;
            proxy_set_header X-Https $https;
            proxy_set_header X-Ssl-Protocol $ssl_protocol;
            proxy_set_header X-Ssl-Cipher $ssl_cipher;
            proxy_set_header X-Ssl-Server-Name $ssl_server_name;
            proxy_set_header X-Ssl-Session-Reused $ssl_session_reused;
            proxy_set_header X-Ssl-Session-Id $ssl_session_id;
            proxy_set_header X-Conn $connection;
            proxy_set_header X-Conn-Requests $connection_requests;"""

PROXY_CONF = """
http {
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:@PORT@ ssl;
        listen 127.0.0.1:@PLAIN@;
        server_name a.test;
        ssl_certificate @CRT@;
        ssl_certificate_key @KEY@;
        client_max_body_size 10m;
        location / {
            proxy_pass http://@BE@;@VARS@
        }
        location /ws {
            proxy_pass http://@WS@;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Ssl-Server-Name $ssl_server_name;
        }
    }
}
"""


class TlsTestCase(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = shared_certs()

    def assertServerCert(self, client, cert):
        """The certificate the client got is ``cert`` (serial and subject)."""
        peer = client.peer()
        self.assertEqual(peer["serialNumber"], cert.serial, peer)
        self.assertEqual(subject_field(peer, "commonName"), cert.subject.rsplit("CN=", 1)[1], peer)
        self.assertEqual(subject_field(peer, "organizationalUnitName"), cert.kind, peer)


# -- 1, 5, 13: proxying over TLS, variables, WebSocket -------------------------------------------


class TlsProxyTest(TlsTestCase):
    def setUp(self):
        self.be = self.backend("A")
        self.ws_be = WsEchoBackend("W")
        self.ws_be.start()
        self.addCleanup(self.ws_be.stop)
        self.port, self.plain = free_ports(2)
        cert = self.certs.server("a.test", "rsa")
        self.cert = cert
        self.px = self.proxy(fill(PROXY_CONF, PORT=self.port, PLAIN=self.plain, CRT=cert.crt, KEY=cert.key,
                                  BE=self.be.addr, WS=self.ws_be.addr, VARS=SSL_VARS))

    def tls(self, **kw):
        c = TlsClient(self.port, **kw)
        self.addCleanup(c.close)
        return c

    def test_get_and_keepalive_requests_on_one_tls_connection(self):
        c = self.tls()
        self.assertServerCert(c, self.cert)
        conns = set()
        for i in range(1, 6):
            c.request("GET", "/ka/%d" % i, headers=[("Host", "a.test")])
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/ka/%d" % i)
            self.assertEqual(r.json()["server"], "A")
            self.assertNotEqual((r.header("Connection") or "").lower(), "close", r)
            got = received_headers(r)
            self.assertEqual(got["x-conn-requests"], str(i), got)
            conns.add(got["x-conn"])
        self.assertEqual(len(conns), 1, "all requests on one client connection: %r" % conns)
        self.assertEqual(len(self.be.requests), 5)

    def test_1mb_bodies_both_ways_python_client(self):
        body = b"".join(pattern_chunks(MB))
        c = self.tls()
        c.request("POST", "/upload", headers=[("Host", "a.test"), ("Content-Type", "application/octet-stream")],
                  body=body)
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["bytes"], MB)
        self.assertEqual(r.json()["sha256"], hashlib.sha256(body).hexdigest())
        # download on the same connection
        c.request("GET", "/big?bytes=%d" % MB, headers=[("Host", "a.test")])
        h = hashlib.sha256()
        n = [0]

        def sink(piece):
            h.update(piece)
            n[0] += len(piece)
        r = c.read_response(body_sink=sink)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(n[0], MB)
        self.assertEqual(h.hexdigest(), pattern_sha256(MB))

    def test_1mb_bodies_both_ways_curl(self):
        tmp = tempfile.mkdtemp(prefix="tidegate-tls-curl-")
        self.addCleanup(shutil.rmtree, tmp, True)
        up = os.path.join(tmp, "up.bin")
        down = os.path.join(tmp, "down.bin")
        with open(up, "wb") as f:
            for piece in pattern_chunks(MB + 12345):
                f.write(piece)
        r = curl(self.port, "/upload", "--data-binary", "@" + up, "-H", "Content-Type: application/octet-stream")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual(got["bytes"], MB + 12345)
        self.assertEqual(got["sha256"], pattern_sha256(MB + 12345))
        r = curl(self.port, "/big?bytes=%d" % MB, "-o", down, "-w", "%{http_code} %{size_download} %{ssl_verify_result}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "200 %d 0" % MB)
        with open(down, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), pattern_sha256(MB))

    def test_ssl_variables_tls13(self):
        c = self.tls(context=tls13_only())
        c.request("GET", "/vars", headers=[("Host", "a.test")])
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        got = received_headers(r)
        self.assertEqual(got["x-scheme"], "https")
        self.assertEqual(got["x-https"], "on")
        self.assertEqual(got["x-ssl-protocol"], "TLSv1.3")
        self.assertEqual(c.sock.version(), "TLSv1.3")
        # OpenSSL's cipher name, as the client negotiated it (e.g. TLS_AES_256_GCM_SHA384)
        self.assertEqual(got["x-ssl-cipher"], c.sock.cipher()[0])
        self.assertTrue(got["x-ssl-cipher"].startswith("TLS_"), got)
        self.assertEqual(got["x-ssl-server-name"], "a.test")
        self.assertEqual(got["x-ssl-session-reused"], ".")  # a full handshake

    def test_ssl_variables_tls12(self):
        c = self.tls(context=tls12_only())
        c.request("GET", "/vars", headers=[("Host", "a.test")])
        r = c.read_response()
        got = received_headers(r)
        self.assertEqual(got["x-scheme"], "https")
        self.assertEqual(got["x-https"], "on")
        self.assertEqual(got["x-ssl-protocol"], "TLSv1.2")
        self.assertEqual(got["x-ssl-cipher"], c.sock.cipher()[0])
        self.assertRegex(got["x-ssl-cipher"], r"^ECDHE-RSA-")
        self.assertEqual(got["x-ssl-server-name"], "a.test")
        self.assertEqual(got["x-ssl-session-reused"], ".")

    def test_ssl_variables_without_sni_and_on_plain_http(self):
        # no SNI: $ssl_server_name is empty, and proxy_set_header drops empty values
        c = self.tls(server_hostname=None)
        c.request("GET", "/nosni", headers=[("Host", "a.test")])
        got = received_headers(c.read_response())
        self.assertEqual(got["x-scheme"], "https")
        self.assertNotIn("x-ssl-server-name", got)
        self.assertIn(got["x-ssl-protocol"], ("TLSv1.2", "TLSv1.3"))
        # the plain listener of the same server: $scheme http, no $https / $ssl_*
        p = self.client(self.plain)
        p.request("GET", "/plain", headers=[("Host", "a.test")])
        r = p.read_response()
        self.assertEqual(r.status, 200, r)
        got = received_headers(r)
        self.assertEqual(got["x-scheme"], "http")
        for name in ("x-https", "x-ssl-protocol", "x-ssl-cipher", "x-ssl-server-name",
                     "x-ssl-session-reused", "x-ssl-session-id"):
            self.assertNotIn(name, got)

    def test_websocket_over_tls(self):
        ctx = client_context()

        async def go():
            ws = await websockets.connect("wss://a.test:%d/ws/echo" % self.port, ssl=ctx, host="127.0.0.1",
                                          port=self.port, server_hostname="a.test", compression=None,
                                          ping_interval=None, open_timeout=5, close_timeout=2)
            try:
                peer = ws.transport.get_extra_info("peercert")
                await ws.send("hello over tls")
                reply = await asyncio.wait_for(ws.recv(), 5)
                await ws.send(b"\x00\x01binary\xff")
                breply = await asyncio.wait_for(ws.recv(), 5)
                return peer, reply, breply
            finally:
                await ws.close()
        peer, reply, breply = run_async(go(), 15)
        self.assertEqual(reply, "hello over tls")
        self.assertEqual(breply, b"\x00\x01binary\xff")
        self.assertEqual(peer["serialNumber"], self.cert.serial)
        self.assertTrue(self.ws_be.wait_for(lambda b: len(b.handshakes) == 1, 5))
        path, headers = self.ws_be.handshakes[0]
        hd = {k.lower(): v for k, v in headers}
        self.assertEqual(path, "/ws/echo")
        self.assertEqual(hd.get("x-forwarded-proto"), "https")
        self.assertEqual(hd.get("x-ssl-server-name"), "a.test")


    def test_partial_tls_record_in_a_tunnel_does_not_spin(self):
        # After the 101, the client sends the first 3 bytes of a TLS record and
        # nothing more: the tunnel must wait for the rest, not poll (a busy loop would
        # burn a worker until proxy_read_timeout).
        c = TlsClient(self.port, "a.test")
        self.addCleanup(c.close)
        c.request("GET", "/ws/echo", headers=[
            ("Host", "a.test"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")])
        r = c.read_response()
        self.assertEqual(r.status, 101, r)
        os.write(c.sock.fileno(), b"\x17\x03\x03")  # under TLS, straight to TCP

        def cpu_seconds():
            total = 0
            for pid in process_tree(self.px.pid):
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            return total / os.sysconf("SC_CLK_TCK")
        before = cpu_seconds()
        time.sleep(1.5)
        used = cpu_seconds() - before
        self.assertLess(used, 0.5, "the proxy used %.2f s of CPU in 1.5 s idle" % used)


# -- 2: SNI ----------------------------------------------------------------------------------------

SNI_CONF = """
http {
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:@PORT@ ssl default_server;
        server_name a.test;
        ssl_certificate @A_CRT@;
        ssl_certificate_key @A_KEY@;
        location / {
            proxy_pass http://@BE_A@;
            proxy_set_header X-Ssl-Server-Name $ssl_server_name;
        }
    }
    server {
        listen 127.0.0.1:@PORT@ ssl;
        server_name b.test;
        ssl_certificate @B_CRT@;
        ssl_certificate_key @B_KEY@;
        location / {
            proxy_pass http://@BE_B@;
            proxy_set_header X-Ssl-Server-Name $ssl_server_name;
        }
    }
    # default_server, not the order, picks the certificate without SNI
    server {
        listen 127.0.0.1:@PORT2@ ssl;
        server_name a.test;
        ssl_certificate @A_CRT@;
        ssl_certificate_key @A_KEY@;
        location / { return 200 "port2 a\\n"; }
    }
    server {
        listen 127.0.0.1:@PORT2@ ssl default_server;
        server_name default.test;
        ssl_certificate @D_CRT@;
        ssl_certificate_key @D_KEY@;
        location / { return 200 "port2 default\\n"; }
    }
}
"""


class TlsSniTest(TlsTestCase):
    def setUp(self):
        self.be_a = self.backend("A")
        self.be_b = self.backend("B")
        self.port, self.port2 = free_ports(2)
        c = self.certs
        self.a, self.b, self.d = c.server("a.test", "rsa"), c.server("b.test", "rsa"), c.default
        self.px = self.proxy(fill(SNI_CONF, PORT=self.port, PORT2=self.port2, BE_A=self.be_a.addr,
                                  BE_B=self.be_b.addr, A_CRT=self.a.crt, A_KEY=self.a.key, B_CRT=self.b.crt,
                                  B_KEY=self.b.key, D_CRT=self.d.crt, D_KEY=self.d.key))

    def test_certificate_follows_sni_s_client(self):
        for sni, want in (("a.test", self.a), ("b.test", self.b), (None, self.a), ("unknown.test", self.a)):
            with self.subTest(sni=sni):
                res = s_client(self.port, sni)
                self.assertEqual(res["rc"], 0, res["out"])
                self.assertEqual(res["serial"], want.serial, res["out"])
                self.assertEqual(res["subject"], "CN=%s,OU=rsa,O=Tidegate Tests" % want.subject.rsplit("CN=", 1)[1])
                self.assertEqual(res["verify"], 0, res["out"])
        for sni, want in ((None, self.d), ("unknown.test", self.d), ("a.test", self.a)):
            with self.subTest(port2=True, sni=sni):
                res = s_client(self.port2, sni)
                self.assertEqual(res["rc"], 0, res["out"])
                self.assertEqual(res["serial"], want.serial, res["out"])

    def test_certificate_follows_sni_python_with_hostname_check(self):
        for name, want in (("a.test", self.a), ("b.test", self.b)):
            c = TlsClient(self.port, name)  # check_hostname: the cert must be for name
            self.addCleanup(c.close)
            self.assertServerCert(c, want)
            c.request("GET", "/sni", headers=[("Host", name)])
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["server"], "A" if name == "a.test" else "B")
            self.assertEqual(received_headers(r)["x-ssl-server-name"], name)
        c = TlsClient(self.port2, "default.test")
        self.addCleanup(c.close)
        self.assertServerCert(c, self.d)
        c.request("GET", "/", headers=[("Host", "default.test")])
        self.assertEqual(c.read_response().body, b"port2 default\n")

    def test_http_routing_follows_host_curl(self):
        for host, server in (("a.test", "A"), ("b.test", "B")):
            r = curl(self.port, "/route", host=host)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = json.loads(r.stdout)
            self.assertEqual(got["server"], server)
            self.assertEqual({k.lower(): v for k, v in got["headers"]}["x-ssl-server-name"], host)
        # SNI a.test (certificate of a.test), Host b.test: the request goes to b.test's
        # server (no ssl_verify_client there, so nginx allows the mismatch)
        r = curl(self.port, "/cross", "-H", "Host: b.test", "-w", "\n%{ssl_verify_result}", host="a.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        body, verify = r.stdout.decode().rsplit("\n", 1)
        got = json.loads(body)
        self.assertEqual(got["server"], "B")
        self.assertEqual({k.lower(): v for k, v in got["headers"]}["x-ssl-server-name"], "a.test")
        self.assertEqual(verify, "0")

    def test_no_sni_gets_default_certificate_and_host_routing(self):
        c = TlsClient(self.port, None)
        self.addCleanup(c.close)
        self.assertServerCert(c, self.a)
        c.request("GET", "/nosni", headers=[("Host", "b.test")])
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["server"], "B")
        self.assertNotIn("x-ssl-server-name", received_headers(r))
        c.request("GET", "/nosni2", headers=[("Host", "a.test")])
        self.assertEqual(c.read_response().json()["server"], "A")


# -- 3: RSA and ECDSA certificates in one server ---------------------------------------------------

DUAL_CONF = """
http {
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:@PORT@ ssl;
        server_name a.test;
        ssl_certificate @RSA_CRT@;
        ssl_certificate_key @RSA_KEY@;
        ssl_certificate @EC_CRT@;
        ssl_certificate_key @EC_KEY@;
        location / { return 200 "$ssl_protocol $ssl_cipher\\n"; }
    }
}
"""


class TlsDualCertTest(TlsTestCase):
    def setUp(self):
        self.port = free_port()
        self.rsa, self.ec = self.certs.server("a.test", "rsa"), self.certs.server("a.test", "ecdsa")
        self.px = self.proxy(fill(DUAL_CONF, PORT=self.port, RSA_CRT=self.rsa.crt, RSA_KEY=self.rsa.key,
                                  EC_CRT=self.ec.crt, EC_KEY=self.ec.key))

    def test_tls12_cipher_selects_certificate_python(self):
        for cipher, want in (("ECDHE-ECDSA-AES128-GCM-SHA256", self.ec), ("ECDHE-RSA-AES128-GCM-SHA256", self.rsa)):
            with self.subTest(cipher=cipher):
                c = TlsClient(self.port, context=tls12_only(ciphers=cipher))
                self.addCleanup(c.close)
                self.assertServerCert(c, want)
                c.request("GET", "/", headers=[("Host", "a.test")])
                r = c.read_response()
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.text, "TLSv1.2 %s\n" % cipher)

    def test_tls12_cipher_selects_certificate_s_client(self):
        for cipher, want in (("ECDHE-ECDSA-AES256-GCM-SHA384", self.ec), ("ECDHE-RSA-AES256-GCM-SHA384", self.rsa)):
            with self.subTest(cipher=cipher):
                res = s_client(self.port, "a.test", "-tls1_2", "-cipher", cipher)
                self.assertEqual(res["rc"], 0, res["out"])
                self.assertEqual(res["serial"], want.serial, res["out"])
                self.assertEqual((res["protocol"], res["cipher"]), ("TLSv1.2", cipher), res["out"])

    def test_tls13_signature_algorithm_selects_certificate(self):
        for sigalg, want in (("ecdsa_secp256r1_sha256", self.ec), ("rsa_pss_rsae_sha256", self.rsa)):
            with self.subTest(sigalg=sigalg):
                res = s_client(self.port, "a.test", "-tls1_3", "-sigalgs", sigalg)
                self.assertEqual(res["rc"], 0, res["out"])
                self.assertEqual(res["protocol"], "TLSv1.3", res["out"])
                self.assertEqual(res["serial"], want.serial, res["out"])


# -- 4: ssl_protocols, ssl_ciphers ------------------------------------------------------------------

PROTO_CONF = """
http {
    access_log off;
    ssl_certificate @CRT@;
    ssl_certificate_key @KEY@;
    server {
        listen 127.0.0.1:@P13@ ssl;
        ssl_protocols TLSv1.3;
        location / { return 200 "$ssl_protocol $ssl_cipher\\n"; }
    }
    server {
        listen 127.0.0.1:@P12@ ssl;
        ssl_protocols TLSv1.2;
        ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305;
        location / { return 200 "$ssl_protocol $ssl_cipher\\n"; }
    }
}
"""


class TlsProtocolsTest(TlsTestCase):
    def setUp(self):
        self.p13, self.p12 = free_ports(2)
        cert = self.certs.server("a.test", "rsa")
        self.px = self.proxy(fill(PROTO_CONF, P13=self.p13, P12=self.p12, CRT=cert.crt, KEY=cert.key))

    def get(self, port, context):
        c = TlsClient(port, context=context)
        self.addCleanup(c.close)
        c.request("GET", "/", headers=[("Host", "a.test")])
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        return c, r

    def test_tls13_only_refuses_tls12_client(self):
        # the positive signal first: a TLS 1.3 client is served
        c, r = self.get(self.p13, client_context())
        self.assertEqual(c.sock.version(), "TLSv1.3")
        self.assertEqual(r.text, "TLSv1.3 %s\n" % c.sock.cipher()[0])
        err = handshake_error(self.p13, context=tls12_only())
        self.assertIsInstance(err, ssl.SSLError, "a TLS 1.2-only client must fail the handshake")
        # curl limited to TLS 1.2: handshake failure (35)
        r = curl(self.p13, "/", "--tls-max", "1.2")
        self.assertEqual(r.returncode, 35, r.stderr)
        r = curl(self.p13, "/", "--tlsv1.3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^TLSv1\.3 TLS_")

    def test_tls12_only_refuses_tls13_client(self):
        c, r = self.get(self.p12, client_context())
        self.assertEqual(c.sock.version(), "TLSv1.2")
        self.assertIsInstance(handshake_error(self.p12, context=tls13_only()), ssl.SSLError)

    def test_ssl_ciphers_excludes_cipher(self):
        c, r = self.get(self.p12, tls12_only(ciphers="ECDHE-RSA-AES256-GCM-SHA384"))
        self.assertEqual(r.text, "TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384\n")
        c, r = self.get(self.p12, tls12_only(ciphers="ECDHE-RSA-CHACHA20-POLY1305"))
        self.assertEqual(r.text, "TLSv1.2 ECDHE-RSA-CHACHA20-POLY1305\n")
        err = handshake_error(self.p12, context=tls12_only(ciphers="ECDHE-RSA-AES128-GCM-SHA256"))
        self.assertIsInstance(err, ssl.SSLError, "a client offering only an excluded cipher must fail")
        res = s_client(self.p12, "a.test", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256")
        self.assertNotEqual(res["rc"], 0, res["out"])
        self.assertIsNone(res["serial"], res["out"])
        res = s_client(self.p12, "a.test", "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384")
        self.assertEqual(res["rc"], 0, res["out"])
        self.assertEqual(res["cipher"], "ECDHE-RSA-AES256-GCM-SHA384")


# -- 6: client certificates ---------------------------------------------------------------------------

CLIENT_VARS = """
            proxy_set_header X-Client-Verify $ssl_client_verify;
            proxy_set_header X-Client-S-DN $ssl_client_s_dn;
            proxy_set_header X-Client-I-DN $ssl_client_i_dn;
            proxy_set_header X-Client-Serial $ssl_client_serial;
            proxy_set_header X-Client-Fingerprint $ssl_client_fingerprint;"""

MTLS_CONF = """
http {
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate @CRT@;
    ssl_certificate_key @KEY@;
    ssl_client_certificate @CLIENT_CA@;
    server {
        listen 127.0.0.1:@ON@ ssl;
        ssl_verify_client on;
        location / {
            proxy_pass http://@BE@;@VARS@
        }
    }
    server {
        listen 127.0.0.1:@OPT@ ssl;
        ssl_verify_client optional;
        location / {
            proxy_pass http://@BE@;@VARS@
        }
    }
    server {
        listen 127.0.0.1:@NOCA@ ssl;
        ssl_verify_client optional_no_ca;
        location / {
            proxy_pass http://@BE@;@VARS@
        }
    }
    server {
        listen 127.0.0.1:@EP@ ssl;
        ssl_verify_client on;
        error_page 495 =403 /cert-error;
        error_page 496 =401 /no-cert;
        location = /cert-error { return 200 "bad certificate: $ssl_client_verify\\n"; }
        location = /no-cert { return 200 "no certificate: $ssl_client_verify\\n"; }
        location / { return 200 "ok $ssl_client_s_dn\\n"; }
    }
    # two names on one port, client certificates required: the Host must match the SNI
    server {
        listen 127.0.0.1:@MIS@ ssl default_server;
        server_name a.test;
        ssl_verify_client on;
        location / { return 200 "a.test\\n"; }
    }
    server {
        listen 127.0.0.1:@MIS@ ssl;
        server_name b.test;
        ssl_certificate @B_CRT@;
        ssl_certificate_key @B_KEY@;
        ssl_verify_client on;
        location / { return 200 "b.test\\n"; }
    }
    # a default server that verifies nobody, and one that does: a request that names
    # the verifying one only in Host must still be checked (no SNI: the handshake ran
    # under the default server's settings)
    server {
        listen 127.0.0.1:@HOSTONLY@ ssl default_server;
        server_name open.test;
        location / { return 200 "open\\n"; }
    }
    server {
        listen 127.0.0.1:@HOSTONLY@ ssl;
        server_name admin.test;
        ssl_certificate @B_CRT@;
        ssl_certificate_key @B_KEY@;
        ssl_verify_client on;
        location / { return 200 "admin secret\\n"; }
    }
}
"""


class TlsClientCertTest(TlsTestCase):
    def setUp(self):
        self.be = self.backend("A")
        self.ports = dict(zip(("ON", "OPT", "NOCA", "EP", "MIS", "HOSTONLY"), free_ports(6)))
        cert, b = self.certs.server("a.test", "rsa"), self.certs.server("b.test", "rsa")
        self.px = self.proxy(fill(MTLS_CONF, CRT=cert.crt, KEY=cert.key, B_CRT=b.crt, B_KEY=b.key,
                                  CLIENT_CA=self.certs.client_ca, BE=self.be.addr, VARS=CLIENT_VARS,
                                  **self.ports))

    def get(self, port, cert=None, path="/", context=None, sni="a.test", host="a.test"):
        c = TlsClient(port, sni, context=context or client_context(cert=cert))
        self.addCleanup(c.close)
        c.request("GET", path, headers=[("Host", host)])
        return c.read_response()

    def assert_ssl_400(self, r, text):
        self.assertEqual(r.status, 400, r)
        self.assertIn("<title>400 %s</title>" % text, r.text)
        self.assertIn("<center>%s</center>" % text, r.text)
        self.assertEqual(r.header("Connection"), "close", r)

    def test_verify_on_without_certificate_is_400(self):
        r = self.get(self.ports["ON"], path="/nocert")
        self.assert_ssl_400(r, "No required SSL certificate was sent")
        # TLS 1.2 too
        r = self.get(self.ports["ON"], path="/nocert12", context=tls12_only())
        self.assert_ssl_400(r, "No required SSL certificate was sent")
        self.assertEqual(self.get(self.ports["ON"], self.certs.alice, "/marker").status, 200)
        self.assertEqual([q.target for q in self.be.requests], ["/marker"])

    def test_verify_on_with_foreign_certificate_is_400(self):
        for ctx in (client_context(cert=self.certs.mallory), tls12_only(cert=self.certs.mallory)):
            r = self.get(self.ports["ON"], path="/mallory", context=ctx)
            self.assert_ssl_400(r, "The SSL certificate error")
        # a server certificate from another CA is no client certificate either
        r = self.get(self.ports["ON"], self.certs.server("b.test", "ecdsa"), "/servercert")
        self.assert_ssl_400(r, "The SSL certificate error")
        self.assertEqual(self.get(self.ports["ON"], self.certs.alice, "/marker").status, 200)
        self.assertEqual([q.target for q in self.be.requests], ["/marker"])

    def test_verify_on_with_good_certificate_passes_variables(self):
        alice = self.certs.alice
        for ctx in (client_context(cert=alice), tls12_only(cert=alice)):
            r = self.get(self.ports["ON"], context=ctx, path="/alice")
            self.assertEqual(r.status, 200, r)
            got = received_headers(r)
            self.assertEqual(got["x-client-verify"], "SUCCESS")
            # RFC 2253 form (most specific RDN first), as nginx >= 1.11.6 prints it
            self.assertEqual(got["x-client-s-dn"], "CN=alice,O=Tidegate Tests")
            self.assertEqual(got["x-client-i-dn"], "CN=Tidegate Client CA,O=Tidegate Tests")
            self.assertEqual(got["x-client-serial"], alice.serial)  # uppercase hex
            self.assertEqual(got["x-client-fingerprint"], hashlib.sha1(alice.der()).hexdigest())
            self.assertRegex(got["x-client-fingerprint"], r"^[0-9a-f]{40}$")

    def test_verify_on_curl_with_client_certificate(self):
        r = curl(self.ports["ON"], "/curl", "--cert", self.certs.alice.crt, "--key", self.certs.alice.key)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = {k.lower(): v for k, v in json.loads(r.stdout)["headers"]}
        self.assertEqual(got["x-client-verify"], "SUCCESS")
        self.assertEqual(got["x-client-s-dn"], "CN=alice,O=Tidegate Tests")
        r = curl(self.ports["ON"], "/curl-nocert", "-w", "\n%{http_code}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.decode().endswith("\n400"), r.stdout)
        self.assertIn(b"No required SSL certificate was sent", r.stdout)

    def test_verify_optional(self):
        r = self.get(self.ports["OPT"], path="/none")
        self.assertEqual(r.status, 200, r)
        got = received_headers(r)
        self.assertEqual(got["x-client-verify"], "NONE")
        for name in ("x-client-s-dn", "x-client-fingerprint", "x-client-serial"):
            self.assertNotIn(name, got)  # empty: not sent
        r = self.get(self.ports["OPT"], self.certs.alice, "/alice")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(received_headers(r)["x-client-verify"], "SUCCESS")
        # optional still refuses a certificate that does not verify
        r = self.get(self.ports["OPT"], self.certs.mallory, "/mallory")
        self.assert_ssl_400(r, "The SSL certificate error")

    def test_verify_optional_no_ca(self):
        mallory = self.certs.mallory
        r = self.get(self.ports["NOCA"], mallory, "/mallory")
        self.assertEqual(r.status, 200, r)
        got = received_headers(r)
        # "FAILED:" + OpenSSL's verify error text (OpenSSL 3: "self-signed certificate")
        self.assertTrue(got["x-client-verify"].startswith("FAILED:"), got)
        self.assertIn("self", got["x-client-verify"])
        self.assertEqual(got["x-client-s-dn"], "CN=mallory,O=Tidegate Tests")
        self.assertEqual(got["x-client-fingerprint"], mallory.sha1())
        r = self.get(self.ports["NOCA"], self.certs.alice, "/alice")
        self.assertEqual(received_headers(r)["x-client-verify"], "SUCCESS")
        r = self.get(self.ports["NOCA"], path="/none")
        self.assertEqual(received_headers(r)["x-client-verify"], "NONE")

    def test_error_page_495_496(self):
        r = self.get(self.ports["EP"], path="/x")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.text, "no certificate: NONE\n")
        r = self.get(self.ports["EP"], self.certs.mallory, "/x")
        self.assertEqual(r.status, 403, r)
        self.assertTrue(r.text.startswith("bad certificate: FAILED:"), r)
        r = self.get(self.ports["EP"], self.certs.alice, "/x")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.text, "ok CN=alice,O=Tidegate Tests\n")

    def test_verifying_server_named_only_by_host_still_checks(self):
        # No SNI: the handshake asked for no certificate. The Host's server requires
        # one, so the request is refused (nginx: 400 "No required SSL certificate").
        r = self.get(self.ports["HOSTONLY"], sni=None, host="admin.test", path="/nosni")
        self.assert_ssl_400(r, "No required SSL certificate was sent")
        self.assertNotIn("admin secret", r.text)
        r = self.get(self.ports["HOSTONLY"], sni=None, host="open.test")
        self.assertEqual((r.status, r.text), (200, "open\n"))

    def test_host_differing_from_sni_is_421_with_client_verification(self):
        alice = self.certs.alice
        r = self.get(self.ports["MIS"], alice, sni="b.test", host="b.test")
        self.assertEqual((r.status, r.text), (200, "b.test\n"))
        r = self.get(self.ports["MIS"], alice, sni="a.test", host="a.test")
        self.assertEqual((r.status, r.text), (200, "a.test\n"))
        # negotiated b.test (its certificate, its client verification), asks for a.test
        r = self.get(self.ports["MIS"], alice, sni="b.test", host="a.test")
        self.assertEqual(r.status, 421, r)
        self.assertIn("421 Misdirected Request", r.text)


# -- 7: session resumption ---------------------------------------------------------------------------

RESUME_CONF = """
http {
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate @CRT@;
    ssl_certificate_key @KEY@;
    server {
        listen 127.0.0.1:@CACHE@ ssl;
        ssl_session_cache shared:SSL:1m;
        ssl_session_tickets off;
        location / {
            proxy_pass http://@BE@;@VARS@
        }
    }
    server {
        listen 127.0.0.1:@TICKETS@ ssl;
        # defaults: ssl_session_cache none; ssl_session_tickets on;
        location / {
            proxy_pass http://@BE@;@VARS@
        }
    }
    server {
        listen 127.0.0.1:@NONE@ ssl;
        ssl_session_tickets off;  # and no cache: nothing to resume
        location / {
            proxy_pass http://@BE@;@VARS@
        }
    }
}
"""


class TlsSessionResumptionTest(TlsTestCase):
    def setUp(self):
        self.be = self.backend("A")
        self.ports = dict(zip(("CACHE", "TICKETS", "NONE"), free_ports(3)))
        cert = self.certs.server("a.test", "rsa")
        self.px = self.proxy(fill(RESUME_CONF, CRT=cert.crt, KEY=cert.key, BE=self.be.addr, VARS=SSL_VARS,
                                  **self.ports))

    def connect_and_get(self, port, ctx, session=None):
        c = TlsClient(port, context=ctx, session=session)
        self.addCleanup(c.close)
        c.request("GET", "/resume", headers=[("Host", "a.test")])
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        # read the response before taking the session: TLS 1.3 tickets come after the handshake
        return c, received_headers(r), c.sock.session

    def check_resumes(self, port, ctx):
        c1, got1, sess = self.connect_and_get(port, ctx)
        self.assertFalse(c1.sock.session_reused)
        self.assertEqual(got1["x-ssl-session-reused"], ".")
        self.assertIsNotNone(sess)
        c2, got2, _ = self.connect_and_get(port, ctx, session=sess)
        self.assertTrue(c2.sock.session_reused, "second connection not resumed")
        self.assertEqual(got2["x-ssl-session-reused"], "r")
        return got1, got2, sess

    def test_shared_cache_without_tickets_tls12(self):
        got1, got2, sess = self.check_resumes(self.ports["CACHE"], tls12_only())
        self.assertFalse(sess.has_ticket)
        # a TLS 1.2 session-ID resumption: $ssl_session_id is the ID (hex), the same both times
        self.assertEqual(got1["x-ssl-session-id"], sess.id.hex())
        self.assertEqual(got2["x-ssl-session-id"], sess.id.hex())
        self.assertRegex(got1["x-ssl-session-id"], r"^[0-9a-f]{64}$")

    def test_shared_cache_without_tickets_tls13(self):
        self.check_resumes(self.ports["CACHE"], tls13_only())

    def test_tickets_tls12(self):
        got1, got2, sess = self.check_resumes(self.ports["TICKETS"], tls12_only())
        self.assertTrue(sess.has_ticket)

    def test_tickets_tls13(self):
        got1, got2, sess = self.check_resumes(self.ports["TICKETS"], tls13_only())
        self.assertTrue(sess.has_ticket)

    def test_no_cache_no_tickets_does_not_resume(self):
        for ctx in (tls12_only(), tls13_only()):
            with self.subTest(ctx=ctx.maximum_version):
                c1, got1, sess = self.connect_and_get(self.ports["NONE"], ctx)
                c2, got2, _ = self.connect_and_get(self.ports["NONE"], ctx, session=sess)
                self.assertFalse(c2.sock.session_reused)
                self.assertEqual(got2["x-ssl-session-reused"], ".")


# -- 8: plain HTTP on the TLS port ------------------------------------------------------------------

PLAIN_CONF = """
http {
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate @CRT@;
    ssl_certificate_key @KEY@;
    server {
        listen 127.0.0.1:@P400@ ssl;
        location / { return 200 "tls ok\\n"; }
    }
    server {
        listen 127.0.0.1:@P301@ ssl;
        error_page 497 =301 https://$host:$server_port$request_uri;
        location / { return 200 "tls ok\\n"; }
    }
    server {
        listen 127.0.0.1:@P302@ ssl;
        error_page 497 https://$host$request_uri;
        location / { return 200 "tls ok\\n"; }
    }
}
"""


class TlsPlainHttpTest(TlsTestCase):
    def setUp(self):
        self.ports = dict(zip(("P400", "P301", "P302"), free_ports(3)))
        cert = self.certs.server("a.test", "rsa")
        self.px = self.proxy(fill(PLAIN_CONF, CRT=cert.crt, KEY=cert.key, **self.ports))

    def plain(self, port, target="/some/path?x=1"):
        c = self.client(port)
        c.send("GET %s HTTP/1.1\r\nHost: a.test\r\n\r\n" % target)
        r = c.read_response()
        self.assertEqual(r.header("Connection"), "close", r)
        self.assertTrue(c.closed_by_peer(), "the connection must close after the error")
        return r

    def test_plain_http_gets_400(self):
        r = self.plain(self.ports["P400"])
        self.assertEqual(r.status, 400, r)
        self.assertIn("<title>400 The plain HTTP request was sent to HTTPS port</title>", r.text)
        self.assertIn("<center>The plain HTTP request was sent to HTTPS port</center>", r.text)
        self.assertTrue(self.px.wait_log("client sent plain HTTP request to HTTPS port"), self.px.error_log())
        # and TLS still works on that port
        c = TlsClient(self.ports["P400"])
        self.addCleanup(c.close)
        c.request("GET", "/", headers=[("Host", "a.test")])
        self.assertEqual(c.read_response().text, "tls ok\n")

    def test_error_page_497_redirects_with_301(self):
        port = self.ports["P301"]
        r = self.plain(port)
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("Location"), "https://a.test:%d/some/path?x=1" % port)
        # curl, plain http: the status and redirect target
        res = subprocess.run(["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w",
                              "%{http_code} %{redirect_url}", "--resolve", "a.test:%d:127.0.0.1" % port,
                              "http://a.test:%d/q?a=b" % port], capture_output=True, timeout=15)
        self.assertEqual(res.stdout.decode(), "301 https://a.test:%d/q?a=b" % port, res.stderr)
        # following it lands on the TLS side of the same port
        res = curl(port, "/q?a=b", "-L")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, b"tls ok\n")

    def test_error_page_497_url_defaults_to_302(self):
        r = self.plain(self.ports["P302"], "/p?y=2")
        self.assertEqual(r.status, 302, r)
        self.assertEqual(r.header("Location"), "https://a.test/p?y=2")


# -- 9: reloads ---------------------------------------------------------------------------------------

RELOAD_CONF = """
worker_processes 1;
http {
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:@PORT@ ssl;
        server_name a.test;
        ssl_certificate @CRT@;
        ssl_certificate_key @KEY@;
        location / {
            proxy_pass http://@BE@;
        }
    }
}
"""


class TlsReloadTest(TlsTestCase):
    def setUp(self):
        self.be = self.backend("A")
        self.port = free_port()
        first = self.certs.server("a.test", "rsa")
        self.first = first
        self.px = self.proxy(self.conf("@PREFIX@/server.pem", "@PREFIX@/server.key"),
                             files={"server.pem": first.pem(), "server.key": first.key_pem()})

    def conf(self, crt, key):
        return fill(RELOAD_CONF, PORT=self.port, BE=self.be.addr, CRT=crt, KEY=key)

    def fresh_serial(self):
        try:
            c = TlsClient(self.port, timeout=3)
        except (OSError, ssl.SSLError):
            return None
        try:
            return c.peer_serial()
        finally:
            c.close()

    def test_new_certificate_after_reload_old_connection_completes(self):
        old = TlsClient(self.port)
        self.addCleanup(old.close)
        self.assertEqual(old.peer_serial(), self.first.serial)
        old.request("GET", "/before", headers=[("Host", "a.test")])
        self.assertEqual(old.read_response().status, 200)
        idle = TlsClient(self.port)  # keep-alive, idle across the reload
        self.addCleanup(idle.close)
        idle.request("GET", "/idle-before", headers=[("Host", "a.test")])
        self.assertEqual(idle.read_response().status, 200)
        # the next certificate (another serial), made before the clock starts
        new = self.certs.issue_server("a.test", "rsa", out_dir=self.px.prefix, stem="next")
        self.assertNotEqual(new.serial, self.first.serial)
        # a request in flight on the old connection during the reload
        old.request("GET", "/slow?ms=1500", headers=[("Host", "a.test")])
        self.assertTrue(self.be.wait_in_flight(1, 5))
        os.replace(self.px.path("next.pem"), self.px.path("server.pem"))
        os.replace(self.px.path("next.key"), self.px.path("server.key"))
        self.px.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        if is_nginx():
            # until the old worker stops accepting, it may still take new connections
            while "gracefully shutting down" not in self.px.error_log():
                self.assertNotIn("[emerg]", self.px.error_log(), self.px.diagnostics())
                self.assertLess(time.monotonic(), deadline, "old worker not shutting down\n" + self.px.diagnostics())
                time.sleep(0.01)
            time.sleep(0.1)  # it logs that just before closing its listening sockets
        while self.fresh_serial() != new.serial:
            self.assertNotIn("[emerg]", self.px.error_log(), self.px.diagnostics())
            self.assertLess(time.monotonic(), deadline, "new certificate not served\n" + self.px.diagnostics())
            time.sleep(0.02)
        self.assertGreaterEqual(self.be.in_flight, 1, "the slow request ended before the reload took effect")
        # the old connection finishes its request, with the old certificate
        r = old.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/slow?ms=1500")
        self.assertEqual(old.peer_serial(), self.first.serial)
        # new handshakes all get the new one
        for _ in range(3):
            c = TlsClient(self.port)
            self.addCleanup(c.close)
            self.assertEqual(c.peer_serial(), new.serial)
            c.request("GET", "/after", headers=[("Host", "a.test")])
            self.assertEqual(c.read_response().status, 200)
        if not is_nginx():
            # nginx's old worker closes idle keep-alive connections at once; tidegate
            # answers their next request (old configuration) before closing
            idle.request("GET", "/idle-after", headers=[("Host", "a.test")])
            r = idle.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/idle-after")
            self.assertEqual(idle.peer_serial(), self.first.serial)

    def test_reload_with_missing_certificate_keeps_old_conf(self):
        missing = os.path.join(self.px.prefix, "missing.pem")
        self.px.write_conf(self.conf(missing, "@PREFIX@/server.key"))
        self.px.signal(signal.SIGHUP)
        needle = 'cannot load certificate "%s"' % missing
        self.assertTrue(self.px.wait_log(needle, timeout=10), self.px.error_log())
        self.assertRegex(self.px.error_log(), r"\[emerg\] \d+#\d+: " + re.escape(needle))
        self.assertTrue(self.px.is_running())
        c = TlsClient(self.port)
        self.addCleanup(c.close)
        self.assertEqual(c.peer_serial(), self.first.serial)
        c.request("GET", "/still", headers=[("Host", "a.test")])
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/still")


# -- 10: -t -------------------------------------------------------------------------------------------


class TlsConfTestCli(TlsTestCase):
    def setUp(self):
        self.prefix = make_prefix()
        self.addCleanup(remove_prefix, self.prefix)
        self.port = free_port()

    def check(self, server_body, conf_dir=""):
        conf = "http {\n    server {\n        listen 127.0.0.1:%d ssl;\n%s\n    }\n}\n" % (self.port, server_body)
        os.makedirs(os.path.join(self.prefix, conf_dir), exist_ok=True)
        path = os.path.join(self.prefix, conf_dir, "t.conf")
        with open(path, "w") as f:
            f.write(prepare_conf(conf, self.prefix))
        rc, out, err = run_cli(["-p", self.prefix, "-c", path, "-e", os.path.join(self.prefix, "error.log"), "-t"])
        return rc, out + err, path

    def test_missing_certificate_file(self):
        key = self.certs.server("a.test", "rsa").key
        missing = os.path.join(self.prefix, "nope", "missing.pem")
        rc, text, _ = self.check("        ssl_certificate %s;\n        ssl_certificate_key %s;" % (missing, key))
        self.assertNotEqual(rc, 0, text)
        self.assertIn("[emerg]", text)
        self.assertIn('cannot load certificate "%s"' % missing, text)
        self.assertIn("test failed", text)

    def test_relative_certificate_path_is_resolved_against_the_conf_directory(self):
        # nginx resolves it against the directory of the conf file (its "conf prefix"),
        # not against the -p prefix
        cert = self.certs.server("a.test", "rsa")
        rc, text, _ = self.check("        ssl_certificate certs/rel.pem;\n        ssl_certificate_key %s;"
                                 % cert.key, conf_dir="conf")
        self.assertNotEqual(rc, 0, text)
        self.assertIn("[emerg]", text)
        self.assertIn('cannot load certificate "%s"' % os.path.join(self.prefix, "conf", "certs/rel.pem"), text)
        # once the file is there (next to the conf, not in the prefix), the conf is good
        os.makedirs(os.path.join(self.prefix, "conf", "certs"))
        shutil.copy(cert.crt, os.path.join(self.prefix, "conf", "certs", "rel.pem"))
        rc, text, _ = self.check("        ssl_certificate certs/rel.pem;\n        ssl_certificate_key %s;"
                                 % cert.key, conf_dir="conf")
        self.assertEqual(rc, 0, text)
        self.assertIn("test is successful", text)

    def test_missing_key_file(self):
        crt = self.certs.server("a.test", "rsa").crt
        missing = os.path.join(self.prefix, "missing.key")
        rc, text, _ = self.check("        ssl_certificate %s;\n        ssl_certificate_key %s;" % (crt, missing))
        self.assertNotEqual(rc, 0, text)
        self.assertIn('[emerg]', text)
        self.assertIn('cannot load certificate key "%s"' % missing, text)

    def test_listen_ssl_without_certificate(self):
        rc, text, path = self.check("        location / { return 200; }")
        self.assertNotEqual(rc, 0, text)
        # the position is that of the server block ("server {" is on line 2)
        self.assertIn('[emerg] no "ssl_certificate" is defined for the "listen ... ssl" directive in %s:2'
                      % path, text)
        self.assertIn("test failed", text)

    def test_certificate_without_key(self):
        crt = self.certs.server("a.test", "rsa").crt
        rc, text, _ = self.check("        ssl_certificate %s;" % crt)
        self.assertNotEqual(rc, 0, text)
        self.assertIn('[emerg] no "ssl_certificate_key" is defined for certificate "%s"' % crt, text)

    def test_good_tls_conf_passes(self):
        cert = self.certs.server("a.test", "rsa")
        rc, text, _ = self.check("        ssl_certificate %s;\n        ssl_certificate_key %s;" % (cert.crt, cert.key))
        self.assertEqual(rc, 0, text)
        self.assertIn("test is successful", text)


# -- 11: ssl_reject_handshake -------------------------------------------------------------------------

REJECT_CONF = """
http {
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:@PORT@ ssl default_server;
        ssl_reject_handshake on;
    }
    server {
        listen 127.0.0.1:@PORT@ ssl;
        server_name a.test;
        ssl_certificate @CRT@;
        ssl_certificate_key @KEY@;
        location / { return 200 "a.test $ssl_server_name\\n"; }
    }
}
"""


class TlsRejectHandshakeTest(TlsTestCase):
    def setUp(self):
        self.port = free_port()
        self.cert = self.certs.server("a.test", "rsa")
        self.px = self.proxy(fill(REJECT_CONF, PORT=self.port, CRT=self.cert.crt, KEY=self.cert.key))

    def test_reject_handshake(self):
        # the positive signal first
        c = TlsClient(self.port, "a.test")
        self.addCleanup(c.close)
        self.assertServerCert(c, self.cert)
        c.request("GET", "/", headers=[("Host", "a.test")])
        self.assertEqual(c.read_response().text, "a.test a.test\n")
        r = curl(self.port, "/")
        self.assertEqual((r.returncode, r.stdout), (0, b"a.test a.test\n"), r.stderr)
        for sni in (None, "unknown.test"):
            for ctx in (tls12_only, tls13_only):
                with self.subTest(sni=sni, ctx=ctx.__name__):
                    err = handshake_error(self.port, sni, context=ctx())
                    self.assertIsInstance(err, ssl.SSLError)
                    # nginx rejects with the unrecognized_name alert (112)
                    self.assertIn("UNRECOGNIZED_NAME", str(err))
            res = s_client(self.port, sni)
            self.assertNotEqual(res["rc"], 0, res["out"])
            self.assertIsNone(res["serial"], res["out"])
            self.assertIn("unrecognized name", res["out"])


# -- 12: data: certificates ---------------------------------------------------------------------------

DATA_CONF = """
http {
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:@PORT@ ssl;
        server_name b.test;
        ssl_certificate "data:@CERT@";
        ssl_certificate_key "data:@KEY@";
        location / { return 200 "inline $ssl_server_name\\n"; }
    }
}
"""


class TlsDataCertificateTest(TlsTestCase):
    # nginx (>= 1.15.10) takes "data:" followed by the PEM text itself; 1.22 accepts it
    # as a literal quoted string spanning lines.
    def test_inline_pem_certificate_and_key(self):
        port = free_port()
        cert = self.certs.server("b.test", "ecdsa")
        self.proxy(fill(DATA_CONF, PORT=port, CERT=cert.pem().strip(), KEY=cert.key_pem().strip()))
        c = TlsClient(port, "b.test")
        self.addCleanup(c.close)
        self.assertServerCert(c, cert)
        c.request("GET", "/", headers=[("Host", "b.test")])
        r = c.read_response()
        self.assertEqual((r.status, r.text), (200, "inline b.test\n"))


if __name__ == "__main__":
    unittest.main()
