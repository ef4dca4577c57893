"""Large bodies are streamed, not held in memory: 1 GB up and 1 GB down through the proxy
while its RSS is sampled. (CMake gives this file a 300 s timeout.)"""

import hashlib
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tests.support.backends import pattern_chunks, pattern_sha256  # noqa: E402
from tests.support.harness import IntegrationTest, fill, free_port, http_get  # noqa: E402

GB = 1 << 30
SIZE = int(os.environ.get("TIDEGATE_STREAM_BYTES", GB))
RSS_GROWTH_LIMIT_KB = 64 * 1024  # the target is a few MB; this leaves headroom

CONF = """
http {
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_http_version 1.1;
    proxy_read_timeout 60s;
    proxy_send_timeout 60s;
    send_timeout 60s;
    client_body_timeout 60s;
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://@BE@;
        }
    }
}
"""

_expected_sha = {}


def expected_sha(n):
    if n not in _expected_sha:
        _expected_sha[n] = pattern_sha256(n)
    return _expected_sha[n]


class RssSampler:
    """Samples the proxy's RSS in a thread until stopped; keeps the peak."""

    def __init__(self, proxy, interval=0.02):
        self.proxy = proxy
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proxy.rss_kb())
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


class StreamingTest(IntegrationTest):
    def setUp(self):
        self.be = self.backend()
        self.port = free_port()
        self.px = self.proxy(fill(CONF, PORT=self.port, BE=self.be.addr))
        # warm up so that lazily allocated buffers count in the baseline
        for _ in range(3):
            self.assertEqual(http_get(self.port, "/big?bytes=4000000").status, 200)
        self.baseline = self.px.rss_kb()
        self.assertGreater(self.baseline, 0)

    def assert_rss_bounded(self, sampler):
        growth = sampler.peak - self.baseline
        self.assertGreater(sampler.samples, 5)
        self.assertLess(growth, RSS_GROWTH_LIMIT_KB,
                        "proxy RSS grew by %d kB (baseline %d kB, peak %d kB) while streaming"
                        % (growth, self.baseline, sampler.peak))

    def test_upload_1gb_streamed(self):
        c = self.client(self.port, timeout=60)
        c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: application/octet-stream\r\n"
               "Content-Length: %d\r\n\r\n" % SIZE)
        h = hashlib.sha256()
        t0 = time.monotonic()
        with RssSampler(self.px) as sampler:
            for piece in pattern_chunks(SIZE):
                c.sock.sendall(piece)
                h.update(piece)
            r = c.read_response()
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        got = r.json()
        self.assertEqual(got["bytes"], SIZE)
        self.assertEqual(got["sha256"], h.hexdigest())
        self.assert_rss_bounded(sampler)
        print("\nupload %d MB in %.1fs, proxy RSS baseline %d kB peak %d kB"
              % (SIZE >> 20, elapsed, self.baseline, sampler.peak), file=sys.stderr)

    def test_download_1gb_streamed(self):
        c = self.client(self.port, timeout=60)
        h = hashlib.sha256()
        count = [0]

        def sink(data):
            count[0] += len(data)
            h.update(data)

        t0 = time.monotonic()
        with RssSampler(self.px) as sampler:
            c.request("GET", "/big?bytes=%d" % SIZE)
            r = c.read_response(body_sink=sink)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Length"), str(SIZE))
        self.assertEqual(count[0], SIZE)
        self.assertEqual(h.hexdigest(), expected_sha(SIZE))
        self.assert_rss_bounded(sampler)
        print("\ndownload %d MB in %.1fs, proxy RSS baseline %d kB peak %d kB"
              % (SIZE >> 20, elapsed, self.baseline, sampler.peak), file=sys.stderr)

    def test_slow_reader_does_not_grow_memory(self):
        """A client that stops reading must not make the proxy buffer the upstream's
        response in memory (backpressure, or spilling to disk as nginx does)."""
        n = min(SIZE, 256 << 20)
        c = self.client(self.port, timeout=60)
        with RssSampler(self.px) as sampler:
            c.request("GET", "/big?bytes=%d&chunked=1" % n)
            time.sleep(1.5)  # not reading: the upstream keeps sending meanwhile
            stalled_peak = sampler.peak
            h = hashlib.sha256()
            count = [0]

            def sink(data):
                count[0] += len(data)
                h.update(data)
            r = c.read_response(body_sink=sink)
        self.assertEqual(r.status, 200)
        self.assertEqual(count[0], n)
        self.assertEqual(h.hexdigest(), expected_sha(n))
        self.assertLess(stalled_peak - self.baseline, RSS_GROWTH_LIMIT_KB)
        self.assert_rss_bounded(sampler)


if __name__ == "__main__":
    unittest.main()
