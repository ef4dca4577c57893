"""Upstream servers for the load-balancing integration tests (tests/integration/test_balancing.py).

``BalancingBackend`` is the echo ``Backend`` of tests.support.backends (every response
carries ``X-Backend: <name>``, so a test sees which server answered) with the knobs a
balancing test needs:

  /hold          held until the test calls release() (at most ``max_hold`` seconds),
                 then echoed: a request that keeps a connection to this server busy
                 for as long as the test wants, counted in ``held``
  delay_ms=N     every other request is answered after N ms (a slow server)
  status=NNN     every other request is answered with status NNN
  reset=True     every other request is read in full, then the connection is reset
                 (RST, no response byte): the "error after the request was sent" case
  raw=b"..."     every other request is read in full and answered with exactly these
                 bytes, then the connection is closed (e.g. a response head nginx
                 calls an "invalid header")

Every request is recorded in ``requests`` (as in ``Backend``).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time

from tests.support.backends import Backend

__all__ = ["BalancingBackend", "wait_until"]


def wait_until(predicate, timeout=5.0, interval=0.01) -> bool:
    """Polls ``predicate()`` until it is true or ``timeout`` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(interval)


class BalancingBackend(Backend):
    """Echo backend with held requests, a fixed delay, a fixed status, raw answers or resets."""

    def __init__(self, name="backend", *, delay_ms=0, status=None, reset=False, raw=None,
                 max_hold=20.0):
        super().__init__(name)
        self.delay_ms = delay_ms
        self.status = status
        self.reset = reset
        self.raw = raw
        self.max_hold = max_hold
        self.held = 0  # requests currently waiting in /hold
        self._gate = None  # asyncio.Event, created on the backend's loop
        self._released = False

    def start(self):
        super().start()

        async def make_gate():
            self._gate = asyncio.Event()

        asyncio.run_coroutine_threadsafe(make_gate(), self._loop).result(5)
        return self

    def release(self):
        """Lets every held request (and any later /hold) complete at once."""
        self._released = True
        if self._loop is None or self._gate is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._gate.set)
        except RuntimeError:
            pass  # loop already closed (backend stopped)

    async def _dispatch(self, req, body, writer) -> bool:
        if req.path == "/hold":
            await body.consume()
            with self._cond:
                self.held += 1
                self._cond.notify_all()
            try:
                if not self._released:
                    try:
                        await asyncio.wait_for(self._gate.wait(), self.max_hold)
                    except asyncio.TimeoutError:
                        pass
            finally:
                with self._cond:
                    self.held -= 1
                    self._cond.notify_all()
            return await self._echo(writer, req, body)
        if self.delay_ms:
            await asyncio.sleep(self.delay_ms / 1000.0)
        if self.reset:
            await body.consume()
            self._record(req)
            sock = writer.get_extra_info("socket")
            if sock is not None:
                # linger 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if self.raw is not None:
            await body.consume()
            self._record(req)
            writer.write(self.raw)
            await writer.drain()
            return False
        if self.status is not None:
            await body.consume()
            payload = ("status %d from %s\n" % (self.status, self.name)).encode()
            return await self._write(writer, req, self.status, [("Content-Type", "text/plain")], payload)
        return await super()._dispatch(req, body, writer)
