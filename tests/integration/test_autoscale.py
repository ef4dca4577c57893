"""The autoscaler end to end (tidegate only: nginx has no `autoscale`).

The real binary, the `local` provider starting real backend processes
(conf/examples/demo_backend.py), real clients: load rises and instances are added,
health-checked and then served; load falls and they are drained, removed and their
processes stopped, with zero failed requests. Also: the `exec` provider failing and
recovering, reconcile after a restart, the API, Prometheus, and -t's errors.
"""

import json
import os
import signal
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import REPO_ROOT, IntegrationTest, fill, free_port, http_get, is_nginx, run_cli  # noqa: E402

BACKEND = str(REPO_ROOT / "conf" / "examples" / "demo_backend.py")

CONF = """
worker_processes 1;
http {
    access_log off;
    upstream app {
        zone app 64k;
        least_conn;
        autoscale {
            provider @PROVIDER@;
            min @MIN@;
            max 3;
            interval 200ms;
            scale_out rps_per_server > 15 for=1s;
            scale_in rps_per_server < 4 for=2s;
            cooldown out=1s in=2s;
            drain_timeout 3s;
        }
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /api { api write=on; }
        location = /metrics { prometheus; }
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            health_check interval=200ms passes=1 fails=2 uri=/health;
        }
    }
}
"""

LOCAL = '"local" "command=/usr/bin/python3 %s {port}"' % BACKEND


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes, but it must not stay one: see reaped checks.
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split(") ", 1)[1][0] != "Z"


class Load:
    """Clients sending GETs at about `rate` requests/s until stopped; every answer kept."""

    def __init__(self, port, rate, threads=4):
        self.port, self.rate = port, rate
        self.statuses = []
        self.errors = []
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(threads,), daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, n):
        period = n / float(self.rate)
        while not self.stop_flag.is_set():
            t0 = time.monotonic()
            try:
                self.statuses.append(http_get(self.port, "/", timeout=5).status)
            except OSError as e:
                self.errors.append(repr(e))
            time.sleep(max(0.0, period - (time.monotonic() - t0)))

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(10)


class AutoscaleBase(IntegrationTest):
    """Helpers: the group's autoscale status and servers through the API."""

    def setUp(self):
        if is_nginx():
            self.skipTest("autoscale is tidegate's")
        self.port = free_port()

    def status(self):
        return http_get(self.port, "/api/9/tidegate/autoscale/app").json()

    def servers(self):
        return http_get(self.port, "/api/9/http/upstreams/app").json()["peers"]

    def wait_for(self, what, predicate, timeout, px):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        self.fail("timed out waiting for %s\nautoscale: %s\n%s" % (
            what, json.dumps(self.status(), indent=1)[-3000:], px.diagnostics()))

    def up_servers(self):
        return [p for p in self.servers() if p["state"] == "up"]


class AutoscaleTest(AutoscaleBase):
    def test_load_scales_out_then_in_with_zero_failed_requests(self):
        px = self.proxy(fill(CONF, PORT=self.port, PROVIDER=LOCAL, MIN=1))
        # min 1: the first instance is started, checked, then serves.
        self.wait_for("the first instance", lambda: len(self.up_servers()) == 1, 15, px)
        first = self.status()["instances"]
        self.assertEqual(len(first), 1)
        self.assertEqual(http_get(self.port, "/").status, 200)

        load = Load(self.port, rate=80)
        try:
            self.wait_for("scale-out to max 3", lambda: len(self.up_servers()) == 3, 30, px)
            st = self.status()
            kinds = [e["kind"] for e in st["events"]]
            self.assertIn("scale_out", kinds)
            outs = [e for e in st["events"] if e["kind"] == "scale_out" and e["cause"] == "policy"]
            self.assertTrue(outs, st["events"])
            self.assertIn("rps_per_server", outs[0]["values"])
            self.assertGreater(outs[0]["values"]["rps_per_server"], 15)
            # The added instances took traffic.
            time.sleep(1.5)
            for peer in self.servers():
                self.assertGreater(peer["requests"], 0, peer)
        finally:
            load.stop()
        self.assertEqual(load.errors, [])
        self.assertTrue(load.statuses)
        self.assertEqual(set(load.statuses), {200})

        pids = [int(i["id"].split("-")[1]) for i in self.status()["instances"]]
        self.assertEqual(len(pids), 3)
        # Load falls to a trickle: servers drain and go, down to min 1, and every
        # request of the trickle succeeds meanwhile.
        trickle = Load(self.port, rate=3, threads=1)
        try:
            self.wait_for("scale-in to min 1", lambda: len(self.status()["instances"]) == 1 and
                          len(self.servers()) == 1, 60, px)
        finally:
            trickle.stop()
        self.assertEqual(trickle.errors, [])
        self.assertEqual(set(trickle.statuses), {200})
        events = self.status()["events"]
        self.assertIn("draining", [e["cause"] for e in events])
        self.assertIn("drained", [e["cause"] for e in events])
        self.assertIn("deleted", [e["cause"] for e in events])
        survivor = int(self.status()["instances"][0]["id"].split("-")[1])
        for pid in pids:
            if pid != survivor:
                self.wait_for("process %d stopped" % pid, lambda: not pid_alive(pid), 10, px)
        self.assertTrue(pid_alive(survivor))
        log = px.error_log()
        self.assertRegex(log, r'\[notice\] \d+#\d+: autoscale "app": scale out 1 -> 2: scale_out rps_per_server')
        self.assertRegex(log, r'\[notice\] \d+#\d+: autoscale "app": scale in 2 -> 1: scale_in rps_per_server')

        metrics = http_get(self.port, "/metrics").text
        self.assertIn('tidegate_autoscale_current{upstream="app"} 1', metrics)
        self.assertRegex(metrics, r'tidegate_autoscale_events_total\{upstream="app",kind="scale_out",cause="policy"\} [2-9]')

        # tidegate's exit stops the provider's processes.
        px.stop()
        self.wait_for("the last instance stopped", lambda: not pid_alive(survivor), 10, px)

    def test_a_reload_without_the_block_stops_local_instances_and_their_servers(self):
        px = self.proxy(fill(CONF, PORT=self.port, PROVIDER=LOCAL, MIN=2))
        self.wait_for("two instances", lambda: len(self.up_servers()) == 2, 20, px)
        pids = [int(i["id"].split("-")[1]) for i in self.status()["instances"]]
        static = self.backend("static")
        conf = fill(CONF, PORT=self.port, PROVIDER=LOCAL, MIN=2)
        start = conf.index("        autoscale {")
        end = conf.index("        }\n", start) + len("        }\n")
        px.write_conf(conf[:start] + "        server %s;\n" % static.addr + conf[end:])
        px.signal(signal.SIGHUP)
        self.wait_for("only the conf's server", lambda: [p["server"] for p in self.servers()] == [static.addr], 10, px)
        for pid in pids:
            self.wait_for("process %d stopped" % pid, lambda: not pid_alive(pid), 10, px)
        self.assertEqual(http_get(self.port, "/api/9/tidegate/autoscale").json(), {})
        for _ in range(5):
            self.assertEqual(http_get(self.port, "/").status, 200)

    def test_exec_provider_failure_is_retried_and_restart_reconciles(self):
        tmp = tempfile.mkdtemp(prefix="tg-exec-")
        os.chmod(tmp, 0o777)  # the provider runs as the `user` tidegate drops to
        self.addCleanup(lambda: os.system("rm -rf " + tmp))
        state = os.path.join(tmp, "instances")
        fails = os.path.join(tmp, "fails")
        with open(fails, "w") as f:
            f.write("2")
        os.chmod(fails, 0o666)
        backend_port = free_port()
        script = os.path.join(tmp, "provider.sh")
        # An operator's script: `add` fails twice (quota), then starts a demo backend
        # recorded in a file; `list` prints that file; `remove` stops and forgets it.
        with open(script, "w") as f:
            f.write("""#!/bin/sh
set -e
cmd=$1; group=$2
echo "$*" >> %(tmp)s/calls
case $cmd in
list) if [ -s %(state)s ]; then echo "{\\"instances\\":[$(cat %(state)s)]}"; else echo '{"instances":[]}'; fi ;;
add)
  n=$(cat %(fails)s)
  if [ "$n" -gt 0 ]; then echo $((n-1)) > %(fails)s; echo "quota exceeded" >&2; exit 3; fi
  /usr/bin/python3 %(backend)s %(port)d </dev/null >/dev/null 2>&1 &
  echo $! > %(tmp)s/pid
  echo "{\\"id\\":\\"app-1\\",\\"address\\":\\"127.0.0.1:%(port)d\\"}" > %(state)s
  echo "{\\"instances\\":[$(cat %(state)s)]}" ;;
remove) kill $(cat %(tmp)s/pid); : > %(state)s ;;
esac
""" % {"tmp": tmp, "state": state, "fails": fails, "backend": BACKEND, "port": backend_port})
        os.chmod(script, 0o755)
        self.addCleanup(lambda: os.path.exists(tmp + "/pid") and os.system(
            "kill $(cat %s/pid) 2>/dev/null" % tmp))
        conf = fill(CONF, PORT=self.port, PROVIDER='exec "command=%s"' % script, MIN=1)
        px = self.proxy(conf)
        self.wait_for("the instance after two failures", lambda: len(self.up_servers()) == 1, 20, px)
        events = self.status()["events"]
        errors = [e for e in events if e["kind"] == "provider_error"]
        self.assertEqual(len(errors), 2, events)
        self.assertIn("quota exceeded", errors[0]["message"])
        self.assertIn("retrying in 1s", errors[0]["message"])
        self.assertIn("retrying in 2s", errors[1]["message"])
        self.assertRegex(px.error_log(), r'\[error\] \d+#\d+: autoscale "app": exec provider add failed: .*quota exceeded')
        with open(os.path.join(tmp, "calls")) as f:
            calls = f.read().split("\n")
        self.assertEqual(calls[0], "list app")
        self.assertEqual([c for c in calls if c.startswith("add")], ["add app 1"] * 3)

        # A restart finds the instance through `list` and adopts it: no new `add`.
        px.stop()
        px2 = self.proxy(conf)
        self.wait_for("the adopted instance", lambda: len(self.up_servers()) == 1, 20, px2)
        time.sleep(1)
        with open(os.path.join(tmp, "calls")) as f:
            calls = f.read().split("\n")
        self.assertEqual(len([c for c in calls if c.startswith("add")]), 3, calls)
        self.assertEqual(self.status()["instances"][0]["address"], "127.0.0.1:%d" % backend_port)


WS_CONF = """
worker_processes 1;
http {
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    access_log off;
    upstream app {
        zone app 64k;
        least_conn;
        autoscale {
            provider @PROVIDER@;
            min 1;
            max 2;
            interval 200ms;
            scale_out tunnels_per_server > 2;
            scale_out ws_messages > 1000000;
            scale_in tunnels_per_server < 2 for=1s;
            cooldown out=1s in=1s;
            drain_timeout 2s;
        }
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /api { api write=on; }
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            health_check interval=200ms passes=1 fails=2 uri=/health;
        }
    }
}
"""


class AutoscaleWebSocketTest(AutoscaleBase):
    def test_tunnels_scale_out_and_a_drained_instance_closes_them_with_1001(self):
        from tests.support.ws_backends import WsClient, _loop
        px = self.proxy(fill(WS_CONF, PORT=self.port, PROVIDER=LOCAL))
        self.wait_for("the first instance", lambda: len(self.up_servers()) == 1, 15, px)
        first = self.up_servers()[0]["server"].split(":")[1]
        clients = [WsClient.connect(self.port, "/ws") for _ in range(3)]
        for c in clients:
            self.addCleanup(lambda c=c: _loop().call_soon_threadsafe(c.ws.transport.abort))
            self.assertEqual(c.echo("hi"), first + ": hi")
        # WebSocket messages are counted per server (both directions) and read by policies.
        self.wait_for("ws_messages in the decision", lambda: self.status()["decision"]["values"].get("ws_messages", 0) > 0, 5, px)
        self.assertGreaterEqual(self.servers()[0]["websocket_messages"], 6)
        # 3 tunnels on one server > 2: a second instance.
        self.wait_for("scale-out to 2", lambda: len(self.up_servers()) == 2, 20, px)
        second = [p["server"].split(":")[1] for p in self.up_servers() if p["server"].split(":")[1] != first][0]
        newcomer = WsClient.connect(self.port, "/ws")
        self.addCleanup(lambda: _loop().call_soon_threadsafe(newcomer.ws.transport.abort))
        self.assertEqual(newcomer.echo("x"), second + ": x")  # least_conn: the empty one
        # Two leave the first: 1 tunnel each, < 2 per server: scale in. The victims tie
        # on load; the newest goes, and its tunnel is closed with 1001 at drain_timeout.
        clients[0].close()
        clients[1].close()
        code, reason = newcomer.wait_close_frame(timeout=15)
        self.assertEqual((code, reason), (1001, "server draining"))
        again = WsClient.connect(self.port, "/ws")
        self.addCleanup(lambda: _loop().call_soon_threadsafe(again.ws.transport.abort))
        self.assertEqual(again.echo("back"), first + ": back")
        self.assertEqual(clients[2].echo("still"), first + ": still")
        self.wait_for("the drained instance deleted", lambda: len(self.status()["instances"]) == 1, 10, px)
        # Its tunnel was cut at drain_timeout, so it left the group drained.
        causes = [e["cause"] for e in self.status()["events"]]
        self.assertIn("drained", causes)
        for c in (clients[2], again):
            c.close()


class AutoscaleConfTest(unittest.TestCase):
    """-t names the bad line of an `autoscale` block, nginx-style."""

    def check(self, block, expected, upstream_extra="zone app 64k;"):
        if is_nginx():
            self.skipTest("autoscale is tidegate's")
        d = tempfile.mkdtemp(prefix="tg-as-conf-")
        self.addCleanup(lambda: os.system("rm -rf " + d))
        path = os.path.join(d, "t.conf")
        with open(path, "w") as f:
            f.write("events {}\nhttp {\n    upstream app {\n        %s\n        autoscale {\n%s\n        }\n    }\n}\n"
                    % (upstream_extra, block))
        rc, stdout, stderr = run_cli(["-t", "-p", d + "/", "-c", path, "-e", "stderr"])
        out = stderr + stdout
        self.assertNotEqual(rc, 0, out)
        self.assertIn("[emerg] " + expected.replace("@FILE@", path), out)

    def test_the_demo_conf_passes(self):
        if is_nginx():
            self.skipTest("autoscale is tidegate's")
        rc, out, err = run_cli(["-t", "-p", str(REPO_ROOT) + "/", "-c", "conf/examples/autoscale.conf"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("test is successful", err)

    def test_simulate_scores_a_trace_and_writes_ticks_and_a_chart(self):
        if is_nginx():
            self.skipTest("simulate is tidegate's")
        out = tempfile.mkdtemp(prefix="tg-sim-")
        self.addCleanup(lambda: os.system("rm -rf " + out))
        rc, stdout, err = run_cli(["simulate", "-c", str(REPO_ROOT / "conf/examples/simulate_api.conf"),
                                   "--trace", str(REPO_ROOT / "conf/examples/trace_spike.csv"),
                                   "--out", out], timeout=60)
        self.assertEqual(rc, 0, stdout + err)
        text = stdout + err
        self.assertRegex(text, r"deficit\s+\d+ instance-s")
        self.assertRegex(text, r"instance-hours\s+\d+\.\d")
        with open(os.path.join(out, "ticks.csv")) as f:
            rows = f.read().splitlines()
        self.assertGreater(len(rows), 8000)  # 2h20m at 1 s
        with open(os.path.join(out, "chart.svg")) as f:
            self.assertTrue(f.read().startswith("<svg"))
        rc, stdout, err = run_cli(["simulate", "-c", str(REPO_ROOT / "conf/examples/quickstart.conf"),
                                   "--trace", str(REPO_ROOT / "conf/examples/trace_spike.csv")])
        self.assertEqual(rc, 1)
        self.assertIn('no upstream with an "autoscale" block', stdout + err)

    def test_errors_name_the_line(self):
        ok = '            provider local "command=/bin/true {port}";\n            max 3;\n'
        self.check(ok + "            scale_out rps_per_server >> 300;", 'invalid comparison ">>" (>, >=, < or <=) in @FILE@:8')
        self.check(ok + "            scale_out rps_per_sever > 300;", 'unknown metric "rps_per_sever" in @FILE@:8')
        self.check(ok + "            scale_out p95_per_server > 300;", 'metric "p95_per_server" is group-wide only in @FILE@:8')
        self.check(ok + "            scale_in rps < 3 by=+1;", 'invalid parameter "by=+1" in @FILE@:8')
        self.check(ok + '            schedule "0 25 * * *" desired=2;', 'invalid cron field')
        self.check(ok + '            schedule "0 12 * * *" tz=Mars/Base desired=2;', 'unknown time zone "Mars/Base"')
        self.check(ok + "            step rps > 300 0:500=+1 400:300=+2;", 'invalid parameter "400:300=+2" in @FILE@:8')
        self.check(ok + "            limit out 4;", 'invalid parameter "4" in @FILE@:8')
        self.check('            provider cloud;\n            max 2;', 'unknown provider "cloud" in @FILE@:6')
        self.check('            provider local;\n            max 2;', 'provider "local" needs command= in @FILE@:6')
        self.check('            provider local "command=x {port}";', '"autoscale" block has no "max" in @FILE@:5')
        self.check('            provider local "command=x {port}";\n            min 4;\n            max 2;',
                   '"autoscale" min is greater than max in @FILE@:5')
        self.check(ok + "            frobnicate on;", 'unknown directive "frobnicate" in @FILE@:8')
        self.check(ok, '"autoscale" directive requires "zone" in the upstream in @FILE@:5', upstream_extra="")


if __name__ == "__main__":
    unittest.main()
