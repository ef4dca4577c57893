"""Variables in log_format, as nginx writes them: $upstream_connect_time,
$upstream_header_time and $upstream_response_time (seconds with millisecond
resolution, one value per attempt joined by ", ", "-" for a phase an attempt never
reached), $request_length (every byte of the request: line, headers and body),
$pid (the process that served the request) and "-" for a variable without a value.

The access log is buffered (tidegate: per worker, flushed once a second), so each
test waits for the line of its last request before it reads the file.
"""

import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import (IntegrationTest, RawClient, fill, free_port,  # noqa: E402
                                   http_get, is_nginx, process_tree)

SECONDS_RE = re.compile(r"^\d+\.\d{3}$")

CONF = """
worker_processes 1;  # one access-log buffer, written in order
http {
    log_format vars '$request_uri|$upstream_connect_time|$upstream_header_time|$upstream_response_time|$request_length|$pid|$upstream_addr|$http_x_missing';
    access_log access.log vars;
    upstream dead_then_live {
        server @DEAD@;
        server @BE@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://@BE@; }
        location /two/ { proxy_pass http://dead_then_live; }
        location = /local { return 200 "local"; }
    }
}
"""

FIELDS = ("uri", "connect", "header", "response", "length", "pid", "addr", "missing")


class LogVariablesTest(IntegrationTest):
    def setUp(self):
        self.be = self.backend()
        self.dead = self.refusing()
        self.port = free_port()
        self.px = self.proxy(fill(CONF, PORT=self.port, BE=self.be.addr, DEAD=self.dead.addr))

    def lines(self, last_uri):
        """The access-log lines as dicts, once the line of ``last_uri`` is there."""
        self.assertTrue(self.px.wait_log(re.compile(r"(?m)^%s\|" % re.escape(last_uri)), rel="access.log"),
                        self.px.log("access.log"))
        out = {}
        for line in self.px.log("access.log").splitlines():
            if line:
                parts = line.split("|")
                self.assertEqual(len(parts), len(FIELDS), line)
                out[parts[0]] = dict(zip(FIELDS, parts))
        return out

    def assert_seconds(self, value, what):
        self.assertRegex(value, SECONDS_RE, "%s: seconds with 3 decimals" % what)
        return float(value)

    # -- upstream timings -------------------------------------------------------------------

    def test_upstream_times_are_seconds_with_milliseconds(self):
        r = http_get(self.port, "/slow?ms=300")
        self.assertEqual(r.status, 200, r)
        r = http_get(self.port, "/fast")
        self.assertEqual(r.status, 200, r)
        lines = self.lines("/fast")
        for uri in ("/slow?ms=300", "/fast"):
            with self.subTest(uri=uri):
                v = lines[uri]
                connect = self.assert_seconds(v["connect"], "$upstream_connect_time")
                header = self.assert_seconds(v["header"], "$upstream_header_time")
                response = self.assert_seconds(v["response"], "$upstream_response_time")
                # each phase ends after the one before it
                self.assertLessEqual(connect, header, v)
                self.assertLessEqual(header, response, v)
                self.assertLess(response, 5.0, v)
                self.assertEqual(v["addr"], self.be.addr)
        # the backend waited 300 ms before its response head
        self.assertGreaterEqual(float(lines["/slow?ms=300"]["header"]), 0.299, lines["/slow?ms=300"])

    def test_upstream_times_list_every_attempt(self):
        # The first attempt is refused: it never connected, so it has no connect or
        # header time ("-"), but it took some time; the second one has all three.
        for i in range(2):  # round robin: one of the two starts with the dead server
            self.assertEqual(http_get(self.port, "/two/%d" % i).status, 200)
        lines = self.lines("/two/1")
        two = [lines["/two/%d" % i] for i in range(2)]
        retried = [v for v in two if v["addr"] == "%s, %s" % (self.dead.addr, self.be.addr)]
        self.assertEqual(len(retried), 1, two)
        v = retried[0]
        connect = v["connect"].split(", ")
        header = v["header"].split(", ")
        response = v["response"].split(", ")
        self.assertEqual((connect[0], header[0]), ("-", "-"), v)
        self.assert_seconds(response[0], "$upstream_response_time of the refused attempt")
        self.assertEqual((len(connect), len(header), len(response)), (2, 2, 2), v)
        for value, what in ((connect[1], "connect"), (header[1], "header"), (response[1], "response")):
            self.assert_seconds(value, "$upstream_%s_time of the second attempt" % what)

    def test_variables_without_a_value_are_logged_as_dash(self):
        self.assertEqual(http_get(self.port, "/local").text, "local")
        v = self.lines("/local")["/local"]
        for name in ("connect", "header", "response", "addr", "missing"):
            self.assertEqual(v[name], "-", (name, v))

    # -- $request_length --------------------------------------------------------------------

    def test_request_length_counts_line_headers_and_body(self):
        first = (b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
                 b"Content-Length: 1000\r\n\r\n" + b"b" * 1000)
        second = b"GET /second?x=1 HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"p" * 300 + b"\r\n\r\n"
        c = self.client(self.port)
        for raw in (first, second):  # two requests on one keep-alive connection
            c.send(raw)
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.be.requests[0].body_len, 1000)
        lines = self.lines("/second?x=1")
        self.assertEqual(lines["/upload"]["length"], str(len(first)))
        self.assertEqual(lines["/second?x=1"]["length"], str(len(second)))

    # -- $pid -------------------------------------------------------------------------------

    def test_pid_is_the_serving_process(self):
        for i in range(3):
            self.assertEqual(http_get(self.port, "/p/%d" % i).status, 200)
        lines = self.lines("/p/2")
        pids = {int(lines["/p/%d" % i]["pid"]) for i in range(3)}
        # nginx: a worker process (a child of the master whose pid the harness has)
        self.assertTrue(pids <= set(process_tree(self.px.pid)), (pids, process_tree(self.px.pid)))
        if not is_nginx():
            # tidegate serves in the process the pid file names (the harness's process)
            self.assertEqual(pids, {self.px.pid})


ESCAPE_CONF = """
worker_processes 1;
http {
    log_format plain '$request_uri|$http_user_agent|$http_x_missing|end';
    log_format js escape=json '{"uri":"$request_uri","ua":"$http_user_agent","missing":"$http_x_missing"}';
    log_format raw escape=none '$request_uri|$http_user_agent|$http_x_missing|end';
    access_log plain.log plain;
    access_log json.log js;
    access_log raw.log raw;
    server {
        listen 127.0.0.1:@PORT@;
        location / { return 204; }
    }
}
"""


class LogEscapingTest(IntegrationTest):
    """A value a client sends cannot forge a log line or a JSON field: escape=default
    writes `"`, `\\`, control bytes and bytes from 0x7f as \\xXX and "-" for a missing
    value, escape=json escapes for a JSON string and writes nothing for a missing value,
    escape=none writes the bytes as they came."""

    UA = b'a"b\\c \xc3\xa9 d'  # a"b\c é d

    def test_escaping_modes(self):
        port = free_port()
        px = self.proxy(fill(ESCAPE_CONF, PORT=port))
        with RawClient(port) as c:
            c.send(b"GET /e HTTP/1.1\r\nHost: x\r\nUser-Agent: " + self.UA +
                   b"\r\nConnection: close\r\n\r\n")
            self.assertEqual(c.read_response().status, 204)
        for rel in ("plain.log", "json.log", "raw.log"):
            self.assertTrue(px.wait_log("/e", rel=rel), rel)
        with open(px.path("plain.log"), "rb") as f:
            self.assertEqual(f.read(), b"/e|a\\x22b\\x5Cc \\xC3\\xA9 d|-|end\n")
        with open(px.path("json.log"), "rb") as f:
            line = f.read()
        self.assertEqual(line, b'{"uri":"/e","ua":"a\\"b\\\\c \xc3\xa9 d","missing":""}\n')
        self.assertEqual(json.loads(line)["ua"], self.UA.decode())
        with open(px.path("raw.log"), "rb") as f:
            self.assertEqual(f.read(), b"/e|" + self.UA + b"||end\n")


MAIN_CONF = """
worker_processes 1;
http {
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" "$http_user_agent"';
    access_log main.log main;
    server {
        listen 127.0.0.1:@PORT@;
        location / { return 204; }
    }
}
"""


class RemoteUserTest(IntegrationTest):
    """$remote_user (the `main` log_format nearly every conf copies): the user of a
    Basic Authorization header, whether or not auth_basic checks it; "-" without one."""

    def test_main_log_format(self):
        port = free_port()
        px = self.proxy(fill(MAIN_CONF, PORT=port))
        for path, auth in (("/with", b"Authorization: Basic YWxpY2U6c2VjcmV0\r\n"),  # alice:secret
                           ("/bearer", b"Authorization: Bearer abc\r\n"),
                           ("/without", b"")):
            with RawClient(port) as c:
                c.send(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + auth +
                       b"Connection: close\r\n\r\n")
                self.assertEqual(c.read_response().status, 204)
        self.assertTrue(px.wait_log("/without", rel="main.log"))
        lines = {line.split('"')[1].split(" ")[1]: line
                 for line in px.log("main.log").splitlines()}
        self.assertIn("127.0.0.1 - alice [", lines["/with"])
        self.assertIn("127.0.0.1 - - [", lines["/bearer"])
        self.assertIn("127.0.0.1 - - [", lines["/without"])


if __name__ == "__main__":
    unittest.main()
