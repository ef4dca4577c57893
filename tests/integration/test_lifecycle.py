"""Process lifecycle: pid file, daemon on, signals and -s, reload, log reopening, error-log format."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.balancing_backends import BalancingBackend  # noqa: E402
from tests.support.harness import (Background, ERROR_LOG_LINE_RE, IntegrationTest, Proxy, can_connect,  # noqa: E402
                                   fill, free_port, http_get, run_cli, start_backend)

PR_SET_CHILD_SUBREAPER = 36

try:
    import ctypes
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover
    _prctl = None


def _parent_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _children_running(conf_path):
    """Our child processes whose command line names ``conf_path``."""
    out = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/children" % task) as f:
                pids = [int(x) for x in f.read().split()]
        except OSError:
            continue
        for pid in pids:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if conf_path.encode() in f.read():
                        out.append(pid)
            except OSError:
                pass
    return out


def _wait_child(pid, timeout):
    """Waits for our child ``pid`` to exit; its wait status, or None after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def _kill_and_reap(pid, conf_path):
    """Cleanup for a daemon: SIGKILL its process group (itself and its workers or helper)
    and reap it. As our child it is not reaped yet, so the ids are still its; otherwise
    only a process whose command line names ``conf_path`` is signalled."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return
        ours = True
    except ChildProcessError:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                ours = conf_path.encode() in f.read()
        except OSError:
            ours = False
        if not ours:
            return
        ours = False
    try:
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if ours:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


SLOW_CONF = """
http {
    access_log access.log;
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://@BE@;
        }
        location = /version {
            return 200 "@VERSION@";
        }
        location /dead {
            proxy_pass http://@DEAD@;
        }
    }
}
"""


class LifecycleTest(IntegrationTest):
    def conf(self, version="v1"):
        return fill(SLOW_CONF, PORT=self.port, BE=self.be.addr, DEAD=self.dead.addr, VERSION=version)

    def setUp(self):
        self.be = start_backend(self, BalancingBackend("backend"))  # the echo backend, with /hold
        self.dead = self.refusing()  # requests to /dead produce an [error] line
        self.port = free_port()

    def cli_signal(self, px, sig):
        return run_cli(["-p", px.prefix, "-c", px.conf_path, "-e", px.error_log_path, "-s", sig])

    def test_pid_file_written_after_listeners_bound_and_removed_at_exit(self):
        px = Proxy(self.conf())
        self.addCleanup(px.cleanup)
        self.assertFalse(os.path.exists(px.pid_path))
        px.spawn()
        deadline = time.monotonic() + 10
        while not os.path.exists(px.pid_path):
            self.assertFalse(px.exited(), px.diagnostics())
            self.assertLess(time.monotonic(), deadline, "no pid file after 10 s\n" + px.diagnostics())
            time.sleep(0.002)
        # the moment the pid file exists, the listener must already accept connections
        self.assertTrue(can_connect(self.port, timeout=1.0), "pid file written before listening")
        px.wait_ready()
        with open(px.pid_path) as f:
            content = f.read()
        self.assertEqual(content.strip(), str(px.pid))
        self.assertTrue(content.endswith("\n"))
        self.assertEqual(http_get(self.port, "/version").text, "v1")
        self.assertEqual(px.stop(), 0)
        self.assertFalse(os.path.exists(px.pid_path), "pid file must be removed at exit")

    def test_daemon_on_forks_a_server_named_by_the_pid_file(self):
        """daemon on: the started process forks the server into a session of its own and
        exits 0 at once; the pid file names the server, which serves and stops on
        SIGQUIT, removing the pid file."""
        px = Proxy(self.conf() + "daemon on;\npid @PREFIX@/tidegate.pid;\nerror_log @PREFIX@/error.log info;\n",
                   main=False)
        self.addCleanup(px.cleanup)  # never spawned through the harness: removes the prefix
        # The harness's process becomes the daemon's parent once the launcher exits (a
        # child subreaper), so the daemon's exit status can be read, and it does not
        # linger as a zombie of a PID 1 that does not reap.
        self.assertIsNotNone(_prctl, "prctl() not available")
        self.assertEqual(_prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0)
        try:
            with open(px.path("launcher.out"), "wb") as out:
                launcher = subprocess.Popen(px.argv(), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                            start_new_session=True, cwd=px.prefix)
            try:
                rc = launcher.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)
                launcher.wait()
                self.fail("daemon on: the started process did not exit\n" + px.diagnostics())
        finally:
            _prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        # whatever it forked is now our child: stopped in cleanup whatever happens below
        for child in _children_running(px.conf_path):
            self.addCleanup(_kill_and_reap, child, px.conf_path)
        self.assertEqual(rc, 0, px.log("launcher.out") + px.diagnostics())
        deadline = time.monotonic() + 10
        pid = None
        while pid is None:
            try:
                with open(px.pid_path) as f:
                    text = f.read()
                if text.endswith("\n") and text.strip().isdigit():
                    pid = int(text)
            except OSError:
                pass
            if pid is None:
                self.assertLess(time.monotonic(), deadline, "no pid file\n" + px.diagnostics())
                time.sleep(0.02)
        self.addCleanup(_kill_and_reap, pid, px.conf_path)
        self.assertNotEqual(pid, launcher.pid, "the pid file must name the forked server")
        self.assertEqual(_parent_of(pid), os.getpid(), "the pid file names no process forked by the launcher")
        self.assertEqual(http_get(self.port, "/version").text, "v1")
        self.assertEqual(http_get(self.port, "/x").json()["target"], "/x")
        # once it serves, it is detached: a session of its own (setsid), stdout on
        # /dev/null (nginx's master may write the pid file a moment before that)
        self.assertEqual(os.getsid(pid), pid, "the server runs in a session of its own (setsid)")
        self.assertEqual(os.readlink("/proc/%d/fd/1" % pid), "/dev/null")
        os.kill(pid, signal.SIGQUIT)
        status = _wait_child(pid, 10)
        self.assertIsNotNone(status, "the server did not exit on SIGQUIT\n" + px.diagnostics())
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, px.diagnostics())
        self.assertFalse(os.path.exists(px.pid_path), "pid file must be removed at exit")
        self.assertFalse(can_connect(self.port))

    def test_no_pid_file_when_bind_fails(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", self.port))
        blocker.listen(1)
        self.addCleanup(blocker.close)
        px = Proxy(self.conf())
        self.addCleanup(px.cleanup)
        px.spawn()
        self.assertTrue(px.wait_exit(15), "must exit when the port is taken")
        self.assertNotEqual(px.returncode, 0)
        self.assertFalse(os.path.exists(px.pid_path))
        self.assertIn("bind() to 127.0.0.1:%d failed (98: Address already in use)" % self.port, px.error_log())
        self.assertIn("[emerg]", px.error_log())

    def _held_request_then(self, px, action):
        """Starts GET /hold, which the backend holds until the test releases it (events,
        not wall time, decide what is still in flight), then runs ``action``."""
        self.addCleanup(self.be.release)  # runs before the proxy's cleanup stops it
        bg = Background(lambda: http_get(self.port, "/hold", timeout=30))
        self.assertTrue(self.be.wait_for(lambda b: b.held == 1, 5), "held request did not reach the backend")
        action()
        return bg

    def _release_and_check(self, bg):
        """Releases the held request; it must then be answered in full."""
        self.assertFalse(bg.join(0), "the held request ended before it was released: %r" % bg.result)
        self.be.release()
        self.assertTrue(bg.join(10))
        r = bg.result
        self.assertNotIsInstance(r, BaseException, r)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/hold")

    def test_s_quit_is_graceful(self):
        px = self.proxy(self.conf())
        bg = self._held_request_then(px, lambda: self.assertEqual(self.cli_signal(px, "quit")[0], 0))
        self.assertTrue(px.wait_log("shutting down"), px.error_log())
        self.assertTrue(px.is_running(), "exited with a request in flight")
        self._release_and_check(bg)
        self.assertTrue(px.wait_exit(10), "did not exit after the in-flight request")
        self.assertEqual(px.returncode, 0)
        self.assertFalse(can_connect(self.port))
        self.assertFalse(os.path.exists(px.pid_path))

    def test_sigquit_is_graceful_and_stops_accepting(self):
        px = self.proxy(self.conf())
        bg = self._held_request_then(px, lambda: px.signal(signal.SIGQUIT))
        # the listener goes away while the request is still held
        deadline = time.monotonic() + 5.0
        while can_connect(self.port) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertFalse(can_connect(self.port), "still accepting after SIGQUIT")
        self.assertTrue(px.is_running(), "exited before the in-flight request was done")
        self._release_and_check(bg)
        self.assertTrue(px.wait_exit(10))
        self.assertEqual(px.returncode, 0)

    def test_sigterm_stops_at_once(self):
        px = self.proxy(self.conf())
        # the held request is never released: only a stop that does not wait ends it
        bg = self._held_request_then(px, lambda: px.signal(signal.SIGTERM))
        self.assertTrue(px.wait_exit(5), "SIGTERM must stop without waiting for requests")
        self.assertEqual(px.returncode, 0)
        self.assertTrue(bg.join(5))
        self.assertIsInstance(bg.result, BaseException, "in-flight request must be cut: %r" % bg.result)
        self.assertFalse(os.path.exists(px.pid_path))

    def test_s_stop_stops_at_once(self):
        px = self.proxy(self.conf())
        bg = self._held_request_then(px, lambda: self.assertEqual(self.cli_signal(px, "stop")[0], 0))
        self.assertTrue(px.wait_exit(5))
        self.assertTrue(bg.join(5))
        self.assertIsInstance(bg.result, BaseException, repr(bg.result))

    def _wait_version(self, expected, timeout=10.0):
        deadline = time.monotonic() + timeout
        text = None
        while time.monotonic() < deadline:
            try:
                text = http_get(self.port, "/version", timeout=2).text
            except OSError:
                text = None
            if text == expected:
                return True
            time.sleep(0.05)
        return False

    def test_sighup_reloads_configuration(self):
        px = self.proxy(self.conf("v1"))
        self.assertEqual(http_get(self.port, "/version").text, "v1")
        # a request in flight across the reload (held until v2 answers) completes
        bg = self._held_request_then(px, lambda: None)
        px.write_conf(self.conf("v2"))
        px.signal(signal.SIGHUP)
        self.assertTrue(self._wait_version("v2"), px.diagnostics())
        self._release_and_check(bg)
        self.assertTrue(px.is_running())
        with open(px.pid_path) as f:
            self.assertEqual(f.read().strip(), str(px.pid), "reload keeps the pid")

    def test_s_reload(self):
        px = self.proxy(self.conf("v1"))
        px.write_conf(self.conf("v2"))
        rc, out, err = self.cli_signal(px, "reload")
        self.assertEqual(rc, 0, err)
        self.assertTrue(self._wait_version("v2"), px.diagnostics())

    def test_reload_with_bad_conf_keeps_serving(self):
        px = self.proxy(self.conf("v1"))
        bad = self.conf("v2").replace("access_log access.log;", "access_log access.log;\n    bogus_directive on;")
        px.write_conf(bad)
        px.signal(signal.SIGHUP)
        self.assertTrue(px.wait_log('unknown directive "bogus_directive"'), px.error_log())
        line = next(x for x in px.error_log().splitlines() if "bogus_directive" in x)
        self.assertIn("[emerg]", line)
        self.assertIn("in %s:" % px.conf_path, line)
        self.assertTrue(px.is_running())
        self.assertEqual(http_get(self.port, "/version").text, "v1")

    def _reopen(self, px, do_signal):
        self.assertEqual(http_get(self.port, "/before").status, 200)
        self.assertTrue(px.wait_log("GET /before", rel="access.log"))
        os.rename(px.error_log_path, px.error_log_path + ".1")
        os.rename(px.path("access.log"), px.path("access.log.1"))
        do_signal()
        deadline = time.monotonic() + 5
        while not (os.path.exists(px.error_log_path) and os.path.exists(px.path("access.log"))):
            self.assertLess(time.monotonic(), deadline, "logs not reopened\n" + px.diagnostics())
            time.sleep(0.02)
        self.assertEqual(http_get(self.port, "/after").status, 200)
        self.assertTrue(px.wait_log("GET /after", rel="access.log"), px.log("access.log"))
        self.assertNotIn("GET /after", px.log("access.log.1"))
        self.assertIn("GET /before", px.log("access.log.1"))
        # new error-log lines go to the new file
        self.assertEqual(http_get(self.port, "/dead").status, 502)
        self.assertTrue(px.wait_log("connect() failed"), px.error_log())
        self.assertNotIn("connect() failed", px.log("error.log.1"))

    def test_sigusr1_reopens_logs(self):
        px = self.proxy(self.conf())
        self._reopen(px, lambda: px.signal(signal.SIGUSR1))

    def test_s_reopen(self):
        px = self.proxy(self.conf())
        self._reopen(px, lambda: self.assertEqual(self.cli_signal(px, "reopen")[0], 0))

    def test_error_log_format(self):
        px = self.proxy(self.conf())
        self.assertEqual(http_get(self.port, "/dead").status, 502)
        self.assertTrue(px.wait_log("connect() failed"), px.error_log())
        self.assertEqual(px.stop(), 0)
        lines = [line for line in px.error_log().splitlines() if line]
        self.assertGreaterEqual(len(lines), 2, lines)
        for line in lines:
            self.assertRegex(line, ERROR_LOG_LINE_RE)
        err = next(line for line in lines if "connect() failed" in line)
        self.assertRegex(err, r"^\S+ \S+ \[error\] \d+#\d+: \*\d+ connect\(\) failed")

    def test_signals_are_logged_as_nginx(self):
        px = self.proxy(self.conf())
        pid = px.pid
        px.signal(signal.SIGUSR1)
        self.assertTrue(px.wait_log(re.compile(r"\[notice\] %d#\d+: signal 10 \(SIGUSR1\) received from \d+, "
                                               r"reopening logs" % pid)), px.error_log())
        px.signal(signal.SIGHUP)
        self.assertTrue(px.wait_log(re.compile(r"\[notice\] %d#\d+: signal 1 \(SIGHUP\) received from \d+, "
                                               r"reconfiguring" % pid)), px.error_log())
        px.signal(signal.SIGQUIT)
        self.assertTrue(px.wait_exit(10))
        self.assertRegex(px.error_log(), r"\[notice\] %d#\d+: signal 3 \(SIGQUIT\) received from \d+, "
                                         r"shutting down" % pid)
        self.assertEqual(px.returncode, 0)

if __name__ == "__main__":
    unittest.main()
