"""The support floor, short: both flavours and both packs against the real daemon, judged by the oracle.

The same runs as `python tests/floor/run.py` (sandbox with its floor, `tierlift
run` as a subprocess on the sandbox's clock, oracle on the helpdesk's record),
over five helpdesk hours of a Monday instead of five days. Every wrong-figure
column must be 0; the failure message lists examples of each.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

# tests/bench has a run.py too: load this folder's by path, under its own name.
_spec = importlib.util.spec_from_file_location("floor_run", Path(__file__).with_name("run.py"))
floor_run = sys.modules["floor_run"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(floor_run)
WRONG, examples, run_all, table = floor_run.WRONG, floor_run.examples, floor_run.run_all, floor_run.table

CI = {"tickets": 50, "days": 0.625, "speed": 600.0, "poll": 0.1}


@pytest.mark.timeout(400)
def test_the_floor_short_every_wrong_figure_is_zero():
    # The four runs side by side: each mostly waits on its helpdesk's clock.
    results = run_all(CI, ["zendesk", "jira"], ["three-tier", "teamflow"], seed=7, parallel=4)
    print(table(results))
    rows = [r.row() for r in results]
    assert all(r.floor_errors == [] for r in results), [r.floor_errors[:3] for r in results]
    assert all(row["tickets"] == CI["tickets"] for row in rows)
    assert all(row["agent replies"] > 0 and row["right"] > 0 for row in rows)  # the floor worked, tierlift acted
    wrong = {f"{row['flavour']}/{row['pack']}": {c: row[c] for c in WRONG if row[c]} for row in rows}
    assert not any(wrong.values()), f"{wrong}\n{table(results)}\n" + "\n".join(examples(r) for r in results)
