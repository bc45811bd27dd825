"""What a policy pack costs to read: YAML with positions, then validation and the engine's types.

    python tests/bench/policy_parse.py [--runs N]

Per built-in pack, the median of N runs (default 50) of each part, in milliseconds. The
daemon parses each distinct pack text once (service/daemon/policies.py caches by text),
so 500 helpdesks on one pack pay this once; a pack per helpdesk pays it per helpdesk.
The figures are for the machine the command runs on: compare the parts, not machines.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tierlift.engine.policy import build_policy
from tierlift.engine.yamlsrc import load

PACKS = Path(__file__).resolve().parents[2] / "policies"


def median_ms(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs
    print(f"{'pack':16} {'YAML':>9} {'validate+build':>15} {'whole':>9}")
    for path in sorted(PACKS.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        data, positions = load(text, path.name)
        yaml_ms = median_ms(partial(load, text, path.name), runs)
        build_ms = median_ms(partial(build_policy, data, positions), runs)
        print(f"{path.name:16} {yaml_ms:7.2f}ms {build_ms:13.2f}ms {yaml_ms + build_ms:7.2f}ms")


if __name__ == "__main__":
    main()
