"""The Zendesk connector on payloads the reference allows: recorded export pages and audits
(../shared/reference/zendesk-recordings) bent into shapes the OpenAPI file permits, through
`responses`. Each test is a defect a QA pass found (docs of the 2026-12 connector hunt).
"""

from __future__ import annotations

import copy
import itertools

import pytest
import responses

from tierlift.connectors.base import Secret
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings

from refkit import recorded_bodies

ZD = "https://acme.zendesk.com"
EXPORT = f"{ZD}/api/v2/incremental/tickets/cursor.json"


def zendesk(**settings) -> ZendeskConnector:
    return ZendeskConnector(ZendeskSettings("zd", ZD, "bot@acme.example", Secret("t"), backoff=0.01, **settings),
                            sleep=lambda s: None)


@pytest.fixture
def export_page(shared_reference) -> dict:
    path = shared_reference / "zendesk-recordings" / "TicketsIncrementalTest.test_get_values.json"
    return copy.deepcopy(next(b for u, b in recorded_bodies(path) if "cursor.json?start_time=0" in u))


@responses.activate
def test_a_last_page_without_after_cursor_keeps_the_position(export_page):
    # after_cursor is nullable (CursorBasedExportIncrementalTicketsResponse): an empty cursor
    # made the next cycle export the whole account again from start_time=0.
    export_page.update(after_cursor=None, after_url=None, end_of_stream=True)
    responses.get(EXPORT, json=export_page)
    c = zendesk()
    pages = list(c.changes("MTcwNzI3MTc0MS4wfHw0MDQ1fA=="))
    assert pages[-1].cursor == "MTcwNzI3MTc0MS4wfHw0MDQ1fA=="
    list(c.changes(pages[-1].cursor))
    assert "start_time" not in responses.calls[1].request.url
    assert "cursor=MTcwNzI3MTc0MS4wfHw0MDQ1fA" in responses.calls[1].request.url


@responses.activate
def test_an_after_cursor_already_asked_for_ends_the_pass(export_page):
    # end_of_stream false with the cursor just asked for: it was read again and again, forever.
    export_page.update(end_of_stream=False, after_cursor="SAME", after_url=f"{EXPORT}?cursor=SAME")
    responses.get(EXPORT, json=export_page)
    pages = list(itertools.islice(zendesk().changes("SAME"), 5))
    assert len(pages) == 1 and len(responses.calls) == 1
    assert pages[0].cursor == "SAME"
