"""From a helpdesk's configuration to its connector (looked up by kind, imported lazily)."""

from __future__ import annotations

from datetime import timedelta

from tierlift.connectors.base import Connector, NullObserver
from tierlift.service.daemon.config import HelpdeskConfig


def _seconds(value, default: float) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value) if value is not None else default


def make_connector(hd: HelpdeskConfig, metrics=None) -> Connector:
    observer = metrics.observer(hd.name) if metrics is not None else NullObserver()
    o = hd.options
    common = dict(name=hd.name, url=hd.url, email=hd.email, token=hd.token, teams=hd.teams,
                  page_size=int(o.get("page_size", 1000 if hd.kind == "zendesk" else 100)),
                  timeout=_seconds(o.get("timeout"), 30.0), max_retry_wait=_seconds(o.get("max_retry_wait"), 60.0),
                  retry_attempts=int(o.get("retry_attempts", 5)), start_time=o.get("start_time"),
                  rate_limit_per_minute=o.get("rate_limit_per_minute"),
                  # Reading a ticket's team back: a group or user of another name is no team.
                  policy_teams=tuple(hd.policy.teams) if hd.policy is not None else ())
    if hd.kind == "zendesk":
        from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings

        settings = ZendeskSettings(**common, fields=dict(o.get("fields") or {}))
        return ZendeskConnector(settings, observer=observer)
    from tierlift.connectors.jira import JiraConnector, JiraSettings

    settings = JiraSettings(**common, project=o.get("project"), jql=o.get("jql"), team_field=o.get("team_field"),
                            fields={k: str(v) for k, v in (o.get("fields") or {}).items()},
                            servicedesk=bool(o.get("servicedesk", True)),
                            note_in_edit=bool(o.get("note_in_edit", False)),
                            overlap=o.get("overlap") or timedelta(minutes=2),
                            status_map=dict(o.get("status_map") or {}))
    return JiraConnector(settings, observer=observer)
