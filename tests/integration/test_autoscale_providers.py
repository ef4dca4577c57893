"""The autoscaler with real peers (tidegate only): a real Prometheus server answering
an `autoscale` block's external metric, and a `webhook` provider whose receiver (this
test) checks every request's HMAC signature and starts and stops real backend
processes.
"""

import hashlib
import hmac
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.admin_client import ExternalProcess, wait_until  # noqa: E402
from tests.support.harness import REPO_ROOT, IntegrationTest, fill, free_port, http_get, is_nginx  # noqa: E402

BACKEND = str(REPO_ROOT / "conf" / "examples" / "demo_backend.py")

CONF = """
worker_processes 1;
http {
    access_log off;
    upstream app {
        zone app 64k;
        autoscale {
            @PROVIDER@
            min @MIN@;
            max 2;
            interval 200ms;
            @POLICIES@
            cooldown out=1s in=1s;
        }
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /api { api write=on; }
        location / {
            proxy_pass http://app;
            health_check interval=200ms passes=1 uri=/health;
        }
    }
}
"""


class Served(threading.Thread):
    """An http.server on 127.0.0.1 in a thread, stopped at cleanup."""

    def __init__(self, testcase, handler):
        super().__init__(daemon=True)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.owner = self
        self.port = self.server.server_address[1]
        self.start()
        testcase.addCleanup(self.server.shutdown)

    def run(self):
        self.server.serve_forever()


class AutoscaleWithRealPeersTest(IntegrationTest):
    def setUp(self):
        if is_nginx():
            self.skipTest("autoscale is tidegate's")
        self.port = free_port()

    def status(self):
        return http_get(self.port, "/api/9/tidegate/autoscale/app").json()

    def up(self):
        peers = http_get(self.port, "/api/9/http/upstreams/app").json()["peers"]
        return [p for p in peers if p["state"] == "up"]

    def test_a_prometheus_query_drives_scaling(self):
        prometheus = shutil.which("prometheus")
        if not prometheus:
            self.skipTest("prometheus not installed (Debian package prometheus)")
        depth = {"value": 0}

        class Exporter(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = ("# TYPE queue_depth gauge\nqueue_depth %d\n" % depth["value"]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        exporter = Served(self, Exporter)
        work = tempfile.mkdtemp(prefix="tg-prom-")
        self.addCleanup(shutil.rmtree, work, True)
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write("global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
                    "scrape_configs:\n  - job_name: queue\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % exporter.port)
        prom_port = free_port()
        proc = ExternalProcess([prometheus, "--config.file=" + os.path.join(work, "prometheus.yml"),
                                "--storage.tsdb.path=" + os.path.join(work, "data"),
                                "--web.listen-address=127.0.0.1:%d" % prom_port, "--log.level=warn"],
                               os.path.join(work, "prometheus.log"), cwd=work).start()
        self.addCleanup(proc.stop)
        def ready():
            try:
                return http_get(prom_port, "/-/ready", timeout=2).status == 200
            except OSError:
                return False
        wait_until(ready, 30, 0.2, what="prometheus ready")

        def scraped():
            r = http_get(prom_port, "/api/v1/query?query=queue_depth", timeout=2).json()
            return r["data"]["result"]
        wait_until(scraped, 30, 0.2, what="prometheus scraping the exporter")

        policies = ('metric queue prometheus=http://127.0.0.1:%d "query=max(queue_depth)" interval=1s;\n'
                    "            scale_out queue > 100;\n            scale_in queue < 10 for=2s;" % prom_port)
        px = self.proxy(fill(CONF, PORT=self.port, MIN=1, POLICIES=policies,
                             PROVIDER='provider local "command=/usr/bin/python3 %s {port}";' % BACKEND))
        wait_until(lambda: len(self.up()) == 1, 20, what="the first instance")
        depth["value"] = 500
        wait_until(lambda: len(self.up()) == 2, 30, what="scale-out on queue depth 500")
        outs = [e for e in self.status()["events"] if e["kind"] == "scale_out" and e["cause"] == "policy"]
        self.assertEqual(outs[0]["values"]["queue"], 500)
        self.assertIn("scale_out queue 500 > 100", outs[0]["message"])
        depth["value"] = 0
        wait_until(lambda: len(self.status()["instances"]) == 1, 30, what="scale-in on queue depth 0")
        self.assertNotIn("metric_error", [e["kind"] for e in self.status()["events"]], px.error_log())

    def test_webhook_provider_signed_requests_start_and_stop_real_backends(self):
        secret = "It's a Secret to Everybody"
        calls, bad = [], []
        running = {}  # id -> Popen
        lock = threading.Lock()
        self.addCleanup(lambda: [p.kill() for p in running.values()])

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                if self.headers.get("X-Tidegate-Signature-256") != want:
                    bad.append(dict(self.headers))
                    return self.answer(401, {"message": "bad signature"})
                req = json.loads(body)
                with lock:
                    calls.append(req)
                    if req["action"] == "add":
                        for _ in range(req["count"]):
                            port = free_port()
                            p = subprocess.Popen(["/usr/bin/python3", BACKEND, str(port)],
                                                 stdin=subprocess.DEVNULL)
                            running["be-%d" % port] = p
                            p.address = "127.0.0.1:%d" % port
                    elif req["action"] == "remove":
                        for i in req["instances"]:
                            p = running.pop(i["id"])
                            p.send_signal(signal.SIGTERM)
                            p.wait(5)
                    instances = [{"id": k, "address": p.address} for k, p in running.items()]
                self.answer(200, {"instances": instances})

            def answer(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        hook = Served(self, Receiver)
        provider = 'provider webhook url=http://127.0.0.1:%d/scale "secret=%s";' % (hook.port, secret)
        px = self.proxy(fill(CONF, PORT=self.port, MIN=2, PROVIDER=provider,
                             POLICIES="scale_in rps < 1000 for=1s;"))
        wait_until(lambda: len(self.up()) == 2, 20, what="two webhook instances serving")
        self.assertEqual([c["action"] for c in calls[:2]], ["list", "add"])
        self.assertEqual(calls[1], {"action": "add", "group": "app", "count": 2})
        bodies = {http_get(self.port, "/").text for _ in range(6)}
        self.assertEqual(len(bodies), 2, bodies)  # both backends answer
        # min 2 holds the group; lower it with a reload: the scale-in rule removes one,
        # drained, through a signed `remove` naming exactly that instance.
        px.write_conf(fill(CONF, PORT=self.port, MIN=1, PROVIDER=provider,
                           POLICIES="scale_in rps < 1000 for=1s;"))
        px.signal(signal.SIGHUP)
        wait_until(lambda: len(running) == 1, 20, what="one instance removed")
        removes = [c for c in calls if c["action"] == "remove"]
        self.assertEqual(len(removes), 1)
        self.assertEqual(len(removes[0]["instances"]), 1)
        self.assertEqual(set(removes[0]["instances"][0]), {"id", "address"})
        wait_until(lambda: len(self.up()) == 1, 10, what="the group down to one server")
        self.assertEqual(http_get(self.port, "/").status, 200)
        self.assertEqual(bad, [])


if __name__ == "__main__":
    unittest.main()
