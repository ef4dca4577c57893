"""proxy_redirect (nginx's default on, `off`, explicit rules): a Location or
Refresh from an upstream that starts with the proxy_pass URL gets the location's
prefix instead, and a rewritten value that is relative is made absolute as nginx's
header filter does (a relative Location the upstream sent stays as it is). Checked
against nginx too: most users rely on the default without knowing it."""

import os
import sys
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import IntegrationTest, fill, free_port, http_get  # noqa: E402

CONF = """
http {
    access_log off;
    upstream app { server @BE@; }
    server {
        listen 127.0.0.1:@PORT@;
        server_name proxy.test;
        location /a/ { proxy_pass http://@BE@/; }
        location = /one/x { proxy_pass http://@BE@/hdrs; }
        location /named/ { proxy_pass http://app/; }
        location /off/ { proxy_pass http://@BE@/; proxy_redirect off; }
        location /rule/ {
            proxy_pass http://@BE@/;
            proxy_redirect http://internal.example/ /rule/;
            proxy_redirect https://other.example/ http://$host:$server_port/elsewhere/;
        }
        location /norel/ { proxy_pass http://@BE@/; absolute_redirect off; }
    }
}
"""


class ProxyRedirectTest(IntegrationTest):
    def setUp(self):
        self.be = self.backend()
        self.port = free_port()
        self.px = self.proxy(fill(CONF, PORT=self.port, BE=self.be.addr))

    def location(self, prefix, location, header="Location"):
        path = prefix if prefix.endswith("x") else prefix + "hdrs"
        r = http_get(self.port, "%s?h=%s" % (path, quote("%s:%s" % (header, location))),
                     headers=[("Host", "proxy.test:%d" % self.port)])
        self.assertEqual(r.status, 200, r)
        return r.header(header)

    def test_default_rewrites_the_proxy_pass_url_to_the_location(self):
        be = "http://%s" % self.be.addr
        me = "http://proxy.test:%d" % self.port
        # proxy_pass http://be/ (its URI is "/"): "http://be/" -> "/a/", made absolute
        self.assertEqual(self.location("/a/", be + "/x/y?z=1"), me + "/a/x/y?z=1")
        # proxy_pass http://be/hdrs in `location = /one/x`: "http://be/hdrs" -> "/one/x"
        self.assertEqual(self.location("/one/x", be + "/hdrs/page"), me + "/one/x/page")
        self.assertEqual(self.location("/one/x", be + "/three/page"), be + "/three/page")
        # a group name as written in proxy_pass (apps build Location from Host: app)
        self.assertEqual(self.location("/named/", "http://app/login"), me + "/named/login")
        # another host is left alone
        self.assertEqual(self.location("/a/", "http://elsewhere.example/x"),
                         "http://elsewhere.example/x")

    def test_relative_locations_stay_and_rewritten_ones_follow_absolute_redirect(self):
        for prefix in ("/a/", "/off/", "/norel/"):
            self.assertEqual(self.location(prefix, "/rel/path"), "/rel/path")
        self.assertEqual(self.location("/a/", "relative/no-slash"), "relative/no-slash")
        # absolute_redirect off: the rewritten value stays relative
        self.assertEqual(self.location("/norel/", "http://%s/x" % self.be.addr), "/norel/x")

    def test_off_and_explicit_rules(self):
        be = "http://%s" % self.be.addr
        self.assertEqual(self.location("/off/", be + "/x"), be + "/x")
        me = "http://proxy.test:%d" % self.port
        self.assertEqual(self.location("/rule/", "http://internal.example/p?q"), me + "/rule/p?q")
        self.assertEqual(self.location("/rule/", "https://other.example/z"),
                         "http://proxy.test:%d/elsewhere/z" % self.port)
        # explicit rules replace the default one
        self.assertEqual(self.location("/rule/", be + "/x"), be + "/x")

    def test_refresh_header(self):
        be = "http://%s" % self.be.addr
        self.assertEqual(self.location("/a/", "5; url=%s/next" % be, header="Refresh"),
                         "5; url=/a/next")


if __name__ == "__main__":
    unittest.main()
