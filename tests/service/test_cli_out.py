"""--out, --port and --now: a bad one exits 2 with what was expected, and a failed export
leaves the file it would have replaced as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config_hunt import BASE

from tierlift.service.cli import main

# The hunt's one-helpdesk configuration, on an address nothing answers at.
CONFIG = BASE.replace("https://acme.zendesk.com", "http://127.0.0.1:1")


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TL_TOKEN", "tl-token-value-0001")
    p = tmp_path / "tierlift.yaml"
    p.write_text(CONFIG)
    return p


@pytest.mark.parametrize("broken", [["--since", "30x"], ["--unset-token"]])
def test_a_failed_export_leaves_the_earlier_file_as_it_was(config, tmp_path, monkeypatch, capsys, broken):
    # --out was opened (emptied) before --since or the configuration was checked.
    earlier = tmp_path / "export.json"
    earlier.write_text('{"tickets": []}\n')
    if broken == ["--unset-token"]:
        monkeypatch.delenv("TL_TOKEN")
        broken = []
    assert main(["export", "--config", str(config), "--out", str(earlier), *broken]) == 2
    assert earlier.read_text() == '{"tickets": []}\n'
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".export.json")] == []


@pytest.mark.parametrize("command", ["export", "report"])
def test_an_out_file_in_a_missing_folder_is_exit_2(config, tmp_path, capsys, command):
    assert main([command, "--config", str(config), "--out", str(tmp_path / "nonexistent" / "x.json")]) == 2
    assert "--out: directory " in capsys.readouterr().err


def test_a_sandbox_port_out_of_range_is_exit_2(capsys):
    assert main(["sandbox", "--port", "99999"]) == 2
    assert "--port: expected a port" in capsys.readouterr().err


def test_now_at_the_end_of_the_calendar_is_exit_2(tmp_path, capsys):
    tickets = tmp_path / "t.json"
    tickets.write_text('{"tickets": []}')
    assert main(["simulate", "--policy", "three-tier", "--tickets", str(tickets), "--now", "9999-12-31T23:59:59Z"]) == 2
    assert "--now: expected an instant between 1970 and 2999" in capsys.readouterr().err


def test_version_names_the_installed_release():
    # QA (a new adopter, 2026-12-07): `tierlift --version` was "unrecognized arguments" (exit 2).
    import tomllib
    from importlib.metadata import PackageNotFoundError, version

    from kit import cli

    proc = cli("--version")
    assert proc.returncode == 0, proc.stderr
    try:
        installed = version("tierlift")
    except PackageNotFoundError:  # a development checkout run through a path, not installed
        installed = "(not installed)"
    else:
        declared = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
        assert installed == declared["project"]["version"]
    assert proc.stdout.strip() == f"tierlift {installed}"
