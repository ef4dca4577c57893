#!/usr/bin/python3
"""Open many idle keep-alive HTTP/1.1 connections and report a server's RSS growth.

Each connection sends one keep-alive request, reads the full response and then
stays open and idle. With --pids, the summed VmRSS of those processes is read
before the first connection and again after all connections are established
and have settled, so the difference is the server's memory for N idle
keep-alive connections.

Prints one machine-readable line at the end:
    RESULT opened=N ok=N failed=N still_open=N rss_before_kb=N rss_after_kb=N
Stdlib only; loopback targets only; bounded by --timeout.
"""

import argparse
import asyncio
import collections
import resource
import socket
import ssl
import struct
import sys
import time


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except FileNotFoundError:
            pass
    return total


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        print(f"idle_conns: warning: RLIMIT_NOFILE is {soft}, fewer than the {need} "
              "descriptors needed", file=sys.stderr)


async def read_response(reader):
    """Read one HTTP/1.x response (Content-Length or chunked body). Returns status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = None
    chunked = False
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and "close" in value:
            close = True
    if chunked:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                break
            await reader.readexactly(size + 2)
    elif length:
        await reader.readexactly(length)
    if close:
        raise ConnectionError("server answered Connection: close")
    return status


async def open_one(host, port, request, sem, timeout, tls):
    async with sem:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=tls, server_hostname="bench.local" if tls else None),
            timeout)
        try:
            writer.write(request)
            await writer.drain()
            status = await asyncio.wait_for(read_response(reader), timeout)
            if not 200 <= status < 400:
                raise ConnectionError(f"status {status}")
        except BaseException:
            abort(writer)
            raise
        return reader, writer


def abort(writer):
    """Close with RST (SO_LINGER 0) so that no TIME_WAIT ports pile up."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.close()


async def main_async(args):
    pids = [int(p) for p in args.pids.split(",") if p] if args.pids else []
    request = (f"GET {args.path} HTTP/1.1\r\nHost: {args.host_header}\r\n"
               "User-Agent: tidegate-idle-bench\r\n\r\n").encode()
    before = rss_kb(pids)
    sem = asyncio.Semaphore(args.concurrency)
    tls = None
    if args.tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    t0 = time.monotonic()
    results = await asyncio.gather(
        *(open_one(args.host, args.port, request, sem, args.conn_timeout, tls)
          for _ in range(args.count)),
        return_exceptions=True)
    conns = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    t_open = time.monotonic() - t0
    await asyncio.sleep(args.settle)
    still_open = sum(1 for reader, _ in conns if not reader.at_eof())
    after = rss_kb(pids)
    if errors:
        kinds = collections.Counter(f"{type(e).__name__}: {str(e)[:60]}" for e in errors)
        for k, n in kinds.most_common(5):
            print(f"idle_conns: {n} x {k}", file=sys.stderr)
    print(f"idle_conns: {len(conns)}/{args.count} connections up in {t_open:.1f}s, "
          f"{still_open} still open after {args.settle}s idle", file=sys.stderr)
    print(f"RESULT opened={args.count} ok={len(conns)} failed={len(errors)} "
          f"still_open={still_open} rss_before_kb={before} rss_after_kb={after}", flush=True)
    for _, writer in conns:
        abort(writer)
    await asyncio.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--path", default="/")
    ap.add_argument("--host-header", default="bench.local")
    ap.add_argument("--concurrency", type=int, default=200,
                    help="connections being set up at once (keeps the listen backlog from overflowing)")
    ap.add_argument("--settle", type=float, default=2.0,
                    help="seconds to stay idle before sampling RSS")
    ap.add_argument("--pids", default="", help="comma-separated pids whose VmRSS is summed")
    ap.add_argument("--conn-timeout", type=float, default=10.0)
    ap.add_argument("--tls", action="store_true", help="TLS connections (certificate not checked)")
    ap.add_argument("--timeout", type=float, default=180.0, help="overall time limit")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.host.startswith("127."):
        ap.error("loopback targets only")
    raise_nofile(args.count + 256)
    try:
        asyncio.run(asyncio.wait_for(main_async(args), args.timeout))
    except asyncio.TimeoutError:
        print(f"idle_conns: gave up after {args.timeout}s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
