"""Where a person opens a ticket: the helpdesk's agent URL, built from the helpdesk config.

Zendesk: `https://SUBDOMAIN.zendesk.com/agent/tickets/ID` (the agent workspace);
Jira: `SERVER/browse/KEY`. The base is the configured `url` (for Zendesk,
`subdomain` already became `https://SUBDOMAIN.zendesk.com` in the loader), so
a sandbox or a proxy in front of the helpdesk gives links to itself.
Pure string work: no request, no secret.
"""

from __future__ import annotations

from urllib.parse import quote


def ticket_url(kind: str, base_url: str, ticket_id: str) -> str:
    base = base_url.rstrip("/")
    if kind == "jira":
        return f"{base}/browse/{quote(str(ticket_id), safe='-')}"
    return f"{base}/agent/tickets/{quote(str(ticket_id), safe='')}"
