"""Reloads (SIGHUP) under load: no failed request, every connection answered by one
configuration (the one live when it was accepted), WebSocket tunnels survive, bad
confs are refused, listening ports stay open / appear / disappear, old keep-alive
connections and generation retirement (tidegate-only)."""

import http.client
import os
import re
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import (IntegrationTest, can_connect, fill, free_port,  # noqa: E402
                                   http_get, is_nginx)
from tests.support.ws_backends import WsClient, WsEchoBackend  # noqa: E402

# Two confs whose answers differ: A proxies to backend "A", B answers by itself.
# Both have the same WebSocket location. worker_processes 1 keeps nginx to one old
# and one new worker per reload.
CONF = """
worker_processes 1;
http {
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        @EXTRA_LISTEN@
        location / {
            @HANDLER@
        }
        location /ws {
            proxy_pass http://@WS@;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
    }
}
"""


class ReloadTest(IntegrationTest):
    RELOADS = 20

    def setUp(self):
        self.be = self.backend("A")
        self.ws_be = WsEchoBackend("W")
        self.ws_be.start()
        self.addCleanup(self.ws_be.stop)
        self.port = free_port()
        self.reloads_done = 0

    def conf(self, which, extra_listen=""):
        if which == "A":
            handler = "add_header X-Conf A;\n            proxy_pass http://%s;" % self.be.addr
        else:
            handler = 'add_header X-Conf B;\n            return 200 "B\\n";'
        return fill(CONF, PORT=self.port, WS=self.ws_be.addr, HANDLER=handler, EXTRA_LISTEN=extra_listen)

    def fresh_conf(self, port=None):
        """X-Conf of a request on a new connection (None if it failed)."""
        try:
            r = http_get(port or self.port, "/probe", timeout=3)
        except OSError:
            return None
        return r.header("X-Conf")

    def reload(self, px, conf_text, which, ports=None):
        """Writes the conf, sends SIGHUP, and waits until new connections get ``which``
        (nginx: also until the old worker is shutting down, as it may still accept
        before that)."""
        px.write_conf(conf_text)
        log_before = len(px.error_log())
        px.signal(signal.SIGHUP)
        self.reloads_done += 1
        deadline = time.monotonic() + 10
        if is_nginx():
            while px.error_log().count("gracefully shutting down") < self.reloads_done:
                self.assertLess(time.monotonic(), deadline, "old worker not shutting down\n" + px.diagnostics())
                time.sleep(0.01)
        while self.fresh_conf() != which:
            self.assertNotIn("[emerg]", px.error_log()[log_before:], "reload refused\n" + px.diagnostics())
            self.assertLess(time.monotonic(), deadline, "conf %s not live after reload\n%s"
                            % (which, px.diagnostics()))
            time.sleep(0.01)

    # -- closed-loop load across 20 reloads ------------------------------------------------------

    def test_20_reloads_under_load(self):
        px = self.proxy(self.conf("A"))
        # WebSocket sessions opened before any reload
        sessions = []
        for _ in range(3):
            c = WsClient.connect(self.port, "/ws")
            self.addCleanup(c.abort)
            sessions.append(c)
        for i, c in enumerate(sessions):
            self.assertEqual(c.echo("before %d" % i), "before %d" % i)

        lock = threading.Lock()
        # states[i]: the confs a new connection may get while in state i; even i: one conf
        # is live, odd i: a reload is in progress (old or new)
        states = [{"A"}]
        stop = threading.Event()
        max_requests = 60000
        stats = {"ok": 0, "A": 0, "B": 0, "conns": 0, "spanning": 0, "stale": 0}
        failures = []
        violations = []
        stale = []

        def state_index():
            with lock:
                return len(states) - 1

        def allowed(s0, s1):
            with lock:
                out = set()
                for s in states[s0:s1 + 1]:
                    out |= s
                return out

        def worker(tid):
            conn = None
            info = None
            while not stop.is_set():
                with lock:
                    if stats["ok"] >= max_requests:
                        break
                if conn is None:
                    s0 = state_index()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    info = {"s0": s0, "conf": None, "n": 0}
                    with lock:
                        stats["conns"] += 1
                try:
                    conn.request("GET", "/load/%d/%d" % (tid, info["n"]))
                    r = conn.getresponse()
                    body = r.read()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                    conn.close()
                    conn = None
                    what = "thread %d request %d on its connection: %r" % (tid, info["n"], e)
                    if info["n"] > 0:
                        # closed without "Connection: close" while idle between requests
                        # (nginx closes idle keep-alive connections of the old workers)
                        with lock:
                            stats["stale"] += 1
                        stale.append(what)
                    else:
                        failures.append(what)
                    continue
                except Exception as e:  # noqa: B902
                    conn.close()
                    conn = None
                    failures.append("thread %d request %d: %r" % (tid, info["n"], e))
                    continue
                s1 = state_index()
                info["n"] += 1
                conf = r.getheader("X-Conf")
                expected_body = {"A": None, "B": b"B\n"}.get(conf)
                if r.status != 200 or conf not in ("A", "B") or (expected_body and body != expected_body):
                    failures.append("thread %d: bad response %s %r %r" % (tid, r.status, r.getheaders(), body[:100]))
                elif info["conf"] is None:
                    ok = allowed(info["s0"], s1)
                    if conf not in ok:
                        violations.append("new connection (states %d..%d) answered by %s, live: %s"
                                          % (info["s0"], s1, conf, sorted(ok)))
                    info["conf"] = conf
                elif conf != info["conf"]:
                    violations.append("connection of conf %s (opened in state %d) answered by %s "
                                      "in state %d" % (info["conf"], info["s0"], conf, s1))
                with lock:
                    stats["ok"] += 1
                    stats[conf] = stats.get(conf, 0) + 1
                    if s1 != info["s0"] and not info.get("spanning"):
                        info["spanning"] = True  # answered after a reload it predates
                        stats["spanning"] += 1
                if r.will_close:
                    conn.close()
                    conn = None
            if conn is not None:
                conn.close()

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(4)]
        for t in threads:
            t.start()
        try:
            def wait_progress(n):
                with lock:
                    target = stats["ok"] + n
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    with lock:
                        if stats["ok"] >= target:
                            return
                    if not any(t.is_alive() for t in threads):
                        break
                    time.sleep(0.005)
                self.fail("load made no progress: %s" % stats)

            wait_progress(50)
            current = "A"
            for k in range(self.RELOADS):
                new = "B" if current == "A" else "A"
                with lock:
                    states.append({current, new})
                self.reload(px, self.conf(new), new)
                with lock:
                    states.append({new})
                current = new
                wait_progress(50)
                for i, c in enumerate(sessions):
                    msg = "reload %d session %d" % (k, i)
                    self.assertEqual(c.echo(msg), msg)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        self.assertFalse(any(t.is_alive() for t in threads))
        self.assertEqual(failures[:10], [], "%d failed requests; stats %s" % (len(failures), stats))
        self.assertEqual(violations[:10], [], "%d violations; stats %s" % (len(violations), stats))
        if not is_nginx():
            # tidegate never closes a keep-alive connection without saying so first
            self.assertEqual(stale[:10], [], "%d connections closed without Connection: close" % len(stale))
        self.assertGreater(stats["A"], 0, stats)
        self.assertGreater(stats["B"], 0, stats)
        self.assertGreater(stats["spanning"], 0, "no connection lived across a reload: %s" % stats)
        # the tunnels opened before the first reload still work after the last one
        for i, c in enumerate(sessions):
            self.assertEqual(c.echo("after all %d" % i), "after all %d" % i)
            self.assertEqual(c.who(), "W")
            self.assertEqual(c.echo(b"\x00" * 100000), b"\x00" * 100000)
        self.assertEqual(self.ws_be.sessions, 3)
        for c in sessions:
            c.close()
            self.assertEqual(c.close_code, 1000)
        self.assertTrue(px.is_running())

    # -- bad conf ------------------------------------------------------------------------------

    def test_reload_with_a_port_that_cannot_be_bound_keeps_the_old_conf(self):
        # nginx: "[emerg] bind() to ... failed (98: Address already in use)" and the old
        # conf keeps serving as a whole (not the new conf minus that listener).
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy_port = taken.getsockname()[1]
        px = self.proxy(self.conf("A"))
        self.assertEqual(self.fresh_conf(), "A")
        px.write_conf(self.conf("B", extra_listen="listen 127.0.0.1:%d;" % busy_port))
        px.signal(signal.SIGHUP)
        pattern = re.compile(r"\[emerg\] \d+#\d+: bind\(\) to 127\.0\.0\.1:%d failed "
                             r"\(98: Address already in use\)" % busy_port)
        self.assertTrue(px.wait_log(pattern), px.error_log())
        self.assertTrue(px.is_running())
        self.assertEqual(self.fresh_conf(), "A")
        # once the port is free, the same conf loads
        taken.close()
        self.reload(px, self.conf("B", extra_listen="listen 127.0.0.1:%d;" % busy_port), "B")
        self.assertEqual(self.fresh_conf(busy_port), "B")

    def test_bad_conf_reload_logs_emerg_and_keeps_serving(self):
        px = self.proxy(self.conf("A"))
        ka = self.client(self.port)
        ka.request("GET", "/ka1")
        self.assertEqual(ka.read_response().header("X-Conf"), "A")
        good_b = self.conf("B")
        cases = [
            ("bogus_directive on;", 'unknown directive "bogus_directive"'),
            ("proxy_pass;", 'invalid number of arguments in "proxy_pass" directive'),
        ]
        for n, (bad_line, message) in enumerate(cases, 1):
            # insert the bad line right after "location / {"
            text = good_b.replace("location / {\n", "location / {\n            %s\n" % bad_line, 1)
            final = px.write_conf(text)
            lineno = final.splitlines().index("            %s" % bad_line) + 1
            px.signal(signal.SIGHUP)
            pattern = re.compile(r"\[emerg\] \d+#\d+: %s in %s:%d\n"
                                 % (re.escape(message), re.escape(px.conf_path), lineno))
            self.assertTrue(px.wait_log(pattern), "want %s\n%s" % (pattern.pattern, px.error_log()))
            self.assertTrue(px.is_running())
            # the old conf keeps serving new connections...
            self.assertEqual(self.fresh_conf(), "A")
            # ...and existing keep-alive ones, which stay keep-alive
            ka.request("GET", "/ka-after-bad-%d" % n)
            r = ka.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("X-Conf"), "A")
            self.assertNotEqual((r.header("Connection") or "").lower(), "close", r)
        # a good conf after the bad ones is taken
        self.reload(px, good_b, "B")

    # -- listening ports -----------------------------------------------------------------------------

    def test_listening_ports_kept_added_removed(self):
        p2, p3 = free_port(), free_port()
        with_p2 = "listen 127.0.0.1:%d;" % p2
        with_p3 = "listen 127.0.0.1:%d;" % p3
        px = self.proxy(self.conf("A", with_p2))
        self.assertFalse(can_connect(p3))

        stop = threading.Event()
        results = {"ok": 0, "refused": [], "other": []}

        def connect_loop():
            while not stop.is_set() and results["ok"] < 20000:
                try:
                    r = http_get(self.port, "/stay", timeout=5)
                    if r.status == 200:
                        results["ok"] += 1
                    else:
                        results["other"].append("status %d" % r.status)
                except ConnectionRefusedError as e:
                    results["refused"].append(repr(e))
                except Exception as e:  # noqa: B902
                    results["other"].append(repr(e))

        t = threading.Thread(target=connect_loop, daemon=True)
        t.start()
        try:
            current = "A"
            for k in range(10):
                new = "B" if current == "A" else "A"
                added, removed = (p3, p2) if new == "B" else (p2, p3)
                extra = with_p3 if new == "B" else with_p2
                self.reload(px, self.conf(new, extra), new)
                current = new
                deadline = time.monotonic() + 5
                while not can_connect(added):
                    self.assertLess(time.monotonic(), deadline, "added port %d not accepting" % added)
                    time.sleep(0.01)
                self.assertEqual(self.fresh_conf(added), new)
                deadline = time.monotonic() + 5
                while can_connect(removed):
                    self.assertLess(time.monotonic(), deadline, "removed port %d still accepting" % removed)
                    time.sleep(0.01)
        finally:
            stop.set()
            t.join(10)
        self.assertEqual(results["refused"], [], "the kept port refused connections during reloads")
        self.assertEqual(results["other"][:10], [])
        self.assertGreater(results["ok"], 20)

    # -- tidegate-only: old keep-alive connections, generations --------------------------------------

    def test_idle_keepalive_after_reload_gets_old_conf_then_close(self):
        if is_nginx():
            self.skipTest("nginx closes idle keep-alive connections of the old workers at once")
        px = self.proxy(self.conf("A"))
        c = self.client(self.port)
        c.request("GET", "/before")
        r = c.read_response()
        self.assertEqual(r.header("X-Conf"), "A")
        self.assertEqual(r.header("Connection"), "keep-alive")
        self.reload(px, self.conf("B"), "B")
        # idle across the reload: not cut; the next request is answered in full by the
        # old conf, announcing the close
        c.request("GET", "/after")
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("X-Conf"), "A", r)
        self.assertEqual(r.header("X-Backend"), "A", r)
        self.assertEqual(r.json()["target"], "/after")
        self.assertEqual(r.header("Connection"), "close", r)
        self.assertTrue(c.closed_by_peer(), "old-conf connection must close after its answer")

    def test_old_generation_retired_notice(self):
        if is_nginx():
            self.skipTest("tidegate-only notice (nginx's old worker logs 'exiting' instead)")
        retired = re.compile(r"\[notice\] \d+#\d+: configuration generation (\d+) retired")
        px = self.proxy(self.conf("A"))
        c = self.client(self.port)
        c.request("GET", "/hold")
        self.assertEqual(c.read_response().header("X-Conf"), "A")
        # the first generation (A) keeps the idle connection; the next ones have none once
        # the reload's own probes are done
        self.reload(px, self.conf("B"), "B")
        self.reload(px, self.conf("A"), "A")
        # the positive signal first: the second generation retires promptly...
        self.assertTrue(px.wait_log(retired, timeout=5), "the unused old generation did not retire\n"
                        + px.error_log())
        second = int(retired.search(px.error_log()).group(1))
        # ...and so does the third after one more reload...
        self.reload(px, self.conf("B"), "B")
        self.assertTrue(px.wait_log(re.compile(retired.pattern.replace(r"(\d+)", str(second + 1))),
                                    timeout=5), px.error_log())
        # ...while the first one, older than both, stays as long as its connection is open
        self.assertEqual([int(g) for g in retired.findall(px.error_log())], [second, second + 1],
                         px.error_log())
        c.close()
        first = second - 1
        self.assertTrue(px.wait_log(re.compile(retired.pattern.replace(r"(\d+)", str(first))), timeout=5),
                        "no retire notice after the last old connection closed\n" + px.error_log())
        self.assertEqual([int(g) for g in retired.findall(px.error_log())], [second, second + 1, first])

    def test_empty_or_eventless_conf_is_refused_and_the_old_one_keeps_serving(self):
        # Editors and config-management tools write empty or partial files: nginx
        # refuses them ("no events section") and keeps every listener.
        px = self.proxy(self.conf("A"))
        for n, text in enumerate(("", "http {\n}\n"), 1):
            with open(px.conf_path, "w") as f:
                f.write(text)
            px.signal(signal.SIGHUP)
            self.assertTrue(px.wait_log(re.compile(
                r'(\[emerg\] \d+#\d+: no "events" section in configuration\n.*){%d}' % n, re.S)),
                px.error_log())
            self.assertTrue(px.is_running())
            self.assertEqual(self.fresh_conf(), "A")
        self.reload(px, self.conf("B"), "B")

    def test_upstream_live_state_carries_over(self):
        # A server marked failed (max_fails=1) stays failed across a reload for its
        # fail_timeout: no request tries it again, so no new connect() error.
        if is_nginx():
            self.skipTest("nginx's workers start with fresh upstream state after a reload")
        dead = self.refusing()
        conf = fill('''
worker_processes 1;
http {
    access_log off;
    upstream pair {
        server @DEAD@ max_fails=1 fail_timeout=60s;
        server @LIVE@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location / { add_header X-Conf @WHICH@; proxy_pass http://pair; }
    }
}
''', DEAD=dead.addr, LIVE=self.be.addr, PORT=self.port, WHICH="@WHICH@")
        px = self.proxy(conf.replace("@WHICH@", "A"))
        refused = "connect() failed (111: Connection refused)"
        for i in range(4):
            self.assertEqual(http_get(self.port, "/before-%d" % i).status, 200)
        self.assertEqual(px.error_log().count(refused), 1, px.error_log())
        self.reload(px, conf.replace("@WHICH@", "B"), "B")
        for i in range(6):
            self.assertEqual(http_get(self.port, "/after-%d" % i).status, 200)
        self.assertEqual(px.error_log().count(refused), 1,
                         "the failed server was tried again after the reload\n" + px.error_log())


if __name__ == "__main__":
    unittest.main()
