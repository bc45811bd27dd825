"""A PostgreSQL state URL's password is never shown, however it is written: in the user part
(with an unencoded '@' in it), %-encoded, in the query, or as a key=value DSN (QA: with
`DSN=postgresql://tl:SECRETat@pw1@127.0.0.1:1/tierlift` the log showed
`postgresql://tl:***@pw1@127.0.0.1:1/tierlift`, and libpq's error `host 'pw1@127.0.0.1'`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierlift.service.daemon.config import load_config
from tierlift.service.daemon.state import describe, open_store, state_check
from tierlift.service.daemon.store.base import StateError
from tierlift.service.daemon.store.postgres import PostgresCheck, safe_url
from tierlift.service.ops.redact import redact

CONFIG = """\
state: {url: "${DSN}"}
channels:
  pagerduty: {kind: log}
  slack_oncall: {kind: log}
  slack_channel: {kind: log}
helpdesks:
  - name: hd
    kind: zendesk
    url: https://acme.zendesk.com
    email: bot@example.com
    token: ${TL_TOKEN}
    policy: three-tier
"""


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://tl:SECRETat@pw1@127.0.0.1:1/tierlift", "postgresql://tl:***@127.0.0.1:1/tierlift"),
    ("postgresql://tl:S@E@C@R@E@T@db/x", "postgresql://tl:***@db/x"),
    ("postgres://tl:SE/CR?ET@db:5432/x", "postgres://tl:***@db:5432/x"),
    ("postgresql://tl:SECRET%40pw1@db/x", "postgresql://tl:***@db/x"),
    ("postgresql://tl:SECRET@h1:5432,h2:5433/x?target_session_attrs=read-write",
     "postgresql://tl:***@h1:5432,h2:5433/x?target_session_attrs=read-write"),
    ("postgresql://tl@db/x?sslmode=require&PassWord=SECRET&application_name=y",
     "postgresql://tl@db/x?sslmode=require&PassWord=***&application_name=y"),
    ("postgresql:///x?host=/run/postgresql&password=SECRET", "postgresql:///x?host=/run/postgresql&password=***"),
    ("host=db user=tl password=SECRET dbname=x", "host=db user=tl password=*** dbname=x"),
    ("host=db password='SE CRET' dbname=x", "host=db password=*** dbname=x"),
    ("postgresql://tierlift@db.internal:5432/tierlift", "postgresql://tierlift@db.internal:5432/tierlift"),
])
def test_every_form_of_a_dsn_password_is_masked_whole(url, shown):
    assert safe_url(url) == shown
    from tierlift.service.ops.redact import mask_url_password  # the one masker `check` uses too

    assert mask_url_password(url) == shown


def _config(tmp_path: Path, dsn: str):
    path = tmp_path / "tierlift.yaml"
    path.write_text(CONFIG)
    return load_config(path, {"DSN": dsn, "TL_TOKEN": "tl-token-value-0001"})


def test_a_password_with_an_at_sign_reaches_libpq_whole_and_never_shows(tmp_path):
    cfg = _config(tmp_path, "postgresql://tl:SECRETat@pw1@127.0.0.1:1/tierlift")
    # libpq ends the user part at the first '@': the password's tail was read as the host.
    assert cfg.state_url == "postgresql://tl:SECRETat%40pw1@127.0.0.1:1/tierlift"
    assert describe(cfg) == "postgresql://tl:***@127.0.0.1:1/tierlift"
    for text in ("SECRETat@pw1", "SECRETat%40pw1", cfg.state_url):
        assert "pw1" not in redact(text) and "SECRET" not in redact(text), text
    with pytest.raises(StateError) as exc:  # what the daemon logs while it waits
        open_store(cfg, connect_timeout=2).close()
    assert "pw1" not in str(exc.value) and "SECRET" not in str(exc.value), exc.value
    assert "127.0.0.1:1/tierlift" in str(exc.value)
    with pytest.raises(StateError) as exc:  # what /readyz and `check` say
        state_check(cfg)()
    assert "pw1" not in str(exc.value) and "SECRET" not in str(exc.value), exc.value


def test_a_dsn_with_an_at_sign_in_its_password_connects(tmp_path, pg_server):
    # The throwaway server trusts every local login: the password is not checked, the host is.
    dsn = pg_server.new_database().replace("postgresql://tierlift@", "postgresql://tierlift:SECRETat@pw1@")
    cfg = _config(tmp_path, dsn)
    check = state_check(cfg)
    try:
        check()
    finally:
        assert isinstance(check, PostgresCheck)
        check.close()
    open_store(cfg).close()
