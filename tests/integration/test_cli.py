"""nginx's command line: -v -V -t -T -q -g -s, and configuration errors as nginx reports them."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.harness import (Proxy, free_port, http_get, is_nginx, make_prefix,  # noqa: E402
                                   prepare_conf, remove_prefix, run_cli)

VERSION_RE = re.compile(r"^\S+ version: \S+/\d+\.\d+\.\d+")


def line_of(text, needle):
    """1-based line number of the first line containing ``needle``."""
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in conf" % needle)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.prefix = make_prefix()
        self.addCleanup(remove_prefix, self.prefix)
        self.port = free_port()

    def write(self, name, text, prepare=True):
        path = os.path.join(self.prefix, name)
        if prepare:
            text = prepare_conf(text, self.prefix)
        with open(path, "w") as f:
            f.write(text)
        return path, text

    def good_conf(self):
        return """http {
    server {
        listen 127.0.0.1:%d;
        location / {
            return 200 "ok";
        }
    }
}
""" % self.port

    def cli(self, conf, *args):
        return run_cli(["-p", self.prefix, "-c", conf, "-e", os.path.join(self.prefix, "error.log")] + list(args))

    # -- version -------------------------------------------------------------------

    def test_v_prints_version_on_stderr(self):
        rc, out, err = run_cli(["-v"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "")
        self.assertRegex(err.splitlines()[0], VERSION_RE)
        if not is_nginx():
            self.assertRegex(err.splitlines()[0], r"^tidegate version: tidegate/\d+\.\d+\.\d+$")

    def test_V_prints_version_first(self):
        rc, out, err = run_cli(["-V"])
        self.assertEqual(rc, 0, err)
        self.assertRegex(err.splitlines()[0], VERSION_RE)

    def test_invalid_option(self):
        rc, out, err = run_cli(["-x"])
        self.assertNotEqual(rc, 0)
        self.assertIn('invalid option: "x"', err)

    # -- -t ------------------------------------------------------------------------

    def test_t_good_conf(self):
        conf, _ = self.write("tidegate.conf", self.good_conf())
        rc, out, err = self.cli(conf, "-t")
        self.assertEqual(rc, 0, err)
        self.assertIn("the configuration file %s syntax is ok" % conf, err)
        self.assertIn("configuration file %s test is successful" % conf, err)
        self.assertNotIn("[emerg]", err)

    def test_t_q_suppresses_non_errors(self):
        conf, _ = self.write("tidegate.conf", self.good_conf())
        rc, out, err = self.cli(conf, "-t", "-q")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("syntax is ok", err)
        self.assertNotIn("test is successful", err)
        self.assertEqual(out, "")

    def test_t_q_still_reports_errors(self):
        conf, text = self.write("tidegate.conf", self.good_conf().replace(
            'return 200 "ok";', 'return 200 "ok";\n            bogus_directive on;'))
        rc, out, err = self.cli(conf, "-q", "-t")
        self.assertEqual(rc, 1, err)
        self.assertIn("[emerg]", err)
        self.assertIn(' in %s:%d' % (conf, line_of(text, "bogus_directive")), err)

    def test_t_bad_confs(self):
        port = self.port
        cases = [
            # (name, conf text, needle on the reported line, nginx's message)
            ("unknown directive",
             "http {\n    server {\n        listen 127.0.0.1:%d;\n        bogus_directive on;\n    }\n}\n" % port,
             "bogus_directive", 'unknown directive "bogus_directive"'),
            ("missing ; before }",
             "http {\n    server {\n        listen 127.0.0.1:%d\n    }\n}\n" % port,
             "    }", 'unexpected "}"'),
            ("missing ; before a block",
             "http {\n    server {\n        server_name a\n        location / { return 200; }\n    }\n}\n",
             "location /", 'directive "server_name" is not terminated by ";"'),
            ("block directive without block",
             "http {\n    server;\n}\n",
             "server;", 'directive "server" has no opening "{"'),
            ("wrong context",
             "http {\n    proxy_pass http://127.0.0.1:%d;\n}\n" % port,
             "proxy_pass", '"proxy_pass" directive is not allowed here'),
            ("wrong context main",
             "listen 127.0.0.1:%d;\nhttp {\n}\n" % port,
             "listen", '"listen" directive is not allowed here'),
            ("too many args",
             "http {\n    keepalive_timeout 1 2 3;\n}\n",
             "keepalive_timeout", 'invalid number of arguments in "keepalive_timeout" directive'),
            ("no args",
             "http {\n    server {\n        listen;\n    }\n}\n",
             "listen;", 'invalid number of arguments in "listen" directive'),
            ("unexpected end of file",
             "http {\n    server {\n        listen 127.0.0.1:%d;\n" % port,
             None, 'unexpected end of file, expecting "}"'),
            # nginx's conflicts between listen and location lines, named at the later one
            ("the same listen twice in a server",
             "http {\n    server {\n        listen 127.0.0.1:%d;\n        listen 127.0.0.1:%d;  # 2\n"
             "    }\n}\n" % (port, port),
             "# 2", "a duplicate listen 127.0.0.1:%d" % port),
            ("two default servers",
             "http {\n    server { listen 127.0.0.1:%d default_server; }\n"
             "    server { listen 127.0.0.1:%d default_server; }  # 2\n}\n" % (port, port),
             "# 2", "a duplicate default server for 127.0.0.1:%d" % port),
            ("socket options on two listens of an address",
             "http {\n    server { listen 127.0.0.1:%d backlog=10; }\n"
             "    server { listen 127.0.0.1:%d rcvbuf=64k; }  # 2\n}\n" % (port, port),
             "# 2", "duplicate listen options for 127.0.0.1:%d" % port),
            ("two prefix locations of one name",
             "http {\n    server {\n        listen 127.0.0.1:%d;\n        location ^~ /a { return 200; }\n"
             "        location /a { return 204; }  # 2\n    }\n}\n" % port,
             "# 2", 'duplicate location "/a"'),
            ("two exact nested locations of one name",
             "http {\n    server {\n        listen 127.0.0.1:%d;\n        location /a {\n"
             "            location = /a/b { return 200; }\n            location = /a/b { return 204; }  # 2\n"
             "        }\n    }\n}\n" % port,
             "# 2", 'duplicate location "/a/b"'),
        ]
        for name, text, needle, message in cases:
            with self.subTest(name):
                # no main lines appended: they would hide the end-of-file case
                conf, text = self.write("bad.conf", text, prepare=False)
                rc, out, err = self.cli(conf, "-t")
                self.assertEqual(rc, 1, err)
                self.assertIn("[emerg]", err)
                self.assertIn(message, err)
                # nginx counts the line after the final newline for end of file
                line = line_of(text, needle) if needle else text.count("\n") + 1
                self.assertIn("%s in %s:%d" % (message, conf, line), err)
                self.assertIn("configuration file %s test failed" % conf, err)
                self.assertNotIn("syntax is ok", err)

    def test_t_accepts_what_nginx_accepts_on_one_address(self):
        # Options on one listen only, an exact and a prefix location of one name,
        # repeated regex and named locations; two servers without server_name on one
        # address get nginx's warning.
        conf, _ = self.write("ok.conf", """http {
    server { listen 127.0.0.1:%(p)d backlog=10; location /a { return 200; } location = /a { return 204; }
             location ~ ^/b { return 200; } location ~ ^/b { return 204; }
             location @x { return 200; } location @x { return 204; } }
    server { listen 127.0.0.1:%(p)d; }
}
""" % {"p": self.port})
        rc, out, err = self.cli(conf, "-t")
        self.assertEqual(rc, 0, err)
        self.assertIn('[warn] conflicting server name "" on 127.0.0.1:%d, ignored' % self.port, err)
        self.assertIn("test is successful", err)

    def test_t_empty_conf_fails(self):
        # nginx: an empty (or events-less) file is not a configuration.
        for text in ("", "http {\n}\n"):
            with self.subTest(text=text):
                conf, _ = self.write("empty.conf", text, prepare=False)
                rc, out, err = self.cli(conf, "-t")
                self.assertEqual(rc, 1, err)
                self.assertIn('[emerg] no "events" section in configuration', err)
                self.assertIn("configuration file %s test failed" % conf, err)

    def test_t_error_in_included_file_names_that_file(self):
        os.makedirs(os.path.join(self.prefix, "conf.d"), exist_ok=True)
        inc, _ = self.write("conf.d/site.conf",
                            "server {\n    listen 127.0.0.1:%d;\n\n    bogus_directive 1;\n}\n" % self.port,
                            prepare=False)
        conf, _ = self.write("tidegate.conf", "http {\n    include conf.d/*.conf;\n}\n")
        rc, out, err = self.cli(conf, "-t")
        self.assertEqual(rc, 1, err)
        self.assertIn('[emerg] unknown directive "bogus_directive" in %s:4' % inc, err)

    def test_t_missing_conf_file(self):
        missing = os.path.join(self.prefix, "nope.conf")
        rc, out, err = self.cli(missing, "-t")
        self.assertEqual(rc, 1, err)
        self.assertIn('[emerg] open() "%s" failed (2: No such file or directory)' % missing, err)

    def test_t_writes_emerg_to_error_log_file(self):
        conf, text = self.write("tidegate.conf", "http {\n    bogus_directive on;\n}\n")
        rc, out, err = self.cli(conf, "-t")
        self.assertEqual(rc, 1)
        log_path = os.path.join(self.prefix, "error.log")
        self.assertTrue(os.path.exists(log_path), "-t must log the error to the -e file too")
        with open(log_path) as f:
            log = f.read()
        self.assertRegex(log, r"(?m)^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[emerg\] \d+#\d+: "
                              r'unknown directive "bogus_directive" in %s:2$' % re.escape(conf))

    def test_e_stderr(self):
        conf, text = self.write("tidegate.conf", "http {\n    bogus_directive on;\n}\n")
        rc, out, err = run_cli(["-p", self.prefix, "-c", conf, "-e", "stderr", "-t"])
        self.assertEqual(rc, 1)
        self.assertIn('[emerg]', err)
        self.assertIn('unknown directive "bogus_directive" in %s:2' % conf, err)

    # -- -T ------------------------------------------------------------------------

    def test_T_dumps_every_file_verbatim(self):
        os.makedirs(os.path.join(self.prefix, "conf.d"), exist_ok=True)
        inc_text = ("# an included file, comments kept\nserver {\n    listen 127.0.0.1:%d;\n"
                    "    return 200 \"included\";   # trailing comment\n}\n" % self.port)
        inc, _ = self.write("conf.d/a.conf", inc_text, prepare=False)
        conf, text = self.write("tidegate.conf", "# main file\nhttp {\n    include conf.d/*.conf;\n}\n")
        rc, out, err = self.cli(conf, "-T")
        self.assertEqual(rc, 0, err)
        self.assertIn("the configuration file %s syntax is ok" % conf, err)
        self.assertIn("configuration file %s test is successful" % conf, err)
        expected = ("# configuration file %s:\n%s\n" % (conf, text)
                    + "# configuration file %s:\n%s\n" % (inc, inc_text))
        self.assertEqual(out, expected)

    def test_T_bad_conf_fails(self):
        conf, text = self.write("tidegate.conf", "http {\n    bogus_directive on;\n}\n")
        rc, out, err = self.cli(conf, "-T")
        self.assertEqual(rc, 1)
        self.assertIn('unknown directive "bogus_directive" in %s:2' % conf, err)

    # -- -g ------------------------------------------------------------------------

    def test_g_adds_main_directives(self):
        conf, _ = self.write("tidegate.conf", "events {}\nhttp {\n}\n", prepare=False)
        pid = os.path.join(self.prefix, "g.pid")
        rc, out, err = self.cli(conf, "-t", "-g", "pid %s; daemon off;" % pid)
        self.assertEqual(rc, 0, err)
        self.assertIn("test is successful", err)

    def test_g_directives_take_effect(self):
        # The conf has neither "pid" nor "daemon": both come from -g. "daemon off" shows
        # as a process that stays in the foreground (the default, daemon on, would fork
        # and exit), "pid" as the pid file at the -g path naming that process (the
        # default path would be somewhere else).
        text = self.good_conf() + "error_log %s info;\n" % os.path.join(self.prefix, "error.log")
        pid_path = os.path.join(self.prefix, "from-g.pid")
        px = Proxy(text, main=False, prefix=self.prefix, extra_args=["-g", "pid %s; daemon off;" % pid_path])
        px.pid_path = pid_path  # start() waits for the pid file there
        self.addCleanup(px.cleanup)
        px.start()
        self.assertTrue(px.is_running(), "daemon off from -g: the started process serves")
        with open(pid_path) as f:
            self.assertEqual(f.read().strip(), str(px.pid))
        self.assertEqual(http_get(self.port, "/").text, "ok")
        self.assertEqual(px.stop(), 0)
        self.assertFalse(os.path.exists(pid_path), "the -g pid file is removed at exit")

    def test_g_unknown_directive_reported_in_command_line(self):
        conf, _ = self.write("tidegate.conf", "events {}\nhttp {\n}\n", prepare=False)
        rc, out, err = self.cli(conf, "-t", "-g", "bogus on;")
        self.assertEqual(rc, 1)
        self.assertIn('[emerg] unknown directive "bogus" in command line', err)

    def test_g_duplicate_of_conf_directive(self):
        conf, text = self.write("tidegate.conf", "daemon off;\nevents {}\nhttp {\n}\n", prepare=False)
        rc, out, err = self.cli(conf, "-t", "-g", "daemon off;")
        self.assertEqual(rc, 1)
        self.assertIn('[emerg] "daemon" directive is duplicate in %s:1' % conf, err)

    # -- -s without a running instance -----------------------------------------------

    def test_s_without_pid_file(self):
        conf, _ = self.write("tidegate.conf", self.good_conf())
        pidfile = os.path.join(self.prefix, "tidegate.pid")
        self.assertFalse(os.path.exists(pidfile))
        rc, out, err = self.cli(conf, "-s", "reload")
        self.assertEqual(rc, 1, err)
        self.assertIn('[error] open() "%s" failed (2: No such file or directory)' % pidfile, err)

    def test_s_invalid_signal(self):
        conf, _ = self.write("tidegate.conf", self.good_conf())
        rc, out, err = self.cli(conf, "-s", "bogus")
        self.assertNotEqual(rc, 0)
        self.assertIn('invalid option: "-s bogus"', err)


if __name__ == "__main__":
    unittest.main()
