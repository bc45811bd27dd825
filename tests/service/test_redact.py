"""The log's secret masking masks secrets, not the words around them.

QA (an integrator, 2026-12-07): a reload refused for a webhook secret of "tier" (too short)
left "tier" registered as a secret: every later line masked it as a substring, so the masks
spelled the value out ("***er than 16 characters, too ***" for "short") and every escalation
line read "***=L1->L3" until a restart.
"""

from __future__ import annotations

import pytest

from tierlift.service.ops import redact


@pytest.fixture(autouse=True)
def clean():
    saved = redact.snapshot()
    yield
    redact.restore(saved)


def test_a_short_secret_is_masked_as_a_whole_word_only():
    redact.register("tier")
    assert redact.redact("escalated ticket=7 tier=L1->L3 by tierlift") == "escalated ticket=7 ***=L1->L3 by tierlift"
    assert redact.redact("token tier in a header") == "token *** in a header"


def test_a_long_secret_is_masked_wherever_it_stands():
    token = "zd-token-1a2b3c4d5e6f7a8b9c0d"
    redact.register(token)
    assert token not in redact.redact(f"GET /x?key={token}abc failed")
    assert token not in redact.redact(f"Authorization: Bearer{token}")


def test_the_secrets_of_a_refused_configuration_are_forgotten():
    redact.register("kept-secret-value-0001")
    saved = redact.snapshot()
    redact.register("short")
    redact.restore(saved)
    assert redact.redact("is shorter than 16 characters, too short") == "is shorter than 16 characters, too short"
    assert "kept-secret-value-0001" not in redact.redact("x kept-secret-value-0001 y")


def test_a_part_of_a_password_a_url_splits_is_masked_on_its_own():
    """QA (a privacy auditor): a PostgreSQL password holding '/' then '?' was parsed as parts of
    the URL, and psycopg's error quoted the part after the '?' in check, status, report and
    every retry line: 'invalid URI query parameter: "TAILC_QA8@127.0.0.1:18830/tierlift"'."""
    redact.register("pw/HEADPART_77?TAILC_QA8")
    said = redact.redact('invalid URI query parameter: "TAILC_QA8@127.0.0.1:18830/tierlift"')
    assert "TAILC_QA8" not in said and "127.0.0.1:18830/tierlift" in said, said
    assert "HEADPART_77" not in redact.redact("near HEADPART_77")
    assert redact.redact("the pw was refused") == "the pw was refused"  # a part too short to be a secret
    # A URL registered whole is not cut into parts: its host and path are no secrets.
    redact.register("postgresql://tl:HEADPART_77@db.example.internal:5432/tierlift")
    assert redact.redact("tierlift reached db.example.internal") == "tierlift reached db.example.internal"
