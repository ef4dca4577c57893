"""Static file serving with nginx's semantics (ngx_http_static_module, index,
try_files, root/alias, autoindex, ranges, conditional requests, expires), checked
against real nginx.

Every test serves a document tree built in the proxy's prefix directory before the
proxy starts (``build_tree``): files and directories get fixed modes and a fixed
mtime (MTIME, so Last-Modified and ETag are known in advance), plus a marker file
outside the document root (``outside/secret.txt`` and ``etc/passwd``) that no
traversal may ever serve. Paths in the conf are the prefix's realpath, so that
``disable_symlinks on`` is not tripped by a symlinked temp directory.

nginx's built-in error pages end in ``<hr><center>SERVER</center>`` where SERVER is
the Server header of the response (nginx/1.22.1, tidegate/x.y.z): ``builtin_page``
builds the expected body from it."""

import email.utils
import hashlib
import json
import os
import random
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import (IntegrationTest, fill, free_port, http_get,  # noqa: E402
                                   http_request, make_prefix)

MTIME = 1600000000           # Sun, 13 Sep 2020 12:26:40 GMT = 0x5f5e1000
LAST_MODIFIED = "Sun, 13 Sep 2020 12:26:40 GMT"
BIG_MTIME = 1700000123       # another mtime, so the ETag is not a constant prefix
HELLO = b"hello, static world\n"  # 20 bytes: ETag "5f5e1000-14"
HELLO_ETAG = '"5f5e1000-14"'
SECRET = b"TOPSECRET-7f3a: a file outside the document root\n"
BIG = random.Random(0x57A71C).randbytes(3 * 1024 * 1024 + 12345)
GZIPPED = bytes.fromhex("1f8b08000000000000ff") + b"not really deflate, but served as is"
LONG_NAME = "n" * 55 + ".txt"  # longer than autoindex's 50-column name field

CONF = """
http {
    access_log off;
    types {
        text/html html;
        image/png png;
        application/javascript js;
        text/plain txt;
    }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        root @ROOT@/www;
        index index.html index.htm;

        location /locroot/ { root @ROOT@/alt; }
        location = /exact.txt { root @ROOT@/exact; }
        location /img/ { alias @ROOT@/pics/; }
        location ~ ^/u/(.+)$ { alias @ROOT@/users/$1; }

        location /spa/ { try_files $uri $uri/ /index.html; }
        location /strict/ { try_files $uri =404; }
        location /dyn/ { try_files $uri @backend; }
        location @backend { proxy_pass http://@BE@; }
        location /pretty/ { try_files $uri $uri.html $uri/ =404; }

        location /errpage/ { error_page 404 /404.html; }

        location /exp1h/ { alias @ROOT@/www/; expires 1h; }
        location /expneg/ { alias @ROOT@/www/; expires -1; }
        location /expepoch/ { alias @ROOT@/www/; expires epoch; }
        location /public/ { alias @ROOT@/www/; add_header Cache-Control "public"; }
        location /exppublic/ { alias @ROOT@/www/; expires 1h; add_header Cache-Control "public"; }

        location /browse/ { autoindex on; }
        location /browsejson/ { alias @ROOT@/www/browse/; autoindex on; autoindex_format json; }

        location /nolinks/ { disable_symlinks on; }
        location /nolinksindex/ { alias @ROOT@/www/nolinks/; disable_symlinks on; autoindex on; }
        location /errpage2/ { error_page 404 = /404.html; }
        location /tfvar/ { try_files /nonexistent $arg_f; }
        location /gz/ { alias @ROOT@/www/; gzip_static on; gzip_vary on; }
    }
}
"""

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))

FILES = {
    "www/index.html": b"<h1>home</h1>\n",
    "www/hello.txt": HELLO,
    "www/zipped.txt": b"plain text that has a gzip twin\n",
    "www/zipped.txt.gz": GZIPPED,
    "www/page.html": b"<p>page</p>\n",
    "www/app.js": b"console.log('static');\n",
    "www/logo.png": PNG,
    "www/data.xyz": b"unknown extension\n",
    "www/README": b"no extension at all\n",
    "www/big.bin": BIG,
    "www/404.html": b"<p>custom not found page</p>\n",
    "www/both/index.html": b"first index\n",
    "www/both/index.htm": b"second index (must not be used)\n",
    "www/htm/index.htm": b"htm index\n",
    "www/noindex/a.txt": b"a\n",
    "www/sp ace/f.txt": b"f\n",
    "www/d\u00e9/f.txt": b"f\n",
    "www/a b.txt": b"space in the name\n",
    "www/h\u00e9llo.txt": b"utf-8 name\n",
    "www/\u65e5\u672c\u8a9e.txt": b"cjk name\n",
    "www/locroot/x.txt": b"decoy: server-level root\n",
    "alt/locroot/x.txt": b"location-level root\n",
    "www/exact.txt": b"decoy: server-level root\n",
    "exact/exact.txt": b"exact location\n",
    "www/img/cat.png": b"decoy: not the alias target\n",
    "pics/cat.png": PNG + b"cat",
    "users/alice.txt": b"alice\n",
    "users/bob/index.html": b"bob home\n",
    "www/spa/real.txt": b"real spa file\n",
    "www/spa/d/index.html": b"spa dir index\n",
    "www/strict/s.txt": b"strict file\n",
    "www/strict/sub/index.html": b"strict sub index\n",
    "www/dyn/static.txt": b"static under dyn\n",
    "www/pretty/about.html": b"about page\n",
    "www/pretty/docs/index.html": b"docs index\n",
    "www/pretty/plain.txt": b"plain pretty\n",
    "www/browse/a.txt": b"a\n",
    "www/browse/B.txt": b"BB\n",
    "www/browse/<&>.txt": b"ccc\n",
    "www/browse/q\"uote.txt": b"dddd\n",
    "www/browse/.hidden": b"hidden\n",
    "www/browse/" + LONG_NAME: b"long\n",
    "www/browse/sub dir/inner.txt": b"inner\n",
    "www/browse/withindex/index.html": b"browse index wins\n",
    "www/nolinks/plain.txt": b"plain file under disable_symlinks\n",
    "outside/secret.txt": SECRET,
    "etc/passwd": SECRET,
}

SYMLINKS = {
    "www/link.txt": "../outside/secret.txt",
    "www/linkdir": "../outside",
    "www/nolinks/link.txt": "../../outside/secret.txt",
    "www/nolinks/inner.txt": "../hello.txt",
    "www/nolinks/dirlink": "../../outside",
}


def build_tree(root):
    for rel, data in FILES.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)
    for rel, target in SYMLINKS.items():
        os.symlink(target, os.path.join(root, rel))
    for sub in ("www", "alt", "exact", "pics", "users", "outside", "etc"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, sub), topdown=False):
            for name in filenames + dirnames:
                p = os.path.join(dirpath, name)
                if not os.path.islink(p):
                    os.chmod(p, 0o755 if os.path.isdir(p) else 0o644)
                    os.utime(p, (MTIME, MTIME))
            os.chmod(dirpath, 0o755)
            os.utime(dirpath, (MTIME, MTIME))
    os.utime(os.path.join(root, "www/big.bin"), (BIG_MTIME, BIG_MTIME))


def etag(mtime, size):
    return '"%x-%x"' % (mtime, size)


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def parse_http_date(s):
    return email.utils.parsedate_to_datetime(s).timestamp()


def builtin_page(r, title):
    """nginx's built-in error page for ``title`` (e.g. "404 Not Found")."""
    return ("<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n"
            "<hr><center>%s</center>\r\n</body>\r\n</html>\r\n" % (title, title, r.header("Server"))).encode()


class StaticTest(IntegrationTest):
    def setUp(self):
        self.prefix = make_prefix()
        self.root = os.path.realpath(self.prefix).rstrip("/")
        build_tree(self.root)
        self.be = self.backend()
        self.port = free_port()
        self.px = self.proxy(fill(CONF, PORT=self.port, ROOT=self.root, BE=self.be.addr), prefix=self.prefix)

    # -- helpers ---------------------------------------------------------------------------

    def get(self, path, headers=None):
        return http_get(self.port, path, headers=headers)

    def request(self, method, path, headers=None, body=None):
        return http_request(self.port, method, path, headers=headers, body=body)

    def raw(self, target: bytes, extra=b""):
        """Sends a request line with ``target`` as raw bytes (nothing re-encoded)."""
        c = self.client(self.port)
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\n" + extra + b"\r\n")
        return c.read_response()

    def assert_file(self, r, body, ctype, mtime=MTIME):
        """A complete 200 answer of the static module for a file with ``body``."""
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, body)
        self.assertEqual(r.header("Content-Type"), ctype)
        self.assertEqual(r.header("Content-Length"), str(len(body)))
        self.assertEqual(r.header("Last-Modified"), http_date(mtime))
        self.assertEqual(r.header("ETag"), etag(mtime, len(body)))
        self.assertEqual(r.header("Accept-Ranges"), "bytes")
        self.assertIsNone(r.header("Transfer-Encoding"))

    def assert_builtin(self, r, status, title):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header("Content-Type"), "text/html")
        self.assertEqual(r.body, builtin_page(r, title))
        self.assertEqual(r.header("Content-Length"), str(len(r.body)))

    def assert_not_leaked(self, r):
        self.assertNotIn(b"TOPSECRET", r.body, r)
        self.assertNotIn(b"root:x:0:0", r.body, r)

    # -- 1. root, alias, types, validators ---------------------------------------------------

    def test_root_at_server_level_serves_file_with_validators(self):
        r = self.get("/hello.txt")
        self.assert_file(r, HELLO, "text/plain")
        # nginx's exact forms: RFC 1123 date in GMT, ETag "<mtime hex>-<size hex>"
        self.assertEqual(r.header("Last-Modified"), LAST_MODIFIED)
        self.assertEqual(r.header("ETag"), HELLO_ETAG)
        self.assertRegex(r.header("Date"), r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")

    def test_content_type_from_types_block_and_default_type(self):
        for path, body, ctype in (
                ("/page.html", FILES["www/page.html"], "text/html"),
                ("/logo.png", PNG, "image/png"),
                ("/app.js", FILES["www/app.js"], "application/javascript"),
                ("/data.xyz", FILES["www/data.xyz"], "application/octet-stream"),  # unknown extension
                ("/README", FILES["www/README"], "application/octet-stream")):      # no extension
            with self.subTest(path=path):
                self.assert_file(self.get(path), body, ctype)

    def test_root_at_location_level_appends_the_full_uri(self):
        # root @ROOT@/alt in location /locroot/: the file is alt/locroot/x.txt
        self.assert_file(self.get("/locroot/x.txt"), b"location-level root\n", "text/plain")

    def test_alias_in_prefix_location(self):
        # alias replaces the location prefix: /img/cat.png -> pics/cat.png (not www/img/cat.png)
        self.assert_file(self.get("/img/cat.png"), PNG + b"cat", "image/png")
        self.assert_builtin(self.get("/img/nothere.png"), 404, "404 Not Found")
        # the aliased directory itself: no index file, no autoindex -> 403
        self.assert_builtin(self.get("/img/"), 403, "403 Forbidden")

    def test_alias_in_regex_location_with_capture(self):
        self.assert_file(self.get("/u/alice.txt"), b"alice\n", "text/plain")
        self.assert_builtin(self.get("/u/nobody.txt"), 404, "404 Not Found")
        r = self.get("/u/bob")  # a directory: redirect to the URI with a slash
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("Location"), "http://localhost:%d/u/bob/" % self.port)
        r = self.get("/u/bob?z=1")
        self.assertEqual(r.header("Location"), "http://localhost:%d/u/bob/?z=1" % self.port)
        self.assert_file(self.get("/u/bob/"), b"bob home\n", "text/html")

    def test_validators_follow_the_file(self):
        r = self.get("/big.bin")
        self.assertEqual(r.header("ETag"), '"6553f17b-303039"')  # lower-case hex, no leading zeros
        self.assertEqual(r.header("Last-Modified"), "Tue, 14 Nov 2023 22:15:23 GMT")
        # no open_file_cache: a rewritten file is served with its new validators at once
        path = os.path.join(self.root, "www/hello.txt")
        with open(path, "wb") as f:
            f.write(b"changed content, longer than before\n")
        os.utime(path, (MTIME + 4096, MTIME + 4096))
        r = self.get("/hello.txt")
        self.assert_file(r, b"changed content, longer than before\n", "text/plain", mtime=MTIME + 4096)
        self.assertEqual(r.header("ETag"), '"5f5e2000-24"')
        self.assertEqual(r.header("Last-Modified"), "Sun, 13 Sep 2020 13:34:56 GMT")

    # -- 2. index, directory redirect, 403/404, error_page -----------------------------------

    def test_index_first_then_second(self):
        r = self.get("/both/")
        # Content-Type comes from the index file's name (index.html), not from the URI
        self.assert_file(r, b"first index\n", "text/html")
        # index.html missing: index.htm is used (htm is not in the types block)
        self.assert_file(self.get("/htm/"), b"htm index\n", "application/octet-stream")
        self.assert_file(self.get("/"), b"<h1>home</h1>\n", "text/html")

    def test_directory_without_slash_redirects(self):
        r = self.get("/htm")
        self.assert_builtin(r, 301, "301 Moved Permanently")
        # absolute: scheme, the Host header's name, the listen port
        self.assertEqual(r.header("Location"), "http://localhost:%d/htm/" % self.port)
        self.assertIsNone(r.header("Last-Modified"))
        self.assertIsNone(r.header("ETag"))
        # the query string is kept after the added slash
        r = self.get("/htm?a=1&b=%20x")
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("Location"), "http://localhost:%d/htm/?a=1&b=%%20x" % self.port)
        # the host comes from Host (lower-cased, its port dropped); the port is the listener's
        r = self.get("/htm", headers={"Host": "WWW.Example.COM:8080"})
        self.assertEqual(r.header("Location"), "http://www.example.com:%d/htm/" % self.port)
        # no Host at all (HTTP/1.0): the address the connection was accepted on
        r = self.request_10("/htm")
        self.assertEqual(r.header("Location"), "http://127.0.0.1:%d/htm/" % self.port)
        # the URI is escaped again in Location
        r = self.get("/sp%20ace")
        self.assertEqual(r.header("Location"), "http://localhost:%d/sp%%20ace/" % self.port)
        # ... from the decoded URI, with upper-case hex whatever the request used
        r = self.get("/d%c3%a9")
        self.assertEqual(r.header("Location"), "http://localhost:%d/d%%C3%%A9/" % self.port)

    def request_10(self, path):
        c = self.client(self.port)
        c.send("GET %s HTTP/1.0\r\n\r\n" % path)
        return c.read_response()

    def test_directory_without_index_is_forbidden(self):
        self.assert_builtin(self.get("/noindex/"), 403, "403 Forbidden")

    def test_missing_file_is_404_with_builtin_page(self):
        r = self.get("/nothere.txt")
        self.assert_builtin(r, 404, "404 Not Found")
        self.assertIsNone(r.header("Last-Modified"))
        self.assertIsNone(r.header("ETag"))
        self.assertIsNone(r.header("Accept-Ranges"))
        # a file used as a directory
        self.assert_builtin(self.get("/hello.txt/"), 404, "404 Not Found")
        self.assert_builtin(self.get("/hello.txt/x"), 404, "404 Not Found")

    def test_error_page_404_serves_static_page(self):
        page = FILES["www/404.html"]
        for path in ("/errpage/missing.txt", "/errpage/"):
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 404, r)
                self.assertEqual(r.body, page)
                self.assertEqual(r.header("Content-Type"), "text/html")
                self.assertEqual(r.header("Content-Length"), str(len(page)))
                # nginx drops Last-Modified for any status but 200/206/304, adds Accept-Ranges
                # only to 200, and keeps the page's ETag
                self.assertIsNone(r.header("Last-Modified"))
                self.assertIsNone(r.header("Accept-Ranges"))
                self.assertEqual(r.header("ETag"), etag(MTIME, len(page)))
        # conditionals and ranges do not apply to an error page
        r = self.get("/errpage/missing.txt", headers={"If-None-Match": etag(MTIME, len(page)),
                                                      "Range": "bytes=0-1"})
        self.assertEqual((r.status, r.body), (404, page))

    # -- 3. try_files --------------------------------------------------------------------------

    def test_try_files_spa_fallback(self):
        home = b"<h1>home</h1>\n"
        self.assert_file(self.get("/spa/real.txt"), b"real spa file\n", "text/plain")
        for path in ("/spa/unknown/route", "/spa/x.txt", "/spa/app?q=1"):
            with self.subTest(path=path):
                self.assert_file(self.get(path), home, "text/html")
        # $uri/ matched a directory given without a slash: the static module redirects
        r = self.get("/spa/d")
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("Location"), "http://localhost:%d/spa/d/" % self.port)
        self.assert_file(self.get("/spa/d/"), b"spa dir index\n", "text/html")
        # "/spa/" is an existing directory (matched by $uri/): no index in it -> 403, no fallback
        self.assert_builtin(self.get("/spa/"), 403, "403 Forbidden")

    def test_try_files_uri_or_404(self):
        self.assert_file(self.get("/strict/s.txt"), b"strict file\n", "text/plain")
        self.assert_builtin(self.get("/strict/nothere"), 404, "404 Not Found")
        # $uri only matches files: a directory is not found (no redirect)
        self.assert_builtin(self.get("/strict/sub"), 404, "404 Not Found")

    def test_try_files_named_location_proxies_to_backend(self):
        self.assert_file(self.get("/dyn/static.txt"), b"static under dyn\n", "text/plain")
        self.assertEqual(self.be.requests, [])
        r = self.get("/dyn/missing?a=1&b=2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("X-Backend"), "backend")
        got = r.json()
        # a named location keeps the original URI and arguments
        self.assertEqual((got["method"], got["target"]), ("GET", "/dyn/missing?a=1&b=2"))
        self.assertEqual([q.target for q in self.be.requests], ["/dyn/missing?a=1&b=2"])

    def test_try_files_pretty_urls(self):
        self.assert_file(self.get("/pretty/about"), b"about page\n", "text/html")  # $uri.html
        self.assert_file(self.get("/pretty/about.html"), b"about page\n", "text/html")
        self.assert_file(self.get("/pretty/plain.txt"), b"plain pretty\n", "text/plain")
        r = self.get("/pretty/docs")
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("Location"), "http://localhost:%d/pretty/docs/" % self.port)
        self.assert_file(self.get("/pretty/docs/"), b"docs index\n", "text/html")
        self.assert_builtin(self.get("/pretty/nope"), 404, "404 Not Found")

    # -- 4. conditional requests ---------------------------------------------------------------

    def assert_304(self, r):
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("ETag"), HELLO_ETAG)
        self.assertEqual(r.header("Last-Modified"), LAST_MODIFIED)
        for h in ("Content-Type", "Content-Length", "Accept-Ranges", "Transfer-Encoding", "Content-Range"):
            self.assertIsNone(r.header(h), "%s on a 304: %r" % (h, r))

    def test_if_modified_since_equal_gives_304(self):
        c = self.client(self.port)
        c.request("GET", "/hello.txt", headers={"If-Modified-Since": LAST_MODIFIED})
        self.assert_304(c.read_response())
        # no body followed the 304: the next answer on the connection parses cleanly
        c.request("GET", "/hello.txt")
        self.assert_file(c.read_response(), HELLO, "text/plain")
        c.request("HEAD", "/hello.txt", headers={"If-Modified-Since": LAST_MODIFIED})
        self.assert_304(c.read_response(method="HEAD"))

    def test_if_modified_since_other_dates_give_200(self):
        for ims in ("Sat, 12 Sep 2020 12:26:40 GMT",   # older
                    "Mon, 14 Sep 2020 12:26:40 GMT",   # newer: still 200 (if_modified_since exact)
                    "not a date"):
            with self.subTest(ims=ims):
                self.assert_file(self.get("/hello.txt", headers={"If-Modified-Since": ims}),
                                 HELLO, "text/plain")

    def test_if_none_match(self):
        for inm in (HELLO_ETAG, 'W/' + HELLO_ETAG, '"other", ' + HELLO_ETAG, "*"):
            with self.subTest(inm=inm):
                self.assert_304(self.get("/hello.txt", headers={"If-None-Match": inm}))
        self.assert_file(self.get("/hello.txt", headers={"If-None-Match": '"5f5e1000-15"'}),
                         HELLO, "text/plain")
        # a mismatching If-None-Match wins over a matching If-Modified-Since
        r = self.get("/hello.txt", headers={"If-None-Match": '"nope"', "If-Modified-Since": LAST_MODIFIED})
        self.assert_file(r, HELLO, "text/plain")

    def test_if_match_and_if_unmodified_since(self):
        self.assert_file(self.get("/hello.txt", headers={"If-Match": HELLO_ETAG}), HELLO, "text/plain")
        self.assert_builtin(self.get("/hello.txt", headers={"If-Match": '"nope"'}),
                            412, "412 Precondition Failed")
        self.assert_builtin(self.get("/hello.txt", headers={"If-Unmodified-Since": "Sat, 12 Sep 2020 12:26:40 GMT"}),
                            412, "412 Precondition Failed")
        self.assert_file(self.get("/hello.txt", headers={"If-Unmodified-Since": LAST_MODIFIED}),
                         HELLO, "text/plain")

    # -- 5. ranges -------------------------------------------------------------------------------

    def assert_206(self, r, first, last, total=len(HELLO), data=HELLO):
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.reason, "Partial Content")
        self.assertEqual(r.body, data[first:last + 1])
        self.assertEqual(r.header("Content-Range"), "bytes %d-%d/%d" % (first, last, total))
        self.assertEqual(r.header("Content-Length"), str(last + 1 - first))
        self.assertIsNone(r.header("Accept-Ranges"))
        self.assertEqual(r.header("ETag"), etag(MTIME if data is HELLO else BIG_MTIME, total))
        self.assertIsNotNone(r.header("Last-Modified"))

    def test_single_ranges(self):
        for spec, first, last in (("bytes=0-4", 0, 4), ("bytes=-5", 15, 19), ("bytes=10-", 10, 19),
                                  ("bytes=19-", 19, 19), ("bytes=0-100", 0, 19), ("bytes=-100", 0, 19),
                                  ("bytes=0-1,30-40", 0, 1)):  # the unsatisfiable part is dropped
            with self.subTest(spec=spec):
                r = self.get("/hello.txt", headers={"Range": spec})
                self.assert_206(r, first, last)
                self.assertEqual(r.header("Content-Type"), "text/plain")
        self.assertEqual(self.get("/hello.txt", headers={"Range": "bytes=0-4"}).body, b"hello")

    def test_unsatisfiable_range_gives_416(self):
        for spec in ("bytes=20-", "bytes=5-2", "bytes=-0", "bytes=abc", "bytes=30-40,50-60"):
            with self.subTest(spec=spec):
                r = self.get("/hello.txt", headers={"Range": spec})
                self.assert_builtin(r, 416, "416 Requested Range Not Satisfiable")
                self.assertEqual(r.header("Content-Range"), "bytes */20")
                self.assertIsNone(r.header("Last-Modified"))
        # another unit than bytes is ignored
        self.assert_file(self.get("/hello.txt", headers={"Range": "items=0-1"}), HELLO, "text/plain")

    def test_multipart_byteranges(self):
        r = self.get("/hello.txt", headers={"Range": "bytes=0-1,4-5"})
        self.assertEqual(r.status, 206, r)
        m = re.fullmatch(r"multipart/byteranges; boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})",
                         r.header("Content-Type"))
        self.assertIsNotNone(m, r.header("Content-Type"))
        b = m.group(1).encode()
        self.assertIsNone(r.header("Content-Range"))
        self.assertEqual(r.header("Content-Length"), str(len(r.body)))
        self.assertEqual(r.header("ETag"), HELLO_ETAG)
        # parse: CRLF, then per part "--B CRLF headers CRLF CRLF data CRLF", then "--B--" CRLF
        self.assertTrue(r.body.startswith(b"\r\n--" + b + b"\r\n"), r.body)
        self.assertTrue(r.body.endswith(b"\r\n--" + b + b"--\r\n"), r.body)
        inner = r.body[len(b"\r\n--" + b + b"\r\n"):-len(b"\r\n--" + b + b"--\r\n")]
        parts = inner.split(b"\r\n--" + b + b"\r\n")
        self.assertEqual(len(parts), 2, r.body)
        got = []
        for part in parts:
            head, sep, data = part.partition(b"\r\n\r\n")
            self.assertEqual(sep, b"\r\n\r\n")
            got.append((head.split(b"\r\n"), data))
        self.assertEqual(got, [
            ([b"Content-Type: text/plain", b"Content-Range: bytes 0-1/20"], b"he"),
            ([b"Content-Type: text/plain", b"Content-Range: bytes 4-5/20"], b"o,"),
        ])
        # overlapping ranges are sent as they are, not merged
        r = self.get("/hello.txt", headers={"Range": "bytes=0-4,2-8"})
        b = r.header("Content-Type").split("boundary=")[1].encode()
        self.assertEqual(r.body,
                         b"\r\n--%s\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-4/20\r\n\r\nhello"
                         b"\r\n--%s\r\nContent-Type: text/plain\r\nContent-Range: bytes 2-8/20\r\n\r\nllo, st"
                         b"\r\n--%s--\r\n" % (b, b, b))

    def test_if_range(self):
        r = self.get("/hello.txt", headers={"Range": "bytes=0-4", "If-Range": '"5f5e1000-99"'})
        self.assert_file(r, HELLO, "text/plain")  # mismatch: the whole file
        r = self.get("/hello.txt", headers={"Range": "bytes=0-4", "If-Range": HELLO_ETAG})
        self.assert_206(r, 0, 4)
        r = self.get("/hello.txt", headers={"Range": "bytes=0-4", "If-Range": LAST_MODIFIED})
        self.assert_206(r, 0, 4)
        r = self.get("/hello.txt", headers={"Range": "bytes=0-4", "If-Range": "Sun, 13 Sep 2020 12:26:41 GMT"})
        self.assert_file(r, HELLO, "text/plain")

    def test_range_in_large_file(self):
        first, last = 1048570, 2097160
        r = self.get("/big.bin", headers={"Range": "bytes=%d-%d" % (first, last)})
        self.assert_206(r, first, last, total=len(BIG), data=BIG)
        r = self.get("/big.bin", headers={"Range": "bytes=-7"})
        self.assert_206(r, len(BIG) - 7, len(BIG) - 1, total=len(BIG), data=BIG)

    # -- 6. methods ------------------------------------------------------------------------------

    def test_head_has_headers_of_get_without_body(self):
        c = self.client(self.port)
        c.request("GET", "/hello.txt")
        get = c.read_response()
        c.request("HEAD", "/hello.txt")
        head = c.read_response(method="HEAD")
        self.assertEqual(head.status, 200, head)
        strip = lambda r: [(k, v) for k, v in r.headers if k.lower() != "date"]  # noqa: E731
        self.assertEqual(strip(head), strip(get))
        self.assertEqual(head.header("Content-Length"), "20")
        # no body bytes followed: the next response starts right away
        c.request("HEAD", "/big.bin", headers={"Range": "bytes=0-9"})
        r = c.read_response(method="HEAD")
        self.assertEqual((r.status, r.header("Content-Length"), r.header("Content-Range")),
                         (206, "10", "bytes 0-9/%d" % len(BIG)))
        c.request("GET", "/hello.txt")
        self.assert_file(c.read_response(), HELLO, "text/plain")

    def test_post_and_other_methods_not_allowed(self):
        c = self.client(self.port)
        c.request("POST", "/hello.txt", body=b"some=form&data=1")
        r = c.read_response()
        self.assert_builtin(r, 405, "405 Not Allowed")
        self.assertEqual(r.reason, "Not Allowed")
        self.assertIsNone(r.header("Allow"))
        # the body was read and dropped: the connection stays usable
        c.request("GET", "/hello.txt")
        self.assert_file(c.read_response(), HELLO, "text/plain")
        # POST is refused only once the file is found; other methods at once
        self.assert_builtin(self.request("POST", "/nothere.txt", body=b"x"), 404, "404 Not Found")
        self.assert_builtin(self.request("POST", "/"), 405, "405 Not Allowed")
        for method in ("PUT", "DELETE", "PATCH"):
            with self.subTest(method=method):
                self.assert_builtin(self.request(method, "/hello.txt", body=b"x"), 405, "405 Not Allowed")
                self.assert_builtin(self.request(method, "/nothere.txt"), 405, "405 Not Allowed")

    # -- 7. large file, keep-alive -----------------------------------------------------------

    def test_large_file_intact(self):
        c = self.client(self.port, timeout=15)
        c.request("GET", "/big.bin")
        h = hashlib.sha256()
        r = c.read_response(body_sink=h.update)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Length"), str(len(BIG)))
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        self.assertEqual(r.header("ETag"), etag(BIG_MTIME, len(BIG)))
        self.assertEqual(h.hexdigest(), hashlib.sha256(BIG).hexdigest())

    def test_keepalive_interleaves_files_and_304s(self):
        c = self.client(self.port, timeout=15)
        big_sha = hashlib.sha256(BIG).hexdigest()
        steps = [
            ("GET", "/big.bin", {}, 200),
            ("GET", "/hello.txt", {"If-None-Match": HELLO_ETAG}, 304),
            ("GET", "/page.html", {}, 200),
            ("GET", "/hello.txt", {"If-Modified-Since": LAST_MODIFIED}, 304),
            ("HEAD", "/big.bin", {}, 200),
            ("GET", "/hello.txt", {"Range": "bytes=7-12"}, 206),
            ("GET", "/nothere", {}, 404),
            ("GET", "/big.bin", {"If-None-Match": etag(BIG_MTIME, len(BIG))}, 304),
            ("GET", "/big.bin", {}, 200),
            ("GET", "/hello.txt", {}, 200),
        ]
        for i, (method, path, headers, status) in enumerate(steps):
            with self.subTest(step=i, path=path):
                c.request(method, path, headers=headers)
                h = hashlib.sha256()
                r = c.read_response(method=method, body_sink=h.update)
                self.assertEqual(r.status, status, r)
                self.assertEqual((r.header("Connection") or "keep-alive").lower(), "keep-alive")
                if method == "GET" and path == "/big.bin" and status == 200:
                    self.assertEqual(h.hexdigest(), big_sha)
                elif status == 206:
                    self.assertEqual(h.hexdigest(), hashlib.sha256(HELLO[7:13]).hexdigest())
                elif path == "/hello.txt" and status == 200:
                    self.assertEqual(h.hexdigest(), hashlib.sha256(HELLO).hexdigest())
        self.assertFalse(c.closed_by_peer(timeout=0.2))

    # -- 8. path safety ----------------------------------------------------------------------

    def test_traversal_above_root_is_400(self):
        # nginx resolves "." and ".." segments (after percent-decoding, %2f included) while
        # parsing the request line; climbing above "/" is a 400 before any location runs
        for target in (b"/../../etc/passwd", b"/../etc/passwd", b"/../outside/secret.txt",
                       b"/%2e%2e/%2e%2e/etc/passwd", b"/%2E%2E/outside/secret.txt",
                       b"/a/..%2f..%2f..%2fetc/passwd", b"/a/..%2f..%2foutside/secret.txt",
                       b"/..%2foutside/secret.txt", b"/x/../../outside/secret.txt",
                       b"/img/../../pics/cat.png", b"/u/../../users/alice.txt"):
            with self.subTest(target=target):
                r = self.raw(target)
                self.assert_builtin(r, 400, "400 Bad Request")
                self.assert_not_leaked(r)

    def test_nul_byte_is_400(self):
        for target in (b"/hello.txt%00", b"/hello.txt%00.html", b"/%00", b"/noindex/%00/../a.txt"):
            with self.subTest(target=target):
                r = self.raw(target)
                self.assert_builtin(r, 400, "400 Bad Request")
                self.assert_not_leaked(r)

    def test_dot_segments_inside_root_are_resolved(self):
        for target in (b"/noindex/../hello.txt", b"/noindex/..%2fhello.txt", b"/noindex/%2e%2e/hello.txt",
                       b"/./hello.txt", b"//hello.txt", b"/noindex/./../hello.txt", b"/hello%2etxt"):
            with self.subTest(target=target):
                self.assert_file(self.raw(target), HELLO, "text/plain")
        # a backslash is an ordinary character on POSIX: no such file
        for target in (b"/..%5coutside/secret.txt", b"/..\\outside/secret.txt"):
            with self.subTest(target=target):
                r = self.raw(target)
                self.assert_builtin(r, 404, "404 Not Found")
                self.assert_not_leaked(r)

    def test_symlinks_followed_by_default(self):
        # nginx's default (disable_symlinks off): a symlink in the root is served even when
        # it points outside the root
        r = self.get("/link.txt")
        self.assert_file(r, SECRET, "text/plain")
        self.assert_file(self.get("/linkdir/secret.txt"), SECRET, "text/plain")

    def test_disable_symlinks_on(self):
        self.assert_file(self.get("/nolinks/plain.txt"), FILES["www/nolinks/plain.txt"], "text/plain")
        # a symlink as the last component: openat(O_NOFOLLOW) fails with ELOOP -> 403, also
        # for a symlink pointing inside the root
        for path in ("/nolinks/link.txt", "/nolinks/inner.txt"):
            with self.subTest(path=path):
                r = self.get(path)
                self.assert_builtin(r, 403, "403 Forbidden")
                self.assert_not_leaked(r)
        # a symlinked directory in the middle of the path: nginx opens each directory with
        # O_NOFOLLOW|O_DIRECTORY, which fails with ENOTDIR -> 404 (not 403)
        r = self.get("/nolinks/dirlink/secret.txt")
        self.assert_builtin(r, 404, "404 Not Found")
        self.assert_not_leaked(r)
        self.assert_builtin(self.get("/nolinks/missing.txt"), 404, "404 Not Found")

    # -- 9. percent-encoded names --------------------------------------------------------------

    def test_percent_encoded_and_utf8_names(self):
        self.assert_file(self.get("/a%20b.txt"), b"space in the name\n", "text/plain")
        self.assert_file(self.get("/h%C3%A9llo.txt"), b"utf-8 name\n", "text/plain")
        self.assert_file(self.get("/h%c3%a9llo.txt"), b"utf-8 name\n", "text/plain")  # lower-case hex
        self.assert_file(self.raw("/h\u00e9llo.txt".encode()), b"utf-8 name\n", "text/plain")  # raw UTF-8
        self.assert_file(self.get("/%E6%97%A5%E6%9C%AC%E8%AA%9E.txt"), b"cjk name\n", "text/plain")
        self.assert_file(self.get("/noindex%2Fa.txt"), b"a\n", "text/plain")  # %2F decodes to "/"
        # "+" is not a space in a path
        self.assert_builtin(self.get("/a+b.txt"), 404, "404 Not Found")

    # -- 10. expires and add_header ----------------------------------------------------------

    def test_expires_1h(self):
        r = self.get("/exp1h/hello.txt")
        self.assert_file(r, HELLO, "text/plain")
        self.assertEqual(r.header("Cache-Control"), "max-age=3600")
        self.assertEqual(parse_http_date(r.header("Expires")) - parse_http_date(r.header("Date")), 3600)
        self.assertRegex(r.header("Expires"), r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")
        # also on a 304
        r = self.get("/exp1h/hello.txt", headers={"If-None-Match": HELLO_ETAG})
        self.assertEqual((r.status, r.header("Cache-Control")), (304, "max-age=3600"))
        self.assertIsNotNone(r.header("Expires"))
        # not on a 404
        r = self.get("/exp1h/nothere.txt")
        self.assertEqual(r.status, 404)
        self.assertIsNone(r.header("Expires"))
        self.assertIsNone(r.header("Cache-Control"))

    def test_expires_negative(self):
        r = self.get("/expneg/hello.txt")
        self.assert_file(r, HELLO, "text/plain")
        self.assertEqual(r.header("Cache-Control"), "no-cache")
        # Expires is "now" minus one second
        self.assertEqual(parse_http_date(r.header("Expires")) - parse_http_date(r.header("Date")), -1)

    def test_expires_epoch(self):
        r = self.get("/expepoch/hello.txt")
        self.assert_file(r, HELLO, "text/plain")
        self.assertEqual(r.header("Expires"), "Thu, 01 Jan 1970 00:00:01 GMT")
        self.assertEqual(r.header("Cache-Control"), "no-cache")

    def test_add_header_cache_control(self):
        r = self.get("/public/hello.txt")
        self.assert_file(r, HELLO, "text/plain")
        self.assertEqual(r.header_all("Cache-Control"), ["public"])
        self.assertIsNone(r.header("Expires"))
        r = self.get("/public/hello.txt", headers={"If-Modified-Since": LAST_MODIFIED})
        self.assertEqual((r.status, r.header_all("Cache-Control")), (304, ["public"]))
        r = self.get("/public/hello.txt", headers={"Range": "bytes=0-0"})
        self.assertEqual((r.status, r.header_all("Cache-Control")), (206, ["public"]))
        # without "always", add_header skips a 404
        r = self.get("/public/nothere.txt")
        self.assertEqual(r.status, 404)
        self.assertIsNone(r.header("Cache-Control"))
        # with expires in the same location: expires' header first, then add_header's
        r = self.get("/exppublic/hello.txt")
        self.assertEqual(r.header_all("Cache-Control"), ["max-age=3600", "public"])

    # -- 11. autoindex -------------------------------------------------------------------------

    def test_autoindex_html(self):
        r = self.get("/browse/")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "text/html")
        self.assertIsNone(r.header("Last-Modified"))
        self.assertIsNone(r.header("ETag"))
        date = time.strftime("%d-%b-%Y %H:%M", time.gmtime(MTIME))  # 13-Sep-2020 12:26

        def line(href, shown, width, size):
            # name column 50 wide (the unescaped length counts), a space, the date, a space,
            # the size right-aligned in 19 ("-" for directories)
            return '<a href="%s">%s</a>%s %s %19s\r\n' % (href, shown, " " * max(0, 50 - width), date, size)

        expected = (
            '<html>\r\n<head><title>Index of /browse/</title></head>\r\n<body>\r\n'
            '<h1>Index of /browse/</h1><hr><pre><a href="../">../</a>\r\n'
            # directories first, then files, each by byte order; dot files hidden
            + line("sub%20dir/", "sub dir/", 8, "-")
            + line("withindex/", "withindex/", 10, "-")
            + line("%3C%26%3E.txt", "&lt;&amp;&gt;.txt", 7, "4")
            + line("B.txt", "B.txt", 5, "3")
            + line("a.txt", "a.txt", 5, "2")
            # names over 50 columns: 47 characters and "..>"
            + '<a href="%s">%s..&gt;</a> %s %19s\r\n' % (LONG_NAME, LONG_NAME[:47], date, "5")
            + line("q%22uote.txt", "q&quot;uote.txt", 10, "5")
            + '</pre><hr></body>\r\n</html>\r\n')
        self.assertEqual(r.text, expected)
        # HEAD: same type, no body
        r = self.request("HEAD", "/browse/")
        self.assertEqual((r.status, r.header("Content-Type"), r.body), (200, "text/html", b""))

    def test_autoindex_redirect_and_index_precedence(self):
        r = self.get("/browse")
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("Location"), "http://localhost:%d/browse/" % self.port)
        # an index file wins over the listing
        self.assert_file(self.get("/browse/withindex/"), b"browse index wins\n", "text/html")
        self.assertIn('<a href="inner.txt">inner.txt</a>', self.get("/browse/sub%20dir/").text)
        self.assertIn("<title>Index of /browse/sub dir/</title>", self.get("/browse/sub%20dir/").text)

    def test_autoindex_json(self):
        r = self.get("/browsejson/")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json")
        entries = json.loads(r.body, object_pairs_hook=lambda pairs: pairs)
        mtime = LAST_MODIFIED
        # same order as the HTML listing; "size" (a JSON number) only for files; mtime in
        # RFC 1123 form; the keys in this order
        self.assertEqual(entries, [
            [("name", "sub dir"), ("type", "directory"), ("mtime", mtime)],
            [("name", "withindex"), ("type", "directory"), ("mtime", mtime)],
            [("name", "<&>.txt"), ("type", "file"), ("mtime", mtime), ("size", 4)],
            [("name", "B.txt"), ("type", "file"), ("mtime", mtime), ("size", 3)],
            [("name", "a.txt"), ("type", "file"), ("mtime", mtime), ("size", 2)],
            [("name", LONG_NAME), ("type", "file"), ("mtime", mtime), ("size", 5)],
            [("name", 'q"uote.txt'), ("type", "file"), ("mtime", mtime), ("size", 5)],
        ])
        # nginx's layout: one object per line
        self.assertTrue(r.text.startswith('[\r\n{ "name":"sub dir", "type":"directory", "mtime":"%s" },\r\n'
                                          % mtime), r.text)
        self.assertIn('{ "name":"a.txt", "type":"file", "mtime":"%s", "size":2 },\r\n' % mtime, r.text)
        self.assertTrue(r.text.endswith('{ "name":"q\\"uote.txt", "type":"file", "mtime":"%s", "size":5 }\r\n]'
                                        % mtime), r.text)

    # -- 12. exact location, query strings -------------------------------------------------------

    def test_exact_location_and_query_string(self):
        self.assert_file(self.get("/exact.txt"), b"exact location\n", "text/plain")
        self.assert_file(self.get("/exact.txt?x=1"), b"exact location\n", "text/plain")
        self.assert_file(self.get("/hello.txt?x=1&y=%2e%2e"), HELLO, "text/plain")
        self.assert_file(self.get("/hello.txt?"), HELLO, "text/plain")
    # -- cases found in review: each once answered wrongly or let something through --

    def test_disable_symlinks_covers_directories_and_listings(self):
        # the symlinked directory cannot be browsed (nginx lists its name; tidegate
        # lists no symlink under disable_symlinks)
        r = self.get("/nolinksindex/")
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"plain.txt", r.body)
        r = self.get("/nolinksindex/dirlink/")
        self.assertIn(r.status, (403, 404), r)
        self.assertNotIn(b"secret", r.body)

    def test_unread_body_is_discarded_before_the_next_request(self):
        # a GET with a body that arrives after the head: the answer does not wait for
        # it, and the next pipelined request on the connection is still answered
        c = self.client(self.port)
        c.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        time.sleep(0.3)
        c.send(b"ABCDEGET /page.html HTTP/1.1\r\nHost: x\r\n\r\n")
        r1 = c.read_response()
        self.assertEqual((r1.status, r1.body), (200, HELLO))
        if r1.header("Connection", "").lower() == "keep-alive":
            r2 = c.read_response()
            self.assertEqual((r2.status, r2.body), (200, b"<p>page</p>\n"))

    def test_error_page_with_bare_equals(self):
        # `=`: the page's own status, fetched as GET whatever the method; a method the
        # static module refuses before looking (DELETE) stays 405
        for method in ("GET", "POST"):
            r = http_request(self.port, method, "/errpage2/missing", headers=[("Host", "x")],
                             body=b"" if method == "POST" else None)
            self.assertEqual((r.status, r.body), (200, b"<p>custom not found page</p>\n"), method)
        r = http_request(self.port, "DELETE", "/errpage2/missing", headers=[("Host", "x")])
        self.assertEqual(r.status, 405)

    def test_try_files_code_only_when_written(self):
        # `=0` from a variable is no status (it once replayed the request 1000 times)
        c = self.client(self.port)
        c.send(b"GET /tfvar/?f==0 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        self.assertGreaterEqual(r.status, 400, r)
        self.assertNotEqual(r.status, 101)
        # a value that is no URI never reaches a neighbour of the root ("www-secret")
        r = self.get("/tfvar/?f=-secret")
        self.assertNotIn(SECRET, r.body)

    def test_gzip_static_serves_the_precompressed_twin(self):
        for accept, gz in (("gzip, deflate", True), ("br;q=1.0, gzip;q=0.5", True),
                           ("gzip;q=0", False), ("deflate", False), (None, False)):
            headers = [("Accept-Encoding", accept)] if accept else None
            r = self.get("/gz/zipped.txt", headers=headers)
            self.assertEqual(r.status, 200, accept)
            self.assertEqual(r.header("Content-Type"), "text/plain", accept)
            if gz:
                self.assertEqual(r.body, GZIPPED, accept)
                self.assertEqual(r.header("Content-Encoding"), "gzip")
                self.assertEqual(r.header("Vary"), "Accept-Encoding")
            else:
                self.assertEqual(r.body, b"plain text that has a gzip twin\n", accept)
                self.assertIsNone(r.header("Content-Encoding"), accept)
        # no twin: the file itself
        r = self.get("/gz/hello.txt", headers=[("Accept-Encoding", "gzip")])
        self.assertEqual((r.status, r.body), (200, HELLO))
        self.assertIsNone(r.header("Content-Encoding"))


if __name__ == "__main__":
    unittest.main()
