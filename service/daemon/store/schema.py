"""The state store's schema: one list of migrations that SQLite and PostgreSQL both apply.

A step's statements are written once. The tables both stores have use only the types both
databases read the same way (TEXT, INTEGER; times are fixed-width UTC text, so text order
is time order), so their statements are one text. Where the two differ it is declared
here, not copied: a statement wrapped in `Only("postgresql", ...)` belongs to what only
replicas share (the leases, their history, the replicas seen, the webhooks waiting for a
lease holder), in PostgreSQL's own types.

Invariants:
- Append only: a released step is never edited (existing state files and databases
  carry its result and its version number in `meta.schema_version`).
- Both stores reach the same tables and columns from any older version
  (tests/service/test_state_schema.py checks it on a real file and a real server).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Dialect = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class Only:
    """A statement one dialect runs and the other skips."""

    dialect: Dialect
    sql: str


Statement = str | Only

# (version, statements). Append only; never edit a released step. Statements run one by
# one inside the migration's transaction (SQLite's executescript would commit first, and a
# crash mid-migration must leave the old schema intact).
STEPS: list[tuple[int, tuple[Statement, ...]]] = [
    (1, (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE cursors (helpdesk TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_at TEXT NOT NULL)",
        """CREATE TABLE tickets (
            helpdesk TEXT NOT NULL, ticket_id TEXT NOT NULL, version TEXT NOT NULL,
            tier INTEGER NOT NULL, status TEXT NOT NULL, wake_up TEXT, snapshot TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, plan TEXT, group_name TEXT,
            first_reply_at TEXT, solved_at TEXT,
            PRIMARY KEY (helpdesk, ticket_id))""",
        "CREATE INDEX tickets_wake_up ON tickets (helpdesk, wake_up) WHERE wake_up IS NOT NULL",
        # index_size() and compaction count and find tickets by status without reading snapshots.
        "CREATE INDEX tickets_status ON tickets (helpdesk, status, updated_at)",
        """CREATE TABLE journal (
            helpdesk TEXT NOT NULL, escalation_id TEXT NOT NULL, dry_run INTEGER NOT NULL,
            ticket_id TEXT NOT NULL, kind TEXT NOT NULL, tier_before INTEGER NOT NULL,
            tier_after INTEGER NOT NULL, rule TEXT NOT NULL, team TEXT NOT NULL,
            decision TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'dropped', 'failed')),
            created_at TEXT NOT NULL, done_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            detail TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (helpdesk, escalation_id, dry_run))""",
        "CREATE INDEX journal_status ON journal (helpdesk, status)",
        "CREATE INDEX journal_created ON journal (created_at)",
        "CREATE INDEX journal_ticket ON journal (helpdesk, ticket_id)",
        # Notifications belong to a real intent and go with it on compaction.
        """CREATE TABLE notifications (
            helpdesk TEXT NOT NULL, escalation_id TEXT NOT NULL, channel TEXT NOT NULL,
            dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run = 0),
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (helpdesk, escalation_id, channel),
            FOREIGN KEY (helpdesk, escalation_id, dry_run)
                REFERENCES journal (helpdesk, escalation_id, dry_run) ON DELETE CASCADE)""",
        "CREATE INDEX notifications_status ON notifications (helpdesk, status)",
        """CREATE TABLE quarantine (
            helpdesk TEXT NOT NULL, ticket_id TEXT NOT NULL, error TEXT NOT NULL,
            first_at TEXT NOT NULL, last_at TEXT NOT NULL, attempts INTEGER NOT NULL,
            next_retry TEXT NOT NULL, PRIMARY KEY (helpdesk, ticket_id))""",
        "CREATE TABLE helpdesks (helpdesk TEXT PRIMARY KEY, last_ok TEXT, last_error TEXT, error_at TEXT)",
        # Replicas only (store/postgres.py): the leases and the replicas that count for the
        # even spread. One SQLite file has one daemon, which holds the file's lock instead.
        Only("postgresql", """CREATE TABLE leases (
            helpdesk TEXT PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
            epoch BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL, released BOOLEAN NOT NULL,
            acquired_at TIMESTAMPTZ NOT NULL)"""),
        Only("postgresql", """CREATE TABLE lease_history (
            helpdesk TEXT NOT NULL, epoch BIGINT NOT NULL, holder TEXT NOT NULL, host TEXT NOT NULL,
            pid INTEGER NOT NULL, acquired_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (helpdesk, epoch))"""),
        Only("postgresql", """CREATE TABLE replicas (
            holder TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
            seen_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL)"""),
    )),
    (2, (
        # triage: a helpdesk's refitted models (`tierlift triage learn`), base64 of the model file;
        # the accepted one (`tierlift triage accept`) is what the daemon reads with.
        """CREATE TABLE triage_models (
            helpdesk TEXT NOT NULL, model_id TEXT NOT NULL, created_at TEXT NOT NULL, accepted_at TEXT,
            figures TEXT NOT NULL, model TEXT NOT NULL, PRIMARY KEY (helpdesk, model_id))""",
    )),
    (3, (
        # Webhooks that landed on a replica not holding the helpdesk's lease, for the holder
        # (service/daemon/relay.py): one row per delivery, written by the receiving replica, marked
        # done by the holder once it acted; the key deduplicates a delivery that reached two
        # replicas. Replicas only: with SQLite the one daemon takes every webhook itself (the
        # step only moves a state file's version).
        Only("postgresql", """CREATE TABLE nudges (
            helpdesk TEXT NOT NULL, delivery TEXT NOT NULL, ticket_id TEXT NOT NULL,
            received_at TIMESTAMPTZ NOT NULL, replica TEXT NOT NULL, done_at TIMESTAMPTZ,
            PRIMARY KEY (helpdesk, delivery))"""),
        Only("postgresql", "CREATE INDEX nudges_waiting ON nudges (helpdesk, received_at) WHERE done_at IS NULL"),
        Only("postgresql", "CREATE INDEX nudges_received ON nudges (received_at)"),
    )),
    (4, (
        # A dry run's decisions move out of the journal into a table of their own: the journal
        # is what was (or may have been) written to a helpdesk and nothing else, so no query
        # of it needs to leave plans out, and the store has no notion of a dry run (issue 21).
        # The journal and its notifications are rebuilt without the dry_run column (neither
        # store drops a primary key's column in place); the rows keep their values.
        """CREATE TABLE plans (
            helpdesk TEXT NOT NULL, escalation_id TEXT NOT NULL, ticket_id TEXT NOT NULL,
            kind TEXT NOT NULL, tier_before INTEGER NOT NULL, tier_after INTEGER NOT NULL,
            rule TEXT NOT NULL, team TEXT NOT NULL, decision TEXT NOT NULL,
            created_at TEXT NOT NULL, planned_at TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (helpdesk, escalation_id))""",
        "CREATE INDEX plans_created ON plans (created_at)",
        "CREATE INDEX plans_ticket ON plans (helpdesk, ticket_id)",
        """INSERT INTO plans (helpdesk, escalation_id, ticket_id, kind, tier_before, tier_after, rule, team,
                              decision, created_at, planned_at, detail)
            SELECT helpdesk, escalation_id, ticket_id, kind, tier_before, tier_after, rule, team, decision,
                   created_at, COALESCE(done_at, created_at), detail FROM journal WHERE dry_run = 1""",
        """CREATE TABLE journal_v4 (
            helpdesk TEXT NOT NULL, escalation_id TEXT NOT NULL,
            ticket_id TEXT NOT NULL, kind TEXT NOT NULL, tier_before INTEGER NOT NULL,
            tier_after INTEGER NOT NULL, rule TEXT NOT NULL, team TEXT NOT NULL,
            decision TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'dropped', 'failed')),
            created_at TEXT NOT NULL, done_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            detail TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (helpdesk, escalation_id))""",
        """INSERT INTO journal_v4 SELECT helpdesk, escalation_id, ticket_id, kind, tier_before, tier_after, rule,
                   team, decision, status, created_at, done_at, attempts, detail FROM journal WHERE dry_run = 0""",
        """CREATE TABLE notifications_v4 (
            helpdesk TEXT NOT NULL, escalation_id TEXT NOT NULL, channel TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (helpdesk, escalation_id, channel),
            FOREIGN KEY (helpdesk, escalation_id)
                REFERENCES journal_v4 (helpdesk, escalation_id) ON DELETE CASCADE)""",
        """INSERT INTO notifications_v4 SELECT helpdesk, escalation_id, channel, status, attempts, detail,
                   created_at, updated_at FROM notifications""",
        "DROP TABLE notifications",
        "DROP TABLE journal",
        # SQLite rewrites notifications_v4's reference to the new name; PostgreSQL's follows the table.
        "ALTER TABLE journal_v4 RENAME TO journal",
        "ALTER TABLE notifications_v4 RENAME TO notifications",
        "CREATE INDEX journal_status ON journal (helpdesk, status)",
        "CREATE INDEX journal_created ON journal (created_at)",
        "CREATE INDEX journal_ticket ON journal (helpdesk, ticket_id)",
        "CREATE INDEX notifications_status ON notifications (helpdesk, status)",
    )),
    (5, (
        # A page's resolution (writes.Notifications.resolve): when a paged ticket is solved,
        # PagerDuty is told the incident is over, once per page and channel, journaled before
        # it is sent like the page itself. It goes with its page on compaction.
        """CREATE TABLE resolutions (
            helpdesk TEXT NOT NULL, escalation_id TEXT NOT NULL, channel TEXT NOT NULL,
            ticket_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (helpdesk, escalation_id, channel),
            FOREIGN KEY (helpdesk, escalation_id, channel)
                REFERENCES notifications (helpdesk, escalation_id, channel) ON DELETE CASCADE)""",
        "CREATE INDEX resolutions_status ON resolutions (helpdesk, status)",
    )),
]
SCHEMA_VERSION = STEPS[-1][0]

# The way back one step, for `tierlift downgrade` (docs/upgrading.md): what a state at version
# N loses going to N - 1, and the statements, the same in both dialects. Going back with the
# copy kept before migrating forgot what the newer release had journaled since: a page it
# had sent and resolved was sent again by the older release (QA, an SRE). Only the latest
# step is kept; going back further is the copy (SQLite) or the dump (PostgreSQL).
DOWN: dict[int, tuple[str, tuple[str, ...]]] = {
    5: ("the PagerDuty resolutions journaled (the older release resolves no pages)", ("DROP TABLE resolutions",)),
}


def migrations(dialect: Dialect) -> list[tuple[int, tuple[str, ...]]]:
    """The steps as one dialect runs them: (version, statements), oldest first."""
    return [(version, tuple(s.sql if isinstance(s, Only) else s for s in statements
                            if isinstance(s, str) or s.dialect == dialect))
            for version, statements in STEPS]
