"""Load balancing as nginx does it: least_conn (also across workers, and counting open
WebSocket tunnels), weighted round robin, ip_hash, hash (a key keeps its server, keys
spread) and hash consistent (adding or removing a server moves only the keys it takes
or had), random (following weights) and random two least_conn, backup, down, max_conns,
proxy_next_upstream (error, http_403, http_429, http_503, invalid_header,
non_idempotent) and $upstream_addr/$upstream_status; and the tidegate-only methods:
sticky cookie / sticky route (NGINX Plus syntax), least_time header, peak_ewma.

Servers are told apart by the ``X-Backend`` header every test backend adds. A "held"
request is a GET /hold that the backend keeps open until the test releases it, so a
server can be kept busy with exactly K requests.
"""

import calendar
import os
import select
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.balancing_backends import BalancingBackend, wait_until  # noqa: E402
from tests.support.harness import (ConnectionClosed, IntegrationTest, fill, free_port,  # noqa: E402
                                   http_get, http_request, is_nginx, start_backend)
from tests.support.ws_backends import WsClient, WsEchoBackend  # noqa: E402

# One upstream group "pool" behind location /. worker_processes 1 unless a test is about
# several workers: without a zone, nginx keeps balancing state per worker process.
POOL_CONF = """
worker_processes @WORKERS@;
http {
    upstream pool {
@UPSTREAM@
    }
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://pool;
        }
    }
}
"""

NGINX_PLUS_ONLY = "NGINX Plus only: nginx 1.22 has no %s"


def servers(*lines):
    return "\n".join("        %s;" % line for line in lines)


def parse_set_cookie(value):
    """'n=v; expires=...; path=/' -> (n, v, {attr-lower: value})."""
    parts = [p.strip() for p in value.split(";")]
    name, _, val = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip()
    return name.strip(), val.strip(), attrs


def cookie_time(text):
    """A cookie date -> epoch seconds. nginx writes 'Thu, 31-Dec-37 23:55:55 GMT' (two-digit
    years up to 2037, ngx_http_cookie_time); RFC 1123 'Thu, 31 Dec 2037 ...' is accepted too."""
    text = text.replace("-", " ")
    for fmt in ("%a, %d %b %Y %H:%M:%S GMT", "%a, %d %b %y %H:%M:%S GMT"):
        try:
            return calendar.timegm(time.strptime(text, fmt))
        except ValueError:
            pass
    raise AssertionError("not a cookie date: %r" % text)


class BalancingTest(IntegrationTest):
    # -- helpers -------------------------------------------------------------------

    def bb(self, name, **kw) -> BalancingBackend:
        return start_backend(self, BalancingBackend(name, **kw))

    def pool(self, upstream, workers=1, **kw):
        """Starts a proxy on a fresh port with ``upstream`` as group "pool"; returns (proxy, port)."""
        port = free_port()
        px = self.proxy(fill(POOL_CONF, WORKERS=workers, UPSTREAM=upstream, PORT=port), **kw)
        return px, port

    def served_by(self, port, path="/", headers=None, status=200):
        """One request on a fresh connection; the name of the server that answered."""
        r = http_get(port, path, headers=headers)
        self.assertEqual(r.status, status, r)
        return r.header("X-Backend")

    def served_on(self, client, path="/", headers=None):
        """One request on a keep-alive connection; the name of the server that answered."""
        client.request("GET", path, headers=headers)
        r = client.read_response()
        self.assertEqual(r.status, 200, r)
        return r.header("X-Backend")

    def hold(self, port, target, group, k):
        """Leaves exactly ``k`` requests held on ``target`` and none on the rest of ``group``.

        Every server of the group holds /hold, so the balancer sees every request it sent
        still active while the next is picked (least_conn spreads them evenly; a held
        request on another server must not let ``target`` get more than its share). Once
        ``target`` holds ``k``, the other servers are released and their answers read, so
        the proxy has finished those requests before the test goes on."""
        clients = []
        self.addCleanup(lambda: [b.release() for b in group])  # before the proxy stops
        for _ in range(4 * k + 30):
            if target.held >= k:
                break
            c = self.client(port, timeout=30)
            c.request("GET", "/hold")
            clients.append(c)
            n = len(clients)
            self.assertTrue(wait_until(lambda: sum(b.held for b in group) >= n),
                            "hold request %d not held by any server: %s" % (n, [b.held for b in group]))
        self.assertEqual(target.held, k, "could not get %d held requests on %s" % (k, target.name))
        for b in group:
            if b is not target:
                b.release()
        pending = list(clients)
        answered = 0
        deadline = time.monotonic() + 10
        while answered < len(clients) - k and time.monotonic() < deadline:
            ready, _, _ = select.select([c.sock for c in pending], [], [], 0.1)
            for c in [c for c in pending if c.sock in ready]:
                r = c.read_response()
                self.assertEqual(r.status, 200, r)
                self.assertNotEqual(r.header("X-Backend"), target.name)
                pending.remove(c)
                answered += 1
        self.assertEqual(answered, len(clients) - k, "released hold requests not answered")
        self.assertEqual(target.held, k)
        return pending

    # -- least_conn ------------------------------------------------------------------

    def test_least_conn_sends_new_requests_away_from_server_holding_slow_requests(self):
        a, b = self.bb("a"), self.bb("b")
        _, port = self.pool(servers("least_conn", "server %s" % a.addr, "server %s" % b.addr))
        self.hold(port, a, [a, b], 3)
        seen = [self.served_by(port, "/quick/%d" % i) for i in range(10)]
        self.assertEqual(seen, ["b"] * 10, "a holds 3 active requests, b none")
        self.assertEqual(a.held, 3)

    def test_least_conn_counts_are_shared_across_worker_processes(self):
        # tidegate's workers are threads with SO_REUSEPORT listeners: the held requests and
        # the quick ones below arrive on many connections and so on different workers; a
        # worker that counted only its own connections would tie a and b and send some
        # quick requests to a. nginx's worker processes share counts through the zone.
        a, b = self.bb("a"), self.bb("b")
        _, port = self.pool(servers("zone backend 64k", "least_conn", "server %s" % a.addr,
                                    "server %s" % b.addr), workers=4)
        self.hold(port, a, [a, b], 4)
        seen = [self.served_by(port, "/quick/%d" % i) for i in range(20)]
        self.assertEqual(seen, ["b"] * 20, "a holds 4 active requests (counted by every worker), b none")

    def test_least_conn_counts_open_websocket_tunnels(self):
        # A tunnel keeps its upstream connection active for as long as it is open, so
        # least_conn counts it: with 3 tunnels open to A and none to B, every new request
        # goes to B (were tunnels forgotten after the 101, A and B would tie and share).
        wa, wb = WsEchoBackend("A"), WsEchoBackend("B")
        for x in (wa, wb):
            start_backend(self, x)
        port = free_port()
        self.proxy(fill("""
worker_processes 1;
http {
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    upstream pool {
        least_conn;
        server @A@;
        server @B@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://pool;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
    }
}
""", PORT=port, A=wa.addr, B=wb.addr))
        # least_conn spreads 6 tunnels 3 and 3 (each new one goes to the server with fewer)
        tunnels = {"A": [], "B": []}
        for i in range(6):
            c = WsClient.connect(port, "/ws/%d" % i)
            self.addCleanup(c.abort)
            tunnels[c.who()].append(c)
        self.assertEqual({k: len(v) for k, v in tunnels.items()}, {"A": 3, "B": 3})
        # close B's: its closing handshakes are over (and its TCP connections closed by
        # the proxy) once close() returns
        for c in tunnels["B"]:
            c.close()
            self.assertEqual(c.close_code, 1000)
        self.assertTrue(wb.wait_for(lambda b: b.open_sessions == 0, 5), "B's sessions still open")
        seen = [self.served_by(port, "/plain/%d" % i) for i in range(10)]
        self.assertEqual(seen, ["B"] * 10, "A has 3 open tunnels, B none")
        self.assertEqual(len(wa.http_requests), 0)
        # A's tunnels were open all along
        for i, c in enumerate(tunnels["A"]):
            self.assertEqual(c.echo("still %d" % i), "still %d" % i)
        self.assertEqual(wa.open_sessions, 3)

    # -- round robin -------------------------------------------------------------------

    def test_weighted_round_robin_5_1_1_is_a_a_b_a_c_a_a_on_one_connection(self):
        a, b, c = self.bb("a"), self.bb("b"), self.bb("c")
        _, port = self.pool(servers("server %s weight=5" % a.addr, "server %s" % b.addr, "server %s" % c.addr))
        client = self.client(port)
        seen = [self.served_on(client, "/rr/%d" % i) for i in range(7)]
        self.assertEqual(seen, ["a", "a", "b", "a", "c", "a", "a"], "nginx's smooth weighted round robin")
        self.assertEqual((len(a.requests), len(b.requests), len(c.requests)), (5, 1, 1))

    # -- hashing -----------------------------------------------------------------------

    def test_ip_hash_same_client_always_reaches_same_server(self):
        bs = [self.bb(n) for n in "abc"]
        _, port = self.pool(servers("ip_hash", *("server %s" % x.addr for x in bs)))
        seen = [self.served_by(port, "/ip/%d" % i) for i in range(10)]
        client = self.client(port)
        seen += [self.served_on(client, "/ip-ka/%d" % i) for i in range(10)]
        self.assertEqual(len(set(seen)), 1, "127.0.0.1 must always reach the same server: %s" % seen)
        self.assertEqual(sorted(len(x.requests) for x in bs), [0, 0, 20])

    def test_hash_same_key_same_server_different_keys_spread(self):
        bs = [self.bb(n) for n in "abc"]
        _, port = self.pool(servers("hash $arg_k", *("server %s" % x.addr for x in bs)))
        client = self.client(port)
        placed = {}
        for i in range(60):
            key = "key-%d" % i
            got = {self.served_on(client, "/h?k=" + key), self.served_by(port, "/h?k=%s&again=1" % key),
                   self.served_on(client, "/other/path?x=1&k=" + key)}
            self.assertEqual(len(got), 1, "key %s reached %s" % (key, got))
            placed[key] = got.pop()
        # A second pass in the opposite order, on a new connection: every key still lands
        # where it did (the pick depends on the key only, not on order or earlier picks).
        client = self.client(port)
        again = {key: self.served_on(client, "/h2?k=" + key) for key in reversed(list(placed))}
        moved = {k: (placed[k], again[k]) for k in placed if placed[k] != again[k]}
        self.assertEqual(moved, {}, "keys that changed server between passes")
        # 60 keys over 3 equal servers: about 20 each; at least 8 each (a uniform hash
        # gives some server fewer with probability 3e-4; the CRC32 that nginx uses puts
        # these keys 17/21/22, the same on every run)
        counts = {n: list(placed.values()).count(n) for n in "abc"}
        self.assertTrue(all(c >= 8 for c in counts.values()), "60 keys must spread over 3 servers: %s" % counts)

    CONSISTENT_CONF = """
worker_processes 1;
http {
    upstream pool {
        hash $arg_k consistent;
@UPSTREAM@
    }
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://pool;
            add_header X-Conf @VERSION@ always;
        }
    }
}
"""

    def place_keys(self, port, keys, version):
        """{key: server} for GET /c?k=KEY, each answered by configuration ``version``
        (a connection still served by an older one is replaced)."""
        out = {}
        client = None
        for key in keys:
            for _ in range(20):  # a connection still served by the old configuration: reconnect
                if client is None:
                    client = self.client(port)
                try:
                    client.request("GET", "/c?k=" + key)
                    r = client.read_response()
                except (OSError, ConnectionClosed):  # closed by an old worker shutting down
                    r = None
                if r is not None and r.header("X-Conf") == version:
                    self.assertEqual(r.status, 200, r)
                    out[key] = r.header("X-Backend")
                    break
                client.close()
                client = None
            else:
                self.fail("configuration %s not in use" % version)
        if client is not None:
            client.close()
        return out

    def reload_consistent(self, px, port, backends, version):
        px.write_conf(fill(self.CONSISTENT_CONF, PORT=port, VERSION=version,
                           UPSTREAM=servers(*("server %s" % x.addr for x in backends))))
        px.signal(signal.SIGHUP)

        def reloaded():
            try:
                return http_get(port, "/c?k=probe").header("X-Conf") == version
            except (OSError, ConnectionClosed):  # e.g. closed by a worker that is shutting down
                return False

        self.assertTrue(wait_until(reloaded, 10), px.diagnostics())

    def test_hash_consistent_adding_server_moves_only_a_fraction_of_keys(self):
        bs = [self.bb(n) for n in "abcd"]
        port = free_port()
        px = self.proxy(fill(self.CONSISTENT_CONF, PORT=port, VERSION="v1",
                             UPSTREAM=servers(*("server %s" % x.addr for x in bs[:3]))))
        keys = ["key-%d" % i for i in range(200)]
        before = self.place_keys(port, keys, "v1")
        self.assertEqual(set(before.values()), {"a", "b", "c"})
        self.reload_consistent(px, port, bs, "v2")
        after = self.place_keys(port, keys, "v2")
        moved = [k for k in keys if before[k] != after[k]]
        self.assertLess(len(moved), len(keys) // 2, "3 -> 4 servers moved %d of %d keys" % (len(moved), len(keys)))
        self.assertGreater(len(moved), 0, "the new server d must take some keys")
        self.assertEqual({after[k] for k in moved}, {"d"}, "keys only move to the added server")

    def test_hash_consistent_removing_server_remaps_only_its_keys(self):
        bs = [self.bb(n) for n in "abcd"]
        port = free_port()
        px = self.proxy(fill(self.CONSISTENT_CONF, PORT=port, VERSION="v1",
                             UPSTREAM=servers(*("server %s" % x.addr for x in bs))))
        keys = ["key-%d" % i for i in range(200)]
        before = self.place_keys(port, keys, "v1")
        self.assertEqual(set(before.values()), {"a", "b", "c", "d"})
        self.reload_consistent(px, port, bs[:3], "v2")  # d removed
        after = self.place_keys(port, keys, "v2")
        stayed = {k: (before[k], after[k]) for k in keys if before[k] != "d" and before[k] != after[k]}
        self.assertEqual(stayed, {}, "keys of a, b and c must not move when d is removed")
        self.assertEqual({after[k] for k in keys}, {"a", "b", "c"})

    # -- random ------------------------------------------------------------------------

    def test_random_spreads_evenly_and_is_not_a_cycle(self):
        bs = [self.bb(n) for n in "abc"]
        _, port = self.pool(servers("random", *("server %s" % x.addr for x in bs)))
        client = self.client(port)
        seen = [self.served_on(client, "/rnd/%d" % i) for i in range(300)]
        counts = {n: seen.count(n) for n in "abc"}
        # 300 uniform picks over 3: 100 each, standard deviation 8.2; 60..140 is ±4.9 sd
        self.assertTrue(all(60 <= c <= 140 for c in counts.values()), "300 random picks over 3 servers: %s" % counts)
        cyclic = all(seen[i] == seen[i % 3] for i in range(len(seen)))
        self.assertFalse(cyclic, "random must not be a round robin")

    def test_random_follows_weights(self):
        a, b = self.bb("a"), self.bb("b")
        _, port = self.pool(servers("random", "server %s weight=1" % a.addr, "server %s weight=2" % b.addr))
        client = self.client(port)
        seen = "".join(self.served_on(client, "/w/%d" % i) for i in range(600))
        share = seen.count("b") / len(seen)
        # b is picked with probability 2/3: 400 of 600 expected, standard deviation 11.5
        # (1.9%); 55%..78% is more than ±5 sd
        self.assertGreaterEqual(share, 0.55, "weight 2 of 3 got %.1f%% of 600 picks" % (share * 100))
        self.assertLessEqual(share, 0.78, "weight 2 of 3 got %.1f%% of 600 picks" % (share * 100))
        # independent picks, not a smooth weighted round robin (b a b b a b ...): a twice in a
        # row and b three times in a row each happen dozens of times in 600 random picks
        self.assertIn("aa", seen)
        self.assertIn("bbb", seen)

    def test_random_two_least_conn_avoids_server_holding_slow_requests(self):
        bs = [self.bb(n) for n in "abc"]
        a = bs[0]
        _, port = self.pool(servers("random two least_conn", *("server %s" % x.addr for x in bs)))
        self.hold(port, a, bs, 2)
        seen = [self.served_by(port, "/quick/%d" % i) for i in range(30)]
        self.assertNotIn("a", seen, "each pick compares two different servers; a (2 active) always loses")
        self.assertEqual(set(seen), {"b", "c"}, seen)

    # -- backup, down, max_conns -----------------------------------------------------------

    def test_backup_used_only_when_primaries_are_down_or_refusing(self):
        p1, p2, bk = self.bb("p1"), self.bb("p2"), self.bb("backup")
        _, port = self.pool(servers("server %s" % p1.addr, "server %s" % p2.addr, "server %s backup" % bk.addr))
        seen = [self.served_by(port, "/up/%d" % i) for i in range(10)]
        self.assertEqual(sorted(set(seen)), ["p1", "p2"], "no backup while primaries answer: %s" % seen)
        p1.stop()
        p2.stop()  # now refusing
        seen = [self.served_by(port, "/down/%d" % i) for i in range(6)]
        self.assertEqual(seen, ["backup"] * 6)

        # primaries marked down: straight to the backup
        bk2, p3 = self.bb("backup2"), self.bb("p3")
        _, port2 = self.pool(servers("server %s down" % p3.addr, "server %s backup" % bk2.addr))
        seen = [self.served_by(port2, "/marked-down/%d" % i) for i in range(4)]
        self.assertEqual(seen, ["backup2"] * 4)
        self.assertEqual(len(p3.requests), 0)

    def test_down_server_never_gets_traffic(self):
        a, d, b = self.bb("a"), self.bb("d"), self.bb("b")
        _, port = self.pool(servers("server %s" % a.addr, "server %s down" % d.addr, "server %s" % b.addr))
        client = self.client(port)
        seen = [self.served_on(client, "/d/%d" % i) for i in range(12)]
        self.assertEqual(seen.count("a"), 6, seen)
        self.assertEqual(seen.count("b"), 6, seen)
        self.assertEqual(len(d.requests), 0)
        self.assertEqual(d.connections, 0)

    def test_max_conns_reached_sends_next_request_elsewhere(self):
        a, b = self.bb("a"), self.bb("b")
        _, port = self.pool(servers("server %s max_conns=1" % a.addr, "server %s" % b.addr))
        self.hold(port, a, [a, b], 1)
        seen = [self.served_by(port, "/quick/%d" % i) for i in range(6)]
        self.assertEqual(seen, ["b"] * 6, "a is at max_conns=1: round robin must skip it")

    # -- sticky (NGINX Plus syntax, tidegate only) -------------------------------------------

    def sticky_cookie(self, r, name="srv_id"):
        cookies = [parse_set_cookie(v) for v in r.header_all("Set-Cookie")]
        mine = [c for c in cookies if c[0] == name]
        self.assertEqual(len(mine), 1, "one Set-Cookie %s=...: %s" % (name, r.headers))
        _, value, attrs = mine[0]
        self.assertTrue(value, r.headers)
        self.assertEqual(attrs.get("path"), "/", r.headers)
        self.assertIn("expires", attrs, r.headers)
        expires = cookie_time(attrs["expires"])
        self.assertLess(abs(expires - (time.time() + 3600)), 300, "expires=1h: %s" % attrs["expires"])
        return value

    @unittest.skipIf(is_nginx(), NGINX_PLUS_ONLY % "sticky")
    def test_sticky_cookie_keeps_client_on_one_server_until_it_refuses(self):
        bs = {n: self.bb(n) for n in "abc"}
        _, port = self.pool(servers(*("server %s" % x.addr for x in bs.values()),
                                    "sticky cookie srv_id expires=1h path=/"))
        value_of = {}
        for i in range(3):  # no cookie: balanced as usual, each answer names its server
            r = http_get(port, "/new/%d" % i)
            self.assertEqual(r.status, 200, r)
            srv, value = r.header("X-Backend"), self.sticky_cookie(r)
            self.assertEqual(value_of.setdefault(srv, value), value, "one cookie value per server")
        self.assertEqual(len(set(value_of.values())), len(value_of), "servers have distinct values: %s" % value_of)
        srv, value = next(iter(value_of.items()))

        client = self.client(port)
        seen = [self.served_on(client, "/s/%d" % i, [("Cookie", "srv_id=" + value)]) for i in range(100)]
        self.assertEqual(seen, [srv] * 100, "the cookie pins the client to %s" % srv)
        client.close()

        bs[srv].stop()  # now refusing
        r = http_get(port, "/moved", headers=[("Cookie", "srv_id=" + value)])
        self.assertEqual(r.status, 200, r)
        moved_to = r.header("X-Backend")
        self.assertNotEqual(moved_to, srv)
        new_value = self.sticky_cookie(r)
        self.assertNotEqual(new_value, value, "a new server means a new cookie")
        if moved_to in value_of:
            self.assertEqual(new_value, value_of[moved_to])
        seen = [self.served_by(port, "/s2/%d" % i, [("Cookie", "srv_id=" + new_value)]) for i in range(10)]
        self.assertEqual(seen, [moved_to] * 10)

    @unittest.skipIf(is_nginx(), NGINX_PLUS_ONLY % "sticky or route=")
    def test_sticky_cookie_value_is_the_route_when_set(self):
        a, b = self.bb("a"), self.bb("b")
        _, port = self.pool(servers("server %s route=a" % a.addr, "server %s route=b" % b.addr,
                                    "sticky cookie srv_id expires=1h path=/"))
        for i in range(2):
            r = http_get(port, "/r/%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.sticky_cookie(r), r.header("X-Backend"), "route=%s is the cookie value"
                             % r.header("X-Backend"))
        for route in "ab":
            seen = [self.served_by(port, "/p/%d" % i, [("Cookie", "srv_id=" + route)]) for i in range(5)]
            self.assertEqual(seen, [route] * 5)

    @unittest.skipIf(is_nginx(), NGINX_PLUS_ONLY % "sticky route or route=")
    def test_sticky_route_from_cookie_or_arg_selects_server_with_that_route(self):
        bs = [self.bb(n) for n in "abc"]
        _, port = self.pool(servers(*("server %s route=%s" % (x.addr, x.name) for x in bs),
                                    "sticky route $cookie_route $arg_route"))
        client = self.client(port)
        self.assertEqual([self.served_on(client, "/x?route=b") for _ in range(10)], ["b"] * 10)
        self.assertEqual([self.served_on(client, "/x", [("Cookie", "route=c")]) for _ in range(10)], ["c"] * 10)
        # the first non-empty variable wins: $cookie_route before $arg_route
        self.assertEqual(self.served_on(client, "/x?route=b", [("Cookie", "route=a")]), "a")
        # no route: balanced as usual
        self.assertEqual(sorted({self.served_on(client, "/none/%d" % i) for i in range(6)}), ["a", "b", "c"])

    # -- proxy_next_upstream -------------------------------------------------------------------

    def test_next_upstream_retries_refused_connection_on_next_server(self):
        dead, good = self.refusing(), self.bb("good")
        px, port = self.pool(servers("server %s" % dead.addr, "server %s" % good.addr))
        seen = [self.served_by(port, "/r/%d" % i) for i in range(4)]
        self.assertEqual(seen, ["good"] * 4)
        self.assertTrue(px.wait_log("connect() failed (111: Connection refused) while connecting to upstream"),
                        px.error_log())

    def test_post_not_retried_after_reset_unless_non_idempotent(self):
        port = free_port()
        rst1, good1 = self.bb("rst1", reset=True), self.bb("good1")
        rst2, good2 = self.bb("rst2", reset=True), self.bb("good2")
        self.proxy(fill("""
worker_processes 1;
http {
    upstream default_pool {
        server @RST1@ max_fails=0;
        server @GOOD1@;
    }
    upstream non_idempotent_pool {
        server @RST2@ max_fails=0;
        server @GOOD2@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /default/ {
            proxy_pass http://default_pool;
        }
        location /non-idempotent/ {
            proxy_pass http://non_idempotent_pool;
            proxy_next_upstream error timeout non_idempotent;
        }
    }
}
""", PORT=port, RST1=rst1.addr, GOOD1=good1.addr, RST2=rst2.addr, GOOD2=good2.addr))

        def until_reset_server_hit(rst, good, method, path, expect_status, expect_good_delta):
            for i in range(3):  # round robin reaches the resetting server within two requests
                n_rst, n_good = len(rst.requests), len(good.requests)
                r = http_request(port, method, "%s/%d" % (path, i), body=b"form=1" if method == "POST" else None)
                if len(rst.requests) > n_rst:
                    self.assertEqual(r.status, expect_status, r)
                    self.assertEqual(len(good.requests) - n_good, expect_good_delta)
                    return
                self.assertEqual(r.status, 200, r)
            self.fail("%s never reached the resetting server" % path)

        # POST, already sent when the upstream reset: not idempotent, not retried
        until_reset_server_hit(rst1, good1, "POST", "/default/post", 502, 0)
        # GET is retried by default
        until_reset_server_hit(rst1, good1, "GET", "/default/get", 200, 1)
        # POST with non_idempotent: retried on the next server
        until_reset_server_hit(rst2, good2, "POST", "/non-idempotent/post", 200, 1)
        self.assertEqual(good2.last_request().method, "POST")

    def test_next_upstream_http_503_retries_on_next_server(self):
        port = free_port()
        bad1, good1 = self.bb("bad1", status=503), self.bb("good1")
        bad2, good2 = self.bb("bad2", status=503), self.bb("good2")
        self.proxy(fill("""
worker_processes 1;
http {
    upstream retry_pool {
        server @BAD1@;
        server @GOOD1@;
    }
    upstream plain_pool {
        server @BAD2@;
        server @GOOD2@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /retry/ {
            proxy_pass http://retry_pool;
            proxy_next_upstream error timeout http_503;
        }
        location /plain/ {
            proxy_pass http://plain_pool;
        }
    }
}
""", PORT=port, BAD1=bad1.addr, GOOD1=good1.addr, BAD2=bad2.addr, GOOD2=good2.addr))
        seen = [self.served_by(port, "/retry/%d" % i) for i in range(4)]
        self.assertEqual(seen, ["good1"] * 4)
        self.assertEqual(len(bad1.requests), 1, "tried once, then failed for fail_timeout")
        # without http_503 the 503 goes to the client
        statuses = [http_get(port, "/plain/%d" % i).status for i in range(2)]
        self.assertEqual(sorted(statuses), [200, 503])
        self.assertEqual((len(bad2.requests), len(good2.requests)), (1, 1))

    INVALID_HEADER_RESPONSE = b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok"

    def assert_next_upstream_condition(self, condition, bad_kwargs, bad_status, retry_bad_tries):
        """``condition`` listed in proxy_next_upstream: each of 6 requests is answered by
        the good server (retried there when the bad one was tried first); the bad server
        is tried ``retry_bad_tries`` times. Not listed: the bad answer (``bad_status``)
        goes to the client, no retry."""
        port = free_port()
        bad1, good1 = self.bb("bad1", **bad_kwargs), self.bb("good1")
        bad2, good2 = self.bb("bad2", **bad_kwargs), self.bb("good2")
        self.proxy(fill("""
worker_processes 1;
http {
    upstream retry_pool {
        server @BAD1@;
        server @GOOD1@;
    }
    upstream plain_pool {
        server @BAD2@;
        server @GOOD2@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /retry/ {
            proxy_pass http://retry_pool;
            proxy_next_upstream error timeout @CONDITION@;
        }
        location /plain/ {
            proxy_pass http://plain_pool;
        }
    }
}
""", PORT=port, BAD1=bad1.addr, GOOD1=good1.addr, BAD2=bad2.addr, GOOD2=good2.addr, CONDITION=condition))
        seen = [self.served_by(port, "/retry/%d" % i) for i in range(6)]
        self.assertEqual(seen, ["good1"] * 6)
        self.assertEqual(len(bad1.requests), retry_bad_tries, [q.target for q in bad1.requests])
        self.assertEqual(sorted(q.target for q in good1.requests), ["/retry/%d" % i for i in range(6)])
        # not listed: round robin sends one of two requests to the bad server, and its
        # answer is the client's
        got = sorted((r.status, r.header("X-Backend")) for r in (http_get(port, "/plain/%d" % i) for i in range(2)))
        bad_backend = None if bad_status == 502 else "bad2"  # a 502 of the proxy's own
        self.assertEqual(got, sorted([(200, "good2"), (bad_status, bad_backend)]))
        self.assertEqual((len(bad2.requests), len(good2.requests)), (1, 1))

    def test_next_upstream_http_403_retries_on_next_server(self):
        # nginx: http_403 is never counted as a failed attempt, so the 403 server stays
        # in the rotation: round robin tries it first for every other request (3 of 6)
        self.assert_next_upstream_condition("http_403", dict(status=403), 403, 3)

    def test_next_upstream_http_429_retries_on_next_server(self):
        # listed, a 429 counts as a failed attempt (max_fails=1): the server is then
        # skipped for fail_timeout, so it is tried once
        self.assert_next_upstream_condition("http_429", dict(status=429), 429, 1)

    def test_next_upstream_invalid_header_retries_on_next_server(self):
        # a response head with a space in a header name is an invalid header for nginx;
        # it is always a failed attempt (tried once), retried only when listed, else 502
        self.assert_next_upstream_condition("invalid_header", dict(raw=self.INVALID_HEADER_RESPONSE), 502, 1)

    def test_upstream_addr_and_status_list_every_attempt(self):
        port = free_port()
        dead, good1 = self.refusing(), self.bb("good1")
        bad, good2 = self.bb("bad", status=503), self.bb("good2")
        px = self.proxy(fill("""
worker_processes 1;
http {
    log_format up '$request_uri|$status|$upstream_addr|$upstream_status';
    access_log access.log up;
    upstream refused_pool {
        server @DEAD@;
        server @GOOD1@;
    }
    upstream status_pool {
        server @BAD@;
        server @GOOD2@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /refused/ {
            proxy_pass http://refused_pool;
        }
        location /s503/ {
            proxy_pass http://status_pool;
            proxy_next_upstream error timeout http_503;
        }
    }
}
""", PORT=port, DEAD=dead.addr, GOOD1=good1.addr, BAD=bad.addr, GOOD2=good2.addr))
        # two requests each: whichever server round robin starts with, exactly one of them
        # tries the failing server first (which is then failed for fail_timeout)
        for path in ("/refused/1", "/refused/2", "/s503/1", "/s503/2"):
            self.assertEqual(http_get(port, path).status, 200)
        self.assertTrue(px.wait_log("/s503/2|", rel="access.log"), px.log("access.log"))
        lines = sorted(line for line in px.log("access.log").splitlines() if line)
        self.assertEqual(len(lines), 4, lines)
        expected_two = {
            "refused": "200|%s, %s|502, 200" % (dead.addr, good1.addr),
            "s503": "200|%s, %s|503, 200" % (bad.addr, good2.addr),
        }
        expected_one = {"refused": "200|%s|200" % good1.addr, "s503": "200|%s|200" % good2.addr}
        for group in ("refused", "s503"):
            mine = sorted(line.split("|", 1)[1] for line in lines if line.startswith("/%s/" % group))
            self.assertEqual(mine, sorted([expected_two[group], expected_one[group]]), lines)

    # -- latency-aware (tidegate only) ------------------------------------------------------------

    def assert_steers_away_from_slow_server(self, method):
        # 60 ms: a stall of the (in-process) fast backend on a loaded CI machine must not
        # make it look slower than the slow one (with 20 ms it once got 43 of 200)
        fast, slow = self.bb("fast"), self.bb("slow", delay_ms=60)
        _, port = self.pool(servers(method, "server %s" % fast.addr, "server %s" % slow.addr))
        client = self.client(port)
        seen = [self.served_on(client, "/lt/%d" % i) for i in range(200)]
        counts = {n: seen.count(n) for n in ("fast", "slow")}
        self.assertEqual(counts["fast"] + counts["slow"], 200)
        self.assertLessEqual(counts["slow"] * 4, counts["fast"], "%s: the 60 ms server must get clearly "
                             "fewer of 200 sequential requests: %s" % (method, counts))

    @unittest.skipIf(is_nginx(), NGINX_PLUS_ONLY % "least_time")
    def test_least_time_header_steers_away_from_slow_server(self):
        self.assert_steers_away_from_slow_server("least_time header")

    @unittest.skipIf(is_nginx(), "tidegate extension: nginx has no peak_ewma")
    def test_peak_ewma_steers_away_from_slow_server(self):
        for method in ("peak_ewma", "peak_ewma decay=10s"):
            with self.subTest(method=method):
                self.assert_steers_away_from_slow_server(method)


if __name__ == "__main__":
    unittest.main()
