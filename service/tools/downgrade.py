"""`tierlift downgrade`: the state back at the previous release's schema, before going back to it.

Going back with the copy kept before migrating (`state.sqlite3.schema<N>.bak`) forgets what
the newer release journaled since: a page that was failing at the upgrade, then sent and
resolved by the newer release, was sent again by the older one, a new PagerDuty incident for
a fixed outage (QA, an SRE). Taken back one schema step in place, the state keeps every
escalation, message and page the newer release journaled, and the older release sends none
of them again. Only with every daemon on the state stopped: the SQLite file's lock is taken,
and PostgreSQL refuses while a replica lives.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from tierlift.service.daemon.config import load_config
from tierlift.service.daemon.leases import FileLock
from tierlift.service.daemon.state import StateError, describe, open_store, state_exists
from tierlift.service.daemon.store.schema import DOWN, SCHEMA_VERSION

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def run(args: argparse.Namespace, out: TextIO) -> int:
    cfg = load_config(Path(args.config), load_policies=False, read_secrets=False)  # the state only
    if not state_exists(cfg):
        print(f"tierlift downgrade: no state at {describe(cfg)}: nothing to take back", file=sys.stderr)
        return EXIT_BAD_INPUT
    lock = None if getattr(cfg, "state_url", None) else FileLock(cfg.state_path)
    try:
        if lock is not None:
            lock.acquire()  # a daemon on the file: "in use by another tierlift daemon (pid N); stop it first"
        with open_store(cfg, migrate=False) as store:
            now = store.step_down()
    except StateError as exc:
        print(f"tierlift downgrade: {exc}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        if lock is not None:
            lock.release()
    lost = DOWN[SCHEMA_VERSION][0]
    out.write(f"state {describe(cfg)}: schema {SCHEMA_VERSION} -> {now}, as the previous release keeps it; kept:"
              f" every escalation, message and page journaled; dropped: {lost}. Start the older release on it"
              " (docs/upgrading.md); this release migrates it again when its daemon starts.\n")
    return EXIT_OK
