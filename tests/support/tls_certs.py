"""Test certificates for the TLS integration tests, made with the ``openssl`` CLI.

    certs = TlsCerts.create()        # a fresh temp dir with everything below
    certs.ca                         # CA of the server certificates (PEM path)
    certs.server("a.test", "rsa")    # -> Cert(crt, key, serial, subject, ...)
    certs.server("b.test", "ecdsa")
    certs.default                    # RSA cert for "default.test"
    certs.client_ca                  # CA of the client certificates
    certs.alice                      # client cert "CN=alice,O=Tidegate Tests" from client_ca
    certs.mallory                    # self-signed client cert (not from client_ca)
    certs.issue_server("a.test", "rsa", serial=..., out_dir=...)   # another one, e.g. for reloads
    certs.cleanup()

Every certificate has its own serial number (``Cert.serial``: uppercase hex, as
Python's ``getpeercert()['serialNumber']`` and ``openssl x509 -serial`` show it) and an
``OU`` naming its key type ("rsa"/"ecdsa"), so a client can tell which one it got.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import ssl
import subprocess
import tempfile
import threading

__all__ = ["Cert", "TlsCerts", "shared_certs"]

_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @san
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[selfsigned_client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyCertSign
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
"""


def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl"] + [str(a) for a in args], capture_output=True, cwd=cwd,
                       stdin=subprocess.DEVNULL, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed (%d): %s" % (" ".join(map(str, args)), r.returncode,
                                                          r.stderr.decode("utf-8", "replace")))
    return r.stdout.decode("utf-8", "replace")


def _newkey_args(kind):
    if kind == "rsa":
        return ["-newkey", "rsa:2048"]
    if kind == "ecdsa":
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    raise ValueError("key kind %r" % kind)


class Cert:
    """One certificate and its key (PEM files)."""

    def __init__(self, crt, key, serial: int, subject: str, kind: str):
        self.crt = crt
        self.key = key
        self.serial_int = serial
        self.subject = subject  # as given to openssl -subj, e.g. "/O=Tidegate Tests/CN=alice"
        self.kind = kind

    @property
    def serial(self) -> str:
        """Uppercase hex, even number of digits (Python's getpeercert() form)."""
        s = "%X" % self.serial_int
        return s if len(s) % 2 == 0 else "0" + s

    def pem(self) -> str:
        with open(self.crt) as f:
            return f.read()

    def key_pem(self) -> str:
        with open(self.key) as f:
            return f.read()

    def der(self) -> bytes:
        return ssl.PEM_cert_to_DER_cert(self.pem())

    def sha1(self) -> str:
        """SHA-1 of the DER encoding, lowercase hex without colons."""
        return hashlib.sha1(self.der()).hexdigest()

    def __repr__(self):
        return "<Cert %s %s serial=%s>" % (self.subject, self.kind, self.serial)


class TlsCerts:
    """A temp dir holding the CAs and certificates (see the module docstring)."""

    def __init__(self, directory: str):
        self.dir = directory
        self.cnf = os.path.join(directory, "openssl.cnf")
        self._serials = itertools.count(0x5A1001)
        self._servers = {}

    @classmethod
    def create(cls) -> "TlsCerts":
        d = tempfile.mkdtemp(prefix="tidegate-tls-")
        os.chmod(d, 0o755)
        self = cls(d)
        try:
            self._generate()
        except BaseException:
            self.cleanup()
            raise
        return self

    def cleanup(self):
        if os.environ.get("TIDEGATE_KEEP_TMP"):
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name) -> str:
        return os.path.join(self.dir, name)

    def next_serial(self) -> int:
        return next(self._serials)

    # -- generation ------------------------------------------------------------------

    def _generate(self):
        with open(self.cnf, "w") as f:
            f.write(_CNF)
        self.ca_cert = self._make_ca("ca", "/O=Tidegate Tests/CN=Tidegate Test CA")
        self.ca = self.ca_cert.crt
        self.client_ca_cert = self._make_ca("client-ca", "/O=Tidegate Tests/CN=Tidegate Client CA")
        self.client_ca = self.client_ca_cert.crt
        for name in ("a.test", "b.test"):
            for kind in ("rsa", "ecdsa"):
                self._servers[(name, kind)] = self.issue_server(name, kind)
        self.default = self.issue_server("default.test", "rsa")
        self.alice = self._issue("alice", "/O=Tidegate Tests/CN=alice", "ecdsa", self.client_ca_cert,
                                 "client_ext")
        # same subject layout, but self-signed: no CA the proxy trusts
        self.mallory = self._self_signed("mallory", "/O=Tidegate Tests/CN=mallory", "ecdsa",
                                         "selfsigned_client_ext")

    def _make_ca(self, stem, subject) -> Cert:
        serial = self.next_serial()
        crt, key = self.path(stem + ".pem"), self.path(stem + ".key")
        _openssl("req", "-config", self.cnf, "-x509", *_newkey_args("rsa"), "-nodes", "-keyout", key,
                 "-out", crt, "-days", "3650", "-subj", subject, "-set_serial", serial,
                 "-extensions", "ca_ext", "-sha256")
        return Cert(crt, key, serial, subject, "rsa")

    def _self_signed(self, stem, subject, kind, ext) -> Cert:
        serial = self.next_serial()
        crt, key = self.path(stem + ".pem"), self.path(stem + ".key")
        _openssl("req", "-config", self.cnf, "-x509", *_newkey_args(kind), "-nodes", "-keyout", key,
                 "-out", crt, "-days", "3650", "-subj", subject, "-set_serial", serial,
                 "-extensions", ext, "-sha256")
        return Cert(crt, key, serial, subject, kind)

    def _issue(self, stem, subject, kind, ca: Cert, ext, san=None, serial=None, out_dir=None) -> Cert:
        serial = self.next_serial() if serial is None else serial
        out_dir = out_dir or self.dir
        crt, key = os.path.join(out_dir, stem + ".pem"), os.path.join(out_dir, stem + ".key")
        csr = os.path.join(self.dir, "%s-%X.csr" % (stem, serial))
        _openssl("req", "-config", self.cnf, "-new", *_newkey_args(kind), "-nodes", "-keyout", key,
                 "-out", csr, "-subj", subject)
        extfile = self.cnf
        if san:
            extfile = os.path.join(self.dir, "ext-%X.cnf" % serial)
            with open(extfile, "w") as f:
                f.write(_CNF + "[san]\n" + "".join("DNS.%d = %s\n" % (i + 1, n) for i, n in enumerate(san)))
        _openssl("x509", "-req", "-in", csr, "-CA", ca.crt, "-CAkey", ca.key, "-set_serial", serial,
                 "-days", "3650", "-sha256", "-out", crt, "-extfile", extfile, "-extensions", ext)
        os.chmod(key, 0o600)
        return Cert(crt, key, serial, subject, kind)

    def issue_server(self, name, kind="rsa", serial=None, out_dir=None, stem=None) -> Cert:
        """A server certificate for ``name`` (subjectAltName DNS:name) from ``ca``, with
        subject "/O=Tidegate Tests/OU=<kind>/CN=<name>"; files <stem>.pem/.key in
        ``out_dir`` (default: the certs dir, stem "<name>-<kind>")."""
        subject = "/O=Tidegate Tests/OU=%s/CN=%s" % (kind, name)
        return self._issue(stem or "%s-%s" % (name, kind), subject, kind, self.ca_cert, "server_ext",
                           san=[name], serial=serial, out_dir=out_dir)

    def server(self, name, kind="rsa") -> Cert:
        return self._servers[(name, kind)]


_SHARED = None
_SHARED_LOCK = threading.Lock()


def shared_certs() -> TlsCerts:
    """One TlsCerts per test process (generated on first use, removed at exit), for test
    classes that only read the files."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            import atexit
            _SHARED = TlsCerts.create()
            atexit.register(_SHARED.cleanup)
        return _SHARED
