"""TLS to upstreams: ``proxy_pass https://...`` with nginx's proxy_ssl_* directives.

The upstream is a real TLS server on 127.0.0.1 (``TlsUpstream`` below: Python's ssl
module, one thread per connection, HTTP/1.1 keep-alive) that records what it saw of
every connection: the SNI name (sni_callback; None when the ClientHello had none), the
client certificate subject (mTLS), whether the session was resumed, the TLS version,
and of every request: the request line, headers and body. Its answer echoes that as
JSON, so a test can check it on the proxy's client side too. ``WssEchoBackend`` is
tests.support.ws_backends.WsEchoBackend served over TLS (wss).

Certificates come from tests.support.tls_certs: the shared CA signs "up.test" (and an
IP-address certificate for 127.0.0.1) made here; the client CA signs the proxy's
client certificate "CN=alice,O=Tidegate Tests".

Every location has its own upstream (its own backend and implicit
``https://127.0.0.1:PORT`` target or ``upstream`` block): nginx and tidegate reuse
keep-alive connections and cached TLS sessions per upstream group, whatever the
location's proxy_ssl_* settings.

nginx 1.22 behaviour the tests rely on (observed; tidegate must match unless noted):
- the default proxy_ssl_name is $proxy_host without its port; SNI (proxy_ssl_server_name
  on) is never sent for an IP address.
- certificate problems are logged after a complete handshake, at [error]:
  'upstream SSL certificate does not match "NAME" while SSL handshaking to upstream'
  and 'upstream SSL certificate verify error: (21:unable to verify the first
  certificate) while SSL handshaking to upstream' (21, not 20: the backend sends its
  certificate without a chain); the client gets 502.
- an upstream connection is closed with close_notify (without waiting for the peer's).
- sessions are resumed (proxy_ssl_session_reuse on) from the second connection on, with
  TLS 1.2 (tickets) and TLS 1.3 (the tickets arrive before the answer).
Deliberate differences (the tests branch on is_nginx()):
- proxy_ssl_protocols defaults to "TLSv1 TLSv1.1 TLSv1.2" in nginx 1.22 (TLS 1.2 with
  this backend); tidegate has nginx >= 1.23.4's default and speaks TLS 1.3.
- nginx 1.22 matches the name against DNS names only (X509_check_host): a certificate
  with only IP:127.0.0.1 fails for "127.0.0.1" (502); tidegate matches IP addresses
  against IP entries.
"""

import hashlib
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import websockets  # noqa: E402

from tests.support.backends import pattern_chunks, pattern_sha256, wait_on  # noqa: E402
from tests.support.harness import (IntegrationTest, fill, free_port, is_nginx,  # noqa: E402
                                   make_prefix, prepare_conf, remove_prefix, run_cli)
from tests.support.tls_certs import Cert, shared_certs  # noqa: E402
from tests.support.ws_backends import MAX_MESSAGE, WsClient, WsEchoBackend  # noqa: E402

MB = 1 << 20
_SHORT = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
          "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}


def subject_string(peercert):
    """getpeercert()'s subject in openssl -subj form, e.g. "/O=Tidegate Tests/CN=alice"."""
    return "".join("/%s=%s" % (_SHORT.get(k, k), v) for rdn in peercert["subject"] for k, v in rdn)


# -- certificates ------------------------------------------------------------------------------


def _openssl(*args):
    r = subprocess.run(["openssl"] + [str(a) for a in args], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(map(str, args)), r.stderr.decode()))


def issue_with_sans(certs, out_dir, stem, cn, sans):
    """A server certificate from the shared CA (certs.ca) with subjectAltName ``sans``
    given in openssl form (e.g. ["IP:127.0.0.1"]), made like tls_certs does it."""
    serial = certs.next_serial()
    crt, key = os.path.join(out_dir, stem + ".pem"), os.path.join(out_dir, stem + ".key")
    csr, ext = os.path.join(out_dir, stem + ".csr"), os.path.join(out_dir, stem + ".cnf")
    subject = "/O=Tidegate Tests/OU=rsa/CN=%s" % cn
    with open(certs.cnf) as f:
        cnf = f.read()
    with open(ext, "w") as f:
        f.write(cnf + "[san]\n" + "".join(
            "%s.%d = %s\n" % (s.split(":", 1)[0], i + 1, s.split(":", 1)[1]) for i, s in enumerate(sans)))
    _openssl("req", "-config", certs.cnf, "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
             "-out", csr, "-subj", subject)
    _openssl("x509", "-req", "-in", csr, "-CA", certs.ca_cert.crt, "-CAkey", certs.ca_cert.key,
             "-set_serial", serial, "-days", "3650", "-sha256", "-out", crt, "-extfile", ext,
             "-extensions", "server_ext")
    return Cert(crt, key, serial, subject, "rsa")


class UpstreamCerts:
    """The certificates of this file's backends, made once per test process."""

    _inst = None

    @classmethod
    def get(cls):
        if cls._inst is None:
            import atexit
            inst = cls()
            atexit.register(inst.cleanup)
            cls._inst = inst
        return cls._inst

    def __init__(self):
        self.certs = shared_certs()
        self.dir = tempfile.mkdtemp(prefix="tidegate-tls-up-")
        os.chmod(self.dir, 0o755)
        self.ca = self.certs.ca                    # signs the backend certificates
        self.other_ca = self.certs.client_ca       # a CA that did not sign them
        self.up = self.certs.issue_server("up.test", "rsa", out_dir=self.dir, stem="up.test")
        self.ip = issue_with_sans(self.certs, self.dir, "ip", "ip.test", ["IP:127.0.0.1"])
        self.client_ca = self.certs.client_ca
        self.alice = self.certs.alice              # the proxy's client certificate

    def cleanup(self):
        if not os.environ.get("TIDEGATE_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)


# -- the TLS backend ---------------------------------------------------------------------------


class TlsUpstream:
    """HTTPS/1.1 server on 127.0.0.1 (ephemeral port), one thread per connection.

    ``.conns``: one dict per completed handshake, in accept order: id, port (the peer's,
    i.e. the proxy's source port), sni, reused, tls (version), cipher, client (subject of
    the client certificate or None), offered (the ClientHello offered a session: a
    ticket or a TLS 1.3 PSK), end (how the connection ended once it has: "close_notify",
    "eof" (TCP close without close_notify), "closed by backend", ...).
    ``.handshake_errors``: str of failed handshakes. ``.hellos``: the SNI name (or None)
    of every ClientHello, recorded before the server answers it.
    ``.requests``: one dict per request: conn (the dict above), method, target, version,
    headers [(name, value)], body_bytes, body_sha256.

    Answers (Content-Length, keep-alive unless the request asks to close):
      /big?bytes=N  N bytes of backends.pattern_chunks (application/octet-stream)
      anything else JSON: the connection's TLS facts and the request (see _echo)."""

    def __init__(self, cert, client_ca=None, name="up"):
        self.name = name
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # Python sets it by default with OpenSSL 3: without it a TCP close that came
        # without close_notify raises SSLEOFError, so the two can be told apart
        ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
        ctx.load_cert_chain(cert.crt, cert.key)
        if client_ca:
            ctx.load_verify_locations(client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.sni_callback = self._on_sni
        self.ctx = ctx
        self.conns = []
        self.requests = []
        self.handshake_errors = []
        self.hellos = []  # the SNI name of every ClientHello, as it arrives
        self._cond = threading.Condition()
        self._socks = []
        self._stop = threading.Event()
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", 0))
        self._lsock.listen(128)
        self._lsock.settimeout(0.1)
        self.port = self._lsock.getsockname()[1]
        self._thread = None

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def _on_sni(self, sslsock, server_name, ctx):
        sslsock._tg_sni = server_name  # None: no server_name extension
        self._record(self.hellos, server_name)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(target=self._accept_loop, name="tls-up-" + self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self._lsock.close()
        with self._cond:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def _accept_loop(self):
        n = 0
        while not self._stop.is_set():
            try:
                raw, addr = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            n += 1
            with self._cond:
                self._socks.append(raw)
            threading.Thread(target=self._serve, args=(raw, addr, n), daemon=True).start()

    def wait_for(self, predicate, timeout=5.0):
        return wait_on(self._cond, lambda: predicate(self), timeout)

    def _record(self, lst, item):
        with self._cond:
            lst.append(item)
            self._cond.notify_all()

    # -- one connection ---------------------------------------------------------------------------

    @staticmethod
    def _peek_offer(raw):
        """Whether the ClientHello (peeked, left in the socket) offers a session to
        resume: a non-empty session_ticket extension (TLS 1.2) or a pre_shared_key
        one (TLS 1.3). None if it could not be parsed."""
        try:
            data = b""
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                data = raw.recv(1 << 16, socket.MSG_PEEK)
                if not data or (len(data) >= 5 and len(data) >= 5 + struct.unpack(">H", data[3:5])[0]):
                    break
                time.sleep(0.005)
            if len(data) < 5 or data[0] != 22 or data[5] != 1:
                return None
            p = 5 + 4 + 2 + 32
            p += 1 + data[p]                                       # session id
            p += 2 + struct.unpack(">H", data[p:p + 2])[0]         # cipher suites
            p += 1 + data[p]                                       # compression methods
            end = p + 2 + struct.unpack(">H", data[p:p + 2])[0]
            p += 2
            exts = {}
            while p + 4 <= end:
                t, n = struct.unpack(">HH", data[p:p + 4])
                exts[t] = n
                p += 4 + n
            return exts.get(35, 0) > 0 or 41 in exts
        except (OSError, IndexError, struct.error):
            return None

    def _serve(self, raw, addr, cid):
        raw.settimeout(10)
        offered = self._peek_offer(raw)
        s = None
        try:
            s = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False,
                                     suppress_ragged_eofs=False)
            s.do_handshake()
        except (ssl.SSLError, OSError) as e:
            self._record(self.handshake_errors, str(e))
            (s or raw).close()
            return
        peer = s.getpeercert() if self.ctx.verify_mode != ssl.CERT_NONE else None
        conn = {"id": cid, "port": addr[1], "sni": getattr(s, "_tg_sni", None),
                "reused": s.session_reused, "tls": s.version(), "cipher": s.cipher()[0],
                "client": subject_string(peer) if peer else None, "offered": offered, "end": None}
        self._record(self.conns, conn)
        with self._cond:
            self._socks.append(s)
        rfile = s.makefile("rb")
        end = None
        try:
            while not self._stop.is_set():
                if not self._one_request(s, rfile, conn):
                    break
            else:
                end = "stopped"
            if conn.get("_end") is None and not self._stop.is_set():
                # answered a request asking to close (Content-Length framed): wait for
                # the proxy to close its side, to see how it does it
                s.settimeout(5)
                conn["_end"] = "close_notify" if s.recv(1) == b"" else "data after close"
        except ssl.SSLEOFError:
            end = "eof"
        except socket.timeout:
            end = "timeout"
        except (OSError, ValueError, ssl.SSLError) as e:
            # the peer closed the TCP connection without close_notify
            end = "eof" if "UNEXPECTED_EOF" in str(e) else "error: %s" % e
        finally:
            try:
                rfile.close()
                s.close()
            except OSError:
                pass
        with self._cond:
            conn["end"] = end or conn.get("_end") or "closed by backend"
            self._cond.notify_all()

    def _one_request(self, s, rfile, conn):
        line = rfile.readline(65537)
        if not line:
            conn["_end"] = "close_notify"  # a clean TLS close (ragged EOFs raise SSLEOFError)
            return False
        method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers = []
        while True:
            h = rfile.readline(65537)
            if not h:
                return False
            h = h.decode("latin-1").rstrip("\r\n")
            if not h:
                break
            k, _, v = h.partition(":")
            headers.append((k.strip(), v.strip()))
        hmap = {}
        for k, v in headers:
            hmap.setdefault(k.lower(), v)
        digest, nbytes = hashlib.sha256(), 0
        if "chunked" in hmap.get("transfer-encoding", "").lower():
            while True:
                size = int(rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while rfile.readline() not in (b"\r\n", b""):
                        pass
                    break
                data = rfile.read(size)
                rfile.read(2)
                digest.update(data)
                nbytes += len(data)
        else:
            left = int(hmap.get("content-length", "0"))
            while left > 0:
                data = rfile.read(min(left, 1 << 16))
                if not data:
                    return False
                digest.update(data)
                nbytes += len(data)
                left -= len(data)
        req = {"conn": conn, "method": method, "target": target, "version": version,
               "headers": headers, "body_bytes": nbytes, "body_sha256": digest.hexdigest()}
        self._record(self.requests, req)
        connection = hmap.get("connection", "").lower()
        keep = version == "HTTP/1.1" and "close" not in connection
        url = urlsplit(target)
        if url.path == "/big":
            n = int(parse_qs(url.query).get("bytes", [str(MB)])[0])
            head = ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n"
                    "%s\r\n" % (n, "" if keep else "Connection: close\r\n"))
            s.sendall(head.encode())
            for piece in pattern_chunks(n, 1 << 18):
                s.sendall(piece)
        else:
            body = json.dumps({
                "backend": self.name, "conn": conn["id"], "sni": conn["sni"], "reused": conn["reused"],
                "tls": conn["tls"], "client": conn["client"], "method": method, "target": target,
                "version": version, "headers": headers, "body_bytes": nbytes,
                "body_sha256": req["body_sha256"]}).encode()
            head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                    "X-Backend: %s\r\n%s\r\n" % (len(body), self.name, "" if keep else "Connection: close\r\n"))
            s.sendall(head.encode() + body)
        return keep


class WssEchoBackend(WsEchoBackend):
    """WsEchoBackend over TLS (websockets.serve with an SSLContext)."""

    def __init__(self, name, cert):
        super().__init__(name)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert.crt, cert.key)
        self.sni = []
        ctx.sni_callback = lambda sslobj, server_name, c: self.sni.append(server_name)
        self._ssl = ctx

    async def _serve(self):
        return await websockets.serve(
            self._session, "127.0.0.1", 0, ssl=self._ssl, process_request=self._process_request,
            compression=None, ping_interval=None, max_size=MAX_MESSAGE, max_queue=None,
            close_timeout=2, backlog=128)


# -- confs ---------------------------------------------------------------------------------------

CONF = """
http {
    access_log off;
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
@UPSTREAMS@
    server {
        listen 127.0.0.1:@PORT@;
        client_max_body_size 10m;
@LOCATIONS@
    }
}
"""


class TlsUpstreamTestCase(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.uc = UpstreamCerts.get()

    def tls_backend(self, cert=None, client_ca=None, name="up"):
        be = TlsUpstream(cert or self.uc.up, client_ca=client_ca, name=name)
        be.start()
        self.addCleanup(be.stop)
        return be

    def start(self, locations, upstreams=""):
        self.port = free_port()
        self.px = self.proxy(fill(CONF, PORT=self.port, LOCATIONS=locations, UPSTREAMS=upstreams))
        return self.px

    def get(self, path, method="GET", body=None, headers=None):
        c = self.client(self.port)
        c.request(method, path, headers=headers, body=body)
        r = c.read_response(method=method)
        c.close()
        return r

    def get_json(self, path, **kw):
        r = self.get(path, **kw)
        self.assertEqual(r.status, 200, "%r\n%s" % (r, self.px.error_log()[-3000:]))
        return r.json()

    def error_lines(self):
        return [ln for ln in self.px.error_log().splitlines() if "[error]" in ln]


# -- 1: plain proxying over TLS ------------------------------------------------------------------


class ProxyPassHttpsTest(TlsUpstreamTestCase):
    def setUp(self):
        self.be = self.tls_backend()
        self.start("""
        location / {
            proxy_pass https://%s;
        }""" % self.be.addr)

    def test_get_without_verification(self):
        got = self.get_json("/some/path?q=1")
        self.assertEqual(got["method"], "GET")
        self.assertEqual(got["target"], "/some/path?q=1")
        self.assertEqual(got["version"], "HTTP/1.0")  # proxy_http_version's default
        self.assertIsNone(got["sni"])                  # proxy_ssl_server_name off
        self.assertIsNone(got["client"])
        hdrs = {k.lower(): v for k, v in got["headers"]}
        self.assertEqual(hdrs["host"], self.be.addr)  # $proxy_host
        self.assertEqual(hdrs["connection"], "close")
        self.assertEqual(len(self.be.conns), 1)
        self.assertEqual(self.be.handshake_errors, [])

    def test_upstream_connection_is_closed_with_close_notify(self):
        # the backend answers "Connection: close" with a Content-Length body and waits
        # for the proxy to close: nginx sends close_notify (ngx_ssl_shutdown) and does
        # not wait for the backend's
        for i in range(2):
            self.assertEqual(self.get_json("/c/%d" % i)["target"], "/c/%d" % i)
        self.assertTrue(self.be.wait_for(lambda b: len(b.conns) == 2 and all(c["end"] for c in b.conns)),
                        self.be.conns)
        self.assertEqual([c["end"] for c in self.be.conns], ["close_notify", "close_notify"])

    def test_1mb_bodies_both_ways(self):
        body = b"".join(pattern_chunks(MB))
        got = self.get_json("/upload", method="POST", body=body,
                            headers=[("Content-Type", "application/octet-stream")])
        self.assertEqual(got["method"], "POST")
        self.assertEqual(got["body_bytes"], MB)
        self.assertEqual(got["body_sha256"], hashlib.sha256(body).hexdigest())
        r = self.get("/big?bytes=%d" % MB)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body), MB)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), pattern_sha256(MB))
        self.assertEqual(self.be.requests[-1]["target"], "/big?bytes=%d" % MB)


# -- 2, 4, 6: verification, SNI, protocols ---------------------------------------------------------


class VerifyAndSniTest(TlsUpstreamTestCase):
    def test_verify_with_name_and_sni(self):
        be = self.tls_backend()
        be_nosni = self.tls_backend()
        self.start("""
        location /sni {
            proxy_pass https://%s;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %s;
            proxy_ssl_name up.test;
            proxy_ssl_server_name on;
        }
        location /nosni {
            proxy_pass https://%s;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %s;
            proxy_ssl_name up.test;
        }""" % (be.addr, self.uc.ca, be_nosni.addr, self.uc.ca))
        got = self.get_json("/sni")
        self.assertEqual(got["sni"], "up.test")
        self.assertEqual(got["target"], "/sni")
        self.assertEqual([c["sni"] for c in be.conns], ["up.test"])
        # proxy_ssl_name does not change the Host header ($proxy_host)
        self.assertEqual({k.lower(): v for k, v in got["headers"]}["host"], be.addr)
        got = self.get_json("/nosni")
        self.assertIsNone(got["sni"])  # verified against up.test, but no SNI sent
        self.assertEqual(got["target"], "/nosni")
        self.assertEqual([c["sni"] for c in be_nosni.conns], [None])
        self.assertEqual(self.error_lines(), [])

    def test_default_name_is_proxy_host(self):
        # proxy_ssl_name defaults to $proxy_host: the upstream block's name, and for an
        # IP address no SNI at all (RFC 6066)
        be_named = self.tls_backend()
        be_ip = self.tls_backend()
        self.start("""
        location /named {
            proxy_pass https://up.test;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %s;
            proxy_ssl_server_name on;
        }
        location /ip {
            proxy_pass https://%s;
            proxy_ssl_server_name on;
        }""" % (self.uc.ca, be_ip.addr), upstreams="""
    upstream up.test { server %s; }""" % be_named.addr)
        got = self.get_json("/named")
        self.assertEqual(got["sni"], "up.test")
        self.assertEqual({k.lower(): v for k, v in got["headers"]}["host"], "up.test")
        got = self.get_json("/ip")
        self.assertIsNone(got["sni"])
        self.assertEqual([c["sni"] for c in be_ip.conns], [None])

    def test_ip_address_name_with_ip_san(self):
        # backend certificate: CN=ip.test, subjectAltName IP:127.0.0.1 only; the name
        # checked is $proxy_host without the port: "127.0.0.1"
        be = self.tls_backend(cert=self.uc.ip)
        self.start("""
        location / {
            proxy_pass https://%s;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %s;
        }""" % (be.addr, self.uc.ca))
        r = self.get("/ip")
        if is_nginx():
            # nginx 1.22 checks the name with X509_check_host(), DNS names only
            self.assertEqual(r.status, 502, r)
            self.assertTrue(self.px.wait_log('upstream SSL certificate does not match "127.0.0.1" '
                                             'while SSL handshaking to upstream'), self.px.error_log())
            return
        self.assertEqual(r.status, 200, "%r\n%s" % (r, self.px.error_log()[-3000:]))
        self.assertEqual(r.json()["target"], "/ip")
        self.assertIsNone(r.json()["sni"])

    def test_protocols(self):
        be_default = self.tls_backend()
        be12 = self.tls_backend()
        be13 = self.tls_backend()
        self.start("""
        location /default {
            proxy_pass https://%s;
        }
        location /tls12 {
            proxy_pass https://%s;
            proxy_ssl_protocols TLSv1.2;
        }
        location /tls13 {
            proxy_pass https://%s;
            proxy_ssl_protocols TLSv1.3;
        }""" % (be_default.addr, be12.addr, be13.addr))
        self.assertEqual(self.get_json("/tls12")["tls"], "TLSv1.2")
        self.assertEqual(self.get_json("/tls13")["tls"], "TLSv1.3")
        # nginx 1.22's default is "TLSv1 TLSv1.1 TLSv1.2"; tidegate's is that of
        # nginx >= 1.23.4 ("TLSv1.2 TLSv1.3" in tls/client_context.h)
        default = "TLSv1.2" if is_nginx() else "TLSv1.3"
        self.assertEqual(self.get_json("/default")["tls"], default)
        self.assertEqual([c["tls"] for c in be12.conns + be13.conns + be_default.conns],
                         ["TLSv1.2", "TLSv1.3", default])


# -- 3: verification failures -----------------------------------------------------------------------


class VerifyFailureTest(TlsUpstreamTestCase):
    def check_502(self, path, be, needles):
        r = self.get(path)
        self.assertEqual(r.status, 502, r)
        self.assertIn(b"502 Bad Gateway", r.body)
        self.assertTrue(self.px.wait_log(needles[0]), self.px.error_log())
        lines = [ln for ln in self.error_lines() if needles[0] in ln]
        self.assertEqual(len(lines), 1, self.px.error_log())
        line = lines[0]
        for n in needles[1:]:
            self.assertIn(n, line)
        self.assertRegex(line, r"\[error\] \d+#\d+: \*\d+ ")
        self.assertIn(', upstream: "https://%s%s"' % (be.addr, path), line)
        self.assertIn('request: "GET %s HTTP/1.1"' % path, line)
        # the request never reached the backend
        self.assertEqual(be.requests, [])
        return line

    def test_wrong_name(self):
        be = self.tls_backend()
        self.start("""
        location /wrong {
            proxy_pass https://%s;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %s;
            proxy_ssl_name wrong.test;
            proxy_ssl_server_name on;
        }""" % (be.addr, self.uc.ca))
        self.check_502("/wrong", be, [
            'upstream SSL certificate does not match "wrong.test" while SSL handshaking to upstream'])
        # the name is checked after the handshake; SNI was sent
        self.assertEqual(be.hellos, ["wrong.test"])

    def test_untrusted_ca(self):
        be = self.tls_backend()
        self.start("""
        location /untrusted {
            proxy_pass https://%s;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %s;
            proxy_ssl_name up.test;
        }""" % (be.addr, self.uc.other_ca))
        line = self.check_502("/untrusted", be, [
            "upstream SSL certificate verify error: (", "while SSL handshaking to upstream"])
        # OpenSSL's code for a lone leaf certificate whose issuer is unknown (the backend
        # sends no chain)
        self.assertIn("upstream SSL certificate verify error: (21:unable to verify the first certificate) "
                      "while SSL handshaking to upstream", line)


    def test_a_session_or_connection_of_another_location_is_not_reused(self):
        # Three locations, one upstream: a session or keep-alive connection that /good
        # verified must not carry /strict (whose CA did not sign the upstream) past its
        # own check, and an unverified one from /noverify must not fail /good.
        # nginx 1.22 keeps one session per upstream server and lets /strict through
        # after /good: tidegate keeps them per location's TLS settings.
        if is_nginx():
            self.skipTest("nginx reuses another location's session (tidegate does not)")
        be = self.tls_backend()
        self.start("""
        location /good {
            proxy_pass https://u;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %s;
            proxy_ssl_name up.test;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /strict {
            proxy_pass https://u;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %s;
            proxy_ssl_name up.test;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /noverify {
            proxy_pass https://u;
        }""" % (self.uc.ca, self.uc.other_ca),
                   upstreams="upstream u { server %s; keepalive 4; }" % be.addr)
        self.assertEqual(self.get("/noverify").status, 200)
        for _ in range(2):
            self.assertEqual(self.get("/good").status, 200, self.px.error_log()[-2000:])
        for _ in range(2):
            self.assertEqual(self.get("/strict").status, 502)
        self.assertEqual(self.get("/good").status, 200)


# -- 5: client certificate ------------------------------------------------------------------------


class ClientCertificateTest(TlsUpstreamTestCase):
    def test_mtls_client_certificate(self):
        be = self.tls_backend(client_ca=self.uc.client_ca)
        be13 = self.tls_backend(client_ca=self.uc.client_ca)
        self.start("""
        location /mtls {
            proxy_pass https://%s;
            proxy_ssl_certificate %s;
            proxy_ssl_certificate_key %s;
        }
        location /mtls13 {
            proxy_pass https://%s;
            proxy_ssl_protocols TLSv1.3;
            proxy_ssl_certificate %s;
            proxy_ssl_certificate_key %s;
        }""" % (be.addr, self.uc.alice.crt, self.uc.alice.key, be13.addr, self.uc.alice.crt, self.uc.alice.key))
        for path, backend in (("/mtls", be), ("/mtls13", be13)):
            got = self.get_json(path)
            self.assertEqual(got["client"], "/O=Tidegate Tests/CN=alice")
            self.assertEqual(got["target"], path)
            self.assertEqual([c["client"] for c in backend.conns], ["/O=Tidegate Tests/CN=alice"])
        self.assertEqual(self.error_lines(), [])

    def test_backend_requiring_a_certificate_none_configured(self):
        be12 = self.tls_backend(client_ca=self.uc.client_ca)
        be13 = self.tls_backend(client_ca=self.uc.client_ca)
        self.start("""
        location /tls12 {
            proxy_pass https://%s;
            proxy_ssl_protocols TLSv1.2;
        }
        location /tls13 {
            proxy_pass https://%s;
            proxy_ssl_protocols TLSv1.3;
        }""" % (be12.addr, be13.addr))
        # TLS 1.2: the server's alert ends the handshake
        r = self.get("/tls12")
        self.assertEqual(r.status, 502, r)
        self.assertTrue(self.px.wait_log("while SSL handshaking to upstream"), self.px.error_log())
        self.assertIn("[error]", self.px.error_log())
        self.assertIn("SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::sslv3 alert handshake "
                      "failure:SSL alert number 40) while SSL handshaking to upstream, client: 127.0.0.1, "
                      'server: , request: "GET /tls12 HTTP/1.1", upstream: "https://%s/tls12"' % be12.addr,
                      self.px.error_log())
        # TLS 1.3: the client's handshake is over before the server checks; the alert
        # comes while sending the request or reading the answer (nginx 1.22 logs
        # "connect() failed (104: Connection reset by peer) while connecting to upstream")
        r = self.get("/tls13")
        self.assertEqual(r.status, 502, r)
        for be in (be12, be13):
            self.assertTrue(be.wait_for(lambda b: b.handshake_errors), "no handshake error")
            self.assertIn("PEER_DID_NOT_RETURN_A_CERTIFICATE", be.handshake_errors[0])
            self.assertEqual(be.requests, [])


# -- 7, 8: session reuse and keep-alive ------------------------------------------------------------


class SessionReuseTest(TlsUpstreamTestCase):
    def run_four(self, protocols):
        be_on = self.tls_backend(name="on")
        be_off = self.tls_backend(name="off")
        self.start("""
        location /on {
            proxy_pass https://%s;
            proxy_ssl_protocols %s;
        }
        location /off {
            proxy_pass https://%s;
            proxy_ssl_protocols %s;
            proxy_ssl_session_reuse off;
        }""" % (be_on.addr, protocols, be_off.addr, protocols))
        on = [self.get_json("/on/%d" % i)["reused"] for i in range(4)]
        off = [self.get_json("/off/%d" % i)["reused"] for i in range(4)]
        # what the proxy's ClientHellos offered (a session ticket or a TLS 1.3 PSK)
        self.assertEqual([c["offered"] for c in be_on.conns][:1], [False])
        self.assertTrue(any(c["offered"] for c in be_on.conns[1:]),
                        "the proxy offered no session to resume: %r" % be_on.conns)
        self.assertEqual([c["offered"] for c in be_off.conns], [False] * 4)
        # no keepalive: every request had its own upstream connection
        self.assertEqual(len(be_on.conns), 4)
        self.assertEqual(len(be_off.conns), 4)
        self.assertEqual(len({c["port"] for c in be_on.conns}), 4)
        self.assertFalse(on[0], on)
        self.assertTrue(any(on[1:]), "no resumed upstream session with proxy_ssl_session_reuse on: %r" % on)
        self.assertEqual(off, [False] * 4)
        return on

    def test_session_reuse_tls12(self):
        on = self.run_four("TLSv1.2")
        self.assertEqual(on, [False, True, True, True])

    def test_session_reuse_tls13(self):
        # the TLS 1.3 tickets come after the handshake (before the answer): nginx 1.22
        # takes them through its new-session callback, so request 2 resumes already
        on = self.run_four("TLSv1.3")
        self.assertTrue(all(on[2:]), on)


class UpstreamKeepaliveTest(TlsUpstreamTestCase):
    def test_keepalive_reuses_one_tls_connection(self):
        be = self.tls_backend()
        self.start("""
        location / {
            proxy_pass https://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }""", upstreams="""
    upstream u {
        server %s;
        keepalive 4;
    }""" % be.addr)
        for i in range(5):
            got = self.get_json("/ka/%d" % i)
            self.assertEqual(got["target"], "/ka/%d" % i)
            self.assertEqual(got["version"], "HTTP/1.1")
            self.assertNotIn("connection", [k.lower() for k, _ in got["headers"]])
        self.assertEqual(len(be.requests), 5)
        self.assertEqual(len(be.conns), 1, be.conns)
        self.assertEqual(len({r["conn"]["port"] for r in be.requests}), 1)
        # a large body on the kept connection too
        r = self.get("/big?bytes=%d" % (MB // 2))
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), pattern_sha256(MB // 2))
        self.assertEqual(len(be.conns), 1, be.conns)


# -- 9: WebSocket to a wss upstream ------------------------------------------------------------------


class WssUpstreamTest(TlsUpstreamTestCase):
    def test_websocket_echo_to_wss_upstream(self):
        ws_be = WssEchoBackend("W", self.uc.up)
        ws_be.start()
        self.addCleanup(ws_be.stop)
        self.start("""
        location /ws {
            proxy_pass https://127.0.0.1:%d;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %s;
            proxy_ssl_name up.test;
            proxy_ssl_server_name on;
        }""" % (ws_be.port, self.uc.ca))
        c = WsClient.connect(self.port, "/ws/echo")
        self.addCleanup(c.abort)
        self.assertEqual(c.echo("hello over wss"), "hello over wss")
        self.assertEqual(c.echo(b"\x00\x01binary" * 1000), b"\x00\x01binary" * 1000)
        self.assertEqual(c.who(), "W")
        c.close()
        self.assertEqual(c.close_code, 1000)
        self.assertEqual(ws_be.sni, ["up.test"])
        self.assertEqual(len(ws_be.handshakes), 1)
        self.assertEqual(ws_be.handshakes[0][0], "/ws/echo")


# -- 10: -t -------------------------------------------------------------------------------------------


class ConfTestCli(TlsUpstreamTestCase):
    def setUp(self):
        self.prefix = make_prefix()
        self.addCleanup(remove_prefix, self.prefix)

    def check(self, location_body):
        conf = ("http {\n    server {\n        listen 127.0.0.1:%d;\n        location / {\n"
                "            proxy_pass https://127.0.0.1:9;\n%s\n        }\n    }\n}\n"
                % (free_port(), location_body))
        path = os.path.join(self.prefix, "t.conf")
        with open(path, "w") as f:
            f.write(prepare_conf(conf, self.prefix))
        rc, out, err = run_cli(["-p", self.prefix, "-c", path, "-e", os.path.join(self.prefix, "error.log"), "-t"])
        return rc, out + err

    def test_verify_without_trusted_certificate(self):
        rc, text = self.check("            proxy_ssl_verify on;")
        self.assertNotEqual(rc, 0, text)
        self.assertIn("[emerg]", text)
        self.assertIn("no proxy_ssl_trusted_certificate for proxy_ssl_verify", text)
        self.assertIn("test failed", text)

    def test_missing_client_certificate_file(self):
        missing = os.path.join(self.prefix, "nope", "client.pem")
        rc, text = self.check("            proxy_ssl_certificate %s;\n            proxy_ssl_certificate_key %s;"
                              % (missing, self.uc.alice.key))
        self.assertNotEqual(rc, 0, text)
        self.assertIn("[emerg]", text)
        self.assertIn('cannot load certificate "%s"' % missing, text)
        self.assertIn("test failed", text)

    def test_missing_client_key_file(self):
        missing = os.path.join(self.prefix, "client.key")
        rc, text = self.check("            proxy_ssl_certificate %s;\n            proxy_ssl_certificate_key %s;"
                              % (self.uc.alice.crt, missing))
        self.assertNotEqual(rc, 0, text)
        self.assertIn('[emerg] cannot load certificate key "%s"' % missing, text)

    def test_certificate_without_key(self):
        rc, text = self.check("            proxy_ssl_certificate %s;" % self.uc.alice.crt)
        self.assertNotEqual(rc, 0, text)
        self.assertIn('[emerg] no "proxy_ssl_certificate_key" is defined for certificate "%s"'
                      % self.uc.alice.crt, text)

    def test_missing_trusted_certificate_file(self):
        missing = os.path.join(self.prefix, "ca.pem")
        rc, text = self.check("            proxy_ssl_verify on;\n            proxy_ssl_trusted_certificate %s;"
                              % missing)
        self.assertNotEqual(rc, 0, text)
        # nginx 1.22: [emerg] SSL_CTX_load_verify_locations("PATH") failed (SSL: error:80000002:
        # system library::No such file or directory:calling fopen(PATH, r) ...)
        self.assertIn('[emerg] SSL_CTX_load_verify_locations("%s") failed' % missing, text)
        self.assertIn("test failed", text)

    def test_good_conf_passes(self):
        rc, text = self.check("            proxy_ssl_verify on;\n            proxy_ssl_trusted_certificate %s;\n"
                              "            proxy_ssl_certificate %s;\n            proxy_ssl_certificate_key %s;"
                              % (self.uc.ca, self.uc.alice.crt, self.uc.alice.key))
        self.assertEqual(rc, 0, text)
        self.assertIn("test is successful", text)


if __name__ == "__main__":
    unittest.main()
