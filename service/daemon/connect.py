"""From a helpdesk's configuration to its connector (looked up by kind, imported lazily).

Every setting is read from the helpdesk's typed options (`config_models.py`),
whose defaults are the only ones: nothing here falls back to a value of its own.

The connector is given its transport here (connectors/transport.py): an adapter
carrying the helpdesk's request budget, the metrics observer and, with replicas,
the lease's write guard, whose lease also caps the request timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tierlift.connectors.base import Connector, NullObserver, RequestObserver
from tierlift.connectors.retry import RequestBudget
from tierlift.connectors.transport import HelpdeskAdapter
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.config_models import JiraOptions, ZendeskOptions

if TYPE_CHECKING:
    from tierlift.service.ops.metrics import Metrics


@dataclass(frozen=True)
class WriteGuard:
    """With replicas: the lease check every helpdesk write passes (leases.write_guard), and
    the longest a request may take under the lease (the connector's timeout is capped)."""

    check: Callable[[], None]
    max_timeout: float


def make_connector(hd: HelpdeskConfig, metrics: Metrics | None = None, *,
                   guard: WriteGuard | None = None) -> Connector:
    observer: RequestObserver = metrics.observer(hd.name) if metrics is not None else NullObserver()
    options = hd.options
    if not isinstance(options, ZendeskOptions | JiraOptions):
        raise ValueError(f"helpdesk {hd.name}: no connector for kind {hd.kind!r}")
    adapter = HelpdeskAdapter(budget=RequestBudget(options.rate_limit_per_minute), observer=observer,
                              write_guard=guard.check if guard is not None else None)
    timeout = options.timeout.total_seconds()
    if guard is not None:
        timeout = min(timeout, guard.max_timeout)
    if isinstance(options, ZendeskOptions):
        return _zendesk(hd, options, observer, adapter, timeout)
    return _jira(hd, options, observer, adapter, timeout)


def _policy_teams(hd: HelpdeskConfig) -> tuple[str, ...]:
    # Reading a ticket's team back: a group or user of another name is no team.
    return tuple(hd.policy.teams) if hd.policy is not None else ()


def _zendesk(hd: HelpdeskConfig, o: ZendeskOptions, observer: RequestObserver, adapter: HelpdeskAdapter,
             timeout: float) -> Connector:
    from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings

    settings = ZendeskSettings(name=hd.name, url=hd.url, email=hd.email, token=hd.token, teams=hd.teams,
                               page_size=o.page_size, timeout=timeout,
                               max_retry_wait=o.max_retry_wait.total_seconds(), retry_attempts=o.retry_attempts,
                               start_time=o.start_time, fields=dict(o.fields),
                               rate_limit_per_minute=o.rate_limit_per_minute, policy_teams=_policy_teams(hd),
                               reply_teams=hd.policy is not None and hd.policy.first_response_by == "tier_team",
                               audit_cache=o.audit_cache)
    return ZendeskConnector(settings, adapter=adapter, observer=observer)


def _jira(hd: HelpdeskConfig, o: JiraOptions, observer: RequestObserver, adapter: HelpdeskAdapter,
          timeout: float) -> Connector:
    from tierlift.connectors.jira import JiraConnector, JiraSettings

    settings = JiraSettings(name=hd.name, url=hd.url, email=hd.email, token=hd.token, teams=hd.teams,
                            page_size=o.page_size, timeout=timeout,
                            max_retry_wait=o.max_retry_wait.total_seconds(), retry_attempts=o.retry_attempts,
                            start_time=o.start_time, rate_limit_per_minute=o.rate_limit_per_minute,
                            policy_teams=_policy_teams(hd), project=o.project, jql=o.jql, team_field=o.team_field,
                            fields={k: str(v) for k, v in o.fields.items()}, servicedesk=o.servicedesk,
                            note_in_edit=o.note_in_edit, overlap=o.overlap, status_map=dict(o.status_map))
    return JiraConnector(settings, adapter=adapter, observer=observer)
