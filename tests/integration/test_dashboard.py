"""tidegate's dashboard page (`location = /dashboard.html { dashboard; }`) in a real
headless Chromium driven through Selenium: it lists every server of every upstream
(rows with data-server-id), its buttons change servers through the API (drain), it
says why when the API is read-only, and it renders 200 servers within seconds.

A tidegate extension (nginx OSS has no `dashboard` directive): every class skips under
nginx. Needs Debian's chromium, chromium-driver and python3-selenium; skips without them.
The screenshots go to build/dashboard.png and build/dashboard-200-servers.png.
"""

import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.admin_client import Api, spread, wait_until  # noqa: E402
from tests.support.harness import (REPO_ROOT, IntegrationTest, fill, free_port,  # noqa: E402
                                   http_get, is_nginx)

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:  # pragma: no cover
    webdriver = None

SKIP_NGINX = "NGINX Plus API / tidegate extension"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTEFACTS = REPO_ROOT / "build"

CONF = """
http {
    access_log off;
    upstream be {
        zone be 64k;
        server @B1@;
        server @B2@;
        server @B3@;
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /api { api @WRITE@; }
        location = /dashboard.html { dashboard; }
        location = /favicon.ico { return 204; }
        location / { proxy_pass http://be; }
    }
}
"""


def browser_missing():
    if webdriver is None:
        return "python3-selenium not installed"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return "%s not installed (%s)" % (path, package)
    return None


class DashboardBase(IntegrationTest):
    def setUp(self):
        if is_nginx():
            self.skipTest(SKIP_NGINX)
        missing = browser_missing()
        if missing:
            self.skipTest(missing)

    def browser(self):
        profile = tempfile.mkdtemp(prefix="tidegate-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        opts = Options()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                    "--user-data-dir=" + profile):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=CHROMEDRIVER,
                          log_path=os.path.join(profile, "chromedriver.log"))
        driver = webdriver.Chrome(service=service, options=opts)
        self.addCleanup(driver.quit)
        driver.set_page_load_timeout(20)
        driver.set_script_timeout(10)
        return driver

    def open_dashboard(self, driver, port):
        driver.get("http://127.0.0.1:%d/dashboard.html?api=/api" % port)
        self.assertEqual(driver.title, "tidegate")

    def rows(self, driver):
        """{server id: {"server", "state", "requests", "buttons"}} as the page shows them
        (read in one script: the page replaces its rows every second)."""
        data = driver.execute_script("""
            return Array.from(document.querySelectorAll("tr[data-server-id]")).map(tr => ({
              id: tr.getAttribute("data-server-id"),
              server: tr.getAttribute("data-server"),
              state: tr.querySelector("td.state") ? tr.querySelector("td.state").textContent : null,
              stateClass: tr.querySelector("td.state") ? tr.querySelector("td.state").className : null,
              requests: tr.children.length > 8 ? tr.children[8].textContent : null,
              buttons: Array.from(tr.querySelectorAll("button")).map(b => b.className)}));
        """)
        return {int(r["id"]): r for r in data}

    def click(self, driver, css, timeout=5.0):
        """Clicks the element at ``css``, again if a refresh replaced it meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                driver.find_element(By.CSS_SELECTOR, css).click()
                return
            except (StaleElementReferenceException, WebDriverException):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def message(self, driver):
        return driver.find_element(By.ID, "message").text

    def console_errors(self, driver):
        entries = driver.get_log("browser")
        return [e for e in entries if e.get("level") == "SEVERE" and "favicon" not in
                e.get("message", "")]

    def save_screenshot(self, driver, name):
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        path = str(ARTEFACTS / name)
        self.assertTrue(driver.save_screenshot(path), path)
        self.assertGreater(os.path.getsize(path), 1000)
        return path


class DashboardTest(DashboardBase):
    def start(self, write="write=on"):
        self.port = free_port()
        self.bes = [self.backend("b%d" % i) for i in (1, 2, 3)]
        self.px = self.proxy(fill(CONF, PORT=self.port, WRITE=write,
                                  **{"B%d" % (i + 1): b.addr for i, b in enumerate(self.bes)}))
        self.api = Api(self.port)

    def test_rows_follow_the_api_and_the_drain_button_drains(self):
        self.start()
        page = http_get(self.port, "/dashboard.html?api=/api")
        self.assertEqual(page.status, 200, page)
        self.assertTrue(page.header("content-type").startswith("text/html"))
        driver = self.browser()
        self.open_dashboard(driver, self.port)
        ids = {s["server"]: s["id"] for s in self.api.servers("be")}
        rows = wait_until(lambda: (lambda r: r if len(r) == 3 else None)(self.rows(driver)), 10,
                          what="three server rows")
        self.assertEqual({r["server"]: i for i, r in rows.items()}, ids)
        for r in rows.values():
            self.assertEqual(r["state"], "up")
            self.assertEqual(r["buttons"], ["drain", "weight", "down", "remove"])
        # the request counts follow the traffic
        self.assertEqual(spread(self.port, 30), {"b1": 10, "b2": 10, "b3": 10})
        wait_until(lambda: all(r["requests"] == "10" for r in self.rows(driver).values()), 10,
                   what="each row showing 10 requests")

        b2 = self.bes[1]
        sid = ids[b2.addr]
        self.click(driver, 'tr[data-server-id="%d"] button.drain' % sid)
        wait_until(lambda: next(s for s in self.api.servers("be") if s["id"] == sid).get("drain"),
                   10, what="the API showing server %d draining" % sid)
        self.assertEqual(self.api.peer_by_server("be", b2.addr)["state"], "draining")
        row = wait_until(lambda: (lambda r: r if r["state"] == "draining" else None)(
            self.rows(driver)[sid]), 10, what="the row showing state draining")
        self.assertIn("draining", row["stateClass"].split())
        self.assertEqual(row["buttons"][0], "undrain")
        # only that server
        for other, r in self.rows(driver).items():
            if other != sid:
                self.assertEqual(r["state"], "up")
        self.assertEqual(self.message(driver), "")
        before = len(b2.requests)
        self.assertEqual(spread(self.port, 10), {"b1": 5, "b3": 5})
        self.assertEqual(len(b2.requests), before)
        self.assertTrue(self.px.wait_log("api: server %s (id %d) of upstream \"be\" changed, "
                                         "client: 127.0.0.1" % (b2.addr, sid)))
        self.save_screenshot(driver, "dashboard.png")
        self.assertEqual(self.console_errors(driver), [])

    def test_undrain_weight_down_up_and_remove_buttons(self):
        self.start()
        driver = self.browser()
        self.open_dashboard(driver, self.port)
        wait_until(lambda: len(self.rows(driver)) == 3 or None, 10, what="three server rows")
        sid = self.api.server_id("be", self.bes[0].addr)

        def api_server():
            return next((s for s in self.api.servers("be") if s["id"] == sid), None)

        def row_state(state):
            return lambda: (self.rows(driver).get(sid) or {}).get("state") == state or None

        self.click(driver, 'tr[data-server-id="%d"] button.drain' % sid)
        wait_until(row_state("draining"), 10, what="draining")
        self.click(driver, 'tr[data-server-id="%d"] button.undrain' % sid)
        wait_until(lambda: not api_server().get("drain") or None, 10, what="undrained in the API")
        wait_until(row_state("up"), 10, what="the row up again")

        self.click(driver, 'tr[data-server-id="%d"] button.weight' % sid)
        prompt = wait_until(lambda: self._alert(driver), 5, what="the weight prompt")
        prompt.send_keys("7")
        prompt.accept()
        wait_until(lambda: api_server()["weight"] == 7 or None, 10, what="weight 7 in the API")

        self.click(driver, 'tr[data-server-id="%d"] button.down' % sid)
        wait_until(lambda: api_server()["down"] or None, 10, what="down in the API")
        wait_until(row_state("down"), 10, what="the row down")
        self.click(driver, 'tr[data-server-id="%d"] button.up' % sid)
        wait_until(lambda: not api_server()["down"] or None, 10, what="up in the API")

        # remove asks first: dismissing keeps the server, accepting removes it
        self.click(driver, 'tr[data-server-id="%d"] button.remove' % sid)
        wait_until(lambda: self._alert(driver), 5, what="the confirm").dismiss()
        time.sleep(0.3)
        self.assertIsNotNone(api_server())
        self.click(driver, 'tr[data-server-id="%d"] button.remove' % sid)
        wait_until(lambda: self._alert(driver), 5, what="the confirm").accept()
        wait_until(lambda: api_server() is None or None, 10, what="removed from the API")
        wait_until(lambda: sid not in self.rows(driver) or None, 10, what="the row gone")
        self.assertEqual(self.message(driver), "")
        self.assertEqual(self.console_errors(driver), [])

    @staticmethod
    def _alert(driver):
        try:
            alert = driver.switch_to.alert
            alert.text  # raises while there is none
            return alert
        except WebDriverException:
            return None

    def test_health_check_states_and_counts_show(self):
        self.port = free_port()
        self.bes = [self.backend("b%d" % i) for i in (1, 2, 3)]
        self.bes[1].health_reply = (503, [], b"down")
        conf = CONF.replace("location / { proxy_pass http://be; }",
                            "location / { proxy_pass http://be; "
                            "health_check interval=200ms uri=/health; }")
        self.px = self.proxy(fill(conf, PORT=self.port, WRITE="write=on",
                                  **{"B%d" % (i + 1): b.addr for i, b in enumerate(self.bes)}))
        self.api = Api(self.port)
        sid = self.api.server_id("be", self.bes[1].addr)
        driver = self.browser()
        self.open_dashboard(driver, self.port)
        wait_until(lambda: (self.rows(driver).get(sid) or {}).get("state") == "unhealthy" or None,
                   10, what="the failing server's row unhealthy")
        title = wait_until(lambda: driver.execute_script(
            'const td = document.querySelector(\'tr[data-server-id="%d"] td.state\');'
            'return td ? td.getAttribute("title") : null;' % sid), 10, what="the state's title")
        self.assertRegex(title, r"^health checks: \d+, failed \d+, unhealthy 1 times, last failed$")
        self.assertEqual(self.console_errors(driver), [])

    def test_a_read_only_api_says_why_and_turns_the_buttons_off(self):
        self.start(write="")
        driver = self.browser()
        self.open_dashboard(driver, self.port)
        rows = wait_until(lambda: (lambda r: r if len(r) == 3 else None)(self.rows(driver)), 10,
                          what="three server rows")
        sid = sorted(rows)[0]
        self.click(driver, 'tr[data-server-id="%d"] button.drain' % sid)
        wait_until(lambda: "MethodDisabled" in self.message(driver), 10,
                   what="the page explaining the 405")
        self.assertIn("PATCH failed", self.message(driver))
        wait_until(lambda: all(r["buttons"] == [] for r in self.rows(driver).values()), 10,
                   what="the buttons gone")
        self.assertNotIn("drain", next(s for s in self.api.servers("be") if s["id"] == sid))
        self.assertEqual(self.rows(driver)[sid]["state"], "up")


class DashboardScaleTest(DashboardBase):
    def test_200_servers_render_within_seconds(self):
        ports = set()
        while len(ports) < 200:
            ports.add(free_port())
        # never contacted: every server is down
        servers = "\n".join("        server 127.0.0.1:%d down;" % p for p in sorted(ports))
        port = free_port()
        conf = """
http {
    access_log off;
    upstream big {
        zone big 1m;
%s
    }
    server {
        listen 127.0.0.1:%d;
        location /api { api write=on; }
        location = /dashboard.html { dashboard; }
    }
}
""" % (servers, port)
        self.proxy(conf)
        api = Api(port)
        self.assertEqual(len(api.servers("big")), 200)
        driver = self.browser()
        started = time.monotonic()
        self.open_dashboard(driver, port)
        rows = wait_until(lambda: (lambda r: r if len(r) == 200 else None)(self.rows(driver)), 10,
                          what="200 server rows")
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, 5.0, "200 rows took %.1f s" % elapsed)
        self.assertEqual({r["server"] for r in rows.values()},
                         {"127.0.0.1:%d" % p for p in ports})
        self.assertEqual({r["state"] for r in rows.values()}, {"down"})
        self.assertEqual(set(rows), {s["id"] for s in api.servers("big")})
        # it keeps refreshing them: a change through the API shows up
        first = sorted(rows)[0]
        api.change_server("big", first, {"down": False, "drain": True})
        wait_until(lambda: self.rows(driver)[first]["state"] == "draining", 10,
                   what="the refreshed row")
        self.assertEqual(self.message(driver), "")
        self.save_screenshot(driver, "dashboard-200-servers.png")
        self.assertEqual(self.console_errors(driver), [])


if __name__ == "__main__":
    unittest.main()


AUTOSCALE_CONF = """
http {
    access_log off;
    upstream app {
        zone app 64k;
        autoscale {
            provider local "command=/usr/bin/python3 @BACKEND@ {port}";
            min 2;
            max 4;
            interval 200ms;
            scale_out rps_per_server > 1000;
        }
    }
    server {
        listen 127.0.0.1:@PORT@;
        location /api { api write=on; }
        location = /dashboard.html { dashboard; }
        location = /favicon.ico { return 204; }
        location / { proxy_pass http://app; health_check interval=200ms passes=1 uri=/health; }
    }
}
"""


class DashboardAutoscaleTest(DashboardBase):
    def test_the_autoscaling_panel_shows_counts_decision_and_events(self):
        port = free_port()
        self.proxy(fill(AUTOSCALE_CONF, PORT=port,
                        BACKEND=str(REPO_ROOT / "conf" / "examples" / "demo_backend.py")))
        driver = self.browser()
        self.open_dashboard(driver, port)

        def panel():
            return driver.execute_script("""
                const g = document.querySelector('[data-autoscale="app"]');
                if (!g) return null;
                return { counts: g.querySelector(".counts").textContent,
                         reason: g.querySelector(".reason").textContent,
                         events: Array.from(g.querySelectorAll("tr.event")).map(tr =>
                           Array.from(tr.children).map(td => td.textContent)) };
            """)
        # min 2: two instances started and checked, then serving.
        shown = wait_until(lambda: (lambda p: p if p and p["counts"].startswith("current 2,") and
                                    any(e[1] == "instance" for e in p["events"]) else None)(panel()),
                           20, what="the panel showing 2 instances")
        self.assertEqual(shown["counts"], "current 2, desired 2, min 2, max 4")
        outs = [e for e in shown["events"] if e[1] == "scale_out"]
        self.assertEqual(outs[0][2:4], ["0 → 2", "min"])
        self.assertEqual(outs[0][4], "below min 2")
        wait_until(lambda: len([r for r in self.rows(driver).values() if r["state"] == "up"]) == 2,
                   20, what="two server rows up")
        self.save_screenshot(driver, "dashboard-autoscale.png")
        self.assertEqual(self.console_errors(driver), [])
