#!/usr/bin/env python3
"""A small app server for the autoscaling demo and tests: `demo_backend.py PORT`.

GET /health answers "ok"; any other path answers "hello from PORT" after
DEMO_DELAY_MS milliseconds (default 0). A WebSocket upgrade (any path) is an echo
session whose answers start with "PORT: ". HTTP/1.1 with keep-alive, one thread per
connection; SIGTERM stops it at once (the proxy drained it before).
"""
import base64
import hashlib
import http.server
import os
import signal
import struct
import sys
import time

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_frame(rfile):
    """One client frame: (fin, opcode, payload), or None at EOF."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    fin, opcode = head[0] & 0x80, head[0] & 0x0F
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", rfile.read(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", rfile.read(8))[0]
    mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = bytearray(rfile.read(n))
    for i in range(len(data)):
        data[i] ^= mask[i % 4]
    return fin, opcode, bytes(data)


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = int(os.environ.get("DEMO_DELAY_MS", "0")) / 1000.0

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if self.path != "/health" and self.delay:
            time.sleep(self.delay)
        body = b"ok\n" if self.path == "/health" else ("hello from %d\n" % self.server.server_port).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        prefix = ("%d: " % self.server.server_port).encode()
        message = b""
        while True:
            f = read_frame(self.rfile)
            if f is None:
                break
            fin, opcode, data = f
            if opcode == 8:  # close: answer it and end
                self.wfile.write(frame(8, data[:2]))
                break
            if opcode == 9:
                self.wfile.write(frame(10, data))
            elif opcode in (0, 1, 2):
                message += data
                if fin:
                    self.wfile.write(frame(1, prefix + message))
                    message = b""
            self.wfile.flush()
        self.close_connection = True

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
