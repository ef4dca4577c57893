"""Privileges as nginx: started as root with `user nobody nogroup;`, the process that
serves runs as nobody, and reload, log reopen and root-only files keep working because
a root process does what needs root (nginx's master; tidegate's privileged helper).

Run as root only (the documented setup runs everything as root); skipped otherwise.
One test binds a port below 1024 on 127.0.0.1: the only way to show that a reload
after the privilege drop can still bind what only root may. The port is one that is
free at that moment, released when the proxy stops.
"""

import os
import shutil
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import (IntegrationTest, fill, free_port, http_get, is_nginx,  # noqa: E402
                                   make_prefix, process_tree, run_cli)

CONF = """
user nobody nogroup;
http {
    access_log access.log;
    server {
        listen 127.0.0.1:@PORT@;
        @EXTRA@
        location / { proxy_pass http://@BE@; }
        location = /version { return 200 "@VERSION@"; }
        location /dead { proxy_pass http://@DEAD@; }
    }
}
"""


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def free_privileged_port():
    for port in range(1023, 600, -1):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise unittest.SkipTest("no free port below 1024")


@unittest.skipUnless(os.geteuid() == 0, "needs root (the documented setup runs as root)")
class PrivilegesTest(IntegrationTest):
    def setUp(self):
        self.be = self.backend()
        self.dead = self.refusing()
        self.port = free_port()

    def conf(self, version="v1", extra="", include=None):
        text = fill(CONF, PORT=self.port, BE=self.be.addr, DEAD=self.dead.addr, VERSION=version,
                    EXTRA=extra)
        if include:
            text = text.replace("http {", "include %s;\nhttp {" % include, 1)
        return text

    def wait_version(self, port, version, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if http_get(port, "/version", timeout=2).text == version:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def test_the_serving_process_runs_as_nobody(self):
        px = self.proxy(self.conf())
        uids = {uid_of(p) for p in process_tree(px.pid)}
        # nginx: a root master and nobody workers; tidegate: the serving process
        # as nobody and its root helper.
        self.assertEqual(uids, {0, 65534}, px.diagnostics())
        if not is_nginx():
            self.assertEqual(uid_of(px.pid), 65534, "the pid file names the serving process")
        self.assertEqual(http_get(self.port, "/version").text, "v1")

    def test_sigusr1_reopens_logs_in_a_root_owned_directory(self):
        px = self.proxy(self.conf())
        self.assertEqual(os.stat(px.prefix).st_uid, 0)
        self.assertEqual(http_get(self.port, "/before").status, 200)
        self.assertTrue(px.wait_log("GET /before", rel="access.log"))
        os.rename(px.error_log_path, px.error_log_path + ".1")
        os.rename(px.path("access.log"), px.path("access.log.1"))
        px.signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while not (os.path.exists(px.error_log_path) and os.path.exists(px.path("access.log"))):
            self.assertLess(time.monotonic(), deadline, "logs not reopened\n" + px.log("error.log.1"))
            time.sleep(0.02)
        self.assertEqual(http_get(self.port, "/after").status, 200)
        self.assertTrue(px.wait_log("GET /after", rel="access.log"), px.log("access.log"))
        self.assertEqual(http_get(self.port, "/dead").status, 502)
        self.assertTrue(px.wait_log("connect() failed"), px.log("error.log.1"))
        self.assertNotIn("Permission denied", px.log("error.log.1") + px.error_log())

    def test_reopen_follows_only_symbolic_links_root_owns(self):
        # The unprivileged user may own the log directory; a link it plants there
        # must not have root open a root-only file for it to write. nginx's master
        # follows such a link (CVE-2016-1247 on Debian), so this runs on tidegate only.
        if is_nginx():
            self.skipTest("nginx's root master follows any symbolic link")
        private = self._private_dir()
        secret = os.path.join(private, "authorized_keys")
        with open(secret, "w") as f:
            f.write("root's\n")
        os.chmod(secret, 0o600)
        trusted = os.path.join(private, "trusted.log")
        px = self.proxy(self.conf())
        self.assertEqual(http_get(self.port, "/before").status, 200)
        self.assertTrue(px.wait_log("GET /before", rel="access.log"))
        os.rename(px.path("access.log"), px.path("access.log.1"))
        os.symlink(secret, px.path("access.log"))
        os.lchown(px.path("access.log"), 65534, 65534)
        px.signal(signal.SIGUSR1)
        self.assertTrue(px.wait_log("symbolic link owned by uid 65534"), px.error_log())
        self.assertEqual(http_get(self.port, "/planted").status, 200)
        self.assertTrue(px.wait_log("GET /planted", rel="access.log.1"), px.log("access.log.1"))
        with open(secret) as f:
            self.assertEqual(f.read(), "root's\n")
        # A link root made (as /dev/stdout is) is followed.
        os.unlink(px.path("access.log"))
        os.symlink(trusted, px.path("access.log"))
        px.signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while not os.path.exists(trusted):
            self.assertLess(time.monotonic(), deadline, px.error_log())
            time.sleep(0.02)
        self.assertEqual(http_get(self.port, "/trusted").status, 200)
        deadline = time.monotonic() + 5
        while True:
            with open(trusted) as f:
                if "GET /trusted" in f.read():
                    break
            self.assertLess(time.monotonic(), deadline, px.error_log())
            time.sleep(0.05)

    def test_unknown_user_or_group_fails_the_test_and_the_reload(self):
        prefix = make_prefix()
        self.addCleanup(shutil.rmtree, prefix, True)
        for user, message in (("no-such-user-here", 'getpwnam("no-such-user-here") failed'),
                              ("nobody no-such-group", 'getgrnam("no-such-group") failed'),
                              ("nobody", 'getgrnam("nobody") failed')):
            with self.subTest(user=user):
                conf = os.path.join(prefix, "t.conf")
                with open(conf, "w") as f:
                    f.write("user %s;\nevents {}\nhttp {}\n" % user)
                rc, out, err = run_cli(["-t", "-p", prefix, "-c", conf, "-g", "pid %s/p;" % prefix])
                self.assertNotEqual(rc, 0, err)
                self.assertIn("[emerg]", err)
                self.assertIn(message + " in %s:1" % conf, err)
        px = self.proxy(self.conf())
        px.write_conf(self.conf("v2").replace("user nobody nogroup;", "user no-such-user-here;"))
        px.signal(signal.SIGHUP)
        self.assertTrue(px.wait_log('getpwnam("no-such-user-here") failed'), px.error_log())
        self.assertEqual(http_get(self.port, "/version").text, "v1")

    def test_reload_binds_a_port_below_1024(self):
        px = self.proxy(self.conf())
        low = free_privileged_port()
        px.write_conf(self.conf("v2", extra="listen 127.0.0.1:%d;" % low))
        px.signal(signal.SIGHUP)
        self.assertTrue(self.wait_version(low, "v2"), px.diagnostics())
        self.assertTrue(self.wait_version(self.port, "v2"))
        self.assertNotIn("Permission denied", px.error_log())

    def test_reload_reads_a_root_only_include_and_opens_a_new_log(self):
        secret = os.path.join(px_dir := self._private_dir(), "secret.conf")
        with open(secret, "w") as f:
            f.write("worker_processes 1;\n")
        os.chmod(secret, 0o600)
        px = self.proxy(self.conf(include=secret))
        text = self.conf("v2", include=secret).replace("access_log access.log;",
                                                       "access_log %s/new.log;" % px_dir)
        px.write_conf(text)
        px.signal(signal.SIGHUP)
        self.assertTrue(self.wait_version(self.port, "v2"), px.diagnostics())
        # nginx's old worker may still accept a connection or two (and log it in the
        # old log) until it has stopped listening: send until one is in the new log.
        deadline = time.monotonic() + 5
        while True:
            self.assertEqual(http_get(self.port, "/logged").status, 200)
            try:
                with open(os.path.join(px_dir, "new.log")) as f:
                    if "GET /logged" in f.read():
                        break
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, px.diagnostics())
            time.sleep(0.2)

    def test_pid_file_removed_and_no_process_left_after_stop(self):
        px = self.proxy(self.conf())
        tree = process_tree(px.pid)
        self.assertGreaterEqual(len(tree), 2)
        self.assertEqual(px.stop(), 0)
        self.assertFalse(os.path.exists(px.pid_path), "pid file left behind")
        deadline = time.monotonic() + 5
        while any(os.path.exists("/proc/%d" % p) for p in tree):
            self.assertLess(time.monotonic(), deadline, "a process outlived the server")
            time.sleep(0.02)

    def _private_dir(self):
        import shutil
        import tempfile
        d = tempfile.mkdtemp(prefix="tidegate-root-")
        os.chmod(d, 0o700)  # nobody cannot even look inside
        self.addCleanup(shutil.rmtree, d, True)
        return d


if __name__ == "__main__":
    unittest.main()
