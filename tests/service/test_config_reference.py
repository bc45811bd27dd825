"""service/CONFIGURATION.md lists exactly the keys the configuration loader accepts.

The loader is asked, not read: in every section the test writes an unknown
key, and the loader's refusal (`unknown key 'x' (expected one of: a, b, c)`)
names every key it accepts there. A key given a mapping is probed the same way,
so a new nested section (say `first_sync: {...}`) is found too. A key added to
the loader without its row in the reference fails here, with the row to add.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest

from tierlift.engine.yamlsrc import InvalidFile, dotted
from tierlift.service.daemon.config import load_config

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "service" / "CONFIGURATION.md"
PROBE = "qqzzqqzz"
ENV = {"T": "probe-token-value"}
CHANNELS = {"slack": {"webhook_url": "${T}"}, "pagerduty": {"routing_key": "${T}"},
            "webhook": {"url": "https://hooks.example.com/x", "secret": "${T}"}, "log": {}}


def base(tmp: Path) -> dict[str, Any]:
    common = {"url": "https://acme.example.com", "email": "bot@acme.com", "token": "${T}", "policy": "three-tier"}
    return {
        "state": {"path": str(tmp / "state.sqlite3")},
        "log": {"format": "text"},
        "http": {"listen": "127.0.0.1:9464"},
        "webhooks": {"listen": "127.0.0.1:9465"},
        "clock": {"follow": "http://127.0.0.1:1"},
        "channels": {f"ch-{k}": {"kind": k, **v} for k, v in CHANNELS.items()},
        "helpdesks": [{"name": "z", "kind": "zendesk", **common, "teams": {"support-specialists": {"group": "S"}}},
                      {"name": "j", "kind": "jira", **common, "project": "SUP"}],
    }


# (where in the file, how the reference writes keys found there)
SITES: list[tuple[tuple[Hashable, ...], str]] = [
    ((), ""), (("state",), "state."), (("log",), "log."), (("http",), "http."), (("webhooks",), "webhooks."), (("clock",), "clock."),
    (("helpdesks", 0), "helpdesks[]."), (("helpdesks", 1), "helpdesks[]."),
    (("helpdesks", 0, "teams", "support-specialists"), "helpdesks[].teams.TEAM."),
    *[((("channels", f"ch-{k}")), "channels.NAME.") for k in CHANNELS],
]


def _at(data: dict[str, Any], path: tuple[Hashable, ...]) -> Any:
    for part in path:
        data = data[part]  # type: ignore[index]
    return data


def accepted(tmp: Path, where: tuple[Hashable, ...], value: Any = 1) -> set[str] | None:
    """The keys the loader accepts at `where`, or None if it does not check keys there."""
    data = base(tmp)
    parent = _at(data, where[:-1]) if where else None
    if isinstance(parent, dict) and not isinstance(parent.get(where[-1]), dict):
        parent[where[-1]] = {}
    _at(data, where)[PROBE] = value
    path = tmp / "probe.yaml"
    path.write_text(json.dumps(data))
    try:
        load_config(path, ENV, load_policies=False)
    except InvalidFile as exc:
        for p in exc.problems:
            if p.path == dotted((*where, PROBE)) and p.message.startswith(f"unknown key '{PROBE}'"):
                m = re.search(r"expected one of: (.*)\)$", p.message)
                assert m, f"the loader's unknown-key message changed shape: {p.message}"
                return set(m.group(1).split(", "))
    return None


def loader_keys(tmp: Path) -> set[str]:
    found: set[str] = set()
    todo = list(SITES)
    seen = {w for w, _ in SITES}
    while todo:
        where, prefix = todo.pop()
        keys = accepted(tmp, where)
        assert keys is not None, f"the loader no longer checks the keys at {dotted(where) or 'the top level'}"
        for key in keys:
            found.add(prefix + key)
            sub = (*where, key)
            if sub in seen or key in ("helpdesks", "channels", "teams", "fields", "status_map", "template"):
                continue  # lists and free-named mappings, probed through SITES
            seen.add(sub)
            original = _at(base(tmp), where).get(key)
            if isinstance(original, dict) or accepted(tmp, sub) is not None:
                todo.append((sub, f"{prefix}{key}."))
    return found


def documented() -> set[str]:
    rows = re.findall(r"^\| `([^`]+)` \|", REFERENCE.read_text(encoding="utf-8"), flags=re.M)
    return set(rows)


def test_the_probe_finds_keys_the_loader_is_known_to_take(tmp_path):
    keys = loader_keys(tmp_path)
    for key in ("poll_interval", "state.path", "clock.follow", "helpdesks[].page_size", "helpdesks[].status_map",
                "helpdesks[].severity_field", "helpdesks[].teams.TEAM.group_id", "channels.NAME.routing_key"):
        assert key in keys


def test_every_key_the_loader_accepts_has_its_row_in_the_reference(tmp_path):
    missing = sorted(loader_keys(tmp_path) - documented())
    if missing:
        rows = "\n".join(f"| `{k}` | TYPE | DEFAULT | `EXAMPLE` | WHAT IT CHANGES |" for k in missing)
        pytest.fail(f"keys the loader accepts without an entry in {REFERENCE.relative_to(ROOT)}; add:\n{rows}")


def test_the_reference_names_no_key_the_loader_refuses(tmp_path):
    stale = sorted(documented() - loader_keys(tmp_path))
    assert not stale, f"{REFERENCE.relative_to(ROOT)} documents keys the loader refuses: {stale}"


def test_the_readme_links_the_reference_from_its_configuration_section():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    assert "service/CONFIGURATION.md" in section
    assert "clock: {follow:" in section
