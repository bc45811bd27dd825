"""A probe client in a session of its own, as an orchestrator's is (many.py starts it).

    python tests/bench/outside_probe.py PORT OUT

Asks /healthz and /readyz every quarter second until its standard input closes, and
writes one line per answer to OUT: "<path> <status> <seconds>". The benchmark's own
client runs in the benchmark's process, in one scheduling group with the daemon and the
sandboxes; a kubelet asks from outside the pod, which this stands for.
"""

from __future__ import annotations

import http.client
import select
import sys
import time


def main(port: int, out: str) -> None:
    with open(out, "w", buffering=1) as f:
        while not select.select([sys.stdin], [], [], 0.25)[0]:
            for path in ("/healthz", "/readyz"):
                t0 = time.perf_counter()
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("GET", path)
                    status = conn.getresponse().status
                    conn.close()
                except OSError:
                    continue  # not listening yet, or gone
                f.write(f"{path} {status} {time.perf_counter() - t0:.6f}\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
