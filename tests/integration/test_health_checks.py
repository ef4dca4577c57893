"""Active health checks (NGINX Plus's `health_check` and `match`): real backends that
flip between healthy and failing (status, header, body, hang, refuse), detection
within interval x fails plus the timeout, no request to an unhealthy server after
detection, recovery after `passes`, `mandatory` servers added through the API,
`type=tcp`, NGINX Plus's log lines, and the API's `health_checks` counters.

A tidegate extension of nginx OSS (NGINX Plus's module): every test skips under nginx."""

import os
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.admin_client import Api, parse_prometheus, sample, wait_until  # noqa: E402
from tests.support.harness import (IntegrationTest, fill, free_port, http_get, is_nginx,  # noqa: E402
                                   make_prefix, run_cli)

CONF = """
http {
    access_log off;
    match body_ok {
        status 200;
        header Content-Type ~ ^text/;
        body ~ "^ok";
    }
    upstream app {
        zone app 64k;
        server @B1@;
        server @B2@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /api { api write=on; }
        location = /metrics { prometheus; }
        location / {
            proxy_pass http://app;
            health_check interval=200ms fails=2 passes=2 uri=/health @HC@;
        }
    }
}
"""

OK = (200, [("Content-Type", "text/plain")], b"ok")


class HealthCheckTest(IntegrationTest):
    def setUp(self):
        if is_nginx():
            self.skipTest("NGINX Plus's health_check / tidegate")

    def start(self, hc="", backends=2, conf=CONF, health=None, **values):
        self.port = free_port()
        self.bes = [self.backend("b%d" % (i + 1)) for i in range(backends)]
        for i, b in enumerate(self.bes):
            values.setdefault("B%d" % (i + 1), b.addr)
            if health is not None:
                b.health_reply = health
        self.px = self.proxy(fill(conf, PORT=self.port, HC=hc, **values))
        self.api = Api(self.port)

    def state(self, b):
        return self.api.peer_by_server("app", b.addr)["state"]

    def wait_state(self, b, state, timeout=5.0):
        wait_until(lambda: self.state(b) == state, timeout,
                   what="%s %s (errors: %s)" % (b.addr, state, self.px.error_log()[-2000:]))

    def proxied(self, b):
        """Requests of clients (not of the checker) that reached backend ``b``."""
        return [r for r in b.requests if r.path != "/health"]

    def send(self, n):
        got = {}
        for _ in range(n):
            r = http_get(self.port, "/x")
            self.assertEqual(r.status, 200, r)
            got[r.header("x-backend")] = got.get(r.header("x-backend"), 0) + 1
        return got

    def test_a_failing_server_leaves_and_comes_back_after_passes(self):
        self.start()
        b1, b2 = self.bes
        wait_until(lambda: b2.health_requests >= 2, 5, what="checks reaching b2")
        self.assertEqual(self.send(10), {"b1": 5, "b2": 5})
        b2.health_reply = (500, [], b"down")
        self.assertTrue(self.px.wait_log(
            'peer is unhealthy while checking status code of upstream, health check "/health" '
            'of peer %s in upstream "app"' % b2.addr), self.px.error_log())
        self.assertIn("[warn]", [line for line in self.px.error_log().splitlines()
                                 if "peer is unhealthy" in line][0])
        self.wait_state(b2, "unhealthy")
        before = len(self.proxied(b2))
        self.assertEqual(self.send(10), {"b1": 10})
        self.assertEqual(len(self.proxied(b2)), before)
        peer = self.api.peer_by_server("app", b2.addr)
        hc = peer["health_checks"]
        self.assertGreaterEqual(hc["fails"], 2)
        self.assertEqual(hc["unhealthy"], 1)
        self.assertIs(hc["last_passed"], False)
        self.assertGreaterEqual(hc["checks"], hc["fails"])
        # check traffic is not request traffic
        self.assertEqual(peer["requests"], 5)
        samples, _, _ = parse_prometheus(http_get(self.port, "/metrics").text)
        labels = {"upstream": "app", "server": b2.addr}
        self.assertEqual(sample(samples, "nginxplus_upstream_server_health_checks_unhealthy",
                                **labels), 1)
        self.assertGreaterEqual(sample(samples, "nginxplus_upstream_server_health_checks_fails",
                                       **labels), 2)
        self.assertEqual(sample(samples, "nginxplus_upstream_server_state", **labels), 6)
        b2.health_reply = OK
        self.assertTrue(self.px.wait_log("peer is healthy while checking status code of upstream, "
                                         'health check "/health" of peer %s' % b2.addr), self.px.error_log())
        self.wait_state(b2, "up")
        self.assertIs(self.api.peer_by_server("app", b2.addr)["health_checks"]["last_passed"], True)
        self.assertEqual(self.send(10), {"b1": 5, "b2": 5})

    def test_match_tests_headers_and_body(self):
        self.start(hc="match=body_ok", health=OK)
        b1, b2 = self.bes
        wait_until(lambda: b2.health_requests >= 2, 5, what="checks reaching b2")
        self.assertEqual(self.state(b2), "up")
        b2.health_reply = (200, [("Content-Type", "application/json")], b"ok")
        self.assertTrue(self.px.wait_log("peer is unhealthy while checking headers of upstream, "
                                         "health check \"/health\" of peer %s" % b2.addr))
        b2.health_reply = OK
        self.wait_state(b2, "up")
        b2.health_reply = (200, [("Content-Type", "text/plain")], b"maintenance")
        self.assertTrue(self.px.wait_log("peer is unhealthy while checking body of upstream, "
                                         "health check \"/health\" of peer %s" % b2.addr))
        self.assertEqual(self.state(b1), "up")

    def test_a_hung_server_fails_by_the_timeout(self):
        self.start(hc="timeout=300ms")
        b1, b2 = self.bes
        b2.health_reply = "hang"
        self.assertTrue(self.px.wait_log(
            "upstream timed out (110: Connection timed out) while reading response header from "
            "upstream, health check \"/health\" of peer %s" % b2.addr), self.px.error_log())
        self.wait_state(b2, "unhealthy")
        self.assertEqual(self.state(b1), "up")

    def test_type_tcp_only_connects(self):
        dead = self.refusing()
        self.start(hc="type=tcp", B2=dead.addr, backends=1)
        b1 = self.bes[0]
        self.assertTrue(self.px.wait_log(
            "connect() failed (111: Connection refused) while connecting to upstream, "
            "health check \"/health\" of peer %s" % dead.addr), self.px.error_log())
        self.assertTrue(self.px.wait_log("peer is unhealthy while connecting to upstream"))
        wait_until(lambda: self.api.peer_by_server("app", dead.addr)["state"] == "unhealthy", 5,
                   what="the refusing server unhealthy")
        time.sleep(0.5)
        self.assertEqual(self.api.peer_by_server("app", b1.addr)["state"], "up")
        self.assertGreater(self.api.peer_by_server("app", b1.addr)["health_checks"]["checks"], 1)
        self.assertEqual(b1.health_requests, 0)  # a TCP check sends nothing
        # every request goes to the live one, none fails over first
        self.assertEqual(self.send(6), {"b1": 6})
        self.assertEqual(self.api.peer_by_server("app", dead.addr)["requests"], 0)

    def test_every_check_of_a_group_must_pass_and_draining_servers_are_checked(self):
        conf = CONF.replace("        location / {", "        location /second {\n"
                            "            proxy_pass http://app;\n"
                            "            health_check interval=200ms uri=/second/health;\n"
                            "        }\n        location / {")
        self.start(conf=conf)
        b1, b2 = self.bes
        wait_until(lambda: b2.health_requests >= 2, 5, what="checks of b2")
        self.assertEqual(self.state(b2), "up")
        # b2 fails only the second check: /health still answers 200, every other path 500
        b2.error_status = 500
        self.assertTrue(self.px.wait_log('peer is unhealthy while checking status code of upstream, '
                                         'health check "/second/health" of peer %s' % b2.addr),
                        self.px.error_log())
        self.wait_state(b2, "unhealthy")
        b2.error_status = None
        self.wait_state(b2, "up")
        # a draining server goes on being checked
        sid = self.api.server_id("app", b1.addr)
        self.api.call("PATCH", "/http/upstreams/app/servers/%d" % sid, body={"drain": True})
        before = b1.health_requests
        wait_until(lambda: b1.health_requests >= before + 3, 5, what="checks of draining b1")
        self.assertEqual(self.state(b1), "draining")

    def test_keepalive_time_reuses_one_connection(self):
        self.start(hc="keepalive_time=60s interval=100ms")
        b1, b2 = self.bes
        wait_until(lambda: b1.health_requests >= 6, 5, what="six checks of b1")
        self.assertEqual(b1.connections, 1)
        self.assertEqual(b2.connections, 1)
        http10 = [r for r in b1.requests if r.path == "/health" and r.version != "HTTP/1.1"]
        self.assertEqual(http10, [])
        self.assertEqual(self.state(b1), "up")

    def test_mandatory_servers_get_no_request_until_they_pass(self):
        self.start(hc="mandatory", backends=3, B3="")
        b1, b2, b3 = self.bes
        wait_until(lambda: self.state(b1) == "up" and self.state(b2) == "up", 5,
                   what="the conf's servers passing their first check")
        b3.health_reply = (503, [], b"starting")
        sid = self.api.add_server("app", {"server": b3.addr})["id"]
        # checking, then unhealthy after its first (failed) check; never picked
        seen = set()
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            seen.add(self.api.json("/http/upstreams/app/servers/%d" % sid) and self.state(b3))
            self.send(4)
        self.assertLessEqual(seen, {"checking", "unhealthy"})
        self.assertEqual(self.state(b3), "unhealthy")
        self.assertEqual(self.proxied(b3), [])
        # failing its first check is becoming unhealthy: logged and counted
        self.assertTrue(self.px.wait_log("peer is unhealthy while checking status code of "
                                         "upstream, health check \"/health\" of peer %s" % b3.addr))
        self.assertEqual(self.api.peer_by_server("app", b3.addr)["health_checks"]["unhealthy"], 1)
        b3.health_reply = OK
        self.wait_state(b3, "up")
        got = self.send(9)
        self.assertEqual(got.get("b3"), 3, got)

    def test_a_new_server_is_checking_before_its_first_check(self):
        self.start(hc="mandatory interval=60s", backends=3, B3="")
        b1, b2, b3 = self.bes
        wait_until(lambda: self.state(b1) == "up" and self.state(b2) == "up", 5,
                   what="b1 and b2 up")
        b3.health_reply = "hang"  # its first check never ends within this test
        self.api.add_server("app", {"server": b3.addr})
        self.assertEqual(self.state(b3), "checking")
        self.assertEqual(self.send(6), {"b1": 3, "b2": 3})
        self.assertEqual(self.proxied(b3), [])

    def test_servers_keep_their_state_across_a_reload_with_persistent(self):
        self.start(hc="mandatory persistent")
        b1, b2 = self.bes
        b2.health_reply = (500, [], b"")
        self.wait_state(b2, "unhealthy")
        self.wait_state(b1, "up")
        # b1's checks after the reload never end: only `persistent` keeps it up
        b1.health_reply = "hang"
        gen = self.api.json("/nginx")["generation"]
        self.px.write_conf(fill(CONF, PORT=self.port, HC="mandatory persistent timeout=30s",
                                B1=b1.addr, B2=b2.addr))
        self.px.signal(signal.SIGHUP)
        wait_until(lambda: self.api.json("/nginx")["generation"] == gen + 1, 10, what="reload")
        # persistent: no `checking` window after the reload for the healthy server; the
        # unhealthy one is checked again (one pass would bring it back)
        self.assertEqual(self.state(b1), "up")
        self.assertIn(self.state(b2), ("checking", "unhealthy"))
        self.assertEqual(self.send(4), {"b1": 4})

    def test_without_persistent_a_reload_checks_again(self):
        self.start(hc="mandatory")
        b1, b2 = self.bes
        self.wait_state(b1, "up")
        b1.health_reply = "hang"  # the next first check does not end
        gen = self.api.json("/nginx")["generation"]
        self.px.write_conf(fill(CONF, PORT=self.port, HC="mandatory timeout=30s", B1=b1.addr,
                                B2=b2.addr))
        self.px.signal(signal.SIGHUP)
        wait_until(lambda: self.api.json("/nginx")["generation"] == gen + 1, 10, what="reload")
        self.assertEqual(self.state(b1), "checking")
        self.wait_state(b2, "up")
        self.assertEqual(self.send(4), {"b2": 4})

    def test_removing_health_check_at_reload_lets_unhealthy_servers_back(self):
        self.start()
        b1, b2 = self.bes
        b2.health_reply = (500, [], b"")
        self.wait_state(b2, "unhealthy")
        gen = self.api.json("/nginx")["generation"]
        self.px.write_conf(fill(CONF.replace("health_check", "# health_check"), PORT=self.port,
                                HC="", B1=b1.addr, B2=b2.addr))
        self.px.signal(signal.SIGHUP)
        wait_until(lambda: self.api.json("/nginx")["generation"] == gen + 1, 10, what="reload")
        self.assertEqual(self.state(b2), "up")
        self.assertEqual(self.send(4), {"b1": 2, "b2": 2})


OUTLIER_CONF = """
http {
    access_log off;
    upstream app {
        zone app 64k;
        server @B1@;
        server @B2@;
        outlier_detection consecutive_5xx=3 base_ejection_time=@BASE@ max_ejection_percent=50;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /api { api write=on; }
        location / { proxy_pass http://app; }
    }
}
"""


class OutlierDetectionTest(IntegrationTest):
    def setUp(self):
        if is_nginx():
            self.skipTest("tidegate extension")
        self.port = free_port()
        self.bes = [self.backend("b1"), self.backend("b2")]
        # the share test must not see its ejection end
        base = "30s" if "share" in self._testMethodName else "2s"
        self.px = self.proxy(fill(OUTLIER_CONF, PORT=self.port, B1=self.bes[0].addr,
                                  B2=self.bes[1].addr, BASE=base))
        self.api = Api(self.port)

    def statuses(self, n):
        got = {}
        for _ in range(n):
            r = http_get(self.port, "/x")
            key = (r.header("x-backend"), r.status)
            got[key] = got.get(key, 0) + 1
        return got

    def test_a_server_answering_5xx_is_ejected_and_comes_back(self):
        b1, b2 = self.bes
        b2.error_status = 500
        # round robin: three 500s from b2 within six requests
        self.assertEqual(self.statuses(6), {("b1", 200): 3, ("b2", 500): 3})
        self.assertTrue(self.px.wait_log("peer is ejected for 2s after 3 consecutive errors, peer "
                                         "%s in upstream \"app\"" % b2.addr), self.px.error_log())
        peer = self.api.peer_by_server("app", b2.addr)
        self.assertEqual(peer["state"], "unhealthy")
        self.assertIs(peer["ejected"], True)
        self.assertEqual(self.statuses(6), {("b1", 200): 6})
        self.assertTrue(self.px.wait_log("peer is back from ejection, peer %s" % b2.addr, timeout=5))
        b2.error_status = None
        wait_until(lambda: self.api.peer_by_server("app", b2.addr)["state"] == "up", 5,
                   what="b2 up")
        self.assertEqual(self.statuses(4), {("b1", 200): 2, ("b2", 200): 2})

    def test_never_more_than_the_share_of_the_group(self):
        for b in self.bes:
            b.error_status = 503
        self.statuses(8)
        self.assertTrue(self.px.wait_log("peer is ejected"), self.px.error_log())
        time.sleep(0.5)
        states = [self.api.peer_by_server("app", b.addr)["state"] for b in self.bes]
        self.assertEqual(sorted(states), ["unhealthy", "up"])
        self.assertEqual(self.px.error_log().count("peer is ejected"), 1)


class WebSocketHealthCheckTest(IntegrationTest):
    def test_type_websocket_handshakes_and_closes_cleanly(self):
        if is_nginx():
            self.skipTest("tidegate extension")
        from tests.support.ws_backends import WsEchoBackend
        ws = WsEchoBackend("ws")
        ws.start()
        self.addCleanup(ws.stop)
        plain = self.backend("plain")  # answers the Upgrade with a 200: not a WebSocket server
        port = free_port()
        self.px = self.proxy(fill(CONF.replace("location / {", "location / {\n"
                                               "            proxy_http_version 1.1;"),
                                  PORT=port, B1=ws.addr, B2=plain.addr,
                                  HC="type=websocket uri=/ws/health"))
        api = Api(port)
        self.assertTrue(ws.wait_for(lambda b: len(b.closes) >= 2, 5), ws.closes)
        self.assertEqual(ws.closes[0][0], 1000)
        path, headers = ws.handshakes[0]
        self.assertEqual(path, "/ws/health")
        names = {k.lower(): v for k, v in headers}
        self.assertEqual(names["host"], "app")
        self.assertEqual(names["sec-websocket-version"], "13")
        self.assertTrue(self.px.wait_log("peer is unhealthy while checking WebSocket handshake of "
                                         "upstream, health check \"/ws/health\" of peer %s"
                                         % plain.addr), self.px.error_log())
        self.assertEqual(api.peer_by_server("app", ws.addr)["state"], "up")
        self.assertEqual(api.peer_by_server("app", plain.addr)["state"], "unhealthy")


class HealthCheckConfTest(IntegrationTest):
    def test_errors_at_t(self):
        if is_nginx():
            self.skipTest("NGINX Plus's health_check")
        prefix = make_prefix()
        self.addCleanup(shutil.rmtree, prefix, True)
        conf = os.path.join(prefix, "t.conf")
        with open(conf, "w") as f:
            f.write("events {}\nhttp {\n    upstream app { server 127.0.0.1:1; }\n"
                    "    server { listen 127.0.0.1:%d;\n"
                    "        location / { proxy_pass http://app; health_check; }\n    }\n}\n"
                    % free_port())
        rc, _, err = run_cli(["-t", "-p", prefix, "-c", conf])
        self.assertNotEqual(rc, 0)
        self.assertIn('[emerg] upstream "app" must reside in shared memory in %s:5' % conf, err)


if __name__ == "__main__":
    unittest.main()
