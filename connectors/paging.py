"""Paging the helpdesk drives, bounded: how far a connector follows it, and where.

A list read a page at a time goes on as long as the helpdesk's answers say there is more
(a next link, a cursor, no isLast): a helpdesk answering wrongly, or a man in the middle,
can make it endless, or point it elsewhere. One ticket with never-ending audits stalled
its whole helpdesk (3,159 reads in 45 s, the cycle never done); a next_page naming
another host had tierlift send that host its API token (requests drops a session's
credentials on a redirect, not on a request made to another host).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

from tierlift.connectors.errors import TicketError
from tierlift.connectors.transport import origin, where

# The pages one ticket's list (Zendesk audits or comments, a Jira issue's comments or
# changelog) may take. The references page them 100 at a time (Zendesk: "a maximum of 100
# records per page" for audits and comments, asked for 100; Jira Cloud: maxResults 100 by
# default on comment and changelog), so this is 10,000 items on one ticket, an update every
# ten minutes for ten weeks, far past what a ticket people work on gathers; and it costs at
# most 100 reads, half a minute of Zendesk's smallest plan (200 requests a minute). A
# helpdesk paging on past it is answering wrongly: the ticket is quarantined (TicketError).
MAX_PAGES = 100
PAGE_SIZE = 100  # items a page, as the references give them (above)
# Pages of changes in a row that bring nothing new (no ticket, or the page before's tickets
# at the same versions again) while the helpdesk says there are more (Zendesk's export:
# end_of_stream false and a fresh after_cursor; Jira's search: a fresh nextPageToken) end
# the pass with a warning; the next cycle goes on from the cursor the last page gave. The
# export is documented at 10 requests a minute, and such answers were read 1,381 times in
# a minute; three pages of nothing are no helpdesk's honest way to the end of its changes.
MAX_EMPTY_PAGES = 3


def item_key(value: Any) -> str:
    """What tells a page's item from another: its id, else the whole item."""
    if isinstance(value, Mapping) and value.get("id") is not None:
        return str(value["id"])
    return repr(value)


def own_link(link: Any, base: str, what: str, ticket_id: str | None = None) -> str:
    """A next-page link the helpdesk sent, as a URL of the helpdesk at `base`, or a
    TicketError naming the host it points to (never the link's user part, path or query):
    the credentials go to the helpdesk's own scheme, host and port only
    (transport.HelpdeskAuth refuses any other too). A relative link is the helpdesk's."""
    url = urljoin(f"{base.rstrip('/')}/", str(link))
    if origin(url) != origin(base):
        raise TicketError(f"{what}: the next-page link points to {where(url)}, not to this helpdesk;"
                          " not followed (the credentials go to the helpdesk only)", ticket_id=ticket_id)
    return url


def too_many_pages(what: str, ticket_id: str | None = None) -> TicketError:
    """The error of a list that runs past MAX_PAGES."""
    return TicketError(f"{what}: more than {MAX_PAGES} pages ({MAX_PAGES * PAGE_SIZE} items) and the helpdesk"
                       " still names another; not read further", ticket_id=ticket_id)


def nothing_new(what: str, ticket_id: str | None = None) -> TicketError:
    """The error of a page that brings no item not seen yet, yet is not the last."""
    return TicketError(f"{what}: a page brought nothing new yet the helpdesk named another;"
                       " not read further", ticket_id=ticket_id)
