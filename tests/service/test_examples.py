"""The commented example configurations ship valid: a user copies one, sets the
environment variables it names, and `tierlift check --offline` accepts it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tierlift.service.daemon.config import load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "service" / "examples"


@pytest.mark.parametrize("name", ["zendesk.yaml", "jira.yaml"])
def test_an_example_config_is_valid_once_its_secrets_are_set(name, tmp_path, monkeypatch):
    text = (EXAMPLES / name).read_text()
    for var in set(re.findall(r"\$\{(\w+)\}", text)):
        monkeypatch.setenv(var, f"https://hooks.example.com/{var.lower()}" if "WEBHOOK" in var else "x" * 12)
    # The state directory is the only thing that must exist on the machine.
    text = re.sub(r"(?m)^(\s*path:) /var/lib/tierlift/", rf"\1 {tmp_path}/", text)
    # The commented shadow entry is part of the example too.
    text = re.sub(r"(?m)^  # (- name: .*-shadow)$", r"  \1", text)
    text = re.sub(r"(?m)^  #   (\w+: .*)$", r"    \1", text)
    (tmp_path / name).write_text(text)
    cfg = load_config(tmp_path / name)
    assert cfg.helpdesks and all(h.token.reveal() for h in cfg.helpdesks)
    shadows = [h for h in cfg.helpdesks if h.name.endswith("-shadow")]
    if name == "zendesk.yaml":
        assert shadows and shadows[0].dry_run and shadows[0].url == cfg.helpdesks[0].url


def test_the_examples_secrets_reach_the_shipped_units():
    """Each example's ${VAR} token goes in the unit's optional EnvironmentFile; a token_file it
    suggests is a credential the unit loads (so the example runs under the unit as shipped)."""
    deploy = EXAMPLES.parent / "deploy"
    for unit in ("tierlift.service", "tierlift-once.service"):
        lines = (deploy / unit).read_text().splitlines()
        creds = {ln.split("=", 1)[1] for ln in lines if ln.startswith("LoadCredential=")}
        assert "EnvironmentFile=-/etc/tierlift/tierlift.env" in lines, unit
        for name in ("zendesk.yaml", "jira.yaml"):
            for token_file in re.findall(r"token_file: ([\w-]+)", (EXAMPLES / name).read_text()):
                assert token_file in creds, (unit, name, token_file)
