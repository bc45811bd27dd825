"""The reference material in ../shared/reference: where it is, and how to read the recordings.

CI always has ../shared beside the checkout; a user's own clone may not, and
the tests that need it skip with that reason (the `shared_reference` fixture
in tests/conftest.py), nowhere else.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE = SHARED / "reference"


def recorded_bodies(path: Path) -> Iterator[tuple[str, Any]]:
    """(request URI, JSON body) of a Betamax cassette; bodies may be base64 of gzip."""
    data = json.loads(path.read_text())
    for it in data["http_interactions"]:
        body = it["response"]["body"]
        text = body.get("string") or ""
        if body.get("base64_string"):
            raw = base64.b64decode(body["base64_string"])
            try:
                raw = gzip.decompress(raw)
            except OSError:
                pass
            text = raw.decode("utf-8", "replace")
        try:
            yield it["request"]["uri"], json.loads(text)
        except ValueError:
            continue


def recorded_tickets(reference: Path) -> list[dict[str, Any]]:
    """Every distinct ticket object in the recordings, as Zendesk returned it."""
    seen: dict[int, dict[str, Any]] = {}
    for cassette in sorted((reference / "zendesk-recordings").glob("*.json")):
        for _uri, body in recorded_bodies(cassette):
            if not isinstance(body, dict):
                continue
            items = body.get("tickets") if isinstance(body.get("tickets"), list) else [body.get("ticket")]
            for t in items:
                if isinstance(t, dict) and isinstance(t.get("id"), int):
                    seen.setdefault(t["id"], t)
    return list(seen.values())
