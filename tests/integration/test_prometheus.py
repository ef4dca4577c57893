"""tidegate's Prometheus page (`location = /metrics { prometheus; }`): the text exposition
format 0.0.4 with nginx-prometheus-exporter's nginxplus_* names and tidegate's
response-time histograms, values that follow the traffic sent, `promtool check
metrics`, and a real Prometheus server scraping it and answering PromQL queries.

A tidegate extension (nginx OSS has no `prometheus` directive): every class skips
under nginx. The promtool and Prometheus tests need Debian's `prometheus` package.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.admin_client import (Api, ExternalProcess, parse_prometheus, sample,  # noqa: E402
                                        spread, wait_until)
from tests.support.harness import (IntegrationTest, fill, free_port, http_get,  # noqa: E402
                                   http_request, is_nginx)

SKIP_NGINX = "NGINX Plus API / tidegate extension"

CONF = """
http {
    access_log off;
    upstream be {
        zone be 64k;
        server @B1@;
        server @B2@;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:@PORT@;
        status_zone front;
        location /api { api write=on; }
        location = /metrics { prometheus; }
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /app/ { status_zone app; proxy_pass http://be/; }
        location / { proxy_pass http://be; }
    }
}
"""

HISTOGRAM = "tidegate_upstream_server_response_seconds"
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]


class MetricsBase(IntegrationTest):
    def start(self):
        self.port = free_port()
        self.b1 = self.backend("b1")
        self.b2 = self.backend("b2")
        self.px = self.proxy(fill(CONF, PORT=self.port, B1=self.b1.addr, B2=self.b2.addr))
        self.api = Api(self.port)

    def page(self):
        r = http_get(self.port, "/metrics")
        self.assertEqual(r.status, 200, r)
        return r

    def metrics(self):
        return parse_prometheus(self.page().text)


class PrometheusPageTest(MetricsBase):
    def setUp(self):
        if is_nginx():
            self.skipTest(SKIP_NGINX)
        self.start()

    def test_content_type_and_methods(self):
        r = self.page()
        self.assertEqual(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8")
        self.assertTrue(r.text.endswith("\n"))
        head = http_request(self.port, "HEAD", "/metrics")
        self.assertEqual(head.status, 200, head)
        self.assertEqual(head.body, b"")
        post = http_request(self.port, "POST", "/metrics", body=b"x")
        self.assertEqual(post.status, 405, post)
        self.assertEqual(post.header("allow"), "GET, HEAD")

    def test_every_family_has_help_and_type(self):
        samples, types, helps = self.metrics()
        expected = {
            "nginxplus_connections_accepted": "counter",
            "nginxplus_connections_dropped": "counter",
            "nginxplus_connections_active": "gauge",
            "nginxplus_connections_idle": "gauge",
            "nginxplus_http_requests_total": "counter",
            "nginxplus_http_requests_current": "gauge",
            "nginxplus_server_zone_requests": "counter",
            "nginxplus_server_zone_responses": "counter",
            "nginxplus_location_zone_requests": "counter",
            "nginxplus_upstream_server_state": "gauge",
            "nginxplus_upstream_server_requests": "counter",
            "nginxplus_upstream_server_responses": "counter",
            "nginxplus_upstream_server_sent": "counter",
            "nginxplus_upstream_server_received": "counter",
            "nginxplus_upstream_server_fails": "counter",
            "nginxplus_upstream_server_active": "gauge",
            "nginxplus_upstream_zombies": "gauge",
            HISTOGRAM: "histogram",
        }
        for name, kind in expected.items():
            with self.subTest(name):
                self.assertEqual(types.get(name), kind)
                self.assertTrue(helps.get(name))
        # every sample belongs to a declared family
        for (name, _labels) in samples:
            family = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and name[:-len(suffix)] in types:
                    family = name[:-len(suffix)]
            self.assertIn(family, types, name)

    def test_values_follow_the_traffic(self):
        samples0, _, _ = self.metrics()
        n = 20
        for i in range(n):
            self.assertEqual(http_get(self.port, "/x%d" % i).status, 200)
        for i in range(3):
            self.assertEqual(http_get(self.port, "/app/status/404").status, 404)
        samples, _, _ = self.metrics()
        # 23 connections and requests, plus the first scrape's
        self.assertEqual(sample(samples, "nginxplus_connections_accepted") -
                         sample(samples0, "nginxplus_connections_accepted"), n + 3 + 1)
        self.assertEqual(sample(samples, "nginxplus_http_requests_total") -
                         sample(samples0, "nginxplus_http_requests_total"), n + 3 + 1)
        self.assertEqual(sample(samples, "nginxplus_connections_dropped"), 0)
        self.assertGreaterEqual(sample(samples, "nginxplus_connections_active"), 1)
        total_requests = 0
        for b in (self.b1, self.b2):
            with self.subTest(b.name):
                labels = {"server": b.addr, "upstream": "be"}
                got = sample(samples, "nginxplus_upstream_server_requests", **labels)
                self.assertEqual(got, len(b.requests))
                total_requests += got
                n404 = sum(1 for r in b.requests if r.path == "/status/404")
                self.assertEqual(sample(samples, "nginxplus_upstream_server_responses",
                                        code="2xx", **labels), len(b.requests) - n404)
                self.assertEqual(sample(samples, "nginxplus_upstream_server_responses",
                                        code="4xx", **labels), n404)
                for code in ("1xx", "3xx", "5xx"):
                    self.assertEqual(sample(samples, "nginxplus_upstream_server_responses",
                                            code=code, **labels), 0)
                self.assertEqual(sample(samples, "nginxplus_upstream_server_state", **labels), 1)
                self.assertEqual(sample(samples, "nginxplus_upstream_server_fails", **labels), 0)
                self.assertEqual(sample(samples, "nginxplus_upstream_server_active", **labels), 0)
                self.assertGreater(sample(samples, "nginxplus_upstream_server_sent", **labels), 0)
                self.assertGreater(sample(samples, "nginxplus_upstream_server_received", **labels),
                                   0)
                # the histogram: cumulative buckets, +Inf == _count == requests
                counts = [sample(samples, HISTOGRAM + "_bucket", le=le, **labels)
                          for le in BUCKETS]
                self.assertEqual(counts, sorted(counts))
                self.assertEqual(counts[-1], got)
                self.assertEqual(sample(samples, HISTOGRAM + "_count", **labels), got)
                total = sample(samples, HISTOGRAM + "_sum", **labels)
                self.assertGreater(total, 0)
                self.assertLess(total, got * 1.0)  # local echo answers take far less than 1 s
        self.assertEqual(total_requests, n + 3)
        # one idle keep-alive connection per server, the requests were one at a time
        self.assertEqual(sample(samples, "nginxplus_upstream_keepalive", upstream="be"), 2)
        self.assertEqual(self.api.json("/http/upstreams/be")["keepalive"], 2)
        # the API says the same
        for p in self.api.peers("be"):
            self.assertEqual(p["requests"], sample(samples, "nginxplus_upstream_server_requests",
                                                   server=p["server"], upstream="be"))
        # zones
        self.assertEqual(sample(samples, "nginxplus_location_zone_requests", location_zone="app"),
                         3)
        self.assertEqual(sample(samples, "nginxplus_location_zone_responses", location_zone="app",
                                code="4xx"), 3)
        self.assertGreaterEqual(sample(samples, "nginxplus_server_zone_requests",
                                       server_zone="front"), n + 3)
        self.assertGreaterEqual(sample(samples, "nginxplus_server_zone_responses",
                                       server_zone="front", code="2xx"), n)

    def test_counters_do_not_go_back_when_the_api_resets_statistics(self):
        # Prometheus counters only grow: DELETE /api/9/http/upstreams/be resets the API's
        # view, not the exported counters.
        spread(self.port, 10)
        before, _, _ = self.metrics()
        self.assertEqual(self.api.delete("/http/upstreams/be").status, 204)
        self.assertEqual(sum(p["requests"] for p in self.api.peers("be")), 0)
        spread(self.port, 4)
        after, _, _ = self.metrics()
        for b in (self.b1, self.b2):
            labels = {"server": b.addr, "upstream": "be"}
            self.assertEqual(sample(after, "nginxplus_upstream_server_requests", **labels),
                             sample(before, "nginxplus_upstream_server_requests", **labels) + 2)
            self.assertEqual(sample(after, HISTOGRAM + "_count", **labels),
                             sample(before, HISTOGRAM + "_count", **labels) + 2)

    def test_server_state_numbers(self):
        # nginx-prometheus-exporter's numbers: up 1, draining 2, down 3
        self.api.change_server("be", self.api.server_id("be", self.b1.addr), {"drain": True})
        self.api.change_server("be", self.api.server_id("be", self.b2.addr), {"down": True})
        samples, _, _ = self.metrics()
        self.assertEqual(sample(samples, "nginxplus_upstream_server_state", server=self.b1.addr,
                                upstream="be"), 2)
        self.assertEqual(sample(samples, "nginxplus_upstream_server_state", server=self.b2.addr,
                                upstream="be"), 3)
        # a server added through the API appears, one removed disappears
        b3 = self.backend("b3")
        new = self.api.add_server("be", {"server": b3.addr})
        self.api.remove_server("be", self.api.server_id("be", self.b2.addr))
        samples, _, _ = self.metrics()
        self.assertEqual(sample(samples, "nginxplus_upstream_server_state", server=b3.addr,
                                upstream="be"), 1)
        self.assertNotIn(("nginxplus_upstream_server_state",
                          frozenset({"server": self.b2.addr, "upstream": "be"}.items())), samples)
        self.assertEqual(new["server"], b3.addr)

    def test_a_failing_server_counts_fails_and_unavail(self):
        refusing = self.refusing()
        self.api.add_server("be", {"server": refusing.addr, "max_fails": 1, "fail_timeout": "30s"})
        # round robin reaches the refusing server within three requests; each is retried
        # on a working one (proxy_next_upstream error)
        for i in range(3):
            self.assertEqual(http_get(self.port, "/f%d" % i).status, 200)
        samples, _, _ = self.metrics()
        labels = {"server": refusing.addr, "upstream": "be"}
        self.assertEqual(sample(samples, "nginxplus_upstream_server_fails", **labels), 1)
        self.assertEqual(sample(samples, "nginxplus_upstream_server_unavail", **labels), 1)
        self.assertEqual(sample(samples, "nginxplus_upstream_server_requests", **labels), 1)
        self.assertEqual(sample(samples, "nginxplus_upstream_server_state", **labels), 4)
        for code in ("1xx", "2xx", "3xx", "4xx", "5xx"):
            self.assertEqual(sample(samples, "nginxplus_upstream_server_responses", code=code,
                                    **labels), 0)
        self.assertEqual(sum(sample(samples, "nginxplus_upstream_server_responses", code="2xx",
                                    server=b.addr, upstream="be") for b in (self.b1, self.b2)), 3)

    def test_promtool_check_metrics(self):
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool not installed (Debian package prometheus)")
        spread(self.port, 10)
        self.assertEqual(http_get(self.port, "/app/x").status, 200)
        body = self.page().body
        r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                           timeout=30)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        # 0: clean; 3: lint problems only (nginx-prometheus-exporter's counter names have
        # no _total suffix); 1: the page could not be parsed.
        self.assertIn(r.returncode, (0, 3), out)
        self.assertNotIn("error while linting", out)
        self.assertNotIn("parsing error", out)
        if os.environ.get("TIDEGATE_SHOW_METRICS"):
            sys.stderr.write("\npromtool check metrics (rc %d):\n%s\n" % (r.returncode, out))


# -- a real Prometheus server -------------------------------------------------------------------


class PrometheusServerTest(MetricsBase):
    def setUp(self):
        if is_nginx():
            self.skipTest(SKIP_NGINX)
        self.prometheus_bin = shutil.which("prometheus")
        if not self.prometheus_bin:
            self.skipTest("prometheus not installed (Debian package prometheus)")
        self.start()

    def start_prometheus(self):
        work = tempfile.mkdtemp(prefix="tidegate-prom-")
        self.addCleanup(shutil.rmtree, work, True)
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tidegate
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:%d"]
""" % self.port)
        self.prom_port = free_port()
        proc = ExternalProcess([self.prometheus_bin, "--config.file=" + config,
                                "--storage.tsdb.path=" + os.path.join(work, "data"),
                                "--web.listen-address=127.0.0.1:%d" % self.prom_port,
                                "--storage.tsdb.retention.time=1h", "--log.level=warn"],
                               os.path.join(work, "prometheus.log"), cwd=work)
        proc.start()
        self.addCleanup(proc.stop)
        self.prom = proc

        def ready():
            if not proc.running():
                raise AssertionError("prometheus exited:\n" + proc.log()[-4000:])
            try:
                return http_get(self.prom_port, "/-/ready", timeout=2).status == 200
            except (OSError, AssertionError):
                return False
        wait_until(ready, 30, 0.2, what="prometheus ready")

    def query(self, promql):
        """The instant vector of a PromQL query: [(labels, float value)]."""
        r = http_get(self.prom_port, "/api/v1/query?" + urllib.parse.urlencode({"query": promql}),
                     timeout=5)
        self.assertEqual(r.status, 200, r)
        d = json.loads(r.body)
        self.assertEqual(d["status"], "success", d)
        return [(x["metric"], float(x["value"][1])) for x in d["data"]["result"]]

    def scalar(self, promql):
        res = self.query(promql)
        return res[0][1] if len(res) == 1 else None

    def wait_value(self, promql, predicate, timeout=30, what=None):
        def check():
            v = self.scalar(promql)
            return v if v is not None and not math.isnan(v) and predicate(v) else None
        v = wait_until(check, timeout, 0.25, what=what or promql)
        if os.environ.get("TIDEGATE_SHOW_METRICS"):
            sys.stderr.write("\n  %s = %r" % (promql, v))
        return v

    def test_prometheus_scrapes_and_queries_the_traffic(self):
        self.start_prometheus()
        # a first scrape (before any traffic) is the baseline
        self.wait_value('up{job="tidegate"}', lambda v: v == 1, what="tidegate scraped")
        self.wait_value('count(nginxplus_upstream_server_requests{upstream="be"})',
                        lambda v: v == 2, what="both servers' series")
        n = 120
        counts = spread(self.port, n)
        self.assertEqual(counts, {"b1": n // 2, "b2": n // 2})
        self.wait_value('sum(nginxplus_upstream_server_requests{upstream="be"})',
                        lambda v: v == n, what="the %d requests scraped" % n)
        per_server = self.query('nginxplus_upstream_server_requests{upstream="be"}')
        self.assertEqual(sorted((m["server"], v) for m, v in per_server),
                         sorted((b.addr, n / 2) for b in (self.b1, self.b2)))
        self.assertEqual(self.scalar('sum(nginxplus_upstream_server_responses{upstream="be",'
                                     'code="2xx"})'), n)
        # increase() extrapolates to the edges of its window: generous bounds
        inc = self.wait_value('sum(increase(nginxplus_upstream_server_requests{upstream="be"}[30s]))',
                              lambda v: v >= n * 0.5, what="increase() of the requests")
        self.assertLessEqual(inc, n * 3)
        rate = self.wait_value('sum(rate(nginxplus_upstream_server_requests{upstream="be"}[30s]))',
                               lambda v: v > 0, what="rate() of the requests")
        self.assertLessEqual(rate, n)  # all sent within the window: at most n per second
        q = self.wait_value('histogram_quantile(0.95, sum by (le) '
                            '(rate(%s_bucket{upstream="be"}[30s])))' % HISTOGRAM,
                            lambda v: True, what="a 95th percentile from the histogram")
        self.assertGreater(q, 0)
        self.assertLessEqual(q, 10)
        self.assertTrue(self.prom.running())


if __name__ == "__main__":
    unittest.main()
