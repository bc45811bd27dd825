"""How long an in-process HTTP answer waits for the interpreter while other threads compute.

    python tests/bench/switch_interval.py [--busy 8] [--requests 40]

The daemon answers /healthz and /readyz on a thread of its own process while
workers read and decide (first syncs are CPU work under one interpreter lock).
This starts a small HTTP server that answers a /readyz-sized JSON body, N threads
that compute, and a client in another process (so the client does not wait for
this interpreter), and prints the answer's latency (median, max) for CPython's
default switch interval (5 ms) and the daemon's (runner.SWITCH_INTERVAL), plus
how much the busy threads computed meanwhile. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import http.server
import json
import socketserver
import statistics
import subprocess
import sys
import threading
import time

from benchkit import env  # noqa: F401  (puts the tree on the path)

from tierlift.service.daemon.runner import SWITCH_INTERVAL

CLIENT = """
import http.client, sys, time, json
port, n = int(sys.argv[1]), int(sys.argv[2])
out = []
for _ in range(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t = time.perf_counter()
    c.request("GET", "/readyz")
    c.getresponse().read()
    out.append((time.perf_counter() - t) * 1000)
    c.close()
    time.sleep(0.05)
print(json.dumps(out))
"""


class _Answer(http.server.BaseHTTPRequestHandler):
    body = json.dumps({"status": "ready", "leases": {f"hd{i:03d}": "holder" for i in range(500)}}).encode()

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def measure(interval: float, busy: int, requests: int) -> tuple[float, float, int]:
    sys.setswitchinterval(interval)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    done = [0] * busy

    def compute(k: int) -> None:
        while not stop.is_set():
            x = 0
            for i in range(1000):
                x += i * i
            done[k] += 1

    threads = [threading.Thread(target=compute, args=(k,), daemon=True) for k in range(busy)]
    for t in threads:
        t.start()
    try:
        out = subprocess.run([sys.executable, "-c", CLIENT, str(server.server_address[1]), str(requests)],
                             capture_output=True, text=True, check=True, timeout=600).stdout
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.shutdown()
        server.server_close()
    latencies = json.loads(out)
    return statistics.median(latencies), max(latencies), sum(done)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--busy", type=int, default=8, help="threads computing (the first syncs at once)")
    ap.add_argument("--requests", type=int, default=40)
    args = ap.parse_args(argv)
    print(f"{args.busy} busy threads, {args.requests} requests each, one run after the other")
    print("| switch interval | median answer (ms) | slowest (ms) | busy threads' work (k loops) |")
    print("|---|---|---|---|")
    for interval in (0.005, SWITCH_INTERVAL, 0.005, SWITCH_INTERVAL):
        started = time.monotonic()
        median, slowest, work = measure(interval, args.busy, args.requests)
        rate = work / (time.monotonic() - started) / 1000
        print(f"| {interval * 1000:g} ms | {median:.1f} | {slowest:.1f} | {rate:.1f}/s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
