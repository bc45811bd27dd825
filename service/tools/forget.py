"""`tierlift forget`: what the state keeps of some tickets, deleted before the retention ends.

A customer's erasure request (GDPR Art. 17) reached only the whole state file before: its
index snapshots keep subjects, descriptions, comments and emails, its journal the notes and
replies tierlift wrote (QA, a privacy auditor). The tickets are named, or found by their
requester's email in the index; what tierlift wrote on the tickets themselves is the
helpdesk's to erase with them. Safe while the daemon runs: a ticket it meets again is read
from the helpdesk, and where it stands is rebuilt from tierlift's notes on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from tierlift.service.daemon.config import load_config
from tierlift.service.daemon.state import open_for_tool

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def run(args: argparse.Namespace, out: TextIO) -> int:
    cfg = load_config(Path(args.config))
    names = [hd.name for hd in cfg.helpdesks]
    if args.helpdesk not in names:
        print(f"tierlift forget: no helpdesk {args.helpdesk!r} in {args.config} (it has {', '.join(names)})",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.tickets and not args.requester:
        print("tierlift forget: name the tickets, or --requester EMAIL", file=sys.stderr)
        return EXIT_BAD_INPUT
    with open_for_tool(cfg, writes=True) as store:
        ids = list(args.tickets)
        if args.requester:
            found = store.tickets_of_requester(args.helpdesk, args.requester)
            out.write(f"helpdesk {args.helpdesk}: {len(found)} indexed ticket(s) of that requester"
                      f"{': ' + ', '.join(found) if found else ''}\n")
            ids += found
        try:
            counts = store.forget_tickets(args.helpdesk, ids)
        except ValueError as exc:
            print(f"tierlift forget: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    said = ", ".join(f"{n} {what}" for what, n in counts.items() if n) or "nothing was kept of them"
    out.write(f"helpdesk {args.helpdesk}: forgot {len(set(ids))} ticket(s): {said}\n")
    return EXIT_OK
