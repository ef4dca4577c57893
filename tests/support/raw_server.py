"""A thread-per-connection TCP server on 127.0.0.1 for raw upstreams in tests: it
accepts, hands each connection to ``serve(index, sock)`` on its own thread, and
``stop()`` closes the listener and shuts every accepted connection down."""

import socket
import threading


class RawServer:
    def __init__(self):
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.lock = threading.Lock()
        self.socks = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.done.set()
        self.lsock.close()
        with self.lock:
            socks = list(self.socks)
        for c in socks:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(5)

    def accepted(self, sock) -> int:
        """Called under ``lock`` for each new connection; returns its index."""
        self.socks.append(sock)
        return len(self.socks) - 1

    def serve(self, index, sock):
        raise NotImplementedError

    def _accept(self):
        while not self.done.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                idx = self.accepted(c)
            threading.Thread(target=self.serve, args=(idx, c), daemon=True).start()
