"""The `tierlift` command line. Exit codes: 0 success, 2 bad configuration or input, 1 anything else.

argparse (standard library) is enough here: the commands are flat, and it
keeps the daemon's start-up free of another dependency.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tierlift.engine.yamlsrc import InvalidFile

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def _print_problems(exc: InvalidFile) -> int:
    for p in exc.problems:
        print(str(p), file=sys.stderr)
    n = len(exc.problems)
    print(f"{n} problem{'s' if n != 1 else ''} found", file=sys.stderr)
    return EXIT_BAD_INPUT


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    from tierlift.engine.durations import parse_instant

    try:
        return parse_instant(text)
    except ValueError as exc:
        raise InvalidFile([_problem("--now", str(exc))]) from None


def _problem(source: str, message: str):
    from tierlift.engine.yamlsrc import Problem

    return Problem(source, None, "", message)


# --- commands ---------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    from tierlift.service.daemon.policies import load_policy
    from tierlift.service.tools.policytools import explain

    if not args.policy and not args.config:
        print("tierlift check: give --policy PATH_OR_NAME or --config FILE", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.policy:
        policy = load_policy(args.policy)
        explain(policy, sys.stdout)
    if args.config:
        from tierlift.service.tools.checks import check_config

        return check_config(Path(args.config), offline=args.offline, out=sys.stdout)
    return EXIT_OK


def cmd_test_policy(args: argparse.Namespace) -> int:
    from tierlift.service.daemon.policies import load_policy
    from tierlift.service.tools.policytools import run_cases

    policy = load_policy(args.policy)
    return run_cases(policy, Path(args.cases), sys.stdout)


def cmd_simulate(args: argparse.Namespace) -> int:
    from tierlift.service.daemon.policies import load_policy
    from tierlift.service.tools.exports import read_export
    from tierlift.service.tools.policytools import (
        print_compare,
        print_table,
        say_gaps,
        simulate,
        triage_readings,
        write_json_lines,
    )

    policy = load_policy(args.policy)
    now = _now(args.now)
    export = read_export(Path(args.tickets), me=args.me, email=_login(args.config))
    for ticket_id, reason in export.poison:
        print(f"{args.tickets}: ticket {ticket_id} skipped: {reason}", file=sys.stderr)
    unmet: list[str] = []
    reader = _helpdesk_reader(args.config, policy)
    decisions = simulate(policy, export.tickets, now, unmet=unmet, classifier=reader)
    say_gaps(export, now, unmet, sys.stderr, told_me=bool(args.me or args.config))
    if args.compare:
        other = load_policy(args.compare)
        print_compare(policy, other, decisions, simulate(other, export.tickets, now), sys.stdout, as_json=args.json,
                      changed_only=args.changed_only)
        return EXIT_OK
    if args.json:
        write_json_lines(decisions, changed_only=args.changed_only,
                         readings=triage_readings(policy, export.tickets, reader))
    else:
        print_table(decisions, sys.stdout, changed_only=args.changed_only)
    return EXIT_OK


def _helpdesk_reader(config: str | None, policy: Any) -> Any:
    """With --config, the text model the configuration's first helpdesk reads with (its
    `triage_model`, then the refit accepted for it), as the daemon and `plan` do (QA: simulate
    read with the shipped model and escalated what the daemon only asked about); None: the
    policy's own (the shipped model), or a policy that reads no words."""
    from tierlift.service.daemon.triage import uses_triage

    if not config or not uses_triage(policy):
        return None
    from tierlift.service.daemon.config import load_config
    from tierlift.service.daemon.state import open_store, state_exists
    from tierlift.service.daemon.triage import UnknownTriageModel, chosen_classifier

    cfg = load_config(Path(config), load_policies=False, read_secrets=False)
    if not cfg.helpdesks or not state_exists(cfg):
        return None
    hd = cfg.helpdesks[0]
    with open_store(cfg, migrate=False) as store:
        try:
            chosen = chosen_classifier(store, hd.name, hd.options.triage_model)
        except UnknownTriageModel as exc:
            print(f"simulate: {exc}; read with the shipped model", file=sys.stderr)
            return None
    if chosen is not None:
        print(f"simulate: read with {chosen.name}, the model helpdesk {hd.name} reads with", file=sys.stderr)
    return chosen


def _login(config: str | None) -> str | None:
    """tierlift's login (the first helpdesk's `email`) from a configuration: its own account."""
    if not config:
        return None
    from tierlift.service.daemon.config import load_config

    cfg = load_config(Path(config), load_policies=False, read_secrets=False)  # the email only
    return cfg.helpdesks[0].email if cfg.helpdesks else None


def cmd_export(args: argparse.Namespace) -> int:
    from tierlift.service.tools.exports import export_command

    ids = [i.strip() for part in args.ids or () for i in part.split(",") if i.strip()]
    if not args.out:
        return export_command(Path(args.config), helpdesk=args.helpdesk, ids=ids, since=args.since, out=sys.stdout)
    # Written beside the target and put in its place only once the export succeeded:
    # opening --out first emptied an earlier export when --since or the token was wrong.
    import os
    import tempfile

    target = _out_path(args.out)
    if target.exists() and not target.is_file():
        # A device or a named pipe (`--out /dev/null`) is written into: renamed over, /dev/null
        # became a regular file of root's (QA, an SRE), and the machine's other programs failed.
        with target.open("w", encoding="utf-8") as out:
            return export_command(Path(args.config), helpdesk=args.helpdesk, ids=ids, since=args.since, out=out)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            code = export_command(Path(args.config), helpdesk=args.helpdesk, ids=ids, since=args.since, out=out)
        if code == EXIT_OK:
            os.replace(tmp, target)
        return code
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _out_path(raw: str) -> Path:
    """--out FILE: its folder exists and is writable, and FILE is not a folder (exit 2 otherwise,
    not a traceback once the work is done)."""
    import os

    path = Path(raw)
    parent = path.parent
    if not parent.is_dir():
        raise InvalidFile([_problem("--out", f"directory {parent} does not exist")])
    if not os.access(parent, os.W_OK):
        raise InvalidFile([_problem("--out", f"directory {parent} is not writable")])
    if path.is_dir():
        raise InvalidFile([_problem("--out", f"{path} is a directory; expected a file")])
    return path


def _sandbox_port(rest: Sequence[str]) -> None:
    """The sandbox's --port, checked before it binds (99999 was an OverflowError from bind)."""
    ports = argparse.ArgumentParser(add_help=False)
    ports.add_argument("--port")
    known, _ = ports.parse_known_args(list(rest))
    if known.port is not None and not (known.port.isdigit() and int(known.port) <= 65535):
        raise InvalidFile([_problem("--port", "expected a port from 0 (any free one) to 65535")])


def cmd_sandbox(args: argparse.Namespace) -> int:
    from tierlift.sandbox.server import main as sandbox_main

    _sandbox_port(args.rest)
    return sandbox_main(args.rest)


def cmd_run(args: argparse.Namespace) -> int:
    import signal

    # A stop asked for while the daemon still imports and loads its files (~0.3 s)
    # used to kill it by the default action (exit -15, 143 in a container); it is
    # now kept and honoured with exit 0 once the daemon can stop cleanly
    # (found by tests/reliability/test_shutdown.py).
    early: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        # SIGHUP too: its default action killed the daemon (exit 129, no log line) for the
        # first ~0.2 s, and systemd counts that as a clean exit (QA: a logrotate HUP). A HUP
        # then is a reload once the daemon runs.
        signal.signal(sig, lambda signum, _frame: early.append(signum))
    from tierlift.service.daemon.runner import run

    return run(Path(args.config), once=args.once, overrides={"dry_run": True} if args.dry_run else None,
               log_format=args.log_format,
               verbose=args.verbose, early_stop=early)


def cmd_plan(args: argparse.Namespace) -> int:
    from tierlift.service.tools.plan import plan

    return plan(Path(args.config), as_json=args.json, helpdesk=args.helpdesk)


def cmd_status(args: argparse.Namespace) -> int:
    from tierlift.service.tools.status import status

    return status(Path(args.config), as_json=args.json, helpdesk=args.helpdesk)


def cmd_history(args: argparse.Namespace) -> int:
    from tierlift.service.tools.history import history

    return history(Path(args.config), args.ticket, as_json=args.json, helpdesk=args.helpdesk, offline=args.offline)


def cmd_demo(args: argparse.Namespace) -> int:
    from tierlift.service.tools.demo import demo

    return demo(flavor=args.flavor, tickets=args.tickets, seed=args.seed, policy=args.policy, keep=args.keep,
                port=args.port)


def cmd_webhooks(args: argparse.Namespace) -> int:
    from tierlift.service.daemon.config import load_config
    from tierlift.service.tools import webhooks

    if args.public_url is not None:
        args.public_url = _public_url(args.public_url)
    cfg = load_config(Path(args.config))
    public = args.public_url or cfg.webhooks_public_url
    if not public:
        print("tierlift webhooks: give --public-url URL (or webhooks.public_url in the configuration)", file=sys.stderr)
        return EXIT_BAD_INPUT
    ok = True
    for hd in cfg.helpdesks:
        try:
            out = (webhooks.setup(hd, public, dry_run=args.dry_run) if args.action == "setup"
                   else webhooks.check(hd, public))
        except Exception as exc:  # the helpdesk refused or is not there: say so, per helpdesk
            from tierlift.service.ops.redact import redact

            out = webhooks.Outcome(hd.name, [redact(f"failed: {exc}")], ok=False)
        ok = ok and out.ok  # an entry without a secret, or in dry run, is ok: said so, nothing to do
        for line in out.lines:
            print(f"{out.helpdesk}: {line}")
    if not cfg.http_listen and not cfg.webhooks_listen and any(h.webhook_secret for h in cfg.helpdesks):
        # Only the running daemon said so, after setup had pointed the helpdesk here (QA, an integrator).
        print(f"note: {args.config} sets neither http.listen nor webhooks.listen: the daemon serves no webhook"
              " endpoint, and the helpdesk's calls will fail until one is set (docs/webhooks.md)", file=sys.stderr)
    return EXIT_OK if ok else EXIT_FAIL


def _public_url(text: str) -> str:
    """--public-url checked as the file's webhooks.public_url is: `notaurl`, `ftp://`, port
    99999 or `https://user:pass@host` went to the helpdesk, the password printed back. The
    message never holds the value (it may carry a credential)."""
    from tierlift.engine.filemodel import Invalid
    from tierlift.service.daemon.config_values import http_url

    try:
        return http_url(text, "the address the helpdesk calls, such as https://tierlift.example.com")
    except Invalid as exc:
        raise InvalidFile([_problem("--public-url", str(exc))]) from None


def cmd_report(args: argparse.Namespace) -> int:
    from tierlift.service.tools.report import report_command

    if args.out:
        _out_path(args.out)  # before the report is computed: a missing folder was a traceback after it
    return report_command(Path(args.config), helpdesk=args.helpdesk, since=args.since, fmt=args.format,
                          out=args.out, shadow=args.shadow, until=args.until)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tierlift", description="Escalation daemon for Zendesk and Jira Service Management.")
    # Which release runs (QA, a new adopter: there was no way to ask; docs/upgrading.md needs it).
    p.add_argument("--version", action="version", version=f"tierlift {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order here is the order `tierlift --help` lists the commands in.
    _daemon_commands(sub)
    _inspection_commands(sub)
    _offline_commands(sub)
    _sandbox_commands(sub)
    _report_command(sub)
    _triage_commands(sub)
    _forget_command(sub)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tierlift")
    except PackageNotFoundError:  # run from a checkout without installing it
        return "(not installed)"


Subparsers = argparse._SubParsersAction  # argparse's own name for what add_subparsers returns


def _daemon_commands(sub: Subparsers) -> None:
    """The daemon itself, and its dry-run twin."""
    s = sub.add_parser("run", help="run the daemon")
    s.add_argument("--config", required=True)
    s.add_argument("--once", action="store_true", help="one cycle, then exit (cron, systemd timers)")
    s.add_argument("--dry-run", action="store_true", help="compute and journal decisions, write nothing")
    s.add_argument("--log-format", choices=["text", "json"], default=None)
    s.add_argument("-v", "--verbose", action="store_true")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("plan", help="one dry-run cycle: what the daemon would do now")
    s.add_argument("--config", required=True)
    s.add_argument("--json", action="store_true",
                   help='JSON Lines: one decision a line, then a {"summary": true, ...} record')
    s.add_argument("--helpdesk")
    s.set_defaults(func=cmd_plan)


def _inspection_commands(sub: Subparsers) -> None:
    """Reading a configuration, the state and one ticket's story: nothing is written."""
    s = sub.add_parser("check", help="validate a policy or a configuration and explain it")
    s.add_argument("--policy")
    s.add_argument("--config")
    s.add_argument("--offline", action="store_true", help="do not contact the helpdesks")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("status", help="cursors, index, wake-ups, quarantine, last errors")
    s.add_argument("--config", required=True)
    s.add_argument("--json", action="store_true")
    s.add_argument("--helpdesk", help="only this helpdesk of the configuration")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("history", help="one ticket's story: moves, notes, replies, notifications, clocks")
    s.add_argument("--config", required=True)
    s.add_argument("ticket", help="the ticket's id (Zendesk) or key (Jira)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--helpdesk", help="only this helpdesk of the configuration")
    s.add_argument("--offline", action="store_true", help="the state only: do not read the helpdesk")
    s.set_defaults(func=cmd_history)


def _offline_commands(sub: Subparsers) -> None:
    """A policy against exported tickets or its fixture cases: no helpdesk, no state."""
    s = sub.add_parser("simulate", help="run a policy on an exported ticket file, offline")
    s.add_argument("--policy", required=True)
    s.add_argument("--tickets", required=True, help='Zendesk {"tickets": [...]} or Jira {"issues": [...]} JSON')
    s.add_argument("--now", help="ISO 8601 instant (default: now)")
    s.add_argument("--json", action="store_true", help="one JSON object per ticket per line")
    s.add_argument("--compare", metavar="OTHER_POLICY",
                   help="only the tickets the two policies treat differently, with what differs")
    s.add_argument("--changed-only", action="store_true",
                   help="only the tickets the policy would act on (with --compare: either policy)")
    s.add_argument("--me", help="tierlift's own account (Zendesk user id, Jira accountId or its email): its replies"
                                " are never a tier's first response")
    s.add_argument("--config", help="a configuration: tierlift's own account is its helpdesk's email")
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("export", help="write a helpdesk's tickets (comments, history, ledger) for simulate")
    s.add_argument("--config", required=True)
    s.add_argument("--helpdesk", help="the helpdesk to export (required when the configuration has several)")
    s.add_argument("--ids", action="append", help="only these tickets (comma-separated ids or keys)")
    s.add_argument("--since", help="only tickets created or updated since (7d, or an ISO date)")
    s.add_argument("--out", help="the file to write (default: standard output)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("test-policy", help="run a policy's fixture cases")
    s.add_argument("policy")
    s.add_argument("cases")
    s.set_defaults(func=cmd_test_policy)


def _sandbox_commands(sub: Subparsers) -> None:
    """The local fake helpdesk, alone or with the daemon running against it."""
    # The sandbox has its own parser (sandbox/server.py): every argument
    # after `sandbox`, --help included, goes to it untouched (see main()).
    # argparse.REMAINDER here dropped options ("unrecognized arguments: --flavor").
    s = sub.add_parser("sandbox", help="the local helpdesk server (Zendesk or Jira flavour)", add_help=False)
    s.set_defaults(func=cmd_sandbox, rest=[])

    s = sub.add_parser("demo", help="sandbox helpdesk plus the real daemon, no account needed")
    s.add_argument("--flavor", choices=["zendesk", "jira"], default="zendesk")
    s.add_argument("--tickets", type=int, default=60)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--policy", default="three-tier")
    s.add_argument("--keep", action="store_true", help="keep the demo's folder (config, state) and print how to inspect it")
    s.add_argument("--port", type=int, default=0, help="the sandbox helpdesk's port on 127.0.0.1 (default: any free one)")
    s.set_defaults(func=cmd_demo)


def _report_command(sub: Subparsers) -> None:
    s = sub.add_parser("webhooks", help="create (setup) or verify (check) the helpdesk's webhook and trigger")
    s.add_argument("action", choices=["setup", "check"])
    s.add_argument("--config", required=True)
    s.add_argument("--public-url", help="the address the helpdesk calls (default: webhooks.public_url)")
    s.add_argument("--dry-run", action="store_true", help="print what setup would create or update")
    s.set_defaults(func=cmd_webhooks)

    s = sub.add_parser("report", help="escalation metrics from the journal")
    s.add_argument("--config", required=True)
    s.add_argument("--helpdesk")
    s.add_argument("--since", default="30d")
    s.add_argument("--until", help="the window's end: a duration ago (7d) or an ISO date or instant (default: now)")
    s.add_argument("--format", choices=["table", "json", "html"], default="table")
    s.add_argument("--out")
    s.add_argument("--shadow", metavar="HELPDESK",
                   help="compare this dry-run helpdesk's decisions with its live twin's (same url)")
    s.set_defaults(func=cmd_report)


def _forget_command(sub: Subparsers) -> None:
    s = sub.add_parser("downgrade", help="take the state back to the previous release's schema before going back"
                                         " to it, keeping what this release journaled (every daemon stopped)")
    s.add_argument("--config", required=True)
    s.set_defaults(func=cmd_downgrade)
    s = sub.add_parser("forget", help="delete what the state keeps of some tickets (a customer's erasure request)")
    s.add_argument("--config", required=True)
    s.add_argument("--helpdesk", required=True)
    s.add_argument("--requester", help="also every indexed ticket of this requester's email")
    s.add_argument("tickets", nargs="*", help="ticket ids (Jira: issue keys)")
    s.set_defaults(func=cmd_forget)


def cmd_downgrade(args: argparse.Namespace) -> int:
    from tierlift.service.tools.downgrade import run

    return run(args, sys.stdout)


def cmd_forget(args: argparse.Namespace) -> int:
    from tierlift.service.tools.forget import run

    return run(args, sys.stdout)


def _triage_commands(sub: Subparsers) -> None:
    """A classifier refitted on the helpdesk's own history, measured, then taken into use."""
    s = sub.add_parser("triage", help="refit the triage model on a helpdesk's history (learn | eval | accept | forget)")
    tsub = s.add_subparsers(dest="triage_command", required=True, metavar="ACTION")
    t = tsub.add_parser("learn", help="fit a head on the helpdesk's closed tickets, measure it, save it (not in use)")
    t.add_argument("--config", required=True)
    t.add_argument("--helpdesk", help="only this helpdesk of the configuration")
    t.add_argument("--since", default="180d", help="how far back to read closed tickets (default 180d)")
    t.add_argument("--now", help="ISO 8601 instant (default: now)")
    t = tsub.add_parser("eval", help="the saved refits with their figures, and which one is in use")
    t.add_argument("--config", required=True)
    t.add_argument("--helpdesk", help="only this helpdesk of the configuration")
    t = tsub.add_parser("accept", help="take a saved refit into use (or `shipped` to go back)")
    t.add_argument("--config", required=True)
    t.add_argument("--helpdesk", required=True)
    t.add_argument("model", help="a model id from `tierlift triage eval`, or `shipped`")
    t.add_argument("--force", action="store_true",
                   help="take a refit that escalates fewer urgent tickets, or was scored on too few, anyway")
    t = tsub.add_parser("forget", help="delete saved refits (they hold words of closed tickets): one, or all"
                                       " not in use")
    t.add_argument("--config", required=True)
    t.add_argument("--helpdesk", required=True)
    t.add_argument("model", help="a model id from `tierlift triage eval`, or `all` (every refit not in use)")
    s.set_defaults(func=cmd_triage)


def cmd_triage(args: argparse.Namespace) -> int:
    from tierlift.service.tools.triage_cli import run

    return run(args, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:
        args = parser.parse_args(argv[:1])
        args.rest = argv[1:]
    else:
        args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InvalidFile as exc:
        return _print_problems(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the last line of defence: no traceback for users
        from tierlift.service.ops.redact import redact

        print(f"tierlift {args.command}: {exc.__class__.__name__}: {redact(str(exc))}", file=sys.stderr)
        if getattr(args, "verbose", False):
            raise
        return EXIT_FAIL


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
