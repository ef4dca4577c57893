"""tidegate's NGINX Plus–compatible REST API (`location /api { api write=on; }`), version 9:
paths, JSON fields and kinds, status codes and NGINX Plus's error bodies; upstream
statistics that follow real traffic; run-time server changes (POST / PATCH / DELETE)
that traffic follows, under load too, kept across a reload (with `zone`) and across a
restart (with `state`); allow/deny and auth_basic on the API location; status zones.

NGINX Plus only (nginx OSS has no `api` directive): every class skips under nginx.
"""

import base64
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.admin_client import (PEER_FIELDS, RESPONSE_CLASSES, SERVER_FIELDS,  # noqa: E402
                                        WINDOW_FIELDS, ISO_TIME_RE, Api, LoadLoop,
                                        assert_api_error, is_int, is_number, spread, wait_until,
                                        writable_tempdir)
from tests.support.harness import (Background, IntegrationTest, fill,  # noqa: E402
                                   free_port, http_get, http_request, is_nginx, run_cli)

SKIP_NGINX = "NGINX Plus API / tidegate extension"

# One zone group (dynamic) `be`, one without zone (static) `fixed`; a writable API at
# /api, a read-only one at /ro-api.
CONF = """
http {
    access_log off;
    upstream be {
        zone be 64k;
        server @B1@;
        server @B2@;
    }
    upstream fixed {
        server @B1@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /api { api write=on; }
        location /ro-api { api; }
        location /fixed/ { proxy_pass http://fixed; }
        location / { proxy_pass http://be; }
    }
}
"""


class ApiTestBase(IntegrationTest):
    def start(self, conf=CONF, backends=2, **values):
        self.port = free_port()
        self.bes = [self.backend("b%d" % (i + 1)) for i in range(backends)]
        for i, b in enumerate(self.bes):
            values.setdefault("B%d" % (i + 1), b.addr)
        self.px = self.proxy(fill(conf, PORT=self.port, **values))
        self.api = Api(self.port)
        return self.px

    def assert_unchanged(self, before, upstream="be"):
        self.assertEqual(self.api.servers(upstream), before)


# -- read-only paths ---------------------------------------------------------------------------


class ApiPathsTest(ApiTestBase):
    def setUp(self):
        if is_nginx():
            self.skipTest(SKIP_NGINX)
        self.start()

    def test_versions_at_the_root(self):
        for path in ("/api", "/api/"):
            with self.subTest(path):
                r = self.api.get(path, version_prefix=False)
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.header("content-type").startswith("application/json"))
                self.assertEqual(r.data, [1, 2, 3, 4, 5, 6, 7, 8, 9])

    def test_version_9_lists_its_sections(self):
        for path in ("/api/9", "/api/9/"):
            with self.subTest(path):
                r = self.api.get(path, version_prefix=False)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.data, ["nginx", "processes", "connections", "slabs", "http",
                                          "stream", "resolvers", "ssl", "workers"])
        self.assertEqual(self.api.json("/http"),
                         ["requests", "server_zones", "location_zones", "caches", "limit_conns",
                          "limit_reqs", "keyvals", "upstreams"])
        self.assertEqual(self.api.json("/stream"),
                         ["server_zones", "limit_conns", "keyvals", "upstreams", "zone_sync"])

    def test_nginx_section(self):
        d = self.api.json("/nginx")
        self.assertEqual(set(d), {"version", "build", "address", "generation", "load_timestamp",
                                  "timestamp", "pid", "ppid"})
        for k in ("version", "build", "address", "load_timestamp", "timestamp"):
            self.assertIsInstance(d[k], str, k)
        for k in ("generation", "pid", "ppid"):
            self.assertTrue(is_int(d[k]), (k, d[k]))
        self.assertRegex(d["version"], r"^\d+\.\d+\.\d+")
        self.assertEqual(d["address"], "127.0.0.1")
        self.assertRegex(d["load_timestamp"], ISO_TIME_RE)
        self.assertRegex(d["timestamp"], ISO_TIME_RE)
        self.assertLessEqual(d["load_timestamp"], d["timestamp"])
        self.assertEqual(d["pid"], self.px.pid)
        self.assertEqual(d["ppid"], os.getpid())
        self.assertGreaterEqual(d["generation"], 1)
        # A reload makes a new generation with a new load time.
        self.px.signal(signal.SIGHUP)
        after = wait_until(lambda: (lambda n: n if n["generation"] == d["generation"] + 1 else None)(
            self.api.json("/nginx")), 10, what="generation + 1 after SIGHUP")
        self.assertGreater(after["load_timestamp"], d["load_timestamp"])
        self.assertEqual(after["pid"], d["pid"])

    def test_connections_count_accepted_connections(self):
        before = self.api.json("/connections")
        self.assertEqual(set(before), {"accepted", "dropped", "active", "idle"})
        for k, v in before.items():
            self.assertTrue(is_int(v) and v >= 0, (k, v))
        self.assertGreaterEqual(before["active"], 1)  # this request's own connection
        for i in range(5):
            self.assertEqual(http_get(self.port, "/c%d" % i).status, 200)
        after = self.api.json("/connections")
        # five connections, plus the one of this second API request
        self.assertEqual(after["accepted"] - before["accepted"], 6)
        self.assertEqual(after["dropped"], 0)
        self.assertGreaterEqual(after["active"], 1)

    def test_http_requests_count_requests(self):
        before = self.api.json("/http/requests")
        self.assertEqual(set(before), {"total", "current"})
        self.assertTrue(is_int(before["total"]) and is_int(before["current"]))
        self.assertGreaterEqual(before["current"], 1)  # this request
        for i in range(7):
            self.assertEqual(http_get(self.port, "/r%d" % i).status, 200)
        after = self.api.json("/http/requests")
        # the 7 proxied requests and the first API request (whichever way the API
        # request in progress is counted, the difference is the same)
        self.assertEqual(after["total"] - before["total"], 8)

    def test_http_requests_total_includes_the_request_in_progress(self):
        # nginx counts a request when it starts (stub_status's "requests", which NGINX
        # Plus's /http/requests.total is): the first request a fresh server answers
        # already counts itself, so total >= current always.
        d = self.api.json("/http/requests")
        self.assertGreaterEqual(d["total"], d["current"])
        self.assertEqual(d["total"], 1)

    def test_fields_argument_limits_the_output(self):
        # NGINX Plus: GET /nginx?fields=version,build (and the same on /connections,
        # /http/requests, zones, upstreams) outputs those fields only.
        d = self.api.json("/nginx?fields=version,build")
        self.assertEqual(set(d), {"version", "build"})
        self.assertEqual(set(self.api.json("/connections?fields=accepted")), {"accepted"})

    def test_head_answers_like_get_without_a_body(self):
        r = self.api.call("HEAD", "/nginx")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"")
        self.assertTrue(r.header("content-type").startswith("application/json"))
        self.assertGreater(int(r.header("content-length")), 0)

    def test_stub_sections_answer_with_the_right_kind(self):
        cases = {
            "/processes": dict, "/slabs": dict, "/ssl": dict, "/resolvers": dict,
            "/workers": list, "/http/caches": dict, "/http/limit_reqs": dict,
            "/http/limit_conns": dict, "/http/keyvals": dict, "/http/server_zones": dict,
            "/http/location_zones": dict, "/stream/upstreams": dict,
            "/stream/server_zones": dict, "/stream/limit_conns": dict, "/stream/keyvals": dict,
            "/stream/zone_sync": dict,
        }
        for path, kind in cases.items():
            with self.subTest(path):
                r = self.api.get(path)
                self.assertEqual(r.status, 200, r)
                self.assertIsInstance(r.data, kind, r)
        self.assertEqual(self.api.json("/processes"), {"respawned": 0})
        ssl = self.api.json("/ssl")
        for k in ("handshakes", "handshakes_failed", "session_reuses"):
            self.assertEqual(ssl[k], 0)
        workers = self.api.json("/workers")
        self.assertGreaterEqual(len(workers), 1)
        for w in workers:
            self.assertTrue(is_int(w["id"]))
            self.assertEqual(w["pid"], self.px.pid)
            self.assertEqual(set(w["connections"]), {"accepted", "dropped", "active", "idle"})
            self.assertEqual(set(w["http"]["requests"]), {"total", "current"})

    def test_unknown_version(self):
        for path in ("/api/10", "/api/10/", "/api/0/", "/api/abc/", "/api/10/nginx",
                     "/api/999/http/upstreams"):
            with self.subTest(path):
                assert_api_error(self, self.api.get(path, version_prefix=False), 404,
                                 "UnknownVersion")

    def test_unknown_path(self):
        for path in ("/nope", "/http/nope", "/nginx/extra", "/http/requests/x",
                     "/http/caches/x", "/stream/nope", "/http/upstreams/be/nope",
                     "/http/upstreams/be/servers/1/x"):
            with self.subTest(path):
                assert_api_error(self, self.api.get(path), 404, "PathNotFound")

    def test_upstream_not_found(self):
        for path in ("/http/upstreams/nope", "/http/upstreams/nope/", "/http/upstreams/nope/servers",
                     "/http/upstreams/nope/servers/1"):
            with self.subTest(path):
                assert_api_error(self, self.api.get(path), 404, "UpstreamNotFound")
        assert_api_error(self, self.api.post("/http/upstreams/nope/servers",
                                             {"server": self.bes[0].addr}), 404, "UpstreamNotFound")
        assert_api_error(self, self.api.delete("/http/upstreams/nope"), 404, "UpstreamNotFound")

    def test_trailing_slashes_are_accepted_on_every_path(self):
        sid = self.api.servers("be")[0]["id"]
        stable = ["", "/http", "/stream", "/processes", "/slabs", "/ssl", "/resolvers",
                  "/http/caches", "/http/limit_reqs", "/http/limit_conns", "/http/keyvals",
                  "/stream/upstreams", "/stream/server_zones", "/stream/keyvals",
                  "/stream/limit_conns", "/stream/zone_sync", "/http/upstreams/be/servers",
                  "/http/upstreams/be/servers/%d" % sid, "/http/server_zones",
                  "/http/location_zones"]
        for path in stable:
            with self.subTest(path):
                a, b = self.api.get(path), self.api.get(path + "/")
                self.assertEqual(a.status, 200, a)
                self.assertEqual(b.status, 200, b)
                self.assertEqual(a.data, b.data)
        # answers that move between two calls: same status and the same keys
        for path in ("/nginx", "/connections", "/http/requests", "/workers", "/http/upstreams",
                     "/http/upstreams/be"):
            with self.subTest(path):
                a, b = self.api.get(path), self.api.get(path + "/")
                self.assertEqual(a.status, 200, a)
                self.assertEqual(b.status, 200, b)
                self.assertEqual(type(a.data), type(b.data))
                if isinstance(a.data, dict):
                    self.assertEqual(set(a.data), set(b.data))

    def test_methods_not_supported(self):
        cases = [("POST", "/nginx"), ("DELETE", "/nginx"), ("PATCH", "/http/upstreams"),
                 ("POST", "/http/upstreams/be"), ("PUT", "/http/upstreams/be/servers"),
                 ("POST", "/http/upstreams/be/servers/1"), ("OPTIONS", "/nginx")]
        before = self.api.servers("be")
        for method, path in cases:
            with self.subTest(method + " " + path):
                assert_api_error(self, self.api.call(method, path, raw_body="{}"), 405,
                                 "MethodNotSupported")
        self.assert_unchanged(before)


# -- upstream statistics ---------------------------------------------------------------------


class UpstreamStatsTest(ApiTestBase):
    def setUp(self):
        if is_nginx():
            self.skipTest(SKIP_NGINX)
        self.start()

    def send(self, path, n, expect):
        """n requests on fresh connections; returns {backend: body bytes received}."""
        got = {}
        for i in range(n):
            r = http_get(self.port, path)
            self.assertEqual(r.status, expect, r)
            got.setdefault(r.header("x-backend"), []).append(len(r.body))
        return got

    def test_keepalive_counts_idle_upstream_connections(self):
        conf = CONF.replace("        server @B2@;\n    }", "        server @B2@;\n        keepalive 8;\n    }", 1)
        conf = conf.replace("location / { proxy_pass http://be; }",
                            "location / { proxy_pass http://be; proxy_http_version 1.1; "
                            "proxy_set_header Connection \"\"; }")
        self.px.stop()
        self.start(conf)
        self.assertEqual(self.api.json("/http/upstreams/be")["keepalive"], 0)
        # Four clients at once: four upstream connections, all idle afterwards.
        import threading
        barrier = threading.Barrier(4)

        def one():
            barrier.wait()
            http_get(self.port, "/slow?ms=300")
        ts = [threading.Thread(target=one) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(self.api.json("/http/upstreams/be")["keepalive"], 4)
        # A new request takes one of them; it is back once the answer is sent.
        self.assertEqual(http_get(self.port, "/ok").status, 200)
        self.assertEqual(self.api.json("/http/upstreams/be")["keepalive"], 4)

    def test_upstream_lists_configured_groups_with_zone_and_counts_traffic(self):
        ups = self.api.json("/http/upstreams")
        # every explicit group (implicit ones from `proxy_pass http://addr` are not listed)
        self.assertEqual(set(ups), {"be", "fixed"})
        be = ups["be"]
        self.assertEqual(be["zone"], "be")
        self.assertNotIn("zone", ups["fixed"])
        self.assertEqual(be["zombies"], 0)
        self.assertTrue(is_int(be["keepalive"]))
        self.assertEqual(len(be["peers"]), 2)
        for p in be["peers"]:
            self.assertEqual(p["requests"], 0)
            self.assertEqual(p["state"], "up")
            self.assertNotIn("selected", p)

        ok = self.send("/ok", 10, 200)
        not_found = self.send("/status/404", 2, 404)
        unavailable = self.send("/status/503", 1, 503)

        be = self.api.json("/http/upstreams/be")
        self.assertEqual(set(be), {"peers", "keepalive", "zombies", "zone", "tunnels", "windows"})
        peers = be["peers"]
        by_server = {p["server"]: p for p in peers}
        self.assertEqual(set(by_server), {b.addr for b in self.bes})
        self.assertEqual(len({p["id"] for p in peers}), 2)
        for b in self.bes:
            p = by_server[b.addr]
            with self.subTest(b.name):
                for field, kind in PEER_FIELDS.items():
                    self.assertIn(field, p)
                    if kind is int:
                        self.assertTrue(is_int(p[field]) and p[field] >= 0, (field, p[field]))
                    else:
                        self.assertIsInstance(p[field], kind, field)
                self.assertEqual(p["name"], b.addr)
                self.assertFalse(p["backup"])
                self.assertEqual(p["weight"], 1)
                self.assertEqual(p["state"], "up")
                self.assertEqual(p["active"], 0)
                self.assertEqual(p["fails"], 0)
                self.assertEqual(p["unavail"], 0)
                self.assertEqual(p["downtime"], 0)
                self.assertEqual(p["tunnels"], 0)
                self.assertFalse(p["drained"])
                self.assertEqual(p["health_checks"], {"checks": 0, "fails": 0, "unhealthy": 0})
                # what this backend itself saw
                self.assertEqual(p["requests"], len(b.requests))
                resp = p["responses"]
                self.assertEqual(set(resp), set(RESPONSE_CLASSES) | {"codes", "total"})
                name = b.name
                n200 = len(ok.get(name, []))
                n404 = len(not_found.get(name, []))
                n503 = len(unavailable.get(name, []))
                self.assertEqual(resp["2xx"], n200)
                self.assertEqual(resp["4xx"], n404)
                self.assertEqual(resp["5xx"], n503)
                self.assertEqual(resp["1xx"], 0)
                self.assertEqual(resp["3xx"], 0)
                self.assertEqual(resp["total"], n200 + n404 + n503)
                codes = {k: v for k, v in (("200", n200), ("404", n404), ("503", n503)) if v}
                self.assertEqual(resp["codes"], codes)
                self.assertGreater(p["sent"], 0)
                body_bytes = sum(ok.get(name, []) + not_found.get(name, []) +
                                 unavailable.get(name, []))
                self.assertGreaterEqual(p["received"], body_bytes)
                self.assertRegex(p["selected"], ISO_TIME_RE)
                self.assertEqual(set(p["windows"]), {"10s", "1m", "5m"})
                for w in p["windows"].values():
                    for f in WINDOW_FIELDS:
                        self.assertTrue(is_number(w[f]), (f, w))
        self.assertEqual(sum(p["requests"] for p in peers), 13)
        # round robin over two servers
        self.assertEqual(sorted(len(v) for v in ok.values()), [5, 5])
        # the windows catch up with the traffic (sampled once a second)
        wait_until(lambda: sum(p["windows"]["1m"]["requests"]
                               for p in self.api.peers("be")) >= 13, 10,
                   what="1m windows counting the 13 requests")

    def test_a_failing_server_counts_fails_unavail_and_downtime(self):
        refusing = self.refusing()
        added = self.api.add_server("be", {"server": refusing.addr, "max_fails": 1,
                                           "fail_timeout": "30s"})
        # round robin reaches it within three requests; each is retried on a working
        # server (proxy_next_upstream error), so every client gets its answer
        for i in range(3):
            self.assertEqual(http_get(self.port, "/f%d" % i).status, 200)
        p = self.api.peer_by_server("be", refusing.addr)
        self.assertEqual(p["id"], added["id"])
        self.assertEqual(p["state"], "unavail")
        self.assertEqual(p["fails"], 1)
        self.assertEqual(p["unavail"], 1)
        self.assertEqual(p["requests"], 1)
        self.assertEqual(p["responses"]["total"], 0)
        self.assertEqual(sum(q["responses"]["2xx"] for q in self.api.peers("be")), 3)
        # the collector notices the outage (once a second): downstart, then downtime grows
        p = wait_until(lambda: (lambda q: q if "downstart" in q else None)(
            self.api.peer_by_server("be", refusing.addr)), 5, what="downstart")
        self.assertRegex(p["downstart"], ISO_TIME_RE)
        wait_until(lambda: self.api.peer_by_server("be", refusing.addr)["downtime"] > 0, 5,
                   what="downtime > 0")
        self.assertTrue(self.px.wait_log(re.compile(
            r"\[error\] \d+#\d+: \*\d+ connect\(\) failed \(111: Connection refused\)")))

    def test_zombies_while_a_removed_server_finishes_a_request(self):
        slow = Background(lambda: http_get(self.port, "/slow?ms=2500", timeout=10))
        wait_until(lambda: any(b.in_flight for b in self.bes), 5, what="slow request in flight")
        busy = next(b for b in self.bes if b.in_flight)
        sid = self.api.server_id("be", busy.addr)
        self.assertEqual(self.api.peer_by_server("be", busy.addr)["active"], 1)
        remaining = self.api.remove_server("be", sid)
        self.assertNotIn(sid, [s["id"] for s in remaining])
        self.assertEqual(self.api.json("/http/upstreams/be")["zombies"], 1)
        self.assertTrue(slow.join(10))
        self.assertEqual(slow.result.status, 200, slow.result)
        wait_until(lambda: self.api.json("/http/upstreams/be")["zombies"] == 0, 5,
                   what="no zombie once the request finished")

    def test_delete_resets_the_statistics(self):
        self.send("/a", 6, 200)
        self.assertEqual(sum(p["requests"] for p in self.api.peers("be")), 6)
        r = self.api.delete("/http/upstreams/be")
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        for p in self.api.peers("be"):
            self.assertEqual(p["requests"], 0)
            self.assertEqual(p["responses"]["total"], 0)
            self.assertEqual(p["responses"]["2xx"], 0)
            self.assertEqual(p["responses"]["codes"], {})
            self.assertEqual(p["sent"], 0)
            self.assertEqual(p["received"], 0)
        self.send("/b", 4, 200)
        peers = self.api.peers("be")
        self.assertEqual(sum(p["requests"] for p in peers), 4)
        self.assertEqual(sum(p["responses"]["2xx"] for p in peers), 4)
        # the other group was not reset
        self.send("/fixed/x", 3, 200)
        self.assertEqual(self.api.peers("fixed")[0]["requests"], 3)


# -- servers: POST / PATCH / DELETE --------------------------------------------------------------


class ServersTest(ApiTestBase):
    def setUp(self):
        if is_nginx():
            self.skipTest(SKIP_NGINX)
        self.start(backends=3)  # b3 is not in the conf: the one to add
        self.b1, self.b2, self.b3 = self.bes
        self.servers_path = "/http/upstreams/be/servers"

    def test_get_servers(self):
        servers = self.api.servers("be")
        self.assertEqual([s["server"] for s in servers], [self.b1.addr, self.b2.addr])
        peers = {p["server"]: p["id"] for p in self.api.peers("be")}
        for s in servers:
            for field, kind in SERVER_FIELDS.items():
                self.assertIsInstance(s[field], kind, field)
            self.assertEqual(s["id"], peers[s["server"]])
            self.assertEqual(s["weight"], 1)
            self.assertEqual(s["max_conns"], 0)
            self.assertEqual(s["max_fails"], 1)
            self.assertEqual(s["fail_timeout"], "10s")
            self.assertEqual(s["slow_start"], "0s")
            self.assertEqual(s["route"], "")
            self.assertFalse(s["backup"])
            self.assertFalse(s["down"])
            self.assertNotIn("drain", s)
            one = self.api.get(self.servers_path + "/%d" % s["id"])
            self.assertEqual(one.status, 200, one)
            self.assertEqual(one.data, s)

    def test_post_adds_a_server_that_gets_traffic(self):
        r = self.api.post(self.servers_path, {"server": self.b3.addr})
        self.assertEqual(r.status, 201, r)
        new = r.data
        self.assertEqual(new["server"], self.b3.addr)
        self.assertEqual(new["weight"], 1)
        self.assertFalse(new["backup"])
        self.assertFalse(new["down"])
        ids = [s["id"] for s in self.api.servers("be")]
        self.assertEqual(ids[-1], new["id"])
        self.assertEqual(len(set(ids)), 3)
        self.assertEqual(self.api.get(self.servers_path + "/%d" % new["id"]).data, new)
        self.assertEqual(self.api.peer_by_server("be", self.b3.addr)["id"], new["id"])
        counts = spread(self.port, 30)
        self.assertEqual(counts, {"b1": 10, "b2": 10, "b3": 10})

    def test_post_with_a_chunked_body(self):
        body = ('{"server": "%s", "weight": 2}' % self.b3.addr).encode()
        chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, body[:10], len(body) - 10, body[10:])
        c = self.client(self.port)
        c.send(b"POST /api/9/http/upstreams/be/servers HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
        r = c.read_response()
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json()["server"], r.json()["weight"]), (self.b3.addr, 2))
        # the connection stays usable
        c.request("GET", "/api/9/http/upstreams/be/servers")
        self.assertEqual(len(c.read_response().json()), 3)

    def test_post_with_every_parameter(self):
        body = {"server": self.b3.addr, "weight": 4, "max_conns": 7, "max_fails": 3,
                "fail_timeout": "5s", "slow_start": "20s", "route": "r3", "down": True}
        r = self.api.post(self.servers_path, body)
        self.assertEqual(r.status, 201, r)
        for k, v in body.items():
            self.assertEqual(r.data[k], v, k)
        peer = self.api.peer_by_server("be", self.b3.addr)
        self.assertEqual(peer["state"], "down")
        self.assertEqual(peer["weight"], 4)
        self.assertEqual(peer["max_conns"], 7)
        # a down server gets nothing
        self.assertEqual(spread(self.port, 10), {"b1": 5, "b2": 5})
        # a backup server: shown as such, and its tier cannot change
        b4 = self.backend("b4")
        r = self.api.post(self.servers_path, {"server": b4.addr, "backup": True})
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.data["backup"])
        self.assertTrue(self.api.peer_by_server("be", b4.addr)["backup"])
        assert_api_error(self, self.api.patch(self.servers_path + "/%d" % r.data["id"],
                                              {"backup": False}), 400, "UpstreamServerImmutable")

    def test_patch_weight_and_traffic_follows(self):
        sid = self.api.server_id("be", self.b1.addr)
        r = self.api.patch(self.servers_path + "/%d" % sid, {"weight": 3})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.data["weight"], 3)
        self.assertEqual(r.data["id"], sid)
        self.assertEqual(self.api.peer_by_server("be", self.b1.addr)["weight"], 3)
        counts = spread(self.port, 400)
        self.assertEqual(sum(counts.values()), 400)
        self.assertGreaterEqual(counts.get("b1", 0), 240, counts)
        self.assertLessEqual(counts.get("b1", 0), 360, counts)
        # unchanged fields stay
        s = self.api.get(self.servers_path + "/%d" % sid).data
        self.assertEqual((s["max_fails"], s["fail_timeout"], s["down"]), (1, "10s", False))

    def test_patch_drain_stops_new_requests_and_undrain_resumes(self):
        sid = self.api.server_id("be", self.b1.addr)
        r = self.api.patch(self.servers_path + "/%d" % sid, {"drain": True})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.data["drain"])
        peer = self.api.peer_by_server("be", self.b1.addr)
        self.assertEqual(peer["state"], "draining")
        self.assertRegex(peer["draining_since"], ISO_TIME_RE)
        self.assertTrue(peer["drained"])  # nothing in flight
        before = len(self.b1.requests)
        self.assertEqual(spread(self.port, 20), {"b2": 20})
        self.assertEqual(len(self.b1.requests), before)
        r = self.api.patch(self.servers_path + "/%d" % sid, {"drain": False})
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("drain", r.data)
        self.assertEqual(self.api.peer_by_server("be", self.b1.addr)["state"], "up")
        self.assertEqual(spread(self.port, 20), {"b1": 10, "b2": 10})

    def test_patch_down_and_up(self):
        sid = self.api.server_id("be", self.b2.addr)
        self.assertTrue(self.api.change_server("be", sid, {"down": True})["down"])
        self.assertEqual(self.api.peer_by_server("be", self.b2.addr)["state"], "down")
        self.assertEqual(spread(self.port, 10), {"b1": 10})
        self.assertFalse(self.api.change_server("be", sid, {"down": False})["down"])
        self.assertEqual(self.api.peer_by_server("be", self.b2.addr)["state"], "up")
        self.assertEqual(spread(self.port, 10), {"b1": 5, "b2": 5})

    def test_patch_max_conns_and_route(self):
        sid = self.api.server_id("be", self.b1.addr)
        s = self.api.change_server("be", sid, {"max_conns": 1, "route": "r1"})
        self.assertEqual((s["max_conns"], s["route"]), (1, "r1"))
        self.assertEqual(self.api.peer_by_server("be", self.b1.addr)["max_conns"], 1)
        # the same server answered as it was read is accepted (NGINX Plus clients send
        # back what they got); id and server are not changes
        same = self.api.patch(self.servers_path + "/%d" % sid, s)
        self.assertEqual(same.status, 200, same)
        self.assertEqual(same.data, s)
        # b1 busy with one request: at max_conns=1 it gets no other
        slow = [Background(lambda: http_get(self.port, "/slow?ms=2000", timeout=10))]
        wait_until(lambda: self.b1.in_flight + self.b2.in_flight >= 1, 5, what="slow request")
        if not self.b1.in_flight:
            slow.append(Background(lambda: http_get(self.port, "/slow?ms=2000", timeout=10)))
            self.assertTrue(self.b1.wait_in_flight(1, 5))
        before = len(self.b1.requests)
        self.assertEqual(spread(self.port, 6), {"b2": 6})
        self.assertEqual(len(self.b1.requests), before)
        for bg in slow:
            self.assertTrue(bg.join(10))
            self.assertEqual(bg.result.status, 200, bg.result)

    def test_delete_removes_the_server(self):
        sid = self.api.server_id("be", self.b1.addr)
        r = self.api.delete(self.servers_path + "/%d" % sid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([s["server"] for s in r.data], [self.b2.addr])
        self.assertEqual(r.data, self.api.servers("be"))
        assert_api_error(self, self.api.get(self.servers_path + "/%d" % sid), 404,
                         "UpstreamServerNotFound")
        self.assertEqual([p["server"] for p in self.api.peers("be")], [self.b2.addr])
        before = len(self.b1.requests)
        self.assertEqual(spread(self.port, 10), {"b2": 10})
        self.assertEqual(len(self.b1.requests), before)
        # re-adding the address makes a new server with a new id
        new = self.api.add_server("be", {"server": self.b1.addr})
        self.assertNotEqual(new["id"], sid)

    def test_errors_change_nothing(self):
        p = self.servers_path
        sid = self.api.server_id("be", self.b1.addr)
        one = p + "/%d" % sid
        add = self.b3.addr
        cases = [
            ("malformed JSON", "POST", p, "{\"server\": ", 415, "JsonError"),
            ("not an object", "POST", p, "[1, 2]", 415, "JsonError"),
            ("empty body", "POST", p, "", 415, "JsonError"),
            ("unknown field", "POST", p, {"server": add, "bogus": 1}, 400,
             "UpstreamConfFormatError"),
            ("nested object", "POST", p, {"server": add, "weight": {"n": 2}}, 400,
             "UpstreamConfFormatError"),
            ("missing server", "POST", p, {"weight": 2}, 400, "UpstreamConfFormatError"),
            ("weight 0", "POST", p, {"server": add, "weight": 0}, 400, "UpstreamBadWeight"),
            ("negative weight", "POST", p, {"server": add, "weight": -1}, 400, "UpstreamBadWeight"),
            ("weight as string", "POST", p, {"server": add, "weight": "2"}, 400,
             "UpstreamBadWeight"),
            ("weight as float", "POST", p, {"server": add, "weight": 1.5}, 400, "UpstreamBadWeight"),
            ("negative max_fails", "POST", p, {"server": add, "max_fails": -1}, 400,
             "UpstreamBadMaxFails"),
            ("negative max_conns", "POST", p, {"server": add, "max_conns": -2}, 400,
             "UpstreamBadMaxConns"),
            ("bad fail_timeout", "POST", p, {"server": add, "fail_timeout": "soon"}, 400,
             "UpstreamBadFailTimeout"),
            ("fail_timeout as bool", "POST", p, {"server": add, "fail_timeout": True}, 400,
             "UpstreamBadFailTimeout"),
            ("bad slow_start", "POST", p, {"server": add, "slow_start": "-1s"}, 400,
             "UpstreamBadSlowStart"),
            ("route too long", "POST", p, {"server": add, "route": "r" * 33}, 400,
             "UpstreamBadRoute"),
            ("down as string", "POST", p, {"server": add, "down": "yes"}, 400,
             "UpstreamConfFormatError"),
            ("bad address", "POST", p, {"server": "no such host.invalid:80"}, 400,
             "UpstreamBadAddress"),
            ("bad port", "POST", p, {"server": "127.0.0.1:99999"}, 400, "UpstreamBadAddress"),
            ("port beyond int", "POST", p, {"server": "99999999999"}, 400, "UpstreamBadAddress"),
            ("v6 port beyond int", "POST", p, {"server": "[::1]:99999999999"}, 400,
             "UpstreamBadAddress"),
            ("bare port", "POST", p, {"server": "8080"}, 400, "UpstreamBadAddress"),
            ("wildcard host", "POST", p, {"server": "*:8080"}, 400, "UpstreamBadAddress"),
            ("empty address", "POST", p, {"server": ""}, 400, "UpstreamBadAddress"),
            ("route with a space", "POST", p, {"server": add, "route": "a b"}, 400,
             "UpstreamBadRoute"),
            ("route with a semicolon", "POST", p, {"server": add, "route": "a;b"}, 400,
             "UpstreamBadRoute"),
            ("address not a string", "POST", p, {"server": 80}, 400, "UpstreamBadAddress"),
            ("duplicate", "POST", p, {"server": self.b2.addr}, 409, "EntryExists"),
            ("PATCH malformed JSON", "PATCH", one, "{weight: 2}", 415, "JsonError"),
            ("PATCH unknown field", "PATCH", one, {"weight": 2, "colour": "red"}, 400,
             "UpstreamConfFormatError"),
            ("PATCH weight 0", "PATCH", one, {"weight": 0}, 400, "UpstreamBadWeight"),
            ("PATCH negative max_fails", "PATCH", one, {"max_fails": -3}, 400,
             "UpstreamBadMaxFails"),
            ("PATCH bad fail_timeout", "PATCH", one, {"fail_timeout": "1x"}, 400,
             "UpstreamBadFailTimeout"),
            ("PATCH backup", "PATCH", one, {"backup": True}, 400, "UpstreamServerImmutable"),
            ("PATCH address", "PATCH", one, {"server": add}, 400, "UpstreamServerImmutable"),
            ("PATCH id not a number", "PATCH", p + "/abc", {"weight": 2}, 400,
             "UpstreamBadServerId"),
            ("DELETE id beyond 18 digits", "DELETE", p + "/1234567890123456789", None, 400,
             "UpstreamBadServerId"),
            ("GET negative id", "GET", p + "/-1", None, 400, "UpstreamBadServerId"),
            ("PATCH unknown id", "PATCH", p + "/9999", {"weight": 2}, 404,
             "UpstreamServerNotFound"),
            ("DELETE unknown id", "DELETE", p + "/9999", None, 404, "UpstreamServerNotFound"),
            ("GET unknown id", "GET", p + "/9999", None, 404, "UpstreamServerNotFound"),
        ]
        before = self.api.servers("be")
        for name, method, path, body, status, code in cases:
            with self.subTest(name):
                if isinstance(body, str):
                    r = self.api.call(method, path, raw_body=body)
                else:
                    r = self.api.call(method, path, body=body)
                assert_api_error(self, r, status, code)
                self.assert_unchanged(before)
        self.assertEqual(spread(self.port, 10), {"b1": 5, "b2": 5})

    def test_a_group_without_zone_is_static(self):
        before = self.api.servers("be")
        fixed = self.api.json("/http/upstreams/fixed")["peers"]
        sid = fixed[0]["id"]
        for method, path, body in (
                ("POST", "/http/upstreams/fixed/servers", {"server": self.b3.addr}),
                ("PATCH", "/http/upstreams/fixed/servers/%d" % sid, {"weight": 2}),
                ("DELETE", "/http/upstreams/fixed/servers/%d" % sid, None)):
            with self.subTest(method):
                assert_api_error(self, self.api.call(method, path, body=body), 400,
                                 "UpstreamStatic")
        self.assertEqual(self.api.json("/http/upstreams/fixed")["peers"][0]["weight"], 1)
        self.assertEqual(len(self.api.json("/http/upstreams/fixed")["peers"]), 1)
        self.assert_unchanged(before)

    def test_writes_are_disabled_without_write_on(self):
        ro = Api(self.port, prefix="/ro-api")
        before = self.api.servers("be")
        sid = before[0]["id"]
        self.assertEqual(ro.servers("be"), before)  # reads work
        self.assertEqual(ro.json("/nginx")["pid"], self.px.pid)
        cases = [("POST", "/http/upstreams/be/servers", {"server": self.b3.addr}),
                 ("PATCH", "/http/upstreams/be/servers/%d" % sid, {"weight": 5}),
                 ("DELETE", "/http/upstreams/be/servers/%d" % sid, None),
                 ("DELETE", "/http/upstreams/be", None),
                 ("DELETE", "/http/server_zones", None),
                 ("DELETE", "/http/location_zones", None)]
        http_get(self.port, "/traffic")
        stats = self.api.peers("be")
        for method, path, body in cases:
            with self.subTest(method + " " + path):
                assert_api_error(self, ro.call(method, path, body=body), 405, "MethodDisabled")
        self.assert_unchanged(before)
        self.assertEqual(sum(p["requests"] for p in self.api.peers("be")),
                         sum(p["requests"] for p in stats))

    def test_successful_writes_are_logged_at_notice_with_the_client(self):
        # a failed write first, then successful ones
        assert_api_error(self, self.api.post(self.servers_path, {"server": self.b3.addr,
                                                                 "weight": 0}),
                         400, "UpstreamBadWeight")
        new = self.api.add_server("be", {"server": self.b3.addr})
        sid = new["id"]
        self.api.change_server("be", sid, {"weight": 2})
        self.api.remove_server("be", sid)
        self.assertEqual(self.api.delete("/http/upstreams/be").status, 204)
        addr = re.escape(self.b3.addr)
        lines = [
            r"\[notice\] \d+#\d+: api: server %s \(id %d\) added to upstream \"be\", "
            r"client: 127\.0\.0\.1" % (addr, sid),
            r"\[notice\] \d+#\d+: api: server %s \(id %d\) of upstream \"be\" changed, "
            r"client: 127\.0\.0\.1" % (addr, sid),
            r"\[notice\] \d+#\d+: api: server %s \(id %d\) removed from upstream \"be\", "
            r"client: 127\.0\.0\.1" % (addr, sid),
            r"\[notice\] \d+#\d+: api: statistics of upstream \"be\" reset, client: 127\.0\.0\.1",
        ]
        for line in lines:
            self.assertTrue(self.px.wait_log(re.compile(line)), (line, self.px.error_log()))
        # the failed POST changed nothing, so it logged no change: one "added" line only
        self.assertEqual(len(re.findall(r"api: server %s \(id \d+\) added" % addr,
                                        self.px.error_log())), 1)

    def test_zone_resets_are_logged_at_notice(self):
        r = self.api.delete("/http/server_zones")
        self.assertEqual(r.status, 204, r)
        # a later write that is logged: the positive signal that the log is written
        self.assertEqual(self.api.delete("/http/upstreams/be").status, 204)
        self.assertTrue(self.px.wait_log("statistics of upstream \"be\" reset"))
        zone_reset = re.compile(r"\[notice\] \d+#\d+: api: [^\n]*zone[^\n]* reset[^\n]*"
                                r"client: 127\.0\.0\.1")
        self.assertRegex(self.px.error_log(), zone_reset)

    def test_hostnames_in_server_are_resolved(self):
        name = "localhost:%d" % self.b3.port
        r = self.api.post(self.servers_path, {"server": name})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.data["server"], name)
        added = [s for s in self.api.servers("be") if s["server"] == name]
        self.assertGreaterEqual(len(added), 1)
        peers = [p for p in self.api.peers("be") if p["name"] == name]
        self.assertEqual(len(peers), len(added))
        # NGINX Plus: "server" is the resolved address, "name" what was given
        self.assertIn(self.b3.addr, [p["server"] for p in peers])
        before = len(self.b3.requests)
        counts = spread(self.port, 30)
        self.assertGreaterEqual(counts.get("b3", 0), 30 // (2 + len(peers)))
        self.assertEqual(len(self.b3.requests) - before, counts.get("b3", 0))
        # the same name again is a duplicate
        assert_api_error(self, self.api.post(self.servers_path, {"server": name}), 409,
                         "EntryExists")


# -- changes under load ------------------------------------------------------------------------


class ServersUnderLoadTest(ApiTestBase):
    def setUp(self):
        if is_nginx():
            self.skipTest(SKIP_NGINX)
        conf = CONF.replace("server @B2@;", "server @B2@;\n        server @B3@;")
        self.start(conf, backends=4)  # b4: added at run time

    def test_add_reweight_drain_remove_under_load_fail_no_request(self):
        b1, b2, b3, b4 = self.bes
        # each request holds its server for a few milliseconds, so changes land while
        # requests are in flight
        load = LoadLoop(self.port, path="/slow?ms=3", clients=2).start()
        self.addCleanup(load.stop)
        try:
            load.wait_total(150)
            b4_id = self.api.add_server("be", {"server": b4.addr})["id"]
            load.wait_backend("b4", 50)
            self.api.change_server("be", self.api.server_id("be", b1.addr), {"weight": 3})
            load.wait_backend("b1", 90)
            b2_id = self.api.server_id("be", b2.addr)
            self.api.change_server("be", b2_id, {"drain": True})
            load.wait_backend("b4", 50)
            self.api.remove_server("be", b2_id)
            load.wait_backend("b3", 50)
            b1_id = self.api.server_id("be", b1.addr)
            self.api.remove_server("be", b1_id)  # not drained first: still busy
            at_removal = len(b1.requests)
            self.api.change_server("be", b4_id, {"weight": 2})
            load.wait_backend("b4", 100)
            load.wait_backend("b3", 50)
        finally:
            load.stop()
        self.assertEqual((load.errors, load.bad), (0, 0), load.problems)
        self.assertGreater(load.ok, 500)
        # after its removal b1 finished at most the requests it had in flight
        self.assertLessEqual(len(b1.requests) - at_removal, 2)
        self.assertEqual([s["server"] for s in self.api.servers("be")], [b3.addr, b4.addr])
        wait_until(lambda: self.api.json("/http/upstreams/be")["zombies"] == 0, 5,
                   what="zombies gone")


# -- reload and restart ------------------------------------------------------------------------


class PersistenceTest(ApiTestBase):
    def setUp(self):
        if is_nginx():
            self.skipTest(SKIP_NGINX)

    def reload(self, px, api, conf_text):
        gen = api.generation()
        px.write_conf(conf_text)
        px.signal(signal.SIGHUP)
        wait_until(lambda: api.generation() == gen + 1, 10, what="reload (generation + 1)")

    def test_runtime_changes_survive_a_reload_with_zone(self):
        self.start(backends=3)
        b1, b2, b3 = self.bes
        added = self.api.add_server("be", {"server": b3.addr, "weight": 2})
        b1_id = self.api.server_id("be", b1.addr)
        self.api.change_server("be", b1_id, {"drain": True})
        before = self.api.servers("be")
        # a real change of the conf: one more location
        conf = fill(CONF.replace("location / {", "location /more/ { proxy_pass http://be; }\n"
                                                 "        location / {"),
                    PORT=self.port, B1=b1.addr, B2=b2.addr)
        self.reload(self.px, self.api, conf)
        after = self.api.servers("be")
        self.assertEqual(after, before)
        self.assertIn(added, after)
        self.assertTrue(next(s for s in after if s["id"] == b1_id)["drain"])
        self.assertEqual(self.api.peer_by_server("be", b1.addr)["state"], "draining")
        counts = spread(self.port, 30, path="/more/x")
        self.assertEqual(counts, {"b2": 10, "b3": 20})
        # the group without zone is still static
        assert_api_error(self, self.api.post("/http/upstreams/fixed/servers",
                                             {"server": b3.addr}), 400, "UpstreamStatic")

    def test_state_file_keeps_api_servers_across_a_restart(self):
        b1, b2, b3 = (self.backend("s%d" % i) for i in (1, 2, 3))
        state_dir = writable_tempdir("tidegate-state-")
        self.addCleanup(shutil.rmtree, state_dir, True)
        state = os.path.join(state_dir, "dyn.state")
        port = free_port()
        conf = fill("""
http {
    access_log off;
    upstream dyn {
        zone dyn 64k;
        state @STATE@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /api { api write=on; }
        location / { proxy_pass http://dyn; }
    }
}
""", PORT=port, STATE=state)
        px1 = self.proxy(conf)
        api = Api(port)
        self.assertEqual(api.servers("dyn"), [])
        api.add_server("dyn", {"server": b1.addr, "weight": 2})
        api.add_server("dyn", {"server": b2.addr, "max_conns": 4, "route": "r2",
                               "slow_start": "30s", "drain": True})
        tmp = api.add_server("dyn", {"server": b3.addr})
        api.remove_server("dyn", tmp["id"])
        wanted = api.servers("dyn")
        self.assertEqual(len(wanted), 2)
        with open(state) as f:
            text = f.read()
        lines = text.splitlines()
        self.assertEqual(len(lines), 2, text)
        server_line = re.compile(r"^server 127\.0\.0\.1:\d+((?: [a-z_]+=[^ ;]+| backup| down| drain)*);$")
        for line in lines:
            self.assertRegex(line, server_line)
        self.assertTrue(lines[0].startswith("server %s " % b1.addr), text)
        self.assertIn(" weight=2", lines[0])
        self.assertTrue(lines[1].startswith("server %s " % b2.addr), text)
        for part in (" max_conns=4", " route=r2", " slow_start=30s", " drain"):
            self.assertIn(part, lines[1])
        self.assertNotIn(b3.addr, text)
        # the file is nginx's server-line syntax: the binary's own parser takes it
        check_conf = os.path.join(state_dir, "check.conf")
        with open(check_conf, "w") as f:
            f.write("events {}\nhttp { upstream u { zone u 64k;\n%s} }\n" % text)
        rc, out, err = run_cli(["-t", "-p", state_dir + "/", "-c", check_conf,
                                "-e", os.path.join(state_dir, "check.log")])
        self.assertEqual(rc, 0, out + err)

        # a reload reads the file again: the same servers, ids and settings
        gen = api.generation()
        px1.signal(signal.SIGHUP)
        wait_until(lambda: api.generation() == gen + 1, 10, what="reload (generation + 1)")
        self.assertEqual(api.servers("dyn"), wanted)

        # a full restart: stop this process, start a new one with the same conf
        px1.stop()
        self.assertTrue(px1.wait_exit(10))
        px2 = self.proxy(conf)
        self.assertNotEqual(px2.pid, px1.pid)
        got = api.servers("dyn")
        strip = lambda ss: [{k: v for k, v in s.items() if k != "id"} for s in ss]  # noqa: E731
        self.assertEqual(strip(got), strip(wanted))
        self.assertEqual(api.peer_by_server("dyn", b2.addr)["state"], "draining")
        before = len(b2.requests)
        counts = spread(port, 10)
        self.assertEqual(counts, {"s1": 10})
        self.assertEqual(len(b2.requests), before)
        # changes of the new process update the file
        api.remove_server("dyn", api.server_id("dyn", b1.addr))
        with open(state) as f:
            rest = f.read().splitlines()
        self.assertEqual(len(rest), 1)
        self.assertTrue(rest[0].startswith("server %s " % b2.addr), rest)

    def test_state_file_that_cannot_be_written_keeps_the_old_one(self):
        # The change is made (the API answers as without a state file) and an
        # [alert] names the file; the old file is left whole, no temporary remains.
        b1, b2 = self.backend("s1"), self.backend("s2")
        state_dir = writable_tempdir("tidegate-state-")
        self.addCleanup(shutil.rmtree, state_dir, True)
        state = os.path.join(state_dir, "dyn.state")
        with open(state, "w") as f:
            f.write("server %s;\n" % b1.addr)
        port = free_port()
        px = self.proxy(fill("""
http {
    access_log off;
    upstream dyn { zone dyn 64k; state @STATE@; }
    server {
        listen 127.0.0.1:@PORT@;
        location /api { api write=on; }
    }
}
""", PORT=port, STATE=state))
        api = Api(port)
        # the temporary file's name is taken by a directory: open() fails (root too)
        os.mkdir(state + ".tmp")
        api.add_server("dyn", {"server": b2.addr})
        self.assertEqual([x["server"] for x in api.servers("dyn")], [b1.addr, b2.addr])
        with open(state) as f:
            self.assertEqual(f.read(), "server %s;\n" % b1.addr)
        self.assertTrue(px.wait_log(re.compile(r"\[alert\] \d+#\d+: open\(\) \"%s\.tmp\" failed "
                                               r"\(21: Is a directory\)" % re.escape(state))),
                        px.error_log())

    def test_state_refuses_server_lines_and_needs_zone(self):
        d = writable_tempdir("tidegate-state-")
        self.addCleanup(shutil.rmtree, d, True)
        for body, message in (
                ("zone u 64k; state %s/u.state; server 127.0.0.1:1;" % d,
                 "\"state\" directive is incompatible with \"server\""),
                ("state %s/u.state;" % d, "\"state\" directive requires \"zone\"")):
            with self.subTest(message):
                path = os.path.join(d, "t.conf")
                with open(path, "w") as f:
                    f.write("events {}\nhttp { upstream u { %s } }\n" % body)
                rc, out, err = run_cli(["-t", "-p", d + "/", "-c", path, "-e",
                                        os.path.join(d, "t.log")])
                self.assertNotEqual(rc, 0)
                self.assertIn(message, out + err)


# -- allow / deny and auth_basic on the API location ---------------------------------------------

ACCESS_CONF = """
http {
    access_log off;
    upstream be {
        zone be 64k;
        server @B1@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /api { api write=on; }
        location /denied-api { deny all; api write=on; }
        location /local-api { allow 127.0.0.1; deny all; api write=on; }
        location /other-api { allow 10.0.0.0/8; deny all; api; }
        location /deny-local-api { deny 127.0.0.0/8; allow all; api; }
        location /auth-api {
            auth_basic "Admin API";
            auth_basic_user_file @PREFIX@/htpasswd;
            api write=on;
        }
        location / { proxy_pass http://be; }
    }
}
"""


def apr1_hash(password):
    r = subprocess.run(["openssl", "passwd", "-apr1", password], capture_output=True, timeout=10,
                       check=True)
    return r.stdout.decode().strip()


def sha512_crypt_hash(password):
    r = subprocess.run(["openssl", "passwd", "-6", password], capture_output=True, timeout=10,
                       check=True)
    return r.stdout.decode().strip()


def sha_hash(password):
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


def basic(user, password):
    return [("Authorization", "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode())
             .decode())]


class AccessTest(ApiTestBase):
    def setUp(self):
        if is_nginx():
            self.skipTest(SKIP_NGINX)

    def test_deny_all_forbids_the_api(self):
        self.start(ACCESS_CONF, backends=1)
        r = http_get(self.port, "/denied-api/9/nginx")
        self.assertEqual(r.status, 403, r)
        # a denied write changes nothing
        before = self.api.servers("be")
        r = http_request(self.port, "POST", "/denied-api/9/http/upstreams/be/servers",
                         body=b'{"server": "127.0.0.1:1"}',
                         headers=[("Content-Type", "application/json")])
        self.assertEqual(r.status, 403, r)
        self.assertEqual(self.api.servers("be"), before)
        self.assertTrue(self.px.wait_log(re.compile(
            r"\[error\] \d+#\d+: \*\d+ access forbidden by rule, client: 127\.0\.0\.1, server: , "
            r"request: \"GET /denied-api/9/nginx HTTP/1\.1\"")))

    def test_allow_and_deny_by_address(self):
        self.start(ACCESS_CONF, backends=1)
        first = http_get(self.port, "/local-api/9/nginx")
        self.assertEqual(first.status, 200, first)
        self.assertEqual(first.json()["pid"], self.px.pid)
        for prefix, status in {"/other-api": 403, "/deny-local-api": 403}.items():
            with self.subTest(prefix):
                r = http_get(self.port, prefix + "/9/nginx")
                self.assertEqual(r.status, status, r)
        local = Api(self.port, "/local-api")
        self.assertEqual(local.add_server("be", {"server": "127.0.0.1:1", "down": True})["server"],
                         "127.0.0.1:1")

    def test_auth_basic(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed (needed for $apr1$ and $6$ hashes)")
        htpasswd = "alice:%s\nbob:%s\ncarol:%s\n" % (apr1_hash("wonderland"), sha_hash("builder"),
                                                     sha512_crypt_hash("carol's secret"))
        self.port = free_port()
        b1 = self.backend("b1")
        self.px = self.proxy(fill(ACCESS_CONF, PORT=self.port, B1=b1.addr),
                             files={"htpasswd": htpasswd})
        path = "/auth-api/9/nginx"
        for name, headers in (("no credentials", None),
                              ("wrong password", basic("alice", "rabbit")),
                              ("wrong SHA password", basic("bob", "wonderland")),
                              ("unknown user", basic("mallory", "wonderland")),
                              ("not basic", [("Authorization", "Bearer abc")])):
            with self.subTest(name):
                r = http_get(self.port, path, headers=headers)
                self.assertEqual(r.status, 401, r)
                self.assertEqual(r.header("www-authenticate"), 'Basic realm="Admin API"')
        for user, password in (("alice", "wonderland"), ("bob", "builder"),
                               ("carol", "carol's secret")):
            with self.subTest(user):
                r = http_get(self.port, path, headers=basic(user, password))
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["pid"], self.px.pid)
        # writes need the credentials too
        authed = Api(self.port, "/auth-api", headers=basic("alice", "wonderland"))
        before = authed.servers("be")
        r = http_request(self.port, "POST", "/auth-api/9/http/upstreams/be/servers",
                         body=b'{"server": "127.0.0.1:1"}',
                         headers=[("Content-Type", "application/json")])
        self.assertEqual(r.status, 401, r)
        self.assertEqual(authed.servers("be"), before)
        self.assertEqual(authed.add_server("be", {"server": "127.0.0.1:1", "down": True})["server"],
                         "127.0.0.1:1")
        self.assertTrue(self.px.wait_log('user "alice": password mismatch'))
        self.assertTrue(self.px.wait_log('user "mallory" was not found in'))


# -- status zones ------------------------------------------------------------------------------

ZONES_CONF = """
http {
    access_log off;
    upstream be {
        zone be 64k;
        server @B1@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        status_zone front;
        location /api { api write=on; }
        location /app/ { status_zone app; proxy_pass http://be/; }
        location / { proxy_pass http://be; }
    }
}
"""


class StatusZonesTest(ApiTestBase):
    def setUp(self):
        if is_nginx():
            self.skipTest(SKIP_NGINX)
        self.start(ZONES_CONF, backends=1)

    def test_a_zone_that_leaves_and_comes_back_starts_from_zero(self):
        for i in range(4):
            self.assertEqual(http_get(self.port, "/app/x").status, 200)
        self.assertEqual(self.api.delete("/http/location_zones/app").status, 204)
        text = fill(ZONES_CONF, PORT=self.port, B1=self.bes[0].addr)
        for conf in (text.replace("status_zone app; ", ""), text):
            gen = self.api.generation()
            self.px.write_conf(conf)
            self.px.signal(signal.SIGHUP)
            wait_until(lambda: self.api.generation() == gen + 1, 10, what="reload")
        self.assertEqual(http_get(self.port, "/app/y").status, 200)
        app = self.api.json("/http/location_zones/app")
        self.assertEqual((app["requests"], app["responses"]["total"]), (1, 1))

    def test_zones_count_requests_and_delete_resets(self):
        bodies = 0
        for i in range(6):
            r = http_request(self.port, "POST", "/app/x%d" % i, body=b"p" * 100)
            self.assertEqual(r.status, 200, r)
            bodies += len(r.body)
        for i in range(2):
            self.assertEqual(http_get(self.port, "/app/status/404").status, 404)
        self.assertEqual(http_get(self.port, "/elsewhere").status, 200)

        server_zones = self.api.json("/http/server_zones")
        self.assertEqual(set(server_zones), {"front"})
        front = server_zones["front"]
        self.assertEqual(set(front), {"processing", "requests", "responses", "discarded",
                                      "received", "sent"})
        self.assertGreaterEqual(front["processing"], 1)  # this API request
        # 9 proxied requests and the first API request (this one may not count yet)
        self.assertGreaterEqual(front["requests"], 9)
        self.assertGreaterEqual(front["responses"]["2xx"], 7)
        self.assertEqual(front["responses"]["4xx"], 2)
        self.assertGreater(front["sent"], bodies)
        self.assertGreater(front["received"], 600)

        zones = self.api.json("/http/location_zones")
        self.assertEqual(set(zones), {"app"})
        app = zones["app"]
        self.assertEqual(set(app), {"requests", "responses", "discarded", "received", "sent"})
        self.assertEqual(app["requests"], 8)
        self.assertEqual(app["responses"]["2xx"], 6)
        self.assertEqual(app["responses"]["4xx"], 2)
        self.assertEqual(app["responses"]["codes"], {"200": 6, "404": 2})
        self.assertEqual(app["responses"]["total"], 8)
        self.assertEqual(app["discarded"], 0)
        self.assertGreater(app["sent"], bodies)
        self.assertGreater(app["received"], 600)  # 6 bodies of 100 bytes and the heads
        self.assertEqual(self.api.json("/http/location_zones/app"), self.api.json(
            "/http/location_zones/app/"))
        assert_api_error(self, self.api.get("/http/location_zones/nope"), 404,
                         "LocationZoneNotFound")
        assert_api_error(self, self.api.get("/http/server_zones/nope"), 404, "ServerZoneNotFound")

        r = self.api.delete("/http/location_zones/app")
        self.assertEqual(r.status, 204, r)
        app = self.api.json("/http/location_zones/app")
        self.assertEqual((app["requests"], app["responses"]["total"], app["sent"], app["received"]),
                         (0, 0, 0, 0))
        for i in range(3):
            self.assertEqual(http_get(self.port, "/app/again").status, 200)
        app = self.api.json("/http/location_zones/app")
        self.assertEqual(app["requests"], 3)
        self.assertEqual(app["responses"]["2xx"], 3)

        r = self.api.delete("/http/server_zones")
        self.assertEqual(r.status, 204, r)
        front = self.api.json("/http/server_zones/front")
        # counted since the reset: at most the DELETE itself
        self.assertLessEqual(front["requests"], 1)
        self.assertEqual(front["responses"]["4xx"], 0)


if __name__ == "__main__":
    unittest.main()
