"""The sandbox's organization and user field lists, checked against the official OpenAPI file
(tierlift reads them to prove that `fields:` names exist)."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import pytest
import requests

from tierlift.sandbox import Sandbox

from refkit import openapi, schema_for

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def zspec(shared_reference):
    return openapi(str(shared_reference / "openapi" / "zendesk-support-api.oas.yaml"))


@pytest.mark.parametrize("kind", ["organization_fields", "user_fields"])
def test_customer_field_lists_match_the_spec(zspec, kind):
    with Sandbox("zendesk", tickets=10, seed=3, now=NOW) as sb:
        with sb.store.lock:
            next(iter(sb.store.users.live.values()))["user_fields"] = {"vip_level": "gold"}
        body = requests.get(f"{sb.url}/api/v2/{kind}.json", auth=("bot@example.com/token", "x"), timeout=10).json()
    jsonschema.Draft7Validator(schema_for(zspec, f"/api/v2/{kind}", "get", nulls=True)).validate(body)
    keys = [f["key"] for f in body[kind]]
    assert keys == (["arr", "health_score", "plan", "primary_contact"] if kind == "organization_fields" else ["vip_level"])
