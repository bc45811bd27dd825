"""From a helpdesk's configuration to its connector (looked up by kind, imported lazily).

Every setting is read from the helpdesk's typed options (`config_models.py`),
whose defaults are the only ones: nothing here falls back to a value of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tierlift.connectors.base import Connector, NullObserver, RequestObserver
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.config_models import JiraOptions, ZendeskOptions

if TYPE_CHECKING:
    from tierlift.service.ops.metrics import Metrics


def make_connector(hd: HelpdeskConfig, metrics: Metrics | None = None) -> Connector:
    observer: RequestObserver = metrics.observer(hd.name) if metrics is not None else NullObserver()
    if isinstance(hd.options, ZendeskOptions):
        return _zendesk(hd, hd.options, observer)
    if isinstance(hd.options, JiraOptions):
        return _jira(hd, hd.options, observer)
    raise ValueError(f"helpdesk {hd.name}: no connector for kind {hd.kind!r}")


def _policy_teams(hd: HelpdeskConfig) -> tuple[str, ...]:
    # Reading a ticket's team back: a group or user of another name is no team.
    return tuple(hd.policy.teams) if hd.policy is not None else ()


def _zendesk(hd: HelpdeskConfig, o: ZendeskOptions, observer: RequestObserver) -> Connector:
    from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings

    settings = ZendeskSettings(name=hd.name, url=hd.url, email=hd.email, token=hd.token, teams=hd.teams,
                               page_size=o.page_size, timeout=o.timeout.total_seconds(),
                               max_retry_wait=o.max_retry_wait.total_seconds(), retry_attempts=o.retry_attempts,
                               start_time=o.start_time, fields=dict(o.fields),
                               rate_limit_per_minute=o.rate_limit_per_minute, policy_teams=_policy_teams(hd),
                               reply_teams=hd.policy is not None and hd.policy.first_response_by == "tier_team")
    return ZendeskConnector(settings, observer=observer)


def _jira(hd: HelpdeskConfig, o: JiraOptions, observer: RequestObserver) -> Connector:
    from tierlift.connectors.jira import JiraConnector, JiraSettings

    settings = JiraSettings(name=hd.name, url=hd.url, email=hd.email, token=hd.token, teams=hd.teams,
                            page_size=o.page_size, timeout=o.timeout.total_seconds(),
                            max_retry_wait=o.max_retry_wait.total_seconds(), retry_attempts=o.retry_attempts,
                            start_time=o.start_time, rate_limit_per_minute=o.rate_limit_per_minute,
                            policy_teams=_policy_teams(hd), project=o.project, jql=o.jql, team_field=o.team_field,
                            fields={k: str(v) for k, v in o.fields.items()}, servicedesk=o.servicedesk,
                            note_in_edit=o.note_in_edit, overlap=o.overlap, status_map=dict(o.status_map))
    return JiraConnector(settings, observer=observer)
