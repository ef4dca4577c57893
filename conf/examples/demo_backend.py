#!/usr/bin/env python3
"""A small app server for the autoscaling demo and tests: `demo_backend.py PORT`.

GET /health answers "ok"; any other path answers "hello from PORT" after
DEMO_DELAY_MS milliseconds (default 0). HTTP/1.1 with keep-alive, one thread per
connection; SIGTERM stops it at once (the proxy drained it before).
"""
import http.server
import os
import signal
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = int(os.environ.get("DEMO_DELAY_MS", "0")) / 1000.0

    def do_GET(self):
        if self.path != "/health" and self.delay:
            time.sleep(self.delay)
        body = b"ok\n" if self.path == "/health" else ("hello from %d\n" % self.server.server_port).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    port = int(sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
