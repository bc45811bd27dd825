"""A Jira team field value that maps to no configured team is said, once, where it was silent.

QA (a Jira admin): a person set the Team field to an option the configuration does not map
(a team made in Jira since, a look-alike name); tierlift read the issue as having no team, so
the person's move was no move, and nothing in the log said why."""

from __future__ import annotations

import logging

from tierlift.connectors.base import TeamTarget
from tierlift.connectors.jira.directory import JiraDirectory


def directory() -> JiraDirectory:
    d = JiraDirectory({"support-generalists": TeamTarget(group="Front line"),
                       "support-specialists": TeamTarget(group="Specialists")}, {}, "customfield_10056",
                      ("support-generalists", "support-specialists"))
    d.load(lambda path: {"accountId": "bot-1", "accountType": "atlassian", "timeZone": "UTC"}
           if path.endswith("/myself") else [])
    return d


def test_an_unmapped_team_value_is_read_as_no_team_and_said_once(caplog):
    d = directory()
    with caplog.at_level(logging.WARNING, logger="tierlift.jira"):
        assert d.team_of("Specialists", None, None) == "support-specialists"
        assert d.team_of("Specialist Team", None, None) is None
        assert d.team_of("Specialist Team", None, None) is None
    said = [r.getMessage() for r in caplog.records if "maps to no team" in r.getMessage()]
    assert len(said) == 1 and "'Specialist Team'" in said[0] and "customfield_10056" in said[0], said
    assert "Front line, Specialists" in said[0], said[0]
