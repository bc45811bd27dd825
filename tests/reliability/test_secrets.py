"""Suite 5: secrets. With known credential values configured (the helpdesk token,
from the environment and from a file, a PagerDuty routing key, a webhook HMAC
key, a Slack webhook URL), nothing tierlift prints or serves contains them, in
any encoding a header or URL would carry: logs at DEBUG (text and JSON), plan
(table and JSON), status (text and JSON), check (online and offline), report
(table, JSON, HTML), /metrics and the health endpoints, the state file, and the
errors of a helpdesk that refuses the token, one that is not there, and a
notification channel that is not there.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from pathlib import Path

import pytest
import requests

from tierlift.sandbox import Sandbox

from kit import Daemon, Receiver, cli, free_port, write_config
from reliakit import FULL, NOW, helpdesk, record

SECRETS = {
    "SANDBOX_TOKEN": "tok-env-3f9a1c77e0d2b5",
    "PD_KEY": "pd-routing-88e1b0c4d6f2",
    "HOOK_SECRET": "hook-hmac-51c0ffee9a3d",
    # What the helpdesk signs its webhooks to tierlift with (issue 24).
    "WEBHOOK_SECRET": "whsec-in-9b7d3e21c4f8",
    # A Slack webhook URL is a credential: its path is the secret.
    "SLACK_URL": "http://127.0.0.1:9/services/T0000/B0000/slackpath-7d2e4a9c",
}
FILE_TOKEN = "tok-file-a6b4d20e8c13f7"
EMAIL = "bot@example.com"


# Outputs that do not depend on the helpdesk's kind (and plan/check/status of the error
# cases): the short run checks them for one flavour only.
SECOND_FLAVOR_SKIPS = {"plan", "status", "check --offline", "report table", "report json", "report html",
                       "run --once --verbose --log-format json"}


def forms(value: str) -> set[str]:
    """The value as it could leak: raw, URL-quoted, and inside Basic auth headers."""
    out = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
    for user in (EMAIL, EMAIL + "/token"):
        out.add(base64.b64encode(f"{user}:{value}".encode()).decode())
    if value.startswith("http"):
        out.add(urllib.parse.urlsplit(value).path.rsplit("/", 1)[-1])
    return out


def leaks(name: str, data: str | bytes, secrets: list[str]) -> list[str]:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    found = []
    for secret in secrets:
        for f in forms(secret):
            if f in text:
                found.append(f"{name}: contains {f[:6]}... (a form of {secret[:6]}...)")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_no_output_contains_a_secret(tmp_path, flavor):
    rx = Receiver()
    good = Sandbox(flavor, tickets=40, seed=7, now=NOW).start()
    refusing = Sandbox(flavor, tickets=5, seed=7, now=NOW, rejected_tokens=(SECRETS["SANDBOX_TOKEN"], FILE_TOKEN)).start()
    try:
        outputs = _collect(tmp_path, flavor, good, refusing, rx)
    finally:
        good.stop()
        refusing.stop()
        rx.close()
    secrets = [*SECRETS.values(), FILE_TOKEN]
    # The detector itself: a header-encoded token and a quoted URL are caught.
    assert leaks("probe", "Authorization: Basic " + base64.b64encode(f"{EMAIL}/token:{FILE_TOKEN}".encode()).decode(),
                 secrets)
    assert leaks("probe", "url=" + urllib.parse.quote(SECRETS["SLACK_URL"], safe=""), secrets)
    found = [f for name, data in outputs for f in leaks(name, data, secrets)]
    record(f"secrets_{flavor}", outputs_checked=len(outputs), secrets=len(secrets), leaks_found=len(found))
    assert not found, "\n".join(found)
    # The checks can fail: each kind of output is really there, and says something.
    names = {n for n, _ in outputs}
    assert {"run --once --verbose", "plan --json", "status --json", "/metrics", "state file",
            "run against a helpdesk refusing the token", "run against a helpdesk that is not there"} <= names
    assert all(len(data) > 20 for _, data in outputs), [n for n, d in outputs if len(d) <= 20]


def _webhooks(base: str, flavor: str, secret: str) -> str:
    from datetime import UTC, datetime

    from tierlift.service.ops.webhooks import jira_signature, zendesk_signature

    body = b'{"ticket_id": "1", "issue": {"key": "SUP-1"}}'
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    texts = []
    for key in (secret, "forged-" + secret[::-1]):
        headers = ({"X-Zendesk-Webhook-Signature": zendesk_signature(key, stamp, body),
                    "X-Zendesk-Webhook-Signature-Timestamp": stamp} if flavor == "zendesk"
                   else {"X-Hub-Signature": jira_signature(key, body), "X-Atlassian-Webhook-Identifier": key[:6]})
        r = requests.post(f"{base}/webhooks/main", data=body, headers=headers, timeout=5)
        texts.append(f"{r.status_code} {r.text} {json.dumps(dict(r.headers))}")
    return "\n".join(texts)


def _collect(tmp: Path, flavor: str, good: Sandbox, refusing: Sandbox, rx: Receiver) -> list[tuple[str, str | bytes]]:
    env = dict(SECRETS)
    every = FULL or flavor == "zendesk"  # the short run checks the outputs that do not depend on the flavour once
    (tmp / "token.txt").write_text(FILE_TOKEN + "\n")
    channels = {
        "pagerduty": {"kind": "pagerduty", "url": rx.url + "/pd", "routing_key": "${PD_KEY}"},
        "slack_oncall": {"kind": "slack", "webhook_url": "${SLACK_URL}"},  # nobody listens there
        "slack_channel": {"kind": "webhook", "url": rx.url + "/hook", "secret": "${HOOK_SECRET}"},
    }
    port = free_port()
    hds = [helpdesk(good, "main", webhook_secret="${WEBHOOK_SECRET}"),
           {**helpdesk(good, "filed"), "token_file": "token.txt", "dry_run": True}]
    del hds[1]["token"]
    config = write_config(tmp, hds, clock_url=good.url, channels=channels, http={"listen": f"127.0.0.1:{port}"})
    out: list[tuple[str, str | bytes]] = []

    def run(name: str, *args: str, cfg: Path = config) -> None:
        if not every and (name in SECOND_FLAVOR_SKIPS or ": " in name):
            return
        if not FULL and name == "report html":  # ~7 s of chart rendering; its text is the JSON's
            return
        proc = cli(*[a if a != "CFG" else str(cfg) for a in args], **env)
        out.append((name, proc.stdout + proc.stderr))

    run("plan", "plan", "--config", "CFG")  # before the run: it has escalations to show
    run("plan --json", "plan", "--config", "CFG", "--json")
    run("run --once --verbose", "run", "--config", "CFG", "--once", "--verbose")
    run("run --once --verbose --log-format json", "run", "--config", "CFG", "--once", "--verbose", "--log-format", "json")
    run("status", "status", "--config", "CFG")
    run("status --json", "status", "--config", "CFG", "--json")
    run("check", "check", "--config", "CFG")
    run("check --offline", "check", "--config", "CFG", "--offline")
    for fmt in ("table", "json", "html"):
        run(f"report {fmt}", "report", "--config", "CFG", "--format", fmt, "--since", "3650d")
    # The daemon serving: metrics and health while it runs.
    d = Daemon(config, tmp / "daemon.log", "--verbose", **env)
    try:
        assert d.wait_for("started helpdesks", timeout=60), d.output()[-3000:]
        base = f"http://127.0.0.1:{port}"
        for path in ("/metrics", "/healthz", "/readyz"):
            for _ in range(50):
                try:
                    r = requests.get(base + path, timeout=5)
                    break
                except requests.ConnectionError:
                    threading.Event().wait(0.1)
            out.append((path, r.text + json.dumps(dict(r.headers))))
        # Webhooks refused (forged) and taken (signed with the secret): neither answer nor log shows it.
        out.append(("webhook answers", _webhooks(base, flavor, SECRETS["WEBHOOK_SECRET"])))
    finally:
        d.terminate()
    out.append(("daemon log", d.output()))
    state = b"".join(p.read_bytes() for p in tmp.glob("state.sqlite3*"))
    out.append(("state file", state))
    # Errors: a helpdesk that refuses the token, one that is not there.
    for name, sb_url in (("run against a helpdesk refusing the token", refusing.url),
                         ("run against a helpdesk that is not there", "http://127.0.0.1:9")):
        folder = tmp / name.replace(" ", "-")
        folder.mkdir()
        (folder / "token.txt").write_text(FILE_TOKEN + "\n")
        bad = [{**h, "url": sb_url} for h in hds]
        cfg = write_config(folder, bad, clock_url=good.url, channels=channels)
        run(name, "run", "--config", "CFG", "--once", "--verbose", cfg=cfg)
        run(name + ": plan", "plan", "--config", "CFG", cfg=cfg)
        run(name + ": check", "check", "--config", "CFG", cfg=cfg)
        run(name + ": status", "status", "--config", "CFG", "--json", cfg=cfg)
    return out
