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
