"""tierlift's side of the benchmark, in its own process: the daemon's per-helpdesk cycle.

    python tests/bench/worker.py CONFIG        then JSON lines on stdin: {"cmd": "cycle"}, {"cmd": "quit"}

It builds what a daemon worker builds from tierlift.yaml (the config loader,
the connector factory, the SQLite state store, a HelpdeskCycle per cycle)
and runs a cycle per command, at the sandbox's clock (read from its
control endpoint, which the sandbox does not log). The answer is the cycle's
own counts and seconds and this process's peak resident memory so far, so
the sandbox's memory and time never mix in.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import datetime
from pathlib import Path

import requests
from benchkit import peak_rss_mb, serve

from tierlift.service.daemon.config import load_config
from tierlift.service.daemon.connect import make_connector
from tierlift.service.daemon.cycle import HelpdeskCycle
from tierlift.service.daemon.state import StateStore


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    cfg = load_config(Path(argv[0]))
    hd = cfg.helpdesks[0]
    store = StateStore(cfg.state_path)
    connector = make_connector(hd)
    connector.open()
    clock_url = hd.url.rstrip("/") + "/_sandbox/clock"
    http = requests.Session()

    def handle(cmd: dict) -> dict:
        if cmd["cmd"] != "cycle":
            return {"error": f"unknown command {cmd['cmd']}"}
        now = datetime.fromisoformat(http.get(clock_url, timeout=30).json()["now"].replace("Z", "+00:00"))
        t0 = time.perf_counter()
        # A new HelpdeskCycle per cycle, as the daemon's worker thread makes one.
        cycle = HelpdeskCycle(hd, connector, store, show_progress=False)
        stats = cycle.run(now)
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "read": stats.read, "evaluated": stats.evaluated, "due": stats.due,
                "escalations": stats.escalations, "quarantined": stats.quarantined, "rss_mb": peak_rss_mb(),
                "index": store.index_size(hd.name)}

    try:
        serve(handle)
    finally:
        connector.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
