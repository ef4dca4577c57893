"""proxy_pass basics: balancing, URI mapping, headers sent upstream (and which header names
pass: underscores_in_headers, ignore_invalid_headers) and returned, return/add_header,
default_type."""

import os
import sys
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import IntegrationTest, fill, free_port, http_get, is_nginx  # noqa: E402


class ProxyBasicTest(IntegrationTest):
    def echo(self, port, path="/", headers=None):
        r = http_get(port, path, headers=headers)
        self.assertEqual(r.status, 200, r)
        return r.json()

    @staticmethod
    def hdr(echo, name):
        vals = [v for k, v in echo["headers"] if k.lower() == name.lower()]
        return vals

    def test_round_robin_over_upstream_group(self):
        a, b = self.backend("a"), self.backend("b")
        port = free_port()
        self.proxy(fill("""
worker_processes 1;  # balancing/keepalive state is per worker
http {
    upstream pool {
        server @A@;
        server @B@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://pool;
        }
    }
}
""", A=a.addr, B=b.addr, PORT=port))
        seen = [self.echo(port, "/rr/%d" % i)["server"] for i in range(8)]
        self.assertEqual(set(seen), {"a", "b"}, seen)
        for x, y in zip(seen, seen[1:]):
            self.assertNotEqual(x, y, "round robin must alternate: %s" % seen)
        self.assertEqual(len(a.requests), 4)
        self.assertEqual(len(b.requests), 4)

    def test_weighted_round_robin(self):
        a, b = self.backend("a"), self.backend("b")
        port = free_port()
        self.proxy(fill("""
worker_processes 1;  # balancing/keepalive state is per worker
http {
    upstream pool {
        server @A@ weight=3;
        server @B@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://pool; }
    }
}
""", A=a.addr, B=b.addr, PORT=port))
        seen = [self.echo(port, "/w")["server"] for _ in range(8)]
        self.assertEqual(seen.count("a"), 6, seen)
        self.assertEqual(seen.count("b"), 2, seen)
        # nginx's smooth weighted round robin spreads b out: a a b a a a b a
        self.assertEqual(seen, ["a", "a", "b", "a", "a", "a", "b", "a"])

    def test_uri_mapping(self):
        be = self.backend()
        port = free_port()
        self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location /a/ {
            proxy_pass http://@BE@/b/;
        }
        location /c/ {
            proxy_pass http://@BE@;
        }
        location = /exact {
            proxy_pass http://@BE@/other;
        }
        location /nouri {
            proxy_pass http://@BE@/;
        }
    }
}
""", PORT=port, BE=be.addr))
        cases = [
            ("/a/x", "/b/x"),
            ("/a/x/y?q=1&r=%41", "/b/x/y?q=1&r=%41"),
            ("/a/", "/b/"),
            ("/a/one%20two", "/b/one%20two"),
            # without a URI part the request URI goes unchanged, as the client sent it
            ("/c/y", "/c/y"),
            ("/c/one%20two?x=%41", "/c/one%20two?x=%41"),
            ("/c/x/../y", "/c/x/../y"),
            ("/exact?z=1", "/other?z=1"),
            ("/nouri/deep/path", "//deep/path"),
        ]
        for sent, expected in cases:
            with self.subTest(sent=sent):
                self.assertEqual(self.echo(port, sent)["target"], expected)

    def test_default_headers_upstream(self):
        be = self.backend()
        port = free_port()
        self.proxy(fill("""
http {
    upstream named_pool {
        server @BE@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /group/ {
            proxy_pass http://named_pool;
        }
        location /direct/ {
            proxy_pass http://@BE@;
        }
        location /host/ {
            proxy_pass http://named_pool;
            proxy_set_header Host $host;
            proxy_set_header Connection "keep-alive";
        }
    }
}
""", PORT=port, BE=be.addr))
        client = [("Host", "client.example"), ("X-Custom", "v1"), ("User-Agent", "it/1")]
        e = self.echo(port, "/group/x", client)
        self.assertEqual(self.hdr(e, "Host"), ["named_pool"])
        self.assertEqual(self.hdr(e, "Connection"), ["close"])
        self.assertEqual(self.hdr(e, "X-Custom"), ["v1"])
        self.assertEqual(self.hdr(e, "User-Agent"), ["it/1"])
        self.assertEqual(e["version"], "HTTP/1.0", "proxy_http_version defaults to 1.0")
        self.assertEqual(e["method"], "GET")

        e = self.echo(port, "/direct/x", client)
        self.assertEqual(self.hdr(e, "Host"), [be.addr])
        self.assertEqual(self.hdr(e, "Connection"), ["close"])

        e = self.echo(port, "/host/x", client)
        self.assertEqual(self.hdr(e, "Host"), ["client.example"])
        self.assertEqual(self.hdr(e, "Connection"), ["keep-alive"])

    def test_methods_and_body_forwarded(self):
        be = self.backend()
        port = free_port()
        self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://@BE@; }
    }
}
""", PORT=port, BE=be.addr))
        from tests.support.harness import http_request
        import hashlib
        body = b"field=value&x=" + b"y" * 3000
        r = http_request(port, "POST", "/form", headers=[("Content-Type", "application/x-www-form-urlencoded")],
                         body=body)
        self.assertEqual(r.status, 200, r)
        e = r.json()
        self.assertEqual(e["method"], "POST")
        self.assertEqual(e["body_len"], len(body))
        self.assertEqual(e["body_sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(self.hdr(e, "Content-Length"), [str(len(body))])
        self.assertEqual(self.hdr(e, "Content-Type"), ["application/x-www-form-urlencoded"])
        for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
            with self.subTest(method=method):
                r = http_request(port, method, "/m", body=b"abc")
                self.assertEqual(r.json()["method"], method)
                self.assertEqual(r.json()["body_len"], 3)
        r = http_request(port, "HEAD", "/head")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")

    def test_x_forwarded_for(self):
        be = self.backend()
        port = free_port()
        self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://@BE@;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP $remote_addr;
        }
    }
}
""", PORT=port, BE=be.addr))
        e = self.echo(port, "/")
        self.assertEqual(self.hdr(e, "X-Forwarded-For"), ["127.0.0.1"])
        self.assertEqual(self.hdr(e, "X-Real-IP"), ["127.0.0.1"])
        e = self.echo(port, "/", [("X-Forwarded-For", "203.0.113.7")])
        self.assertEqual(self.hdr(e, "X-Forwarded-For"), ["203.0.113.7, 127.0.0.1"])

    def test_hop_by_hop_request_headers_not_forwarded(self):
        be = self.backend()
        port = free_port()
        self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://@BE@; }
    }
}
""", PORT=port, BE=be.addr))
        e = self.echo(port, "/", [
            ("Connection", "keep-alive"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Upgrade", "websocket"),
            ("X-End-To-End", "kept"),
        ])
        for name in ("Keep-Alive", "TE", "Upgrade"):
            self.assertEqual(self.hdr(e, name), [], "%s must not be forwarded: %s" % (name, e["headers"]))
        self.assertEqual(self.hdr(e, "Connection"), ["close"])
        self.assertEqual(self.hdr(e, "X-End-To-End"), ["kept"])

    @unittest.skipIf(is_nginx(), "nginx forwards headers named in Connection and Proxy-Connection "
                                 "(RFC 9110 7.6.1 says drop them); tidegate does")
    def test_connection_listed_headers_not_forwarded(self):
        be = self.backend()
        port = free_port()
        self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://@BE@; }
    }
}
""", PORT=port, BE=be.addr))
        e = self.echo(port, "/", [
            ("Connection", "keep-alive, X-Hop"),
            ("X-Hop", "secret"),
            ("Proxy-Connection", "keep-alive"),
            ("X-End-To-End", "kept"),
        ])
        self.assertEqual(self.hdr(e, "X-Hop"), [], e["headers"])
        self.assertEqual(self.hdr(e, "Proxy-Connection"), [], e["headers"])
        self.assertEqual(self.hdr(e, "X-End-To-End"), ["kept"])

    # -- request header names: underscores_in_headers, ignore_invalid_headers -------------

    HEADER_NAMES = [("X_Under", "u"), ("Bad@Name", "b"), ("X-Plain", "p")]

    def passed_headers(self, port):
        """Which of HEADER_NAMES reached the backend (names as sent)."""
        with self.client(port) as c:
            c.request("GET", "/names", headers=self.HEADER_NAMES)
            r = c.read_response()
        self.assertEqual(r.status, 200, r)
        got = {k for k, _ in r.json()["headers"]}
        return sorted(n for n, _ in self.HEADER_NAMES if n in got)

    def test_underscores_and_invalid_header_names_http_level(self):
        # Defaults (ignore_invalid_headers on, underscores_in_headers off): a name with
        # '_' counts as invalid and is dropped, as is a name that is not a token.
        # underscores_in_headers on: '_' is valid. ignore_invalid_headers off: invalid
        # names are passed on, '_' ones included.
        be = self.backend()
        for settings, expected in (
            ("", ["X-Plain"]),
            ("underscores_in_headers on;", ["X-Plain", "X_Under"]),
            ("ignore_invalid_headers off;", ["Bad@Name", "X-Plain", "X_Under"]),
            ("underscores_in_headers off; ignore_invalid_headers on;", ["X-Plain"]),
        ):
            with self.subTest(settings=settings):
                port = free_port()
                px = self.proxy(fill("""
http {
    @SETTINGS@
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://@BE@; }
    }
}
""", PORT=port, BE=be.addr, SETTINGS=settings))
                self.assertEqual(self.passed_headers(port), expected)
                px.stop()

    def test_underscores_and_invalid_header_names_server_level(self):
        # The same settings in server blocks (each the default server of its own port,
        # whose settings nginx applies while it reads the head).
        be = self.backend()
        ports = [free_port() for _ in range(3)]
        self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@P0@;
        location / { proxy_pass http://@BE@; }
    }
    server {
        listen 127.0.0.1:@P1@;
        underscores_in_headers on;
        location / { proxy_pass http://@BE@; }
    }
    server {
        listen 127.0.0.1:@P2@;
        ignore_invalid_headers off;
        location / { proxy_pass http://@BE@; }
    }
}
""", P0=ports[0], P1=ports[1], P2=ports[2], BE=be.addr))
        self.assertEqual(self.passed_headers(ports[0]), ["X-Plain"])
        self.assertEqual(self.passed_headers(ports[1]), ["X-Plain", "X_Under"])
        self.assertEqual(self.passed_headers(ports[2]), ["Bad@Name", "X-Plain", "X_Under"])

    # -- default_type ------------------------------------------------------------------------

    def test_default_type_is_the_content_type_of_return(self):
        port = free_port()
        self.proxy(fill("""
http {
    default_type application/x-http-level;
    server {
        listen 127.0.0.1:@PORT@;
        location = /inherited { return 200 "x"; }
        location = /own { default_type text/x-location; return 200 "x"; }
        location /nested/ {
            default_type application/x-outer;
            location = /nested/inner { return 200 "x"; }
        }
    }
    server {
        listen 127.0.0.1:@PORT2@;
        default_type image/x-server;
        location / { return 200 "x"; }
    }
}
""", PORT=port, PORT2=(port2 := free_port())))
        for p, path, ctype in ((port, "/inherited", "application/x-http-level"),
                               (port, "/own", "text/x-location"),
                               (port, "/nested/inner", "application/x-outer"),
                               (port2, "/any", "image/x-server")):
            with self.subTest(path=path):
                r = http_get(p, path)
                self.assertEqual((r.status, r.body), (200, b"x"), r)
                self.assertEqual(r.header_all("Content-Type"), [ctype])

    def test_response_headers_hide_and_pass(self):
        be = self.backend()
        port = free_port()
        self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location /default/ {
            proxy_pass http://@BE@/hdrs;
        }
        location /hide/ {
            proxy_pass http://@BE@/hdrs;
            proxy_hide_header X-Secret;
        }
        location /pass/ {
            proxy_pass http://@BE@/hdrs;
            proxy_pass_header Server;
        }
    }
}
""", PORT=port, BE=be.addr))
        q = "?h=X-Secret:s3cr3t&h=X-Kept:yes&h=Server:backend-srv/1.0&h=Keep-Alive:timeout=99"
        r = http_get(port, "/default/" + q)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header_all("X-Secret"), ["s3cr3t"])
        self.assertEqual(r.header_all("X-Kept"), ["yes"])
        self.assertNotIn("backend-srv/1.0", r.header_all("Server"), "upstream Server is hidden by default")
        self.assertEqual(r.header_all("Keep-Alive"), [], "upstream Keep-Alive is hop-by-hop")
        self.assertEqual(len(r.header_all("Date")), 1)

        r = http_get(port, "/hide/" + q)
        self.assertEqual(r.header_all("X-Secret"), [])
        self.assertEqual(r.header_all("X-Kept"), ["yes"])

        r = http_get(port, "/pass/" + q)
        self.assertEqual(r.header_all("Server"), ["backend-srv/1.0"])
        self.assertEqual(r.header_all("X-Secret"), ["s3cr3t"])

    def test_upstream_status_passed_through(self):
        be = self.backend()
        port = free_port()
        self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://@BE@; }
    }
}
""", PORT=port, BE=be.addr))
        for status in (201, 204, 404, 418, 500, 503):
            with self.subTest(status=status):
                r = http_get(port, "/status/%d" % status)
                self.assertEqual(r.status, status)
                if status != 204:
                    self.assertEqual(r.body, ("status %d from backend\n" % status).encode())

    def test_return_and_add_header(self):
        port = free_port()
        self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        add_header X-Server-Level s;
        location = /text {
            return 200 "text";
        }
        location = /moved {
            return 301 http://x/;
        }
        location = /relative {
            return 302 /rel;
        }
        location = /hdr {
            add_header X-A b always;
            add_header X-B c;
            return 200 "with headers";
        }
        location = /hdr404 {
            add_header X-A b always;
            add_header X-B c;
            return 404;
        }
        location = /inherit {
            return 200 "inherits";
        }
    }
}
""", PORT=port))
        r = http_get(port, "/text")
        self.assertEqual((r.status, r.body), (200, b"text"))
        self.assertEqual(r.header("Content-Type"), "text/plain")
        self.assertEqual(r.header("Content-Length"), "4")

        r = http_get(port, "/moved")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "http://x/")

        r = http_get(port, "/relative", headers=[("Host", "localhost")])
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "http://localhost:%d/rel" % port)

        r = http_get(port, "/hdr")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header_all("X-A"), ["b"])
        self.assertEqual(r.header_all("X-B"), ["c"])
        self.assertEqual(r.header_all("X-Server-Level"), [], "add_header in a location replaces the server's")

        r = http_get(port, "/hdr404")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header_all("X-A"), ["b"], "always adds to any status")
        self.assertEqual(r.header_all("X-B"), [], "without always: only 2xx/3xx")

        r = http_get(port, "/inherit")
        self.assertEqual(r.header_all("X-Server-Level"), ["s"])

        r = http_get(port, "/nowhere")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header_all("X-Server-Level"), [], "without always: not on 404")

    def test_location_matching_order(self):
        port = free_port()
        self.proxy(fill("""
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / { return 200 "prefix-root"; }
        location = /exact { return 200 "exact"; }
        location /exact { return 200 "prefix-exact"; }
        location ^~ /static/ { return 200 "no-regex-prefix"; }
        location ~ \\.php$ { return 200 "regex"; }
        location ~* \\.JPG$ { return 200 "iregex"; }
        location /images/ { return 200 "prefix-images"; }
    }
}
""", PORT=port))
        cases = {
            "/": "prefix-root",
            "/exact": "exact",
            "/exactly": "prefix-exact",
            "/static/a.php": "no-regex-prefix",
            "/dir/a.php": "regex",
            "/images/a.php": "regex",
            "/images/a.jpg": "iregex",
            "/images/a.png": "prefix-images",
            "/other": "prefix-root",
        }
        for path, body in cases.items():
            with self.subTest(path=path):
                self.assertEqual(http_get(port, path).text, body)


if __name__ == "__main__":
    unittest.main()
