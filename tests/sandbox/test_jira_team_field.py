"""The Team field takes what Jira's edit takes, and a bad value is a 400, never a 500.

A select list (team_options set) takes an option by {"value"} or {"id"}; an unknown one
is a 400 in Jira's {"errorMessages", "errors"} shape. Free text (the sandbox's default)
takes a string; an option object there is Jira's textfield answer, "Operation value
must be a string" (before, a 500 KeyError 'allowedValues').
"""

from __future__ import annotations

import pytest
from peoplekit import JAGENT, TEAM, call, with_people


@pytest.fixture
def jira():
    with with_people("jira") as sb:
        yield sb


def test_a_free_text_team_field_takes_a_string_and_refuses_an_option_with_a_400(jira):
    r = call(jira, "PUT", "/rest/api/2/issue/SUP-1", JAGENT, {"fields": {TEAM: {"value": "Senior Technical Specialist"}}})
    assert (r.status_code, r.json()) == (400, {"errorMessages": [], "errors": {TEAM: "Operation value must be a string"}})
    r = call(jira, "PUT", "/rest/api/2/issue/SUP-1", JAGENT, {"fields": {TEAM: "Senior Technical Specialist"}})
    assert r.status_code == 204 and jira.store.issues["SUP-1"]["fields"][TEAM] == "Senior Technical Specialist"


@pytest.mark.parametrize(("value", "status", "stored"), [
    ({"value": "Senior Technical Specialist"}, 204, "Senior Technical Specialist"),
    ({"id": "10101"}, 204, "Senior Technical Specialist"),
    ({"id": 10100}, 204, "Billing"),
    ({"value": "Nobody"}, 400, "Option value 'Nobody' is not valid"),
    ({"id": "99"}, 400, "Option id '99' is not valid"),
    ("Billing", 400, "Could not find valid 'id' or 'value' in the Parent Option object."),
])
def test_a_select_list_team_field_takes_an_option_by_value_or_id(jira, value, status, stored):
    jira.data.team_options = ["Billing", "Senior Technical Specialist"]
    r = call(jira, "PUT", "/rest/api/2/issue/SUP-1", JAGENT, {"fields": {TEAM: value}})
    assert r.status_code == status, r.text
    if status == 204:
        option = jira.store.issues["SUP-1"]["fields"][TEAM]
        assert option["value"] == stored and option["id"] == jira.data.option_id(stored)
    else:
        assert r.json() == {"errorMessages": [], "errors": {TEAM: stored}}
