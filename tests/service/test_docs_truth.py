"""What the documents and the shipped files promise holds (issue 23, item 9).

Each of these was seen wrong: the README told users to write `log_format: json`
(refused as an unknown key, with no hint); a channel template's `{bogus}` passed
`check` and failed at send time; CONFIGURATION.md and the Jira example said
opposite things of `servicedesk: false`; the Kubernetes manifest mounted a Secret
it did not define; the Docker build context carried the README's `.venv`.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
import yaml

from tierlift.engine.yamlsrc import InvalidFile
from tierlift.service.daemon.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "tierlift.yaml"
    path.write_text(f"""state: {{path: {tmp_path}/state.sqlite3}}
{extra}
channels:
  pagerduty: {{kind: log}}
  slack_oncall: {{kind: log}}
  slack_channel: {{kind: log}}
helpdesks:
  - {{name: zd, kind: zendesk, url: "http://127.0.0.1:9", email: bot@example.com, token: "${{T}}", policy: three-tier}}
""")
    return path


def _problems(path: Path) -> str:
    with pytest.raises(InvalidFile) as err:
        load_config(path)
    return str(err.value)


def test_a_flat_log_format_key_says_where_it_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("T", "x" * 12)
    text = _problems(_config(tmp_path, "log_format: json"))
    assert "tierlift.yaml:2: log_format: unknown key 'log_format' (did you mean 'log: {format: ...}'?)" in text
    assert "log_format" not in (ROOT / "README.md").read_text()  # the README shows the key that works
    assert load_config(_config(tmp_path, "log: {format: json}")).log_format == "json"


def test_a_channel_template_placeholder_is_checked_at_load(tmp_path, monkeypatch):
    monkeypatch.setenv("T", "x" * 12)
    bad = _config(tmp_path, "").read_text().replace(
        "pagerduty: {kind: log}", 'pagerduty: {kind: log, template: {subject: "[{tier_chnage}]", body: "{body}"}}')
    (tmp_path / "tierlift.yaml").write_text(bad)
    text = _problems(tmp_path / "tierlift.yaml")
    assert "unknown placeholder {tier_chnage} (did you mean {tier_change}?)" in text and "tierlift.yaml:4:" in text
    ok = bad.replace("{tier_chnage}", "{tier_change} {ticket_url} {summary} {subject}")
    (tmp_path / "tierlift.yaml").write_text(ok)
    assert load_config(tmp_path / "tierlift.yaml").channels["pagerduty"].template
    reference = (ROOT / "service" / "CONFIGURATION.md").read_text()
    row = next(line for line in reference.splitlines() if line.startswith("| `channels.NAME.template`"))
    assert all(f"`{{{name}}}`" in row for name in ("subject", "body", "ticket_url", "tier_change", "summary"))


def test_the_reference_and_the_jira_example_agree_on_servicedesk():
    reference = (ROOT / "service" / "CONFIGURATION.md").read_text()
    row = next(line for line in reference.splitlines() if line.startswith("| `helpdesks[].servicedesk`"))
    example = (ROOT / "service" / "examples" / "jira.yaml").read_text()
    # `false` writes platform comments carrying the sd.public.comment property (connectors/jira/connector.py).
    assert "false uses platform comments with the sd.public.comment property" in example
    assert "`false`: through the platform API" in row and "sd.public.comment" in row.split("`false`", 1)[1]
    assert "plain Jira comments" not in row


def test_the_kubernetes_manifest_defines_every_secret_it_uses():
    docs = [d for d in yaml.safe_load_all((ROOT / "service" / "deploy" / "kubernetes.yaml").read_text()) if d]
    secrets = {d["metadata"]["name"]: set(d.get("stringData") or d.get("data") or {})
               for d in docs if d["kind"] == "Secret"}
    text = yaml.safe_dump(docs)
    used = set(re.findall(r"secretName: (\S+)", text))
    refs = re.findall(r"secretKeyRef:\s+key: (\S+)\s+name: (\S+)", text)
    assert used and refs
    assert used | {name for _, name in refs} <= set(secrets), (used, refs, secrets)
    assert all(key in secrets[name] for key, name in refs)
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["tierlift.yaml"]
    files = set(re.findall(r"/run/secrets/([\w-]+)", config))
    (mounted,) = used
    assert files and files <= secrets[mounted], (files, secrets[mounted])


def test_the_docker_build_context_leaves_the_venv_out():
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p.rstrip("/")) or fnmatch.fnmatch(path, p.rstrip("/") + "/*")
                   or path.startswith(p.rstrip("/") + "/") for p in patterns)

    assert ignored(".venv/lib/python3.11/site-packages/x.py") and ignored(".git/HEAD")
    for needed in ("pyproject.toml", "README.md", "engine/model.py", "service/deploy/docker-entrypoint.sh",
                   "policies/three-tier.yaml"):
        assert not ignored(needed), needed
