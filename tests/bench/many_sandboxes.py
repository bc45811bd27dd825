"""H sandbox helpdesks in one process, for many.py: half Zendesk, half Jira, each its own data.

    python tests/bench/many_sandboxes.py H TICKETS NOW SPREAD [LATENCY_MS]

LATENCY_MS delays every answer by that much (the sandbox's `latency` fault at rate 1), as
a helpdesk across the internet answers. Prints one JSON line,
[{"flavor": ..., "url": ...}, ...], then serves until its standard input closes.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from tierlift.sandbox import Sandbox


def main() -> int:
    h, tickets, now, spread = int(sys.argv[1]), int(sys.argv[2]), datetime.fromisoformat(sys.argv[3]), int(sys.argv[4])
    latency = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    faults = f"latency:1@{latency:g}ms" if latency else ""
    boxes = [Sandbox("zendesk" if i % 2 == 0 else "jira", tickets=tickets, seed=7 + i, now=now, spread=spread,
                     faults=faults) for i in range(h)]
    try:
        for b in boxes:
            b.start()
        print(json.dumps([{"flavor": b.flavor, "url": b.url} for b in boxes]), flush=True)
        sys.stdin.read()
    finally:
        for b in boxes:
            b.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
