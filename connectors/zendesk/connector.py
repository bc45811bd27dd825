"""The Zendesk connector, on its own requests session.

Reads: the cursor incremental export (never Search, which stops at 1,000
results) with organizations, users and metric_sets sideloaded: a cycle with
nothing changed is one request. Comments and history: a ticket's audits, read
once and then kept current by the incremental ticket events stream, one read
for all of a cycle's follow-ups (followups.py). Writes: one ticket update per escalation
(group or assignee, the full tag set, priority, the internal note) with
safe_update and the updated_stamp that was read, so a ticket changed since
is a 409, never a lost update.

Transport: the session the connector builds at construction, sending
through the HelpdeskAdapter it is given (connectors/transport.py: the
request budget, the lease's write guard, 429/5xx/401/403 classified), every
call retried by connectors/retry.py. It reads JSON endpoints and writes one
ticket update; zenpy was dropped (its public API hides the export's page
boundaries and decodes each page whole, see the commit that removed it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import requests

from tierlift.connectors.base import (
    ApplyResult,
    Fetched,
    NullObserver,
    Page,
    RequestObserver,
    Secret,
    TeamTarget,
    Trimmed,
    computing,
    decode_page,
    id_problem,
    is_id,
    opening,
    same_text,
    too_deep,
)
from tierlift.connectors.errors import (
    ConflictError,
    RetriableError,
    TicketError,
    TicketGone,
)
from tierlift.connectors.paging import (
    MAX_EMPTY_PAGES,
    MAX_PAGES,
    PAGE_SIZE,
    item_key,
    nothing_new,
    own_link,
    too_many_pages,
)
from tierlift.connectors.retry import RequestBudget, Retry
from tierlift.connectors.transport import HelpdeskAdapter, session_for
from tierlift.connectors.zendesk.directory import ZendeskDirectory
from tierlift.connectors.zendesk.followups import DEFAULT_SIZE, Followups
from tierlift.connectors.zendesk.mapping import (
    authors_of,
    history_from_audits,
    ticket_from_zendesk,
    ticket_with_audits,
)
from tierlift.engine.marker import has_marker
from tierlift.engine.model import (
    Action,
    AddTags,
    Comment,
    Flag,
    InternalNote,
    PublicReply,
    Reassign,
    RemoveTags,
    SetPriority,
    Ticket,
)

log = logging.getLogger("tierlift.zendesk")

INCLUDE = "organizations,users,metric_sets"


@dataclass
class ZendeskSettings:
    name: str
    url: str  # https://acme.zendesk.com, or the sandbox's http://127.0.0.1:PORT
    email: str
    token: Secret
    teams: Mapping[str, TeamTarget] = field(default_factory=dict)
    page_size: int = 1000
    timeout: float = 30.0
    max_retry_wait: float = 60.0
    retry_attempts: int = 5
    backoff: float = 1.0
    start_time: datetime | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # name -> custom field id
    rate_limit_per_minute: int | None = None  # our share of the account's budget
    policy_teams: tuple[str, ...] = ()  # the policy's teams: a group of another name maps to no team
    # The policy counts only a tier's own people's replies (first_response_by: tier_team): the
    # repliers' groups are read too (one users read per comments read that meets a new one).
    reply_teams: bool = False
    # Tickets whose audits are kept, so that a follow-up is read from the ticket events
    # stream, not the ticket's audits (followups.py); 0: every follow-up reads the audits.
    audit_cache: int = DEFAULT_SIZE


class ZendeskConnector:
    def __init__(self, settings: ZendeskSettings, *, adapter: HelpdeskAdapter | None = None,
                 observer: RequestObserver | None = None, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.name = settings.name
        self.team_caveats: list[str] = []  # groups and agents are read: a team maps, or is a problem
        self.site_notes: list[str] = []  # Zendesk's export takes a Unix time: no zone to tell
        self.observer = observer or NullObserver()
        self.adapter = adapter or HelpdeskAdapter(budget=RequestBudget(settings.rate_limit_per_minute))
        self.adapter.observe(self.observer)
        self.session = session_for(self.adapter, (f"{settings.email}/token", settings.token.reveal()), settings.url)
        parts = urlsplit(settings.url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.retry = Retry(attempts=settings.retry_attempts, max_wait=settings.max_retry_wait,
                           backoff=settings.backoff, observer=self.observer, sleep=sleep)
        self.directory = ZendeskDirectory(settings.teams, settings.fields, settings.policy_teams)
        self.users: dict[Any, Mapping[str, Any]] = {}
        self.followups = Followups(self._read, settings.audit_cache, name=settings.name)

    # --- transport ----------------------------------------------------------------
    def _read(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET a path (or an absolute next-page link), retried. The body is decoded with
        decode_page, not .json(): one ticket nested too deep must not make the whole page
        undecodable (connectors/base.py). A 404 is TicketGone."""
        url = path if path.startswith("http") else f"{self.base}{path}"

        def call() -> dict[str, Any]:
            response = self.session.get(url, params=params, timeout=self.settings.timeout)
            self.followups.saw(response.headers.get("Date"))  # the helpdesk's clock: followups.py
            if not response.ok:
                raise _classify(response.status_code, url)
            return _decoded(response, url)

        return self.retry.call(call)

    def _put(self, path: str, payload: Mapping[str, Any], ticket_id: str) -> dict[str, Any]:
        """One PUT, not retried here (the caller's Retry.write decides); 404 is TicketGone,
        409 ConflictError, another refusal TicketError."""
        response = self.session.put(f"{self.base}{path}", json=payload, timeout=self.settings.timeout)
        if not response.ok:
            raise _classify(response.status_code, path, ticket_id)
        body: dict[str, Any] = response.json()
        return body

    # --- the connector protocol -----------------------------------------------------
    def open(self) -> None:
        with opening(self.base, "Zendesk"):
            self.directory.load(self._read, self._pages)

    def check_fields(self) -> list[str]:
        """Problems with the `fields:` entries (empty when every one names a field that exists)."""
        return list(self.directory.problems)

    def changes(self, cursor: str | None) -> Iterator[Page]:
        params: dict[str, Any] = {"per_page": self.settings.page_size, "include": INCLUDE}
        if cursor:
            params["cursor"] = cursor
        else:
            start = self.settings.start_time
            params["start_time"] = int(start.timestamp()) if start else 0
        asked, seen = cursor or "", set[str]()
        before: set[tuple[str, str]] = set()  # the last page's (ticket, version) and (ticket, poison)
        idle = 0  # pages in a row that brought nothing new
        while True:
            body = self._read("/api/v2/incremental/tickets/cursor.json", params)
            with computing():  # the mapping, not the read: connectors/base.py
                page = self._page(body, asked)
            yield page
            seen.add(asked)
            news = {(t.id, t.version) for t in page.tickets} | set(page.poison)
            idle = 0 if news - before else idle + 1  # nothing, or the last page again
            before = news
            # A cursor already asked for would read the same pages forever (as _pages' guard
            # says of links): the pass stops there and the next cycle resumes from it.
            if body.get("end_of_stream") or not body.get("after_cursor") or str(body["after_cursor"]) in seen:
                return
            if idle >= MAX_EMPTY_PAGES:
                # So would a fresh cursor on every page of nothing (paging.MAX_EMPTY_PAGES):
                # the pass stops, the next cycle resumes from the cursor the last page gave.
                log.warning("%s: %d export pages in a row brought nothing new (no ticket, or the page"
                            " before's again), yet each said the export has not ended and gave a new"
                            " cursor; the pass stops here and the next cycle goes on from that cursor",
                            self.name, idle)
                return
            asked = str(body["after_cursor"])
            params = {"per_page": self.settings.page_size, "include": INCLUDE, "cursor": asked}

    def _page(self, body: Mapping[str, Any], asked: str = "") -> Page:
        """The page's tickets, and where to resume: its after_cursor, else the cursor it was
        asked with. The last page may carry after_cursor null (nullable in the OpenAPI
        file); an empty cursor would make the next cycle export the account again from
        start_time."""
        orgs, metrics = _sideloads(body)
        self._remember_users(body)
        trimmed = isinstance(body, Trimmed)
        tickets: list[Ticket] = []
        poison: list[tuple[str, str]] = []
        seen: set[str] = set()
        for raw in body.get("tickets") or []:
            tid = raw.get("id") if isinstance(raw, Mapping) else None
            try:
                t = self._ticket(raw, tid, trimmed, orgs, metrics)
                if t.id in seen:
                    raise TicketError(f"ticket {tid}: appears twice in one page", ticket_id=t.id)
                seen.add(t.id)
                tickets.append(t)
            except TicketError as exc:
                poison.append((_short_id(tid), str(exc)))
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
                # A mapping gap must cost one ticket, never the page: the cursor would
                # stop here and every good ticket behind this one would wait forever.
                poison.append((_short_id(tid),
                               f"ticket {str(tid)[:40]}: cannot be read ({exc.__class__.__name__}: {str(exc)[:200]})"))
        return Page(tickets, str(body.get("after_cursor") or asked), poison)

    def _remember_users(self, body: Mapping[str, Any]) -> None:
        """Keep the page's sideloaded users (role, email, and user fields when a customer
        field comes from them): comments and requesters of later pages refer to them."""
        for u in body.get("users") or []:
            if isinstance(u, Mapping) and is_id(u.get("id")):
                wanted = self.directory.sources and "user_fields" in u
                self.users[u["id"]] = {"role": u.get("role"), "email": u.get("email"), "name": u.get("name"),
                                       "group": u.get("default_group_id"),
                                       **({"user_fields": u["user_fields"]} if wanted else {})}

    def _ticket(self, raw: Any, tid: Any, trimmed: bool, orgs: Mapping[Any, Mapping[str, Any]],
                metrics: Mapping[Any, Mapping[str, Any]]) -> Ticket:
        if trimmed and too_deep(raw):
            raise TicketError(f"ticket {str(tid)[:40]}: a field is nested more than 100 levels deep"
                              " (cut out while decoding its page)", ticket_id=str(tid)[:40])
        d = self.directory
        return ticket_from_zendesk(raw, organizations=orgs, metric_set=metrics.get(tid) if is_id(tid) else None,
                                   users=self.users, field_names=d.field_names, team_of=d.team_of, me=d.me,
                                   sources=d.sources)

    def fetch(self, ids: Sequence[str]) -> Fetched:
        out = Fetched()
        numeric = [i for i in ids if str(i).isdigit() and id_problem(int(i)) is None]
        for start in range(0, len(numeric), 100):
            batch = numeric[start:start + 100]
            body = self._read("/api/v2/tickets/show_many.json", {"ids": ",".join(batch), "include": INCLUDE})
            page = self._page({**body, "after_cursor": ""})
            out.update((t.id, t) for t in page.tickets if not t.fields.get("deleted"))
            out.poison += page.poison
        return out

    def _comments(self, ticket_id: str) -> list[Mapping[str, Any]]:
        return self._pages(f"/api/v2/tickets/{ticket_id}/comments.json", "comments", ticket_id=ticket_id)

    def _pages(self, path: str, key: str, *, ticket_id: str | None = None) -> list[Mapping[str, Any]]:
        return every_item(self._read, self.base, path, key, ticket_id=ticket_id)

    def with_comments(self, ticket: Ticket) -> Ticket:
        """Comments and history from the ticket's audits, only when the engine asks
        (Decision.needs_comments): kept from an earlier read and the ticket events stream
        when they hold the ticket's last update (followups.py; one stream read serves every
        ticket of a cycle), else one read (plus one per 100 audits)."""
        from dataclasses import replace

        audits: Sequence[Mapping[str, Any]] | None = self.followups.audits(ticket.id, ticket.updated_at)
        if not audits:
            asked_after = self.followups.server_time  # the helpdesk's clock before this read
            audits = self.followups.remember(ticket.id, ticket.updated_at, self._pages(
                f"/api/v2/tickets/{ticket.id}/audits.json", "audits", ticket_id=ticket.id), asked_after=asked_after)
        # Who wrote and who changed, before mapping: a comment is an agent's by its author's
        # role, and a CC'd end-user not in any sideload seen yet read as an agent's first reply.
        self._learn_people(authors_of(audits) - {self.directory.me or ""})  # tierlift's own need no look-up
        comments, history = history_from_audits(audits, tid=ticket.id, requester_id=ticket.fields.get("requester_id"),
                                                users=self.users, me=self.directory.me,
                                                team_of=self.directory.team_of)
        # The audits list every comment with its author, so they replace the metric set's
        # reply time, which counts tierlift's own public reply as an agent's (issue 13).
        history = tuple(replace(c, author=_person(self.users, c.author)) for c in history)
        if self.settings.reply_teams:
            comments = with_teams(comments, self.users, self.directory.team_of)
        return ticket_with_audits(ticket, comments, history)

    def _learn_people(self, authors: set[str]) -> None:
        """Roles and names of the people who wrote on or changed a ticket (the role tells an
        agent's reply; the name is for notes and reports): users/show_many, 100 ids a read,
        for the authors not seen before, none once they are known."""
        unknown = sorted(a for a in authors if a.isdigit() and int(a) not in self.users)
        for start in range(0, len(unknown), 100):
            batch = unknown[start:start + 100]
            self._remember_users(self._read("/api/v2/users/show_many.json", {"ids": ",".join(batch)}))
            for a in batch:  # never ask twice for an id the helpdesk does not return
                self.users.setdefault(int(a), {"name": None, "email": None, "role": None})

    def find_marker(self, ticket_id: str, escalation_id: str) -> bool:
        return any(has_marker(str(c.get("body") or ""), escalation_id) for c in self._comments(ticket_id))

    def find_reply(self, ticket_id: str, body: str) -> bool:
        return any(c.get("public", True) and same_text(str(c.get("body") or ""), body)
                   for c in self._comments(ticket_id))

    def apply(self, ticket: Ticket, actions: Sequence[Action], escalation_id: str) -> ApplyResult:
        body, reply = _update_body(ticket, actions, self._owner)
        writes = 0
        new_version = ticket.version
        raced = False
        if body:
            body.update({"safe_update": True, "updated_stamp": ticket.version})
            try:
                result = self.retry.write(partial(self._put, f"/api/v2/tickets/{ticket.id}.json",
                                                  {"ticket": body}, ticket.id),
                                          lambda: self.find_marker(ticket.id, escalation_id),  # landed: its stamp now
                                          lambda: self._read(f"/api/v2/tickets/{ticket.id}.json"))
            except ConflictError:
                # After a timed-out attempt, the 409 may be that attempt landing late
                # (its stamp and ours are the same): then the escalation is done.
                # Or a second daemon on this helpdesk wrote the same escalation.
                if not self.find_marker(ticket.id, escalation_id):
                    raise
                result, raced = self._read(f"/api/v2/tickets/{ticket.id}.json"), True
            writes += 1
            new_version = str((result.get("ticket") or {}).get("updated_at") or new_version)
        if reply is not None:
            # Zendesk takes one comment per update, so the customer reply is a second write.
            # After a race the other writer may have sent it already: look before sending.
            result = self._reply(ticket.id, reply, new_version, look_first=raced)
            writes += 1
            new_version = str((result.get("ticket") or {}).get("updated_at") or new_version)
        return ApplyResult(writes, new_version, raced)

    def _reply(self, ticket_id: str, reply: str, stamp: str, *, look_first: bool = False) -> dict[str, Any]:
        """Post the customer reply once, even when an earlier attempt lands late.

        A write whose answer timed out may still be applied seconds later (measured:
        one PUT held 31 s against a 30 s timeout); looking for the reply and then
        sending it again would race that late write and send two replies. So every
        attempt is a safe update on the stamp under which the reply was seen absent,
        and the stamp is read BEFORE looking: if any earlier attempt lands, before or
        after the look, it moves updated_at, and of writes carrying one stamp at most
        one can land. A 409 is therefore no failure here (the escalation itself has
        landed; raising it re-escalated the ticket from its new tier: test_faults.py):
        read the stamp, look, go again (test_late_write.py holds one past the timeout).
        With `look_first` (the escalation was found written by someone else) the look
        also comes before the first attempt: two daemons on one helpdesk sent two
        replies, the second on the stamp the first had just moved it to.
        """
        path = f"/api/v2/tickets/{ticket_id}.json"
        stamps = [stamp]

        def attempt() -> dict[str, Any]:
            return self._put(path, {"ticket": {"comment": {"body": reply, "public": True},
                                                          "safe_update": True, "updated_stamp": stamps[-1]}}, ticket_id)

        def landed() -> bool:  # the stamp first, then the look (see above)
            stamps.append(str((self._read(path).get("ticket") or {}).get("updated_at") or stamps[-1]))
            return self.find_reply(ticket_id, reply)

        def now_stamped() -> dict[str, Any]:  # found landed: the stamp `landed` read, not the one sent
            return {"ticket": {"updated_at": stamps[-1]}}
        if look_first and landed():
            return now_stamped()
        try:
            return self.retry.write(attempt, landed, now_stamped, conflicts=True)
        except ConflictError:
            if landed():
                return now_stamped()
            raise RetriableError(f"ticket {ticket_id}: the customer reply met a conflict on every attempt") from None

    def _owner(self, ticket: Ticket, team: str) -> dict[str, Any]:
        """group_id and assignee_id for a team: its configured group and/or agent, else
        the group of its name; moved to a group alone, the group picks the agent."""
        target = self.settings.teams.get(team) or TeamTarget(group_name=team)
        group = target.group or self.directory.group_ids.get(target.group_name or team)
        if group is None and target.assignee is None:
            raise TicketError(f"ticket {ticket.id}: team '{team}' maps to no Zendesk group", ticket_id=ticket.id)
        owner: dict[str, Any] = {}
        if group is not None:
            owner["group_id"] = _numeric(group)
        if target.assignee is not None:
            owner["assignee_id"] = _numeric(target.assignee)
        elif group is not None:
            owner["assignee_id"] = None  # the receiving group picks the agent
        return owner

    def check_teams(self, teams: Sequence[str]) -> list[str]:
        """Each team's group and agent exist in the helpdesk: a group id or user id that does
        not would be written into tickets (or refused at the first escalation)."""
        problems = []
        group_ids = set(self.directory.group_ids.values())
        for team in teams:
            target = self.settings.teams.get(team) or TeamTarget(group_name=team)
            if target.group is not None and str(target.group) not in group_ids:
                problems.append(f"team '{team}': group_id {target.group} is no Zendesk group")
            elif target.group is None and target.assignee is None \
                    and (target.group_name or team) not in self.directory.group_ids:
                problems.append(_no_group(team, target.group_name or team, self.directory.group_ids))
            if target.assignee is not None and not self._user_exists(target.assignee):
                problems.append(f"team '{team}': assignee {target.assignee} is no Zendesk user")
        return problems

    def _user_exists(self, user_id: str) -> bool:
        return exists(lambda: self._read(f"/api/v2/users/{user_id}.json").get("user"))

    def close(self) -> None:
        self.session.close()


def _update_body(ticket: Ticket, actions: Sequence[Action],
                 owner: Callable[[Ticket, str], dict[str, Any]]) -> tuple[dict[str, Any], str | None]:
    """The one ticket update the actions make (owner, tags, priority, internal note),
    and the customer reply, which Zendesk takes only as a second update."""
    body: dict[str, Any] = {}
    tags = set(ticket.tags)
    reply = None
    for a in actions:
        if isinstance(a, Reassign):
            body.update(owner(ticket, a.team))
        elif isinstance(a, AddTags | Flag | RemoveTags):
            tags = _retagged(tags, a)
        elif isinstance(a, SetPriority):
            body["priority"] = a.priority
        elif isinstance(a, InternalNote):
            body["comment"] = {"body": a.body, "public": False}
        elif isinstance(a, PublicReply):
            reply = a.body
    if tags != set(ticket.tags):
        body["tags"] = sorted(tags)
    return body, reply


def _sideloads(body: Mapping[str, Any]) -> tuple[dict[Any, Mapping[str, Any]], dict[Any, Mapping[str, Any]]]:
    """The page's organizations by id and metric sets by ticket id.

    Keyed by valid ids only: True == 1 in Python, so a sideload with "id": true
    would have been the record of id 1 (issue 14 item 7)."""
    orgs = {o["id"]: o for o in body.get("organizations") or [] if isinstance(o, Mapping) and is_id(o.get("id"))}
    metrics = {m["ticket_id"]: m for m in body.get("metric_sets") or []
               if isinstance(m, Mapping) and is_id(m.get("ticket_id"))}
    return orgs, metrics


def every_item(read: Callable[[str, Mapping[str, Any] | None], Mapping[str, Any]], base: str, path: str, key: str,
               *, ticket_id: str | None = None) -> list[Mapping[str, Any]]:
    """Every item of a list endpoint: cursor pagination (meta.has_more, links.next)
    where the endpoint offers it, else next_page. The helpdesk drives the paging, so it
    is bounded (connectors/paging.py): a link already followed ends the list; a link to
    another host, a page that names a next one yet brings no item not seen, or more than
    MAX_PAGES pages are a TicketError (the ticket's, with `ticket_id`: it is quarantined;
    else the read's, the pass's)."""
    what = f"ticket {ticket_id}: its {key}" if ticket_id is not None else path.split("?")[0]
    out: list[Mapping[str, Any]] = []
    url: str | None = path
    params: dict[str, Any] | None = {"page[size]": PAGE_SIZE} if key == "audits" else None
    seen: set[str] = set()
    ids: set[str] = set()
    for _ in range(MAX_PAGES):
        if not url or url in seen:
            return out
        seen.add(url)
        body = read(url if url == path else own_link(url, base, what, ticket_id), params)
        params = None  # the next link carries them
        items = [x for x in body.get(key) or [] if isinstance(x, Mapping)]
        out.extend(items)
        new = {item_key(x) for x in items} - ids
        ids |= new
        url = _next_link(body)
        if url and not new:
            # Answering each link with a fresh one (?qpage=N+1) read one ticket 3,159 times in 45 s.
            raise nothing_new(what, ticket_id)
    if url and url not in seen:
        raise too_many_pages(what, ticket_id)
    return out


def _next_link(body: Mapping[str, Any]) -> str | None:
    """A list page's link to the next: links.next under cursor pagination (meta.has_more), else next_page."""
    link = _object(body.get("links")).get("next") if _object(body.get("meta")).get("has_more") else body.get("next_page")
    return str(link) if link else None


def _object(value: Any) -> Mapping[str, Any]:
    """A nested object of a payload (meta, links...), {} when it is none."""
    return value if isinstance(value, Mapping) else {}


def _short_id(tid: Any) -> str:
    """A ticket id fit for a quarantine entry (it may be anything the page sent)."""
    return str(tid)[:40] if tid is not None else "?"


def _numeric(value: Any) -> Any:
    """Ids go out as numbers when they are digits, as the API takes them."""
    return int(value) if str(value).isdigit() else value


def _retagged(tags: set[str], action: AddTags | Flag | RemoveTags) -> set[str]:
    if isinstance(action, AddTags):
        return tags | set(action.tags)
    if isinstance(action, Flag):
        return tags | {action.flag}
    return tags - set(action.tags)


def _decoded(response: requests.Response, url: str) -> dict[str, Any]:
    """A page's JSON. A proxy's or a login page's HTML is said as such, naming the path, and
    retried as a 5xx is (it was `JSONDecodeError: Expecting value: line 1 column 1`)."""
    try:
        page: dict[str, Any] = decode_page(response.text)
    except ValueError:
        kind = response.headers.get("Content-Type", "no Content-Type").split(";")[0]
        raise RetriableError(f"{urlsplit(url).path}: HTTP {response.status_code} with a body that is not JSON"
                             f" ({kind})", status=response.status_code) from None
    return page


def _classify(status: int, url: str, ticket_id: str | None = None) -> Exception:
    """The taxonomy's error for a refusal the transport left to the connector (429, 5xx,
    401 and 403 are raised there): 404 the record is gone, 409 a stale safe update."""
    path = urlsplit(url).path
    if status == 409:
        return ConflictError(f"ticket {ticket_id}: changed since it was read (409)", ticket_id=ticket_id)
    if status == 404:
        if ticket_id is not None and path.startswith("/api/v2/tickets/"):
            return TicketGone(f"ticket {ticket_id} was deleted", ticket_id=ticket_id)
        return TicketGone(f"{path}: not found", ticket_id=ticket_id)
    return TicketError(f"{path}: HTTP {status}", ticket_id=ticket_id, status=status)


def _person(users: Mapping[int, Mapping[str, Any]], author: str | None) -> str | None:
    """Who made a change, as a person reads it in a note or report ("Name <email>")."""
    if author is None or not author.isdigit():
        return author
    user = users.get(int(author)) or {}
    name, email = user.get("name"), user.get("email")
    if name and email:
        return f"{name} <{email}>"
    return str(name or email or author)


def with_teams(comments: Sequence[Comment], users: Mapping[int, Mapping[str, Any]],
               team_of: Callable[[str, str | None], str | None]) -> tuple[Comment, ...]:
    """Public agent replies with the policy team their author works in (for a pack's
    `first_response_by: tier_team`): the team the agent's default group maps to."""

    def team(author: str | None) -> str | None:
        if author is None or not author.isdigit():
            return None
        group = (users.get(int(author)) or {}).get("group")
        return team_of(str(group), None) if group is not None else None

    return tuple(dc_replace(c, team=team(c.author)) if c.public and c.by_agent else c for c in comments)


def exists(read: Callable[[], Any]) -> bool:
    """True when the read finds the record, False on a 404."""
    try:
        return bool(read())
    except TicketGone:
        return False


def _no_group(team: str, name: str, groups: Mapping[str, object]) -> str:
    """A team whose group is not in the helpdesk, with the nearest group's name or the groups
    there are (QA, a new adopter: both were in hand, and the message gave neither)."""
    import difflib

    near = difflib.get_close_matches(name, list(groups), n=1, cutoff=0.5)
    known = sorted(groups)
    more = f"did you mean '{near[0]}'?" if near else \
        f"its groups are: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''}" if known else "it has no groups"
    return f"team '{team}' maps to no Zendesk group named '{name}' ({more})"
